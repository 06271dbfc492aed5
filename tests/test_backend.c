/* tests/test_backend.c: the backend suite (core/backend.h through the
 * scripted kernel's memory transport, core/skernel.h).
 *
 * Pins down: SQ ordering and -EBUSY exactly when sq_space() is 0,
 * push_sqes() all or nothing (natively and through the push_sqe fallback in
 * backend.h), the submitted log, reap batching, CQ overflow parked and returned in post
 * order (and -ENOSPC at the overflow limit), the wait hook (called only
 * when needed, repeated while it makes progress, its errors returned),
 * fail_next_wait, -ETIME / -EDEADLK when nothing comes, answers queued for
 * blocking waits (one per round, before the hook; keyed ones bound later,
 * and the log of what each did), faults after the submit, the wait limit,
 * the attached virtual
 * clock moved by an unanswered timed wait, reset, argument checks,
 * and the panics for misuse. The real-ring twin is test_uring_backend.c.
 *
 * Also here, because it needs no working ring: with io_uring_setup blocked
 * by a seccomp filter (as container runtimes do), iouw_uring_available()
 * and iouw_uring_backend_new() return the setup errno unchanged and
 * iouw_test_require_io_uring() prints the TAP skip line and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "skernel.h"
#include "support.h"
#include "uring_backend.h"

static struct iouw_backend *new_mem(unsigned sq, unsigned cq)
{
	struct iouw_backend *b = NULL;

	ck_assert_int_eq(iouw_skernel_new_mem(sq, cq, &b), 0);
	ck_assert_ptr_nonnull(b);
	return b;
}

static int push_nop(struct iouw_backend *b, uint64_t user_data)
{
	struct io_uring_sqe sqe;

	io_uring_prep_nop(&sqe);
	io_uring_sqe_set_data64(&sqe, user_data);
	return iouw_backend_push_sqe(b, &sqe);
}

START_TEST(test_mem_new_rejects_bad_arguments)
{
	struct iouw_backend *b = (struct iouw_backend *)0x1;

	ck_assert_int_eq(iouw_skernel_new_mem(0, 4, &b), -EINVAL);
	ck_assert_int_eq(iouw_skernel_new_mem(4, 4, NULL), -EINVAL);
	ck_assert_int_eq(iouw_skernel_new_mem(IOUW_SKERNEL_MAX_ENTRIES + 1, 0, &b), -EINVAL);
	ck_assert_int_eq(iouw_skernel_new_mem(4, IOUW_SKERNEL_MAX_ENTRIES + 1, &b), -EINVAL);
	ck_assert_ptr_eq(b, (struct iouw_backend *)0x1); /* untouched on failure */
	iouw_backend_free(NULL);                         /* a no-op */
}
END_TEST

START_TEST(test_mem_default_cq_is_twice_sq)
{
	struct iouw_backend *b = new_mem(2, 0);

	for (uint64_t i = 0; i < 4; i++)
		ck_assert_int_eq(iouw_skernel_post(b, i, 0, 0), 0);
	ck_assert(!iouw_skernel_cq_overflowed(b));
	ck_assert_int_eq(iouw_skernel_post(b, 4, 0, 0), 0);
	ck_assert(iouw_skernel_cq_overflowed(b));
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_sq_full_and_ordering)
{
	struct iouw_backend *b = new_mem(4, 8);
	const struct io_uring_sqe *sqes = (const struct io_uring_sqe *)0x1;

	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 0);
	ck_assert_ptr_null(sqes);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 4);
	for (uint64_t i = 0; i < 4; i++) {
		ck_assert_int_eq(push_nop(b, 100 + i), 0);
		ck_assert_uint_eq(iouw_backend_sq_space(b), 3 - i);
	}
	ck_assert_int_eq(push_nop(b, 999), -EBUSY);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 0);
	/* Nothing is submitted before submit_and_wait. */
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 0);

	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, IOUW_BACKEND_NO_TIMEOUT), 4);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 4);
	ck_assert_int_eq(push_nop(b, 104), 0);
	ck_assert_int_eq(push_nop(b, 105), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), 2);
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 6);
	for (unsigned i = 0; i < 6; i++) {
		ck_assert_uint_eq(sqes[i].user_data, 100 + i);
		ck_assert_uint_eq(sqes[i].opcode, IORING_OP_NOP);
	}
	iouw_skernel_clear_submitted(b);
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), 0);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_push_copies_the_sqe)
{
	struct iouw_backend *b = new_mem(2, 4);
	const struct io_uring_sqe *sqes;
	struct io_uring_sqe sqe;

	io_uring_prep_nop(&sqe);
	io_uring_sqe_set_data64(&sqe, 7);
	ck_assert_int_eq(iouw_backend_push_sqe(b, &sqe), 0);
	io_uring_sqe_set_data64(&sqe, 8); /* reuse the buffer */
	ck_assert_int_eq(iouw_backend_push_sqe(b, &sqe), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), 2);
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 2);
	ck_assert_uint_eq(sqes[0].user_data, 7);
	ck_assert_uint_eq(sqes[1].user_data, 8);
	iouw_backend_free(b);
}
END_TEST

/* A backend with push_sqe and sq_space only, so iouw_backend_push_sqes()
 * takes its one-by-one fallback. */
struct vec_backend {
	struct iouw_backend base;
	struct io_uring_sqe sqes[8];
	unsigned n, cap;
	unsigned push_calls;
};

static int vec_push_sqe(struct iouw_backend *b, const struct io_uring_sqe *sqe)
{
	struct vec_backend *v = (struct vec_backend *)b;

	v->push_calls++;
	if (v->n == v->cap)
		return -EBUSY;
	v->sqes[v->n++] = *sqe;
	return 0;
}

static unsigned vec_sq_space(struct iouw_backend *b)
{
	struct vec_backend *v = (struct vec_backend *)b;

	return v->cap - v->n;
}

static const struct iouw_backend_ops vec_ops = { .push_sqe = vec_push_sqe,
	                                         .sq_space = vec_sq_space };

/* Push @n NOPs with user_data base, base + 1, ... in one push_sqes call. */
static int push_nops(struct iouw_backend *b, uint64_t base, unsigned n)
{
	struct io_uring_sqe sqes[8];

	ck_assert_uint_le(n, 8);
	for (unsigned i = 0; i < n; i++) {
		io_uring_prep_nop(&sqes[i]);
		io_uring_sqe_set_data64(&sqes[i], base + i);
	}
	return iouw_backend_push_sqes(b, sqes, n);
}

/* _i: 0 the mem backend's own push_sqes, 1 the fallback over push_sqe. */
START_TEST(test_push_sqes_all_or_nothing_in_order)
{
	struct vec_backend vec = { .base = { &vec_ops }, .cap = 6 };
	struct iouw_backend *b = _i == 0 ? new_mem(6, 12) : &vec.base;
	const struct io_uring_sqe *sqes;

	ck_assert_int_eq(push_nops(b, 10, 4), 0);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 2);
	/* Three do not fit in two: nothing is pushed. */
	ck_assert_int_eq(push_nops(b, 20, 3), -EBUSY);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 2);
	ck_assert_int_eq(push_nops(b, 14, 2), 0);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 0);
	ck_assert_int_eq(push_nops(b, 30, 0), 0);
	if (_i == 0) {
		ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), 6);
		ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 6);
	} else {
		/* The failed run never reached push_sqe. */
		ck_assert_uint_eq(vec.push_calls, 6);
		ck_assert_uint_eq(vec.n, 6);
		sqes = vec.sqes;
	}
	for (unsigned i = 0; i < 6; i++) {
		ck_assert_uint_eq(sqes[i].user_data, 10 + i);
		ck_assert_uint_eq(sqes[i].opcode, IORING_OP_NOP);
	}
	if (_i == 0)
		iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_reap_batching_and_fields)
{
	struct iouw_backend *b = new_mem(4, 16);
	struct iouw_cqe out[16];

	ck_assert_uint_eq(iouw_backend_reap(b, out, 16), 0);
	for (unsigned i = 0; i < 10; i++)
		ck_assert_int_eq(iouw_skernel_post(b, 1000 + i, -(int32_t)i, i * 3), 0);
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 10);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 0), 0);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 4), 4);
	ck_assert_uint_eq(iouw_backend_reap(b, out + 4, 4), 4);
	ck_assert_uint_eq(iouw_backend_reap(b, out + 8, 4), 2);
	ck_assert_uint_eq(iouw_backend_reap(b, out + 10, 4), 0);
	for (unsigned i = 0; i < 10; i++) {
		ck_assert_uint_eq(out[i].user_data, 1000 + i);
		ck_assert_int_eq(out[i].res, -(int32_t)i);
		ck_assert_uint_eq(out[i].flags, i * 3);
	}
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 0);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_cq_overflow_preserved_in_order)
{
	struct iouw_backend *b = new_mem(2, 4);
	struct iouw_cqe out[64];
	unsigned n = 0, got;

	for (uint64_t i = 0; i < 40; i++)
		ck_assert_int_eq(iouw_skernel_post(b, i, (int32_t)i, 0), 0);
	ck_assert(iouw_skernel_cq_overflowed(b));
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 40);
	/* Reap in odd batches, posting more in between: one FIFO throughout. */
	got = iouw_backend_reap(b, out, 3);
	ck_assert_uint_eq(got, 3);
	n += got;
	ck_assert(iouw_skernel_cq_overflowed(b));
	for (uint64_t i = 40; i < 45; i++)
		ck_assert_int_eq(iouw_skernel_post(b, i, (int32_t)i, 0), 0);
	while ((got = iouw_backend_reap(b, out + n, 7)) > 0)
		n += got;
	ck_assert_uint_eq(n, 45);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(out[i].user_data, i);
		ck_assert_int_eq(out[i].res, (int32_t)i);
	}
	ck_assert(!iouw_skernel_cq_overflowed(b));
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_overflow_limit_enospc)
{
	struct iouw_backend *b = new_mem(2, 2);
	struct iouw_cqe out[8];

	iouw_skernel_set_overflow_limit(b, 2);
	for (uint64_t i = 0; i < 4; i++)
		ck_assert_int_eq(iouw_skernel_post(b, i, 0, 0), 0);
	ck_assert_int_eq(iouw_skernel_post(b, 4, 0, 0), -ENOSPC);
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 4);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 8), 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(out[i].user_data, i);

	/* Limit 0: no overflow list at all. */
	iouw_skernel_set_overflow_limit(b, 0);
	ck_assert_int_eq(iouw_skernel_post(b, 10, 0, 0), 0);
	ck_assert_int_eq(iouw_skernel_post(b, 11, 0, 0), 0);
	ck_assert_int_eq(iouw_skernel_post(b, 12, 0, 0), -ENOSPC);
	ck_assert(!iouw_skernel_cq_overflowed(b));
	ck_assert_uint_eq(iouw_backend_reap(b, out, 8), 2);
	ck_assert_uint_eq(out[0].user_data, 10);
	ck_assert_uint_eq(out[1].user_data, 11);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_wait_without_cqes)
{
	struct iouw_backend *b = new_mem(2, 4);
	struct iouw_cqe out[4];

	ck_assert_int_eq(push_nop(b, 1), 0);
	/* Timed: -ETIME even though it submitted something. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, 1000000), -ETIME);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 2); /* but it did submit */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, 0), -ETIME);
	/* Untimed: would block forever. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, IOUW_BACKEND_NO_TIMEOUT), -EDEADLK);
	/* With enough CQEs it returns at once. */
	ck_assert_int_eq(iouw_skernel_post(b, 1, 0, 0), 0);
	ck_assert_int_eq(push_nop(b, 2), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, IOUW_BACKEND_NO_TIMEOUT), 1);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 5), -ETIME);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 4), 1);
	ck_assert_uint_eq(iouw_skernel_wait_calls(b), 5);
	iouw_backend_free(b);
}
END_TEST

struct hook_state {
	struct iouw_backend *b;
	unsigned calls;
	unsigned posts_per_call;
	unsigned posts_left;
	int err;
	unsigned last_wait_nr;
	int64_t last_timeout;
	size_t submitted_seen;
	uint64_t next_ud;
};

static int hook(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	struct hook_state *h = ctx;
	const struct io_uring_sqe *sqes;

	h->calls++;
	h->last_wait_nr = wait_nr;
	h->last_timeout = timeout_ns;
	h->submitted_seen = iouw_skernel_submitted(h->b, &sqes);
	if (h->err)
		return h->err;
	for (unsigned i = 0; i < h->posts_per_call && h->posts_left > 0; i++, h->posts_left--)
		ck_assert_int_eq(iouw_skernel_post(h->b, h->next_ud++, 5, 0), 0);
	return 0;
}

START_TEST(test_mem_wait_hook)
{
	struct iouw_backend *b = new_mem(4, 8);
	struct hook_state h = { .b = b, .posts_per_call = 1, .posts_left = 3,
		                .next_ud = 50 };
	struct iouw_cqe out[8];

	iouw_skernel_set_wait_hook(b, hook, &h);
	/* Not called when nothing is waited for, or enough is ready. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 100), 0);
	ck_assert_uint_eq(h.calls, 0);

	/* Called after the submit (it sees the SQEs), repeatedly until enough. */
	ck_assert_int_eq(push_nop(b, 1), 0);
	ck_assert_int_eq(push_nop(b, 2), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 3, 12345), 2);
	ck_assert_uint_eq(h.calls, 3);
	ck_assert_uint_eq(h.last_wait_nr, 3);
	ck_assert_int_eq(h.last_timeout, 12345);
	ck_assert_uint_eq(h.submitted_seen, 2);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_uint_eq(out[i].user_data, 50 + i);

	/* It posts once and then nothing: -ETIME, or -EDEADLK untimed. */
	h.calls = 0;
	h.posts_left = 1;
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 10), -ETIME);
	ck_assert_uint_eq(h.calls, 2);
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 1);
	h.calls = 0;
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, IOUW_BACKEND_NO_TIMEOUT), -EDEADLK);
	ck_assert_uint_eq(h.calls, 1);
	ck_assert_int_eq(h.last_timeout, IOUW_BACKEND_NO_TIMEOUT);

	/* 1 ready: a wait for 1 does not call the hook. */
	h.calls = 0;
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, 10), 0);
	ck_assert_uint_eq(h.calls, 0);

	/* Its error is returned as is. */
	h.err = -EINTR;
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 10), -EINTR);
	ck_assert_uint_eq(h.calls, 1);

	/* Removed: plain -ETIME. */
	iouw_skernel_set_wait_hook(b, NULL, NULL);
	h.calls = 0;
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 10), -ETIME);
	ck_assert_uint_eq(h.calls, 0);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_mem_fail_next_wait)
{
	struct iouw_backend *b = new_mem(2, 4);
	const struct io_uring_sqe *sqes;

	ck_assert_int_eq(push_nop(b, 1), 0);
	iouw_skernel_fail_next_wait(b, -EBUSY, 2);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), -EBUSY);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, IOUW_BACKEND_NO_TIMEOUT), -EBUSY);
	/* Nothing was submitted by the failed calls. */
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 0);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 1);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), 1);
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 1);

	iouw_skernel_fail_next_wait(b, -EIO, 1);
	iouw_skernel_fail_next_wait(b, -EIO, 0); /* disarmed */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, 0), 0);
	ck_assert_uint_eq(iouw_skernel_wait_calls(b), 4);
	iouw_backend_free(b);
}
END_TEST

static int reentering_hook(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	return iouw_backend_submit_and_wait(ctx, wait_nr, timeout_ns);
}

START_TEST(test_mem_hook_reentry_panics)
{
	struct iouw_backend *b = new_mem(2, 4);

	iouw_skernel_set_wait_hook(b, reentering_hook, b);
	iouw_test_expect_invariant("scripted kernel wait hook re-entered");
	iouw_backend_submit_and_wait(b, 1, 0);
}
END_TEST

START_TEST(test_mem_call_on_other_backend_panics)
{
	struct iouw_backend_ops other_ops = { 0 };
	struct iouw_backend other = { &other_ops };

	iouw_test_expect_invariant("scripted kernel call on another backend");
	iouw_skernel_post(&other, 1, 0, 0);
}
END_TEST

START_TEST(test_mem_fault_must_be_negative_panics)
{
	struct iouw_backend *b = new_mem(2, 4);

	iouw_test_expect_invariant("scripted kernel fault is not a negative errno");
	iouw_skernel_fail_next_wait(b, EIO, 1);
}
END_TEST

START_TEST(test_uring_probe_on_mem_backend_panics)
{
	struct iouw_backend *b = new_mem(2, 4);

	iouw_test_expect_invariant("uring backend call on another backend");
	iouw_uring_probe_nop_inject(b);
}
END_TEST

START_TEST(test_uring_ring_of_mem_backend_is_null)
{
	struct iouw_backend *b = new_mem(2, 4);

	ck_assert_ptr_null(iouw_uring_backend_ring(b));
	ck_assert_ptr_null(iouw_uring_backend_ring(NULL));
	iouw_backend_free(b);
}
END_TEST

/* A "kernel" for NOPs, as a fuzzer driver would write it: answer every
 * submitted SQE with a CQE carrying its user_data and res = sqe->len. */
static int nop_kernel(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	struct iouw_backend *b = ctx;
	const struct io_uring_sqe *sqes;
	size_t n = iouw_skernel_submitted(b, &sqes);

	(void)wait_nr;
	(void)timeout_ns;
	for (size_t i = 0; i < n; i++) {
		int err = iouw_skernel_post(b, sqes[i].user_data, (int32_t)sqes[i].len, 0);

		if (err)
			return err;
	}
	iouw_skernel_clear_submitted(b);
	return 0;
}

START_TEST(test_mem_hook_as_nop_kernel)
{
	struct iouw_backend *b = new_mem(4, 4);
	struct iouw_cqe out[16];
	unsigned n = 0;

	iouw_skernel_set_wait_hook(b, nop_kernel, b);
	for (uint64_t round = 0; round < 3; round++) {
		for (uint64_t i = 0; i < 4; i++) {
			struct io_uring_sqe sqe;

			io_uring_prep_nop(&sqe);
			sqe.len = (uint32_t)(round * 4 + i);
			io_uring_sqe_set_data64(&sqe, 500 + round * 4 + i);
			ck_assert_int_eq(iouw_backend_push_sqe(b, &sqe), 0);
		}
		ck_assert_int_eq(iouw_backend_submit_and_wait(b, (unsigned)(round + 1) * 4, -1), 4);
	}
	/* 12 answers through a 4-slot CQ: 8 parked in the overflow list. */
	ck_assert(iouw_skernel_cq_overflowed(b));
	for (unsigned got; (got = iouw_backend_reap(b, out + n, 5)) > 0;)
		n += got;
	ck_assert_uint_eq(n, 12);
	for (unsigned i = 0; i < 12; i++) {
		ck_assert_uint_eq(out[i].user_data, 500 + i);
		ck_assert_int_eq(out[i].res, (int32_t)i);
	}
	iouw_backend_free(b);
}
END_TEST

/* Make io_uring_setup fail with @err in this process, as a container's
 * seccomp profile does. */
static void block_io_uring_setup(int err)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

/* /proc/sys/kernel/io_uring_disabled, or 0 when it cannot be read. */
static int io_uring_disabled_sysctl(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static void check_unavailable(int err)
{
	struct iouw_uring_config cfg = { .entries = 8 };
	struct iouw_backend *b = NULL;
	char out[256];
	int fd, status = 0;
	ssize_t n;
	pid_t pid;
	/* A machine with io_uring_disabled=2 is reported as -EPERM before any
	 * setup is tried; the seccomp errno only shows where it is allowed. */
	int avail_err = io_uring_disabled_sysctl() == 2 ? EPERM : err;

	block_io_uring_setup(err);
	ck_assert_int_eq(iouw_uring_available(), -avail_err);
	ck_assert_int_eq(iouw_uring_backend_new(&cfg, &b), -err);
	ck_assert_ptr_null(b);

	fd = memfd_create("iouw-tap", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(fd, STDOUT_FILENO) < 0)
			_exit(5);
		iouw_test_require_io_uring();
		_exit(6); /* did not skip */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	n = pread(fd, out, sizeof(out) - 1, 0);
	ck_assert_int_gt(n, 0);
	out[n] = '\0';
	{
		char want[256];

		snprintf(want, sizeof(want), "1..0 # SKIP io_uring unavailable: %s\n",
		         strerror(avail_err));
		ck_assert_str_eq(out, want);
	}
	close(fd);
}

START_TEST(test_unavailable_eperm)
{
	check_unavailable(EPERM);
}
END_TEST

START_TEST(test_unavailable_enosys)
{
	check_unavailable(ENOSYS);
}
END_TEST

START_TEST(test_unavailable_eacces)
{
	check_unavailable(EACCES);
}
END_TEST

START_TEST(test_skernel_answers_blocking_waits_in_order)
{
	struct iouw_backend *b = new_mem(4, 8);
	struct iouw_cqe out[4];

	ck_assert_str_eq(iouw_skernel_transport_name(b), "memory");
	ck_assert_int_eq(iouw_skernel_transport(b), IOUW_SKERNEL_MEMORY);
	ck_assert_ptr_null(iouw_skernel_ring(b));
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 7, -5), 0);
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 8, 6), 0);
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 9, 0), 0);
	ck_assert_uint_eq(iouw_skernel_answers_left(b), 3);
	/* No wait, or enough ready: nothing is answered. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), 0);
	ck_assert_uint_eq(iouw_skernel_answers_left(b), 3);
	/* A wait for one: exactly one answer, the first. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, -1), 0);
	ck_assert_uint_eq(iouw_skernel_answers_left(b), 2);
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 1);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, -1), 0);
	ck_assert_uint_eq(iouw_skernel_answers_left(b), 2);
	/* A wait for three posts as many as it needs, in order. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 3, -1), 0);
	ck_assert_uint_eq(iouw_skernel_answers_left(b), 0);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 4), 3);
	ck_assert_uint_eq(out[0].user_data, 7);
	ck_assert_int_eq(out[0].res, -5);
	ck_assert_uint_eq(out[1].user_data, 8);
	ck_assert_uint_eq(out[2].user_data, 9);
	/* Nothing queued, no hook: the wait would hang. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, -1), -EDEADLK);
	iouw_backend_free(b);
}
END_TEST

static int count_hook(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	(void)wait_nr;
	(void)timeout_ns;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_skernel_answers_come_before_the_hook_and_clock)
{
	struct iouw_backend *b = new_mem(4, 8);
	struct iouw_virtual_clock vc = { .now_ns = 1000 };
	int hooks = 0;

	iouw_skernel_set_wait_hook(b, count_hook, &hooks);
	iouw_skernel_set_clock(b, &vc);
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 1, 0), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, 500), 0);
	ck_assert_int_eq(hooks, 0);
	ck_assert_uint_eq(vc.now_ns, 1000);
	/* Unanswered timed wait: the hook posts nothing, the clock runs to
	 * the bound, -ETIME. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 500), -ETIME);
	ck_assert_int_eq(hooks, 1);
	ck_assert_uint_eq(vc.now_ns, 1500);
	/* Untimed: -EDEADLK, the clock stays. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, -1), -EDEADLK);
	ck_assert_uint_eq(vc.now_ns, 1500);
	iouw_skernel_set_clock(b, NULL);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 500), -ETIME);
	ck_assert_uint_eq(vc.now_ns, 1500);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_skernel_reset_forgets_everything)
{
	struct iouw_backend *b = new_mem(2, 2);
	const struct io_uring_sqe *sqes;
	struct iouw_cqe out[8];

	ck_assert_int_eq(push_nop(b, 1), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), 1);
	ck_assert_int_eq(push_nop(b, 2), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(iouw_skernel_post(b, (uint64_t)i, 0, 0), 0);
	ck_assert(iouw_skernel_cq_overflowed(b));
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 5, 0), 0);
	iouw_skernel_fail_next_wait(b, -EINTR, 3);
	ck_assert_int_eq(iouw_skernel_reset(b, 0, 0), -EINVAL);
	ck_assert_int_eq(iouw_skernel_reset(b, 5, 3), 0);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 5);
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 0);
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 0);
	ck_assert(!iouw_skernel_cq_overflowed(b));
	ck_assert_uint_eq(iouw_skernel_answers_left(b), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), 0); /* fault disarmed */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(iouw_skernel_post(b, (uint64_t)i, 0, 0), 0);
	ck_assert(iouw_skernel_cq_overflowed(b)); /* the new CQ holds 3 */
	ck_assert_uint_eq(iouw_backend_reap(b, out, 8), 4);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_skernel_keyed_answers_and_their_log)
{
	struct iouw_backend *b = new_mem(4, 8);
	struct iouw_skernel_answered done[4];
	struct iouw_cqe out[4];

	/* Due before its key is bound: the wait fails, the log says why. */
	ck_assert_int_eq(iouw_skernel_queue_answer_for(b, 5, 3), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, -1), -EIO);
	ck_assert_uint_eq(iouw_skernel_take_answered(b, done, 4), 1);
	ck_assert(done[0].keyed);
	ck_assert_uint_eq(done[0].key, 5);
	ck_assert_int_eq(done[0].err, -ENOENT);
	ck_assert_uint_eq(iouw_skernel_cq_ready(b), 0);
	/* Bound (and rebound): the binding at the time it is due counts. */
	ck_assert_int_eq(iouw_skernel_bind(b, 5, 41), 0);
	ck_assert_int_eq(iouw_skernel_bind(b, 5, 42), 0);
	ck_assert_int_eq(iouw_skernel_queue_answer_for(b, 5, 3), 0);
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 9, -1), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, -1), 0);
	ck_assert_uint_eq(iouw_skernel_take_answered(b, done, 1), 1);
	ck_assert_uint_eq(done[0].user_data, 42);
	ck_assert_int_eq(done[0].res, 3);
	ck_assert_int_eq(done[0].err, 0);
	ck_assert(!done[0].overflowed);
	ck_assert_uint_eq(iouw_skernel_take_answered(b, done, 4), 1);
	ck_assert(!done[0].keyed);
	ck_assert_uint_eq(done[0].user_data, 9);
	ck_assert_uint_eq(iouw_skernel_take_answered(b, done, 4), 0);
	ck_assert_uint_eq(iouw_backend_reap(b, out, 4), 2);
	ck_assert_uint_eq(out[0].user_data, 42);
	ck_assert_uint_eq(out[1].user_data, 9);
	/* The memory transport has nothing to release. */
	ck_assert_int_eq(iouw_skernel_release(b, 1), -EOPNOTSUPP);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_skernel_faults_after_submit_and_wait_limit)
{
	struct iouw_backend *b = new_mem(4, 8);
	const struct io_uring_sqe *sqes;

	ck_assert_int_eq(push_nop(b, 1), 0);
	iouw_skernel_fail_waits_after_submit(b, -EINTR, 2);
	ck_assert_uint_eq(iouw_skernel_faults_left(b), 2);
	/* What was pushed went out; the wait reports the error. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), -EINTR);
	ck_assert_uint_eq(iouw_skernel_submitted(b, &sqes), 1);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 4);
	ck_assert_uint_eq(iouw_skernel_faults_left(b), 1);
	/* fail_next_wait keeps its own rule: nothing submitted. */
	iouw_skernel_fail_next_wait(b, -EAGAIN, 1);
	ck_assert_int_eq(push_nop(b, 2), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), -EAGAIN);
	ck_assert_uint_eq(iouw_backend_sq_space(b), 3);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), 1);
	/* The wait limit counts every call so far. */
	iouw_skernel_set_wait_limit(b, iouw_skernel_wait_calls(b) + 1);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), -ELOOP);
	iouw_backend_free(b);
}
END_TEST

/* The last-wait record names the rule that ended each call, the bound the
 * loop passed and how far the attached clock moved. */
START_TEST(test_skernel_last_wait_record)
{
	struct iouw_backend *b = new_mem(4, 8);
	struct iouw_virtual_clock vc = { .now_ns = 100 };
	struct iouw_skernel_wait w;

	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_NONE);
	iouw_skernel_set_clock(b, &vc);
	ck_assert_int_eq(push_nop(b, 1), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), 1);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_NOBLOCK);
	ck_assert_uint_eq(w.wait_nr, 0);
	ck_assert_int_eq(w.res, 1);
	ck_assert_int_eq(iouw_skernel_post(b, 7, 0, 0), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 1, 300), 0);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_READY);
	ck_assert_int_eq(w.timeout_ns, 300);
	ck_assert_int_eq(iouw_skernel_queue_answer(b, 8, 0), 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 2, 300), 0);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_ANSWERED);
	ck_assert_uint_eq(w.moved_ns, 0);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 3, 300), -ETIME);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_TIMEOUT);
	ck_assert_uint_eq(w.wait_nr, 3);
	ck_assert_uint_eq(w.moved_ns, 300);
	ck_assert_uint_eq(vc.now_ns, 400);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 3, -1), -EDEADLK);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_DEADLOCK);
	ck_assert_uint_eq(w.moved_ns, 0);
	iouw_skernel_fail_next_wait(b, -EINTR, 1);
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 3, 300), -EINTR);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_FAULT);
	ck_assert_int_eq(w.res, -EINTR);
	iouw_skernel_set_wait_limit(b, iouw_skernel_wait_calls(b));
	ck_assert_int_eq(iouw_backend_submit_and_wait(b, 0, -1), -ELOOP);
	iouw_skernel_last_wait(b, &w);
	ck_assert_int_eq(w.end, IOUW_SKERNEL_WAIT_ERROR);
	iouw_backend_free(b);
}
END_TEST

static Suite *backend_suite(void)
{
	Suite *s = suite_create("backend");
	TCase *mem = tcase_create("mem");
	TCase *panics = tcase_create("panics");
	TCase *unavailable = tcase_create("unavailable");

	iouw_test_add_fd_fixture(mem);
	iouw_test_add_fd_fixture(unavailable);
	iouw_test_add_fd_fixture(panics);
	tcase_add_test(mem, test_mem_new_rejects_bad_arguments);
	tcase_add_test(mem, test_mem_default_cq_is_twice_sq);
	tcase_add_test(mem, test_mem_sq_full_and_ordering);
	tcase_add_test(mem, test_mem_push_copies_the_sqe);
	tcase_add_loop_test(mem, test_push_sqes_all_or_nothing_in_order, 0, 2);
	tcase_add_test(mem, test_mem_reap_batching_and_fields);
	tcase_add_test(mem, test_mem_cq_overflow_preserved_in_order);
	tcase_add_test(mem, test_mem_overflow_limit_enospc);
	tcase_add_test(mem, test_mem_wait_without_cqes);
	tcase_add_test(mem, test_skernel_last_wait_record);
	tcase_add_test(mem, test_mem_wait_hook);
	tcase_add_test(mem, test_mem_fail_next_wait);
	tcase_add_test(mem, test_uring_ring_of_mem_backend_is_null);
	tcase_add_test(mem, test_mem_hook_as_nop_kernel);
	tcase_add_test(mem, test_skernel_answers_blocking_waits_in_order);
	tcase_add_test(mem, test_skernel_answers_come_before_the_hook_and_clock);
	tcase_add_test(mem, test_skernel_reset_forgets_everything);
	tcase_add_test(mem, test_skernel_keyed_answers_and_their_log);
	tcase_add_test(mem, test_skernel_faults_after_submit_and_wait_limit);
	tcase_add_test(unavailable, test_unavailable_eperm);
	tcase_add_test(unavailable, test_unavailable_enosys);
	tcase_add_test(unavailable, test_unavailable_eacces);
	tcase_add_test_raise_signal(panics, test_mem_hook_reentry_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_mem_call_on_other_backend_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_mem_fault_must_be_negative_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_uring_probe_on_mem_backend_panics, SIGABRT);
	suite_add_tcase(s, mem);
	suite_add_tcase(s, panics);
	suite_add_tcase(s, unavailable);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(backend_suite());
}
