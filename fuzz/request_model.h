/* fuzz/request_model.h: the reference model of the five request kinds
 * (docs/requests.md §4.1-§4.4: SQE shapes, CQE classes, reactions, delivery),
 * written independently of core/request.c for the request, loop and ring
 * fuzz targets' oracles.
 *
 * Owns: struct iouw_rm_req, plain fields and nothing clever: the kind, the
 * target length, the progress cursor, the non-empty buffer lengths of a
 * send/write_at, and the recorded result. The tables of docs/requests.md §4 are transcribed
 * as a switch per class and kind (iouw_rm_on_cqe), so a reviewer can check
 * them cell by cell against docs/requests.md §4.3.
 *
 * Request states: PENDING (no result) -> RECORDED (on_cqe terminal). The
 * model never panics: callers ask iouw_rm_invariant() first and only feed
 * iouw_rm_on_cqe() results it does not reject (hostile results included:
 * any int32 but INT32_MIN as an error, positive results up to what is left
 * of the request).
 */
#ifndef IOUW_FUZZ_REQUEST_MODEL_H
#define IOUW_FUZZ_REQUEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handle.h"
#include "request.h"

#define IOUW_RM_MAX_SEGS 48
#define IOUW_RM_MAX_IOV 32

enum iouw_rm_class {
	IOUW_RM_RETRY = 0,
	IOUW_RM_CANCELLED,
	IOUW_RM_ERROR,
	IOUW_RM_ZERO,
	IOUW_RM_POSITIVE,
};

/* What the caller's handle receives. */
struct iouw_rm_result {
	enum iouw_status status;
	int err;
	size_t value;
	bool has_buf;   /* recv / read_at hand the buffer back */
	size_t buf_len; /* bytes filled (progress) when has_buf */
};

/* The SQE the request must build next (docs/requests.md §4.1). */
struct iouw_rm_sqe {
	uint8_t opcode;
	uint32_t bytes;  /* bytes the SQE describes (all iovecs together) */
	uint32_t niov;   /* WRITEV: iovec count; else 0 */
	uint64_t off;    /* file offset (read_at/write_at), 0 otherwise */
	uint32_t at;     /* progress cursor the SQE starts at */
};

struct iouw_rm_req {
	enum iouw_request_kind kind;
	uint32_t len;      /* bytes to send/write, recv/read_at len; 0 for sync */
	uint32_t done;     /* progress; recv: prefix (offset) included */
	uint32_t capacity; /* recv / read_at buffer size */
	bool exact;        /* recv */
	uint64_t file_offset;
	uint32_t nsegs;    /* send/write_at: non-empty buffers */
	uint32_t seg[IOUW_RM_MAX_SEGS];
	bool recorded;
	struct iouw_rm_result result;
};

/* docs/requests.md §4.2. */
enum iouw_rm_class iouw_rm_classify(int32_t res, bool cancel_requested);
const char *iouw_rm_class_name(enum iouw_rm_class cls);

/* Whether a dropped handle orphans this kind (docs/requests.md §4.4 first row). */
bool iouw_rm_orphanable(enum iouw_request_kind kind);

/* The next SQE (valid only while not recorded). */
void iouw_rm_expected_sqe(const struct iouw_rm_req *r, struct iouw_rm_sqe *out);

/* The named invariant (core/invariant.h) an op CQE of @res must fire in
 * the real request in this state -- docs/requests.md §4.3's panics plus "any int32 may
 * arrive" (docs/kernel.md §8): INT32_MIN, whose errno is unrepresentable, and a
 * positive result larger than what is left -- or NULL when @res has a
 * defined outcome. */
const char *iouw_rm_invariant(const struct iouw_rm_req *r, bool cancel_requested, int32_t res);

/* Feed an op CQE; true when the request reached a terminal result. */
bool iouw_rm_on_cqe(struct iouw_rm_req *r, bool cancel_requested, int32_t res);

/* What finish(COMPLETE) / finish(TIMEOUT) / release() deliver (docs/requests.md §4.4). */
void iouw_rm_complete_result(const struct iouw_rm_req *r, struct iouw_rm_result *out);
void iouw_rm_timeout_result(const struct iouw_rm_req *r, struct iouw_rm_result *out);
void iouw_rm_abandon_result(const struct iouw_rm_req *r, struct iouw_rm_result *out);

/* "ok 12", "timeout (ETIMEDOUT)", ... into @buf. */
const char *iouw_rm_result_str(const struct iouw_rm_result *r, char *buf, size_t n);

#endif /* IOUW_FUZZ_REQUEST_MODEL_H */
