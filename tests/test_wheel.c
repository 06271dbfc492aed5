/* tests/test_wheel.c: the timeout-wheel and clock suite (core/wheel.h,
 * core/clock.h), suite `wheel`.
 *
 * Ports the original's timeout-wheel tests (docs/testing.md §9.4) one for one,
 * with the same intent. The original reads private fields; these tests read
 * and corrupt the same state through core/wheel_internal.h. The original
 * uses a 5 ms tick; so do these, with a non-zero start so the epoch offset
 * is exercised. Where the C wheel deliberately differs (docs/wheel.md §5.7: the "+1" slot
 * rule, tick-ordered drains, purging passed stale-only buckets) the test
 * asserts the C behaviour and says so.
 *
 * Original test                                  C twin(s)
 * tick_math_and_target_tick_cases                same name
 * advance_non_expiry_paths                       same name
 * schedule_after_advance_via_public_api          same name
 * schedule_advance_and_timeout_lookup            same name
 * interleaved_schedule_advance_cycles            same name
 * advance_no_active_fast_path_and_stale_purge    same name
 * advance_returns_all_waiters_from_same_bucket   same name
 * wraparound_deadline_and_range_drain            same name
 * multi_word_bitset_end_to_end_advance           same name
 * full_revolution_drain_and_reschedule           same name
 * advance_returns_none_when_due_scan_finds_no_occupied_slots
 *                                                same name
 * min_scheduled_tick_update_paths                same name
 * reused_slot_stale_entry_preserves_tick_identity
 *                                                same name,
 *                                                stale_entry_purged_before_slot_reuse
 * duration_to_nanos_saturating_extremes          same name
 * construction_panics_for_invalid_inputs         same name (-EINVAL returns,
 *                                                not panics: C constructors
 *                                                return errors)
 * compute_min_scheduled_tick_cases               same name
 * compute_min_scheduled_tick_empty_wrapped_tail  same name
 * drain_occupied_range_empty_interval_noop       same name
 * invariant_assertion_paths                      same name (one forked child
 *                                                per corruption, each
 *                                                checking which invariant
 *                                                fired), plus the
 *                                                schedule_/remove_*_panics
 *                                                expected-SIGABRT tests
 *
 * Beyond the original: already-expired deadlines, clamping to the horizon,
 * horizon panics (tick == current, tick - current >= slots), a jump of
 * several revolutions, stale entries after removal and slot reuse,
 * next_deadline after removing the minimum, saturation near UINT64_MAX, the
 * virtual and monotonic clocks, the loop's filter protocol against the real
 * waiter table, and a model-based test running a naive
 * reference beside the wheel on a long pseudo-random operation stream.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fake_request.h"
#include "support.h"
#include "waiter.h"
#include "wheel.h"
#include "wheel_internal.h"

#define MS UINT64_C(1000000)
#define TICK_NS (5 * MS)
#define START (UINT64_C(1000) * IOUW_NS_PER_SEC)

static struct iouw_wheel *mk_at(uint64_t tick_ns, uint64_t max_ns, uint64_t start_ns)
{
	struct iouw_wheel *w = NULL;

	ck_assert_int_eq(iouw_wheel_new(tick_ns, max_ns, start_ns, &w), 0);
	ck_assert_ptr_nonnull(w);
	iouw_wheel_assert_consistent(w);
	return w;
}

/* A 5 ms wheel starting at START with horizon @max_ms milliseconds. */
static struct iouw_wheel *mk(uint64_t max_ms)
{
	return mk_at(TICK_NS, max_ms * MS, START);
}

static uint64_t at(uint64_t tick)
{
	return START + tick * TICK_NS;
}

static iouw_waiter_id wid(uint32_t index, uint32_t generation)
{
	return iouw_waiter_id_new(index, generation);
}

struct want {
	uint32_t index, generation;
	uint64_t tick;
};

/* Advance to time @now and assert the exact returned sequence. */
static void expect_advance_ns(struct iouw_wheel *w, uint64_t now, const struct want *want,
                              size_t n)
{
	size_t got_n = 99;
	const struct iouw_wheel_entry *got = iouw_wheel_advance(w, now, &got_n);

	ck_assert_uint_eq(got_n, n);
	if (n == 0) {
		ck_assert_ptr_null(got);
	} else {
		ck_assert_ptr_nonnull(got);
		for (size_t i = 0; i < n; i++) {
			ck_assert_msg(iouw_waiter_id_eq(got[i].id, wid(want[i].index,
			                                                want[i].generation)),
			              "entry %zu: id 0x%llx", i, (unsigned long long)got[i].id.raw);
			ck_assert_uint_eq(got[i].tick, want[i].tick);
		}
	}
	iouw_wheel_assert_consistent(w);
}

#define ADV(w, tick, ...)                                                        \
	do {                                                                     \
		const struct want want_[] = { __VA_ARGS__ };                     \
		expect_advance_ns((w), at(tick), want_, sizeof(want_) / sizeof(want_[0])); \
	} while (0)
#define ADV_NONE(w, tick) expect_advance_ns((w), at(tick), NULL, 0)

static void sched(struct iouw_wheel *w, uint32_t index, uint32_t generation, uint64_t tick)
{
	iouw_wheel_schedule(w, wid(index, generation), tick);
	iouw_wheel_assert_consistent(w);
}

static void rm(struct iouw_wheel *w, uint64_t tick)
{
	iouw_wheel_remove(w, tick);
	iouw_wheel_assert_consistent(w);
}

static void expect_next_deadline(const struct iouw_wheel *w, uint64_t ns)
{
	uint64_t got = 12345;

	ck_assert_int_eq(iouw_wheel_next_deadline(w, &got), 0);
	ck_assert_uint_eq(got, ns);
}

static void expect_no_deadline(const struct iouw_wheel *w)
{
	uint64_t got = 12345;

	ck_assert_int_eq(iouw_wheel_next_deadline(w, &got), -ENOENT);
	ck_assert_uint_eq(got, 12345);
}

/* ---- ports of the original's tests ---------------------------------- */

START_TEST(test_tick_math_and_target_tick_cases)
{
	struct iouw_wheel *w;

	/* 60 s / 5 ms = 12000 ticks, + 1 (docs/wheel.md §5.1) = 12001, next pow2 16384. */
	w = mk(60000);
	ck_assert_uint_eq(iouw_wheel_slots(w), 16384);
	iouw_wheel_free(w);
	/* 1 ns horizon: 1 tick + 1 = 2 slots (the original's +2 gives 4). */
	w = mk_at(TICK_NS, 1, START);
	ck_assert_uint_eq(iouw_wheel_slots(w), 2);
	iouw_wheel_free(w);
	/* 100 ms: 20 + 1 -> 32; exact powers need no rounding: 63 + 1 -> 64. */
	w = mk(100);
	ck_assert_uint_eq(iouw_wheel_slots(w), 32);
	iouw_wheel_free(w);
	w = mk(315);
	ck_assert_uint_eq(iouw_wheel_slots(w), 64);
	iouw_wheel_free(w);
	w = mk(320);
	ck_assert_uint_eq(iouw_wheel_slots(w), 128);
	iouw_wheel_free(w);

	/* now_tick = floor((now - start) / tick): 0, 4, 5, 12 ms -> 0, 0, 1, 2. */
	w = mk(100);
	const uint64_t ms_at[] = { 0, 4, 5, 12 }, tick_at[] = { 0, 0, 1, 2 };
	for (size_t i = 0; i < 4; i++) {
		expect_advance_ns(w, START + ms_at[i] * MS, NULL, 0);
		ck_assert_uint_eq(iouw_wheel_current_tick(w), tick_at[i]);
	}
	iouw_wheel_free(w);

	w = mk(100);
	/* Past deadlines and the start itself are already expired. */
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START - MS), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, 0), IOUW_NO_TICK);
	/* ceil: one ns past start is tick 1, as is exactly one tick. */
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + 1), 1);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + TICK_NS), 1);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + TICK_NS + 1), 2);
	/* Very far deadline clamps to max_timeout (100 ms = 20 ticks). */
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + 10 * IOUW_NS_PER_SEC), 20);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, UINT64_MAX), 20);

	/* Relative to the current tick after advances. */
	ADV_NONE(w, 7);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + 35 * MS + 12 * MS), 10);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + 35 * MS), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + 35 * MS + 1), 8);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, UINT64_MAX), 27);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_advance_non_expiry_paths)
{
	/* Empty wheel: advancing only updates the current tick. */
	struct iouw_wheel *w = mk(100);
	ADV_NONE(w, 10);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 10);
	expect_no_deadline(w);
	/* Time going back is ignored. */
	ADV_NONE(w, 3);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 10);
	iouw_wheel_free(w);

	/* No-op: now tick does not move forward. */
	w = mk(100);
	sched(w, 1, 0, 2);
	ADV_NONE(w, 0);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 0);
	ck_assert_uint_eq(iouw_wheel_active(w), 1);
	iouw_wheel_free(w);

	/* Active deadline exists, but it is still in the future. */
	w = mk(100);
	sched(w, 7, 0, 10);
	ADV_NONE(w, 5);
	ck_assert_uint_eq(iouw_wheel_active(w), 1);
	expect_next_deadline(w, 5 * TICK_NS);
	iouw_wheel_free(w);

	/* Earliest active deadline has not arrived yet. */
	w = mk(100);
	sched(w, 7, 0, 2);
	ADV_NONE(w, 1);
	ADV(w, 2, { 7, 0, 2 });
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_schedule_after_advance_via_public_api)
{
	struct iouw_wheel *w = mk(100);
	uint64_t t;

	ADV_NONE(w, 10);
	/* now = tick 10 (50 ms); deadline 10 ms later => tick 12. */
	t = iouw_wheel_target_tick(w, START + 50 * MS + 10 * MS);
	ck_assert_uint_eq(t, 12);
	sched(w, 1, 0, t);
	ADV_NONE(w, 11);
	ADV(w, 12, { 1, 0, 12 });
	rm(w, 12);
	expect_no_deadline(w);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_schedule_advance_and_timeout_lookup)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 2);
	sched(w, 2, 0, 5);
	/* Earliest target tick 2 => 10 ms from current tick 0. */
	expect_next_deadline(w, 10 * MS);
	ADV_NONE(w, 1);
	expect_next_deadline(w, 5 * MS);
	ADV(w, 2, { 1, 0, 2 });
	/* Due but not removed yet: the wait is zero. */
	expect_next_deadline(w, 0);
	rm(w, 2);
	expect_next_deadline(w, 15 * MS);
	ADV(w, 5, { 2, 0, 5 });
	rm(w, 5);
	expect_no_deadline(w);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_interleaved_schedule_advance_cycles)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 2);
	ADV_NONE(w, 1);
	sched(w, 2, 0, 4);
	ADV(w, 2, { 1, 0, 2 });
	rm(w, 2);
	ADV_NONE(w, 3);
	ADV(w, 4, { 2, 0, 4 });
	rm(w, 4);
	expect_no_deadline(w);
	ck_assert_uint_eq(iouw_wheel_active(w), 0);
	ck_assert_uint_eq(iouw_wheel_stored(w), 0);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_advance_no_active_fast_path_and_stale_purge)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 2);
	rm(w, 2);
	ck_assert_uint_eq(w->occupied_slots, 1);
	ck_assert_uint_eq(iouw_wheel_stored(w), 1);
	/* No active deadline: the first advance purges stale occupancy, still
	 * moves the current tick, and returns none. */
	ADV_NONE(w, 10);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 10);
	ck_assert_uint_eq(w->occupied_slots, 0);
	ck_assert_uint_eq(iouw_wheel_stored(w), 0);
	expect_no_deadline(w);
	/* Purge also works when the stale tick is still in the future. */
	sched(w, 2, 0, 40);
	rm(w, 40);
	ADV_NONE(w, 11);
	ck_assert_uint_eq(w->occupied_slots, 0);
	ck_assert_uint_eq(iouw_wheel_stored(w), 0);
	/* Subsequent idle advances are no-ops for occupancy. */
	ADV_NONE(w, 100);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 100);
	ck_assert_uint_eq(w->occupied_slots, 0);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_advance_returns_all_waiters_from_same_bucket)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 2);
	sched(w, 2, 0, 2);
	sched(w, 3, 5, 2);
	ADV(w, 2, { 1, 0, 2 }, { 2, 0, 2 }, { 3, 5, 2 });
	rm(w, 2);
	expect_next_deadline(w, 0);
	rm(w, 2);
	rm(w, 2);
	expect_no_deadline(w);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_wraparound_deadline_and_range_drain)
{
	struct iouw_wheel *w = mk(100); /* 32 slots */

	ADV_NONE(w, 30);
	sched(w, 3, 0, 33);
	/* current 30, target 33 => 3 ticks of 5 ms. */
	expect_next_deadline(w, 15 * MS);
	/* Slot 31 (tail) and slot 1 (head): one advance drains both ranges. */
	sched(w, 1, 0, 31);
	sched(w, 2, 0, 33);
	expect_next_deadline(w, 5 * MS);
	ADV(w, 33, { 1, 0, 31 }, { 3, 0, 33 }, { 2, 0, 33 });
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_multi_word_bitset_end_to_end_advance)
{
	struct iouw_wheel *w = mk(500); /* 128 slots, two words */

	ck_assert_uint_eq(iouw_wheel_slots(w), 128);
	sched(w, 1, 0, 63);
	sched(w, 2, 0, 64);
	sched(w, 3, 0, 65);
	sched(w, 4, 0, 127);
	ADV(w, 65, { 1, 0, 63 }, { 2, 0, 64 }, { 3, 0, 65 });
	rm(w, 63);
	rm(w, 64);
	rm(w, 65);
	expect_next_deadline(w, (127 - 65) * TICK_NS);
	/* Schedule into the wrapped first word, then drain across the end. */
	sched(w, 5, 0, 130);
	ADV(w, 130, { 4, 0, 127 }, { 5, 0, 130 });
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_full_revolution_drain_and_reschedule)
{
	struct iouw_wheel *w = mk(100); /* 32 slots */

	sched(w, 1, 0, 20);
	sched(w, 2, 0, 5);
	/* Jumping by >= 32 ticks expires every bucket. The C wheel returns
	 * them in tick order (the original sorted by index before comparing). */
	ADV(w, 40, { 2, 0, 5 }, { 1, 0, 20 });
	rm(w, 20);
	rm(w, 5);
	expect_no_deadline(w);
	/* Still usable after a full-revolution drain. */
	sched(w, 2, 0, 41);
	ADV(w, 41, { 2, 0, 41 });
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_advance_returns_none_when_due_scan_finds_no_occupied_slots)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 5);
	/* Corrupt only bucket-occupancy metadata: active state says "due" but
	 * the scan sees no occupied bucket, so advance returns none. */
	memset(w->occupied, 0, w->words * sizeof(*w->occupied));
	w->occupied_slots = 0;
	{
		size_t n = 99;

		ck_assert_ptr_null(iouw_wheel_advance(w, at(5), &n));
		ck_assert_uint_eq(n, 0);
	}
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 5);
	iouw_wheel_free(w); /* frees the orphaned bucket all the same */
}
END_TEST

START_TEST(test_min_scheduled_tick_update_paths)
{
	/* 1: an advance before the minimum tick does not lose the entry. */
	struct iouw_wheel *w = mk(500);
	sched(w, 9, 0, 100);
	ADV_NONE(w, 50);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 50);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), 100);
	ADV(w, 100, { 9, 0, 100 });
	rm(w, 100);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), IOUW_NO_TICK);
	iouw_wheel_free(w);

	/* 2: removing the minimum recomputes the next active tick. */
	w = mk(100);
	sched(w, 1, 0, 5);
	sched(w, 2, 0, 10);
	ADV(w, 5, { 1, 0, 5 });
	rm(w, 5);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), 10);
	expect_next_deadline(w, 25 * MS);
	iouw_wheel_free(w);

	/* 3: removing a non-minimum keeps the minimum. */
	w = mk(100);
	sched(w, 1, 0, 5);
	sched(w, 2, 0, 10);
	rm(w, 10);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), 5);
	expect_next_deadline(w, 25 * MS);
	iouw_wheel_free(w);

	/* 4: scheduling below the minimum lowers it. */
	w = mk(100);
	sched(w, 1, 0, 9);
	sched(w, 2, 0, 3);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), 3);
	sched(w, 3, 0, 6);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), 3);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_reused_slot_stale_entry_preserves_tick_identity)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 7, 0, 5);
	rm(w, 5); /* completed early; the stale entry stays until drained */
	/* Waiter slot 7 reused by a new waiter (next generation). */
	sched(w, 7, 1, 10);
	ck_assert_uint_eq(iouw_wheel_stored(w), 2);
	/* Both come back, each with its own tick, so the caller can tell the
	 * stale one (tick 5, old generation) from the live one. */
	ADV(w, 10, { 7, 0, 5 }, { 7, 1, 10 });
	rm(w, 10);
	expect_no_deadline(w);
	ck_assert_uint_eq(iouw_wheel_stored(w), 0);
	iouw_wheel_free(w);

	/* Same waiter id rescheduled in the same bucket for the same tick:
	 * two entries, one active count. */
	w = mk(100);
	sched(w, 7, 0, 5);
	rm(w, 5);
	sched(w, 7, 1, 5);
	ck_assert_uint_eq(iouw_wheel_active(w), 1);
	ADV(w, 5, { 7, 0, 5 }, { 7, 1, 5 });
	rm(w, 5);
	iouw_wheel_free(w);
}
END_TEST

/* A stale entry never shares a bucket with a later tick: it is purged when
 * the wheel passes its tick, so the new occupant of the same bucket one
 * revolution later comes back alone. */
START_TEST(test_stale_entry_purged_before_slot_reuse)
{
	struct iouw_wheel *w = mk(100); /* 32 slots */

	sched(w, 7, 0, 5);
	sched(w, 8, 0, 20);
	rm(w, 5);
	/* Passing tick 5 short of the minimum (20) purges, returns none. */
	ADV_NONE(w, 6);
	ck_assert_uint_eq(iouw_wheel_stored(w), 1);
	/* Bucket 5 again, one revolution later. */
	sched(w, 7, 1, 37);
	ADV(w, 20, { 8, 0, 20 });
	rm(w, 20);
	ADV(w, 37, { 7, 1, 37 });
	rm(w, 37);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_duration_to_nanos_saturating_extremes)
{
	struct iouw_virtual_clock vc = { .now_ns = UINT64_MAX - 5 };

	ck_assert_uint_eq(iouw_duration_to_ns(UINT64_MAX, 999999999), UINT64_MAX);
	ck_assert_uint_eq(iouw_duration_to_ns(1, 42), UINT64_C(1000000042));
	ck_assert_uint_eq(iouw_duration_to_ns(0, 0), 0);
	/* The largest representable value is exact; one ns more saturates. */
	ck_assert_uint_eq(iouw_duration_to_ns(UINT64_C(18446744073), 709551615), UINT64_MAX);
	ck_assert_uint_eq(iouw_duration_to_ns(UINT64_C(18446744073), 709551616), UINT64_MAX);
	ck_assert_uint_eq(iouw_duration_to_ns(UINT64_C(18446744073), 709551614),
	                  UINT64_MAX - 1);
	ck_assert_uint_eq(iouw_duration_to_ns(UINT64_C(18446744074), 0), UINT64_MAX);
	ck_assert_uint_eq(iouw_ns_add_sat(UINT64_MAX, 1), UINT64_MAX);
	ck_assert_uint_eq(iouw_ns_add_sat(UINT64_MAX - 1, 1), UINT64_MAX);
	ck_assert_uint_eq(iouw_ns_add_sat(2, 3), 5);
	ck_assert_uint_eq(iouw_ns_mul_sat(UINT64_C(1) << 32, UINT64_C(1) << 32), UINT64_MAX);
	ck_assert_uint_eq(iouw_ns_mul_sat(UINT64_C(1) << 31, UINT64_C(1) << 32),
	                  UINT64_C(1) << 63);
	/* The virtual clock saturates too. */
	iouw_virtual_clock_advance(&vc, 3);
	ck_assert_uint_eq(vc.now_ns, UINT64_MAX - 2);
	iouw_virtual_clock_advance(&vc, UINT64_MAX);
	ck_assert_uint_eq(vc.now_ns, UINT64_MAX);
}
END_TEST

START_TEST(test_construction_panics_for_invalid_inputs)
{
	struct iouw_wheel *w = (struct iouw_wheel *)&w; /* sentinel */
	struct iouw_wheel *const sentinel = w;

	/* Zero max timeout, zero tick, NULL ret. */
	ck_assert_int_eq(iouw_wheel_new(TICK_NS, 0, START, &w), -EINVAL);
	ck_assert_int_eq(iouw_wheel_new(0, 100 * MS, START, &w), -EINVAL);
	ck_assert_int_eq(iouw_wheel_new(0, 0, START, &w), -EINVAL);
	ck_assert_int_eq(iouw_wheel_new(TICK_NS, 100 * MS, START, NULL), -EINVAL);
	/* Absurd sizes: more than 2^20 slots, including saturated inputs. */
	ck_assert_int_eq(iouw_wheel_new(1, UINT64_MAX, START, &w), -EINVAL);
	ck_assert_int_eq(iouw_wheel_new(1, IOUW_WHEEL_MAX_SLOTS, START, &w), -EINVAL);
	ck_assert_int_eq(iouw_wheel_new(TICK_NS, UINT64_MAX, START, &w), -EINVAL);
	/* Nothing written on failure. */
	ck_assert_ptr_eq(w, sentinel);

	/* The largest layout: 2^20 - 1 ticks + 1 = 2^20 slots. */
	ck_assert_int_eq(iouw_wheel_new(1, IOUW_WHEEL_MAX_SLOTS - 1, START, &w), 0);
	ck_assert_uint_eq(iouw_wheel_slots(w), IOUW_WHEEL_MAX_SLOTS);
	iouw_wheel_free(w);
	/* Huge tick and horizon are fine when the tick count is small. */
	ck_assert_int_eq(iouw_wheel_new(UINT64_MAX, UINT64_MAX, 0, &w), 0);
	ck_assert_uint_eq(iouw_wheel_slots(w), 2);
	iouw_wheel_free(w);
	iouw_wheel_free(NULL);
}
END_TEST

START_TEST(test_compute_min_scheduled_tick_cases)
{
	struct iouw_wheel *w = mk(100);

	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 1), IOUW_NO_TICK);
	iouw_wheel_free(w);

	/* Wrapped: current 30 of 32 slots, active at 33 (slot 1). */
	w = mk(100);
	ADV_NONE(w, 30);
	sched(w, 1, 0, 33);
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 31), 33);
	sched(w, 2, 0, 31);
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 31), 31);
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 32), 33);
	iouw_wheel_free(w);

	/* Multi-word wrap: 128 slots, current 63, the scan starts at slot 64
	 * and wraps to slot 1 => tick 129. */
	w = mk(500);
	ADV_NONE(w, 63);
	w->active_bits[0] |= UINT64_C(1) << 1;
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 64), 129);
	/* A bit in the second word is found first. */
	w->active_bits[1] |= UINT64_C(1) << 63; /* slot 127 */
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 64), 127);
	/* Starting mid-word skips the bits below the start. */
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 128), 129);
	iouw_wheel_free(w);

	/* Fewer than 64 slots: bits beyond the last slot are never looked at. */
	w = mk(100);
	w->active_bits[0] |= UINT64_C(1) << 40; /* beyond slot 31 */
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 1), IOUW_NO_TICK);
	w->active_bits[0] = UINT64_C(1) << 0;
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, 1), 32);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_compute_min_scheduled_tick_empty_wrapped_tail)
{
	struct iouw_wheel *w = mk(100);
	uint64_t last = iouw_wheel_slots(w) - 1;

	ADV_NONE(w, last);
	/* No active bits: the tail scan starts at slot 0 ([0, slots)) and
	 * finds nothing. */
	memset(w->active_bits, 0, w->words * sizeof(*w->active_bits));
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, last + 1), IOUW_NO_TICK);
	/* From the last slot: tail [31, 32) empty, wrapped head [0, 31) empty. */
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, last), IOUW_NO_TICK);
	/* The very last position of the revolution is still scanned. */
	w->active_bits[0] |= UINT64_C(1) << (last - 1);
	ck_assert_uint_eq(iouw_wheel_compute_min_tick(w, last), last + iouw_wheel_slots(w) - 1);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_drain_occupied_range_empty_interval_noop)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 2);
	ck_assert_uint_eq(iouw_wheel_drain_range(w, 7, 7, true), 0);
	ck_assert_uint_eq(iouw_wheel_drain_range(w, 9, 3, true), 0);
	/* A non-empty range that misses the occupied slot. */
	ck_assert_uint_eq(iouw_wheel_drain_range(w, 3, 32, true), 0);
	ck_assert_uint_eq(w->out_len, 0);
	ck_assert_uint_eq(w->occupied_slots, 1);
	ck_assert_uint_eq(iouw_wheel_stored(w), 1);
	iouw_wheel_assert_consistent(w);
	/* And one that hits it. */
	ck_assert_uint_eq(iouw_wheel_drain_range(w, 2, 3, true), 1);
	ck_assert_uint_eq(w->out_len, 1);
	ck_assert_uint_eq(w->occupied_slots, 0);
	iouw_wheel_free(w);
}
END_TEST

/* invariant_assertion_paths: each corruption runs in its own child, which
 * must die of SIGABRT after reporting exactly the named invariant. */
struct corruption {
	const char *invariant;
	void (*fn)(void *arg);
};

static void c_schedule_non_future(void *arg)
{
	(void)arg;
	iouw_wheel_schedule(mk(100), wid(1, 0), 0);
}

static void c_schedule_beyond_horizon(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), iouw_wheel_slots(w));
}

static void c_remove_underflow(void *arg)
{
	(void)arg;
	iouw_wheel_remove(mk(100), 1);
}

static void c_remove_missing_slot_count(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	w->active = 1;
	iouw_wheel_remove(w, 1);
}

static void c_schedule_duplicate_occupied_bit(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	w->occupied[0] |= UINT64_C(1) << 1;
	iouw_wheel_schedule(w, wid(1, 0), 1);
}

static void c_drain_empty_occupied_bucket(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	w->occupied[0] |= 1;
	w->occupied_slots = 1;
	iouw_wheel_drain_range(w, 0, 1, true);
}

static void c_bit_beyond_last_slot(void *arg)
{
	struct iouw_wheel *w = mk(100); /* 32 slots: bit 32 is out of range */

	(void)arg;
	w->occupied[0] |= UINT64_C(1) << iouw_wheel_slots(w);
	w->occupied_slots = 1;
	iouw_wheel_assert_consistent(w);
}

static void c_occupied_bit_mismatch(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->occupied[0] &= ~(UINT64_C(1) << 3);
	iouw_wheel_assert_consistent(w);
}

static void c_occupied_count_mismatch(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->occupied_slots = 2;
	iouw_wheel_assert_consistent(w);
}

static void c_active_bit_mismatch(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->active_bits[0] = 0;
	iouw_wheel_assert_consistent(w);
}

static void c_active_total_mismatch(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->active = 2;
	iouw_wheel_assert_consistent(w);
}

static void c_min_cache_mismatch(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->min_tick = 2; /* no active deadline at 2 */
	iouw_wheel_assert_consistent(w);
}

static void c_min_cache_lost(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->min_tick = IOUW_NO_TICK;
	iouw_wheel_assert_consistent(w);
}

static void c_entry_wrong_bucket(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	iouw_wheel_remove(w, 3);
	w->buckets[3].v[0].tick = 4;
	iouw_wheel_assert_consistent(w);
}

static void c_entry_outside_window(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	iouw_wheel_remove(w, 3);
	w->buckets[3].v[0].tick = 3 + iouw_wheel_slots(w);
	iouw_wheel_assert_consistent(w);
}

static void c_stored_mismatch(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->stored = 0;
	iouw_wheel_assert_consistent(w);
}

static void c_bucket_holds_other_tick(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	iouw_wheel_schedule(w, wid(1, 0), 3);
	w->buckets[3].v[0].tick = 35; /* forged: another tick, same slot */
	iouw_wheel_schedule(w, wid(2, 0), 3);
}

static void c_current_beyond_limit(void *arg)
{
	struct iouw_wheel *w = mk(100);

	(void)arg;
	w->current_tick = w->tick_limit + 1;
	iouw_wheel_assert_consistent(w);
}

static void c_virtual_clock_backwards(void *arg)
{
	struct iouw_virtual_clock vc = { .now_ns = 10 };

	(void)arg;
	iouw_virtual_clock_set(&vc, 9);
}

START_TEST(test_invariant_assertion_paths)
{
	static const struct corruption cases[] = {
		{ "wheel schedule target not in the future", c_schedule_non_future },
		{ "wheel schedule target beyond horizon", c_schedule_beyond_horizon },
		{ "wheel remove without active deadline", c_remove_underflow },
		{ "wheel remove of tick with no active count", c_remove_missing_slot_count },
		{ "wheel occupied bit set for empty bucket", c_schedule_duplicate_occupied_bit },
		{ "wheel occupied bit set for empty bucket", c_drain_empty_occupied_bucket },
		{ "wheel bitset bit beyond last slot", c_bit_beyond_last_slot },
		{ "wheel occupied bit disagrees with bucket", c_occupied_bit_mismatch },
		{ "wheel occupied slot count mismatch", c_occupied_count_mismatch },
		{ "wheel active bit disagrees with count", c_active_bit_mismatch },
		{ "wheel active total mismatch", c_active_total_mismatch },
		{ "wheel earliest deadline cache mismatch", c_min_cache_mismatch },
		{ "wheel earliest deadline cache mismatch", c_min_cache_lost },
		{ "wheel entry in wrong bucket", c_entry_wrong_bucket },
		{ "wheel entry outside window", c_entry_outside_window },
		{ "wheel stored entry count mismatch", c_stored_mismatch },
		{ "wheel bucket holds another tick", c_bucket_holds_other_tick },
		{ "wheel current tick beyond limit", c_current_beyond_limit },
		{ "virtual clock moved backwards", c_virtual_clock_backwards },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(iouw_test_aborts_with(cases[i].invariant, cases[i].fn, NULL),
		              "case %zu: expected '%s'", i, cases[i].invariant);
}
END_TEST

/* ---- expected-SIGABRT tests: horizon and remove panics ---------------- */

START_TEST(test_schedule_at_current_tick_panics)
{
	struct iouw_wheel *w = mk(100);

	ADV_NONE(w, 10);
	iouw_test_expect_invariant("wheel schedule target not in the future");
	iouw_wheel_schedule(w, wid(1, 0), 10);
}
END_TEST

START_TEST(test_schedule_in_the_past_panics)
{
	struct iouw_wheel *w = mk(100);

	ADV_NONE(w, 10);
	iouw_test_expect_invariant("wheel schedule target not in the future");
	iouw_wheel_schedule(w, wid(1, 0), 9);
}
END_TEST

START_TEST(test_schedule_one_revolution_ahead_panics)
{
	struct iouw_wheel *w = mk(100);

	ADV_NONE(w, 10);
	/* slots - 1 ahead is the farthest allowed. */
	sched(w, 1, 0, 10 + iouw_wheel_slots(w) - 1);
	iouw_test_expect_invariant("wheel schedule target beyond horizon");
	iouw_wheel_schedule(w, wid(2, 0), 10 + iouw_wheel_slots(w));
}
END_TEST

START_TEST(test_schedule_no_tick_panics)
{
	struct iouw_wheel *w = mk(100);

	iouw_test_expect_invariant("wheel schedule target beyond horizon");
	iouw_wheel_schedule(w, wid(1, 0), IOUW_NO_TICK);
}
END_TEST

START_TEST(test_schedule_window_exceeds_span_panics)
{
	struct iouw_wheel *w = mk(100); /* 32 slots */

	sched(w, 1, 0, 5);
	ADV(w, 5, { 1, 0, 5 });
	/* The caller never removed tick 5; 37 would share its slot. */
	ADV_NONE(w, 10);
	iouw_test_expect_invariant("wheel deadline window exceeds span");
	iouw_wheel_schedule(w, wid(2, 0), 37);
}
END_TEST

START_TEST(test_remove_twice_panics)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 5);
	sched(w, 2, 0, 6);
	rm(w, 5);
	iouw_test_expect_invariant("wheel remove of tick with no active count");
	iouw_wheel_remove(w, 5);
}
END_TEST

START_TEST(test_remove_outside_window_panics)
{
	struct iouw_wheel *w = mk(100);

	sched(w, 1, 0, 5);
	/* Same slot as 5, a revolution later: never scheduled. */
	iouw_test_expect_invariant("wheel remove outside active window");
	iouw_wheel_remove(w, 5 + iouw_wheel_slots(w));
}
END_TEST

START_TEST(test_virtual_clock_set_backwards_panics)
{
	struct iouw_virtual_clock vc = { .now_ns = 100 };

	iouw_virtual_clock_set(&vc, 100); /* same time is fine */
	iouw_test_expect_invariant("virtual clock moved backwards");
	iouw_virtual_clock_set(&vc, 99);
}
END_TEST

/* ---- beyond the original --------------------------------------------- */

START_TEST(test_already_expired_deadlines)
{
	struct iouw_wheel *w = mk(100);

	ADV_NONE(w, 20);
	/* Anything up to and including the current tick's end is expired. */
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(20)), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(19) + 1), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(3)), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START - 1), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, 0), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(20) + 1), 21);
	/* Converting expired deadlines changes nothing. */
	ck_assert_uint_eq(iouw_wheel_active(w), 0);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 20);
	iouw_wheel_free(w);

	/* A wheel whose start is later than now: time before start is tick 0. */
	w = mk_at(TICK_NS, 100 * MS, UINT64_MAX - 10);
	ADV_NONE(w, 0);
	expect_advance_ns(w, 5, NULL, 0);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 0);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, 5), IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, UINT64_MAX), 1);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_clamping_to_horizon)
{
	struct iouw_wheel *w = mk(60000); /* 12000-tick horizon, 16384 slots */
	uint64_t t;

	ADV_NONE(w, 1000);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(1000) + 60 * IOUW_NS_PER_SEC), 13000);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(1000) + 60 * IOUW_NS_PER_SEC + 1), 13000);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(1000) + 60 * IOUW_NS_PER_SEC - 1), 13000);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, at(1000) + 3600 * IOUW_NS_PER_SEC), 13000);
	t = iouw_wheel_target_tick(w, UINT64_MAX);
	ck_assert_uint_eq(t, 13000);
	/* A clamped tick is always schedulable. */
	sched(w, 1, 0, t);
	expect_next_deadline(w, 60 * IOUW_NS_PER_SEC);
	ADV_NONE(w, 12999);
	ADV(w, 13000, { 1, 0, 13000 });
	rm(w, 13000);
	iouw_wheel_free(w);

	/* Non-multiple horizon: 12 ms / 5 ms = ceil 3 ticks. */
	w = mk_at(TICK_NS, 12 * MS, START);
	ck_assert_uint_eq(iouw_wheel_slots(w), 4);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, START + 1000 * MS), 3);
	sched(w, 1, 0, 3);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_jump_of_several_revolutions)
{
	struct iouw_wheel *w = mk(100); /* 32 slots */

	sched(w, 1, 0, 3);
	sched(w, 2, 0, 10);
	sched(w, 3, 0, 31);
	rm(w, 10);
	/* Five revolutions and a bit: everything comes back, stale included,
	 * in tick order, each with its own tick. */
	ADV(w, 5 * 32 + 7, { 1, 0, 3 }, { 2, 0, 10 }, { 3, 0, 31 });
	ck_assert_uint_eq(iouw_wheel_current_tick(w), 167);
	ck_assert_uint_eq(iouw_wheel_stored(w), 0);
	ck_assert_uint_eq(w->occupied_slots, 0);
	expect_next_deadline(w, 0);
	rm(w, 3);
	rm(w, 31);
	expect_no_deadline(w);
	/* The wheel keeps working from the new current tick, at the edges. */
	sched(w, 4, 0, 168);
	sched(w, 5, 0, 167 + 31);
	ADV(w, 168, { 4, 0, 168 });
	rm(w, 168);
	ADV(w, 1000, { 5, 0, 198 });
	rm(w, 198);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_stale_entries_after_removal_and_slot_reuse)
{
	struct iouw_wheel *w = mk(100);
	size_t n = 0;
	const struct iouw_wheel_entry *e;
	size_t live = 0;

	/* Three generations of waiter slot 4 and one other waiter. */
	sched(w, 4, 0, 6);
	rm(w, 6);
	sched(w, 4, 1, 8);
	rm(w, 8);
	sched(w, 4, 2, 8);
	sched(w, 9, 0, 7);
	ck_assert_uint_eq(iouw_wheel_active(w), 2);
	ck_assert_uint_eq(iouw_wheel_stored(w), 4);
	e = iouw_wheel_advance(w, at(9), &n);
	ck_assert_uint_eq(n, 4);
	/* The caller's filter: only the current occupants are live. */
	for (size_t i = 0; i < n; i++) {
		bool is_live = iouw_waiter_id_eq(e[i].id, wid(4, 2)) ||
		               iouw_waiter_id_eq(e[i].id, wid(9, 0));

		if (is_live) {
			live++;
			iouw_wheel_remove(w, e[i].tick);
		}
	}
	ck_assert_uint_eq(live, 2);
	ck_assert_uint_eq(e[0].tick, 6);
	ck_assert_uint_eq(e[1].tick, 7);
	ck_assert_uint_eq(e[2].tick, 8);
	ck_assert_uint_eq(e[3].tick, 8);
	iouw_wheel_assert_consistent(w);
	expect_no_deadline(w);
	ck_assert_uint_eq(iouw_wheel_stored(w), 0);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_next_deadline_after_removing_minimum)
{
	struct iouw_wheel *w = mk(100);
	uint64_t ns;

	ck_assert_int_eq(iouw_wheel_next_deadline(w, NULL), -EINVAL);
	sched(w, 1, 0, 5);
	sched(w, 2, 0, 5);
	sched(w, 3, 0, 9);
	sched(w, 4, 0, 30);
	expect_next_deadline(w, 25 * MS);
	rm(w, 5); /* one of two at the minimum: unchanged */
	expect_next_deadline(w, 25 * MS);
	rm(w, 5);
	expect_next_deadline(w, 45 * MS);
	rm(w, 30); /* not the minimum */
	expect_next_deadline(w, 45 * MS);
	ADV_NONE(w, 8);
	expect_next_deadline(w, 5 * MS);
	rm(w, 9);
	expect_no_deadline(w);
	iouw_wheel_free(w);

	/* Minimum removed after the wheel wrapped: next is in the head. */
	w = mk(100);
	ADV_NONE(w, 29);
	sched(w, 1, 0, 31);
	sched(w, 2, 0, 34); /* slot 2 */
	rm(w, 31);
	ck_assert_uint_eq(iouw_wheel_min_tick(w), 34);
	expect_next_deadline(w, 5 * TICK_NS);
	iouw_wheel_free(w);

	/* Saturation: 3 ticks of (2^63 - 1) ns. */
	w = mk_at(UINT64_MAX / 2, UINT64_MAX, 0);
	ck_assert_uint_eq(iouw_wheel_slots(w), 4);
	ck_assert_uint_eq(iouw_wheel_target_tick(w, UINT64_MAX), 3);
	sched(w, 1, 0, 3);
	ck_assert_int_eq(iouw_wheel_next_deadline(w, &ns), 0);
	ck_assert_uint_eq(ns, UINT64_MAX);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_time_near_uint64_max_saturates)
{
	struct iouw_wheel *w = mk_at(1, 1000, 0); /* 1024 slots of 1 ns */
	uint64_t limit = UINT64_MAX - 2 * 1024, t;

	expect_advance_ns(w, UINT64_MAX, NULL, 0);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), limit);
	t = iouw_wheel_target_tick(w, UINT64_MAX);
	ck_assert_uint_eq(t, limit + 1000);
	ck_assert_uint_ne(t, IOUW_NO_TICK);
	sched(w, 1, 0, t);
	sched(w, 2, 0, limit + 1);
	expect_next_deadline(w, 1);
	/* Time cannot move past the limit: nothing more ever expires. */
	expect_advance_ns(w, UINT64_MAX, NULL, 0);
	rm(w, limit + 1);
	expect_next_deadline(w, 1000);
	rm(w, t);
	iouw_wheel_free(w);
}
END_TEST

START_TEST(test_virtual_and_monotonic_clocks)
{
	struct iouw_virtual_clock vc = { .now_ns = 5 };
	struct iouw_clock c = iouw_virtual_clock_as_clock(&vc);
	struct iouw_clock m = iouw_clock_monotonic();
	uint64_t a, b;

	ck_assert_uint_eq(vc.reads, 0);
	ck_assert_uint_eq(iouw_clock_now(&c), 5);
	ck_assert_uint_eq(vc.reads, 1);
	iouw_virtual_clock_advance(&vc, 10);
	iouw_virtual_clock_set(&vc, 15);
	ck_assert_uint_eq(vc.reads, 1); /* moving it is not reading it */
	ck_assert_uint_eq(iouw_clock_now(&c), 15);
	iouw_virtual_clock_set(&vc, 40);
	ck_assert_uint_eq(iouw_clock_now(&c), 40);
	ck_assert_uint_eq(vc.reads, 3);

	a = iouw_clock_now(&m);
	b = iouw_clock_now(&m);
	ck_assert_uint_gt(a, 0);
	ck_assert_uint_ge(b, a);

	/* Driving a wheel from the virtual clock: the idle wheel needs no read
	 * until the first deadline, then one advance brings it up to date. */
	{
		struct iouw_wheel *w = mk_at(TICK_NS, 100 * MS, 40);
		size_t n;

		iouw_virtual_clock_advance(&vc, 1000 * MS);
		ck_assert_ptr_null(iouw_wheel_advance(w, iouw_clock_now(&c), &n));
		ck_assert_uint_eq(n, 0);
		ck_assert_uint_eq(iouw_wheel_current_tick(w), 200);
		sched(w, 1, 0, iouw_wheel_target_tick(w, vc.now_ns + 7 * MS));
		ck_assert_uint_eq(iouw_wheel_min_tick(w), 202);
		iouw_virtual_clock_advance(&vc, 10 * MS);
		ck_assert_ptr_nonnull(iouw_wheel_advance(w, iouw_clock_now(&c), &n));
		ck_assert_uint_eq(n, 1);
		iouw_wheel_free(w);
	}
}
END_TEST

/* The loop's protocol (docs/wheel.md §5, docs/loop.md §6) against the real waiter table: a waiter
 * completes early, its slot is reused, both entries come back in one
 * advance, and the cancel filter removes only the live deadline, once. */
START_TEST(test_loop_protocol_with_waiter_table)
{
	struct iouw_wheel *w = mk(100);
	struct iouw_waiters *table = NULL;
	struct fake_log log_a = { 0 }, log_b = { 0 }, log_c = { 0 };
	struct iouw_stage_outcome st;
	struct iouw_completion_outcome co;
	iouw_waiter_id a, b, c;
	uint64_t ta, tb, tc;
	const struct iouw_wheel_entry *e;
	size_t n = 0, removed = 0;

	ck_assert_int_eq(iouw_waiters_new(4, &table), 0);
	/* Admission: A due at tick 4. */
	ta = iouw_wheel_target_tick(w, START + 18 * MS);
	ck_assert_uint_eq(ta, 4);
	a = iouw_waiters_insert(table, &fake_request_new(&log_a)->base, ta);
	iouw_wheel_schedule(w, a, ta);
	iouw_waiters_stage(table, a, &st);
	ck_assert_int_eq(st.kind, IOUW_STAGE_SUBMIT);
	/* A's op CQE completes it early: its deadline leaves the wheel. */
	iouw_waiters_on_completion(table, iouw_waiter_id_user_data(a), 0, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_COMPLETE);
	ck_assert_uint_eq(co.target_tick, ta);
	iouw_wheel_remove(w, co.target_tick);
	fake_request_finish(co.request);
	/* B reuses A's slot (new generation), due at tick 6; C at tick 5. */
	tb = iouw_wheel_target_tick(w, START + 30 * MS);
	b = iouw_waiters_insert(table, &fake_request_new(&log_b)->base, tb);
	ck_assert_uint_eq(iouw_waiter_id_index(b), iouw_waiter_id_index(a));
	ck_assert(!iouw_waiter_id_eq(a, b));
	iouw_wheel_schedule(w, b, tb);
	tc = iouw_wheel_target_tick(w, START + 25 * MS);
	c = iouw_waiters_insert(table, &fake_request_new(&log_c)->base, tc);
	iouw_wheel_schedule(w, c, tc);
	/* C's timeout was already requested elsewhere: its deadline left. */
	ck_assert(iouw_waiters_cancel(table, c));
	iouw_wheel_remove(w, tc);
	iouw_wheel_assert_consistent(w);

	e = iouw_wheel_advance(w, at(6), &n);
	ck_assert_uint_eq(n, 3); /* A stale (4), C stale (5), B live (6) */
	for (size_t i = 0; i < n; i++) {
		if (iouw_waiters_cancel(table, e[i].id)) {
			ck_assert(iouw_waiter_id_eq(e[i].id, b));
			ck_assert_uint_eq(e[i].tick, tb);
			iouw_wheel_remove(w, e[i].tick);
			removed++;
		}
	}
	ck_assert_uint_eq(removed, 1);
	ck_assert_uint_eq(iouw_wheel_active(w), 0);
	expect_no_deadline(w);
	iouw_wheel_assert_consistent(w);
	/* B and C sit cancel-requested in the table; release them. */
	{
		struct iouw_request *rb = iouw_waiters_remove(table, b);
		struct iouw_request *rc = iouw_waiters_remove(table, c);

		rb->ops->release(rb);
		rc->ops->release(rc);
	}
	iouw_waiters_free(table);
	ck_assert_int_eq(log_a.finishes, 1);
	ck_assert_int_eq(log_b.releases + log_c.releases, 2);
	iouw_wheel_free(w);
}
END_TEST

/* ---- model-based test -------------------------------------------------- */

/* Naive reference: the active deadlines as a plain array, plus the tick each
 * id was scheduled at and how often advance returned it. */
struct model {
	uint64_t tick_ns, start_ns, horizon, current;
	uint64_t *active_ids;  /* ids (= schedule serial numbers) active */
	size_t n_active;
	uint64_t *tick_of_id;  /* by id */
	uint8_t *returned;     /* times advance returned the id */
	bool *is_active;       /* by id */
	size_t n_ids;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, so the stream is the same on every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t model_target(const struct model *m, uint64_t deadline)
{
	uint64_t t;

	if (deadline <= m->start_ns)
		return IOUW_NO_TICK;
	/* Naive: smallest t with start + t * tick >= deadline. */
	t = (deadline - m->start_ns + m->tick_ns - 1) / m->tick_ns;
	if (t <= m->current)
		return IOUW_NO_TICK;
	return t < m->current + m->horizon ? t : m->current + m->horizon;
}

static void model_deactivate(struct model *m, uint64_t id)
{
	for (size_t i = 0; i < m->n_active; i++) {
		if (m->active_ids[i] == id) {
			m->active_ids[i] = m->active_ids[--m->n_active];
			m->is_active[id] = false;
			return;
		}
	}
	ck_abort_msg("model: id %llu not active", (unsigned long long)id);
}

static void model_compare(const struct model *m, const struct iouw_wheel *w)
{
	uint64_t min = IOUW_NO_TICK, ns = 0;
	int rc;

	ck_assert_uint_eq(iouw_wheel_active(w), m->n_active);
	ck_assert_uint_eq(iouw_wheel_current_tick(w), m->current);
	for (size_t i = 0; i < m->n_active; i++) {
		uint64_t t = m->tick_of_id[m->active_ids[i]];

		if (t < min)
			min = t;
	}
	ck_assert_uint_eq(iouw_wheel_min_tick(w), min);
	rc = iouw_wheel_next_deadline(w, &ns);
	if (min == IOUW_NO_TICK) {
		ck_assert_int_eq(rc, -ENOENT);
	} else {
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_eq(ns, min > m->current ? (min - m->current) * m->tick_ns : 0);
	}
	iouw_wheel_assert_consistent(w);
}

static void run_model(uint64_t tick_ns, uint64_t max_ns, uint64_t seed, size_t ops)
{
	struct model m = { .tick_ns = tick_ns, .start_ns = 7 * tick_ns + 3 };
	struct iouw_wheel *w = mk_at(tick_ns, max_ns, m.start_ns);
	uint64_t now = 0, slots = iouw_wheel_slots(w);
	size_t expired_total = 0, stale_total = 0, immediate = 0;

	m.horizon = (max_ns + tick_ns - 1) / tick_ns;
	m.active_ids = calloc(ops, sizeof(*m.active_ids));
	m.tick_of_id = calloc(ops, sizeof(*m.tick_of_id));
	m.returned = calloc(ops, sizeof(*m.returned));
	m.is_active = calloc(ops, sizeof(*m.is_active));
	ck_assert(m.active_ids && m.tick_of_id && m.returned && m.is_active);
	rng_state = seed;

	for (size_t op = 0; op < ops; op++) {
		uint64_t r = rng() % 100;

		if (r < 45) {
			/* Admit a request with a deadline up to 1.25 horizons away
			 * (some already expired, some clamped). */
			uint64_t span = max_ns + max_ns / 4;
			uint64_t ahead = rng() % span;
			uint64_t back = rng() % 8 == 0 ? now / 2 : 0;
			uint64_t deadline = now + ahead - back;
			uint64_t t = iouw_wheel_target_tick(w, deadline);
			uint64_t id = m.n_ids++;

			ck_assert_uint_eq(t, model_target(&m, deadline));
			if (t == IOUW_NO_TICK) {
				immediate++;
				continue;
			}
			iouw_wheel_schedule(w, wid((uint32_t)id, 0), t);
			m.tick_of_id[id] = t;
			m.is_active[id] = true;
			m.active_ids[m.n_active++] = id;
		} else if (r < 80) {
			/* A request completes before its deadline. */
			uint64_t id;

			if (m.n_active == 0)
				continue;
			id = m.active_ids[rng() % m.n_active];
			iouw_wheel_remove(w, m.tick_of_id[id]);
			model_deactivate(&m, id);
		} else {
			/* Time passes: mostly a few ticks, sometimes none, rarely
			 * more than a revolution. */
			uint64_t r2 = rng() % 100, step;
			const struct iouw_wheel_entry *e;
			size_t n = 0, due = 0;

			if (r2 < 10)
				step = rng() % tick_ns;
			else if (r2 < 97)
				step = rng() % (4 * tick_ns);
			else
				step = rng() % (3 * slots * tick_ns);
			now += step;
			e = iouw_wheel_advance(w, now, &n);
			m.current = now <= m.start_ns ? 0 : (now - m.start_ns) / tick_ns;
			ck_assert((e == NULL) == (n == 0));
			for (size_t i = 0; i < m.n_active; i++)
				due += m.tick_of_id[m.active_ids[i]] <= m.current;
			for (size_t i = 0; i < n; i++) {
				uint64_t id = e[i].id.raw;

				ck_assert_uint_lt(id, m.n_ids);
				ck_assert_uint_eq(e[i].tick, m.tick_of_id[id]);
				ck_assert_uint_le(e[i].tick, m.current);
				ck_assert_uint_eq(m.returned[id], 0); /* at most once */
				m.returned[id]++;
				/* Returned in tick order. */
				if (i > 0)
					ck_assert_uint_le(e[i - 1].tick, e[i].tick);
				/* The loop's filter: remove only live waiters. */
				if (m.is_active[id]) {
					iouw_wheel_remove(w, e[i].tick);
					model_deactivate(&m, id);
					due--;
					expired_total++;
				} else {
					stale_total++;
				}
			}
			/* Every due active deadline was returned. */
			ck_assert_uint_eq(due, 0);
		}
		model_compare(&m, w);
	}
	/* The stream exercised every path it is meant to. */
	ck_assert_uint_gt(expired_total, ops / 50);
	ck_assert_uint_gt(stale_total, 0);
	ck_assert_uint_gt(immediate, 0);
	free(m.active_ids);
	free(m.tick_of_id);
	free(m.returned);
	free(m.is_active);
	iouw_wheel_free(w);
}

START_TEST(test_model_single_word_wheel)
{
	run_model(1000, 25000, UINT64_C(0x9e3779b97f4a7c15), 20000); /* 32 slots */
}
END_TEST

START_TEST(test_model_multi_word_wheel)
{
	run_model(TICK_NS, 1000 * MS, UINT64_C(0x243f6a8885a308d3), 20000); /* 256 slots */
}
END_TEST

START_TEST(test_model_tiny_wheel)
{
	run_model(3, 4, UINT64_C(0x13198a2e03707344), 20000); /* 2 ticks, 4 slots */
}
END_TEST

/* ---- the tick divisor (wheel_internal.h): exact against the division -- */

/* Assert iouw_wheel__divide(n) == n / d for the divisor of @d. */
static void check_divide(const struct iouw_wheel_divisor *dv, uint64_t d, uint64_t n)
{
	uint64_t got = iouw_wheel__divide(dv, n);

	if (got != n / d)
		ck_abort_msg("%llu / %llu: divisor gives %llu, division %llu",
		             (unsigned long long)n, (unsigned long long)d, (unsigned long long)got,
		             (unsigned long long)(n / d));
}

/* Numerators where floor(n / d) changes or the range ends: around 0, d,
 * 2d, every power of two, the largest multiple of d and UINT64_MAX. */
static void check_divide_edges(uint64_t d)
{
	struct iouw_wheel_divisor dv;
	uint64_t q = UINT64_MAX / d;
	const uint64_t at[] = { 0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, 2 * d + 1,
		                q * d - 1, q * d, q * d + 1, (q - 1) * d, (q - 1) * d - 1,
		                (q - 1) * d + 1, UINT64_MAX - 1, UINT64_MAX };

	iouw_wheel_divisor_init(&dv, d);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		check_divide(&dv, d, at[i]); /* wrapped ones are just more numerators */
	for (unsigned j = 0; j < 64; j++) {
		uint64_t p = UINT64_C(1) << j;

		check_divide(&dv, d, p - 1);
		check_divide(&dv, d, p);
		check_divide(&dv, d, p + 1);
	}
}

START_TEST(test_divisor_exhaustive_small)
{
	/* Every divisor up to 2^11 with every numerator below 2^12 and the
	 * 512 largest ones. */
	for (uint64_t d = 1; d <= 2048; d++) {
		struct iouw_wheel_divisor dv;

		iouw_wheel_divisor_init(&dv, d);
		for (uint64_t n = 0; n < 4096; n++)
			check_divide(&dv, d, n);
		for (uint64_t k = 0; k < 512; k++)
			check_divide(&dv, d, UINT64_MAX - k);
		check_divide_edges(d);
	}
}
END_TEST

START_TEST(test_divisor_powers_of_two_and_neighbours)
{
	/* Every power of two, its neighbours (l = ceil(log2 d) changes there:
	 * 2^k has l = k, 2^k + 1 has l = k + 1), the top of the range, the
	 * default 5 ms tick and powers of ten (ns tick lengths). */
	static const uint64_t named[] = { UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / 2,
		                          UINT64_MAX / 3, 5000000, 1000, 1000000,
		                          1000000000, UINT64_C(10000000000000000000) };

	for (unsigned k = 0; k < 64; k++) {
		uint64_t p = UINT64_C(1) << k;

		check_divide_edges(p);
		check_divide_edges(p + 1);
		if (p > 1)
			check_divide_edges(p - 1);
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		check_divide_edges(named[i]);
}
END_TEST

START_TEST(test_divisor_random)
{
	/* Divisors and numerators of every bit length, uniformly. */
	rng_state = UINT64_C(0xa4093822299f31d0);
	for (int i = 0; i < 20000; i++) {
		uint64_t d = rng() >> (rng() % 64);
		struct iouw_wheel_divisor dv;

		if (d == 0)
			d = 1;
		iouw_wheel_divisor_init(&dv, d);
		for (int j = 0; j < 100; j++)
			check_divide(&dv, d, rng() >> (rng() % 64));
		check_divide_edges(d);
	}
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* target_tick and advance's tick for wheels of tick @tick_ns starting at
 * @start, against the definitions with the division (docs/wheel.md §5.2). */
static void check_ticks_against_division(uint64_t tick_ns, uint64_t start)
{
	struct iouw_wheel *w = mk_at(tick_ns, tick_ns, start); /* horizon 1 */
	uint64_t deadlines[64 * 3 + 8];
	size_t n = 0;

	for (unsigned j = 0; j < 64; j++) {
		uint64_t p = UINT64_C(1) << j;

		deadlines[n++] = start + p - 1;
		deadlines[n++] = start + p;
		deadlines[n++] = start + p + 1;
	}
	deadlines[n++] = 0;
	deadlines[n++] = start;
	deadlines[n++] = start + 1;
	deadlines[n++] = start + tick_ns;
	deadlines[n++] = start + tick_ns + 1;
	deadlines[n++] = UINT64_MAX;
	deadlines[n++] = UINT64_MAX - 1;
	deadlines[n++] = start + 2 * tick_ns;
	for (size_t i = 0; i < n; i++) {
		uint64_t dl = deadlines[i], want = IOUW_NO_TICK, d, t;

		if (dl > start) {
			d = dl - start;
			t = d / tick_ns + (d % tick_ns != 0);
			/* current is 0, horizon 1: tick 1 or the clamp to 1. */
			want = t > 1 ? 1 : t;
		}
		ck_assert_uint_eq(iouw_wheel_target_tick(w, dl), want);
	}
	iouw_wheel_free(w);
	/* advance: floor((now - start) / tick), saturating at the limit; in
	 * increasing order, so one wheel serves every time. */
	qsort(deadlines, n, sizeof(deadlines[0]), cmp_u64);
	w = mk_at(tick_ns, tick_ns, start);
	for (size_t i = 0; i < n; i++) {
		uint64_t now = deadlines[i], want = 0;

		if (now > start)
			want = (now - start) / tick_ns;
		if (want > UINT64_MAX - 2 * iouw_wheel_slots(w))
			want = UINT64_MAX - 2 * iouw_wheel_slots(w);
		(void)iouw_wheel_advance(w, now, &(size_t){ 0 });
		ck_assert_uint_eq(iouw_wheel_current_tick(w), want);
		/* And a deadline one tick later, converted from there: the
		 * clamp to current + horizon (1) counts from the new tick. */
		if (now >= start && now < UINT64_MAX - tick_ns &&
		    want < UINT64_MAX - 2 * iouw_wheel_slots(w)) {
			uint64_t d = now + tick_ns - start, t = d / tick_ns + (d % tick_ns != 0);

			ck_assert_uint_eq(iouw_wheel_target_tick(w, now + tick_ns),
			                  t > want + 1 ? want + 1 : t);
		}
	}
	iouw_wheel_free(w);
}

START_TEST(test_ticks_match_division_for_any_tick_length)
{
	static const uint64_t starts[] = { 0, 1, START, UINT64_MAX / 2, UINT64_MAX - 1 };

	rng_state = UINT64_C(0x082efa98ec4e6c89);
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		for (unsigned k = 0; k < 64; k++) {
			uint64_t p = UINT64_C(1) << k;

			check_ticks_against_division(p, starts[s]);
			check_ticks_against_division(p + 1, starts[s]);
			if (p > 1)
				check_ticks_against_division(p - 1, starts[s]);
		}
		check_ticks_against_division(TICK_NS, starts[s]);
		check_ticks_against_division(UINT64_MAX, starts[s]);
		for (int i = 0; i < 50; i++) {
			uint64_t d = rng() >> (rng() % 64);

			check_ticks_against_division(d ? d : 1, starts[s]);
		}
	}
}
END_TEST

static void c_divisor_zero(void *arg)
{
	struct iouw_wheel_divisor dv;

	(void)arg;
	iouw_wheel_divisor_init(&dv, 0);
}

START_TEST(test_divisor_zero_panics)
{
	ck_assert(iouw_test_aborts_with("wheel tick divisor out of range", c_divisor_zero, NULL));
}
END_TEST

static Suite *wheel_suite(void)
{
	Suite *s = suite_create("wheel");
	TCase *orig = tcase_create("original");
	TCase *panics = tcase_create("panics");
	TCase *more = tcase_create("more");
	TCase *model = tcase_create("model");
	TCase *divisor = tcase_create("divisor");

	iouw_test_add_fd_fixture(orig);
	iouw_test_add_fd_fixture(more);
	iouw_test_add_fd_fixture(model);
	tcase_set_timeout(model, 120);
	tcase_set_timeout(divisor, 120);

	tcase_add_test(orig, test_tick_math_and_target_tick_cases);
	tcase_add_test(orig, test_advance_non_expiry_paths);
	tcase_add_test(orig, test_schedule_after_advance_via_public_api);
	tcase_add_test(orig, test_schedule_advance_and_timeout_lookup);
	tcase_add_test(orig, test_interleaved_schedule_advance_cycles);
	tcase_add_test(orig, test_advance_no_active_fast_path_and_stale_purge);
	tcase_add_test(orig, test_advance_returns_all_waiters_from_same_bucket);
	tcase_add_test(orig, test_wraparound_deadline_and_range_drain);
	tcase_add_test(orig, test_multi_word_bitset_end_to_end_advance);
	tcase_add_test(orig, test_full_revolution_drain_and_reschedule);
	tcase_add_test(orig, test_advance_returns_none_when_due_scan_finds_no_occupied_slots);
	tcase_add_test(orig, test_min_scheduled_tick_update_paths);
	tcase_add_test(orig, test_reused_slot_stale_entry_preserves_tick_identity);
	tcase_add_test(orig, test_stale_entry_purged_before_slot_reuse);
	tcase_add_test(orig, test_duration_to_nanos_saturating_extremes);
	tcase_add_test(orig, test_construction_panics_for_invalid_inputs);
	tcase_add_test(orig, test_compute_min_scheduled_tick_cases);
	tcase_add_test(orig, test_compute_min_scheduled_tick_empty_wrapped_tail);
	tcase_add_test(orig, test_drain_occupied_range_empty_interval_noop);
	tcase_add_test(orig, test_invariant_assertion_paths);

	tcase_add_test_raise_signal(panics, test_schedule_at_current_tick_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_schedule_in_the_past_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_schedule_one_revolution_ahead_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_schedule_no_tick_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_schedule_window_exceeds_span_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_remove_twice_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_remove_outside_window_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_virtual_clock_set_backwards_panics, SIGABRT);

	tcase_add_test(more, test_already_expired_deadlines);
	tcase_add_test(more, test_clamping_to_horizon);
	tcase_add_test(more, test_jump_of_several_revolutions);
	tcase_add_test(more, test_stale_entries_after_removal_and_slot_reuse);
	tcase_add_test(more, test_next_deadline_after_removing_minimum);
	tcase_add_test(more, test_time_near_uint64_max_saturates);
	tcase_add_test(more, test_virtual_and_monotonic_clocks);
	tcase_add_test(more, test_loop_protocol_with_waiter_table);

	tcase_add_test(model, test_model_single_word_wheel);
	tcase_add_test(model, test_model_multi_word_wheel);
	tcase_add_test(model, test_model_tiny_wheel);

	tcase_add_test(divisor, test_divisor_exhaustive_small);
	tcase_add_test(divisor, test_divisor_powers_of_two_and_neighbours);
	tcase_add_test(divisor, test_divisor_random);
	tcase_add_test(divisor, test_ticks_match_division_for_any_tick_length);
	tcase_add_test(divisor, test_divisor_zero_panics);

	suite_add_tcase(s, orig);
	suite_add_tcase(s, panics);
	suite_add_tcase(s, more);
	suite_add_tcase(s, model);
	suite_add_tcase(s, divisor);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(wheel_suite());
}
