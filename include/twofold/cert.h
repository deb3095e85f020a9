/* SPDX-License-Identifier: ISC */
/*
 * Organisation certificates and the deny-list (issue 15, docs/comms.md
 * "Identity"). A small fixed binary format, no ASN.1: every field has a
 * fixed place or a one-byte length with a fixed maximum, so a parser is a
 * handful of bounds checks (fuzz/fuzz_cert.c).
 *
 * Certificate (all integers big-endian):
 *   "TFCT" | u8 version (1) | u8 suite | u8 role | u8 0
 *   | u64 serial | u64 not_before | u64 not_after   (Unix seconds)
 *   | issuer key id (16)
 *   | u8 len | officer id   (1..64 bytes, printable ASCII, no space)
 *   | u8 len | device id    (1..64 bytes, same alphabet)
 *   | u8 len | sign public key (the suite's: 32 Ed25519 / 65 SM2)
 *   | u8 len | DH public key   (the suite's: 32 X25519 / 65 SM2 point)
 *   | u8 len | signature over every byte before this length byte
 * signed with tf_sign_id(CA key, TF_CERT_SIGN_ID): Ed25519 (intl) or
 * SM2-with-SM3 with that distinguishing ID (gm). Nothing may follow.
 *
 * Deny-list:
 *   "TFDL" | u8 version (1) | u8 suite | u16 0 | issuer key id (16)
 *   | u64 issued_at | u64 next_update | u32 count (<= TF_DENYLIST_MAX)
 *   | count x u64 serial (strictly ascending)
 *   | u8 len | signature (tf_sign_id, TF_DENYLIST_SIGN_ID)
 *
 * The trust anchor is the CA's public sign key and its suite (the CA's
 * ca.pub file, see twofold-ca(1)). Key id = the first 16 bytes of
 * HASH_suite("twofold key id v1" || u8 suite || public key).
 *
 * Errors (tf_cert_verify and the deny-list functions):
 *   -EBADMSG         malformed, truncated, trailing bytes, bad signature
 *   -EPROTONOSUPPORT another suite than the anchor's, or another version
 *   -ENOKEY          issued by another key than the anchor
 *   -EKEYEXPIRED     past not_after
 *   -ETIME           before not_before (or the device clock is wrong)
 *   -EKEYREVOKED     serial on the deny-list
 *   -EPERM           a role the caller does not accept
 *   -ESTALE          deny-list past its next_update, or older than one
 *                    already seen
 * tf_cert_reason() turns them into the sentence a user reads.
 */
#ifndef TWOFOLD_CERT_H
#define TWOFOLD_CERT_H

#include "twofold/common.h"
#include "twofold/crypto.h"

#define TF_CERT_MAGIC "TFCT"
#define TF_CERT_VERSION 1
#define TF_CERT_KEYID_BYTES 16
#define TF_CERT_ID_MAX 64 /* officer id, device id */
#define TF_CERT_FIXED_BYTES 48
/* fixed part + 4 length bytes + ids + two keys + signature length+sig */
#define TF_CERT_MAX                                                            \
	(TF_CERT_FIXED_BYTES + 2 * (1 + TF_CERT_ID_MAX) +                      \
	 2 * (1 + TF_PK_MAX) + 1 + TF_SIG_MAX)
/* A certificate lives this long at most: short validity is what makes a
 * lost device's certificate die on its own when a deny-list cannot reach
 * everyone. */
#define TF_CERT_MAX_VALIDITY (90ull * 86400)
#define TF_CERT_SIGN_ID "twofold cert v1"

#define TF_DENYLIST_MAGIC "TFDL"
#define TF_DENYLIST_VERSION 1
#define TF_DENYLIST_FIXED_BYTES 44
#define TF_DENYLIST_MAX 65536u /* serials */
#define TF_DENYLIST_SIGN_ID "twofold denylist v1"

enum tf_cert_role {
	TF_ROLE_OFFICER = 1,
	TF_ROLE_DISPATCHER = 2,
	TF_ROLE_GROUP_AUTHORITY = 3,
	TF_ROLE_RELAY = 4,
};
#define TF_ROLE_BIT(r) (1u << (r))
#define TF_ROLES_CLIENT                                                        \
	(TF_ROLE_BIT(TF_ROLE_OFFICER) | TF_ROLE_BIT(TF_ROLE_DISPATCHER))
/* End-to-end peers: the clients, and the group authority, which sends
 * each member its talk groups' keys over a pairwise session. */
#define TF_ROLES_E2E (TF_ROLES_CLIENT | TF_ROLE_BIT(TF_ROLE_GROUP_AUTHORITY))

/* "officer", "dispatcher", "group-authority", "relay"; NULL when unknown */
TF_EXPORT const char *tf_cert_role_name(unsigned role);
/* 0 for an unknown name */
TF_EXPORT unsigned tf_cert_role_by_name(const char *name) TF_NONNULL(1);

struct tf_cert {
	uint8_t version, suite, role;
	uint64_t serial, not_before, not_after;
	uint8_t issuer[TF_CERT_KEYID_BYTES];
	char officer[TF_CERT_ID_MAX + 1]; /* NUL-terminated */
	char device[TF_CERT_ID_MAX + 1];
	uint8_t sign_pk[TF_PK_MAX];
	size_t sign_pk_len;
	uint8_t dh_pk[TF_PK_MAX];
	size_t dh_pk_len;
	size_t tbs_len; /* signed prefix of the encoding */
	uint8_t sig[TF_SIG_MAX];
	size_t sig_len;
};

/* The CA's public key as a verifier holds it. */
struct tf_cert_anchor {
	const struct tf_suite *suite;
	uint8_t pk[TF_PK_MAX];
	size_t pk_len;
	uint8_t keyid[TF_CERT_KEYID_BYTES];
};

TF_EXPORT TF_WUR int tf_cert_keyid(const struct tf_suite *s, const uint8_t *pk,
				   size_t pklen,
				   uint8_t out[static TF_CERT_KEYID_BYTES])
	TF_NONNULL(1, 2);
/* -EINVAL when pk is not s->pk_bytes long. */
TF_EXPORT TF_WUR int tf_cert_anchor_init(struct tf_cert_anchor *a,
					 const struct tf_suite *s,
					 const uint8_t *pk, size_t pklen)
	TF_NONNULL(1, 2, 3);

/* Structure only (no signature check, no clock): for `twofold-ca show` and
 * as tf_cert_verify's first step. Writes *out only on success. */
TF_EXPORT TF_WUR int tf_cert_parse(const uint8_t *buf, size_t len,
				   struct tf_cert *out) TF_NONNULL(1, 3);

/* Encode and sign c's subject fields (suite, role, serial, validity, ids,
 * keys) with the CA's signing key; the issuer key id is computed from it.
 * Returns the length written to out (cap >= TF_CERT_MAX is always
 * enough). -EINVAL for a field out of range (ids, key lengths, validity
 * longer than TF_CERT_MAX_VALIDITY, suite not the key's). */
TF_EXPORT TF_WUR int tf_cert_sign(const struct tf_cert *c,
				  const struct tf_key *ca, uint8_t *out,
				  size_t cap) TF_NONNULL(1, 2, 3);

struct tf_denylist;

/* The whole check a relay or a device makes: parse, suite and issuer, the
 * signature, the validity at `now` (Unix seconds), the role (a mask of
 * TF_ROLE_BIT), and, when dl is not NULL, the deny-list (which must itself
 * be current: -ESTALE past its next_update). dl NULL means "no deny-list
 * held", which callers allow only where none can be (tests, first boot).
 * Writes *out (may be NULL) only on success. */
TF_EXPORT TF_WUR int tf_cert_verify(const uint8_t *buf, size_t len,
				    const struct tf_cert_anchor *ca,
				    uint64_t now, unsigned roles,
				    const struct tf_denylist *dl,
				    struct tf_cert *out) TF_NONNULL(1, 3);

/* tf_cert_verify without the signature, for a certificate whose
 * signature was verified before (the relay's stored prekey bundles,
 * verified at PREKEYS): suite and issuer, validity at now, role, and the
 * deny-list (dl NULL: none held), with tf_cert_verify's errors. */
TF_EXPORT TF_WUR int
tf_cert_check(const struct tf_cert *c, const struct tf_cert_anchor *ca,
	      uint64_t now, unsigned roles, const struct tf_denylist *dl)
	TF_NONNULL(1, 2);

/* A sentence for one of the errors above ("certificate expired"). */
TF_EXPORT const char *tf_cert_reason(int err);

/* ---- deny-list ---- */

/* Sign a deny-list of n serials (any order, duplicates allowed: they are
 * sorted and merged). *out is malloc'ed, *outlen its length. */
TF_EXPORT TF_WUR int tf_denylist_sign(const struct tf_key *ca,
				      uint64_t issued_at, uint64_t next_update,
				      const uint64_t *serials, size_t n,
				      uint8_t **out, size_t *outlen)
	TF_NONNULL(1, 6, 7);

/* Parse and verify (suite, issuer, signature, order, bounds). Not the
 * clock: tf_denylist_check_fresh does that. */
TF_EXPORT TF_WUR int tf_denylist_parse(const uint8_t *buf, size_t len,
				       const struct tf_cert_anchor *ca,
				       struct tf_denylist **out)
	TF_NONNULL(1, 3, 4);
/* Structure only, no signature (fuzzing, `twofold-ca show`). */
TF_EXPORT TF_WUR int tf_denylist_parse_unverified(const uint8_t *buf,
						  size_t len,
						  struct tf_denylist **out)
	TF_NONNULL(1, 3);
TF_EXPORT void tf_denylist_free(struct tf_denylist *dl);
static inline void tf_denylist_freep(struct tf_denylist **dl)
{
	tf_denylist_free(*dl);
	*dl = NULL;
}
#define _cleanup_denylist_ _cleanup_(tf_denylist_freep)

/* -ESTALE when dl was issued before newest_seen (an attacker replaying an
 * old list to un-revoke a serial) or now is past its next_update. */
TF_EXPORT TF_WUR int tf_denylist_check_fresh(const struct tf_denylist *dl,
					     uint64_t newest_seen, uint64_t now)
	TF_NONNULL(1);
TF_EXPORT bool tf_denylist_contains(const struct tf_denylist *dl,
				    uint64_t serial) TF_NONNULL(1);
TF_EXPORT uint64_t tf_denylist_issued_at(const struct tf_denylist *dl)
	TF_NONNULL(1);
TF_EXPORT uint64_t tf_denylist_next_update(const struct tf_denylist *dl)
	TF_NONNULL(1);
TF_EXPORT size_t tf_denylist_count(const struct tf_denylist *dl) TF_NONNULL(1);
TF_EXPORT uint64_t tf_denylist_at(const struct tf_denylist *dl, size_t i)
	TF_NONNULL(1);

/* ---- key files (twofold-ca(1)) ----
 *
 * Public key file (a CA's ca.pub, a device's or relay's KEY.pub):
 *   "TFPK" | u8 version (1) | u8 suite | u8 len | sign pk | u8 len | DH pk
 * (a CA has no DH key: len 0).
 * Private key file (mode 0600, written atomically):
 *   "TFSK" | u8 version (1) | u8 suite | u8 kind (1 CA, 2 device)
 *   | sign seed (32, tf_key_sign_from_seed) | DH private key (32; zeros
 *   for a CA)
 */
#define TF_PUBFILE_MAGIC "TFPK"
#define TF_PUBFILE_MAX (8 + 2 * TF_PK_MAX)
#define TF_PRIVFILE_MAGIC "TFSK"
#define TF_PRIVFILE_BYTES (8 + 2 * TF_KEY_BYTES)
enum tf_keyfile_kind { TF_KEYFILE_CA = 1, TF_KEYFILE_DEVICE = 2 };

struct tf_pubfile {
	const struct tf_suite *suite;
	uint8_t sign_pk[TF_PK_MAX];
	size_t sign_pk_len;
	uint8_t dh_pk[TF_PK_MAX];
	size_t dh_pk_len; /* 0: none (a CA) */
};

/* Returns the length written (cap >= TF_PUBFILE_MAX is enough). */
TF_EXPORT TF_WUR int tf_pubfile_encode(const struct tf_pubfile *pf,
				       uint8_t *out, size_t cap)
	TF_NONNULL(1, 2);
TF_EXPORT TF_WUR int tf_pubfile_parse(const uint8_t *buf, size_t len,
				      struct tf_pubfile *out) TF_NONNULL(1, 3);

/* The secret part lives in tf_secure_alloc memory: free with
 * tf_privfile_free (wipes). */
struct tf_privfile {
	const struct tf_suite *suite;
	uint8_t kind;
	uint8_t *secret; /* TF_KEY_BYTES sign seed || TF_KEY_BYTES DH priv */
};
TF_EXPORT TF_WUR int tf_privfile_parse(const uint8_t *buf, size_t len,
				       struct tf_privfile *out)
	TF_NONNULL(1, 3);
/* Writes TF_PRIVFILE_BYTES to out. */
TF_EXPORT TF_WUR int tf_privfile_encode(const struct tf_privfile *pf,
					uint8_t out[static TF_PRIVFILE_BYTES])
	TF_NONNULL(1, 2);
TF_EXPORT void tf_privfile_free(struct tf_privfile *pf);
/* The sign key handle of a private key file. */
TF_EXPORT TF_WUR int tf_privfile_sign_key(const struct tf_privfile *pf,
					  struct tf_key **out) TF_NONNULL(1, 2);

#endif
