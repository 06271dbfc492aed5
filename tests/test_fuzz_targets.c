/* tests/test_fuzz_targets.c: the request and loop fuzz targets
 * (fuzz/request_check.h, fuzz/loop_run.h) on a broad deterministic sample of
 * inputs, so a false positive of an oracle (a kernel-legal history that
 * reaches a mismatch or an invariant abort on correct code) fails the unit
 * suite, not only a fuzz campaign. Also pins the request printer's words for
 * a hand-encoded input, HOSTILE request histories (every FATAL step's
 * invariant fires, on correct code all pass), and an environment failure
 * (RLIMIT_NOFILE) turning into a clean skip. The `ring` target shares the
 * loop code; its real-ring path runs in the fuzz-regress suite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../fuzz/environment.h"
#include "invariant.h"
#include "../fuzz/loop_run.h"
#include "../fuzz/request_check.h"
#include "../fuzz/request_history.h"
#include "../fuzz/request_spec.h"
#include "support.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* @n inputs of up to @max bytes, biased towards small action numbers now
 * and then so histories stay busy. */
static void random_inputs(unsigned n, size_t max, void (*run)(const uint8_t *, size_t))
{
	uint8_t *buf = malloc(max);

	ck_assert_ptr_nonnull(buf);
	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < n; i++) {
		size_t len = (size_t)(rng() % (max + 1));

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)(i % 3 == 0 ? rng() % 8 : rng());
		run(buf, len);
	}
	free(buf);
}

/* Legal histories only (header bit 7 cleared): the hostile ones have their
 * own test below. */
static void run_request(const uint8_t *data, size_t size)
{
	uint8_t legal[400];

	ck_assert_uint_le(size, sizeof(legal));
	memcpy(legal, data, size);
	if (size)
		legal[size - 1] &= 0x7f;
	ck_assert_int_eq(iouw_request_history_check(legal, size), 0);
}

static void run_loop(const uint8_t *data, size_t size)
{
	ck_assert_int_eq(iouw_loop_history_run("test_loop", NULL, data, size, NULL), 0);
}

START_TEST(test_request_target_random_histories_pass)
{
	random_inputs(1500, 400, run_request);
}
END_TEST

START_TEST(test_loop_target_random_histories_pass)
{
	random_inputs(600, 400, run_loop);
}
END_TEST

START_TEST(test_request_history_prints_in_words)
{
	/* Tail first: capacity 1, new (action 0) sync (kind 4), stage
	 * (action 2), op CQE (action 3) with result class 4 (zero). */
	static const uint8_t input[] = { 4, 3, 2, 4, 0, 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	iouw_request_history_print(out, input, sizeof(input));
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "table capacity 1"));
	ck_assert_ptr_nonnull(strstr(text, "#0 new req0: sync -> inserted"));
	ck_assert_ptr_nonnull(strstr(text, "#1 stage req0 -> Submit FSYNC"));
	ck_assert_ptr_nonnull(strstr(text, "res 0 (Zero) -> Complete; caller gets ok"));
	ck_assert_ptr_nonnull(strstr(text, "end: 3 steps, 1 requests, all ended"));
	free(text);
	ck_assert_int_eq(iouw_request_history_check(input, sizeof(input)), 0);
}
END_TEST

/* HOSTILE mode (header bits 6-7): random histories with hostile results pass
 * on correct code -- every FATAL step's invariant fires in its child, every
 * other hostile result meets its defined outcome -- and the sample really
 * holds both kinds of step. */
START_TEST(test_request_target_hostile_histories_pass)
{
	static struct iouw_request_history h;
	uint8_t buf[300];
	unsigned fatal = 0, hostile = 0, fatal_cancel = 0;

	rng_state = 0x2545f4914f6cdd1dull;
	for (unsigned i = 0; i < 200; i++) {
		size_t len = 1 + (size_t)(rng() % sizeof(buf));
		struct iouw_rh_step step;

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rng();
		buf[len - 1] |= 0xc0;
		iouw_request_history_init(&h, buf, len);
		if (!h.hostile)
			ck_abort_msg("input %u: header bits 6-7 did not select hostile mode", i);
		bool ended = false;

		while (iouw_request_history_next(&h, &step)) {
			if (ended)
				ck_abort_msg("input %u: a step after the FATAL one", i);
			ended = step.out == IOUW_RH_OUT_FATAL;
			fatal += step.out == IOUW_RH_OUT_FATAL;
			fatal_cancel += step.out == IOUW_RH_OUT_FATAL &&
			                step.kind == IOUW_RH_CANCEL_CQE;
			hostile += step.hostile && step.out != IOUW_RH_OUT_FATAL;
		}
		if (iouw_request_history_check(buf, len) != 0)
			ck_abort_msg("input %u: skipped", i);
	}
	ck_assert_uint_gt(fatal, 20);
	ck_assert_uint_gt(fatal_cancel, 0);
	ck_assert_uint_gt(hostile, 20);
	/* With one of bits 6-7 clear the header is a legal history: capacity
	 * bits only, as before hostile mode existed. */
	buf[0] = 0x7f;
	iouw_request_history_init(&h, buf, 1);
	ck_assert(!h.hostile);
	ck_assert_uint_eq(h.capacity, 4);
	buf[0] = 0xbd;
	iouw_request_history_init(&h, buf, 1);
	ck_assert(!h.hostile);
	ck_assert_uint_eq(h.capacity, 2);
}
END_TEST

/* The request target defines core's invariant hook; with no FATAL step
 * armed it must hand every invariant back to the usual report and abort(). */
static void fire_unarmed(void *arg)
{
	(void)arg;
	iouw_invariant_failed("test invariant nobody armed", __FILE__, __LINE__);
}

START_TEST(test_request_target_hook_passes_unarmed_invariants)
{
	ck_assert(iouw_test_aborts_with("test invariant nobody armed", fire_unarmed, NULL));
}
END_TEST

/* An environment failure is no finding: with room for exactly one more fd,
 * the second request's dup fails with EMFILE and the input is skipped
 * (IOUW_FUZZ_SKIPPED), everything it built released (the fd fixture and
 * LSan check), instead of an "oracle mismatch" abort. */
START_TEST(test_request_target_environment_failure_skips)
{
	/* Tail first: capacity 4, then action 0 (new) with all-zero
	 * parameters, again and again. */
	uint8_t input[64] = { 0 };
	struct rlimit old, tight;
	int lowest = dup(0);
	int rc;

	input[sizeof(input) - 1] = 3;
	ck_assert_int_ge(lowest, 0);
	close(lowest);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = old;
	tight.rlim_cur = (rlim_t)lowest + 1;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
	rc = iouw_request_history_check(input, sizeof(input));
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_int_eq(rc, IOUW_FUZZ_SKIPPED);
	/* The same input with room to spare runs to the end. */
	ck_assert_int_eq(iouw_request_history_check(input, sizeof(input)), 0);
	ck_assert(iouw_fuzz_env_error(-EMFILE) && iouw_fuzz_env_error(-ENOMEM) &&
	          iouw_fuzz_env_error(-EAGAIN) && !iouw_fuzz_env_error(-EINVAL) &&
	          !iouw_fuzz_env_error(0));
}
END_TEST

/* The targets keep one /dev/null and the /proc/self/fd directory of their
 * fd count open for the whole process: open both before the fd-leak
 * fixture counts. */
static void open_source_fd(void)
{
	ck_assert_int_ge(iouw_rs_source_fd(), 0);
	ck_assert_int_ge(iouw_rs_count_fds(), 0);
}

int main(void)
{
	Suite *s = suite_create("fuzz_targets");
	TCase *tc = tcase_create("fuzz_targets");

	tcase_add_unchecked_fixture(tc, open_source_fd, NULL);
	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_request_target_random_histories_pass);
	tcase_add_test(tc, test_loop_target_random_histories_pass);
	tcase_add_test(tc, test_request_history_prints_in_words);
	tcase_add_test(tc, test_request_target_hostile_histories_pass);
	tcase_add_test(tc, test_request_target_environment_failure_skips);
	tcase_add_test(tc, test_request_target_hook_passes_unarmed_invariants);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
