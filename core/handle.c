/* core/handle.c: see handle.h. */
#define _GNU_SOURCE
#include "handle.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "invariant.h"
#include "thread.h"

/* The state word: which of these happened. */
enum {
	ST_READY = 1,   /* a result was delivered */
	ST_TAKEN = 2,   /* ... and the caller took it */
	ST_DROPPED = 4, /* the caller walked away */
	ST_WAITING = 8, /* a caller sleeps in iouw_handle_wait() (futex on state) */
	ST_PUT = 16,    /* the request side let go */
};

struct iouw_handle {
	/* ST_* bits; each set once, never cleared. The two references are
	 * ST_PUT (request side) and ST_DROPPED (caller side): whichever side
	 * sets the second of them frees the handle. */
	atomic_uint state;
	/* iouw_handle_pin(): the only thread the caller side runs on, or
	 * IOUW_NO_THREAD (any). Written before the handle is shared. */
	uintptr_t thread;
	/* Written by the delivering side before ST_READY is published, read
	 * by the taker after it sees ST_READY. */
	struct iouw_result result;
	/* Who frees the memory when the last reference goes: NULL for
	 * free(h) (iouw_handle_new), else the caller of iouw_handle_init(),
	 * called with the handle's memory. */
	void (*release)(void *mem);
};

/* Every field is touched on every request's way (made, delivered, taken,
 * freed): the whole handle fits one cache line, and a request block
 * (core/request.c) that starts with it spans a line fewer
 * (docs/requests.md §4.10). */
_Static_assert(sizeof(struct iouw_handle) <= 64, "a handle fits one cache line");

/* The state word doubles as a futex: a blocking wait() sleeps on it while
 * it holds @val, deliver() wakes every sleeper. Spurious returns are fine
 * (the caller re-checks). */
static void futex_wait(atomic_uint *word, unsigned val)
{
	(void)syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(atomic_uint *word)
{
	(void)syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

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

/* Set up @h (any memory of iouw_handle_size() bytes, suitably aligned):
 * plain stores, nothing to destroy later. */
static void handle_setup(struct iouw_handle *h, void (*release)(void *mem))
{
	atomic_init(&h->state, 0);
	h->result = (struct iouw_result){ .status = IOUW_RESULT_OK };
	h->release = release;
	h->thread = IOUW_NO_THREAD;
}

int iouw_handle_new(struct iouw_handle **ret_handle)
{
	struct iouw_handle *h;

	if (!ret_handle)
		return -EINVAL;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	handle_setup(h, NULL);
	*ret_handle = h;
	return 0;
}

int iouw_handle_init(void *mem, void (*release)(void *mem), struct iouw_handle **ret_handle)
{
	if (!mem || !release || !ret_handle)
		return -EINVAL;
	handle_setup(mem, release);
	*ret_handle = mem;
	return 0;
}

/* Both sides let go: free any untaken buffer, then the memory. */
static void handle_destroy(struct iouw_handle *h, unsigned st)
{
	if ((st & ST_READY) && !(st & ST_TAKEN))
		free(h->result.buf);
	if (h->release)
		h->release(h);
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
	if (st & ST_WAITING)
		futex_wake_all(&h->state); /* the caller sleeps on the state word */
	return true;
}

bool iouw_handle_is_dropped(const struct iouw_handle *h)
{
	return atomic_load_explicit(&h->state, memory_order_acquire) & ST_DROPPED;
}

void iouw_handle_put(struct iouw_handle *h)
{
	unsigned st = atomic_fetch_or_explicit(&h->state, ST_PUT, memory_order_acq_rel);

	IOUW_INVARIANT(!(st & ST_PUT), "handle put twice");
	if (st & ST_DROPPED)
		handle_destroy(h, st | ST_PUT);
}

void iouw_handle_pin(struct iouw_handle *h)
{
	h->thread = iouw_thread_id();
}

/* The caller side of a pinned handle runs on its thread only. */
static inline void check_caller_thread(const struct iouw_handle *h)
{
	if (h->thread != IOUW_NO_THREAD)
		IOUW_INVARIANT(h->thread == iouw_thread_id(), "handle used off its pinned thread");
}

bool iouw_handle_deliver_and_put(struct iouw_handle *h, const struct iouw_result *r)
{
	unsigned st = atomic_load_explicit(&h->state, memory_order_relaxed);
	bool written = false;
	unsigned next;

	if (h->thread != IOUW_NO_THREAD && h->thread == iouw_thread_id()) {
		/* Pinned, and delivered on its thread: the caller side runs
		 * only here (check_caller_thread), so nothing else can move the
		 * word until this returns, and no caller sleeps in wait() (it
		 * would be this thread). A plain release store publishes the
		 * result: no compare-and-swap. */
		IOUW_INVARIANT(!(st & ST_READY), "handle result delivered twice");
		IOUW_INVARIANT(!(st & ST_PUT), "handle put twice");
		if (st & ST_DROPPED) {
			/* The caller left first: nothing delivered, we are the
			 * last. */
			handle_destroy(h, st | ST_PUT);
			return false;
		}
		h->result = *r;
		atomic_store_explicit(&h->state, st | ST_READY | ST_PUT, memory_order_release);
		return true;
	}

	do {
		IOUW_INVARIANT(!(st & ST_READY), "handle result delivered twice");
		IOUW_INVARIANT(!(st & ST_PUT), "handle put twice");
		if (st & ST_DROPPED) {
			next = st | ST_PUT;
		} else {
			/* Nobody reads the result before ST_READY is published. */
			if (!written) {
				h->result = *r;
				written = true;
			}
			next = st | ST_READY | ST_PUT;
		}
	} while (!atomic_compare_exchange_weak_explicit(&h->state, &st, next, memory_order_acq_rel,
	                                                memory_order_relaxed));
	if (st & ST_DROPPED) {
		/* The caller left first: nothing delivered, we are the last. */
		handle_destroy(h, next);
		return false;
	}
	/* The caller is still there and can only leave through drop(); a
	 * waiter sleeping in wait() has not dropped, so the word is alive. */
	if (st & ST_WAITING)
		futex_wake_all(&h->state);
	return true;
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
	check_caller_thread(h);
	r = take(h, ret);
	if (r != -EAGAIN)
		return r;
	/* Announce the sleeper, then sleep while the word still says "no
	 * result": a delivery that sets ST_READY first makes the futex wait
	 * return at once (the word changed), one that comes later sees
	 * ST_WAITING and wakes us. */
	for (;;) {
		unsigned st = atomic_fetch_or_explicit(&h->state, ST_WAITING, memory_order_acq_rel) |
		              ST_WAITING;

		if (st & ST_READY)
			break;
		futex_wait(&h->state, st);
	}
	return take(h, ret);
}

int iouw_handle_take_and_drop(struct iouw_handle *h, struct iouw_result *ret)
{
	unsigned st, next;

	if (!h || !ret)
		return -EINVAL;
	check_caller_thread(h);
	st = atomic_load_explicit(&h->state, memory_order_acquire);
	if (st == (ST_READY | ST_PUT)) {
		/* The request side delivered and let go (one compare-and-swap
		 * in iouw_handle_deliver_and_put(), which this acquire load
		 * saw), and nobody waits: this caller is the only one left
		 * who can touch the handle, so taking the result and letting
		 * go need no atomic operation. */
		*ret = h->result;
		handle_destroy(h, st | ST_TAKEN | ST_DROPPED);
		return 0;
	}
	do {
		IOUW_INVARIANT(!(st & ST_DROPPED), "handle dropped twice");
		if (st & ST_TAKEN)
			return -EALREADY;
		if (!(st & ST_READY))
			return -EAGAIN;
		/* Copied before the handle may go: the result is stable once
		 * ST_READY is seen. */
		*ret = h->result;
		next = st | ST_TAKEN | ST_DROPPED;
	} while (!atomic_compare_exchange_weak_explicit(&h->state, &st, next, memory_order_acq_rel,
	                                                memory_order_acquire));
	if (st & ST_PUT)
		handle_destroy(h, next);
	return 0;
}

int iouw_handle_try(struct iouw_handle *h, struct iouw_result *ret)
{
	if (!h || !ret)
		return -EINVAL;
	check_caller_thread(h);
	return take(h, ret);
}

void iouw_handle_drop(struct iouw_handle *h)
{
	unsigned st;

	if (!h)
		return;
	check_caller_thread(h);
	st = atomic_fetch_or_explicit(&h->state, ST_DROPPED, memory_order_acq_rel);
	IOUW_INVARIANT(!(st & ST_DROPPED), "handle dropped twice");
	if (st & ST_PUT)
		handle_destroy(h, st | ST_DROPPED);
}
