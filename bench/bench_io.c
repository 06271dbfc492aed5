/* bench/bench_io.c: real I/O through the whole loop versus raw liburing doing
 * the same operations on an identically set-up ring, in the same run.
 *
 * Two workloads, each in rounds of B operation pairs:
 *   socket: B round trips over an AF_UNIX stream socketpair: B SENDs of 64
 *           bytes on one end, then B RECVs of exactly 64 bytes on the other;
 *   file:   B WRITEs of 4 KiB at B distinct offsets of a file (on /dev/shm
 *           when it is a directory, else the working directory; created,
 *           unlinked at once, closed at the end), then B READs of the same.
 * Raw: prep the 2B SQEs of a round, submit them and wait until the previous
 * round is done (two rounds in hand, as on the loop side: one
 * io_uring_enter per round), reap what arrived and check every result is
 * the full length. Loop: the real request kinds of
 * core/request.h (send and recv with a 10 s deadline, as callers give them;
 * write_at and read_at, the *_fd constructors on the caller's shared fds:
 * core/fd.h, with the caller's request pool: core/pool.h), each with its
 * handle, built per operation (the request takes a reference on the fd and
 * copies or takes its buffer: that is what a caller pays), submitted 2B at
 * a time. send copies its 64 bytes
 * (iouw_request_send_fd); recv, read_at and write_at take the caller's
 * malloc'd buffer and hand it back in the result (write_at through
 * iouw_request_write_at_owned_fd: no copy of the 4 KiB, as the raw side
 * writes from its own buffer). The caller reuses the buffers handed back:
 * writes' for its next writes, reads' and receives' for its next reads and
 * receives (two spare lists; no malloc per operation once they hold a
 * round's worth), as the raw side reuses its own. The caller keeps two
 * rounds in hand, turns the loop once per round (which reaps the previous
 * round and submits this one: one io_uring_enter per round, as on the raw
 * side), takes every result from its handle (checked: OK, full length; a
 * buffer handed back when one was lent) and drops the handle
 * (iouw_handle_take_and_drop: both in one step). The caller is the loop's
 * own thread, so it hands each round over through the same-thread path
 * (iouw_loop_submit_local, docs/loop.md §6.7). One thread.
 *
 * Rings: 128 entries on both sides, set up identically, twice over. First
 * (judged) with IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG, the loop's
 * coop_taskrun (docs/loop.md §6.1): a completion that goes through task
 * work (every file operation here: tmpfs hands them to io-wq workers) then
 * waits for the thread's next entry into the kernel instead of interrupting
 * it with an inter-processor interrupt wherever it runs in user space. On a
 * plain ring those interrupts land mostly on whichever side spends more of
 * its time in user space (the loop side, which builds requests and takes
 * results between its turns, where raw sleeps in io_uring_enter), and the
 * file figures then measure that interplay with the io-wq workers more than
 * either side's work. Then, reported but not judged, with no flags (lines
 * marked "plain ring").
 *
 * Rates are operations per second (a round trip or a write+read counts two),
 * the best of nine interleaved runs per side, on the wall clock (what the
 * target judges) and per second of the process's CPU time (this thread and
 * the io-wq workers; it leaves out preemption by other jobs). Each loop
 * line also gives the
 * share of the loop side's time the caller spent building requests and
 * taking results (timed around those steps, per round, in one more loop
 * run after the nine, so the judged runs make no clock reads the raw side
 * does not) and the ratio without it, so the loop's own part is visible;
 * the target is judged on the whole.
 *
 * Usage: bench_io [OPS [BATCH...]]  (default 100000 operations per run,
 * rounded up to whole rounds; batches 1 and 32). Prints the machine lines
 * (bench_machine.h, and the cost of the fd dup + close a request built by
 * a plain constructor pays; the shared-fd constructors used here do not),
 * then one line per workload, batch and ring setup; exits 1 when a
 * batch-32 loop/raw ratio on COOP_TASKRUN rings is under the 0.85 target
 * (not judged in a sanitizer or unoptimised build). IOUW_BENCH_ONLY=raw|loop
 * runs one side and IOUW_BENCH_IO=socket|file one workload, for profiling
 * (neither then judges the target, and only the COOP_TASKRUN rings run
 * unless IOUW_BENCH_PLAIN is set, which runs only the plain ones). A kernel
 * without COOP_TASKRUN (before 5.19) skips the benchmark (exit 77), saying
 * why. Skips (exit 77) when io_uring is unavailable.
 */
#include "bench_machine.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "clock.h"
#include "fd.h"
#include "handle.h"
#include "loop.h"
#include "request.h"

#define MSG_LEN 64
#define BLK_LEN 4096
#define MAX_BATCH 32
#define TARGET 0.85
/* Runs per side and line, interleaved; the best of them is reported. */
#define RUNS 9

enum workload { SOCKET, FILEIO };

/* How both sides' rings are set up (always the same on both sides). COOP:
 * IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG, the loop's coop_taskrun
 * (docs/loop.md §6.1), judged. PLAIN: no flags, reported beside it. */
enum ring_setup { RING_COOP, RING_PLAIN };

static const char *const ring_names[] = { [RING_COOP] = "", [RING_PLAIN] = ", plain ring" };

struct fixture {
	int sv[2];
	int file;
	char path[64];
};

static void fixture_open(struct fixture *f)
{
	struct stat st;
	const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : ".";

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) < 0)
		bench_die("socketpair", errno);
	snprintf(f->path, sizeof(f->path), "%s/iouw-bench-io-XXXXXX", dir);
	f->file = mkostemp(f->path, O_CLOEXEC);
	if (f->file < 0)
		bench_die(f->path, errno);
	/* Unlinked at once: nothing is left behind, whatever happens next. */
	(void)unlink(f->path);
	if (ftruncate(f->file, (off_t)MAX_BATCH * BLK_LEN) < 0)
		bench_die("ftruncate", errno);
}

static void fixture_close(struct fixture *f)
{
	close(f->sv[0]);
	close(f->sv[1]);
	close(f->file);
}

/* CPU time of the whole process (s): this thread and the kernel's io-wq
 * workers, which run the file operations tmpfs cannot do inline (they are
 * threads of this process). Unlike the wall clock it leaves out time the
 * process was preempted by other jobs on a shared machine. */
static double process_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- raw liburing ---------------------------------------------------------- */

static double bench_raw(const struct fixture *f, enum workload w, enum ring_setup setup,
                        unsigned batch, uint64_t rounds, double *cpu_rate)
{
	/* Receive buffers per round in flight (two). */
	static char out[MAX_BATCH][BLK_LEN], in[2][MAX_BATCH][BLK_LEN];
	struct io_uring ring;
	unsigned len = w == SOCKET ? MSG_LEN : BLK_LEN, inflight = 0;
	double t0, c0;
	int r = io_uring_queue_init(128, &ring,
	                            setup == RING_COOP
	                                    ? IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
	                                    : 0);

	if (r < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
		exit(bench_uring_exit_code(r));
	}
	memset(out, 'x', sizeof(out));
	c0 = process_cpu_s();
	t0 = bench_now_s();
	/* Two rounds in hand, as on the loop side: submit round k, then wait
	 * only until round k - 1 is done (at most one round left in flight). */
	for (uint64_t k = 0; k < rounds || inflight > 0; k++) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0, wait_nr;

		if (k < rounds) {
			for (unsigned i = 0; i < batch; i++) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				if (w == SOCKET)
					io_uring_prep_send(sqe, f->sv[0], out[i], len, MSG_NOSIGNAL);
				else
					io_uring_prep_write(sqe, f->file, out[i], len, (uint64_t)i * len);
				io_uring_sqe_set_data64(sqe, i);
			}
			for (unsigned i = 0; i < batch; i++) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				if (w == SOCKET)
					io_uring_prep_recv(sqe, f->sv[1], in[k & 1][i], len, 0);
				else
					io_uring_prep_read(sqe, f->file, in[k & 1][i], len,
					                   (uint64_t)i * len);
				io_uring_sqe_set_data64(sqe, batch + i);
			}
			inflight += 2 * batch;
			wait_nr = inflight > 2 * batch ? inflight - 2 * batch : 0;
		} else {
			wait_nr = inflight;
		}
		r = io_uring_submit_and_wait(&ring, wait_nr);
		if (r < 0)
			bench_die("submit_and_wait", -r);
		io_uring_for_each_cqe(&ring, head, cqe) {
			if (cqe->res != (int)len)
				bench_die("raw operation result", cqe->res < 0 ? -cqe->res : EIO);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		inflight -= n;
	}
	t0 = bench_now_s() - t0;
	c0 = process_cpu_s() - c0;
	io_uring_queue_exit(&ring);
	*cpu_rate = (double)(2 * batch * rounds) / c0;
	return (double)(2 * batch * rounds) / t0;
}

/* --- through the loop ------------------------------------------------------ */

/* Buffers handed back by results, for the next operations of their kind
 * (a caller that reuses its buffers, as the raw side reuses its own). */
struct spares {
	void *buf[2 * 2 * MAX_BATCH];
	size_t n;
};

struct inflight {
	struct iouw_handle *h[2 * 2 * MAX_BATCH];
	size_t expect[2 * 2 * MAX_BATCH];
	/* Where the buffer the result hands back goes; NULL: none lent. */
	struct spares *back[2 * 2 * MAX_BATCH];
	size_t head, len;
	struct spares reads;  /* receive and read buffers */
	struct spares writes; /* write_at buffers, BLK_LEN bytes of 'x' */
};

/* A buffer from @s, or a new BLK_LEN one, then filled with @fill unless
 * @fill is 0. */
static void *spare_take(struct spares *s, int fill)
{
	void *b;

	if (s->n > 0)
		return s->buf[--s->n];
	b = malloc(BLK_LEN);
	if (!b)
		bench_die("malloc", ENOMEM);
	if (fill)
		memset(b, fill, BLK_LEN);
	return b;
}

static void spares_free(struct spares *s)
{
	while (s->n > 0)
		free(s->buf[--s->n]);
}

/* Take every result that has arrived, oldest first: each must be OK with
 * the full length; a buffer handed back goes to its spare list (freed
 * when that is full). The count taken. */
static size_t collect(struct inflight *q)
{
	size_t taken = 0;
	const size_t cap = sizeof(q->h) / sizeof(q->h[0]);

	while (q->len > 0) {
		size_t at = q->head;
		struct iouw_result res;
		int r = iouw_handle_take_and_drop(q->h[at], &res);

		if (r == -EAGAIN)
			break;
		if (r < 0)
			bench_die("iouw_handle_take_and_drop", -r);
		if (res.status != IOUW_RESULT_OK || res.value != q->expect[at] ||
		    (q->back[at] && (!res.buf || res.buf_len != q->expect[at]))) {
			fprintf(stderr, "bench_io: loop result %s err %d value %zu, expected ok %zu\n",
			        iouw_status_name(res.status), res.err, res.value, q->expect[at]);
			exit(1);
		}
		if (res.buf && q->back[at] &&
		    q->back[at]->n < sizeof(q->back[at]->buf) / sizeof(q->back[at]->buf[0])) {
			q->back[at]->buf[q->back[at]->n++] = res.buf;
			res.buf = NULL;
		}
		iouw_result_free(&res);
		q->head = (q->head + 1) % cap;
		q->len--;
		taken++;
	}
	return taken;
}

/* What building a round needs: the workload, its shared fds and pool. */
struct round_ctx {
	enum workload w;
	unsigned batch;
	size_t len;
	char *out; /* the send bytes, len of 'x' */
	struct iouw_fd *sv0, *sv1, *file;
	struct iouw_pool *pool;
};

/* Build one round into @run[0..2 batch): batch sends then batch receives,
 * or batch writes then batch reads of the same offsets, each request's
 * handle queued in @q (send and recv with a 10 s deadline from @now_ns). */
static void build_round(const struct round_ctx *c, struct inflight *q, uint64_t now_ns,
                        struct iouw_request **run)
{
	const size_t cap = sizeof(q->h) / sizeof(q->h[0]);
	struct iovec iov = { .iov_base = c->out, .iov_len = c->len };
	uint64_t deadline = c->w == SOCKET ? iouw_deadline_after(now_ns, UINT64_C(10000000000))
	                                   : IOUW_NO_DEADLINE;

	for (unsigned i = 0; i < 2 * c->batch; i++) {
		bool second = i >= c->batch;
		unsigned slot = second ? i - c->batch : i;
		size_t at = (q->head + q->len) % cap;
		struct iouw_handle *h;
		void *buf = NULL;
		int r;

		if (second)
			buf = spare_take(&q->reads, 0);
		else if (c->w == FILEIO)
			buf = spare_take(&q->writes, 'x');
		if (c->w == SOCKET && !second)
			r = iouw_request_send_fd(c->pool, c->sv0, &iov, 1, deadline, &run[i], &h);
		else if (c->w == SOCKET)
			r = iouw_request_recv_fd(c->pool, c->sv1, buf, BLK_LEN, 0, c->len, true,
			                         deadline, &run[i], &h);
		else if (!second)
			r = iouw_request_write_at_owned_fd(c->pool, c->file, (uint64_t)slot * c->len,
			                                   buf, c->len, &run[i], &h);
		else
			r = iouw_request_read_at_fd(c->pool, c->file, (uint64_t)slot * c->len, buf,
			                            BLK_LEN, c->len, &run[i], &h);
		if (r < 0)
			bench_die("request constructor", -r);
		q->h[at] = h;
		q->expect[at] = c->len;
		q->back[at] = second ? &q->reads : buf ? &q->writes : NULL;
		q->len++;
	}
}

/* Operations per second through the loop; *@caller_share, unless NULL: the
 * share of the time the caller spent building requests and taking results
 * (measured per round, outside the loop's own calls; NULL: not timed). */
static double bench_loop(const struct fixture *f, enum workload w, enum ring_setup setup,
                         unsigned batch, uint64_t rounds, double *caller_share,
                         double *cpu_rate)
{
	static char out[BLK_LEN];
	const size_t cap = sizeof(((struct inflight *)0)->h) / sizeof(struct iouw_handle *);
	struct iouw_clock clock = iouw_clock_monotonic();
	struct iouw_loop_config cfg;
	struct iouw_loop *loop;
	struct iouw_fd *sv0 = NULL, *sv1 = NULL, *file = NULL;
	struct iouw_pool *pool = NULL;
	struct inflight q = { .head = 0, .len = 0, .reads.n = 0, .writes.n = 0 };
	struct round_ctx rc;
	size_t len = w == SOCKET ? MSG_LEN : BLK_LEN;
	uint64_t submitted = 0;
	double t0, c0, caller = 0, tc;
	int r;

	memset(out, 'x', sizeof(out));
	/* The caller's shared fds (core/fd.h): each request takes a
	 * reference, no syscall. Set up before the clock starts, as the raw
	 * side's fds are. */
	if (iouw_fd_dup(f->sv[0], &sv0) < 0 || iouw_fd_dup(f->sv[1], &sv1) < 0 ||
	    iouw_fd_dup(f->file, &file) < 0)
		bench_die("iouw_fd_dup", EBADF);
	/* Request blocks come from, and go back to, the caller's pool. */
	if (iouw_request_pool_new(4 * MAX_BATCH, &pool) < 0)
		bench_die("iouw_request_pool_new", ENOMEM);
	iouw_loop_config_init(&cfg);
	cfg.ring_size = 128;
	cfg.coop_taskrun = setup == RING_COOP;
	r = iouw_loop_new_uring(&cfg, clock, &loop);
	if (r < 0) {
		fprintf(stderr, "iouw_loop_new_uring: %s\n", strerror(-r));
		exit(bench_uring_exit_code(r));
	}
	rc = (struct round_ctx){ .w = w, .batch = batch, .len = len, .out = out, .sv0 = sv0,
		                 .sv1 = sv1, .file = file, .pool = pool };
	c0 = process_cpu_s();
	t0 = bench_now_s();
	while (submitted < rounds || q.len > 0) {
		struct iouw_loop_stats st;
		uint64_t before;

		iouw_loop_stats(loop, &st);
		before = st.delivered;

		/* Two rounds in hand: while one is in the ring, the next is
		 * submitted. */
		if (submitted < rounds && q.len + 2 * batch <= cap) {
			struct iouw_request *run[2 * MAX_BATCH];
			double tb = caller_share ? bench_now_s() : 0;

			build_round(&rc, &q, iouw_clock_now(&clock), run);
			if (caller_share)
				caller += bench_now_s() - tb;
			/* Two rounds in hand never exceed the table's 128 slots
			 * nor the SQ's 128 entries: a round always fits. */
			if (iouw_loop_submit_local(loop, run, 2 * batch) != (int)(2 * batch))
				bench_die("iouw_loop_submit_local", EAGAIN);
			submitted++;
		}
		if (iouw_loop_turn(loop, false) < 0)
			bench_die("iouw_loop_turn", EIO);
		/* Nothing delivered and no round to submit: wait for the CQEs
		 * still due. Not with iouw_loop_turn(loop, true): its reap may
		 * deliver the last of them, and an idle loop then rightly
		 * sleeps until a wake-up, which this single thread (caller and
		 * loop in one) would never send. So reap first, and block
		 * only while the table still holds a request: its op is in
		 * the kernel (the turn above submitted it), so a CQE is due. */
		iouw_loop_stats(loop, &st);
		if (st.delivered == before && st.delivered < submitted * 2 * batch &&
		    (submitted == rounds || q.len + 2 * batch > cap)) {
			(void)iouw_loop_reap(loop);
			iouw_loop_stats(loop, &st);
			if (st.delivered == before &&
			    iouw_waiters_len(iouw_loop_waiters(loop)) > 0 &&
			    iouw_loop_submit_and_wait(loop, true) < 0)
				bench_die("iouw_loop_submit_and_wait", EIO);
		}
		tc = caller_share ? bench_now_s() : 0;
		(void)collect(&q);
		if (caller_share)
			caller += bench_now_s() - tc;
	}
	t0 = bench_now_s() - t0;
	c0 = process_cpu_s() - c0;
	if (caller_share)
		*caller_share = caller / t0;
	*cpu_rate = (double)(2 * batch * rounds) / c0;
	iouw_loop_free(loop);
	iouw_fd_put(sv0);
	iouw_fd_put(sv1);
	iouw_fd_put(file);
	iouw_pool_free(pool);
	spares_free(&q.reads);
	spares_free(&q.writes);
	return (double)(2 * batch * rounds) / t0;
}

/* What a request built by a plain (int fd) constructor pays in syscalls
 * besides the ring: the constructor dups the caller's fd and the request's
 * end closes the dup. The *_fd constructors this benchmark uses pay none. */
static void print_dup_close(int fd)
{
	const unsigned n = 100000;
	double best = 1e18;

	for (int k = 0; k < 3; k++) {
		double t0 = bench_now_s(), t;

		for (unsigned i = 0; i < n; i++) {
			int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

			if (d < 0)
				bench_die("F_DUPFD_CLOEXEC", errno);
			close(d);
		}
		t = (bench_now_s() - t0) * 1e9 / n;
		best = t < best ? t : best;
	}
	printf("machine: %.0f ns per fd dup + close (what a plain-constructor request pays; "
	       "the shared-fd requests here do not)\n", best);
}

/* The judged rings need IORING_SETUP_COOP_TASKRUN (Linux 5.19): without
 * it, say so and skip (exit 77, meson's benchmark skip code) rather than
 * judge other rings. */
static void require_coop_taskrun(void)
{
	struct io_uring ring;
	int r = io_uring_queue_init(8, &ring, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);

	if (r == -EINVAL) {
		printf("bench_io: this kernel has no IORING_SETUP_COOP_TASKRUN (Linux 5.19+), which "
		       "the judged rings use: skipped\n");
		exit(77);
	}
	if (r < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
		exit(bench_uring_exit_code(r));
	}
	io_uring_queue_exit(&ring);
}

int main(int argc, char **argv)
{
	uint64_t ops;
	unsigned batches[8];
	size_t nb;
	bool met = true, judged = false;
	/* IOUW_BENCH_ONLY=raw|loop runs one side (for profiling; no machine
	 * line, no target). */
	const char *only = getenv("IOUW_BENCH_ONLY");
	/* IOUW_BENCH_IO=socket|file runs one workload (for profiling). */
	const char *workload = getenv("IOUW_BENCH_IO");
	struct fixture f;

	if (bench_parse_args("bench_io", argc, argv, 100000, UINT64_MAX / 256, MAX_BATCH, &ops,
	                     batches, &nb))
		return 2;
	if (only && strcmp(only, "raw") && strcmp(only, "loop")) {
		fprintf(stderr, "bench_io: IOUW_BENCH_ONLY must be raw or loop, got '%s'\n", only);
		return 2;
	}
	if (workload && strcmp(workload, "socket") && strcmp(workload, "file")) {
		fprintf(stderr, "bench_io: IOUW_BENCH_IO must be socket or file, got '%s'\n", workload);
		return 2;
	}
	if (!only)
		bench_machine_print();
	if (!getenv("IOUW_BENCH_PLAIN"))
		require_coop_taskrun();
	fixture_open(&f);
	if (!only)
		print_dup_close(f.sv[0]);
	for (int run = 0; run < 4; run++) {
		int w = run % 2 == 0 ? SOCKET : FILEIO;
		enum ring_setup setup = run < 2 ? RING_COOP : RING_PLAIN;

		if (workload && strcmp(workload, w == SOCKET ? "socket" : "file"))
			continue;
		if (setup == RING_PLAIN && (only || workload) && !getenv("IOUW_BENCH_PLAIN"))
			continue;
		if (setup == RING_COOP && getenv("IOUW_BENCH_PLAIN"))
			continue;
		for (size_t i = 0; i < nb; i++) {
			unsigned b = batches[i];
			/* The same number of operations at every batch size. */
			uint64_t n = (ops + 2 * b - 1) / (2 * b);
			double raw = 0, lp = 0, share = 0, raw_c = 0, lp_c = 0;

			for (int k = 0; k < RUNS; k++) {
				double xc = 1, yc = 1;
				double x = !only || !strcmp(only, "raw")
					? bench_raw(&f, (enum workload)w, setup, b, n, &xc) : 1;
				double y = !only || !strcmp(only, "loop")
					? bench_loop(&f, (enum workload)w, setup, b, n, NULL, &yc)
					: 1;

				raw = x > raw ? x : raw;
				lp = y > lp ? y : lp;
				raw_c = xc > raw_c ? xc : raw_c;
				lp_c = yc > lp_c ? yc : lp_c;
			}
			/* The caller's share, in a run of its own (not judged). */
			if (!only || !strcmp(only, "loop")) {
				double yc;

				(void)bench_loop(&f, (enum workload)w, setup, b, n, &share, &yc);
			}
			printf("%-6s batch %2u%s: raw liburing %9.0f ops/s, iouwait loop %9.0f ops/s, "
			       "loop/raw %.3f (the caller building requests and taking results: "
			       "%.0f%% of the loop side's time; without it %.3f; per CPU second: "
			       "raw %.0f, loop %.0f, %.3f)\n",
			       w == SOCKET ? "socket" : "file", b, ring_names[setup], raw, lp, lp / raw,
			       share * 100,
			       lp / (1 - share) / raw, raw_c, lp_c, lp_c / raw_c);
			fflush(stdout);
			if (b == 32 && setup == RING_COOP) {
				judged = true;
				met = met && lp / raw >= TARGET;
			}
		}
	}
	fixture_close(&f);
	if (bench_unjudged_build()) {
		printf("target: loop/raw >= %.2f at batch 32: not judged in %s\n", TARGET,
		       bench_unjudged_build());
		return 0;
	}
	if (!judged || only || workload) {
		printf("target: loop/raw >= %.2f at batch 32: not measured (it needs batch 32 and both sides)\n",
		       TARGET);
		return 0;
	}
	printf("target: loop/raw >= %.2f at batch 32 (socket and file, COOP_TASKRUN rings): %s\n",
	       TARGET,
	       met ? "met" : "NOT met");
	return met ? 0 : 1;
}
