/* tests/test_loop.c: the event-loop suite (core/loop.h) on the in-memory
 * backend with a virtual clock, so every ordering is exact and every test is
 * deterministic. Real-ring loop tests live in tests/test_loop_uring.c.
 *
 * Twins of the original's loop tests (docs/testing.md §9.6):
 *   iouring_loop_rounds_ring_size_up_to_power_of_two      same name (config)
 *   submit_and_wait_non_etime_error_is_not_misclassified  same name
 *   fill_submission_queue_returns_true_when_{cancel,ready,fresh}_staging_fills_sq
 *                                                         three tests, same names
 *   fill_submission_queue_skips_cancel_for_ready_queue_timeout   same name
 *   fill_submission_queue_expired_deadline_completes_immediately same name
 *   timeout_slot_reuse_does_not_cancel_new_waiter_early   same name
 *   stage_request_panics_on_stale_ready_queue_entry       same name (SIGABRT)
 *   advance_timeouts_ignores_stale_entry_after_slot_reuse same name
 *   cancel_completion_returns_saved_op_result             same name
 *   staged_cancel_cqe_is_ignored_after_timeout_completion same name
 *   timeout                                               test_loop_timeout
 *   shutdown_no_timeout                                   same name
 *   shutdown_no_timeout_continues_deadline_processing     same name
 *   shutdown_timeout                                      same name
 *   shutdown_timeout_preserves_deadline_result            same name
 *   shutdown_timeout_abandons_timed_op_after_cutoff       same name
 *   deadline_timeout_ensure_enough_capacity               same name
 *   shutdown_no_timeout_processes_ready_queue             same name
 *   timeout_fires_while_request_in_ready_queue            same name
 *   ready_queue_timeout_skips_cancel_staging              same name
 *   drain_breaks_after_local_ready_queue_timeout_finishes_last_waiter same name
 *   fill_submission_queue_completes_cancelled_ready_queue_entry_locally same name
 *   fill_submission_queue_orphans_closed_request_before_first_submit    same name
 *   fill_submission_queue_orphans_closed_ready_queue_entry_locally      same name
 *   new_ring_iopoll_builder_path_is_exercised, single_issuer,
 *   wake_path_progress_scenarios                          tests/test_loop_uring.c
 *   handle_recv_panics_on_invalid_buffer_bounds, exact_recv_partial_progress
 *                                                         tests/test_loop_uring.c
 *                                                         (real recv requests)
 * Beyond: iouw_loop_cancel() in its three modes and the read-only views
 * (docs/loop.md §6.11), the clock is never read without an active deadline, the idle
 * catch-up, the wake poll re-arm, overflowed CQEs all reaped, and
 * iouw_loop_assert_consistent() after every step.
 *
 * Requests are fake_request.h fakes: FSYNC-like (remaining 0) complete on
 * any CQE; SEND-like (remaining > 0) make partial progress. The scripted
 * "kernel" (auto_kernel) answers FSYNC at once, never answers a SEND until it
 * is cancelled, and answers a cancel with 0 then the op with -ECANCELED.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "clock.h"
#include "fake_request.h"
#include "loop.h"
#include "skernel.h"
#include "support.h"

#define MS (UINT64_C(1000000))
#define START_NS (UINT64_C(1000) * MS)

struct env {
	struct iouw_virtual_clock vc;
	struct iouw_backend *b;
	struct iouw_loop *loop;
	struct fake_log log;
	bool auto_kernel;
	size_t answered; /* submitted-log entries the auto kernel has seen */
	int waits_timed;
	int hooks; /* wait hook calls: the loop blocked */
};

/* Wait hook: a timed wait lets the virtual clock run to its bound; the
 * auto kernel answers what was submitted. */
static int env_wait_hook(void *ctx, unsigned wait_nr, int64_t timeout_ns);

static void env_init_cfg(struct env *e, const struct iouw_loop_config *cfg, unsigned sq)
{
	memset(e, 0, sizeof(*e));
	e->vc.now_ns = START_NS;
	ck_assert_int_eq(iouw_skernel_new_mem(sq, 4 * cfg->ring_size + 8, &e->b), 0);
	iouw_skernel_set_wait_hook(e->b, env_wait_hook, e);
	ck_assert_int_eq(iouw_loop_new(cfg, e->b, iouw_virtual_clock_as_clock(&e->vc), &e->loop), 0);
	iouw_waiters_set_warn(iouw_loop_waiters(e->loop), NULL, NULL);
	/* First turn arms the wake poll; start every test from there. */
	ck_assert_int_eq(iouw_loop_turn(e->loop, false), 0);
	iouw_skernel_clear_submitted(e->b);
}

static void env_init(struct env *e, uint32_t ring, unsigned sq, uint64_t budget_ns)
{
	struct iouw_loop_config cfg;

	iouw_loop_config_init(&cfg);
	cfg.ring_size = ring;
	cfg.tick_ns = MS;
	cfg.max_request_timeout_ns = 10000 * MS;
	cfg.shutdown_timeout_ns = budget_ns;
	env_init_cfg(e, &cfg, sq);
}

static void env_free(struct env *e)
{
	iouw_loop_free(e->loop);
	iouw_backend_free(e->b);
}

static void check(struct env *e)
{
	iouw_loop_assert_consistent(e->loop);
}

/* Copy the SQEs submitted since the last call, without the wake poll. */
static size_t take_sqes(struct env *e, struct io_uring_sqe *out, size_t max)
{
	const struct io_uring_sqe *sqes;
	size_t n = iouw_skernel_submitted(e->b, &sqes), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (sqes[i].user_data == IOUW_WAKE_USER_DATA)
			continue;
		ck_assert_uint_lt(k, max);
		out[k++] = sqes[i];
	}
	iouw_skernel_clear_submitted(e->b);
	e->answered = 0;
	return k;
}

static struct fake_request *sync_req(struct env *e, uint64_t deadline)
{
	struct fake_request *f = fake_request_new(&e->log);

	f->base.deadline_ns = deadline;
	return f;
}

static struct fake_request *send_req(struct env *e, uint32_t len, uint64_t deadline)
{
	struct fake_request *f = fake_request_new_len(&e->log, len);

	f->base.deadline_ns = deadline;
	return f;
}

static void submit(struct env *e, struct fake_request *f)
{
	ck_assert_int_eq(iouw_loop_submit(e->loop, &f->base), 0);
}

static void post(struct env *e, uint64_t ud, int32_t res)
{
	ck_assert_int_eq(iouw_skernel_post(e->b, ud, res, 0), 0);
}

/* One non-blocking turn. */
static void turn(struct env *e)
{
	ck_assert_int_eq(iouw_loop_turn(e->loop, false), 0);
	check(e);
}

static int env_wait_hook(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	struct env *e = ctx;
	const struct io_uring_sqe *sqes;
	size_t n;
	bool posted = false;

	(void)wait_nr;
	e->hooks++;
	if (e->auto_kernel) {
		n = iouw_skernel_submitted(e->b, &sqes);
		for (size_t i = e->answered; i < n; i++) {
			const struct io_uring_sqe *s = &sqes[i];

			if (s->opcode == IORING_OP_FSYNC) {
				post(e, s->user_data, 0);
				posted = true;
			} else if (s->opcode == IORING_OP_ASYNC_CANCEL) {
				post(e, s->user_data, 0);
				post(e, s->addr, -ECANCELED);
				posted = true;
			}
			/* SEND and the wake poll: no answer until cancelled. */
		}
		e->answered = n;
	}
	if (!posted && timeout_ns >= 0) {
		iouw_virtual_clock_advance(&e->vc, (uint64_t)timeout_ns);
		e->waits_timed++;
	}
	return 0;
}

/* ---- configuration ------------------------------------------------------- */

START_TEST(test_iouring_loop_rounds_ring_size_up_to_power_of_two)
{
	struct iouw_loop_config cfg, out;
	const uint32_t in[] = { 1, 2, 3, 100, 128, 129, 32768 };
	const uint32_t want[] = { 1, 2, 4, 128, 128, 256, 32768 };

	iouw_loop_config_init(&cfg);
	ck_assert_uint_eq(cfg.ring_size, 128);
	ck_assert_uint_eq(cfg.tick_ns, 5 * MS);
	ck_assert_uint_eq(cfg.max_request_timeout_ns, 60000 * MS);
	ck_assert_uint_eq(cfg.shutdown_timeout_ns, IOUW_NO_DEADLINE);
	ck_assert(!cfg.io_poll && !cfg.single_issuer && !cfg.coop_taskrun);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		cfg.ring_size = in[i];
		ck_assert_int_eq(iouw_loop_config_normalize(&cfg, &out), 0);
		ck_assert_uint_eq(out.ring_size, want[i]);
	}
	cfg.ring_size = 0;
	ck_assert_int_eq(iouw_loop_config_normalize(&cfg, &out), -EINVAL);
	cfg.ring_size = 32769;
	ck_assert_int_eq(iouw_loop_config_normalize(&cfg, &out), -EINVAL);
	iouw_loop_config_init(&cfg);
	cfg.tick_ns = 0;
	ck_assert_int_eq(iouw_loop_config_normalize(&cfg, &out), -EINVAL);
	iouw_loop_config_init(&cfg);
	cfg.max_request_timeout_ns = 0;
	ck_assert_int_eq(iouw_loop_config_normalize(&cfg, &out), -EINVAL);
	ck_assert_int_eq(iouw_loop_config_normalize(NULL, &out), -EINVAL);

	/* The loop itself takes the rounded size as its capacity. */
	{
		struct env e;

		iouw_loop_config_init(&cfg);
		cfg.ring_size = 5;
		env_init_cfg(&e, &cfg, 8);
		ck_assert_uint_eq(iouw_loop_config(e.loop)->ring_size, 8);
		ck_assert_uint_eq(iouw_waiters_capacity(iouw_loop_waiters(e.loop)), 8);
		env_free(&e);
	}
}
END_TEST

START_TEST(test_loop_new_rejects_bad_arguments)
{
	struct iouw_loop_config cfg;
	struct iouw_virtual_clock vc = { 0 };
	struct iouw_backend *b;
	struct iouw_loop *loop = NULL;

	ck_assert_int_eq(iouw_skernel_new_mem(4, 4, &b), 0);
	iouw_loop_config_init(&cfg);
	cfg.tick_ns = 0;
	ck_assert_int_eq(iouw_loop_new(&cfg, b, iouw_virtual_clock_as_clock(&vc), &loop), -EINVAL);
	iouw_loop_config_init(&cfg);
	ck_assert_int_eq(iouw_loop_new(&cfg, NULL, iouw_virtual_clock_as_clock(&vc), &loop),
	                 -EINVAL);
	ck_assert_int_eq(iouw_loop_new(&cfg, b, iouw_virtual_clock_as_clock(&vc), NULL), -EINVAL);
	ck_assert_ptr_null(loop);
	ck_assert_int_eq(iouw_loop_new(&cfg, b, iouw_virtual_clock_as_clock(&vc), &loop), 0);
	ck_assert_int_eq(iouw_loop_submit(loop, NULL), -EINVAL);
	iouw_loop_free(loop);
	iouw_loop_free(NULL);
	iouw_backend_free(b);
}
END_TEST

START_TEST(test_submit_and_wait_non_etime_error_is_not_misclassified)
{
	struct env e;
	const int transient[] = { -ETIME, -EINTR, -EAGAIN, -EBUSY };

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	for (size_t i = 0; i < 4; i++) {
		iouw_skernel_fail_next_wait(e.b, transient[i], 1);
		ck_assert_int_eq(iouw_loop_turn(e.loop, false), 0);
	}
	iouw_skernel_fail_next_wait(e.b, -EIO, 1);
	ck_assert_int_eq(iouw_loop_turn(e.loop, false), -EIO);
	iouw_skernel_fail_next_wait(e.b, -EBADF, 1);
	ck_assert_int_eq(iouw_loop_run(e.loop), -EBADF);
	env_free(&e);
}
END_TEST

/* ---- staging order and SQ pressure ---------------------------------------- */

START_TEST(test_fill_submission_queue_returns_true_when_fresh_staging_fills_sq)
{
	struct env e;
	struct io_uring_sqe sqes[8];

	env_init(&e, 8, 2, IOUW_NO_DEADLINE);
	for (int i = 0; i < 3; i++)
		submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	ck_assert(iouw_loop_fill_sq(e.loop));
	ck_assert_uint_eq(iouw_waiters_len(iouw_loop_waiters(e.loop)), 2);
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 1);
	check(&e);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 0);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 8), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(sqes[i].opcode, IORING_OP_FSYNC);
		ck_assert_uint_eq(iouw_waiter_id_index((iouw_waiter_id){ sqes[i].user_data }),
		                  (uint32_t)i);
	}
	env_free(&e);
	ck_assert_int_eq(e.log.releases, 3);
}
END_TEST

/* Admit @n SEND-like requests with deadline @deadline, all in flight. */
static void admit_sends(struct env *e, int n, uint64_t deadline, struct io_uring_sqe *sqes)
{
	for (int i = 0; i < n; i++)
		submit(e, send_req(e, 10, deadline));
	for (int i = 0; i < n; i++)
		turn(e);
	ck_assert_uint_eq(take_sqes(e, sqes, 16), (size_t)n);
}

START_TEST(test_fill_submission_queue_returns_true_when_ready_staging_fills_sq)
{
	struct env e;
	struct io_uring_sqe sqes[16];

	env_init(&e, 8, 2, IOUW_NO_DEADLINE);
	admit_sends(&e, 3, IOUW_NO_DEADLINE, sqes);
	for (int i = 0; i < 3; i++)
		post(&e, sqes[i].user_data, -EAGAIN);
	ck_assert_uint_eq(iouw_loop_reap(e.loop), 3);
	ck_assert_uint_eq(iouw_loop_ready(e.loop, NULL, 0), 3);
	check(&e);
	ck_assert(iouw_loop_fill_sq(e.loop));
	ck_assert_uint_eq(iouw_loop_ready(e.loop, NULL, 0), 1);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_uint_eq(iouw_loop_ready(e.loop, NULL, 0), 0);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	/* Resubmitted in FIFO order. */
	{
		struct io_uring_sqe again[16];

		ck_assert_uint_eq(take_sqes(&e, again, 16), 3);
		for (int i = 0; i < 3; i++)
			ck_assert_uint_eq(again[i].user_data, sqes[i].user_data);
	}
	env_free(&e);
}
END_TEST

START_TEST(test_fill_submission_queue_returns_true_when_cancel_staging_fills_sq)
{
	struct env e;
	struct io_uring_sqe sqes[16];
	iouw_waiter_id pending[4];

	env_init(&e, 8, 2, IOUW_NO_DEADLINE);
	admit_sends(&e, 3, START_NS + 5 * MS, sqes);
	iouw_virtual_clock_advance(&e.vc, 6 * MS);
	iouw_loop_advance_timeouts(e.loop);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, pending, 4), 3);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 0);
	check(&e);
	ck_assert(iouw_loop_fill_sq(e.loop));
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 1);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	{
		struct io_uring_sqe c[16];

		ck_assert_uint_eq(take_sqes(&e, c, 16), 3);
		for (int i = 0; i < 3; i++) {
			ck_assert_uint_eq(c[i].opcode, IORING_OP_ASYNC_CANCEL);
			ck_assert_uint_eq(c[i].addr, sqes[i].user_data);
			ck_assert_uint_eq(c[i].user_data, sqes[i].user_data | IOUW_WAITER_CANCEL_TAG);
		}
	}
	env_free(&e);
}
END_TEST

START_TEST(test_fill_submission_queue_skips_cancel_for_ready_queue_timeout)
{
	struct env e;
	struct io_uring_sqe sqes[16];

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 3 * MS, sqes);
	/* Parked in the ready queue by a retry CQE... */
	post(&e, sqes[0].user_data, -EAGAIN);
	iouw_loop_reap(e.loop);
	/* ...when the deadline fires: no cancel is queued. */
	iouw_virtual_clock_advance(&e.vc, 4 * MS);
	iouw_loop_advance_timeouts(e.loop);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 0);
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 16), 0);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_fill_submission_queue_expired_deadline_completes_immediately)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct iouw_waiter_info info;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	submit(&e, sync_req(&e, START_NS - 1));
	submit(&e, sync_req(&e, START_NS)); /* deadline == now: expired too */
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(e.log.finishes, 2);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	ck_assert_int_eq(e.log.builds, 0);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	/* Never took a slot: slot 0 is still at generation 0. */
	ck_assert_int_eq(iouw_waiters_slot(iouw_loop_waiters(e.loop), 0, &info), 0);
	ck_assert_uint_eq(iouw_waiter_id_generation(info.id), 0);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	check(&e);
	env_free(&e);
}
END_TEST

/* ---- timeouts ---------------------------------------------------------------- */

START_TEST(test_loop_timeout)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	enum iouw_waiter_state st;
	iouw_waiter_id id;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 10 * MS, sqes);
	id.raw = sqes[0].user_data;
	iouw_virtual_clock_advance(&e.vc, 9 * MS);
	turn(&e);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_waiters(e.loop), id, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_ACTIVE);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	iouw_virtual_clock_advance(&e.vc, 1 * MS);
	turn(&e);
	/* Fired while in flight: exactly one cancel SQE aimed at the op. */
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	ck_assert_uint_eq(sqes[0].opcode, IORING_OP_ASYNC_CANCEL);
	ck_assert_uint_eq(sqes[0].addr, iouw_waiter_id_user_data(id));
	ck_assert_uint_eq(sqes[0].user_data, iouw_waiter_id_cancel_user_data(id));
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_waiters(e.loop), id, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_CANCEL_REQUESTED);
	/* Kernel order: cancel 0, then the op -ECANCELED. */
	post(&e, iouw_waiter_id_cancel_user_data(id), 0);
	post(&e, iouw_waiter_id_user_data(id), -ECANCELED);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.last_res, -ECANCELED);
	ck_assert(e.log.last_cancel_requested);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	env_free(&e);
}
END_TEST

START_TEST(test_timeout_slot_reuse_does_not_cancel_new_waiter_early)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	enum iouw_waiter_state st;
	iouw_waiter_id a, b;

	env_init(&e, 1, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 5 * MS, sqes);
	a.raw = sqes[0].user_data;
	post(&e, iouw_waiter_id_user_data(a), 10); /* completes early */
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	/* Slot 0 reused by a waiter with a later deadline. */
	admit_sends(&e, 1, START_NS + 20 * MS, sqes);
	b.raw = sqes[0].user_data;
	ck_assert_uint_eq(iouw_waiter_id_index(b), iouw_waiter_id_index(a));
	ck_assert(!iouw_waiter_id_eq(a, b));
	/* A's stale wheel entry fires: B must stay untouched. */
	iouw_virtual_clock_advance(&e.vc, 6 * MS);
	turn(&e);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_waiters(e.loop), b, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_ACTIVE);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 1);
	/* B's own deadline does fire. */
	iouw_virtual_clock_advance(&e.vc, 15 * MS);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	ck_assert_uint_eq(sqes[0].opcode, IORING_OP_ASYNC_CANCEL);
	ck_assert_uint_eq(sqes[0].addr, iouw_waiter_id_user_data(b));
	env_free(&e);
}
END_TEST

START_TEST(test_advance_timeouts_ignores_stale_entry_after_slot_reuse)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	iouw_waiter_id a, b, pending[4];

	env_init(&e, 1, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 5 * MS, sqes);
	a.raw = sqes[0].user_data;
	post(&e, iouw_waiter_id_user_data(a), 10);
	turn(&e);
	/* B reuses the slot with the very same deadline tick. */
	admit_sends(&e, 1, START_NS + 5 * MS, sqes);
	b.raw = sqes[0].user_data;
	iouw_virtual_clock_advance(&e.vc, 5 * MS);
	iouw_loop_advance_timeouts(e.loop);
	/* Both entries fired; only B, the live one, is cancelled. */
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, pending, 4), 1);
	ck_assert(iouw_waiter_id_eq(pending[0], b));
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 0);
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_cancel_completion_returns_saved_op_result)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	iouw_waiter_id id;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 2 * MS, sqes);
	id.raw = sqes[0].user_data;
	iouw_virtual_clock_advance(&e.vc, 3 * MS);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1); /* the cancel */
	/* The op wins the race: all 10 bytes sent, then cancel -ENOENT. */
	post(&e, iouw_waiter_id_user_data(id), 10);
	post(&e, iouw_waiter_id_cancel_user_data(id), -ENOENT);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_COMPLETE);
	ck_assert_int_eq(e.log.last_res, 10);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	env_free(&e);
}
END_TEST

START_TEST(test_staged_cancel_cqe_is_ignored_after_timeout_completion)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	iouw_waiter_id id;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 2 * MS, sqes);
	id.raw = sqes[0].user_data;
	iouw_virtual_clock_advance(&e.vc, 3 * MS);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1); /* the cancel, staged */
	/* The op retries; staged again while cancel-requested it times out
	 * locally, before the cancel CQE shows up. */
	post(&e, iouw_waiter_id_user_data(id), -EAGAIN);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	/* The late cancel CQE is dropped as stale. */
	post(&e, iouw_waiter_id_cancel_user_data(id), 0);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_uint_eq(iouw_waiters_unexpected_cancel_results(iouw_loop_waiters(e.loop)), 0);
	env_free(&e);
}
END_TEST

/* Park one SEND-like waiter with deadline +3 ms in the ready queue and let
 * its deadline pass; returns its id. */
static iouw_waiter_id park_expired_in_ready(struct env *e)
{
	struct io_uring_sqe sqes[4];
	iouw_waiter_id id;

	admit_sends(e, 1, START_NS + 3 * MS, sqes);
	id.raw = sqes[0].user_data;
	post(e, iouw_waiter_id_user_data(id), -EAGAIN);
	iouw_loop_reap(e->loop);
	iouw_virtual_clock_advance(&e->vc, 4 * MS);
	return id;
}

START_TEST(test_timeout_fires_while_request_in_ready_queue)
{
	struct env e;
	enum iouw_waiter_state st;
	iouw_waiter_id id;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	id = park_expired_in_ready(&e);
	iouw_loop_advance_timeouts(e.loop);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_waiters(e.loop), id, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_CANCEL_REQUESTED);
	ck_assert(!iouw_waiters_is_in_flight(iouw_loop_waiters(e.loop), id));
	ck_assert_uint_eq(iouw_loop_ready(e.loop, NULL, 0), 1);
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_ready_queue_timeout_skips_cancel_staging)
{
	struct env e;
	struct io_uring_sqe sqes[4];

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	(void)park_expired_in_ready(&e);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0); /* neither cancel nor op */
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	env_free(&e);
}
END_TEST

START_TEST(test_fill_submission_queue_completes_cancelled_ready_queue_entry_locally)
{
	struct env e;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	(void)park_expired_in_ready(&e);
	iouw_loop_advance_timeouts(e.loop);
	ck_assert_int_eq(e.log.finishes, 0);
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_drain_breaks_after_local_ready_queue_timeout_finishes_last_waiter)
{
	struct env e;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	(void)park_expired_in_ready(&e);
	iouw_loop_close(e.loop);
	/* An untimed wait would be -EDEADLK on the scripted kernel: run() must
	 * notice that staging emptied the table and stop without blocking. */
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert(iouw_loop_is_drained(e.loop));
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	env_free(&e);
}
END_TEST

START_TEST(test_fill_submission_queue_orphans_closed_request_before_first_submit)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct fake_request *f;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	f = send_req(&e, 10, START_NS + 50 * MS);
	f->orphaned = true;
	submit(&e, f);
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(e.log.releases, 1);
	ck_assert_int_eq(e.log.builds, 0);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	/* Its deadline left the wheel with it. */
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 0);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_fill_submission_queue_orphans_closed_ready_queue_entry_locally)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct fake_request *f;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	f = send_req(&e, 10, START_NS + 50 * MS);
	submit(&e, f);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	post(&e, sqes[0].user_data, -EAGAIN);
	iouw_loop_reap(e.loop);
	f->orphaned = true; /* the caller leaves while it is parked */
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(e.log.releases, 1);
	ck_assert_int_eq(e.log.builds, 1);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 0);
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_stage_request_panics_on_stale_ready_queue_entry)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct iouw_request *req;
	iouw_waiter_id id;

	env_init(&e, 2, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, IOUW_NO_DEADLINE, sqes);
	id.raw = sqes[0].user_data;
	post(&e, iouw_waiter_id_user_data(id), -EAGAIN);
	iouw_loop_reap(e.loop);
	/* Corrupt the loop: the waiter leaves behind its ready entry. */
	req = iouw_waiters_remove(iouw_loop_waiters(e.loop), id);
	req->ops->release(req);
	iouw_test_expect_invariant("stage called for untracked waiter");
	(void)iouw_loop_fill_sq(e.loop);
}
END_TEST

/* ---- shutdown -------------------------------------------------------------------- */

static void env_init_auto(struct env *e, uint32_t ring, uint64_t budget)
{
	env_init(e, ring, ring, budget);
	e->auto_kernel = true;
}

START_TEST(test_shutdown_no_timeout)
{
	struct env e;

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	/* The inbound queue is bounded by the ring size. */
	for (int i = 0; i < 4; i++)
		submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	{
		struct fake_request *extra = sync_req(&e, IOUW_NO_DEADLINE);

		ck_assert_int_eq(iouw_loop_submit(e.loop, &extra->base), -EAGAIN);
		turn(&e);
		submit(&e, extra);
	}
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	iouw_loop_close(e.loop);
	{
		/* Refused after close: still the caller's to drop. */
		struct fake_request *late = sync_req(&e, IOUW_NO_DEADLINE);

		ck_assert_int_eq(iouw_loop_submit(e.loop, &late->base), -ESHUTDOWN);
		late->base.ops->release(&late->base);
		ck_assert_int_eq(e.log.releases, 1);
	}
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert(iouw_loop_is_drained(e.loop));
	ck_assert_int_eq(e.log.finishes, 6);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_COMPLETE);
	/* No deadline was ever active: the clock was read only at creation. */
	ck_assert_uint_eq(e.vc.reads, 1);
	env_free(&e);
}
END_TEST

START_TEST(test_loop_submit_many_accepts_what_fits)
{
	struct env e;
	struct iouw_request *reqs[6];

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	for (int i = 0; i < 6; i++)
		reqs[i] = &sync_req(&e, IOUW_NO_DEADLINE)->base;
	ck_assert_int_eq(iouw_loop_submit_many(e.loop, reqs, 0), -EINVAL);
	ck_assert_int_eq(iouw_loop_submit_many(e.loop, reqs, 6), 4); /* inbound holds 4 */
	turn(&e);
	ck_assert_int_eq(iouw_loop_submit_many(e.loop, reqs + 4, 2), 2);
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_submit_many(e.loop, reqs, 1), -ESHUTDOWN);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(e.log.finishes, 6);
	env_free(&e);
}
END_TEST

START_TEST(test_shutdown_no_timeout_continues_deadline_processing)
{
	struct env e;

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	submit(&e, send_req(&e, 10, START_NS + 50 * MS)); /* hangs until cancelled */
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert(iouw_loop_is_drained(e.loop));
	ck_assert_int_eq(e.log.finishes, 2);
	/* The deadline was honoured while draining: cancelled at ~50 ms. */
	ck_assert_int_eq(e.log.last_res, -ECANCELED);
	ck_assert_uint_ge(e.vc.now_ns, START_NS + 50 * MS);
	ck_assert_uint_le(e.vc.now_ns, START_NS + 52 * MS);
	env_free(&e);
}
END_TEST

START_TEST(test_shutdown_timeout)
{
	struct env e;

	env_init_auto(&e, 4, 100 * MS);
	submit(&e, send_req(&e, 10, IOUW_NO_DEADLINE)); /* never completes */
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert(iouw_loop_is_drained(e.loop));
	ck_assert_int_eq(e.log.finishes, 1); /* the fsync */
	/* The send was abandoned with its op still in flight: parked (the
	 * kernel may still write its buffer) until the loop is freed. */
	ck_assert_int_eq(e.log.releases, 0);
	ck_assert_uint_ge(e.vc.now_ns, START_NS + 100 * MS);
	env_free(&e);
	ck_assert_int_eq(e.log.releases, 1);
}
END_TEST

START_TEST(test_shutdown_timeout_preserves_deadline_result)
{
	struct env e;

	env_init_auto(&e, 4, 1000 * MS);
	submit(&e, send_req(&e, 10, START_NS + 50 * MS));
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	/* Delivered through its deadline, not abandoned by the budget. */
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.releases, 0);
	ck_assert_int_eq(e.log.last_res, -ECANCELED);
	ck_assert_uint_lt(e.vc.now_ns, START_NS + 1000 * MS);
	env_free(&e);
}
END_TEST

START_TEST(test_shutdown_timeout_abandons_timed_op_after_cutoff)
{
	struct env e;
	struct iouw_loop_stats stats;

	env_init_auto(&e, 4, 50 * MS);
	submit(&e, send_req(&e, 10, START_NS + 1000 * MS));
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(e.log.finishes, 0);
	ck_assert_int_eq(e.log.releases, 0); /* parked: its op is in flight */
	ck_assert_uint_ge(e.vc.now_ns, START_NS + 50 * MS);
	ck_assert_uint_lt(e.vc.now_ns, START_NS + 1000 * MS);
	iouw_loop_stats(e.loop, &stats);
	ck_assert_uint_eq(stats.abandoned, 1);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 0);
	check(&e);
	env_free(&e);
	ck_assert_int_eq(e.log.releases, 1);
}
END_TEST

START_TEST(test_shutdown_no_timeout_processes_ready_queue)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct fake_request *f;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	f = fake_request_new(&e.log);
	submit(&e, f);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	post(&e, sqes[0].user_data, -EINTR);
	iouw_loop_reap(e.loop);
	ck_assert_uint_eq(iouw_loop_ready(e.loop, NULL, 0), 1);
	e.auto_kernel = true;
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.last_res, 0);
	ck_assert_int_eq(e.log.builds, 2);
	env_free(&e);
}
END_TEST

START_TEST(test_deadline_timeout_ensure_enough_capacity)
{
	struct env e;

	/* Two hanging sends fill the table; the fsync behind them is only
	 * admitted once their deadlines free the slots. */
	env_init_auto(&e, 2, IOUW_NO_DEADLINE);
	submit(&e, send_req(&e, 10, START_NS + 20 * MS));
	submit(&e, send_req(&e, 10, START_NS + 30 * MS));
	turn(&e);
	ck_assert(iouw_waiters_is_full(iouw_loop_waiters(e.loop)));
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	turn(&e);
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 1); /* no room yet */
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(e.log.finishes, 3);
	ck_assert_int_eq(e.log.releases, 0);
	/* Only the deadlines could free capacity: both had to fire. */
	ck_assert_uint_ge(e.vc.now_ns, START_NS + 30 * MS);
	env_free(&e);
}
END_TEST

/* drain() of the original with a budget of 0: reap, then abandon at once.
 * No timeout is advanced and nothing is staged: nothing new reaches the
 * kernel once the budget is spent, and a caller whose deadline passed while
 * parked hears Abandoned, not Timeout. */
START_TEST(test_shutdown_zero_budget_abandons_before_staging)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct iouw_loop_stats stats;
	const struct io_uring_sqe *sent;

	env_init(&e, 4, 4, 0);
	/* A send in flight whose deadline passes: the old extra turn staged
	 * its ASYNC_CANCEL after the budget was spent. */
	admit_sends(&e, 1, START_NS + 3 * MS, sqes);
	/* A send parked in the ready queue whose deadline passes: the old
	 * extra turn timed it out locally (Timeout, not Abandoned). */
	(void)park_expired_in_ready(&e);
	/* A request accepted before close: the old extra turn admitted it and
	 * pushed its SQE, then detached it as in flight. */
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert(iouw_loop_is_drained(e.loop));
	ck_assert_uint_eq(iouw_skernel_submitted(e.b, &sent), 0);
	iouw_loop_stats(e.loop, &stats);
	ck_assert_uint_eq(stats.cancels, 0);
	ck_assert_uint_eq(stats.timeouts, 0);
	ck_assert_uint_eq(stats.delivered, 0);
	ck_assert_uint_eq(stats.abandoned, 3);
	ck_assert_int_eq(e.log.finishes, 0);
	ck_assert_int_eq(e.log.builds, 2); /* the two sends' first SQEs only */
	/* The parked send and the fsync are released now; the send whose op
	 * is in flight stays parked until the loop is freed. */
	ck_assert_int_eq(e.log.releases, 2);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_wheel(e.loop)), 0);
	check(&e);
	env_free(&e);
	ck_assert_int_eq(e.log.releases, 3);
}
END_TEST

/* The reap before the budget check still counts: a CQE already in the ring
 * when run() starts completes its request (budget 0 or not). */
START_TEST(test_shutdown_zero_budget_reaps_first)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct iouw_loop_stats stats;

	env_init(&e, 4, 4, 0);
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	post(&e, sqes[0].user_data, 0);
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert(iouw_loop_is_drained(e.loop));
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_COMPLETE);
	iouw_loop_stats(e.loop, &stats);
	ck_assert_uint_eq(stats.abandoned, 0);
	env_free(&e);
}
END_TEST

/* After a submit, the first blocking attempt blocks: the fill accounts for
 * the wake sequence before it looks at the front door, so the arm that
 * follows finds nothing new and the loop waits (the original advances its
 * processed sequence in the fill). Before, the arm compared against a
 * sequence only the arm updated: one wasted non-blocking iteration per
 * batch. */
START_TEST(test_first_blocking_turn_after_submit_blocks)
{
	struct env e;
	uint64_t calls;

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	for (int round = 0; round < 3; round++) {
		submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
		submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
		calls = iouw_skernel_wait_calls(e.b);
		e.hooks = 0;
		/* One turn: admit both, submit, block until the kernel
		 * answers (the auto kernel answers in the wait hook). */
		ck_assert_int_eq(iouw_loop_turn(e.loop, true), 0);
		ck_assert_uint_eq(iouw_skernel_wait_calls(e.b) - calls, 1);
		ck_assert_int_eq(e.hooks, 1);
		ck_assert_int_eq(e.log.finishes, 2 * round);
		/* The next turn reaps both. */
		ck_assert_uint_eq(iouw_loop_reap(e.loop), 2);
		ck_assert_int_eq(e.log.finishes, 2 * round + 2);
		check(&e);
	}
	env_free(&e);
}
END_TEST

/* A submit that lands after the fill looked (between the fill and the arm)
 * still keeps the loop from blocking: the arm sees the new sequence. */
START_TEST(test_submit_after_fill_keeps_turn_from_blocking)
{
	struct env e;
	uint64_t calls;

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	(void)iouw_loop_fill_sq(e.loop);
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	calls = iouw_skernel_wait_calls(e.b);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, true), 0);
	ck_assert_uint_eq(iouw_skernel_wait_calls(e.b) - calls, 1);
	ck_assert_int_eq(e.hooks, 0); /* did not block */
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 1);
	env_free(&e);
}
END_TEST

/* ---- beyond the original --------------------------------------------------------- */

START_TEST(test_loop_reads_clock_only_with_active_deadlines)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	uint64_t reads;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	ck_assert_uint_eq(e.vc.reads, 1);
	submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	for (int i = 0; i < 5; i++)
		turn(&e);
	ck_assert_uint_eq(e.vc.reads, 1);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	post(&e, sqes[0].user_data, 0);
	turn(&e);

	/* Idle for a long while, then a deadline: the wheel catches up first,
	 * so the deadline counts from now, not from the wheel's stale tick. */
	iouw_virtual_clock_advance(&e.vc, 5000 * MS);
	submit(&e, send_req(&e, 10, e.vc.now_ns + 10 * MS));
	turn(&e);
	reads = e.vc.reads;
	ck_assert_uint_gt(reads, 1);
	ck_assert_uint_eq(iouw_wheel_current_tick(iouw_loop_wheel(e.loop)), 5000);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	post(&e, sqes[0].user_data, 10);
	turn(&e);
	/* Deadline gone again: turns stop reading the clock. */
	reads = e.vc.reads;
	for (int i = 0; i < 5; i++)
		turn(&e);
	ck_assert_uint_eq(e.vc.reads, reads);
	env_free(&e);
}
END_TEST

START_TEST(test_loop_rearms_wake_poll_only_without_more_flag)
{
	struct env e;
	const struct io_uring_sqe *sqes;
	size_t n;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	/* Still armed (F_MORE): no new poll SQE. */
	ck_assert_int_eq(iouw_skernel_post(e.b, IOUW_WAKE_USER_DATA, 1, IORING_CQE_F_MORE), 0);
	turn(&e);
	ck_assert_uint_eq(iouw_skernel_submitted(e.b, &sqes), 0);
	/* The kernel ended the multishot poll: re-arm it. */
	ck_assert_int_eq(iouw_skernel_post(e.b, IOUW_WAKE_USER_DATA, 1, 0), 0);
	turn(&e);
	n = iouw_skernel_submitted(e.b, &sqes);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(sqes[0].opcode, IORING_OP_POLL_ADD);
	ck_assert_uint_eq(sqes[0].user_data, IOUW_WAKE_USER_DATA);
	ck_assert_int_eq(sqes[0].fd, iouw_loop_wake_fd(e.loop));
	env_free(&e);
}
END_TEST

START_TEST(test_loop_reaps_overflowed_cqes_in_order)
{
	struct env e;
	struct io_uring_sqe sqes[16];
	struct iouw_loop_config cfg;

	iouw_loop_config_init(&cfg);
	cfg.ring_size = 16;
	env_init_cfg(&e, &cfg, 16);
	for (int i = 0; i < 16; i++)
		submit(&e, sync_req(&e, IOUW_NO_DEADLINE));
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 16), 16);
	/* The env's CQ has 72 entries; 16 CQEs fit, but post far more cancel
	 * CQEs first (stale, harmless) to push the op CQEs into overflow. */
	for (int i = 0; i < 100; i++)
		post(&e, IOUW_WAITER_CANCEL_TAG | 0x7ffffffeULL, -ENOENT);
	for (int i = 0; i < 16; i++)
		post(&e, sqes[i].user_data, 0);
	ck_assert(iouw_skernel_cq_overflowed(e.b));
	ck_assert_uint_eq(iouw_loop_reap(e.loop), 116);
	ck_assert_int_eq(e.log.finishes, 16);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	env_free(&e);
}
END_TEST

struct event_log {
	int counts[IOUW_EV_WAIT + 1];
};

static void count_event(void *ctx, const struct iouw_loop_event *ev)
{
	struct event_log *l = ctx;

	l->counts[ev->kind]++;
}

/* One fill builds more SQEs than the loop's staging buffer holds (64): they
 * reach the backend all, in staging order, with orphans and expired
 * requests taking no SQE; the SQ limit still stops the fill exactly. */
START_TEST(test_fill_stages_more_sqes_than_the_staging_buffer)
{
	struct env e;
	struct io_uring_sqe sqes[256];
	struct fake_request *reqs[200];
	size_t n, expect = 0;

	env_init(&e, 256, 150, IOUW_NO_DEADLINE);
	for (int i = 0; i < 200; i++) {
		reqs[i] = send_req(&e, 10, i % 17 == 5 ? START_NS - 1 : IOUW_NO_DEADLINE);
		reqs[i]->orphaned = i % 13 == 7;
		submit(&e, reqs[i]);
	}
	/* 150 SQ slots: the fill stops with requests still inbound. */
	ck_assert(iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	n = take_sqes(&e, sqes, 256);
	ck_assert_uint_eq(n, 150);
	for (int i = 0; i < 200 && expect < n; i++) {
		if (i % 17 == 5 || i % 13 == 7)
			continue;
		ck_assert_int_eq(sqes[expect].fd, reqs[i]->fd);
		ck_assert_uint_eq(sqes[expect].opcode, IORING_OP_SEND);
		expect++;
	}
	/* The rest go out on the next fill. */
	ck_assert(!iouw_loop_fill_sq(e.loop));
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_gt(take_sqes(&e, sqes, 256), 0);
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 0);
	check(&e);
	env_free(&e);
	ck_assert_int_eq(e.log.finishes + e.log.releases, 200);
}
END_TEST

/* ---- iouw_loop_cancel and the read-only views (docs/loop.md §6.11) ---------- */

static void count_cancel_queued(void *ctx, const struct iouw_loop_event *ev)
{
	if (ev->kind == IOUW_EV_CANCEL_QUEUED)
		(*(int *)ctx)++;
}

START_TEST(test_loop_cancel_expire_follows_the_deadline_rule)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	enum iouw_waiter_state st;
	iouw_waiter_id id;
	int queued = 0;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 10 * MS, sqes);
	id.raw = sqes[0].user_data;
	ck_assert_ptr_eq(iouw_loop_table(e.loop), iouw_loop_waiters(e.loop));
	ck_assert_ptr_eq(iouw_loop_timeouts(e.loop), iouw_loop_wheel(e.loop));
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_timeouts(e.loop)), 1);
	iouw_loop_set_observer(e.loop, count_cancel_queued, &queued);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_EXPIRE, 0), 1);
	/* As an expired deadline: cancel requested, off the wheel, a cancel
	 * queued (not staged yet). */
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_table(e.loop), id, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_CANCEL_REQUESTED);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_timeouts(e.loop)), 0);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 1);
	ck_assert_int_eq(queued, 1);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	check(&e);
	/* A second cancel does not take and changes nothing. */
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_EXPIRE, 0), 0);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 1);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	ck_assert_uint_eq(sqes[0].opcode, IORING_OP_ASYNC_CANCEL);
	ck_assert_uint_eq(sqes[0].addr, iouw_waiter_id_user_data(id));
	ck_assert_uint_eq(sqes[0].user_data, iouw_waiter_id_cancel_user_data(id));
	ck_assert_uint_eq(sqes[0].cancel_flags, 0);
	/* The clock never moved: no Timeout from the wheel, the kernel's
	 * answer ends it. */
	post(&e, iouw_waiter_id_cancel_user_data(id), 0);
	post(&e, iouw_waiter_id_user_data(id), -ECANCELED);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert(e.log.last_cancel_requested);
	ck_assert_int_eq(queued, 1);
	env_free(&e);
}
END_TEST

START_TEST(test_loop_cancel_request_stages_no_cancel_sqe)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	enum iouw_waiter_state st;
	iouw_waiter_id id;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, START_NS + 10 * MS, sqes);
	id.raw = sqes[0].user_data;
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_REQUEST, 0), 1);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_table(e.loop), id, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_CANCEL_REQUESTED);
	ck_assert_uint_eq(iouw_wheel_active(iouw_loop_timeouts(e.loop)), 0);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 0);
	/* Past the old deadline: the wheel no longer tracks it. */
	iouw_virtual_clock_advance(&e.vc, 20 * MS);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	/* A partial result while cancel-requested requeues; staged, it times
	 * out locally, without an SQE. */
	post(&e, iouw_waiter_id_user_data(id), 3);
	turn(&e);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 0);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert(iouw_waiters_is_empty(iouw_loop_table(e.loop)));
	env_free(&e);
}
END_TEST

START_TEST(test_loop_cancel_stage_pushes_the_cancel_now)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	const struct io_uring_sqe *sub;
	iouw_waiter_id id;
	struct iouw_loop_stats stats;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, IOUW_NO_DEADLINE, sqes);
	id.raw = sqes[0].user_data;
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_STAGE, 0x80000000u), 1);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 0);
	ck_assert_uint_eq(iouw_backend_sq_space(e.b), 3);
	/* The next submit sends it, no fill needed. */
	ck_assert_int_eq(iouw_backend_submit_and_wait(e.b, 0, IOUW_BACKEND_NO_TIMEOUT), 1);
	ck_assert_uint_eq(iouw_skernel_submitted(e.b, &sub), 1);
	ck_assert_uint_eq(sub[0].opcode, IORING_OP_ASYNC_CANCEL);
	ck_assert_uint_eq(sub[0].addr, iouw_waiter_id_user_data(id));
	ck_assert_uint_eq(sub[0].user_data, iouw_waiter_id_cancel_user_data(id));
	ck_assert_uint_eq(sub[0].cancel_flags, 0x80000000u);
	iouw_loop_stats(e.loop, &stats);
	ck_assert_uint_eq(stats.cancels, 1);
	iouw_skernel_clear_submitted(e.b);
	post(&e, iouw_waiter_id_cancel_user_data(id), 0);
	post(&e, iouw_waiter_id_user_data(id), -ECANCELED);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	env_free(&e);
}
END_TEST

START_TEST(test_loop_cancel_stage_without_sq_room_changes_nothing)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	enum iouw_waiter_state st;
	iouw_waiter_id id;

	env_init(&e, 4, 1, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, IOUW_NO_DEADLINE, sqes);
	id.raw = sqes[0].user_data;
	/* Requeued and staged again: its SQE fills the one SQ slot. */
	post(&e, iouw_waiter_id_user_data(id), -EAGAIN);
	ck_assert_uint_eq(iouw_loop_reap(e.loop), 1);
	(void)iouw_loop_fill_sq(e.loop);
	ck_assert_uint_eq(iouw_backend_sq_space(e.b), 0);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_STAGE, 0), -EBUSY);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_table(e.loop), id, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_ACTIVE);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_STAGE, 0), 1);
	ck_assert_uint_eq(iouw_backend_sq_space(e.b), 0);
	check(&e);
	env_free(&e);
}
END_TEST

/* A STAGE cancel asked from inside a phase (here the observer, during the
 * reap of another waiter's CQE) is refused with -EBUSY and changes
 * nothing: its SQE would take a slot the phase counted on. The same
 * cancel between phases takes. */
struct cancel_from_observer {
	struct iouw_loop *loop;
	iouw_waiter_id target;
	int result;
	int calls;
};

static void cancel_on_cqe(void *ctx, const struct iouw_loop_event *ev)
{
	struct cancel_from_observer *c = ctx;

	if (ev->kind != IOUW_EV_CQE || c->calls++ > 0)
		return;
	c->result = iouw_loop_cancel(c->loop, c->target, IOUW_LOOP_CANCEL_STAGE, 0);
}

START_TEST(test_loop_cancel_stage_inside_a_phase_is_refused)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct cancel_from_observer c = { .result = 99 };
	enum iouw_waiter_state st;
	iouw_waiter_id a, b;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 2, IOUW_NO_DEADLINE, sqes);
	a.raw = sqes[0].user_data;
	b.raw = sqes[1].user_data;
	c.loop = e.loop;
	c.target = b;
	iouw_loop_set_observer(e.loop, cancel_on_cqe, &c);
	post(&e, iouw_waiter_id_user_data(a), 3);
	ck_assert_uint_eq(iouw_loop_reap(e.loop), 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.result, -EBUSY);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_table(e.loop), b, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_ACTIVE);
	iouw_loop_set_observer(e.loop, NULL, NULL);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, b, IOUW_LOOP_CANCEL_STAGE, 0), 1);
	ck_assert_int_eq(iouw_waiters_state(iouw_loop_table(e.loop), b, &st, NULL), 0);
	ck_assert_int_eq(st, IOUW_WAITER_CANCEL_REQUESTED);
	check(&e);
	env_free(&e);
}
END_TEST

START_TEST(test_loop_cancel_rejects_bad_arguments_and_stale_ids)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	iouw_waiter_id id, stale;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	admit_sends(&e, 1, IOUW_NO_DEADLINE, sqes);
	id.raw = sqes[0].user_data;
	ck_assert_int_eq(iouw_loop_cancel(NULL, id, IOUW_LOOP_CANCEL_EXPIRE, 0), -EINVAL);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, (enum iouw_loop_cancel_how)7, 0), -EINVAL);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, id, IOUW_LOOP_CANCEL_EXPIRE, 1), -EINVAL);
	stale = iouw_waiter_id_next_generation(id);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, stale, IOUW_LOOP_CANCEL_EXPIRE, 0), 0);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, iouw_waiter_id_new(3, 0), IOUW_LOOP_CANCEL_EXPIRE, 0),
	                 0);
	ck_assert_int_eq(iouw_loop_cancel(e.loop, iouw_waiter_id_new(99, 0), IOUW_LOOP_CANCEL_STAGE, 0),
	                 0);
	ck_assert_uint_eq(iouw_loop_pending_cancels(e.loop, NULL, 0), 0);
	check(&e);
	post(&e, iouw_waiter_id_user_data(id), 10);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 1);
	env_free(&e);
}
END_TEST

START_TEST(test_loop_observer_sees_every_event)
{
	struct env e;
	struct event_log l = { { 0 } };

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	iouw_loop_set_observer(e.loop, count_event, &l);
	submit(&e, send_req(&e, 10, START_NS + 5 * MS));
	submit(&e, sync_req(&e, START_NS - 1));
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(l.counts[IOUW_EV_ADMIT], 1);
	ck_assert_int_eq(l.counts[IOUW_EV_ADMIT_EXPIRED], 1);
	ck_assert_int_eq(l.counts[IOUW_EV_EXPIRED], 1);
	ck_assert_int_eq(l.counts[IOUW_EV_CANCEL_QUEUED], 1);
	ck_assert_int_eq(l.counts[IOUW_EV_SQE], 2); /* op + cancel */
	ck_assert_int_eq(l.counts[IOUW_EV_CQE], 2);
	ck_assert_int_eq(l.counts[IOUW_EV_DELIVER], 1);
	ck_assert_int_gt(l.counts[IOUW_EV_WAIT], 0);
	env_free(&e);
}
END_TEST

/* ---- the same-thread path (iouw_loop_submit_local) ------------------------ */

/* Admitted during the call, SQEs in order after what the front door held,
 * nothing left in the front door; the next turn submits them. */
START_TEST(test_submit_local_admits_at_once_after_the_front_door)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct fake_request *door;
	struct iouw_request *reqs[2];

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	door = sync_req(&e, IOUW_NO_DEADLINE);
	reqs[0] = &send_req(&e, 8, START_NS + 5 * MS)->base;
	reqs[1] = &sync_req(&e, IOUW_NO_DEADLINE)->base;
	submit(&e, door);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, reqs, 2), 2);
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 0);
	ck_assert_uint_eq(iouw_waiters_len(iouw_loop_waiters(e.loop)), 3);
	ck_assert_int_eq(e.log.builds, 3);
	check(&e);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 3);
	ck_assert_int_eq(sqes[0].opcode, IORING_OP_FSYNC); /* the front door's first */
	ck_assert_int_eq(sqes[1].opcode, IORING_OP_SEND);
	ck_assert_int_eq(sqes[2].opcode, IORING_OP_FSYNC);
	post(&e, sqes[0].user_data, 0);
	post(&e, sqes[2].user_data, 0);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 2);
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0); /* the send times out: cancelled */
	ck_assert_int_eq(e.log.finishes, 3);
	ck_assert_int_eq(e.log.last_res, -ECANCELED);
	env_free(&e);
}
END_TEST

/* As many as the table has free slots (or the SQ has room), from the front;
 * the caller keeps the rest. Bad arguments and a closed loop are refused
 * with nothing admitted. */
START_TEST(test_submit_local_accepts_what_fits)
{
	struct env e;
	struct iouw_request *reqs[6], *bad[2];

	env_init(&e, 4, 3, IOUW_NO_DEADLINE); /* 4 slots, 3 SQ entries */
	for (int i = 0; i < 6; i++)
		reqs[i] = &sync_req(&e, IOUW_NO_DEADLINE)->base;
	bad[0] = reqs[5];
	bad[1] = NULL;
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, reqs, 0), -EINVAL);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, NULL, 1), -EINVAL);
	ck_assert_int_eq(iouw_loop_submit_local(NULL, reqs, 1), -EINVAL);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, bad, 2), -EINVAL);
	ck_assert_int_eq(e.log.builds, 0);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, reqs, 6), 3); /* the SQ holds 3 */
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, reqs + 3, 3), 0);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, reqs + 3, 3), 1); /* the table: 4 */
	ck_assert_uint_eq(iouw_waiters_len(iouw_loop_waiters(e.loop)), 4);
	check(&e);
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, reqs + 4, 2), -ESHUTDOWN);
	reqs[4]->ops->release(reqs[4]);
	reqs[5]->ops->release(reqs[5]);
	e.auto_kernel = true;
	e.answered = 0;
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(e.log.finishes, 4);
	ck_assert_int_eq(e.log.releases, 2);
	env_free(&e);
}
END_TEST

/* A deadline already passed: finished (TIMEOUT) during the call, no slot. */
START_TEST(test_submit_local_expired_deadline_times_out_in_the_call)
{
	struct env e;
	struct iouw_request *req;

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	req = &sync_req(&e, START_NS - 1)->base;
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, &req, 1), 1);
	ck_assert_int_eq(e.log.finishes, 1);
	ck_assert_int_eq(e.log.finished_how, IOUW_FINISH_TIMEOUT);
	ck_assert_int_eq(e.log.builds, 0);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	check(&e);
	env_free(&e);
}
END_TEST

struct other_thread_call {
	struct iouw_loop *loop;
	struct iouw_request *req;
	int rc;
};

static void *call_submit_local(void *arg)
{
	struct other_thread_call *c = arg;

	c->rc = iouw_loop_submit_local(c->loop, &c->req, 1);
	return NULL;
}

static void *call_turn(void *arg)
{
	struct other_thread_call *c = arg;

	c->rc = iouw_loop_turn(c->loop, false);
	return NULL;
}

/* From any thread but the loop thread: -EINVAL, nothing admitted. The loop
 * thread is the creator until another thread turns the loop. */
START_TEST(test_submit_local_from_another_thread_is_refused)
{
	struct env e;
	struct other_thread_call c;
	pthread_t t;

	env_init_auto(&e, 4, IOUW_NO_DEADLINE);
	c.loop = e.loop;
	c.req = &sync_req(&e, IOUW_NO_DEADLINE)->base;
	c.rc = 1;
	ck_assert_int_eq(pthread_create(&t, NULL, call_submit_local, &c), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.rc, -EINVAL);
	ck_assert_int_eq(e.log.builds, 0);
	ck_assert(iouw_waiters_is_empty(iouw_loop_waiters(e.loop)));
	/* Another thread turns the loop: that thread is the loop thread now. */
	c.rc = 1;
	ck_assert_int_eq(pthread_create(&t, NULL, call_turn, &c), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, &c.req, 1), -EINVAL);
	c.rc = 1;
	ck_assert_int_eq(pthread_create(&t, NULL, call_submit_local, &c), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(c.rc, 1);
	ck_assert_int_eq(e.log.builds, 1);
	/* And back: the main thread turns, and may submit locally again. */
	turn(&e);
	iouw_loop_close(e.loop);
	ck_assert_int_eq(iouw_loop_run(e.loop), 0);
	ck_assert_int_eq(e.log.finishes, 1);
	env_free(&e);
}
END_TEST

struct resubmit {
	struct env *e;
	struct fake_request *next;
	int rc;
	size_t inbound_after;
};

/* Observer: on the first delivery, submit a follow-up on the same thread. */
static void resubmit_on_deliver(void *ctx, const struct iouw_loop_event *ev)
{
	struct resubmit *r = ctx;
	struct iouw_request *req;

	if (ev->kind != IOUW_EV_DELIVER || !r->next)
		return;
	req = &r->next->base;
	r->next = NULL;
	r->rc = iouw_loop_submit_local(r->e->loop, &req, 1);
	r->inbound_after = iouw_loop_inbound_len(r->e->loop);
}

/* From inside a phase (an op or the observer during the reap): the request
 * goes through the front door, and the same turn's fill admits it. */
START_TEST(test_submit_local_inside_a_phase_uses_the_front_door)
{
	struct env e;
	struct io_uring_sqe sqes[4];
	struct iouw_request *req;
	struct resubmit r;

	env_init(&e, 4, 4, IOUW_NO_DEADLINE);
	r.e = &e;
	r.next = sync_req(&e, IOUW_NO_DEADLINE);
	r.rc = 0;
	r.inbound_after = 0;
	iouw_loop_set_observer(e.loop, resubmit_on_deliver, &r);
	req = &sync_req(&e, IOUW_NO_DEADLINE)->base;
	ck_assert_int_eq(iouw_loop_submit_local(e.loop, &req, 1), 1);
	ck_assert_int_eq(iouw_loop_submit_and_wait(e.loop, false), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1);
	post(&e, sqes[0].user_data, 0);
	turn(&e);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_uint_eq(r.inbound_after, 1); /* queued, not admitted in the reap */
	ck_assert_uint_eq(iouw_loop_inbound_len(e.loop), 0);
	ck_assert_uint_eq(take_sqes(&e, sqes, 4), 1); /* the same turn admitted it */
	ck_assert_int_eq(e.log.builds, 2);
	post(&e, sqes[0].user_data, 0);
	turn(&e);
	ck_assert_int_eq(e.log.finishes, 2);
	env_free(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	TCase *panics = tcase_create("panics");

	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_iouring_loop_rounds_ring_size_up_to_power_of_two);
	tcase_add_test(tc, test_loop_new_rejects_bad_arguments);
	tcase_add_test(tc, test_submit_and_wait_non_etime_error_is_not_misclassified);
	tcase_add_test(tc, test_fill_submission_queue_returns_true_when_fresh_staging_fills_sq);
	tcase_add_test(tc, test_fill_submission_queue_returns_true_when_ready_staging_fills_sq);
	tcase_add_test(tc, test_fill_submission_queue_returns_true_when_cancel_staging_fills_sq);
	tcase_add_test(tc, test_fill_submission_queue_skips_cancel_for_ready_queue_timeout);
	tcase_add_test(tc, test_fill_submission_queue_expired_deadline_completes_immediately);
	tcase_add_test(tc, test_loop_timeout);
	tcase_add_test(tc, test_timeout_slot_reuse_does_not_cancel_new_waiter_early);
	tcase_add_test(tc, test_advance_timeouts_ignores_stale_entry_after_slot_reuse);
	tcase_add_test(tc, test_cancel_completion_returns_saved_op_result);
	tcase_add_test(tc, test_staged_cancel_cqe_is_ignored_after_timeout_completion);
	tcase_add_test(tc, test_timeout_fires_while_request_in_ready_queue);
	tcase_add_test(tc, test_ready_queue_timeout_skips_cancel_staging);
	tcase_add_test(tc, test_fill_submission_queue_completes_cancelled_ready_queue_entry_locally);
	tcase_add_test(tc, test_drain_breaks_after_local_ready_queue_timeout_finishes_last_waiter);
	tcase_add_test(tc, test_fill_submission_queue_orphans_closed_request_before_first_submit);
	tcase_add_test(tc, test_fill_submission_queue_orphans_closed_ready_queue_entry_locally);
	tcase_add_test(tc, test_shutdown_no_timeout);
	tcase_add_test(tc, test_loop_submit_many_accepts_what_fits);
	tcase_add_test(tc, test_shutdown_no_timeout_continues_deadline_processing);
	tcase_add_test(tc, test_shutdown_timeout);
	tcase_add_test(tc, test_shutdown_timeout_preserves_deadline_result);
	tcase_add_test(tc, test_shutdown_timeout_abandons_timed_op_after_cutoff);
	tcase_add_test(tc, test_shutdown_no_timeout_processes_ready_queue);
	tcase_add_test(tc, test_deadline_timeout_ensure_enough_capacity);
	tcase_add_test(tc, test_shutdown_zero_budget_abandons_before_staging);
	tcase_add_test(tc, test_shutdown_zero_budget_reaps_first);
	tcase_add_test(tc, test_first_blocking_turn_after_submit_blocks);
	tcase_add_test(tc, test_submit_after_fill_keeps_turn_from_blocking);
	tcase_add_test(tc, test_loop_reads_clock_only_with_active_deadlines);
	tcase_add_test(tc, test_loop_rearms_wake_poll_only_without_more_flag);
	tcase_add_test(tc, test_loop_reaps_overflowed_cqes_in_order);
	tcase_add_test(tc, test_loop_observer_sees_every_event);
	tcase_add_test(tc, test_fill_stages_more_sqes_than_the_staging_buffer);
	tcase_add_test(tc, test_loop_cancel_expire_follows_the_deadline_rule);
	tcase_add_test(tc, test_loop_cancel_request_stages_no_cancel_sqe);
	tcase_add_test(tc, test_loop_cancel_stage_pushes_the_cancel_now);
	tcase_add_test(tc, test_loop_cancel_stage_without_sq_room_changes_nothing);
	tcase_add_test(tc, test_loop_cancel_stage_inside_a_phase_is_refused);
	tcase_add_test(tc, test_loop_cancel_rejects_bad_arguments_and_stale_ids);
	tcase_add_test(tc, test_submit_local_admits_at_once_after_the_front_door);
	tcase_add_test(tc, test_submit_local_accepts_what_fits);
	tcase_add_test(tc, test_submit_local_expired_deadline_times_out_in_the_call);
	tcase_add_test(tc, test_submit_local_from_another_thread_is_refused);
	tcase_add_test(tc, test_submit_local_inside_a_phase_uses_the_front_door);
	tcase_add_test_raise_signal(panics, test_stage_request_panics_on_stale_ready_queue_entry,
	                            SIGABRT);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, panics);
	return iouw_test_run_suite(s);
}
