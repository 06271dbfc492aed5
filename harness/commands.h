/* harness/commands.h: the command table of the scenario language
 * (docs/scenarios.md §7, harness/README.md "Language"): one row per command.
 *
 * Owns: IOUW_SCN_COMMANDS, the table itself (an X-macro, so every consumer
 * expands the same rows and a missing hook is a compile error), the step
 * kinds it generates (enum iouw_scn_op), the typed argument specification
 * (struct iouw_scn_param: type, range, choices, default, what the error
 * says is expected) and the generated documentation (the README table and
 * the fuzz dictionary words).
 *
 * A row is X(OP, NAME, PARAMS, CHECK, EXEC, RECORD, USAGE, DOC):
 *   OP      the step kind: IOUW_SCN_<OP>
 *   NAME    the command words ("turn", "expect sqe"); rows sharing a name
 *           are told apart by their positional arity (submit NAME...: hand
 *           requests to the loop; bare submit: one submit_and_wait phase)
 *   PARAMS  the argument specification (commands.c), positional first
 *   CHECK   the parser's rule beyond the specification (scenario.c:
 *           placement, cross-argument rules, side effects on the scenario)
 *   EXEC    the runner's function executing the step, defined as
 *           iouw_run_<EXEC> (steps.c, expectations.c; cqe: skernel_drive.c)
 *   RECORD  what `iouwait record` writes for the step (enum iouw_scn_record)
 *   USAGE   one example line; DOC one line of documentation
 * REPEAT's row types `repeat N` and documents it, but no step ever has that
 * op: its CHECK opens the block and the parser expands it at its `end`
 * (scenario.h), so its EXEC only fires the invariant "repeat blocks are
 * expanded by the parser".
 *
 * Invariants: every op has exactly one row (the enum is generated from the
 * rows); every key and positional word a parsed step carries was matched
 * against its row's PARAMS and carries its typed value (scenario.h), so the
 * runner never parses text; a value the runner asks for by key is in its
 * row's PARAMS (otherwise IOUW_INVARIANT "scenario key not in the command
 * table").
 */
#ifndef IOUW_COMMANDS_H
#define IOUW_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* clang-format off */
#define IOUW_SCN_COMMANDS(X) \
X(MODES, "modes", p_modes, chk_modes, ex_nothing, IOUW_SCN_REC_MODES, \
  "modes kernel inject", "modes the scenario applies to (default both)") \
X(NEGATIVE, "negative", p_negative, chk_negative, ex_nothing, IOUW_SCN_REC_LINE, \
  "negative line=N", "negative scenario: must depart at line N (exits 1 then)") \
X(KERNEL, "kernel", p_kernel, chk_kernel, ex_nothing, IOUW_SCN_REC_LINE, \
  "kernel legal` / `kernel hostile H4 H1", \
  "what the kernel history is, judged CQE by CQE by the kernel model (fuzz/kernel_model.h, " \
  "docs/kernel.md §8.9); once, at the top. `legal` (the default): a CQE the model calls " \
  "hostile departs at its line, naming the rule; `hostile H4 ...`: hostile CQEs must break " \
  "the rules named (H1-H10), and each named rule must be broken by the end of the run") \
X(CONFIG, "config", p_config, chk_config, ex_nothing, IOUW_SCN_REC_LINE, \
  "config ring=8 sq=8 cq=64 tick=1ms max_timeout=10s shutdown=50ms\\|none single_issuer=0 " \
  "prearm=1", \
  "loop config, once, before any fd or request; `ring` is also the waiter table size (rounded " \
  "up to a power of two); `sq` shrinks the SQ the loop sees; `cq` sizes the real CQ (at least " \
  "the SQ: ring, at least 8), small enough to overflow on purpose. Defaults: ring 8, CQ 4x the " \
  "SQ (at least 64), tick 1 ms, max 10 s, no budget") \
X(SOCKETPAIR, "socketpair", p_socketpair, chk_create_fd, ex_make_fd, IOUW_SCN_REC_LINE, \
  "socketpair s", "a connected AF_UNIX stream pair: requests use one end, `peer` the other") \
X(PIPE, "pipe", p_pipe, chk_create_fd, ex_make_fd, IOUW_SCN_REC_LINE, \
  "pipe p", "a pipe: requests use the read end, `peer` the write end") \
X(FILE, "file", p_file, chk_create_fd, ex_make_fd, IOUW_SCN_REC_LINE, \
  "file f content=\"...\"", "a temporary file (unlinked at once) holding `content`") \
X(SEND, "send", p_send, chk_create_req, ex_make_request, IOUW_SCN_REC_LINE, \
  "send r fd=s data=\"ab\" data=\"cd\" deadline=+5ms async=1", \
  "send, one buffer (SEND) or several (WRITEV); `deadline=none` or relative (`-2ms`: already " \
  "past); `async=1` (any request): kernel mode sets IOSQE_ASYNC on its op SQEs (worker races)") \
X(RECV, "recv", p_recv, chk_create_recv, ex_make_request, IOUW_SCN_REC_LINE, \
  "recv r fd=s len=8 offset=2 capacity=16 exact=1 prefix=\"ab\" deadline=+5ms", \
  "recv into a fresh buffer of `capacity` (default `len`, at most 16 MiB) holding `prefix`") \
X(READ_AT, "read_at", p_read_at, chk_create_req, ex_make_request, IOUW_SCN_REC_LINE, \
  "read_at r fd=f off=0 len=5 capacity=8", "positioned read (at most 16 MiB)") \
X(WRITE_AT, "write_at", p_write_at, chk_create_req, ex_make_request, IOUW_SCN_REC_LINE, \
  "write_at r fd=f off=0 data=\"ab\" data=\"cd\"", "positioned write, one buffer or several") \
X(SYNC, "sync", p_sync, chk_create_req, ex_make_request, IOUW_SCN_REC_LINE, \
  "sync r fd=f", "fsync") \
X(SUBMIT_REQ, "submit", p_submit_req, chk_none, ex_submit_req, IOUW_SCN_REC_LINE, \
  "submit r1 r2", "hand requests to the loop (inbound queue, bounded by the ring size)") \
X(PHASE_SUBMIT, "submit", p_none, chk_none, ex_phase_submit, IOUW_SCN_REC_LINE, \
  "submit", "one submit_and_wait phase, not blocking (also spelt `wait`)") \
X(TURN, "turn", p_turn, chk_none, ex_turn, IOUW_SCN_REC_LINE, \
  "turn 2 block error=-EIO", "N whole turns (default 1), blocking or not; `error=` says the " \
  "(last) turn must return that fatal error") \
X(REAP, "reap", p_none, chk_none, ex_reap, IOUW_SCN_REC_LINE, \
  "reap", "one reap phase") \
X(ADVANCE, "advance", p_none, chk_none, ex_advance, IOUW_SCN_REC_LINE, \
  "advance", "one advance_timeouts phase") \
X(FILL, "fill", p_none, chk_none, ex_fill, IOUW_SCN_REC_LINE, \
  "fill", "one fill_sq phase") \
X(RUN, "run", p_none, chk_none, ex_run, IOUW_SCN_REC_LINE, \
  "run", "iouw_loop_run after `close` (drain, budget, abandon)") \
X(CLOSE, "close", p_none, chk_none, ex_close, IOUW_SCN_REC_LINE, \
  "close", "iouw_loop_close") \
X(CLOCK, "clock", p_clock, chk_clock, ex_clock, IOUW_SCN_REC_LINE, \
  "clock +6ms", "move the virtual clock") \
X(PAUSE, "pause", p_pause, chk_none, ex_pause, IOUW_SCN_REC_LINE, \
  "pause 20ms", "real sleep (give a kernel worker time to start; at most 5 s)") \
X(CANCEL, "cancel", p_cancel, chk_none, ex_cancel, IOUW_SCN_REC_LINE, \
  "cancel r1 took=1 sqe=1 cancel_flags=0x80000000", \
  "the loop's cancel, `iouw_loop_cancel()` (docs/loop.md §6.11): the cancel is requested and " \
  "the deadline dropped by the loop's own rule; `sqe=1` also has the loop stage the " \
  "ASYNC_CANCEL it would stage for an expired deadline, at once, with `cancel_flags` in it " \
  "(bogus flags make the kernel answer -EINVAL)") \
X(DROP, "drop", p_req, chk_none, ex_drop, IOUW_SCN_REC_LINE, \
  "drop r1", "the caller drops its handle (orphaning)") \
X(CORRUPT, "corrupt", p_corrupt, chk_none, ex_corrupt, IOUW_SCN_REC_LINE, \
  "corrupt r1 progress=5 len=4 capacity=8", \
  "test-only: give a request a shape its constructor refuses (core/request.h's " \
  "`iouw_request_test_set_shape`), to script the shape panics") \
X(SET_GENERATION, "set_generation", p_set_generation, chk_set_generation, ex_set_generation, \
  IOUW_SCN_REC_LINE, \
  "set_generation slot=0 gen=2147483647", \
  "the generation the next occupant of a free slot gets (wrap without 2^31 reuses); `slot` " \
  "below the table size, `gen` below 2^31") \
X(PEER_WRITE, "peer write", p_peer_write, chk_none, ex_peer_write, IOUW_SCN_REC_LINE, \
  "peer write s \"abc\"", "write to the other end of a socketpair or pipe") \
X(PEER_CLOSE, "peer close", p_stream, chk_none, ex_peer_close, IOUW_SCN_REC_LINE, \
  "peer close s", "close the other end") \
X(PEER_FILL, "peer fill", p_stream, chk_none, ex_peer_fill, IOUW_SCN_REC_LINE, \
  "peer fill s", "fill the socket buffer so sends stay pending (sockets only)") \
X(PEER_DRAIN, "peer drain", p_stream, chk_none, ex_peer_drain, IOUW_SCN_REC_LINE, \
  "peer drain s", "read and discard what the other end holds") \
X(CQE, "cqe", p_cqe, chk_cqe, do_cqe, IOUW_SCN_REC_CQE, \
  "cqe [stale] r1 op\\|cancel res=0\\|-EALREADY at_wait=1` / `cqe ud=0x8000000000000063 res=0", \
  "a CQE, in order (inject: posted; kernel: expected); `stale` also checks r1 no longer holds " \
  "its slot; `ud=` takes any 64-bit user_data; `at_wait=1` holds it back until the next " \
  "blocking wait") \
X(EITHER, "either", p_none, chk_none, ex_either, IOUW_SCN_REC_NONE, \
  "either` / `or` / `end", \
  "alternative orders; each branch starts with `cqe` lines (its guard), then any steps, nested " \
  "`either` blocks included (up to 8 deep)") \
X(REPEAT, "repeat", p_repeat, chk_repeat, ex_repeat, IOUW_SCN_REC_NONE, \
  "repeat 1000` / `end", \
  "the lines between, 1000 times (see \"repeat\" below)") \
X(EXPECT_SQE, "expect sqe", p_expect_sqe, chk_expect_sqe, ex_expect_sqe, IOUW_SCN_REC_LINE, \
  "expect sqe r1 op=RECV len=8 off=0 fd=s data=\"...\" iovs=2` / `expect sqe r1 cancel` / " \
  "`expect sqe none", \
  "the next staged SQE, in order; `data=` is compared in full, whatever its length (all the " \
  "bytes a SEND, WRITE or WRITEV points at, its iovecs joined); a mismatch names both lengths " \
  "and the offset of the first differing byte, with the bytes around it") \
X(EXPECT_STAGE, "expect stage", p_expect_stage, chk_none, ex_expect_stage, IOUW_SCN_REC_LINE, \
  "expect stage r1 submit\\|timeout\\|orphaned", "the request's next staging outcome") \
X(EXPECT_COMPLETION, "expect completion", p_expect_completion, chk_none, ex_expect_completion, \
  IOUW_SCN_REC_LINE, \
  "expect completion r1 cancel\\|requeue\\|complete stale=1", "the request's next completion " \
  "outcome") \
X(EXPECT_DELIVER, "expect deliver", p_expect_deliver, chk_none, ex_expect_deliver, \
  IOUW_SCN_REC_LINE, \
  "expect deliver r1 complete\\|timeout", "the request's next delivery") \
X(EXPECT_ADMIT, "expect admit", p_expect_admit, chk_expect_admit, ex_expect_admit, \
  IOUW_SCN_REC_LINE, \
  "expect admit r1 slot=0 gen=0 tick=5\\|none` / `expect admit r1 expired", \
  "how the request was admitted; `tick=` is the wheel tick its deadline was filed under " \
  "(ticks of `config tick=` since the loop started: `deadline=+5ms` with a 1 ms tick at the " \
  "start is tick 5), `none` without a deadline") \
X(EXPECT_RESULT, "expect result", p_expect_result, chk_expect_result, ex_expect_result, \
  IOUW_SCN_REC_LINE, \
  "expect result r1 ok 3 data=\"abc\" len=3` / `expect result r1 pending` / `... recv_failed " \
  "err=0", \
  "the caller's result (a value only after ok)") \
X(EXPECT_TABLE, "expect table", p_expect_table, chk_expect_table, ex_expect_table, \
  IOUW_SCN_REC_LINE, \
  "expect table len=1 inflight=1 ready=0 cancels=0 stuck=1 inbound=0 deadlines=1 warnings=0 " \
  "delivered=1 timeouts=1 abandoned=0 capacity=8 drained=1 cq_ready=8 cq_overflow=1", \
  "table, loop and stats facts; `cq_ready` counts CQEs in the real CQ ring, `cq_overflow` is " \
  "the kernel's IORING_SQ_CQ_OVERFLOW flag") \
X(EXPECT_SLOT, "expect slot", p_expect_slot, chk_none, ex_expect_slot, IOUW_SCN_REC_LINE, \
  "expect slot 0 gen=1 occupied=1 inflight=1 state=active\\|cancel_requested req=r2", "one " \
  "slot of the waiter table") \
X(EXPECT_READY, "expect ready", p_idlist, chk_idlist, ex_expect_idlist, IOUW_SCN_REC_LINE, \
  "expect ready r1 r2` / `expect ready none", "the ready queue, in order") \
X(EXPECT_CANCELS, "expect cancels", p_idlist, chk_idlist, ex_expect_idlist, IOUW_SCN_REC_LINE, \
  "expect cancels r1", "the pending cancels, in order (or `none`)") \
X(EXPECT_STUCK, "expect stuck", p_idlist, chk_idlist, ex_expect_idlist, IOUW_SCN_REC_LINE, \
  "expect stuck r1", "the waiters stuck in CancelRequested (or `none`)") \
X(EXPECT_ABORT, "expect abort", p_expect_abort, chk_expect_abort, ex_nothing, IOUW_SCN_REC_NONE, \
  "expect abort \"invariant name\"", \
  "the NEXT step must abort naming that invariant (run in a forked child, stderr captured); " \
  "the scenario ends there") \
X(EXPECT_CONSISTENT, "expect consistent", p_none, chk_none, ex_expect_consistent, \
  IOUW_SCN_REC_LINE, \
  "expect consistent", "iouw_loop_assert_consistent") \
X(EXPECT_PEER, "expect peer", p_expect_peer, chk_none, ex_expect_bytes, IOUW_SCN_REC_LINE, \
  "expect peer s data=\"abc\"", "the peer end of socketpair `s` received exactly these bytes " \
  "next (waits up to 2 s)") \
X(EXPECT_FILE, "expect file", p_expect_file, chk_none, ex_expect_bytes, IOUW_SCN_REC_LINE, \
  "expect file f off=4 data=\"abc\"", "the file holds these bytes at `off`") \
X(WAIT_FAIL, "wait_fail", p_wait_fail, chk_none, ex_wait_fail, IOUW_SCN_REC_LINE, \
  "wait_fail res=-EINTR times=1", \
  "the next `times` submit_and_wait calls fail with `res`, after what was pushed went out: " \
  "-ETIME, -EINTR, -EAGAIN, -EBUSY must leave the turn at 0, anything else must come back from " \
  "it") \
X(EXPECT_FD, "expect fd", p_expect_fd, chk_none, ex_expect_fd, IOUW_SCN_REC_LINE, \
  "expect fd r1 open\\|closed", \
  "r1's fd: `open` while the request lives; `closed` once it ended, closed **exactly once** " \
  "(see \"Resources\")") \
X(EXPECT_OUTSTANDING, "expect outstanding", p_expect_outstanding, chk_expect_outstanding, \
  ex_expect_outstanding, IOUW_SCN_REC_LINE, \
  "expect outstanding none` / `expect outstanding fds=1 requests=1 handles=1 buffers=1", \
  "nothing left over, or exactly these counts (see \"Resources\")") \
X(EXPECT_WAIT, "expect wait", p_expect_wait, chk_expect_wait, ex_expect_wait, \
  IOUW_SCN_REC_LINE, \
  "expect wait blocked=1 bound=5ms\\|none moved=5ms", \
  "the loop's last wait (its last submit_and_wait call): whether it asked to block, the bound " \
  "it passed (`none`: unbounded, or it did not block), how far it moved the virtual clock; " \
  "any subset of the keys") \
X(EXPECT_CLOCK, "expect clock", p_expect_clock, chk_none, ex_expect_clock, IOUW_SCN_REC_LINE, \
  "expect clock elapsed=5ms", \
  "virtual time since the run started (moved by `clock +D` and by blocking waits)")
/* clang-format on */

#define IOUW_SCN_OP_ENUM_(op, ...) IOUW_SCN_##op,
enum iouw_scn_op { IOUW_SCN_COMMANDS(IOUW_SCN_OP_ENUM_) };
#undef IOUW_SCN_OP_ENUM_
#define IOUW_SCN_OP_COUNT_(...) +1
enum { IOUW_SCN_NOPS = 0 IOUW_SCN_COMMANDS(IOUW_SCN_OP_COUNT_) };
#undef IOUW_SCN_OP_COUNT_

/* What `iouwait record` writes for a step. */
enum iouw_scn_record {
	IOUW_SCN_REC_LINE,  /* the line, unindented */
	IOUW_SCN_REC_MODES, /* "modes inject" */
	IOUW_SCN_REC_CQE,   /* the line with the res the kernel posted */
	IOUW_SCN_REC_NONE,  /* nothing (either: branches are flattened; expect
	                     * abort: written with its step) */
};

/* Argument types. Positional words come first, in PARAMS order; key=value
 * words follow, in any order. */
enum iouw_scn_type {
	IOUW_SCN_T_INT,      /* integer in [lo, hi]: decimal, 0x-hex or -ENAME -> .i */
	IOUW_SCN_T_U64,      /* unsigned 64-bit, decimal or 0x-hex -> .u */
	IOUW_SCN_T_DUR,      /* duration in [lo, hi] ns (5ms, 1s, 10us, 7ns, 0) -> .u */
	IOUW_SCN_T_RELDUR,   /* +D or -D -> .i (signed ns) */
	IOUW_SCN_T_DEADLINE, /* +D, -D or none -> .i, .none */
	IOUW_SCN_T_SHUTDOWN, /* D or none -> .u, .none */
	IOUW_SCN_T_BOOL,     /* 0 1 true false yes no -> .b */
	IOUW_SCN_T_STR,      /* quoted string -> val, val_len */
	IOUW_SCN_T_RES,      /* 32-bit results joined by '|' -> .alts, .nalts, .i (first) */
	IOUW_SCN_T_ERR,      /* errno name (EPIPE) or 0..4095 -> .i (positive) */
	IOUW_SCN_T_ENUM,     /* one of .choices -> .u (index) */
	IOUW_SCN_T_WORD,     /* optional literal choices[0] (positional only) -> .b */
	IOUW_SCN_T_REQ,      /* a request defined above -> .name (NULL: `none`) */
	IOUW_SCN_T_FD,       /* a socketpair, pipe or file defined above -> .name */
	IOUW_SCN_T_STREAM,   /* a socketpair or pipe -> .name */
	IOUW_SCN_T_SOCKET,   /* a socketpair -> .name */
	IOUW_SCN_T_FILE,     /* a file -> .name */
	IOUW_SCN_T_NEW,      /* a new name of kind .lo (enum iouw_scn_name_kind) -> .name */
};

#define IOUW_SCN_F_REQUIRED 1u /* positional: must be there; key: must be given */
#define IOUW_SCN_F_REPEAT 2u   /* may be given several times */
#define IOUW_SCN_F_NONEMPTY 4u /* strings: at least one byte (no NUL for abort) */
#define IOUW_SCN_F_NONE 8u     /* REQ, INT: the word `none` is accepted (.none; REQ:
                                * .name NULL) */

struct iouw_scn_param {
	const char *key; /* NULL: positional */
	enum iouw_scn_type type;
	unsigned flags;
	int64_t lo, hi; /* INT, DUR (ns): the range; NEW: the name kind */
	const char *const *choices; /* ENUM, WORD: NULL-terminated */
	int64_t dflt;   /* value when an optional key is absent */
	const char *what; /* positional: what the error says is expected */
};

struct iouw_scn_cmd {
	enum iouw_scn_op op;
	const char *name; /* "expect sqe" (PHASE_SUBMIT is also spelt "wait") */
	const struct iouw_scn_param *params; /* ends with type 0 and no key/what */
	size_t nparams;
	enum iouw_scn_record record;
	const char *usage;
	const char *doc;
};

/* The row of @op (IOUW_INVARIANT on an op outside the table). */
const struct iouw_scn_cmd *iouw_scn_cmd(enum iouw_scn_op op);

/* The first row whose name starts with @w1 (and, for two-word names, goes
 * on with @w2, which may be NULL) and whose required positional arguments
 * can be met by @npos positional words; NULL when no name matches.
 * *ret_words: how many words the name took (1 or 2). */
const struct iouw_scn_cmd *iouw_scn_cmd_find(const char *w1, const char *w2, size_t npos,
                                             size_t *ret_words);

/* The command words, as the error for an unknown command lists them
 * ("modes, negative, ..., either, or, end, expect"), into @buf; returns
 * @buf. */
const char *iouw_scn_cmd_list(char *buf, size_t len);
/* The words after @first ("sqe, stage, ...") of two-word commands, into
 * @buf; returns @buf ("" when @first starts none). */
const char *iouw_scn_cmd_sublist(const char *first, char *buf, size_t len);

/* Print the README's command table (markdown), one row per command. */
void iouw_scn_commands_markdown(FILE *out);
/* Print every word of the language (commands, keys, choices) as a fuzz
 * dictionary, one "word" a line, sorted, unique. */
void iouw_scn_commands_dict(FILE *out);

#endif /* IOUW_COMMANDS_H */
