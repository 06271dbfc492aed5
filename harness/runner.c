/* harness/runner.c: the scenario runner (contract in runner.h).
 *
 * Pieces:
 *   - the loop runs on the scripted kernel (core/skernel.h,
 *     docs/loop.md §6.12) over a real ring: in kernel mode it forwards the
 *     captured SQEs to the kernel (the wake poll stays behind: a script's
 *     loop is single-threaded and never needs waking) and hands the loop
 *     only the CQEs the script has named (released one by one); in inject
 *     mode it posts the named CQEs by NOP injection or MSG_RING, moving the
 *     bytes a result implies. So kernel and inject mode walk the core
 *     through the same states. A wait the script cannot satisfy is a timeout on the
 *     virtual clock: the kernel moves the clock to the wait bound (what a
 *     real timed wait would have done); an unbounded wait with nothing named
 *     is -EDEADLK (the loop would hang). `cqe ... at_wait=1` lines are
 *     queued in the kernel as answers to the next blocking waits (naming the
 *     request by a key the observer binds at admission); the runner never
 *     runs inside the kernel: it reads what the answers did when the loop
 *     reports the wait.
 *   - the observer: turns loop events (every SQE included) into log lines
 *     and per-request outcome queues that `expect` lines consume in order.
 *   - step execution, one function per command (ex_*), reached through the
 *     EXEC column of the command table (harness/commands.h); each reads the
 *     step's typed values, never its text; a failing step records the
 *     expected and actual values and stops the run. record_step() writes
 *     what the RECORD column says.
 *   - the checks of harness/expect.h: the fd ledger (each request's dup is
 *     tracked at creation, marked ended by the observer, given its
 *     placeholder at the start of the next step, audited at the end of the
 *     run), the record of every wait (record_wait, from the scripted
 *     kernel's last-wait record when the loop reports it), the '#' timeline
 *     notes on blocking and expiry timing (not hashed).
 *
 * Per-request lifecycle (harness view):
 *   CREATED -> SUBMITTED (submit) -> ADMITTED (EV_ADMIT: has a waiter id)
 *   -> DEAD (EV_DELIVER, EV_ABANDON, stage ORPHANED, EV_ADMIT_EXPIRED);
 *   CREATED and never submitted: released at the end of the run.
 */
#define _GNU_SOURCE
#include "runner.h"
#include "expect.h"
#include "kmodel_judge.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "backend.h"
#include "clock.h"
#include "handle.h"
#include "invariant.h"
#include "loop.h"
#include "request.h"
#include "skernel.h"
#include "uring_backend.h"
#include "waiter.h"
#include "wheel.h"

uint64_t iouw_fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

struct fdent {
	const struct iouw_scn_name *name;
	int fd;   /* the side requests use */
	int peer; /* the other end (socketpair, pipe write end), or -1 */
};

struct outq {
	int *v;
	size_t n, cap, head;
};

struct reqent {
	const struct iouw_scn_name *name;
	struct fdent *fd;
	bool async;
	struct iouw_request *req; /* while the harness or the loop owns it */
	struct iouw_handle *handle;
	bool dropped;
	bool submitted;
	bool dead;
	bool has_id;
	iouw_waiter_id id;
	bool have_result;
	struct iouw_result result;
	struct outq stage, completion, deliver;
	int admit_expired; /* -1 unknown, 0 admitted, 1 expired */
	uint64_t admit_tick; /* EV_ADMIT's deadline tick (IOUW_NO_TICK: none) */
	bool due_noted;      /* the timeline said its deadline passed */
};

struct logent {
	int line;
	uint32_t iter; /* repeat iteration of the step (0: none) */
	char *text;
};

struct sqe_rec {
	struct io_uring_sqe sqe;
	struct reqent *req; /* NULL: unknown */
	bool cancel;
	char *data; /* every byte the SQE points at (iouw_expect_sqe_bytes) */
	size_t data_len;
	size_t total;
	unsigned iovs;
	int line;
};

struct named_cqe {
	uint64_t ud;
	int32_t res;
};

struct runner {
	const struct iouw_scenario *s;
	const struct iouw_run_options *o;
	enum iouw_run_mode mode;
	struct iouw_virtual_clock vc;
	/* The scripted kernel (core/skernel.h) the loop runs on. */
	struct iouw_backend *k;
	/* Scripted wait failures (wait_fail) not yet logged. */
	unsigned fail_left;
	struct iouw_loop *loop;
	struct iouw_loop_config cfg;
	unsigned sq_cap;
	struct fdent fds[IOUW_SCN_MAX_NAMES];
	size_t nfds;
	struct reqent reqs[IOUW_SCN_MAX_NAMES];
	size_t nreqs;
	struct logent *log;
	size_t nlog, caplog;
	struct sqe_rec *sqes;
	size_t nsqes, capsqes, sqe_cursor;
	struct named_cqe *named;
	size_t nnamed, capnamed, named_head;
	/* `cqe ... at_wait=1` lines, released one per blocking wait. */
	const struct iouw_scn_step *deferred[IOUW_SCN_MAX_NAMES * 4];
	size_t ndeferred, deferred_head;
	int cur_line;
	bool failed;
	bool env_failed; /* the environment failed the run, not the script */
	int fail_line;
	char reason[512];
	char expected[1024];
	char actual[1024];
	bool ended; /* expect abort ran: stop here */
	bool pending_stale;
	FILE *rec;
	char *recbuf;
	size_t reclen;
	bool stop_record;
	char branches[160]; /* kernel mode: "LINE:BRANCH,..." (iouw_run_result) */
	/* harness/expect.h: the request fds, the last wait, the run's start. */
	struct iouw_fd_ledger fdl;
	struct iouw_wait_rec wait;
	bool block_step; /* a `turn block` or `run` step is running */
	uint64_t start_ns;
	const struct iouw_scn_step *cur_step;
	const struct iouw_scn_step *fail_step;
	struct iouw_kmj *kmj; /* the kernel model's judge (kmodel_judge.h) */
};

/* ---- log ------------------------------------------------------------------- */

static bool envf(struct runner *r, const char *what, int err);

static void logf_(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct runner *r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	/* A dropped entry would change the hash: the run fails instead. */
	if (!s) {
		envf(r, "recording the event log", ENOMEM);
		return;
	}
	if (r->nlog == r->caplog) {
		size_t nc = r->caplog ? r->caplog * 2 : 64;
		struct logent *nl = realloc(r->log, nc * sizeof(*nl));

		if (!nl) {
			free(s);
			envf(r, "recording the event log", ENOMEM);
			return;
		}
		r->log = nl;
		r->caplog = nc;
	}
	r->log[r->nlog].line = r->cur_line;
	r->log[r->nlog].iter = r->cur_step ? r->cur_step->repeat_iter : 0;
	r->log[r->nlog].text = s;
	r->nlog++;
}

static bool failf(struct runner *r, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool failf(struct runner *r, const char *expected, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return false;
	r->failed = true;
	r->fail_line = r->cur_line;
	r->fail_step = r->cur_step && r->cur_step->line == r->cur_line ? r->cur_step : NULL;
	snprintf(r->expected, sizeof(r->expected), "%s", expected ? expected : "");
	va_start(ap, fmt);
	vsnprintf(r->actual, sizeof(r->actual), fmt, ap);
	va_end(ap);
	return false;
}

/* The environment failed the run (out of memory, fds, ...): not a departure
 * from the script; reported as IOUW_VERDICT_ERROR "environment: ...". */
static bool envf(struct runner *r, const char *what, int err)
{
	if (r->env_failed)
		return false;
	r->failed = true;
	r->env_failed = true;
	r->fail_line = r->cur_line;
	snprintf(r->actual, sizeof(r->actual), "%s: %s", what, strerror(err));
	return false;
}

static const char *res_str(int64_t res, char *buf, size_t len)
{
	return iouw_scn_format_res(res, buf, len);
}

/* ---- requests and user_data --------------------------------------------------- */

static struct reqent *req_by_name(struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (!strcmp(r->reqs[i].name->name, name))
			return &r->reqs[i];
	return NULL;
}

static struct fdent *fd_by_name(struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nfds; i++)
		if (!strcmp(r->fds[i].name->name, name))
			return &r->fds[i];
	return NULL;
}

/* The request that was (most recently) admitted with @id. */
static struct reqent *req_by_id(struct runner *r, iouw_waiter_id id)
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
static const char *ud_str(struct runner *r, uint64_t ud, char *buf, size_t len)
{
	bool is_cancel;
	iouw_waiter_id id;
	struct reqent *q;

	if (ud == IOUW_WAKE_USER_DATA) {
		snprintf(buf, len, "wake");
		return buf;
	}
	id = iouw_waiter_id_from_user_data(ud, &is_cancel);
	q = req_by_id(r, id);
	if (q)
		snprintf(buf, len, "%s %s", q->name->name, is_cancel ? "cancel" : "op");
	else
		snprintf(buf, len, "slot=%u gen=%u %s", iouw_waiter_id_index(id),
		         iouw_waiter_id_generation(id), is_cancel ? "cancel" : "op");
	return buf;
}

static const char *opcode_name(unsigned op)
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

/* ---- the scripting backend ------------------------------------------------------ */

static struct reqent *req_for_sqe_fd(struct runner *r, int fd)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (r->reqs[i].req && !r->reqs[i].dead && iouw_request_fd(r->reqs[i].req) == fd)
			return &r->reqs[i];
	return NULL;
}

/* The loop staged @sqe (IOUW_EV_SQE: its buffers are certainly alive):
 * log and record it for `expect sqe`. */
static void log_sqe(struct runner *r, const struct io_uring_sqe *sqe)
{
	struct sqe_rec rec;
	char ubuf[64];
	bool is_cancel;
	iouw_waiter_id id;

	if (sqe->user_data == IOUW_WAKE_USER_DATA) {
		logf_(r, "sqe wake %s", opcode_name(sqe->opcode));
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.sqe = *sqe;
	rec.line = r->cur_line;
	id = iouw_waiter_id_from_user_data(sqe->user_data, &is_cancel);
	rec.cancel = is_cancel;
	rec.req = req_by_id(r, id);
	if (!rec.req && !is_cancel)
		rec.req = req_for_sqe_fd(r, sqe->fd);
	/* Capture what the SQE says while its memory is certainly alive. */
	if (iouw_expect_sqe_bytes(sqe, &rec.data, &rec.data_len, &rec.total, &rec.iovs) < 0)
		envf(r, "recording an SQE's data", ENOMEM);
	if (is_cancel) {
		char tbuf[64];

		logf_(r, "sqe %s ASYNC_CANCEL target=%s", ud_str(r, sqe->user_data, ubuf, sizeof(ubuf)),
		      ud_str(r, sqe->addr, tbuf, sizeof(tbuf)));
	} else {
		logf_(r, "sqe %s %s fd=%s len=%u off=%lld total=%zu data_hash=%016llx ud=%u:%u",
		      ud_str(r, sqe->user_data, ubuf, sizeof(ubuf)), opcode_name(sqe->opcode),
		      rec.req && rec.req->fd ? rec.req->fd->name->name : "?", sqe->len,
		      (long long)(int64_t)sqe->off, rec.total,
		      (unsigned long long)iouw_fnv1a(IOUW_FNV_OFFSET, rec.data, rec.data_len),
		      iouw_waiter_id_index(id), iouw_waiter_id_generation(id));
	}
	if (r->nsqes == r->capsqes) {
		size_t nc = r->capsqes ? r->capsqes * 2 : 32;
		struct sqe_rec *ns = realloc(r->sqes, nc * sizeof(*ns));

		/* The backend contract forbids failing a push with room left:
		 * the SQE goes on unrecorded and the run ends as an ERROR. */
		if (ns) {
			r->sqes = ns;
			r->capsqes = nc;
		} else {
			envf(r, "recording an SQE", ENOMEM);
		}
	}
	if (r->nsqes < r->capsqes)
		r->sqes[r->nsqes++] = rec;
	else
		free(rec.data);
}

static bool do_cqe(struct runner *r, const struct iouw_scn_step *st);

/* Why a wait the script allowed to block was not asked to (the loop's
 * idle() test, docs/loop.md §6.4), read from the loop's views. */
static const char *why_not_blocked(struct runner *r, char *buf, size_t len)
{
	size_t ready = iouw_loop_ready(r->loop, NULL, 0);
	size_t cancels = iouw_loop_pending_cancels(r->loop, NULL, 0);

	if (iouw_loop_is_drained(r->loop))
		snprintf(buf, len, "the loop is drained (closed, nothing tracked or queued)");
	else if (ready)
		snprintf(buf, len, "%zu request(s) in the ready queue wait for SQ room", ready);
	else if (cancels)
		snprintf(buf, len, "%zu cancel(s) wait to be staged", cancels);
	else if (iouw_loop_inbound_len(r->loop) &&
	         iouw_waiters_len(iouw_loop_table(r->loop)) <
	                 iouw_waiters_capacity(iouw_loop_table(r->loop)))
		snprintf(buf, len, "a request was submitted after this turn's fill (it is admitted "
		                   "by the next turn)");
	else
		snprintf(buf, len, "a wake-up was pending (the sleep intent could not be armed)");
	return buf;
}

static void note_due_deadlines(struct runner *r);

/* The loop's wait returned (IOUW_EV_WAIT): record what it asked the
 * scripted kernel and what came of it (`expect wait`, from the kernel's
 * iouw_skernel_last_wait), and in a blocking step a '#' note (not hashed)
 * saying whether it blocked and, if not, why (harness/README.md, Modes). */
static void record_wait(struct runner *r)
{
	static const char how[] = {
		[IOUW_SKERNEL_WAIT_NONE] = 'n',     [IOUW_SKERNEL_WAIT_NOBLOCK] = 'n',
		[IOUW_SKERNEL_WAIT_READY] = 'c',    [IOUW_SKERNEL_WAIT_ANSWERED] = 'd',
		[IOUW_SKERNEL_WAIT_TIMEOUT] = 't',  [IOUW_SKERNEL_WAIT_DEADLOCK] = 'x',
		[IOUW_SKERNEL_WAIT_FAULT] = 'f',    [IOUW_SKERNEL_WAIT_ERROR] = 'e',
	};
	struct iouw_skernel_wait w;
	char why[160], words[320];

	iouw_skernel_last_wait(r->k, &w);
	r->wait.valid = true;
	r->wait.wait_nr = w.wait_nr;
	r->wait.bound_ns = w.timeout_ns < 0 ? IOUW_WAIT_NO_BOUND : (uint64_t)w.timeout_ns;
	r->wait.moved_ns = w.moved_ns;
	r->wait.res = w.res;
	r->wait.line = r->cur_line;
	r->wait.how = how[w.end];
	if (r->block_step) {
		iouw_wait_describe(&r->wait, w.wait_nr ? NULL : why_not_blocked(r, why, sizeof(why)),
		                   words, sizeof(words));
		logf_(r, "# wait: %s", words);
	}
	if (r->wait.moved_ns)
		note_due_deadlines(r);
}

/* ---- observer -------------------------------------------------------------- */

static void outq_push(struct runner *r, struct outq *q, int v)
{
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 8;
		int *nv = realloc(q->v, nc * sizeof(*nv));

		if (!nv) {
			envf(r, "recording an outcome", ENOMEM);
			return;
		}
		q->v = nv;
		q->cap = nc;
	}
	q->v[q->n++] = v;
}

static const char *const stage_names[] = { "timeout", "orphaned", "submit" };
static const char *const completion_names[] = { "cancel", "requeue", "complete" };
static const char *const deliver_names[] = { "complete", "timeout" };

static void bind_request(struct runner *r, struct reqent *q);
static void take_answers(struct runner *r);

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

	logf_(r, "cqe %s res=%s", ud_str(r, ev->cqe.user_data, ubuf, sizeof(ubuf)),
	      res_str(ev->cqe.res, rbuf, sizeof(rbuf)));
	r->pending_stale = iouw_waiters_state(iouw_loop_table(r->loop), id, &st, NULL) < 0;
	if (r->named_head < r->nnamed) {
		struct named_cqe *n = &r->named[r->named_head++];

		if (n->ud != ev->cqe.user_data || n->res != ev->cqe.res) {
			char nb[64], nr[32];

			failf(r, "the ring to echo the named CQE", "reaped %s res=%s, named %s res=%s", ubuf,
			      rbuf, ud_str(r, n->ud, nb, sizeof(nb)), res_str(n->res, nr, sizeof(nr)));
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
		logf_(r, "admit %s expired", q ? q->name->name : "?");
		return;
	}
	if (q) {
		q->has_id = true;
		q->id = ev->id;
		q->admit_expired = 0;
		q->admit_tick = ev->tick;
		bind_request(r, q);
	}
	logf_(r, "admit %s slot=%u gen=%u tick=%lld", q ? q->name->name : "?",
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
		logf_(r, "wait fails res=%s (scripted)", res_str(ev->res, rbuf, sizeof(rbuf)));
	}
	take_answers(r);
	record_wait(r);
	/* SQEs are recorded as the loop stages them (IOUW_EV_SQE). */
	iouw_skernel_clear_submitted(r->k);
	logf_(r, "wait %s", res_str(ev->res, rbuf, sizeof(rbuf)));
}

static void observe(void *ctx, const struct iouw_loop_event *ev)
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
		log_sqe(r, ev->sqe);
		break;
	case IOUW_EV_CQE:
		observe_cqe(r, ev);
		break;
	case IOUW_EV_ADMIT:
	case IOUW_EV_ADMIT_EXPIRED:
		observe_admit(r, ev);
		break;
	case IOUW_EV_STAGE:
		q = req_by_id(r, ev->id);
		logf_(r, "stage %s %s", q ? q->name->name : ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		      stage_names[ev->outcome]);
		if (q) {
			outq_push(r, &q->stage, ev->outcome);
			if (ev->outcome == IOUW_STAGE_ORPHANED)
				req_ended(r, q, false);
		}
		break;
	case IOUW_EV_COMPLETION:
		q = req_by_id(r, ev->id);
		logf_(r, "completion %s %s%s", q ? q->name->name : ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		      completion_names[ev->outcome],
		      ev->outcome == IOUW_COMPLETION_CANCEL && r->pending_stale ? " stale" : "");
		if (q)
			outq_push(r, &q->completion,
			          ev->outcome * 2 + (ev->outcome == IOUW_COMPLETION_CANCEL && r->pending_stale));
		break;
	case IOUW_EV_EXPIRED:
		q = req_by_id(r, ev->id);
		logf_(r, "expired %s tick=%llu took=%d",
		      q ? q->name->name : ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		      (unsigned long long)ev->tick, ev->outcome);
		break;
	case IOUW_EV_CANCEL_QUEUED:
	case IOUW_EV_CANCEL_SKIPPED:
		q = req_by_id(r, ev->id);
		logf_(r, "cancel %s %s", q ? q->name->name : ud_str(r, ev->id.raw, ubuf, sizeof(ubuf)),
		      ev->kind == IOUW_EV_CANCEL_QUEUED ? "queued" : "skipped");
		break;
	case IOUW_EV_DELIVER:
		q = req_by_ptr(r, ev->request);
		logf_(r, "deliver %s %s", q ? q->name->name : "?", deliver_names[ev->outcome]);
		if (q) {
			outq_push(r, &q->deliver, ev->outcome);
			req_ended(r, q, false);
		}
		break;
	case IOUW_EV_ABANDON:
		q = req_by_ptr(r, ev->request);
		logf_(r, "abandon %s", q ? q->name->name : "?");
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

	logf_(r, "warn unexpected cancel result %s res=%s",
	      ud_str(r, iouw_waiter_id_cancel_user_data(id), ubuf, sizeof(ubuf)),
	      res_str(res, rbuf, sizeof(rbuf)));
}

static const char *const status_names[] = { "ok", "timeout", "send_failed", "recv_failed",
	                                    "read_failed", "write_failed",
	                                    "insufficient_length", "sync_error", "abandoned" };

/* Take results that arrived in handles (in request order) into the log. */
static void poll_results(struct runner *r)
{
	for (size_t i = 0; i < r->nreqs; i++) {
		struct reqent *q = &r->reqs[i];

		if (!q->handle || q->dropped || q->have_result)
			continue;
		if (iouw_handle_try(q->handle, &q->result) == 0) {
			q->have_result = true;
			logf_(r, "result %s %s err=%d value=%zu buf_len=%zu data_hash=%016llx",
			      q->name->name, status_names[q->result.status], q->result.err, q->result.value,
			      q->result.buf_len,
			      (unsigned long long)iouw_fnv1a(IOUW_FNV_OFFSET, q->result.buf,
			                                     q->result.buf ? q->result.buf_len : 0));
		}
	}
}

/* ---- helpers ----------------------------------------------------------------- */

/* A request's deadline= (typed by the parser): none, relative to now, or
 * already past (a negative one). */
static uint64_t arg_deadline(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *a = iouw_scn_key(st, "deadline");
	uint64_t d;

	if (!a || a->none)
		return IOUW_NO_DEADLINE;
	if (a->i < 0) {
		d = (uint64_t)-a->i;
		return d > r->vc.now_ns ? 0 : r->vc.now_ns - d;
	}
	return iouw_ns_add_sat(r->vc.now_ns, (uint64_t)a->i);
}

static bool res_alts_match(const struct iouw_scn_arg *alts, int64_t res)
{
	for (size_t i = 0; i < alts->nalts; i++)
		if (alts->alts[i] == res)
			return true;
	return false;
}

/* The request an argument names (the parser resolved it). */
static struct reqent *req_of(struct runner *r, const struct iouw_scn_arg *a)
{
	return req_by_name(r, a->name->name);
}

static void rec_write(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rec_write(struct runner *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->rec || r->stop_record)
		return;
	va_start(ap, fmt);
	vfprintf(r->rec, fmt, ap);
	va_end(ap);
}

/* ---- fds ---------------------------------------------------------------------- */

static bool make_temp_file(struct runner *r, const struct iouw_scn_step *st, struct fdent *f)
{
	const struct iouw_scn_arg *c = iouw_scn_key(st, "content");
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/iouwait-scn-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return envf(r, "mkostemp", errno);
	/* Unlinked at once: nothing is left behind, even after a crash. */
	unlink(path);
	f->fd = fd;
	if (c && c->val_len && pwrite(fd, c->val, c->val_len, 0) != (ssize_t)c->val_len) {
		int err = errno ? errno : ENOSPC;

		close(fd);
		f->fd = -1;
		return envf(r, "writing a temp file", err);
	}
	return true;
}

/* socketpair, pipe, file. */
static bool ex_make_fd(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = &r->fds[r->nfds];
	int sv[2];

	f->name = iouw_scn_pos(st, 0)->name;
	f->fd = f->peer = -1;
	if (st->op == IOUW_SCN_SOCKETPAIR) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return envf(r, "socketpair", errno);
		f->fd = sv[0];
		f->peer = sv[1];
	} else if (st->op == IOUW_SCN_PIPE) {
		if (pipe2(sv, O_CLOEXEC) < 0)
			return envf(r, "pipe2", errno);
		f->fd = sv[0];
		f->peer = sv[1];
	} else if (!make_temp_file(r, st, f)) {
		return false;
	}
	r->nfds++;
	return true;
}

/* ---- requests ------------------------------------------------------------------- */

/* A zeroed buffer of the request's capacity (default: len). */
static char *request_buffer(const struct iouw_scn_step *st, size_t *ret_cap)
{
	int64_t cap = iouw_scn_int(st, "capacity");

	*ret_cap = cap < 0 ? (size_t)iouw_scn_int(st, "len") : (size_t)cap;
	return calloc(1, *ret_cap ? *ret_cap : 1);
}

/* Build the request of @st (one of the five kinds) into @q. */
static int construct(struct runner *r, const struct iouw_scn_step *st, struct reqent *q)
{
	struct iovec iov[IOUW_SCN_MAX_ARGS];
	unsigned iovcnt = 0;
	size_t cap;
	char *buf;
	int e;

	for (size_t i = 0; i < st->nargs; i++)
		if (st->args[i].key && !strcmp(st->args[i].key, "data")) {
			iov[iovcnt].iov_base = st->args[i].val;
			iov[iovcnt].iov_len = st->args[i].val_len;
			iovcnt++;
		}
	if (st->op == IOUW_SCN_SEND)
		return iouw_request_send(q->fd->fd, iov, iovcnt, arg_deadline(r, st), &q->req,
		                         &q->handle);
	if (st->op == IOUW_SCN_WRITE_AT)
		return iouw_request_write_at(q->fd->fd, (uint64_t)iouw_scn_int(st, "off"), iov, iovcnt,
		                             &q->req, &q->handle);
	if (st->op == IOUW_SCN_SYNC)
		return iouw_request_sync(q->fd->fd, &q->req, &q->handle);
	if (!(buf = request_buffer(st, &cap)))
		return -ENOMEM;
	if (st->op == IOUW_SCN_RECV) {
		const struct iouw_scn_arg *pf = iouw_scn_key(st, "prefix");

		if (pf)
			memcpy(buf, pf->val, pf->val_len);
		e = iouw_request_recv(q->fd->fd, buf, cap, (size_t)iouw_scn_int(st, "offset"),
		                      (size_t)iouw_scn_int(st, "len"), iouw_scn_flag(st, "exact"),
		                      arg_deadline(r, st), &q->req, &q->handle);
	} else {
		e = iouw_request_read_at(q->fd->fd, (uint64_t)iouw_scn_int(st, "off"), buf, cap,
		                         (size_t)iouw_scn_int(st, "len"), &q->req, &q->handle);
	}
	if (e < 0)
		free(buf);
	return e;
}

/* send, recv, read_at, write_at, sync. */
static bool ex_make_request(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = &r->reqs[r->nreqs];
	int e;

	memset(q, 0, sizeof(*q));
	q->name = iouw_scn_pos(st, 0)->name;
	q->fd = fd_by_name(r, iouw_scn_key(st, "fd")->name->name);
	q->async = iouw_scn_flag(st, "async");
	q->admit_expired = -1;
	e = construct(r, st, q);
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		return envf(r, "creating the request", -e);
	if (e < 0) {
		char b[32];

		return failf(r, "the request to be created", "constructor returned %s",
		             res_str(e, b, sizeof(b)));
	}
	e = iouw_fdl_track(&r->fdl, r->nreqs, iouw_request_fd(q->req));
	r->nreqs++;
	if (e < 0)
		return envf(r, "recording the request's fd", -e);
	logf_(r, "create %s", q->name->name);
	return true;
}

/* ---- CQEs ------------------------------------------------------------------------- */

static bool cqe_target(struct runner *r, const struct iouw_scn_step *st, uint64_t *ret_ud,
                       const struct iouw_scn_arg **ret_alts)
{
	const struct iouw_scn_arg *ud = iouw_scn_key(st, "ud");
	bool stale = iouw_scn_at(st, 0) != NULL;
	struct reqent *q;
	enum iouw_waiter_state s;

	*ret_alts = iouw_scn_key(st, "res");
	if (ud) {
		*ret_ud = ud->u;
		return true;
	}
	q = req_of(r, iouw_scn_at(st, 1));
	if (!q->has_id)
		return failf(r, "a request with a waiter id", "%s was never admitted", q->name->name);
	*ret_ud = iouw_scn_at(st, 2)->u == 1 ? iouw_waiter_id_cancel_user_data(q->id)
	                                     : iouw_waiter_id_user_data(q->id);
	if (stale && iouw_waiters_state(iouw_loop_table(r->loop), q->id, &s, NULL) == 0)
		return failf(r, "a stale id (slot freed or reused)", "%s still occupies slot %u",
		             q->name->name, iouw_waiter_id_index(q->id));
	return true;
}

static bool named_push(struct runner *r, uint64_t ud, int32_t res)
{
	if (r->nnamed == r->capnamed) {
		size_t nc = r->capnamed ? r->capnamed * 2 : 32;
		struct named_cqe *nn = realloc(r->named, nc * sizeof(*nn));

		if (!nn)
			return envf(r, "a buffer", ENOMEM);
		r->named = nn;
		r->capnamed = nc;
	}
	r->named[r->nnamed].ud = ud;
	r->named[r->nnamed].res = res;
	r->nnamed++;
	return true;
}

static uint64_t cqe_timeout(struct runner *r)
{
	return r->o->cqe_timeout_ns ? r->o->cqe_timeout_ns : UINT64_C(2000000000);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait until the ring's CQ holds more than @idx CQEs (not consuming any). */
static bool wait_cq(struct runner *r, unsigned idx, uint64_t budget_ns)
{
	struct io_uring *ring = iouw_skernel_ring(r->k);
	uint64_t end = mono_ns() + budget_ns;

	/* Past what the CQ ring holds: only an overflowed CQE could be there,
	 * and it cannot be peeked. */
	if (idx >= ring->cq.ring_entries)
		return false;

	while (io_uring_cq_ready(ring) <= idx) {
		uint64_t t = mono_ns();
		struct __kernel_timespec ts;
		struct io_uring_cqe *c;

		if (t >= end)
			return false;
		ts.tv_sec = (long long)((end - t) / 1000000000u);
		ts.tv_nsec = (long long)((end - t) % 1000000000u);
		if (ts.tv_sec == 0 && ts.tv_nsec > 20000000)
			ts.tv_nsec = 20000000;
		else if (ts.tv_sec > 0) {
			ts.tv_sec = 0;
			ts.tv_nsec = 20000000;
		}
		(void)io_uring_wait_cqes(ring, &c, idx + 1, &ts, NULL);
	}
	return true;
}

static const struct io_uring_cqe *peek_cq(struct runner *r, unsigned idx)
{
	struct io_uring *ring = iouw_skernel_ring(r->k);
	unsigned head = io_uring_smp_load_acquire(ring->cq.khead);

	return &ring->cq.cqes[(head + idx) & ring->cq.ring_mask];
}

/* Inject mode: the scripted kernel posted (@err 0) or failed to post the
 * named CQE; @overflowed: it went to the kernel's overflow list, where it
 * cannot be peeked (the loop's reap flushes it, and observe() checks it then
 * against the named CQEs, in order). */
static bool injected(struct runner *r, uint64_t ud, int32_t res, int err, bool overflowed)
{
	char b1[64];

	if (err == -ETIME)
		return failf(r, "the injected CQE to appear", "nothing after %llu ms",
		             (unsigned long long)(cqe_timeout(r) / 1000000));
	if (err == -EPROTO)
		return failf(r, "the ring to post the injected values", "other values than %s res=%d",
		             ud_str(r, ud, b1, sizeof(b1)), (int)res);
	if (err == -ENOMEM)
		return envf(r, "injecting a CQE", ENOMEM);
	if (err < 0)
		return failf(r, "the injection SQE to be submitted", "%s", strerror(-err));
	if (overflowed)
		logf_(r, "cq overflow %s", ud_str(r, ud, b1, sizeof(b1)));
	return named_push(r, ud, res);
}

/* Kernel mode: match the next CQE the kernel posted against @alts. @quiet: do
 * not fail (either/or guard). Writes the actual res. */
static bool kernel_match(struct runner *r, unsigned idx, uint64_t ud,
                         const struct iouw_scn_arg *alts, int32_t *ret_res, bool quiet, char *why,
                         size_t whylen)
{
	const struct io_uring_cqe *c;
	char b1[64], b2[32], b3[64];

	if (!wait_cq(r, idx, cqe_timeout(r))) {
		if (io_uring_cq_has_overflow(iouw_skernel_ring(r->k)))
			snprintf(why, whylen, "the CQ overflowed: kernel mode reads CQEs in the ring "
			                      "and cannot see overflowed ones (overflow in inject mode)");
		else
			snprintf(why, whylen, "no CQE within %llu ms",
			         (unsigned long long)(cqe_timeout(r) / 1000000));
		return quiet ? false : failf(r, "a CQE", "%s", why);
	}
	c = peek_cq(r, idx);
	if (c->user_data != ud || !res_alts_match(alts, c->res)) {
		snprintf(why, whylen, "the kernel posted %s res=%s",
		         ud_str(r, c->user_data, b1, sizeof(b1)), res_str(c->res, b2, sizeof(b2)));
		if (quiet)
			return false;
		snprintf(b3, sizeof(b3), "%s", ud_str(r, ud, b1, sizeof(b1)));
		{
			char exp[256];

			snprintf(exp, sizeof(exp), "cqe %s res=%s", b3, alts->val);
			return failf(r, exp, "%s", why);
		}
	}
	*ret_res = c->res;
	return true;
}

static void rec_cqe(struct runner *r, const struct iouw_scn_step *st, int32_t res)
{
	char rb[32];

	/* Copy the line up to res=, then the actual value. */
	for (size_t i = 0; i < st->nargs; i++) {
		const struct iouw_scn_arg *a = &st->args[i];

		if (i == 0)
			rec_write(r, "cqe");
		if (a->key && !strcmp(a->key, "res"))
			rec_write(r, " res=%s", res_str(res, rb, sizeof(rb)));
		else if (a->key)
			rec_write(r, " %s=%s", a->key, a->val);
		else
			rec_write(r, " %s", a->val);
	}
	rec_write(r, "\n");
}

/* Name the CQE of @st: now (a `cqe` line, @done NULL), or what the kernel's
 * queued answer for this deferred line did while the loop waited. */
static bool name_cqe(struct runner *r, const struct iouw_scn_step *st,
                     const struct iouw_skernel_answered *done)
{
	uint64_t ud;
	const struct iouw_scn_arg *alts;
	int32_t res;
	uint32_t flags = 0;
	char why[256];

	if (!cqe_target(r, st, &ud, &alts))
		return false;
	if (r->mode == IOUW_RUN_INJECT) {
		int e;

		res = alts->alts[0];
		e = done ? done->err : iouw_skernel_post(r->k, ud, res, 0);
		if (!injected(r, ud, res, e, done ? done->overflowed : iouw_skernel_cq_overflowed(r->k)))
			return false;
	} else {
		/* A deferred answer already released the kernel's next CQE. */
		unsigned idx = (unsigned)iouw_skernel_cq_ready(r->k) - (done && !done->err ? 1 : 0);

		if (!kernel_match(r, idx, ud, alts, &res, false, why, sizeof(why)))
			return false;
		flags = peek_cq(r, idx)->flags;
		if (!done)
			(void)iouw_skernel_release(r->k, 1);
		if (!named_push(r, ud, res))
			return false;
	}
	{
		char ub[64], rb[32];

		/* The value that happened, not the alternatives: a recording
		 * replayed in inject mode hashes like the kernel run. */
		logf_(r, "named cqe %s res=%s", ud_str(r, ud, ub, sizeof(ub)),
		      res_str(res, rb, sizeof(rb)));
	}
	{
		/* The kernel model's verdict (kmodel_judge.h): a '#' note. */
		char note[128], exp[192];
		bool ok = iouw_kmj_cqe(r->kmj, ud, res, flags, note, sizeof(note), exp, sizeof(exp));

		if (note[0])
			logf_(r, "# kernel model: hostile: %s", note);
		if (!ok)
			return failf(r, exp, "kernel model: %s", note);
	}
	rec_cqe(r, st, res);
	return true;
}

/* Keys of queued answers (core/skernel.h): request index, op or cancel. */
static uint64_t answer_key(const struct runner *r, const struct reqent *q, bool cancel)
{
	return (uint64_t)(q - r->reqs) * 2 + cancel;
}

/* Admitted: the kernel learns @q's user_data for answers queued by name,
 * and, in kernel mode, that its op SQEs go to a worker (async=1). */
static void bind_request(struct runner *r, struct reqent *q)
{
	int e = iouw_skernel_bind(r->k, answer_key(r, q, false), iouw_waiter_id_user_data(q->id));

	if (!e)
		e = iouw_skernel_bind(r->k, answer_key(r, q, true),
		                      iouw_waiter_id_cancel_user_data(q->id));
	if (!e && q->async && r->mode == IOUW_RUN_KERNEL)
		e = iouw_skernel_set_sqe_flags(r->k, iouw_waiter_id_user_data(q->id), IOSQE_ASYNC);
	if (e)
		envf(r, "binding a request", -e);
}

/* The loop reported a wait: name what the kernel's queued answers did,
 * each at its deferred line. */
static void take_answers(struct runner *r)
{
	struct iouw_skernel_answered done;

	while (iouw_skernel_take_answered(r->k, &done, 1) == 1) {
		int line = r->cur_line;
		const struct iouw_scn_step *st;

		if (r->deferred_head >= r->ndeferred)
			continue; /* every answer comes from a deferred line */
		st = r->deferred[r->deferred_head++];
		r->cur_line = st->line;
		(void)name_cqe(r, st, &done);
		r->cur_line = line;
	}
}

/* `cqe ... at_wait=1`: queue the answer in the kernel for the next
 * blocking wait, naming the request by its key (bound at admission). */
static bool defer_cqe(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *ud = iouw_scn_key(st, "ud");
	int32_t res = (int32_t)iouw_scn_key(st, "res")->i;
	int e;

	if (r->ndeferred == sizeof(r->deferred) / sizeof(r->deferred[0]))
		return failf(r, st->text, "too many deferred CQEs");
	if (ud) {
		e = iouw_skernel_queue_answer(r->k, ud->u, res);
	} else {
		struct reqent *q = req_of(r, iouw_scn_at(st, 1));

		e = iouw_skernel_queue_answer_for(r->k, answer_key(r, q, iouw_scn_at(st, 2)->u == 1),
		                                  res);
	}
	if (e)
		return envf(r, "queueing a deferred CQE", -e);
	r->deferred[r->ndeferred++] = st;
	logf_(r, "cqe deferred to the next blocking wait");
	return true;
}

static bool do_cqe(struct runner *r, const struct iouw_scn_step *st)
{
	if (iouw_scn_flag(st, "at_wait"))
		return defer_cqe(r, st);
	return name_cqe(r, st, NULL);
}

/* ---- expectations ----------------------------------------------------------------- */

static bool expect_sqe_none(struct runner *r)
{
	struct sqe_rec *rec;
	char ub[64];

	if (r->sqe_cursor < r->nsqes) {
		rec = &r->sqes[r->sqe_cursor];
		return failf(r, "no further SQE", "%s %s was staged",
		             ud_str(r, rec->sqe.user_data, ub, sizeof(ub)), opcode_name(rec->sqe.opcode));
	}
	return true;
}

/* The op SQE's fields against the keys of `expect sqe`. */
static bool expect_sqe_fields(struct runner *r, const struct iouw_scn_step *st,
                              const struct sqe_rec *rec)
{
	const char *exp = st->text;
	const struct iouw_scn_arg *a;

	if ((a = iouw_scn_key(st, "op")) && strcmp(a->val, opcode_name(rec->sqe.opcode)))
		return failf(r, exp, "opcode %s", opcode_name(rec->sqe.opcode));
	if ((a = iouw_scn_key(st, "len")) && (uint64_t)a->i != rec->sqe.len)
		return failf(r, exp, "len=%u", rec->sqe.len);
	if ((a = iouw_scn_key(st, "off")) && a->i != (int64_t)rec->sqe.off)
		return failf(r, exp, "off=%lld", (long long)(int64_t)rec->sqe.off);
	if ((a = iouw_scn_key(st, "iovs")) && (uint64_t)a->i != rec->iovs)
		return failf(r, exp, "iovs=%u", rec->iovs);
	if ((a = iouw_scn_key(st, "fd")) && (!rec->req || rec->req->fd->name != a->name))
		return failf(r, exp, "fd=%s", rec->req ? rec->req->fd->name->name : "?");
	if ((a = iouw_scn_key(st, "data"))) {
		char diff[512];

		if (!iouw_expect_bytes(a->val, a->val_len, rec->data, rec->data_len, diff,
		                       sizeof(diff)))
			return failf(r, exp, "data: %s", diff);
	}
	return true;
}

static bool ex_expect_sqe(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *a0 = iouw_scn_at(st, 0), *which = iouw_scn_at(st, 1);
	bool want_cancel = which && which->u == 1;
	struct sqe_rec *rec;
	struct reqent *q;
	char ub[64];

	if (a0->none)
		return expect_sqe_none(r);
	q = req_of(r, a0);
	if (r->sqe_cursor >= r->nsqes)
		return failf(r, st->text, "no SQE staged (all %zu SQEs already matched)", r->nsqes);
	rec = &r->sqes[r->sqe_cursor++];
	if (rec->req != q || rec->cancel != want_cancel)
		return failf(r, st->text, "next SQE is %s %s",
		             ud_str(r, rec->sqe.user_data, ub, sizeof(ub)), opcode_name(rec->sqe.opcode));
	if (want_cancel) {
		if (rec->sqe.opcode != IORING_OP_ASYNC_CANCEL ||
		    rec->sqe.addr != iouw_waiter_id_user_data(q->id))
			return failf(r, st->text, "cancel SQE opcode %s target 0x%llx",
			             opcode_name(rec->sqe.opcode), (unsigned long long)rec->sqe.addr);
		return true;
	}
	return expect_sqe_fields(r, st, rec);
}

static bool expect_outq(struct runner *r, const struct iouw_scn_step *st, struct outq *q,
                        const char *const *names, size_t nnames, int want, const char *what)
{
	int got;

	if (q->head >= q->n)
		return failf(r, st->text, "no further %s outcome recorded", what);
	got = q->v[q->head++];
	if (got != want) {
		if (got >= 0 && (size_t)got < nnames)
			return failf(r, st->text, "%s %s", what, names[got]);
		return failf(r, st->text, "%s %d", what, got);
	}
	return true;
}

/* The outcome word of `expect stage|completion|deliver` (its choice index
 * is the runner's outcome code: harness/commands.c orders them so). */
static int outcome_of(const struct iouw_scn_step *st)
{
	return (int)iouw_scn_at(st, 1)->u;
}

static bool ex_expect_stage(struct runner *r, const struct iouw_scn_step *st)
{
	return expect_outq(r, st, &req_of(r, iouw_scn_at(st, 0))->stage, stage_names, 3,
	                   outcome_of(st), "stage");
}

static bool ex_expect_completion(struct runner *r, const struct iouw_scn_step *st)
{
	static const char *const cn[] = { "cancel", "cancel stale", "requeue", "?", "complete", "?" };
	struct reqent *q = req_of(r, iouw_scn_at(st, 0));
	int want = outcome_of(st) * 2;

	if (want == 0 && iouw_scn_flag(st, "stale"))
		want = 1;
	if (want == 0 && !iouw_scn_key(st, "stale") && q->completion.head < q->completion.n &&
	    q->completion.v[q->completion.head] == 1)
		want = 1; /* stale= not given: either is fine */
	return expect_outq(r, st, &q->completion, cn, 6, want, "completion");
}

static bool ex_expect_deliver(struct runner *r, const struct iouw_scn_step *st)
{
	return expect_outq(r, st, &req_of(r, iouw_scn_at(st, 0))->deliver, deliver_names, 2,
	                   outcome_of(st), "deliver");
}

static bool check_admit_tick(struct runner *r, const struct iouw_scn_step *st,
                             const struct reqent *q);

static bool ex_expect_admit(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = req_of(r, iouw_scn_at(st, 0));
	const struct iouw_scn_arg *a;

	if (iouw_scn_at(st, 1)) { /* expired */
		if (q->admit_expired != 1)
			return failf(r, st->text, "%s", q->admit_expired ? "not admitted" : "admitted");
		return true;
	}
	if (!q->has_id)
		return failf(r, st->text, "%s", q->admit_expired == 1 ? "expired" : "not admitted");
	if ((a = iouw_scn_key(st, "slot")) && (uint64_t)a->i != iouw_waiter_id_index(q->id))
		return failf(r, st->text, "slot=%u", iouw_waiter_id_index(q->id));
	if ((a = iouw_scn_key(st, "gen")) && (uint64_t)a->i != iouw_waiter_id_generation(q->id))
		return failf(r, st->text, "gen=%u", iouw_waiter_id_generation(q->id));
	return check_admit_tick(r, st, q);
}

/* The result's fields against value, err=, len= and data=. */
static bool expect_result_fields(struct runner *r, const struct iouw_scn_step *st,
                                 const struct iouw_result *res)
{
	const struct iouw_scn_arg *v = iouw_scn_at(st, 2), *a;
	char b[32];

	if (v && (size_t)v->i != res->value)
		return failf(r, st->text, "value %zu", res->value);
	if ((a = iouw_scn_key(st, "err")) && a->i != res->err)
		return failf(r, st->text, "err=%s", res_str(-res->err, b, sizeof(b)) + 1);
	if ((a = iouw_scn_key(st, "len")) && (size_t)a->i != res->buf_len)
		return failf(r, st->text, "buffer length %zu", res->buf_len);
	if ((a = iouw_scn_key(st, "data")) &&
	    (!res->buf || a->val_len != res->buf_len || memcmp(a->val, res->buf, a->val_len)))
		return failf(r, st->text, "buffer of %zu bytes \"%.*s\"", res->buf_len,
		             res->buf ? (int)(res->buf_len > 200 ? 200 : res->buf_len) : 0,
		             res->buf ? (const char *)res->buf : "");
	return true;
}

static bool ex_expect_result(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = req_of(r, iouw_scn_at(st, 0));
	/* The status's choice index: core/request.h's order, then pending. */
	uint64_t want = iouw_scn_at(st, 1)->u;
	const struct iouw_result *res = &q->result;

	if (q->dropped)
		return failf(r, st->text, "%s's handle was dropped", q->name->name);
	poll_results(r);
	if (want == 9) { /* pending */
		if (q->have_result)
			return failf(r, st->text, "result %s", status_names[res->status]);
		return true;
	}
	if (!q->have_result)
		return failf(r, st->text, "no result yet");
	if (want != (uint64_t)res->status)
		return failf(r, st->text, "%s err=%d value=%zu", status_names[res->status], res->err,
		             res->value);
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

static bool ex_expect_table(struct runner *r, const struct iouw_scn_step *st)
{
	struct iouw_loop_stats stats;

	iouw_loop_stats(r->loop, &stats);
	for (size_t i = 0; i < st->nargs; i++) {
		const struct iouw_scn_arg *a = &st->args[i];
		uint64_t want = a->param->type == IOUW_SCN_T_BOOL ? a->b : (uint64_t)a->i;
		uint64_t got = table_fact(r, a->key, &stats);

		if (want != got)
			return failf(r, st->text, "%s=%llu", a->key, (unsigned long long)got);
	}
	return true;
}

static bool ex_expect_slot(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_waiters *w = iouw_loop_table(r->loop);
	struct iouw_waiter_info info;
	int64_t idx = iouw_scn_pos(st, 0)->i;
	const struct iouw_scn_arg *a;
	struct reqent *holder;

	if (iouw_waiters_slot(w, (uint32_t)idx, &info) < 0)
		return failf(r, st->text, "slot %lld out of range (capacity %u)", (long long)idx,
		             iouw_waiters_capacity(w));
	if ((a = iouw_scn_key(st, "gen")) && (uint64_t)a->i != iouw_waiter_id_generation(info.id))
		return failf(r, st->text, "gen=%u", iouw_waiter_id_generation(info.id));
	if ((a = iouw_scn_key(st, "occupied")) && a->b != info.occupied)
		return failf(r, st->text, "occupied=%d", info.occupied);
	if ((a = iouw_scn_key(st, "inflight")) && a->b != info.in_flight)
		return failf(r, st->text, "inflight=%d", info.in_flight);
	if ((a = iouw_scn_key(st, "state"))) {
		const char *got = !info.occupied ? "free"
		                  : info.state == IOUW_WAITER_ACTIVE ? "active"
		                                                     : "cancel_requested";

		if (strcmp(a->val, got))
			return failf(r, st->text, "state=%s", got);
	}
	if ((a = iouw_scn_key(st, "req"))) {
		struct reqent *q = req_of(r, a);

		holder = info.occupied ? req_by_id(r, info.id) : NULL;
		if (!info.occupied || !q->has_id || !iouw_waiter_id_eq(q->id, info.id))
			return failf(r, st->text, "slot holds %s",
			             !info.occupied ? "nothing"
			             : holder       ? holder->name->name
			                            : "an unknown request");
	}
	return true;
}

/* expect ready, cancels, stuck. */
static bool ex_expect_idlist(struct runner *r, const struct iouw_scn_step *st)
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
		struct reqent *q = req_by_id(r, ids[i]);
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
		return failf(r, st->text, "%s", got);
	return true;
}

/* ---- expectations of harness/expect.h (one function each) ------------------------ */

/* expect fd NAME open|closed */
static bool ex_expect_fd(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = req_of(r, iouw_scn_pos(st, 0));
	bool closed = iouw_scn_pos(st, 1)->u == 1;
	char msg[400];

	if (!iouw_fdl_check(&r->fdl, (size_t)(q - r->reqs), closed, msg, sizeof(msg)))
		return failf(r, st->text, "%s: %s", q->name->name, msg);
	return true;
}

/* The requests, handles and buffers still out (expect outstanding). */
static void count_outstanding(struct runner *r, struct iouw_outstanding *o)
{
	poll_results(r);
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
static bool ex_expect_outstanding(struct runner *r, const struct iouw_scn_step *st)
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
		return envf(r, "reading /proc/self/fd", -e);
	for (size_t k = 0; k < 4; k++) {
		uint64_t got = k == 0 ? o.fds : k == 1 ? o.requests : k == 2 ? o.handles : o.buffers;
		const struct iouw_scn_arg *a = iouw_scn_key(st, keys[k]);

		/* `none`: every count 0; otherwise the counts given. */
		if ((a || none) && got != (a ? (uint64_t)a->i : 0))
			return failf(r, st->text, "fds=%llu requests=%llu handles=%llu buffers=%llu (%s)",
			             (unsigned long long)o.fds, (unsigned long long)o.requests,
			             (unsigned long long)o.handles, (unsigned long long)o.buffers,
			             o.detail[0] ? o.detail : "nothing");
	}
	logf_(r, "outstanding fds=%llu requests=%llu handles=%llu buffers=%llu",
	      (unsigned long long)o.fds, (unsigned long long)o.requests,
	      (unsigned long long)o.handles, (unsigned long long)o.buffers);
	return true;
}

/* expect wait blocked=0|1 bound=D|none moved=D */
static bool ex_expect_wait(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *bd = iouw_scn_key(st, "bound"), *mv = iouw_scn_key(st, "moved");
	const struct iouw_scn_arg *bl = iouw_scn_key(st, "blocked");
	uint64_t bound = bd && !bd->none ? bd->u : IOUW_WAIT_NO_BOUND;
	char msg[512];

	if (!iouw_wait_check(&r->wait, bl ? bl->b : -1, bd != NULL, bound, mv != NULL,
	                     mv ? mv->u : 0, msg, sizeof(msg)))
		return failf(r, st->text, "%s", msg);
	return true;
}

/* expect clock elapsed=D */
static bool ex_expect_clock(struct runner *r, const struct iouw_scn_step *st)
{
	uint64_t want = iouw_scn_key(st, "elapsed")->u, got = r->vc.now_ns - r->start_ns;
	char b[32];

	if (got != want)
		return failf(r, st->text, "elapsed=%s", iouw_expect_fmt_dur(got, b, sizeof(b)));
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
			return failf(r, st->text, "tick=none (no deadline)");
		return failf(r, st->text, "tick=%llu", (unsigned long long)q->admit_tick);
	}
	return true;
}

/* At the end of every run: no request fd that was closed when its request
 * ended has been closed again since (its placeholder is intact), scripted
 * or not. */
static bool audit_fds(struct runner *r)
{
	char msg[400];
	int e = iouw_fdl_settle(&r->fdl);

	if (e < 0)
		return envf(r, "placing an fd placeholder", -e);
	for (size_t i = 0; i < r->nreqs && i < r->fdl.n; i++)
		if (r->fdl.e[i].state == IOUW_FDL_CLOSED &&
		    !iouw_fdl_check(&r->fdl, i, true, msg, sizeof(msg))) {
			r->cur_line = 0;
			r->cur_step = NULL;
			return failf(r, "every request fd closed exactly once", "%s: %s",
			             r->reqs[i].name->name, msg);
		}
	return true;
}

/* After the clock moved: a '#' timeline note (not hashed) for each live
 * request whose deadline tick has now passed, saying it expires only at
 * the next advance (harness/README.md, "Blocking and expiry timing"). The
 * wheel counts ticks of tick_ns from the loop's creation, the run's start. */
static void note_due_deadlines(struct runner *r)
{
	for (size_t i = 0; i < r->nreqs; i++) {
		struct reqent *q = &r->reqs[i];
		uint64_t due;

		if (!q->req || q->dead || !q->has_id || q->due_noted || q->admit_tick == IOUW_NO_TICK)
			continue;
		due = r->start_ns + q->admit_tick * r->cfg.tick_ns;
		if (r->vc.now_ns < due)
			continue;
		q->due_noted = true;
		logf_(r, "# clock: %s's deadline (tick %llu) has passed: it expires at the next "
		         "advance (the next turn, or `advance`), not now", q->name->name,
		      (unsigned long long)q->admit_tick);
	}
}

/* Exactly the bytes named from the peer end, no more (a later expect reads
 * on); waits up to the CQE timeout for them. */
static ssize_t read_peer(struct runner *r, struct fdent *f, char *got, size_t want)
{
	size_t have = 0;
	uint64_t end = mono_ns() + cqe_timeout(r);

	while (have < want && f->peer >= 0) {
		ssize_t n = recv(f->peer, got + have, want - have, MSG_DONTWAIT);

		if (n > 0)
			have += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR) || mono_ns() > end)
			break;
		else
			usleep(1000);
	}
	return (ssize_t)have;
}

/* expect peer, expect file. */
static bool ex_expect_bytes(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = fd_by_name(r, iouw_scn_pos(st, 0)->name->name);
	const struct iouw_scn_arg *d = iouw_scn_key(st, "data");
	bool peer = st->op == IOUW_SCN_EXPECT_PEER;
	char *got = malloc(d->val_len + 1);
	ssize_t n;
	bool ok;

	if (!got)
		return envf(r, "a buffer", ENOMEM);
	if (peer) {
		n = read_peer(r, f, got, d->val_len);
	} else {
		n = pread(f->fd, got, d->val_len, (off_t)iouw_scn_int(st, "off"));
		if (n < 0)
			n = 0;
	}
	ok = (size_t)n == d->val_len && memcmp(got, d->val, d->val_len) == 0;
	logf_(r, "%s %s %zd bytes", peer ? "peer read" : "file read", f->name->name, n);
	if (!ok)
		failf(r, st->text, "%zd bytes \"%.*s\"", n, (int)(n > 200 ? 200 : n), got);
	free(got);
	return ok;
}

/* repeat blocks are expanded by the parser: no step has this op. */
static bool ex_repeat(struct runner *r, const struct iouw_scn_step *st)
{
	(void)r, (void)st;
	IOUW_INVARIANT(false, "repeat blocks are expanded by the parser");
	return false;
}

static bool ex_expect_consistent(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_loop_assert_consistent(r->loop);
	return true;
}

/* ---- steps ---------------------------------------------------------------------- */

static bool after_phase(struct runner *r)
{
	poll_results(r);
	iouw_loop_assert_consistent(r->loop);
	return !r->failed;
}

static bool loop_fatal(struct runner *r, const struct iouw_scn_step *st, int e)
{
	char b[32];

	if (e >= 0)
		return true;
	if (e == -EDEADLK)
		return failf(r, st->text, "the loop would block forever: no CQE named and no deadline");
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		return envf(r, "the loop", -e);
	return failf(r, st->text, "loop returned fatal %s", res_str(e, b, sizeof(b)));
}

static bool exec_step(struct runner *r, const struct iouw_scn_step *st);

/* Append "LINE:BRANCH" to r->branches; once the next one does not fit,
 * end it in ",..." (after a whole entry) and add nothing more. */
static void note_branch(struct runner *r, int line, size_t branch)
{
	size_t len = strlen(r->branches), cap = sizeof(r->branches);
	char t[32];
	int n;

	if (len >= 3 && !strcmp(r->branches + len - 3, "..."))
		return;
	/* Every entry leaves room for the ",..." that may follow it. */
	n = snprintf(t, sizeof(t), "%s%d:%zu", len ? "," : "", line, branch);
	if (n > 0 && len + (size_t)n + 5 <= cap)
		memcpy(r->branches + len, t, (size_t)n + 1);
	else
		memcpy(r->branches + len, len ? ",..." : "...", len ? 5 : 4);
}

/* Kernel mode: whether the CQEs the kernel posted match the guard (the
 * leading cqe lines) of @blk; @why says why not. Fails the run (returns
 * -1) when a guard names a request that has no waiter id. */
static int guard_matches(struct runner *r, const struct iouw_scn_block *blk, char *why,
                         size_t whylen)
{
	unsigned idx = (unsigned)iouw_skernel_cq_ready(r->k);

	for (size_t i = 0; i < blk->n && blk->steps[i].op == IOUW_SCN_CQE; i++, idx++) {
		uint64_t ud;
		const struct iouw_scn_arg *alts;
		int32_t res;

		r->cur_line = blk->steps[i].line;
		if (!cqe_target(r, &blk->steps[i], &ud, &alts))
			return -1;
		if (!kernel_match(r, idx, ud, alts, &res, true, why, whylen))
			return 0;
	}
	return 1;
}

/* Kernel mode: the branch whose guard the kernel's CQEs match. */
static bool choose_branch(struct runner *r, const struct iouw_scn_step *st, size_t *ret)
{
	char why[16][160];
	char act[1024] = "";

	for (size_t b = 0; b < st->nbranches; b++) {
		int m = guard_matches(r, &st->branches[b], why[b], sizeof(why[b]));

		if (m < 0)
			return false;
		if (m > 0) {
			*ret = b;
			return true;
		}
	}
	for (size_t b = 0; b < st->nbranches && b < 16; b++) {
		char t[200];

		snprintf(t, sizeof(t), "%sbranch %zu: %s", b ? "; " : "", b + 1, why[b]);
		strncat(act, t, sizeof(act) - strlen(act) - 1);
	}
	r->cur_line = st->line;
	return failf(r, "one of the either/or branches", "%s", act);
}

static bool ex_either(struct runner *r, const struct iouw_scn_step *st)
{
	size_t chosen = 0;

	if (r->mode == IOUW_RUN_KERNEL) {
		if (!choose_branch(r, st, &chosen))
			return false;
		note_branch(r, st->line, chosen + 1);
	} else {
		chosen = r->o->inject_branch < st->nbranches ? r->o->inject_branch
		                                             : st->nbranches - 1;
	}
	logf_(r, "# branch %zu", chosen + 1); /* '#': not hashed */
	for (size_t i = 0; i < st->branches[chosen].n; i++)
		if (!exec_step(r, &st->branches[chosen].steps[i]))
			return false;
	return true;
}

/* modes, negative, config (read before the run), expect abort (run by
 * exec_block with the step after it). */
static bool ex_nothing(struct runner *r, const struct iouw_scn_step *st)
{
	(void)r, (void)st;
	return true;
}

static bool ex_submit_req(struct runner *r, const struct iouw_scn_step *st)
{
	for (size_t i = 0; i < st->nargs; i++) {
		struct reqent *q = req_of(r, &st->args[i]);
		char b[32];
		int e;

		if (q->submitted)
			return failf(r, st->text, "%s was already submitted", q->name->name);
		e = iouw_loop_submit(r->loop, q->req);
		if (e == -EAGAIN)
			return failf(r, st->text, "iouw_loop_submit(%s) = -EAGAIN: the inbound queue is "
			             "full (it holds at most the ring size, %u requests, until a turn "
			             "admits them)", q->name->name, r->cfg.ring_size);
		if (e < 0)
			return failf(r, st->text, "iouw_loop_submit(%s) = %s", q->name->name,
			             res_str(e, b, sizeof(b)));
		q->submitted = true;
		logf_(r, "submit %s", q->name->name);
	}
	return true;
}

static bool ex_phase_submit(struct runner *r, const struct iouw_scn_step *st)
{
	return loop_fatal(r, st, iouw_loop_submit_and_wait(r->loop, false)) && after_phase(r);
}

static bool ex_turn(struct runner *r, const struct iouw_scn_step *st)
{
	const struct iouw_scn_arg *count = iouw_scn_at(st, 0), *err = iouw_scn_key(st, "error");
	uint64_t n = count ? (uint64_t)count->i : 1;
	bool block = iouw_scn_at(st, 1) != NULL;
	char b[32], w[32];
	int e;

	r->block_step = block;

	for (uint64_t i = 0; i + (err ? 1 : 0) < n; i++)
		if (!loop_fatal(r, st, iouw_loop_turn(r->loop, block)) || !after_phase(r))
			return false;
	if (!err)
		return true;
	/* The last turn must return this fatal error. */
	e = iouw_loop_turn(r->loop, block);
	logf_(r, "turn -> %s", res_str(e, b, sizeof(b)));
	if (e != err->i)
		return failf(r, st->text, "the turn returned %s, not %s", res_str(e, b, sizeof(b)),
		             res_str(err->i, w, sizeof(w)));
	return after_phase(r);
}

static bool ex_wait_fail(struct runner *r, const struct iouw_scn_step *st)
{
	r->fail_left = (unsigned)iouw_scn_int(st, "times");
	iouw_skernel_fail_waits_after_submit(r->k, (int)iouw_scn_int(st, "res"), r->fail_left);
	return true;
}

static bool ex_reap(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	logf_(r, "reaped %zu", iouw_loop_reap(r->loop));
	return after_phase(r);
}

static bool ex_advance(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_loop_advance_timeouts(r->loop);
	return after_phase(r);
}

static bool ex_fill(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	logf_(r, "fill full=%d", iouw_loop_fill_sq(r->loop));
	return after_phase(r);
}

static bool ex_run(struct runner *r, const struct iouw_scn_step *st)
{
	int e;

	if (!iouw_loop_is_closed(r->loop))
		return failf(r, "close before run", "the loop is still open: run would not end");
	e = iouw_loop_run(r->loop);
	logf_(r, "run -> %d", e);
	return loop_fatal(r, st, e) && after_phase(r);
}

static bool ex_close(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_loop_close(r->loop);
	logf_(r, "close");
	return true;
}

static bool ex_clock(struct runner *r, const struct iouw_scn_step *st)
{
	uint64_t d = (uint64_t)iouw_scn_pos(st, 0)->i; /* never negative (parser) */

	iouw_virtual_clock_advance(&r->vc, d);
	logf_(r, "clock +%llu", (unsigned long long)d);
	note_due_deadlines(r);
	return true;
}

static bool ex_pause(struct runner *r, const struct iouw_scn_step *st)
{
	uint64_t d = iouw_scn_pos(st, 0)->u;
	struct timespec ts;

	(void)r;
	ts.tv_sec = (time_t)(d / 1000000000u);
	ts.tv_nsec = (long)(d % 1000000000u);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return true;
}

static bool ex_cancel(struct runner *r, const struct iouw_scn_step *st)
{
	/* The loop's own rule (docs/loop.md §6.11): request the cancel (the
	 * deadline leaves the wheel); `sqe=1` also stages the ASYNC_CANCEL the
	 * loop would stage for an expired deadline, for kinds that carry none
	 * (read_at, write_at, sync). */
	struct reqent *q = req_of(r, iouw_scn_pos(st, 0));
	const struct iouw_scn_arg *a;
	bool sqe = iouw_scn_flag(st, "sqe");
	bool took;
	int e;

	if (!q->has_id)
		return failf(r, "an admitted request", "%s has no waiter id", q->name->name);
	e = iouw_loop_cancel(r->loop, q->id, sqe ? IOUW_LOOP_CANCEL_STAGE : IOUW_LOOP_CANCEL_REQUEST,
	                     sqe ? (uint32_t)iouw_scn_int(st, "cancel_flags") : 0);
	if (e == -EBUSY)
		return failf(r, st->text, "no SQ room for the cancel SQE");
	took = e == 1;
	logf_(r, "table cancel %s took=%d", q->name->name, took);
	if ((a = iouw_scn_key(st, "took")) && a->b != took)
		return failf(r, st->text, "took=%d", took);
	return true;
}

static bool ex_corrupt(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = req_of(r, iouw_scn_pos(st, 0));

	if (!q->req || q->dead)
		return failf(r, st->text, "%s is no longer alive", q->name->name);
	/* Test-only hook of core/request.h: builds a shape the
	 * constructors refuse, so its panic can be scripted. */
	iouw_request_test_set_shape(q->req, (size_t)iouw_scn_int(st, "progress"),
	                            (size_t)iouw_scn_int(st, "len"),
	                            (size_t)iouw_scn_int(st, "capacity"));
	logf_(r, "corrupt %s", q->name->name);
	return true;
}

static bool ex_drop(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = req_of(r, iouw_scn_pos(st, 0));

	if (q->dropped)
		return failf(r, st->text, "%s was already dropped", q->name->name);
	iouw_handle_drop(q->handle);
	q->dropped = true;
	logf_(r, "drop %s", q->name->name);
	return true;
}

static bool ex_set_generation(struct runner *r, const struct iouw_scn_step *st)
{
	struct iouw_waiters *w = iouw_loop_waiters(r->loop);
	int64_t slot = iouw_scn_int(st, "slot"), gen = iouw_scn_int(st, "gen");
	int e = iouw_waiters_set_generation(w, (uint32_t)slot, (uint32_t)gen);
	char b[32];

	if (e == -ERANGE)
		return failf(r, st->text, "slot %lld is outside the waiter table: slots 0..%u",
		             (long long)slot, iouw_waiters_capacity(w) - 1);
	if (e == -EBUSY)
		return failf(r, st->text, "slot %lld is occupied (only a free slot's next "
		             "generation can be set)", (long long)slot);
	if (e < 0)
		return failf(r, st->text, "set_generation = %s", res_str(e, b, sizeof(b)));
	logf_(r, "set_generation slot=%lld gen=%lld", (long long)slot, (long long)gen);
	return true;
}

static struct fdent *peer_fd(struct runner *r, const struct iouw_scn_step *st)
{
	return fd_by_name(r, iouw_scn_pos(st, 0)->name->name);
}

static bool ex_peer_write(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);
	const struct iouw_scn_arg *a = iouw_scn_pos(st, 1);

	if (f->peer < 0 || write(f->peer, a->val, a->val_len) != (ssize_t)a->val_len)
		return failf(r, st->text, "peer write failed: %s", strerror(errno));
	logf_(r, "peer write %s %zu", f->name->name, a->val_len);
	return true;
}

static bool ex_peer_close(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);

	if (f->peer >= 0)
		close(f->peer);
	f->peer = -1;
	logf_(r, "peer close %s", f->name->name);
	return true;
}

static char junk[65536];

static bool ex_peer_fill(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);
	size_t total = 0;
	ssize_t n;

	if (f->name->kind == IOUW_SCN_NAME_PIPE)
		return failf(r, "a socketpair", "peer fill works on sockets only");
	while ((n = send(f->fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
		total += (size_t)n;
	logf_(r, "peer fill %s (%s)", f->name->name, total ? "filled" : "already full");
	return true;
}

static bool ex_peer_drain(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);
	ssize_t n;

	if (f->peer >= 0 && f->name->kind == IOUW_SCN_NAME_SOCKET)
		while ((n = recv(f->peer, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
			;
	logf_(r, "peer drain %s", f->name->name);
	return true;
}

typedef bool (*exec_fn)(struct runner *r, const struct iouw_scn_step *st);
#define EXEC_ROW(op, name, params, chk, ex, ...) [IOUW_SCN_##op] = ex,
static const exec_fn execs[IOUW_SCN_NOPS] = { IOUW_SCN_COMMANDS(EXEC_ROW) };
#undef EXEC_ROW

/* The RECORD column: what `iouwait record` writes before the step runs
 * (cqe lines write theirs once the kernel's res is known: rec_cqe). */
static void record_step(struct runner *r, const struct iouw_scn_step *st)
{
	switch (st->cmd->record) {
	case IOUW_SCN_REC_LINE:
		/* Branches are flattened: drop their indentation. */
		rec_write(r, "%s\n", st->text + strspn(st->text, " \t"));
		break;
	case IOUW_SCN_REC_MODES:
		rec_write(r, "modes inject\n");
		break;
	case IOUW_SCN_REC_CQE:
	case IOUW_SCN_REC_NONE:
		break;
	}
}

static bool exec_step(struct runner *r, const struct iouw_scn_step *st)
{
	int e;

	r->cur_line = st->line;
	r->cur_step = st;
	r->block_step = st->op == IOUW_SCN_RUN;
	/* Request fds closed by the previous step get their placeholder
	 * before anything can reuse their numbers (harness/expect.h). */
	e = iouw_fdl_settle(&r->fdl);
	if (e < 0)
		return envf(r, "placing an fd placeholder", -e);
	record_step(r, st);
	return execs[st->op](r, st);
}

/* Run @st in a child that must die of SIGABRT naming @name. */
static bool exec_expect_abort(struct runner *r, const struct iouw_scn_step *abort_step,
                              const struct iouw_scn_step *st)
{
	const char *name = iouw_scn_pos(abort_step, 0)->val; /* the invariant's name */
	int pfd[2], status;
	pid_t pid;
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	char want[600];

	r->cur_line = st->line;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return envf(r, "pipe2", errno);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(pfd[0]);
		close(pfd[1]);
		return envf(r, "fork", err);
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(pfd[1], 2);
		if (devnull >= 0)
			dup2(devnull, 1);
		signal(SIGABRT, SIG_DFL);
		r->rec = NULL;
		(void)exec_step(r, st);
		_exit(r->failed ? 2 : 0);
	}
	close(pfd[1]);
	while (got < sizeof(buf) - 1 && (n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	snprintf(want, sizeof(want), "invariant violated: %s (", name);
	logf_(r, "abort-step %s", WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT ? "SIGABRT"
	                                                                            : "no abort");
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) || !strstr(buf, want)) {
		char exp[640];
		char *nl;

		while ((nl = strchr(buf, '\n')) && nl[1] == '\0')
			*nl = '\0';
		snprintf(exp, sizeof(exp), "abort naming \"%s\"", name);
		if (WIFSIGNALED(status))
			return failf(r, exp, "signal %d, stderr: %.400s", WTERMSIG(status), buf);
		return failf(r, exp, "exit %d (no abort), stderr: %.400s", WEXITSTATUS(status), buf);
	}
	rec_write(r, "%s\n%s\n", abort_step->text, st->text);
	r->ended = true;
	return true;
}

static bool exec_block(struct runner *r, const struct iouw_scn_block *b)
{
	for (size_t i = 0; i < b->n && !r->ended; i++) {
		const struct iouw_scn_step *st = &b->steps[i];

		if (st->op == IOUW_SCN_EXPECT_ABORT) {
			r->cur_line = st->line;
			if (i + 1 >= b->n)
				return failf(r, "a step after expect abort", "end of script");
			if (!exec_expect_abort(r, st, &b->steps[i + 1]))
				return false;
			return true;
		}
		if (!exec_step(r, st))
			return false;
	}
	return true;
}

/* ---- setup / teardown ------------------------------------------------------------ */

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
	iouw_kmj_free(r->kmj);
}

static const char *step_text(const struct iouw_scn_block *b, int line)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->steps[i].line == line)
			return b->steps[i].text;
		for (size_t j = 0; j < b->steps[i].nbranches; j++) {
			const char *t = step_text(&b->steps[i].branches[j], line);

			if (t)
				return t;
		}
	}
	return NULL;
}

static void print_timeline(struct runner *r, FILE *out)
{
	int last_line = -1;

	fprintf(out, "  timeline (script line, then what happened):\n");
	for (size_t i = 0; i < r->nlog; i++) {
		if (r->log[i].line != last_line) {
			const char *t = step_text(&r->s->body, r->log[i].line);

			if (r->log[i].iter)
				fprintf(out, "   %4d| %s   [repeat iteration %u]\n", r->log[i].line,
				        t ? t : "", r->log[i].iter);
			else
				fprintf(out, "   %4d| %s\n", r->log[i].line, t ? t : "");
			last_line = r->log[i].line;
		}
		fprintf(out, "         %s\n", r->log[i].text);
	}
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

/* Inject mode: how the scripted kernel posts CQEs on @inner (NOP injection,
 * else MSG_RING). false with a SKIP verdict in @ret when neither works. */
static bool choose_injection(struct runner *r, struct iouw_backend *inner,
                             enum iouw_skernel_transport *how, struct iouw_run_result *ret)
{
	int e, m;

	*how = IOUW_SKERNEL_NOP_INJECT;
	e = r->o->force_msg_ring ? -EOPNOTSUPP : iouw_uring_probe_nop_inject(inner);
	if (e < 0) {
		m = iouw_uring_probe_msg_ring(inner);
		if (m < 0) {
			ret->verdict = IOUW_VERDICT_SKIP;
			snprintf(ret->reason, sizeof(ret->reason),
			         "no CQE injection: NOP inject %s, MSG_RING %s", strerror(-e), strerror(-m));
			return false;
		}
		*how = IOUW_SKERNEL_MSG_RING;
	}
	snprintf(ret->inject_via, sizeof(ret->inject_via), "%s",
	         *how == IOUW_SKERNEL_MSG_RING ? "msg_ring" : "nop");
	return true;
}

/* The ring and the scripted kernel over it (r->k). false with the verdict
 * in @ret (nothing left to free). */
static bool setup_kernel(struct runner *r, const struct iouw_uring_config *ucfg,
                         struct iouw_run_result *ret)
{
	struct iouw_backend *inner = NULL;
	enum iouw_skernel_transport how = IOUW_SKERNEL_KERNEL;
	bool skip;
	int e;

	/* The one skip policy (README, "Skip policy"): io_uring unavailable
	 * here (setup or enter refused, a seccomp filter on io_uring_enter
	 * alone included) skips; once a ring works, the backend failing to
	 * set up (out of memory or fds) is the environment failing. */
	e = iouw_uring_available();
	skip = e < 0 && iouw_uring_unavailable(e);
	if (e == 0) {
		e = iouw_uring_backend_new(ucfg, &inner);
		skip = e != -ENOMEM && iouw_uring_unavailable(e);
	}
	if (e < 0) {
		ret->verdict = skip ? IOUW_VERDICT_SKIP : IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "%s: %s",
		         skip ? "io_uring unavailable" : "environment: io_uring setup", strerror(-e));
		return false;
	}
	if (r->mode == IOUW_RUN_INJECT && !choose_injection(r, inner, &how, ret)) {
		iouw_backend_free(inner);
		return false;
	}
	/* The scripted kernel owns the ring from here on. */
	e = iouw_skernel_new_ring(r->sq_cap, inner, how, &r->k);
	if (e < 0) {
		ret->verdict = IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "environment: scripted kernel: %s",
		         strerror(-e));
		return false;
	}
	iouw_skernel_set_clock(r->k, &r->vc);
	iouw_skernel_set_move_data(r->k, r->mode == IOUW_RUN_INJECT);
	iouw_skernel_set_post_timeout(r->k, cqe_timeout(r));
	/* A script that would spin forever ends (-ELOOP). */
	iouw_skernel_set_wait_limit(r->k, 1000000);
	return true;
}

/* The loop on the scripted kernel, observed. false with the verdict in
 * @ret (the kernel freed). */
static bool setup_loop(struct runner *r, struct iouw_run_result *ret)
{
	int e = iouw_loop_new(&r->cfg, r->k, iouw_virtual_clock_as_clock(&r->vc), &r->loop);

	if (e == 0 && !(r->kmj = iouw_kmj_new(r->s->kernel_hostile))) {
		iouw_loop_free(r->loop);
		r->loop = NULL;
		e = -ENOMEM;
	}
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
	char why[64];
	/* Arm the wake poll before line 1 (it takes an SQ slot of its own), so
	 * a script's first turn starts from an idle, armed loop. */
	int e = cs && !iouw_scn_flag(cs, "prearm") ? 0 : iouw_loop_turn(r->loop, false);

	r->start_ns = r->vc.now_ns;
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		envf(r, "the first turn", -e);
	else if (e < 0)
		failf(r, "the first turn to arm the wake poll", "turn returned %d", e);
	else if ((e = iouw_fdl_init(&r->fdl)) < 0)
		envf(r, "the fd ledger (/proc/self/fd)", -e);
	else
		exec_block(r, &r->s->body);
	if (!r->failed && !r->ended && r->deferred_head < r->ndeferred) {
		r->cur_line = r->deferred[r->deferred_head]->line;
		failf(r, "the loop to wait for this deferred CQE", "no blocking wait released it");
	}
	if (!r->failed && iouw_kmj_unmet(r->kmj, why, sizeof(why))) {
		r->cur_line = 0;
		failf(r, "every rule of `kernel hostile` broken by a CQE", "no CQE broke %s", why);
	}
	if (!r->failed && !r->ended)
		audit_fds(r);
	if (!r->failed && !r->ended && r->mode == IOUW_RUN_KERNEL) {
		/* Every CQE the kernel posted must be named by the script. */
		unsigned named = (unsigned)iouw_skernel_cq_ready(r->k);

		if (io_uring_cq_ready(iouw_skernel_ring(r->k)) > named) {
			const struct io_uring_cqe *c = peek_cq(r, named);
			char b1[64], b2[32];

			r->cur_line = 0;
			failf(r, "every CQE named by the script",
			      "unnamed CQE at the end: %s res=%s", ud_str(r, c->user_data, b1, sizeof(b1)),
			      res_str(c->res, b2, sizeof(b2)));
		}
	}
}

/* The run's hash: every timeline line but the '#' notes. */
static uint64_t log_hash(const struct runner *r)
{
	uint64_t h = IOUW_FNV_OFFSET;

	for (size_t i = 0; i < r->nlog; i++) {
		if (r->log[i].text[0] == '#')
			continue;
		h = iouw_fnv1a(h, r->log[i].text, strlen(r->log[i].text));
		h = iouw_fnv1a(h, "\n", 1);
	}
	return h;
}

/* The verdict into @ret, and the report (timeline, departure). */
static void report_run(struct runner *r, struct iouw_run_result *ret)
{
	const struct iouw_scenario *s = r->s;
	const struct iouw_run_options *o = r->o;

	ret->hash = log_hash(r);
	memcpy(ret->branches, r->branches, sizeof(ret->branches));
	if (r->env_failed) {
		/* Not a departure: the hash and the timeline are incomplete. */
		ret->verdict = IOUW_VERDICT_ERROR;
		ret->fail_line = r->fail_line;
		snprintf(ret->reason, sizeof(ret->reason), "environment: %.300s (at %.150s:%d)", r->actual,
		         s->name, r->fail_line);
	} else if (r->failed) {
		const char *t = step_text(&s->body, r->fail_line);

		ret->verdict = IOUW_VERDICT_FAIL;
		ret->fail_line = r->fail_line;
		snprintf(ret->reason, sizeof(ret->reason), "%s:%d: departed from the script",
		         s->name, r->fail_line);
		if (o->report) {
			print_timeline(r, o->report);
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
			print_timeline(r, o->report);
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
	if (!setup_config(r, cs, &ucfg, ret) || !setup_kernel(r, &ucfg, ret) ||
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

int iouw_scenario_record(const struct iouw_scenario *s, const char *out_path,
                         const struct iouw_run_options *o, struct iouw_run_result *ret)
{
	struct iouw_run_options ro;
	struct iouw_outfile out;
	char err[512];
	FILE *f;
	int fd, e = 0;

	if (!s || !out_path || !o || !ret)
		return -EINVAL;
	e = iouw_outfile_open(out_path, NULL, 0, &out, err, sizeof(err));
	if (e < 0)
		return e;
	fd = dup(out.fd);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		e = -errno;
		if (fd >= 0)
			close(fd);
		iouw_outfile_discard(&out);
		return e;
	}
	ro = *o;
	ro.mode = IOUW_RUN_KERNEL;
	ro.record = f;
	e = iouw_scenario_run(s, &ro, ret);
	if (fclose(f) != 0 && e == 0 && ret->verdict == IOUW_VERDICT_PASS) {
		ret->verdict = IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "environment: writing the recording: %s",
		         strerror(errno));
	}
	if (e == 0 && ret->verdict == IOUW_VERDICT_PASS)
		return iouw_outfile_commit(&out, err, sizeof(err));
	iouw_outfile_discard(&out);
	return e;
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
