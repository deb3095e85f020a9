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

#include "twofold/sandbox.h"

/* The super options of the cgroup2 mount at path, from mountinfo. */
static int super_opts(const char *path, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int r = -ENOENT;

	if (f == NULL)
		return tf_negerrno();
	while (fgets(line, sizeof(line), f)) {
		char mnt[1024], *sep, fstype[64], src[256], opts[1024];
		/* id parent maj:min root MOUNTPOINT opts [tags] - type src sopts */
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
		    strcmp(mnt, path) != 0)
			continue;
		sep = strstr(line, " - ");
		if (sep == NULL ||
		    sscanf(sep + 3, "%63s %255s %1023s", fstype, src, opts) !=
			    3 ||
		    strcmp(fstype, "cgroup2") != 0)
			continue;
		r = tf_strlcpy(out, opts, cap);
		break;
	}
	fclose(f);
	return r;
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
