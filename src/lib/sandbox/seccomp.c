/* SPDX-License-Identifier: ISC */
/*
 * The default seccomp filter of every launched app: allow by default, deny
 * the kernel attack surface and the escape hatches an app never needs.
 * docs/seccomp.md lists each entry, why, and the errno; keep the two in
 * step.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <seccomp.h>

#include "twofold/sandbox.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Denied outright with EPERM. SCMP_SYS gives a negative pseudo number
 * for a syscall this arch lacks; those are skipped. */
static const int deny_eperm[] = {
	/* kernel modules, kexec, power */
	SCMP_SYS(init_module),
	SCMP_SYS(finit_module),
	SCMP_SYS(delete_module),
	SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load),
	SCMP_SYS(reboot),
	SCMP_SYS(swapon),
	SCMP_SYS(swapoff),
	SCMP_SYS(acct),
	SCMP_SYS(quotactl),
	SCMP_SYS(quotactl_fd),
	SCMP_SYS(vhangup),
	SCMP_SYS(syslog),
	SCMP_SYS(uselib),
	SCMP_SYS(lookup_dcookie),
	SCMP_SYS(nfsservctl),
	/* large attack surface, no app need */
	SCMP_SYS(bpf),
	SCMP_SYS(perf_event_open),
	SCMP_SYS(userfaultfd),
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(keyctl),
	SCMP_SYS(add_key),
	SCMP_SYS(request_key),
	/* file handles bypass path checks (the "shocker" escape) */
	SCMP_SYS(open_by_handle_at),
	SCMP_SYS(name_to_handle_at),
	/* namespaces and mounts: the persona's are fixed */
	SCMP_SYS(unshare),
	SCMP_SYS(setns),
	SCMP_SYS(mount),
	SCMP_SYS(umount2),
	SCMP_SYS(pivot_root),
	SCMP_SYS(chroot),
	SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig),
	SCMP_SYS(fsmount),
	SCMP_SYS(fspick),
	SCMP_SYS(move_mount),
	SCMP_SYS(open_tree),
	SCMP_SYS(mount_setattr),
	/* clocks */
	SCMP_SYS(settimeofday),
	SCMP_SYS(clock_settime),
	SCMP_SYS(clock_adjtime),
	SCMP_SYS(adjtimex),
	/* other processes' memory and fds */
	SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev),
	SCMP_SYS(kcmp),
	SCMP_SYS(pidfd_getfd),
};

static int add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned cnt,
	       const struct scmp_arg_cmp *cmp)
{
	int r;

	if (nr < 0)
		return 0; /* not a syscall on this arch */
	r = seccomp_rule_add_array(ctx, action, nr, cnt, cmp);
	/* libseccomp returns -errno */
	return r;
}

static int build(scmp_filter_ctx ctx)
{
	static const uint64_t ns_flags[] = {
		CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
		CLONE_NEWUSER, CLONE_NEWPID,	CLONE_NEWNET, CLONE_NEWTIME,
	};
	static const uint64_t bad_ioctls[] = {
		TIOCSTI,   /* push input into a terminal: injects commands */
		TIOCLINUX, /* console selection paste etc. */
	};
	/* clone's flags: arg 0, except on s390 (arg 1) */
#if defined(__s390__) || defined(__s390x__)
	const unsigned clone_arg = 1;
#else
	const unsigned clone_arg = 0;
#endif
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int r;

	for (size_t i = 0; i < TF_ARRAY_SIZE(deny_eperm); i++) {
		r = add(ctx, eperm, deny_eperm[i], 0, NULL);
		if (r < 0)
			return r;
	}
	/* clone3 passes its flags in memory that seccomp cannot read, so it
	 * gets ENOSYS: glibc (2.34+) then falls back to clone, whose flags
	 * are a register the rules below can check */
	r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < TF_ARRAY_SIZE(ns_flags); i++) {
		struct scmp_arg_cmp c = {clone_arg, SCMP_CMP_MASKED_EQ,
					 ns_flags[i], ns_flags[i]};
		r = add(ctx, eperm, SCMP_SYS(clone), 1, &c);
		if (r < 0)
			return r;
	}
	/* ioctl's request is an unsigned int: compare the low 32 bits only,
	 * as the kernel does */
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad_ioctls); i++) {
		struct scmp_arg_cmp c = {1, SCMP_CMP_MASKED_EQ, 0xffffffffULL,
					 bad_ioctls[i]};
		r = add(ctx, eperm, SCMP_SYS(ioctl), 1, &c);
		if (r < 0)
			return r;
	}
	/* personality: only PER_LINUX (0) and the query 0xffffffff; other
	 * personalities (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...) weaken
	 * exploit mitigations. libseccomp 2.5 allows one comparison per
	 * argument in a rule, so "x != 0 && x != 0xffffffff" (on the low 32
	 * bits, which is all the kernel reads) is written as a union of
	 * single masked compares: bit 31 clear and some bit k set, or bit 31
	 * set and some bit k clear. 62 tiny rules, run only for personality.
	 */
	for (unsigned k = 0; k < 31; k++) {
		uint64_t bk = 1ULL << k, b31 = 1ULL << 31;
		struct scmp_arg_cmp set = {0, SCMP_CMP_MASKED_EQ, bk | b31, bk};
		struct scmp_arg_cmp clr = {0, SCMP_CMP_MASKED_EQ, bk | b31,
					   b31};
		r = add(ctx, eperm, SCMP_SYS(personality), 1, &set);
		if (r < 0)
			return r;
		r = add(ctx, eperm, SCMP_SYS(personality), 1, &clr);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Compile once, load many: a launcher builds the program at start and each
 * app only loads it (libseccomp's build + compile costs ~0.5 ms per call).
 * libseccomp 2.5 exports BPF only to an fd, so it goes through a memfd.
 */
int tf_seccomp_default_prog(struct tf_seccomp_prog *out)
{
	scmp_filter_ctx ctx;
	struct stat st;
	void *buf = NULL;
	int fd = -1, r;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	/* Only the native arch is in the filter; a syscall made through
	 * another ABI (int 0x80 i386, x32 numbers on x86-64) would see
	 * other numbers and dodge the rules, so it kills the process:
	 * no app of ours is built for another ABI. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			     SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		goto out;
	/* apply to every thread, refusing if one cannot be synced */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		goto out;
	r = build(ctx);
	if (r < 0)
		goto out;
	fd = memfd_create("tf-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = tf_negerrno();
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = tf_negerrno();
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter))) {
		r = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		r = -EIO;
		goto out;
	}
	out->insns = steal_pointer(&buf);
	out->len = (size_t)st.st_size / sizeof(struct sock_filter);
	r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}

int tf_seccomp_load_prog(const struct tf_seccomp_prog *p)
{
	struct sock_fprog fp = {.len = (unsigned short)p->len,
				.filter = p->insns};

	if (p->insns == NULL || p->len == 0 || p->len > BPF_MAXINSNS)
		return -EINVAL;
	/* TSYNC: every thread, or fail (the app is single-threaded here,
	 * but a filter that silently skipped a thread would be no filter) */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &fp) != 0)
		return errno > 0 ? -errno : -EINVAL;
	return 0;
}

void tf_seccomp_prog_free(struct tf_seccomp_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}

int tf_seccomp_apply_default(void)
{
	struct tf_seccomp_prog p = {0};
	int r = tf_seccomp_default_prog(&p);

	if (r == 0)
		r = tf_seccomp_load_prog(&p);
	tf_seccomp_prog_free(&p);
	return r;
}
