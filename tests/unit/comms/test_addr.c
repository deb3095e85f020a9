/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' addresses for several devices per officer
 * (src/comms/wire.c, built in here): officer[/device] split and parsed
 * with the certificate alphabet, the relay's DEVICES answer, and the
 * check that a device's bundle names the officer AND the device asked
 * for (a hostile relay can hide a device but not add one).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/wg.h"
#include "wire.h"

#define NOW 1800000000ull

static int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

static void test_split(void **state)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1], a[200];

	(void)state;
	assert_true(comms_addr_split("alice", o, d));
	assert_string_equal(o, "alice");
	assert_string_equal(d, "");
	assert_true(comms_addr_split("alice/phone-2", o, d));
	assert_string_equal(o, "alice");
	assert_string_equal(d, "phone-2");
	assert_true(comms_addr_full("alice/phone-2"));
	assert_false(comms_addr_full("alice"));
	static const char *const bad[] = {
		"",	    "/",    "alice/",	    "/phone",  "a/b/c",
		"alice/..", "../x", "alice/ph one", "al\nice", "alice//phone"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(comms_addr_ok(bad[i]));
	/* 64 + 1 + 64 is the longest */
	memset(a, 'a', 64);
	a[64] = '/';
	memset(a + 65, 'b', 64);
	a[129] = '\0';
	assert_true(comms_addr_ok(a));
	a[129] = 'b';
	a[130] = '\0';
	assert_false(comms_addr_ok(a));
	memset(a, 'a', 65);
	a[65] = '/';
	a[66] = 'b';
	a[67] = '\0';
	assert_false(comms_addr_ok(a));
}

static void test_get_addr(void **state)
{
	char out[TF_COMMS_ADDR_MAX + 1];
	static const uint8_t ok[] = "\x0b"
				    "alice/phone";
	static const uint8_t bad[] = "\x06"
				     "alice/";

	(void)state;
	assert_int_equal(comms_get_addr(ok, 12, out), 12);
	assert_string_equal(out, "alice/phone");
	assert_int_equal(comms_get_addr(ok, 11, out), 0); /* cut short */
	assert_int_equal(comms_get_addr(bad, 7, out), 0);
}

/* ERROR with the request it answers: SEND names address and id,
 * BUNDLE_GET / DEVICES the address; an older relay's names none; a
 * malformed tail is refused whole */
static void test_error(void **state)
{
	static const uint8_t send[] = "\x02"
				      "could not store"
				      "\x00\x02\x0b"
				      "alice/phone"
				      "0123456789abcdef";
	static const uint8_t bundle[] = "\x08"
					"no prekeys"
					"\x00\x08\x05"
					"alice";
	static const uint8_t old[] = "\x04"
				     "recipient not connected";
	struct comms_error e;

	(void)state;
	assert_int_equal(comms_parse_error(send, sizeof(send) - 1, &e), 0);
	assert_int_equal(e.code, 2);
	assert_int_equal(e.textlen, 15);
	assert_memory_equal(e.text, "could not store", 15);
	assert_int_equal(e.op, 0x02);
	assert_string_equal(e.name, "alice/phone");
	assert_true(e.has_id);
	assert_memory_equal(e.id, "0123456789abcdef", 16);
	/* the id cut short, or a byte more */
	assert_int_equal(comms_parse_error(send, sizeof(send) - 2, &e),
			 -EBADMSG);
	assert_int_equal(comms_parse_error(send, sizeof(send), &e), -EBADMSG);
	assert_int_equal(comms_parse_error(bundle, sizeof(bundle) - 1, &e), 0);
	assert_int_equal(e.op, 0x08);
	assert_string_equal(e.name, "alice");
	assert_false(e.has_id);
	assert_int_equal(comms_parse_error(old, sizeof(old) - 1, &e), 0);
	assert_int_equal(e.op, 0);
	assert_int_equal(e.textlen, sizeof(old) - 2);
	/* an unknown op; a bad address; a NUL and nothing after it */
	assert_int_equal(comms_parse_error((const uint8_t *)"\x08x\x00\x05\x01"
							    "a",
					   6, &e),
			 -EBADMSG);
	assert_int_equal(comms_parse_error((const uint8_t *)"\x08x\x00\x08\x02"
							    "a/",
					   7, &e),
			 -EBADMSG);
	assert_int_equal(comms_parse_error((const uint8_t *)"\x08x\x00", 3, &e),
			 -EBADMSG);
	assert_int_equal(comms_parse_error(old, 0, &e), -EBADMSG);
}

static void test_devices(void **state)
{
	struct comms_devices v;
	static const uint8_t ok[] = "\x05"
				    "alice\x02\x05phone\x06tablet";
	static const uint8_t unsorted[] = "\x05"
					  "alice\x02\x06tablet\x05phone";
	static const uint8_t dup[] = "\x05"
				     "alice\x02\x05phone\x05phone";
	static const uint8_t none[] = "\x05"
				      "alice\x00";

	(void)state;
	assert_int_equal(comms_parse_devices(ok, sizeof(ok) - 1, &v), 0);
	assert_string_equal(v.officer, "alice");
	assert_int_equal(v.count, 2);
	assert_string_equal(v.dev[0], "phone");
	assert_string_equal(v.dev[1], "tablet");
	assert_int_equal(comms_parse_devices(ok, sizeof(ok) - 2, &v), -EBADMSG);
	assert_int_equal(
		comms_parse_devices(unsorted, sizeof(unsorted) - 1, &v),
		-EBADMSG);
	assert_int_equal(comms_parse_devices(dup, sizeof(dup) - 1, &v),
			 -EBADMSG);
	assert_int_equal(comms_parse_devices(none, 7, &v), -EBADMSG);
}

struct world {
	const struct tf_suite *s;
	struct tf_key *ca_sk;
	struct tf_cert_anchor anchor;
};

/* a device certificate for officer/device and its bundle */
static size_t bundle_for(struct world *w, uint8_t suite, const char *officer,
			 const char *device, uint8_t *out, size_t cap)
{
	uint8_t seed[32] = {9}, cert[TF_CERT_MAX], dh_priv[32],
		dh_pub[TF_WG_PUB_MAX];
	struct tf_key *sign = NULL;
	struct tf_e2e_prekeys *pk = NULL;
	struct tf_cert c = {0};
	size_t pl;
	int n;

	assert_int_equal(tf_key_sign_from_seed(w->s, seed, &sign), 0);
	assert_int_equal(tf_wg_keygen(suite, dh_priv, dh_pub, &pl), 0);
	c.suite = suite;
	c.role = TF_ROLE_OFFICER;
	c.serial = 5;
	c.not_before = NOW - 100;
	c.not_after = NOW + 86400;
	strcpy(c.officer, officer);
	strcpy(c.device, device);
	c.sign_pk_len = c.dh_pk_len = w->s->pk_bytes;
	assert_int_equal(tf_key_public(sign, c.sign_pk, sizeof(c.sign_pk)), 0);
	memcpy(c.dh_pk, dh_pub, c.dh_pk_len);
	n = tf_cert_sign(&c, w->ca_sk, cert, TF_CERT_MAX);
	assert_true(n > 0);
	assert_int_equal(tf_e2e_prekeys_new(suite, sign, 1, 2, 100, &pk), 0);
	n = tf_e2e_prekeys_bundle(pk, cert, (size_t)n, out, cap);
	assert_true(n > 0);
	tf_e2e_prekeys_free(pk);
	tf_key_free(sign);
	return (size_t)n;
}

static void check_suite(uint8_t suite)
{
	struct world w = {0};
	uint8_t seed[32] = {7}, pk[TF_PK_MAX], b[TF_E2E_BUNDLE_MAX];
	struct tf_e2e_bundle eb;
	struct tf_cert c;
	size_t n;

	w.s = tf_suite_by_id(suite);
	assert_int_equal(tf_key_sign_from_seed(w.s, seed, &w.ca_sk), 0);
	assert_int_equal(tf_key_public(w.ca_sk, pk, sizeof(pk)), 0);
	assert_int_equal(tf_cert_anchor_init(&w.anchor, w.s, pk, w.s->pk_bytes),
			 0);
	n = bundle_for(&w, suite, "alice", "tablet", b, sizeof(b));
	assert_int_equal(tf_e2e_bundle_parse(b, n, &eb), 0);
	/* as asked: alice/tablet, or the officer alone */
	assert_int_equal(comms_bundle_check(&eb, &w.anchor, NOW, NULL, "alice",
					    "tablet", &c),
			 0);
	assert_string_equal(c.device, "tablet");
	assert_int_equal(comms_bundle_check(&eb, &w.anchor, NOW, NULL, "alice",
					    "", NULL),
			 0);
	/* the relay says alice/phone: another device */
	assert_int_equal(comms_bundle_check(&eb, &w.anchor, NOW, NULL, "alice",
					    "phone", NULL),
			 -EXDEV);
	/* the relay lists it under bob: another officer */
	assert_int_equal(comms_bundle_check(&eb, &w.anchor, NOW, NULL, "bob",
					    "tablet", NULL),
			 -EKEYREJECTED);
	assert_int_equal(comms_cert_check(eb.cert, eb.certlen, &w.anchor, NOW,
					  false, NULL, "bob", "tablet", NULL),
			 -EKEYREJECTED);
	assert_int_equal(comms_cert_check(eb.cert, eb.certlen, &w.anchor, NOW,
					  false, NULL, "alice", "phone", NULL),
			 -EXDEV);
	assert_int_equal(comms_cert_check(eb.cert, eb.certlen, &w.anchor, NOW,
					  false, NULL, "alice", "tablet", NULL),
			 0);
	/* expired by our clock */
	assert_true(comms_cert_check(eb.cert, eb.certlen, &w.anchor,
				     NOW + 2 * 86400, false, NULL, "alice",
				     "tablet", NULL) < 0);
	tf_key_free(w.ca_sk);
}

static void test_bundle_names_device(void **state)
{
	(void)state;
	check_suite(TF_SUITE_INTL);
	check_suite(TF_SUITE_GM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_get_addr),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_bundle_names_device),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
