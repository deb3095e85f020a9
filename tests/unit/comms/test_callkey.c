/* SPDX-License-Identifier: ISC */
/* A call's media key chain (src/comms/callkey.c), both suites: the
 * schedule recomputed here (base(e+1) = HKDF(base(e), "twofold call v1
 * next"), KID = e << 3 | role); a sender stepping every few frames and a
 * receiver following it, reordered frames across a step opened within
 * the grace; a KID two ahead refused, a previous epoch's KID refused once
 * its grace is over; and the old bases and keys gone from the process's
 * whole memory (read through /proc/self/mem) once stepped past, with the
 * same scan finding them while they are in use (the control). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "twofold/sframe.h"

#include "callkey.h"

#define MASK 0x5c
#define CHUNK (1u << 20)

static int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

/* How often the bytes whose masked form is masked[0..n) occur in this
 * process's readable memory. The needle itself is never in memory
 * unmasked here: each chunk read is masked instead, in a buffer of its
 * own mapping that the scan skips. */
static int scan(const uint8_t *masked, size_t n)
{
	static uint8_t *buf;
	char line[512];
	FILE *maps;
	int fd, hits = 0;

	if (!buf) {
		buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(buf != MAP_FAILED);
	}
	maps = fopen("/proc/self/maps", "re");
	fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	assert_non_null(maps);
	assert_true(fd >= 0);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perm[8];

		/* mappings of 256 MiB and more are reservations, not
		 * memory (ASan's shadow and allocator under the sanitizer
		 * build): the keys live in small secure mappings, the
		 * stack and the heap */
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 ||
		    perm[0] != 'r' || strstr(line, "[vvar") ||
		    lo == (unsigned long)buf || hi - lo >= (256ul << 20))
			continue;
		for (unsigned long a = lo; a < hi; a += CHUNK - n) {
			size_t want = hi - a < CHUNK ? hi - a : CHUNK;
			ssize_t got = pread(fd, buf, want, (off_t)a);

			if (got < (ssize_t)n)
				break;
			for (ssize_t i = 0; i < got; i++)
				buf[i] ^= MASK;
			for (const uint8_t *p = buf;
			     (p = memmem(p, (size_t)got - (size_t)(p - buf),
					 masked, n));
			     p++) {
				hits++;
				if (getenv("CALLKEY_DEBUG"))
					fprintf(stderr, "hit %lx in %s",
						a + (unsigned long)(p - buf),
						line);
			}
			if ((size_t)got < want || a + want >= hi)
				break;
		}
	}
	memset(buf, 0, CHUNK);
	fclose(maps);
	close(fd);
	return hits;
}

static __attribute__((noinline)) void mask(uint8_t *out, uint8_t *raw, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = raw[i] ^ MASK;
	tf_memzero(raw, n);
}

static __attribute__((noinline)) void unmask(uint8_t *out, const uint8_t *m,
					     size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = m[i] ^ MASK;
}

/* base(e + 1) from base(e), as the protocol document says */
static void next_base(const struct tf_suite *s, const uint8_t *b, uint8_t *o)
{
	static const char info[] = "twofold call v1 next";

	assert_int_equal(tf_kdf(s, o, 32, b, 32, NULL, 0, (const uint8_t *)info,
				sizeof(info) - 1),
			 0);
}

static int seal(const struct tf_callkey_tx *t, uint64_t ctr, uint8_t *fr)
{
	uint8_t pt[8];

	memcpy(pt, &ctr, 8);
	return tf_sframe_seal(tf_callkey_tx_key(t), ctr, pt, 8, fr, 64);
}

/* open fr with the receiver as call.c does: 0 opened, -ENOKEY refused */
static int open_rx(struct tf_callkey_rx *r, const uint8_t *fr, size_t n,
		   uint64_t now)
{
	const struct tf_sframe_key *k;
	uint64_t kid, ctr;
	uint8_t pt[16];
	int rc;

	assert_true(tf_sframe_peek(fr, n, &kid, &ctr) > 0);
	k = tf_callkey_rx_find(r, kid, now);
	if (!k)
		return -ENOKEY;
	rc = tf_sframe_open(k, fr, n, pt, sizeof(pt));
	if (rc < 0)
		return rc;
	assert_int_equal(rc, 8);
	assert_memory_equal(pt, &ctr, 8);
	return tf_callkey_rx_opened(r, kid, now) < 0 ? -EIO : 0;
}

static void chain(uint8_t suite)
{
	const struct tf_suite *s = tf_suite_by_id(suite);
	struct tf_callkey_tx *t = NULL;
	struct tf_callkey_rx *r = NULL;
	uint8_t *b, m1[32], m2[32], m3[32], raw[32], fr[64], late[64];
	uint64_t now = 1000000, kid, ctr;
	int n, nlate;

	assert_non_null(s);
	/* random (a constant would sit in the binary's read-only data),
	 * in secure memory that is unmapped once the chains have it, so
	 * the test itself keeps no copy on its stack */
	b = tf_secure_alloc(32);
	if (!b)
		abort(); /* (assert_non_null does not tell the compiler) */
	assert_int_equal(tf_random(b, 32), 0);
	if (getenv("CALLKEY_DEBUG"))
		fprintf(stderr, "b %p raw %p fr %p late %p\n", (void *)b,
			(void *)raw, (void *)fr, (void *)late);
	/* the expected bases of epochs 1..3, kept masked */
	next_base(s, b, raw);
	mask(m2, raw, 32);
	unmask(raw, m2, 32);
	{
		uint8_t b3[32];
		next_base(s, raw, b3);
		tf_memzero(raw, 32);
		mask(m3, b3, 32);
	}
	assert_int_equal(tf_callkey_tx_new(s, b, 1, &t), 0);
	assert_int_equal(tf_callkey_rx_new(s, b, 1, &r), 0);
	mask(m1, b, 32); /* wipes b */
	tf_secure_free(b);

	/* epoch 1: KID 9, one KID byte */
	n = seal(t, 1u << 24, fr);
	assert_true(n > 0);
	assert_true(tf_sframe_peek(fr, (size_t)n, &kid, &ctr) > 0);
	assert_int_equal(kid, tf_callkey_kid(1, 1));
	assert_int_equal(kid, 9);
	assert_int_equal(open_rx(r, fr, (size_t)n, now), 0);
	/* the control: base 1 is in the sender's memory while in use */
	assert_true(scan(m1, 32) >= 1);

	/* step the sender every 5 frames over 4 epochs; the receiver
	 * follows; the last frame of each epoch is held back and delivered
	 * after the next epoch's first (reordered across the step) */
	nlate = 0;
	for (uint64_t f = 1; f < 20; f++) {
		if (f % 5 == 0)
			assert_int_equal(tf_callkey_tx_next(t), 0);
		n = seal(t, (1u << 24) + f, fr);
		assert_true(n > 0);
		if (f % 5 == 4) {
			memcpy(late, fr, (size_t)n);
			nlate = n;
			continue;
		}
		now += 20000;
		assert_int_equal(open_rx(r, fr, (size_t)n, now), 0);
		if (f % 5 == 0) {
			/* the held-back frame of the previous epoch */
			assert_true(tf_callkey_rx_has_prev(r));
			assert_int_equal(open_rx(r, late, (size_t)nlate, now),
					 0);
		}
	}
	assert_int_equal(tf_callkey_tx_epoch(t), 4);
	assert_int_equal(tf_callkey_rx_epoch(r), 4);

	/* the schedule: epoch 2's key is HKDF-next of base 1 */
	{
		struct tf_sframe_key *k2 = NULL;
		uint8_t pt[8];
		struct tf_callkey_tx *t2 = NULL;

		unmask(raw, m1, 32);
		assert_int_equal(tf_callkey_tx_new(s, raw, 1, &t2), 0);
		tf_memzero(raw, 32);
		assert_int_equal(tf_callkey_tx_next(t2), 0);
		n = seal(t2, 77, fr);
		unmask(raw, m2, 32);
		assert_int_equal(tf_sframe_key_derive(
					 s, raw, 32, tf_callkey_kid(2, 1), &k2),
				 0);
		tf_memzero(raw, 32);
		assert_int_equal(tf_sframe_open(k2, fr, (size_t)n, pt, 8), 8);
		tf_sframe_key_free(k2);
		tf_callkey_tx_free(t2);
	}

	/* a KID two ahead finds no key; nor one of epoch 2 after the
	 * grace of the step to 4 (epoch 3 within it still does) */
	assert_null(tf_callkey_rx_find(r, tf_callkey_kid(6, 1), now));
	assert_null(tf_callkey_rx_find(r, tf_callkey_kid(2, 1), now));
	assert_non_null(tf_callkey_rx_find(r, tf_callkey_kid(3, 1), now));
	assert_non_null(tf_callkey_rx_find(r, tf_callkey_kid(5, 1), now));
	assert_null(tf_callkey_rx_find(r, tf_callkey_kid(3, 1),
				       now + TF_CALLKEY_GRACE_US));
	assert_false(tf_callkey_rx_has_prev(r));
	/* another role's KID is not ours */
	assert_null(tf_callkey_rx_find(r, tf_callkey_kid(4, 2), now));

	/* forward secrecy in memory: bases 1..3 are nowhere any more (the
	 * sender and receiver hold base 4 / base 5) */
	assert_int_equal(scan(m1, 32), 0);
	assert_int_equal(scan(m2, 32), 0);
	assert_int_equal(scan(m3, 32), 0);

	tf_callkey_tx_free(t);
	tf_callkey_rx_free(r);
}

static void test_intl(void **state)
{
	(void)state;
	chain(TF_SUITE_INTL);
}

static void test_gm(void **state)
{
	(void)state;
	chain(TF_SUITE_GM);
}

static void test_bad(void **state)
{
	const struct tf_suite *s = tf_suite_by_id(TF_SUITE_INTL);
	struct tf_callkey_tx *t = NULL;
	uint8_t b[32] = {1};
	(void)state;

	assert_int_equal(tf_callkey_tx_new(s, b, 0, &t), -EINVAL);
	assert_int_equal(tf_callkey_tx_new(s, b, 8, &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intl),
		cmocka_unit_test(test_gm),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
