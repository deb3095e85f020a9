/* SPDX-License-Identifier: ISC */
/*
 * Helper for bench/storage: drives the storage API so the benchmark
 * measures the same code paths the daemon uses. Subcommands:
 *   create IMG SIZE          sparse ext4 image with the encrypt feature
 *   attach IMG MNT           loop-mount it (stays mounted after we exit;
 *                            the loop device clears itself on unmount)
 *   detach MNT               unmount (tf_storage_cleanup_stale)
 *   encdir MNT DIR           random key into MNT's keyring, v2 policy on DIR;
 *                            prints the key identifier (hex)
 *   mkfiles DIR N SYNCDIR    create N small files in DIR, then syncfs
 *                            SYNCDIR's filesystem; prints seconds
 *   warm DIR                 stat and read every file in DIR (caches warm)
 *   evict MNT IDHEX          tf_fscrypt_evict; prints "seconds tries"
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twofold/secmem.h"
#include "twofold/storage.h"

static int usage(void)
{
	fprintf(stderr, "usage: tf-storage-bench create IMG SIZE | attach IMG "
			"MNT | detach MNT |\n"
			"       encdir MNT DIR | mkfiles DIR N SYNCDIR | warm "
			"DIR | evict MNT IDHEX\n");
	return 2;
}

static int die(const char *what, int r, const char *err)
{
	fprintf(stderr, "tf-storage-bench: %s: %s%s%s\n", what, strerror(-r),
		err && *err ? ": " : "", err ? err : "");
	return 1;
}

static int open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int cmd_encdir(const char *mnt, const char *dir)
{
	_cleanup_secure_ uint8_t *key = tf_secure_alloc(TF_FSCRYPT_KEY_BYTES);
	uint8_t id[TF_FSCRYPT_ID_BYTES];
	_cleanup_close_ int mfd = open_dir(mnt), dfd = -1;
	int r;

	if (!key || mfd < 0)
		return die("open", tf_negerrno(), mnt);
	if (getrandom(key, TF_FSCRYPT_KEY_BYTES, 0) != TF_FSCRYPT_KEY_BYTES)
		return die("getrandom", tf_negerrno(), NULL);
	if (mkdir(dir, 0700) < 0 || (dfd = open_dir(dir)) < 0)
		return die("mkdir", tf_negerrno(), dir);
	r = tf_fscrypt_add_key(mfd, key, id);
	if (r < 0)
		return die("add key", r, mnt);
	r = tf_fscrypt_set_policy(dfd, id);
	if (r < 0)
		return die("set policy", r, dir);
	for (size_t i = 0; i < sizeof(id); i++)
		printf("%02x", id[i]);
	printf("\n");
	return 0;
}

static int cmd_mkfiles(const char *dir, const char *nstr, const char *syncdir)
{
	static const char body[] = "small file body: twofold storage "
				   "benchmark, 64 bytes or so....\n";
	_cleanup_close_ int dfd = open_dir(dir), sfd = open_dir(syncdir);
	uint64_t n;
	if (dfd < 0 || sfd < 0)
		return die("open", tf_negerrno(), dir);
	if (tf_parse_u64(nstr, 10000000, &n) < 0)
		return usage();
	uint64_t t0 = tf_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%06llu", (unsigned long long)i);
		int fd = openat(dfd, name,
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return die("create", tf_negerrno(), name);
		int r = tf_write_full(fd, body, sizeof(body) - 1);
		close(fd);
		if (r < 0)
			return die("write", r, name);
	}
	/* Count the cost of getting the files to disk (encryption happens at
	 * writeback for fscrypt; gocryptfs encrypts in write()). */
	if (syncfs(sfd) < 0)
		return die("syncfs", tf_negerrno(), syncdir);
	printf("%.3f\n", (double)(tf_now_ns() - t0) / 1e9);
	return 0;
}

static int cmd_warm(const char *dir)
{
	_cleanup_close_ int dfd = open_dir(dir);
	char buf[4096];
	DIR *d;
	struct dirent *de;
	int n = 0;
	if (dfd < 0 || !(d = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 0))))
		return die("open", tf_negerrno(), dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
		n++;
	}
	closedir(d);
	printf("%d\n", n);
	return 0;
}

static int parse_id(const char *hex, uint8_t id[TF_FSCRYPT_ID_BYTES])
{
	if (strlen(hex) != 2 * TF_FSCRYPT_ID_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < TF_FSCRYPT_ID_BYTES; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		id[i] = (uint8_t)v;
	}
	return 0;
}

static int cmd_evict(const char *mnt, const char *hex)
{
	_cleanup_close_ int mfd = open_dir(mnt);
	uint8_t id[TF_FSCRYPT_ID_BYTES];
	unsigned tries = 0;
	if (mfd < 0)
		return die("open", tf_negerrno(), mnt);
	if (parse_id(hex, id) < 0)
		return usage();
	uint64_t t0 = tf_now_ns();
	int r = tf_fscrypt_evict(mfd, id, 100, &tries);
	uint64_t t1 = tf_now_ns();
	if (r < 0)
		return die("evict", r, mnt);
	printf("%.3f %u\n", (double)(t1 - t0) / 1e9, tries);
	return 0;
}

int main(int argc, char **argv)
{
	char err[1024] = "";
	int r;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "create") && argc == 4) {
		uint64_t size;
		if (tf_parse_size(argv[3], &size) < 0)
			return usage();
		r = tf_storage_image_create(argv[2], size, err, sizeof(err));
		return r < 0 ? die("create", r, err) : 0;
	}
	if (!strcmp(argv[1], "attach") && argc == 4) {
		struct tf_storage *s = NULL;
		r = tf_storage_attach(argv[2], argv[3], &s, err, sizeof(err));
		/* Deliberately not detached: the mount outlives this helper and
		 * `detach` removes it later. */
		return r < 0 ? die("attach", r, err) : 0;
	}
	if (!strcmp(argv[1], "detach") && argc == 3) {
		r = tf_storage_cleanup_stale(argv[2]);
		return r < 0 ? die("detach", r, argv[2]) : 0;
	}
	if (!strcmp(argv[1], "encdir") && argc == 4)
		return cmd_encdir(argv[2], argv[3]);
	if (!strcmp(argv[1], "mkfiles") && argc == 5)
		return cmd_mkfiles(argv[2], argv[3], argv[4]);
	if (!strcmp(argv[1], "warm") && argc == 3)
		return cmd_warm(argv[2]);
	if (!strcmp(argv[1], "evict") && argc == 4)
		return cmd_evict(argv[2], argv[3]);
	return usage();
}
