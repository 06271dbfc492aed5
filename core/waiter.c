/* core/waiter.c: the waiter table (see waiter.h for states and invariants).
 *
 * Design: a flat array of slots plus a stack of free slot indices. A slot
 * keeps its id even while free: that id is the one its next occupant gets,
 * so "bump the generation on free" is a single store and the harness can
 * read or seed the generation of any slot. The free stack is filled so that
 * slot 0 is handed out first; freed slots are reused LIFO, as in the seed.
 *
 * Workload: every SQE staged and every CQE reaped goes through here, so the
 * hot calls are O(1) and allocation-free; only new/free allocate. The two
 * calls every request makes (admission, its op CQE) live in
 * waiter_internal.h so the loop can inline them; this file wraps them.
 */
#include "waiter.h"
#include "waiter_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invariant.h"

static void warn_stderr(void *ctx, iouw_waiter_id id, int32_t res)
{
	char msg[160];
	int n;

	(void)ctx;
	n = snprintf(msg, sizeof(msg),
	             "iouwait: warning: unexpected async cancel CQE result %d for waiter %u/%u\n",
	             (int)res, iouw_waiter_id_index(id), iouw_waiter_id_generation(id));
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		return;
}

int iouw_waiters_new(uint32_t capacity, struct iouw_waiters **ret)
{
	struct iouw_waiters *w;

	if (!ret || capacity > IOUW_WAITERS_MAX_CAPACITY)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	/* calloc(0) may return NULL: allocate at least one element. */
	w->slots = calloc(capacity ? capacity : 1, sizeof(*w->slots));
	w->free_stack = calloc(capacity ? capacity : 1, sizeof(*w->free_stack));
	if (!w->slots || !w->free_stack) {
		free(w->slots);
		free(w->free_stack);
		free(w);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < capacity; i++) {
		w->slots[i].id = iouw_waiter_id_new(i, 0);
		w->slots[i].target_tick = IOUW_NO_TICK;
		/* Top of the stack is the last element: slot 0 goes out first. */
		w->free_stack[i] = capacity - 1 - i;
	}
	w->capacity = capacity;
	w->free_len = capacity;
	w->warn = warn_stderr;
	*ret = w;
	return 0;
}

void iouw_waiters_free(struct iouw_waiters *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->capacity; i++) {
		struct iouw_request *req = w->slots[i].request;

		if (req) {
			w->slots[i].request = NULL;
			req->ops->release(req);
		}
	}
	free(w->slots);
	free(w->free_stack);
	free(w);
}

void iouw_waiters_set_warn(struct iouw_waiters *w, iouw_waiters_warn_fn fn, void *ctx)
{
	w->warn = fn;
	w->warn_ctx = ctx;
}

/* The slot @id names if it is tracked and current, else NULL. */
static struct iouw_waiter_slot *lookup(const struct iouw_waiters *w, iouw_waiter_id id)
{
	uint32_t index = iouw_waiter_id_index(id);
	struct iouw_waiter_slot *slot;

	if (index >= w->capacity)
		return NULL;
	slot = &w->slots[index];
	if (!slot->request || !iouw_waiter_id_eq(slot->id, id))
		return NULL;
	return slot;
}

iouw_waiter_id iouw_waiters_insert(struct iouw_waiters *w, struct iouw_request *req,
                                   uint64_t target_tick)
{
	return iouw_waiters__occupy(w, req, target_tick)->id;
}

bool iouw_waiters_cancel(struct iouw_waiters *w, iouw_waiter_id id)
{
	/* Out of range, empty, or reused for a newer generation: nothing to
	 * cancel. Tolerated because timeout-wheel entries are lazy and may
	 * outlive their waiter. */
	struct iouw_waiter_slot *slot = lookup(w, id);

	if (!slot || slot->state != IOUW_WAITER_ACTIVE)
		return false;
	slot->state = IOUW_WAITER_CANCEL_REQUESTED;
	slot->target_tick = IOUW_NO_TICK;
	return true;
}

enum iouw_stage_kind iouw_waiters_stage_into(struct iouw_waiters *w, iouw_waiter_id id,
                                             struct io_uring_sqe *sqe,
                                             struct iouw_request **ret_request,
                                             uint64_t *ret_target_tick)
{
	uint32_t index = iouw_waiter_id_index(id);
	struct iouw_waiter_slot *slot;

	IOUW_INVARIANT(index < w->capacity && w->slots[index].request != NULL,
	               "stage called for untracked waiter");
	slot = &w->slots[index];
	IOUW_INVARIANT(iouw_waiter_id_eq(slot->id, id), "stage called with stale waiter id");

	if (__builtin_expect(slot->state == IOUW_WAITER_CANCEL_REQUESTED, 0)) {
		/* Parked in the ready queue when its deadline fired: time out
		 * locally, no SQE and no cancel needed. */
		*ret_request = iouw_waiters__take(w, index);
		*ret_target_tick = IOUW_NO_TICK;
		return IOUW_STAGE_TIMEOUT;
	}
	if (__builtin_expect(iouw_request_is_orphaned(slot->request), 0)) {
		/* Nobody will read more progress: retire locally instead of
		 * issuing another SQE. The request still owns its resources and
		 * gives them back in release(). */
		uint64_t target_tick = slot->target_tick;
		struct iouw_request *req = iouw_waiters__take(w, index);

		req->ops->release(req);
		*ret_target_tick = target_tick;
		*ret_request = NULL;
		return IOUW_STAGE_ORPHANED;
	}
	iouw_waiters__build(slot, sqe, false, NULL);
	return IOUW_STAGE_SUBMIT;
}

enum iouw_stage_kind iouw_waiters_admit(struct iouw_waiters *w, struct iouw_request *req,
                                        uint64_t target_tick, struct io_uring_sqe *sqe,
                                        iouw_waiter_id *ret_id)
{
	return iouw_waiters__admit(w, req, target_tick, sqe, NULL, ret_id);
}

void iouw_waiters_stage(struct iouw_waiters *w, iouw_waiter_id id, struct iouw_stage_outcome *ret)
{
	struct iouw_request *req = NULL;
	uint64_t tick = IOUW_NO_TICK;

	ret->kind = iouw_waiters_stage_into(w, id, &ret->sqe, &req, &tick);
	ret->request = req;
	ret->target_tick = tick;
}

void iouw_waiters__on_cancel_result(struct iouw_waiters *w, iouw_waiter_id id, int32_t res)
{
	if (res == 0) {
		/* Cancellation succeeded; the op CQE (-ECANCELED) follows. */
	} else if (res == -EALREADY) {
		/* Too late to cancel; the op CQE should follow (it may
		 * not come soon: docs/kernel.md §8, the waiter then stays stuck in
		 * CANCEL_REQUESTED, see iouw_waiters_cancel_requested()). */
	} else if (res == -ENOENT) {
		/* Not found: the op already completed (common race). */
	} else {
		IOUW_INVARIANT(res != -EINVAL, "async cancel SQE rejected by kernel: EINVAL");
		w->unexpected_cancel_results++;
		if (w->warn)
			w->warn(w->warn_ctx, id, res);
	}
}

enum iouw_completion_kind iouw_waiters_complete(struct iouw_waiters *w, uint64_t user_data,
                                                int32_t res, struct iouw_request **ret_request,
                                                uint64_t *ret_target_tick)
{
	return iouw_waiters__complete(w, user_data, res, NULL, ret_request, ret_target_tick);
}

void iouw_waiters_on_completion(struct iouw_waiters *w, uint64_t user_data, int32_t res,
                                struct iouw_completion_outcome *ret)
{
	bool is_cancel;
	iouw_waiter_id id = iouw_waiter_id_from_user_data(user_data, &is_cancel);
	/* A cancel CQE is stale when its slot is empty or moved on; decided
	 * before the CQE is applied (applying one never changes the slot). */
	bool stale = is_cancel && !lookup(w, id);
	struct iouw_request *req = NULL;
	uint64_t tick = IOUW_NO_TICK;

	ret->kind = iouw_waiters_complete(w, user_data, res, &req, &tick);
	ret->id = id;
	ret->request = req;
	ret->target_tick = tick;
	ret->stale = stale;
}

bool iouw_waiters_is_in_flight(const struct iouw_waiters *w, iouw_waiter_id id)
{
	const struct iouw_waiter_slot *slot = lookup(w, id);

	return slot && slot->in_flight;
}

struct iouw_request *iouw_waiters_remove(struct iouw_waiters *w, iouw_waiter_id id)
{
	uint32_t index = iouw_waiter_id_index(id);

	IOUW_INVARIANT(index < w->capacity && w->slots[index].request != NULL,
	               "remove called for untracked waiter");
	IOUW_INVARIANT(iouw_waiter_id_eq(w->slots[index].id, id), "remove called with stale waiter id");
	return iouw_waiters__take(w, index);
}

size_t iouw_waiters_len(const struct iouw_waiters *w)
{
	return w->capacity - w->free_len;
}

bool iouw_waiters_is_empty(const struct iouw_waiters *w)
{
	return w->free_len == w->capacity;
}

bool iouw_waiters_is_full(const struct iouw_waiters *w)
{
	return w->free_len == 0;
}

uint32_t iouw_waiters_capacity(const struct iouw_waiters *w)
{
	return w->capacity;
}

uint64_t iouw_waiters_unexpected_cancel_results(const struct iouw_waiters *w)
{
	return w->unexpected_cancel_results;
}

int iouw_waiters_state(const struct iouw_waiters *w, iouw_waiter_id id,
                       enum iouw_waiter_state *ret_state, uint64_t *ret_target_tick)
{
	const struct iouw_waiter_slot *slot = lookup(w, id);

	if (!slot)
		return -ENOENT;
	if (ret_target_tick)
		*ret_target_tick = slot->target_tick;
	*ret_state = (enum iouw_waiter_state)slot->state;
	return 0;
}

int iouw_waiters_slot(const struct iouw_waiters *w, uint32_t index, struct iouw_waiter_info *ret)
{
	const struct iouw_waiter_slot *slot;

	if (index >= w->capacity)
		return -ERANGE;
	slot = &w->slots[index];
	ret->id = slot->id;
	ret->occupied = slot->request != NULL;
	ret->in_flight = slot->in_flight;
	ret->state = (enum iouw_waiter_state)slot->state;
	ret->target_tick = slot->target_tick;
	return 0;
}

size_t iouw_waiters_cancel_requested(const struct iouw_waiters *w, iouw_waiter_id *ret_ids,
                                     size_t max)
{
	size_t n = 0;

	for (uint32_t i = 0; i < w->capacity; i++) {
		const struct iouw_waiter_slot *slot = &w->slots[i];

		if (!slot->request || slot->state != IOUW_WAITER_CANCEL_REQUESTED)
			continue;
		if (ret_ids && n < max)
			ret_ids[n] = slot->id;
		n++;
	}
	return n;
}

int iouw_waiters_set_generation(struct iouw_waiters *w, uint32_t index, uint32_t generation)
{
	if (index >= w->capacity)
		return -ERANGE;
	if (w->slots[index].request)
		return -EBUSY;
	w->slots[index].id = iouw_waiter_id_new(index, generation);
	return 0;
}

void iouw_waiters_assert_consistent(const struct iouw_waiters *w)
{
	size_t occupied = 0;
	uint8_t small[256], *seen;

	IOUW_INVARIANT(w->free_len <= w->capacity, "free stack larger than the table");
	for (uint32_t i = 0; i < w->capacity; i++) {
		const struct iouw_waiter_slot *slot = &w->slots[i];

		IOUW_INVARIANT(iouw_waiter_id_index(slot->id) == i, "slot id names another slot");
		IOUW_INVARIANT((slot->id.raw & IOUW_WAITER_CANCEL_TAG) == 0,
		               "slot id carries the cancel tag");
		if (slot->request) {
			occupied++;
			IOUW_INVARIANT(slot->state == IOUW_WAITER_ACTIVE ||
			                       slot->state == IOUW_WAITER_CANCEL_REQUESTED,
			               "tracked waiter in unknown state");
			IOUW_INVARIANT(slot->state == IOUW_WAITER_ACTIVE ||
			                       slot->target_tick == IOUW_NO_TICK,
			               "cancel-requested waiter still holds a deadline");
		} else {
			IOUW_INVARIANT(!slot->in_flight, "free slot marked in flight");
		}
	}
	/* Tracked is capacity - free_len: every slot is either on the free
	 * stack or occupied. */
	IOUW_INVARIANT(occupied == w->capacity - w->free_len,
	               "tracked count disagrees with occupied slots");
	/* Small tables (the loop's, the fuzzers') check on the stack: this
	 * runs after every step of every fuzz input. */
	seen = w->capacity <= sizeof(small) ? small : calloc(w->capacity, 1);
	IOUW_INVARIANT(seen != NULL, "out of memory while checking the waiter table");
	if (seen == small)
		memset(small, 0, w->capacity);
	for (uint32_t i = 0; i < w->free_len; i++) {
		uint32_t index = w->free_stack[i];

		IOUW_INVARIANT(index < w->capacity, "free stack holds an out-of-range slot");
		IOUW_INVARIANT(!seen[index], "free stack holds a slot twice");
		IOUW_INVARIANT(w->slots[index].request == NULL, "free stack holds an occupied slot");
		seen[index] = 1;
	}
	if (seen != small)
		free(seen);
}
