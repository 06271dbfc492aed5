/* core/invariant.c: reporting of broken invariants (see invariant.h).
 *
 * Invariant: the message is formatted into a stack buffer and written with
 * one write(2) before abort(), so it is never lost in a stdio buffer and
 * never interleaved with another thread's report. The optional hook
 * (invariant.h) runs first and is a link-time symbol, not core state. */
#include "invariant.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void iouw_invariant_failed(const char *name, const char *file, int line)
{
	char msg[512];
	int n;

	if (iouw_invariant_hook)
		iouw_invariant_hook(name, file, line);
	n = snprintf(msg, sizeof(msg), "iouwait: invariant violated: %s (%s:%d)\n", name, file,
	             line);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	/* Best effort: nothing useful can be done if stderr is gone. */
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		n = 0;
	abort();
}
