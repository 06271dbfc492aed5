/* tests/test_waiter.c: the waiter-table suite (core/waiter.h).
 *
 * Ports every test of the seed, the test module of the original waiter
 * module (commonware-runtime 2026.4.0, runtime/src/iouring/waiter.rs; the
 * contract it pins down: docs/waiters.md §2-§3), one for one, with the
 * same intent and assertions. A seed test that checks
 * a panic part-way through (catch_unwind) is split: the C twin keeps the
 * flow, and each panic becomes its own expected-SIGABRT test that rebuilds
 * the same state and checks *which* invariant fired.
 *
 * Seed test                                            C twin(s)
 * test_waiter_id_encoding_and_generation_wrap          same name
 * test_waiters_lifecycle_and_slot_reuse                same name,
 *                                                      ..._stale_op_cqe_panics
 * test_waiters_cancel_paths                            same name,
 *                                                      ..._missing_op_cqe_panics
 * test_waiters_track_in_flight_state                   same name
 * test_waiters_reject_stale_in_flight_queries          same name
 * test_waiters_stage_panics_for_out_of_range_and_empty_slots
 *                                                      same name (cancel side),
 *                                                      ..._out_of_range_panics,
 *                                                      ..._empty_slot_panics
 * test_waiters_cancel_and_in_flight_reject_out_of_range_and_empty_slots
 *                                                      same name
 * test_waiters_cancel_stage_only_when_in_flight        same name
 * test_waiters_stage_orphans_closed_requests           same name
 * test_waiters_orphan_closed_requests_after_nonterminal_completion
 *                                                      same name
 * test_waiters_accept_expected_cancel_cqe_results      same name
 * test_waiters_tolerate_unexpected_negative_cancel_result
 *                                                      same name
 * test_waiters_cancel_cqe_einval_panics                same name
 * test_waiters_stale_ids_cannot_remove_reused_slots    same name,
 *                                                      ..._stale_remove_panics
 * test_waiters_insert_and_cancel_invariants            same name,
 *                                                      ..._overflow_panics
 *
 * Beyond the seed: the loop's fast paths (admit, complete, stage_into) give
 * what insert + stage and on_completion give, requests without an
 * is_orphaned op are never orphaned, the reserved wake user_data is never
 * produced, capacity
 * limits, generation wrap with stale ids rejected across it, LIFO slot reuse,
 * SQE contents, release-exactly-once on free, stale cancel CQEs never touching
 * the new occupant, the stuck-in-cancel report, and the remaining panics.
 *
 * The seed builds sync/send/recv/read_at requests; these tests use
 * fake_request.h, which behaves like them where the table can tell and logs
 * every call, so "released exactly once" is asserted, not assumed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fake_request.h"
#include "support.h"
#include "waiter.h"

static struct iouw_waiters *new_table(uint32_t capacity)
{
	struct iouw_waiters *w = NULL;

	ck_assert_int_eq(iouw_waiters_new(capacity, &w), 0);
	ck_assert_ptr_nonnull(w);
	return w;
}

static iouw_waiter_id insert_sync(struct iouw_waiters *w, struct fake_log *log, uint64_t tick)
{
	return iouw_waiters_insert(w, &fake_request_new(log)->base, tick);
}

static void stage_submit(struct iouw_waiters *w, iouw_waiter_id id)
{
	struct iouw_stage_outcome out;

	iouw_waiters_stage(w, id, &out);
	ck_assert_int_eq(out.kind, IOUW_STAGE_SUBMIT);
	ck_assert_uint_eq(out.sqe.user_data, iouw_waiter_id_user_data(id));
}

/* Deliver an op CQE expected to complete the waiter with @tick; finish it. */
static void complete_expect(struct iouw_waiters *w, uint64_t ud, int32_t res, uint64_t tick)
{
	struct iouw_completion_outcome out;

	iouw_waiters_on_completion(w, ud, res, &out);
	ck_assert_int_eq(out.kind, IOUW_COMPLETION_COMPLETE);
	ck_assert_ptr_nonnull(out.request);
	ck_assert_uint_eq(out.target_tick, tick);
	fake_request_finish(out.request);
}

static void cancel_cqe_expect(struct iouw_waiters *w, uint64_t ud, int32_t res)
{
	struct iouw_completion_outcome out;

	iouw_waiters_on_completion(w, ud, res, &out);
	ck_assert_int_eq(out.kind, IOUW_COMPLETION_CANCEL);
	ck_assert_ptr_null(out.request);
}

static enum iouw_waiter_state state_of(struct iouw_waiters *w, iouw_waiter_id id)
{
	enum iouw_waiter_state st;

	ck_assert_msg(iouw_waiters_state(w, id, &st, NULL) == 0, "waiter missing");
	return st;
}

/* Remove @id outside the normal flow and drop its request. */
static void remove_and_release(struct iouw_waiters *w, iouw_waiter_id id)
{
	struct iouw_request *req = iouw_waiters_remove(w, id);

	req->ops->release(req);
}

static void silent_table(struct iouw_waiters *w)
{
	iouw_waiters_set_warn(w, NULL, NULL);
}

/* ---- seed twins --------------------------------------------------------- */

START_TEST(test_waiter_id_encoding_and_generation_wrap)
{
	iouw_waiter_id wrapped = iouw_waiter_id_new(7, IOUW_WAITER_GENERATION_MASK + 5u);
	iouw_waiter_id max = iouw_waiter_id_new(7, IOUW_WAITER_GENERATION_MASK);
	iouw_waiter_id id = iouw_waiter_id_new(7, 3);
	iouw_waiter_id decoded;
	bool is_cancel = true;

	ck_assert_uint_eq(iouw_waiter_id_generation(wrapped), 4);
	ck_assert_uint_eq(iouw_waiter_id_generation(iouw_waiter_id_next_generation(max)), 0);
	ck_assert_uint_eq(iouw_waiter_id_index(iouw_waiter_id_next_generation(max)), 7);

	ck_assert_uint_eq(iouw_waiter_id_index(id), 7);
	ck_assert_uint_eq(iouw_waiter_id_generation(id), 3);

	decoded = iouw_waiter_id_from_user_data(iouw_waiter_id_user_data(id), &is_cancel);
	ck_assert(iouw_waiter_id_eq(decoded, id));
	ck_assert(!is_cancel);

	decoded = iouw_waiter_id_from_user_data(iouw_waiter_id_cancel_user_data(id), &is_cancel);
	ck_assert(iouw_waiter_id_eq(decoded, id));
	ck_assert(is_cancel);
}
END_TEST

START_TEST(test_waiters_lifecycle_and_slot_reuse)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(3);
	iouw_waiter_id id0, id1, id2;

	ck_assert_uint_eq(iouw_waiters_capacity(w), 3);
	ck_assert_uint_eq(iouw_waiters_len(w), 0);
	ck_assert(iouw_waiters_is_empty(w));

	id0 = insert_sync(w, &log, 5);
	id1 = insert_sync(w, &log, 9);
	ck_assert_uint_eq(iouw_waiter_id_index(id0), 0);
	ck_assert_uint_eq(iouw_waiter_id_index(id1), 1);
	ck_assert_uint_eq(iouw_waiters_len(w), 2);

	/* (The stale op CQE panic is ..._stale_op_cqe_panics.) */

	stage_submit(w, id1);
	complete_expect(w, iouw_waiter_id_user_data(id1), 0, 9);
	ck_assert_uint_eq(iouw_waiters_len(w), 1);

	id2 = insert_sync(w, &log, 11);
	ck_assert_uint_eq(iouw_waiter_id_index(id2), iouw_waiter_id_index(id1));
	ck_assert_uint_eq(iouw_waiter_id_generation(id2),
	                  (iouw_waiter_id_generation(id1) + 1) & IOUW_WAITER_GENERATION_MASK);

	stage_submit(w, id0);
	complete_expect(w, iouw_waiter_id_user_data(id0), 0, 5);
	stage_submit(w, id2);
	complete_expect(w, iouw_waiter_id_user_data(id2), 0, 11);
	ck_assert(iouw_waiters_is_empty(w));
	ck_assert_int_eq(log.finishes, 3);
	ck_assert_int_eq(log.releases, 0);
	iouw_waiters_assert_consistent(w);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_lifecycle_and_slot_reuse_stale_op_cqe_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(3);
	iouw_waiter_id id1, stale;
	struct iouw_completion_outcome out;

	(void)insert_sync(w, &log, 5);
	id1 = insert_sync(w, &log, 9);
	stale = iouw_waiter_id_new(iouw_waiter_id_index(id1), iouw_waiter_id_generation(id1) + 1);
	iouw_test_expect_invariant("operation CQE for stale waiter generation");
	iouw_waiters_on_completion(w, iouw_waiter_id_user_data(stale), 0, &out);
}
END_TEST

START_TEST(test_waiters_cancel_paths)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(3);
	iouw_waiter_id id, stale;

	silent_table(w);
	id = insert_sync(w, &log, 2);
	stale = iouw_waiter_id_new(iouw_waiter_id_index(id), iouw_waiter_id_generation(id) + 1);
	ck_assert(!iouw_waiters_cancel(w, stale));

	stage_submit(w, id);
	ck_assert_msg(iouw_waiters_cancel(w, id), "cancel should transition active waiter");

	/* Cancel CQE does not complete the waiter. */
	cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(id), -ECANCELED);
	ck_assert_int_eq(log.cqes, 0);

	/* Op CQE completes the waiter, with no deadline left to remove. */
	complete_expect(w, iouw_waiter_id_user_data(id), 0, IOUW_NO_TICK);
	ck_assert(iouw_waiters_is_empty(w));

	/* Late cancel CQE for the already-completed waiter is ignored. */
	cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(id), -ECANCELED);
	/* (The missing op CQE panic is ..._missing_op_cqe_panics.) */
	ck_assert_int_eq(log.finishes, 1);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_cancel_paths_missing_op_cqe_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(3);
	struct iouw_completion_outcome out;
	iouw_waiter_id id;

	silent_table(w);
	id = insert_sync(w, &log, 2);
	stage_submit(w, id);
	ck_assert(iouw_waiters_cancel(w, id));
	cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(id), -ECANCELED);
	complete_expect(w, iouw_waiter_id_user_data(id), 0, IOUW_NO_TICK);
	cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(id), -ECANCELED);
	iouw_test_expect_invariant("operation CQE for untracked waiter");
	iouw_waiters_on_completion(w, 0, 1, &out);
}
END_TEST

START_TEST(test_waiters_track_in_flight_state)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id id = insert_sync(w, &log, 4);

	ck_assert(!iouw_waiters_is_in_flight(w, id));
	stage_submit(w, id);
	ck_assert(iouw_waiters_is_in_flight(w, id));
	complete_expect(w, iouw_waiter_id_user_data(id), 0, 4);
	ck_assert(!iouw_waiters_is_in_flight(w, id));
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_reject_stale_in_flight_queries)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id stale_id = insert_sync(w, &log, 1);
	iouw_waiter_id active_id;

	remove_and_release(w, stale_id);
	active_id = insert_sync(w, &log, 2);
	ck_assert(!iouw_waiter_id_eq(active_id, stale_id));

	ck_assert(!iouw_waiters_is_in_flight(w, stale_id));
	stage_submit(w, active_id);
	ck_assert(iouw_waiters_is_in_flight(w, active_id));
	ck_assert(!iouw_waiters_is_in_flight(w, stale_id));
	iouw_waiters_free(w);
	ck_assert_int_eq(log.releases, 2);
}
END_TEST

START_TEST(test_waiters_stage_panics_for_out_of_range_and_empty_slots)
{
	/* The tolerant side; each stage() panic is its own test below. */
	struct iouw_waiters *w = new_table(1);

	ck_assert(!iouw_waiters_cancel(w, iouw_waiter_id_new(7, 0)));
	ck_assert(!iouw_waiters_cancel(w, iouw_waiter_id_new(0, 0)));
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_stage_panics_for_out_of_range_and_empty_slots_out_of_range_panics)
{
	struct iouw_waiters *w = new_table(1);
	struct iouw_stage_outcome out;

	ck_assert(!iouw_waiters_cancel(w, iouw_waiter_id_new(7, 0)));
	iouw_test_expect_invariant("stage called for untracked waiter");
	iouw_waiters_stage(w, iouw_waiter_id_new(7, 0), &out);
}
END_TEST

START_TEST(test_waiters_stage_panics_for_out_of_range_and_empty_slots_empty_slot_panics)
{
	struct iouw_waiters *w = new_table(1);
	struct iouw_stage_outcome out;

	ck_assert(!iouw_waiters_cancel(w, iouw_waiter_id_new(0, 0)));
	iouw_test_expect_invariant("stage called for untracked waiter");
	iouw_waiters_stage(w, iouw_waiter_id_new(0, 0), &out);
}
END_TEST

START_TEST(test_waiters_cancel_and_in_flight_reject_out_of_range_and_empty_slots)
{
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id out_of_range = iouw_waiter_id_new(7, 0);
	iouw_waiter_id empty_slot = iouw_waiter_id_new(0, 0);

	ck_assert(!iouw_waiters_cancel(w, out_of_range));
	ck_assert(!iouw_waiters_is_in_flight(w, out_of_range));
	ck_assert(!iouw_waiters_cancel(w, empty_slot));
	ck_assert(!iouw_waiters_is_in_flight(w, empty_slot));
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_cancel_stage_only_when_in_flight)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(2);
	iouw_waiter_id active, ready;

	/* A waiter whose op SQE is still outstanding. */
	active = insert_sync(w, &log, 2);
	stage_submit(w, active);
	ck_assert(iouw_waiters_cancel(w, active));
	ck_assert(iouw_waiters_is_in_flight(w, active));
	ck_assert_int_eq(state_of(w, active), IOUW_WAITER_CANCEL_REQUESTED);

	/* A waiter cancelled before any SQE was staged. */
	ready = insert_sync(w, &log, 3);
	ck_assert(iouw_waiters_cancel(w, ready));
	ck_assert(!iouw_waiters_is_in_flight(w, ready));
	ck_assert_int_eq(state_of(w, ready), IOUW_WAITER_CANCEL_REQUESTED);
	iouw_waiters_free(w);
}
END_TEST

/* Insert an orphaned request with @len bytes and expect stage() to retire
 * it locally, reporting @tick, and to release it exactly once. */
static void expect_orphaned_before_submit(uint32_t len, uint64_t tick)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	struct fake_request *req = fake_request_new_len(&log, len);
	struct iouw_stage_outcome out;
	iouw_waiter_id id;

	req->orphaned = true;
	id = iouw_waiters_insert(w, &req->base, tick);
	iouw_waiters_stage(w, id, &out);
	ck_assert_int_eq(out.kind, IOUW_STAGE_ORPHANED);
	ck_assert_uint_eq(out.target_tick, tick);
	ck_assert_ptr_null(out.request);
	ck_assert(iouw_waiters_is_empty(w));
	ck_assert_int_eq(log.builds, 0);
	ck_assert_int_eq(log.releases, 1);
	ck_assert_int_eq(log.finishes, 0);
	iouw_waiters_free(w);
}

START_TEST(test_waiters_stage_orphans_closed_requests)
{
	/* Send request orphaned before its first submit. */
	expect_orphaned_before_submit(5, 7);
	/* Read-at request orphaned before its first submit. */
	expect_orphaned_before_submit(8, 8);
}
END_TEST

/* Stage a request of @len bytes, orphan it, feed @res and expect the waiter
 * to be removed (Complete with @tick) instead of requeued. */
static void expect_orphaned_after_cqe(uint32_t len, uint64_t tick, int32_t res)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	struct fake_request *req = fake_request_new_len(&log, len);
	iouw_waiter_id id = iouw_waiters_insert(w, &req->base, tick);

	stage_submit(w, id);
	req->orphaned = true;
	complete_expect(w, iouw_waiter_id_user_data(id), res, tick);
	ck_assert(iouw_waiters_is_empty(w));
	ck_assert_int_eq(log.cqes, 1);
	ck_assert_int_eq(log.finishes, 1);
	iouw_waiters_free(w);
}

START_TEST(test_waiters_orphan_closed_requests_after_nonterminal_completion)
{
	expect_orphaned_after_cqe(5, 5, -EAGAIN); /* send after a retry CQE */
	expect_orphaned_after_cqe(5, 5, 2);       /* send after partial progress */
	expect_orphaned_after_cqe(5, 6, -EAGAIN); /* exact recv after a retry CQE */
	expect_orphaned_after_cqe(5, 6, 3);       /* exact recv after partial progress */
	expect_orphaned_after_cqe(8, 9, 3);       /* read_at after partial progress */
}
END_TEST

START_TEST(test_waiters_accept_expected_cancel_cqe_results)
{
	const int32_t results[] = { 0, -EALREADY, -ENOENT };

	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		struct fake_log log = { 0 };
		struct iouw_waiters *w = new_table(1);
		iouw_waiter_id id = insert_sync(w, &log, 2);

		stage_submit(w, id);
		ck_assert(iouw_waiters_cancel(w, id));
		cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(id), results[i]);
		ck_assert_int_eq(state_of(w, id), IOUW_WAITER_CANCEL_REQUESTED);
		ck_assert(iouw_waiters_is_in_flight(w, id));
		ck_assert_uint_eq(iouw_waiters_unexpected_cancel_results(w), 0);
		iouw_waiters_free(w);
	}
}
END_TEST

struct warn_capture {
	int calls;
	iouw_waiter_id id;
	int32_t res;
};

static void capture_warn(void *ctx, iouw_waiter_id id, int32_t res)
{
	struct warn_capture *c = ctx;

	c->calls++;
	c->id = id;
	c->res = res;
}

START_TEST(test_waiters_tolerate_unexpected_negative_cancel_result)
{
	struct fake_log log = { 0 };
	struct warn_capture cap = { 0 };
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id id = insert_sync(w, &log, 2);

	iouw_waiters_set_warn(w, capture_warn, &cap);
	stage_submit(w, id);
	ck_assert(iouw_waiters_cancel(w, id));
	cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(id), -EPERM);
	ck_assert_int_eq(state_of(w, id), IOUW_WAITER_CANCEL_REQUESTED);
	ck_assert_int_eq(cap.calls, 1);
	ck_assert(iouw_waiter_id_eq(cap.id, id));
	ck_assert_int_eq(cap.res, -EPERM);
	ck_assert_uint_eq(iouw_waiters_unexpected_cancel_results(w), 1);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_cancel_cqe_einval_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	struct iouw_completion_outcome out;
	iouw_waiter_id id = insert_sync(w, &log, 2);

	stage_submit(w, id);
	ck_assert(iouw_waiters_cancel(w, id));
	iouw_test_expect_invariant("async cancel SQE rejected by kernel: EINVAL");
	iouw_waiters_on_completion(w, iouw_waiter_id_cancel_user_data(id), -EINVAL, &out);
}
END_TEST

START_TEST(test_waiters_stale_ids_cannot_remove_reused_slots)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id id = insert_sync(w, &log, 1);
	iouw_waiter_id reused;
	enum iouw_waiter_state st;

	remove_and_release(w, id);
	reused = insert_sync(w, &log, 2);
	ck_assert(!iouw_waiter_id_eq(reused, id));
	ck_assert_int_eq(iouw_waiters_state(w, id, &st, NULL), -ENOENT);
	/* (The stale remove panic is ..._stale_remove_panics.) */
	ck_assert_int_eq(state_of(w, reused), IOUW_WAITER_ACTIVE);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_stale_ids_cannot_remove_reused_slots_stale_remove_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id id = insert_sync(w, &log, 1);

	remove_and_release(w, id);
	(void)insert_sync(w, &log, 2);
	iouw_test_expect_invariant("remove called with stale waiter id");
	(void)iouw_waiters_remove(w, id);
}
END_TEST

START_TEST(test_waiters_insert_and_cancel_invariants)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(2);
	iouw_waiter_id no_deadline, active;

	(void)insert_sync(w, &log, IOUW_NO_TICK);
	(void)insert_sync(w, &log, IOUW_NO_TICK);
	ck_assert(iouw_waiters_is_full(w));
	/* (Inserting a third is ..._overflow_panics.) */
	iouw_waiters_free(w);

	/* Cancellation is allowed even when no deadline is tracked. */
	w = new_table(2);
	no_deadline = insert_sync(w, &log, IOUW_NO_TICK);
	ck_assert_msg(iouw_waiters_cancel(w, no_deadline),
	              "cancel should support active waiter without deadline");

	/* Repeated cancel on the same waiter must be ignored. */
	active = insert_sync(w, &log, 3);
	ck_assert(iouw_waiters_cancel(w, active));
	ck_assert(!iouw_waiters_cancel(w, active));
	iouw_waiters_free(w);
	ck_assert_int_eq(log.releases, 4);
}
END_TEST

START_TEST(test_waiters_insert_and_cancel_invariants_overflow_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(2);

	(void)insert_sync(w, &log, IOUW_NO_TICK);
	(void)insert_sync(w, &log, IOUW_NO_TICK);
	iouw_test_expect_invariant("waiters should not exceed configured capacity");
	(void)insert_sync(w, &log, IOUW_NO_TICK);
}
END_TEST

/* ---- beyond the seed ------------------------------------------------------ */

/* A request with no resources, for tables too large for fake requests. */
static void null_build(struct iouw_request *req, struct io_uring_sqe *sqe, uint64_t ud)
{
	(void)req;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, ud);
}
static bool null_on_cqe(struct iouw_request *req, bool c, int32_t res)
{
	(void)req;
	(void)c;
	(void)res;
	return true;
}
static bool null_orphaned(const struct iouw_request *req)
{
	(void)req;
	return false;
}
static void null_finish(struct iouw_request *req, enum iouw_finish how)
{
	(void)req;
	(void)how;
}
static void null_release(struct iouw_request *req)
{
	(void)req;
}
static const struct iouw_request_ops null_ops = { null_build, null_on_cqe, null_orphaned,
	                                          null_finish, null_release };
static struct iouw_request null_request = { &null_ops, IOUW_NO_DEADLINE };

START_TEST(test_waiters_never_produce_wake_user_data)
{
	const uint32_t gens[] = { 0, 1, IOUW_WAITER_GENERATION_MASK - 1,
		                  IOUW_WAITER_GENERATION_MASK };
	const uint32_t idx[] = { 0, 1, IOUW_WAITERS_MAX_CAPACITY - 1 };
	struct iouw_waiters *w;

	/* Every id any allowed table can form, op and cancel form alike. */
	for (size_t i = 0; i < 3; i++) {
		for (size_t g = 0; g < 4; g++) {
			iouw_waiter_id id = iouw_waiter_id_new(idx[i], gens[g]);

			ck_assert_uint_ne(iouw_waiter_id_user_data(id), IOUW_WAKE_USER_DATA);
			ck_assert_uint_ne(iouw_waiter_id_cancel_user_data(id), IOUW_WAKE_USER_DATA);
		}
	}
	ck_assert_uint_lt((uint64_t)IOUW_WAITERS_MAX_CAPACITY, UINT64_C(0xffffffff));

	/* A table of the largest capacity, filled, with every slot at the
	 * generation just before the wrap: no id is the wake user_data. Every
	 * slot is checked in plain C and each kind of failure asserted once
	 * with a count and the first slot (2^20 slots: a ck_assert per slot
	 * made this test take 9-16 s). */
	w = new_table(IOUW_WAITERS_MAX_CAPACITY);
	{
		uint32_t bad_gen = 0, bad_index = 0, bad_ud = 0;
		uint32_t first_gen = 0, first_index = 0, first_ud = 0;

		for (uint32_t i = 0; i < IOUW_WAITERS_MAX_CAPACITY; i++)
			if (iouw_waiters_set_generation(w, i, IOUW_WAITER_GENERATION_MASK) != 0 &&
			    bad_gen++ == 0)
				first_gen = i;
		ck_assert_msg(bad_gen == 0, "set_generation failed for %u slots, first %u", bad_gen,
		              first_gen);
		for (uint32_t i = 0; i < IOUW_WAITERS_MAX_CAPACITY; i++) {
			iouw_waiter_id id = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);

			if (iouw_waiter_id_index(id) != i && bad_index++ == 0)
				first_index = i;
			if ((iouw_waiter_id_user_data(id) == IOUW_WAKE_USER_DATA ||
			     iouw_waiter_id_cancel_user_data(id) == IOUW_WAKE_USER_DATA) &&
			    bad_ud++ == 0)
				first_ud = i;
		}
		ck_assert_msg(bad_index == 0, "%u inserts got another slot, first the %uth",
		              bad_index, first_index);
		ck_assert_msg(bad_ud == 0, "%u ids equal the wake user_data, first slot %u", bad_ud,
		              first_ud);
	}
	ck_assert(iouw_waiters_is_full(w));
	iouw_waiters_assert_consistent(w);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_capacity_limits)
{
	struct iouw_waiters *w = NULL;

	ck_assert_int_eq(iouw_waiters_new(IOUW_WAITERS_MAX_CAPACITY + 1, &w), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(iouw_waiters_new(UINT32_MAX, &w), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(iouw_waiters_new(4, NULL), -EINVAL);

	w = new_table(0);
	ck_assert(iouw_waiters_is_empty(w));
	ck_assert(iouw_waiters_is_full(w));
	ck_assert(!iouw_waiters_cancel(w, iouw_waiter_id_new(0, 0)));
	iouw_waiters_assert_consistent(w);
	iouw_waiters_free(w);
	iouw_waiters_free(NULL);
}
END_TEST

START_TEST(test_waiters_capacity_zero_insert_panics)
{
	struct iouw_waiters *w = new_table(0);

	iouw_test_expect_invariant("waiters should not exceed configured capacity");
	(void)iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
}
END_TEST

/* Every stale id of a slot must be rejected by every tolerant call. */
static void assert_stale(struct iouw_waiters *w, iouw_waiter_id stale)
{
	enum iouw_waiter_state st;
	struct iouw_completion_outcome out;

	ck_assert(!iouw_waiters_cancel(w, stale));
	ck_assert(!iouw_waiters_is_in_flight(w, stale));
	ck_assert_int_eq(iouw_waiters_state(w, stale, &st, NULL), -ENOENT);
	iouw_waiters_on_completion(w, iouw_waiter_id_cancel_user_data(stale), 0, &out);
	ck_assert_int_eq(out.kind, IOUW_COMPLETION_CANCEL);
	ck_assert(out.stale);
}

START_TEST(test_waiters_generation_wrap_keeps_rejecting_stale_ids)
{
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id ids[5];

	/* Skip ahead to just before the 2^31 wrap, then reuse across it. */
	ck_assert_int_eq(iouw_waiters_set_generation(w, 0, IOUW_WAITER_GENERATION_MASK - 2), 0);
	for (int i = 0; i < 5; i++) {
		ids[i] = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
		ck_assert(iouw_waiters_is_in_flight(w, ids[i]) == false);
		ck_assert(iouw_waiters_cancel(w, ids[i]));
		for (int j = 0; j < i; j++)
			assert_stale(w, ids[j]);
		/* The stale probes left the live occupant alone. */
		ck_assert_int_eq(state_of(w, ids[i]), IOUW_WAITER_CANCEL_REQUESTED);
		remove_and_release(w, ids[i]);
	}
	ck_assert_uint_eq(iouw_waiter_id_generation(ids[2]), IOUW_WAITER_GENERATION_MASK);
	ck_assert_uint_eq(iouw_waiter_id_generation(ids[3]), 0);
	ck_assert_uint_eq(iouw_waiter_id_generation(ids[4]), 1);

	/* And a real run of reuses, each checking its predecessor (plain C
	 * per iteration, one assertion naming the first failing one). */
	for (uint32_t i = 0; i < (1u << 16); i++) {
		iouw_waiter_id id = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
		struct iouw_stage_outcome so;
		struct iouw_completion_outcome co;
		const char *bad = NULL;

		if (iouw_waiter_id_eq(id, ids[4]))
			bad = "the new id equals its predecessor";
		else if (iouw_waiters_cancel(w, ids[4]))
			bad = "the predecessor's stale id was cancelled";
		iouw_waiters_stage(w, id, &so);
		if (!bad && so.kind != IOUW_STAGE_SUBMIT)
			bad = "stage did not submit";
		iouw_waiters_on_completion(w, iouw_waiter_id_user_data(id), 0, &co);
		if (!bad && co.kind != IOUW_COMPLETION_COMPLETE)
			bad = "the op CQE did not complete";
		if (bad)
			ck_abort_msg("reuse %u: %s", i, bad);
		ids[4] = id;
	}
	ck_assert_uint_eq(iouw_waiter_id_generation(ids[4]), 1u + (1u << 16));
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_set_generation_errors)
{
	struct iouw_waiters *w = new_table(2);
	iouw_waiter_id id;

	ck_assert_int_eq(iouw_waiters_set_generation(w, 2, 0), -ERANGE);
	id = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	ck_assert_int_eq(iouw_waiters_set_generation(w, iouw_waiter_id_index(id), 9), -EBUSY);
	ck_assert_int_eq(iouw_waiters_set_generation(w, 1, 9), 0);
	id = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_waiter_id_index(id), 1);
	ck_assert_uint_eq(iouw_waiter_id_generation(id), 9);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_slot_reuse_order_is_lifo)
{
	struct iouw_waiters *w = new_table(4);
	iouw_waiter_id a, b, c, d;
	struct iouw_waiter_info info;

	a = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	b = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	c = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_waiter_id_index(a), 0);
	ck_assert_uint_eq(iouw_waiter_id_index(b), 1);
	ck_assert_uint_eq(iouw_waiter_id_index(c), 2);
	remove_and_release(w, a);
	remove_and_release(w, c);
	/* Last freed (2) first, then 0, then the never-used 3. */
	d = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_waiter_id_index(d), 2);
	ck_assert_uint_eq(iouw_waiter_id_generation(d), 1);
	d = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_waiter_id_index(d), 0);
	d = iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	ck_assert_uint_eq(iouw_waiter_id_index(d), 3);
	ck_assert_uint_eq(iouw_waiter_id_generation(d), 0);
	ck_assert_int_eq(iouw_waiters_slot(w, 3, &info), 0);
	ck_assert(info.occupied);
	ck_assert_int_eq(iouw_waiters_slot(w, 4, &info), -ERANGE);
	iouw_waiters_assert_consistent(w);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_submit_sqe_and_requeue)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(2);
	struct fake_request *req = fake_request_new_len(&log, 5);
	iouw_waiter_id id = iouw_waiters_insert(w, &req->base, 3);
	struct iouw_stage_outcome so;
	struct iouw_completion_outcome co;

	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_SUBMIT);
	ck_assert_uint_eq(so.sqe.opcode, IORING_OP_SEND);
	ck_assert_int_eq(so.sqe.fd, req->fd);
	ck_assert_uint_eq(so.sqe.len, 5);
	ck_assert_uint_eq(so.sqe.user_data, iouw_waiter_id_user_data(id));

	/* Partial progress: requeue, in flight cleared, deadline kept. */
	iouw_waiters_on_completion(w, iouw_waiter_id_user_data(id), 2, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	ck_assert(iouw_waiter_id_eq(co.id, id));
	ck_assert(!iouw_waiters_is_in_flight(w, id));
	ck_assert_int_eq(log.last_cancel_requested, false);

	iouw_waiters_stage(w, id, &so);
	ck_assert_uint_eq(so.sqe.len, 3);
	ck_assert(iouw_waiters_cancel(w, id));
	/* Retry while cancel-requested: the request is told so, and the
	 * waiter stays tracked (fake never times out on its own). */
	iouw_waiters_on_completion(w, iouw_waiter_id_user_data(id), -EAGAIN, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	ck_assert_int_eq(log.last_cancel_requested, true);
	/* Staged again while cancel-requested: local timeout, request handed
	 * back to be finished. */
	iouw_waiters_stage(w, id, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_TIMEOUT);
	ck_assert_ptr_eq(so.request, &req->base);
	so.request->ops->finish(so.request, IOUW_FINISH_TIMEOUT);
	ck_assert_int_eq(log.finished_how, IOUW_FINISH_TIMEOUT);
	ck_assert(iouw_waiters_is_empty(w));
	iouw_waiters_free(w);
}
END_TEST

/* admit() on one table and insert() + stage() on another, fed the same
 * requests (every third orphaned before its first SQE), with slots freed and
 * reused between rounds: same ids, kinds, SQEs, states and lengths; an
 * orphan comes back from admit() unreleased. */
START_TEST(test_waiters_admit_matches_insert_then_stage)
{
	struct fake_log la = { 0 }, lb = { 0 };
	struct iouw_waiters *a = new_table(3), *b = new_table(3);
	iouw_waiter_id live[3];
	uint64_t ticks[3];
	size_t nlive = 0;

	for (unsigned i = 0; i < 12; i++) {
		bool orphan = i % 3 == 1;
		struct fake_request *ra = fake_request_new_len(&la, i), *rb = fake_request_new_len(&lb, i);
		struct io_uring_sqe sqe;
		struct iouw_stage_outcome so;
		iouw_waiter_id ida, idb;
		enum iouw_stage_kind kind;
		enum iouw_waiter_state sa, sb;
		uint64_t ta, tb;

		ra->orphaned = rb->orphaned = orphan;
		memset(&sqe, 0xa5, sizeof(sqe)); /* admit() zeroes it */
		kind = iouw_waiters_admit(a, &ra->base, 40 + i, &sqe, &ida);
		idb = iouw_waiters_insert(b, &rb->base, 40 + i);
		iouw_waiters_stage(b, idb, &so);
		ck_assert(iouw_waiter_id_eq(ida, idb));
		ck_assert_int_eq(kind, so.kind);
		if (orphan) {
			ck_assert_int_eq(kind, IOUW_STAGE_ORPHANED);
			/* The table let go; the caller releases. */
			ck_assert_int_eq(la.releases + 1, lb.releases);
			ck_assert_int_eq(iouw_waiters_state(a, ida, &sa, NULL), -ENOENT);
			ra->base.ops->release(&ra->base);
		} else {
			ck_assert_int_eq(kind, IOUW_STAGE_SUBMIT);
			/* Same SQE but for the fd (each fake has its own). */
			ck_assert_int_eq(sqe.fd, ra->fd);
			ck_assert_int_eq(so.sqe.fd, rb->fd);
			so.sqe.fd = sqe.fd;
			ck_assert_mem_eq(&sqe, &so.sqe, sizeof(sqe));
			ck_assert(iouw_waiters_is_in_flight(a, ida) && iouw_waiters_is_in_flight(b, idb));
			ck_assert_int_eq(iouw_waiters_state(a, ida, &sa, &ta), 0);
			ck_assert_int_eq(iouw_waiters_state(b, idb, &sb, &tb), 0);
			ck_assert(sa == sb && ta == tb && ta == 40 + i);
			live[nlive] = ida;
			ticks[nlive++] = 40 + i;
		}
		ck_assert_uint_eq(iouw_waiters_len(a), iouw_waiters_len(b));
		iouw_waiters_assert_consistent(a);
		if (nlive == 2) {
			/* Free the slots again: the next round reuses them with
			 * bumped generations, on both tables alike. */
			for (size_t k = 0; k < nlive; k++) {
				complete_expect(a, iouw_waiter_id_user_data(live[k]), -EIO, ticks[k]);
				complete_expect(b, iouw_waiter_id_user_data(live[k]), -EIO, ticks[k]);
			}
			nlive = 0;
		}
	}
	ck_assert_int_eq(la.builds, lb.builds);
	ck_assert_int_eq(la.finishes, lb.finishes);
	ck_assert_int_eq(la.releases, lb.releases);
	iouw_waiters_free(a);
	iouw_waiters_free(b);
}
END_TEST

/* complete() reports what on_completion() does, through its own outputs:
 * the kind, and the request and deadline for COMPLETE only. */
START_TEST(test_waiters_complete_matches_on_completion)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(2);
	struct fake_request *req = fake_request_new_len(&log, 4);
	iouw_waiter_id id = iouw_waiters_insert(w, &req->base, 9), other;
	struct iouw_request *got = (struct iouw_request *)0x1;
	uint64_t tick = 77;

	silent_table(w);
	stage_submit(w, id);
	/* Partial progress: REQUEUE, outputs untouched. */
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_user_data(id), 1, &got, &tick),
	                 IOUW_COMPLETION_REQUEUE);
	ck_assert_ptr_eq(got, (struct iouw_request *)0x1);
	ck_assert_uint_eq(tick, 77);
	ck_assert(!iouw_waiters_is_in_flight(w, id));
	/* Cancel CQEs for the live waiter, expected or not: CANCEL. */
	stage_submit(w, id);
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_cancel_user_data(id), -ENOENT,
	                                       &got, &tick),
	                 IOUW_COMPLETION_CANCEL);
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_cancel_user_data(id), -EIO, &got,
	                                       &tick),
	                 IOUW_COMPLETION_CANCEL);
	ck_assert_uint_eq(iouw_waiters_unexpected_cancel_results(w), 1);
	ck_assert_ptr_eq(got, (struct iouw_request *)0x1);
	/* Terminal: COMPLETE with the request and its deadline. */
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_user_data(id), 3, &got, &tick),
	                 IOUW_COMPLETION_COMPLETE);
	ck_assert_ptr_eq(got, &req->base);
	ck_assert_uint_eq(tick, 9);
	fake_request_finish(got);
	/* A late cancel CQE for the freed slot, then for a reused one: stale,
	 * CANCEL, the new occupant untouched. */
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_cancel_user_data(id), 0, &got,
	                                       &tick),
	                 IOUW_COMPLETION_CANCEL);
	other = insert_sync(w, &log, 5);
	ck_assert_uint_eq(iouw_waiter_id_index(other), iouw_waiter_id_index(id));
	stage_submit(w, other);
	ck_assert(iouw_waiters_cancel(w, other));
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_cancel_user_data(id), 0, &got,
	                                       &tick),
	                 IOUW_COMPLETION_CANCEL);
	ck_assert(iouw_waiters_is_in_flight(w, other));
	/* Cancel-requested then terminal: no deadline to drop. */
	ck_assert_int_eq(iouw_waiters_complete(w, iouw_waiter_id_user_data(other), -ECANCELED, &got,
	                                       &tick),
	                 IOUW_COMPLETION_COMPLETE);
	ck_assert_uint_eq(tick, IOUW_NO_TICK);
	fake_request_finish(got);
	ck_assert_int_eq(log.finishes, 2);
	ck_assert(iouw_waiters_is_empty(w));
	iouw_waiters_free(w);
}
END_TEST

/* stage_into() writes its outputs for TIMEOUT and ORPHANED only. */
START_TEST(test_waiters_stage_into_outputs)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(2);
	struct fake_request *orphan = fake_request_new(&log);
	iouw_waiter_id a = insert_sync(w, &log, 3);
	iouw_waiter_id b = iouw_waiters_insert(w, &orphan->base, 8);
	struct iouw_request *got = (struct iouw_request *)0x1;
	uint64_t tick = 77;
	struct io_uring_sqe sqe;

	ck_assert_int_eq(iouw_waiters_stage_into(w, a, &sqe, &got, &tick), IOUW_STAGE_SUBMIT);
	ck_assert_ptr_eq(got, (struct iouw_request *)0x1);
	ck_assert_uint_eq(tick, 77);
	ck_assert_uint_eq(sqe.user_data, iouw_waiter_id_user_data(a));
	orphan->orphaned = true;
	ck_assert_int_eq(iouw_waiters_stage_into(w, b, &sqe, &got, &tick), IOUW_STAGE_ORPHANED);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(tick, 8);
	ck_assert_int_eq(log.releases, 1);
	complete_expect(w, iouw_waiter_id_user_data(a), 0, 3);
	a = insert_sync(w, &log, 6);
	ck_assert(iouw_waiters_cancel(w, a));
	tick = 77;
	ck_assert_int_eq(iouw_waiters_stage_into(w, a, &sqe, &got, &tick), IOUW_STAGE_TIMEOUT);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(tick, IOUW_NO_TICK);
	got->ops->finish(got, IOUW_FINISH_TIMEOUT);
	ck_assert(iouw_waiters_is_empty(w));
	iouw_waiters_free(w);
}
END_TEST

/* A request without an is_orphaned op is never orphaned: staged and
 * requeued even with `orphaned` set, where an orphanable twin is retired. */
START_TEST(test_waiters_never_orphaned_requests_skip_the_check)
{
	struct fake_log log = { 0 }, twin = { 0 };
	struct iouw_waiters *w = new_table(2);
	struct fake_request *keep = fake_request_new_len(&log, 4);
	struct fake_request *gone = fake_request_new_len(&twin, 4);
	struct iouw_completion_outcome co;
	struct iouw_stage_outcome so;
	iouw_waiter_id k, g;

	fake_request_never_orphaned(keep);
	keep->orphaned = gone->orphaned = true;
	ck_assert(!iouw_request_is_orphaned(&keep->base));
	ck_assert(iouw_request_is_orphaned(&gone->base));
	k = iouw_waiters_insert(w, &keep->base, IOUW_NO_TICK);
	g = iouw_waiters_insert(w, &gone->base, IOUW_NO_TICK);
	stage_submit(w, k);
	iouw_waiters_stage(w, g, &so);
	ck_assert_int_eq(so.kind, IOUW_STAGE_ORPHANED);
	ck_assert_int_eq(twin.releases, 1);
	/* Partial progress keeps it going (an orphan would complete here). */
	iouw_waiters_on_completion(w, iouw_waiter_id_user_data(k), 1, &co);
	ck_assert_int_eq(co.kind, IOUW_COMPLETION_REQUEUE);
	stage_submit(w, k);
	complete_expect(w, iouw_waiter_id_user_data(k), 3, IOUW_NO_TICK);
	ck_assert_int_eq(log.finishes, 1);
	ck_assert_int_eq(log.releases, 0);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_stale_cancel_cqe_never_touches_new_occupant)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	iouw_waiter_id old, fresh;
	struct iouw_completion_outcome co;

	old = insert_sync(w, &log, 4);
	stage_submit(w, old);
	ck_assert(iouw_waiters_cancel(w, old));
	/* Op CQE beats the cancel CQE and frees the slot... */
	complete_expect(w, iouw_waiter_id_user_data(old), 0, IOUW_NO_TICK);
	/* ...which is reused and submitted before the cancel CQE arrives. */
	fresh = insert_sync(w, &log, 8);
	stage_submit(w, fresh);
	for (int32_t res = 0; res >= -EINVAL; res--) {
		/* Every result, -EINVAL included, is dropped as stale (seed). */
		iouw_waiters_on_completion(w, iouw_waiter_id_cancel_user_data(old), res, &co);
		ck_assert_int_eq(co.kind, IOUW_COMPLETION_CANCEL);
		ck_assert(co.stale);
	}
	ck_assert_int_eq(state_of(w, fresh), IOUW_WAITER_ACTIVE);
	ck_assert(iouw_waiters_is_in_flight(w, fresh));
	ck_assert_uint_eq(iouw_waiters_unexpected_cancel_results(w), 0);
	complete_expect(w, iouw_waiter_id_user_data(fresh), 0, 8);
	iouw_waiters_free(w);
}
END_TEST

START_TEST(test_waiters_report_stuck_cancel_requested)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(3);
	iouw_waiter_id a = insert_sync(w, &log, 1);
	iouw_waiter_id b = insert_sync(w, &log, 2);
	iouw_waiter_id c = insert_sync(w, &log, 3);
	iouw_waiter_id got[3];
	uint64_t tick = 0;
	enum iouw_waiter_state st;

	(void)b;
	ck_assert_uint_eq(iouw_waiters_cancel_requested(w, got, 3), 0);
	stage_submit(w, a);
	ck_assert(iouw_waiters_cancel(w, a));
	ck_assert(iouw_waiters_cancel(w, c));
	/* A cancel answered -EALREADY leaves the waiter stuck until its op CQE. */
	cancel_cqe_expect(w, iouw_waiter_id_cancel_user_data(a), -EALREADY);
	ck_assert_uint_eq(iouw_waiters_cancel_requested(w, got, 1), 2);
	ck_assert(iouw_waiter_id_eq(got[0], a));
	ck_assert_uint_eq(iouw_waiters_cancel_requested(w, got, 3), 2);
	ck_assert(iouw_waiter_id_eq(got[1], c));
	ck_assert_int_eq(iouw_waiters_state(w, a, &st, &tick), 0);
	ck_assert_uint_eq(tick, IOUW_NO_TICK);
	ck_assert_int_eq(iouw_waiters_state(w, b, &st, &tick), 0);
	ck_assert_uint_eq(tick, 2);
	iouw_waiters_free(w);
	ck_assert_int_eq(log.releases, 3);
}
END_TEST

START_TEST(test_waiters_free_releases_tracked_requests_once)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(4);
	iouw_waiter_id id;

	(void)insert_sync(w, &log, 1);
	id = insert_sync(w, &log, 2);
	stage_submit(w, id);
	(void)insert_sync(w, &log, IOUW_NO_TICK);
	iouw_waiters_free(w);
	ck_assert_int_eq(log.releases, 3);
	ck_assert_int_eq(log.finishes, 0);
}
END_TEST

START_TEST(test_waiters_op_cqe_not_in_flight_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	struct iouw_completion_outcome out;
	iouw_waiter_id id = insert_sync(w, &log, 1);

	iouw_test_expect_invariant("operation CQE for waiter with no op in flight");
	iouw_waiters_on_completion(w, iouw_waiter_id_user_data(id), 0, &out);
}
END_TEST

START_TEST(test_waiters_stage_in_flight_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	struct iouw_stage_outcome out;
	iouw_waiter_id id = insert_sync(w, &log, 1);

	stage_submit(w, id);
	iouw_test_expect_invariant("stage called for waiter with op already in flight");
	iouw_waiters_stage(w, id, &out);
}
END_TEST

START_TEST(test_waiters_stage_stale_id_panics)
{
	struct fake_log log = { 0 };
	struct iouw_waiters *w = new_table(1);
	struct iouw_stage_outcome out;
	iouw_waiter_id id = insert_sync(w, &log, 1);

	remove_and_release(w, id);
	(void)insert_sync(w, &log, 1);
	iouw_test_expect_invariant("stage called with stale waiter id");
	iouw_waiters_stage(w, id, &out);
}
END_TEST

START_TEST(test_waiters_op_cqe_out_of_range_panics)
{
	struct iouw_waiters *w = new_table(1);
	struct iouw_completion_outcome out;

	iouw_test_expect_invariant("operation CQE for untracked waiter");
	iouw_waiters_on_completion(w, iouw_waiter_id_user_data(iouw_waiter_id_new(9, 0)), 0, &out);
}
END_TEST

START_TEST(test_waiters_expect_invariant_rejects_other_invariant)
{
	/* The harness of these tests must itself be able to fail: a panic
	 * naming a different invariant is not accepted. */
	struct iouw_waiters *w = new_table(1);

	iouw_test_expect_invariant("stage called with stale waiter id");
	(void)iouw_waiters_cancel(w, iouw_waiter_id_new(0, 0));
	(void)iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
	(void)iouw_waiters_insert(w, &null_request, IOUW_NO_TICK);
}
END_TEST

static Suite *waiter_suite(void)
{
	Suite *s = suite_create("waiter");
	TCase *seed = tcase_create("seed");
	TCase *more = tcase_create("beyond_seed");
	TCase *panics = tcase_create("panics");

	iouw_test_add_fd_fixture(seed);
	iouw_test_add_fd_fixture(more);
	tcase_set_timeout(more, 60);

	tcase_add_test(seed, test_waiter_id_encoding_and_generation_wrap);
	tcase_add_test(seed, test_waiters_lifecycle_and_slot_reuse);
	tcase_add_test(seed, test_waiters_cancel_paths);
	tcase_add_test(seed, test_waiters_track_in_flight_state);
	tcase_add_test(seed, test_waiters_reject_stale_in_flight_queries);
	tcase_add_test(seed, test_waiters_stage_panics_for_out_of_range_and_empty_slots);
	tcase_add_test(seed, test_waiters_cancel_and_in_flight_reject_out_of_range_and_empty_slots);
	tcase_add_test(seed, test_waiters_cancel_stage_only_when_in_flight);
	tcase_add_test(seed, test_waiters_stage_orphans_closed_requests);
	tcase_add_test(seed, test_waiters_orphan_closed_requests_after_nonterminal_completion);
	tcase_add_test(seed, test_waiters_accept_expected_cancel_cqe_results);
	tcase_add_test(seed, test_waiters_tolerate_unexpected_negative_cancel_result);
	tcase_add_test(seed, test_waiters_stale_ids_cannot_remove_reused_slots);
	tcase_add_test(seed, test_waiters_insert_and_cancel_invariants);

	tcase_add_test_raise_signal(panics, test_waiters_lifecycle_and_slot_reuse_stale_op_cqe_panics,
	                            SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_cancel_paths_missing_op_cqe_panics, SIGABRT);
	tcase_add_test_raise_signal(
		panics, test_waiters_stage_panics_for_out_of_range_and_empty_slots_out_of_range_panics,
		SIGABRT);
	tcase_add_test_raise_signal(
		panics, test_waiters_stage_panics_for_out_of_range_and_empty_slots_empty_slot_panics,
		SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_cancel_cqe_einval_panics, SIGABRT);
	tcase_add_test_raise_signal(
		panics, test_waiters_stale_ids_cannot_remove_reused_slots_stale_remove_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_insert_and_cancel_invariants_overflow_panics,
	                            SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_capacity_zero_insert_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_op_cqe_not_in_flight_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_stage_in_flight_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_stage_stale_id_panics, SIGABRT);
	tcase_add_test_raise_signal(panics, test_waiters_op_cqe_out_of_range_panics, SIGABRT);
	/* Must end with exit status 3, not SIGABRT: another invariant fired. */
	tcase_add_exit_test(panics, test_waiters_expect_invariant_rejects_other_invariant, 3);

	tcase_add_test(more, test_waiters_never_produce_wake_user_data);
	tcase_add_test(more, test_waiters_capacity_limits);
	tcase_add_test(more, test_waiters_generation_wrap_keeps_rejecting_stale_ids);
	tcase_add_test(more, test_waiters_set_generation_errors);
	tcase_add_test(more, test_waiters_slot_reuse_order_is_lifo);
	tcase_add_test(more, test_waiters_submit_sqe_and_requeue);
	tcase_add_test(more, test_waiters_admit_matches_insert_then_stage);
	tcase_add_test(more, test_waiters_complete_matches_on_completion);
	tcase_add_test(more, test_waiters_stage_into_outputs);
	tcase_add_test(more, test_waiters_never_orphaned_requests_skip_the_check);
	tcase_add_test(more, test_waiters_stale_cancel_cqe_never_touches_new_occupant);
	tcase_add_test(more, test_waiters_report_stuck_cancel_requested);
	tcase_add_test(more, test_waiters_free_releases_tracked_requests_once);

	suite_add_tcase(s, seed);
	suite_add_tcase(s, panics);
	suite_add_tcase(s, more);
	return s;
}

int main(void)
{
	return iouw_test_run_suite(waiter_suite());
}
