/* fuzz/kernel_model.h: the ONE model of what the kernel may answer to the
 * SQEs the loop submits (docs/kernel.md §8), used by every fuzz target that
 * plays the kernel (waiter, request, loop, ring) and by
 * scripts/check-kernel-model, which holds it against recordings of the real
 * kernel, and by the scenario harness, which judges every CQE a script
 * injects or the kernel posts by it (harness/kmodel_judge.h). It builds as
 * its own library, libiouw_kmodel (top-level meson.build: this file and
 * provider.c, nothing else of fuzz/ or harness/). It stays in fuzz/, not
 * core/: it is test knowledge of what a kernel may answer; the core only
 * acts on what the kernel did.
 *
 * Owns: struct iouw_km (the SQEs the kernel holds and what each may still
 * answer), the legality check of one CQE (iouw_km_check: NULL, or the name
 * of the HOSTILE rule it breaks), and the draws: a legal answer
 * (iouw_km_draw_op, iouw_km_draw_cancel) or a hostile one
 * (iouw_km_draw_hostile_op, iouw_km_draw_hostile_cancel) from fuzz bytes.
 *
 * SQEs (keyed by user_data; at most IOUW_KM_MAX outstanding):
 *   op     SEND, RECV, READ, WRITE, WRITEV, FSYNC asking `bytes` (FSYNC 0)
 *   cancel IORING_OP_ASYNC_CANCEL aimed at an op's user_data
 *   wake   the loop's POLL_ADD on its eventfd (IOUW_WAKE_USER_DATA)
 *
 * LEGAL rules (each with its source):
 *   K1 every SQE gets exactly one CQE, and only after it was submitted
 *      (docs/kernel.md §8.2; io_uring/io_uring.c: one io_kiocb, one
 *      completion; none of these ops is multishot).
 *   K2 CQEs of different SQEs come in any order: the kernel completes
 *      independent requests as they finish, inline, by task work or from
 *      io-wq (docs/kernel.md §8.3, "cancel -EALREADY *before* the op CQE",
 *      "-ENOENT posted before the successful op CQE").
 *   K3 an op's result is 0, 1..bytes (a partial transfer, docs/kernel.md §8.2:
 *      "RECV of 8 when the peer wrote 3"; 0 at EOF or peer closed) or
 *      any errno -4095..-1 (include/linux/err.h MAX_ERRNO; io_uring posts
 *      the op's -errno). FSYNC never reports bytes: 0 or an errno
 *      (io_uring/sync.c io_fsync: vfs_fsync_range's 0/-errno).
 *   K4 an op may complete -ECANCELED although the loop never cancelled it:
 *      the kernel cancels a task's requests when it exits, and other
 *      cancellers (cancel by fd, another ring matching the user_data) hit
 *      it (docs/kernel.md §8.3 last row; io_uring/cancel.c,
 *      io_uring/io_uring.c io_uring_cancel_generic).
 *   K5 a cancel answers 0, -EALREADY or -ENOENT (docs/kernel.md §8.1;
 *      io_uring/cancel.c io_async_cancel_one). Our cancel SQEs are valid,
 *      so -EINVAL (io_async_cancel_prep: unknown flags or fields) never
 *      comes (HOSTILE H5); a cancel SQE submitted as invalid (the harness's
 *      `cancel_flags=`, kernel_cancel_einval_panics.scn) answers -EINVAL
 *      and nothing else.
 *   K6 cancel 0 means this cancel found and cancelled the op: the op was in
 *      the kernel when the cancel was submitted, and its CQE (before or
 *      after the cancel CQE) is -ECANCELED (docs/kernel.md §8.2;
 *      io_uring/poll.c io_poll_cancel_req and io_uring/io-wq.c
 *      io_run_cancel complete the target -ECANCELED).
 *   K7 cancel -EALREADY: the op was running in io-wq when the cancel ran;
 *      it needs the op in the kernel at cancel submission, and the op then
 *      completes with any K3 result (docs/kernel.md §8.3: write_at,
 *      fsync, pipe read). Since an io-wq worker may post the op's CQE just
 *      before our cancel finds its work item, the model accepts -EALREADY
 *      also when the op CQE was seen first, if the cancel was submitted
 *      before that CQE was reaped.
 *   K8 cancel -ENOENT: the cancel found nothing (the op completed, its CQE
 *      maybe not yet posted: DEFER_TASKRUN, docs/kernel.md §8.3); always
 *      legal, and the op completes with any K3 result.
 *   K9 CQE flags: 0, except IORING_CQE_F_SOCK_NONEMPTY on a RECV
 *      (io_uring/net.c io_recv_finish sets it when more data waits).
 *   K10 the wake poll is a multishot POLL_ADD (core/wake.c): once the
 *      eventfd was written it posts a CQE whose res is a poll mask holding
 *      POLLIN with IORING_CQE_F_MORE (still armed), any number of times;
 *      a CQE without F_MORE (a mask, or an errno: -ECANCELED at task exit,
 *      -EOVERFLOW/CQ overflow ending the multishot) ends it
 *      (io_uring/poll.c). Whether a write happened is not tracked here.
 *
 * HOSTILE rules (a broken kernel; iouw_km_check returns the name):
 *   H1 "CQE for no outstanding SQE": a user_data never submitted, or a
 *      second CQE for one SQE (breaks K1).
 *   H2 "result above the bytes asked" (breaks K3).
 *   H3 "FSYNC reports bytes" (breaks K3).
 *   H4 "result below -4095 is no errno": INT32_MIN and friends (K3).
 *   H5 "cancel result outside 0/-EALREADY/-ENOENT": -EINVAL for our valid
 *      SQE, INT32_MIN, any other value (K5).
 *   H6 "cancel 0 but the op was not cancelled": the op answered anything
 *      but -ECANCELED, or was no longer in the kernel (K6).
 *   H7 "op not -ECANCELED after its cancel answered 0" (K6).
 *   H8 "cancel -EALREADY for an op not in the kernel" (K7).
 *   H9 "unexpected CQE flags" (F_MORE on a single-shot op, F_BUFFER
 *      without provided buffers, ...; K9).
 *   H10 "wake poll result without POLLIN", or F_MORE on an errno (K10).
 *
 * Draws: iouw_km_draw_op/iouw_km_draw_cancel give a K-legal result for an
 * outstanding SQE; they consume exactly what the legal choices need (none
 * when only one answer is legal, one bool for two, a pick among three), so
 * the fuzz inputs of the generators they replace keep their meaning.
 * Known gap: after the op completed -ECANCELED, a cancel submitted before
 * that is drawn as 0 (the check also accepts -ENOENT and -EALREADY there).
 * The hostile draws give values breaking H2-H5 (the caller decides when).
 */
#ifndef IOUW_FUZZ_KERNEL_MODEL_H
#define IOUW_FUZZ_KERNEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "provider.h"

#define IOUW_KM_MAX 1024 /* outstanding SQEs */

enum iouw_km_kind {
	IOUW_KM_OP = 0,
	IOUW_KM_CANCEL,
	IOUW_KM_WAKE,
};

/* What the target op was doing, seen from one outstanding cancel. */
enum iouw_km_target {
	IOUW_KM_T_ABSENT = 0,    /* not in the kernel when the cancel was submitted */
	IOUW_KM_T_IN_KERNEL,     /* in the kernel, no CQE yet */
	IOUW_KM_T_ECANCELED,     /* its CQE came since: -ECANCELED */
	IOUW_KM_T_COMPLETED,     /* its CQE came since: anything else */
	IOUW_KM_T_POSTED_UNREAPED, /* its CQE came before the cancel, not reaped then */
};

struct iouw_km_sqe {
	uint64_t ud;
	enum iouw_km_kind kind;
	uint8_t opcode;          /* op */
	uint32_t bytes;          /* op: bytes asked (FSYNC 0) */
	bool must_ecanceled;     /* op: a cancel answered 0 (K6) */
	uint64_t target;         /* cancel: the op's user_data */
	enum iouw_km_target tstate; /* cancel */
	bool invalid;            /* cancel: the SQE has unknown cancel flags (K5) */
};

struct iouw_km {
	struct iouw_km_sqe sqe[IOUW_KM_MAX];
	uint32_t n;
	/* Ops whose CQE was posted but not reaped yet (K7): user_data. */
	uint64_t unreaped[IOUW_KM_MAX];
	uint32_t nunreaped;
	uint64_t cqes, hostile; /* counters: CQEs posted, hostile ones */
};

void iouw_km_init(struct iouw_km *km);

/* The kernel took an SQE. 0, -EEXIST when @ud is outstanding already (a
 * caller bug, not the kernel's), -ENOSPC when IOUW_KM_MAX are. */
int iouw_km_submit_op(struct iouw_km *km, uint64_t ud, uint8_t opcode, uint32_t bytes);
int iouw_km_submit_cancel(struct iouw_km *km, uint64_t ud, uint64_t target);
/* A cancel SQE the kernel must reject with -EINVAL (unknown cancel flags). */
int iouw_km_submit_bad_cancel(struct iouw_km *km, uint64_t ud, uint64_t target);
int iouw_km_submit_wake(struct iouw_km *km, uint64_t ud);

/* NULL when the kernel may post CQE (@ud, @res, @flags) now, else the name
 * of the HOSTILE rule it breaks (static string, "H1 ..."). */
const char *iouw_km_check(const struct iouw_km *km, uint64_t ud, int32_t res, uint32_t flags);

/* The kernel posts the CQE: checks it (as iouw_km_check, the result) and
 * applies it to the model whatever the verdict (an unknown @ud changes
 * nothing). */
const char *iouw_km_post(struct iouw_km *km, uint64_t ud, int32_t res, uint32_t flags);

/* The loop reaped the CQE of @ud (K7's window closes). */
void iouw_km_reaped(struct iouw_km *km, uint64_t ud);

/* True when @ud is an outstanding SQE (of any kind). */
bool iouw_km_outstanding(const struct iouw_km *km, uint64_t ud);

/* Outstanding SQEs (K1: a finished legal history has none). */
uint32_t iouw_km_owed(const struct iouw_km *km);

/* iouw_km_draw_op()'s pick among IOUW_KM_OP_PICKS: what each answers
 * (FSYNC: 0 for ZERO, ALL and PART). fuzz/enumerate.c walks these. */
enum iouw_km_op_pick {
	IOUW_KM_PICK_EAGAIN = 0,
	IOUW_KM_PICK_EINTR,
	IOUW_KM_PICK_ECANCELED, /* K4: also without a cancel */
	IOUW_KM_PICK_ERRNO,     /* then a pick among the I/O errnos */
	IOUW_KM_PICK_ZERO,
	IOUW_KM_PICK_ALL,       /* every byte asked */
	IOUW_KM_PICK_PART,      /* then 1..bytes */
	IOUW_KM_PICK_PART2,     /* the same as PART */
	IOUW_KM_OP_PICKS,
};

/* A legal result (K3-K8) for outstanding op @ud: -ECANCELED without a
 * byte when K6 forces it; else a pick among IOUW_KM_OP_PICKS (enum
 * iouw_km_op_pick): -EAGAIN, -EINTR, -ECANCELED (K4), an I/O errno, 0,
 * all bytes, 1..bytes (FSYNC: 0). */
int32_t iouw_km_draw_op(const struct iouw_km *km, struct iouw_fdp *p, uint64_t ud);

/* A legal result (K5-K8) for outstanding cancel @ud. */
int32_t iouw_km_draw_cancel(const struct iouw_km *km, struct iouw_fdp *p, uint64_t ud);

/* Hostile results: for op @ud (H2-H4, -ECANCELED, any 32 bits), for a
 * cancel (H5: -EINVAL, INT32_MIN, INT32_MAX, any 32 bits). */
int32_t iouw_km_draw_hostile_op(const struct iouw_km *km, struct iouw_fdp *p, uint64_t ud,
                                uint32_t remaining);
int32_t iouw_km_draw_hostile_cancel(struct iouw_fdp *p);

#endif /* IOUW_FUZZ_KERNEL_MODEL_H */
