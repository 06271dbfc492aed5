/* core/fd.c: see fd.h. */
#define _GNU_SOURCE
#include "fd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "invariant.h"

struct iouw_fd {
	atomic_uint refs;
	int fd;
};

int iouw_fd_adopt(int fd, struct iouw_fd **ret_fd)
{
	struct iouw_fd *f;

	if (fd < 0 || !ret_fd)
		return -EINVAL;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	atomic_init(&f->refs, 1);
	f->fd = fd;
	*ret_fd = f;
	return 0;
}

int iouw_fd_dup(int fd, struct iouw_fd **ret_fd)
{
	int d, r;

	if (fd < 0 || !ret_fd)
		return -EINVAL;
	d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		return -errno;
	r = iouw_fd_adopt(d, ret_fd);
	if (r < 0)
		close(d);
	return r;
}

struct iouw_fd *iouw_fd_get(struct iouw_fd *f)
{
	unsigned before = atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);

	IOUW_INVARIANT(before != 0, "fd reference used after its last put");
	IOUW_INVARIANT(before != UINT_MAX, "fd reference count overflow");
	return f;
}

void iouw_fd_put(struct iouw_fd *f)
{
	unsigned before;

	if (!f)
		return;
	before = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
	IOUW_INVARIANT(before != 0, "fd reference used after its last put");
	if (before != 1)
		return;
	/* Linux closes the descriptor even when close() reports EINTR: never
	 * retry (the number may already be someone else's). */
	(void)close(f->fd);
	free(f);
}

int iouw_fd_num(const struct iouw_fd *f)
{
	return f->fd;
}

unsigned iouw_fd_refs(const struct iouw_fd *f)
{
	return atomic_load_explicit(&f->refs, memory_order_relaxed);
}

void iouw_fd_test_set_refs(struct iouw_fd *f, unsigned refs)
{
	atomic_store_explicit(&f->refs, refs, memory_order_relaxed);
}
