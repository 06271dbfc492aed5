/* fuzz/ring_backend.c: see ring_backend.h. */
#include "ring_backend.h"

#include <errno.h>

#include "skernel.h"
#include "uring_backend.h"

#define RING_ENTRIES 8
#define RING_CQ_ENTRIES 16

int iouw_fz_ring_new(struct iouw_backend **ret)
{
	struct iouw_uring_config cfg = { .entries = RING_ENTRIES, .cq_entries = RING_CQ_ENTRIES };
	int err = iouw_uring_available();

	if (err < 0)
		return err;
	/* SQ of 1 until the first history resizes it. */
	return iouw_skernel_new_injecting(&cfg, 1, false, ret, NULL);
}

void iouw_ring_history_print(FILE *out, const uint8_t *data, size_t size)
{
	fprintf(out, "ring history = loop history (same decoder; printed by running it on the "
	             "in-memory ring)\n");
	iouw_loop_history_print(out, data, size);
}
