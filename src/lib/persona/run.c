/* SPDX-License-Identifier: ISC */
/*
 * What one `twofold run` gets besides its app: a terminal of the persona's
 * own (never the host's) and a cgroup of its own, killed when the run ends.
 *
 * Terminal: the pty is allocated in the persona's devpts instance (the
 * init mounted it with newinstance and max=), reached through the init's
 * root (/proc/PID/root, resolved once at start into an O_PATH fd). The
 * daemon opens the master there, so the pty counts against the persona's
 * pty limit, has a name only inside the persona, and the slave is made
 * the app's controlling terminal (exec.c); the CLI relays bytes between
 * its own terminal and the master. Before this the app got the CLI's tty:
 * a detached app kept it after `run` returned, read the next keystrokes
 * (a PIN typed at `twofold unlock`), and could TIOCSETD/TCSETS it.
 *
 * cgroup: <persona v2 cgroup>/run-<n>. The launcher clones the app
 * straight into it (clone3 CLONE_INTO_CGROUP): a migration by cgroup.procs
 * write would take cgroup_threadgroup_rwsem for writing, whose first use
 * after a quiet spell waits for an RCU grace period (~11 ms, launcher.c).
 * CLONE_INTO_CGROUP checks write access to cgroup.procs of the target and
 * of the common ancestor with the caller's credentials (as a cgroup.procs
 * write would), so both files belong to the persona's root, the
 * launcher's identity. Only v2: on a hybrid host the v1 controllers keep
 * the persona's limits (children count against their parent), and
 * cgroup.kill is v2.
 *
 * An installed app's runs (run --app) go one level deeper:
 * <persona v2 cgroup>/app-NAME/run-<n>. app-NAME holds the app's own
 * device program (BPF_CGROUP_DEVICE: camera and microphone only if
 * declared), checked by the kernel in addition to the persona's policy,
 * and is what `app remove` and a catalog drop kill (cgroup.kill is
 * recursive). Its cgroup.procs stays root's: nothing is ever moved into
 * app-NAME itself; CLONE_INTO_CGROUP checks only the target's (run-<n>,
 * the persona root's) and the common ancestor's (the persona's).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41) /* Linux 4.13 */
#endif

int tf_p_run_setup(struct tf_persona *p)
{
	char path[64];
	int cg;

	snprintf(path, sizeof(path), "/proc/%d/root/dev/pts", (int)p->init_pid);
	/* resolved now, while init is known to be set up and alive; the fd
	 * pins that devpts mount, whatever happens to the path later */
	p->pts_fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p->pts_fd < 0)
		return tf_negerrno();
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg >= 0 && fchownat(cg, "cgroup.procs", p->uid_base, p->uid_base,
				AT_SYMLINK_NOFOLLOW) < 0)
		return tf_negerrno();
	return 0;
}

int tf_persona_open_pty(struct tf_persona *p, uid_t uid, int *master,
			int *slave)
{
	_cleanup_close_ int m = -1, s = -1;
	const int unlock = 0;

	if (p->pts_fd < 0)
		return -EINVAL;
	/* "ptmx" of this devpts instance: a new pty there */
	m = openat(p->pts_fd, "ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return tf_negerrno(); /* ENOSPC: the persona's max= is reached */
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return tf_negerrno();
	/* the slave by the master, not by a path in the persona's /dev */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return tf_negerrno();
	/* as login(1) would: the user's, group tty, 0620. Host ids: the
	 * persona's range. */
	if (fchown(s, p->uid_base + uid, p->uid_base + TF_PERSONA_TTY_GID) <
		    0 ||
	    fchmod(s, 0620) < 0)
		return tf_negerrno();
	*master = steal_fd(&m);
	*slave = steal_fd(&s);
	return 0;
}

static uint64_t run_seq;

/* run-N beneath parent, its cgroup.procs the persona root's (the
 * launcher moves the app in with CLONE_INTO_CGROUP); n gets its name */
static int make_run_dir(struct tf_persona *p, int parent, int *fd,
			char n[static 32])
{
	_cleanup_close_ int d = -1;

	/* process-wide, so a name never repeats across persona restarts: an
	 * old run's end can never touch a new run's cgroup */
	snprintf(n, 32, "run-%llu", (unsigned long long)++run_seq);
	if (mkdirat(parent, n, 0755) < 0)
		return tf_negerrno();
	d = openat(parent, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0 ||
	    fchownat(d, "cgroup.procs", p->uid_base, p->uid_base,
		     AT_SYMLINK_NOFOLLOW) < 0 ||
	    tf_p_keep_new_child(p, d) < 0) {
		int r = tf_negerrno();
		(void)unlinkat(parent, n, AT_REMOVEDIR);
		return r;
	}
	*fd = steal_fd(&d);
	return 0;
}

static int make_run_cgroup(struct tf_persona *p, int *fd, char name[static 32])
{
	int cg = tf_cgroup_v2_fd(p->cg);

	if (cg < 0)
		return -EOPNOTSUPP;
	return make_run_dir(p, cg, fd, name);
}

/* The mkdir, open and chown (~50 us with the css_set the first clone
 * into it makes) are done ahead, while the previous app runs. */
int tf_persona_run_cgroup_prepare(struct tf_persona *p)
{
	if (!p)
		return -EINVAL;
	if (p->spare_cg_fd >= 0)
		return 0;
	return make_run_cgroup(p, &p->spare_cg_fd, p->spare_cg);
}

int tf_persona_run_cgroup(struct tf_persona *p, int *fd, char name[static 32])
{
	if (!p || !fd)
		return -EINVAL;
	if (p->spare_cg_fd >= 0) {
		*fd = p->spare_cg_fd;
		memcpy(name, p->spare_cg, sizeof(p->spare_cg));
		p->spare_cg_fd = -1;
		p->spare_cg[0] = '\0';
		return 0;
	}
	return make_run_cgroup(p, fd, name);
}

static bool run_leaf(const char *n)
{
	if (strncmp(n, "run-", 4) != 0 || n[4] == '\0')
		return false;
	for (n += 4; *n; n++)
		if (*n < '0' || *n > '9')
			return false;
	return true;
}

/* An app name as a path component: what tfd_app_name_ok lets through is
 * narrower still; here only what keeps it one component */
static bool app_ok(const char *app)
{
	size_t n = app ? strlen(app) : 0;

	return n > 0 && n <= TF_PERSONA_APP_NAME_MAX && app[0] != '.' &&
	       strchr(app, '/') == NULL;
}

/* "run-<n>" or "app-NAME/run-<n>" */
static bool run_name(const char *n)
{
	const char *sl;

	if (strncmp(n, "app-", 4) != 0)
		return run_leaf(n);
	sl = strchr(n, '/');
	if (sl == NULL || sl == n + 4 ||
	    (size_t)(sl - n - 4) > TF_PERSONA_APP_NAME_MAX || n[4] == '.')
		return false;
	return run_leaf(sl + 1);
}

int tf_persona_app_cgroup(struct tf_persona *p, const char *app,
			  const struct tf_cg_dev *devs, size_t n)
{
	_cleanup_close_ int d = -1;
	char dir[TF_PERSONA_APP_NAME_MAX + 8];
	int cg, r;

	if (!p || !app_ok(app))
		return -EINVAL;
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	snprintf(dir, sizeof(dir), "app-%s", app);
	if (mkdirat(cg, dir, 0755) < 0 && errno != EEXIST)
		return tf_negerrno();
	d = openat(cg, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return tf_negerrno();
	r = tf_p_keep_new_child(p, d);
	if (r == 0)
		r = tf_cgroup_dir_device_set_bpf(d, devs, n);
	if (r < 0)
		/* never a run without its device program: the next run
		 * tries again */
		(void)unlinkat(cg, dir, AT_REMOVEDIR);
	return r;
}

static int make_app_run_cgroup(struct tf_persona *p, const char *app, int *fd,
			       char name[static TF_PERSONA_CG_NAME_MAX])
{
	_cleanup_close_ int a = -1;
	char dir[TF_PERSONA_APP_NAME_MAX + 8], n[32];
	int cg, r;

	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	snprintf(dir, sizeof(dir), "app-%s", app);
	/* ENOENT: tf_persona_app_cgroup() first (the caller has the
	 * policy) */
	a = openat(cg, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (a < 0)
		return tf_negerrno();
	r = make_run_dir(p, a, fd, n);
	if (r == 0)
		snprintf(name, TF_PERSONA_CG_NAME_MAX, "%s/%s", dir, n);
	return r;
}

/* Is the spare app run cgroup one of app's? */
static bool spare_is(const struct tf_persona *p, const char *app)
{
	size_t n = strlen(app);

	return p->spare_app_fd >= 0 && strncmp(p->spare_app, "app-", 4) == 0 &&
	       strncmp(p->spare_app + 4, app, n) == 0 &&
	       p->spare_app[4 + n] == '/';
}

static void spare_drop(struct tf_persona *p)
{
	int cg = tf_cgroup_v2_fd(p->cg);

	if (p->spare_app_fd < 0)
		return;
	close(p->spare_app_fd);
	p->spare_app_fd = -1;
	if (cg >= 0)
		(void)unlinkat(cg, p->spare_app, AT_REMOVEDIR);
	p->spare_app[0] = '\0';
}

int tf_persona_app_run_cgroup(struct tf_persona *p, const char *app, int *fd,
			      char name[static TF_PERSONA_CG_NAME_MAX])
{
	if (!p || !fd || !app_ok(app))
		return -EINVAL;
	if (spare_is(p, app)) {
		*fd = p->spare_app_fd;
		memcpy(name, p->spare_app, sizeof(p->spare_app));
		p->spare_app_fd = -1;
		p->spare_app[0] = '\0';
		return 0;
	}
	return make_app_run_cgroup(p, app, fd, name);
}

int tf_persona_app_run_cgroup_prepare(struct tf_persona *p, const char *app)
{
	if (!p || !app_ok(app))
		return -EINVAL;
	if (spare_is(p, app))
		return 0;
	/* one spare for the app launched last: the one likely next */
	spare_drop(p);
	return make_app_run_cgroup(p, app, &p->spare_app_fd, p->spare_app);
}

/* An app's empty run cgroups; ud: the spare's leaf name, kept */
static int rm_run_child(int parent, const char *name, void *ud)
{
	const char *keep = ud;

	if (run_leaf(name) && (keep == NULL || strcmp(name, keep) != 0))
		(void)unlinkat(parent, name, AT_REMOVEDIR);
	return 0;
}

int tf_persona_app_kill(struct tf_persona *p, const char *app, int timeout_ms)
{
	_cleanup_close_ int a = -1, kfd = -1, ev = -1;
	char dir[TF_PERSONA_APP_NAME_MAX + 8];
	int cg, r = 0;

	if (!p || !app_ok(app))
		return -EINVAL;
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	snprintf(dir, sizeof(dir), "app-%s", app);
	if (spare_is(p, app))
		spare_drop(p);
	a = openat(cg, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (a < 0)
		return errno == ENOENT ? 0 : tf_negerrno();
	/* every run of the app, services and orphans included: the kill is
	 * recursive, and a task cannot fork its way out of it (the kernel
	 * kills what is forked meanwhile, cgroup_kill) */
	kfd = openat(a, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	if (kfd < 0 || write(kfd, "1", 1) != 1)
		return tf_negerrno();
	/* wait (bounded) until the tasks have really left: the caller
	 * unmounts the image next, and a dying task still holds its files
	 * until it is gone. "populated 0" in cgroup.events, with
	 * POLLPRI. */
	ev = openat(a, "cgroup.events", O_RDONLY | O_CLOEXEC);
	for (int waited = 0; ev >= 0;) {
		char buf[256];
		ssize_t k = pread(ev, buf, sizeof(buf) - 1, 0);
		struct pollfd pf = {.fd = ev, .events = POLLPRI};
		if (k <= 0)
			break;
		buf[k] = '\0';
		if (strstr(buf, "populated 0"))
			break;
		if (waited >= timeout_ms) {
			r = -ETIMEDOUT;
			break;
		}
		(void)poll(&pf, 1, 50);
		waited += 50;
	}
	(void)tf_cgroup_for_each_child(a, rm_run_child, NULL);
	if (r == 0 && unlinkat(cg, dir, AT_REMOVEDIR) < 0 && errno != ENOENT &&
	    errno != EBUSY)
		r = tf_negerrno();
	return r;
}

int tf_persona_run_cgroup_end(struct tf_persona *p, const char *name, bool kill)
{
	int cg;

	if (!p || !name || !run_name(name))
		return -EINVAL;
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	if (kill) {
		_cleanup_close_ int dfd = -1, kfd = -1;

		dfd = openat(cg, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return errno == ENOENT ? 0 : tf_negerrno();
		kfd = openat(dfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
		if (kfd < 0 || write(kfd, "1", 1) != 1)
			return tf_negerrno();
	}
	/* killed tasks leave the cgroup as they exit: usually already gone,
	 * else the sweep removes it */
	if (unlinkat(cg, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return errno == EBUSY ? 0 : tf_negerrno();
	return 0;
}

static int sweep_child(int parent, const char *name, void *ud)
{
	const struct tf_persona *p = ud;

	/* rmdir refuses a populated cgroup: trying is the check; the spare
	 * is empty and kept */
	if (run_leaf(name) && strcmp(name, p->spare_cg) != 0)
		(void)unlinkat(parent, name, AT_REMOVEDIR);
	/* an app's runs; app-NAME itself stays (it holds the app's device
	 * program) until the app is removed or the persona stops */
	if (strncmp(name, "app-", 4) == 0) {
		_cleanup_close_ int a =
			openat(parent, name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		const char *sl = strchr(p->spare_app, '/');
		bool mine = p->spare_app_fd >= 0 && sl &&
			    (size_t)(sl - p->spare_app) == strlen(name) &&
			    strncmp(p->spare_app, name, strlen(name)) == 0;
		if (a >= 0)
			(void)tf_cgroup_for_each_child(a, rm_run_child,
						       mine ? (void *)(sl + 1)
							    : NULL);
	}
	return 0;
}

void tf_persona_sweep_run_cgroups(struct tf_persona *p)
{
	int cg;

	if (!p || (cg = tf_cgroup_v2_fd(p->cg)) < 0)
		return;
	(void)tf_cgroup_for_each_child(cg, sweep_child, p);
}
