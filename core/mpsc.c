/* core/mpsc.c: bounded MPSC queue (see mpsc.h for the design). */
#include "mpsc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

struct iouw_mpsc_cell {
	_Atomic uint64_t seq;
	void *value;
};

struct iouw_mpsc {
	size_t mask;
	/* The bound producers see: mask + 1, except for capacity 1, which uses
	 * two cells (with one cell "published at p" and "free for lap p + 1"
	 * have the same sequence number, so a second push would overwrite an
	 * unpopped value) and enforces the bound against the head instead. */
	size_t bound;
	struct iouw_mpsc_cell *cells;
	/* Producers' and consumer's positions on separate cache lines. */
	_Alignas(64) _Atomic uint64_t tail;
	_Alignas(64) _Atomic uint64_t head;
};

int iouw_mpsc_new(size_t capacity, struct iouw_mpsc **ret)
{
	struct iouw_mpsc *q;

	if (!ret || capacity == 0 || capacity > ((size_t)1 << 24) || (capacity & (capacity - 1)))
		return -EINVAL;
	q = aligned_alloc(64, (sizeof(*q) + 63) / 64 * 64);
	if (!q)
		return -ENOMEM;
	q->bound = capacity;
	if (capacity < 2)
		capacity = 2;
	q->cells = calloc(capacity, sizeof(*q->cells));
	if (!q->cells) {
		free(q);
		return -ENOMEM;
	}
	for (size_t i = 0; i < capacity; i++)
		atomic_init(&q->cells[i].seq, i);
	q->mask = capacity - 1;
	atomic_init(&q->tail, 0);
	atomic_init(&q->head, 0);
	*ret = q;
	return 0;
}

void iouw_mpsc_free(struct iouw_mpsc *q)
{
	if (!q)
		return;
	free(q->cells);
	free(q);
}

int iouw_mpsc_push(struct iouw_mpsc *q, void *value)
{
	uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

	if (!value)
		return -EINVAL;
	for (;;) {
		struct iouw_mpsc_cell *cell = &q->cells[pos & q->mask];
		uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		int64_t diff = (int64_t)(seq - pos);

		if (diff == 0) {
			/* The cell is free for this lap: claim the position. */
			if (q->bound <= q->mask &&
			    pos - atomic_load_explicit(&q->head, memory_order_acquire) >= q->bound)
				return -EAGAIN;
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
			                                          memory_order_relaxed,
			                                          memory_order_relaxed)) {
				cell->value = value;
				atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
				return 0;
			}
			/* pos was reloaded by the failed CAS. */
		} else if (diff < 0) {
			/* The consumer has not freed this cell yet: full. */
			return -EAGAIN;
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

int iouw_mpsc_push_many(struct iouw_mpsc *q, void *const *values, size_t n)
{
	uint64_t pos;
	size_t done = 0;

	if (n == 0 || n > q->bound)
		return n == 0 ? -EINVAL : iouw_mpsc_push_many(q, values, q->bound);
	for (size_t i = 0; i < n; i++)
		if (!values[i])
			return -EINVAL;
	pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	for (;;) {
		/* The consumer frees cells in order, so the run is free for
		 * this lap exactly when its last cell is. */
		struct iouw_mpsc_cell *last = &q->cells[(pos + n - 1) & q->mask];
		uint64_t seq = atomic_load_explicit(&last->seq, memory_order_acquire);
		int64_t diff = (int64_t)(seq - (pos + n - 1));

		if (diff == 0 && q->bound <= q->mask &&
		    pos + n - atomic_load_explicit(&q->head, memory_order_acquire) > q->bound)
			break; /* capacity 1: the one slot is taken */
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + n,
			                                          memory_order_relaxed,
			                                          memory_order_relaxed)) {
				struct iouw_mpsc_cell *cells = q->cells;
				size_t mask = q->mask;

				for (size_t i = 0; i < n; i++) {
					cells[(pos + i) & mask].value = values[i];
					atomic_store_explicit(&cells[(pos + i) & mask].seq, pos + i + 1,
					                      memory_order_release);
				}
				return (int)n;
			}
		} else if (diff < 0) {
			break; /* not enough room for the whole run */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
	while (done < n && iouw_mpsc_push(q, values[done]) == 0)
		done++;
	return (int)done;
}

void *iouw_mpsc_peek(const struct iouw_mpsc *q)
{
	uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct iouw_mpsc_cell *cell = &q->cells[pos & q->mask];
	uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);

	return seq == pos + 1 ? cell->value : NULL;
}

void *iouw_mpsc_pop(struct iouw_mpsc *q)
{
	uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct iouw_mpsc_cell *cell = &q->cells[pos & q->mask];
	uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
	void *value;

	if (seq != pos + 1)
		return NULL;
	value = cell->value;
	cell->value = NULL;
	atomic_store_explicit(&q->head, pos + 1, memory_order_relaxed);
	/* Free the cell for the producers' next lap. */
	atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
	return value;
}

size_t iouw_mpsc_pop_many(struct iouw_mpsc *q, void **ret_values, size_t max)
{
	/* Locals: the acquire loads below would make the compiler reload
	 * q->cells and q->mask on every cell. */
	struct iouw_mpsc_cell *cells = q->cells;
	size_t mask = q->mask;
	uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	size_t n = 0;

	/* One pass: take each published cell and free it for the producers'
	 * next lap at once, in order (a producer checks the last cell of its
	 * run, see push_many). A producer that finds a cell freed before the
	 * head moved only sees the queue fuller than it is (the capacity-1
	 * bound is checked against the head). */
	for (; n < max; n++) {
		struct iouw_mpsc_cell *cell = &cells[(pos + n) & mask];

		if (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos + n + 1)
			break;
		ret_values[n] = cell->value;
		atomic_store_explicit(&cell->seq, pos + n + mask + 1, memory_order_release);
	}
	if (n > 0)
		atomic_store_explicit(&q->head, pos + n, memory_order_relaxed);
	return n;
}

size_t iouw_mpsc_len(const struct iouw_mpsc *q)
{
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	return tail > head ? (size_t)(tail - head) : 0;
}

size_t iouw_mpsc_capacity(const struct iouw_mpsc *q)
{
	return q->bound;
}
