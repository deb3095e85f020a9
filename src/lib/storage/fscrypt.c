/* SPDX-License-Identifier: ISC */
/*
 * fscrypt v2 through the filesystem-keyring ioctls (kernel
 * Documentation/filesystems/fscrypt.rst, "User API"). There is no library
 * for this on Debian 12 except the Go fscrypt tool, and the ioctls are a few
 * fixed-size structs, so we call them directly.
 *
 * Why v2 and the filesystem keyring: v1 policies put the key in a process
 * keyring, so visibility depends on which process (and which keyring) looks,
 * and removing it does not lock files already open. A v2 key is added to the
 * superblock's keyring, identified by a hash of the key itself, and
 * FS_IOC_REMOVE_ENCRYPTION_KEY evicts the inodes and wipes the per-file keys.
 */
#include <linux/fscrypt.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "twofold/secmem.h"
#include "twofold/storage.h"
#include "storage-internal.h"

_Static_assert(TF_FSCRYPT_ID_BYTES == FSCRYPT_KEY_IDENTIFIER_SIZE,
	       "fscrypt identifier size");
_Static_assert(TF_FSCRYPT_KEY_BYTES <= FSCRYPT_MAX_KEY_SIZE,
	       "fscrypt key size");
_Static_assert(TF_KEY_ABSENT == FSCRYPT_KEY_STATUS_ABSENT &&
		       TF_KEY_PRESENT == FSCRYPT_KEY_STATUS_PRESENT &&
		       TF_KEY_INCOMPLETELY_REMOVED ==
			       FSCRYPT_KEY_STATUS_INCOMPLETELY_REMOVED,
	       "key status values mirror the kernel's");

static void key_spec_for_id(struct fscrypt_key_specifier *spec,
			    const uint8_t id[TF_FSCRYPT_ID_BYTES])
{
	memset(spec, 0, sizeof(*spec));
	spec->type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	memcpy(spec->u.identifier, id, TF_FSCRYPT_ID_BYTES);
}

int tf_fscrypt_add_key(int fs_fd,
		       const uint8_t key[static TF_FSCRYPT_KEY_BYTES],
		       uint8_t id[static TF_FSCRYPT_ID_BYTES])
{
	/* The ioctl takes the raw key inline after the header, so the whole
	 * argument is secret: it lives in secure memory and is wiped on free. */
	const size_t len =
		sizeof(struct fscrypt_add_key_arg) + TF_FSCRYPT_KEY_BYTES;
	_cleanup_secure_ struct fscrypt_add_key_arg *arg = tf_secure_alloc(len);
	if (!arg)
		return tf_negerrno();

	/* Type IDENTIFIER with an all-zero identifier asks the kernel to compute
	 * it (HKDF-SHA512 of the key) and write it back: a v2 add. */
	arg->key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	arg->raw_size = TF_FSCRYPT_KEY_BYTES;
	memcpy(arg->raw, key, TF_FSCRYPT_KEY_BYTES);
	if (ioctl(fs_fd, FS_IOC_ADD_ENCRYPTION_KEY, arg) < 0)
		return tf_negerrno();
	memcpy(id, arg->key_spec.u.identifier, TF_FSCRYPT_ID_BYTES);
	return 0;
}

static void our_policy(struct fscrypt_policy_v2 *p,
		       const uint8_t id[TF_FSCRYPT_ID_BYTES])
{
	memset(p, 0, sizeof(*p));
	p->version = FSCRYPT_POLICY_V2;
	p->contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
	p->filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
	/* PAD_32: names are padded to 32 bytes before encryption, so the
	 * on-disk name length reveals less about the plaintext name. */
	p->flags = FSCRYPT_POLICY_FLAGS_PAD_32;
	memcpy(p->master_key_identifier, id, TF_FSCRYPT_ID_BYTES);
}

int tf_fscrypt_set_policy(int dir_fd,
			  const uint8_t id[static TF_FSCRYPT_ID_BYTES])
{
	struct fscrypt_policy_v2 p;
	enum tf_key_status st;
	int r;

	/* The kernel only insists that a v2 key was added when the caller
	 * lacks CAP_FOWNER (fscrypt.rst, ENOKEY); the daemon has it, and a
	 * policy for a key we do not hold would be a directory nobody can
	 * use, so check ourselves. */
	r = tf_fscrypt_key_status(dir_fd, id, &st);
	if (r < 0)
		return r;
	if (st != TF_KEY_PRESENT)
		return -ENOKEY;
	our_policy(&p, id);
	/* The kernel itself returns 0 when the directory already has exactly
	 * this policy and EEXIST when it has another one (fscrypt.rst,
	 * FS_IOC_SET_ENCRYPTION_POLICY), which is the contract we promise. */
	if (ioctl(dir_fd, FS_IOC_SET_ENCRYPTION_POLICY, &p) < 0)
		return tf_negerrno();
	return 0;
}

int tf_fscrypt_get_policy_id(int dir_fd, uint8_t id[static TF_FSCRYPT_ID_BYTES])
{
	struct fscrypt_get_policy_ex_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.policy_size = sizeof(arg.policy);
	if (ioctl(dir_fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) < 0)
		return tf_negerrno();
	if (arg.policy.version != FSCRYPT_POLICY_V2)
		return -EPROTONOSUPPORT;
	memcpy(id, arg.policy.v2.master_key_identifier, TF_FSCRYPT_ID_BYTES);
	return 0;
}

int tf_fscrypt_key_status(int fs_fd,
			  const uint8_t id[static TF_FSCRYPT_ID_BYTES],
			  enum tf_key_status *st)
{
	struct fscrypt_get_key_status_arg arg;
	memset(&arg, 0, sizeof(arg));
	key_spec_for_id(&arg.key_spec, id);
	if (ioctl(fs_fd, FS_IOC_GET_ENCRYPTION_KEY_STATUS, &arg) < 0)
		return tf_negerrno();
	switch (arg.status) {
	case FSCRYPT_KEY_STATUS_ABSENT:
	case FSCRYPT_KEY_STATUS_PRESENT:
	case FSCRYPT_KEY_STATUS_INCOMPLETELY_REMOVED:
		*st = (enum tf_key_status)arg.status;
		return 0;
	default: return -EPROTO;
	}
}

int tf_fscrypt_remove_key(int fs_fd,
			  const uint8_t id[static TF_FSCRYPT_ID_BYTES],
			  bool *files_busy)
{
	struct fscrypt_remove_key_arg arg;
	memset(&arg, 0, sizeof(arg));
	key_spec_for_id(&arg.key_spec, id);
	/* ALL_USERS: a v2 key records every uid that added it and plain
	 * REMOVE only drops the caller's claim; the daemon wants the key gone
	 * whoever added it. */
	if (ioctl(fs_fd, FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS, &arg) < 0)
		return tf_negerrno();
	if (files_busy)
		*files_busy = (arg.removal_status_flags &
			       FSCRYPT_KEY_REMOVAL_STATUS_FLAG_FILES_BUSY) != 0;
	return 0;
}

/* Test hook (storage-internal.h): the unit tests make syncfs fail to prove
 * that a sync error never keeps the key in the kernel. */
int (*tf_fscrypt_syncfs_hook)(int fd) = syncfs;

int tf_fscrypt_evict_ex(int fs_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES],
			unsigned max_tries, unsigned budget_ms,
			struct tf_fscrypt_evict_info *info)
{
	struct tf_fscrypt_evict_info out = {0};
	uint64_t deadline = tf_now_ns() + (uint64_t)budget_ms * 1000000ull;
	unsigned delay_us = 500;
	int first_err = 0;

	if (max_tries == 0)
		max_tries = 1;
	/* The kernel syncs the filesystem inside the remove (fscrypt's
	 * try_to_lock_encrypted_files), but an explicit syncfs first means
	 * dirty data is written while the key is surely still there, and a
	 * write error shows up here rather than as lost data. A failing sync
	 * (the host file system under a sparse image filled up: EIO) must
	 * not keep the key in: it is recorded and the removal goes on. */
	if (tf_fault_injected("evict-syncfs-eio")) {
		out.sync_err = -EIO;
		first_err = out.sync_err;
	} else if (tf_fscrypt_syncfs_hook(fs_fd) < 0) {
		out.sync_err = tf_negerrno();
		first_err = out.sync_err;
	}
	for (;;) {
		enum tf_key_status st;
		bool busy = false;
		int r;

		out.tries++;
		r = tf_fscrypt_remove_key(fs_fd, id, &busy);
		/* ENOKEY: not (or no longer) in the keyring. Any other error
		 * (EIO from the kernel's own sync) may come after the secret
		 * was wiped: the status below says what really happened. */
		if (r < 0 && r != -ENOKEY) {
			out.remove_err = r;
			if (first_err == 0)
				first_err = r;
		}
		r = tf_fscrypt_key_status(fs_fd, id, &st);
		if (r < 0) {
			out.status = 0;
			*info = out;
			return first_err ? first_err : r;
		}
		out.status = st;
		if (st == TF_KEY_ABSENT)
			break;
		/* INCOMPLETELY_REMOVED: some inode of the key is still in use
		 * (a killed process whose exit has not finished closing its
		 * files). Removing again retries evicting those inodes.
		 * Seen on 6.18 right after a persona stop: the dead persona's
		 * mount namespace, whose bind mounts pin the encrypted
		 * directories, is torn down asynchronously a few ms after its
		 * last process; short first waits catch that without
		 * oversleeping (0.5 ms doubling, at most 100 ms a wait). */
		if (out.tries >= max_tries ||
		    (budget_ms > 0 && tf_now_ns() >= deadline)) {
			*info = out;
			return first_err ? first_err : -EBUSY;
		}
		if (budget_ms > 0) {
			uint64_t now = tf_now_ns();
			uint64_t left =
				now < deadline ? (deadline - now) / 1000 : 1;
			if (left < delay_us)
				delay_us = (unsigned)TF_MAX(left, 1u);
		}
		tf_sleep_us(delay_us);
		delay_us = TF_MIN(delay_us * 2, 100000u);
	}
	*info = out;
	return first_err;
}

int tf_fscrypt_evict(int fs_fd, const uint8_t id[static TF_FSCRYPT_ID_BYTES],
		     unsigned max_tries, unsigned *tries_out)
{
	struct tf_fscrypt_evict_info info;
	int r = tf_fscrypt_evict_ex(fs_fd, id, max_tries, 0, &info);

	if (r == 0 && tries_out)
		*tries_out = info.tries;
	return r;
}
