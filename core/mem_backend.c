/* core/mem_backend.c: see mem_backend.h for the queues and their invariants. */
#include "mem_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"

struct mem_backend {
	struct iouw_backend base;

	/* SQ: pending[0..pending_len) in push order. */
	struct io_uring_sqe *pending;
	unsigned sq_entries;
	unsigned pending_len;

	/* Submitted log. */
	struct io_uring_sqe *submitted;
	size_t submitted_len;
	size_t submitted_cap;

	/* CQ ring: cq[(cq_head + i) % cq_entries] for i < cq_len. */
	struct iouw_cqe *cq;
	unsigned cq_entries;
	unsigned cq_head;
	unsigned cq_len;

	/* Overflow list: overflow[ov_head..ov_len), oldest first. */
	struct iouw_cqe *overflow;
	size_t ov_head;
	size_t ov_len;
	size_t ov_cap;
	size_t ov_limit;

	/* Bumped by every successful post; lets the wait loop see progress. */
	uint64_t posts;
	uint64_t wait_calls;

	int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns);
	void *hook_ctx;
	bool in_hook;

	int fail_err;
	unsigned fail_times;
};

static const struct iouw_backend_ops mem_ops;

static struct mem_backend *to_mem(struct iouw_backend *b)
{
	IOUW_INVARIANT(b != NULL && b->ops == &mem_ops, "mem backend call on another backend");
	return (struct mem_backend *)b;
}

static size_t overflow_count(const struct mem_backend *m)
{
	return m->ov_len - m->ov_head;
}

static size_t ready_count(const struct mem_backend *m)
{
	return (size_t)m->cq_len + overflow_count(m);
}

static int mem_push_sqe(struct iouw_backend *b, const struct io_uring_sqe *sqe)
{
	struct mem_backend *m = to_mem(b);

	if (m->pending_len == m->sq_entries)
		return -EBUSY;
	m->pending[m->pending_len++] = *sqe;
	return 0;
}

static int mem_push_sqes(struct iouw_backend *b, const struct io_uring_sqe *sqes, unsigned n)
{
	struct mem_backend *m = to_mem(b);

	if (m->sq_entries - m->pending_len < n)
		return -EBUSY;
	memcpy(&m->pending[m->pending_len], sqes, (size_t)n * sizeof(*sqes));
	m->pending_len += n;
	return 0;
}

static unsigned mem_sq_space(struct iouw_backend *b)
{
	struct mem_backend *m = to_mem(b);

	return m->sq_entries - m->pending_len;
}

/* Move the pending SQEs to the submitted log; how many, or -ENOMEM. */
static int submit_pending(struct mem_backend *m)
{
	unsigned n = m->pending_len;

	if (n == 0)
		return 0;
	if (m->submitted_len + n > m->submitted_cap) {
		size_t cap = m->submitted_cap ? m->submitted_cap : 16;
		struct io_uring_sqe *grown;

		while (cap < m->submitted_len + n)
			cap *= 2;
		grown = realloc(m->submitted, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		m->submitted = grown;
		m->submitted_cap = cap;
	}
	memcpy(&m->submitted[m->submitted_len], m->pending, n * sizeof(*m->pending));
	m->submitted_len += n;
	m->pending_len = 0;
	return (int)n;
}

static int mem_submit_and_wait(struct iouw_backend *b, unsigned wait_nr, int64_t timeout_ns)
{
	struct mem_backend *m = to_mem(b);
	int submitted;

	IOUW_INVARIANT(!m->in_hook, "mem backend wait hook re-entered");
	m->wait_calls++;
	if (m->fail_times > 0) {
		m->fail_times--;
		return m->fail_err;
	}
	submitted = submit_pending(m);
	if (submitted < 0)
		return submitted;
	while (wait_nr > 0 && ready_count(m) < wait_nr) {
		uint64_t posts_before = m->posts;
		int err;

		if (!m->hook)
			break;
		m->in_hook = true;
		err = m->hook(m->hook_ctx, wait_nr, timeout_ns);
		m->in_hook = false;
		if (err < 0)
			return err;
		if (m->posts == posts_before)
			break;
	}
	if (ready_count(m) >= wait_nr)
		return submitted;
	return timeout_ns >= 0 ? -ETIME : -EDEADLK;
}

/* Move parked CQEs into the ring while it has room. */
static void flush_overflow(struct mem_backend *m)
{
	while (overflow_count(m) > 0 && m->cq_len < m->cq_entries) {
		m->cq[(m->cq_head + m->cq_len) % m->cq_entries] = m->overflow[m->ov_head++];
		m->cq_len++;
	}
	if (m->ov_head == m->ov_len)
		m->ov_head = m->ov_len = 0;
}

static unsigned mem_reap(struct iouw_backend *b, struct iouw_cqe *out, unsigned max)
{
	struct mem_backend *m = to_mem(b);
	unsigned n = 0;

	while (n < max) {
		if (m->cq_len == 0) {
			flush_overflow(m);
			if (m->cq_len == 0)
				break;
		}
		out[n++] = m->cq[m->cq_head];
		m->cq_head = (m->cq_head + 1) % m->cq_entries;
		m->cq_len--;
	}
	flush_overflow(m);
	return n;
}

static void mem_free(struct iouw_backend *b)
{
	struct mem_backend *m = to_mem(b);

	free(m->pending);
	free(m->submitted);
	free(m->cq);
	free(m->overflow);
	free(m);
}

static const struct iouw_backend_ops mem_ops = {
	.push_sqe = mem_push_sqe,
	.push_sqes = mem_push_sqes,
	.sq_space = mem_sq_space,
	.submit_and_wait = mem_submit_and_wait,
	.reap = mem_reap,
	.free = mem_free,
};

int iouw_mem_backend_new(unsigned sq_entries, unsigned cq_entries, struct iouw_backend **ret)
{
	struct mem_backend *m;

	if (!ret || sq_entries == 0 || sq_entries > IOUW_MEM_BACKEND_MAX_ENTRIES ||
	    cq_entries > IOUW_MEM_BACKEND_MAX_ENTRIES)
		return -EINVAL;
	if (cq_entries == 0)
		cq_entries = 2 * sq_entries;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base.ops = &mem_ops;
	m->sq_entries = sq_entries;
	m->cq_entries = cq_entries;
	m->ov_limit = IOUW_MEM_BACKEND_DEFAULT_OVERFLOW_LIMIT;
	m->pending = calloc(sq_entries, sizeof(*m->pending));
	m->cq = calloc(cq_entries, sizeof(*m->cq));
	if (!m->pending || !m->cq) {
		mem_free(&m->base);
		return -ENOMEM;
	}
	*ret = &m->base;
	return 0;
}

size_t iouw_mem_backend_submitted(struct iouw_backend *b, const struct io_uring_sqe **ret_sqes)
{
	struct mem_backend *m = to_mem(b);

	*ret_sqes = m->submitted_len ? m->submitted : NULL;
	return m->submitted_len;
}

void iouw_mem_backend_clear_submitted(struct iouw_backend *b)
{
	to_mem(b)->submitted_len = 0;
}

static int overflow_append(struct mem_backend *m, const struct iouw_cqe *cqe)
{
	if (overflow_count(m) >= m->ov_limit)
		return -ENOSPC;
	if (m->ov_len == m->ov_cap) {
		if (m->ov_head > 0) {
			/* Compact before growing. */
			memmove(m->overflow, &m->overflow[m->ov_head],
			        overflow_count(m) * sizeof(*m->overflow));
			m->ov_len -= m->ov_head;
			m->ov_head = 0;
		} else {
			size_t cap = m->ov_cap ? 2 * m->ov_cap : 16;
			struct iouw_cqe *grown = realloc(m->overflow, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			m->overflow = grown;
			m->ov_cap = cap;
		}
	}
	m->overflow[m->ov_len++] = *cqe;
	return 0;
}

int iouw_mem_backend_post(struct iouw_backend *b, uint64_t user_data, int32_t res, uint32_t flags)
{
	struct mem_backend *m = to_mem(b);
	struct iouw_cqe cqe = { .user_data = user_data, .res = res, .flags = flags };

	if (overflow_count(m) == 0 && m->cq_len < m->cq_entries) {
		m->cq[(m->cq_head + m->cq_len) % m->cq_entries] = cqe;
		m->cq_len++;
	} else {
		int err = overflow_append(m, &cqe);

		if (err)
			return err;
	}
	m->posts++;
	return 0;
}

void iouw_mem_backend_set_wait_hook(struct iouw_backend *b,
                                    int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns),
                                    void *ctx)
{
	struct mem_backend *m = to_mem(b);

	m->hook = hook;
	m->hook_ctx = hook ? ctx : NULL;
}

void iouw_mem_backend_fail_next_wait(struct iouw_backend *b, int err, unsigned times)
{
	struct mem_backend *m = to_mem(b);

	IOUW_INVARIANT(times == 0 || err < 0, "mem backend fault is not a negative errno");
	m->fail_err = err;
	m->fail_times = times;
}

void iouw_mem_backend_set_overflow_limit(struct iouw_backend *b, size_t limit)
{
	to_mem(b)->ov_limit = limit;
}

size_t iouw_mem_backend_cq_ready(struct iouw_backend *b)
{
	return ready_count(to_mem(b));
}

bool iouw_mem_backend_cq_overflowed(struct iouw_backend *b)
{
	return overflow_count(to_mem(b)) > 0;
}

uint64_t iouw_mem_backend_wait_calls(struct iouw_backend *b)
{
	return to_mem(b)->wait_calls;
}
