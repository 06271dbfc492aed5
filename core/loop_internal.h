/* core/loop_internal.h: the event loop's representation and its
 * per-request hot paths (admission, the in-place reap, delivery) as inline
 * functions.
 *
 * For core/loop.c and the typed fast path (core/loop_typed.h) only: loop.c
 * instantiates every hot path with @known NULL (each request's ops called
 * through its pointer); IOUW_LOOP_TYPED() instantiates the same code in the
 * caller's file with @known the caller's own static const ops table, so a
 * request of that type has its ops called directly (IOUW_REQUEST_CALL() in
 * request_ops.h; the compiler resolves and inlines them) and any other
 * request still through its pointer. One body, two instantiations: the
 * typed path cannot drift from the generic one. Everything else stays in
 * loop.c (the "out of line" declarations below). Nothing here is part of
 * the public interface.
 *
 * Owns: struct iouw_loop, struct idq (the ready and pending-cancel queues).
 * Invariants: those of loop.h, checked by iouw_loop_assert_consistent();
 * "busy" is set while a phase that may call a request's ops or the observer
 * runs (iouw_loop_submit_local() then goes through the front door).
 */
#ifndef IOUW_LOOP_INTERNAL_H
#define IOUW_LOOP_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#include "backend.h"
#include "invariant.h"
#include "loop.h"
#include "mpsc.h"
#include "request_ops.h"
#include "thread.h"
#include "uring_backend.h"
#include "waiter_internal.h"
#include "wake.h"
#include "wheel_internal.h"

/* A growable FIFO of waiter ids. */
struct idq {
	iouw_waiter_id *ids;
	size_t cap; /* power of two */
	size_t head;
	size_t len;
};

struct iouw_loop {
	struct iouw_loop_config cfg;
	struct iouw_backend *backend;
	/* The backend's ring when it is the plain uring backend (NULL
	 * otherwise): SQEs are then built straight in the ring's SQ slots and
	 * CQEs handled in place (see "Direct ring access" above). */
	struct io_uring *ring;
	bool owns_backend;
	struct iouw_clock clock;
	struct iouw_waiters *waiters;
	struct iouw_wheel *wheel;
	struct idq ready;
	struct idq cancels;
	struct iouw_mpsc *inbound;
	struct iouw_wake wake;
	bool wake_needs_arm;
	/* Set while a phase that may call a request's ops or the observer runs
	 * (reap, advance, fill, abandon): iouw_loop_submit_local() from inside
	 * one goes through the front door instead of admitting. */
	bool busy;
	_Atomic bool closed;
	/* The loop thread's id (core/thread.h; iouw_loop_submit_local()
	 * checks it): the creator, then whoever last called iouw_loop_turn()
	 * or iouw_loop_run(). */
	_Atomic(uintptr_t) owner;
	/* Drain budget left (ns) once closed, when a shutdown timeout is set. */
	uint64_t budget_left;
	/* SQ slots left during one fill_sq(), read once from the backend and
	 * counted down by commit_sqe(): one indirect call per fill, not per SQE. */
	unsigned sq_left;
	/* Without direct ring access: SQEs built during one fill_sq(), handed
	 * to the backend in one push_sqes() call when the buffer fills and
	 * when the fill ends. */
	unsigned sqn;
	struct io_uring_sqe sqbuf[64];
	/* Requests abandoned while their op was in flight: the kernel may
	 * still write their buffers, so they are released only in
	 * iouw_loop_free(), after an owned ring is torn down. */
	struct iouw_request **graveyard;
	size_t graveyard_len;
	iouw_loop_observer_fn observer;
	void *observer_ctx;
	struct iouw_loop_stats stats;
	struct iouw_cqe cqes[64];
};

/* ---- out of line, in loop.c --------------------------------------------- */

/* Append @id to @q (grows it; panics when out of memory). */
void iouw_loop__idq_push(struct idq *q, iouw_waiter_id id);
/* Hand @ev to the observer, if any. */
void iouw_loop__emit(struct iouw_loop *loop, const struct iouw_loop_event *ev);
/* Build an event and hand it to the observer. */
void iouw_loop__emit_event(struct iouw_loop *loop, enum iouw_loop_event_kind kind,
                           iouw_waiter_id id, uint64_t tick, int outcome,
                           struct iouw_request *req);
/* A fresh request's deadline as a wheel tick; IOUW_NO_TICK when it already
 * passed, and then the request was timed out (it never takes a slot). */
uint64_t iouw_loop__admission_tick(struct iouw_loop *loop, struct iouw_request *req,
                                   bool observed);
/* Hand the SQEs built so far to the backend (staging buffer only). */
void iouw_loop__push_staged(struct iouw_loop *loop);
/* iouw_loop_fill_sq() up to, not including, handing the staged SQEs over. */
bool iouw_loop__fill_staged(struct iouw_loop *loop);
/* The backend's reap, every request's ops through its pointer; how many
 * CQEs (what iouw_loop__reap_as() does after the in-place reap). */
size_t iouw_loop__reap_backend(struct iouw_loop *loop);

/* ---- inline ------------------------------------------------------------ */

/* Emit only when @observed; build the event only then. */
#define IOUW_LOOP__EMIT_WHEN(observed, loop, kind, id, tick, outcome, req)               \
	do {                                                                          \
		if (observed)                                                         \
			iouw_loop__emit_event((loop), (kind), (id), (tick), (outcome), \
			                      (req));                                 \
	} while (0)

/* Test the observer before building the event: most loops run without one,
 * and the hot path would otherwise fill a struct per outcome. */
#define IOUW_LOOP__OBSERVED(loop) __builtin_expect((loop)->observer != NULL, 0)
#define IOUW_LOOP__EMIT(loop, kind, id, tick, outcome, req) \
	IOUW_LOOP__EMIT_WHEN(IOUW_LOOP__OBSERVED(loop), loop, kind, id, tick, outcome, req)

/* The hot paths (reaping, admitting) are inlined twice, with @observed a
 * constant: without an observer they carry no event code at all. */
#define IOUW_LOOP__HOT static inline __attribute__((always_inline))

/* Deliver @req's result (finish). Counted in stats.delivered here unless
 * @run_counted: the unobserved in-place reap counts its deliveries once
 * per run of CQEs (see IOUW_LOOP__ADMIT_PLAIN_RUN() for why). */
IOUW_LOOP__HOT void iouw_loop__deliver_at(struct iouw_loop *loop, iouw_waiter_id id,
                                          struct iouw_request *req, enum iouw_finish how,
                                          const bool observed, const bool run_counted,
                                          const struct iouw_request_ops *known)
{
	IOUW_LOOP__EMIT_WHEN(observed, loop, IOUW_EV_DELIVER, id, IOUW_NO_TICK, (int)how, req);
	if (!run_counted)
		loop->stats.delivered++;
	if (how == IOUW_FINISH_TIMEOUT)
		loop->stats.timeouts++;
	IOUW_REQUEST_CALL(iouw_request_ops_are(req, known), known, req, finish, req, how);
}

IOUW_LOOP__HOT void iouw_loop__deliver(struct iouw_loop *loop, iouw_waiter_id id,
                                       struct iouw_request *req, enum iouw_finish how,
                                       const bool observed)
{
	iouw_loop__deliver_at(loop, id, req, how, observed, false, NULL);
}

/* Handle one CQE; whether it delivered a result. @run_counted: the caller
 * counted every CQE of its run in stats.delivered up front, and a CQE that
 * delivers nothing (the wake poll's, a cancel CQE, a requeue: all rare)
 * takes itself back out (iouw_loop__deliver_at()). */
IOUW_LOOP__HOT bool iouw_loop__handle_cqe_at(struct iouw_loop *loop, uint64_t user_data,
                                             int32_t res, uint32_t flags, const bool observed,
                                             const bool run_counted,
                                             const struct iouw_request_ops *known)
{
	enum iouw_completion_kind kind;
	struct iouw_request *req = NULL;
	uint64_t tick = IOUW_NO_TICK;
	iouw_waiter_id id;
	bool is_cancel;

	if (observed) {
		struct iouw_loop_event ev = { .kind = IOUW_EV_CQE,
			                      .cqe = { .user_data = user_data, .res = res,
			                               .flags = flags } };

		iouw_loop__emit(loop, &ev);
	}
	if (user_data == IOUW_WAKE_USER_DATA) {
		/* Wake poll: drain the eventfd. A multishot poll the kernel
		 * ended (no F_MORE, or an error) must be re-armed. An eventfd
		 * read error is not fatal: the sequence counter still tells
		 * the loop about new submissions. */
		(void)iouw_wake_acknowledge(&loop->wake);
		if (!(flags & IORING_CQE_F_MORE))
			loop->wake_needs_arm = true;
		if (run_counted)
			loop->stats.delivered--;
		return false;
	}
	kind = iouw_waiters__complete(loop->waiters, user_data, res, known, &req, &tick);
	id = iouw_waiter_id_from_user_data(user_data, &is_cancel);
	IOUW_LOOP__EMIT_WHEN(observed, loop, IOUW_EV_COMPLETION, id, tick, (int)kind, req);
	switch (kind) {
	case IOUW_COMPLETION_CANCEL:
		/* Cancel CQEs only acknowledge; the op CQE decides. */
		break;
	case IOUW_COMPLETION_REQUEUE:
		iouw_loop__idq_push(&loop->ready, id);
		break;
	case IOUW_COMPLETION_COMPLETE:
		if (tick != IOUW_NO_TICK)
			iouw_wheel__remove(loop->wheel, tick);
		iouw_loop__deliver_at(loop, id, req, IOUW_FINISH_COMPLETE, observed, run_counted, known);
		return true;
	}
	if (run_counted)
		loop->stats.delivered--;
	return false;
}

IOUW_LOOP__HOT void iouw_loop__handle_cqe(struct iouw_loop *loop, uint64_t user_data,
                                          int32_t res, uint32_t flags, const bool observed)
{
	(void)iouw_loop__handle_cqe_at(loop, user_data, res, flags, observed, false, NULL);
}

/* Handle the CQEs in the ring, in place, until it is empty; how many. Only
 * with direct ring access and nothing stashed by a probe (stashed CQEs are
 * older than the ring's). The CQ head moves once per run of CQEs. */
IOUW_LOOP__HOT size_t iouw_loop__reap_in_place(struct iouw_loop *loop, const bool observed,
                                               const struct iouw_request_ops *known)
{
	struct io_uring_cq *cq = &loop->ring->cq;
	const struct io_uring_cqe *cqes = cq->cqes;
	const unsigned mask = cq->ring_mask;
	size_t total = 0;

	for (;;) {
		unsigned head = *cq->khead;
		unsigned tail = io_uring_smp_load_acquire(cq->ktail);

		if (head == tail)
			return total;
		total += tail - head;
		/* Counted per run (see IOUW_LOOP__ADMIT_PLAIN_RUN()): without
		 * an observer every CQE is counted as a delivery up front, and
		 * the rare one that delivers nothing takes itself back out. */
		loop->stats.cqes += tail - head;
		if (!observed)
			loop->stats.delivered += tail - head;
		for (; head != tail; head++) {
			const struct io_uring_cqe *c = &cqes[head & mask];

			(void)iouw_loop__handle_cqe_at(loop, c->user_data, c->res, c->flags,
			                               observed, !observed, known);
		}
		io_uring_smp_store_release(cq->khead, head);
	}
}

/* What iouw_loop_reap() does, with @known for the in-place reap (the
 * backend's path, iouw_loop__reap_backend(), calls through the pointers). */
IOUW_LOOP__HOT size_t iouw_loop__reap_as(struct iouw_loop *loop,
                                         const struct iouw_request_ops *known)
{
	bool was_busy = loop->busy;
	size_t total = 0;

	loop->busy = true;
	/* Direct ring access: what is in the ring now, in place. The backend
	 * reap below then sees an empty ring and only flushes an overflow
	 * list (or task work) if the kernel flagged one. */
	if (loop->ring && iouw_uring_backend_stashed(loop->backend) == 0) {
		total = IOUW_LOOP__OBSERVED(loop) ? iouw_loop__reap_in_place(loop, true, known)
		                                  : iouw_loop__reap_in_place(loop, false, known);
		/* The ring was empty when iouw_loop__reap_in_place() returned:
		 * the backend's reap would only look at these flags and return
		 * 0 when neither is set. */
		if (!(IO_URING_READ_ONCE(*loop->ring->sq.kflags) &
		      (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))) {
			loop->busy = was_busy;
			return total;
		}
	}
	total += iouw_loop__reap_backend(loop);
	loop->busy = was_busy;
	return total;
}

static inline void iouw_loop__flush_sqes(struct iouw_loop *loop)
{
	if (loop->sqn > 0)
		iouw_loop__push_staged(loop);
}

/* The slot the next SQE is built in; iouw_loop__commit_sqe() keeps it. The caller
 * checked sq_left first. @direct: loop->ring is set (a constant on the hot
 * paths, which are instantiated for each case). */
IOUW_LOOP__HOT struct io_uring_sqe *iouw_loop__sqe_slot_at(struct iouw_loop *loop,
                                                           const bool direct, const bool in_run)
{
	/* In a plain admission run the run's SQEs were counted against
	 * sq_left once, up front (IOUW_LOOP__ADMIT_RUN). */
	if (!in_run)
		IOUW_INVARIANT(loop->sq_left > 0, "SQ space accounting went negative");
	if (direct)
		/* The slot io_uring_get_sqe() would hand out (sq_left, read
		 * from the ring, says it is free); iouw_loop__commit_sqe() claims it. */
		return &loop->ring->sq.sqes[loop->ring->sq.sqe_tail & loop->ring->sq.ring_mask];
	if (loop->sqn == sizeof(loop->sqbuf) / sizeof(loop->sqbuf[0]))
		iouw_loop__flush_sqes(loop);
	return &loop->sqbuf[loop->sqn];
}

static inline struct io_uring_sqe *iouw_loop__sqe_slot(struct iouw_loop *loop)
{
	return iouw_loop__sqe_slot_at(loop, loop->ring != NULL, false);
}

/* Keep the SQE just built in iouw_loop__sqe_slot_at(). @in_run: a plain admission
 * run, which counts its SQEs once at its end (IOUW_LOOP__ADMIT_RUN). */
IOUW_LOOP__HOT void iouw_loop__commit_sqe_at(struct iouw_loop *loop, const bool observed,
                                             const bool direct, const bool in_run)
{
	const struct io_uring_sqe *sqe;

	if (direct)
		sqe = &loop->ring->sq.sqes[loop->ring->sq.sqe_tail++ & loop->ring->sq.ring_mask];
	else
		sqe = &loop->sqbuf[loop->sqn++];
	if (!in_run) {
		loop->sq_left--;
		loop->stats.sqes++;
	}
	if (observed) {
		struct iouw_loop_event ev = { .kind = IOUW_EV_SQE, .sqe = sqe };

		iouw_loop__emit(loop, &ev);
	}
}

IOUW_LOOP__HOT void iouw_loop__commit_sqe(struct iouw_loop *loop, const bool observed)
{
	iouw_loop__commit_sqe_at(loop, observed, loop->ring != NULL, false);
}

/* Insert @req with deadline @tick (IOUW_NO_TICK: none), schedule it, stage
 * it. */
IOUW_LOOP__HOT void iouw_loop__admit_at(struct iouw_loop *loop, struct iouw_request *req,
                                        uint64_t tick, const bool observed, const bool direct,
                                        const struct iouw_request_ops *known)
{
	enum iouw_stage_kind kind;
	iouw_waiter_id id;

	kind = iouw_waiters__admit(loop->waiters, req, tick,
	                           iouw_loop__sqe_slot_at(loop, direct, direct && !observed), known,
	                           &id);
	if (tick != IOUW_NO_TICK)
		iouw_wheel__schedule(loop->wheel, id, tick);
	IOUW_LOOP__EMIT_WHEN(observed, loop, IOUW_EV_ADMIT, id, tick, 0, req);
	if (__builtin_expect(kind == IOUW_STAGE_SUBMIT, 1)) {
		IOUW_LOOP__EMIT_WHEN(observed, loop, IOUW_EV_STAGE, id, IOUW_NO_TICK, (int)kind, NULL);
		iouw_loop__commit_sqe_at(loop, observed, direct, direct && !observed);
		return;
	}
	/* Orphaned before its first SQE: the table dropped the waiter and
	 * handed the request back; release it once the stage is reported. */
	IOUW_LOOP__EMIT_WHEN(observed, loop, IOUW_EV_STAGE, id, tick, (int)kind, NULL);
	if (tick != IOUW_NO_TICK)
		iouw_wheel_remove(loop->wheel, tick);
	IOUW_REQUEST_CALL(iouw_request_ops_are(req, known), known, req, release, req);
}

/* Admit one fresh request: insert, schedule its deadline, stage it; or time
 * it out at once when its deadline already passed. Without a deadline (the
 * common case) the tick is a constant and its checks fold away. */
IOUW_LOOP__HOT void iouw_loop__admit(struct iouw_loop *loop, struct iouw_request *req,
                                     const bool observed, const bool direct,
                                     const struct iouw_request_ops *known)
{
	uint64_t tick;

	if (__builtin_expect(req->deadline_ns == IOUW_NO_DEADLINE, 1)) {
		iouw_loop__admit_at(loop, req, IOUW_NO_TICK, observed, direct, known);
		return;
	}
	tick = iouw_loop__admission_tick(loop, req, observed);
	if (tick != IOUW_NO_TICK)
		iouw_loop__admit_at(loop, req, tick, observed, direct, known);
}

/* The plain path (direct ring access, no observer) admits a run with the
 * SQ space checked and the SQEs counted (sq_left, stats) once for the run,
 * not per request: the per-request counter updates were a loop-carried
 * chain through memory that cost ~1% of a NOP (bench/bench_loop.c). The
 * ring's SQ tail, mask and array and the table stay in locals for the run:
 * each SQE's clear and build are byte stores, which the compiler must
 * assume may alias any field in memory, so fields it reads per request
 * would be reloaded after every one of them. No request op can reach the
 * ring's SQ tail (an op sees only its request and its SQE); a request with
 * a deadline takes the general path, with the tail handed over and back. */
IOUW_LOOP__HOT void iouw_loop__admit_plain_one(struct iouw_loop *loop, struct iouw_waiters *w,
                                               struct io_uring_sqe *sqes, unsigned mask,
                                               unsigned *tail, struct iouw_request *req,
                                               const struct iouw_request_ops *known)
{
	iouw_waiter_id id;

	if (__builtin_expect(req->deadline_ns != IOUW_NO_DEADLINE, 0)) {
		loop->ring->sq.sqe_tail = *tail;
		iouw_loop__admit(loop, req, false, true, known);
		*tail = loop->ring->sq.sqe_tail;
		return;
	}
	if (__builtin_expect(iouw_waiters__admit(w, req, IOUW_NO_TICK, &sqes[*tail & mask], known,
	                                         &id) == IOUW_STAGE_SUBMIT,
	                     1)) {
		++*tail;
		return;
	}
	/* Orphaned before its first SQE (iouw_loop__admit_at()). */
	IOUW_REQUEST_CALL(iouw_request_ops_are(req, known), known, req, release, req);
}

/* @reqs: an array of request pointers, or of void pointers (the front
 * door's). */
#define IOUW_LOOP__ADMIT_PLAIN_RUN(loop, reqs, n, known)                                   \
	do {                                                                              \
		struct io_uring_sq *const sq_ = &(loop)->ring->sq;                        \
		struct io_uring_sqe *const sqes_ = sq_->sqes;                             \
		const unsigned mask_ = sq_->ring_mask, tail0_ = sq_->sqe_tail;            \
		struct iouw_waiters *const w_ = (loop)->waiters;                          \
		unsigned tail_ = tail0_;                                                  \
		IOUW_INVARIANT((n) <= (loop)->sq_left, "SQ space accounting went negative"); \
		for (size_t i_ = 0; i_ < (n); i_++)                                       \
			iouw_loop__admit_plain_one((loop), w_, sqes_, mask_, &tail_,      \
			                           (reqs)[i_], (known));                  \
		sq_->sqe_tail = tail_;                                                    \
		(loop)->sq_left -= tail_ - tail0_;                                        \
		(loop)->stats.sqes += tail_ - tail0_;                                     \
	} while (0)

/* Admit @reqs[0..n) in order (an array of request pointers, or of void
 * pointers from the front door); the caller made sure each has a slot and
 * an SQE. */
#define IOUW_LOOP__ADMIT_RUN(loop, reqs, n, known)                                 \
	do {                                                                       \
		if (IOUW_LOOP__OBSERVED(loop))                                     \
			for (size_t i_ = 0; i_ < (n); i_++)                        \
				iouw_loop__admit((loop), (reqs)[i_], true,         \
				                 (loop)->ring != NULL, (known));   \
		else if ((loop)->ring)                                             \
			IOUW_LOOP__ADMIT_PLAIN_RUN((loop), (reqs), (n), (known));  \
		else                                                               \
			for (size_t i_ = 0; i_ < (n); i_++)                        \
				iouw_loop__admit((loop), (reqs)[i_], false, false, \
				                 (known));                         \
	} while (0)

/* Whether a fill has anything to stage: a ready or pending-cancel entry, a
 * wake poll to re-arm, or a request at the front door. Without any, the
 * fill would only read the SQ space and account for the wake sequence. */
static inline bool iouw_loop__fill_has_work(struct iouw_loop *loop)
{
	return loop->ready.len > 0 || loop->cancels.len > 0 || loop->wake_needs_arm ||
	       iouw_mpsc_peek(loop->inbound) != NULL;
}

/* iouw_loop_submit_local() with @known (IOUW_REQUEST_CALL()). */
IOUW_LOOP__HOT int iouw_loop__submit_local_as(struct iouw_loop *loop,
                                              struct iouw_request *const *reqs, size_t n,
                                              const struct iouw_request_ops *known)
{
	size_t room;

	if (!loop || !reqs || n == 0)
		return -EINVAL;
	if (iouw_thread_id() != atomic_load_explicit(&loop->owner, memory_order_relaxed))
		return -EINVAL;
	/* Each request's line is asked for here, all of them at once, and
	 * not one at a time inside the admissions, each behind the last. */
	for (size_t i = 0; i < n; i++) {
		if (!reqs[i])
			return -EINVAL;
		__builtin_prefetch(reqs[i]);
	}
	if (atomic_load_explicit(&loop->closed, memory_order_acquire))
		return -ESHUTDOWN;
	if (loop->busy)
		/* From a request's op or the observer, in the middle of a
		 * phase: admitting now would break the phase's bookkeeping
		 * (SQ space counted, entries being walked). */
		return iouw_loop_submit_many(loop, reqs, n);
	loop->busy = true;
	/* What is already queued goes first, in the fill's order
	 * (docs/loop.md §6.3); these requests then come after the front door.
	 * With nothing queued the fill would only read the SQ space (and the
	 * wake sequence, which a later arm() then finds unaccounted for: it
	 * declines to sleep once, the safe side). */
	if (iouw_loop__fill_has_work(loop))
		(void)iouw_loop__fill_staged(loop);
	else
		loop->sq_left = loop->ring ? io_uring_sq_space_left(loop->ring)
		                           : iouw_backend_sq_space(loop->backend);
	room = loop->waiters->free_len;
	if (room > loop->sq_left)
		room = loop->sq_left;
	if (n > room)
		n = room;
	IOUW_LOOP__ADMIT_RUN(loop, reqs, n, known);
	iouw_loop__flush_sqes(loop);
	loop->busy = false;
	return (int)n;
}

/* iouw_loop_turn() with @known for the reap (IOUW_REQUEST_CALL()). */
IOUW_LOOP__HOT int iouw_loop__turn_as(struct iouw_loop *loop, bool may_block,
                                      const struct iouw_request_ops *known)
{
	atomic_store_explicit(&loop->owner, iouw_thread_id(), memory_order_relaxed);
	loop->stats.turns++;
	/* Untyped: the out-of-line iouw_loop_reap(), as before the typed
	 * path existed (the same code; inlining it here measured ~1% slower
	 * on bench_loop's NOP). */
	if (known == NULL)
		(void)iouw_loop_reap(loop);
	else
		(void)iouw_loop__reap_as(loop, known);
	iouw_loop_advance_timeouts(loop);
	/* The wake sequence is accounted for on every turn, in the fill's
	 * order: before the look at the front door, so a request published
	 * after it is seen by the next turn or refuses the sleep (wake.h).
	 * With nothing to fill from (the common turn of a caller on the
	 * loop's thread, whose requests were admitted when it handed them
	 * over) the fill itself is skipped: it would only read the SQ space,
	 * which every phase that stages SQEs reads for itself. */
	(void)iouw_wake_submitted(&loop->wake);
	if (iouw_loop__fill_has_work(loop))
		(void)iouw_loop_fill_sq(loop);
	if (iouw_loop_is_drained(loop))
		/* Staging can empty the table (a local timeout): the drain
		 * ends here, with nothing left to wait for. Still submit
		 * what was pushed (cancels) without waiting. */
		may_block = false;
	return iouw_loop_submit_and_wait(loop, may_block);
}

#endif /* IOUW_LOOP_INTERNAL_H */
