/* SPDX-License-Identifier: ISC */
/*
 * Talk-group rosters and epoch keys (issue 15 "Talk groups and
 * push-to-talk", docs/comms-protocol.md "Rosters"). A roster is the group
 * authority's signed statement of who is in a group at one epoch; a
 * member accepts a roster only when the authority's certificate (carried
 * inside it) verifies against the CA and the deny-list with the role
 * group-authority, so a relay, which only routes, cannot add a ghost
 * member. Epochs strictly increase: a member refuses an epoch not newer
 * than the one it holds, so an old roster (one that still listed a
 * removed member) cannot be replayed.
 *
 * Roster (all integers big-endian):
 *   "TFRS" | u8 version (1) | u8 suite | u16 0
 *   | u8 len | group id (1..64, the certificate id alphabet)
 *   | u64 epoch (1..TF_GROUP_EPOCH_MAX) | u64 issued_at | u64 expires_at
 *   | u16 len | the authority's certificate (TFCT)
 *   | u16 count (1..TF_ROSTER_MAX)
 *   | count x (u8 len | officer id | device hash (32) | u8 role)
 *     strictly ascending by (officer id bytes, device hash)
 *   | u8 len | signature over every byte before this length byte,
 *     tf_sign_id(authority key, TF_ROSTER_SIGN_ID)
 * Nothing may follow. The device hash is tf_roster_device_hash of the
 * member device's certified Noise DH key (its end-to-end identity).
 *
 * Errors (tf_roster_verify):
 *   -EBADMSG         malformed, truncated, trailing bytes, bad signature
 *   -EPROTONOSUPPORT another suite than the CA's, or another version
 *   -EPERM           signed by a certificate that is not a group authority
 *   (any tf_cert_verify error of the authority's certificate: -ENOKEY,
 *    -EKEYEXPIRED, -ETIME, -EKEYREVOKED, -ESTALE)
 *   -EXDEV           a roster of another group than the one asked for
 *   -ESTALE          epoch not newer than the one already held (a replay)
 *   -EKEYEXPIRED     the roster itself is past expires_at
 *   -ETIME           the roster is issued in the future
 * tf_roster_reason() turns them into the sentence a user reads.
 */
#ifndef TWOFOLD_ROSTER_H
#define TWOFOLD_ROSTER_H

#include "twofold/cert.h"

#define TF_ROSTER_MAGIC "TFRS"
#define TF_ROSTER_VERSION 1
#define TF_ROSTER_MAX 1024u /* members */
#define TF_ROSTER_SIGN_ID "twofold roster v1"
#define TF_ROSTER_DEVHASH_BYTES TF_HASH_BYTES
/* A roster is re-signed at least this often (groupd re-issues before it
 * runs out), so a member cut off from the authority stops trusting an
 * old list on its own. */
#define TF_ROSTER_MAX_VALIDITY (7ull * 86400)
#define TF_ROSTER_SKEW 300 /* seconds of clock difference tolerated */
#define TF_ROSTER_MEMBER_MAX (2 + TF_CERT_ID_MAX + TF_ROSTER_DEVHASH_BYTES)
#define TF_ROSTER_WIRE_MAX                                                     \
	(8 + 1 + TF_CERT_ID_MAX + 24 + 2 + TF_CERT_MAX + 2 +                   \
	 TF_ROSTER_MAX * TF_ROSTER_MEMBER_MAX + 1 + TF_SIG_MAX)

/* The group's epoch secret and what derives from it. */
#define TF_GROUP_SECRET_BYTES TF_KEY_BYTES
/* The SFrame key id is (epoch << 16) | talker index: the epoch must fit
 * in the 48 bits left. */
#define TF_GROUP_EPOCH_MAX ((1ull << 48) - 1)

struct tf_roster_member {
	char officer[TF_CERT_ID_MAX + 1]; /* NUL-terminated */
	uint8_t device[TF_ROSTER_DEVHASH_BYTES];
	uint8_t role; /* enum tf_cert_role: officer or dispatcher */
};

struct tf_roster {
	uint8_t version, suite;
	char group[TF_CERT_ID_MAX + 1];
	uint64_t epoch, issued_at, expires_at;
	struct tf_cert authority; /* filled by parse/verify, ignored by sign */
	size_t tbs_len;		  /* signed prefix of the encoding */
	size_t n;
	struct tf_roster_member m[]; /* n entries, sorted */
};

/* A zeroed roster with room for cap (<= TF_ROSTER_MAX) members; free(). */
TF_EXPORT TF_WUR int tf_roster_new(size_t cap, struct tf_roster **out)
	TF_NONNULL(2);

/* HASH_suite("twofold roster device v1" || u8 suite || dh_pk). */
TF_EXPORT TF_WUR int
tf_roster_device_hash(const struct tf_suite *s, const uint8_t *dh_pk,
		      size_t len, uint8_t out[static TF_ROSTER_DEVHASH_BYTES])
	TF_NONNULL(1, 2);

/* Sort r's members into wire order. -EEXIST when two are the same
 * (officer, device) pair. */
TF_EXPORT TF_WUR int tf_roster_sort(struct tf_roster *r) TF_NONNULL(1);

/* The index of (officer, device) in a sorted roster; device NULL matches
 * the officer's first device. -ENOENT when absent. */
TF_EXPORT int tf_roster_find(const struct tf_roster *r, const char *officer,
			     const uint8_t *device) TF_NONNULL(1, 2);

/* Encode and sign r (sorted, 1..TF_ROSTER_MAX members) with the group
 * authority's signing key sk, embedding its certificate cert. *out is
 * malloc'ed. -EINVAL for a field out of range or members out of order. */
TF_EXPORT TF_WUR int tf_roster_sign(const struct tf_roster *r,
				    const struct tf_key *sk,
				    const uint8_t *cert, size_t certlen,
				    uint8_t **out, size_t *outlen)
	TF_NONNULL(1, 2, 3, 5, 6);

/* Structure only (no signature, no clock): for display and fuzzing.
 * *out is malloc'ed (free()) and written only on success. */
TF_EXPORT TF_WUR int tf_roster_parse(const uint8_t *buf, size_t len,
				     struct tf_roster **out) TF_NONNULL(1, 3);

/* The whole check a member makes: structure, the authority's certificate
 * (against ca, at now, role group-authority, dl as tf_cert_verify takes
 * it), the signature with that certificate's key, the group (NULL: any),
 * the roster's validity and epoch > held_epoch (0: none held yet). */
TF_EXPORT TF_WUR int tf_roster_verify(const uint8_t *buf, size_t len,
				      const struct tf_cert_anchor *ca,
				      const struct tf_denylist *dl,
				      uint64_t now, const char *group,
				      uint64_t held_epoch,
				      struct tf_roster **out) TF_NONNULL(1, 3);

TF_EXPORT const char *tf_roster_reason(int err);

/* ---- epoch keys ----
 *
 * join:   secret' = KDF(secret, "twofold group v1 join" || group || epoch')
 *         the joiner gets secret' only, and cannot run KDF backwards to
 *         read what was said before it joined.
 * remove: a fresh random secret (the leaver cannot compute it).
 * talker: base = KDF(secret, "twofold group v1 talker" || group || epoch
 *         || u16 index), the SFrame base key of the roster member at
 *         index; its SFrame key id is tf_group_kid(epoch, index).
 * Outputs are key bytes: the caller wipes them (tf_memzero). */
TF_EXPORT TF_WUR int
tf_group_secret_join(const struct tf_suite *s,
		     const uint8_t secret[static TF_GROUP_SECRET_BYTES],
		     const char *group, uint64_t new_epoch,
		     uint8_t out[static TF_GROUP_SECRET_BYTES])
	TF_NONNULL(1, 2, 3, 5);
TF_EXPORT TF_WUR int
tf_group_talker_key(const struct tf_suite *s,
		    const uint8_t secret[static TF_GROUP_SECRET_BYTES],
		    const char *group, uint64_t epoch, unsigned index,
		    uint8_t out[static TF_KEY_BYTES]) TF_NONNULL(1, 2, 3, 6);

static inline uint64_t tf_group_kid(uint64_t epoch, unsigned index)
{
	return (epoch << 16) | (index & 0xffffu);
}
static inline uint64_t tf_group_kid_epoch(uint64_t kid)
{
	return kid >> 16;
}
static inline unsigned tf_group_kid_index(uint64_t kid)
{
	return (unsigned)(kid & 0xffffu);
}

#endif
