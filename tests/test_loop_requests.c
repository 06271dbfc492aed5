/* tests/test_loop_requests.c: the loop driving the real request kinds on a
 * real io_uring ring, with caller handles.
 *
 * Twins of the original's loop tests that need real requests (docs/testing.md §9.6):
 *   exact_recv_partial_progress                    same name
 *   handle_recv_panics_on_invalid_buffer_bounds    same name (SIGABRT)
 * Plus: a kernel-driven deadline on a pending recv (cancel SQE, then the
 * kernel's cancel 0 and op -ECANCELED, caller sees TIMEOUT with its buffer),
 * partial exact recv under cancel (TIMEOUT with the prefix it got), and the
 * issue-4 front-door stress with real write_at requests: producer threads
 * submit and wait on their handles while the loop thread sleeps and wakes;
 * every handle gets exactly one OK result, the file holds every byte, and the
 * loop exits when the door closes. Skips the TAP way without io_uring.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "handle.h"
#include "loop.h"
#include "request.h"
#include "support.h"

#define MS (UINT64_C(1000000))

static struct iouw_loop *new_loop(uint32_t ring, uint64_t tick_ns)
{
	struct iouw_loop_config cfg;
	struct iouw_loop *loop = NULL;

	iouw_loop_config_init(&cfg);
	cfg.ring_size = ring;
	cfg.tick_ns = tick_ns;
	ck_assert_int_eq(iouw_loop_new_uring(&cfg, iouw_clock_monotonic(), &loop), 0);
	return loop;
}

/* One non-blocking turn, then a 1 ms nap: this thread is both the loop and
 * the caller, so it must never block in the loop waiting for a CQE the
 * test itself has yet to cause. */
static void turn_nap(struct iouw_loop *loop)
{
	ck_assert_int_eq(iouw_loop_turn(loop, false), 0);
	usleep(1000);
}

/* Turn until @h has a result, or about @max_ms milliseconds pass. */
static int turn_until_result(struct iouw_loop *loop, struct iouw_handle *h,
                             struct iouw_result *ret, int max_ms)
{
	for (int i = 0; i < max_ms; i++) {
		int r = iouw_handle_try(h, ret);

		if (r != -EAGAIN)
			return r;
		turn_nap(loop);
	}
	return iouw_handle_try(h, ret);
}

struct counter {
	int cqes, cancel_sqes;
	int32_t res[8];
	uint64_t ud[8];
};

static void count(void *ctx, const struct iouw_loop_event *ev)
{
	struct counter *c = ctx;

	if (ev->kind == IOUW_EV_CQE && ev->cqe.user_data != IOUW_WAKE_USER_DATA && c->cqes < 8) {
		c->res[c->cqes] = ev->cqe.res;
		c->ud[c->cqes++] = ev->cqe.user_data;
	}
	if (ev->kind == IOUW_EV_SQE && ev->sqe->opcode == IORING_OP_ASYNC_CANCEL)
		c->cancel_sqes++;
}

START_TEST(test_exact_recv_partial_progress)
{
	struct iouw_loop *loop = new_loop(8, MS);
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_request_recv(sv[0], malloc(8), 8, 0, 8, true, IOUW_NO_DEADLINE, &req,
	                                   &h),
	                 0);
	ck_assert_int_eq(iouw_loop_submit(loop, req), 0);
	ck_assert_int_eq(iouw_loop_turn(loop, false), 0);
	/* 3 of 8: requeued, not delivered. */
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	for (int i = 0; i < 2000 && iouw_request_progress(req) < 3; i++)
		turn_nap(loop);
	ck_assert_uint_eq(iouw_request_progress(req), 3);
	ck_assert_int_eq(iouw_handle_try(h, &res), -EAGAIN);
	/* The rest arrives: one result with all 8 bytes. */
	ck_assert_int_eq(write(sv[1], "defgh", 5), 5);
	ck_assert_int_eq(turn_until_result(loop, h, &res, 2000), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_OK);
	ck_assert_uint_eq(res.value, 8);
	ck_assert_uint_eq(res.buf_len, 8);
	ck_assert_mem_eq(res.buf, "abcdefgh", 8);
	iouw_result_free(&res);
	iouw_handle_drop(h);
	iouw_loop_free(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_exact_recv_partial_progress_under_cancel_times_out)
{
	struct iouw_loop *loop = new_loop(8, MS);
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;
	struct counter c = { 0 };
	struct iouw_clock mono = iouw_clock_monotonic();
	int sv[2];

	iouw_loop_set_observer(loop, count, &c);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	ck_assert_int_eq(iouw_request_recv(sv[0], malloc(8), 8, 0, 8, true,
	                                   iouw_deadline_after(iouw_clock_now(&mono), 30 * MS),
	                                   &req, &h),
	                 0);
	ck_assert_int_eq(iouw_loop_submit(loop, req), 0);
	ck_assert_int_eq(turn_until_result(loop, h, &res, 2000), 0);
	/* Partial progress, then the deadline: TIMEOUT, buffer back with the
	 * 3 bytes it holds. */
	ck_assert_int_eq(res.status, IOUW_RESULT_TIMEOUT);
	ck_assert_uint_eq(res.buf_len, 3);
	ck_assert_mem_eq(res.buf, "abc", 3);
	ck_assert_int_eq(c.cancel_sqes, 1);
	iouw_result_free(&res);
	iouw_handle_drop(h);
	iouw_loop_free(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_loop_kernel_cancels_pending_recv_at_deadline)
{
	struct iouw_loop *loop = new_loop(8, MS);
	struct iouw_clock mono = iouw_clock_monotonic();
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;
	struct counter c = { 0 };
	uint64_t t0 = iouw_clock_now(&mono);
	int sv[2];

	iouw_loop_set_observer(loop, count, &c);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_request_recv(sv[0], malloc(16), 16, 0, 16, false,
	                                   iouw_deadline_after(t0, 20 * MS), &req, &h),
	                 0);
	ck_assert_int_eq(iouw_loop_submit(loop, req), 0);
	ck_assert_int_eq(turn_until_result(loop, h, &res, 2000), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_TIMEOUT);
	ck_assert_ptr_nonnull(res.buf);
	ck_assert_uint_eq(res.buf_capacity, 16);
	ck_assert_uint_ge(iouw_clock_now(&mono) - t0, 20 * MS);
	/* docs/kernel.md §8: cancel of a pending RECV: cancel CQE 0, then op -ECANCELED. */
	ck_assert_int_eq(c.cancel_sqes, 1);
	ck_assert_int_eq(c.cqes, 2);
	ck_assert(c.ud[0] & IOUW_WAITER_CANCEL_TAG);
	ck_assert_int_eq(c.res[0], 0);
	ck_assert(!(c.ud[1] & IOUW_WAITER_CANCEL_TAG));
	ck_assert_int_eq(c.res[1], -ECANCELED);
	iouw_result_free(&res);
	iouw_handle_drop(h);
	iouw_loop_free(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_handle_recv_panics_on_invalid_buffer_bounds)
{
	struct iouw_loop *loop = new_loop(8, MS);
	struct iouw_request *req;
	struct iouw_handle *h;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_request_recv(sv[0], malloc(8), 8, 0, 8, true, IOUW_NO_DEADLINE, &req,
	                                   &h),
	                 0);
	/* offset 9 > len 8: building the SQE must refuse. */
	iouw_request_test_set_shape(req, 9, 8, 8);
	ck_assert_int_eq(iouw_loop_submit(loop, req), 0);
	iouw_test_expect_invariant("recv offset <= len <= capacity");
	(void)iouw_loop_turn(loop, false);
}
END_TEST

START_TEST(test_shutdown_budget_detaches_in_flight_recv)
{
	struct iouw_loop_config cfg;
	struct iouw_loop *loop = NULL;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;
	struct iouw_loop_stats stats;
	int sv[2];
	int fds_before;

	iouw_loop_config_init(&cfg);
	cfg.ring_size = 4;
	cfg.tick_ns = MS;
	cfg.shutdown_timeout_ns = 20 * MS;
	ck_assert_int_eq(iouw_loop_new_uring(&cfg, iouw_clock_monotonic(), &loop), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_request_recv(sv[0], malloc(8), 8, 0, 8, false, IOUW_NO_DEADLINE, &req,
	                                   &h),
	                 0);
	ck_assert_int_eq(iouw_loop_submit(loop, req), 0);
	iouw_loop_close(loop);
	ck_assert_int_eq(iouw_loop_run(loop), 0);
	iouw_loop_stats(loop, &stats);
	ck_assert_uint_eq(stats.abandoned, 1);
	/* The caller hears at once, but not its buffer: the kernel still
	 * owns the pending recv until the ring goes away. */
	ck_assert_int_eq(iouw_handle_try(h, &res), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_ABANDONED);
	ck_assert_int_eq(res.err, ECANCELED);
	ck_assert_ptr_null(res.buf);
	/* Data arriving now lands in memory the request still owns. */
	ck_assert_int_eq(write(sv[1], "late", 4), 4);
	fds_before = iouw_test_count_fds();
	iouw_loop_free(loop); /* ring first, then the parked request */
	/* The ring fd, the eventfd and the request's dup are gone. */
	ck_assert_int_eq(iouw_test_count_fds(), fds_before - 3);
	iouw_handle_drop(h);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

struct writer {
	struct iouw_loop *loop;
	int fd;
	int index;
	int count;
	int ok;
	int bad;
};

#define CHUNK 16

static void *write_chunks(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < w->count; i++) {
		char buf[CHUNK];
		struct iovec iov = { buf, CHUNK };
		struct iouw_request *req;
		struct iouw_handle *h;
		struct iouw_result res;
		uint64_t off = ((uint64_t)w->index * (uint64_t)w->count + (uint64_t)i) * CHUNK;

		memset(buf, 'A' + w->index, CHUNK);
		memcpy(buf, &i, sizeof(i));
		if (iouw_request_write_at(w->fd, off, &iov, 1, &req, &h) < 0) {
			w->bad++;
			continue;
		}
		while (iouw_loop_submit(w->loop, req) == -EAGAIN)
			sched_yield();
		/* Blocks until the loop delivers: exactly one result. */
		if (iouw_handle_wait(h, &res) == 0 && res.status == IOUW_RESULT_OK &&
		    res.value == CHUNK)
			w->ok++;
		else
			w->bad++;
		if (iouw_handle_try(h, &res) != -EALREADY)
			w->bad++;
		iouw_handle_drop(h);
	}
	return NULL;
}

static void *run_loop(void *arg)
{
	return (void *)(intptr_t)iouw_loop_run(arg);
}

START_TEST(test_front_door_threads_real_requests_exactly_once)
{
	enum { WRITERS = 4, PER = 400 };
	struct iouw_loop *loop = new_loop(16, MS);
	char path[] = "/tmp/iouwait-frontdoor-XXXXXX";
	int fd = mkstemp(path);
	struct writer w[WRITERS];
	pthread_t th[WRITERS], lt;
	void *loop_ret;
	char *all;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(pthread_create(&lt, NULL, run_loop, loop), 0);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .loop = loop, .fd = fd, .index = i, .count = PER };
		ck_assert_int_eq(pthread_create(&th[i], NULL, write_chunks, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(w[i].bad, 0);
		ck_assert_int_eq(w[i].ok, PER);
	}
	iouw_loop_close(loop);
	ck_assert_int_eq(pthread_join(lt, &loop_ret), 0);
	ck_assert_int_eq((int)(intptr_t)loop_ret, 0);
	ck_assert(iouw_loop_is_drained(loop));
	/* Every chunk landed where its writer put it. */
	all = malloc((size_t)WRITERS * PER * CHUNK);
	ck_assert_ptr_nonnull(all);
	ck_assert_int_eq(pread(fd, all, (size_t)WRITERS * PER * CHUNK, 0), WRITERS * PER * CHUNK);
	for (int i = 0; i < WRITERS; i++) {
		for (int k = 0; k < PER; k++) {
			const char *chunk = all + ((size_t)i * PER + (size_t)k) * CHUNK;
			int seq;

			memcpy(&seq, chunk, sizeof(seq));
			ck_assert_int_eq(seq, k);
			ck_assert_int_eq(chunk[CHUNK - 1], 'A' + i);
		}
	}
	free(all);
	close(fd);
	iouw_loop_free(loop);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop_requests");
	TCase *tc = tcase_create("loop_requests");
	TCase *panics = tcase_create("panics");

	iouw_test_require_io_uring();
	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_exact_recv_partial_progress);
	tcase_add_test(tc, test_exact_recv_partial_progress_under_cancel_times_out);
	tcase_add_test(tc, test_loop_kernel_cancels_pending_recv_at_deadline);
	tcase_add_test(tc, test_front_door_threads_real_requests_exactly_once);
	tcase_add_test(tc, test_shutdown_budget_detaches_in_flight_recv);
	tcase_add_test_raise_signal(panics, test_handle_recv_panics_on_invalid_buffer_bounds,
	                            SIGABRT);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, panics);
	return iouw_test_run_suite(s);
}
