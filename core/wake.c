/* core/wake.c: eventfd wake path with a sleep-intent handshake (see wake.h). */
#include "wake.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <liburing.h>

#include "waiter.h"

#define ARMED UINT64_C(1)
#define SEQ_ONE UINT64_C(2)

int iouw_wake_init(struct iouw_wake *w)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	w->efd = -1;
	atomic_init(&w->state, 0);
	w->seen_seq = 0;
	if (fd < 0)
		return -errno;
	w->efd = fd;
	return 0;
}

void iouw_wake_destroy(struct iouw_wake *w)
{
	if (w->efd >= 0)
		close(w->efd);
	w->efd = -1;
}

int iouw_wake_ring(struct iouw_wake *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		return 0;
	/* A saturated counter is still readable: the loop will wake. */
	return errno == EAGAIN ? 0 : -errno;
}

int iouw_wake_publish(struct iouw_wake *w)
{
	uint64_t old = atomic_fetch_add_explicit(&w->state, SEQ_ONE, memory_order_acq_rel);

	/* Only a loop that announced it is about to sleep needs the write. */
	return (old & ARMED) ? iouw_wake_ring(w) : 0;
}

bool iouw_wake_arm(struct iouw_wake *w)
{
	uint64_t old = atomic_fetch_or_explicit(&w->state, ARMED, memory_order_acq_rel);
	uint64_t seq = old >> 1;

	if (seq != w->seen_seq) {
		/* Published since we last looked: do not sleep; go and see. */
		w->seen_seq = seq;
		iouw_wake_disarm(w);
		return false;
	}
	return true;
}

void iouw_wake_disarm(struct iouw_wake *w)
{
	atomic_fetch_and_explicit(&w->state, ~ARMED, memory_order_acq_rel);
}

bool iouw_wake_submitted(struct iouw_wake *w)
{
	uint64_t seq = atomic_load_explicit(&w->state, memory_order_acquire) >> 1;

	if (seq == w->seen_seq)
		return false;
	w->seen_seq = seq;
	return true;
}

int iouw_wake_acknowledge(struct iouw_wake *w)
{
	uint64_t value;

	if (read(w->efd, &value, sizeof(value)) == (ssize_t)sizeof(value))
		return 0;
	/* Already drained (several wake CQEs for one read): fine. */
	return errno == EAGAIN ? 0 : -errno;
}

void iouw_wake_prep_poll(const struct iouw_wake *w, struct io_uring_sqe *sqe)
{
	io_uring_prep_poll_multishot(sqe, w->efd, POLLIN);
	io_uring_sqe_set_data64(sqe, IOUW_WAKE_USER_DATA);
}

uint64_t iouw_wake_sequence(const struct iouw_wake *w)
{
	return atomic_load_explicit(&w->state, memory_order_acquire) >> 1;
}

bool iouw_wake_is_armed(const struct iouw_wake *w)
{
	return (atomic_load_explicit(&w->state, memory_order_acquire) & ARMED) != 0;
}
