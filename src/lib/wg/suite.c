/* SPDX-License-Identifier: ISC */
/*
 * The two suites' primitives for the Noise construction (whitepaper 5.4):
 *
 *   intl  DH X25519 (libsodium), HASH BLAKE2s-256, MAC keyed BLAKE2s-128,
 *         HMAC RFC 2104 HMAC-BLAKE2s (libgcrypt), AEAD
 *         ChaCha20-Poly1305-IETF, XAEAD XChaCha20-Poly1305 (libsodium)
 *   gm    DH raw x of SM2-curve ECDH (OpenSSL 3 EC_POINT, as
 *         src/lib/crypto/gm.c), HASH SM3, HMAC HMAC-SM3, MAC
 *         HMAC-SM3[0:16], AEAD SM4-GCM with the same 96-bit counter nonce,
 *         cookie AEAD SM4-GCM with a random 12-byte nonce (libgcrypt)
 */
#include <gcrypt.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

#include "internal.h"
#include "twofold/crypto.h"

#define SM4_KEY 16

static void wg_nonce(uint8_t n[WG_NONCE_BYTES], uint64_t counter)
{
	memset(n, 0, 4);
	tf_put_le64(n + 4, counter);
}

/* ---- libgcrypt hashes (both suites) ---- */

static int md_hash(int algo, uint8_t *out, const void *p0, size_t n0,
		   const void *p1, size_t n1)
{
	gcry_buffer_t iov[2] = {
		{.data = (void *)p0, .len = n0},
		{.data = (void *)p1, .len = n1},
	};

	if (gcry_md_hash_buffers(algo, 0, out, iov, p1 ? 2 : 1))
		return -EIO;
	return 0;
}

/* RFC 2104 HMAC over the suite's hash: libgcrypt's GCRY_MD_FLAG_HMAC takes
 * the key as the first buffer. */
static int md_hmac(int algo, uint8_t *out, const uint8_t *key, size_t keylen,
		   const void *p0, size_t n0, const void *p1, size_t n1)
{
	gcry_buffer_t iov[3] = {
		{.data = (void *)key, .len = keylen},
		{.data = (void *)p0, .len = n0},
		{.data = (void *)p1, .len = n1},
	};

	if (gcry_md_hash_buffers(algo, GCRY_MD_FLAG_HMAC, out, iov, p1 ? 3 : 2))
		return -EIO;
	return 0;
}

/* ---- intl ---- */

static int intl_hash(uint8_t out[WG_HASH_BYTES], const void *p0, size_t n0,
		     const void *p1, size_t n1)
{
	return md_hash(GCRY_MD_BLAKE2S_256, out, p0, n0, p1, n1);
}

static int intl_hmac(uint8_t out[WG_HASH_BYTES], const uint8_t *key,
		     size_t keylen, const void *p0, size_t n0, const void *p1,
		     size_t n1)
{
	return md_hmac(GCRY_MD_BLAKE2S_256, out, key, keylen, p0, n0, p1, n1);
}

/* Keyed BLAKE2s with a 16-byte digest (RFC 7693 keyed mode, not HMAC). */
static int intl_mac(uint8_t out[TF_WG_MAC_BYTES], const uint8_t *key,
		    size_t keylen, const uint8_t *m, size_t mlen)
{
	gcry_md_hd_t h;
	int r = -EIO;

	if (gcry_md_open(&h, GCRY_MD_BLAKE2S_128, GCRY_MD_FLAG_SECURE))
		return -EIO;
	if (gcry_md_setkey(h, key, keylen))
		goto out;
	gcry_md_write(h, m, mlen);
	memcpy(out, gcry_md_read(h, GCRY_MD_BLAKE2S_128), TF_WG_MAC_BYTES);
	r = 0;
out:
	gcry_md_close(h);
	return r;
}

static int intl_aead_seal(uint8_t *c, const uint8_t key[WG_KEY_BYTES],
			  uint64_t counter, const uint8_t *m, size_t mlen,
			  const uint8_t *ad, size_t adlen)
{
	uint8_t n[WG_NONCE_BYTES];

	wg_nonce(n, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		c, c + mlen, NULL, m, mlen, ad, adlen, NULL, n, key);
	return 0;
}

static int intl_aead_open(uint8_t *m, const uint8_t key[WG_KEY_BYTES],
			  uint64_t counter, const uint8_t *c, size_t clen,
			  const uint8_t *ad, size_t adlen)
{
	uint8_t n[WG_NONCE_BYTES];

	if (clen < TF_WG_TAG_BYTES)
		return -EBADMSG;
	wg_nonce(n, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    m, NULL, c, clen - TF_WG_TAG_BYTES,
		    c + clen - TF_WG_TAG_BYTES, ad, adlen, n, key) != 0)
		return -EBADMSG;
	return 0;
}

static int intl_caead_seal(uint8_t *c, const uint8_t key[WG_KEY_BYTES],
			   const uint8_t *nonce, const uint8_t *m, size_t mlen,
			   const uint8_t *ad, size_t adlen)
{
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		c, c + mlen, NULL, m, mlen, ad, adlen, NULL, nonce, key);
	return 0;
}

static int intl_caead_open(uint8_t *m, const uint8_t key[WG_KEY_BYTES],
			   const uint8_t *nonce, const uint8_t *c, size_t clen,
			   const uint8_t *ad, size_t adlen)
{
	if (clen < TF_WG_TAG_BYTES)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		    m, NULL, c, clen - TF_WG_TAG_BYTES,
		    c + clen - TF_WG_TAG_BYTES, ad, adlen, nonce, key) != 0)
		return -EBADMSG;
	return 0;
}

/* libsodium's crypto_scalarmult fails (-1) when the result is all zeros,
 * i.e. the peer sent a low-order point: WireGuard rejects those. Checked
 * again here so the rule does not depend on a library detail. */
static int intl_dh(uint8_t out[32], const uint8_t priv[TF_WG_PRIV_BYTES],
		   const uint8_t *pub)
{
	if (crypto_scalarmult(out, priv, pub) != 0 || sodium_is_zero(out, 32)) {
		sodium_memzero(out, 32);
		return -EINVAL;
	}
	return 0;
}

static int intl_pubkey(const uint8_t priv[TF_WG_PRIV_BYTES], uint8_t *pub)
{
	/* crypto_scalarmult_base clamps the scalar itself */
	if (crypto_scalarmult_base(pub, priv) != 0)
		return -EINVAL;
	return 0;
}

static int intl_keygen(uint8_t priv[TF_WG_PRIV_BYTES], uint8_t *pub)
{
	randombytes_buf(priv, TF_WG_PRIV_BYTES);
	/* clamped as wg(8) genkey does, so the stored key is canonical */
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	return intl_pubkey(priv, pub);
}

const struct wg_suite wg_suite_intl = {
	.id = TF_SUITE_INTL,
	.pub_bytes = TF_WG_INTL_PUB_BYTES,
	.cookie_nonce_bytes = WG_XNONCE_BYTES,
	.type_base = 0,
	.init_bytes = TF_WG_INTL_INITIATION_BYTES,
	.resp_bytes = TF_WG_INTL_RESPONSE_BYTES,
	.cookie_bytes = TF_WG_INTL_COOKIE_REPLY_BYTES,
	.construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s",
	.identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com",
	.hash = intl_hash,
	.hmac = intl_hmac,
	.mac = intl_mac,
	.aead_seal = intl_aead_seal,
	.aead_open = intl_aead_open,
	.caead_seal = intl_caead_seal,
	.caead_open = intl_caead_open,
	.dh = intl_dh,
	.keygen = intl_keygen,
	.pubkey = intl_pubkey,
};

/* ---- gm ---- */

static int gm_hash(uint8_t out[WG_HASH_BYTES], const void *p0, size_t n0,
		   const void *p1, size_t n1)
{
	return md_hash(GCRY_MD_SM3, out, p0, n0, p1, n1);
}

static int gm_hmac(uint8_t out[WG_HASH_BYTES], const uint8_t *key,
		   size_t keylen, const void *p0, size_t n0, const void *p1,
		   size_t n1)
{
	return md_hmac(GCRY_MD_SM3, out, key, keylen, p0, n0, p1, n1);
}

static int gm_mac(uint8_t out[TF_WG_MAC_BYTES], const uint8_t *key,
		  size_t keylen, const uint8_t *m, size_t mlen)
{
	uint8_t full[WG_HASH_BYTES];
	int r = gm_hmac(full, key, keylen, m, mlen, NULL, 0);

	if (r == 0)
		memcpy(out, full, TF_WG_MAC_BYTES);
	sodium_memzero(full, sizeof(full));
	return r;
}

/* One SM4-GCM operation on an open handle: the key is set, the IV and the
 * associated data are fed here. enc: c = m || tag; else m = c's plaintext
 * after the tag checked out (wiped otherwise). */
static int gcm_run(gcry_cipher_hd_t h, bool enc, const uint8_t *nonce,
		   size_t noncelen, uint8_t *out, const uint8_t *in,
		   size_t inlen, const uint8_t *ad, size_t adlen)
{
	uint8_t dummy = 0;
	size_t n = enc ? inlen : inlen - TF_WG_TAG_BYTES;
	gcry_error_t e;

	if (!enc && inlen < TF_WG_TAG_BYTES)
		return -EBADMSG;
	if (gcry_cipher_reset(h) || gcry_cipher_setiv(h, nonce, noncelen))
		return -EIO;
	if (adlen > 0 && gcry_cipher_authenticate(h, ad, adlen))
		return -EIO;
	if (gcry_cipher_final(h))
		return -EIO;
	if (enc) {
		/* libgcrypt wants real buffers even for an empty message */
		if (gcry_cipher_encrypt(h, n ? out : &dummy, n, n ? in : &dummy,
					n) ||
		    gcry_cipher_gettag(h, out + n, TF_WG_TAG_BYTES))
			return -EIO;
		return 0;
	}
	/* GCM hands out plaintext before the tag is checked: wiped on
	 * failure, so unauthenticated bytes never reach the caller. */
	if (gcry_cipher_decrypt(h, n ? out : &dummy, n, n ? in : &dummy, n))
		return -EIO;
	e = gcry_cipher_checktag(h, in + n, TF_WG_TAG_BYTES);
	if (e) {
		if (n)
			sodium_memzero(out, n);
		return gcry_err_code(e) == GPG_ERR_CHECKSUM ? -EBADMSG : -EIO;
	}
	return 0;
}

static int gcm_open_key(gcry_cipher_hd_t *h, const uint8_t *key, unsigned flags)
{
	if (gcry_cipher_open(h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_GCM, flags))
		return -EIO;
	if (gcry_cipher_setkey(*h, key, SM4_KEY)) {
		gcry_cipher_close(*h);
		return -EIO;
	}
	return 0;
}

/* Handshake-time SM4-GCM: a fresh handle in libgcrypt's secure memory. */
static int gcm_once(bool enc, const uint8_t *key, const uint8_t *nonce,
		    size_t noncelen, uint8_t *out, const uint8_t *in,
		    size_t inlen, const uint8_t *ad, size_t adlen)
{
	gcry_cipher_hd_t h;
	int r = gcm_open_key(&h, key, GCRY_CIPHER_SECURE);

	if (r < 0)
		return r;
	r = gcm_run(h, enc, nonce, noncelen, out, in, inlen, ad, adlen);
	gcry_cipher_close(h);
	return r;
}

static int gm_aead_seal(uint8_t *c, const uint8_t key[WG_KEY_BYTES],
			uint64_t counter, const uint8_t *m, size_t mlen,
			const uint8_t *ad, size_t adlen)
{
	uint8_t n[WG_NONCE_BYTES];

	wg_nonce(n, counter);
	return gcm_once(true, key, n, sizeof(n), c, m, mlen, ad, adlen);
}

static int gm_aead_open(uint8_t *m, const uint8_t key[WG_KEY_BYTES],
			uint64_t counter, const uint8_t *c, size_t clen,
			const uint8_t *ad, size_t adlen)
{
	uint8_t n[WG_NONCE_BYTES];

	wg_nonce(n, counter);
	return gcm_once(false, key, n, sizeof(n), m, c, clen, ad, adlen);
}

static int gm_caead_seal(uint8_t *c, const uint8_t key[WG_KEY_BYTES],
			 const uint8_t *nonce, const uint8_t *m, size_t mlen,
			 const uint8_t *ad, size_t adlen)
{
	return gcm_once(true, key, nonce, WG_GM_CNONCE_BYTES, c, m, mlen, ad,
			adlen);
}

static int gm_caead_open(uint8_t *m, const uint8_t key[WG_KEY_BYTES],
			 const uint8_t *nonce, const uint8_t *c, size_t clen,
			 const uint8_t *ad, size_t adlen)
{
	return gcm_once(false, key, nonce, WG_GM_CNONCE_BYTES, m, c, clen, ad,
			adlen);
}

/* Transport SM4-GCM: take a free slot (try-lock), starting at this
 * thread's own, open its handle on first use. No allocation after that. */
static _Thread_local unsigned slot_hint = UINT32_MAX;
static atomic_uint slot_next;

static struct wg_gcm_slot *slot_take(struct wg_gcm_slot *slots)
{
	if (slot_hint == UINT32_MAX)
		slot_hint = atomic_fetch_add(&slot_next, 1) % WG_GM_SLOTS;
	for (unsigned i = 0;; i++) {
		struct wg_gcm_slot *sl = &slots[(slot_hint + i) % WG_GM_SLOTS];

		if (!atomic_flag_test_and_set_explicit(&sl->busy,
						       memory_order_acquire))
			return sl;
	}
}

static void slot_put(struct wg_gcm_slot *sl)
{
	atomic_flag_clear_explicit(&sl->busy, memory_order_release);
}

static int gm_transport(struct wg_gcm_slot *slots, const uint8_t *key,
			uint64_t counter, bool enc, uint8_t *out,
			const uint8_t *in, size_t inlen)
{
	struct wg_gcm_slot *sl = slot_take(slots);
	uint8_t n[WG_NONCE_BYTES];
	int r = 0;

	if (sl->h == NULL) {
		gcry_cipher_hd_t h;

		/* Not GCRY_CIPHER_SECURE: a gateway holds 2 * 8 handles per
		 * session and libgcrypt's secure pool is small. The key
		 * itself stays in tf_secure_alloc memory; libgcrypt wipes
		 * the schedule on close. */
		r = gcm_open_key(&h, key, 0);
		if (r == 0)
			sl->h = h;
	}
	if (r == 0) {
		wg_nonce(n, counter);
		r = gcm_run(sl->h, enc, n, sizeof(n), out, in, inlen, NULL, 0);
	}
	slot_put(sl);
	return r;
}

int wg_gm_transport_seal(struct wg_gcm_slot *slots, const uint8_t *key,
			 uint64_t counter, uint8_t *c, const uint8_t *m,
			 size_t mlen)
{
	return gm_transport(slots, key, counter, true, c, m, mlen);
}

int wg_gm_transport_open(struct wg_gcm_slot *slots, const uint8_t *key,
			 uint64_t counter, uint8_t *m, const uint8_t *c,
			 size_t clen)
{
	return gm_transport(slots, key, counter, false, m, c, clen);
}

void wg_gm_slots_close(struct wg_gcm_slot *slots)
{
	for (unsigned i = 0; i < WG_GM_SLOTS; i++) {
		if (slots[i].h != NULL)
			gcry_cipher_close(slots[i].h);
		slots[i].h = NULL;
	}
}

/* ---- SM2 ---- */

/* Raw ECDH on the SM2 curve: the x coordinate of d * Q (SEC 1 3.3.1).
 * EC_POINT_oct2point rejects points off the curve; the curve has cofactor
 * 1, so any point on it but infinity is in the prime-order group. The
 * all-zero check mirrors intl (it cannot be hit by a valid point except
 * one with x = 0, which is rejected as well). */
static int gm_dh(uint8_t out[32], const uint8_t priv[TF_WG_PRIV_BYTES],
		 const uint8_t *pub)
{
	int r = tf_sm2_dh_raw(out, priv, pub);

	if (r == 0 && sodium_is_zero(out, 32))
		r = -EINVAL;
	if (r < 0)
		sodium_memzero(out, 32);
	return r;
}

/* 1 <= d <= n - 2 (GB/T 32918.1 6.1), then P = d G. */
static int gm_pubkey(const uint8_t priv[TF_WG_PRIV_BYTES], uint8_t *pub)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	BN_CTX *bctx = BN_CTX_secure_new();
	BIGNUM *d = BN_secure_new(), *lim = BN_new();
	EC_POINT *p = NULL;
	int r = -EIO;

	if (g == NULL || bctx == NULL || d == NULL || lim == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_bin2bn(priv, TF_WG_PRIV_BYTES, d) == NULL ||
	    BN_copy(lim, EC_GROUP_get0_order(g)) == NULL ||
	    !BN_sub_word(lim, 2))
		goto out;
	if (BN_is_zero(d) || BN_cmp(d, lim) > 0) {
		r = -EINVAL;
		goto out;
	}
	p = EC_POINT_new(g);
	if (p == NULL || !EC_POINT_mul(g, p, d, NULL, NULL, bctx) ||
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub,
			       TF_WG_GM_PUB_BYTES, bctx) != TF_WG_GM_PUB_BYTES)
		goto out;
	r = 0;
out:
	EC_POINT_clear_free(p);
	BN_clear_free(d);
	BN_free(lim);
	BN_CTX_free(bctx);
	EC_GROUP_free(g);
	return r;
}

static int gm_keygen(uint8_t priv[TF_WG_PRIV_BYTES], uint8_t *pub)
{
	/* rejection sampling: a random 256-bit d is out of range with
	 * probability ~2^-32 for the SM2 order */
	for (int i = 0; i < 64; i++) {
		int r;

		if (RAND_priv_bytes(priv, TF_WG_PRIV_BYTES) != 1)
			return -EIO;
		r = gm_pubkey(priv, pub);
		if (r != -EINVAL)
			return r;
	}
	sodium_memzero(priv, TF_WG_PRIV_BYTES);
	return -EIO;
}

const struct wg_suite wg_suite_gm = {
	.id = TF_SUITE_GM,
	.pub_bytes = TF_WG_GM_PUB_BYTES,
	.cookie_nonce_bytes = WG_GM_CNONCE_BYTES,
	.type_base = 0x10,
	.init_bytes = TF_WG_GM_INITIATION_BYTES,
	.resp_bytes = TF_WG_GM_RESPONSE_BYTES,
	.cookie_bytes = TF_WG_GM_COOKIE_REPLY_BYTES,
	.construction = "Noise_IKpsk2_SM2_SM4GCM_SM3",
	.identifier = "twofold gm tunnel v1",
	.hash = gm_hash,
	.hmac = gm_hmac,
	.mac = gm_mac,
	.aead_seal = gm_aead_seal,
	.aead_open = gm_aead_open,
	.caead_seal = gm_caead_seal,
	.caead_open = gm_caead_open,
	.dh = gm_dh,
	.keygen = gm_keygen,
	.pubkey = gm_pubkey,
};

const struct wg_suite *wg_suite_get(uint8_t id)
{
	if (id == TF_SUITE_INTL)
		return &wg_suite_intl;
	if (id == TF_SUITE_GM)
		return &wg_suite_gm;
	return NULL;
}
