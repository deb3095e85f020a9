/* SPDX-License-Identifier: ISC */
/*
 * Persona containers against the real kernel (root): starts two personas
 * and proves their isolation, each by a real attempt from inside. Prints
 * TAP. The apps are this very binary, copied into each persona's /tmp and
 * run with "--helper <cmd>"; the base system is the host's.
 *
 * Cleans up on every path: both personas stopped, cgroup group removed,
 * temp state dir deleted, host helper processes killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sched.h>
#include <stdlib.h>
#include <dirent.h>
#include <linux/landlock.h>

#include "twofold/persona.h"
#include "twofold/profile.h"

#define SHM_KEY 0x7f0f1d
#define ABS_NAME "tftest"

/* ------------------------------------------------------------------ */
/* helper side: runs inside a persona                                  */

static int sock_connect_abs(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len =
		offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ABS_NAME);

	memcpy(a.sun_path + 1, ABS_NAME, strlen(ABS_NAME));
	if (connect(fd, (struct sockaddr *)&a, len) < 0)
		return errno;
	close(fd);
	return 0;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return errno;
	close(fd);
	return 0;
}

static int tcp_listen(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int helper(int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "";

	if (!strcmp(cmd, "ns")) {
		static const char *const ns[] = {"pid", "mnt",	"ipc",	 "uts",
						 "net", "user", "cgroup"};
		for (size_t i = 0; i < TF_ARRAY_SIZE(ns); i++) {
			char p[64];
			struct stat st;
			snprintf(p, sizeof(p), "/proc/self/ns/%s", ns[i]);
			if (stat(p, &st) < 0)
				return 2;
			printf("%lu\n", (unsigned long)st.st_ino);
		}
	} else if (!strcmp(cmd, "escape")) {
		/* the app seccomp layers: a child of the daemon, a clone3
		 * whose flags nobody checks, the host's vsock port space */
		long c = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		int e1 = errno, e2, e3;

		if (c == 0)
			_exit(0);
		errno = 0;
		(void)syscall(SYS_clone3, NULL, 0);
		e2 = errno;
		errno = 0;
		(void)socket(40 /* AF_VSOCK */, SOCK_STREAM | SOCK_CLOEXEC, 0);
		e3 = errno;
		printf("%ld %d %d %d", c, e1, e2, e3);
	} else if (!strcmp(cmd, "hostname")) {
		struct utsname u;
		uname(&u);
		printf("%s", u.nodename);
	} else if (!strcmp(cmd, "status")) {
		char line[256];
		FILE *f = fopen("/proc/self/status", "re");
		DIR *d;
		struct dirent *e;
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "CapEff:", 7) ||
			    !strncmp(line, "NoNewPrivs:", 11) ||
			    !strncmp(line, "Seccomp:", 8) ||
			    !strncmp(line, "Seccomp_filters:", 16) ||
			    !strncmp(line, "Uid:", 4))
				fputs(line, stdout);
		if (f)
			fclose(f);
		d = opendir("/proc/self/fd");
		printf("fds:");
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
				printf(" %s", e->d_name);
		printf("\n");
		if (d)
			closedir(d);
	} else if (!strcmp(cmd, "ps")) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char p[300], comm[64] = "";
			FILE *f;
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
			f = fopen(p, "re");
			if (f && fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			if (f)
				fclose(f);
			printf("%s:%s\n", e->d_name, comm);
		}
		if (d)
			closedir(d);
	} else if (!strcmp(cmd, "sleep") && argc > 1) {
		prctl(PR_SET_NAME, argv[1]);
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		sleep(60);
	} else if (!strcmp(cmd, "ipc-create")) {
		int s = shmget(SHM_KEY, 4096, IPC_CREAT | 0600);
		int m = msgget(SHM_KEY, IPC_CREAT | 0600);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int port = 0, t = tcp_listen(&port);
		memcpy(a.sun_path + 1, ABS_NAME, strlen(ABS_NAME));
		if (s < 0 || m < 0 || t < 0 ||
		    bind(u, (struct sockaddr *)&a,
			 offsetof(struct sockaddr_un, sun_path) + 1 +
				 strlen(ABS_NAME)) < 0 ||
		    listen(u, 8) < 0) {
			printf("fail %d\n", errno);
			return 1;
		}
		printf("ready %d\n", port);
		fflush(stdout);
		sleep(60);
		shmctl(s, IPC_RMID, NULL);
		msgctl(m, IPC_RMID, NULL);
	} else if (!strcmp(cmd, "ipc-get") && argc > 1) {
		int s = shmget(SHM_KEY, 0, 0) < 0 ? errno : 0;
		int m = msgget(SHM_KEY, 0) < 0 ? errno : 0;
		mqd_t q = mq_open("/tftest", O_RDWR);
		int qe = q == (mqd_t)-1 ? errno : 0;
		printf("%d %d %d %d %d\n", s, m, qe, sock_connect_abs(),
		       tcp_connect(atoi(argv[1])));
	} else if (!strcmp(cmd, "procmem") && argc > 1) {
		/* another process's memory (ptrace access mode attach) */
		char path[64];
		int fd;
		snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		printf("%d\n", fd < 0 ? errno : 0);
	} else if (!strcmp(cmd, "mq-own")) {
		/* create, use and remove a POSIX message queue of our own */
		struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 16};
		char msg[16] = {0};
		mqd_t q =
			mq_open("/tfown", O_CREAT | O_EXCL | O_RDWR, 0600, &at);
		int e = 0;

		if (q == (mqd_t)-1)
			e = errno;
		else if (mq_send(q, "hello", 6, 0) < 0 ||
			 mq_receive(q, msg, sizeof(msg), NULL) != 6 ||
			 strcmp(msg, "hello") != 0)
			e = errno ? errno : EIO;
		if (q != (mqd_t)-1) {
			mq_close(q);
			if (mq_unlink("/tfown") < 0 && !e)
				e = errno;
		}
		printf("%d\n", e);
	} else if (!strcmp(cmd, "tcp-self")) {
		int port = 0;
		if (tcp_listen(&port) < 0)
			printf("%d\n", errno);
		else
			printf("%d\n", tcp_connect(port));
	} else if (!strcmp(cmd, "connect") && argc > 1) {
		printf("%d\n", tcp_connect(atoi(argv[1])));
	} else if (!strcmp(cmd, "write") && argc > 1) {
		int fd = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		printf("%d\n", fd < 0 ? errno : 0);
	} else if (!strcmp(cmd, "stat") && argc > 1) {
		struct stat st;
		printf("%d\n", stat(argv[1], &st) < 0 ? errno : 0);
	} else if (!strcmp(cmd, "mountopt") && argc > 1) {
		/* options of the topmost mount at argv[1] */
		char line[4096], mp[4096], opt[4096], found[4096] = "none";
		FILE *f = fopen("/proc/self/mountinfo", "re");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %*s %*s %*s %4095s %4095s", mp,
				   opt) == 2 &&
			    !strcmp(mp, argv[1]))
				snprintf(found, sizeof(found), "%s", opt);
		printf("%s\n", found);
	} else if (!strcmp(cmd, "dev")) {
		/* a pty from the persona's own devpts, /dev/null, /dev/shm */
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), e1 = 0;
		int n = open("/dev/null", O_WRONLY | O_CLOEXEC);
		int s = open("/dev/shm/tf", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 ||
		    open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC) < 0)
			e1 = errno;
		printf("%d %d %d", e1, n < 0 ? errno : 0, s < 0 ? errno : 0);
	} else if (!strcmp(cmd, "killall")) {
		printf("%d\n", kill(-1, SIGKILL) < 0 ? errno : 0);
	} else if (!strcmp(cmd, "exit") && argc > 1) {
		return atoi(argv[1]);
	} else {
		return 99;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* TAP                                                                 */

static int n_tests, n_failed;

static TF_PRINTF(2, 3) void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - ", cond ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* host side                                                           */

static char state_dir[] = "/tmp/tf-persona-test-XXXXXX";
static char group[64];
static struct tf_persona *pa, *pb;
static uint32_t a_uid_base; /* pa's */
static char *const env[] = {"PATH=/usr/bin:/bin", "HOME=/home/app", NULL};

static int copy_self(const char *dst)
{
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	struct stat st;
	int r = -1;

	if (in >= 0 && out >= 0 && fstat(in, &st) == 0 &&
	    sendfile(out, in, NULL, (size_t)st.st_size) == st.st_size)
		r = 0;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

struct app {
	pid_t pid;
	int pidfd;
	int out; /* read end of its stdout */
};

static int launch(struct tf_persona *p, uid_t uid, struct app *a,
		  const char *const *args)
{
	char *argv[8] = {"/tmp/tfhelper", "--helper"};
	int pfd[2], nul, r;
	size_t i;
	struct tf_exec_spec x = {
		.argv = argv, .envp = env, .uid = uid, .gid = uid};

	for (i = 0; args[i] && i + 3 < TF_ARRAY_SIZE(argv); i++)
		argv[2 + i] = (char *)args[i];
	argv[2 + i] = NULL;
	if (!strcmp(args[0], "raw")) /* exec args[1..] as is */
		x.argv = (char **)args + 1;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	x.fds[0] = nul;
	x.fds[1] = pfd[1];
	x.fds[2] = nul;
	r = tf_persona_exec(p, &x, &a->pid, &a->pidfd);
	close(pfd[1]);
	close(nul);
	if (r < 0) {
		close(pfd[0]);
		return r;
	}
	a->out = pfd[0];
	return 0;
}

static void readline_fd(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		char c;
		if (read(fd, &c, 1) != 1 || c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
}

static void reap(struct app *a, int *status)
{
	siginfo_t si = {0};

	waitid(P_PIDFD, (id_t)a->pidfd, &si, WEXITED);
	if (status)
		*status = si.si_code == CLD_EXITED ? si.si_status
						   : 128 + si.si_status;
	close(a->pidfd);
	close(a->out);
}

static void kill_app(struct app *a)
{
	pidfd_send_signal(a->pidfd, SIGKILL, NULL, 0);
	reap(a, NULL);
}

/* Run a helper to completion; output (all of it) in out; returns the exit
 * status or -errno from tf_persona_exec. */
static int run(struct tf_persona *p, uid_t uid, char *out, size_t cap,
	       const char *const *args)
{
	struct app a;
	int st, r = launch(p, uid, &a, args);
	ssize_t n;

	if (r < 0)
		return r;
	n = tf_read_full(a.out, out, cap - 1);
	if (n > 0 && out[n - 1] == '\n')
		n--; /* one trailing newline */
	out[n > 0 ? n : 0] = '\0';
	reap(&a, &st);
	return st;
}
#define RUN(p, uid, out, ...)                                                  \
	run(p, uid, out, sizeof(out), (const char *const[]){__VA_ARGS__, NULL})

static bool alive(int pidfd, int ms)
{
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	return poll(&pf, 1, ms) == 0;
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
	return remove(p) < 0 ? 0 : 0;
}

static void cleanup(void)
{
	if (pa)
		tf_persona_stop(pa);
	if (pb)
		tf_persona_stop(pb);
	pa = pb = NULL;
	if (group[0] && tf_persona_cleanup_stale(group) < 0)
		printf("# cleanup_stale failed\n");
	nftw(state_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

static struct tf_persona *start(const char *name, uint32_t uid_base,
				struct tf_persona_cfg *cfg, char *data)
{
	struct tf_profile prof;
	struct tf_persona_spec spec = {.cfg = cfg,
				       .prof = &prof,
				       .data_dir = data,
				       .cgroup_group = group,
				       .foreground = true};
	char err[TF_PERSONA_ERR_MAX], path[512];
	struct tf_persona *p = NULL;
	uint64_t t0;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->uid_base = uid_base;
	cfg->uid_count = 65536;
	cfg->cpu_weight = 100;
	tf_profile_default(&prof);
	/* The apps are this binary, in the persona's /tmp: /tmp is given
	 * exec as device.conf allow_exec_writable would (every other writable
	 * dir stays noexec, checked below with a copy in /home). */
	for (uint32_t i = 0; i < prof.n_writable; i++)
		if (!strcmp(prof.writable[i].path, "/tmp"))
			prof.writable[i].flags |= TF_PROF_EXEC;
	prof.lim.cpu_weight = 100;
	prof.bg_cpu_weight = 10;
	if (mkdir(data, 0700) < 0)
		return NULL;
	t0 = tf_now_ns();
	r = tf_persona_start(&spec, &p, err, sizeof(err));
	ok(r == 0, "start persona %s (%.2f ms)%s%s", name,
	   (double)(tf_now_ns() - t0) / 1e6, r ? ": " : "", r ? err : "");
	if (r < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/tmp/tfhelper", data);
	if (copy_self(path) < 0)
		ok(false, "copy helper into %s", name);
	snprintf(path, sizeof(path), "%s/home/tfhelper", data);
	if (copy_self(path) < 0)
		ok(false, "copy helper into %s/home", name);
	return p;
}

/* In a host child: enter the persona's user and mount namespaces as its
 * root with every capability there, try to create path; returns errno. */
static int as_persona_root(struct tf_persona *p, const char *path)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0) {
		int fd;
		if (setns(tf_persona_pidfd(p), CLONE_NEWUSER | CLONE_NEWNS) <
			    0 ||
		    setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			_exit(100);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		_exit(fd < 0 ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* In a host child: enter the persona's ipc namespace and create a POSIX
 * message queue there, as the persona's root (so not through an app, whose
 * own queue test is "mq-own"). */
static int mq_create_in(struct tf_persona *p)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0) {
		/* as the persona's root: the queue's owner must be mapped */
		if (setns(tf_persona_pidfd(p), CLONE_NEWUSER | CLONE_NEWIPC) <
			    0 ||
		    setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			_exit(100);
		umask(0); /* 0666: B's apps may open it read-write */
		_exit(mq_open("/tftest", O_CREAT | O_RDWR | O_CLOEXEC, 0666,
			      NULL) == (mqd_t)-1
			      ? errno
			      : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static bool landlock_available(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0,
		       LANDLOCK_CREATE_RULESET_VERSION) > 0;
}

/* below */
static int cg_frozen_at(int dfd);

static void test_isolation(const char *data_a, const char *data_b)
{
	char a_out[4096], b_out[4096], h_out[256], buf[256];
	struct app b_ipc, b_sleep, a_sleep, host_sleep;
	int r, port = 0, hport = 0, hfd;
	pid_t hpid;

	/* namespaces: A, B and the host pairwise different */
	{
		static const char *const ns[] = {"pid", "mnt",	"ipc",	 "uts",
						 "net", "user", "cgroup"};
		char *sa, *sb, *la, *lb;
		r = RUN(pa, 1000, a_out, "ns");
		ok(r == 0, "ns helper in A (%d)", r);
		r = RUN(pb, 1000, b_out, "ns");
		ok(r == 0, "ns helper in B (%d)", r);
		la = strtok_r(a_out, "\n", &sa);
		lb = strtok_r(b_out, "\n", &sb);
		for (size_t i = 0; i < TF_ARRAY_SIZE(ns); i++) {
			struct stat st;
			snprintf(buf, sizeof(buf), "/proc/self/ns/%s", ns[i]);
			stat(buf, &st);
			snprintf(h_out, sizeof(h_out), "%lu",
				 (unsigned long)st.st_ino);
			ok(la && lb && strcmp(la, lb) && strcmp(la, h_out) &&
				   strcmp(lb, h_out),
			   "%s namespace: A %s, B %s, host %s differ", ns[i],
			   la ? la : "?", lb ? lb : "?", h_out);
			la = strtok_r(NULL, "\n", &sa);
			lb = strtok_r(NULL, "\n", &sb);
		}
	}

	r = RUN(pa, 1000, a_out, "hostname");
	ok(r == 0 && !strcmp(a_out, "tfa"), "hostname in A is \"%s\"", a_out);
	r = RUN(pb, 1000, b_out, "hostname");
	ok(r == 0 && !strcmp(b_out, "tfb"), "hostname in B is \"%s\"", b_out);

	/* the app's privileges */
	r = RUN(pa, 1000, a_out, "status");
	ok(r == 0 && strstr(a_out, "CapEff:\t0000000000000000"),
	   "app CapEff is 0");
	ok(strstr(a_out, "NoNewPrivs:\t1") != NULL, "app NoNewPrivs is 1");
	ok(strstr(a_out, "Seccomp:\t2") != NULL, "app Seccomp is 2 (filter)");
	ok(strstr(a_out, "Seccomp_filters:\t2") != NULL,
	   "app has both seccomp layers (launcher's and its own)");
	ok(strstr(a_out, "Uid:\t1000\t1000\t1000\t1000") != NULL,
	   "app runs as uid 1000 inside");
	ok(strstr(a_out, "fds: 0 1 2") != NULL &&
		   !strcmp(strstr(a_out, "fds: "), "fds: 0 1 2"),
	   "app has only fds 0 1 2");
	r = RUN(pa, 1000, a_out, "escape");
	ok(r == 0 && !strcmp(a_out, "-1 1 38 97"),
	   "app: clone(CLONE_PARENT) EPERM, clone3 ENOSYS, AF_VSOCK "
	   "EAFNOSUPPORT (%s)",
	   a_out);
	if (n_failed)
		printf("# %s\n", a_out);

	/* B: a named sleeper and an IPC/socket holder */
	r = launch(pb, 1000, &b_sleep,
		   (const char *const[]){"sleep", "tfB", NULL});
	ok(r == 0, "launch sleeper in B");
	if (r < 0)
		return;
	readline_fd(b_sleep.out, buf, sizeof(buf));
	{
		/* two apps of the same user in the same persona: each has a
		 * Landlock domain of its own, so neither may open the other's
		 * memory (seccomp already denies ptrace and process_vm_*) */
		int spid = 0;
		char arg[16];
		sscanf(buf, "ready %d", &spid);
		snprintf(arg, sizeof(arg), "%d", spid);
		r = RUN(pb, 1000, b_out, "procmem", "self");
		ok(r == 0 && atoi(b_out) == 0,
		   "control: an app opens its own /proc/self/mem (%s)", b_out);
		r = RUN(pb, 1000, b_out, "procmem", arg);
		ok(spid > 1 && r == 0 && atoi(b_out) == EACCES,
		   "an app cannot open a sibling app's /proc/%d/mem (%s)", spid,
		   b_out);
	}
	r = launch(pb, 1000, &b_ipc, (const char *const[]){"ipc-create", NULL});
	ok(r == 0, "launch ipc holder in B");
	if (r < 0) {
		kill_app(&b_sleep);
		return;
	}
	readline_fd(b_ipc.out, buf, sizeof(buf));
	ok(sscanf(buf, "ready %d", &port) == 1,
	   "B created shm, msg, mqueue, "
	   "abstract socket, tcp :%d (%s)",
	   port, buf);

	r = mq_create_in(pb);
	ok(r == 0, "POSIX mqueue /tftest created in B's ipc namespace (%d)", r);
	r = RUN(pa, 1000, a_out, "ps");
	ok(r == 0 && !strstr(a_out, ":tfB") && strstr(a_out, "1:"),
	   "A's /proc does not list B's processes");
	r = RUN(pb, 1000, b_out, "ps");
	ok(r == 0 && strstr(b_out, ":tfB"), "B's /proc lists B's sleeper");

	/* files */
	r = RUN(pb, 1000, b_out, "write", "/home/app/secret-b");
	ok(r == 0 && !strcmp(b_out, "0"), "B writes /home/app/secret-b");
	r = RUN(pa, 1000, a_out, "stat", "/home/app/secret-b");
	ok(r == 0 && atoi(a_out) == ENOENT, "A cannot see B's file (%s)",
	   a_out);
	snprintf(buf, sizeof(buf), "%s/home/app/secret-b", data_b);
	r = RUN(pa, 1000, a_out, "stat", buf);
	ok(r == 0 && atoi(a_out) == ENOENT,
	   "A (persona root) cannot reach B's data dir by host path");

	/* SysV shm and msg, POSIX mqueue, abstract socket, loopback TCP */
	snprintf(buf, sizeof(buf), "%d", port);
	r = RUN(pb, 1000, b_out, "ipc-get", buf);
	{
		int s = -1, m = -1, q = -1, u = -1, t = -1;
		sscanf(b_out, "%d %d %d %d %d", &s, &m, &q, &u, &t);
		ok(r == 0 && !s && !m && !q && !u && !t,
		   "B reaches its own shm, msg, mqueue, socket, tcp (%s)",
		   b_out);
	}
	/* Landlock allows the persona's own mqueue fs (its root is a rule):
	 * an app can create and use queues */
	r = RUN(pa, 1000, a_out, "mq-own");
	ok(r == 0 && atoi(a_out) == 0,
	   "an app creates, uses and removes a POSIX mqueue (%s)", a_out);
	r = RUN(pa, 1000, a_out, "ipc-get", buf);
	{
		int s = -1, m = -1, q = -1, u = -1, t = -1;
		sscanf(a_out, "%d %d %d %d %d", &s, &m, &q, &u, &t);
		ok(r == 0 && s == ENOENT, "A: shmget of B's key fails ENOENT");
		ok(r == 0 && m == ENOENT, "A: msgget of B's key fails ENOENT");
		ok(r == 0 && q == ENOENT,
		   "A: mq_open of B's queue fails ENOENT");
		ok(r == 0 && u == ECONNREFUSED,
		   "A: connect to B's abstract socket fails ECONNREFUSED");
		ok(r == 0 && t == ECONNREFUSED,
		   "A: connect to B's loopback TCP fails ECONNREFUSED");
	}
	hfd = tcp_listen(&hport);
	snprintf(buf, sizeof(buf), "%d", hport);
	ok(hfd >= 0 && tcp_connect(hport) == 0, "host listener on :%d", hport);
	r = RUN(pa, 1000, a_out, "connect", buf);
	ok(r == 0 && atoi(a_out) == ECONNREFUSED,
	   "A cannot reach the host's 127.0.0.1:%d (%s)", hport, a_out);
	if (hfd >= 0)
		close(hfd);
	r = RUN(pa, 1000, a_out, "tcp-self");
	ok(r == 0 && !strcmp(a_out, "0"), "A's own loopback is up");

	/* read-only base, even for the persona's root */
	r = RUN(pa, 1000, a_out, "write", "/usr/tf-persona-test");
	ok(r == 0 && (atoi(a_out) == EROFS || atoi(a_out) == EACCES),
	   "app cannot write /usr (%s)", a_out);
	r = as_persona_root(pa, "/etc/tf-persona-test");
	ok(r == EROFS, "persona root (all caps) cannot write /etc (%d)", r);
	r = as_persona_root(pa, "/usr/tf-persona-test");
	ok(r == EROFS, "persona root (all caps) cannot write /usr (%d)", r);
	ok(access("/etc/tf-persona-test", F_OK) < 0 &&
		   access("/usr/tf-persona-test", F_OK) < 0,
	   "nothing appeared in the host's /etc or /usr");
	for (size_t i = 0; i < 3; i++) {
		static const char *const mp[] = {"/", "/usr", "/etc"};
		r = RUN(pa, 1000, a_out, "mountopt", mp[i]);
		ok(r == 0 && !strncmp(a_out, "ro,", 3),
		   "%s is mounted read-only in A (%s)", mp[i], a_out);
	}
	r = RUN(pa, 1000, a_out, "dev");
	ok(r == 0 && !strcmp(a_out, "0 0 0"),
	   "app opens a pty, /dev/null and /dev/shm (%s)", a_out);
	r = RUN(pa, 1000, a_out, "mountopt", "/sys");
	ok(r == 0 && !strcmp(a_out, "none"), "no /sys mount in A");

	/* Landlock: DAC would allow writing /proc/self/comm, Landlock not */
	r = RUN(pa, 1000, a_out, "write", "/tmp/tf-ll");
	ok(r == 0 && !strcmp(a_out, "0"), "app writes its /tmp");
	if (landlock_available()) {
		r = RUN(pa, 1000, a_out, "write", "/proc/self/comm");
		ok(r == 0 && atoi(a_out) == EACCES,
		   "Landlock blocks a write outside the writable dirs (%s)",
		   a_out);
	} else {
		printf("ok %d - # SKIP Landlock not available\n", ++n_tests);
	}

	/* exit codes, command not found */
	r = RUN(pa, 1000, a_out, "exit", "42");
	ok(r == 42, "exit status 42 comes back (%d)", r);
	r = RUN(pa, 1000, a_out, "raw", "tf-no-such-command");
	ok(r == -ENOENT, "command not in PATH: -ENOENT (%d)", r);
	r = RUN(pa, 1000, a_out, "raw", "/usr/bin/tf-no-such-command");
	ok(r == -ENOENT, "absolute path not found: -ENOENT (%d)", r);
	r = RUN(pa, 1000, a_out, "raw", "/etc/passwd");
	ok(r == -EACCES, "not executable: -EACCES (%d)", r);
	r = RUN(pa, 1000, a_out, "raw", "true");
	ok(r == 0, "true found through the given PATH (%d)", r);
	/* issue 13: a writable dir without TF_PROF_EXEC is mounted noexec */
	r = RUN(pa, 1000, a_out, "raw", "/home/tfhelper", "--helper", "exit",
		"0");
	ok(r == -EACCES, "program in noexec /home: -EACCES (%d)", r);
	r = RUN(pa, 1000, a_out, "raw", "/bin/cat",
		"/proc/sys/vm/memfd_noexec");
	ok(r == 0 && !strcmp(a_out, "2"), "vm.memfd_noexec is 2 in A (%s)",
	   a_out);

	/* kill -9 -1 as the app in A */
	hpid = fork();
	if (hpid == 0) {
		pause();
		_exit(0);
	}
	host_sleep.pidfd = pidfd_open(hpid, 0);
	host_sleep.out = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r = launch(pa, 1000, &a_sleep,
		   (const char *const[]){"sleep", "tfA", NULL});
	if (r == 0)
		readline_fd(a_sleep.out, buf, sizeof(buf));
	r = RUN(pa, 1000, a_out, "killall");
	ok(r == 0 && !strcmp(a_out, "0"), "kill(-1, SIGKILL) inside A");
	ok(!alive(a_sleep.pidfd, 5000), "A's own sleeper was killed");
	ok(alive(host_sleep.pidfd, 200), "a host process survived");
	ok(alive(b_sleep.pidfd, 0), "B's process survived");
	ok(alive(tf_persona_pidfd(pa), 0), "A's init survived");
	reap(&a_sleep, NULL);
	kill_app(&host_sleep);

	/* freeze / stats */
	{
		struct tf_persona_stats st;
		r = tf_persona_stats(pb, &st);
		ok(r == 0 && st.nprocs >= 3 && !st.frozen,
		   "stats of B: %d procs, %llu bytes", st.nprocs,
		   (unsigned long long)st.memory_bytes);
		r = tf_persona_freeze(pb, true);
		ok(r == 0 && tf_persona_stats(pb, &st) == 0 && st.frozen,
		   "B frozen (%d)", r);
		r = tf_persona_freeze(pb, false);
		ok(r == 0 && tf_persona_stats(pb, &st) == 0 && !st.frozen,
		   "B thawed (%d)", r);
		/* issue 15: a keep-* cgroup is exempt; with one, a lock
		 * freezes every other child of the root instead of it */
		if (tf_persona_cgroup_fd(pb) >= 0) {
			int kfd = -1, rfd = -1, r2fd = -1;
			char rn[32], r2n[32];
			bool fr;

			r = tf_persona_keep_cgroup(pb, "x", &kfd);
			ok(r == 0 && tf_persona_has_keep(pb),
			   "B: keep-x made (%d)", r);
			r = tf_persona_keep_cgroup(pb, "../x", &r2fd);
			ok(r == -EINVAL,
			   "B: keep name with a slash refused (%d)", r);
			r = tf_persona_run_cgroup(pb, &rfd, rn);
			ok(r == 0, "B: a run cgroup (%d)", r);
			r = tf_persona_freeze(pb, true);
			ok(r == 0 && tf_persona_freeze_per_child(pb) &&
				   tf_persona_stats(pb, &st) == 0 && st.frozen,
			   "B frozen child by child (%d)", r);
			ok(cg_frozen_at(rfd) == 1, "B: run cgroup frozen");
			ok(cg_frozen_at(kfd) == 0, "B: keep-x not frozen");
			ok(tf_persona_frozen(pb, &fr) == 0 && fr,
			   "B: tf_persona_frozen says frozen");
			r = tf_persona_run_cgroup(pb, &r2fd, r2n);
			ok(r == 0 && cg_frozen_at(r2fd) == 1,
			   "B: a run cgroup made while locked is frozen (%d)",
			   r);
			r = tf_persona_freeze(pb, false);
			ok(r == 0 && tf_persona_stats(pb, &st) == 0 &&
				   !st.frozen && cg_frozen_at(rfd) == 0 &&
				   cg_frozen_at(r2fd) == 0,
			   "B thawed, every child (%d)", r);
			close(rfd);
			close(r2fd);
			close(kfd);
			(void)tf_persona_run_cgroup_end(pb, rn, false);
			(void)tf_persona_run_cgroup_end(pb, r2n, false);
			r = tf_persona_keep_end(pb, "x");
			ok(r == 0 && !tf_persona_has_keep(pb),
			   "B: keep-x removed (%d)", r);
			r = tf_persona_freeze(pb, true);
			ok(r == 0 && !tf_persona_freeze_per_child(pb),
			   "B: without keep-* the root is frozen (%d)", r);
			r = tf_persona_freeze(pb, false);
			ok(r == 0, "B thawed (%d)", r);
		}
		r = tf_persona_set_foreground(pb, false);
		ok(r == 0, "B to background (%d)", r);
	}
	kill_app(&b_ipc);
	kill_app(&b_sleep);
}

/* "frozen N" of a cgroup dir's cgroup.events: 1, 0, -1 unreadable */
static int cg_frozen_at(int dfd)
{
	char b[256];
	int fd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof(b) - 1);
	const char *k;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	k = strstr(b, "\nfrozen ");
	return k ? k[8] == '1' : -1;
}

static unsigned long ns_ino(pid_t pid, const char *ns)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns);
	return stat(p, &st) < 0 ? 0 : (unsigned long)st.st_ino;
}

static bool exited(int pidfd, int ms)
{
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	return poll(&pf, 1, ms) == 1;
}

/* The launcher: where it stands, that launches go through it in a row,
 * big requests, and what happens when it is killed. */
static void test_launcher(void)
{
	char out[256], path[64], *txt = NULL, **big = NULL;
	pid_t lp = tf_persona_launcher_pid(pa), lp2;
	struct tf_persona_stats st;
	int r, lfd, bad = 0, nfd = 0;
	size_t len;

	ok(lp > 0, "A has a launcher (pid %d)", (int)lp);
	if (lp <= 0)
		return;
	ok(ns_ino(lp, "pid") == ns_ino(getpid(), "pid") &&
		   ns_ino(lp, "pid_for_children") ==
			   ns_ino(tf_persona_init_pid(pa), "pid"),
	   "launcher: host pid ns (invisible in A), children born in A's");
	ok(ns_ino(lp, "mnt") == ns_ino(tf_persona_init_pid(pa), "mnt") &&
		   ns_ino(lp, "user") ==
			   ns_ino(tf_persona_init_pid(pa), "user"),
	   "launcher is in A's mount and user namespaces");
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)lp);
	ok(tf_read_file_at(AT_FDCWD, path, 65536, &txt, &len) == 0 &&
		   strstr(txt, "/tfa\n") != NULL,
	   "launcher is in A's cgroup");
	free(txt);
	txt = NULL;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)lp);
	{
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				nfd++;
		if (d)
			closedir(d);
	}
	/* 0-2 on /dev/null, its socket, and the apps' Landlock ruleset
	 * (built once; only where Landlock is available) */
	ok(nfd == 4 + (landlock_available() ? 1 : 0),
	   "launcher holds 0-2, its socket and the Landlock ruleset: %d fds",
	   nfd);
	/* it hardened itself as an app would; apps inherit this */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)lp);
	ok(tf_read_file_at(AT_FDCWD, path, 65536, &txt, &len) == 0 &&
		   strstr(txt, "\nNoNewPrivs:\t1\n") &&
		   strstr(txt, "\nSeccomp:\t2\n") &&
		   strstr(txt, "\nCapBnd:\t0000000000000000\n") &&
		   strstr(txt, "\nCapAmb:\t0000000000000000\n") &&
		   strstr(txt, "\nCapInh:\t0000000000000000\n") &&
		   strstr(txt, "\nCapPrm:\t00000000000000c0\n") &&
		   strstr(txt, "\nCapEff:\t00000000000000c0\n"),
	   "launcher: no_new_privs, seccomp filter, empty bounding set, "
	   "only CAP_SETUID and CAP_SETGID");
	/* and it is the persona's root, not host root: real, effective and
	 * saved uid/gid are A's uid_base on the host */
	{
		char want[64];
		const char *u = strstr(txt, "\nUid:\t"),
			   *g = strstr(txt, "\nGid:\t");
		snprintf(want, sizeof(want), "%u\t%u\t%u\t", a_uid_base,
			 a_uid_base, a_uid_base);
		ok(u && g && !strncmp(u + 6, want, strlen(want)) &&
			   !strncmp(g + 6, want, strlen(want)),
		   "launcher runs as A's root (host uid %u), not host root",
		   a_uid_base);
	}
	free(txt);
	txt = NULL;
	r = tf_persona_stats(pa, &st);
	ok(r == 0 && st.nprocs == 1,
	   "idle A: 1 process (init; the launcher is not counted): %d",
	   st.nprocs);

	for (int i = 0; i < 50; i++) {
		char arg[16];
		snprintf(arg, sizeof(arg), "%d", i);
		r = RUN(pa, 1000, out, "exit", arg);
		if (r != i)
			bad++;
	}
	ok(bad == 0, "50 launches in a row, each exit status right (%d bad)",
	   bad);
	ok(tf_persona_launcher_pid(pa) == lp, "same launcher for all of them");

	/* 8 x 100 KiB of environment: sent in several messages */
	big = calloc(10, sizeof(*big));
	for (int i = 0; big && i < 8; i++) {
		big[i] = malloc(100 * 1024);
		if (!big[i])
			break;
		memset(big[i], 'x', 100 * 1024 - 1);
		big[i][100 * 1024 - 1] = '\0';
		memcpy(big[i], "BIG", 3);
		big[i][3] = (char)('0' + i);
		big[i][4] = '=';
	}
	if (big && big[7]) {
		char *argv[] = {"/tmp/tfhelper", "--helper", "exit", "5", NULL};
		struct tf_exec_spec x = {.argv = argv,
					 .envp = big,
					 .uid = 1000,
					 .gid = 1000,
					 .fds = {-1, -1, -1}};
		pid_t pid;
		int pidfd;
		siginfo_t si = {0};

		r = tf_persona_exec(pa, &x, &pid, &pidfd);
		if (r == 0) {
			waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
			close(pidfd);
		}
		ok(r == 0 && si.si_code == CLD_EXITED && si.si_status == 5,
		   "800 KiB environment goes through (%d, status %d)", r,
		   si.si_status);
		/* over the 4 MiB bound: refused before it is sent */
		argv[3] = NULL;
		for (int i = 0; i < 8; i++)
			big[i] = realloc(big[i], 600 * 1024);
		for (int i = 0; i < 8; i++) {
			if (!big[i])
				break;
			memset(big[i] + 5, 'y', 600 * 1024 - 6);
			big[i][600 * 1024 - 1] = '\0';
		}
		r = tf_persona_exec(pa, &x, &pid, &pidfd);
		ok(r == -E2BIG, "4.8 MiB environment: -E2BIG (%d)", r);
		if (r == 0)
			close(pidfd);
	} else {
		ok(false, "allocate a big environment");
	}
	for (int i = 0; big && i < 8; i++)
		free(big[i]);
	free(big);
	r = RUN(pa, 1000, out, "exit", "6");
	ok(r == 6, "the launcher still works after both (%d)", r);

	/* kill it: the next launch gets a new one */
	lfd = pidfd_open(lp, 0);
	ok(lfd >= 0 && pidfd_send_signal(lfd, SIGKILL, NULL, 0) == 0 &&
		   exited(lfd, 5000),
	   "launcher killed");
	r = tf_persona_stats(pa, &st);
	ok(r == 0 && st.nprocs == 1, "A without launcher: 1 process (%d)",
	   st.nprocs);
	r = RUN(pa, 1000, out, "exit", "7");
	lp2 = tf_persona_launcher_pid(pa);
	ok(r == 7, "launch after the launcher died works (%d)", r);
	ok(lp2 > 0 && lp2 != lp, "with a new launcher (%d, was %d)", (int)lp2,
	   (int)lp);
	ok(lfd >= 0 && pidfd_send_signal(lfd, 0, NULL, 0) < 0 && errno == ESRCH,
	   "the dead launcher was reaped");
	ok(ns_ino(lp2, "pid_for_children") ==
		   ns_ino(tf_persona_init_pid(pa), "pid"),
	   "the new launcher's children are born in A");
	r = RUN(pa, 1000, out, "status");
	ok(r == 0 && strstr(out, "CapEff:\t0000000000000000") &&
		   strstr(out, "NoNewPrivs:\t1") &&
		   strstr(out, "Seccomp:\t2") &&
		   strstr(out, "Uid:\t1000\t1000\t1000\t1000") &&
		   !strcmp(strstr(out, "fds: "), "fds: 0 1 2"),
	   "app of the new launcher: uid 1000, no caps, nnp, seccomp, "
	   "fds 0-2");
	if (lfd >= 0)
		close(lfd);
}

static bool cgroup_gone(const char *name, bool whole_group)
{
	static const char *const h[] = {"unified", "memory", "pids", "freezer",
					"devices", "cpu",    ""};
	char p[512];

	for (size_t i = 0; i < TF_ARRAY_SIZE(h); i++) {
		if (whole_group)
			snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", h[i],
				 group);
		else
			snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/%s", h[i],
				 group, name);
		if (access(p, F_OK) == 0)
			return false;
	}
	return true;
}

static bool host_mounts_mention(const char *s)
{
	char *txt = NULL;
	size_t len;
	bool found;

	if (tf_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 20, &txt,
			    &len) < 0)
		return true;
	found = strstr(txt, s) != NULL;
	free(txt);
	return found;
}

static void test_stop(void)
{
	int fa = fcntl(tf_persona_pidfd(pa), F_DUPFD_CLOEXEC, 3);
	int la = pidfd_open(tf_persona_launcher_pid(pa), 0);
	struct app left;
	int r;

	/* a still running app: stop must not hang on its zombie */
	r = launch(pa, 1000, &left,
		   (const char *const[]){"sleep", "tfA", NULL});
	ok(r == 0, "launch an app left running at stop");
	r = tf_persona_stop(pa);
	pa = NULL;
	ok(r == 0, "stop A (%d)", r);
	ok(pidfd_send_signal(fa, 0, NULL, 0) < 0 && errno == ESRCH,
	   "A's init is gone");
	close(fa);
	ok(la >= 0 && pidfd_send_signal(la, 0, NULL, 0) < 0 && errno == ESRCH,
	   "A's launcher is gone and reaped");
	if (la >= 0)
		close(la);
	if (left.pidfd >= 0) {
		ok(pidfd_send_signal(left.pidfd, 0, NULL, 0) < 0 &&
			   errno == ESRCH,
		   "A's app is gone");
		close(left.pidfd);
		close(left.out);
	}
	ok(cgroup_gone("tfa", false), "A's cgroup dirs are removed");
	r = tf_persona_stop(pb);
	pb = NULL;
	ok(r == 0, "stop B (%d)", r);
	ok(!host_mounts_mention(state_dir), "no mount of the data dirs left");
	ok(tf_persona_cleanup_stale(group) == 0 && cgroup_gone("", true),
	   "cleanup_stale removes the group");
}

int main(int argc, char **argv)
{
	struct tf_persona_cfg ca, cb;
	char data_a[128], data_b[128];
	uint32_t base;

	if (argc > 1 && !strcmp(argv[1], "--helper"))
		return helper(argc - 2, argv + 2);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	/* as the daemon does: inits and launchers come from the spawner */
	if (tf_persona_spawner_start() < 0) {
		printf("Bail out! tf_persona_spawner_start\n");
		return 1;
	}
	if (!mkdtemp(state_dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	chmod(state_dir, 0755);
	snprintf(group, sizeof(group), "tftest-persona-%d", (int)getpid());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* uid ranges unlikely to collide with real users or parallel runs */
	base = 0x40000000u + ((uint32_t)getpid() % 4096u) * 0x40000u;
	snprintf(data_a, sizeof(data_a), "%s/a", state_dir);
	snprintf(data_b, sizeof(data_b), "%s/b", state_dir);

	a_uid_base = base;
	pa = start("tfa", base, &ca, data_a);
	pb = start("tfb", base + 0x20000u, &cb, data_b);
	if (pa && pb) {
		test_isolation(data_a, data_b);
		test_launcher();
		test_stop();
	}
	cleanup();
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
