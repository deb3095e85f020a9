/* SPDX-License-Identifier: ISC */
/*
 * The display path (issue 14, device.conf display = shell; docs/shell.md
 * "Daemon integration"): the directories twofold-shell makes its sockets
 * in, and each persona's socket put into that persona at start.
 *
 *   DIR = /run/twofold/shell (or STATE/shell with --state)
 *   DIR            0750 root:<the shell's group>  the shell enters, never
 *                                                  renames or replaces
 *   DIR/NAME       0711 shell_uid                 NAME's wayland-0, made
 *                                                  by the shell
 *   DIR/host       0700 shell_uid                 the host socket and the
 *                                                  shell's own files
 *
 * At persona start the daemon clones DIR/NAME (open_tree, in its own
 * namespace) and attaches it inside the persona at
 * /run/user/1000/.twofold-shell, with /run/user/1000/wayland-0 a link to
 * .twofold-shell/wayland-0. A directory, not the socket file: the shell
 * may start before or after the persona and restart at will (a bind of
 * the socket inode would go stale when the shell makes a new one), and
 * the persona never sees any other socket of DIR. The persona's runtime
 * dir stays its own and writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "daemon.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

bool tfd_display_on(const struct tfd *d)
{
	return strcmp(d->cfg.display, "shell") == 0;
}

int tfd_display_dir(const struct tfd *d, char *buf, size_t cap)
{
	int n = d->state_given ? snprintf(buf, cap, "%s/shell", d->state_dir)
			       : snprintf(buf, cap, "/run/twofold/shell");

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* the group that may enter DIR: the shell user's own, else the control
 * group (which the shell is a member of to reach the control socket) */
gid_t tfd_display_shell_gid(const struct tfd *d)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(d->cfg.shell_uid, &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		return pw.pw_gid;
	return d->has_group ? d->control_gid : (gid_t)d->cfg.shell_uid;
}

/* name in dfd: a directory (made if missing) of that owner and mode; a
 * symlink or anything else there is refused, never followed */
static int own_dir(int dfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	_cleanup_close_ int fd = -1;

	if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return tf_negerrno();
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tf_negerrno();
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
		return tf_negerrno();
	return 0;
}

int tfd_display_setup(struct tfd *d, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	_cleanup_close_ int top = -1;
	uid_t su = d->cfg.shell_uid;
	gid_t sg;
	int r;

	if (!tfd_display_on(d))
		return 0;
	sg = tfd_display_shell_gid(d);
	r = tfd_display_dir(d, dir, sizeof(dir));
	if (r == 0 && !d->state_given)
		r = tf_mkdir_p("/run/twofold", 0700);
	if (r == 0 && mkdir(dir, 0750) < 0 && errno != EEXIST)
		r = tf_negerrno();
	if (r == 0) {
		top = open(dir,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (top < 0 || fchown(top, 0, sg) < 0 || fchmod(top, 0750) < 0)
			r = tf_negerrno();
	}
	/* from the configuration: the personas are not set up yet */
	for (size_t i = 0; r == 0 && i < d->cfg.n_personas; i++)
		r = own_dir(top, d->cfg.personas[i].name, su, sg, 0711);
	if (r == 0)
		r = own_dir(top, "host", su, sg, 0700);
	if (r < 0) {
		snprintf(err, errlen,
			 "display = shell: cannot make the shell's socket "
			 "directories in %s: %s",
			 dir, strerror(-r));
		return r;
	}
	/* the shell reaches DIR (and the control socket) through the
	 * control group's 0710 on /run/twofold or the state dir */
	if (!d->has_group)
		tf_warn("display = shell without control_group: the shell "
			"cannot reach %s nor the control socket; set "
			"control_group to a group of uid %u",
			dir, (unsigned)su);
	tf_info("display = shell: the shell's sockets are in %s", dir);
	return 0;
}

struct attach_op {
	int nsfd, mfd;
	int r;
	const char *what;
};

static void *attach_thread(void *arg)
{
	struct attach_op *op = arg;
	_cleanup_close_ int rt = -1, mp = -1;
	static const char link_to[] =
		TF_SHELL_MOUNT_NAME "/" TF_SHELL_WAYLAND_NAME;

#define FAIL(w)                                                                \
	do {                                                                   \
		op->r = tf_negerrno();                                         \
		op->what = (w);                                                \
		return NULL;                                                   \
	} while (0)
	/* our own fs struct: setns(CLONE_NEWNS) moves only this thread */
	if (unshare(CLONE_FS) < 0)
		FAIL("unshare");
	if (setns(op->nsfd, CLONE_NEWNS) < 0)
		FAIL("enter the persona's mount namespace");
	/* the runtime dir is the app's (0700) and the dirs above it the
	 * persona root's: whatever links they made, we act as host root
	 * only on the real path (no symlink anywhere on it), and nothing
	 * below it is followed */
	{
		struct open_how how = {
			.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		rt = (int)syscall(SYS_openat2, AT_FDCWD, TF_SHELL_RUNTIME_DIR,
				  &how, sizeof(how));
	}
	if (rt < 0)
		FAIL("open " TF_SHELL_RUNTIME_DIR);
	if (mkdirat(rt, TF_SHELL_MOUNT_NAME, 0755) < 0 && errno != EEXIST)
		FAIL("make the mount point");
	mp = openat(rt, TF_SHELL_MOUNT_NAME,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mp < 0)
		FAIL("open the mount point");
	if (move_mount(op->mfd, "", mp, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		FAIL("attach the shell's directory");
	/* an old entry (the last start's link, or the app's own file) is
	 * replaced; a directory there stays and the link is not made */
	if (unlinkat(rt, TF_SHELL_WAYLAND_NAME, 0) < 0 && errno != ENOENT)
		FAIL("remove the old " TF_SHELL_WAYLAND_NAME);
	if (symlinkat(link_to, rt, TF_SHELL_WAYLAND_NAME) < 0)
		FAIL("link " TF_SHELL_WAYLAND_NAME);
	return NULL;
#undef FAIL
}

void tfd_display_persona_started(struct tfd *d, struct tfd_persona *p)
{
	char dir[PATH_MAX], ns[64];
	_cleanup_close_ int top = -1, pd = -1;
	struct attach_op op = {.nsfd = -1, .mfd = -1, .what = "open"};
	pthread_t t;
	int r;

	if (!tfd_display_on(d) || p->rt == NULL)
		return;
	r = tfd_display_dir(d, dir, sizeof(dir));
	if (r == 0) {
		top = open(dir,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (top < 0)
			r = tf_negerrno();
	}
	/* DIR is root's: the shell cannot have swapped NAME for a link to
	 * somewhere it wants mounted into the persona; O_NOFOLLOW anyway */
	if (r == 0) {
		pd = openat(top, p->cfg->name,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pd < 0)
			r = tf_negerrno();
	}
	if (r == 0) {
		op.mfd = open_tree(pd, "",
				   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					   AT_EMPTY_PATH);
		if (op.mfd < 0)
			r = tf_negerrno();
	}
	if (r == 0) {
		/* nothing in it runs or is a device */
		struct mount_attr ma = {.attr_set = MOUNT_ATTR_NOEXEC |
						    MOUNT_ATTR_NOSUID |
						    MOUNT_ATTR_NODEV};
		if (mount_setattr(op.mfd, "", AT_EMPTY_PATH, &ma, sizeof(ma)) <
		    0)
			r = tf_negerrno();
	}
	if (r == 0) {
		snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt",
			 (int)tf_persona_init_pid(p->rt));
		op.nsfd = open(ns, O_RDONLY | O_CLOEXEC);
		if (op.nsfd < 0)
			r = tf_negerrno();
	}
	if (r == 0) {
		op.what = "start a thread";
		r = -pthread_create(&t, NULL, attach_thread, &op);
		if (r == 0) {
			(void)pthread_join(t, NULL);
			r = op.r;
		}
	}
	if (op.nsfd >= 0)
		close(op.nsfd);
	if (op.mfd >= 0)
		close(op.mfd);
	if (r < 0) {
		/* the persona runs without a display: its apps get no
		 * window, nothing else changes */
		tf_warn("%s: no display socket in the persona: %s %s/%s: %s",
			p->cfg->name, op.what, dir, p->cfg->name, strerror(-r));
		return;
	}
	tf_debug("%s: the shell's socket is at %s/%s", p->cfg->name,
		 TF_SHELL_RUNTIME_DIR, TF_SHELL_WAYLAND_NAME);
}
