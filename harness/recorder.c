/* harness/recorder.c: what `iouwait record` writes (iouw_scenario_record):
 * a kernel-mode run's script with every CQE's actual result, replayable in
 * inject mode.
 *
 * Owns the RECORD column of the command table (iouw_run_record_step), the
 * `cqe` lines rewritten with the res the kernel posted (iouw_run_rec_cqe)
 * and the recording file's life (written to a temporary, committed only
 * for a passing run: harness/outfile.h).
 *
 * Invariants: nothing is written outside a recording run (r->rec NULL) or
 * in the child of `expect abort`; a failed run leaves no file behind.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "outfile.h"

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

int iouw_scenario_record(const struct iouw_scenario *s, const char *out_path,
                         const struct iouw_run_options *o, struct iouw_run_result *ret)
{
	struct iouw_run_options ro;
	struct iouw_outfile out;
	char err[512];
	FILE *f;
	int fd, e = 0;

	if (!s || !out_path || !o || !ret)
		return -EINVAL;
	e = iouw_outfile_open(out_path, NULL, 0, &out, err, sizeof(err));
	if (e < 0)
		return e;
	fd = dup(out.fd);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		e = -errno;
		if (fd >= 0)
			close(fd);
		iouw_outfile_discard(&out);
		return e;
	}
	ro = *o;
	ro.mode = IOUW_RUN_KERNEL;
	ro.record = f;
	e = iouw_scenario_run(s, &ro, ret);
	if (fclose(f) != 0 && e == 0 && ret->verdict == IOUW_VERDICT_PASS) {
		ret->verdict = IOUW_VERDICT_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "environment: writing the recording: %s",
		         strerror(errno));
	}
	if (e == 0 && ret->verdict == IOUW_VERDICT_PASS)
		return iouw_outfile_commit(&out, err, sizeof(err));
	iouw_outfile_discard(&out);
	return e;
}
