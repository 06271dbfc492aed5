/* harness/skernel_drive.c: the runner's side of the scripted kernel
 * (core/skernel.h, docs/loop.md §6.12), which the loop runs on over a real
 * ring.
 *
 * In kernel mode the scripted kernel forwards the captured SQEs to the
 * kernel (the wake poll stays behind: a script's loop is single-threaded and
 * never needs waking) and hands the loop only the CQEs the script has named
 * (released one by one); in inject mode it posts the named CQEs by NOP
 * injection or MSG_RING, moving the bytes a result implies. So kernel and
 * inject mode walk the core through the same states. A wait the script
 * cannot satisfy is a timeout on the virtual clock: the kernel moves the
 * clock to the wait bound (what a real timed wait would have done); an
 * unbounded wait with nothing named is -EDEADLK (the loop would hang).
 * `cqe ... at_wait=1` lines are queued in the kernel as answers to the next
 * blocking waits (naming the request by a key the observer binds at
 * admission).
 *
 * Owns: naming CQEs (`cqe`: post, or match and release), queued answers,
 * recording each SQE the loop stages and each wait it makes (`expect sqe`,
 * `expect wait`), and the '#' timeline notes on blocking and expiry timing
 * (not hashed). The ring and the kernel are set up in runner.c.
 *
 * Invariants: the runner never runs inside the kernel: it reads what the
 * answers did when the loop reports the wait (iouw_run_take_answers); every
 * CQE the loop reaps was named first, in order (r->named, checked by the
 * observer); deferred lines are answered in the order they were queued.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skernel.h"

static struct reqent *req_for_sqe_fd(struct runner *r, int fd)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (r->reqs[i].req && !r->reqs[i].dead && iouw_request_fd(r->reqs[i].req) == fd)
			return &r->reqs[i];
	return NULL;
}

/* The loop staged @sqe (IOUW_EV_SQE: its buffers are certainly alive):
 * log and record it for `expect sqe`. */
void iouw_run_log_sqe(struct runner *r, const struct io_uring_sqe *sqe)
{
	struct sqe_rec rec;
	char ubuf[64];
	bool is_cancel;
	iouw_waiter_id id;

	if (sqe->user_data == IOUW_WAKE_USER_DATA) {
		iouw_run_logf(r, "sqe wake %s", iouw_run_opcode_name(sqe->opcode));
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.sqe = *sqe;
	rec.line = r->cur_line;
	id = iouw_waiter_id_from_user_data(sqe->user_data, &is_cancel);
	rec.cancel = is_cancel;
	rec.req = iouw_run_req_by_id(r, id);
	if (!rec.req && !is_cancel)
		rec.req = req_for_sqe_fd(r, sqe->fd);
	/* Capture what the SQE says while its memory is certainly alive. */
	if (iouw_expect_sqe_bytes(sqe, &rec.data, &rec.data_len, &rec.total, &rec.iovs) < 0)
		iouw_run_envf(r, "recording an SQE's data", ENOMEM);
	if (is_cancel) {
		char tbuf[64];

		iouw_run_logf(r, "sqe %s ASYNC_CANCEL target=%s",
		              iouw_run_ud_str(r, sqe->user_data, ubuf, sizeof(ubuf)),
		              iouw_run_ud_str(r, sqe->addr, tbuf, sizeof(tbuf)));
	} else {
		iouw_run_logf(r, "sqe %s %s fd=%s len=%u off=%lld total=%zu data_hash=%016llx ud=%u:%u",
		              iouw_run_ud_str(r, sqe->user_data, ubuf, sizeof(ubuf)),
		              iouw_run_opcode_name(sqe->opcode),
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
			iouw_run_envf(r, "recording an SQE", ENOMEM);
		}
	}
	if (r->nsqes < r->capsqes)
		r->sqes[r->nsqes++] = rec;
	else
		free(rec.data);
}

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

/* The loop's wait returned (IOUW_EV_WAIT): record what it asked the
 * scripted kernel and what came of it (`expect wait`, from the kernel's
 * iouw_skernel_last_wait), and in a blocking step a '#' note (not hashed)
 * saying whether it blocked and, if not, why (harness/README.md, Modes). */
void iouw_run_record_wait(struct runner *r)
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
		iouw_run_logf(r, "# wait: %s", words);
	}
	if (r->wait.moved_ns)
		iouw_run_note_due_deadlines(r);
}

static bool res_alts_match(const struct iouw_scn_arg *alts, int64_t res)
{
	for (size_t i = 0; i < alts->nalts; i++)
		if (alts->alts[i] == res)
			return true;
	return false;
}

bool iouw_run_cqe_target(struct runner *r, const struct iouw_scn_step *st, uint64_t *ret_ud,
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
	q = iouw_run_req_of(r, iouw_scn_at(st, 1));
	if (!q->has_id)
		return iouw_run_failf(r, "a request with a waiter id", "%s was never admitted", q->name->name);
	*ret_ud = iouw_scn_at(st, 2)->u == 1 ? iouw_waiter_id_cancel_user_data(q->id)
	                                     : iouw_waiter_id_user_data(q->id);
	if (stale && iouw_waiters_state(iouw_loop_table(r->loop), q->id, &s, NULL) == 0)
		return iouw_run_failf(r, "a stale id (slot freed or reused)", "%s still occupies slot %u",
		                      q->name->name, iouw_waiter_id_index(q->id));
	return true;
}

static bool named_push(struct runner *r, uint64_t ud, int32_t res)
{
	if (r->nnamed == r->capnamed) {
		size_t nc = r->capnamed ? r->capnamed * 2 : 32;
		struct named_cqe *nn = realloc(r->named, nc * sizeof(*nn));

		if (!nn)
			return iouw_run_envf(r, "a buffer", ENOMEM);
		r->named = nn;
		r->capnamed = nc;
	}
	r->named[r->nnamed].ud = ud;
	r->named[r->nnamed].res = res;
	r->nnamed++;
	return true;
}

uint64_t iouw_run_cqe_timeout(struct runner *r)
{
	return r->o->cqe_timeout_ns ? r->o->cqe_timeout_ns : UINT64_C(2000000000);
}

/* Wait until the ring's CQ holds more than @idx CQEs (not consuming any). */
static bool wait_cq(struct runner *r, unsigned idx, uint64_t budget_ns)
{
	struct io_uring *ring = iouw_skernel_ring(r->k);
	uint64_t end = iouw_monotonic_ns() + budget_ns;

	/* Past what the CQ ring holds: only an overflowed CQE could be there,
	 * and it cannot be peeked. */
	if (idx >= ring->cq.ring_entries)
		return false;

	while (io_uring_cq_ready(ring) <= idx) {
		uint64_t t = iouw_monotonic_ns();
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

const struct io_uring_cqe *iouw_run_peek_cq(struct runner *r, unsigned idx)
{
	struct io_uring *ring = iouw_skernel_ring(r->k);
	unsigned head = io_uring_smp_load_acquire(ring->cq.khead);

	return &ring->cq.cqes[(head + idx) & ring->cq.ring_mask];
}

/* Inject mode: the scripted kernel posted (@err 0) or failed to post the
 * named CQE; @overflowed: it went to the kernel's overflow list, where it
 * cannot be peeked (the loop's reap flushes it, and the observer (runner.c)
 * checks it then
 * against the named CQEs, in order). */
static bool injected(struct runner *r, uint64_t ud, int32_t res, int err, bool overflowed)
{
	char b1[64];

	if (err == -ETIME)
		return iouw_run_failf(r, "the injected CQE to appear", "nothing after %llu ms",
		                      (unsigned long long)(iouw_run_cqe_timeout(r) / 1000000));
	if (err == -EPROTO)
		return iouw_run_failf(r, "the ring to post the injected values", "other values than %s res=%d",
		                      iouw_run_ud_str(r, ud, b1, sizeof(b1)), (int)res);
	if (err == -ENOMEM)
		return iouw_run_envf(r, "injecting a CQE", ENOMEM);
	if (err < 0)
		return iouw_run_failf(r, "the injection SQE to be submitted", "%s", strerror(-err));
	if (overflowed)
		iouw_run_logf(r, "cq overflow %s", iouw_run_ud_str(r, ud, b1, sizeof(b1)));
	return named_push(r, ud, res);
}

/* Kernel mode: match the next CQE the kernel posted against @alts. @quiet: do
 * not fail (either/or guard). Writes the actual res. */
bool iouw_run_kernel_match(struct runner *r, unsigned idx, uint64_t ud,
                           const struct iouw_scn_arg *alts, int32_t *ret_res, bool quiet, char *why,
                           size_t whylen)
{
	const struct io_uring_cqe *c;
	char b1[64], b2[32], b3[64];

	if (!wait_cq(r, idx, iouw_run_cqe_timeout(r))) {
		if (io_uring_cq_has_overflow(iouw_skernel_ring(r->k)))
			snprintf(why, whylen, "the CQ overflowed: kernel mode reads CQEs in the ring "
			                      "and cannot see overflowed ones (overflow in inject mode)");
		else
			snprintf(why, whylen, "no CQE within %llu ms",
			         (unsigned long long)(iouw_run_cqe_timeout(r) / 1000000));
		return quiet ? false : iouw_run_failf(r, "a CQE", "%s", why);
	}
	c = iouw_run_peek_cq(r, idx);
	if (c->user_data != ud || !res_alts_match(alts, c->res)) {
		snprintf(why, whylen, "the kernel posted %s res=%s",
		         iouw_run_ud_str(r, c->user_data, b1, sizeof(b1)),
		         iouw_run_res_str(c->res, b2, sizeof(b2)));
		if (quiet)
			return false;
		snprintf(b3, sizeof(b3), "%s", iouw_run_ud_str(r, ud, b1, sizeof(b1)));
		{
			char exp[256];

			snprintf(exp, sizeof(exp), "cqe %s res=%s", b3, alts->val);
			return iouw_run_failf(r, exp, "%s", why);
		}
	}
	*ret_res = c->res;
	return true;
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

	if (!iouw_run_cqe_target(r, st, &ud, &alts))
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

		if (!iouw_run_kernel_match(r, idx, ud, alts, &res, false, why, sizeof(why)))
			return false;
		flags = iouw_run_peek_cq(r, idx)->flags;
		if (!done)
			(void)iouw_skernel_release(r->k, 1);
		if (!named_push(r, ud, res))
			return false;
	}
	{
		char ub[64], rb[32];

		/* The value that happened, not the alternatives: a recording
		 * replayed in inject mode hashes like the kernel run. */
		iouw_run_logf(r, "named cqe %s res=%s", iouw_run_ud_str(r, ud, ub, sizeof(ub)),
		              iouw_run_res_str(res, rb, sizeof(rb)));
	}
	{
		/* The kernel model's verdict (kmodel_judge.h): a '#' note. */
		char note[128], exp[192];
		bool ok = iouw_kmj_cqe(r->kmj, ud, res, flags, note, sizeof(note), exp, sizeof(exp));

		if (note[0])
			iouw_run_logf(r, "# kernel model: hostile: %s", note);
		if (!ok)
			return iouw_run_failf(r, exp, "kernel model: %s", note);
	}
	iouw_run_rec_cqe(r, st, res);
	return true;
}

/* Keys of queued answers (core/skernel.h): request index, op or cancel. */
static uint64_t answer_key(const struct runner *r, const struct reqent *q, bool cancel)
{
	return (uint64_t)(q - r->reqs) * 2 + cancel;
}

/* Admitted: the kernel learns @q's user_data for answers queued by name,
 * and, in kernel mode, that its op SQEs go to a worker (async=1). */
void iouw_run_bind_request(struct runner *r, struct reqent *q)
{
	int e = iouw_skernel_bind(r->k, answer_key(r, q, false), iouw_waiter_id_user_data(q->id));

	if (!e)
		e = iouw_skernel_bind(r->k, answer_key(r, q, true),
		                      iouw_waiter_id_cancel_user_data(q->id));
	if (!e && q->async && r->mode == IOUW_RUN_KERNEL)
		e = iouw_skernel_set_sqe_flags(r->k, iouw_waiter_id_user_data(q->id), IOSQE_ASYNC);
	if (e)
		iouw_run_envf(r, "binding a request", -e);
}

/* The loop reported a wait: name what the kernel's queued answers did,
 * each at its deferred line. */
void iouw_run_take_answers(struct runner *r)
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
		return iouw_run_failf(r, st->text, "too many deferred CQEs");
	if (ud) {
		e = iouw_skernel_queue_answer(r->k, ud->u, res);
	} else {
		struct reqent *q = iouw_run_req_of(r, iouw_scn_at(st, 1));

		e = iouw_skernel_queue_answer_for(r->k, answer_key(r, q, iouw_scn_at(st, 2)->u == 1),
		                                  res);
	}
	if (e)
		return iouw_run_envf(r, "queueing a deferred CQE", -e);
	r->deferred[r->ndeferred++] = st;
	iouw_run_logf(r, "cqe deferred to the next blocking wait");
	return true;
}

bool iouw_run_do_cqe(struct runner *r, const struct iouw_scn_step *st)
{
	if (iouw_scn_flag(st, "at_wait"))
		return defer_cqe(r, st);
	return name_cqe(r, st, NULL);
}

/* After the clock moved: a '#' timeline note (not hashed) for each live
 * request whose deadline tick has now passed, saying it expires only at
 * the next advance (harness/README.md, "Blocking and expiry timing"). The
 * wheel counts ticks of tick_ns from the loop's creation, the run's start. */
void iouw_run_note_due_deadlines(struct runner *r)
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
		iouw_run_logf(r, "# clock: %s's deadline (tick %llu) has passed: it expires at the next "
		         "advance (the next turn, or `advance`), not now", q->name->name,
		              (unsigned long long)q->admit_tick);
	}
}
