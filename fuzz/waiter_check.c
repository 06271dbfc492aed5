/* fuzz/waiter_check.c: see waiter_check.h. */
#include "waiter_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "fatal.h"
#include "invariant.h"
#include "waiter.h"
#include "waiter_internal.h"
#include "waiter_history.h"

struct fz_log {
	uint32_t builds, cqes, finishes, releases;
	enum iouw_finish how;
	bool last_cancel_requested;
	uint64_t last_user_data;
};

struct fz_req {
	struct iouw_request base;
	uint32_t num;
	uint32_t remaining;
	bool orphaned;
};

static struct fz_log logs[IOUW_WM_MAX_REQUESTS];
static struct fz_req *live[IOUW_WM_MAX_REQUESTS];
static uint32_t nlive;
static uint64_t warnings;
static struct iouw_waiter_history history;

static const struct iouw_wh_step *cur_step;
static const struct iouw_wm_outcome *cur_expected;

__attribute__((noreturn, format(printf, 1, 2))) static void mismatch(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_waiter: oracle mismatch at step %u: ", cur_step ? cur_step->number : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_step) {
		fprintf(stderr, "fuzz_waiter: step: ");
		iouw_waiter_history_format_step(stderr, cur_step, cur_expected);
		fputc('\n', stderr);
	}
	fflush(stderr);
	abort();
}

#define EXPECT(cond, ...)                  \
	do {                               \
		if (!(cond))               \
			mismatch(__VA_ARGS__); \
	} while (0)

/* The fake request: counters only; its rule is spelled out in
 * waiter_model.h and implemented here separately. */
static void fz_build_sqe(struct iouw_request *req, struct io_uring_sqe *sqe, uint64_t user_data)
{
	struct fz_req *f = (struct fz_req *)req;

	logs[f->num].builds++;
	logs[f->num].last_user_data = user_data;
	if (f->remaining == 0)
		io_uring_prep_fsync(sqe, 0, 0);
	else
		io_uring_prep_recv(sqe, 0, NULL, f->remaining, 0);
	io_uring_sqe_set_data64(sqe, user_data);
}

static bool fz_on_cqe(struct iouw_request *req, bool cancel_requested, int32_t res)
{
	struct fz_req *f = (struct fz_req *)req;

	logs[f->num].cqes++;
	logs[f->num].last_cancel_requested = cancel_requested;
	switch (res) {
	case -EAGAIN:
	case -EINTR:
		return false;
	default:
		break;
	}
	if (res <= 0 || f->remaining == 0)
		return true;
	f->remaining = (uint32_t)res >= f->remaining ? 0 : f->remaining - (uint32_t)res;
	return f->remaining == 0;
}

static bool fz_is_orphaned(const struct iouw_request *req)
{
	return ((const struct fz_req *)req)->orphaned;
}

static void fz_end(struct fz_req *f)
{
	EXPECT(live[f->num] == f, "req%u ended twice or was never live", f->num);
	live[f->num] = NULL;
	nlive--;
	free(f);
}

static void fz_finish(struct iouw_request *req, enum iouw_finish how)
{
	struct fz_req *f = (struct fz_req *)req;

	logs[f->num].finishes++;
	logs[f->num].how = how;
	fz_end(f);
}

static void fz_release(struct iouw_request *req)
{
	struct fz_req *f = (struct fz_req *)req;

	logs[f->num].releases++;
	fz_end(f);
}

static const struct iouw_request_ops fz_ops = {
	.build_sqe = fz_build_sqe,
	.on_cqe = fz_on_cqe,
	.is_orphaned = fz_is_orphaned,
	.finish = fz_finish,
	.release = fz_release,
};

static void count_warning(void *ctx, iouw_waiter_id id, int32_t res)
{
	(void)ctx;
	(void)id;
	(void)res;
	warnings++;
}

static uint32_t req_num(struct iouw_request *req)
{
	return req ? ((struct fz_req *)req)->num : IOUW_WM_NONE;
}

/* Request @r's log agrees with the model. */
static void check_request(const struct iouw_wm *m, uint32_t r)
{
	const struct iouw_wm_request *mr = &m->req[r];
	const struct fz_log *l = &logs[r];

	EXPECT(l->builds == mr->builds, "req%u built %u SQEs, model %u", r, l->builds, mr->builds);
	EXPECT(l->cqes == mr->cqes, "req%u fed %u CQEs, model %u", r, l->cqes, mr->cqes);
	EXPECT(mr->cqes == 0 || l->last_cancel_requested == mr->last_cancel_requested,
	       "req%u last CQE fed with cancel_requested=%d, model %d", r,
	       l->last_cancel_requested, mr->last_cancel_requested);
	switch (mr->end) {
	case IOUW_WM_END_NONE:
		EXPECT(l->finishes == 0 && l->releases == 0 && live[r],
		       "req%u ended (finish %u, release %u) but the model has it alive", r,
		       l->finishes, l->releases);
		break;
	case IOUW_WM_END_RELEASED:
		EXPECT(l->finishes == 0 && l->releases == 1,
		       "req%u: finish %u, release %u, model: released once", r, l->finishes,
		       l->releases);
		break;
	default:
		EXPECT(l->finishes == 1 && l->releases == 0,
		       "req%u: finish %u, release %u, model: finished once", r, l->finishes,
		       l->releases);
		EXPECT(l->how == (mr->end == IOUW_WM_END_TIMEOUT ? IOUW_FINISH_TIMEOUT
		                                                 : IOUW_FINISH_COMPLETE),
		       "req%u finished the wrong way", r);
		break;
	}
}

/* Incremental slot checks. The per-slot queries (slot(), state(),
 * is_in_flight() of the current and the previous generation) are const
 * functions of two header fields (slots, capacity) and of that one slot's
 * representation (core/waiter_internal.h); the model's side is its one
 * slot. A slot whose representation, header fields and model slot are byte
 * for byte what they were when it last passed every per-slot check would
 * pass them again, so those checks run only when any of the bytes moved
 * (padding included, which can only cause a check that was not needed).
 * The request's counters move through callbacks, not the slot: they are
 * checked for every occupied slot at every step. */
static struct {
	bool valid[IOUW_WM_MAX_SLOTS];
	struct iouw_waiter_slot raw[IOUW_WM_MAX_SLOTS];
	struct iouw_wm_slot model[IOUW_WM_MAX_SLOTS];
	const struct iouw_waiter_slot *slots; /* the header fields they read */
	uint32_t capacity;
} seen;

/* Byte equality without libc's memcmp (libFuzzer intercepts it and records
 * every call's operands). */
static bool same_bytes(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

static bool slot_unchanged(const struct iouw_waiters *w, const struct iouw_wm *m, uint32_t i)
{
	return seen.valid[i] && seen.slots == w->slots && seen.capacity == w->capacity &&
	       i < w->capacity &&
	       same_bytes(&seen.raw[i], &w->slots[i], sizeof(seen.raw[i])) &&
	       same_bytes(&seen.model[i], &m->slot[i], sizeof(seen.model[i]));
}

static void remember_slot(const struct iouw_waiters *w, const struct iouw_wm *m, uint32_t i)
{
	if (seen.slots != w->slots || seen.capacity != w->capacity) {
		memset(seen.valid, 0, sizeof(seen.valid));
		seen.slots = w->slots;
		seen.capacity = w->capacity;
	}
	memcpy(&seen.raw[i], &w->slots[i], sizeof(seen.raw[i]));
	memcpy(&seen.model[i], &m->slot[i], sizeof(seen.model[i]));
	seen.valid[i] = true;
}

static void check_table(struct iouw_waiters *w, const struct iouw_wm *m)
{
	iouw_waiters_assert_consistent(w);
	EXPECT(iouw_waiters_len(w) == m->len, "len %zu, model %u", iouw_waiters_len(w), m->len);
	EXPECT(iouw_waiters_is_empty(w) == (m->len == 0), "is_empty disagrees (model len %u)",
	       m->len);
	EXPECT(iouw_waiters_is_full(w) == (m->nfree == 0), "is_full disagrees (model free %u)",
	       m->nfree);
	EXPECT(iouw_waiters_cancel_requested(w, NULL, 0) == iouw_wm_cancel_requested(m),
	       "cancel_requested count disagrees");
	EXPECT(iouw_waiters_unexpected_cancel_results(w) == m->unexpected_cancel_results &&
	               warnings == m->unexpected_cancel_results,
	       "unexpected cancel results %llu (warned %llu), model %llu",
	       (unsigned long long)iouw_waiters_unexpected_cancel_results(w),
	       (unsigned long long)warnings, (unsigned long long)m->unexpected_cancel_results);
	for (uint32_t i = 0; i < m->cap; i++) {
		const struct iouw_wm_slot *s = &m->slot[i];
		struct iouw_waiter_info info;

		if (slot_unchanged(w, m, i)) {
			/* Every query below is a function of bytes that equal
			 * those they were checked against: only the request's
			 * counters (fed by callbacks, not the slot) can move. */
			if (s->used)
				check_request(m, s->req);
			continue;
		}
		iouw_waiter_id id = iouw_waiter_id_new(i, s->gen);
		iouw_waiter_id prev = iouw_waiter_id_new(i, s->gen - 1);
		enum iouw_waiter_state st;
		uint64_t tick;

		EXPECT(iouw_waiters_slot(w, i, &info) == 0, "slot %u unreadable", i);
		EXPECT(iouw_waiter_id_index(info.id) == i &&
		               iouw_waiter_id_generation(info.id) == s->gen,
		       "slot %u id %u/%u, model %u/%u", i, iouw_waiter_id_index(info.id),
		       iouw_waiter_id_generation(info.id), i, s->gen);
		EXPECT(info.occupied == s->used, "slot %u occupied=%d, model %d", i, info.occupied,
		       s->used);
		EXPECT(info.in_flight == (s->used && s->in_flight), "slot %u in_flight=%d, model %d",
		       i, info.in_flight, s->used && s->in_flight);
		EXPECT(iouw_waiters_is_in_flight(w, id) == (s->used && s->in_flight),
		       "is_in_flight(%u/%u) disagrees", i, s->gen);
		EXPECT(!iouw_waiters_is_in_flight(w, prev), "is_in_flight true for stale %u/%u", i,
		       (s->gen - 1) & IOUW_WM_GEN_MASK);
		if (!s->used) {
			EXPECT(iouw_waiters_state(w, id, &st, &tick) == -ENOENT,
			       "state() of free slot %u not -ENOENT", i);
			continue;
		}
		EXPECT(iouw_waiters_state(w, id, &st, &tick) == 0, "state(%u/%u) failed", i, s->gen);
		EXPECT((int)st == (int)s->state && (int)info.state == (int)s->state,
		       "slot %u state %d, model %d", i, (int)st, (int)s->state);
		EXPECT(tick == s->tick && info.target_tick == s->tick,
		       "slot %u target tick %llu, model %llu", i, (unsigned long long)tick,
		       (unsigned long long)s->tick);
		check_request(m, s->req);
		remember_slot(w, m, i);
	}
}

/* FATAL steps (HOSTILE mode): fuzz/fatal.h arms the one invariant the
 * step must fire and unwinds here when it does; the history ends there,
 * the table only released. */
/* Feed the FATAL step's CQE: it must fire exactly s->invariant. */
static void check_fatal(struct iouw_waiters *w, const struct iouw_wh_step *s)
{
	iouw_waiter_id id = iouw_waiter_id_new(s->index, s->gen);
	uint64_t ud = s->kind == IOUW_WH_CANCEL_CQE ? iouw_waiter_id_cancel_user_data(id)
	                                            : iouw_waiter_id_user_data(id);
	struct iouw_completion_outcome co;

	if (sigsetjmp(iouw_fatal_jmp, 0) != 0)
		return; /* the armed invariant fired */
	iouw_fatal_arm(s->invariant, "fuzz_waiter");
	iouw_waiters_on_completion(w, ud, s->res, &co);
	iouw_fatal_disarm();
	mismatch("hostile CQE res %d for waiter %u/%u must fire \"%s\"; the table returned "
	         "outcome %d", (int)s->res, s->index, s->gen, s->invariant, co.kind);
}

static void check_outcome_id(iouw_waiter_id id, const struct iouw_wm_outcome *e)
{
	EXPECT(iouw_waiter_id_index(id) == e->index && iouw_waiter_id_generation(id) == e->gen,
	       "outcome names waiter %u/%u, model %u/%u", iouw_waiter_id_index(id),
	       iouw_waiter_id_generation(id), e->index, e->gen);
}

static void run_step(struct iouw_waiters *w, const struct iouw_wh_step *s,
                     const struct iouw_wm_outcome *e)
{
	iouw_waiter_id id = iouw_waiter_id_new(s->index, s->gen);
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;
	struct fz_req *f;
	bool accepted;

	switch (s->kind) {
	case IOUW_WH_INSERT:
		f = calloc(1, sizeof(*f));
		EXPECT(f != NULL, "out of memory");
		f->base.ops = &fz_ops;
		f->base.deadline_ns = IOUW_NO_DEADLINE;
		f->num = e->req;
		f->remaining = s->len;
		memset(&logs[f->num], 0, sizeof(logs[f->num]));
		live[f->num] = f;
		nlive++;
		id = iouw_waiters_insert(w, &f->base, s->tick);
		check_outcome_id(id, e);
		break;
	case IOUW_WH_CANCEL:
		accepted = iouw_waiters_cancel(w, id);
		EXPECT(accepted == e->accepted, "cancel() returned %d, model %d", accepted,
		       e->accepted);
		break;
	case IOUW_WH_STAGE:
		iouw_waiters_stage(w, id, &so);
		switch (e->kind) {
		case IOUW_WM_OUT_TIMEOUT:
			EXPECT(so.kind == IOUW_STAGE_TIMEOUT, "stage kind %d, model Timeout", so.kind);
			EXPECT(req_num(so.request) == e->req, "Timeout handed back req%u, model req%u",
			       req_num(so.request), e->req);
			so.request->ops->finish(so.request, IOUW_FINISH_TIMEOUT);
			break;
		case IOUW_WM_OUT_ORPHANED:
			EXPECT(so.kind == IOUW_STAGE_ORPHANED, "stage kind %d, model Orphaned", so.kind);
			EXPECT(so.request == NULL, "Orphaned handed back a request");
			EXPECT(so.target_tick == e->tick, "Orphaned tick %llu, model %llu",
			       (unsigned long long)so.target_tick, (unsigned long long)e->tick);
			break;
		default:
			EXPECT(so.kind == IOUW_STAGE_SUBMIT, "stage kind %d, model Submit", so.kind);
			EXPECT(so.request == NULL, "Submit handed back a request");
			EXPECT(so.sqe.user_data == iouw_waiter_id_user_data(id) &&
			               logs[e->req].last_user_data == so.sqe.user_data,
			       "SQE user_data %#llx, want %#llx",
			       (unsigned long long)so.sqe.user_data,
			       (unsigned long long)iouw_waiter_id_user_data(id));
			break;
		}
		break;
	case IOUW_WH_ORPHAN:
		EXPECT(live[s->req] != NULL, "orphaning dead req%u", s->req);
		live[s->req]->orphaned = true;
		break;
	case IOUW_WH_OP_CQE:
		iouw_waiters_on_completion(w, iouw_waiter_id_user_data(id), s->res, &co);
		check_outcome_id(co.id, e);
		if (e->kind == IOUW_WM_OUT_REQUEUE) {
			EXPECT(co.kind == IOUW_COMPLETION_REQUEUE && co.request == NULL,
			       "op CQE outcome %d, model Requeue", co.kind);
			break;
		}
		EXPECT(co.kind == IOUW_COMPLETION_COMPLETE, "op CQE outcome %d, model Complete",
		       co.kind);
		EXPECT(req_num(co.request) == e->req, "Complete handed back req%u, model req%u",
		       req_num(co.request), e->req);
		EXPECT(co.target_tick == e->tick, "Complete tick %llu, model %llu",
		       (unsigned long long)co.target_tick, (unsigned long long)e->tick);
		co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
		break;
	case IOUW_WH_CANCEL_CQE: {
		struct iouw_waiter_info before, after;

		memset(&before, 0, sizeof(before));
		memset(&after, 0, sizeof(after));
		iouw_waiters_slot(w, s->index, &before);
		iouw_waiters_on_completion(w, iouw_waiter_id_cancel_user_data(id), s->res, &co);
		iouw_waiters_slot(w, s->index, &after);
		check_outcome_id(co.id, e);
		EXPECT(co.kind == IOUW_COMPLETION_CANCEL && co.request == NULL,
		       "cancel CQE outcome %d, want Cancel", co.kind);
		EXPECT(co.stale == e->stale, "cancel CQE stale=%d, model %d", co.stale, e->stale);
		EXPECT(memcmp(&before, &after, sizeof(before)) == 0,
		       "cancel CQE changed slot %u", s->index);
		break;
	}
	}
	if (e->req != IOUW_WM_NONE)
		check_request(&history.model, e->req);
	check_table(w, &history.model);
}

int iouw_waiter_history_check(const uint8_t *data, size_t size)
{
	struct iouw_waiter_history *h = &history;
	struct iouw_waiters *w = NULL;
	struct iouw_wh_step step;
	struct iouw_wm_outcome expected;

	cur_step = NULL;
	cur_expected = NULL;
	iouw_waiter_history_init(h, data, size);
	EXPECT(iouw_waiters_new(h->capacity, &w) == 0, "iouw_waiters_new(%u) failed", h->capacity);
	iouw_waiters_set_warn(w, count_warning, NULL);
	memset(seen.valid, 0, sizeof(seen.valid));
	warnings = 0;
	nlive = 0;
	for (uint32_t i = 0; i < h->capacity; i++)
		EXPECT(iouw_waiters_set_generation(w, i, h->first_gen[i]) == 0,
		       "set_generation(%u) failed", i);
	check_table(w, &h->model);
	while (iouw_waiter_history_next(h, &step, &expected)) {
		cur_step = &step;
		cur_expected = &expected;
		if (step.invariant) {
			check_fatal(w, &step);
			break;
		}
		run_step(w, &step, &expected);
	}
	cur_step = NULL;
	if (h->fatal) {
		/* The process would be gone: release the table, which releases
		 * every request it holds; none may be freed twice (fz_end,
		 * ASan) or leak. Requests out of the table were ended already. */
		iouw_waiters_free(w);
		EXPECT(nlive == 0, "%u requests leaked after the named invariant", nlive);
		return 0;
	}
	EXPECT(iouw_waiters_is_empty(w) && h->model.len == 0, "table not empty after the drain");
	for (uint32_t r = 0; r < h->model.nreq; r++) {
		EXPECT(h->model.req[r].end != IOUW_WM_END_NONE, "model: req%u never ended", r);
		check_request(&h->model, r);
	}
	EXPECT(nlive == 0, "%u requests leaked", nlive);
	iouw_waiters_free(w);
	return 0;
}
