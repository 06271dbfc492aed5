/* fuzz/request_history.h: decode fuzz bytes into a KERNEL-LEGAL history of
 * real requests (all five kinds) moving through a waiter table, and print
 * it in words.
 *
 * Owns: struct iouw_request_history (the decoder: a data provider, per
 * request the reference model of fuzz/request_model.h plus its table-level
 * state, and the CQEs the "kernel" still owes) and struct iouw_rh_step.
 *
 * Input layout (all decisions from the provider's tail, see provider.h):
 *   header: one byte: table capacity 1 + (bits 0-1); bits 6 and 7 both
 *           set select HOSTILE mode (below: a quarter of random headers,
 *           the rest stay legal histories); the other bits are ignored.
 *   steps:  one action byte (mod 8), then its parameters:
 *     0,1 new request: kind and parameters (request_spec.h), inserted
 *     2   stage a waiter not in flight
 *     3,4 the kernel answers an in-flight op SQE: pick, then a result
 *     5   cancel a live waiter (an ASYNC_CANCEL is owed when it was in flight
 *         and the cancel was accepted)
 *     6   the kernel answers an owed cancel: pick, then a result the kernel
 *         model allows given what the op did (HOSTILE: first a pick among
 *         4, the 4th a hostile result)
 *     7   the caller drops the handle of a live request
 *   An impossible action becomes the next possible one. When the input runs
 *   out (or the step budget below is spent), a drain follows (not after a FATAL
 *   step): cancel every live waiter, answer every owed CQE in order
 *   (the model's default: cancel 0 while its op is still owed or was
 *   cancelled, else -ENOENT; ops -ECANCELED),
 *   stage what is left (Timeout).
 *
 * Kernel legality (outside HOSTILE mode, which breaks the rules on
 * results only): every answer comes from the kernel model
 * (fuzz/kernel_model.h, rules K1-K10), told each op SQE staged and each
 * ASYNC_CANCEL the loop would issue: only staged SQEs are answered, each
 * exactly once; positive results never exceed the bytes the SQE describes
 * (the model's SQE, which the checker holds the real SQE to); FSYNC never
 * reports bytes; -ECANCELED may come without a cancel (K4: task exit,
 * another canceller); op and cancel results pair as the kernel pairs them
 * (cancel 0 <=> op -ECANCELED; after the op answered, cancel -ENOENT or
 * -EALREADY).

 * HOSTILE mode (header bits 6-7; docs/kernel.md §8 "any int32 may arrive"): every op
 * CQE first takes a pick among 4; 0 means a hostile result
 * (iouw_km_draw_hostile_op) instead of a legal one: INT32_MIN,
 * INT32_MIN + 1, -4096, -4095, -ECANCELED, bytes asked + 1, remaining + 1,
 * INT32_MAX or any 32 bits (4 more bytes); so a positive fsync count may
 * come. Every cancel CQE first takes a pick among 4: 3 means a hostile
 * result (iouw_km_draw_hostile_cancel): -EINVAL, INT32_MIN, INT32_MAX or
 * any 32 bits (warned about and ignored, except
 * -EINVAL while the waiter is still tracked; a stale cancel CQE is always
 * ignored). A result the model says must fire a named invariant
 * (request_model.h iouw_rm_invariant(), plus the table's "async cancel SQE
 * rejected by kernel: EINVAL") is a FATAL step, and the history ENDS there
 * (the real process would be gone): no drain follows; the checker verifies
 * that exactly this invariant fired and releases everything.
 *
 * Expected outcomes come from the model: stage of a cancel-requested waiter
 * -> Timeout; of an orphaned one (send/recv/read_at with a dropped handle)
 * -> Orphaned; else Submit with the model's SQE. Op CQE: terminal or
 * orphaned -> Complete, else Requeue. The result the caller gets is the
 * model's (docs/requests.md §4.4).
 */
#ifndef IOUW_FUZZ_REQUEST_HISTORY_H
#define IOUW_FUZZ_REQUEST_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel_model.h"
#include "provider.h"
#include "request_model.h"
#include "request_spec.h"

/* The step budget (issue 11: every input ends quickly). At most
 * IOUW_RH_MAX_STEPS decoded steps, and at most IOUW_RH_MAX_REQUESTS requests
 * over the whole history: once the steps are spent, or every request was
 * created and has ended (no action is possible any more), the remaining
 * input is ignored and the drain follows, which takes at most two steps per
 * owed CQE plus four per live request. So a history has at most about
 * 3 * IOUW_RH_MAX_STEPS steps whatever the input size, and
 * iouwait-decode says when the budget cut it short. */
#define IOUW_RH_MAX_CAPACITY 4
#define IOUW_RH_MAX_REQUESTS 512
#define IOUW_RH_MAX_STEPS 2048

enum iouw_rh_kind {
	IOUW_RH_NEW = 0,
	IOUW_RH_STAGE,
	IOUW_RH_OP_CQE,
	IOUW_RH_CANCEL,
	IOUW_RH_CANCEL_CQE,
	IOUW_RH_DROP,
};

enum iouw_rh_out {
	IOUW_RH_OUT_NONE = 0,
	IOUW_RH_OUT_INSERTED,
	IOUW_RH_OUT_SUBMIT,
	IOUW_RH_OUT_TIMEOUT,
	IOUW_RH_OUT_ORPHANED,
	IOUW_RH_OUT_REQUEUE,
	IOUW_RH_OUT_COMPLETE,
	IOUW_RH_OUT_ACCEPTED, /* cancel() true */
	IOUW_RH_OUT_REFUSED,  /* cancel() false */
	IOUW_RH_OUT_ACK,      /* cancel CQE acknowledged */
	IOUW_RH_OUT_FATAL,    /* hostile CQE: .invariant must fire; the history ends */
};

/* Table-level state of one request, next to its model. */
struct iouw_rh_req {
	struct iouw_rs_spec spec;
	struct iouw_rm_req rm;
	bool live;       /* tracked by the table */
	bool in_flight;
	bool cancel_req; /* waiter CANCEL_REQUESTED */
	bool dropped;    /* caller dropped the handle */
	bool op_owed;
	struct iouw_rm_sqe sqe; /* the SQE in flight */
};

struct iouw_rh_step {
	enum iouw_rh_kind kind;
	uint32_t number;
	bool drain;
	uint32_t req;
	int32_t res;                /* CQEs */
	enum iouw_rh_out out;
	struct iouw_rm_sqe sqe;     /* SUBMIT: the SQE; OP_CQE: the SQE answered */
	bool ends;                  /* the request ends in this step */
	bool delivers;              /* ... and its held handle gets .result */
	struct iouw_rm_result result;
	bool cancel_requested;      /* OP_CQE: fed with cancel_requested */
	bool hostile;               /* CQE: .res came from the hostile picks */
	const char *invariant;      /* OUT_FATAL: the invariant's name */
};

struct iouw_rh_owed {
	uint32_t req;
	bool cancel;
};

struct iouw_request_history {
	struct iouw_fdp fdp;
	uint32_t capacity;
	bool hostile;       /* header bits 6 and 7 */
	bool fatal;         /* ended by a FATAL step */
	uint32_t steps;
	bool draining;
	bool budget_spent;  /* the step budget ended the steps, input left */
	uint32_t nlive;
	/* The live requests' numbers, ascending (nlive of them, at most the
	 * capacity): per-step selection and checks visit these, not every
	 * request the history ever made. */
	uint32_t live_req[IOUW_RH_MAX_CAPACITY];
	uint32_t nreq;
	struct iouw_rh_req req[IOUW_RH_MAX_REQUESTS];
	struct iouw_rh_owed owed[2 * IOUW_RH_MAX_REQUESTS];
	uint32_t nowed;
	struct iouw_km km; /* the kernel's side: every answer is drawn from it */
};

/* Start decoding @data (reads the header). @h is large: static or heap. */
void iouw_request_history_init(struct iouw_request_history *h, const uint8_t *data, size_t size);

/* Decode the next step into @step (expected outcome included) and apply it
 * to the model. False when the history (drain included) is over. */
bool iouw_request_history_next(struct iouw_request_history *h, struct iouw_rh_step *step);

/* One line in words for @step (no newline). */
void iouw_request_history_format_step(FILE *out, const struct iouw_request_history *h,
                                      const struct iouw_rh_step *step);

/* Print the whole decoded history of @data, one step per line. */
void iouw_request_history_print(FILE *out, const uint8_t *data, size_t size);

#endif /* IOUW_FUZZ_REQUEST_HISTORY_H */
