/* tests/fake_request.c: see fake_request.h. */
#include "fake_request.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

static void fake_build_sqe(struct iouw_request *req, struct io_uring_sqe *sqe, uint64_t user_data)
{
	struct fake_request *f = (struct fake_request *)req;

	f->log->builds++;
	if (f->remaining == 0)
		io_uring_prep_fsync(sqe, f->fd, 0);
	else
		io_uring_prep_send(sqe, f->fd, NULL, f->remaining, 0);
	io_uring_sqe_set_data64(sqe, user_data);
}

static bool fake_on_cqe(struct iouw_request *req, bool cancel_requested, int32_t res)
{
	struct fake_request *f = (struct fake_request *)req;

	f->log->cqes++;
	f->log->last_res = res;
	f->log->last_cancel_requested = cancel_requested;
	if (res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR)
		return false;
	if (res < 0 || f->remaining == 0) {
		f->recorded = true;
		return true;
	}
	f->remaining -= (uint32_t)res < f->remaining ? (uint32_t)res : f->remaining;
	f->recorded = f->remaining == 0;
	return f->recorded;
}

static bool fake_is_orphaned(const struct iouw_request *req)
{
	return ((const struct fake_request *)req)->orphaned;
}

static void fake_destroy(struct fake_request *f)
{
	close(f->fd);
	close(f->peer_fd);
	free(f);
}

static void fake_finish(struct iouw_request *req, enum iouw_finish how)
{
	struct fake_request *f = (struct fake_request *)req;

	f->log->finishes++;
	f->log->finished_how = how;
	fake_destroy(f);
}

static void fake_release(struct iouw_request *req)
{
	struct fake_request *f = (struct fake_request *)req;

	f->log->releases++;
	fake_destroy(f);
}

static const struct iouw_request_ops fake_ops = {
	.build_sqe = fake_build_sqe,
	.on_cqe = fake_on_cqe,
	.is_orphaned = fake_is_orphaned,
	.finish = fake_finish,
	.release = fake_release,
};

static const struct iouw_request_ops fake_ops_never_orphaned = {
	.build_sqe = fake_build_sqe,
	.on_cqe = fake_on_cqe,
	.finish = fake_finish,
	.release = fake_release,
};

void fake_request_never_orphaned(struct fake_request *f)
{
	f->base.ops = &fake_ops_never_orphaned;
}

struct fake_request *fake_request_new_len(struct fake_log *log, uint32_t len)
{
	struct fake_request *f = calloc(1, sizeof(*f));
	int sv[2];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->base.ops = &fake_ops;
	f->base.deadline_ns = IOUW_NO_DEADLINE;
	f->log = log;
	f->fd = sv[0];
	f->peer_fd = sv[1];
	f->remaining = len;
	return f;
}

struct fake_request *fake_request_new(struct fake_log *log)
{
	return fake_request_new_len(log, 0);
}

void fake_request_finish(struct iouw_request *req)
{
	req->ops->finish(req, IOUW_FINISH_COMPLETE);
}
