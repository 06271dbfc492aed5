/* fuzz/replay.c: see replay.h. */
#define _GNU_SOURCE
#include "replay.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read all of @path into a fresh buffer: 0, or -errno. */
static int read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t n;

		if (size == cap) {
			uint8_t *bigger;

			cap = cap ? cap * 2 : 4096;
			bigger = realloc(data, cap);
			if (!bigger) {
				free(data);
				fclose(f);
				return -ENOMEM;
			}
			data = bigger;
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		int err = errno ? -errno : -EIO;

		free(data);
		fclose(f);
		return err;
	}
	fclose(f);
	*ret_data = data;
	*ret_size = size;
	return 0;
}

static int run_file(const char *prog, const char *path)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int r = read_file(path, &data, &size);

	if (r < 0 && iouw_fuzz_env_error(r)) {
		fprintf(stderr, "%s: %s: environment: cannot read: %s (input skipped)\n", prog, path,
		        strerror(-r));
		return IOUW_FUZZ_EXIT_ENVIRONMENT;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s: cannot read: %s\n", prog, path, strerror(-r));
		return 1;
	}
	printf("%s: running %s (%zu bytes)\n", prog, path, size);
	fflush(stdout);
	/* Copy into an exact-size buffer so ASan catches reads past the end. */
	{
		uint8_t *exact = malloc(size ? size : 1);

		if (!exact) {
			free(data);
			fprintf(stderr, "%s: %s: environment: out of memory (input skipped)\n", prog,
			        path);
			return IOUW_FUZZ_EXIT_ENVIRONMENT;
		}
		memcpy(exact, data, size);
		free(data);
		r = LLVMFuzzerTestOneInput(exact, size);
		free(exact);
	}
	return r == IOUW_FUZZ_SKIPPED ? IOUW_FUZZ_EXIT_ENVIRONMENT : 0;
}

/* Combine two run statuses: 1 (unreadable) wins over 77 (skipped). */
static int worst(int a, int b)
{
	return a == 1 || b == 1 ? 1 : a ? a : b;
}

static int run_dir(const char *prog, const char *path)
{
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	int status = 0;

	if (n < 0) {
		int err = -errno;

		fprintf(stderr, "%s: %s: %scannot read: %s\n", prog, path,
		        iouw_fuzz_env_error(err) ? "environment: " : "", strerror(-err));
		return iouw_fuzz_env_error(err) ? IOUW_FUZZ_EXIT_ENVIRONMENT : 1;
	}
	for (int i = 0; i < n; i++) {
		char *child;
		struct stat st;

		if (names[i]->d_name[0] == '.' || asprintf(&child, "%s/%s", path, names[i]->d_name) < 0) {
			free(names[i]);
			continue;
		}
		if (stat(child, &st) == 0 && S_ISREG(st.st_mode))
			status = worst(status, run_file(prog, child));
		free(child);
		free(names[i]);
	}
	free(names);
	return status;
}

bool iouw_fuzz_replaying;

int iouw_fuzz_replay(const char *prog, int npaths, char **paths)
{
	int status = 0;

	iouw_fuzz_replaying = true;
	for (int i = 0; i < npaths; i++) {
		struct stat st;

		if (stat(paths[i], &st) < 0) {
			fprintf(stderr, "%s: %s: cannot read: %s\n", prog, paths[i], strerror(errno));
			status = 1;
		} else if (S_ISDIR(st.st_mode)) {
			status = worst(status, run_dir(prog, paths[i]));
		} else {
			status = worst(status, run_file(prog, paths[i]));
		}
	}
	return status;
}
