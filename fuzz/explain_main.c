/* fuzz/explain_main.c: iouwait-explain TARGET FILE: print the harness
 * scenario (fuzz/loop_scenario.h) of a loop or ring fuzz input on stdout.
 *
 * Exit status: 0 the scenario is complete; 3 the history broke an oracle or
 * an invariant on this build (a crash input): the scenario stops at the
 * departing step; 4 the same inside the final drain (`run`); 1 the file
 * cannot be read; 2 usage error or a target with no scenario equivalent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_run.h"
#include "loop_scenario.h"

int main(int argc, char **argv)
{
	uint8_t *data = NULL;
	size_t size = 0, cap = 0;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: iouwait-explain loop|ring FILE\n");
		return 2;
	}
	if (strcmp(argv[1], "loop") != 0 && strcmp(argv[1], "ring") != 0) {
		fprintf(stderr, "iouwait-explain: %s: only loop and ring histories have a scenario\n",
		        argv[1]);
		return 2;
	}
	f = fopen(argv[2], "rb");
	if (!f) {
		fprintf(stderr, "iouwait-explain: %s: cannot read: %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (;;) {
		size_t n;

		if (size == cap) {
			uint8_t *nd = realloc(data, cap ? cap * 2 : 4096);

			if (!nd) {
				fclose(f);
				free(data);
				return 1;
			}
			data = nd;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "iouwait-explain: %s: cannot read\n", argv[2]);
		fclose(f);
		free(data);
		return 1;
	}
	fclose(f);
	fflush(stdout);
	iouw_ls_start(STDOUT_FILENO, 3);
	iouw_lr_scenario = iouw_ls_hooks();
	/* The in-memory ring decides the history (the ring target replays the
	 * same history through a real ring). */
	iouw_loop_history_run("iouwait-explain", NULL, data, size, NULL);
	iouw_lr_scenario = NULL;
	free(data);
	return iouw_ls_finish(stdout) == 0 ? 0 : 1;
}
