/* fuzz/waiter_model.h: the reference model of the waiter table
 * (docs/waiters.md §2-§3), written independently of core/waiter.c for the fuzz
 * oracle.
 *
 * Owns: struct iouw_wm, plain arrays and nothing clever: per slot a used
 * flag, a generation, a state, an in-flight flag, a deadline and the number
 * of the request it holds; a free stack; and per request the model of the
 * fuzz fake request (bytes left, orphaned flag, how it ended, call counts).
 *
 * The model answers every call the table answers, in the table's terms
 * (outcome kinds, ids, ticks, request numbers). It never panics: callers
 * (the history decoder) only issue kernel-legal steps, and the model checks
 * that with iouw_wm_* "legal" helpers instead.
 *
 * Slot states: FREE -> ACTIVE (insert) -> CANCEL_REQUESTED (cancel); stage
 * of CANCEL_REQUESTED -> FREE (Timeout); stage of ACTIVE with an orphaned
 * request -> FREE (Orphaned, request released); stage of ACTIVE -> in flight
 * (Submit); op CQE -> not in flight, and FREE (Complete) when the request is
 * terminal or orphaned, else stays (Requeue). Freeing pushes the slot on the
 * free stack with generation + 1 (mod 2^31).
 *
 * Fake request rule (mirrored by fuzz/waiter_check.c's fake): -EAGAIN and
 * -EINTR are retries (not terminal); any other negative or 0 is terminal;
 * a positive result consumes up to `remaining` bytes and is terminal once
 * none are left; a request asking 0 bytes (sync-like) ends on any res >= 0.
 */
#ifndef IOUW_FUZZ_WAITER_MODEL_H
#define IOUW_FUZZ_WAITER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define IOUW_WM_MAX_SLOTS 16
#define IOUW_WM_MAX_REQUESTS 8192
#define IOUW_WM_NO_TICK UINT64_MAX
#define IOUW_WM_GEN_MASK UINT32_C(0x7fffffff)
#define IOUW_WM_NONE UINT32_MAX /* "no request" */

enum iouw_wm_state { IOUW_WM_ACTIVE = 0, IOUW_WM_CANCEL_REQUESTED = 1 };

/* How a request ended (NONE: still alive). */
enum iouw_wm_end {
	IOUW_WM_END_NONE = 0,
	IOUW_WM_END_COMPLETE, /* finish(COMPLETE) by the loop */
	IOUW_WM_END_TIMEOUT,  /* finish(TIMEOUT) by the loop */
	IOUW_WM_END_RELEASED, /* release() by the table (orphaned) */
};

struct iouw_wm_slot {
	bool used;
	uint32_t gen;
	enum iouw_wm_state state;
	bool in_flight;
	uint64_t tick;
	uint32_t req;
};

struct iouw_wm_request {
	uint32_t remaining;
	bool orphaned;
	enum iouw_wm_end end;
	uint32_t builds;
	uint32_t cqes;
	bool last_cancel_requested;
};

struct iouw_wm {
	uint32_t cap;
	struct iouw_wm_slot slot[IOUW_WM_MAX_SLOTS];
	uint32_t free_stack[IOUW_WM_MAX_SLOTS];
	uint32_t nfree;
	uint32_t len;
	uint64_t unexpected_cancel_results;
	uint32_t nreq;
	struct iouw_wm_request req[IOUW_WM_MAX_REQUESTS];
};

/* Outcome kinds, one enum for every call so a step has one expected
 * outcome. Values match nothing in core on purpose: the checker maps. */
enum iouw_wm_kind {
	IOUW_WM_OUT_NONE = 0,   /* orphan: no table call */
	IOUW_WM_OUT_INSERTED,   /* insert: .id */
	IOUW_WM_OUT_CANCEL,     /* cancel(): .accepted */
	IOUW_WM_OUT_TIMEOUT,    /* stage: .req handed back */
	IOUW_WM_OUT_ORPHANED,   /* stage: .tick, .req released */
	IOUW_WM_OUT_SUBMIT,     /* stage: SQE for .id, .req */
	IOUW_WM_OUT_CANCEL_CQE, /* cancel CQE: .stale, .unexpected */
	IOUW_WM_OUT_REQUEUE,    /* op CQE: .id */
	IOUW_WM_OUT_COMPLETE,   /* op CQE: .req, .tick */
};

struct iouw_wm_outcome {
	enum iouw_wm_kind kind;
	uint32_t index, gen;  /* the id involved */
	uint32_t req;         /* request number or IOUW_WM_NONE */
	uint64_t tick;        /* ORPHANED / COMPLETE */
	bool accepted;        /* CANCEL */
	bool stale;           /* CANCEL_CQE */
	bool unexpected;      /* CANCEL_CQE: counted as unexpected */
};

/* All slots free; slot 0 handed out first. @cap <= IOUW_WM_MAX_SLOTS. */
void iouw_wm_init(struct iouw_wm *m, uint32_t cap);
/* Generation the next occupant of FREE slot @index gets. */
void iouw_wm_set_generation(struct iouw_wm *m, uint32_t index, uint32_t gen);

/* The calls. Preconditions are the legality helpers below. */
void iouw_wm_insert(struct iouw_wm *m, uint32_t remaining, uint64_t tick,
                    struct iouw_wm_outcome *out);
void iouw_wm_cancel(struct iouw_wm *m, uint32_t index, uint32_t gen, struct iouw_wm_outcome *out);
void iouw_wm_stage(struct iouw_wm *m, uint32_t index, struct iouw_wm_outcome *out);
void iouw_wm_orphan(struct iouw_wm *m, uint32_t req);
void iouw_wm_cancel_cqe(struct iouw_wm *m, uint32_t index, uint32_t gen, int32_t res,
                        struct iouw_wm_outcome *out);
void iouw_wm_op_cqe(struct iouw_wm *m, uint32_t index, int32_t res, struct iouw_wm_outcome *out);

/* Is (index, gen) the live occupant? Is it in flight? */
bool iouw_wm_is_current(const struct iouw_wm *m, uint32_t index, uint32_t gen);
bool iouw_wm_is_in_flight(const struct iouw_wm *m, uint32_t index, uint32_t gen);
/* Number of CANCEL_REQUESTED waiters. */
uint32_t iouw_wm_cancel_requested(const struct iouw_wm *m);

#endif /* IOUW_FUZZ_WAITER_MODEL_H */
