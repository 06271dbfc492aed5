/* bench/bench_machine.h: what the benchmarks share: the machine's own raw
 * figures (so a reader can tell a slow machine from a slow loop), the clock,
 * argument parsing and whether this build may judge a target.
 *
 * bench_machine_print() measures, before any benchmark runs: plain syscalls
 * per second (getppid, which the kernel never caches), the cost of an empty
 * io_uring_enter (nothing to submit, nothing to wait for) and raw liburing
 * NOP round trips per second at batch 1 and 32 (one io_uring_enter per
 * batch), each the best of three. Header-only: each benchmark is one
 * executable.
 */
#ifndef IOUW_BENCH_MACHINE_H
#define IOUW_BENCH_MACHINE_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU time (s): unlike the wall clock it stops while the
 * thread is preempted, so on a shared machine it measures the work, not
 * the neighbours. Syscall-bound work that completes inline (NOPs) runs
 * entirely on this thread, in user or kernel mode. */
static inline double bench_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Exit code for "io_uring is not available here": 77 (meson's skip) for
 * the errors a locked-down kernel gives, 1 otherwise. */
static inline int bench_uring_exit_code(int err)
{
	return err == -EPERM || err == -ENOSYS || err == -EACCES ? 77 : 1;
}

/* A decimal integer in [1, @max], the whole of @s; else 0. */
static inline uint64_t bench_parse_count(const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno || *end || v > max ? 0 : v;
}

/* Parse [OPS [BATCH...]]: *@ops (default @default_ops, at most @max_ops)
 * and up to 8 batch sizes of 1..@max_batch into @batches (default 1 and
 * 32), their count in *@nb. 0, or 2 after a one-line error naming @name. */
static inline int bench_parse_args(const char *name, int argc, char **argv, uint64_t default_ops,
                                   uint64_t max_ops, unsigned max_batch, uint64_t *ops,
                                   unsigned batches[8], size_t *nb)
{
	*ops = argc > 1 ? bench_parse_count(argv[1], max_ops) : default_ops;
	batches[0] = 1;
	batches[1] = 32;
	*nb = 2;
	if (*ops == 0) {
		fprintf(stderr, "%s: OPS must be a positive integer, got '%s'\n", name, argv[1]);
		return 2;
	}
	if (argc <= 2)
		return 0;
	/* Explicit batch sizes, for profiling one of them. */
	if (argc - 2 > 8) {
		fprintf(stderr, "%s: at most 8 batch sizes, got %d\n", name, argc - 2);
		return 2;
	}
	*nb = 0;
	for (int a = 2; a < argc; a++) {
		uint64_t b = bench_parse_count(argv[a], max_batch);

		if (b == 0) {
			fprintf(stderr, "%s: batch must be 1..%u, got '%s'\n", name, max_batch, argv[a]);
			return 2;
		}
		batches[(*nb)++] = (unsigned)b;
	}
	return 0;
}

/* Why this build's figures cannot judge a target, or NULL: sanitizers and
 * unoptimised code measure themselves, not the loop. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define IOUW_BENCH_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define IOUW_BENCH_SANITIZED 1
#endif
static inline const char *bench_unjudged_build(void)
{
#if defined(IOUW_BENCH_SANITIZED)
	return "a sanitizer build";
#elif !defined(__OPTIMIZE__)
	return "an unoptimised build";
#else
	return NULL;
#endif
}

/* Raw liburing NOP round trips per second: batches of @batch NOPs, one
 * io_uring_enter per batch, on a 128-entry ring without flags. Per second
 * of this thread's CPU time in *@cpu_rate when not NULL. */
static inline double bench_raw_nops(unsigned batch, uint64_t ops, double *cpu_rate)
{
	struct io_uring ring;
	uint64_t done = 0;
	double t0, c0;
	int r = io_uring_queue_init(128, &ring, 0);

	if (r < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
		exit(bench_uring_exit_code(r));
	}
	c0 = bench_cpu_s();
	t0 = bench_now_s();
	while (done < ops) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, i);
		}
		r = io_uring_submit_and_wait(&ring, batch);
		if (r < 0) {
			fprintf(stderr, "submit_and_wait: %s\n", strerror(-r));
			exit(1);
		}
		io_uring_for_each_cqe(&ring, head, cqe) n++;
		io_uring_cq_advance(&ring, n);
		done += n;
	}
	t0 = bench_now_s() - t0;
	c0 = bench_cpu_s() - c0;
	io_uring_queue_exit(&ring);
	if (cpu_rate)
		*cpu_rate = (double)done / c0;
	return (double)done / t0;
}

/* Print the machine line: syscalls/s, ns per empty io_uring_enter, raw
 * NOPs/s at batch 1 and 32. */
static inline void bench_machine_print(void)
{
	const unsigned n = 200000;
	double sys_rate = 0, enter_ns = 1e18, nop1 = 0, nop32 = 0;
	struct io_uring ring;
	int r = io_uring_queue_init(8, &ring, 0);

	if (r < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
		exit(bench_uring_exit_code(r));
	}
	for (int k = 0; k < 3; k++) {
		double t0 = bench_now_s(), t;

		for (unsigned i = 0; i < n; i++)
			(void)syscall(SYS_getppid);
		t = bench_now_s() - t0;
		if (n / t > sys_rate)
			sys_rate = n / t;
		t0 = bench_now_s();
		for (unsigned i = 0; i < n; i++)
			(void)io_uring_enter(ring.ring_fd, 0, 0, 0, NULL);
		t = bench_now_s() - t0;
		if (t * 1e9 / n < enter_ns)
			enter_ns = t * 1e9 / n;
	}
	io_uring_queue_exit(&ring);
	for (int k = 0; k < 3; k++) {
		double a = bench_raw_nops(1, 200000, NULL), b = bench_raw_nops(32, 1000000, NULL);

		nop1 = a > nop1 ? a : nop1;
		nop32 = b > nop32 ? b : nop32;
	}
	printf("machine: %.2fM syscalls/s (getppid), %.0f ns per empty io_uring_enter, "
	       "raw liburing NOPs %.2fM/s at batch 1, %.2fM/s at batch 32\n",
	       sys_rate / 1e6, enter_ns, nop1 / 1e6, nop32 / 1e6);
	fflush(stdout);
}

#endif /* IOUW_BENCH_MACHINE_H */
