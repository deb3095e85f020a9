/* SPDX-License-Identifier: ISC */
/*
 * Private to src/lib/crypto: the two suite vtables, the HKDF engine and the
 * helpers the suites share. Nothing here is exported.
 */
#ifndef TWOFOLD_CRYPTO_INTERNAL_H
#define TWOFOLD_CRYPTO_INTERNAL_H

#include "twofold/crypto.h"

/* Largest serialized private key a suite produces:
 *   intl SIGN: libsodium Ed25519 sk = seed(32) || pk(32)        = 64
 *   intl KX:   X25519 scalar(32) || pk(32)                       = 64
 *   gm SIGN/KX: SM2 d (32, big-endian) || pk (65, 04||x||y)      = 97 */
#define TF_SK_MAX 97
#define TF_SM2_D_BYTES 32
#define TF_SM2_PK_BYTES 65

/* Per registry row (twofold/suite.h): the vtable tf_suite_<name> its
 * implementation defines, and its known-answer vectors tf_kat_set_<name>
 * (kat.c) that the vtable's kats points at. */
#define TF_SUITE_DECL_(tag, id, name, brief, desc)                             \
	extern const struct tf_suite tf_suite_##name;                          \
	extern const struct tf_kat_set tf_kat_set_##name;
TF_SUITES(TF_SUITE_DECL_)
#undef TF_SUITE_DECL_

/* ---- HKDF engine (RFC 5869), parametrised by the HMAC it runs on ---- */
struct tf_iov {
	const void *p;
	size_t n;
};

struct tf_hmac_alg {
	const char *name;
	size_t hlen; /* HashLen of RFC 5869; at most TF_HMAC_MAX */
	/* out = HMAC(key, parts[0] || ... || parts[n-1]) */
	int (*mac)(uint8_t *out, const uint8_t *key, size_t keylen,
		   const struct tf_iov *parts, size_t nparts);
};
#define TF_HMAC_MAX 64

extern const struct tf_hmac_alg tf_hmac_sha256; /* libsodium; KAT only */
extern const struct tf_hmac_alg tf_hmac_sha512; /* libsodium; intl */
extern const struct tf_hmac_alg tf_hmac_sm3;	/* libgcrypt; gm */

TF_WUR int tf_hkdf(const struct tf_hmac_alg *h, uint8_t *out, size_t outlen,
		   const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
		   size_t saltlen, const uint8_t *info, size_t infolen);

/* Shared key-agreement finish: both suites turn the raw DH output into the
 * TF_KX_BYTES key the same way (see crypto.c). */
TF_WUR int tf_kx_finish(const struct tf_suite *s, uint8_t out[TF_KX_BYTES],
			const uint8_t *raw, size_t rawlen,
			const uint8_t *own_pk, const uint8_t *peer_pk);

/* gm internals the KATs reach into (gm.c). */
TF_WUR int tf_gm_sm4_ecb_encrypt(const uint8_t key[16], uint8_t *block,
				 size_t iterations);
TF_WUR int tf_gm_sm2_sign_id(uint8_t *sig, size_t *siglen, const uint8_t *m,
			     size_t mlen, const uint8_t *sk, size_t sklen,
			     const char *id, size_t idlen);
TF_WUR int tf_gm_sm2_verify_id(const uint8_t *sig, size_t siglen,
			       const uint8_t *m, size_t mlen,
			       const uint8_t pk[TF_SM2_PK_BYTES],
			       const char *id, size_t idlen);
TF_WUR int tf_gm_sm2_pub_from_d(const uint8_t d[TF_SM2_D_BYTES],
				uint8_t pk[TF_SM2_PK_BYTES]);
TF_WUR int tf_gm_sm2_za(const uint8_t pk[TF_SM2_PK_BYTES], const char *id,
			size_t idlen, uint8_t za[32]);
TF_WUR int tf_gm_sm2_rs_to_der(const uint8_t rs[64], uint8_t *der, size_t cap,
			       size_t *len);

/* Deterministic signing key pairs from a 32-byte seed (tf_key_sign_from_seed)
 * and the intl keyed hash (tf_mac). *sklen: capacity in, length out. */
TF_WUR int tf_intl_sign_seed_keypair(const uint8_t seed[32], uint8_t *sk,
				     size_t *sklen, uint8_t *pk);
TF_WUR int tf_gm_sign_seed_keypair(const uint8_t seed[32], uint8_t *sk,
				   size_t *sklen, uint8_t *pk);
TF_WUR int tf_intl_mac(uint8_t out[32], const uint8_t key[32], const uint8_t *m,
		       size_t mlen);

#endif
