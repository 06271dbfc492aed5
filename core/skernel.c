/* core/skernel.c: see skernel.h for the transports, queues and invariants.
 * (Grown from the memory backend: its SQ, submitted log, CQ ring and
 * overflow list are the memory transport; the ring transport came from the
 * `ring` fuzz target's io and the harness's inject mode.) */
#define _GNU_SOURCE
#include "skernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "invariant.h"
#include "udata.h"

/* How long a ring post waits for its CQE to show (it normally completes
 * inline, during the submit). */
#define RING_POST_WAIT_NS (UINT64_C(2000000000))

struct answer {
	uint64_t user_data;
	int32_t res;
};

struct skernel {
	struct iouw_backend base;
	enum iouw_skernel_transport transport;

	/* SQ: pending[0..pending_len) in push order. */
	struct io_uring_sqe *pending;
	unsigned sq_entries;
	unsigned pending_len;

	/* Submitted log. */
	struct io_uring_sqe *submitted;
	size_t submitted_len;
	size_t submitted_cap;

	/* Memory transport. CQ ring: cq[(cq_head + i) % cq_entries] for
	 * i < cq_len. */
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

	/* Ring transports: the uring backend (owned) and its ring; CQEs
	 * posted and reaped through it. */
	struct iouw_backend *uring;
	struct io_uring *ring;
	uint64_t ring_posted;
	uint64_t ring_reaped;
	uint64_t carrier_failures;

	/* Answers for blocking waits: answers[ans_head..ans_len). */
	struct answer *answers;
	size_t ans_head;
	size_t ans_len;
	size_t ans_cap;

	/* Bumped by every successful post; lets the wait loop see progress. */
	uint64_t posts;
	uint64_t wait_calls;

	int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns);
	void *hook_ctx;
	bool in_hook;
	struct iouw_virtual_clock *vc;

	int fail_err;
	unsigned fail_times;
};

static const struct iouw_backend_ops sk_ops;

static struct skernel *to_sk(struct iouw_backend *b)
{
	IOUW_INVARIANT(b != NULL && b->ops == &sk_ops, "scripted kernel call on another backend");
	return (struct skernel *)b;
}

static size_t overflow_count(const struct skernel *m)
{
	return m->ov_len - m->ov_head;
}

static size_t ready_count(const struct skernel *m)
{
	if (m->transport != IOUW_SKERNEL_MEMORY)
		return (size_t)(m->ring_posted - m->ring_reaped);
	return (size_t)m->cq_len + overflow_count(m);
}

static int sk_push_sqe(struct iouw_backend *b, const struct io_uring_sqe *sqe)
{
	struct skernel *m = to_sk(b);

	if (m->pending_len == m->sq_entries)
		return -EBUSY;
	m->pending[m->pending_len++] = *sqe;
	return 0;
}

static int sk_push_sqes(struct iouw_backend *b, const struct io_uring_sqe *sqes, unsigned n)
{
	struct skernel *m = to_sk(b);

	if (m->sq_entries - m->pending_len < n)
		return -EBUSY;
	memcpy(&m->pending[m->pending_len], sqes, (size_t)n * sizeof(*sqes));
	m->pending_len += n;
	return 0;
}

static unsigned sk_sq_space(struct iouw_backend *b)
{
	struct skernel *m = to_sk(b);

	return m->sq_entries - m->pending_len;
}

/* Move the pending SQEs to the submitted log; how many, or -ENOMEM. */
static int submit_pending(struct skernel *m)
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

/* One round of answering a wait the loop would block in: the next queued
 * answer, else the hook. 0, or the hook's negative return. */
static int answer_round(struct skernel *m, unsigned wait_nr, int64_t timeout_ns)
{
	int err;

	if (m->ans_head < m->ans_len) {
		struct answer a = m->answers[m->ans_head++];

		if (m->ans_head == m->ans_len)
			m->ans_head = m->ans_len = 0;
		return iouw_skernel_post(&m->base, a.user_data, a.res, 0);
	}
	if (!m->hook)
		return 0;
	m->in_hook = true;
	err = m->hook(m->hook_ctx, wait_nr, timeout_ns);
	m->in_hook = false;
	return err;
}

static int sk_submit_and_wait(struct iouw_backend *b, unsigned wait_nr, int64_t timeout_ns)
{
	struct skernel *m = to_sk(b);
	int submitted;

	IOUW_INVARIANT(!m->in_hook, "scripted kernel wait hook re-entered");
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
		int err = answer_round(m, wait_nr, timeout_ns);

		if (err < 0)
			return err;
		if (m->posts == posts_before)
			break;
	}
	if (ready_count(m) >= wait_nr)
		return submitted;
	if (timeout_ns < 0)
		return -EDEADLK;
	if (m->vc)
		iouw_virtual_clock_advance(m->vc, (uint64_t)timeout_ns);
	return -ETIME;
}

/* Memory transport: move parked CQEs into the ring while it has room. */
static void flush_overflow(struct skernel *m)
{
	while (overflow_count(m) > 0 && m->cq_len < m->cq_entries) {
		m->cq[(m->cq_head + m->cq_len) % m->cq_entries] = m->overflow[m->ov_head++];
		m->cq_len++;
	}
	if (m->ov_head == m->ov_len)
		m->ov_head = m->ov_len = 0;
}

static unsigned mem_reap(struct skernel *m, struct iouw_cqe *out, unsigned max)
{
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

/* Ring transports: the uring backend's reap (overflow list included),
 * without the carriers' own CQEs (only a failed carrier posts one: its
 * message never comes). */
static unsigned ring_reap(struct skernel *m, struct iouw_cqe *out, unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		unsigned got = iouw_backend_reap(m->uring, out + n, max - n), kept = 0;

		if (got == 0)
			break;
		for (unsigned i = 0; i < got; i++) {
			if (out[n + i].user_data == IOUW_UDATA_INJECT_CARRIER) {
				m->carrier_failures++;
				if (m->ring_posted > m->ring_reaped)
					m->ring_posted--;
				continue;
			}
			out[n + kept++] = out[n + i];
		}
		n += kept;
	}
	m->ring_reaped += n;
	return n;
}

static unsigned sk_reap(struct iouw_backend *b, struct iouw_cqe *out, unsigned max)
{
	struct skernel *m = to_sk(b);

	return m->transport == IOUW_SKERNEL_MEMORY ? mem_reap(m, out, max) : ring_reap(m, out, max);
}

static void sk_free(struct iouw_backend *b)
{
	struct skernel *m = to_sk(b);

	iouw_backend_free(m->uring);
	free(m->pending);
	free(m->submitted);
	free(m->cq);
	free(m->overflow);
	free(m->answers);
	free(m);
}

static const struct iouw_backend_ops sk_ops = {
	.push_sqe = sk_push_sqe,
	.push_sqes = sk_push_sqes,
	.sq_space = sk_sq_space,
	.submit_and_wait = sk_submit_and_wait,
	.reap = sk_reap,
	.free = sk_free,
};

static bool bad_sizes(unsigned sq_entries, unsigned cq_entries)
{
	return sq_entries == 0 || sq_entries > IOUW_SKERNEL_MAX_ENTRIES ||
	       cq_entries > IOUW_SKERNEL_MAX_ENTRIES;
}

static struct skernel *sk_alloc(enum iouw_skernel_transport transport, unsigned sq_entries)
{
	struct skernel *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->base.ops = &sk_ops;
	m->transport = transport;
	m->sq_entries = sq_entries;
	m->ov_limit = IOUW_SKERNEL_DEFAULT_OVERFLOW_LIMIT;
	m->pending = calloc(sq_entries, sizeof(*m->pending));
	if (!m->pending) {
		free(m);
		return NULL;
	}
	return m;
}

int iouw_skernel_new_mem(unsigned sq_entries, unsigned cq_entries, struct iouw_backend **ret)
{
	struct skernel *m;

	if (!ret || bad_sizes(sq_entries, cq_entries))
		return -EINVAL;
	if (cq_entries == 0)
		cq_entries = 2 * sq_entries;
	m = sk_alloc(IOUW_SKERNEL_MEMORY, sq_entries);
	if (!m)
		return -ENOMEM;
	m->cq_entries = cq_entries;
	m->cq = calloc(cq_entries, sizeof(*m->cq));
	if (!m->cq) {
		sk_free(&m->base);
		return -ENOMEM;
	}
	*ret = &m->base;
	return 0;
}

int iouw_skernel_new_ring(unsigned sq_entries, struct iouw_backend *uring,
                          enum iouw_skernel_transport how, struct iouw_backend **ret)
{
	struct io_uring *ring = uring ? iouw_uring_backend_ring(uring) : NULL;
	struct skernel *m;

	if (!ret || !ring || bad_sizes(sq_entries, 0) ||
	    (how != IOUW_SKERNEL_NOP_INJECT && how != IOUW_SKERNEL_MSG_RING)) {
		iouw_backend_free(uring);
		return -EINVAL;
	}
	m = sk_alloc(how, sq_entries);
	if (!m) {
		iouw_backend_free(uring);
		return -ENOMEM;
	}
	m->uring = uring;
	m->ring = ring;
	*ret = &m->base;
	return 0;
}

int iouw_skernel_new_injecting(const struct iouw_uring_config *cfg, unsigned sq_entries,
                               bool force_msg_ring, struct iouw_backend **ret,
                               int *ret_nop_err)
{
	struct iouw_backend *uring;
	enum iouw_skernel_transport how = IOUW_SKERNEL_NOP_INJECT;
	int err = iouw_uring_backend_new(cfg, &uring);

	if (err < 0)
		return err;
	err = force_msg_ring ? -EOPNOTSUPP : iouw_uring_probe_nop_inject(uring);
	if (ret_nop_err)
		*ret_nop_err = err;
	if (err < 0) {
		err = iouw_uring_probe_msg_ring(uring);
		if (err < 0) {
			iouw_backend_free(uring);
			return err;
		}
		how = IOUW_SKERNEL_MSG_RING;
	}
	return iouw_skernel_new_ring(sq_entries, uring, how, ret);
}

enum iouw_skernel_transport iouw_skernel_transport(struct iouw_backend *b)
{
	return to_sk(b)->transport;
}

const char *iouw_skernel_transport_name(struct iouw_backend *b)
{
	switch (to_sk(b)->transport) {
	case IOUW_SKERNEL_NOP_INJECT:
		return "nop-inject";
	case IOUW_SKERNEL_MSG_RING:
		return "msg-ring";
	case IOUW_SKERNEL_MEMORY:
		break;
	}
	return "memory";
}

struct io_uring *iouw_skernel_ring(struct iouw_backend *b)
{
	return to_sk(b)->ring;
}

int iouw_skernel_reset(struct iouw_backend *b, unsigned sq_entries, unsigned cq_entries)
{
	struct skernel *m = to_sk(b);
	struct io_uring_sqe *pending;

	if (bad_sizes(sq_entries, cq_entries))
		return -EINVAL;
	if (m->transport == IOUW_SKERNEL_MEMORY) {
		struct iouw_cqe *cq;

		if (cq_entries == 0)
			cq_entries = 2 * sq_entries;
		cq = calloc(cq_entries, sizeof(*cq));
		if (!cq)
			return -ENOMEM;
		free(m->cq);
		m->cq = cq;
		m->cq_entries = cq_entries;
		m->cq_head = m->cq_len = 0;
		m->ov_head = m->ov_len = 0;
	} else {
		struct iouw_cqe cqes[32];

		/* Throw away what nobody reaped (the ring's CQ is fixed). */
		while (ring_reap(m, cqes, 32) > 0)
			;
		m->ring_posted = m->ring_reaped = 0;
	}
	if (sq_entries != m->sq_entries) {
		pending = realloc(m->pending, sq_entries * sizeof(*pending));
		if (!pending)
			return -ENOMEM;
		m->pending = pending;
		m->sq_entries = sq_entries;
	}
	m->pending_len = 0;
	m->submitted_len = 0;
	m->ans_head = m->ans_len = 0;
	m->fail_times = 0;
	return 0;
}

size_t iouw_skernel_submitted(struct iouw_backend *b, const struct io_uring_sqe **ret_sqes)
{
	struct skernel *m = to_sk(b);

	*ret_sqes = m->submitted_len ? m->submitted : NULL;
	return m->submitted_len;
}

void iouw_skernel_clear_submitted(struct iouw_backend *b)
{
	to_sk(b)->submitted_len = 0;
}

static int overflow_append(struct skernel *m, const struct iouw_cqe *cqe)
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

static int mem_post(struct skernel *m, uint64_t user_data, int32_t res, uint32_t flags)
{
	struct iouw_cqe cqe = { .user_data = user_data, .res = res, .flags = flags };

	if (overflow_count(m) == 0 && m->cq_len < m->cq_entries) {
		m->cq[(m->cq_head + m->cq_len) % m->cq_entries] = cqe;
		m->cq_len++;
		return 0;
	}
	return overflow_append(m, &cqe);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ring transports: one carrier SQE per CQE, submitted at once; then wait
 * (bounded) until the CQE is in the CQ ring or parked in the overflow list,
 * so that ready_count() never counts a CQE reap cannot find yet. */
static int ring_post(struct skernel *m, uint64_t user_data, int32_t res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(m->ring);
	uint64_t end;
	int rc;

	if (!sqe)
		return -EBUSY; /* never: every post submits at once */
	if (m->transport == IOUW_SKERNEL_MSG_RING) {
		iouw_uring_prep_inject_msg_ring(sqe, m->ring->ring_fd, user_data, res,
		                                IOUW_UDATA_INJECT_CARRIER);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	} else {
		iouw_uring_prep_inject(sqe, user_data, res);
	}
	rc = io_uring_submit(m->ring);
	if (rc < 0)
		return rc;
	if (rc != 1)
		return -EIO;
	m->ring_posted++;
	end = mono_ns() + RING_POST_WAIT_NS;
	while (!io_uring_cq_has_overflow(m->ring) &&
	       io_uring_cq_ready(m->ring) + iouw_uring_backend_stashed(m->uring) <
	               m->ring_posted - m->ring_reaped &&
	       mono_ns() < end) {
		struct timespec pause = { 0, 100000 };

		(void)io_uring_get_events(m->ring);
		nanosleep(&pause, NULL);
	}
	return 0;
}

int iouw_skernel_post(struct iouw_backend *b, uint64_t user_data, int32_t res, uint32_t flags)
{
	struct skernel *m = to_sk(b);
	int err = m->transport == IOUW_SKERNEL_MEMORY ? mem_post(m, user_data, res, flags)
	                                              : ring_post(m, user_data, res);

	if (err)
		return err;
	m->posts++;
	return 0;
}

int iouw_skernel_queue_answer(struct iouw_backend *b, uint64_t user_data, int32_t res)
{
	struct skernel *m = to_sk(b);

	if (m->ans_len == m->ans_cap) {
		size_t cap = m->ans_cap ? 2 * m->ans_cap : 8;
		struct answer *grown = realloc(m->answers, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		m->answers = grown;
		m->ans_cap = cap;
	}
	m->answers[m->ans_len].user_data = user_data;
	m->answers[m->ans_len].res = res;
	m->ans_len++;
	return 0;
}

size_t iouw_skernel_answers_left(struct iouw_backend *b)
{
	struct skernel *m = to_sk(b);

	return m->ans_len - m->ans_head;
}

void iouw_skernel_set_wait_hook(struct iouw_backend *b,
                                int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns),
                                void *ctx)
{
	struct skernel *m = to_sk(b);

	m->hook = hook;
	m->hook_ctx = hook ? ctx : NULL;
}

void iouw_skernel_set_clock(struct iouw_backend *b, struct iouw_virtual_clock *vc)
{
	to_sk(b)->vc = vc;
}

void iouw_skernel_fail_next_wait(struct iouw_backend *b, int err, unsigned times)
{
	struct skernel *m = to_sk(b);

	IOUW_INVARIANT(times == 0 || err < 0, "scripted kernel fault is not a negative errno");
	m->fail_err = err;
	m->fail_times = times;
}

void iouw_skernel_set_overflow_limit(struct iouw_backend *b, size_t limit)
{
	to_sk(b)->ov_limit = limit;
}

size_t iouw_skernel_cq_ready(struct iouw_backend *b)
{
	return ready_count(to_sk(b));
}

bool iouw_skernel_cq_overflowed(struct iouw_backend *b)
{
	struct skernel *m = to_sk(b);

	if (m->transport != IOUW_SKERNEL_MEMORY)
		return io_uring_cq_has_overflow(m->ring);
	return overflow_count(m) > 0;
}

uint64_t iouw_skernel_wait_calls(struct iouw_backend *b)
{
	return to_sk(b)->wait_calls;
}

uint64_t iouw_skernel_carrier_failures(struct iouw_backend *b)
{
	return to_sk(b)->carrier_failures;
}
