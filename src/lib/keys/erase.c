/* SPDX-License-Identifier: ISC */
/*
 * Crypto-erase: destroying a persona's key files and the erase order
 * (erased flag, event, files). docs/keys.md "Crypto-erase".
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "src/lib/keys/internal.h"

/* Overwrite in place, fsync, unlink. On flash the overwrite may land
 * elsewhere (FTL); that is why the KEK also depends on the discardable file:
 * a stale copy of a wrapped SP is useless once any one input is gone. */
int tf_ks_destroy_file(int dfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	uint8_t junk[4096];
	struct stat st;
	int r;

	fd = openat(dfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t off = 0;
		while (off < st.st_size) {
			size_t n = (size_t)TF_MIN((off_t)sizeof(junk),
						  st.st_size - off);
			if (tf_random(junk, n) < 0 ||
			    pwrite(fd, junk, n, off) != (ssize_t)n)
				break;
			off += (off_t)n;
		}
		(void)fsync(fd);
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
		r = tf_negerrno();
		return r;
	}
	return 0;
}

/* Remove every file of the persona but the throttle record. */
int tf_ks_destroy_key_files(int dfd)
{
	_cleanup_close_ int dup_fd = -1;
	DIR *d;
	struct dirent *de;
	int r, ret = 0;

	/* discardable first: once it is gone, SP is unrecoverable */
	r = tf_ks_destroy_file(dfd, F_DISCARD);
	if (r < 0)
		ret = r;
	dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return tf_negerrno();
	d = fdopendir(dup_fd);
	if (d == NULL)
		return tf_negerrno();
	dup_fd = -1; /* owned by d now */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, F_THROTTLE))
			continue;
		r = tf_ks_destroy_file(dfd, de->d_name);
		if (r < 0 && ret == 0)
			ret = r;
	}
	closedir(d);
	r = tf_fsync_dir_at(dfd, NULL);
	return ret < 0 ? ret : r;
}
/* Order: the erased flag is durable first (from then on nothing unlocks
 * and the next access finishes the job), then the event, then the files. */
int tf_ks_do_erase(struct tf_keystore *ks, int dfd, const char *persona,
		   struct tf_throttle_rec *t, const char *what)
{
	int r;

	if (!t->erased) {
		t->erased = true;
		r = tf_ks_throttle_store(dfd, t);
		if (r < 0)
			return r;
		r = tf_ks_log_event(ks, persona, what);
		if (r < 0)
			return r;
	}
	/* the TPM slot first (docs/keys.md "Crypto-erase") */
	r = tf_ks_tpm_drop_slots(ks, dfd);
	if (r < 0)
		return r;
	return tf_ks_destroy_key_files(dfd);
}
