/* SPDX-License-Identifier: ISC */
/*
 * The device <-> relay channel (twofold/comms.h, docs/comms-protocol.md):
 * Noise IK framed in datagrams with connection ids, the device's
 * certificate in message 1, transport datagrams with a replay window.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "src/lib/comms/internal.h"
#include "twofold/comms.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"

/* One handshake's transport keys. gen counts the handshakes of the
 * session; its low bit is the key phase a DATA header carries. */
struct keypair {
	bool valid;
	uint64_t gen;
	uint64_t birth; /* caller's monotonic seconds (0: no clock given) */
	uint64_t send_counter;
	uint8_t send_key[TF_NOISE_KEY_BYTES];
	uint8_t recv_key[TF_NOISE_KEY_BYTES];
	struct wg_replay replay;
};

/* Rekey (docs/comms-protocol.md "Rekeying"): cur sends; prev (the keys
 * before the last rekey) still receives what was in flight until
 * prev_until; next (relay side: a rekey answered, not yet used by the
 * device) receives, and the first DATA it opens makes it cur. */
struct tf_comms_session {
	const struct wg_suite *w;
	uint8_t suite;
	uint32_t local_id, remote_id;
	uint64_t reject_after_s;
	uint64_t prev_until;
	struct keypair cur, prev, next;
};

static void kp_wipe(struct keypair *k)
{
	tf_memzero(k, sizeof(*k));
}

struct tf_comms_client {
	uint8_t suite;
	uint32_t local_id;
	struct tf_noise_hs *hs;
	/* the INIT as sent (public bytes): resent with mac2 once the
	 * relay's COOKIE arrives */
	size_t init_len;
	uint8_t init[TF_COMMS_INIT_MAX];
	uint8_t mac1_key[TF_COMMS_MAC_KEY_BYTES];
	uint8_t cookie_key[TF_COMMS_MAC_KEY_BYTES];
	bool has_cookie;
	uint8_t cookie[TF_COMMS_MAC_BYTES];
};

/* ---- INIT MACs and COOKIE (docs/comms-protocol.md "Cookies") ----
 *
 * mac1 = MAC(HASH("twofold comms mac1 v1" || relay static), INIT up to
 * mac1): anyone who knows the relay's public key can make it, but a relay
 * checks it before any DH, so INITs for another relay (or random noise)
 * cost a hash. mac2 = MAC(cookie, INIT up to mac2), the cookie being
 * MAC(relay secret, source address), which the relay hands out under load
 * encrypted under HASH("twofold comms cookie v1" || relay static) with
 * the INIT's mac1 as associated data: only whoever sent that INIT (and
 * reads the source address's traffic) can use it. MAC is the first 16
 * bytes of the suite's Noise HMAC (HMAC-BLAKE2b / HMAC-SM3). */

#define MAC1_LABEL "twofold comms mac1 v1"
#define COOKIE_LABEL "twofold comms cookie v1"

static int label_key(const struct nz_suite *z, const char *label,
		     const uint8_t *pub, uint8_t out[TF_COMMS_MAC_KEY_BYTES])
{
	uint8_t h[TF_NOISE_HASH_MAX];
	int r = z->hash(h, label, strlen(label), pub, z->dhlen);

	if (r == 0)
		memcpy(out, h, TF_COMMS_MAC_KEY_BYTES);
	tf_memzero(h, sizeof(h));
	return r;
}

static int mac16(const struct nz_suite *z, uint8_t out[TF_COMMS_MAC_BYTES],
		 const uint8_t *key, size_t keylen, const uint8_t *m,
		 size_t mlen)
{
	uint8_t h[TF_NOISE_HASH_MAX];
	int r = z->hmac(h, key, keylen, m, mlen, NULL, 0);

	if (r == 0)
		memcpy(out, h, TF_COMMS_MAC_BYTES);
	tf_memzero(h, sizeof(h));
	return r;
}

static size_t cookie_nonce_bytes(uint8_t suite)
{
	const struct wg_suite *w = wg_suite_get(suite);

	return w ? w->cookie_nonce_bytes : 0;
}

size_t tf_comms_cookie_bytes(uint8_t suite)
{
	size_t n = cookie_nonce_bytes(suite);

	return n ? TF_COMMS_HDR_BYTES + n + TF_COMMS_MAC_BYTES +
			       TF_NOISE_TAG_BYTES
		 : 0;
}

static void hdr_put(uint8_t *p, uint8_t type, uint8_t suite, uint32_t id)
{
	p[0] = type;
	p[1] = suite;
	p[2] = p[3] = 0;
	tf_put_le32(p + 4, id);
}

/* "twofold comms v1" || the INIT header: binds the suite and the
 * initiator's connection id into the handshake hash. */
static size_t prologue(uint8_t *out, const uint8_t hdr[TF_COMMS_HDR_BYTES])
{
	size_t n = sizeof(TF_COMMS_PROLOGUE) - 1;

	memcpy(out, TF_COMMS_PROLOGUE, n);
	memcpy(out + n, hdr, TF_COMMS_HDR_BYTES);
	return n + TF_COMMS_HDR_BYTES;
}

enum tf_comms_msg tf_comms_classify(uint8_t suite, const uint8_t *buf,
				    size_t len, uint32_t *id)
{
	size_t m1 = tf_noise_msg1_bytes(suite, 0),
	       m2 = tf_noise_msg2_bytes(suite, 8);

	/* byte 2 is a DATA's key phase, an INIT's rekey flag (0 or 1), 0
	 * in the others */
	if (m1 == 0 || len < TF_COMMS_HDR_BYTES || buf[1] != suite ||
	    buf[2] > (buf[0] == TF_COMMS_TYPE_DATA ||
		      buf[0] == TF_COMMS_TYPE_INIT) ||
	    buf[3] != 0)
		return TF_COMMS_MSG_INVALID;
	switch (buf[0]) {
	case TF_COMMS_TYPE_INIT:
		if (len < TF_COMMS_HDR_BYTES + m1 + 10 + 1 +
				    TF_COMMS_INIT_MACS_BYTES ||
		    len > TF_COMMS_HDR_BYTES + m1 + TF_COMMS_INIT_PAYLOAD_MAX +
				    TF_COMMS_INIT_MACS_BYTES)
			return TF_COMMS_MSG_INVALID;
		*id = tf_get_le32(buf + 4);
		return TF_COMMS_MSG_INIT;
	case TF_COMMS_TYPE_COOKIE:
		if (len != tf_comms_cookie_bytes(suite))
			return TF_COMMS_MSG_INVALID;
		*id = tf_get_le32(buf + 4);
		return TF_COMMS_MSG_COOKIE;
	case TF_COMMS_TYPE_RESP:
		if (len != TF_COMMS_HDR_BYTES + 4 + m2)
			return TF_COMMS_MSG_INVALID;
		*id = tf_get_le32(buf + 8);
		return TF_COMMS_MSG_RESP;
	case TF_COMMS_TYPE_DATA:
		if (len < TF_COMMS_DATA_OVERHEAD ||
		    len > TF_COMMS_DATA_OVERHEAD + TF_COMMS_PAYLOAD_MAX)
			return TF_COMMS_MSG_INVALID;
		*id = tf_get_le32(buf + 4);
		return TF_COMMS_MSG_DATA;
	default: return TF_COMMS_MSG_INVALID;
	}
}

static int session_new(uint8_t suite, struct tf_noise_hs *hs, uint32_t local_id,
		       uint32_t remote_id, struct tf_comms_session **out)
{
	struct tf_comms_session *s = tf_secure_alloc(sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->w = wg_suite_get(suite);
	s->suite = suite;
	s->local_id = local_id;
	s->remote_id = remote_id;
	s->reject_after_s = TF_COMMS_REJECT_AFTER_S;
	s->cur.valid = true;
	wg_replay_init(&s->cur.replay);
	r = tf_noise_hs_split(hs, s->cur.send_key, s->cur.recv_key, NULL, NULL);
	if (r < 0 || s->w == NULL) {
		tf_secure_free(s);
		return r < 0 ? r : -EINVAL;
	}
	*out = s;
	return 0;
}

void tf_comms_session_free(struct tf_comms_session *s)
{
	if (s != NULL)
		tf_memzero(s, sizeof(*s));
	tf_secure_free(s);
}

uint32_t tf_comms_session_local_id(const struct tf_comms_session *s)
{
	return s->local_id;
}

uint32_t tf_comms_session_remote_id(const struct tf_comms_session *s)
{
	return s->remote_id;
}

void tf_comms_session_set_birth(struct tf_comms_session *s, uint64_t now_s)
{
	s->cur.birth = now_s;
}

void tf_comms_session_set_reject_after(struct tf_comms_session *s,
				       uint64_t secs)
{
	s->reject_after_s = secs;
}

bool tf_comms_session_rekey_due(const struct tf_comms_session *s,
				uint64_t now_s, uint64_t after_s)
{
	return s->cur.send_counter >= TF_COMMS_REKEY_AFTER_MESSAGES ||
	       now_s >= s->cur.birth + after_s;
}

int tf_comms_session_rekey(struct tf_comms_session *s,
			   struct tf_comms_session *ns, uint64_t now_s,
			   bool confirmed)
{
	struct keypair k;

	if (ns->suite != s->suite || ns->local_id != s->local_id ||
	    ns->remote_id != s->remote_id || !ns->cur.valid)
		return -EINVAL;
	k = ns->cur;
	k.gen = s->cur.gen + 1;
	k.birth = now_s;
	tf_comms_session_free(ns);
	if (confirmed) {
		/* the device: the relay holds these keys (its RESP proved
		 * it); send with them now, keep the old ones to receive
		 * what the relay sent before it saw our first new DATA */
		kp_wipe(&s->prev);
		s->prev = s->cur;
		s->prev_until = now_s + TF_COMMS_PREV_GRACE_S;
		s->cur = k;
		kp_wipe(&s->next);
	} else {
		/* the relay: the device may not have our RESP yet; keep
		 * sending with cur until it uses next. prev has next's
		 * phase: its stragglers are long gone by now */
		kp_wipe(&s->prev);
		kp_wipe(&s->next);
		s->next = k;
	}
	tf_memzero(&k, sizeof(k));
	return 0;
}

/* ---- device ---- */

static int client_start(uint8_t suite, const uint8_t *dh_priv,
			const uint8_t *relay_pub, const uint8_t *cert,
			size_t certlen, uint64_t ts_ns, uint32_t local_id,
			bool rekey, struct tf_comms_client **client,
			uint8_t *out, size_t cap)
{
	uint8_t pro[64], payload[TF_COMMS_INIT_PAYLOAD_MAX];
	struct tf_comms_client *c;
	int r;

	if (certlen == 0 || certlen > TF_CERT_MAX ||
	    tf_noise_protocol_name(suite) == NULL)
		return -EINVAL;
	if (cap < TF_COMMS_HDR_BYTES)
		return -ENOBUFS;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->suite = suite;
	c->local_id = local_id;
	hdr_put(out, TF_COMMS_TYPE_INIT, suite, local_id);
	/* in the prologue: the relay learns it is a rekey authenticated */
	out[2] = rekey ? TF_COMMS_INIT_REKEY : 0;
	r = tf_noise_hs_new(suite, true, dh_priv, relay_pub, pro,
			    prologue(pro, out), &c->hs);
	if (r < 0)
		goto fail;
	tf_put_le64(payload, ts_ns);
	tf_put_le16(payload + 8, (uint16_t)certlen);
	memcpy(payload + 10, cert, certlen);
	r = tf_noise_hs_write(c->hs, payload, 10 + certlen,
			      c->init + TF_COMMS_HDR_BYTES,
			      sizeof(c->init) - TF_COMMS_HDR_BYTES -
				      TF_COMMS_INIT_MACS_BYTES);
	tf_memzero(payload, sizeof(payload));
	if (r < 0)
		goto fail;
	memcpy(c->init, out, TF_COMMS_HDR_BYTES);
	c->init_len = TF_COMMS_HDR_BYTES + (size_t)r + TF_COMMS_INIT_MACS_BYTES;
	if ((r = label_key(nz_get(suite), MAC1_LABEL, relay_pub, c->mac1_key)) <
		    0 ||
	    (r = label_key(nz_get(suite), COOKIE_LABEL, relay_pub,
			   c->cookie_key)) < 0)
		goto fail;
	r = tf_comms_client_init(c, out, cap);
	if (r < 0)
		goto fail;
	*client = c;
	return r;
fail:
	tf_comms_client_free(c);
	return r;
}

int tf_comms_client_start(uint8_t suite, const uint8_t dh_priv[static 32],
			  const uint8_t *relay_pub, const uint8_t *cert,
			  size_t certlen, uint64_t ts_ns, uint32_t local_id,
			  struct tf_comms_client **client, uint8_t *out,
			  size_t cap)
{
	return client_start(suite, dh_priv, relay_pub, cert, certlen, ts_ns,
			    local_id, false, client, out, cap);
}

int tf_comms_client_rekey(const struct tf_comms_session *s,
			  const uint8_t dh_priv[static 32],
			  const uint8_t *relay_pub, const uint8_t *cert,
			  size_t certlen, uint64_t ts_ns,
			  struct tf_comms_client **client, uint8_t *out,
			  size_t cap)
{
	return client_start(s->suite, dh_priv, relay_pub, cert, certlen, ts_ns,
			    s->local_id, true, client, out, cap);
}

bool tf_comms_init_is_rekey(const uint8_t *msg)
{
	return msg[2] == TF_COMMS_INIT_REKEY;
}

int tf_comms_client_init(struct tf_comms_client *c, uint8_t *out, size_t cap)
{
	const struct nz_suite *z = nz_get(c->suite);
	size_t m1 = c->init_len - TF_COMMS_INIT_MACS_BYTES;
	uint8_t *mac2 = c->init + m1 + TF_COMMS_MAC_BYTES;
	int r;

	if (cap < c->init_len)
		return -ENOBUFS;
	r = mac16(z, c->init + m1, c->mac1_key, sizeof(c->mac1_key), c->init,
		  m1);
	if (r < 0)
		return r;
	if (c->has_cookie)
		r = mac16(z, mac2, c->cookie, sizeof(c->cookie), c->init,
			  m1 + TF_COMMS_MAC_BYTES);
	else
		memset(mac2, 0, TF_COMMS_MAC_BYTES);
	if (r < 0)
		return r;
	memcpy(out, c->init, c->init_len);
	return (int)c->init_len;
}

int tf_comms_client_cookie(struct tf_comms_client *c, const uint8_t *msg,
			   size_t len)
{
	const struct wg_suite *w = wg_suite_get(c->suite);
	size_t nb = cookie_nonce_bytes(c->suite);
	uint8_t cookie[TF_COMMS_MAC_BYTES];
	uint32_t id;

	if (tf_comms_classify(c->suite, msg, len, &id) != TF_COMMS_MSG_COOKIE ||
	    id != c->local_id)
		return -EBADMSG;
	/* AD = the mac1 of our INIT: a cookie made for someone else's
	 * INIT (an off-path attacker's) does not open */
	if (w == NULL ||
	    w->caead_open(cookie, c->cookie_key, msg + TF_COMMS_HDR_BYTES,
			  msg + TF_COMMS_HDR_BYTES + nb,
			  TF_COMMS_MAC_BYTES + TF_NOISE_TAG_BYTES,
			  c->init + c->init_len - TF_COMMS_INIT_MACS_BYTES,
			  TF_COMMS_MAC_BYTES) < 0) {
		tf_memzero(cookie, sizeof(cookie));
		return -EBADMSG;
	}
	memcpy(c->cookie, cookie, sizeof(cookie));
	c->has_cookie = true;
	tf_memzero(cookie, sizeof(cookie));
	return 0;
}

struct tf_noise_hs *tf_comms_client_hs(struct tf_comms_client *c)
{
	return c->hs;
}

void tf_comms_client_free(struct tf_comms_client *c)
{
	if (c == NULL)
		return;
	tf_noise_hs_free(c->hs);
	tf_memzero(c, sizeof(*c));
	free(c);
}

int tf_comms_client_finish(struct tf_comms_client *c, const uint8_t *msg,
			   size_t len, struct tf_comms_session **out)
{
	uint8_t payload[8];
	uint32_t id;
	int r;

	if (tf_comms_classify(c->suite, msg, len, &id) != TF_COMMS_MSG_RESP ||
	    id != c->local_id)
		return -EBADMSG;
	r = tf_noise_hs_read(c->hs, msg + TF_COMMS_HDR_BYTES + 4,
			     len - TF_COMMS_HDR_BYTES - 4, payload,
			     sizeof(payload));
	if (r < 0)
		return r;
	/* the response's header ids, authenticated by its payload */
	if (r != 8 || memcmp(payload, msg + 4, 8) != 0)
		return -EBADMSG;
	return session_new(c->suite, c->hs, c->local_id, tf_get_le32(msg + 4),
			   out);
}

/* ---- relay ---- */

/* mac1 of a classified INIT against rl's static key */
static int check_mac1(const struct tf_comms_relay *rl, const uint8_t *msg,
		      size_t len)
{
	const struct nz_suite *z = nz_get(rl->suite);
	uint8_t key[TF_COMMS_MAC_KEY_BYTES], m[TF_COMMS_MAC_BYTES];
	size_t m1 = len - TF_COMMS_INIT_MACS_BYTES;
	int r;

	if (z == NULL || rl->pub == NULL)
		return -EINVAL;
	r = label_key(z, MAC1_LABEL, rl->pub, key);
	if (r == 0)
		r = mac16(z, m, key, sizeof(key), msg, m1);
	if (r == 0 && tf_memeq_ct(m, msg + m1, sizeof(m)) != 0)
		r = -EBADMSG;
	return r;
}

static int
make_cookie(const struct nz_suite *z,
	    const uint8_t secret[static TF_COMMS_COOKIE_SECRET_BYTES],
	    const void *src, size_t srclen, uint8_t out[TF_COMMS_MAC_BYTES])
{
	return mac16(z, out, secret, TF_COMMS_COOKIE_SECRET_BYTES, src, srclen);
}

int tf_comms_relay_check(const struct tf_comms_relay *rl, const uint8_t *msg,
			 size_t len, const uint8_t *secret, const void *src,
			 size_t srclen)
{
	const struct nz_suite *z = nz_get(rl->suite);
	uint8_t cookie[TF_COMMS_MAC_BYTES], m[TF_COMMS_MAC_BYTES];
	size_t m2 = len - TF_COMMS_MAC_BYTES;
	uint32_t id;
	int r;

	if (tf_comms_classify(rl->suite, msg, len, &id) != TF_COMMS_MSG_INIT)
		return -EBADMSG;
	r = check_mac1(rl, msg, len);
	if (r < 0 || secret == NULL)
		return r;
	r = make_cookie(z, secret, src, srclen, cookie);
	if (r == 0)
		r = mac16(z, m, cookie, sizeof(cookie), msg, m2);
	tf_memzero(cookie, sizeof(cookie));
	if (r == 0 && tf_memeq_ct(m, msg + m2, sizeof(m)) != 0)
		r = -EAGAIN;
	return r;
}

int tf_comms_relay_cookie(const struct tf_comms_relay *rl, const uint8_t *msg,
			  size_t len, const uint8_t *secret, const void *src,
			  size_t srclen, uint8_t *out, size_t cap)
{
	const struct nz_suite *z = nz_get(rl->suite);
	const struct wg_suite *w = wg_suite_get(rl->suite);
	size_t nb = cookie_nonce_bytes(rl->suite),
	       n = tf_comms_cookie_bytes(rl->suite);
	uint8_t key[TF_COMMS_MAC_KEY_BYTES], cookie[TF_COMMS_MAC_BYTES];
	uint32_t id;
	int r;

	if (z == NULL || w == NULL || rl->pub == NULL ||
	    tf_comms_classify(rl->suite, msg, len, &id) != TF_COMMS_MSG_INIT)
		return -EINVAL;
	if (cap < n)
		return -ENOBUFS;
	hdr_put(out, TF_COMMS_TYPE_COOKIE, rl->suite, id);
	r = tf_random(out + TF_COMMS_HDR_BYTES, nb);
	if (r == 0)
		r = label_key(z, COOKIE_LABEL, rl->pub, key);
	if (r == 0)
		r = make_cookie(z, secret, src, srclen, cookie);
	if (r == 0)
		r = w->caead_seal(out + TF_COMMS_HDR_BYTES + nb, key,
				  out + TF_COMMS_HDR_BYTES, cookie,
				  sizeof(cookie),
				  msg + len - TF_COMMS_INIT_MACS_BYTES,
				  TF_COMMS_MAC_BYTES);
	tf_memzero(key, sizeof(key));
	tf_memzero(cookie, sizeof(cookie));
	return r < 0 ? r : (int)n;
}

int tf_comms_relay_accept(const struct tf_comms_relay *rl, const uint8_t *msg,
			  size_t len, uint64_t now_s, uint32_t local_id,
			  struct tf_comms_peer *peer, uint8_t *resp, size_t cap,
			  struct tf_comms_session **out)
{
	_cleanup_noise_hs_ struct tf_noise_hs *hs = NULL;
	uint8_t pro[64], payload[TF_COMMS_INIT_PAYLOAD_MAX], ids[8];
	const uint8_t *rs;
	struct tf_comms_peer p = {0};
	size_t rslen, certlen, rlen;
	uint32_t remote;
	int r, n;

	if (tf_comms_classify(rl->suite, msg, len, &remote) !=
	    TF_COMMS_MSG_INIT)
		return len >= 2 && msg[1] != rl->suite ? -EPROTONOSUPPORT
						       : -EBADMSG;
	rlen = TF_COMMS_HDR_BYTES + 4 + tf_noise_msg2_bytes(rl->suite, 8);
	if (cap < rlen)
		return -ENOBUFS;
	/* an INIT not made for this relay costs no DH */
	r = check_mac1(rl, msg, len);
	if (r < 0)
		return r;
	len -= TF_COMMS_INIT_MACS_BYTES;
	r = tf_noise_hs_new(rl->suite, false, rl->priv, NULL, pro,
			    prologue(pro, msg), &hs);
	if (r < 0)
		return r;
	n = tf_noise_hs_read(hs, msg + TF_COMMS_HDR_BYTES,
			     len - TF_COMMS_HDR_BYTES, payload,
			     sizeof(payload));
	if (n < 0)
		return n;
	if (n < 10)
		return -EBADMSG;
	certlen = tf_get_le16(payload + 8);
	if (certlen != (size_t)n - 10)
		return -EBADMSG;
	r = tf_cert_verify(payload + 10, certlen, rl->ca, now_s, rl->roles,
			   rl->dl, &p.cert);
	if (r < 0)
		return r;
	/* the certificate must certify the key this handshake proved:
	 * otherwise anyone could present a stolen certificate with their
	 * own static key */
	rs = tf_noise_hs_remote_static(hs, &rslen);
	if (rs == NULL || rslen != p.cert.dh_pk_len ||
	    tf_memeq_ct(rs, p.cert.dh_pk, rslen) != 0)
		return -EKEYREJECTED;
	p.ts_ns = tf_get_le64(payload);
	p.remote_id = remote;
	hdr_put(resp, TF_COMMS_TYPE_RESP, rl->suite, local_id);
	tf_put_le32(resp + 8, remote);
	memcpy(ids, resp + 4, 8);
	n = tf_noise_hs_write(hs, ids, sizeof(ids), resp + 12, cap - 12);
	if (n < 0)
		return n;
	r = session_new(rl->suite, hs, local_id, remote, out);
	if (r < 0)
		return r;
	*peer = p;
	return 12 + n;
}

/* ---- transport ---- */

/* keys past their time are wiped: prev after its grace, any keypair
 * older than reject_after_s (the caller's clock; now 0: no clock) */
static void expire(struct tf_comms_session *s, uint64_t now)
{
	if (now == 0)
		return;
	if (s->prev.valid && now >= s->prev_until)
		kp_wipe(&s->prev);
	if (s->next.valid && now >= s->next.birth + s->reject_after_s)
		kp_wipe(&s->next);
	if (s->cur.valid && s->cur.birth != 0 &&
	    now >= s->cur.birth + s->reject_after_s)
		kp_wipe(&s->cur);
}

int tf_comms_encrypt_at(struct tf_comms_session *s, const uint8_t *pt,
			size_t len, uint8_t *out, size_t cap, uint64_t now_s)
{
	struct keypair *k = &s->cur;
	uint64_t ctr;
	int r;

	if (len > TF_COMMS_PAYLOAD_MAX || (pt == NULL && len))
		return -EINVAL;
	if (cap < TF_COMMS_DATA_OVERHEAD + len)
		return -ENOBUFS;
	expire(s, now_s);
	if (!k->valid)
		return -EKEYEXPIRED;
	if (k->send_counter >= TF_WG_REJECT_AFTER_MESSAGES)
		return -ESTALE;
	ctr = k->send_counter++;
	hdr_put(out, TF_COMMS_TYPE_DATA, s->suite, s->remote_id);
	out[2] = (uint8_t)(k->gen & 1); /* the key phase */
	tf_put_le64(out + 8, ctr);
	r = s->w->aead_seal(out + TF_COMMS_DATA_HDR_BYTES, k->send_key, ctr, pt,
			    len, out, TF_COMMS_DATA_HDR_BYTES);
	if (r < 0)
		return r;
	return (int)(TF_COMMS_DATA_OVERHEAD + len);
}

int tf_comms_encrypt(struct tf_comms_session *s, const uint8_t *pt, size_t len,
		     uint8_t *out, size_t cap)
{
	return tf_comms_encrypt_at(s, pt, len, out, cap, 0);
}

static int open_with(struct tf_comms_session *s, struct keypair *k,
		     const uint8_t *msg, size_t len, uint8_t *out)
{
	size_t n = len - TF_COMMS_DATA_OVERHEAD;
	uint64_t ctr = tf_get_le64(msg + 8);

	if (ctr >= TF_WG_REJECT_AFTER_MESSAGES)
		return -EBADMSG;
	/* authenticate first, then the window: a forged counter must not
	 * move it */
	if (s->w->aead_open(out, k->recv_key, ctr,
			    msg + TF_COMMS_DATA_HDR_BYTES,
			    len - TF_COMMS_DATA_HDR_BYTES, msg,
			    TF_COMMS_DATA_HDR_BYTES) < 0) {
		tf_memzero(out, n);
		return -EBADMSG;
	}
	if (!wg_replay_check(&k->replay, ctr)) {
		tf_memzero(out, n);
		return -EALREADY;
	}
	return (int)n;
}

int tf_comms_decrypt_at(struct tf_comms_session *s, const uint8_t *msg,
			size_t len, uint8_t *out, size_t cap, uint64_t now_s)
{
	unsigned phase;
	uint32_t id;
	int n;

	if (tf_comms_classify(s->suite, msg, len, &id) != TF_COMMS_MSG_DATA ||
	    id != s->local_id)
		return -EBADMSG;
	if (cap < len - TF_COMMS_DATA_OVERHEAD)
		return -ENOBUFS;
	expire(s, now_s);
	/* the phase bit picks the keypair: one AEAD open per datagram */
	phase = msg[2];
	if (s->cur.valid && (s->cur.gen & 1) == phase)
		return open_with(s, &s->cur, msg, len, out);
	if (s->next.valid && (s->next.gen & 1) == phase) {
		n = open_with(s, &s->next, msg, len, out);
		if (n >= 0) {
			/* the device uses the new keys: they are confirmed,
			 * the old ones only receive stragglers for a while */
			kp_wipe(&s->prev);
			s->prev = s->cur;
			s->prev_until = now_s + TF_COMMS_PREV_GRACE_S;
			s->cur = s->next;
			tf_memzero(&s->next, sizeof(s->next));
		}
		return n;
	}
	if (s->prev.valid && (s->prev.gen & 1) == phase)
		return open_with(s, &s->prev, msg, len, out);
	return s->cur.valid ? -EBADMSG : -EKEYEXPIRED;
}

int tf_comms_decrypt(struct tf_comms_session *s, const uint8_t *msg, size_t len,
		     uint8_t *out, size_t cap)
{
	return tf_comms_decrypt_at(s, msg, len, out, cap, 0);
}
