/* fuzz/kmodel_main.c: iouwait-kmodel, the kernel model (kernel_model.h)
 * held against recorded histories (scripts/check-kernel-model).
 *
 *   iouwait-kmodel [FILE]    (default: standard input)
 *   iouwait-kmodel --probe N
 *
 * Input, one record a line ('#' starts a comment):
 *   history NAME                   a new history (the model starts empty)
 *   sqe op UD OPCODE BYTES         an op SQE the kernel took (io_uring opcode number)
 *   sqe cancel UD TARGET [invalid] an ASYNC_CANCEL aimed at TARGET
 *   sqe wake UD                    the wake poll
 *   cqe UD RES FLAGS               a CQE the kernel posted (and the loop reaped)
 * Numbers are decimal (UD: any 64-bit value).
 *
 * Prints "kernel model: H histories, S SQEs, C CQEs, all legal" and exits 0,
 * or one line per rejected CQE ("FILE:LINE: history NAME: cqe ...: RULE")
 * and exits 1; a malformed line is "FILE:LINE: error: expected ..." and
 * exit 2. A history whose SQEs were not all answered is fine (the run may
 * end first, docs/kernel.md §8.8); a rejection is a model bug to fix.
 *
 * --probe N: N raw liburing probes (docs/kernel.md §8.2/§8.3: an op and
 * its ASYNC_CANCEL in one submit, on recv of an empty or partly filled
 * socket, send, cached read_at, write_at, writev, fsync, an empty pipe
 * read; every other round the cancel in a second submit) on each ring flavour: plain, SINGLE_ISSUER + DEFER_TASKRUN, SQPOLL
 * (skipped where setup refuses it), and IOSQE_ASYNC on the op. Every CQE,
 * flags included, goes through the model as the kernel posts it; an op
 * still pending after its cancel answered -EALREADY is unblocked by data
 * (the peer writes) and must then complete. Prints per flavour the probes
 * and the (first CQE, cancel result, op result class) tallies, and exits
 * 0 when every CQE was legal, 1 otherwise, 77 without io_uring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "kernel_model.h"

static struct iouw_km km;

/* ---- --probe -------------------------------------------------------------------- */

enum { P_RECV_EMPTY, P_RECV_PARTIAL, P_SEND, P_READ, P_WRITE, P_WRITEV, P_FSYNC, P_PIPE, P_KINDS };
static const char *const kind_names[] = { "recv-empty", "recv-partial", "send", "read_at",
	                                  "write_at", "writev", "fsync", "pipe-read" };
static const char *const flavour_names[] = { "plain", "defer_taskrun", "sqpoll", "iosqe_async" };

#define OP_UD 1
#define CANCEL_UD (1 | (UINT64_C(1) << 63))

struct tally {
	unsigned long probes, cqes, rejected;
	unsigned long cancel_first[3], op_first[3]; /* by cancel res: 0, -EALREADY, -ENOENT */
	unsigned long ecanceled, stuck;
};

static int cancel_index(int32_t res)
{
	return res == 0 ? 0 : res == -EALREADY ? 1 : 2;
}

/* One probe: returns -errno for an environment failure, else 0. */
static int probe_one(struct io_uring *ring, unsigned kind, bool async, bool split, int fd_file,
                     struct tally *t)
{
	int sv[2] = { -1, -1 }, pp[2] = { -1, -1 }, fd = -1, e = 0;
	char buf[64], wbuf[8] = "abcdefgh";
	struct iovec iov[2] = { { wbuf, 3 }, { wbuf + 3, 5 } };
	struct io_uring_sqe *sqe;
	uint8_t opcode = 0;
	uint32_t bytes = 0;
	bool first = true, cancel_first = false, peer_fed = false;
	int32_t cancel_res = 0;
	unsigned pending = 2, waits = 0;

	if (kind <= P_SEND && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (kind == P_PIPE && pipe2(pp, O_CLOEXEC) < 0)
		return -errno;
	sqe = io_uring_get_sqe(ring);
	switch (kind) {
	case P_RECV_EMPTY:
	case P_RECV_PARTIAL:
		if (kind == P_RECV_PARTIAL && write(sv[1], "xyz", 3) != 3)
			e = -EIO;
		fd = sv[0];
		io_uring_prep_recv(sqe, fd, buf, 8, 0);
		opcode = IORING_OP_RECV, bytes = 8;
		break;
	case P_SEND:
		fd = sv[0];
		io_uring_prep_send(sqe, fd, wbuf, 8, 0);
		opcode = IORING_OP_SEND, bytes = 8;
		break;
	case P_READ:
		io_uring_prep_read(sqe, fd_file, buf, 4, 2);
		opcode = IORING_OP_READ, bytes = 4;
		break;
	case P_WRITE:
		io_uring_prep_write(sqe, fd_file, wbuf, 8, 0);
		opcode = IORING_OP_WRITE, bytes = 8;
		break;
	case P_WRITEV:
		io_uring_prep_writev(sqe, fd_file, iov, 2, 8);
		opcode = IORING_OP_WRITEV, bytes = 8;
		break;
	case P_FSYNC:
		io_uring_prep_fsync(sqe, fd_file, 0);
		opcode = IORING_OP_FSYNC, bytes = 0;
		break;
	default:
		fd = pp[0];
		io_uring_prep_read(sqe, fd, buf, 4, 0);
		opcode = IORING_OP_READ, bytes = 4;
		break;
	}
	io_uring_sqe_set_data64(sqe, OP_UD);
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	if (split && e == 0) {
		/* The op alone first, its cancel in a second submit. */
		int n = io_uring_submit(ring);

		e = n < 0 ? n : n == 0 ? -EIO : 0;
	}
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_cancel64(sqe, OP_UD, 0);
	io_uring_sqe_set_data64(sqe, CANCEL_UD);
	iouw_km_init(&km);
	iouw_km_submit_op(&km, OP_UD, opcode, bytes);
	iouw_km_submit_cancel(&km, CANCEL_UD, OP_UD);
	if (e == 0) {
		int n = io_uring_submit(ring);

		/* SQPOLL counts what its thread has not consumed yet. */
		e = n < 0 ? n : n == 0 ? -EIO : 0;
	}
	t->probes++;
	while (e == 0 && pending > 0) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		const char *why;

		if (r == -ETIME || r == -EINTR) {
			/* The op waits for data (cancel -EALREADY or -ENOENT
			 * left it pending): the peer writes. */
			if (++waits > 10 || peer_fed) {
				e = -ETIMEDOUT;
				break;
			}
			peer_fed = true;
			t->stuck++;
			if ((kind == P_PIPE ? write(pp[1], "abcd", 4) : write(sv[1], "abcdefgh", 8)) < 0)
				e = -errno;
			continue;
		}
		if (r < 0) {
			e = r;
			break;
		}
		why = iouw_km_post(&km, cqe->user_data, cqe->res, cqe->flags);
		iouw_km_reaped(&km, cqe->user_data);
		t->cqes++;
		if (why) {
			t->rejected++;
			printf("probe %s %s: CQE user_data %#llx res %d flags %#x rejected: %s\n",
			       kind_names[kind], async ? "async" : "", (unsigned long long)cqe->user_data,
			       cqe->res, cqe->flags, why);
		}
		if (cqe->user_data == CANCEL_UD) {
			cancel_res = cqe->res;
			cancel_first = first;
		} else if (cqe->res == -ECANCELED) {
			t->ecanceled++;
		}
		first = false;
		pending--;
		io_uring_cqe_seen(ring, cqe);
	}
	if (e == 0) {
		if (cancel_first)
			t->cancel_first[cancel_index(cancel_res)]++;
		else
			t->op_first[cancel_index(cancel_res)]++;
	}
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (pp[i] >= 0)
			close(pp[i]);
	}
	return e;
}

static int probe(unsigned long n)
{
	char path[] = "iouwait-kmodel-probe.XXXXXX";
	int fd_file = mkostemp(path, O_CLOEXEC), status = 0;
	bool any = false;

	if (fd_file < 0) {
		snprintf(path, sizeof(path), "/tmp/kmprobe.XXXXXX");
		fd_file = mkostemp(path, O_CLOEXEC);
	}
	if (fd_file < 0) {
		perror("iouwait-kmodel: probe file");
		return 1;
	}
	unlink(path);
	if (pwrite(fd_file, "0123456789", 10, 0) != 10) {
		perror("iouwait-kmodel: probe file");
		close(fd_file);
		return 1;
	}
	for (unsigned f = 0; f < 4; f++) {
		struct io_uring_params pr;
		struct io_uring ring;
		struct tally t;
		int e;

		memset(&pr, 0, sizeof(pr));
		memset(&t, 0, sizeof(t));
		if (f == 1)
			pr.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
		if (f == 2) {
			pr.flags = IORING_SETUP_SQPOLL;
			pr.sq_thread_idle = 100;
		}
		e = io_uring_queue_init_params(8, &ring, &pr);
		if (e < 0) {
			printf("%s: ring setup refused (%s): skipped\n", flavour_names[f], strerror(-e));
			continue;
		}
		any = true;
		for (unsigned long i = 0; i < n && e == 0; i++)
			e = probe_one(&ring, (unsigned)(i % P_KINDS), f == 3, (i / P_KINDS) % 2 == 1, fd_file,
			              &t);
		io_uring_queue_exit(&ring);
		if (e < 0) {
			printf("%s: probe failed: %s\n", flavour_names[f], strerror(-e));
			status = 1;
		}
		printf("%s: %lu probes, %lu CQEs, %lu rejected; cancel CQE first: 0 %lu, -EALREADY %lu, "
		       "-ENOENT %lu; op CQE first: cancel 0 %lu, -EALREADY %lu, -ENOENT %lu; "
		       "op -ECANCELED %lu; op left pending, fed by the peer %lu\n",
		       flavour_names[f], t.probes, t.cqes, t.rejected, t.cancel_first[0],
		       t.cancel_first[1], t.cancel_first[2], t.op_first[0], t.op_first[1],
		       t.op_first[2], t.ecanceled, t.stuck);
		if (t.rejected)
			status = 1;
	}
	close(fd_file);
	return any ? status : 77;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "-";
	FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
	char line[512], name[256] = "-";
	unsigned long lineno = 0, histories = 0, sqes = 0, cqes = 0, rejected = 0;

	if (argc == 3 && !strcmp(argv[1], "--probe"))
		return probe(strtoul(argv[2], NULL, 10));
	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: iouwait-kmodel [FILE] | --probe N\n");
		return 2;
	}
	if (!in) {
		perror(path);
		return 2;
	}
	iouw_km_init(&km);
	while (fgets(line, sizeof(line), in)) {
		char kind[16] = "", extra[16] = "";
		uint64_t ud, t;
		unsigned op, flags;
		int32_t res;
		int e = 0;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "history %255s", name) == 1) {
			iouw_km_init(&km);
			histories++;
			continue;
		}
		if (sscanf(line, "sqe %15s", kind) == 1) {
			sqes++;
			if (!strcmp(kind, "op") &&
			    sscanf(line, "sqe op %" SCNu64 " %u %" SCNu64, &ud, &op, &t) == 3)
				e = iouw_km_submit_op(&km, ud, (uint8_t)op, (uint32_t)t);
			else if (!strcmp(kind, "cancel") &&
			         sscanf(line, "sqe cancel %" SCNu64 " %" SCNu64 " %15s", &ud, &t, extra) >= 2)
				e = strcmp(extra, "invalid") ? iouw_km_submit_cancel(&km, ud, t)
				                             : iouw_km_submit_bad_cancel(&km, ud, t);
			else if (!strcmp(kind, "wake") && sscanf(line, "sqe wake %" SCNu64, &ud) == 1)
				e = iouw_km_submit_wake(&km, ud);
			else
				goto bad;
			if (e) {
				printf("%s:%lu: history %s: SQE user_data %" PRIu64
				       " while one is outstanding (a caller bug, not the kernel's)\n",
				       path, lineno, name, ud);
				rejected++;
			}
			continue;
		}
		if (sscanf(line, "cqe %" SCNu64 " %" SCNd32 " %u", &ud, &res, &flags) == 3) {
			const char *why = iouw_km_post(&km, ud, res, flags);

			cqes++;
			iouw_km_reaped(&km, ud);
			if (why) {
				printf("%s:%lu: history %s: cqe %" PRIu64 " res %d flags %u: %s\n", path,
				       lineno, name, ud, (int)res, flags, why);
				rejected++;
			}
			continue;
		}
	bad:
		fprintf(stderr, "%s:%lu: error: expected 'history NAME', 'sqe op|cancel|wake ...' "
		        "or 'cqe UD RES FLAGS'\n", path, lineno);
		return 2;
	}
	if (in != stdin)
		fclose(in);
	if (rejected) {
		printf("kernel model: %lu of %lu CQEs rejected in %lu histories\n", rejected, cqes,
		       histories);
		return 1;
	}
	printf("kernel model: %lu histories, %lu SQEs, %lu CQEs, all legal\n", histories, sqes,
	       cqes);
	return 0;
}
