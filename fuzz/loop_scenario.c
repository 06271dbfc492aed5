/* fuzz/loop_scenario.c: see loop_scenario.h (the translation table there). */
#define _GNU_SOURCE
#include "loop_scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_run.h"

#define LS_MAX_PAYLOAD 256
#define LS_MAX_CONTENT 64 /* read_at files get content when off + len fits */

struct buf {
	char *p;
	size_t len, cap;
};

struct lsreq {
	struct iouw_rs_spec spec;
	uint64_t deadline, now;
	char payload[LS_MAX_PAYLOAD]; /* send/write_at: non-empty buffers joined */
	uint32_t total;
	uint32_t peer;                /* recv: bytes the peer wrote so far */
	bool content;                 /* read_at: its file holds bytes */
	bool reaped;                  /* an op CQE reaped in this step */
	bool ended;
	bool created;                 /* in the scenario (submitted) */
	bool dropped;
	bool told;                    /* its `expect result` is written */
};

static struct {
	bool on;
	int fd;
	int abort_status;
	bool draining;      /* inside `run`: answers are deferred, expects follow it */
	bool drain_clock;   /* the drain let time pass */
	bool drain_late;    /* ... and answered something after that */
	struct buf main;    /* everything up to `run` */
	struct buf post;    /* expectations after `run` */
	uint32_t nreq;
	struct lsreq req[IOUW_LR_MAX_REQUESTS];
} L;

__attribute__((format(printf, 2, 0))) static void vput(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		char *np = realloc(b->p, nc);

		if (!np)
			return;
		b->p = np;
		b->cap = nc;
	}
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
}

__attribute__((format(printf, 1, 2))) static void put(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(L.draining ? &L.post : &L.main, fmt, ap);
	va_end(ap);
}

/* Lines that must come before `run` even while draining. */
__attribute__((format(printf, 1, 2))) static void put_main(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(&L.main, fmt, ap);
	va_end(ap);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void pending_checks(void);

static void on_abort(int sig)
{
	static const char run[] = "run\n";
	static const char note[] =
		"# The history stopped here: the build that explained it broke an oracle\n"
		"# or an invariant at this step (see explain's stderr). The lines above\n"
		"# state the reference model's expectations up to that step.\n";

	(void)sig;
	pending_checks(); /* not async-signal-safe: the abort is our own, from the driver */
	write_all(L.fd, L.main.p, L.main.len);
	if (L.draining) {
		write_all(L.fd, run, sizeof(run) - 1);
		write_all(L.fd, L.post.p, L.post.len);
	}
	write_all(L.fd, note, sizeof(note) - 1);
	/* +1: inside the drain, where the truncated history cannot pass fixed. */
	_exit(L.abort_status + (L.draining ? 1 : 0));
}

void iouw_ls_start(int fd, int abort_status)
{
	memset(&L, 0, sizeof(L));
	L.on = true;
	L.fd = fd;
	L.abort_status = abort_status;
	signal(SIGABRT, on_abort);
}

int iouw_ls_finish(FILE *out)
{
	int rc = 0;

	if (L.main.len && fwrite(L.main.p, 1, L.main.len, out) != L.main.len)
		rc = -EIO;
	free(L.main.p);
	free(L.post.p);
	signal(SIGABRT, SIG_DFL);
	memset(&L, 0, sizeof(L));
	return fflush(out) == 0 ? rc : -EIO;
}

/* ---- rendering ----------------------------------------------------------------- */

static const char *errname(int e)
{
	switch (e) {
	case EIO: return "EIO";
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case EBADF: return "EBADF";
	case ENOSPC: return "ENOSPC";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ECANCELED: return "ECANCELED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EALREADY: return "EALREADY";
	case ENOENT: return "ENOENT";
	case ENOBUFS: return "ENOBUFS";
	default: return NULL;
	}
}

static const char *res_text(int32_t res, char *b, size_t n)
{
	const char *name = res < 0 && res > -4096 ? errname(-res) : NULL;

	if (name)
		snprintf(b, n, "-%s", name);
	else
		snprintf(b, n, "%" PRId32, res);
	return b;
}

static const char *dur_text(uint64_t ns, char *b, size_t n)
{
	if (ns && ns % 1000000 == 0)
		snprintf(b, n, "%" PRIu64 "ms", ns / 1000000);
	else if (ns && ns % 1000 == 0)
		snprintf(b, n, "%" PRIu64 "us", ns / 1000);
	else
		snprintf(b, n, "%" PRIu64 "ns", ns);
	return b;
}

/* A quoted scenario string. */
static void put_str(struct buf *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *s = malloc(4 * n + 3), *w = s;

	if (!s)
		return;
	*w++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c == '\\') {
			*w++ = '\\';
			*w++ = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			*w++ = (char)c;
		} else {
			*w++ = '\\';
			*w++ = 'x';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
	}
	*w++ = '"';
	*w = '\0';
	if (b->len + (size_t)(w - s) + 1 > b->cap) {
		size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)(w - s);
		char *np = realloc(b->p, nc);

		if (!np) {
			free(s);
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, (size_t)(w - s) + 1);
	b->len += (size_t)(w - s);
	free(s);
}

static struct buf *cur(void)
{
	return L.draining ? &L.post : &L.main;
}

/* Bytes the scenario uses: payloads lowercase, peer streams uppercase,
 * recv prefixes digits, read_at files lowercase from another phase. */
static char payload_byte(uint32_t i, uint32_t k)
{
	return (char)('a' + (i * 7 + k) % 26);
}

static char peer_byte(uint32_t i, uint32_t k)
{
	return (char)('A' + (i * 5 + k) % 26);
}

static char prefix_byte(uint32_t k)
{
	return (char)('0' + k % 10);
}

static char file_byte(uint64_t k)
{
	return (char)('a' + (k * 3 + 11) % 26);
}

/* ---- hooks ------------------------------------------------------------------------ */

static void ls_config(unsigned ring, unsigned sq, uint64_t budget_ns, uint64_t tick_ns,
                    uint64_t max_timeout_ns)
{
	char b1[32], b2[32], b3[32];

	if (!L.on)
		return;
	put("# Explained fuzz history (scripts/explain): replays it with injected CQEs\n"
	    "# and states what the reference model expects each caller to get.\n");
	put("modes inject\n");
	put("config ring=%u sq=%u tick=%s max_timeout=%s shutdown=%s prearm=0\n", ring, sq,
	    dur_text(tick_ns, b1, sizeof(b1)), dur_text(max_timeout_ns, b2, sizeof(b2)),
	    budget_ns == UINT64_MAX ? "none" : dur_text(budget_ns, b3, sizeof(b3)));
}

static void ls_step(const char *desc)
{
	const char *a;
	char b[32];

	if (!L.on)
		return;
	put("# %s\n", desc);
	a = strchr(desc, ' ');
	a = a ? strstr(a, "ns ") : NULL; /* after "t=+Tns " */
	if (!a)
		return;
	a += 3;
	if (!strcmp(a, "turn"))
		put("turn\n");
	else if (!strcmp(a, "phase: reap"))
		put("reap\n");
	else if (!strcmp(a, "phase: advance timeouts"))
		put("advance\n");
	else if (!strcmp(a, "phase: fill SQ"))
		put("fill\n");
	else if (!strcmp(a, "phase: submit"))
		put("submit\n");
	else if (!strncmp(a, "clock +", 7))
		put("clock +%s\n", dur_text(strtoull(a + 7, NULL, 10), b, sizeof(b)));
	else if (!strcmp(a, "close"))
		put("close\n");
	else if (!strncmp(a, "run", 3))
		L.draining = true;
}

/* A CQE was reaped for these and the reference recorded nothing terminal. */
static void pending_checks(void)
{
	for (uint32_t i = 0; i < L.nreq; i++) {
		struct lsreq *q = &L.req[i];

		if (q->reaped && !q->ended && !q->told && !q->dropped)
			put("expect result r%u pending\n", i);
		q->reaped = false;
	}
}

static void ls_step_end(void)
{
	if (!L.on)
		return;
	pending_checks();
	if (L.draining) {
		if (L.drain_late)
			put_main("# NOTE: the drain let time pass before a later kernel answer; "
			         "at_wait releases answers first, so this replay may differ\n");
		put_main("run\n");
		if (L.post.len)
			put_main("%.*s", (int)L.post.len, L.post.p);
		L.post.len = 0;
		L.draining = false;
	}
}

static void ls_request(uint32_t i, const struct iouw_rs_spec *s, uint64_t deadline_ns,
                     uint64_t now_ns)
{
	struct lsreq *q;
	uint32_t at = 0;

	if (!L.on || i >= IOUW_LR_MAX_REQUESTS)
		return;
	q = &L.req[i];
	memset(q, 0, sizeof(*q));
	q->spec = *s;
	q->deadline = deadline_ns;
	q->now = now_ns;
	for (uint32_t k = 0; k < s->nbufs; k++)
		for (uint32_t j = 0; j < s->buf_len[k] && at < LS_MAX_PAYLOAD; j++, at++)
			q->payload[at] = payload_byte(i, at);
	q->total = at;
	q->content = s->kind == IOUW_REQUEST_READ_AT &&
	             s->file_offset + s->len <= LS_MAX_CONTENT;
	if (i >= L.nreq)
		L.nreq = i + 1;
}

static void put_deadline(const struct lsreq *q)
{
	char b[32];

	if (q->deadline == UINT64_MAX)
		return;
	if (q->deadline >= q->now)
		put(" deadline=+%s", dur_text(q->deadline - q->now, b, sizeof(b)));
	else
		put(" deadline=-%s", dur_text(q->now - q->deadline, b, sizeof(b)));
}

static void ls_submitted(uint32_t i, bool accepted)
{
	struct lsreq *q = &L.req[i];
	const struct iouw_rs_spec *s = &q->spec;
	struct buf *b = cur();

	if (!L.on)
		return;
	if (!accepted) {
		put("# r%u (%s) refused by submit: the caller gets it back (abandoned)\n", i,
		    iouw_request_kind_name(s->kind));
		q->ended = true;
		return;
	}
	q->created = true;
	switch (s->kind) {
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT: {
		uint32_t at = 0;

		if (s->kind == IOUW_REQUEST_SEND)
			put("socketpair s%u\nsend r%u fd=s%u", i, i, i);
		else
			put("file f%u\nwrite_at r%u fd=f%u off=%" PRIu64, i, i, i, s->file_offset);
		for (uint32_t k = 0; k < s->nbufs; k++) {
			if (s->buf_len[k] == 0)
				continue; /* empty buffers are dropped by the constructor */
			put(" data=");
			put_str(b, q->payload + at, s->buf_len[k]);
			at += s->buf_len[k];
		}
		if (s->kind == IOUW_REQUEST_SEND)
			put_deadline(q);
		break;
	}
	case IOUW_REQUEST_RECV: {
		char pre[32];

		for (uint32_t k = 0; k < s->offset && k < sizeof(pre); k++)
			pre[k] = prefix_byte(k);
		put("socketpair s%u\nrecv r%u fd=s%u len=%u offset=%u capacity=%u exact=%d", i, i, i,
		    s->len, s->offset, s->capacity, s->exact);
		if (s->offset) {
			put(" prefix=");
			put_str(b, pre, s->offset);
		}
		put_deadline(q);
		break;
	}
	case IOUW_REQUEST_READ_AT:
		put("file f%u", i);
		if (q->content) {
			char c[LS_MAX_CONTENT];

			for (uint64_t k = 0; k < s->file_offset + s->len; k++)
				c[k] = file_byte(k);
			put(" content=");
			put_str(b, c, (size_t)(s->file_offset + s->len));
		}
		put("\nread_at r%u fd=f%u off=%" PRIu64 " len=%u capacity=%u", i, i, s->file_offset,
		    s->len, s->capacity);
		break;
	case IOUW_REQUEST_SYNC:
		put("file f%u\nsync r%u fd=f%u", i, i, i);
		break;
	}
	put("\nsubmit r%u\n", i);
}

static void ls_drop(uint32_t i)
{
	if (!L.on)
		return;
	L.req[i].dropped = true;
	put("drop r%u\n", i);
}

static void ls_admit(uint32_t i, bool expired, uint32_t slot, uint32_t gen)
{
	if (!L.on)
		return;
	if (expired)
		put("expect admit r%u expired\n", i);
	else
		put("expect admit r%u slot=%u gen=%u\n", i, slot, gen);
}

static void ls_sqe(uint32_t i, const struct iouw_rm_sqe *w)
{
	struct lsreq *q = &L.req[i];

	if (!L.on)
		return;
	put("expect sqe r%u op=%s", i,
	    w->opcode == IORING_OP_SEND     ? "SEND"
	    : w->opcode == IORING_OP_WRITE  ? "WRITE"
	    : w->opcode == IORING_OP_WRITEV ? "WRITEV"
	    : w->opcode == IORING_OP_RECV   ? "RECV"
	    : w->opcode == IORING_OP_READ   ? "READ"
	                                    : "FSYNC");
	switch (w->opcode) {
	case IORING_OP_RECV:
		put(" len=%u", w->bytes);
		break;
	case IORING_OP_READ:
		put(" len=%u off=%" PRIu64, w->bytes, w->off);
		break;
	case IORING_OP_SEND:
	case IORING_OP_WRITE:
	case IORING_OP_WRITEV:
		if (w->opcode == IORING_OP_WRITEV)
			put(" iovs=%u", w->niov);
		else
			put(" len=%u", w->bytes);
		if (w->opcode != IORING_OP_SEND)
			put(" off=%" PRIu64, w->off);
		if (w->at + w->bytes <= q->total) {
			put(" data=");
			put_str(cur(), q->payload + w->at, w->bytes);
		}
		break;
	default:
		break;
	}
	put("\n");
}

static void ls_cancel_sqe(uint32_t i)
{
	if (L.on)
		put("expect sqe r%u cancel\n", i);
}

static void ls_answer(uint32_t i, bool cancel, int32_t res)
{
	struct lsreq *q = &L.req[i];
	char b[32];

	if (!L.on)
		return;
	if (L.draining && L.drain_clock)
		L.drain_late = true;
	if (!cancel && res > 0 && q->spec.kind == IOUW_REQUEST_RECV) {
		char data[64];

		for (int32_t k = 0; k < res && k < (int32_t)sizeof(data); k++)
			data[k] = peer_byte(i, q->peer + (uint32_t)k);
		put_main("peer write s%u ", i);
		put_str(&L.main, data, (size_t)res);
		put_main("\n");
		q->peer += (uint32_t)res;
	}
	put_main("cqe r%u %s res=%s%s\n", i, cancel ? "cancel" : "op", res_text(res, b, sizeof(b)),
	         L.draining ? " at_wait=1" : "");
}

static void ls_drain_clock(uint64_t ns)
{
	(void)ns;
	if (L.on && L.draining)
		L.drain_clock = true;
}

static void put_result(uint32_t i, const struct iouw_rm_result *w, bool detached);

static void ls_reaped(uint32_t i, const struct iouw_rm_result *done)
{
	struct lsreq *q = &L.req[i];

	if (!L.on)
		return;
	q->reaped = true;
	/* The reference recorded a terminal result: delivered in this reap. */
	if (done && !q->dropped && !q->told) {
		put_result(i, done, false);
		q->told = true;
	}
}

static void ls_result(uint32_t i, const struct iouw_rm_result *w, bool has_handle, bool detached)
{
	struct lsreq *q = &L.req[i];

	if (!L.on)
		return;
	q->ended = true;
	if (!q->created || q->told)
		return; /* refused: never in the scenario; or stated at its reap */
	if (!has_handle) {
		put("# r%u ended; its caller dropped the handle\n", i);
		return;
	}
	put_result(i, w, detached);
}

static void put_result(uint32_t i, const struct iouw_rm_result *w, bool detached)
{
	static const char *const names[] = { "ok", "timeout", "send_failed", "recv_failed",
		                             "read_failed", "write_failed", "insufficient_length",
		                             "sync_error", "abandoned" };
	struct lsreq *q = &L.req[i];

	put("expect result r%u %s", i, (unsigned)w->status < 9 ? names[w->status] : "?");
	if (w->status == IOUW_RESULT_OK)
		put(" %zu", w->value); /* a value is stated only for ok */
	if (w->err) {
		const char *n = errname(w->err);

		if (n)
			put(" err=%s", n);
		else
			put(" err=%d", w->err);
	} else {
		put(" err=0");
	}
	if (!w->has_buf || detached) {
		if (q->spec.kind == IOUW_REQUEST_RECV || q->spec.kind == IOUW_REQUEST_READ_AT)
			put(" len=0"); /* no buffer handed back */
	} else {
		char data[64];
		size_t n = w->buf_len < sizeof(data) ? w->buf_len : sizeof(data);

		put(" len=%zu", w->buf_len);
		for (size_t k = 0; k < n; k++) {
			if (q->spec.kind == IOUW_REQUEST_RECV)
				data[k] = k < q->spec.offset ? prefix_byte((uint32_t)k)
				                             : peer_byte(i, (uint32_t)(k - q->spec.offset));
			else
				data[k] = q->content ? file_byte(q->spec.file_offset + k) : '\0';
		}
		if (n == w->buf_len && n > 0) {
			put(" data=");
			put_str(cur(), data, n);
		}
	}
	put("\n");
}

static const struct iouw_ls_hooks hooks = {
	.config = ls_config,
	.step = ls_step,
	.step_end = ls_step_end,
	.request = ls_request,
	.submitted = ls_submitted,
	.drop = ls_drop,
	.admit = ls_admit,
	.sqe = ls_sqe,
	.cancel_sqe = ls_cancel_sqe,
	.answer = ls_answer,
	.drain_clock = ls_drain_clock,
	.reaped = ls_reaped,
	.result = ls_result,
};

const struct iouw_ls_hooks *iouw_ls_hooks(void)
{
	return &hooks;
}
