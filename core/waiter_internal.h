/* core/waiter_internal.h: the waiter table's representation and its two
 * per-request transitions (admission, op CQE), as inline functions.
 *
 * For waiter.c and the event loop (core/loop.c) only: every request the loop
 * carries goes through iouw_waiters__admit() once and iouw_waiters__complete()
 * once, and inlining them into the loop's reap and fill loops is measurably
 * faster than calling them (bench/bench_loop.c). Everyone else uses the
 * public wrappers in waiter.h (iouw_waiters_admit(), iouw_waiters_complete()),
 * which run exactly this code. Nothing here is part of the public interface.
 *
 * @known (admission, build, completion): the request ops the caller knows
 * at compile time (core/loop_typed.h's typed fast path), or NULL; a request
 * whose ops are @known has them called directly (IOUW_REQUEST_CALL), every
 * other one through its pointer. Same calls, same order, same checks.
 *
 * Owns: struct iouw_waiter_slot, struct iouw_waiters.
 * Invariants: the per-slot states and table invariants of waiter.h, checked
 * by iouw_waiters_assert_consistent().
 */
#ifndef IOUW_WAITER_INTERNAL_H
#define IOUW_WAITER_INTERNAL_H

#include <string.h>

#include "invariant.h"
#include "waiter.h"

/* Inlined wherever used, whatever the compiler's size heuristics say: the
 * point of this header (see above). */
#define IOUW_WAITERS_INLINE static inline __attribute__((always_inline))

struct iouw_waiter_slot {
	iouw_waiter_id id;
	uint64_t target_tick;
	struct iouw_request *request; /* NULL when the slot is FREE */
	uint8_t state;                /* enum iouw_waiter_state */
	bool in_flight;
};

struct iouw_waiters {
	struct iouw_waiter_slot *slots;
	uint32_t *free_stack;
	uint32_t capacity;
	/* Free slots; tracked waiters are capacity - free_len. */
	uint32_t free_len;
	uint64_t unexpected_cancel_results;
	iouw_waiters_warn_fn warn;
	void *warn_ctx;
};

/* FREE -> ACTIVE (not in flight) for @req; the slot it took. */
IOUW_WAITERS_INLINE struct iouw_waiter_slot *iouw_waiters__occupy(struct iouw_waiters *w,
                                                            struct iouw_request *req,
                                                            uint64_t target_tick)
{
	struct iouw_waiter_slot *slot;

	IOUW_INVARIANT(req != NULL, "insert called without a request");
	IOUW_INVARIANT(w->free_len > 0, "waiters should not exceed configured capacity");
	slot = &w->slots[w->free_stack[--w->free_len]];
	IOUW_INVARIANT(slot->request == NULL, "free slot should not contain waiter");
	slot->request = req;
	slot->state = IOUW_WAITER_ACTIVE;
	slot->target_tick = target_tick;
	slot->in_flight = false;
	return slot;
}

/* FREE the slot at @index and hand its request back. The next occupant gets
 * generation + 1, which is what makes late cancel CQEs recognisably stale. */
IOUW_WAITERS_INLINE struct iouw_request *iouw_waiters__take(struct iouw_waiters *w, uint32_t index)
{
	struct iouw_waiter_slot *slot = &w->slots[index];
	struct iouw_request *req = slot->request;

	IOUW_INVARIANT(req != NULL, "tracked waiter missing");
	slot->request = NULL;
	slot->in_flight = false;
	slot->state = IOUW_WAITER_ACTIVE;
	slot->target_tick = IOUW_NO_TICK;
	slot->id = iouw_waiter_id_next_generation(slot->id);
	w->free_stack[w->free_len++] = index;
	return req;
}

/* The SUBMIT path of stage: mark @slot in flight and build its SQE. */
IOUW_WAITERS_INLINE void iouw_waiters__build(struct iouw_waiter_slot *slot,
                                             struct io_uring_sqe *sqe, bool typed,
                                             const struct iouw_request_ops *known)
{
	uint64_t user_data = iouw_waiter_id_user_data(slot->id);

	IOUW_INVARIANT(!slot->in_flight, "stage called for waiter with op already in flight");
	slot->in_flight = true;
	/* Only a Submit carries an SQE; build_sqe gets it zeroed. */
	memset(sqe, 0, sizeof(*sqe));
	IOUW_REQUEST_CALL(typed, known, slot->request, build_sqe, slot->request, sqe, user_data);
	IOUW_INVARIANT(sqe->user_data == user_data, "request built an SQE with foreign user_data");
}

/* See iouw_waiters_admit() in waiter.h. */
IOUW_WAITERS_INLINE enum iouw_stage_kind iouw_waiters__admit(struct iouw_waiters *w,
                                                       struct iouw_request *req,
                                                       uint64_t target_tick,
                                                       struct io_uring_sqe *sqe,
                                                       const struct iouw_request_ops *known,
                                                       iouw_waiter_id *ret_id)
{
	struct iouw_waiter_slot *slot = iouw_waiters__occupy(w, req, target_tick);
	const bool typed = iouw_request_ops_are(req, known);

	/* A fresh waiter is ACTIVE and not in flight: stage() can only
	 * answer ORPHANED or SUBMIT. */
	*ret_id = slot->id;
	if (__builtin_expect(iouw_request_is_orphaned_as(req, typed, known), 0)) {
		/* Handed back unreleased: the caller still reports the
		 * admission before it releases the request. */
		(void)iouw_waiters__take(w, iouw_waiter_id_index(slot->id));
		return IOUW_STAGE_ORPHANED;
	}
	iouw_waiters__build(slot, sqe, typed, known);
	return IOUW_STAGE_SUBMIT;
}

/* A cancel CQE for the current occupant: 0, -EALREADY and -ENOENT are
 * normal, -EINVAL panics, anything else is counted and warned about. */
void iouw_waiters__on_cancel_result(struct iouw_waiters *w, iouw_waiter_id id, int32_t res);

/* See iouw_waiters_complete() in waiter.h. */
IOUW_WAITERS_INLINE enum iouw_completion_kind iouw_waiters__complete(struct iouw_waiters *w,
                                                               uint64_t user_data, int32_t res,
                                                               const struct iouw_request_ops *known,
                                                               struct iouw_request **ret_request,
                                                               uint64_t *ret_target_tick)
{
	bool is_cancel;
	iouw_waiter_id id = iouw_waiter_id_from_user_data(user_data, &is_cancel);
	uint32_t index = iouw_waiter_id_index(id);
	struct iouw_waiter_slot *slot;
	bool cancel_requested, typed;
	uint64_t tick;

	if (__builtin_expect(index >= w->capacity || w->slots[index].request == NULL, 0)) {
		/* Only a cancel CQE may outlive its waiter (op CQE first). */
		IOUW_INVARIANT(is_cancel, "operation CQE for untracked waiter");
		return IOUW_COMPLETION_CANCEL;
	}
	slot = &w->slots[index];
	if (__builtin_expect(!iouw_waiter_id_eq(slot->id, id), 0)) {
		/* The slot was reused: a late cancel CQE of an older
		 * generation. It must not touch the new occupant. */
		IOUW_INVARIANT(is_cancel, "operation CQE for stale waiter generation");
		return IOUW_COMPLETION_CANCEL;
	}
	if (__builtin_expect(is_cancel, 0)) {
		/* Cancel CQEs acknowledge cancel requests, never complete
		 * waiters. */
		iouw_waiters__on_cancel_result(w, id, res);
		return IOUW_COMPLETION_CANCEL;
	}

	/* The op CQE retires the in-flight SQE whether or not the request
	 * completes. */
	IOUW_INVARIANT(slot->in_flight, "operation CQE for waiter with no op in flight");
	slot->in_flight = false;
	cancel_requested = slot->state == IOUW_WAITER_CANCEL_REQUESTED;
	/* A cancel-requested waiter's deadline already left the wheel. */
	tick = cancel_requested ? IOUW_NO_TICK : slot->target_tick;
	typed = iouw_request_ops_are(slot->request, known);
	if (IOUW_REQUEST_CALL(typed, known, slot->request, on_cqe, slot->request, cancel_requested,
	                      res) ||
	    iouw_request_is_orphaned_as(slot->request, typed, known)) {
		/* Terminal, or progress for a caller who is already gone:
		 * remove now rather than requeue another SQE. */
		*ret_target_tick = tick;
		*ret_request = iouw_waiters__take(w, index);
		return IOUW_COMPLETION_COMPLETE;
	}
	return IOUW_COMPLETION_REQUEUE;
}

#endif /* IOUW_WAITER_INTERNAL_H */
