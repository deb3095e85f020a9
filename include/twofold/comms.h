/* SPDX-License-Identifier: ISC */
/*
 * Secure communications, first round (issue 15; docs/comms-protocol.md):
 *
 *  1. A generic Noise IK handshake (tf_noise_*), one implementation for
 *     both suites, as pure code (no I/O, no clock):
 *       intl  Noise_IK_25519_ChaChaPoly_BLAKE2b (the Noise spec exactly;
 *             interoperates with python3-dissononce)
 *       gm    Noise_IK_SM2_SM4GCM_SM3: DH = x coordinate of SM2-curve ECDH
 *             (65-byte uncompressed points), AEAD = SM4-GCM with the first
 *             16 bytes of the 32-byte key and the ChaChaPoly nonce layout
 *             (4 zero bytes || LE64 counter), HASH = SM3 (HASHLEN 32),
 *             HMAC-SM3
 *     The DH, AEAD and SM3/HMAC-SM3 primitives are the tunnel's
 *     (src/lib/wg), not a copy.
 *
 *  2. The device <-> relay channel (tf_comms_*) on it: one round trip, the
 *     relay's static key provisioned, the device's certificate (twofold/
 *     cert.h) in the first message's encrypted payload and checked by the
 *     relay (signature, validity, role, deny-list, and that it certifies
 *     the very Noise static key the handshake authenticated). Then
 *     transport datagrams addressed by the receiver's connection id (not
 *     by address, so a flow survives the device changing networks) with a
 *     replay window.
 *
 * Wire format (little-endian), every datagram starts with an 8-byte
 * header  u8 type | u8 suite | u16 0 | u32 sender or receiver id:
 *   INIT  type 1, sender id | Noise message 1
 *   RESP  type 2, sender id | u32 receiver id | Noise message 2
 *   DATA  type 3, receiver id | u64 counter | AEAD(payload) (AD = the
 *         16 header bytes)
 *   COOKIE type 4, the device's id | nonce (24 intl / 12 gm) |
 *         AEAD(cookie, 16 bytes) (AD = the INIT's mac1)
 * An INIT ends in mac1 | mac2 (16 bytes each, outside the Noise message;
 * docs/comms-protocol.md "Cookies"): a relay drops an INIT whose mac1 is
 * not for its key before any DH, and under load answers one without a
 * valid mac2 with a COOKIE instead of doing the DH.
 * The Noise prologue is "twofold comms v1" || the INIT header, so the
 * suite byte and the initiator's connection id are authenticated: a
 * datagram whose suite byte was changed fails the handshake (no
 * downgrade), and the two suites' protocol names differ too.
 *
 * Errors: -EBADMSG malformed or failed authentication, -EPROTONOSUPPORT
 * another suite than ours, -EALREADY replayed counter, -ENOBUFS output too
 * small, -ESTALE session counter exhausted, -EINVAL bad arguments or
 * state; a certificate refusal returns tf_cert_verify's error (see
 * twofold/cert.h; tf_cert_reason renders it), and -EKEYREJECTED when a
 * valid certificate certifies another key than the handshake's.
 */
#ifndef TWOFOLD_COMMS_H
#define TWOFOLD_COMMS_H

#include "twofold/cert.h"
#include "twofold/common.h"

/* ---- Noise IK ---- */

#define TF_NOISE_KEY_BYTES 32
#define TF_NOISE_PRIV_BYTES 32
#define TF_NOISE_HASH_MAX 64 /* BLAKE2b */
#define TF_NOISE_DH_MAX 65   /* SM2 point */
#define TF_NOISE_TAG_BYTES 16
#define TF_NOISE_MSG_MAX 65535 /* the Noise spec's limit */

struct tf_noise_hs;

/* A handshake for IK. initiator: rs is the responder's static public key
 * (provisioned). responder: rs NULL (learnt from message 1). s_priv: our
 * static private key (X25519 scalar / SM2 d). The prologue is copied. */
TF_EXPORT TF_WUR int tf_noise_hs_new(uint8_t suite, bool initiator,
				     const uint8_t s_priv[static 32],
				     const uint8_t *rs, const uint8_t *prologue,
				     size_t prologue_len,
				     struct tf_noise_hs **out) TF_NONNULL(3, 7);
TF_EXPORT void tf_noise_hs_free(struct tf_noise_hs *hs);
static inline void tf_noise_hs_freep(struct tf_noise_hs **hs)
{
	tf_noise_hs_free(*hs);
	*hs = NULL;
}
#define _cleanup_noise_hs_ _cleanup_(tf_noise_hs_freep)
/* "Noise_IK_25519_ChaChaPoly_BLAKE2b" / "Noise_IK_SM2_SM4GCM_SM3" */
TF_EXPORT const char *tf_noise_protocol_name(uint8_t suite);
/* The size of message 1 / 2 with a payload of n bytes (0 unknown suite). */
TF_EXPORT size_t tf_noise_msg1_bytes(uint8_t suite, size_t n);
TF_EXPORT size_t tf_noise_msg2_bytes(uint8_t suite, size_t n);

/* Write our next handshake message carrying payload; returns its length. */
TF_EXPORT TF_WUR int tf_noise_hs_write(struct tf_noise_hs *hs,
				       const uint8_t *payload, size_t plen,
				       uint8_t *out, size_t cap)
	TF_NONNULL(1, 4);
/* Read the peer's next handshake message; returns the payload's length.
 * A failed read leaves the handshake unusable (free it). */
TF_EXPORT TF_WUR int tf_noise_hs_read(struct tf_noise_hs *hs,
				      const uint8_t *msg, size_t len,
				      uint8_t *payload, size_t cap)
	TF_NONNULL(1, 2);
/* The peer's static key once known (responder: after message 1). */
TF_EXPORT const uint8_t *tf_noise_hs_remote_static(const struct tf_noise_hs *hs,
						   size_t *len) TF_NONNULL(1);
/* After both messages: the transport keys (initiator sends with the first
 * Split key), and the handshake hash h (*hlen = HASHLEN) for channel
 * binding. Wipes the handshake's secrets. */
TF_EXPORT TF_WUR int tf_noise_hs_split(struct tf_noise_hs *hs,
				       uint8_t send[static TF_NOISE_KEY_BYTES],
				       uint8_t recv[static TF_NOISE_KEY_BYTES],
				       uint8_t *h, size_t *hlen)
	TF_NONNULL(1, 2, 3);
/* Tests only (known answers, interop): the next ephemeral. */
TF_EXPORT void tf_noise_test_fix_ephemeral(struct tf_noise_hs *hs,
					   const uint8_t priv[static 32])
	TF_NONNULL(1, 2);

/* ---- the device <-> relay channel ---- */

#define TF_COMMS_PROLOGUE "twofold comms v1"
#define TF_COMMS_TYPE_INIT 1
#define TF_COMMS_TYPE_RESP 2
#define TF_COMMS_TYPE_DATA 3
#define TF_COMMS_TYPE_COOKIE 4
#define TF_COMMS_MAC_BYTES 16
#define TF_COMMS_MAC_KEY_BYTES 32
#define TF_COMMS_INIT_MACS_BYTES (2 * TF_COMMS_MAC_BYTES) /* mac1, mac2 */
#define TF_COMMS_COOKIE_SECRET_BYTES 32
/* how often the relay replaces its cookie secret (seconds): a cookie is
 * good for at most this long */
#define TF_COMMS_COOKIE_SECRET_S 120
#define TF_COMMS_COOKIE_MAX (TF_COMMS_HDR_BYTES + 24 + 16 + TF_NOISE_TAG_BYTES)
#define TF_COMMS_HDR_BYTES 8
#define TF_COMMS_DATA_HDR_BYTES 16
#define TF_COMMS_DATA_OVERHEAD (TF_COMMS_DATA_HDR_BYTES + TF_NOISE_TAG_BYTES)
/* message 1's payload: u64 timestamp (ns) | u16 cert length | cert */
#define TF_COMMS_INIT_PAYLOAD_MAX (10 + TF_CERT_MAX)
#define TF_COMMS_INIT_MAX                                                      \
	(TF_COMMS_HDR_BYTES + 2 * TF_NOISE_DH_MAX + 2 * TF_NOISE_TAG_BYTES +   \
	 TF_COMMS_INIT_PAYLOAD_MAX + TF_COMMS_INIT_MACS_BYTES)
#define TF_COMMS_RESP_MAX                                                      \
	(TF_COMMS_HDR_BYTES + 4 + TF_NOISE_DH_MAX + TF_NOISE_TAG_BYTES + 8)
#define TF_COMMS_PAYLOAD_MAX 1400 /* one UDP datagram under a 1500 MTU */
/* An address on the relay (issue 15, several devices per officer):
 * "officer" or "officer/device", both halves certificate ids (the
 * alphabet of TF_CERT_ID_MAX ids has no '/') */
#define TF_COMMS_ADDR_MAX (2 * TF_CERT_ID_MAX + 1)
/* devices of one officer a relay lists (DEVICES) and a sender seals for */
#define TF_COMMS_DEVICES_MAX 16

enum tf_comms_msg {
	TF_COMMS_MSG_INVALID = 0,
	TF_COMMS_MSG_INIT = TF_COMMS_TYPE_INIT,
	TF_COMMS_MSG_RESP = TF_COMMS_TYPE_RESP,
	TF_COMMS_MSG_DATA = TF_COMMS_TYPE_DATA,
	TF_COMMS_MSG_COOKIE = TF_COMMS_TYPE_COOKIE,
};
/* Classify a datagram by type, suite and size bounds before anything
 * parses it; *id = the sender id (INIT) or the receiver id (RESP, DATA,
 * COOKIE).
 * A datagram of another suite than `suite` is INVALID. */
TF_EXPORT enum tf_comms_msg tf_comms_classify(uint8_t suite, const uint8_t *buf,
					      size_t len, uint32_t *id)
	TF_NONNULL(2, 4);

struct tf_comms_session;
struct tf_comms_client;

/* Device: start a handshake to the relay whose static public key is
 * relay_pub, presenting cert (ours, certifying the public half of
 * dh_priv). ts_ns: a timestamp newer than any previous one from this
 * device (CLOCK_REALTIME ns; the relay refuses a replayed INIT by it).
 * Writes the INIT datagram to out and returns its length. */
TF_EXPORT TF_WUR int
tf_comms_client_start(uint8_t suite, const uint8_t dh_priv[static 32],
		      const uint8_t *relay_pub, const uint8_t *cert,
		      size_t certlen, uint64_t ts_ns, uint32_t local_id,
		      struct tf_comms_client **client, uint8_t *out, size_t cap)
	TF_NONNULL(2, 3, 4, 8, 9);
/* Device: consume the relay's RESP; on success *out is the session. */
TF_EXPORT TF_WUR int tf_comms_client_finish(struct tf_comms_client *c,
					    const uint8_t *msg, size_t len,
					    struct tf_comms_session **out)
	TF_NONNULL(1, 2, 4);
/* Device: a rekey of session s (docs/comms-protocol.md "Rekeying"): an
 * INIT on s's connection id with the rekey flag (INIT header byte 2 = 1,
 * in the prologue); finish it with tf_comms_client_finish, then
 * tf_comms_session_rekey(s, new, now, true). */
#define TF_COMMS_INIT_REKEY 1
TF_EXPORT TF_WUR int tf_comms_client_rekey(
	const struct tf_comms_session *s, const uint8_t dh_priv[static 32],
	const uint8_t *relay_pub, const uint8_t *cert, size_t certlen,
	uint64_t ts_ns, struct tf_comms_client **client, uint8_t *out,
	size_t cap) TF_NONNULL(1, 2, 3, 4, 7, 8);
/* Relay: a classified INIT is a rekey of the session whose device
 * connection id it carries (authenticated once accepted). */
TF_EXPORT bool tf_comms_init_is_rekey(const uint8_t *msg) TF_NONNULL(1);
/* Device: the INIT again (for a retry), with mac2 when a cookie was
 * accepted; returns its length. */
TF_EXPORT TF_WUR int tf_comms_client_init(struct tf_comms_client *c,
					  uint8_t *out, size_t cap)
	TF_NONNULL(1, 2);
/* Device: the relay is under load and answered our INIT with a COOKIE:
 * 0 when it opens (made for this INIT), then tf_comms_client_init gives
 * the INIT to resend, with mac2. -EBADMSG otherwise (ignore it). */
TF_EXPORT TF_WUR int tf_comms_client_cookie(struct tf_comms_client *c,
					    const uint8_t *msg, size_t len)
	TF_NONNULL(1, 2);
TF_EXPORT void tf_comms_client_free(struct tf_comms_client *c);
/* Tests only: the client's next ephemeral. */
TF_EXPORT struct tf_noise_hs *tf_comms_client_hs(struct tf_comms_client *c)
	TF_NONNULL(1);

/* The relay's side. */
struct tf_comms_relay {
	uint8_t suite;
	const uint8_t *priv; /* 32 bytes, our static DH key */
	const uint8_t *pub;  /* its public half (mac1, COOKIE keys) */
	const struct tf_cert_anchor *ca;
	const struct tf_denylist *dl; /* NULL: none held */
	unsigned roles;		      /* accepted roles (TF_ROLE_BIT mask) */
};
/* What the relay learnt about the device. */
struct tf_comms_peer {
	struct tf_cert cert;
	uint64_t ts_ns;	    /* compare with the last one from cert.serial */
	uint32_t remote_id; /* the device's connection id */
};

/* Relay: consume an INIT (classified), check the certificate at now_s
 * (Unix seconds), write the RESP (our connection id local_id) to resp
 * and return its length; *out is the session, *peer what the device
 * proved. A certificate refusal returns tf_cert_verify's error and writes
 * no response: the relay says nothing to an unauthorised device. */
TF_EXPORT TF_WUR int
tf_comms_relay_accept(const struct tf_comms_relay *r, const uint8_t *msg,
		      size_t len, uint64_t now_s, uint32_t local_id,
		      struct tf_comms_peer *peer, uint8_t *resp, size_t cap,
		      struct tf_comms_session **out) TF_NONNULL(1, 2, 6, 7, 9);

/* The size of a COOKIE datagram in suite (0: unknown suite). */
TF_EXPORT size_t tf_comms_cookie_bytes(uint8_t suite);
/* Relay, before any DH: check a classified INIT's mac1 (-EBADMSG: not
 * made for this relay, drop it) and, when secret is not NULL (the relay
 * is under load), its mac2 against the cookie of src (the source
 * address's bytes): -EAGAIN when it is missing or stale, then answer with
 * tf_comms_relay_cookie instead of accepting. 0: go on with
 * tf_comms_relay_accept. */
TF_EXPORT TF_WUR int tf_comms_relay_check(const struct tf_comms_relay *r,
					  const uint8_t *msg, size_t len,
					  const uint8_t *secret,
					  const void *src, size_t srclen)
	TF_NONNULL(1, 2);
/* Relay: the COOKIE answering INIT msg from src (secret: the relay's
 * current cookie secret, TF_COMMS_COOKIE_SECRET_BYTES, replaced every
 * TF_COMMS_COOKIE_SECRET_S seconds); returns its length. */
TF_EXPORT TF_WUR int
tf_comms_relay_cookie(const struct tf_comms_relay *r, const uint8_t *msg,
		      size_t len, const uint8_t *secret, const void *src,
		      size_t srclen, uint8_t *out, size_t cap)
	TF_NONNULL(1, 2, 4, 5, 7);

/* Transport: encrypt one payload (at most TF_COMMS_PAYLOAD_MAX) into a
 * DATA datagram; returns its length. */
TF_EXPORT TF_WUR int tf_comms_encrypt(struct tf_comms_session *s,
				      const uint8_t *pt, size_t len,
				      uint8_t *out, size_t cap)
	TF_NONNULL(1, 4);
/* Decrypt a DATA datagram (classified, receiver id = ours); returns the
 * payload length. -EALREADY for a replay. Authenticated datagrams may come
 * from a new address: the caller then updates where it sends (the
 * connection id, not the address, names the flow). */
TF_EXPORT TF_WUR int tf_comms_decrypt(struct tf_comms_session *s,
				      const uint8_t *msg, size_t len,
				      uint8_t *out, size_t cap)
	TF_NONNULL(1, 2, 4);
TF_EXPORT void tf_comms_session_free(struct tf_comms_session *s);

/* ---- rekeying (docs/comms-protocol.md "Rekeying") ----
 *
 * The device re-handshakes on the same connection ids every
 * TF_COMMS_REKEY_AFTER_S (or TF_COMMS_REKEY_AFTER_MESSAGES); the sessions
 * overlap: a DATA header's byte 2 is its key phase (the low bit of the
 * handshake count), so the receiver opens it with the right keys. The
 * relay installs a rekey's keys as "next" and sends with the old ones
 * until the device's first DATA on the new ones; then the old ones only
 * receive stragglers for TF_COMMS_PREV_GRACE_S and are wiped. Any keys
 * older than TF_COMMS_REJECT_AFTER_S (tf_comms_session_set_reject_after)
 * are wiped and refused (-EKEYEXPIRED). Times are the caller's monotonic
 * seconds, given to the _at calls; the plain calls use no clock. */
#define TF_COMMS_REKEY_AFTER_S 120
#define TF_COMMS_REKEY_AFTER_MESSAGES (1ull << 48)
#define TF_COMMS_REJECT_AFTER_S 180
#define TF_COMMS_PREV_GRACE_S 10
/* when the session's first keys were made (after accept / finish) */
TF_EXPORT void tf_comms_session_set_birth(struct tf_comms_session *s,
					  uint64_t now_s) TF_NONNULL(1);
/* tests only: shorten TF_COMMS_REJECT_AFTER_S */
TF_EXPORT void tf_comms_session_set_reject_after(struct tf_comms_session *s,
						 uint64_t secs) TF_NONNULL(1);
/* Device: time to rekey (keys older than after_s, or many messages). */
TF_EXPORT bool tf_comms_session_rekey_due(const struct tf_comms_session *s,
					  uint64_t now_s, uint64_t after_s)
	TF_NONNULL(1);
/* Move the keys of ns (a handshake on the same connection ids, from
 * tf_comms_client_finish or tf_comms_relay_accept) into s; ns is freed.
 * confirmed: the device (the relay's RESP proved it holds them: send
 * with them now); false: the relay (next, until the device uses them).
 * -EINVAL (ns kept) when ns is not of the same ids. */
TF_EXPORT TF_WUR int tf_comms_session_rekey(struct tf_comms_session *s,
					    struct tf_comms_session *ns,
					    uint64_t now_s, bool confirmed)
	TF_NONNULL(1, 2);
/* encrypt / decrypt with the clock: keys past their time are wiped and
 * refused (-EKEYEXPIRED) */
TF_EXPORT TF_WUR int tf_comms_encrypt_at(struct tf_comms_session *s,
					 const uint8_t *pt, size_t len,
					 uint8_t *out, size_t cap,
					 uint64_t now_s) TF_NONNULL(1, 4);
TF_EXPORT TF_WUR int tf_comms_decrypt_at(struct tf_comms_session *s,
					 const uint8_t *msg, size_t len,
					 uint8_t *out, size_t cap,
					 uint64_t now_s) TF_NONNULL(1, 2, 4);
TF_EXPORT uint32_t tf_comms_session_local_id(const struct tf_comms_session *s)
	TF_NONNULL(1);
TF_EXPORT uint32_t tf_comms_session_remote_id(const struct tf_comms_session *s)
	TF_NONNULL(1);

#endif
