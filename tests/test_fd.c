/* tests/test_fd.c: the shared fd suite (core/fd.h) and the request
 * constructors that take a reference on one (core/request.h *_fd,
 * docs/requests.md §4.9).
 *
 * - adopt/dup/get/put: the count moves by one per call, the fd stays open
 *   while any reference is held and is closed exactly once, by the last put
 *   (checked with fcntl(F_GETFD) and the fd-leak fixture); adopt and dup
 *   refuse bad arguments without taking or leaking anything.
 * - references dropped on several threads at once: one close, no leak.
 * - misuse: a get or put after the last put, and a count that would wrap,
 *   fire their named invariants (expected SIGABRT).
 * - every request kind on a shared fd: its SQE carries the shared number,
 *   the request holds one reference from construction until it ends
 *   (complete, timeout, release, caller gone) and gives it back exactly
 *   once; a caller may put its own reference first (the fd then closes when
 *   the request ends); a NULL fd is -EINVAL with nothing taken; the plain
 *   constructors still dup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "fd.h"
#include "handle.h"
#include "request.h"
#include "support.h"

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int pipe_read_end(int *other)
{
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	*other = p[1];
	return p[0];
}

START_TEST(fd_adopt_get_put_closes_once)
{
	int w, r = pipe_read_end(&w);
	struct iouw_fd *f;

	ck_assert_int_eq(iouw_fd_adopt(r, &f), 0);
	ck_assert_int_eq(iouw_fd_num(f), r);
	ck_assert_uint_eq(iouw_fd_refs(f), 1);
	ck_assert_ptr_eq(iouw_fd_get(f), f);
	ck_assert_ptr_eq(iouw_fd_get(f), f);
	ck_assert_uint_eq(iouw_fd_refs(f), 3);
	iouw_fd_put(f);
	iouw_fd_put(f);
	ck_assert_uint_eq(iouw_fd_refs(f), 1);
	ck_assert(fd_open(r));
	iouw_fd_put(f); /* the last: closes r */
	ck_assert(!fd_open(r));
	iouw_fd_put(NULL); /* no-op */
	close(w);
}
END_TEST

START_TEST(fd_dup_keeps_callers_fd)
{
	int w, r = pipe_read_end(&w);
	int before = iouw_test_count_fds();
	struct iouw_fd *f;

	ck_assert_int_eq(iouw_fd_dup(r, &f), 0);
	ck_assert_int_ne(iouw_fd_num(f), r);
	ck_assert_int_eq(iouw_test_count_fds(), before + 1);
	ck_assert_int_eq(fcntl(iouw_fd_num(f), F_GETFD), FD_CLOEXEC);
	close(r); /* the caller's own: the dup lives on */
	ck_assert(fd_open(iouw_fd_num(f)));
	iouw_fd_put(f);
	ck_assert_int_eq(iouw_test_count_fds(), before - 1);
	close(w);
}
END_TEST

START_TEST(fd_bad_arguments_take_nothing)
{
	int w, r = pipe_read_end(&w);
	int before = iouw_test_count_fds();
	struct iouw_fd *f = (struct iouw_fd *)0x1;

	ck_assert_int_eq(iouw_fd_adopt(-1, &f), -EINVAL);
	ck_assert_int_eq(iouw_fd_adopt(r, NULL), -EINVAL);
	ck_assert(fd_open(r)); /* not taken */
	ck_assert_int_eq(iouw_fd_dup(-1, &f), -EINVAL);
	ck_assert_int_eq(iouw_fd_dup(r, NULL), -EINVAL);
	close(w);
	ck_assert_int_eq(iouw_fd_dup(w, &f), -EBADF); /* closed just now */
	ck_assert_ptr_eq(f, (struct iouw_fd *)0x1);
	ck_assert_int_eq(iouw_test_count_fds(), before - 1);
	close(r);
}
END_TEST

enum { THREADS = 4, PER_THREAD = 10000 };

static void *put_many(void *arg)
{
	struct iouw_fd *f = arg;

	for (unsigned i = 0; i < PER_THREAD; i++)
		iouw_fd_put(f);
	return NULL;
}

START_TEST(fd_last_put_on_any_thread_closes_once)
{
	for (unsigned round = 0; round < 20; round++) {
		int w, r = pipe_read_end(&w);
		int before = iouw_test_count_fds();
		pthread_t t[THREADS];
		struct iouw_fd *f;

		ck_assert_int_eq(iouw_fd_adopt(r, &f), 0);
		for (unsigned i = 0; i < THREADS * PER_THREAD - 1; i++)
			iouw_fd_get(f);
		ck_assert_uint_eq(iouw_fd_refs(f), THREADS * PER_THREAD);
		for (unsigned i = 0; i < THREADS; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, put_many, f), 0);
		for (unsigned i = 0; i < THREADS; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert(!fd_open(r));
		ck_assert_int_eq(iouw_test_count_fds(), before - 1);
		close(w);
	}
}
END_TEST

/* Misuse. A real get or put after the last put touches freed memory (ASan
 * reports that); to reach the check itself the count is set by hand on a
 * live object (iouw_fd_test_set_refs), which then is never freed: the
 * child aborts. */
START_TEST(panic_fd_get_after_last_put)
{
	int w, r = pipe_read_end(&w);
	struct iouw_fd *f;

	iouw_test_expect_invariant("fd reference used after its last put");
	ck_assert_int_eq(iouw_fd_adopt(r, &f), 0);
	iouw_fd_test_set_refs(f, 0);
	iouw_fd_get(f);
	close(w);
}
END_TEST

START_TEST(panic_fd_put_after_last_put)
{
	int w, r = pipe_read_end(&w);
	struct iouw_fd *f;

	iouw_test_expect_invariant("fd reference used after its last put");
	ck_assert_int_eq(iouw_fd_adopt(r, &f), 0);
	iouw_fd_test_set_refs(f, 0);
	iouw_fd_put(f);
	close(w);
}
END_TEST

START_TEST(panic_fd_count_overflow)
{
	int w, r = pipe_read_end(&w);
	struct iouw_fd *f;

	iouw_test_expect_invariant("fd reference count overflow");
	ck_assert_int_eq(iouw_fd_adopt(r, &f), 0);
	iouw_fd_test_set_refs(f, UINT_MAX);
	iouw_fd_get(f);
	close(w);
}
END_TEST

/* ---- requests on a shared fd ------------------------------------------- */

static const enum iouw_request_kind all_kinds[] = {
	IOUW_REQUEST_SEND, IOUW_REQUEST_RECV, IOUW_REQUEST_READ_AT, IOUW_REQUEST_WRITE_AT,
	IOUW_REQUEST_SYNC,
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	ck_assert_ptr_nonnull(p);
	return p;
}

static int make_on(enum iouw_request_kind kind, struct iouw_fd *f, struct iouw_request **req,
                   struct iouw_handle **h)
{
	static const char bytes[8] = "abcdefgh";
	struct iovec iov = { (void *)bytes, sizeof(bytes) };

	switch (kind) {
	case IOUW_REQUEST_SEND:
		return iouw_request_send_fd(NULL, f, &iov, 1, IOUW_NO_DEADLINE, req, h);
	case IOUW_REQUEST_RECV: {
		void *buf = xmalloc(8);
		int r = iouw_request_recv_fd(NULL, f, buf, 8, 0, 8, true, IOUW_NO_DEADLINE, req, h);

		if (r < 0)
			free(buf);
		return r;
	}
	case IOUW_REQUEST_READ_AT: {
		void *buf = xmalloc(8);
		int r = iouw_request_read_at_fd(NULL, f, 0, buf, 8, 8, req, h);

		if (r < 0)
			free(buf);
		return r;
	}
	case IOUW_REQUEST_WRITE_AT:
		return iouw_request_write_at_fd(NULL, f, 0, &iov, 1, req, h);
	case IOUW_REQUEST_SYNC:
		return iouw_request_sync_fd(NULL, f, req, h);
	}
	return -EINVAL;
}

START_TEST(request_on_shared_fd_holds_one_reference_every_end)
{
	enum { END_COMPLETE, END_TIMEOUT, END_RELEASE, END_CALLER_GONE, END_COUNT };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (unsigned k = 0; k < 5; k++) {
		for (unsigned e = 0; e < END_COUNT; e++) {
			int before = iouw_test_count_fds();
			struct iouw_fd *f;
			struct iouw_request *req;
			struct iouw_handle *h;
			struct io_uring_sqe sqe;
			struct iouw_result res;

			ck_assert_int_eq(iouw_fd_dup(sv[0], &f), 0);
			ck_assert_int_eq(make_on(all_kinds[k], f, &req, &h), 0);
			/* No syscall, no new fd: one more reference. */
			ck_assert_int_eq(iouw_test_count_fds(), before + 1);
			ck_assert_uint_eq(iouw_fd_refs(f), 2);
			ck_assert_int_eq(iouw_request_fd(req), iouw_fd_num(f));
			memset(&sqe, 0, sizeof(sqe));
			req->ops->build_sqe(req, &sqe, 77);
			ck_assert_int_eq(sqe.fd, iouw_fd_num(f));
			switch (e) {
			case END_COMPLETE:
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				break;
			case END_TIMEOUT:
				req->ops->finish(req, IOUW_FINISH_TIMEOUT);
				break;
			case END_RELEASE:
				req->ops->release(req);
				break;
			case END_CALLER_GONE:
				iouw_handle_drop(h);
				h = NULL;
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				break;
			}
			ck_assert_msg(iouw_fd_refs(f) == 1, "%s end %u: reference not given back",
			              iouw_request_kind_name(all_kinds[k]), e);
			ck_assert(fd_open(iouw_fd_num(f)));
			if (h) {
				ck_assert_int_eq(iouw_handle_try(h, &res), 0);
				iouw_result_free(&res);
				iouw_handle_drop(h);
			}
			iouw_fd_put(f);
			ck_assert_int_eq(iouw_test_count_fds(), before);
		}
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(request_outlives_callers_reference)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (unsigned k = 0; k < 5; k++) {
		int before = iouw_test_count_fds();
		struct iouw_fd *f;
		struct iouw_request *req[3];
		struct iouw_handle *h[3];
		int num;

		ck_assert_int_eq(iouw_fd_dup(sv[0], &f), 0);
		num = iouw_fd_num(f);
		for (unsigned i = 0; i < 3; i++)
			ck_assert_int_eq(make_on(all_kinds[k], f, &req[i], &h[i]), 0);
		ck_assert_uint_eq(iouw_fd_refs(f), 4);
		iouw_fd_put(f); /* the caller lets go first */
		for (unsigned i = 0; i < 3; i++) {
			ck_assert_msg(fd_open(num), "%s: fd closed with %u requests left",
			              iouw_request_kind_name(all_kinds[k]), 3 - i);
			iouw_handle_drop(h[i]);
			req[i]->ops->release(req[i]);
		}
		ck_assert(!fd_open(num)); /* the last request closed it */
		ck_assert_int_eq(iouw_test_count_fds(), before);
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(request_on_null_or_bad_shape_takes_nothing)
{
	int sv[2];
	struct iouw_fd *f;
	struct iouw_request *req = NULL;
	struct iouw_handle *h = NULL;
	struct iovec empty = { NULL, 0 };
	char buf[8];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (unsigned k = 0; k < 5; k++)
		ck_assert_int_eq(make_on(all_kinds[k], NULL, &req, &h), -EINVAL);
	ck_assert_ptr_null(req);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(iouw_fd_dup(sv[0], &f), 0);
	ck_assert_int_eq(iouw_request_send_fd(NULL, f, &empty, 1, IOUW_NO_DEADLINE, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_write_at_fd(NULL, f, 0, NULL, 1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_recv_fd(NULL, f, buf, 8, 8, 8, true, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_read_at_fd(NULL, f, 0, buf, 4, 8, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_sync_fd(NULL, f, NULL, &h), -EINVAL);
	ck_assert_ptr_null(req);
	ck_assert_ptr_null(h);
	ck_assert_uint_eq(iouw_fd_refs(f), 1);
	iouw_fd_put(f);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(plain_constructor_still_dups)
{
	int sv[2];
	int before;
	struct iouw_request *req;
	struct iouw_handle *h;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	before = iouw_test_count_fds();
	ck_assert_int_eq(iouw_request_sync(sv[0], &req, &h), 0);
	ck_assert_int_eq(iouw_test_count_fds(), before + 1);
	ck_assert_int_ne(iouw_request_fd(req), sv[0]);
	close(sv[0]); /* the caller's: the request's dup stays */
	ck_assert(fd_open(iouw_request_fd(req)));
	iouw_handle_drop(h);
	req->ops->release(req);
	ck_assert_int_eq(iouw_test_count_fds(), before - 1);
	close(sv[1]);
}
END_TEST

static Suite *fd_suite(void)
{
	Suite *s = suite_create("fd");
	TCase *fd = tcase_create("fd");
	TCase *req = tcase_create("request");
	TCase *panics = tcase_create("panics");

	iouw_test_add_fd_fixture(fd);
	iouw_test_add_fd_fixture(req);
	tcase_set_timeout(fd, 60);
	tcase_add_test(fd, fd_adopt_get_put_closes_once);
	tcase_add_test(fd, fd_dup_keeps_callers_fd);
	tcase_add_test(fd, fd_bad_arguments_take_nothing);
	tcase_add_test(fd, fd_last_put_on_any_thread_closes_once);
	tcase_add_test(req, request_on_shared_fd_holds_one_reference_every_end);
	tcase_add_test(req, request_outlives_callers_reference);
	tcase_add_test(req, request_on_null_or_bad_shape_takes_nothing);
	tcase_add_test(req, plain_constructor_still_dups);
	tcase_add_test_raise_signal(panics, panic_fd_get_after_last_put, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_fd_put_after_last_put, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_fd_count_overflow, SIGABRT);
	suite_add_tcase(s, fd);
	suite_add_tcase(s, req);
	suite_add_tcase(s, panics);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(fd_suite());
}
