/* SPDX-License-Identifier: ISC */
/* Known-answer tests for both suites, and proof that the engine fails
 * closed when a vector does not match. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "src/lib/crypto/kat.h"
#include "twofold/crypto.h"

static int setup(void **state)
{
	return tf_crypto_init() == 0 ? 0 : -1;
}

static void selftest_suite(const char *name)
{
	const struct tf_suite *s = tf_suite_by_name(name);
	char why[256] = "";

	assert_non_null(s);
	if (tf_crypto_selftest(s, why, sizeof(why)) != 0)
		fail_msg("%s fast selftest: %s", name, why);
	if (tf_crypto_selftest_full(s, why, sizeof(why)) != 0)
		fail_msg("%s full selftest: %s", name, why);
	/* the vectors are reachable from the suite itself */
	assert_non_null(s->kats);
}

static void test_intl_kats(void **state)
{
	selftest_suite("intl");
}

static void test_gm_kats(void **state)
{
	selftest_suite("gm");
}

/* Every registry row (twofold/suite.h) has its implementation, with the
 * row's id and name and vectors of its own, and the lookups agree. */
static void test_registry(void **state)
{
	const struct tf_suite_info *si;
	const struct tf_suite *s;
	size_t rows = 0, impls = 0;
	char names[64];

	tf_suite_info_foreach(i, si)
	{
		s = tf_suite_at(i);
		assert_non_null(s);
		assert_int_equal(s->id, si->id);
		assert_string_equal(s->name, si->name);
		assert_ptr_equal(tf_suite_by_name(si->name), s);
		assert_ptr_equal(tf_suite_by_id(si->id), s);
		assert_ptr_equal(tf_suite_info_by_id(si->id), si);
		assert_non_null(s->kats);
		assert_non_null(si->description);
		assert_non_null(si->brief);
		rows++;
	}
	tf_suite_foreach(i, s) impls++;
	assert_int_equal(rows, impls);
	assert_true(rows >= 2);
	assert_string_equal(tf_suite_at(0)->name, TF_SUITE_DEFAULT);
	tf_suite_names(names, sizeof(names), ", ");
	assert_string_equal(names, "intl, gm");
	tf_suite_names(names, 6, ", "); /* truncated, still terminated */
	assert_true(strlen(names) < 6);
}

static void test_unknown_suite(void **state)
{
	char why[64];

	assert_null(tf_suite_by_name("nope"));
	assert_null(tf_suite_by_id(0));
	assert_null(tf_suite_by_id(3));
	assert_ptr_equal(tf_suite_by_id(TF_SUITE_GM), tf_suite_by_name("gm"));
	assert_int_equal(tf_crypto_selftest(NULL, why, sizeof(why)), -EINVAL);
}

/* Copy a real table, break one expected value, and the run must fail with
 * -EBADMSG naming exactly that vector. Done for every row of every table so
 * no row can be silently skipped or compared loosely. */
static void break_each_row(const struct tf_kat *t, size_t n)
{
	struct tf_kat *copy = calloc(n, sizeof(*copy));
	char why[512];

	assert_non_null(copy);
	for (size_t i = 0; i < n; i++) {
		char *bad;
		size_t len;

		memcpy(copy, t, n * sizeof(*copy));
		len = strlen(t[i].expect);
		bad = strdup(t[i].expect);
		assert_non_null(bad);
		/* flip the last hex digit: 0<->1, a<->b, ... */
		bad[len - 1] = bad[len - 1] == '0' ? '1' : '0';
		copy[i].expect = bad;
		memset(why, 0, sizeof(why));
		assert_int_equal(tf_kat_run(copy, n, true, why, sizeof(why)),
				 -EBADMSG);
		if (strstr(why, t[i].name) == NULL)
			fail_msg("reason '%s' does not name '%s'", why,
				 t[i].name);
		/* and a truncated expectation fails too */
		bad[len - 2] = '\0';
		assert_int_equal(tf_kat_run(copy, n, true, why, sizeof(why)),
				 -EBADMSG);
		free(bad);
	}
	/* unbroken copy passes, so the failures above came from the edit */
	memcpy(copy, t, n * sizeof(*copy));
	assert_int_equal(tf_kat_run(copy, n, true, why, sizeof(why)), 0);
	free(copy);
}

static void test_fail_closed(void **state)
{
	break_each_row(tf_kat_intl, tf_kat_intl_count);
	break_each_row(tf_kat_gm, tf_kat_gm_count);
	break_each_row(tf_kat_common, tf_kat_common_count);
}

/* A wrong input (not just a wrong expectation) fails as well. */
static void test_fail_closed_input(void **state)
{
	struct tf_kat row = tf_kat_gm[0]; /* SM3("abc") */
	char why[256] = "";

	row.in[0] = "'abd";
	assert_int_equal(tf_kat_run(&row, 1, false, why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "SM3"));
}

/* full_only rows are skipped by the fast run and included by the full one */
static void test_full_only_flag(void **state)
{
	struct tf_kat row = {0};
	char why[256] = "";
	bool found = false;

	for (size_t i = 0; i < tf_kat_gm_count; i++)
		if (tf_kat_gm[i].full_only) {
			row = tf_kat_gm[i];
			found = true;
		}
	assert_true(found);
	row.expect = "00000000000000000000000000000000";
	assert_int_equal(tf_kat_run(&row, 1, false, why, sizeof(why)), 0);
	assert_int_equal(tf_kat_run(&row, 1, true, why, sizeof(why)), -EBADMSG);
}

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sscanf(h + 2 * i, "%2hhx", &out[i]), 1);
}

/* The public wrappers production code calls (tf_hash in the discardable
 * hash, tf_kdf for the fscrypt key and TPM auth, tf_kdf_key for the KEK)
 * reach the same suite pointers the KAT rows pin: one vector each,
 * through the wrapper rather than the table. */
static void test_public_wrappers(void **state)
{
	const struct tf_suite *intl = tf_suite_by_name("intl");
	const struct tf_suite *gm = tf_suite_by_name("gm");
	uint8_t out[64], want[64], ikm[32], info[20];

	assert_int_equal(tf_hash(intl, out, (const uint8_t *)"abc", 3), 0);
	hex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
	    want, 32);
	assert_memory_equal(out, want, 32);

	/* Wycheproof hkdf_sha512 tcId 6: no salt, as production calls it */
	hex("5b01b2da3166f217cdd68de8af60078f", ikm, 16);
	hex("6884cfa7ffe8f27bf4ebc6e46a7e01488c79243a", info, 20);
	assert_int_equal(tf_kdf(intl, out, 64, ikm, 16, NULL, 0, info, 20), 0);
	hex("01e10d4c477c906d4f67105e4a8054bd2e9479d726166893fcf77b5df431ad00"
	    "7c0ae42847d3706a770a5e468783c9519804be63a404112dcd4ecea952952b73",
	    want, 64);
	assert_memory_equal(out, want, 64);

	/* HKDF-SM3, fscrypt key shape (cross-checked row of tf_kat_gm) */
	for (size_t i = 0; i < 32; i++)
		ikm[i] = (uint8_t)i;
	assert_int_equal(tf_kdf(gm, out, 64, ikm, 32, NULL, 0,
				(const uint8_t *)"fscryptsecure", 13),
			 0);
	hex("edd65a1a45e7bf4101f71b20e0aefe92718f6e39addc1060dacdd510e2882e5b"
	    "92a51c8ede2850203bcda23d55e0f190f328ba57867189bfd17fb5aff16ba252",
	    want, 64);
	assert_memory_equal(out, want, 64);
}

/* The rows this issue added are in the start-up set the daemon runs, not
 * only in the full one: every production primitive is checked before the
 * daemon serves a request. */
static void test_startup_set_covers_production(void **state)
{
	static const struct {
		const struct tf_kat *t;
		const char *name;
	} want[] = {
		{tf_kat_intl, "BLAKE2b-256"},
		{tf_kat_intl, "HKDF-SHA-512 via the suite"},
		{tf_kat_intl, "intl kx"},
		{tf_kat_gm, "HMAC-SM3"},
		{tf_kat_gm, "HKDF-SM3 via the suite"},
		{tf_kat_gm, "gm kx"},
		{tf_kat_common, "libsodium pwhash_argon2id"},
	};

	for (size_t i = 0; i < TF_ARRAY_SIZE(want); i++) {
		const struct tf_kat *t = want[i].t;
		size_t n = t == tf_kat_intl ? tf_kat_intl_count
			   : t == tf_kat_gm ? tf_kat_gm_count
					    : tf_kat_common_count;
		bool found = false;

		for (size_t j = 0; j < n; j++)
			if (strstr(t[j].name, want[i].name) && !t[j].full_only)
				found = true;
		if (!found)
			fail_msg("no start-up KAT row for %s", want[i].name);
	}
}

/* A KX secret of the wrong length is refused before anything is
 * allocated (gm_kx used to return early with its OpenSSL objects made:
 * the leak shows under ASan/LeakSanitizer or valgrind). */
static void test_kx_bad_secret_len(void **state)
{
	uint8_t out[TF_KX_BYTES], sk[8] = {0}, pk[TF_PK_MAX] = {0x04};
	static const char *const names[] = {"intl", "gm"};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct tf_suite *s = tf_suite_by_name(names[i]);

		assert_non_null(s);
		assert_int_equal(s->kx(out, sk, sizeof(sk), pk), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intl_kats),
		cmocka_unit_test(test_gm_kats),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_unknown_suite),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_fail_closed_input),
		cmocka_unit_test(test_full_only_flag),
		cmocka_unit_test(test_public_wrappers),
		cmocka_unit_test(test_startup_set_covers_production),
		cmocka_unit_test(test_kx_bad_secret_len),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
