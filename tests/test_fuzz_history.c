/* tests/test_fuzz_history.c: the waiter-history decoder suite
 * (fuzz/waiter_history.h).
 *
 * The fuzz target's promise is that every input without the HOSTILE header
 * bits decodes into a KERNEL-LEGAL history, so a correct table never
 * reaches an invariant abort, and that a HOSTILE one breaks the rules only
 * in its CQE results and its FATAL last step. This suite checks that
 * promise with a shadow written from the steps alone (not from the
 * decoder's models): only ready waiters are staged, every op CQE answers
 * one staged SQE and every cancel CQE one accepted cancel of an in-flight
 * waiter, results stay in range and pair as the kernel pairs them (cancel
 * 0 <=> op -ECANCELED), -EINVAL never reaches the live occupant unless the
 * step is FATAL, a FATAL op CQE names no op in flight, and the drain (not
 * after a FATAL step) leaves nothing tracked or owed. It also pins the printer's
 * words for a hand-encoded input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/waiter_history.h"
#include "support.h"

struct shadow_slot {
	bool live, in_flight, cancel_requested, orphaned;
	bool must_ecanceled; /* its cancel answered 0 before the op */
	uint32_t gen;
	uint32_t owed_op;
};

struct owed_cancel {
	uint32_t index, gen;
	int op; /* what the op did since: 0 nothing, 1 -ECANCELED, 2 anything else */
};

static unsigned long hostile_steps, fatal_steps;

static struct iouw_waiter_history history;

static bool shadow_current(const struct shadow_slot *sh, uint32_t cap, uint32_t index,
                           uint32_t gen)
{
	return index < cap && sh[index].live && sh[index].gen == gen;
}

/* Decode @data and check every step against the shadow. */
static void check_legal(const uint8_t *data, size_t size)
{
	struct shadow_slot sh[IOUW_WH_MAX_CAPACITY];
	static struct owed_cancel owed[IOUW_WM_MAX_REQUESTS];
	size_t nowed = 0;
	struct iouw_wh_step st;
	struct iouw_wm_outcome e;
	bool drained = false;
	uint32_t cap;

	memset(sh, 0, sizeof(sh));
	iouw_waiter_history_init(&history, data, size);
	cap = history.capacity;
	ck_assert_uint_ge(cap, 1);
	ck_assert_uint_le(cap, IOUW_WH_MAX_CAPACITY);
	for (uint32_t i = 0; i < cap; i++)
		sh[i].gen = history.first_gen[i];

	while (iouw_waiter_history_next(&history, &st, &e)) {
		struct shadow_slot *s = st.index < cap ? &sh[st.index] : NULL;

		ck_assert(!drained || st.drain); /* the drain is the tail */
		drained = st.drain;
		switch (st.kind) {
		case IOUW_WH_INSERT:
			ck_assert_uint_lt(e.index, cap);
			ck_assert(!sh[e.index].live);
			ck_assert_uint_eq(e.gen, sh[e.index].gen);
			ck_assert_uint_le(st.len, 16);
			memset(&sh[e.index], 0, sizeof(sh[e.index]));
			sh[e.index].live = true;
			sh[e.index].gen = e.gen;
			break;
		case IOUW_WH_CANCEL:
			if (e.accepted) {
				ck_assert(shadow_current(sh, cap, st.index, st.gen));
				ck_assert(!s->cancel_requested);
				s->cancel_requested = true;
				if (s->in_flight) {
					owed[nowed].index = st.index;
					owed[nowed].gen = st.gen;
					owed[nowed].op = 0;
					nowed++;
				}
			} else {
				ck_assert(!shadow_current(sh, cap, st.index, st.gen) ||
				          s->cancel_requested);
			}
			break;
		case IOUW_WH_STAGE:
			ck_assert(shadow_current(sh, cap, st.index, st.gen));
			ck_assert(!s->in_flight); /* only ready waiters are staged */
			if (e.kind == IOUW_WM_OUT_SUBMIT) {
				ck_assert(!s->cancel_requested && !s->orphaned);
				s->in_flight = true;
				s->owed_op++;
			} else {
				ck_assert(e.kind == IOUW_WM_OUT_TIMEOUT ? s->cancel_requested
				                                        : s->orphaned);
				s->live = false;
				s->gen = (s->gen + 1) & IOUW_WM_GEN_MASK;
			}
			break;
		case IOUW_WH_ORPHAN:
			ck_assert(shadow_current(sh, cap, st.index, st.gen));
			ck_assert(!s->orphaned);
			s->orphaned = true;
			break;
		case IOUW_WH_OP_CQE:
			if (st.invariant) {
				/* HOSTILE: a CQE for no SQE, the last step. */
				ck_assert(history.hostile && st.hostile);
				ck_assert(!shadow_current(sh, cap, st.index, st.gen) || !s->in_flight);
				fatal_steps++;
				break;
			}
			/* Exactly one op CQE per staged SQE. */
			ck_assert(shadow_current(sh, cap, st.index, st.gen));
			ck_assert(s->in_flight);
			ck_assert_uint_eq(s->owed_op, 1);
			ck_assert(!st.hostile || history.hostile);
			hostile_steps += st.hostile;
			if (!st.hostile) {
				/* kernel_model.h K3, K6 */
				ck_assert_int_le(st.res, 16);
				ck_assert_int_ge(st.res, -4095);
				ck_assert(!s->must_ecanceled || st.res == -ECANCELED);
			}
			for (size_t k = 0; k < nowed; k++)
				if (owed[k].index == st.index && owed[k].gen == st.gen)
					owed[k].op = st.res == -ECANCELED ? 1 : 2;
			s->must_ecanceled = false;
			s->owed_op = 0;
			s->in_flight = false;
			if (e.kind == IOUW_WM_OUT_COMPLETE) {
				s->live = false;
				s->gen = (s->gen + 1) & IOUW_WM_GEN_MASK;
			} else {
				ck_assert_int_eq(e.kind, IOUW_WM_OUT_REQUEUE);
			}
			break;
		case IOUW_WH_CANCEL_CQE: {
			size_t k = 0;

			/* Exactly one cancel CQE per cancel SQE. */
			while (k < nowed && (owed[k].index != st.index || owed[k].gen != st.gen))
				k++;
			ck_assert_uint_lt(k, nowed);
			ck_assert(!st.hostile || history.hostile);
			hostile_steps += st.hostile;
			if (st.invariant) {
				ck_assert(st.hostile && st.res == -EINVAL);
				ck_assert(shadow_current(sh, cap, st.index, st.gen));
				fatal_steps++;
				break;
			}
			if (shadow_current(sh, cap, st.index, st.gen))
				ck_assert_int_ne(st.res, -EINVAL);
			if (!st.hostile) {
				/* kernel_model.h K5-K8 */
				ck_assert(st.res == 0 || st.res == -EALREADY || st.res == -ENOENT);
				ck_assert(st.res != 0 || owed[k].op != 2);
				if (st.res == 0 && owed[k].op == 0)
					s->must_ecanceled = true;
			}
			owed[k] = owed[--nowed];
			break;
		}
		}
	}
	if (history.fatal)
		return; /* ended by its FATAL step: no drain */
	ck_assert_uint_eq(nowed, 0);
	for (uint32_t i = 0; i < cap; i++) {
		ck_assert(!sh[i].live);
		ck_assert_uint_eq(sh[i].owed_op, 0);
	}
	ck_assert_uint_eq(history.model.len, 0);
}

START_TEST(test_history_empty_input_is_empty)
{
	struct iouw_wh_step st;
	struct iouw_wm_outcome e;

	iouw_waiter_history_init(&history, NULL, 0);
	ck_assert_uint_eq(history.capacity, 1);
	ck_assert(!iouw_waiter_history_next(&history, &st, &e));
}
END_TEST

START_TEST(test_history_random_inputs_are_kernel_legal)
{
	/* Deterministic pseudo-random inputs, short and long. */
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	static uint8_t buf[6000];

	for (int round = 0; round < 3000; round++) {
		size_t size;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		size = (size_t)(x >> 33) % (round % 50 == 0 ? sizeof(buf) : 300);
		for (size_t i = 0; i < size; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[i] = (uint8_t)(x >> 56);
		}
		check_legal(buf, size);
	}
	/* A quarter of the headers are HOSTILE: their answers were seen. */
	ck_assert_uint_gt(hostile_steps, 100);
	ck_assert_uint_gt(fatal_steps, 10);
}
END_TEST

START_TEST(test_history_print_in_words)
{
	/* Read from the tail: capacity 1, no wrap, action insert, 3 bytes. */
	static const uint8_t input[] = { 3, 0, 0, 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	iouw_waiter_history_print(out, input, sizeof(input));
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "capacity 1"));
	ck_assert_ptr_nonnull(strstr(text, "#0 insert req0 asking 3 bytes, deadline tick none -> waiter 0/0"));
	ck_assert_ptr_nonnull(strstr(text, "#1 (drain) stage waiter 0/0 -> Submit"));
	ck_assert_ptr_nonnull(strstr(text, "#2 (drain) op CQE for waiter 0/0 res -125 -> Complete"));
	free(text);
}
END_TEST

static Suite *fuzz_history_suite(void)
{
	Suite *s = suite_create("fuzz_history");
	TCase *tc = tcase_create("decoder");

	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_history_empty_input_is_empty);
	tcase_add_test(tc, test_history_random_inputs_are_kernel_legal);
	tcase_add_test(tc, test_history_print_in_words);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(fuzz_history_suite());
}
