/* fuzz/provider.h: a tiny fuzz-input data provider shared by every target
 * (the C cousin of LLVM's FuzzedDataProvider).
 *
 * Owns: struct iouw_fdp, a cursor over one fuzz input.
 *
 * Encoding (stable: committed corpus files depend on it):
 * - integers, ranges, booleans and picks are consumed from the TAIL of the
 *   input, one byte at a time, most significant byte last-read-first exactly
 *   like FuzzedDataProvider::ConsumeIntegralInRange: only as many bytes as
 *   the range needs (a range of 0..255 takes one byte, 0..0 takes none);
 *   the value is min + (bytes % (range + 1));
 * - byte blobs are consumed from the FRONT.
 * - once the input is exhausted every call returns its minimum (0, false,
 *   min, an empty blob), so every input, even an empty one, decodes.
 * Decisions living at the tail and data at the front let libFuzzer's
 * minimiser drop whole steps by truncating, and keep the shape of a history
 * stable while blob bytes mutate.
 *
 * Invariants: front <= back; no call ever reads outside [data, data+size).
 */
#ifndef IOUW_FUZZ_PROVIDER_H
#define IOUW_FUZZ_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Instead of input bytes, a program's choices (fuzz/enumerate.c walks
 * every history within a bound this way): each integer, boolean and pick
 * with more than one possible value is asked of choose() (@pick: it came
 * from iouw_fdp_pick), and iouw_fdp_remaining() is 1 while more() says the
 * history goes on, else 0. The choices made are the input bytes that
 * encoding above would read: a chooser's history is a corpus file. */
struct iouw_fdp_chooser {
	uint64_t (*choose)(void *ctx, uint64_t min, uint64_t max, bool pick);
	bool (*more)(void *ctx);
	void *ctx;
};

struct iouw_fdp {
	const uint8_t *data;
	size_t front; /* next unread byte from the front */
	size_t back;  /* one past the next unread byte from the tail */
	/* NULL (iouw_fdp_init) unless the choices come from a program. */
	const struct iouw_fdp_chooser *chooser;
};

/* Start reading @size bytes at @data (@data may be NULL when @size is 0). */
void iouw_fdp_init(struct iouw_fdp *p, const uint8_t *data, size_t size);

/* Bytes not consumed yet, from either end. */
size_t iouw_fdp_remaining(const struct iouw_fdp *p);

/* An integer in [@min, @max] (@min <= @max, else @min) from the tail. */
uint64_t iouw_fdp_u64_in_range(struct iouw_fdp *p, uint64_t min, uint64_t max);
uint32_t iouw_fdp_u32_in_range(struct iouw_fdp *p, uint32_t min, uint32_t max);

/* One byte from the tail. */
uint8_t iouw_fdp_u8(struct iouw_fdp *p);

/* One tail byte's lowest bit. */
bool iouw_fdp_bool(struct iouw_fdp *p);

/* An index in [0, @count) (0 when @count is 0): a pick among @count
 * alternatives. */
size_t iouw_fdp_pick(struct iouw_fdp *p, size_t count);

/* Copy up to @n bytes from the front into @out, zero the rest of @out, and
 * return how many came from the input. */
size_t iouw_fdp_bytes(struct iouw_fdp *p, void *out, size_t n);

#endif /* IOUW_FUZZ_PROVIDER_H */
