/* SPDX-License-Identifier: ISC */
/*
 * Is the state directory on a file system where crypto-erase cannot be
 * dependable? ext3/ext4 with data=journal writes file data through the
 * journal, so the old content of an overwritten key file stays there until
 * the journal wraps (the right PIN then still opened an erased persona's
 * data). Crypto-free: `twofold init` warns too, and the CLI links only
 * tf_base.
 */
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "twofold/keys.h"
#include "twofold/mountinfo.h"

static int journals_cb(const struct tf_mountinfo *m, void *ud)
{
	const dev_t *dev = ud;

	/* the super options are the file system's (every mount of it
	 * shows the same): the first mount of the device decides */
	if (makedev(m->major, m->minor) != *dev)
		return 0;
	return (!strcmp(m->fstype, "ext4") || !strcmp(m->fstype, "ext3")) &&
			       tf_opt_has(m->super_opts, "data=journal")
		       ? 1
		       : 2;
}

int tf_keys_fs_journals_data(int dirfd)
{
	struct stat st;
	int r;

	if (fstat(dirfd, &st) < 0)
		return tf_negerrno();
	r = tf_mountinfo_foreach(journals_cb, &st.st_dev);
	return r < 0 ? r : r == 1;
}
