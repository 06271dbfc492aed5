/* harness/expectations.c: the `expect` steps of the scenario language.
 *
 * Owns the checks against what the observer recorded (SQEs, per-request
 * outcome queues, admission, results), against the loop's views (table,
 * slots, id lists, consistency) and against the fds (peer and file bytes),
 * and the checks of harness/expect.h that need the run: the fd ledger (each
 * request's dup is tracked at creation, marked ended by the observer, given
 * its placeholder at the start of the next step, audited at the end of the
 * run: iouw_run_audit_fds), what is outstanding, the last wait, the clock.
 * harness/expect.c keeps the pure checks and formatting.
 *
 * Invariants: an expectation only reads the run (it consumes, in order, the
 * outcome and SQE records it checks) and never drives the loop; a mismatch
 * fails the run with the step's text as the expected value.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "skernel.h"
#include "wheel.h"

static bool expect_sqe_none(struct runner *r)
{
	struct sqe_rec *rec;
	char ub[64];

	if (r->sqe_cursor < r->nsqes) {
		rec = &r->sqes[r->sqe_cursor];
		return iouw_run_failf(r, "no further SQE", "%s %s was staged",
		                      iouw_run_ud_str(r, rec->sqe.user_data, ub, sizeof(ub)),
		                      iouw_run_opcode_name(rec->sqe.opcode));
	}
	return true;
}

/* The op SQE's fields against the keys of `expect sqe`. */
static bool expect_sqe_fields(struct runner *r, const struct iouw_scn_step *st,
                              const struct sqe_rec *rec)
{
	const char *exp = st->text;
	const struct iouw_scn_arg *a;

	if ((a = iouw_scn_key(st, "op")) && strcmp(a->val, iouw_run_opcode_name(rec->sqe.opcode)))
		return iouw_run_failf(r, exp, "opcode %s", iouw_run_opcode_name(rec->sqe.opcode));
	if ((a = iouw_scn_key(st, "len")) && (uint64_t)a->i != rec->sqe.len)
		return iouw_run_failf(r, exp, "len=%u", rec->sqe.len);
	if ((a = iouw_scn_key(st, "off")) && a->i != (int64_t)rec->sqe.off)
		return iouw_run_failf(r, exp, "off=%lld", (long long)(int64_t)rec->sqe.off);
	if ((a = iouw_scn_key(st, "iovs")) && (uint64_t)a->i != rec->iovs)
		return iouw_run_failf(r, exp, "iovs=%u", rec->iovs);
	if ((a = iouw_scn_key(st, "fd")) && (!rec->req || rec->req->fd->name != a->name))
		return iouw_run_failf(r, exp, "fd=%s", rec->req ? rec->req->fd->name->name : "?");
	if ((a = iouw_scn_key(st, "data"))) {
		char diff[512];

		if (!iouw_expect_bytes(a->val, a->val_len, rec->data, rec->data_len, diff,
		                       sizeof(diff)))
			return iouw_run_failf(r, exp, "data: %s", diff);
	}
	return true;
}

bool iouw_run_ex_expect_sqe(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *a0 = iouw_scn_at(st, 0), *which = iouw_scn_at(st, 1);
	bool want_cancel = which && which->u == 1;
	struct sqe_rec *rec;
	struct reqent *q;
	char ub[64];

	if (a0->none)
		return expect_sqe_none(r);
	q = iouw_run_req_of(r, a0);
	if (r->sqe_cursor >= r->nsqes)
		return iouw_run_failf(r, st->text, "no SQE staged (all %zu SQEs already matched)", r->nsqes);
	rec = &r->sqes[r->sqe_cursor++];
	if (rec->req != q || rec->cancel != want_cancel)
		return iouw_run_failf(r, st->text, "next SQE is %s %s",
		                      iouw_run_ud_str(r, rec->sqe.user_data, ub, sizeof(ub)),
		                      iouw_run_opcode_name(rec->sqe.opcode));
	if (want_cancel) {
		if (rec->sqe.opcode != IORING_OP_ASYNC_CANCEL ||
		    rec->sqe.addr != iouw_waiter_id_user_data(q->id))
			return iouw_run_failf(r, st->text, "cancel SQE opcode %s target 0x%llx",
			                      iouw_run_opcode_name(rec->sqe.opcode), (unsigned long long)rec->sqe.addr);
		return true;
	}
	return expect_sqe_fields(r, st, rec);
}

static bool expect_outq(struct runner *r, const struct iouw_scn_step *st, struct outq *q,
                        const char *const *names, size_t nnames, int want, const char *what)
{
	int got;

	if (q->head >= q->n)
		return iouw_run_failf(r, st->text, "no further %s outcome recorded", what);
	got = q->v[q->head++];
	if (got != want) {
		if (got >= 0 && (size_t)got < nnames)
			return iouw_run_failf(r, st->text, "%s %s", what, names[got]);
		return iouw_run_failf(r, st->text, "%s %d", what, got);
	}
	return true;
}

/* The outcome word of `expect stage|completion|deliver` (its choice index
 * is the runner's outcome code: harness/commands.c orders them so). */
static int outcome_of(const struct iouw_scn_step *st)
{
	return (int)iouw_scn_at(st, 1)->u;
}

bool iouw_run_ex_expect_stage(struct runner *r, const struct iouw_scn_step *st)
{
	return expect_outq(r, st, &iouw_run_req_of(r, iouw_scn_at(st, 0))->stage, iouw_run_stage_names, 3,
	                   outcome_of(st), "stage");
}

bool iouw_run_ex_expect_completion(struct runner *r, const struct iouw_scn_step *st)
{
	static const char *const cn[] = { "cancel", "cancel stale", "requeue", "?", "complete", "?" };
	struct reqent *q = iouw_run_req_of(r, iouw_scn_at(st, 0));
	int want = outcome_of(st) * 2;

	if (want == 0 && iouw_scn_flag(st, "stale"))
		want = 1;
	if (want == 0 && !iouw_scn_key(st, "stale") && q->completion.head < q->completion.n &&
	    q->completion.v[q->completion.head] == 1)
		want = 1; /* stale= not given: either is fine */
	return expect_outq(r, st, &q->completion, cn, 6, want, "completion");
}

bool iouw_run_ex_expect_deliver(struct runner *r, const struct iouw_scn_step *st)
{
	return expect_outq(r, st, &iouw_run_req_of(r, iouw_scn_at(st, 0))->deliver,
	                   iouw_run_deliver_names, 2,
	                   outcome_of(st), "deliver");
}

static bool check_admit_tick(struct runner *r, const struct iouw_scn_step *st,
                             const struct reqent *q);

bool iouw_run_ex_expect_admit(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = iouw_run_req_of(r, iouw_scn_at(st, 0));
	const struct iouw_scn_arg *a;

	if (iouw_scn_at(st, 1)) { /* expired */
		if (q->admit_expired != 1)
			return iouw_run_failf(r, st->text, "%s", q->admit_expired ? "not admitted" : "admitted");
		return true;
	}
	if (!q->has_id)
		return iouw_run_failf(r, st->text, "%s", q->admit_expired == 1 ? "expired" : "not admitted");
	if ((a = iouw_scn_key(st, "slot")) && (uint64_t)a->i != iouw_waiter_id_index(q->id))
		return iouw_run_failf(r, st->text, "slot=%u", iouw_waiter_id_index(q->id));
	if ((a = iouw_scn_key(st, "gen")) && (uint64_t)a->i != iouw_waiter_id_generation(q->id))
		return iouw_run_failf(r, st->text, "gen=%u", iouw_waiter_id_generation(q->id));
	return check_admit_tick(r, st, q);
}

/* The result's fields against value, err=, len= and data=. */
static bool expect_result_fields(struct runner *r, const struct iouw_scn_step *st,
                                 const struct iouw_result *res)
{
	const struct iouw_scn_arg *v = iouw_scn_at(st, 2), *a;
	char b[32];

	if (v && (size_t)v->i != res->value)
		return iouw_run_failf(r, st->text, "value %zu", res->value);
	if ((a = iouw_scn_key(st, "err")) && a->i != res->err)
		return iouw_run_failf(r, st->text, "err=%s", iouw_run_res_str(-res->err, b, sizeof(b)) + 1);
	if ((a = iouw_scn_key(st, "len")) && (size_t)a->i != res->buf_len)
		return iouw_run_failf(r, st->text, "buffer length %zu", res->buf_len);
	if ((a = iouw_scn_key(st, "data")) &&
	    (!res->buf || a->val_len != res->buf_len || memcmp(a->val, res->buf, a->val_len)))
		return iouw_run_failf(r, st->text, "buffer of %zu bytes \"%.*s\"", res->buf_len,
		                      res->buf ? (int)(res->buf_len > 200 ? 200 : res->buf_len) : 0,
		                      res->buf ? (const char *)res->buf : "");
	return true;
}

bool iouw_run_ex_expect_result(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = iouw_run_req_of(r, iouw_scn_at(st, 0));
	/* The status's choice index: core/request.h's order, then pending. */
	uint64_t want = iouw_scn_at(st, 1)->u;
	const struct iouw_result *res = &q->result;

	if (q->dropped)
		return iouw_run_failf(r, st->text, "%s's handle was dropped", q->name->name);
	iouw_run_poll_results(r);
	if (want == 9) { /* pending */
		if (q->have_result)
			return iouw_run_failf(r, st->text, "result %s", iouw_run_status_names[res->status]);
		return true;
	}
	if (!q->have_result)
		return iouw_run_failf(r, st->text, "no result yet");
	if (want != (uint64_t)res->status)
		return iouw_run_failf(r, st->text, "%s err=%d value=%zu", iouw_run_status_names[res->status],
		                      res->err, res->value);
	return expect_result_fields(r, st, res);
}

static size_t count_inflight(struct runner *r)
{
	const struct iouw_waiters *w = iouw_loop_table(r->loop);
	size_t n = 0;

	for (uint32_t i = 0; i < iouw_waiters_capacity(w); i++) {
		struct iouw_waiter_info info;

		if (iouw_waiters_slot(w, i, &info) == 0 && info.occupied && info.in_flight)
			n++;
	}
	return n;
}

/* The current value of `expect table` fact @key. */
static uint64_t table_fact(struct runner *r, const char *key, const struct iouw_loop_stats *stats)
{
	const struct iouw_waiters *w = iouw_loop_table(r->loop);
	static const char *const keys[] = { "drained", "cq_overflow", "cq_ready", "len", "inflight",
		                            "ready", "cancels", "stuck", "inbound", "warnings",
		                            "deadlines", "delivered", "timeouts", "capacity",
		                            "abandoned" };
	size_t k = 0;

	while (k < sizeof(keys) / sizeof(keys[0]) - 1 && strcmp(key, keys[k]))
		k++;
	switch (k) {
	case 0: return iouw_loop_is_drained(r->loop);
	/* The kernel's flag: CQEs parked in its overflow list. */
	case 1: return io_uring_cq_has_overflow(iouw_skernel_ring(r->k));
	/* CQEs sitting in the CQ ring (not those overflowed). */
	case 2: return io_uring_cq_ready(iouw_skernel_ring(r->k));
	case 3: return iouw_waiters_len(w);
	case 4: return count_inflight(r);
	case 5: return iouw_loop_ready(r->loop, NULL, 0);
	case 6: return iouw_loop_pending_cancels(r->loop, NULL, 0);
	case 7: return iouw_waiters_cancel_requested(w, NULL, 0);
	case 8: return iouw_loop_inbound_len(r->loop);
	case 9: return iouw_waiters_unexpected_cancel_results(w);
	case 10: return iouw_wheel_active(iouw_loop_timeouts(r->loop));
	case 11: return stats->delivered;
	case 12: return stats->timeouts;
	case 13: return iouw_waiters_capacity(w);
	default: return stats->abandoned;
	}
}

bool iouw_run_ex_expect_table(struct runner *r, const struct iouw_scn_step *st)
{
	struct iouw_loop_stats stats;

	iouw_loop_stats(r->loop, &stats);
	for (size_t i = 0; i < st->nargs; i++) {
		const struct iouw_scn_arg *a = &st->args[i];
		uint64_t want = a->param->type == IOUW_SCN_T_BOOL ? a->b : (uint64_t)a->i;
		uint64_t got = table_fact(r, a->key, &stats);

		if (want != got)
			return iouw_run_failf(r, st->text, "%s=%llu", a->key, (unsigned long long)got);
	}
	return true;
}

bool iouw_run_ex_expect_slot(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_waiters *w = iouw_loop_table(r->loop);
	struct iouw_waiter_info info;
	int64_t idx = iouw_scn_pos(st, 0)->i;
	const struct iouw_scn_arg *a;
	struct reqent *holder;

	if (iouw_waiters_slot(w, (uint32_t)idx, &info) < 0)
		return iouw_run_failf(r, st->text, "slot %lld out of range (capacity %u)", (long long)idx,
		                      iouw_waiters_capacity(w));
	if ((a = iouw_scn_key(st, "gen")) && (uint64_t)a->i != iouw_waiter_id_generation(info.id))
		return iouw_run_failf(r, st->text, "gen=%u", iouw_waiter_id_generation(info.id));
	if ((a = iouw_scn_key(st, "occupied")) && a->b != info.occupied)
		return iouw_run_failf(r, st->text, "occupied=%d", info.occupied);
	if ((a = iouw_scn_key(st, "inflight")) && a->b != info.in_flight)
		return iouw_run_failf(r, st->text, "inflight=%d", info.in_flight);
	if ((a = iouw_scn_key(st, "state"))) {
		const char *got = !info.occupied ? "free"
		                  : info.state == IOUW_WAITER_ACTIVE ? "active"
		                                                     : "cancel_requested";

		if (strcmp(a->val, got))
			return iouw_run_failf(r, st->text, "state=%s", got);
	}
	if ((a = iouw_scn_key(st, "req"))) {
		struct reqent *q = iouw_run_req_of(r, a);

		holder = info.occupied ? iouw_run_req_by_id(r, info.id) : NULL;
		if (!info.occupied || !q->has_id || !iouw_waiter_id_eq(q->id, info.id))
			return iouw_run_failf(r, st->text, "slot holds %s",
			                      !info.occupied ? "nothing"
			                      : holder       ? holder->name->name
			                            : "an unknown request");
	}
	return true;
}

/* expect ready, cancels, stuck. */
bool iouw_run_ex_expect_idlist(struct runner *r, const struct iouw_scn_step *st)
{
	iouw_waiter_id ids[256];
	size_t n;
	char got[512] = "";
	char want[512] = "";

	if (st->op == IOUW_SCN_EXPECT_READY)
		n = iouw_loop_ready(r->loop, ids, 256);
	else if (st->op == IOUW_SCN_EXPECT_CANCELS)
		n = iouw_loop_pending_cancels(r->loop, ids, 256);
	else
		n = iouw_waiters_cancel_requested(iouw_loop_table(r->loop), ids, 256);
	for (size_t i = 0; i < n && i < 256; i++) {
		struct reqent *q = iouw_run_req_by_id(r, ids[i]);
		char b[64];

		snprintf(b, sizeof(b), "%s%s", i ? " " : "", q ? q->name->name : "?");
		strncat(got, b, sizeof(got) - strlen(got) - 1);
	}
	if (!n)
		snprintf(got, sizeof(got), "none");
	for (size_t i = 0; i < st->nargs; i++) {
		strncat(want, i ? " " : "", sizeof(want) - strlen(want) - 1);
		strncat(want, st->args[i].val, sizeof(want) - strlen(want) - 1);
	}
	if (strcmp(got, want))
		return iouw_run_failf(r, st->text, "%s", got);
	return true;
}

/* expect fd NAME open|closed */
bool iouw_run_ex_expect_fd(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = iouw_run_req_of(r, iouw_scn_pos(st, 0));
	bool closed = iouw_scn_pos(st, 1)->u == 1;
	char msg[400];

	if (!iouw_fdl_check(&r->fdl, (size_t)(q - r->reqs), closed, msg, sizeof(msg)))
		return iouw_run_failf(r, st->text, "%s: %s", q->name->name, msg);
	return true;
}

/* The requests, handles and buffers still out (expect outstanding). */
static void count_outstanding(struct runner *r, struct iouw_outstanding *o)
{
	iouw_run_poll_results(r);
	for (size_t i = 0; i < r->nreqs; i++) {
		struct reqent *q = &r->reqs[i];
		bool detached = i < r->fdl.n && r->fdl.e[i].detached &&
		                r->fdl.e[i].state == IOUW_FDL_ENDED;
		bool alive = (q->req && !q->dead) || detached;

		if (alive) {
			o->requests++;
			iouw_outstanding_note(o, "request %s: %s", q->name->name,
			                      detached ? "abandoned in flight, parked until iouw_loop_free"
			                      : !q->submitted ? "never submitted"
			                      : !q->has_id ? "in the inbound queue"
			                      : iouw_waiters_is_in_flight(iouw_loop_table(r->loop), q->id)
			                      ? "admitted, op in flight" : "admitted");
			if (q->name->req_kind != IOUW_SCN_SYNC) {
				o->buffers++;
				iouw_outstanding_note(o, "buffer of %s", q->name->name);
			}
		}
		if (q->handle && !q->dropped && !q->have_result) {
			o->handles++;
			iouw_outstanding_note(o, "handle of %s (no result yet)", q->name->name);
		}
	}
}

/* expect outstanding none | fds=N requests=N handles=N buffers=N */
bool iouw_run_ex_expect_outstanding(struct runner *r, const struct iouw_scn_step *st)
{
	static const char *const keys[] = { "fds", "requests", "handles", "buffers" };
	struct iouw_outstanding o;
	int skip[2 * IOUW_SCN_MAX_NAMES];
	const char *names[IOUW_SCN_MAX_NAMES];
	bool none = iouw_scn_at(st, 0) != NULL;
	size_t nskip = 0;
	int e;

	memset(&o, 0, sizeof(o));
	count_outstanding(r, &o);
	for (size_t i = 0; i < r->nfds; i++) {
		skip[nskip++] = r->fds[i].fd;
		skip[nskip++] = r->fds[i].peer;
	}
	for (size_t i = 0; i < r->nreqs; i++)
		names[i] = r->reqs[i].name->name;
	e = iouw_fdl_census(&r->fdl, skip, nskip, names, r->nreqs, &o);
	if (e < 0)
		return iouw_run_envf(r, "reading /proc/self/fd", -e);
	for (size_t k = 0; k < 4; k++) {
		uint64_t got = k == 0 ? o.fds : k == 1 ? o.requests : k == 2 ? o.handles : o.buffers;
		const struct iouw_scn_arg *a = iouw_scn_key(st, keys[k]);

		/* `none`: every count 0; otherwise the counts given. */
		if ((a || none) && got != (a ? (uint64_t)a->i : 0))
			return iouw_run_failf(r, st->text, "fds=%llu requests=%llu handles=%llu buffers=%llu (%s)",
			                      (unsigned long long)o.fds, (unsigned long long)o.requests,
			                      (unsigned long long)o.handles, (unsigned long long)o.buffers,
			                      o.detail[0] ? o.detail : "nothing");
	}
	iouw_run_logf(r, "outstanding fds=%llu requests=%llu handles=%llu buffers=%llu",
	              (unsigned long long)o.fds, (unsigned long long)o.requests,
	              (unsigned long long)o.handles, (unsigned long long)o.buffers);
	return true;
}

/* expect wait blocked=0|1 bound=D|none moved=D */
bool iouw_run_ex_expect_wait(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *bd = iouw_scn_key(st, "bound"), *mv = iouw_scn_key(st, "moved");
	const struct iouw_scn_arg *bl = iouw_scn_key(st, "blocked");
	uint64_t bound = bd && !bd->none ? bd->u : IOUW_WAIT_NO_BOUND;
	char msg[512];

	if (!iouw_wait_check(&r->wait, bl ? bl->b : -1, bd != NULL, bound, mv != NULL,
	                     mv ? mv->u : 0, msg, sizeof(msg)))
		return iouw_run_failf(r, st->text, "%s", msg);
	return true;
}

/* expect clock elapsed=D */
bool iouw_run_ex_expect_clock(struct runner *r, const struct iouw_scn_step *st)
{
	uint64_t want = iouw_scn_key(st, "elapsed")->u, got = r->vc.now_ns - r->start_ns;
	char b[32];

	if (got != want)
		return iouw_run_failf(r, st->text, "elapsed=%s", iouw_expect_fmt_dur(got, b, sizeof(b)));
	return true;
}

/* expect admit NAME tick=N|none (with the other admit facts) */
static bool check_admit_tick(struct runner *r, const struct iouw_scn_step *st,
                             const struct reqent *q)
{
	const struct iouw_scn_arg *a = iouw_scn_key(st, "tick");
	uint64_t want = a && !a->none ? (uint64_t)a->i : IOUW_NO_TICK;

	if (!a)
		return true;
	if (want != q->admit_tick) {
		if (q->admit_tick == IOUW_NO_TICK)
			return iouw_run_failf(r, st->text, "tick=none (no deadline)");
		return iouw_run_failf(r, st->text, "tick=%llu", (unsigned long long)q->admit_tick);
	}
	return true;
}

/* At the end of every run: no request fd that was closed when its request
 * ended has been closed again since (its placeholder is intact), scripted
 * or not. */
bool iouw_run_audit_fds(struct runner *r)
{
	char msg[400];
	int e = iouw_fdl_settle(&r->fdl);

	if (e < 0)
		return iouw_run_envf(r, "placing an fd placeholder", -e);
	for (size_t i = 0; i < r->nreqs && i < r->fdl.n; i++)
		if (r->fdl.e[i].state == IOUW_FDL_CLOSED &&
		    !iouw_fdl_check(&r->fdl, i, true, msg, sizeof(msg))) {
			r->cur_line = 0;
			r->cur_step = NULL;
			return iouw_run_failf(r, "every request fd closed exactly once", "%s: %s",
			                      r->reqs[i].name->name, msg);
		}
	return true;
}

/* Exactly the bytes named from the peer end, no more (a later expect reads
 * on); waits up to the CQE timeout for them. */
static ssize_t read_peer(struct runner *r, struct fdent *f, char *got, size_t want)
{
	size_t have = 0;
	uint64_t end = iouw_monotonic_ns() + iouw_run_cqe_timeout(r);

	while (have < want && f->peer >= 0) {
		ssize_t n = recv(f->peer, got + have, want - have, MSG_DONTWAIT);

		if (n > 0)
			have += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR) || iouw_monotonic_ns() > end)
			break;
		else
			usleep(1000);
	}
	return (ssize_t)have;
}

/* expect peer, expect file. */
bool iouw_run_ex_expect_bytes(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = iouw_run_fd_by_name(r, iouw_scn_pos(st, 0)->name->name);
	const struct iouw_scn_arg *d = iouw_scn_key(st, "data");
	bool peer = st->op == IOUW_SCN_EXPECT_PEER;
	char *got = malloc(d->val_len + 1);
	ssize_t n;
	bool ok;

	if (!got)
		return iouw_run_envf(r, "a buffer", ENOMEM);
	if (peer) {
		n = read_peer(r, f, got, d->val_len);
	} else {
		n = pread(f->fd, got, d->val_len, (off_t)iouw_scn_int(st, "off"));
		if (n < 0)
			n = 0;
	}
	ok = (size_t)n == d->val_len && memcmp(got, d->val, d->val_len) == 0;
	iouw_run_logf(r, "%s %s %zd bytes", peer ? "peer read" : "file read", f->name->name, n);
	if (!ok)
		iouw_run_failf(r, st->text, "%zd bytes \"%.*s\"", n, (int)(n > 200 ? 200 : n), got);
	free(got);
	return ok;
}

bool iouw_run_ex_expect_consistent(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_loop_assert_consistent(r->loop);
	return true;
}
