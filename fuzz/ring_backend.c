/* fuzz/ring_backend.c: see ring_backend.h. */
#define _GNU_SOURCE
#include "ring_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "udata.h"
#include "uring_backend.h"

#define RING_ENTRIES 8
#define RING_CQ_ENTRIES 16
#define MAX_SQ 64
/* user_data of a MSG_RING SQE's own CQE (only posted if it fails):
 * core/udata.h's carrier value. */
#define MSG_RING_SELF_USER_DATA IOUW_UDATA_INJECT_CARRIER

struct iouw_fz_ring {
	struct iouw_backend *ub;
	struct io_uring *ring;
	bool msg_ring;
	struct io_uring_sqe pending[MAX_SQ];
	unsigned sq, npending;
	struct io_uring_sqe *log;
	size_t nlog, log_cap;
	struct iouw_lr_io io;
};

static int ring_open(void *ctx, unsigned sq, unsigned cq)
{
	struct iouw_fz_ring *r = ctx;

	(void)cq; /* the real CQ is fixed: RING_CQ_ENTRIES */
	if (sq == 0 || sq > MAX_SQ)
		return -EINVAL;
	r->sq = sq;
	r->npending = 0;
	r->nlog = 0;
	return 0;
}

static void ring_close(void *ctx)
{
	struct iouw_fz_ring *r = ctx;
	struct iouw_cqe cqes[32];

	while (iouw_backend_reap(r->ub, cqes, 32) > 0)
		;
	r->npending = 0;
	r->nlog = 0;
}

static int ring_push(void *ctx, const struct io_uring_sqe *sqe)
{
	struct iouw_fz_ring *r = ctx;

	if (r->npending == r->sq)
		return -EBUSY;
	r->pending[r->npending++] = *sqe;
	return 0;
}

static unsigned ring_sq_space(void *ctx)
{
	struct iouw_fz_ring *r = ctx;

	return r->sq - r->npending;
}

static int ring_submit(void *ctx)
{
	struct iouw_fz_ring *r = ctx;
	unsigned n = r->npending;

	/* Nothing pushed (a history may start with a submit phase): the log
	 * may still be NULL, and memcpy to NULL is undefined even for 0 bytes. */
	if (n == 0)
		return 0;
	if (r->nlog + n > r->log_cap) {
		size_t cap = r->log_cap ? 2 * r->log_cap : 64;
		struct io_uring_sqe *grown;

		while (cap < r->nlog + n)
			cap *= 2;
		grown = realloc(r->log, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->log = grown;
		r->log_cap = cap;
	}
	memcpy(r->log + r->nlog, r->pending, n * sizeof(*r->pending));
	r->nlog += n;
	r->npending = 0;
	return (int)n;
}

static size_t ring_submitted(void *ctx, const struct io_uring_sqe **ret)
{
	struct iouw_fz_ring *r = ctx;

	*ret = r->nlog ? r->log : NULL;
	return r->nlog;
}

static void ring_clear_submitted(void *ctx)
{
	((struct iouw_fz_ring *)ctx)->nlog = 0;
}

static int ring_post(void *ctx, uint64_t user_data, int32_t res)
{
	struct iouw_fz_ring *r = ctx;
	struct io_uring_sqe *sqe = io_uring_get_sqe(r->ring);
	int rc;

	if (!sqe)
		return -EBUSY; /* never: every post submits at once */
	if (r->msg_ring) {
		iouw_uring_prep_inject_msg_ring(sqe, r->ring->ring_fd, user_data, res,
		                                MSG_RING_SELF_USER_DATA);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	} else {
		iouw_uring_prep_inject(sqe, user_data, res);
	}
	rc = io_uring_submit(r->ring);
	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : -EIO;
}

static size_t ring_cq_ready(void *ctx)
{
	struct iouw_fz_ring *r = ctx;

	return io_uring_cq_ready(r->ring) + (io_uring_cq_has_overflow(r->ring) ? 1 : 0);
}

static unsigned ring_reap(void *ctx, struct iouw_cqe *out, unsigned max)
{
	return iouw_backend_reap(((struct iouw_fz_ring *)ctx)->ub, out, max);
}

int iouw_fz_ring_new(struct iouw_fz_ring **ret)
{
	struct iouw_uring_config cfg = { .entries = RING_ENTRIES, .cq_entries = RING_CQ_ENTRIES };
	struct iouw_fz_ring *r;
	int err = iouw_uring_available();

	if (err < 0)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = iouw_uring_backend_new(&cfg, &r->ub);
	if (err < 0) {
		free(r);
		return err;
	}
	r->ring = iouw_uring_backend_ring(r->ub);
	if (iouw_uring_probe_nop_inject(r->ub) != 0) {
		err = iouw_uring_probe_msg_ring(r->ub);
		if (err < 0) {
			iouw_backend_free(r->ub);
			free(r);
			return err;
		}
		r->msg_ring = true;
	}
	r->io = (struct iouw_lr_io){
		.ctx = r,
		.open = ring_open,
		.close = ring_close,
		.push = ring_push,
		.sq_space = ring_sq_space,
		.submit = ring_submit,
		.submitted = ring_submitted,
		.clear_submitted = ring_clear_submitted,
		.post = ring_post,
		.cq_ready = ring_cq_ready,
		.reap = ring_reap,
	};
	*ret = r;
	return 0;
}

const struct iouw_lr_io *iouw_fz_ring_io(struct iouw_fz_ring *r)
{
	return &r->io;
}

const char *iouw_fz_ring_mode(const struct iouw_fz_ring *r)
{
	return r->msg_ring ? "msg-ring" : "nop-inject";
}

void iouw_ring_history_print(FILE *out, const uint8_t *data, size_t size)
{
	fprintf(out, "ring history = loop history (same decoder; printed by running it on the "
	             "in-memory ring)\n");
	iouw_loop_history_print(out, data, size);
}
