/* harness/observer.c: the loop observer of a scenario run. It turns loop
 * events (every SQE included) into log lines and per-request outcome
 * queues that `expect` lines consume in order, and takes the results that
 * arrive in handles into the log.
 *
 * Invariants: the observer only records (it never runs a step, and it runs
 * on the loop's thread between the steps' calls into the loop); a request's
 * reqent is marked dead when the loop reports it ended, before its address
 * can be reused; each reaped CQE is checked against the next named one, in
 * order (r->named).
 *
 * Per-request lifecycle (harness view):
 *   CREATED -> SUBMITTED (submit) -> ADMITTED (EV_ADMIT: has a waiter id)
 *   -> DEAD (EV_DELIVER, EV_ABANDON, stage ORPHANED, EV_ADMIT_EXPIRED);
 *   CREATED and never submitted: released at the end of the run.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <stdlib.h>

#include "skernel.h"

static void outq_push(struct runner *r, struct outq *q, int v)
{
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 8;
		int *nv = realloc(q->v, nc * sizeof(*nv));

		if (!nv) {
			iouw_run_envf(r, "recording an outcome", ENOMEM);
			return;
		}
		q->v = nv;
		q->cap = nc;
	}
	q->v[q->n++] = v;
}

const char *const iouw_run_stage_names[] = { "timeout", "orphaned", "submit" };
static const char *const completion_names[] = { "cancel", "requeue", "complete" };
const char *const iouw_run_deliver_names[] = { "complete", "timeout" };

/* @q's request ended (delivered, abandoned, orphaned, expired before
 * admission): freed or parked, its address may be reused; its fd is due
 * closed (harness/expect.h; @detached: parked until iouw_loop_free). */
static void req_ended(struct runner *r, struct reqent *q, bool detached)
{
	q->dead = true;
	q->req = NULL;
	iouw_fdl_ended(&r->fdl, (size_t)(q - r->reqs), r->cur_line, detached);
}

static void observe_cqe(struct runner *r, const struct iouw_loop_event *ev)
{
	bool is_cancel;
	iouw_waiter_id id = iouw_waiter_id_from_user_data(ev->cqe.user_data, &is_cancel);
	enum iouw_waiter_state st;
	char ubuf[64], rbuf[32];

	iouw_run_logf(r, "cqe %s res=%s", iouw_run_ud_str(r, ev->cqe.user_data, ubuf, sizeof(ubuf)),
	              iouw_run_res_str(ev->cqe.res, rbuf, sizeof(rbuf)));
	r->pending_stale = iouw_waiters_state(iouw_loop_table(r->loop), id, &st, NULL) < 0;
	if (r->named_head < r->nnamed) {
		struct named_cqe *n = &r->named[r->named_head++];

		if (n->ud != ev->cqe.user_data || n->res != ev->cqe.res) {
			char nb[64], nr[32];

			iouw_run_failf(r, "the ring to echo the named CQE", "reaped %s res=%s, named %s res=%s", ubuf,
			               rbuf, iouw_run_ud_str(r, n->ud, nb, sizeof(nb)),
			               iouw_run_res_str(n->res, nr, sizeof(nr)));
		}
	}
}

/* EV_ADMIT and EV_ADMIT_EXPIRED. */
static void observe_admit(struct runner *r, const struct iouw_loop_event *ev)
{
	struct reqent *q = iouw_run_req_by_ptr(r, ev->request);

	if (ev->kind == IOUW_EV_ADMIT_EXPIRED) {
		if (q) {
			q->admit_expired = 1;
			req_ended(r, q, false); /* finished (timed out) and freed */
		}
		iouw_run_logf(r, "admit %s expired", q ? q->name->name : "?");
		return;
	}
	if (q) {
		q->has_id = true;
		q->id = ev->id;
		q->admit_expired = 0;
		q->admit_tick = ev->tick;
		iouw_run_bind_request(r, q);
	}
	iouw_run_logf(r, "admit %s slot=%u gen=%u tick=%lld", q ? q->name->name : "?",
	              iouw_waiter_id_index(ev->id), iouw_waiter_id_generation(ev->id),
	              ev->tick == IOUW_NO_TICK ? -1LL : (long long)ev->tick);
}

static void observe_wait(struct runner *r, const struct iouw_loop_event *ev)
{
	char rbuf[32];

	if (iouw_skernel_faults_left(r->k) < r->fail_left) {
		/* Scripted (wait_fail): what was pushed went out, the wait
		 * itself reports the error. */
		r->fail_left = iouw_skernel_faults_left(r->k);
		iouw_run_logf(r, "wait fails res=%s (scripted)", iouw_run_res_str(ev->res, rbuf, sizeof(rbuf)));
	}
	iouw_run_take_answers(r);
	iouw_run_record_wait(r);
	/* SQEs are recorded as the loop stages them (IOUW_EV_SQE). */
	iouw_skernel_clear_submitted(r->k);
	iouw_run_logf(r, "wait %s", iouw_run_res_str(ev->res, rbuf, sizeof(rbuf)));
}

void iouw_run_observe(void *ctx, const struct iouw_loop_event *ev)
{
	struct runner *r = ctx;
	struct reqent *q;
	char ubuf[64];

	/* The kernel model learns each staged SQE and each reaped CQE. */
	if (ev->kind == IOUW_EV_SQE)
		iouw_kmj_sqe(r->kmj, ev->sqe);
	else if (ev->kind == IOUW_EV_CQE)
		iouw_kmj_reaped(r->kmj, ev->cqe.user_data);
	switch (ev->kind) {
	case IOUW_EV_SQE:
		iouw_run_log_sqe(r, ev->sqe);
		break;
	case IOUW_EV_CQE:
		observe_cqe(r, ev);
		break;
	case IOUW_EV_ADMIT:
	case IOUW_EV_ADMIT_EXPIRED:
		observe_admit(r, ev);
		break;
	case IOUW_EV_STAGE:
		q = iouw_run_req_by_id(r, ev->id);
		iouw_run_logf(r, "stage %s %s",
		              q ? q->name->name : iouw_run_ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		              iouw_run_stage_names[ev->outcome]);
		if (q) {
			outq_push(r, &q->stage, ev->outcome);
			if (ev->outcome == IOUW_STAGE_ORPHANED)
				req_ended(r, q, false);
		}
		break;
	case IOUW_EV_COMPLETION:
		q = iouw_run_req_by_id(r, ev->id);
		iouw_run_logf(r, "completion %s %s%s",
		              q ? q->name->name : iouw_run_ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		              completion_names[ev->outcome],
		              ev->outcome == IOUW_COMPLETION_CANCEL && r->pending_stale ? " stale" : "");
		if (q)
			outq_push(r, &q->completion,
			          ev->outcome * 2 + (ev->outcome == IOUW_COMPLETION_CANCEL && r->pending_stale));
		break;
	case IOUW_EV_EXPIRED:
		q = iouw_run_req_by_id(r, ev->id);
		iouw_run_logf(r, "expired %s tick=%llu took=%d",
		              q ? q->name->name : iouw_run_ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		              (unsigned long long)ev->tick, ev->outcome);
		break;
	case IOUW_EV_CANCEL_QUEUED:
	case IOUW_EV_CANCEL_SKIPPED:
		q = iouw_run_req_by_id(r, ev->id);
		iouw_run_logf(r, "cancel %s %s",
		              q ? q->name->name : iouw_run_ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		              ev->kind == IOUW_EV_CANCEL_QUEUED ? "queued" : "skipped");
		break;
	case IOUW_EV_DELIVER:
		q = iouw_run_req_by_ptr(r, ev->request);
		iouw_run_logf(r, "deliver %s %s", q ? q->name->name : "?", iouw_run_deliver_names[ev->outcome]);
		if (q) {
			outq_push(r, &q->deliver, ev->outcome);
			req_ended(r, q, false);
		}
		break;
	case IOUW_EV_ABANDON:
		q = iouw_run_req_by_ptr(r, ev->request);
		iouw_run_logf(r, "abandon %s", q ? q->name->name : "?");
		if (q)
			req_ended(r, q, ev->outcome == 1);
		break;
	case IOUW_EV_WAIT:
		observe_wait(r, ev);
		break;
	}
}

void iouw_run_on_warn(void *ctx, iouw_waiter_id id, int32_t res)
{
	struct runner *r = ctx;
	char ubuf[64], rbuf[32];

	iouw_run_logf(r, "warn unexpected cancel result %s res=%s",
	              iouw_run_ud_str(r, iouw_waiter_id_cancel_user_data(id), ubuf, sizeof(ubuf)),
	              iouw_run_res_str(res, rbuf, sizeof(rbuf)));
}

const char *const iouw_run_status_names[] = { "ok", "timeout", "send_failed", "recv_failed",
	                                    "read_failed", "write_failed",
	                                    "insufficient_length", "sync_error", "abandoned" };

/* Take results that arrived in handles (in request order) into the log. */
void iouw_run_poll_results(struct runner *r)
{
	for (size_t i = 0; i < r->nreqs; i++) {
		struct reqent *q = &r->reqs[i];

		if (!q->handle || q->dropped || q->have_result)
			continue;
		if (iouw_handle_try(q->handle, &q->result) == 0) {
			q->have_result = true;
			iouw_run_logf(r, "result %s %s err=%d value=%zu buf_len=%zu data_hash=%016llx",
			              q->name->name, iouw_run_status_names[q->result.status], q->result.err,
			              q->result.value, q->result.buf_len,
			              (unsigned long long)iouw_fnv1a(IOUW_FNV_OFFSET, q->result.buf,
			                                             q->result.buf ? q->result.buf_len : 0));
		}
	}
}
