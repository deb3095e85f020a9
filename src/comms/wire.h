/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' pieces that need no service state, so the fuzz targets
 * and unit tests call them without a socket: names and hex, the parsers
 * of the relay's talk-group replies and of the authority's key message
 * (fuzz/fuzz_ptt.c), and the previous epoch's talker key kept for a grace
 * window across a rekey (tests/unit/comms/test_pttgrace.c). Every parser
 * is bounded by the length it is given and fills *out only on success.
 * The formats are docs/comms-protocol.md "Talk groups".
 */
#ifndef TWOFOLD_COMMS_WIRE_H
#define TWOFOLD_COMMS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/comms.h" /* TF_COMMS_ADDR_MAX, TF_COMMS_DEVICES_MAX */
#include "twofold/roster.h"

int comms_unhex(const char *h, uint8_t *out, size_t n);
/* an officer id as certificates allow it: safe as a file name */
bool comms_officer_ok(const char *n);
/* u8 n | name, checked with comms_officer_ok: bytes used, 0 if malformed */
size_t comms_get_name(const uint8_t *p, size_t n, char *out);

/* Several devices per officer (docs/comms-protocol.md "Several devices per officer"): an
 * address is `officer` or `officer/device`, both halves in the
 * certificate alphabet (so '/' appears only as the separator and both
 * halves are safe file names). */

/* Split addr into officer and device ("" for a bare officer); false (and
 * nothing written) when either half is not a certificate id. */
bool comms_addr_split(const char *addr, char officer[static TF_CERT_ID_MAX + 1],
		      char device[static TF_CERT_ID_MAX + 1]);
bool comms_addr_ok(const char *addr);
/* true for `officer/device`, false for a bare officer or garbage */
bool comms_addr_full(const char *addr);
/* u8 n | address, checked with comms_addr_split: bytes used, 0 if
 * malformed; out holds TF_COMMS_ADDR_MAX + 1 */
size_t comms_get_addr(const uint8_t *p, size_t n, char *out);

/* DEVICES reply body: u8 n | officer | u8 count | count x (u8 n | device),
 * 1 <= count <= TF_COMMS_DEVICES_MAX, devices strictly ascending (the
 * relay sorts them; a repeat would be one device sealed to twice) */
struct comms_devices {
	char officer[TF_CERT_ID_MAX + 1];
	size_t count;
	char dev[TF_COMMS_DEVICES_MAX][TF_CERT_ID_MAX + 1];
};
int comms_parse_devices(const uint8_t *p, size_t n, struct comms_devices *out);

/* ERROR body (after the 0x7f): u8 code | text | [0x00 | u8 op | u8 n |
 * address | id(16) when op is SEND]: the request it answers, from a
 * relay that names it (SEND, BUNDLE_GET, DEVICES; docs/comms-protocol.md
 * ERROR). op 0: none named (an older relay, or another request).
 * -EBADMSG for a malformed tail (op unknown, a bad address, an id
 * missing or extra bytes); *out untouched then. */
#define COMMS_MSGID_BYTES 16
struct comms_error {
	uint8_t code;
	const uint8_t *text; /* inside the input, no NUL in it */
	size_t textlen;
	uint8_t op;
	char name[TF_COMMS_ADDR_MAX + 1];
	bool has_id;
	uint8_t id[COMMS_MSGID_BYTES];
};
int comms_parse_error(const uint8_t *p, size_t n, struct comms_error *out);

struct tf_cert;
struct tf_cert_anchor;
struct tf_denylist;
/* A peer device's certificate as the relay handed it for `officer/device`:
 * CA, validity at now, a client role (or, with e2e, the group authority
 * too), the deny-list, and that it names that officer AND that device (a
 * hostile relay must not slip its own device in under a real officer, nor
 * one officer's device under another's address). -EKEYREJECTED for the
 * wrong officer, -EXDEV for the wrong device, else tf_cert_verify's
 * error. device "" checks the officer only. */
struct tf_e2e_bundle;
/* The same for a prekey bundle the relay handed out for officer/device
 * (tf_e2e_bundle_verify: also the signed prekey's signature), then the
 * device: -EXDEV when its certificate names another. */
int comms_bundle_check(const struct tf_e2e_bundle *b,
		       const struct tf_cert_anchor *ca, uint64_t now,
		       const struct tf_denylist *dl, const char *officer,
		       const char *device, struct tf_cert *out);
int comms_cert_check(const uint8_t *cert, size_t len,
		     const struct tf_cert_anchor *ca, uint64_t now, bool e2e,
		     const struct tf_denylist *dl, const char *officer,
		     const char *device, struct tf_cert *out);

/* ROSTER: u8 n | group | u32 total | u32 offset | bytes */
struct ptt_piece {
	char group[TF_CERT_ID_MAX + 1];
	size_t total, off, len; /* 0 < total <= TF_ROSTER_WIRE_MAX,
				   off + len <= total */
	const uint8_t *data;	/* inside the input */
};
int ptt_parse_piece(const uint8_t *p, size_t n, struct ptt_piece *out);

/* STATE: u8 n | group | u64 epoch | u8 taken | u32 burst | u8 emergency
 *        | u64 kid | u8 n | talker (0: none) */
struct ptt_state {
	char group[TF_CERT_ID_MAX + 1], talker[TF_CERT_ID_MAX + 1];
	uint64_t epoch, kid;
	uint32_t burst;
	bool taken, emergency;
};
int ptt_parse_state(const uint8_t *p, size_t n, struct ptt_state *out);

/* FLOOR: u8 n | group | u8 type | u8 reason | u8 emergency | u16 position
 *        | u32 burst | u8 n | member (0: none) */
struct ptt_floor {
	char group[TF_CERT_ID_MAX + 1], who[TF_CERT_ID_MAX + 1];
	uint8_t type, reason;
	bool emergency;
	uint16_t position;
	uint32_t burst;
};
int ptt_parse_floor(const uint8_t *p, size_t n, struct ptt_floor *out);

/* FRAME: u8 n | group | u8 n | talker | u32 burst | SFrame frame */
struct ptt_frame {
	char group[TF_CERT_ID_MAX + 1], who[TF_CERT_ID_MAX + 1];
	uint32_t burst;
	const uint8_t *sf; /* inside the input */
	size_t sflen;
};
int ptt_parse_frame(const uint8_t *p, size_t n, struct ptt_frame *out);

/* "twofold-group-key v1 GROUP EPOCH HASH SECRET" (hex), text[0..n) not
 * necessarily NUL-terminated. -ENOENT: not a key message (another text);
 * -EBADMSG: a malformed one. secret is key material: the caller keeps it
 * in secure memory and wipes it; it is wiped here on an error. */
#define PTT_KEYMSG_PREFIX "twofold-group-key v1 "
struct ptt_keymsg {
	char group[TF_CERT_ID_MAX + 1];
	uint64_t epoch;
	uint8_t hash[TF_HASH_BYTES];
};
int ptt_parse_keymsg(const char *text, size_t n, struct ptt_keymsg *out,
		     uint8_t secret[static TF_GROUP_SECRET_BYTES]);

/* The epoch before the one in force, for PTT_GRACE_MS after the switch:
 * frames its talkers sent before they switched are still in flight (on
 * the relay, in the network) and would otherwise be a clipped word for
 * every member at each join and leave. Only a device that held that
 * epoch's secret keeps it (a joiner never had it), and it goes (wiped)
 * when the window ends, so a frame of the old epoch replayed later is
 * refused. The epoch in force is untouched by this: a removed member
 * still never gets the new secret. The relay forwards the talker's
 * previous-epoch frames for the same window (RELAY_GROUP_GRACE_MS,
 * src/relay/group.h): change both together. */
#define PTT_GRACE_MS 1000
struct ptt_grace {
	uint64_t epoch;	   /* 0: none */
	uint8_t *secret;   /* secure memory */
	uint64_t until_ms; /* monotonic */
};
/* Keep (a copy of) the secret of epoch, the one just replaced, until
 * now_ms + PTT_GRACE_MS; replaces a grace key held before. -ENOMEM. */
int ptt_grace_keep(struct ptt_grace *g, uint64_t epoch,
		   const uint8_t secret[static TF_GROUP_SECRET_BYTES],
		   uint64_t now_ms);
/* The secret for a frame of epoch, or NULL (not the previous epoch, or
 * its window is over: then it is wiped). */
const uint8_t *ptt_grace_get(struct ptt_grace *g, uint64_t epoch,
			     uint64_t now_ms);
/* Wipe the key once its window is over (the poll loop calls it, so it
 * does not linger in memory until the next frame). */
void ptt_grace_tick(struct ptt_grace *g, uint64_t now_ms);
void ptt_grace_wipe(struct ptt_grace *g);

/* Open one SFrame frame of group under the talker key its key id names:
 * of (epoch, secret), the epoch in force (secret NULL: none held), or of
 * the grace epoch in prev. Returns the plaintext length (*ctr: the
 * frame's counter); -ENOKEY when no key of the frame's epoch is held (an
 * older epoch, or the grace window over); -EAGAIN for a newer epoch than
 * the one in force (its key message may still be on its way: the caller
 * may hold the frame, struct ptt_hold); -EBADMSG when it does not open
 * (forged, damaged, another key). */
int ptt_open_frame(const struct tf_suite *s, const char *group, uint64_t epoch,
		   const uint8_t *secret, struct ptt_grace *prev,
		   const uint8_t *sf, size_t sflen, uint64_t now_ms,
		   uint8_t *pt, size_t cap, uint64_t *ctr);

/* Frames of a newer epoch than the one in force, held (ciphertext only)
 * for PTT_HOLD_MS until its key message arrives: the talker may switch
 * before this member's key message comes (the relay delivers end-to-end
 * messages after a durable commit: seconds on a busy disk), and without
 * this the member would lose everything said in between. Bounded: at
 * most PTT_HOLD_FRAMES (the oldest goes first), so a relay flooding
 * frames of made-up epochs costs a fixed amount of memory and nothing is
 * ever opened without the key. */
#define PTT_HOLD_MS 5000
#define PTT_HOLD_FRAMES 256 /* 5.1 s of 20 ms frames */
#define PTT_HELD_BYTES 128  /* an SFrame frame of one 60-byte Opus packet */
struct ptt_held {
	uint64_t at_ms;
	uint32_t burst;
	uint16_t n;
	uint8_t b[PTT_HELD_BYTES];
};
struct ptt_hold {
	struct ptt_held *f; /* PTT_HOLD_FRAMES, malloc'ed on first use */
	size_t head, count;
};
/* -EMSGSIZE (too big to be one of ours), -ENOMEM; 0 */
int ptt_hold_put(struct ptt_hold *h, uint32_t burst, const uint8_t *sf,
		 size_t n, uint64_t at_ms);
/* The oldest held frame not yet past PTT_HOLD_MS at now_ms (older ones
 * are dropped), removed from h; false when none is left. */
bool ptt_hold_next(struct ptt_hold *h, uint64_t now_ms, struct ptt_held *out);
void ptt_hold_free(struct ptt_hold *h);

/* What twofold-comms does with one frame of burst: ptt_open_frame; one of
 * a newer epoch goes into hold (returns 0: held); a frame that opens
 * under the epoch in force ends the grace window at once (the talker has
 * switched: the previous key has nothing left to open but stragglers,
 * and while it lives a removed member colluding with the relay could
 * forge frames under it). Returns the plaintext length, 0 when held, or
 * ptt_open_frame's error (-ENOMEM, -EMSGSIZE: could not hold). */
int ptt_rx_frame(const struct tf_suite *s, const char *group, uint64_t epoch,
		 const uint8_t *secret, struct ptt_grace *prev,
		 struct ptt_hold *hold, uint32_t burst, const uint8_t *sf,
		 size_t sflen, uint64_t now_ms, uint8_t *pt, size_t cap,
		 uint64_t *ctr);

#endif
