/* SPDX-License-Identifier: ISC */
/*
 * Atomic state-file writes: write a temp file in the same directory, fsync
 * it, rename over the target, fsync the directory. A crash at any point
 * leaves either the old or the new content, never a mix. Every state change
 * in twofold goes through here.
 */
#ifndef TWOFOLD_ATOMICFILE_H
#define TWOFOLD_ATOMICFILE_H

#include <sys/types.h>

#include "twofold/common.h"

/* dirfd may be AT_FDCWD; name is a single path component or a path. */
TF_WUR int tf_atomic_write_at(int dirfd, const char *name, const void *data,
			      size_t len, mode_t mode);
static inline TF_WUR int tf_atomic_write(const char *path, const void *data,
					 size_t len, mode_t mode)
{
	return tf_atomic_write_at(-100 /* AT_FDCWD */, path, data, len, mode);
}

/* fsync the directory containing path (or dirfd itself when path is NULL). */
TF_WUR int tf_fsync_dir_at(int dirfd, const char *path);

/* Unlink and fsync the directory, so a removal is durable too. */
TF_WUR int tf_unlink_durable_at(int dirfd, const char *name);

#endif
