/* core/invariant.h: the one way the core reports a broken invariant.
 *
 * Owns: IOUW_INVARIANT(), the single reporting macro, and
 * iouw_invariant_failed(), the function behind it.
 *
 * Invariants: a broken invariant never returns. The report is one line on
 * stderr, "iouwait: invariant violated: <name> (<file>:<line>)", written with
 * a single write(2) so it survives a forked child and an abort, followed by
 * abort(). <name> is a stable, human-readable string; tests and the harness
 * match it to know *which* invariant fired, so renaming one is an interface
 * change.
 *
 * Broken invariants are programming errors or impossible kernel behaviour
 * (a "panic", docs/README.md §1.2); recoverable conditions are negative errno returns instead.
 *
 * Hook (link time, no state in core): an executable may define
 * iouw_invariant_hook(); iouw_invariant_failed() calls it with the name
 * before the report. If it returns, the report and abort() follow as
 * always. The request fuzz target defines it to accept the one invariant a
 * hostile CQE must fire and unwind to its checker (fuzz/request_check.c);
 * every other executable leaves it undefined (a weak NULL).
 */
#ifndef IOUW_INVARIANT_H
#define IOUW_INVARIANT_H

#include <stdbool.h>

/* Report the invariant @name as broken at @file:@line and abort(). */
__attribute__((noreturn, cold)) void iouw_invariant_failed(const char *name, const char *file,
                                                           int line);

/* Optional, defined by an executable (see above); may not return. */
__attribute__((weak)) void iouw_invariant_hook(const char *name, const char *file, int line);

/* Abort through iouw_invariant_failed() unless @cond holds. @name must be a
 * string literal naming the invariant (for example "stage called for
 * untracked waiter"). The check is never compiled out. */
#define IOUW_INVARIANT(cond, name)                                   \
	do {                                                         \
		if (__builtin_expect(!(cond), 0))                    \
			iouw_invariant_failed((name), __FILE__, __LINE__); \
	} while (0)

#endif /* IOUW_INVARIANT_H */
