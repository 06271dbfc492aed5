/* harness/runner.c: the scenario runner (contract in runner.h; the shared
 * internals and the map of the runner's files in runner_int.h).
 *
 * Owns iouw_scenario_run (config, the scripted kernel and the loop set up,
 * the body run, the end-of-run checks, the verdict and report, teardown),
 * the lookups of requests, fds and user_data, and the observer: it turns
 * loop events (every SQE included) into log lines and per-request outcome
 * queues that `expect` lines consume in order.
 *
 * Invariants: the observer only records (it never runs a step); a request's
 * reqent is marked dead when the loop reports it ended, before its address
 * can be reused (req_by_ptr skips dead ones).
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
#include <string.h>
#include <unistd.h>

#include "outfile.h"
#include "backend.h"
#include "invariant.h"
#include "skernel.h"
#include "wheel.h"

static struct reqent *req_by_name(struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (!strcmp(r->reqs[i].name->name, name))
			return &r->reqs[i];
	return NULL;
}

struct fdent *iouw_run_fd_by_name(struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nfds; i++)
		if (!strcmp(r->fds[i].name->name, name))
			return &r->fds[i];
	return NULL;
}

/* The request that was (most recently) admitted with @id. */
struct reqent *iouw_run_req_by_id(struct runner *r, iouw_waiter_id id)
{
	for (size_t i = r->nreqs; i-- > 0;)
		if (r->reqs[i].has_id && iouw_waiter_id_eq(r->reqs[i].id, id))
			return &r->reqs[i];
	return NULL;
}

static struct reqent *req_by_ptr(struct runner *r, const struct iouw_request *p)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (!r->reqs[i].dead && r->reqs[i].req == p)
			return &r->reqs[i];
	return NULL;
}

/* "r1 op" / "r1 cancel" / "slot 0 gen 3 op" for @ud. */
const char *iouw_run_ud_str(struct runner *r, uint64_t ud, char *buf, size_t len)
{
	bool is_cancel;
	iouw_waiter_id id;
	struct reqent *q;

	if (ud == IOUW_WAKE_USER_DATA) {
		snprintf(buf, len, "wake");
		return buf;
	}
	id = iouw_waiter_id_from_user_data(ud, &is_cancel);
	q = iouw_run_req_by_id(r, id);
	if (q)
		snprintf(buf, len, "%s %s", q->name->name, is_cancel ? "cancel" : "op");
	else
		snprintf(buf, len, "slot=%u gen=%u %s", iouw_waiter_id_index(id),
		         iouw_waiter_id_generation(id), is_cancel ? "cancel" : "op");
	return buf;
}

const char *iouw_run_opcode_name(unsigned op)
{
	switch (op) {
	case IORING_OP_SEND: return "SEND";
	case IORING_OP_RECV: return "RECV";
	case IORING_OP_READ: return "READ";
	case IORING_OP_WRITE: return "WRITE";
	case IORING_OP_WRITEV: return "WRITEV";
	case IORING_OP_FSYNC: return "FSYNC";
	case IORING_OP_ASYNC_CANCEL: return "ASYNC_CANCEL";
	case IORING_OP_NOP: return "NOP";
	case IORING_OP_POLL_ADD: return "POLL_ADD";
	default: return "?";
	}
}

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
	struct reqent *q = req_by_ptr(r, ev->request);

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

static void observe(void *ctx, const struct iouw_loop_event *ev)
{
	struct runner *r = ctx;
	struct reqent *q;
	char ubuf[64];

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
		q = req_by_ptr(r, ev->request);
		iouw_run_logf(r, "deliver %s %s", q ? q->name->name : "?", iouw_run_deliver_names[ev->outcome]);
		if (q) {
			outq_push(r, &q->deliver, ev->outcome);
			req_ended(r, q, false);
		}
		break;
	case IOUW_EV_ABANDON:
		q = req_by_ptr(r, ev->request);
		iouw_run_logf(r, "abandon %s", q ? q->name->name : "?");
		if (q)
			req_ended(r, q, ev->outcome == 1);
		break;
	case IOUW_EV_WAIT:
		observe_wait(r, ev);
		break;
	}
}

static void on_warn(void *ctx, iouw_waiter_id id, int32_t res)
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

/* The request an argument names (the parser resolved it). */
struct reqent *iouw_run_req_of(struct runner *r, const struct iouw_scn_arg *a)
{
	return req_by_name(r, a->name->name);
}

static const struct iouw_scn_step *find_config(const struct iouw_scenario *s)
{
	for (size_t i = 0; i < s->body.n; i++)
		if (s->body.steps[i].op == IOUW_SCN_CONFIG)
			return &s->body.steps[i];
	return NULL;
}

static void teardown(struct runner *r)
{
	/* Peers first: pending reads and sends see EOF/EPIPE and finish. */
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].peer >= 0) {
			close(r->fds[i].peer);
			r->fds[i].peer = -1;
		}
	/* The ring next, so the kernel lets go of buffers before they are freed. */
	iouw_backend_free(r->k);
	r->k = NULL;
	iouw_loop_free(r->loop);
	r->loop = NULL;
	for (size_t i = 0; i < r->nreqs; i++) {
		struct reqent *q = &r->reqs[i];

		if (!q->submitted && q->req)
			q->req->ops->release(q->req);
		if (q->have_result)
			iouw_result_free(&q->result);
		if (!q->dropped && q->handle)
			iouw_handle_drop(q->handle);
		free(q->stage.v);
		free(q->completion.v);
		free(q->deliver.v);
	}
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].fd >= 0)
			close(r->fds[i].fd);
	for (size_t i = 0; i < r->nlog; i++)
		free(r->log[i].text);
	free(r->log);
	for (size_t i = 0; i < r->nsqes; i++)
		free(r->sqes[i].data);
	free(r->sqes);
	iouw_fdl_free(&r->fdl);
	free(r->named);
}

/* The loop config and the ring's sizes from the script's config line @cs
 * (NULL: defaults). false with the verdict in @ret for a bad config. */
static bool setup_config(struct runner *r, const struct iouw_scn_step *cs,
                         struct iouw_uring_config *ucfg, struct iouw_run_result *ret)
{
	const struct iouw_scn_arg *a;

	iouw_loop_config_init(&r->cfg);
	r->cfg.ring_size = 8;
	r->cfg.tick_ns = UINT64_C(1000000);
	r->cfg.max_request_timeout_ns = UINT64_C(10000000000);
	if (cs) {
		r->cfg.ring_size = (uint32_t)iouw_scn_int(cs, "ring");
		r->cfg.tick_ns = (uint64_t)iouw_scn_int(cs, "tick");
		r->cfg.max_request_timeout_ns = (uint64_t)iouw_scn_int(cs, "max_timeout");
		if ((a = iouw_scn_key(cs, "shutdown")) && !a->none)
			r->cfg.shutdown_timeout_ns = a->u;
		r->cfg.single_issuer = iouw_scn_flag(cs, "single_issuer");
	}
	if (iouw_loop_config_normalize(&r->cfg, &r->cfg) < 0) {
		ret->verdict = IOUW_VERDICT_FAIL;
		snprintf(ret->reason, sizeof(ret->reason), "bad config (tick and max_timeout must be "
		                                           "non-zero)");
		return false;
	}
	r->sq_cap = cs && iouw_scn_key(cs, "sq") ? (unsigned)iouw_scn_key(cs, "sq")->i
	                                         : r->cfg.ring_size;
	/* At most the real SQ (at least 8 entries, see below). */
	if (r->sq_cap > (r->cfg.ring_size < 8 ? 8 : r->cfg.ring_size))
		r->sq_cap = r->cfg.ring_size < 8 ? 8 : r->cfg.ring_size;
	memset(ucfg, 0, sizeof(*ucfg));
	ucfg->entries = r->cfg.ring_size < 8 ? 8 : r->cfg.ring_size;
	ucfg->single_issuer = r->cfg.single_issuer;
	ucfg->cq_entries = 4 * ucfg->entries < 64 ? 64 : 4 * ucfg->entries;
	if (cs && iouw_scn_key(cs, "cq")) {
		/* A small CQ, to overflow on purpose (inject mode). The kernel
		 * wants at least as many CQ as SQ entries. */
		ucfg->cq_entries = (unsigned)iouw_scn_key(cs, "cq")->i;
		if (ucfg->cq_entries < ucfg->entries) {
			ret->verdict = IOUW_VERDICT_FAIL;
			snprintf(ret->reason, sizeof(ret->reason),
			         "bad config: cq=%u is smaller than the SQ (%u entries; ring=%u, at least 8)",
			         ucfg->cq_entries, ucfg->entries, r->cfg.ring_size);
			return false;
		}
	}
	return true;
}

/* The loop on the scripted kernel, observed. false with the verdict in
 * @ret (the kernel freed). */
static bool setup_loop(struct runner *r, struct iouw_run_result *ret)
{
	int e = iouw_loop_new(&r->cfg, r->k, iouw_virtual_clock_as_clock(&r->vc), &r->loop);

	if (e < 0) {
		bool env = e == -ENOMEM || e == -EMFILE || e == -ENFILE;

		ret->verdict = env ? IOUW_VERDICT_ERROR : IOUW_VERDICT_FAIL;
		snprintf(ret->reason, sizeof(ret->reason), "%sloop setup failed: %s",
		         env ? "environment: " : "", strerror(-e));
		iouw_backend_free(r->k);
		return false;
	}
	iouw_loop_set_observer(r->loop, observe, r);
	iouw_waiters_set_warn(iouw_loop_waiters(r->loop), on_warn, r);
	r->rec = r->o->mode == IOUW_RUN_KERNEL ? r->o->record : NULL;
	if (r->rec)
		fprintf(r->rec, "# Recorded by `iouwait record` from %s: what the kernel did,\n"
		                "# replayed with injected CQEs.\n", r->s->name);
	return true;
}

/* Run the script's body, then the end-of-run checks: every deferred CQE
 * released, the fd audit, every kernel CQE named. */
static void run_body(struct runner *r, const struct iouw_scn_step *cs)
{
	/* Arm the wake poll before line 1 (it takes an SQ slot of its own), so
	 * a script's first turn starts from an idle, armed loop. */
	int e = cs && !iouw_scn_flag(cs, "prearm") ? 0 : iouw_loop_turn(r->loop, false);

	r->start_ns = r->vc.now_ns;
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		iouw_run_envf(r, "the first turn", -e);
	else if (e < 0)
		iouw_run_failf(r, "the first turn to arm the wake poll", "turn returned %d", e);
	else if ((e = iouw_fdl_init(&r->fdl)) < 0)
		iouw_run_envf(r, "the fd ledger (/proc/self/fd)", -e);
	else
		iouw_run_exec_block(r, &r->s->body);
	if (!r->failed && !r->ended && r->deferred_head < r->ndeferred) {
		r->cur_line = r->deferred[r->deferred_head]->line;
		iouw_run_failf(r, "the loop to wait for this deferred CQE", "no blocking wait released it");
	}
	if (!r->failed && !r->ended)
		iouw_run_audit_fds(r);
	if (!r->failed && !r->ended && r->mode == IOUW_RUN_KERNEL) {
		/* Every CQE the kernel posted must be named by the script. */
		unsigned named = (unsigned)iouw_skernel_cq_ready(r->k);

		if (io_uring_cq_ready(iouw_skernel_ring(r->k)) > named) {
			const struct io_uring_cqe *c = iouw_run_peek_cq(r, named);
			char b1[64], b2[32];

			r->cur_line = 0;
			iouw_run_failf(r, "every CQE named by the script",
			               "unnamed CQE at the end: %s res=%s",
			               iouw_run_ud_str(r, c->user_data, b1, sizeof(b1)),
			               iouw_run_res_str(c->res, b2, sizeof(b2)));
		}
	}
}

/* The verdict into @ret, and the report (timeline, departure). */
static void report_run(struct runner *r, struct iouw_run_result *ret)
{
	const struct iouw_scenario *s = r->s;
	const struct iouw_run_options *o = r->o;

	ret->hash = iouw_run_log_hash(r);
	memcpy(ret->branches, r->branches, sizeof(ret->branches));
	if (r->env_failed) {
		/* Not a departure: the hash and the timeline are incomplete. */
		ret->verdict = IOUW_VERDICT_ERROR;
		ret->fail_line = r->fail_line;
		snprintf(ret->reason, sizeof(ret->reason), "environment: %.300s (at %.150s:%d)", r->actual,
		         s->name, r->fail_line);
	} else if (r->failed) {
		const char *t = iouw_run_step_text(&s->body, r->fail_line);

		ret->verdict = IOUW_VERDICT_FAIL;
		ret->fail_line = r->fail_line;
		snprintf(ret->reason, sizeof(ret->reason), "%s:%d: departed from the script",
		         s->name, r->fail_line);
		if (o->report) {
			iouw_run_print_timeline(r, o->report);
			fprintf(o->report, "  departed at %s:%d: %s\n", s->name, r->fail_line,
			        t ? t : "(end of script)");
			if (r->fail_step && r->fail_step->repeat_iter)
				fprintf(o->report, "    in iteration %u of %u of the repeat at line %d\n",
				        r->fail_step->repeat_iter, r->fail_step->repeat_count,
				        r->fail_step->repeat_line);
			fprintf(o->report, "    expected: %s\n", r->expected);
			fprintf(o->report, "    actual:   %s\n", r->actual);
		}
	} else {
		ret->verdict = IOUW_VERDICT_PASS;
		if (o->report && o->verbose)
			iouw_run_print_timeline(r, o->report);
	}
}

int iouw_scenario_run(const struct iouw_scenario *s, const struct iouw_run_options *o,
                      struct iouw_run_result *ret)
{
	struct runner *r;
	const struct iouw_scn_step *cs;
	struct iouw_uring_config ucfg;

	if (!s || !o || !ret || (o->mode != IOUW_RUN_KERNEL && o->mode != IOUW_RUN_INJECT))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (!(s->modes & (o->mode == IOUW_RUN_KERNEL ? IOUW_SCN_MODE_KERNEL : IOUW_SCN_MODE_INJECT))) {
		ret->verdict = IOUW_VERDICT_SKIP;
		snprintf(ret->reason, sizeof(ret->reason), "scenario does not apply to %s mode",
		         o->mode == IOUW_RUN_KERNEL ? "kernel" : "inject");
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fdl.holder = -1; /* nothing of the ledger's is open yet */
	r->s = s;
	r->o = o;
	r->mode = o->mode;
	r->vc.now_ns = UINT64_C(1000000000);
	cs = find_config(s);
	if (!setup_config(r, cs, &ucfg, ret) || !iouw_run_setup_kernel(r, &ucfg, ret) ||
	    !setup_loop(r, ret)) {
		free(r);
		return 0;
	}
	run_body(r, cs);
	report_run(r, ret);
	teardown(r);
	free(r);
	return 0;
}

static unsigned block_branch_variants(const struct iouw_scn_block *b)
{
	unsigned n = 1;

	for (size_t i = 0; i < b->n; i++) {
		const struct iouw_scn_step *st = &b->steps[i];

		if (st->op != IOUW_SCN_EITHER)
			continue;
		if (st->nbranches > n)
			n = (unsigned)st->nbranches;
		for (size_t j = 0; j < st->nbranches; j++) {
			unsigned m = block_branch_variants(&st->branches[j]);

			if (m > n)
				n = m;
		}
	}
	return n;
}

unsigned iouw_scenario_branch_variants(const struct iouw_scenario *s)
{
	return s ? block_branch_variants(&s->body) : 1;
}
