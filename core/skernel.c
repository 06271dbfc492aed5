/* core/skernel.c: see skernel.h for the transports, queues and invariants.
 * (Grown from the memory backend: its SQ, submitted log, CQ ring and
 * overflow list are the memory transport; the ring transport came from the
 * `ring` fuzz target's io and the harness's inject mode.) */
#define _GNU_SOURCE
#include "skernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "invariant.h"
#include "udata.h"
#include "waiter.h"

/* How long a ring post waits for its CQE to show (it normally completes
 * inline, during the submit). */
#define RING_POST_WAIT_NS (UINT64_C(2000000000))

struct answer {
	uint64_t user_data; /* when !keyed */
	uint64_t key;       /* when keyed: the binding's user_data */
	bool keyed;
	int32_t res;
};

struct binding {
	uint64_t key;
	uint64_t user_data;
};

/* An op SQE captured and not yet answered (data movement). */
struct outstanding {
	struct io_uring_sqe sqe;
	struct iovec *iov; /* WRITEV: a copy of its iovec array */
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
	/* What the answers did, for the driver to read after the loop call. */
	struct iouw_skernel_answered *answered;
	size_t answered_len;
	size_t answered_cap;
	struct binding *bindings;
	size_t nbindings;
	size_t bindings_cap;

	/* Kernel transport: CQEs the driver released to reap. */
	uint64_t released;
	/* Extra SQE flags by user_data (kernel transport forwarding). */
	struct binding *flags;
	size_t nflags;
	size_t flags_cap;

	/* Ring transports: the I/O a positive result implies is done. */
	bool move_data;
	struct outstanding *ops;
	size_t nops;
	size_t ops_cap;
	uint64_t post_timeout_ns;
	uint64_t wait_limit;

	/* Bumped by every successful post; lets the wait loop see progress. */
	uint64_t posts;
	uint64_t wait_calls;
	struct iouw_skernel_wait last_wait;

	int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns);
	void *hook_ctx;
	bool in_hook;
	struct iouw_virtual_clock *vc;

	int fail_err;
	unsigned fail_times;
	bool fail_after_submit;
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
	if (m->transport == IOUW_SKERNEL_KERNEL)
		return (size_t)(m->released - m->ring_reaped);
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

/* The extra SQE flags the driver set for @user_data (0 if none). */
static uint8_t flags_for(const struct skernel *m, uint64_t user_data)
{
	for (size_t i = 0; i < m->nflags; i++)
		if (m->flags[i].key == user_data)
			return (uint8_t)m->flags[i].user_data;
	return 0;
}

/* Kernel transport: the real kernel runs the captured SQEs (the loop's own
 * reserved user_data, its wake poll, stays here: a scripted loop never
 * needs waking). */
static int forward(struct skernel *m, const struct io_uring_sqe *sqes, unsigned n)
{
	int err;

	for (unsigned i = 0; i < n; i++) {
		struct io_uring_sqe fwd = sqes[i];

		if (iouw_udata_is_reserved(fwd.user_data))
			continue;
		fwd.flags |= flags_for(m, fwd.user_data);
		err = iouw_backend_push_sqe(m->uring, &fwd);
		/* Our SQ is no larger than the ring's, which every submit
		 * empties (new_ring checks the sizes). */
		IOUW_INVARIANT(err == 0, "scripted kernel forwarded more SQEs than the ring holds");
	}
	err = iouw_backend_submit_and_wait(m->uring, 0, IOUW_BACKEND_NO_TIMEOUT);
	if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
		return err;
	return 0;
}

static bool moves_data(uint8_t opcode)
{
	return opcode == IORING_OP_RECV || opcode == IORING_OP_READ || opcode == IORING_OP_SEND ||
	       opcode == IORING_OP_WRITE || opcode == IORING_OP_WRITEV;
}

static struct outstanding *find_op(struct skernel *m, uint64_t user_data)
{
	for (size_t i = 0; i < m->nops; i++)
		if (m->ops[i].sqe.user_data == user_data)
			return &m->ops[i];
	return NULL;
}

static void drop_op(struct skernel *m, struct outstanding *o)
{
	free(o->iov);
	*o = m->ops[--m->nops];
}

/* Remember an op SQE that moves data until a CQE answers it (its buffers,
 * and a WRITEV's iovec array, stay alive while its request lives). */
static int capture_op(struct skernel *m, const struct io_uring_sqe *sqe)
{
	struct outstanding *o;

	if (!moves_data(sqe->opcode) || iouw_udata_is_reserved(sqe->user_data))
		return 0;
	if ((o = find_op(m, sqe->user_data)) != NULL)
		drop_op(m, o);
	if (m->nops == m->ops_cap) {
		size_t cap = m->ops_cap ? 2 * m->ops_cap : 8;
		struct outstanding *grown = realloc(m->ops, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		m->ops = grown;
		m->ops_cap = cap;
	}
	o = &m->ops[m->nops];
	o->sqe = *sqe;
	o->iov = NULL;
	if (sqe->opcode == IORING_OP_WRITEV && sqe->len > 0) {
		o->iov = malloc(sqe->len * sizeof(*o->iov));
		if (!o->iov)
			return -ENOMEM;
		memcpy(o->iov, (const void *)(uintptr_t)sqe->addr, sqe->len * sizeof(*o->iov));
	}
	m->nops++;
	return 0;
}

/* Do the I/O a result of @res bytes implies for the op @o, as the kernel
 * would have (moved from the scenario harness's inject mode). */
static void do_io(const struct outstanding *o, int32_t res)
{
	const struct io_uring_sqe *s = &o->sqe;
	size_t n = (size_t)res;
	void *addr = (void *)(uintptr_t)s->addr;

	if (s->opcode != IORING_OP_WRITEV && n > s->len)
		n = s->len;
	switch (s->opcode) {
	case IORING_OP_RECV:
		(void)!recv(s->fd, addr, n, MSG_DONTWAIT);
		break;
	case IORING_OP_READ:
		if (pread(s->fd, addr, n, (off_t)s->off) < 0 && errno == ESPIPE)
			(void)!read(s->fd, addr, n); /* pipes: no offset */
		break;
	case IORING_OP_SEND:
		(void)!send(s->fd, addr, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	case IORING_OP_WRITE:
		if (pwrite(s->fd, addr, n, (off_t)s->off) < 0 && errno == ESPIPE)
			(void)!write(s->fd, addr, n);
		break;
	case IORING_OP_WRITEV: {
		struct iovec iov[64];
		unsigned k = 0;
		size_t left = n;
		struct stat sb;

		for (unsigned i = 0; i < s->len && left > 0 && k < 64; i++, k++) {
			iov[k] = o->iov[i];
			if (iov[k].iov_len > left)
				iov[k].iov_len = left;
			left -= iov[k].iov_len;
		}
		if (fstat(s->fd, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = k };

			(void)!sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			(void)!pwritev(s->fd, iov, (int)k, (off_t)s->off);
		}
		break;
	}
	default:
		break;
	}
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
	if (m->move_data)
		for (unsigned i = 0; i < n; i++)
			if (capture_op(m, &m->pending[i]) < 0)
				return -ENOMEM;
	if (m->transport == IOUW_SKERNEL_KERNEL) {
		int err = forward(m, m->pending, n);

		if (err < 0)
			return err;
	}
	memcpy(&m->submitted[m->submitted_len], m->pending, n * sizeof(*m->pending));
	m->submitted_len += n;
	m->pending_len = 0;
	return (int)n;
}


/* Kernel transport: wait (bounded) until the kernel has posted a CQE
 * beyond those released; 0 with its values, or -ETIME. */
static int next_kernel_cqe(struct skernel *m, struct iouw_skernel_answered *ret)
{
	uint64_t end = iouw_monotonic_ns() + m->post_timeout_ns;
	unsigned idx = (unsigned)(m->released - m->ring_reaped);

	while (io_uring_cq_ready(m->ring) <= idx) {
		struct timespec pause = { 0, 100000 };

		if (iouw_monotonic_ns() >= end || idx >= m->ring->cq.ring_entries)
			return -ETIME;
		(void)io_uring_get_events(m->ring);
		nanosleep(&pause, NULL);
	}
	{
		unsigned head = io_uring_smp_load_acquire(m->ring->cq.khead);
		const struct io_uring_cqe *c = &m->ring->cq.cqes[(head + idx) & m->ring->cq.ring_mask];

		ret->user_data = c->user_data;
		ret->res = c->res;
	}
	return 0;
}

static int answered_append(struct skernel *m, const struct iouw_skernel_answered *a)
{
	if (m->answered_len == m->answered_cap) {
		size_t cap = m->answered_cap ? 2 * m->answered_cap : 8;
		struct iouw_skernel_answered *grown = realloc(m->answered, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		m->answered = grown;
		m->answered_cap = cap;
	}
	m->answered[m->answered_len++] = *a;
	return 0;
}

/* Post (or, on the kernel transport, release) one queued answer and log
 * what happened; a failed answer makes the wait return -EIO. */
static int answer_one(struct skernel *m, const struct answer *a)
{
	struct iouw_skernel_answered done = { .key = a->key, .keyed = a->keyed,
		                              .user_data = a->user_data, .res = a->res };
	int err = 0;

	if (a->keyed) {
		size_t i;

		for (i = 0; i < m->nbindings && m->bindings[i].key != a->key; i++)
			;
		if (i == m->nbindings)
			err = -ENOENT;
		else
			done.user_data = m->bindings[i].user_data;
	}
	if (!err && m->transport == IOUW_SKERNEL_KERNEL) {
		err = next_kernel_cqe(m, &done);
		if (!err)
			iouw_skernel_release(&m->base, 1);
	} else if (!err) {
		err = iouw_skernel_post(&m->base, done.user_data, done.res, 0);
		done.overflowed = iouw_skernel_cq_overflowed(&m->base);
	}
	done.err = err;
	if (answered_append(m, &done) < 0)
		return -ENOMEM;
	return err < 0 ? -EIO : 0;
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
		return answer_one(m, &a);
	}
	if (!m->hook)
		return 0;
	m->in_hook = true;
	err = m->hook(m->hook_ctx, wait_nr, timeout_ns);
	m->in_hook = false;
	return err;
}

/* submit_and_wait's rules (header, steps 1-4); *@end says which one
 * ended the call. */
static int wait_rules(struct skernel *m, unsigned wait_nr, int64_t timeout_ns,
                      enum iouw_skernel_wait_end *end)
{
	int submitted;
	bool answered = false;

	*end = IOUW_SKERNEL_WAIT_ERROR;
	if (m->wait_limit && m->wait_calls > m->wait_limit)
		return -ELOOP;
	*end = IOUW_SKERNEL_WAIT_FAULT;
	if (m->fail_times > 0 && !m->fail_after_submit) {
		m->fail_times--;
		return m->fail_err;
	}
	*end = IOUW_SKERNEL_WAIT_ERROR;
	submitted = submit_pending(m);
	if (submitted < 0)
		return submitted;
	*end = IOUW_SKERNEL_WAIT_FAULT;
	if (m->fail_times > 0) {
		m->fail_times--;
		return m->fail_err;
	}
	*end = wait_nr == 0 ? IOUW_SKERNEL_WAIT_NOBLOCK : IOUW_SKERNEL_WAIT_READY;
	while (wait_nr > 0 && ready_count(m) < wait_nr) {
		uint64_t posts_before = m->posts;
		int err = answer_round(m, wait_nr, timeout_ns);

		if (err < 0) {
			*end = IOUW_SKERNEL_WAIT_ERROR;
			return err;
		}
		if (m->posts == posts_before)
			break;
		answered = true;
	}
	if (ready_count(m) >= wait_nr) {
		if (answered)
			*end = IOUW_SKERNEL_WAIT_ANSWERED;
		return submitted;
	}
	*end = timeout_ns < 0 ? IOUW_SKERNEL_WAIT_DEADLOCK : IOUW_SKERNEL_WAIT_TIMEOUT;
	if (timeout_ns < 0)
		return -EDEADLK;
	if (m->vc)
		iouw_virtual_clock_advance(m->vc, (uint64_t)timeout_ns);
	return -ETIME;
}

static int sk_submit_and_wait(struct iouw_backend *b, unsigned wait_nr, int64_t timeout_ns)
{
	struct skernel *m = to_sk(b);
	uint64_t t0 = m->vc ? m->vc->now_ns : 0;
	struct iouw_skernel_wait *w = &m->last_wait;

	IOUW_INVARIANT(!m->in_hook, "scripted kernel wait hook re-entered");
	m->wait_calls++;
	w->wait_nr = wait_nr;
	w->timeout_ns = timeout_ns;
	w->res = wait_rules(m, wait_nr, timeout_ns, &w->end);
	w->moved_ns = m->vc ? m->vc->now_ns - t0 : 0;
	return w->res;
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

	/* The kernel transport hands out only what the driver released. */
	if (m->transport == IOUW_SKERNEL_KERNEL && max > m->released - m->ring_reaped)
		max = (unsigned)(m->released - m->ring_reaped);

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
	free(m->answered);
	free(m->bindings);
	free(m->flags);
	while (m->nops > 0)
		drop_op(m, &m->ops[m->nops - 1]);
	free(m->ops);
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
	m->post_timeout_ns = RING_POST_WAIT_NS;
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

	if (!ret || !ring || bad_sizes(sq_entries, 0) || how == IOUW_SKERNEL_MEMORY ||
	    (unsigned)how > IOUW_SKERNEL_KERNEL ||
	    (how == IOUW_SKERNEL_KERNEL && sq_entries > ring->sq.ring_entries)) {
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
	case IOUW_SKERNEL_KERNEL:
		return "kernel";
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

	if (bad_sizes(sq_entries, cq_entries) ||
	    (m->transport == IOUW_SKERNEL_KERNEL && sq_entries > m->ring->sq.ring_entries))
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
		m->ring_posted = m->ring_reaped = m->released = 0;
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
	m->answered_len = 0;
	m->nbindings = 0;
	m->fail_times = 0;
	while (m->nops > 0)
		drop_op(m, &m->ops[m->nops - 1]);
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
	end = iouw_monotonic_ns() + m->post_timeout_ns;
	while (!io_uring_cq_has_overflow(m->ring) &&
	       io_uring_cq_ready(m->ring) + iouw_uring_backend_stashed(m->uring) <
	               m->ring_posted - m->ring_reaped) {
		struct timespec pause = { 0, 100000 };

		if (iouw_monotonic_ns() >= end)
			return -ETIME;
		(void)io_uring_get_events(m->ring);
		nanosleep(&pause, NULL);
	}
	if (!io_uring_cq_has_overflow(m->ring)) {
		/* The newest CQE in the ring is this one: check its values. */
		unsigned tail = io_uring_smp_load_acquire(m->ring->cq.ktail);
		const struct io_uring_cqe *c = &m->ring->cq.cqes[(tail - 1) & m->ring->cq.ring_mask];

		if (c->user_data != user_data || c->res != res)
			return -EPROTO;
	}
	return 0;
}

int iouw_skernel_post(struct iouw_backend *b, uint64_t user_data, int32_t res, uint32_t flags)
{
	struct skernel *m = to_sk(b);
	struct outstanding *o;
	int err;

	if (m->transport == IOUW_SKERNEL_KERNEL)
		return -EOPNOTSUPP;
	if ((o = find_op(m, user_data)) != NULL) {
		if (res > 0)
			do_io(o, res);
		drop_op(m, o);
	}
	err = m->transport == IOUW_SKERNEL_MEMORY ? mem_post(m, user_data, res, flags)
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
	m->answers[m->ans_len].key = 0;
	m->answers[m->ans_len].keyed = false;
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
	m->fail_after_submit = false;
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

void iouw_skernel_last_wait(struct iouw_backend *b, struct iouw_skernel_wait *out)
{
	*out = to_sk(b)->last_wait;
}

uint64_t iouw_skernel_carrier_failures(struct iouw_backend *b)
{
	return to_sk(b)->carrier_failures;
}

int iouw_skernel_release(struct iouw_backend *b, unsigned n)
{
	struct skernel *m = to_sk(b);

	if (m->transport != IOUW_SKERNEL_KERNEL)
		return -EOPNOTSUPP;
	m->released += n;
	m->posts += n;
	return 0;
}

int iouw_skernel_queue_answer_for(struct iouw_backend *b, uint64_t key, int32_t res)
{
	struct skernel *m = to_sk(b);
	int err = iouw_skernel_queue_answer(b, 0, res);

	if (err)
		return err;
	m->answers[m->ans_len - 1].keyed = true;
	m->answers[m->ans_len - 1].key = key;
	return 0;
}

static int binding_set(struct binding **v, size_t *n, size_t *cap, uint64_t key, uint64_t val)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].key == key) {
			(*v)[i].user_data = val;
			return 0;
		}
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 8;
		struct binding *grown = realloc(*v, c * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		*v = grown;
		*cap = c;
	}
	(*v)[*n].key = key;
	(*v)[*n].user_data = val;
	(*n)++;
	return 0;
}

int iouw_skernel_bind(struct iouw_backend *b, uint64_t key, uint64_t user_data)
{
	struct skernel *m = to_sk(b);

	return binding_set(&m->bindings, &m->nbindings, &m->bindings_cap, key, user_data);
}

size_t iouw_skernel_take_answered(struct iouw_backend *b, struct iouw_skernel_answered *out,
                                  size_t max)
{
	struct skernel *m = to_sk(b);
	size_t n = m->answered_len < max ? m->answered_len : max;

	if (n == 0)
		return 0;
	memcpy(out, m->answered, n * sizeof(*out));
	memmove(m->answered, m->answered + n, (m->answered_len - n) * sizeof(*out));
	m->answered_len -= n;
	return n;
}

int iouw_skernel_set_sqe_flags(struct iouw_backend *b, uint64_t user_data, uint8_t flags)
{
	struct skernel *m = to_sk(b);

	return binding_set(&m->flags, &m->nflags, &m->flags_cap, user_data, flags);
}

void iouw_skernel_set_move_data(struct iouw_backend *b, bool on)
{
	to_sk(b)->move_data = on;
}

void iouw_skernel_set_post_timeout(struct iouw_backend *b, uint64_t timeout_ns)
{
	to_sk(b)->post_timeout_ns = timeout_ns;
}

void iouw_skernel_set_wait_limit(struct iouw_backend *b, uint64_t limit)
{
	to_sk(b)->wait_limit = limit;
}

void iouw_skernel_fail_waits_after_submit(struct iouw_backend *b, int err, unsigned times)
{
	struct skernel *m = to_sk(b);

	iouw_skernel_fail_next_wait(b, err, times);
	m->fail_after_submit = true;
}

unsigned iouw_skernel_faults_left(struct iouw_backend *b)
{
	return to_sk(b)->fail_times;
}
