/* SPDX-License-Identifier: ISC */
/* Urgent alert records (src/lib/cert/alert.c), both suites: round trip,
 * one-bit tamper anywhere, another signer, wrong suite, wrong persona,
 * expired, issued in the future, too long-lived, truncated, trailing
 * bytes, bad text, and the distinguishing ID (a record signed as a
 * certificate does not verify). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/alert.h"

#define NOW 1800000000ull

static int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

struct signer {
	const struct tf_suite *s;
	struct tf_key *sk;
	uint8_t pk[1][TF_PK_MAX];
};

static void signer_make(struct signer *g, const struct tf_suite *s,
			uint8_t seedb)
{
	uint8_t seed[TF_KEY_BYTES];

	memset(seed, seedb, sizeof(seed));
	g->s = s;
	assert_int_equal(tf_key_sign_from_seed(s, seed, &g->sk), 0);
	assert_int_equal(tf_key_public(g->sk, g->pk[0], TF_PK_MAX), 0);
}

static void alert_fill(struct tf_alert *a)
{
	memset(a, 0, sizeof(*a));
	memset(a->id, 0xab, sizeof(a->id));
	strcpy(a->persona, "secure");
	strcpy(a->title, "Incident 42");
	strcpy(a->body, "Go to the north gate.\nNow.");
	a->body_len = strlen(a->body);
	a->issued_at = NOW - 10;
	a->expires_at = NOW + 600;
}

static void test_suite(const struct tf_suite *s)
{
	struct signer g, other;
	struct tf_alert a, out;
	uint8_t rec[TF_ALERT_MAX + 8];
	int n;

	signer_make(&g, s, 0x31);
	signer_make(&other, s, 0x32);
	alert_fill(&a);
	n = tf_alert_sign(&a, g.sk, rec, sizeof(rec));
	assert_true(n > 0);
	assert_int_equal(tf_alert_verify(rec, (size_t)n, s, g.pk, 1, "secure",
					 NOW, &out),
			 0);
	assert_string_equal(out.title, "Incident 42");
	assert_int_equal(out.body_len, a.body_len);
	assert_memory_equal(out.body, a.body, a.body_len);
	assert_memory_equal(out.id, a.id, sizeof(a.id));
	/* every bit of the record matters */
	for (int i = 0; i < n; i++)
		for (int b = 0; b < 8; b++) {
			rec[i] ^= (uint8_t)(1u << b);
			assert_int_not_equal(tf_alert_verify(rec, (size_t)n, s,
							     g.pk, 1, "secure",
							     NOW, NULL),
					     0);
			rec[i] ^= (uint8_t)(1u << b);
		}
	assert_int_equal(tf_alert_verify(rec, (size_t)n, s, other.pk, 1,
					 "secure", NOW, NULL),
			 -EBADMSG);
	assert_int_equal(tf_alert_verify(rec, (size_t)n, s, g.pk, 1, "personal",
					 NOW, NULL),
			 -EXDEV);
	assert_int_equal(tf_alert_verify(rec, (size_t)n, s, g.pk, 1, "secure",
					 NOW + 600, NULL),
			 -EKEYEXPIRED);
	assert_int_equal(tf_alert_verify(rec, (size_t)n, s, g.pk, 1, "secure",
					 NOW - 10 - TF_ALERT_SKEW - 1, NULL),
			 -ETIME);
	for (int k = 0; k < n; k++)
		assert_int_not_equal(tf_alert_verify(rec, (size_t)k, s, g.pk, 1,
						     "secure", NOW, NULL),
				     0);
	rec[n] = 0;
	assert_int_equal(tf_alert_verify(rec, (size_t)n + 1, s, g.pk, 1,
					 "secure", NOW, NULL),
			 -EBADMSG);
	/* the other suite's anchor: refused before any signature check */
	tf_suite_foreach(i, other.s)
	{
		if (other.s != s) {
			assert_int_equal(tf_alert_verify(rec, (size_t)n,
							 other.s, g.pk, 1,
							 "secure", NOW, NULL),
					 -EPROTONOSUPPORT);
			break;
		}
	}
	/* the signature is bound to the alert's ID */
	{
		uint8_t sig[TF_SIG_MAX];
		size_t siglen;
		struct tf_alert p;
		assert_int_equal(tf_alert_parse(rec, (size_t)n, &p), 0);
		assert_int_equal(tf_sign_id(g.sk, "twofold cert v1", rec,
					    p.tbs_len, sig, sizeof(sig),
					    &siglen),
				 0);
		rec[p.tbs_len] = (uint8_t)siglen;
		memcpy(rec + p.tbs_len + 1, sig, siglen);
		assert_int_equal(tf_alert_verify(rec, p.tbs_len + 1 + siglen, s,
						 g.pk, 1, "secure", NOW, NULL),
				 -EBADMSG);
	}
	/* what sign refuses */
	alert_fill(&a);
	a.expires_at = a.issued_at + TF_ALERT_MAX_TTL + 1;
	assert_int_equal(tf_alert_sign(&a, g.sk, rec, sizeof(rec)), -EINVAL);
	alert_fill(&a);
	a.title[0] = '\x1b';
	assert_int_equal(tf_alert_sign(&a, g.sk, rec, sizeof(rec)), -EINVAL);
	alert_fill(&a);
	strcpy(a.persona, "Secure");
	assert_int_equal(tf_alert_sign(&a, g.sk, rec, sizeof(rec)), -EINVAL);
	alert_fill(&a);
	a.title[0] = '\0';
	assert_int_equal(tf_alert_sign(&a, g.sk, rec, sizeof(rec)), -EINVAL);
	tf_key_free(g.sk);
	tf_key_free(other.sk);
}

static void test_alert_suites(void **state)
{
	const struct tf_suite *s;

	(void)state;
	tf_suite_foreach(i, s) test_suite(s);
}

static void test_alert_id_hex(void **state)
{
	uint8_t id[TF_ALERT_ID_BYTES];
	char hex[2 * TF_ALERT_ID_BYTES + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(i * 17);
	tf_alert_id_hex(id, hex);
	assert_string_equal(hex, "00112233445566778899aabbccddeeff");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alert_suites),
		cmocka_unit_test(test_alert_id_hex),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
