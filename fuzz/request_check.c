/* fuzz/request_check.c: see request_check.h. */
#define _GNU_SOURCE
#include "request_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "environment.h"
#include "fatal.h"
#include "invariant.h"
#include "request_history.h"
#include "waiter.h"

#define TARGET "fuzz_request"

struct rt_req {
	struct iouw_rs_live live;
	iouw_waiter_id id;
	struct io_uring_sqe sqe; /* the op SQE in flight */
};

static struct iouw_request_history history;
static struct rt_req rt[IOUW_RH_MAX_REQUESTS];
static const struct iouw_rh_step *cur_step;
static uint32_t stamp;
/* An environment failure met in a step (what, -errno): the input is skipped. */
static const char *env_what;
static int env_err;

__attribute__((noreturn, format(printf, 1, 2))) static void mismatch(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, TARGET ": oracle mismatch at step %u: ",
	        cur_step ? cur_step->number : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_step) {
		fprintf(stderr, TARGET ": step: ");
		iouw_request_history_format_step(stderr, &history, cur_step);
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

static void check_shape(uint32_t r)
{
	const struct iouw_rm_req *m = &history.req[r].rm;
	const struct iouw_request *req = rt[r].live.req;

	EXPECT(iouw_request_kind(req) == m->kind, "req%u kind changed", r);
	EXPECT(iouw_request_progress(req) == m->done, "req%u progress %zu, model %u", r,
	       iouw_request_progress(req), m->done);
	EXPECT(iouw_request_length(req) == m->len, "req%u length %zu, model %u", r,
	       iouw_request_length(req), m->len);
	EXPECT(iouw_request_remaining(req) == m->len - m->done, "req%u remaining %zu, model %u", r,
	       iouw_request_remaining(req), m->len - m->done);
	EXPECT(iouw_request_buffer_count(req) == m->nsegs, "req%u buffer count %u, model %u", r,
	       iouw_request_buffer_count(req), m->nsegs);
}

/* The request ended in this step: check its fd, take and check the result. */
static void ended(uint32_t r, const struct iouw_rh_step *s)
{
	struct rt_req *q = &rt[r];
	struct iouw_result got;
	const char *why;
	int rc;

	q->live.req = NULL;
	EXPECT(!iouw_rs_fd_open(q->live.fd), "req%u ended but its fd %d is still open", r,
	       q->live.fd);
	if (s->delivers) {
		EXPECT(q->live.handle != NULL, "model delivers to a dropped handle");
		rc = iouw_handle_try(q->live.handle, &got);
		EXPECT(rc == 0, "req%u ended but its handle has no result (try: %d)", r, rc);
		why = iouw_rs_check_result(&q->live, &got, &s->result);
		if (why)
			mismatch("req%u: %s", r, why);
		iouw_result_free(&got);
		rc = iouw_handle_try(q->live.handle, &got);
		EXPECT(rc == -EALREADY, "req%u: second take returned %d, not -EALREADY", r, rc);
		iouw_handle_drop(q->live.handle);
		q->live.handle = NULL;
	} else {
		EXPECT(q->live.handle == NULL, "req%u ended silently but its caller still waits", r);
	}
	iouw_rs_discard(&q->live);
}

/* FATAL steps (HOSTILE mode): fuzz/fatal.h arms the one invariant the
 * step must fire and unwinds here when it does; the history ends there,
 * the table only released. */
/* Feed the FATAL step's CQE: it must fire exactly s->invariant. */
static void check_fatal(struct iouw_waiters *w, const struct iouw_rh_step *s)
{
	const struct rt_req *q = &rt[s->req];
	uint64_t ud = s->kind == IOUW_RH_CANCEL_CQE ? iouw_waiter_id_cancel_user_data(q->id)
	                                            : iouw_waiter_id_user_data(q->id);
	struct iouw_completion_outcome co;

	if (sigsetjmp(iouw_fatal_jmp, 0) != 0)
		return; /* the armed invariant fired */
	iouw_fatal_arm(s->invariant, TARGET);
	iouw_waiters_on_completion(w, ud, s->res, &co);
	iouw_fatal_disarm();
	mismatch("req%u: hostile res %d must fire \"%s\"; the table returned outcome %d", s->req,
	         (int)s->res, s->invariant, co.kind);
}

static void run_step(struct iouw_waiters *w, const struct iouw_rh_step *s)
{
	struct rt_req *q = &rt[s->req];
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;
	const char *why;
	int rc;

	switch (s->kind) {
	case IOUW_RH_NEW:
		rc = iouw_rs_create(&history.req[s->req].spec, iouw_rs_source_fd(), IOUW_NO_DEADLINE,
		                    &q->live);
		if (iouw_fuzz_env_error(rc)) {
			env_what = "creating a request";
			env_err = rc;
			return;
		}
		EXPECT(rc == 0, "constructor refused a valid request: %d", rc);
		EXPECT(q->live.fd != iouw_rs_source_fd(), "request did not dup the fd");
		check_shape(s->req);
		q->id = iouw_waiters_insert(w, q->live.req, IOUW_NO_TICK);
		break;
	case IOUW_RH_STAGE:
		iouw_waiters_stage(w, q->id, &so);
		switch (s->out) {
		case IOUW_RH_OUT_TIMEOUT:
			EXPECT(so.kind == IOUW_STAGE_TIMEOUT, "stage kind %d, model Timeout", so.kind);
			EXPECT(so.request == q->live.req, "Timeout handed back another request");
			so.request->ops->finish(so.request, IOUW_FINISH_TIMEOUT);
			break;
		case IOUW_RH_OUT_ORPHANED:
			EXPECT(so.kind == IOUW_STAGE_ORPHANED, "stage kind %d, model Orphaned", so.kind);
			break;
		default:
			EXPECT(so.kind == IOUW_STAGE_SUBMIT, "stage kind %d, model Submit", so.kind);
			EXPECT(so.sqe.user_data == iouw_waiter_id_user_data(q->id),
			       "SQE user_data %#llx, waiter %#llx", (unsigned long long)so.sqe.user_data,
			       (unsigned long long)iouw_waiter_id_user_data(q->id));
			why = iouw_rs_check_sqe(&q->live, &s->sqe, &so.sqe);
			if (why)
				mismatch("req%u: %s", s->req, why);
			q->sqe = so.sqe;
			break;
		}
		break;
	case IOUW_RH_OP_CQE:
		if (s->out == IOUW_RH_OUT_FATAL) {
			check_fatal(w, s);
			return; /* the history ends: the table is not consistent now */
		}
		iouw_rs_kernel_apply(&q->live, &q->sqe, s->res, stamp++);
		iouw_waiters_on_completion(w, iouw_waiter_id_user_data(q->id), s->res, &co);
		if (s->out == IOUW_RH_OUT_REQUEUE) {
			EXPECT(co.kind == IOUW_COMPLETION_REQUEUE, "op CQE outcome %d, model Requeue",
			       co.kind);
			check_shape(s->req);
			break;
		}
		EXPECT(co.kind == IOUW_COMPLETION_COMPLETE, "op CQE outcome %d, model Complete",
		       co.kind);
		EXPECT(co.request == q->live.req, "Complete handed back another request");
		if (history.req[s->req].rm.recorded || !history.req[s->req].dropped)
			check_shape(s->req);
		co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
		break;
	case IOUW_RH_CANCEL: {
		bool accepted = iouw_waiters_cancel(w, q->id);

		EXPECT(accepted == (s->out == IOUW_RH_OUT_ACCEPTED), "cancel() returned %d, model %d",
		       accepted, s->out == IOUW_RH_OUT_ACCEPTED);
		break;
	}
	case IOUW_RH_CANCEL_CQE: {
		struct iouw_waiter_info before, after;
		uint32_t index = iouw_waiter_id_index(q->id);
		uint64_t warned = iouw_waiters_unexpected_cancel_results(w);
		/* Counted only for a waiter still tracked (a stale one is ignored). */
		bool counted = history.req[s->req].live &&
		               !(s->res == 0 || s->res == -EALREADY || s->res == -ENOENT);

		memset(&before, 0, sizeof(before));
		memset(&after, 0, sizeof(after));
		iouw_waiters_slot(w, index, &before);
		if (s->out == IOUW_RH_OUT_FATAL) {
			check_fatal(w, s);
			return;
		} else {
			iouw_waiters_on_completion(w, iouw_waiter_id_cancel_user_data(q->id), s->res,
			                           &co);
			EXPECT(co.kind == IOUW_COMPLETION_CANCEL && co.request == NULL,
			       "cancel CQE outcome %d, want Cancel", co.kind);
			/* docs/waiters.md §3: anything but 0, -EALREADY, -ENOENT (and -EINVAL,
			 * the FATAL case) is warned about once and ignored. */
			EXPECT(iouw_waiters_unexpected_cancel_results(w) == warned + counted,
			       "cancel CQE res %d: unexpected-result count %llu -> %llu", (int)s->res,
			       (unsigned long long)warned,
			       (unsigned long long)iouw_waiters_unexpected_cancel_results(w));
		}
		iouw_waiters_slot(w, index, &after);
		EXPECT(memcmp(&before, &after, sizeof(before)) == 0, "cancel CQE changed slot %u",
		       index);
		break;
	}
	case IOUW_RH_DROP:
		iouw_handle_drop(q->live.handle);
		q->live.handle = NULL;
		break;
	}
	if (s->ends)
		ended(s->req, s);
	iouw_waiters_assert_consistent(w);
	EXPECT(iouw_waiters_len(w) == history.nlive, "table tracks %zu, model %u",
	       iouw_waiters_len(w), history.nlive);
	/* No result before the end: every live, held handle is still empty. */
	for (uint32_t i = 0; i < history.nlive; i++) {
		uint32_t r = history.live_req[i];
		struct iouw_result got;

		if (!rt[r].live.handle)
			continue;
		rc = iouw_handle_try(rt[r].live.handle, &got);
		EXPECT(rc == -EAGAIN, "live req%u already has a result (try: %d)", r, rc);
	}
}

/* Release what a history built: the table releases every request it
 * tracks (telling held handles ABANDONED); then the handles still held are
 * dropped. */
static void release_all(struct iouw_waiters *w)
{
	iouw_waiters_free(w);
	for (uint32_t r = 0; r < history.nreq; r++) {
		if (rt[r].live.handle)
			iouw_handle_drop(rt[r].live.handle);
		iouw_rs_discard(&rt[r].live);
		memset(&rt[r], 0, sizeof(rt[r]));
	}
}

/* Skip the input for an environment failure: report it, release all. */
static int skip_input(struct iouw_waiters *w, const char *what, int err)
{
	iouw_fuzz_env_report(TARGET, what, err);
	release_all(w);
	return IOUW_FUZZ_SKIPPED;
}

int iouw_request_history_check(const uint8_t *data, size_t size)
{
	struct iouw_request_history *h = &history;
	struct iouw_waiters *w = NULL;
	struct iouw_rh_step step;
	int fds_before, fds_after, rc;

	cur_step = NULL;
	env_what = NULL;
	rc = iouw_rs_source_fd();
	if (iouw_fuzz_env_error(rc))
		return skip_input(NULL, "opening /dev/null", rc);
	EXPECT(rc >= 0, "cannot open /dev/null: %d", rc);
	fds_before = iouw_rs_count_fds();
	if (fds_before < 0)
		return skip_input(NULL, "counting open fds", fds_before);
	iouw_request_history_init(h, data, size);
	rc = iouw_waiters_new(h->capacity, &w);
	if (iouw_fuzz_env_error(rc))
		return skip_input(NULL, "creating the waiter table", rc);
	EXPECT(rc == 0, "iouw_waiters_new(%u) failed: %d", h->capacity, rc);
	iouw_waiters_set_warn(w, NULL, NULL);
	while (iouw_request_history_next(h, &step)) {
		cur_step = &step;
		run_step(w, &step);
		if (env_what)
			return skip_input(w, env_what, env_err);
	}
	cur_step = NULL;
	if (h->fatal) {
		/* Ended by its FATAL step, which fired as it had to. */
		release_all(w);
	} else {
		EXPECT(iouw_waiters_is_empty(w) && h->nlive == 0, "table not empty after the drain");
		for (uint32_t r = 0; r < h->nreq; r++)
			EXPECT(rt[r].live.req == NULL && rt[r].live.handle == NULL,
			       "req%u still alive after the drain", r);
		iouw_waiters_free(w);
	}
	fds_after = iouw_rs_count_fds();
	if (fds_after < 0)
		return skip_input(NULL, "counting open fds", fds_after);
	EXPECT(fds_after == fds_before, "fd leak: %d open fds, %d before the input", fds_after,
	       fds_before);
	return 0;
}
