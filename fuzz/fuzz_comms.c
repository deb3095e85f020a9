/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the device <-> relay channel's datagram parsers
 * (src/lib/comms), which a relay runs on every UDP datagram from anyone
 * and a device on every datagram from the network. Input: one selector
 * byte, then the datagram. Both suites, from a fixed state (fixed keys, a
 * client with an INIT outstanding, an established session): classify,
 * then the relay's accept (Noise message 1 and the certificate inside
 * it), the client's finish (message 2), and decrypt on both ends of the
 * session.
 * Invariants: nothing forged is accepted (no private key is in the
 * input, so every accept/finish/decrypt must fail), no read outside the
 * datagram.
 */
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
