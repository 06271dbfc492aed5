/* harness/runner_int.h: the scenario runner's internals, shared by its
 * files (internal: not installed, included by nothing outside harness/'s
 * runner files). The contract is runner.h.
 *
 * Owns struct runner, the state of one scenario run, and the declarations
 * the runner's files share, grouped by the file that defines them:
 *   runner.c          iouw_scenario_run and iouw_scenario_record: setup (the
 *                     ring, the scripted kernel, the loop), the run's body,
 *                     the end-of-run checks, the verdict, teardown
 *   observer.c        the loop observer: log lines, per-request outcome
 *                     queues, results taken from handles
 *   names.c           requests and fds by name, id or pointer; how the log
 *                     names a user_data and an opcode
 *   skernel_drive.c   driving the scripted kernel (core/skernel.h): naming
 *                     CQEs (post, match, release), queued answers, the
 *                     record of each SQE and each wait
 *   steps.c           step execution: one iouw_run_ex_* per command, reached
 *                     through the EXEC column of harness/commands.h
 *   expectations.c    the `expect` steps (harness/expect.h holds the pure
 *                     checks some of them call) and the end-of-run fd audit
 *   recorder.c        what `iouwait record` writes (the RECORD column)
 *   timeline.c        the event log, failing a run, the timeline and its hash
 * runner.c stands above the others, steps.c and expectations.c above the
 * observer and the kernel driver, those above names.c, recorder.c and
 * timeline.c: no file calls into one above it.
 *
 * Invariants:
 *   - one run, one thread: nothing here is shared between runs, and the
 *     observer and the steps run on the loop's thread one after the other
 *     (the runner never runs inside the scripted kernel);
 *   - a failing step records the first departure only (iouw_run_failf and
 *     iouw_run_envf return false and keep the first reason): the run stops;
 *   - the log's lines are the run's hash (iouw_run_log_hash), except the
 *     '#' notes: every line is recorded or the run ends as an ERROR;
 *   - reqs[] and fds[] only grow during a run; a reqent's index is its
 *     answer key (skernel_drive.c) and its fd ledger index (expect.h).
 */
#ifndef IOUW_HARNESS_RUNNER_INT_H
#define IOUW_HARNESS_RUNNER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <liburing.h>

#include "clock.h"
#include "commands.h"
#include "expect.h"
#include "kmodel_judge.h"
#include "handle.h"
#include "loop.h"
#include "request.h"
#include "runner.h"
#include "scenario.h"
#include "uring_backend.h"
#include "waiter.h"

struct fdent {
	const struct iouw_scn_name *name;
	int fd;   /* the side requests use */
	int peer; /* the other end (socketpair, pipe write end), or -1 */
};

struct outq {
	int *v;
	size_t n, cap, head;
};

struct reqent {
	const struct iouw_scn_name *name;
	struct fdent *fd;
	bool async;
	struct iouw_request *req; /* while the harness or the loop owns it */
	struct iouw_handle *handle;
	bool dropped;
	bool submitted;
	bool dead;
	bool has_id;
	iouw_waiter_id id;
	bool have_result;
	struct iouw_result result;
	struct outq stage, completion, deliver;
	int admit_expired; /* -1 unknown, 0 admitted, 1 expired */
	uint64_t admit_tick; /* EV_ADMIT's deadline tick (IOUW_NO_TICK: none) */
	bool due_noted;      /* the timeline said its deadline passed */
};

struct logent {
	int line;
	uint32_t iter; /* repeat iteration of the step (0: none) */
	char *text;
};

struct sqe_rec {
	struct io_uring_sqe sqe;
	struct reqent *req; /* NULL: unknown */
	bool cancel;
	char *data; /* every byte the SQE points at (iouw_expect_sqe_bytes) */
	size_t data_len;
	size_t total;
	unsigned iovs;
	int line;
};

struct named_cqe {
	uint64_t ud;
	int32_t res;
};

struct runner {
	const struct iouw_scenario *s;
	const struct iouw_run_options *o;
	enum iouw_run_mode mode;
	struct iouw_virtual_clock vc;
	/* The scripted kernel (core/skernel.h) the loop runs on. */
	struct iouw_backend *k;
	/* Scripted wait failures (wait_fail) not yet logged. */
	unsigned fail_left;
	struct iouw_loop *loop;
	struct iouw_loop_config cfg;
	unsigned sq_cap;
	struct fdent fds[IOUW_SCN_MAX_NAMES];
	size_t nfds;
	struct reqent reqs[IOUW_SCN_MAX_NAMES];
	size_t nreqs;
	struct logent *log;
	size_t nlog, caplog;
	struct sqe_rec *sqes;
	size_t nsqes, capsqes, sqe_cursor;
	struct named_cqe *named;
	size_t nnamed, capnamed, named_head;
	/* `cqe ... at_wait=1` lines, released one per blocking wait. */
	const struct iouw_scn_step *deferred[IOUW_SCN_MAX_NAMES * 4];
	size_t ndeferred, deferred_head;
	int cur_line;
	bool failed;
	bool env_failed; /* the environment failed the run, not the script */
	int fail_line;
	char reason[512];
	char expected[1024];
	char actual[1024];
	bool ended; /* expect abort ran: stop here */
	bool pending_stale;
	FILE *rec;
	char *recbuf;
	size_t reclen;
	bool stop_record;
	char branches[160]; /* kernel mode: "LINE:BRANCH,..." (iouw_run_result) */
	/* harness/expect.h: the request fds, the last wait, the run's start. */
	struct iouw_fd_ledger fdl;
	struct iouw_wait_rec wait;
	bool block_step; /* a `turn block` or `run` step is running */
	uint64_t start_ns;
	const struct iouw_scn_step *cur_step;
	const struct iouw_scn_step *fail_step;
	struct iouw_kmj *kmj; /* the kernel model's judge (kmodel_judge.h) */
};

/* The outcome words of the observer's per-request queues (observer.c). */
extern const char *const iouw_run_stage_names[];
extern const char *const iouw_run_deliver_names[];
extern const char *const iouw_run_status_names[];

/* ---- harness/timeline.c: the event log, failing a run, the timeline and its hash */

bool iouw_run_envf(struct runner *r, const char *what, int err);
bool iouw_run_failf(struct runner *r, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
uint64_t iouw_run_log_hash(const struct runner *r);
void iouw_run_logf(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iouw_run_print_timeline(struct runner *r, FILE *out);
const char *iouw_run_res_str(int64_t res, char *buf, size_t len);
const char *iouw_run_step_text(const struct iouw_scn_block *b, int line);

/* ---- harness/observer.c: the loop observer */

void iouw_run_observe(void *ctx, const struct iouw_loop_event *ev);
void iouw_run_on_warn(void *ctx, iouw_waiter_id id, int32_t res);
void iouw_run_poll_results(struct runner *r);

/* ---- harness/names.c: the script's names */

struct fdent *iouw_run_fd_by_name(struct runner *r, const char *name);
struct reqent *iouw_run_req_by_id(struct runner *r, iouw_waiter_id id);
struct reqent *iouw_run_req_by_ptr(struct runner *r, const struct iouw_request *p);
struct reqent *iouw_run_req_of(struct runner *r, const struct iouw_scn_arg *a);
const char *iouw_run_ud_str(struct runner *r, uint64_t ud, char *buf, size_t len);
const char *iouw_run_opcode_name(unsigned op);

/* ---- harness/skernel_drive.c: driving the scripted kernel (core/skernel.h) */

void iouw_run_bind_request(struct runner *r, struct reqent *q);
bool iouw_run_cqe_target(struct runner *r, const struct iouw_scn_step *st, uint64_t *ret_ud,
                         const struct iouw_scn_arg **ret_alts);
uint64_t iouw_run_cqe_timeout(struct runner *r);
bool iouw_run_kernel_match(struct runner *r, unsigned idx, uint64_t ud,
                           const struct iouw_scn_arg *alts, int32_t *ret_res, bool quiet, char *why,
                           size_t whylen);
void iouw_run_log_sqe(struct runner *r, const struct io_uring_sqe *sqe);
void iouw_run_note_due_deadlines(struct runner *r);
const struct io_uring_cqe *iouw_run_peek_cq(struct runner *r, unsigned idx);
void iouw_run_record_wait(struct runner *r);
void iouw_run_take_answers(struct runner *r);

/* ---- harness/recorder.c: what `iouwait record` writes */

void iouw_run_rec_cqe(struct runner *r, const struct iouw_scn_step *st, int32_t res);
void iouw_run_rec_write(struct runner *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void iouw_run_record_step(struct runner *r, const struct iouw_scn_step *st);

/* ---- harness/steps.c: step execution */

bool iouw_run_exec_block(struct runner *r, const struct iouw_scn_block *b);

/* ---- harness/expectations.c: the expect checks */

bool iouw_run_audit_fds(struct runner *r);

/* One execute function per command row (harness/commands.h's EXEC
 * column, prefixed): steps.c and expectations.c define them, do_cqe is
 * skernel_drive.c's. A step returns false when the run stops. */
#define IOUW_RUN_EXEC_DECL(op, name, params, chk, ex, ...) \
	bool iouw_run_##ex(struct runner *r, const struct iouw_scn_step *st);
IOUW_SCN_COMMANDS(IOUW_RUN_EXEC_DECL)
#undef IOUW_RUN_EXEC_DECL

#endif
