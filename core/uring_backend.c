/* core/uring_backend.c: see uring_backend.h for the decisions it makes. */
#define _GNU_SOURCE
#include "uring_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "invariant.h"

#define NSEC_PER_SEC INT64_C(1000000000)
/* CQEs copied per io_uring_peek_batch_cqe call in reap. */
#define REAP_BATCH 64u
/* A probe waits PROBE_ROUNDS times PROBE_ROUND_NS at most per CQE. */
#define PROBE_ROUNDS 100
#define PROBE_ROUND_NS (10 * INT64_C(1000000))

struct uring_backend {
	struct iouw_backend base;
	struct io_uring ring;
	bool defer_taskrun;

	/* CQEs a probe took out of the ring for the caller: stash[head..len). */
	struct iouw_cqe *stash;
	size_t stash_head;
	size_t stash_len;
	size_t stash_cap;
};

static const struct iouw_backend_ops uring_ops;

static struct uring_backend *to_uring(struct iouw_backend *b)
{
	IOUW_INVARIANT(b != NULL && b->ops == &uring_ops, "uring backend call on another backend");
	return (struct uring_backend *)b;
}

static size_t stash_count(const struct uring_backend *u)
{
	return u->stash_len - u->stash_head;
}

static int uring_push_sqe(struct iouw_backend *b, const struct io_uring_sqe *sqe)
{
	struct uring_backend *u = to_uring(b);
	struct io_uring_sqe *slot = io_uring_get_sqe(&u->ring);

	if (!slot)
		return -EBUSY;
	memcpy(slot, sqe, sizeof(*slot));
	return 0;
}

static int uring_push_sqes(struct iouw_backend *b, const struct io_uring_sqe *sqes, unsigned n)
{
	struct uring_backend *u = to_uring(b);
	struct io_uring_sq *sq = &u->ring.sq;
	unsigned tail = sq->sqe_tail, mask = sq->ring_mask;

	if (io_uring_sq_space_left(&u->ring) < n)
		return -EBUSY;
	/* What n io_uring_get_sqe() calls would hand out, claimed at once
	 * (the backend never sets up SQE128, so one slot per SQE). */
	for (unsigned i = 0; i < n; i++)
		memcpy(&sq->sqes[(tail + i) & mask], &sqes[i], sizeof(sqes[i]));
	sq->sqe_tail = tail + n;
	return 0;
}

static unsigned uring_sq_space(struct iouw_backend *b)
{
	return io_uring_sq_space_left(&to_uring(b)->ring);
}

/* Whether at least @wait_nr CQEs are waiting (ring, stash, or parked in the
 * kernel's overflow list, which is only used once the ring is full). */
static bool cqes_ready(struct uring_backend *u, unsigned wait_nr)
{
	return io_uring_cq_has_overflow(&u->ring) ||
	       stash_count(u) + io_uring_cq_ready(&u->ring) >= wait_nr;
}

static int uring_submit_and_wait(struct iouw_backend *b, unsigned wait_nr, int64_t timeout_ns)
{
	struct uring_backend *u = to_uring(b);
	struct io_uring *ring = &u->ring;
	/* A wait beyond the CQ ring size could never be met. */
	unsigned target = wait_nr < ring->cq.ring_entries ? wait_nr : ring->cq.ring_entries;
	unsigned kernel_wait = 0;
	int ret;

	/* Stashed CQEs count towards the wait. */
	if (target > stash_count(u))
		kernel_wait = target - (unsigned)stash_count(u);
	if (kernel_wait == 0) {
		/* Submit only; a DEFER_TASKRUN ring still runs its task work. */
		if (u->defer_taskrun)
			return io_uring_submit_and_get_events(ring);
		return io_uring_submit(ring);
	}
	if (timeout_ns < 0) {
		ret = io_uring_submit_and_wait(ring, kernel_wait);
		if (ret < 0)
			return ret;
		/* Submitted, then the wait was interrupted: the kernel hides that. */
		return cqes_ready(u, target) ? ret : -EINTR;
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ns / NSEC_PER_SEC,
			.tv_nsec = timeout_ns % NSEC_PER_SEC,
		};
		struct io_uring_cqe *cqe = NULL;

		ret = io_uring_submit_and_wait_timeout(ring, &cqe, kernel_wait, &ts, NULL);
		if (ret < 0)
			return ret;
		/* liburing's quirk: the submit count after a timed-out wait. */
		return cqes_ready(u, target) ? ret : -ETIME;
	}
}

/* Copy up to @max CQEs from the kernel ring (not the stash) into @out. */
static unsigned reap_ring(struct uring_backend *u, struct iouw_cqe *out, unsigned max)
{
	struct io_uring *ring = &u->ring;
	unsigned n = 0;

	while (n < max) {
		/* io_uring_for_each_cqe() by hand, a run at a time (the
		 * backend never sets up CQE32, so one slot per CQE). */
		unsigned head = *ring->cq.khead, mask = ring->cq.ring_mask;
		unsigned got = io_uring_smp_load_acquire(ring->cq.ktail) - head;

		if (got > max - n)
			got = max - n;
		if (got == 0) {
			/* Empty ring: CQEs may still be parked in the kernel's
			 * overflow list (or wait on task work); flush them and
			 * look again, as io_uring_peek_batch_cqe() does. */
			if (!(IO_URING_READ_ONCE(*ring->sq.kflags) &
			      (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)))
				break;
			if (io_uring_get_events(ring) < 0 || io_uring_cq_ready(ring) == 0)
				break;
			continue;
		}
		for (unsigned i = 0; i < got; i++) {
			const struct io_uring_cqe *c = &ring->cq.cqes[(head + i) & mask];

			out[n + i].user_data = c->user_data;
			out[n + i].res = c->res;
			out[n + i].flags = c->flags;
		}
		io_uring_cq_advance(ring, got);
		n += got;
	}
	return n;
}

static unsigned uring_reap(struct iouw_backend *b, struct iouw_cqe *out, unsigned max)
{
	struct uring_backend *u = to_uring(b);
	unsigned n = 0;

	while (n < max && stash_count(u) > 0)
		out[n++] = u->stash[u->stash_head++];
	if (stash_count(u) == 0)
		u->stash_head = u->stash_len = 0;
	return n + reap_ring(u, out + n, max - n);
}

static void uring_free(struct iouw_backend *b)
{
	struct uring_backend *u = to_uring(b);

	io_uring_queue_exit(&u->ring);
	free(u->stash);
	free(u);
}

static const struct iouw_backend_ops uring_ops = {
	.push_sqe = uring_push_sqe,
	.push_sqes = uring_push_sqes,
	.sq_space = uring_sq_space,
	.submit_and_wait = uring_submit_and_wait,
	.reap = uring_reap,
	.free = uring_free,
};

int iouw_uring_backend_new(const struct iouw_uring_config *cfg, struct iouw_backend **ret)
{
	struct io_uring_params p;
	struct uring_backend *u;
	int err;

	if (!cfg || !ret)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	if (cfg->iopoll)
		p.flags |= IORING_SETUP_IOPOLL;
	if (cfg->single_issuer)
		p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (cfg->coop_taskrun)
		p.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	if (cfg->cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cfg->cq_entries;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	err = io_uring_queue_init_params(cfg->entries, &u->ring, &p);
	if (err < 0) {
		free(u);
		return err;
	}
	if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_EXT_ARG)) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return -EOPNOTSUPP;
	}
	u->base.ops = &uring_ops;
	u->defer_taskrun = cfg->single_issuer;
	*ret = &u->base;
	return 0;
}

struct io_uring *iouw_uring_backend_ring(struct iouw_backend *b)
{
	if (!b || b->ops != &uring_ops)
		return NULL;
	return &((struct uring_backend *)b)->ring;
}

size_t iouw_uring_backend_stashed(struct iouw_backend *b)
{
	return stash_count(to_uring(b));
}

int iouw_uring_available(void)
{
	struct io_uring ring;
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int err;

	if (f) {
		int disabled = 0;

		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
		if (disabled == 2)
			return -EPERM;
	}
	err = io_uring_queue_init(4, &ring, 0);
	if (err < 0)
		return err;
	/* A sandbox may allow the setup and block the enter (a seccomp filter
	 * on io_uring_enter alone): a ring that cannot be entered is no ring. */
	err = io_uring_enter(ring.ring_fd, 0, 0, 0, NULL);
	io_uring_queue_exit(&ring);
	return err < 0 ? err : 0;
}

/* Whether this process can still map @len bytes of anonymous memory. */
static bool can_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return false;
	munmap(p, len);
	return true;
}

/* Larger than every mapping of a small ring (its SQ and CQ rings and SQEs
 * take a few pages): when even this cannot be mapped, a ring's -ENOMEM says
 * the address space is exhausted, not that ring memory was refused. */
#define ADDRESS_SPACE_PROBE_LEN ((size_t)64 * 1024)

bool iouw_uring_unavailable(int err)
{
	switch (err) {
	case -ENOMEM:
		/* Ring memory refused (RLIMIT_MEMLOCK without CAP_IPC_LOCK):
		 * unavailable. Out of address space (RLIMIT_AS): the
		 * environment, like any other allocation failing. */
		return can_map(ADDRESS_SPACE_PROBE_LEN);
	case -EPERM:  /* seccomp, io_uring_disabled, io_uring_group */
	case -EACCES:
	case -ENOSYS: /* no io_uring in this kernel, or seccomp */
	case -EINVAL: /* a setup flag this kernel does not know */
	case -EOPNOTSUPP: /* no FEAT_NODROP / FEAT_EXT_ARG (before 5.11) */
		return true;
	default:
		return false;
	}
}

/* --- probes --------------------------------------------------------------- */

static int stash_append(struct uring_backend *u, const struct iouw_cqe *cqes, unsigned n)
{
	if (u->stash_len + n > u->stash_cap) {
		size_t cap = u->stash_cap ? u->stash_cap : 16;
		struct iouw_cqe *grown;

		while (cap < u->stash_len + n)
			cap *= 2;
		grown = realloc(u->stash, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		u->stash = grown;
		u->stash_cap = cap;
	}
	memcpy(&u->stash[u->stash_len], cqes, n * sizeof(*cqes));
	u->stash_len += n;
	return 0;
}

/* Remove the oldest stashed CQE with @user_data into *@ret; false if none. */
static bool stash_take(struct uring_backend *u, uint64_t user_data, struct iouw_cqe *ret)
{
	for (size_t i = u->stash_head; i < u->stash_len; i++) {
		if (u->stash[i].user_data != user_data)
			continue;
		*ret = u->stash[i];
		memmove(&u->stash[i], &u->stash[i + 1], (u->stash_len - i - 1) * sizeof(*u->stash));
		u->stash_len--;
		return true;
	}
	return false;
}

/* Submit what is pushed, then wait (bounded) for the CQE with @user_data,
 * moving every CQE seen into the stash so that none is lost. */
static int probe_take(struct uring_backend *u, uint64_t user_data, struct iouw_cqe *ret)
{
	for (int round = 0; round <= PROBE_ROUNDS; round++) {
		struct iouw_cqe batch[REAP_BATCH];
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = PROBE_ROUND_NS };
		struct io_uring_cqe *cqe = NULL;
		unsigned got;
		int err;

		while ((got = reap_ring(u, batch, REAP_BATCH)) > 0) {
			err = stash_append(u, batch, got);
			if (err)
				return err;
		}
		if (stash_take(u, user_data, ret))
			return 0;
		if (round == PROBE_ROUNDS)
			break;
		err = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
			return err;
	}
	return -ETIME;
}

static const int32_t probe_results[2] = { 0x1234567, -ECANCELED };

/* A probe CQE's failure as the negative errno this module returns: @res
 * when it is one (-4095..-1), else @otherwise. A hostile kernel's res
 * (INT32_MIN included) never reaches a caller that negates it. */
static int probe_errno(int32_t res, int otherwise)
{
	return res < 0 && res > -4096 ? res : otherwise;
}

int iouw_uring_probe_nop_inject(struct iouw_backend *b)
{
	struct uring_backend *u = to_uring(b);
	const uint64_t ud[2] = { IOUW_URING_PROBE_USER_DATA_FIRST,
		                 IOUW_URING_PROBE_USER_DATA_FIRST + 1 };
	struct iouw_cqe got[2];
	int err = 0;

	if (io_uring_sq_space_left(&u->ring) < 2)
		return -EBUSY;
	for (int i = 0; i < 2; i++) {
		iouw_uring_prep_inject(io_uring_get_sqe(&u->ring), ud[i], probe_results[i]);
	}
	for (int i = 0; i < 2; i++) {
		int e = probe_take(u, ud[i], &got[i]);

		if (e && !err)
			err = e;
	}
	if (err)
		return err;
	for (int i = 0; i < 2; i++) {
		if (got[i].res == probe_results[i])
			continue;
		return probe_errno(got[i].res, -EOPNOTSUPP);
	}
	return 0;
}

int iouw_uring_probe_msg_ring(struct iouw_backend *b)
{
	struct uring_backend *u = to_uring(b);
	const uint64_t src[2] = { IOUW_URING_PROBE_USER_DATA_FIRST + 2,
		                  IOUW_URING_PROBE_USER_DATA_FIRST + 3 };
	const uint64_t dst[2] = { IOUW_URING_PROBE_USER_DATA_FIRST + 4,
		                  IOUW_URING_PROBE_USER_DATA_LAST };
	struct iouw_cqe got;
	int err = 0;

	if (io_uring_sq_space_left(&u->ring) < 2)
		return -EBUSY;
	for (int i = 0; i < 2; i++) {
		iouw_uring_prep_inject_msg_ring(io_uring_get_sqe(&u->ring), u->ring.ring_fd, dst[i],
		                                probe_results[i], src[i]);
	}
	/* Each MSG_RING SQE completes itself (res 0 or -errno); only a
	 * successful one posts the message. Take both before judging. */
	for (int i = 0; i < 2; i++) {
		int e = probe_take(u, src[i], &got);

		if (!err)
			err = e ? e : (got.res < 0 ? probe_errno(got.res, -EPROTO) : 0);
	}
	if (err)
		return err;
	for (int i = 0; i < 2; i++) {
		err = probe_take(u, dst[i], &got);
		if (err)
			return err;
		if (got.res != probe_results[i])
			return -EPROTO;
	}
	return 0;
}
