/* SPDX-License-Identifier: ISC */
/*
 * Internals of the storage module shared with its unit tests (they link the
 * static library, where hidden symbols are still visible). Not installed.
 */
#ifndef TWOFOLD_STORAGE_INTERNAL_H
#define TWOFOLD_STORAGE_INTERNAL_H

/* Colon-separated directories searched for mkfs.ext4. A fixed list, not
 * $PATH: the daemon runs as root and must not run whatever a caller's
 * environment points to. Tests override it to prove the "not found" path. */
extern const char *tf_storage_mkfs_search_path;

#define TF_STORAGE_MKFS_SEARCH_PATH_DEFAULT "/usr/sbin:/sbin:/usr/bin:/bin"

/* syncfs(2) as tf_fscrypt_evict_ex calls it; tests point it at a failing
 * function to prove a sync error never skips the key removal. */
extern int (*tf_fscrypt_syncfs_hook)(int fd);

#endif
