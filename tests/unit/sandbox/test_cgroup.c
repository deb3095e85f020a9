/* SPDX-License-Identifier: ISC */
/*
 * Cgroup primitives against the real kernel (run as root). Every test uses
 * its own group "tftest-<pid>-<n>" and removes it in teardown and, should
 * the process die in between, at exit.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "twofold/profile.h"
#include "twofold/sandbox.h"

static char group[64];
static int group_seq;
static char tmpdir[64];

/* every group name this process used, for the atexit sweep */
static char used[64][64];
static int nused;

static void sweep_all(void)
{
	for (int i = 0; i < nused; i++)
		if (tf_cgroup_remove_stale(used[i]) < 0)
			fprintf(stderr, "# cleanup of %s failed\n", used[i]);
}

static int setup(void **state)
{
	static bool registered;

	if (!registered) {
		atexit(sweep_all);
		registered = true;
	}
	snprintf(group, sizeof(group), "tftest-%d-%d", (int)getpid(),
		 group_seq++);
	if (nused < 64)
		snprintf(used[nused++], sizeof(used[0]), "%s", group);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tftest-cg-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	if (tf_cgroup_remove_stale(group) < 0)
		fprintf(stderr, "# cleanup of %s failed\n", group);
	snprintf(p, sizeof(p), "%s/camera", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/other", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Our own cgroup path in a hierarchy (v1 controller name, or NULL = v2). */
static bool own_path(const char *ctrl, char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool ok = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2;
		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (ctrl ? strstr(c1 + 1, ctrl) != NULL
			 : strcmp(line, "0:") == 0) {
			snprintf(out, cap, "%s",
				 strcmp(c2 + 1, "/") ? c2 + 1 : "");
			ok = true;
			break;
		}
	}
	fclose(f);
	return ok;
}

/* Path of <base>/<group>[/<persona>] in a hierarchy on this host. */
static bool cg_path(const char *ctrl, const char *persona, char *out,
		    size_t cap)
{
	enum tf_cg_layout lay;
	char own[256];

	if (tf_cgroup_layout(&lay) < 0 || !own_path(ctrl, own, sizeof(own)))
		return false;
	if (lay == TF_CG_UNIFIED)
		snprintf(out, cap, "/sys/fs/cgroup%s/%s%s%s", own, group,
			 persona ? "/" : "", persona ? persona : "");
	else
		snprintf(out, cap, "/sys/fs/cgroup/%s%s/%s%s%s",
			 ctrl ? ctrl : "unified", own, group,
			 persona ? "/" : "", persona ? persona : "");
	return true;
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static bool hybrid(void)
{
	enum tf_cg_layout lay;
	return tf_cgroup_layout(&lay) == 0 && lay == TF_CG_HYBRID;
}

static const char *const v1_ctrls[] = {"memory", "pids", "cpu", "devices"};

/* No trace of the group left in any hierarchy we use. */
static void assert_group_gone(void)
{
	char p[512];

	assert_true(cg_path(NULL, NULL, p, sizeof(p)));
	assert_false(exists(p));
	if (hybrid()) {
		for (size_t i = 0; i < TF_ARRAY_SIZE(v1_ctrls); i++) {
			assert_true(cg_path(v1_ctrls[i], NULL, p, sizeof(p)));
			assert_false(exists(p));
		}
	}
}

static void read_file(const char *p, char *buf, size_t cap)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
}

/* A child that counts in shared memory until killed. */
static pid_t spawn_counter(volatile uint64_t *counter)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;) {
			(*counter)++;
			sleep_ms(1);
		}
	}
	return pid;
}

static bool wait_progress(volatile uint64_t *counter)
{
	uint64_t v = *counter;

	for (int i = 0; i < 500; i++) {
		sleep_ms(10);
		if (*counter != v)
			return true;
	}
	return false;
}

static void test_layout(void **state)
{
	enum tf_cg_layout lay = 0;

	assert_int_equal(tf_cgroup_layout(&lay), 0);
	assert_true(lay == TF_CG_HYBRID || lay == TF_CG_UNIFIED);
}

static void test_lifecycle(void **state)
{
	struct tf_cg_limits lim = {.memory_max = 256 << 20, .pids_max = 64};
	struct tf_cgroup *cg = NULL, *again = NULL;
	volatile uint64_t *counter;
	char p[512];
	bool frozen = true;
	int status;
	pid_t pid;
	uint64_t v;

	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(counter != MAP_FAILED);

	assert_int_equal(tf_cgroup_create(group, "personal", &lim, &cg), 0);
	assert_true(tf_cgroup_v2_fd(cg) >= 0);
	assert_true(cg_path(NULL, "personal", p, sizeof(p)));
	assert_true(exists(p));
	/* a second create of the same persona refuses */
	assert_int_equal(tf_cgroup_create(group, "personal", NULL, &again),
			 -EEXIST);
	assert_null(again);
	assert_true(exists(p));

	assert_int_equal(tf_cgroup_nprocs(cg), 0);
	pid = spawn_counter(counter);
	assert_true(pid > 0);
	assert_int_equal(tf_cgroup_attach(cg, pid), 0);
	assert_int_equal(tf_cgroup_nprocs(cg), 1);
	assert_true(wait_progress(counter));

	assert_int_equal(tf_cgroup_frozen(cg, &frozen), 0);
	assert_false(frozen);
	assert_int_equal(tf_cgroup_freeze(cg, true), 0);
	assert_int_equal(tf_cgroup_frozen(cg, &frozen), 0);
	assert_true(frozen);
	/* frozen: the child makes no progress at all */
	v = *counter;
	sleep_ms(200);
	assert_int_equal(*counter, v);

	assert_int_equal(tf_cgroup_freeze(cg, false), 0);
	assert_int_equal(tf_cgroup_frozen(cg, &frozen), 0);
	assert_false(frozen);
	assert_true(wait_progress(counter));

	/* kill works on a frozen cgroup too */
	assert_int_equal(tf_cgroup_freeze(cg, true), 0);
	assert_int_equal(tf_cgroup_kill(cg), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(tf_cgroup_nprocs(cg), 0);

	assert_int_equal(tf_cgroup_destroy(cg), 0);
	assert_int_equal(tf_cgroup_open(group, "personal", &again), -ENOENT);
	assert_group_gone();
	munmap((void *)counter, 4096);
}

static void test_open_existing(void **state)
{
	struct tf_cgroup *cg = NULL, *o = NULL;

	assert_int_equal(tf_cgroup_create(group, "secure", NULL, &cg), 0);
	assert_int_equal(tf_cgroup_open(group, "secure", &o), 0);
	assert_int_equal(tf_cgroup_nprocs(o), 0);
	assert_true(tf_cgroup_v2_fd(o) >= 0);
	tf_cgroup_free(o);
	tf_cgroup_free(NULL);
	assert_int_equal(tf_cgroup_destroy(cg), 0);
	assert_int_equal(tf_cgroup_destroy(NULL), 0);
	assert_group_gone();
	/* bad names never reach the file system */
	assert_int_equal(tf_cgroup_create("../x", "secure", NULL, &cg),
			 -EINVAL);
	assert_int_equal(tf_cgroup_create(group, "a/b", NULL, &cg), -EINVAL);
}

static void test_limits(void **state)
{
	struct tf_cg_limits lim = {.memory_max = 32 << 20, .pids_max = 3};
	struct tf_cgroup *cg = NULL;
	char p[512], buf[64];
	int status, pipefd[2];
	uint64_t mem = 0;
	pid_t pid;

	assert_int_equal(tf_cgroup_create(group, "personal", &lim, &cg), 0);
	if (hybrid()) {
		assert_true(cg_path("memory", "personal", p, sizeof(p)));
		strcat(p, "/memory.limit_in_bytes");
	} else {
		assert_true(cg_path(NULL, "personal", p, sizeof(p)));
		strcat(p, "/memory.max");
	}
	read_file(p, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), 32 << 20);
	assert_true(
		cg_path(hybrid() ? "pids" : NULL, "personal", p, sizeof(p)));
	strcat(p, "/pids.max");
	read_file(p, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), 3);

	/* pids.max = 3: the child and two more; further forks fail */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char go;
		int ok = 0, eagain = 0;
		close(pipefd[1]);
		if (read(pipefd[0], &go, 1) != 1)
			_exit(100);
		for (int i = 0; i < 6; i++) {
			pid_t c = fork();
			if (c == 0) {
				pause();
				_exit(0);
			}
			if (c > 0)
				ok++;
			else if (errno == EAGAIN)
				eagain++;
		}
		_exit(ok == 2 && eagain == 4 ? 0 : 10 + ok);
	}
	close(pipefd[0]);
	assert_int_equal(tf_cgroup_attach(cg, pid), 0);
	assert_int_equal(write(pipefd[1], "g", 1), 1);
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the grandchildren are still there; kill reaps them via init */
	assert_int_equal(tf_cgroup_kill(cg), 0);
	assert_int_equal(tf_cgroup_nprocs(cg), 0);

	/* memory: touching 128 MiB under a 32 MiB limit (no swap here, and
	 * swap would not help the v2 memory.max either) gets OOM-killed */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char go;
		size_t sz = 128u << 20;
		char *m;
		close(pipefd[1]);
		if (read(pipefd[0], &go, 1) != 1)
			_exit(100);
		m = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(101);
		for (size_t i = 0; i < sz; i += 4096)
			m[i] = 1;
		_exit(0);
	}
	close(pipefd[0]);
	assert_int_equal(tf_cgroup_attach(cg, pid), 0);
	assert_int_equal(write(pipefd[1], "g", 1), 1);
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(tf_cgroup_memory_current(cg, &mem), 0);
	assert_true(mem <= (32u << 20));

	assert_int_equal(tf_cgroup_destroy(cg), 0);
	assert_group_gone();
}

static void test_cpu_weight(void **state)
{
	struct tf_cg_limits lim = {.cpu_weight = 50};
	struct tf_cgroup *cg = NULL;
	char p[512], buf[64];
	const char *file = hybrid() ? "/cpu.shares" : "/cpu.weight";

	assert_int_equal(tf_cgroup_create(group, "personal", &lim, &cg), 0);
	assert_true(cg_path(hybrid() ? "cpu" : NULL, "personal", p, sizeof(p)));
	strcat(p, file);
	read_file(p, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), hybrid() ? 512 : 50);

	assert_int_equal(tf_cgroup_set_cpu_weight(cg, 200), 0);
	read_file(p, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), hybrid() ? 2048 : 200);
	assert_int_equal(tf_cgroup_set_cpu_weight(cg, 1), 0);
	read_file(p, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), hybrid() ? 10 : 1);
	assert_int_equal(tf_cgroup_set_cpu_weight(cg, 0), -EINVAL);
	assert_int_equal(tf_cgroup_set_cpu_weight(cg, 10001), -EINVAL);
	assert_int_equal(tf_cgroup_destroy(cg), 0);
}

static void test_remove_stale(void **state)
{
	struct tf_cgroup *a = NULL, *b = NULL;
	volatile uint64_t *counter;
	pid_t pa, pb;
	int status;

	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(counter != MAP_FAILED);
	assert_int_equal(tf_cgroup_create(group, "personal", NULL, &a), 0);
	assert_int_equal(tf_cgroup_create(group, "secure", NULL, &b), 0);
	pa = spawn_counter(counter);
	pb = spawn_counter(counter + 1);
	assert_true(pa > 0 && pb > 0);
	assert_int_equal(tf_cgroup_attach(a, pa), 0);
	assert_int_equal(tf_cgroup_attach(b, pb), 0);
	assert_int_equal(tf_cgroup_freeze(b, true), 0);
	/* the daemon died: handles gone, processes and dirs stay */
	tf_cgroup_free(a);
	tf_cgroup_free(b);

	assert_int_equal(tf_cgroup_remove_stale(group), 0);
	assert_int_equal(waitpid(pa, &status, 0), pa);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(waitpid(pb, &status, 0), pb);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_group_gone();
	/* nothing there: still fine */
	assert_int_equal(tf_cgroup_remove_stale(group), 0);
	munmap((void *)counter, 4096);
}

/* Fork a child that joins cg and opens path; returns 0 or its errno. */
static int open_in_cgroup(struct tf_cgroup *cg, const char *path)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;
		if (cg && tf_cgroup_attach(cg, getpid()) < 0)
			_exit(200);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : errno);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void make_node(const char *name, unsigned ma, unsigned mi, char *out,
		      size_t cap)
{
	snprintf(out, cap, "%s/%s", tmpdir, name);
	assert_int_equal(mknod(out, S_IFCHR | 0600, makedev(ma, mi)), 0);
}

/* The default profile's device rules (the basic devices) plus extra: what
 * the persona code passes (tf_profile_dev_rules); the cgroup module keeps
 * no device list of its own. Returns the count. */
static size_t with_basics(const struct tf_cg_dev *extra, size_t n,
			  struct tf_cg_dev *out, size_t cap)
{
	struct tf_profile prof;
	size_t k;

	tf_profile_default(&prof);
	k = tf_profile_dev_rules(&prof, true, out, cap);
	assert_true(k > 0 && k + n <= cap);
	for (size_t i = 0; i < n; i++)
		out[k++] = extra[i];
	return k;
}

static void test_devices_default(void **state)
{
	struct tf_cgroup *cg = NULL;
	char camera[128], other[128];
	/* the "camera" is a node with /dev/null's numbers (1,3): a basic
	 * device, allowed until the policy denies it */
	struct tf_cg_dev deny_cam = {'c', 1, 3, false};
	/* a non-basic device (1,11 = kmsg) is denied until granted */
	struct tf_cg_dev allow_other = {'c', 1, 11, true};
	struct tf_cg_dev rules[64];
	size_t n;

	make_node("camera", 1, 3, camera, sizeof(camera));
	make_node("other", 1, 11, other, sizeof(other));
	assert_int_equal(tf_cgroup_create(group, "personal", NULL, &cg), 0);
	/* outside the cgroup both open */
	assert_int_equal(open_in_cgroup(NULL, camera), 0);
	assert_int_equal(open_in_cgroup(NULL, other), 0);
	/* a new cgroup denies every device until it gets its list */
	assert_int_equal(open_in_cgroup(cg, camera), EPERM);
	n = with_basics(NULL, 0, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), 0);
	assert_int_equal(open_in_cgroup(cg, other), EPERM);

	n = with_basics(&deny_cam, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), EPERM);
	assert_int_equal(open_in_cgroup(cg, other), EPERM);

	n = with_basics(&allow_other, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), 0);
	assert_int_equal(open_in_cgroup(cg, other), 0);

	n = with_basics(NULL, 0, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), 0);
	assert_int_equal(open_in_cgroup(cg, other), EPERM);
	/* an empty list: nothing at all */
	assert_int_equal(tf_cgroup_device_set(cg, NULL, 0), 0);
	assert_int_equal(open_in_cgroup(cg, camera), EPERM);

	struct tf_cg_dev bad = {'x', 1, 3, true};
	assert_int_equal(tf_cgroup_device_set(cg, &bad, 1), -EINVAL);
	assert_int_equal(tf_cgroup_destroy(cg), 0);
	assert_group_gone();
}

/* The cgroup v2 BPF device program, attached to the v2 dir (on a hybrid
 * host: /sys/fs/cgroup/unified, which has no controllers, yet the kernel
 * runs device programs attached there). The v1 policy allows (1,3), so an
 * EPERM here can only come from the BPF program. */
static void test_devices_bpf(void **state)
{
	struct tf_cgroup *cg = NULL;
	char camera[128];
	struct tf_cg_dev deny_cam = {'c', 1, 3, false};
	struct tf_cg_dev allow_cam = {'c', 1, 3, true};
	struct tf_cg_dev wild_deny = {'c', 1, TF_CG_DEV_ANY, false};
	struct tf_cg_dev rules[64];
	size_t n;

	make_node("camera", 1, 3, camera, sizeof(camera));
	assert_int_equal(tf_cgroup_create(group, "personal", NULL, &cg), 0);
	n = with_basics(NULL, 0, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), 0);

	n = with_basics(&deny_cam, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_bpf(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), EPERM);
	assert_int_equal(open_in_cgroup(cg, "/dev/zero"), 0);
	/* replaced atomically, not stacked: now allowed again */
	n = with_basics(&allow_cam, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_bpf(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), 0);
	/* wildcard minor */
	n = with_basics(&wild_deny, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_bpf(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), EPERM);
	assert_int_equal(open_in_cgroup(cg, "/dev/zero"), EPERM);
	/* the default profile's list: basics allowed */
	n = with_basics(NULL, 0, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_bpf(cg, rules, n), 0);
	assert_int_equal(open_in_cgroup(cg, camera), 0);
	assert_int_equal(open_in_cgroup(cg, "/dev/urandom"), 0);
	/* nothing listed: nothing allowed */
	assert_int_equal(tf_cgroup_device_set_bpf(cg, NULL, 0), 0);
	assert_int_equal(open_in_cgroup(cg, "/dev/urandom"), EPERM);

	assert_int_equal(tf_cgroup_destroy(cg), 0);
	assert_group_gone();
}

/* Open path from a child that joins cg, then the v2 directory sub below
 * it (NULL: stays in cg's), then runs as uid (0: stays root). */
static int open_as(struct tf_cgroup *cg, const char *sub, uid_t uid,
		   const char *path)
{
	char p[512], v2[400];
	int status;
	pid_t pid;

	/* here: the child's own cgroup is the persona's once it joined */
	assert_true(cg_path(NULL, "personal", v2, sizeof(v2)));
	snprintf(p, sizeof(p), "%s/%s/cgroup.procs", v2, sub ? sub : "");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char me[32];
		int fd;

		if (tf_cgroup_attach(cg, getpid()) < 0)
			_exit(200);
		if (sub) {
			fd = open(p, O_WRONLY | O_CLOEXEC);
			snprintf(me, sizeof(me), "%d", (int)getpid());
			if (fd < 0 || write(fd, me, strlen(me)) < 0)
				_exit(202);
			close(fd);
		}
		if (uid && setresuid(uid, uid, uid) < 0)
			_exit(203);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : errno);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A device kept for one cgroup and uid (tf_cgroup_device_set_keep): the
 * comms service's sound card during a call in the background. The node
 * has /dev/net/tun's numbers (10,200: openable by anyone, no basic
 * device); keep-x and run-x are two v2 children of the persona's. */
static void test_devices_keep(void **state)
{
	struct tf_cgroup *cg = NULL;
	struct tf_cg_dev snd = {'c', 10, 200, true}, rules[64];
	struct tf_cg_keep keep = {.uid = 54321, .devs = &snd, .n = 1};
	char v2[512], node[128], k[600];
	_cleanup_close_ int kfd = -1;
	size_t n;

	make_node("camera", 10, 200, node, sizeof(node));
	assert_int_equal(chmod(node, 0666), 0);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	assert_int_equal(tf_cgroup_create(group, "personal", NULL, &cg), 0);
	assert_true(cg_path(NULL, "personal", v2, sizeof(v2)));
	snprintf(k, sizeof(k), "%s/keep-x", v2);
	assert_int_equal(mkdir(k, 0755), 0);
	kfd = open(k, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(kfd >= 0);
	snprintf(k, sizeof(k), "%s/run-x", v2);
	assert_int_equal(mkdir(k, 0755), 0);
	assert_int_equal(tf_cgroup_id(kfd, &keep.cgroup_id), 0);
	assert_true(keep.cgroup_id != 0);

	/* the foreground: anyone in the persona */
	n = with_basics(&snd, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_keep(cg, rules, n, NULL), 0);
	assert_int_equal(open_as(cg, "run-x", 1000, node), 0);
	/* kept: the keep cgroup's uid only; the basics stay for everyone */
	snd.allow = false;
	n = with_basics(&snd, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_keep(cg, rules, n, &keep), 0);
	assert_int_equal(open_as(cg, "keep-x", 54321, node), 0);
	assert_int_equal(open_as(cg, "keep-x", 54322, node), EPERM);
	assert_int_equal(open_as(cg, "run-x", 54321, node), EPERM);
	assert_int_equal(open_as(cg, NULL, 0, node), EPERM);
	assert_int_equal(open_as(cg, "run-x", 1000, "/dev/zero"), 0);
	assert_int_equal(open_as(cg, "keep-x", 54321, "/dev/zero"), 0);
	/* set again (replaced, not stacked) */
	assert_int_equal(tf_cgroup_device_set_keep(cg, rules, n, &keep), 0);
	assert_int_equal(open_as(cg, "keep-x", 54321, node), 0);
	/* no longer kept, background: nobody */
	assert_int_equal(tf_cgroup_device_set_keep(cg, rules, n, NULL), 0);
	assert_int_equal(open_as(cg, "keep-x", 54321, node), EPERM);
	assert_int_equal(open_as(cg, "run-x", 1000, "/dev/zero"), 0);
	/* foreground again: everyone (the keep program is gone) */
	snd.allow = true;
	n = with_basics(&snd, 1, rules, TF_ARRAY_SIZE(rules));
	assert_int_equal(tf_cgroup_device_set_keep(cg, rules, n, NULL), 0);
	assert_int_equal(open_as(cg, "run-x", 1000, node), 0);
	/* bad keeps */
	keep.cgroup_id = 0;
	assert_int_equal(tf_cgroup_device_set_keep(cg, rules, n, &keep),
			 -EINVAL);

	snprintf(k, sizeof(k), "%s/keep-x", v2);
	assert_int_equal(rmdir(k), 0);
	snprintf(k, sizeof(k), "%s/run-x", v2);
	assert_int_equal(rmdir(k), 0);
	assert_int_equal(tf_cgroup_destroy(cg), 0);
	assert_group_gone();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_existing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_weight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_remove_stale, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devices_default, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devices_bpf, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devices_keep, setup,
						teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "# needs root: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
