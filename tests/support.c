/* tests/support.c: see support.h. */
#define _GNU_SOURCE
#include "support.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

bool iouw_test_fork_mode(void)
{
	const char *env = getenv("CK_FORK");

	/* check's own reading of CK_FORK: only "no" means no fork. */
	return !(env && strcmp(env, "no") == 0);
}

/* Tests left out under CK_FORK=no, for the diagnostic. */
static const char *left_out[64];
static unsigned nleft_out;

void iouw_test_add(TCase *tc, const TTest *ttest, int signal, int exit_value)
{
	if ((signal || exit_value) && !iouw_test_fork_mode()) {
		if (nleft_out < sizeof(left_out) / sizeof(left_out[0]))
			left_out[nleft_out] = ttest->name;
		nleft_out++;
		return;
	}
	_tcase_add_test(tc, ttest, signal, exit_value, 0, 1);
}

unsigned iouw_test_left_out(void)
{
	return nleft_out;
}

int iouw_test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	/* Fork mode unless CK_FORK is set: then check reads it itself
	 * (CK_FORK_GETENV, its default). */
	if (!getenv("CK_FORK"))
		srunner_set_fork_status(sr, CK_FORK);
	if (nleft_out > 0) {
		printf("# CK_FORK=no: %u test(s) need fork mode (signal or exit tests) and are "
		       "left out:",
		       nleft_out);
		for (unsigned i = 0; i < nleft_out && i < sizeof(left_out) / sizeof(left_out[0]); i++)
			printf(" %s", left_out[i]);
		printf("\n");
		fflush(stdout);
	}
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int iouw_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "cannot open /proc/self/fd");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static int fds_at_setup = -1;

static void fd_setup(void)
{
	fds_at_setup = iouw_test_count_fds();
}

static void fd_teardown(void)
{
	int now = iouw_test_count_fds();

	ck_assert_msg(now == fds_at_setup, "fd leak: %d open before the test, %d after",
	              fds_at_setup, now);
}

void iouw_test_add_fd_fixture(TCase *tc)
{
	tcase_add_checked_fixture(tc, fd_setup, fd_teardown);
}

/* State of an armed expect_invariant(): the memfd standing in for stderr,
 * the real stderr, and the invariant name to look for. */
static int captured_fd = -1;
static int real_stderr = -1;
static const char *expected_name;

/* Whether the captured stderr holds exactly one invariant report, naming
 * expected_name, and no sanitizer report. */
static bool captured_report_matches(int fd, const char *name)
{
	char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char want[512];

	if (n <= 0)
		return false;
	buf[n] = '\0';
	snprintf(want, sizeof(want), "iouwait: invariant violated: %s (", name);
	if (!strstr(buf, want))
		return false;
	if (strstr(buf, "Sanitizer") || strstr(buf, "runtime error"))
		return false;
	return true;
}

static void on_abort(int sig)
{
	bool ok = captured_report_matches(captured_fd, expected_name);
	char buf[4096];
	ssize_t n = pread(captured_fd, buf, sizeof(buf), 0);

	/* Echo what was captured so a failing test shows it. */
	if (real_stderr >= 0 && n > 0 && write(real_stderr, buf, (size_t)n) < 0)
		n = 0;
	if (!ok)
		_exit(3);
	signal(sig, SIG_DFL);
	raise(sig);
}

void iouw_test_expect_invariant(const char *name)
{
	expected_name = name;
	captured_fd = memfd_create("iouw-stderr", MFD_CLOEXEC);
	ck_assert_msg(captured_fd >= 0, "memfd_create failed");
	real_stderr = dup(STDERR_FILENO);
	ck_assert_msg(real_stderr >= 0, "dup(stderr) failed");
	ck_assert_msg(dup2(captured_fd, STDERR_FILENO) == STDERR_FILENO, "dup2 failed");
	ck_assert_msg(signal(SIGABRT, on_abort) != SIG_ERR, "cannot install SIGABRT handler");
}

bool iouw_test_aborts_with(const char *name, void (*fn)(void *arg), void *arg)
{
	int fd = memfd_create("iouw-child-stderr", MFD_CLOEXEC);
	int status = 0;
	bool ok;
	pid_t pid;

	ck_assert_msg(fd >= 0, "memfd_create failed");
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork failed");
	if (pid == 0) {
		if (dup2(fd, STDERR_FILENO) < 0)
			_exit(4);
		fn(arg);
		_exit(0); /* returned: no invariant fired */
	}
	ck_assert_msg(waitpid(pid, &status, 0) == pid, "waitpid failed");
	ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
	     captured_report_matches(fd, name);
	if (!ok) {
		char buf[4096];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "expected invariant '%s'; child status 0x%x; stderr: %s\n", name,
		        status, buf);
	}
	close(fd);
	return ok;
}

#include "uring_backend.h"

void iouw_test_require_io_uring(void)
{
	int err = iouw_uring_available();

	if (err == 0)
		return;
	if (iouw_uring_unavailable(err)) {
		printf("1..0 # SKIP io_uring unavailable: %s\n", strerror(-err));
		fflush(stdout);
		exit(0);
	}
	/* Broken, not unavailable (README, "Skip policy"): fail loudly. */
	printf("Bail out! environment: io_uring setup failed: %s\n", strerror(-err));
	fflush(stdout);
	exit(1);
}
