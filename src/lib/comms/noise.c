/* SPDX-License-Identifier: ISC */
/*
 * A generic Noise IK handshake (the Noise Protocol Framework, revision 34,
 * sections 5 and 7.5), for both suites: the handshake of the device <->
 * relay channel now, of device <-> device calls next. Pattern:
 *
 *   IK:
 *     <- s
 *     ...
 *     -> e, es, s, ss
 *     <- e, ee, se
 *
 * The DH, AEAD and (gm) hash primitives are the tunnel's wg_suite ones:
 * the same X25519 / SM2 DH with its low-order and off-curve checks, the
 * same ChaCha20-Poly1305 / SM4-GCM with a 64-bit counter nonce. What the
 * tunnel does not have is BLAKE2b with HASHLEN 64 (WireGuard uses
 * BLAKE2s), so that and its HMAC (RFC 2104, BLOCKLEN 128) are here.
 *
 * Secrets (keys, chaining key, ephemeral) live in tf_secure_alloc memory
 * and are wiped on free and after Split.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "src/lib/comms/internal.h"
#include "twofold/comms.h"
#include "twofold/secmem.h"

/* ---- intl: BLAKE2b-512 and HMAC-BLAKE2b ---- */

#define B2B_LEN 64
#define B2B_BLOCK 128

static int b2b_hash(uint8_t *out, const void *p0, size_t n0, const void *p1,
		    size_t n1)
{
	crypto_generichash_blake2b_state st;

	if (crypto_generichash_blake2b_init(&st, NULL, 0, B2B_LEN) != 0)
		return -EIO;
	crypto_generichash_blake2b_update(&st, p0, n0);
	if (p1 != NULL)
		crypto_generichash_blake2b_update(&st, p1, n1);
	crypto_generichash_blake2b_final(&st, out, B2B_LEN);
	sodium_memzero(&st, sizeof(st));
	return 0;
}

/* RFC 2104 over BLAKE2b, as the Noise spec defines HMAC (not BLAKE2b's
 * keyed mode): dissononce and every other Noise library do the same. */
static int b2b_hmac(uint8_t *out, const uint8_t *key, size_t keylen,
		    const void *p0, size_t n0, const void *p1, size_t n1)
{
	uint8_t k[B2B_BLOCK] = {0}, pad[B2B_BLOCK], inner[B2B_LEN];
	crypto_generichash_blake2b_state st;
	int r = -EIO;

	if (keylen > B2B_BLOCK) {
		if (b2b_hash(k, key, keylen, NULL, 0) < 0)
			return -EIO;
	} else {
		memcpy(k, key, keylen);
	}
	for (size_t i = 0; i < B2B_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	if (crypto_generichash_blake2b_init(&st, NULL, 0, B2B_LEN) != 0)
		goto out;
	crypto_generichash_blake2b_update(&st, pad, B2B_BLOCK);
	crypto_generichash_blake2b_update(&st, p0, n0);
	if (p1 != NULL)
		crypto_generichash_blake2b_update(&st, p1, n1);
	crypto_generichash_blake2b_final(&st, inner, B2B_LEN);
	for (size_t i = 0; i < B2B_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	r = b2b_hash(out, pad, B2B_BLOCK, inner, B2B_LEN);
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
	return r;
}

/* ---- gm: SM3 and HMAC-SM3, the tunnel's ---- */

static int sm3_hash(uint8_t *out, const void *p0, size_t n0, const void *p1,
		    size_t n1)
{
	return wg_suite_gm.hash(out, p0, n0, p1, n1);
}

static int sm3_hmac(uint8_t *out, const uint8_t *key, size_t keylen,
		    const void *p0, size_t n0, const void *p1, size_t n1)
{
	return wg_suite_gm.hmac(out, key, keylen, p0, n0, p1, n1);
}

static const struct nz_suite nz_intl = {
	.id = TF_SUITE_INTL,
	.name = "Noise_IK_25519_ChaChaPoly_BLAKE2b",
	.hashlen = 64,
	.dhlen = 32,
	.w = &wg_suite_intl,
	.hash = b2b_hash,
	.hmac = b2b_hmac,
};

static const struct nz_suite nz_gm = {
	.id = TF_SUITE_GM,
	.name = "Noise_IK_SM2_SM4GCM_SM3",
	.hashlen = 32,
	.dhlen = 65,
	.w = &wg_suite_gm,
	.hash = sm3_hash,
	.hmac = sm3_hmac,
};

const struct nz_suite *nz_get(uint8_t id)
{
	return id == TF_SUITE_INTL ? &nz_intl
	       : id == TF_SUITE_GM ? &nz_gm
				   : NULL;
}

const char *tf_noise_protocol_name(uint8_t suite)
{
	const struct nz_suite *s = nz_get(suite);

	return s ? s->name : NULL;
}

size_t tf_noise_msg1_bytes(uint8_t suite, size_t n)
{
	const struct nz_suite *s = nz_get(suite);

	/* e | enc(s) | enc(payload) */
	return s ? s->dhlen + s->dhlen + 16 + n + 16 : 0;
}

size_t tf_noise_msg2_bytes(uint8_t suite, size_t n)
{
	const struct nz_suite *s = nz_get(suite);

	/* e | enc(payload) */
	return s ? s->dhlen + n + 16 : 0;
}

/* ---- the handshake state ---- */

struct tf_noise_hs {
	const struct nz_suite *s;
	bool initiator;
	int step; /* messages processed: 0, 1, 2 */
	bool failed;
	/* SymmetricState */
	uint8_t ck[TF_NOISE_HASH_MAX], h[TF_NOISE_HASH_MAX];
	/* CipherState */
	bool has_k;
	uint8_t k[TF_NOISE_KEY_BYTES];
	uint64_t n;
	/* HandshakeState */
	uint8_t s_priv[32], s_pub[TF_NOISE_DH_MAX];
	uint8_t e_priv[32], e_pub[TF_NOISE_DH_MAX];
	bool has_rs, has_re;
	uint8_t rs[TF_NOISE_DH_MAX], re[TF_NOISE_DH_MAX];
	bool fixed_e;
	uint8_t fixed_e_priv[32];
};

static int mix_hash(struct tf_noise_hs *hs, const void *d, size_t n)
{
	uint8_t h[TF_NOISE_HASH_MAX];
	int r = hs->s->hash(h, hs->h, hs->s->hashlen, d, n);

	if (r == 0)
		memcpy(hs->h, h, hs->s->hashlen);
	return r;
}

/* HKDF(ck, ikm) with two outputs (spec section 4.3). */
static int hkdf2(const struct nz_suite *s, const uint8_t *ck,
		 const uint8_t *ikm, size_t ikmlen, uint8_t *o1, uint8_t *o2)
{
	uint8_t t[TF_NOISE_HASH_MAX], one = 1, two = 2;
	int r;

	r = s->hmac(t, ck, s->hashlen, ikm, ikmlen, NULL, 0);
	if (r == 0)
		r = s->hmac(o1, t, s->hashlen, &one, 1, NULL, 0);
	if (r == 0)
		r = s->hmac(o2, t, s->hashlen, o1, s->hashlen, &two, 1);
	sodium_memzero(t, sizeof(t));
	return r;
}

static int mix_key(struct tf_noise_hs *hs, const uint8_t *ikm, size_t n)
{
	uint8_t ck[TF_NOISE_HASH_MAX], k[TF_NOISE_HASH_MAX];
	int r = hkdf2(hs->s, hs->ck, ikm, n, ck, k);

	if (r == 0) {
		memcpy(hs->ck, ck, hs->s->hashlen);
		memcpy(hs->k, k, TF_NOISE_KEY_BYTES); /* truncated */
		hs->has_k = true;
		hs->n = 0;
	}
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
	return r;
}

static int mix_dh(struct tf_noise_hs *hs, const uint8_t *priv,
		  const uint8_t *pub)
{
	uint8_t dh[32];
	int r = hs->s->w->dh(dh, priv, pub);

	if (r == 0)
		r = mix_key(hs, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return r < 0 ? -EBADMSG : 0;
}

/* EncryptAndHash: every call here has a key (IK mixes one before the
 * first encryption). */
static int encrypt_and_hash(struct tf_noise_hs *hs, const uint8_t *pt, size_t n,
			    uint8_t *out)
{
	int r;

	if (!hs->has_k || hs->n == UINT64_MAX)
		return -EINVAL;
	r = hs->s->w->aead_seal(out, hs->k, hs->n, pt, n, hs->h,
				hs->s->hashlen);
	if (r < 0)
		return r;
	hs->n++;
	return mix_hash(hs, out, n + TF_NOISE_TAG_BYTES);
}

static int decrypt_and_hash(struct tf_noise_hs *hs, const uint8_t *c,
			    size_t clen, uint8_t *out)
{
	int r;

	if (!hs->has_k || clen < TF_NOISE_TAG_BYTES || hs->n == UINT64_MAX)
		return -EBADMSG;
	r = hs->s->w->aead_open(out, hs->k, hs->n, c, clen, hs->h,
				hs->s->hashlen);
	if (r < 0)
		return -EBADMSG;
	hs->n++;
	return mix_hash(hs, c, clen);
}

int tf_noise_hs_new(uint8_t suite, bool initiator,
		    const uint8_t s_priv[static 32], const uint8_t *rs,
		    const uint8_t *prologue, size_t prologue_len,
		    struct tf_noise_hs **out)
{
	const struct nz_suite *s = nz_get(suite);
	struct tf_noise_hs *hs;
	size_t nl;
	int r;

	if (s == NULL || (initiator && rs == NULL) ||
	    (prologue == NULL && prologue_len))
		return -EINVAL;
	hs = tf_secure_alloc(sizeof(*hs));
	if (hs == NULL)
		return -ENOMEM;
	memset(hs, 0, sizeof(*hs));
	hs->s = s;
	hs->initiator = initiator;
	memcpy(hs->s_priv, s_priv, 32);
	r = s->w->pubkey(hs->s_priv, hs->s_pub);
	if (r < 0)
		goto fail;
	/* InitializeSymmetric: a name no longer than HASHLEN is padded */
	nl = strlen(s->name);
	if (nl <= s->hashlen)
		memcpy(hs->h, s->name, nl);
	else if ((r = s->hash(hs->h, s->name, nl, NULL, 0)) < 0)
		goto fail;
	memcpy(hs->ck, hs->h, s->hashlen);
	r = mix_hash(hs, prologue, prologue_len);
	if (r < 0)
		goto fail;
	/* pre-message <- s: the responder's static key */
	if (initiator) {
		memcpy(hs->rs, rs, s->dhlen);
		hs->has_rs = true;
		r = mix_hash(hs, hs->rs, s->dhlen);
	} else {
		r = mix_hash(hs, hs->s_pub, s->dhlen);
	}
	if (r < 0)
		goto fail;
	*out = hs;
	return 0;
fail:
	tf_noise_hs_free(hs);
	return r;
}

void tf_noise_hs_free(struct tf_noise_hs *hs)
{
	tf_secure_free(hs); /* wipes */
}

void tf_noise_test_fix_ephemeral(struct tf_noise_hs *hs,
				 const uint8_t priv[static 32])
{
	hs->fixed_e = true;
	memcpy(hs->fixed_e_priv, priv, 32);
}

static int gen_ephemeral(struct tf_noise_hs *hs)
{
	if (hs->fixed_e) {
		hs->fixed_e = false;
		memcpy(hs->e_priv, hs->fixed_e_priv, 32);
		return hs->s->w->pubkey(hs->e_priv, hs->e_pub);
	}
	return hs->s->w->keygen(hs->e_priv, hs->e_pub);
}

int tf_noise_hs_write(struct tf_noise_hs *hs, const uint8_t *payload,
		      size_t plen, uint8_t *out, size_t cap)
{
	const struct nz_suite *s = hs->s;
	size_t dl = s->dhlen, need, off = 0;
	int r;

	if (hs->failed || (payload == NULL && plen) ||
	    (hs->initiator ? hs->step != 0 : hs->step != 1))
		return -EINVAL;
	need = hs->initiator ? tf_noise_msg1_bytes(s->id, plen)
			     : tf_noise_msg2_bytes(s->id, plen);
	if (need > TF_NOISE_MSG_MAX)
		return -EINVAL;
	if (cap < need)
		return -ENOBUFS;
	hs->failed = true; /* until this message is complete */
	r = gen_ephemeral(hs);
	if (r < 0)
		return r;
	/* e */
	memcpy(out, hs->e_pub, dl);
	off = dl;
	r = mix_hash(hs, hs->e_pub, dl);
	if (r < 0)
		return r;
	if (hs->initiator) {
		/* es, s, ss */
		if ((r = mix_dh(hs, hs->e_priv, hs->rs)) < 0 ||
		    (r = encrypt_and_hash(hs, hs->s_pub, dl, out + off)) < 0)
			return r;
		off += dl + TF_NOISE_TAG_BYTES;
		if ((r = mix_dh(hs, hs->s_priv, hs->rs)) < 0)
			return r;
	} else {
		/* ee, se */
		if ((r = mix_dh(hs, hs->e_priv, hs->re)) < 0 ||
		    (r = mix_dh(hs, hs->e_priv, hs->rs)) < 0)
			return r;
	}
	r = encrypt_and_hash(hs, payload, plen, out + off);
	if (r < 0)
		return r;
	off += plen + TF_NOISE_TAG_BYTES;
	hs->step++;
	hs->failed = false;
	return (int)off;
}

int tf_noise_hs_read(struct tf_noise_hs *hs, const uint8_t *msg, size_t len,
		     uint8_t *payload, size_t cap)
{
	const struct nz_suite *s = hs->s;
	size_t dl = s->dhlen, off, plen;
	int r;

	if (hs->failed || (hs->initiator ? hs->step != 1 : hs->step != 0))
		return -EINVAL;
	if (len > TF_NOISE_MSG_MAX)
		return -EBADMSG;
	if (hs->initiator ? len < tf_noise_msg2_bytes(s->id, 0)
			  : len < tf_noise_msg1_bytes(s->id, 0))
		return -EBADMSG;
	plen = len - (hs->initiator ? tf_noise_msg2_bytes(s->id, 0)
				    : tf_noise_msg1_bytes(s->id, 0));
	if (plen > cap || (payload == NULL && plen))
		return -ENOBUFS;
	hs->failed = true;
	/* e */
	memcpy(hs->re, msg, dl);
	hs->has_re = true;
	off = dl;
	if ((r = mix_hash(hs, hs->re, dl)) < 0)
		return r;
	if (!hs->initiator) {
		/* es, s, ss */
		if ((r = mix_dh(hs, hs->s_priv, hs->re)) < 0 ||
		    (r = decrypt_and_hash(hs, msg + off,
					  dl + TF_NOISE_TAG_BYTES, hs->rs)) < 0)
			return r;
		off += dl + TF_NOISE_TAG_BYTES;
		hs->has_rs = true;
		if ((r = mix_dh(hs, hs->s_priv, hs->rs)) < 0)
			return r;
	} else {
		/* ee, se */
		if ((r = mix_dh(hs, hs->e_priv, hs->re)) < 0 ||
		    (r = mix_dh(hs, hs->s_priv, hs->re)) < 0)
			return r;
	}
	{
		uint8_t tmp[TF_NOISE_MSG_MAX];
		r = decrypt_and_hash(hs, msg + off, plen + TF_NOISE_TAG_BYTES,
				     tmp);
		if (r < 0) {
			sodium_memzero(tmp, plen);
			return r;
		}
		if (plen)
			memcpy(payload, tmp, plen);
		sodium_memzero(tmp, plen);
	}
	hs->step++;
	hs->failed = false;
	return (int)plen;
}

const uint8_t *tf_noise_hs_remote_static(const struct tf_noise_hs *hs,
					 size_t *len)
{
	if (!hs->has_rs)
		return NULL;
	if (len)
		*len = hs->s->dhlen;
	return hs->rs;
}

int tf_noise_hs_split(struct tf_noise_hs *hs,
		      uint8_t send[static TF_NOISE_KEY_BYTES],
		      uint8_t recv[static TF_NOISE_KEY_BYTES], uint8_t *h,
		      size_t *hlen)
{
	uint8_t k1[TF_NOISE_HASH_MAX], k2[TF_NOISE_HASH_MAX];
	int r;

	if (hs->failed || hs->step != 2)
		return -EINVAL;
	r = hkdf2(hs->s, hs->ck, (const uint8_t *)"", 0, k1, k2);
	if (r == 0) {
		memcpy(hs->initiator ? send : recv, k1, TF_NOISE_KEY_BYTES);
		memcpy(hs->initiator ? recv : send, k2, TF_NOISE_KEY_BYTES);
		if (h != NULL)
			memcpy(h, hs->h, hs->s->hashlen);
		if (hlen != NULL)
			*hlen = hs->s->hashlen;
	}
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	/* nothing more to do with this handshake: wipe what it knows */
	sodium_memzero(hs->ck, sizeof(hs->ck));
	sodium_memzero(hs->k, sizeof(hs->k));
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	sodium_memzero(hs->s_priv, sizeof(hs->s_priv));
	hs->failed = true;
	return r;
}
