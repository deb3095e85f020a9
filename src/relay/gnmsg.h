/* SPDX-License-Identifier: ISC */
/*
 * The messages relays exchange over NATS for talk groups (gnats.c,
 * docs/comms-protocol.md "Talk groups across relays"). Pure encode and
 * parse, fuzzed (fuzz/fuzz_relay_gnats.c): a NATS payload is untrusted
 * input (anyone who can publish on the bus can send one).
 *
 * Every message: u8 version (1) | u8 kind | u64 from (the sender's node
 * id), then by kind:
 *   HELLO    (twofold.relay.hello)      nothing
 *   SYNC     (twofold.relay.hello)      nothing: the sender's view just
 *            changed; send it the members of the groups it owns
 *   REQ      (twofold.g.HEX(gid).own)   member | the device's request
 *   JOIN     (.own)                     member | the roster as signed
 *   GONE     (.own)                     member (the session left)
 *   HANDOVER (.own)                     nothing: the sender owned the
 *            group, no longer does, and its floor is idle from now
 *   FAN      (twofold.g.HEX(gid).fan)   u64 except node | u32 except
 *            session | a plaintext for every member (FLOOR, FRAME)
 *   ROSTER   (.fan)                     the roster as signed (a newer
 *            epoch the owner took)
 *   TO       (twofold.n.HEX(node))      u32 session | a plaintext for
 *            that one session (STATE, FLOOR, ROSTER, ERROR)
 *   ASK      (.own)                     u32 ask id: the sender took the
 *            group over without a HANDOVER; what did you see on .fan?
 *   SAW      (twofold.n.HEX(asker))     u32 ask id | u8 state | u32
 *            watched ms | u32 granted ms ago | u32 lease ms | u8 n |
 *            group id: the answer (gnats.c "Learning the floor")
 * member = u32 session | u8 role | device hash | u8 n | officer id
 */
#ifndef TWOFOLD_RELAY_GNMSG_H
#define TWOFOLD_RELAY_GNMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/roster.h"

#define GN_VERSION 1
enum {
	GN_HELLO = 1,
	GN_REQ = 2,
	GN_JOIN = 3,
	GN_GONE = 4,
	GN_HANDOVER = 5,
	GN_FAN = 6,
	GN_ROSTER = 7,
	GN_TO = 8,
	GN_SYNC = 9,
	GN_ASK = 10,
	GN_SAW = 11,
};
/* SAW states: what the answering relay last saw on the group's .fan */
enum {
	GN_SAW_NONE = 0,  /* no member of the group on this relay */
	GN_SAW_IDLE = 1,  /* the floor idle (for watched ms at least) */
	GN_SAW_TAKEN = 2, /* granted ago ms ago, not released since */
};
#define GN_SAW_FIXED (4 + 1 + 4 + 4 + 4)
#define GN_HDR 10
#define GN_MEMBER_MAX (4 + 1 + TF_ROSTER_DEVHASH_BYTES + 1 + TF_CERT_ID_MAX)

struct gn_msg {
	uint8_t kind;
	uint64_t from;
	/* REQ, JOIN, GONE; TO (sess only) */
	uint32_t sess;
	uint8_t role;
	uint8_t device[TF_ROSTER_DEVHASH_BYTES];
	char officer[TF_CERT_ID_MAX + 1];
	/* FAN */
	uint64_t except_node;
	uint32_t except_sess;
	/* ASK, SAW */
	uint32_t ask;
	/* SAW */
	uint8_t state;
	uint32_t watched_ms, ago_ms, lease_ms;
	char gid[TF_CERT_ID_MAX + 1];
	/* what follows (inside the parsed buffer) */
	const uint8_t *body;
	size_t body_len;
};

/* 0, or -EBADMSG (unknown version or kind, truncated, a bad officer or
 * group id, an unknown SAW state, trailing bytes where none belong). */
int gn_parse(const uint8_t *p, size_t n, struct gn_msg *m);
/* The header and the kind's fixed fields of m into out (room for
 * GN_HDR + GN_MEMBER_MAX + 12); returns the length; the body follows. */
size_t gn_put_head(const struct gn_msg *m, uint8_t *out);

#endif
