/* SPDX-License-Identifier: ISC */
/*
 * Persona lifecycle: start (data dir, cgroup, clone3 of the init with its
 * uid map), freeze, foreground, stats, stop, stale cleanup.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "twofold/net.h"

/* How long start waits for the init to report, and stop for it to exit. */
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

#define PERSONA_NS_FLAGS                                                       \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |           \
	 CLONE_NEWUTS)

static TF_PRINTF(3, 4) int seterr(char *err, size_t errlen, const char *fmt,
				  ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return 0;
}

pid_t tf_p_clone3(uint64_t flags, int cgroup_fd, int *pidfd_out)
{
	struct clone_args args;
	int pidfd = -1;
	long r;

	memset(&args, 0, sizeof(args));
	args.flags = flags;
	/* clone3 refuses an exit signal with CLONE_PARENT: the child takes
	 * the caller's own (SIGCHLD, to the common parent) */
	args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
	if (flags & CLONE_PIDFD)
		args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	if (flags & CLONE_INTO_CGROUP)
		args.cgroup = (uint64_t)cgroup_fd;
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r < 0)
		return tf_negerrno();
	if (r > 0 && pidfd_out)
		*pidfd_out = pidfd;
	return (pid_t)r;
}

/* Create dir name below dirfd when missing, owned by uid/gid (host ids)
 * with mode. An existing one is left as the persona made it; but it must be
 * a real directory: the data dir is persona-writable, so a symlink planted
 * there must not make us chown or bind a host path (O_NOFOLLOW). */
static int ensure_dir(int dirfd, const char *name, uid_t uid, gid_t gid,
		      mode_t mode, int *fd_out)
{
	_cleanup_close_ int fd = -1;

	if (mkdirat(dirfd, name, 0700) == 0) {
		fd = openat(dirfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return tf_negerrno();
		/* chmod after mkdir: the umask must not decide 1777 */
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
			return tf_negerrno();
	} else if (errno == EEXIST) {
		fd = openat(dirfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ELOOP ? -ENOTDIR : tf_negerrno();
	} else {
		return tf_negerrno();
	}
	if (fd_out)
		*fd_out = steal_fd(&fd);
	return 0;
}

/* The profile's data dirs (parents first): each made when missing, owned
 * by its uid inside the persona. Intermediate components must exist (an
 * earlier entry), and none may be a symlink (O_NOFOLLOW in ensure_dir). */
static int prepare_data_dir(const struct tf_persona_spec *spec,
			    const struct tf_profile *pr, char *err,
			    size_t errlen)
{
	_cleanup_close_ int dfd = -1;
	int r;

	dfd = open(spec->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = tf_negerrno();
		seterr(err, errlen, "data dir %s: %s", spec->data_dir,
		       strerror(-r));
		return r;
	}
	for (uint32_t i = 0; i < pr->n_dirs; i++) {
		const struct tf_prof_dir *e = &pr->dirs[i];
		const uid_t u = spec->cfg->uid_base + e->uid;
		_cleanup_close_ int at = -1;
		char rel[TF_PROF_PATH_MAX];
		char *name = rel, *slash;

		if (e->uid >= spec->cfg->uid_count) {
			seterr(err, errlen,
			       "data dir %s: %s: owner %u is not "
			       "a uid of the persona",
			       spec->data_dir, e->rel, e->uid);
			return -EINVAL;
		}
		memcpy(rel, e->rel, sizeof(rel));
		at = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
		if (at < 0)
			return tf_negerrno();
		while ((slash = strchr(name, '/')) != NULL) {
			int next;

			*slash = '\0';
			next = openat(at, name,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
			if (next < 0) {
				r = errno == ELOOP ? -ENOTDIR : tf_negerrno();
				seterr(err, errlen, "data dir %s: %s: %s",
				       spec->data_dir, e->rel, strerror(-r));
				return r;
			}
			close(at);
			at = next;
			name = slash + 1;
		}
		r = ensure_dir(at, name, u, u, (mode_t)e->mode, NULL);
		if (r < 0) {
			seterr(err, errlen, "data dir %s: %s: %s",
			       spec->data_dir, e->rel, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* A base must have a mount point for every bind of the profile, /dev and
 * /proc. */
static int check_base(const struct tf_profile *pr, char *err, size_t errlen)
{
	const char *base = pr->base;
	const char *need[TF_PROF_BIND_MAX + 2];
	size_t n = 0;
	_cleanup_close_ int fd = -1;
	struct stat st;

	for (uint32_t i = 0; i < pr->n_binds; i++)
		need[n++] = pr->binds[i].dst + 1;
	need[n++] = "dev";
	need[n++] = "proc";

	fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int r = tf_negerrno();
		seterr(err, errlen, "base %s: %s", base, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (fstatat(fd, need[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			seterr(err, errlen,
			       "base %s has no /%s directory (mount point)",
			       base, need[i]);
			return -ENOENT;
		}
	}
	return 0;
}

/* Every character device node the pattern of d matches now, as entries
 * at p->prof.devs[*n...]: nodes only (a directory or a file that matches
 * is not a device to bind), at most what the profile holds. */
static int resolve_pattern(struct tf_persona *p, const struct tf_prof_dev *d,
			   uint32_t *n)
{
	glob_t g;
	int r = glob(d->path, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &g);

	if (r == GLOB_NOMATCH)
		return 0;
	if (r != 0)
		return r == GLOB_NOSPACE ? -ENOMEM : -EIO;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct tf_prof_dev e = *d;
		struct stat st;

		if (*n >= TF_PROF_DEV_MAX)
			break;
		if (stat(g.gl_pathv[i], &st) < 0 || !S_ISCHR(st.st_mode) ||
		    snprintf(e.path, sizeof(e.path), "%s", g.gl_pathv[i]) >=
			    (int)sizeof(e.path))
			continue;
		e.type = 'c';
		e.major = major(st.st_rdev);
		e.minor = minor(st.st_rdev);
		e.flags &= ~(TF_PROF_DEV_RESOLVE | TF_PROF_DEV_GLOB);
		p->prof.devs[(*n)++] = e;
	}
	globfree(&g);
	return 0;
}

/* Copy the profile's devices, taking type and numbers of each
 * TF_PROF_DEV_RESOLVE entry from its host node; an absent node is dropped
 * (hot-pluggable: neither bound nor allowed). Then the one list is what
 * the init binds and what the cgroup allows. */
static int resolve_devices(struct tf_persona *p, const struct tf_profile *pr,
			   char *err, size_t errlen)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < pr->n_devs; i++) {
		struct tf_prof_dev d = pr->devs[i];
		struct stat st;

		if (d.flags & TF_PROF_DEV_GLOB) {
			int r = resolve_pattern(p, &d, &n);
			if (r < 0)
				return r;
			continue;
		}
		if (d.flags & TF_PROF_DEV_RESOLVE) {
			if (stat(d.path, &st) < 0) {
				if (errno == ENOENT)
					continue; /* absent now; skipped */
				return tf_negerrno();
			}
			if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
				seterr(err, errlen,
				       "device %s is not a device node",
				       d.path);
				return -EINVAL;
			}
			d.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
			d.major = major(st.st_rdev);
			d.minor = minor(st.st_rdev);
			d.flags &= ~TF_PROF_DEV_RESOLVE;
		}
		p->prof.devs[n++] = d;
	}
	p->prof.n_devs = n;
	return 0;
}

static int apply_foreground(struct tf_persona *p, bool fg)
{
	struct tf_cg_dev devs[TF_PROF_DEV_MAX], calls[TF_PROF_DEV_MAX];
	uint32_t w = fg ? p->prof.lim.cpu_weight : p->prof.bg_cpu_weight;
	bool call = p->call == TF_PERSONA_CALL_FOLLOW && fg;
	struct tf_cg_keep keep = {
		.cgroup_id = p->call_cgid, .uid = p->call_uid, .devs = calls};
	size_t n = tf_profile_dev_rules_call(&p->prof, fg, call, devs,
					     TF_ARRAY_SIZE(devs));
	int r;

	if (p->call == TF_PERSONA_CALL_KEEP)
		keep.n = tf_profile_call_devs(&p->prof, calls,
					      TF_ARRAY_SIZE(calls));
	r = tf_cgroup_device_set_keep(p->cg, devs, n, keep.n ? &keep : NULL);
	if (r < 0)
		return r;
	if (w) {
		r = tf_cgroup_set_cpu_weight(p->cg, w);
		if (r < 0)
			return r;
	}
	p->foreground = fg;
	return 0;
}

static int write_map(pid_t pid, const char *file, uint32_t base, uint32_t count)
{
	char path[64], line[64];
	_cleanup_close_ int fd = -1;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	n = snprintf(line, sizeof(line), "0 %u %u\n", base, count);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return tf_negerrno();
	/* the kernel takes the whole map in one write */
	if (write(fd, line, (size_t)n) != n)
		return tf_negerrno();
	return 0;
}

int tf_p_wait_readable(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t end = tf_now_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		uint64_t now = tf_now_ns();
		int r;

		if (now >= end)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)((end - now) / 1000000u) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return tf_negerrno();
	}
}

static void kill_and_reap(pid_t pid, int pidfd)
{
	siginfo_t si;

	(void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
	(void)pid;
}

int tf_p_fill_spawn_req(struct tf_p_spawn_req *q, uint32_t kind,
			const struct tf_persona *p, const char *data_dir)
{
	memset(q, 0, sizeof(*q));
	q->magic = TF_P_SPAWN_MAGIC;
	q->kind = kind;
	if (tf_strlcpy(q->name, p->name, sizeof(q->name)) < 0 ||
	    tf_strlcpy(q->data_dir, data_dir ? data_dir : "",
		       sizeof(q->data_dir)) < 0)
		return -ENAMETOOLONG;
	q->prof = p->prof;
	return 0;
}

static void seterr_spawn(char *err, size_t errlen, const char *what, int r)
{
	if (r == -EOWNERDEAD)
		seterr(err, errlen,
		       "%s: the persona spawner died; restart "
		       "twofoldd",
		       what);
	else if (r == -ENOTCONN)
		seterr(err, errlen,
		       "%s: no persona spawner (the daemon must "
		       "call tf_persona_spawner_start() first)",
		       what);
	else
		seterr(err, errlen, "%s: clone: %s", what, strerror(-r));
}

int tf_persona_cgroup_create(const struct tf_persona_spec *spec,
			     struct tf_cgroup **out)
{
	if (!spec || !spec->cfg || !spec->prof || !spec->cgroup_group || !out)
		return -EINVAL;
	if (!tf_name_valid(spec->cfg->name))
		return -EINVAL;
	return tf_cgroup_create(spec->cgroup_group, spec->cfg->name,
				&spec->prof->lim, out);
}

static void cg_destroyp(struct tf_cgroup **cg)
{
	if (*cg)
		(void)tf_cgroup_destroy(steal_pointer(cg));
}

int tf_persona_start(const struct tf_persona_spec *spec,
		     struct tf_persona **out, char *err, size_t errlen)
{
	/* ours whatever happens (persona.h) */
	_cleanup_(cg_destroyp) struct tf_cgroup *pre = spec ? spec->cg : NULL;
	const struct tf_persona_cfg *cfg;
	_cleanup_free_ struct tf_persona *p = NULL;
	_cleanup_close_ int sync_r = -1, sync_w = -1, st_r = -1, st_w = -1;
	_cleanup_close_ int own_ns = -1;
	struct tf_p_spawn_req q;
	struct tf_p_status st;
	enum tf_cg_layout layout;
	int pidfd = -1, cgfd, r;
	pid_t pid;
	int fds[2];

	if (err && errlen)
		err[0] = '\0';
	if (!spec || !spec->cfg || !spec->prof || !spec->data_dir ||
	    !spec->cgroup_group || !out)
		return -EINVAL;
	cfg = spec->cfg;
	r = tf_profile_check(spec->prof, err, errlen);
	if (r < 0)
		return r;
	if (!tf_name_valid(cfg->name)) {
		seterr(err, errlen, "invalid persona name");
		return -EINVAL;
	}
	/* The persona's root, its tty group (gid 5) and the app user must be
	 * mapped; uid_base 0 would map the persona's root to host root. */
	if (cfg->uid_base == 0 || cfg->uid_count <= TF_APP_UID_DEFAULT ||
	    (uint64_t)cfg->uid_base + cfg->uid_count > UINT32_MAX) {
		seterr(err, errlen,
		       "persona %s: uid range %u+%u must be above 0 and hold "
		       "uid %u",
		       cfg->name, cfg->uid_base, cfg->uid_count,
		       TF_APP_UID_DEFAULT);
		return -EINVAL;
	}
	if (spec->prof->base[0] &&
	    (r = check_base(spec->prof, err, errlen)) < 0)
		return r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pidfd = -1;
	p->launcher_pid = -1;
	p->launcher_pidfd = -1;
	p->launcher_sock = -1;
	p->pts_fd = -1;
	p->spare_cg_fd = -1;
	p->spare_app_fd = -1;
	p->uid_base = cfg->uid_base;
	if (tf_strlcpy(p->name, cfg->name, sizeof(p->name)) < 0) {
		/* cannot happen: checked lengths */
	}
	p->prof = *spec->prof;
	r = resolve_devices(p, spec->prof, err, errlen);
	if (r < 0)
		return r;
	r = prepare_data_dir(spec, &p->prof, err, errlen);
	if (r < 0)
		return r;

	r = tf_cgroup_layout(&layout);
	if (r < 0) {
		seterr(err, errlen, "cgroup layout: %s", strerror(-r));
		return r;
	}
	p->hybrid = layout == TF_CG_HYBRID;
	r = 0;
	if (pre)
		p->cg = steal_pointer(&pre);
	else
		r = tf_persona_cgroup_create(spec, &p->cg);
	if (r < 0) {
		seterr(err, errlen, "cgroup %s/%s: %s%s", spec->cgroup_group,
		       cfg->name, strerror(-r),
		       r == -EEXIST ? " (stale: clean up first)" : "");
		return r;
	}
	r = apply_foreground(p, spec->foreground);
	if (r < 0) {
		seterr(err, errlen, "cgroup device policy: %s", strerror(-r));
		goto fail_cg;
	}

	/* fds >= 3: the child points 0..2 at /dev/null and must not clobber
	 * the pipe when the daemon runs with closed stdio */
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto fail_errno;
	sync_r = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
	sync_w = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
	close(fds[0]);
	close(fds[1]);
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto fail_errno;
	st_r = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
	st_w = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
	close(fds[0]);
	close(fds[1]);
	if (sync_r < 0 || sync_w < 0 || st_r < 0 || st_w < 0)
		goto fail_errno;

	r = tf_p_fill_spawn_req(&q, TF_P_SPAWN_INIT, p, spec->data_dir);
	if (r < 0) {
		seterr(err, errlen, "data dir %s: path too long",
		       spec->data_dir);
		goto fail_cg;
	}
	q.flags = PERSONA_NS_FLAGS;
	q.netns = 1;
	cgfd = tf_cgroup_v2_fd(p->cg);
	if (cgfd >= 0)
		q.flags |= CLONE_INTO_CGROUP;
	if (!spec->has_netns) {
		r = tf_netns_create(&own_ns);
		if (r < 0) {
			seterr(err, errlen, "network namespace: %s",
			       strerror(-r));
			goto fail_cg;
		}
	}
	/* cloned by the spawner, never from our (secret-holding) memory */
	pid = tf_p_spawn(&q, sync_r, st_w, cgfd,
			 spec->has_netns ? spec->netns_fd : own_ns, &pidfd);
	if (pid < 0) {
		r = pid;
		seterr_spawn(err, errlen, "persona init", r);
		goto fail_cg;
	}
	close(steal_fd(&sync_r));
	close(steal_fd(&st_w));

	r = write_map(pid, "uid_map", cfg->uid_base, cfg->uid_count);
	if (r >= 0)
		r = write_map(pid, "gid_map", cfg->uid_base, cfg->uid_count);
	if (r < 0) {
		seterr(err, errlen, "uid/gid map: %s", strerror(-r));
		goto fail_child;
	}
	/* hybrid hosts: CLONE_INTO_CGROUP only placed it in the v2 cgroup;
	 * the v1 controllers need the pid before the child goes on */
	if (p->hybrid || cgfd < 0) {
		r = tf_cgroup_attach(p->cg, pid);
		if (r < 0) {
			seterr(err, errlen, "cgroup attach: %s", strerror(-r));
			goto fail_child;
		}
	}
	if (tf_write_full(sync_w, "g", 1) < 0)
		goto fail_child_errno;
	close(steal_fd(&sync_w));

	/* The launcher (launcher.c) forks while init builds the persona;
	 * attaching it right after init also keeps its v1 cgroup.procs write
	 * cheap (rcu_sync of cgroup_threadgroup_rwsem still in its writer
	 * state from init's attach). It enters the persona after init's OK. */
	r = tf_p_launcher_spawn(p, pidfd);
	if (r < 0) {
		seterr_spawn(err, errlen, "persona launcher", r);
		goto fail_child;
	}

	r = tf_p_wait_readable(st_r, START_TIMEOUT_MS);
	if (r < 0) {
		seterr(err, errlen, "persona init did not report: %s",
		       strerror(-r));
		goto fail_child;
	}
	memset(&st, 0, sizeof(st));
	if (tf_read_full(st_r, &st, sizeof(st)) != (ssize_t)sizeof(st)) {
		r = -EIO;
		seterr(err, errlen, "persona init died during setup");
		goto fail_child;
	}
	if (st.err != 0) {
		r = st.err < 0 ? st.err : -EIO;
		st.msg[sizeof(st.msg) - 1] = '\0';
		seterr(err, errlen, "persona %s setup: %s", cfg->name, st.msg);
		goto fail_child;
	}
	r = tf_p_launcher_go(p);
	if (r < 0) {
		seterr(err, errlen, "persona launcher: entering %s: %s",
		       cfg->name, strerror(-r));
		goto fail_child;
	}
	p->init_pid = pid;
	r = tf_p_run_setup(p);
	if (r < 0) {
		seterr(err, errlen,
		       "persona %s: its /dev/pts or run cgroups: %s", cfg->name,
		       strerror(-r));
		goto fail_child;
	}
	p->pidfd = pidfd;
	*out = steal_pointer(&p);
	return 0;

fail_child_errno:
	r = tf_negerrno();
fail_child:
	if (p->pts_fd >= 0)
		close(p->pts_fd);
	tf_p_launcher_stop(p, STOP_TIMEOUT_MS);
	kill_and_reap(pid, pidfd);
	close(pidfd);
	goto fail_cg;
fail_errno:
	r = tf_negerrno();
fail_cg:
	(void)tf_cgroup_destroy(steal_pointer(&p->cg));
	return r;
}

int tf_persona_pidfd(const struct tf_persona *p)
{
	return p ? p->pidfd : -1;
}

pid_t tf_persona_init_pid(const struct tf_persona *p)
{
	return p ? p->init_pid : -1;
}

int tf_persona_cgroup_fd(const struct tf_persona *p)
{
	return p && p->cg ? tf_cgroup_v2_fd(p->cg) : -1;
}

const char *tf_persona_name(const struct tf_persona *p)
{
	return p ? p->name : NULL;
}

const struct tf_profile *tf_persona_profile(const struct tf_persona *p)
{
	return p ? &p->prof : NULL;
}

int tf_persona_freeze(struct tf_persona *p, bool frozen)
{
	if (!p)
		return -EINVAL;
	/* a v1 freezer: the library's own wait, no keep cgroups */
	if (tf_cgroup_v2_fd(p->cg) < 0)
		return tf_cgroup_freeze(p->cg, frozen);
	return tf_p_keep_freeze_wait(p, frozen);
}

int tf_persona_set_foreground(struct tf_persona *p, bool fg)
{
	if (!p)
		return -EINVAL;
	return apply_foreground(p, fg);
}

int tf_persona_set_call_devices(struct tf_persona *p, bool fg,
				enum tf_persona_call call, uint64_t cgroup_id,
				uint32_t uid)
{
	int r;

	if (!p || (call == TF_PERSONA_CALL_KEEP && cgroup_id == 0))
		return -EINVAL;
	p->call = call;
	p->call_cgid = call == TF_PERSONA_CALL_KEEP ? cgroup_id : 0;
	p->call_uid = call == TF_PERSONA_CALL_KEEP ? uid : 0;
	r = apply_foreground(p, fg);
	if (r < 0 && call == TF_PERSONA_CALL_KEEP) {
		/* fail closed: the call devices for nobody */
		p->call = TF_PERSONA_CALL_NONE;
		(void)apply_foreground(p, fg);
	}
	return r;
}

int tf_persona_stats(const struct tf_persona *p, struct tf_persona_stats *st)
{
	struct tf_persona_stats s = {0};
	int r;

	if (!p || !st)
		return -EINVAL;
	r = tf_cgroup_nprocs(p->cg);
	if (r < 0)
		return r;
	/* the launcher is in the cgroup but is no process of the persona */
	if (r > 0 && tf_p_launcher_alive(p))
		r--;
	s.nprocs = r;
	r = tf_cgroup_memory_current(p->cg, &s.memory_bytes);
	if (r < 0 && r != -ENOENT && r != -EOPNOTSUPP)
		return r;
	r = tf_persona_frozen(p, &s.frozen);
	if (r < 0 && r != -ENOENT && r != -EOPNOTSUPP)
		return r;
	*st = s;
	return 0;
}

static bool pidfd_exited(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

int tf_p_track_app(struct tf_persona *p, int pidfd)
{
	size_t j = 0;
	int dup;

	/* prune apps that exited (the daemon reaps them) */
	for (size_t i = 0; i < p->n_apps; i++) {
		if (pidfd_exited(p->apps[i]))
			close(p->apps[i]);
		else
			p->apps[j++] = p->apps[i];
	}
	p->n_apps = j;
	if (p->n_apps == p->cap_apps) {
		size_t ncap = p->cap_apps ? p->cap_apps * 2 : 16;
		int *n = reallocarray(p->apps, ncap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->apps = n;
		p->cap_apps = ncap;
	}
	dup = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		return tf_negerrno();
	p->apps[p->n_apps++] = dup;
	return 0;
}

/* Reap launched apps that are zombies now (WNOHANG): until they are
 * released, the kernel keeps the dying init in zap_pid_ns_processes(). */
static void reap_apps(struct tf_persona *p)
{
	for (size_t i = 0; i < p->n_apps; i++) {
		siginfo_t si;

		if (p->apps[i] < 0)
			continue;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PIDFD, (id_t)p->apps[i], &si, WEXITED | WNOHANG) <
			    0 ||
		    si.si_pid != 0) {
			/* reaped now, or by the daemon already (ECHILD) */
			close(p->apps[i]);
			p->apps[i] = -1;
		}
	}
}

int tf_persona_stop(struct tf_persona *p)
{
	uint64_t end;
	siginfo_t si;
	int r = 0, q;

	if (!p)
		return 0;
	/* SIGKILL everything in the cgroup, frozen or not; init included */
	q = tf_cgroup_kill(p->cg);
	if (q < 0)
		r = q;
	/* killed with the cgroup (or now, if that failed); our child: reap */
	tf_p_launcher_stop(p, STOP_TIMEOUT_MS);
	(void)pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
	end = tf_now_ns() + (uint64_t)STOP_TIMEOUT_MS * 1000000u;
	for (;;) {
		reap_apps(p);
		if (tf_p_wait_readable(p->pidfd, 5) == 0)
			break;
		if (tf_now_ns() >= end) {
			if (r == 0)
				r = -ETIMEDOUT;
			break;
		}
	}
	if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0 &&
	    errno != ECHILD && r == 0)
		r = tf_negerrno();
	q = tf_cgroup_destroy(steal_pointer(&p->cg));
	if (q < 0 && r == 0)
		r = q;
	for (size_t i = 0; i < p->n_apps; i++)
		if (p->apps[i] >= 0)
			close(p->apps[i]);
	free(p->apps);
	if (p->pts_fd >= 0)
		close(p->pts_fd);
	if (p->spare_cg_fd >= 0)
		close(p->spare_cg_fd);
	if (p->spare_app_fd >= 0)
		close(p->spare_app_fd);
	close(p->pidfd);
	free(p);
	return r;
}

int tf_persona_cleanup_stale(const char *cgroup_group)
{
	if (!cgroup_group)
		return -EINVAL;
	return tf_cgroup_remove_stale(cgroup_group);
}
