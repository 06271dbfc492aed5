/* tests/test_loop_kinds.c: the loop driving every request kind on a real
 * ring, its plain path against its observed one.
 *
 * Without an observer, with direct ring access, the loop admits a run of
 * requests with the ring's SQ tail and the table held in locals (a request
 * with a deadline handed to the general admission and back) and counts a
 * run of CQEs as deliveries up front, taking back each that delivers
 * nothing (docs/loop.md §6.13); with an observer every request takes the
 * general, per-request path. Only real rings run the plain path (the
 * fuzzers and the enumerator drive the scripted kernel). So one script of
 * real requests runs twice, each on its own ring, socketpair and file,
 * once plain and once observed, and what every caller gets back (status,
 * errno, value, the buffer and its bytes) and the loop's counters must be
 * the same, and each as the script expects (so two equally wrong paths
 * fail too); the observed run must show the events the script is built to
 * cause. The kernel completes the script's operations in one order only
 * (one phase at a time), and the script reaches: send (one buffer copied,
 * several buffers as WRITEV, an owned buffer), recv (exact and not, a
 * partial receive requeued, a caller who walks away after a partial
 * receive, a deadline already passed at admission, a deadline that
 * expires while the recv waits in the kernel: ASYNC_CANCEL, then Timeout
 * with the buffer), a request orphaned before its first SQE, read_at,
 * write_at and sync; requests with deadlines in the same admission run as
 * requests without; from a pool and without one. Every CQE is reaped by a
 * turn (never by iouw_loop_reap() alone). Skips the TAP way without
 * io_uring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fd.h"
#include "handle.h"
#include "loop.h"
#include "pool.h"
#include "request.h"
#include "support.h"

#define MS (UINT64_C(1000000))
#define FAR (UINT64_C(10000) * MS)
#define NREQ 16
#define NEV 1024

/* What a caller got back (a dropped handle gets nothing: status -1). */
struct got {
	int status;
	int err;
	size_t value;
	size_t buf_len;
	char bytes[24];
};

/* An observer event, without its pointers (and the SQE's fields that say
 * what it does). */
struct ev {
	int kind;
	uint64_t ud; /* the waiter id's user_data */
	int outcome;
	int32_t res;
	struct iouw_cqe cqe;
	int sqe_op, sqe_fd;
	uint32_t sqe_len;
	uint64_t sqe_ud;
};

struct run {
	bool observed;
	struct iouw_clock clock;
	struct iouw_loop *loop;
	struct iouw_pool *pool;
	struct iouw_fd *sv[2], *file;
	struct iouw_handle *h[NREQ];
	struct got got[NREQ];
	struct ev ev[NEV];
	size_t nev;
	struct iouw_loop_stats stats;
};

static void observe(void *ctx, const struct iouw_loop_event *ev)
{
	struct run *r = ctx;

	if (ev->kind == IOUW_EV_WAIT)
		return;
	ck_assert_uint_lt(r->nev, NEV);
	r->ev[r->nev++] = (struct ev){
		.kind = (int)ev->kind,
		.ud = iouw_waiter_id_user_data(ev->id),
		.outcome = ev->outcome,
		.res = ev->res,
		.cqe = ev->cqe,
		.sqe_op = ev->sqe ? ev->sqe->opcode : -1,
		.sqe_fd = ev->sqe ? ev->sqe->fd : -1,
		.sqe_len = ev->sqe ? ev->sqe->len : 0,
		.sqe_ud = ev->sqe ? ev->sqe->user_data : 0,
	};
}

static void submit(struct run *r, struct iouw_request *req)
{
	ck_assert_int_eq(iouw_loop_submit_local(r->loop, &req, 1), 1);
}

/* Turn until the loop delivered @want results in all. Every CQE is reaped
 * by a turn: a turn that reaped nothing is followed by a wait for the next
 * CQE or deadline (only while the table holds a request: one is due). */
static void drive(struct run *r, uint64_t want)
{
	struct iouw_loop_stats st;

	for (;;) {
		uint64_t cqes;
		int rc;

		iouw_loop_stats(r->loop, &st);
		cqes = st.cqes;
		rc = iouw_loop_turn(r->loop, false);
		ck_assert_int_eq(rc, 0);
		iouw_loop_stats(r->loop, &st);
		if (st.delivered >= want)
			break;
		if (st.cqes != cqes)
			continue;
		ck_assert_uint_gt(iouw_waiters_len(iouw_loop_waiters(r->loop)), 0);
		ck_assert_int_eq(iouw_loop_submit_and_wait(r->loop, true), 0);
	}
	ck_assert_uint_eq(st.delivered, want);
}

/* Take request @i's result (it must be there), keep what it says. */
static void take(struct run *r, int i)
{
	struct iouw_result res;

	ck_assert_int_eq(iouw_handle_take_and_drop(r->h[i], &res), 0);
	r->h[i] = NULL;
	r->got[i] = (struct got){ .status = (int)res.status, .err = res.err, .value = res.value,
		                  .buf_len = res.buf_len };
	if (res.buf)
		memcpy(r->got[i].bytes, res.buf,
		       res.buf_len < sizeof(r->got[i].bytes) ? res.buf_len : sizeof(r->got[i].bytes));
	iouw_result_free(&res);
}

static void *buffer(const char *with, size_t cap)
{
	char *b = calloc(1, cap);

	ck_assert_ptr_nonnull(b);
	memcpy(b, with, strlen(with));
	return b;
}

/* The script's iovecs: "abc" + "" + "defgh" (8 bytes in two buffers) and
 * "wxyz". */
static char abc[] = "abc", defgh[] = "defgh", wxyz[] = "wxyz";
static const struct iovec two[] = { { abc, 3 }, { NULL, 0 }, { defgh, 5 } };
static const struct iovec four = { wxyz, 4 };

/* A fresh loop (observed or not), request pool, socketpair and file. */
static void setup(struct run *r, bool observed)
{
	struct iouw_loop_config cfg;
	char path[] = "/tmp/iouw-loop-kinds-XXXXXX";
	int sv[2], fd, rc;

	memset(r, 0, sizeof(*r));
	r->observed = observed;
	r->clock = iouw_clock_monotonic();
	for (int i = 0; i < NREQ; i++)
		r->got[i].status = -1;
	iouw_loop_config_init(&cfg);
	cfg.ring_size = 32;
	cfg.tick_ns = MS;
	rc = iouw_loop_new_uring(&cfg, r->clock, &r->loop);
	ck_assert_msg(rc == 0, "iouw_loop_new_uring: %s", strerror(-rc));
	if (observed)
		iouw_loop_set_observer(r->loop, observe, r);
	ck_assert_int_eq(iouw_request_pool_new(8, &r->pool), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fd = mkostemp(path, O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(iouw_fd_adopt(sv[0], &r->sv[0]), 0);
	ck_assert_int_eq(iouw_fd_adopt(sv[1], &r->sv[1]), 0);
	ck_assert_int_eq(iouw_fd_adopt(fd, &r->file), 0);
}

/* Phase 1, one admission run: sends (two buffers as WRITEV, copied; one
 * owned, without a deadline) and the receives that take them, a recv past
 * its deadline and one whose caller left before it was admitted. */
static void phase_one_run(struct run *r, uint64_t now)
{
	struct iouw_request *run[6];

	ck_assert_int_eq(iouw_request_send_fd(r->pool, r->sv[0], two, 3, now + FAR, &run[0], &r->h[0]),
	                 0);
	ck_assert_int_eq(iouw_request_recv_fd(r->pool, r->sv[1], buffer("", 64), 64, 0, 8, true,
	                                      now + FAR, &run[1], &r->h[1]),
	                 0);
	ck_assert_int_eq(iouw_request_recv_fd(NULL, r->sv[1], buffer("", 64), 64, 0, 16, true, 1,
	                                      &run[2], &r->h[2]),
	                 0);
	ck_assert_int_eq(iouw_request_send_owned_fd(NULL, r->sv[0], buffer("0123456789", 10), 10,
	                                            IOUW_NO_DEADLINE, &run[3], &r->h[3]),
	                 0);
	ck_assert_int_eq(iouw_request_recv_fd(r->pool, r->sv[1], buffer("", 32), 32, 0, 32, false,
	                                      now + FAR, &run[4], &r->h[4]),
	                 0);
	ck_assert_int_eq(iouw_request_recv_fd(r->pool, r->sv[1], buffer("", 8), 8, 0, 8, true,
	                                      now + FAR, &run[5], &r->h[5]),
	                 0);
	iouw_handle_drop(r->h[5]);
	r->h[5] = NULL;
	ck_assert_int_eq(iouw_loop_submit_local(r->loop, run, 6), 6);
	drive(r, 5); /* the orphan delivers nothing: it is released */
	for (int i = 0; i < 5; i++)
		take(r, i);
}

/* Phase 2: an exact recv of 16 gets 8 (requeued), its caller walks away,
 * the next 4 bytes end it as an orphan (no result). */
static void phase_orphan_after_partial(struct run *r, uint64_t now)
{
	struct iouw_request *req;

	ck_assert_int_eq(iouw_request_recv_fd(r->pool, r->sv[1], buffer("", 16), 16, 0, 16, true,
	                                      now + FAR, &req, &r->h[6]),
	                 0);
	submit(r, req);
	ck_assert_int_eq(iouw_request_send_fd(r->pool, r->sv[0], two, 3, now + FAR, &req, &r->h[7]), 0);
	submit(r, req);
	drive(r, 6);
	take(r, 7);
	/* The 8-byte CQE requeued the recv; one more turn stages it again,
	 * so it is in the kernel when its caller leaves. */
	ck_assert_int_eq(iouw_loop_turn(r->loop, false), 0);
	ck_assert_uint_eq(iouw_loop_ready(r->loop, NULL, 0), 0);
	iouw_handle_drop(r->h[6]);
	r->h[6] = NULL;
	ck_assert_int_eq(iouw_request_send_fd(NULL, r->sv[0], &four, 1, now + FAR, &req, &r->h[8]), 0);
	submit(r, req);
	drive(r, 8); /* the send, and the recv ending as an orphan */
	take(r, 8);
}

/* Phase 3: a recv whose deadline passes while it waits in the kernel. */
static void phase_deadline_in_kernel(struct run *r)
{
	struct iouw_request *req;
	uint64_t now = iouw_clock_now(&r->clock);

	ck_assert_int_eq(iouw_request_recv_fd(r->pool, r->sv[1], buffer("", 8), 8, 0, 4, true,
	                                      now + 5 * MS, &req, &r->h[9]),
	                 0);
	submit(r, req);
	drive(r, 9);
	take(r, 9);
}

/* Phase 4: the file, one operation at a time. */
static void phase_file(struct run *r)
{
	struct iouw_request *req;

	ck_assert_int_eq(iouw_request_write_at_owned_fd(r->pool, r->file, 3, buffer("hello world", 11),
	                                                11, &req, &r->h[10]),
	                 0);
	submit(r, req);
	drive(r, 10);
	take(r, 10);
	ck_assert_int_eq(iouw_request_read_at_fd(r->pool, r->file, 3, buffer("", 64), 64, 11, &req,
	                                         &r->h[11]),
	                 0);
	submit(r, req);
	drive(r, 11);
	take(r, 11);
	ck_assert_int_eq(iouw_request_sync_fd(NULL, r->file, &req, &r->h[12]), 0);
	submit(r, req);
	drive(r, 12);
	take(r, 12);
}

static void run_script(struct run *r, bool observed)
{
	uint64_t now;

	setup(r, observed);
	now = iouw_clock_now(&r->clock);
	phase_one_run(r, now);
	phase_orphan_after_partial(r, now);
	phase_deadline_in_kernel(r);
	phase_file(r);
	iouw_loop_assert_consistent(r->loop);
	ck_assert_uint_eq(iouw_waiters_len(iouw_loop_waiters(r->loop)), 0);
	iouw_loop_stats(r->loop, &r->stats);
	iouw_loop_free(r->loop);
	iouw_fd_put(r->sv[0]);
	iouw_fd_put(r->sv[1]);
	iouw_fd_put(r->file);
	iouw_pool_free(r->pool);
}

/* What the script must give, on either path. */
static void check_expected(const struct run *r)
{
	static const struct {
		int status, err;
		size_t value, buf_len;
		const char *bytes;
	} want[13] = {
		[0] = { IOUW_RESULT_OK, 0, 8, 0, "" },
		[1] = { IOUW_RESULT_OK, 0, 8, 8, "abcdefgh" },
		[2] = { IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0, 0, "" },
		[3] = { IOUW_RESULT_OK, 0, 10, 10, "0123456789" },
		[4] = { IOUW_RESULT_OK, 0, 10, 10, "0123456789" },
		[5] = { -1, 0, 0, 0, "" },
		[6] = { -1, 0, 0, 0, "" },
		[7] = { IOUW_RESULT_OK, 0, 8, 0, "" },
		[8] = { IOUW_RESULT_OK, 0, 4, 0, "" },
		[9] = { IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0, 0, "" },
		[10] = { IOUW_RESULT_OK, 0, 11, 11, "hello world" },
		[11] = { IOUW_RESULT_OK, 0, 11, 11, "hello world" },
		[12] = { IOUW_RESULT_OK, 0, 0, 0, "" },
	};

	for (int i = 0; i < 13; i++) {
		const struct got *g = &r->got[i];

		ck_assert_msg(g->status == want[i].status && g->err == want[i].err &&
		                      g->value == want[i].value && g->buf_len == want[i].buf_len &&
		                      memcmp(g->bytes, want[i].bytes, strlen(want[i].bytes)) == 0,
		              "%s run, request %d: status %d err %d value %zu buf_len %zu",
		              r->observed ? "observed" : "plain", i,
		              g->status, g->err, g->value, g->buf_len);
	}
	/* 12 deliveries: 11 results and the orphan that ended after its
	 * second CQE (6; 5 was released unadmitted, which delivers nothing).
	 * One local timeout, at admission (2); 9 timed out in the kernel: its
	 * ASYNC_CANCEL is the one cancel, and its recorded Timeout is
	 * delivered as a completion. */
	ck_assert_uint_eq(r->stats.delivered, 12);
	ck_assert_uint_eq(r->stats.timeouts, 1);
	ck_assert_uint_eq(r->stats.cancels, 1);
}

/* How many observer events of @kind the run saw. */
static size_t count(const struct run *r, enum iouw_loop_event_kind kind)
{
	size_t n = 0;

	for (size_t k = 0; k < r->nev; k++)
		n += r->ev[k].kind == (int)kind;
	return n;
}

START_TEST(test_loop_kinds_plain_matches_observed)
{
	static struct run a, b;

	run_script(&a, false);
	run_script(&b, true);
	check_expected(&a);
	check_expected(&b);
	ck_assert(memcmp(a.got, b.got, sizeof(a.got)) == 0);
	ck_assert_uint_eq(a.stats.delivered, b.stats.delivered);
	ck_assert_uint_eq(a.stats.timeouts, b.stats.timeouts);
	ck_assert_uint_eq(a.stats.cancels, b.stats.cancels);
	ck_assert_uint_eq(a.stats.sqes, b.stats.sqes);
	ck_assert_uint_eq(a.stats.cqes, b.stats.cqes);
	/* The plain run saw nothing; the observed one what the script is
	 * built to cause: every SQE, one admission timed out, one request
	 * orphaned before its SQE, one requeue, one deadline expired in the
	 * kernel and its cancel. */
	ck_assert_uint_eq(a.nev, 0);
	ck_assert_uint_eq(count(&b, IOUW_EV_SQE), b.stats.sqes);
	ck_assert_uint_eq(count(&b, IOUW_EV_CQE), b.stats.cqes);
	ck_assert_uint_eq(count(&b, IOUW_EV_ADMIT_EXPIRED), 1);
	ck_assert_uint_eq(count(&b, IOUW_EV_EXPIRED), 1);
	ck_assert_uint_eq(count(&b, IOUW_EV_CANCEL_QUEUED), 1);
	ck_assert_uint_eq(count(&b, IOUW_EV_DELIVER), b.stats.delivered - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop_kinds");
	TCase *tc = tcase_create("loop_kinds");

	iouw_test_require_io_uring();
	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_loop_kinds_plain_matches_observed);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
