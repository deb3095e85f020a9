/* SPDX-License-Identifier: ISC */
/*
 * The seccomp filter of every launched app: an allowlist (default ENOSYS,
 * so a syscall a newer kernel adds is denied until someone reads it and
 * lists it), with argument filters on clone, socket, socketpair, ioctl,
 * prctl and personality. docs/seccomp.md is its readable source: every
 * entry, why, and the errno; tests/unit/sandbox/test_seccomp.c checks the
 * tables below against it.
 *
 * Two layers:
 *  - tf_seccomp_default_prog(): what a persona's launcher loads on itself,
 *    so every app it clones inherits it. It leaves the launcher two things
 *    apps must not have: clone(CLONE_PARENT) (each app is cloned as the
 *    daemon's child) and clone3 (CLONE_INTO_CGROUP);
 *  - tf_seccomp_app_layer_prog(): a tiny filter each app loads on top just
 *    before exec, which takes those two away. The kernel runs every filter
 *    of a task and the most restrictive result wins.
 */
#include <linux/filter.h>
#include <linux/fscrypt.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "seccomp_internal.h"
#include "twofold/sandbox.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
/* prctl options newer than the Debian 12 headers (6.1) */
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif

/* Syscalls libseccomp 2.5.4 does not know by name: their x86-64 numbers
 * (arch/x86/entry/syscalls/syscall_64.tbl); elsewhere they are left out,
 * which with the ENOSYS default denies them. */
#if defined(__x86_64__)
#define X86_64(n) (n)
#else
#define X86_64(n) (-1)
#endif

/* clang-format off: the tables read best grouped, several to a line */
#define S(x)                                                                   \
	{                                                                      \
#x, SCMP_SYS(x)                                                \
	}
#define N(x, n)                                                                \
	{                                                                      \
#x, X86_64(n)                                                  \
	}

/* Allowed whatever the arguments: what ordinary Linux programs (glibc and
 * musl, shells, coreutils, python3, threads, event loops, network clients
 * and servers) need, after Docker's default profile. Grouped as in
 * docs/seccomp.md. */
static const struct tf_seccomp_sys allow[] = {
	/* file I/O */
	S(read),
	S(write),
	S(readv),
	S(writev),
	S(pread64),
	S(pwrite64),
	S(preadv),
	S(pwritev),
	S(preadv2),
	S(pwritev2),
	S(lseek),
	S(sendfile),
	S(splice),
	S(tee),
	S(vmsplice),
	S(copy_file_range),
	S(fsync),
	S(fdatasync),
	S(sync),
	S(syncfs),
	S(sync_file_range),
	S(fallocate),
	S(fadvise64),
	S(readahead),
	S(truncate),
	S(ftruncate),
	N(cachestat, 451),
	/* file descriptors */
	S(open),
	S(openat),
	S(openat2),
	S(creat),
	S(close),
	S(close_range),
	S(dup),
	S(dup2),
	S(dup3),
	S(fcntl),
	S(flock),
	S(pipe),
	S(pipe2),
	/* paths and metadata */
	S(stat),
	S(fstat),
	S(lstat),
	S(newfstatat),
	S(statx),
	S(statfs),
	S(fstatfs),
	S(access),
	S(faccessat),
	S(faccessat2),
	S(getdents),
	S(getdents64),
	S(getcwd),
	S(chdir),
	S(fchdir),
	S(mkdir),
	S(mkdirat),
	S(rmdir),
	S(rename),
	S(renameat),
	S(renameat2),
	S(link),
	S(linkat),
	S(unlink),
	S(unlinkat),
	S(symlink),
	S(symlinkat),
	S(readlink),
	S(readlinkat),
	S(chmod),
	S(fchmod),
	S(fchmodat),
	N(fchmodat2, 452),
	S(chown),
	S(fchown),
	S(lchown),
	S(fchownat),
	S(umask),
	S(utime),
	S(utimes),
	S(utimensat),
	S(futimesat),
	S(mknod),
	S(mknodat),
	/* extended attributes (path and fd forms) */
	S(getxattr),
	S(lgetxattr),
	S(fgetxattr),
	S(setxattr),
	S(lsetxattr),
	S(fsetxattr),
	S(listxattr),
	S(llistxattr),
	S(flistxattr),
	S(removexattr),
	S(lremovexattr),
	S(fremovexattr),
	/* waiting for events */
	S(poll),
	S(ppoll),
	S(select),
	S(pselect6),
	S(epoll_create),
	S(epoll_create1),
	S(epoll_ctl),
	S(epoll_wait),
	S(epoll_pwait),
	S(epoll_pwait2),
	S(eventfd),
	S(eventfd2),
	S(signalfd),
	S(signalfd4),
	S(timerfd_create),
	S(timerfd_settime),
	S(timerfd_gettime),
	S(inotify_init),
	S(inotify_init1),
	S(inotify_add_watch),
	S(inotify_rm_watch),
	/* memory */
	S(brk),
	S(mmap),
	S(munmap),
	S(mremap),
	S(mprotect),
	S(madvise),
	S(msync),
	S(mincore),
	S(mlock),
	S(mlock2),
	S(munlock),
	S(mlockall),
	S(munlockall),
	S(membarrier),
	S(pkey_alloc),
	S(pkey_free),
	S(pkey_mprotect),
	S(get_mempolicy),
	S(map_shadow_stack),
	/* processes and threads */
	S(fork),
	S(vfork),
	S(execve),
	S(execveat),
	S(exit),
	S(exit_group),
	S(wait4),
	S(waitid),
	S(getpid),
	S(getppid),
	S(gettid),
	S(getpgid),
	S(setpgid),
	S(getpgrp),
	S(getsid),
	S(setsid),
	S(set_tid_address),
	S(set_robust_list),
	S(get_robust_list),
	S(rseq),
	S(arch_prctl),
	S(futex),
	S(futex_waitv),
	N(futex_wake, 454),
	N(futex_wait, 455),
	N(futex_requeue, 456),
	S(restart_syscall),
	S(pidfd_open),
	S(pidfd_send_signal),
	/* signals */
	S(rt_sigaction),
	S(rt_sigprocmask),
	S(rt_sigreturn),
	S(rt_sigpending),
	S(rt_sigsuspend),
	S(rt_sigtimedwait),
	S(rt_sigqueueinfo),
	S(rt_tgsigqueueinfo),
	S(sigaltstack),
	S(kill),
	S(tkill),
	S(tgkill),
	S(pause),
	/* time */
	S(clock_gettime),
	S(clock_getres),
	S(clock_nanosleep),
	S(nanosleep),
	S(gettimeofday),
	S(time),
	S(alarm),
	S(getitimer),
	S(setitimer),
	S(timer_create),
	S(timer_settime),
	S(timer_gettime),
	S(timer_getoverrun),
	S(timer_delete),
	/* scheduling and limits */
	S(sched_yield),
	S(sched_getaffinity),
	S(sched_setaffinity),
	S(sched_getparam),
	S(sched_setparam),
	S(sched_getscheduler),
	S(sched_setscheduler),
	S(sched_getattr),
	S(sched_setattr),
	S(sched_get_priority_max),
	S(sched_get_priority_min),
	S(sched_rr_get_interval),
	S(getpriority),
	S(setpriority),
	S(ioprio_get),
	S(ioprio_set),
	S(getrlimit),
	S(setrlimit),
	S(prlimit64),
	S(getrusage),
	S(times),
	S(getcpu),
	S(uname),
	S(sysinfo),
	/* credentials: the app changes its ids under the filter, and
	 * tf_privs_drop_locked's proof needs the way back to fail in the
	 * kernel (EPERM), not here */
	S(getuid),
	S(geteuid),
	S(getgid),
	S(getegid),
	S(getresuid),
	S(getresgid),
	S(getgroups),
	S(setuid),
	S(setgid),
	S(setreuid),
	S(setregid),
	S(setresuid),
	S(setresgid),
	S(setgroups),
	S(setfsuid),
	S(setfsgid),
	S(capget),
	S(capset),
	/* sockets (socket and socketpair are filtered by family) */
	S(connect),
	S(accept),
	S(accept4),
	S(bind),
	S(listen),
	S(sendto),
	S(recvfrom),
	S(sendmsg),
	S(recvmsg),
	S(sendmmsg),
	S(recvmmsg),
	S(shutdown),
	S(getsockname),
	S(getpeername),
	S(getsockopt),
	S(setsockopt),
	/* IPC: the persona's own ipc namespace */
	S(shmget),
	S(shmat),
	S(shmdt),
	S(shmctl),
	S(semget),
	S(semop),
	S(semtimedop),
	S(semctl),
	S(msgget),
	S(msgsnd),
	S(msgrcv),
	S(msgctl),
	S(mq_open),
	S(mq_unlink),
	S(mq_timedsend),
	S(mq_timedreceive),
	S(mq_notify),
	S(mq_getsetattr),
	/* asynchronous I/O (the old kind; io_uring is denied) */
	S(io_setup),
	S(io_destroy),
	S(io_submit),
	S(io_cancel),
	S(io_getevents),
	S(io_pgetevents),
	/* an app may sandbox itself further */
	S(seccomp),
	S(landlock_create_ruleset),
	S(landlock_add_rule),
	S(landlock_restrict_self),
	/* randomness */
	S(getrandom),
};

/* Allowed or denied by their arguments (argument filters below), or by
 * layer (clone3). */
static const struct tf_seccomp_sys filtered[] = {
	S(clone), S(clone3), S(socket),	     S(socketpair),
	S(ioctl), S(prctl),  S(personality), S(memfd_create),
};

/* Denied with EPERM: what an app is refused, said the way the kernel says
 * it to the unprivileged (callers handle EPERM as "not allowed here"
 * better than ENOSYS, "not implemented"). */
static const struct tf_seccomp_sys deny_eperm[] = {
	/* kernel code, power, system-wide state */
	S(init_module),
	S(finit_module),
	S(delete_module),
	S(kexec_load),
	S(kexec_file_load),
	S(reboot),
	S(swapon),
	S(swapoff),
	S(acct),
	S(quotactl),
	S(quotactl_fd),
	S(vhangup),
	S(syslog),
	S(uselib),
	S(lookup_dcookie),
	S(nfsservctl),
	S(sethostname),
	S(setdomainname),
	S(iopl),
	S(ioperm),
	S(modify_ldt),
	/* large attack surface, no app need */
	S(bpf),
	S(perf_event_open),
	S(userfaultfd),
	S(io_uring_setup),
	S(io_uring_enter),
	S(io_uring_register),
	S(keyctl),
	S(add_key),
	S(request_key),
	S(fanotify_init),
	/* file handles bypass path checks (the "shocker" escape) */
	S(open_by_handle_at),
	S(name_to_handle_at),
	/* namespaces and mounts: the persona's are fixed */
	S(unshare),
	S(setns),
	S(mount),
	S(umount2),
	S(pivot_root),
	S(chroot),
	S(fsopen),
	S(fsconfig),
	S(fsmount),
	S(fspick),
	S(move_mount),
	S(open_tree),
	S(mount_setattr),
	N(open_tree_attr, 467),
	/* clocks */
	S(settimeofday),
	S(clock_settime),
	S(clock_adjtime),
	S(adjtimex),
	/* other processes' memory and fds */
	S(ptrace),
	S(process_vm_readv),
	S(process_vm_writev),
	S(kcmp),
	S(pidfd_getfd),
	S(process_madvise),
	S(process_mrelease),
	/* NUMA placement: host policy */
	S(set_mempolicy),
	S(set_mempolicy_home_node),
	S(mbind),
	S(migrate_pages),
	S(move_pages),
	/* secret memory: not for apps to pin */
	S(memfd_secret),
};

/* Not on the allowlist, so ENOSYS (the default), named so that nobody
 * adds them without reading docs/seccomp.md: callers of these new or
 * obsolete interfaces fall back on ENOSYS to an older one that is
 * allowed (or need nothing). No rule is emitted for them. */
static const struct tf_seccomp_sys deny_enosys[] = {
	N(statmount, 457),
	N(listmount, 458),
	N(lsm_get_self_attr, 459),
	N(lsm_set_self_attr, 460),
	N(lsm_list_modules, 461),
	N(mseal, 462),
	N(setxattrat, 463),
	N(getxattrat, 464),
	N(listxattrat, 465),
	N(removexattrat, 466),
	N(file_getattr, 468),
	N(file_setattr, 469),
	S(fanotify_mark),
	S(remap_file_pages),
	S(get_thread_area),
	S(set_thread_area),
	S(epoll_ctl_old),
	S(epoll_wait_old),
	S(_sysctl),
	S(sysfs),
	S(ustat),
	S(create_module),
	S(get_kernel_syms),
	S(query_module),
};

/* ioctl requests denied with EPERM (compared on their low 32 bits) */
#define V(x)                                                                   \
	{                                                                      \
#x, x                                                          \
	}
static const struct tf_seccomp_val bad_ioctls[] = {
	V(TIOCSTI),   /* push input into a terminal: injects commands */
	V(TIOCLINUX), /* console selection paste etc. */
	V(TIOCCONS),  /* redirect the console's output to this tty */
	V(TIOCSETD),  /* line discipline: reaches rarely used ldisc code */
	/* fscrypt: keys live in the superblock, shared by every persona on
	 * it; the daemon alone adds and removes them */
	V(FS_IOC_ADD_ENCRYPTION_KEY), V(FS_IOC_REMOVE_ENCRYPTION_KEY),
	V(FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS),
	V(FS_IOC_GET_ENCRYPTION_KEY_STATUS), /* is a persona unlocked */
	V(FS_IOC_SET_ENCRYPTION_POLICY),     /* v1 and v2: one number */
	V(FS_IOC_GET_ENCRYPTION_PWSALT),     /* writes a salt if none */
};

/* prctl options allowed; any other gets EINVAL */
static const struct tf_seccomp_val prctl_ok[] = {
	V(PR_SET_NAME),
	V(PR_GET_NAME),
	V(PR_SET_PDEATHSIG),
	V(PR_GET_PDEATHSIG),
	V(PR_SET_DUMPABLE),
	V(PR_GET_DUMPABLE),
	V(PR_SET_NO_NEW_PRIVS),
	V(PR_GET_NO_NEW_PRIVS),
	V(PR_GET_SECCOMP),
	V(PR_SET_SECCOMP),
	V(PR_CAPBSET_READ),
	V(PR_CAPBSET_DROP),
	V(PR_GET_SECUREBITS),
	V(PR_CAP_AMBIENT),
	V(PR_GET_KEEPCAPS),
	V(PR_SET_KEEPCAPS),
	V(PR_SET_TIMERSLACK),
	V(PR_GET_TIMERSLACK),
	V(PR_SET_CHILD_SUBREAPER),
	V(PR_GET_CHILD_SUBREAPER),
	V(PR_SET_THP_DISABLE),
	V(PR_GET_THP_DISABLE),
	V(PR_SET_VMA),
	V(PR_GET_TID_ADDRESS),
	V(PR_GET_TSC),
	V(PR_MCE_KILL_GET),
	V(PR_GET_SPECULATION_CTRL),
	V(PR_SET_SPECULATION_CTRL),
	V(PR_SET_MDWE),
	V(PR_GET_MDWE),
	V(PR_SET_PTRACER),
};
/* clang-format on */

const struct tf_seccomp_sys *tf_seccomp_list(enum tf_seccomp_list which,
					     size_t *n)
{
	switch (which) {
	case TF_SC_ALLOW: *n = TF_ARRAY_SIZE(allow); return allow;
	case TF_SC_FILTERED: *n = TF_ARRAY_SIZE(filtered); return filtered;
	case TF_SC_EPERM: *n = TF_ARRAY_SIZE(deny_eperm); return deny_eperm;
	case TF_SC_ENOSYS: *n = TF_ARRAY_SIZE(deny_enosys); return deny_enosys;
	}
	*n = 0;
	return NULL;
}

const struct tf_seccomp_val *tf_seccomp_vals(enum tf_seccomp_vals which,
					     size_t *n)
{
	switch (which) {
	case TF_SC_IOCTL_EPERM:
		*n = TF_ARRAY_SIZE(bad_ioctls);
		return bad_ioctls;
	case TF_SC_PRCTL_OK: *n = TF_ARRAY_SIZE(prctl_ok); return prctl_ok;
	}
	*n = 0;
	return NULL;
}

int tf_seccomp_sys_nr(const struct tf_seccomp_sys *s)
{
	int nr;

	if (s->nr >= 0)
		return s->nr;
	/* a pseudo number: the syscall is newer than the kernel headers, or
	 * this arch has none; libseccomp's own table may still know it */
	nr = seccomp_syscall_resolve_name(s->name);
	return nr >= 0 ? nr : -1;
}

static int add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned cnt,
	       const struct scmp_arg_cmp *cmp)
{
	if (nr < 0)
		return 0; /* not a syscall on this arch */
	/* libseccomp returns -errno */
	return seccomp_rule_add_array(ctx, action, nr, cnt, cmp);
}

static int add_list(scmp_filter_ctx ctx, uint32_t action,
		    const struct tf_seccomp_sys *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = add(ctx, action, tf_seccomp_sys_nr(&l[i]), 0, NULL);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * "arg not in {vals}" as rules of one comparison each (libseccomp 2.5
 * takes one comparison per argument in a rule): every value >= 2^bits,
 * plus, below that, the subtrees of the binary trie of vals that hold no
 * value, each one masked compare on a prefix. vals: sorted, < 2^bits.
 */
static int cover(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned arg,
		 const uint64_t *vals, size_t n, uint64_t prefix,
		 unsigned fixed, unsigned bits)
{
	uint64_t bit;
	size_t k = 0;
	int r;

	if (n == 0) {
		/* the high 64 - bits bits must be 0, the top `fixed` of the
		 * low ones equal prefix: a value of this empty subtree */
		struct scmp_arg_cmp c = {arg, SCMP_CMP_MASKED_EQ,
					 ~((1ULL << (bits - fixed)) - 1),
					 prefix};

		return add(ctx, action, nr, 1, &c);
	}
	if (fixed == bits)
		return 0; /* an allowed value */
	bit = 1ULL << (bits - fixed - 1);
	while (k < n && !(vals[k] & bit))
		k++;
	r = cover(ctx, action, nr, arg, vals, k, prefix, fixed + 1, bits);
	if (r == 0)
		r = cover(ctx, action, nr, arg, vals + k, n - k, prefix | bit,
			  fixed + 1, bits);
	return r;
}

static int deny_outside(scmp_filter_ctx ctx, uint32_t action, int nr,
			unsigned arg, const uint64_t *vals, size_t n,
			unsigned bits)
{
	struct scmp_arg_cmp ge = {arg, SCMP_CMP_GE, 1ULL << bits, 0};
	int r = add(ctx, action, nr, 1, &ge);

	return r < 0 ? r : cover(ctx, action, nr, arg, vals, n, 0, 0, bits);
}

/* clone's flags: arg 0, except on s390 (arg 1) */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_ARG 1
#else
#define CLONE_ARG 0
#endif

/*
 * The argument filters, as a filter of their own (default: allow, i.e. go
 * on to the allowlist; see splice()). In one libseccomp filter a rule
 * without arguments wins over every rule with arguments for the same
 * syscall, so "ioctl: anything but these" cannot sit next to the
 * allowlist's plain ioctl rule.
 */
/*
 * W^X for a gated persona (docs/exec.md): with every writable mount
 * noexec and every memfd noexec, the last way to run code that is not on
 * the base or a signed image is memory the process writes and then
 * executes. So: no mapping writable and executable at once, no anonymous
 * executable mapping, nothing turned executable later (mprotect,
 * pkey_mprotect: the loader maps code PROT_EXEC from the file and never
 * needs it; a text relocation or an executable stack does, and fails),
 * no executable SysV shm. Writes through /proc/PID/mem are Landlock's
 * (no app may write /proc) and ptrace is off the allowlist. A JIT cannot
 * work under this: allow_exec_writable, personal only, turns it off.
 */
static int build_wx(scmp_filter_ctx ctx)
{
	const uint64_t wx = PROT_WRITE | PROT_EXEC;
	struct scmp_arg_cmp mwx = {2, SCMP_CMP_MASKED_EQ, wx, wx};
	struct scmp_arg_cmp manon[2] = {
		{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC},
		{3, SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS},
	};
	struct scmp_arg_cmp px = {2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC};
	struct scmp_arg_cmp shx = {2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC};
	/* every call (flags & 0 == 0), as an argument rule like the others */
	struct scmp_arg_cmp any = {1, SCMP_CMP_MASKED_EQ, 0, 0};
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int r;

	r = add(ctx, eperm, SCMP_SYS(mmap), 1, &mwx);
	if (r == 0)
		r = add(ctx, eperm, SCMP_SYS(mmap), 2, manon);
	if (r == 0)
		r = add(ctx, eperm, SCMP_SYS(mprotect), 1, &px);
	if (r == 0)
		r = add(ctx, eperm, SCMP_SYS(pkey_mprotect), 1, &px);
	if (r == 0)
		r = add(ctx, eperm, SCMP_SYS(shmat), 1, &shx);
	/* A memfd lives on the kernel's internal shmem mount, which is not
	 * noexec, and vm.memfd_noexec only takes away exec(ve): code written
	 * into a memfd still maps PROT_READ | PROT_EXEC from its fd (and a
	 * second, writable mapping of it makes a JIT). A file-backed
	 * mapping cannot be told from a library's by its arguments, so
	 * memfds go. ENOSYS, not EPERM: the callers that want anonymous
	 * shared memory (Wayland buffers) fall back on it to a file in
	 * XDG_RUNTIME_DIR or /dev/shm, both noexec mounts (GTK 3 only on
	 * ENOSYS, libwayland and Qt on any error). */
	if (r == 0)
		r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(memfd_create), 1,
			&any);
	return r;
}

static int build_args(scmp_filter_ctx ctx, const void *arg)
{
	const struct tf_seccomp_policy *pol = arg;
	static const uint64_t ns_flags[] = {
		CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
		CLONE_NEWUSER, CLONE_NEWPID,	CLONE_NEWNET, CLONE_NEWTIME,
	};
	/* the families are the profile's (struct tf_seccomp_policy), sorted
	 * and checked by policy_ok() */
	uint64_t families[TF_SC_FAMILIES_MAX],
		pair_families[TF_SC_FAMILIES_MAX];
	bool netlink = false;
	uint64_t ok[TF_ARRAY_SIZE(prctl_ok)];
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	uint32_t eaf = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	int r;

	/* clone: no new namespaces (CLONE_PARENT: see the app layer) */
	for (size_t i = 0; i < TF_ARRAY_SIZE(ns_flags); i++) {
		struct scmp_arg_cmp c = {CLONE_ARG, SCMP_CMP_MASKED_EQ,
					 ns_flags[i], ns_flags[i]};
		r = add(ctx, eperm, SCMP_SYS(clone), 1, &c);
		if (r < 0)
			return r;
	}
	/* ioctl's request is an unsigned int: compare the low 32 bits only,
	 * as the kernel does */
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad_ioctls); i++) {
		struct scmp_arg_cmp c = {1, SCMP_CMP_MASKED_EQ, 0xffffffffULL,
					 bad_ioctls[i].val & 0xffffffffULL};
		r = add(ctx, eperm, SCMP_SYS(ioctl), 1, &c);
		if (r < 0)
			return r;
	}
	/* socket: the profile's families (today UNIX, IPv4, IPv6, and
	 * netlink for routes/addresses only). Compared on all 64 bits: a
	 * family with high bits set (which the kernel would truncate) is
	 * denied, never let through. */
	for (uint32_t i = 0; i < pol->n_families; i++) {
		families[i] = (uint64_t)pol->families[i];
		netlink |= pol->families[i] == AF_NETLINK;
	}
	for (uint32_t i = 0; i < pol->n_pair_families; i++)
		pair_families[i] = (uint64_t)pol->pair_families[i];
	r = deny_outside(ctx, eaf, SCMP_SYS(socket), 0, families,
			 pol->n_families, 6);
	if (r < 0)
		return r;
	if (netlink) {
		struct scmp_arg_cmp c[2] = {
			{0, SCMP_CMP_EQ, AF_NETLINK, 0},
			{2, SCMP_CMP_NE, (uint64_t)pol->netlink_proto, 0},
		};
		r = add(ctx, eaf, SCMP_SYS(socket), 2, c);
		if (r < 0)
			return r;
	}
	r = deny_outside(ctx, eaf, SCMP_SYS(socketpair), 0, pair_families,
			 pol->n_pair_families, 6);
	if (r < 0)
		return r;
	/* prctl: the options on the list; the rest get EINVAL, the kernel's
	 * answer to an option it does not have, which callers probing for
	 * optional features already handle */
	for (size_t i = 0; i < TF_ARRAY_SIZE(ok); i++)
		ok[i] = prctl_ok[i].val;
	for (size_t i = 1; i < TF_ARRAY_SIZE(ok); i++)
		for (size_t j = i; j > 0 && ok[j - 1] > ok[j]; j--) {
			uint64_t t = ok[j];

			ok[j] = ok[j - 1];
			ok[j - 1] = t;
		}
	r = deny_outside(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(prctl), 0, ok,
			 TF_ARRAY_SIZE(ok), 32);
	if (r < 0)
		return r;
	r = pol->no_execmem ? build_wx(ctx) : 0;
	if (r < 0)
		return r;
	/* personality: only PER_LINUX (0) and the query 0xffffffff; other
	 * personalities (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...) weaken
	 * exploit mitigations. "x != 0 && x != 0xffffffff" (on the low 32
	 * bits, which is all the kernel reads) as a union of single masked
	 * compares: bit 31 clear and some bit k set, or bit 31 set and some
	 * bit k clear. 62 tiny rules, run only for personality. */
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

static int build_allow(scmp_filter_ctx ctx, const void *arg)
{
	(void)arg;
	int r = add_list(ctx, SCMP_ACT_ALLOW, allow, TF_ARRAY_SIZE(allow));

	/* the argument filters ran first; clone3 stays for the launcher */
	if (r == 0)
		r = add_list(ctx, SCMP_ACT_ALLOW, filtered,
			     TF_ARRAY_SIZE(filtered));
	if (r == 0)
		r = add_list(ctx, SCMP_ACT_ERRNO(EPERM), deny_eperm,
			     TF_ARRAY_SIZE(deny_eperm));
	return r;
}

static int build_app_layer(scmp_filter_ctx ctx, const void *arg)
{
	struct scmp_arg_cmp c = {CLONE_ARG, SCMP_CMP_MASKED_EQ, CLONE_PARENT,
				 CLONE_PARENT};
	/* a child of the launcher's parent would be the root daemon's, which
	 * reaps only the apps it launched */
	int r = add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, &c);

	(void)arg;
	/* clone3 passes its flags in memory that seccomp cannot read: ENOSYS
	 * makes glibc (2.34+) fall back to clone, whose flags the rule above
	 * and the namespace rules can check */
	if (r == 0)
		r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
	return r;
}

/*
 * Build one filter with libseccomp and take its BPF. Compile once, load
 * many: a launcher builds the programs at start and each app only loads
 * them (libseccomp's build + compile costs ~0.5 ms). libseccomp 2.5
 * exports BPF only to an fd, so it goes through a memfd.
 */
static int compile(uint32_t def, int (*build)(scmp_filter_ctx, const void *),
		   const void *arg, struct tf_seccomp_prog *out)
{
	scmp_filter_ctx ctx;
	struct stat st;
	void *buf = NULL;
	int fd = -1, r;

	ctx = seccomp_init(def);
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
	/* a binary tree of syscall numbers, not a chain of ~250 compares
	 * (the kernel caches constant ALLOW results per syscall anyway) */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		goto out;
	r = build(ctx, arg);
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

/*
 * One program from two: `first` (default allow) runs, and wherever it
 * would return ALLOW it jumps to the start of `second` instead. So a deny
 * of `first` wins over anything `second` says, and the rest is up to
 * `second`: the argument filters, then the allowlist. Classic BPF jumps
 * only forward, and `second` does not depend on registers or scratch
 * memory left by `first` (libseccomp programs load what they test).
 */
static int splice(const struct tf_seccomp_prog *first,
		  const struct tf_seccomp_prog *second,
		  struct tf_seccomp_prog *out)
{
	size_t len = first->len + second->len;
	struct sock_filter *p;

	if (len > BPF_MAXINSNS)
		return -E2BIG;
	p = malloc(len * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < first->len; i++) {
		struct sock_filter f = first->insns[i];

		if (f.code == (BPF_RET | BPF_K) && f.k == SECCOMP_RET_ALLOW)
			f = (struct sock_filter)BPF_JUMP(
				BPF_JMP | BPF_JA,
				(uint32_t)(first->len - i - 1), 0, 0);
		else if (BPF_CLASS(f.code) == BPF_RET &&
			 f.code != (BPF_RET | BPF_K)) {
			free(p);
			return -EINVAL; /* not what libseccomp emits */
		}
		p[i] = f;
	}
	memcpy(p + first->len, second->insns,
	       second->len * sizeof(*second->insns));
	out->insns = p;
	out->len = len;
	return 0;
}

/* Sorted families below 64 (deny_outside's trie is 6 bits wide), a known
 * allowlist: what build_args relies on. */
static bool families_ok(const int32_t *f, uint32_t n)
{
	if (n > TF_SC_FAMILIES_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (f[i] < 0 || f[i] >= 64 || (i && f[i - 1] >= f[i]))
			return false;
	return true;
}

static bool policy_ok(const struct tf_seccomp_policy *pol)
{
	return pol && pol->allowlist == TF_SC_APP &&
	       families_ok(pol->families, pol->n_families) &&
	       families_ok(pol->pair_families, pol->n_pair_families) &&
	       pol->netlink_proto >= 0;
}

int tf_seccomp_default_prog(const struct tf_seccomp_policy *pol,
			    struct tf_seccomp_prog *out)
{
	struct tf_seccomp_prog args = {0}, list = {0};
	int r;

	if (!policy_ok(pol))
		return -EINVAL;
	r = compile(SCMP_ACT_ALLOW, build_args, pol, &args);
	if (r == 0)
		r = compile(SCMP_ACT_ERRNO(ENOSYS), build_allow, NULL, &list);
	if (r == 0)
		r = splice(&args, &list, out);
	tf_seccomp_prog_free(&args);
	tf_seccomp_prog_free(&list);
	return r;
}

int tf_seccomp_app_layer_prog(struct tf_seccomp_prog *out)
{
	return compile(SCMP_ACT_ALLOW, build_app_layer, NULL, out);
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

int tf_seccomp_apply(const struct tf_seccomp_policy *pol)
{
	struct tf_seccomp_prog base = {0}, app = {0};
	int r = tf_seccomp_default_prog(pol, &base);

	if (r == 0 && pol->app_layer)
		r = tf_seccomp_app_layer_prog(&app);
	if (r == 0)
		r = tf_seccomp_load_prog(&base);
	if (r == 0 && pol->app_layer)
		r = tf_seccomp_load_prog(&app);
	tf_seccomp_prog_free(&base);
	tf_seccomp_prog_free(&app);
	return r;
}

/* A helper's whole filter (the package checker, the tunnel process):
 * default ENOSYS, the listed syscalls, mmap and mprotect only without
 * PROT_EXEC (nothing is loaded after start, so no memory ever becomes
 * executable), and with threads clone for threads only (CLONE_THREAD
 * set: never a new process; glibc's clone3 gets ENOSYS and falls back). */
int tf_seccomp_helper(const int *list, size_t n, bool threads)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, list[i], 0);
	for (size_t i = 0; i < 2 && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				     i ? SCMP_SYS(mprotect) : SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0 && threads)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
					     CLONE_THREAD));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
