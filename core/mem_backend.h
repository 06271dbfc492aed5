/* core/mem_backend.h: an in-memory backend obeying core/backend.h.
 *
 * What: a submission queue and a completion queue in plain memory, no
 * kernel. Fuzzers and deterministic loop tests drive it: they read what the
 * loop submitted (iouw_mem_backend_submitted()), answer with CQEs
 * (iouw_mem_backend_post()), and can be called back whenever the loop would
 * block (the wait hook) to produce CQEs or advance a virtual clock.
 *
 * Queues and their invariants:
 *   SQ         pushed, not yet submitted SQEs; 0 <= pending <= sq_entries;
 *              push_sqe returns -EBUSY exactly when pending == sq_entries.
 *   submitted  every SQE submitted since the last clear, in submission order.
 *   CQ ring    at most cq_entries CQEs, oldest first.
 *   overflow   CQEs posted while the CQ ring was full (the kernel's
 *              FEAT_NODROP overflow list). Non-empty only while the CQ ring is
 *              full or being flushed; once it is non-empty every new CQE joins
 *              it too, so CQ ring + overflow is one FIFO in post order. reap()
 *              flushes it into the ring as space frees, so nothing is lost and
 *              order is kept. Its length is capped by the overflow limit
 *              (default IOUW_MEM_BACKEND_DEFAULT_OVERFLOW_LIMIT); a post beyond
 *              the cap fails with -ENOSPC and changes nothing. A limit of 0
 *              models a ring without an overflow list (-ENOSPC as soon as the
 *              CQ ring is full).
 *
 * submit_and_wait(wait_nr, timeout_ns), in this order:
 *   1. an armed fault (iouw_mem_backend_fail_next_wait) returns its error and
 *      submits nothing (the SQEs stay pending, as when the kernel refuses a
 *      submission with -EBUSY/-EAGAIN);
 *   2. every pending SQE moves to the submitted log; count = how many;
 *   3. wait_nr == 0, or at least wait_nr CQEs available (ring + overflow):
 *      return count;
 *   4. otherwise call the wait hook (if any) while fewer than wait_nr CQEs
 *      are available and the previous call posted something. A negative hook
 *      return is returned as is (the SQEs stay submitted). When the hook is
 *      absent or posts nothing: -ETIME for a timed wait (timeout_ns >= 0),
 *      -EDEADLK for an untimed one (it would block forever).
 * The hook may post CQEs, push SQEs, and read or clear the submitted log; it
 * must not call submit_and_wait (invariant "mem backend wait hook
 * re-entered").
 *
 * Limits: sq_entries and cq_entries <= IOUW_MEM_BACKEND_MAX_ENTRIES.
 * Not thread-safe.
 */
#ifndef IOUW_MEM_BACKEND_H
#define IOUW_MEM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define IOUW_MEM_BACKEND_MAX_ENTRIES (UINT32_C(1) << 20)
#define IOUW_MEM_BACKEND_DEFAULT_OVERFLOW_LIMIT (UINT32_C(1) << 20)

/* Create an in-memory backend with @sq_entries SQ slots and @cq_entries CQ
 * ring slots (0 = 2 * sq_entries, as the kernel does). -EINVAL for
 * sq_entries == 0, either size above IOUW_MEM_BACKEND_MAX_ENTRIES, or
 * @ret NULL; -ENOMEM. *@ret is written only on success. */
int iouw_mem_backend_new(unsigned sq_entries, unsigned cq_entries, struct iouw_backend **ret);

/* Everything submitted so far, in submission order (the harness/fuzzer inspects
 * and answers them). *@ret_sqes stays valid until the next submit_and_wait,
 * clear_submitted or free; it is NULL when the log is empty. @b must be a
 * mem backend (invariant "mem backend call on another backend"). */
size_t iouw_mem_backend_submitted(struct iouw_backend *b, const struct io_uring_sqe **ret_sqes);

/* Empty the submitted log (pending SQEs are untouched). */
void iouw_mem_backend_clear_submitted(struct iouw_backend *b);

/* Post a CQE. 0; -ENOSPC when the CQ ring is full and the overflow list is at
 * its limit (nothing posted); -ENOMEM. See the header comment for overflow. */
int iouw_mem_backend_post(struct iouw_backend *b, uint64_t user_data, int32_t res, uint32_t flags);

/* Called from submit_and_wait when fewer than wait_nr CQEs are ready, so a driver
 * can produce CQEs (or advance a virtual clock) on demand; if it posts nothing the
 * wait returns -ETIME (timed wait) or -EDEADLK (untimed wait). Return 0 to go on,
 * or a negative errno for submit_and_wait to return. NULL @hook removes it. */
void iouw_mem_backend_set_wait_hook(struct iouw_backend *b,
                                    int (*hook)(void *ctx, unsigned wait_nr, int64_t timeout_ns),
                                    void *ctx);

/* Fault injection for loop tests: make the next @times submit_and_wait calls return
 * @err (a negative errno) without submitting anything. @times == 0 disarms.
 * A non-negative @err with @times > 0 breaks the invariant "mem backend fault
 * is not a negative errno". */
void iouw_mem_backend_fail_next_wait(struct iouw_backend *b, int err, unsigned times);

/* Cap the overflow list at @limit CQEs (0: no overflow list). Does not drop
 * CQEs already parked. */
void iouw_mem_backend_set_overflow_limit(struct iouw_backend *b, size_t limit);

/* CQEs available to reap (CQ ring + overflow list). */
size_t iouw_mem_backend_cq_ready(struct iouw_backend *b);

/* Whether CQEs are parked in the overflow list (the kernel's
 * IORING_SQ_CQ_OVERFLOW). */
bool iouw_mem_backend_cq_overflowed(struct iouw_backend *b);

/* Number of submit_and_wait calls so far (including failed ones). */
uint64_t iouw_mem_backend_wait_calls(struct iouw_backend *b);

#endif /* IOUW_MEM_BACKEND_H */
