/* tests/test_wake.c: the wake-path suite (core/wake.h).
 *
 * Twins of the original's wake-path tests (docs/testing.md §9.5):
 *   publish_arm_disarm_and_submitted                test_wake_publish_arm_disarm_and_submitted
 *   ring_and_acknowledge_empty_paths_keep_sequence_stable
 *                                                   test_wake_ring_and_acknowledge_empty_paths_keep_sequence_stable
 *   reinstall_pushes_wake_poll                      test_wake_reinstall_pushes_wake_poll (SQE
 *                                                   contents here; re-arming after a CQE without
 *                                                   F_MORE is in the loop suite)
 *   ring_and_acknowledge_error_branches             test_wake_ring_and_acknowledge_error_branches
 * Plus a threaded handshake test: a sleeper that arms, re-checks and blocks
 * in poll(2) is always woken by a producer that publishes after it armed. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <liburing.h>

#include "support.h"
#include "waiter.h"
#include "wake.h"

static uint64_t eventfd_value(struct iouw_wake *w)
{
	uint64_t v = 0;

	if (read(w->efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

START_TEST(test_wake_publish_arm_disarm_and_submitted)
{
	struct iouw_wake w;

	ck_assert_int_eq(iouw_wake_init(&w), 0);
	ck_assert(!iouw_wake_submitted(&w));
	ck_assert(!iouw_wake_is_armed(&w));

	/* Publish while disarmed: sequence moves, no eventfd write. */
	ck_assert_int_eq(iouw_wake_publish(&w), 0);
	ck_assert_uint_eq(iouw_wake_sequence(&w), 1);
	ck_assert_uint_eq(eventfd_value(&w), 0);

	/* Arming after an unseen publish refuses to sleep and disarms. */
	ck_assert(!iouw_wake_arm(&w));
	ck_assert(!iouw_wake_is_armed(&w));
	/* ...and accounted for it. */
	ck_assert(!iouw_wake_submitted(&w));
	ck_assert(iouw_wake_arm(&w));
	ck_assert(iouw_wake_is_armed(&w));

	/* Publish while armed rings exactly once per publish. */
	ck_assert_int_eq(iouw_wake_publish(&w), 0);
	ck_assert_int_eq(iouw_wake_publish(&w), 0);
	ck_assert_uint_eq(eventfd_value(&w), 2);
	iouw_wake_disarm(&w);
	ck_assert(!iouw_wake_is_armed(&w));
	ck_assert(iouw_wake_submitted(&w));
	ck_assert(!iouw_wake_submitted(&w));
	ck_assert_uint_eq(iouw_wake_sequence(&w), 3);

	/* Disarmed again: publishes do not write. */
	ck_assert_int_eq(iouw_wake_publish(&w), 0);
	ck_assert_uint_eq(eventfd_value(&w), 0);
	iouw_wake_destroy(&w);
	iouw_wake_destroy(&w); /* idempotent */
}
END_TEST

START_TEST(test_wake_ring_and_acknowledge_empty_paths_keep_sequence_stable)
{
	struct iouw_wake w;

	ck_assert_int_eq(iouw_wake_init(&w), 0);
	/* Acknowledge on an empty eventfd is fine and changes nothing. */
	ck_assert_int_eq(iouw_wake_acknowledge(&w), 0);
	ck_assert_uint_eq(iouw_wake_sequence(&w), 0);
	/* An unconditional ring is not a submission. */
	ck_assert_int_eq(iouw_wake_ring(&w), 0);
	ck_assert_uint_eq(iouw_wake_sequence(&w), 0);
	ck_assert(!iouw_wake_submitted(&w));
	ck_assert_int_eq(iouw_wake_acknowledge(&w), 0);
	ck_assert_uint_eq(eventfd_value(&w), 0);
	ck_assert_int_eq(iouw_wake_acknowledge(&w), 0);
	ck_assert_uint_eq(iouw_wake_sequence(&w), 0);
	iouw_wake_destroy(&w);
}
END_TEST

START_TEST(test_wake_reinstall_pushes_wake_poll)
{
	struct iouw_wake w;
	struct io_uring_sqe sqe = { 0 };

	ck_assert_int_eq(iouw_wake_init(&w), 0);
	iouw_wake_prep_poll(&w, &sqe);
	ck_assert_uint_eq(sqe.opcode, IORING_OP_POLL_ADD);
	ck_assert_int_eq(sqe.fd, w.efd);
	ck_assert_uint_eq(sqe.user_data, IOUW_WAKE_USER_DATA);
	ck_assert_uint_eq(sqe.len & IORING_POLL_ADD_MULTI, IORING_POLL_ADD_MULTI);
	ck_assert_uint_eq(sqe.poll32_events & POLLIN, POLLIN);
	iouw_wake_destroy(&w);
}
END_TEST

START_TEST(test_wake_ring_and_acknowledge_error_branches)
{
	struct iouw_wake w;
	int fds[2];

	ck_assert_int_eq(iouw_wake_init(&w), 0);
	/* A saturated counter counts as rung. */
	{
		uint64_t big = UINT64_MAX - 1;

		ck_assert_int_eq(write(w.efd, &big, sizeof(big)), (int)sizeof(big));
		ck_assert_int_eq(iouw_wake_ring(&w), 0);
		ck_assert_int_eq(iouw_wake_acknowledge(&w), 0);
	}
	iouw_wake_destroy(&w);

	/* A broken descriptor is reported, not swallowed: a read-only pipe end
	 * cannot be written, a closed fd cannot be read. */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(iouw_wake_init(&w), 0);
	close(w.efd);
	w.efd = fds[0];
	ck_assert_int_eq(iouw_wake_ring(&w), -EBADF);
	ck_assert(iouw_wake_arm(&w));
	ck_assert_int_eq(iouw_wake_publish(&w), -EBADF);
	iouw_wake_disarm(&w);
	w.efd = fds[1];
	ck_assert_int_eq(iouw_wake_acknowledge(&w), -EBADF);
	close(fds[0]);
	close(fds[1]);
	w.efd = -1;
	iouw_wake_destroy(&w);
}
END_TEST

struct sleeper {
	struct iouw_wake *w;
	_Atomic int queue; /* stands in for the inbound queue */
	_Atomic int slept_through;
	_Atomic int done; /* rounds the sleeper has consumed */
	_Atomic int blocked; /* times it really blocked in poll */
	int rounds;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;

	for (int round = 0; round < s->rounds; round++) {
		for (;;) {
			if (atomic_load(&s->queue) > round)
				break;
			if (iouw_wake_arm(s->w)) {
				struct pollfd p = { .fd = s->w->efd, .events = POLLIN };

				/* Re-check after arming, then block. */
				if (atomic_load(&s->queue) <= round) {
					int n;

					atomic_fetch_add(&s->blocked, 1);
					n = poll(&p, 1, 5000);

					if (n == 0) {
						atomic_store(&s->slept_through, 1);
						return NULL;
					}
					iouw_wake_acknowledge(s->w);
				}
				iouw_wake_disarm(s->w);
			}
		}
		atomic_store(&s->done, round + 1);
	}
	return NULL;
}

START_TEST(test_wake_handshake_never_sleeps_through_a_submission)
{
	struct iouw_wake w;
	struct sleeper s = { .w = &w, .rounds = 3000 };
	pthread_t th;

	ck_assert_int_eq(iouw_wake_init(&w), 0);
	atomic_init(&s.queue, 0);
	atomic_init(&s.slept_through, 0);
	atomic_init(&s.done, 0);
	atomic_init(&s.blocked, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, sleeper_main, &s), 0);
	for (int i = 0; i < s.rounds; i++) {
		/* Ping-pong: wait for the sleeper to finish the last round, then
		 * vary the gap so it is sometimes armed, sometimes blocked,
		 * sometimes still spinning when the submission lands. */
		while (atomic_load(&s.done) < i && !atomic_load(&s.slept_through))
			sched_yield();
		for (int spin = 0; spin < (i % 5) * 50; spin++)
			sched_yield();
		atomic_fetch_add(&s.queue, 1); /* enqueue, then publish */
		ck_assert_int_eq(iouw_wake_publish(&w), 0);
	}
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	{
		int slept = atomic_load(&s.slept_through), done = atomic_load(&s.done);

		ck_assert_msg(slept == 0, "sleeper slept through a submission in round %d", done);
		ck_assert_int_eq(done, s.rounds);
	}
	/* The test only means something if the sleeper really blocked. */
	ck_assert_int_gt(atomic_load(&s.blocked), 0);
	iouw_wake_destroy(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wake");
	TCase *tc = tcase_create("wake");

	iouw_test_add_fd_fixture(tc);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_wake_publish_arm_disarm_and_submitted);
	tcase_add_test(tc, test_wake_ring_and_acknowledge_empty_paths_keep_sequence_stable);
	tcase_add_test(tc, test_wake_reinstall_pushes_wake_poll);
	tcase_add_test(tc, test_wake_ring_and_acknowledge_error_branches);
	tcase_add_test(tc, test_wake_handshake_never_sleeps_through_a_submission);
	suite_add_tcase(s, tc);
	return iouw_test_run_suite(s);
}
