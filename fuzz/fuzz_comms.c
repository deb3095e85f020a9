/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the device <-> relay channel's datagram parsers
 * (src/lib/comms), which a relay runs on every UDP datagram from anyone
 * and a device on every datagram from the network. Input: one selector
 * byte, then the datagram. Both suites, from a fixed state (fixed keys, a
 * client with an INIT outstanding, an established session): classify,
 * then the relay's accept (Noise message 1 and the certificate inside
 * it), its mac1/mac2 check and COOKIE reply, the client's finish (message
 * 2) and cookie open, and decrypt on both ends of the session.
 * FUZZ_COMMS_SEEDS=DIR writes seeds (an INIT with its MACs and a COOKIE,
 * both suites) into DIR at start.
 * Invariants: nothing forged is accepted (no private key or cookie
 * secret is in the input, so every accept/finish/decrypt, every mac2 and
 * every cookie open must fail), no read outside the datagram.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/comms.h"
#include "twofold/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000ull

struct side {
	uint8_t suite;
	struct tf_cert_anchor anchor;
	uint8_t relay_priv[32], relay_pub[TF_WG_PUB_MAX];
	uint8_t dev_priv[32];
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct tf_comms_relay relay;
	struct tf_comms_session *cs, *rs;
};

static struct side sides[2];
static bool ready;
static const uint8_t secret[TF_COMMS_COOKIE_SECRET_BYTES] = {0x3c};
static const uint8_t src[6] = {0x1f, 0x90, 127, 0, 0, 1};

static void seed(const char *dir, const char *name, uint8_t sel,
		 const uint8_t *b, size_t n)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wbe");
	if (f == NULL || fwrite(&sel, 1, 1, f) != 1 ||
	    fwrite(b, 1, n, f) != n || fclose(f) != 0)
		abort();
}

/* an INIT with valid MACs and the COOKIE answering it, as seeds */
static void write_seeds(struct side *s, const char *dir)
{
	uint8_t init[TF_COMMS_INIT_MAX], ck[TF_COMMS_COOKIE_MAX];
	struct tf_comms_client *cl = NULL;
	const char *sn = s->suite == TF_SUITE_GM ? "gm" : "intl";
	char name[64];
	int n, k;

	n = tf_comms_client_start(s->suite, s->dev_priv, s->relay_pub, s->cert,
				  s->certlen, 1, 1, &cl, init, sizeof(init));
	if (n < 0)
		abort();
	k = tf_comms_relay_cookie(&s->relay, init, (size_t)n, secret, src,
				  sizeof(src), ck, sizeof(ck));
	if (k < 0)
		abort();
	snprintf(name, sizeof(name), "%s_init", sn);
	/* selector bit 2: not through accept (the INIT is genuine) */
	seed(dir, name, (uint8_t)(2 | (s->suite == TF_SUITE_GM)), init,
	     (size_t)n);
	snprintf(name, sizeof(name), "%s_cookie", sn);
	seed(dir, name, (uint8_t)(8 | (s->suite == TF_SUITE_GM)), ck,
	     (size_t)k);
	tf_comms_client_free(cl);
}

static void seq(uint8_t *out, uint8_t start)
{
	for (size_t i = 0; i < 32; i++)
		out[i] = (uint8_t)(start + 7 * i);
}

static void side_init(struct side *s, uint8_t suite)
{
	const struct tf_suite *ts = tf_suite_by_id(suite);
	uint8_t seed[32], pk[TF_PK_MAX], dev_pub[TF_WG_PUB_MAX];
	uint8_t init[TF_COMMS_INIT_MAX], resp[TF_COMMS_RESP_MAX];
	struct tf_key *ca = NULL;
	struct tf_cert c = {0};
	struct tf_comms_client *cl = NULL;
	struct tf_comms_peer peer;
	size_t pl;
	int n, m;

	s->suite = suite;
	memset(seed, 0x11, sizeof(seed));
	seq(s->relay_priv, 1);
	seq(s->dev_priv, 2);
	if (tf_key_sign_from_seed(ts, seed, &ca) < 0 ||
	    tf_key_public(ca, pk, sizeof(pk)) < 0 ||
	    tf_cert_anchor_init(&s->anchor, ts, pk, ts->pk_bytes) < 0 ||
	    tf_wg_pubkey(suite, s->relay_priv, s->relay_pub, &pl) < 0 ||
	    tf_wg_pubkey(suite, s->dev_priv, dev_pub, &pl) < 0)
		abort();
	c.suite = suite;
	c.role = TF_ROLE_OFFICER;
	c.serial = 1;
	c.not_before = NOW - 60;
	c.not_after = NOW + 3600;
	strcpy(c.officer, "fuzz");
	strcpy(c.device, "fuzz");
	c.sign_pk_len = c.dh_pk_len = ts->pk_bytes;
	memcpy(c.sign_pk, pk, ts->pk_bytes);
	memcpy(c.dh_pk, dev_pub, ts->pk_bytes);
	n = tf_cert_sign(&c, ca, s->cert, sizeof(s->cert));
	if (n < 0)
		abort();
	s->certlen = (size_t)n;
	tf_key_free(ca);
	s->relay = (struct tf_comms_relay){.suite = suite,
					   .priv = s->relay_priv,
					   .pub = s->relay_pub,
					   .ca = &s->anchor,
					   .roles = TF_ROLES_CLIENT};
	n = tf_comms_client_start(suite, s->dev_priv, s->relay_pub, s->cert,
				  s->certlen, 1, 1, &cl, init, sizeof(init));
	if (n < 0)
		abort();
	m = tf_comms_relay_accept(&s->relay, init, (size_t)n, NOW, 2, &peer,
				  resp, sizeof(resp), &s->rs);
	if (m < 0 || tf_comms_client_finish(cl, resp, (size_t)m, &s->cs) < 0)
		abort();
	tf_comms_client_free(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[TF_COMMS_INIT_MAX + TF_COMMS_PAYLOAD_MAX];
	uint8_t init[TF_COMMS_INIT_MAX];

	if (!ready) {
		if (tf_crypto_init() < 0)
			abort();
		side_init(&sides[0], TF_SUITE_INTL);
		side_init(&sides[1], TF_SUITE_GM);
		ready = true;
		if (getenv("FUZZ_COMMS_SEEDS") != NULL) {
			write_seeds(&sides[0], getenv("FUZZ_COMMS_SEEDS"));
			write_seeds(&sides[1], getenv("FUZZ_COMMS_SEEDS"));
		}
	}
	if (size < 1)
		return 0;
	struct side *s = &sides[data[0] & 1];
	const uint8_t *msg = data + 1;
	size_t len = size - 1;
	uint32_t id;
	enum tf_comms_msg k = tf_comms_classify(s->suite, msg, len, &id);

	if ((data[0] & 2) == 0) {
		struct tf_comms_session *rs = NULL;
		struct tf_comms_peer peer;
		if (tf_comms_relay_accept(&s->relay, msg, len, NOW, 9, &peer,
					  out, sizeof(out), &rs) >= 0)
			abort();
	}
	if (k == TF_COMMS_MSG_INIT) {
		/* mac2 needs the cookie of a secret the input does not
		 * know; a valid mac1 (anyone can make one) gets a COOKIE */
		if (tf_comms_relay_check(&s->relay, msg, len, secret, src,
					 sizeof(src)) == 0)
			abort();
		if (tf_comms_relay_check(&s->relay, msg, len, NULL, src,
					 sizeof(src)) == 0 &&
		    tf_comms_relay_cookie(&s->relay, msg, len, secret, src,
					  sizeof(src), out, sizeof(out)) !=
			    (int)tf_comms_cookie_bytes(s->suite))
			abort();
	}
	if (k == TF_COMMS_MSG_COOKIE && (data[0] & 8)) {
		struct tf_comms_client *cl = NULL;
		if (tf_comms_client_start(s->suite, s->dev_priv, s->relay_pub,
					  s->cert, s->certlen, 2, id, &cl, init,
					  sizeof(init)) < 0)
			abort();
		/* bound to our fresh INIT's mac1: nothing opens */
		if (tf_comms_client_cookie(cl, msg, len) == 0)
			abort();
		tf_comms_client_free(cl);
	}
	if (k == TF_COMMS_MSG_RESP && (data[0] & 4)) {
		struct tf_comms_client *cl = NULL;
		struct tf_comms_session *cs = NULL;
		if (tf_comms_client_start(s->suite, s->dev_priv, s->relay_pub,
					  s->cert, s->certlen, 2, id, &cl, init,
					  sizeof(init)) < 0)
			abort();
		if (tf_comms_client_finish(cl, msg, len, &cs) == 0)
			abort();
		tf_comms_client_free(cl);
	}
	if (tf_comms_decrypt(s->rs, msg, len, out, sizeof(out)) >= 0 ||
	    tf_comms_decrypt(s->cs, msg, len, out, sizeof(out)) >= 0)
		abort();
	return 0;
}
