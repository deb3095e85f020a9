/* SPDX-License-Identifier: ISC */
/*
 * Device storage and fscrypt (DESIGN.md "Storage and keys").
 *
 * Device storage is an ext4 filesystem with the `encrypt` feature: either an
 * image file in the state directory that the daemon loop-mounts at start and
 * unmounts at exit, or an existing directory on an fscrypt-capable ext4.
 * Each persona's data directory gets an fscrypt v2 policy (AES-256-XTS
 * contents, AES-256-CTS names, 32-byte name padding). The 64-byte master keys
 * come from the key hierarchy (keys module); this module only does the kernel
 * side: the filesystem keyring ioctls of linux/fscrypt.h.
 *
 * The key lives in the filesystem keyring (one per superblock), not in a
 * process keyring, so which mount namespace a process is in does not matter:
 * once the key is removed, the persona's files read as ENOKEY everywhere.
 *
 * Functions that take err/errlen also write a one-line, human-readable
 * reason there on failure (what failed, on what, what to do); err may be
 * NULL. Everything else follows common.h: 0 or a positive count on success,
 * -errno on failure, outputs written only on success.
 */
#ifndef TWOFOLD_STORAGE_H
#define TWOFOLD_STORAGE_H

#include "twofold/common.h"

#define TF_FSCRYPT_KEY_BYTES 64 /* FSCRYPT_MAX_KEY_SIZE; AES-256-XTS needs 64 */
#define TF_FSCRYPT_ID_BYTES 16	/* FSCRYPT_KEY_IDENTIFIER_SIZE */

/* Default size of the embedded image (allocated in full by init). */
#define TF_STORAGE_IMAGE_DEFAULT_BYTES (UINT64_C(1) << 30)
/* Smallest image we create: ext4 with a journal needs a few MiB. */
#define TF_STORAGE_IMAGE_MIN_BYTES (UINT64_C(16) << 20)

/* ---- the storage: image or directory ---- */

/*
 * Create an image file of `size` bytes, every block allocated on the host
 * (fallocate: a sparse image would fail with EIO when the host fills up) at `path` (O_EXCL: an existing
 * file is never overwritten, -EEXIST) and format it ext4 with the encrypt
 * feature (mkfs.ext4 run with a clean environment). -ENOENT with
 * "mkfs.ext4 not found; install e2fsprogs" when mkfs.ext4 is missing. The
 * partial file is removed on any failure.
 */
TF_EXPORT TF_WUR TF_NONNULL(1) int tf_storage_image_create(const char *path,
							   uint64_t size,
							   char *err,
							   size_t errlen);

/*
 * Allocate the holes of an existing (older, sparse) image so its blocks are
 * reserved on the host. 0 if it was fully allocated already, 1 if it has
 * been allocated now; -ENOSPC with "... needs N MiB more, M MiB are free"
 * when the host lacks the space, -EOPNOTSUPP when its file system cannot
 * allocate.
 */
TF_EXPORT TF_WUR TF_NONNULL(1) int tf_storage_image_allocate(const char *path,
							     char *err,
							     size_t errlen);

struct tf_storage;

/*
 * Attach `image` to a free loop device (auto-clearing: the device goes away
 * by itself with the last unmount, even if the daemon is killed) and mount
 * it at `mountpoint` (an existing directory) as ext4, nosuid, nodev,
 * errors=remount-ro. Refuses (-EINVAL) an image without the ext4 encrypt
 * feature. -ENXIO "no free loop device" when none can be had (-EBUSY when
 * every free one was taken by someone else first, 16 times). Never leaves
 * a loop device attached on failure.
 */
TF_EXPORT TF_WUR TF_NONNULL(1, 2,
			    3) int tf_storage_attach(const char *image,
						     const char *mountpoint,
						     struct tf_storage **out,
						     char *err, size_t errlen);

/*
 * Use an existing directory on an fscrypt-capable ext4 (`--storage DIR`).
 * Checks it is ext4 (-EINVAL), that the filesystem has the encrypt feature
 * (-EOPNOTSUPP: "tune2fs -O encrypt"), and that the directory itself is not
 * encrypted (-EEXIST: persona directories need their own policies).
 */
TF_EXPORT TF_WUR TF_NONNULL(1, 2) int tf_storage_attach_dir(
	const char *dir, struct tf_storage **out, char *err, size_t errlen);

/* The mounted (or given) directory, and an O_DIRECTORY fd on it. */
TF_EXPORT TF_NONNULL(1) const char *tf_storage_root(const struct tf_storage *s);
TF_EXPORT TF_NONNULL(1) int tf_storage_root_fd(const struct tf_storage *s);

/*
 * Sync and unmount (image) or just close (directory), then free. Accepts
 * NULL. Always frees. Returns -EBUSY if the filesystem was still in use
 * after a few tries: it has then been lazily detached (MNT_DETACH) and the
 * loop device clears itself when the last user goes away.
 */
TF_EXPORT int tf_storage_detach(struct tf_storage *s);

/*
 * Daemon start after a crash (kill -9): if something is mounted on
 * `mountpoint`, unmount it (lazily if busy) so the auto-clearing loop
 * device goes away. Returns the number of mounts removed (0: nothing was
 * mounted there).
 */
TF_EXPORT TF_WUR
	TF_NONNULL(1) int tf_storage_cleanup_stale(const char *mountpoint);

/* Bytes available to the daemon (f_bavail * f_bsize). */
TF_EXPORT TF_WUR TF_NONNULL(1, 2) int tf_storage_free_bytes(
	const struct tf_storage *s, uint64_t *out);

/* ---- fscrypt v2 (linux/fscrypt.h); fs_fd: any fd on the filesystem ---- */

/*
 * FS_IOC_ADD_ENCRYPTION_KEY with a v2 key identifier. The kernel derives the
 * identifier from the key (HKDF-SHA512), so the same key always gives the
 * same id; adding a key already present is not an error. The key is copied
 * through secure memory and wiped.
 */
TF_EXPORT TF_WUR TF_NONNULL(2, 3) int tf_fscrypt_add_key(
	int fs_fd, const uint8_t key[static TF_FSCRYPT_KEY_BYTES],
	uint8_t id[static TF_FSCRYPT_ID_BYTES]);

/*
 * Give the empty directory dir_fd the v2 policy (AES-256-XTS, AES-256-CTS,
 * PAD_32) for key `id`, which must be present in the filesystem keyring
 * (-ENOKEY otherwise; checked here because the kernel waives that check for
 * CAP_FOWNER callers such as the daemon).
 * 0 if the directory already has exactly this policy; -EEXIST if it has a
 * different one; -ENOTEMPTY if it is an unencrypted non-empty directory.
 */
TF_EXPORT TF_WUR TF_NONNULL(2) int tf_fscrypt_set_policy(
	int dir_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES]);

/* Key identifier of dir_fd's v2 policy. -ENODATA if unencrypted,
 * -EPROTONOSUPPORT if it has a v1 policy (which has no identifier). */
TF_EXPORT TF_WUR TF_NONNULL(2) int tf_fscrypt_get_policy_id(
	int dir_fd, uint8_t id[static TF_FSCRYPT_ID_BYTES]);

/* Values of FSCRYPT_KEY_STATUS_* */
enum tf_key_status {
	TF_KEY_ABSENT = 1,
	TF_KEY_PRESENT = 2,
	TF_KEY_INCOMPLETELY_REMOVED = 3,
};

TF_EXPORT TF_WUR TF_NONNULL(2, 3) int tf_fscrypt_key_status(
	int fs_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES],
	enum tf_key_status *st);

/*
 * FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS (needs CAP_SYS_ADMIN). On success
 * *files_busy (if not NULL) tells whether some file was still in use, so the
 * key is only "incompletely removed" and a retry is needed. -ENOKEY if the
 * key was not present.
 */
TF_EXPORT TF_WUR TF_NONNULL(2) int tf_fscrypt_remove_key(
	int fs_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES],
	bool *files_busy);

/* What an evict did, for the caller's message and state. */
struct tf_fscrypt_evict_info {
	unsigned tries;		   /* removals attempted */
	int sync_err;		   /* 0, or -errno of the syncfs before them */
	int remove_err;		   /* 0, or the last -errno of a removal */
	enum tf_key_status status; /* last status read (0: unreadable) */
};

/*
 * The lock-down loop of an evict: sync the filesystem, remove the key, and
 * while its status is not ABSENT (a file is still open: the caller has
 * killed the persona's processes, but their exit may lag) sleep with backoff
 * (0.5 ms doubling, at most 100 ms) and remove again, at most max_tries
 * removals and, if budget_ms is not 0, for at most budget_ms.
 *
 * Fail closed: a failing syncfs (EIO when the host file system under the
 * image is full) or a failing removal never skips the next removal; every
 * error is recorded in *info. Returns 0 only when the key is ABSENT and
 * nothing failed; otherwise the first error (sync, removal), or -EBUSY if
 * the key is still INCOMPLETELY_REMOVED (files busy) when the tries or the
 * budget run out. *info is always written: info->status == TF_KEY_ABSENT
 * says whether the key is gone whatever the return value.
 */
TF_EXPORT TF_WUR TF_NONNULL(2, 5) int tf_fscrypt_evict_ex(
	int fs_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES],
	unsigned max_tries, unsigned budget_ms,
	struct tf_fscrypt_evict_info *info);

/* tf_fscrypt_evict_ex without a time budget; on success *tries_out (may be
 * NULL) gets the number of removals used. */
TF_EXPORT TF_WUR TF_NONNULL(2) int tf_fscrypt_evict(
	int fs_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES],
	unsigned max_tries, unsigned *tries_out);

#endif
