/* SPDX-License-Identifier: ISC */
/*
 * Is the state directory on a file system where crypto-erase cannot be
 * dependable? ext3/ext4 with data=journal writes file data through the
 * journal, so the old content of an overwritten key file stays there until
 * the journal wraps (the right PIN then still opened an erased persona's
 * data). Crypto-free: `twofold init` warns too, and the CLI links only
 * tf_base.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "twofold/keys.h"

/* the comma-separated option opt is in opts */
static bool has_opt(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

int tf_keys_fs_journals_data(int dirfd)
{
	FILE *f;
	char line[4096];
	struct stat st;
	int r = 0;

	if (fstat(dirfd, &st) < 0)
		return tf_negerrno();
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return tf_negerrno();
	while (fgets(line, sizeof(line), f)) {
		char fstype[64], src[256], opts[2048], *sep;
		unsigned maj, min;
		/* id parent MAJ:MIN root mountpoint opts [tags] - type src
		 * super-options; the super options are the file system's
		 * (every mount of it shows the same) */
		if (sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 ||
		    makedev(maj, min) != st.st_dev)
			continue;
		sep = strstr(line, " - ");
		if (sep == NULL || sscanf(sep + 3, "%63s %255s %2047s", fstype,
					  src, opts) != 3)
			continue;
		if ((!strcmp(fstype, "ext4") || !strcmp(fstype, "ext3")) &&
		    has_opt(opts, "data=journal"))
			r = 1;
		break;
	}
	fclose(f);
	return r;
}
