/* fuzz/request_spec.c: see request_spec.h. */
#define _GNU_SOURCE
#include "request_spec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static uint8_t pattern(uint32_t stamp, uint32_t i)
{
	return (uint8_t)(stamp * 31u + i * 7u + 1u);
}

void iouw_rs_decode(struct iouw_fdp *p, uint32_t stamp, struct iouw_rs_spec *s)
{
	uint32_t total = 0, maxlen;

	memset(s, 0, sizeof(*s));
	s->stamp = stamp;
	s->kind = (enum iouw_request_kind)iouw_fdp_pick(p, 5);
	switch (s->kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT:
		s->nbufs = iouw_fdp_u32_in_range(p, 1, IOUW_RS_MAX_BUFS);
		maxlen = s->nbufs > 8 ? 3 : 16;
		for (uint32_t i = 0; i < s->nbufs; i++) {
			s->buf_len[i] = iouw_fdp_u32_in_range(p, 0, maxlen);
			total += s->buf_len[i];
		}
		if (total == 0)
			s->buf_len[0] = 1;
		if (s->kind == IOUW_REQUEST_WRITE_AT)
			s->file_offset = iouw_fdp_u64_in_range(p, 0, UINT64_C(1) << 40);
		break;
	case IOUW_REQUEST_RECV:
		s->len = iouw_fdp_u32_in_range(p, 1, 24);
		s->offset = iouw_fdp_u32_in_range(p, 0, s->len - 1);
		s->capacity = s->len + iouw_fdp_u32_in_range(p, 0, 3);
		s->exact = iouw_fdp_bool(p);
		break;
	case IOUW_REQUEST_READ_AT:
		s->len = iouw_fdp_u32_in_range(p, 1, 24);
		s->capacity = s->len + iouw_fdp_u32_in_range(p, 0, 3);
		s->file_offset = iouw_fdp_u64_in_range(p, 0, UINT64_C(1) << 40);
		break;
	case IOUW_REQUEST_SYNC:
		break;
	}
}

void iouw_rs_model(const struct iouw_rs_spec *s, struct iouw_rm_req *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = s->kind;
	r->file_offset = s->file_offset;
	switch (s->kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT:
		for (uint32_t i = 0; i < s->nbufs; i++) {
			if (s->buf_len[i] == 0)
				continue; /* empty entries are dropped (request.h) */
			r->seg[r->nsegs++] = s->buf_len[i];
			r->len += s->buf_len[i];
		}
		break;
	case IOUW_REQUEST_RECV:
		r->len = s->len;
		r->done = s->offset;
		r->capacity = s->capacity;
		r->exact = s->exact;
		break;
	case IOUW_REQUEST_READ_AT:
		r->len = s->len;
		r->capacity = s->capacity;
		break;
	case IOUW_REQUEST_SYNC:
		break;
	}
}

void iouw_rs_format(FILE *out, const struct iouw_rs_spec *s)
{
	uint32_t total = 0;

	fprintf(out, "%s", iouw_request_kind_name(s->kind));
	switch (s->kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT:
		fprintf(out, " %u buffer%s [", s->nbufs, s->nbufs == 1 ? "" : "s");
		for (uint32_t i = 0; i < s->nbufs; i++) {
			fprintf(out, "%s%u", i ? " " : "", s->buf_len[i]);
			total += s->buf_len[i];
		}
		fprintf(out, "] (%u bytes)", total);
		if (s->kind == IOUW_REQUEST_WRITE_AT)
			fprintf(out, " at offset %llu", (unsigned long long)s->file_offset);
		break;
	case IOUW_REQUEST_RECV:
		fprintf(out, " %s len %u from offset %u, capacity %u", s->exact ? "exact" : "non-exact",
		        s->len, s->offset, s->capacity);
		break;
	case IOUW_REQUEST_READ_AT:
		fprintf(out, " len %u at file offset %llu, capacity %u", s->len,
		        (unsigned long long)s->file_offset, s->capacity);
		break;
	case IOUW_REQUEST_SYNC:
		break;
	}
}

int iouw_rs_create(const struct iouw_rs_spec *s, int src_fd, uint64_t deadline_ns,
                   struct iouw_rs_live *l)
{
	struct iovec iov[IOUW_RS_MAX_BUFS];
	uint32_t at = 0;
	int r = -EINVAL;

	memset(l, 0, sizeof(*l));
	l->kind = s->kind;
	switch (s->kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT:
		for (uint32_t i = 0; i < s->nbufs; i++)
			l->total += s->buf_len[i];
		l->payload = malloc(l->total);
		if (!l->payload)
			return -ENOMEM;
		for (uint32_t i = 0; i < l->total; i++)
			l->payload[i] = pattern(s->stamp, i);
		for (uint32_t i = 0; i < s->nbufs; i++) {
			iov[i].iov_base = s->buf_len[i] ? l->payload + at : NULL;
			iov[i].iov_len = s->buf_len[i];
			at += s->buf_len[i];
		}
		if (s->kind == IOUW_REQUEST_SEND)
			r = iouw_request_send(src_fd, iov, s->nbufs, deadline_ns, &l->req, &l->handle);
		else
			r = iouw_request_write_at(src_fd, s->file_offset, iov, s->nbufs, &l->req,
			                          &l->handle);
		break;
	case IOUW_REQUEST_RECV:
	case IOUW_REQUEST_READ_AT:
		l->capacity = s->capacity;
		l->buf = malloc(s->capacity);
		l->shadow = malloc(s->capacity);
		if (!l->buf || !l->shadow) {
			free(l->buf);
			free(l->shadow);
			return -ENOMEM;
		}
		memset(l->buf, IOUW_RS_CANARY, s->capacity);
		for (uint32_t i = 0; i < s->offset; i++)
			l->buf[i] = pattern(s->stamp, i);
		memcpy(l->shadow, l->buf, s->capacity);
		if (s->kind == IOUW_REQUEST_RECV)
			r = iouw_request_recv(src_fd, l->buf, s->capacity, s->offset, s->len, s->exact,
			                      deadline_ns, &l->req, &l->handle);
		else
			r = iouw_request_read_at(src_fd, s->file_offset, l->buf, s->capacity, s->len,
			                         &l->req, &l->handle);
		if (r < 0)
			free(l->buf); /* not taken on failure */
		break;
	case IOUW_REQUEST_SYNC:
		r = iouw_request_sync(src_fd, &l->req, &l->handle);
		break;
	}
	if (r < 0) {
		iouw_rs_discard(l);
		return r;
	}
	l->fd = iouw_request_fd(l->req);
	return 0;
}

void iouw_rs_discard(struct iouw_rs_live *l)
{
	free(l->payload);
	free(l->shadow);
	l->payload = NULL;
	l->shadow = NULL;
}

static char msg[256];

#define FAIL(...)                                  \
	do {                                       \
		snprintf(msg, sizeof(msg), __VA_ARGS__); \
		return msg;                        \
	} while (0)

const char *iouw_rs_opcode_name(uint8_t opcode)
{
	switch (opcode) {
	case IORING_OP_SEND: return "SEND";
	case IORING_OP_WRITE: return "WRITE";
	case IORING_OP_WRITEV: return "WRITEV";
	case IORING_OP_RECV: return "RECV";
	case IORING_OP_READ: return "READ";
	case IORING_OP_FSYNC: return "FSYNC";
	case IORING_OP_ASYNC_CANCEL: return "ASYNC_CANCEL";
	case IORING_OP_POLL_ADD: return "POLL_ADD";
	case IORING_OP_NOP: return "NOP";
	}
	return "?";
}

uint32_t iouw_rs_sqe_bytes(const struct io_uring_sqe *sqe)
{
	uint32_t n = 0;

	switch (sqe->opcode) {
	case IORING_OP_SEND:
	case IORING_OP_WRITE:
	case IORING_OP_RECV:
	case IORING_OP_READ:
		return sqe->len;
	case IORING_OP_WRITEV: {
		const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;

		for (uint32_t i = 0; i < sqe->len; i++)
			n += (uint32_t)iov[i].iov_len;
		return n;
	}
	}
	return 0;
}

const char *iouw_rs_check_sqe(const struct iouw_rs_live *l, const struct iouw_rm_sqe *want,
                              const struct io_uring_sqe *sqe)
{
	const uint8_t *addr = (const uint8_t *)(uintptr_t)sqe->addr;

	if (sqe->opcode != want->opcode)
		FAIL("SQE opcode %s, model %s", iouw_rs_opcode_name(sqe->opcode),
		     iouw_rs_opcode_name(want->opcode));
	if (sqe->fd != l->fd || !iouw_rs_fd_open(sqe->fd))
		FAIL("SQE fd %d, request fd %d (open: %d)", sqe->fd, l->fd, iouw_rs_fd_open(sqe->fd));
	if (sqe->flags != 0)
		FAIL("SQE flags %#x (no link, drain or other flag expected)", sqe->flags);
	switch (sqe->opcode) {
	case IORING_OP_FSYNC:
		return NULL;
	case IORING_OP_SEND:
	case IORING_OP_WRITE:
		if (sqe->len != want->bytes)
			FAIL("%s len %u, model %u unsent bytes", iouw_rs_opcode_name(sqe->opcode),
			     sqe->len, want->bytes);
		if (want->at + want->bytes > l->total)
			FAIL("model asks past the payload");
		if (memcmp(addr, l->payload + want->at, want->bytes) != 0)
			FAIL("%s points at the wrong bytes (progress %u)", iouw_rs_opcode_name(sqe->opcode),
			     want->at);
		if (sqe->opcode == IORING_OP_SEND && !(sqe->msg_flags & MSG_NOSIGNAL))
			FAIL("SEND without MSG_NOSIGNAL");
		if (sqe->opcode == IORING_OP_WRITE && sqe->off != want->off)
			FAIL("WRITE offset %llu, model %llu", (unsigned long long)sqe->off,
			     (unsigned long long)want->off);
		return NULL;
	case IORING_OP_WRITEV: {
		const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;
		uint32_t pos = want->at;

		if (sqe->len != want->niov)
			FAIL("WRITEV with %u iovecs, model %u", sqe->len, want->niov);
		for (uint32_t i = 0; i < sqe->len; i++) {
			if (iov[i].iov_len == 0)
				FAIL("WRITEV iovec %u is empty", i);
			if (pos + iov[i].iov_len > l->total)
				FAIL("WRITEV iovec %u runs past the payload", i);
			if (memcmp(iov[i].iov_base, l->payload + pos, iov[i].iov_len) != 0)
				FAIL("WRITEV iovec %u points at the wrong bytes", i);
			pos += (uint32_t)iov[i].iov_len;
		}
		if (pos - want->at != want->bytes)
			FAIL("WRITEV describes %u bytes, model %u", pos - want->at, want->bytes);
		if (sqe->off != want->off)
			FAIL("WRITEV offset %llu, model %llu", (unsigned long long)sqe->off,
			     (unsigned long long)want->off);
		return NULL;
	}
	case IORING_OP_RECV:
	case IORING_OP_READ:
		if (addr != l->buf + want->at)
			FAIL("%s address at byte %td of the buffer, model %u",
			     iouw_rs_opcode_name(sqe->opcode), addr - l->buf, want->at);
		if (sqe->len != want->bytes || want->at + want->bytes > l->capacity)
			FAIL("%s len %u, model %u", iouw_rs_opcode_name(sqe->opcode), sqe->len,
			     want->bytes);
		if (sqe->opcode == IORING_OP_READ && sqe->off != want->off)
			FAIL("READ offset %llu, model %llu", (unsigned long long)sqe->off,
			     (unsigned long long)want->off);
		return NULL;
	}
	FAIL("unexpected opcode %u", sqe->opcode);
}

void iouw_rs_kernel_apply(struct iouw_rs_live *l, const struct io_uring_sqe *sqe, int32_t res,
                          uint32_t stamp)
{
	uint8_t *addr = (uint8_t *)(uintptr_t)sqe->addr;
	size_t at;

	if (res <= 0 || (sqe->opcode != IORING_OP_RECV && sqe->opcode != IORING_OP_READ))
		return;
	at = (size_t)(addr - l->buf);
	for (int32_t i = 0; i < res; i++) {
		uint8_t b = (uint8_t)(0x40 + (stamp + (uint32_t)i) * 13u);

		addr[i] = b;
		l->shadow[at + (size_t)i] = b;
	}
}

const char *iouw_rs_check_result(const struct iouw_rs_live *l, const struct iouw_result *got,
                                 const struct iouw_rm_result *want)
{
	if (got->status != want->status || got->err != want->err || got->value != want->value)
		FAIL("result %s err %d value %zu, model %s err %d value %zu",
		     iouw_status_name(got->status), got->err, got->value, iouw_status_name(want->status),
		     want->err, want->value);
	if (!want->has_buf) {
		if (got->buf || got->buf_len || got->buf_capacity)
			FAIL("result carries a buffer for a %s", iouw_request_kind_name(l->kind));
		return NULL;
	}
	if (got->buf != l->buf)
		FAIL("result hands back another buffer");
	if (got->buf_len != want->buf_len || got->buf_capacity != l->capacity)
		FAIL("result buf_len %zu capacity %zu, model %zu capacity %u", got->buf_len,
		     got->buf_capacity, want->buf_len, l->capacity);
	for (uint32_t i = 0; i < l->capacity; i++)
		if (((const uint8_t *)got->buf)[i] != l->shadow[i])
			FAIL("returned buffer byte %u is %#x, expected %#x%s", i,
			     ((const uint8_t *)got->buf)[i], l->shadow[i],
			     l->shadow[i] == IOUW_RS_CANARY ? " (canary overwritten)" : "");
	return NULL;
}

int iouw_rs_count_fds(void)
{
	/* The directory stays open between calls (it is one of the fds it
	 * lists, every time): rewinding a /proc fd directory lists the fd
	 * table as it is now, and saves an open and a close per call, which
	 * for short fuzz inputs was a third of the run. Reopened in a new
	 * process (AFL++'s fork server), whose /proc/self is another. */
	static DIR *d;
	static pid_t owner;
	struct dirent *e;
	int n = 0;

	if (d && owner != getpid()) {
		closedir(d); /* the parent's copy, inherited */
		d = NULL;
	}
	if (!d) {
		d = opendir("/proc/self/fd");
		if (!d)
			return -errno;
		owner = getpid();
	} else {
		rewinddir(d);
	}
	errno = 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (errno != 0) {
		int err = -errno;

		closedir(d);
		d = NULL;
		return err;
	}
	return n - 1; /* the directory's own fd */
}

bool iouw_rs_fd_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

int iouw_rs_source_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
