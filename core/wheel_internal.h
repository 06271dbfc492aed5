/* core/wheel_internal.h: the timeout wheel's representation and its three
 * per-deadline operations (convert, schedule, remove) as inline functions.
 *
 * For wheel.c, the event loop (core/loop.c) and the wheel's white-box tests
 * only. Every request with a deadline goes through iouw_wheel__target_tick(),
 * iouw_wheel__schedule() and iouw_wheel__remove() once each; inlining them
 * into the loop's admission and reap paths is measurably cheaper than
 * calling them (bench/bench_io.c, docs/wheel.md §5.8). Everyone else uses
 * the public functions of wheel.h, which run exactly this code.
 * tests/test_wheel.c corrupts the representation on purpose to reach the
 * invariant checks, and calls the scan primitives and the divisor directly.
 * Nothing here is part of the public interface.
 *
 * Owns: struct iouw_wheel, the tick divisor (an exact reciprocal of tick_ns,
 * replacing the 64-bit division of every deadline conversion), the two scans
 * behind advance and remove.
 * Invariants: see wheel.h; the divisor's is below.
 */
#ifndef IOUW_WHEEL_INTERNAL_H
#define IOUW_WHEEL_INTERNAL_H

#include <stdbool.h>

#include "invariant.h"
#include "wheel.h"

/* Inlined wherever used, whatever the compiler's size heuristics say: the
 * point of this header (see above). */
#define IOUW_WHEEL_INLINE static inline __attribute__((always_inline))

/* floor(n / d) for every 64-bit n, for one fixed divisor d >= 1, by a
 * multiply (Granlund and Montgomery, PLDI '94, theorem 4.2): with
 * l = ceil(log2 d) and m = ceil(2^(64 + l) / d), 2^(64+l) <= m * d <
 * 2^(64+l) + 2^l, so floor(n / d) = floor(m * n / 2^(64 + l)) for all
 * n < 2^64. m lies in [2^64, 2^65): bit 64 is always set and only the low
 * word is stored. Exactness is tested against the division
 * (tests/test_wheel.c: exhaustively for small operands, at every power of
 * two and its neighbours, at the ends of the range and at random). */
struct iouw_wheel_divisor {
	uint64_t m_lo;  /* m - 2^64 */
	unsigned shift; /* l, 0..64 */
};

struct iouw_wheel_bucket {
	struct iouw_wheel_entry *v; /* entries, all of one tick */
	uint32_t len;
	uint32_t cap;    /* 0 (v NULL) after a drain gave the vector away */
	uint32_t active; /* active deadlines at the slot's tick (beside len:
	                  * schedule and remove touch one line) */
};

/* Vectors of drained buckets kept for the next buckets to fill. Each tick
 * fills a different slot, and a slot comes round again only a revolution
 * later (82 s by default): a vector kept in its slot would sit idle that
 * long while every new tick grew its own from nothing (realloc copies and
 * fresh pages for every entry). A drained bucket hands its vector here
 * instead; a bucket's first schedule takes the most recent one. With
 * IOUW_WHEEL_SPARES kept, a drained vector stays in its bucket. */
#define IOUW_WHEEL_SPARES 16

struct iouw_wheel {
	uint64_t tick_ns;
	struct iouw_wheel_divisor per_tick; /* divides by tick_ns */
	uint64_t max_timeout_ns;
	uint64_t start_ns;
	uint64_t horizon_ticks; /* ceil(max_timeout / tick) */
	uint64_t slots;         /* power of two */
	uint64_t mask;          /* slots - 1 */
	uint64_t tick_limit;    /* current never exceeds it */
	size_t words;           /* uint64_t words per bitset */
	struct iouw_wheel_bucket *buckets;
	uint64_t *occupied;      /* bucket non-empty */
	uint64_t *active_bits;   /* buckets[slot].active > 0 */
	uint64_t occupied_slots; /* popcount(occupied) */
	uint64_t current_tick;
	uint64_t min_tick; /* earliest active tick, IOUW_NO_TICK when none */
	size_t active;     /* active deadlines */
	size_t stored;     /* entries in all buckets */
	struct iouw_wheel_entry *out; /* advance's result */
	size_t out_len;
	size_t out_cap;
	struct iouw_wheel_bucket spare[IOUW_WHEEL_SPARES]; /* v and cap only */
	unsigned spares;
};

/* Drain the occupied buckets among slots [start, end) (0 <= start, end <=
 * slots; empty when start >= end) in slot order: append their entries to the
 * result array when @keep, else drop them. Returns the number of buckets
 * drained. Panics "wheel occupied bit set for empty bucket". */
uint64_t iouw_wheel_drain_range(struct iouw_wheel *w, uint64_t start, uint64_t end, bool keep);

/* The smallest tick >= @from whose slot has an active bit, scanning at most
 * one revolution (ticks from .. from + slots - 1); IOUW_NO_TICK when no
 * active bit is set. Exact when every active tick lies in that range. */
uint64_t iouw_wheel_compute_min_tick(const struct iouw_wheel *w, uint64_t from);

/* The divisor for @d (d >= 1). */
void iouw_wheel_divisor_init(struct iouw_wheel_divisor *dv, uint64_t d);

/* floor(@n / d) for the d of @dv's init. */
IOUW_WHEEL_INLINE uint64_t iouw_wheel__divide(const struct iouw_wheel_divisor *dv, uint64_t n)
{
	/* floor(m * n / 2^64) = n + floor(m_lo * n / 2^64): up to 65 bits. */
	unsigned __int128 q = (((unsigned __int128)n * dv->m_lo) >> 64) + n;

	return (uint64_t)(q >> dv->shift);
}

/* Out of line, cold: remove's recomputation of the earliest tick after the
 * last deadline at the minimum left, and schedule into a full bucket (grow
 * it, then iouw_wheel__store()). Both are tail calls of the inline paths,
 * which then need no saved registers. */
__attribute__((noinline, cold)) void iouw_wheel__min_left(struct iouw_wheel *w, uint64_t tick);
__attribute__((noinline, cold)) void iouw_wheel__schedule_grow(struct iouw_wheel *w,
                                                               iouw_waiter_id id, uint64_t tick);

/* iouw_wheel_active(). */
IOUW_WHEEL_INLINE size_t iouw_wheel__active(const struct iouw_wheel *w)
{
	return w->active;
}

/* iouw_wheel_target_tick(). */
IOUW_WHEEL_INLINE uint64_t iouw_wheel__target_tick(const struct iouw_wheel *w,
                                                   uint64_t deadline_ns)
{
	uint64_t t, limit;

	if (deadline_ns <= w->start_ns)
		return IOUW_NO_TICK;
	/* ceil(d / tick) = floor((d - 1) / tick) + 1 for d >= 1; at most
	 * UINT64_MAX - 1 + 1, so it cannot overflow. */
	t = iouw_wheel__divide(&w->per_tick, deadline_ns - w->start_ns - 1) + 1;
	if (t <= w->current_tick)
		return IOUW_NO_TICK;
	limit = w->current_tick + w->horizon_ticks; /* <= tick_limit + slots */
	return t > limit ? limit : t;
}

/* The second half of a schedule whose checks passed: store {id, tick} in
 * @tick's bucket, which has room, and count one more active deadline. */
IOUW_WHEEL_INLINE void iouw_wheel__store(struct iouw_wheel *w, iouw_waiter_id id, uint64_t tick)
{
	uint64_t s = tick & w->mask;
	struct iouw_wheel_bucket *b = &w->buckets[s];
	uint32_t len = b->len;

	if (len == 0) {
		w->occupied[s / 64] |= UINT64_C(1) << (s % 64);
		w->occupied_slots++;
	}
	b->v[len].id = id;
	b->v[len].tick = tick;
	b->len = len + 1;
	w->stored++;

	IOUW_INVARIANT(b->active < UINT32_MAX, "wheel active count overflow");
	if (b->active++ == 0)
		w->active_bits[s / 64] |= UINT64_C(1) << (s % 64);
	w->active++;
	if (tick < w->min_tick)
		w->min_tick = tick;
}

/* iouw_wheel_schedule(). */
IOUW_WHEEL_INLINE void iouw_wheel__schedule(struct iouw_wheel *w, iouw_waiter_id id,
                                            uint64_t tick)
{
	const struct iouw_wheel_bucket *b;
	uint64_t s;

	IOUW_INVARIANT(tick > w->current_tick, "wheel schedule target not in the future");
	IOUW_INVARIANT(tick - w->current_tick < w->slots, "wheel schedule target beyond horizon");
	IOUW_INVARIANT(w->active == 0 || tick <= w->min_tick || tick - w->min_tick < w->slots,
	               "wheel deadline window exceeds span");
	s = tick & w->mask;
	b = &w->buckets[s];
	if (b->len == 0)
		IOUW_INVARIANT(!((w->occupied[s / 64] >> (s % 64)) & 1),
		               "wheel occupied bit set for empty bucket");
	else
		IOUW_INVARIANT(b->v[0].tick == tick, "wheel bucket holds another tick");
	if (__builtin_expect(b->len == b->cap, 0)) {
		iouw_wheel__schedule_grow(w, id, tick);
		return;
	}
	iouw_wheel__store(w, id, tick);
}

/* iouw_wheel_remove(). */
IOUW_WHEEL_INLINE void iouw_wheel__remove(struct iouw_wheel *w, uint64_t tick)
{
	uint64_t s, min_tick = w->min_tick;
	uint32_t *count, left;
	size_t active = w->active;

	IOUW_INVARIANT(active > 0, "wheel remove without active deadline");
	s = tick & w->mask;
	count = &w->buckets[s].active;
	IOUW_INVARIANT(*count > 0, "wheel remove of tick with no active count");
	IOUW_INVARIANT(tick >= min_tick && tick - min_tick < w->slots,
	               "wheel remove outside active window");
	w->active = --active;
	left = --*count;
	if (left == 0)
		w->active_bits[s / 64] &= ~(UINT64_C(1) << (s % 64));
	if (active == 0) {
		w->min_tick = IOUW_NO_TICK;
		return;
	}
	if (__builtin_expect(tick == min_tick && left == 0, 0))
		iouw_wheel__min_left(w, tick);
}

#endif /* IOUW_WHEEL_INTERNAL_H */
