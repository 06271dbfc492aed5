/* fuzz/fuzz_script.c: the `script` target: the scenario parser on arbitrary
 * bytes (oracles in script_check.h). */
#include <stddef.h>
#include <stdint.h>

#include "script_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	iouw_script_check(data, size);
	return 0;
}
