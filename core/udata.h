/* core/udata.h: the one registry of reserved user_data values
 * (docs/waiters.md §2.3).
 *
 * What: every user_data value that is NOT a waiter id is handed out here,
 * and only here: the loop's wake poll, the uring backend's injection
 * probes, and the scripted kernel's own MSG_RING carrier SQEs. Modules use
 * these names (waiter.h's IOUW_WAKE_USER_DATA and uring_backend.h's probe
 * range are aliases of them), never a literal.
 *
 * Invariants (checked at compile time below and in waiter.h, and at run
 * time by iouw_udata_assert_registry() and tests/test_udata.c):
 *   - every reserved value lies in the reserved block
 *     IOUW_UDATA_RESERVED_FIRST .. UINT64_MAX (the top 64 values);
 *   - the ranges of the table iouw_udata_ranges() are disjoint and each
 *     lies inside the block;
 *   - the block's slot index (bits 0..31) is at least
 *     IOUW_UDATA_MIN_RESERVED_INDEX, far above any table capacity
 *     (IOUW_WAITERS_MAX_CAPACITY, asserted in waiter.h), so no encoded waiter
 *     id, op or cancel, of any generation, can equal a reserved value.
 * Adding a value: give it a range in the block, add a row to the table in
 * udata.c, and a row to docs/waiters.md §2.3.
 */
#ifndef IOUW_UDATA_H
#define IOUW_UDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reserved block: the top 64 user_data values. */
#define IOUW_UDATA_RESERVED_FIRST (UINT64_MAX - 63)
#define IOUW_UDATA_RESERVED_LAST UINT64_MAX
/* Lowest slot index (bits 0..31) any reserved value has. */
#define IOUW_UDATA_MIN_RESERVED_INDEX ((uint32_t)(IOUW_UDATA_RESERVED_FIRST & UINT32_MAX))

/* The loop's multishot poll on its wake eventfd (docs/loop.md §6.7). */
#define IOUW_UDATA_WAKE UINT64_MAX
/* The uring backend's CQE-injection probes (consumed by the probe, never
 * reaped by the loop): FIRST, FIRST + 1 NOP; FIRST + 2, + 3 the MSG_RING
 * SQEs, FIRST + 4 and LAST their messages. */
#define IOUW_UDATA_PROBE_FIRST (UINT64_MAX - 16)
#define IOUW_UDATA_PROBE_LAST (UINT64_MAX - 12)
/* The scripted kernel's own MSG_RING carrier SQE (the harness's inject
 * mode and the `ring` fuzz target): posted with IOSQE_CQE_SKIP_SUCCESS, its
 * CQE shows up only if the MSG_RING failed, and is filtered then. */
#define IOUW_UDATA_INJECT_CARRIER (UINT64_MAX - 32)

_Static_assert(IOUW_UDATA_WAKE >= IOUW_UDATA_RESERVED_FIRST, "wake user_data outside the block");
_Static_assert(IOUW_UDATA_PROBE_FIRST >= IOUW_UDATA_RESERVED_FIRST &&
                       IOUW_UDATA_PROBE_FIRST <= IOUW_UDATA_PROBE_LAST,
               "probe user_data outside the block");
_Static_assert(IOUW_UDATA_INJECT_CARRIER >= IOUW_UDATA_RESERVED_FIRST,
               "inject carrier user_data outside the block");
_Static_assert(IOUW_UDATA_MIN_RESERVED_INDEX >= (UINT32_C(1) << 31),
               "reserved block's slot index too low");

/* One row of the registry: [first, last], inclusive. */
struct iouw_udata_range {
	const char *name;
	uint64_t first;
	uint64_t last;
	const char *owner; /* the module that uses it */
};

/* The registry, ordered by first value; *@ret_n rows. */
const struct iouw_udata_range *iouw_udata_ranges(size_t *ret_n);

/* Whether @ud lies in the reserved block (registered or spare). */
static inline bool iouw_udata_is_reserved(uint64_t ud)
{
	return ud >= IOUW_UDATA_RESERVED_FIRST;
}

/* The name of the registered range holding @ud, or NULL (a spare value of
 * the block, or not reserved at all). */
const char *iouw_udata_name(uint64_t ud);

/* Check the registry (rows inside the block, ordered, disjoint): panics
 * naming the broken invariant (core/invariant.h). */
void iouw_udata_assert_registry(void);

#endif /* IOUW_UDATA_H */
