/* fuzz/kernel_model.c: see kernel_model.h (the rules K1-K10 and H1-H10
 * are stated and sourced there). */
#include "kernel_model.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include <liburing.h>

#define MAX_ERRNO 4095

static const int32_t op_errors[] = { -EIO, -EPIPE, -ECONNRESET, -EBADF, -ENOSPC, -EFAULT, -EINVAL };

void iouw_km_init(struct iouw_km *km)
{
	km->n = 0;
	km->nunreaped = 0;
	km->cqes = 0;
	km->hostile = 0;
}

static int find(const struct iouw_km *km, uint64_t ud)
{
	for (uint32_t i = 0; i < km->n; i++)
		if (km->sqe[i].ud == ud)
			return (int)i;
	return -1;
}

bool iouw_km_outstanding(const struct iouw_km *km, uint64_t ud)
{
	return find(km, ud) >= 0;
}

uint32_t iouw_km_owed(const struct iouw_km *km)
{
	return km->n;
}

static struct iouw_km_sqe *add(struct iouw_km *km, uint64_t ud, enum iouw_km_kind kind, int *err)
{
	struct iouw_km_sqe *s;

	*err = 0;
	if (find(km, ud) >= 0) {
		*err = -EEXIST;
		return NULL;
	}
	if (km->n == IOUW_KM_MAX) {
		*err = -ENOSPC;
		return NULL;
	}
	s = &km->sqe[km->n++];
	memset(s, 0, sizeof(*s));
	s->ud = ud;
	s->kind = kind;
	return s;
}

int iouw_km_submit_op(struct iouw_km *km, uint64_t ud, uint8_t opcode, uint32_t bytes)
{
	int err;
	struct iouw_km_sqe *s = add(km, ud, IOUW_KM_OP, &err);

	if (s) {
		s->opcode = opcode;
		s->bytes = opcode == IORING_OP_FSYNC ? 0 : bytes;
	}
	return err;
}

static bool unreaped(const struct iouw_km *km, uint64_t ud)
{
	for (uint32_t i = 0; i < km->nunreaped; i++)
		if (km->unreaped[i] == ud)
			return true;
	return false;
}

int iouw_km_submit_cancel(struct iouw_km *km, uint64_t ud, uint64_t target)
{
	int err, t = find(km, target);
	enum iouw_km_target ts;
	struct iouw_km_sqe *s;

	if (t >= 0 && km->sqe[t].kind == IOUW_KM_OP)
		ts = IOUW_KM_T_IN_KERNEL;
	else if (unreaped(km, target))
		ts = IOUW_KM_T_POSTED_UNREAPED;
	else
		ts = IOUW_KM_T_ABSENT;
	s = add(km, ud, IOUW_KM_CANCEL, &err);
	if (s) {
		s->target = target;
		s->tstate = ts;
	}
	return err;
}

int iouw_km_submit_bad_cancel(struct iouw_km *km, uint64_t ud, uint64_t target)
{
	int err = iouw_km_submit_cancel(km, ud, target);

	if (!err)
		km->sqe[km->n - 1].invalid = true;
	return err;
}

int iouw_km_submit_wake(struct iouw_km *km, uint64_t ud)
{
	int err;

	add(km, ud, IOUW_KM_WAKE, &err);
	return err;
}

static const char *check_op(const struct iouw_km_sqe *s, int32_t res, uint32_t flags)
{
	uint32_t allowed = s->opcode == IORING_OP_RECV ? IORING_CQE_F_SOCK_NONEMPTY : 0;

	if (flags & ~allowed)
		return "H9 unexpected CQE flags";
	if (res < -MAX_ERRNO)
		return "H4 result below -4095 is no errno";
	if (s->must_ecanceled && res != -ECANCELED)
		return "H7 op not -ECANCELED after its cancel answered 0";
	if (res > 0 && s->opcode == IORING_OP_FSYNC)
		return "H3 FSYNC reports bytes";
	if (res > 0 && (uint32_t)res > s->bytes)
		return "H2 result above the bytes asked";
	return NULL;
}

static const char *check_cancel(const struct iouw_km_sqe *s, int32_t res, uint32_t flags)
{
	if (flags)
		return "H9 unexpected CQE flags";
	if (s->invalid)
		return res == -EINVAL ? NULL : "H5 cancel result outside 0/-EALREADY/-ENOENT";
	switch (res) {
	case 0:
		if (s->tstate != IOUW_KM_T_IN_KERNEL && s->tstate != IOUW_KM_T_ECANCELED)
			return "H6 cancel 0 but the op was not cancelled";
		return NULL;
	case -EALREADY:
		if (s->tstate == IOUW_KM_T_ABSENT)
			return "H8 cancel -EALREADY for an op not in the kernel";
		return NULL;
	case -ENOENT:
		return NULL;
	default:
		return "H5 cancel result outside 0/-EALREADY/-ENOENT";
	}
}

static const char *check_wake(int32_t res, uint32_t flags)
{
	if (flags & ~(uint32_t)IORING_CQE_F_MORE)
		return "H9 unexpected CQE flags";
	if (res < -MAX_ERRNO)
		return "H4 result below -4095 is no errno";
	if (res >= 0 && !(res & POLLIN))
		return "H10 wake poll result without POLLIN, or F_MORE on an errno";
	if (res < 0 && (flags & IORING_CQE_F_MORE))
		return "H10 wake poll result without POLLIN, or F_MORE on an errno";
	return NULL;
}

const char *iouw_km_check(const struct iouw_km *km, uint64_t ud, int32_t res, uint32_t flags)
{
	int i = find(km, ud);

	if (i < 0)
		return "H1 CQE for no outstanding SQE";
	switch (km->sqe[i].kind) {
	case IOUW_KM_OP:
		return check_op(&km->sqe[i], res, flags);
	case IOUW_KM_CANCEL:
		return check_cancel(&km->sqe[i], res, flags);
	default:
		return check_wake(res, flags);
	}
}

const char *iouw_km_post(struct iouw_km *km, uint64_t ud, int32_t res, uint32_t flags)
{
	const char *why = iouw_km_check(km, ud, res, flags);
	int i = find(km, ud);
	struct iouw_km_sqe s;

	km->cqes++;
	if (why)
		km->hostile++;
	if (i < 0)
		return why;
	s = km->sqe[i];
	if (s.kind == IOUW_KM_WAKE && (flags & IORING_CQE_F_MORE) && res >= 0)
		return why; /* K10: still armed */
	km->sqe[i] = km->sqe[--km->n];
	if (s.kind == IOUW_KM_OP) {
		/* Every cancel still waiting learns how its target ended. */
		for (uint32_t k = 0; k < km->n; k++)
			if (km->sqe[k].kind == IOUW_KM_CANCEL && km->sqe[k].target == ud &&
			    km->sqe[k].tstate == IOUW_KM_T_IN_KERNEL)
				km->sqe[k].tstate = res == -ECANCELED ? IOUW_KM_T_ECANCELED
				                                      : IOUW_KM_T_COMPLETED;
		if (km->nunreaped < IOUW_KM_MAX && !unreaped(km, ud))
			km->unreaped[km->nunreaped++] = ud;
	} else if (s.kind == IOUW_KM_CANCEL && res == 0) {
		int t = find(km, s.target);

		if (t >= 0 && km->sqe[t].kind == IOUW_KM_OP)
			km->sqe[t].must_ecanceled = true;
	}
	return why;
}

void iouw_km_reaped(struct iouw_km *km, uint64_t ud)
{
	for (uint32_t i = 0; i < km->nunreaped; i++)
		if (km->unreaped[i] == ud) {
			km->unreaped[i] = km->unreaped[--km->nunreaped];
			return;
		}
}

int32_t iouw_km_draw_op(const struct iouw_km *km, struct iouw_fdp *p, uint64_t ud)
{
	int i = find(km, ud);
	const struct iouw_km_sqe *s;
	int32_t res;

	if (i < 0 || km->sqe[i].kind != IOUW_KM_OP)
		return -ENOENT; /* caller bug: nothing to answer */
	s = &km->sqe[i];
	if (s->must_ecanceled)
		return -ECANCELED; /* K6 */
	if (!p)
		return (int32_t)s->bytes;
	switch (iouw_fdp_pick(p, IOUW_KM_OP_PICKS)) {
	case IOUW_KM_PICK_EAGAIN:
		return -EAGAIN;
	case IOUW_KM_PICK_EINTR:
		return -EINTR;
	case IOUW_KM_PICK_ECANCELED:
		return -ECANCELED; /* K4 */
	case IOUW_KM_PICK_ERRNO:
		return op_errors[iouw_fdp_pick(p, sizeof(op_errors) / sizeof(op_errors[0]))];
	case IOUW_KM_PICK_ZERO:
		return 0;
	case IOUW_KM_PICK_ALL:
		res = (int32_t)s->bytes;
		break;
	default:
		res = s->bytes ? (int32_t)iouw_fdp_u32_in_range(p, 1, s->bytes) : 0;
		break;
	}
	return s->opcode == IORING_OP_FSYNC ? 0 : res;
}

int32_t iouw_km_draw_cancel(const struct iouw_km *km, struct iouw_fdp *p, uint64_t ud)
{
	static const int32_t three[] = { 0, -EALREADY, -ENOENT };
	int i = find(km, ud);

	if (i < 0 || km->sqe[i].kind != IOUW_KM_CANCEL)
		return -ENOENT;
	if (km->sqe[i].invalid)
		return -EINVAL;
	switch (km->sqe[i].tstate) {
	case IOUW_KM_T_IN_KERNEL: /* K6, K7, K8 */
		return p ? three[iouw_fdp_pick(p, 3)] : 0;
	case IOUW_KM_T_ECANCELED: /* K6 (the gap: -ENOENT/-EALREADY not drawn) */
		return 0;
	case IOUW_KM_T_COMPLETED: /* K7, K8 */
	case IOUW_KM_T_POSTED_UNREAPED:
		return p && iouw_fdp_bool(p) ? -EALREADY : -ENOENT;
	default: /* K8 */
		return -ENOENT;
	}
}

int32_t iouw_km_draw_hostile_op(const struct iouw_km *km, struct iouw_fdp *p, uint64_t ud,
                                uint32_t remaining)
{
	int i = find(km, ud);
	uint32_t bytes = i >= 0 ? km->sqe[i].bytes : 0;

	switch (iouw_fdp_pick(p, 9)) {
	case 0: return INT32_MIN;
	case 1: return INT32_MIN + 1;
	case 2: return -4096;
	case 3: return -4095;
	case 4: return -ECANCELED;
	case 5: return (int32_t)(bytes + 1);
	case 6: return (int32_t)(remaining + 1);
	case 7: return INT32_MAX;
	default: return (int32_t)iouw_fdp_u32_in_range(p, 0, UINT32_MAX);
	}
}

int32_t iouw_km_draw_hostile_cancel(struct iouw_fdp *p)
{
	switch (iouw_fdp_pick(p, 4)) {
	case 0: return -EINVAL;
	case 1: return INT32_MIN;
	case 2: return INT32_MAX;
	default: return (int32_t)iouw_fdp_u32_in_range(p, 0, UINT32_MAX);
	}
}
