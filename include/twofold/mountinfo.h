/* SPDX-License-Identifier: ISC */
/*
 * The one /proc/self/mountinfo parser (proc(5)):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   id parent maj:min root mount-point mount-opts [optional...] - fstype source super-opts
 *
 * The kernel writes this file, so it is trusted for content but still read
 * with bounds: a line longer than TF_MOUNTINFO_LINE_MAX is skipped whole,
 * and a line that does not have the shape above is skipped. Fields are
 * split on single spaces (an empty source stays an empty field) and keep
 * the kernel's octal escapes (\040 for a space, \134 for a backslash).
 */
#ifndef TWOFOLD_MOUNTINFO_H
#define TWOFOLD_MOUNTINFO_H

#include "twofold/common.h"

/* Longer than any real line: two escaped paths of PATH_MAX would be more,
 * and such a mount is never one twofold looks for. */
#define TF_MOUNTINFO_LINE_MAX 16384

struct tf_mountinfo {
	unsigned id, parent, major, minor;
	const char *root;	 /* of the mount within its file system */
	const char *mount_point; /* escaped as the kernel wrote it */
	const char *mount_opts;	 /* per-mount options (rw,nosuid,...) */
	const char *fstype;
	const char *source;	/* may be "" */
	const char *super_opts; /* the file system's options */
};

/* Split one line (without or with its trailing newline) in place; the
 * strings in out point into line. 0, or -EINVAL if it is not a mountinfo
 * line. */
TF_EXPORT TF_WUR int tf_mountinfo_parse_line(char *line,
					     struct tf_mountinfo *out)
	TF_NONNULL(1, 2);

/* Call fn for each mount in /proc/self/mountinfo, in file order. fn returns
 * 0 to go on; anything else stops the walk and is returned. 0 at the end,
 * -errno if the file cannot be read. */
TF_EXPORT TF_WUR int
tf_mountinfo_foreach(int (*fn)(const struct tf_mountinfo *m, void *ud),
		     void *ud) TF_NONNULL(1);

/* Is the comma-separated option opt in opts (whole words only)? */
TF_EXPORT bool tf_opt_has(const char *opts, const char *opt) TF_NONNULL(2);

#endif
