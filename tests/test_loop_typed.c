/* tests/test_loop_typed.c: the typed fast path (core/loop_typed.h,
 * docs/loop.md §6.12) behaves exactly as the generic entry points.
 *
 * The typed path is the loop's own hot code instantiated a second time with
 * the caller's ops table known at compile time; what it may change is how
 * an op is called, never which op, when, or with what. So the tests here
 * are differential: the same scripted workload runs once through
 * iouw_loop_submit_local() / iouw_loop_turn() and once through
 * tq_submit_local() / tq_turn(), each on its own real ring, and every
 * callback a request receives (in order, with its arguments), every
 * observer event and the loop's counters must come out identical. The
 * workload mixes requests of the typed table with requests of a second
 * table holding the same functions (which the typed path must call through
 * their pointer), requeues (on_cqe answering "not yet"), requests orphaned
 * before their first SQE and after a CQE, deadlines already passed at
 * admission and deadlines far away, cancels of ops in flight (each of
 * iouw_loop_cancel()'s three ways), and a finish() that submits a
 * follow-up request from inside the reap (the typed entry point then goes
 * through the front door, as the generic one does). Plus the argument and
 * state checks of the typed entry points. Skips the TAP way without
 * io_uring.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "loop.h"
#include "loop_typed.h"
#include "support.h"

#define NREQ 240
#define LOG_MAX 8192

/* One line per callback: what, which request, its arguments. */
struct entry {
	char what; /* b build, c on_cqe, o is_orphaned, f finish, r release */
	int tag;
	int64_t a, b;
};

struct tlog {
	struct entry e[LOG_MAX];
	size_t n;
	struct entry ev[LOG_MAX]; /* observer events: kind, id, outcome */
	size_t nev;
};

struct tq {
	struct iouw_request base;
	int tag;
	int requeues;    /* on_cqe answers "not yet" this many times */
	int orphan_from; /* is_orphaned is true from this call on (-1: never) */
	int orphan_calls;
	bool follow_up;  /* finish() submits request tag + NREQ */
	uint64_t last_ud; /* of its latest SQE */
	bool cancelled;   /* iouw_loop_cancel() was called for it */
	bool done;
	struct tlog *log;
	struct run *run;
};

static void note(struct tlog *log, char what, int tag, int64_t a, int64_t b)
{
	ck_assert_uint_lt(log->n, LOG_MAX);
	log->e[log->n++] = (struct entry){ .what = what, .tag = tag, .a = a, .b = b };
}

static void tq_build(struct iouw_request *req, struct io_uring_sqe *sqe, uint64_t ud)
{
	struct tq *t = (struct tq *)req;

	note(t->log, 'b', t->tag, (int64_t)ud, 0);
	t->last_ud = ud;
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = ud;
}

static bool tq_on_cqe(struct iouw_request *req, bool cancel_requested, int32_t res)
{
	struct tq *t = (struct tq *)req;

	note(t->log, 'c', t->tag, cancel_requested, res);
	if (t->requeues > 0) {
		t->requeues--;
		return false;
	}
	return true;
}

static bool tq_orphaned(const struct iouw_request *req)
{
	struct tq *t = (struct tq *)(uintptr_t)req;
	bool gone = t->orphan_from >= 0 && t->orphan_calls++ >= t->orphan_from;

	note(t->log, 'o', t->tag, gone, 0);
	return gone;
}

static void tq_end(struct tq *t, char what, int64_t how);

static void tq_finish(struct iouw_request *req, enum iouw_finish how)
{
	tq_end((struct tq *)req, 'f', how);
}

static void tq_release(struct iouw_request *req)
{
	tq_end((struct tq *)req, 'r', 0);
}

/* The typed table, and a second table of the same functions: a request of
 * the second kind is not "typed" and goes through its pointers. */
static const struct iouw_request_ops tq_ops = {
	.build_sqe = tq_build,
	.on_cqe = tq_on_cqe,
	.is_orphaned = tq_orphaned,
	.finish = tq_finish,
	.release = tq_release,
};

static const struct iouw_request_ops tq_other_ops = {
	.build_sqe = tq_build,
	.on_cqe = tq_on_cqe,
	.is_orphaned = tq_orphaned,
	.finish = tq_finish,
	.release = tq_release,
};

/* The same with no is_orphaned op (never orphaned). */
static const struct iouw_request_ops tq_plain_ops = {
	.build_sqe = tq_build,
	.on_cqe = tq_on_cqe,
	.finish = tq_finish,
	.release = tq_release,
};

IOUW_LOOP_TYPED(tq, &tq_ops)

struct run {
	struct iouw_loop *loop;
	bool typed;
	struct tq reqs[NREQ + NREQ]; /* the workload, then follow-ups */
	int ended;
	int expected;
	int follow_ups;
};

static int submit(struct run *r, struct iouw_request *const *reqs, size_t n)
{
	return r->typed ? tq_submit_local(r->loop, reqs, n) : iouw_loop_submit_local(r->loop, reqs, n);
}

static int turn(struct run *r, bool may_block)
{
	return r->typed ? tq_turn(r->loop, may_block) : iouw_loop_turn(r->loop, may_block);
}

static void tq_end(struct tq *t, char what, int64_t how)
{
	ck_assert_msg(!t->done, "request %d ended twice", t->tag);
	t->done = true;
	note(t->log, what, t->tag, how, 0);
	t->run->ended++;
	if (what == 'f' && t->follow_up) {
		/* From inside the reap: the loop is busy, so both entry
		 * points hand this to the front door. */
		struct iouw_request *next = &t->run->reqs[NREQ + t->tag].base;
		int r = submit(t->run, &next, 1);

		ck_assert_int_eq(r, 1);
		t->run->expected++;
		t->run->follow_ups++;
	}
}

static void observe(void *ctx, const struct iouw_loop_event *ev)
{
	struct tlog *log = ctx;

	ck_assert_uint_lt(log->nev, LOG_MAX);
	log->ev[log->nev++] = (struct entry){ .what = (char)ev->kind,
		                              .tag = (int)iouw_waiter_id_index(ev->id),
		                              .a = ev->outcome,
		                              .b = ev->kind == IOUW_EV_CQE ? ev->cqe.res : ev->res };
}

/* Request @i of the workload (a fixed pseudo-random script). */
static void make(struct run *r, struct tlog *log, int i, uint64_t now_ns)
{
	struct tq *t = &r->reqs[i];
	uint32_t x = (uint32_t)i * 2654435761u;

	memset(t, 0, sizeof(*t));
	t->tag = i;
	t->log = log;
	t->run = r;
	t->orphan_from = -1;
	switch ((x >> 3) % 4) {
	case 0:
	case 1: t->base.ops = &tq_ops; break;
	case 2: t->base.ops = &tq_other_ops; break;
	default: t->base.ops = &tq_plain_ops; break;
	}
	t->requeues = (int)((x >> 7) % 3);
	if (t->base.ops != &tq_plain_ops && (x >> 11) % 7 == 0)
		t->orphan_from = (int)((x >> 14) % 3); /* before the first SQE, or later */
	switch ((x >> 17) % 6) {
	case 0: t->base.deadline_ns = 1; break; /* passed: timed out at admission */
	case 1: t->base.deadline_ns = now_ns + 60ull * 1000000000ull; break;
	default: t->base.deadline_ns = IOUW_NO_DEADLINE; break;
	}
	t->follow_up = (x >> 21) % 9 == 0;
	if (i < NREQ) {
		/* Its follow-up: a plain typed NOP. */
		struct tq *f = &r->reqs[NREQ + i];

		memset(f, 0, sizeof(*f));
		f->tag = NREQ + i;
		f->log = log;
		f->run = r;
		f->orphan_from = -1;
		f->base.ops = &tq_ops;
		f->base.deadline_ns = IOUW_NO_DEADLINE;
	}
}

/* Run the workload through one kind of entry point; fill @log. */
static void run_workload(struct run *r, struct tlog *log, bool typed, bool observed,
                         struct iouw_loop_stats *ret_stats)
{
	struct iouw_loop_config cfg;
	struct iouw_clock clock = iouw_clock_monotonic();
	uint64_t now_ns;
	int i = 0, rc;

	iouw_loop_config_init(&cfg);
	cfg.ring_size = 32;
	rc = iouw_loop_new_uring(&cfg, clock, &r->loop);
	ck_assert_msg(rc == 0, "iouw_loop_new_uring: %s", strerror(-rc));
	r->typed = typed;
	r->ended = 0;
	if (observed)
		iouw_loop_set_observer(r->loop, observe, log);
	now_ns = iouw_clock_now(&clock);
	for (int k = 0; k < NREQ; k++)
		make(r, log, k, now_ns);
	r->expected = NREQ; /* and one per follow-up, as they are submitted */
	while (i < NREQ || r->ended < r->expected) {
		if (i < NREQ) {
			struct iouw_request *batch[16];
			size_t n = 1 + (size_t)((uint32_t)i * 40503u >> 5) % 16;

			if (n > (size_t)(NREQ - i))
				n = (size_t)(NREQ - i);
			for (size_t k = 0; k < n; k++)
				batch[k] = &r->reqs[i + (int)k].base;
			rc = submit(r, batch, n);
			ck_assert_int_ge(rc, 0);
			i += rc;
		}
		rc = turn(r, false);
		ck_assert_int_eq(rc, 0);
		/* Cancel some of what is in flight now (its CQE is in the
		 * ring, not yet reaped), each of the three ways. */
		for (int k = 0; k < i; k++) {
			struct tq *t = &r->reqs[k];
			bool is_cancel;

			if (t->done || t->last_ud == 0 || k % 5 != 0 || t->cancelled)
				continue;
			t->cancelled = true;
			rc = iouw_loop_cancel(r->loop, iouw_waiter_id_from_user_data(t->last_ud, &is_cancel),
			                      (enum iouw_loop_cancel_how)(k / 5 % 3), 0);
			note(log, 'x', t->tag, rc, 0);
		}
		if (i == NREQ && r->ended < r->expected &&
		    iouw_waiters_len(iouw_loop_waiters(r->loop)) > 0)
			ck_assert_int_eq(iouw_loop_submit_and_wait(r->loop, true), 0);
	}
	iouw_loop_assert_consistent(r->loop);
	iouw_loop_stats(r->loop, ret_stats);
	iouw_loop_free(r->loop);
}

static void compare(bool observed)
{
	static struct run a, b;
	static struct tlog la, lb;
	struct iouw_loop_stats sa, sb;

	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	run_workload(&a, &la, false, observed, &sa);
	run_workload(&b, &lb, true, observed, &sb);
	ck_assert_int_eq(a.ended, a.expected);
	ck_assert_int_eq(b.ended, b.expected);
	ck_assert_int_gt(a.follow_ups, 0);
	ck_assert_uint_eq(la.n, lb.n);
	for (size_t k = 0; k < la.n; k++)
		ck_assert_msg(la.e[k].what == lb.e[k].what && la.e[k].tag == lb.e[k].tag &&
		                      la.e[k].a == lb.e[k].a && la.e[k].b == lb.e[k].b,
		              "callback %zu: generic %c(%d, %lld, %lld), typed %c(%d, %lld, %lld)", k,
		              la.e[k].what, la.e[k].tag, (long long)la.e[k].a, (long long)la.e[k].b,
		              lb.e[k].what, lb.e[k].tag, (long long)lb.e[k].a, (long long)lb.e[k].b);
	ck_assert_uint_eq(la.nev, lb.nev);
	for (size_t k = 0; k < la.nev; k++)
		ck_assert_msg(memcmp(&la.ev[k], &lb.ev[k], sizeof(la.ev[k])) == 0,
		              "observer event %zu differs (kind %d / %d)", k, la.ev[k].what,
		              lb.ev[k].what);
	ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0,
	              "stats differ: delivered %llu/%llu timeouts %llu/%llu sqes %llu/%llu",
	              (unsigned long long)sa.delivered, (unsigned long long)sb.delivered,
	              (unsigned long long)sa.timeouts, (unsigned long long)sb.timeouts,
	              (unsigned long long)sa.sqes, (unsigned long long)sb.sqes);
	/* The workload reached what it is meant to: requeues, orphans,
	 * admission timeouts, follow-ups, both tables. */
	ck_assert_uint_gt(sa.timeouts, 0);
	ck_assert_uint_gt(sa.cqes, (uint64_t)NREQ / 2);
	{
		int kinds[128] = { 0 };

		for (size_t k = 0; k < la.n; k++)
			kinds[(unsigned char)la.e[k].what]++;
		ck_assert_int_gt(kinds['r'], 0); /* orphans released */
		ck_assert_int_gt(kinds['o'], 0);
		ck_assert_int_gt(kinds['c'], kinds['f']); /* requeues */
		ck_assert_int_gt(kinds['x'], 0);          /* cancels */
		/* One delivery per finish(), on both paths: a run of CQEs
		 * counts its deliveries up front and takes back each CQE that
		 * delivers nothing (cancel CQEs, requeues, the wake poll's),
		 * so the counter is checked against the callbacks themselves,
		 * not only against the other path's counter. */
		ck_assert_uint_eq(sa.delivered, (uint64_t)kinds['f']);
		ck_assert_uint_eq(sb.delivered, (uint64_t)kinds['f']);
	}
}

START_TEST(test_typed_matches_generic)
{
	compare(false);
}
END_TEST

START_TEST(test_typed_matches_generic_observed)
{
	compare(true);
}
END_TEST

static void *call_typed_submit(void *arg)
{
	struct iouw_loop *loop = arg;
	struct iouw_request *one = NULL;
	static struct tq t;

	memset(&t, 0, sizeof(t));
	t.base.ops = &tq_ops;
	t.base.deadline_ns = IOUW_NO_DEADLINE;
	one = &t.base;
	return (void *)(intptr_t)tq_submit_local(loop, &one, 1);
}

START_TEST(test_typed_entry_points_check_their_arguments)
{
	struct iouw_loop_config cfg;
	struct iouw_loop *loop = NULL;
	struct iouw_request *none = NULL;
	pthread_t th;
	void *res;
	int r;

	iouw_loop_config_init(&cfg);
	cfg.ring_size = 8;
	r = iouw_loop_new_uring(&cfg, iouw_clock_monotonic(), &loop);
	ck_assert_msg(r == 0, "iouw_loop_new_uring: %s", strerror(-r));
	ck_assert_int_eq(tq_submit_local(NULL, &none, 1), -EINVAL);
	ck_assert_int_eq(tq_submit_local(loop, NULL, 1), -EINVAL);
	ck_assert_int_eq(tq_submit_local(loop, &none, 0), -EINVAL);
	ck_assert_int_eq(tq_submit_local(loop, &none, 1), -EINVAL); /* a NULL request */
	/* Off the loop's thread. */
	ck_assert_int_eq(pthread_create(&th, NULL, call_typed_submit, loop), 0);
	ck_assert_int_eq(pthread_join(th, &res), 0);
	ck_assert_int_eq((int)(intptr_t)res, -EINVAL);
	ck_assert_int_eq(tq_turn(loop, false), 0);
	iouw_loop_close(loop);
	{
		static struct tq t;
		struct iouw_request *one = &t.base;

		memset(&t, 0, sizeof(t));
		t.base.ops = &tq_ops;
		t.base.deadline_ns = IOUW_NO_DEADLINE;
		ck_assert_int_eq(tq_submit_local(loop, &one, 1), -ESHUTDOWN);
	}
	iouw_loop_free(loop);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop_typed");
	TCase *tc = tcase_create("loop_typed");

	iouw_test_require_io_uring();
	iouw_test_add_fd_fixture(tc);
	/* Each test takes well under a second (a few under a sanitizer); a lost
	 * SQE blocks the workload in a wait nothing ends, so this is how soon
	 * such a bug fails (tests/planted/loop-plain-run-deadline-tail.patch). */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_typed_matches_generic);
	tcase_add_test(tc, test_typed_matches_generic_observed);
	tcase_add_test(tc, test_typed_entry_points_check_their_arguments);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
