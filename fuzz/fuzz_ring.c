/* fuzz/fuzz_ring.c: fuzz target "ring": the loop target's histories and
 * oracles (fuzz/loop_run.h), but every CQE reaches the loop through a REAL
 * io_uring ring in inject mode (the scripted kernel of core/skernel.h, set
 * up by fuzz/ring_backend.h: NOP result injection, MSG_RING as the
 * fallback); the SQEs the loop stages are captured and never reach the
 * kernel.
 *
 * The ring is created once per process (the static below; core/ stays free
 * of globals). Where io_uring is unavailable (seccomp, io_uring_disabled, an
 * old kernel without injection), the first input prints one warning; under
 * the replay driver (fuzz-regress tests) the process then exits 77, which
 * meson's exitcode protocol reports as SKIP; under a fuzz engine every input
 * returns at once. Running out of fds or memory while setting it up (or
 * in a history, fuzz/loop_run.h) is an environment failure instead
 * (fuzz/environment.h): that input is skipped, the next one tries again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "ring_backend.h"

static struct iouw_backend *ring;
static int ring_err = 1; /* 1: not set up yet */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ring_err == 1) {
		ring_err = iouw_fz_ring_new(&ring);
		if (iouw_fuzz_env_error(ring_err)) {
			/* Out of fds or memory: skip this input, try again on
			 * the next. */
			iouw_fuzz_env_report("fuzz_ring", "setting up the ring", ring_err);
			ring_err = 1;
			return IOUW_FUZZ_SKIPPED;
		}
		if (ring_err)
			fprintf(stderr, "fuzz_ring: io_uring unavailable (%s): skipping\n",
			        strerror(-ring_err));
	}
	if (ring_err) {
		if (iouw_fuzz_replaying)
			exit(77);
		return 0;
	}
	return iouw_loop_history_run("fuzz_ring", ring, data, size, NULL);
}
