/* SPDX-License-Identifier: ISC */
/* Public crypto API: sealed blobs, key handles, signatures, key agreement,
 * hashing/derivation, for both suites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/crypto.h"

/* every suite of the registry (twofold/suite.h): tf_suite_at(i) */

static int setup(void **state)
{
	return tf_crypto_init() == 0 ? 0 : -1;
}

static void test_init_idempotent(void **state)
{
	assert_int_equal(tf_crypto_init(), 0);
	assert_int_equal(tf_crypto_init(), 0);
}

static void seal_open_one(const struct tf_suite *s, size_t ptlen)
{
	_cleanup_key_ struct tf_key *k = NULL;
	static const uint8_t ad[] = "persona=secure";
	uint8_t *pt = malloc(ptlen + 1), *blob, *back;
	size_t bloblen, backlen, cap = ptlen + tf_seal_overhead(s);

	assert_non_null(pt);
	blob = malloc(cap);
	back = malloc(ptlen + 1);
	assert_non_null(blob);
	assert_non_null(back);
	for (size_t i = 0; i < ptlen; i++)
		pt[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(tf_key_generate(s, TF_KEY_AEAD, &k), 0);
	assert_ptr_equal(tf_key_suite(k), s);
	assert_int_equal(
		tf_seal(k, ad, sizeof(ad), pt, ptlen, blob, cap, &bloblen), 0);
	assert_int_equal(bloblen, cap);
	assert_memory_equal(blob, TF_BLOB_MAGIC, 4);
	assert_int_equal(blob[4], TF_BLOB_VERSION);
	assert_int_equal(blob[5], s->id);
	assert_int_equal(tf_open(k, ad, sizeof(ad), blob, bloblen, back,
				 ptlen + 1, &backlen),
			 0);
	assert_int_equal(backlen, ptlen);
	if (ptlen)
		assert_memory_equal(back, pt, ptlen);
	/* wrong caller ad */
	assert_int_equal(tf_open(k, ad, sizeof(ad) - 1, blob, bloblen, back,
				 ptlen + 1, &backlen),
			 -EBADMSG);
	/* too small output buffer for seal */
	assert_int_equal(
		tf_seal(k, ad, sizeof(ad), pt, ptlen, blob, cap - 1, &bloblen),
		-ENOBUFS);
	free(pt);
	free(blob);
	free(back);
}

static void test_seal_open_roundtrip(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 255, 4096, 100000};

	for (size_t i = 0; tf_suite_at(i) != NULL; i++)
		for (size_t j = 0; j < TF_ARRAY_SIZE(sizes); j++)
			seal_open_one(tf_suite_at(i), sizes[j]);
}

static void test_seal_nonce_fresh(void **state)
{
	for (size_t i = 0; tf_suite_at(i) != NULL; i++) {
		const struct tf_suite *s = tf_suite_at(i);
		_cleanup_key_ struct tf_key *k = NULL;
		uint8_t a[64], b[64];
		size_t la, lb;

		assert_int_equal(tf_key_generate(s, TF_KEY_AEAD, &k), 0);
		assert_int_equal(tf_seal(k, NULL, 0, (const uint8_t *)"x", 1, a,
					 sizeof(a), &la),
				 0);
		assert_int_equal(tf_seal(k, NULL, 0, (const uint8_t *)"x", 1, b,
					 sizeof(b), &lb),
				 0);
		assert_int_equal(la, lb);
		assert_memory_not_equal(a + TF_BLOB_FIXED_HDR,
					b + TF_BLOB_FIXED_HDR,
					s->aead_nonce_bytes);
	}
}

/* The same 32 key bytes under each suite: a blob from one never opens
 * under the other. */
static void test_cross_suite(void **state)
{
	const struct tf_suite *intl = tf_suite_by_name("intl");
	const struct tf_suite *gm = tf_suite_by_name("gm");
	_cleanup_key_ struct tf_key *ki = NULL, *kg = NULL;
	uint8_t raw[TF_KEY_BYTES], blob[128], pt[128];
	size_t bl, pl;

	memset(raw, 0x5a, sizeof(raw));
	assert_int_equal(
		tf_key_import(intl, TF_KEY_AEAD, raw, sizeof(raw), &ki), 0);
	assert_int_equal(tf_key_import(gm, TF_KEY_AEAD, raw, sizeof(raw), &kg),
			 0);
	assert_int_equal(tf_seal(ki, NULL, 0, (const uint8_t *)"hello", 5, blob,
				 sizeof(blob), &bl),
			 0);
	assert_int_equal(tf_open(kg, NULL, 0, blob, bl, pt, sizeof(pt), &pl),
			 -EPROTONOSUPPORT);
	assert_int_equal(tf_seal(kg, NULL, 0, (const uint8_t *)"hello", 5, blob,
				 sizeof(blob), &bl),
			 0);
	assert_int_equal(tf_open(ki, NULL, 0, blob, bl, pt, sizeof(pt), &pl),
			 -EPROTONOSUPPORT);
	/* relabelling the suite byte does not help either: the header is in
	 * the associated data (and the layout differs) */
	blob[5] = TF_SUITE_INTL;
	assert_true(tf_open(ki, NULL, 0, blob, bl, pt, sizeof(pt), &pl) < 0);
}

static void test_tamper_and_truncate(void **state)
{
	for (size_t i = 0; tf_suite_at(i) != NULL; i++) {
		const struct tf_suite *s = tf_suite_at(i);
		_cleanup_key_ struct tf_key *k = NULL;
		static const uint8_t msg[] = "the quick brown fox";
		uint8_t blob[128], pt[128];
		size_t bl, pl = 12345;

		assert_int_equal(tf_key_generate(s, TF_KEY_AEAD, &k), 0);
		assert_int_equal(tf_seal(k, (const uint8_t *)"ad", 2, msg,
					 sizeof(msg), blob, sizeof(blob), &bl),
				 0);
		for (size_t pos = 0; pos < bl; pos++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				int r;

				blob[pos] ^= (uint8_t)(1u << bit);
				memset(pt, 0xee, sizeof(pt));
				r = tf_open(k, (const uint8_t *)"ad", 2, blob,
					    bl, pt, sizeof(pt), &pl);
				blob[pos] ^= (uint8_t)(1u << bit);
				if (pos == 5)
					/* the suite byte: names another
					 * (or no) suite */
					assert_int_equal(r, -EPROTONOSUPPORT);
				else if (pos < TF_BLOB_FIXED_HDR)
					assert_int_equal(r, -EINVAL);
				else
					assert_int_equal(r, -EBADMSG);
				assert_int_equal(pl, 12345); /* untouched */
				/* no unauthenticated plaintext left behind */
				for (size_t j = 0; j < sizeof(msg); j++)
					assert_true(pt[j] == 0 ||
						    pt[j] == 0xee);
			}
		}
		for (size_t len = 0; len < bl; len++)
			assert_true(tf_open(k, (const uint8_t *)"ad", 2, blob,
					    len, pt, sizeof(pt), &pl) < 0);
		/* shorter than header + tag is malformed, not a MAC failure */
		assert_int_equal(tf_open(k, (const uint8_t *)"ad", 2, blob,
					 TF_BLOB_FIXED_HDR +
						 s->aead_nonce_bytes +
						 s->aead_tag_bytes - 1,
					 pt, sizeof(pt), &pl),
				 -EINVAL);
		/* trailing garbage is a different ciphertext */
		blob[bl] = 0;
		assert_int_equal(tf_open(k, (const uint8_t *)"ad", 2, blob,
					 bl + 1, pt, sizeof(pt), &pl),
				 -EBADMSG);
		/* output buffer too small */
		assert_int_equal(tf_open(k, (const uint8_t *)"ad", 2, blob, bl,
					 pt, sizeof(msg) - 1, &pl),
				 -ENOBUFS);
		assert_int_equal(tf_open(k, (const uint8_t *)"ad", 2, blob, bl,
					 pt, sizeof(pt), &pl),
				 0);
		assert_int_equal(pl, sizeof(msg));
	}
}

static void test_wrong_use(void **state)
{
	for (size_t i = 0; tf_suite_at(i) != NULL; i++) {
		const struct tf_suite *s = tf_suite_at(i);
		_cleanup_key_ struct tf_key *aead = NULL, *sig = NULL,
					    *kx = NULL, *tmp = NULL;
		uint8_t buf[256], pk[TF_PK_MAX], out[TF_KX_BYTES], raw[32];
		size_t n;

		memset(raw, 1, sizeof(raw));
		assert_int_equal(tf_key_generate(s, TF_KEY_AEAD, &aead), 0);
		assert_int_equal(tf_key_generate(s, TF_KEY_SIGN, &sig), 0);
		assert_int_equal(tf_key_generate(s, TF_KEY_KX, &kx), 0);
		assert_int_equal(tf_key_public(kx, pk, sizeof(pk)), 0);

		assert_int_equal(
			tf_seal(sig, NULL, 0, raw, 1, buf, sizeof(buf), &n),
			-EINVAL);
		assert_int_equal(
			tf_seal(kx, NULL, 0, raw, 1, buf, sizeof(buf), &n),
			-EINVAL);
		assert_int_equal(tf_sign(aead, raw, 1, buf, sizeof(buf), &n),
				 -EINVAL);
		assert_int_equal(tf_sign(kx, raw, 1, buf, sizeof(buf), &n),
				 -EINVAL);
		assert_int_equal(tf_kx(sig, pk, out), -EINVAL);
		assert_int_equal(tf_kx(aead, pk, out), -EINVAL);
		assert_int_equal(tf_key_public(aead, pk, sizeof(pk)), -EINVAL);
		assert_int_equal(tf_key_public(sig, pk, s->pk_bytes - 1),
				 -ENOBUFS);
		/* import: AEAD only, exactly TF_KEY_BYTES */
		assert_int_equal(tf_key_import(s, TF_KEY_SIGN, raw, 32, &tmp),
				 -EINVAL);
		assert_int_equal(tf_key_import(s, TF_KEY_AEAD, raw, 31, &tmp),
				 -EINVAL);
		assert_int_equal(tf_key_generate(s, (enum tf_key_use)9, &tmp),
				 -EINVAL);
		assert_null(tmp);
	}
	tf_key_free(NULL);
}

static void test_sign_verify(void **state)
{
	for (size_t i = 0; tf_suite_at(i) != NULL; i++) {
		const struct tf_suite *s = tf_suite_at(i);
		_cleanup_key_ struct tf_key *k = NULL, *k2 = NULL;
		static const uint8_t m[] = "policy bundle v7";
		uint8_t sig[TF_SIG_MAX], pk[TF_PK_MAX], pk2[TF_PK_MAX];
		size_t sl;

		assert_int_equal(tf_key_generate(s, TF_KEY_SIGN, &k), 0);
		assert_int_equal(tf_key_generate(s, TF_KEY_SIGN, &k2), 0);
		assert_int_equal(tf_key_public(k, pk, sizeof(pk)), 0);
		assert_int_equal(tf_key_public(k2, pk2, sizeof(pk2)), 0);
		assert_int_equal(
			tf_sign(k, m, sizeof(m), sig, sizeof(sig), &sl), 0);
		assert_true(sl > 0 && sl <= TF_SIG_MAX);
		assert_int_equal(tf_verify(s, pk, m, sizeof(m), sig, sl), 0);
		/* other key, other message, any flipped byte, truncation */
		assert_int_equal(tf_verify(s, pk2, m, sizeof(m), sig, sl),
				 -EBADMSG);
		assert_int_equal(tf_verify(s, pk, m, sizeof(m) - 1, sig, sl),
				 -EBADMSG);
		for (size_t j = 0; j < sl; j++) {
			sig[j] ^= 0x01;
			assert_int_equal(
				tf_verify(s, pk, m, sizeof(m), sig, sl),
				-EBADMSG);
			sig[j] ^= 0x01;
		}
		assert_int_equal(tf_verify(s, pk, m, sizeof(m), sig, sl - 1),
				 -EBADMSG);
		assert_int_equal(tf_verify(s, pk, m, sizeof(m), sig, 0),
				 -EBADMSG);
		/* a signature too small for the caller's buffer */
		assert_int_equal(tf_sign(k, m, sizeof(m), sig, 8, &sl),
				 -ENOBUFS);
		/* the other suite does not accept it */
		{
			const struct tf_suite *o = tf_suite_at(i + 1)
							   ? tf_suite_at(i + 1)
							   : tf_suite_at(0);
			uint8_t opk[TF_PK_MAX] = {0};

			memcpy(opk, pk, TF_MIN(s->pk_bytes, o->pk_bytes));
			assert_int_equal(
				tf_sign(k, m, sizeof(m), sig, sizeof(sig), &sl),
				0);
			assert_int_equal(
				tf_verify(o, opk, m, sizeof(m), sig, sl),
				-EBADMSG);
		}
	}
}

static void test_kx(void **state)
{
	for (size_t i = 0; tf_suite_at(i) != NULL; i++) {
		const struct tf_suite *s = tf_suite_at(i);
		_cleanup_key_ struct tf_key *a = NULL, *b = NULL, *c = NULL;
		uint8_t pa[TF_PK_MAX], pb[TF_PK_MAX], pc[TF_PK_MAX];
		uint8_t kab[TF_KX_BYTES], kba[TF_KX_BYTES], kac[TF_KX_BYTES];
		uint8_t bad[TF_PK_MAX];

		assert_int_equal(tf_key_generate(s, TF_KEY_KX, &a), 0);
		assert_int_equal(tf_key_generate(s, TF_KEY_KX, &b), 0);
		assert_int_equal(tf_key_generate(s, TF_KEY_KX, &c), 0);
		assert_int_equal(tf_key_public(a, pa, sizeof(pa)), 0);
		assert_int_equal(tf_key_public(b, pb, sizeof(pb)), 0);
		assert_int_equal(tf_key_public(c, pc, sizeof(pc)), 0);
		assert_int_equal(tf_kx(a, pb, kab), 0);
		assert_int_equal(tf_kx(b, pa, kba), 0);
		assert_memory_equal(kab, kba, TF_KX_BYTES);
		assert_int_equal(tf_kx(a, pc, kac), 0);
		assert_memory_not_equal(kab, kac, TF_KX_BYTES);
		/* invalid peer keys are refused, not derived from */
		memset(bad, 0, sizeof(bad));
		if (s->id == TF_SUITE_GM) {
			bad[0] = 0x04; /* (0, 0) is not on the curve */
			assert_true(tf_kx(a, bad, kac) < 0);
			memcpy(bad, pb, s->pk_bytes);
			bad[64] ^= 1; /* y off the curve */
			assert_true(tf_kx(a, bad, kac) < 0);
		} else {
			/* all-zero u: low-order point, output would be 0 */
			assert_true(tf_kx(a, bad, kac) < 0);
		}
	}
}

static void test_hash_kdf(void **state)
{
	for (size_t i = 0; tf_suite_at(i) != NULL; i++) {
		const struct tf_suite *s = tf_suite_at(i);
		_cleanup_key_ struct tf_key *k1 = NULL, *k2 = NULL, *k3 = NULL;
		uint8_t h1[TF_HASH_BYTES], h2[TF_HASH_BYTES], okm[100],
			okm2[100], blob[64], pt[64];
		size_t bl, pl;

		assert_int_equal(tf_hash(s, h1, (const uint8_t *)"a", 1), 0);
		assert_int_equal(tf_hash(s, h2, (const uint8_t *)"b", 1), 0);
		assert_memory_not_equal(h1, h2, TF_HASH_BYTES);
		assert_int_equal(tf_hash(s, h2, NULL, 0), 0);
		assert_int_equal(tf_kdf(s, okm, sizeof(okm),
					(const uint8_t *)"ikm", 3, NULL, 0,
					(const uint8_t *)"info", 4),
				 0);
		assert_int_equal(tf_kdf(s, okm2, 40, (const uint8_t *)"ikm", 3,
					NULL, 0, (const uint8_t *)"info", 4),
				 0);
		/* HKDF prefix property: shorter output is a prefix */
		assert_memory_equal(okm, okm2, 40);
		assert_int_equal(tf_kdf(s, okm2, 0, (const uint8_t *)"ikm", 3,
					NULL, 0, NULL, 0),
				 -EINVAL);
		/* derived key handles: same inputs same key, other info not */
		assert_int_equal(tf_kdf_key(s, (const uint8_t *)"ikm", 3,
					    (const uint8_t *)"x", 1, &k1),
				 0);
		assert_int_equal(tf_kdf_key(s, (const uint8_t *)"ikm", 3,
					    (const uint8_t *)"x", 1, &k2),
				 0);
		assert_int_equal(tf_kdf_key(s, (const uint8_t *)"ikm", 3,
					    (const uint8_t *)"y", 1, &k3),
				 0);
		assert_int_equal(tf_seal(k1, NULL, 0, (const uint8_t *)"z", 1,
					 blob, sizeof(blob), &bl),
				 0);
		assert_int_equal(
			tf_open(k2, NULL, 0, blob, bl, pt, sizeof(pt), &pl), 0);
		assert_int_equal(
			tf_open(k3, NULL, 0, blob, bl, pt, sizeof(pt), &pl),
			-EBADMSG);
	}
}

static void test_pwhash(void **state)
{
	uint8_t salt[TF_SALT_BYTES] = {1}, a[32], b[32];

	assert_int_equal(
		tf_pwhash(a, 32, (const uint8_t *)"pin", 3, salt, 1, 8192), 0);
	assert_int_equal(
		tf_pwhash(b, 32, (const uint8_t *)"pin", 3, salt, 1, 8192), 0);
	assert_memory_equal(a, b, 32);
	salt[0] = 2;
	assert_int_equal(
		tf_pwhash(b, 32, (const uint8_t *)"pin", 3, salt, 1, 8192), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(
		tf_pwhash(a, 8, (const uint8_t *)"pin", 3, salt, 1, 8192),
		-EINVAL);
	assert_int_equal(
		tf_pwhash(a, 32, (const uint8_t *)"pin", 3, salt, 0, 8192),
		-EINVAL);
	assert_int_equal(
		tf_pwhash(a, 32, (const uint8_t *)"pin", 3, salt, 1, 1024),
		-EINVAL);
}

static void test_random(void **state)
{
	uint8_t a[1000], b[1000];

	assert_int_equal(tf_random(a, sizeof(a)), 0);
	assert_int_equal(tf_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(tf_random(a, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_idempotent),
		cmocka_unit_test(test_seal_open_roundtrip),
		cmocka_unit_test(test_seal_nonce_fresh),
		cmocka_unit_test(test_cross_suite),
		cmocka_unit_test(test_tamper_and_truncate),
		cmocka_unit_test(test_wrong_use),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_kx),
		cmocka_unit_test(test_hash_kdf),
		cmocka_unit_test(test_pwhash),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
