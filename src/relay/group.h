/* SPDX-License-Identifier: ISC */
/*
 * Talk groups on the relay that owns them (issue 15, docs/comms-protocol.md
 * "Talk groups on the relay"): which sessions are online members of which
 * group (from the signed roster the members registered), the group's
 * floor (floor.h), and the fan-out of a talker's SFrame frames. The relay
 * only routes: it never holds an epoch secret, so it opens nothing.
 *
 * No I/O: everything to send goes through the send callback, with the
 * relay's session id, so relay.c owns the sockets and this file can be
 * driven by a test. Call every function under the lock that guards the
 * groups (relay.c is single-threaded today).
 *
 * Requests (device -> relay), payloads of the channel's DATA:
 *   0x30 JOIN    u32 total | u32 offset | a piece of the roster, in
 *                order from offset 0 (a roster of 1024 members is ~100
 *                KiB, a datagram 1400 bytes)  -> after the last, 0x31 STATE
 *                From a member: joins it (it must be in the roster).
 *                From the group authority (its certificate's role): only
 *                publishes a newer roster, so a removal takes effect on
 *                the relay at once, before members hear of it.
 *   0x32 FLOOR_REQ u8 n | group | u8 priority | u8 flags (1 emergency)
 *   0x33 FLOOR_REL u8 n | group | u32 burst (0: any)
 *   0x35 MEDIA   u8 n | group | u32 burst | SFrame frame
 *   0x37 LEAVE   u8 n | group
 *   0x38 ROSTER_GET u8 n | group             -> 0x39 ROSTER pieces
 *   0x3a JOIN_EPOCH u8 n | group | u64 epoch -> 0x31 STATE: join by the
 *                roster the relay holds, if it is that epoch
 * Relay -> device:
 *   0x31 STATE   u8 n | group | u64 epoch | u8 taken | u32 burst
 *                | u8 emergency | u64 kid (0: none yet) | u8 n | talker
 *                (n 0 when idle): the late-entry answer to JOIN
 *   0x34 FLOOR   u8 n | group | u8 event | u8 reason | u8 emergency
 *                | u16 position | u32 burst | u8 n | member (0 for idle)
 *   0x36 FRAME   u8 n | group | u8 n | talker | u32 burst | SFrame frame
 *   0x39 ROSTER  u8 n | group | u32 total | u32 offset | piece
 *   0x7f ERROR   as relay.c's
 */
#ifndef TWOFOLD_RELAY_GROUP_H
#define TWOFOLD_RELAY_GROUP_H

#include "floor.h"
#include "twofold/roster.h"

enum {
	RELAY_OP_JOIN = 0x30,
	RELAY_OP_STATE = 0x31,
	RELAY_OP_FLOOR_REQ = 0x32,
	RELAY_OP_FLOOR_REL = 0x33,
	RELAY_OP_FLOOR = 0x34,
	RELAY_OP_MEDIA = 0x35,
	RELAY_OP_FRAME = 0x36,
	RELAY_OP_LEAVE = 0x37,
	RELAY_OP_ROSTER_GET = 0x38,
	RELAY_OP_ROSTER = 0x39,
	RELAY_OP_JOIN_EPOCH = 0x3a,
};

#define RELAY_GROUPS_MAX 64
/* After a new roster (epoch) is installed, how long the talker's frames
 * under the previous epoch, with its index in the previous roster, are
 * still fanned out (they were sealed before its key message came). The
 * relay's window starts at the roster upload, the members' (PTT_GRACE_MS,
 * 1 s, src/comms/wire.h) when their key message arrives, which goes
 * through the store and took up to ~3 s under CI's disk load; members
 * hold newer-epoch frames up to 5 s (PTT_HOLD). A 1 s relay window
 * dropped a late talker's frames (comms_groupd_serve, a burst across
 * re-signs). 6 s covers the hold and the grace. Safe: only the talker's
 * own previous key id, and only to members of the roster in force, so a
 * removed member gets none of them. */
#define RELAY_GROUP_GRACE_MS 6000

/* What the relay knows of a session: from its verified certificate. */
struct relay_member {
	uint32_t sess;
	const char *officer;
	uint8_t device[TF_ROSTER_DEVHASH_BYTES];
	uint8_t role; /* its certificate's */
};

typedef void (*relay_send_fn)(void *ctx, uint32_t sess, const uint8_t *pt,
			      size_t n);
/* Session ids with this bit are members on another relay (gnats.c maps
 * them); local ids never have it (relay.c). */
#define RELAY_VSESS 0x80000000u
/* pt for every member of group on other relays, except the one with
 * session id except (0: none) */
typedef void (*relay_fan_fn)(void *ctx, const char *group, const uint8_t *pt,
			     size_t n, uint32_t except);

struct relay_groups;

TF_WUR int relay_groups_new(const struct tf_cert_anchor *ca,
			    const struct tf_floor_cfg *floor,
			    relay_send_fn send, void *ctx,
			    struct relay_groups **out) TF_NONNULL(1, 2, 3, 5);
void relay_groups_free(struct relay_groups *g);
/* The deny-list the relay holds now (NULL: none). */
void relay_groups_set_denylist(struct relay_groups *g,
			       const struct tf_denylist *dl) TF_NONNULL(1);

/* One request with op 0x30..0x3f (pt[0]); now_s Unix seconds (roster
 * validity), now_ms a monotonic clock (the floor). Replies and fan-out
 * go through send. Returns 0, or -EBADMSG/-EOPNOTSUPP after sending the
 * device an ERROR (relay.c sends it for -EBADMSG), or -ESTALE for a MEDIA
 * frame of the talker's previous epoch after its grace window or of an
 * older one: dropped, nothing sent (the talker is waiting for its new
 * key and can do nothing about it). */
int relay_groups_request(struct relay_groups *g, const struct relay_member *m,
			 const uint8_t *pt, size_t n, uint64_t now_s,
			 uint64_t now_ms) TF_NONNULL(1, 2, 3);
/* The session is gone (a new handshake replaced it). */
void relay_groups_sess_gone(struct relay_groups *g, uint32_t sess,
			    uint64_t now_ms) TF_NONNULL(1);
/* The floors' clocks: run at relay_groups_deadline (ms, UINT64_MAX:
 * nothing pending) or later. */
void relay_groups_tick(struct relay_groups *g, uint64_t now_ms) TF_NONNULL(1);
uint64_t relay_groups_deadline(const struct relay_groups *g) TF_NONNULL(1);

/* Across relays (gnats.c; all under the same lock). */
void relay_groups_set_fan(struct relay_groups *g, relay_fan_fn fan)
	TF_NONNULL(1);
/* A JOIN piece (pt after the op byte): 1 with the whole roster in *wire
 * (the caller's to free), 0 while more are due, < 0 after telling sess
 * the upload failed. */
int relay_groups_upload(struct relay_groups *g, uint32_t sess, const uint8_t *p,
			size_t n, uint8_t **wire, size_t *len) TF_NONNULL(1);
/* A whole roster from m (verified again here: this relay's verdict is
 * final); takes *wire when it keeps it. */
void relay_groups_join(struct relay_groups *g, const struct relay_member *m,
		       uint8_t **wire, size_t n, uint64_t now_s,
		       uint64_t now_ms) TF_NONNULL(1, 2, 3);
/* The epoch of group id here (0: none) and its roster as signed. */
uint64_t relay_groups_epoch(const struct relay_groups *g, const char *id,
			    const uint8_t **wire, size_t *len) TF_NONNULL(1, 2);
/* Slot i's group id, NULL when free (i < RELAY_GROUPS_MAX). */
const char *relay_groups_id(const struct relay_groups *g, size_t i)
	TF_NONNULL(1);
/* tf_roster_verify with the relay's CA and deny-list. */
int relay_groups_verify(const struct relay_groups *g, const uint8_t *wire,
			size_t n, uint64_t now_s, struct tf_roster **out)
	TF_NONNULL(1, 2, 5);
/* tf_floor_hold on group id's floor. */
int relay_groups_hold(struct relay_groups *g, const char *id, uint64_t now_ms,
		      uint64_t until_ms) TF_NONNULL(1, 2);
/* Forget group id (another relay owns it now): its talker is revoked
 * and its queue denied with TF_FLOOR_R_MOVED first. */
void relay_groups_drop(struct relay_groups *g, const char *id, uint64_t now_ms)
	TF_NONNULL(1, 2);

#endif
