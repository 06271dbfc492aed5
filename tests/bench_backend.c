/* tests/bench_backend.c: NOP round-trip throughput through the backend
 * interface (meson benchmark `backend_nop`; `meson test --benchmark`).
 *
 * For each backend (uring: a real ring, skipped when io_uring is
 * unavailable; mem: the in-memory backend answered by a wait hook) and each
 * batch size, pushes a batch of NOPs, submit_and_wait(batch), reaps them,
 * and reports NOPs per second and ns per NOP. The cost of the backend layer
 * itself shows as the difference to a bare liburing loop (also measured).
 * Prints one line per case; exits non-zero only if a round trip fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skernel.h"
#include "uring_backend.h"

#define TOTAL_NOPS 400000u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int answer_nops(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	struct iouw_backend *b = ctx;
	const struct io_uring_sqe *sqes;
	size_t n = iouw_skernel_submitted(b, &sqes);

	(void)wait_nr;
	(void)timeout_ns;
	for (size_t i = 0; i < n; i++) {
		int err = iouw_skernel_post(b, sqes[i].user_data, 0, 0);

		if (err)
			return err;
	}
	iouw_skernel_clear_submitted(b);
	return 0;
}

static int run(const char *name, struct iouw_backend *b, unsigned batch)
{
	struct iouw_cqe out[256];
	uint64_t ud = 0, expect = 0;
	double t0 = now_s(), dt;

	for (unsigned done = 0; done < TOTAL_NOPS; done += batch) {
		unsigned got = 0;
		int ret;

		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe sqe;

			io_uring_prep_nop(&sqe);
			io_uring_sqe_set_data64(&sqe, ud++);
			if (iouw_backend_push_sqe(b, &sqe) != 0)
				return -EBUSY;
		}
		ret = iouw_backend_submit_and_wait(b, batch, IOUW_BACKEND_NO_TIMEOUT);
		if (ret < 0)
			return ret;
		while (got < batch) {
			unsigned n = iouw_backend_reap(b, out, 256);

			if (n == 0)
				return -EPROTO;
			for (unsigned i = 0; i < n; i++)
				if (out[i].user_data != expect++)
					return -EPROTO;
			got += n;
		}
	}
	dt = now_s() - t0;
	printf("%-14s batch %3u: %10.0f NOPs/s  %7.1f ns/NOP\n", name, batch, TOTAL_NOPS / dt,
	       dt * 1e9 / TOTAL_NOPS);
	return 0;
}

static int run_bare_liburing(unsigned batch)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint64_t expect = 0;
	double t0, dt;
	int err = io_uring_queue_init(256, &ring, 0);

	if (err)
		return err;
	t0 = now_s();
	for (unsigned done = 0; done < TOTAL_NOPS; done += batch) {
		unsigned head, n = 0;

		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, done + i);
		}
		err = io_uring_submit_and_wait(&ring, batch);
		if (err < 0)
			break;
		io_uring_for_each_cqe(&ring, head, cqe) {
			if (cqe->user_data != expect++)
				err = -EPROTO;
			n++;
		}
		io_uring_cq_advance(&ring, n);
		if (err < 0 || n != batch) {
			err = err < 0 ? err : -EPROTO;
			break;
		}
		err = 0;
	}
	dt = now_s() - t0;
	io_uring_queue_exit(&ring);
	if (err)
		return err;
	printf("%-14s batch %3u: %10.0f NOPs/s  %7.1f ns/NOP\n", "bare liburing", batch,
	       TOTAL_NOPS / dt, dt * 1e9 / TOTAL_NOPS);
	return 0;
}

int main(void)
{
	static const unsigned batches[] = { 1, 32, 128 };
	int status = 0;

	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		struct iouw_backend *b = NULL;
		unsigned batch = batches[i];
		int err;

		err = iouw_skernel_new_mem(256, 0, &b);
		if (!err) {
			iouw_skernel_set_wait_hook(b, answer_nops, b);
			err = run("mem", b, batch);
			iouw_backend_free(b);
		}
		if (err) {
			fprintf(stderr, "mem batch %u: %s\n", batch, strerror(-err));
			status = 1;
		}
		if (iouw_uring_available() != 0) {
			printf("uring          batch %3u: skipped, io_uring unavailable\n", batch);
			continue;
		}
		{
			struct iouw_uring_config cfg = { .entries = 256 };
			struct iouw_uring_config si = { .entries = 256, .single_issuer = true };

			err = run_bare_liburing(batch);
			if (!err)
				err = iouw_uring_backend_new(&cfg, &b);
			if (!err) {
				err = run("uring", b, batch);
				iouw_backend_free(b);
			}
			if (!err)
				err = iouw_uring_backend_new(&si, &b);
			if (!err) {
				err = run("uring (si+dt)", b, batch);
				iouw_backend_free(b);
			}
		}
		if (err) {
			fprintf(stderr, "uring batch %u: %s\n", batch, strerror(-err));
			status = 1;
		}
	}
	return status;
}
