/* fuzz/fuzz_waiter.c: fuzz target "waiter": the waiter table (core/waiter.h)
 * under kernel-legal operation histories.
 *
 * The bytes are decoded into a history by fuzz/waiter_history.h (layout and
 * legality rules there) and run against the real table and the reference
 * model of fuzz/waiter_model.h by fuzz/waiter_check.h, which checks every
 * oracle after every step and abort()s with the step in words on a
 * mismatch. A kernel-legal history must never reach an invariant abort.
 *
 * Linked with libFuzzer (-Dfuzzer=libfuzzer), AFL++'s persistent driver
 * (fuzz/afl_main.c) or the replay driver (fuzz/replay_main.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "waiter_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return iouw_waiter_history_check(data, size);
}
