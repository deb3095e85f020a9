/* SPDX-License-Identifier: ISC */
/*
 * Crypto suites (DESIGN.md "Crypto suites"). One vtable per suite; the rest
 * of twofold calls only the tf_* wrappers below, never a library directly.
 *
 *   intl: libsodium  XChaCha20-Poly1305, BLAKE2b, HKDF(HMAC-SHA-512 via
 *         libsodium's crypto_auth_hmacsha512), Ed25519, X25519, Argon2id
 *   gm:   libgcrypt  SM4-GCM, SM3, HKDF-SM3; OpenSSL 3.0 SM2 signatures with
 *         an explicit user ID; ECDH on the SM2 curve + SM3 KDF; Argon2id
 *         (libsodium)
 *
 * Keys are opaque handles tagged with their suite and usage; the secret
 * bytes live in tf_secure_alloc memory. Using a key with the wrong suite or
 * for the wrong purpose fails with -EINVAL.
 */
#ifndef TWOFOLD_CRYPTO_H
#define TWOFOLD_CRYPTO_H

#include "twofold/common.h"
#include "twofold/suite.h" /* the registry: ids, names, descriptions */

enum tf_key_use {
	TF_KEY_AEAD = 1, /* 32-byte symmetric key */
	TF_KEY_SIGN = 2, /* signing private key */
	TF_KEY_KX = 3,	 /* key-agreement private key */
};

#define TF_KEY_BYTES 32	 /* AEAD keys, KDF outputs used as keys */
#define TF_HASH_BYTES 32 /* tf_hash output (BLAKE2b-256 / SM3) */
#define TF_SALT_BYTES 16 /* tf_pwhash salt */
#define TF_PK_MAX 65	 /* largest public key (SM2 uncompressed 04||x||y) */
#define TF_SIG_MAX 72	 /* largest signature (SM2 DER) */
#define TF_KX_BYTES 32	 /* shared secret after KDF */
#define TF_SM2_DEFAULT_ID "1234567812345678"

/*
 * Sealed blob wire format (every suite):
 *   "TFSB" | u8 format version (1) | u8 suite id | u16 0 | nonce | ct | tag
 * The first 8 bytes plus the nonce are the blob header; the header and the
 * caller's associated data are both bound into the AEAD associated data, so
 * a blob sealed under one suite never opens under the other, and changing a
 * header byte fails authentication.
 */
#define TF_BLOB_MAGIC "TFSB"
#define TF_BLOB_VERSION 1
#define TF_BLOB_FIXED_HDR 8
#define TF_SEAL_OVERHEAD_MAX (TF_BLOB_FIXED_HDR + 24 + 16)

struct tf_key;
/* A suite's known-answer vectors (src/lib/crypto/kat.c): opaque here. */
struct tf_kat_set;

/* One suite's implementation: defined as tf_suite_<name> by the file its
 * registry row (twofold/suite.h) names. */
struct tf_suite {
	uint8_t id;	  /* its registry row's id */
	const char *name; /* its registry row's name (test_kat checks) */
	/* the suite's own known-answer vectors; tf_crypto_selftest runs
	 * them and the shared ones (HKDF, Argon2id) */
	const struct tf_kat_set *kats;
	size_t aead_nonce_bytes;
	size_t aead_tag_bytes;
	size_t pk_bytes;
	/* raw AEAD: c gets mlen bytes, tag written separately */
	int (*aead_encrypt)(uint8_t *c, uint8_t *tag, const uint8_t *m,
			    size_t mlen, const uint8_t *ad, size_t adlen,
			    const uint8_t *nonce, const uint8_t *key);
	int (*aead_decrypt)(uint8_t *m, const uint8_t *c, size_t clen,
			    const uint8_t *tag, const uint8_t *ad, size_t adlen,
			    const uint8_t *nonce, const uint8_t *key);
	int (*hash)(uint8_t out[TF_HASH_BYTES], const uint8_t *m, size_t mlen);
	/* streaming hash (the same function as hash): begin allocates the
	 * state, end writes out (NULL: discard) and frees it */
	int (*hash_begin)(void **st);
	int (*hash_update)(void *st, const uint8_t *m, size_t mlen);
	int (*hash_end)(void *st, uint8_t *out);
	int (*hkdf)(uint8_t *out, size_t outlen, const uint8_t *ikm,
		    size_t ikmlen, const uint8_t *salt, size_t saltlen,
		    const uint8_t *info, size_t infolen);
	/* signing: sk is opaque to callers (serialized private key bytes) */
	int (*sign_keygen)(uint8_t *sk, size_t *sklen, uint8_t *pk);
	int (*sign)(uint8_t *sig, size_t *siglen, const uint8_t *m, size_t mlen,
		    const uint8_t *sk, size_t sklen);
	int (*verify)(const uint8_t *sig, size_t siglen, const uint8_t *m,
		      size_t mlen, const uint8_t *pk);
	int (*kx_keygen)(uint8_t *sk, size_t *sklen, uint8_t *pk);
	int (*kx)(uint8_t out[TF_KX_BYTES], const uint8_t *sk, size_t sklen,
		  const uint8_t *peer_pk);
};

/* Initialise the libraries (libsodium, libgcrypt secure memory, OpenSSL).
 * Idempotent, thread-unsafe: call from main before anything else. */
TF_EXPORT TF_WUR int tf_crypto_init(void);

/* NULL for an unknown name/id, or i past the last registry row. */
TF_EXPORT const struct tf_suite *tf_suite_by_name(const char *name);
TF_EXPORT const struct tf_suite *tf_suite_by_id(uint8_t id);
TF_EXPORT const struct tf_suite *tf_suite_at(size_t i);

/* Every suite, in registry order: tf_suite_foreach(i, s) { ... } */
#define tf_suite_foreach(i, s)                                                 \
	for (size_t i = 0; ((s) = tf_suite_at(i)) != NULL; i++)

/* Known-answer tests for one suite (and the shared HKDF and Argon2id
 * vectors). On failure returns -EBADMSG and writes a one-line reason naming
 * the vector into why. This is the start-up set (a few ms); it leaves out
 * the slow iterated vectors (SM4 x 1,000,000, ~180 ms; X25519 x 1,000). */
TF_EXPORT TF_WUR int tf_crypto_selftest(const struct tf_suite *s, char *why,
					size_t whylen);
/* Every vector, including the slow iterated ones (tests, `--selftest`). */
TF_EXPORT TF_WUR int tf_crypto_selftest_full(const struct tf_suite *s,
					     char *why, size_t whylen);

/* ---- keys ---- */
TF_EXPORT TF_WUR int tf_key_generate(const struct tf_suite *s,
				     enum tf_key_use use, struct tf_key **out);
/* AEAD keys only: import exactly TF_KEY_BYTES. */
TF_EXPORT TF_WUR int tf_key_import(const struct tf_suite *s,
				   enum tf_key_use use, const uint8_t *bytes,
				   size_t len, struct tf_key **out)
	TF_NONNULL(3, 5);
TF_EXPORT void tf_key_free(struct tf_key *k);
TF_EXPORT const struct tf_suite *tf_key_suite(const struct tf_key *k);
/* Public half of a SIGN/KX key: writes s->pk_bytes bytes. */
TF_EXPORT TF_WUR int tf_key_public(const struct tf_key *k, uint8_t *pk,
				   size_t pkcap);
static inline void tf_key_freep(struct tf_key **k)
{
	tf_key_free(*k);
	*k = NULL;
}
#define _cleanup_key_ _cleanup_(tf_key_freep)

/* ---- sealed blobs ---- */
TF_EXPORT size_t tf_seal_overhead(const struct tf_suite *s);
/* out must have ptlen + tf_seal_overhead() bytes; fresh random nonce. */
TF_EXPORT TF_WUR int tf_seal(const struct tf_key *k, const uint8_t *ad,
			     size_t adlen, const uint8_t *pt, size_t ptlen,
			     uint8_t *out, size_t outcap, size_t *outlen);
/* -EBADMSG on authentication failure; -EPROTONOSUPPORT when the blob names
 * another suite than the key's; -EINVAL on a malformed/truncated blob. */
TF_EXPORT TF_WUR int tf_open(const struct tf_key *k, const uint8_t *ad,
			     size_t adlen, const uint8_t *blob, size_t bloblen,
			     uint8_t *pt, size_t ptcap, size_t *ptlen)
	TF_NONNULL(1, 8);

/* ---- hashing and derivation ---- */
TF_EXPORT TF_WUR int tf_hash(const struct tf_suite *s,
			     uint8_t out[static TF_HASH_BYTES],
			     const uint8_t *m, size_t mlen);
/* The same hash over data that arrives in pieces (a package's payload is
 * hashed as it is read, never mapped whole): begin, update as often as
 * needed, end writes the digest and frees the context. tf_hash_free drops
 * an unfinished one (NULL accepted). */
struct tf_hash_ctx;
TF_EXPORT TF_WUR int tf_hash_begin(const struct tf_suite *s,
				   struct tf_hash_ctx **out);
TF_EXPORT TF_WUR int tf_hash_update(struct tf_hash_ctx *h, const void *m,
				    size_t mlen) TF_NONNULL(1);
TF_EXPORT TF_WUR int tf_hash_end(struct tf_hash_ctx *h,
				 uint8_t out[static TF_HASH_BYTES])
	TF_NONNULL(1);
TF_EXPORT void tf_hash_free(struct tf_hash_ctx *h);
static inline void tf_hash_freep(struct tf_hash_ctx **h)
{
	tf_hash_free(*h);
	*h = NULL;
}
#define _cleanup_hash_ _cleanup_(tf_hash_freep)
/* The hash of everything fd holds, read from offset 0 with pread (fd's
 * offset does not move); *size_out (may be NULL) gets the bytes read. */
TF_EXPORT TF_WUR int tf_hash_fd(const struct tf_suite *s, int fd,
				uint8_t out[static TF_HASH_BYTES],
				uint64_t *size_out);

/* HKDF with the suite's hash (extract+expand). */
TF_EXPORT TF_WUR int tf_kdf(const struct tf_suite *s, uint8_t *out,
			    size_t outlen, const uint8_t *ikm, size_t ikmlen,
			    const uint8_t *salt, size_t saltlen,
			    const uint8_t *info, size_t infolen);
/* Derive an AEAD key handle directly (the key bytes never leave secmem). */
TF_EXPORT TF_WUR int tf_kdf_key(const struct tf_suite *s, const uint8_t *ikm,
				size_t ikmlen, const uint8_t *info,
				size_t infolen, struct tf_key **out);

/* Argon2id (both suites). opslimit = passes, memlimit in bytes. */
TF_EXPORT TF_WUR int tf_pwhash(uint8_t *out, size_t outlen, const uint8_t *pw,
			       size_t pwlen,
			       const uint8_t salt[static TF_SALT_BYTES],
			       uint64_t opslimit, size_t memlimit);

/* ---- signatures and key agreement ---- */
TF_EXPORT TF_WUR int tf_sign(const struct tf_key *sk, const uint8_t *m,
			     size_t mlen, uint8_t *sig, size_t sigcap,
			     size_t *siglen);
/* 0 valid, -EBADMSG invalid. */
TF_EXPORT TF_WUR int tf_verify(const struct tf_suite *s, const uint8_t *pk,
			       const uint8_t *m, size_t mlen,
			       const uint8_t *sig, size_t siglen) TF_NONNULL(2);
/* Signatures bound to a distinguishing ID (a NUL-terminated string of
 * 1..TF_SIGN_ID_MAX bytes; each protocol uses its own, e.g. "twofold cert
 * v1"). gm: SM2-with-SM3 with the ID in Z_A; intl: Ed25519 over
 * u8 idlen || id || m. A signature for one ID never verifies under
 * another. tf_verify_id: 0 valid, -EBADMSG invalid. */
#define TF_SIGN_ID_MAX 64
TF_EXPORT TF_WUR int tf_sign_id(const struct tf_key *sk, const char *id,
				const uint8_t *m, size_t mlen, uint8_t *sig,
				size_t sigcap, size_t *siglen);
TF_EXPORT TF_WUR int tf_verify_id(const struct tf_suite *s, const uint8_t *pk,
				  const char *id, const uint8_t *m, size_t mlen,
				  const uint8_t *sig, size_t siglen)
	TF_NONNULL(2, 3);
TF_EXPORT TF_WUR int tf_kx(const struct tf_key *sk, const uint8_t *peer_pk,
			   uint8_t out[static TF_KX_BYTES]);

/* ---- audit log (src/lib/audit) ---- */
/* The suite's MAC: keyed BLAKE2b-256 (intl), HMAC-SM3 (gm). */
TF_EXPORT TF_WUR int tf_mac(const struct tf_suite *s,
			    uint8_t out[static TF_HASH_BYTES],
			    const uint8_t key[static TF_KEY_BYTES],
			    const uint8_t *m, size_t mlen);
/* A signing key pair derived deterministically from a 32-byte seed (the
 * same seed gives the same key): Ed25519's seed (intl), SM2 d reduced from
 * HKDF-SM3(seed) (gm). */
TF_EXPORT TF_WUR int
tf_key_sign_from_seed(const struct tf_suite *s,
		      const uint8_t seed[static TF_KEY_BYTES],
		      struct tf_key **out);

/* Raw ECDH on the SM2 curve: out = the x coordinate of d * peer_pk (SEC 1
 * 3.3.1), no KDF: for protocols that run their own key schedule (the gm
 * tunnel's Noise IK, src/lib/wg). peer_pk is an uncompressed point 04||x||y;
 * one off the curve, at infinity, or a result at infinity: -EINVAL (out
 * zeroed). The gm suite's tf_kx is this followed by its KDF. */
TF_EXPORT TF_WUR int tf_sm2_dh_raw(uint8_t out[static 32],
				   const uint8_t d[static 32],
				   const uint8_t peer_pk[static 65]);

/* Fill with cryptographically secure random bytes (getrandom). */
TF_EXPORT TF_WUR int tf_random(void *buf, size_t len);

#endif
