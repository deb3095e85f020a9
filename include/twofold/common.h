/* SPDX-License-Identifier: ISC */
/*
 * Common conventions (STYLE.md 3, 4, 6, 7).
 *
 * Error convention: every function returns int; 0 or a positive count on
 * success, -errno on failure. Library code never prints and never exits.
 * Output parameters are written only on success. Destructors accept NULL.
 */
#ifndef TWOFOLD_COMMON_H
#define TWOFOLD_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define TF_EXPORT __attribute__((visibility("default")))
#define TF_WUR __attribute__((warn_unused_result))
#define TF_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define TF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define TF_UNUSED __attribute__((unused))
#define TF_NORETURN __attribute__((noreturn))

#define TF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TF_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Returns -errno from a libc call that sets errno (never 0 by accident). */
static inline int tf_negerrno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* ---- scope-bound resources (crun, systemd) ---- */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void tf_freep(void *p)
{
	free(*(void **)p);
	*(void **)p = NULL;
}
static inline void tf_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -1;
}
static inline void tf_closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		closedir(*d);
		errno = saved;
	}
	*d = NULL;
}
static inline void tf_fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
	}
	*f = NULL;
}
#define _cleanup_free_ _cleanup_(tf_freep)
#define _cleanup_close_ _cleanup_(tf_closep)
/* for a stream only read: a written one must check fclose's result */
#define _cleanup_fclose_ _cleanup_(tf_fclosep)
#define _cleanup_closedir_ _cleanup_(tf_closedirp)

/* Hand ownership on: returns the value and empties the variable. */
#define steal_pointer(pp)                                                      \
	({                                                                     \
		__auto_type _p = *(pp);                                        \
		*(pp) = NULL;                                                  \
		_p;                                                            \
	})
#define steal_fd(fdp)                                                          \
	({                                                                     \
		int _fd = *(fdp);                                              \
		*(fdp) = -1;                                                   \
		_fd;                                                           \
	})

/* ---- little-endian codecs (every on-disk and on-wire integer) ---- */

static inline void tf_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void tf_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tf_put_le64(uint8_t *p, uint64_t v)
{
	tf_put_le32(p, (uint32_t)v);
	tf_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t tf_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t tf_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t tf_get_le64(const uint8_t *p)
{
	return (uint64_t)tf_get_le32(p) | (uint64_t)tf_get_le32(p + 4) << 32;
}

/* ---- small helpers (util.c) ---- */

/* Constant-time comparison; returns 0 if equal (libsodium semantics). */
TF_WUR int tf_memeq_ct(const void *a, const void *b, size_t len);

/* Wipe memory the compiler may not elide. */
void tf_memzero(void *p, size_t len);

/* Read/write exactly len bytes, retrying on EINTR and short transfers. */
TF_WUR ssize_t tf_read_full(int fd, void *buf, size_t len) TF_NONNULL(2);
TF_WUR int tf_write_full(int fd, const void *buf, size_t len);

/* Read a whole small file (at most max bytes; -EFBIG beyond) into a fresh
 * NUL-terminated buffer. dirfd may be AT_FDCWD. */
TF_WUR int tf_read_file_at(int dirfd, const char *path, size_t max, char **out,
			   size_t *outlen) TF_NONNULL(2, 4);

/* A DIR* of its own on the directory path under dfd (path "." for dfd
 * itself): opened anew with O_CLOEXEC | O_DIRECTORY (and O_NOFOLLOW when
 * nofollow), so dfd stays the caller's and readdir positions are not
 * shared. */
TF_WUR int tf_opendir_at(int dfd, const char *path, bool nofollow, DIR **out)
	TF_NONNULL(2, 4);

/* Create the directory and parents (mode for the new ones). */
TF_WUR int tf_mkdir_p(const char *path, mode_t mode);

/* Strict decimal parsers: whole string, in range, no sign surprises. */
TF_WUR int tf_parse_u64(const char *s, uint64_t max, uint64_t *out)
	TF_NONNULL(1, 3);
/* Sizes like 1G, 512M, 4096, 64K (powers of 1024). */
TF_WUR int tf_parse_size(const char *s, uint64_t *out) TF_NONNULL(1, 2);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC: stops while the
 * machine is suspended). For durations and short wait budgets. */
uint64_t tf_now_ns(void);
/* Boot clock in nanoseconds (CLOCK_BOOTTIME: counts time suspended, cannot
 * be set). For every security timer (lock_evict_after and the like): a
 * phone suspended while locked must count that time, or it keeps its key
 * for as long as it sleeps. */
uint64_t tf_boottime_ns(void);

/* Sleep at least us microseconds (ms milliseconds): nanosleep, resumed
 * with the time left when a signal interrupts it. For short retry waits. */
void tf_sleep_us(uint64_t us);
static inline void tf_sleep_ms(unsigned ms)
{
	tf_sleep_us((uint64_t)ms * 1000);
}

/* Fault injection for crash-safety tests: if TWOFOLD_FAULT names this
 * point, the process kills itself with SIGKILL right here, as a power cut
 * or `kill -9` would. Used only at documented points in state changes. */
void tf_fault_point(const char *name);
/* The same switch for an error path rather than a crash: true if
 * TWOFOLD_FAULT names this point, and the caller then fails as documented
 * there (e.g. "evict-syncfs-eio": the evict's syncfs returns EIO). */
bool tf_fault_injected(const char *name);

/* Safe string copy; returns -ENAMETOOLONG when it does not fit. */
TF_WUR int tf_strlcpy(char *dst, const char *src, size_t cap);

/* Persona and other names: [a-z][a-z0-9_-]{0,31}. */
TF_WUR bool tf_name_valid(const char *name);

#endif
