/* harness/outfile.h: replace a regular output file atomically, or touch
 * nothing (what `iouwait record -o OUT` writes through).
 *
 * Owns: one pending output: an fd open for writing on an unnamed file
 * (O_TMPFILE in OUT's directory; where the filesystem has none, a named
 * sibling "OUT.tmp.XXXXXX" created O_EXCL), and OUT's path.
 *
 * Invariants:
 *   - OUT is only ever replaced when it does not exist or is a regular file
 *     (lstat: a symlink, directory, FIFO, socket or device node at OUT is
 *     refused, at open and again just before the rename) and is not the same
 *     inode as any input (a hard link or the input itself is refused).
 *   - The file is created with mode 0666 minus the umask, like any file a
 *     shell redirection creates.
 *   - Until commit succeeds OUT is untouched; commit links the data under a
 *     fresh sibling name and renames it over OUT. An unnamed file vanishes
 *     with its last fd, so a process killed before commit (even by SIGKILL)
 *     leaves nothing behind. Limits: the named fallback is removed by
 *     discard, so a SIGKILL before that leaves it; so does one between
 *     commit's link and its rename (microseconds).
 * Not thread-safe; no global state.
 */
#ifndef IOUW_OUTFILE_H
#define IOUW_OUTFILE_H

#include <stddef.h>
#include <sys/stat.h>

struct iouw_outfile {
	int fd;      /* write the data here (owned) */
	char *path;  /* OUT */
	char *named; /* the named fallback temp, or NULL (O_TMPFILE) */
};

/* Check @path and open its pending replacement. @inputs (@ninputs stat
 * results of the files read) must not share an inode with @path. On
 * failure returns -errno (-EEXIST: OUT is an input; -EISDIR, -EINVAL: OUT is
 * not a regular file) and writes one line "OUT: error: ..." to @err, and
 * touches nothing. */
int iouw_outfile_open(const char *path, const struct stat *inputs, size_t ninputs,
                      struct iouw_outfile *ret, char *err, size_t errlen);

/* fsync the data, re-check OUT, and move it into place. Always releases @f
 * (on failure everything it created is removed). Returns 0 or -errno with
 * one line in @err. */
int iouw_outfile_commit(struct iouw_outfile *f, char *err, size_t errlen);

/* Drop the pending replacement; OUT is untouched. */
void iouw_outfile_discard(struct iouw_outfile *f);

/* What a non-regular file is, for a one-line refusal: "a directory",
 * "a symbolic link", "a FIFO", "a socket", "a character device",
 * "a block device" (else "not a regular file"). */
const char *iouw_outfile_kind(mode_t mode);

#endif /* IOUW_OUTFILE_H */
