/* SPDX-License-Identifier: ISC */
/*
 * The app seccomp filter, in forked children. Every denied call is made
 * with arguments that, were the filter missing, would fail with a
 * *different* errno (or do nothing harmful), so a pass proves the filter.
 * test_doc_tables checks docs/seccomp.md (argv[1]) against seccomp.c's
 * tables; test_sweep calls every syscall number that is not allowed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fscrypt.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "src/lib/sandbox/seccomp_internal.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"

/* The policy under test: the default profile's (profile.h), which is what
 * every persona runs with unless device.conf says otherwise. */
static const struct tf_seccomp_policy *default_pol(void)
{
	static struct tf_profile p;

	tf_profile_default(&p);
	return &p.sc;
}

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

static const char *doc_path;

/* Report the first failure: which check, and the errno seen. */
static int report_fd = -1;

static void fail_at(int n, long ret)
{
	char msg[96];
	int len = snprintf(msg, sizeof(msg), "check %d: ret %ld errno %d\n", n,
			   ret, errno);
	if (write(report_fd, msg, (size_t)len) < 0) {
	}
	_exit(n);
}

#define EXPECT_ERR(n, call, err)                                               \
	do {                                                                   \
		errno = 0;                                                     \
		long _r = (long)(call);                                        \
		if (_r != -1 || errno != (err))                                \
			fail_at(n, _r);                                        \
	} while (0)
#define EXPECT(n, cond)                                                        \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_at(n, 0);                                         \
	} while (0)

static bool status_is(const char *key, const char *want)
{
	char line[256];
	size_t kl = strlen(key);
	bool ok = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			char *v = line + kl + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			ok = strcmp(v, want) == 0;
			break;
		}
	}
	fclose(f);
	return ok;
}

static void *thread_fn(void *arg)
{
	return arg;
}

static void child_denied(void)
{
	char buf[64];
	struct timespec ts = {0};
	struct timex tx = {0};
	struct iovec iov = {buf, sizeof(buf)};
	int nullfd;

	/* no controlling tty, so vhangup could hang up nothing even if the
	 * filter were missing */
	EXPECT(1, setsid() > 0);
	EXPECT(2, tf_nnp_set() == 0);
	EXPECT(3, tf_seccomp_apply(default_pol()) == 0);
	EXPECT(4, status_is("Seccomp", "2"));

	/* namespaces */
	EXPECT_ERR(10, unshare(CLONE_NEWNS), EPERM);
	EXPECT_ERR(11, unshare(CLONE_NEWUSER), EPERM);
	EXPECT_ERR(12, unshare(0), EPERM);
	EXPECT_ERR(13, setns(-1, 0), EPERM);
	long c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (c == 0)
		_exit(0);
	EXPECT(14, c == -1 && errno == EPERM);
	c = syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, 0, 0, 0,
		    0);
	if (c == 0)
		_exit(0);
	EXPECT(15, c == -1 && errno == EPERM);
	c = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
	if (c == 0)
		_exit(0);
	EXPECT(16, c == -1 && errno == EPERM);
	/* clone3: ENOSYS (without the filter: EINVAL for size 0) */
	EXPECT_ERR(17, syscall(SYS_clone3, NULL, 0), ENOSYS);

	/* mounts (without the filter: ENOENT) */
	EXPECT_ERR(20, mount("none", "/nonexistent-tf", "tmpfs", 0, NULL),
		   EPERM);
	EXPECT_ERR(21, umount2("/nonexistent-tf", 0), EPERM);
	EXPECT_ERR(22, syscall(SYS_pivot_root, "/nonexistent-tf", "/x"), EPERM);
	EXPECT_ERR(23, chroot("/nonexistent-tf"), EPERM);
	EXPECT_ERR(24, syscall(SYS_fsopen, "tmpfs", 0), EPERM);
	EXPECT_ERR(25, syscall(SYS_fspick, AT_FDCWD, "/nonexistent-tf", 0),
		   EPERM);
	EXPECT_ERR(26, syscall(SYS_open_tree, AT_FDCWD, "/nonexistent-tf", 0),
		   EPERM);
	EXPECT_ERR(27, syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0), EPERM);
	EXPECT_ERR(28, syscall(SYS_fsmount, -1, 0, 0), EPERM);
	EXPECT_ERR(29, syscall(SYS_move_mount, -1, "", -1, "", 0), EPERM);
	EXPECT_ERR(30, syscall(SYS_mount_setattr, -1, "", 0, NULL, 0), EPERM);

	/* kernel surface (without the filter: EFAULT/EINVAL/EBADF) */
	EXPECT_ERR(40, syscall(SYS_bpf, 5 /* PROG_LOAD */, NULL, 0), EPERM);
	EXPECT_ERR(41, syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
	EXPECT_ERR(42, syscall(SYS_userfaultfd, 0), EPERM);
	EXPECT_ERR(43, syscall(SYS_io_uring_setup, 1, NULL), EPERM);
	EXPECT_ERR(44, syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0),
		   EPERM);
	EXPECT_ERR(45, syscall(SYS_io_uring_register, -1, 0, NULL, 0), EPERM);
	EXPECT_ERR(46, syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -2, 0),
		   EPERM);
	EXPECT_ERR(47,
		   syscall(SYS_add_key, "user", "tftest", "x", 1,
			   -2 /* process keyring */),
		   EPERM);
	EXPECT_ERR(48, syscall(SYS_request_key, "user", "tftest", NULL, 0),
		   EPERM);
	EXPECT_ERR(49, syscall(SYS_open_by_handle_at, -1, NULL, 0), EPERM);
	EXPECT_ERR(50, syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, 0),
		   EPERM);

	/* modules, kexec, reboot, swap, acct, quota: all with arguments that
	 * fail harmlessly without the filter (bad magic, bad flags, bad
	 * paths) */
	EXPECT_ERR(60, syscall(SYS_reboot, 0, 0, 0, NULL), EPERM);
	EXPECT_ERR(61, syscall(SYS_init_module, NULL, 0, ""), EPERM);
	EXPECT_ERR(62, syscall(SYS_finit_module, -1, "", 0), EPERM);
	EXPECT_ERR(63, syscall(SYS_delete_module, "tftest_nonexistent", 0),
		   EPERM);
	EXPECT_ERR(64, syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL),
		   EPERM);
	EXPECT_ERR(65,
		   syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xdead0000UL),
		   EPERM);
	EXPECT_ERR(66, syscall(SYS_swapon, "/nonexistent-tf", 0), EPERM);
	EXPECT_ERR(67, syscall(SYS_swapoff, "/nonexistent-tf"), EPERM);
	EXPECT_ERR(68, syscall(SYS_acct, "/nonexistent-tf"), EPERM);
	EXPECT_ERR(69, syscall(SYS_quotactl, 0, NULL, 0, NULL), EPERM);
	EXPECT_ERR(70, syscall(SYS_vhangup), EPERM);
	EXPECT_ERR(71, syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0),
		   EPERM);

	/* clocks (without the filter: EINVAL for CLOCK_MONOTONIC; adjtimex
	 * with modes 0 would be a harmless read) */
	EXPECT_ERR(80, syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts), EPERM);
	EXPECT_ERR(81, adjtimex(&tx), EPERM);
	EXPECT_ERR(82, syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx), EPERM);
	EXPECT_ERR(83, syscall(SYS_settimeofday, NULL, NULL), EPERM);

	/* other processes */
	EXPECT_ERR(90, syscall(SYS_ptrace, 0 /* TRACEME */, 0, 0, 0), EPERM);
	EXPECT_ERR(
		91,
		syscall(SYS_process_vm_readv, getppid(), &iov, 1, &iov, 1, 0),
		EPERM);
	EXPECT_ERR(92, syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 0),
		   EPERM);
	EXPECT_ERR(93, syscall(SYS_pidfd_getfd, -1, 0, 0), EPERM);

	/* terminal injection (without the filter: ENOTTY on /dev/null) */
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	EXPECT(100, nullfd >= 0);
	EXPECT_ERR(101, ioctl(nullfd, TIOCSTI, "x"), EPERM);
	EXPECT_ERR(102, ioctl(nullfd, TIOCLINUX, buf), EPERM);
	/* high bits set: the kernel truncates, so does the filter */
	EXPECT_ERR(103,
		   syscall(SYS_ioctl, nullfd, 0x100000000UL | TIOCSTI, "x"),
		   EPERM);
	/* an ordinary ioctl still reaches the driver */
	EXPECT_ERR(104, ioctl(nullfd, TCGETS, buf), ENOTTY);

	/* W^X (no_execmem, on in the default profile): nothing writable
	 * becomes executable; the fd is the test binary, a real file */
	{
		int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		void *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int sid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

		EXPECT(120, self >= 0 && w != MAP_FAILED);
		EXPECT(121,
		       mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
			       errno == EPERM);
		EXPECT(122, mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				 MAP_PRIVATE, self, 0) == MAP_FAILED &&
				    errno == EPERM);
		EXPECT_ERR(123, mprotect(w, 4096, PROT_READ | PROT_EXEC),
			   EPERM);
		EXPECT_ERR(124,
			   syscall(SYS_pkey_mprotect, w, 4096, PROT_EXEC, -1),
			   EPERM);
		EXPECT(125, sid >= 0 &&
				    shmat(sid, NULL, SHM_EXEC) == (void *)-1 &&
				    errno == EPERM);
		if (sid >= 0)
			shmctl(sid, IPC_RMID, NULL);
		/* a memfd's code would map executable from its fd */
		EXPECT_ERR(126, syscall(SYS_memfd_create, "x", 0), ENOSYS);
	}

	/* personality: only PER_LINUX and the query */
	EXPECT_ERR(110, personality(READ_IMPLIES_EXEC), EPERM);
	EXPECT_ERR(111, personality(ADDR_NO_RANDOMIZE), EPERM);
	EXPECT(112, personality(0xffffffff) == PER_LINUX);
	EXPECT(113, personality(PER_LINUX) == PER_LINUX);
	_exit(0);
}

static void child_allowed(void)
{
	pthread_t th;
	void *ret = NULL;
	int status, fd;
	pid_t pid;
	void *m;

	EXPECT(1, tf_nnp_set() == 0);
	EXPECT(2, tf_seccomp_apply(default_pol()) == 0);
	/* fork (clone without namespace flags) */
	pid = fork();
	if (pid == 0)
		_exit(7);
	EXPECT(3, pid > 0 && waitpid(pid, &status, 0) == pid &&
			  WIFEXITED(status) && WEXITSTATUS(status) == 7);
	/* threads: glibc tries clone3, gets ENOSYS, falls back to clone */
	EXPECT(4, pthread_create(&th, NULL, thread_fn, (void *)0x42) == 0);
	EXPECT(5, pthread_join(th, &ret) == 0 && ret == (void *)0x42);
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	EXPECT(6, fd >= 0);
	close(fd);
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(7, m != MAP_FAILED);
	munmap(m, 8192);
	/* code mapped from a file, as the loader does, under W^X */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	EXPECT(9, fd >= 0 && m != MAP_FAILED);
	close(fd);
	/* execve of a normal program */
	pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(99);
	}
	EXPECT(8, pid > 0 && waitpid(pid, &status, 0) == pid &&
			  WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the filter is inherited across fork and exec */
	_exit(0);
}

/* A syscall through a foreign ABI kills the process. */
static void child_badarch_i386(void)
{
	EXPECT(1, tf_nnp_set() == 0);
	EXPECT(2, tf_seccomp_apply(default_pol()) == 0);
#if defined(__x86_64__)
	long r;
	/* i386 getpid (20) through int 0x80 */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	(void)r;
	_exit(50);
#else
	_exit(77);
#endif
}

static void child_badarch_x32(void)
{
	EXPECT(1, tf_nnp_set() == 0);
	EXPECT(2, tf_seccomp_apply(default_pol()) == 0);
#if defined(__x86_64__)
	/* x32 getpid: __X32_SYSCALL_BIT | 39 */
	syscall(0x40000000L | 39);
	_exit(50);
#else
	_exit(77);
#endif
}

/* Layer 1 (the launcher's), and with two also layer 2 (each app's).
 * Both compiled before either is loaded, as the launcher does: with W^X
 * on, a filtered process has no memfd to compile into. */
static void load_layers(int layers)
{
	struct tf_seccomp_prog p = {0}, q = {0};

	EXPECT(900, tf_nnp_set() == 0);
	EXPECT(901, tf_seccomp_default_prog(default_pol(), &p) == 0);
	if (layers >= 2) {
		EXPECT(903, tf_seccomp_app_layer_prog(&q) == 0);
		/* tiny: it is loaded on every launch */
		EXPECT(904, q.len > 0 && q.len <= 32);
	}
	EXPECT(902, tf_seccomp_load_prog(&p) == 0);
	tf_seccomp_prog_free(&p);
	if (layers < 2)
		return;
	EXPECT(905, tf_seccomp_load_prog(&q) == 0);
	tf_seccomp_prog_free(&q);
}

static bool in_list(enum tf_seccomp_list which, long nr)
{
	size_t n;
	const struct tf_seccomp_sys *l = tf_seccomp_list(which, &n);

	for (size_t i = 0; i < n; i++)
		if (tf_seccomp_sys_nr(&l[i]) == nr)
			return true;
	return false;
}

/* Every syscall number that is not allowed fails with the documented
 * errno. As the app path does: capability lock, nnp, both layers, then the
 * uid change (tf_privs_drop_locked aborts unless the way back to root
 * fails with EPERM in the kernel), so nothing here runs as root. */
static void child_sweep(void)
{
	/* by number, from syscall_64.tbl, independent of seccomp.c */
	static const struct {
		long nr;
		int err;
	} named[] = {
		{467, EPERM},  /* open_tree_attr */
		{468, ENOSYS}, /* file_getattr */
		{469, ENOSYS}, /* file_setattr */
		{463, ENOSYS}, /* setxattrat */
		{464, ENOSYS}, /* getxattrat */
		{465, ENOSYS}, /* listxattrat */
		{466, ENOSYS}, /* removexattrat */
		{457, ENOSYS}, /* statmount */
		{458, ENOSYS}, /* listmount */
		{462, ENOSYS}, /* mseal */
		{459, ENOSYS}, /* lsm_get_self_attr */
		{460, ENOSYS}, /* lsm_set_self_attr */
		{461, ENOSYS}, /* lsm_list_modules */
		{300, EPERM},  /* fanotify_init */
		{440, EPERM},  /* process_madvise */
		{448, EPERM},  /* process_mrelease */
		{447, EPERM},  /* memfd_secret */
		{154, EPERM},  /* modify_ldt */
		{238, EPERM},  /* set_mempolicy */
		{237, EPERM},  /* mbind */
		{425, EPERM},  /* io_uring_setup */
		{321, EPERM},  /* bpf */
		{250, EPERM},  /* keyctl */
		{470, ENOSYS}, /* the next ones */
		{471, ENOSYS}, {500, ENOSYS},
	};
	char name[16];
	int checked = 0;

	EXPECT(1, tf_caps_lock() == 0);
	load_layers(2);
	EXPECT(2, tf_privs_drop_locked(65534, 65534) == 0);
	EXPECT(3, getuid() == 65534 && getgid() == 65534);
	/* the credential calls reach the kernel */
	EXPECT_ERR(4, setuid(0), EPERM);
	EXPECT_ERR(5, setgroups(0, NULL), EPERM);

#if defined(__x86_64__)
	for (size_t i = 0; i < TF_ARRAY_SIZE(named); i++)
		EXPECT_ERR(10 + (int)i, syscall(named[i].nr, 0, 0, 0, 0, 0, 0),
			   named[i].err);
#endif
	/* zero arguments: harmless even if one slipped through, we are
	 * uid 65534 without capabilities */
	for (long nr = 0; nr < 512; nr++) {
		int want;

		if (in_list(TF_SC_ALLOW, nr) || in_list(TF_SC_FILTERED, nr))
			continue;
#if defined(__x86_64__)
		/* uretprobe (335, Linux 6.11) and uprobe (336, 6.16) skip
		 * seccomp by the kernel's design: only the uprobe trampoline
		 * may call them; from anywhere else uretprobe is a SIGILL */
		if (nr == 335 || nr == 336)
			continue;
#endif
		want = in_list(TF_SC_EPERM, nr) ? EPERM : ENOSYS;
		errno = 0;
		long r = syscall(nr, 0, 0, 0, 0, 0, 0);
		if (r != -1 || errno != want) {
			char msg[96];
			int len = snprintf(msg, sizeof(msg),
					   "syscall %ld: ret %ld errno %d, "
					   "want %d\n",
					   nr, r, errno, want);
			if (write(report_fd, msg, (size_t)len) < 0) {
			}
			_exit(100);
		}
		checked++;
	}
	EXPECT(101, checked > 150);

	/* prctl: listed options work, others EINVAL (the kernel would say
	 * 0 for SYSCALL_USER_DISPATCH off, EPERM for PR_SET_MM) */
	EXPECT(110,
	       prctl(PR_SET_NAME, (unsigned long)"tf-sweep", 0, 0, 0) == 0);
	EXPECT(111, prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0) == 0 &&
			    strcmp(name, "tf-sweep") == 0);
	EXPECT(112, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
	EXPECT(113, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	EXPECT(114, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET,
			  7 /* CAP_SETUID */, 0, 0) == 0);
	EXPECT(115, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) >= 0);
	EXPECT(116, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	EXPECT_ERR(117,
		   prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 0, 0, 0, 0),
		   EINVAL);
	EXPECT_ERR(118, prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0),
		   EINVAL);
	/* high bits: the kernel would truncate to PR_GET_DUMPABLE */
	EXPECT_ERR(
		119,
		syscall(SYS_prctl, 0x100000000UL | PR_GET_DUMPABLE, 0, 0, 0, 0),
		EINVAL);
	_exit(0);
}

static void child_sockets(void)
{
	int sv[2], fd, lfd, cfd, afd;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	char buf[4];

	load_layers(2);
	/* without the filter (root): sockets, or EAFNOSUPPORT for a family
	 * the kernel lacks */
	EXPECT_ERR(10, socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0),
		   EAFNOSUPPORT);
	EXPECT_ERR(11, socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0),
		   EAFNOSUPPORT);
	EXPECT_ERR(12, socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0),
		   EAFNOSUPPORT);
	EXPECT_ERR(13, socket(AF_KEY, SOCK_RAW | SOCK_CLOEXEC, 2),
		   EAFNOSUPPORT);
	EXPECT_ERR(14,
		   socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT),
		   EAFNOSUPPORT);
	EXPECT_ERR(15,
		   socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			  NETLINK_KOBJECT_UEVENT),
		   EAFNOSUPPORT);
	/* high bits: the kernel would truncate to AF_UNIX / AF_VSOCK */
	EXPECT_ERR(16,
		   syscall(SYS_socket, 0x100000000UL | AF_UNIX, SOCK_STREAM, 0),
		   EAFNOSUPPORT);
	EXPECT_ERR(
		17,
		syscall(SYS_socket, 0x100000000UL | AF_VSOCK, SOCK_STREAM, 0),
		EAFNOSUPPORT);
	/* without the filter: EOPNOTSUPP */
	EXPECT_ERR(18, socketpair(AF_INET, SOCK_STREAM, 0, sv), EAFNOSUPPORT);

	EXPECT(20, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[0]);
	close(sv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	EXPECT(21, fd >= 0);
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	EXPECT(22, fd >= 0);
	close(fd);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	EXPECT(23, fd >= 0);
	close(fd);
	/* a TCP server and client on loopback */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT(30, lfd >= 0);
	EXPECT(31, bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			   listen(lfd, 1) == 0 &&
			   getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT(32,
	       cfd >= 0 && connect(cfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	EXPECT(33, afd >= 0 && send(cfd, "ok", 2, 0) == 2 &&
			   recv(afd, buf, sizeof(buf), 0) == 2);
	_exit(0);
}

static void child_ioctls(void)
{
	static const unsigned long bad[] = {
		FS_IOC_ADD_ENCRYPTION_KEY,
		FS_IOC_REMOVE_ENCRYPTION_KEY,
		FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS,
		FS_IOC_GET_ENCRYPTION_KEY_STATUS,
		FS_IOC_SET_ENCRYPTION_POLICY,
		FS_IOC_GET_ENCRYPTION_PWSALT,
		TIOCSETD,
		TIOCCONS,
		TIOCSTI,
		TIOCLINUX,
	};
	int fd, p[2], n = -1;

	load_layers(2);
	/* without the filter: ENOTTY on /dev/null */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	EXPECT(1, fd >= 0);
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad); i++) {
		unsigned long req = bad[i] & 0xffffffffUL;

		EXPECT_ERR(10 + (int)i, syscall(SYS_ioctl, fd, req, NULL),
			   EPERM);
		/* the kernel reads an unsigned int, so does the filter */
		EXPECT_ERR(30 + (int)i,
			   syscall(SYS_ioctl, fd, 0xffffffff00000000UL | req,
				   NULL),
			   EPERM);
	}
	/* others reach the driver */
	EXPECT_ERR(50, ioctl(fd, TCGETS, &n), ENOTTY);
	EXPECT(51, pipe2(p, O_CLOEXEC) == 0 && write(p[1], "x", 1) == 1 &&
			   ioctl(p[0], FIONREAD, &n) == 0 && n == 1);
	_exit(0);
}

static char vstack[64 * 1024];

static int vchild(void *arg)
{
	_exit(0);
}

/* The launcher needs CLONE_PARENT and clone3 under layer 1; an app loses
 * both with layer 2, and still forks, spawns and starts threads. */
static void child_layers(void)
{
	char *const argv[] = {"true", NULL};
	pthread_t th;
	void *ret = NULL;
	int status;
	long c;
	pid_t pid;
	struct tf_seccomp_prog app = {0};

	/* compiled before layer 1 takes memfd_create away (W^X) */
	EXPECT(4, tf_seccomp_app_layer_prog(&app) == 0);
	load_layers(1);
	/* the launcher's clone; its child becomes our parent's (run() reaps
	 * it) */
	c = clone(vchild, vstack + sizeof(vstack),
		  CLONE_PARENT | CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	EXPECT(1, c > 0);
	/* clone3 reaches the kernel: EINVAL for size 0 */
	EXPECT_ERR(2, syscall(SYS_clone3, NULL, 0), EINVAL);
	c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (c == 0)
		_exit(0);
	EXPECT(3, c == -1 && errno == EPERM);

	EXPECT(5, tf_seccomp_load_prog(&app) == 0);
	tf_seccomp_prog_free(&app);
	c = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (c == 0)
		_exit(0);
	EXPECT(10, c == -1 && errno == EPERM);
	errno = 0;
	c = clone(vchild, vstack + sizeof(vstack),
		  CLONE_PARENT | CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	EXPECT(11, c == -1 && errno == EPERM);
	EXPECT_ERR(12, syscall(SYS_clone3, NULL, 0), ENOSYS);
	/* fork, vfork, posix_spawn, threads */
	pid = fork();
	if (pid == 0)
		_exit(7);
	EXPECT(20, pid > 0 && waitpid(pid, &status, 0) == pid &&
			   WIFEXITED(status) && WEXITSTATUS(status) == 7);
	pid = vfork();
	if (pid == 0)
		_exit(8);
	EXPECT(21, pid > 0 && waitpid(pid, &status, 0) == pid &&
			   WIFEXITED(status) && WEXITSTATUS(status) == 8);
	EXPECT(22,
	       posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0 &&
		       waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0);
	EXPECT(23, pthread_create(&th, NULL, thread_fn, (void *)0x42) == 0);
	EXPECT(24, pthread_join(th, &ret) == 0 && ret == (void *)0x42);
	_exit(0);
}

/* Real programs under both layers; stdout to the report pipe's sibling. */
static void child_program(const char *const *argv, const char *want)
{
	int p[2], status;
	char out[256] = "";
	ssize_t n, len = 0;
	pid_t pid;

	load_layers(2);
	EXPECT(1, pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(99);
	}
	close(p[1]);
	while ((n = read(p[0], out + len, sizeof(out) - 1 - (size_t)len)) > 0)
		len += n;
	out[len] = '\0';
	EXPECT(2, pid > 0 && waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    strcmp(out, want) != 0) {
		char msg[400];
		int l = snprintf(msg, sizeof(msg), "%s: status %#x out '%s'\n",
				 argv[0], status, out);
		if (write(report_fd, msg, (size_t)l) < 0) {
		}
		_exit(3);
	}
	_exit(0);
}

static void child_sh(void)
{
	static const char *const argv[] = {
		"/bin/sh", "-c", "echo ok | cat; ls / >/dev/null", NULL};

	child_program(argv, "ok\n");
}

static const char python_prog[] =
	"import socket, threading, subprocess, os, select, time\n"
	"a, b = socket.socketpair()\n"
	"t = threading.Thread(target=lambda: a.sendall(b'hi'))\n"
	"t.start(); t.join()\n"
	"assert b.recv(2) == b'hi'\n"
	"s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
	"s.close()\n"
	"assert subprocess.run(['/bin/true']).returncode == 0\n"
	"assert subprocess.run(['/bin/sh', '-c', 'exit 3']).returncode == 3\n"
	"ep = select.epoll(); ep.close(); time.sleep(0.001)\n"
	"os.urandom(8)\n"
	"print('ok')\n";

static void child_python(void)
{
	static const char *const argv[] = {"/usr/bin/python3", "-c",
					   python_prog, NULL};

	child_program(argv, "ok\n");
}

static void run(void (*fn)(void), int *exit_code, int *sig)
{
	int p[2], status;
	char msg[512] = "";
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka's handlers would turn a crash here into a second
		 * test run in this child */
		signal(SIGILL, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGFPE, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		close(p[0]);
		report_fd = p[1];
		fn();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* children a CLONE_PARENT in fn made ours; they exited before it
	 * (CLONE_VFORK) */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (read(p[0], msg, sizeof(msg) - 1) > 0)
		fprintf(stderr, "# %s", msg);
	close(p[0]);
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void test_denied(void **state)
{
	int code, sig;

	run(child_denied, &code, &sig);
	assert_int_equal(sig, 0);
	assert_int_equal(code, 0);
}

static void test_allowed(void **state)
{
	int code, sig;

	run(child_allowed, &code, &sig);
	assert_int_equal(sig, 0);
	assert_int_equal(code, 0);
}

static void test_badarch(void **state)
{
	int code, sig;

#if !defined(__x86_64__)
	skip();
#endif
	run(child_badarch_i386, &code, &sig);
	assert_int_equal(sig, SIGSYS);
	run(child_badarch_x32, &code, &sig);
	assert_int_equal(sig, SIGSYS);
}

static void expect_clean(void (*fn)(void))
{
	int code, sig;

	run(fn, &code, &sig);
	assert_int_equal(sig, 0);
	assert_int_equal(code, 0);
}

static void test_sweep(void **state)
{
	expect_clean(child_sweep);
}

static void test_sockets(void **state)
{
	expect_clean(child_sockets);
}

static void test_ioctls(void **state)
{
	expect_clean(child_ioctls);
}

static void test_layers(void **state)
{
	expect_clean(child_layers);
}

static void test_programs(void **state)
{
	expect_clean(child_sh);
	if (access("/usr/bin/python3", X_OK) == 0)
		expect_clean(child_python);
}

/* The backticked names in the first column of the table rows between
 * <!-- tf-seccomp:TAG --> and <!-- /tf-seccomp:TAG -->. */
static size_t doc_names(const char *doc, const char *tag, char names[][40],
			size_t max)
{
	char open_m[64], close_m[64];
	const char *s, *end;
	size_t n = 0;

	snprintf(open_m, sizeof(open_m), "<!-- tf-seccomp:%s -->", tag);
	snprintf(close_m, sizeof(close_m), "<!-- /tf-seccomp:%s -->", tag);
	s = strstr(doc, open_m);
	assert_non_null(s);
	end = strstr(s, close_m);
	assert_non_null(end);
	while (s < end) {
		const char *eol = strchr(s, '\n');
		const char *cell_end;

		if (!eol || eol > end)
			eol = end;
		if (*s == '|' &&
		    (cell_end = memchr(s + 1, '|', (size_t)(eol - s - 1)))) {
			const char *q = s + 1;

			while ((q = memchr(q, '`', (size_t)(cell_end - q)))) {
				const char *z = memchr(
					q + 1, '`', (size_t)(cell_end - q - 1));
				size_t len;

				assert_non_null(z);
				len = (size_t)(z - q - 1);
				assert_true(len > 0 && len < 40);
				assert_true(n < max);
				memcpy(names[n], q + 1, len);
				names[n][len] = '\0';
				n++;
				q = z + 1;
			}
		}
		s = eol + 1;
	}
	return n;
}

static bool has_name(char names[][40], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void test_doc_tables(void **state)
{
	static const struct {
		const char *tag;
		enum tf_seccomp_list list;
	} tables[] = {{"allow", TF_SC_ALLOW},
		      {"filtered", TF_SC_FILTERED},
		      {"eperm", TF_SC_EPERM},
		      {"enosys", TF_SC_ENOSYS}};
	static char names[512][40];
	char *doc;
	FILE *f;
	long size;
	bool ok = true;
	int seen[1024] = {0};

	assert_non_null(doc_path);
	f = fopen(doc_path, "re");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	doc = calloc(1, (size_t)size + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)size, f), (size_t)size);
	fclose(f);

	for (size_t t = 0; t < TF_ARRAY_SIZE(tables); t++) {
		size_t nd = doc_names(doc, tables[t].tag, names,
				      TF_ARRAY_SIZE(names));
		size_t nc;
		const struct tf_seccomp_sys *c =
			tf_seccomp_list(tables[t].list, &nc);

		for (size_t i = 0; i < nc; i++) {
			int nr = tf_seccomp_sys_nr(&c[i]);

			if (!has_name(names, nd, c[i].name)) {
				fprintf(stderr,
					"# %s: in seccomp.c, not in "
					"docs/seccomp.md\n",
					c[i].name);
				ok = false;
			}
#if defined(__x86_64__)
			/* every name is a syscall here (a typo is not) and
			 * in one table only */
			if (nr < 0 || nr >= 1024 || seen[nr]++) {
				fprintf(stderr,
					"# %s: number %d unknown or "
					"listed twice\n",
					c[i].name, nr);
				ok = false;
			}
#else
			(void)nr;
#endif
		}
		for (size_t i = 0; i < nd; i++) {
			bool found = false;

			for (size_t j = 0; j < nc && !found; j++)
				found = strcmp(names[i], c[j].name) == 0;
			if (!found) {
				fprintf(stderr,
					"# %s: in docs/seccomp.md (%s), "
					"not in seccomp.c\n",
					names[i], tables[t].tag);
				ok = false;
			}
		}
	}
	/* the named argument values: compared by name only */
	static const struct {
		const char *tag;
		enum tf_seccomp_vals list;
	} vtables[] = {{"ioctl-eperm", TF_SC_IOCTL_EPERM},
		       {"prctl-allow", TF_SC_PRCTL_OK}};
	for (size_t t = 0; t < TF_ARRAY_SIZE(vtables); t++) {
		size_t nd = doc_names(doc, vtables[t].tag, names,
				      TF_ARRAY_SIZE(names));
		size_t nc;
		const struct tf_seccomp_val *c =
			tf_seccomp_vals(vtables[t].list, &nc);

		for (size_t i = 0; i < nc; i++)
			if (!has_name(names, nd, c[i].name)) {
				fprintf(stderr,
					"# %s: in seccomp.c, not in "
					"docs/seccomp.md\n",
					c[i].name);
				ok = false;
			}
		for (size_t i = 0; i < nd; i++) {
			bool found = false;

			for (size_t j = 0; j < nc && !found; j++)
				found = strcmp(names[i], c[j].name) == 0;
			if (!found) {
				fprintf(stderr,
					"# %s: in docs/seccomp.md (%s), "
					"not in seccomp.c\n",
					names[i], vtables[t].tag);
				ok = false;
			}
		}
	}
	free(doc);
	assert_true(ok);
}

/* A classic BPF interpreter for what libseccomp emits (and the splice's
 * jumps), to run the compiled programs on calls that are not safe to make
 * for real. */
static uint32_t bpf_run(const struct tf_seccomp_prog *p,
			const struct seccomp_data *d)
{
	uint32_t a = 0, mem[BPF_MEMWORDS] = {0};

	for (size_t pc = 0; pc < p->len; pc++) {
		const struct sock_filter *f = &p->insns[pc];
		uint32_t k = f->k;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(k % 4 == 0 && k < sizeof(*d));
			memcpy(&a, (const char *)d + k, 4);
			break;
		case BPF_LD | BPF_MEM:
			assert_true(k < BPF_MEMWORDS);
			a = mem[k];
			break;
		case BPF_ST:
			assert_true(k < BPF_MEMWORDS);
			mem[k] = a;
			break;
		case BPF_ALU | BPF_AND | BPF_K: a &= k; break;
		case BPF_JMP | BPF_JA: pc += k; break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += a > k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K: return k;
		default: fail_msg("BPF opcode %#x at %zu", f->code, pc);
		}
	}
	fail_msg("BPF program ran off its end");
	return 0;
}

/* What the kernel does with a stack of filters: the most restrictive
 * action wins (for equal actions, the newest filter's). */
static uint32_t verdict(const struct tf_seccomp_prog *layers, int n, long nr,
			uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct seccomp_data d = {
		.nr = (int)nr, .arch = AUDIT_ARCH_X86_64, .args = {a0, a1, a2}};
	uint32_t best = SECCOMP_RET_ALLOW;

	for (int i = n - 1; i >= 0; i--) {
		uint32_t r = bpf_run(&layers[i], &d);

		if ((int32_t)(r & SECCOMP_RET_ACTION_FULL) <
		    (int32_t)(best & SECCOMP_RET_ACTION_FULL))
			best = r;
	}
	return best;
}

#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | (e))

/* Every allowed syscall passes both layers, every other one gets its
 * errno; the argument filters give what docs/seccomp.md says. */
static void test_bpf_verdicts(void **state)
{
	struct tf_seccomp_prog l[2] = {{0}};
	size_t n;
	const struct tf_seccomp_val *v;

#if !defined(__x86_64__)
	skip();
#endif
	assert_int_equal(tf_seccomp_default_prog(default_pol(), &l[0]), 0);
	assert_int_equal(tf_seccomp_app_layer_prog(&l[1]), 0);
	for (long nr = 0; nr < 1024; nr++) {
		uint32_t want;

		if (in_list(TF_SC_FILTERED, nr))
			continue;
		want = in_list(TF_SC_ALLOW, nr)	  ? SECCOMP_RET_ALLOW
		       : in_list(TF_SC_EPERM, nr) ? RET_ERRNO(EPERM)
						  : RET_ERRNO(ENOSYS);
		if (verdict(l, 2, nr, 0, 0, 0) != want)
			fail_msg("syscall %ld: %#x, want %#x", nr,
				 verdict(l, 2, nr, 0, 0, 0), want);
		assert_int_equal(verdict(l, 1, nr, 0, 0, 0), want);
	}
	/* clone: the launcher's flags pass layer 1 only */
	const uint64_t launch = CLONE_PARENT | CLONE_VM | CLONE_VFORK | SIGCHLD;
	assert_int_equal(verdict(l, 1, SYS_clone, launch, 0, 0),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(l, 2, SYS_clone, launch, 0, 0),
			 RET_ERRNO(EPERM));
	assert_int_equal(verdict(l, 2, SYS_clone, SIGCHLD, 0, 0),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(
		verdict(l, 1, SYS_clone, CLONE_NEWTIME | SIGCHLD, 0, 0),
		RET_ERRNO(EPERM));
	assert_int_equal(verdict(l, 1, SYS_clone3, 0, 0, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(l, 2, SYS_clone3, 0, 0, 0), RET_ERRNO(ENOSYS));
	/* socket families, every one below 64 and some above */
	for (uint64_t fam = 0; fam < 70; fam++) {
		bool okf = fam == AF_UNIX || fam == AF_INET ||
			   fam == AF_INET6 || fam == AF_NETLINK;

		assert_int_equal(verdict(l, 2, SYS_socket, fam, SOCK_STREAM, 0),
				 okf ? SECCOMP_RET_ALLOW
				     : RET_ERRNO(EAFNOSUPPORT));
		assert_int_equal(verdict(l, 2, SYS_socketpair, fam, 1, 0),
				 fam == AF_UNIX ? SECCOMP_RET_ALLOW
						: RET_ERRNO(EAFNOSUPPORT));
	}
	assert_int_equal(verdict(l, 2, SYS_socket, AF_NETLINK, SOCK_RAW,
				 NETLINK_SOCK_DIAG),
			 RET_ERRNO(EAFNOSUPPORT));
	assert_int_equal(verdict(l, 2, SYS_socket, (1ULL << 32) | AF_INET,
				 SOCK_STREAM, 0),
			 RET_ERRNO(EAFNOSUPPORT));
	/* prctl: the listed options, and nothing near them */
	v = tf_seccomp_vals(TF_SC_PRCTL_OK, &n);
	for (uint64_t opt = 0; opt < 128; opt++) {
		bool listed = false;

		for (size_t i = 0; i < n; i++)
			listed |= v[i].val == opt;
		assert_int_equal(verdict(l, 2, SYS_prctl, opt, 0, 0),
				 listed ? SECCOMP_RET_ALLOW
					: RET_ERRNO(EINVAL));
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(verdict(l, 2, SYS_prctl, v[i].val, 0, 0),
				 SECCOMP_RET_ALLOW);
		/* the big ones ('SVMA', 'Yama') alone, not their neighbours */
		if (v[i].val > 127) {
			assert_int_equal(
				verdict(l, 2, SYS_prctl, v[i].val + 1, 0, 0),
				RET_ERRNO(EINVAL));
			assert_int_equal(
				verdict(l, 2, SYS_prctl, v[i].val - 1, 0, 0),
				RET_ERRNO(EINVAL));
		}
		assert_int_equal(
			verdict(l, 2, SYS_prctl, v[i].val | (1ULL << 32), 0, 0),
			RET_ERRNO(EINVAL));
	}
	/* ioctl: the listed requests on their low 32 bits */
	v = tf_seccomp_vals(TF_SC_IOCTL_EPERM, &n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(verdict(l, 2, SYS_ioctl, 0, v[i].val, 0),
				 RET_ERRNO(EPERM));
		assert_int_equal(verdict(l, 2, SYS_ioctl, 0,
					 0xffffffff00000000ULL | v[i].val, 0),
				 RET_ERRNO(EPERM));
		/* a neighbour that is not listed reaches the driver */
		for (uint64_t bit = 1; bit < (1ULL << 32); bit <<= 1) {
			bool listed = false;

			for (size_t j = 0; j < n; j++)
				listed |= v[j].val == (v[i].val ^ bit);
			if (!listed)
				assert_int_equal(verdict(l, 2, SYS_ioctl, 0,
							 v[i].val ^ bit, 0),
						 SECCOMP_RET_ALLOW);
		}
	}
	assert_int_equal(verdict(l, 2, SYS_ioctl, 0, TIOCSCTTY, 0),
			 SECCOMP_RET_ALLOW);
	/* personality */
	assert_int_equal(verdict(l, 2, SYS_personality, 0, 0, 0),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(l, 2, SYS_personality, 0xffffffff, 0, 0),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(
		verdict(l, 2, SYS_personality, READ_IMPLIES_EXEC, 0, 0),
		RET_ERRNO(EPERM));
	/* a foreign arch */
	{
		struct seccomp_data d = {.nr = 20, .arch = AUDIT_ARCH_I386};

		assert_int_equal(bpf_run(&l[0], &d), SECCOMP_RET_KILL_PROCESS);
	}
	tf_seccomp_prog_free(&l[0]);
	tf_seccomp_prog_free(&l[1]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_tables),
		cmocka_unit_test(test_bpf_verdicts),
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_badarch),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_sockets),
		cmocka_unit_test(test_ioctls),
		cmocka_unit_test(test_layers),
		cmocka_unit_test(test_programs),
	};

	doc_path = argc > 1 ? argv[1] : NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
