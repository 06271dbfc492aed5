/* tests/fake_request.h: a small, observable request for waiter-table tests.
 *
 * Owns: struct fake_request and its log. A fake request holds a real fd
 * (one end of a socketpair, closed exactly once when the request ends) so the
 * fd-leak fixture catches a request that is never finished or released.
 *
 * Behaviour (deliberately close to the seed's sync/send requests):
 * - build_sqe: FSYNC on its fd (remaining == 0) or SEND of the remaining
 *   bytes (remaining > 0), with the given user_data.
 * - on_cqe: -EAGAIN/-EWOULDBLOCK/-EINTR -> not terminal; other negative ->
 *   terminal (error); res >= 0 with remaining == 0 -> terminal; res > 0
 *   consumes up to `remaining` bytes and is terminal once all are consumed.
 * - is_orphaned: the test flips `orphaned` to play a caller that walked away;
 *   fake_request_never_orphaned() drops the op instead (NULL: never asked).
 *
 * Invariant: every call is counted in the log, which outlives the request, so
 * tests can assert "finished/released exactly once".
 */
#ifndef IOUW_TEST_FAKE_REQUEST_H
#define IOUW_TEST_FAKE_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "request_ops.h"

struct fake_log {
	int builds;
	int cqes;
	int finishes;
	int releases;
	int32_t last_res;
	bool last_cancel_requested;
	enum iouw_finish finished_how;
};

struct fake_request {
	struct iouw_request base;
	struct fake_log *log;
	int fd;
	int peer_fd;
	uint32_t remaining;
	bool orphaned;
	bool recorded;
};

/* A sync-like fake (remaining 0) logging into @log. Never NULL. */
struct fake_request *fake_request_new(struct fake_log *log);
/* A send-like fake with @len bytes to consume. Never NULL. */
struct fake_request *fake_request_new_len(struct fake_log *log, uint32_t len);

/* Switch @f to an ops table without is_orphaned (a request that declares it
 * is never orphaned, as write_at and sync do); `orphaned` is then ignored. */
void fake_request_never_orphaned(struct fake_request *f);

/* Finish a request handed back by the table (COMPLETE). */
void fake_request_finish(struct iouw_request *req);

#endif /* IOUW_TEST_FAKE_REQUEST_H */
