/* harness/steps.c: step execution, one function per command
 * (iouw_run_ex_*), reached through the EXEC column of the command table
 * (harness/commands.h); the `expect` ones are in expectations.c, `cqe` in
 * skernel_drive.c.
 *
 * Owns the fds and requests a script creates, the loop-driving steps, the
 * peer-side steps, either/or branches (chosen by the kernel's CQEs in kernel
 * mode, by the options in inject mode), `expect abort` (the next step run in
 * a child that must die naming the invariant), and the step loop itself.
 *
 * Invariants: each step reads its typed values, never its text; a failing
 * step records the expected and actual values and stops the run (false);
 * before a step runs, request fds closed by the previous one get their
 * placeholder (harness/expect.h) and the recorder writes its RECORD column.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "invariant.h"
#include "skernel.h"

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

static bool make_temp_file(struct runner *r, const struct iouw_scn_step *st, struct fdent *f)
{
	const struct iouw_scn_arg *c = iouw_scn_key(st, "content");
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/iouwait-scn-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return iouw_run_envf(r, "mkostemp", errno);
	/* Unlinked at once: nothing is left behind, even after a crash. */
	unlink(path);
	f->fd = fd;
	if (c && c->val_len && pwrite(fd, c->val, c->val_len, 0) != (ssize_t)c->val_len) {
		int err = errno ? errno : ENOSPC;

		close(fd);
		f->fd = -1;
		return iouw_run_envf(r, "writing a temp file", err);
	}
	return true;
}

/* socketpair, pipe, file. */
bool iouw_run_ex_make_fd(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = &r->fds[r->nfds];
	int sv[2];

	f->name = iouw_scn_pos(st, 0)->name;
	f->fd = f->peer = -1;
	if (st->op == IOUW_SCN_SOCKETPAIR) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return iouw_run_envf(r, "socketpair", errno);
		f->fd = sv[0];
		f->peer = sv[1];
	} else if (st->op == IOUW_SCN_PIPE) {
		if (pipe2(sv, O_CLOEXEC) < 0)
			return iouw_run_envf(r, "pipe2", errno);
		f->fd = sv[0];
		f->peer = sv[1];
	} else if (!make_temp_file(r, st, f)) {
		return false;
	}
	r->nfds++;
	return true;
}

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
bool iouw_run_ex_make_request(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = &r->reqs[r->nreqs];
	int e;

	memset(q, 0, sizeof(*q));
	q->name = iouw_scn_pos(st, 0)->name;
	q->fd = iouw_run_fd_by_name(r, iouw_scn_key(st, "fd")->name->name);
	q->async = iouw_scn_flag(st, "async");
	q->admit_expired = -1;
	e = construct(r, st, q);
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		return iouw_run_envf(r, "creating the request", -e);
	if (e < 0) {
		char b[32];

		return iouw_run_failf(r, "the request to be created", "constructor returned %s",
		                      iouw_run_res_str(e, b, sizeof(b)));
	}
	e = iouw_fdl_track(&r->fdl, r->nreqs, iouw_request_fd(q->req));
	r->nreqs++;
	if (e < 0)
		return iouw_run_envf(r, "recording the request's fd", -e);
	iouw_run_logf(r, "create %s", q->name->name);
	return true;
}

/* repeat blocks are expanded by the parser: no step has this op. */
bool iouw_run_ex_repeat(struct runner *r, const struct iouw_scn_step *st)
{
	(void)r, (void)st;
	IOUW_INVARIANT(false, "repeat blocks are expanded by the parser");
	return false;
}

static bool after_phase(struct runner *r)
{
	iouw_run_poll_results(r);
	iouw_loop_assert_consistent(r->loop);
	return !r->failed;
}

static bool loop_fatal(struct runner *r, const struct iouw_scn_step *st, int e)
{
	char b[32];

	if (e >= 0)
		return true;
	if (e == -EDEADLK)
		return iouw_run_failf(r, st->text, "the loop would block forever: no CQE named and no deadline");
	if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
		return iouw_run_envf(r, "the loop", -e);
	return iouw_run_failf(r, st->text, "loop returned fatal %s", iouw_run_res_str(e, b, sizeof(b)));
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
		if (!iouw_run_cqe_target(r, &blk->steps[i], &ud, &alts))
			return -1;
		if (!iouw_run_kernel_match(r, idx, ud, alts, &res, true, why, whylen))
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
	return iouw_run_failf(r, "one of the either/or branches", "%s", act);
}

bool iouw_run_ex_either(struct runner *r, const struct iouw_scn_step *st)
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
	iouw_run_logf(r, "# branch %zu", chosen + 1); /* '#': not hashed */
	for (size_t i = 0; i < st->branches[chosen].n; i++)
		if (!exec_step(r, &st->branches[chosen].steps[i]))
			return false;
	return true;
}

/* modes, negative, config (read before the run), expect abort (run by
 * iouw_run_exec_block with the step after it). */
bool iouw_run_ex_nothing(struct runner *r, const struct iouw_scn_step *st)
{
	(void)r, (void)st;
	return true;
}

bool iouw_run_ex_submit_req(struct runner *r, const struct iouw_scn_step *st)
{
	for (size_t i = 0; i < st->nargs; i++) {
		struct reqent *q = iouw_run_req_of(r, &st->args[i]);
		char b[32];
		int e;

		if (q->submitted)
			return iouw_run_failf(r, st->text, "%s was already submitted", q->name->name);
		e = iouw_loop_submit(r->loop, q->req);
		if (e == -EAGAIN)
			return iouw_run_failf(r, st->text, "iouw_loop_submit(%s) = -EAGAIN: the inbound queue is "
			                      "full (it holds at most the ring size, %u requests, until a turn "
			                      "admits them)", q->name->name, r->cfg.ring_size);
		if (e < 0)
			return iouw_run_failf(r, st->text, "iouw_loop_submit(%s) = %s", q->name->name,
			                      iouw_run_res_str(e, b, sizeof(b)));
		q->submitted = true;
		iouw_run_logf(r, "submit %s", q->name->name);
	}
	return true;
}

bool iouw_run_ex_phase_submit(struct runner *r, const struct iouw_scn_step *st)
{
	return loop_fatal(r, st, iouw_loop_submit_and_wait(r->loop, false)) && after_phase(r);
}

bool iouw_run_ex_turn(struct runner *r, const struct iouw_scn_step *st)
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
	iouw_run_logf(r, "turn -> %s", iouw_run_res_str(e, b, sizeof(b)));
	if (e != err->i)
		return iouw_run_failf(r, st->text, "the turn returned %s, not %s",
		                      iouw_run_res_str(e, b, sizeof(b)),
		                      iouw_run_res_str(err->i, w, sizeof(w)));
	return after_phase(r);
}

bool iouw_run_ex_wait_fail(struct runner *r, const struct iouw_scn_step *st)
{
	r->fail_left = (unsigned)iouw_scn_int(st, "times");
	iouw_skernel_fail_waits_after_submit(r->k, (int)iouw_scn_int(st, "res"), r->fail_left);
	return true;
}

bool iouw_run_ex_reap(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_run_logf(r, "reaped %zu", iouw_loop_reap(r->loop));
	return after_phase(r);
}

bool iouw_run_ex_advance(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_loop_advance_timeouts(r->loop);
	return after_phase(r);
}

bool iouw_run_ex_fill(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_run_logf(r, "fill full=%d", iouw_loop_fill_sq(r->loop));
	return after_phase(r);
}

bool iouw_run_ex_run(struct runner *r, const struct iouw_scn_step *st)
{
	int e;

	if (!iouw_loop_is_closed(r->loop))
		return iouw_run_failf(r, "close before run", "the loop is still open: run would not end");
	e = iouw_loop_run(r->loop);
	iouw_run_logf(r, "run -> %d", e);
	return loop_fatal(r, st, e) && after_phase(r);
}

bool iouw_run_ex_close(struct runner *r, const struct iouw_scn_step *st)
{
	(void)st;
	iouw_loop_close(r->loop);
	iouw_run_logf(r, "close");
	return true;
}

bool iouw_run_ex_clock(struct runner *r, const struct iouw_scn_step *st)
{
	uint64_t d = (uint64_t)iouw_scn_pos(st, 0)->i; /* never negative (parser) */

	iouw_virtual_clock_advance(&r->vc, d);
	iouw_run_logf(r, "clock +%llu", (unsigned long long)d);
	iouw_run_note_due_deadlines(r);
	return true;
}

bool iouw_run_ex_pause(struct runner *r, const struct iouw_scn_step *st)
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

bool iouw_run_ex_cancel(struct runner *r, const struct iouw_scn_step *st)
{
	/* The loop's own rule (docs/loop.md §6.11): request the cancel (the
	 * deadline leaves the wheel); `sqe=1` also stages the ASYNC_CANCEL the
	 * loop would stage for an expired deadline, for kinds that carry none
	 * (read_at, write_at, sync). */
	struct reqent *q = iouw_run_req_of(r, iouw_scn_pos(st, 0));
	const struct iouw_scn_arg *a;
	bool sqe = iouw_scn_flag(st, "sqe");
	bool took;
	int e;

	if (!q->has_id)
		return iouw_run_failf(r, "an admitted request", "%s has no waiter id", q->name->name);
	e = iouw_loop_cancel(r->loop, q->id, sqe ? IOUW_LOOP_CANCEL_STAGE : IOUW_LOOP_CANCEL_REQUEST,
	                     sqe ? (uint32_t)iouw_scn_int(st, "cancel_flags") : 0);
	if (e == -EBUSY)
		return iouw_run_failf(r, st->text, "no SQ room for the cancel SQE");
	took = e == 1;
	iouw_run_logf(r, "table cancel %s took=%d", q->name->name, took);
	if ((a = iouw_scn_key(st, "took")) && a->b != took)
		return iouw_run_failf(r, st->text, "took=%d", took);
	return true;
}

bool iouw_run_ex_corrupt(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = iouw_run_req_of(r, iouw_scn_pos(st, 0));

	if (!q->req || q->dead)
		return iouw_run_failf(r, st->text, "%s is no longer alive", q->name->name);
	/* Test-only hook of core/request.h: builds a shape the
	 * constructors refuse, so its panic can be scripted. */
	iouw_request_test_set_shape(q->req, (size_t)iouw_scn_int(st, "progress"),
	                            (size_t)iouw_scn_int(st, "len"),
	                            (size_t)iouw_scn_int(st, "capacity"));
	iouw_run_logf(r, "corrupt %s", q->name->name);
	return true;
}

bool iouw_run_ex_drop(struct runner *r, const struct iouw_scn_step *st)
{
	struct reqent *q = iouw_run_req_of(r, iouw_scn_pos(st, 0));

	if (q->dropped)
		return iouw_run_failf(r, st->text, "%s was already dropped", q->name->name);
	iouw_handle_drop(q->handle);
	q->dropped = true;
	iouw_run_logf(r, "drop %s", q->name->name);
	return true;
}

bool iouw_run_ex_set_generation(struct runner *r, const struct iouw_scn_step *st)
{
	struct iouw_waiters *w = iouw_loop_waiters(r->loop);
	int64_t slot = iouw_scn_int(st, "slot"), gen = iouw_scn_int(st, "gen");
	int e = iouw_waiters_set_generation(w, (uint32_t)slot, (uint32_t)gen);
	char b[32];

	if (e == -ERANGE)
		return iouw_run_failf(r, st->text, "slot %lld is outside the waiter table: slots 0..%u",
		                      (long long)slot, iouw_waiters_capacity(w) - 1);
	if (e == -EBUSY)
		return iouw_run_failf(r, st->text, "slot %lld is occupied (only a free slot's next "
		                      "generation can be set)", (long long)slot);
	if (e < 0)
		return iouw_run_failf(r, st->text, "set_generation = %s", iouw_run_res_str(e, b, sizeof(b)));
	iouw_run_logf(r, "set_generation slot=%lld gen=%lld", (long long)slot, (long long)gen);
	return true;
}

static struct fdent *peer_fd(struct runner *r, const struct iouw_scn_step *st)
{
	return iouw_run_fd_by_name(r, iouw_scn_pos(st, 0)->name->name);
}

bool iouw_run_ex_peer_write(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);
	const struct iouw_scn_arg *a = iouw_scn_pos(st, 1);

	if (f->peer < 0 || write(f->peer, a->val, a->val_len) != (ssize_t)a->val_len)
		return iouw_run_failf(r, st->text, "peer write failed: %s", strerror(errno));
	iouw_run_logf(r, "peer write %s %zu", f->name->name, a->val_len);
	return true;
}

bool iouw_run_ex_peer_close(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);

	if (f->peer >= 0)
		close(f->peer);
	f->peer = -1;
	iouw_run_logf(r, "peer close %s", f->name->name);
	return true;
}

static char junk[65536];

bool iouw_run_ex_peer_fill(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);
	size_t total = 0;
	ssize_t n;

	if (f->name->kind == IOUW_SCN_NAME_PIPE)
		return iouw_run_failf(r, "a socketpair", "peer fill works on sockets only");
	while ((n = send(f->fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
		total += (size_t)n;
	iouw_run_logf(r, "peer fill %s (%s)", f->name->name, total ? "filled" : "already full");
	return true;
}

bool iouw_run_ex_peer_drain(struct runner *r, const struct iouw_scn_step *st)
{
	struct fdent *f = peer_fd(r, st);
	ssize_t n;

	if (f->peer >= 0 && f->name->kind == IOUW_SCN_NAME_SOCKET)
		while ((n = recv(f->peer, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
			;
	iouw_run_logf(r, "peer drain %s", f->name->name);
	return true;
}

typedef bool (*exec_fn)(struct runner *r, const struct iouw_scn_step *st);
#define EXEC_ROW(op, name, params, chk, ex, ...) [IOUW_SCN_##op] = iouw_run_##ex,
static const exec_fn execs[IOUW_SCN_NOPS] = { IOUW_SCN_COMMANDS(EXEC_ROW) };
#undef EXEC_ROW

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
		return iouw_run_envf(r, "placing an fd placeholder", -e);
	iouw_run_record_step(r, st);
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
		return iouw_run_envf(r, "pipe2", errno);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(pfd[0]);
		close(pfd[1]);
		return iouw_run_envf(r, "fork", err);
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
	iouw_run_logf(r, "abort-step %s", WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT ? "SIGABRT"
	                                                                            : "no abort");
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) || !strstr(buf, want)) {
		char exp[640];
		char *nl;

		while ((nl = strchr(buf, '\n')) && nl[1] == '\0')
			*nl = '\0';
		snprintf(exp, sizeof(exp), "abort naming \"%s\"", name);
		if (WIFSIGNALED(status))
			return iouw_run_failf(r, exp, "signal %d, stderr: %.400s", WTERMSIG(status), buf);
		return iouw_run_failf(r, exp, "exit %d (no abort), stderr: %.400s", WEXITSTATUS(status), buf);
	}
	iouw_run_rec_write(r, "%s\n%s\n", abort_step->text, st->text);
	r->ended = true;
	return true;
}

bool iouw_run_exec_block(struct runner *r, const struct iouw_scn_block *b)
{
	for (size_t i = 0; i < b->n && !r->ended; i++) {
		const struct iouw_scn_step *st = &b->steps[i];

		if (st->op == IOUW_SCN_EXPECT_ABORT) {
			r->cur_line = st->line;
			if (i + 1 >= b->n)
				return iouw_run_failf(r, "a step after expect abort", "end of script");
			if (!exec_expect_abort(r, st, &b->steps[i + 1]))
				return false;
			return true;
		}
		if (!exec_step(r, st))
			return false;
	}
	return true;
}
