/* fuzz/fuzz_loop.c: fuzz target "loop": whole event-loop histories
 * (core/loop.h) on the in-memory ring with a virtual clock: submits with and
 * without deadlines, callers leaving, clock moves, turns and single phases,
 * SQ and capacity pressure, and a fake kernel answering every op and cancel
 * SQE exactly once in fuzzed orders, then close and drain.
 *
 * The driver, the reference and every oracle live in fuzz/loop_run.h (the
 * `ring` target shares them); a mismatch prints the step in words and
 * abort()s. A kernel-legal history must never reach an invariant abort.
 */
#include <stddef.h>
#include <stdint.h>

#include "loop_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return iouw_loop_history_run("fuzz_loop", NULL, data, size, NULL);
}
