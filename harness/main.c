/* harness/main.c: the `iouwait` command line.
 *
 *   iouwait run [--mode kernel|inject|all] [--twice] [--msg-ring] [--branches] [-v] FILE|DIR...
 *   iouwait record FILE -o OUT
 *   iouwait features
 *   iouwait check [--expect-error "LINE:COL: error: expected ..."] FILE...
 *   iouwait commands [--markdown|--dict|--names]
 *
 * Every file is parsed before anything runs; a script that does not parse
 * prints one "FILE:LINE:COL: error: expected ..." line and nothing of it
 * runs. Each (scenario, mode) runs in a forked child, so a broken invariant
 * in the core is reported as a FAIL instead of killing the whole run.
 * Inject mode runs once per either branch index (iouw_scenario_branch_variants),
 * so every scripted order is replayed; kernel mode runs once.
 * Verdict lines: "PASS name [mode] hash=...", "FAIL name [mode] reason",
 * "SKIP name [mode] reason", "ERROR name [mode] environment: ...". Exit
 * status: 0 all passed (skips allowed), 1 a failure or a bad input, 2
 * usage, 77 everything was skipped, 99 the environment failed (out of
 * memory, fds, processes: meson's exitcode protocol calls 99 an ERROR, also
 * for a should_fail test). With --branches, kernel-mode PASS and FAIL
 * lines end in " branches=LINE:BRANCH,..." (the branch the kernel took in
 * each either block entered, 1-based; "-" for none).
 *
 * Inputs: only regular files of at most IOUW_MAX_SCENARIO_BYTES are read
 * (opened O_NONBLOCK, so a FIFO never blocks; fstat refuses anything else),
 * every read error is an error ("FILE:0:0: error: expected ..."); a
 * directory contributes its *.scn files and one with none is "nothing to
 * run"; a scenario without a single step is an error in every command.
 *
 * features prints the ring features the loop and the harness use, one line
 * each, "feature NAME yes" or "feature NAME no (why)": ext_arg (with
 * FEAT_NODROP; without it no uring backend), single_issuer (with
 * DEFER_TASKRUN), multishot_poll (the wake path's POLL_ADD multishot),
 * nop_inject, msg_ring (the two CQE injection paths); exit 0, 77 when no
 * ring can be set up at all (scripts/kernel-matrix collects these).
 *
 * commands prints the scenario language's command table (harness/commands.h)
 * as the markdown table of harness/README.md (--markdown, the default), as
 * the words of the fuzz dictionary corpus/script.dict (--dict), or as the
 * command names, one a line (--names); tests/check_commands.sh keeps the
 * README, the dictionary and fuzz/loop_scenario.c in step with it.
 *
 * Negative scenarios (a `negative line=N` header) must depart at line N: that
 * is reported as "FAIL ... (negative, as declared)" and exits 1, so meson's
 * should_fail sees the expected failure; departing elsewhere or passing is
 * reported and exits 0, which should_fail turns into a test failure.
 *
 * record checks OUT first (harness/outfile.h: only a regular file that is
 * not the input is ever replaced, written with the umask), runs the
 * scenario in kernel mode in a child writing an unnamed file, and the parent
 * moves it into place only when the run passed: nothing half-written is ever
 * left, whatever the child dies of. Every child dies with its parent
 * (PR_SET_PDEATHSIG, then the parent is re-checked), and only the parent
 * ever renames, so killing the parent never lets a file appear later.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include "outfile.h"
#include "runner.h"
#include "scenario.h"
#include "uring_backend.h"

/* Scenarios are small; anything bigger is not one (and /dev/zero-like
 * inputs must not grow memory). */
#define IOUW_MAX_SCENARIO_BYTES (1024 * 1024)

/* Exit status when the environment failed (see the header comment). */
#define EXIT_ENVIRONMENT 99

struct file {
	char *path;
	struct iouw_scenario *s;
};

struct totals {
	int pass, fail, skip, error;
};

static int oom(void)
{
	fprintf(stderr, "iouwait: error: environment: out of memory\n");
	return EXIT_ENVIRONMENT;
}

/* Read what @fd (@path, @size bytes by fstat) holds, at most
 * IOUW_MAX_SCENARIO_BYTES, into a new buffer *@ret. */
static int read_all(int fd, const char *path, size_t size, char **ret, size_t *ret_len, char *err,
                    size_t errlen)
{
	/* Up to one byte more than the cap, to notice a file that grew (or a
	 * /proc file whose size says 0). */
	size_t len = 0, cap = size + 1 < 4096 ? 4096 : size + 1;
	char *buf = malloc(cap);
	int e;

	for (;;) {
		ssize_t n;

		if (!buf) {
			snprintf(err, errlen, "%s:0:0: error: environment: out of memory reading it",
			         path);
			return -ENOMEM;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			snprintf(err, errlen, "%s:0:0: error: expected a readable file (read: %s)", path,
			         strerror(errno));
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > IOUW_MAX_SCENARIO_BYTES) {
			snprintf(err, errlen, "%s:0:0: error: expected a scenario of at most %d bytes",
			         path, IOUW_MAX_SCENARIO_BYTES);
			free(buf);
			return -EFBIG;
		}
		if (len == cap) {
			size_t nc = cap * 2 > IOUW_MAX_SCENARIO_BYTES + 1 ? IOUW_MAX_SCENARIO_BYTES + 1
			                                                   : cap * 2;
			char *nb = realloc(buf, nc);

			if (!nb)
				free(buf);
			buf = nb;
			cap = nc;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Read all of @path, a regular file of at most IOUW_MAX_SCENARIO_BYTES,
 * checking every error. On failure returns -errno and writes one
 * "PATH:0:0: error: expected ..." line to @err. */
static int read_file(const char *path, char **ret, size_t *ret_len, struct stat *ret_st,
                     char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	int e;

	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s:0:0: error: expected a readable file (%s)", path,
		         strerror(errno));
		return e;
	}
	if (fstat(fd, &st) < 0) {
		e = -errno;
		snprintf(err, errlen, "%s:0:0: error: expected a readable file (fstat: %s)", path,
		         strerror(errno));
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s:0:0: error: expected a regular file, not %s", path,
		         iouw_outfile_kind(st.st_mode));
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (st.st_size > IOUW_MAX_SCENARIO_BYTES) {
		snprintf(err, errlen, "%s:0:0: error: expected a scenario of at most %d bytes (this "
		         "file has %lld)", path, IOUW_MAX_SCENARIO_BYTES, (long long)st.st_size);
		close(fd);
		return -EFBIG;
	}
	e = read_all(fd, path, (size_t)st.st_size, ret, ret_len, err, errlen);
	close(fd);
	if (e == 0 && ret_st)
		*ret_st = st;
	return e;
}

static const char *mode_name(enum iouw_run_mode m)
{
	return m == IOUW_RUN_KERNEL ? "kernel" : "inject";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Paths collected for a command, each owned. */
struct paths {
	char **v;
	size_t n;
};

/* Append @p (owned; NULL: out of memory). False when out of memory. */
static bool paths_push(struct paths *l, char *p)
{
	char **nv = p ? realloc(l->v, (l->n + 1) * sizeof(*nv)) : NULL;

	if (!nv) {
		free(p);
		return false;
	}
	l->v = nv;
	l->v[l->n++] = p;
	return true;
}

static void paths_free(struct paths *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* The *.scn files of directory @dir, sorted, onto @l: 0, 1 (reported on
 * stderr) or -ENOMEM. */
static int collect_dir(struct paths *l, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t first = l->n;
	char *p;

	if (!d) {
		fprintf(stderr, "%s: error: %s\n", dir, strerror(errno));
		return 1;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".scn"))
			continue;
		if (!paths_push(l, asprintf(&p, "%s/%s", dir, de->d_name) < 0 ? NULL : p)) {
			closedir(d);
			return -ENOMEM;
		}
	}
	if (errno) {
		fprintf(stderr, "%s: error: reading the directory: %s\n", dir, strerror(errno));
		closedir(d);
		return 1;
	}
	closedir(d);
	if (l->n == first) {
		fprintf(stderr, "%s: error: nothing to run (no *.scn file in this directory)\n",
		        dir);
		return 1;
	}
	qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
	return 0;
}

/* Expand files and directories (their *.scn files, sorted) into @out.
 * Returns 0, or the exit status after printing why (1: a bad argument, a
 * directory with no scenario; EXIT_ENVIRONMENT: out of memory). */
static int collect(char **args, int n, char ***ret, size_t *ret_n)
{
	struct paths l = { NULL, 0 };

	for (int i = 0; i < n; i++) {
		struct stat st;
		int e = 0;

		if (stat(args[i], &st) < 0) {
			fprintf(stderr, "%s: error: %s\n", args[i], strerror(errno));
			e = 1;
		} else if (S_ISDIR(st.st_mode)) {
			e = collect_dir(&l, args[i]);
		} else if (!paths_push(&l, strdup(args[i]))) {
			e = -ENOMEM;
		}
		if (e) {
			paths_free(&l);
			return e < 0 ? oom() : 1;
		}
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}

static bool has_steps(const struct iouw_scenario *s)
{
	for (size_t i = 0; i < s->body.n; i++)
		if (s->body.steps[i].op != IOUW_SCN_MODES && s->body.steps[i].op != IOUW_SCN_NEGATIVE &&
		    s->body.steps[i].op != IOUW_SCN_CONFIG)
			return true;
	return false;
}

/* Parse @path (@ret_st: its stat, may be NULL); writes the error line to
 * @err on failure (-ENOMEM: the environment failed). */
static int parse_path(const char *path, struct iouw_scenario **ret, struct stat *ret_st,
                      char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int e = read_file(path, &text, &len, ret_st, err, errlen);

	if (e < 0)
		return e;
	e = iouw_scenario_parse(path, text, len, ret, err, errlen);
	free(text);
	if (e == -ENOMEM)
		snprintf(err, errlen, "%s:0:0: error: environment: out of memory parsing it", path);
	if (e == 0 && !has_steps(*ret)) {
		snprintf(err, errlen, "%s:1:1: error: expected at least one step (the scenario is "
		         "empty)", path);
		iouw_scenario_free(*ret);
		*ret = NULL;
		return -EINVAL;
	}
	return e;
}

static void environment_result(struct iouw_run_result *r, const char *what, int err)
{
	memset(r, 0, sizeof(*r));
	r->verdict = IOUW_VERDICT_ERROR;
	snprintf(r->reason, sizeof(r->reason), "environment: %s: %s", what, strerror(err));
}

/* A child running one scenario: its result comes back through a pipe, its
 * stderr through a memfd the parent replays after it ended (so the parent
 * can tell an allocation failure the core reported as a broken invariant
 * from a real one). */
struct child {
	pid_t pid;
	int rfd, wfd, errfd;
};

/* fork() a child: returns 0 in the child (dying with the parent, stderr
 * captured, c->wfd for the result), the pid in the parent, and -1 with *res
 * an environment ERROR saying what failed. */
static pid_t child_fork(struct child *c, struct iouw_run_result *res)
{
	pid_t parent = getpid();
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		environment_result(res, "pipe2", errno);
		return -1;
	}
	c->errfd = memfd_create("iouwait-child-stderr", MFD_CLOEXEC);
	if (c->errfd < 0) {
		environment_result(res, "memfd_create", errno);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		environment_result(res, "fork", errno);
		close(pfd[0]);
		close(pfd[1]);
		close(c->errfd);
		return -1;
	}
	if (c->pid == 0) {
		/* Die with the parent; it may already be gone when the death
		 * signal is armed, hence the re-check. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(125);
		if (dup2(c->errfd, STDERR_FILENO) < 0)
			_exit(125);
		close(pfd[0]);
		c->wfd = pfd[1];
		return 0;
	}
	close(pfd[1]);
	c->rfd = pfd[0];
	return c->pid;
}

/* In the child: send @r and exit. */
static __attribute__((noreturn)) void child_exit(struct child *c, const struct iouw_run_result *r)
{
	fflush(NULL);
	_exit(write(c->wfd, r, sizeof(*r)) == (ssize_t)sizeof(*r) ? 0 : 3);
}

/* In the parent: collect the child's result into *res, replay its stderr. */
static void child_wait(struct child *c, struct iouw_run_result *res)
{
	char buf[4096];
	size_t got = 0;
	int status = 0;
	ssize_t n = read(c->rfd, res, sizeof(*res));

	close(c->rfd);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	for (off_t off = 0;;) {
		ssize_t k = pread(c->errfd, buf, sizeof(buf), off);

		if (k <= 0)
			break;
		if (off == 0)
			got = (size_t)k;
		fwrite(buf, 1, (size_t)k, stderr);
		off += k;
	}
	close(c->errfd);
	buf[got < sizeof(buf) ? got : sizeof(buf) - 1] = '\0';
	if (n == (ssize_t)sizeof(*res))
		return;
	memset(res, 0, sizeof(*res));
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) {
		const char *inv = strstr(buf, "invariant violated: ");
		const char *nl = inv ? strchr(inv, '\n') : NULL;
		int len = inv ? (int)(nl ? nl - inv : (ptrdiff_t)strlen(inv)) : 0;

		/* The core reports an allocation it cannot do without as an
		 * invariant whose name says "out of memory": that is the
		 * environment failing, not the script. */
		if (inv && memmem(inv, (size_t)len, "out of memory", 13)) {
			res->verdict = IOUW_VERDICT_ERROR;
			snprintf(res->reason, sizeof(res->reason), "environment: %.*s", len, inv);
			return;
		}
	}
	res->verdict = IOUW_VERDICT_FAIL;
	if (WIFSIGNALED(status))
		snprintf(res->reason, sizeof(res->reason),
		         "the run died of signal %d (a broken invariant the script did not "
		         "expect? see stderr above)", WTERMSIG(status));
	else
		snprintf(res->reason, sizeof(res->reason), "the run exited with %d",
		         WEXITSTATUS(status));
}

/* The child's side of one run (@o->record set for record). */
static void run_in_child(const struct iouw_scenario *s, const struct iouw_run_options *o,
                         struct iouw_run_result *r)
{
	int e = iouw_scenario_run(s, o, r);

	if (e == -ENOMEM) {
		environment_result(r, "setting up the run", ENOMEM);
	} else if (e < 0) {
		memset(r, 0, sizeof(*r));
		r->verdict = IOUW_VERDICT_FAIL;
		snprintf(r->reason, sizeof(r->reason), "runner refused the scenario");
	}
}

/* Run one mode in a child. A failure to start it is an environment ERROR
 * saying what failed. */
static void run_child(const struct iouw_scenario *s, const struct iouw_run_options *o,
                      struct iouw_run_result *res)
{
	struct child c;
	pid_t pid = child_fork(&c, res);

	if (pid < 0)
		return;
	if (pid == 0) {
		struct iouw_run_result r;

		run_in_child(s, o, &r);
		child_exit(&c, &r);
	}
	child_wait(&c, res);
}

static void report(const struct iouw_scenario *s, enum iouw_run_mode m,
                   const struct iouw_run_result *r, struct totals *t, const char *extra,
                   bool branches)
{
	char br[sizeof(r->branches) + 16] = "";

	if (branches && m == IOUW_RUN_KERNEL)
		snprintf(br, sizeof(br), " branches=%s", r->branches[0] ? r->branches : "-");
	if (s->negative_line > 0 && r->verdict != IOUW_VERDICT_SKIP &&
	    r->verdict != IOUW_VERDICT_ERROR) {
		if (r->verdict == IOUW_VERDICT_FAIL && r->fail_line == s->negative_line) {
			printf("FAIL %s [%s] (negative, as declared) %s\n", s->name, mode_name(m),
			       r->reason);
			t->fail++;
		} else {
			printf("PASS? %s [%s] negative scenario did not depart at line %d (%s)\n",
			       s->name, mode_name(m), s->negative_line,
			       r->verdict == IOUW_VERDICT_PASS ? "it passed" : r->reason);
			t->pass++;
		}
		return;
	}
	switch (r->verdict) {
	case IOUW_VERDICT_PASS:
		printf("PASS %s [%s] hash=%016llx%s%s%s%s\n", s->name, mode_name(m),
		       (unsigned long long)r->hash, r->inject_via[0] ? " via=" : "", r->inject_via,
		       extra ? extra : "", br);
		t->pass++;
		break;
	case IOUW_VERDICT_FAIL:
		printf("FAIL %s [%s] %s%s\n", s->name, mode_name(m), r->reason, br);
		t->fail++;
		break;
	case IOUW_VERDICT_SKIP:
		printf("SKIP %s [%s] %s\n", s->name, mode_name(m), r->reason);
		t->skip++;
		break;
	case IOUW_VERDICT_ERROR:
		printf("ERROR %s [%s] %s\n", s->name, mode_name(m), r->reason);
		t->error++;
		break;
	}
}

static int usage(void);

static void feature(const char *name, int err)
{
	if (err == 0)
		printf("feature %s yes\n", name);
	else
		printf("feature %s no (%s)\n", name, strerror(-err));
}

/* A multishot POLL_ADD on an eventfd posts a CQE per readiness edge with
 * IORING_CQE_F_MORE while it stays armed: two writes, two such CQEs. */
static int probe_multishot_poll(void)
{
	struct io_uring ring;
	int efd, err;

	err = io_uring_queue_init(4, &ring, 0);
	if (err < 0)
		return err;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		err = -errno;
		goto out_ring;
	}
	io_uring_prep_poll_multishot(io_uring_get_sqe(&ring), efd, POLLIN);
	err = io_uring_submit(&ring);
	if (err < 0)
		goto out;
	for (int i = 0; i < 2; i++) {
		struct __kernel_timespec ts = { .tv_sec = 1 };
		struct io_uring_cqe *c;
		uint64_t one = 1, v;

		if (write(efd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
			err = -errno;
			goto out;
		}
		err = io_uring_wait_cqe_timeout(&ring, &c, &ts);
		if (err < 0)
			goto out;
		err = c->res < 0 ? c->res : !(c->flags & IORING_CQE_F_MORE) ? -EOPNOTSUPP : 0;
		io_uring_cqe_seen(&ring, c);
		if (err < 0)
			goto out;
		if (read(efd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
			err = -errno;
			goto out;
		}
	}
out:
	close(efd);
out_ring:
	io_uring_queue_exit(&ring);
	return err;
}

/* A default uring backend, probed by @probe (NOP inject or MSG_RING). */
static int probe_inject(int (*probe)(struct iouw_backend *))
{
	struct iouw_uring_config cfg = { .entries = 8 };
	struct iouw_backend *b;
	int err = iouw_uring_backend_new(&cfg, &b);

	if (err < 0)
		return err;
	err = probe(b);
	iouw_backend_free(b);
	return err;
}

static int cmd_features(int argc, char **argv)
{
	struct iouw_uring_config si = { .entries = 8, .single_issuer = true };
	struct io_uring_params p;
	struct io_uring ring;
	struct iouw_backend *b;
	struct utsname u;
	int err;

	(void)argv;
	if (argc != 0)
		return usage();
	if (uname(&u) == 0)
		printf("kernel %s\n", u.release);
	err = iouw_uring_available();
	if (err < 0) {
		printf("feature io_uring no (%s)\n", strerror(-err));
		return 77;
	}
	memset(&p, 0, sizeof(p));
	err = io_uring_queue_init_params(4, &ring, &p);
	if (err < 0)
		return 1;
	io_uring_queue_exit(&ring);
	feature("ext_arg", (p.features & IORING_FEAT_EXT_ARG) && (p.features & IORING_FEAT_NODROP)
	                           ? 0 : -EOPNOTSUPP);
	err = iouw_uring_backend_new(&si, &b);
	if (err == 0)
		iouw_backend_free(b);
	feature("single_issuer", err);
	feature("multishot_poll", probe_multishot_poll());
	feature("nop_inject", probe_inject(iouw_uring_probe_nop_inject));
	feature("msg_ring", probe_inject(iouw_uring_probe_msg_ring));
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: iouwait run [--mode kernel|inject|all] [--twice] [--msg-ring] [--branches] [-v]\n"
	        "                  FILE|DIR...\n"
	        "       iouwait record FILE -o OUT\n"
	        "       iouwait features\n"
	        "       iouwait check [--expect-error \"LINE:COL: error: ...\"] FILE...\n"
	        "       iouwait commands [--markdown|--dict|--names]\n");
	return 2;
}

static int cmd_check(int argc, char **argv)
{
	const char *expect = NULL;
	int i = 0, status = 0;
	char **paths = NULL;
	size_t npaths = 0;
	char err[1024];

	if (argc >= 2 && !strcmp(argv[0], "--expect-error")) {
		expect = argv[1];
		i = 2;
	}
	if (i >= argc)
		return usage();
	if (expect) {
		paths = argv + i;
		npaths = (size_t)(argc - i);
	} else {
		status = collect(argv + i, argc - i, &paths, &npaths);
		if (status)
			return status;
	}
	for (size_t k = 0; k < npaths; k++) {
		struct iouw_scenario *s = NULL;
		int e = parse_path(paths[k], &s, NULL, err, sizeof(err));

		if (expect) {
			char want[1200];

			snprintf(want, sizeof(want), "%s:%s", paths[k], expect);
			if (e == 0) {
				printf("FAIL %s parsed, expected the error \"%s\"\n", paths[k], want);
				status = 1;
			} else if (strcmp(err, want)) {
				printf("FAIL %s\n  got:      %s\n  expected: %s\n", paths[k], err, want);
				status = 1;
			} else {
				printf("PASS %s %s\n", paths[k], err);
			}
		} else if (e < 0) {
			fprintf(stderr, "%s\n", err);
			if (status != EXIT_ENVIRONMENT)
				status = e == -ENOMEM ? EXIT_ENVIRONMENT : 1;
		} else {
			printf("OK %s\n", paths[k]);
		}
		iouw_scenario_free(s);
	}
	if (!expect) {
		for (size_t k = 0; k < npaths; k++)
			free(paths[k]);
		free(paths);
	}
	return status;
}

/* The options of `iouwait run`. */
struct run_args {
	unsigned modes; /* IOUW_SCN_MODE_* */
	bool twice, msg_ring, verbose, branches;
};

/* Parse the options of `iouwait run` into @a: the index of the first
 * path, or -1 for a usage error. */
static int run_args_parse(int argc, char **argv, struct run_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->modes = IOUW_SCN_MODE_KERNEL | IOUW_SCN_MODE_INJECT;
	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "kernel"))
				a->modes = IOUW_SCN_MODE_KERNEL;
			else if (!strcmp(argv[i], "inject"))
				a->modes = IOUW_SCN_MODE_INJECT;
			else if (!strcmp(argv[i], "all"))
				a->modes = IOUW_SCN_MODE_KERNEL | IOUW_SCN_MODE_INJECT;
			else
				return -1;
		} else if (!strcmp(argv[i], "--twice")) {
			a->twice = true;
		} else if (!strcmp(argv[i], "--msg-ring")) {
			a->msg_ring = true;
		} else if (!strcmp(argv[i], "--branches")) {
			a->branches = true;
		} else if (!strcmp(argv[i], "-v")) {
			a->verbose = true;
		} else {
			return -1;
		}
	}
	return i;
}

/* Run @s as @o says into *@r; with @twice, a passing run is run again, in
 * the same mode (without its report), and must pass with the same hash;
 * in kernel mode the same hash is owed only when the kernel took the same
 * branch in every either block (otherwise @note says which it took). An
 * environment ERROR of the second run is the verdict. */
static void run_once_or_twice(const struct iouw_scenario *s, struct iouw_run_options *o,
                              bool twice, struct iouw_run_result *r, char *note, size_t notelen)
{
	struct iouw_run_result r2;

	run_child(s, o, r);
	if (!twice || r->verdict != IOUW_VERDICT_PASS)
		return;
	o->report = NULL;
	run_child(s, o, &r2);
	if (r2.verdict == IOUW_VERDICT_ERROR) {
		*r = r2;
	} else if (r2.verdict != IOUW_VERDICT_PASS) {
		r->verdict = IOUW_VERDICT_FAIL;
		snprintf(r->reason, sizeof(r->reason), "second run did not pass: %.400s", r2.reason);
	} else if (o->mode == IOUW_RUN_KERNEL && strcmp(r->branches, r2.branches)) {
		/* The kernel may legitimately order a race differently. */
		snprintf(note, notelen, " (twice; the kernel took branches %.40s then %.40s)",
		         r->branches, r2.branches);
	} else if (r2.hash != r->hash) {
		r->verdict = IOUW_VERDICT_FAIL;
		snprintf(r->reason, sizeof(r->reason), "not deterministic: hash %016llx then %016llx",
		         (unsigned long long)r->hash, (unsigned long long)r2.hash);
	}
}

/* Every (mode, branch variant) run of @s that @a asks for, reported. */
static void run_file(const struct iouw_scenario *s, const struct run_args *a, struct totals *t)
{
	for (unsigned m = IOUW_SCN_MODE_KERNEL; m <= IOUW_SCN_MODE_INJECT; m <<= 1) {
		struct iouw_run_options o;
		struct iouw_run_result r;
		enum iouw_run_mode mode = m == IOUW_SCN_MODE_KERNEL ? IOUW_RUN_KERNEL : IOUW_RUN_INJECT;
		unsigned variants = mode == IOUW_RUN_INJECT ? iouw_scenario_branch_variants(s) : 1;

		if (!(a->modes & m) || (!(s->modes & m) && a->modes != m))
			continue;
		for (unsigned b = 0; b < variants; b++) {
			char extra[192], note[128];

			memset(&o, 0, sizeof(o));
			o.mode = mode;
			o.report = stdout;
			o.force_msg_ring = a->msg_ring;
			o.verbose = a->verbose;
			o.inject_branch = b;
			if (b)
				snprintf(extra, sizeof(extra), " (every either takes branch %u)", b + 1);
			else
				extra[0] = '\0';
			note[0] = '\0';
			run_once_or_twice(s, &o, a->twice, &r, note, sizeof(note));
			if (a->twice)
				strncat(extra, note[0] ? note : " (twice, same hash)",
				        sizeof(extra) - strlen(extra) - 1);
			report(s, mode, &r, t, extra, a->branches);
		}
	}
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a;
	char **paths = NULL;
	size_t npaths = 0;
	struct file *files;
	struct totals t = { 0, 0, 0, 0 };
	char err[1024];
	int i, status = 0;

	i = run_args_parse(argc, argv, &a);
	if (i < 0 || i >= argc)
		return usage();
	status = collect(argv + i, argc - i, &paths, &npaths);
	if (status)
		return status;
	files = calloc(npaths ? npaths : 1, sizeof(*files));
	if (!files) {
		for (size_t k = 0; k < npaths; k++)
			free(paths[k]);
		free(paths);
		return oom();
	}
	/* Parse everything first: nothing runs from a script that does not parse. */
	for (size_t k = 0; k < npaths; k++) {
		int e;

		files[k].path = paths[k];
		e = parse_path(paths[k], &files[k].s, NULL, err, sizeof(err));
		if (e < 0) {
			fprintf(stderr, "%s\n", err);
			if (status != EXIT_ENVIRONMENT)
				status = e == -ENOMEM ? EXIT_ENVIRONMENT : 1;
		}
	}
	for (size_t k = 0; k < npaths && status == 0; k++)
		run_file(files[k].s, &a, &t);
	for (size_t k = 0; k < npaths; k++) {
		iouw_scenario_free(files[k].s);
		free(paths[k]);
	}
	free(files);
	free(paths);
	if (status)
		return status;
	if (t.error)
		return EXIT_ENVIRONMENT;
	if (t.fail)
		return 1;
	if (t.pass == 0 && t.skip > 0)
		return 77;
	return 0;
}

/* record's child: run @s in kernel mode writing the recording into @out's
 * unnamed file (the parent puts it in place), and exit with the result. */
static __attribute__((noreturn)) void record_child(const struct iouw_scenario *s,
                                                   const struct iouw_outfile *out,
                                                   struct child *c, struct iouw_run_result *r)
{
	struct iouw_run_options o;
	int fd = dup(out->fd);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	memset(&o, 0, sizeof(o));
	o.mode = IOUW_RUN_KERNEL;
	o.report = stdout;
	if (!f) {
		environment_result(r, "opening the recording", errno);
	} else {
		o.record = f;
		run_in_child(s, &o, r);
		if (fclose(f) != 0 && r->verdict == IOUW_VERDICT_PASS)
			environment_result(r, "writing the recording", errno);
	}
	child_exit(c, r);
}

static int cmd_record(int argc, char **argv)
{
	const char *in = NULL, *outp = NULL;
	struct iouw_scenario *s = NULL;
	struct iouw_outfile out;
	struct stat in_st;
	char err[1024];
	int status = 1, e;
	struct child c;
	pid_t pid;
	struct iouw_run_result r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			outp = argv[++i];
		else if (!in)
			in = argv[i];
		else
			return usage();
	}
	if (!in || !outp)
		return usage();
	e = parse_path(in, &s, &in_st, err, sizeof(err));
	if (e < 0) {
		fprintf(stderr, "%s\n", err);
		return e == -ENOMEM ? EXIT_ENVIRONMENT : 1;
	}
	/* OUT: absent or a regular file that is not the input; nothing is
	 * touched otherwise. */
	e = iouw_outfile_open(outp, &in_st, 1, &out, err, sizeof(err));
	if (e < 0) {
		fprintf(stderr, "%s\n", err);
		iouw_scenario_free(s);
		return e == -ENOMEM || e == -EMFILE || e == -ENFILE ? EXIT_ENVIRONMENT : 1;
	}
	pid = child_fork(&c, &r);
	if (pid == 0)
		record_child(s, &out, &c, &r);
	if (pid > 0)
		child_wait(&c, &r);
	if (r.verdict == IOUW_VERDICT_PASS) {
		/* Only the parent ever puts the file in place. */
		if (iouw_outfile_commit(&out, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			printf("FAIL %s [kernel] %s\n", in, err);
		} else {
			printf("RECORDED %s [kernel] -> %s hash=%016llx\n", in, outp,
			       (unsigned long long)r.hash);
			status = 0;
		}
	} else {
		iouw_outfile_discard(&out);
		if (r.verdict == IOUW_VERDICT_SKIP) {
			printf("SKIP %s [kernel] %s\n", in, r.reason);
			status = 77;
		} else if (r.verdict == IOUW_VERDICT_ERROR) {
			printf("ERROR %s [kernel] %s (nothing written)\n", in, r.reason);
			status = EXIT_ENVIRONMENT;
		} else {
			printf("FAIL %s [kernel] %s (nothing written)\n", in, r.reason);
		}
	}
	iouw_scenario_free(s);
	return status;
}

static int cmd_commands(int argc, char **argv)
{
	if (argc > 1)
		return usage();
	if (argc == 0 || !strcmp(argv[0], "--markdown")) {
		iouw_scn_commands_markdown(stdout);
	} else if (!strcmp(argv[0], "--dict")) {
		iouw_scn_commands_dict(stdout);
	} else if (!strcmp(argv[0], "--names")) {
		for (unsigned op = 0; op < IOUW_SCN_NOPS; op++)
			printf("%s\n", iouw_scn_cmd((enum iouw_scn_op)op)->name);
		printf("wait\nor\nend\n");
	} else {
		return usage();
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "record"))
		return cmd_record(argc - 2, argv + 2);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 2, argv + 2);
	if (!strcmp(argv[1], "features"))
		return cmd_features(argc - 2, argv + 2);
	if (!strcmp(argv[1], "commands"))
		return cmd_commands(argc - 2, argv + 2);
	return usage();
}
