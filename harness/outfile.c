/* harness/outfile.c: see outfile.h. */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

const char *iouw_outfile_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file";
}

/* 0 when @path may be replaced (absent or a regular file that is no input). */
static int check_target(const char *path, const struct stat *inputs, size_t ninputs, char *err,
                        size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: error: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: error: refusing to replace %s (only a regular file is "
		         "replaced)", path, iouw_outfile_kind(st.st_mode));
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	for (size_t i = 0; i < ninputs; i++)
		if (inputs[i].st_dev == st.st_dev && inputs[i].st_ino == st.st_ino) {
			snprintf(err, errlen, "%s: error: refusing to overwrite an input (same file)",
			         path);
			return -EEXIST;
		}
	return 0;
}

/* A fresh sibling name "<path>.tmp.XXXXXX" (random suffix). */
static char *sibling(const char *path)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	char *s;
	size_t n;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(rand() ^ getpid() ^ (int)i);
	if (asprintf(&s, "%s.tmp.XXXXXX", path) < 0)
		return NULL;
	n = strlen(s);
	for (size_t i = 0; i < sizeof(rnd); i++)
		s[n - 6 + i] = set[rnd[i] % (sizeof(set) - 1)];
	return s;
}

int iouw_outfile_open(const char *path, const struct stat *inputs, size_t ninputs,
                      struct iouw_outfile *ret, char *err, size_t errlen)
{
	char *dup = NULL;
	int e, fd;

	ret->fd = -1;
	ret->path = NULL;
	ret->named = NULL;
	e = check_target(path, inputs, ninputs, err, errlen);
	if (e < 0)
		return e;
	ret->path = strdup(path);
	dup = strdup(path);
	if (!ret->path || !dup) {
		free(dup);
		free(ret->path);
		ret->path = NULL;
		snprintf(err, errlen, "%s: error: environment: out of memory", path);
		return -ENOMEM;
	}
	/* mode 0666: the umask applies, as for any created file. */
	fd = open(dirname(dup), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	free(dup);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* No O_TMPFILE here: a named sibling, removed by discard. */
		for (int tries = 0; tries < 100 && fd < 0; tries++) {
			free(ret->named);
			ret->named = sibling(path);
			if (!ret->named) {
				errno = ENOMEM;
				break;
			}
			fd = open(ret->named, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
			if (fd < 0 && errno != EEXIST)
				break;
		}
	}
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: error: cannot create the output: %s", path, strerror(errno));
		free(ret->named);
		free(ret->path);
		ret->named = ret->path = NULL;
		return e;
	}
	ret->fd = fd;
	return 0;
}

void iouw_outfile_discard(struct iouw_outfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->named)
		unlink(f->named);
	free(f->named);
	free(f->path);
	f->fd = -1;
	f->named = f->path = NULL;
}

int iouw_outfile_commit(struct iouw_outfile *f, char *err, size_t errlen)
{
	char *name = f->named;
	int e;

	if (fsync(f->fd) < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: error: writing the output: %s", f->path, strerror(errno));
		goto fail;
	}
	/* Re-check: something may have appeared at OUT while the data was
	 * written (inputs were checked at open). */
	e = check_target(f->path, NULL, 0, err, errlen);
	if (e < 0)
		goto fail;
	if (!name) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
		for (int tries = 0; tries < 100; tries++) {
			name = sibling(f->path);
			if (!name) {
				e = -ENOMEM;
				snprintf(err, errlen, "%s: error: environment: out of memory", f->path);
				goto fail;
			}
			if (linkat(f->fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0 ||
			    (errno != EEXIST &&
			     linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0))
				break;
			e = -errno;
			free(name);
			name = NULL;
			if (e != -EEXIST) {
				snprintf(err, errlen, "%s: error: linking the output: %s", f->path,
				         strerror(-e));
				goto fail;
			}
		}
		if (!name) {
			e = -EEXIST;
			snprintf(err, errlen, "%s: error: no free temporary name", f->path);
			goto fail;
		}
		f->named = name;
	}
	if (rename(name, f->path) < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: error: renaming into place: %s", f->path, strerror(errno));
		goto fail;
	}
	free(f->named);
	f->named = NULL;
	iouw_outfile_discard(f);
	return 0;
fail:
	iouw_outfile_discard(f);
	return e;
}
