/* fuzz/replay.h: run a fuzz target's LLVMFuzzerTestOneInput over files,
 * without a fuzz engine (systemd's fuzz-main.c style).
 *
 * Owns: iouw_fuzz_replay(), shared by the standalone replay driver
 * (replay_main.c) and the AFL++ driver's non-persistent path (afl_main.c).
 *
 * A target returning IOUW_FUZZ_SKIPPED (environment.h) makes the driver
 * exit IOUW_FUZZ_EXIT_ENVIRONMENT once every input ran.
 */
#ifndef IOUW_FUZZ_REPLAY_H
#define IOUW_FUZZ_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "environment.h"

/* Every fuzz target defines this (libFuzzer's entry point). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For each path in @paths: a regular file is read and run once; a
 * directory runs every regular file in it, in name order. A path that
 * cannot be read prints "<prog>: <path>: <reason>" and makes the result 1
 * (the other paths still run). Returns 0 when every input ran, else 1 as
 * said, else IOUW_FUZZ_EXIT_ENVIRONMENT when an input was skipped for the
 * environment (the target returned IOUW_FUZZ_SKIPPED, or the driver itself
 * ran out of memory for an input). */
int iouw_fuzz_replay(const char *prog, int npaths, char **paths);

/* True once iouw_fuzz_replay() runs (the replay driver, or AFL++'s file
 * mode): a target that cannot run here may then exit(77), which meson's
 * exitcode protocol reports as SKIP. False under libFuzzer. */
extern bool iouw_fuzz_replaying;

#endif /* IOUW_FUZZ_REPLAY_H */
