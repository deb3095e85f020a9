/* SPDX-License-Identifier: ISC */
/*
 * cgroup "favordynmods" (kernel >= 6.0). Every migration of a task into a
 * cgroup v1 hierarchy takes the global cgroup_threadgroup_rwsem for
 * writing; in its default mode that waits for an RCU grace period, which on
 * the 6.18 kernel here costs 11-16 ms for the first write after a quiet
 * spell. A persona start (and so an unlock) needs such writes on hybrid
 * hosts. favordynmods switches the rwsem to the mode that makes writers
 * cheap and fork/exit slightly dearer: the trade-off the kernel documents
 * for exactly this kind of runtime. It is host-wide, so twofoldd only sets
 * it when device.conf asks (cgroup_favor_dynmods = yes).
 */
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "twofold/mountinfo.h"
#include "twofold/sandbox.h"

struct super_opts_q {
	const char *path;
	char *out;
	size_t cap;
};

static int super_opts_cb(const struct tf_mountinfo *m, void *ud)
{
	const struct super_opts_q *q = ud;
	int r;

	if (strcmp(m->mount_point, q->path) != 0 ||
	    strcmp(m->fstype, "cgroup2") != 0)
		return 0;
	r = tf_strlcpy(q->out, m->super_opts, q->cap);
	return r < 0 ? r : 1;
}

/* The super options of the cgroup2 mount at path, from mountinfo. */
static int super_opts(const char *path, char *out, size_t cap)
{
	struct super_opts_q q = {path, out, cap};
	int r = tf_mountinfo_foreach(super_opts_cb, &q);

	return r == 1 ? 0 : r < 0 ? r : -ENOENT;
}

int tf_cgroup_favor_dynmods(void)
{
	enum tf_cg_layout lay;
	const char *path;
	char opts[1024], data[1100];
	int r;

	r = tf_cgroup_layout(&lay);
	if (r < 0)
		return r;
	path = lay == TF_CG_UNIFIED ? "/sys/fs/cgroup"
				    : "/sys/fs/cgroup/unified";
	r = super_opts(path, opts, sizeof(opts));
	if (r < 0)
		return r;
	if (strstr(opts, "favordynmods") != NULL)
		return 0;
	/* keep every flag the mount has (nsdelegate, memory_recursiveprot,
	 * ...): a reconfigure replaces the whole set */
	if (strcmp(opts, "rw") == 0)
		snprintf(data, sizeof(data), "favordynmods");
	else
		snprintf(data, sizeof(data), "%s,favordynmods",
			 strncmp(opts, "rw,", 3) == 0 ? opts + 3 : opts);
	if (mount(NULL, path, NULL, MS_REMOUNT, data) < 0)
		return tf_negerrno();
	return 1;
}
