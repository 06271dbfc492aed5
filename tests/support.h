/* tests/support.h: shared plumbing for the check suites.
 *
 * Owns: the suite runner (fork mode, TAP on stdout for meson's `tap`
 * protocol), the fd-leak fixture, the expected-invariant check, and a skip
 * helper for machines without io_uring.
 *
 * Invariants: every suite runs each test in its own forked child (signal,
 * exit and timeout tests need it); every test case that uses
 * iouw_test_add_fd_fixture() fails if a test leaves an fd open.
 */
#ifndef IOUW_TEST_SUPPORT_H
#define IOUW_TEST_SUPPORT_H

#include <check.h>
#include <stdbool.h>

/* Run @s in fork mode, TAP to stdout, and return the process exit status. */
int iouw_test_run_suite(Suite *s);

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
