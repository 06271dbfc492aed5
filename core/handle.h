/* core/handle.h: the caller-side handle of one logical request (docs/requests.md §4.4).
 *
 * Owns: struct iouw_handle (the state a request and its caller share),
 * struct iouw_result (what the caller gets back) and enum iouw_status.
 *
 * A handle is the C stand-in for the original's oneshot channel: the request
 * (on the loop thread) delivers exactly one result into it, the caller (on
 * any thread) waits for it, polls it, or walks away. Both sides hold one
 * reference on the shared state (two bits of its atomic state word: put
 * and dropped); whichever side lets go last frees it, so neither side ever
 * waits for the other.
 *
 * States (one atomic state word, moved by compare-and-swap, lock-free; a
 * caller blocking in iouw_handle_wait() sleeps on that word as a futex,
 * which deliver() wakes only when a waiter announced itself):
 *
 *   PENDING                 no result yet, caller present
 *   READY                   result stored, not yet taken
 *   TAKEN                   the caller took the result (wait/try)
 *   DROPPED                 the caller walked away (drop)
 *
 *   PENDING -> READY        iouw_handle_deliver() (returns true)
 *   READY   -> TAKEN        iouw_handle_wait() / iouw_handle_try()
 *   PENDING -> DROPPED      iouw_handle_drop(): deliver() later returns false
 *                           and the request keeps (and frees) its buffer
 *   READY   -> DROPPED      iouw_handle_drop(): the untaken buffer is freed
 *   TAKEN   -> DROPPED      iouw_handle_drop(): nothing left to free
 *
 * Invariants: a result is delivered at most once ("handle result delivered
 * twice" otherwise); a buffer in a result is owned by exactly one party: the
 * request until deliver() returns true, then the handle until the caller
 * takes it, then the caller (who frees it with iouw_result_free() or free()).
 * The caller must call iouw_handle_drop() exactly once, whether or not it
 * took a result; the request side calls iouw_handle_put() exactly once.
 */
#ifndef IOUW_HANDLE_H
#define IOUW_HANDLE_H

#include <stdbool.h>
#include <stddef.h>

/* What became of a logical request. */
enum iouw_status {
	IOUW_RESULT_OK = 0,             /* .value: see struct iouw_result */
	IOUW_RESULT_TIMEOUT,            /* deadline passed (send, recv, read_at, write_at) */
	IOUW_RESULT_SEND_FAILED,        /* .err: errno, or 0 (zero-byte send / no result) */
	IOUW_RESULT_RECV_FAILED,        /* .err: errno, or 0 (peer closed / no result) */
	IOUW_RESULT_READ_FAILED,        /* .err: errno, or 0 (no result) */
	IOUW_RESULT_WRITE_FAILED,       /* .err: errno, or 0 (zero-byte write / no result) */
	IOUW_RESULT_INSUFFICIENT_LENGTH, /* read_at hit end of file before len bytes */
	IOUW_RESULT_SYNC_ERROR,         /* sync failed or timed out: .err = errno */
	IOUW_RESULT_ABANDONED,          /* released without a result: .err = ECANCELED */
};

/* The caller's view of a finished request.
 *
 * value: OK only. send/write_at: bytes written (the whole length); recv: the
 *   total filled length of the buffer, prefix (the initial offset) included;
 *   read_at: the requested length; sync: 0.
 * err: positive errno where the status carries one (see enum iouw_status),
 *   ETIMEDOUT for TIMEOUT, else 0.
 * buf, buf_len, buf_capacity: recv and read_at give the caller's buffer back
 *   with every status (buf_len = bytes filled so far; for OK the value), and
 *   the caller then owns it; so do the owned send and write_at
 *   (core/request.h; buf_len = bytes sent or written so far, buf_capacity =
 *   the length handed in). NULL/0/0 for the other kinds. */
struct iouw_result {
	enum iouw_status status;
	int err;
	size_t value;
	void *buf;
	size_t buf_len;
	size_t buf_capacity;
};

struct iouw_handle;

/* Stable, human-readable name of @status ("ok", "timeout", ...). */
const char *iouw_status_name(enum iouw_status status);

/* Free the buffer a result carries (free(r->buf) is equivalent) and clear
 * buf/buf_len/buf_capacity. NULL or a result without a buffer is a no-op. */
void iouw_result_free(struct iouw_result *r);

/* --- request side ------------------------------------------------------ */

/* A new PENDING handle holding two references (request and caller).
 * Returns 0 and sets *ret_handle, -EINVAL (ret_handle NULL) or -ENOMEM. */
int iouw_handle_new(struct iouw_handle **ret_handle);

/* The same handle in memory the caller provides (iouw_handle_size() bytes,
 * aligned as malloc's), typically inside a larger block that holds the
 * request too, at its start: when the last reference goes, @release(@mem)
 * is called instead of free() (after any untaken buffer is freed; the
 * handle is dead then). Returns 0 or -EINVAL (a NULL argument); nothing to
 * undo on error. */
int iouw_handle_init(void *mem, void (*release)(void *mem), struct iouw_handle **ret_handle);
size_t iouw_handle_size(void);

/* Store @r as the result and wake the caller. Returns true when the caller
 * is still there: ownership of r->buf moved to the handle. Returns false
 * when the caller already dropped the handle: nothing changed, r->buf is
 * still the request's. Panics ("handle result delivered twice") on a second
 * delivery. Thread-safe. */
bool iouw_handle_deliver(struct iouw_handle *h, const struct iouw_result *r);

/* True once the caller dropped the handle. Thread-safe, lock-free. */
bool iouw_handle_is_dropped(const struct iouw_handle *h);

/* The request side lets go of its reference (exactly once; "handle put
 * twice" otherwise). */
void iouw_handle_put(struct iouw_handle *h);

/* iouw_handle_deliver() then iouw_handle_put() in one atomic step (the
 * request's usual end). Returns true when the caller was still there:
 * r->buf is the handle's now. False when the caller had dropped the handle:
 * nothing delivered, r->buf is still the request's (free it), and the
 * handle is gone. Either way @h must not be touched afterwards. */
bool iouw_handle_deliver_and_put(struct iouw_handle *h, const struct iouw_result *r);

/* --- caller side ------------------------------------------------------- */

/* Block until the result arrives, then take it into *ret (the caller owns
 * ret->buf). Returns 0, -EALREADY when the result was already taken, or
 * -EINVAL (NULL argument). An abandoned request yields 0 with status
 * IOUW_RESULT_ABANDONED and err ECANCELED. */
int iouw_handle_wait(struct iouw_handle *h, struct iouw_result *ret);

/* Like iouw_handle_wait() but never blocks: -EAGAIN when no result yet. */
int iouw_handle_try(struct iouw_handle *h, struct iouw_result *ret);

/* iouw_handle_try() then, when it took the result, iouw_handle_drop(), in
 * one atomic step (the usual poll; no atomic operation at all once the
 * request side delivered and let go and nobody waits, since only the
 * caller can touch the handle then): 0 with *ret taken and the handle gone;
 * -EAGAIN (no result yet) or -EALREADY (already taken) with nothing
 * changed, the handle still the caller's; -EINVAL for a NULL argument. */
int iouw_handle_take_and_drop(struct iouw_handle *h, struct iouw_result *ret);

/* Pin @h's caller side to the calling thread, before @h is shared: from
 * then on iouw_handle_wait(), _try(), _take_and_drop() and _drop() run on
 * this thread only (elsewhere they panic: "handle used off its pinned
 * thread"), and a delivery (iouw_handle_deliver_and_put()) made on this
 * thread needs no atomic read-modify-write, since nothing else can touch
 * the handle meanwhile; a delivery on another thread still takes the
 * compare-and-swap. For a runtime whose callers run on the loop's thread
 * (requests built from a pool are pinned: core/request.h). */
void iouw_handle_pin(struct iouw_handle *h);

/* The caller lets go (exactly once, after taking the result or instead of
 * it). Before a result arrives this orphans send/recv/read_at requests
 * (write_at and sync continue). An untaken result's buffer is freed. NULL is
 * a no-op. */
void iouw_handle_drop(struct iouw_handle *h);

#endif /* IOUW_HANDLE_H */
