/* tests/test_udata.c: the reserved user_data registry (core/udata.h,
 * docs/waiters.md §2.3).
 *
 * Checks: the registry's ranges are ordered, disjoint and inside the
 * reserved block; every named use (wake poll, probes, inject carrier) is
 * registered under the right name; and no encoded waiter id, op or cancel,
 * of any slot index a table can have and of the boundary generations,
 * equals a reserved value. */
#include <stdint.h>

#include "support.h"
#include "udata.h"
#include "uring_backend.h"
#include "waiter.h"

START_TEST(test_udata_ranges_disjoint_inside_block)
{
	size_t n;
	const struct iouw_udata_range *r = iouw_udata_ranges(&n);

	ck_assert_uint_ge(n, 3);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(r[i].first <= r[i].last, "%s inverted", r[i].name);
		ck_assert_msg(r[i].first >= IOUW_UDATA_RESERVED_FIRST, "%s outside the block", r[i].name);
		ck_assert_ptr_nonnull(r[i].owner);
		for (size_t j = 0; j < n; j++)
			if (i != j)
				ck_assert_msg(r[i].last < r[j].first || r[j].last < r[i].first,
				              "%s and %s overlap", r[i].name, r[j].name);
	}
	iouw_udata_assert_registry();
}
END_TEST

START_TEST(test_udata_named_uses_are_registered)
{
	ck_assert_str_eq(iouw_udata_name(IOUW_WAKE_USER_DATA), "wake");
	for (uint64_t v = IOUW_URING_PROBE_USER_DATA_FIRST; v <= IOUW_URING_PROBE_USER_DATA_LAST; v++)
		ck_assert_str_eq(iouw_udata_name(v), "probe");
	ck_assert_str_eq(iouw_udata_name(IOUW_UDATA_INJECT_CARRIER), "inject-carrier");
	ck_assert(iouw_udata_is_reserved(IOUW_UDATA_INJECT_CARRIER));
	/* A spare value of the block is reserved but unnamed; below the block
	 * nothing is reserved. */
	ck_assert(iouw_udata_is_reserved(IOUW_UDATA_RESERVED_FIRST));
	ck_assert_ptr_null(iouw_udata_name(IOUW_UDATA_RESERVED_FIRST));
	ck_assert(!iouw_udata_is_reserved(IOUW_UDATA_RESERVED_FIRST - 1));
	ck_assert_ptr_null(iouw_udata_name(0));
}
END_TEST

/* Every slot index a table can have, at the boundary generations and a
 * spread of others, op and cancel: never reserved. */
START_TEST(test_udata_no_waiter_id_is_reserved)
{
	static const uint32_t gens[] = { 0, 1, 2, 0x40000000u, IOUW_WAITER_GENERATION_MASK - 1,
		                         IOUW_WAITER_GENERATION_MASK };

	for (uint32_t idx = 0; idx < IOUW_WAITERS_MAX_CAPACITY; idx++)
		for (size_t g = 0; g < sizeof(gens) / sizeof(gens[0]); g++) {
			iouw_waiter_id id = iouw_waiter_id_new(idx, gens[g]);

			if (iouw_udata_is_reserved(iouw_waiter_id_user_data(id)) ||
			    iouw_udata_is_reserved(iouw_waiter_id_cancel_user_data(id)))
				ck_abort_msg("waiter %u/%u encodes a reserved user_data", idx, gens[g]);
		}
	/* The wrap of the generation stays clear of the block too. */
	{
		iouw_waiter_id id = iouw_waiter_id_new(IOUW_WAITERS_MAX_CAPACITY - 1,
		                                       IOUW_WAITER_GENERATION_MASK);

		id = iouw_waiter_id_next_generation(id);
		ck_assert_uint_eq(iouw_waiter_id_generation(id), 0);
		ck_assert(!iouw_udata_is_reserved(iouw_waiter_id_cancel_user_data(id)));
	}
	/* And decoding a reserved value never names a slot a table can have. */
	for (uint64_t v = IOUW_UDATA_RESERVED_FIRST;; v++) {
		bool is_cancel;

		ck_assert_uint_ge(iouw_waiter_id_index(iouw_waiter_id_from_user_data(v, &is_cancel)),
		                  IOUW_WAITERS_MAX_CAPACITY);
		if (v == IOUW_UDATA_RESERVED_LAST)
			break;
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("udata");
	TCase *tc = tcase_create("udata");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_udata_ranges_disjoint_inside_block);
	tcase_add_test(tc, test_udata_named_uses_are_registered);
	tcase_add_test(tc, test_udata_no_waiter_id_is_reserved);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
