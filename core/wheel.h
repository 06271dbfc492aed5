/* core/wheel.h: the timeout wheel (docs/wheel.md §5).
 *
 * Owns: deadline bookkeeping for waiters. The loop converts a request's
 * absolute deadline into a tick, schedules the waiter id at that tick, and
 * on every iteration advances the wheel to "now" to collect the entries
 * whose tick has passed. The wheel never reads a clock: every time it sees
 * is passed in, from the loop's injectable struct iouw_clock (clock.h).
 *
 * Design: a single-level hashed timing wheel (Varghese & Lauck, SOSP '87).
 * Ticks are uint64_t counts of tick_ns since start_ns; tick t lives in slot
 * t & (slots - 1). slots = next power of two of ceil(max_timeout/tick) + 1.
 * Each slot has an entry vector (a drained one goes to a few spares for the
 * next buckets to fill), a bit in the "occupied" bitset (vector non-empty)
 * and an active count with a bit in the "active" bitset (count > 0). Scans walk the bitsets one uint64_t word
 * at a time with __builtin_ctzll, so advance and the earliest-deadline
 * recomputation cost O(slots/64 + entries returned), never O(slots).
 *
 * Workload it is built for: most requests complete before their deadline,
 * few time out. So schedule is a push plus two bit sets, remove is O(1)
 * (a count decrement; it does NOT find and delete the entry), and expiry is
 * lazy: the entry of a removed deadline stays in its bucket ("stale") until
 * advance passes its tick. advance hands such entries back with their own
 * tick; the caller ignores entries whose waiter is gone, e.g.
 *     for each e: if (iouw_waiters_cancel(waiters, e.id)) iouw_wheel_remove(w, e.tick);
 * The tick in each entry is the tick it was scheduled at, so a stale entry
 * of an old occupant of a waiter slot and the entry of the slot's new
 * occupant are told apart even when they come back in one batch.
 *
 * Loop protocol: on admission t = target_tick(deadline); IOUW_NO_TICK means
 * already expired (time out at once), else schedule(id, t). When the waiter
 * leaves deadline tracking (completed, orphaned, or its timeout cancel was
 * requested): remove(t), exactly once. When no deadline is active the loop
 * does not read the clock; before converting the first deadline after such
 * an idle period it calls advance(now) once, which only moves the current
 * tick (and purges stale entries) and returns none.
 *
 * Wheel-wide states:
 *   IDLE     active == 0, min_tick == IOUW_NO_TICK; buckets may still hold
 *            stale entries until the next advance purges them.
 *   ARMED    active > 0, min_tick == smallest active tick > current.
 *   DUE      active > 0, min_tick <= current: advance returned entries whose
 *            deadlines the caller has not removed yet.
 *
 *   IDLE  -> ARMED  schedule
 *   ARMED -> ARMED  schedule; remove (not the last); advance short of min_tick
 *   ARMED -> IDLE   remove of the last active deadline
 *   ARMED -> DUE    advance to now_tick >= min_tick (returns the due buckets)
 *   DUE   -> DUE    schedule (within the window); advance; remove of some
 *   DUE   -> ARMED  remove of the due deadlines, others still active
 *   DUE   -> IDLE   remove of the last active deadline
 *   IDLE  -> IDLE   advance (moves current, purges stale buckets, returns none)
 *
 * Invariants (iouw_wheel_assert_consistent() checks each, by name):
 *   - every stored entry e (active or stale) sits in slot e.tick & mask and
 *     current < e.tick < current + slots, so all entries of one bucket share
 *     one tick;
 *   - occupied bit <=> bucket non-empty; occupied_slots == popcount;
 *   - active bit <=> active count > 0; sum of counts == active;
 *   - active == 0 <=> min_tick == IOUW_NO_TICK; otherwise min_tick is the
 *     smallest active tick and every active tick lies in
 *     [min_tick, min_tick + slots), so no two active ticks share a slot;
 *   - no bit is set beyond the last slot; current <= the tick limit.
 *
 * Limits and decisions:
 *   - slots <= IOUW_WHEEL_MAX_SLOTS (2^20): a layout needing more is -EINVAL.
 *     That bounds memory (about 24 bytes per slot before entries) and every
 *     scan. The default 60 s / 5 ms layout uses 16384 slots.
 *   - target_tick clamps to current + ceil(max_timeout/tick). current is the
 *     floor of the last advance's time, so a deadline right at the horizon
 *     of "now" can be shortened by less than one tick (the clamp of docs/wheel.md §5.2).
 *   - Deadlines and times saturate, never wrap: deadline < start is already
 *     expired; now < start is tick 0; the current tick stops at
 *     UINT64_MAX - 2 * slots (the "tick limit"), so current + slots and
 *     min_tick + slots never overflow and no real tick is IOUW_NO_TICK.
 *   - Ticks are exact at any time: they count from start_ns; nothing drifts.
 *   - advance returns the due buckets in tick order (insertion order within
 *     a tick). When it passes buckets but no active deadline is due
 *     (now_tick < min_tick) the passed buckets can only hold stale entries;
 *     they are purged and none is returned.
 *   - A caller must remove the due deadlines advance returned before
 *     scheduling a tick a full revolution past them; schedule panics
 *     ("wheel deadline window exceeds span") otherwise.
 *   - Allocation failure while growing a bucket or the result array is an
 *     invariant failure ("wheel out of memory"): schedule and advance have no
 *     error path, as in the original.
 *   - Not thread-safe: the loop thread owns its wheel.
 *
 * Cost per deadline (docs/wheel.md §5.8): the loop calls the inline forms of
 * target_tick, schedule and remove from wheel_internal.h; tick arithmetic
 * uses an exact reciprocal of tick_ns, not a division.
 */
#ifndef IOUW_WHEEL_H
#define IOUW_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#include "waiter.h"

/* Largest slot count a wheel may have. */
#define IOUW_WHEEL_MAX_SLOTS (UINT64_C(1) << 20)

/* One scheduled deadline: the waiter and the tick it was scheduled at. */
struct iouw_wheel_entry {
	iouw_waiter_id id;
	uint64_t tick;
};

struct iouw_wheel;

/* Create a wheel of @tick_ns ticks covering deadlines up to @max_timeout_ns
 * ahead, counting ticks from @start_ns; the current tick starts at 0.
 * Returns 0 and sets *ret, or -EINVAL (zero tick, zero max timeout, more
 * than IOUW_WHEEL_MAX_SLOTS slots, ret NULL), -ENOMEM. */
int iouw_wheel_new(uint64_t tick_ns, uint64_t max_timeout_ns, uint64_t start_ns,
                   struct iouw_wheel **ret);

/* Free @w and every entry it holds. NULL is a no-op. */
void iouw_wheel_free(struct iouw_wheel *w);

/* The tick for @deadline_ns: ceil((deadline - start) / tick), clamped to
 * current + ceil(max_timeout / tick). IOUW_NO_TICK when the deadline is
 * already expired (its tick <= current, including deadline <= start). Pure:
 * reads no clock and changes nothing. */
uint64_t iouw_wheel_target_tick(const struct iouw_wheel *w, uint64_t deadline_ns);

/* Schedule @id at @tick: one more active deadline. Panics unless
 * 0 < tick - current < slots ("wheel schedule target not in the future",
 * "wheel schedule target beyond horizon"), or when a due deadline at least
 * a revolution older is still active ("wheel deadline window exceeds span"). */
void iouw_wheel_schedule(struct iouw_wheel *w, iouw_waiter_id id, uint64_t tick);

/* One deadline scheduled at @tick left tracking. Call exactly once per
 * schedule. O(1); the entry stays in its bucket and comes back stale.
 * Panics when nothing is active ("wheel remove without active deadline"),
 * when no active deadline is counted at @tick's slot ("wheel remove of tick
 * with no active count") or @tick is outside the active window ("wheel
 * remove outside active window"). Keeps the earliest-deadline cache exact. */
void iouw_wheel_remove(struct iouw_wheel *w, uint64_t tick);

/* Move the current tick to floor((now - start) / tick) (saturating) and
 * return every entry of every bucket passed, in tick order, active and
 * stale, with *ret_n set to their number; or NULL with *ret_n = 0 when time
 * did not move a tick, no deadline is active (stale buckets are purged), no
 * active deadline is due, or the passed buckets are empty. A jump of a whole
 * revolution or more drains every bucket. The array belongs to the wheel and
 * stays valid until the next iouw_wheel_advance() or iouw_wheel_free(). */
const struct iouw_wheel_entry *iouw_wheel_advance(struct iouw_wheel *w, uint64_t now_ns,
                                                  size_t *ret_n);

/* Time from the current tick to the earliest active tick (0 when it is
 * already due), saturating. Returns 0 and sets *ret_ns, -ENOENT when no
 * deadline is active, -EINVAL when ret_ns is NULL. */
int iouw_wheel_next_deadline(const struct iouw_wheel *w, uint64_t *ret_ns);

/* Number of active deadlines (schedules not yet removed). */
size_t iouw_wheel_active(const struct iouw_wheel *w);

/* The tick of the last advance (0 before any). */
uint64_t iouw_wheel_current_tick(const struct iouw_wheel *w);

/* Slot count (a power of two). */
uint64_t iouw_wheel_slots(const struct iouw_wheel *w);

/* Tick length in ns. */
uint64_t iouw_wheel_tick_ns(const struct iouw_wheel *w);

/* The earliest active tick, or IOUW_NO_TICK. */
uint64_t iouw_wheel_min_tick(const struct iouw_wheel *w);

/* Number of entries stored, active and stale (for tests and the harness). */
size_t iouw_wheel_stored(const struct iouw_wheel *w);

/* Check every invariant listed above; panics naming the first broken one. */
void iouw_wheel_assert_consistent(const struct iouw_wheel *w);

#endif /* IOUW_WHEEL_H */
