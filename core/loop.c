/* core/loop.c: the event loop (see loop.h for the turn, the policies and the
 * caveats).
 *
 * Queues: the ready queue holds each tracked, not-in-flight waiter exactly
 * once (bounded by the capacity); the pending-cancel queue may also hold ids
 * of waiters that already left, which are skipped when reached, so it grows
 * on demand. Both are FIFO rings of waiter ids.
 *
 * The per-request hot paths (admission, the in-place reap, delivery) and
 * struct iouw_loop live in loop_internal.h, so that the typed fast path
 * (loop_typed.h) can instantiate the same code with the caller's ops known;
 * this file instantiates them for every caller (no ops known) and holds
 * everything else.
 *
 * Hot path (measured by bench/bench_loop.c): a fill drains the front door in
 * runs (iouw_mpsc_pop_many), admits each request with one inlined table call
 * (waiter_internal.h), builds its SQE in a staging buffer and hands the lot
 * to the backend with one push_sqes(); a reap handles each CQE with one
 * inlined table call. Reaping is instantiated twice, with and without an
 * observer, and admitting three times (observed; unobserved with direct ring
 * access; unobserved with the staging buffer), so an unobserved loop carries
 * no event code and no per-request test of the ring. The same-thread path
 * (iouw_loop_submit_local) admits the caller's array the same way, with no
 * queue in between; "busy" marks the phases whose callbacks must not
 * re-enter admission (such a call goes to the front door instead).
 *
 * Direct ring access: on the plain uring backend (iouw_uring_backend_ring()
 * is not NULL; a wrapping backend, as the harness and the ring fuzz target
 * use, is not one) the loop builds each SQE straight in the ring's next SQ
 * slot, as io_uring_get_sqe() would, and handles CQEs in place in the ring
 * before moving the CQ head, as io_uring_for_each_cqe() would: no staging
 * copy either way. It still goes through the backend to submit and wait, to
 * flush an overflow list, and to reap whenever a probe stashed CQEs (they
 * are older than the ring's). Other backends get the staging buffer.
 */
#include "loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "loop_internal.h"
#include "mpsc.h"
#include "uring_backend.h"
#include "waiter_internal.h"
#include "wake.h"
#include "wheel_internal.h"

static int idq_init(struct idq *q, size_t cap)
{
	size_t c = 1;

	while (c < cap)
		c <<= 1;
	q->ids = calloc(c, sizeof(*q->ids));
	if (!q->ids)
		return -ENOMEM;
	q->cap = c;
	q->head = 0;
	q->len = 0;
	return 0;
}

void iouw_loop__idq_push(struct idq *q, iouw_waiter_id id)
{
	if (q->len == q->cap) {
		iouw_waiter_id *ids = calloc(q->cap * 2, sizeof(*ids));

		IOUW_INVARIANT(ids != NULL, "out of memory growing a loop queue");
		for (size_t i = 0; i < q->len; i++)
			ids[i] = q->ids[(q->head + i) & (q->cap - 1)];
		free(q->ids);
		q->ids = ids;
		q->head = 0;
		q->cap *= 2;
	}
	q->ids[(q->head + q->len) & (q->cap - 1)] = id;
	q->len++;
}

static iouw_waiter_id idq_front(const struct idq *q)
{
	return q->ids[q->head];
}

static void idq_pop(struct idq *q)
{
	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
}

static size_t idq_copy(const struct idq *q, iouw_waiter_id *out, size_t max)
{
	for (size_t i = 0; out && i < q->len && i < max; i++)
		out[i] = q->ids[(q->head + i) & (q->cap - 1)];
	return q->len;
}

void iouw_loop_config_init(struct iouw_loop_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ring_size = IOUW_LOOP_DEFAULT_RING_SIZE;
	cfg->max_request_timeout_ns = IOUW_LOOP_DEFAULT_MAX_TIMEOUT_NS;
	cfg->shutdown_timeout_ns = IOUW_NO_DEADLINE;
	cfg->tick_ns = IOUW_LOOP_DEFAULT_TICK_NS;
}

int iouw_loop_config_normalize(const struct iouw_loop_config *cfg, struct iouw_loop_config *ret)
{
	struct iouw_loop_config out;
	uint32_t size = 1;

	if (!cfg || !ret)
		return -EINVAL;
	if (cfg->tick_ns == 0 || cfg->max_request_timeout_ns == 0)
		return -EINVAL;
	if (cfg->ring_size == 0 || cfg->ring_size > IOUW_LOOP_MAX_RING_SIZE)
		return -EINVAL;
	while (size < cfg->ring_size)
		size <<= 1;
	out = *cfg;
	out.ring_size = size;
	*ret = out;
	return 0;
}

void iouw_loop__emit(struct iouw_loop *loop, const struct iouw_loop_event *ev)
{
	if (loop->observer)
		loop->observer(loop->observer_ctx, ev);
}

void iouw_loop__emit_event(struct iouw_loop *loop, enum iouw_loop_event_kind kind,
                           iouw_waiter_id id, uint64_t tick, int outcome,
                           struct iouw_request *req)
{
	struct iouw_loop_event ev = { .kind = kind, .id = id, .tick = tick, .outcome = outcome,
		                      .request = req };

	iouw_loop__emit(loop, &ev);
}

static uint64_t now(struct iouw_loop *loop)
{
	loop->stats.clock_reads++;
	return iouw_clock_now(&loop->clock);
}

int iouw_loop_new(const struct iouw_loop_config *cfg, struct iouw_backend *backend,
                  struct iouw_clock clock, struct iouw_loop **ret)
{
	struct iouw_loop_config norm;
	struct iouw_loop *loop;
	int r;

	if (!backend || !clock.now_ns || !ret)
		return -EINVAL;
	r = iouw_loop_config_normalize(cfg, &norm);
	if (r < 0)
		return r;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->cfg = norm;
	loop->backend = backend;
	loop->ring = iouw_uring_backend_ring(backend);
	loop->clock = clock;
	loop->wake.efd = -1;
	atomic_init(&loop->closed, false);
	atomic_init(&loop->owner, iouw_thread_id());
	loop->wake_needs_arm = true;
	loop->budget_left = norm.shutdown_timeout_ns;

	r = iouw_waiters_new(norm.ring_size, &loop->waiters);
	if (r == 0)
		/* The wheel's epoch is "now": reading the clock once at
		 * construction is the only read without an active deadline. */
		r = iouw_wheel_new(norm.tick_ns, norm.max_request_timeout_ns, now(loop),
		                   &loop->wheel);
	if (r == 0)
		r = idq_init(&loop->ready, norm.ring_size);
	if (r == 0)
		r = idq_init(&loop->cancels, norm.ring_size);
	if (r == 0)
		r = iouw_mpsc_new(norm.ring_size, &loop->inbound);
	if (r == 0)
		r = iouw_wake_init(&loop->wake);
	if (r < 0) {
		iouw_loop_free(loop);
		return r;
	}
	*ret = loop;
	return 0;
}

int iouw_loop_new_uring(const struct iouw_loop_config *cfg, struct iouw_clock clock,
                        struct iouw_loop **ret)
{
	struct iouw_loop_config norm;
	struct iouw_uring_config ucfg;
	struct iouw_backend *backend;
	struct iouw_loop *loop;
	int r;

	if (!ret)
		return -EINVAL;
	r = iouw_loop_config_normalize(cfg, &norm);
	if (r < 0)
		return r;
	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.entries = norm.ring_size;
	ucfg.iopoll = norm.io_poll;
	ucfg.single_issuer = norm.single_issuer;
	ucfg.coop_taskrun = norm.coop_taskrun;
	r = iouw_uring_backend_new(&ucfg, &backend);
	if (r < 0)
		return r;
	r = iouw_loop_new(&norm, backend, clock, &loop);
	if (r < 0) {
		iouw_backend_free(backend);
		return r;
	}
	loop->owns_backend = true;
	*ret = loop;
	return 0;
}

void iouw_loop_free(struct iouw_loop *loop)
{
	struct iouw_request *req;

	if (!loop)
		return;
	/* Tear the ring down first so the kernel cancels what is in flight
	 * before the requests (and their buffers) go away. */
	if (loop->owns_backend)
		iouw_backend_free(loop->backend);
	iouw_waiters_free(loop->waiters);
	for (size_t i = 0; i < loop->graveyard_len; i++)
		loop->graveyard[i]->ops->release(loop->graveyard[i]);
	free(loop->graveyard);
	if (loop->inbound) {
		while ((req = iouw_mpsc_pop(loop->inbound)) != NULL)
			req->ops->release(req);
		iouw_mpsc_free(loop->inbound);
	}
	iouw_wheel_free(loop->wheel);
	free(loop->ready.ids);
	free(loop->cancels.ids);
	iouw_wake_destroy(&loop->wake);
	free(loop);
}

int iouw_loop_submit(struct iouw_loop *loop, struct iouw_request *req)
{
	int r;

	if (!loop || !req)
		return -EINVAL;
	if (atomic_load_explicit(&loop->closed, memory_order_acquire))
		return -ESHUTDOWN;
	r = iouw_mpsc_push(loop->inbound, req);
	if (r < 0)
		return r;
	/* Enqueue first, then publish: see the handshake in wake.h. The
	 * eventfd is the loop's own; failing to write it would let the loop
	 * sleep through this request. */
	r = iouw_wake_publish(&loop->wake);
	IOUW_INVARIANT(r == 0, "wake eventfd write failed");
	return 0;
}

int iouw_loop_submit_many(struct iouw_loop *loop, struct iouw_request *const *reqs, size_t n)
{
	int pushed, r;

	if (!loop || !reqs || n == 0)
		return -EINVAL;
	if (atomic_load_explicit(&loop->closed, memory_order_acquire))
		return -ESHUTDOWN;
	pushed = iouw_mpsc_push_many(loop->inbound, (void *const *)reqs, n);
	if (pushed <= 0)
		return pushed;
	/* One publish covers the whole run (see iouw_loop_submit). */
	r = iouw_wake_publish(&loop->wake);
	IOUW_INVARIANT(r == 0, "wake eventfd write failed");
	return pushed;
}

void iouw_loop_close(struct iouw_loop *loop)
{
	atomic_store_explicit(&loop->closed, true, memory_order_release);
	/* Wake a sleeping loop so it notices and starts draining. */
	(void)iouw_wake_ring(&loop->wake);
}

bool iouw_loop_is_closed(const struct iouw_loop *loop)
{
	return atomic_load_explicit(&loop->closed, memory_order_acquire);
}

bool iouw_loop_is_drained(const struct iouw_loop *loop)
{
	return iouw_loop_is_closed(loop) && iouw_waiters_is_empty(loop->waiters) &&
	       iouw_mpsc_len(loop->inbound) == 0;
}

/* The backend's reap: everything it hands back, through each request's
 * ops pointer; how many CQEs (the rest of iouw_loop__reap_as()). */
size_t iouw_loop__reap_backend(struct iouw_loop *loop)
{
	size_t total = 0;
	unsigned n;

	do {
		n = iouw_backend_reap(loop->backend, loop->cqes,
		                      (unsigned)(sizeof(loop->cqes) / sizeof(loop->cqes[0])));
		if (IOUW_LOOP__OBSERVED(loop))
			for (unsigned i = 0; i < n; i++)
				iouw_loop__handle_cqe(loop, loop->cqes[i].user_data,
				                      loop->cqes[i].res, loop->cqes[i].flags, true);
		else
			for (unsigned i = 0; i < n; i++)
				iouw_loop__handle_cqe(loop, loop->cqes[i].user_data,
				                      loop->cqes[i].res, loop->cqes[i].flags, false);
		loop->stats.cqes += n;
		total += n;
	} while (n > 0);
	return total;
}

size_t iouw_loop_reap(struct iouw_loop *loop)
{
	return iouw_loop__reap_as(loop, NULL);
}

/* The rule once the table's cancel(@id) took (an expired deadline, or
 * iouw_loop_cancel()): the waiter leaves deadline tracking (@tick, if any);
 * with @queue, an op in flight gets an ASYNC_CANCEL queued. Otherwise it
 * sits in the ready queue and times out locally when staged, without a
 * cancel SQE. */
static void cancel_took(struct iouw_loop *loop, iouw_waiter_id id, uint64_t tick, bool queue)
{
	if (tick != IOUW_NO_TICK)
		iouw_wheel_remove(loop->wheel, tick);
	if (queue && iouw_waiters_is_in_flight(loop->waiters, id)) {
		iouw_loop__idq_push(&loop->cancels, id);
		IOUW_LOOP__EMIT(loop, IOUW_EV_CANCEL_QUEUED, id, IOUW_NO_TICK, 0, NULL);
	}
}

static void advance_timeouts(struct iouw_loop *loop)
{
	const struct iouw_wheel_entry *entries;
	size_t n;

	/* No active deadline: never read the clock. */
	if (iouw_wheel_active(loop->wheel) == 0)
		return;
	entries = iouw_wheel_advance(loop->wheel, now(loop), &n);
	for (size_t i = 0; i < n; i++) {
		iouw_waiter_id id = entries[i].id;
		bool took = iouw_waiters_cancel(loop->waiters, id);

		IOUW_LOOP__EMIT(loop, IOUW_EV_EXPIRED, id, entries[i].tick, took, NULL);
		if (!took)
			/* Stale entry: the waiter completed, or the slot was
			 * reused by a newer generation. Lazy expiry: ignore. */
			continue;
		cancel_took(loop, id, entries[i].tick, true);
	}
}

void iouw_loop_advance_timeouts(struct iouw_loop *loop)
{
	bool was_busy = loop->busy;

	loop->busy = true;
	advance_timeouts(loop);
	loop->busy = was_busy;
}

/* Hand the SQEs built so far to the backend, in build order (nothing to do
 * with direct ring access: they are in the ring already, and sqn stays 0). */
void iouw_loop__push_staged(struct iouw_loop *loop)
{
	int r;

	if (loop->ring)
		return;
	r = iouw_backend_push_sqes(loop->backend, loop->sqbuf, loop->sqn);
	/* Every staged SQE was counted against sq_left first. */
	IOUW_INVARIANT(r == 0, "SQE pushed into a full submission queue");
	loop->sqn = 0;
}

/* Stage @id and act on the outcome. The caller made sure the SQ has room. */
static void stage(struct iouw_loop *loop, iouw_waiter_id id)
{
	struct iouw_request *req = NULL;
	uint64_t tick = IOUW_NO_TICK;
	enum iouw_stage_kind kind =
		iouw_waiters_stage_into(loop->waiters, id, iouw_loop__sqe_slot(loop), &req, &tick);

	IOUW_LOOP__EMIT(loop, IOUW_EV_STAGE, id, tick, (int)kind, req);
	switch (kind) {
	case IOUW_STAGE_TIMEOUT:
		/* Cancel requested while parked: local timeout, no SQE. */
		iouw_loop__deliver(loop, id, req, IOUW_FINISH_TIMEOUT, IOUW_LOOP__OBSERVED(loop));
		break;
	case IOUW_STAGE_ORPHANED:
		/* The table released the request; drop its deadline. */
		if (tick != IOUW_NO_TICK)
			iouw_wheel_remove(loop->wheel, tick);
		break;
	case IOUW_STAGE_SUBMIT:
		iouw_loop__commit_sqe(loop, IOUW_LOOP__OBSERVED(loop));
		break;
	}
}

/* A fresh request's deadline as a wheel tick; IOUW_NO_TICK when it already
 * passed, and then the request was timed out (it never takes a slot). */
uint64_t iouw_loop__admission_tick(struct iouw_loop *loop, struct iouw_request *req,
                                   bool observed)
{
	uint64_t tick;

	if (iouw_wheel__active(loop->wheel) == 0) {
		/* Idle until now: the clock was not read, so bring the wheel
		 * up to now before converting. Nothing is active, so this
		 * only purges stale buckets. */
		size_t n;

		(void)iouw_wheel_advance(loop->wheel, now(loop), &n);
		IOUW_INVARIANT(n == 0, "idle wheel catch-up returned expired entries");
	}
	tick = iouw_wheel__target_tick(loop->wheel, req->deadline_ns);
	if (tick == IOUW_NO_TICK) {
		/* Already expired: time out now, never take a slot. */
		IOUW_LOOP__EMIT_WHEN(observed, loop, IOUW_EV_ADMIT_EXPIRED, iouw_waiter_id_new(0, 0),
		                     IOUW_NO_TICK, 0, req);
		loop->stats.delivered++;
		loop->stats.timeouts++;
		req->ops->finish(req, IOUW_FINISH_TIMEOUT);
	}
	return tick;
}

/* iouw_loop_fill_sq() up to, not including, handing the staged SQEs over. */
bool iouw_loop__fill_staged(struct iouw_loop *loop)
{
	/* Account for every submission published so far before looking at
	 * the front door (the original advances its processed sequence here):
	 * the arm before a blocking wait then refuses to sleep only for what
	 * was published after this fill looked, not for the batch it just
	 * admitted (wake.h). */
	(void)iouw_wake_submitted(&loop->wake);
	loop->sq_left = loop->ring ? io_uring_sq_space_left(loop->ring)
	                           : iouw_backend_sq_space(loop->backend);
	if (loop->wake_needs_arm) {
		struct io_uring_sqe *sqe;

		if (loop->sq_left == 0)
			return true;
		sqe = iouw_loop__sqe_slot(loop);
		memset(sqe, 0, sizeof(*sqe));
		iouw_wake_prep_poll(&loop->wake, sqe);
		iouw_loop__commit_sqe(loop, IOUW_LOOP__OBSERVED(loop));
		loop->wake_needs_arm = false;
	}

	while (loop->cancels.len > 0) {
		iouw_waiter_id id = idq_front(&loop->cancels);
		struct io_uring_sqe *sqe;

		if (!iouw_waiters_is_in_flight(loop->waiters, id)) {
			/* Its op CQE already arrived (or the slot moved on):
			 * nothing left to cancel. */
			idq_pop(&loop->cancels);
			IOUW_LOOP__EMIT(loop, IOUW_EV_CANCEL_SKIPPED, id, IOUW_NO_TICK, 0, NULL);
			continue;
		}
		if (loop->sq_left == 0)
			return true;
		idq_pop(&loop->cancels);
		sqe = iouw_loop__sqe_slot(loop);
		memset(sqe, 0, sizeof(*sqe));
		io_uring_prep_cancel64(sqe, iouw_waiter_id_user_data(id), 0);
		io_uring_sqe_set_data64(sqe, iouw_waiter_id_cancel_user_data(id));
		loop->stats.cancels++;
		iouw_loop__commit_sqe(loop, IOUW_LOOP__OBSERVED(loop));
	}

	while (loop->ready.len > 0) {
		iouw_waiter_id id;

		if (loop->sq_left == 0)
			return true;
		id = idq_front(&loop->ready);
		idq_pop(&loop->ready);
		stage(loop, id);
	}

	/* The table's fields directly (waiter_internal.h): full is "no free
	 * slot", as iouw_waiters_is_full() says. */
	while (loop->waiters->free_len > 0) {
		/* Each admitted request takes at most one slot and one SQE, so
		 * a run as long as the smaller of the two always fits. */
		size_t room = loop->waiters->free_len;
		void *run[32];
		size_t n;

		if (loop->sq_left == 0)
			return iouw_mpsc_peek(loop->inbound) != NULL;
		if (room > loop->sq_left)
			room = loop->sq_left;
		if (room > sizeof(run) / sizeof(run[0]))
			room = sizeof(run) / sizeof(run[0]);
		n = iouw_mpsc_pop_many(loop->inbound, run, room);
		if (n == 0)
			break;
		IOUW_LOOP__ADMIT_RUN(loop, run, n, NULL);
		if (n < room)
			/* The front door had no more: asking again would only
			 * find it empty (or a request pushed since, which the
			 * next turn admits; idle() looks before blocking). */
			break;
	}
	return false;
}

bool iouw_loop_fill_sq(struct iouw_loop *loop)
{
	bool was_busy = loop->busy, more;

	loop->busy = true;
	more = iouw_loop__fill_staged(loop);
	iouw_loop__flush_sqes(loop);
	loop->busy = was_busy;
	return more;
}

int iouw_loop_submit_local(struct iouw_loop *loop, struct iouw_request *const *reqs, size_t n)
{
	return iouw_loop__submit_local_as(loop, reqs, n, NULL);
}

/* Relative wait bound: the next deadline, and while draining with a budget
 * what is left of it; IOUW_BACKEND_NO_TIMEOUT when neither applies. */
static int64_t wait_bound(struct iouw_loop *loop)
{
	uint64_t bound = UINT64_MAX, next;

	if (iouw_wheel_next_deadline(loop->wheel, &next) == 0)
		bound = next;
	if (iouw_loop_is_closed(loop) && loop->cfg.shutdown_timeout_ns != IOUW_NO_DEADLINE &&
	    loop->budget_left < bound)
		bound = loop->budget_left;
	if (bound == UINT64_MAX)
		return IOUW_BACKEND_NO_TIMEOUT;
	return bound > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)bound;
}

/* Whether the loop has nothing to do but wait for a CQE. */
static bool idle(struct iouw_loop *loop)
{
	if (loop->ready.len > 0 || loop->cancels.len > 0 || loop->wake_needs_arm)
		return false;
	if (!iouw_waiters_is_full(loop->waiters) && iouw_mpsc_peek(loop->inbound) != NULL)
		return false;
	return true;
}

int iouw_loop_submit_and_wait(struct iouw_loop *loop, bool may_block)
{
	bool charge = iouw_loop_is_closed(loop) &&
	              loop->cfg.shutdown_timeout_ns != IOUW_NO_DEADLINE;
	unsigned wait_nr = 0;
	uint64_t t0 = 0;
	int r;

	if (may_block && idle(loop)) {
		/* Sleep-intent handshake: arm, then re-check before blocking. */
		if (iouw_wake_arm(&loop->wake)) {
			if (idle(loop) && !(iouw_loop_is_drained(loop)))
				wait_nr = 1;
			else
				iouw_wake_disarm(&loop->wake);
		}
	}
	if (charge)
		t0 = now(loop);
	r = iouw_backend_submit_and_wait(loop->backend, wait_nr,
	                                 wait_nr ? wait_bound(loop) : IOUW_BACKEND_NO_TIMEOUT);
	if (wait_nr)
		iouw_wake_disarm(&loop->wake);
	if (charge) {
		uint64_t spent = now(loop) - t0;

		loop->budget_left = spent >= loop->budget_left ? 0 : loop->budget_left - spent;
	}
	if (IOUW_LOOP__OBSERVED(loop)) {
		struct iouw_loop_event ev = { .kind = IOUW_EV_WAIT, .res = r };

		iouw_loop__emit(loop, &ev);
	}
	if (r >= 0 || r == -ETIME || r == -EINTR || r == -EAGAIN || r == -EBUSY)
		return 0;
	return r;
}

int iouw_loop_turn(struct iouw_loop *loop, bool may_block)
{
	return iouw_loop__turn_as(loop, may_block, NULL);
}

/* Shutdown budget spent: abandon whatever is still tracked or queued. A
 * request whose op is still in the kernel is detached (its caller is told at
 * once, without its buffer) and parked until iouw_loop_free(); the others
 * are released now. */
static void abandon(struct iouw_loop *loop)
{
	uint32_t cap = iouw_waiters_capacity(loop->waiters);
	struct iouw_request *req;

	loop->busy = true;
	if (!loop->graveyard)
		loop->graveyard = calloc(cap ? cap : 1, sizeof(*loop->graveyard));
	IOUW_INVARIANT(loop->graveyard != NULL, "out of memory abandoning requests");
	for (uint32_t i = 0; i < cap; i++) {
		struct iouw_waiter_info info;

		if (iouw_waiters_slot(loop->waiters, i, &info) < 0 || !info.occupied)
			continue;
		/* An ACTIVE waiter still holds a deadline on the wheel. */
		if (info.state == IOUW_WAITER_ACTIVE && info.target_tick != IOUW_NO_TICK)
			iouw_wheel_remove(loop->wheel, info.target_tick);
		req = iouw_waiters_remove(loop->waiters, info.id);
		IOUW_LOOP__EMIT(loop, IOUW_EV_ABANDON, info.id, IOUW_NO_TICK, info.in_flight, req);
		loop->stats.abandoned++;
		if (info.in_flight) {
			if (req->ops->detach)
				req->ops->detach(req);
			loop->graveyard[loop->graveyard_len++] = req;
		} else {
			req->ops->release(req);
		}
	}
	while ((req = iouw_mpsc_pop(loop->inbound)) != NULL) {
		IOUW_LOOP__EMIT(loop, IOUW_EV_ABANDON, iouw_waiter_id_new(0, 0), IOUW_NO_TICK, 0, req);
		loop->stats.abandoned++;
		req->ops->release(req);
	}
	loop->ready.len = 0;
	loop->cancels.len = 0;
	loop->busy = false;
}

/* Whether the drain's budget is spent (never without a shutdown timeout). */
static bool budget_spent(const struct iouw_loop *loop)
{
	return loop->cfg.shutdown_timeout_ns != IOUW_NO_DEADLINE && loop->budget_left == 0;
}

/* The original's drain(), step by step (loop.h, "Shutdown"): the budget is
 * checked right after the reap, before any timeout is advanced or anything
 * staged, so nothing new reaches the kernel once it is spent (a budget of 0
 * included). */
static int drain(struct iouw_loop *loop)
{
	int r;

	for (;;) {
		loop->stats.turns++;
		iouw_loop_reap(loop);
		if (iouw_loop_is_drained(loop))
			return 0;
		if (budget_spent(loop)) {
			/* Deadlines were honoured until now; what is left is
			 * abandoned. Wheel entries of abandoned waiters stay
			 * behind as stale entries. */
			abandon(loop);
			return 0;
		}
		iouw_loop_advance_timeouts(loop);
		(void)iouw_loop_fill_sq(loop);
		if (iouw_loop_is_drained(loop)) {
			/* Staging emptied the table (a local timeout): done.
			 * Still submit what was pushed, without waiting. */
			r = iouw_loop_submit_and_wait(loop, false);
			return r < 0 ? r : 0;
		}
		/* Bounded by min(budget left, next deadline); the time the
		 * wait took is charged to the budget. */
		r = iouw_loop_submit_and_wait(loop, true);
		if (r < 0)
			return r;
	}
}

int iouw_loop_run(struct iouw_loop *loop)
{
	atomic_store_explicit(&loop->owner, iouw_thread_id(), memory_order_relaxed);
	while (!iouw_loop_is_closed(loop)) {
		int r = iouw_loop_turn(loop, true);

		if (r < 0)
			return r;
	}
	return drain(loop);
}

/* The ASYNC_CANCEL for @id (an op in flight), staged into the SQ now and
 * handed to the backend. The caller checked the SQ has room. */
static void stage_cancel_now(struct iouw_loop *loop, iouw_waiter_id id, uint32_t cancel_flags)
{
	struct io_uring_sqe *sqe = iouw_loop__sqe_slot(loop);

	memset(sqe, 0, sizeof(*sqe));
	io_uring_prep_cancel64(sqe, iouw_waiter_id_user_data(id), (int)cancel_flags);
	io_uring_sqe_set_data64(sqe, iouw_waiter_id_cancel_user_data(id));
	loop->stats.cancels++;
	iouw_loop__commit_sqe(loop, IOUW_LOOP__OBSERVED(loop));
	iouw_loop__flush_sqes(loop);
}

int iouw_loop_cancel(struct iouw_loop *loop, iouw_waiter_id id, enum iouw_loop_cancel_how how,
                     uint32_t cancel_flags)
{
	enum iouw_waiter_state state;
	uint64_t tick = IOUW_NO_TICK;
	bool in_flight, took;

	if (!loop || (unsigned)how > IOUW_LOOP_CANCEL_STAGE ||
	    (cancel_flags != 0 && how != IOUW_LOOP_CANCEL_STAGE))
		return -EINVAL;
	if (how == IOUW_LOOP_CANCEL_STAGE && loop->busy)
		/* From a request's op or the observer, in the middle of a
		 * phase: the cancel's SQE would take an SQ slot the phase
		 * already counted on (an admission run measures its room
		 * once, IOUW_LOOP__ADMIT_PLAIN_RUN). */
		return -EBUSY;
	if (iouw_waiters_state(loop->waiters, id, &state, &tick) < 0 ||
	    state != IOUW_WAITER_ACTIVE)
		return 0;
	in_flight = iouw_waiters_is_in_flight(loop->waiters, id);
	if (how == IOUW_LOOP_CANCEL_STAGE && in_flight) {
		loop->sq_left = loop->ring ? io_uring_sq_space_left(loop->ring)
		                           : iouw_backend_sq_space(loop->backend);
		if (loop->sq_left == 0)
			return -EBUSY;
	}
	took = iouw_waiters_cancel(loop->waiters, id);
	IOUW_INVARIANT(took, "table refused to cancel an ACTIVE waiter");
	cancel_took(loop, id, tick, how == IOUW_LOOP_CANCEL_EXPIRE);
	if (how == IOUW_LOOP_CANCEL_STAGE && in_flight)
		stage_cancel_now(loop, id, cancel_flags);
	return 1;
}

const struct iouw_waiters *iouw_loop_table(const struct iouw_loop *loop)
{
	return loop->waiters;
}

const struct iouw_wheel *iouw_loop_timeouts(const struct iouw_loop *loop)
{
	return loop->wheel;
}

struct iouw_waiters *iouw_loop_waiters(struct iouw_loop *loop)
{
	return loop->waiters;
}

struct iouw_backend *iouw_loop_backend(struct iouw_loop *loop)
{
	return loop->backend;
}

struct iouw_wheel *iouw_loop_wheel(struct iouw_loop *loop)
{
	return loop->wheel;
}

const struct iouw_loop_config *iouw_loop_config(const struct iouw_loop *loop)
{
	return &loop->cfg;
}

size_t iouw_loop_ready(const struct iouw_loop *loop, iouw_waiter_id *ret_ids, size_t max)
{
	return idq_copy(&loop->ready, ret_ids, max);
}

size_t iouw_loop_pending_cancels(const struct iouw_loop *loop, iouw_waiter_id *ret_ids,
                                 size_t max)
{
	return idq_copy(&loop->cancels, ret_ids, max);
}

size_t iouw_loop_inbound_len(const struct iouw_loop *loop)
{
	return iouw_mpsc_len(loop->inbound);
}

int iouw_loop_wake_fd(const struct iouw_loop *loop)
{
	return loop->wake.efd;
}

void iouw_loop_stats(const struct iouw_loop *loop, struct iouw_loop_stats *ret)
{
	*ret = loop->stats;
}

void iouw_loop_set_observer(struct iouw_loop *loop, iouw_loop_observer_fn fn, void *ctx)
{
	loop->observer = fn;
	loop->observer_ctx = ctx;
}

void iouw_loop_assert_consistent(const struct iouw_loop *loop)
{
	uint32_t cap = iouw_waiters_capacity(loop->waiters);
	uint8_t *in_ready = calloc(cap ? cap : 1, 1);
	size_t with_deadline = 0;

	IOUW_INVARIANT(in_ready != NULL, "out of memory while checking the loop");
	iouw_waiters_assert_consistent(loop->waiters);
	iouw_wheel_assert_consistent(loop->wheel);
	for (size_t i = 0; i < loop->ready.len; i++) {
		iouw_waiter_id id = loop->ready.ids[(loop->ready.head + i) & (loop->ready.cap - 1)];
		enum iouw_waiter_state st;
		uint32_t index = iouw_waiter_id_index(id);

		IOUW_INVARIANT(iouw_waiters_state(loop->waiters, id, &st, NULL) == 0,
		               "ready queue holds an untracked waiter");
		IOUW_INVARIANT(!iouw_waiters_is_in_flight(loop->waiters, id),
		               "ready queue holds a waiter with an op in flight");
		IOUW_INVARIANT(!in_ready[index], "waiter queued twice in the ready queue");
		in_ready[index] = 1;
	}
	for (uint32_t i = 0; i < cap; i++) {
		struct iouw_waiter_info info;

		(void)iouw_waiters_slot(loop->waiters, i, &info);
		if (!info.occupied)
			continue;
		IOUW_INVARIANT(info.in_flight || in_ready[i],
		               "tracked waiter neither in flight nor ready");
		if (info.state == IOUW_WAITER_ACTIVE && info.target_tick != IOUW_NO_TICK)
			with_deadline++;
	}
	free(in_ready);
	IOUW_INVARIANT(iouw_wheel_active(loop->wheel) == with_deadline,
		               "wheel active deadlines disagree with the waiter table");
}
