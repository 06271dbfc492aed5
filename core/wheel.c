/* core/wheel.c: see wheel.h (design, invariants) and wheel_internal.h
 * (representation). */
#include "wheel_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "invariant.h"

#define WORD_BITS 64u

static inline uint64_t slot_of(const struct iouw_wheel *w, uint64_t tick)
{
	return tick & w->mask;
}

static inline bool bit_get(const uint64_t *bits, uint64_t i)
{
	return (bits[i / WORD_BITS] >> (i % WORD_BITS)) & 1u;
}

/* Bits [lo, hi) of a word, 0 <= lo < hi <= 64. */
static inline uint64_t word_mask(unsigned lo, unsigned hi)
{
	uint64_t m = UINT64_MAX << lo;

	if (hi < WORD_BITS)
		m &= (UINT64_C(1) << hi) - 1;
	return m;
}

static uint64_t next_pow2(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

void iouw_wheel_divisor_init(struct iouw_wheel_divisor *dv, uint64_t d)
{
	unsigned l;
	unsigned __int128 top, m;

	IOUW_INVARIANT(d != 0, "wheel tick divisor out of range");
	l = d == 1 ? 0 : 64u - (unsigned)__builtin_clzll(d - 1); /* ceil(log2 d) */
	/* m = ceil(2^(64+l) / d) = floor((2^(64+l) - 1) / d) + 1; 2^(64+l) - 1
	 * fits in 128 bits even for l = 64. */
	top = l == 64 ? ~(unsigned __int128)0 : ((unsigned __int128)1 << (64 + l)) - 1;
	m = top / d + 1;
	IOUW_INVARIANT((uint64_t)(m >> 64) == 1, "wheel tick divisor out of range");
	dv->m_lo = (uint64_t)m;
	dv->shift = l;
}

int iouw_wheel_new(uint64_t tick_ns, uint64_t max_timeout_ns, uint64_t start_ns,
                   struct iouw_wheel **ret)
{
	struct iouw_wheel *w;
	uint64_t horizon, slots;

	if (ret == NULL || tick_ns == 0 || max_timeout_ns == 0)
		return -EINVAL;
	horizon = max_timeout_ns / tick_ns + (max_timeout_ns % tick_ns != 0);
	/* horizon >= 1; compare before adding so nothing can overflow. */
	if (horizon >= IOUW_WHEEL_MAX_SLOTS)
		return -EINVAL;
	slots = next_pow2(horizon + 1);

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->tick_ns = tick_ns;
	iouw_wheel_divisor_init(&w->per_tick, tick_ns);
	w->max_timeout_ns = max_timeout_ns;
	w->start_ns = start_ns;
	w->horizon_ticks = horizon;
	w->slots = slots;
	w->mask = slots - 1;
	w->tick_limit = UINT64_MAX - 2 * slots;
	w->words = (size_t)((slots + WORD_BITS - 1) / WORD_BITS);
	w->current_tick = 0;
	w->min_tick = IOUW_NO_TICK;
	w->buckets = calloc((size_t)slots, sizeof(*w->buckets));
	w->occupied = calloc(w->words, sizeof(*w->occupied));
	w->active_bits = calloc(w->words, sizeof(*w->active_bits));
	if (w->buckets == NULL || w->occupied == NULL || w->active_bits == NULL) {
		iouw_wheel_free(w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}

void iouw_wheel_free(struct iouw_wheel *w)
{
	if (w == NULL)
		return;
	if (w->buckets != NULL) {
		for (uint64_t s = 0; s < w->slots; s++)
			free(w->buckets[s].v);
	}
	for (unsigned i = 0; i < w->spares; i++)
		free(w->spare[i].v);
	free(w->buckets);
	free(w->occupied);
	free(w->active_bits);
	free(w->out);
	free(w);
}

uint64_t iouw_wheel_target_tick(const struct iouw_wheel *w, uint64_t deadline_ns)
{
	return iouw_wheel__target_tick(w, deadline_ns);
}

void iouw_wheel__schedule_grow(struct iouw_wheel *w, iouw_waiter_id id, uint64_t tick)
{
	struct iouw_wheel_bucket *b = &w->buckets[slot_of(w, tick)];
	uint32_t cap = b->cap ? b->cap * 2 : 4;
	struct iouw_wheel_entry *v;

	if (b->cap == 0 && w->spares > 0) {
		/* A drained bucket's vector (see IOUW_WHEEL_SPARES). */
		w->spares--;
		b->v = w->spare[w->spares].v;
		b->cap = w->spare[w->spares].cap;
		iouw_wheel__store(w, id, tick);
		return;
	}
	IOUW_INVARIANT(b->cap < UINT32_MAX / 2, "wheel out of memory");
	v = realloc(b->v, (size_t)cap * sizeof(*v));
	IOUW_INVARIANT(v != NULL, "wheel out of memory");
	b->v = v;
	b->cap = cap;
	iouw_wheel__store(w, id, tick);
}

void iouw_wheel_schedule(struct iouw_wheel *w, iouw_waiter_id id, uint64_t tick)
{
	iouw_wheel__schedule(w, id, tick);
}

uint64_t iouw_wheel_compute_min_tick(const struct iouw_wheel *w, uint64_t from)
{
	uint64_t start = slot_of(w, from);
	uint64_t pos = 0; /* distance from start scanned so far */

	while (pos < w->slots) {
		uint64_t s = (start + pos) & w->mask;
		size_t wi = (size_t)(s / WORD_BITS);
		unsigned lo = (unsigned)(s % WORD_BITS);
		/* Scan to the end of this word, the end of the ring, or the
		 * end of the revolution, whichever comes first. */
		uint64_t room = WORD_BITS - lo;
		uint64_t word_end, word;

		if (room > w->slots - s)
			room = w->slots - s;
		if (room > w->slots - pos)
			room = w->slots - pos;
		word_end = lo + room;
		word = w->active_bits[wi] & word_mask(lo, (unsigned)word_end);
		if (word != 0) {
			uint64_t bit = (uint64_t)__builtin_ctzll(word);

			return from + pos + (bit - lo);
		}
		pos += room;
	}
	return IOUW_NO_TICK;
}

void iouw_wheel__min_left(struct iouw_wheel *w, uint64_t tick)
{
	/* The minimum left; every other active tick lies in
	 * (tick, tick + slots), so one revolution's scan finds the next. */
	w->min_tick = iouw_wheel_compute_min_tick(w, tick + 1);
	IOUW_INVARIANT(w->min_tick != IOUW_NO_TICK, "wheel active total mismatch");
}

void iouw_wheel_remove(struct iouw_wheel *w, uint64_t tick)
{
	iouw_wheel__remove(w, tick);
}

static void out_reserve(struct iouw_wheel *w, size_t more)
{
	size_t need = w->out_len + more;
	struct iouw_wheel_entry *v;
	size_t cap;

	if (need <= w->out_cap)
		return;
	cap = w->out_cap ? w->out_cap : 16;
	while (cap < need) {
		IOUW_INVARIANT(cap <= SIZE_MAX / 2 / sizeof(*v), "wheel out of memory");
		cap *= 2;
	}
	v = realloc(w->out, cap * sizeof(*v));
	IOUW_INVARIANT(v != NULL, "wheel out of memory");
	w->out = v;
	w->out_cap = cap;
}

/* Take the vector of the drained bucket @b into the spares; with the spares
 * full it stays in its bucket. */
static void give_vector(struct iouw_wheel *w, struct iouw_wheel_bucket *b)
{
	if (b->cap == 0 || w->spares == IOUW_WHEEL_SPARES)
		return;
	w->spare[w->spares].v = b->v;
	w->spare[w->spares].cap = b->cap;
	w->spares++;
	b->v = NULL;
	b->cap = 0;
}

uint64_t iouw_wheel_drain_range(struct iouw_wheel *w, uint64_t start, uint64_t end, bool keep)
{
	uint64_t drained = 0;

	if (start >= end)
		return 0;
	for (size_t wi = (size_t)(start / WORD_BITS); wi <= (end - 1) / WORD_BITS; wi++) {
		uint64_t base = (uint64_t)wi * WORD_BITS;
		unsigned lo, hi;
		uint64_t word;

		/* No occupied bucket left (occupied_slots is the popcount):
		 * the rest of the range is empty. The idle purge passes a
		 * whole revolution; the stale entries it drops usually lie
		 * within one timeout of the current tick. */
		if (w->occupied_slots == 0)
			break;
		lo = start > base ? (unsigned)(start - base) : 0;
		hi = end - base < WORD_BITS ? (unsigned)(end - base) : WORD_BITS;
		word = w->occupied[wi] & word_mask(lo, hi);
		if (word == 0)
			continue;
		w->occupied[wi] &= ~word;
		w->occupied_slots -= (uint64_t)__builtin_popcountll(word);
		while (word != 0) {
			uint64_t s = base + (uint64_t)__builtin_ctzll(word);
			struct iouw_wheel_bucket *b = &w->buckets[s];

			IOUW_INVARIANT(b->len > 0, "wheel occupied bit set for empty bucket");
			if (keep) {
				out_reserve(w, b->len);
				memcpy(w->out + w->out_len, b->v, b->len * sizeof(*b->v));
				w->out_len += b->len;
			}
			w->stored -= b->len;
			b->len = 0;
			give_vector(w, b);
			drained++;
			word &= word - 1;
		}
	}
	return drained;
}

/* Drain @span slots starting at the slot of @first_tick, in tick order. */
static void drain_ticks(struct iouw_wheel *w, uint64_t first_tick, uint64_t span, bool keep)
{
	uint64_t start = slot_of(w, first_tick);

	if (span > w->slots)
		span = w->slots;
	if (start + span <= w->slots) {
		iouw_wheel_drain_range(w, start, start + span, keep);
	} else {
		iouw_wheel_drain_range(w, start, w->slots, keep);
		iouw_wheel_drain_range(w, 0, start + span - w->slots, keep);
	}
}

const struct iouw_wheel_entry *iouw_wheel_advance(struct iouw_wheel *w, uint64_t now_ns,
                                                  size_t *ret_n)
{
	uint64_t now_tick, prev;
	bool keep;

	*ret_n = 0;
	now_tick = now_ns <= w->start_ns ? 0 : iouw_wheel__divide(&w->per_tick, now_ns - w->start_ns);
	if (now_tick > w->tick_limit)
		now_tick = w->tick_limit;
	if (now_tick <= w->current_tick)
		return NULL;
	prev = w->current_tick;
	w->current_tick = now_tick;
	w->out_len = 0;

	if (w->active == 0) {
		/* Idle: whatever is stored is stale. */
		if (w->occupied_slots != 0)
			drain_ticks(w, prev + 1, w->slots, false);
		return NULL;
	}
	/* Entries in passed buckets have ticks in (prev, now_tick]; if that is
	 * before every active tick they are all stale: purge, return none. */
	keep = now_tick >= w->min_tick;
	drain_ticks(w, prev + 1, now_tick - prev, keep);
	if (!keep || w->out_len == 0)
		return NULL;
	*ret_n = w->out_len;
	return w->out;
}

int iouw_wheel_next_deadline(const struct iouw_wheel *w, uint64_t *ret_ns)
{
	if (ret_ns == NULL)
		return -EINVAL;
	if (w->active == 0)
		return -ENOENT;
	*ret_ns = w->min_tick > w->current_tick
	                  ? iouw_ns_mul_sat(w->min_tick - w->current_tick, w->tick_ns)
	                  : 0;
	return 0;
}

size_t iouw_wheel_active(const struct iouw_wheel *w)
{
	return w->active;
}

uint64_t iouw_wheel_current_tick(const struct iouw_wheel *w)
{
	return w->current_tick;
}

uint64_t iouw_wheel_slots(const struct iouw_wheel *w)
{
	return w->slots;
}

uint64_t iouw_wheel_tick_ns(const struct iouw_wheel *w)
{
	return w->tick_ns;
}

uint64_t iouw_wheel_min_tick(const struct iouw_wheel *w)
{
	return w->min_tick;
}

size_t iouw_wheel_stored(const struct iouw_wheel *w)
{
	return w->stored;
}

void iouw_wheel_assert_consistent(const struct iouw_wheel *w)
{
	uint64_t occupied = 0, active = 0, stored = 0;

	IOUW_INVARIANT(w->current_tick <= w->tick_limit, "wheel current tick beyond limit");
	/* Bits past the last slot (only when slots < 64) must stay clear. */
	if (w->slots % WORD_BITS != 0) {
		uint64_t tail = ~word_mask(0, (unsigned)(w->slots % WORD_BITS));

		IOUW_INVARIANT((w->occupied[w->words - 1] & tail) == 0 &&
		                       (w->active_bits[w->words - 1] & tail) == 0,
		               "wheel bitset bit beyond last slot");
	}
	IOUW_INVARIANT((w->active == 0) == (w->min_tick == IOUW_NO_TICK),
	               "wheel earliest deadline cache mismatch");
	IOUW_INVARIANT(w->active == 0 || w->buckets[slot_of(w, w->min_tick)].active > 0,
	               "wheel earliest deadline cache mismatch");
	for (uint64_t s = 0; s < w->slots; s++) {
		const struct iouw_wheel_bucket *b = &w->buckets[s];

		IOUW_INVARIANT(bit_get(w->occupied, s) == (b->len > 0),
		               "wheel occupied bit disagrees with bucket");
		IOUW_INVARIANT(bit_get(w->active_bits, s) == (b->active > 0),
		               "wheel active bit disagrees with count");
		occupied += b->len > 0;
		active += b->active;
		stored += b->len;
		for (uint32_t i = 0; i < b->len; i++) {
			uint64_t t = b->v[i].tick;

			IOUW_INVARIANT(t > w->current_tick && t - w->current_tick < w->slots,
			               "wheel entry outside window");
			IOUW_INVARIANT(slot_of(w, t) == s, "wheel entry in wrong bucket");
			if (b->active > 0)
				IOUW_INVARIANT(t >= w->min_tick && t - w->min_tick < w->slots,
				               "wheel active deadline outside window");
		}
	}
	IOUW_INVARIANT(occupied == w->occupied_slots, "wheel occupied slot count mismatch");
	IOUW_INVARIANT(stored == w->stored, "wheel stored entry count mismatch");
	IOUW_INVARIANT(active == w->active, "wheel active total mismatch");
}
