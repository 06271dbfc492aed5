/* core/request_ops.h: the narrow interface between the waiter table and the
 * request state machines.
 *
 * Owns: struct iouw_request (the base every request kind embeds first) and
 * struct iouw_request_ops (what the table, the loop, tests and fuzzers may ask
 * of a request).
 *
 * The waiter table only ever calls build_sqe, on_cqe, is_orphaned and
 * release; it never looks inside a request. The loop additionally calls
 * finish() to deliver a result. This keeps the table testable with small
 * fake requests and lets the real kinds (core/request.h) plug in unchanged.
 *
 * Ownership invariants:
 * - A request is owned by exactly one party at a time: its creator until it
 *   is inserted, the waiter table while tracked, and whoever receives it back
 *   in a stage/completion outcome afterwards.
 * - finish() and release() each end the request's life: after either one the
 *   pointer is dead, every fd reference and buffer it held was released
 *   exactly once, and the caller's handle got at most one result (detach()
 *   counts as that result).
 */
#ifndef IOUW_REQUEST_OPS_H
#define IOUW_REQUEST_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring_sqe;
struct iouw_request;

/* How a request leaves the core when the loop finishes it. */
enum iouw_finish {
	/* Deliver the result recorded by on_cqe(), or the kind's fallback
	 * result when none was recorded (docs/requests.md §4.4, fallback row). */
	IOUW_FINISH_COMPLETE = 0,
	/* Deliver the kind's local-timeout result (docs/requests.md §4.4). */
	IOUW_FINISH_TIMEOUT = 1,
};

struct iouw_request_ops {
	/* Fill @sqe (already zeroed by the caller) with the next SQE for this
	 * request, user_data = @user_data. Called only while the request has
	 * no SQE in flight. Rebuilt from scratch before every submission. */
	void (*build_sqe)(struct iouw_request *req, struct io_uring_sqe *sqe, uint64_t user_data);
	/* Feed the op CQE result @res. @cancel_requested tells whether the
	 * waiter was CancelRequested when the CQE arrived. Returns true when the
	 * request reached a terminal state (a result is recorded). */
	bool (*on_cqe)(struct iouw_request *req, bool cancel_requested, int32_t res);
	/* True when nobody will read the result any more (docs/requests.md §4.4).
	 * Optional: NULL declares a request that is never orphaned (its work
	 * continues after the caller left, as write_at and sync do, or it has
	 * no caller to leave), and spares the table a call per stage and per
	 * non-terminal CQE. Ask through iouw_request_is_orphaned(). */
	bool (*is_orphaned)(const struct iouw_request *req);
	/* Deliver the result chosen by @how to the caller (a silent no-op when
	 * the caller is gone), then release everything. Ends the request. */
	void (*finish)(struct iouw_request *req, enum iouw_finish how);
	/* Drop the request without a result: release every resource; a caller
	 * still waiting is told the request was abandoned (-ECANCELED). Ends the
	 * request. Used for orphans and for whatever a table still holds when it
	 * is freed. */
	void (*release)(struct iouw_request *req);
	/* Optional (may be NULL). The request's op may still be in the kernel
	 * and the loop is abandoning it (shutdown budget spent): tell a waiting
	 * caller now that it was abandoned (-ECANCELED) without handing back
	 * anything the kernel may still write (no buffer), and keep every
	 * resource alive. The loop calls release() later, once the ring is
	 * gone; release() then frees without delivering again. */
	void (*detach)(struct iouw_request *req);
};

/* "No deadline" for iouw_request.deadline_ns. */
#define IOUW_NO_DEADLINE UINT64_MAX

/* Base of every request. Kinds embed it as their first member. */
struct iouw_request {
	/* Set when the request is made; never changes while a table or a
	 * loop holds the request. */
	const struct iouw_request_ops *ops;
	/* Absolute deadline on the loop's clock (ns), or IOUW_NO_DEADLINE.
	 * Only send and recv carry one (docs/requests.md §4); the loop reads it once, at
	 * admission, to schedule the waiter on the timeout wheel. */
	uint64_t deadline_ns;
};

/* The typed fast path (core/loop_typed.h) passes the caller's own static
 * const ops table as @known (NULL everywhere else): whether @req is a
 * request of that type. Asked once per transition (admission, op CQE,
 * delivery): a request's ops pointer never changes while a table or a loop
 * holds it (see struct iouw_request). */
static inline __attribute__((always_inline)) bool
iouw_request_ops_are(const struct iouw_request *req, const struct iouw_request_ops *known)
{
	return known != NULL && req->ops == known;
}

/* Call op @fn of @req with (@...): through @known when @typed (what
 * iouw_request_ops_are(@req, @known) said), else through req->ops. @known
 * is then a constant the compiler resolves: the call becomes direct and can
 * be inlined. Same call, same result. */
#define IOUW_REQUEST_CALL(typed, known, req, fn, ...) \
	((typed) ? (known)->fn(__VA_ARGS__) : (req)->ops->fn(__VA_ARGS__))

/* iouw_request_is_orphaned(), called as IOUW_REQUEST_CALL() would. */
static inline __attribute__((always_inline)) bool
iouw_request_is_orphaned_as(const struct iouw_request *req, bool typed,
                            const struct iouw_request_ops *known)
{
	if (typed)
		return known->is_orphaned && known->is_orphaned(req);
	return req->ops->is_orphaned && req->ops->is_orphaned(req);
}

/* Whether @req is orphaned: its is_orphaned op, or false without one. */
static inline bool iouw_request_is_orphaned(const struct iouw_request *req)
{
	return iouw_request_is_orphaned_as(req, false, NULL);
}

#endif /* IOUW_REQUEST_OPS_H */
