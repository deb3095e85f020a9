/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the end-to-end layer's parsers (src/lib/comms/e2e.c),
 * which a device runs on every message and bundle a relay hands it and a
 * relay runs on every bundle a device publishes. Input: a selector byte
 * (mod 6), then the bytes: 0 a message (tf_e2e_msg_parse), 1 a prekey
 * bundle (tf_e2e_bundle_parse, then what a relay derives from it:
 * tf_e2e_bundle_pick of each one-time prekey, parsed again), 2 a session
 * state file, 3 a prekeys state file; 4 and 5 take a suite byte (even
 * intl, odd gm) and then a message: 4 decrypted on an established
 * session, 5 given to tf_e2e_session_accept as a first message.
 * Invariants: a parsed message's fields lie inside the input and add up
 * to it; a picked bundle parses with one one-time prekey; nothing forged
 * decrypts (no private key is in the input: decrypt and accept must
 * fail); no read outside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000ull

static uint8_t out[TF_E2E_BUNDLE_MAX];

/* per suite: a CA, bob's keys and prekeys, alice's session to him and
 * his session from her (after her first message) */
struct world {
	struct tf_cert_anchor anchor;
	uint8_t bob_dh[32];
	struct tf_e2e_prekeys *pk;
	struct tf_e2e_session *bob;
};

static struct world worlds[2];
static bool ready;

static size_t cert_for(uint8_t suite, struct tf_key *ca, struct tf_key *sign,
		       const uint8_t *dh_pub, const char *officer, uint8_t *c)
{
	const struct tf_suite *s = tf_suite_by_id(suite);
	struct tf_cert t = {0};
	int n;

	t.suite = suite;
	t.role = TF_ROLE_OFFICER;
	t.serial = 1;
	t.not_before = NOW - 10;
	t.not_after = NOW + 86400;
	strcpy(t.officer, officer);
	strcpy(t.device, "d");
	t.sign_pk_len = t.dh_pk_len = s->pk_bytes;
	if (tf_key_public(sign, t.sign_pk, sizeof(t.sign_pk)) < 0)
		abort();
	memcpy(t.dh_pk, dh_pub, t.dh_pk_len);
	n = tf_cert_sign(&t, ca, c, TF_CERT_MAX);
	if (n <= 0)
		abort();
	return (size_t)n;
}

static void world_init(struct world *w, uint8_t suite)
{
	const struct tf_suite *s = tf_suite_by_id(suite);
	uint8_t seed[32], pk[TF_PK_MAX], a_dh[32], a_pub[TF_WG_PUB_MAX];
	uint8_t b_pub[TF_WG_PUB_MAX], acert[TF_CERT_MAX], bcert[TF_CERT_MAX];
	uint8_t bundle[TF_E2E_BUNDLE_MAX], msg[TF_E2E_MSG_MAX], pt[64];
	struct tf_key *ca, *as, *bs;
	struct tf_e2e_bundle b;
	struct tf_e2e_session *alice = NULL;
	size_t al, bl, pl;
	int n;

	memset(seed, 1, sizeof(seed));
	if (tf_key_sign_from_seed(s, seed, &ca) < 0 ||
	    tf_key_public(ca, pk, sizeof(pk)) < 0 ||
	    tf_cert_anchor_init(&w->anchor, s, pk, s->pk_bytes) < 0)
		abort();
	seed[0] = 2;
	if (tf_key_sign_from_seed(s, seed, &as) < 0)
		abort();
	seed[0] = 3;
	if (tf_key_sign_from_seed(s, seed, &bs) < 0 ||
	    tf_wg_keygen(suite, a_dh, a_pub, &pl) < 0 ||
	    tf_wg_keygen(suite, w->bob_dh, b_pub, &pl) < 0)
		abort();
	al = cert_for(suite, ca, as, a_pub, "alice", acert);
	bl = cert_for(suite, ca, bs, b_pub, "bob", bcert);
	if (tf_e2e_prekeys_new(suite, bs, 1, 4, 100, &w->pk) < 0)
		abort();
	n = tf_e2e_prekeys_bundle(w->pk, bcert, bl, bundle, sizeof(bundle));
	if (n <= 0 || tf_e2e_bundle_parse(bundle, (size_t)n, &b) < 0 ||
	    tf_e2e_session_initiate(suite, a_dh, acert, al, &b, &alice) < 0)
		abort();
	n = tf_e2e_encrypt(alice, (const uint8_t *)"hi", 2, msg, sizeof(msg));
	if (n <= 0 || tf_e2e_session_accept(suite, w->bob_dh, w->pk, &w->anchor,
					    NOW, NULL, msg, (size_t)n, NULL,
					    &w->bob, pt, sizeof(pt)) != 2)
		abort();
	tf_e2e_session_free(alice);
	tf_key_free(ca);
	tf_key_free(as);
	tf_key_free(bs);
}

static uint8_t pt[TF_E2E_PT_MAX];

static struct world *get_world(uint8_t which)
{
	if (!ready) {
		if (tf_crypto_init() < 0)
			abort();
		world_init(&worlds[0], TF_SUITE_INTL);
		world_init(&worlds[1], TF_SUITE_GM);
		ready = true;
	}
	return &worlds[which & 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_e2e_msg m;
	struct tf_e2e_bundle b, one;
	struct tf_e2e_session *s = NULL;
	struct tf_e2e_prekeys *p = NULL;
	struct world *w;

	if (size < 2)
		return 0;
	switch (data[0] % 6) {
	case 0:
		if (tf_e2e_msg_parse(data + 1, size - 1, &m) == 0 &&
		    (m.hdr_len + m.ctlen != size - 1 ||
		     m.ct != data + 1 + m.hdr_len ||
		     m.ctlen < TF_E2E_TAG_BYTES))
			abort();
		break;
	case 1:
		if (tf_e2e_bundle_parse(data + 1, size - 1, &b) != 0)
			break;
		for (size_t i = 0; i < b.opk_count; i++) {
			int n = tf_e2e_bundle_pick(&b, i, out, sizeof(out));

			if (n <= 0 ||
			    tf_e2e_bundle_parse(out, (size_t)n, &one) ||
			    one.opk_count != 1)
				abort();
		}
		break;
	case 2:
		if (tf_e2e_session_decode(data + 1, size - 1, &s) == 0)
			tf_e2e_session_free(s);
		break;
	case 3:
		if (tf_e2e_prekeys_decode(data + 1, size - 1, &p) == 0)
			tf_e2e_prekeys_free(p);
		break;
	case 4: /* on bob's session with alice */
		w = get_world(data[1]);
		if (tf_e2e_decrypt(w->bob, data + 2, size - 2, pt,
				   sizeof(pt)) >= 0)
			abort();
		break;
	default: /* a first message to bob */
		w = get_world(data[1]);
		if (tf_e2e_session_accept(w->anchor.suite->id, w->bob_dh, w->pk,
					  &w->anchor, NOW, NULL, data + 2,
					  size - 2, NULL, &s, pt,
					  sizeof(pt)) >= 0)
			abort();
		break;
	}
	return 0;
}
