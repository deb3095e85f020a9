/* SPDX-License-Identifier: ISC */
/*
 * Cgroups for personas: <base>/<group>/<persona> in every hierarchy we use.
 *
 * <base> is the daemon's own cgroup in that hierarchy (from
 * /proc/self/cgroup), so personas stay inside whatever limits the service
 * manager gave the daemon, as a delegated subtree should.
 *
 * Two layouts (tf_cgroup_layout):
 *  - unified (pure v2): one hierarchy; controllers enabled through
 *    cgroup.subtree_control of base and group; devices by a BPF program.
 *  - hybrid: v1 memory, pids, cpu, devices controllers, plus the v2
 *    hierarchy at /sys/fs/cgroup/unified which has no controllers but has
 *    the v2 core files: cgroup.freeze/cgroup.events (freezing),
 *    cgroup.kill (kernel >= 5.14) and a dir fd for clone3's
 *    CLONE_INTO_CGROUP. We use those rather than the v1 freezer, whose
 *    FREEZING state can hang and which cannot kill frozen tasks. The v1
 *    freezer is used only when no cgroup2 is mounted at all.
 * crun refuses hybrid hosts; Debian 12 installs still boot that way, so we
 * must not.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include <linux/magic.h>

#include "twofold/mountinfo.h"
#include "twofold/sandbox.h"
#include "cgroup_internal.h"

#define CG_FILE_MAX (1024 * 1024)
#define CG_FREEZE_TIMEOUT_MS 5000
#define CG_KILL_TIMEOUT_MS 10000

static const char *const h_ctrl[H_N] = {
	[H_V2] = NULL,	 [H_MEMORY] = "memory",	  [H_PIDS] = "pids",
	[H_CPU] = "cpu", [H_DEVICES] = "devices", [H_FREEZER] = "freezer",
};

/* ---- small file helpers ---- */

int cg_write(int dfd, const char *file, const char *val)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);
	ssize_t n;

	fd = openat(dfd, file, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return tf_negerrno();
	/* cgroup files take one value per write(): no partial-write loop */
	do {
		n = write(fd, val, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return tf_negerrno();
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

int tf_cgroup_write(int dfd, const char *file, const char *val)
{
	return cg_write(dfd, file, val);
}

static int cg_write_u64(int dfd, const char *file, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cg_write(dfd, file, buf);
}

static int cg_read(int dfd, const char *file, char **out)
{
	return tf_read_file_at(dfd, file, CG_FILE_MAX, out, NULL);
}

/* Value of "key value" in a flat-keyed file like cgroup.events. */
static int cg_read_key(int dfd, const char *file, const char *key,
		       uint64_t *out)
{
	_cleanup_free_ char *buf = NULL;
	size_t klen = strlen(key);
	char *line, *save = NULL;
	int r;

	r = cg_read(dfd, file, &buf);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return tf_parse_u64(line + klen + 1, UINT64_MAX, out);
	}
	return -ENOENT;
}

static bool name_ok(const char *s)
{
	size_t i, len;

	if (!s)
		return false;
	len = strlen(s);
	if (len == 0 || len > 64 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* ---- discovery: mount points and our own cgroup paths ---- */

int tf_cgroup_layout(enum tf_cg_layout *out)
{
	struct statfs sf;

	if (statfs("/sys/fs/cgroup", &sf) < 0)
		return tf_negerrno();
	if (sf.f_type == CGROUP2_SUPER_MAGIC) {
		*out = TF_CG_UNIFIED;
		return 0;
	}
	if (sf.f_type != TMPFS_MAGIC)
		return -EOPNOTSUPP;
	if (statfs("/sys/fs/cgroup/unified", &sf) == 0 &&
	    sf.f_type == CGROUP2_SUPER_MAGIC) {
		*out = TF_CG_HYBRID;
		return 0;
	}
	/* pure v1 (no cgroup2 anywhere): not a layout we name; the rest of
	 * this file still copes (v1 freezer, no CLONE_INTO_CGROUP). */
	return -EOPNOTSUPP;
}

/* Mount point and mount root of each hierarchy, the first mount of each. */
struct cg_mounts {
	char *mnt[H_N], *root[H_N];
};

static int find_mounts_cb(const struct tf_mountinfo *m, void *ud)
{
	struct cg_mounts *cm = ud;

	/* escaped paths (\040) never name a cgroup mount we use */
	if (strchr(m->mount_point, '\\') || strchr(m->root, '\\'))
		return 0;
	for (int h = 0; h < H_N; h++) {
		if (cm->mnt[h] ||
		    (h == H_V2 ? strcmp(m->fstype, "cgroup2") != 0
			       : (strcmp(m->fstype, "cgroup") != 0 ||
				  !tf_opt_has(m->super_opts, h_ctrl[h]))))
			continue;
		cm->mnt[h] = strdup(m->mount_point);
		cm->root[h] = strdup(m->root);
		if (!cm->mnt[h] || !cm->root[h])
			return -ENOMEM;
	}
	return 0;
}

static void cg_mounts_free(struct cg_mounts *cm)
{
	for (int h = 0; h < H_N; h++) {
		free(cm->mnt[h]);
		free(cm->root[h]);
	}
}

/* Our cgroup path in hierarchy h, from /proc/self/cgroup. */
static int find_own(const char *selfcg, int h, char **path)
{
	_cleanup_free_ char *copy = strdup(selfcg);
	char *line, *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2;
		if (!c1)
			continue;
		c2 = strchr(c1 + 1, ':');
		if (!c2)
			continue;
		*c2 = '\0';
		if (h == H_V2 ? (strncmp(line, "0:", 2) == 0 && c1[1] == '\0')
			      : tf_opt_has(c1 + 1, h_ctrl[h])) {
			*path = strdup(c2 + 1);
			return *path ? 0 : -ENOMEM;
		}
	}
	return -ENOENT;
}

/* Which hierarchies a persona cgroup lives in, and the base dir of each
 * (absolute path; NULL if unused). */
static int cg_bases(char *bases[H_N], enum tf_cg_layout *layout)
{
	_cleanup_(cg_mounts_free) struct cg_mounts cm = {0};
	_cleanup_free_ char *sc = NULL;
	enum tf_cg_layout lay;
	int h, r;

	for (h = 0; h < H_N; h++)
		bases[h] = NULL;
	r = tf_cgroup_layout(&lay);
	if (r == -EOPNOTSUPP)
		lay = 0; /* pure v1 */
	else if (r < 0)
		return r;
	r = tf_mountinfo_foreach(find_mounts_cb, &cm);
	if (r < 0)
		goto fail;
	r = tf_read_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &sc, NULL);
	if (r < 0)
		goto fail;

	for (h = 0; h < H_N; h++) {
		_cleanup_free_ char *own = NULL;
		const char *mnt = cm.mnt[h], *root = cm.root[h], *rel;
		size_t rl;

		if (lay == TF_CG_UNIFIED && h != H_V2)
			continue;
		if (h == H_FREEZER && lay == TF_CG_HYBRID)
			continue; /* v2 core freezer preferred, see top */
		if (!mnt)
			continue; /* controller not mounted: not used */
		r = find_own(sc, h, &own);
		if (r < 0)
			goto fail;
		/* in a cgroup namespace the mount root may be a prefix */
		rel = own;
		rl = strlen(root);
		if (strcmp(root, "/") != 0 && strncmp(own, root, rl) == 0)
			rel = own + rl;
		/* the daemon's own leaf (tf_cgroup_enter_leaf): the base is
		 * its parent */
		if (h == H_V2) {
			size_t n = strlen(rel);
			size_t ll = sizeof("/" TF_CG_SELF_LEAF) - 1;
			if (n >= ll &&
			    strcmp(rel + n - ll, "/" TF_CG_SELF_LEAF) == 0) {
				own[(size_t)(rel - own) + n - ll] = '\0';
				if (rel[0] == '\0')
					rel = "/";
			}
		}
		if (asprintf(&bases[h], "%s%s", mnt,
			     strcmp(rel, "/") == 0 ? "" : rel) < 0) {
			bases[h] = NULL;
			r = -ENOMEM;
			goto fail;
		}
	}
	*layout = lay;
	return 0;
fail:
	for (h = 0; h < H_N; h++) {
		free(bases[h]);
		bases[h] = NULL;
	}
	return r;
}

static void bases_free(char *bases[H_N])
{
	for (int h = 0; h < H_N; h++)
		free(bases[h]);
}

static int open_dir_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? tf_negerrno() : fd;
}

/* ---- recursive walks (a persona may nest cgroups in its namespace) ---- */

static int cg_count_tree(int dfd);
static int cg_signal_tree(int dfd);
static int cg_rmdir_tree(int parent, const char *name);

int tf_cgroup_for_each_child(int dfd,
			     int (*fn)(int parent, const char *name, void *ud),
			     void *ud)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	r = tf_opendir_at(dfd, ".", false, &d);
	if (r < 0)
		return r;
	while (r >= 0 && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.')
			r = fn(dirfd(d), de->d_name, ud);
	return r < 0 ? r : 0;
}

static int count_child(int parent, const char *name, void *ud)
{
	_cleanup_close_ int sub = open_dir_at(parent, name);
	int r;

	if (sub < 0)
		return 0; /* removed meanwhile */
	r = cg_count_tree(sub);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r > 0)
		*(int *)ud += r;
	return 0;
}

/* Number of processes in dfd and below; -errno on failure. */
static int cg_count_tree(int dfd)
{
	_cleanup_free_ char *buf = NULL;
	int n = 0, r;

	r = cg_read(dfd, "cgroup.procs", &buf);
	if (r < 0)
		return r;
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			n++;
	r = tf_cgroup_for_each_child(dfd, count_child, &n);
	return r < 0 ? r : n;
}

static int signal_child(int parent, const char *name, void *ud)
{
	_cleanup_close_ int sub = open_dir_at(parent, name);

	(void)ud;
	if (sub >= 0)
		(void)cg_signal_tree(sub);
	return 0;
}

/* SIGKILL every pid listed in dfd and below. */
static int cg_signal_tree(int dfd)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;
	int r;

	r = cg_read(dfd, "cgroup.procs", &buf);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		uint64_t pid;
		if (tf_parse_u64(line, INT32_MAX, &pid) == 0 && pid > 1)
			(void)kill((pid_t)pid, SIGKILL);
	}
	return tf_cgroup_for_each_child(dfd, signal_child, NULL);
}

static int rmdir_child(int parent, const char *name, void *ud)
{
	(void)ud;
	return cg_rmdir_tree(parent, name);
}

/* rmdir name under parent, children first. */
static int cg_rmdir_tree(int parent, const char *name)
{
	_cleanup_close_ int dfd = -1;
	int r, tries;

	dfd = open_dir_at(parent, name);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	r = tf_cgroup_for_each_child(dfd, rmdir_child, NULL);
	if (r < 0)
		return r;
	/* A cgroup whose last task just exited can report EBUSY for a moment
	 * while the kernel finishes css offlining (seen on v1 memory). */
	for (tries = 0;; tries++) {
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0)
			return 0;
		r = tf_negerrno();
		if (r == -ENOENT)
			return 0;
		if (r != -EBUSY || tries >= 100)
			return r;
		tf_sleep_ms(10);
	}
}

/* ---- v2 freezer / v1 freezer ---- */

static int v2_wait_event(int dfd, const char *key, uint64_t want,
			 unsigned timeout_ms)
{
	_cleanup_close_ int efd = -1;
	uint64_t start = tf_now_ns();

	/* cgroup.events signals changes with POLLPRI (kernfs_notify); we
	 * still re-read on a short timeout so a missed wakeup cannot hang */
	efd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (efd < 0)
		return tf_negerrno();
	for (;;) {
		uint64_t v;
		struct pollfd pfd = {.fd = efd, .events = POLLPRI};
		int r = cg_read_key(dfd, "cgroup.events", key, &v);

		if (r < 0)
			return r;
		if (v == want)
			return 0;
		if ((tf_now_ns() - start) / 1000000ULL >= timeout_ms)
			return -ETIMEDOUT;
		(void)poll(&pfd, 1, 50);
	}
}

static int v1_freezer_state(int dfd, bool *frozen)
{
	_cleanup_free_ char *buf = NULL;
	int r = cg_read(dfd, "freezer.state", &buf);

	if (r < 0)
		return r;
	*frozen = strncmp(buf, "FROZEN", 6) == 0;
	return 0;
}

int tf_cgroup_freeze(struct tf_cgroup *cg, bool frozen)
{
	uint64_t start = tf_now_ns();
	int r;

	if (!cg)
		return -EINVAL;
	if (cg->fd[H_V2] >= 0) {
		r = cg_write(cg->fd[H_V2], "cgroup.freeze", frozen ? "1" : "0");
		if (r < 0)
			return r;
		return v2_wait_event(cg->fd[H_V2], "frozen", frozen ? 1 : 0,
				     CG_FREEZE_TIMEOUT_MS);
	}
	if (cg->fd[H_FREEZER] < 0)
		return -EOPNOTSUPP;
	r = cg_write(cg->fd[H_FREEZER], "freezer.state",
		     frozen ? "FROZEN" : "THAWED");
	if (r < 0)
		return r;
	for (;;) {
		bool f;
		r = v1_freezer_state(cg->fd[H_FREEZER], &f);
		if (r < 0)
			return r;
		if (f == frozen)
			return 0;
		if ((tf_now_ns() - start) / 1000000ULL >= CG_FREEZE_TIMEOUT_MS)
			return -ETIMEDOUT;
		/* v1 stays FREEZING until every task stopped: write again,
		 * as the kernel doc (freezer-subsystem.rst) suggests */
		if (frozen)
			(void)cg_write(cg->fd[H_FREEZER], "freezer.state",
				       "FROZEN");
		tf_sleep_ms(10);
	}
}

int tf_cgroup_frozen(const struct tf_cgroup *cg, bool *frozen)
{
	uint64_t v;
	int r;

	if (!cg || !frozen)
		return -EINVAL;
	if (cg->fd[H_V2] >= 0) {
		r = cg_read_key(cg->fd[H_V2], "cgroup.events", "frozen", &v);
		if (r < 0)
			return r;
		*frozen = v != 0;
		return 0;
	}
	if (cg->fd[H_FREEZER] >= 0)
		return v1_freezer_state(cg->fd[H_FREEZER], frozen);
	return -EOPNOTSUPP;
}

/* ---- kill ---- */

static int cg_kill_dirs(int fds[H_N])
{
	uint64_t start = tf_now_ns();
	bool have_kill = false;
	int h, r;

	if (fds[H_V2] >= 0) {
		/* cgroup.kill (5.14): kills the whole subtree, frozen tasks
		 * too, with no pid-reuse race */
		r = cg_write(fds[H_V2], "cgroup.kill", "1");
		have_kill = r == 0;
	}
	for (;;) {
		int total = 0;
		bool v2_frozen = false;

		if (!have_kill && fds[H_V2] >= 0) {
			/* before 5.14: freeze so nothing forks while we read
			 * the list, kill, then thaw so the kills land */
			(void)cg_write(fds[H_V2], "cgroup.freeze", "1");
			v2_frozen = true;
		}
		for (h = 0; h < H_N; h++)
			if (fds[h] >= 0)
				(void)cg_signal_tree(fds[h]);
		if (v2_frozen)
			(void)cg_write(fds[H_V2], "cgroup.freeze", "0");
		/* a v1-frozen task dies only once thawed */
		if (fds[H_FREEZER] >= 0)
			(void)cg_write(fds[H_FREEZER], "freezer.state",
				       "THAWED");
		for (h = 0; h < H_N; h++) {
			if (fds[h] < 0)
				continue;
			r = cg_count_tree(fds[h]);
			if (r < 0 && r != -ENOENT)
				return r;
			if (r > 0)
				total += r;
		}
		if (total == 0)
			return 0;
		if ((tf_now_ns() - start) / 1000000ULL >= CG_KILL_TIMEOUT_MS)
			return -ETIMEDOUT;
		tf_sleep_ms(10);
	}
}

int tf_cgroup_kill(struct tf_cgroup *cg)
{
	if (!cg)
		return -EINVAL;
	return cg_kill_dirs(cg->fd);
}

/* ---- handle ---- */

static struct tf_cgroup *cg_new(const char *group, const char *persona)
{
	struct tf_cgroup *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	for (int h = 0; h < H_N; h++)
		cg->fd[h] = -1;
	cg->bpf_prog = -1;
	snprintf(cg->group, sizeof(cg->group), "%s", group);
	snprintf(cg->persona, sizeof(cg->persona), "%s", persona);
	return cg;
}

void tf_cgroup_free(struct tf_cgroup *cg)
{
	if (!cg)
		return;
	for (int h = 0; h < H_N; h++)
		if (cg->fd[h] >= 0)
			close(cg->fd[h]);
	if (cg->bpf_prog >= 0)
		close(cg->bpf_prog);
	free(cg);
}

static void cg_freep(struct tf_cgroup **p)
{
	tf_cgroup_free(*p);
	*p = NULL;
}

int tf_cgroup_v2_fd(const struct tf_cgroup *cg)
{
	return cg ? cg->fd[H_V2] : -1;
}

/* The common start of open and create: check the names, find each
 * hierarchy's base, allocate the handle. On success the caller owns both
 * bases[] and *cg_out. */
static int cg_begin(const char *group, const char *persona, void *out,
		    char *bases[H_N], struct tf_cgroup **cg_out)
{
	struct tf_cgroup *cg;
	enum tf_cg_layout lay;
	int r;

	if (!name_ok(group) || !tf_name_valid(persona) || !out)
		return -EINVAL;
	r = cg_bases(bases, &lay);
	if (r < 0)
		return r;
	cg = cg_new(group, persona);
	if (!cg) {
		bases_free(bases);
		return -ENOMEM;
	}
	cg->layout = lay;
	*cg_out = cg;
	return 0;
}

int tf_cgroup_open(const char *group, const char *persona,
		   struct tf_cgroup **out)
{
	_cleanup_(cg_freep) struct tf_cgroup *cg = NULL;
	char *bases[H_N];
	bool any = false;
	int h, r;

	r = cg_begin(group, persona, out, bases, &cg);
	if (r < 0)
		return r;
	for (h = 0; h < H_N; h++) {
		_cleanup_free_ char *p = NULL;
		if (!bases[h])
			continue;
		if (asprintf(&p, "%s/%s/%s", bases[h], group, persona) < 0) {
			bases_free(bases);
			return -ENOMEM;
		}
		cg->fd[h] = open_dir_at(AT_FDCWD, p);
		if (cg->fd[h] == -ENOENT) {
			cg->fd[h] = -1;
			continue;
		}
		if (cg->fd[h] < 0) {
			r = cg->fd[h];
			cg->fd[h] = -1;
			bases_free(bases);
			return r;
		}
		any = true;
	}
	bases_free(bases);
	if (!any)
		return -ENOENT;
	*out = steal_pointer(&cg);
	return 0;
}

/*
 * Pure v2: a cgroup that has processes cannot give its children controllers
 * (the no-internal-processes rule), and a service manager starts the daemon
 * in the cgroup it delegates (systemd 252 has no DelegateSubgroup=). So the
 * daemon moves itself into a leaf of its own, TF_CG_SELF_LEAF, before it
 * forks anything, and the cgroup it was started in stays the base of the
 * persona cgroups (cg_bases strips the leaf). Not needed in the root
 * cgroup (exempt from the rule) nor on hybrid or v1 hosts (the v2
 * hierarchy there gives no controllers).
 */
int tf_cgroup_enter_leaf(void)
{
	_cleanup_close_ int basefd = -1, leaffd = -1;
	_cleanup_free_ char *sc = NULL;
	char *bases[H_N];
	enum tf_cg_layout lay;
	bool root;
	int r;

	r = tf_cgroup_layout(&lay);
	if (r == -EOPNOTSUPP || (r == 0 && lay != TF_CG_UNIFIED))
		return 0;
	if (r < 0)
		return r;
	r = tf_read_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &sc, NULL);
	if (r < 0)
		return r;
	/* already there (a re-exec) */
	if (strstr(sc, "/" TF_CG_SELF_LEAF "\n"))
		return 0;
	r = cg_bases(bases, &lay);
	if (r < 0)
		return r;
	if (!bases[H_V2]) {
		bases_free(bases);
		return 0;
	}
	/* "0::/" : the root cgroup */
	root = strstr(sc, "0::/\n") != NULL;
	if (!root)
		basefd = open_dir_at(AT_FDCWD, bases[H_V2]);
	bases_free(bases);
	if (root)
		return 0;
	if (basefd < 0)
		return basefd;
	if (mkdirat(basefd, TF_CG_SELF_LEAF, 0755) < 0 && errno != EEXIST)
		return tf_negerrno();
	leaffd = open_dir_at(basefd, TF_CG_SELF_LEAF);
	if (leaffd < 0)
		return leaffd;
	/* "0": the writer's whole process (every thread) */
	r = cg_write(leaffd, "cgroup.procs", "0");
	return r < 0 ? r : 1;
}

/* pure v2: give the child cgroups of dfd the controllers we use */
static int v2_enable_controllers(int dfd)
{
	static const char *const want[] = {"memory", "pids", "cpu"};
	_cleanup_free_ char *avail = NULL;
	int r;

	r = cg_read(dfd, "cgroup.controllers", &avail);
	if (r < 0)
		return r;
	for (size_t i = 0; i < TF_ARRAY_SIZE(want); i++) {
		char buf[16];
		char *s = strstr(avail, want[i]);
		size_t wl = strlen(want[i]);
		/* whole word in the space-separated list */
		while (s && ((s != avail && s[-1] != ' ') ||
			     (s[wl] != '\0' && s[wl] != ' ' && s[wl] != '\n')))
			s = strstr(s + 1, want[i]);
		if (!s)
			continue;
		snprintf(buf, sizeof(buf), "+%s", want[i]);
		r = cg_write(dfd, "cgroup.subtree_control", buf);
		/* EBUSY: base has processes and is not the root (the
		 * no-internal-processes rule); the daemon must run in a
		 * delegated leaf's parent, which the service file sets up */
		if (r < 0)
			return r;
	}
	return 0;
}

static int cg_apply_limits(struct tf_cgroup *cg, const struct tf_cg_limits *l)
{
	int r;

	if (l->memory_max) {
		if (cg->layout == TF_CG_UNIFIED)
			r = cg_write_u64(cg->fd[H_V2], "memory.max",
					 l->memory_max);
		else if (cg->fd[H_MEMORY] >= 0)
			r = cg_write_u64(cg->fd[H_MEMORY],
					 "memory.limit_in_bytes",
					 l->memory_max);
		else
			r = -EOPNOTSUPP;
		if (r < 0)
			return r;
	}
	if (l->pids_max) {
		int fd = cg->layout == TF_CG_UNIFIED ? cg->fd[H_V2]
						     : cg->fd[H_PIDS];
		if (fd < 0)
			return -EOPNOTSUPP;
		r = cg_write_u64(fd, "pids.max", l->pids_max);
		if (r < 0)
			return r;
	}
	if (l->cpu_weight) {
		r = tf_cgroup_set_cpu_weight(cg, l->cpu_weight);
		if (r < 0)
			return r;
	}
	return 0;
}

int tf_cgroup_create(const char *group, const char *persona,
		     const struct tf_cg_limits *lim, struct tf_cgroup **out)
{
	_cleanup_(cg_freep) struct tf_cgroup *cg = NULL;
	char *bases[H_N];
	int basefd[H_N], groupfd[H_N];
	bool made_group[H_N] = {0}, made_persona[H_N] = {0};
	bool any = false;
	int h, r;

	r = cg_begin(group, persona, out, bases, &cg);
	if (r < 0)
		return r;
	for (h = 0; h < H_N; h++)
		basefd[h] = groupfd[h] = -1;

	for (h = 0; h < H_N; h++) {
		if (!bases[h])
			continue;
		basefd[h] = open_dir_at(AT_FDCWD, bases[h]);
		if (basefd[h] < 0) {
			r = basefd[h];
			basefd[h] = -1;
			goto fail;
		}
		if (cg->layout == TF_CG_UNIFIED) {
			r = v2_enable_controllers(basefd[h]);
			if (r < 0)
				goto fail;
		}
		if (mkdirat(basefd[h], group, 0755) == 0)
			made_group[h] = true;
		else if (errno != EEXIST) {
			r = tf_negerrno();
			goto fail;
		}
		groupfd[h] = open_dir_at(basefd[h], group);
		if (groupfd[h] < 0) {
			r = groupfd[h];
			groupfd[h] = -1;
			goto fail;
		}
		if (cg->layout == TF_CG_UNIFIED) {
			r = v2_enable_controllers(groupfd[h]);
			if (r < 0)
				goto fail;
		}
		if (mkdirat(groupfd[h], persona, 0755) < 0) {
			r = tf_negerrno();
			goto fail;
		}
		made_persona[h] = true;
		cg->fd[h] = open_dir_at(groupfd[h], persona);
		if (cg->fd[h] < 0) {
			r = cg->fd[h];
			cg->fd[h] = -1;
			goto fail;
		}
		any = true;
	}
	if (!any) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (lim) {
		r = cg_apply_limits(cg, lim);
		if (r < 0)
			goto fail;
	}
	/* default-deny device policy from the first moment */
	r = tf_cgroup_device_set(cg, NULL, 0);
	if (r < 0 && r != -EOPNOTSUPP)
		goto fail;

	for (h = 0; h < H_N; h++) {
		if (basefd[h] >= 0)
			close(basefd[h]);
		if (groupfd[h] >= 0)
			close(groupfd[h]);
	}
	bases_free(bases);
	*out = steal_pointer(&cg);
	return 0;

fail:
	/* crun habit: never leave a half-made cgroup behind */
	for (h = 0; h < H_N; h++) {
		if (made_persona[h] && groupfd[h] >= 0)
			(void)unlinkat(groupfd[h], persona, AT_REMOVEDIR);
		/* the group only if we made it and it is empty now */
		if (made_group[h] && basefd[h] >= 0)
			(void)unlinkat(basefd[h], group, AT_REMOVEDIR);
		if (basefd[h] >= 0)
			close(basefd[h]);
		if (groupfd[h] >= 0)
			close(groupfd[h]);
	}
	bases_free(bases);
	return r;
}

int tf_cgroup_attach(struct tf_cgroup *cg, pid_t pid)
{
	char buf[16];
	int h, r;

	if (!cg || pid <= 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	/* v1 hierarchies first, the v2 one (freezer, kill) last */
	for (h = H_N - 1; h >= 0; h--) {
		if (cg->fd[h] < 0)
			continue;
		r = cg_write(cg->fd[h], "cgroup.procs", buf);
		if (r < 0)
			return r;
	}
	return 0;
}

int tf_cgroup_destroy(struct tf_cgroup *cg)
{
	char *bases[H_N];
	enum tf_cg_layout lay;
	int h, r, ret = 0;

	if (!cg)
		return 0;
	r = tf_cgroup_kill(cg);
	if (r < 0)
		ret = r;
	r = cg_bases(bases, &lay);
	if (r < 0) {
		tf_cgroup_free(cg);
		return ret ? ret : r;
	}
	for (h = 0; h < H_N; h++) {
		_cleanup_close_ int gfd = -1;
		_cleanup_free_ char *p = NULL;

		if (!bases[h] || cg->fd[h] < 0)
			continue;
		if (asprintf(&p, "%s/%s", bases[h], cg->group) < 0) {
			ret = ret ? ret : -ENOMEM;
			continue;
		}
		gfd = open_dir_at(AT_FDCWD, p);
		if (gfd < 0) {
			if (gfd != -ENOENT && !ret)
				ret = gfd;
			continue;
		}
		r = cg_rmdir_tree(gfd, cg->persona);
		if (r < 0 && !ret)
			ret = r;
		/* the group dir goes with its last persona; EBUSY/ENOTEMPTY
		 * just means another persona still lives there */
		(void)unlinkat(AT_FDCWD, p, AT_REMOVEDIR);
	}
	bases_free(bases);
	tf_cgroup_free(cg);
	return ret;
}

int tf_cgroup_remove_stale(const char *group)
{
	char *bases[H_N];
	int fds[H_N];
	enum tf_cg_layout lay;
	int h, r, ret = 0;

	if (!name_ok(group))
		return -EINVAL;
	/* every slot is -1 before the first one can fail: out closes them all */
	for (h = 0; h < H_N; h++)
		fds[h] = -1;
	r = cg_bases(bases, &lay);
	if (r < 0)
		return r;
	for (h = 0; h < H_N; h++) {
		if (!bases[h])
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", bases[h], group) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		fds[h] = open_dir_at(AT_FDCWD, p);
		if (fds[h] < 0) {
			if (fds[h] != -ENOENT)
				ret = fds[h];
			fds[h] = -1;
		}
	}
	if (ret < 0)
		goto out;
	/* kill the group's whole subtree across hierarchies at once */
	r = cg_kill_dirs(fds);
	if (r < 0)
		ret = r;
	for (h = 0; h < H_N; h++) {
		_cleanup_close_ int bfd = -1;
		if (fds[h] < 0)
			continue;
		bfd = open_dir_at(AT_FDCWD, bases[h]);
		if (bfd < 0) {
			ret = ret ? ret : bfd;
			continue;
		}
		r = cg_rmdir_tree(bfd, group);
		if (r < 0 && !ret)
			ret = r;
	}
out:
	for (h = 0; h < H_N; h++)
		if (fds[h] >= 0)
			close(fds[h]);
	bases_free(bases);
	return ret;
}

int tf_cgroup_set_cpu_weight(struct tf_cgroup *cg, uint32_t weight)
{
	uint64_t shares;

	if (!cg || weight < 1 || weight > 10000)
		return -EINVAL;
	if (cg->layout == TF_CG_UNIFIED)
		return cg_write_u64(cg->fd[H_V2], "cpu.weight", weight);
	if (cg->fd[H_CPU] < 0)
		return -EOPNOTSUPP;
	/* v2 default 100 == v1 default 1024 */
	shares = (uint64_t)weight * 1024 / 100;
	shares = TF_MAX(shares, 2);
	shares = TF_MIN(shares, 262144);
	return cg_write_u64(cg->fd[H_CPU], "cpu.shares", shares);
}

int tf_cgroup_nprocs(const struct tf_cgroup *cg)
{
	int h;

	if (!cg)
		return -EINVAL;
	/* v2 first: it is the hierarchy attach writes last */
	for (h = 0; h < H_N; h++)
		if (cg->fd[h] >= 0)
			return cg_count_tree(cg->fd[h]);
	return -ENOENT;
}

int tf_cgroup_memory_current(const struct tf_cgroup *cg, uint64_t *bytes)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t v;
	int r;

	if (!cg || !bytes)
		return -EINVAL;
	if (cg->layout == TF_CG_UNIFIED)
		r = cg_read(cg->fd[H_V2], "memory.current", &buf);
	else if (cg->fd[H_MEMORY] >= 0)
		r = cg_read(cg->fd[H_MEMORY], "memory.usage_in_bytes", &buf);
	else
		return -EOPNOTSUPP;
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	r = tf_parse_u64(buf, UINT64_MAX, &v);
	if (r < 0)
		return r;
	*bytes = v;
	return 0;
}
