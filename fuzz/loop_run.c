/* fuzz/loop_run.c: see loop_run.h (layout, legality and oracles there). */
#define _GNU_SOURCE
#include "loop_run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "environment.h"
#include "fatal.h"
#include "handle.h"
#include "kernel_model.h"
#include "loop.h"
#include "loop_scenario.h"
#include "skernel.h"
#include "provider.h"
#include "request_model.h"
#include "request_spec.h"
#include "waiter.h"
#include "wheel.h"

#define MS UINT64_C(1000000)
#define TICK MS
#define MAX_TIMEOUT (64 * MS)
#define START (1000 * MS)
#define MAX_CANCELS (2 * IOUW_LR_MAX_REQUESTS)
#define MAX_DRAIN_CHOICES 512

enum op_state { OP_NONE = 0, OP_PUSHED, OP_OUT, OP_POSTED };
enum end_how {
	END_NONE = 0,
	END_COMPLETE,
	END_TIMEOUT,
	END_EXPIRED,
	END_ABANDON,
	END_REFUSED,
	END_ORPHANED,
};

struct lr_req {
	struct iouw_rs_spec spec;
	struct iouw_rs_live live;
	struct iouw_rm_req rm;
	uint64_t deadline;
	uint64_t tick;      /* reference target tick, IOUW_NO_TICK if none */
	bool inbound;       /* accepted by submit, not admitted yet */
	bool admitted;
	bool c;             /* reference: cancel requested */
	bool dropped;
	enum end_how end;   /* set by the loop's event */
	bool checked;       /* end processed */
	enum op_state op;
	bool had_op;
	uint64_t op_ud;     /* = wid once admitted */
	uint64_t wid;       /* waiter id (op user_data) from the admission event */
	struct io_uring_sqe sqe;
	bool cancel_seen;   /* an ASYNC_CANCEL was captured for it */
	bool detached;      /* abandoned in flight: told now, fd and buffer kept until loop free */
};

struct lr_cancel {
	bool submitted;
	uint64_t ud;
	uint32_t req;
};

struct lr_backend {
	struct iouw_backend base;
};

/* The policy model's FIFOs of request numbers. */
struct pm_fifo {
	uint32_t v[IOUW_LR_MAX_REQUESTS];
	uint32_t len;
};

/* One expected event still to come within a fill action (or after a reap). */
struct pm_exp {
	enum iouw_loop_event_kind kind;
	uint32_t req;
	int outcome;
};

/* The loop's policy, tracked independently (loop_run.h, "Policy model"). */
struct pm_state {
	struct pm_fifo ready;   /* tracked, not in flight: staged FIFO */
	struct pm_fifo cancels; /* queued cancels, possibly for waiters that left flight */
	struct pm_fifo inbound; /* accepted by the front door, not admitted */
	bool wake_arm;          /* the wake poll needs (re-)arming */
	bool in_fill;
	unsigned sq_left;       /* SQ room left in the current fill */
	uint32_t capacity;      /* table capacity = front-door bound */
	struct pm_exp exp[8];
	unsigned nexp;
	uint64_t clock_reads;   /* clock reads the reference expects so far */
	bool drain_over;        /* iouw_loop_run() must return without another backend call */
};

static struct {
	const char *name;
	/* The scripted kernel (core/skernel.h) the history runs on, and
	 * whether this run made it (memory transport, one per input). */
	struct iouw_backend *k;
	bool own_k;
	FILE *trace;
	struct iouw_fdp fdp;
	struct iouw_virtual_clock vc;
	uint64_t clock_reads;
	struct iouw_loop *loop;
	struct lr_backend backend;
	uint64_t budget;
	bool closed;
	bool arm_advance; /* inside turn()/run(): reap-done means advance next */
	bool draining;
	uint32_t drain_choices;
	/* Header bit 5: bit i of this mask set, the kernel posts nothing
	 * during the drain's wait i (i < 8) until the wait's bound, even with
	 * SQEs outstanding (legal: a kernel may post nothing before the
	 * timeout); the clock moves by the bound. 0: the kernel answers
	 * whenever something is outstanding (the encoding before bit 5). */
	uint8_t drain_silent;
	/* Virtual time the drain's waits let pass: what the loop charges to
	 * its shutdown budget (the clock moves only there once closed). */
	uint64_t drain_waited;
	uint64_t cur_tick; /* reference wheel current tick */
	bool advance_read; /* the advance phase about to run may read the clock */
	uint64_t posts;
	uint32_t steps;
	uint32_t nreq;
	uint32_t ncancels;
	bool wake_pushed;
	bool hostile;      /* header: HOSTILE kernel answers allowed */
	bool fatal;        /* a hostile CQE fired its named invariant: the history ended */
	bool fatal_armed;  /* reaping a hostile CQE that must fire one ... */
	uint64_t fatal_ud; /* ... with this user_data: no oracle or model sees it */
	struct iouw_waiter_info cancel_before;
	bool cancel_snap;
	char desc[512];
	uint32_t stamp;
	bool k_open;
	struct pm_state pm;
	enum iouw_lr_choice choice; /* what the next decision decides */
	/* Posted CQEs not reaped yet, in order (their user_data): state for
	 * the enumerator's hash. */
	uint64_t cq[IOUW_LR_MAX_REQUESTS + MAX_CANCELS];
	uint32_t ncq;
	unsigned sq_entries, cq_entries; /* the header's SQ and CQ sizes */
	/* An environment failure met in a step (what, -errno): input skipped. */
	const char *env_what;
	int env_err;
	/* Last, not cleared per input: each entry is set when it is made
	 * (new_req(), the ASYNC_CANCEL capture), and only the first nreq /
	 * ncancels are ever read. */
	struct lr_req req[IOUW_LR_MAX_REQUESTS];
	struct lr_cancel cancels[MAX_CANCELS];
	/* The kernel's side (fuzz/kernel_model.h): what it holds, what each
	 * SQE may still answer; every answer is drawn from it (emptied by
	 * iouw_km_init() per input). */
	struct iouw_km km;
} S;

const struct iouw_lr_enum *iouw_lr_enum;

enum iouw_lr_choice iouw_lr_choice_context(void)
{
	return S.choice;
}

/* Scenario hooks (fuzz/loop_scenario.h): NULL unless iouwait-explain runs. */
const struct iouw_ls_hooks *iouw_lr_scenario;
#define LS(fn, ...)                                          \
	do {                                                 \
		if (iouw_lr_scenario)                        \
			iouw_lr_scenario->fn(__VA_ARGS__); \
	} while (0)
#define LS0(fn)                                \
	do {                                   \
		if (iouw_lr_scenario)          \
			iouw_lr_scenario->fn(); \
	} while (0)

static const struct iouw_backend_ops lr_ops;

__attribute__((noreturn, format(printf, 1, 2))) static void mismatch(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: oracle mismatch at step %u: ", S.name, S.steps);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, "%s: step: %s\n", S.name, S.desc);
	if (S.trace)
		fflush(S.trace);
	fflush(stderr);
	abort();
}

#define EXPECT(cond, ...)                  \
	do {                               \
		if (!(cond))               \
			mismatch(__VA_ARGS__); \
	} while (0)

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;
	size_t used = strlen(S.desc);

	va_start(ap, fmt);
	if (used < sizeof(S.desc))
		vsnprintf(S.desc + used, sizeof(S.desc) - used, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
	va_list ap;

	if (!S.trace)
		return;
	fprintf(S.trace, "    ");
	va_start(ap, fmt);
	vfprintf(S.trace, fmt, ap);
	va_end(ap);
	fputc('\n', S.trace);
}

static void begin_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void begin_step(const char *fmt, ...)
{
	va_list ap;

	S.desc[0] = '\0';
	S.advance_read = false;
	snprintf(S.desc, sizeof(S.desc), "#%u%s t=+%lluns ", S.steps, S.draining ? " (drain)" : "",
	         (unsigned long long)(S.vc.now_ns - START));
	va_start(ap, fmt);
	vsnprintf(S.desc + strlen(S.desc), sizeof(S.desc) - strlen(S.desc), fmt, ap);
	va_end(ap);
	if (S.trace)
		fprintf(S.trace, "%s\n", S.desc);
	LS(step, S.desc);
}

/* ---- reference ------------------------------------------------------------ */

static bool live(const struct lr_req *r)
{
	return r->admitted && r->end == END_NONE;
}

static uint32_t ref_active(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < S.nreq; i++)
		if (live(&S.req[i]) && !S.req[i].c && S.req[i].tick != IOUW_NO_TICK)
			n++;
	return n;
}

static bool deadline_inbound(void)
{
	for (uint32_t i = 0; i < S.nreq; i++)
		if (S.req[i].inbound && S.req[i].deadline != IOUW_NO_DEADLINE)
			return true;
	return false;
}

static uint64_t now_tick(void)
{
	return (S.vc.now_ns - START) / TICK;
}

/* docs/wheel.md §5 target_tick against the reference current tick. */
static uint64_t ref_target(uint64_t deadline)
{
	uint64_t t, horizon = (MAX_TIMEOUT + TICK - 1) / TICK;

	if (deadline <= START)
		return IOUW_NO_TICK;
	t = (deadline - START + TICK - 1) / TICK;
	if (t <= S.cur_tick)
		return IOUW_NO_TICK;
	return t > S.cur_tick + horizon ? S.cur_tick + horizon : t;
}

/* The loop's advance phase, computed independently. */
static void ref_advance(void)
{
	if (ref_active() == 0)
		return;
	S.advance_read = true;
	S.pm.clock_reads++;
	S.cur_tick = now_tick();
	for (uint32_t i = 0; i < S.nreq; i++) {
		struct lr_req *r = &S.req[i];

		if (live(r) && !r->c && r->tick != IOUW_NO_TICK && r->tick <= S.cur_tick) {
			r->c = true;
			note("reference: req%u's deadline tick %llu passed: cancel requested", i,
			     (unsigned long long)r->tick);
		}
	}
}

/* The original's drain: once the budget is spent (a budget of 0 from the
 * start), the next reap is followed by abandoning what is left, with no
 * timeout advanced and nothing staged or waited for. */
static bool budget_spent(void)
{
	return S.closed && S.budget != IOUW_NO_DEADLINE && S.drain_waited >= S.budget;
}

static uint64_t read_clock(void *ctx)
{
	(void)ctx;
	S.clock_reads++;
	if (S.advance_read) {
		S.advance_read = false;
		return S.vc.now_ns;
	}
	if (S.loop)
		EXPECT(ref_active() > 0 || deadline_inbound() ||
		               (S.closed && S.budget != IOUW_NO_DEADLINE),
		       "clock read while no deadline is active");
	return S.vc.now_ns;
}

static struct lr_req *by_wid(uint64_t wid)
{
	for (uint32_t i = 0; i < S.nreq; i++)
		if (live(&S.req[i]) && S.req[i].wid == wid)
			return &S.req[i];
	return NULL;
}

static struct lr_req *by_request(const struct iouw_request *req)
{
	for (uint32_t i = 0; i < S.nreq; i++)
		if (S.req[i].live.req == req && S.req[i].end == END_NONE)
			return &S.req[i];
	mismatch("event names a request the driver does not know");
}

static uint32_t num(const struct lr_req *r)
{
	return (uint32_t)(r - S.req);
}

/* ---- the loop policy model (loop_run.h, "Policy model") ------------------------ */

/* One fill action as the model expects it (docs/loop.md §6.3). */
enum pm_act { PM_STOP = 0, PM_WAKE, PM_SKIP, PM_CANCEL, PM_STAGE, PM_ADMIT };

static const char *const pm_act_name[] = { "nothing (the fill stops)", "the wake poll re-arm",
	                                   "skipping a queued cancel", "a queued cancel",
	                                   "a ready waiter", "a fresh request" };

static void pmq_push(struct pm_fifo *q, uint32_t i)
{
	EXPECT(q->len < IOUW_LR_MAX_REQUESTS, "model queue overflow");
	q->v[q->len++] = i;
}

static uint32_t pmq_pop(struct pm_fifo *q)
{
	uint32_t i = q->v[0];

	memmove(q->v, q->v + 1, (q->len - 1) * sizeof(q->v[0]));
	q->len--;
	return i;
}

static void pmq_remove(struct pm_fifo *q, uint32_t i)
{
	for (uint32_t k = 0; k < q->len; k++)
		if (q->v[k] == i) {
			memmove(q->v + k, q->v + k + 1, (q->len - k - 1) * sizeof(q->v[0]));
			q->len--;
			k--;
		}
}

static bool pm_in_flight(const struct lr_req *r)
{
	return live(r) && r->op != OP_NONE;
}

static uint32_t pm_tracked(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < S.nreq; i++)
		n += live(&S.req[i]);
	return n;
}

static bool pm_drained(void)
{
	return S.closed && S.pm.inbound.len == 0 && pm_tracked() == 0;
}

/* idle() in core/loop.c: nothing to stage, no admissible request. */
static bool pm_idle(void)
{
	return !S.pm.wake_arm && S.pm.ready.len == 0 && S.pm.cancels.len == 0 &&
	       !(pm_tracked() < S.pm.capacity && S.pm.inbound.len > 0);
}

/* What the fill does next, from the model's queues and its SQ room. */
static enum pm_act pm_next(uint32_t *req)
{
	if (S.pm.wake_arm)
		return S.pm.sq_left ? PM_WAKE : PM_STOP;
	if (S.pm.cancels.len > 0) {
		*req = S.pm.cancels.v[0];
		if (!pm_in_flight(&S.req[*req]))
			return PM_SKIP;
		return S.pm.sq_left ? PM_CANCEL : PM_STOP;
	}
	if (S.pm.ready.len > 0) {
		*req = S.pm.ready.v[0];
		return S.pm.sq_left ? PM_STAGE : PM_STOP;
	}
	if (pm_tracked() < S.pm.capacity && S.pm.inbound.len > 0) {
		*req = S.pm.inbound.v[0];
		return S.pm.sq_left ? PM_ADMIT : PM_STOP;
	}
	return PM_STOP;
}

static void pm_expect(enum iouw_loop_event_kind kind, uint32_t req, int outcome)
{
	EXPECT(S.pm.nexp < sizeof(S.pm.exp) / sizeof(S.pm.exp[0]), "model expectation overflow");
	S.pm.exp[S.pm.nexp].kind = kind;
	S.pm.exp[S.pm.nexp].req = req;
	S.pm.exp[S.pm.nexp].outcome = outcome;
	S.pm.nexp++;
}

static const char *pm_event_name(enum iouw_loop_event_kind k)
{
	static const char *const names[] = { "SQE", "CQE", "ADMIT", "ADMIT_EXPIRED", "STAGE",
		                             "COMPLETION", "EXPIRED", "CANCEL_QUEUED",
		                             "CANCEL_SKIPPED", "DELIVER", "ABANDON", "WAIT" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* Whether @ev is the expected event @e. */
static bool pm_matches(const struct iouw_loop_event *ev, const struct pm_exp *e)
{
	const struct lr_req *r = &S.req[e->req];

	if (ev->kind != e->kind)
		return false;
	switch (e->kind) {
	case IOUW_EV_SQE:
		if (e->outcome == PM_WAKE)
			return ev->sqe->user_data == IOUW_WAKE_USER_DATA;
		if (e->outcome == PM_CANCEL)
			return ev->sqe->opcode == IORING_OP_ASYNC_CANCEL && ev->sqe->addr == r->wid;
		return ev->sqe->user_data == r->wid && ev->sqe->opcode != IORING_OP_ASYNC_CANCEL;
	case IOUW_EV_DELIVER:
		return ev->request == r->live.req && ev->outcome == e->outcome;
	case IOUW_EV_STAGE:
		return iouw_waiter_id_user_data(ev->id) == r->wid && ev->outcome == e->outcome;
	case IOUW_EV_CANCEL_QUEUED:
	case IOUW_EV_CANCEL_SKIPPED:
		return iouw_waiter_id_user_data(ev->id) == r->wid;
	default:
		return ev->request == r->live.req;
	}
}

static void pm_expected_mismatch(const struct iouw_loop_event *ev, const struct pm_exp *e)
{
	mismatch("loop policy: %s event (id %#llx, outcome %d), the reference expects %s for "
	         "req%u (outcome %d)",
	         pm_event_name(ev->kind), (unsigned long long)iouw_waiter_id_user_data(ev->id),
	         ev->outcome, pm_event_name(e->kind), e->req, e->outcome);
}

/* A fill action begins with @ev: it must be the one the model picks. */
static void pm_fill_action(const struct iouw_loop_event *ev)
{
	uint32_t i = 0;
	enum pm_act a;
	struct lr_req *r;
	struct pm_exp first;

	EXPECT(S.pm.in_fill, "loop policy: %s event outside a fill", pm_event_name(ev->kind));
	a = pm_next(&i);
	if (a == PM_STOP)
		mismatch("loop policy: the fill goes on (%s event) where the reference stops (SQ room "
		         "%u)", pm_event_name(ev->kind), S.pm.sq_left);
	r = &S.req[i];
	first.req = i;
	first.outcome = 0;
	switch (a) {
	case PM_WAKE:
		first.kind = IOUW_EV_SQE;
		first.outcome = PM_WAKE;
		break;
	case PM_SKIP:
		first.kind = IOUW_EV_CANCEL_SKIPPED;
		break;
	case PM_CANCEL:
		first.kind = IOUW_EV_SQE;
		first.outcome = PM_CANCEL;
		break;
	case PM_STAGE:
		first.kind = IOUW_EV_STAGE;
		first.outcome = r->c ? IOUW_STAGE_TIMEOUT
		                     : (r->dropped && iouw_rm_orphanable(r->rm.kind)) ? IOUW_STAGE_ORPHANED
		                                                                      : IOUW_STAGE_SUBMIT;
		break;
	default:
		first.kind = ev->kind == IOUW_EV_ADMIT_EXPIRED ? IOUW_EV_ADMIT_EXPIRED : IOUW_EV_ADMIT;
		break;
	}
	if (!pm_matches(ev, &first)) {
		mismatch("loop policy: the fill's next step is %s (req%u), the loop gives a %s event "
		         "(id %#llx, outcome %d)",
		         pm_act_name[a], i, pm_event_name(ev->kind),
		         (unsigned long long)iouw_waiter_id_user_data(ev->id), ev->outcome);
	}
	switch (a) {
	case PM_WAKE:
		S.pm.wake_arm = false;
		S.pm.sq_left--;
		break;
	case PM_SKIP:
		pmq_pop(&S.pm.cancels);
		break;
	case PM_CANCEL:
		pmq_pop(&S.pm.cancels);
		S.pm.sq_left--;
		break;
	case PM_STAGE:
		pmq_pop(&S.pm.ready);
		if (first.outcome == IOUW_STAGE_TIMEOUT)
			pm_expect(IOUW_EV_DELIVER, i, IOUW_FINISH_TIMEOUT);
		else if (first.outcome == IOUW_STAGE_SUBMIT) {
			pm_expect(IOUW_EV_SQE, i, 0);
			S.pm.sq_left--;
		}
		break;
	default:
		pmq_pop(&S.pm.inbound);
		if (first.kind == IOUW_EV_ADMIT) {
			bool orphan = r->dropped && iouw_rm_orphanable(r->rm.kind);

			pm_expect(IOUW_EV_STAGE, i, orphan ? IOUW_STAGE_ORPHANED : IOUW_STAGE_SUBMIT);
			if (!orphan) {
				pm_expect(IOUW_EV_SQE, i, 0);
				S.pm.sq_left--;
			}
		}
		break;
	}
}

/* Every loop event, before the oracles above look at it. */
static void pm_event(const struct iouw_loop_event *ev)
{
	struct lr_req *r;
	bool is_cancel;

	if (S.pm.nexp > 0) {
		struct pm_exp e = S.pm.exp[0];

		if (!pm_matches(ev, &e))
			pm_expected_mismatch(ev, &e);
		memmove(S.pm.exp, S.pm.exp + 1, (S.pm.nexp - 1) * sizeof(S.pm.exp[0]));
		S.pm.nexp--;
		if (e.kind == IOUW_EV_CANCEL_QUEUED)
			pmq_push(&S.pm.cancels, e.req);
		return;
	}
	switch (ev->kind) {
	case IOUW_EV_CQE:
	case IOUW_EV_WAIT:
		EXPECT(!S.pm.in_fill, "loop policy: %s event inside a fill", pm_event_name(ev->kind));
		return;
	case IOUW_EV_COMPLETION:
		(void)iouw_waiter_id_from_user_data(ev->cqe.user_data, &is_cancel);
		r = by_wid(iouw_waiter_id_user_data(ev->id));
		if (!r || ev->outcome == IOUW_COMPLETION_CANCEL)
			return;
		if (ev->outcome == IOUW_COMPLETION_REQUEUE)
			pmq_push(&S.pm.ready, num(r)); /* back of the ready queue */
		else
			pm_expect(IOUW_EV_DELIVER, num(r), IOUW_FINISH_COMPLETE);
		return;
	case IOUW_EV_EXPIRED:
		if (!ev->outcome)
			return;
		r = by_wid(iouw_waiter_id_user_data(ev->id));
		if (!r)
			return; /* the oracle below names it */
		if (pm_in_flight(r)) {
			pm_expect(IOUW_EV_CANCEL_QUEUED, num(r), 0);
		} else {
			uint32_t k;

			for (k = 0; k < S.pm.ready.len && S.pm.ready.v[k] != num(r); k++)
				;
			EXPECT(k < S.pm.ready.len,
			       "loop policy: req%u expired neither in flight nor ready", num(r));
		}
		return;
	case IOUW_EV_CANCEL_QUEUED:
		r = by_wid(iouw_waiter_id_user_data(ev->id));
		mismatch("loop policy: a cancel queued for waiter %#llx (req%d), the reference "
		         "queues none (%s)",
		         (unsigned long long)iouw_waiter_id_user_data(ev->id), r ? (int)num(r) : -1,
		         r && !pm_in_flight(r) ? "not in flight" : "no deadline fired just now");
	case IOUW_EV_ABANDON:
		r = by_request(ev->request);
		pmq_remove(&S.pm.inbound, num(r));
		pmq_remove(&S.pm.ready, num(r));
		pmq_remove(&S.pm.cancels, num(r));
		return;
	case IOUW_EV_DELIVER:
		mismatch("loop policy: an unexpected delivery (outcome %d)", ev->outcome);
	default:
		pm_fill_action(ev);
		return;
	}
}

/* The fill (if one ran) is over: everything expected came, and the model
 * agrees that it had to stop there. */
static void pm_fill_end(void)
{
	uint32_t i = 0;
	enum pm_act a;

	if (!S.pm.in_fill)
		return;
	EXPECT(S.pm.nexp == 0, "loop policy: the fill ended before a %s event for req%u",
	       pm_event_name(S.pm.exp[0].kind), S.pm.exp[0].req);
	a = pm_next(&i);
	EXPECT(a == PM_STOP, "loop policy: the fill stopped before %s (req%u), SQ room %u",
	       pm_act_name[a], i, S.pm.sq_left);
	S.pm.in_fill = false;
}

/* The @n waiters of the loop queue @what, in order, against the model's @q. */
static void pm_check_fifo(const char *what, const iouw_waiter_id *ids, size_t n,
                          const struct pm_fifo *q)
{
	EXPECT(n == q->len, "loop policy: %s holds %zu, the reference %u", what, n, q->len);
	for (size_t k = 0; k < n; k++)
		EXPECT(iouw_waiter_id_user_data(ids[k]) == S.req[q->v[k]].wid,
		       "loop policy: %s position %zu is %#llx, the reference has req%u", what, k,
		       (unsigned long long)iouw_waiter_id_user_data(ids[k]), q->v[k]);
}

/* The loop's queues, in order, against the model's; the clock reads. */
static void pm_check_queues(void)
{
	iouw_waiter_id ids[IOUW_LR_MAX_REQUESTS];
	size_t n;

	pm_fill_end();
	EXPECT(S.pm.nexp == 0, "loop policy: a %s event for req%u never came",
	       pm_event_name(S.pm.exp[0].kind), S.pm.exp[0].req);
	n = iouw_loop_ready(S.loop, ids, IOUW_LR_MAX_REQUESTS);
	pm_check_fifo("ready queue", ids, n, &S.pm.ready);
	n = iouw_loop_pending_cancels(S.loop, ids, IOUW_LR_MAX_REQUESTS);
	pm_check_fifo("pending-cancel queue", ids, n, &S.pm.cancels);
	EXPECT(iouw_loop_inbound_len(S.loop) == S.pm.inbound.len,
	       "loop policy: front door holds %zu, the reference %u", iouw_loop_inbound_len(S.loop),
	       S.pm.inbound.len);
	EXPECT(S.clock_reads == S.pm.clock_reads,
	       "loop policy: %llu clock reads, the reference %llu",
	       (unsigned long long)S.clock_reads, (unsigned long long)S.pm.clock_reads);
}

static void observe(void *ctx, const struct iouw_loop_event *ev)
{
	struct lr_req *r;
	bool is_cancel;
	iouw_waiter_id id;

	(void)ctx;
	pm_event(ev);
	/* After the budget is spent the drain only reaps (CQEs, their
	 * completions and deliveries) and abandons; the wait that spent it
	 * reports its end (IOUW_EV_WAIT) after the charge. */
	EXPECT(!budget_spent() || ev->kind == IOUW_EV_CQE || ev->kind == IOUW_EV_COMPLETION ||
	               ev->kind == IOUW_EV_WAIT ||
	               ev->kind == IOUW_EV_ABANDON ||
	               (ev->kind == IOUW_EV_DELIVER && ev->outcome == IOUW_FINISH_COMPLETE),
	       "loop event %d (outcome %d) after the shutdown budget was spent", (int)ev->kind,
	       ev->outcome);
	switch (ev->kind) {
	case IOUW_EV_CQE:
		if (ev->cqe.user_data == IOUW_WAKE_USER_DATA)
			mismatch("wake poll CQE nobody posted");
		if (S.fatal_armed && ev->cqe.user_data == S.fatal_ud)
			return; /* its invariant fires next: the history ends */
		iouw_km_reaped(&S.km, ev->cqe.user_data);
		for (uint32_t k = 0; k < S.ncq; k++)
			if (S.cq[k] == ev->cqe.user_data) {
				memmove(S.cq + k, S.cq + k + 1, (S.ncq - k - 1) * sizeof(S.cq[0]));
				S.ncq--;
				break;
			}
		id = iouw_waiter_id_from_user_data(ev->cqe.user_data, &is_cancel);
		if (is_cancel) {
			memset(&S.cancel_before, 0, sizeof(S.cancel_before));
			S.cancel_snap = iouw_waiters_slot(iouw_loop_waiters(S.loop),
			                                  iouw_waiter_id_index(id), &S.cancel_before) == 0;
			return;
		}
		for (uint32_t i = 0; i < S.nreq; i++) {
			r = &S.req[i];
			if (r->op != OP_POSTED || r->op_ud != ev->cqe.user_data)
				continue;
			EXPECT(!r->rm.recorded, "req%u fed a CQE after its terminal result", i);
			iouw_rm_on_cqe(&r->rm, r->c, ev->cqe.res);
			r->op = OP_NONE;
			{
				struct iouw_rm_result done;

				iouw_rm_complete_result(&r->rm, &done);
				LS(reaped, i, r->rm.recorded ? &done : NULL);
			}
			note("reap: req%u op CQE res %d (%s%s)", i, (int)ev->cqe.res,
			     iouw_rm_class_name(iouw_rm_classify(ev->cqe.res, r->c)),
			     r->rm.recorded ? ", terminal" : "");
			return;
		}
		mismatch("reaped op CQE %#llx that was never posted",
		         (unsigned long long)ev->cqe.user_data);
	case IOUW_EV_COMPLETION:
		if (ev->outcome == IOUW_COMPLETION_CANCEL && S.cancel_snap) {
			struct iouw_waiter_info after;

			memset(&after, 0, sizeof(after));
			iouw_waiters_slot(iouw_loop_waiters(S.loop), iouw_waiter_id_index(ev->id), &after);
			EXPECT(memcmp(&after, &S.cancel_before, sizeof(after)) == 0,
			       "cancel CQE for %u/%u changed its slot", iouw_waiter_id_index(ev->id),
			       iouw_waiter_id_generation(ev->id));
			S.cancel_snap = false;
		}
		return;
	case IOUW_EV_ADMIT:
	case IOUW_EV_ADMIT_EXPIRED: {
		uint64_t want;

		r = by_request(ev->request);
		EXPECT(r->inbound, "req%u admitted twice or never submitted", num(r));
		if (r->deadline != IOUW_NO_DEADLINE && ref_active() == 0) {
			S.cur_tick = now_tick(); /* idle catch-up */
			S.pm.clock_reads++;
		}
		want = r->deadline == IOUW_NO_DEADLINE ? IOUW_NO_TICK : ref_target(r->deadline);
		r->inbound = false;
		if (ev->kind == IOUW_EV_ADMIT_EXPIRED) {
			EXPECT(r->deadline != IOUW_NO_DEADLINE && want == IOUW_NO_TICK,
			       "req%u timed out at admission, reference tick %llu", num(r),
			       (unsigned long long)want);
			EXPECT(r->deadline <= S.vc.now_ns, "req%u expired before its deadline", num(r));
			r->end = END_EXPIRED;
			LS(admit, num(r), true, 0, 0);
			note("admit: req%u deadline already passed: Timeout", num(r));
			return;
		}
		EXPECT(want == ev->tick, "req%u admitted with tick %llu, reference %llu", num(r),
		       (unsigned long long)ev->tick, (unsigned long long)want);
		r->admitted = true;
		r->tick = want;
		r->wid = iouw_waiter_id_user_data(ev->id);
		LS(admit, num(r), false, iouw_waiter_id_index(ev->id),
		              iouw_waiter_id_generation(ev->id));
		note("admit: req%u as waiter %u/%u, deadline tick %lld", num(r),
		     iouw_waiter_id_index(ev->id), iouw_waiter_id_generation(ev->id),
		     want == IOUW_NO_TICK ? -1LL : (long long)want);
		return;
	}
	case IOUW_EV_DELIVER:
		r = by_request(ev->request);
		r->end = ev->outcome == IOUW_FINISH_TIMEOUT ? END_TIMEOUT : END_COMPLETE;
		return;
	case IOUW_EV_ABANDON:
		r = by_request(ev->request);
		EXPECT(budget_spent(), "req%u abandoned without a spent shutdown budget", num(r));
		EXPECT(ev->outcome == (r->admitted && r->op != OP_NONE),
		       "req%u abandoned with in_flight %d, reference op state %d", num(r), ev->outcome,
		       (int)r->op);
		r->inbound = false;
		r->end = END_ABANDON;
		r->detached = ev->outcome != 0;
		return;
	case IOUW_EV_EXPIRED:
		if (ev->outcome) {
			/* The loop's decision; the reference made its own at reap-done. */
			r = by_wid(iouw_waiter_id_user_data(ev->id));
			EXPECT(r && r->c, "loop cancels waiter %u/%u, the reference does not",
			       iouw_waiter_id_index(ev->id), iouw_waiter_id_generation(ev->id));
		}
		return;
	case IOUW_EV_STAGE:
		if (ev->outcome == IOUW_STAGE_ORPHANED) {
			r = by_wid(iouw_waiter_id_user_data(ev->id));
			EXPECT(r != NULL, "orphaned an unknown waiter");
			EXPECT(r->dropped && iouw_rm_orphanable(r->rm.kind) && !r->c,
			       "req%u orphaned, reference: dropped %d kind %s cancel %d", num(r),
			       r->dropped, iouw_request_kind_name(r->rm.kind), r->c);
			r->end = END_ORPHANED;
		}
		return;
	default:
		return;
	}
}

/* ---- the fake kernel ---------------------------------------------------------- */

static struct lr_req *by_fd(int fd)
{
	for (uint32_t i = 0; i < S.nreq; i++)
		if (S.req[i].end == END_NONE && S.req[i].live.req && S.req[i].live.fd == fd)
			return &S.req[i];
	return NULL;
}

/* The loop pushed @sqe into the SQ (the kernel sees it at the next submit). */
static void on_push(const struct io_uring_sqe *sqe)
{
	struct lr_req *r;

	EXPECT(!budget_spent(), "SQE (opcode %s) pushed after the shutdown budget was spent",
	       iouw_rs_opcode_name(sqe->opcode));
	{
		if (sqe->user_data == IOUW_WAKE_USER_DATA) {
			EXPECT(sqe->opcode == IORING_OP_POLL_ADD, "wake user_data on a %s",
			       iouw_rs_opcode_name(sqe->opcode));
			S.wake_pushed = true;
			return;
		}
		EXPECT(sqe->flags == 0, "SQE flags %#x", sqe->flags);
		if (sqe->opcode == IORING_OP_ASYNC_CANCEL) {
			uint32_t k;

			EXPECT(sqe->user_data == (sqe->addr | IOUW_WAITER_CANCEL_TAG) &&
			               !(sqe->addr & IOUW_WAITER_CANCEL_TAG),
			       "ASYNC_CANCEL user_data %#llx for target %#llx",
			       (unsigned long long)sqe->user_data, (unsigned long long)sqe->addr);
			for (k = 0; k < S.nreq; k++)
				if (live(&S.req[k]) && S.req[k].wid == sqe->addr)
					break;
			EXPECT(k < S.nreq && S.req[k].op != OP_NONE,
			       "ASYNC_CANCEL for %#llx, which has no op in flight",
			       (unsigned long long)sqe->addr);
			EXPECT(!S.req[k].cancel_seen, "second ASYNC_CANCEL for req%u", k);
			EXPECT(S.req[k].c, "ASYNC_CANCEL for req%u before its deadline passed", k);
			S.req[k].cancel_seen = true;
			LS(cancel_sqe, k);
			S.cancels[S.ncancels].submitted = false;
			S.cancels[S.ncancels].ud = sqe->user_data;
			S.cancels[S.ncancels].req = k;
			S.ncancels++;
			note("pushed: ASYNC_CANCEL for req%u", k);
			return;
		}
		r = by_fd(sqe->fd);
		EXPECT(r != NULL, "%s SQE on fd %d of no live request", iouw_rs_opcode_name(sqe->opcode),
		       sqe->fd);
		EXPECT(r->admitted, "SQE for req%u before admission", num(r));
		EXPECT(r->op == OP_NONE, "second op SQE in flight for req%u", num(r));
		EXPECT(!(sqe->user_data & IOUW_WAITER_CANCEL_TAG), "op SQE with the cancel tag");
		EXPECT(r->wid == sqe->user_data, "req%u's SQE carries user_data %#llx, its waiter is %#llx",
		       num(r), (unsigned long long)sqe->user_data, (unsigned long long)r->wid);
		for (uint32_t k = 0; k < S.nreq; k++)
			EXPECT(k == num(r) || S.req[k].op == OP_NONE || S.req[k].op_ud != sqe->user_data,
			       "user_data %#llx in flight for req%u and req%u",
			       (unsigned long long)sqe->user_data, k, num(r));
		{
			struct iouw_rm_sqe want;
			const char *why;

			iouw_rm_expected_sqe(&r->rm, &want);
			LS(sqe, num(r), &want);
			why = iouw_rs_check_sqe(&r->live, &want, sqe);
			if (why)
				mismatch("req%u: %s", num(r), why);
		}
		r->op = OP_PUSHED;
		r->had_op = true;
		r->op_ud = sqe->user_data;
		r->sqe = *sqe;
		note("pushed: req%u %s of %u bytes", num(r), iouw_rs_opcode_name(sqe->opcode),
		     iouw_rs_sqe_bytes(sqe));
	}
}

/* Everything pushed reached the kernel. */
static void on_submit(void)
{
	const struct io_uring_sqe *sqes;

	(void)iouw_skernel_submitted(S.k, &sqes);
	iouw_skernel_clear_submitted(S.k);
	if (S.wake_pushed)
		(void)iouw_km_submit_wake(&S.km, IOUW_WAKE_USER_DATA); /* re-armed: still one poll */
	S.wake_pushed = false;
	for (uint32_t i = 0; i < S.nreq; i++)
		if (S.req[i].op == OP_PUSHED) {
			S.req[i].op = OP_OUT;
			EXPECT(iouw_km_submit_op(&S.km, S.req[i].op_ud, S.req[i].sqe.opcode,
			                         iouw_rs_sqe_bytes(&S.req[i].sqe)) == 0,
			       "req%u's op SQE submitted while the kernel holds its user_data", i);
		}
	for (uint32_t k = 0; k < S.ncancels; k++)
		if (!S.cancels[k].submitted) {
			S.cancels[k].submitted = true;
			EXPECT(iouw_km_submit_cancel(&S.km, S.cancels[k].ud,
			                             S.cancels[k].ud & ~IOUW_WAITER_CANCEL_TAG) == 0,
			       "req%u's ASYNC_CANCEL submitted twice", S.cancels[k].req);
		}
}

static void post_any(uint64_t ud, int32_t res, bool hostile)
{
	const char *why = iouw_km_post(&S.km, ud, res, 0);
	int rc;

	/* The kernel model decides which CQE (every legal answer is drawn
	 * from it and must be legal; a hostile one may be either: some
	 * hostile draws are legal); the scripted kernel posts it. */
	EXPECT(hostile || why == NULL, "the fake kernel posted %#llx res %d, which the kernel "
	       "model calls hostile: %s", (unsigned long long)ud, (int)res, why);
	rc = iouw_skernel_post(S.k, ud, res, 0);

	/* Posting may run inside a core call (the kernel answers while the
	 * loop waits): no unwinding from there. */
	if (iouw_fuzz_env_error(rc))
		iouw_fuzz_env_exit(S.name, "posting a CQE", rc);
	EXPECT(rc == 0, "posting a CQE failed: %d", rc);
	S.posts++;
	if (S.ncq < sizeof(S.cq) / sizeof(S.cq[0]))
		S.cq[S.ncq++] = ud;
}

static void post(uint64_t ud, int32_t res)
{
	post_any(ud, res, false);
}

/* Outstanding answers: ops first (request order), then cancels. */
static uint32_t outstanding(uint32_t *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < S.nreq; i++)
		if (S.req[i].op == OP_OUT)
			out[n++] = i;
	for (uint32_t k = 0; k < S.ncancels; k++)
		if (S.cancels[k].submitted)
			out[n++] = IOUW_LR_MAX_REQUESTS + k;
	return n;
}

/* The kernel answers @r's op: a legal result from the kernel model (no
 * bytes read when !@fuzzed: the default, full success or the -ECANCELED a
 * cancel 0 forces). */
static void answer_op(struct lr_req *r, bool fuzzed)
{
	int32_t res = iouw_km_draw_op(&S.km, fuzzed ? &S.fdp : NULL, r->op_ud);

	iouw_rs_kernel_apply(&r->live, &r->sqe, res, S.stamp++);
	r->op = OP_POSTED;
	say(" -> kernel: req%u's %s res %d", num(r), iouw_rs_opcode_name(r->sqe.opcode), (int)res);
	LS(answer, num(r), false, res);
	post(r->op_ud, res);
}

static void answer_cancel(uint32_t k, bool fuzzed)
{
	struct lr_cancel c = S.cancels[k];
	int32_t res;

	memmove(&S.cancels[k], &S.cancels[k + 1], (S.ncancels - k - 1) * sizeof(S.cancels[0]));
	S.ncancels--;
	res = iouw_km_draw_cancel(&S.km, fuzzed ? &S.fdp : NULL, c.ud);
	say(" -> kernel: req%u's ASYNC_CANCEL res %d", c.req, (int)res);
	LS(answer, c.req, true, res);
	post(c.ud, res);
}

static bool answer_one(bool fuzzed)
{
	uint32_t cand[IOUW_LR_MAX_REQUESTS + MAX_CANCELS];
	uint32_t n = outstanding(cand), pick;

	if (n == 0)
		return false;
	S.choice = IOUW_LR_CH_KERNEL;
	pick = cand[fuzzed ? iouw_fdp_pick(&S.fdp, n) : 0];
	S.choice = IOUW_LR_CH_ANSWER;
	if (pick >= IOUW_LR_MAX_REQUESTS)
		answer_cancel(pick - IOUW_LR_MAX_REQUESTS, fuzzed);
	else
		answer_op(&S.req[pick], fuzzed);
	return true;
}

/* The backend wrapper's wait: the kernel answers, or time passes. */
static void kernel_wait(int64_t timeout_ns)
{
	bool fuzzed, silent;

	S.choice = IOUW_LR_CH_KERNEL;
	fuzzed = S.drain_choices < MAX_DRAIN_CHOICES && iouw_fdp_remaining(&S.fdp) > 0;

	silent = timeout_ns >= 0 && S.drain_choices < 8 && (S.drain_silent >> S.drain_choices & 1);
	S.drain_choices++;
	if (!silent && answer_one(fuzzed))
		return;
	if (timeout_ns >= 0) {
		iouw_virtual_clock_advance(&S.vc, (uint64_t)timeout_ns);
		S.drain_waited += (uint64_t)timeout_ns;
		say(" -> wait: %sclock +%lldns", silent ? "kernel silent until the bound, " : "",
		    (long long)timeout_ns);
		LS(drain_clock, (uint64_t)timeout_ns);
	}
}

/* ---- backend wrapper ---------------------------------------------------------- */

static int lr_push(struct iouw_backend *b, const struct io_uring_sqe *sqe)
{
	int rc;

	(void)b;
	rc = iouw_backend_push_sqe(S.k, sqe);
	if (rc == 0)
		on_push(sqe);
	return rc;
}

/* Only the fill asks: first thing (a fill begins), and when it hands its
 * staged SQEs over (iouw_backend_push_sqes() checks the room). */
static unsigned lr_sq_space(struct iouw_backend *b)
{
	unsigned n;

	(void)b;
	if (S.pm.in_fill)
		return iouw_backend_sq_space(S.k);
	EXPECT(!S.pm.drain_over, "loop policy: the drain fills the SQ after it should have ended");
	pm_check_queues();
	n = iouw_backend_sq_space(S.k);
	S.pm.in_fill = true;
	S.pm.sq_left = n;
	return n;
}

/* The scripted kernel's wait hook: the loop would block. What was
 * submitted reached the kernel; it answers one SQE, or time passes. */
static int lr_wait_hook(void *ctx, unsigned wait_nr, int64_t timeout_ns)
{
	(void)ctx;
	(void)wait_nr;
	on_submit();
	EXPECT(S.draining, "the loop waits outside iouw_loop_run()");
	kernel_wait(timeout_ns);
	return 0;
}

/* The wait the reference expects from submit_and_wait(): blocking only in
 * the drain, with nothing to stage or admit and something left to wait for,
 * bounded by the budget left (exactly, with no deadline active) and without
 * a bound with neither. */
static void pm_check_wait(unsigned wait_nr, int64_t timeout_ns)
{
	bool want = S.draining && !pm_drained() && pm_idle();

	EXPECT(!S.pm.drain_over, "loop policy: the drain submits after it should have ended");
	EXPECT(wait_nr == (want ? 1u : 0u), "loop policy: wait_nr %u, the reference %u", wait_nr,
	       want ? 1u : 0u);
	if (S.draining && pm_drained())
		S.pm.drain_over = true; /* step 5: submit what was pushed, done */
	if (!wait_nr)
		return;
	if (S.budget != IOUW_NO_DEADLINE) {
		uint64_t left = S.budget - S.drain_waited;

		EXPECT(timeout_ns >= 0 && (uint64_t)timeout_ns <= left,
		       "loop policy: wait bound %lldns, budget left %lluns", (long long)timeout_ns,
		       (unsigned long long)left);
		EXPECT(ref_active() > 0 || (uint64_t)timeout_ns == left,
		       "loop policy: wait bound %lldns with no deadline active, budget left %lluns",
		       (long long)timeout_ns, (unsigned long long)left);
	} else if (ref_active() == 0) {
		EXPECT(timeout_ns == IOUW_BACKEND_NO_TIMEOUT,
		       "loop policy: wait bound %lldns with no deadline and no budget",
		       (long long)timeout_ns);
	}
}

static int lr_submit_and_wait(struct iouw_backend *b, unsigned wait_nr, int64_t timeout_ns)
{
	int n;

	(void)b;
	EXPECT(!budget_spent(), "the loop submits after the shutdown budget was spent");
	pm_fill_end();
	if (S.closed && S.budget != IOUW_NO_DEADLINE)
		S.pm.clock_reads++; /* the drain charges the wait: a read before */
	pm_check_queues();
	pm_check_wait(wait_nr, timeout_ns);
	if (S.closed && S.budget != IOUW_NO_DEADLINE)
		S.pm.clock_reads++; /* and one after */
	n = iouw_backend_submit_and_wait(S.k, wait_nr, timeout_ns);
	if (iouw_fuzz_env_error(n))
		iouw_fuzz_env_exit(S.name, "capturing submitted SQEs", n);
	if (n >= 0)
		on_submit();
	return n;
}

static unsigned lr_reap(struct iouw_backend *b, struct iouw_cqe *out, unsigned max)
{
	unsigned n;

	(void)b;
	EXPECT(!S.pm.drain_over, "loop policy: the drain reaps after it should have ended");
	pm_fill_end();
	n = iouw_backend_reap(S.k, out, max);
	/* The drain's step 2 and 3: drained, or the budget spent -> return. */
	if (n == 0 && S.draining && (pm_drained() || budget_spent())) {
		S.pm.drain_over = true;
		if (!pm_drained()) {
			/* Abandoned: both queues are emptied, stale cancels too. */
			S.pm.ready.len = 0;
			S.pm.cancels.len = 0;
		}
	}
	/* iouw_loop_reap ends: the advance phase is next, unless the drain's
	 * budget is spent (then it abandons, advancing nothing). */
	if (n == 0 && S.arm_advance && !budget_spent())
		ref_advance();
	return n;
}

static void lr_free(struct iouw_backend *b)
{
	(void)b;
}

static const struct iouw_backend_ops lr_ops = {
	.push_sqe = lr_push,
	.sq_space = lr_sq_space,
	.submit_and_wait = lr_submit_and_wait,
	.reap = lr_reap,
	.free = lr_free,
};

/* ---- steps --------------------------------------------------------------------- */

static void check_ends(void)
{
	for (uint32_t i = 0; i < S.nreq; i++) {
		struct lr_req *r = &S.req[i];
		struct iouw_rm_result want;
		struct iouw_result got;
		const char *why;
		char buf[128];
		int rc;

		if (r->end == END_NONE || r->checked)
			continue;
		r->checked = true;
		switch (r->end) {
		case END_EXPIRED:
			iouw_rm_timeout_result(&r->rm, &want);
			break;
		case END_ORPHANED:
			EXPECT(r->live.handle == NULL, "req%u orphaned while its caller waits", i);
			iouw_rm_abandon_result(&r->rm, &want);
			break;
		case END_ABANDON:
		case END_REFUSED:
			iouw_rm_abandon_result(&r->rm, &want);
			if (r->detached) { /* the buffer stays with the request */
				want.has_buf = false;
				want.buf_len = 0;
			}
			break;
		case END_TIMEOUT:
			EXPECT(r->c, "req%u timed out locally but its deadline has not passed", i);
			EXPECT(!r->rm.recorded, "req%u timed out although a result was recorded", i);
			iouw_rm_timeout_result(&r->rm, &want);
			break;
		default:
			EXPECT(r->rm.recorded || (r->dropped && iouw_rm_orphanable(r->rm.kind)),
			       "req%u completed without a terminal result", i);
			iouw_rm_complete_result(&r->rm, &want);
			break;
		}
		LS(result, i, &want, r->live.handle != NULL, r->detached);
		EXPECT((r->op != OP_OUT && r->op != OP_PUSHED) || r->end == END_ABANDON,
		       "req%u ended with its op SQE unanswered", i);
		r->live.req = NULL;
		EXPECT(iouw_rs_fd_open(r->live.fd) == r->detached, "req%u ended but its fd %d is %s", i,
		       r->live.fd, r->detached ? "closed before loop free" : "open");
		if (r->live.handle) {
			rc = iouw_handle_try(r->live.handle, &got);
			EXPECT(rc == 0, "req%u ended but its handle has no result (%d)", i, rc);
			why = iouw_rs_check_result(&r->live, &got, &want);
			if (why)
				mismatch("req%u: %s", i, why);
			iouw_result_free(&got);
			EXPECT(iouw_handle_try(r->live.handle, &got) == -EALREADY,
			       "req%u: a second result", i);
			iouw_handle_drop(r->live.handle);
			r->live.handle = NULL;
			note("req%u: caller gets %s", i, iouw_rm_result_str(&want, buf, sizeof(buf)));
		} else {
			note("req%u: ended, nobody listening", i);
		}
		iouw_rs_discard(&r->live);
	}
}

static void check_step(void)
{
	iouw_loop_assert_consistent(S.loop);
	pm_check_queues();
	check_ends();
	for (uint32_t i = 0; i < S.nreq; i++) {
		struct lr_req *r = &S.req[i];
		struct iouw_result got;

		if (r->end != END_NONE)
			continue;
		EXPECT(!r->rm.recorded || r->op == OP_POSTED,
		       "req%u has a terminal result but was not delivered", i);
		if (r->live.handle)
			EXPECT(iouw_handle_try(r->live.handle, &got) == -EAGAIN,
			       "live req%u already has a result", i);
	}
	LS0(step_end);
}

static struct lr_req *new_req(void)
{
	struct lr_req *r = &S.req[S.nreq];
	uint64_t deadline = IOUW_NO_DEADLINE;
	int rc;

	memset(r, 0, sizeof(*r));
	S.choice = IOUW_LR_CH_SPEC;
	iouw_rs_decode(&S.fdp, S.nreq, &r->spec);
	S.choice = IOUW_LR_CH_DEADLINE;
	if (r->spec.kind == IOUW_REQUEST_SEND || r->spec.kind == IOUW_REQUEST_RECV) {
		switch (iouw_fdp_pick(&S.fdp, 3)) {
		case 0:
			break;
		case 1:
			deadline = S.vc.now_ns - iouw_fdp_u64_in_range(&S.fdp, 0, 5 * MS);
			break;
		default:
			deadline = S.vc.now_ns + iouw_fdp_u64_in_range(&S.fdp, 1, 48 * MS);
			break;
		}
	}
	S.choice = IOUW_LR_CH_STEP;
	rc = iouw_rs_create(&r->spec, iouw_rs_source_fd(), deadline, &r->live);
	if (iouw_fuzz_env_error(rc)) {
		S.env_what = "creating a request";
		S.env_err = rc;
		return NULL;
	}
	EXPECT(rc == 0, "constructor refused a valid request: %d", rc);
	iouw_rs_model(&r->spec, &r->rm);
	r->deadline = deadline;
	r->tick = IOUW_NO_TICK;
	LS(request, S.nreq, &r->spec, deadline, S.vc.now_ns);
	S.nreq++;
	say(" req%u: ", num(r));
	if (S.trace) {
		char *s = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&s, &len);

		if (m) {
			iouw_rs_format(m, &r->spec);
			fclose(m);
			say("%s", s);
			free(s);
		}
	} else {
		say("%s", iouw_request_kind_name(r->spec.kind));
	}
	if (deadline != IOUW_NO_DEADLINE)
		say(" deadline %+lldns", (long long)(deadline - S.vc.now_ns));
	return r;
}

static void refused(struct lr_req *r)
{
	/* The caller still owns it: give it up. */
	r->live.req->ops->release(r->live.req);
	r->end = END_REFUSED;
	LS(submitted, num(r), false);
	say(" (refused)");
}

static void step_submit(unsigned count)
{
	struct iouw_request *reqs[3];
	struct lr_req *rs[3];
	unsigned n = 0;
	int rc;

	begin_step("submit%s", count > 1 ? "_many" : "");
	for (unsigned i = 0; i < count && S.nreq < IOUW_LR_MAX_REQUESTS; i++) {
		rs[n] = new_req();
		if (!rs[n]) {
			/* Environment failure: give up the ones made here. */
			for (unsigned k = 0; k < n; k++)
				rs[k]->live.req->ops->release(rs[k]->live.req);
			return;
		}
		reqs[n] = rs[n]->live.req;
		n++;
	}
	if (n == 1 && count == 1) {
		rc = iouw_loop_submit(S.loop, reqs[0]);
		EXPECT(rc == 0 || rc == -EAGAIN, "submit returned %d", rc);
		rc = rc == 0 ? 1 : 0;
	} else {
		rc = iouw_loop_submit_many(S.loop, reqs, n);
		EXPECT(rc >= 0 && (unsigned)rc <= n, "submit_many returned %d", rc);
	}
	{
		/* The front door holds as many as the ring has entries. */
		uint32_t room = S.pm.capacity - S.pm.inbound.len;

		EXPECT((uint32_t)rc == (n < room ? n : room),
		       "loop policy: the front door accepts %d of %u, room for %u", rc, n, room);
	}
	for (unsigned i = 0; i < n; i++) {
		if ((int)i < rc) {
			pmq_push(&S.pm.inbound, num(rs[i]));
			rs[i]->inbound = true;
			LS(submitted, num(rs[i]), true);
		} else
			refused(rs[i]);
	}
	if (S.trace)
		fprintf(S.trace, "    %s\n", S.desc);
}

static void step_drop(void)
{
	uint32_t cand[IOUW_LR_MAX_REQUESTS], n = 0, i;

	for (i = 0; i < S.nreq; i++)
		if (S.req[i].end == END_NONE && S.req[i].live.handle)
			cand[n++] = i;
	begin_step("drop");
	if (n == 0) {
		say(" (no caller waiting)");
		return;
	}
	i = cand[iouw_fdp_pick(&S.fdp, n)];
	iouw_handle_drop(S.req[i].live.handle);
	S.req[i].live.handle = NULL;
	S.req[i].dropped = true;
	LS(drop, i);
	say(" req%u's caller leaves", i);
}

static void step_clock(void)
{
	uint64_t d;

	S.choice = IOUW_LR_CH_CLOCK;
	switch (iouw_fdp_pick(&S.fdp, 3)) {
	case 0:
		d = iouw_fdp_u64_in_range(&S.fdp, 0, TICK - 1);
		break;
	case 1:
		d = iouw_fdp_u64_in_range(&S.fdp, 1, 8) * TICK;
		break;
	default:
		d = MAX_TIMEOUT + iouw_fdp_u64_in_range(&S.fdp, 0, 255) * TICK;
		break;
	}
	begin_step("clock +%lluns", (unsigned long long)d);
	iouw_virtual_clock_advance(&S.vc, d);
}

static void step_turn(void)
{
	int rc;

	begin_step("turn");
	S.arm_advance = true;
	rc = iouw_loop_turn(S.loop, false);
	S.arm_advance = false;
	EXPECT(rc == 0, "turn returned %d", rc);
}

static void step_phase(void)
{
	int rc;

	switch (iouw_fdp_pick(&S.fdp, 4)) {
	case 0:
		begin_step("phase: reap");
		iouw_loop_reap(S.loop);
		break;
	case 1:
		begin_step("phase: advance timeouts");
		ref_advance();
		iouw_loop_advance_timeouts(S.loop);
		break;
	case 2:
		begin_step("phase: fill SQ");
		iouw_loop_fill_sq(S.loop);
		break;
	default:
		begin_step("phase: submit");
		rc = iouw_loop_submit_and_wait(S.loop, false);
		EXPECT(rc == 0, "submit_and_wait returned %d", rc);
		break;
	}
}

#define CANCEL_EINVAL_INVARIANT "async cancel SQE rejected by kernel: EINVAL"

/* HOSTILE: the CQ is empty and one hostile CQE was just posted; the loop
 * reaps it at once. @inv (the reference's verdict, NULL: none) must fire
 * -- the history then ends (S.fatal) -- or, with none, the CQE is handled
 * like any other, under the usual oracles. */
static void reap_hostile(uint64_t ud, const char *inv)
{
	if (!inv) {
		iouw_loop_reap(S.loop);
		return;
	}
	S.fatal_armed = true;
	S.fatal_ud = ud;
	if (sigsetjmp(iouw_fatal_jmp, 0) != 0) {
		S.fatal = true;
		say(" -> invariant \"%s\" fired: the history ends", inv);
		return;
	}
	iouw_fatal_arm(inv, S.name);
	iouw_loop_reap(S.loop);
	iouw_fatal_disarm();
	S.fatal_armed = false;
	mismatch("the hostile CQE had to fire \"%s\"; the reap returned", inv);
}

static uint32_t slot_of(uint64_t wid)
{
	bool is_cancel;

	return iouw_waiter_id_index(iouw_waiter_id_from_user_data(wid, &is_cancel));
}

/* HOSTILE (kernel model H1): an op CQE for an SQE the kernel does not hold,
 * aimed at a request that was admitted once and has no op outstanding. The
 * first check of the table it fails names the invariant
 * (core/waiter_internal.h): an empty slot, another generation in it, or
 * the waiter itself with no op in flight. False when no request fits. */
static bool hostile_stray_op(void)
{
	uint32_t cand[IOUW_LR_MAX_REQUESTS], n = 0, k;
	const struct lr_req *r, *occupant = NULL;
	const char *inv;

	for (uint32_t i = 0; i < S.nreq; i++)
		if (S.req[i].admitted && S.req[i].op == OP_NONE)
			cand[n++] = i;
	if (n == 0)
		return false;
	k = cand[iouw_fdp_pick(&S.fdp, n)];
	r = &S.req[k];
	for (uint32_t i = 0; i < S.nreq; i++)
		if (live(&S.req[i]) && slot_of(S.req[i].wid) == slot_of(r->wid))
			occupant = &S.req[i];
	if (!occupant)
		inv = "operation CQE for untracked waiter";
	else if (occupant->wid != r->wid)
		inv = "operation CQE for stale waiter generation";
	else
		inv = "operation CQE for waiter with no op in flight";
	say(" -> kernel: HOSTILE op CQE for req%u, which has no op outstanding", k);
	post_any(r->wid, -EIO, true);
	reap_hostile(r->wid, inv);
	return true;
}

/* HOSTILE: one answer from the kernel model's hostile draws, posted only
 * while the CQ is empty (so the reap that follows at once meets it first
 * and the reference knows every waiter's state). False when nothing fits
 * (a legal answer follows instead). */
static bool answer_hostile(void)
{
	uint32_t cand[IOUW_LR_MAX_REQUESTS + MAX_CANCELS];
	uint32_t n, pick;

	if (iouw_skernel_cq_ready(S.k) > 0)
		return false;
	switch (iouw_fdp_pick(&S.fdp, 3)) {
	case 0: { /* an op's result (H2-H4) */
		struct lr_req *r;
		const char *inv;
		uint32_t bytes;
		int32_t res;

		n = 0;
		for (uint32_t i = 0; i < S.nreq; i++)
			if (S.req[i].op == OP_OUT)
				cand[n++] = i;
		if (n == 0)
			return false;
		r = &S.req[cand[iouw_fdp_pick(&S.fdp, n)]];
		bytes = iouw_rs_sqe_bytes(&r->sqe);
		res = iouw_km_draw_hostile_op(&S.km, &S.fdp, r->op_ud, r->rm.len - r->rm.done);
		inv = iouw_rm_invariant(&r->rm, r->c, res);
		if (res > 0 && (uint32_t)res <= bytes)
			iouw_rs_kernel_apply(&r->live, &r->sqe, res, S.stamp++);
		r->op = OP_POSTED;
		say(" -> kernel: req%u's %s HOSTILE res %d", num(r), iouw_rs_opcode_name(r->sqe.opcode),
		    (int)res);
		post_any(r->op_ud, res, true);
		reap_hostile(r->op_ud, inv);
		return true;
	}
	case 1: { /* a cancel's result (H5) */
		struct lr_cancel c;
		int32_t res;

		n = 0;
		for (uint32_t k = 0; k < S.ncancels; k++)
			if (S.cancels[k].submitted)
				cand[n++] = k;
		if (n == 0)
			return false;
		pick = cand[iouw_fdp_pick(&S.fdp, n)];
		c = S.cancels[pick];
		memmove(&S.cancels[pick], &S.cancels[pick + 1],
		        (S.ncancels - pick - 1) * sizeof(S.cancels[0]));
		S.ncancels--;
		res = iouw_km_draw_hostile_cancel(&S.fdp);
		say(" -> kernel: req%u's ASYNC_CANCEL HOSTILE res %d", c.req, (int)res);
		post_any(c.ud, res, true);
		/* -EINVAL panics for the live occupant; a stale cancel CQE, and
		 * any other result, is ignored (warned). */
		reap_hostile(c.ud, res == -EINVAL && live(&S.req[c.req]) ? CANCEL_EINVAL_INVARIANT : NULL);
		return true;
	}
	default:
		return hostile_stray_op();
	}
}

static void step_answer(void)
{
	begin_step("kernel");
	if (S.hostile && iouw_fdp_pick(&S.fdp, 4) == 0 && answer_hostile())
		return;
	if (!answer_one(true))
		say(" (nothing outstanding)");
}

static void drain(void)
{
	struct lr_req *r;
	int rc;

	S.draining = true;
	begin_step("close");
	iouw_loop_close(S.loop);
	S.closed = true;
	EXPECT(iouw_loop_is_closed(S.loop), "loop not closed");
	if (S.nreq < IOUW_LR_MAX_REQUESTS) {
		r = new_req();
		if (!r)
			return; /* environment failure */
		rc = iouw_loop_submit(S.loop, r->live.req);
		EXPECT(rc == -ESHUTDOWN, "submit after close returned %d", rc);
		refused(r);
	}
	check_step();
	S.steps++;
	begin_step("run (drain%s)", S.budget == IOUW_NO_DEADLINE ? "" : " with budget");
	S.arm_advance = true;
	rc = iouw_loop_run(S.loop);
	S.arm_advance = false;
	EXPECT(rc == 0, "iouw_loop_run returned %d (%s)", rc,
	       rc == -EDEADLK ? "it would block forever" : "fatal");
	if (S.trace)
		fprintf(S.trace, "%s\n", S.desc);
	check_step();
	EXPECT(iouw_loop_is_drained(S.loop), "run returned before the loop drained");
	for (uint32_t i = 0; i < S.nreq; i++)
		EXPECT(S.req[i].end != END_NONE && S.req[i].live.handle == NULL,
		       "req%u never ended", i);
}

/* FNV-1a over @n bytes. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

#define HASH(h, v) hash_bytes((h), &(v), sizeof(v))

/* The state the rest of the history depends on (loop_run.h, iouw_lr_enum):
 * not the fds, the step count or the statistics. */
static uint64_t state_hash(void)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325), t = S.vc.now_ns - START;
	uint32_t cap = iouw_waiters_capacity(iouw_loop_waiters(S.loop));

	h = HASH(h, t);
	h = HASH(h, S.cur_tick);
	h = HASH(h, S.budget);
	h = HASH(h, S.nreq);
	h = HASH(h, S.ncancels);
	h = HASH(h, S.ncq);
	h = HASH(h, cap);
	h = HASH(h, S.sq_entries);
	h = HASH(h, S.cq_entries);
	h = HASH(h, S.pm.wake_arm);
	for (uint32_t i = 0; i < S.nreq; i++) {
		const struct lr_req *r = &S.req[i];
		uint64_t d = r->deadline == IOUW_NO_DEADLINE ? UINT64_MAX : r->deadline - START;
		uint8_t flags[9] = { r->inbound, r->admitted, r->c, r->dropped, (uint8_t)r->end,
			             (uint8_t)r->op, r->had_op, r->cancel_seen, r->live.handle != NULL };

		h = HASH(h, r->spec);
		h = HASH(h, d);
		h = HASH(h, r->tick);
		h = HASH(h, flags);
		h = HASH(h, r->wid);
		h = HASH(h, r->rm.done);
		h = HASH(h, r->rm.recorded);
		h = HASH(h, r->rm.result);
	}
	for (uint32_t k = 0; k < S.ncancels; k++) {
		uint8_t c = S.cancels[k].submitted;

		h = HASH(h, S.cancels[k].req);
		h = HASH(h, c);
	}
	/* The kernel model: what each SQE it holds may still answer. */
	h = HASH(h, S.hostile);
	h = HASH(h, S.drain_silent);
	h = HASH(h, S.km.n);
	for (uint32_t k = 0; k < S.km.n; k++) {
		const struct iouw_km_sqe *q = &S.km.sqe[k];
		uint8_t f[5] = { (uint8_t)q->kind, q->opcode, q->must_ecanceled, (uint8_t)q->tstate,
			         q->invalid };

		h = HASH(h, q->ud);
		h = HASH(h, q->bytes);
		h = HASH(h, q->target);
		h = HASH(h, f);
	}
	h = hash_bytes(h, S.km.unreaped, S.km.nunreaped * sizeof(S.km.unreaped[0]));
	h = HASH(h, S.km.nunreaped);
	h = hash_bytes(h, S.cq, S.ncq * sizeof(S.cq[0]));
	h = hash_bytes(h, S.pm.ready.v, S.pm.ready.len * sizeof(S.pm.ready.v[0]));
	h = HASH(h, S.pm.ready.len);
	h = hash_bytes(h, S.pm.cancels.v, S.pm.cancels.len * sizeof(S.pm.cancels.v[0]));
	h = HASH(h, S.pm.cancels.len);
	h = hash_bytes(h, S.pm.inbound.v, S.pm.inbound.len * sizeof(S.pm.inbound.v[0]));
	h = HASH(h, S.pm.inbound.len);
	for (uint32_t i = 0; i < cap; i++) {
		struct iouw_waiter_info info;

		memset(&info, 0, sizeof(info));
		(void)iouw_waiters_slot(iouw_loop_waiters(S.loop), i, &info);
		h = HASH(h, info);
	}
	return h;
}

static void run_steps(void)
{
	for (;;) {
		unsigned action;

		if (iouw_lr_enum)
			iouw_lr_enum->step(iouw_lr_enum->ctx, state_hash(), S.steps, S.nreq);
		S.choice = IOUW_LR_CH_STEP;
		if (iouw_fdp_remaining(&S.fdp) == 0 || S.steps >= IOUW_LR_MAX_STEPS)
			break;
		action = (unsigned)iouw_fdp_pick(&S.fdp, 8);

		if (action <= 1 && S.nreq >= IOUW_LR_MAX_REQUESTS)
			action = 4;
		switch (action) {
		case 0:
			step_submit(1);
			break;
		case 1:
			step_submit(iouw_fdp_u32_in_range(&S.fdp, 2, 3));
			break;
		case 2:
			step_drop();
			break;
		case 3:
			step_clock();
			break;
		case 4:
			step_turn();
			break;
		case 5:
			step_phase();
			break;
		default:
			step_answer();
			break;
		}
		if (S.env_what || S.fatal)
			return;
		if (S.trace && action != 0 && action != 1 && strchr(S.desc, '>'))
			fprintf(S.trace, "    %s\n", S.desc);
		check_step();
		S.steps++;
	}
	if (S.trace && iouw_fdp_remaining(&S.fdp) > 0)
		fprintf(S.trace, "step budget spent (%u steps, loop_run.h): %zu input bytes left "
		        "unread\n", IOUW_LR_MAX_STEPS, iouw_fdp_remaining(&S.fdp));
}

/* Done with the scripted kernel for this input: one this run made is
 * freed; a caller's is emptied (unreaped CQEs thrown away) and unhooked. */
static void close_kernel(void)
{
	if (!S.k_open)
		return;
	S.k_open = false;
	if (S.own_k) {
		iouw_backend_free(S.k);
		S.k = NULL;
		S.own_k = false;
		return;
	}
	iouw_skernel_set_wait_hook(S.k, NULL, NULL);
	(void)iouw_skernel_reset(S.k, 1, 0);
}

/* Free the loop (it releases every request it holds, telling held handles
 * ABANDONED), drop the handles still held, close the scripted kernel.
 * Skip the input for an environment failure: report it, release all. */
static void release_all(void)
{
	iouw_loop_free(S.loop);
	S.loop = NULL;
	for (uint32_t i = 0; i < S.nreq; i++) {
		if (S.req[i].live.handle)
			iouw_handle_drop(S.req[i].live.handle);
		S.req[i].live.handle = NULL;
		iouw_rs_discard(&S.req[i].live);
	}
	close_kernel();
}

static int skip_input(const char *what, int err)
{
	iouw_fuzz_env_report(S.name, what, err);
	release_all();
	return IOUW_FUZZ_SKIPPED;
}

int iouw_loop_history_run(const char *name, struct iouw_backend *kernel, const uint8_t *data,
                          size_t size, FILE *trace)
{
	struct iouw_loop_config cfg;
	unsigned sq, cq;
	int fds_before, fds_after, rc;

	memset(&S, 0, (size_t)((char *)S.req - (char *)&S));
	iouw_km_init(&S.km);
	S.name = name;
	S.k = kernel;
	S.trace = trace;
	S.vc.now_ns = START;
	rc = iouw_rs_source_fd();
	if (iouw_fuzz_env_error(rc))
		return skip_input("opening /dev/null", rc);
	EXPECT(rc >= 0, "cannot open /dev/null: %d", rc);
	fds_before = iouw_rs_count_fds();
	if (fds_before < 0)
		return skip_input("counting open fds", fds_before);
	iouw_fdp_init(&S.fdp, data, size);
	if (iouw_lr_enum)
		S.fdp.chooser = iouw_lr_enum->chooser;
	iouw_loop_config_init(&cfg);
	{
		/* Decodes as u32_in_range(0, 3) always did (byte % 4); bits 6
		 * and 7 both set select HOSTILE answers; bit 5 set, the next
		 * byte is the drain's silence mask (S.drain_silent). */
		uint8_t head = iouw_fdp_u8(&S.fdp);

		cfg.ring_size = 1u << (head % 4);
		S.hostile = (head & 0xc0) == 0xc0;
		if (head & 0x20) {
			S.choice = IOUW_LR_CH_DRAIN;
			S.drain_silent = iouw_fdp_u8(&S.fdp);
			S.choice = IOUW_LR_CH_CONFIG;
		}
	}
	sq = iouw_fdp_u32_in_range(&S.fdp, 1, 8);
	cq = iouw_fdp_u32_in_range(&S.fdp, 1, 16);
	S.sq_entries = sq;
	S.cq_entries = cq;
	cfg.tick_ns = TICK;
	cfg.max_request_timeout_ns = MAX_TIMEOUT;
	S.budget = iouw_fdp_bool(&S.fdp) ? iouw_fdp_u64_in_range(&S.fdp, 0, 20) * TICK
	                                 : IOUW_NO_DEADLINE;
	cfg.shutdown_timeout_ns = S.budget;
	if (trace) {
		fprintf(trace, "loop history: %zu input bytes, ring size %u, SQ %u, CQ %u, %s", size,
		        cfg.ring_size, sq, cq, S.hostile ? "HOSTILE kernel, " : "");
		if (S.drain_silent)
			fprintf(trace, "kernel silent in drain waits 0-7 mask %#x, ",
			        (unsigned)S.drain_silent);
		if (S.budget == IOUW_NO_DEADLINE)
			fprintf(trace, "no shutdown budget\n");
		else
			fprintf(trace, "shutdown budget %llu ticks\n",
			        (unsigned long long)(S.budget / TICK));
	}
	if (S.k) {
		rc = iouw_skernel_reset(S.k, sq, cq);
	} else {
		rc = iouw_skernel_new_mem(sq, cq, &S.k);
		S.own_k = rc == 0;
	}
	if (iouw_fuzz_env_error(rc))
		return skip_input("opening the scripted kernel", rc);
	EXPECT(rc == 0, "scripted kernel open failed: %d", rc);
	S.k_open = true;
	iouw_skernel_set_wait_hook(S.k, lr_wait_hook, NULL);
	S.backend.base.ops = &lr_ops;
	LS(config, cfg.ring_size, sq, S.budget, TICK, MAX_TIMEOUT);
	{
		struct iouw_clock clock = { read_clock, NULL };

		rc = iouw_loop_new(&cfg, &S.backend.base, clock, &S.loop);
	}
	if (iouw_fuzz_env_error(rc))
		return skip_input("creating the loop", rc);
	EXPECT(rc == 0, "iouw_loop_new failed: %d", rc);
	iouw_waiters_set_warn(iouw_loop_waiters(S.loop), NULL, NULL);
	S.pm.clock_reads = 1; /* the wheel's epoch at construction */
	S.pm.wake_arm = true;
	S.pm.capacity = cfg.ring_size;
	iouw_loop_set_observer(S.loop, observe, NULL);
	run_steps();
	if (S.fatal && !S.env_what) {
		/* The process would be gone: release everything; nothing may be
		 * freed twice (ASan) or leak (LSan, the fd count). */
		if (trace)
			fprintf(trace, "%s\n", S.desc);
		iouw_loop_set_observer(S.loop, NULL, NULL);
		release_all();
		fds_after = iouw_rs_count_fds();
		if (fds_after < 0)
			return skip_input("counting open fds", fds_after);
		EXPECT(fds_after == fds_before, "fd leak after the named invariant: %d open fds, %d "
		       "before the input", fds_after, fds_before);
		if (trace)
			fprintf(trace, "end: %u steps, %u requests, ended by a named invariant\n",
			        S.steps + 1, S.nreq);
		return 0;
	}
	if (!S.env_what)
		drain();
	if (S.env_what)
		return skip_input(S.env_what, S.env_err);
	iouw_loop_free(S.loop);
	S.loop = NULL;
	for (uint32_t i = 0; i < S.nreq; i++)
		EXPECT(!S.req[i].detached || !iouw_rs_fd_open(S.req[i].live.fd),
		       "detached req%u's fd %d is open after loop free", i, S.req[i].live.fd);
	close_kernel();
	fds_after = iouw_rs_count_fds();
	if (fds_after < 0)
		return skip_input("counting open fds", fds_after);
	EXPECT(fds_after == fds_before, "fd leak: %d open fds, %d before the input", fds_after,
	       fds_before);
	if (trace)
		fprintf(trace, "end: %u steps, %u requests, drained\n", S.steps, S.nreq);
	return 0;
}

void iouw_loop_history_print(FILE *out, const uint8_t *data, size_t size)
{
	iouw_loop_history_run("iouwait-decode loop", NULL, data, size, out);
}
