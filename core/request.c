/* core/request.c: see request.h. One ops table serves every kind; each
 * operation switches on the kind, so docs/requests.md §4.3's table reads column by column
 * in on_cqe(). */
#define _GNU_SOURCE
#include "request.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "fd.h"
#include "invariant.h"
#include "pool.h"

/* Fields in the order a request's life touches them: the first 64 bytes
 * hold what every stage reads (kind, fd, handle, buffer and cursor), the
 * result and the vectored send/write_at state come after (lines per
 * request: docs/requests.md §4.10). */
struct kind_request {
	struct iouw_request base;
	enum iouw_request_kind kind;
	int fd;                    /* fdref's number, as the SQEs carry it */
	struct iouw_fd *fdref;     /* our reference, put exactly once */
	struct iouw_handle *handle;
	/* recv/read_at/owned send and write_at: the caller's buffer;
	 * send/write_at: the owned copy. */
	uint8_t *buf;
	size_t len;                /* target length */
	size_t done;               /* progress cursor */
	size_t capacity;           /* recv/read_at; owned send/write_at: len */
	uint64_t file_offset;      /* read_at, write_at */

	enum iouw_status status;
	int err;
	size_t value;
	bool recorded;
	bool detached;   /* abandoned in flight: caller told, resources kept */
	bool exact;                /* recv */
	/* buf is the caller's, given back in the result (recv, read_at, and
	 * the *_owned send/write_at); else it is the request's own copy. */
	bool lent;

	/* send/write_at: the non-empty buffers (pointing into buf) and the
	 * position of the first unsent byte. */
	unsigned nsegs;
	struct iovec *segs;
	unsigned seg_index;
	size_t seg_off;
	/* Several buffers: what the last WRITEV SQE points at (allocated with
	 * segs, IOUW_REQUEST_MAX_IOVECS entries after them; lives there, not
	 * on a stack); NULL for one buffer. */
	struct iovec *iov;
	struct iovec seg1;         /* segs for a single buffer */

	/* send/write_at copies of at most SMALL_COPY bytes live here (buf
	 * points in); not zeroed at construction. Stays last. */
	uint8_t small[];
};

/* Copies this long or shorter stay inside the request's block. */
#define SMALL_COPY 128

/* One block holds the handle, then the request (the handle's last
 * reference gives the whole block back: see hand_out and end_with). */
static size_t handle_space(void)
{
	const size_t a = _Alignof(max_align_t);

	return (iouw_handle_size() + a - 1) / a * a;
}

static size_t block_size(void)
{
	return handle_space() + sizeof(struct kind_request) + SMALL_COPY;
}

/* send, recv and read_at can be orphaned; write_at and sync never are (their
 * work continues after the caller left), so their table has no is_orphaned
 * op and the waiter table skips the call. */
static const struct iouw_request_ops kind_ops, kind_ops_never_orphaned;

static bool is_kind_ops(const struct iouw_request *req)
{
	return req && (req->ops == &kind_ops || req->ops == &kind_ops_never_orphaned);
}

static struct kind_request *as_kind(struct iouw_request *req)
{
	IOUW_INVARIANT(is_kind_ops(req), "not a kind request");
	return (struct kind_request *)req;
}

static const struct kind_request *as_kind_const(const struct iouw_request *req)
{
	IOUW_INVARIANT(is_kind_ops(req), "not a kind request");
	return (const struct kind_request *)req;
}

/* The request an op of kind_ops or kind_ops_never_orphaned was called on.
 * Those tables are static here and only kind requests carry them, so an op
 * reached through req->ops always has one: as_kind()'s check (for the
 * observation calls, which take any request) could not fail here, and cost
 * ~40 instructions per request over its four to five op calls. */
static struct kind_request *from_op(struct iouw_request *req)
{
	return (struct kind_request *)req;
}

static const struct kind_request *from_op_const(const struct iouw_request *req)
{
	return (const struct kind_request *)req;
}

enum iouw_cqe_class iouw_cqe_classify(int32_t res, bool cancel_requested)
{
	if (res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR)
		return IOUW_CQE_RETRY;
	if (res == -ECANCELED && cancel_requested)
		return IOUW_CQE_CANCELLED;
	if (res < 0)
		return IOUW_CQE_ERROR;
	if (res == 0)
		return IOUW_CQE_ZERO;
	return IOUW_CQE_POSITIVE;
}

const char *iouw_request_kind_name(enum iouw_request_kind kind)
{
	switch (kind) {
	case IOUW_REQUEST_SEND: return "send";
	case IOUW_REQUEST_RECV: return "recv";
	case IOUW_REQUEST_READ_AT: return "read_at";
	case IOUW_REQUEST_WRITE_AT: return "write_at";
	case IOUW_REQUEST_SYNC: return "sync";
	}
	return "unknown";
}

const char *iouw_cqe_class_name(enum iouw_cqe_class cls)
{
	switch (cls) {
	case IOUW_CQE_RETRY: return "retry";
	case IOUW_CQE_CANCELLED: return "cancelled";
	case IOUW_CQE_ERROR: return "error";
	case IOUW_CQE_ZERO: return "zero";
	case IOUW_CQE_POSITIVE: return "positive";
	}
	return "unknown";
}

uint64_t iouw_deadline_after(uint64_t now_ns, uint64_t timeout_ns)
{
	if (timeout_ns >= IOUW_NO_DEADLINE - now_ns)
		return IOUW_NO_DEADLINE;
	return now_ns + timeout_ns;
}

/* ---- construction ------------------------------------------------------ */

static void release_pooled(void *block)
{
	iouw_pool_give(block);
}

static void release_malloced(void *block)
{
	free(block);
}

int iouw_request_pool_new(unsigned max_cached, struct iouw_pool **ret_pool)
{
	return iouw_pool_new(block_size(), max_cached, ret_pool);
}

/* A new request on @shared (a reference is taken) or, when @shared is
 * NULL, on a private duplicate of @fd; its block (handle and request) from
 * @pool, or malloc'd when @pool is NULL. */
static int new_kind(enum iouw_request_kind kind, int fd, struct iouw_fd *shared,
                    struct iouw_pool *pool, struct kind_request **ret)
{
	void *block;
	struct kind_request *k;
	struct iouw_handle *h;
	int r;

	if (pool && iouw_pool_block_size(pool) != block_size())
		return -EINVAL;
	block = pool ? iouw_pool_take(pool) : malloc(block_size());
	if (!block)
		return -ENOMEM;
	r = iouw_handle_init(block, pool ? release_pooled : release_malloced, &h);
	if (r < 0) {
		(pool ? release_pooled : release_malloced)(block);
		return r;
	}
	/* A pool serves its owner thread (core/pool.h), and so do the
	 * handles of the requests built from it (core/request.h). */
	if (pool)
		iouw_handle_pin(h);
	k = (struct kind_request *)((char *)block + handle_space());
	/* Every field but small[] set here, one by one: a memset of this
	 * size compiles to `rep stos`, whose start-up cost was half of
	 * new_kind's time (perf). */
	k->base.ops = NULL;
	k->kind = kind;
	k->fdref = NULL;
	k->fd = -1;
	k->handle = h;
	k->file_offset = 0;
	k->exact = false;
	k->lent = false;
	k->buf = NULL;
	k->capacity = 0;
	k->len = 0;
	k->done = 0;
	k->segs = NULL;
	k->nsegs = 0;
	k->seg_index = 0;
	k->seg_off = 0;
	k->iov = NULL;
	k->seg1 = (struct iovec){ NULL, 0 };
	k->recorded = false;
	k->detached = false;
	k->status = IOUW_RESULT_OK;
	k->err = 0;
	k->value = 0;
	if (shared) {
		k->fdref = iouw_fd_get(shared);
	} else {
		r = iouw_fd_dup(fd, &k->fdref);
		if (r < 0) {
			iouw_handle_put(h);
			iouw_handle_drop(h); /* the last reference: the block goes */
			return r;
		}
	}
	k->fd = iouw_fd_num(k->fdref);
	k->base.ops = kind == IOUW_REQUEST_WRITE_AT || kind == IOUW_REQUEST_SYNC
		? &kind_ops_never_orphaned : &kind_ops;
	k->base.deadline_ns = IOUW_NO_DEADLINE;
	k->kind = kind;
	*ret = k;
	return 0;
}

/* Free what a send/write_at copy allocated outside the block. */
static void free_copy(struct kind_request *k)
{
	if (k->buf != k->small)
		free(k->buf);
	k->buf = NULL;
	if (k->segs != &k->seg1)
		free(k->segs);
	k->segs = NULL;
}

/* Undo new_kind() for a request nobody saw yet. */
static void discard_new(struct kind_request *k)
{
	struct iouw_handle *h = k->handle;

	free_copy(k);
	iouw_fd_put(k->fdref);
	iouw_handle_put(h);
	iouw_handle_drop(h); /* the last reference: the block goes */
}

/* Validate @iov for send/write_at: 0 and *ret_total, or -EINVAL. */
static int check_iov(const struct iovec *iov, unsigned iovcnt, size_t *ret_total,
                     unsigned *ret_nonempty)
{
	size_t total = 0;
	unsigned nonempty = 0;

	if (!iov || iovcnt == 0)
		return -EINVAL;
	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		if (!iov[i].iov_base || iov[i].iov_len > SIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
		nonempty++;
	}
	if (total == 0)
		return -EINVAL;
	/* One buffer goes out as SEND/WRITE, whose length is a u32. */
	if (nonempty == 1 && total > UINT32_MAX)
		return -EINVAL;
	*ret_total = total;
	*ret_nonempty = nonempty;
	return 0;
}

/* Take the caller's single buffer @iov[0] (checked by check_iov(): one
 * non-empty buffer) without copying: it is given back in the result. */
static void lend_buffer(struct kind_request *k, const struct iovec *iov)
{
	k->buf = iov->iov_base;
	k->capacity = iov->iov_len;
	k->lent = true;
	k->seg1 = *iov;
	k->segs = &k->seg1;
	k->nsegs = 1;
	k->len = iov->iov_len;
}

/* Copy @iov into one owned allocation described by k->segs. */
static int copy_iov(struct kind_request *k, const struct iovec *iov, unsigned iovcnt, size_t total,
                    unsigned nonempty)
{
	size_t at = 0;
	unsigned s = 0;

	k->buf = total <= SMALL_COPY ? k->small : malloc(total);
	if (nonempty == 1) {
		k->segs = &k->seg1;
	} else {
		/* The segments, then the WRITEV iovecs. */
		k->segs = calloc((size_t)nonempty + IOUW_REQUEST_MAX_IOVECS, sizeof(*k->segs));
		if (k->segs)
			k->iov = k->segs + nonempty;
	}
	if (!k->buf || !k->segs) {
		if (k->buf != k->small)
			free(k->buf);
		if (k->segs != &k->seg1)
			free(k->segs);
		k->buf = NULL;
		k->segs = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(k->buf + at, iov[i].iov_base, iov[i].iov_len);
		k->segs[s].iov_base = k->buf + at;
		k->segs[s].iov_len = iov[i].iov_len;
		at += iov[i].iov_len;
		s++;
	}
	k->nsegs = nonempty;
	k->len = total;
	return 0;
}

/* A send/write_at of @iov: copied, or, when @lend, @iov's one buffer
 * itself (the caller's malloc'd memory, which the request then owns). */
static int build_vectored(enum iouw_request_kind kind, int fd, struct iouw_fd *shared,
                          struct iouw_pool *pool, uint64_t file_offset, const struct iovec *iov, unsigned iovcnt,
                          bool lend, struct kind_request **ret)
{
	struct kind_request *k = NULL;
	size_t total;
	unsigned nonempty;
	int r;

	if (fd < 0)
		return -EINVAL;
	r = check_iov(iov, iovcnt, &total, &nonempty);
	if (r < 0)
		return r;
	if (kind == IOUW_REQUEST_WRITE_AT &&
	    (file_offset > (uint64_t)INT64_MAX || total > (uint64_t)INT64_MAX - file_offset))
		return -EINVAL;
	r = new_kind(kind, fd, shared, pool, &k);
	if (r < 0)
		return r;
	if (lend) {
		lend_buffer(k, iov);
	} else {
		r = copy_iov(k, iov, iovcnt, total, nonempty);
		if (r < 0) {
			discard_new(k);
			return r;
		}
	}
	k->file_offset = file_offset;
	*ret = k;
	return 0;
}

static void hand_out(struct kind_request *k, struct iouw_request **ret_req,
                     struct iouw_handle **ret_handle)
{
	*ret_req = &k->base;
	*ret_handle = k->handle;
}

/* Each constructor below works on @shared (a reference taken) when it is
 * not NULL, else on a duplicate of @fd. make_send and make_write_at copy
 * @iov, or, when @lend (the *_owned constructors, @iovcnt 1), take its one
 * buffer. */

static int make_send(int fd, struct iouw_fd *shared, struct iouw_pool *pool,
                     const struct iovec *iov, unsigned iovcnt, bool lend,
                     uint64_t deadline_ns, struct iouw_request **ret_req,
                     struct iouw_handle **ret_handle)
{
	struct kind_request *k = NULL;
	int r;

	if (!ret_req || !ret_handle)
		return -EINVAL;
	r = build_vectored(IOUW_REQUEST_SEND, fd, shared, pool, 0, iov, iovcnt, lend, &k);
	if (r < 0)
		return r;
	k->base.deadline_ns = deadline_ns;
	hand_out(k, ret_req, ret_handle);
	return 0;
}

static int make_write_at(int fd, struct iouw_fd *shared, struct iouw_pool *pool,
                         uint64_t file_offset, const struct iovec *iov, unsigned iovcnt,
                         bool lend, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle)
{
	struct kind_request *k = NULL;
	int r;

	if (!ret_req || !ret_handle)
		return -EINVAL;
	r = build_vectored(IOUW_REQUEST_WRITE_AT, fd, shared, pool, file_offset, iov, iovcnt, lend,
	                   &k);
	if (r < 0)
		return r;
	hand_out(k, ret_req, ret_handle);
	return 0;
}

static int make_recv(int fd, struct iouw_fd *shared, struct iouw_pool *pool,
                     void *buf, size_t capacity, size_t offset,
                     size_t len, bool exact, uint64_t deadline_ns, struct iouw_request **ret_req,
                     struct iouw_handle **ret_handle)
{
	struct kind_request *k = NULL;
	int r;

	if (fd < 0 || !buf || !ret_req || !ret_handle || !(offset < len && len <= capacity))
		return -EINVAL;
	r = new_kind(IOUW_REQUEST_RECV, fd, shared, pool, &k);
	if (r < 0)
		return r;
	k->buf = buf;
	k->lent = true;
	k->capacity = capacity;
	k->len = len;
	k->done = offset;
	k->exact = exact;
	k->base.deadline_ns = deadline_ns;
	hand_out(k, ret_req, ret_handle);
	return 0;
}

static int make_read_at(int fd, struct iouw_fd *shared, struct iouw_pool *pool,
                     uint64_t file_offset, void *buf,
                        size_t capacity, size_t len, struct iouw_request **ret_req,
                        struct iouw_handle **ret_handle)
{
	struct kind_request *k = NULL;
	int r;

	if (fd < 0 || !buf || !ret_req || !ret_handle || len == 0 || len > capacity ||
	    file_offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - file_offset)
		return -EINVAL;
	r = new_kind(IOUW_REQUEST_READ_AT, fd, shared, pool, &k);
	if (r < 0)
		return r;
	k->buf = buf;
	k->lent = true;
	k->capacity = capacity;
	k->len = len;
	k->file_offset = file_offset;
	hand_out(k, ret_req, ret_handle);
	return 0;
}

static int make_sync(int fd, struct iouw_fd *shared, struct iouw_pool *pool,
                     struct iouw_request **ret_req,
                     struct iouw_handle **ret_handle)
{
	struct kind_request *k = NULL;
	int r;

	if (fd < 0 || !ret_req || !ret_handle)
		return -EINVAL;
	r = new_kind(IOUW_REQUEST_SYNC, fd, shared, pool, &k);
	if (r < 0)
		return r;
	hand_out(k, ret_req, ret_handle);
	return 0;
}

/* The descriptor number a shared fd stands for; -1 (refused as -EINVAL by
 * every constructor) for NULL. */
static int shared_num(const struct iouw_fd *f)
{
	return f ? iouw_fd_num(f) : -1;
}

int iouw_request_send(int fd, const struct iovec *iov, unsigned iovcnt, uint64_t deadline_ns,
                      struct iouw_request **ret_req, struct iouw_handle **ret_handle)
{
	return make_send(fd, NULL, NULL, iov, iovcnt, false, deadline_ns, ret_req, ret_handle);
}

int iouw_request_send_fd(struct iouw_pool *pool, struct iouw_fd *fd, const struct iovec *iov, unsigned iovcnt,
                         uint64_t deadline_ns, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle)
{
	return make_send(shared_num(fd), fd, pool, iov, iovcnt, false, deadline_ns, ret_req,
	                 ret_handle);
}

/* The *_owned constructors: @buf, @len as the one buffer of a copying
 * constructor's iovec (so the same checks refuse a NULL @buf, @len 0 or
 * beyond UINT32_MAX), taken instead of copied. */

int iouw_request_send_owned(int fd, void *buf, size_t len, uint64_t deadline_ns,
                            struct iouw_request **ret_req, struct iouw_handle **ret_handle)
{
	struct iovec iov = { buf, len };

	return make_send(fd, NULL, NULL, &iov, 1, true, deadline_ns, ret_req, ret_handle);
}

int iouw_request_send_owned_fd(struct iouw_pool *pool, struct iouw_fd *fd, void *buf, size_t len,
                               uint64_t deadline_ns, struct iouw_request **ret_req,
                               struct iouw_handle **ret_handle)
{
	struct iovec iov = { buf, len };

	return make_send(shared_num(fd), fd, pool, &iov, 1, true, deadline_ns, ret_req, ret_handle);
}

int iouw_request_write_at_owned(int fd, uint64_t file_offset, void *buf, size_t len,
                                struct iouw_request **ret_req, struct iouw_handle **ret_handle)
{
	struct iovec iov = { buf, len };

	return make_write_at(fd, NULL, NULL, file_offset, &iov, 1, true, ret_req, ret_handle);
}

int iouw_request_write_at_owned_fd(struct iouw_pool *pool, struct iouw_fd *fd,
                                   uint64_t file_offset, void *buf, size_t len,
                                   struct iouw_request **ret_req,
                                   struct iouw_handle **ret_handle)
{
	struct iovec iov = { buf, len };

	return make_write_at(shared_num(fd), fd, pool, file_offset, &iov, 1, true, ret_req,
	                     ret_handle);
}

int iouw_request_write_at(int fd, uint64_t file_offset, const struct iovec *iov, unsigned iovcnt,
                          struct iouw_request **ret_req, struct iouw_handle **ret_handle)
{
	return make_write_at(fd, NULL, NULL, file_offset, iov, iovcnt, false, ret_req, ret_handle);
}

int iouw_request_write_at_fd(struct iouw_pool *pool, struct iouw_fd *fd, uint64_t file_offset, const struct iovec *iov,
                             unsigned iovcnt, struct iouw_request **ret_req,
                             struct iouw_handle **ret_handle)
{
	return make_write_at(shared_num(fd), fd, pool, file_offset, iov, iovcnt, false, ret_req,
	                     ret_handle);
}

int iouw_request_recv(int fd, void *buf, size_t capacity, size_t offset, size_t len, bool exact,
                      uint64_t deadline_ns, struct iouw_request **ret_req,
                      struct iouw_handle **ret_handle)
{
	return make_recv(fd, NULL, NULL, buf, capacity, offset, len, exact, deadline_ns, ret_req,
	                 ret_handle);
}

int iouw_request_recv_fd(struct iouw_pool *pool, struct iouw_fd *fd, void *buf, size_t capacity, size_t offset, size_t len,
                         bool exact, uint64_t deadline_ns, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle)
{
	return make_recv(shared_num(fd), fd, pool, buf, capacity, offset, len, exact, deadline_ns,
	                 ret_req, ret_handle);
}

int iouw_request_read_at(int fd, uint64_t file_offset, void *buf, size_t capacity, size_t len,
                         struct iouw_request **ret_req, struct iouw_handle **ret_handle)
{
	return make_read_at(fd, NULL, NULL, file_offset, buf, capacity, len, ret_req, ret_handle);
}

int iouw_request_read_at_fd(struct iouw_pool *pool, struct iouw_fd *fd, uint64_t file_offset, void *buf, size_t capacity,
                            size_t len, struct iouw_request **ret_req,
                            struct iouw_handle **ret_handle)
{
	return make_read_at(shared_num(fd), fd, pool, file_offset, buf, capacity, len, ret_req,
	                    ret_handle);
}

int iouw_request_sync(int fd, struct iouw_request **ret_req, struct iouw_handle **ret_handle)
{
	return make_sync(fd, NULL, NULL, ret_req, ret_handle);
}

int iouw_request_sync_fd(struct iouw_pool *pool, struct iouw_fd *fd, struct iouw_request **ret_req,
                         struct iouw_handle **ret_handle)
{
	return make_sync(shared_num(fd), fd, pool, ret_req, ret_handle);
}

/* ---- SQE (docs/requests.md §4.1) --------------------------------------- */

/* Refresh k->iov with up to 32 iovecs of the unsent bytes; returns the
 * count. */
static unsigned fill_iovecs(struct kind_request *k)
{
	unsigned n = 0;
	unsigned s = k->seg_index;
	size_t off = k->seg_off;

	while (s < k->nsegs && n < IOUW_REQUEST_MAX_IOVECS) {
		k->iov[n].iov_base = (uint8_t *)k->segs[s].iov_base + off;
		k->iov[n].iov_len = k->segs[s].iov_len - off;
		n++;
		s++;
		off = 0;
	}
	return n;
}

/* SEND/WRITE of the one buffer, or WRITEV of up to 32 buffers. */
static void build_vectored_sqe(struct kind_request *k, struct io_uring_sqe *sqe)
{
	bool send = k->kind == IOUW_REQUEST_SEND;
	uint64_t off = k->file_offset + k->done;

	if (k->nsegs == 1) {
		size_t left = k->len - k->done;
		const uint8_t *at = (const uint8_t *)k->segs[0].iov_base + k->seg_off;

		if (send) {
			IOUW_INVARIANT(left <= UINT32_MAX, "send length fits u32");
			io_uring_prep_send(sqe, k->fd, at, (size_t)left, MSG_NOSIGNAL);
		} else {
			IOUW_INVARIANT(left <= UINT32_MAX, "write_at length fits u32");
			io_uring_prep_write(sqe, k->fd, at, (unsigned)left, off);
		}
		return;
	}
	/* A send has no file offset: 0 is what the kernel ignores for a
	 * socket; -1 would mean "current position" for a file, which a
	 * socket has not either. */
	io_uring_prep_writev(sqe, k->fd, k->iov, fill_iovecs(k), send ? 0 : off);
}

static void kind_build_sqe(struct iouw_request *req, struct io_uring_sqe *sqe, uint64_t user_data)
{
	struct kind_request *k = from_op(req);
	size_t left;

	IOUW_INVARIANT(!k->recorded, "request SQE built after terminal result");
	switch (k->kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT:
		build_vectored_sqe(k, sqe);
		break;
	case IOUW_REQUEST_RECV:
		IOUW_INVARIANT(k->done <= k->len && k->len <= k->capacity,
		               "recv offset <= len <= capacity");
		left = k->len - k->done;
		io_uring_prep_recv(sqe, k->fd, k->buf + k->done,
		                   left > UINT32_MAX ? UINT32_MAX : left, 0);
		break;
	case IOUW_REQUEST_READ_AT:
		IOUW_INVARIANT(k->done <= k->len && k->len <= k->capacity,
		               "read_at read <= len <= capacity");
		left = k->len - k->done;
		io_uring_prep_read(sqe, k->fd, k->buf + k->done,
		                   left > UINT32_MAX ? UINT32_MAX : (unsigned)left,
		                   k->file_offset + k->done);
		break;
	case IOUW_REQUEST_SYNC:
		io_uring_prep_fsync(sqe, k->fd, 0);
		break;
	}
	io_uring_sqe_set_data64(sqe, user_data);
}

/* ---- CQE (docs/requests.md §4.2, §4.3) --------------------------------- */

/* Record the terminal result; returns true (terminal) for tail calls. */
static bool record(struct kind_request *k, enum iouw_status status, int err, size_t value)
{
	k->recorded = true;
	k->status = status;
	k->err = err;
	k->value = value;
	return true;
}

/* docs/requests.md §4.2 and §4.3: an Error result carries the errno -res. A kernel reports
 * -4095..-1, but any int32 may arrive (docs/kernel.md §8): every other negative is
 * still negated without overflow, except INT32_MIN, which has no positive
 * int and so is a named invariant, never undefined behaviour. */
static int error_of(int32_t res)
{
	IOUW_INVARIANT(res != INT32_MIN, "CQE result INT32_MIN is no errno");
	return -res;
}

/* Move the send/write cursor @n bytes forward (n <= remaining). */
static void advance_vectored(struct kind_request *k, size_t n)
{
	k->done += n;
	while (n > 0) {
		size_t avail = k->segs[k->seg_index].iov_len - k->seg_off;

		if (n < avail) {
			k->seg_off += n;
			return;
		}
		n -= avail;
		k->seg_index++;
		k->seg_off = 0;
	}
	/* Skip to the next buffer when this one ended exactly here. */
	if (k->seg_index < k->nsegs && k->seg_off == k->segs[k->seg_index].iov_len) {
		k->seg_index++;
		k->seg_off = 0;
	}
}

static bool send_on_cqe(struct kind_request *k, enum iouw_cqe_class cls, bool cancel, int32_t res)
{
	switch (cls) {
	case IOUW_CQE_RETRY:
		return cancel ? record(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0) : false;
	case IOUW_CQE_CANCELLED:
		return record(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0);
	case IOUW_CQE_ERROR:
		return record(k, IOUW_RESULT_SEND_FAILED, error_of(res), 0);
	case IOUW_CQE_ZERO:
		return record(k, IOUW_RESULT_SEND_FAILED, 0, 0);
	case IOUW_CQE_POSITIVE:
		IOUW_INVARIANT((size_t)res <= k->len - k->done, "send past end");
		advance_vectored(k, (size_t)res);
		if (k->done == k->len)
			return record(k, IOUW_RESULT_OK, 0, k->len);
		/* A prefix may be on the wire: the caller must see Timeout. */
		return cancel ? record(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0) : false;
	}
	return false;
}

static bool recv_on_cqe(struct kind_request *k, enum iouw_cqe_class cls, bool cancel, int32_t res)
{
	switch (cls) {
	case IOUW_CQE_RETRY:
		return cancel ? record(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0) : false;
	case IOUW_CQE_CANCELLED:
		return record(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0);
	case IOUW_CQE_ERROR:
		return record(k, IOUW_RESULT_RECV_FAILED, error_of(res), 0);
	case IOUW_CQE_ZERO:
		return record(k, IOUW_RESULT_RECV_FAILED, 0, 0);
	case IOUW_CQE_POSITIVE:
		IOUW_INVARIANT(k->done <= k->len && k->len <= k->capacity,
		               "recv offset <= len <= capacity");
		IOUW_INVARIANT((size_t)res <= k->len - k->done, "recv result larger than asked");
		k->done += (size_t)res;
		if (!k->exact || k->done >= k->len)
			return record(k, IOUW_RESULT_OK, 0, k->done);
		return cancel ? record(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0) : false;
	}
	return false;
}

static bool read_at_on_cqe(struct kind_request *k, enum iouw_cqe_class cls, int32_t res)
{
	switch (cls) {
	case IOUW_CQE_RETRY:
		/* Even when cancel-requested: stage() then times it out. */
		return false;
	case IOUW_CQE_CANCELLED:
		return record(k, IOUW_RESULT_READ_FAILED, ECANCELED, 0);
	case IOUW_CQE_ERROR:
		return record(k, IOUW_RESULT_READ_FAILED, error_of(res), 0);
	case IOUW_CQE_ZERO:
		return record(k, IOUW_RESULT_INSUFFICIENT_LENGTH, 0, 0);
	case IOUW_CQE_POSITIVE:
		IOUW_INVARIANT(k->done <= k->len && k->len <= k->capacity,
		               "read_at read <= len <= capacity");
		IOUW_INVARIANT((size_t)res <= k->len - k->done, "read_at result larger than asked");
		k->done += (size_t)res;
		if (k->done >= k->len)
			return record(k, IOUW_RESULT_OK, 0, k->len);
		return false;
	}
	return false;
}

static bool write_at_on_cqe(struct kind_request *k, enum iouw_cqe_class cls, int32_t res)
{
	switch (cls) {
	case IOUW_CQE_RETRY:
		return false;
	case IOUW_CQE_CANCELLED:
		return record(k, IOUW_RESULT_WRITE_FAILED, ECANCELED, 0);
	case IOUW_CQE_ERROR:
		return record(k, IOUW_RESULT_WRITE_FAILED, error_of(res), 0);
	case IOUW_CQE_ZERO:
		return record(k, IOUW_RESULT_WRITE_FAILED, 0, 0);
	case IOUW_CQE_POSITIVE:
		IOUW_INVARIANT((size_t)res <= k->len - k->done, "write_at past end");
		advance_vectored(k, (size_t)res);
		if (k->done == k->len)
			return record(k, IOUW_RESULT_OK, 0, k->len);
		return false;
	}
	return false;
}

static bool sync_on_cqe(struct kind_request *k, enum iouw_cqe_class cls, int32_t res)
{
	switch (cls) {
	case IOUW_CQE_RETRY:
		return false;
	case IOUW_CQE_CANCELLED:
		return record(k, IOUW_RESULT_SYNC_ERROR, ECANCELED, 0);
	case IOUW_CQE_ERROR:
		return record(k, IOUW_RESULT_SYNC_ERROR, error_of(res), 0);
	case IOUW_CQE_ZERO:
	case IOUW_CQE_POSITIVE:
		return record(k, IOUW_RESULT_OK, 0, 0);
	}
	return false;
}

static bool kind_on_cqe(struct iouw_request *req, bool cancel_requested, int32_t res)
{
	struct kind_request *k = from_op(req);
	enum iouw_cqe_class cls = iouw_cqe_classify(res, cancel_requested);

	IOUW_INVARIANT(!k->recorded, "request CQE after terminal result");
	switch (k->kind) {
	case IOUW_REQUEST_SEND: return send_on_cqe(k, cls, cancel_requested, res);
	case IOUW_REQUEST_RECV: return recv_on_cqe(k, cls, cancel_requested, res);
	case IOUW_REQUEST_READ_AT: return read_at_on_cqe(k, cls, res);
	case IOUW_REQUEST_WRITE_AT: return write_at_on_cqe(k, cls, res);
	case IOUW_REQUEST_SYNC: return sync_on_cqe(k, cls, res);
	}
	return false;
}

/* ---- orphaning and delivery (docs/requests.md §4.4) --------------------- */

static bool kind_is_orphaned(const struct iouw_request *req)
{
	const struct kind_request *k = from_op_const(req);

	/* Only send, recv and read_at carry this op: write_at and sync are
	 * never orphaned (their work continues after the caller left), so
	 * their table, kind_ops_never_orphaned, has none. */
	IOUW_INVARIANT(k->kind == IOUW_REQUEST_SEND || k->kind == IOUW_REQUEST_RECV ||
	                       k->kind == IOUW_REQUEST_READ_AT,
	               "is_orphaned asked of a kind that is never orphaned");
	return iouw_handle_is_dropped(k->handle);
}

/* recv, read_at and the *_owned send/write_at give the caller's buffer
 * back; the copying send/write_at free their copy. */
static bool returns_buffer(const struct kind_request *k)
{
	return k->lent;
}

/* Deliver (@status, @err, @value) with the caller's buffer, then release
 * every resource exactly once. Ends the request: the handle's last
 * reference may take the block holding k with it, so k is not touched
 * after the handle is let go. */
static void end_with(struct kind_request *k, enum iouw_status status, int err, size_t value)
{
	struct iouw_result r = { .status = status, .err = err, .value = value };
	struct iouw_handle *h = k->handle;
	void *buf = NULL; /* the caller's buffer (recv, read_at, owned send/write_at) */

	if (returns_buffer(k)) {
		/* buf_len: the progress cursor (filled, read, sent, written);
		 * buf_capacity: recv/read_at's capacity, an owned send or
		 * write_at's length. */
		buf = k->buf;
		r.buf = k->buf;
		r.buf_len = k->done;
		r.buf_capacity = k->capacity;
	} else {
		free_copy(k); /* send/write copy */
	}
	iouw_fd_put(k->fdref);
	if (k->detached) {
		/* Already told its caller (ABANDONED, no buffer): the buffer
		 * the kernel may have written stays ours to free. */
		iouw_handle_put(h);
		free(buf);
		return;
	}
	if (!iouw_handle_deliver_and_put(h, &r))
		free(buf); /* the caller left: nobody wants it */
}

/* docs/requests.md §4.4, fallback row. */
static void fallback(const struct kind_request *k, enum iouw_status *status)
{
	switch (k->kind) {
	case IOUW_REQUEST_SEND: *status = IOUW_RESULT_SEND_FAILED; return;
	case IOUW_REQUEST_RECV: *status = IOUW_RESULT_RECV_FAILED; return;
	case IOUW_REQUEST_READ_AT: *status = IOUW_RESULT_READ_FAILED; return;
	case IOUW_REQUEST_WRITE_AT: *status = IOUW_RESULT_WRITE_FAILED; return;
	case IOUW_REQUEST_SYNC: *status = IOUW_RESULT_OK; return;
	}
}

static void kind_finish(struct iouw_request *req, enum iouw_finish how)
{
	struct kind_request *k = from_op(req);
	enum iouw_status status = IOUW_RESULT_OK;

	if (how == IOUW_FINISH_TIMEOUT) {
		if (k->kind == IOUW_REQUEST_SYNC)
			end_with(k, IOUW_RESULT_SYNC_ERROR, ETIMEDOUT, 0);
		else
			end_with(k, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0);
		return;
	}
	IOUW_INVARIANT(how == IOUW_FINISH_COMPLETE, "finish with unknown mode");
	if (k->recorded) {
		end_with(k, k->status, k->err, k->value);
		return;
	}
	fallback(k, &status);
	end_with(k, status, 0, 0);
}

static void kind_release(struct iouw_request *req)
{
	end_with(from_op(req), IOUW_RESULT_ABANDONED, ECANCELED, 0);
}

/* Abandoned while the op may still be in the kernel: the caller hears now,
 * but the buffer (which the kernel may still write) stays with the request
 * until release() frees it. */
static void kind_detach(struct iouw_request *req)
{
	struct kind_request *k = from_op(req);
	struct iouw_result r = { .status = IOUW_RESULT_ABANDONED, .err = ECANCELED };

	IOUW_INVARIANT(!k->detached, "request detached twice");
	(void)iouw_handle_deliver(k->handle, &r);
	k->detached = true;
}

static const struct iouw_request_ops kind_ops = {
	.build_sqe = kind_build_sqe,
	.on_cqe = kind_on_cqe,
	.is_orphaned = kind_is_orphaned,
	.finish = kind_finish,
	.release = kind_release,
	.detach = kind_detach,
};

static const struct iouw_request_ops kind_ops_never_orphaned = {
	.build_sqe = kind_build_sqe,
	.on_cqe = kind_on_cqe,
	.is_orphaned = NULL,
	.finish = kind_finish,
	.release = kind_release,
	.detach = kind_detach,
};

/* ---- observation -------------------------------------------------------- */

bool iouw_request_is_kind(const struct iouw_request *req)
{
	return is_kind_ops(req);
}

enum iouw_request_kind iouw_request_kind(const struct iouw_request *req)
{
	return as_kind_const(req)->kind;
}

int iouw_request_fd(const struct iouw_request *req)
{
	return as_kind_const(req)->fd;
}

uint64_t iouw_request_deadline(const struct iouw_request *req)
{
	const struct kind_request *k = as_kind_const(req);

	if (k->kind == IOUW_REQUEST_SEND || k->kind == IOUW_REQUEST_RECV)
		return k->base.deadline_ns;
	return IOUW_NO_DEADLINE;
}

size_t iouw_request_progress(const struct iouw_request *req)
{
	return as_kind_const(req)->done;
}

size_t iouw_request_length(const struct iouw_request *req)
{
	return as_kind_const(req)->len;
}

size_t iouw_request_remaining(const struct iouw_request *req)
{
	const struct kind_request *k = as_kind_const(req);

	return k->done <= k->len ? k->len - k->done : 0;
}

unsigned iouw_request_buffer_count(const struct iouw_request *req)
{
	return as_kind_const(req)->nsegs;
}

bool iouw_request_result(const struct iouw_request *req, enum iouw_status *ret_status,
                         int *ret_err)
{
	const struct kind_request *k = as_kind_const(req);

	if (!k->recorded)
		return false;
	if (ret_status)
		*ret_status = k->status;
	if (ret_err)
		*ret_err = k->err;
	return true;
}

bool iouw_request_caller_gone(const struct iouw_request *req)
{
	return iouw_handle_is_dropped(as_kind_const(req)->handle);
}

void iouw_request_test_set_shape(struct iouw_request *req, size_t progress, size_t len,
                                 size_t capacity)
{
	struct kind_request *k = as_kind(req);

	k->done = progress;
	k->len = len;
	if (k->kind == IOUW_REQUEST_RECV || k->kind == IOUW_REQUEST_READ_AT) {
		k->capacity = capacity;
	} else if (k->nsegs == 1) {
		k->segs[0].iov_len = len;
		k->seg_index = 0;
		k->seg_off = progress;
	}
}
