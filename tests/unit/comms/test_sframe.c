/* SPDX-License-Identifier: ISC */
/* SFrame frames (src/lib/comms/sframe.c), both suites: RFC 9605 header
 * encodings for small and large KID/CTR, the key schedule and nonce
 * construction recomputed here from the suite's primitives, round trips,
 * a flipped bit anywhere refused, another KID or suite refused, truncated
 * frames refused, and the replay window. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/sframe.h"

static int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

static const uint8_t base[32] = {1,  2,	 3,  4,	 5,  6,	 7,  8,	 9,  10, 11,
				 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
				 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* RFC 9605 §4.3 (and its Appendix C.1 header vectors): KID, CTR, header */
static const struct {
	uint64_t kid, ctr;
	size_t len;
	uint8_t hdr[17];
} hdrs[] = {
	{0, 0, 1, {0x00}},
	{0, 7, 1, {0x07}},
	{7, 0, 1, {0x70}},
	{7, 7, 1, {0x77}},
	{0, 8, 2, {0x08, 0x08}},
	{0, 0xff, 2, {0x08, 0xff}},
	{0, 0x100, 3, {0x09, 0x01, 0x00}},
	{8, 0, 2, {0x80, 0x08}},
	{0xff, 0, 2, {0x80, 0xff}},
	{0x100, 0, 3, {0x90, 0x01, 0x00}},
	{0x100, 0x100, 5, {0x99, 0x01, 0x00, 0x01, 0x00}},
	{0xffff, 0xffffff, 6, {0x9a, 0xff, 0xff, 0xff, 0xff, 0xff}},
	{UINT64_MAX,
	 UINT64_MAX,
	 17,
	 {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
};

static void test_headers(void **state)
{
	const struct tf_suite *s;
	uint8_t pt[5] = "hello", fr[64], back[8];
	(void)state;

	tf_suite_foreach(i, s)
	{
		for (size_t j = 0; j < sizeof(hdrs) / sizeof(hdrs[0]); j++) {
			struct tf_sframe_key *k = NULL;
			uint64_t kid, ctr;
			int n;

			assert_int_equal(tf_sframe_key_derive(s, base,
							      sizeof(base),
							      hdrs[j].kid, &k),
					 0);
			n = tf_sframe_seal(k, hdrs[j].ctr, pt, sizeof(pt), fr,
					   sizeof(fr));
			assert_int_equal(n, (int)(hdrs[j].len + sizeof(pt) +
						  TF_SFRAME_TAG_BYTES));
			assert_int_equal(
				(size_t)n,
				tf_sframe_len(k, hdrs[j].ctr, sizeof(pt)));
			assert_memory_equal(fr, hdrs[j].hdr, hdrs[j].len);
			assert_int_equal(
				tf_sframe_peek(fr, (size_t)n, &kid, &ctr),
				(int)hdrs[j].len);
			assert_true(kid == hdrs[j].kid);
			assert_true(ctr == hdrs[j].ctr);
			assert_int_equal(tf_sframe_open(k, fr, (size_t)n, back,
							sizeof(back)),
					 (int)sizeof(pt));
			assert_memory_equal(back, pt, sizeof(pt));
			tf_sframe_key_free(k);
		}
	}
}

/* A non-minimal encoding parses (the spec allows it) but the header is
 * the associated data, so re-encoding a sealed frame's header fails. */
static void test_reencoded_header(void **state)
{
	const struct tf_suite *s;
	uint8_t fr[64], fr2[64], back[16];
	uint64_t kid, ctr;
	(void)state;

	tf_suite_foreach(i, s)
	{
		struct tf_sframe_key *k = NULL;
		int n;

		assert_int_equal(tf_sframe_key_derive(s, base, 16, 3, &k), 0);
		n = tf_sframe_seal(k, 5, (const uint8_t *)"abc", 3, fr,
				   sizeof(fr));
		assert_int_equal(n, 1 + 3 + 16);
		/* KID 3 CTR 5 written as X=0 K=3, Y=1 C=0 (one CTR byte 5) */
		fr2[0] = 0x38;
		fr2[1] = 5;
		memcpy(fr2 + 2, fr + 1, (size_t)n - 1);
		assert_int_equal(tf_sframe_peek(fr2, (size_t)n + 1, &kid, &ctr),
				 2);
		assert_true(kid == 3 && ctr == 5);
		assert_int_equal(tf_sframe_open(k, fr2, (size_t)n + 1, back,
						sizeof(back)),
				 -EBADMSG);
		tf_sframe_key_free(k);
	}
}

static void be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* The key schedule and nonce exactly as twofold/sframe.h documents them,
 * from the suite's own HKDF and raw AEAD. */
static void test_schedule(void **state)
{
	const struct tf_suite *s;
	(void)state;

	tf_suite_foreach(i, s)
	{
		const uint64_t kid = 0x1234, ctr = 0xabcdef;
		uint8_t info[64], key[32] = {0}, salt[24], nonce[24];
		uint8_t want[64], got[64], hdr[8];
		size_t nk = s->id == TF_SUITE_GM ? 16 : 32;
		size_t nn = s->aead_nonce_bytes, l, hl;
		uint16_t sid = (uint16_t)(0xF000 | s->id);
		struct tf_sframe_key *k = NULL;
		const uint8_t pt[] = "twenty ms of opus";
		int n;

		l = strlen("SFrame 1.0 Secret key ");
		memcpy(info, "SFrame 1.0 Secret key ", l);
		be(info + l, kid, 8);
		be(info + l + 8, sid, 2);
		assert_int_equal(s->hkdf(key, nk, base, sizeof(base), NULL, 0,
					 info, l + 10),
				 0);
		l = strlen("SFrame 1.0 Secret salt ");
		memcpy(info, "SFrame 1.0 Secret salt ", l);
		be(info + l, kid, 8);
		be(info + l + 8, sid, 2);
		assert_int_equal(s->hkdf(salt, nn, base, sizeof(base), NULL, 0,
					 info, l + 10),
				 0);
		memcpy(nonce, salt, nn);
		for (size_t b = 0; b < 8; b++)
			nonce[nn - 1 - b] ^= (uint8_t)(ctr >> (8 * b));
		/* header: X=1 K=1 (2 KID bytes), Y=1 C=2 (3 CTR bytes) */
		hdr[0] = 0x80 | 0x10 | 0x08 | 0x02;
		hdr[1] = 0x12;
		hdr[2] = 0x34;
		hdr[3] = 0xab;
		hdr[4] = 0xcd;
		hdr[5] = 0xef;
		hl = 6;
		memcpy(want, hdr, hl);
		assert_int_equal(
			s->aead_encrypt(want + hl, want + hl + sizeof(pt), pt,
					sizeof(pt), hdr, hl, nonce, key),
			0);

		assert_int_equal(
			tf_sframe_key_derive(s, base, sizeof(base), kid, &k),
			0);
		assert_int_equal(tf_sframe_key_suite(k), sid);
		assert_true(tf_sframe_key_kid(k) == kid);
		n = tf_sframe_seal(k, ctr, pt, sizeof(pt), got, sizeof(got));
		assert_int_equal(n, (int)(hl + sizeof(pt) + 16));
		assert_memory_equal(got, want, (size_t)n);
		tf_sframe_key_free(k);
	}
}

static void test_tamper(void **state)
{
	const struct tf_suite *s;
	(void)state;

	tf_suite_foreach(i, s)
	{
		struct tf_sframe_key *k = NULL, *other = NULL,
				     *wrongbase = NULL;
		uint8_t fr[128], back[128], base2[32];
		const uint8_t pt[40] = "a canary PCM sequence 0123456789";
		int n;

		assert_int_equal(
			tf_sframe_key_derive(s, base, sizeof(base), 300, &k),
			0);
		assert_int_equal(tf_sframe_key_derive(s, base, sizeof(base),
						      301, &other),
				 0);
		memcpy(base2, base, sizeof(base2));
		base2[31] ^= 1;
		assert_int_equal(tf_sframe_key_derive(s, base2, sizeof(base2),
						      300, &wrongbase),
				 0);
		n = tf_sframe_seal(k, 99999, pt, sizeof(pt), fr, sizeof(fr));
		assert_true(n > 0);
		/* the plaintext is not in the frame */
		assert_null(memmem(fr, (size_t)n, "canary", 6));
		for (int b = 0; b < n * 8; b++) {
			fr[b / 8] ^= (uint8_t)(1u << (b % 8));
			int r = tf_sframe_open(k, fr, (size_t)n, back,
					       sizeof(back));
			assert_true(r < 0);
			fr[b / 8] ^= (uint8_t)(1u << (b % 8));
		}
		assert_int_equal(tf_sframe_open(other, fr, (size_t)n, back,
						sizeof(back)),
				 -EKEYREJECTED);
		assert_int_equal(tf_sframe_open(wrongbase, fr, (size_t)n, back,
						sizeof(back)),
				 -EBADMSG);
		/* truncated: every shorter length fails, none reads past */
		for (int l = 0; l < n; l++)
			assert_true(tf_sframe_open(k, fr, (size_t)l, back,
						   sizeof(back)) < 0);
		assert_int_equal(tf_sframe_open(k, fr, (size_t)n, back, 3),
				 -ENOBUFS);
		assert_int_equal(tf_sframe_seal(k, 1, pt, sizeof(pt), fr, 20),
				 -ENOBUFS);
		assert_int_equal(
			tf_sframe_open(k, fr, (size_t)n, back, sizeof(back)),
			(int)sizeof(pt));
		tf_sframe_key_free(k);
		tf_sframe_key_free(other);
		tf_sframe_key_free(wrongbase);
	}
	/* a frame of one suite never opens under the other */
	{
		struct tf_sframe_key *a = NULL, *g = NULL;
		uint8_t fr[64], back[64];
		int n;

		assert_int_equal(tf_sframe_key_derive(tf_suite_by_name("intl"),
						      base, 32, 1, &a),
				 0);
		assert_int_equal(tf_sframe_key_derive(tf_suite_by_name("gm"),
						      base, 32, 1, &g),
				 0);
		n = tf_sframe_seal(a, 1, (const uint8_t *)"x", 1, fr,
				   sizeof(fr));
		assert_true(n > 0);
		assert_int_equal(
			tf_sframe_open(g, fr, (size_t)n, back, sizeof(back)),
			-EBADMSG);
		tf_sframe_key_free(a);
		tf_sframe_key_free(g);
	}
	/* base keys out of bounds */
	{
		struct tf_sframe_key *k = NULL;
		assert_int_equal(tf_sframe_key_derive(tf_suite_by_name("intl"),
						      base, 15, 1, &k),
				 -EINVAL);
		assert_null(k);
	}
}

static void test_window(void **state)
{
	struct tf_sframe_window w;
	(void)state;

	tf_sframe_window_init(&w);
	assert_int_equal(tf_sframe_window_update(&w, 5), 0);
	assert_int_equal(tf_sframe_window_update(&w, 5), -EALREADY);
	assert_int_equal(tf_sframe_window_check(&w, 5), -EALREADY);
	/* late but inside the window: accepted once */
	assert_int_equal(tf_sframe_window_update(&w, 3), 0);
	assert_int_equal(tf_sframe_window_update(&w, 3), -EALREADY);
	assert_int_equal(tf_sframe_window_update(&w, 4), 0);
	/* jump ahead: the old ones are now below the window */
	assert_int_equal(tf_sframe_window_update(&w, 5 + TF_SFRAME_WINDOW), 0);
	assert_int_equal(tf_sframe_window_check(&w, 5), -ESTALE);
	assert_int_equal(tf_sframe_window_check(&w, 6), 0);
	assert_int_equal(tf_sframe_window_update(&w, 6), 0);
	assert_int_equal(tf_sframe_window_update(&w, 6), -EALREADY);
	/* a slot reused after sliding is clear again */
	assert_int_equal(tf_sframe_window_update(&w, 6 + TF_SFRAME_WINDOW), 0);
	assert_int_equal(tf_sframe_window_check(&w, 6), -ESTALE);
	assert_int_equal(tf_sframe_window_check(&w, 7), 0);
	/* sequential run: every one accepted, every replay refused */
	tf_sframe_window_init(&w);
	for (uint64_t c = 0; c < 5000; c++)
		assert_int_equal(tf_sframe_window_update(&w, c), 0);
	for (uint64_t c = 5000 - TF_SFRAME_WINDOW; c < 5000; c++)
		assert_int_equal(tf_sframe_window_check(&w, c), -EALREADY);
	assert_int_equal(
		tf_sframe_window_check(&w, 5000 - TF_SFRAME_WINDOW - 1),
		-ESTALE);
	/* a huge jump (wrap-free) */
	assert_int_equal(tf_sframe_window_update(&w, UINT64_MAX), 0);
	assert_int_equal(tf_sframe_window_check(&w, UINT64_MAX), -EALREADY);
	assert_int_equal(tf_sframe_window_check(&w, UINT64_MAX - 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_reencoded_header),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
