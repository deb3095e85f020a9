/* SPDX-License-Identifier: ISC */
/*
 * Destroying key files (overwrite + secure discard of the file's blocks,
 * as Android's secdiscard) and the crypto-erase order (erased flag,
 * destroy, then the event). docs/keys.md "Crypto-erase".
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "src/lib/keys/internal.h"

/* ------------------------------------------------------ the block device */

/* The block device node whose st_rdev is dev, opened for writing (the
 * discard ioctls need FMODE_WRITE). /dev/block/M:m where udev made it,
 * else /dev/<DEVNAME> from sysfs; the node is checked to be that device,
 * so a stray file by that name is never "discarded". */
static int open_bdev(dev_t dev, int *out)
{
	_cleanup_free_ char *uevent = NULL;
	char path[96], name[64];
	_cleanup_close_ int fd = -1;
	struct stat st;
	const char *p;
	size_t len, n = 0;
	int r;

	if (major(dev) == 0)
		return -ENODEV; /* anonymous (tmpfs, btrfs subvolume, ...) */
	snprintf(path, sizeof(path), "/dev/block/%u:%u", major(dev),
		 minor(dev));
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent",
			 major(dev), minor(dev));
		r = tf_read_file_at(AT_FDCWD, path, 4096, &uevent, &len);
		if (r < 0)
			return -ENODEV;
		p = strstr(uevent, "DEVNAME=");
		if (p == NULL)
			return -ENODEV;
		for (p += 8; *p != '\0' && *p != '\n' && n + 1 < sizeof(name);
		     p++)
			name[n++] = *p;
		name[n] = '\0';
		if (n == 0 || strstr(name, "..") != NULL)
			return -ENODEV;
		snprintf(path, sizeof(path), "/dev/%s", name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
		if (fd < 0)
			return -ENODEV;
	}
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISBLK(st.st_mode) || st.st_rdev != dev)
		return -ENODEV;
	*out = steal_fd(&fd);
	return 0;
}

/* Extents whose physical address is not the file's own block range:
 * discarding them could hit other data (shared, inline, tail-packed) or
 * nothing sensible (not yet allocated, encoded). */
#define EXTENT_UNSAFE                                                          \
	(FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |                      \
	 FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED |                \
	 FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE |               \
	 FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_SHARED)
#define EXTENTS_MAX 64

/*
 * Discard the physical blocks of the (already overwritten and fsync'd)
 * file fd on the block device of its file system: BLKSECDISCARD, else
 * BLKDISCARD, else nothing. *how says which; "not supported here" (no
 * block device, loop without secure erase, FIEMAP unsupported, an extent
 * that is not the file's own) is not an error, only a weaker *how. An
 * error of a supported discard is returned: the file is kept and the
 * destroy is tried again at the next access.
 */
static int discard_extents(int fd, enum tf_destroy_how *how)
{
	_cleanup_free_ struct fiemap *fm = NULL;
	_cleanup_close_ int bfd = -1;
	unsigned long req = BLKSECDISCARD;
	struct stat st;
	int r;

	*how = TF_DESTROY_OVERWRITE;
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (st.st_size == 0)
		return 0;
	fm = calloc(1,
		    sizeof(*fm) + EXTENTS_MAX * sizeof(struct fiemap_extent));
	if (fm == NULL)
		return -ENOMEM;
	fm->fm_start = 0;
	fm->fm_length = FIEMAP_MAX_OFFSET;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = EXTENTS_MAX;
	if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0)
		return 0; /* EOPNOTSUPP (tmpfs, ...): overwrite only */
	if (fm->fm_mapped_extents == 0 ||
	    !(fm->fm_extents[fm->fm_mapped_extents - 1].fe_flags &
	      FIEMAP_EXTENT_LAST))
		return 0; /* a 4 KiB key file in 64 extents: not ours */
	for (uint32_t i = 0; i < fm->fm_mapped_extents; i++)
		if (fm->fm_extents[i].fe_flags & EXTENT_UNSAFE)
			return 0;
	if (open_bdev(st.st_dev, &bfd) < 0)
		return 0;
	for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
		uint64_t range[2] = {fm->fm_extents[i].fe_physical,
				     fm->fm_extents[i].fe_length};
		while (ioctl(bfd, req, range) < 0) {
			if (errno == EINTR)
				continue;
			r = tf_negerrno();
			if (r != -EOPNOTSUPP && r != -ENOTTY && r != -EINVAL)
				return r;
			/* EINVAL: not aligned to the device's discard unit */
			if (req == BLKDISCARD || r == -EINVAL)
				return 0; /* neither: the overwrite stands */
			req = BLKDISCARD; /* loop, most VMs: plain discard */
		}
	}
	*how = req == BLKSECDISCARD ? TF_DESTROY_SECDISCARD
				    : TF_DESTROY_DISCARD;
	return 0;
}

/* ------------------------------------------------------- destroying */

static int overwrite(int fd, off_t size)
{
	uint8_t junk[4096];
	off_t off = 0;
	int r;

	while (off < size) {
		size_t n = (size_t)TF_MIN((off_t)sizeof(junk), size - off);
		ssize_t w;

		r = tf_random(junk, n);
		if (r < 0)
			return r;
		if (tf_fault_injected("erase-write-eio")) {
			errno = EIO;
			w = -1;
		} else {
			w = pwrite(fd, junk, n, off);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return tf_negerrno();
		if (w == 0)
			return -EIO;
		off += w; /* a short write continues where it stopped */
	}
	while (fsync(fd) < 0)
		if (errno != EINTR)
			return tf_negerrno();
	return 0;
}

/*
 * Overwrite in place with random bytes, fsync, discard the file's blocks
 * (discard_extents), unlink, fsync the directory. Any failure before the
 * unlink keeps the file, so the next attempt (the erased flag, or the
 * generation in sp.credential, says it is dead) destroys it again. On
 * flash the overwrite may land elsewhere (FTL) and a journal may keep old
 * copies (ext4 data=journal: tf_keys_fs_check); that is why the KEK also
 * depends on the discardable file: a stale copy of a wrapped SP is useless
 * once any one input is gone.
 */
int tf_ks_destroy_file_how(int dfd, const char *name, enum tf_destroy_how *how)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	*how = TF_DESTROY_NONE;
	/* O_NONBLOCK: a FIFO planted here must not hang the erase (ENXIO
	 * without a reader; it is then only unlinked) */
	fd = openat(dfd, name,
		    O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd >= 0) {
		if (fstat(fd, &st) < 0)
			return tf_negerrno();
		if (S_ISREG(st.st_mode)) {
			r = overwrite(fd, st.st_size);
			if (r < 0)
				return r;
			r = discard_extents(fd, how);
			if (r < 0)
				return r;
		}
	}
	/* a symlink or other non-regular entry (ELOOP...): only unlinked */
	if (unlinkat(dfd, name, 0) < 0)
		return errno == ENOENT ? 0 : tf_negerrno();
	return tf_fsync_dir_at(dfd, NULL);
}

int tf_ks_destroy_file(int dfd, const char *name)
{
	enum tf_destroy_how how;

	return tf_ks_destroy_file_how(dfd, name, &how);
}

/* the weakest method used so far (NONE: no file yet) */
static void how_merge(enum tf_destroy_how *acc, enum tf_destroy_how h)
{
	if (h != TF_DESTROY_NONE && (*acc == TF_DESTROY_NONE || h < *acc))
		*acc = h;
}

/* Remove every file of the persona but the throttle record; *how is the
 * weakest method used (TF_DESTROY_NONE if there was nothing left). Goes on
 * after a failure and returns the first error. */
int tf_ks_destroy_key_files_how(int dfd, enum tf_destroy_how *how)
{
	_cleanup_closedir_ DIR *d = NULL;
	enum tf_destroy_how h;
	struct dirent *de;
	int r, ret = 0;

	*how = TF_DESTROY_NONE;
	/* discardable first: once it is gone, SP is unrecoverable (every
	 * generation's discardable is among the files below too) */
	r = tf_ks_destroy_file_how(dfd, F_DISCARD, &h);
	if (r < 0)
		ret = r;
	how_merge(how, h);
	r = tf_opendir_at(dfd, ".", false, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, F_THROTTLE))
			continue;
		r = tf_ks_destroy_file_how(dfd, de->d_name, &h);
		if (r < 0 && ret == 0)
			ret = r;
		how_merge(how, h);
	}
	r = tf_fsync_dir_at(dfd, NULL);
	return ret < 0 ? ret : r;
}

int tf_ks_destroy_key_files(int dfd)
{
	enum tf_destroy_how how;

	return tf_ks_destroy_key_files_how(dfd, &how);
}

/*
 * Order: (1) the erased flag is durable (from then on nothing unlocks, and
 * every later access resumes the job: tf_ks_load_state); (2) undefine the
 * TPM slots, destroy the key files, every error checked and returned; (3)
 * only then the event,
 * and the flag's "not yet recorded" bit is cleared. A crash or a failed
 * destroy leaves the flag and the bit set, so the event is never written
 * for an erase that has not happened, nor lost for one that has.
 */
int tf_ks_do_erase(struct tf_keystore *ks, int dfd, const char *persona,
		   struct tf_throttle_rec *t, const char *event,
		   const char *what)
{
	enum tf_destroy_how how;
	int r;

	if (!t->erased) {
		t->erased = true;
		t->unrecorded = true;
		r = tf_ks_throttle_store(dfd, t);
		if (r < 0)
			return r;
	}
	tf_fault_point("erase-after-flag");
	/* the TPM slot first: its file (tpm.slot) names the NV index
	 * (docs/keys.md "Crypto-erase") */
	r = tf_ks_tpm_drop_slots(ks, dfd);
	if (r < 0)
		return r;
	r = tf_ks_destroy_key_files_how(dfd, &how);
	if (r < 0)
		return r;
	if (how != TF_DESTROY_NONE)
		ks->last_destroy = how;
	if (!t->unrecorded)
		return 0;
	r = tf_ks_log_event(ks, persona, event, what);
	if (r < 0)
		return r;
	t->unrecorded = false;
	return tf_ks_throttle_store(dfd, t);
}

const char *tf_keys_destroy_method(const struct tf_keystore *ks)
{
	switch (ks->last_destroy) {
	case TF_DESTROY_SECDISCARD: return "overwrite+secdiscard";
	case TF_DESTROY_DISCARD: return "overwrite+discard";
	case TF_DESTROY_OVERWRITE: return "overwrite";
	case TF_DESTROY_NONE: break;
	}
	return "none";
}
