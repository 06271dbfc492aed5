/* harness/names.c: the script's names in a run: the requests and fds a
 * script creates, looked up by name, by waiter id or by request pointer,
 * and how the log names a user_data and an SQE opcode.
 *
 * Invariants: lookups only read r->reqs and r->fds (never allocate or
 * fail); a waiter id names the request most recently admitted with it, a
 * request pointer only a live (not dead) request, since a freed request's
 * address may be reused.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <string.h>

static struct reqent *req_by_name(struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (!strcmp(r->reqs[i].name->name, name))
			return &r->reqs[i];
	return NULL;
}

struct fdent *iouw_run_fd_by_name(struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nfds; i++)
		if (!strcmp(r->fds[i].name->name, name))
			return &r->fds[i];
	return NULL;
}

/* The request that was (most recently) admitted with @id. */
struct reqent *iouw_run_req_by_id(struct runner *r, iouw_waiter_id id)
{
	for (size_t i = r->nreqs; i-- > 0;)
		if (r->reqs[i].has_id && iouw_waiter_id_eq(r->reqs[i].id, id))
			return &r->reqs[i];
	return NULL;
}

struct reqent *iouw_run_req_by_ptr(struct runner *r, const struct iouw_request *p)
{
	for (size_t i = 0; i < r->nreqs; i++)
		if (!r->reqs[i].dead && r->reqs[i].req == p)
			return &r->reqs[i];
	return NULL;
}

/* The request an argument names (the parser resolved it). */
struct reqent *iouw_run_req_of(struct runner *r, const struct iouw_scn_arg *a)
{
	return req_by_name(r, a->name->name);
}

/* "r1 op" / "r1 cancel" / "slot 0 gen 3 op" for @ud. */
const char *iouw_run_ud_str(struct runner *r, uint64_t ud, char *buf, size_t len)
{
	bool is_cancel;
	iouw_waiter_id id;
	struct reqent *q;

	if (ud == IOUW_WAKE_USER_DATA) {
		snprintf(buf, len, "wake");
		return buf;
	}
	id = iouw_waiter_id_from_user_data(ud, &is_cancel);
	q = iouw_run_req_by_id(r, id);
	if (q)
		snprintf(buf, len, "%s %s", q->name->name, is_cancel ? "cancel" : "op");
	else
		snprintf(buf, len, "slot=%u gen=%u %s", iouw_waiter_id_index(id),
		         iouw_waiter_id_generation(id), is_cancel ? "cancel" : "op");
	return buf;
}

const char *iouw_run_opcode_name(unsigned op)
{
	switch (op) {
	case IORING_OP_SEND: return "SEND";
	case IORING_OP_RECV: return "RECV";
	case IORING_OP_READ: return "READ";
	case IORING_OP_WRITE: return "WRITE";
	case IORING_OP_WRITEV: return "WRITEV";
	case IORING_OP_FSYNC: return "FSYNC";
	case IORING_OP_ASYNC_CANCEL: return "ASYNC_CANCEL";
	case IORING_OP_NOP: return "NOP";
	case IORING_OP_POLL_ADD: return "POLL_ADD";
	default: return "?";
	}
}
