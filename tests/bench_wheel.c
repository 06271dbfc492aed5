/* tests/bench_wheel.c: throughput of the timeout wheel (core/wheel.h), run
 * by `meson test --benchmark` (a meson benchmark(), never a unit test).
 *
 * Owns: nothing but measurements. Each phase times a whole batch with
 * CLOCK_MONOTONIC and prints ns per operation; a fixed-seed generator keeps
 * the workload the same from run to run. Phases, on the default layout
 * (5 ms tick, 60 s horizon, 16384 slots):
 *   schedule          N schedules at random ticks within the horizon
 *   remove_random     remove those N in random order (rarely the minimum)
 *   remove_min_first  remove N deadlines in tick order: every remove drops
 *                     the minimum and recomputes it (worst case)
 *   advance_expiry    N deadlines, then advance one tick at a time through a
 *                     whole horizon, removing every returned entry
 *   steady_mixed      the loop's workload: each tick, advance, complete
 *                     the requests admitted 250 ticks ago (95%: their
 *                     entries go stale), admit 64 new 5 s deadlines
 *   target_tick       N conversions of random deadlines within the horizon
 *   deadline_cycle    the loop's per-deadline path on bench_io's socket
 *                     workload: rounds of 64 requests sharing one deadline,
 *                     the clock 50 us further each round; each round
 *                     removes the previous round's deadlines (they
 *                     completed), brings the idle wheel up to now as the
 *                     loop does, then converts and schedules 64; ns per
 *                     deadline (target_tick + schedule + remove + 1/64 of
 *                     the catch-up advance). The deadline is 25 ms ahead,
 *                     not bench_io's 10 s: lazy expiry keeps every stale
 *                     entry until its tick passes, which at this rate
 *                     would be 12.8 million entries (200 MB) for 10 s and
 *                     measure memory growth instead of the path.
 * IOUW_BENCH_WHEEL_ONLY=target_tick|deadline_cycle runs that phase alone
 * (for callgrind). Exit status 0 unless the wheel misbehaves (counts are
 * checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "wheel.h"

#define TICK_NS UINT64_C(5000000)
#define MAX_NS (UINT64_C(60) * IOUW_NS_PER_SEC)
#define N (UINT32_C(1) << 20)

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t now_ns(void)
{
	struct iouw_clock c = iouw_clock_monotonic();

	return iouw_clock_now(&c);
}

static struct iouw_wheel *new_wheel(void)
{
	struct iouw_wheel *w = NULL;

	if (iouw_wheel_new(TICK_NS, MAX_NS, 0, &w) != 0) {
		fprintf(stderr, "bench_wheel: iouw_wheel_new failed\n");
		exit(1);
	}
	return w;
}

static void report(const char *phase, uint64_t ns, uint64_t ops)
{
	printf("%-18s %10llu ops %8.1f ns/op\n", phase, (unsigned long long)ops,
	       (double)ns / (double)(ops ? ops : 1));
}

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_wheel: %s\n", what);
		exit(1);
	}
}

/* target_tick: the conversion alone (the sum keeps every call). */
static void phase_target_tick(uint64_t *deadlines)
{
	struct iouw_wheel *w = new_wheel();
	uint64_t sum = 0, t0, t1;

	for (uint32_t i = 0; i < N; i++)
		deadlines[i] = rng() % MAX_NS + 1;
	t0 = now_ns();
	for (uint32_t i = 0; i < N; i++)
		sum += iouw_wheel_target_tick(w, deadlines[i]);
	t1 = now_ns();
	report("target_tick", t1 - t0, N);
	check(sum > 0, "target_tick sum");
	iouw_wheel_free(w);
}

/* deadline_cycle: see the header comment. */
static void phase_deadline_cycle(void)
{
	enum { B = 64, ROUNDS = 1 << 15 };
	const uint64_t step = UINT64_C(50000), timeout = UINT64_C(25000000);
	struct iouw_wheel *w = new_wheel();
	uint64_t prev[B], now = 0, t0, t1;
	size_t n;

	t0 = now_ns();
	for (uint32_t r = 0; r < ROUNDS; r++) {
		now += step;
		if (r > 0)
			for (int k = 0; k < B; k++)
				iouw_wheel_remove(w, prev[k]);
		if (iouw_wheel_active(w) == 0) {
			(void)iouw_wheel_advance(w, now, &n);
			check(n == 0, "deadline_cycle idle catch-up returned entries");
		}
		for (int k = 0; k < B; k++) {
			prev[k] = iouw_wheel_target_tick(w, now + timeout);
			iouw_wheel_schedule(w, iouw_waiter_id_new((uint32_t)k, r), prev[k]);
		}
	}
	t1 = now_ns();
	report("deadline_cycle", t1 - t0, (uint64_t)ROUNDS * B);
	check(iouw_wheel_active(w) == B &&
	              iouw_wheel_current_tick(w) == (ROUNDS * step) / TICK_NS,
	      "deadline_cycle counts");
	iouw_wheel_free(w);
}

int main(void)
{
	const char *only = getenv("IOUW_BENCH_WHEEL_ONLY");
	uint64_t *ticks = malloc(N * sizeof(*ticks));
	uint64_t horizon = MAX_NS / TICK_NS, t0, t1, ops;
	struct iouw_wheel *w;
	size_t n;

	check(ticks != NULL, "out of memory");
	if (only != NULL) {
		/* One of the two path phases alone, for profiling. */
		if (strcmp(only, "target_tick") == 0)
			phase_target_tick(ticks);
		else if (strcmp(only, "deadline_cycle") == 0)
			phase_deadline_cycle();
		else
			check(0, "IOUW_BENCH_WHEEL_ONLY: expected target_tick or deadline_cycle");
		free(ticks);
		return 0;
	}

	/* schedule + remove_random */
	w = new_wheel();
	for (uint32_t i = 0; i < N; i++)
		ticks[i] = 1 + rng() % horizon;
	t0 = now_ns();
	for (uint32_t i = 0; i < N; i++)
		iouw_wheel_schedule(w, iouw_waiter_id_new(i, 0), ticks[i]);
	t1 = now_ns();
	report("schedule", t1 - t0, N);
	check(iouw_wheel_active(w) == N, "schedule count");
	for (uint32_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
		uint32_t j = (uint32_t)(rng() % (i + 1));
		uint64_t tmp = ticks[i];

		ticks[i] = ticks[j];
		ticks[j] = tmp;
	}
	t0 = now_ns();
	for (uint32_t i = 0; i < N; i++)
		iouw_wheel_remove(w, ticks[i]);
	t1 = now_ns();
	report("remove_random", t1 - t0, N);
	check(iouw_wheel_active(w) == 0, "remove count");
	iouw_wheel_free(w);

	/* remove_min_first: one deadline per 16 ticks, removed in tick order,
	 * so each remove drops the minimum and rescans the bitset up to the
	 * next one; repeated to get a measurable batch. */
	w = new_wheel();
	ops = 0;
	for (uint64_t t = 1; t <= horizon; t += 16)
		ticks[ops++] = t;
	{
		uint64_t total = 0, removed = 0;

		for (int round = 0; round < 500; round++) {
			for (uint64_t i = 0; i < ops; i++)
				iouw_wheel_schedule(w, iouw_waiter_id_new((uint32_t)i, 0), ticks[i]);
			t0 = now_ns();
			for (uint64_t i = 0; i < ops; i++)
				iouw_wheel_remove(w, ticks[i]);
			t1 = now_ns();
			total += t1 - t0;
			removed += ops;
			check(iouw_wheel_active(w) == 0, "remove_min_first count");
		}
		report("remove_min_first", total, removed);
	}
	iouw_wheel_free(w);

	/* advance_expiry: every deadline expires; advance tick by tick. */
	w = new_wheel();
	for (uint32_t i = 0; i < N; i++)
		iouw_wheel_schedule(w, iouw_waiter_id_new(i, 0), 1 + rng() % horizon);
	ops = 0;
	t0 = now_ns();
	for (uint64_t t = 1; t <= horizon; t++) {
		const struct iouw_wheel_entry *e = iouw_wheel_advance(w, t * TICK_NS, &n);

		for (size_t i = 0; i < n; i++)
			iouw_wheel_remove(w, e[i].tick);
		ops += n;
	}
	t1 = now_ns();
	check(ops == N && iouw_wheel_active(w) == 0, "advance_expiry count");
	report("advance_expiry", t1 - t0, ops);
	printf("%-18s %10llu ticks %8.1f ns/tick\n", "", (unsigned long long)horizon,
	       (double)(t1 - t0) / (double)horizon);
	iouw_wheel_free(w);

	/* steady_mixed: 64 admissions per tick with 5 s deadlines; 19 in 20
	 * complete LAG ticks later (their entries go stale), the rest time
	 * out. Odd ids are the ones that time out: the caller's filter. */
	{
		enum { PER_TICK = 64, TICKS = 16384, LAG = 250, TIMEOUT_TICKS = 1000 };
		uint64_t (*batch)[PER_TICK] = calloc(LAG, sizeof(*batch));
		uint32_t *batch_n = calloc(LAG, sizeof(*batch_n));
		uint64_t expired = 0, stale = 0, admitted = 0, timing_out = 0;
		uint32_t id = 0;

		check(batch != NULL && batch_n != NULL, "out of memory");
		w = new_wheel();
		ops = 0;
		t0 = now_ns();
		for (uint64_t t = 1; t <= TICKS; t++) {
			const struct iouw_wheel_entry *e = iouw_wheel_advance(w, t * TICK_NS, &n);
			uint64_t r = t % LAG;

			for (size_t i = 0; i < n; i++) {
				if (e[i].id.raw & 1) {
					iouw_wheel_remove(w, e[i].tick);
					expired++;
				} else {
					stale++;
				}
			}
			/* Complete the batch admitted LAG ticks ago. */
			for (uint32_t i = 0; i < batch_n[r]; i++)
				iouw_wheel_remove(w, batch[r][i]);
			ops += n + batch_n[r] + 1;
			batch_n[r] = 0;
			for (int k = 0; k < PER_TICK; k++) {
				uint64_t tick = iouw_wheel_target_tick(
					w, (t + TIMEOUT_TICKS) * TICK_NS);
				int times_out = rng() % 20 == 0;
				uint32_t raw = (id++ << 1) | (uint32_t)times_out;

				iouw_wheel_schedule(w, iouw_waiter_id_new(raw, 0), tick);
				if (!times_out)
					batch[r][batch_n[r]++] = tick;
				else
					timing_out++;
				admitted++;
				ops++;
			}
		}
		t1 = now_ns();
		report("steady_mixed", t1 - t0, ops);
		printf("%-18s admitted %llu, expired %llu, stale entries skipped %llu\n", "",
		       (unsigned long long)admitted, (unsigned long long)expired,
		       (unsigned long long)stale);
		/* Everything admitted more than TIMEOUT_TICKS before the end
		 * either completed or expired. */
		check(expired <= timing_out && expired > 0 && stale > 0, "steady_mixed counts");
		{
			uint64_t pending = 0;

			for (uint32_t r = 0; r < LAG; r++)
				pending += batch_n[r];
			check(iouw_wheel_active(w) == timing_out - expired + pending,
			      "steady_mixed active count");
		}
		iouw_wheel_free(w);
		free(batch);
		free(batch_n);
	}

	phase_target_tick(ticks);
	phase_deadline_cycle();
	free(ticks);
	return 0;
}
