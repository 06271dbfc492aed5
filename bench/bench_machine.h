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

/* One line "PROGRAM: @what: strerror(@err)" on stderr, then exit 1. */
__attribute__((noreturn)) static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(err));
	exit(1);
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

/* @ops raw liburing NOP round trips on @ring (set up by the caller), in
 * batches of @batch (the last one shorter): prep, io_uring_submit_and_wait
 * for the whole batch (one io_uring_enter), reap. Exits 1 on a failed
 * submit. */
static inline void bench_raw_nop_slice(struct io_uring *ring, unsigned batch, uint64_t ops)
{
	uint64_t done = 0;

	while (done < ops) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0, b = ops - done < batch ? (unsigned)(ops - done) : batch;
		int r;

		for (unsigned i = 0; i < b; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, i);
		}
		r = io_uring_submit_and_wait(ring, b);
		if (r < 0)
			bench_die("io_uring_submit_and_wait", -r);
		io_uring_for_each_cqe(ring, head, cqe) n++;
		io_uring_cq_advance(ring, n);
		done += n;
	}
}

/* Raw liburing NOP round trips per second (bench_raw_nop_slice()) on a
 * fresh 128-entry ring without flags. */
static inline double bench_raw_nops(unsigned batch, uint64_t ops)
{
	struct io_uring ring;
	double t0;
	int r = io_uring_queue_init(128, &ring, 0);

	if (r < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
		exit(bench_uring_exit_code(r));
	}
	t0 = bench_now_s();
	bench_raw_nop_slice(&ring, batch, ops);
	t0 = bench_now_s() - t0;
	io_uring_queue_exit(&ring);
	return (double)ops / t0;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q-quantile (0 <= q <= 1, nearest rank) of @v[0..n), n >= 1; sorts
 * @v. */
static inline double bench_quantile(double *v, size_t n, double q)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return v[(size_t)(q * (double)(n - 1) + 0.5)];
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
		double a = bench_raw_nops(1, 200000), b = bench_raw_nops(32, 1000000);

		nop1 = a > nop1 ? a : nop1;
		nop32 = b > nop32 ? b : nop32;
	}
	printf("machine: %.2fM syscalls/s (getppid), %.0f ns per empty io_uring_enter, "
	       "raw liburing NOPs %.2fM/s at batch 1, %.2fM/s at batch 32\n",
	       sys_rate / 1e6, enter_ns, nop1 / 1e6, nop32 / 1e6);
	fflush(stdout);
}

#endif /* IOUW_BENCH_MACHINE_H */
