/* fuzz/waiter_model.c: see waiter_model.h. Deliberately naive. */
#include "waiter_model.h"

#include <errno.h>
#include <string.h>

void iouw_wm_init(struct iouw_wm *m, uint32_t cap)
{
	m->cap = cap;
	m->nfree = 0;
	m->len = 0;
	m->unexpected_cancel_results = 0;
	m->nreq = 0;
	for (uint32_t i = 0; i < IOUW_WM_MAX_SLOTS; i++) {
		m->slot[i].used = false;
		m->slot[i].gen = 0;
		m->slot[i].state = IOUW_WM_ACTIVE;
		m->slot[i].in_flight = false;
		m->slot[i].tick = IOUW_WM_NO_TICK;
		m->slot[i].req = IOUW_WM_NONE;
	}
	/* Stack top is the last entry: push cap-1 first, 0 last. */
	for (uint32_t i = cap; i > 0; i--)
		m->free_stack[m->nfree++] = i - 1;
}

void iouw_wm_set_generation(struct iouw_wm *m, uint32_t index, uint32_t gen)
{
	m->slot[index].gen = gen & IOUW_WM_GEN_MASK;
}

static void clear_outcome(struct iouw_wm_outcome *out, enum iouw_wm_kind kind)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->req = IOUW_WM_NONE;
	out->tick = IOUW_WM_NO_TICK;
}

static void free_slot(struct iouw_wm *m, uint32_t index)
{
	struct iouw_wm_slot *s = &m->slot[index];

	s->used = false;
	s->in_flight = false;
	s->state = IOUW_WM_ACTIVE;
	s->tick = IOUW_WM_NO_TICK;
	s->req = IOUW_WM_NONE;
	s->gen = (s->gen + 1) & IOUW_WM_GEN_MASK;
	m->free_stack[m->nfree++] = index;
	m->len--;
}

void iouw_wm_insert(struct iouw_wm *m, uint32_t remaining, uint64_t tick,
                    struct iouw_wm_outcome *out)
{
	uint32_t index = m->free_stack[--m->nfree];
	uint32_t r = m->nreq++;
	struct iouw_wm_slot *s = &m->slot[index];

	memset(&m->req[r], 0, sizeof(m->req[r]));
	m->req[r].remaining = remaining;
	m->req[r].end = IOUW_WM_END_NONE;
	s->used = true;
	s->state = IOUW_WM_ACTIVE;
	s->in_flight = false;
	s->tick = tick;
	s->req = r;
	m->len++;
	clear_outcome(out, IOUW_WM_OUT_INSERTED);
	out->index = index;
	out->gen = s->gen;
	out->req = r;
	out->tick = tick;
}

bool iouw_wm_is_current(const struct iouw_wm *m, uint32_t index, uint32_t gen)
{
	return index < m->cap && m->slot[index].used && m->slot[index].gen == gen;
}

bool iouw_wm_is_in_flight(const struct iouw_wm *m, uint32_t index, uint32_t gen)
{
	return iouw_wm_is_current(m, index, gen) && m->slot[index].in_flight;
}

uint32_t iouw_wm_cancel_requested(const struct iouw_wm *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slot[i].used && m->slot[i].state == IOUW_WM_CANCEL_REQUESTED)
			n++;
	return n;
}

void iouw_wm_cancel(struct iouw_wm *m, uint32_t index, uint32_t gen, struct iouw_wm_outcome *out)
{
	clear_outcome(out, IOUW_WM_OUT_CANCEL);
	out->index = index;
	out->gen = gen;
	if (!iouw_wm_is_current(m, index, gen) || m->slot[index].state != IOUW_WM_ACTIVE)
		return;
	m->slot[index].state = IOUW_WM_CANCEL_REQUESTED;
	m->slot[index].tick = IOUW_WM_NO_TICK;
	out->accepted = true;
	out->req = m->slot[index].req;
}

void iouw_wm_stage(struct iouw_wm *m, uint32_t index, struct iouw_wm_outcome *out)
{
	struct iouw_wm_slot *s = &m->slot[index];
	uint32_t r = s->req;

	out->index = index;
	if (s->state == IOUW_WM_CANCEL_REQUESTED) {
		clear_outcome(out, IOUW_WM_OUT_TIMEOUT);
		out->index = index;
		out->gen = s->gen;
		out->req = r;
		m->req[r].end = IOUW_WM_END_TIMEOUT;
		free_slot(m, index);
		return;
	}
	if (m->req[r].orphaned) {
		clear_outcome(out, IOUW_WM_OUT_ORPHANED);
		out->index = index;
		out->gen = s->gen;
		out->req = r;
		out->tick = s->tick;
		m->req[r].end = IOUW_WM_END_RELEASED;
		free_slot(m, index);
		return;
	}
	clear_outcome(out, IOUW_WM_OUT_SUBMIT);
	out->index = index;
	out->gen = s->gen;
	out->req = r;
	s->in_flight = true;
	m->req[r].builds++;
}

void iouw_wm_orphan(struct iouw_wm *m, uint32_t req)
{
	m->req[req].orphaned = true;
}

void iouw_wm_cancel_cqe(struct iouw_wm *m, uint32_t index, uint32_t gen, int32_t res,
                        struct iouw_wm_outcome *out)
{
	clear_outcome(out, IOUW_WM_OUT_CANCEL_CQE);
	out->index = index;
	out->gen = gen;
	if (!iouw_wm_is_current(m, index, gen)) {
		out->stale = true;
		return;
	}
	if (res != 0 && res != -EALREADY && res != -ENOENT) {
		out->unexpected = true;
		m->unexpected_cancel_results++;
	}
}

/* The fake request's rule (see the header). */
static bool request_on_cqe(struct iouw_wm_request *r, bool cancel_requested, int32_t res)
{
	r->cqes++;
	r->last_cancel_requested = cancel_requested;
	if (res == -EAGAIN || res == -EINTR)
		return false;
	if (res <= 0 || r->remaining == 0)
		return true;
	if ((uint32_t)res >= r->remaining)
		r->remaining = 0;
	else
		r->remaining -= (uint32_t)res;
	return r->remaining == 0;
}

void iouw_wm_op_cqe(struct iouw_wm *m, uint32_t index, int32_t res, struct iouw_wm_outcome *out)
{
	struct iouw_wm_slot *s = &m->slot[index];
	uint32_t r = s->req;
	bool cancel_requested = s->state == IOUW_WM_CANCEL_REQUESTED;
	bool terminal;

	s->in_flight = false;
	terminal = request_on_cqe(&m->req[r], cancel_requested, res);
	if (terminal || m->req[r].orphaned) {
		clear_outcome(out, IOUW_WM_OUT_COMPLETE);
		out->index = index;
		out->gen = s->gen;
		out->req = r;
		out->tick = cancel_requested ? IOUW_WM_NO_TICK : s->tick;
		m->req[r].end = IOUW_WM_END_COMPLETE;
		free_slot(m, index);
		return;
	}
	clear_outcome(out, IOUW_WM_OUT_REQUEUE);
	out->index = index;
	out->gen = s->gen;
	out->req = r;
}
