/* fuzz/decode.c: iouwait-decode TARGET FILE: print the history a fuzz
 * input decodes to, in words (used by scripts/repro and scripts/explain).
 *
 * Every fuzz target NAME provides iouw_NAME_history_print(FILE *, const
 * uint8_t *, size_t); the list of targets comes from fuzz/meson.build's
 * fuzz_targets dict through the generated fuzz_targets.h. Exit 0, 1 when
 * the file cannot be read, 2 for a usage error or an unknown target.
 *
 * The printers run the targets' own decoders, so a decode keeps to the
 * target's step budget (README "Fuzzing": waiter_history.h,
 * request_history.h, loop_run.h, script_check.h) and ends quickly whatever
 * the input size; the printed history says when the budget cut it short.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_targets.h"

#define DECLARE_PRINTER(name) \
	void iouw_##name##_history_print(FILE *out, const uint8_t *data, size_t size);
IOUW_FUZZ_TARGETS(DECLARE_PRINTER)

struct printer {
	const char *name;
	void (*print)(FILE *out, const uint8_t *data, size_t size);
};

#define PRINTER_ENTRY(name) { #name, iouw_##name##_history_print },
static const struct printer printers[] = { IOUW_FUZZ_TARGETS(PRINTER_ENTRY) };

static void usage(FILE *out)
{
	fprintf(out, "usage: iouwait-decode TARGET FILE\ntargets:");
	for (size_t i = 0; i < sizeof(printers) / sizeof(printers[0]); i++)
		fprintf(out, " %s", printers[i].name);
	fputc('\n', out);
}

int main(int argc, char **argv)
{
	const struct printer *p = NULL;
	uint8_t *data = NULL;
	size_t size = 0, cap = 0;
	FILE *f;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(printers) / sizeof(printers[0]); i++)
		if (strcmp(printers[i].name, argv[1]) == 0)
			p = &printers[i];
	if (!p) {
		fprintf(stderr, "iouwait-decode: %s: unknown target\n", argv[1]);
		return 2;
	}
	f = fopen(argv[2], "rb");
	if (!f) {
		fprintf(stderr, "iouwait-decode: %s: cannot read: %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (;;) {
		if (size == cap) {
			/* realloc() failing leaves the old buffer allocated: keep
			 * it in data until it is freed. */
			size_t grown_cap = cap ? cap * 2 : 4096;
			uint8_t *grown = grown_cap > cap ? realloc(data, grown_cap) : NULL;

			if (!grown) {
				fprintf(stderr, "iouwait-decode: %s: out of memory after %zu bytes\n",
				        argv[2], size);
				fclose(f);
				free(data);
				return 1;
			}
			data = grown;
			cap = grown_cap;
		}
		{
			size_t n = fread(data + size, 1, cap - size, f);

			size += n;
			if (n == 0)
				break;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "iouwait-decode: %s: cannot read: %s\n", argv[2], strerror(errno));
		fclose(f);
		free(data);
		return 1;
	}
	fclose(f);
	p->print(stdout, data, size);
	free(data);
	return 0;
}
