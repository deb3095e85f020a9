/* SPDX-License-Identifier: ISC */
/*
 * Launch an app into a running persona (DESIGN.md: enter, never build a
 * sandbox per launch):
 *
 *   daemon ──clone3(CLONE_INTO_CGROUP)──> helper
 *             helper: [hybrid: wait until the daemon attached it to the v1
 *                     controllers] setns(init's pidfd, all namespaces);
 *                     clone(CLONE_PARENT) ──> app; report the app's pid;
 *                     exit
 *             app (pid N in the persona, child of the daemon): setsid, fds,
 *                     drop privileges, chdir, caps, nnp, Landlock, seccomp,
 *                     execve
 *
 * setns() into a pid namespace only applies to children, hence the helper.
 * CLONE_PARENT makes the app the daemon's own child, so the daemon gets a
 * race-free pidfd (pidfd_open on an unreaped child) and its exit status.
 * A CLOEXEC pipe carries the pid and, if execve fails, its errno: EOF
 * without an error means execve succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

enum { MSG_PID = 1, MSG_ERR = 2 };
struct exec_msg {
	int type;
	int val;
};

#define ENTER_FLAGS                                                            \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |           \
	 CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWCGROUP)

/* Where apps may write (Landlock); DAC and the read-only mounts decide
 * the rest. /dev for /dev/null, /dev/pts, /dev/shm. */
static const char *const writable[] = {"/home", "/tmp", "/var", "/run", "/dev"};

static TF_NORETURN void report(int fd, int type, int val)
{
	struct exec_msg m = {.type = type, .val = val};

	if (tf_write_full(fd, &m, sizeof(m)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(127);
}

/* execvpe() searches the *caller's* PATH (environ); an app must be found
 * in the PATH of the environment the daemon built for it. */
static int exec_search(const char *file, char *const argv[], char *const envp[])
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	char buf[PATH_MAX];
	bool eacces = false;
	size_t flen = strlen(file);

	if (flen == 0)
		return -ENOENT;
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return tf_negerrno();
	}
	for (char *const *e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0) {
			path = *e + 5;
			break;
		}
	for (const char *s = path;; s++) {
		const char *end = strchrnul(s, ':');
		size_t dlen = (size_t)(end - s);

		if (dlen == 0) {
			buf[0] = '.';
			dlen = 1;
		} else if (dlen < sizeof(buf)) {
			memcpy(buf, s, dlen);
		}
		if (dlen + 1 + flen + 1 <= sizeof(buf)) {
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, argv, envp);
			switch (errno) {
			case EACCES: eacces = true; break;
			case ENOENT:
			case ENOTDIR:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
			case ELOOP:
			case ENAMETOOLONG: break;
			default: return tf_negerrno();
			}
		}
		s = end;
		if (*s == '\0')
			break;
	}
	return eacces ? -EACCES : -ENOENT;
}

static TF_NORETURN void app_main(const struct tf_exec_spec *x, int msg_fd)
{
	int t[3];
	int r;

	if (setsid() < 0)
		report(msg_fd, MSG_ERR, tf_negerrno());
	/* dup first, then onto 0..2: a given fd may itself be 0, 1 or 2 */
	for (int i = 0; i < 3; i++) {
		t[i] = x->fds[i] >= 0 ? fcntl(x->fds[i], F_DUPFD_CLOEXEC, 3)
				      : open("/dev/null", O_RDWR | O_CLOEXEC);
		if (t[i] < 0)
			report(msg_fd, MSG_ERR, tf_negerrno());
	}
	for (int i = 0; i < 3; i++)
		if (dup2(t[i], i) < 0)
			report(msg_fd, MSG_ERR, tf_negerrno());
	/* Every other fd is closed by execve: CLOSE_RANGE_CLOEXEC instead of
	 * closing now keeps msg_fd usable to report an exec failure. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		report(msg_fd, MSG_ERR, tf_negerrno());

	r = tf_privs_drop(x->uid, x->gid);
	if (r < 0)
		report(msg_fd, MSG_ERR, r);
	/* after the drop: the app may only start where it could go itself */
	if (chdir(x->cwd ? x->cwd : "/home/app") < 0)
		report(msg_fd, MSG_ERR, tf_negerrno());
	r = tf_caps_drop_all();
	if (r >= 0)
		r = tf_nnp_set();
	if (r >= 0)
		r = tf_landlock_apply(writable, TF_ARRAY_SIZE(writable));
	if (r >= 0)
		r = tf_seccomp_apply_default(); /* last: it may deny the above */
	if (r < 0)
		report(msg_fd, MSG_ERR, r);
	r = exec_search(x->argv[0], x->argv, x->envp);
	report(msg_fd, MSG_ERR, r);
}

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* handlers would not survive execve, but SIG_IGN and the mask do */
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static TF_NORETURN void helper_main(const struct tf_persona *p,
				    const struct tf_exec_spec *x, int sync_fd,
				    int msg_fd)
{
	char go;
	long app;

	if (sync_fd >= 0 && read(sync_fd, &go, 1) != 1)
		_exit(1);
	reset_signals();
	/* one call, all namespaces, atomically (pidfd setns, Linux 5.8) */
	if (setns(p->pidfd, ENTER_FLAGS) < 0)
		report(msg_fd, MSG_ERR, tf_negerrno());
	app = syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), 0,
		      NULL, NULL, 0);
	if (app < 0)
		report(msg_fd, MSG_ERR, tf_negerrno());
	if (app == 0)
		app_main(x, msg_fd);
	/* clone() returned the pid in our (host) pid namespace */
	{
		struct exec_msg m = {.type = MSG_PID, .val = (int)app};
		if (tf_write_full(msg_fd, &m, sizeof(m)) < 0) {
			/* nothing left to tell it with */
		}
	}
	_exit(0);
}

static void reap_pid(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int tf_persona_exec(struct tf_persona *p, const struct tf_exec_spec *x,
		    pid_t *pid_out, int *pidfd_out)
{
	_cleanup_close_ int msg_r = -1, msg_w = -1, sync_r = -1, sync_w = -1;
	struct exec_msg m;
	pid_t helper, app = 0;
	int err = 0, cgfd, pidfd, r, fds[2];
	uint64_t flags = 0;

	if (!p || !x || !x->argv || !x->argv[0] || !x->envp || !pid_out ||
	    !pidfd_out)
		return -EINVAL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return tf_negerrno();
	msg_r = fds[0];
	msg_w = fds[1];
	if (p->hybrid) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return tf_negerrno();
		sync_r = fds[0];
		sync_w = fds[1];
	}
	cgfd = tf_cgroup_v2_fd(p->cg);
	if (cgfd >= 0)
		flags |= CLONE_INTO_CGROUP;
	helper = tf_p_clone3(flags, cgfd, NULL);
	if (helper < 0)
		return helper;
	if (helper == 0) {
		helper_main(p, x, sync_r, msg_w);
	}
	close(steal_fd(&msg_w));
	close(steal_fd(&sync_r));
	if (p->hybrid) {
		/* v1 controllers (memory, pids, freezer, devices) take the
		 * pid before the helper enters; the app inherits them */
		r = tf_cgroup_attach(p->cg, helper);
		if (r < 0 || tf_write_full(sync_w, "g", 1) < 0) {
			if (r >= 0)
				r = tf_negerrno();
			(void)kill(helper, SIGKILL);
			reap_pid(helper);
			return r;
		}
		close(steal_fd(&sync_w));
	}
	for (;;) {
		ssize_t n = tf_read_full(msg_r, &m, sizeof(m));
		if (n != (ssize_t)sizeof(m))
			break; /* EOF: the helper is gone and the app exec'd */
		if (m.type == MSG_PID && m.val > 0)
			app = m.val;
		else if (m.type == MSG_ERR && err == 0)
			err = m.val < 0 ? m.val : -EIO;
	}
	reap_pid(helper);
	if (app <= 0)
		return err ? err : -EIO;
	if (err) {
		reap_pid(app);
		return err;
	}
	/* race-free: the app is our child and nobody reaped it yet */
	pidfd = pidfd_open(app, 0);
	if (pidfd < 0) {
		r = tf_negerrno();
		(void)kill(app, SIGKILL);
		reap_pid(app);
		return r;
	}
	r = tf_p_track_app(p, pidfd);
	if (r < 0) {
		(void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		reap_pid(app);
		close(pidfd);
		return r;
	}
	*pid_out = app;
	*pidfd_out = pidfd;
	return 0;
}
