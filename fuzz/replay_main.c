/* fuzz/replay_main.c: standalone replay driver linked into every fuzz
 * target when no fuzz engine is configured (-Dfuzzer=none): runs
 * LLVMFuzzerTestOneInput once per file argument, or once per file of a
 * directory argument (see replay.h). Exit 0 when every input ran, 1 when a
 * path could not be read, 2 for a usage error, 77 when an input was skipped
 * for the environment (EMFILE, ENOMEM, ...: "environment" on stderr; SKIP
 * for meson); a failing input aborts.
 */
#include <stdio.h>
#include <string.h>

#include "replay.h"

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return argc < 2 ? 2 : 0;
	}
	return iouw_fuzz_replay(argv[0], argc - 1, argv + 1);
}
