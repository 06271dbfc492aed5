/* core/handle.c: see handle.h. */
#include "handle.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "invariant.h"

/* The state word: which of these happened. */
enum {
	ST_READY = 1,   /* a result was delivered */
	ST_TAKEN = 2,   /* ... and the caller took it */
	ST_DROPPED = 4, /* the caller walked away */
	ST_WAITING = 8, /* a caller blocks in iouw_handle_wait() (under lock) */
};

struct iouw_handle {
	atomic_uint state;    /* ST_* bits; each set once, never cleared */
	atomic_int refs;      /* request side + caller side */
	/* Written by the delivering side before ST_READY is published, read
	 * by the taker after it sees ST_READY. */
	struct iouw_result result;
	/* Only for a caller that blocks: wait() sleeps on cond, deliver()
	 * broadcasts when it sees ST_WAITING. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Who frees the memory when the last reference goes: NULL for
	 * free(h) (iouw_handle_new), else the caller of iouw_handle_init(). */
	void (*release)(void *arg);
	void *arg;
};

const char *iouw_status_name(enum iouw_status status)
{
	switch (status) {
	case IOUW_RESULT_OK: return "ok";
	case IOUW_RESULT_TIMEOUT: return "timeout";
	case IOUW_RESULT_SEND_FAILED: return "send failed";
	case IOUW_RESULT_RECV_FAILED: return "recv failed";
	case IOUW_RESULT_READ_FAILED: return "read failed";
	case IOUW_RESULT_WRITE_FAILED: return "write failed";
	case IOUW_RESULT_INSUFFICIENT_LENGTH: return "insufficient length";
	case IOUW_RESULT_SYNC_ERROR: return "sync error";
	case IOUW_RESULT_ABANDONED: return "abandoned";
	}
	return "unknown";
}

void iouw_result_free(struct iouw_result *r)
{
	if (!r)
		return;
	free(r->buf);
	r->buf = NULL;
	r->buf_len = 0;
	r->buf_capacity = 0;
}

size_t iouw_handle_size(void)
{
	return sizeof(struct iouw_handle);
}

/* Set up @h (any memory of iouw_handle_size() bytes, suitably aligned). */
static int handle_setup(struct iouw_handle *h, void (*release)(void *arg), void *arg)
{
	if (pthread_mutex_init(&h->lock, NULL) != 0)
		return -ENOMEM;
	if (pthread_cond_init(&h->cond, NULL) != 0) {
		pthread_mutex_destroy(&h->lock);
		return -ENOMEM;
	}
	atomic_init(&h->refs, 2);
	atomic_init(&h->state, 0);
	h->result = (struct iouw_result){ .status = IOUW_RESULT_OK };
	h->release = release;
	h->arg = arg;
	return 0;
}

int iouw_handle_new(struct iouw_handle **ret_handle)
{
	struct iouw_handle *h;
	int r;

	if (!ret_handle)
		return -EINVAL;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	r = handle_setup(h, NULL, NULL);
	if (r < 0) {
		free(h);
		return r;
	}
	*ret_handle = h;
	return 0;
}

int iouw_handle_init(void *mem, void (*release)(void *arg), void *arg,
                     struct iouw_handle **ret_handle)
{
	int r;

	if (!mem || !release || !ret_handle)
		return -EINVAL;
	r = handle_setup(mem, release, arg);
	if (r < 0)
		return r;
	*ret_handle = mem;
	return 0;
}

/* Drop one reference; the last one frees the state and any untaken buffer. */
static void handle_unref(struct iouw_handle *h)
{
	int before = atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel);
	unsigned st;

	IOUW_INVARIANT(before > 0, "handle reference count underflow");
	if (before != 1)
		return;
	st = atomic_load_explicit(&h->state, memory_order_acquire);
	if ((st & ST_READY) && !(st & ST_TAKEN))
		free(h->result.buf);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	if (h->release)
		h->release(h->arg);
	else
		free(h);
}

bool iouw_handle_deliver(struct iouw_handle *h, const struct iouw_result *r)
{
	unsigned st = atomic_load_explicit(&h->state, memory_order_relaxed);

	IOUW_INVARIANT(!(st & ST_READY), "handle result delivered twice");
	if (st & ST_DROPPED)
		return false;
	/* Nobody reads the result before ST_READY is published below. */
	h->result = *r;
	do {
		IOUW_INVARIANT(!(st & ST_READY), "handle result delivered twice");
		if (st & ST_DROPPED)
			return false; /* the caller left meanwhile: r->buf stays ours */
	} while (!atomic_compare_exchange_weak_explicit(&h->state, &st, st | ST_READY,
	                                                memory_order_acq_rel,
	                                                memory_order_relaxed));
	if (st & ST_WAITING) {
		/* The waiter set ST_WAITING under the lock and sleeps (or is
		 * about to) on cond: broadcast under the same lock. */
		pthread_mutex_lock(&h->lock);
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
	return true;
}

bool iouw_handle_is_dropped(const struct iouw_handle *h)
{
	return atomic_load_explicit(&h->state, memory_order_acquire) & ST_DROPPED;
}

void iouw_handle_put(struct iouw_handle *h)
{
	handle_unref(h);
}

/* Take the READY result: -EALREADY, -EAGAIN or 0. */
static int take(struct iouw_handle *h, struct iouw_result *ret)
{
	unsigned st = atomic_load_explicit(&h->state, memory_order_acquire);

	do {
		if (st & ST_TAKEN)
			return -EALREADY;
		if (!(st & ST_READY))
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak_explicit(&h->state, &st, st | ST_TAKEN,
	                                                memory_order_acquire,
	                                                memory_order_acquire));
	*ret = h->result;
	return 0;
}

int iouw_handle_wait(struct iouw_handle *h, struct iouw_result *ret)
{
	int r;

	if (!h || !ret)
		return -EINVAL;
	r = take(h, ret);
	if (r != -EAGAIN)
		return r;
	pthread_mutex_lock(&h->lock);
	/* Announce the sleeper; a delivery that already happened shows in
	 * the old value, one that happens later sees ST_WAITING and
	 * broadcasts under this lock, which cond_wait releases. */
	while (!(atomic_fetch_or_explicit(&h->state, ST_WAITING, memory_order_acq_rel) & ST_READY))
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	return take(h, ret);
}

int iouw_handle_try(struct iouw_handle *h, struct iouw_result *ret)
{
	if (!h || !ret)
		return -EINVAL;
	return take(h, ret);
}

void iouw_handle_drop(struct iouw_handle *h)
{
	unsigned st;

	if (!h)
		return;
	st = atomic_fetch_or_explicit(&h->state, ST_DROPPED, memory_order_acq_rel);
	IOUW_INVARIANT(!(st & ST_DROPPED), "handle dropped twice");
	handle_unref(h);
}
