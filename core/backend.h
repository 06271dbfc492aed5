/* core/backend.h: the ring backend interface (docs/loop.md §6, docs/kernel.md §8).
 *
 * What: the only way the event loop talks to a ring. A backend owns a
 * submission queue (SQEs pushed, then submitted in one go) and a completion
 * queue (CQEs reaped in the order they were posted). The loop never knows
 * which implementation it runs on:
 *   - core/uring_backend.h: a real io_uring ring (production, harness);
 *   - core/skernel.h:       the scripted kernel (fuzzers, deterministic
 *                           loop tests, machines that block io_uring).
 * The harness runs the loop on the scripted kernel too, over a real ring.
 *
 * Invariants every implementation keeps:
 *   - push_sqe copies the SQE; the caller's buffer is free again on return.
 *     push_sqe fails with -EBUSY exactly when sq_space() == 0, and never
 *     partially; a failed push changes nothing.
 *   - SQEs are submitted in push order; SQEs a submit could not take stay
 *     queued (sq_space() accounts for them) and go out with the next submit.
 *   - reap() hands out CQEs in the order they were posted, each exactly once,
 *     including CQEs the ring had to park in an overflow list.
 *   - submit_and_wait() results are normalised: >= 0 submitted count (the
 *     wait was satisfied, or wait_nr == 0); -ETIME timed out with fewer than
 *     wait_nr CQEs ready; -EINTR/-EAGAIN/-EBUSY transient ("reap and come
 *     round again"); anything else fatal.
 * Not thread-safe: one loop thread owns a backend.
 */
#ifndef IOUW_BACKEND_H
#define IOUW_BACKEND_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

/* One completion, copied out of the ring. */
struct iouw_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
};

struct iouw_backend;


struct iouw_backend_ops {
	/* Copy @sqe into the next free SQ slot. 0, or -EBUSY when the SQ is full. */
	int (*push_sqe)(struct iouw_backend *b, const struct io_uring_sqe *sqe);
	/* Optional (may be NULL): copy the @n SQEs of @sqes, in order, into the
	 * next free SQ slots; 0, or -EBUSY (nothing pushed) when fewer than @n
	 * are free. Same effect as @n push_sqe calls, in one call. */
	int (*push_sqes)(struct iouw_backend *b, const struct io_uring_sqe *sqes, unsigned n);
	/* Free SQ slots left before push_sqe would return -EBUSY. */
	unsigned (*sq_space)(struct iouw_backend *b);
	/* Submit everything pushed, then wait until at least @wait_nr CQEs are
	 * available or @timeout_ns (relative; -1 = no timeout) passes. Returns >= 0 on
	 * success (submitted count), -ETIME when the wait timed out with fewer than
	 * wait_nr CQEs ready (normalise liburing's quirk of returning the submit count),
	 * -EINTR/-EAGAIN/-EBUSY (transient), or another -errno (fatal). */
	int (*submit_and_wait)(struct iouw_backend *b, unsigned wait_nr, int64_t timeout_ns);
	/* Copy up to @max available CQEs into @out, retire them, return how many.
	 * Never loses CQEs parked in the kernel's overflow list: keeps flushing until
	 * the overflow flag is clear (io_uring_peek_batch_cqe / io_uring_get_events). */
	unsigned (*reap)(struct iouw_backend *b, struct iouw_cqe *out, unsigned max);
	void (*free)(struct iouw_backend *b);
};

/* Embedded first in every implementation's private struct. */
struct iouw_backend {
	const struct iouw_backend_ops *ops;
};

/* "No timeout" for submit_and_wait. Any negative timeout means the same. */
#define IOUW_BACKEND_NO_TIMEOUT ((int64_t)-1)

/* See struct iouw_backend_ops.push_sqe. */
static inline int iouw_backend_push_sqe(struct iouw_backend *b, const struct io_uring_sqe *sqe)
{
	return b->ops->push_sqe(b, sqe);
}

/* See struct iouw_backend_ops.push_sqes; falls back to push_sqe one by one,
 * checking the space first, so a full SQ still pushes nothing (a push_sqe
 * failing for another reason stops the run and returns its error). */
static inline int iouw_backend_push_sqes(struct iouw_backend *b, const struct io_uring_sqe *sqes,
                                         unsigned n)
{
	if (b->ops->push_sqes)
		return b->ops->push_sqes(b, sqes, n);
	if (b->ops->sq_space(b) < n)
		return -EBUSY;
	for (unsigned i = 0; i < n; i++) {
		int r = b->ops->push_sqe(b, &sqes[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* See struct iouw_backend_ops.sq_space. */
static inline unsigned iouw_backend_sq_space(struct iouw_backend *b)
{
	return b->ops->sq_space(b);
}

/* See struct iouw_backend_ops.submit_and_wait. */
static inline int iouw_backend_submit_and_wait(struct iouw_backend *b, unsigned wait_nr,
                                               int64_t timeout_ns)
{
	return b->ops->submit_and_wait(b, wait_nr, timeout_ns);
}

/* See struct iouw_backend_ops.reap. */
static inline unsigned iouw_backend_reap(struct iouw_backend *b, struct iouw_cqe *out,
                                         unsigned max)
{
	return b->ops->reap(b, out, max);
}

/* Free @b and everything it owns (closing its ring). NULL is a no-op. */
static inline void iouw_backend_free(struct iouw_backend *b)
{
	if (b)
		b->ops->free(b);
}

#endif /* IOUW_BACKEND_H */
