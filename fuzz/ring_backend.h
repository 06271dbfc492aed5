/* fuzz/ring_backend.h: the `ring` fuzz target's scripted kernel
 * (core/skernel.h) over a REAL io_uring ring in inject mode.
 *
 * Owns: nothing but its setup: one ring with a small CQ (16 entries, so the
 * kernel's overflow list is exercised), the injection method probed once
 * (NOP injection, else MSG_RING; core/skernel.h says how each posts), and a
 * scripted kernel over it whose SQ each history resizes.
 *
 * What reaches the kernel: nothing the loop stages (the scripted kernel
 * captures every SQE); only the history's CQEs, one carrier SQE each.
 *
 * Lifetime: create once per process (iouw_fz_ring_new); each input resets
 * the kernel (fuzz/loop_run.h), which throws away CQEs nobody reaped. Not
 * thread-safe.
 */
#ifndef IOUW_FUZZ_RING_BACKEND_H
#define IOUW_FUZZ_RING_BACKEND_H

#include <stdio.h>

#include "loop_run.h"

/* Set up the ring and probe how to inject CQEs: 0 and the scripted kernel,
 * or the -errno that says io_uring (or any injection method) is
 * unavailable here. */
int iouw_fz_ring_new(struct iouw_backend **ret);

/* The ring target's printer for iouwait-decode: the history is the loop
 * target's (same decoder), printed by running it on the in-memory ring. */
void iouw_ring_history_print(FILE *out, const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_RING_BACKEND_H */
