/* fuzz/no_uring.c: no-uring COMMAND [ARG...]: run COMMAND with io_uring
 * refused the way container seccomp profiles refuse it (Docker's default
 * profile, the OSS-Fuzz / ClusterFuzzLite runners): io_uring_setup,
 * io_uring_enter and io_uring_register fail with EPERM, every other system
 * call is untouched.
 *
 * Used to prove the `ring` fuzz target skips cleanly where io_uring is
 * blocked (fuzz/ring_no_uring.sh, scripts/oss-fuzz-check). Installs a
 * seccomp filter (after PR_SET_NO_NEW_PRIVS, so no privilege is needed),
 * then execs COMMAND; the filter is inherited by everything it runs.
 * Exit 125 when the filter cannot be installed, 127 when COMMAND cannot be
 * run, 2 for a usage error; otherwise COMMAND's own status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NO_URING_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NO_URING_ARCH AUDIT_ARCH_AARCH64
#else
#error "no-uring: add this architecture's AUDIT_ARCH_* value"
#endif

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

int main(int argc, char **argv)
{
	struct sock_filter filter[] = {
		/* Another ABI's system call numbers mean other calls: allow. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NO_URING_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
		.filter = filter,
	};

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout, "usage: no-uring COMMAND [ARG...]\n");
		return argc < 2 ? 2 : 0;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "no-uring: cannot install the seccomp filter: %s\n", strerror(errno));
		return 125;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-uring: %s: cannot run: %s\n", argv[1], strerror(errno));
	return 127;
}
