/* tests/reliability/launch.c: iouw-launch, run a command in a hostile
 * environment (the reliability suite's launcher).
 *
 *   iouw-launch [--deny SYSCALL=ERRNO]... [--rlimit RES=N]... [--drop-cap ipc_lock]
 *               -- CMD [ARG...]
 *
 *   --deny io_uring_setup=EPERM   a seccomp filter makes the syscall fail with
 *                                 that errno (io_uring_setup, io_uring_enter,
 *                                 io_uring_register; EPERM, ENOSYS, EACCES,
 *                                 ENOMEM, EMFILE, EAGAIN, EINVAL)
 *   --rlimit nofile=8             soft and hard limit (nofile, memlock, as,
 *                                 nproc, fsize)
 *   --drop-cap ipc_lock           drop CAP_IPC_LOCK from every capability set
 *                                 (so RLIMIT_MEMLOCK applies to root too)
 *
 * Owns nothing after exec: it sets PR_SET_NO_NEW_PRIVS, the limits, the
 * capability drop and the filter (a hand-written classic BPF program: load
 * the architecture, allow anything foreign, load the syscall number, return
 * SECCOMP_RET_ERRNO for the denied ones, allow the rest), then execvp()s.
 * Exit status: 125 for a usage or setup error (with a one-line message),
 * 127 when exec fails; otherwise the command's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define IOUW_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define IOUW_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "iouw-launch: add this architecture's AUDIT_ARCH_*"
#endif

#define MAX_DENY 8

struct deny {
	int nr;
	int err;
};

static const struct {
	const char *name;
	int nr;
} syscalls[] = {
	{ "io_uring_setup", __NR_io_uring_setup },
	{ "io_uring_enter", __NR_io_uring_enter },
	{ "io_uring_register", __NR_io_uring_register },
};

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EPERM", EPERM },   { "ENOSYS", ENOSYS }, { "EACCES", EACCES }, { "ENOMEM", ENOMEM },
	{ "EMFILE", EMFILE }, { "EAGAIN", EAGAIN }, { "EINVAL", EINVAL },
};

static const struct {
	const char *name;
	int res;
} limits[] = {
	{ "nofile", RLIMIT_NOFILE }, { "memlock", RLIMIT_MEMLOCK }, { "as", RLIMIT_AS },
	{ "nproc", RLIMIT_NPROC },   { "fsize", RLIMIT_FSIZE },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "iouw-launch: error: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	exit(125);
}

static int usage(void)
{
	fprintf(stderr, "usage: iouw-launch [--deny SYSCALL=ERRNO]... [--rlimit RES=N]... "
	                "[--drop-cap ipc_lock] -- CMD [ARG...]\n");
	exit(125);
}

static void install_filter(const struct deny *d, size_t n)
{
	struct sock_filter prog[4 + 2 * MAX_DENY + 1];
	struct sock_fprog fprog;
	size_t k = 0;

	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                         offsetof(struct seccomp_data, arch));
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IOUW_AUDIT_ARCH, 1, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                         offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)d[i].nr, 0, 1);
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		                                         SECCOMP_RET_ERRNO | (d[i].err & SECCOMP_RET_DATA));
	}
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	fprog.len = (unsigned short)k;
	fprog.filter = prog;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
		die("PR_SET_SECCOMP", strerror(errno));
}

static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned word = CAP_IPC_LOCK / 32, bit = 1u << (CAP_IPC_LOCK % 32);

	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) < 0 && errno != EINVAL)
		die("PR_CAPBSET_DROP", strerror(errno));
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_IPC_LOCK, 0, 0);
	if (syscall(SYS_capget, &h, d) < 0)
		die("capget", strerror(errno));
	d[word].effective &= ~bit;
	d[word].permitted &= ~bit;
	d[word].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d) < 0)
		die("capset", strerror(errno));
}

int main(int argc, char **argv)
{
	struct deny deny[MAX_DENY];
	size_t ndeny = 0;
	bool drop = false;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = i + 1 < argc ? strchr(argv[i + 1], '=') : NULL;
		size_t k;

		if (!strcmp(argv[i], "--drop-cap") && i + 1 < argc) {
			if (strcmp(argv[++i], "ipc_lock"))
				die("only ipc_lock can be dropped", argv[i]);
			drop = true;
			continue;
		}
		if (!eq)
			usage();
		*eq = '\0';
		if (!strcmp(argv[i], "--deny")) {
			for (k = 0; k < N(syscalls) && strcmp(syscalls[k].name, argv[i + 1]); k++)
				;
			if (k == N(syscalls))
				die("unknown syscall", argv[i + 1]);
			if (ndeny == MAX_DENY)
				die("too many --deny", NULL);
			deny[ndeny].nr = syscalls[k].nr;
			for (k = 0; k < N(errnos) && strcmp(errnos[k].name, eq + 1); k++)
				;
			if (k == N(errnos))
				die("unknown errno", eq + 1);
			deny[ndeny++].err = errnos[k].err;
		} else if (!strcmp(argv[i], "--rlimit")) {
			struct rlimit rl;
			char *end;

			for (k = 0; k < N(limits) && strcmp(limits[k].name, argv[i + 1]); k++)
				;
			if (k == N(limits))
				die("unknown rlimit", argv[i + 1]);
			errno = 0;
			rl.rlim_cur = rl.rlim_max = strtoull(eq + 1, &end, 0);
			if (errno || *end || end == eq + 1)
				die("bad rlimit value", eq + 1);
			if (setrlimit(limits[k].res, &rl) < 0)
				die("setrlimit", strerror(errno));
		} else {
			usage();
		}
		i++;
	}
	if (i + 1 >= argc)
		usage();
	if (drop)
		drop_ipc_lock();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS", strerror(errno));
	if (ndeny)
		install_filter(deny, ndeny);
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "iouw-launch: error: exec %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
}
