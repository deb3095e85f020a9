/* SPDX-License-Identifier: ISC */
/*
 * Device storage: the ext4 image (create, loop-attach, mount, unmount) or an
 * existing directory on an fscrypt-capable ext4.
 *
 * Loop devices are configured by hand with LOOP_CONFIGURE rather than by
 * running losetup(8) or linking libmount: it is one ioctl, and doing it in
 * process lets us set LO_FLAGS_AUTOCLEAR atomically with the backing file,
 * so no loop device can outlive the daemon.
 */
#include <fcntl.h>
#include <linux/fscrypt.h>
#include <linux/loop.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The CLI, which links this file for `twofold init`, may be built with musl
 * (src/cli/meson.build); musl before 1.2.5 (Debian 12 has 1.2.3) has
 * neither a statx() nor a close_range() wrapper. The raw system calls work
 * with every libc; the structure comes from the kernel's header when libc
 * has none. */
#ifndef STATX_BASIC_STATS
#include <linux/stat.h>
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000 /* linux/stat.h, Linux 5.8 */
#endif
#include <sys/syscall.h>

static int tf_sys_statx(int dirfd, const char *path, int flags, unsigned mask,
			struct statx *stx)
{
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, stx);
}

static int tf_sys_close_range(unsigned first, unsigned last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

#include "twofold/storage.h"
#include "storage-internal.h"

#ifndef EXT4_SUPER_MAGIC
#define EXT4_SUPER_MAGIC 0xEF53
#endif

/* ext4 on-disk superblock (Documentation/filesystems/ext4/super.rst): it
 * starts 1024 bytes into the device; s_magic at 0x38 (le16),
 * s_feature_incompat at 0x60 (le32); INCOMPAT_ENCRYPT is 0x10000. */
#define EXT4_SB_OFFSET 1024
#define EXT4_SB_MAGIC_OFF 0x38
#define EXT4_SB_INCOMPAT_OFF 0x60
#define EXT4_FEATURE_INCOMPAT_ENCRYPT 0x10000u

#define LOOP_MAJOR 7
#define LOOP_ATTACH_TRIES 16
#define UMOUNT_TRIES 10
#define MKFS_OUTPUT_MAX 4096

const char *tf_storage_mkfs_search_path = TF_STORAGE_MKFS_SEARCH_PATH_DEFAULT;

struct tf_storage {
	char *root;   /* mount point (image) or the given directory */
	int root_fd;  /* O_DIRECTORY on root */
	bool mounted; /* we mounted it (image); detach unmounts */
};

TF_PRINTF(3, 4) static int fail(char *err, size_t errlen, const char *fmt, ...);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* ---- mkfs ---- */

static int find_mkfs(char *out, size_t cap)
{
	const char *p = tf_storage_mkfs_search_path;
	while (p && *p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 && n + sizeof("/mkfs.ext4") <= cap) {
			memcpy(out, p, n);
			memcpy(out + n, "/mkfs.ext4", sizeof("/mkfs.ext4"));
			if (faccessat(AT_FDCWD, out, X_OK, AT_EACCESS) == 0)
				return 0;
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	return -ENOENT;
}

/* Keep mkfs's message to one printable line for the error string. */
static void squash_output(char *s)
{
	for (char *c = s; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
		else if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
}

static int run_mkfs(const char *mkfs, const char *image, char *out,
		    size_t outcap, int *status)
{
	/* -F: the target is a regular file, which mke2fs otherwise asks about.
	 * -b 4096: small images would default to 1 KiB blocks ("small" type),
	 * which fscrypt supports but which makes every block op 4x the work.
	 * lazy_itable_init=0 / lazy_journal_init=0: initialise everything now
	 * (mkfs zeroes by punching holes in a file, so the image stays sparse)
	 * instead of having the kernel's ext4lazyinit thread write the inode
	 * tables in the background after every first mount. nodiscard: mke2fs
	 * "discards" a file by punching holes, which would undo the
	 * allocation tf_storage_image_create made. */
	const char *argv[] = {
		"mkfs.ext4",
		"-q",
		"-F",
		"-b",
		"4096",
		"-O",
		"encrypt",
		"-L",
		"twofold",
		"-E",
		"lazy_itable_init=0,lazy_journal_init=0,nodiscard",
		image,
		NULL};
	/* Clean environment: no MKE2FS_CONFIG, MKE2FS_* or locale from the
	 * caller changes what we format. */
	const char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
			      NULL};
	int pfd[2];
	size_t used = 0;
	int r = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return tf_negerrno();
	pid_t pid = fork();
	if (pid < 0) {
		r = tf_negerrno();
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls until execve. */
		sigset_t all;
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		tf_sys_close_range(3, ~0u, 0);
		execve(mkfs, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char buf[512];
		ssize_t n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep the first outcap-1 bytes; drain the rest so mkfs never
		 * blocks on a full pipe. */
		size_t keep = TF_MIN((size_t)n, outcap - 1 - used);
		memcpy(out + used, buf, keep);
		used += keep;
	}
	out[used] = '\0';
	close(pfd[0]);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return tf_negerrno();
	}
	return 0;
}

/*
 * Allocate every block of the image file on the host file system. A sparse
 * image fails late and badly: when the host fills up (and a persona can
 * fill it by writing), the loop device gets EIO on write-back, ext4 remounts
 * read-only and syncfs fails in the middle of a lock-down. With the blocks
 * allocated up front the only "disk full" a persona can meet is ENOSPC
 * inside the image. fallocate mode 0 keeps data already written and only
 * fills holes, so this is safe on an image in use.
 */
static int allocate_image(int fd, const char *path, uint64_t size,
			  const char *hint, char *err, size_t errlen)
{
	struct stat st;
	struct statfs sfs;
	int r;

	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if ((uint64_t)st.st_blocks * 512 >= size)
		return 0;
	if (fallocate(fd, 0, 0, (off_t)size) == 0)
		return 0;
	r = tf_negerrno();
	if (r == -ENOSPC || r == -EDQUOT) {
		uint64_t have = (uint64_t)st.st_blocks * 512;
		uint64_t freeb =
			fstatfs(fd, &sfs) == 0
				? (uint64_t)sfs.f_bavail * (uint64_t)sfs.f_bsize
				: 0;
		fail(err, errlen,
		     "the host file system lacks the space for the storage "
		     "image %s: it needs %llu MiB more, %llu MiB are free; %s",
		     path,
		     (unsigned long long)((size - have + (1 << 20) - 1) >> 20),
		     (unsigned long long)(freeb >> 20), hint);
	} else if (r == -EOPNOTSUPP) {
		fail(err, errlen,
		     "the host file system of %s cannot allocate the image "
		     "(fallocate unsupported); put the state directory on "
		     "ext4, xfs, btrfs or tmpfs",
		     path);
	} else {
		fail(err, errlen, "allocate the storage image %s: %s", path,
		     strerror(-r));
	}
	return r;
}

int tf_storage_image_create(const char *path, uint64_t size, char *err,
			    size_t errlen)
{
	char mkfs[PATH_MAX];
	_cleanup_free_ char *output = NULL;
	_cleanup_close_ int fd = -1;
	int status = 0, r;

	if (size < TF_STORAGE_IMAGE_MIN_BYTES || size > (uint64_t)INT64_MAX ||
	    size % 4096 != 0) {
		fail(err, errlen,
		     "image size %llu is invalid; use a multiple of 4 KiB, at "
		     "least %llu MiB",
		     (unsigned long long)size,
		     (unsigned long long)(TF_STORAGE_IMAGE_MIN_BYTES >> 20));
		return -EINVAL;
	}
	/* Look for mkfs first, so a missing e2fsprogs leaves no file behind. */
	r = find_mkfs(mkfs, sizeof(mkfs));
	if (r < 0) {
		fail(err, errlen, "mkfs.ext4 not found; install e2fsprogs");
		return r;
	}
	output = malloc(MKFS_OUTPUT_MAX);
	if (!output)
		return -ENOMEM;

	/* O_EXCL: an existing image holds a persona's data; never format it. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		r = tf_negerrno();
		fail(err, errlen, "create image %s: %s", path, strerror(-r));
		return r;
	}
	/* Allocated, not sparse (allocate_image says why); before mkfs, so a
	 * host without the space fails at once and leaves no file. */
	r = allocate_image(fd, path, size,
			   "free some space or choose a smaller --size", err,
			   errlen);
	if (r < 0)
		goto out_unlink;
	r = run_mkfs(mkfs, path, output, MKFS_OUTPUT_MAX, &status);
	if (r < 0) {
		fail(err, errlen, "run %s: %s", mkfs, strerror(-r));
		goto out_unlink;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		squash_output(output);
		if (WIFEXITED(status))
			fail(err, errlen, "%s on %s failed (exit %d): %s", mkfs,
			     path, WEXITSTATUS(status), output);
		else
			fail(err, errlen, "%s on %s killed by signal %d: %s",
			     mkfs, path,
			     WIFSIGNALED(status) ? WTERMSIG(status) : 0,
			     output);
		r = -EIO;
		goto out_unlink;
	}
	/* mkfs may still have punched a hole (zeroing by PUNCH_HOLE where
	 * ZERO_RANGE is unsupported): fill it again. */
	r = allocate_image(fd, path, size,
			   "free some space or choose a smaller --size", err,
			   errlen);
	if (r < 0)
		goto out_unlink;
	/* mkfs syncs its own writes; make the file's metadata durable too. */
	if (fsync(fd) < 0) {
		r = tf_negerrno();
		fail(err, errlen, "sync image %s: %s", path, strerror(-r));
		goto out_unlink;
	}
	return 0;

out_unlink:
	unlink(path);
	return r;
}

int tf_storage_image_allocate(const char *path, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0) {
		r = tf_negerrno();
		fail(err, errlen, "open image %s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode)) {
		fail(err, errlen, "image %s is not a regular file", path);
		return -EINVAL;
	}
	if ((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size)
		return 0;
	r = allocate_image(fd, path, (uint64_t)st.st_size,
			   "free some space on the host or move the state "
			   "directory",
			   err, errlen);
	if (r < 0)
		return r;
	if (fsync(fd) < 0) {
		r = tf_negerrno();
		fail(err, errlen, "sync image %s: %s", path, strerror(-r));
		return r;
	}
	return 1;
}

/* ---- attach ---- */

static int check_ext4_encrypt(int fd, const char *image, char *err,
			      size_t errlen)
{
	uint8_t sb[1024];
	ssize_t n = pread(fd, sb, sizeof(sb), EXT4_SB_OFFSET);
	if (n < 0) {
		int r = tf_negerrno();
		fail(err, errlen, "read superblock of %s: %s", image,
		     strerror(-r));
		return r;
	}
	if ((size_t)n < sizeof(sb) ||
	    tf_get_le16(sb + EXT4_SB_MAGIC_OFF) != EXT4_SUPER_MAGIC) {
		fail(err, errlen, "%s is not an ext4 image", image);
		return -EINVAL;
	}
	uint32_t incompat = tf_get_le32(sb + EXT4_SB_INCOMPAT_OFF);
	if (!(incompat & EXT4_FEATURE_INCOMPAT_ENCRYPT)) {
		fail(err, errlen,
		     "%s lacks the ext4 encrypt feature; run tune2fs -O "
		     "encrypt %s",
		     image, image);
		return -EINVAL;
	}
	return 0;
}

/* Open /dev/loopN, creating the node if no devtmpfs/udev made it (e.g. a
 * container with a static /dev). */
static int open_loop(int n, char *path, size_t cap)
{
	int fd;
	snprintf(path, cap, "/dev/loop%d", n);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mknodat(AT_FDCWD, path, S_IFBLK | 0600,
			    makedev(LOOP_MAJOR, (unsigned)n)) < 0 &&
		    errno != EEXIST)
			return tf_negerrno();
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	return fd < 0 ? tf_negerrno() : fd;
}

/* Bind image_fd to a free loop device. Returns the open loop fd; the device
 * stays bound while that fd (or, later, the mount) holds it, and clears
 * itself when the last holder goes (LO_FLAGS_AUTOCLEAR). */
static int loop_attach(int image_fd, char *dev, size_t devcap, char *err,
		       size_t errlen)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		int r = tf_negerrno();
		fail(err, errlen,
		     "open /dev/loop-control: %s; is the loop module loaded?",
		     strerror(-r));
		return r == -ENOENT ? -ENXIO : r;
	}
	for (int attempt = 0; attempt < LOOP_ATTACH_TRIES; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			fail(err, errlen, "no free loop device (%s)",
			     strerror(errno));
			return -ENXIO;
		}
		_cleanup_close_ int lfd = open_loop(n, dev, devcap);
		if (lfd < 0) {
			fail(err, errlen, "open %s: %s", dev, strerror(-lfd));
			return lfd;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)image_fd;
		/* DIRECT_IO: the filesystem above has its own page cache;
		 * without it every block would also be cached as part of the
		 * image file (double caching), and writes would sit in that
		 * second cache. The kernel falls back to buffered I/O itself
		 * when the backing file cannot do O_DIRECT. */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			return steal_fd(&lfd);
		if (errno == EINVAL) {
			/* Older kernels (before 5.x fallback) refused the
			 * flag when the backing fs lacks O_DIRECT. */
			cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
			if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
				return steal_fd(&lfd);
		}
		/* EBUSY: another process took this free device between
		 * GET_FREE and CONFIGURE (parallel tests, losetup); ask
		 * for the next free one. */
		if (errno != EBUSY) {
			int r = tf_negerrno();
			fail(err, errlen, "configure %s: %s", dev,
			     strerror(-r));
			return r;
		}
		tf_sleep_ms(1 + (unsigned)attempt);
	}
	fail(err, errlen, "no free loop device (all busy after %d tries)",
	     LOOP_ATTACH_TRIES);
	return -EBUSY;
}

static bool is_mount_root(const char *path)
{
	struct statx stx;
	if (tf_sys_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
			 &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static struct tf_storage *storage_new(const char *root, int root_fd,
				      bool mounted)
{
	struct tf_storage *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->root = strdup(root);
	if (!s->root) {
		free(s);
		return NULL;
	}
	s->root_fd = root_fd;
	s->mounted = mounted;
	return s;
}

int tf_storage_attach(const char *image, const char *mountpoint,
		      struct tf_storage **out, char *err, size_t errlen)
{
	_cleanup_close_ int ifd = -1, lfd = -1, rfd = -1;
	_cleanup_free_ char *mp = NULL;
	char dev[64];
	struct stat st;
	int r;

	ifd = open(image, O_RDWR | O_CLOEXEC);
	if (ifd < 0) {
		r = tf_negerrno();
		fail(err, errlen, "open image %s: %s", image, strerror(-r));
		return r;
	}
	if (fstat(ifd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode)) {
		fail(err, errlen, "image %s is not a regular file", image);
		return -EINVAL;
	}
	r = check_ext4_encrypt(ifd, image, err, errlen);
	if (r < 0)
		return r;

	mp = realpath(mountpoint, NULL);
	if (!mp) {
		r = tf_negerrno();
		fail(err, errlen, "mount point %s: %s", mountpoint,
		     strerror(-r));
		return r;
	}
	if (is_mount_root(mp)) {
		fail(err, errlen,
		     "%s is already a mount point; a previous daemon may have "
		     "crashed",
		     mp);
		return -EBUSY;
	}

	lfd = loop_attach(ifd, dev, sizeof(dev), err, errlen);
	if (lfd < 0)
		return lfd;
	/* nosuid,nodev: nothing in persona data may grant privilege or reach
	 * a device. errors=remount-ro: on corruption stop writing rather than
	 * keep going (ext4's default "continue") and spread the damage. */
	if (mount(dev, mp, "ext4", MS_NOSUID | MS_NODEV, "errors=remount-ro") <
	    0) {
		r = tf_negerrno();
		fail(err, errlen, "mount %s (%s) on %s: %s", image, dev, mp,
		     strerror(-r));
		/* Autoclear would fire on close as well; clear explicitly so
		 * the device is free before we return. */
		(void)ioctl(lfd, LOOP_CLR_FD);
		return r;
	}
	/* The mount now holds the device; our fd is no longer needed, and with
	 * AUTOCLEAR the unmount will release it. */
	lfd = (close(lfd), -1);

	rfd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		r = tf_negerrno();
		fail(err, errlen, "open %s: %s", mp, strerror(-r));
		goto out_umount;
	}
	/* mkfs leaves the root 0755, and the mount hides the 0700 of the
	 * mount point: without this a host user could walk into a running
	 * persona's unencrypted-while-unlocked files (personas/<p>/tmp).
	 * The persona's init clones its data dir with host-root fsuid, as
	 * owner, so 0700 here does not stand in its way. */
	if (fchmod(rfd, 0700) < 0) {
		r = tf_negerrno();
		fail(err, errlen, "chmod 700 %s: %s", mp, strerror(-r));
		goto out_umount;
	}
	/* The superblock said "encrypt"; make sure the running kernel agrees
	 * (CONFIG_FS_ENCRYPTION): an unencrypted root gives ENODATA. */
	{
		struct fscrypt_get_policy_ex_arg arg;
		memset(&arg, 0, sizeof(arg));
		arg.policy_size = sizeof(arg.policy);
		if (ioctl(rfd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) == 0)
			r = -EEXIST; /* a fresh image's root is never encrypted */
		else
			r = errno == ENODATA ? 0 : tf_negerrno();
		if (r < 0) {
			fail(err, errlen,
			     "fscrypt unusable on %s: %s; does the kernel have "
			     "CONFIG_FS_ENCRYPTION?",
			     mp, strerror(-r));
			goto out_umount;
		}
	}
	struct tf_storage *s = storage_new(mp, rfd, true);
	if (!s) {
		r = -ENOMEM;
		goto out_umount;
	}
	rfd = -1;
	*out = s;
	return 0;

out_umount:
	rfd = (rfd >= 0 ? close(rfd) : 0, -1);
	(void)umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW);
	return r;
}

int tf_storage_attach_dir(const char *dir, struct tf_storage **out, char *err,
			  size_t errlen)
{
	_cleanup_free_ char *path = realpath(dir, NULL);
	_cleanup_close_ int fd = -1;
	struct statfs sfs;
	int r;

	if (!path) {
		r = tf_negerrno();
		fail(err, errlen, "storage directory %s: %s", dir,
		     strerror(-r));
		return r;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &sfs) < 0) {
		r = tf_negerrno();
		fail(err, errlen, "storage directory %s: %s", path,
		     strerror(-r));
		return r;
	}
	if (sfs.f_type != EXT4_SUPER_MAGIC) {
		fail(err, errlen,
		     "storage directory %s is not on ext4 (fs type 0x%lx)",
		     path, (unsigned long)sfs.f_type);
		return -EINVAL;
	}
	struct fscrypt_get_policy_ex_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.policy_size = sizeof(arg.policy);
	if (ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) == 0) {
		fail(err, errlen,
		     "storage directory %s is itself encrypted; use an "
		     "unencrypted directory",
		     path);
		return -EEXIST;
	}
	switch (errno) {
	case ENODATA: /* unencrypted directory on a filesystem that can encrypt */
		break;
	case EOPNOTSUPP: /* ext4 returns this when the encrypt feature is off */
		fail(err, errlen,
		     "filesystem of %s lacks the encrypt feature; run tune2fs "
		     "-O encrypt on its device",
		     path);
		return -EOPNOTSUPP;
	case ENOTTY:
		fail(err, errlen,
		     "kernel lacks fscrypt v2 ioctls (needs Linux 5.4+)");
		return -EOPNOTSUPP;
	default:
		r = tf_negerrno();
		fail(err, errlen, "check fscrypt on %s: %s", path,
		     strerror(-r));
		return r;
	}
	struct tf_storage *s = storage_new(path, fd, false);
	if (!s)
		return -ENOMEM;
	fd = -1;
	*out = s;
	return 0;
}

const char *tf_storage_root(const struct tf_storage *s)
{
	return s->root;
}

int tf_storage_root_fd(const struct tf_storage *s)
{
	return s->root_fd;
}

int tf_storage_free_bytes(const struct tf_storage *s, uint64_t *out)
{
	struct statfs sfs;
	if (fstatfs(s->root_fd, &sfs) < 0)
		return tf_negerrno();
	*out = (uint64_t)sfs.f_bavail * (uint64_t)sfs.f_bsize;
	return 0;
}

/* Unmount, retrying while busy (a process exiting may still hold a file for
 * a moment); finally detach lazily and report -EBUSY. */
static int umount_retry(const char *mp)
{
	for (int i = 0; i < UMOUNT_TRIES; i++) {
		if (umount2(mp, UMOUNT_NOFOLLOW) == 0)
			return 0;
		if (errno != EBUSY)
			return tf_negerrno();
		tf_sleep_ms(20u << TF_MIN(i, 3));
	}
	if (umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return tf_negerrno();
	return -EBUSY;
}

int tf_storage_detach(struct tf_storage *s)
{
	int r = 0;
	if (!s)
		return 0;
	if (s->root_fd >= 0) {
		if (syncfs(s->root_fd) < 0)
			r = tf_negerrno();
		close(s->root_fd);
	}
	if (s->mounted) {
		int u = umount_retry(s->root);
		if (u < 0)
			r = u;
	}
	free(s->root);
	free(s);
	return r;
}

int tf_storage_cleanup_stale(const char *mountpoint)
{
	_cleanup_free_ char *mp = realpath(mountpoint, NULL);
	int count = 0;

	if (!mp)
		return errno == ENOENT ? 0 : tf_negerrno();
	/* Mounts may be stacked if a crashed daemon was restarted by hand;
	 * peel them all (bounded). */
	while (is_mount_root(mp)) {
		if (count >= 16)
			return -ELOOP;
		if (umount2(mp, UMOUNT_NOFOLLOW) < 0) {
			if (errno != EBUSY)
				return tf_negerrno();
			/* Someone still holds a file there (a persona process
			 * that outlived the daemon): detach it from the tree
			 * now; the kernel finishes when the last user goes and
			 * then the autoclear loop device goes with it. */
			if (umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
				return tf_negerrno();
		}
		count++;
	}
	return count;
}
