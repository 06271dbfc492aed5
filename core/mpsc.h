/* core/mpsc.h: bounded multi-producer, single-consumer queue of pointers.
 *
 * What: the loop's inbound queue. Producers on any thread push requests; the
 * loop thread pops them when the waiter table has room.
 *
 * Design: Dmitry Vyukov's bounded array queue. Each cell carries a sequence
 * number; a producer claims a position with a CAS on the tail, writes the
 * value, then publishes it by storing sequence = position + 1 (release). The
 * consumer reads a cell only once its sequence says it was published
 * (acquire), then frees it for the producer one lap later by storing
 * sequence = position + capacity.
 *
 * Invariants: capacity is a power of two >= 1; a pushed pointer is popped
 * exactly once, in the order the producers' CASes on the tail succeeded;
 * push never blocks (a full queue returns -EAGAIN); pop is only ever called
 * by one thread at a time.
 *
 * Limits: values are non-NULL pointers. Positions are 64-bit and never wrap
 * in practice.
 */
#ifndef IOUW_MPSC_H
#define IOUW_MPSC_H

#include <stdbool.h>
#include <stddef.h>

struct iouw_mpsc;

/* Create a queue of @capacity slots (a power of two, 1 <= capacity <= 2^24;
 * capacity 1 uses two cells internally and still holds one value).
 * 0, -EINVAL or -ENOMEM. */
int iouw_mpsc_new(size_t capacity, struct iouw_mpsc **ret);
/* Free the queue (not the pointers it may still hold). NULL is a no-op. */
void iouw_mpsc_free(struct iouw_mpsc *q);
/* Any thread. 0, -EAGAIN when full, -EINVAL for a NULL value. */
int iouw_mpsc_push(struct iouw_mpsc *q, void *value);
/* Any thread. Push @values[0..n) as one contiguous run (one CAS for the
 * lot), or as many as fit one by one when the run does not. Returns how
 * many were pushed (0 when full), or -EINVAL for a NULL value or n == 0. */
int iouw_mpsc_push_many(struct iouw_mpsc *q, void *const *values, size_t n);
/* Consumer thread only. The oldest published value, or NULL when empty (or
 * when the oldest claimed cell is still being written by its producer). */
void *iouw_mpsc_pop(struct iouw_mpsc *q);
/* Consumer thread only. Pop up to @max values, oldest first, into
 * @ret_values (one head update for the lot); stops early at the first cell
 * not yet published, like pop(). Returns how many were popped. */
size_t iouw_mpsc_pop_many(struct iouw_mpsc *q, void **ret_values, size_t max);
/* Consumer thread only: the value pop() would return, without removing it. */
void *iouw_mpsc_peek(const struct iouw_mpsc *q);
/* Approximate number of queued values (exact when no push is racing). */
size_t iouw_mpsc_len(const struct iouw_mpsc *q);
size_t iouw_mpsc_capacity(const struct iouw_mpsc *q);

#endif /* IOUW_MPSC_H */
