/* tests/test_support.c: the suite runner of tests/support.h itself, run
 * twice by meson: as is (fork mode: every test in its own child) and with
 * CK_FORK=no (the whole suite in this one process, for a debugger; the
 * tests that need fork mode left out and named in a TAP diagnostic).
 *
 * Each test asserts the mode it actually ran in, from facts check cannot
 * fake: the pid the test body runs under, and whether a static written by
 * an earlier test is still visible (a forked child's write never reaches
 * the next test). The signal test below would kill a CK_FORK=no run if it
 * were registered there, so that run passing proves it was left out.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "invariant.h"
#include "support.h"

static pid_t runner_pid;
static int written_by_first_test;

START_TEST(test_support_runs_in_the_mode_ck_fork_asks_for)
{
	if (iouw_test_fork_mode())
		ck_assert_int_ne(getpid(), runner_pid);
	else
		ck_assert_int_eq(getpid(), runner_pid);
	written_by_first_test = 1;
}
END_TEST

START_TEST(test_support_state_is_shared_only_without_fork)
{
	/* Registered after the test above, so it runs after it. */
	ck_assert_int_eq(written_by_first_test, iouw_test_fork_mode() ? 0 : 1);
}
END_TEST

START_TEST(test_support_fork_only_tests_are_left_out_without_fork)
{
	ck_assert_uint_eq(iouw_test_left_out(), iouw_test_fork_mode() ? 0 : 2);
}
END_TEST

/* Needs fork mode: it ends in SIGABRT. */
START_TEST(test_support_expected_invariant_needs_fork)
{
	iouw_test_expect_invariant("support test invariant");
	iouw_invariant_failed("support test invariant", __FILE__, __LINE__);
}
END_TEST

/* Needs fork mode: it ends the process. */
START_TEST(test_support_exit_test_needs_fork)
{
	exit(5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("support");
	TCase *tc = tcase_create("runner");

	runner_pid = getpid();
	tcase_add_test(tc, test_support_runs_in_the_mode_ck_fork_asks_for);
	tcase_add_test(tc, test_support_state_is_shared_only_without_fork);
	tcase_add_test_raise_signal(tc, test_support_expected_invariant_needs_fork, SIGABRT);
	tcase_add_exit_test(tc, test_support_exit_test_needs_fork, 5);
	tcase_add_test(tc, test_support_fork_only_tests_are_left_out_without_fork);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
