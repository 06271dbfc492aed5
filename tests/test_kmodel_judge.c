/* tests/test_kmodel_judge.c: the harness's judge of kernel histories
 * (harness/kmodel_judge.h): SQEs become the kernel model's submissions
 * (op bytes, WRITEV's iovecs, invalid cancels, the wake poll), each CQE is
 * judged against the scenario's intent (`kernel legal` or `kernel hostile
 * H...`), and the rules a hostile scenario names must all be broken.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include <liburing.h>

#include "kmodel_judge.h"
#include "support.h"
#include "waiter.h"

#define OP 7
#define CANCEL (7 | (UINT64_C(1) << 63))

static char note[128], expected[192];

static struct io_uring_sqe op_sqe(uint8_t opcode, uint32_t len)
{
	struct io_uring_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = opcode;
	s.len = len;
	s.user_data = OP;
	return s;
}

static struct io_uring_sqe cancel_sqe(uint32_t flags)
{
	struct io_uring_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_ASYNC_CANCEL;
	s.addr = OP;
	s.cancel_flags = flags;
	s.user_data = CANCEL;
	return s;
}

static bool judge(struct iouw_kmj *j, uint64_t ud, int32_t res, uint32_t flags)
{
	memset(note, 'x', sizeof(note));
	memset(expected, 0, sizeof(expected));
	return iouw_kmj_cqe(j, ud, res, flags, note, sizeof(note), expected, sizeof(expected));
}

START_TEST(test_rule_numbers)
{
	ck_assert_uint_eq(iouw_kmj_rule("H1 CQE for no outstanding SQE"), 1);
	ck_assert_uint_eq(iouw_kmj_rule("H10 wake poll result without POLLIN"), 10);
	ck_assert_uint_eq(iouw_kmj_rule("H11 nothing"), 0);
	ck_assert_uint_eq(iouw_kmj_rule("H0"), 0);
	ck_assert_uint_eq(iouw_kmj_rule("K3"), 0);
	ck_assert_uint_eq(iouw_kmj_rule(NULL), 0);
}
END_TEST

/* `kernel legal` (intent 0): legal CQEs pass with no note; the first
 * hostile one is refused, naming the rule and what a hostile scenario
 * would say; nothing is unmet. */
START_TEST(test_legal_intent)
{
	struct iouw_kmj *j = iouw_kmj_new(0);
	struct io_uring_sqe s = op_sqe(IORING_OP_RECV, 8);
	char unmet[32];

	ck_assert_ptr_nonnull(j);
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, OP, 3, IORING_CQE_F_SOCK_NONEMPTY)); /* K3 partial, K9 */
	ck_assert_str_eq(note, "");
	iouw_kmj_reaped(j, OP);
	ck_assert(!judge(j, OP, 3, 0)); /* a second CQE */
	ck_assert_str_eq(note, "H1 CQE for no outstanding SQE");
	ck_assert_ptr_nonnull(strstr(expected, "kernel hostile H1"));
	iouw_kmj_sqe(j, &s);
	ck_assert(!judge(j, OP, 9, 0));
	ck_assert_str_eq(note, "H2 result above the bytes asked");
	ck_assert(!iouw_kmj_unmet(j, unmet, sizeof(unmet)));
	ck_assert_str_eq(unmet, "");
	iouw_kmj_free(j);
}
END_TEST

/* `kernel hostile H2 H4`: CQEs breaking those pass (noted), another rule
 * is refused naming the set, and the rules not yet broken are unmet. */
START_TEST(test_hostile_intent)
{
	struct iouw_kmj *j = iouw_kmj_new((1u << 2) | (1u << 4));
	struct io_uring_sqe s = op_sqe(IORING_OP_SEND, 4);
	char unmet[32];

	ck_assert(iouw_kmj_unmet(j, unmet, sizeof(unmet)));
	ck_assert_str_eq(unmet, "H2 H4");
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, OP, 5, 0));
	ck_assert_str_eq(note, "H2 result above the bytes asked");
	ck_assert(iouw_kmj_unmet(j, unmet, sizeof(unmet)));
	ck_assert_str_eq(unmet, "H4");
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, OP, 4, 0)); /* legal CQEs stay legal */
	ck_assert_str_eq(note, "");
	ck_assert(!judge(j, UINT64_C(99), 0, 0)); /* H1: not named */
	ck_assert_str_eq(note, "H1 CQE for no outstanding SQE");
	ck_assert_str_eq(expected, "a legal CQE or one breaking H2 H4 (`kernel hostile H2 H4`)");
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, OP, INT32_MIN, 0));
	ck_assert(!iouw_kmj_unmet(j, unmet, sizeof(unmet)));
	iouw_kmj_free(j);
}
END_TEST

/* The SQE translation: WRITEV asks the sum of its iovecs, FSYNC no bytes,
 * a cancel with flags is invalid (-EINVAL is its only legal answer), the
 * wake poll is multishot. */
START_TEST(test_sqe_translation)
{
	struct iovec iov[2] = { { NULL, 3 }, { NULL, 4 } };
	struct io_uring_sqe s = op_sqe(IORING_OP_WRITEV, 2);
	struct iouw_kmj *j = iouw_kmj_new(0);

	s.addr = (uint64_t)(uintptr_t)iov;
	iouw_kmj_sqe(j, &s);
	ck_assert(!judge(j, OP, 8, 0));
	ck_assert_str_eq(note, "H2 result above the bytes asked");
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, OP, 7, 0));

	s = op_sqe(IORING_OP_FSYNC, 0);
	iouw_kmj_sqe(j, &s);
	ck_assert(!judge(j, OP, 1, 0));
	ck_assert_str_eq(note, "H3 FSYNC reports bytes");

	/* The loop's own cancel (no flags): -EINVAL is hostile (H5). */
	s = op_sqe(IORING_OP_RECV, 8);
	iouw_kmj_sqe(j, &s);
	s = cancel_sqe(0);
	iouw_kmj_sqe(j, &s);
	ck_assert(!judge(j, CANCEL, -EINVAL, 0));
	ck_assert_str_eq(note, "H5 cancel result outside 0/-EALREADY/-ENOENT");
	/* `cancel ... cancel_flags=`: -EINVAL is its answer (K5). */
	s = cancel_sqe(0x80000000u);
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, CANCEL, -EINVAL, 0));
	ck_assert(judge(j, OP, 8, 0));

	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_POLL_ADD;
	s.user_data = IOUW_WAKE_USER_DATA;
	iouw_kmj_sqe(j, &s);
	ck_assert(judge(j, IOUW_WAKE_USER_DATA, POLLIN, IORING_CQE_F_MORE));
	ck_assert(judge(j, IOUW_WAKE_USER_DATA, POLLIN, IORING_CQE_F_MORE)); /* still armed */
	ck_assert(!judge(j, IOUW_WAKE_USER_DATA, -ECANCELED, IORING_CQE_F_MORE));
	ck_assert_str_eq(note, "H10 wake poll result without POLLIN, or F_MORE on an errno");
	iouw_kmj_free(j);
}
END_TEST

/* K7's window: a cancel staged while the op's CQE was posted but not
 * reaped may answer -EALREADY; once reaped, -EALREADY is H8. */
START_TEST(test_reaped_window)
{
	struct iouw_kmj *j = iouw_kmj_new(0);
	struct io_uring_sqe op = op_sqe(IORING_OP_RECV, 8), c = cancel_sqe(0);

	iouw_kmj_sqe(j, &op);
	ck_assert(judge(j, OP, 8, 0));
	iouw_kmj_sqe(j, &c);
	ck_assert(judge(j, CANCEL, -EALREADY, 0));
	iouw_kmj_reaped(j, OP);
	iouw_kmj_sqe(j, &op);
	ck_assert(judge(j, OP, 8, 0));
	iouw_kmj_reaped(j, OP);
	iouw_kmj_sqe(j, &c);
	ck_assert(!judge(j, CANCEL, -EALREADY, 0));
	ck_assert_str_eq(note, "H8 cancel -EALREADY for an op not in the kernel");
	iouw_kmj_free(j);
}
END_TEST

static Suite *kmodel_judge_suite(void)
{
	Suite *s = suite_create("kmodel_judge");
	TCase *tc = tcase_create("judge");

	iouw_test_add_fd_fixture(tc);
	tcase_add_test(tc, test_rule_numbers);
	tcase_add_test(tc, test_legal_intent);
	tcase_add_test(tc, test_hostile_intent);
	tcase_add_test(tc, test_sqe_translation);
	tcase_add_test(tc, test_reaped_window);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(kmodel_judge_suite());
}
