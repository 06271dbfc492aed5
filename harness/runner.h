/* harness/runner.h: replay a parsed scenario against a real io_uring ring
 * (docs/scenarios.md §7, docs/kernel.md §8), in one of two modes, and say exactly where
 * reality departed from the script.
 *
 * Owns: one run's world: the fds and temp files a script creates, the loop
 * (core/loop.h) on a scripting backend wrapped around a real ring
 * (core/uring_backend.h), a virtual clock, the requests and their handles,
 * the normalised event log and its hash.
 *
 * Modes:
 *   kernel  SQEs go to the kernel; `cqe` lines are expectations about the
 *           CQEs the kernel posts, in order (peeked in the CQ without
 *           consuming them, waiting up to cqe_timeout_ns for each).
 *   inject  SQEs are captured, never submitted; every `cqe` line is posted
 *           through the real ring, in script order, with IORING_OP_NOP +
 *           IORING_NOP_INJECT_RESULT (fallback: IORING_OP_MSG_RING aimed at
 *           the ring itself); data a positive RECV/READ/SEND/WRITE result
 *           implies is moved by the harness so buffers match kernel mode.
 * In both modes the loop only ever reaps CQEs the script has named, so
 * both modes drive the core through the same sequence of states.
 *
 * Invariants: a run releases everything it created (fds, temp files, the
 * ring, buffers) on every path; the event log never contains addresses or
 * fd numbers, so the hash of an inject-mode run is a pure function of the
 * script. Not thread-safe; no global state.
 */
#ifndef IOUW_RUNNER_H
#define IOUW_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario.h"

enum iouw_run_mode {
	IOUW_RUN_KERNEL = 1,
	IOUW_RUN_INJECT = 2,
};

enum iouw_verdict {
	IOUW_VERDICT_PASS = 0,
	IOUW_VERDICT_FAIL = 1,
	IOUW_VERDICT_SKIP = 2,
	/* The environment failed the run (out of memory or fds, io_uring
	 * setup failing for a reason other than unavailability): neither a
	 * pass nor a departure from the script. Reason "environment: ...". */
	IOUW_VERDICT_ERROR = 3,
};

struct iouw_run_options {
	enum iouw_run_mode mode;
	/* Where the failure timeline goes (NULL: nowhere). */
	FILE *report;
	/* Kernel mode: write the inject-mode scenario of what the kernel did
	 * here (NULL: do not record). Written only when the run passes. */
	FILE *record;
	/* Kernel mode: how long to wait for each CQE (0: 2 s). */
	uint64_t cqe_timeout_ns;
	/* Inject mode: force IORING_OP_MSG_RING even where NOP injection works. */
	bool force_msg_ring;
	/* Inject mode: which branch of every either block to take (0-based;
	 * blocks with fewer branches take their last). */
	unsigned inject_branch;
	/* Print the whole event log, not only on failure. */
	bool verbose;
};

struct iouw_run_result {
	enum iouw_verdict verdict;
	uint64_t hash;     /* FNV-1a 64 of the normalised event log */
	int fail_line;     /* script line that departed (FAIL), else 0 */
	char reason[512];  /* FAIL/SKIP: one line */
	char inject_via[12]; /* inject mode: "nop" or "msg_ring", else "" */
	/* Kernel mode: the branch the kernel took in each either block the run
	 * entered, in order, as "LINE:BRANCH" (1-based) joined by ',', for
	 * example "14:1,31:2"; "" when none; ends in ",..." when cut short. */
	char branches[160];
};

/* Run @s in @o->mode. Returns 0 with *ret filled (PASS, FAIL, SKIP or
 * ERROR: SKIP when io_uring is unavailable by iouw_uring_unavailable(), when
 * no CQE injection works, or when the scenario does not apply to the mode;
 * ERROR when the environment failed the run, an allocation included: a run
 * never passes with a log entry missing); -EINVAL for bad arguments,
 * -ENOMEM when the run could not even be set up. Never
 * aborts for a script's sake, but an unexpected broken invariant in the core
 * aborts the process (run it in a child to report that). */
int iouw_scenario_run(const struct iouw_scenario *s, const struct iouw_run_options *o,
                      struct iouw_run_result *ret);

/* The most branches any either block of @s has (1 when it has none): the
 * number of inject-mode variants that cover every scripted order. */
unsigned iouw_scenario_branch_variants(const struct iouw_scenario *s);

/* Run @s in kernel mode and write the inject-mode scenario of what the kernel
 * did to @out_path through harness/outfile.h: only a regular file (or
 * nothing) at @out_path is replaced, with mode 0666 minus the umask, and
 * only when the run passed; otherwise nothing is left behind.
 * @o supplies report/timeouts (its mode and record fields are ignored).
 * Returns 0 with *ret (PASS: written; FAIL/SKIP/ERROR: nothing written), or
 * a -errno when the output was refused or could not be created or renamed.
 * (The `iouwait record` command runs the kernel run in a child and places
 * the file from the parent, with the same module.) */
int iouw_scenario_record(const struct iouw_scenario *s, const char *out_path,
                         const struct iouw_run_options *o, struct iouw_run_result *ret);

/* FNV-1a 64 over @len bytes, continuing from @h (start: IOUW_FNV_OFFSET). */
#define IOUW_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
uint64_t iouw_fnv1a(uint64_t h, const void *data, size_t len);

#endif /* IOUW_RUNNER_H */
