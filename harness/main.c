/* harness/main.c: the `iouwait` command line.
 *
 *   iouwait run [--mode kernel|inject|all] [--twice] [--msg-ring] [--branches] [-v] FILE|DIR...
 *   iouwait record FILE -o OUT
 *   iouwait features
 *   iouwait check [--expect-error "LINE:COL: error: expected ..."] FILE...
 *
 * Every file is parsed before anything runs; a script that does not parse
 * prints one "FILE:LINE:COL: error: expected ..." line and nothing of it
 * runs. Each (scenario, mode) runs in a forked child, so a broken invariant
 * in the core is reported as a FAIL instead of killing the whole run.
 * Inject mode runs once per either branch index (iouw_scenario_branch_variants),
 * so every scripted order is replayed; kernel mode runs once.
 * Verdict lines: "PASS name [mode] hash=...", "FAIL name [mode] reason",
 * "SKIP name [mode] reason". With --branches, kernel-mode PASS and FAIL lines
 * end in " branches=LINE:BRANCH,..." (the branch the kernel took in each
 * either block entered, 1-based; "-" for none). Exit status: 0 all passed (skips allowed),
 * 1 a failure or a script error, 2 usage, 77 everything was skipped.
 *
 * features prints the ring features the loop and the harness use, one line
 * each, "feature NAME yes" or "feature NAME no (why)": ext_arg (with
 * FEAT_NODROP; without it no uring backend), single_issuer (with
 * DEFER_TASKRUN), multishot_poll (the wake path's POLL_ADD multishot),
 * nop_inject, msg_ring (the two CQE injection paths); exit 0, 77 when no
 * ring can be set up at all (scripts/kernel-matrix collects these).
 *
 * Negative scenarios (a `negative line=N` header) must depart at line N: that
 * is reported as "FAIL ... (negative, as declared)" and exits 1, so meson's
 * should_fail sees the expected failure; departing elsewhere or passing is
 * reported and exits 0, which should_fail turns into a test failure.
 *
 * record runs the scenario in kernel mode in a child writing OUT's
 * temporary sibling; the parent renames it into place only when the run
 * passed, and removes it otherwise: nothing half-written is ever left.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include "runner.h"
#include "scenario.h"
#include "uring_backend.h"

struct file {
	char *path;
	struct iouw_scenario *s;
};

struct totals {
	int pass, fail, skip;
};

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	*ret = buf;
	*ret_len = len;
	return 0;
}

static const char *mode_name(enum iouw_run_mode m)
{
	return m == IOUW_RUN_KERNEL ? "kernel" : "inject";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expand files and directories (their *.scn files, sorted) into @out. */
static int collect(char **args, int n, char ***ret, size_t *ret_n)
{
	char **out = NULL;
	size_t cnt = 0;

	for (int i = 0; i < n; i++) {
		struct stat st;

		if (stat(args[i], &st) < 0) {
			fprintf(stderr, "%s: error: %s\n", args[i], strerror(errno));
			goto fail;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(args[i]);
			struct dirent *de;
			size_t first = cnt;

			if (!d) {
				fprintf(stderr, "%s: error: %s\n", args[i], strerror(errno));
				goto fail;
			}
			while ((de = readdir(d))) {
				size_t l = strlen(de->d_name);
				char **no;

				if (l < 5 || strcmp(de->d_name + l - 4, ".scn"))
					continue;
				no = realloc(out, (cnt + 1) * sizeof(*out));
				if (!no) {
					closedir(d);
					goto fail;
				}
				out = no;
				if (asprintf(&out[cnt], "%s/%s", args[i], de->d_name) < 0) {
					closedir(d);
					goto fail;
				}
				cnt++;
			}
			closedir(d);
			qsort(out + first, cnt - first, sizeof(*out), cmp_str);
		} else {
			char **no = realloc(out, (cnt + 1) * sizeof(*out));

			if (!no)
				goto fail;
			out = no;
			out[cnt] = strdup(args[i]);
			if (!out[cnt])
				goto fail;
			cnt++;
		}
	}
	*ret = out;
	*ret_n = cnt;
	return 0;
fail:
	for (size_t i = 0; i < cnt; i++)
		free(out[i]);
	free(out);
	return -1;
}

/* Parse @path; prints the error line on failure. */
static int parse_path(const char *path, struct iouw_scenario **ret, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int e = read_file(path, &text, &len);

	if (e < 0) {
		snprintf(err, errlen, "%s:0:0: error: expected a readable file (%s)", path,
		         strerror(-e));
		return e;
	}
	e = iouw_scenario_parse(path, text, len, ret, err, errlen);
	free(text);
	return e;
}

/* Run one mode in a child; the result comes back through a pipe. */
static int run_child(const struct iouw_scenario *s, const struct iouw_run_options *o,
                     struct iouw_run_result *res)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		struct iouw_run_result r;

		close(pfd[0]);
		if (iouw_scenario_run(s, o, &r) < 0) {
			memset(&r, 0, sizeof(r));
			r.verdict = IOUW_VERDICT_FAIL;
			snprintf(r.reason, sizeof(r.reason), "runner refused the scenario");
		}
		fflush(NULL);
		if (write(pfd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], res, sizeof(*res));
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*res)) {
		memset(res, 0, sizeof(*res));
		res->verdict = IOUW_VERDICT_FAIL;
		if (WIFSIGNALED(status))
			snprintf(res->reason, sizeof(res->reason),
			         "the run died of signal %d (a broken invariant the script did not "
			         "expect? see stderr above)", WTERMSIG(status));
		else
			snprintf(res->reason, sizeof(res->reason), "the run exited with %d",
			         WEXITSTATUS(status));
	}
	return 0;
}

static void report(const struct iouw_scenario *s, enum iouw_run_mode m,
                   const struct iouw_run_result *r, struct totals *t, const char *extra,
                   bool branches)
{
	char br[sizeof(r->branches) + 16] = "";

	if (branches && m == IOUW_RUN_KERNEL)
		snprintf(br, sizeof(br), " branches=%s", r->branches[0] ? r->branches : "-");
	if (s->negative_line > 0 && r->verdict != IOUW_VERDICT_SKIP) {
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
	        "       iouwait check [--expect-error \"LINE:COL: error: ...\"] FILE...\n");
	return 2;
}

static int cmd_check(int argc, char **argv)
{
	const char *expect = NULL;
	int i = 0, status = 0;
	char err[1024];

	if (argc >= 2 && !strcmp(argv[0], "--expect-error")) {
		expect = argv[1];
		i = 2;
	}
	if (i >= argc)
		return usage();
	for (; i < argc; i++) {
		struct iouw_scenario *s = NULL;
		int e = parse_path(argv[i], &s, err, sizeof(err));

		if (expect) {
			char want[1200];

			snprintf(want, sizeof(want), "%s:%s", argv[i], expect);
			if (e == 0) {
				printf("FAIL %s parsed, expected the error \"%s\"\n", argv[i], want);
				status = 1;
			} else if (strcmp(err, want)) {
				printf("FAIL %s\n  got:      %s\n  expected: %s\n", argv[i], err, want);
				status = 1;
			} else {
				printf("PASS %s %s\n", argv[i], err);
			}
		} else if (e < 0) {
			fprintf(stderr, "%s\n", err);
			status = 1;
		} else {
			printf("OK %s\n", argv[i]);
		}
		iouw_scenario_free(s);
	}
	return status;
}

static int cmd_run(int argc, char **argv)
{
	unsigned modes = IOUW_SCN_MODE_KERNEL | IOUW_SCN_MODE_INJECT;
	bool twice = false, msg_ring = false, verbose = false, branches = false;
	char **paths = NULL;
	size_t npaths = 0;
	struct file *files;
	struct totals t = { 0, 0, 0 };
	char err[1024];
	int i, status = 0;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "kernel"))
				modes = IOUW_SCN_MODE_KERNEL;
			else if (!strcmp(argv[i], "inject"))
				modes = IOUW_SCN_MODE_INJECT;
			else if (!strcmp(argv[i], "all"))
				modes = IOUW_SCN_MODE_KERNEL | IOUW_SCN_MODE_INJECT;
			else
				return usage();
		} else if (!strcmp(argv[i], "--twice")) {
			twice = true;
		} else if (!strcmp(argv[i], "--msg-ring")) {
			msg_ring = true;
		} else if (!strcmp(argv[i], "--branches")) {
			branches = true;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	if (twice)
		modes = IOUW_SCN_MODE_INJECT;
	if (collect(argv + i, argc - i, &paths, &npaths) < 0)
		return 1;
	files = calloc(npaths ? npaths : 1, sizeof(*files));
	if (!files)
		return 1;
	/* Parse everything first: nothing runs from a script that does not parse. */
	for (size_t k = 0; k < npaths; k++) {
		files[k].path = paths[k];
		if (parse_path(paths[k], &files[k].s, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			status = 1;
		}
	}
	for (size_t k = 0; k < npaths && status == 0; k++) {
		struct iouw_scenario *s = files[k].s;

		for (unsigned m = IOUW_SCN_MODE_KERNEL; m <= IOUW_SCN_MODE_INJECT; m <<= 1) {
			struct iouw_run_options o;
			struct iouw_run_result r, r2;
			enum iouw_run_mode mode = m == IOUW_SCN_MODE_KERNEL ? IOUW_RUN_KERNEL
			                                                     : IOUW_RUN_INJECT;

			unsigned variants = mode == IOUW_RUN_INJECT ? iouw_scenario_branch_variants(s) : 1;

			if (!(modes & m) || (!(s->modes & m) && modes != m))
				continue;
			for (unsigned b = 0; b < variants; b++) {
			char extra[64];

			memset(&o, 0, sizeof(o));
			o.mode = mode;
			o.report = stdout;
			o.force_msg_ring = msg_ring;
			o.verbose = verbose;
			o.inject_branch = b;
			if (b)
				snprintf(extra, sizeof(extra), " (every either takes branch %u)", b + 1);
			else
				extra[0] = '\0';
			if (run_child(s, &o, &r) < 0) {
				printf("FAIL %s [%s] could not fork\n", s->name, mode_name(mode));
				t.fail++;
				continue;
			}
			if (twice && r.verdict == IOUW_VERDICT_PASS) {
				o.report = NULL;
				if (run_child(s, &o, &r2) < 0 || r2.verdict != IOUW_VERDICT_PASS) {
					r.verdict = IOUW_VERDICT_FAIL;
					snprintf(r.reason, sizeof(r.reason), "second run did not pass: %.400s",
					         r2.reason);
				} else if (r2.hash != r.hash) {
					r.verdict = IOUW_VERDICT_FAIL;
					snprintf(r.reason, sizeof(r.reason),
					         "not deterministic: hash %016llx then %016llx",
					         (unsigned long long)r.hash, (unsigned long long)r2.hash);
				}
			}
			if (twice)
				strncat(extra, " (twice, same hash)", sizeof(extra) - strlen(extra) - 1);
			report(s, mode, &r, &t, extra, branches);
			}
		}
	}
	for (size_t k = 0; k < npaths; k++) {
		iouw_scenario_free(files[k].s);
		free(paths[k]);
	}
	free(files);
	free(paths);
	if (status)
		return status;
	if (t.fail)
		return 1;
	if (t.pass == 0 && t.skip > 0)
		return 77;
	return 0;
}

static int cmd_record(int argc, char **argv)
{
	const char *in = NULL, *outp = NULL;
	struct iouw_scenario *s = NULL;
	char err[1024];
	int status = 1, wst, pfd[2];
	pid_t pid;
	struct iouw_run_result r;
	ssize_t n;

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
	if (parse_path(in, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		iouw_scenario_free(s);
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct iouw_run_options o;
		int e;

		close(pfd[0]);
		memset(&o, 0, sizeof(o));
		o.report = stdout;
		e = iouw_scenario_record(s, outp, &o, &r);
		if (e < 0) {
			memset(&r, 0, sizeof(r));
			r.verdict = IOUW_VERDICT_FAIL;
			snprintf(r.reason, sizeof(r.reason), "%s: %s", outp, strerror(-e));
		}
		fflush(NULL);
		_exit(write(pfd[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 3);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		iouw_scenario_free(s);
		return 1;
	}
	n = read(pfd[0], &r, sizeof(r));
	close(pfd[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(r)) {
		memset(&r, 0, sizeof(r));
		r.verdict = IOUW_VERDICT_FAIL;
		snprintf(r.reason, sizeof(r.reason), "the recording run died (signal %d)",
		         WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
	}
	if (r.verdict == IOUW_VERDICT_PASS) {
		printf("RECORDED %s [kernel] -> %s hash=%016llx\n", in, outp, (unsigned long long)r.hash);
		status = 0;
	} else if (r.verdict == IOUW_VERDICT_SKIP) {
		printf("SKIP %s [kernel] %s\n", in, r.reason);
		status = 77;
	} else {
		printf("FAIL %s [kernel] %s (nothing written)\n", in, r.reason);
	}
	iouw_scenario_free(s);
	return status;
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
	return usage();
}
