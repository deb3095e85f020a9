/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay's INIT timestamp table (seen.c): the newest INIT timestamp
 * per certificate serial, so a recorded INIT (Noise IK's message 1 is
 * replayable by design) is refused. Bounded: when full it evicts the
 * oldest timestamps, and remembers the newest one it evicted (the floor)
 * so an evicted device's recorded INIT is still refused. INITs older than
 * a window behind the relay's clock are refused outright, which also
 * covers a relay restart (the table lives in memory): a recording older
 * than the window replays nowhere.
 *
 * Not thread-safe: the caller serialises (relay.c holds seen_mu).
 */
#ifndef TWOFOLD_RELAY_SEEN_H
#define TWOFOLD_RELAY_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/common.h"

#define RELAY_SEEN_WINDOW_NS (600ull * 1000000000ull) /* 10 minutes */

struct relay_seen_ent {
	uint64_t serial, ts;
	int32_t next; /* bucket chain, or the free list */
};

struct relay_seen {
	struct relay_seen_ent *ent;
	int32_t *bucket;
	size_t cap, nbucket, n;
	int32_t free_head;
	uint64_t floor; /* the newest timestamp evicted */
	uint64_t window_ns;
};

/* cap entries (≥ 1). 0 or -ENOMEM. */
TF_WUR int relay_seen_init(struct relay_seen *t, size_t cap) TF_NONNULL(1);
void relay_seen_free(struct relay_seen *t);
/* true (and ts recorded) when an INIT of serial stamped ts may be
 * accepted at now_ns (CLOCK_REALTIME); false for a replay or a stamp
 * older than the window or the floor. */
bool relay_seen_fresh(struct relay_seen *t, uint64_t serial, uint64_t ts,
		      uint64_t now_ns) TF_NONNULL(1);

#endif
