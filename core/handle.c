/* core/handle.c: see handle.h. */
#include "handle.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "invariant.h"

struct iouw_handle {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int refs;      /* request side + caller side */
	atomic_bool dropped;  /* caller walked away */
	bool ready;           /* a result was delivered */
	bool taken;           /* ... and the caller took it */
	struct iouw_result result;
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
	atomic_init(&h->dropped, false);
	h->ready = false;
	h->taken = false;
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

	IOUW_INVARIANT(before > 0, "handle reference count underflow");
	if (before != 1)
		return;
	if (h->ready && !h->taken)
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
	bool delivered = false;

	pthread_mutex_lock(&h->lock);
	IOUW_INVARIANT(!h->ready, "handle result delivered twice");
	if (!atomic_load_explicit(&h->dropped, memory_order_relaxed)) {
		h->result = *r;
		h->ready = true;
		delivered = true;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return delivered;
}

bool iouw_handle_is_dropped(const struct iouw_handle *h)
{
	return atomic_load_explicit(&h->dropped, memory_order_acquire);
}

void iouw_handle_put(struct iouw_handle *h)
{
	handle_unref(h);
}

/* Take the READY result under the lock. */
static int take_locked(struct iouw_handle *h, struct iouw_result *ret)
{
	if (h->taken)
		return -EALREADY;
	if (!h->ready)
		return -EAGAIN;
	*ret = h->result;
	h->taken = true;
	h->result.buf = NULL;
	return 0;
}

int iouw_handle_wait(struct iouw_handle *h, struct iouw_result *ret)
{
	int r;

	if (!h || !ret)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	while (!h->ready)
		pthread_cond_wait(&h->cond, &h->lock);
	r = take_locked(h, ret);
	pthread_mutex_unlock(&h->lock);
	return r;
}

int iouw_handle_try(struct iouw_handle *h, struct iouw_result *ret)
{
	int r;

	if (!h || !ret)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	r = take_locked(h, ret);
	pthread_mutex_unlock(&h->lock);
	return r;
}

void iouw_handle_drop(struct iouw_handle *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	IOUW_INVARIANT(!atomic_load_explicit(&h->dropped, memory_order_relaxed),
	               "handle dropped twice");
	atomic_store_explicit(&h->dropped, true, memory_order_release);
	pthread_mutex_unlock(&h->lock);
	handle_unref(h);
}
