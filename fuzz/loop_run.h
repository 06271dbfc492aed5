/* fuzz/loop_run.h: whole event-loop histories (core/loop.h) driven by fuzz
 * bytes, with oracles; shared by the `loop` target (in-memory ring) and the
 * `ring` target (a real io_uring ring in inject mode).
 *
 * Why the history is decoded ONLINE (unlike the waiter and request targets):
 * which SQEs exist, and in which order, is the loop's own decision (SQ
 * pressure, capacity, timeouts). A kernel-legal history can only answer SQEs
 * the loop really submitted, so the decoder reads its next decision only
 * after looking at what was captured. Decoding is still deterministic: the
 * same bytes always give the same history, and iouw_loop_history_print()
 * prints it by running it (on the in-memory ring).
 *
 * Owns: a backend wrapper around the scripted kernel (core/skernel.h, which
 * captures the SQEs and posts the CQEs: memory transport for the `loop`
 * target, a real ring for `ring`): the wrapper checks every SQE as it is
 * pushed, answers through the kernel's wait hook when the loop would
 * block, and tells the driver when the reap phase ends; the driver, and
 * the oracles. Which CQE the kernel posts is the kernel model's draw
 * (fuzz/kernel_model.h, below); the scripted kernel only carries it.
 *
 * Input layout (decisions from the provider's tail, see provider.h):
 *   header: ring size 1/2/4/8 (= table capacity = inbound bound); SQ
 *           entries 1..8; CQ ring entries 1..16 (overflow beyond); a
 *           shutdown budget (none, or 0..20 ticks). Tick 1 ms, max request
 *           timeout 64 ms, virtual clock starting at 1 s. Bit 5 of
 *           the ring-size byte set: one more byte, the drain's silence
 *           mask (see the drain below).
 *   steps:  one action byte (mod 8):
 *     0 submit one request (request_spec.h; send/recv also get a deadline:
 *       none, already expired, or 1 ns..48 ms ahead)
 *     1 submit_many of 2..3 requests
 *     2 a caller drops its handle
 *     3 the clock moves (sub-tick, 1..8 ticks, or past the max timeout)
 *     4 one non-blocking turn (iouw_loop_turn)
 *     5 one phase alone: reap | advance timeouts | fill SQ | submit
 *     6,7 the kernel answers one outstanding SQE (op or cancel): pick, then
 *       a result
 *   When the input runs out (or the step budget below is spent): close, then
 *   iouw_loop_run() drains; whenever it would block the kernel answers one
 *   outstanding SQE (decided by the bytes left, then by default: ops
 *   succeed in full, cancels as the pairing rules allow) or, for a timed
 *   wait with nothing to answer, lets the virtual clock run to the bound.
 *   With the silence mask's bit i set, the drain's wait i (the first 8
 *   waits, timed ones only) gets no answer even with SQEs outstanding: the
 *   kernel stays silent until the bound (legal: nothing obliges a kernel
 *   to post before the timeout), the clock runs to it, so a deadline or
 *   the shutdown budget cuts the wait short. Corpus files from before bit
 *   5 had a meaning had it cleared in migration (README, "Two corpora").
 *
 * Kernel legality: every answer is drawn from the kernel model
 * (fuzz/kernel_model.h, the rules K1-K10 there), which the decoder tells
 * every SQE the loop submits and every CQE the loop reaps: each op and
 * cancel SQE is answered at most once, only after it was submitted; op
 * results are legal for the opcode and never exceed the bytes the SQE
 * describes, -ECANCELED included whether or not the loop cancelled (K4);
 * cancel and op results pair up as the kernel pairs them (K6-K8): cancel
 * 0 <=> op -ECANCELED; an op answered first gets cancel -ENOENT or
 * -EALREADY; -ENOENT or -EALREADY before the op leaves the op any result.
 * Each CQE posted is checked legal by the model (a generator bug is an
 * oracle mismatch). The wake poll is never answered.
 *
 * HOSTILE mode (the ring-size byte with bits 6 and 7 both set; the size
 * is that byte % 4 either way): an answer step first takes a pick among
 * 4; 0 means a hostile answer, given only while the CQ is empty (else a
 * legal one), and reaped at once: a pick among 3: an outstanding op's
 * result from the kernel model's hostile draws (INT32_MIN, above the
 * bytes asked, ...), an outstanding cancel's (-EINVAL, INT32_MIN, ...), or
 * an op CQE for a request admitted once with no op outstanding (H1). The
 * reference names the invariant it must fire (request_model.h
 * iouw_rm_invariant(); cancel -EINVAL for the live occupant; the table's
 * untracked / stale generation / no op in flight) or none: with none the
 * CQE goes through the usual oracles (warned cancel results change
 * nothing); with one, exactly that invariant must fire (fuzz/fatal.h) and
 * the history ends there: the loop is freed, every handle dropped, and no
 * fd, no allocation may leak, nothing be freed twice. iouwait-explain does
 * not turn hostile histories into scenarios.

 * Oracles (every step): iouw_loop_assert_consistent(); every op SQE equals
 * the request model's next SQE (request_spec.h) and no waiter ever has two
 * op SQEs in flight; a request keeps one user_data for all its SQEs; an
 * ASYNC_CANCEL targets only an op still in flight (answered but not reaped
 * counts as in flight) and only once; a cancel CQE, stale or not, leaves the
 * slot it names untouched; admission: an already expired deadline (by an
 * independently tracked wheel tick) times out at once, any other gets the
 * independently computed target tick; a request becomes cancel-requested
 * exactly when the reference sees its tick pass; each handle gets exactly
 * one result, or none once dropped, equal to the reference: the request
 * model fed with the op results in reap order and the reference cancel
 * state (so Timeout only after a deadline passed, success only with the
 * bytes delivered, buffers and canaries intact), Abandoned only when a
 * shutdown budget ran out (the drain's waits let that much virtual time
 * pass; a budget of 0 from close on), after which the drain only reaps and
 * abandons, as the original's drain() does: no SQE, submit, expiry, stage,
 * admission or Timeout; a result recorded by a CQE is delivered in that
 * same reap; a request's fd is closed once it ended, except a request abandoned
 * with its op in flight: detached, its caller gets Abandoned at once without
 * its buffer, its fd stays open until iouw_loop_free() closes it; the clock is read only
 * while a deadline is active, a deadline request awaits admission, or a
 * budgeted drain runs. After the drain: drained, every request ended, no fd
 * leaked (ASan/LSan: no allocation leaked).
 *
 * Policy model (every step; docs/loop.md §6): the reference keeps the
 * loop's queues itself -- the front door (FIFO of accepted requests, bound
 * = ring size), the ready queue (FIFO: back on a Requeue completion), the
 * pending-cancel queue (back when a deadline fires for a waiter whose op is
 * in flight; never otherwise) and whether the wake poll needs arming -- and
 * predicts every event of every fill in order: the wake re-arm, then each
 * queued cancel (skipped, CANCEL_SKIPPED, when its waiter left flight;
 * else its ASYNC_CANCEL SQE), then the ready queue in FIFO order (stage
 * outcome Timeout when its deadline passed, Orphaned when its caller left
 * a send/recv/read_at, else its op SQE), then fresh requests while the
 * table has room (admission, expiry at once, or stage + SQE), stopping
 * exactly when the SQ room the fill read runs out; a deadline that fires
 * queues exactly its cancel right after the EXPIRED event; a Complete
 * completion is delivered right away. Between steps (and when a fill and a
 * wait begin) the loop's ready queue, pending cancels and front-door length
 * equal the reference's, in order, and so does the number of clock reads
 * (construction; an advance with a deadline active; admitting a deadline
 * request with none active; before and after each wait of a budgeted
 * drain). The drain waits (wait_nr 1) exactly when nothing is left to stage
 * or admit and something is tracked, bounded by the budget left (exactly,
 * with no deadline active; no bound with neither); it ends exactly when the
 * reference is drained or its budget is spent: no backend call after that
 * but the final submit.
 *
 * Failure policy: "<target>: oracle mismatch at step N: <what>", the step in
 * words, abort(). An environment failure (environment.h: EMFILE, ENOMEM,
 * ... creating a request, the scripted kernel or the loop; reading /proc/self/fd) is no
 * finding: the one-line report, everything released, IOUW_FUZZ_SKIPPED;
 * met inside a core call (posting a CQE, capturing SQEs while the loop
 * waits) it exits with 77 at once.
 */
#ifndef IOUW_FUZZ_LOOP_RUN_H
#define IOUW_FUZZ_LOOP_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <liburing.h>

#include "backend.h"
#include "provider.h"

/* The step budget (issue 11: every input ends quickly): at most
 * IOUW_LR_MAX_STEPS decoded steps and IOUW_LR_MAX_REQUESTS requests (a
 * submit beyond them becomes a turn), the rest of the input ignored; in the
 * drain at most MAX_DRAIN_CHOICES (loop_run.c) of the kernel's answers are
 * decoded from the input, after that every op succeeds in full, so every
 * request ends within a bounded number of waits. The trace (iouwait-decode)
 * says when the budget cut a history short. */
#define IOUW_LR_MAX_STEPS 1024
#define IOUW_LR_MAX_REQUESTS 256

/* Exhaustive enumeration (fuzz/enumerate.c): with iouw_lr_enum set, the
 * decisions come from its chooser (provider.h) instead of the input bytes,
 * and step() is told, before every step is decoded, the hash of the
 * history's state (the reference's requests, queues, outstanding SQEs and
 * CQEs in order, clock, the loop's waiter slots: everything the rest of the
 * history depends on), the steps taken and the requests made so far.
 * iouw_lr_choice_context() says what the decision being asked decides. */
enum iouw_lr_choice {
	IOUW_LR_CH_CONFIG = 0, /* the header: ring, SQ, CQ, budget */
	IOUW_LR_CH_STEP,       /* the action, its count, a drop, a phase */
	IOUW_LR_CH_SPEC,       /* a request's kind and shape (request_spec.h) */
	IOUW_LR_CH_DEADLINE,   /* a send/recv deadline */
	IOUW_LR_CH_CLOCK,      /* a clock move */
	IOUW_LR_CH_KERNEL,     /* which SQE the kernel answers */
	IOUW_LR_CH_ANSWER,     /* its result: the kernel model's legal draw
	                        * (iouw_km_draw_op/_cancel, kernel_model.h) */
	IOUW_LR_CH_DRAIN,      /* the header's drain silence mask: which of
	                        * the drain's first 8 waits the kernel lets
	                        * run to their bound with SQEs outstanding */
};

struct iouw_lr_enum {
	const struct iouw_fdp_chooser *chooser;
	void (*step)(void *ctx, uint64_t state_hash, uint32_t steps, uint32_t nreq);
	void *ctx;
};

extern const struct iouw_lr_enum *iouw_lr_enum;
enum iouw_lr_choice iouw_lr_choice_context(void);

/* Run the loop history of @data on @kernel (a scripted kernel,
 * core/skernel.h: reset to the history's SQ and CQ sizes first, emptied and
 * unhooked at the end; NULL: a memory-transport one made for this input),
 * checking every oracle; @name prefixes mismatch reports ("fuzz_loop");
 * @trace, when not NULL, gets the history in words. Returns 0, or
 * IOUW_FUZZ_SKIPPED for an environment failure; aborts on a mismatch. Not
 * reentrant. */
int iouw_loop_history_run(const char *name, struct iouw_backend *kernel, const uint8_t *data,
                          size_t size, FILE *trace);

/* iouw_loop_history_run() on a memory scripted kernel, printing to @out. */
void iouw_loop_history_print(FILE *out, const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_LOOP_RUN_H */
