/* core/uring_backend.h: the production backend, a real io_uring ring
 * (liburing 2.3), obeying core/backend.h. Kernel facts: docs/kernel.md §8.
 *
 * What it owns: one ring (its fd closed by free), and a small "stash" of
 * CQEs that a probe took out of the ring but that belong to the caller.
 *
 * Invariants and decisions:
 *   - Setup flags: IOPOLL when cfg->iopoll; SINGLE_ISSUER | DEFER_TASKRUN
 *     when cfg->single_issuer; COOP_TASKRUN | TASKRUN_FLAG when
 *     cfg->coop_taskrun; CQSIZE when cfg->cq_entries != 0. Nothing else. The ring must offer FEAT_NODROP (overflowed CQEs are parked, not
 *     dropped) and FEAT_EXT_ARG (timed waits without a timeout SQE), else
 *     setup fails with -EOPNOTSUPP (kernels before 5.11).
 *   - Timed waits use EXT_ARG (io_uring_submit_and_wait_timeout). The kernel
 *     returns the submit count, not -ETIME, when it submitted something and
 *     then timed out; the backend checks the CQ and reports -ETIME whenever
 *     fewer than wait_nr CQEs are ready after a timed wait. The kernel
 *     returns the submit count as well when the wait after a submit was
 *     interrupted by a signal: a timed wait reports that as -ETIME, an
 *     untimed one as -EINTR (both mean "reap and come round again").
 *   - wait_nr is clamped to the CQ ring size (a larger wait could never be
 *     met), and stashed CQEs count towards it.
 *   - DEFER_TASKRUN rings: completions that go through task work (anything
 *     not completed inline during submit) become visible only after entering
 *     the kernel with GETEVENTS. submit_and_wait always enters with
 *     GETEVENTS on such a ring (also for wait_nr == 0); reap does not enter
 *     (except to flush an overflow), so reap after a plain push sees nothing
 *     new until the next submit_and_wait.
 *   - COOP_TASKRUN rings: completions that go through task work wait for
 *     the thread's next entry into the kernel (no interrupt of the thread
 *     running in user space); TASKRUN_FLAG makes the kernel raise
 *     IORING_SQ_TASKRUN meanwhile, and reap, finding the ring empty with
 *     that flag up, enters the kernel to run them (as for an overflow).
 *   - IOPOLL rings: the kernel does not sleep when nothing is on its poll
 *     list; such a wait returns at once, -ETIME when timed and -EINTR when
 *     untimed (a loop on an IOPOLL ring spins rather than sleeps).
 *   - SINGLE_ISSUER rings: submitting from a thread other than the creator
 *     fails with -EEXIST (fatal).
 *   - reap returns stashed CQEs first (they are older), then ring CQEs;
 *     when the ring is empty but IORING_SQ_CQ_OVERFLOW is set it enters the
 *     kernel to flush the overflow list, until the flag clears or @max CQEs
 *     were taken. Order is the kernel's post order throughout.
 * Not thread-safe.
 */
#ifndef IOUW_URING_BACKEND_H
#define IOUW_URING_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#include "backend.h"
#include "udata.h"

/* Newer kernel ABI that Debian's liburing 2.3 headers may lack. */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
/* IORING_OP_NOP flag (sqe->nop_flags, which is sqe->rw_flags in liburing
 * 2.3): complete with res = (int32_t)sqe->len instead of 0. */
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif

/* user_data values the probes use, registered in core/udata.h (never
 * waiter ids, never IOUW_WAKE_USER_DATA). Probe CQEs are consumed by the
 * probe and never reach reap. */
#define IOUW_URING_PROBE_USER_DATA_FIRST IOUW_UDATA_PROBE_FIRST
#define IOUW_URING_PROBE_USER_DATA_LAST IOUW_UDATA_PROBE_LAST

struct iouw_uring_config {
	unsigned entries;   /* SQ size; the kernel rounds up to a power of two */
	bool iopoll;        /* IORING_SETUP_IOPOLL */
	bool single_issuer; /* also sets DEFER_TASKRUN */
	bool coop_taskrun;  /* COOP_TASKRUN | TASKRUN_FLAG */
	unsigned cq_entries; /* 0 = default (2 * SQ size) */
};

/* Set up a ring as @cfg says and wrap it in a backend. Returns the setup
 * -errno unchanged (-EPERM/-ENOSYS/-EACCES: io_uring unavailable; -EINVAL: a
 * flag or size unsupported), -EOPNOTSUPP when the kernel lacks FEAT_NODROP
 * or FEAT_EXT_ARG, -EINVAL for NULL @cfg/@ret, -ENOMEM. *@ret is written
 * only on success. */
int iouw_uring_backend_new(const struct iouw_uring_config *cfg, struct iouw_backend **ret);

/* The underlying ring, for the harness and the event loop; NULL when @b is
 * not a uring backend. Whoever uses it directly must not reap CQEs behind
 * the backend's back, except as the loop does (core/loop.c, "Direct ring
 * access"): in place, in order, only while iouw_uring_backend_stashed() is
 * 0, leaving overflow flushing to the backend's reap. */
struct io_uring *iouw_uring_backend_ring(struct iouw_backend *b);

/* How many CQEs a probe took out of the ring and holds for the next reap
 * (they come before anything still in the ring). The event loop reads CQEs
 * in place, straight from the ring, only while this is 0; otherwise it
 * reaps through the backend. @b must be a uring backend. */
size_t iouw_uring_backend_stashed(struct iouw_backend *b);

/* 0 if a small ring can be set up and entered here, else the -errno
 * (-EPERM when /proc/sys/kernel/io_uring_disabled is 2, else the error of
 * io_uring_setup or of an empty io_uring_enter). */
int iouw_uring_available(void);

/* The project's one skip policy (README, "Skip policy"): whether @err, from
 * iouw_uring_available(), iouw_uring_backend_new() or the first enter of a
 * fresh ring, means io_uring is *unavailable* here (blocked, disabled, too
 * old, ring memory refused: skip) rather than broken or an exhausted
 * environment (-EMFILE, -ENFILE, -EAGAIN, anything else: fail). -ENOMEM is
 * unavailable only while the process can still map a few pages (64 KiB,
 * tried on the spot): when it cannot, the address space is exhausted
 * (RLIMIT_AS) and that is the environment failing. */
bool iouw_uring_unavailable(int err);

/* Prepare @sqe (from io_uring_get_sqe or a zeroed copy) so that the ring
 * posts one CQE with exactly @user_data and @res: IORING_OP_NOP with
 * IORING_NOP_INJECT_RESULT. The one place that knows liburing 2.3 keeps the
 * NOP flags where rw_flags is and the result in len. Never link it
 * (IO_LINK turns the rest of a chain into -ECANCELED after a negative res). */
static inline void iouw_uring_prep_inject(struct io_uring_sqe *sqe, uint64_t user_data,
                                          int32_t res)
{
	io_uring_prep_nop(sqe);
	sqe->rw_flags = IORING_NOP_INJECT_RESULT; /* nop_flags */
	sqe->len = (uint32_t)res;
	io_uring_sqe_set_data64(sqe, user_data);
}

/* The fallback for kernels without NOP injection: IORING_OP_MSG_RING aimed
 * at @ring_fd (the ring itself) posts (@user_data, @res) there. The MSG_RING
 * SQE also completes itself, with @own_user_data; add IOSQE_CQE_SKIP_SUCCESS
 * to keep that CQE only when it fails. */
static inline void iouw_uring_prep_inject_msg_ring(struct io_uring_sqe *sqe, int ring_fd,
                                                   uint64_t user_data, int32_t res,
                                                   uint64_t own_user_data)
{
	io_uring_prep_msg_ring(sqe, ring_fd, (unsigned)res, user_data, 0);
	io_uring_sqe_set_data64(sqe, own_user_data);
}

/* Whether IORING_OP_NOP with IORING_NOP_INJECT_RESULT posts a CQE with exactly
 * the given user_data and res on this kernel: submits two injecting NOPs
 * (a positive and a negative result) on @b's ring and waits up to about one
 * second for them. 0 = works; -EINVAL (or another -errno) = the kernel
 * rejected the flag; -EOPNOTSUPP = the kernel ignored it (res 0); -EBUSY = SQ
 * has fewer than 2 free slots; -ETIME = no CQE came. CQEs for other requests
 * seen meanwhile are kept and returned by reap in order. */
int iouw_uring_probe_nop_inject(struct iouw_backend *b);

/* Whether IORING_OP_MSG_RING aimed at @b's own ring posts a CQE with exactly
 * the given user_data and res (two messages, positive and negative res).
 * 0 = works; the MSG_RING SQE's own negative res (for example -EINVAL on
 * kernels without it) otherwise; -EPROTO = a message arrived with other
 * values; -EBUSY / -ETIME as for the NOP probe. Other CQEs are kept. */
int iouw_uring_probe_msg_ring(struct iouw_backend *b);

#endif /* IOUW_URING_BACKEND_H */
