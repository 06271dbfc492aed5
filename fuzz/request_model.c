/* fuzz/request_model.c: see request_model.h. Deliberately naive: every
 * cell of docs/requests.md §4.3 is its own line. */
#include "request_model.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>

enum iouw_rm_class iouw_rm_classify(int32_t res, bool cancel_requested)
{
	if (res == -EAGAIN)
		return IOUW_RM_RETRY;
	if (res == -EWOULDBLOCK)
		return IOUW_RM_RETRY;
	if (res == -EINTR)
		return IOUW_RM_RETRY;
	if (res == -ECANCELED && cancel_requested)
		return IOUW_RM_CANCELLED;
	if (res < 0)
		return IOUW_RM_ERROR;
	if (res == 0)
		return IOUW_RM_ZERO;
	return IOUW_RM_POSITIVE;
}

const char *iouw_rm_class_name(enum iouw_rm_class cls)
{
	static const char *names[] = { "Retry", "Cancelled", "Error", "Zero", "Positive" };

	return cls <= IOUW_RM_POSITIVE ? names[cls] : "?";
}

bool iouw_rm_orphanable(enum iouw_request_kind kind)
{
	return kind == IOUW_REQUEST_SEND || kind == IOUW_REQUEST_RECV ||
	       kind == IOUW_REQUEST_READ_AT;
}

static bool gives_buf(enum iouw_request_kind kind)
{
	return kind == IOUW_REQUEST_RECV || kind == IOUW_REQUEST_READ_AT;
}

void iouw_rm_expected_sqe(const struct iouw_rm_req *r, struct iouw_rm_sqe *out)
{
	memset(out, 0, sizeof(*out));
	out->at = r->done;
	switch (r->kind) {
	case IOUW_REQUEST_SYNC:
		out->opcode = IORING_OP_FSYNC;
		return;
	case IOUW_REQUEST_RECV:
		out->opcode = IORING_OP_RECV;
		out->bytes = r->len - r->done;
		return;
	case IOUW_REQUEST_READ_AT:
		out->opcode = IORING_OP_READ;
		out->bytes = r->len - r->done;
		out->off = r->file_offset + r->done;
		return;
	case IOUW_REQUEST_SEND:
	case IOUW_REQUEST_WRITE_AT:
		break;
	}
	if (r->kind == IOUW_REQUEST_WRITE_AT)
		out->off = r->file_offset + r->done;
	if (r->nsegs == 1) {
		out->opcode = r->kind == IOUW_REQUEST_SEND ? IORING_OP_SEND : IORING_OP_WRITE;
		out->bytes = r->len - r->done;
		return;
	}
	out->opcode = IORING_OP_WRITEV;
	/* Walk the buffers: skip the sent ones, then take up to 32. */
	{
		uint32_t skip = r->done;
		uint32_t i = 0;

		while (i < r->nsegs && skip >= r->seg[i]) {
			skip -= r->seg[i];
			i++;
		}
		while (i < r->nsegs && out->niov < IOUW_RM_MAX_IOV) {
			out->bytes += r->seg[i] - skip;
			skip = 0;
			out->niov++;
			i++;
		}
	}
}

static bool record(struct iouw_rm_req *r, enum iouw_status status, int err, size_t value)
{
	r->recorded = true;
	r->result.status = status;
	r->result.err = err;
	r->result.value = value;
	r->result.has_buf = gives_buf(r->kind);
	r->result.buf_len = r->result.has_buf ? r->done : 0;
	return true;
}

static bool timeout(struct iouw_rm_req *r)
{
	return record(r, IOUW_RESULT_TIMEOUT, ETIMEDOUT, 0);
}

static enum iouw_status failed_status(enum iouw_request_kind kind)
{
	switch (kind) {
	case IOUW_REQUEST_SEND: return IOUW_RESULT_SEND_FAILED;
	case IOUW_REQUEST_RECV: return IOUW_RESULT_RECV_FAILED;
	case IOUW_REQUEST_READ_AT: return IOUW_RESULT_READ_FAILED;
	case IOUW_REQUEST_WRITE_AT: return IOUW_RESULT_WRITE_FAILED;
	case IOUW_REQUEST_SYNC: return IOUW_RESULT_SYNC_ERROR;
	}
	return IOUW_RESULT_ABANDONED;
}

const char *iouw_rm_invariant(const struct iouw_rm_req *r, bool c, int32_t res)
{
	switch (iouw_rm_classify(res, c)) {
	case IOUW_RM_ERROR:
		return res == INT32_MIN ? "CQE result INT32_MIN is no errno" : NULL;
	case IOUW_RM_POSITIVE:
		break;
	default:
		return NULL;
	}
	if ((uint32_t)res <= r->len - r->done)
		return NULL;
	switch (r->kind) {
	case IOUW_REQUEST_SEND: return "send past end";
	case IOUW_REQUEST_RECV: return "recv result larger than asked";
	case IOUW_REQUEST_READ_AT: return "read_at result larger than asked";
	case IOUW_REQUEST_WRITE_AT: return "write_at past end";
	case IOUW_REQUEST_SYNC: return NULL; /* fsync: any count is ok */
	}
	return NULL;
}

bool iouw_rm_on_cqe(struct iouw_rm_req *r, bool c, int32_t res)
{
	enum iouw_rm_class cls = iouw_rm_classify(res, c);
	enum iouw_request_kind k = r->kind;

	switch (cls) {
	case IOUW_RM_RETRY:
		/* Retry, A: again everywhere. Retry, C: send/recv Timeout. */
		if (c && (k == IOUW_REQUEST_SEND || k == IOUW_REQUEST_RECV))
			return timeout(r);
		return false;
	case IOUW_RM_CANCELLED:
		if (k == IOUW_REQUEST_SEND || k == IOUW_REQUEST_RECV)
			return timeout(r);
		return record(r, failed_status(k), ECANCELED, 0);
	case IOUW_RM_ERROR:
		return record(r, failed_status(k), -res, 0);
	case IOUW_RM_ZERO:
		if (k == IOUW_REQUEST_READ_AT)
			return record(r, IOUW_RESULT_INSUFFICIENT_LENGTH, 0, 0);
		if (k == IOUW_REQUEST_SYNC)
			return record(r, IOUW_RESULT_OK, 0, 0);
		return record(r, failed_status(k), 0, 0);
	case IOUW_RM_POSITIVE:
		break;
	}
	/* Positive(n): at most what is left (iouw_rm_invariant() said so). */
	switch (k) {
	case IOUW_REQUEST_SYNC:
		return record(r, IOUW_RESULT_OK, 0, 0);
	case IOUW_REQUEST_RECV:
		r->done += (uint32_t)res;
		if (!r->exact || r->done >= r->len)
			return record(r, IOUW_RESULT_OK, 0, r->done);
		if (c)
			return timeout(r);
		return false;
	case IOUW_REQUEST_READ_AT:
		r->done += (uint32_t)res;
		if (r->done >= r->len)
			return record(r, IOUW_RESULT_OK, 0, r->len);
		return false;
	case IOUW_REQUEST_SEND:
		r->done += (uint32_t)res;
		if (r->done == r->len)
			return record(r, IOUW_RESULT_OK, 0, r->len);
		if (c)
			return timeout(r);
		return false;
	case IOUW_REQUEST_WRITE_AT:
		r->done += (uint32_t)res;
		if (r->done == r->len)
			return record(r, IOUW_RESULT_OK, 0, r->len);
		return false;
	}
	return false;
}

void iouw_rm_complete_result(const struct iouw_rm_req *r, struct iouw_rm_result *out)
{
	if (r->recorded) {
		*out = r->result;
		return;
	}
	/* docs/requests.md §4.4, fallback row. */
	memset(out, 0, sizeof(*out));
	out->status = r->kind == IOUW_REQUEST_SYNC ? IOUW_RESULT_OK : failed_status(r->kind);
	out->has_buf = gives_buf(r->kind);
	out->buf_len = out->has_buf ? r->done : 0;
}

void iouw_rm_timeout_result(const struct iouw_rm_req *r, struct iouw_rm_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = r->kind == IOUW_REQUEST_SYNC ? IOUW_RESULT_SYNC_ERROR : IOUW_RESULT_TIMEOUT;
	out->err = ETIMEDOUT;
	out->has_buf = gives_buf(r->kind);
	out->buf_len = out->has_buf ? r->done : 0;
}

void iouw_rm_abandon_result(const struct iouw_rm_req *r, struct iouw_rm_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = IOUW_RESULT_ABANDONED;
	out->err = ECANCELED;
	out->has_buf = gives_buf(r->kind);
	out->buf_len = out->has_buf ? r->done : 0;
}

const char *iouw_rm_result_str(const struct iouw_rm_result *r, char *buf, size_t n)
{
	if (r->has_buf)
		snprintf(buf, n, "%s err %d value %zu buf_len %zu", iouw_status_name(r->status),
		         r->err, r->value, r->buf_len);
	else
		snprintf(buf, n, "%s err %d value %zu", iouw_status_name(r->status), r->err,
		         r->value);
	return buf;
}
