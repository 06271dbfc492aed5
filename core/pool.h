/* core/pool.h: a pool of fixed-size memory blocks that one thread takes and
 * any thread gives back (docs/requests.md §4.10).
 *
 * Owns: struct iouw_pool, the blocks it caches, and the block header that
 * ties every block it handed out to it.
 *
 * Threads: iouw_pool_take() is for the pool's owner (one thread at a time:
 * the caller that builds requests); iouw_pool_give() may run on any thread
 * (a request ends on the loop thread, a handle is let go by the caller),
 * lock-free: a block comes back by a compare-and-swap push onto a shared
 * list, which the owner empties in one atomic exchange when its private
 * list runs dry (push-only plus take-all: no ABA). Nothing else is shared.
 *
 * Lifetime: the owner counts the blocks it hands out and takes back
 * (plain counters, its thread only), so giving a block back costs one
 * compare-and-swap and nothing else. iouw_pool_free() frees what is cached,
 * records how many blocks are still out and marks the shared list closed
 * (its low bit); a block given back after that is freed at once and counts
 * down, and the last one frees the pool. So the owner may free the pool
 * while blocks are still out (in flight in a loop, or in a handle the
 * caller has not dropped).
 *
 * Invariants (panic): after the pool was freed, more blocks coming back
 * than were out ("pool block given back twice or to the wrong pool"). At
 * most max_cached blocks are kept; the owner frees the rest of what came
 * back when it next takes.
 */
#ifndef IOUW_POOL_H
#define IOUW_POOL_H

#include <stddef.h>

struct iouw_pool;

/* A pool of @block_size-byte blocks (aligned as malloc's), keeping at most
 * @max_cached of them. 0 and *ret_pool, -EINVAL (block_size 0, ret_pool
 * NULL) or -ENOMEM. */
int iouw_pool_new(size_t block_size, unsigned max_cached, struct iouw_pool **ret_pool);

/* The owner lets go: cached blocks are freed now, blocks still out when
 * they come back, the pool with the last of them. NULL is a no-op. */
void iouw_pool_free(struct iouw_pool *p);

/* A block (uninitialised) from the cache, or a new one; NULL when out of
 * memory. Owner thread only. */
void *iouw_pool_take(struct iouw_pool *p);

/* Give @block (from iouw_pool_take() of any pool) back to its pool. Any
 * thread. */
void iouw_pool_give(void *block);

/* The pool's block size. */
size_t iouw_pool_block_size(const struct iouw_pool *p);

/* Blocks now cached and blocks now out (tests; racy while other threads
 * give blocks back). */
unsigned iouw_pool_cached(struct iouw_pool *p);
unsigned iouw_pool_out(struct iouw_pool *p);

#endif /* IOUW_POOL_H */
