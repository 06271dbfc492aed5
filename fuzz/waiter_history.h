/* fuzz/waiter_history.h: decode fuzz bytes into a KERNEL-LEGAL operation
 * history on the waiter table, and print it in words.
 *
 * Owns: struct iouw_waiter_history (the decoder: a data provider, the
 * reference model of fuzz/waiter_model.h, and the CQEs the "kernel" still
 * owes) and struct iouw_wh_step (one decoded step).
 *
 * Input layout (all decisions from the provider's tail, see provider.h):
 *   header: capacity 1..8; a byte whose bit 0 starts every slot's generation
 *           just below the 2^31 wrap, and whose bits 6 and 7 both set
 *           select HOSTILE mode (below).
 *   steps:  one action byte (mod 8), then the action's parameters:
 *     0 insert, no deadline     len 0..16
 *     1 insert with deadline    len 0..16, target tick 0..1000
 *     2 cancel a live waiter    pick among live waiters
 *     3 cancel another id       recently issued (maybe stale) | out of range
 *                               | wrong generation
 *     4 stage a waiter not in flight (the loop's ready queue)
 *     5 the caller drops its handle (orphan) of a live waiter
 *     6,7 the kernel posts one owed CQE: pick which, then its result
 *         (HOSTILE: first a pick among 8, 0 posting a stray op CQE instead;
 *         then per op CQE a pick among 4, 0 a hostile result; per cancel
 *         CQE a pick among 4, 3 a hostile result)
 *   An impossible action (insert into a full table, stage with nothing
 *   ready, ...) becomes the next possible one, so every byte does something.
 *   When the input runs out (or the step budget below is spent), a drain
 *   follows (not after a FATAL step):
 *   every owed CQE is posted (op -ECANCELED; cancel the kernel model's
 *   default: 0 while its op is in the kernel or was cancelled, else
 *   -ENOENT), then every live waiter is staged until the table is empty.
 *
 * Kernel legality (what the decoder guarantees, so a correct table never
 * panics): every CQE comes from the kernel model (fuzz/kernel_model.h,
 * rules K1-K10), told every SQE the table's loop would submit: only ready
 * (not in flight) waiters are staged; each staged SQE (the fake's RECV of
 * what is left, or FSYNC) gets exactly one op CQE and each cancel SQE
 * (issued when cancel() is accepted for an in-flight waiter, as the loop
 * does) exactly one cancel CQE, in any order, including cancel CQEs after
 * their op CQE and after the slot was reused. Op results: -EAGAIN,
 * -EINTR, -ECANCELED (with or without a cancel: K4), an I/O error, 0, or
 * 1..the asked length. Cancel results pair with the op as the kernel pairs
 * them: 0 (then the op answers -ECANCELED), -EALREADY, -ENOENT; after the
 * op answered, -ENOENT or -EALREADY.
 *
 * HOSTILE mode (header bits 6 and 7): the kernel model's hostile answers
 * too. Op results: INT32_MIN, -4096, above the bytes asked, INT32_MAX, any
 * 32 bits (the fake request takes any value; the table passes it on).
 * Cancel results: -EINVAL, INT32_MIN, INT32_MAX, any 32 bits: warned about
 * and counted, except -EINVAL for the live occupant, and a stray op CQE
 * (H1: an empty or out-of-range slot, a wrong generation, a waiter with no
 * op in flight): those are FATAL steps (.invariant set): the table must
 * fire exactly that named invariant, the history ends there and the
 * checker only releases the table (nothing freed twice, nothing leaked).
 */
#ifndef IOUW_FUZZ_WAITER_HISTORY_H
#define IOUW_FUZZ_WAITER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel_model.h"
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
	bool hostile;     /* CQE: .res came from the kernel model's hostile draws */
	const char *invariant; /* FATAL step: the invariant the table must fire */
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
	bool hostile;       /* header bits 6 and 7 */
	bool fatal;         /* ended by a FATAL step */
	struct iouw_wm model;
	struct iouw_km km;  /* the kernel's side: every CQE is drawn from it */
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
