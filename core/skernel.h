/* core/skernel.h: the scripted kernel, a backend obeying core/backend.h.
 *
 * What: the one "fake kernel" every deterministic driver runs the loop on
 * (the scenario harness, the loop and ring fuzz targets, the loop unit
 * tests; docs/loop.md §6.12).
 * It captures every SQE the loop submits (never executing one), posts the
 * CQEs its driver names, in the driver's order, and answers a wait the loop
 * would block in from what the driver queued beforehand, or from a wait hook,
 * or else reports the wait as timed out (-ETIME) or as hanging forever
 * (-EDEADLK). It never calls the driver from inside the loop except through
 * the optional wait hook.
 *
 * Transports (how a posted CQE reaches the loop's reap):
 *   memory      a CQ ring and an overflow list in plain memory (no kernel);
 *   nop-inject  a real io_uring ring: IORING_OP_NOP with
 *               IORING_NOP_INJECT_RESULT posts each CQE (docs/kernel.md §8);
 *   msg-ring    a real ring whose kernel lacks NOP injection:
 *               IORING_OP_MSG_RING aimed at the ring itself, carrier SQE with
 *               IOSQE_CQE_SKIP_SUCCESS and user_data IOUW_UDATA_INJECT_CARRIER
 *               (core/udata.h); a failed carrier's CQE is filtered at reap and
 *               counted (iouw_skernel_carrier_failures()).
 *   kernel      not scripted: the real kernel runs the captured SQEs
 *               (forwarded at submit, reserved user_data such as the wake
 *               poll excepted, with the extra flags set per user_data) and
 *               the driver releases its CQEs to the loop one by one
 *               (the scenario harness's kernel mode). * The SQ, the submitted log, the wait rules and the answers are the same
 * for every transport; only post, reap and what counts as "ready" differ.
 *
 * Queues and their invariants:
 *   SQ         pushed, not yet submitted SQEs; 0 <= pending <= sq_entries;
 *              push_sqe returns -EBUSY exactly when pending == sq_entries.
 *   submitted  every SQE submitted since the last clear, in submission order.
 *   CQ         memory: at most cq_entries CQEs in the ring, oldest first,
 *              then the overflow list (the kernel's FEAT_NODROP overflow
 *              list): non-empty only while the ring is full or being
 *              flushed; once non-empty every new CQE joins it too, so ring +
 *              overflow is one FIFO in post order; reap() flushes it into the
 *              ring as space frees. Its length is capped by the overflow
 *              limit (default IOUW_SKERNEL_DEFAULT_OVERFLOW_LIMIT); a post
 *              beyond the cap fails with -ENOSPC and changes nothing; 0
 *              models a ring without an overflow list. Real ring: the ring's
 *              own CQ and overflow list; ready = posted - reaped.
 *   answers    (user_data, res) pairs queued for blocking waits, FIFO; an
 *              answer may name a driver key instead of a user_data, bound
 *              later (iouw_skernel_bind: the harness binds a request's key
 *              when the loop admits it); what each answer did is logged for
 *              the driver to read after the loop call returns.
 *   ops        (ring transports, with data movement on) every op SQE that
 *              moves data, from capture until a CQE answers it: a positive
 *              result first does the I/O it implies on the SQE's fd (the
 *              bytes a real kernel would have moved), so inject mode walks
 *              the same data as kernel mode.
 *
 * submit_and_wait(wait_nr, timeout_ns), in this order:
 *   1. an armed fault (iouw_skernel_fail_next_wait) returns its error and
 *      submits nothing (the SQEs stay pending, as when the kernel refuses a
 *      submission with -EBUSY/-EAGAIN);
 *   2. every pending SQE moves to the submitted log; count = how many;
 *   3. wait_nr == 0, or at least wait_nr CQEs ready: return count;
 *   0. past the wait limit (if set): -ELOOP;
 *   4. the loop would block: while fewer than wait_nr CQEs are ready, post
 *      the next queued answer if there is one (a failed answer: -EIO), else
 *      call the wait hook (if any), stopping when a round posted nothing. A negative hook return is
 *      returned as is (the SQEs stay submitted). Still short: -ETIME for a
 *      timed wait (timeout_ns >= 0; with a virtual clock attached, that
 *      clock first moves by timeout_ns, what a real timed wait would have
 *      taken), -EDEADLK for an untimed one (it would block forever).
 * The hook may post CQEs, push SQEs, and read or clear the submitted log; it
 * must not call submit_and_wait (invariant "scripted kernel wait hook
 * re-entered").
 *
 * Faults armed with iouw_skernel_fail_waits_after_submit() apply after step
 * 2 instead (what was pushed went out, the wait reports the error).
 *
 * Limits: sq_entries and cq_entries <= IOUW_SKERNEL_MAX_ENTRIES.
 * Not thread-safe.
 */
#ifndef IOUW_SKERNEL_H
#define IOUW_SKERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "clock.h"
#include "uring_backend.h"

#define IOUW_SKERNEL_MAX_ENTRIES (UINT32_C(1) << 20)
#define IOUW_SKERNEL_DEFAULT_OVERFLOW_LIMIT (UINT32_C(1) << 20)

enum iouw_skernel_transport {
	IOUW_SKERNEL_MEMORY = 0,
	IOUW_SKERNEL_NOP_INJECT,
	IOUW_SKERNEL_MSG_RING,
	/* Not scripted CQEs: the real kernel runs the captured SQEs (forwarded
	 * at submit, reserved user_data excepted) and the driver releases its
	 * CQEs to reap one by one (iouw_skernel_release). */
	IOUW_SKERNEL_KERNEL,
};

/* What a queued answer did (iouw_skernel_take_answered). */
struct iouw_skernel_answered {
	uint64_t key;       /* the key, for an answer queued with one */
	bool keyed;
	uint64_t user_data; /* posted (kernel transport: the kernel's CQE) */
	int32_t res;
	bool overflowed;    /* it went to the overflow list */
	int err;            /* 0; -ENOENT key never bound; the post's -errno;
	                     * kernel transport: -ETIME, no CQE came */
};

/* A scripted kernel on the memory transport with @sq_entries SQ slots and
 * @cq_entries CQ ring slots (0 = 2 * sq_entries, as the kernel does).
 * -EINVAL for sq_entries == 0, either size above IOUW_SKERNEL_MAX_ENTRIES,
 * or @ret NULL; -ENOMEM. *@ret is written only on success. */
int iouw_skernel_new_mem(unsigned sq_entries, unsigned cq_entries, struct iouw_backend **ret);

/* A scripted kernel with @sq_entries SQ slots posting through the real ring
 * of @uring (a core/uring_backend.h backend, owned from now on: freed with
 * the scripted kernel, also on failure) by @how (NOP_INJECT or MSG_RING,
 * which the caller probed: iouw_uring_probe_nop_inject/_msg_ring), or
 * forwarding its SQEs to that kernel (KERNEL: @sq_entries at most the
 * ring's SQ size).
 * -EINVAL for a bad size, a memory @how, or @uring not a uring backend;
 * -ENOMEM. */
int iouw_skernel_new_ring(unsigned sq_entries, struct iouw_backend *uring,
                          enum iouw_skernel_transport how, struct iouw_backend **ret);

/* Set up a ring from @cfg and probe how to inject CQEs on it: NOP
 * injection first (unless @force_msg_ring), then MSG_RING. 0 and the
 * scripted kernel; the setup's -errno (io_uring unavailable here:
 * iouw_uring_unavailable()); or the probe's -errno when neither injection
 * works (*@ret_nop_err, when not NULL, gets the NOP probe's). */
int iouw_skernel_new_injecting(const struct iouw_uring_config *cfg, unsigned sq_entries,
                               bool force_msg_ring, struct iouw_backend **ret,
                               int *ret_nop_err);

/* The transport, and its name ("memory", "nop-inject", "msg-ring"). */
enum iouw_skernel_transport iouw_skernel_transport(struct iouw_backend *b);
const char *iouw_skernel_transport_name(struct iouw_backend *b);

/* The real ring underneath (NULL on the memory transport), for drivers that
 * inspect it (CQ ready count, overflow flag) without consuming CQEs. */
struct io_uring *iouw_skernel_ring(struct iouw_backend *b);

/* Start afresh with @sq_entries SQ slots (and, on the memory transport,
 * @cq_entries CQ slots; a ring keeps its CQ): forgets pending and submitted
 * SQEs, queued answers, armed faults and unreaped CQEs. 0, -EINVAL (sizes as
 * for new), -ENOMEM (the kernel is then empty with its old sizes). */
int iouw_skernel_reset(struct iouw_backend *b, unsigned sq_entries, unsigned cq_entries);

/* Everything submitted so far, in submission order (the driver inspects
 * and answers them). *@ret_sqes stays valid until the next submit_and_wait,
 * clear_submitted, reset or free; it is NULL when the log is empty. @b must
 * be a scripted kernel (invariant "scripted kernel call on another
 * backend"). */
size_t iouw_skernel_submitted(struct iouw_backend *b, const struct io_uring_sqe **ret_sqes);

/* Empty the submitted log (pending SQEs are untouched). */
void iouw_skernel_clear_submitted(struct iouw_backend *b);

/* Post a CQE through the transport. 0; -ENOSPC when the memory CQ ring is
 * full and the overflow list is at its limit (nothing posted); -ENOMEM; on
 * a ring, the submit's -errno, -EIO when the ring took no SQE, -ETIME when
 * the CQE did not show within the post timeout, -EPROTO when the ring
 * posted other values; -EOPNOTSUPP on the kernel transport. */
int iouw_skernel_post(struct iouw_backend *b, uint64_t user_data, int32_t res, uint32_t flags);

/* Queue (@user_data, @res) as the answer to a future blocking wait: the
 * first wait that would block posts it (step 4 above), one per round. 0 or
 * -ENOMEM. */
int iouw_skernel_queue_answer(struct iouw_backend *b, uint64_t user_data, int32_t res);

/* Answers queued and not yet posted. */
size_t iouw_skernel_answers_left(struct iouw_backend *b);

/* Called from submit_and_wait when fewer than wait_nr CQEs are ready and no
 * answer is queued, so a driver can produce CQEs (or advance a virtual
 * clock) on demand; if it posts nothing the wait returns -ETIME (timed) or
 * -EDEADLK (untimed). Return 0 to go on, or a negative errno for
 * submit_and_wait to return. NULL @hook removes it. */
void iouw_skernel_set_wait_hook(struct iouw_backend *b,
                                int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns),
                                void *ctx);

/* A virtual clock the kernel moves by the bound of every timed wait it
 * cannot answer (NULL detaches it). */
void iouw_skernel_set_clock(struct iouw_backend *b, struct iouw_virtual_clock *vc);

/* Fault injection for loop tests: make the next @times submit_and_wait calls
 * return @err (a negative errno) without submitting anything. @times == 0
 * disarms. A non-negative @err with @times > 0 breaks the invariant
 * "scripted kernel fault is not a negative errno". */
void iouw_skernel_fail_next_wait(struct iouw_backend *b, int err, unsigned times);

/* Memory transport: cap the overflow list at @limit CQEs (0: no overflow
 * list). Does not drop CQEs already parked. No effect on a ring. */
void iouw_skernel_set_overflow_limit(struct iouw_backend *b, size_t limit);

/* CQEs posted and not yet reaped (CQ ring + overflow list). */
size_t iouw_skernel_cq_ready(struct iouw_backend *b);

/* Whether CQEs are parked in the overflow list (the kernel's
 * IORING_SQ_CQ_OVERFLOW). */
bool iouw_skernel_cq_overflowed(struct iouw_backend *b);

/* Number of submit_and_wait calls so far (including failed ones). */
uint64_t iouw_skernel_wait_calls(struct iouw_backend *b);

/* Which rule ended a submit_and_wait call (iouw_skernel_last_wait). */
enum iouw_skernel_wait_end {
	IOUW_SKERNEL_WAIT_NONE = 0, /* no call yet */
	IOUW_SKERNEL_WAIT_NOBLOCK,  /* wait_nr == 0: submitted, did not wait */
	IOUW_SKERNEL_WAIT_READY,    /* wait_nr CQEs were already ready */
	IOUW_SKERNEL_WAIT_ANSWERED, /* queued answers (or the hook) made them ready */
	IOUW_SKERNEL_WAIT_TIMEOUT,  /* -ETIME at the bound (clock moved by it) */
	IOUW_SKERNEL_WAIT_DEADLOCK, /* -EDEADLK: untimed, nothing to answer */
	IOUW_SKERNEL_WAIT_FAULT,    /* an armed fault's error */
	IOUW_SKERNEL_WAIT_ERROR,    /* -ELOOP, a submit error, a failed answer (-EIO),
	                             * the hook's error */
};

/* What the last submit_and_wait call was asked and did. */
struct iouw_skernel_wait {
	unsigned wait_nr;   /* as the loop passed them */
	int64_t timeout_ns; /* IOUW_BACKEND_NO_TIMEOUT (negative): unbounded */
	uint64_t moved_ns;  /* how far the attached virtual clock moved (0: none) */
	int res;            /* what it returned */
	enum iouw_skernel_wait_end end;
};

/* The last submit_and_wait call (end IOUW_SKERNEL_WAIT_NONE before the
 * first; reset keeps it). */
void iouw_skernel_last_wait(struct iouw_backend *b, struct iouw_skernel_wait *out);

/* MSG_RING carriers whose own CQE reported a failure (filtered at reap). */
uint64_t iouw_skernel_carrier_failures(struct iouw_backend *b);

/* Kernel transport: let the loop reap @n more of the kernel's CQEs (in the
 * order the kernel posted them). -EOPNOTSUPP on the other transports. */
int iouw_skernel_release(struct iouw_backend *b, unsigned n);

/* Queue an answer naming driver key @key instead of a user_data; the key's
 * binding (iouw_skernel_bind) at the time the answer is due gives it. On the
 * kernel transport an answer releases the kernel's next CQE (waiting up to
 * the post timeout for it), @res unused. 0 or -ENOMEM. */
int iouw_skernel_queue_answer_for(struct iouw_backend *b, uint64_t key, int32_t res);

/* Bind (or rebind) @key to @user_data. 0 or -ENOMEM. */
int iouw_skernel_bind(struct iouw_backend *b, uint64_t key, uint64_t user_data);

/* Move up to @max records of what queued answers did, oldest first, into
 * @out; how many. */
size_t iouw_skernel_take_answered(struct iouw_backend *b, struct iouw_skernel_answered *out,
                                  size_t max);

/* Kernel transport: OR @flags (IOSQE_ASYNC, ...) into every SQE with
 * @user_data it forwards. 0 or -ENOMEM. */
int iouw_skernel_set_sqe_flags(struct iouw_backend *b, uint64_t user_data, uint8_t flags);

/* Ring transports: do the I/O a positive result implies (see "ops"). */
void iouw_skernel_set_move_data(struct iouw_backend *b, bool on);

/* How long a ring post (or a kernel-transport answer) waits for its CQE to
 * show (default 2 s); past it the post fails with -ETIME. */
void iouw_skernel_set_post_timeout(struct iouw_backend *b, uint64_t timeout_ns);

/* Fail every submit_and_wait past the @limit-th with -ELOOP (0: no limit):
 * a script that would spin forever ends. */
void iouw_skernel_set_wait_limit(struct iouw_backend *b, uint64_t limit);

/* As iouw_skernel_fail_next_wait(), but the SQEs are submitted first. */
void iouw_skernel_fail_waits_after_submit(struct iouw_backend *b, int err, unsigned times);

/* Armed faults not yet returned. */
unsigned iouw_skernel_faults_left(struct iouw_backend *b);

#endif /* IOUW_SKERNEL_H */
