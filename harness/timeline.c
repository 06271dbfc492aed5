/* harness/timeline.c: the run's event log and what is made of it.
 *
 * Owns the log (iouw_run_logf: one line per event, tagged with the script
 * line and repeat iteration), failing a run (iouw_run_failf: a departure
 * from the script; iouw_run_envf: the environment failed), the timeline
 * printed in reports, and the run's hash (FNV-1a 64, iouw_fnv1a).
 *
 * Invariants: the first failure is the one reported (later ones are
 * ignored); a line that cannot be recorded fails the run as an ERROR, since
 * a dropped line would change the hash; '#' lines are notes: printed, not
 * hashed.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

uint64_t iouw_fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

void iouw_run_logf(struct runner *r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	/* A dropped entry would change the hash: the run fails instead. */
	if (!s) {
		iouw_run_envf(r, "recording the event log", ENOMEM);
		return;
	}
	if (r->nlog == r->caplog) {
		size_t nc = r->caplog ? r->caplog * 2 : 64;
		struct logent *nl = realloc(r->log, nc * sizeof(*nl));

		if (!nl) {
			free(s);
			iouw_run_envf(r, "recording the event log", ENOMEM);
			return;
		}
		r->log = nl;
		r->caplog = nc;
	}
	r->log[r->nlog].line = r->cur_line;
	r->log[r->nlog].iter = r->cur_step ? r->cur_step->repeat_iter : 0;
	r->log[r->nlog].text = s;
	r->nlog++;
}

bool iouw_run_failf(struct runner *r, const char *expected, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return false;
	r->failed = true;
	r->fail_line = r->cur_line;
	r->fail_step = r->cur_step && r->cur_step->line == r->cur_line ? r->cur_step : NULL;
	snprintf(r->expected, sizeof(r->expected), "%s", expected ? expected : "");
	va_start(ap, fmt);
	vsnprintf(r->actual, sizeof(r->actual), fmt, ap);
	va_end(ap);
	return false;
}

/* The environment failed the run (out of memory, fds, ...): not a departure
 * from the script; reported as IOUW_VERDICT_ERROR "environment: ...". */
bool iouw_run_envf(struct runner *r, const char *what, int err)
{
	if (r->env_failed)
		return false;
	r->failed = true;
	r->env_failed = true;
	r->fail_line = r->cur_line;
	snprintf(r->actual, sizeof(r->actual), "%s: %s", what, strerror(err));
	return false;
}

const char *iouw_run_res_str(int64_t res, char *buf, size_t len)
{
	return iouw_scn_format_res(res, buf, len);
}

const char *iouw_run_step_text(const struct iouw_scn_block *b, int line)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->steps[i].line == line)
			return b->steps[i].text;
		for (size_t j = 0; j < b->steps[i].nbranches; j++) {
			const char *t = iouw_run_step_text(&b->steps[i].branches[j], line);

			if (t)
				return t;
		}
	}
	return NULL;
}

void iouw_run_print_timeline(struct runner *r, FILE *out)
{
	int last_line = -1;

	fprintf(out, "  timeline (script line, then what happened):\n");
	for (size_t i = 0; i < r->nlog; i++) {
		if (r->log[i].line != last_line) {
			const char *t = iouw_run_step_text(&r->s->body, r->log[i].line);

			if (r->log[i].iter)
				fprintf(out, "   %4d| %s   [repeat iteration %u]\n", r->log[i].line,
				        t ? t : "", r->log[i].iter);
			else
				fprintf(out, "   %4d| %s\n", r->log[i].line, t ? t : "");
			last_line = r->log[i].line;
		}
		fprintf(out, "         %s\n", r->log[i].text);
	}
}

/* The run's hash: every timeline line but the '#' notes. */
uint64_t iouw_run_log_hash(const struct runner *r)
{
	uint64_t h = IOUW_FNV_OFFSET;

	for (size_t i = 0; i < r->nlog; i++) {
		if (r->log[i].text[0] == '#')
			continue;
		h = iouw_fnv1a(h, r->log[i].text, strlen(r->log[i].text));
		h = iouw_fnv1a(h, "\n", 1);
	}
	return h;
}
