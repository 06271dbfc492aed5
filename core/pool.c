/* core/pool.c: see pool.h. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "invariant.h"
#include "thread.h"

/* Every header-and-block chunk starts a cache line and fills whole lines. */
#define LINE 64

/* Before every block: its pool and, while cached, the next cached block.
 * Padded so the block itself keeps malloc's alignment. */
struct block_hdr {
	union {
		struct {
			struct iouw_pool *pool;
			struct block_hdr *next;
		};
		max_align_t align;
	};
};

/* The low bit of the shared list's head: the owner freed the pool. Blocks
 * are aligned, so a real pointer never has it. */
#define CLOSED ((uintptr_t)1)

struct iouw_pool {
	/* The thread that made the pool (iouw_thread_id(), core/thread.h),
	 * its owner; IOUW_NO_THREAD once iouw_pool_free() ran. Written only by
	 * the owner (at creation and in iouw_pool_free()), read by any thread
	 * giving a block back: another thread sees the owner or
	 * IOUW_NO_THREAD, never its own id, and the owner sees its own last
	 * write, so a relaxed load decides the path. */
	_Atomic(uintptr_t) owner;
	/* Owner thread only. */
	struct block_hdr *local;
	unsigned local_count;
	unsigned max_cached;
	size_t taken;    /* blocks handed out, ever */
	size_t returned; /* blocks back on the owner (given there, or taken
	                  * back from the shared list), ever */
	size_t block_size;
	/* Pushed by any thread but the owner; CLOSED once the owner let go. */
	_Atomic(uintptr_t) given;
	/* After close: blocks still out; whoever brings it to 0 frees the
	 * pool. */
	atomic_size_t remaining;
};

int iouw_pool_new(size_t block_size, unsigned max_cached, struct iouw_pool **ret_pool)
{
	struct iouw_pool *p;

	if (block_size == 0 || block_size > SIZE_MAX - sizeof(struct block_hdr) - (LINE - 1) ||
	    !ret_pool)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	atomic_init(&p->owner, iouw_thread_id());
	atomic_init(&p->given, 0);
	atomic_init(&p->remaining, 0);
	p->max_cached = max_cached;
	p->block_size = block_size;
	*ret_pool = p;
	return 0;
}

/* Whether the caller is the owner of @p, and @p not freed. */
static inline bool on_owner(struct iouw_pool *p)
{
	return atomic_load_explicit(&p->owner, memory_order_relaxed) == iouw_thread_id();
}

/* Free a list; returns how many blocks it held. */
static size_t free_list(struct block_hdr *b)
{
	size_t n = 0;

	while (b) {
		struct block_hdr *next = b->next;

		free(b);
		b = next;
		n++;
	}
	return n;
}

/* After close: @n more blocks are accounted for; the last frees the pool. */
static void closed_done(struct iouw_pool *p, size_t n)
{
	size_t before = atomic_fetch_sub_explicit(&p->remaining, n, memory_order_acq_rel);

	IOUW_INVARIANT(before >= n, "pool block given back twice or to the wrong pool");
	if (before == n)
		free(p);
}

void iouw_pool_free(struct iouw_pool *p)
{
	uintptr_t head;
	size_t listed;

	if (!p)
		return;
	IOUW_INVARIANT(atomic_load_explicit(&p->owner, memory_order_relaxed) != IOUW_NO_THREAD,
	               "pool freed twice");
	IOUW_INVARIANT(on_owner(p), "pool freed from a thread other than its owner");
	/* From now on a give on this thread takes the path of the others. */
	atomic_store_explicit(&p->owner, IOUW_NO_THREAD, memory_order_relaxed);
	(void)free_list(p->local);
	p->local = NULL;
	p->local_count = 0;
	/* Every block out is either on the shared list now (taken below) or
	 * comes back after CLOSED is set (and then frees itself). One extra
	 * count for this function, so nobody frees the pool under it. */
	atomic_store_explicit(&p->remaining, p->taken - p->returned + 1, memory_order_relaxed);
	head = atomic_exchange_explicit(&p->given, CLOSED, memory_order_acq_rel);
	listed = free_list((struct block_hdr *)head);
	closed_done(p, listed + 1);
}

/* A take with the private list empty: take in what other threads gave
 * back since the last time (at most max_cached kept), else a new block.
 * Out of line, so the common take saves no registers. */
static __attribute__((noinline)) void *take_refill(struct iouw_pool *p)
{
	struct block_hdr *b;

	b = (struct block_hdr *)atomic_exchange_explicit(&p->given, 0, memory_order_acquire);
	p->local_count = 0;
	for (struct block_hdr *c = b, *prev = NULL; c; prev = c, c = c->next) {
		if (p->local_count == p->max_cached) {
			if (prev)
				prev->next = NULL;
			else
				b = NULL;
			p->returned += free_list(c);
			break;
		}
		p->local_count++;
	}
	p->returned += p->local_count;
	if (b) {
		p->local = b->next;
		p->local_count--;
	} else {
		/* Header and block start a cache line and fill whole lines:
		 * a block spans as few lines as its size allows, none of them
		 * shared with another block (docs/requests.md §4.10). */
		b = aligned_alloc(LINE, (sizeof(*b) + p->block_size + LINE - 1) / LINE * LINE);
		if (!b)
			return NULL;
		b->pool = p;
	}
	p->taken++;
	return b + 1;
}

void *iouw_pool_take(struct iouw_pool *p)
{
	struct block_hdr *b;

	if (__builtin_expect(!on_owner(p), 0)) {
		IOUW_INVARIANT(atomic_load_explicit(&p->owner, memory_order_relaxed) != IOUW_NO_THREAD,
		               "pool taken after it was freed");
		IOUW_INVARIANT(false, "pool taken from a thread other than its owner");
	}
	b = p->local;
	if (__builtin_expect(!b, 0))
		return take_refill(p);
	p->local = b->next;
	p->local_count--;
	p->taken++;
	return b + 1;
}

/* A give on any thread but the owner, or after the pool was freed: push
 * onto the shared list, or, once closed, free the block and count down.
 * Out of line, so the owner's path saves no registers. */
static __attribute__((noinline)) void give_shared(struct iouw_pool *p, struct block_hdr *b)
{
	uintptr_t head = atomic_load_explicit(&p->given, memory_order_relaxed);

	do {
		if (head & CLOSED) {
			/* The owner left: free it, and the pool with the last. */
			free(b);
			closed_done(p, 1);
			return;
		}
		b->next = (struct block_hdr *)head;
	} while (!atomic_compare_exchange_weak_explicit(&p->given, &head, (uintptr_t)b,
	                                                memory_order_release,
	                                                memory_order_relaxed));
}

void iouw_pool_give(void *block)
{
	struct block_hdr *b = (struct block_hdr *)block - 1;
	struct iouw_pool *p = b->pool;

	/* On the owner, before the pool was freed: straight onto the private
	 * list (or freed, when it is full), plain stores only. */
	if (!on_owner(p)) {
		give_shared(p, b);
		return;
	}
	p->returned++;
	if (p->local_count < p->max_cached) {
		b->next = p->local;
		p->local = b;
		p->local_count++;
	} else {
		free(b);
	}
}

size_t iouw_pool_block_size(const struct iouw_pool *p)
{
	return p->block_size;
}

unsigned iouw_pool_shared(struct iouw_pool *p)
{
	unsigned n = 0;

	for (struct block_hdr *b = (struct block_hdr *)atomic_load_explicit(&p->given,
	                                                                    memory_order_acquire);
	     b; b = b->next)
		n++;
	return n;
}

unsigned iouw_pool_cached(struct iouw_pool *p)
{
	return p->local_count + iouw_pool_shared(p);
}

unsigned iouw_pool_out(struct iouw_pool *p)
{
	return (unsigned)(p->taken - p->returned - iouw_pool_shared(p));
}
