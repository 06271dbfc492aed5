/* harness/recorder.c: what `iouwait record` writes: a kernel-mode run's
 * script with every CQE's actual result, replayable in inject mode (the
 * file itself is iouw_scenario_record's, in runner.c).
 *
 * Owns the RECORD column of the command table (iouw_run_record_step) and
 * the `cqe` lines rewritten with the res the kernel posted
 * (iouw_run_rec_cqe), both through iouw_run_rec_write.
 *
 * Invariants: nothing is written outside a recording run (r->rec NULL) or
 * in the child of `expect abort`.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <stdarg.h>
#include <string.h>

void iouw_run_rec_write(struct runner *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->rec || r->stop_record)
		return;
	va_start(ap, fmt);
	vfprintf(r->rec, fmt, ap);
	va_end(ap);
}

void iouw_run_rec_cqe(struct runner *r, const struct iouw_scn_step *st, int32_t res)
{
	char rb[32];

	/* Copy the line up to res=, then the actual value. */
	for (size_t i = 0; i < st->nargs; i++) {
		const struct iouw_scn_arg *a = &st->args[i];

		if (i == 0)
			iouw_run_rec_write(r, "cqe");
		if (a->key && !strcmp(a->key, "res"))
			iouw_run_rec_write(r, " res=%s", iouw_run_res_str(res, rb, sizeof(rb)));
		else if (a->key)
			iouw_run_rec_write(r, " %s=%s", a->key, a->val);
		else
			iouw_run_rec_write(r, " %s", a->val);
	}
	iouw_run_rec_write(r, "\n");
}

/* The RECORD column: what `iouwait record` writes before the step runs
 * (cqe lines write theirs once the kernel's res is known: iouw_run_rec_cqe). */
void iouw_run_record_step(struct runner *r, const struct iouw_scn_step *st)
{
	switch (st->cmd->record) {
	case IOUW_SCN_REC_LINE:
		/* Branches are flattened: drop their indentation. */
		iouw_run_rec_write(r, "%s\n", st->text + strspn(st->text, " \t"));
		break;
	case IOUW_SCN_REC_MODES:
		iouw_run_rec_write(r, "modes inject\n");
		break;
	case IOUW_SCN_REC_CQE:
	case IOUW_SCN_REC_NONE:
		break;
	}
}
