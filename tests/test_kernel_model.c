/* tests/test_kernel_model.c: the kernel model (fuzz/kernel_model.h), rule
 * by rule: every legal order of docs/kernel.md §8.2/§8.3 accepted, every
 * hostile answer named by its rule, and the draws legal.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include <liburing.h>

#include "../fuzz/kernel_model.h"
#include "support.h"

#define OP 5
#define CANCEL (5 | (UINT64_C(1) << 63))

static struct iouw_km km;

static void start(uint8_t opcode, uint32_t bytes, bool cancel)
{
	iouw_km_init(&km);
	ck_assert_int_eq(iouw_km_submit_op(&km, OP, opcode, bytes), 0);
	if (cancel)
		ck_assert_int_eq(iouw_km_submit_cancel(&km, CANCEL, OP), 0);
}

static void legal(uint64_t ud, int32_t res)
{
	const char *why = iouw_km_post(&km, ud, res, 0);

	ck_assert_msg(why == NULL, "res %d rejected: %s", (int)res, why);
	iouw_km_reaped(&km, ud);
}

static void hostile(uint64_t ud, int32_t res, const char *rule)
{
	const char *why = iouw_km_post(&km, ud, res, 0);

	ck_assert_msg(why && !strncmp(why, rule, strlen(rule)), "res %d: got %s, want %s",
	              (int)res, why ? why : "legal", rule);
}

START_TEST(test_probe_orders_legal)
{
	/* docs/kernel.md §8.2: cancel 0 then op -ECANCELED; and the op -ECANCELED first. */
	start(IORING_OP_RECV, 8, true);
	legal(CANCEL, 0);
	legal(OP, -ECANCELED);
	ck_assert_uint_eq(iouw_km_owed(&km), 0);
	start(IORING_OP_RECV, 8, true);
	legal(OP, -ECANCELED);
	legal(CANCEL, 0);
	/* docs/kernel.md §8.3: op first then -ENOENT or -EALREADY; -EALREADY or -ENOENT
	 * before a successful op. */
	start(IORING_OP_READ, 4, true);
	legal(OP, 4);
	legal(CANCEL, -ENOENT);
	start(IORING_OP_WRITE, 8, true);
	legal(OP, 8);
	legal(CANCEL, -EALREADY);
	start(IORING_OP_WRITE, 8, true);
	legal(CANCEL, -EALREADY);
	legal(OP, 8);
	start(IORING_OP_READ, 4, true);
	legal(CANCEL, -ENOENT);
	legal(OP, 4);
	/* K4: -ECANCELED with no cancel at all, and after -ENOENT. */
	start(IORING_OP_SEND, 3, false);
	legal(OP, -ECANCELED);
	start(IORING_OP_SEND, 3, true);
	legal(CANCEL, -ENOENT);
	legal(OP, -ECANCELED);
	/* K3: partial, 0, any errno. */
	start(IORING_OP_RECV, 8, false);
	legal(OP, 3);
	start(IORING_OP_RECV, 8, false);
	legal(OP, -4095);
	/* K9: SOCK_NONEMPTY on a recv. */
	start(IORING_OP_RECV, 8, false);
	ck_assert_ptr_null(iouw_km_post(&km, OP, 8, IORING_CQE_F_SOCK_NONEMPTY));
	/* K5: an invalid cancel SQE answers -EINVAL, only that. */
	iouw_km_init(&km);
	ck_assert_int_eq(iouw_km_submit_op(&km, OP, IORING_OP_RECV, 8), 0);
	ck_assert_int_eq(iouw_km_submit_bad_cancel(&km, CANCEL, OP), 0);
	ck_assert_ptr_nonnull(iouw_km_check(&km, CANCEL, 0, 0));
	legal(CANCEL, -EINVAL);
	/* K10: multishot wake stays armed while F_MORE. */
	iouw_km_init(&km);
	ck_assert_int_eq(iouw_km_submit_wake(&km, UINT64_MAX), 0);
	ck_assert_ptr_null(iouw_km_post(&km, UINT64_MAX, POLLIN, IORING_CQE_F_MORE));
	ck_assert(iouw_km_outstanding(&km, UINT64_MAX));
	ck_assert_ptr_null(iouw_km_post(&km, UINT64_MAX, -ECANCELED, 0));
	ck_assert(!iouw_km_outstanding(&km, UINT64_MAX));
}
END_TEST

START_TEST(test_hostile_named)
{
	start(IORING_OP_RECV, 8, false);
	hostile(OP, 9, "H2");
	hostile(OP, 1, "H1"); /* a second op CQE */
	iouw_km_init(&km);
	hostile(77, 0, "H1"); /* a CQE for no SQE */
	start(IORING_OP_FSYNC, 0, false);
	hostile(OP, 1, "H3");
	start(IORING_OP_READ, 4, false);
	hostile(OP, INT32_MIN, "H4");
	start(IORING_OP_READ, 4, false);
	hostile(OP, -4096, "H4");
	start(IORING_OP_READ, 4, true);
	hostile(CANCEL, -EINVAL, "H5");
	start(IORING_OP_READ, 4, true);
	hostile(CANCEL, INT32_MIN, "H5");
	start(IORING_OP_READ, 4, true);
	legal(OP, 4);
	hostile(CANCEL, 0, "H6"); /* the op completed: nothing was cancelled */
	start(IORING_OP_READ, 4, true);
	legal(CANCEL, 0);
	hostile(OP, 4, "H7");
	/* a cancel submitted after the op's CQE was reaped */
	start(IORING_OP_READ, 4, false);
	legal(OP, 4);
	ck_assert_int_eq(iouw_km_submit_cancel(&km, CANCEL, OP), 0);
	hostile(CANCEL, -EALREADY, "H8");
	start(IORING_OP_READ, 4, false);
	ck_assert_ptr_nonnull(iouw_km_post(&km, OP, 4, IORING_CQE_F_MORE));
	iouw_km_init(&km);
	ck_assert_int_eq(iouw_km_submit_wake(&km, UINT64_MAX), 0);
	hostile(UINT64_MAX, 0, "H10");
	/* one user_data in flight twice is the caller's bug */
	start(IORING_OP_READ, 4, false);
	ck_assert_int_eq(iouw_km_submit_op(&km, OP, IORING_OP_READ, 4), -EEXIST);
}
END_TEST

/* Every draw, for every byte, is legal; hostile draws are hostile. */
START_TEST(test_draws_legal)
{
	for (unsigned b = 0; b < 256; b++) {
		for (unsigned order = 0; order < 2; order++) {
			uint8_t data[4] = { (uint8_t)b, (uint8_t)(b * 7), (uint8_t)(b * 13), 3 };
			struct iouw_fdp p;
			int32_t r;

			iouw_fdp_init(&p, data, sizeof(data));
			start(b % 3 ? IORING_OP_RECV : IORING_OP_FSYNC, 1 + b % 9, true);
			if (order == 0) {
				r = iouw_km_draw_cancel(&km, &p, CANCEL);
				legal(CANCEL, r);
				r = iouw_km_draw_op(&km, &p, OP);
				legal(OP, r);
			} else {
				r = iouw_km_draw_op(&km, &p, OP);
				legal(OP, r);
				r = iouw_km_draw_cancel(&km, &p, CANCEL);
				legal(CANCEL, r);
			}
			start(IORING_OP_READ, 1 + b % 9, false);
			r = iouw_km_draw_hostile_op(&km, &p, OP, 1 + b % 9);
			if (r != -ECANCELED && (r < -4095 || r > (int32_t)(1 + b % 9)))
				ck_assert_ptr_nonnull(iouw_km_check(&km, OP, r, 0));
			start(IORING_OP_READ, 4, true);
			r = iouw_km_draw_hostile_cancel(&p);
			if (r != 0 && r != -EALREADY && r != -ENOENT)
				ck_assert_ptr_nonnull(iouw_km_check(&km, CANCEL, r, 0));
		}
	}
	/* Defaults (no bytes): full success, cancel 0 then forced -ECANCELED. */
	start(IORING_OP_RECV, 8, true);
	ck_assert_int_eq(iouw_km_draw_op(&km, NULL, OP), 8);
	ck_assert_int_eq(iouw_km_draw_cancel(&km, NULL, CANCEL), 0);
	legal(CANCEL, 0);
	ck_assert_int_eq(iouw_km_draw_op(&km, NULL, OP), -ECANCELED);
}
END_TEST

static Suite *kernel_model_suite(void)
{
	Suite *s = suite_create("kernel_model");
	TCase *tc = tcase_create("rules");

	iouw_test_add_fd_fixture(tc);
	tcase_add_test(tc, test_probe_orders_legal);
	tcase_add_test(tc, test_hostile_named);
	tcase_add_test(tc, test_draws_legal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(kernel_model_suite());
}
