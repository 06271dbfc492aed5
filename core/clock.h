/* core/clock.h: the injectable clock and saturating nanosecond arithmetic
 * (docs/wheel.md §5.5: time is read only through an injected clock, so
 * tests and scripts move it deterministically).
 *
 * Owns: struct iouw_clock (a function pointer + context the loop reads time
 * through), the CLOCK_MONOTONIC clock, the virtual clock tests and scripts
 * drive by hand, and the saturating helpers every deadline computation uses.
 *
 * Time is a uint64_t count of nanoseconds on an arbitrary monotonic epoch.
 * Nothing in core/ reads time except through a struct iouw_clock, so there is
 * no hidden global clock.
 *
 * Invariants:
 *   - a clock never goes backwards (CLOCK_MONOTONIC by the kernel's promise,
 *     the virtual clock by IOUW_INVARIANT "virtual clock moved backwards");
 *   - time arithmetic saturates at UINT64_MAX and never wraps: a deadline
 *     that would overflow becomes "as late as representable", which the
 *     wheel then clamps to its horizon;
 *   - the virtual clock counts its reads (.reads), so tests can assert that
 *     the loop does not read the clock while no deadline is active.
 *
 * Virtual clock states (one field, so the table is short):
 *   now_ns = t  -> now_ns = t + d   iouw_virtual_clock_advance(d) (saturating)
 *   now_ns = t  -> now_ns = u >= t  iouw_virtual_clock_set(u)
 *   now_ns = t  -> panic            iouw_virtual_clock_set(u < t)
 *
 * Not thread-safe: the virtual clock is read and moved by one thread (the
 * loop's, or a test's that owns the loop).
 */
#ifndef IOUW_CLOCK_H
#define IOUW_CLOCK_H

#include <stdint.h>

#define IOUW_NS_PER_SEC UINT64_C(1000000000)

/* A source of monotonic time. now_ns(ctx) returns nanoseconds. */
struct iouw_clock {
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
};

/* Read @c. */
static inline uint64_t iouw_clock_now(const struct iouw_clock *c)
{
	return c->now_ns(c->ctx);
}

/* a + b, or UINT64_MAX when the sum does not fit. */
static inline uint64_t iouw_ns_add_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* a * b, or UINT64_MAX when the product does not fit. */
static inline uint64_t iouw_ns_mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* @sec seconds plus @nsec nanoseconds as nanoseconds, saturating at
 * UINT64_MAX (the C twin of the original's duration_to_nanos_saturating).
 * @nsec may be >= 1e9; it is simply added. */
static inline uint64_t iouw_duration_to_ns(uint64_t sec, uint64_t nsec)
{
	return iouw_ns_add_sat(iouw_ns_mul_sat(sec, IOUW_NS_PER_SEC), nsec);
}

/* The system's CLOCK_MONOTONIC. Reading it never fails on Linux; if it
 * ever did, that is an invariant failure ("CLOCK_MONOTONIC unreadable"). */
struct iouw_clock iouw_clock_monotonic(void);

/* CLOCK_MONOTONIC now, in nanoseconds: what iouw_clock_monotonic() reads.
 * For real-time bounds on real kernels only (the scripted kernel's
 * ring transports, the harness's kernel mode); loop time goes through an
 * injected struct iouw_clock. */
uint64_t iouw_monotonic_ns(void);

/* A clock that only moves when told to. Initialise it directly, e.g.
 * struct iouw_virtual_clock vc = { .now_ns = 0 }; reads counts now_ns calls
 * made through the struct iouw_clock view. */
struct iouw_virtual_clock {
	uint64_t now_ns;
	uint64_t reads;
};

/* A struct iouw_clock reading @vc (each read increments vc->reads). @vc must
 * outlive every user of the returned clock. */
struct iouw_clock iouw_virtual_clock_as_clock(struct iouw_virtual_clock *vc);

/* Move @vc forward by @ns, saturating at UINT64_MAX. */
void iouw_virtual_clock_advance(struct iouw_virtual_clock *vc, uint64_t ns);

/* Set @vc to @now_ns. Panics ("virtual clock moved backwards") when @now_ns
 * is earlier than the current time; setting the same time is allowed. */
void iouw_virtual_clock_set(struct iouw_virtual_clock *vc, uint64_t now_ns);

#endif /* IOUW_CLOCK_H */
