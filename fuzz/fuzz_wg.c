/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the tunnel protocol's datagram parsers (src/lib/wg), which
 * the tunnel process and twofold-gateway run on every UDP datagram from
 * the network. Input: one flags byte, then the datagram. The datagram is
 * classified, then fed to every consumer of both suites from a fixed state
 * (fixed static keys, an initiation outstanding, a session up): consume
 * initiation (+ finish), response, cookie reply, decrypt, mac2 check and
 * cookie reply creation. Flag 0x01 recomputes mac1 with the receiver's
 * public key first, as any attacker can, so the fuzzer reaches the DH and
 * AEAD steps behind it (e.g. SM2 point decoding).
 * Invariants: nothing forged is accepted (no key is known to the input:
 * every consume must fail, except an initiation, which anyone may make
 * for a key it knows — the fixed initiator's private key is not in the
 * input, so even that fails), no read outside the datagram.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "src/lib/wg/internal.h"
#include "twofold/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 (1000 * TF_WG_NSEC)

struct side {
	struct tf_wg_static *si, *sr;
	struct tf_wg_peer *pi, *pr; /* live: pi has an initiation out */
	struct tf_wg_peer *scratch; /* a copy to consume into */
	struct tf_wg_keypair *ki, *kr;
};

static struct side sides[2];

static void seq(uint8_t *out, uint8_t start)
{
	for (size_t i = 0; i < TF_WG_PRIV_BYTES; i++)
		out[i] = (uint8_t)(start + 7 * i);
}

static void side_init(struct side *s, uint8_t suite)
{
	uint8_t a[32], b[32], m[TF_WG_HANDSHAKE_MAX], ts[12] = {0x40};
	struct tf_wg_initiation in;
	int n;

	seq(a, 1);
	seq(b, 2);
	if (tf_wg_static_new(suite, a, &s->si) ||
	    tf_wg_static_new(suite, b, &s->sr))
		abort();
	if (tf_wg_peer_new(s->si, tf_wg_static_pub(s->sr, NULL),
			   tf_wg_pub_bytes(suite), NULL, &s->pi) ||
	    tf_wg_peer_new(s->sr, tf_wg_static_pub(s->si, NULL),
			   tf_wg_pub_bytes(suite), NULL, &s->pr) ||
	    tf_wg_peer_new(s->sr, tf_wg_static_pub(s->si, NULL),
			   tf_wg_pub_bytes(suite), NULL, &s->scratch))
		abort();
	/* a session: initiation, response, keys */
	n = tf_wg_create_initiation(s->pi, 1, ts, T0, m, sizeof(m));
	if (n <= 0 || tf_wg_consume_initiation(s->sr, m, (size_t)n, &in) ||
	    tf_wg_consume_initiation_finish(s->pr, &in, T0))
		abort();
	n = tf_wg_create_response(s->pr, 2, T0, m, sizeof(m));
	if (n <= 0 || tf_wg_keypair_derive(s->pr, T0, &s->kr) ||
	    tf_wg_consume_response(s->pi, m, (size_t)n) ||
	    tf_wg_keypair_derive(s->pi, T0, &s->ki))
		abort();
	/* and a second initiation outstanding (for responses/cookies) */
	ts[11] = 1;
	n = tf_wg_create_initiation(s->pi, 3, ts, T0, m, sizeof(m));
	if (n <= 0)
		abort();
}

static void init_once(void)
{
	static bool done;

	if (done)
		return;
	if (tf_crypto_init() < 0)
		abort();
	side_init(&sides[0], TF_SUITE_INTL);
	side_init(&sides[1], TF_SUITE_GM);
	done = true;
}

static void run(struct side *s, uint8_t *msg, size_t len, bool restamp,
		enum tf_wg_msg kind)
{
	const struct sockaddr_in src = {.sin_family = AF_INET,
					.sin_port = htons(1)};
	struct tf_wg_initiation in;
	uint8_t out[TF_WG_HANDSHAKE_MAX];
	static uint8_t pt[65536];
	const struct tf_wg_static *to =
		kind == TF_WG_MSG_RESPONSE ? s->si : s->sr;

	if (restamp && len >= 32 &&
	    (kind == TF_WG_MSG_INITIATION || kind == TF_WG_MSG_RESPONSE) &&
	    to->s->mac(msg + len - 32, to->mac1_key, 32, msg, len - 32) < 0)
		abort();

	if (tf_wg_consume_initiation(s->sr, msg, len, &in) == 0) {
		/* the input cannot know si's private key */
		memcpy(s->scratch, s->pr, sizeof(*s->scratch));
		if (tf_wg_consume_initiation_finish(s->scratch, &in, 2 * T0) ==
		    0)
			abort();
	}
	memcpy(s->scratch, s->pi, sizeof(*s->scratch));
	if (tf_wg_consume_response(s->scratch, msg, len) == 0)
		abort();
	if (tf_wg_cookie_reply_consume(s->scratch, msg, len, T0) == 0)
		abort();
	wg_replay_init(&s->kr->replay);
	if (len <= sizeof(pt) &&
	    tf_wg_decrypt(s->kr, msg, len, T0, pt, sizeof(pt)) >= 0)
		abort();
	/* the handle lives in tf_secure_alloc (mmap) memory, which LeakSanitizer
	 * does not scan: close it so a replay under ASan reports no leak */
	wg_gm_slots_close(s->kr->recv_slot);
	(void)!tf_wg_check_mac2(s->sr, msg, len, (const void *)&src,
				sizeof(src), T0);
	(void)!tf_wg_cookie_reply_create(s->sr, msg, len, (const void *)&src,
					 sizeof(src), T0, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tf_wg_msg kind;
	uint8_t suite = 0;
	uint8_t *msg;

	init_once();
	if (size < 1)
		return 0;
	/* an exact-size copy we may restamp */
	msg = malloc(size - 1 ? size - 1 : 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, data + 1, size - 1);
	kind = tf_wg_msg_type(msg, size - 1, &suite);
	if (kind != TF_WG_MSG_INVALID)
		(void)tf_wg_msg_index(kind, msg);
	for (int i = 0; i < 2; i++)
		run(&sides[i], msg, size - 1, data[0] & 1, kind);
	free(msg);
	return 0;
}

#ifdef FUZZ_WG_GEN
/* Seed corpus writer (not built by meson): cc -DFUZZ_WG_GEN ... then
 * ./gen fuzz/corpus/fuzz_wg. Messages of the fixed state: the (replayed)
 * first initiation, a response, a cookie reply and transport packets. */
#include <stdio.h>

static void put(const char *dir, const char *name, uint8_t flag,
		const uint8_t *m, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(&flag, 1, 1, f) != 1 ||
	    fwrite(m, 1, len, f) != len || fclose(f) != 0)
		abort();
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"intl", "gm"};
	const struct sockaddr_in src = {.sin_family = AF_INET};

	if (argc != 2)
		return 2;
	init_once();
	for (int i = 0; i < 2; i++) {
		struct side *s = &sides[i];
		uint8_t m[TF_WG_HANDSHAKE_MAX], c[TF_WG_HANDSHAKE_MAX];
		uint8_t ts[12] = {0x40}, pt[100], ct[200];
		struct tf_wg_peer *p;
		char name[64];
		int n, k;

		memset(pt, 0x45, sizeof(pt));
		if (tf_wg_peer_new(s->si, tf_wg_static_pub(s->sr, NULL),
				   tf_wg_pub_bytes(s->si->s->id), NULL, &p))
			abort();
		n = tf_wg_create_initiation(p, 1, ts, T0, m, sizeof(m));
		snprintf(name, sizeof(name), "%s_initiation", names[i]);
		put(argv[1], name, 0, m, (size_t)n);
		snprintf(name, sizeof(name), "%s_initiation_restamp", names[i]);
		put(argv[1], name, 1, m, (size_t)n);
		k = tf_wg_cookie_reply_create(s->sr, m, (size_t)n,
					      (const void *)&src, sizeof(src),
					      T0, c, sizeof(c));
		snprintf(name, sizeof(name), "%s_cookie", names[i]);
		put(argv[1], name, 0, c, (size_t)k);
		memcpy(s->scratch, s->pr, sizeof(*s->scratch));
		s->scratch->state = WG_HS_INITIATION_CONSUMED;
		s->scratch->remote_index = 3;
		memcpy(s->scratch->re_pub, m + 8,
		       tf_wg_pub_bytes(s->si->s->id));
		n = tf_wg_create_response(s->scratch, 4, T0, m, sizeof(m));
		snprintf(name, sizeof(name), "%s_response_restamp", names[i]);
		put(argv[1], name, 1, m, (size_t)n);
		n = tf_wg_encrypt(s->ki, pt, sizeof(pt), 1420, T0, ct,
				  sizeof(ct));
		snprintf(name, sizeof(name), "%s_transport", names[i]);
		put(argv[1], name, 0, ct, (size_t)n);
		n = tf_wg_encrypt(s->ki, NULL, 0, 1420, T0, ct, sizeof(ct));
		snprintf(name, sizeof(name), "%s_keepalive", names[i]);
		put(argv[1], name, 0, ct, (size_t)n);
		tf_wg_peer_free(p);
	}
	return 0;
}
#endif
