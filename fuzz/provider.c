/* fuzz/provider.c: see provider.h (encoding documented there). */
#include "provider.h"

#include <string.h>

void iouw_fdp_init(struct iouw_fdp *p, const uint8_t *data, size_t size)
{
	p->data = data;
	p->front = 0;
	p->back = data ? size : 0;
	p->chooser = NULL;
}

size_t iouw_fdp_remaining(const struct iouw_fdp *p)
{
	if (p->chooser)
		return p->chooser->more(p->chooser->ctx) ? 1 : 0;
	return p->back - p->front;
}

static uint64_t in_range(struct iouw_fdp *p, uint64_t min, uint64_t max, bool pick)
{
	uint64_t range, result = 0;
	unsigned offset = 0;

	if (min >= max)
		return min;
	if (p->chooser)
		return p->chooser->choose(p->chooser->ctx, min, max, pick);
	range = max - min;
	while (offset < 64 && (range >> offset) > 0 && p->back > p->front) {
		p->back--;
		result = (result << 8) | p->data[p->back];
		offset += 8;
	}
	if (range != UINT64_MAX)
		result %= range + 1;
	return min + result;
}

uint64_t iouw_fdp_u64_in_range(struct iouw_fdp *p, uint64_t min, uint64_t max)
{
	return in_range(p, min, max, false);
}

uint32_t iouw_fdp_u32_in_range(struct iouw_fdp *p, uint32_t min, uint32_t max)
{
	return (uint32_t)iouw_fdp_u64_in_range(p, min, max);
}

uint8_t iouw_fdp_u8(struct iouw_fdp *p)
{
	return (uint8_t)iouw_fdp_u64_in_range(p, 0, UINT8_MAX);
}

bool iouw_fdp_bool(struct iouw_fdp *p)
{
	return (iouw_fdp_u8(p) & 1) != 0;
}

size_t iouw_fdp_pick(struct iouw_fdp *p, size_t count)
{
	if (count == 0)
		return 0;
	return (size_t)in_range(p, 0, (uint64_t)count - 1, true);
}

size_t iouw_fdp_bytes(struct iouw_fdp *p, void *out, size_t n)
{
	size_t avail = iouw_fdp_remaining(p);
	size_t take = n < avail ? n : avail;

	if (take)
		memcpy(out, p->data + p->front, take);
	if (n > take)
		memset((uint8_t *)out + take, 0, n - take);
	p->front += take;
	return take;
}
