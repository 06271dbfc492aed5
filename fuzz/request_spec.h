/* fuzz/request_spec.h: real requests under test for the request, loop and
 * ring fuzz targets, and the "kernel" side that answers their SQEs.
 *
 * Owns: struct iouw_rs_spec (a request's parameters, decoded from fuzz
 * bytes), struct iouw_rs_live (a real core/request.h request built from a
 * spec, plus what the caller expects to get back: the send/write payload and
 * a shadow of the recv/read_at buffer), the SQE oracle (docs/requests.md §4.1 against
 * fuzz/request_model.h), the simulated kernel's data transfer into
 * recv/read_at buffers, and the result oracle. What the kernel may answer
 * (results per opcode, pairing with cancels) is fuzz/kernel_model.h's.
 *
 * Canaries: a recv/read_at buffer is bigger than len (capacity = len + 0..3)
 * and is pre-filled: the recv prefix (bytes before offset) with a pattern,
 * everything else with IOUW_RS_CANARY. The shadow copy changes only where
 * the simulated kernel wrote; the returned buffer must equal the shadow over
 * its whole capacity, so a write outside [progress, len) is caught (and ASan
 * catches writes past the allocation).
 */
#ifndef IOUW_FUZZ_REQUEST_SPEC_H
#define IOUW_FUZZ_REQUEST_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <liburing.h>

#include "handle.h"
#include "provider.h"
#include "request.h"
#include "request_model.h"

#define IOUW_RS_MAX_BUFS 40
#define IOUW_RS_CANARY 0xC5

struct iouw_rs_spec {
	enum iouw_request_kind kind;
	uint32_t nbufs;                     /* send/write_at, empties included */
	uint32_t buf_len[IOUW_RS_MAX_BUFS];
	uint32_t len;                       /* recv / read_at */
	uint32_t offset;                    /* recv prefix */
	uint32_t capacity;                  /* recv / read_at */
	bool exact;                         /* recv */
	uint64_t file_offset;               /* read_at / write_at */
	uint32_t stamp;                     /* payload / prefix pattern */
};

struct iouw_rs_live {
	struct iouw_request *req;   /* NULL once ended */
	struct iouw_handle *handle; /* NULL once the caller dropped it */
	int fd;                     /* the request's dup */
	enum iouw_request_kind kind;
	uint8_t *buf;               /* recv/read_at: the caller's buffer (identity only) */
	uint32_t capacity;
	uint8_t *shadow;            /* recv/read_at: expected contents */
	uint8_t *payload;           /* send/write_at: the bytes, concatenated */
	uint32_t total;             /* send/write_at: payload length */
};

/* Decode a request spec (the kind and its parameters) from @p. */
void iouw_rs_decode(struct iouw_fdp *p, uint32_t stamp, struct iouw_rs_spec *ret);

/* The model of a fresh request built from @s. */
void iouw_rs_model(const struct iouw_rs_spec *s, struct iouw_rm_req *ret);

/* "send 3 bufs [2 0 5] (7 bytes)", ... (no newline). */
void iouw_rs_format(FILE *out, const struct iouw_rs_spec *s);

/* Build the real request (dup of @src_fd, deadline @deadline_ns for
 * send/recv). Returns the constructor's result; on success *ret is filled. */
int iouw_rs_create(const struct iouw_rs_spec *s, int src_fd, uint64_t deadline_ns,
                   struct iouw_rs_live *ret);

/* Free what iouw_rs_create allocated for the checks (not the request). */
void iouw_rs_discard(struct iouw_rs_live *l);

/* Check @sqe against the model's next SQE @want (opcode, fd, flags,
 * address, length, offset, iovecs and the bytes they point at). NULL when
 * it matches, else a message (static storage). */
const char *iouw_rs_check_sqe(const struct iouw_rs_live *l, const struct iouw_rm_sqe *want,
                              const struct io_uring_sqe *sqe);

/* Bytes @sqe asks the kernel to move (WRITEV: all iovecs). */
uint32_t iouw_rs_sqe_bytes(const struct io_uring_sqe *sqe);

/* The kernel completes @sqe with @res: for a positive RECV/READ result write
 * @res pattern bytes at the SQE's address (and into the shadow). Call only
 * after iouw_rs_check_sqe() accepted the SQE and while the request lives. */
void iouw_rs_kernel_apply(struct iouw_rs_live *l, const struct io_uring_sqe *sqe, int32_t res,
                          uint32_t stamp);

/* Check a delivered result against @want (status, err, value, and for
 * recv/read_at the buffer identity, length, capacity and contents incl.
 * canaries). NULL when it matches, else a message (static storage). */
const char *iouw_rs_check_result(const struct iouw_rs_live *l, const struct iouw_result *got,
                                 const struct iouw_rm_result *want);

/* Open fds of this process (reads /proc/self/fd, whose directory stays
 * open from the first call on and is not counted), or -errno when it
 * cannot be read (EMFILE: an environment failure). */
int iouw_rs_count_fds(void);

/* True when @fd is open. */
bool iouw_rs_fd_open(int fd);

/* A process-wide source fd the requests dup (/dev/null, opened once, never
 * closed), or -errno while it cannot be opened. */
int iouw_rs_source_fd(void);

/* Name of an io_uring opcode the requests use. */
const char *iouw_rs_opcode_name(uint8_t opcode);

#endif /* IOUW_FUZZ_REQUEST_SPEC_H */
