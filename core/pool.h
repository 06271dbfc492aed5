/* core/pool.h: a pool of fixed-size memory blocks that the thread that
 * made it takes and any thread gives back (docs/requests.md §4.10).
 *
 * Owns: struct iouw_pool, the blocks it caches, and the block header that
 * ties every block it handed out to it.
 *
 * Threads: the pool belongs to the thread that made it (iouw_pool_new()
 * records it; ownership never moves). Only that owner takes blocks, frees
 * the pool and reads the test counters; iouw_pool_give() may run on any
 * thread (a request ends on the loop thread, a handle is let go by the
 * caller). A block given back on the owner goes straight onto the owner's
 * private list with plain stores: no atomic operation (a single-threaded
 * runtime, where the caller is the loop's thread, never pays one). A
 * block given back on any other thread comes back lock-free, by a
 * compare-and-swap push onto a shared list, which the owner empties in one
 * atomic exchange when its private list runs dry (push-only plus
 * take-all: no ABA). Nothing else is shared. The owner frees the pool
 * before it exits (a thread id may be reused).
 *
 * Lifetime: the owner counts the blocks it hands out and takes back
 * (plain counters, its thread only). iouw_pool_free() frees what is
 * cached, records how many blocks are still out and marks the pool closed:
 * it has no owner any more (so a give on the former owner takes the other
 * threads' path) and the shared list's low bit is set. A block given back
 * after that, on any thread, is freed at once and counts down, and the
 * last one frees the pool. So the owner may free the pool while blocks
 * are still out (in flight in a loop, or in a handle the caller has not
 * dropped).
 *
 * Invariants (panic): a take or a free on a thread other than the owner
 * ("pool taken from a thread other than its owner", "pool freed from a
 * thread other than its owner"); a second free or a take after the free,
 * while blocks are out ("pool freed twice", "pool taken after it was
 * freed"); after the pool was freed, more blocks coming back than were
 * out ("pool block given back twice or to the wrong pool"). At
 * most max_cached blocks are kept on the private list: a block given back
 * on the owner beyond that is freed at once, and of the blocks other
 * threads gave back the owner keeps at most that many when it takes them
 * in, and frees the rest.
 */
#ifndef IOUW_POOL_H
#define IOUW_POOL_H

#include <stddef.h>

struct iouw_pool;

/* A pool of @block_size-byte blocks, keeping at most @max_cached of them.
 * Blocks are aligned as malloc's; each, with the pool's header before it
 * (sizeof(max_align_t) bytes), starts a 64-byte cache line and shares no
 * line with another block. 0 and *ret_pool, -EINVAL (block_size 0, ret_pool
 * NULL) or -ENOMEM. */
int iouw_pool_new(size_t block_size, unsigned max_cached, struct iouw_pool **ret_pool);

/* The owner lets go: cached blocks are freed now, blocks still out when
 * they come back, the pool with the last of them. NULL is a no-op. Owner
 * thread only (panics elsewhere). */
void iouw_pool_free(struct iouw_pool *p);

/* A block (uninitialised) from the cache, or a new one; NULL when out of
 * memory. Owner thread only (panics elsewhere). */
void *iouw_pool_take(struct iouw_pool *p);

/* Give @block (from iouw_pool_take() of any pool) back to its pool. Any
 * thread: on the pool's owner no atomic operation, elsewhere one
 * compare-and-swap (more under contention). */
void iouw_pool_give(void *block);

/* The pool's block size. */
size_t iouw_pool_block_size(const struct iouw_pool *p);

/* Blocks now cached (on the private list or the shared one), blocks now
 * out, and blocks other threads gave back that the owner has not taken in
 * yet (on the shared list). Tests; owner thread only, before
 * iouw_pool_free(); racy while other threads give blocks back. */
unsigned iouw_pool_cached(struct iouw_pool *p);
unsigned iouw_pool_out(struct iouw_pool *p);
unsigned iouw_pool_shared(struct iouw_pool *p);

#endif /* IOUW_POOL_H */
