/* fuzz/ring_backend.h: the `ring` fuzz target's io (fuzz/loop_run.h's
 * struct iouw_lr_io) over a REAL io_uring ring in inject mode.
 *
 * Owns: one ring (core/uring_backend.h), its probe result, an emulated SQ
 * of the size the history asks for, and the log of SQEs the loop submitted.
 *
 * What reaches the kernel: nothing the loop stages. Every SQE the loop
 * pushes is captured here and never given to the kernel (the history's fake
 * kernel answers it). The history's CQEs are posted through the ring, one
 * per submit, with IORING_OP_NOP + IORING_NOP_INJECT_RESULT (result in
 * sqe->len; never IO_LINK or IO_DRAIN, docs/kernel.md §8), or, where the kernel lacks
 * NOP injection, with IORING_OP_MSG_RING aimed at the ring itself
 * (IOSQE_CQE_SKIP_SUCCESS, so only the message lands). The loop reaps them
 * through the uring backend's reap, overflow list included (the ring's CQ
 * is small on purpose: 16 entries).
 *
 * Lifetime: create once per process (iouw_fz_ring_new); each input opens
 * and closes the io, which resets the SQ and the log and throws away CQEs
 * nobody reaped. Not thread-safe.
 */
#ifndef IOUW_FUZZ_RING_BACKEND_H
#define IOUW_FUZZ_RING_BACKEND_H

#include <stdio.h>

#include "loop_run.h"

struct iouw_fz_ring;

/* Set up the ring and probe how to inject CQEs: 0, or the -errno that says
 * io_uring (or any injection method) is unavailable here. */
int iouw_fz_ring_new(struct iouw_fz_ring **ret);

/* The io over @r. */
const struct iouw_lr_io *iouw_fz_ring_io(struct iouw_fz_ring *r);

/* "nop-inject" or "msg-ring". */
const char *iouw_fz_ring_mode(const struct iouw_fz_ring *r);

/* The ring target's printer for iouwait-decode: the history is the loop
 * target's (same decoder), printed by running it on the in-memory ring. */
void iouw_ring_history_print(FILE *out, const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_RING_BACKEND_H */
