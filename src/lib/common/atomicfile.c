/* SPDX-License-Identifier: ISC */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "twofold/atomicfile.h"

static void split_path(const char *path, char *dir, size_t dircap,
		       const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dircap, ".");
		*base = path;
	} else if (slash == path) {
		snprintf(dir, dircap, "/");
		*base = slash + 1;
	} else {
		snprintf(dir, dircap, "%.*s", (int)(slash - path), path);
		*base = slash + 1;
	}
}

int tf_fsync_dir_at(int dirfd, const char *path)
{
	_cleanup_close_ int fd = -1;
	char dir[PATH_MAX];
	const char *base;

	if (path == NULL) {
		if (fsync(dirfd) < 0)
			return tf_negerrno();
		return 0;
	}
	split_path(path, dir, sizeof(dir), &base);
	fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return tf_negerrno();
	if (fsync(fd) < 0)
		return tf_negerrno();
	return 0;
}

int tf_atomic_write_at(int dirfd, const char *name, const void *data,
		       size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	uint32_t rnd;
	_cleanup_close_ int fd = -1;
	int r;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)getpid();
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%08x", name, rnd) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return tf_negerrno();
	/* the umask must not widen or narrow what the caller asked for */
	if (fchmod(fd, mode) < 0)
		goto fail_errno;
	r = tf_write_full(fd, data, len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0)
		goto fail_errno;
	if (close(steal_fd(&fd)) < 0)
		goto fail_errno;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		goto fail_errno;
	return tf_fsync_dir_at(dirfd, name);
fail_errno:
	r = tf_negerrno();
fail:
	unlinkat(dirfd, tmp, 0);
	return r;
}

int tf_unlink_durable_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0)
		return tf_negerrno();
	return tf_fsync_dir_at(dirfd, name);
}
