/* tests/test_harness.c: the scenario harness suite (harness/): the parser's
 * exact errors and robustness on arbitrary bytes, a run leaving no fd behind
 * in either mode, inject-mode determinism, and record -> replay.
 * The run tests need io_uring: where no ring can be set up only the parser
 * tests run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "runner.h"
#include "uring_backend.h"
#include "scenario.h"
#include "support.h"

static const char good[] =
	"# comment\n"
	"modes kernel inject\n"
	"config ring=8 tick=1ms\n"
	"socketpair s\n"
	"file f content=\"hi\\x21\"\n"
	"recv r1 fd=s len=8 deadline=+5ms\n"
	"submit r1\n"
	"turn\n"
	"expect sqe r1 op=RECV len=8\n"
	"clock +6ms\n"
	"turn\n"
	"expect sqe r1 cancel\n"
	"cqe r1 cancel res=0\n"
	"cqe r1 op res=-ECANCELED\n"
	"reap\n"
	"expect result r1 timeout\n"
	"expect table len=0 stuck=0\n";

static int parse(const char *text, struct iouw_scenario **s, char *err, size_t errlen)
{
	return iouw_scenario_parse("t.scn", text, strlen(text), s, err, errlen);
}

START_TEST(test_parse_good)
{
	struct iouw_scenario *s = NULL;
	char err[256];

	ck_assert_int_eq(parse(good, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s->modes, IOUW_SCN_MODE_KERNEL | IOUW_SCN_MODE_INJECT);
	ck_assert_uint_eq(s->body.n, 16);
	ck_assert_int_eq(s->body.steps[4].op, IOUW_SCN_RECV);
	ck_assert_int_eq(s->body.steps[4].line, 6);
	ck_assert_str_eq(iouw_scn_key(&s->body.steps[3], "content")->val, "hi!");
	iouw_scenario_free(s);
}
END_TEST

static void expect_error(const char *text, const char *want)
{
	struct iouw_scenario *s = NULL;
	char err[512];

	ck_assert_int_eq(parse(text, &s, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, want);
}

START_TEST(test_parse_errors)
{
	expect_error("socketpair s\nrecv r1 fd=s len=x\n",
	             "t.scn:2:14: error: expected an integer in [0, 16777216]");
	expect_error("bogus\n", "t.scn:1:1: error: expected a command (modes, negative, kernel, config, "
	                        "socketpair, pipe, file, send, recv, read_at, write_at, sync, "
	                        "submit, wait, turn, reap, advance, fill, run, close, clock, pause, "
	                        "cancel, drop, corrupt, set_generation, peer, cqe, either, or, end, "
	                        "repeat, expect, wait_fail)");
	expect_error("file f\nsync r1 fd=f\nsubmit r2\n",
	             "t.scn:3:8: error: expected the name of a request defined above");
	expect_error("send r1 fd=s data=\"x\"\n",
	             "t.scn:1:9: error: expected the name of a socketpair, pipe or file defined "
	             "above");
	expect_error("file f\nfile f\n", "t.scn:2:6: error: expected a new name ('f' is already "
	                                 "defined)");
	expect_error("either\n", "t.scn:1:1: error: expected 'end' to close this either block");
	expect_error("file f\x01\n", "t.scn:1:7: error: expected a printable ASCII character");
	expect_error("clock 5ms\n", "t.scn:1:7: error: expected a relative time like +5ms");
	expect_error("expect abort\n", "t.scn:1:13: error: expected the quoted name of an "
	                               "invariant");
	/* Nesting: a nested block comes after its branch's guard, at most 8
	 * deep, and an unclosed outer block is reported at its own line. */
	expect_error("either\neither\n", "t.scn:2:1: error: expected a cqe line first in each branch");
	expect_error("either\ncqe ud=1 res=0\neither\ncqe ud=2 res=0\nor\ncqe ud=3 res=0\nend\n",
	             "t.scn:1:1: error: expected 'end' to close this either block");
	{
		char deep[512] = "";

		for (int i = 0; i < 9; i++)
			strcat(deep, "either\ncqe ud=1 res=0\n");
		expect_error(deep, "t.scn:17:1: error: expected at most 8 nested either blocks");
	}
}
END_TEST

/* Values out of their range, unknown and missing keys: errors at check
 * time naming the line, the column and what was expected (issue 10's
 * "clearer errors"). */
START_TEST(test_parse_range_errors)
{
	/* A generation is 31 bits: 2^31 used to be masked to 0 silently. */
	expect_error("set_generation slot=0 gen=2147483648\n",
	             "t.scn:1:23: error: expected a generation in [0, 2147483647] (31 bits)");
	/* The slot against the table size: 8 without config, the ring size
	 * rounded up to a power of two with one, wherever the config is. */
	expect_error("set_generation slot=8 gen=1\n",
	             "t.scn:1:16: error: expected a slot in [0, 7] (the waiter table has 8 slots: "
	             "the ring size rounded up to a power of two)");
	expect_error("config ring=5\nset_generation slot=8 gen=1\n",
	             "t.scn:2:16: error: expected a slot in [0, 7] (the waiter table has 8 slots: "
	             "the ring size rounded up to a power of two)");
	expect_error("set_generation slot=4294967295 gen=1\n",
	             "t.scn:1:16: error: expected a slot in [0, 7] (the waiter table has 8 slots: "
	             "the ring size rounded up to a power of two)");
	expect_error("expect slot 8 occupied=0\n",
	             "t.scn:1:13: error: expected a slot in [0, 7] (the waiter table has 8 slots: "
	             "the ring size rounded up to a power of two)");
	expect_error("set_generation slot=7 gen=1\nconfig ring=4\n",
	             "t.scn:1:16: error: expected a slot in [0, 3] (the waiter table has 4 slots: "
	             "the ring size rounded up to a power of two)");
	expect_error("socketpair s\nrecv r1 fd=s len=4 lenght=4\n",
	             "t.scn:2:20: error: expected one of the keys: fd, len, offset, capacity, exact, "
	             "prefix, deadline, async");
	expect_error("socketpair s\nrecv r1 fd=s\n", "t.scn:2:1: error: expected key len= on this line");
	expect_error("socketpair s\nrecv r1 fd=s len=16777217\n",
	             "t.scn:2:14: error: expected an integer in [0, 16777216]");
	expect_error("clock -5ms\n",
	             "t.scn:1:7: error: expected a relative time like +5ms (the clock only moves "
	             "forward)");
	expect_error("cqe ud=1 res=0 at_wait=1\n",
	             "t.scn:1:16: error: expected at_wait= only with a request name (not with ud=)");
	expect_error("cqe ud=1 res=0|1|2|3|4|5|6|7|8\n",
	             "t.scn:1:10: error: expected at most 8 alternatives");
	expect_error("cancel x cancel_flags=0x100000000\n",
	             "t.scn:1:8: error: expected the name of a request defined above");
	expect_error("file f\nsync r fd=f\ncancel r cancel_flags=0x100000000\n",
	             "t.scn:3:10: error: expected an integer in [0, 4294967295]");
	expect_error("turn 2 x\n",
	             "t.scn:1:8: error: expected a turn count, 'block' or error=-ERRNO");
	expect_error("expect bogus\n",
	             "t.scn:1:8: error: expected what to expect (sqe, stage, completion, deliver, "
	             "admit, result, table, slot, ready, cancels, stuck, abort, consistent, peer, "
	             "file, fd, outstanding, wait, clock)");
}
END_TEST

/* Arguments are parsed once into typed values; absent keys read as the
 * command table's defaults. */
START_TEST(test_parse_typed_values)
{
	static const char text[] = "socketpair s\n"
	                           "recv r1 fd=s len=8 deadline=-2ms exact=yes\n"
	                           "cqe ud=0x8000000000000063 res=0|-EALREADY\n"
	                           "turn 3 block\n";
	struct iouw_scenario *s = NULL;
	const struct iouw_scn_step *st;
	char err[256];

	ck_assert_msg(parse(text, &s, err, sizeof(err)) == 0, "%s", err);
	st = &s->body.steps[1];
	ck_assert_ptr_eq(st->cmd, iouw_scn_cmd(IOUW_SCN_RECV));
	ck_assert_int_eq(iouw_scn_int(st, "len"), 8);
	ck_assert_int_eq(iouw_scn_int(st, "capacity"), -1); /* default: len */
	ck_assert_int_eq(iouw_scn_int(st, "offset"), 0);
	ck_assert(iouw_scn_flag(st, "exact"));
	ck_assert(!iouw_scn_flag(st, "async"));
	ck_assert_int_eq(iouw_scn_key(st, "deadline")->i, -2000000);
	ck_assert_str_eq(iouw_scn_key(st, "fd")->name->name, "s");
	st = &s->body.steps[2];
	ck_assert_uint_eq(iouw_scn_key(st, "ud")->u, UINT64_C(0x8000000000000063));
	ck_assert_uint_eq(iouw_scn_key(st, "res")->nalts, 2);
	ck_assert_int_eq(iouw_scn_key(st, "res")->alts[1], -EALREADY);
	st = &s->body.steps[3];
	ck_assert_int_eq(iouw_scn_at(st, 0)->i, 3);
	ck_assert_ptr_nonnull(iouw_scn_at(st, 1)); /* block */
	iouw_scenario_free(s);
}
END_TEST

static void read_unknown_key(void *arg)
{
	(void)iouw_scn_int(arg, "lenght");
}

static void read_flag_of_int(void *arg)
{
	(void)iouw_scn_flag(arg, "len");
}

/* The runner may only ask for keys its row declares, with their type. */
START_TEST(test_typed_access_checked)
{
	struct iouw_scenario *s = NULL;
	char err[256];

	ck_assert_msg(parse("socketpair s\nrecv r1 fd=s len=8\n", &s, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(iouw_test_aborts_with("scenario key not in the command table", read_unknown_key,
	                                &s->body.steps[1]));
	ck_assert(iouw_test_aborts_with("scenario flag that is not a boolean", read_flag_of_int,
	                                &s->body.steps[1]));
	iouw_scenario_free(s);
}
END_TEST

/* The command table: one row per op, found by its own name. */
START_TEST(test_command_table)
{
	for (unsigned op = 0; op < IOUW_SCN_NOPS; op++) {
		const struct iouw_scn_cmd *c = iouw_scn_cmd((enum iouw_scn_op)op);
		char w1[32];
		const char *sp = strchr(c->name, ' ');
		size_t words, n = sp ? (size_t)(sp - c->name) : strlen(c->name);
		size_t npos = op == IOUW_SCN_SUBMIT_REQ ? 1 : 0;

		ck_assert_uint_eq(c->op, op);
		ck_assert(c->usage[0] && c->doc[0]);
		memcpy(w1, c->name, n);
		w1[n] = '\0';
		ck_assert_ptr_eq(iouw_scn_cmd_find(w1, sp ? sp + 1 : NULL, npos + (sp ? 1 : 0), &words),
		                 c);
		ck_assert_uint_eq(words, sp ? 2 : 1);
	}
}
END_TEST

/* Nested either blocks parse into a tree; the inject variants cover the
 * widest block at any depth. */
START_TEST(test_parse_nested_either)
{
	static const char text[] = "either\n"
	                           "  cqe ud=1 res=0\n"
	                           "  reap\n"
	                           "  either\n"
	                           "    cqe ud=2 res=0\n"
	                           "  or\n"
	                           "    cqe ud=3 res=0\n"
	                           "  or\n"
	                           "    cqe ud=4 res=0\n"
	                           "  end\n"
	                           "  cqe ud=5 res=0\n"
	                           "or\n"
	                           "  cqe ud=6 res=0\n"
	                           "end\n"
	                           "reap\n";
	struct iouw_scenario *s = NULL;
	const struct iouw_scn_step *outer, *inner;
	char err[256];

	ck_assert_msg(parse(text, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(s->body.n, 2);
	outer = &s->body.steps[0];
	ck_assert_int_eq(outer->op, IOUW_SCN_EITHER);
	ck_assert_uint_eq(outer->nbranches, 2);
	ck_assert_uint_eq(outer->branches[0].n, 4); /* cqe, reap, either, cqe */
	inner = &outer->branches[0].steps[2];
	ck_assert_int_eq(inner->op, IOUW_SCN_EITHER);
	ck_assert_int_eq(inner->line, 4);
	ck_assert_uint_eq(inner->nbranches, 3);
	ck_assert_int_eq(inner->branches[2].steps[0].line, 9);
	ck_assert_int_eq(outer->branches[0].steps[3].line, 11);
	ck_assert_uint_eq(outer->branches[1].n, 1);
	ck_assert_uint_eq(iouw_scenario_branch_variants(s), 3);
	iouw_scenario_free(s);
}
END_TEST

/* repeat N ... end: expanded by the parser, copies tagged with their
 * iteration, nesting with either blocks, its errors. */
START_TEST(test_parse_repeat)
{
	static const char text[] =
		"socketpair s\n"            /* 1 */
		"recv r1 fd=s len=4\n"      /* 2 */
		"repeat 3\n"                /* 3 */
		"  turn\n"                  /* 4 */
		"  repeat 2\n"              /* 5 */
		"    reap\n"                /* 6 */
		"  end\n"                   /* 7 */
		"  either\n"                /* 8 */
		"    cqe r1 op res=1\n"     /* 9 */
		"    repeat 2\n"            /* 10 */
		"      advance\n"           /* 11 */
		"    end\n"                 /* 12 */
		"  or\n"                    /* 13 */
		"    cqe r1 op res=2\n"     /* 14 */
		"  end\n"                   /* 15 */
		"end\n"                     /* 16 */
		"fill\n";                   /* 17 */
	struct iouw_scenario *s = NULL;
	char err[512];
	const struct iouw_scn_step *st;

	ck_assert_msg(parse(text, &s, err, sizeof(err)) == 0, "%s", err);
	/* 2 creations + 3 x (turn, reap, reap, either) + fill */
	ck_assert_uint_eq(s->body.n, 2 + 3 * 4 + 1);
	for (unsigned k = 0; k < 3; k++) {
		st = &s->body.steps[2 + 4 * k];
		ck_assert_int_eq(st->op, IOUW_SCN_TURN);
		ck_assert_uint_eq(st->repeat_iter, k + 1);
		ck_assert_uint_eq(st->repeat_count, 3);
		ck_assert_int_eq(st->repeat_line, 3);
		/* the inner repeat's copies keep the inner tags */
		ck_assert_int_eq(st[1].op, IOUW_SCN_REAP);
		ck_assert_uint_eq(st[1].repeat_iter, 1);
		ck_assert_uint_eq(st[2].repeat_iter, 2);
		ck_assert_int_eq(st[2].repeat_line, 5);
		ck_assert_int_eq(st[3].op, IOUW_SCN_EITHER);
		ck_assert_uint_eq(st[3].repeat_iter, k + 1);
		ck_assert_uint_eq(st[3].nbranches, 2);
		ck_assert_uint_eq(st[3].branches[0].n, 3); /* cqe, advance x2 */
		ck_assert_int_eq(st[3].branches[0].steps[2].line, 11);
		ck_assert_uint_eq(st[3].branches[0].steps[2].repeat_iter, 2);
		ck_assert_str_eq(iouw_scn_key(&st[3].branches[1].steps[0], "res")->val, "2");
	}
	ck_assert_int_eq(s->body.steps[14].op, IOUW_SCN_FILL);
	ck_assert_uint_eq(s->body.steps[14].repeat_iter, 0);
	iouw_scenario_free(s);

	expect_error("repeat 0\nturn\nend\n",
	             "t.scn:1:8: error: expected a repeat count in [1, 100000]");
	expect_error("repeat 2\nend\n",
	             "t.scn:2:1: error: expected at least one step between 'repeat' and 'end'");
	expect_error("socketpair s\nrecv r1 fd=s len=1\neither\ncqe r1 op res=1\nrepeat 2\nturn\nor\n",
	             "t.scn:7:1: error: expected 'end' to close the repeat block opened at line 5 "
	             "before 'or'");
	expect_error("repeat 2\nmodes inject\nend\n",
	             "t.scn:2:1: error: expected no fd, request, modes, kernel, negative, config or "
	             "expect abort line inside a repeat block (opened at line 1)");
	expect_error("repeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\n"
	             "repeat 2\nrepeat 2\n",
	             "t.scn:9:1: error: expected at most 8 nested either/repeat blocks");
	/* 100 x 1000 = 100000 steps plus one: the whole expansion is bounded */
	expect_error("turn\nrepeat 100\nrepeat 1000\nturn\nend\nend\n",
	             "t.scn:2:1: error: expected a repeat whose expansion stays within 100000 "
	             "steps and 4 MiB (100 x 1000 steps, 5000 bytes; 1 other steps)");
}
END_TEST

/* The fd ledger of harness/expect.h: closed once passes; a second close of
 * the number (the placeholder gone) and a dup never closed fail. */
START_TEST(test_fd_ledger)
{
	struct iouw_fd_ledger l;
	int sv[2], d0, d1;
	char msg[400];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(iouw_fdl_init(&l), 0);
	d0 = dup(sv[0]);
	d1 = dup(sv[0]);
	ck_assert_int_ge(d1, 0);
	ck_assert_int_eq(iouw_fdl_track(&l, 0, d0), 0);
	ck_assert_int_eq(iouw_fdl_track(&l, 1, d1), 0);
	ck_assert(iouw_fdl_check(&l, 0, false, msg, sizeof(msg)));
	ck_assert(!iouw_fdl_check(&l, 0, true, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "has not ended"), "%s", msg);
	/* request 0 ends and closes its dup once */
	iouw_fdl_ended(&l, 0, 7, false);
	close(d0);
	ck_assert_int_eq(iouw_fdl_settle(&l), 0);
	ck_assert(iouw_fdl_check(&l, 0, true, msg, sizeof(msg)));
	ck_assert(iouw_fdl_owns(&l, d0));
	/* ... and then closes the number again */
	close(d0);
	ck_assert(!iouw_fdl_check(&l, 0, true, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "AGAIN"), "%s", msg);
	/* request 1 ends without closing its dup */
	iouw_fdl_ended(&l, 1, 9, false);
	ck_assert_int_eq(iouw_fdl_settle(&l), 0);
	ck_assert(!iouw_fdl_check(&l, 1, true, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "still open after the request ended at line 9"), "%s", msg);
	ck_assert_int_eq(iouw_fdl_find(&l, d1), 1);
	ck_assert(!iouw_fdl_preexisting(&l, d1));
	ck_assert(iouw_fdl_preexisting(&l, sv[0]));
	close(d1);
	iouw_fdl_free(&l);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_expect_bytes)
{
	char msg[512];

	ck_assert(iouw_expect_bytes("abc", 3, "abc", 3, msg, sizeof(msg)));
	ck_assert(!iouw_expect_bytes("abcdef", 6, "abcXef", 6, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "first difference at offset 3: 0x58, expected 0x64"), "%s", msg);
	ck_assert(!iouw_expect_bytes("abc", 3, "ab", 2, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "2 bytes, expected 3: equal up to offset 2"), "%s", msg);
}
END_TEST

START_TEST(test_parse_arbitrary_bytes)
{
	/* Random bytes and mutations of a good script: parse or one error
	 * line, never a crash (ASan watches the rest). */
	unsigned seed = 12345;
	char buf[600];
	char err[256];

	for (int i = 0; i < 4000; i++) {
		struct iouw_scenario *s = NULL;
		size_t len;
		int e;

		if (i % 2) {
			len = (size_t)(rand_r(&seed) % sizeof(buf));
			for (size_t k = 0; k < len; k++)
				buf[k] = (char)(rand_r(&seed) % 7 == 0 ? '\n' : rand_r(&seed) % 256);
		} else {
			len = sizeof(good) - 1;
			memcpy(buf, good, len);
			for (int m = 0; m < 3; m++)
				buf[rand_r(&seed) % len] = (char)(rand_r(&seed) % 128);
		}
		e = iouw_scenario_parse("f", buf, len, &s, err, sizeof(err));
		ck_assert(e == 0 || e == -EINVAL);
		if (e == 0)
			iouw_scenario_free(s);
		else
			ck_assert(strncmp(err, "f:", 2) == 0 && strstr(err, ": error: expected "));
	}
}
END_TEST

static void run_mode(enum iouw_run_mode mode, struct iouw_run_result *res)
{
	struct iouw_scenario *s = NULL;
	struct iouw_run_options o;
	char err[256];

	ck_assert_int_eq(parse(good, &s, err, sizeof(err)), 0);
	memset(&o, 0, sizeof(o));
	o.mode = mode;
	ck_assert_int_eq(iouw_scenario_run(s, &o, res), 0);
	iouw_scenario_free(s);
}

START_TEST(test_run_leaves_no_fd)
{
	struct iouw_run_result r1, r2;
	int before = iouw_test_count_fds();

	run_mode(IOUW_RUN_KERNEL, &r1);
	ck_assert_int_eq(r1.verdict, IOUW_VERDICT_PASS);
	ck_assert_int_eq(iouw_test_count_fds(), before);
	run_mode(IOUW_RUN_INJECT, &r2);
	if (r2.verdict != IOUW_VERDICT_SKIP) {
		ck_assert_int_eq(r2.verdict, IOUW_VERDICT_PASS);
		/* Same core states in both modes: same normalised log. */
		ck_assert_uint_eq(r1.hash, r2.hash);
	}
	ck_assert_int_eq(iouw_test_count_fds(), before);
}
END_TEST

START_TEST(test_failure_reports_line)
{
	struct iouw_scenario *s = NULL;
	struct iouw_run_options o;
	struct iouw_run_result r;
	char err[256];
	char *text;
	int before = iouw_test_count_fds();

	ck_assert_int_ge(asprintf(&text, "%s%s", good, "expect result r1 ok 3\n"), 0);
	ck_assert_int_eq(parse(text, &s, err, sizeof(err)), 0);
	memset(&o, 0, sizeof(o));
	o.mode = IOUW_RUN_INJECT;
	ck_assert_int_eq(iouw_scenario_run(s, &o, &r), 0);
	if (r.verdict != IOUW_VERDICT_SKIP) {
		ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
		ck_assert_int_eq(r.fail_line, 18);
	}
	iouw_scenario_free(s);
	free(text);
	ck_assert_int_eq(iouw_test_count_fds(), before);
}
END_TEST

/* Run @text in @mode; the verdict, the departing line and (when @report is
 * not NULL) the failure timeline, NUL-terminated, to free(). */
static void run_text(const char *text, enum iouw_run_mode mode, struct iouw_run_result *res,
                     char **report)
{
	struct iouw_scenario *s = NULL;
	struct iouw_run_options o;
	char err[256];
	size_t len;

	ck_assert_msg(parse(text, &s, err, sizeof(err)) == 0, "%s", err);
	memset(&o, 0, sizeof(o));
	o.mode = mode;
	if (report) {
		o.report = open_memstream(report, &len);
		ck_assert_ptr_nonnull(o.report);
	}
	ck_assert_int_eq(iouw_scenario_run(s, &o, res), 0);
	if (report)
		ck_assert_int_eq(fclose(o.report), 0);
	iouw_scenario_free(s);
}

/* Run-time refusals the harness explains: submit into a full inbound queue
 * (bounded by the ring size), set_generation on an occupied slot. */
START_TEST(test_run_errors_explained)
{
	static const char full[] = "config ring=2\nsocketpair s\nrecv a fd=s len=4\n"
	                           "recv b fd=s len=4\nrecv c fd=s len=4\nsubmit a b c\n";
	static const char busy[] = "socketpair s\nrecv r1 fd=s len=4\nsubmit r1\nturn\n"
	                           "set_generation slot=0 gen=5\n";
	struct iouw_run_result r;
	char *report = NULL;

	for (int m = IOUW_RUN_KERNEL; m <= IOUW_RUN_INJECT; m++) {
		run_text(full, (enum iouw_run_mode)m, &r, &report);
		if (r.verdict != IOUW_VERDICT_SKIP) {
			ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
			ck_assert_int_eq(r.fail_line, 6);
			ck_assert_msg(strstr(report, "actual:   iouw_loop_submit(c) = -EAGAIN: the inbound "
			                             "queue is full (it holds at most the ring size, 2 "
			                             "requests, until a turn admits them)\n"),
			              "%s", report);
		}
		free(report);
		run_text(busy, (enum iouw_run_mode)m, &r, &report);
		if (r.verdict != IOUW_VERDICT_SKIP) {
			ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
			ck_assert_int_eq(r.fail_line, 5);
			ck_assert_msg(strstr(report, "actual:   slot 0 is occupied (only a free slot's next "
			                             "generation can be set)\n"),
			              "%s", report);
		}
		free(report);
	}
}
END_TEST

#define EIGHT_SYNCS                                                                   \
	"file f content=\"x\"\n"                                                       \
	"sync r1 fd=f\nsync r2 fd=f\nsync r3 fd=f\nsync r4 fd=f\n"                      \
	"sync r5 fd=f\nsync r6 fd=f\nsync r7 fd=f\nsync r8 fd=f\n"

/* A small CQ (config cq=) overflowed on purpose. Inject mode: the loop
 * reaps the overflowed CQEs in order, and the cq_overflow fact can fail.
 * Kernel mode: a CQE the kernel parked in its overflow list cannot be
 * peeked, and the run departs there saying so (at once, not after the CQE
 * timeout). A CQ smaller than the SQ is a bad config. */
/* The kernel model judges every named CQE (harness/kmodel_judge.h): a
 * legal scenario departs at the hostile CQE's line with the model's rule;
 * a hostile one passes when its CQEs break the rules it names, departs at
 * a CQE breaking another rule, and fails at the end when a named rule was
 * never broken. The '#' note is in the timeline, not in the hash. */
START_TEST(test_kernel_model_judged)
{
#define KM_HEAD "modes inject\nsocketpair s\nrecv r1 fd=s len=4\nsubmit r1\nturn\n"
	static const char legal[] = KM_HEAD "cqe r1 op res=5\nreap\n";
	static const char hostile[] = "kernel hostile H2\n" KM_HEAD "cqe r1 op res=5\n"
	                              "expect abort \"recv result larger than asked\"\nreap\n";
	static const char other[] = "kernel hostile H4\n" KM_HEAD "cqe ud=0x63 res=0\n";
	static const char unmet[] = "kernel hostile H4\n" KM_HEAD "cqe r1 op res=4\nreap\n";
	struct iouw_run_result r;
	char *report = NULL;
	struct iouw_scenario *s = NULL;
	char err[256];

	ck_assert_int_eq(parse("kernel hostile H10 H2\n", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s->kernel_hostile, (1u << 10) | (1u << 2));
	iouw_scenario_free(s);
	ck_assert_int_eq(parse("kernel legal\n", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s->kernel_hostile, 0);
	iouw_scenario_free(s);

	run_text(legal, IOUW_RUN_INJECT, &r, &report);
	if (r.verdict == IOUW_VERDICT_SKIP) {
		free(report);
		return;
	}
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_int_eq(r.fail_line, 6);
	ck_assert_msg(strstr(report, "actual:   kernel model: H2 result above the bytes asked") &&
	              strstr(report, "# kernel model: hostile: H2"), "%s", report);
	free(report);
	report = NULL;
	run_text(other, IOUW_RUN_INJECT, &r, &report);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_int_eq(r.fail_line, 7);
	ck_assert_msg(strstr(report, "kernel model: H1 CQE for no outstanding SQE") &&
	              strstr(report, "(`kernel hostile H4`)"), "%s", report);
	free(report);
	report = NULL;
	run_text(unmet, IOUW_RUN_INJECT, &r, &report);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_msg(strstr(report, "no CQE broke H4"), "%s", report);
	free(report);
	run_text(hostile, IOUW_RUN_INJECT, &r, NULL);
	ck_assert_msg(r.verdict == IOUW_VERDICT_PASS, "%s", r.reason);
#undef KM_HEAD
}
END_TEST

START_TEST(test_cq_overflow_scripted)
{
	static const char inject[] =
		"modes inject\nkernel hostile H1\nconfig ring=8 cq=8\n" EIGHT_SYNCS
		"submit r1 r2 r3 r4 r5 r6 r7 r8\nturn\n"
		"cqe ud=0x8000000000000063 res=-ENOENT\n"
		"cqe r1 op res=0\ncqe r2 op res=0\ncqe r3 op res=0\ncqe r4 op res=0\n"
		"cqe r5 op res=0\ncqe r6 op res=0\ncqe r7 op res=0\ncqe r8 op res=0\n"
		"expect table cq_ready=8 cq_overflow=1\n"
		"reap\nexpect table cq_overflow=0 len=0 delivered=8\nexpect result r8 ok 0\n";
	static const char wrong[] =
		"modes inject\nkernel hostile H1\nconfig ring=8 cq=8\n" EIGHT_SYNCS
		"submit r1 r2 r3 r4 r5 r6 r7 r8\nturn\n"
		"cqe ud=0x8000000000000063 res=-ENOENT\n"
		"cqe r1 op res=0\ncqe r2 op res=0\ncqe r3 op res=0\ncqe r4 op res=0\n"
		"cqe r5 op res=0\ncqe r6 op res=0\ncqe r7 op res=0\ncqe r8 op res=0\n"
		"expect table cq_overflow=0\n";
	char kernel[2048], *report = NULL;
	size_t n;
	struct iouw_run_result r;
	int before = iouw_test_count_fds();

	run_text(inject, IOUW_RUN_INJECT, &r, NULL);
	if (r.verdict == IOUW_VERDICT_SKIP)
		return;
	ck_assert_msg(r.verdict == IOUW_VERDICT_PASS, "%s", r.reason);
	run_text(wrong, IOUW_RUN_INJECT, &r, NULL);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_int_eq(r.fail_line, 24);

	/* Kernel mode: eight fsyncs one by one (a known order), their CQEs
	 * left in the full CQ, then a cancel for r1 (already done: -ENOENT)
	 * whose CQE overflows. */
	n = (size_t)snprintf(kernel, sizeof(kernel), "modes kernel\nconfig ring=8 cq=8\n" EIGHT_SYNCS);
	for (int i = 1; i <= 8; i++)
		n += (size_t)snprintf(kernel + n, sizeof(kernel) - n,
		                      "submit r%d\nfill\nsubmit\ncqe r%d op res=0\n", i, i);
	n += (size_t)snprintf(kernel + n, sizeof(kernel) - n,
	                      "cancel r1 took=1 sqe=1\nfill\nsubmit\ncqe r1 cancel res=-ENOENT\n");
	ck_assert_uint_lt(n, sizeof(kernel));
	run_text(kernel, IOUW_RUN_KERNEL, &r, &report);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_int_eq(r.fail_line, 47);
	ck_assert_msg(strstr(report, "actual:   the CQ overflowed: kernel mode reads CQEs in the "
	                             "ring and cannot see overflowed ones") != NULL,
	              "%s", report);
	free(report);

	run_text("config ring=16 cq=8\nfile f\n", IOUW_RUN_KERNEL, &r, NULL);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_msg(strstr(r.reason, "cq=8 is smaller than the SQ (16 entries") != NULL, "%s",
	              r.reason);
	ck_assert_int_eq(iouw_test_count_fds(), before);
}
END_TEST

/* Kernel mode reports the branch the kernel took in each either block, by
 * line; a failed run reports the blocks it got through; inject mode none. */
START_TEST(test_kernel_branches_reported)
{
	static const char text[] =
		"modes kernel inject\n"
		"file f content=\"x\"\n"
		"sync r1 fd=f\n"
		"submit r1\n"
		"turn\n"
		"either\n"
		"  cqe r1 op res=-EIO\n"
		"or\n"
		"  cqe r1 op res=0\n"
		"end\n"
		"reap\n"
		"sync r2 fd=f\n"
		"submit r2\n"
		"turn\n"
		"either\n"
		"  cqe r2 op res=0\n"
		"or\n"
		"  cqe r2 op res=-EIO\n"
		"end\n"
		"reap\n"
		"expect result r2 ok 0\n";
	char *bad;
	struct iouw_run_result r;

	run_text(text, IOUW_RUN_KERNEL, &r, NULL);
	ck_assert_msg(r.verdict == IOUW_VERDICT_PASS, "%s", r.reason);
	ck_assert_str_eq(r.branches, "6:2,15:1");
	run_text(text, IOUW_RUN_INJECT, &r, NULL);
	if (r.verdict != IOUW_VERDICT_SKIP)
		ck_assert_str_eq(r.branches, "");
	ck_assert_int_ge(asprintf(&bad, "%s%s", text, "expect result r1 ok 1\n"), 0);
	run_text(bad, IOUW_RUN_KERNEL, &r, NULL);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_int_eq(r.fail_line, 22);
	ck_assert_str_eq(r.branches, "6:2,15:1");
	free(bad);
}
END_TEST

/* More either blocks than the report holds: the list is cut at a whole
 * entry and ends in "...", and the run still passes. */
START_TEST(test_kernel_branches_cut_short)
{
	char *text = strdup("modes kernel\nfile f content=\"x\"\n"), *t;
	struct iouw_run_result r;
	size_t len;

	for (int i = 0; i < 40; i++) {
		ck_assert_int_ge(asprintf(&t, "%ssync r%d fd=f\nsubmit r%d\nturn\neither\n"
		                                "  cqe r%d op res=0\nor\n  cqe r%d op res=-EIO\nend\nreap\n",
		                          text, i, i, i, i), 0);
		free(text);
		text = t;
	}
	run_text(text, IOUW_RUN_KERNEL, &r, NULL);
	ck_assert_msg(r.verdict == IOUW_VERDICT_PASS, "%s", r.reason);
	len = strlen(r.branches);
	ck_assert_uint_lt(len, sizeof(r.branches));
	ck_assert_uint_gt(len, sizeof(r.branches) - 12);
	ck_assert_str_eq(r.branches + len - 4, ",..."); /* cut after a whole entry */
	ck_assert(strncmp(r.branches, "6:1,15:1,24:1,", 14) == 0);
	free(text);
}
END_TEST

START_TEST(test_inject_deterministic)
{
	struct iouw_run_result a, b;

	run_mode(IOUW_RUN_INJECT, &a);
	run_mode(IOUW_RUN_INJECT, &b);
	ck_assert_int_eq(a.verdict, b.verdict);
	ck_assert_uint_eq(a.hash, b.hash);
}
END_TEST

START_TEST(test_record_replays)
{
	struct iouw_scenario *s = NULL, *rec = NULL;
	struct iouw_run_options o;
	struct iouw_run_result r;
	char err[256];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(parse(good, &s, err, sizeof(err)), 0);
	memset(&o, 0, sizeof(o));
	o.mode = IOUW_RUN_KERNEL;
	o.record = f;
	ck_assert_int_eq(iouw_scenario_run(s, &o, &r), 0);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_PASS);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "modes inject\n"));
	ck_assert_ptr_nonnull(strstr(buf, "cqe r1 cancel res=0\n"));
	ck_assert_int_eq(iouw_scenario_parse("rec.scn", buf, len, &rec, err, sizeof(err)), 0);
	ck_assert_uint_eq(rec->modes, IOUW_SCN_MODE_INJECT);
	o.mode = IOUW_RUN_INJECT;
	o.record = NULL;
	{
		uint64_t kernel_hash = r.hash;

		ck_assert_int_eq(iouw_scenario_run(rec, &o, &r), 0);
		ck_assert(r.verdict == IOUW_VERDICT_PASS || r.verdict == IOUW_VERDICT_SKIP);
		/* The recording replays the very same event log. */
		if (r.verdict == IOUW_VERDICT_PASS)
			ck_assert_uint_eq(r.hash, kernel_hash);
	}
	iouw_scenario_free(rec);
	iouw_scenario_free(s);
	free(buf);
}
END_TEST

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

START_TEST(test_record_file_atomic)
{
	char dir[] = "/tmp/iouwait-rec-XXXXXX";
	char *out, *bad;
	struct iouw_scenario *s = NULL;
	struct iouw_run_options o;
	struct iouw_run_result r;
	char err[256];
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(asprintf(&out, "%s/out.scn", dir), 0);
	memset(&o, 0, sizeof(o));
	/* A failing run writes nothing, not even a temporary file. */
	ck_assert_int_ge(asprintf(&bad, "%s%s", good, "expect result r1 ok 3\n"), 0);
	ck_assert_int_eq(parse(bad, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(iouw_scenario_record(s, out, &o, &r), 0);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_FAIL);
	ck_assert_int_eq(count_dir(dir), 0);
	iouw_scenario_free(s);
	/* A passing run leaves exactly OUT, complete. */
	ck_assert_int_eq(parse(good, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(iouw_scenario_record(s, out, &o, &r), 0);
	ck_assert_int_eq(r.verdict, IOUW_VERDICT_PASS);
	ck_assert_int_eq(count_dir(dir), 1);
	ck_assert_int_eq(stat(out, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	iouw_scenario_free(s);
	ck_assert_int_eq(unlink(out), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(out);
	free(bad);
}
END_TEST

static Suite *harness_suite(bool ring)
{
	Suite *s = suite_create("harness");
	TCase *tc = tcase_create("parser");

	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_nested_either);
	tcase_add_test(tc, test_parse_range_errors);
	tcase_add_test(tc, test_parse_typed_values);
	tcase_add_test(tc, test_command_table);
	tcase_add_test(tc, test_typed_access_checked);
	tcase_add_test(tc, test_parse_arbitrary_bytes);
	tcase_add_test(tc, test_parse_repeat);
	tcase_add_test(tc, test_fd_ledger);
	tcase_add_test(tc, test_expect_bytes);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	if (!ring)
		return s;
	tc = tcase_create("run");
	iouw_test_add_fd_fixture(tc);
	tcase_add_test(tc, test_run_leaves_no_fd);
	tcase_add_test(tc, test_failure_reports_line);
	tcase_add_test(tc, test_run_errors_explained);
	tcase_add_test(tc, test_inject_deterministic);
	tcase_add_test(tc, test_kernel_branches_reported);
	tcase_add_test(tc, test_kernel_branches_cut_short);
	tcase_add_test(tc, test_cq_overflow_scripted);
	tcase_add_test(tc, test_kernel_model_judged);
	tcase_add_test(tc, test_record_replays);
	tcase_add_test(tc, test_record_file_atomic);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The parser tests need no ring; the run tests do. Without io_uring
	 * only the parser tests run (the run tests are not reported at all,
	 * which is what `1..0 # SKIP` would say for them). */
	bool ring = iouw_uring_available() == 0;

	if (!ring)
		fprintf(stderr, "io_uring unavailable: running the parser tests only\n");
	return iouw_test_run_suite(harness_suite(ring));
}
