/* SPDX-License-Identifier: ISC */
/* Certificates and deny-lists (src/lib/cert), both suites: round trip,
 * one-bit tamper anywhere, wrong suite, another CA, expired, not yet
 * valid, revoked, wrong role, truncated, stale deny-list, and the
 * distinguishing ID of tf_sign_id. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/cert.h"
#include "certtest.h"

static void subject(struct tf_cert *c, const struct tf_suite *s, unsigned role,
		    uint64_t serial)
{
	memset(c, 0, sizeof(*c));
	c->suite = s->id;
	c->role = (uint8_t)role;
	c->serial = serial;
	c->not_before = NOW - DAY;
	c->not_after = NOW + 30 * DAY;
	strcpy(c->officer, "officer-4711");
	strcpy(c->device, "dev.a1");
	c->sign_pk_len = c->dh_pk_len = s->pk_bytes;
	memset(c->sign_pk, 0x04, s->pk_bytes);
	memset(c->dh_pk, 0x05, s->pk_bytes);
}

static int issue(struct ca *ca, unsigned role, uint64_t serial, uint8_t *buf)
{
	struct tf_cert c;
	int n;

	subject(&c, ca->s, role, serial);
	n = tf_cert_sign(&c, ca->sk, buf, TF_CERT_MAX);
	assert_true(n > 0 && n <= (int)TF_CERT_MAX);
	return n;
}

static void test_roundtrip(void **state)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s)
	{
		struct ca ca;
		uint8_t buf[TF_CERT_MAX];
		struct tf_cert out;
		int n;

		ca_make(&ca, s, 1);
		n = issue(&ca, TF_ROLE_OFFICER, 42, buf);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor, NOW,
						TF_ROLES_CLIENT, NULL, &out),
				 0);
		assert_int_equal(out.serial, 42);
		assert_int_equal(out.role, TF_ROLE_OFFICER);
		assert_string_equal(out.officer, "officer-4711");
		assert_string_equal(out.device, "dev.a1");
		assert_int_equal(out.dh_pk_len, s->pk_bytes);
		assert_memory_equal(out.issuer, ca.anchor.keyid,
				    TF_CERT_KEYID_BYTES);
		tf_key_free(ca.sk);
	}
}

/* Every single-bit flip of a valid certificate is refused. */
static void test_one_bit_tamper(void **state)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s)
	{
		struct ca ca;
		uint8_t buf[TF_CERT_MAX];
		int n;

		ca_make(&ca, s, 2);
		n = issue(&ca, TF_ROLE_OFFICER, 7, buf);
		for (int byte = 0; byte < n; byte++) {
			for (int bit = 0; bit < 8; bit++) {
				buf[byte] ^= (uint8_t)(1u << bit);
				assert_int_not_equal(
					tf_cert_verify(buf, (size_t)n,
						       &ca.anchor, NOW, ~0u,
						       NULL, NULL),
					0);
				buf[byte] ^= (uint8_t)(1u << bit);
			}
		}
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor, NOW,
						~0u, NULL, NULL),
				 0);
		tf_key_free(ca.sk);
	}
}

static void test_truncated_and_trailing(void **state)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s)
	{
		struct ca ca;
		uint8_t buf[TF_CERT_MAX + 1];
		struct tf_cert c;
		int n;

		ca_make(&ca, s, 3);
		n = issue(&ca, TF_ROLE_OFFICER, 7, buf);
		for (int len = 0; len < n; len++)
			assert_int_not_equal(
				tf_cert_parse(buf, (size_t)len, &c), 0);
		buf[n] = 0;
		assert_int_equal(tf_cert_parse(buf, (size_t)n + 1, &c),
				 -EBADMSG);
		tf_key_free(ca.sk);
	}
}

static void test_wrong_suite_and_ca(void **state)
{
	struct ca intl, gm, other;
	uint8_t buf[TF_CERT_MAX];
	int n;

	ca_make(&intl, tf_suite_by_name("intl"), 4);
	ca_make(&gm, tf_suite_by_name("gm"), 4);
	ca_make(&other, tf_suite_by_name("intl"), 5);
	n = issue(&intl, TF_ROLE_OFFICER, 1, buf);
	assert_int_equal(tf_cert_verify(buf, (size_t)n, &gm.anchor, NOW, ~0u,
					NULL, NULL),
			 -EPROTONOSUPPORT);
	assert_int_equal(tf_cert_verify(buf, (size_t)n, &other.anchor, NOW, ~0u,
					NULL, NULL),
			 -ENOKEY);
	/* another CA's cert relabelled with our issuer id: bad signature */
	memcpy(buf + 32, intl.anchor.keyid, TF_CERT_KEYID_BYTES);
	n = issue(&other, TF_ROLE_OFFICER, 1, buf);
	memcpy(buf + 32, intl.anchor.keyid, TF_CERT_KEYID_BYTES);
	assert_int_equal(tf_cert_verify(buf, (size_t)n, &intl.anchor, NOW, ~0u,
					NULL, NULL),
			 -EBADMSG);
	/* a CA key of one suite cannot sign a certificate of the other */
	{
		struct tf_cert c;
		subject(&c, gm.s, TF_ROLE_OFFICER, 1);
		assert_int_equal(tf_cert_sign(&c, intl.sk, buf, sizeof(buf)),
				 -EINVAL);
	}
	tf_key_free(intl.sk);
	tf_key_free(gm.sk);
	tf_key_free(other.sk);
}

static void test_validity_and_role(void **state)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s)
	{
		struct ca ca;
		uint8_t buf[TF_CERT_MAX];
		struct tf_cert c;
		int n;

		ca_make(&ca, s, 6);
		n = issue(&ca, TF_ROLE_RELAY, 9, buf);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor,
						NOW + 30 * DAY, ~0u, NULL,
						NULL),
				 -EKEYEXPIRED);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor,
						NOW - DAY - 1, ~0u, NULL, NULL),
				 -ETIME);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor, NOW,
						TF_ROLES_CLIENT, NULL, NULL),
				 -EPERM);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor, NOW,
						TF_ROLE_BIT(TF_ROLE_RELAY),
						NULL, NULL),
				 0);
		/* tf_cert_check: the same answers without the signature */
		assert_int_equal(tf_cert_parse(buf, (size_t)n, &c), 0);
		assert_int_equal(tf_cert_check(&c, &ca.anchor, NOW + 30 * DAY,
					       ~0u, NULL),
				 -EKEYEXPIRED);
		assert_int_equal(
			tf_cert_check(&c, &ca.anchor, NOW - DAY - 1, ~0u, NULL),
			-ETIME);
		assert_int_equal(tf_cert_check(&c, &ca.anchor, NOW,
					       TF_ROLES_CLIENT, NULL),
				 -EPERM);
		assert_int_equal(tf_cert_check(&c, &ca.anchor, NOW,
					       TF_ROLE_BIT(TF_ROLE_RELAY),
					       NULL),
				 0);
		c.issuer[0] ^= 1;
		assert_int_equal(tf_cert_check(&c, &ca.anchor, NOW, ~0u, NULL),
				 -ENOKEY);
		/* the CA refuses long validity and bad fields */
		subject(&c, s, TF_ROLE_OFFICER, 1);
		c.not_after = c.not_before + TF_CERT_MAX_VALIDITY + 1;
		assert_int_equal(tf_cert_sign(&c, ca.sk, buf, sizeof(buf)),
				 -EINVAL);
		subject(&c, s, TF_ROLE_OFFICER, 1);
		strcpy(c.officer, "a b");
		assert_int_equal(tf_cert_sign(&c, ca.sk, buf, sizeof(buf)),
				 -EINVAL);
		subject(&c, s, 9, 1);
		assert_int_equal(tf_cert_sign(&c, ca.sk, buf, sizeof(buf)),
				 -EINVAL);
		tf_key_free(ca.sk);
	}
}

static void test_denylist(void **state)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s)
	{
		struct ca ca, other;
		uint8_t buf[TF_CERT_MAX];
		uint64_t serials[] = {30, 10, 20, 10};
		_cleanup_free_ uint8_t *dlb = NULL, *old = NULL;
		size_t dllen, oldlen;
		struct tf_denylist *dl = NULL, *odl = NULL;
		int n;

		ca_make(&ca, s, 7);
		ca_make(&other, s, 8);
		assert_int_equal(tf_denylist_sign(ca.sk, NOW - 10, NOW + DAY,
						  serials, 4, &dlb, &dllen),
				 0);
		assert_int_equal(tf_denylist_parse(dlb, dllen, &ca.anchor, &dl),
				 0);
		assert_int_equal(tf_denylist_count(dl), 3);
		assert_true(tf_denylist_contains(dl, 20));
		assert_false(tf_denylist_contains(dl, 21));
		assert_int_equal(
			tf_denylist_parse(dlb, dllen, &other.anchor, &odl),
			-ENOKEY);
		n = issue(&ca, TF_ROLE_OFFICER, 20, buf);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor, NOW,
						~0u, dl, NULL),
				 -EKEYREVOKED);
		{
			struct tf_cert c;

			assert_int_equal(tf_cert_parse(buf, (size_t)n, &c), 0);
			assert_int_equal(
				tf_cert_check(&c, &ca.anchor, NOW, ~0u, dl),
				-EKEYREVOKED);
			assert_int_equal(tf_cert_check(&c, &ca.anchor,
						       NOW + DAY, ~0u, dl),
					 -ESTALE);
		}
		n = issue(&ca, TF_ROLE_OFFICER, 21, buf);
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor, NOW,
						~0u, dl, NULL),
				 0);
		/* past next_update: the relay must fetch a new list */
		assert_int_equal(tf_cert_verify(buf, (size_t)n, &ca.anchor,
						NOW + DAY, ~0u, dl, NULL),
				 -ESTALE);
		/* an older list than the newest seen is refused */
		assert_int_equal(tf_denylist_sign(ca.sk, NOW - 100, NOW + DAY,
						  NULL, 0, &old, &oldlen),
				 0);
		assert_int_equal(
			tf_denylist_parse(old, oldlen, &ca.anchor, &odl), 0);
		assert_int_equal(tf_denylist_check_fresh(
					 odl, tf_denylist_issued_at(dl), NOW),
				 -ESTALE);
		assert_int_equal(tf_denylist_check_fresh(
					 dl, tf_denylist_issued_at(dl), NOW),
				 0);
		tf_denylist_free(odl);
		odl = NULL;
		/* one-bit tamper and truncation */
		for (size_t b = 0; b < dllen * 8; b++) {
			dlb[b / 8] ^= (uint8_t)(1u << (b % 8));
			assert_int_not_equal(
				tf_denylist_parse(dlb, dllen, &ca.anchor, &odl),
				0);
			dlb[b / 8] ^= (uint8_t)(1u << (b % 8));
		}
		for (size_t len = 0; len < dllen; len++)
			assert_int_not_equal(
				tf_denylist_parse(dlb, len, &ca.anchor, &odl),
				0);
		tf_denylist_free(dl);
		tf_key_free(ca.sk);
		tf_key_free(other.sk);
	}
}

/* A signature for one distinguishing ID never verifies under another: a
 * deny-list signature is not a certificate signature. */
static void test_sign_id(void **state)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s)
	{
		struct ca ca;
		uint8_t sig[TF_SIG_MAX];
		size_t siglen;
		static const uint8_t m[] = "message";

		ca_make(&ca, s, 9);
		assert_int_equal(tf_sign_id(ca.sk, TF_CERT_SIGN_ID, m,
					    sizeof(m), sig, sizeof(sig),
					    &siglen),
				 0);
		assert_int_equal(tf_verify_id(s, ca.anchor.pk, TF_CERT_SIGN_ID,
					      m, sizeof(m), sig, siglen),
				 0);
		assert_int_not_equal(tf_verify_id(s, ca.anchor.pk,
						  TF_DENYLIST_SIGN_ID, m,
						  sizeof(m), sig, siglen),
				     0);
		assert_int_not_equal(
			tf_verify(s, ca.anchor.pk, m, sizeof(m), sig, siglen),
			0);
		tf_key_free(ca.sk);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_one_bit_tamper),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_wrong_suite_and_ca),
		cmocka_unit_test(test_validity_and_role),
		cmocka_unit_test(test_denylist),
		cmocka_unit_test(test_sign_id),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
