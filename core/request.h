/* core/request.h: the five request state machines (docs/requests.md §4): send, recv,
 * read_at, write_at and sync, behind struct iouw_request_ops.
 *
 * Owns: every request kind's progress cursor, result slot, fd reference and
 * buffers, the SQE each kind builds (docs/requests.md §4.1), the CQE classification
 * (docs/requests.md §4.2), each kind's reaction to a class (docs/requests.md §4.3) and what is
 * delivered when the request ends (docs/requests.md §4.4).
 *
 * Resources: every request holds one reference on a shared fd object
 * (core/fd.h, docs/requests.md §4.9) and puts it exactly once when the
 * request ends (finish() or release()); the last put closes the fd. The
 * *_fd constructors take a new reference on the caller's struct iouw_fd
 * (no syscall; the caller keeps and later puts its own). The plain
 * constructors dup the caller's int fd (F_DUPFD_CLOEXEC) into a private
 * object the request alone holds, so the caller may close its own fd at any
 * time and the dup is closed when the request ends. recv and read_at take
 * ownership of the caller's malloc'd buffer; it goes back to the caller in
 * the result (any status, release() included) unless the caller dropped its
 * handle, in which case the request frees it. send and write_at COPY the
 * caller's bytes at construction, into the request's own block when they
 * fit in 128 bytes, else into one owned allocation (the caller's iovecs and
 * memory are not referenced afterwards, so the caller may reuse them at
 * once; the copy is freed when the request ends). Empty iovec entries are
 * dropped at construction. The *_owned send and write_at constructors copy
 * nothing: they take ownership of the caller's one malloc'd buffer, as recv
 * and read_at do, and give it back the same way (the same kind, state
 * machine and SQEs as a copying send/write_at of that one buffer; only
 * where the bytes live and who frees them differ: docs/requests.md §4.11).
 * The request and its handle share one block (malloc'd, or from a pool:
 * docs/requests.md §4.10), given back by whichever of the request's end and
 * the caller's iouw_handle_drop() comes last.
 *
 * Per-request states (every kind):
 *
 *   PENDING        no result recorded; build_sqe() allowed
 *   RECORDED       on_cqe() returned true; only finish()/release() allowed
 *   (ended)        finish() or release() ran; the pointer is dead
 *
 *   PENDING -> PENDING    on_cqe() "again" (retry, or partial progress)
 *   PENDING -> RECORDED   on_cqe() terminal (docs/requests.md §4.3 table)
 *   PENDING -> ended      finish(COMPLETE): fallback result (docs/requests.md §4.4);
 *                         finish(TIMEOUT): timeout result; release()
 *   RECORDED -> ended     finish(COMPLETE): recorded result;
 *                         finish(TIMEOUT): timeout result; release()
 *
 * Shape invariants, checked (panic) when an SQE is built or a CQE fed:
 *   recv     offset <= len <= capacity    ("recv offset <= len <= capacity")
 *   read_at  read <= len <= capacity      ("read_at read <= len <= capacity")
 *   send/write_at single buffer: unsent length fits u32
 *            ("send length fits u32", "write_at length fits u32")
 *   a positive result never exceeds what is left
 *            ("recv result larger than asked", "read_at result larger than
 *            asked", "send past end", "write_at past end")
 *   every 32-bit result is handled without undefined behaviour: a negative
 *            one (Error class) gives err = -res, defined for all but
 *            INT32_MIN, which has no errno ("CQE result INT32_MIN is no
 *            errno"); -4096 and below are not errnos a kernel sends, but
 *            docs/requests.md §4.2 classifies them as Error and they stay so
 *   a CQE or SQE after a recorded result ("request CQE after terminal result",
 *   "request SQE built after terminal result").
 * Constructors reject shapes that would break them with -EINVAL; tests reach
 * the panics through iouw_request_test_set_shape().
 *
 * SQEs (docs/requests.md §4.1) are built only with liburing helpers. SEND carries
 * MSG_NOSIGNAL; WRITEV cannot, so a process that sends with several buffers
 * to a peer that may close should ignore SIGPIPE (the original ran in Rust,
 * which ignores SIGPIPE). recv and read_at ask for at most UINT32_MAX bytes
 * per SQE (a legal short request); the checks use the full remaining length.
 *
 * Not thread-safe: the loop thread owns a request; only its handle
 * (core/handle.h) is shared with the caller.
 */
#ifndef IOUW_REQUEST_H
#define IOUW_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fd.h"
#include "handle.h"
#include "pool.h"
#include "request_ops.h"

/* Most iovecs one WRITEV SQE describes (docs/requests.md §4.1). */
#define IOUW_REQUEST_MAX_IOVECS 32

enum iouw_request_kind {
	IOUW_REQUEST_SEND = 0,
	IOUW_REQUEST_RECV = 1,
	IOUW_REQUEST_READ_AT = 2,
	IOUW_REQUEST_WRITE_AT = 3,
	IOUW_REQUEST_SYNC = 4,
};

/* docs/requests.md §4.2: the class of a raw op CQE result, the same for every kind. */
enum iouw_cqe_class {
	IOUW_CQE_RETRY = 0,     /* -EAGAIN, -EWOULDBLOCK, -EINTR */
	IOUW_CQE_CANCELLED = 1, /* -ECANCELED while the waiter is cancel-requested */
	IOUW_CQE_ERROR = 2,     /* any other negative, -ECANCELED while active included */
	IOUW_CQE_ZERO = 3,      /* 0 */
	IOUW_CQE_POSITIVE = 4,  /* n > 0 */
};

/* Classify @res (docs/requests.md §4.2). Pure. */
enum iouw_cqe_class iouw_cqe_classify(int32_t res, bool cancel_requested);

/* Stable name of @kind ("send", "recv", ...) / of @cls ("retry", ...). */
const char *iouw_request_kind_name(enum iouw_request_kind kind);
const char *iouw_cqe_class_name(enum iouw_cqe_class cls);

/* Absolute deadline @timeout_ns after @now_ns on the loop clock, saturating
 * at IOUW_NO_DEADLINE (a deadline too far away is no deadline). */
uint64_t iouw_deadline_after(uint64_t now_ns, uint64_t timeout_ns);

/* A pool of request blocks for the *_fd constructors (core/pool.h),
 * caching at most @max_cached, belonging to the calling thread (only it
 * builds requests from the pool); free it there with iouw_pool_free()
 * (blocks still out come back to it and it goes with the last). */
int iouw_request_pool_new(unsigned max_cached, struct iouw_pool **ret_pool);

/* --- constructors ---------------------------------------------------------
 * Each returns 0 and sets *ret_req (owned by the caller until inserted into
 * a waiter table) and *ret_handle (the caller side, see handle.h), or a
 * negative errno with nothing taken and nothing written: -EINVAL for a bad
 * argument, -EBADF (or another fcntl error) when @fd cannot be duplicated,
 * -ENOMEM. */

/* Send the bytes of @iov[0..@iovcnt) (copied) on socket @fd. @deadline_ns:
 * absolute, or IOUW_NO_DEADLINE. -EINVAL: fd < 0, iov NULL, iovcnt 0, total
 * length 0, or one non-empty buffer longer than UINT32_MAX. */
int iouw_request_send(int fd, const struct iovec *iov, unsigned iovcnt, uint64_t deadline_ns,
                      struct iouw_request **ret_req, struct iouw_handle **ret_handle);

/* Receive into @buf (malloc'd, @capacity bytes; ownership moves in on
 * success) starting at @offset (the bytes before it are a prefix the caller
 * already holds), until @len bytes are filled (@exact) or after the first
 * non-empty receive (!@exact). -EINVAL: fd < 0, buf NULL, or not
 * offset < len <= capacity. */
int iouw_request_recv(int fd, void *buf, size_t capacity, size_t offset, size_t len, bool exact,
                      uint64_t deadline_ns, struct iouw_request **ret_req,
                      struct iouw_handle **ret_handle);

/* Read exactly @len bytes of @fd at @file_offset into @buf (malloc'd,
 * @capacity bytes; ownership moves in on success). End of file first gives
 * INSUFFICIENT_LENGTH. -EINVAL: fd < 0, buf NULL, not 0 < len <= capacity,
 * or file_offset + len beyond INT64_MAX. */
int iouw_request_read_at(int fd, uint64_t file_offset, void *buf, size_t capacity, size_t len,
                         struct iouw_request **ret_req, struct iouw_handle **ret_handle);

/* Write all bytes of @iov[0..@iovcnt) (copied) to @fd at @file_offset.
 * -EINVAL as for send, or file_offset + total beyond INT64_MAX. */
int iouw_request_write_at(int fd, uint64_t file_offset, const struct iovec *iov, unsigned iovcnt,
                          struct iouw_request **ret_req, struct iouw_handle **ret_handle);

/* Send the @len bytes at @buf on socket @fd without copying them: @buf
 * (malloc'd) is taken (ownership moves in on success only; on any error
 * the caller keeps it and nothing is written) and comes back in the result
 * with every status, ABANDONED included (buf = @buf, buf_len = the bytes
 * sent so far, i.e. the progress cursor: all of @len for OK;
 * buf_capacity = @len), unless the caller dropped its handle, in which case
 * the request frees it. The caller must not touch @buf until then. Same
 * state machine, SQEs and results as iouw_request_send() with the one
 * buffer { @buf, @len }. -EINVAL: fd < 0, buf NULL, len 0 or beyond
 * UINT32_MAX. */
int iouw_request_send_owned(int fd, void *buf, size_t len, uint64_t deadline_ns,
                            struct iouw_request **ret_req, struct iouw_handle **ret_handle);

/* Write the @len bytes at @buf to @fd at @file_offset without copying
 * them; @buf is taken and given back as for iouw_request_send_owned()
 * (buf_len = the bytes written so far). -EINVAL as for send_owned, or
 * file_offset + len beyond INT64_MAX. */
int iouw_request_write_at_owned(int fd, uint64_t file_offset, void *buf, size_t len,
                                struct iouw_request **ret_req, struct iouw_handle **ret_handle);

/* fsync @fd. -EINVAL: fd < 0. */
int iouw_request_sync(int fd, struct iouw_request **ret_req, struct iouw_handle **ret_handle);

/* The same seven on a shared fd (core/fd.h): the request takes its own
 * reference on @fd (never a syscall) and puts it when it ends; the caller's
 * reference stays the caller's. Its memory (request and handle, one block)
 * comes from @pool (iouw_request_pool_new(); NULL: malloc) and goes back
 * there when both the request has ended and the handle is dropped, on
 * any thread (on the pool's owner without an atomic operation). A pool
 * belongs to the thread that made it: only that thread may construct
 * requests from it (another panics, "pool taken from a thread other than
 * its owner"; give each constructing thread its own pool), and it frees
 * it (core/pool.h). The handle of a request built from a pool is pinned to
 * that thread too (iouw_handle_pin(), core/handle.h): the caller waits,
 * polls and drops it there, and a request that ends on that thread (a loop
 * run by the same thread) delivers its result without an atomic
 * read-modify-write; with @pool NULL the handle may be used from any
 * thread. Arguments, checks and results as above, with -EINVAL for a NULL
 * @fd or a pool not made by iouw_request_pool_new(); no fcntl error is
 * possible. */
int iouw_request_send_fd(struct iouw_pool *pool, struct iouw_fd *fd, const struct iovec *iov, unsigned iovcnt,
                         uint64_t deadline_ns, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle);
int iouw_request_recv_fd(struct iouw_pool *pool, struct iouw_fd *fd, void *buf, size_t capacity, size_t offset, size_t len,
                         bool exact, uint64_t deadline_ns, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle);
int iouw_request_read_at_fd(struct iouw_pool *pool, struct iouw_fd *fd, uint64_t file_offset, void *buf, size_t capacity,
                            size_t len, struct iouw_request **ret_req,
                            struct iouw_handle **ret_handle);
int iouw_request_write_at_fd(struct iouw_pool *pool, struct iouw_fd *fd, uint64_t file_offset, const struct iovec *iov,
                             unsigned iovcnt, struct iouw_request **ret_req,
                             struct iouw_handle **ret_handle);
int iouw_request_sync_fd(struct iouw_pool *pool, struct iouw_fd *fd, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle);
int iouw_request_send_owned_fd(struct iouw_pool *pool, struct iouw_fd *fd, void *buf, size_t len,
                               uint64_t deadline_ns, struct iouw_request **ret_req,
                               struct iouw_handle **ret_handle);
int iouw_request_write_at_owned_fd(struct iouw_pool *pool, struct iouw_fd *fd,
                                   uint64_t file_offset, void *buf, size_t len,
                                   struct iouw_request **ret_req,
                                   struct iouw_handle **ret_handle);

/* --- observation (harness, fuzzers, tests) --------------------------------
 * Each panics ("not a kind request") for a request not built here. */

/* True when @req was built by one of the constructors above. */
bool iouw_request_is_kind(const struct iouw_request *req);
enum iouw_request_kind iouw_request_kind(const struct iouw_request *req);
/* The request's fd number (its dup, or the shared fd's), as its SQEs carry
 * it. */
int iouw_request_fd(const struct iouw_request *req);
/* send/recv: req->deadline_ns; other kinds: IOUW_NO_DEADLINE. */
uint64_t iouw_request_deadline(const struct iouw_request *req);
/* Progress cursor: bytes sent / filled (recv: offset, prefix included) /
 * read / written; 0 for sync. */
size_t iouw_request_progress(const struct iouw_request *req);
/* Target length: total bytes to send/write; recv and read_at: len; sync: 0. */
size_t iouw_request_length(const struct iouw_request *req);
/* length - progress (0 for sync). */
size_t iouw_request_remaining(const struct iouw_request *req);
/* Number of non-empty buffers of a send/write_at (1 for an owned one; 0
 * for other kinds). */
unsigned iouw_request_buffer_count(const struct iouw_request *req);
/* The recorded result: true and *ret_status, *ret_err (either may be NULL)
 * when on_cqe() recorded one, else false. */
bool iouw_request_result(const struct iouw_request *req, enum iouw_status *ret_status,
                         int *ret_err);
/* The handle's caller dropped it (what is_orphaned() reports for the kinds
 * that orphan). */
bool iouw_request_caller_gone(const struct iouw_request *req);

/* TEST-ONLY: overwrite the progress cursor, length and capacity to build a
 * shape the constructors refuse, so the shape panics can be exercised.
 * recv: offset/len/capacity; read_at: read/len/capacity; single-buffer
 * send/write_at: sent-or-written/total length (the one buffer's length is
 * set to @len; @capacity ignored). Memory is never touched through the new
 * shape before the checks fire. Never call it outside tests. */
void iouw_request_test_set_shape(struct iouw_request *req, size_t progress, size_t len,
                                 size_t capacity);

#endif /* IOUW_REQUEST_H */
