/* SPDX-License-Identifier: ISC */
/*
 * The device secret, <state>/device.secret. It is created by `twofold
 * init`, and the CLI links no crypto library (src/lib/meson.build), so this
 * file uses only getrandom(2) and the common helpers: it belongs in tf_base.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "twofold/atomicfile.h"
#include "src/lib/keys/internal.h"

static int fill_random(uint8_t *buf, size_t len)
{
	size_t done = 0;

	/* getrandom blocks until the pool is initialised (no GRND_NONBLOCK):
	 * a device secret drawn from an uninitialised pool would be guessable */
	while (done < len) {
		ssize_t n = getrandom(buf + done, len - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tf_negerrno();
		}
		done += (size_t)n;
	}
	return 0;
}

int tf_keys_devsecret_parse(const uint8_t *buf, size_t len, uint8_t *suite_id,
			    uint8_t *secret)
{
	if (len != TF_DEVSECRET_FILE_BYTES ||
	    memcmp(buf, TF_DEVSECRET_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] > TF_DEVSECRET_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[4] != TF_DEVSECRET_VERSION || buf[6] || buf[7] || buf[5] == 0)
		return -EBADMSG;
	*suite_id = buf[5];
	memcpy(secret, buf + 8, TF_DEVSECRET_BYTES);
	return 0;
}

int tf_devsecret_create(int statefd, uint8_t suite_id, unsigned flags)
{
	uint8_t buf[TF_DEVSECRET_FILE_BYTES];
	struct stat st;
	int r;

	if (suite_id == 0 || (flags & ~TF_DEVSECRET_FORCE))
		return -EINVAL;
	if (!(flags & TF_DEVSECRET_FORCE)) {
		if (fstatat(statefd, TF_DEVSECRET_FILE, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
			return -EEXIST;
		if (errno != ENOENT)
			return tf_negerrno();
	}
	memcpy(buf, TF_DEVSECRET_MAGIC, 4);
	buf[4] = TF_DEVSECRET_VERSION;
	buf[5] = suite_id;
	buf[6] = buf[7] = 0;
	r = fill_random(buf + 8, TF_DEVSECRET_BYTES);
	if (r == 0)
		r = tf_atomic_write_at(statefd, TF_DEVSECRET_FILE, buf,
				       sizeof(buf), 0600);
	tf_memzero(buf, sizeof(buf));
	return r;
}

int tf_devsecret_load(int statefd, uint8_t *suite_id,
		      uint8_t secret[static TF_DEVSECRET_BYTES])
{
	uint8_t buf[TF_DEVSECRET_FILE_BYTES + 1];
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	uint8_t sid;
	int r;

	/* O_NONBLOCK: a FIFO in its place is refused below, not waited on */
	fd = openat(statefd, TF_DEVSECRET_FILE,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : tf_negerrno();
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	/* like ssh refusing a private key others can read: a secret that
	 * group/other could read may already be copied; make the admin look */
	if ((st.st_mode & 077) != 0 || st.st_uid != geteuid())
		return -EPERM;
	/* read one byte more than expected to notice a longer file */
	n = tf_read_full(fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	r = tf_keys_devsecret_parse(buf, (size_t)n, &sid, secret);
	tf_memzero(buf, sizeof(buf));
	if (r < 0)
		return r;
	*suite_id = sid;
	return 0;
}
