/* SPDX-License-Identifier: ISC */
/*
 * The persona spawner: the clean process every persona init and launcher
 * is cloned from.
 *
 * Why: a raw clone3() fork of the daemon copies the daemon's memory, and
 * the daemon's memory holds secrets (a request with a PIN in a receive
 * buffer, a KDF output in a stack frame, key material in heap copies a
 * library made). Wiping every such copy is a hunt that never ends; instead
 * the processes that stand in a persona are forked from a process that
 * never saw a secret:
 *
 *   twofoldd ──fork, first thing in main()──> spawner (no secret ever)
 *      │  "clone an init / a launcher with this setup" (SEQPACKET, fds by
 *      │   SCM_RIGHTS)                          │
 *      │                                        │ clone3(CLONE_PARENT)
 *      ├── init, launcher <─────────────────────┘
 *      │   (children of the *daemon*: its pidfd reaping, PDEATHSIG on the
 *      │    daemon's death and the launcher's getppid() checks work as if
 *      │    the daemon had forked them)
 *      └<─ pid + pidfd (SCM_RIGHTS)
 *
 * CLONE_PARENT makes the child's real_parent the spawner's, the daemon's
 * main thread; clone3 then wants exit_signal 0 and the child takes the
 * spawner's own exit signal (SIGCHLD). It is refused only to a pid-ns
 * init, which the spawner is not; CLONE_NEWUSER, CLONE_NEWPID and
 * CLONE_INTO_CGROUP combine with it (kernel 6.18).
 *
 * The spawner is single-threaded, not dumpable, dies with the daemon
 * (PDEATHSIG) and keeps one fd, its socket. It allocates only at its
 * start: the app seccomp programs, compiled once for every launcher to
 * inherit (exec.c tf_p_launcher_prepare). It is never re-forked: once the daemon has read a secret, a new fork of it
 * would carry that secret; a dead spawner makes every later persona start
 * fail with -EOWNERDEAD ("restart twofoldd").
 *
 * The same spawner clones the tunnel process (issue 12,
 * tf_persona_spawn_tunnel): no new namespace, no cgroup, its control
 * socket as its only fd, the body the daemon registered before the
 * spawner was forked (tf_persona_spawner_tunnel_main).
 *
 * Process titles: the children are forks, so their /proc/PID/cmdline would
 * be the daemon's argv (its path, its state dir). The spawner writes the
 * child's title over its copy of the argument (and environment) strings
 * before each clone, setproctitle(3)'s way. (PR_SET_MM_ARG_START to a
 * buffer of its own would avoid the length limit, but needs
 * CAP_SYS_RESOURCE, which a container's root may lack.) Titles longer than
 * the daemon's argv + environ are cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define SPAWN_TIMEOUT_MS 10000

/* what the daemon may ask for, besides CLONE_PARENT | CLONE_PIDFD */
#define SPAWN_FLAGS_OK                                                         \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |           \
	 CLONE_NEWUTS | CLONE_INTO_CGROUP)

struct spawn_reply {
	int32_t err;
	int32_t pid;
};

/* the daemon's side */
static int spawner_sock = -1;
static int spawner_pidfd = -1;
static pid_t spawner_pid = -1;
static bool spawner_lost;
static bool direct_ok;
/* the tunnel process's body (tf_persona_spawner_tunnel_main) */
static void (*tunnel_main)(int ctl);
/* the package checker's body (tf_persona_spawner_pkgcheck_main) */
static void (*pkgcheck_main)(int ctl);

/* the spawner's argument area (the daemon's argv, its copy), for titles */
static char *title_area;
static size_t title_len, title_arg_len;

/* Close every fd but 0, 1, 2 and a, b. */
static void keep_only(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		(void)close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		(void)close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	(void)close_range((unsigned)hi + 1, ~0U, 0);
}

/* In the new child: become the init or the launcher. */
static TF_NORETURN void child(const struct tf_p_spawn_req *q, int fd0, int fd1,
			      pid_t parent)
{
	struct tf_p_setup s;

	/* the spawner's socket (or, direct, the daemon's fds) */
	keep_only(fd0, fd1);
	if (q->kind == TF_P_SPAWN_PKGCHECK) {
		/* outside every persona, dies with the daemon; the body
		 * drops its privileges itself once it has its input */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		(void)prctl(PR_SET_NAME, (unsigned long)"tf-pkgcheck", 0, 0, 0);
		if (getppid() != parent || pkgcheck_main == NULL)
			_exit(127);
		pkgcheck_main(fd0);
		_exit(1);
	}
	if (q->kind == TF_P_SPAWN_TUNNEL) {
		/* outside every persona: dies with the daemon, as the init
		 * and launcher do (they are killed by the daemon's stop);
		 * the body drops to its unprivileged uid itself once it has
		 * taken its fds (twofold/tunnel.h) */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		(void)prctl(PR_SET_NAME, (unsigned long)"tf-tunnel", 0, 0, 0);
		if (getppid() != parent || tunnel_main == NULL)
			_exit(127);
		tunnel_main(fd0);
		_exit(1);
	}
	if (q->kind == TF_P_SPAWN_LAUNCHER)
		tf_p_launcher_child(fd0, fd1, parent, &q->prof);
	s = (struct tf_p_setup){.name = q->name,
				.data_dir = q->data_dir,
				.prof = &q->prof,
				.sync_fd = fd0,
				.status_fd = fd1};
	tf_p_child_main(&s);
}

/* Find the argument and environment strings (fields 48..51 of
 * /proc/self/stat, Linux 3.5) to write the title over them. */
static void title_setup(void)
{
	char buf[1024];
	unsigned long v[4] = {0};
	ssize_t n;
	char *q;
	int fd, field = 2;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	q = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!q)
		return;
	for (char *t = strtok(q + 1, " \n"); t; t = strtok(NULL, " \n")) {
		field++;
		if (field >= 48 && field <= 51)
			v[field - 48] = strtoul(t, NULL, 10);
	}
	if (v[0] == 0 || v[1] <= v[0])
		return;
	title_area = (char *)v[0];
	title_len = title_arg_len = (size_t)(v[1] - v[0]);
	/* the environment strings directly follow: use them too (the
	 * spawner and its children need no environment; the launcher gets
	 * each app's from the daemon) */
	if (v[2] == v[1] && v[3] > v[2]) {
		clearenv();
		title_len = (size_t)(v[3] - v[0]);
	}
}

/* setproctitle(3)'s way: /proc/PID/cmdline reads the argument area; when
 * the last byte of the argv strings is not NUL, the kernel shows the area
 * (argv and environ) up to the first NUL (get_mm_proctitle), so the title
 * shows without padding, and the rest of the old strings is wiped. */
static void title_set(const char *a, const char *b)
{
	int n;

	if (!title_area || title_len < 3)
		return;
	memset(title_area, 0, title_len);
	n = snprintf(title_area, title_len - 1, "%s%s%s", a, b[0] ? " " : "",
		     b);
	(void)n;
	if (title_area[title_arg_len - 1] == '\0')
		title_area[title_arg_len - 1] = ' ';
}

static pid_t spawn_here(const struct tf_p_spawn_req *q, int fd0, int fd1,
			int cgfd, int nsfd, bool as_sibling, pid_t parent,
			int *pidfd_out)
{
	uint64_t flags = q->flags | CLONE_PIDFD;
	int own = -1;
	pid_t pid;

	if (as_sibling)
		flags |= CLONE_PARENT;
	/* The init is cloned inside the persona's network namespace (made
	 * and owned by the daemon, in the initial user namespace): setns on
	 * this thread, clone, and straight back. */
	if (nsfd >= 0) {
		own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (own < 0)
			return tf_negerrno();
		if (setns(nsfd, CLONE_NEWNET) < 0) {
			int e = tf_negerrno();
			close(own);
			return e;
		}
	}
	pid = tf_p_clone3(flags, cgfd, pidfd_out);
	if (pid == 0) {
		if (own >= 0)
			close(own);
		child(q, fd0, fd1, parent);
	}
	if (own >= 0) {
		/* the next init must not start where this one did */
		if (setns(own, CLONE_NEWNET) < 0)
			abort();
		close(own);
	}
	return pid;
}

static bool req_valid(const struct tf_p_spawn_req *q, size_t n, int nfds)
{
	/* a tunnel: its socket only, no namespace, no cgroup */
	if (n == sizeof(*q) && q->magic == TF_P_SPAWN_MAGIC &&
	    (q->kind == TF_P_SPAWN_TUNNEL || q->kind == TF_P_SPAWN_PKGCHECK))
		return q->flags == 0 && !q->netns && nfds == 1 &&
		       memchr(q->name, '\0', sizeof(q->name));
	return n == sizeof(*q) && q->magic == TF_P_SPAWN_MAGIC &&
	       (q->kind == TF_P_SPAWN_INIT || q->kind == TF_P_SPAWN_LAUNCHER) &&
	       (q->flags & ~(uint64_t)SPAWN_FLAGS_OK) == 0 &&
	       /* an init needs its network namespace, a launcher none (it
		* joins the init's) */
	       q->netns == (q->kind == TF_P_SPAWN_INIT) &&
	       nfds == 2 + !!(q->flags & CLONE_INTO_CGROUP) + (int)q->netns &&
	       memchr(q->name, '\0', sizeof(q->name)) &&
	       memchr(q->data_dir, '\0', sizeof(q->data_dir)) &&
	       tf_profile_check(&q->prof, NULL, 0) == 0;
}

static void send_reply(int sock, int err, pid_t pid, int pidfd)
{
	struct spawn_reply rep = {.err = err, .pid = pid};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = &rep, .iov_len = sizeof(rep)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (pidfd >= 0)
		tf_cmsg_put_fds(&mh, cbuf.b, &pidfd, 1);
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep))
		_exit(0); /* the daemon is gone */
}

/* Receive a message and up to max fds (the rest closed); -1 in *nfds when
 * the control data was cut. */
static ssize_t recv_fds(int sock, void *buf, size_t len, int *fds, int max,
			int *nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? tf_negerrno() : 0;
	{
		/* more fds than room (the extra closed) counts as cut too */
		size_t got = 0;
		int bad = tf_cmsg_take_fds(&mh, fds, (size_t)max, &got);

		*nfds = (int)got;
		if (bad < 0 || (mh.msg_flags & MSG_TRUNC)) {
			for (int i = 0; i < *nfds; i++)
				close(fds[i]);
			*nfds = -1;
		}
	}
	return n;
}

static TF_NORETURN void spawner_main(int sock, pid_t parent)
{
	static struct tf_p_spawn_req q;
	int s;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1); /* the daemon died before PDEATHSIG was set */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_NAME, (unsigned long)"tf-spawner", 0, 0, 0);
	tf_p_reset_signals();
	s = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	if (s < 0)
		_exit(1);
	(void)close_range(0, (unsigned)s - 1, 0);
	(void)close_range((unsigned)s + 1, ~0U, 0);
	/* every fd it receives is >= 3: the children keep 0..2 */
	if (open("/dev/null", O_RDWR | O_CLOEXEC) != 0 || dup2(0, 1) != 1 ||
	    dup2(0, 2) != 2)
		_exit(1);
	title_setup();
	title_set("twofold-spawner", "");
	/* Compile the app seccomp programs once, here: every launcher is a
	 * fork of ours and inherits them compiled, so a persona start does
	 * not pay libseccomp's build of the allowlist (~1-2 ms, measured on
	 * this VM) on the way to the launcher's go. A failure is left to the
	 * launcher, which compiles and reports then. The default profile's
	 * policy: a launcher whose profile differs compiles its own. */
	{
		static struct tf_profile def;

		tf_profile_default(&def);
		(void)tf_p_launcher_prepare(&def.sc);
	}

	for (;;) {
		int fds[4], nfds, pidfd = -1;
		ssize_t n;
		pid_t pid;

		memset(&q, 0, sizeof(q));
		n = recv_fds(s, &q, sizeof(q), fds, 4, &nfds);
		if (n == 0)
			_exit(0); /* the daemon closed its end */
		if (n < 0)
			_exit(1);
		if (nfds < 0 || !req_valid(&q, (size_t)n, nfds)) {
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			send_reply(s, -EINVAL, 0, -1);
			continue;
		}
		title_set(q.kind == TF_P_SPAWN_INIT	  ? "twofold-init"
			  : q.kind == TF_P_SPAWN_TUNNEL	  ? "twofold-tunnel"
			  : q.kind == TF_P_SPAWN_PKGCHECK ? "twofold-pkgcheck"
							  : "twofold-launcher",
			  q.name);
		{
			bool cg = q.flags & CLONE_INTO_CGROUP;
			/* a tunnel has its socket only (req_valid) */
			pid = spawn_here(&q, fds[0], nfds > 1 ? fds[1] : fds[0],
					 cg ? fds[2] : -1,
					 q.netns ? fds[2 + cg] : -1, true,
					 parent, &pidfd);
		}
		title_set("twofold-spawner", "");
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		send_reply(s, pid < 0 ? pid : 0, pid < 0 ? 0 : pid, pidfd);
		if (pidfd >= 0)
			close(pidfd);
	}
}

int tf_persona_spawner_start(void)
{
	_cleanup_close_ int s0 = -1, s1 = -1;
	pid_t parent = getpid(), pid;
	int sv[2], pidfd = -1;

	if (spawner_sock >= 0 || spawner_lost)
		return -EALREADY;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return tf_negerrno();
	s0 = sv[0];
	s1 = sv[1];
	pid = tf_p_clone3(CLONE_PIDFD, -1, &pidfd);
	if (pid < 0)
		return pid;
	if (pid == 0)
		spawner_main(s1, parent);
	spawner_sock = steal_fd(&s0);
	spawner_pidfd = pidfd;
	spawner_pid = pid;
	return 0;
}

void tf_persona_spawner_direct(void)
{
	direct_ok = true;
}

pid_t tf_persona_spawner_pid(void)
{
	return spawner_sock >= 0 ? spawner_pid : -1;
}

/* The spawner died (or stopped answering): reap it and never fork
 * another one (see above). */
static int lose_spawner(void)
{
	siginfo_t si;

	close(spawner_sock);
	spawner_sock = -1;
	spawner_lost = true;
	(void)pidfd_send_signal(spawner_pidfd, SIGKILL, NULL, 0);
	if (tf_p_wait_readable(spawner_pidfd, 1000) == 0)
		(void)waitid(P_PIDFD, (id_t)spawner_pidfd, &si,
			     WEXITED | WNOHANG);
	close(spawner_pidfd);
	spawner_pidfd = -1;
	return -EOWNERDEAD;
}

pid_t tf_p_spawn(const struct tf_p_spawn_req *q, int fd0, int fd1, int cgfd,
		 int nsfd, int *pidfd_out)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	int fds[4] = {fd0, fd1, cgfd, nsfd}, rfd[1], nr;
	int nfds =
		q->kind == TF_P_SPAWN_TUNNEL || q->kind == TF_P_SPAWN_PKGCHECK
			? 1
			: 2 + !!(q->flags & CLONE_INTO_CGROUP);
	if (q->netns)
		fds[nfds++] = nsfd;
	struct iovec iov = {.iov_base = (void *)q, .iov_len = sizeof(*q)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct spawn_reply rep;
	ssize_t n;
	int r;

	if (spawner_sock < 0) {
		if (spawner_lost)
			return -EOWNERDEAD;
		if (!direct_ok)
			return -ENOTCONN;
		/* tests only (tf_persona_spawner_direct): a fork of us */
		return spawn_here(q, fd0, fd1, cgfd, q->netns ? nsfd : -1,
				  false, getpid(), pidfd_out);
	}
	tf_cmsg_put_fds(&mh, cbuf.b, fds, (size_t)nfds);
	do
		n = sendmsg(spawner_sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*q))
		return lose_spawner();
	if (tf_p_wait_readable(spawner_sock, SPAWN_TIMEOUT_MS) < 0)
		return lose_spawner();
	memset(&rep, 0, sizeof(rep));
	n = recv_fds(spawner_sock, &rep, sizeof(rep), rfd, 1, &nr);
	if (n <= 0)
		return lose_spawner();
	if (n != (ssize_t)sizeof(rep) || nr < 0) {
		r = -EPROTO;
	} else if (rep.err < 0) {
		r = rep.err;
	} else if (nr != 1 || rep.pid <= 0) {
		r = -EPROTO;
	} else {
		*pidfd_out = rfd[0];
		return (pid_t)rep.pid;
	}
	for (int i = 0; i < nr; i++)
		close(rfd[i]);
	return r;
}

void tf_persona_spawner_tunnel_main(void (*fn)(int ctl))
{
	tunnel_main = fn;
}

void tf_persona_spawner_pkgcheck_main(void (*fn)(int ctl))
{
	pkgcheck_main = fn;
}

pid_t tf_persona_spawn_pkgcheck(const char *name, int ctl, int *pidfd_out)
{
	static struct tf_p_spawn_req q; /* not on the stack (see above) */
	int pidfd = -1;
	pid_t pid;

	memset(&q, 0, sizeof(q));
	q.magic = TF_P_SPAWN_MAGIC;
	q.kind = TF_P_SPAWN_PKGCHECK;
	if (tf_strlcpy(q.name, name, sizeof(q.name)) < 0)
		return -ENAMETOOLONG;
	pid = tf_p_spawn(&q, ctl, ctl, -1, -1, &pidfd);
	if (pid > 0)
		*pidfd_out = pidfd;
	return pid;
}

pid_t tf_persona_spawn_tunnel(const char *name, int ctl, int *pidfd_out)
{
	static struct tf_p_spawn_req q; /* 4 KiB path + a profile: not on
					   the stack */
	int pidfd = -1;
	pid_t pid;

	memset(&q, 0, sizeof(q));
	q.magic = TF_P_SPAWN_MAGIC;
	q.kind = TF_P_SPAWN_TUNNEL;
	if (tf_strlcpy(q.name, name, sizeof(q.name)) < 0)
		return -ENAMETOOLONG;
	pid = tf_p_spawn(&q, ctl, ctl, -1, -1, &pidfd);
	if (pid > 0)
		*pidfd_out = pidfd;
	return pid;
}
