/* core/waiter.h: waiter ids and the waiter table (docs/waiters.md §2 and §3;
 * the original waiter module is normative there, docs/README.md §1.1).
 *
 * What: one slot per tracked logical request. A slot's id (index +
 * generation) travels in SQE user_data; bit 63 tags the ASYNC_CANCEL SQE
 * aimed at the same waiter. The table turns "stage" and "CQE arrived" into
 * outcomes the loop acts on, and never looks inside a request (it drives it
 * through struct iouw_request_ops).
 *
 * Why the generation: with cancellation the op CQE may retire a waiter before
 * its cancel CQE arrives, the slot may be reused meanwhile, and the late
 * cancel CQE must then be recognised as stale. A freed slot's generation is
 * bumped (mod 2^31) before the slot is handed out again.
 *
 * Per-slot states and their invariants (checked by
 * iouw_waiters_assert_consistent()):
 *
 *   FREE                 request == NULL, !in_flight, index on the free
 *                        stack exactly once; id = the id the next occupant
 *                        gets.
 *   ACTIVE{target_tick}  request != NULL, index not on the free stack;
 *                        in_flight says whether an op SQE is outstanding.
 *   CANCEL_REQUESTED     as ACTIVE, target_tick forgotten (the deadline left
 *                        wheel tracking when the cancel was requested).
 *
 *   FREE -> ACTIVE                 insert()
 *   ACTIVE -> CANCEL_REQUESTED     cancel()
 *   ACTIVE (!in_flight) -> ACTIVE (in_flight)    stage() Submit
 *   ACTIVE (in_flight)  -> ACTIVE (!in_flight)   op CQE, not terminal: Requeue
 *   CANCEL_REQUESTED (in_flight) -> CANCEL_REQUESTED (!in_flight)  op CQE,
 *                                  not terminal: Requeue
 *   ACTIVE, orphaned -> FREE       stage() Orphaned (request released here)
 *   CANCEL_REQUESTED -> FREE       stage() Timeout (request handed back)
 *   any (in_flight) -> FREE        op CQE terminal, or caller gone: Complete
 *
 * len == number of non-FREE slots; free stack size + len == capacity.
 *
 * Limits: capacity <= IOUW_WAITERS_MAX_CAPACITY, far below 2^32 - 1, so no
 * waiter id, op or cancel, can ever equal IOUW_WAKE_USER_DATA. Not
 * thread-safe: one loop thread owns a table.
 */
#ifndef IOUW_WAITER_H
#define IOUW_WAITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#include "request_ops.h"
#include "udata.h"

/* user_data reserved for the loop's internal wake poll; never a waiter id
 * (registered in core/udata.h). */
#define IOUW_WAKE_USER_DATA IOUW_UDATA_WAKE
#define IOUW_WAITER_INDEX_BITS 32
#define IOUW_WAITER_GENERATION_BITS 31
#define IOUW_WAITER_INDEX_MASK ((UINT64_C(1) << IOUW_WAITER_INDEX_BITS) - 1)
#define IOUW_WAITER_GENERATION_MASK ((UINT32_C(1) << IOUW_WAITER_GENERATION_BITS) - 1)
#define IOUW_WAITER_CANCEL_TAG (UINT64_C(1) << 63)
/* Largest table: slot indices stay far from the all-ones index of
 * IOUW_WAKE_USER_DATA, and a full table still fits comfortably in memory. */
#define IOUW_WAITERS_MAX_CAPACITY (UINT32_C(1) << 20)
/* No slot index reaches the reserved user_data block (core/udata.h). */
_Static_assert(IOUW_WAITERS_MAX_CAPACITY <= IOUW_UDATA_MIN_RESERVED_INDEX,
               "a waiter id could equal a reserved user_data value");
/* "No deadline" for a target tick. Real ticks never reach it. */
#define IOUW_NO_TICK UINT64_MAX

/* A waiter id: slot index in bits 0..31, generation in bits 32..62, bit 63
 * always clear. A struct so it cannot be mixed up with raw user_data. */
typedef struct {
	uint64_t raw;
} iouw_waiter_id;

/* Build the id of slot @index at @generation (taken mod 2^31). */
static inline iouw_waiter_id iouw_waiter_id_new(uint32_t index, uint32_t generation)
{
	iouw_waiter_id id = { ((uint64_t)(generation & IOUW_WAITER_GENERATION_MASK)
	                       << IOUW_WAITER_INDEX_BITS) |
		              (uint64_t)index };
	return id;
}

static inline uint32_t iouw_waiter_id_index(iouw_waiter_id id)
{
	return (uint32_t)(id.raw & IOUW_WAITER_INDEX_MASK);
}

static inline uint32_t iouw_waiter_id_generation(iouw_waiter_id id)
{
	return (uint32_t)((id.raw >> IOUW_WAITER_INDEX_BITS) & IOUW_WAITER_GENERATION_MASK);
}

/* Same slot, generation + 1, wrapping from 2^31 - 1 to 0. */
static inline iouw_waiter_id iouw_waiter_id_next_generation(iouw_waiter_id id)
{
	/* The generation sits just below the (always clear) cancel tag: the
	 * carry out of 2^31 - 1 lands on bit 63, and clearing it wraps to 0. */
	iouw_waiter_id next = { (id.raw + (UINT64_C(1) << IOUW_WAITER_INDEX_BITS)) &
		                ~IOUW_WAITER_CANCEL_TAG };
	return next;
}

static inline bool iouw_waiter_id_eq(iouw_waiter_id a, iouw_waiter_id b)
{
	return a.raw == b.raw;
}

/* user_data of the op SQE/CQE: the id, cancel tag clear. */
static inline uint64_t iouw_waiter_id_user_data(iouw_waiter_id id)
{
	return id.raw;
}

/* user_data of the ASYNC_CANCEL SQE/CQE aimed at this waiter. */
static inline uint64_t iouw_waiter_id_cancel_user_data(iouw_waiter_id id)
{
	return id.raw | IOUW_WAITER_CANCEL_TAG;
}

/* Decode @user_data: the id with the cancel tag stripped; *ret_is_cancel
 * tells whether the tag was set. */
static inline iouw_waiter_id iouw_waiter_id_from_user_data(uint64_t user_data, bool *ret_is_cancel)
{
	iouw_waiter_id id = { user_data & ~IOUW_WAITER_CANCEL_TAG };
	*ret_is_cancel = (user_data & IOUW_WAITER_CANCEL_TAG) != 0;
	return id;
}

enum iouw_waiter_state {
	/* Tracked; may carry a deadline (target_tick). */
	IOUW_WAITER_ACTIVE = 0,
	/* Cancellation was requested: an in-flight op gets an ASYNC_CANCEL, a
	 * waiter parked in the ready queue times out locally when staged. */
	IOUW_WAITER_CANCEL_REQUESTED = 1,
};

enum iouw_stage_kind {
	/* Cancel requested while not in flight: the request was removed and is
	 * handed back in .request; the loop finishes it with TIMEOUT. */
	IOUW_STAGE_TIMEOUT = 0,
	/* The caller left before this SQE: the waiter was removed and its
	 * request released; .target_tick is the deadline to drop from the
	 * wheel (IOUW_NO_TICK if none). */
	IOUW_STAGE_ORPHANED = 1,
	/* Still active: .sqe is the next SQE, the waiter is now in flight. */
	IOUW_STAGE_SUBMIT = 2,
};

struct iouw_stage_outcome {
	enum iouw_stage_kind kind;
	struct iouw_request *request; /* TIMEOUT only, else NULL */
	uint64_t target_tick;         /* ORPHANED only, else IOUW_NO_TICK */
	struct io_uring_sqe sqe;      /* SUBMIT only, else unspecified */
};

enum iouw_completion_kind {
	/* A cancel CQE: acknowledged, no waiter changed. */
	IOUW_COMPLETION_CANCEL = 0,
	/* Not terminal: put .id at the back of the ready queue. */
	IOUW_COMPLETION_REQUEUE = 1,
	/* Removed from the table: finish .request; drop .target_tick from the
	 * wheel (IOUW_NO_TICK when the waiter was cancel-requested or had no
	 * deadline). */
	IOUW_COMPLETION_COMPLETE = 2,
};

struct iouw_completion_outcome {
	enum iouw_completion_kind kind;
	iouw_waiter_id id;            /* the decoded waiter id (every kind) */
	struct iouw_request *request; /* COMPLETE only, else NULL */
	uint64_t target_tick;         /* COMPLETE only, else IOUW_NO_TICK */
	bool stale;                   /* CANCEL only: slot empty or reused */
};

/* Snapshot of one slot, for the harness and tests. */
struct iouw_waiter_info {
	iouw_waiter_id id; /* occupant's id, or the id the next occupant gets */
	bool occupied;
	bool in_flight;
	enum iouw_waiter_state state; /* meaningful when occupied */
	uint64_t target_tick;         /* ACTIVE: deadline or IOUW_NO_TICK */
};

/* Called for an unexpected (but tolerated) cancel CQE result. */
typedef void (*iouw_waiters_warn_fn)(void *ctx, iouw_waiter_id id, int32_t res);

struct iouw_waiters;

/* Create a table of @capacity free slots (0 <= capacity <=
 * IOUW_WAITERS_MAX_CAPACITY); insert() hands out slot 0, then 1, 2, ...
 * Returns 0 and sets *ret, or -EINVAL (bad capacity or ret NULL), -ENOMEM. */
int iouw_waiters_new(uint32_t capacity, struct iouw_waiters **ret);

/* Free the table. Requests still tracked are released (their callers are
 * told they were abandoned). NULL is a no-op. */
void iouw_waiters_free(struct iouw_waiters *w);

/* Replace the sink for unexpected cancel results (default: one line on
 * stderr). @fn NULL silences them; they are still counted. */
void iouw_waiters_set_warn(struct iouw_waiters *w, iouw_waiters_warn_fn fn, void *ctx);

/* Track @req (state ACTIVE, deadline @target_tick or IOUW_NO_TICK, not in
 * flight) and return its id. Panics when the table is full or @req is NULL. */
iouw_waiter_id iouw_waiters_insert(struct iouw_waiters *w, struct iouw_request *req,
                                   uint64_t target_tick);

/* ACTIVE -> CANCEL_REQUESTED; true on that transition. False, never a panic,
 * for an out-of-range index, an empty slot, a stale generation or a waiter
 * already cancel-requested. */
bool iouw_waiters_cancel(struct iouw_waiters *w, iouw_waiter_id id);

/* Stage the next SQE for @id (see enum iouw_stage_kind). Panics for an
 * out-of-range or empty slot, a stale generation, or a waiter whose op is
 * already in flight. */
void iouw_waiters_stage(struct iouw_waiters *w, iouw_waiter_id id,
                        struct iouw_stage_outcome *ret);

/* insert() then stage_into() for a fresh request, in one call (the loop's
 * admission path): *ret_id is the new waiter's id; the answer is SUBMIT
 * (the SQE is built in @sqe, the waiter is in flight) or ORPHANED (the
 * caller left before the first SQE: the waiter was removed again and @req,
 * not released, is the caller's to release()). Panics as insert() does. */
enum iouw_stage_kind iouw_waiters_admit(struct iouw_waiters *w, struct iouw_request *req,
                                        uint64_t target_tick, struct io_uring_sqe *sqe,
                                        iouw_waiter_id *ret_id);

/* The same transition without the outcome struct, for the loop's hot path:
 * a SUBMIT is built straight into @sqe (any writable SQE, zeroed here, for
 * example a slot of the loop's staging buffer); @sqe is unspecified for the
 * other kinds. *ret_request and *ret_target_tick are written only for
 * TIMEOUT and ORPHANED, with the values enum iouw_stage_kind describes. */
enum iouw_stage_kind iouw_waiters_stage_into(struct iouw_waiters *w, iouw_waiter_id id,
                                             struct io_uring_sqe *sqe,
                                             struct iouw_request **ret_request,
                                             uint64_t *ret_target_tick);

/* Process one CQE (see enum iouw_completion_kind). Cancel CQEs: results 0,
 * -EALREADY, -ENOENT are normal, -EINVAL panics (the kernel rejected our
 * cancel SQE) when it names the current occupant, anything else is warned
 * about; a cancel CQE for an empty or reused slot is dropped as stale. Op
 * CQEs panic for an untracked slot, a stale generation, or a waiter with no
 * op in flight. */
void iouw_waiters_on_completion(struct iouw_waiters *w, uint64_t user_data, int32_t res,
                                struct iouw_completion_outcome *ret);

/* The same transition without the outcome struct, for the loop's hot path:
 * returns the kind; *ret_request and *ret_target_tick are written only for
 * COMPLETE. The waiter id is iouw_waiter_id_from_user_data(@user_data). */
enum iouw_completion_kind iouw_waiters_complete(struct iouw_waiters *w, uint64_t user_data,
                                                int32_t res, struct iouw_request **ret_request,
                                                uint64_t *ret_target_tick);

/* True only for a live waiter whose id matches and whose op is in flight. */
bool iouw_waiters_is_in_flight(const struct iouw_waiters *w, iouw_waiter_id id);

/* Remove a tracked waiter outside the normal flow (shutdown abandon) and
 * return its request, now owned by the caller. Panics for an untracked slot
 * or a stale generation. */
struct iouw_request *iouw_waiters_remove(struct iouw_waiters *w, iouw_waiter_id id);

size_t iouw_waiters_len(const struct iouw_waiters *w);
bool iouw_waiters_is_empty(const struct iouw_waiters *w);
bool iouw_waiters_is_full(const struct iouw_waiters *w);
uint32_t iouw_waiters_capacity(const struct iouw_waiters *w);
/* How many unexpected cancel results were tolerated so far. */
uint64_t iouw_waiters_unexpected_cancel_results(const struct iouw_waiters *w);

/* State of the live waiter @id: 0 with *ret_state (and *ret_target_tick if
 * non-NULL), or -ENOENT when @id is out of range, empty or stale. */
int iouw_waiters_state(const struct iouw_waiters *w, iouw_waiter_id id,
                       enum iouw_waiter_state *ret_state, uint64_t *ret_target_tick);

/* Snapshot slot @index: 0, or -ERANGE for an index past the capacity. */
int iouw_waiters_slot(const struct iouw_waiters *w, uint32_t index, struct iouw_waiter_info *ret);

/* Waiters stuck in CANCEL_REQUESTED (for example after a cancel answered
 * -EALREADY whose op never completes). Writes up to @max ids, in slot order,
 * and returns how many there are in total. */
size_t iouw_waiters_cancel_requested(const struct iouw_waiters *w, iouw_waiter_id *ret_ids,
                                     size_t max);

/* Set the generation the next occupant of the FREE slot @index gets, so a
 * test or scenario can reach a generation wrap without 2^31 reuses. Returns
 * 0, -ERANGE (index past capacity) or -EBUSY (slot occupied). */
int iouw_waiters_set_generation(struct iouw_waiters *w, uint32_t index, uint32_t generation);

/* Check every per-slot and whole-table invariant in the header comment;
 * panics naming the first one broken. O(capacity). */
void iouw_waiters_assert_consistent(const struct iouw_waiters *w);

#endif /* IOUW_WAITER_H */
