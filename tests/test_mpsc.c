/* tests/test_mpsc.c: the inbound queue suite (core/mpsc.h).
 *
 * Single-threaded: argument checks, FIFO order, full/empty, wrap-around over
 * many laps. Threaded: several producers push disjoint ranges while one
 * consumer pops (one at a time, or in runs with pop_many); every value
 * arrives exactly once and each producer's values arrive in that producer's
 * order. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "mpsc.h"
#include "support.h"

#define VAL(x) ((void *)(uintptr_t)(x))

START_TEST(test_mpsc_rejects_bad_arguments)
{
	struct iouw_mpsc *q = NULL;

	ck_assert_int_eq(iouw_mpsc_new(0, &q), -EINVAL);
	ck_assert_int_eq(iouw_mpsc_new(3, &q), -EINVAL);
	ck_assert_int_eq(iouw_mpsc_new((size_t)1 << 25, &q), -EINVAL);
	ck_assert_int_eq(iouw_mpsc_new(4, NULL), -EINVAL);
	ck_assert_ptr_null(q);
	ck_assert_int_eq(iouw_mpsc_new(4, &q), 0);
	ck_assert_int_eq(iouw_mpsc_push(q, NULL), -EINVAL);
	ck_assert_uint_eq(iouw_mpsc_len(q), 0);
	iouw_mpsc_free(q);
	iouw_mpsc_free(NULL);
}
END_TEST

START_TEST(test_mpsc_fifo_full_and_wrap)
{
	struct iouw_mpsc *q;

	ck_assert_int_eq(iouw_mpsc_new(4, &q), 0);
	ck_assert_uint_eq(iouw_mpsc_capacity(q), 4);
	ck_assert_ptr_null(iouw_mpsc_pop(q));
	for (uintptr_t lap = 0; lap < 1000; lap++) {
		for (uintptr_t i = 1; i <= 4; i++)
			ck_assert_int_eq(iouw_mpsc_push(q, VAL(lap * 10 + i)), 0);
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(99)), -EAGAIN);
		ck_assert_uint_eq(iouw_mpsc_len(q), 4);
		ck_assert_ptr_eq(iouw_mpsc_peek(q), VAL(lap * 10 + 1));
		for (uintptr_t i = 1; i <= 4; i++)
			ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(lap * 10 + i));
		ck_assert_ptr_null(iouw_mpsc_pop(q));
		ck_assert_ptr_null(iouw_mpsc_peek(q));
	}
	/* Interleaved push/pop keeps order across the wrap. */
	ck_assert_int_eq(iouw_mpsc_push(q, VAL(1)), 0);
	ck_assert_int_eq(iouw_mpsc_push(q, VAL(2)), 0);
	ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(1));
	ck_assert_int_eq(iouw_mpsc_push(q, VAL(3)), 0);
	ck_assert_int_eq(iouw_mpsc_push(q, VAL(4)), 0);
	ck_assert_int_eq(iouw_mpsc_push(q, VAL(5)), 0);
	ck_assert_int_eq(iouw_mpsc_push(q, VAL(6)), -EAGAIN);
	for (uintptr_t i = 2; i <= 5; i++)
		ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(i));
	iouw_mpsc_free(q);
}
END_TEST

START_TEST(test_mpsc_push_many_runs_and_partial_fit)
{
	struct iouw_mpsc *q;
	void *vals[8];

	for (uintptr_t i = 0; i < 8; i++)
		vals[i] = VAL(i + 1);
	ck_assert_int_eq(iouw_mpsc_new(8, &q), 0);
	ck_assert_int_eq(iouw_mpsc_push_many(q, vals, 0), -EINVAL);
	ck_assert_int_eq(iouw_mpsc_push_many(q, vals, 5), 5);
	/* Only 3 slots left: the run does not fit whole, 3 go one by one. */
	ck_assert_int_eq(iouw_mpsc_push_many(q, vals, 5), 3);
	ck_assert_int_eq(iouw_mpsc_push_many(q, vals, 1), 0);
	for (uintptr_t i = 1; i <= 5; i++)
		ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(i));
	for (uintptr_t i = 1; i <= 3; i++)
		ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(i));
	ck_assert_ptr_null(iouw_mpsc_pop(q));
	/* Runs across the wrap, many laps. */
	for (int lap = 0; lap < 100; lap++) {
		ck_assert_int_eq(iouw_mpsc_push_many(q, vals, 3), 3);
		for (uintptr_t i = 1; i <= 3; i++)
			ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(i));
	}
	/* More than the capacity: the first 8 go in. */
	{
		void *big[10];

		for (uintptr_t i = 0; i < 10; i++)
			big[i] = VAL(100 + i);
		ck_assert_int_eq(iouw_mpsc_push_many(q, big, 10), 8);
		ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(100));
		big[0] = NULL;
		ck_assert_int_eq(iouw_mpsc_push_many(q, big, 1), -EINVAL);
	}
	iouw_mpsc_free(q);
}
END_TEST

START_TEST(test_mpsc_pop_many_runs_partial_and_wrap)
{
	struct iouw_mpsc *q;
	void *out[16];

	ck_assert_int_eq(iouw_mpsc_new(8, &q), 0);
	ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 16), 0);
	for (uintptr_t i = 1; i <= 5; i++)
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(i)), 0);
	/* max 0 pops nothing; max below what is queued stops at max. */
	ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 0), 0);
	ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 2), 2);
	ck_assert_ptr_eq(out[0], VAL(1));
	ck_assert_ptr_eq(out[1], VAL(2));
	ck_assert_uint_eq(iouw_mpsc_len(q), 3);
	/* max above what is queued takes everything, oldest first. */
	ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 16), 3);
	for (uintptr_t i = 0; i < 3; i++)
		ck_assert_ptr_eq(out[i], VAL(i + 3));
	ck_assert_uint_eq(iouw_mpsc_len(q), 0);
	ck_assert_ptr_null(iouw_mpsc_peek(q));
	/* The popped cells are free again: a full lap fits, across the wrap,
	 * mixed with single pops, for many laps. */
	for (uintptr_t lap = 0; lap < 300; lap++) {
		for (uintptr_t i = 0; i < 8; i++)
			ck_assert_int_eq(iouw_mpsc_push(q, VAL(lap * 100 + i + 1)), 0);
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(99)), -EAGAIN);
		ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(lap * 100 + 1));
		ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, (size_t)(lap % 7) + 1),
		                  (size_t)(lap % 7) + 1);
		for (uintptr_t i = 0; i <= lap % 7; i++)
			ck_assert_ptr_eq(out[i], VAL(lap * 100 + i + 2));
		ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 16), 6 - lap % 7);
		for (uintptr_t i = 0; i < 6 - lap % 7; i++)
			ck_assert_ptr_eq(out[i], VAL(lap * 100 + lap % 7 + i + 3));
	}
	iouw_mpsc_free(q);
}
END_TEST

/* pop_many frees the cells it took: with capacity 1 the single value comes
 * out, and the next push fits exactly once again. */
START_TEST(test_mpsc_pop_many_capacity_one)
{
	struct iouw_mpsc *q;
	void *out[4];

	ck_assert_int_eq(iouw_mpsc_new(1, &q), 0);
	for (uintptr_t lap = 1; lap < 50; lap++) {
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(lap)), 0);
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(99)), -EAGAIN);
		ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 4), 1);
		ck_assert_ptr_eq(out[0], VAL(lap));
		ck_assert_uint_eq(iouw_mpsc_pop_many(q, out, 4), 0);
	}
	iouw_mpsc_free(q);
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct producer {
	struct iouw_mpsc *q;
	uintptr_t base;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (uintptr_t i = 0; i < PER_PRODUCER;) {
		/* Alternate single pushes and runs of up to 5. */
		void *run[5];
		size_t n = (i % 3 == 0) ? 1 : 5;
		int r;

		if (n > PER_PRODUCER - i)
			n = PER_PRODUCER - i;
		for (size_t k = 0; k < n; k++)
			run[k] = VAL(p->base + i + k + 1);
		r = n == 1 ? (iouw_mpsc_push(p->q, run[0]) == 0 ? 1 : 0)
		           : iouw_mpsc_push_many(p->q, run, n);
		if (r <= 0)
			sched_yield();
		else
			i += (uintptr_t)r;
	}
	return NULL;
}

/* _i: 0 pops one at a time, 1 pops runs of up to 7 with pop_many. */
START_TEST(test_mpsc_threaded_exactly_once_in_producer_order)
{
	struct iouw_mpsc *q;
	pthread_t th[PRODUCERS];
	struct producer p[PRODUCERS];
	uintptr_t next[PRODUCERS] = { 0 };
	size_t got = 0;
	void *run[7];

	ck_assert_int_eq(iouw_mpsc_new(64, &q), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		p[i].q = q;
		p[i].base = (uintptr_t)i * 1000000;
		ck_assert_int_eq(pthread_create(&th[i], NULL, produce, &p[i]), 0);
	}
	while (got < (size_t)PRODUCERS * PER_PRODUCER) {
		size_t n = _i == 0 ? (run[0] = iouw_mpsc_pop(q)) != NULL
		                   : iouw_mpsc_pop_many(q, run, (got % 7) + 1);

		if (n == 0) {
			sched_yield();
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			uintptr_t x = (uintptr_t)run[k] - 1;
			uintptr_t who = x / 1000000, seq = x % 1000000;

			ck_assert_uint_lt(who, PRODUCERS);
			ck_assert_uint_eq(seq, next[who]);
			next[who]++;
			got++;
		}
	}
	for (int i = 0; i < PRODUCERS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_uint_eq(next[i], PER_PRODUCER);
	}
	ck_assert_ptr_null(iouw_mpsc_pop(q));
	iouw_mpsc_free(q);
}
END_TEST

/* Found by the loop fuzz target: with one cell, "published at p" and "free
 * for lap p + 1" share a sequence number, so a second push overwrote the
 * unpopped value. Capacity 1 must hold exactly one value. */
START_TEST(test_mpsc_capacity_one_holds_one)
{
	struct iouw_mpsc *q;
	void *two[2] = { VAL(7), VAL(8) };

	ck_assert_int_eq(iouw_mpsc_new(1, &q), 0);
	ck_assert_uint_eq(iouw_mpsc_capacity(q), 1);
	for (uintptr_t lap = 1; lap < 100; lap++) {
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(lap)), 0);
		ck_assert_int_eq(iouw_mpsc_push(q, VAL(99)), -EAGAIN);
		ck_assert_int_eq(iouw_mpsc_push_many(q, two, 2), 0);
		ck_assert_uint_eq(iouw_mpsc_len(q), 1);
		ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(lap));
		ck_assert_ptr_null(iouw_mpsc_pop(q));
	}
	ck_assert_int_eq(iouw_mpsc_push_many(q, two, 2), 1);
	ck_assert_ptr_eq(iouw_mpsc_pop(q), VAL(7));
	ck_assert_ptr_null(iouw_mpsc_pop(q));
	iouw_mpsc_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mpsc");
	TCase *tc = tcase_create("mpsc");

	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mpsc_rejects_bad_arguments);
	tcase_add_test(tc, test_mpsc_fifo_full_and_wrap);
	tcase_add_test(tc, test_mpsc_push_many_runs_and_partial_fit);
	tcase_add_loop_test(tc, test_mpsc_threaded_exactly_once_in_producer_order, 0, 2);
	tcase_add_test(tc, test_mpsc_pop_many_runs_partial_and_wrap);
	tcase_add_test(tc, test_mpsc_pop_many_capacity_one);
	tcase_add_test(tc, test_mpsc_capacity_one_holds_one);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
