/* fuzz/environment.h: the contract between fuzz targets and their drivers
 * for ENVIRONMENT failures.
 *
 * Owns: the classification of environment errors, the one-line report, and
 * the two ways out (skip the input, or exit when no unwinding is possible).
 *
 * An input can fail for reasons outside the code
 * under test -- the process is out of fds (EMFILE, ENFILE), memory
 * (ENOMEM, ENOBUFS) or a kernel resource (EAGAIN), for example under
 * `ulimit -n 8`. They are never findings: the target prints one line
 *   "<target>: environment: <what>: <strerror> (input skipped, not a finding)"
 * (iouw_fuzz_env_report), undoes what it built and returns
 * IOUW_FUZZ_SKIPPED (-1) from LLVMFuzzerTestOneInput, which libFuzzer
 * takes as "do not keep this input" (no crash file) and AFL++ ignores. The
 * replay driver runs the remaining inputs and exits
 * IOUW_FUZZ_EXIT_ENVIRONMENT (77: SKIP under meson's exitcode protocol)
 * unless a path was unreadable (1). Where the failure is met inside a core
 * call and cannot be unwound, iouw_fuzz_env_exit() reports it and _exit()s
 * with 77 at once (the half-built state is abandoned, so no leak report;
 * under libFuzzer this ends the campaign, still without a crash file).
 * Anything else a target meets is an oracle mismatch or a crash.
 */
#ifndef IOUW_FUZZ_ENVIRONMENT_H
#define IOUW_FUZZ_ENVIRONMENT_H

#include <stdbool.h>

/* What a target returns for an input skipped for the environment. */
#define IOUW_FUZZ_SKIPPED (-1)
/* The replay driver's exit status when an input was skipped so. */
#define IOUW_FUZZ_EXIT_ENVIRONMENT 77

/* Whether the negative errno @err is an environment failure: -EMFILE,
 * -ENFILE, -ENOMEM, -ENOBUFS, -EAGAIN. */
bool iouw_fuzz_env_error(int err);

/* Print the one-line environment report for @target (its name, e.g.
 * "fuzz_request"): what failed (@what) and -@err. */
void iouw_fuzz_env_report(const char *target, const char *what, int err);

/* iouw_fuzz_env_report(), then _exit(IOUW_FUZZ_EXIT_ENVIRONMENT). */
__attribute__((noreturn)) void iouw_fuzz_env_exit(const char *target, const char *what, int err);

#endif /* IOUW_FUZZ_ENVIRONMENT_H */
