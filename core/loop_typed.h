/* core/loop_typed.h: the typed fast path, for a caller on the loop's own
 * thread whose hot request type's ops are known where it is compiled
 * (docs/loop.md §6.13).
 *
 *     static const struct iouw_request_ops my_ops = { ... };
 *     IOUW_LOOP_TYPED(my, &my_ops)
 *
 * defines, in the including file,
 *
 *     static int my_submit_local(struct iouw_loop *loop,
 *                                struct iouw_request *const *reqs, size_t n);
 *     static int my_turn(struct iouw_loop *loop, bool may_block);
 *
 * with exactly the contracts of iouw_loop_submit_local() and
 * iouw_loop_turn(): they are the same code (core/loop_internal.h)
 * instantiated with @ops known. For a request whose ops pointer is @ops the
 * table and the loop call build_sqe, on_cqe, is_orphaned, finish and
 * release directly, so the compiler can inline them (on the NOP of
 * bench/bench_loop.c, 152 -> 133 instructions per request); every other
 * request, and every request the front door, an expiry or the backend's
 * own reap (a probe's stash, an overflow) handles, is called through its
 * pointer as before. Same calls, same order, same checks, same events: only
 * how the call is made differs. @ops must point to a static const table
 * whose initializer the compiler sees, or the calls stay indirect (still
 * correct).
 *
 * Owns: nothing; the macro only instantiates. Invariants: those of
 * iouw_loop_submit_local() and iouw_loop_turn() (loop.h).
 */
#ifndef IOUW_LOOP_TYPED_H
#define IOUW_LOOP_TYPED_H

#include "loop_internal.h"

#define IOUW_LOOP_TYPED(prefix, ops)                                                     \
	__attribute__((unused)) static int prefix##_submit_local(                         \
		struct iouw_loop *loop, struct iouw_request *const *reqs, size_t n)       \
	{                                                                                 \
		return iouw_loop__submit_local_as(loop, reqs, n, (ops));                  \
	}                                                                                 \
	__attribute__((unused)) static int prefix##_turn(struct iouw_loop *loop, bool may_block) \
	{                                                                                 \
		return iouw_loop__turn_as(loop, may_block, (ops));                        \
	}

#endif /* IOUW_LOOP_TYPED_H */
