/* SPDX-License-Identifier: ISC */
/*
 * The Noise_IKpsk2 handshake of WireGuard (whitepaper 5.4.2-5.4.5), the
 * same code for both suites: only the primitives (suite.c), the sizes and
 * the type numbers differ. Names follow the paper: C (chaining key) = ck,
 * H (hash) = h, E = ephemeral, S = static.
 */
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "twofold/secmem.h"

static const char LABEL_MAC1[] = "mac1----";
static const char LABEL_COOKIE[] = "cookie--";

/* ---- classification ---- */

size_t tf_wg_pub_bytes(uint8_t suite)
{
	const struct wg_suite *s = wg_suite_get(suite);

	return s ? s->pub_bytes : 0;
}

enum tf_wg_msg tf_wg_msg_type(const uint8_t *buf, size_t len, uint8_t *suite)
{
	static const struct wg_suite *const suites[] = {&wg_suite_intl,
							&wg_suite_gm};
	uint32_t type;

	if (buf == NULL || len < 4)
		return TF_WG_MSG_INVALID;
	/* the type byte and three reserved zero bytes */
	type = tf_get_le32(buf);
	for (size_t i = 0; i < TF_ARRAY_SIZE(suites); i++) {
		const struct wg_suite *s = suites[i];
		enum tf_wg_msg kind;
		size_t want;

		if (type <= s->type_base || type > s->type_base + 4)
			continue;
		kind = (enum tf_wg_msg)(type - s->type_base);
		switch (kind) {
		case TF_WG_MSG_INITIATION: want = s->init_bytes; break;
		case TF_WG_MSG_RESPONSE: want = s->resp_bytes; break;
		case TF_WG_MSG_COOKIE_REPLY: want = s->cookie_bytes; break;
		case TF_WG_MSG_TRANSPORT:
			if (len < TF_WG_TRANSPORT_MIN)
				return TF_WG_MSG_INVALID;
			*suite = s->id;
			return kind;
		default: return TF_WG_MSG_INVALID;
		}
		if (len != want)
			return TF_WG_MSG_INVALID;
		*suite = s->id;
		return kind;
	}
	return TF_WG_MSG_INVALID;
}

uint32_t tf_wg_msg_index(enum tf_wg_msg kind, const uint8_t *buf)
{
	/* initiation: sender at 4; response: receiver at 8; cookie reply
	 * and transport: receiver at 4 */
	return tf_get_le32(buf + (kind == TF_WG_MSG_RESPONSE ? 8 : 4));
}

/* ---- Noise helpers ---- */

/* KDF_n(key, input) of the paper: t0 = HMAC(key, input),
 * t_i = HMAC(t0, t_{i-1} || i). o2/o3 may be NULL. */
static int kdf(const struct wg_suite *s, uint8_t *o1, uint8_t *o2, uint8_t *o3,
	       const uint8_t ck[WG_HASH_BYTES], const uint8_t *in, size_t inlen)
{
	uint8_t t0[WG_HASH_BYTES], t[WG_HASH_BYTES];
	uint8_t one = 1, two = 2, three = 3;
	int r;

	r = s->hmac(t0, ck, WG_HASH_BYTES, in, inlen, NULL, 0);
	if (r < 0)
		goto out;
	r = s->hmac(t, t0, sizeof(t0), &one, 1, NULL, 0);
	if (r < 0)
		goto out;
	memcpy(o1, t, WG_HASH_BYTES);
	if (o2 == NULL)
		goto out;
	r = s->hmac(t, t0, sizeof(t0), t, sizeof(t), &two, 1);
	if (r < 0)
		goto out;
	memcpy(o2, t, WG_HASH_BYTES);
	if (o3 == NULL)
		goto out;
	r = s->hmac(t, t0, sizeof(t0), t, sizeof(t), &three, 1);
	if (r < 0)
		goto out;
	memcpy(o3, t, WG_HASH_BYTES);
out:
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(t, sizeof(t));
	return r;
}

/* h = HASH(h || data) */
static int mix_hash(const struct wg_suite *s, uint8_t h[WG_HASH_BYTES],
		    const uint8_t *data, size_t len)
{
	return s->hash(h, h, WG_HASH_BYTES, data, len);
}

/* ck, h at the start: C = HASH(CONSTRUCTION), H = HASH(C || IDENTIFIER),
 * H = HASH(H || S_responder). */
static int hs_init(const struct wg_suite *s, uint8_t ck[WG_HASH_BYTES],
		   uint8_t h[WG_HASH_BYTES], const uint8_t *resp_pub)
{
	int r;

	r = s->hash(ck, s->construction, strlen(s->construction), NULL, 0);
	if (r < 0)
		return r;
	r = s->hash(h, ck, WG_HASH_BYTES, s->identifier, strlen(s->identifier));
	if (r < 0)
		return r;
	return mix_hash(s, h, resp_pub, s->pub_bytes);
}

static int label_key(const struct wg_suite *s, uint8_t out[WG_HASH_BYTES],
		     const char *label, const uint8_t *pub)
{
	return s->hash(out, label, 8, pub, s->pub_bytes);
}

/* mac1 = MAC(HASH(LABEL_MAC1 || S_receiver), msg up to mac1);
 * mac2 = MAC(cookie, msg up to mac2) or zeros. */
static int stamp_macs(struct tf_wg_peer *p, uint8_t *msg, size_t len,
		      uint64_t now)
{
	const struct wg_suite *s = p->s;
	uint8_t *mac1 = msg + len - 2 * TF_WG_MAC_BYTES;
	uint8_t *mac2 = msg + len - TF_WG_MAC_BYTES;
	int r;

	r = s->mac(mac1, p->mac1_key, WG_HASH_BYTES, msg, (size_t)(mac1 - msg));
	if (r < 0)
		return r;
	memcpy(p->last_mac1, mac1, TF_WG_MAC_BYTES);
	p->last_mac1_index = tf_get_le32(msg + 4); /* our sender index */
	p->has_last_mac1 = true;
	/* a cookie is good for its secret's lifetime less the latency
	 * allowance (the kernel's COOKIE_SECRET_LATENCY = REKEY_TIMEOUT) */
	if (p->has_cookie &&
	    now - p->cookie_birth < (uint64_t)(TF_WG_COOKIE_SECRET_MAX_AGE -
					       TF_WG_REKEY_TIMEOUT) *
					    TF_WG_NSEC)
		return s->mac(mac2, p->cookie, TF_WG_MAC_BYTES, msg,
			      (size_t)(mac2 - msg));
	memset(mac2, 0, TF_WG_MAC_BYTES);
	return 0;
}

static int check_mac1(const struct wg_suite *s,
		      const uint8_t key[WG_HASH_BYTES], const uint8_t *msg,
		      size_t len)
{
	const uint8_t *mac1 = msg + len - 2 * TF_WG_MAC_BYTES;
	uint8_t want[TF_WG_MAC_BYTES];
	int r;

	r = s->mac(want, key, WG_HASH_BYTES, msg, (size_t)(mac1 - msg));
	if (r < 0)
		return r;
	return sodium_memcmp(want, mac1, TF_WG_MAC_BYTES) == 0 ? 0 : -EBADMSG;
}

/* A fresh ephemeral (or the test's fixed one). */
static int ephemeral(struct tf_wg_peer *p)
{
	if (p->fixed_e) {
		p->fixed_e = false;
		memcpy(p->e_priv, p->fixed_e_priv, TF_WG_PRIV_BYTES);
		sodium_memzero(p->fixed_e_priv, TF_WG_PRIV_BYTES);
		return p->s->pubkey(p->e_priv, p->e_pub);
	}
	return p->s->keygen(p->e_priv, p->e_pub);
}

void tf_wg_test_fix_ephemeral(struct tf_wg_peer *p,
			      const uint8_t priv[TF_WG_PRIV_BYTES])
{
	memcpy(p->fixed_e_priv, priv, TF_WG_PRIV_BYTES);
	p->fixed_e = true;
}

void tf_wg_peer_clear_handshake(struct tf_wg_peer *p)
{
	p->state = WG_HS_NONE;
	p->local_index = p->remote_index = 0;
	sodium_memzero(p->e_priv, sizeof(p->e_priv));
	sodium_memzero(p->e_pub, sizeof(p->e_pub));
	sodium_memzero(p->re_pub, sizeof(p->re_pub));
	sodium_memzero(p->ck, sizeof(p->ck));
	sodium_memzero(p->h, sizeof(p->h));
}

/* ---- keys, static, peer ---- */

int tf_wg_keygen(uint8_t suite, uint8_t priv[static TF_WG_PRIV_BYTES],
		 uint8_t pub[static TF_WG_PUB_MAX], size_t *publen)
{
	const struct wg_suite *s = wg_suite_get(suite);
	int r;

	if (s == NULL || publen == NULL)
		return -EINVAL;
	r = s->keygen(priv, pub);
	if (r < 0)
		return r;
	*publen = s->pub_bytes;
	return 0;
}

int tf_wg_pubkey(uint8_t suite, const uint8_t priv[static TF_WG_PRIV_BYTES],
		 uint8_t pub[static TF_WG_PUB_MAX], size_t *publen)
{
	const struct wg_suite *s = wg_suite_get(suite);
	int r;

	if (s == NULL || publen == NULL)
		return -EINVAL;
	r = s->pubkey(priv, pub);
	if (r < 0)
		return r;
	*publen = s->pub_bytes;
	return 0;
}

int tf_wg_static_new(uint8_t suite, const uint8_t priv[static TF_WG_PRIV_BYTES],
		     struct tf_wg_static **out)
{
	const struct wg_suite *s = wg_suite_get(suite);
	struct tf_wg_static *st;
	int r;

	if (s == NULL)
		return -EINVAL;
	st = tf_secure_alloc(sizeof(*st));
	if (st == NULL)
		return tf_negerrno();
	st->s = s;
	memcpy(st->priv, priv, TF_WG_PRIV_BYTES);
	if (s->id == TF_SUITE_INTL) {
		/* keep the clamped scalar, as wireguard-go does */
		st->priv[0] &= 248;
		st->priv[31] = (st->priv[31] & 127) | 64;
	}
	r = s->pubkey(st->priv, st->pub);
	if (r == 0)
		r = label_key(s, st->mac1_key, LABEL_MAC1, st->pub);
	if (r == 0)
		r = label_key(s, st->cookie_key, LABEL_COOKIE, st->pub);
	if (r < 0) {
		tf_secure_free(st);
		return r;
	}
	*out = st;
	return 0;
}

void tf_wg_static_free(struct tf_wg_static *s)
{
	tf_secure_free(s); /* zeroes */
}

uint8_t tf_wg_static_suite(const struct tf_wg_static *s)
{
	return s->s->id;
}

const uint8_t *tf_wg_static_pub(const struct tf_wg_static *s, size_t *len)
{
	if (len)
		*len = s->s->pub_bytes;
	return s->pub;
}

int tf_wg_peer_new(struct tf_wg_static *local, const uint8_t *pub,
		   size_t publen, const uint8_t *psk, struct tf_wg_peer **out)
{
	const struct wg_suite *s = local->s;
	struct tf_wg_peer *p;
	int r;

	if (publen != s->pub_bytes)
		return -EINVAL;
	p = tf_secure_alloc(sizeof(*p));
	if (p == NULL)
		return tf_negerrno();
	p->s = s;
	p->local = local;
	memcpy(p->pub, pub, publen);
	if (psk != NULL)
		memcpy(p->psk, psk, TF_WG_PSK_BYTES);
	/* the static-static DH is the same for every handshake with this
	 * peer; an invalid or low-order key fails here, once */
	r = s->dh(p->ss, local->priv, p->pub);
	if (r == 0)
		r = label_key(s, p->mac1_key, LABEL_MAC1, p->pub);
	if (r == 0)
		r = label_key(s, p->cookie_key, LABEL_COOKIE, p->pub);
	if (r < 0) {
		tf_secure_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void tf_wg_peer_free(struct tf_wg_peer *p)
{
	tf_secure_free(p);
}

const uint8_t *tf_wg_peer_pub(const struct tf_wg_peer *p, size_t *len)
{
	if (len)
		*len = p->s->pub_bytes;
	return p->pub;
}

/* ---- TAI64N ---- */

void tf_wg_tai64n_now(uint8_t out[static TF_WG_TAI64N_BYTES])
{
	struct timespec ts;
	uint64_t sec;
	uint32_t nsec;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* TAI64 label: 2^62 + 10 + seconds since the epoch (the 10 s
	 * TAI-UTC offset of 1972, as the kernel and wireguard-go; the
	 * responder only compares, so the exact base matters for interop
	 * only in that it never goes backwards). Nanoseconds are
	 * rounded down to 2^24 ns (~16.8 ms), as the kernel and
	 * wireguard-go do, so the timestamp is no precise clock oracle. */
	sec = 0x400000000000000aull + (uint64_t)ts.tv_sec;
	nsec = (uint32_t)ts.tv_nsec & ~((1u << 24) - 1);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

/* ---- initiation (5.4.2) ---- */

int tf_wg_create_initiation(struct tf_wg_peer *p, uint32_t local_index,
			    const uint8_t tai64n[static TF_WG_TAI64N_BYTES],
			    uint64_t now, uint8_t *out, size_t cap)
{
	const struct wg_suite *s = p->s;
	const size_t P = s->pub_bytes;
	uint8_t *e = out + 8, *st = e + P, *ts = st + P + TF_WG_TAG_BYTES;
	uint8_t k[WG_KEY_BYTES], dh[32];
	int r;

	if (cap < s->init_bytes)
		return -ENOBUFS;
	tf_wg_peer_clear_handshake(p);
	memset(out, 0, s->init_bytes);
	tf_put_le32(out, s->type_base + TF_WG_MSG_INITIATION);
	tf_put_le32(out + 4, local_index);

	r = hs_init(s, p->ck, p->h, p->pub);
	if (r < 0)
		goto fail;
	/* E_i; C = KDF1(C, E_i.pub); H = HASH(H || E_i.pub) */
	r = ephemeral(p);
	if (r < 0)
		goto fail;
	memcpy(e, p->e_pub, P);
	r = kdf(s, p->ck, NULL, NULL, p->ck, e, P);
	if (r == 0)
		r = mix_hash(s, p->h, e, P);
	/* (C, k) = KDF2(C, DH(E_i, S_r)); static = AEAD(k, 0, S_i, H) */
	if (r == 0)
		r = s->dh(dh, p->e_priv, p->pub);
	if (r == 0)
		r = kdf(s, p->ck, k, NULL, p->ck, dh, sizeof(dh));
	if (r == 0)
		r = s->aead_seal(st, k, 0, p->local->pub, P, p->h,
				 WG_HASH_BYTES);
	if (r == 0)
		r = mix_hash(s, p->h, st, P + TF_WG_TAG_BYTES);
	/* (C, k) = KDF2(C, DH(S_i, S_r)); timestamp = AEAD(k, 0, TAI64N, H) */
	if (r == 0)
		r = kdf(s, p->ck, k, NULL, p->ck, p->ss, sizeof(p->ss));
	if (r == 0)
		r = s->aead_seal(ts, k, 0, tai64n, TF_WG_TAI64N_BYTES, p->h,
				 WG_HASH_BYTES);
	if (r == 0)
		r = mix_hash(s, p->h, ts, TF_WG_TAI64N_BYTES + TF_WG_TAG_BYTES);
	if (r == 0)
		r = stamp_macs(p, out, s->init_bytes, now);
	if (r < 0)
		goto fail;
	p->state = WG_HS_INITIATION_SENT;
	p->local_index = local_index;
	r = (int)s->init_bytes;
	goto out;
fail:
	tf_wg_peer_clear_handshake(p);
	sodium_memzero(out, s->init_bytes);
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dh, sizeof(dh));
	return r;
}

void tf_wg_initiation_wipe(struct tf_wg_initiation *in)
{
	sodium_memzero(in, sizeof(*in));
}

int tf_wg_consume_initiation(const struct tf_wg_static *local,
			     const uint8_t *msg, size_t len,
			     struct tf_wg_initiation *out)
{
	const struct wg_suite *s = local->s;
	const size_t P = s->pub_bytes;
	const uint8_t *e = msg + 8, *st = e + P, *ts = st + P + TF_WG_TAG_BYTES;
	struct tf_wg_initiation in = {0};
	uint8_t k[WG_KEY_BYTES], dh[32];
	uint8_t suite;
	int r;

	if (tf_wg_msg_type(msg, len, &suite) != TF_WG_MSG_INITIATION)
		return -EBADMSG;
	if (suite != s->id)
		return -EPROTO;
	r = check_mac1(s, local->mac1_key, msg, len);
	if (r < 0)
		return r;

	in.suite = s->id;
	in.sender_index = tf_get_le32(msg + 4);
	r = hs_init(s, in.priv_ck, in.priv_h, local->pub);
	if (r < 0)
		goto out;
	memcpy(in.priv_e, e, P);
	r = kdf(s, in.priv_ck, NULL, NULL, in.priv_ck, e, P);
	if (r == 0)
		r = mix_hash(s, in.priv_h, e, P);
	/* an invalid or low-order ephemeral is refused here */
	if (r == 0)
		r = s->dh(dh, local->priv, e);
	if (r == 0)
		r = kdf(s, in.priv_ck, k, NULL, in.priv_ck, dh, sizeof(dh));
	if (r == 0)
		r = s->aead_open(in.peer_pub, k, 0, st, P + TF_WG_TAG_BYTES,
				 in.priv_h, WG_HASH_BYTES);
	if (r == 0)
		r = mix_hash(s, in.priv_h, st, P + TF_WG_TAG_BYTES);
	if (r < 0)
		goto out;
	in.peer_pub_len = P;
	memcpy(in.priv_ts, ts, sizeof(in.priv_ts));
	memcpy(in.priv_mac1, msg + len - 2 * TF_WG_MAC_BYTES, TF_WG_MAC_BYTES);
	*out = in;
out:
	if (r == -EINVAL)
		r = -EBADMSG; /* a bad point in a message is a bad message */
	tf_wg_initiation_wipe(&in);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(dh, sizeof(dh));
	return r;
}

int tf_wg_consume_initiation_finish(struct tf_wg_peer *p,
				    struct tf_wg_initiation *in, uint64_t now)
{
	const struct wg_suite *s = p->s;
	uint8_t ck[WG_HASH_BYTES], h[WG_HASH_BYTES], k[WG_KEY_BYTES];
	uint8_t ts[TF_WG_TAI64N_BYTES];
	bool flood;
	int r;

	if (in->suite != s->id || in->peer_pub_len != s->pub_bytes ||
	    sodium_memcmp(in->peer_pub, p->pub, s->pub_bytes) != 0) {
		r = -EINVAL;
		goto out;
	}
	memcpy(ck, in->priv_ck, sizeof(ck));
	memcpy(h, in->priv_h, sizeof(h));
	/* (C, k) = KDF2(C, DH(S_r, S_i)); timestamp = AEAD-open(k, 0, H) */
	r = kdf(s, ck, k, NULL, ck, p->ss, sizeof(p->ss));
	if (r == 0)
		r = s->aead_open(ts, k, 0, in->priv_ts, sizeof(in->priv_ts), h,
				 WG_HASH_BYTES);
	if (r == 0)
		r = mix_hash(s, h, in->priv_ts, sizeof(in->priv_ts));
	if (r < 0)
		goto out;
	/* Replay: the timestamp must grow (TAI64N is big-endian, so byte
	 * order is time order). Flood: at most INITIATIONS_PER_SECOND. The
	 * timestamp is public-ish (not a secret): memcmp is fine. */
	flood = p->last_init_consumed != 0 &&
		now - p->last_init_consumed <
			TF_WG_NSEC / TF_WG_INITIATIONS_PER_SECOND;
	if (memcmp(ts, p->last_ts, sizeof(ts)) <= 0 || flood) {
		r = -EALREADY;
		goto out;
	}
	memcpy(p->last_ts, ts, sizeof(ts));
	p->last_init_consumed = now;

	tf_wg_peer_clear_handshake(p);
	memcpy(p->ck, ck, sizeof(ck));
	memcpy(p->h, h, sizeof(h));
	memcpy(p->re_pub, in->priv_e, s->pub_bytes);
	p->remote_index = in->sender_index;
	p->state = WG_HS_INITIATION_CONSUMED;
	r = 0;
out:
	tf_wg_initiation_wipe(in);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(k, sizeof(k));
	return r;
}

/* ---- response (5.4.3) ---- */

int tf_wg_create_response(struct tf_wg_peer *p, uint32_t local_index,
			  uint64_t now, uint8_t *out, size_t cap)
{
	const struct wg_suite *s = p->s;
	const size_t P = s->pub_bytes;
	uint8_t *e = out + 12, *empty = e + P;
	uint8_t k[WG_KEY_BYTES], tau[WG_HASH_BYTES], dh[32];
	int r;

	if (p->state != WG_HS_INITIATION_CONSUMED)
		return -EINVAL;
	if (cap < s->resp_bytes)
		return -ENOBUFS;
	memset(out, 0, s->resp_bytes);
	tf_put_le32(out, s->type_base + TF_WG_MSG_RESPONSE);
	tf_put_le32(out + 4, local_index);
	tf_put_le32(out + 8, p->remote_index);

	/* E_r; C = KDF1(C, E_r.pub); H = HASH(H || E_r.pub) */
	r = ephemeral(p);
	if (r < 0)
		goto fail;
	memcpy(e, p->e_pub, P);
	r = kdf(s, p->ck, NULL, NULL, p->ck, e, P);
	if (r == 0)
		r = mix_hash(s, p->h, e, P);
	/* C = KDF1(C, DH(E_r, E_i)); C = KDF1(C, DH(E_r, S_i)) */
	if (r == 0)
		r = s->dh(dh, p->e_priv, p->re_pub);
	if (r == 0)
		r = kdf(s, p->ck, NULL, NULL, p->ck, dh, sizeof(dh));
	if (r == 0)
		r = s->dh(dh, p->e_priv, p->pub);
	if (r == 0)
		r = kdf(s, p->ck, NULL, NULL, p->ck, dh, sizeof(dh));
	/* (C, tau, k) = KDF3(C, Q); H = HASH(H || tau); empty = AEAD(k, 0,
	 * "", H); H = HASH(H || empty) */
	if (r == 0)
		r = kdf(s, p->ck, tau, k, p->ck, p->psk, sizeof(p->psk));
	if (r == 0)
		r = mix_hash(s, p->h, tau, sizeof(tau));
	if (r == 0)
		r = s->aead_seal(empty, k, 0, NULL, 0, p->h, WG_HASH_BYTES);
	if (r == 0)
		r = mix_hash(s, p->h, empty, TF_WG_TAG_BYTES);
	if (r == 0)
		r = stamp_macs(p, out, s->resp_bytes, now);
	if (r < 0)
		goto fail;
	p->local_index = local_index;
	p->state = WG_HS_RESPONSE_SENT;
	r = (int)s->resp_bytes;
	goto out;
fail:
	tf_wg_peer_clear_handshake(p);
	sodium_memzero(out, s->resp_bytes);
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(dh, sizeof(dh));
	return r;
}

int tf_wg_consume_response(struct tf_wg_peer *p, const uint8_t *msg, size_t len)
{
	const struct wg_suite *s = p->s;
	const size_t P = s->pub_bytes;
	const uint8_t *e = msg + 12, *empty = e + P;
	uint8_t ck[WG_HASH_BYTES], h[WG_HASH_BYTES], k[WG_KEY_BYTES];
	uint8_t tau[WG_HASH_BYTES], dh[32];
	uint8_t suite;
	int r;

	if (tf_wg_msg_type(msg, len, &suite) != TF_WG_MSG_RESPONSE)
		return -EBADMSG;
	if (suite != s->id)
		return -EPROTO;
	if (p->state != WG_HS_INITIATION_SENT ||
	    tf_get_le32(msg + 8) != p->local_index)
		return -EINVAL;
	r = check_mac1(s, p->local->mac1_key, msg, len);
	if (r < 0)
		return r;
	/* work on copies: p is changed only when the response is good */
	memcpy(ck, p->ck, sizeof(ck));
	memcpy(h, p->h, sizeof(h));
	r = kdf(s, ck, NULL, NULL, ck, e, P);
	if (r == 0)
		r = mix_hash(s, h, e, P);
	if (r == 0)
		r = s->dh(dh, p->e_priv, e);
	if (r == 0)
		r = kdf(s, ck, NULL, NULL, ck, dh, sizeof(dh));
	if (r == 0)
		r = s->dh(dh, p->local->priv, e);
	if (r == 0)
		r = kdf(s, ck, NULL, NULL, ck, dh, sizeof(dh));
	if (r == 0)
		r = kdf(s, ck, tau, k, ck, p->psk, sizeof(p->psk));
	if (r == 0)
		r = mix_hash(s, h, tau, sizeof(tau));
	if (r == 0)
		r = s->aead_open(NULL, k, 0, empty, TF_WG_TAG_BYTES, h,
				 WG_HASH_BYTES);
	if (r == 0)
		r = mix_hash(s, h, empty, TF_WG_TAG_BYTES);
	if (r < 0) {
		if (r == -EINVAL)
			r = -EBADMSG;
		goto out;
	}
	memcpy(p->ck, ck, sizeof(ck));
	memcpy(p->h, h, sizeof(h));
	memcpy(p->re_pub, e, P);
	p->remote_index = tf_get_le32(msg + 4);
	p->state = WG_HS_RESPONSE_CONSUMED;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(dh, sizeof(dh));
	return r;
}

/* ---- transport keys (5.4.5) ---- */

int tf_wg_keypair_derive(struct tf_wg_peer *p, uint64_t now,
			 struct tf_wg_keypair **out)
{
	struct tf_wg_keypair *kp;
	uint8_t t1[WG_KEY_BYTES], t2[WG_KEY_BYTES];
	bool initiator;
	int r;

	if (p->state == WG_HS_RESPONSE_CONSUMED)
		initiator = true;
	else if (p->state == WG_HS_RESPONSE_SENT)
		initiator = false;
	else
		return -EINVAL;
	kp = tf_secure_alloc(sizeof(*kp));
	if (kp == NULL)
		return tf_negerrno();
	/* (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(C, "") */
	r = kdf(p->s, t1, t2, NULL, p->ck, NULL, 0);
	if (r < 0) {
		tf_secure_free(kp);
		goto out;
	}
	kp->s = p->s;
	kp->is_initiator = initiator;
	kp->local_index = p->local_index;
	kp->remote_index = p->remote_index;
	kp->birth = now;
	atomic_init(&kp->send_counter, 0);
	memcpy(kp->send_key, initiator ? t1 : t2, WG_KEY_BYTES);
	memcpy(kp->recv_key, initiator ? t2 : t1, WG_KEY_BYTES);
	wg_replay_init(&kp->replay);
	for (unsigned i = 0; i < WG_GM_SLOTS; i++) {
		atomic_flag_clear(&kp->send_slot[i].busy);
		atomic_flag_clear(&kp->recv_slot[i].busy);
	}
	*out = kp;
out:
	tf_wg_peer_clear_handshake(p);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	return r;
}

/* ---- cookies (5.4.7) ---- */

/* The cookie tau = MAC(R_m, A_m): R_m the responder's secret, A_m the
 * source address and port in network order (as the kernel). */
static int make_cookie(struct tf_wg_static *local, const struct sockaddr *src,
		       socklen_t srclen, uint64_t now,
		       uint8_t cookie[TF_WG_MAC_BYTES])
{
	uint8_t a[18];
	size_t alen;

	if (src->sa_family == AF_INET && srclen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)src;

		memcpy(a, &s4->sin_addr, 4);
		memcpy(a + 4, &s4->sin_port, 2);
		alen = 6;
	} else if (src->sa_family == AF_INET6 &&
		   srclen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)src;

		memcpy(a, &s6->sin6_addr, 16);
		memcpy(a + 16, &s6->sin6_port, 2);
		alen = 18;
	} else {
		return -EINVAL;
	}
	if (!local->secret_valid ||
	    now - local->secret_birth >=
		    (uint64_t)TF_WG_COOKIE_SECRET_MAX_AGE * TF_WG_NSEC) {
		randombytes_buf(local->secret, sizeof(local->secret));
		local->secret_birth = now;
		local->secret_valid = true;
	}
	return local->s->mac(cookie, local->secret, sizeof(local->secret), a,
			     alen);
}

/* msg must be a handshake message (initiation or response) of local's
 * suite, as classified. */
static int handshake_of(const struct wg_suite *s, const uint8_t *msg,
			size_t len)
{
	uint8_t suite;
	enum tf_wg_msg kind = tf_wg_msg_type(msg, len, &suite);

	if (kind != TF_WG_MSG_INITIATION && kind != TF_WG_MSG_RESPONSE)
		return -EBADMSG;
	return suite == s->id ? 0 : -EPROTO;
}

int tf_wg_check_mac2(struct tf_wg_static *local, const uint8_t *msg, size_t len,
		     const struct sockaddr *src, socklen_t srclen, uint64_t now)
{
	const struct wg_suite *s = local->s;
	uint8_t cookie[TF_WG_MAC_BYTES], want[TF_WG_MAC_BYTES];
	int r;

	r = handshake_of(s, msg, len);
	if (r < 0)
		return r;
	r = check_mac1(s, local->mac1_key, msg, len);
	if (r < 0)
		return r;
	r = make_cookie(local, src, srclen, now, cookie);
	if (r == 0)
		r = s->mac(want, cookie, sizeof(cookie), msg,
			   len - TF_WG_MAC_BYTES);
	if (r == 0 && sodium_memcmp(want, msg + len - TF_WG_MAC_BYTES,
				    TF_WG_MAC_BYTES) != 0)
		r = -EAGAIN;
	sodium_memzero(cookie, sizeof(cookie));
	return r;
}

int tf_wg_cookie_reply_create(struct tf_wg_static *local, const uint8_t *msg,
			      size_t len, const struct sockaddr *src,
			      socklen_t srclen, uint64_t now, uint8_t *out,
			      size_t cap)
{
	const struct wg_suite *s = local->s;
	const size_t N = s->cookie_nonce_bytes;
	uint8_t cookie[TF_WG_MAC_BYTES];
	int r;

	r = handshake_of(s, msg, len);
	if (r < 0)
		return r;
	if (cap < s->cookie_bytes)
		return -ENOBUFS;
	r = make_cookie(local, src, srclen, now, cookie);
	if (r < 0)
		goto out;
	memset(out, 0, s->cookie_bytes);
	tf_put_le32(out, s->type_base + TF_WG_MSG_COOKIE_REPLY);
	/* receiver = the sender index of the message we answer (offset 4
	 * in both initiation and response) */
	memcpy(out + 4, msg + 4, 4);
	randombytes_buf(out + 8, N);
	/* cookie = XAEAD(HASH(LABEL_COOKIE || S_m), nonce, tau, mac1) */
	r = s->caead_seal(out + 8 + N, local->cookie_key, out + 8, cookie,
			  sizeof(cookie), msg + len - 2 * TF_WG_MAC_BYTES,
			  TF_WG_MAC_BYTES);
	if (r == 0)
		r = (int)s->cookie_bytes;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return r;
}

int tf_wg_cookie_reply_consume(struct tf_wg_peer *p, const uint8_t *msg,
			       size_t len, uint64_t now)
{
	const struct wg_suite *s = p->s;
	const size_t N = s->cookie_nonce_bytes;
	uint8_t cookie[TF_WG_MAC_BYTES];
	uint8_t suite;
	int r;

	if (tf_wg_msg_type(msg, len, &suite) != TF_WG_MSG_COOKIE_REPLY)
		return -EBADMSG;
	if (suite != s->id)
		return -EPROTO;
	/* it must answer the last message we sent p: same index (the
	 * caller's lookup) and, authenticated below, the same mac1 */
	if (!p->has_last_mac1 || tf_get_le32(msg + 4) != p->last_mac1_index)
		return -EINVAL;
	r = s->caead_open(cookie, p->cookie_key, msg + 8, msg + 8 + N,
			  TF_WG_MAC_BYTES + TF_WG_TAG_BYTES, p->last_mac1,
			  TF_WG_MAC_BYTES);
	if (r < 0)
		goto out;
	memcpy(p->cookie, cookie, sizeof(cookie));
	p->cookie_birth = now;
	p->has_cookie = true;
	/* one reply per mac1: a replayed cookie reply does nothing */
	p->has_last_mac1 = false;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return r;
}
