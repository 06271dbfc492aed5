/* tests/bench_request.c: speed of the request state machines (meson
 * benchmark `request`, run with `meson test -C build --benchmark`).
 *
 * Measures, on the loop thread's hot path:
 * - lifecycle: construct a recv (fd dup, handle), build its SQE, feed a
 *   complete CQE, finish, take the result, drop the handle;
 * - steady state: build_sqe + partial on_cqe for a send of one buffer and a
 *   write_at of 40 buffers (the 32-iovec refresh);
 * - classification alone.
 * Prints ns per operation (steady-state figures include two clock_gettime
 * calls per round); exits non-zero only when something fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "request.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void report(const char *what, uint64_t ns, unsigned long n)
{
	printf("%-44s %8.1f ns/op (%lu ops)\n", what, (double)ns / (double)n, n);
}

static int lifecycle(int fd, unsigned long n)
{
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < n; i++) {
		struct iouw_request *req;
		struct iouw_handle *h;
		struct io_uring_sqe sqe;
		struct iouw_result res;
		void *buf = malloc(64);

		if (!buf || iouw_request_recv(fd, buf, 64, 0, 64, false, IOUW_NO_DEADLINE, &req, &h))
			return 1;
		memset(&sqe, 0, sizeof(sqe));
		req->ops->build_sqe(req, &sqe, i);
		if (!req->ops->on_cqe(req, false, 64))
			return 1;
		req->ops->finish(req, IOUW_FINISH_COMPLETE);
		if (iouw_handle_try(h, &res) != 0 || res.status != IOUW_RESULT_OK)
			return 1;
		iouw_result_free(&res);
		iouw_handle_drop(h);
	}
	report("recv lifecycle (new..finish..drop)", now_ns() - t0, n);
	return 0;
}

/* @n rounds of build_sqe + a 1-byte CQE on a request of @len bytes in
 * @iovcnt buffers, rebuilt whenever it completes. */
static int steady(int fd, bool send, unsigned iovcnt, unsigned long n, const char *what)
{
	enum { MAXB = 64 };
	static char bytes[MAXB * 64];
	struct iovec iov[MAXB];
	struct iouw_request *req = NULL;
	struct iouw_handle *h = NULL;
	uint64_t t0, spent = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		iov[i].iov_base = bytes + 64 * i;
		iov[i].iov_len = 64;
	}
	for (unsigned long i = 0; i < n; i++) {
		struct io_uring_sqe sqe;

		if (!req) {
			int r = send ? iouw_request_send(fd, iov, iovcnt, IOUW_NO_DEADLINE, &req, &h)
			             : iouw_request_write_at(fd, 0, iov, iovcnt, &req, &h);
			if (r)
				return 1;
		}
		t0 = now_ns();
		memset(&sqe, 0, sizeof(sqe));
		req->ops->build_sqe(req, &sqe, i);
		bool done = req->ops->on_cqe(req, false, 1);
		spent += now_ns() - t0;
		if (done) {
			req->ops->finish(req, IOUW_FINISH_COMPLETE);
			iouw_handle_drop(h);
			req = NULL;
		}
	}
	if (req) {
		req->ops->release(req);
		iouw_handle_drop(h);
	}
	report(what, spent, n);
	return 0;
}

int main(void)
{
	int sv[2];
	int rc = 0;
	volatile unsigned sink = 0;
	uint64_t t0;
	unsigned long n = 2000000;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1;
	rc |= lifecycle(sv[0], 200000);
	rc |= steady(sv[0], true, 1, n, "send 1 buffer: build_sqe + on_cqe(1)");
	rc |= steady(sv[0], false, 40, n, "write_at 40 buffers: build_sqe + on_cqe(1)");
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		sink += iouw_cqe_classify((int32_t)(i % 7) - 4, i & 1);
	report("iouw_cqe_classify", now_ns() - t0, n);
	(void)sink;
	close(sv[0]);
	close(sv[1]);
	return rc;
}
