/* fuzz/request_history.c: see request_history.h (input layout and legality
 * rules are documented there). */
#include "request_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "waiter.h"

/* The kernel model's user_data of request @r's op and cancel SQEs. */
static uint64_t op_ud(uint32_t r)
{
	return (uint64_t)r + 1;
}

static uint64_t cancel_ud(uint32_t r)
{
	return op_ud(r) | IOUW_WAITER_CANCEL_TAG;
}

void iouw_request_history_init(struct iouw_request_history *h, const uint8_t *data, size_t size)
{
	uint8_t head;

	iouw_fdp_init(&h->fdp, data, size);
	/* Bits 0-1 decode exactly as u32_in_range(1, 4) did before hostile
	 * mode existed: committed inputs keep their meaning. */
	head = iouw_fdp_u8(&h->fdp);
	h->capacity = 1 + (head & (IOUW_RH_MAX_CAPACITY - 1));
	h->hostile = (head & 0xc0) == 0xc0;
	h->fatal = false;
	h->steps = 0;
	h->draining = false;
	h->budget_spent = false;
	h->nlive = 0;
	h->nreq = 0;
	h->nowed = 0;
	iouw_km_init(&h->km);
}

/* The kernel posts (@ud, @res) and the table gets it at once: the model
 * learns both. */
static void kernel_posts(struct iouw_request_history *h, uint64_t ud, int32_t res)
{
	iouw_km_post(&h->km, ud, res, 0);
	iouw_km_reaped(&h->km, ud);
}

static void owe(struct iouw_request_history *h, uint32_t req, bool cancel)
{
	h->owed[h->nowed].req = req;
	h->owed[h->nowed].cancel = cancel;
	h->nowed++;
}

static struct iouw_rh_owed take_owed(struct iouw_request_history *h, uint32_t k)
{
	struct iouw_rh_owed o = h->owed[k];

	memmove(&h->owed[k], &h->owed[k + 1], (h->nowed - k - 1) * sizeof(h->owed[0]));
	h->nowed--;
	return o;
}

/* Requests matching @want: 0 live, 1 live and ready, 2 in flight, 3 live
 * with the handle held, 4 live and ACTIVE. */
static uint32_t select_reqs(const struct iouw_request_history *h, int want, uint32_t *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->nlive; i++) {
		uint32_t r = h->live_req[i];
		const struct iouw_rh_req *q = &h->req[r];

		if ((want == 1 && q->in_flight) || (want == 2 && !q->in_flight) ||
		    (want == 3 && q->dropped) || (want == 4 && q->cancel_req))
			continue;
		out[n++] = r;
	}
	return n;
}

static uint32_t owed_of_kind(const struct iouw_request_history *h, bool cancel, uint32_t *out)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < h->nowed; k++)
		if (h->owed[k].cancel == cancel)
			out[n++] = k;
	return n;
}

static bool orphaned(const struct iouw_rh_req *q)
{
	return q->dropped && iouw_rm_orphanable(q->rm.kind);
}

static void end_req(struct iouw_request_history *h, struct iouw_rh_step *s, bool deliver,
                    const struct iouw_rm_result *res)
{
	struct iouw_rh_req *q = &h->req[s->req];
	uint32_t i = 0;

	while (i + 1 < h->nlive && h->live_req[i] != s->req)
		i++;
	memmove(&h->live_req[i], &h->live_req[i + 1], (h->nlive - i - 1) * sizeof(h->live_req[0]));
	q->live = false;
	q->in_flight = false;
	h->nlive--;
	s->ends = true;
	s->delivers = deliver && !q->dropped;
	if (s->delivers)
		s->result = *res;
}

static void do_stage(struct iouw_request_history *h, struct iouw_rh_step *s)
{
	struct iouw_rh_req *q = &h->req[s->req];
	struct iouw_rm_result res;

	s->kind = IOUW_RH_STAGE;
	if (q->cancel_req) {
		s->out = IOUW_RH_OUT_TIMEOUT;
		iouw_rm_timeout_result(&q->rm, &res);
		end_req(h, s, true, &res);
	} else if (orphaned(q)) {
		s->out = IOUW_RH_OUT_ORPHANED;
		end_req(h, s, false, NULL);
	} else {
		s->out = IOUW_RH_OUT_SUBMIT;
		iouw_rm_expected_sqe(&q->rm, &q->sqe);
		s->sqe = q->sqe;
		q->in_flight = true;
		q->op_owed = true;
		owe(h, s->req, false);
		(void)iouw_km_submit_op(&h->km, op_ud(s->req), q->sqe.opcode, q->sqe.bytes);
	}
}

static void do_op_cqe(struct iouw_request_history *h, struct iouw_rh_step *s, int32_t res)
{
	struct iouw_rh_req *q = &h->req[s->req];
	struct iouw_rm_result out;
	bool terminal;

	s->kind = IOUW_RH_OP_CQE;
	s->res = res;
	s->sqe = q->sqe;
	s->cancel_requested = q->cancel_req;
	kernel_posts(h, op_ud(s->req), res);
	q->in_flight = false;
	q->op_owed = false;
	terminal = iouw_rm_on_cqe(&q->rm, q->cancel_req, res);
	if (terminal || orphaned(q)) {
		s->out = IOUW_RH_OUT_COMPLETE;
		iouw_rm_complete_result(&q->rm, &out);
		end_req(h, s, true, &out);
	} else {
		s->out = IOUW_RH_OUT_REQUEUE;
	}
}

static void do_cancel(struct iouw_request_history *h, struct iouw_rh_step *s)
{
	struct iouw_rh_req *q = &h->req[s->req];

	s->kind = IOUW_RH_CANCEL;
	if (q->cancel_req) {
		s->out = IOUW_RH_OUT_REFUSED;
		return;
	}
	s->out = IOUW_RH_OUT_ACCEPTED;
	q->cancel_req = true;
	if (q->in_flight) {
		owe(h, s->req, true);
		(void)iouw_km_submit_cancel(&h->km, cancel_ud(s->req), op_ud(s->req));
	}
}

static bool drain_step(struct iouw_request_history *h, struct iouw_rh_step *s)
{
	uint32_t sel[IOUW_RH_MAX_REQUESTS];

	s->drain = true;
	if (select_reqs(h, 4, sel) > 0) {
		s->req = sel[0];
		do_cancel(h, s);
		return true;
	}
	if (h->nowed > 0) {
		struct iouw_rh_owed o = take_owed(h, 0);

		s->req = o.req;
		if (o.cancel) {
			s->kind = IOUW_RH_CANCEL_CQE;
			s->out = IOUW_RH_OUT_ACK;
			s->res = iouw_km_draw_cancel(&h->km, NULL, cancel_ud(o.req));
			kernel_posts(h, cancel_ud(o.req), s->res);
		} else {
			do_op_cqe(h, s, -ECANCELED);
		}
		return true;
	}
	if (select_reqs(h, 1, sel) > 0) {
		s->req = sel[0];
		do_stage(h, s);
		return true;
	}
	return false;
}

/* A FATAL step: @inv must fire, and the history ends with it (the real
 * process would be gone); the model is left as it was. */
static void fatal_step(struct iouw_request_history *h, struct iouw_rh_step *s, const char *inv)
{
	s->out = IOUW_RH_OUT_FATAL;
	s->invariant = inv;
	h->fatal = true;
}

#define CANCEL_EINVAL_INVARIANT "async cancel SQE rejected by kernel: EINVAL"

bool iouw_request_history_next(struct iouw_request_history *h, struct iouw_rh_step *s)
{
	struct iouw_fdp *p = &h->fdp;
	uint32_t sel[2 * IOUW_RH_MAX_REQUESTS], n;
	unsigned action;

	memset(s, 0, sizeof(*s));
	s->number = h->steps;
	if (h->fatal)
		return false; /* the history ended at its FATAL step */
	if (!h->draining && (iouw_fdp_remaining(p) == 0 || h->steps >= IOUW_RH_MAX_STEPS)) {
		h->budget_spent = iouw_fdp_remaining(p) > 0;
		h->draining = true;
	}
	if (h->draining)
		goto drain;

	action = (unsigned)iouw_fdp_pick(p, 8);
	for (unsigned tried = 0;; tried++) {
		bool possible;

		if (tried == 8) {
			/* Nothing is possible: every one of the
			 * IOUW_RH_MAX_REQUESTS requests was created and has
			 * ended. The history is over (this loop used to spin
			 * forever here: issue 11, 11265 bytes of 0xff). */
			h->budget_spent = true;
			h->draining = true;
			goto drain;
		}

		switch (action) {
		case 0:
		case 1:
			possible = h->nlive < h->capacity && h->nreq < IOUW_RH_MAX_REQUESTS;
			break;
		case 2:
			possible = select_reqs(h, 1, sel) > 0;
			break;
		case 3:
		case 4:
			possible = select_reqs(h, 2, sel) > 0;
			break;
		case 5:
			possible = h->nlive > 0;
			break;
		case 6:
			possible = owed_of_kind(h, true, sel) > 0;
			break;
		default:
			possible = select_reqs(h, 3, sel) > 0;
			break;
		}
		if (possible)
			break;
		action = (action + 1) % 8;
	}
	h->steps++;

	switch (action) {
	case 0:
	case 1: {
		struct iouw_rh_req *q = &h->req[h->nreq];

		memset(q, 0, sizeof(*q));
		s->kind = IOUW_RH_NEW;
		s->out = IOUW_RH_OUT_INSERTED;
		s->req = h->nreq++;
		iouw_rs_decode(p, s->req, &q->spec);
		iouw_rs_model(&q->spec, &q->rm);
		q->live = true;
		h->live_req[h->nlive++] = s->req; /* the highest number yet */
		return true;
	}
	case 2:
		n = select_reqs(h, 1, sel);
		s->req = sel[iouw_fdp_pick(p, n)];
		do_stage(h, s);
		return true;
	case 3:
	case 4: {
		struct iouw_rh_req *q;
		const char *inv;
		int32_t res;

		n = select_reqs(h, 2, sel);
		s->req = sel[iouw_fdp_pick(p, n)];
		q = &h->req[s->req];
		s->hostile = h->hostile && iouw_fdp_pick(p, 4) == 0;
		res = s->hostile ? iouw_km_draw_hostile_op(&h->km, p, op_ud(s->req), q->rm.len - q->rm.done)
		                 : iouw_km_draw_op(&h->km, p, op_ud(s->req));
		inv = iouw_rm_invariant(&q->rm, q->cancel_req, res);
		if (inv) {
			s->kind = IOUW_RH_OP_CQE;
			s->res = res;
			s->sqe = q->sqe;
			s->cancel_requested = q->cancel_req;
			fatal_step(h, s, inv);
			return true;
		}
		for (uint32_t k = 0; k < h->nowed; k++)
			if (h->owed[k].req == s->req && !h->owed[k].cancel) {
				take_owed(h, k);
				break;
			}
		do_op_cqe(h, s, res);
		return true;
	}
	case 5:
		n = select_reqs(h, 0, sel);
		s->req = sel[iouw_fdp_pick(p, n)];
		do_cancel(h, s);
		return true;
	case 6: {
		uint32_t k;

		n = owed_of_kind(h, true, sel);
		k = sel[iouw_fdp_pick(p, n)];
		s->kind = IOUW_RH_CANCEL_CQE;
		s->req = h->owed[k].req;
		s->hostile = h->hostile && iouw_fdp_pick(p, 4) == 3;
		s->res = s->hostile ? iouw_km_draw_hostile_cancel(p)
		                    : iouw_km_draw_cancel(&h->km, p, cancel_ud(s->req));
		/* -EINVAL panics only for a waiter still tracked: a cancel CQE
		 * naming a freed or reused slot is ignored, whatever its res. */
		if (s->res == -EINVAL && h->req[s->req].live) {
			fatal_step(h, s, CANCEL_EINVAL_INVARIANT);
			return true;
		}
		take_owed(h, k);
		kernel_posts(h, cancel_ud(s->req), s->res);
		s->out = IOUW_RH_OUT_ACK;
		return true;
	}
	default:
		n = select_reqs(h, 3, sel);
		s->req = sel[iouw_fdp_pick(p, n)];
		s->kind = IOUW_RH_DROP;
		h->req[s->req].dropped = true;
		return true;
	}

drain:
	if (!drain_step(h, s))
		return false;
	h->steps++;
	return true;
}

static const char *out_name(enum iouw_rh_out o)
{
	static const char *names[] = { "-", "inserted", "Submit", "Timeout", "Orphaned",
		                       "Requeue", "Complete", "accepted", "refused", "Cancel",
		                       "invariant" };

	return o <= IOUW_RH_OUT_FATAL ? names[o] : "?";
}

void iouw_request_history_format_step(FILE *out, const struct iouw_request_history *h,
                                      const struct iouw_rh_step *s)
{
	char buf[128];

	fprintf(out, "#%u%s ", s->number, s->drain ? " (drain)" : "");
	switch (s->kind) {
	case IOUW_RH_NEW:
		fprintf(out, "new req%u: ", s->req);
		iouw_rs_format(out, &h->req[s->req].spec);
		fprintf(out, " -> inserted");
		break;
	case IOUW_RH_STAGE:
		fprintf(out, "stage req%u -> %s", s->req, out_name(s->out));
		if (s->out == IOUW_RH_OUT_SUBMIT) {
			fprintf(out, " %s of %u bytes at progress %u", iouw_rs_opcode_name(s->sqe.opcode),
			        s->sqe.bytes, s->sqe.at);
			if (s->sqe.niov)
				fprintf(out, " (%u iovecs)", s->sqe.niov);
		}
		break;
	case IOUW_RH_OP_CQE:
		fprintf(out, "kernel answers req%u's %s (%u bytes asked)%s with %sres %d (%s) -> %s",
		        s->req, iouw_rs_opcode_name(s->sqe.opcode), s->sqe.bytes,
		        s->cancel_requested ? " while cancel-requested" : "",
		        s->hostile ? "hostile " : "", (int)s->res,
		        iouw_rm_class_name(iouw_rm_classify(s->res, s->cancel_requested)),
		        out_name(s->out));
		break;
	case IOUW_RH_CANCEL:
		fprintf(out, "cancel req%u -> %s", s->req, out_name(s->out));
		break;
	case IOUW_RH_CANCEL_CQE:
		fprintf(out, "kernel answers req%u's ASYNC_CANCEL with %sres %d", s->req,
		        s->hostile ? "hostile " : "", (int)s->res);
		if (s->out == IOUW_RH_OUT_FATAL)
			fprintf(out, " -> %s", out_name(s->out));
		break;
	case IOUW_RH_DROP:
		fprintf(out, "caller of req%u drops its handle", s->req);
		break;
	}
	if (s->out == IOUW_RH_OUT_FATAL)
		fprintf(out, " \"%s\" (the history ends here)", s->invariant);
	if (s->delivers)
		fprintf(out, "; caller gets %s", iouw_rm_result_str(&s->result, buf, sizeof(buf)));
	else if (s->ends)
		fprintf(out, "; request ends, nobody listening");
}

void iouw_request_history_print(FILE *out, const uint8_t *data, size_t size)
{
	struct iouw_request_history *h = malloc(sizeof(*h));
	struct iouw_rh_step step;

	if (!h) {
		fprintf(out, "out of memory\n");
		return;
	}
	iouw_request_history_init(h, data, size);
	fprintf(out, "request history: %zu input bytes, table capacity %u%s\n", size, h->capacity,
	        h->hostile ? ", HOSTILE results" : "");
	while (iouw_request_history_next(h, &step)) {
		iouw_request_history_format_step(out, h, &step);
		fputc('\n', out);
	}
	if (h->budget_spent)
		fprintf(out, "step budget spent (%u steps or %u requests, request_history.h): "
		        "%zu input bytes left unread\n", IOUW_RH_MAX_STEPS, IOUW_RH_MAX_REQUESTS,
		        iouw_fdp_remaining(&h->fdp));
	if (h->fatal)
		fprintf(out, "end: %u steps, %u requests, ended by a named invariant\n", h->steps,
		        h->nreq);
	else
		fprintf(out, "end: %u steps, %u requests, all ended\n", h->steps, h->nreq);
	free(h);
}
