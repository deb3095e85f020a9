/* SPDX-License-Identifier: ISC */
/*
 * End-to-end messages between two devices (issue 15, second round;
 * docs/comms-protocol.md "End-to-end messages"): an X3DH-style
 * asynchronous setup and a Double Ratchet per device pair, on the suite's
 * Noise primitives (the same DH, AEAD, HASH and HMAC as tf_noise_*):
 *
 *   intl  X25519, ChaCha20-Poly1305, HMAC-BLAKE2b-512
 *   gm    SM2-curve ECDH (65-byte points), SM4-GCM, HMAC-SM3
 *
 * Identity: a device's identity DH key is the Noise DH key its
 * certificate (twofold/cert.h) certifies; its signed prekey is signed
 * with the certificate's sign key (tf_sign_id, TF_E2E_SPK_SIGN_ID). A
 * relay stores the published bundle and hands out the certificate, the
 * signed prekey and at most one one-time prekey per fetch, each one-time
 * prekey once. It never sees a key that opens a message.
 *
 * Pure code: no I/O, no clock (the caller passes now for certificate
 * checks), no printing. Every parser is bounded and fuzzed
 * (fuzz/fuzz_e2e.c). Errors: -EBADMSG malformed or failed authentication
 * (a flipped bit, a swapped sender, a forged header), -EALREADY a message
 * already read (replay), -ERANGE too many skipped messages,
 * -EKEYREJECTED a bad prekey signature or a certificate for another
 * officer than expected, -ENOKEY a prekey message naming a one-time
 * prekey we do not hold (used before: a replay), -ENOBUFS output too
 * small, -EPROTONOSUPPORT another suite, -EINVAL bad arguments; a
 * certificate refusal returns tf_cert_verify's error (tf_cert_reason).
 *
 * A failed decrypt leaves the session unchanged: a forgery cannot move
 * the ratchet or burn a skipped key.
 */
#ifndef TWOFOLD_E2E_H
#define TWOFOLD_E2E_H

#include "twofold/cert.h"
#include "twofold/common.h"

#define TF_E2E_VERSION 1
#define TF_E2E_SPK_SIGN_ID "twofold prekey v1"
#define TF_E2E_OPK_MAX 100     /* one-time prekeys held and published */
#define TF_E2E_MAX_SKIP 256    /* skipped keys one message may create */
#define TF_E2E_SKIPPED_MAX 512 /* skipped keys kept; oldest dropped */
#define TF_E2E_PT_MAX 16384    /* plaintext of one message */
#define TF_E2E_DH_MAX 65
#define TF_E2E_TAG_BYTES 16
/* version | type | suite | 0 | [spk id | opk id | ek | u16 n | cert]
 * | dh | pn | n | ciphertext and tag */
#define TF_E2E_HDR_MAX                                                         \
	(4 + 8 + TF_E2E_DH_MAX + 2 + TF_CERT_MAX + TF_E2E_DH_MAX + 8)
#define TF_E2E_MSG_MAX (TF_E2E_HDR_MAX + TF_E2E_PT_MAX + TF_E2E_TAG_BYTES)
/* "TFPB" | version | suite | u16 n | cert | spk id | spk | u8 n | sig
 * | u16 count | count x (u32 id | opk) */
#define TF_E2E_BUNDLE_MAX                                                      \
	(8 + TF_CERT_MAX + 4 + TF_E2E_DH_MAX + 1 + TF_SIG_MAX + 2 +            \
	 TF_E2E_OPK_MAX * (4 + TF_E2E_DH_MAX))

#define TF_E2E_TYPE_PREKEY 1 /* carries the X3DH header */
#define TF_E2E_TYPE_RATCHET 2

/* The suite's DH public key size (32 X25519, 65 SM2), 0 unknown. */
TF_EXPORT size_t tf_e2e_dh_bytes(uint8_t suite);

/* ---- prekey bundles ---- */

/* A parsed bundle; pointers into the parsed buffer. */
struct tf_e2e_bundle {
	uint8_t suite;
	const uint8_t *cert;
	size_t certlen;
	uint32_t spk_id;
	const uint8_t *spk; /* dhlen bytes */
	const uint8_t *sig;
	size_t siglen;
	size_t opk_count;
	const uint8_t *opks; /* opk_count x (u32 id BE | dhlen bytes) */
};

/* Structure only (the relay's check, and the first step of a device's):
 * 0 or -EBADMSG. */
TF_EXPORT TF_WUR int tf_e2e_bundle_parse(const uint8_t *buf, size_t len,
					 struct tf_e2e_bundle *out)
	TF_NONNULL(1, 3);
/* The i-th one-time prekey of a parsed bundle. */
TF_EXPORT void tf_e2e_bundle_opk(const struct tf_e2e_bundle *b, size_t i,
				 uint32_t *id, const uint8_t **pub)
	TF_NONNULL(1, 3, 4);
/* Write a bundle with only the certificate, the signed prekey and the
 * one-time prekey at index opk (SIZE_MAX: none): what a relay hands out.
 * Returns the length. */
TF_EXPORT TF_WUR int tf_e2e_bundle_pick(const struct tf_e2e_bundle *b,
					size_t opk, uint8_t *out, size_t cap)
	TF_NONNULL(1, 3);
/* A device's check of a fetched bundle: the certificate (tf_cert_verify
 * at now, client roles, dl), that it names officer `officer` (NULL: any),
 * and the signed prekey's signature by the certificate's sign key.
 * *cert (may be NULL) is the verified certificate. */
TF_EXPORT TF_WUR int
tf_e2e_bundle_verify(const struct tf_e2e_bundle *b,
		     const struct tf_cert_anchor *ca, uint64_t now,
		     const struct tf_denylist *dl, const char *officer,
		     struct tf_cert *cert) TF_NONNULL(1, 2);

/* ---- our prekeys (private) ---- */

struct tf_e2e_prekeys;

/* A signed prekey (spk_id) signed with sign_sk, and n_opk <= OPK_MAX
 * one-time prekeys numbered from first_opk_id. */
TF_EXPORT TF_WUR int
tf_e2e_prekeys_new(uint8_t suite, const struct tf_key *sign_sk, uint32_t spk_id,
		   size_t n_opk, uint32_t first_opk_id,
		   struct tf_e2e_prekeys **out) TF_NONNULL(2, 6);
TF_EXPORT void tf_e2e_prekeys_free(struct tf_e2e_prekeys *p);
static inline void tf_e2e_prekeys_freep(struct tf_e2e_prekeys **p)
{
	tf_e2e_prekeys_free(*p);
	*p = NULL;
}
/* One-time prekeys still unused. */
TF_EXPORT size_t tf_e2e_prekeys_opk_left(const struct tf_e2e_prekeys *p)
	TF_NONNULL(1);
/* The bundle to publish (all our one-time prekeys); returns its length. */
TF_EXPORT TF_WUR int tf_e2e_prekeys_bundle(const struct tf_e2e_prekeys *p,
					   const uint8_t *cert, size_t certlen,
					   uint8_t *out, size_t cap)
	TF_NONNULL(1, 2, 4);
/* The same with only the newest max_opk unused one-time prekeys (a
 * publication that fits one datagram however many are held). */
TF_EXPORT TF_WUR int tf_e2e_prekeys_bundle_newest(
	const struct tf_e2e_prekeys *p, const uint8_t *cert, size_t certlen,
	size_t max_opk, uint8_t *out, size_t cap) TF_NONNULL(1, 2, 5);
/* The same with at most max_opk unused one-time prekeys after the first
 * `first` of them, oldest first: a publication of many keys cut into
 * datagrams (max_opk 0: the bundle without any, to ask the relay how
 * many it holds). */
TF_EXPORT TF_WUR int
tf_e2e_prekeys_bundle_slice(const struct tf_e2e_prekeys *p, const uint8_t *cert,
			    size_t certlen, size_t first, size_t max_opk,
			    uint8_t *out, size_t cap) TF_NONNULL(1, 2, 6);
/* n new one-time prekeys with new ids (ids only grow). The unused ones
 * are kept until used; the table is bounded by TF_E2E_OPK_MAX, its
 * oldest unused ones dropped first. Write the state before publishing. */
TF_EXPORT TF_WUR int tf_e2e_prekeys_top_up(struct tf_e2e_prekeys *p, size_t n)
	TF_NONNULL(1);
/* A new signed prekey (the next id) when the current one is max_age
 * seconds old; the previous one still opens first messages until
 * now + grace. 1: changed (save the state, publish again), 0: not due. */
TF_EXPORT TF_WUR int tf_e2e_prekeys_rotate(struct tf_e2e_prekeys *p,
					   const struct tf_key *sign_sk,
					   uint64_t now, uint64_t max_age,
					   uint64_t grace) TF_NONNULL(1, 2);
TF_EXPORT uint32_t tf_e2e_prekeys_spk_id(const struct tf_e2e_prekeys *p)
	TF_NONNULL(1);
/* State file encoding (secret: write it 0600, atomically). */
TF_EXPORT size_t tf_e2e_prekeys_encoded_bytes(void);
TF_EXPORT TF_WUR int tf_e2e_prekeys_encode(const struct tf_e2e_prekeys *p,
					   uint8_t *out, size_t cap)
	TF_NONNULL(1, 2);
TF_EXPORT TF_WUR int tf_e2e_prekeys_decode(const uint8_t *buf, size_t len,
					   struct tf_e2e_prekeys **out)
	TF_NONNULL(1, 3);

/* ---- messages ---- */

struct tf_e2e_msg {
	uint8_t type, suite;
	uint32_t spk_id, opk_id; /* PREKEY; opk_id 0: none */
	const uint8_t *ek, *cert;
	size_t certlen;
	const uint8_t *dh;
	uint32_t pn, n;
	size_t hdr_len; /* bytes before the ciphertext (authenticated) */
	const uint8_t *ct;
	size_t ctlen; /* with the tag */
};
/* Structure only: 0 or -EBADMSG / -EPROTONOSUPPORT. */
TF_EXPORT TF_WUR int tf_e2e_msg_parse(const uint8_t *buf, size_t len,
				      struct tf_e2e_msg *out) TF_NONNULL(1, 3);

/* ---- sessions (one per device pair) ---- */

struct tf_e2e_session;

/* Initiator: a session to the owner of a verified bundle b, from us
 * (our identity DH private key dh_priv, our certificate cert). Uses the
 * bundle's first one-time prekey if it has one. Every message until the
 * peer's first reply carries the X3DH header. */
TF_EXPORT TF_WUR int
tf_e2e_session_initiate(uint8_t suite, const uint8_t dh_priv[static 32],
			const uint8_t *cert, size_t certlen,
			const struct tf_e2e_bundle *b,
			struct tf_e2e_session **out) TF_NONNULL(2, 3, 5, 6);
/* Responder: a PREKEY message from a device we have no session with.
 * Verifies the sender's certificate (at now, client roles, dl), runs
 * X3DH with our prekeys (consuming the one-time prekey: persist *pk
 * before showing the message), decrypts into pt. *peer: the sender's
 * certificate. Returns the plaintext length. */
TF_EXPORT TF_WUR int tf_e2e_session_accept(
	uint8_t suite, const uint8_t dh_priv[static 32],
	struct tf_e2e_prekeys *pk, const struct tf_cert_anchor *ca,
	uint64_t now, const struct tf_denylist *dl, const uint8_t *msg,
	size_t len, struct tf_cert *peer, struct tf_e2e_session **out,
	uint8_t *pt, size_t cap) TF_NONNULL(2, 3, 4, 7, 10, 11);
TF_EXPORT void tf_e2e_session_free(struct tf_e2e_session *s);
static inline void tf_e2e_session_freep(struct tf_e2e_session **s)
{
	tf_e2e_session_free(*s);
	*s = NULL;
}
/* The peer's identity DH key (as certified). */
TF_EXPORT const uint8_t *tf_e2e_session_peer_ik(const struct tf_e2e_session *s,
						size_t *len) TF_NONNULL(1);
/* True when msg (a PREKEY message) is a copy of the one that started
 * this session (a retry or replay: decrypt it on the session). */
TF_EXPORT bool tf_e2e_session_is_base(const struct tf_e2e_session *s,
				      const struct tf_e2e_msg *m)
	TF_NONNULL(1, 2);

/* Encrypt len <= TF_E2E_PT_MAX bytes; returns the message length. */
TF_EXPORT TF_WUR int tf_e2e_encrypt(struct tf_e2e_session *s, const uint8_t *pt,
				    size_t len, uint8_t *out, size_t cap)
	TF_NONNULL(1, 4);
/* Decrypt a message of this session; returns the plaintext length. */
TF_EXPORT TF_WUR int tf_e2e_decrypt(struct tf_e2e_session *s,
				    const uint8_t *msg, size_t len, uint8_t *pt,
				    size_t cap) TF_NONNULL(1, 2, 4);

/* State file encoding (secret: 0600, atomically). */
TF_EXPORT size_t tf_e2e_session_encoded_bytes(void);
TF_EXPORT TF_WUR int tf_e2e_session_encode(const struct tf_e2e_session *s,
					   uint8_t *out, size_t cap)
	TF_NONNULL(1, 2);
TF_EXPORT TF_WUR int tf_e2e_session_decode(const uint8_t *buf, size_t len,
					   struct tf_e2e_session **out)
	TF_NONNULL(1, 3);

#endif
