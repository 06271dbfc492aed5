/* harness/scenario.h: the scenario language (docs/scenarios.md §7): parse a
 * line-oriented script into a tree of steps. The language is documented with
 * examples in harness/README.md.
 *
 * Owns: struct iouw_scenario (every step, the names it defines, the modes it
 * applies to) and the parser that builds it.
 *
 * Invariants:
 *   - The parser has no global state and never aborts on bad input: any byte
 *     sequence either parses or yields exactly one error line
 *     "FILE:LINE:COL: error: expected ..." (1-based line and byte column).
 *   - A scenario that parsed is semantically closed: every name a step uses
 *     was defined by an earlier step of the right kind (fd or request), every
 *     key is known to its command and every value has the right shape, so the
 *     runner never meets a malformed step.
 *   - either/or/end blocks nest (at most IOUW_SCN_MAX_NESTING deep); each
 *     branch starts with at least one `cqe` line (its guard), and a nested
 *     block comes after its enclosing branch's guard.
 *   - `repeat N` ... `end` blocks (nesting with each other and with either
 *     blocks, IOUW_SCN_MAX_NESTING deep in all) are expanded by the parser:
 *     the runner only ever sees plain steps (each copy tagged with its
 *     iteration). A repeat body creates no fd or request and holds no
 *     modes/config/negative/expect abort line; the expansion is bounded
 *     (IOUW_SCN_MAX_STEPS, IOUW_SCN_MAX_EXPANDED_BYTES) or the `repeat`
 *     line is the error.
 *   - Steps keep their source text, so a failure can quote the line and the
 *     recorder can copy it.
 */
#ifndef IOUW_SCENARIO_H
#define IOUW_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modes a scenario applies to (bit set). */
#define IOUW_SCN_MODE_KERNEL 1u
#define IOUW_SCN_MODE_INJECT 2u

/* Resource limits: inputs beyond them are parse errors, never crashes. */
#define IOUW_SCN_MAX_ARGS 64
/* How deep either blocks may nest. */
#define IOUW_SCN_MAX_NESTING 8
#define IOUW_SCN_MAX_NAMES 256
#define IOUW_SCN_MAX_STEPS 100000
#define IOUW_SCN_MAX_STRING 65536
#define IOUW_SCN_MAX_NAME 32
/* `repeat N`: N at most this; the whole expansion stays within
 * IOUW_SCN_MAX_STEPS steps and IOUW_SCN_MAX_EXPANDED_BYTES bytes of step
 * text and arguments. */
#define IOUW_SCN_MAX_REPEAT 100000
#define IOUW_SCN_MAX_EXPANDED_BYTES (4u << 20)

enum iouw_scn_op {
	IOUW_SCN_MODES = 0,
	IOUW_SCN_NEGATIVE,
	IOUW_SCN_CONFIG,
	IOUW_SCN_SOCKETPAIR,
	IOUW_SCN_PIPE,
	IOUW_SCN_FILE,
	IOUW_SCN_SEND,
	IOUW_SCN_RECV,
	IOUW_SCN_READ_AT,
	IOUW_SCN_WRITE_AT,
	IOUW_SCN_SYNC,
	IOUW_SCN_SUBMIT_REQ, /* submit NAME...: hand requests to the loop */
	IOUW_SCN_PHASE_SUBMIT, /* bare submit / wait: the submit_and_wait phase */
	IOUW_SCN_TURN,
	IOUW_SCN_REAP,
	IOUW_SCN_ADVANCE,
	IOUW_SCN_FILL,
	IOUW_SCN_RUN,
	IOUW_SCN_CLOSE,
	IOUW_SCN_CLOCK,
	IOUW_SCN_PAUSE, /* real-time sleep (kernel races) */
	IOUW_SCN_CANCEL,
	IOUW_SCN_DROP,
	IOUW_SCN_CORRUPT, /* test-only request shape (shape panics) */
	IOUW_SCN_SET_GENERATION,
	IOUW_SCN_PEER_WRITE,
	IOUW_SCN_PEER_CLOSE,
	IOUW_SCN_PEER_FILL,
	IOUW_SCN_PEER_DRAIN,
	IOUW_SCN_CQE,
	IOUW_SCN_EITHER, /* .branches */
	IOUW_SCN_EXPECT_SQE,
	IOUW_SCN_EXPECT_STAGE,
	IOUW_SCN_EXPECT_COMPLETION,
	IOUW_SCN_EXPECT_DELIVER,
	IOUW_SCN_EXPECT_ADMIT,
	IOUW_SCN_EXPECT_RESULT,
	IOUW_SCN_EXPECT_TABLE,
	IOUW_SCN_EXPECT_SLOT,
	IOUW_SCN_EXPECT_READY,
	IOUW_SCN_EXPECT_CANCELS,
	IOUW_SCN_EXPECT_STUCK,
	IOUW_SCN_EXPECT_ABORT,
	IOUW_SCN_EXPECT_CONSISTENT,
	IOUW_SCN_EXPECT_PEER, /* bytes the peer end received */
	IOUW_SCN_EXPECT_FILE, /* file contents */
	IOUW_SCN_WAIT_FAIL, /* the next submit_and_wait calls fail with res */
	IOUW_SCN_EXPECT_FD, /* a request's dup: open, or closed exactly once */
	IOUW_SCN_EXPECT_OUTSTANDING, /* fds, requests, handles, buffers left */
	IOUW_SCN_EXPECT_WAIT, /* the loop's last wait: blocked, bound, clock moved */
	IOUW_SCN_EXPECT_CLOCK, /* virtual time elapsed since the run started */
};

/* One word of a line after the command words: positional (key NULL) or
 * key=value. val is NUL-terminated and may contain NUL bytes (val_len). */
struct iouw_scn_arg {
	char *key;
	char *val;
	size_t val_len;
	bool quoted;
	int col;
};

struct iouw_scn_block;

struct iouw_scn_step {
	enum iouw_scn_op op;
	int line;
	int col;
	char *text; /* the source line, without its newline */
	struct iouw_scn_arg *args;
	size_t nargs;
	/* IOUW_SCN_EITHER: the branches (>= 2). */
	struct iouw_scn_block *branches;
	size_t nbranches;
	/* Inside `repeat N ... end` (expanded by the parser): the 1-based
	 * iteration of the innermost repeat holding this step, its count and
	 * the line of its `repeat`; 0 outside any repeat. */
	uint32_t repeat_iter, repeat_count;
	int repeat_line;
	/* A copy made by a repeat's expansion (not in line order: it repeats
	 * earlier lines); the first iteration's steps are the originals. A
	 * copy shares text and args with its original (read-only; freed with
	 * the original), never its branches. */
	bool repeat_copy;
};

struct iouw_scn_block {
	struct iouw_scn_step *steps;
	size_t n;
	size_t cap;
};

enum iouw_scn_name_kind {
	IOUW_SCN_NAME_SOCKET = 0,
	IOUW_SCN_NAME_PIPE,
	IOUW_SCN_NAME_FILE,
	IOUW_SCN_NAME_REQUEST,
};

struct iouw_scn_name {
	char name[IOUW_SCN_MAX_NAME + 1];
	enum iouw_scn_name_kind kind;
	int req_kind; /* IOUW_SCN_SEND..IOUW_SCN_SYNC for requests */
};

struct iouw_scenario {
	char *name;     /* from the file name given to the parser */
	unsigned modes; /* IOUW_SCN_MODE_* bits; both when no modes line */
	int negative_line; /* > 0: a negative scenario expected to depart there */
	struct iouw_scn_block body;
	struct iouw_scn_name names[IOUW_SCN_MAX_NAMES];
	size_t nnames;
};

/* Parse @len bytes of @text (any bytes; NUL included) named @name (used in
 * error messages and as the scenario's name). On success returns 0 and sets
 * *ret (free with iouw_scenario_free). On a script error returns -EINVAL and
 * writes one line "NAME:LINE:COL: error: expected ..." (no newline,
 * truncated to @errlen) to @err. -ENOMEM when out of memory, -EINVAL with a
 * message for NULL arguments. *ret is written only on success. */
int iouw_scenario_parse(const char *name, const char *text, size_t len, struct iouw_scenario **ret,
                        char *err, size_t errlen);

/* Free @s and everything it owns. NULL is a no-op. */
void iouw_scenario_free(struct iouw_scenario *s);

/* --- helpers for the runner (arguments were validated by the parser) ---- */

/* The @i-th positional argument of @st, or NULL. */
const struct iouw_scn_arg *iouw_scn_pos(const struct iouw_scn_step *st, size_t i);
/* The first argument keyed @key, or NULL. */
const struct iouw_scn_arg *iouw_scn_key(const struct iouw_scn_step *st, const char *key);
/* Look a name up: its entry, or NULL. */
const struct iouw_scn_name *iouw_scn_lookup(const struct iouw_scenario *s, const char *name);

/* Value parsers shared by the parser and the runner. Each returns true and
 * writes *ret on success. */
bool iouw_scn_parse_int(const char *v, int64_t *ret);
/* An unsigned 64-bit number, decimal or 0x-hex, no sign (a raw user_data). */
bool iouw_scn_parse_u64(const char *v, uint64_t *ret);          /* 12, 0x1f, -3, -EAGAIN */
bool iouw_scn_parse_duration(const char *v, uint64_t *ret);    /* 5ms, 1s, 10us, 7ns, 0 */
bool iouw_scn_parse_bool(const char *v, bool *ret);            /* 0 1 true false yes no */
/* "-ENAME" for a known negative errno, else the decimal value, into @buf. */
const char *iouw_scn_format_res(int64_t res, char *buf, size_t len);

#endif /* IOUW_SCENARIO_H */
