/* SPDX-License-Identifier: ISC */
/*
 * The tunnel protocol core (issue 12): WireGuard's Noise IK handshake,
 * cookies and transport, in two suites, as pure code (no I/O, no clock
 * reads except tf_wg_tai64n_now, no threads of its own).
 *
 *   intl  WireGuard exactly (whitepaper section 5):
 *         Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, "WireGuard v1 zx2c4
 *         Jason@zx2c4.com", message types 1..4. Interoperates with
 *         wireguard-go / the kernel module.
 *   gm    the same construction on Chinese commercial cryptography:
 *         Noise_IKpsk2_SM2_SM4GCM_SM3, "twofold gm tunnel v1", DH = raw x
 *         coordinate of SM2-curve ECDH (65-byte public keys), HASH = SM3,
 *         HMAC = HMAC-SM3, AEAD = SM4-GCM (key = first 16 bytes of each
 *         32-byte KDF output), message types 0x11..0x14. See
 *         docs/tunnel-protocol.md.
 *
 * The message types of the two suites are disjoint, so a datagram is
 * classified (tf_wg_msg_type) by type AND exact size before anything
 * parses it, and a peer of one suite never feeds the other's message to a
 * parser: no negotiation, no downgrade.
 *
 * Every object here is opaque and lives in tf_secure_alloc memory (its
 * secrets are wiped on free). tf_crypto_init() must have run first.
 *
 * Threads: the handshake functions (create/consume/cookie) change the peer
 * or static they are given and must be serialised per object by the caller
 * (one handshake thread, or a lock per peer). tf_wg_encrypt and
 * tf_wg_decrypt are safe to call concurrently on the same keypair from any
 * number of threads (atomic send counter, locked replay window) and never
 * allocate memory after the keypair's first use per thread slot; the caller
 * keeps the keypair alive (e.g. reference count, RCU) while any thread can
 * still use it.
 *
 * Times: `now` is CLOCK_MONOTONIC in nanoseconds (0 means "never" in the
 * timer state, so a caller's clock must never read 0: CLOCK_MONOTONIC
 * does not). Return values: 0 or a positive length, -errno on failure:
 *   -EBADMSG  malformed, wrong size, failed mac1 or authentication
 *   -EPROTO   a message of the other suite (tf_wg_msg_type said so)
 *   -EALREADY replayed (TAI64N not newer, transport counter seen/too old)
 *   -EAGAIN   mac2 missing or invalid while under load: send a cookie reply
 *   -ESTALE   keypair past REJECT_AFTER_TIME/MESSAGES: handshake again
 *   -ENOBUFS  output buffer too small
 *   -EINVAL   wrong suite, bad key, handshake in the wrong state
 *   -EIO      a crypto library failed
 */
#ifndef TWOFOLD_WG_H
#define TWOFOLD_WG_H

#include <sys/socket.h>

#include "twofold/common.h"
#include "twofold/suite.h"

/* ---- sizes ---- */

#define TF_WG_PRIV_BYTES 32	/* X25519 scalar / SM2 d (big-endian) */
#define TF_WG_INTL_PUB_BYTES 32 /* X25519 public key */
#define TF_WG_GM_PUB_BYTES 65	/* SM2 point 04||x||y */
#define TF_WG_PUB_MAX 65
#define TF_WG_PSK_BYTES 32
#define TF_WG_TAI64N_BYTES 12
#define TF_WG_MAC_BYTES 16 /* mac1, mac2, cookie */
#define TF_WG_TAG_BYTES 16 /* Poly1305 / GCM tag */
#define TF_WG_PADDING 16   /* transport plaintext padded to this multiple */

/* intl, WireGuard's sizes */
#define TF_WG_INTL_INITIATION_BYTES 148
#define TF_WG_INTL_RESPONSE_BYTES 92
#define TF_WG_INTL_COOKIE_REPLY_BYTES 64
/* gm: 65-byte points and a 12-byte cookie nonce */
#define TF_WG_GM_INITIATION_BYTES 214
#define TF_WG_GM_RESPONSE_BYTES 125
#define TF_WG_GM_COOKIE_REPLY_BYTES 52
/* transport, both suites: type(4) receiver(4) counter(8) | ct | tag(16) */
#define TF_WG_TRANSPORT_HEADER_BYTES 16
#define TF_WG_TRANSPORT_OVERHEAD 32 /* header + tag */
#define TF_WG_TRANSPORT_MIN 32	    /* a keepalive (empty plaintext) */
#define TF_WG_HANDSHAKE_MAX 214	    /* largest handshake message */

/* Message types on the wire (little-endian u32: the type byte then three
 * zero bytes). */
#define TF_WG_INTL_TYPE_INITIATION 1u
#define TF_WG_INTL_TYPE_RESPONSE 2u
#define TF_WG_INTL_TYPE_COOKIE_REPLY 3u
#define TF_WG_INTL_TYPE_TRANSPORT 4u
#define TF_WG_GM_TYPE_INITIATION 0x11u
#define TF_WG_GM_TYPE_RESPONSE 0x12u
#define TF_WG_GM_TYPE_COOKIE_REPLY 0x13u
#define TF_WG_GM_TYPE_TRANSPORT 0x14u

/* ---- timers and limits (whitepaper section 6.1) ---- */

#define TF_WG_REKEY_AFTER_MESSAGES (1ull << 60)
#define TF_WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ull << 13))
#define TF_WG_REKEY_AFTER_TIME 120u	 /* s */
#define TF_WG_REJECT_AFTER_TIME 180u	 /* s */
#define TF_WG_REKEY_ATTEMPT_TIME 90u	 /* s */
#define TF_WG_REKEY_TIMEOUT 5u		 /* s */
#define TF_WG_KEEPALIVE_TIMEOUT 10u	 /* s */
#define TF_WG_COOKIE_SECRET_MAX_AGE 120u /* s */
#define TF_WG_INITIATIONS_PER_SECOND 50u /* per peer, flood limit */
#define TF_WG_NSEC 1000000000ull

/* ---- classification ---- */

enum tf_wg_msg {
	TF_WG_MSG_INVALID = 0, /* no known type, or a known type, wrong size */
	TF_WG_MSG_INITIATION = 1,
	TF_WG_MSG_RESPONSE = 2,
	TF_WG_MSG_COOKIE_REPLY = 3,
	TF_WG_MSG_TRANSPORT = 4,
};

/* What this datagram is (enum tf_wg_msg) and, unless INVALID, which suite
 * it belongs to (*suite = TF_SUITE_INTL / TF_SUITE_GM; untouched when
 * INVALID). Checks the type, the three zero bytes and the exact size
 * (transport: at least TF_WG_TRANSPORT_MIN). Reads nothing else. A caller
 * whose tunnel is of the other suite refuses it and reports e.g.
 * "handshake of the intl suite on a gm tunnel: refused". */
TF_EXPORT enum tf_wg_msg tf_wg_msg_type(const uint8_t *buf, size_t len,
					uint8_t *suite) TF_NONNULL(3);

/* The receiver index of a RESPONSE, COOKIE_REPLY or TRANSPORT message
 * already classified by tf_wg_msg_type (the caller's index table maps it
 * to its peer/keypair); the sender index of an INITIATION. */
TF_EXPORT uint32_t tf_wg_msg_index(enum tf_wg_msg kind, const uint8_t *buf)
	TF_NONNULL(2);

TF_EXPORT size_t tf_wg_pub_bytes(uint8_t suite); /* 0 for an unknown suite */

/* ---- keys ---- */

/* A fresh private key and its public key (*publen = 32 or 65). */
TF_EXPORT TF_WUR int tf_wg_keygen(uint8_t suite,
				  uint8_t priv[static TF_WG_PRIV_BYTES],
				  uint8_t pub[static TF_WG_PUB_MAX],
				  size_t *publen);
/* The public key of priv: X25519 clamps; SM2 requires 1 <= d <= n-2. */
TF_EXPORT TF_WUR int tf_wg_pubkey(uint8_t suite,
				  const uint8_t priv[static TF_WG_PRIV_BYTES],
				  uint8_t pub[static TF_WG_PUB_MAX],
				  size_t *publen);

/* ---- the local identity ---- */

/* Our static key pair, the mac1/cookie keys derived from our public key
 * and the cookie secret (rotated every COOKIE_SECRET_MAX_AGE). */
struct tf_wg_static;

TF_EXPORT TF_WUR int
tf_wg_static_new(uint8_t suite, const uint8_t priv[static TF_WG_PRIV_BYTES],
		 struct tf_wg_static **out) TF_NONNULL(3);
TF_EXPORT void tf_wg_static_free(struct tf_wg_static *s);
TF_EXPORT uint8_t tf_wg_static_suite(const struct tf_wg_static *s);
/* Our public key; *len = 32 or 65. */
TF_EXPORT const uint8_t *tf_wg_static_pub(const struct tf_wg_static *s,
					  size_t *len);

/* ---- a peer (one per remote static key) ---- */

/* The remote public key, psk, the precomputed static-static DH, the
 * handshake in progress, the greatest TAI64N seen and the last cookie
 * received from it. Holds a pointer to `local`, which must outlive it. */
struct tf_wg_peer;

/* psk NULL = no pre-shared key (all zeros, as WireGuard). Fails with
 * -EINVAL when pub is not a valid key of local's suite or the static DH
 * is all zeros (a low-order point). */
TF_EXPORT TF_WUR int tf_wg_peer_new(struct tf_wg_static *local,
				    const uint8_t *pub, size_t publen,
				    const uint8_t *psk, struct tf_wg_peer **out)
	TF_NONNULL(1, 2, 5);
TF_EXPORT void tf_wg_peer_free(struct tf_wg_peer *p);
TF_EXPORT const uint8_t *tf_wg_peer_pub(const struct tf_wg_peer *p,
					size_t *len);
/* Forget the handshake in progress (wipes its ephemeral and hashes). */
TF_EXPORT void tf_wg_peer_clear_handshake(struct tf_wg_peer *p);

/* ---- handshake ---- */

/* TAI64N of CLOCK_REALTIME (the initiation's timestamp). */
TF_EXPORT void tf_wg_tai64n_now(uint8_t out[static TF_WG_TAI64N_BYTES]);

/* Initiator: write a handshake initiation to `out` (cap >= the suite's
 * INITIATION_BYTES) with sender index local_index, a fresh ephemeral, the
 * timestamp tai64n, mac1, and mac2 when a cookie from this peer is younger
 * than COOKIE_SECRET_MAX_AGE - REKEY_TIMEOUT. Returns the length. The
 * peer's handshake is now INITIATION_SENT (a previous one is replaced). */
TF_EXPORT TF_WUR int
tf_wg_create_initiation(struct tf_wg_peer *p, uint32_t local_index,
			const uint8_t tai64n[static TF_WG_TAI64N_BYTES],
			uint64_t now, uint8_t *out, size_t cap)
	TF_NONNULL(1, 5);

/* Responder, step 1: the parts of an initiation that need only our static
 * key. mac1 is checked (mac2 is the caller's business, tf_wg_check_mac2,
 * before this when under load), the initiator's static key is decrypted.
 * The result holds secrets: it is consumed (wiped) by
 * tf_wg_consume_initiation_finish, or must be wiped with
 * tf_wg_initiation_wipe. */
struct tf_wg_initiation {
	uint8_t suite;
	uint32_t sender_index;		 /* the initiator's index */
	uint8_t peer_pub[TF_WG_PUB_MAX]; /* the initiator's static key */
	size_t peer_pub_len;
	/* private to wg: the handshake state after the static key */
	uint8_t priv_ck[32], priv_h[32];
	uint8_t priv_e[TF_WG_PUB_MAX];
	uint8_t priv_ts[TF_WG_TAI64N_BYTES + TF_WG_TAG_BYTES];
	uint8_t priv_mac1[TF_WG_MAC_BYTES];
};

TF_EXPORT TF_WUR int tf_wg_consume_initiation(const struct tf_wg_static *local,
					      const uint8_t *msg, size_t len,
					      struct tf_wg_initiation *out)
	TF_NONNULL(1, 2, 4);

/* Responder, step 2: the caller looked peer_pub up and found p (a peer of
 * `local`). Decrypts and checks the timestamp (must be newer than the
 * last accepted from p: -EALREADY otherwise), enforces the flood limit
 * (INITIATIONS_PER_SECOND, -EALREADY), and on success stores the
 * handshake in p as INITIATION_CONSUMED and records the timestamp. Wipes
 * `in` in every case. */
TF_EXPORT TF_WUR int
tf_wg_consume_initiation_finish(struct tf_wg_peer *p,
				struct tf_wg_initiation *in, uint64_t now)
	TF_NONNULL(1, 2);
TF_EXPORT void tf_wg_initiation_wipe(struct tf_wg_initiation *in);

/* Responder: after consume_initiation_finish, write the response (sender
 * local_index, receiver = the initiator's index, mac1, mac2 when a cookie
 * is held). The handshake is then RESPONSE_SENT: call
 * tf_wg_keypair_derive. */
TF_EXPORT TF_WUR int tf_wg_create_response(struct tf_wg_peer *p,
					   uint32_t local_index, uint64_t now,
					   uint8_t *out, size_t cap)
	TF_NONNULL(1, 4);

/* Initiator: consume the response to our INITIATION_SENT handshake with p
 * (the caller found p by tf_wg_msg_index == our local_index). mac1 is
 * checked. On success the handshake is RESPONSE_CONSUMED: call
 * tf_wg_keypair_derive. On failure p's handshake is unchanged (a forged
 * response cannot kill a pending handshake). */
TF_EXPORT TF_WUR int tf_wg_consume_response(struct tf_wg_peer *p,
					    const uint8_t *msg, size_t len)
	TF_NONNULL(1, 2);

/* ---- sessions (transport keys) ---- */

struct tf_wg_keypair;

/* After create_response (responder) or consume_response (initiator):
 * derive the transport keys, wipe the handshake state, and return a new
 * keypair born at `now`. The responder must not send with it until it has
 * received a transport message with it (whitepaper 6.1; the engine keeps it
 * as "next" until then). */
TF_EXPORT TF_WUR int tf_wg_keypair_derive(struct tf_wg_peer *p, uint64_t now,
					  struct tf_wg_keypair **out)
	TF_NONNULL(1, 3);
TF_EXPORT void tf_wg_keypair_free(struct tf_wg_keypair *kp);

struct tf_wg_keypair_info {
	uint8_t suite;
	bool is_initiator;
	uint32_t local_index, remote_index;
	uint64_t birth;	       /* monotonic ns */
	uint64_t send_counter; /* next counter to be used */
};
TF_EXPORT void tf_wg_keypair_info(const struct tf_wg_keypair *kp,
				  struct tf_wg_keypair_info *info)
	TF_NONNULL(1, 2);

/* Encrypt one packet: out = header || AEAD(pt padded with zeros to a
 * multiple of TF_WG_PADDING, but not beyond max(len, mtu)) || tag.
 * len == 0 is a keepalive. pt may be out + TF_WG_TRANSPORT_HEADER_BYTES
 * (in place). cap must hold TF_WG_TRANSPORT_OVERHEAD + the padded length.
 * Returns the datagram's length; -ESTALE when the keypair is older than
 * REJECT_AFTER_TIME or its counter is exhausted. Thread-safe. */
TF_EXPORT TF_WUR int tf_wg_encrypt(struct tf_wg_keypair *kp, const uint8_t *pt,
				   size_t len, size_t mtu, uint64_t now,
				   uint8_t *out, size_t cap) TF_NONNULL(1, 6);

/* Decrypt one TRANSPORT datagram for kp (found by tf_wg_msg_index): checks
 * the age, authenticates, then the replay window (-EALREADY). Writes the
 * padded plaintext to out (may be msg + TF_WG_TRANSPORT_HEADER_BYTES, in
 * place) and returns its length (0 = keepalive); the caller reads the
 * packet's own length from its IP header. Thread-safe. */
TF_EXPORT TF_WUR int tf_wg_decrypt(struct tf_wg_keypair *kp, const uint8_t *msg,
				   size_t len, uint64_t now, uint8_t *out,
				   size_t cap) TF_NONNULL(1, 2, 5);

/* ---- mac2 and cookies (DoS protection, whitepaper 5.4.7) ---- */

/* Responder under load: 0 when msg (a classified INITIATION or RESPONSE
 * of local's suite) carries a valid mac2 for the cookie of src (ip ||
 * port); -EAGAIN when not (send tf_wg_cookie_reply_create); -EBADMSG when
 * even mac1 is wrong (drop). Not under load, call nothing: mac1 is checked
 * by consume_*. Rotates the cookie secret when older than 120 s. */
TF_EXPORT TF_WUR int
tf_wg_check_mac2(struct tf_wg_static *local, const uint8_t *msg, size_t len,
		 const struct sockaddr *src, socklen_t srclen, uint64_t now)
	TF_NONNULL(1, 2, 4);

/* Write the cookie reply to msg (same classified message as above) for
 * src. Returns its length. */
TF_EXPORT TF_WUR int tf_wg_cookie_reply_create(struct tf_wg_static *local,
					       const uint8_t *msg, size_t len,
					       const struct sockaddr *src,
					       socklen_t srclen, uint64_t now,
					       uint8_t *out, size_t cap)
	TF_NONNULL(1, 2, 4, 7);

/* Initiator: consume a COOKIE_REPLY from p (found by its receiver index,
 * which is the local index of our last initiation or response to p).
 * Authenticated against the mac1 we last sent p. On success the cookie is
 * kept and the next message to p carries mac2 (the caller retransmits
 * after REKEY_TIMEOUT as usual). */
TF_EXPORT TF_WUR int tf_wg_cookie_reply_consume(struct tf_wg_peer *p,
						const uint8_t *msg, size_t len,
						uint64_t now) TF_NONNULL(1, 2);

/* ---- timers: what should the peer do now? (pure) ---- */

/* The engine's per-peer record of events, CLOCK_MONOTONIC ns, 0 = never.
 * The engine updates it as things happen; tf_wg_timers_due only reads it. */
struct tf_wg_timers {
	uint64_t session_birth;	    /* current keypair's birth; 0 = none */
	bool session_initiator;	    /* we initiated the current keypair */
	uint64_t session_sent;	    /* its send counter */
	bool handshaking;	    /* an attempt is in progress: set when the
				       first initiation is sent, cleared when
				       a session is made or on GIVE_UP */
	uint64_t handshake_started; /* first initiation of this attempt */
	uint64_t handshake_sent;    /* last initiation sent (kept after the
				       attempt ends) */
	uint64_t last_session;	    /* last keypair established (any) */
	uint64_t last_tx;	    /* last authenticated packet sent */
	uint64_t last_rx;	    /* last authenticated packet received,
				       handshake messages included */
	uint64_t last_tx_data;	    /* last non-keepalive sent */
	uint64_t last_rx_data;	    /* last non-keepalive received */
	uint64_t reserved;
	uint32_t persistent_keepalive; /* s, 0 = off */
	uint32_t jitter_ms;	       /* 0..333, fresh random per retransmit */
	bool pending;	/* packets queued waiting for a session */
	bool initiator; /* this side may send initiations (the device;
			       a gateway waits for its devices) */
};

/* tf_wg_timers_due result bits */
#define TF_WG_DO_INITIATE 0x01u	 /* send (or retransmit) an initiation */
#define TF_WG_DO_KEEPALIVE 0x02u /* send an empty transport packet */
#define TF_WG_DO_GIVE_UP                                                       \
	0x04u		      /* REKEY_ATTEMPT_TIME passed: stop
				    retrying, drop queued packets */
#define TF_WG_DO_EXPIRE 0x08u /* current keypair too old to use */
#define TF_WG_DO_WIPE                                                          \
	0x10u /* 3 * REJECT_AFTER_TIME without a new
				    session: free every keypair and the
				    handshake */

/* The actions due at `now` (TF_WG_DO_* bits) and, in *next, the earliest
 * time something may become due (UINT64_MAX = nothing pending). Pure: it
 * reads t only; the caller acts and records the events. */
TF_EXPORT unsigned tf_wg_timers_due(const struct tf_wg_timers *t, uint64_t now,
				    uint64_t *next) TF_NONNULL(1, 3);

#endif
