/* SPDX-License-Identifier: ISC */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "twofold/common.h"

int tf_memeq_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	/* (d - 1) >> 8 is 1 only when d == 0, without a data-dependent branch */
	return (int)(1 & (((unsigned)d - 1) >> 8)) - 1;
}

void tf_memzero(void *p, size_t len)
{
	if (p == NULL || len == 0)
		return;
	explicit_bzero(p, len);
}

ssize_t tf_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tf_negerrno();
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int tf_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tf_negerrno();
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int tf_read_file_at(int dirfd, const char *path, size_t max, char **out,
		    size_t *outlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	/* O_NONBLOCK: a FIFO planted at path must not hang the caller in
	 * open() (it is then refused as not a regular file) */
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return tf_negerrno();
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc(max + 1);
	if (buf == NULL)
		return -ENOMEM;
	/* read one past the bound to notice a file that grew meanwhile */
	n = tf_read_full(fd, buf, max + 1);
	if (n < 0)
		return (int)n;
	if ((size_t)n > max)
		return -EFBIG;
	buf[n] = '\0';
	if (outlen)
		*outlen = (size_t)n;
	*out = steal_pointer(&buf);
	return 0;
}

int tf_opendir_at(int dfd, const char *path, bool nofollow, DIR **out)
{
	int fd = openat(dfd, path,
			O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				(nofollow ? O_NOFOLLOW : 0));
	DIR *d;

	if (fd < 0)
		return tf_negerrno();
	d = fdopendir(fd);
	if (d == NULL) {
		int r = tf_negerrno();

		close(fd);
		return r;
	}
	*out = d;
	return 0;
}

int tf_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return tf_negerrno();
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return tf_negerrno();
	return 0;
}

int tf_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int tf_parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t len;
	unsigned shift = 0;
	uint64_t v;
	int r;

	len = strlen(s);
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 'K':
	case 'k': shift = 10; break;
	case 'M':
	case 'm': shift = 20; break;
	case 'G':
	case 'g': shift = 30; break;
	case 'T':
	case 't': shift = 40; break;
	default: break;
	}
	if (shift)
		num[--len] = '\0';
	r = tf_parse_u64(num, UINT64_MAX >> shift, &v);
	if (r < 0)
		return r;
	*out = v << shift;
	return 0;
}

uint64_t tf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tf_boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tf_sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
			      .tv_nsec = (long)(us % 1000000) * 1000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void tf_fault_point(const char *name)
{
	const char *want = secure_getenv("TWOFOLD_FAULT");

	if (want == NULL)
		return;
	/* "stop:<point>": stop there instead, so a test can look at the
	 * process in the middle of the operation (memscan.py), then CONT */
	if (strncmp(want, "stop:", 5) == 0 && strcmp(want + 5, name) == 0)
		kill(getpid(), SIGSTOP);
	else if (strcmp(want, name) == 0)
		kill(getpid(), SIGKILL);
}

bool tf_fault_injected(const char *name)
{
	const char *want = secure_getenv("TWOFOLD_FAULT");

	return want != NULL && strcmp(want, name) == 0;
}

int tf_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t len = strlen(src);

	if (cap == 0 || len >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, len + 1);
	return 0;
}

bool tf_name_valid(const char *name)
{
	size_t len = 0;

	if (name == NULL || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	for (const char *p = name; *p; p++, len++) {
		bool ok = (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
		if (!ok || len >= 32)
			return false;
	}
	return true;
}
