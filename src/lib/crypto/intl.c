/* SPDX-License-Identifier: ISC */
/*
 * The `intl` suite, all libsodium: XChaCha20-Poly1305 (IETF variant,
 * draft-irtf-cfrg-xchacha), BLAKE2b-256, HKDF over HMAC-SHA-512, Ed25519,
 * X25519. The 24-byte XChaCha nonce is large enough to draw at random for
 * every message without a birthday-bound worry.
 */
#include <sodium.h>
#include <string.h>

#include "internal.h"

static int intl_aead_encrypt(uint8_t *c, uint8_t *tag, const uint8_t *m,
			     size_t mlen, const uint8_t *ad, size_t adlen,
			     const uint8_t *nonce, const uint8_t *key)
{
	unsigned long long taglen;

	if (crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		    c, tag, &taglen, m, mlen, ad, adlen, NULL, nonce, key) != 0)
		return -EIO;
	return 0;
}

static int intl_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen,
			     const uint8_t *tag, const uint8_t *ad,
			     size_t adlen, const uint8_t *nonce,
			     const uint8_t *key)
{
	/* libsodium checks the tag before it writes a byte of m. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		    m, NULL, c, clen, tag, ad, adlen, nonce, key) != 0)
		return -EBADMSG;
	return 0;
}

static int intl_hash(uint8_t out[TF_HASH_BYTES], const uint8_t *m, size_t mlen)
{
	if (crypto_generichash(out, TF_HASH_BYTES, m, mlen, NULL, 0) != 0)
		return -EIO;
	return 0;
}

static int intl_hash_begin(void **st)
{
	crypto_generichash_state *g = sodium_malloc(sizeof(*g));

	if (g == NULL)
		return -ENOMEM;
	if (crypto_generichash_init(g, NULL, 0, TF_HASH_BYTES) != 0) {
		sodium_free(g);
		return -EIO;
	}
	*st = g;
	return 0;
}

static int intl_hash_update(void *st, const uint8_t *m, size_t mlen)
{
	if (crypto_generichash_update(st, m, mlen) != 0)
		return -EIO;
	return 0;
}

static int intl_hash_end(void *st, uint8_t *out)
{
	uint8_t tmp[TF_HASH_BYTES];
	int r = 0;

	if (crypto_generichash_final(st, tmp, TF_HASH_BYTES) != 0)
		r = -EIO;
	else if (out)
		memcpy(out, tmp, TF_HASH_BYTES);
	sodium_free(st); /* zeroes the state */
	return r;
}

static int intl_hkdf(uint8_t *out, size_t outlen, const uint8_t *ikm,
		     size_t ikmlen, const uint8_t *salt, size_t saltlen,
		     const uint8_t *info, size_t infolen)
{
	return tf_hkdf(&tf_hmac_sha512, out, outlen, ikm, ikmlen, salt, saltlen,
		       info, infolen);
}

/* *sklen: capacity in, length out (both keygen functions). */
static int intl_sign_keygen(uint8_t *sk, size_t *sklen, uint8_t *pk)
{
	if (*sklen < crypto_sign_SECRETKEYBYTES)
		return -ENOBUFS;
	if (crypto_sign_keypair(pk, sk) != 0)
		return -EIO;
	*sklen = crypto_sign_SECRETKEYBYTES;
	return 0;
}

static int intl_sign(uint8_t *sig, size_t *siglen, const uint8_t *m,
		     size_t mlen, const uint8_t *sk, size_t sklen)
{
	unsigned long long l;

	if (sklen != crypto_sign_SECRETKEYBYTES || *siglen < crypto_sign_BYTES)
		return -EINVAL;
	if (crypto_sign_detached(sig, &l, m, mlen, sk) != 0)
		return -EIO;
	*siglen = (size_t)l;
	return 0;
}

static int intl_verify(const uint8_t *sig, size_t siglen, const uint8_t *m,
		       size_t mlen, const uint8_t *pk)
{
	if (siglen != crypto_sign_BYTES)
		return -EBADMSG;
	if (crypto_sign_verify_detached(sig, m, mlen, pk) != 0)
		return -EBADMSG;
	return 0;
}

/* KX private key = scalar(32) || own public key(32): the KDF binds both
 * public keys and this keeps a scalar multiplication off every tf_kx. */
static int intl_kx_keygen(uint8_t *sk, size_t *sklen, uint8_t *pk)
{
	int r;

	if (*sklen < 2 * crypto_scalarmult_BYTES)
		return -ENOBUFS;
	r = tf_random(sk, crypto_scalarmult_SCALARBYTES);
	if (r < 0)
		return r;
	if (crypto_scalarmult_base(pk, sk) != 0) {
		sodium_memzero(sk, crypto_scalarmult_SCALARBYTES);
		return -EIO;
	}
	memcpy(sk + crypto_scalarmult_SCALARBYTES, pk, crypto_scalarmult_BYTES);
	*sklen = 2 * crypto_scalarmult_BYTES;
	return 0;
}

static int intl_kx(uint8_t out[TF_KX_BYTES], const uint8_t *sk, size_t sklen,
		   const uint8_t *peer_pk)
{
	uint8_t raw[crypto_scalarmult_BYTES];
	int r;

	if (sklen != 2 * crypto_scalarmult_BYTES)
		return -EINVAL;
	/* libsodium returns -1 when the result is all zeros, i.e. the peer
	 * sent a low-order point (RFC 7748 §6.1 "check for the all-zero
	 * value"): refuse rather than derive a key anyone can compute. */
	if (crypto_scalarmult(raw, sk, peer_pk) != 0)
		return -EINVAL;
	r = tf_kx_finish(&tf_suite_intl, out, raw, sizeof(raw),
			 sk + crypto_scalarmult_SCALARBYTES, peer_pk);
	sodium_memzero(raw, sizeof(raw));
	return r;
}

const struct tf_suite tf_suite_intl = {
	.id = TF_SUITE_INTL,
	.name = "intl",
	.kats = &tf_kat_set_intl,
	.aead_nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	.aead_tag_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES,
	.pk_bytes = crypto_sign_PUBLICKEYBYTES,
	.aead_encrypt = intl_aead_encrypt,
	.aead_decrypt = intl_aead_decrypt,
	.hash = intl_hash,
	.hash_begin = intl_hash_begin,
	.hash_update = intl_hash_update,
	.hash_end = intl_hash_end,
	.hkdf = intl_hkdf,
	.sign_keygen = intl_sign_keygen,
	.sign = intl_sign,
	.verify = intl_verify,
	.kx_keygen = intl_kx_keygen,
	.kx = intl_kx,
};

int tf_intl_sign_seed_keypair(const uint8_t seed[32], uint8_t *sk,
			      size_t *sklen, uint8_t *pk)
{
	if (*sklen < crypto_sign_SECRETKEYBYTES)
		return -ENOBUFS;
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
		return -EIO;
	*sklen = crypto_sign_SECRETKEYBYTES;
	return 0;
}

/* keyed BLAKE2b-256 (RFC 7693 §2.5: the key makes it a MAC/PRF; no
 * HMAC construction needed, BLAKE2 has no length extension) */
int tf_intl_mac(uint8_t out[32], const uint8_t key[32], const uint8_t *m,
		size_t mlen)
{
	if (crypto_generichash(out, 32, m, mlen, key, 32) != 0)
		return -EIO;
	return 0;
}
