/* fuzz/environment.c: see environment.h. */
#include "environment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool iouw_fuzz_env_error(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOMEM || err == -ENOBUFS ||
	       err == -EAGAIN;
}

void iouw_fuzz_env_report(const char *target, const char *what, int err)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg),
	                 "%s: environment: %s: %s (input skipped, not a finding)\n", target, what,
	                 err < 0 && err > -4096 ? strerror(-err) : "unknown error");

	/* One write(2): nothing stays in a stdio buffer if _exit() follows. */
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n
	                                                               : sizeof(msg) - 1) < 0)
		return;
}

void iouw_fuzz_env_exit(const char *target, const char *what, int err)
{
	iouw_fuzz_env_report(target, what, err);
	fflush(stdout);
	_exit(IOUW_FUZZ_EXIT_ENVIRONMENT);
}
