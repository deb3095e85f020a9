/* SPDX-License-Identifier: ISC */
/*
 * Storage and fscrypt against the real kernel (run as root). Every test
 * makes its own temp directory and 64 MiB sparse image; the teardown kills
 * any helper child, unmounts (the loop device clears itself) and removes
 * the files, also when the test failed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "twofold/storage.h"
#include "src/lib/storage/storage-internal.h"

#define IMG_BYTES (UINT64_C(64) << 20)

/* Distinctive enough not to occur by chance in an ext4 image. */
static const char canary_name[] = "tf-canary-name-QX7Z9W3K";
static const char canary_text[] =
	"TF-CANARY-CONTENT-8e1b44f0c27d-secret-persona-data";
static const char control_text[] = "TF-CONTROL-CONTENT-51c9a3e7d0b2-plain";

struct fx {
	char dir[64];
	char img[128];
	char mnt[128];
	struct tf_storage *s;
	pid_t child;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/tf-storage-test-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->img, sizeof(f->img), "%s/dev.img", f->dir);
	snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->dir);
	if (mkdir(f->mnt, 0700) < 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	f->child = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	(void)tf_storage_detach(f->s);
	if (tf_storage_cleanup_stale(f->mnt) < 0)
		print_error("cleanup_stale failed on %s\n", f->mnt);
	unlink(f->img);
	rmdir(f->mnt);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void make_image(struct fx *f)
{
	char err[512] = "";
	int r = tf_storage_image_create(f->img, IMG_BYTES, err, sizeof(err));
	if (r != 0)
		print_error("image_create: %s\n", err);
	assert_int_equal(r, 0);
}

static void attach(struct fx *f)
{
	char err[512] = "";
	int r = tf_storage_attach(f->img, f->mnt, &f->s, err, sizeof(err));
	if (r != 0)
		print_error("attach: %s\n", err);
	assert_int_equal(r, 0);
}

static void detach(struct fx *f)
{
	assert_int_equal(tf_storage_detach(f->s), 0);
	f->s = NULL;
}

/* Is path a mount point in /proc/self/mountinfo (field 5)? Also returns the
 * fs type (after " - ") in type if asked. */
static bool mounted_at(const char *path, char *type, size_t typecap, char *opts,
		       size_t optscap)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool found = false;
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		char mp[PATH_MAX], o[512];
		if (sscanf(line, "%*s %*s %*s %*s %4095s %511s", mp, o) != 2)
			continue;
		if (strcmp(mp, path) != 0)
			continue;
		found = true;
		if (opts)
			snprintf(opts, optscap, "%s", o);
		const char *sep = strstr(line, " - ");
		if (type && sep)
			sscanf(sep + 3, "%63s", type);
		(void)typecap;
	}
	fclose(fp);
	return found;
}

/* Number of loop devices whose backing file is `image`. */
static int loops_backed_by(const char *image)
{
	char real[PATH_MAX];
	int count = 0;
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	assert_non_null(realpath(image, real));
	assert_non_null(d);
	while ((de = readdir(d))) {
		char p[PATH_MAX], buf[PATH_MAX];
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file",
			 de->d_name);
		FILE *fp = fopen(p, "re");
		if (!fp)
			continue;
		if (fgets(buf, sizeof(buf), fp)) {
			buf[strcspn(buf, "\n")] = '\0';
			if (strcmp(buf, real) == 0)
				count++;
		}
		fclose(fp);
	}
	closedir(d);
	return count;
}

/* Autoclear happens as the last holder of the loop device lets go; wait for
 * that state (not a timing assertion: a bound on how long we look). */
static int wait_no_loops(const char *image)
{
	for (int i = 0; i < 200; i++) {
		if (loops_backed_by(image) == 0)
			return 0;
		usleep(10000);
	}
	return loops_backed_by(image);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	sync();
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "3", 1), 1);
	close(fd);
}

/* Does the raw file contain needle? Reads it through a fresh fd after the
 * caches were dropped, so we see what is on disk. */
static bool file_contains(const char *path, const char *needle)
{
	size_t nlen = strlen(needle), have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = malloc((1 << 20) + 256);
	bool found = false;
	assert_true(fd >= 0);
	assert_non_null(buf);
	for (;;) {
		ssize_t n = read(fd, buf + have, 1 << 20);
		assert_true(n >= 0);
		if (n == 0)
			break;
		have += (size_t)n;
		if (memmem(buf, have, needle, nlen)) {
			found = true;
			break;
		}
		/* keep a tail so a needle across chunks is still seen */
		size_t keep = TF_MIN(have, nlen);
		memmove(buf, buf + have - keep, keep);
		have = keep;
	}
	free(buf);
	close(fd);
	return found;
}

static void write_file_at(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	assert_true(fd >= 0);
	/* several copies so it spans more than one encryption unit */
	for (int i = 0; i < 64; i++)
		assert_int_equal(tf_write_full(fd, text, strlen(text)), 0);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static void check_file_at(int dfd, const char *name, const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len * 64);
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(tf_read_full(fd, buf, len * 64), (ssize_t)(len * 64));
	for (int i = 0; i < 64; i++)
		assert_memory_equal(buf + (size_t)i * len, text, len);
	close(fd);
	free(buf);
}

/* mkdir data, add a fresh random key, set the policy. Returns the dir fd. */
static int make_encrypted_dir(struct fx *f, const char *name,
			      uint8_t key[TF_FSCRYPT_KEY_BYTES],
			      uint8_t id[TF_FSCRYPT_ID_BYTES])
{
	int root = tf_storage_root_fd(f->s);
	assert_int_equal(getrandom(key, TF_FSCRYPT_KEY_BYTES, 0),
			 TF_FSCRYPT_KEY_BYTES);
	assert_int_equal(mkdirat(root, name, 0700), 0);
	int dfd = openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(tf_fscrypt_add_key(root, key, id), 0);
	assert_int_equal(tf_fscrypt_set_policy(dfd, id), 0);
	return dfd;
}

/* ---- tests ---- */

static void test_image_create_allocated_and_exclusive(void **state)
{
	struct fx *f = *state;
	struct stat st, st2;
	char err[512] = "";

	make_image(f);
	assert_int_equal(stat(f->img, &st), 0);
	assert_int_equal((uint64_t)st.st_size, IMG_BYTES);
	/* allocated, not sparse: a full host must never turn into EIO on
	 * the loop device (and a failed sync in a lock-down) */
	assert_true((uint64_t)st.st_blocks * 512 >= IMG_BYTES);
	/* and allocating again finds nothing to do */
	assert_int_equal(tf_storage_image_allocate(f->img, err, sizeof(err)),
			 0);

	/* never overwrites: -EEXIST and the file is the same one */
	assert_int_equal(
		tf_storage_image_create(f->img, IMG_BYTES, err, sizeof(err)),
		-EEXIST);
	assert_non_null(strstr(err, f->img));
	assert_int_equal(stat(f->img, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_blocks, st2.st_blocks);
	assert_int_equal(st.st_mtim.tv_sec, st2.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);

	/* bad sizes are refused before anything is created */
	char other[160];
	snprintf(other, sizeof(other), "%s/small.img", f->dir);
	assert_int_equal(tf_storage_image_create(other, 4096, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(
		tf_storage_image_create(other, IMG_BYTES + 1, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(access(other, F_OK), -1);
}

static void test_mkfs_missing(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	const char *saved = tf_storage_mkfs_search_path;

	tf_storage_mkfs_search_path = "/nonexistent-twofold:/also-not-there";
	int r = tf_storage_image_create(f->img, IMG_BYTES, err, sizeof(err));
	tf_storage_mkfs_search_path = saved;
	assert_int_equal(r, -ENOENT);
	assert_string_equal(err, "mkfs.ext4 not found; install e2fsprogs");
	assert_int_equal(access(f->img, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_mkfs_failure_removes_file(void **state)
{
	struct fx *f = *state;
	char err[512] = "", fake[160];
	const char *saved = tf_storage_mkfs_search_path;

	/* A "mkfs.ext4" that fails with a message: the message reaches err,
	 * and the partial image is removed. */
	snprintf(fake, sizeof(fake), "%s/mkfs.ext4", f->dir);
	FILE *fp = fopen(fake, "we");
	assert_non_null(fp);
	fputs("#!/bin/sh\necho \"fake mkfs: disk on fire\" >&2\nexit 3\n", fp);
	fclose(fp);
	assert_int_equal(chmod(fake, 0700), 0);
	tf_storage_mkfs_search_path = f->dir;
	int r = tf_storage_image_create(f->img, IMG_BYTES, err, sizeof(err));
	tf_storage_mkfs_search_path = saved;
	unlink(fake);
	assert_int_equal(r, -EIO);
	assert_non_null(strstr(err, "exit 3"));
	assert_non_null(strstr(err, "fake mkfs: disk on fire"));
	assert_int_equal(access(f->img, F_OK), -1);
}

static void test_attach_mounts_ext4_with_encrypt(void **state)
{
	struct fx *f = *state;
	char type[64] = "", opts[512] = "", err[512] = "";
	uint64_t freeb = 0;

	make_image(f);
	attach(f);
	assert_string_equal(tf_storage_root(f->s), f->mnt);
	assert_true(mounted_at(f->mnt, type, sizeof(type), opts, sizeof(opts)));
	assert_string_equal(type, "ext4");
	assert_non_null(strstr(opts, "nosuid"));
	assert_non_null(strstr(opts, "nodev"));
	assert_int_equal(loops_backed_by(f->img), 1);
	assert_int_equal(tf_storage_free_bytes(f->s, &freeb), 0);
	assert_true(freeb > IMG_BYTES / 2 && freeb < IMG_BYTES);

	/* the filesystem can encrypt: root is unencrypted (ENODATA) */
	uint8_t id[TF_FSCRYPT_ID_BYTES];
	assert_int_equal(tf_fscrypt_get_policy_id(tf_storage_root_fd(f->s), id),
			 -ENODATA);

	/* mounting twice on the same mount point is refused */
	struct tf_storage *again = NULL;
	assert_int_equal(
		tf_storage_attach(f->img, f->mnt, &again, err, sizeof(err)),
		-EBUSY);
	assert_null(again);

	/* the mounted root also passes the --storage DIR checks */
	struct tf_storage *d = NULL;
	assert_int_equal(tf_storage_attach_dir(f->mnt, &d, err, sizeof(err)),
			 0);
	assert_string_equal(tf_storage_root(d), f->mnt);
	assert_int_equal(tf_storage_detach(d), 0);
	assert_true(mounted_at(f->mnt, NULL, 0, NULL,
			       0)); /* dir detach never unmounts */

	detach(f);
	assert_false(mounted_at(f->mnt, NULL, 0, NULL, 0));
	assert_int_equal(wait_no_loops(f->img), 0);
}

static void test_attach_refuses_image_without_encrypt(void **state)
{
	struct fx *f = *state;
	char err[512] = "", cmd[512];
	struct tf_storage *s = NULL;

	/* plain ext4 made by hand, without -O encrypt */
	int fd = open(f->img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)IMG_BYTES), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "mkfs.ext4 -q -F -O ^encrypt %s </dev/null >/dev/null 2>&1",
		 f->img);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(
		tf_storage_attach(f->img, f->mnt, &s, err, sizeof(err)),
		-EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "encrypt"));
	assert_false(mounted_at(f->mnt, NULL, 0, NULL, 0));
	assert_int_equal(loops_backed_by(f->img), 0);

	/* not ext4 at all */
	fd = open(f->img, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)IMG_BYTES), 0);
	close(fd);
	assert_int_equal(
		tf_storage_attach(f->img, f->mnt, &s, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "not an ext4 image"));
	assert_int_equal(loops_backed_by(f->img), 0);
}

static void test_attach_dir_checks(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	struct tf_storage *d = NULL;

	/* not ext4 */
	assert_int_equal(tf_storage_attach_dir("/proc", &d, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not on ext4"));
	assert_int_equal(tf_storage_attach_dir("/nonexistent-twofold", &d, err,
					       sizeof(err)),
			 -ENOENT);

	/* an encrypted directory cannot hold personas' own policies */
	uint8_t key[TF_FSCRYPT_KEY_BYTES], id[TF_FSCRYPT_ID_BYTES];
	char sub[PATH_MAX];
	make_image(f);
	attach(f);
	int dfd = make_encrypted_dir(f, "enc", key, id);
	close(dfd);
	snprintf(sub, sizeof(sub), "%s/enc", f->mnt);
	assert_int_equal(tf_storage_attach_dir(sub, &d, err, sizeof(err)),
			 -EEXIST);
	assert_null(d);
	assert_int_equal(
		tf_fscrypt_evict(tf_storage_root_fd(f->s), id, 50, NULL), 0);
}

static void test_policy_semantics(void **state)
{
	struct fx *f = *state;
	uint8_t key[TF_FSCRYPT_KEY_BYTES], key2[TF_FSCRYPT_KEY_BYTES];
	uint8_t id[TF_FSCRYPT_ID_BYTES], id2[TF_FSCRYPT_ID_BYTES],
		got[TF_FSCRYPT_ID_BYTES];
	enum tf_key_status st;

	make_image(f);
	attach(f);
	int root = tf_storage_root_fd(f->s);
	int dfd = make_encrypted_dir(f, "a", key, id);

	/* same policy again: 0; the identifier reads back */
	assert_int_equal(tf_fscrypt_set_policy(dfd, id), 0);
	assert_int_equal(tf_fscrypt_get_policy_id(dfd, got), 0);
	assert_memory_equal(got, id, TF_FSCRYPT_ID_BYTES);

	/* adding the same key again gives the same identifier */
	assert_int_equal(tf_fscrypt_add_key(root, key, got), 0);
	assert_memory_equal(got, id, TF_FSCRYPT_ID_BYTES);

	/* another key's policy on the same dir: -EEXIST */
	assert_int_equal(getrandom(key2, sizeof(key2), 0),
			 (ssize_t)sizeof(key2));
	assert_int_equal(tf_fscrypt_add_key(root, key2, id2), 0);
	assert_memory_not_equal(id, id2, TF_FSCRYPT_ID_BYTES);
	assert_int_equal(tf_fscrypt_set_policy(dfd, id2), -EEXIST);

	/* a non-empty unencrypted dir cannot be encrypted */
	assert_int_equal(mkdirat(root, "b", 0700), 0);
	int bfd = openat(root, "b", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(bfd >= 0);
	write_file_at(bfd, "x", "x");
	assert_int_equal(tf_fscrypt_set_policy(bfd, id2), -ENOTEMPTY);
	close(bfd);

	/* a policy needs its key in the keyring (v2), even for root */
	assert_int_equal(tf_fscrypt_evict(root, id2, 50, NULL), 0);
	assert_int_equal(mkdirat(root, "c", 0700), 0);
	int cfd = openat(root, "c", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(cfd >= 0);
	assert_int_equal(tf_fscrypt_set_policy(cfd, id2), -ENOKEY);
	assert_int_equal(tf_fscrypt_get_policy_id(cfd, got), -ENODATA);
	close(cfd);

	/* status and removal of keys that are not there */
	assert_int_equal(tf_fscrypt_key_status(root, id2, &st), 0);
	assert_int_equal(st, TF_KEY_ABSENT);
	assert_int_equal(tf_fscrypt_remove_key(root, id2, NULL), -ENOKEY);
	assert_int_equal(tf_fscrypt_key_status(root, id, &st), 0);
	assert_int_equal(st, TF_KEY_PRESENT);

	close(dfd);
	assert_int_equal(tf_fscrypt_evict(root, id, 50, NULL), 0);
}

static void test_canary_encrypted_at_rest(void **state)
{
	struct fx *f = *state;
	uint8_t key[TF_FSCRYPT_KEY_BYTES], id[TF_FSCRYPT_ID_BYTES],
		id_again[TF_FSCRYPT_ID_BYTES];
	enum tf_key_status st;
	unsigned tries = 0;

	make_image(f);
	attach(f);
	int root = tf_storage_root_fd(f->s);
	int dfd = make_encrypted_dir(f, "data", key, id);
	write_file_at(dfd, canary_name, canary_text);
	/* control: the same kind of text outside the encrypted dir must be
	 * found in the raw image, proving the search below can succeed */
	write_file_at(root, "control", control_text);
	close(dfd);

	assert_int_equal(tf_fscrypt_evict(root, id, 50, &tries), 0);
	assert_true(tries >= 1);
	assert_int_equal(tf_fscrypt_key_status(root, id, &st), 0);
	assert_int_equal(st, TF_KEY_ABSENT);

	/* the directory carries the encrypt flag (what lsattr -d shows as E) */
	dfd = openat(root, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	int flags = 0;
	assert_int_equal(ioctl(dfd, FS_IOC_GETFLAGS, &flags), 0);
	assert_true(flags & FS_ENCRYPT_FL);

	/* without the key: one entry, under an encoded name; opening it gives
	 * ENOKEY, and the plaintext name does not exist */
	DIR *d = fdopendir(dup(dfd));
	struct dirent *de;
	char encoded[NAME_MAX + 1] = "";
	int entries = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		entries++;
		snprintf(encoded, sizeof(encoded), "%s", de->d_name);
	}
	closedir(d);
	assert_int_equal(entries, 1);
	assert_string_not_equal(encoded, canary_name);
	assert_null(strstr(encoded, "canary"));
	assert_int_equal(openat(dfd, encoded, O_RDONLY | O_CLOEXEC), -1);
	assert_int_equal(errno, ENOKEY);
	assert_int_equal(openat(dfd, canary_name, O_RDONLY | O_CLOEXEC), -1);
	assert_int_equal(errno, ENOENT);
	close(dfd);

	/* on disk: neither the content nor the name, but the control is */
	detach(f);
	drop_caches();
	assert_true(file_contains(f->img, control_text));
	assert_false(file_contains(f->img, canary_text));
	assert_false(file_contains(f->img, canary_name));

	/* re-attach, re-add the key: the canary is intact */
	attach(f);
	root = tf_storage_root_fd(f->s);
	assert_int_equal(tf_fscrypt_add_key(root, key, id_again), 0);
	assert_memory_equal(id, id_again, TF_FSCRYPT_ID_BYTES);
	dfd = openat(root, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	check_file_at(dfd, canary_name, canary_text);
	close(dfd);
	assert_int_equal(tf_fscrypt_evict(root, id, 50, NULL), 0);
}

static void test_busy_file_then_evict(void **state)
{
	struct fx *f = *state;
	uint8_t key[TF_FSCRYPT_KEY_BYTES], id[TF_FSCRYPT_ID_BYTES];
	enum tf_key_status st;
	bool busy = false;
	int pfd[2];
	char c;

	make_image(f);
	attach(f);
	int root = tf_storage_root_fd(f->s);
	int dfd = make_encrypted_dir(f, "data", key, id);
	write_file_at(dfd, canary_name, canary_text);

	/* a child holds the file open (a persona process that has not exited) */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0) {
		int fd = openat(dfd, canary_name, O_RDONLY | O_CLOEXEC);
		(void)!write(pfd[1], fd >= 0 ? "y" : "n", 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	assert_int_equal(c, 'y');
	close(dfd);

	assert_int_equal(tf_fscrypt_remove_key(root, id, &busy), 0);
	assert_true(busy);
	assert_int_equal(tf_fscrypt_key_status(root, id, &st), 0);
	assert_int_equal(st, TF_KEY_INCOMPLETELY_REMOVED);
	/* while the file is held, a short evict cannot finish */
	assert_int_equal(tf_fscrypt_evict(root, id, 2, NULL), -EBUSY);

	/* the persona's processes are killed; evict then reaches ABSENT */
	assert_int_equal(kill(f->child, SIGKILL), 0);
	assert_int_equal(waitpid(f->child, NULL, 0), f->child);
	f->child = -1;
	assert_int_equal(tf_fscrypt_evict(root, id, 100, NULL), 0);
	assert_int_equal(tf_fscrypt_key_status(root, id, &st), 0);
	assert_int_equal(st, TF_KEY_ABSENT);

	/* locked from any mount namespace: the key was in the filesystem
	 * keyring, not in some process's */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char encoded[NAME_MAX + 1] = "";
		if (unshare(CLONE_NEWNS) < 0)
			_exit(10);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/data", f->mnt);
		DIR *d = opendir(path);
		struct dirent *de;
		if (!d)
			_exit(11);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				snprintf(encoded, sizeof(encoded), "%s",
					 de->d_name);
		int fd = openat(dirfd(d), encoded, O_RDONLY | O_CLOEXEC);
		_exit(fd < 0 && errno == ENOKEY ? 0 : 12);
	}
	int wst = 0;
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
}

static int failing_syncfs(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

/* A sync error (the host under a sparse image filled up) must never keep
 * the key in the kernel: it is reported, and the key is removed anyway. */
static void test_evict_sync_error_still_removes(void **state)
{
	struct fx *f = *state;
	uint8_t key[TF_FSCRYPT_KEY_BYTES], id[TF_FSCRYPT_ID_BYTES];
	struct tf_fscrypt_evict_info info;
	enum tf_key_status st;

	make_image(f);
	attach(f);
	int root = tf_storage_root_fd(f->s);
	int dfd = make_encrypted_dir(f, "data", key, id);
	write_file_at(dfd, canary_name, canary_text);
	close(dfd);

	tf_fscrypt_syncfs_hook = failing_syncfs;
	int r = tf_fscrypt_evict_ex(root, id, 50, 1000, &info);
	tf_fscrypt_syncfs_hook = syncfs;
	assert_int_equal(r, -EIO);
	assert_int_equal(info.sync_err, -EIO);
	assert_int_equal(info.status, TF_KEY_ABSENT);
	assert_true(info.tries >= 1);
	assert_int_equal(tf_fscrypt_key_status(root, id, &st), 0);
	assert_int_equal(st, TF_KEY_ABSENT);
}

/* A time budget bounds the evict of a busy key; the status says it is
 * still incompletely removed, and a later evict finishes it. A key in
 * that state can be added again (an unlock during a pending removal). */
static void test_evict_budget_and_readd(void **state)
{
	struct fx *f = *state;
	uint8_t key[TF_FSCRYPT_KEY_BYTES], id[TF_FSCRYPT_ID_BYTES],
		id2[TF_FSCRYPT_ID_BYTES];
	struct tf_fscrypt_evict_info info;
	enum tf_key_status st;
	int pfd[2];
	char c;

	make_image(f);
	attach(f);
	int root = tf_storage_root_fd(f->s);
	int dfd = make_encrypted_dir(f, "data", key, id);
	write_file_at(dfd, canary_name, canary_text);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0) {
		int fd = openat(dfd, canary_name, O_RDONLY | O_CLOEXEC);
		(void)!write(pfd[1], fd >= 0 ? "y" : "n", 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	assert_int_equal(c, 'y');

	/* many tries allowed, but only 100 ms */
	assert_int_equal(tf_fscrypt_evict_ex(root, id, 100000, 100, &info),
			 -EBUSY);
	assert_int_equal(info.status, TF_KEY_INCOMPLETELY_REMOVED);
	assert_int_equal(info.sync_err, 0);

	/* re-adding makes it present again; the file is readable */
	assert_int_equal(tf_fscrypt_add_key(root, key, id2), 0);
	assert_memory_equal(id, id2, sizeof(id));
	assert_int_equal(tf_fscrypt_key_status(root, id, &st), 0);
	assert_int_equal(st, TF_KEY_PRESENT);
	check_file_at(dfd, canary_name, canary_text);
	close(dfd);

	/* one try, no wait: still busy */
	assert_int_equal(tf_fscrypt_evict_ex(root, id, 1, 0, &info), -EBUSY);
	assert_int_equal(info.tries, 1);
	assert_int_equal(info.status, TF_KEY_INCOMPLETELY_REMOVED);
	assert_int_equal(kill(f->child, SIGKILL), 0);
	assert_int_equal(waitpid(f->child, NULL, 0), f->child);
	f->child = -1;
	assert_int_equal(tf_fscrypt_evict_ex(root, id, 100, 1000, &info), 0);
	assert_int_equal(info.status, TF_KEY_ABSENT);
}

static void test_full_image_enospc(void **state)
{
	struct fx *f = *state;
	uint8_t key[TF_FSCRYPT_KEY_BYTES], id[TF_FSCRYPT_ID_BYTES];
	char *buf = calloc(1, 1 << 20);
	uint64_t freeb = 0;
	struct statvfs sv;
	int r = 0;

	assert_non_null(buf);
	make_image(f);
	attach(f);
	int root = tf_storage_root_fd(f->s);
	int dfd = make_encrypted_dir(f, "data", key, id);
	int fd = openat(dfd, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 256 && r == 0; i++) /* 256 MiB > image */
		r = tf_write_full(fd, buf, 1 << 20);
	if (r == 0)
		r = fsync(fd) < 0 ? -errno : 0;
	assert_int_equal(r, -ENOSPC);
	close(fd);
	free(buf);

	/* still a healthy read-write filesystem */
	assert_int_equal(fstatvfs(root, &sv), 0);
	assert_false(sv.f_flag & ST_RDONLY);
	assert_int_equal(unlinkat(dfd, "big", 0), 0);
	assert_int_equal(syncfs(root), 0);
	write_file_at(dfd, canary_name, canary_text);
	check_file_at(dfd, canary_name, canary_text);
	assert_int_equal(tf_storage_free_bytes(f->s, &freeb), 0);
	assert_true(freeb > IMG_BYTES / 2);
	close(dfd);
	assert_int_equal(tf_fscrypt_evict(root, id, 50, NULL), 0);
}

static void test_stale_cleanup_after_crash(void **state)
{
	struct fx *f = *state;
	int wst = 0;

	make_image(f);
	assert_int_equal(tf_storage_cleanup_stale(f->mnt),
			 0); /* nothing mounted */

	/* the "daemon" attaches and dies without detaching (kill -9) */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tf_storage *s = NULL;
		if (tf_storage_attach(f->img, f->mnt, &s, NULL, 0) < 0)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFSIGNALED(wst));
	assert_true(mounted_at(f->mnt, NULL, 0, NULL, 0));
	assert_int_equal(loops_backed_by(f->img), 1);

	assert_int_equal(tf_storage_cleanup_stale(f->mnt), 1);
	assert_false(mounted_at(f->mnt, NULL, 0, NULL, 0));
	assert_int_equal(wait_no_loops(f->img), 0);

	/* and the next start can attach again */
	attach(f);
	detach(f);
	assert_int_equal(wait_no_loops(f->img), 0);
}

static void test_detach_busy_is_lazy(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	make_image(f);
	attach(f);
	snprintf(path, sizeof(path), "%s/held", f->mnt);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	/* a file still open: detach reports -EBUSY but the tree is detached */
	assert_int_equal(tf_storage_detach(f->s), -EBUSY);
	f->s = NULL;
	assert_false(mounted_at(f->mnt, NULL, 0, NULL, 0));
	assert_int_equal(loops_backed_by(f->img), 1);
	close(fd);
	/* last user gone: the filesystem and the autoclear loop go with it */
	assert_int_equal(wait_no_loops(f->img), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_image_create_allocated_and_exclusive, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_mkfs_missing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mkfs_failure_removes_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_attach_mounts_ext4_with_encrypt, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_attach_refuses_image_without_encrypt, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_attach_dir_checks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_policy_semantics, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_canary_encrypted_at_rest,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_file_then_evict,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_evict_sync_error_still_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_budget_and_readd,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_image_enospc, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_cleanup_after_crash,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_busy_is_lazy, setup,
						teardown),
	};
	if (geteuid() != 0) {
		fprintf(stderr, "storage tests need root (loop devices, mount, "
				"fscrypt)\n");
		return 77; /* meson: skipped */
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
