/* core/loop.h: the io_uring event loop (docs/loop.md §6).
 *
 * What: drives logical requests through a ring backend. It owns the waiter
 * table, the timeout wheel, the ready queue (waiters that need their next
 * SQE), the pending-cancel queue, the bounded inbound (MPSC) queue and the
 * eventfd wake path. The ring is reached only through struct iouw_backend,
 * time only through the injected struct iouw_clock, so every test and
 * scenario is deterministic.
 *
 * One turn (iouw_loop_turn), exactly in the order of docs/loop.md §6.2:
 *   1. reap every available CQE (the backend flushes the kernel's overflow
 *      list): the wake poll's CQE acknowledges the eventfd and, without
 *      IORING_CQE_F_MORE, marks the poll for re-arming; any other CQE goes to
 *      the waiter table: Cancel -> nothing, Requeue -> back of the ready
 *      queue, Complete -> drop its deadline from the wheel, deliver.
 *   2. advance timeouts, only when a deadline is active: each expired entry
 *      whose cancel() succeeds loses its deadline; if its op is in flight a
 *      cancel is queued; if it sits in the ready queue it times out locally
 *      when staged, with no cancel SQE.
 *   3. fill the SQ, stopping as soon as it is full: wake poll re-arm, pending
 *      cancels (skipping waiters no longer in flight), the ready queue in
 *      FIFO order, then fresh requests while the table has room. A fresh
 *      request whose deadline already passed times out at once and never
 *      takes a slot.
 *   4. submit and wait for one CQE, bounded by the next deadline (or, while
 *      draining with a budget, by what is left of it). -ETIME is not an
 *      error; -EINTR/-EAGAIN/-EBUSY mean "come round again"; anything else
 *      is returned as fatal.
 *
 * The loop only blocks when it has nothing else to do: no ready waiter, no
 * admissible inbound request, no pending cancel, and the sleep-intent
 * handshake (core/wake.h) found no submission since the fill last looked at
 * the front door.
 *
 * Clock discipline: the clock is read only while a deadline is active, when a
 * request with a deadline is admitted, and while draining with a budget.
 * Before the first deadline is converted after an idle period the wheel is
 * brought up to now once.
 *
 * Shutdown: iouw_loop_close() closes the front door and wakes the loop;
 * iouw_loop_run() turns until it sees the loop closed, then drains as the
 * original's drain() does, one step at a time: (1) reap every available
 * CQE; (2) nothing tracked or queued -> done; (3) a budget was set and none
 * is left -> abandon everything still tracked or queued (callers are told
 * ABANDONED, -ECANCELED), done: no timeout advanced, nothing staged, so
 * nothing new reaches the kernel once the budget is spent, a budget of 0
 * included; (4) advance timeouts, fill the SQ (pending cancels, the ready
 * queue, the requests accepted before close); (5) nothing left -> submit
 * what was pushed without waiting, done (staging alone can empty the table:
 * a local timeout); (6) submit and wait, bounded by the budget left and the
 * next deadline, charging the time the wait took (measured on the injected
 * clock) to the budget; back to (1).
 *
 * Liveness caveat (by design, as in the original): capacity is the ring size.
 * If the table is full of requests that wait on requests still queued behind
 * the capacity limit (a recv waiting for a send that cannot be admitted),
 * nothing progresses until deadlines fire and free slots. Give such requests
 * deadlines, or a ring large enough for the dependency chain.
 *
 * Abandoning never frees memory the kernel may still write: a request whose
 * op is still in flight is detached (its caller hears ABANDONED at once,
 * without its buffer) and parked; iouw_loop_free() tears an owned ring down
 * first and only then releases the parked requests. With a borrowed backend,
 * tear its ring down before freeing the loop.
 *
 * Threads: iouw_loop_submit(), iouw_loop_submit_many() and iouw_loop_close()
 * may be called from any thread; everything else belongs to the loop thread
 * (iouw_loop_submit_local(), the same-thread path, checks that it is on it).
 * With single_issuer the kernel binds the ring to the thread that created it
 * (a submit from any other thread fails with -EEXIST): create such a loop on
 * the thread that will run it.
 */
#ifndef IOUW_LOOP_H
#define IOUW_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "clock.h"
#include "request_ops.h"
#include "waiter.h"
#include "wheel.h"

#define IOUW_LOOP_DEFAULT_RING_SIZE 128u
#define IOUW_LOOP_MAX_RING_SIZE 32768u
#define IOUW_LOOP_DEFAULT_MAX_TIMEOUT_NS (UINT64_C(60) * 1000000000u)
#define IOUW_LOOP_DEFAULT_TICK_NS (UINT64_C(5) * 1000000u)

struct iouw_loop_config {
	/* Ring entries, rounded up to a power of two; also the waiter capacity
	 * and the inbound queue bound. 1..IOUW_LOOP_MAX_RING_SIZE. */
	uint32_t ring_size;
	/* IORING_SETUP_IOPOLL (iouw_loop_new_uring only). */
	bool io_poll;
	/* IORING_SETUP_SINGLE_ISSUER + DEFER_TASKRUN (iouw_loop_new_uring). */
	bool single_issuer;
	/* IORING_SETUP_COOP_TASKRUN + TASKRUN_FLAG (iouw_loop_new_uring):
	 * completions that go through task work wait for the loop thread's
	 * next turn instead of interrupting it (docs/loop.md §6.1). */
	bool coop_taskrun;
	/* Longest deadline the wheel tracks; later ones are clamped. Non-zero. */
	uint64_t max_request_timeout_ns;
	/* Drain budget after close, or IOUW_NO_DEADLINE for none. */
	uint64_t shutdown_timeout_ns;
	/* Timeout wheel tick. Non-zero. */
	uint64_t tick_ns;
};

/* Fill @cfg with the defaults of docs/loop.md §6.1. */
void iouw_loop_config_init(struct iouw_loop_config *cfg);

/* Validate @cfg and write the normalised form (ring size rounded up) to
 * *ret. -EINVAL for a zero tick, a zero max timeout, or a ring size of 0 or
 * above IOUW_LOOP_MAX_RING_SIZE. */
int iouw_loop_config_normalize(const struct iouw_loop_config *cfg, struct iouw_loop_config *ret);

enum iouw_loop_event_kind {
	IOUW_EV_SQE = 0,         /* .sqe was staged; it reaches the backend, in
	                          * staging order, before the fill returns */
	IOUW_EV_CQE,             /* .cqe was reaped */
	IOUW_EV_ADMIT,           /* fresh request got slot .id, deadline .tick */
	IOUW_EV_ADMIT_EXPIRED,   /* fresh request's deadline had passed: timed out */
	IOUW_EV_STAGE,           /* stage(.id) gave .outcome (enum iouw_stage_kind) */
	IOUW_EV_COMPLETION,      /* CQE for .id gave .outcome (enum iouw_completion_kind) */
	IOUW_EV_EXPIRED,         /* wheel entry .id/.tick fired; .outcome 1 if cancel() took */
	IOUW_EV_CANCEL_QUEUED,   /* an ASYNC_CANCEL for .id was queued */
	IOUW_EV_CANCEL_SKIPPED,  /* a queued cancel for .id was dropped: not in flight */
	IOUW_EV_DELIVER,         /* .request finished with .outcome (enum iouw_finish) */
	IOUW_EV_ABANDON,         /* .request abandoned by the shutdown budget;
	                          * .outcome 1 if its op was still in flight */
	IOUW_EV_WAIT,            /* submit_and_wait returned .res */
};

struct iouw_loop_event {
	enum iouw_loop_event_kind kind;
	iouw_waiter_id id;
	uint64_t tick;
	int32_t res;
	int outcome;
	const struct io_uring_sqe *sqe;
	struct iouw_cqe cqe;
	struct iouw_request *request; /* valid only during the callback */
};

typedef void (*iouw_loop_observer_fn)(void *ctx, const struct iouw_loop_event *ev);

struct iouw_loop_stats {
	uint64_t turns;
	uint64_t sqes;
	uint64_t cqes;
	uint64_t delivered;
	uint64_t timeouts;
	uint64_t cancels;
	uint64_t abandoned;
	uint64_t clock_reads;
};

struct iouw_loop;

/* Create a loop on @backend (borrowed: it must outlive the loop) with the
 * clock @clock. Returns 0, -EINVAL (bad config or arguments), -ENOMEM, or the
 * -errno of creating the eventfd. */
int iouw_loop_new(const struct iouw_loop_config *cfg, struct iouw_backend *backend,
                  struct iouw_clock clock, struct iouw_loop **ret);

/* Create a loop that owns a real io_uring ring built from @cfg. Also returns
 * the ring setup's -errno unchanged (-EPERM/-ENOSYS/-EACCES: io_uring
 * unavailable; -EINVAL: a requested flag is unsupported). */
int iouw_loop_new_uring(const struct iouw_loop_config *cfg, struct iouw_clock clock,
                        struct iouw_loop **ret);

/* Free the loop: an owned ring first, then every request still tracked or
 * queued is released (callers told -ECANCELED). NULL is a no-op. */
void iouw_loop_free(struct iouw_loop *loop);

/* Any thread: hand @req to the loop. 0; -EAGAIN when the inbound queue is
 * full (retry later); -ESHUTDOWN after close; -EINVAL for NULL. On error the
 * caller still owns @req. */
int iouw_loop_submit(struct iouw_loop *loop, struct iouw_request *req);

/* Any thread: hand @n requests to the loop in one go (one claim on the
 * inbound queue and one wake-up check for the lot). Returns how many were
 * accepted, from the front (0 when the queue is full: retry the rest later),
 * or -ESHUTDOWN after close, -EINVAL for a NULL pointer or n == 0. The caller
 * still owns the requests that were not accepted. */
int iouw_loop_submit_many(struct iouw_loop *loop, struct iouw_request *const *reqs, size_t n);

/* Loop thread only (docs/loop.md §6.7): the same-thread path. Admit @n
 * requests at once, skipping the front door: first the fill of
 * iouw_loop_fill_sq() runs when anything is queued (wake poll, cancels,
 * ready queue, front door, in that order), then as many of @reqs as the table and the SQ have room for
 * are admitted, in order, as the fill admits fresh requests (their SQEs go
 * out with the next submit). Returns how many were accepted, from the front
 * (0 when the table or the SQ is full: turn the loop and retry, or use the
 * front door); the caller still owns the rest. A request whose deadline
 * already passed is finished (TIMEOUT), and one orphaned before its first
 * SQE released, during the call. -ESHUTDOWN after close; -EINVAL for a NULL
 * pointer, n == 0, or a call from any thread but the loop thread (the one
 * that created the loop or, since, last called iouw_loop_turn() or
 * iouw_loop_run()). Called from a request's op or an observer while the loop
 * is in a phase, it hands the requests to the front door instead, exactly as
 * iouw_loop_submit_many() (admitting in the middle of a phase would break
 * its bookkeeping). A caller whose hot requests share one ops table of its
 * own can have this and iouw_loop_turn() instantiated with that table
 * known, its ops then called directly: IOUW_LOOP_TYPED() in loop_typed.h
 * (docs/loop.md §6.13). */
int iouw_loop_submit_local(struct iouw_loop *loop, struct iouw_request *const *reqs, size_t n);

/* Any thread: close the front door and wake the loop so run() drains. */
void iouw_loop_close(struct iouw_loop *loop);

/* Loop thread: turn until closed, then drain (see "Shutdown" above) until
 * nothing is tracked or queued, abandoning what is left once a shutdown
 * budget is spent. 0, or the fatal -errno of a wait. */
int iouw_loop_run(struct iouw_loop *loop);

/* Loop thread: one turn. @may_block false never waits for a CQE (submit
 * only). 0, or a fatal -errno. */
int iouw_loop_turn(struct iouw_loop *loop, bool may_block);

/* The phases of a turn, for tests and the scenario harness. */
size_t iouw_loop_reap(struct iouw_loop *loop);          /* CQEs processed */
void iouw_loop_advance_timeouts(struct iouw_loop *loop);
bool iouw_loop_fill_sq(struct iouw_loop *loop);          /* true: SQ filled up */
int iouw_loop_submit_and_wait(struct iouw_loop *loop, bool may_block);

/* True once closed, nothing queued inbound and nothing tracked. */
bool iouw_loop_is_drained(const struct iouw_loop *loop);
bool iouw_loop_is_closed(const struct iouw_loop *loop);

/* How iouw_loop_cancel() follows up once the table's cancel() took
 * (docs/loop.md §6.11). */
enum iouw_loop_cancel_how {
	/* Request cancellation only: the waiter leaves ACTIVE and the wheel;
	 * no ASYNC_CANCEL (an op in flight runs to its own CQE; parked, it
	 * times out locally when staged). */
	IOUW_LOOP_CANCEL_REQUEST = 0,
	/* Exactly what an expired deadline does in the advance phase
	 * (docs/loop.md §6.2 step 2): as REQUEST, and an op in flight gets an ASYNC_CANCEL
	 * queued, which the next fill stages. */
	IOUW_LOOP_CANCEL_EXPIRE,
	/* As EXPIRE, but the ASYNC_CANCEL (carrying @cancel_flags) is staged
	 * into the SQ now, reaching the backend before this call returns, so
	 * the next submit sends it without a fill. */
	IOUW_LOOP_CANCEL_STAGE,
};

/* Loop thread: cancel waiter @id by the loop's own rule
 * (docs/loop.md §6.11). 1 when the table's cancel() took (the waiter was ACTIVE), 0 when
 * it did not (free slot, stale generation, already cancel-requested: nothing
 * changes); -EBUSY for IOUW_LOOP_CANCEL_STAGE with the op in flight and no
 * SQ room, or called from a request's op or the observer in the middle of
 * a phase (nothing changes); -EINVAL for an unknown @how, or non-zero
 * @cancel_flags without IOUW_LOOP_CANCEL_STAGE. @cancel_flags goes into the
 * ASYNC_CANCEL's cancel_flags (the loop's own cancels carry 0; tests pass
 * bogus flags to make the kernel answer -EINVAL). */
int iouw_loop_cancel(struct iouw_loop *loop, iouw_waiter_id id, enum iouw_loop_cancel_how how,
                     uint32_t cancel_flags);

/* Read-only views of the waiter table and the timeout wheel, for
 * expectations and oracles (docs/loop.md §6.11): query them, never change
 * them behind the loop's back (cancel with iouw_loop_cancel()). */
const struct iouw_waiters *iouw_loop_table(const struct iouw_loop *loop);
const struct iouw_wheel *iouw_loop_timeouts(const struct iouw_loop *loop);

/* Mutable access, for setup (iouw_waiters_set_warn) and test hooks
 * (iouw_waiters_set_generation) only; never for loop policy. */
struct iouw_waiters *iouw_loop_waiters(struct iouw_loop *loop);
struct iouw_wheel *iouw_loop_wheel(struct iouw_loop *loop);
/* The loop's backend (its own, from iouw_loop_new_uring(), or the one it
 * was given), e.g. for iouw_uring_backend_ring() in tests; the loop keeps
 * owning what it owned. */
struct iouw_backend *iouw_loop_backend(struct iouw_loop *loop);
const struct iouw_loop_config *iouw_loop_config(const struct iouw_loop *loop);
/* Ready queue / pending cancels, front first: writes up to @max ids,
 * returns the total. */
size_t iouw_loop_ready(const struct iouw_loop *loop, iouw_waiter_id *ret_ids, size_t max);
size_t iouw_loop_pending_cancels(const struct iouw_loop *loop, iouw_waiter_id *ret_ids,
                                 size_t max);
size_t iouw_loop_inbound_len(const struct iouw_loop *loop);
/* The eventfd the wake poll watches (for tests). */
int iouw_loop_wake_fd(const struct iouw_loop *loop);
/* The loop's counters. Exact between phases; read from inside a request's
 * op during a run of admissions or CQEs, sqes, cqes and delivered may be
 * ahead of or behind that run (the plain path counts once per run, not per
 * request: docs/loop.md §6.13). */
void iouw_loop_stats(const struct iouw_loop *loop, struct iouw_loop_stats *ret);

/* Observe every event (SQE, CQE, outcome, delivery) as it happens. */
void iouw_loop_set_observer(struct iouw_loop *loop, iouw_loop_observer_fn fn, void *ctx);

/* Cross-check the table, the wheel and the queues against each other:
 * every ready entry is tracked and not in flight and appears once; every
 * tracked waiter not in flight is in the ready queue; the wheel's active
 * count equals the number of ACTIVE waiters with a deadline. Panics naming
 * the first broken invariant. O(capacity). Call between turns. */
void iouw_loop_assert_consistent(const struct iouw_loop *loop);

#endif /* IOUW_LOOP_H */
