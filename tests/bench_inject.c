/* tests/bench_inject.c: the cost of one injected CQE through the uring
 * backend, the way the harness's inject mode posts them: IORING_OP_NOP +
 * IORING_NOP_INJECT_RESULT, or IORING_OP_MSG_RING aimed at the ring itself
 * with IOSQE_CQE_SKIP_SUCCESS (the fallback on kernels without NOP inject,
 * such as Debian 12's 6.1). Meson benchmark `inject`; scripts/kernel-matrix
 * runs it on every kernel.
 *
 * For each path and batch size: push a batch of injecting SQEs (user_data
 * counting up, res = user_data % 512 alternating sign), submit_and_wait,
 * reap, and check every CQE carries exactly its user_data and res, in order.
 * Prints "inject PATH batch N: X CQEs/s Y ns/CQE", or "inject PATH: skipped
 * (why)" when this kernel lacks the path; exits 1 only when a path the
 * probe accepted then misbehaves, 77 when io_uring is unavailable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_machine.h"
#include "uring_backend.h"

#define TOTAL_CQES 100000u

/* Results in [-511, 511]: kernels from 6.12.117 / 7.3 on rewrite the
 * kernel-internal errnos -512..-529 (ERESTARTSYS...) an injecting NOP carries
 * into -EINTR (MSG_RING passes them through); docs/kernel-matrix.md. */
static int32_t res_of(uint64_t ud)
{
	int32_t r = (int32_t)(ud % 512);

	return ud % 2 ? -r : r;
}

static int run(struct iouw_backend *b, bool msg_ring, unsigned batch)
{
	int ring_fd = iouw_uring_backend_ring(b)->ring_fd;
	struct iouw_cqe out[64];
	uint64_t ud = 1, expect = 1;
	double t0 = bench_now_s(), dt;

	for (unsigned done = 0; done < TOTAL_CQES; done += batch) {
		unsigned got = 0;
		int ret;

		for (unsigned i = 0; i < batch; i++, ud++) {
			struct io_uring_sqe sqe;

			memset(&sqe, 0, sizeof(sqe));
			if (msg_ring) {
				iouw_uring_prep_inject_msg_ring(&sqe, ring_fd, ud, res_of(ud), 0);
				sqe.flags |= IOSQE_CQE_SKIP_SUCCESS;
			} else {
				iouw_uring_prep_inject(&sqe, ud, res_of(ud));
			}
			if (iouw_backend_push_sqe(b, &sqe) != 0)
				return -EBUSY;
		}
		ret = iouw_backend_submit_and_wait(b, batch, IOUW_BACKEND_NO_TIMEOUT);
		if (ret < 0)
			return ret;
		while (got < batch) {
			unsigned n = iouw_backend_reap(b, out, 64);

			if (n == 0)
				return -EPROTO;
			for (unsigned i = 0; i < n; i++, expect++)
				if (out[i].user_data != expect || out[i].res != res_of(expect)) {
					fprintf(stderr, "inject %s batch %u: expected CQE ud=%llu res=%d, "
					        "got ud=%llu res=%d\n", msg_ring ? "msg_ring" : "nop",
					        batch, (unsigned long long)expect, res_of(expect),
					        (unsigned long long)out[i].user_data, out[i].res);
					return -EPROTO;
				}
			got += n;
		}
	}
	dt = bench_now_s() - t0;
	printf("inject %-8s batch %2u: %10.0f CQEs/s  %7.1f ns/CQE\n", msg_ring ? "msg_ring" : "nop",
	       batch, TOTAL_CQES / dt, dt * 1e9 / TOTAL_CQES);
	return 0;
}

int main(void)
{
	static const unsigned batches[] = { 1, 32 };
	int status = 0, err = iouw_uring_available();

	if (err) {
		printf("inject: skipped, io_uring unavailable: %s\n", strerror(-err));
		return 77;
	}
	for (int path = 0; path < 2; path++) {
		bool msg_ring = path == 1;
		struct iouw_uring_config cfg = { .entries = 64 };
		struct iouw_backend *b = NULL;

		err = iouw_uring_backend_new(&cfg, &b);
		if (!err)
			err = msg_ring ? iouw_uring_probe_msg_ring(b) : iouw_uring_probe_nop_inject(b);
		if (err) {
			printf("inject %s: skipped, this kernel lacks it (%s)\n",
			       msg_ring ? "msg_ring" : "nop", strerror(-err));
			iouw_backend_free(b);
			continue;
		}
		for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]) && !err; i++)
			err = run(b, msg_ring, batches[i]);
		if (err) {
			fprintf(stderr, "inject %s: %s\n", msg_ring ? "msg_ring" : "nop", strerror(-err));
			status = 1;
		}
		iouw_backend_free(b);
	}
	return status;
}
