/* SPDX-License-Identifier: ISC */
/*
 * The default seccomp filter, in forked children. Every denied call is
 * made with arguments that, were the filter missing, would fail with a
 * *different* errno (or do nothing harmful), so a pass proves the filter.
 */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "twofold/sandbox.h"

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
	EXPECT(3, tf_seccomp_apply_default() == 0);
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
	EXPECT(2, tf_seccomp_apply_default() == 0);
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
	EXPECT(2, tf_seccomp_apply_default() == 0);
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
	EXPECT(2, tf_seccomp_apply_default() == 0);
#if defined(__x86_64__)
	/* x32 getpid: __X32_SYSCALL_BIT | 39 */
	syscall(0x40000000L | 39);
	_exit(50);
#else
	_exit(77);
#endif
}

static void run(void (*fn)(void), int *exit_code, int *sig)
{
	int p[2], status;
	char msg[128] = "";
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		fn();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_badarch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
