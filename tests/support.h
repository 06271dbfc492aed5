/* tests/support.h: shared plumbing for the check suites.
 *
 * Owns: the suite runner (fork mode, TAP on stdout for meson's `tap`
 * protocol), the fd-leak fixture, the expected-invariant check, and a skip
 * helper for machines without io_uring.
 *
 * Invariants: every suite runs each test in its own forked child (signal,
 * exit and timeout tests need it) -- unless CK_FORK=no is set, which check
 * honours: then the whole suite runs in one process (for a debugger), and
 * the tests that need fork mode are left out with a TAP diagnostic naming
 * them, never run wrongly (this header routes check's
 * tcase_add_test_raise_signal() and tcase_add_exit_test() through
 * iouw_test_add(), so every suite gets that without changes); every test
 * case that uses iouw_test_add_fd_fixture() fails if a test leaves an fd
 * open.
 */
#ifndef IOUW_TEST_SUPPORT_H
#define IOUW_TEST_SUPPORT_H

#include <check.h>
#include <stdbool.h>

/* Run @s, TAP to stdout, and return the process exit status: in fork mode,
 * or in one process when the environment says CK_FORK=no (first printing
 * "# CK_FORK=no: ..." with the tests left out). */
int iouw_test_run_suite(Suite *s);

/* Whether tests run in forked children: false only under CK_FORK=no. */
bool iouw_test_fork_mode(void);

/* Register @ttest in @tc expecting @signal or exit status @exit_value (both
 * 0: a plain test). Under CK_FORK=no a signal or exit test is not
 * registered (it would kill the whole run, or pass without its check) but
 * remembered for the diagnostic. */
void iouw_test_add(TCase *tc, const TTest *ttest, int signal, int exit_value);

/* How many tests iouw_test_add() left out (CK_FORK=no), so far. */
unsigned iouw_test_left_out(void);

#undef tcase_add_test_raise_signal
#define tcase_add_test_raise_signal(tc, ttest, signal) iouw_test_add((tc), (ttest), (signal), 0)
#undef tcase_add_exit_test
#define tcase_add_exit_test(tc, ttest, exit_value) iouw_test_add((tc), (ttest), 0, (exit_value))

/* Number of open fds of this process. */
int iouw_test_count_fds(void);

/* Add a checked fixture to @tc that fails the test when it leaks an fd. */
void iouw_test_add_fd_fixture(TCase *tc);

/* Arm the current (forked) test so that the only acceptable end is an
 * invariant report naming @name followed by SIGABRT. Any other report, or a
 * report naming another invariant, makes the child exit with status 3
 * instead, which check records as a failure of a raise_signal test. Call it
 * at the top of a test registered with tcase_add_test_raise_signal(...,
 * SIGABRT). */
void iouw_test_expect_invariant(const char *name);

/* Fork, run @fn(@arg) in the child, and return true when the child died of
 * SIGABRT after reporting the invariant @name (and nothing else went wrong).
 * For seed tests that check a panic in the middle of a longer test. */
bool iouw_test_aborts_with(const char *name, void (*fn)(void *arg), void *arg);

/* For the very top of a suite's main(): when io_uring is unavailable here
 * (iouw_uring_available() fails with an error iouw_uring_unavailable()
 * accepts), print `1..0 # SKIP io_uring unavailable: <strerror>` and
 * exit(0), which meson's TAP protocol records as a skip; when it fails
 * otherwise (-EMFILE, ...), print `Bail out! environment: ...` and exit(1). */
void iouw_test_require_io_uring(void);

#endif /* IOUW_TEST_SUPPORT_H */
