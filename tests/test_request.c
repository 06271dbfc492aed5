/* tests/test_request.c: the request suite (core/request.h, core/handle.h).
 *
 * Original test (docs/testing.md §9.3)         C twin
 * cqe_result_from_raw_retryable_codes          same name
 * request_deadline_helpers_and_invariants      same name
 * active_send_paths                            same name
 * active_recv_paths                            same name
 * active_read_at_paths                         same name
 * active_write_at_paths                        same name
 * active_sync_paths                            same name
 * finish_without_cqe_uses_fallback_results     same name
 * finish_timeout_delivers_timeout_results      same name
 *
 * Beyond the originals:
 * - t43_*: every cell of docs/requests.md §4.3 (kind x class x waiter state A/C,
 *   plus partial/complete positive results and recv's exact/prefix variants),
 *   each its own check test named after the cell (CELLS_4_3), each
 *   assertion message naming it too.
 * - t44_*: every cell of docs/requests.md §4.4 (orphaned?, fallback, timeout) per
 *   kind, driven through a real waiter table from state A and from state C,
 *   each its own named check test (CELLS_4_4).
 * - SQE contents per kind and how they move after partial progress (single
 *   and vectored, more than 32 buffers, resuming inside a buffer).
 * - every shape panic and the handle's invariants (expected SIGABRT naming
 *   the invariant).
 * - the waiter table driving real requests: orphaning before the first SQE,
 *   after a retry and after partial progress; abandonment on table free.
 * - every resource released exactly once on complete, timeout, orphan,
 *   release and caller-gone paths, for every kind (fd counts + ASan).
 * - the handle across threads (wait on another thread, drop racing finish).
 * - the owned-buffer send and write_at (tcase `owned`): each run side by side
 *   with its copying twin over every send/write_at cell of
 *   docs/requests.md §4.3 and several multi-CQE histories, ended every way
 *   (complete, timeout, release, caller gone before and after delivery),
 *   agreeing on every observation call, SQE and result, the caller's
 *   buffer back (same pointer, bytes intact) or freed by the request; every
 *   -EINVAL/-EBADF leaving the buffer the caller's; the *_fd forms with a
 *   pool; the waiter table paths; a real ring (`request_ring`).
 * - a real io_uring (separate TAP test `request_ring`, run with --ring; it
 *   prints `1..0 # SKIP` where a ring cannot be set up): kernel CQEs drive
 *   recv, send, read_at across a short read at EOF, write_at, fsync.
 *
 * Every test case carries the fd-leak fixture; the ASan build checks that
 * buffers are freed exactly once on every path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "fake_request.h"
#include "fd.h"
#include "handle.h"
#include "request.h"
#include "support.h"
#include "waiter.h"

/* ---- helpers ------------------------------------------------------------ */

#define DEF_LEN 8
#define DEF_CAP 16
#define DEF_FILE_OFFSET 100
#define UD UINT64_C(0x0000000500000007)

static const char send_bytes[] = "abcdefgh";

static void socket_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* An unlinked temporary file holding @len bytes of @data (may be 0). */
static int temp_file(const void *data, size_t len)
{
	char path[] = "/tmp/iouw-request-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlink(path), 0);
	if (len)
		ck_assert_int_eq(pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, n);
	return p;
}

enum variant {
	V_PLAIN = 0,     /* recv: exact, offset 0 */
	V_NONEXACT = 1,  /* recv: not exact */
	V_PREFIX = 2,    /* recv: exact, offset 2 */
	V_PREFIX_NONEXACT = 3,
};

/* Build the default request of @kind on @fd (see DEF_*). */
static void make_kind(enum iouw_request_kind kind, int fd, enum variant v,
                      struct iouw_request **req, struct iouw_handle **h)
{
	struct iovec iov = { (void *)send_bytes, DEF_LEN };
	int r = -1;

	switch (kind) {
	case IOUW_REQUEST_SEND:
		r = iouw_request_send(fd, &iov, 1, 1234, req, h);
		break;
	case IOUW_REQUEST_RECV: {
		size_t off = (v == V_PREFIX || v == V_PREFIX_NONEXACT) ? 2 : 0;
		bool exact = v == V_PLAIN || v == V_PREFIX;

		r = iouw_request_recv(fd, xmalloc(DEF_CAP), DEF_CAP, off, DEF_LEN, exact, 5678, req,
		                      h);
		break;
	}
	case IOUW_REQUEST_READ_AT:
		r = iouw_request_read_at(fd, DEF_FILE_OFFSET, xmalloc(DEF_CAP), DEF_CAP, DEF_LEN, req,
		                         h);
		break;
	case IOUW_REQUEST_WRITE_AT:
		r = iouw_request_write_at(fd, DEF_FILE_OFFSET, &iov, 1, req, h);
		break;
	case IOUW_REQUEST_SYNC:
		r = iouw_request_sync(fd, req, h);
		break;
	}
	ck_assert_int_eq(r, 0);
	ck_assert(iouw_request_is_kind(*req));
	ck_assert_int_eq(iouw_request_kind(*req), kind);
}

static bool kind_returns_buffer(enum iouw_request_kind kind)
{
	return kind == IOUW_REQUEST_RECV || kind == IOUW_REQUEST_READ_AT;
}

/* Take the delivered result (it must be there), check it, free the buffer,
 * drop the handle. @what names the case in failure messages. */
static void expect_result(struct iouw_handle *h, enum iouw_request_kind kind,
                          enum iouw_status status, int err, size_t value, size_t buf_len,
                          const char *what)
{
	struct iouw_result res;
	int r = iouw_handle_try(h, &res);

	ck_assert_msg(r == 0, "%s: no result delivered (%d)", what, r);
	ck_assert_msg(res.status == status, "%s: status %s, want %s", what,
	              iouw_status_name(res.status), iouw_status_name(status));
	ck_assert_msg(res.err == err, "%s: err %d, want %d", what, res.err, err);
	ck_assert_msg(res.value == value, "%s: value %zu, want %zu", what, res.value, value);
	if (kind_returns_buffer(kind)) {
		ck_assert_msg(res.buf != NULL, "%s: buffer not returned", what);
		ck_assert_msg(res.buf_capacity == DEF_CAP, "%s: capacity %zu", what,
		              res.buf_capacity);
		ck_assert_msg(res.buf_len == buf_len, "%s: buf_len %zu, want %zu", what,
		              res.buf_len, buf_len);
	} else {
		ck_assert_msg(res.buf == NULL && res.buf_len == 0, "%s: unexpected buffer", what);
	}
	ck_assert_msg(iouw_handle_try(h, &res) == -EALREADY, "%s: result delivered twice", what);
	iouw_result_free(&res);
	iouw_handle_drop(h);
}

static void expect_no_result(struct iouw_handle *h)
{
	struct iouw_result res;

	ck_assert_int_eq(iouw_handle_try(h, &res), -EAGAIN);
}

static void build(struct iouw_request *req, struct io_uring_sqe *sqe)
{
	memset(sqe, 0, sizeof(*sqe));
	req->ops->build_sqe(req, sqe, UD);
	ck_assert_uint_eq(sqe->user_data, UD);
	ck_assert_int_eq(sqe->fd, iouw_request_fd(req));
}

static const struct iovec *sqe_iov(const struct io_uring_sqe *sqe)
{
	return (const struct iovec *)(uintptr_t)sqe->addr;
}

static enum iouw_status fallback_of(enum iouw_request_kind kind)
{
	static const enum iouw_status fb[] = {
		[IOUW_REQUEST_SEND] = IOUW_RESULT_SEND_FAILED,
		[IOUW_REQUEST_RECV] = IOUW_RESULT_RECV_FAILED,
		[IOUW_REQUEST_READ_AT] = IOUW_RESULT_READ_FAILED,
		[IOUW_REQUEST_WRITE_AT] = IOUW_RESULT_WRITE_FAILED,
		[IOUW_REQUEST_SYNC] = IOUW_RESULT_OK,
	};
	return fb[kind];
}

static const enum iouw_request_kind all_kinds[] = {
	IOUW_REQUEST_SEND, IOUW_REQUEST_RECV, IOUW_REQUEST_READ_AT, IOUW_REQUEST_WRITE_AT,
	IOUW_REQUEST_SYNC,
};

/* ---- twins of the original tests ------------------------------------------ */

START_TEST(cqe_result_from_raw_retryable_codes)
{
	const int32_t retry[] = { -EAGAIN, -EWOULDBLOCK, -EINTR };

	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(iouw_cqe_classify(retry[i], false), IOUW_CQE_RETRY);
		ck_assert_int_eq(iouw_cqe_classify(retry[i], true), IOUW_CQE_RETRY);
	}
	ck_assert_int_eq(iouw_cqe_classify(-ECANCELED, true), IOUW_CQE_CANCELLED);
	ck_assert_int_eq(iouw_cqe_classify(-ECANCELED, false), IOUW_CQE_ERROR);
	ck_assert_int_eq(iouw_cqe_classify(-EIO, false), IOUW_CQE_ERROR);
	ck_assert_int_eq(iouw_cqe_classify(-EIO, true), IOUW_CQE_ERROR);
	ck_assert_int_eq(iouw_cqe_classify(-ETIME, true), IOUW_CQE_ERROR);
	ck_assert_int_eq(iouw_cqe_classify(INT32_MIN, false), IOUW_CQE_ERROR);
	ck_assert_int_eq(iouw_cqe_classify(-1, true), IOUW_CQE_ERROR);
	ck_assert_int_eq(iouw_cqe_classify(0, false), IOUW_CQE_ZERO);
	ck_assert_int_eq(iouw_cqe_classify(0, true), IOUW_CQE_ZERO);
	ck_assert_int_eq(iouw_cqe_classify(1, false), IOUW_CQE_POSITIVE);
	ck_assert_int_eq(iouw_cqe_classify(INT32_MAX, true), IOUW_CQE_POSITIVE);
	ck_assert_str_eq(iouw_cqe_class_name(IOUW_CQE_RETRY), "retry");
	ck_assert_str_eq(iouw_cqe_class_name(IOUW_CQE_POSITIVE), "positive");

	/* Every kind requeues a retry while active, whatever the code. */
	for (unsigned k = 0; k < 5; k++) {
		for (unsigned i = 0; i < 3; i++) {
			int sv[2];
			struct iouw_request *req;
			struct iouw_handle *h;

			socket_pair(sv);
			make_kind(all_kinds[k], sv[0], V_PLAIN, &req, &h);
			ck_assert_msg(!req->ops->on_cqe(req, false, retry[i]), "%s retry %d terminal",
			              iouw_request_kind_name(all_kinds[k]), retry[i]);
			ck_assert(!iouw_request_result(req, NULL, NULL));
			req->ops->release(req);
			expect_result(h, all_kinds[k], IOUW_RESULT_ABANDONED, ECANCELED, 0, 0,
			              "release");
			close(sv[0]);
			close(sv[1]);
		}
	}
}
END_TEST

START_TEST(request_deadline_helpers_and_invariants)
{
	int sv[2];
	int fd;
	struct iouw_request *req = (struct iouw_request *)0x1;
	struct iouw_handle *h = (struct iouw_handle *)0x1;
	struct iovec iov = { (void *)send_bytes, DEF_LEN };
	struct iovec empty = { NULL, 0 };
	char stack[4];
	void *buf = xmalloc(DEF_CAP);

	/* Deadline arithmetic saturates at "no deadline". */
	ck_assert_uint_eq(iouw_deadline_after(100, 5), 105);
	ck_assert_uint_eq(iouw_deadline_after(0, 0), 0);
	ck_assert_uint_eq(iouw_deadline_after(UINT64_MAX - 10, 10), IOUW_NO_DEADLINE);
	ck_assert_uint_eq(iouw_deadline_after(UINT64_MAX - 10, 9), UINT64_MAX - 1);
	ck_assert_uint_eq(iouw_deadline_after(5, UINT64_MAX), IOUW_NO_DEADLINE);
	ck_assert_uint_eq(iouw_deadline_after(IOUW_NO_DEADLINE, 0), IOUW_NO_DEADLINE);

	/* Only send and recv carry a deadline. */
	socket_pair(sv);
	fd = temp_file(NULL, 0);
	for (unsigned k = 0; k < 5; k++) {
		make_kind(all_kinds[k], all_kinds[k] == IOUW_REQUEST_SEND ||
		                                all_kinds[k] == IOUW_REQUEST_RECV ? sv[0] : fd,
		          V_PLAIN, &req, &h);
		if (all_kinds[k] == IOUW_REQUEST_SEND)
			ck_assert_uint_eq(iouw_request_deadline(req), 1234);
		else if (all_kinds[k] == IOUW_REQUEST_RECV)
			ck_assert_uint_eq(iouw_request_deadline(req), 5678);
		else
			ck_assert_uint_eq(iouw_request_deadline(req), IOUW_NO_DEADLINE);
		ck_assert_uint_eq(req->deadline_ns, iouw_request_deadline(req));
		/* The request owns a dup of the fd, not the fd itself. */
		ck_assert_int_ne(iouw_request_fd(req), sv[0]);
		ck_assert_int_ne(iouw_request_fd(req), fd);
		ck_assert_int_ne(fcntl(iouw_request_fd(req), F_GETFD) & FD_CLOEXEC, 0);
		ck_assert(!iouw_request_caller_gone(req));
		ck_assert_str_ne(iouw_request_kind_name(all_kinds[k]), "unknown");
		req->ops->release(req);
		expect_result(h, all_kinds[k], IOUW_RESULT_ABANDONED, ECANCELED, 0, 0, "release");
	}
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 1, IOUW_NO_DEADLINE, &req, &h), 0);
	ck_assert_uint_eq(iouw_request_deadline(req), IOUW_NO_DEADLINE);
	req->ops->release(req);
	iouw_handle_drop(h);

	/* Bad arguments: -EINVAL, nothing written, nothing taken. */
	req = (struct iouw_request *)0x1;
	h = (struct iouw_handle *)0x1;
	ck_assert_int_eq(iouw_request_send(-1, &iov, 1, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_send(sv[0], NULL, 1, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 0, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_send(sv[0], &empty, 1, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 1, 0, NULL, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 1, 0, &req, NULL), -EINVAL);
	{
		struct iovec huge = { stack, (size_t)UINT32_MAX + 1 };

		ck_assert_int_eq(iouw_request_send(sv[0], &huge, 1, 0, &req, &h), -EINVAL);
		ck_assert_int_eq(iouw_request_write_at(fd, 0, &huge, 1, &req, &h), -EINVAL);
	}
	ck_assert_int_eq(iouw_request_write_at(fd, (uint64_t)INT64_MAX, &iov, 1, &req, &h),
	                 -EINVAL);
	ck_assert_int_eq(iouw_request_write_at(fd, UINT64_MAX, &iov, 1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_write_at(-1, 0, &iov, 1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_recv(sv[0], buf, DEF_CAP, 0, DEF_CAP + 1, true, 0, &req, &h),
	                 -EINVAL);
	ck_assert_int_eq(iouw_request_recv(sv[0], buf, DEF_CAP, 4, 4, true, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_recv(sv[0], buf, DEF_CAP, 5, 4, true, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_recv(sv[0], NULL, DEF_CAP, 0, 4, true, 0, &req, &h),
	                 -EINVAL);
	ck_assert_int_eq(iouw_request_recv(-1, buf, DEF_CAP, 0, 4, true, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_read_at(fd, 0, buf, DEF_CAP, 0, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_read_at(fd, 0, buf, DEF_CAP, DEF_CAP + 1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_read_at(fd, UINT64_MAX, buf, DEF_CAP, 1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_read_at(fd, 0, NULL, DEF_CAP, 1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_sync(-1, &req, &h), -EINVAL);
	ck_assert_int_eq(iouw_request_sync(fd, NULL, &h), -EINVAL);
	ck_assert_ptr_eq(req, (struct iouw_request *)0x1);
	ck_assert_ptr_eq(h, (struct iouw_handle *)0x1);

	/* A closed fd cannot be duplicated: the fcntl error comes back and the
	 * caller keeps its buffer. */
	{
		int dead = dup(fd);

		close(dead);
		ck_assert_int_eq(iouw_request_sync(dead, &req, &h), -EBADF);
		ck_assert_int_eq(iouw_request_recv(dead, buf, DEF_CAP, 0, 4, true, 0, &req, &h),
		                 -EBADF);
		ck_assert_int_eq(iouw_request_send(dead, &iov, 1, 0, &req, &h), -EBADF);
	}
	free(buf); /* still ours: every constructor failed */
	close(fd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(active_send_paths)
{
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;
	struct io_uring_sqe sqe;
	char caller[DEF_LEN];
	struct iovec iov = { caller, DEF_LEN };

	socket_pair(sv);
	memcpy(caller, send_bytes, DEF_LEN);
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 1, 99, &req, &h), 0);
	/* The bytes were copied: the caller may reuse its memory at once. */
	memset(caller, 'X', sizeof(caller));

	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_SEND);
	ck_assert_uint_eq(sqe.len, DEF_LEN);
	ck_assert_int_eq(sqe.msg_flags, MSG_NOSIGNAL);
	ck_assert_mem_eq((const void *)(uintptr_t)sqe.addr, send_bytes, DEF_LEN);

	/* Retry: again, cursor unchanged. */
	ck_assert(!req->ops->on_cqe(req, false, -EAGAIN));
	ck_assert_uint_eq(iouw_request_progress(req), 0);
	/* Partial: again, the next SQE starts at the unsent bytes. */
	ck_assert(!req->ops->on_cqe(req, false, 3));
	ck_assert_uint_eq(iouw_request_progress(req), 3);
	ck_assert_uint_eq(iouw_request_remaining(req), 5);
	build(req, &sqe);
	ck_assert_uint_eq(sqe.len, 5);
	ck_assert_mem_eq((const void *)(uintptr_t)sqe.addr, send_bytes + 3, 5);
	expect_no_result(h);
	/* All sent: ok. */
	ck_assert(req->ops->on_cqe(req, false, 5));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_SEND, IOUW_RESULT_OK, 0, DEF_LEN, 0, "send all");

	/* A peer that reads what we sent (real socket, plain send(2) for the
	 * bytes the SQE describes). */
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 1, 99, &req, &h), 0);
	build(req, &sqe);
	ck_assert_int_eq(send(sv[0], (const void *)(uintptr_t)sqe.addr, sqe.len, 0), DEF_LEN);
	ck_assert(req->ops->on_cqe(req, true, DEF_LEN)); /* completion beats the cancel */
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_SEND, IOUW_RESULT_OK, 0, DEF_LEN, 0, "send wins over cancel");
	{
		char got[DEF_LEN];

		ck_assert_int_eq(recv(sv[1], got, sizeof(got), 0), DEF_LEN);
		ck_assert_mem_eq(got, "XXXXXXXX", DEF_LEN);
	}

	/* Errors. */
	ck_assert_int_eq(iouw_request_send(sv[0], &iov, 1, 99, &req, &h), 0);
	ck_assert(req->ops->on_cqe(req, false, -EPIPE));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_SEND, IOUW_RESULT_SEND_FAILED, EPIPE, 0, 0, "send error");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(active_recv_paths)
{
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;
	struct io_uring_sqe sqe;
	uint8_t *buf = xmalloc(DEF_CAP);
	struct iouw_result res;

	socket_pair(sv);
	/* Exact: a partial result asks for the rest. */
	ck_assert_int_eq(iouw_request_recv(sv[0], buf, DEF_CAP, 0, DEF_LEN, true, 5, &req, &h), 0);
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_RECV);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf);
	ck_assert_uint_eq(sqe.len, DEF_LEN);
	ck_assert(!req->ops->on_cqe(req, false, -EINTR));
	memcpy(buf, "abc", 3);
	ck_assert(!req->ops->on_cqe(req, false, 3));
	build(req, &sqe);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf + 3);
	ck_assert_uint_eq(sqe.len, DEF_LEN - 3);
	memcpy(buf + 3, "defgh", 5);
	ck_assert(req->ops->on_cqe(req, false, 5));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_OK);
	ck_assert_uint_eq(res.value, DEF_LEN);
	ck_assert_ptr_eq(res.buf, buf); /* the caller's buffer comes back */
	ck_assert_uint_eq(res.buf_len, DEF_LEN);
	ck_assert_mem_eq(res.buf, "abcdefgh", DEF_LEN);
	ck_assert_int_eq(iouw_handle_wait(h, &res), -EALREADY);
	iouw_handle_drop(h);

	/* Not exact, with a prefix: the first bytes finish it, value counts
	 * the prefix. */
	ck_assert_int_eq(iouw_request_recv(sv[0], buf, DEF_CAP, 2, DEF_LEN, false, 5, &req, &h), 0);
	build(req, &sqe);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf + 2);
	ck_assert_uint_eq(sqe.len, DEF_LEN - 2);
	ck_assert(req->ops->on_cqe(req, false, 1));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_OK);
	ck_assert_uint_eq(res.value, 3);
	ck_assert_uint_eq(res.buf_len, 3);
	iouw_handle_drop(h);

	/* Peer closed: RecvFailed with the buffer returned. */
	ck_assert_int_eq(iouw_request_recv(sv[0], res.buf, DEF_CAP, 0, DEF_LEN, true, 5, &req, &h),
	                 0);
	ck_assert(req->ops->on_cqe(req, false, 0));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_RECV, IOUW_RESULT_RECV_FAILED, 0, 0, 0, "recv eof");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(active_read_at_paths)
{
	int fd = temp_file("0123456789", 10);
	struct iouw_request *req;
	struct iouw_handle *h;
	struct io_uring_sqe sqe;
	uint8_t *buf = xmalloc(DEF_CAP);

	ck_assert_int_eq(iouw_request_read_at(fd, 2, buf, DEF_CAP, DEF_LEN, &req, &h), 0);
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_READ);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf);
	ck_assert_uint_eq(sqe.len, DEF_LEN);
	ck_assert_uint_eq(sqe.off, 2);
	ck_assert(!req->ops->on_cqe(req, false, -EAGAIN));
	ck_assert(!req->ops->on_cqe(req, true, -EAGAIN)); /* even cancel-requested */
	ck_assert(!req->ops->on_cqe(req, false, 5));
	build(req, &sqe);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf + 5);
	ck_assert_uint_eq(sqe.len, DEF_LEN - 5);
	ck_assert_uint_eq(sqe.off, 2 + 5);
	ck_assert(!req->ops->on_cqe(req, true, 2)); /* partial: again even when C */
	ck_assert(req->ops->on_cqe(req, false, 1));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_READ_AT, IOUW_RESULT_OK, 0, DEF_LEN, DEF_LEN, "read all");

	/* EOF before len: InsufficientLength, buffer back with what was read. */
	ck_assert_int_eq(iouw_request_read_at(fd, 6, xmalloc(DEF_CAP), DEF_CAP, DEF_LEN, &req, &h),
	                 0);
	ck_assert(!req->ops->on_cqe(req, false, 4));
	ck_assert(req->ops->on_cqe(req, false, 0));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_READ_AT, IOUW_RESULT_INSUFFICIENT_LENGTH, 0, 0, 4,
	              "read eof");
	close(fd);
}
END_TEST

START_TEST(active_write_at_paths)
{
	int fd = temp_file(NULL, 0);
	struct iouw_request *req;
	struct iouw_handle *h;
	struct io_uring_sqe sqe;
	struct iovec iov[2] = { { (void *)"hello ", 6 }, { (void *)"world", 5 } };

	ck_assert_int_eq(iouw_request_write_at(fd, 10, &iov[0], 1, &req, &h), 0);
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_WRITE);
	ck_assert_uint_eq(sqe.len, 6);
	ck_assert_uint_eq(sqe.off, 10);
	ck_assert_mem_eq((const void *)(uintptr_t)sqe.addr, "hello ", 6);
	ck_assert(!req->ops->on_cqe(req, true, -EAGAIN)); /* retry under cancel: again */
	ck_assert(!req->ops->on_cqe(req, false, 4));
	build(req, &sqe);
	ck_assert_uint_eq(sqe.len, 2);
	ck_assert_uint_eq(sqe.off, 14);
	ck_assert_mem_eq((const void *)(uintptr_t)sqe.addr, "o ", 2);
	ck_assert(!req->ops->on_cqe(req, true, 1)); /* partial under cancel: again */
	ck_assert(req->ops->on_cqe(req, false, 1));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_WRITE_AT, IOUW_RESULT_OK, 0, 6, 0, "write all");

	/* Several buffers: WRITEV with a file offset that moves. */
	ck_assert_int_eq(iouw_request_write_at(fd, 0, iov, 2, &req, &h), 0);
	ck_assert_uint_eq(iouw_request_buffer_count(req), 2);
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_WRITEV);
	ck_assert_uint_eq(sqe.len, 2);
	ck_assert_uint_eq(sqe.off, 0);
	/* Let the kernel's write(2) do what the SQE says. */
	ck_assert_int_eq(pwritev(fd, sqe_iov(&sqe), (int)sqe.len, (off_t)sqe.off), 11);
	ck_assert(req->ops->on_cqe(req, false, 11));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_WRITE_AT, IOUW_RESULT_OK, 0, 11, 0, "writev all");
	{
		char got[11];

		ck_assert_int_eq(pread(fd, got, sizeof(got), 0), 11);
		ck_assert_mem_eq(got, "hello world", 11);
	}

	ck_assert_int_eq(iouw_request_write_at(fd, 0, iov, 2, &req, &h), 0);
	ck_assert(req->ops->on_cqe(req, false, -ENOSPC));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_WRITE_AT, IOUW_RESULT_WRITE_FAILED, ENOSPC, 0, 0,
	              "write error");
	close(fd);
}
END_TEST

START_TEST(active_sync_paths)
{
	int fd = temp_file("x", 1);
	struct iouw_request *req;
	struct iouw_handle *h;
	struct io_uring_sqe sqe;

	ck_assert_int_eq(iouw_request_sync(fd, &req, &h), 0);
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_FSYNC);
	ck_assert_uint_eq(sqe.fsync_flags, 0);
	ck_assert_uint_eq(sqe.addr, 0);
	ck_assert_uint_eq(sqe.len, 0);
	ck_assert_uint_eq(iouw_request_progress(req), 0);
	ck_assert_uint_eq(iouw_request_remaining(req), 0);
	ck_assert(!req->ops->on_cqe(req, false, -EAGAIN));
	ck_assert(!req->ops->on_cqe(req, true, -EINTR));
	build(req, &sqe); /* rebuilt the same after a retry */
	ck_assert_int_eq(sqe.opcode, IORING_OP_FSYNC);
	ck_assert(req->ops->on_cqe(req, false, 0));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_SYNC, IOUW_RESULT_OK, 0, 0, 0, "sync ok");

	ck_assert_int_eq(iouw_request_sync(fd, &req, &h), 0);
	ck_assert(req->ops->on_cqe(req, false, -EIO));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_SYNC, IOUW_RESULT_SYNC_ERROR, EIO, 0, 0, "sync error");

	ck_assert_int_eq(iouw_request_sync(fd, &req, &h), 0);
	ck_assert(req->ops->on_cqe(req, true, -ECANCELED));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, IOUW_REQUEST_SYNC, IOUW_RESULT_SYNC_ERROR, ECANCELED, 0, 0,
	              "sync cancelled");
	close(fd);
}
END_TEST

START_TEST(finish_without_cqe_uses_fallback_results)
{
	for (unsigned k = 0; k < 5; k++) {
		int sv[2];
		struct iouw_request *req;
		struct iouw_handle *h;
		char what[64];

		socket_pair(sv);
		make_kind(all_kinds[k], sv[0], V_PLAIN, &req, &h);
		ck_assert(!iouw_request_result(req, NULL, NULL));
		req->ops->finish(req, IOUW_FINISH_COMPLETE);
		snprintf(what, sizeof(what), "fallback %s", iouw_request_kind_name(all_kinds[k]));
		expect_result(h, all_kinds[k], fallback_of(all_kinds[k]), 0, 0, 0, what);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

START_TEST(finish_timeout_delivers_timeout_results)
{
	for (unsigned k = 0; k < 5; k++) {
		int sv[2];
		struct iouw_request *req;
		struct iouw_handle *h;
		char what[64];
		enum iouw_request_kind kind = all_kinds[k];
		size_t progress = kind == IOUW_REQUEST_SYNC ? 0 : 3;

		socket_pair(sv);
		make_kind(kind, sv[0], V_PLAIN, &req, &h);
		if (progress)
			ck_assert(!req->ops->on_cqe(req, false, (int32_t)progress));
		req->ops->finish(req, IOUW_FINISH_TIMEOUT);
		snprintf(what, sizeof(what), "timeout %s", iouw_request_kind_name(kind));
		if (kind == IOUW_REQUEST_SYNC)
			expect_result(h, kind, IOUW_RESULT_SYNC_ERROR, ETIMEDOUT, 0, 0, what);
		else
			expect_result(h, kind, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0,
			              kind_returns_buffer(kind) ? progress : 0, what);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

/* ---- docs/requests.md §4.3, cell by cell ---------------------------------- */

struct cell {
	const char *name;
	enum iouw_request_kind kind;
	enum variant variant;
	bool cancel; /* waiter state C */
	int32_t res;
	bool terminal;
	/* What finish(COMPLETE) then delivers (the fallback when not terminal). */
	enum iouw_status status;
	int err;
	size_t value;
	size_t progress; /* cursor after the CQE */
};

#define S IOUW_REQUEST_SEND
#define R IOUW_REQUEST_RECV
#define RD IOUW_REQUEST_READ_AT
#define W IOUW_REQUEST_WRITE_AT
#define Y IOUW_REQUEST_SYNC
#define OK IOUW_RESULT_OK
#define TO IOUW_RESULT_TIMEOUT

/* Every cell of table 4.3 as X(test name, description, kind, variant,
 * cancel, res, terminal, status, err, value, progress): each becomes its own
 * check test named after the cell. */
#define CELLS_4_3(X) \
	X(t43_send_retry_a_again, "send retry A: again", S, 0, false, -EAGAIN, false, IOUW_RESULT_SEND_FAILED, 0, 0, 0) \
	X(t43_send_retry_c_timeout, "send retry C: Timeout", S, 0, true, -EAGAIN, true, TO, ETIMEDOUT, 0, 0) \
	X(t43_send_cancelled_c_timeout, "send cancelled C: Timeout", S, 0, true, -ECANCELED, true, TO, ETIMEDOUT, 0, 0) \
	X(t43_send_ecanceled_a_error_sendfailed, "send ECANCELED A (error): SendFailed", S, 0, false, -ECANCELED, true, IOUW_RESULT_SEND_FAILED, ECANCELED, 0, 0) \
	X(t43_send_error_a_sendfailed, "send error A: SendFailed", S, 0, false, -EIO, true, IOUW_RESULT_SEND_FAILED, EIO, 0, 0) \
	X(t43_send_error_c_sendfailed, "send error C: SendFailed", S, 0, true, -EIO, true, IOUW_RESULT_SEND_FAILED, EIO, 0, 0) \
	X(t43_send_zero_a_sendfailed, "send zero A: SendFailed", S, 0, false, 0, true, IOUW_RESULT_SEND_FAILED, 0, 0, 0) \
	X(t43_send_zero_c_sendfailed, "send zero C: SendFailed", S, 0, true, 0, true, IOUW_RESULT_SEND_FAILED, 0, 0, 0) \
	X(t43_send_positive_all_a_ok, "send positive all A: ok", S, 0, false, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_send_positive_all_c_ok_wins_over_cancel, "send positive all C: ok (wins over cancel)", S, 0, true, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_send_positive_partial_a_again, "send positive partial A: again", S, 0, false, 3, false, IOUW_RESULT_SEND_FAILED, 0, 0, 3) \
	X(t43_send_positive_partial_c_timeout, "send positive partial C: Timeout", S, 0, true, 3, true, TO, ETIMEDOUT, 0, 3) \
	X(t43_recv_retry_a_again, "recv retry A: again", R, 0, false, -EAGAIN, false, IOUW_RESULT_RECV_FAILED, 0, 0, 0) \
	X(t43_recv_retry_c_timeout, "recv retry C: Timeout", R, 0, true, -EAGAIN, true, TO, ETIMEDOUT, 0, 0) \
	X(t43_recv_cancelled_c_timeout, "recv cancelled C: Timeout", R, 0, true, -ECANCELED, true, TO, ETIMEDOUT, 0, 0) \
	X(t43_recv_ecanceled_a_error_recvfailed, "recv ECANCELED A (error): RecvFailed", R, 0, false, -ECANCELED, true, IOUW_RESULT_RECV_FAILED, ECANCELED, 0, 0) \
	X(t43_recv_error_a_recvfailed, "recv error A: RecvFailed", R, 0, false, -ECONNRESET, true, IOUW_RESULT_RECV_FAILED, ECONNRESET, 0, 0) \
	X(t43_recv_error_c_recvfailed, "recv error C: RecvFailed", R, 0, true, -EIO, true, IOUW_RESULT_RECV_FAILED, EIO, 0, 0) \
	X(t43_recv_zero_a_recvfailed, "recv zero A: RecvFailed", R, 0, false, 0, true, IOUW_RESULT_RECV_FAILED, 0, 0, 0) \
	X(t43_recv_zero_c_recvfailed, "recv zero C: RecvFailed", R, 0, true, 0, true, IOUW_RESULT_RECV_FAILED, 0, 0, 0) \
	X(t43_recv_exact_positive_all_a_ok_len, "recv exact positive all A: ok(len)", R, V_PLAIN, false, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_recv_exact_positive_all_c_ok_len, "recv exact positive all C: ok(len)", R, V_PLAIN, true, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_recv_exact_positive_partial_a_again, "recv exact positive partial A: again", R, V_PLAIN, false, 3, false, IOUW_RESULT_RECV_FAILED, 0, 0, 3) \
	X(t43_recv_exact_positive_partial_c_timeout, "recv exact positive partial C: Timeout", R, V_PLAIN, true, 3, true, TO, ETIMEDOUT, 0, 3) \
	X(t43_recv_not_exact_positive_partial_a_ok_n, "recv not exact positive partial A: ok(n)", R, V_NONEXACT, false, 3, true, OK, 0, 3, 3) \
	X(t43_recv_not_exact_positive_partial_c_ok_n, "recv not exact positive partial C: ok(n)", R, V_NONEXACT, true, 3, true, OK, 0, 3, 3) \
	X(t43_recv_exact_prefix_positive_rest_a_ok_len, "recv exact prefix positive rest A: ok(len)", R, V_PREFIX, false, 6, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_recv_exact_prefix_positive_rest_c_ok_len, "recv exact prefix positive rest C: ok(len)", R, V_PREFIX, true, 6, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_recv_exact_prefix_positive_partial_a_again, "recv exact prefix positive partial A: again", R, V_PREFIX, false, 1, false, IOUW_RESULT_RECV_FAILED, 0, 0, 3) \
	X(t43_recv_not_exact_prefix_positive_a_ok_prefix_n, "recv not exact prefix positive A: ok(prefix+n)", R, V_PREFIX_NONEXACT, false, 1, true, OK, 0, 3, 3) \
	X(t43_recv_not_exact_prefix_positive_c_ok_prefix_n, "recv not exact prefix positive C: ok(prefix+n)", R, V_PREFIX_NONEXACT, true, 1, true, OK, 0, 3, 3) \
	X(t43_read_at_retry_a_again, "read_at retry A: again", RD, 0, false, -EAGAIN, false, IOUW_RESULT_READ_FAILED, 0, 0, 0) \
	X(t43_read_at_retry_c_again, "read_at retry C: again", RD, 0, true, -EAGAIN, false, IOUW_RESULT_READ_FAILED, 0, 0, 0) \
	X(t43_read_at_cancelled_c_readfailed, "read_at cancelled C: ReadFailed", RD, 0, true, -ECANCELED, true, IOUW_RESULT_READ_FAILED, ECANCELED, 0, 0) \
	X(t43_read_at_ecanceled_a_error_readfailed, "read_at ECANCELED A (error): ReadFailed", RD, 0, false, -ECANCELED, true, IOUW_RESULT_READ_FAILED, ECANCELED, 0, 0) \
	X(t43_read_at_error_a_readfailed, "read_at error A: ReadFailed", RD, 0, false, -EIO, true, IOUW_RESULT_READ_FAILED, EIO, 0, 0) \
	X(t43_read_at_error_c_readfailed, "read_at error C: ReadFailed", RD, 0, true, -EBADF, true, IOUW_RESULT_READ_FAILED, EBADF, 0, 0) \
	X(t43_read_at_zero_a_insufficientlength, "read_at zero A: InsufficientLength", RD, 0, false, 0, true, IOUW_RESULT_INSUFFICIENT_LENGTH, 0, 0, 0) \
	X(t43_read_at_zero_c_insufficientlength, "read_at zero C: InsufficientLength", RD, 0, true, 0, true, IOUW_RESULT_INSUFFICIENT_LENGTH, 0, 0, 0) \
	X(t43_read_at_positive_all_a_ok, "read_at positive all A: ok", RD, 0, false, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_read_at_positive_all_c_ok, "read_at positive all C: ok", RD, 0, true, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_read_at_positive_partial_a_again, "read_at positive partial A: again", RD, 0, false, 3, false, IOUW_RESULT_READ_FAILED, 0, 0, 3) \
	X(t43_read_at_positive_partial_c_again, "read_at positive partial C: again", RD, 0, true, 3, false, IOUW_RESULT_READ_FAILED, 0, 0, 3) \
	X(t43_write_at_retry_a_again, "write_at retry A: again", W, 0, false, -EAGAIN, false, IOUW_RESULT_WRITE_FAILED, 0, 0, 0) \
	X(t43_write_at_retry_c_again, "write_at retry C: again", W, 0, true, -EWOULDBLOCK, false, IOUW_RESULT_WRITE_FAILED, 0, 0, 0) \
	X(t43_write_at_cancelled_c_writefailed, "write_at cancelled C: WriteFailed", W, 0, true, -ECANCELED, true, IOUW_RESULT_WRITE_FAILED, ECANCELED, 0, 0) \
	X(t43_write_at_ecanceled_a_error_writefailed, "write_at ECANCELED A (error): WriteFailed", W, 0, false, -ECANCELED, true, IOUW_RESULT_WRITE_FAILED, ECANCELED, 0, 0) \
	X(t43_write_at_error_a_writefailed, "write_at error A: WriteFailed", W, 0, false, -ENOSPC, true, IOUW_RESULT_WRITE_FAILED, ENOSPC, 0, 0) \
	X(t43_write_at_error_c_writefailed, "write_at error C: WriteFailed", W, 0, true, -EIO, true, IOUW_RESULT_WRITE_FAILED, EIO, 0, 0) \
	X(t43_write_at_zero_a_writefailed, "write_at zero A: WriteFailed", W, 0, false, 0, true, IOUW_RESULT_WRITE_FAILED, 0, 0, 0) \
	X(t43_write_at_zero_c_writefailed, "write_at zero C: WriteFailed", W, 0, true, 0, true, IOUW_RESULT_WRITE_FAILED, 0, 0, 0) \
	X(t43_write_at_positive_all_a_ok, "write_at positive all A: ok", W, 0, false, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_write_at_positive_all_c_ok, "write_at positive all C: ok", W, 0, true, DEF_LEN, true, OK, 0, DEF_LEN, DEF_LEN) \
	X(t43_write_at_positive_partial_a_again, "write_at positive partial A: again", W, 0, false, 3, false, IOUW_RESULT_WRITE_FAILED, 0, 0, 3) \
	X(t43_write_at_positive_partial_c_again, "write_at positive partial C: again", W, 0, true, 3, false, IOUW_RESULT_WRITE_FAILED, 0, 0, 3) \
	X(t43_sync_retry_a_again, "sync retry A: again", Y, 0, false, -EINTR, false, OK, 0, 0, 0) \
	X(t43_sync_retry_c_again, "sync retry C: again", Y, 0, true, -EAGAIN, false, OK, 0, 0, 0) \
	X(t43_sync_cancelled_c_error_ecanceled, "sync cancelled C: error ECANCELED", Y, 0, true, -ECANCELED, true, IOUW_RESULT_SYNC_ERROR, ECANCELED, 0, 0) \
	X(t43_sync_ecanceled_a_error_error_ecanceled, "sync ECANCELED A (error): error ECANCELED", Y, 0, false, -ECANCELED, true, IOUW_RESULT_SYNC_ERROR, ECANCELED, 0, 0) \
	X(t43_sync_error_a_error_res, "sync error A: error -res", Y, 0, false, -EIO, true, IOUW_RESULT_SYNC_ERROR, EIO, 0, 0) \
	X(t43_sync_error_c_error_res, "sync error C: error -res", Y, 0, true, -EROFS, true, IOUW_RESULT_SYNC_ERROR, EROFS, 0, 0) \
	X(t43_sync_zero_a_ok, "sync zero A: ok", Y, 0, false, 0, true, OK, 0, 0, 0) \
	X(t43_sync_zero_c_ok, "sync zero C: ok", Y, 0, true, 0, true, OK, 0, 0, 0) \
	X(t43_sync_positive_a_ok, "sync positive A: ok", Y, 0, false, 1, true, OK, 0, 0, 0) \
	X(t43_sync_positive_c_ok, "sync positive C: ok", Y, 0, true, 7, true, OK, 0, 0, 0)

static const struct cell cells[] = {
#define X(id, ...) { __VA_ARGS__ },
	CELLS_4_3(X)
#undef X
};

enum {
#define X(id, ...) id##_idx,
	CELLS_4_3(X)
#undef X
};


static void run_cell_4_3(const struct cell *c)
{
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;
	enum iouw_status st;
	int err;
	bool terminal;

	socket_pair(sv);
	make_kind(c->kind, sv[0], c->variant, &req, &h);
	terminal = req->ops->on_cqe(req, c->cancel, c->res);
	ck_assert_msg(terminal == c->terminal, "%s: terminal %d", c->name, terminal);
	ck_assert_msg(iouw_request_result(req, &st, &err) == c->terminal,
	              "%s: recorded result presence", c->name);
	if (c->terminal) {
		ck_assert_msg(st == c->status && err == c->err, "%s: recorded %s/%d", c->name,
		              iouw_status_name(st), err);
	}
	ck_assert_msg(iouw_request_progress(req) == c->progress, "%s: progress %zu", c->name,
	              iouw_request_progress(req));
	/* A CQE never orphans a request, and nothing reaches the caller
	 * before finish(). */
	ck_assert_msg(!iouw_request_is_orphaned(req), "%s: orphaned", c->name);
	expect_no_result(h);
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	expect_result(h, c->kind, c->status, c->err, c->value, c->progress, c->name);
	close(sv[0]);
	close(sv[1]);
}

#define X(id, ...)                          \
	START_TEST(id)                      \
	{                                   \
		run_cell_4_3(&cells[id##_idx]); \
	}                                   \
	END_TEST
CELLS_4_3(X)
#undef X

/* ---- docs/requests.md §4.4, through a real waiter table ------------------- */

enum col44 { COL_ORPHANED = 0, COL_FALLBACK = 1, COL_TIMEOUT = 2 };

static const char *const col_names[] = { "orphaned when caller dropped",
	                                 "delivered if no result recorded",
	                                 "delivered on local timeout" };

/* i = ((kind * 3) + column) * 2 + state (0 = A, 1 = C). */
static void run_cell_4_4(int i)
{
	enum iouw_request_kind kind = all_kinds[i / 6];
	enum col44 col = (enum col44)((i / 2) % 3);
	bool from_c = i % 2;
	bool orphans = kind == S || kind == R || kind == RD;
	struct iouw_waiters *w;
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;
	iouw_waiter_id id;
	char what[160];

	snprintf(what, sizeof(what), "%s, %s, from state %c", iouw_request_kind_name(kind),
	         col_names[col], from_c ? 'C' : 'A');
	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);
	make_kind(kind, sv[0], V_PLAIN, &req, &h);
	id = iouw_waiters_insert(w, req, 7);

	switch (col) {
	case COL_ORPHANED:
		if (from_c)
			ck_assert(iouw_waiters_cancel(w, id));
		iouw_handle_drop(h);
		ck_assert_msg(iouw_request_is_orphaned(req) == orphans, "%s: is_orphaned", what);
		ck_assert_msg(iouw_request_caller_gone(req), "%s: caller gone", what);
		iouw_waiters_stage(w, id, &so);
		if (from_c) {
			/* Cancel-requested wins: local timeout to nobody. */
			ck_assert_msg(so.kind == IOUW_STAGE_TIMEOUT, "%s: stage %d", what, so.kind);
			so.request->ops->finish(so.request, IOUW_FINISH_TIMEOUT);
		} else if (orphans) {
			ck_assert_msg(so.kind == IOUW_STAGE_ORPHANED, "%s: stage %d", what, so.kind);
			ck_assert_uint_eq(so.target_tick, 7);
		} else {
			/* Work continues after the caller left. */
			ck_assert_msg(so.kind == IOUW_STAGE_SUBMIT, "%s: stage %d", what, so.kind);
			iouw_waiters_on_completion(w, so.sqe.user_data,
			                           kind == Y ? 0 : DEF_LEN, &co);
			ck_assert_msg(co.kind == IOUW_COMPLETION_COMPLETE, "%s", what);
			co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
		}
		break;
	case COL_FALLBACK:
		/* Shutdown takes the request out with nothing recorded. */
		if (from_c)
			ck_assert(iouw_waiters_cancel(w, id));
		else {
			iouw_waiters_stage(w, id, &so);
			ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
			iouw_waiters_on_completion(w, so.sqe.user_data, -EAGAIN, &co);
			ck_assert_msg(co.kind == IOUW_COMPLETION_REQUEUE, "%s", what);
		}
		req = iouw_waiters_remove(w, id);
		req->ops->finish(req, IOUW_FINISH_COMPLETE);
		expect_result(h, kind, fallback_of(kind), 0, 0, 0, what);
		break;
	case COL_TIMEOUT:
		if (!from_c) {
			/* Deadline fired while parked: A -> C, stage times out. */
			ck_assert(iouw_waiters_cancel(w, id));
			iouw_waiters_stage(w, id, &so);
		} else {
			/* Deadline fired in flight: the retry CQE arrives in C. */
			iouw_waiters_stage(w, id, &so);
			ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
			ck_assert(iouw_waiters_cancel(w, id));
			iouw_waiters_on_completion(w, so.sqe.user_data, -EAGAIN, &co);
			if (kind == S || kind == R) {
				ck_assert_msg(co.kind == IOUW_COMPLETION_COMPLETE, "%s", what);
				ck_assert_uint_eq(co.target_tick, IOUW_NO_TICK);
				co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
				expect_result(h, kind, TO, ETIMEDOUT, 0, 0, what);
				break;
			}
			ck_assert_msg(co.kind == IOUW_COMPLETION_REQUEUE, "%s", what);
			iouw_waiters_stage(w, id, &so);
		}
		ck_assert_msg(so.kind == IOUW_STAGE_TIMEOUT, "%s: stage %d", what, so.kind);
		so.request->ops->finish(so.request, IOUW_FINISH_TIMEOUT);
		if (kind == Y)
			expect_result(h, kind, IOUW_RESULT_SYNC_ERROR, ETIMEDOUT, 0, 0, what);
		else
			expect_result(h, kind, TO, ETIMEDOUT, 0, 0, what);
		break;
	}
	ck_assert_msg(iouw_waiters_is_empty(w), "%s: table not empty", what);
	iouw_waiters_free(w);
	close(sv[0]);
	close(sv[1]);
}

/* Every cell of table 4.4 (kind x column x starting state), each its own
 * check test: X(test name, index for run_cell_4_4). */
#define CELLS_4_4(X) \
	X(t44_send_orphaned_from_A, 0) \
	X(t44_send_orphaned_from_C, 1) \
	X(t44_send_fallback_from_A, 2) \
	X(t44_send_fallback_from_C, 3) \
	X(t44_send_timeout_from_A, 4) \
	X(t44_send_timeout_from_C, 5) \
	X(t44_recv_orphaned_from_A, 6) \
	X(t44_recv_orphaned_from_C, 7) \
	X(t44_recv_fallback_from_A, 8) \
	X(t44_recv_fallback_from_C, 9) \
	X(t44_recv_timeout_from_A, 10) \
	X(t44_recv_timeout_from_C, 11) \
	X(t44_read_at_orphaned_from_A, 12) \
	X(t44_read_at_orphaned_from_C, 13) \
	X(t44_read_at_fallback_from_A, 14) \
	X(t44_read_at_fallback_from_C, 15) \
	X(t44_read_at_timeout_from_A, 16) \
	X(t44_read_at_timeout_from_C, 17) \
	X(t44_write_at_orphaned_from_A, 18) \
	X(t44_write_at_orphaned_from_C, 19) \
	X(t44_write_at_fallback_from_A, 20) \
	X(t44_write_at_fallback_from_C, 21) \
	X(t44_write_at_timeout_from_A, 22) \
	X(t44_write_at_timeout_from_C, 23) \
	X(t44_sync_orphaned_from_A, 24) \
	X(t44_sync_orphaned_from_C, 25) \
	X(t44_sync_fallback_from_A, 26) \
	X(t44_sync_fallback_from_C, 27) \
	X(t44_sync_timeout_from_A, 28) \
	X(t44_sync_timeout_from_C, 29)

#define X(id, i)                \
	START_TEST(id)          \
	{                       \
		run_cell_4_4(i); \
	}                       \
	END_TEST
CELLS_4_4(X)
#undef X

/* ---- SQE contents --------------------------------------------------------- */

/* Three buffers "ab", "cde", "fghi" (a zero-length one in between is
 * dropped). */
static void make_three(enum iouw_request_kind kind, int fd, struct iouw_request **req,
                       struct iouw_handle **h)
{
	char a[] = "ab", c[] = "cde", f[] = "fghi";
	struct iovec iov[4] = { { a, 2 }, { NULL, 0 }, { c, 3 }, { f, 4 } };

	if (kind == S)
		ck_assert_int_eq(iouw_request_send(fd, iov, 4, IOUW_NO_DEADLINE, req, h), 0);
	else
		ck_assert_int_eq(iouw_request_write_at(fd, 1000, iov, 4, req, h), 0);
	memset(a, 'X', 2); /* copied: the caller's memory no longer matters */
	ck_assert_uint_eq(iouw_request_buffer_count(*req), 3);
	ck_assert_uint_eq(iouw_request_length(*req), 9);
}

START_TEST(sqe_vectored_resume_inside_buffer)
{
	for (unsigned pass = 0; pass < 2; pass++) {
		enum iouw_request_kind kind = pass ? W : S;
		uint64_t base = pass ? 1000 : 0;
		int sv[2];
		struct iouw_request *req;
		struct iouw_handle *h;
		struct io_uring_sqe sqe;
		const struct iovec *v;

		socket_pair(sv);
		make_three(kind, sv[0], &req, &h);
		build(req, &sqe);
		ck_assert_int_eq(sqe.opcode, IORING_OP_WRITEV);
		ck_assert_uint_eq(sqe.len, 3);
		ck_assert_uint_eq(sqe.off, base);
		v = sqe_iov(&sqe);
		ck_assert_mem_eq(v[0].iov_base, "ab", 2);
		ck_assert_uint_eq(v[0].iov_len, 2);
		ck_assert_mem_eq(v[1].iov_base, "cde", 3);
		ck_assert_mem_eq(v[2].iov_base, "fghi", 4);

		/* 3 bytes: ends inside "cde" -> resume at "de". */
		ck_assert(!req->ops->on_cqe(req, false, 3));
		build(req, &sqe);
		v = sqe_iov(&sqe);
		ck_assert_uint_eq(sqe.len, 2);
		ck_assert_uint_eq(sqe.off, pass ? base + 3 : 0);
		ck_assert_uint_eq(v[0].iov_len, 2);
		ck_assert_mem_eq(v[0].iov_base, "de", 2);
		ck_assert_uint_eq(v[1].iov_len, 4);

		/* 2 more: ends exactly at a buffer boundary -> "fghi" alone. */
		ck_assert(!req->ops->on_cqe(req, false, 2));
		build(req, &sqe);
		v = sqe_iov(&sqe);
		ck_assert_uint_eq(sqe.len, 1);
		ck_assert_uint_eq(v[0].iov_len, 4);
		ck_assert_mem_eq(v[0].iov_base, "fghi", 4);
		ck_assert_uint_eq(iouw_request_remaining(req), 4);

		/* 1 more, then the rest. */
		ck_assert(!req->ops->on_cqe(req, false, 1));
		build(req, &sqe);
		v = sqe_iov(&sqe);
		ck_assert_uint_eq(v[0].iov_len, 3);
		ck_assert_mem_eq(v[0].iov_base, "ghi", 3);
		ck_assert_uint_eq(sqe.off, pass ? base + 6 : 0);
		ck_assert(req->ops->on_cqe(req, false, 3));
		req->ops->finish(req, IOUW_FINISH_COMPLETE);
		expect_result(h, kind, OK, 0, 9, 0, "vectored");
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

START_TEST(sqe_vectored_more_than_32_buffers)
{
	enum { N = 40 };
	static char bytes[N * 2];
	struct iovec iov[N];

	for (unsigned i = 0; i < N; i++) {
		bytes[2 * i] = (char)('A' + i % 26);
		bytes[2 * i + 1] = (char)('a' + i % 26);
		iov[i].iov_base = &bytes[2 * i];
		iov[i].iov_len = 2;
	}
	for (unsigned pass = 0; pass < 2; pass++) {
		int sv[2];
		struct iouw_request *req;
		struct iouw_handle *h;
		struct io_uring_sqe sqe;
		const struct iovec *v;

		socket_pair(sv);
		if (pass)
			ck_assert_int_eq(iouw_request_write_at(sv[0], 0, iov, N, &req, &h), 0);
		else
			ck_assert_int_eq(iouw_request_send(sv[0], iov, N, 0, &req, &h), 0);
		build(req, &sqe);
		ck_assert_int_eq(sqe.opcode, IORING_OP_WRITEV);
		ck_assert_uint_eq(sqe.len, IOUW_REQUEST_MAX_IOVECS);
		v = sqe_iov(&sqe);
		for (unsigned i = 0; i < IOUW_REQUEST_MAX_IOVECS; i++) {
			ck_assert_uint_eq(v[i].iov_len, 2);
			ck_assert_mem_eq(v[i].iov_base, &bytes[2 * i], 2);
		}
		/* 16 bytes = 8 buffers: 32 of the 32 remaining still fit. */
		ck_assert(!req->ops->on_cqe(req, false, 16));
		build(req, &sqe);
		ck_assert_uint_eq(sqe.len, 32);
		ck_assert_mem_eq(sqe_iov(&sqe)[0].iov_base, &bytes[16], 2);
		/* 3 more: inside buffer 9 -> 31 iovecs, the first 1 byte long. */
		ck_assert(!req->ops->on_cqe(req, false, 3));
		build(req, &sqe);
		v = sqe_iov(&sqe);
		ck_assert_uint_eq(sqe.len, 31);
		ck_assert_uint_eq(v[0].iov_len, 1);
		ck_assert_mem_eq(v[0].iov_base, &bytes[19], 1);
		ck_assert_mem_eq(v[30].iov_base, &bytes[78], 2);
		ck_assert_uint_eq(sqe.off, pass ? 19 : 0);
		ck_assert_uint_eq(iouw_request_remaining(req), 2 * N - 19);
		ck_assert(req->ops->on_cqe(req, false, 2 * N - 19));
		req->ops->finish(req, IOUW_FINISH_COMPLETE);
		expect_result(h, pass ? W : S, OK, 0, 2 * N, 0, ">32 buffers");
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

START_TEST(sqe_user_data_and_fd_every_kind)
{
	for (unsigned k = 0; k < 5; k++) {
		int sv[2];
		struct iouw_request *req;
		struct iouw_handle *h;
		struct io_uring_sqe sqe;
		static const uint8_t ops[] = { IORING_OP_SEND, IORING_OP_RECV, IORING_OP_READ,
			                       IORING_OP_WRITE, IORING_OP_FSYNC };

		socket_pair(sv);
		make_kind(all_kinds[k], sv[0], V_PLAIN, &req, &h);
		memset(&sqe, 0xa5, sizeof(sqe));
		memset(&sqe, 0, sizeof(sqe));
		req->ops->build_sqe(req, &sqe, iouw_waiter_id_user_data(iouw_waiter_id_new(9, 77)));
		ck_assert_uint_eq(sqe.user_data, iouw_waiter_id_user_data(iouw_waiter_id_new(9, 77)));
		ck_assert_int_eq(sqe.opcode, ops[k]);
		ck_assert_int_eq(sqe.fd, iouw_request_fd(req));
		ck_assert_uint_eq(sqe.flags, 0);
		if (all_kinds[k] == RD || all_kinds[k] == W)
			ck_assert_uint_eq(sqe.off, DEF_FILE_OFFSET);
		else
			ck_assert_uint_eq(sqe.off, 0);
		if (all_kinds[k] != Y)
			ck_assert_uint_eq(sqe.len, DEF_LEN);
		req->ops->release(req);
		iouw_handle_drop(h);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

/* ---- the waiter table driving real requests ------------------------------ */

START_TEST(waiters_orphan_before_first_sqe)
{
	int sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_stage_outcome so;
	int fds;

	socket_pair(sv);
	fds = iouw_test_count_fds();
	ck_assert_int_eq(iouw_waiters_new(2, &w), 0);
	make_kind(R, sv[0], V_PLAIN, &req, &h);
	ck_assert_int_eq(iouw_test_count_fds(), fds + 1); /* the request's dup */
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	iouw_handle_drop(h);
	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_ORPHANED);
	ck_assert_int_eq(iouw_test_count_fds(), fds); /* released: dup closed, buffer freed */
	iouw_waiters_free(w);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(waiters_orphan_after_retry)
{
	int sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;

	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(2, &w), 0);
	for (unsigned k = 0; k < 3; k++) { /* send, recv, read_at */
		make_kind(all_kinds[k], sv[0], V_PLAIN, &req, &h);
		iouw_waiter_id id = iouw_waiters_insert(w, req, 3);
		iouw_waiters_stage(w, id, &so);
		ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
		iouw_waiters_on_completion(w, so.sqe.user_data, -EAGAIN, &co);
		ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
		iouw_handle_drop(h);
		iouw_waiters_stage(w, id, &so);
		ck_assert_int_eq(so.kind, IOUW_STAGE_ORPHANED);
		ck_assert_uint_eq(so.target_tick, 3);
	}
	ck_assert(iouw_waiters_is_empty(w));
	iouw_waiters_free(w);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(waiters_orphan_after_partial_progress)
{
	int sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;

	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(2, &w), 0);
	for (unsigned k = 0; k < 3; k++) { /* send, recv, read_at */
		make_kind(all_kinds[k], sv[0], V_PLAIN, &req, &h);
		iouw_waiter_id id = iouw_waiters_insert(w, req, 3);
		iouw_waiters_stage(w, id, &so);
		iouw_waiters_on_completion(w, so.sqe.user_data, 2, &co);
		ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
		iouw_waiters_stage(w, id, &so);
		/* The caller leaves while the second SQE is in flight: the next
		 * partial CQE retires the request instead of requeueing it. */
		iouw_handle_drop(h);
		iouw_waiters_on_completion(w, so.sqe.user_data, 2, &co);
		ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
		ck_assert_uint_eq(iouw_request_progress(co.request), 4);
		ck_assert(!iouw_request_result(co.request, NULL, NULL));
		co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE); /* silent */
	}
	/* write_at does not orphan: partial progress continues. */
	make_kind(W, sv[0], V_PLAIN, &req, &h);
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	iouw_waiters_stage(w, id, &so);
	iouw_handle_drop(h);
	iouw_waiters_on_completion(w, so.sqe.user_data, 2, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
	ck_assert_uint_eq(so.sqe.off, DEF_FILE_OFFSET + 2);
	ck_assert_uint_eq(so.sqe.len, DEF_LEN - 2);
	iouw_waiters_on_completion(w, so.sqe.user_data, DEF_LEN - 2, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	ck_assert(iouw_waiters_is_empty(w));
	iouw_waiters_free(w);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(waiters_free_abandons_with_buffer_back)
{
	int sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h[5];

	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(8, &w), 0);
	for (unsigned k = 0; k < 5; k++) {
		make_kind(all_kinds[k], sv[0], V_PLAIN, &req, &h[k]);
		iouw_waiters_insert(w, req, IOUW_NO_TICK);
	}
	iouw_waiters_free(w);
	for (unsigned k = 0; k < 5; k++)
		expect_result(h[k], all_kinds[k], IOUW_RESULT_ABANDONED, ECANCELED, 0, 0,
		              "abandoned on table free");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Every end of a request -- complete, timeout, orphan (stage), release, and
 * finish for a caller who already left -- closes the request's fd exactly
 * once (the count drops by one and no further) and frees every buffer
 * exactly once (the sanitizer build turns a leak or double free into a
 * failure). */
START_TEST(resources_released_once_every_path)
{
	enum { END_COMPLETE, END_TIMEOUT, END_ORPHAN, END_RELEASE, END_CALLER_GONE, END_COUNT };
	int sv[2];

	socket_pair(sv);
	for (unsigned k = 0; k < 5; k++) {
		for (unsigned e = 0; e < END_COUNT; e++) {
			enum iouw_request_kind kind = all_kinds[k];
			struct iouw_waiters *w;
			struct iouw_request *req;
			struct iouw_handle *h;
			struct iouw_stage_outcome so;
			struct iouw_result res;
			int before = iouw_test_count_fds();

			ck_assert_int_eq(iouw_waiters_new(1, &w), 0);
			make_kind(kind, sv[0], V_PLAIN, &req, &h);
			ck_assert_int_eq(iouw_test_count_fds(), before + 1);
			iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
			switch (e) {
			case END_COMPLETE:
				req = iouw_waiters_remove(w, id);
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				break;
			case END_TIMEOUT:
				ck_assert(iouw_waiters_cancel(w, id));
				iouw_waiters_stage(w, id, &so);
				ck_assert_int_eq(so.kind, IOUW_STAGE_TIMEOUT);
				so.request->ops->finish(so.request, IOUW_FINISH_TIMEOUT);
				break;
			case END_ORPHAN:
				iouw_handle_drop(h);
				h = NULL;
				iouw_waiters_stage(w, id, &so);
				if (so.kind == IOUW_STAGE_SUBMIT) { /* write_at, sync */
					struct iouw_completion_outcome co;

					iouw_waiters_on_completion(w, so.sqe.user_data, -EIO, &co);
					ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
					co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
				} else {
					ck_assert_int_eq(so.kind, IOUW_STAGE_ORPHANED);
				}
				break;
			case END_RELEASE:
				req = iouw_waiters_remove(w, id);
				req->ops->release(req);
				break;
			case END_CALLER_GONE:
				iouw_handle_drop(h);
				h = NULL;
				req = iouw_waiters_remove(w, id);
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				break;
			}
			ck_assert_msg(iouw_test_count_fds() == before, "%s end %u: fd not closed",
			              iouw_request_kind_name(kind), e);
			iouw_waiters_free(w); /* empty: releases nothing more */
			ck_assert_int_eq(iouw_test_count_fds(), before);
			if (h) {
				ck_assert_int_eq(iouw_handle_try(h, &res), 0);
				ck_assert_int_eq(kind_returns_buffer(kind), res.buf != NULL);
				iouw_result_free(&res);
				iouw_handle_drop(h);
			}
		}
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- the handle ----------------------------------------------------------- */

struct waiter_thread {
	struct iouw_handle *h;
	struct iouw_result res;
	int rc;
};

static void *wait_thread(void *arg)
{
	struct waiter_thread *t = arg;

	t->rc = iouw_handle_wait(t->h, &t->res);
	return NULL;
}

START_TEST(handle_wait_across_threads)
{
	int sv[2];
	struct iouw_request *req;
	struct waiter_thread t = { 0 };
	pthread_t th;

	socket_pair(sv);
	make_kind(R, sv[0], V_NONEXACT, &req, &t.h);
	ck_assert_int_eq(pthread_create(&th, NULL, wait_thread, &t), 0);
	usleep(10000); /* let it block; correctness does not depend on it */
	ck_assert(req->ops->on_cqe(req, false, 4));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_int_eq(t.res.status, OK);
	ck_assert_uint_eq(t.res.value, 4);
	iouw_result_free(&t.res);
	ck_assert_ptr_null(t.res.buf);
	iouw_handle_drop(t.h);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A wait() racing the delivery, many times, with the delivery landing
 * before, during and after the waiter announces itself: never a lost
 * wake-up (the case timeout would catch a hang), always the result. */
START_TEST(handle_wait_races_deliver)
{
	for (unsigned i = 0; i < 2000; i++) {
		struct waiter_thread t = { 0 };
		struct iouw_result r = { .status = OK, .value = i };
		pthread_t th;

		ck_assert_int_eq(iouw_handle_new(&t.h), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, wait_thread, &t), 0);
		for (volatile unsigned spin = 0; spin < (i % 64) * 50; spin++)
			;
		ck_assert(iouw_handle_deliver(t.h, &r));
		iouw_handle_put(t.h);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		ck_assert_int_eq(t.rc, 0);
		ck_assert_uint_eq(t.res.value, i);
		ck_assert_int_eq(iouw_handle_wait(t.h, &t.res), -EALREADY);
		iouw_handle_drop(t.h);
	}
}
END_TEST

/* iouw_handle_take_and_drop(): nothing changes until a result is there;
 * then it takes the result (buffer included) and lets go in one step,
 * whichever side is left to free the handle. */
START_TEST(handle_take_and_drop)
{
	for (unsigned put_first = 0; put_first < 2; put_first++) {
		struct iouw_handle *h;
		struct iouw_result r = { .status = OK, .value = 3, .buf = xmalloc(4), .buf_len = 3,
		                         .buf_capacity = 4 };
		struct iouw_result got;

		ck_assert_int_eq(iouw_handle_new(&h), 0);
		ck_assert_int_eq(iouw_handle_take_and_drop(h, &got), -EAGAIN);
		ck_assert_int_eq(iouw_handle_take_and_drop(NULL, &got), -EINVAL);
		ck_assert_int_eq(iouw_handle_take_and_drop(h, NULL), -EINVAL);
		ck_assert(!iouw_handle_is_dropped(h)); /* still the caller's */
		if (put_first) {
			ck_assert(iouw_handle_deliver_and_put(h, &r));
		} else {
			ck_assert(iouw_handle_deliver(h, &r));
		}
		ck_assert_int_eq(iouw_handle_take_and_drop(h, &got), 0);
		if (!put_first)
			iouw_handle_put(h); /* the request side goes last: frees it */
		ck_assert_int_eq(got.status, OK);
		ck_assert_uint_eq(got.value, 3);
		ck_assert_ptr_eq(got.buf, r.buf); /* the caller's now */
		iouw_result_free(&got);
	}
	{
		/* Already taken: -EALREADY, nothing dropped. */
		struct iouw_handle *h;
		struct iouw_result r = { .status = OK }, got;

		ck_assert_int_eq(iouw_handle_new(&h), 0);
		ck_assert(iouw_handle_deliver_and_put(h, &r));
		ck_assert_int_eq(iouw_handle_try(h, &got), 0);
		ck_assert_int_eq(iouw_handle_take_and_drop(h, &got), -EALREADY);
		iouw_handle_drop(h);
	}
	{
		/* deliver_and_put after the caller left: false, the buffer
		 * stays with the request side, the handle is gone. */
		struct iouw_handle *h;
		struct iouw_result r = { .status = OK, .buf = xmalloc(4) };

		ck_assert_int_eq(iouw_handle_new(&h), 0);
		iouw_handle_drop(h);
		ck_assert(!iouw_handle_deliver_and_put(h, &r));
		free(r.buf);
	}
}
END_TEST

/* take_and_drop polling while another thread delivers and lets go: the
 * poll that sees the request side gone takes without an atomic operation
 * (handle.c); whichever way each round goes, the result and its buffer
 * arrive exactly once and the handle is freed once (ASan build). */
struct deliver_later {
	struct iouw_handle *h;
	struct iouw_result r;
	bool delivered; /* what iouw_handle_deliver_and_put() answered */
};

static void *deliver_and_put_thread(void *arg)
{
	struct deliver_later *d = arg;

	d->delivered = iouw_handle_deliver_and_put(d->h, &d->r);
	return NULL;
}

START_TEST(handle_take_and_drop_races_deliver)
{
	for (unsigned i = 0; i < 2000; i++) {
		struct deliver_later d = { .r = { .status = OK, .value = i, .buf = xmalloc(8),
		                                  .buf_len = 1, .buf_capacity = 8 } };
		struct iouw_result got;
		pthread_t th;
		int r;

		ck_assert_int_eq(iouw_handle_new(&d.h), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, deliver_and_put_thread, &d), 0);
		while ((r = iouw_handle_take_and_drop(d.h, &got)) == -EAGAIN)
			;
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(got.value, i);
		ck_assert_ptr_eq(got.buf, d.r.buf);
		iouw_result_free(&got);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		ck_assert(d.delivered);
	}
}
END_TEST

/* iouw_handle_pin(): a pinned handle delivered on its thread takes no
 * compare-and-swap (handle.c) and behaves as any other: the result comes
 * through, or, dropped first, the delivery returns false and the buffer
 * stays with the request side; delivered from another thread it takes the
 * compare-and-swap path and wakes a waiter. */
START_TEST(handle_pinned)
{
	struct iouw_handle *h;
	struct iouw_result r = { .status = OK, .value = 7, .buf = xmalloc(4), .buf_len = 2,
		                 .buf_capacity = 4 };
	struct iouw_result got;
	struct deliver_later d;
	pthread_t th;

	/* Delivered on its thread, then taken. */
	ck_assert_int_eq(iouw_handle_new(&h), 0);
	iouw_handle_pin(h);
	ck_assert_int_eq(iouw_handle_try(h, &got), -EAGAIN);
	ck_assert(iouw_handle_deliver_and_put(h, &r));
	ck_assert_int_eq(iouw_handle_take_and_drop(h, &got), 0);
	ck_assert_uint_eq(got.value, 7);
	ck_assert_ptr_eq(got.buf, r.buf);
	iouw_result_free(&got);
	/* Dropped first: the delivery is refused, the buffer stays ours. */
	r.buf = xmalloc(4);
	ck_assert_int_eq(iouw_handle_new(&h), 0);
	iouw_handle_pin(h);
	iouw_handle_drop(h);
	ck_assert(!iouw_handle_deliver_and_put(h, &r));
	free(r.buf);
	/* Delivered from another thread while this one waits. */
	d = (struct deliver_later){ .r = { .status = OK, .value = 9 } };
	ck_assert_int_eq(iouw_handle_new(&d.h), 0);
	iouw_handle_pin(d.h);
	ck_assert_int_eq(pthread_create(&th, NULL, deliver_and_put_thread, &d), 0);
	ck_assert_int_eq(iouw_handle_wait(d.h, &got), 0);
	ck_assert_uint_eq(got.value, 9);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert(d.delivered);
	iouw_handle_drop(d.h);
}
END_TEST

/* A request built from a pool has its handle pinned to the pool's thread:
 * polling it from another thread panics, naming the invariant. */
static void *try_off_thread(void *arg)
{
	struct iouw_result got;

	(void)iouw_handle_try(arg, &got);
	return NULL;
}

START_TEST(panic_pinned_handle_off_thread)
{
	struct iouw_pool *pool;
	struct iouw_fd *fd;
	struct iouw_request *req;
	struct iouw_handle *h;
	pthread_t th;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_fd_adopt(sv[0], &fd), 0);
	ck_assert_int_eq(iouw_request_pool_new(4, &pool), 0);
	ck_assert_int_eq(iouw_request_recv_fd(pool, fd, xmalloc(8), 8, 0, 8, true,
	                                      IOUW_NO_DEADLINE, &req, &h), 0);
	iouw_test_expect_invariant("handle used off its pinned thread");
	ck_assert_int_eq(pthread_create(&th, NULL, try_off_thread, h), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
}
END_TEST

static void *drop_thread(void *arg)
{
	iouw_handle_drop(arg);
	return NULL;
}

START_TEST(handle_drop_races_finish)
{
	int sv[2];

	socket_pair(sv);
	for (unsigned i = 0; i < 300; i++) {
		struct iouw_request *req;
		struct iouw_handle *h;
		pthread_t th;

		make_kind(i % 2 ? R : RD, sv[0], V_PLAIN, &req, &h);
		ck_assert_int_eq(pthread_create(&th, NULL, drop_thread, h), 0);
		if (i % 3 == 0)
			req->ops->release(req);
		else
			req->ops->finish(req, i % 3 == 1 ? IOUW_FINISH_COMPLETE : IOUW_FINISH_TIMEOUT);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(handle_drop_after_delivery_frees_untaken_buffer)
{
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;

	socket_pair(sv);
	make_kind(RD, sv[0], V_PLAIN, &req, &h);
	ck_assert(req->ops->on_cqe(req, false, DEF_LEN));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	iouw_handle_drop(h); /* never took it: LSan would report the buffer */

	ck_assert_int_eq(iouw_handle_wait(NULL, &res), -EINVAL);
	ck_assert_int_eq(iouw_handle_try(NULL, &res), -EINVAL);
	ck_assert_int_eq(iouw_handle_new(NULL), -EINVAL);
	iouw_handle_drop(NULL);
	iouw_result_free(NULL);
	ck_assert_str_eq(iouw_status_name(IOUW_RESULT_INSUFFICIENT_LENGTH), "insufficient length");
	ck_assert_str_eq(iouw_status_name(IOUW_RESULT_ABANDONED), "abandoned");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- shape panics ---------------------------------------------------------- */

static struct iouw_request *panic_req(enum iouw_request_kind kind, enum variant v)
{
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;

	socket_pair(sv);
	make_kind(kind, sv[0], v, &req, &h);
	return req; /* the process aborts: nothing to clean up */
}

START_TEST(panic_recv_offset_past_len)
{
	struct iouw_request *req = panic_req(R, V_PLAIN);
	struct io_uring_sqe sqe = { 0 };

	iouw_request_test_set_shape(req, DEF_LEN + 1, DEF_LEN, DEF_CAP);
	iouw_test_expect_invariant("recv offset <= len <= capacity");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_recv_len_past_capacity)
{
	struct iouw_request *req = panic_req(R, V_PLAIN);
	struct io_uring_sqe sqe = { 0 };

	iouw_request_test_set_shape(req, 0, DEF_CAP + 1, DEF_CAP);
	iouw_test_expect_invariant("recv offset <= len <= capacity");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_recv_shape_checked_on_cqe)
{
	struct iouw_request *req = panic_req(R, V_PLAIN);

	iouw_request_test_set_shape(req, 0, DEF_CAP + 1, DEF_CAP);
	iouw_test_expect_invariant("recv offset <= len <= capacity");
	req->ops->on_cqe(req, false, 1);
}
END_TEST

START_TEST(panic_recv_result_larger_than_asked)
{
	struct iouw_request *req = panic_req(R, V_PREFIX);

	iouw_test_expect_invariant("recv result larger than asked");
	req->ops->on_cqe(req, false, DEF_LEN - 1); /* only len - offset = 6 asked */
}
END_TEST

START_TEST(panic_read_at_read_past_len)
{
	struct iouw_request *req = panic_req(RD, V_PLAIN);
	struct io_uring_sqe sqe = { 0 };

	iouw_request_test_set_shape(req, DEF_LEN + 1, DEF_LEN, DEF_CAP);
	iouw_test_expect_invariant("read_at read <= len <= capacity");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_read_at_len_past_capacity)
{
	struct iouw_request *req = panic_req(RD, V_PLAIN);
	struct io_uring_sqe sqe = { 0 };

	iouw_request_test_set_shape(req, 0, DEF_CAP + 1, DEF_CAP);
	iouw_test_expect_invariant("read_at read <= len <= capacity");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_read_at_result_larger_than_asked)
{
	struct iouw_request *req = panic_req(RD, V_PLAIN);

	ck_assert(!req->ops->on_cqe(req, false, 5));
	iouw_test_expect_invariant("read_at result larger than asked");
	req->ops->on_cqe(req, false, 4);
}
END_TEST

START_TEST(panic_send_length_fits_u32)
{
	struct iouw_request *req = panic_req(S, V_PLAIN);
	struct io_uring_sqe sqe = { 0 };

	iouw_request_test_set_shape(req, 0, (size_t)UINT32_MAX + 1, 0);
	iouw_test_expect_invariant("send length fits u32");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_write_at_length_fits_u32)
{
	struct iouw_request *req = panic_req(W, V_PLAIN);
	struct io_uring_sqe sqe = { 0 };

	iouw_request_test_set_shape(req, 1, (size_t)UINT32_MAX + 2, 0);
	iouw_test_expect_invariant("write_at length fits u32");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_send_past_end)
{
	struct iouw_request *req = panic_req(S, V_PLAIN);

	ck_assert(!req->ops->on_cqe(req, false, 3));
	iouw_test_expect_invariant("send past end");
	req->ops->on_cqe(req, false, DEF_LEN - 2);
}
END_TEST

START_TEST(panic_write_at_past_end)
{
	struct iouw_request *req = panic_req(W, V_PLAIN);

	iouw_test_expect_invariant("write_at past end");
	req->ops->on_cqe(req, true, DEF_LEN + 1);
}
END_TEST

START_TEST(panic_cqe_after_terminal)
{
	struct iouw_request *req = panic_req(Y, V_PLAIN);

	ck_assert(req->ops->on_cqe(req, false, 0));
	iouw_test_expect_invariant("request CQE after terminal result");
	req->ops->on_cqe(req, false, 0);
}
END_TEST

START_TEST(panic_sqe_after_terminal)
{
	struct iouw_request *req = panic_req(R, V_NONEXACT);
	struct io_uring_sqe sqe = { 0 };

	ck_assert(req->ops->on_cqe(req, false, 1));
	iouw_test_expect_invariant("request SQE built after terminal result");
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

START_TEST(panic_not_a_kind_request)
{
	struct fake_log log = { 0 };
	struct fake_request *f = fake_request_new(&log);

	ck_assert(!iouw_request_is_kind(&f->base));
	ck_assert(!iouw_request_is_kind(NULL));
	iouw_test_expect_invariant("not a kind request");
	iouw_request_progress(&f->base);
}
END_TEST

START_TEST(panic_handle_delivered_twice)
{
	struct iouw_handle *h;
	struct iouw_result r = { .status = OK };

	ck_assert_int_eq(iouw_handle_new(&h), 0);
	ck_assert(iouw_handle_deliver(h, &r));
	iouw_test_expect_invariant("handle result delivered twice");
	iouw_handle_deliver(h, &r);
}
END_TEST

/* ---- every 32-bit result: a hostile kernel ----------------------------------- */

/* docs/kernel.md §8: any int32 may arrive as an op CQE's res. For every kind and every
 * state reachable before an op CQE (fresh or after partial progress, waiter
 * Active or CancelRequested, recv exact/non-exact/with a prefix, send and
 * write_at with one buffer or three), the extremes below must each reach
 * either their docs/requests.md §4.2 and §4.3 outcome or a named invariant -- never undefined
 * behaviour (the sanitizer build runs this; a UBSan report inside an
 * invariant child fails iouw_test_aborts_with()). Outcomes are computed here
 * from the tables, independently of core/request.c. Checks are plain C and
 * fail through ck_abort_msg() with the case named: one assertion per
 * failure, not one per iteration. */

struct hostile_state {
	const char *name;
	enum iouw_request_kind kind;
	int variant;     /* recv: enum variant; send/write_at: 1 = three buffers */
	int32_t partial; /* a first, non-terminal CQE (waiter Active) moving this much */
	bool cancel;     /* the CQE under test arrives CancelRequested */
};

static const struct hostile_state hostile_states[] = {
	{ "send A", S, 0, 0, false },
	{ "send C", S, 0, 0, true },
	{ "send A after 3", S, 0, 3, false },
	{ "send C after 3", S, 0, 3, true },
	{ "send x3 A", S, 1, 0, false },
	{ "send x3 C after 3", S, 1, 3, true },
	{ "recv exact A", R, V_PLAIN, 0, false },
	{ "recv exact C", R, V_PLAIN, 0, true },
	{ "recv exact A after 3", R, V_PLAIN, 3, false },
	{ "recv exact C after 3", R, V_PLAIN, 3, true },
	{ "recv not exact A", R, V_NONEXACT, 0, false },
	{ "recv not exact C", R, V_NONEXACT, 0, true },
	{ "recv prefix A", R, V_PREFIX, 0, false },
	{ "recv prefix C after 1", R, V_PREFIX, 1, true },
	{ "recv prefix not exact C", R, V_PREFIX_NONEXACT, 0, true },
	{ "read_at A", RD, 0, 0, false },
	{ "read_at C", RD, 0, 0, true },
	{ "read_at A after 3", RD, 0, 3, false },
	{ "read_at C after 3", RD, 0, 3, true },
	{ "write_at A", W, 0, 0, false },
	{ "write_at C", W, 0, 0, true },
	{ "write_at A after 3", W, 0, 3, false },
	{ "write_at C after 3", W, 0, 3, true },
	{ "write_at x3 A after 3", W, 1, 3, false },
	{ "write_at x3 C", W, 1, 0, true },
	{ "sync A", Y, 0, 0, false },
	{ "sync C", Y, 0, 0, true },
};

struct hostile_want {
	const char *invariant; /* non-NULL: this invariant must fire */
	bool terminal;
	enum iouw_status status; /* delivered by finish(COMPLETE) */
	int err;
	size_t value;
	size_t progress;
};

/* Build @st's request on @fd, feed its partial CQE; length and progress out. */
static bool hostile_make(const struct hostile_state *st, int fd, struct iouw_request **req,
                         struct iouw_handle **h, size_t *len, size_t *done)
{
	if (st->variant == 1 && (st->kind == S || st->kind == W)) {
		char a[] = "ab", c[] = "cde", f[] = "fghi";
		struct iovec iov[3] = { { a, 2 }, { c, 3 }, { f, 4 } };
		int r = st->kind == S ? iouw_request_send(fd, iov, 3, IOUW_NO_DEADLINE, req, h)
		                      : iouw_request_write_at(fd, 1000, iov, 3, req, h);

		if (r < 0)
			return false;
	} else {
		make_kind(st->kind, fd, (enum variant)st->variant, req, h);
	}
	if (st->partial && (*req)->ops->on_cqe(*req, false, st->partial))
		return false; /* the table above only lists non-terminal partials */
	*len = iouw_request_length(*req);
	*done = iouw_request_progress(*req);
	return true;
}

static enum iouw_status failed_of(enum iouw_request_kind kind)
{
	return kind == Y ? IOUW_RESULT_SYNC_ERROR : fallback_of(kind);
}

static void want_timeout(struct hostile_want *w)
{
	w->terminal = true;
	w->status = TO;
	w->err = ETIMEDOUT;
	w->value = 0;
}

static void hostile_expect(const struct hostile_state *st, size_t len, size_t done, int32_t res,
                           struct hostile_want *w)
{
	bool sr = st->kind == S || st->kind == R;
	bool nonexact = st->kind == R && (st->variant == V_NONEXACT ||
	                                  st->variant == V_PREFIX_NONEXACT);

	memset(w, 0, sizeof(*w));
	w->progress = done;
	w->status = fallback_of(st->kind); /* not terminal: finish() delivers the fallback */
	if (res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR) {
		if (st->cancel && sr)
			want_timeout(w);
	} else if (res == -ECANCELED && st->cancel) {
		if (sr) {
			want_timeout(w);
		} else {
			w->terminal = true;
			w->status = failed_of(st->kind);
			w->err = ECANCELED;
		}
	} else if (res == INT32_MIN) {
		w->invariant = "CQE result INT32_MIN is no errno";
	} else if (res < 0) {
		w->terminal = true;
		w->status = failed_of(st->kind);
		w->err = (int)-(int64_t)res;
	} else if (st->kind == Y) {
		w->terminal = true;
		w->status = OK;
	} else if (res == 0) {
		w->terminal = true;
		w->status = st->kind == RD ? IOUW_RESULT_INSUFFICIENT_LENGTH : failed_of(st->kind);
	} else if ((size_t)res > len - done) {
		static const char *const past[] = {
			[IOUW_REQUEST_SEND] = "send past end",
			[IOUW_REQUEST_RECV] = "recv result larger than asked",
			[IOUW_REQUEST_READ_AT] = "read_at result larger than asked",
			[IOUW_REQUEST_WRITE_AT] = "write_at past end",
		};
		w->invariant = past[st->kind];
	} else {
		w->progress = done + (size_t)res;
		if (w->progress == len || nonexact) {
			w->terminal = true;
			w->status = OK;
			w->value = st->kind == R ? w->progress : len;
		} else if (st->cancel && sr) {
			want_timeout(w);
		}
	}
}

struct hostile_case {
	const struct hostile_state *st;
	int32_t res;
};

/* In the invariant child: reach the state, feed the result (must abort). */
static void hostile_feed(void *arg)
{
	const struct hostile_case *c = arg;
	struct iouw_request *req;
	struct iouw_handle *h;
	size_t len, done;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    !hostile_make(c->st, sv[0], &req, &h, &len, &done))
		_exit(5);
	req->ops->on_cqe(req, c->st->cancel, c->res);
}

/* Run one case in this process (defined outcome) or a child (invariant). */
static void hostile_run(const struct hostile_state *st, int fd, int32_t res,
                        unsigned *ninvariants)
{
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result got;
	struct hostile_want w;
	size_t len, done;
	bool terminal, gives = kind_returns_buffer(st->kind);

	if (!hostile_make(st, fd, &req, &h, &len, &done))
		ck_abort_msg("%s: cannot reach the state", st->name);
	hostile_expect(st, len, done, res, &w);
	if (w.invariant) {
		struct hostile_case c = { st, res };

		req->ops->release(req);
		iouw_handle_drop(h);
		if (!iouw_test_aborts_with(w.invariant, hostile_feed, &c))
			ck_abort_msg("%s, res %" PRId32 ": invariant '%s' did not fire alone",
			             st->name, res, w.invariant);
		++*ninvariants;
		return;
	}
	terminal = req->ops->on_cqe(req, st->cancel, res);
	if (terminal != w.terminal || iouw_request_progress(req) != w.progress)
		ck_abort_msg("%s, res %" PRId32 ": terminal %d progress %zu, want %d and %zu",
		             st->name, res, terminal, iouw_request_progress(req), w.terminal,
		             w.progress);
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	if (iouw_handle_try(h, &got) != 0)
		ck_abort_msg("%s, res %" PRId32 ": no result delivered", st->name, res);
	if (got.status != w.status || got.err != w.err || got.value != w.value ||
	    (gives && got.buf_len != w.progress) || (!gives && got.buf))
		ck_abort_msg("%s, res %" PRId32 ": got %s err %d value %zu buf_len %zu, "
		             "want %s err %d value %zu buf_len %zu",
		             st->name, res, iouw_status_name(got.status), got.err, got.value,
		             got.buf_len, iouw_status_name(w.status), w.err, w.value,
		             gives ? w.progress : 0);
	iouw_result_free(&got);
	iouw_handle_drop(h);
}

START_TEST(hostile_results_every_kind_and_state)
{
	unsigned ncases = 0, ninvariants = 0;
	int sv[2];

	socket_pair(sv);
	for (size_t s = 0; s < sizeof(hostile_states) / sizeof(hostile_states[0]); s++) {
		const struct hostile_state *st = &hostile_states[s];
		int32_t len = st->variant == 1 && (st->kind == S || st->kind == W) ? 9 : DEF_LEN;
		int32_t rem = len - st->partial - (st->kind == R && (st->variant == V_PREFIX ||
		                                   st->variant == V_PREFIX_NONEXACT) ? 2 : 0);
		const int32_t results[] = {
			INT32_MIN, INT32_MIN + 1, INT32_MIN + 4096, -65536, -4096, -4095,
			-ECANCELED, -EAGAIN, -EINTR, -1, 0, 1, rem - 1, rem, rem + 1, len,
			len + 1, INT32_MAX - 1, INT32_MAX,
		};

		for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++, ncases++)
			hostile_run(st, sv[0], results[i], &ninvariants);
	}
	/* Both ends were exercised: defined outcomes and named invariants
	 * (INT32_MIN in every state; rem + 1, INT32_MAX - 1 and INT32_MAX in
	 * every state but sync's). */
	ck_assert_uint_eq(ncases, 27 * 19);
	ck_assert_uint_ge(ninvariants, 27 + 25 * 3);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Every negative result but INT32_MIN, sampled across the whole range
 * (the errno band and past it one by one down to -4200, then every 2^20th
 * value, then the last few above INT32_MIN), reaches its defined outcome. */
START_TEST(hostile_negative_results_are_errors)
{
	unsigned ncases = 0, ninvariants = 0;
	int sv[2];

	socket_pair(sv);
	for (unsigned k = 0; k < 5; k++) {
		const struct hostile_state st = { "sweep", all_kinds[k], 0, 0, k % 2 == 1 };

		for (int64_t r = -1; r > INT32_MIN; ncases++) {
			hostile_run(&st, sv[0], (int32_t)r, &ninvariants);
			if (r > -4200 || r <= (int64_t)INT32_MIN + 8)
				r--;
			else
				r = r - (1 << 20) > (int64_t)INT32_MIN + 8 ? r - (1 << 20)
				                                           : (int64_t)INT32_MIN + 8;
		}
	}
	ck_assert_uint_eq(ninvariants, 0);
	ck_assert_uint_gt(ncases, 5 * (4200 + 2000));
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- real io_uring (run with --ring) ----------------------------------------- */

static struct io_uring ring;

/* One round: stage @id, submit its SQE, wait for the CQE, feed it. */
static void ring_round(struct iouw_waiters *w, iouw_waiter_id id,
                       struct iouw_completion_outcome *co)
{
	struct iouw_stage_outcome so;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
	sqe = io_uring_get_sqe(&ring);
	ck_assert_ptr_nonnull(sqe);
	*sqe = so.sqe;
	ck_assert_int_eq(io_uring_submit(&ring), 1);
	ck_assert_int_eq(io_uring_wait_cqe(&ring, &cqe), 0);
	ck_assert_uint_eq(cqe->user_data, iouw_waiter_id_user_data(id));
	iouw_waiters_on_completion(w, cqe->user_data, cqe->res, co);
	io_uring_cqe_seen(&ring, cqe);
}

/* Each ring test opens and closes its own ring inside the test, so the fd
 * fixture (which runs around it) sees the ring fd come and go. */
static void ring_setup(void)
{
	ck_assert_int_eq(io_uring_queue_init(8, &ring, 0), 0);
}

static void ring_teardown(void)
{
	io_uring_queue_exit(&ring);
}

START_TEST(ring_recv_reads_what_peer_wrote)
{
	int sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_completion_outcome co;
	struct iouw_result res;

	ring_setup();

	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);
	/* Exact recv of 8 across two peer writes: partial, then the rest. */
	ck_assert_int_eq(iouw_request_recv(sv[0], xmalloc(DEF_CAP), DEF_CAP, 0, DEF_LEN, true,
	                                   IOUW_NO_DEADLINE, &req, &h), 0);
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	ck_assert_uint_eq(iouw_request_progress(req), 3);
	ck_assert_int_eq(write(sv[1], "defgh", 5), 5);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	ck_assert_int_eq(res.status, OK);
	ck_assert_uint_eq(res.value, DEF_LEN);
	ck_assert_mem_eq(res.buf, "abcdefgh", DEF_LEN);
	iouw_result_free(&res);
	iouw_handle_drop(h);

	/* The peer closes: RECV gives 0, the caller gets RecvFailed. */
	ck_assert_int_eq(iouw_request_recv(sv[0], xmalloc(DEF_CAP), DEF_CAP, 0, DEF_LEN, false,
	                                   IOUW_NO_DEADLINE, &req, &h), 0);
	id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	close(sv[1]);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	expect_result(h, R, IOUW_RESULT_RECV_FAILED, 0, 0, 0, "recv after peer closed");
	iouw_waiters_free(w);
	close(sv[0]);
	ring_teardown();
}
END_TEST

START_TEST(ring_send_vectored_reaches_peer)
{
	int sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_completion_outcome co;
	char got[16];

	ring_setup();

	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);
	make_three(S, sv[0], &req, &h);
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	expect_result(h, S, OK, 0, 9, 0, "vectored send");
	ck_assert_int_eq(read(sv[1], got, sizeof(got)), 9);
	ck_assert_mem_eq(got, "abcdefghi", 9);
	iouw_waiters_free(w);
	close(sv[0]);
	close(sv[1]);
	ring_teardown();
}
END_TEST

START_TEST(ring_read_at_short_read_at_eof)
{
	int fd = temp_file("0123456789", 10);
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_completion_outcome co;
	struct iouw_result res;

	ring_setup();

	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);
	/* 8 bytes at offset 6 of a 10-byte file: 4, then EOF. */
	ck_assert_int_eq(iouw_request_read_at(fd, 6, xmalloc(DEF_CAP), DEF_CAP, DEF_LEN, &req, &h),
	                 0);
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	ck_assert_uint_eq(iouw_request_progress(req), 4);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_INSUFFICIENT_LENGTH);
	ck_assert_uint_eq(res.buf_len, 4);
	ck_assert_mem_eq(res.buf, "6789", 4);
	iouw_result_free(&res);
	iouw_handle_drop(h);

	/* Inside the file: one READ does it. */
	ck_assert_int_eq(iouw_request_read_at(fd, 1, xmalloc(DEF_CAP), DEF_CAP, DEF_LEN, &req, &h),
	                 0);
	id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	ck_assert_int_eq(res.status, OK);
	ck_assert_mem_eq(res.buf, "12345678", DEF_LEN);
	iouw_result_free(&res);
	iouw_handle_drop(h);
	iouw_waiters_free(w);
	close(fd);
	ring_teardown();
}
END_TEST

START_TEST(ring_write_at_then_read_back_and_fsync)
{
	int fd = temp_file(NULL, 0);
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_completion_outcome co;
	char got[9];

	ring_setup();

	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);
	make_three(W, fd, &req, &h); /* at file offset 1000 */
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	expect_result(h, W, OK, 0, 9, 0, "write_at");
	ck_assert_int_eq(pread(fd, got, sizeof(got), 1000), 9);
	ck_assert_mem_eq(got, "abcdefghi", 9);

	ck_assert_int_eq(iouw_request_sync(fd, &req, &h), 0);
	id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	expect_result(h, Y, OK, 0, 0, 0, "fsync");
	iouw_waiters_free(w);
	close(fd);
	ring_teardown();
}
END_TEST

/* ---- owned-buffer send and write_at ----------------------------------------
 *
 * iouw_request_send_owned() and iouw_request_write_at_owned() (and their
 * *_fd forms) take the caller's malloc'd buffer instead of copying it. They
 * are the same kinds as the copying constructors: every test below runs a
 * copying request and an owned one side by side ("twins") and checks that
 * they agree on everything but where the bytes live, and that the owned
 * buffer comes back (same pointer, bytes untouched) with every status, or
 * is freed by the request when the caller left (the ASan build turns a
 * leak or a double free into a failure). */

/* 0: the copying constructor, 1: the owned one. */
struct twin {
	enum iouw_request_kind kind;
	struct iouw_request *req[2];
	struct iouw_handle *h[2];
	uint8_t *buf; /* the owned request's buffer */
};

/* A malloc'd copy of send_bytes, DEF_LEN long. */
static uint8_t *owned_bytes(void)
{
	uint8_t *b = xmalloc(DEF_LEN);

	memcpy(b, send_bytes, DEF_LEN);
	return b;
}

static void make_twin(enum iouw_request_kind kind, int fd, struct twin *t)
{
	struct iovec iov = { (void *)send_bytes, DEF_LEN };

	t->kind = kind;
	t->buf = owned_bytes();
	if (kind == S) {
		ck_assert_int_eq(iouw_request_send(fd, &iov, 1, 1234, &t->req[0], &t->h[0]), 0);
		ck_assert_int_eq(iouw_request_send_owned(fd, t->buf, DEF_LEN, 1234, &t->req[1],
		                                         &t->h[1]), 0);
	} else {
		ck_assert_int_eq(iouw_request_write_at(fd, DEF_FILE_OFFSET, &iov, 1, &t->req[0],
		                                       &t->h[0]), 0);
		ck_assert_int_eq(iouw_request_write_at_owned(fd, DEF_FILE_OFFSET, t->buf, DEF_LEN,
		                                             &t->req[1], &t->h[1]), 0);
	}
	for (int i = 0; i < 2; i++) {
		ck_assert(iouw_request_is_kind(t->req[i]));
		ck_assert_int_eq(iouw_request_kind(t->req[i]), kind);
	}
}

/* The twins agree on every observation call and, when @sqe_too, on the
 * SQE each builds next (all but the address: the owned one's points into
 * the caller's buffer, at the first unsent byte). */
static void twin_agree(const struct twin *t, bool sqe_too, const char *what)
{
	struct iouw_request *const *q = t->req;
	enum iouw_status st[2] = { OK, OK };
	int err[2] = { -1, -1 };
	bool rec[2];

	ck_assert_msg(iouw_request_deadline(q[0]) == iouw_request_deadline(q[1]), "%s: deadline",
	              what);
	ck_assert_msg(iouw_request_progress(q[0]) == iouw_request_progress(q[1]),
	              "%s: progress %zu vs %zu", what, iouw_request_progress(q[0]),
	              iouw_request_progress(q[1]));
	ck_assert_msg(iouw_request_length(q[0]) == iouw_request_length(q[1]) &&
	                      iouw_request_length(q[1]) == DEF_LEN,
	              "%s: length", what);
	ck_assert_msg(iouw_request_remaining(q[0]) == iouw_request_remaining(q[1]),
	              "%s: remaining", what);
	ck_assert_msg(iouw_request_buffer_count(q[0]) == iouw_request_buffer_count(q[1]) &&
	                      iouw_request_buffer_count(q[1]) == 1,
	              "%s: buffer count %u", what, iouw_request_buffer_count(q[1]));
	ck_assert_msg(iouw_request_is_orphaned(q[0]) == iouw_request_is_orphaned(q[1]),
	              "%s: orphaned", what);
	ck_assert_msg(iouw_request_caller_gone(q[0]) == iouw_request_caller_gone(q[1]),
	              "%s: caller gone", what);
	ck_assert_msg((q[0]->ops->is_orphaned == NULL) == (q[1]->ops->is_orphaned == NULL),
	              "%s: is_orphaned op", what);
	rec[0] = iouw_request_result(q[0], &st[0], &err[0]);
	rec[1] = iouw_request_result(q[1], &st[1], &err[1]);
	ck_assert_msg(rec[0] == rec[1] && st[0] == st[1] && err[0] == err[1],
	              "%s: recorded %d %s/%d vs %d %s/%d", what, rec[0], iouw_status_name(st[0]),
	              err[0], rec[1], iouw_status_name(st[1]), err[1]);
	if (sqe_too && !rec[0]) {
		struct io_uring_sqe a, b;

		build(q[0], &a);
		build(q[1], &b);
		ck_assert_msg(a.opcode == b.opcode && a.len == b.len && a.off == b.off &&
		                      a.msg_flags == b.msg_flags && a.flags == b.flags &&
		                      a.ioprio == b.ioprio,
		              "%s: SQEs differ (opcode %u/%u len %u/%u off %llu/%llu)", what,
		              a.opcode, b.opcode, a.len, b.len, (unsigned long long)a.off,
		              (unsigned long long)b.off);
		ck_assert_msg(b.opcode == (t->kind == S ? IORING_OP_SEND : IORING_OP_WRITE),
		              "%s: opcode %u", what, b.opcode);
		ck_assert_msg((uintptr_t)b.addr ==
		                      (uintptr_t)(t->buf + iouw_request_progress(q[1])),
		              "%s: owned SQE does not point into the caller's buffer", what);
		ck_assert_msg(a.addr != b.addr, "%s: copying SQE points at the caller's buffer", what);
		ck_assert_msg(memcmp((const void *)(uintptr_t)a.addr, (const void *)(uintptr_t)b.addr,
		                     a.len) == 0,
		              "%s: SQE bytes differ", what);
	}
}

/* The owned twin's result carries its buffer back: the same pointer, the
 * bytes untouched, buf_len = @progress, buf_capacity = DEF_LEN; the
 * copying twin's carries none. Status, err and value agree. Frees both
 * and drops both handles. */
static void twin_results(struct twin *t, size_t progress, const char *what)
{
	struct iouw_result r[2];

	for (int i = 0; i < 2; i++)
		ck_assert_msg(iouw_handle_try(t->h[i], &r[i]) == 0, "%s: no result (%d)", what, i);
	ck_assert_msg(r[0].status == r[1].status && r[0].err == r[1].err &&
	                      r[0].value == r[1].value,
	              "%s: results differ: %s/%d/%zu vs %s/%d/%zu", what,
	              iouw_status_name(r[0].status), r[0].err, r[0].value,
	              iouw_status_name(r[1].status), r[1].err, r[1].value);
	ck_assert_msg(r[0].buf == NULL && r[0].buf_len == 0 && r[0].buf_capacity == 0,
	              "%s: copying request returned a buffer", what);
	ck_assert_msg(r[1].buf == t->buf, "%s: owned buffer not returned", what);
	ck_assert_msg(r[1].buf_len == progress, "%s: buf_len %zu, want %zu", what, r[1].buf_len,
	              progress);
	ck_assert_msg(r[1].buf_capacity == DEF_LEN, "%s: buf_capacity %zu", what,
	              r[1].buf_capacity);
	ck_assert_msg(memcmp(r[1].buf, send_bytes, DEF_LEN) == 0, "%s: bytes changed", what);
	for (int i = 0; i < 2; i++) {
		iouw_result_free(&r[i]);
		iouw_handle_drop(t->h[i]);
	}
}

struct owned_step {
	bool cancel;
	int32_t res;
};

struct owned_script {
	const char *name;
	unsigned n;
	struct owned_step step[4];
};

/* Multi-CQE histories (the single-CQE ones are the docs/requests.md §4.3
 * cells). */
static const struct owned_script owned_scripts[] = {
	{ "nothing", 0, { { false, 0 } } },
	{ "partial 3, 2, then the rest", 3, { { false, 3 }, { false, 2 }, { false, 3 } } },
	{ "retry, partial, partial under cancel", 3,
	  { { false, -EAGAIN }, { false, 3 }, { true, 2 } } },
	{ "partial then error", 2, { { false, 3 }, { false, -EIO } } },
	{ "partial then cancelled", 2, { { false, 4 }, { true, -ECANCELED } } },
	{ "partial then zero", 2, { { false, 4 }, { false, 0 } } },
	{ "partial, retry under cancel, rest", 3, { { false, 1 }, { true, -EAGAIN }, { false, 7 } } },
	{ "partial 1 x4", 4, { { false, 1 }, { false, 1 }, { false, 1 }, { false, 1 } } },
};

enum owned_end { BY_COMPLETE, BY_TIMEOUT, BY_RELEASE, BY_DROP, BY_DROP_AFTER, BY_COUNT };
static const char *const owned_end_names[] = { "finish(COMPLETE)", "finish(TIMEOUT)",
	                                       "release()", "handle dropped, then finish",
	                                       "finish, then handle dropped untaken" };

/* Feed @steps to both twins (while neither recorded a result), checking
 * they agree after each, then end them by @end. */
static void twin_run(enum iouw_request_kind kind, int fd, const struct owned_step *steps,
                     unsigned n, enum owned_end end, const char *name)
{
	struct twin t;
	char what[200];

	snprintf(what, sizeof(what), "%s owned, %s, %s", iouw_request_kind_name(kind), name,
	         owned_end_names[end]);
	make_twin(kind, fd, &t);
	twin_agree(&t, true, what);
	for (unsigned i = 0; i < n && !iouw_request_result(t.req[0], NULL, NULL); i++) {
		bool a = t.req[0]->ops->on_cqe(t.req[0], steps[i].cancel, steps[i].res);
		bool b = t.req[1]->ops->on_cqe(t.req[1], steps[i].cancel, steps[i].res);

		ck_assert_msg(a == b, "%s: step %u terminal %d vs %d", what, i, a, b);
		twin_agree(&t, true, what);
	}
	switch (end) {
	case BY_COMPLETE:
	case BY_TIMEOUT:
	case BY_RELEASE: {
		size_t progress = iouw_request_progress(t.req[1]);

		for (int i = 0; i < 2; i++) {
			if (end == BY_RELEASE)
				t.req[i]->ops->release(t.req[i]);
			else
				t.req[i]->ops->finish(t.req[i], end == BY_COMPLETE ? IOUW_FINISH_COMPLETE
				                                                   : IOUW_FINISH_TIMEOUT);
		}
		twin_results(&t, progress, what);
		break;
	}
	case BY_DROP:
		/* The caller leaves: the request frees the buffer. */
		for (int i = 0; i < 2; i++)
			iouw_handle_drop(t.h[i]);
		twin_agree(&t, false, what);
		ck_assert_msg(iouw_request_caller_gone(t.req[1]), "%s: caller not gone", what);
		ck_assert_msg(iouw_request_is_orphaned(t.req[1]) == (kind == S),
		              "%s: orphaned %d", what, iouw_request_is_orphaned(t.req[1]));
		for (int i = 0; i < 2; i++)
			t.req[i]->ops->finish(t.req[i], IOUW_FINISH_COMPLETE);
		break;
	case BY_DROP_AFTER:
		/* Delivered, never taken: the handle frees it. */
		for (int i = 0; i < 2; i++) {
			t.req[i]->ops->finish(t.req[i], IOUW_FINISH_COMPLETE);
			iouw_handle_drop(t.h[i]);
		}
		break;
	case BY_COUNT:
		break;
	}
}

/* Every send and write_at cell of docs/requests.md §4.3 and every
 * multi-CQE script above, each ended every way: the owned twin behaves as the copying one. */
START_TEST(owned_agrees_with_copying_every_cell_and_end)
{
	int sv[2];
	unsigned runs = 0;

	socket_pair(sv);
	for (size_t c = 0; c < sizeof(cells) / sizeof(cells[0]); c++) {
		struct owned_step st = { cells[c].cancel, cells[c].res };

		if (cells[c].kind != S && cells[c].kind != W)
			continue;
		for (unsigned e = 0; e < BY_COUNT; e++, runs++)
			twin_run(cells[c].kind, sv[0], &st, 1, (enum owned_end)e, cells[c].name);
	}
	for (size_t s = 0; s < sizeof(owned_scripts) / sizeof(owned_scripts[0]); s++)
		for (unsigned k = 0; k < 2; k++)
			for (unsigned e = 0; e < BY_COUNT; e++, runs++)
				twin_run(k ? W : S, sv[0], owned_scripts[s].step, owned_scripts[s].n,
				         (enum owned_end)e, owned_scripts[s].name);
	/* 24 send/write_at cells and 8 scripts x 2 kinds, 5 ends each. */
	ck_assert_uint_eq(runs, (24 + 8 * 2) * BY_COUNT);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Success: the SQEs point into the caller's buffer (no copy), partial
 * progress moves along it, and the same buffer comes back with the result,
 * buf_len the whole length. */
START_TEST(owned_success_returns_the_buffer)
{
	int sv[2], fd = temp_file(NULL, 0);
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;
	struct io_uring_sqe sqe;
	uint8_t *buf = owned_bytes();

	socket_pair(sv);
	ck_assert_int_eq(iouw_request_send_owned(sv[0], buf, DEF_LEN, 99, &req, &h), 0);
	ck_assert_int_eq(iouw_request_kind(req), S);
	ck_assert_uint_eq(iouw_request_deadline(req), 99);
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_SEND);
	ck_assert_int_eq(sqe.msg_flags, MSG_NOSIGNAL);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf);
	ck_assert_uint_eq(sqe.len, DEF_LEN);
	/* The kernel's part, by hand: 3 bytes, then the rest. */
	ck_assert_int_eq(send(sv[0], buf, 3, 0), 3);
	ck_assert(!req->ops->on_cqe(req, false, 3));
	build(req, &sqe);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf + 3);
	ck_assert_uint_eq(sqe.len, DEF_LEN - 3);
	ck_assert_int_eq(send(sv[0], (void *)(uintptr_t)sqe.addr, sqe.len, 0), DEF_LEN - 3);
	ck_assert(req->ops->on_cqe(req, false, DEF_LEN - 3));
	expect_no_result(h);
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_take_and_drop(h, &res), 0);
	ck_assert_int_eq(res.status, OK);
	ck_assert_uint_eq(res.value, DEF_LEN);
	ck_assert_ptr_eq(res.buf, buf);
	ck_assert_uint_eq(res.buf_len, DEF_LEN);
	ck_assert_uint_eq(res.buf_capacity, DEF_LEN);
	{
		char got[DEF_LEN];

		ck_assert_int_eq(recv(sv[1], got, sizeof(got), MSG_WAITALL), DEF_LEN);
		ck_assert_mem_eq(got, send_bytes, DEF_LEN);
	}

	/* The buffer handed back serves the next request: write_at. */
	buf = res.buf;
	ck_assert_int_eq(iouw_request_write_at_owned(fd, 10, buf, DEF_LEN, &req, &h), 0);
	ck_assert_int_eq(iouw_request_kind(req), W);
	ck_assert_uint_eq(iouw_request_deadline(req), IOUW_NO_DEADLINE);
	ck_assert_ptr_null(req->ops->is_orphaned); /* never orphaned, as write_at */
	build(req, &sqe);
	ck_assert_int_eq(sqe.opcode, IORING_OP_WRITE);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf);
	ck_assert_uint_eq(sqe.off, 10);
	ck_assert_int_eq(pwrite(fd, buf, 5, 10), 5);
	ck_assert(!req->ops->on_cqe(req, false, 5));
	build(req, &sqe);
	ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf + 5);
	ck_assert_uint_eq(sqe.off, 15);
	ck_assert_uint_eq(sqe.len, 3);
	ck_assert_int_eq(pwrite(fd, (void *)(uintptr_t)sqe.addr, sqe.len, (off_t)sqe.off), 3);
	ck_assert(req->ops->on_cqe(req, false, 3));
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_take_and_drop(h, &res), 0);
	ck_assert_int_eq(res.status, OK);
	ck_assert_ptr_eq(res.buf, buf);
	ck_assert_uint_eq(res.buf_len, DEF_LEN);
	{
		char got[DEF_LEN];

		ck_assert_int_eq(pread(fd, got, sizeof(got), 10), DEF_LEN);
		ck_assert_mem_eq(got, send_bytes, DEF_LEN);
	}
	iouw_result_free(&res);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Both forms of both owned constructors: 0 = plain (int fd), 1 = *_fd. */
static int owned_make(unsigned form, enum iouw_request_kind kind, int fd, struct iouw_fd *shared,
                      struct iouw_pool *pool, uint64_t off, void *buf, size_t len,
                      struct iouw_request **req, struct iouw_handle **h)
{
	if (kind == S)
		return form ? iouw_request_send_owned_fd(pool, shared, buf, len, 7, req, h)
		            : iouw_request_send_owned(fd, buf, len, 7, req, h);
	return form ? iouw_request_write_at_owned_fd(pool, shared, off, buf, len, req, h)
	            : iouw_request_write_at_owned(fd, off, buf, len, req, h);
}

/* Every refusal leaves the caller's buffer the caller's (untouched, freed
 * here: a request that had freed it would make this a double free under
 * ASan), writes neither output, takes no fd reference and opens no fd. */
START_TEST(owned_rejects_bad_arguments_and_keeps_the_buffer)
{
	int sv[2], closed;
	struct iouw_fd *shared;
	struct iouw_pool *pool, *wrong;
	uint8_t *buf = owned_bytes();
	struct iouw_request *const req0 = (struct iouw_request *)(uintptr_t)0x1;
	struct iouw_handle *const h0 = (struct iouw_handle *)(uintptr_t)0x2;
	unsigned cases = 0;

	socket_pair(sv);
	ck_assert_int_eq(iouw_fd_dup(sv[0], &shared), 0);
	closed = dup(sv[1]);
	ck_assert_int_ge(closed, 0);
	close(closed); /* a number that is not open (nothing below opens one) */
	ck_assert_int_eq(iouw_request_pool_new(4, &pool), 0);
	ck_assert_int_eq(iouw_pool_new(64, 4, &wrong), 0);
	for (unsigned form = 0; form < 2; form++) {
		for (unsigned k = 0; k < 2; k++) {
			enum iouw_request_kind kind = k ? W : S;
			const struct {
				const char *what;
				int fd;
				bool null_shared;
				struct iouw_pool *pool;
				uint64_t off;
				void *buf;
				size_t len;
				bool no_req, no_handle, write_only;
				int want;
			} c[] = {
				{ "negative fd", -1, true, NULL, 0, buf, DEF_LEN, false, false, false, -EINVAL },
				{ "NULL buffer", sv[0], false, pool, 0, NULL, DEF_LEN, false, false, false, -EINVAL },
				{ "length 0", sv[0], false, pool, 0, buf, 0, false, false, false, -EINVAL },
				{ "length beyond UINT32_MAX", sv[0], false, pool, 0, buf,
				  (size_t)UINT32_MAX + 1, false, false, false, -EINVAL },
				{ "NULL ret_req", sv[0], false, pool, 0, buf, DEF_LEN, true, false, false, -EINVAL },
				{ "NULL ret_handle", sv[0], false, pool, 0, buf, DEF_LEN, false, true, false, -EINVAL },
				{ "offset beyond INT64_MAX", sv[0], false, pool, (uint64_t)INT64_MAX + 1, buf,
				  DEF_LEN, false, false, true, -EINVAL },
				{ "offset + len beyond INT64_MAX", sv[0], false, pool,
				  (uint64_t)INT64_MAX - DEF_LEN + 1, buf, DEF_LEN, false, false, true, -EINVAL },
				{ "closed fd (plain) / pool of another size (*_fd)", closed, false, wrong, 0, buf,
				  DEF_LEN, false, false, false, form ? -EINVAL : -EBADF },
			};

			for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
				struct iouw_request *req = req0;
				struct iouw_handle *h = h0;
				int fds = iouw_test_count_fds();
				int r;

				if (c[i].write_only && kind != W)
					continue;
				r = owned_make(form, kind, c[i].fd, c[i].null_shared ? NULL : shared,
				               c[i].pool, c[i].off, c[i].buf, c[i].len,
				               c[i].no_req ? NULL : &req, c[i].no_handle ? NULL : &h);
				ck_assert_msg(r == c[i].want, "%s %s%s: %d, want %d", c[i].what,
				              iouw_request_kind_name(kind), form ? " _fd" : "", r, c[i].want);
				ck_assert_msg(req == req0 && h == h0, "%s: output written", c[i].what);
				ck_assert_msg(memcmp(buf, send_bytes, DEF_LEN) == 0, "%s: buffer touched",
				              c[i].what);
				ck_assert_int_eq(iouw_fd_refs(shared), 1);
				ck_assert_int_eq(iouw_test_count_fds(), fds);
				ck_assert_uint_eq(iouw_pool_out(pool), 0);
				cases++;
			}
		}
	}
	ck_assert_uint_eq(cases, 2 * (7 + 9));
	/* The edges that are accepted: offset + len exactly INT64_MAX. */
	for (unsigned form = 0; form < 2; form++) {
		struct iouw_request *req;
		struct iouw_handle *h;
		struct iouw_result res;

		ck_assert_int_eq(owned_make(form, W, sv[0], shared, pool,
		                            (uint64_t)INT64_MAX - DEF_LEN, buf, DEF_LEN, &req, &h), 0);
		req->ops->release(req);
		ck_assert_int_eq(iouw_handle_take_and_drop(h, &res), 0);
		ck_assert_int_eq(res.status, IOUW_RESULT_ABANDONED);
		ck_assert_ptr_eq(res.buf, buf); /* back: the caller's again */
		ck_assert_uint_eq(res.buf_len, 0);
	}
	free(buf);
	iouw_pool_free(wrong);
	iouw_pool_free(pool);
	iouw_fd_put(shared);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The *_owned_fd constructors: a reference on the caller's shared fd, the
 * block from the caller's pool, the buffer back; every resource comes back
 * exactly once on each end, a dropped handle's buffer freed by the
 * request. */
START_TEST(owned_fd_with_pool_releases_everything_once)
{
	int sv[2], file = temp_file(NULL, 0);
	struct iouw_fd *sock, *fil;
	struct iouw_pool *pool;

	socket_pair(sv);
	ck_assert_int_eq(iouw_fd_dup(sv[0], &sock), 0);
	ck_assert_int_eq(iouw_fd_dup(file, &fil), 0);
	ck_assert_int_eq(iouw_request_pool_new(4, &pool), 0);
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned e = 0; e < BY_COUNT; e++) {
			enum iouw_request_kind kind = k ? W : S;
			struct iouw_fd *f = k ? fil : sock;
			struct iouw_request *req;
			struct iouw_handle *h;
			struct iouw_result res;
			struct io_uring_sqe sqe;
			uint8_t *buf = owned_bytes();
			int fds = iouw_test_count_fds();

			ck_assert_int_eq(owned_make(1, kind, -1, f, pool, 0, buf, DEF_LEN, &req, &h), 0);
			ck_assert_int_eq(iouw_fd_refs(f), 2);
			ck_assert_int_eq(iouw_test_count_fds(), fds); /* no dup */
			ck_assert_uint_eq(iouw_pool_out(pool), 1);
			ck_assert_int_eq(iouw_request_fd(req), iouw_fd_num(f));
			ck_assert_uint_eq(iouw_request_length(req), DEF_LEN);
			ck_assert_uint_eq(iouw_request_buffer_count(req), 1);
			build(req, &sqe);
			ck_assert_ptr_eq((void *)(uintptr_t)sqe.addr, buf);
			ck_assert(!req->ops->on_cqe(req, false, 2));
			switch ((enum owned_end)e) {
			case BY_COMPLETE:
				ck_assert(req->ops->on_cqe(req, false, DEF_LEN - 2));
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				break;
			case BY_TIMEOUT:
				req->ops->finish(req, IOUW_FINISH_TIMEOUT);
				break;
			case BY_RELEASE:
				req->ops->release(req);
				break;
			case BY_DROP:
				iouw_handle_drop(h);
				h = NULL;
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				break;
			case BY_DROP_AFTER:
				req->ops->finish(req, IOUW_FINISH_COMPLETE);
				iouw_handle_drop(h);
				h = NULL;
				break;
			case BY_COUNT:
				break;
			}
			ck_assert_int_eq(iouw_fd_refs(f), 1);
			if (h) {
				ck_assert_int_eq(iouw_handle_take_and_drop(h, &res), 0);
				ck_assert_ptr_eq(res.buf, buf);
				ck_assert_uint_eq(res.buf_len, e == BY_COMPLETE ? DEF_LEN : 2);
				ck_assert_uint_eq(res.buf_capacity, DEF_LEN);
				ck_assert_int_eq(res.status, e == BY_COMPLETE ? OK
				                             : e == BY_TIMEOUT ? TO
				                                                : IOUW_RESULT_ABANDONED);
				iouw_result_free(&res);
			}
			ck_assert_uint_eq(iouw_pool_out(pool), 0);
		}
	}
	iouw_pool_free(pool);
	iouw_fd_put(sock);
	iouw_fd_put(fil);
	close(file);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Through a waiter table: an owned send orphaned by its caller is released
 * at stage (the request frees the buffer, closes its dup); an owned
 * write_at goes on after its caller left and frees the buffer when it
 * ends; a table freed with owned requests in it hands their buffers back
 * (ABANDONED); detach tells the caller without the buffer, release frees
 * it. */
START_TEST(owned_through_the_waiter_table)
{
	int sv[2], fds;
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h, *hs[2];
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;
	struct iouw_result res;
	iouw_waiter_id id;
	uint8_t *bufs[2];

	socket_pair(sv);
	fds = iouw_test_count_fds();
	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);

	ck_assert_int_eq(iouw_request_send_owned(sv[0], owned_bytes(), DEF_LEN, IOUW_NO_DEADLINE,
	                                         &req, &h), 0);
	ck_assert_int_eq(iouw_test_count_fds(), fds + 1);
	id = iouw_waiters_insert(w, req, 3);
	iouw_waiters_stage(w, id, &so);
	iouw_waiters_on_completion(w, so.sqe.user_data, 2, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	iouw_handle_drop(h);
	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_ORPHANED);
	ck_assert_int_eq(iouw_test_count_fds(), fds); /* released: dup closed, buffer freed */

	ck_assert_int_eq(iouw_request_write_at_owned(sv[0], 0, owned_bytes(), DEF_LEN, &req, &h),
	                 0);
	id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	iouw_waiters_stage(w, id, &so);
	iouw_handle_drop(h);
	iouw_waiters_on_completion(w, so.sqe.user_data, 2, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE); /* not orphaned */
	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
	ck_assert_uint_eq(so.sqe.len, DEF_LEN - 2);
	iouw_waiters_on_completion(w, so.sqe.user_data, DEF_LEN - 2, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE); /* frees the buffer */
	ck_assert_int_eq(iouw_test_count_fds(), fds);

	for (int i = 0; i < 2; i++) {
		bufs[i] = owned_bytes();
		if (i)
			ck_assert_int_eq(iouw_request_write_at_owned(sv[0], 0, bufs[i], DEF_LEN, &req,
			                                             &hs[i]), 0);
		else
			ck_assert_int_eq(iouw_request_send_owned(sv[0], bufs[i], DEF_LEN,
			                                         IOUW_NO_DEADLINE, &req, &hs[i]), 0);
		iouw_waiters_insert(w, req, IOUW_NO_TICK);
	}
	iouw_waiters_free(w);
	ck_assert_int_eq(iouw_test_count_fds(), fds);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(iouw_handle_take_and_drop(hs[i], &res), 0);
		ck_assert_int_eq(res.status, IOUW_RESULT_ABANDONED);
		ck_assert_int_eq(res.err, ECANCELED);
		ck_assert_ptr_eq(res.buf, bufs[i]);
		iouw_result_free(&res);
	}

	ck_assert_int_eq(iouw_request_write_at_owned(sv[0], 0, owned_bytes(), DEF_LEN, &req, &h),
	                 0);
	req->ops->detach(req);
	ck_assert_int_eq(iouw_handle_try(h, &res), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_ABANDONED);
	ck_assert_ptr_null(res.buf); /* the kernel may still read it */
	ck_assert_int_eq(iouw_test_count_fds(), fds + 1);
	req->ops->release(req); /* frees it, no second delivery */
	ck_assert_int_eq(iouw_test_count_fds(), fds);
	iouw_handle_drop(h);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The copying kinds' shape invariants guard the owned path too. */
START_TEST(panic_owned_write_at_past_end)
{
	int fd = temp_file(NULL, 0);
	struct iouw_request *req;
	struct iouw_handle *h;

	ck_assert_int_eq(iouw_request_write_at_owned(fd, 0, owned_bytes(), DEF_LEN, &req, &h), 0);
	ck_assert(!req->ops->on_cqe(req, false, 3));
	iouw_test_expect_invariant("write_at past end");
	(void)req->ops->on_cqe(req, false, DEF_LEN - 2);
}
END_TEST

START_TEST(panic_owned_send_length_fits_u32)
{
	int sv[2];
	struct iouw_request *req;
	struct iouw_handle *h;
	struct io_uring_sqe sqe;

	socket_pair(sv);
	ck_assert_int_eq(iouw_request_send_owned(sv[0], owned_bytes(), DEF_LEN, IOUW_NO_DEADLINE,
	                                         &req, &h), 0);
	iouw_request_test_set_shape(req, 0, (size_t)UINT32_MAX + 1, 0);
	iouw_test_expect_invariant("send length fits u32");
	memset(&sqe, 0, sizeof(sqe));
	req->ops->build_sqe(req, &sqe, UD);
}
END_TEST

/* The owned constructors on a real ring: the kernel writes from, and sends
 * from, the caller's buffer, which comes back with the result. */
START_TEST(ring_owned_write_at_and_send_from_the_callers_buffer)
{
	int fd = temp_file(NULL, 0), sv[2];
	struct iouw_waiters *w;
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_completion_outcome co;
	struct iouw_result res;
	uint8_t *buf = malloc(DEF_LEN);
	char got[DEF_LEN];

	ring_setup();
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, send_bytes, DEF_LEN);
	socket_pair(sv);
	ck_assert_int_eq(iouw_waiters_new(4, &w), 0);
	ck_assert_int_eq(iouw_request_write_at_owned(fd, 500, buf, DEF_LEN, &req, &h), 0);
	iouw_waiter_id id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	iouw_handle_drop(h);
	ck_assert_int_eq(res.status, OK);
	ck_assert_uint_eq(res.value, DEF_LEN);
	ck_assert_ptr_eq(res.buf, buf);
	ck_assert_uint_eq(res.buf_len, DEF_LEN);
	ck_assert_int_eq(pread(fd, got, sizeof(got), 500), DEF_LEN);
	ck_assert_mem_eq(got, send_bytes, DEF_LEN);

	/* The same buffer, handed back, goes out on a socket. */
	ck_assert_int_eq(iouw_request_send_owned(sv[0], res.buf, DEF_LEN, IOUW_NO_DEADLINE, &req,
	                                         &h), 0);
	id = iouw_waiters_insert(w, req, IOUW_NO_TICK);
	ring_round(w, id, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	co.request->ops->finish(co.request, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(iouw_handle_wait(h, &res), 0);
	iouw_handle_drop(h);
	ck_assert_int_eq(res.status, OK);
	ck_assert_ptr_eq(res.buf, buf);
	ck_assert_int_eq(recv(sv[1], got, sizeof(got), MSG_WAITALL), DEF_LEN);
	ck_assert_mem_eq(got, send_bytes, DEF_LEN);
	iouw_result_free(&res);
	iouw_waiters_free(w);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	ring_teardown();
}
END_TEST

/* ---- suites ------------------------------------------------------------------ */

/* detach(): the caller hears ABANDONED at once without the buffer; the
 * later release() frees everything without delivering again. */
START_TEST(test_detach_tells_caller_without_buffer_then_release_frees)
{
	struct iouw_request *req;
	struct iouw_handle *h;
	struct iouw_result res;
	int sv[2];
	int fds;

	socket_pair(sv);
	ck_assert_int_eq(iouw_request_recv(sv[0], malloc(8), 8, 0, 8, true, IOUW_NO_DEADLINE, &req,
	                                   &h),
	                 0);
	fds = iouw_test_count_fds();
	ck_assert_ptr_nonnull(req->ops->detach);
	req->ops->detach(req);
	ck_assert_int_eq(iouw_handle_try(h, &res), 0);
	ck_assert_int_eq(res.status, IOUW_RESULT_ABANDONED);
	ck_assert_int_eq(res.err, ECANCELED);
	ck_assert_ptr_null(res.buf);
	ck_assert_int_eq(iouw_test_count_fds(), fds); /* the dup is still held */
	req->ops->release(req);                      /* no second delivery */
	ck_assert_int_eq(iouw_test_count_fds(), fds - 1);
	iouw_handle_drop(h);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(panic_detached_twice)
{
	struct iouw_request *req;
	struct iouw_handle *h;
	int sv[2];

	socket_pair(sv);
	ck_assert_int_eq(iouw_request_sync(sv[0], &req, &h), 0);
	req->ops->detach(req);
	iouw_test_expect_invariant("request detached twice");
	req->ops->detach(req);
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *orig = tcase_create("original");
	TCase *tables = tcase_create("tables");
	TCase *sqes = tcase_create("sqe");
	TCase *table = tcase_create("waiter_table");
	TCase *handle = tcase_create("handle");
	TCase *panics = tcase_create("panics");
	TCase *hostile = tcase_create("hostile");
	TCase *owned = tcase_create("owned");

	iouw_test_add_fd_fixture(orig);
	iouw_test_add_fd_fixture(tables);
	iouw_test_add_fd_fixture(sqes);
	iouw_test_add_fd_fixture(table);
	iouw_test_add_fd_fixture(handle);
	iouw_test_add_fd_fixture(hostile);
	tcase_set_timeout(handle, 60);

	tcase_add_test(orig, cqe_result_from_raw_retryable_codes);
	tcase_add_test(orig, request_deadline_helpers_and_invariants);
	tcase_add_test(orig, active_send_paths);
	tcase_add_test(orig, active_recv_paths);
	tcase_add_test(orig, active_read_at_paths);
	tcase_add_test(orig, active_write_at_paths);
	tcase_add_test(orig, active_sync_paths);
	tcase_add_test(orig, finish_without_cqe_uses_fallback_results);
	tcase_add_test(orig, finish_timeout_delivers_timeout_results);

#define X(id, ...) tcase_add_test(tables, id);
	CELLS_4_3(X)
	CELLS_4_4(X)
#undef X

	tcase_add_test(sqes, sqe_vectored_resume_inside_buffer);
	tcase_add_test(sqes, sqe_vectored_more_than_32_buffers);
	tcase_add_test(sqes, sqe_user_data_and_fd_every_kind);

	tcase_add_test(table, waiters_orphan_before_first_sqe);
	tcase_add_test(table, waiters_orphan_after_retry);
	tcase_add_test(table, waiters_orphan_after_partial_progress);
	tcase_add_test(table, waiters_free_abandons_with_buffer_back);
	tcase_add_test(table, resources_released_once_every_path);

	tcase_add_test(hostile, hostile_results_every_kind_and_state);
	tcase_add_test(hostile, hostile_negative_results_are_errors);

	tcase_add_test(handle, handle_wait_across_threads);
	tcase_add_test(handle, handle_wait_races_deliver);
	tcase_add_test(handle, handle_take_and_drop);
	tcase_add_test(handle, handle_take_and_drop_races_deliver);
	tcase_add_test(handle, handle_pinned);
	tcase_add_test(handle, handle_drop_races_finish);
	tcase_add_test(handle, handle_drop_after_delivery_frees_untaken_buffer);

	tcase_add_test_raise_signal(panics, panic_recv_offset_past_len, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_recv_len_past_capacity, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_recv_shape_checked_on_cqe, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_recv_result_larger_than_asked, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_read_at_read_past_len, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_read_at_len_past_capacity, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_read_at_result_larger_than_asked, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_send_length_fits_u32, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_write_at_length_fits_u32, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_send_past_end, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_write_at_past_end, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_cqe_after_terminal, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_sqe_after_terminal, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_not_a_kind_request, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_handle_delivered_twice, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_pinned_handle_off_thread, SIGABRT);
	tcase_add_test_raise_signal(panics, panic_detached_twice, SIGABRT);
	tcase_add_test(handle, test_detach_tells_caller_without_buffer_then_release_frees);
	tcase_add_test(owned, owned_agrees_with_copying_every_cell_and_end);
	tcase_add_test(owned, owned_success_returns_the_buffer);
	tcase_add_test(owned, owned_rejects_bad_arguments_and_keeps_the_buffer);
	tcase_add_test(owned, owned_fd_with_pool_releases_everything_once);
	tcase_add_test(owned, owned_through_the_waiter_table);
	tcase_add_test_raise_signal(owned, panic_owned_write_at_past_end, SIGABRT);
	tcase_add_test_raise_signal(owned, panic_owned_send_length_fits_u32, SIGABRT);

	suite_add_tcase(s, orig);
	suite_add_tcase(s, tables);
	suite_add_tcase(s, sqes);
	suite_add_tcase(s, table);
	suite_add_tcase(s, handle);
	suite_add_tcase(s, panics);
	suite_add_tcase(s, hostile);
	suite_add_tcase(s, owned);
	return s;
}

static Suite *request_ring_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("ring");

	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ring_recv_reads_what_peer_wrote);
	tcase_add_test(tc, ring_send_vectored_reaches_peer);
	tcase_add_test(tc, ring_read_at_short_read_at_eof);
	tcase_add_test(tc, ring_write_at_then_read_back_and_fsync);
	tcase_add_test(tc, ring_owned_write_at_and_send_from_the_callers_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--ring") == 0) {
		iouw_test_require_io_uring(); /* the one skip policy (README) */
		return iouw_test_run_suite(request_ring_suite());
	}
	return iouw_test_run_suite(request_suite());
}
