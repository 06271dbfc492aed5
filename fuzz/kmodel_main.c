/* fuzz/kmodel_main.c: iouwait-kmodel, the kernel model (kernel_model.h)
 * held against recorded histories (scripts/check-kernel-model).
 *
 *   iouwait-kmodel [FILE]    (default: standard input)
 *
 * Input, one record a line ('#' starts a comment):
 *   history NAME                   a new history (the model starts empty)
 *   sqe op UD OPCODE BYTES         an op SQE the kernel took (io_uring opcode number)
 *   sqe cancel UD TARGET [invalid] an ASYNC_CANCEL aimed at TARGET
 *   sqe wake UD                    the wake poll
 *   cqe UD RES FLAGS               a CQE the kernel posted (and the loop reaped)
 * Numbers are decimal (UD: any 64-bit value).
 *
 * Prints "kernel model: H histories, S SQEs, C CQEs, all legal" and exits 0,
 * or one line per rejected CQE ("FILE:LINE: history NAME: cqe ...: RULE")
 * and exits 1; a malformed line is "FILE:LINE: error: expected ..." and
 * exit 2. A history whose SQEs were not all answered is fine (the run may
 * end first, docs/kernel.md §8.8); a rejection is a model bug to fix.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_model.h"

static struct iouw_km km;

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "-";
	FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
	char line[512], name[256] = "-";
	unsigned long lineno = 0, histories = 0, sqes = 0, cqes = 0, rejected = 0;

	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: iouwait-kmodel [FILE]\n");
		return 2;
	}
	if (!in) {
		perror(path);
		return 2;
	}
	iouw_km_init(&km);
	while (fgets(line, sizeof(line), in)) {
		char kind[16] = "", extra[16] = "";
		uint64_t ud, t;
		unsigned op, flags;
		int32_t res;
		int e = 0;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "history %255s", name) == 1) {
			iouw_km_init(&km);
			histories++;
			continue;
		}
		if (sscanf(line, "sqe %15s", kind) == 1) {
			sqes++;
			if (!strcmp(kind, "op") &&
			    sscanf(line, "sqe op %" SCNu64 " %u %" SCNu64, &ud, &op, &t) == 3)
				e = iouw_km_submit_op(&km, ud, (uint8_t)op, (uint32_t)t);
			else if (!strcmp(kind, "cancel") &&
			         sscanf(line, "sqe cancel %" SCNu64 " %" SCNu64 " %15s", &ud, &t, extra) >= 2)
				e = strcmp(extra, "invalid") ? iouw_km_submit_cancel(&km, ud, t)
				                             : iouw_km_submit_bad_cancel(&km, ud, t);
			else if (!strcmp(kind, "wake") && sscanf(line, "sqe wake %" SCNu64, &ud) == 1)
				e = iouw_km_submit_wake(&km, ud);
			else
				goto bad;
			if (e) {
				printf("%s:%lu: history %s: SQE user_data %" PRIu64
				       " while one is outstanding (a caller bug, not the kernel's)\n",
				       path, lineno, name, ud);
				rejected++;
			}
			continue;
		}
		if (sscanf(line, "cqe %" SCNu64 " %" SCNd32 " %u", &ud, &res, &flags) == 3) {
			const char *why = iouw_km_post(&km, ud, res, flags);

			cqes++;
			iouw_km_reaped(&km, ud);
			if (why) {
				printf("%s:%lu: history %s: cqe %" PRIu64 " res %d flags %u: %s\n", path,
				       lineno, name, ud, (int)res, flags, why);
				rejected++;
			}
			continue;
		}
	bad:
		fprintf(stderr, "%s:%lu: error: expected 'history NAME', 'sqe op|cancel|wake ...' "
		        "or 'cqe UD RES FLAGS'\n", path, lineno);
		return 2;
	}
	if (in != stdin)
		fclose(in);
	if (rejected) {
		printf("kernel model: %lu of %lu CQEs rejected in %lu histories\n", rejected, cqes,
		       histories);
		return 1;
	}
	printf("kernel model: %lu histories, %lu SQEs, %lu CQEs, all legal\n", histories, sqes,
	       cqes);
	return 0;
}
