/* harness/expect.c: byte comparison, the fd ledger, the outstanding census
 * and the wait record (contract and invariants in expect.h). */
#define _GNU_SOURCE
#include "expect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

/* ---- bytes ------------------------------------------------------------------ */

/* Up to @n bytes of @p from @off, escaped, into @buf (with "..." marks when
 * cut on either side). */
static void excerpt(const unsigned char *p, size_t len, size_t off, char *buf, size_t cap)
{
	size_t from = off > 8 ? off - 8 : 0, to = off + 16 < len ? off + 16 : len, k = 0;

	if (cap < 8)
		return;
	if (from > 0)
		k += (size_t)snprintf(buf + k, cap - k, "...");
	buf[k++] = '"';
	for (size_t i = from; i < to && k + 6 < cap; i++) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\')
			k += (size_t)snprintf(buf + k, cap - k, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			buf[k++] = (char)c;
		else
			k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
	}
	buf[k++] = '"';
	buf[k] = '\0';
	if (to < len && k + 4 < cap)
		snprintf(buf + k, cap - k, "...");
}

bool iouw_expect_bytes(const void *want, size_t wlen, const void *got, size_t glen, char *msg,
                       size_t msglen)
{
	const unsigned char *w = want, *g = got;
	size_t n = wlen < glen ? wlen : glen, off = 0;
	char ew[160], eg[160];

	while (off < n && w[off] == g[off])
		off++;
	if (off == n && wlen == glen)
		return true;
	excerpt(w, wlen, off, ew, sizeof(ew));
	excerpt(g, glen, off, eg, sizeof(eg));
	if (off == n)
		snprintf(msg, msglen, "%zu bytes, expected %zu: equal up to offset %zu, where the %s "
		         "ends; got %s, expected %s", glen, wlen, off, glen < wlen ? "data" : "expected",
		         eg, ew);
	else
		snprintf(msg, msglen, "%zu bytes (expected %zu), first difference at offset %zu: "
		         "0x%02x, expected 0x%02x; got %s, expected %s", glen, wlen, off, g[off], w[off],
		         eg, ew);
	return false;
}

int iouw_expect_sqe_bytes(const struct io_uring_sqe *sqe, char **data, size_t *len, size_t *total,
                          unsigned *iovs)
{
	const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;
	size_t n = 0;
	char *buf;

	*data = NULL;
	*len = *total = 0;
	*iovs = 0;
	switch (sqe->opcode) {
	case IORING_OP_RECV:
	case IORING_OP_READ:
		*total = sqe->len;
		return 0;
	case IORING_OP_SEND:
	case IORING_OP_WRITE:
		n = sqe->len;
		break;
	case IORING_OP_WRITEV:
		*iovs = sqe->len;
		for (unsigned i = 0; i < sqe->len; i++)
			n += iov[i].iov_len;
		break;
	default:
		return 0;
	}
	*total = n;
	if (n == 0)
		return 0;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	if (sqe->opcode == IORING_OP_WRITEV) {
		size_t k = 0;

		for (unsigned i = 0; i < sqe->len; i++) {
			memcpy(buf + k, iov[i].iov_base, iov[i].iov_len);
			k += iov[i].iov_len;
		}
	} else {
		memcpy(buf, (const void *)(uintptr_t)sqe->addr, n);
	}
	*data = buf;
	*len = n;
	return 0;
}

/* ---- fd ledger ---------------------------------------------------------------- */

static bool same_file(int fd, dev_t dev, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The fds open now, sorted, without the directory's own. */
static int list_fds(int **ret, size_t *ret_n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int *v = NULL;
	size_t n = 0, cap = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || fd == dirfd(d))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			int *nv = realloc(v, nc * sizeof(*nv));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = (int)fd;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_int);
	*ret = v;
	*ret_n = n;
	return 0;
}

int iouw_fdl_init(struct iouw_fd_ledger *l)
{
	int p[2], e;
	struct stat st;

	memset(l, 0, sizeof(*l));
	l->holder = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	close(p[1]);
	l->holder = p[0];
	if (fstat(l->holder, &st) < 0) {
		e = -errno;
		iouw_fdl_free(l);
		return e;
	}
	l->holder_dev = st.st_dev;
	l->holder_ino = st.st_ino;
	e = list_fds(&l->start_fds, &l->nstart);
	if (e < 0)
		iouw_fdl_free(l);
	return e;
}

void iouw_fdl_free(struct iouw_fd_ledger *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].state == IOUW_FDL_CLOSED && same_file(l->e[i].fd, l->holder_dev, l->holder_ino))
			close(l->e[i].fd);
	if (l->holder >= 0)
		close(l->holder);
	free(l->e);
	free(l->start_fds);
	memset(l, 0, sizeof(*l));
	l->holder = -1;
}

int iouw_fdl_track(struct iouw_fd_ledger *l, size_t idx, int fd)
{
	struct stat st;

	if (idx >= l->cap) {
		size_t nc = idx + 16;
		struct iouw_fdl_entry *ne = realloc(l->e, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		memset(ne + l->cap, 0, (nc - l->cap) * sizeof(*ne));
		for (size_t i = l->cap; i < nc; i++)
			ne[i].fd = -1;
		l->e = ne;
		l->cap = nc;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	l->e[idx].fd = fd;
	l->e[idx].dev = st.st_dev;
	l->e[idx].ino = st.st_ino;
	l->e[idx].state = IOUW_FDL_TRACKED;
	if (idx >= l->n)
		l->n = idx + 1;
	return 0;
}

void iouw_fdl_ended(struct iouw_fd_ledger *l, size_t idx, int line, bool detached)
{
	if (idx >= l->n || l->e[idx].fd < 0 || l->e[idx].state != IOUW_FDL_TRACKED)
		return;
	l->e[idx].state = IOUW_FDL_ENDED;
	l->e[idx].ended_line = line;
	l->e[idx].detached = detached;
}

int iouw_fdl_settle(struct iouw_fd_ledger *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct iouw_fdl_entry *e = &l->e[i];

		if (e->state != IOUW_FDL_ENDED)
			continue;
		if (fd_open(e->fd)) {
			/* Still the dup: not closed yet (detached, or a leak
			 * that expect fd/outstanding will name). */
			if (!same_file(e->fd, e->dev, e->ino))
				e->state = IOUW_FDL_REUSED;
			continue;
		}
		if (dup3(l->holder, e->fd, O_CLOEXEC) < 0)
			return -errno;
		e->state = IOUW_FDL_CLOSED;
	}
	return 0;
}

bool iouw_fdl_check(const struct iouw_fd_ledger *l, size_t idx, bool want_closed, char *msg,
                    size_t msglen)
{
	const struct iouw_fdl_entry *e = idx < l->n ? &l->e[idx] : NULL;
	bool dup_open;

	if (!e || e->fd < 0) {
		snprintf(msg, msglen, "no fd recorded for this request");
		return false;
	}
	dup_open = same_file(e->fd, e->dev, e->ino);
	if (!want_closed) {
		if (e->state == IOUW_FDL_TRACKED && dup_open)
			return true;
		if (dup_open)
			snprintf(msg, msglen, "its dup (fd %d) is open, but the request ended at line %d",
			         e->fd, e->ended_line);
		else
			snprintf(msg, msglen, "its dup (fd %d) is closed%s", e->fd,
			         e->state == IOUW_FDL_TRACKED ? " while the request is still alive" : "");
		return false;
	}
	switch (e->state) {
	case IOUW_FDL_TRACKED:
		snprintf(msg, msglen, "the request has not ended: its dup (fd %d) is %s", e->fd,
		         dup_open ? "open" : "ALREADY CLOSED while it is alive");
		return false;
	case IOUW_FDL_ENDED:
		snprintf(msg, msglen, "its dup (fd %d) is still open after the request ended at line "
		         "%d%s", e->fd, e->ended_line,
		         e->detached ? " (abandoned with its op in flight: the loop keeps it until "
		                       "iouw_loop_free)" : "");
		return false;
	case IOUW_FDL_CLOSED:
		if (same_file(e->fd, l->holder_dev, l->holder_ino))
			return true;
		snprintf(msg, msglen, "its dup (fd %d) was closed when the request ended at line %d, "
		         "then fd %d was closed AGAIN (the harness's placeholder there is gone)", e->fd,
		         e->ended_line, e->fd);
		return false;
	case IOUW_FDL_REUSED:
		/* Closed once; its number went to someone else before the
		 * placeholder could be set, so a second close is not seen. */
		return true;
	}
	return false;
}

bool iouw_fdl_owns(const struct iouw_fd_ledger *l, int fd)
{
	if (fd == l->holder)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].state == IOUW_FDL_CLOSED && l->e[i].fd == fd)
			return same_file(fd, l->holder_dev, l->holder_ino);
	return false;
}

bool iouw_fdl_preexisting(const struct iouw_fd_ledger *l, int fd)
{
	return l->nstart && bsearch(&fd, l->start_fds, l->nstart, sizeof(int), cmp_int) != NULL;
}

ssize_t iouw_fdl_find(const struct iouw_fd_ledger *l, int fd)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].fd == fd && (l->e[i].state == IOUW_FDL_TRACKED ||
		                         l->e[i].state == IOUW_FDL_ENDED) &&
		    same_file(fd, l->e[i].dev, l->e[i].ino))
			return (ssize_t)i;
	return -1;
}

void iouw_outstanding_note(struct iouw_outstanding *o, const char *fmt, ...)
{
	size_t len = strlen(o->detail);
	char t[256];
	va_list ap;

	if (len >= 3 && !strcmp(o->detail + len - 3, "..."))
		return;
	va_start(ap, fmt);
	vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	if (len + strlen(t) + 2 + 4 < sizeof(o->detail))
		snprintf(o->detail + len, sizeof(o->detail) - len, "%s%s", len ? "; " : "", t);
	else
		snprintf(o->detail + len, sizeof(o->detail) - len, "%s", len ? "; ..." : "...");
}

int iouw_fdl_census(const struct iouw_fd_ledger *l, const int *skip, size_t nskip,
                    const char *const *names, size_t nnames, struct iouw_outstanding *o)
{
	int *now = NULL;
	size_t n = 0;
	int e = list_fds(&now, &n);

	if (e < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		int fd = now[i];
		bool skipped = iouw_fdl_preexisting(l, fd) || iouw_fdl_owns(l, fd);
		ssize_t who;

		for (size_t k = 0; k < nskip && !skipped; k++)
			skipped = skip[k] == fd;
		if (skipped)
			continue;
		o->fds++;
		who = iouw_fdl_find(l, fd);
		if (who >= 0 && (size_t)who < nnames) {
			iouw_outstanding_note(o, "fd %d: %s's dup", fd, names[who]);
		} else {
			char path[64], target[128];
			ssize_t k;

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			k = readlink(path, target, sizeof(target) - 1);
			target[k > 0 ? k : 0] = '\0';
			iouw_outstanding_note(o, "fd %d -> %s", fd, k > 0 ? target : "?");
		}
	}
	free(now);
	return 0;
}

/* ---- waits ------------------------------------------------------------------------ */

const char *iouw_expect_fmt_dur(uint64_t ns, char *buf, size_t len)
{
	if (ns == 0)
		snprintf(buf, len, "0");
	else if (ns % 1000000000u == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / 1000000000u));
	else if (ns % 1000000u == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000u));
	else if (ns % 1000u == 0)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000u));
	else
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	return buf;
}

void iouw_wait_describe(const struct iouw_wait_rec *w, const char *why_not, char *buf, size_t len)
{
	char b[32], m[32];

	if (w->bound_ns == IOUW_WAIT_NO_BOUND)
		snprintf(b, sizeof(b), "none");
	else
		iouw_expect_fmt_dur(w->bound_ns, b, sizeof(b));
	iouw_expect_fmt_dur(w->moved_ns, m, sizeof(m));
	switch (w->how) {
	case 'n':
		snprintf(buf, len, "did not block: %s", why_not ? why_not : "the loop asked not to");
		break;
	case 'c':
		snprintf(buf, len, "blocking wait (bound %s) returned at once: a CQE the script "
		         "named was ready", b);
		break;
	case 'd':
		snprintf(buf, len, "blocking wait (bound %s) answered by a deferred CQE (at_wait=1)", b);
		break;
	case 't':
		snprintf(buf, len, "blocked until the bound (nothing named): clock +%s; what falls "
		         "due then is handled after the wait, a deadline by the NEXT turn's "
		         "advance", m);
		break;
	case 'f':
		snprintf(buf, len, "wait failed as scripted (wait_fail)");
		break;
	case 'e':
		snprintf(buf, len, "wait failed: %d (wait limit, a failed deferred CQE or submit)",
		         w->res);
		break;
	default:
		snprintf(buf, len, "would block forever: no bound and nothing named");
		break;
	}
}

bool iouw_wait_check(const struct iouw_wait_rec *w, int blocked, bool has_bound, uint64_t bound_ns,
                     bool has_moved, uint64_t moved_ns, char *msg, size_t msglen)
{
	char gb[32], gm[32];
	bool got_blocked = w->wait_nr > 0;

	if (!w->valid) {
		snprintf(msg, msglen, "the loop has not waited yet");
		return false;
	}
	if (w->bound_ns == IOUW_WAIT_NO_BOUND || !got_blocked)
		snprintf(gb, sizeof(gb), "none");
	else
		iouw_expect_fmt_dur(w->bound_ns, gb, sizeof(gb));
	iouw_expect_fmt_dur(w->moved_ns, gm, sizeof(gm));
	if ((blocked >= 0 && (blocked != 0) != got_blocked) ||
	    (has_bound && (bound_ns == IOUW_WAIT_NO_BOUND
	                   ? got_blocked && w->bound_ns != IOUW_WAIT_NO_BOUND
	                   : !got_blocked || w->bound_ns != bound_ns)) ||
	    (has_moved && moved_ns != w->moved_ns)) {
		char why[200];

		iouw_wait_describe(w, NULL, why, sizeof(why));
		snprintf(msg, msglen, "blocked=%d bound=%s moved=%s (line %d: %s)", got_blocked, gb,
		         gm, w->line, why);
		return false;
	}
	return true;
}
