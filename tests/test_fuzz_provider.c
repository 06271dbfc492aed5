/* tests/test_fuzz_provider.c: the fuzz data provider suite (fuzz/provider.h).
 *
 * Pins the encoding committed corpus files depend on: decisions from the
 * tail (most significant byte read first, only as many bytes as the range
 * needs, value = min + bytes % (range + 1)), blobs from the front, the two
 * ends never overlapping, and minimums once the input is exhausted.
 */
#include <stdint.h>
#include <string.h>

#include "../fuzz/provider.h"
#include "support.h"

START_TEST(test_fdp_empty_input_gives_minimums)
{
	struct iouw_fdp p;
	uint8_t out[4] = { 9, 9, 9, 9 };

	iouw_fdp_init(&p, NULL, 0);
	ck_assert_uint_eq(iouw_fdp_remaining(&p), 0);
	ck_assert_uint_eq(iouw_fdp_u64_in_range(&p, 7, 1000), 7);
	ck_assert(!iouw_fdp_bool(&p));
	ck_assert_uint_eq(iouw_fdp_u8(&p), 0);
	ck_assert_uint_eq(iouw_fdp_pick(&p, 5), 0);
	ck_assert_uint_eq(iouw_fdp_bytes(&p, out, sizeof(out)), 0);
	ck_assert_mem_eq(out, "\0\0\0\0", 4);
}
END_TEST

START_TEST(test_fdp_decisions_from_tail_blobs_from_front)
{
	static const uint8_t data[] = { 1, 2, 3, 4 };
	struct iouw_fdp p;
	uint8_t out[2];

	iouw_fdp_init(&p, data, sizeof(data));
	ck_assert_uint_eq(iouw_fdp_u8(&p), 4);
	ck_assert_uint_eq(iouw_fdp_u8(&p), 3);
	ck_assert_uint_eq(iouw_fdp_bytes(&p, out, 1), 1);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(iouw_fdp_remaining(&p), 1);
	/* The blob gets only what the tail left over, zero-filled. */
	out[1] = 0xaa;
	ck_assert_uint_eq(iouw_fdp_bytes(&p, out, 2), 1);
	ck_assert_uint_eq(out[0], 2);
	ck_assert_uint_eq(out[1], 0);
	ck_assert_uint_eq(iouw_fdp_u8(&p), 0);
}
END_TEST

START_TEST(test_fdp_ranges_take_only_needed_bytes)
{
	static const uint8_t data[] = { 0xff, 0x01, 0x02, 0x05 };
	struct iouw_fdp p;

	iouw_fdp_init(&p, data, sizeof(data));
	/* A single alternative takes no byte. */
	ck_assert_uint_eq(iouw_fdp_pick(&p, 1), 0);
	ck_assert_uint_eq(iouw_fdp_u64_in_range(&p, 3, 3), 3);
	ck_assert_uint_eq(iouw_fdp_remaining(&p), 4);
	/* pick(3) takes one byte: 5 % 3. */
	ck_assert_uint_eq(iouw_fdp_pick(&p, 3), 2);
	/* 0..1000 takes two bytes, the first read is the high one:
	 * (0x02 << 8 | 0x01) % 1001 = 513. */
	ck_assert_uint_eq(iouw_fdp_u64_in_range(&p, 0, 1000), 513);
	/* bool is the low bit of one byte. */
	ck_assert(iouw_fdp_bool(&p));
	ck_assert_uint_eq(iouw_fdp_remaining(&p), 0);
}
END_TEST

START_TEST(test_fdp_full_range_and_offsets)
{
	static const uint8_t data[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct iouw_fdp p;

	iouw_fdp_init(&p, data, sizeof(data));
	ck_assert_uint_eq(iouw_fdp_u64_in_range(&p, 0, UINT64_MAX), UINT64_C(0x0908070605040302));
	ck_assert_uint_eq(iouw_fdp_remaining(&p), 1);
	ck_assert_uint_eq(iouw_fdp_u32_in_range(&p, 10, 11), 11);
	/* min > max answers min without reading. */
	ck_assert_uint_eq(iouw_fdp_u64_in_range(&p, 5, 4), 5);
}
END_TEST

static Suite *fuzz_provider_suite(void)
{
	Suite *s = suite_create("fuzz_provider");
	TCase *tc = tcase_create("encoding");

	iouw_test_add_fd_fixture(tc);
	tcase_add_test(tc, test_fdp_empty_input_gives_minimums);
	tcase_add_test(tc, test_fdp_decisions_from_tail_blobs_from_front);
	tcase_add_test(tc, test_fdp_ranges_take_only_needed_bytes);
	tcase_add_test(tc, test_fdp_full_range_and_offsets);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(fuzz_provider_suite());
}
