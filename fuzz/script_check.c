/* fuzz/script_check.c: see script_check.h. */
#include "script_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "scenario.h"

#define NAME "fuzz.scn"

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "script oracle violated: %s: %s\n", what, detail ? detail : "");
	abort();
}

static size_t count_lines(const uint8_t *data, size_t size)
{
	size_t n = 1;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	return n;
}

/* A forward-only cursor over the lines of the input: steps come in line
 * order, so finding each step's source line costs O(input) for the whole
 * scenario. (A fresh scan from the top per step made a 100000-step script,
 * 500 KB of "turn" lines, take a minute: issue 11, every input bounded.) */
struct line_cursor {
	const uint8_t *data, *end;
	const uint8_t *p; /* start of line @line */
	int line;
};

/* The start of line @line (1-based, not before the cursor's) and its
 * length, or NULL past the end. */
static const uint8_t *line_at(struct line_cursor *c, int line, size_t *ret_len)
{
	const uint8_t *nl;

	while (c->line < line) {
		nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
		if (!nl)
			return NULL;
		c->p = nl + 1;
		c->line++;
	}
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	*ret_len = (size_t)((nl ? nl : c->end) - c->p);
	return c->p;
}

static void check_error(const char *err, size_t lines)
{
	char prefix[] = NAME ":";
	long line, col;
	char *p;

	if (strchr(err, '\n'))
		fail("error message is more than one line", err);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail("error message does not start with the file name", err);
	line = strtol(err + strlen(prefix), &p, 10);
	if (*p != ':' || line < 1 || (size_t)line > lines + 1)
		fail("error message has no valid line", err);
	col = strtol(p + 1, &p, 10);
	if (col < 1 || strncmp(p, ": error: expected", 17) != 0)
		fail("error message has no column or no 'error: expected'", err);
}

/* Every step of @b, either branches included (pre-order), in line order
 * and quoting its source line; every either block well formed. */
static void check_block(struct line_cursor *c, const struct iouw_scn_block *b, int *last,
                        int depth)
{
	if (depth > IOUW_SCN_MAX_NESTING)
		fail("either blocks nested deeper than the limit", NULL);
	for (size_t i = 0; i < b->n; i++) {
		const struct iouw_scn_step *st = &b->steps[i];
		size_t len = 0;
		const uint8_t *src;

		if (st->repeat_copy) {
			/* A repeat's copy repeats lines already seen, from its
			 * repeat line on. */
			if (st->repeat_line < 1 || st->line <= st->repeat_line || st->line > *last ||
			    st->repeat_iter < 1 || st->repeat_iter > st->repeat_count)
				fail("repeat copy outside its repeat block", st->text);
		} else {
			if (st->line <= *last)
				fail("steps out of line order", st->text);
			*last = st->line;
			src = line_at(c, st->line, &len);
			if (!src || !st->text || strlen(st->text) > len ||
			    memcmp(src, st->text, strlen(st->text)) != 0)
				fail("step text is not its source line", st->text);
		}
		if (st->op != IOUW_SCN_EITHER) {
			if (st->nbranches)
				fail("a step that is not either has branches", st->text);
			continue;
		}
		if (st->nbranches < 2)
			fail("either block with fewer than two branches", st->text);
		for (size_t j = 0; j < st->nbranches; j++) {
			if (st->branches[j].n == 0 || st->branches[j].steps[0].op != IOUW_SCN_CQE)
				fail("either branch without a cqe guard", st->text);
			check_block(c, &st->branches[j], last, depth + 1);
		}
	}
}

/* The budget: the part of an input that is parsed. */
static size_t budgeted(size_t size)
{
	return size < IOUW_SCRIPT_MAX_BYTES ? size : IOUW_SCRIPT_MAX_BYTES;
}

void iouw_script_check(const uint8_t *data, size_t size)
{
	struct iouw_scenario *s = NULL, *again = NULL;
	char err[512] = "", err2[512] = "";
	int r, r2, last = 0;
	struct line_cursor cursor;

	size = budgeted(size);
	r = iouw_scenario_parse(NAME, (const char *)data, size, &s, err, sizeof(err));
	r2 = iouw_scenario_parse(NAME, (const char *)data, size, &again, err2, sizeof(err2));
	cursor = (struct line_cursor){ data, data ? data + size : data, data, 1 };
	if (r != 0 && r != -EINVAL)
		fail("parser returned neither 0 nor -EINVAL", strerror(-r));
	if (r != r2 || strcmp(err, err2) != 0)
		fail("two parses of the same bytes disagree", err);
	if (r != 0) {
		if (s)
			fail("failed parse wrote its output", err);
		check_error(err, count_lines(data, size));
		return;
	}
	if (again->body.n != s->body.n ||
	    iouw_scenario_branch_variants(again) != iouw_scenario_branch_variants(s))
		fail("two parses of the same bytes disagree", "step count");
	check_block(&cursor, &s->body, &last, 0);
	iouw_scenario_free(s);
	iouw_scenario_free(again);
}

void iouw_script_history_print(FILE *out, const uint8_t *data, size_t size)
{
	struct iouw_scenario *s = NULL;
	char err[512] = "";

	if (size > IOUW_SCRIPT_MAX_BYTES)
		fprintf(out, "budget: only the first %u of %zu bytes are parsed (script_check.h)\n",
		        IOUW_SCRIPT_MAX_BYTES, size);
	size = budgeted(size);
	if (iouw_scenario_parse(NAME, (const char *)data, size, &s, err, sizeof(err)) != 0) {
		fprintf(out, "parse error: %s\n", err);
		return;
	}
	fprintf(out, "parsed %zu top-level steps:\n", s->body.n);
	for (size_t i = 0; i < s->body.n; i++)
		fprintf(out, "  line %d: %s\n", s->body.steps[i].line, s->body.steps[i].text);
	iouw_scenario_free(s);
}
