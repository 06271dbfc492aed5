/* core/wake.h: the loop's wake path (docs/loop.md §6.7).
 *
 * What: producers on other threads must be able to wake a loop that sleeps in
 * io_uring_enter, without paying an eventfd write per submission. The loop
 * watches an eventfd through a multishot POLL_ADD whose CQE carries
 * IOUW_WAKE_USER_DATA; a producer writes the eventfd only when the loop has
 * announced that it is about to sleep.
 *
 * State: one atomic 64-bit word. Bit 0 is the sleep intent ("armed"), bits
 * 1..63 a sequence counter bumped by every publish. seen_seq (loop-only)
 * is the sequence the loop last accounted for: every fill records it
 * (iouw_wake_submitted) before it looks at the front door, as the
 * original advances its processed sequence in the fill, so the arm that
 * follows the fill only refuses to sleep for what was published after the
 * fill looked. (Updating it only in arm() cost every batch one wasted
 * non-blocking iteration: the first arm after a submit always saw a new
 * sequence, even though the fill had admitted the batch.)
 *
 *   DISARMED --arm(), nothing new since seen_seq--> ARMED (loop may block)
 *   DISARMED --arm(), publishes since seen_seq--> DISARMED (must not block)
 *   ARMED --publish()--> ARMED, eventfd rung (the poll CQE wakes the loop)
 *   ARMED --disarm()--> DISARMED
 *
 * Invariant (no lost wake-up): a producer enqueues, then publishes with an
 * acq_rel fetch_add; the loop arms with an acq_rel fetch_or, then re-checks
 * its queue. Either the producer's fetch_add sees the armed bit and rings,
 * or the loop's fetch_or happened after it and the loop sees the sequence
 * change (and the enqueued value) before blocking.
 *
 * Ownership: the eventfd belongs to the wake (closed by iouw_wake_destroy).
 */
#ifndef IOUW_WAKE_H
#define IOUW_WAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct io_uring_sqe;

struct iouw_wake {
	int efd;
	_Atomic uint64_t state;
	uint64_t seen_seq; /* loop thread only */
};

/* Create the eventfd (non-blocking, close-on-exec). 0 or -errno. */
int iouw_wake_init(struct iouw_wake *w);
/* Close the eventfd. Safe on a wake whose init failed or was destroyed. */
void iouw_wake_destroy(struct iouw_wake *w);

/* Producer side, any thread, after enqueuing: bump the sequence and ring the
 * eventfd if the loop is armed. 0, or the -errno of a failed eventfd write. */
int iouw_wake_publish(struct iouw_wake *w);
/* Ring the eventfd unconditionally (closing the front door). 0 or -errno;
 * a saturated counter (-EAGAIN) already means "rung" and returns 0. */
int iouw_wake_ring(struct iouw_wake *w);

/* Loop side. Announce the intent to sleep. Returns true when nothing was
 * published since the loop last accounted for it, so blocking is safe once
 * the caller's own re-check passes; false (and disarmed again) otherwise. */
bool iouw_wake_arm(struct iouw_wake *w);
/* Loop side. Withdraw the sleep intent after waking. */
void iouw_wake_disarm(struct iouw_wake *w);
/* Loop side. True when something was published since the last call (or
 * arm()), and account for it. The loop calls it at the start of every fill,
 * before it looks at the front door (an acquire load: a request published
 * before the sequence read here is visible to the fill's pops). */
bool iouw_wake_submitted(struct iouw_wake *w);
/* Loop side. Drain the eventfd counter after its poll CQE. 0 (also when it
 * was already empty), or -errno. Never changes the sequence. */
int iouw_wake_acknowledge(struct iouw_wake *w);
/* Loop side. Prepare the multishot POLL_ADD on the eventfd with
 * user_data IOUW_WAKE_USER_DATA into the zeroed @sqe. */
void iouw_wake_prep_poll(const struct iouw_wake *w, struct io_uring_sqe *sqe);

/* Current sequence and armed bit, for tests and the harness. */
uint64_t iouw_wake_sequence(const struct iouw_wake *w);
bool iouw_wake_is_armed(const struct iouw_wake *w);

#endif /* IOUW_WAKE_H */
