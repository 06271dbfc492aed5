/* fuzz/afl_main.c: AFL++ driver linked into every fuzz target with
 * -Dfuzzer=afl (CC=afl-clang-fast).
 *
 * With afl-clang-fast's shared-memory test cases available
 * (__AFL_FUZZ_TESTCASE_LEN defined), runs in persistent mode: deferred fork
 * server start, then up to 10000 inputs per process through __AFL_LOOP,
 * read from __AFL_FUZZ_TESTCASE_BUF. File arguments, or a compiler without
 * those macros, fall back to replaying files (replay.h), or stdin when no
 * argument is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "replay.h"

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#else
static int run_stdin(void)
{
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), stdin);

	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}
#endif

int main(int argc, char **argv)
{
	if (argc > 1)
		return iouw_fuzz_replay(argv[0], argc - 1, argv + 1);
#ifdef __AFL_FUZZ_TESTCASE_LEN
	__AFL_INIT();
	{
		unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;

		while (__AFL_LOOP(10000)) {
			int len = __AFL_FUZZ_TESTCASE_LEN;

			LLVMFuzzerTestOneInput(buf, (size_t)len);
		}
	}
	return 0;
#else
	return run_stdin();
#endif
}
