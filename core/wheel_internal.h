/* core/wheel_internal.h: the timeout wheel's representation, for wheel.c and
 * its white-box tests only (tests/test_wheel.c corrupts it on purpose to
 * reach the invariant checks, and calls the two scan primitives directly).
 * Nothing else may include it: the public interface is wheel.h.
 *
 * Owns: struct iouw_wheel and the two scans behind advance and remove.
 * Invariants: see wheel.h.
 */
#ifndef IOUW_WHEEL_INTERNAL_H
#define IOUW_WHEEL_INTERNAL_H

#include <stdbool.h>

#include "wheel.h"

struct iouw_wheel_bucket {
	struct iouw_wheel_entry *v; /* entries, all of one tick */
	uint32_t len;
	uint32_t cap; /* kept across drains */
};

struct iouw_wheel {
	uint64_t tick_ns;
	uint64_t max_timeout_ns;
	uint64_t start_ns;
	uint64_t horizon_ticks; /* ceil(max_timeout / tick) */
	uint64_t slots;         /* power of two */
	uint64_t mask;          /* slots - 1 */
	uint64_t tick_limit;    /* current never exceeds it */
	size_t words;           /* uint64_t words per bitset */
	struct iouw_wheel_bucket *buckets;
	uint64_t *occupied;      /* bucket non-empty */
	uint64_t *active_bits;   /* active_counts[slot] > 0 */
	uint32_t *active_counts; /* active deadlines per slot */
	uint64_t occupied_slots; /* popcount(occupied) */
	uint64_t current_tick;
	uint64_t min_tick; /* earliest active tick, IOUW_NO_TICK when none */
	size_t active;     /* active deadlines */
	size_t stored;     /* entries in all buckets */
	struct iouw_wheel_entry *out; /* advance's result */
	size_t out_len;
	size_t out_cap;
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

#endif /* IOUW_WHEEL_INTERNAL_H */
