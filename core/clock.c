/* core/clock.c: see clock.h. */
#define _GNU_SOURCE
#include "clock.h"

#include <time.h>

#include "invariant.h"

uint64_t iouw_monotonic_ns(void)
{
	struct timespec ts;
	int rc;

	rc = clock_gettime(CLOCK_MONOTONIC, &ts);
	IOUW_INVARIANT(rc == 0 && ts.tv_sec >= 0 && ts.tv_nsec >= 0, "CLOCK_MONOTONIC unreadable");
	return iouw_duration_to_ns((uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec);
}

static uint64_t monotonic_now(void *ctx)
{
	(void)ctx;
	return iouw_monotonic_ns();
}

struct iouw_clock iouw_clock_monotonic(void)
{
	struct iouw_clock c = { monotonic_now, NULL };

	return c;
}

static uint64_t virtual_now(void *ctx)
{
	struct iouw_virtual_clock *vc = ctx;

	vc->reads++;
	return vc->now_ns;
}

struct iouw_clock iouw_virtual_clock_as_clock(struct iouw_virtual_clock *vc)
{
	struct iouw_clock c = { virtual_now, vc };

	return c;
}

void iouw_virtual_clock_advance(struct iouw_virtual_clock *vc, uint64_t ns)
{
	vc->now_ns = iouw_ns_add_sat(vc->now_ns, ns);
}

void iouw_virtual_clock_set(struct iouw_virtual_clock *vc, uint64_t now_ns)
{
	IOUW_INVARIANT(now_ns >= vc->now_ns, "virtual clock moved backwards");
	vc->now_ns = now_ns;
}
