/* SPDX-License-Identifier: ISC */
/*
 * Identity/capability drop, no_new_privs and Landlock, each in a forked
 * child (they cannot be undone). A child reports the first failed check by
 * its exit code (the CHECK number); 0 = all good.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/securebits.h>

#include <cmocka.h>

#include "twofold/sandbox.h"

#define CHECK(n, expr)                                                         \
	do {                                                                   \
		if (!(expr))                                                   \
			_exit(n);                                              \
	} while (0)

static int run_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* "Key:\tvalue" from /proc/self/status */
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

static void child_drop(void *arg)
{
	gid_t groups[4];

	CHECK(1, tf_privs_drop(1000, 1000) == 0);
	CHECK(2, tf_caps_drop_all() == 0);
	CHECK(3, tf_nnp_set() == 0);
	CHECK(4, getuid() == 1000 && geteuid() == 1000 && getgid() == 1000);
	CHECK(5, setuid(0) == -1 && errno == EPERM);
	CHECK(6, setresuid(0, 0, 0) == -1 && errno == EPERM);
	CHECK(7, setgid(0) == -1 && errno == EPERM);
	CHECK(8, getgroups(4, groups) == 0);
	CHECK(9, status_is("CapEff", "0000000000000000"));
	CHECK(10, status_is("CapPrm", "0000000000000000"));
	CHECK(11, status_is("CapInh", "0000000000000000"));
	CHECK(12, status_is("CapBnd", "0000000000000000"));
	CHECK(13, status_is("CapAmb", "0000000000000000"));
	CHECK(14, status_is("NoNewPrivs", "1"));
	int sb = prctl(PR_GET_SECUREBITS);
	CHECK(15, sb >= 0 && (sb & SECBIT_NOROOT) &&
			  (sb & SECBIT_NOROOT_LOCKED) &&
			  (sb & SECBIT_NO_SETUID_FIXUP));
	/* locked: cannot be cleared */
	CHECK(16, prctl(PR_SET_SECUREBITS, 0) == -1);
	/* a root-owned file without other-write stays unwritable */
	CHECK(17,
	      open("/etc/passwd", O_WRONLY | O_CLOEXEC) < 0 && errno == EACCES);
}

static void test_privs_drop(void **state)
{
	assert_int_equal(run_child(child_drop, NULL), 0);
}

static void child_bad_args(void *arg)
{
	CHECK(1, tf_privs_drop(0, 1000) == -EINVAL);
	CHECK(2, tf_privs_drop(1000, 0) == -EINVAL);
	CHECK(3, getuid() == 0);
}

static void test_privs_bad_args(void **state)
{
	assert_int_equal(run_child(child_bad_args, NULL), 0);
}

/* tf_caps_drop_all as root: every set empty although uid stays 0 */
static void child_caps_only(void *arg)
{
	CHECK(1, tf_caps_drop_all() == 0);
	CHECK(2, getuid() == 0);
	CHECK(3, status_is("CapEff", "0000000000000000"));
	CHECK(4, status_is("CapBnd", "0000000000000000"));
	CHECK(5, status_is("CapPrm", "0000000000000000"));
	/* root without CAP_SETUID can still not change uid... */
	CHECK(6, setuid(1000) == -1 && errno == EPERM);
	/* ... and cannot reach kernel-privileged operations */
	CHECK(7, sethostname("x", 1) == -1 && errno == EPERM);
	/* idempotent */
	CHECK(8, tf_caps_drop_all() == 0);
}

static void test_caps_only(void **state)
{
	assert_int_equal(run_child(child_caps_only, NULL), 0);
}

/* The launcher's split: tf_caps_lock() and tf_caps_keep_setid() once in a
 * parent (which keeps CAP_SETUID/SETGID), tf_privs_drop_locked() in each
 * child. */
static void child_locked(void *arg)
{
	pid_t pid;
	int st;

	/* without the lock the cheap drop refuses */
	pid = fork();
	CHECK(1, pid >= 0);
	if (pid == 0)
		_exit(tf_privs_drop_locked(1000, 1000) == -EPERM ? 0 : 1);
	CHECK(2, waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
			 WEXITSTATUS(st) == 0);

	CHECK(3, tf_caps_lock() == 0);
	CHECK(4, status_is("CapBnd", "0000000000000000"));
	CHECK(5, status_is("CapAmb", "0000000000000000"));
	/* the parent can still do privileged things */
	CHECK(6, !status_is("CapEff", "0000000000000000"));
	/* as the launcher does: keep only what the children need */
	CHECK(11, tf_caps_keep_setid() == 0);
	CHECK(12, status_is("CapEff", "00000000000000c0") &&
			  status_is("CapPrm", "00000000000000c0") &&
			  status_is("CapInh", "0000000000000000"));
	{
		/* chown to another owner needs CAP_CHOWN, even for root */
		char tmp[] = "/tmp/tfprivs.XXXXXX";
		int fd = mkstemp(tmp);

		CHECK(13, fd >= 0);
		unlink(tmp);
		CHECK(14, fchown(fd, 1, 1) < 0 && errno == EPERM);
		close(fd);
	}
	pid = fork();
	CHECK(7, pid >= 0);
	if (pid == 0) {
		if (tf_privs_drop_locked(1000, 1000) != 0)
			_exit(1);
		if (!status_is("CapEff", "0000000000000000") ||
		    !status_is("CapPrm", "0000000000000000") ||
		    !status_is("CapInh", "0000000000000000") ||
		    !status_is("CapBnd", "0000000000000000") ||
		    !status_is("CapAmb", "0000000000000000"))
			_exit(2);
		if (getuid() != 1000 || getgid() != 1000 || setuid(0) != -1 ||
		    setresgid(0, 0, 0) != -1)
			_exit(3);
		if (prctl(PR_SET_SECUREBITS, 0) != -1)
			_exit(4);
		_exit(0);
	}
	CHECK(8, waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK(9, WEXITSTATUS(st) == 0);
	CHECK(10, tf_privs_drop_locked(0, 1000) == -EINVAL);
}

static void test_privs_locked(void **state)
{
	assert_int_equal(run_child(child_locked, NULL), 0);
}

struct ll_dirs {
	char a[64], b[64];
};

static bool write_file(const char *dir, const char *name)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void child_landlock(void *arg)
{
	struct ll_dirs *d = arg;
	const char *writable[] = {d->a, "/nonexistent-tftest", "/dev/null"};
	const char *readable[] = {"/"};
	char p[128], buf[8];
	int fd, abi;

	CHECK(1, tf_nnp_set() == 0);
	abi = tf_landlock_apply(readable, 1, writable, 3);
	CHECK(2, abi > 0);
	CHECK(3, write_file(d->a, "new"));
	CHECK(4, !write_file(d->b, "new") && errno == EACCES);
	/* existing file in B: readable, not writable */
	snprintf(p, sizeof(p), "%s/existing", d->b);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(5, fd >= 0 && read(fd, buf, sizeof(buf)) == 2);
	close(fd);
	CHECK(6, open(p, O_WRONLY | O_CLOEXEC) < 0 && errno == EACCES);
	CHECK(7, unlink(p) < 0 && errno == EACCES);
	snprintf(p, sizeof(p), "%s/sub", d->b);
	CHECK(8, mkdir(p, 0700) < 0 && errno == EACCES);
	/* a single-file rule: /dev/null writable, /dev/zero not */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(9, fd >= 0);
	close(fd);
	CHECK(10,
	      open("/dev/zero", O_WRONLY | O_CLOEXEC) < 0 && errno == EACCES);
	/* reading and executing elsewhere still works */
	CHECK(11, access("/bin/sh", X_OK) == 0);
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	CHECK(12, fd >= 0);
	close(fd);
	_exit(0);
}

static void test_landlock(void **state)
{
	struct ll_dirs d;
	char p[128];

	snprintf(d.a, sizeof(d.a), "/tmp/tftest-llA-XXXXXX");
	snprintf(d.b, sizeof(d.b), "/tmp/tftest-llB-XXXXXX");
	assert_non_null(mkdtemp(d.a));
	assert_non_null(mkdtemp(d.b));
	snprintf(p, sizeof(p), "%s/existing", d.b);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hi", 2), 2);
	close(fd);

	int r = run_child(child_landlock, &d);

	unlink(p);
	snprintf(p, sizeof(p), "%s/new", d.a);
	unlink(p);
	rmdir(d.a);
	rmdir(d.b);
	assert_int_equal(r, 0);
}

static void child_landlock_needs_nnp(void *arg)
{
	const char *w[] = {"/tmp"}, *rd[] = {"/"};

	/* unprivileged without no_new_privs: EPERM from restrict_self */
	CHECK(1, tf_privs_drop(1000, 1000) == 0);
	CHECK(2, tf_landlock_apply(rd, 1, w, 1) == -EPERM);
	CHECK(3, tf_landlock_apply(rd, 1, NULL, 1) == -EINVAL);
}

static void test_landlock_needs_nnp(void **state)
{
	assert_int_equal(run_child(child_landlock_needs_nnp, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_privs_drop),
		cmocka_unit_test(test_privs_bad_args),
		cmocka_unit_test(test_caps_only),
		cmocka_unit_test(test_privs_locked),
		cmocka_unit_test(test_landlock),
		cmocka_unit_test(test_landlock_needs_nnp),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "# needs root: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
