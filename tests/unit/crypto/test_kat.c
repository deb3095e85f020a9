/* SPDX-License-Identifier: ISC */
/* Known-answer tests for both suites, and proof that the engine fails
 * closed when a vector does not match. */
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
	/* the vtable entry runs the same start-up set */
	assert_int_equal(s->selftest(why, sizeof(why)), 0);
}

static void test_intl_kats(void **state)
{
	selftest_suite("intl");
}

static void test_gm_kats(void **state)
{
	selftest_suite("gm");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intl_kats),
		cmocka_unit_test(test_gm_kats),
		cmocka_unit_test(test_unknown_suite),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_fail_closed_input),
		cmocka_unit_test(test_full_only_flag),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
