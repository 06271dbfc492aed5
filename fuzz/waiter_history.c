/* fuzz/waiter_history.c: see waiter_history.h (input layout and legality
 * rules are documented there). */
#include "waiter_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "waiter.h"

#define MAX_LEN 16
#define MAX_TICK 1000

#define CANCEL_EINVAL_INVARIANT "async cancel SQE rejected by kernel: EINVAL"

/* The user_data of waiter @index/@gen's op and cancel SQEs, as the table
 * builds them (the kernel model's keys). */
static uint64_t op_ud(uint32_t index, uint32_t gen)
{
	return iouw_waiter_id_user_data(iouw_waiter_id_new(index, gen));
}

static uint64_t cancel_ud(uint32_t index, uint32_t gen)
{
	return iouw_waiter_id_cancel_user_data(iouw_waiter_id_new(index, gen));
}

void iouw_waiter_history_init(struct iouw_waiter_history *h, const uint8_t *data, size_t size)
{
	uint8_t mode;

	iouw_fdp_init(&h->fdp, data, size);
	h->capacity = iouw_fdp_u32_in_range(&h->fdp, 1, IOUW_WH_MAX_CAPACITY);
	mode = iouw_fdp_u8(&h->fdp);
	iouw_wm_init(&h->model, h->capacity);
	for (uint32_t i = 0; i < h->capacity; i++) {
		/* Near the wrap, slots alternate between the last generation
		 * and the one before it. */
		h->first_gen[i] = (mode & 1) ? IOUW_WM_GEN_MASK - (i % 2) : 0;
		iouw_wm_set_generation(&h->model, i, h->first_gen[i]);
	}
	h->steps = 0;
	h->budget_spent = false;
	h->draining = false;
	h->nowed = 0;
	h->nissued = 0;
	h->hostile = (mode & 0xc0) == 0xc0;
	h->fatal = false;
	iouw_km_init(&h->km);
}

static void owe(struct iouw_waiter_history *h, uint32_t index, uint32_t gen, bool cancel)
{
	h->owed[h->nowed].index = index;
	h->owed[h->nowed].gen = gen;
	h->owed[h->nowed].cancel = cancel;
	h->nowed++;
	/* The kernel takes the SQE: the fake request builds a RECV of what is
	 * left, or an FSYNC when it asks for nothing (waiter_check.c). */
	if (cancel) {
		(void)iouw_km_submit_cancel(&h->km, cancel_ud(index, gen), op_ud(index, gen));
	} else {
		uint32_t left = h->model.req[h->model.slot[index].req].remaining;

		(void)iouw_km_submit_op(&h->km, op_ud(index, gen),
		                        left ? IORING_OP_RECV : IORING_OP_FSYNC, left);
	}
}

/* The kernel posts @o's CQE with @res; the table gets it at once. */
static void kernel_posts(struct iouw_waiter_history *h, const struct iouw_wh_owed *o, int32_t res)
{
	uint64_t ud = o->cancel ? cancel_ud(o->index, o->gen) : op_ud(o->index, o->gen);

	iouw_km_post(&h->km, ud, res, 0);
	iouw_km_reaped(&h->km, ud);
}

static struct iouw_wh_owed take_owed(struct iouw_waiter_history *h, uint32_t k)
{
	struct iouw_wh_owed o = h->owed[k];

	memmove(&h->owed[k], &h->owed[k + 1], (h->nowed - k - 1) * sizeof(h->owed[0]));
	h->nowed--;
	return o;
}

/* Slots (ascending) of live waiters matching @want: 0 any, 1 ready (not in
 * flight), 2 caller still present. Returns the count. */
static uint32_t live_slots(const struct iouw_waiter_history *h, int want, uint32_t *slots)
{
	const struct iouw_wm *m = &h->model;
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->cap; i++) {
		if (!m->slot[i].used)
			continue;
		if (want == 1 && m->slot[i].in_flight)
			continue;
		if (want == 2 && m->req[m->slot[i].req].orphaned)
			continue;
		slots[n++] = i;
	}
	return n;
}

/* 0 a recently issued id (maybe stale), 1 out of range, 2 wrong
 * generation; with nothing issued yet, 0 becomes 1. */
static unsigned cancel_flavour(struct iouw_fdp *p, bool have_issued)
{
	unsigned f = (unsigned)iouw_fdp_pick(p, 3);

	return f == 0 && !have_issued ? 1 : f;
}

/* HOSTILE (kernel model H1): an op CQE for an SQE the kernel does not
 * hold -- a slot out of range or empty, a wrong generation, a waiter with
 * no op in flight (a second op CQE). The table must fire the named
 * invariant of the first check it fails (core/waiter_internal.h); the
 * history ends here. */
static void hostile_stray_op_cqe(struct iouw_waiter_history *h, struct iouw_wh_step *step,
                                 struct iouw_wm_outcome *expected)
{
	const struct iouw_wm *m = &h->model;
	struct iouw_fdp *p = &h->fdp;
	uint32_t index = (uint32_t)iouw_fdp_pick(p, m->cap + 1);
	uint32_t gen = index < m->cap ? m->slot[index].gen : 0;

	if (iouw_fdp_bool(p) || (index < m->cap && m->slot[index].used && m->slot[index].in_flight))
		gen = (gen + 1) & IOUW_WM_GEN_MASK; /* in flight: its own CQE is no H1 */
	step->kind = IOUW_WH_OP_CQE;
	step->hostile = true;
	step->index = index;
	step->gen = gen;
	step->res = iouw_km_draw_op(&h->km, NULL, op_ud(index, gen)); /* not outstanding: -ENOENT */
	if (index >= m->cap || !m->slot[index].used)
		step->invariant = "operation CQE for untracked waiter";
	else if (m->slot[index].gen != gen)
		step->invariant = "operation CQE for stale waiter generation";
	else
		step->invariant = "operation CQE for waiter with no op in flight";
	expected->kind = IOUW_WM_OUT_NONE;
	h->fatal = true;
}

static bool drain_step(struct iouw_waiter_history *h, struct iouw_wh_step *step,
                       struct iouw_wm_outcome *expected)
{
	struct iouw_wm *m = &h->model;
	uint32_t slots[IOUW_WH_MAX_CAPACITY];

	step->drain = true;
	if (h->nowed > 0) {
		struct iouw_wh_owed o = take_owed(h, 0);

		step->index = o.index;
		step->gen = o.gen;
		if (o.cancel) {
			step->kind = IOUW_WH_CANCEL_CQE;
			step->res = iouw_km_draw_cancel(&h->km, NULL, cancel_ud(o.index, o.gen));
			iouw_wm_cancel_cqe(m, o.index, o.gen, step->res, expected);
		} else {
			step->kind = IOUW_WH_OP_CQE;
			step->res = -ECANCELED;
			iouw_wm_op_cqe(m, o.index, step->res, expected);
		}
		kernel_posts(h, &o, step->res);
		return true;
	}
	if (live_slots(h, 1, slots) == 0)
		return false;
	step->kind = IOUW_WH_STAGE;
	step->index = slots[0];
	step->gen = m->slot[slots[0]].gen;
	iouw_wm_stage(m, slots[0], expected);
	if (expected->kind == IOUW_WM_OUT_SUBMIT)
		owe(h, step->index, step->gen, false);
	return true;
}

bool iouw_waiter_history_next(struct iouw_waiter_history *h, struct iouw_wh_step *step,
                              struct iouw_wm_outcome *expected)
{
	struct iouw_wm *m = &h->model;
	struct iouw_fdp *p = &h->fdp;
	uint32_t slots[IOUW_WH_MAX_CAPACITY], n;
	unsigned action;

	memset(step, 0, sizeof(*step));
	memset(expected, 0, sizeof(*expected));
	step->number = h->steps;
	step->req = IOUW_WM_NONE;
	step->tick = IOUW_WM_NO_TICK;
	if (h->fatal)
		return false; /* the history ended at its FATAL step */
	if (!h->draining && (iouw_fdp_remaining(p) == 0 || h->steps >= IOUW_WH_MAX_STEPS)) {
		h->budget_spent = iouw_fdp_remaining(p) > 0;
		h->draining = true;
	}
	if (h->draining) {
		if (!drain_step(h, step, expected))
			return false;
		h->steps++;
		return true;
	}
	h->steps++;

	action = (unsigned)iouw_fdp_pick(p, 8);
	for (;;) {
		bool possible;

		switch (action) {
		case 0:
		case 1:
			possible = m->nfree > 0 && m->nreq < IOUW_WM_MAX_REQUESTS;
			break;
		case 2:
			possible = m->len > 0;
			break;
		case 4:
			possible = live_slots(h, 1, slots) > 0;
			break;
		case 5:
			possible = live_slots(h, 2, slots) > 0;
			break;
		case 6:
		case 7:
			possible = h->nowed > 0;
			break;
		default: /* 3: some id can always be made up */
			possible = true;
			break;
		}
		if (possible)
			break;
		action = (action + 1) % 8;
	}

	switch (action) {
	case 0:
	case 1:
		step->kind = IOUW_WH_INSERT;
		step->len = iouw_fdp_u32_in_range(p, 0, MAX_LEN);
		if (action == 1)
			step->tick = iouw_fdp_u64_in_range(p, 0, MAX_TICK);
		iouw_wm_insert(m, step->len, step->tick, expected);
		step->index = expected->index;
		step->gen = expected->gen;
		step->req = expected->req;
		h->issued_index[h->nissued % IOUW_WH_ISSUED] = step->index;
		h->issued_gen[h->nissued % IOUW_WH_ISSUED] = step->gen;
		h->nissued++;
		return true;
	case 2:
		n = live_slots(h, 0, slots);
		step->kind = IOUW_WH_CANCEL;
		step->note = "live";
		step->index = slots[iouw_fdp_pick(p, n)];
		step->gen = m->slot[step->index].gen;
		break;
	case 3:
		step->kind = IOUW_WH_CANCEL;
		switch (cancel_flavour(p, h->nissued > 0)) {
		case 0: {
			uint32_t have = h->nissued < IOUW_WH_ISSUED ? h->nissued : IOUW_WH_ISSUED;
			uint32_t k = (uint32_t)iouw_fdp_pick(p, have);

			step->note = "issued";
			step->index = h->issued_index[k];
			step->gen = h->issued_gen[k];
			break;
		}
		case 1:
			step->note = "out-of-range";
			step->index = m->cap + iouw_fdp_u8(p);
			step->gen = iouw_fdp_u32_in_range(p, 0, IOUW_WM_GEN_MASK);
			break;
		default:
			step->note = "wrong-generation";
			step->index = (uint32_t)iouw_fdp_pick(p, m->cap);
			step->gen = (m->slot[step->index].gen + 1 + iouw_fdp_u8(p)) & IOUW_WM_GEN_MASK;
			break;
		}
		break;
	case 4:
		n = live_slots(h, 1, slots);
		step->kind = IOUW_WH_STAGE;
		step->index = slots[iouw_fdp_pick(p, n)];
		step->gen = m->slot[step->index].gen;
		iouw_wm_stage(m, step->index, expected);
		step->req = expected->req;
		if (expected->kind == IOUW_WM_OUT_SUBMIT)
			owe(h, step->index, step->gen, false);
		return true;
	case 5:
		n = live_slots(h, 2, slots);
		step->kind = IOUW_WH_ORPHAN;
		step->index = slots[iouw_fdp_pick(p, n)];
		step->gen = m->slot[step->index].gen;
		step->req = m->slot[step->index].req;
		iouw_wm_orphan(m, step->req);
		expected->kind = IOUW_WM_OUT_NONE;
		expected->index = step->index;
		expected->gen = step->gen;
		expected->req = step->req;
		expected->tick = IOUW_WM_NO_TICK;
		return true;
	default: {
		struct iouw_wh_owed o;

		if (h->hostile && iouw_fdp_pick(p, 8) == 0) {
			hostile_stray_op_cqe(h, step, expected);
			return true;
		}
		o = take_owed(h, (uint32_t)iouw_fdp_pick(p, h->nowed));
		step->index = o.index;
		step->gen = o.gen;
		if (o.cancel) {
			step->kind = IOUW_WH_CANCEL_CQE;
			step->hostile = h->hostile && iouw_fdp_pick(p, 4) == 3;
			step->res = step->hostile
			                    ? iouw_km_draw_hostile_cancel(p)
			                    : iouw_km_draw_cancel(&h->km, p, cancel_ud(o.index, o.gen));
			if (step->res == -EINVAL && iouw_wm_is_current(m, o.index, o.gen)) {
				/* The table panics: the history ends here. */
				step->invariant = CANCEL_EINVAL_INVARIANT;
				h->fatal = true;
				return true;
			}
			iouw_wm_cancel_cqe(m, o.index, o.gen, step->res, expected);
		} else {
			uint64_t ud = op_ud(o.index, o.gen);
			uint32_t left = m->req[m->slot[o.index].req].remaining;

			step->kind = IOUW_WH_OP_CQE;
			step->hostile = h->hostile && iouw_fdp_pick(p, 4) == 0;
			step->res = step->hostile ? iouw_km_draw_hostile_op(&h->km, p, ud, left)
			                          : iouw_km_draw_op(&h->km, p, ud);
			step->req = m->slot[o.index].req;
			iouw_wm_op_cqe(m, o.index, step->res, expected);
		}
		kernel_posts(h, &o, step->res);
		return true;
	}
	}

	/* Both cancel flavours: the loop issues an ASYNC_CANCEL only for an
	 * accepted cancel of an in-flight waiter. */
	{
		bool in_flight = iouw_wm_is_in_flight(m, step->index, step->gen);

		iouw_wm_cancel(m, step->index, step->gen, expected);
		step->req = expected->req;
		if (expected->accepted && in_flight)
			owe(h, step->index, step->gen, true);
	}
	return true;
}

static const char *outcome_name(enum iouw_wm_kind k)
{
	switch (k) {
	case IOUW_WM_OUT_NONE:
		return "-";
	case IOUW_WM_OUT_INSERTED:
		return "inserted";
	case IOUW_WM_OUT_CANCEL:
		return "cancel";
	case IOUW_WM_OUT_TIMEOUT:
		return "Timeout";
	case IOUW_WM_OUT_ORPHANED:
		return "Orphaned";
	case IOUW_WM_OUT_SUBMIT:
		return "Submit";
	case IOUW_WM_OUT_CANCEL_CQE:
		return "Cancel";
	case IOUW_WM_OUT_REQUEUE:
		return "Requeue";
	case IOUW_WM_OUT_COMPLETE:
		return "Complete";
	}
	return "?";
}

static void print_tick(FILE *out, const char *label, uint64_t tick)
{
	if (tick == IOUW_WM_NO_TICK)
		fprintf(out, "%s none", label);
	else
		fprintf(out, "%s %llu", label, (unsigned long long)tick);
}

void iouw_waiter_history_format_step(FILE *out, const struct iouw_wh_step *s,
                                     const struct iouw_wm_outcome *e)
{
	fprintf(out, "#%u%s ", s->number, s->drain ? " (drain)" : "");
	switch (s->kind) {
	case IOUW_WH_INSERT:
		fprintf(out, "insert req%u asking %u bytes, ", s->req, s->len);
		print_tick(out, "deadline tick", s->tick);
		fprintf(out, " -> waiter %u/%u", e->index, e->gen);
		return;
	case IOUW_WH_CANCEL:
		fprintf(out, "cancel(%s waiter %u/%u) -> %s", s->note, s->index, s->gen,
		        e->accepted ? "true (cancel requested)" : "false");
		return;
	case IOUW_WH_STAGE:
		fprintf(out, "stage waiter %u/%u -> %s", s->index, s->gen, outcome_name(e->kind));
		if (e->kind == IOUW_WM_OUT_SUBMIT)
			fprintf(out, " (req%u op SQE now in flight)", e->req);
		else if (e->kind == IOUW_WM_OUT_TIMEOUT)
			fprintf(out, " (req%u finished with TIMEOUT)", e->req);
		else {
			fprintf(out, " (req%u released, ", e->req);
			print_tick(out, "drop tick", e->tick);
			fprintf(out, ")");
		}
		return;
	case IOUW_WH_ORPHAN:
		fprintf(out, "caller of req%u (waiter %u/%u) drops its handle", s->req, s->index, s->gen);
		return;
	case IOUW_WH_OP_CQE:
		if (s->invariant) {
			fprintf(out, "hostile op CQE for waiter %u/%u (no such SQE) res %d -> invariant "
			        "\"%s\" (the history ends here)", s->index, s->gen, (int)s->res, s->invariant);
			return;
		}
		fprintf(out, "op CQE for waiter %u/%u %sres %d -> %s", s->index, s->gen,
		        s->hostile ? "hostile " : "", (int)s->res, outcome_name(e->kind));
		if (e->kind == IOUW_WM_OUT_COMPLETE) {
			fprintf(out, " (req%u finished, ", e->req);
			print_tick(out, "drop tick", e->tick);
			fprintf(out, ")");
		}
		return;
	case IOUW_WH_CANCEL_CQE:
		if (s->invariant) {
			fprintf(out, "cancel CQE for waiter %u/%u hostile res %d -> invariant \"%s\" "
			        "(the history ends here)", s->index, s->gen, (int)s->res, s->invariant);
			return;
		}
		fprintf(out, "cancel CQE for waiter %u/%u %sres %d -> Cancel%s%s", s->index, s->gen,
		        s->hostile ? "hostile " : "", (int)s->res, e->stale ? " (stale: slot empty or reused)" : "",
		        e->unexpected ? " (unexpected result, warned)" : "");
		return;
	}
}

void iouw_waiter_history_print(FILE *out, const uint8_t *data, size_t size)
{
	struct iouw_waiter_history *h = malloc(sizeof(*h));
	struct iouw_wh_step step;
	struct iouw_wm_outcome expected;

	if (!h) {
		fprintf(out, "out of memory\n");
		return;
	}
	iouw_waiter_history_init(h, data, size);
	fprintf(out, "waiter history: %zu input bytes, capacity %u, generations start at %u%s\n",
	        size, h->capacity, h->first_gen[0], h->hostile ? ", HOSTILE kernel" : "");
	while (iouw_waiter_history_next(h, &step, &expected)) {
		iouw_waiter_history_format_step(out, &step, &expected);
		fputc('\n', out);
	}
	if (h->budget_spent)
		fprintf(out, "step budget spent (%u steps, waiter_history.h): %zu input bytes left "
		        "unread\n", IOUW_WH_MAX_STEPS, iouw_fdp_remaining(&h->fdp));
	if (h->fatal)
		fprintf(out, "end: %u steps, %u requests, ended by a named invariant\n", h->steps,
		        h->model.nreq);
	else
		fprintf(out, "end: %u steps, %u requests, table empty\n", h->steps, h->model.nreq);
	free(h);
}
