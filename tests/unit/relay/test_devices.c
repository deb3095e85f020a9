/* SPDX-License-Identifier: ISC */
/* The relay's DEVICES answer (src/relay/devices.c), both suites: stored
 * bundles whose certificate is valid now, not on the deny-list, of an
 * end-to-end role and naming the officer and the row's device are
 * listed, sorted; an expired, not yet valid, revoked, foreign-CA,
 * other-officer, other-device, other-suite or garbage bundle is not; at
 * most TF_COMMS_DEVICES_MAX, the most recently published; and no
 * certificate signature is checked (the relay checked it at PREKEYS). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices.h"
#include "req.h"
#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/wg.h"
#include "../cert/certtest.h"

/* a bundle of officer/device, serial, valid [nb, na], signed by ca */
static void bundle(struct tf_store_bundle *out, const struct ca *ca,
		   const char *officer, const char *device, uint64_t serial,
		   uint64_t nb, uint64_t na, const char *row_device)
{
	uint8_t seed[32], cert[TF_CERT_MAX], priv[32], b[TF_E2E_BUNDLE_MAX];
	struct tf_key *sign = NULL;
	struct tf_e2e_prekeys *pk = NULL;
	struct tf_cert c = {0};
	size_t pl;
	int n, cl;

	memset(seed, (int)serial, sizeof(seed));
	assert_int_equal(tf_key_sign_from_seed(ca->s, seed, &sign), 0);
	c.suite = ca->s->id;
	c.role = TF_ROLE_OFFICER;
	c.serial = serial;
	c.not_before = nb;
	c.not_after = na;
	strcpy(c.officer, officer);
	strcpy(c.device, device);
	c.sign_pk_len = c.dh_pk_len = ca->s->pk_bytes;
	assert_int_equal(tf_key_public(sign, c.sign_pk, sizeof(c.sign_pk)), 0);
	assert_int_equal(tf_wg_keygen(ca->s->id, priv, c.dh_pk, &pl), 0);
	cl = tf_cert_sign(&c, ca->sk, cert, sizeof(cert));
	assert_true(cl > 0);
	assert_int_equal(tf_e2e_prekeys_new(ca->s->id, sign, 1, 0, 100, &pk),
			 0);
	n = tf_e2e_prekeys_bundle(pk, cert, (size_t)cl, b, sizeof(b));
	assert_true(n > 0);
	out->bundle = malloc((size_t)n);
	assert_non_null(out->bundle);
	memcpy(out->bundle, b, (size_t)n);
	out->len = (size_t)n;
	snprintf(out->device, sizeof(out->device), "%s", row_device);
	tf_e2e_prekeys_free(pk);
	tf_key_free(sign);
}

static void run(uint8_t suite_id)
{
	const struct tf_suite *s = tf_suite_by_id(suite_id);
	const struct tf_suite *other = tf_suite_by_id(
		suite_id == TF_SUITE_INTL ? TF_SUITE_GM : TF_SUITE_INTL);
	struct tf_store_bundle sb[12] = {0};
	struct tf_denylist *dl = NULL;
	struct ca ca, ca2, ca3;
	uint8_t out[TF_COMMS_PAYLOAD_MAX], *dlb = NULL;
	uint64_t revoked = 4;
	size_t dll;
	int n;

	ca_make(&ca, s, 1);
	ca_make(&ca2, s, 2);	 /* another CA of the suite */
	ca_make(&ca3, other, 3); /* another suite */
	/* newest first, as the store lists them */
	bundle(&sb[0], &ca, "alice", "tablet", 1, NOW - DAY, NOW + DAY,
	       "tablet");
	bundle(&sb[1], &ca, "alice", "old", 2, NOW - 3 * DAY, NOW - DAY,
	       "old"); /* expired */
	bundle(&sb[2], &ca, "alice", "future", 3, NOW + DAY, NOW + 2 * DAY,
	       "future"); /* not yet valid */
	bundle(&sb[3], &ca, "alice", "lost", revoked, NOW - DAY, NOW + DAY,
	       "lost"); /* on the deny-list */
	bundle(&sb[4], &ca2, "alice", "forged", 5, NOW - DAY, NOW + DAY,
	       "forged"); /* another CA */
	bundle(&sb[5], &ca, "bob", "phone", 6, NOW - DAY, NOW + DAY,
	       "bob-row"); /* another officer's certificate */
	bundle(&sb[6], &ca, "alice", "laptop", 7, NOW - DAY, NOW + DAY,
	       "desk"); /* the row names another device */
	bundle(&sb[7], &ca3, "alice", "gm", 8, NOW - DAY, NOW + DAY,
	       "gm"); /* another suite */
	bundle(&sb[8], &ca, "alice", "phone", 9, NOW - DAY, NOW + DAY, "phone");
	bundle(&sb[9], &ca, "alice", "phone", 10, NOW - DAY, NOW + DAY,
	       "phone"); /* the same device again: once */
	sb[10].bundle = malloc(3);
	assert_non_null(sb[10].bundle);
	memcpy(sb[10].bundle, "TFP", 3);
	sb[10].len = 3;
	strcpy(sb[10].device, "garbage");
	assert_int_equal(tf_denylist_sign(ca.sk, NOW - 10, NOW + DAY, &revoked,
					  1, &dlb, &dll),
			 0);
	assert_int_equal(tf_denylist_parse(dlb, dll, &ca.anchor, &dl), 0);

	n = relay_devices_reply("alice", sb, 11, suite_id, &ca.anchor, dl, NOW,
				out, sizeof(out));
	assert_int_equal(n, 3 + 5 + 1 + 5 + 1 + 6);
	assert_int_equal(out[0], RELAY_OP_DEVICE_LIST);
	assert_memory_equal(out + 1,
			    "\x05"
			    "alice"
			    "\x02"
			    "\x05"
			    "phone"
			    "\x06"
			    "tablet",
			    (size_t)n - 1);
	/* without the deny-list the revoked one is listed */
	n = relay_devices_reply("alice", sb, 11, suite_id, &ca.anchor, NULL,
				NOW, out, sizeof(out));
	assert_int_equal(out[7], 3);
	assert_memory_equal(out + 8,
			    "\x04"
			    "lost"
			    "\x05"
			    "phone"
			    "\x06"
			    "tablet",
			    (size_t)n - 8);
	/* none: -ENOENT; a bad officer; too small a buffer */
	assert_int_equal(relay_devices_reply("alice", sb + 1, 7, suite_id,
					     &ca.anchor, dl, NOW, out,
					     sizeof(out)),
			 -ENOENT);
	assert_int_equal(relay_devices_reply("carol", sb, 11, suite_id,
					     &ca.anchor, dl, NOW, out,
					     sizeof(out)),
			 -ENOENT);
	assert_int_equal(relay_devices_reply("a/b", sb, 11, suite_id,
					     &ca.anchor, dl, NOW, out,
					     sizeof(out)),
			 -EINVAL);
	assert_int_equal(relay_devices_reply("alice", sb, 11, suite_id,
					     &ca.anchor, dl, NOW, out, 10),
			 -ENOBUFS);
	for (size_t i = 0; i < TF_ARRAY_SIZE(sb); i++)
		tf_store_bundle_clear(&sb[i]);
	tf_denylist_free(dl);
	free(dlb);
	tf_key_free(ca.sk);
	tf_key_free(ca2.sk);
	tf_key_free(ca3.sk);
}

static void test_filter_intl(void **state)
{
	(void)state;
	run(TF_SUITE_INTL);
}

static void test_filter_gm(void **state)
{
	(void)state;
	run(TF_SUITE_GM);
}

/* more devices than listed: the TF_COMMS_DEVICES_MAX newest, sorted */
static void test_cap(void **state)
{
	struct tf_store_bundle sb[TF_COMMS_DEVICES_MAX + 4] = {0};
	uint8_t out[TF_COMMS_PAYLOAD_MAX];
	char name[8];
	struct ca ca;
	size_t off;
	int n;

	(void)state;
	ca_make(&ca, tf_suite_by_id(TF_SUITE_INTL), 1);
	/* newest first: d19 .. d00 */
	for (size_t i = 0; i < TF_ARRAY_SIZE(sb); i++) {
		snprintf(name, sizeof(name), "d%02zu",
			 TF_ARRAY_SIZE(sb) - 1 - i);
		bundle(&sb[i], &ca, "alice", name, 20 + i, NOW - DAY, NOW + DAY,
		       name);
	}
	n = relay_devices_reply("alice", sb, TF_ARRAY_SIZE(sb), TF_SUITE_INTL,
				&ca.anchor, NULL, NOW, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(out[7], TF_COMMS_DEVICES_MAX);
	off = 8;
	for (unsigned i = 0; i < TF_COMMS_DEVICES_MAX; i++) {
		snprintf(name, sizeof(name), "d%02u", i + 4); /* d04 .. d19 */
		assert_int_equal(out[off], 3);
		assert_memory_equal(out + off + 1, name, 3);
		off += 4;
	}
	assert_int_equal(off, (size_t)n);
	for (size_t i = 0; i < TF_ARRAY_SIZE(sb); i++)
		tf_store_bundle_clear(&sb[i]);
	tf_key_free(ca.sk);
}

/* Every certificate check of the code linked into this test (devices.c):
 * meson.build links it with -Wl,--wrap=tf_cert_verify. */
int __real_tf_cert_verify(const uint8_t *buf, size_t len,
			  const struct tf_cert_anchor *ca, uint64_t now,
			  unsigned roles, const struct tf_denylist *dl,
			  struct tf_cert *out);
int __wrap_tf_cert_verify(const uint8_t *buf, size_t len,
			  const struct tf_cert_anchor *ca, uint64_t now,
			  unsigned roles, const struct tf_denylist *dl,
			  struct tf_cert *out);
static unsigned verifies;

int __wrap_tf_cert_verify(const uint8_t *buf, size_t len,
			  const struct tf_cert_anchor *ca, uint64_t now,
			  unsigned roles, const struct tf_denylist *dl,
			  struct tf_cert *out)
{
	verifies++;
	return __real_tf_cert_verify(buf, len, ca, now, roles, dl, out);
}

/* A DEVICES costs no signature check, however many rows (the relay's
 * DEVICES_SCAN, 64, each a gm SM2 verify before): the certificates were
 * verified when stored (PREKEYS). Counted two ways: no call of
 * tf_cert_verify, and rows whose certificate signature is broken (which
 * any verification would drop) are listed like the others. */
static void no_verify(uint8_t suite_id)
{
	struct tf_store_bundle sb[4 * TF_COMMS_DEVICES_MAX] = {0};
	uint8_t out[TF_COMMS_PAYLOAD_MAX];
	char name[8];
	struct ca ca;
	int n;

	ca_make(&ca, tf_suite_by_id(suite_id), 1);
	for (size_t i = 0; i < TF_ARRAY_SIZE(sb); i++) {
		struct tf_e2e_bundle b;

		snprintf(name, sizeof(name), "d%02zu", i);
		bundle(&sb[i], &ca, "alice", name, 100 + i, NOW - DAY,
		       NOW + DAY, name);
		assert_int_equal(
			tf_e2e_bundle_parse(sb[i].bundle, sb[i].len, &b), 0);
		if (i % 2) /* the certificate's last signature byte */
			sb[i].bundle[(size_t)(b.cert - sb[i].bundle) +
				     b.certlen - 1] ^= 1;
	}
	verifies = 0;
	n = relay_devices_reply("alice", sb, TF_ARRAY_SIZE(sb), suite_id,
				&ca.anchor, NULL, NOW, out, sizeof(out));
	printf("# DEVICES over %zu rows: %u certificate verifications\n",
	       TF_ARRAY_SIZE(sb), verifies);
	assert_int_equal(verifies, 0);
	assert_true(n > 0);
	/* the 16 newest, d00 .. d15, every other one's signature broken */
	assert_int_equal(out[7], TF_COMMS_DEVICES_MAX);
	assert_memory_equal(out + 8,
			    "\x03"
			    "d00"
			    "\x03"
			    "d01",
			    8);
	for (size_t i = 0; i < TF_ARRAY_SIZE(sb); i++)
		tf_store_bundle_clear(&sb[i]);
	tf_key_free(ca.sk);
}

static void test_no_verify_intl(void **state)
{
	(void)state;
	no_verify(TF_SUITE_INTL);
}

static void test_no_verify_gm(void **state)
{
	(void)state;
	no_verify(TF_SUITE_GM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_intl),
		cmocka_unit_test(test_filter_gm),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_no_verify_intl),
		cmocka_unit_test(test_no_verify_gm),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
