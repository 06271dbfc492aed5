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

/* The start of line @line (1-based) in @data and its length. */
static const uint8_t *line_at(const uint8_t *data, size_t size, int line, size_t *ret_len)
{
	const uint8_t *p = data, *end = data + size, *nl;

	for (int i = 1; i < line; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*ret_len = (size_t)((nl ? nl : end) - p);
	return p;
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
static void check_block(const uint8_t *data, size_t size, const struct iouw_scn_block *b,
                        int *last, int depth)
{
	if (depth > IOUW_SCN_MAX_NESTING)
		fail("either blocks nested deeper than the limit", NULL);
	for (size_t i = 0; i < b->n; i++) {
		const struct iouw_scn_step *st = &b->steps[i];
		size_t len = 0;
		const uint8_t *src = line_at(data, size, st->line, &len);

		if (st->line <= *last)
			fail("steps out of line order", st->text);
		*last = st->line;
		if (!src || !st->text || strlen(st->text) > len ||
		    memcmp(src, st->text, strlen(st->text)) != 0)
			fail("step text is not its source line", st->text);
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
			check_block(data, size, &st->branches[j], last, depth + 1);
		}
	}
}

void iouw_script_check(const uint8_t *data, size_t size)
{
	struct iouw_scenario *s = NULL, *again = NULL;
	char err[512] = "", err2[512] = "";
	int r = iouw_scenario_parse(NAME, (const char *)data, size, &s, err, sizeof(err));
	int r2 = iouw_scenario_parse(NAME, (const char *)data, size, &again, err2, sizeof(err2));
	int last = 0;

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
	check_block(data, size, &s->body, &last, 0);
	iouw_scenario_free(s);
	iouw_scenario_free(again);
}

void iouw_script_history_print(FILE *out, const uint8_t *data, size_t size)
{
	struct iouw_scenario *s = NULL;
	char err[512] = "";

	if (iouw_scenario_parse(NAME, (const char *)data, size, &s, err, sizeof(err)) != 0) {
		fprintf(out, "parse error: %s\n", err);
		return;
	}
	fprintf(out, "parsed %zu top-level steps:\n", s->body.n);
	for (size_t i = 0; i < s->body.n; i++)
		fprintf(out, "  line %d: %s\n", s->body.steps[i].line, s->body.steps[i].text);
	iouw_scenario_free(s);
}
