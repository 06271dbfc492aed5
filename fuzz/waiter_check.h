/* fuzz/waiter_check.h: run a decoded waiter history (waiter_history.h)
 * against the real table (core/waiter.h) and the reference model, with
 * oracles on every step.
 *
 * Owns: the fuzz fake request (no fds: counters only) and the oracles.
 *
 * Oracles, after every step: the outcome (kind, id, request handed back,
 * tick, stale flag, SQE user_data, cancel() answer) equals the model's;
 * every slot's snapshot (id/generation, occupied, in flight, state, tick)
 * equals the model's; len / is_empty / is_full / is_in_flight (current and
 * previous generation) / state() / cancel_requested() / the unexpected
 * cancel result count and warnings equal the model's; a cancel CQE leaves
 * its slot's occupant untouched; the requests involved were built, fed,
 * finished or released exactly as the model says;
 * iouw_waiters_assert_consistent() holds. (The per-slot queries are made
 * again only for a slot whose bytes, or whose model slot, moved since they
 * last passed: waiter_check.c says why that is the same check.) After the
 * drain the table is
 * empty and every request ended exactly once.
 *
 * Failure policy: an oracle mismatch prints "fuzz_waiter: oracle mismatch
 * at step N: <what>" and the step in words on stderr, then calls abort():
 * libFuzzer and AFL++ report the SIGABRT as a crash, replay tests fail.
 * The table's own invariant failures abort the same way.
 */
#ifndef IOUW_FUZZ_WAITER_CHECK_H
#define IOUW_FUZZ_WAITER_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Decode @data as a waiter history, run it, check every oracle. Returns 0;
 * aborts on a mismatch. Not reentrant (uses static state). */
int iouw_waiter_history_check(const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_WAITER_CHECK_H */
