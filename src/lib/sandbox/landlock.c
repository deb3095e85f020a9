/* SPDX-License-Identifier: ISC */
/*
 * Landlock, by raw syscalls: Debian 12 has no liblandlock, and the three
 * syscalls with two structs are all there is to it.
 *
 * Policy (the caller's: struct tf_profile's read and writable paths): read
 * and execute beneath the readable paths, write (create, remove, rename,
 * truncate) only beneath the writable ones. The handled rights are lowered to
 * what the running kernel's ABI knows, as the kernel's
 * samples/landlock/sandboxer.c does: asking a kernel to handle a right it
 * does not know fails with EINVAL.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include "twofold/sandbox.h"

/* Rights newer than the Debian 12 kernel headers (6.1) */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2, Linux 5.19 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3, Linux 6.2 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6, 6.12 */
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

#define LL_READ                                                                \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |           \
	 LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_WRITE_ABI1                                                          \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |       \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |       \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |           \
	 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |         \
	 LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)
/* rights that make sense on a non-directory (a rule on a file) */
#define LL_FILE                                                                \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |           \
	 LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* Not handled on purpose: IOCTL_DEV (ABI 5) would also need granting on
 * every tty and device an app uses, which the device cgroup already
 * polices; network (ABI 4) is the persona's netns' and the apps' nft
 * rules' job; scopes (ABI 6) between personas are the namespaces' job,
 * and within one only an installed app's own domain is scoped
 * (tf_landlock_apply_app: abstract unix sockets). */

static uint64_t handled_for_abi(int abi)
{
	uint64_t h = LL_READ | LL_WRITE_ABI1;

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return h;
}

/* The ABI 6 struct; the kernel takes a struct shorter than its own
 * (copy_min_struct_from_user), newer fields read as 0: without a scope
 * only the fs field (the ABI 1 size) is passed. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4; never handled here */
	uint64_t scoped;	     /* ABI 6 */
};

static long ll_create(const struct ll_ruleset_attr *a, size_t size,
		      uint32_t flags)
{
	return syscall(__NR_landlock_create_ruleset, a, size, flags);
}

static int ll_add_path(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb;
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return tf_negerrno();
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISDIR(st.st_mode))
		access &= LL_FILE; /* the kernel rejects dir rights on files */
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access;
	pb.parent_fd = fd;
	if (syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) < 0)
		return tf_negerrno();
	return 0;
}

static int prepare(const char *const *readable, size_t nr,
		   const char *const *writable, size_t n, bool scope,
		   int *fd_out, int *abi_out)
{
	struct ll_ruleset_attr attr;
	_cleanup_close_ int rs = -1;
	uint64_t handled;
	long abi;
	int r;

	if ((n && !writable) || (nr && !readable))
		return -EINVAL;
	abi = ll_create(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		/* not built in (ENOSYS) or not enabled at boot (EOPNOTSUPP):
		 * best effort, the caller logs it */
		if (errno == ENOSYS || errno == EOPNOTSUPP) {
			*fd_out = -1;
			*abi_out = 0;
			return 0;
		}
		return tf_negerrno();
	}
	handled = handled_for_abi((int)abi);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	attr.scoped =
		scope && abi >= 6 ? LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET : 0;
	rs = (int)ll_create(
		&attr,
		attr.scoped ? sizeof(attr) : sizeof(attr.handled_access_fs), 0);
	if (rs < 0)
		return tf_negerrno();

	for (size_t i = 0; i < nr; i++) {
		if (!readable[i] || readable[i][0] != '/')
			return -EINVAL;
		r = ll_add_path(rs, readable[i], LL_READ & handled);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (!writable[i] || writable[i][0] != '/')
			return -EINVAL;
		r = ll_add_path(rs, writable[i], handled);
		if (r == -ENOENT)
			continue; /* documented: missing dirs are skipped */
		if (r < 0)
			return r;
	}
	*fd_out = steal_fd(&rs);
	*abi_out = (int)abi;
	return 0;
}

int tf_landlock_prepare(const char *const *readable, size_t nr,
			const char *const *writable, size_t n, int *fd_out,
			int *abi_out)
{
	return prepare(readable, nr, writable, n, false, fd_out, abi_out);
}

int tf_landlock_restrict(int ruleset_fd)
{
	if (ruleset_fd < 0)
		return 0; /* Landlock unavailable: best effort */
	/* needs no_new_privs (or CAP_SYS_ADMIN): tf_nnp_set comes first */
	if (syscall(__NR_landlock_restrict_self, ruleset_fd, 0) < 0)
		return tf_negerrno();
	return 0;
}

static int apply(const char *const *readable, size_t nr,
		 const char *const *writable, size_t n, bool scope)
{
	int fd, abi, r;

	r = prepare(readable, nr, writable, n, scope, &fd, &abi);
	if (r < 0)
		return r;
	r = tf_landlock_restrict(fd);
	if (fd >= 0)
		close(fd);
	return r < 0 ? r : abi;
}

int tf_landlock_apply(const char *const *readable, size_t nr,
		      const char *const *writable, size_t n)
{
	return apply(readable, nr, writable, n, false);
}

int tf_landlock_apply_app(const char *const *readable, size_t nr,
			  const char *const *writable, size_t n)
{
	return apply(readable, nr, writable, n, true);
}
