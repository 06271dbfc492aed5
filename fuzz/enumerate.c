/* fuzz/enumerate.c: iouwait-enumerate, exhaustive small-scope checking of
 * the event loop: every history of the `loop` fuzz target (fuzz/loop_run.h:
 * the same driver, the same kernel, every oracle and the policy model)
 * within a bound, each distinct state explored once.
 *
 *   iouwait-enumerate [--steps N] [--requests R] [--ring LIST] [--sq LIST]
 *                     [--cq LIST] [--budget LIST] [--silent LIST] [--out FILE]
 *
 * A history is the sequence of the target's decisions (provider.h's
 * chooser): the header (ring size from --ring, default 1,2,4; SQ entries
 * --sq, default 1,2; CQ entries --cq, default 2,16; shutdown budget
 * --budget, ticks or `none`, default none,0,3), then up to N steps (default
 * 4), each an action of the loop target (submit, submit_many, a caller
 * leaving, a clock move, a turn, one phase, the kernel answering an
 * outstanding SQE -- loop_run.h), at most R requests in all (default 3),
 * then close and the drain. Which CQE the kernel may post is what the
 * kernel model allows (fuzz/kernel_model.h, the loop target's legal draws;
 * answer_choices() below: every outstanding SQE, every class of op result,
 * -ECANCELED without a cancel included, every cancel result the pairing
 * allows); the drain's answers are the target's defaults, except that the
 * kernel may stay silent until a drain wait's bound: --silent LIST of
 * masks (loop_run.h: bit i, the drain's wait i; 0 = never silent, the
 * default; a nonzero one sets the header's bit 5). HOSTILE answers
 * are not enumerated (the ring-size header never has bits 6-7 set).
 * Representative values stand for big ranges: request shapes of 4 bytes
 * (send/write_at one 4-byte buffer, recv 4 bytes exact or not, read_at 4
 * bytes; sync), deadlines none, passing just now or 1 ns ahead (the next
 * tick; a submit_many's requests: no deadline, recv not exact), clock moves
 * of 1 tick - 1 ns, 1 tick or 319 ms, op results -EAGAIN, -EINTR,
 * -ECANCELED, the first I/O errno of the model's list (for all), 0, all the
 * bytes or 1 byte.
 *
 * Depth-first with iterative deepening (1 step, 2, ... N: the shortest
 * counterexample first), re-running each history from the start; before
 * each step the state (loop_run.h's state hash) is looked up: a state
 * already explored with at least as many steps left ends the history there
 * (it still drains). Prints the bound, histories run, distinct states (of
 * the last round), merges and the time (wall clock, and CPU time). A
 * history that fails an oracle or an invariant is the counterexample: its
 * decisions are written as a `loop` corpus file (--out, default
 * enumerate-counterexample), replayed once to confirm, and the exit
 * status is 1 (scripts/enumerate explains it as an inject scenario). The
 * enumeration runs in a child process so that a crash leaves the parent to
 * write the file. Exit status: 0 no counterexample, 1 one found (or the
 * enumeration died), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel_model.h"
#include "loop_run.h"
#include "provider.h"
#include "request.h"

#define MAX_CHOICES 8192
#define MAX_ALTS 32
#define MAX_LIST 8
#define TABLE_BITS 22

struct choice {
	uint64_t min, max;
	uint64_t alt[MAX_ALTS];
	uint8_t n, idx;
	bool pseudo; /* more(): alt 1 goes on, 0 ends the steps */
};

/* Shared with the parent: the history being run, the counters. */
struct shared {
	uint64_t histories, states, merged;
	uint32_t pos;
	bool ended;
	bool done;
	struct choice stack[MAX_CHOICES];
};

struct list {
	uint64_t v[MAX_LIST];
	unsigned n;
};

static struct {
	unsigned steps, requests;
	struct list ring, sq, cq, budget; /* budget: UINT64_MAX = none */
	struct list silent; /* drain silence masks; 0: header bit 5 clear */
	const char *out;
} opt;

static struct shared *sh;

/* The chooser's view of the history being run. */
static struct {
	uint32_t depth; /* choices fixed by the prefix being replayed */
	bool force_end; /* the next more() ends the steps, no choice */
	uint32_t nreq;
	unsigned cfg;   /* header decisions so far */
	int kind;       /* request kind being decoded, -1 none */
	unsigned spec;  /* its shape decisions so far */
	uint64_t *keys; /* explored states: hash */
	uint8_t *left;  /* and the most steps left they were explored with */
	bool error_next; /* the kernel's next pick is which error */
	unsigned bound;  /* steps in this round of iterative deepening */
	bool many;       /* inside a submit_many step */
} E;

/* ---- the alternatives ------------------------------------------------------ */

static unsigned push_alt(uint64_t *alt, unsigned n, uint64_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (alt[i] == v)
			return n;
	if (n < MAX_ALTS)
		alt[n++] = v;
	return n;
}

static unsigned all_of(uint64_t *alt, uint64_t min, uint64_t max)
{
	unsigned n = 0;

	for (uint64_t v = min; v <= max && n < MAX_ALTS; v++)
		alt[n++] = v;
	return n;
}

static unsigned in_list(uint64_t *alt, const struct list *l, uint64_t min, uint64_t max,
                        uint64_t (*map)(uint64_t))
{
	unsigned n = 0;

	for (unsigned i = 0; i < l->n; i++) {
		uint64_t v = map ? map(l->v[i]) : l->v[i];

		if (v >= min && v <= max)
			n = push_alt(alt, n, v);
	}
	return n ? n : push_alt(alt, 0, min);
}

static uint64_t log2_of(uint64_t v)
{
	uint64_t k = 0;

	while ((UINT64_C(1) << k) < v)
		k++;
	return k;
}

/* The header: ring size (as the exponent decoded), SQ, CQ, budget. */
static unsigned config_choices(uint64_t *alt, uint64_t min, uint64_t max)
{
	unsigned n = 0;

	switch (E.cfg++) {
	case 0: /* the ring-size byte; bit 5: a drain silence mask follows */
		for (unsigned k = 0; k < opt.silent.n; k++)
			for (unsigned i = 0; i < opt.ring.n; i++)
				n = push_alt(alt, n, log2_of(opt.ring.v[i]) |
				                     (opt.silent.v[k] ? 0x20 : 0));
		return n;
	case 1:
		return in_list(alt, &opt.sq, min, max, NULL);
	case 2:
		return in_list(alt, &opt.cq, min, max, NULL);
	case 3: /* budget or none (a boolean: one byte's low bit) */
		for (unsigned i = 0; i < opt.budget.n; i++)
			n = push_alt(alt, n, opt.budget.v[i] == UINT64_MAX ? 0 : 1);
		return n;
	default: {
		struct list ticks = { .n = 0 };

		for (unsigned i = 0; i < opt.budget.n; i++)
			if (opt.budget.v[i] != UINT64_MAX)
				ticks.v[ticks.n++] = opt.budget.v[i];
		return in_list(alt, &ticks, min, max, NULL);
	}
	}
}

/* A request's shape (request_spec.c's decoding order): 4 bytes. */
static unsigned spec_choices(uint64_t *alt, uint64_t min, uint64_t max, bool pick)
{
	unsigned i = E.spec++;

	if (pick) { /* the kind */
		E.spec = 0;
		return all_of(alt, min, max);
	}
	switch (E.kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT: /* nbufs, buf_len, file_offset */
		return push_alt(alt, 0, i == 1 ? 4 : min);
	case IOUW_REQUEST_RECV: /* len, offset, capacity extra, exact */
		if (i == 3 && !E.many)
			return all_of(alt, 0, 1);
		return push_alt(alt, 0, i == 0 ? 4 : min);
	default: /* read_at: len, capacity extra, file_offset */
		return push_alt(alt, 0, i == 0 ? 4 : min);
	}
}

/* The step's action, a submit_many's count, a drop, a phase. */
static unsigned step_choices(uint64_t *alt, uint64_t min, uint64_t max, bool pick)
{
	unsigned n = 0;

	if (pick && min == 0 && max == 7) { /* the action: 6 and 7 are the same */
		if (E.nreq < opt.requests)
			alt[n++] = 0;
		if (E.nreq + 2 <= opt.requests)
			alt[n++] = 1;
		for (uint64_t a = 2; a <= 6; a++)
			alt[n++] = a;
		return n;
	}
	if (!pick && min == 2 && max == 3) { /* submit_many: 2..3, within the bound */
		alt[n++] = 2;
		if (E.nreq + 3 <= opt.requests)
			alt[n++] = 3;
		return n;
	}
	return all_of(alt, min, max);
}

/* What the kernel may post is what the kernel model (kernel_model.h)
 * allows: the driver picks the SQE (IOUW_LR_CH_KERNEL: every outstanding
 * one), then the model draws its legal result (IOUW_LR_CH_ANSWER, here):
 * an op's pick (enum iouw_km_op_pick) walks every class -- -EAGAIN,
 * -EINTR, -ECANCELED without a cancel (K4), an I/O errno (the first
 * stands for all), 0, all the bytes, part of them (1 byte; PART2 is PART)
 * -- a cancel's every result its pairing allows (K6-K8: the pick among
 * 0/-EALREADY/-ENOENT, or the boolean -EALREADY/-ENOENT); the model
 * consumes nothing where only one answer is legal (K6's -ECANCELED). */
static unsigned answer_choices(uint64_t *alt, uint64_t min, uint64_t max, bool pick)
{
	unsigned n = 0;

	if (E.error_next && pick) { /* which errno: the first stands for all */
		E.error_next = false;
		return push_alt(alt, 0, min);
	}
	if (pick && min == 0 && max == IOUW_KM_OP_PICKS - 1) {
		for (uint64_t v = 0; v < IOUW_KM_OP_PICKS; v++)
			if (v != IOUW_KM_PICK_PART2)
				alt[n++] = v;
		return n;
	}
	if (pick)
		return all_of(alt, min, max);
	if (min == 0 && max == UINT8_MAX)
		return all_of(alt, 0, 1); /* a boolean */
	return push_alt(alt, 0, min); /* a partial transfer: 1 byte */
}

static unsigned choices(uint64_t *alt, uint64_t min, uint64_t max, bool pick)
{
	bool is_bool = !pick && min == 0 && max == UINT8_MAX;

	switch (iouw_lr_choice_context()) {
	case IOUW_LR_CH_CONFIG:
		return config_choices(alt, min, max);
	case IOUW_LR_CH_STEP:
		return step_choices(alt, min, max, pick);
	case IOUW_LR_CH_SPEC:
		return spec_choices(alt, min, max, pick);
	case IOUW_LR_CH_KERNEL: /* which outstanding SQE */
		if (is_bool)
			return all_of(alt, 0, 1);
		return all_of(alt, min, max);
	case IOUW_LR_CH_ANSWER:
		return answer_choices(alt, min, max, pick);
	case IOUW_LR_CH_DRAIN: { /* the drain silence mask: --silent's nonzero ones */
		unsigned n = 0;

		for (unsigned i = 0; i < opt.silent.n; i++)
			if (opt.silent.v[i])
				n = push_alt(alt, n, opt.silent.v[i]);
		return n ? n : push_alt(alt, 0, 1);
	}
	case IOUW_LR_CH_CLOCK: /* 1 tick - 1 ns, 1 tick, 319 ms */
		if (pick)
			return all_of(alt, min, max);
		return push_alt(alt, 0, min == 0 ? max : min);
	default: /* a deadline: none, passed just now, 1 ns ahead */
		if (pick && E.many)
			return push_alt(alt, 0, min); /* submit_many: none */
		if (pick)
			return all_of(alt, min, max);
		return push_alt(alt, 0, min);
	}
}

/* ---- the chooser ------------------------------------------------------------ */

static uint64_t choose(void *ctx, uint64_t min, uint64_t max, bool pick)
{
	struct choice *c;
	uint64_t v;

	(void)ctx;
	if (sh->ended)
		return min;
	if (sh->pos >= MAX_CHOICES) {
		fprintf(stderr, "iouwait-enumerate: more than %d decisions in one history\n",
		        MAX_CHOICES);
		exit(1);
	}
	c = &sh->stack[sh->pos];
	if (sh->pos < E.depth) {
		if (c->pseudo || c->min != min || c->max != max) {
			fprintf(stderr, "iouwait-enumerate: the history is not deterministic "
			                "(decision %u)\n", sh->pos);
			exit(1);
		}
		/* Keep the trackers in step with the replayed prefix. */
		if (iouw_lr_choice_context() == IOUW_LR_CH_CONFIG)
			E.cfg++;
		else if (iouw_lr_choice_context() == IOUW_LR_CH_SPEC)
			E.spec = pick ? 0 : E.spec + 1;
	} else {
		memset(c, 0, sizeof(*c));
		c->min = min;
		c->max = max;
		c->n = (uint8_t)choices(c->alt, min, max, pick);
		E.depth = sh->pos + 1;
	}
	v = c->alt[c->idx];
	sh->pos++;
	if (iouw_lr_choice_context() == IOUW_LR_CH_SPEC && pick)
		E.kind = (int)v;
	if (iouw_lr_choice_context() == IOUW_LR_CH_STEP && pick && min == 0 && max == 7)
		E.many = v == 1;
	if (iouw_lr_choice_context() == IOUW_LR_CH_ANSWER && pick && min == 0 &&
	    max == IOUW_KM_OP_PICKS - 1)
		E.error_next = v == IOUW_KM_PICK_ERRNO;
	else if (iouw_lr_choice_context() == IOUW_LR_CH_ANSWER && pick)
		E.error_next = false;
	/* A boolean is one byte's low bit: 0 or 1 encode it. */
	return v;
}

static bool more(void *ctx)
{
	struct choice *c;

	(void)ctx;
	if (sh->ended)
		return false;
	if (sh->pos < E.depth) {
		c = &sh->stack[sh->pos++];
		if (!c->pseudo) {
			fprintf(stderr, "iouwait-enumerate: the history is not deterministic "
			                "(decision %u)\n", sh->pos - 1);
			exit(1);
		}
	} else if (E.force_end) {
		sh->ended = true;
		return false;
	} else {
		c = &sh->stack[sh->pos++];
		memset(c, 0, sizeof(*c));
		c->pseudo = true;
		c->alt[0] = 1;
		c->alt[1] = 0;
		c->n = 2;
		E.depth = sh->pos;
	}
	if (c->alt[c->idx] == 0)
		sh->ended = true;
	return !sh->ended;
}

/* Before each step: the bound, and the states explored already. */
static void step(void *ctx, uint64_t hash, uint32_t steps, uint32_t nreq)
{
	uint64_t mask = (UINT64_C(1) << TABLE_BITS) - 1, i;
	uint8_t left = (uint8_t)(E.bound - (steps < E.bound ? steps : E.bound));

	(void)ctx;
	E.nreq = nreq;
	E.many = false;
	E.force_end = steps >= E.bound;
	if (E.force_end || sh->pos < E.depth)
		return; /* replaying a prefix explored already */
	hash = hash ? hash : 1;
	for (i = hash & mask; E.keys[i] && E.keys[i] != hash; i = (i + 1) & mask)
		;
	if (E.keys[i] == hash && E.left[i] >= left) {
		sh->merged++;
		E.force_end = true;
		return;
	}
	if (!E.keys[i]) {
		if (sh->states >= mask / 2) {
			fprintf(stderr, "iouwait-enumerate: state table full (%llu states)\n",
			        (unsigned long long)sh->states);
			exit(1);
		}
		E.keys[i] = hash;
		sh->states++;
	}
	E.left[i] = left;
}

static const struct iouw_fdp_chooser chooser = { choose, more, NULL };
static const struct iouw_lr_enum hooks = { &chooser, step, NULL };

/* Next history: the deepest decision with an alternative left. */
static bool backtrack(void)
{
	uint32_t d = sh->pos;

	while (d > 0 && sh->stack[d - 1].idx + 1 >= sh->stack[d - 1].n)
		d--;
	if (d == 0)
		return false;
	sh->stack[d - 1].idx++;
	E.depth = d;
	return true;
}

static void enumerate_bound(void)
{
	E.depth = 0;
	do {
		int rc;

		sh->pos = 0;
		sh->ended = false;
		E.force_end = false;
		E.cfg = 0;
		E.kind = -1;
		E.spec = 0;
		E.error_next = false;
		E.nreq = 0;
		rc = iouw_loop_history_run("iouwait-enumerate", NULL, NULL, 0, NULL);
		if (rc != 0) {
			fprintf(stderr, "iouwait-enumerate: environment failure in a history: "
			                "cannot vouch for the bound\n");
			exit(1);
		}
		sh->histories++;
	} while (backtrack());
}

static void enumerate(void)
{
	E.keys = calloc(UINT64_C(1) << TABLE_BITS, sizeof(*E.keys));
	E.left = calloc(UINT64_C(1) << TABLE_BITS, sizeof(*E.left));
	if (!E.keys || !E.left) {
		fprintf(stderr, "iouwait-enumerate: out of memory for the state table\n");
		exit(1);
	}
	iouw_lr_enum = &hooks;
	/* Iterative deepening: the shortest counterexample first, and a small
	 * bound's bug without waiting for the whole big bound. The states
	 * printed are the last round's. */
	for (E.bound = opt.steps > 0 ? 1 : 0; E.bound <= opt.steps; E.bound++) {
		memset(E.keys, 0, sizeof(*E.keys) << TABLE_BITS);
		sh->states = 0;
		enumerate_bound();
	}
	sh->done = true;
	free(E.keys);
	free(E.left);
}

/* ---- the counterexample ----------------------------------------------------- */

/* The decisions as the input bytes provider.h would read them. */
static uint8_t *encode(size_t *ret_size)
{
	size_t cap = (size_t)sh->pos * 8 + 1, n = 0;
	uint8_t *rev = malloc(cap), *out;

	if (!rev)
		return NULL;
	for (uint32_t i = 0; i < sh->pos; i++) {
		const struct choice *c = &sh->stack[i];
		uint64_t range = c->max - c->min, v = c->alt[c->idx] - c->min;
		unsigned nb = 0;

		if (c->pseudo)
			continue;
		for (unsigned off = 0; off < 64 && (range >> off) > 0; off += 8)
			nb++;
		for (unsigned k = nb; k-- > 0;) /* read first: the most significant */
			rev[n++] = (uint8_t)(v >> (8 * k));
	}
	/* Still going when it failed: one more byte keeps "input left" true
	 * up to the failure (it is never read before it). */
	if (!sh->ended)
		rev[n++] = 4;
	out = malloc(n ? n : 1);
	if (!out) {
		free(rev);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	free(rev);
	*ret_size = n;
	return out;
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "wb");
	if (!f)
		return -errno;
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) != 0) {
		int e = -errno;

		unlink(tmp);
		return e;
	}
	return 0;
}

/* Whether the input fails when the target runs it the ordinary way. */
static bool reproduces(const uint8_t *data, size_t size)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 2);
		iouw_lr_enum = NULL;
		iouw_loop_history_run("iouwait-enumerate replay", NULL, data, size,
		                      NULL);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- options ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: iouwait-enumerate [--steps N] [--requests R] [--ring LIST] "
	                "[--sq LIST] [--cq LIST] [--budget LIST] [--silent LIST] [--out FILE]\n"
	                "  LIST: comma-separated numbers (--budget: ticks or none; --silent:\n"
	                "  drain silence masks 0..255, 0 = the kernel always answers)\n");
	exit(2);
}

static unsigned number(const char *what, const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "iouwait-enumerate: %s: expected a number in %u..%u, got '%s'\n",
		        what, lo, hi, s);
		exit(2);
	}
	return (unsigned)v;
}

static void parse_list(const char *what, const char *s, struct list *l, unsigned lo, unsigned hi,
                       bool none_ok)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		usage();
	strcpy(buf, s);
	l->n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (l->n == MAX_LIST) {
			fprintf(stderr, "iouwait-enumerate: %s: at most %d values\n", what, MAX_LIST);
			exit(2);
		}
		if (none_ok && strcmp(tok, "none") == 0)
			l->v[l->n++] = UINT64_MAX;
		else
			l->v[l->n++] = number(what, tok, lo, hi);
	}
	if (l->n == 0)
		usage();
}

static void print_list(const char *name, const struct list *l)
{
	printf("%s ", name);
	for (unsigned i = 0; i < l->n; i++) {
		if (l->v[i] == UINT64_MAX)
			printf("%snone", i ? "," : "");
		else
			printf("%s%llu", i ? "," : "", (unsigned long long)l->v[i]);
	}
	printf(", ");
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	int status;
	pid_t pid;
	double secs;

	opt.steps = 4;
	opt.requests = 3;
	parse_list("--ring", "1,2,4", &opt.ring, 1, 8, false);
	parse_list("--sq", "1,2", &opt.sq, 1, 8, false);
	parse_list("--cq", "2,16", &opt.cq, 1, 16, false);
	parse_list("--budget", "none,0,3", &opt.budget, 0, 20, true);
	parse_list("--silent", "0", &opt.silent, 0, 255, false);
	opt.out = "enumerate-counterexample";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (strcmp(a, "--steps") == 0)
			opt.steps = number(a, v, 0, 64);
		else if (strcmp(a, "--requests") == 0)
			opt.requests = number(a, v, 0, 16);
		else if (strcmp(a, "--ring") == 0)
			parse_list(a, v, &opt.ring, 1, 8, false);
		else if (strcmp(a, "--sq") == 0)
			parse_list(a, v, &opt.sq, 1, 8, false);
		else if (strcmp(a, "--cq") == 0)
			parse_list(a, v, &opt.cq, 1, 16, false);
		else if (strcmp(a, "--budget") == 0)
			parse_list(a, v, &opt.budget, 0, 20, true);
		else if (strcmp(a, "--silent") == 0)
			parse_list(a, v, &opt.silent, 0, 255, false);
		else if (strcmp(a, "--out") == 0)
			opt.out = v;
		else
			usage();
	}
	for (unsigned i = 0; i < opt.ring.n; i++)
		if (opt.ring.v[i] & (opt.ring.v[i] - 1)) {
			fprintf(stderr, "iouwait-enumerate: --ring: %llu is not a power of two\n",
			        (unsigned long long)opt.ring.v[i]);
			return 2;
		}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "iouwait-enumerate: mmap: %s\n", strerror(errno));
		return 1;
	}
	printf("bound: ");
	print_list("ring", &opt.ring);
	print_list("sq", &opt.sq);
	print_list("cq", &opt.cq);
	print_list("budget", &opt.budget);
	print_list("silent", &opt.silent);
	printf("%u steps, %u requests\n", opt.steps, opt.requests);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "iouwait-enumerate: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		enumerate();
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	{
		struct rusage ru;
		double cpu = 0;

		if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
			cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		printf("histories %llu, distinct states %llu, merged %llu, %.2f s (%.2f s CPU)\n",
		       (unsigned long long)sh->histories, (unsigned long long)sh->states,
		       (unsigned long long)sh->merged, secs, cpu);
	}
	if (sh->done && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("no counterexample within the bound\n");
		return 0;
	}
	{
		size_t size = 0;
		uint8_t *data = encode(&size);
		int rc;

		if (!data) {
			fprintf(stderr, "iouwait-enumerate: out of memory encoding the counterexample\n");
			return 1;
		}
		rc = write_file(opt.out, data, size);
		if (rc < 0) {
			fprintf(stderr, "iouwait-enumerate: %s: cannot write the counterexample: %s\n",
			        opt.out, strerror(-rc));
			free(data);
			return 1;
		}
		printf("counterexample after %llu histories: %s (%zu bytes, %s); "
		       "decode: iouwait-decode loop %s\n",
		       (unsigned long long)sh->histories + 1, opt.out, size,
		       reproduces(data, size) ? "reproduces" : "DOES NOT reproduce when replayed",
		       opt.out);
		free(data);
	}
	return 1;
}
