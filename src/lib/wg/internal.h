/* SPDX-License-Identifier: ISC */
/*
 * Private to src/lib/wg: the per-suite primitives of the Noise
 * construction, the object layouts and the replay window. Tests include it
 * to reach the replay window and the deterministic-ephemeral hook.
 */
#ifndef TWOFOLD_WG_INTERNAL_H
#define TWOFOLD_WG_INTERNAL_H

#include <stdatomic.h>

#include "twofold/wg.h"

#define WG_HASH_BYTES 32 /* BLAKE2s-256 / SM3 */
#define WG_KEY_BYTES 32	 /* KDF outputs; SM4 uses the first 16 */
#define WG_NONCE_BYTES 12
#define WG_XNONCE_BYTES 24    /* intl cookie reply (XChaCha20) */
#define WG_GM_CNONCE_BYTES 12 /* gm cookie reply (SM4-GCM, random) */

/* One suite's Noise primitives (whitepaper 5.4). */
struct wg_suite {
	uint8_t id;
	size_t pub_bytes;
	size_t cookie_nonce_bytes;
	uint32_t type_base; /* 0 (intl: 1..4) or 0x10 (gm: 0x11..0x14) */
	size_t init_bytes, resp_bytes, cookie_bytes;
	const char *construction, *identifier;
	/* out = HASH(p0 || p1) (p1 may be NULL) */
	int (*hash)(uint8_t out[WG_HASH_BYTES], const void *p0, size_t n0,
		    const void *p1, size_t n1);
	/* out = HMAC(key, p0 || p1), 32 bytes */
	int (*hmac)(uint8_t out[WG_HASH_BYTES], const uint8_t *key,
		    size_t keylen, const void *p0, size_t n0, const void *p1,
		    size_t n1);
	/* out = MAC(key, m), 16 bytes (keyed BLAKE2s-128 / HMAC-SM3[0:16]) */
	int (*mac)(uint8_t out[TF_WG_MAC_BYTES], const uint8_t *key,
		   size_t keylen, const uint8_t *m, size_t mlen);
	/* AEAD with a 64-bit counter nonce (4 zero bytes || LE64):
	 * c = m's length + 16 (tag appended) */
	int (*aead_seal)(uint8_t *c, const uint8_t key[WG_KEY_BYTES],
			 uint64_t counter, const uint8_t *m, size_t mlen,
			 const uint8_t *ad, size_t adlen);
	int (*aead_open)(uint8_t *m, const uint8_t key[WG_KEY_BYTES],
			 uint64_t counter, const uint8_t *c, size_t clen,
			 const uint8_t *ad, size_t adlen);
	/* cookie AEAD with the suite's random nonce */
	int (*caead_seal)(uint8_t *c, const uint8_t key[WG_KEY_BYTES],
			  const uint8_t *nonce, const uint8_t *m, size_t mlen,
			  const uint8_t *ad, size_t adlen);
	int (*caead_open)(uint8_t *m, const uint8_t key[WG_KEY_BYTES],
			  const uint8_t *nonce, const uint8_t *c, size_t clen,
			  const uint8_t *ad, size_t adlen);
	/* out = DH(priv, pub); -EINVAL for an invalid point or an all-zero
	 * result (low order) */
	int (*dh)(uint8_t out[32], const uint8_t priv[TF_WG_PRIV_BYTES],
		  const uint8_t *pub);
	int (*keygen)(uint8_t priv[TF_WG_PRIV_BYTES], uint8_t *pub);
	int (*pubkey)(const uint8_t priv[TF_WG_PRIV_BYTES], uint8_t *pub);
};

extern const struct wg_suite wg_suite_intl;
extern const struct wg_suite wg_suite_gm;
const struct wg_suite *wg_suite_get(uint8_t id);

/* gm transport context: libgcrypt's cipher handles are not thread-safe,
 * so each keypair direction has a few, each taken with a try-lock. */
#define WG_GM_SLOTS 8

struct wg_gcm_slot {
	atomic_flag busy;
	void *h; /* gcry_cipher_hd_t, opened on first use */
};

/* RFC 6479 replay window, as the kernel's noise counter: 8192 bits in a
 * ring of 64-bit words, so the window is 8192 - 64 counters. */
#define WG_REPLAY_BITS 8192u
#define WG_REPLAY_WORDS (WG_REPLAY_BITS / 64u)
#define WG_REPLAY_WINDOW (WG_REPLAY_BITS - 64u)

struct wg_replay {
	atomic_flag lock;
	uint64_t greatest; /* greatest counter accepted + 1; 0 = none */
	uint64_t bitmap[WG_REPLAY_WORDS];
};

void wg_replay_init(struct wg_replay *r);
/* true when counter is new and inside the window; marks it seen. */
bool wg_replay_check(struct wg_replay *r, uint64_t counter);

enum wg_hs_state {
	WG_HS_NONE = 0,
	WG_HS_INITIATION_SENT,	   /* initiator */
	WG_HS_INITIATION_CONSUMED, /* responder */
	WG_HS_RESPONSE_SENT,	   /* responder, keys ready */
	WG_HS_RESPONSE_CONSUMED,   /* initiator, keys ready */
};

struct tf_wg_static {
	const struct wg_suite *s;
	uint8_t priv[TF_WG_PRIV_BYTES];
	uint8_t pub[TF_WG_PUB_MAX];
	/* HASH(LABEL_MAC1 || our pub): checks mac1 of messages to us */
	uint8_t mac1_key[WG_HASH_BYTES];
	/* HASH(LABEL_COOKIE || our pub): seals our cookie replies */
	uint8_t cookie_key[WG_HASH_BYTES];
	/* the responder's cookie secret, random, rotated every 120 s */
	bool secret_valid;
	uint64_t secret_birth;
	uint8_t secret[32];
};

struct tf_wg_peer {
	const struct wg_suite *s;
	struct tf_wg_static *local;
	uint8_t pub[TF_WG_PUB_MAX];
	uint8_t psk[TF_WG_PSK_BYTES];
	uint8_t ss[32]; /* DH(our static, their static), precomputed */
	uint8_t mac1_key[WG_HASH_BYTES];   /* HASH(LABEL_MAC1 || their pub) */
	uint8_t cookie_key[WG_HASH_BYTES]; /* HASH(LABEL_COOKIE || their pub) */
	/* replay and flood protection of their initiations */
	uint8_t last_ts[TF_WG_TAI64N_BYTES];
	uint64_t last_init_consumed; /* 0 = never */
	/* the last cookie they sent us, for mac2 */
	bool has_cookie;
	uint64_t cookie_birth;
	uint8_t cookie[TF_WG_MAC_BYTES];
	/* the mac1 of our last initiation/response: AD of their cookie reply */
	bool has_last_mac1;
	uint32_t last_mac1_index;
	uint8_t last_mac1[TF_WG_MAC_BYTES];
	/* the handshake in progress */
	enum wg_hs_state state;
	uint32_t local_index, remote_index;
	uint8_t e_priv[TF_WG_PRIV_BYTES];
	uint8_t e_pub[TF_WG_PUB_MAX];  /* ours */
	uint8_t re_pub[TF_WG_PUB_MAX]; /* theirs */
	uint8_t ck[WG_HASH_BYTES], h[WG_HASH_BYTES];
	/* tests only: the next ephemeral (known-answer vectors) */
	bool fixed_e;
	uint8_t fixed_e_priv[TF_WG_PRIV_BYTES];
};

struct tf_wg_keypair {
	const struct wg_suite *s;
	bool is_initiator;
	uint32_t local_index, remote_index;
	uint64_t birth;
	_Atomic uint64_t send_counter;
	uint8_t send_key[WG_KEY_BYTES];
	uint8_t recv_key[WG_KEY_BYTES];
	struct wg_replay replay;
	struct wg_gcm_slot send_slot[WG_GM_SLOTS];
	struct wg_gcm_slot recv_slot[WG_GM_SLOTS];
};

/* Tests only: the next create_initiation/create_response of p uses this
 * ephemeral private key instead of a random one (once). */
TF_EXPORT void tf_wg_test_fix_ephemeral(struct tf_wg_peer *p,
					const uint8_t priv[TF_WG_PRIV_BYTES]);
/* Tests only: set the keypair's next send counter. */
TF_EXPORT void tf_wg_test_set_send_counter(struct tf_wg_keypair *kp,
					   uint64_t counter);

/* The gm transport AEAD with a keypair's slot handles. */
int wg_gm_transport_seal(struct wg_gcm_slot *slots, const uint8_t *key,
			 uint64_t counter, uint8_t *c, const uint8_t *m,
			 size_t mlen);
int wg_gm_transport_open(struct wg_gcm_slot *slots, const uint8_t *key,
			 uint64_t counter, uint8_t *m, const uint8_t *c,
			 size_t clen);
void wg_gm_slots_close(struct wg_gcm_slot *slots);

#endif
