/* SPDX-License-Identifier: ISC */
/*
 * Services that keep running while the persona is screen-locked (issue 15
 * item 6: twofold-comms must still receive and answer a message while the
 * screen is locked; an evict still kills it).
 *
 * cgroup v2 freezing is hierarchical: a task below a cgroup whose
 * cgroup.freeze is 1 is frozen whatever its own cgroup says
 * (Documentation/admin-guide/cgroup-v2.rst, "cgroup.freeze"). So an exempt
 * service cannot live below a frozen persona root. Instead it lives in a
 * leaf <persona v2 cgroup>/keep-NAME, and while any keep-* exists a lock
 * freezes every *other* child of the root one by one (run-*, app-*, the
 * spares) instead of the root itself. What is then left running:
 *
 *   - keep-*: services the daemon started there (only the daemon: their
 *     cgroup.procs is the persona root's, an app is never that uid and
 *     the persona has no cgroupfs mounted);
 *   - the root's own processes: only the persona's init and the daemon's
 *     launcher, both trusted code. Every app run is cloned straight into
 *     run-<n> or app-NAME/run-<n> (CLONE_INTO_CGROUP, run.c), and a run is
 *     refused while the persona is frozen or freezing (lifecycle.c).
 *
 * A child made while its siblings are frozen (a spare made ahead, an
 * app's first cgroup) is frozen as it is made, so that "frozen" stays
 * true for everything but keep-*. A thaw writes 0 everywhere. Without a
 * keep-* cgroup nothing here changes a lock: the root is frozen as
 * before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define KEEP_PREFIX "keep-"
/* as tf_cgroup_freeze() waits */
#define KEEP_FREEZE_TIMEOUT_MS 5000

static bool keep_name(const char *n)
{
	return strncmp(n, KEEP_PREFIX, strlen(KEEP_PREFIX)) == 0;
}

static bool svc_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > TF_PERSONA_APP_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	return true;
}

int tf_persona_keep_cgroup(struct tf_persona *p, const char *name, int *fd)
{
	_cleanup_close_ int d = -1;
	char dir[TF_PERSONA_APP_NAME_MAX + 8];
	int cg;

	if (!p || !fd || !svc_ok(name))
		return -EINVAL;
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	snprintf(dir, sizeof(dir), KEEP_PREFIX "%s", name);
	if (mkdirat(cg, dir, 0755) < 0 && errno != EEXIST)
		return tf_negerrno();
	/* cgroup.procs the persona root's, as a run cgroup's: the launcher
	 * clones the service into it (CLONE_INTO_CGROUP) */
	d = openat(cg, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0 || fchownat(d, "cgroup.procs", p->uid_base, p->uid_base,
			      AT_SYMLINK_NOFOLLOW) < 0) {
		int r = tf_negerrno();
		(void)unlinkat(cg, dir, AT_REMOVEDIR);
		return r;
	}
	/* made while the persona runs (start, unlock): a keep cgroup
	 * made under a frozen root would be frozen with it */
	*fd = steal_fd(&d);
	return 0;
}

int tf_persona_keep_end(struct tf_persona *p, const char *name)
{
	_cleanup_close_ int d = -1;
	char dir[TF_PERSONA_APP_NAME_MAX + 8];
	int cg;

	if (!p || !svc_ok(name))
		return -EINVAL;
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	snprintf(dir, sizeof(dir), KEEP_PREFIX "%s", name);
	d = openat(cg, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return errno == ENOENT ? 0 : tf_negerrno();
	(void)tf_cgroup_write(d, "cgroup.kill", "1");
	/* usually still populated for a moment: the next call removes it */
	if (unlinkat(cg, dir, AT_REMOVEDIR) < 0 && errno != ENOENT &&
	    errno != EBUSY)
		return tf_negerrno();
	return 0;
}

static int find_keep(int parent, const char *name, void *ud)
{
	(void)parent;
	if (keep_name(name)) {
		*(bool *)ud = true;
		return 0;
	}
	return 0;
}

bool tf_persona_has_keep(const struct tf_persona *p)
{
	bool found = false;
	int cg = p ? tf_cgroup_v2_fd(p->cg) : -1;

	if (cg < 0)
		return false;
	(void)tf_cgroup_for_each_child(cg, find_keep, &found);
	return found;
}

struct kids {
	const char *val; /* "0" or "1"; NULL: check */
	bool all_frozen;
	int err;
};

static int read_frozen_at(int dfd, bool *frozen)
{
	_cleanup_close_ int fd =
		openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	char buf[256];
	const char *k;
	ssize_t n;

	if (fd < 0)
		return tf_negerrno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return tf_negerrno();
	buf[n] = '\0';
	for (k = strstr(buf, "frozen "); k != NULL;
	     k = strstr(k + 1, "frozen "))
		if (k == buf || k[-1] == '\n')
			break;
	if (k == NULL)
		return -EPROTO;
	*frozen = k[7] == '1';
	return 0;
}

static int each_kid(int parent, const char *name, void *ud)
{
	_cleanup_close_ int d = -1;
	struct kids *k = ud;
	bool frozen = false;
	int r;

	/* keep-* is never frozen nor waited for; a thaw writes 0 to it
	 * too, which changes nothing */
	if (keep_name(name) && (k->val == NULL || k->val[0] == '1'))
		return 0;
	d = openat(parent, name,
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0) {
		/* removed meanwhile (a run that ended) */
		if (errno != ENOENT && k->err == 0)
			k->err = tf_negerrno();
		return 0;
	}
	if (k->val != NULL) {
		r = tf_cgroup_write(d, "cgroup.freeze", k->val);
		if (r < 0 && r != -ENOENT && k->err == 0)
			k->err = r;
		return 0;
	}
	r = read_frozen_at(d, &frozen);
	if (r == 0 && !frozen)
		k->all_frozen = false;
	return 0;
}

int tf_persona_freeze_write(struct tf_persona *p, bool frozen)
{
	struct kids k = {.val = frozen ? "1" : "0"};
	int cg, r;

	if (!p)
		return -EINVAL;
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	if (!frozen) {
		/* everything, whichever way it was frozen */
		(void)tf_cgroup_for_each_child(cg, each_kid, &k);
		p->kids_frozen = false;
		return tf_cgroup_write(cg, "cgroup.freeze", "0");
	}
	if (!tf_persona_has_keep(p)) {
		p->kids_frozen = false;
		return tf_cgroup_write(cg, "cgroup.freeze", "1");
	}
	/* set first: a child made from now on is frozen as it is made */
	p->kids_frozen = true;
	r = tf_cgroup_for_each_child(cg, each_kid, &k);
	return r < 0 ? r : k.err;
}

bool tf_persona_freeze_per_child(const struct tf_persona *p)
{
	return p && p->kids_frozen;
}

int tf_persona_frozen(const struct tf_persona *p, bool *frozen)
{
	struct kids k = {.val = NULL, .all_frozen = true};
	int cg, r;

	if (!p || !frozen)
		return -EINVAL;
	if (!p->kids_frozen)
		return tf_cgroup_frozen(p->cg, frozen);
	cg = tf_cgroup_v2_fd(p->cg);
	if (cg < 0)
		return -EOPNOTSUPP;
	r = tf_cgroup_for_each_child(cg, each_kid, &k);
	if (r < 0)
		return r;
	*frozen = k.all_frozen;
	return 0;
}

int tf_p_keep_new_child(struct tf_persona *p, int dfd)
{
	if (!p->kids_frozen)
		return 0;
	return tf_cgroup_write(dfd, "cgroup.freeze", "1");
}

int tf_p_keep_freeze_wait(struct tf_persona *p, bool frozen)
{
	uint64_t t0 = tf_now_ns();
	int r;

	r = tf_persona_freeze_write(p, frozen);
	if (r < 0)
		return r;
	if (!frozen || !p->kids_frozen)
		return tf_cgroup_freeze(p->cg, frozen);
	for (;;) {
		bool f = false;

		r = tf_persona_frozen(p, &f);
		if (r < 0)
			return r;
		if (f)
			return 0;
		if ((tf_now_ns() - t0) / 1000000ull >= KEEP_FREEZE_TIMEOUT_MS)
			return -ETIMEDOUT;
		tf_sleep_ms(5);
	}
}
