/* fuzz/request_check.h: run a decoded request history
 * (request_history.h) against real requests (core/request.h) in a real
 * waiter table (core/waiter.h), with oracles on every step.
 *
 * Owns: the per-request runtime (struct iouw_rs_live plus waiter id and the
 * SQE in flight) and the oracles.
 *
 * Oracles: every table outcome (Submit / Timeout / Orphaned, Requeue /
 * Complete, cancel() accepted, cancel CQE acknowledged without touching the
 * slot) equals the model's; every SQE equals the model's SQE (opcode, fd,
 * no flags, address, length, offset, iovecs and the bytes they point at, so
 * it always lies inside the remaining bytes); the progress cursor, length,
 * remaining count and buffer count equal the model's after every CQE; a
 * held handle has no result before the request ends, exactly one result
 * when it ends (equal to the model's: status, err, value, and the caller's
 * own buffer with the right length and contents, canaries intact), and
 * -EALREADY after it was taken; a request's fd is closed the moment it ends;
 * iouw_waiters_assert_consistent() after every step; after the drain the
 * table is empty, every request ended, and the process has as many open
 * fds as before the input (ASan/LSan check buffers and handles).
 *
 * HOSTILE histories (request_history.h): a non-fatal hostile result is held
 * to the same oracles (an INT32_MIN + 1 error carries err INT32_MAX, a
 * cancel CQE other than 0/-EALREADY/-ENOENT bumps the table's
 * unexpected-result count by one and touches nothing); a FATAL step must
 * make the real table fire exactly the model's named invariant: this file
 * defines core/invariant.h's iouw_invariant_hook(), which accepts that one
 * name and unwinds to the checker (the history ends there; everything is
 * released and the fd count checked). Any other invariant, a return, or a
 * sanitizer report before it (UBSan halts: __ubsan_default_options) is
 * still a crash.
 *
 * Failure policy: a mismatch prints "fuzz_request: oracle mismatch at step
 * N: <what>" and the step in words on stderr, then abort(). An environment
 * failure (EMFILE, ENOMEM, ... creating a request or the table; reading
 * /proc/self/fd) is no finding: replay.h's one-line report,
 * everything released, IOUW_FUZZ_SKIPPED.
 */
#ifndef IOUW_FUZZ_REQUEST_CHECK_H
#define IOUW_FUZZ_REQUEST_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Decode @data as a request history, run it, check every oracle. Returns 0,
 * or IOUW_FUZZ_SKIPPED for an environment failure; aborts on a mismatch.
 * Not reentrant (static state). */
int iouw_request_history_check(const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_REQUEST_CHECK_H */
