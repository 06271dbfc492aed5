/* fuzz/waiter_history.h: decode fuzz bytes into a KERNEL-LEGAL operation
 * history on the waiter table, and print it in words.
 *
 * Owns: struct iouw_waiter_history (the decoder: a data provider, the
 * reference model of fuzz/waiter_model.h, and the CQEs the "kernel" still
 * owes) and struct iouw_wh_step (one decoded step).
 *
 * Input layout (all decisions from the provider's tail, see provider.h):
 *   header: capacity 1..8; a byte whose bit 0 starts every slot's generation
 *           just below the 2^31 wrap.
 *   steps:  one action byte (mod 8), then the action's parameters:
 *     0 insert, no deadline     len 0..16
 *     1 insert with deadline    len 0..16, target tick 0..1000
 *     2 cancel a live waiter    pick among live waiters
 *     3 cancel another id       recently issued (maybe stale) | out of range
 *                               | wrong generation
 *     4 stage a waiter not in flight (the loop's ready queue)
 *     5 the caller drops its handle (orphan) of a live waiter
 *     6,7 the kernel posts one owed CQE: pick which, then its result
 *   An impossible action (insert into a full table, stage with nothing
 *   ready, ...) becomes the next possible one, so every byte does something.
 *   When the input runs out (or the step budget below is spent), a drain
 *   follows:
 *   every owed CQE is posted (op -ECANCELED, cancel -ENOENT), then every
 *   live waiter is staged until the table is empty.
 *
 * Kernel legality (what the decoder guarantees, so a correct table never
 * panics): only ready (not in flight) waiters are staged; each staged SQE
 * gets exactly one op CQE and each cancel SQE (issued when cancel() is
 * accepted for an in-flight waiter, as the loop does) exactly one cancel
 * CQE, in any order, including cancel CQEs after their op CQE and after the
 * slot was reused. Op results: -EAGAIN, -EINTR, -ECANCELED, an I/O error,
 * 0, or 1..the asked length. Cancel results: 0, -EALREADY, -ENOENT, another
 * negative; -EINVAL only when the target is no longer the live occupant.
 * Results of a cancel/op pair are drawn independently (the table does not
 * correlate them, so this explores a superset of the kernel's pairs).
 */
#ifndef IOUW_FUZZ_WAITER_HISTORY_H
#define IOUW_FUZZ_WAITER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "provider.h"
#include "waiter_model.h"

/* The step budget (issue 11: every input ends quickly): at most
 * IOUW_WH_MAX_STEPS decoded steps (every one possible: a cancel of a made-up
 * id always is), the rest of the input ignored; the drain that follows
 * posts each owed CQE (at most two per request) and stages each live waiter
 * (at most IOUW_WH_MAX_CAPACITY), so a history has at most about
 * 3 * IOUW_WH_MAX_STEPS steps whatever the input size. iouwait-decode says
 * when the budget cut a history short. */
#define IOUW_WH_MAX_CAPACITY 8
#define IOUW_WH_MAX_STEPS 4096
#define IOUW_WH_ISSUED 16

enum iouw_wh_kind {
	IOUW_WH_INSERT = 0,
	IOUW_WH_CANCEL,
	IOUW_WH_STAGE,
	IOUW_WH_ORPHAN,
	IOUW_WH_OP_CQE,
	IOUW_WH_CANCEL_CQE,
};

struct iouw_wh_step {
	enum iouw_wh_kind kind;
	uint32_t number;  /* 0, 1, 2, ... */
	bool drain;       /* part of the final drain */
	uint32_t index;   /* target waiter id (cancel: maybe stale or out of range) */
	uint32_t gen;
	uint32_t req;     /* ORPHAN: the request whose caller leaves */
	uint32_t len;     /* INSERT: bytes the request asks for (0: sync-like) */
	uint64_t tick;    /* INSERT: target tick or IOUW_WM_NO_TICK */
	int32_t res;      /* CQEs */
	const char *note; /* CANCEL: "live", "issued", "out-of-range", "wrong-generation" */
};

struct iouw_wh_owed {
	uint32_t index, gen;
	bool cancel;
};

struct iouw_waiter_history {
	struct iouw_fdp fdp;
	uint32_t capacity;
	uint32_t first_gen[IOUW_WH_MAX_CAPACITY]; /* generation each slot starts at */
	uint32_t steps;
	bool draining;
	bool budget_spent; /* the step budget ended the steps, input left */
	struct iouw_wh_owed owed[IOUW_WM_MAX_REQUESTS];
	uint32_t nowed;
	uint32_t issued_index[IOUW_WH_ISSUED], issued_gen[IOUW_WH_ISSUED];
	uint32_t nissued;
	struct iouw_wm model;
};

/* Start decoding @data: reads the header. @h is large (the model keeps
 * every request): allocate it statically or on the heap. */
void iouw_waiter_history_init(struct iouw_waiter_history *h, const uint8_t *data, size_t size);

/* Decode the next step into @step, apply it to the model and write the
 * model's outcome to @expected. False when the history (drain included) is
 * over. */
bool iouw_waiter_history_next(struct iouw_waiter_history *h, struct iouw_wh_step *step,
                              struct iouw_wm_outcome *expected);

/* One line in words for @step and its @expected outcome (no newline). */
void iouw_waiter_history_format_step(FILE *out, const struct iouw_wh_step *step,
                                     const struct iouw_wm_outcome *expected);

/* Print the whole decoded history of @data, one step per line. */
void iouw_waiter_history_print(FILE *out, const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_WAITER_HISTORY_H */
