/* fuzz/empty.c: the empty libFuzzer target, the yardstick of
 * scripts/fuzz-throughput (every target's exec/s is reported as a ratio to
 * this one measured in the same run). Owns nothing; reads nothing; built only
 * in fuzzer builds and named iouwait-empty-target (not fuzz_*) so that
 * scripts/fuzz and the regression suites never treat it as a target. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  (void)data;
  (void)size;
  return 0;
}
