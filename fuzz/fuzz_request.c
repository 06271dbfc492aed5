/* fuzz/fuzz_request.c: fuzz target "request": the five request state
 * machines (core/request.h) driven through a real waiter table under
 * kernel-legal CQE streams.
 *
 * The bytes are decoded into a history by fuzz/request_history.h (layout and
 * legality rules there) and run by fuzz/request_check.h against the real
 * requests and the reference model of docs/requests.md §4.1-§4.4 in fuzz/request_model.h:
 * every SQE, every outcome, every delivered result (buffers and canaries
 * included) and every fd is checked after every step; a mismatch prints the
 * step in words and abort()s. A kernel-legal history must never reach an
 * invariant abort; a HOSTILE one (request_history.h) may end only in the
 * one named invariant the model predicts (request_check.h).
 *
 * Linked with libFuzzer (-Dfuzzer=libfuzzer), AFL++'s persistent driver
 * (fuzz/afl_main.c) or the replay driver (fuzz/replay_main.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "request_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return iouw_request_history_check(data, size);
}
