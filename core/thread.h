/* core/thread.h: the calling thread's identity, as the core's same-thread
 * fast paths compare it (core/pool.c, core/handle.c).
 *
 * Owns: iouw_thread_id() and IOUW_NO_THREAD.
 *
 * Invariants: iouw_thread_id() is unique among the process's live threads
 * and never IOUW_NO_THREAD; a thread's id may be reused once it exited, so
 * whatever records one (a pool's owner, a pinned handle) must be let go
 * before its thread exits.
 */
#ifndef IOUW_THREAD_H
#define IOUW_THREAD_H

#include <pthread.h>
#include <stdint.h>

/* No thread's id. */
#define IOUW_NO_THREAD ((uintptr_t)0)

/* The calling thread's id. The thread pointer where the compilers have it
 * as a builtin (one load, no call; on x86_64 glibc it is pthread_self()'s
 * value), else pthread_self() (Linux: an integer). */
static inline uintptr_t iouw_thread_id(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
	return (uintptr_t)__builtin_thread_pointer();
#else
	return (uintptr_t)pthread_self();
#endif
}

#endif /* IOUW_THREAD_H */
