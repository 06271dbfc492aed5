/* harness/scenario.h: the scenario language (docs/scenarios.md §7): parse a
 * line-oriented script into a tree of steps. The language is documented with
 * examples in harness/README.md.
 *
 * Owns: struct iouw_scenario (every step, the names it defines, the modes it
 * applies to), the parser that builds it (the lexer, the generic matching of
 * words against a command's typed params, and each command's CHECK rule)
 * and the typed-value accessors the runner reads steps with.
 *
 * Invariants:
 *   - The parser has no global state and never aborts on bad input: any byte
 *     sequence either parses or yields exactly one error line
 *     "FILE:LINE:COL: error: expected ..." (1-based line and byte column).
 *   - A scenario that parsed is semantically closed: every name a step uses
 *     was defined by an earlier step of the right kind (fd or request), every
 *     word was matched against its command's row of the command table
 *     (harness/commands.h: known key, value of the right type within its
 *     range) and carries its typed value, so the runner never meets a
 *     malformed step and never parses text. The slots set_generation and
 *     expect slot name are below the waiter table's size (config ring=,
 *     rounded up to a power of two).
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

#include "commands.h"

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


/* How many alternatives a result (res=0|-EALREADY) may name. */
#define IOUW_SCN_MAX_ALTS 8

/* One word of a line after the command words: positional (key NULL) or
 * key=value. val is NUL-terminated and may contain NUL bytes (val_len).
 * The parser matched it against its command's row (harness/commands.h)
 * and stored its typed value: which fields hold it is the param's type. */
struct iouw_scn_arg {
	char *key;
	char *val;
	size_t val_len;
	bool quoted;
	int col;
	const struct iouw_scn_param *param;
	int64_t i;  /* INT, RELDUR, DEADLINE (signed ns), ERR (errno), RES (first) */
	uint64_t u; /* U64, DUR, SHUTDOWN (ns), ENUM (choice index) */
	bool b;     /* BOOL; WORD (present) */
	bool none;  /* DEADLINE, SHUTDOWN, REQ: the word none */
	const struct iouw_scn_name *name; /* REQ, FD kinds, NEW */
	int32_t alts[IOUW_SCN_MAX_ALTS];  /* RES */
	size_t nalts;
};

struct iouw_scn_block;

struct iouw_scn_step {
	enum iouw_scn_op op;
	const struct iouw_scn_cmd *cmd; /* its row of the command table */
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
	uint32_t kernel_hostile; /* `kernel hostile H...`: bit N for rule HN; 0: legal
	                          * (harness/kmodel_judge.h) */
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

/* The typed value of key @key of @st, or its row's default when the key is
 * absent. IOUW_INVARIANT "scenario key not in the command table" when @key
 * is not one of the row's keys. */
int64_t iouw_scn_int(const struct iouw_scn_step *st, const char *key);
bool iouw_scn_flag(const struct iouw_scn_step *st, const char *key);

/* The @i-th positional argument of @st, or NULL. */
const struct iouw_scn_arg *iouw_scn_pos(const struct iouw_scn_step *st, size_t i);
/* The (first) argument matched to param @k of @st's row, or NULL. */
const struct iouw_scn_arg *iouw_scn_at(const struct iouw_scn_step *st, size_t k);
/* The first argument keyed @key, or NULL. */
const struct iouw_scn_arg *iouw_scn_key(const struct iouw_scn_step *st, const char *key);
/* Look a name up: its entry, or NULL. */
const struct iouw_scn_name *iouw_scn_lookup(const struct iouw_scenario *s, const char *name);

/* Value parsers (the parser's; exported for tests and tools). Each returns
 * true and writes *ret on success. */
bool iouw_scn_parse_int(const char *v, int64_t *ret);
/* An unsigned 64-bit number, decimal or 0x-hex, no sign (a raw user_data). */
bool iouw_scn_parse_u64(const char *v, uint64_t *ret);          /* 12, 0x1f, -3, -EAGAIN */
bool iouw_scn_parse_duration(const char *v, uint64_t *ret);    /* 5ms, 1s, 10us, 7ns, 0 */
bool iouw_scn_parse_bool(const char *v, bool *ret);            /* 0 1 true false yes no */
/* "-ENAME" for a known negative errno, else the decimal value, into @buf. */
const char *iouw_scn_format_res(int64_t res, char *buf, size_t len);

#endif /* IOUW_SCENARIO_H */
