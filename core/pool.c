/* core/pool.c: see pool.h. */
#include "pool.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "invariant.h"

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

struct iouw_pool {
	_Atomic(struct block_hdr *) given; /* pushed by any thread */
	atomic_size_t refs;                /* owner (until pool_free) + blocks out */
	struct block_hdr *local;           /* owner thread only */
	unsigned local_count;
	unsigned max_cached;
	size_t block_size;
};

int iouw_pool_new(size_t block_size, unsigned max_cached, struct iouw_pool **ret_pool)
{
	struct iouw_pool *p;

	if (block_size == 0 || block_size > SIZE_MAX - sizeof(struct block_hdr) || !ret_pool)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	atomic_init(&p->given, NULL);
	atomic_init(&p->refs, 1);
	p->max_cached = max_cached;
	p->block_size = block_size;
	*ret_pool = p;
	return 0;
}

static void free_list(struct block_hdr *b)
{
	while (b) {
		struct block_hdr *next = b->next;

		free(b);
		b = next;
	}
}

/* Drop one reference; the last frees every block still listed and the
 * pool. */
static void pool_unref(struct iouw_pool *p)
{
	size_t before = atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel);

	IOUW_INVARIANT(before != 0, "pool block given back twice or to the wrong pool");
	if (before != 1)
		return;
	free_list(p->local);
	free_list(atomic_exchange_explicit(&p->given, NULL, memory_order_acquire));
	free(p);
}

void iouw_pool_free(struct iouw_pool *p)
{
	if (!p)
		return;
	free_list(p->local);
	p->local = NULL;
	p->local_count = 0;
	free_list(atomic_exchange_explicit(&p->given, NULL, memory_order_acquire));
	pool_unref(p);
}

void *iouw_pool_take(struct iouw_pool *p)
{
	struct block_hdr *b = p->local;

	if (!b) {
		/* Take everything given back since the last time; keep at
		 * most max_cached of it. */
		b = atomic_exchange_explicit(&p->given, NULL, memory_order_acquire);
		p->local_count = 0;
		for (struct block_hdr *c = b, *prev = NULL; c; prev = c, c = c->next) {
			if (p->local_count == p->max_cached) {
				if (prev)
					prev->next = NULL;
				else
					b = NULL;
				free_list(c);
				break;
			}
			p->local_count++;
		}
	}
	if (b) {
		p->local = b->next;
		p->local_count--;
	} else {
		b = malloc(sizeof(*b) + p->block_size);
		if (!b)
			return NULL;
		b->pool = p;
	}
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return b + 1;
}

void iouw_pool_give(void *block)
{
	struct block_hdr *b = (struct block_hdr *)block - 1;
	struct iouw_pool *p = b->pool;
	struct block_hdr *head = atomic_load_explicit(&p->given, memory_order_relaxed);

	do
		b->next = head;
	while (!atomic_compare_exchange_weak_explicit(&p->given, &head, b, memory_order_release,
	                                              memory_order_relaxed));
	pool_unref(p);
}

size_t iouw_pool_block_size(const struct iouw_pool *p)
{
	return p->block_size;
}

unsigned iouw_pool_cached(struct iouw_pool *p)
{
	unsigned n = p->local_count;

	for (struct block_hdr *b = atomic_load_explicit(&p->given, memory_order_acquire); b;
	     b = b->next)
		n++;
	return n;
}

unsigned iouw_pool_out(const struct iouw_pool *p)
{
	size_t refs = atomic_load_explicit(&p->refs, memory_order_relaxed);

	return refs > 0 ? (unsigned)(refs - 1) : 0;
}
