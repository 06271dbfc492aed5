/* harness/commands.c: the command table's rows and argument specifications
 * (contract in commands.h), and the documentation generated from them.
 *
 * Invariants: the table is constant; rows appear in enum order (row i has
 * op i); every PARAMS array ends with an all-zero entry.
 */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "invariant.h"
#include "request_ops.h"
#include "scenario.h"
#include "waiter.h"

#define INT64_HI INT64_MAX
#define SIXTEEN_MIB (INT64_C(1) << 24)
#define END { NULL, IOUW_SCN_T_INT, 0, 0, 0, NULL, 0, NULL }
#define REQ_POS(what_) { NULL, IOUW_SCN_T_REQ, IOUW_SCN_F_REQUIRED, 0, 0, NULL, 0, what_ }
#define NEW_POS(kind_, what_) \
	{ NULL, IOUW_SCN_T_NEW, IOUW_SCN_F_REQUIRED, kind_, 0, NULL, 0, what_ }
#define KEY(k_, t_, fl_) { k_, t_, fl_, 0, 0, NULL, 0, NULL }
#define KINT(k_, fl_, lo_, hi_) { k_, IOUW_SCN_T_INT, fl_, lo_, hi_, NULL, 0, NULL }
#define KSIZE(k_, fl_) KINT(k_, fl_, 0, INT64_HI)
#define KBOOL(k_) KEY(k_, IOUW_SCN_T_BOOL, 0)
#define KSTR(k_, fl_) KEY(k_, IOUW_SCN_T_STR, fl_)
#define GEN_MAX ((INT64_C(1) << 31) - 1)

static const char *const modes_choices[] = { "kernel", "inject", NULL };
static const char *const which_choices[] = { "op", "cancel", NULL };
static const char *const stale_word[] = { "stale", NULL };
static const char *const block_word[] = { "block", NULL };
static const char *const expired_word[] = { "expired", NULL };
static const char *const opcodes[] = { "SEND", "RECV", "READ", "WRITE", "WRITEV", "FSYNC",
	                               "ASYNC_CANCEL", "NOP", NULL };
/* A choice's index is the core's value (the runner compares them). */
static const char *const stage_choices[] = { "timeout", "orphaned", "submit", NULL };
_Static_assert(IOUW_STAGE_TIMEOUT == 0 && IOUW_STAGE_ORPHANED == 1 && IOUW_STAGE_SUBMIT == 2,
               "stage choices follow enum iouw_stage");
static const char *const completion_choices[] = { "cancel", "requeue", "complete", NULL };
_Static_assert(IOUW_COMPLETION_CANCEL == 0 && IOUW_COMPLETION_REQUEUE == 1 &&
                       IOUW_COMPLETION_COMPLETE == 2,
               "completion choices follow enum iouw_completion");
static const char *const deliver_choices[] = { "complete", "timeout", NULL };
_Static_assert(IOUW_FINISH_COMPLETE == 0 && IOUW_FINISH_TIMEOUT == 1,
               "deliver choices follow enum iouw_finish");
/* core/handle.h's status order, then pending. */
_Static_assert(IOUW_RESULT_OK == 0 && IOUW_RESULT_TIMEOUT == 1 && IOUW_RESULT_SEND_FAILED == 2 &&
                       IOUW_RESULT_RECV_FAILED == 3 && IOUW_RESULT_READ_FAILED == 4 &&
                       IOUW_RESULT_WRITE_FAILED == 5 &&
                       IOUW_RESULT_INSUFFICIENT_LENGTH == 6 && IOUW_RESULT_SYNC_ERROR == 7 &&
                       IOUW_RESULT_ABANDONED == 8,
               "status choices follow enum iouw_status");
static const char *const status_choices[] = { "ok", "timeout", "send_failed", "recv_failed",
	                                      "read_failed", "write_failed",
	                                      "insufficient_length", "sync_error", "abandoned",
	                                      "pending", NULL };
static const char *const state_choices[] = { "active", "cancel_requested", NULL };

static const struct iouw_scn_param p_none[] = { END };
static const char *const kernel_choices[] = { "legal", "hostile", NULL };
/* Index N-1: rule HN of fuzz/kernel_model.h (harness/kmodel_judge.h). */
static const char *const hostile_rules[] = { "H1", "H2", "H3", "H4", "H5", "H6", "H7",
	                                     "H8", "H9", "H10", NULL };
static const struct iouw_scn_param p_kernel[] = {
	{ NULL, IOUW_SCN_T_ENUM, IOUW_SCN_F_REQUIRED, 0, 0, kernel_choices, 0, "legal or hostile" },
	{ NULL, IOUW_SCN_T_ENUM, IOUW_SCN_F_REPEAT, 0, 0, hostile_rules, 0,
	  "a hostile rule H1-H10 (fuzz/kernel_model.h)" },
	END
};
static const struct iouw_scn_param p_modes[] = {
	{ NULL, IOUW_SCN_T_ENUM, IOUW_SCN_F_REQUIRED | IOUW_SCN_F_REPEAT, 0, 0, modes_choices, 0,
	  "a mode (kernel, inject)" },
	END
};
static const struct iouw_scn_param p_negative[] = {
	{ "line", IOUW_SCN_T_INT, IOUW_SCN_F_REQUIRED, 1, INT32_MAX, NULL, 0, "a line number >= 1" },
	END
};
static const struct iouw_scn_param p_config[] = {
	{ "ring", IOUW_SCN_T_INT, 0, 1, 4096, NULL, 8, "a size in [1, 4096]" },
	{ "sq", IOUW_SCN_T_INT, 0, 1, 4096, NULL, 0, "a size in [1, 4096]" },
	{ "cq", IOUW_SCN_T_INT, 0, 1, 16384, NULL, 0, "a CQ size in [1, 16384]" },
	{ "tick", IOUW_SCN_T_DUR, 0, 1, INT64_HI, NULL, 1000000, "a non-zero duration like 1ms" },
	{ "max_timeout", IOUW_SCN_T_DUR, 0, 1, INT64_HI, NULL, INT64_C(10000000000),
	  "a non-zero duration like 10s" },
	{ "shutdown", IOUW_SCN_T_SHUTDOWN, 0, 0, INT64_HI, NULL, 0, NULL },
	KBOOL("single_issuer"),
	{ "prearm", IOUW_SCN_T_BOOL, 0, 0, 0, NULL, 1, NULL },
	END
};
static const struct iouw_scn_param p_socketpair[] = {
	NEW_POS(IOUW_SCN_NAME_SOCKET, "a name for the new fd"), END
};
static const struct iouw_scn_param p_pipe[] = {
	NEW_POS(IOUW_SCN_NAME_PIPE, "a name for the new fd"), END
};
static const struct iouw_scn_param p_file[] = {
	NEW_POS(IOUW_SCN_NAME_FILE, "a name for the new fd"), KSTR("content", 0), END
};
#define NEW_REQ NEW_POS(IOUW_SCN_NAME_REQUEST, "a name for the new request")
#define DATA_KEY KSTR("data", IOUW_SCN_F_REQUIRED | IOUW_SCN_F_REPEAT | IOUW_SCN_F_NONEMPTY)
static const struct iouw_scn_param p_send[] = {
	NEW_REQ, KEY("fd", IOUW_SCN_T_STREAM, IOUW_SCN_F_REQUIRED), DATA_KEY,
	KEY("deadline", IOUW_SCN_T_DEADLINE, 0), KBOOL("async"), END
};
static const struct iouw_scn_param p_recv[] = {
	NEW_REQ, KEY("fd", IOUW_SCN_T_STREAM, IOUW_SCN_F_REQUIRED),
	KINT("len", IOUW_SCN_F_REQUIRED, 0, SIXTEEN_MIB), KSIZE("offset", 0),
	{ "capacity", IOUW_SCN_T_INT, 0, 0, SIXTEEN_MIB, NULL, -1, NULL }, KBOOL("exact"),
	KSTR("prefix", 0), KEY("deadline", IOUW_SCN_T_DEADLINE, 0), KBOOL("async"), END
};
static const struct iouw_scn_param p_read_at[] = {
	NEW_REQ, KEY("fd", IOUW_SCN_T_FD, IOUW_SCN_F_REQUIRED),
	KINT("len", IOUW_SCN_F_REQUIRED, 0, SIXTEEN_MIB), KSIZE("off", 0),
	{ "capacity", IOUW_SCN_T_INT, 0, 0, SIXTEEN_MIB, NULL, -1, NULL }, KBOOL("async"), END
};
static const struct iouw_scn_param p_write_at[] = {
	NEW_REQ, KEY("fd", IOUW_SCN_T_FD, IOUW_SCN_F_REQUIRED), DATA_KEY, KSIZE("off", 0),
	KBOOL("async"), END
};
static const struct iouw_scn_param p_sync[] = {
	NEW_REQ, KEY("fd", IOUW_SCN_T_FD, IOUW_SCN_F_REQUIRED), KBOOL("async"), END
};
static const struct iouw_scn_param p_submit_req[] = {
	{ NULL, IOUW_SCN_T_REQ, IOUW_SCN_F_REQUIRED | IOUW_SCN_F_REPEAT, 0, 0, NULL, 0,
	  "a request name" },
	END
};
static const struct iouw_scn_param p_turn[] = {
	{ NULL, IOUW_SCN_T_INT, 0, 1, 100000, NULL, 1, "a turn count, 'block' or error=-ERRNO" },
	{ NULL, IOUW_SCN_T_WORD, 0, 0, 0, block_word, 0, "a turn count, 'block' or error=-ERRNO" },
	KINT("error", 0, INT32_MIN, -1),
	END
};
static const struct iouw_scn_param p_clock[] = {
	{ NULL, IOUW_SCN_T_RELDUR, IOUW_SCN_F_REQUIRED, 0, 0, NULL, 0, "a relative time like +5ms" },
	END
};
static const struct iouw_scn_param p_pause[] = {
	{ NULL, IOUW_SCN_T_DUR, IOUW_SCN_F_REQUIRED, 0, INT64_C(5000000000), NULL, 0,
	  "a duration like 10ms, at most 5s" },
	END
};
static const struct iouw_scn_param p_req[] = { REQ_POS("a request name"), END };
static const struct iouw_scn_param p_cancel[] = {
	REQ_POS("a request name"), KBOOL("took"), KBOOL("sqe"),
	KINT("cancel_flags", 0, 0, UINT32_MAX), END
};
static const struct iouw_scn_param p_corrupt[] = {
	REQ_POS("a request name"), KSIZE("progress", IOUW_SCN_F_REQUIRED),
	KSIZE("len", IOUW_SCN_F_REQUIRED), KSIZE("capacity", 0), END
};
static const struct iouw_scn_param p_set_generation[] = {
	{ "slot", IOUW_SCN_T_INT, IOUW_SCN_F_REQUIRED, 0, UINT32_MAX, NULL, 0, NULL },
	{ "gen", IOUW_SCN_T_INT, IOUW_SCN_F_REQUIRED, 0, GEN_MAX, NULL, 0,
	  "a generation in [0, 2147483647] (31 bits)" },
	END
};
#define STREAM_POS { NULL, IOUW_SCN_T_STREAM, IOUW_SCN_F_REQUIRED, 0, 0, NULL, 0, "an fd name" }
static const struct iouw_scn_param p_stream[] = { STREAM_POS, END };
static const struct iouw_scn_param p_peer_write[] = {
	STREAM_POS,
	{ NULL, IOUW_SCN_T_STR, IOUW_SCN_F_REQUIRED | IOUW_SCN_F_NONEMPTY, 0, 0, NULL, 0,
	  "a quoted string to write" },
	END
};
static const struct iouw_scn_param p_cqe[] = {
	{ NULL, IOUW_SCN_T_WORD, 0, 0, 0, stale_word, 0, "a request name or ud=" },
	{ NULL, IOUW_SCN_T_REQ, 0, 0, 0, NULL, 0, "a request name or ud=" },
	{ NULL, IOUW_SCN_T_ENUM, 0, 0, 0, which_choices, 0, "op or cancel" },
	KEY("ud", IOUW_SCN_T_U64, 0), KEY("res", IOUW_SCN_T_RES, IOUW_SCN_F_REQUIRED),
	KBOOL("at_wait"), END
};
static const struct iouw_scn_param p_expect_sqe[] = {
	{ NULL, IOUW_SCN_T_REQ, IOUW_SCN_F_REQUIRED | IOUW_SCN_F_NONE, 0, 0, NULL, 0,
	  "a request name or none" },
	{ NULL, IOUW_SCN_T_ENUM, 0, 0, 0, which_choices, 0, "op, op=OPCODE or cancel" },
	{ "op", IOUW_SCN_T_ENUM, 0, 0, 0, opcodes, 0,
	  "an opcode (SEND RECV READ WRITE WRITEV FSYNC ASYNC_CANCEL NOP)" },
	KSIZE("len", 0), KINT("off", 0, INT64_MIN, INT64_MAX), KSTR("data", 0), KSIZE("iovs", 0),
	KEY("fd", IOUW_SCN_T_FD, 0), KBOOL("async"), END
};
#define OUTCOME(choices_, what_) \
	REQ_POS("a request name"), \
	{ NULL, IOUW_SCN_T_ENUM, IOUW_SCN_F_REQUIRED, 0, 0, choices_, 0, what_ }
static const struct iouw_scn_param p_expect_stage[] = {
	OUTCOME(stage_choices, "submit, timeout or orphaned"), END
};
static const struct iouw_scn_param p_expect_completion[] = {
	OUTCOME(completion_choices, "cancel, requeue or complete"), KBOOL("stale"), END
};
static const struct iouw_scn_param p_expect_deliver[] = {
	OUTCOME(deliver_choices, "complete or timeout"), END
};
static const struct iouw_scn_param p_expect_admit[] = {
	REQ_POS("a request name"),
	{ NULL, IOUW_SCN_T_WORD, 0, 0, 0, expired_word, 0, "expired or slot=/gen=" },
	KSIZE("slot", 0), KINT("gen", 0, 0, GEN_MAX),
	{ "tick", IOUW_SCN_T_INT, IOUW_SCN_F_NONE, 0, INT64_HI, NULL, 0,
	  "a wheel tick >= 0, or none (no deadline)" },
	END
};
static const struct iouw_scn_param p_expect_result[] = {
	OUTCOME(status_choices, "a status (pending, ok, timeout, send_failed, recv_failed, "
	                        "read_failed, write_failed, insufficient_length, sync_error, "
	                        "abandoned)"),
	{ NULL, IOUW_SCN_T_INT, 0, 0, INT64_HI, NULL, 0, "a value (after ok)" },
	KEY("err", IOUW_SCN_T_ERR, 0), KSTR("data", 0), KSIZE("len", 0), END
};
static const struct iouw_scn_param p_expect_table[] = {
	KSIZE("len", 0), KSIZE("inflight", 0), KSIZE("ready", 0), KSIZE("cancels", 0),
	KSIZE("stuck", 0), KSIZE("inbound", 0), KBOOL("drained"), KSIZE("warnings", 0),
	KSIZE("deadlines", 0), KSIZE("delivered", 0), KSIZE("timeouts", 0),
	KSIZE("abandoned", 0), KSIZE("capacity", 0), KSIZE("cq_ready", 0), KBOOL("cq_overflow"),
	END
};
static const struct iouw_scn_param p_expect_slot[] = {
	{ NULL, IOUW_SCN_T_INT, IOUW_SCN_F_REQUIRED, 0, 1 << 20, NULL, 0, "a slot index" },
	KINT("gen", 0, 0, GEN_MAX), KBOOL("occupied"), KBOOL("inflight"),
	{ "state", IOUW_SCN_T_ENUM, 0, 0, 0, state_choices, 0, "active or cancel_requested" },
	KEY("req", IOUW_SCN_T_REQ, 0), END
};
static const struct iouw_scn_param p_idlist[] = {
	{ NULL, IOUW_SCN_T_REQ, IOUW_SCN_F_REQUIRED | IOUW_SCN_F_REPEAT | IOUW_SCN_F_NONE, 0, 0,
	  NULL, 0, "request names or none" },
	END
};
static const struct iouw_scn_param p_expect_abort[] = {
	{ NULL, IOUW_SCN_T_STR, IOUW_SCN_F_REQUIRED | IOUW_SCN_F_NONEMPTY, 0, 0, NULL, 0,
	  "the quoted name of an invariant" },
	END
};
static const struct iouw_scn_param p_expect_peer[] = {
	{ NULL, IOUW_SCN_T_SOCKET, IOUW_SCN_F_REQUIRED, 0, 0, NULL, 0, "an fd name" },
	KSTR("data", IOUW_SCN_F_REQUIRED), END
};
static const struct iouw_scn_param p_expect_file[] = {
	{ NULL, IOUW_SCN_T_FILE, IOUW_SCN_F_REQUIRED, 0, 0, NULL, 0, "an fd name" },
	KSTR("data", IOUW_SCN_F_REQUIRED), KSIZE("off", 0), END
};
static const struct iouw_scn_param p_wait_fail[] = {
	{ "res", IOUW_SCN_T_INT, IOUW_SCN_F_REQUIRED, INT32_MIN, -1, NULL, 0,
	  "a negative errno like -EINTR" },
	{ "times", IOUW_SCN_T_INT, 0, 1, 1000, NULL, 1, "a count in [1, 1000]" },
	END
};

static const char *const fd_choices[] = { "open", "closed", NULL };
static const char *const none_word[] = { "none", NULL };
static const struct iouw_scn_param p_expect_fd[] = {
	REQ_POS("a request name"),
	{ NULL, IOUW_SCN_T_ENUM, IOUW_SCN_F_REQUIRED, 0, 0, fd_choices, 0, "open or closed" },
	END
};
static const struct iouw_scn_param p_expect_outstanding[] = {
	{ NULL, IOUW_SCN_T_WORD, 0, 0, 0, none_word, 0,
	  "none or at least one of fds=, requests=, handles=, buffers=" },
	KSIZE("fds", 0), KSIZE("requests", 0), KSIZE("handles", 0), KSIZE("buffers", 0), END
};
static const struct iouw_scn_param p_expect_wait[] = {
	KBOOL("blocked"), { "bound", IOUW_SCN_T_SHUTDOWN, 0, 0, INT64_HI, NULL, 0, NULL },
	{ "moved", IOUW_SCN_T_DUR, 0, 0, INT64_HI, NULL, 0, NULL }, END
};
static const struct iouw_scn_param p_expect_clock[] = {
	{ "elapsed", IOUW_SCN_T_DUR, IOUW_SCN_F_REQUIRED, 0, INT64_HI, NULL, 0, NULL }, END
};
static const struct iouw_scn_param p_repeat[] = {
	{ NULL, IOUW_SCN_T_INT, IOUW_SCN_F_REQUIRED, 1, IOUW_SCN_MAX_REPEAT, NULL, 0,
	  "a repeat count in [1, 100000]" },
	END
};

#define NPARAMS(p) (sizeof(p) / sizeof((p)[0]) - 1)
#define ROW(op, name, params, chk, ex, rec, usage, doc) \
	{ IOUW_SCN_##op, name, params, NPARAMS(params), rec, usage, doc },
static const struct iouw_scn_cmd table[] = { IOUW_SCN_COMMANDS(ROW) };
#undef ROW

const struct iouw_scn_cmd *iouw_scn_cmd(enum iouw_scn_op op)
{
	IOUW_INVARIANT((unsigned)op < IOUW_SCN_NOPS && table[op].op == op,
	               "scenario op outside the command table");
	return &table[op];
}

static bool name_matches(const struct iouw_scn_cmd *c, const char *w1, const char *w2,
                         size_t *ret_words)
{
	const char *sp = strchr(c->name, ' ');
	size_t n1 = sp ? (size_t)(sp - c->name) : strlen(c->name);

	if (strlen(w1) != n1 || strncmp(c->name, w1, n1)) {
		if (!(c->op == IOUW_SCN_PHASE_SUBMIT && !strcmp(w1, "wait")))
			return false;
	}
	if (sp && (!w2 || strcmp(sp + 1, w2)))
		return false;
	*ret_words = sp ? 2 : 1;
	return true;
}

/* How many positional words the row needs at least. */
static size_t min_positional(const struct iouw_scn_cmd *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nparams; i++)
		if (!c->params[i].key && (c->params[i].flags & IOUW_SCN_F_REQUIRED))
			n++;
	return n;
}

const struct iouw_scn_cmd *iouw_scn_cmd_find(const char *w1, const char *w2, size_t npos,
                                             size_t *ret_words)
{
	const struct iouw_scn_cmd *first = NULL;

	for (size_t i = 0; i < IOUW_SCN_NOPS; i++) {
		size_t words;

		if (!name_matches(&table[i], w1, w2, &words))
			continue;
		if (!first) {
			first = &table[i];
			*ret_words = words;
		}
		if (min_positional(&table[i]) <= (npos > words - 1 ? npos - (words - 1) : 0)) {
			*ret_words = words;
			return &table[i];
		}
	}
	return first;
}

/* Append the @n bytes of @w to @buf (", "-separated) unless they are
 * there already. */
static void add_word(char *buf, size_t cap, const char *w, size_t n)
{
	size_t len = strlen(buf);

	for (const char *p = buf; *p;) {
		size_t m = strcspn(p, ",");

		if (m == n && !strncmp(p, w, n))
			return;
		p += m;
		p += *p ? 2 : 0;
	}
	if (len + n + 3 >= cap)
		return;
	if (len) {
		memcpy(buf + len, ", ", 2);
		len += 2;
	}
	memcpy(buf + len, w, n);
	buf[len + n] = '\0';
}

const char *iouw_scn_cmd_list(char *buf, size_t len)
{
	buf[0] = '\0';

	for (size_t i = 0; i < IOUW_SCN_NOPS; i++) {
		const char *sp = strchr(table[i].name, ' ');

		add_word(buf, len, table[i].name,
		         sp ? (size_t)(sp - table[i].name) : strlen(table[i].name));
		if (table[i].op == IOUW_SCN_PHASE_SUBMIT)
			add_word(buf, len, "wait", 4);
		if (table[i].op == IOUW_SCN_EITHER) {
			add_word(buf, len, "or", 2);
			add_word(buf, len, "end", 3);
		}
	}
	return buf;
}

const char *iouw_scn_cmd_sublist(const char *first, char *buf, size_t len)
{
	size_t n = strlen(first);

	buf[0] = '\0';
	for (size_t i = 0; i < IOUW_SCN_NOPS; i++)
		if (!strncmp(table[i].name, first, n) && table[i].name[n] == ' ')
			add_word(buf, len, table[i].name + n + 1, strlen(table[i].name + n + 1));
	return buf;
}

void iouw_scn_commands_markdown(FILE *out)
{
	fprintf(out, "| command | meaning |\n|---|---|\n");
	for (size_t i = 0; i < IOUW_SCN_NOPS; i++)
		fprintf(out, "| `%s` | %s |\n", table[i].usage, table[i].doc);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define DICT_MAX 1024

static size_t dict_add(const char **words, size_t n, const char *w)
{
	IOUW_INVARIANT(n < DICT_MAX, "command table words fit the dictionary buffer");
	words[n] = w;
	return n + 1;
}

void iouw_scn_commands_dict(FILE *out)
{
	const char *words[DICT_MAX];
	char firsts[IOUW_SCN_NOPS][32];
	size_t n = 0;

	n = dict_add(words, n, "wait");
	n = dict_add(words, n, "or");
	n = dict_add(words, n, "end");
	n = dict_add(words, n, "none");
	for (size_t i = 0; i < IOUW_SCN_NOPS; i++) {
		const char *sp = strchr(table[i].name, ' ');
		size_t len = sp ? (size_t)(sp - table[i].name) : strlen(table[i].name);

		memcpy(firsts[i], table[i].name, len);
		firsts[i][len] = '\0';
		n = dict_add(words, n, firsts[i]);
		if (sp)
			n = dict_add(words, n, sp + 1);
		for (size_t k = 0; k < table[i].nparams; k++) {
			const struct iouw_scn_param *p = &table[i].params[k];

			if (p->key)
				n = dict_add(words, n, p->key);
			for (size_t c = 0; p->choices && p->choices[c]; c++)
				n = dict_add(words, n, p->choices[c]);
		}
	}
	qsort(words, n, sizeof(words[0]), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(words[i], words[i - 1]))
			fprintf(out, "\"%s\"\n", words[i]);
}
