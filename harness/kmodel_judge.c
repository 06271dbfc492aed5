/* harness/kmodel_judge.c: see kmodel_judge.h. */
#include "kmodel_judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <liburing.h>

#include "kernel_model.h"
#include "waiter.h"

struct iouw_kmj {
	struct iouw_km km;
	uint32_t intent; /* bit N: HN */
	uint32_t seen;   /* bit N: a CQE broke HN */
};

struct iouw_kmj *iouw_kmj_new(uint32_t hostile_rules)
{
	struct iouw_kmj *j = malloc(sizeof(*j));

	if (!j)
		return NULL;
	iouw_km_init(&j->km);
	j->intent = hostile_rules;
	j->seen = 0;
	return j;
}

void iouw_kmj_free(struct iouw_kmj *j)
{
	free(j);
}

/* The bytes an op SQE asks for (the model's K3 bound). */
static uint32_t sqe_bytes(const struct io_uring_sqe *sqe)
{
	uint64_t n = 0;

	if (sqe->opcode == IORING_OP_WRITEV || sqe->opcode == IORING_OP_READV) {
		const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;

		for (uint32_t i = 0; iov && i < sqe->len; i++)
			n += iov[i].iov_len;
	} else {
		n = sqe->len;
	}
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

void iouw_kmj_sqe(struct iouw_kmj *j, const struct io_uring_sqe *sqe)
{
	/* -EEXIST (an SQE for a user_data the kernel still holds) is the
	 * loop's bug, caught by the table's invariants; the model keeps the
	 * first. */
	if (sqe->user_data == IOUW_WAKE_USER_DATA)
		(void)iouw_km_submit_wake(&j->km, sqe->user_data);
	else if (sqe->opcode == IORING_OP_ASYNC_CANCEL && sqe->cancel_flags)
		/* The loop's own cancels carry no flags; the harness's
		 * `cancel ... cancel_flags=` makes an invalid one (K5). */
		(void)iouw_km_submit_bad_cancel(&j->km, sqe->user_data, sqe->addr);
	else if (sqe->opcode == IORING_OP_ASYNC_CANCEL)
		(void)iouw_km_submit_cancel(&j->km, sqe->user_data, sqe->addr);
	else
		(void)iouw_km_submit_op(&j->km, sqe->user_data, sqe->opcode, sqe_bytes(sqe));
}

void iouw_kmj_reaped(struct iouw_kmj *j, uint64_t ud)
{
	iouw_km_reaped(&j->km, ud);
}

unsigned iouw_kmj_rule(const char *why)
{
	unsigned n = 0;

	if (!why || why[0] != 'H' || why[1] < '1' || why[1] > '9')
		return 0;
	for (const char *p = why + 1; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (unsigned)(*p - '0');
	return n >= 1 && n <= IOUW_KMJ_RULES ? n : 0;
}

static void rules_str(uint32_t set, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned n = 1; n <= IOUW_KMJ_RULES && off < len; n++)
		if (set & (1u << n)) {
			int w = snprintf(buf + off, len - off, "%sH%u", off ? " " : "", n);

			off += w > 0 ? (size_t)w : 0;
		}
}

bool iouw_kmj_cqe(struct iouw_kmj *j, uint64_t ud, int32_t res, uint32_t flags, char *note,
                  size_t notelen, char *expected, size_t explen)
{
	const char *why = iouw_km_post(&j->km, ud, res, flags);
	unsigned rule = iouw_kmj_rule(why);
	char rules[64];

	snprintf(note, notelen, "%s", why ? why : "");
	if (!why)
		return true;
	if (rule && (j->intent & (1u << rule))) {
		j->seen |= 1u << rule;
		return true;
	}
	if (!j->intent) {
		snprintf(expected, explen, "a CQE the kernel model calls legal (`kernel legal`, the "
		                           "default; a hostile scenario says `kernel hostile H%u`)",
		         rule);
	} else {
		rules_str(j->intent, rules, sizeof(rules));
		snprintf(expected, explen, "a legal CQE or one breaking %s (`kernel hostile %s`)",
		         rules, rules);
	}
	return false;
}

bool iouw_kmj_unmet(const struct iouw_kmj *j, char *buf, size_t len)
{
	uint32_t unmet = j->intent & ~j->seen;

	rules_str(unmet, buf, len);
	return unmet != 0;
}
