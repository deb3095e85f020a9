/* SPDX-License-Identifier: ISC */
/*
 * The call receiver's jitter buffer (jitter.c; docs/comms.md "Calls").
 * Pure: no I/O, no decoding, the clock is passed in (µs, monotonic).
 *
 * Frames are indexed by their number in the call (SFrame CTR - 2^24) and
 * frame k plays at  k x 20 ms + off + delay, where
 *   off    the reference transit: the smallest (arrival - k x 20 ms) of
 *          the last 4 s (so a clock drift or a changed path is followed);
 *   delay  the playout delay: starts at 40 ms, bounded 20..200 ms; a frame
 *          that arrives late or within 5 ms of its time raises it at once
 *          to its own lateness + 10 ms, and it shrinks by 2 ms per second
 *          towards the recent peak lateness + 10 ms.
 * tf_jb_pop hands out the frames in index order, each exactly once: the
 * frame itself, or (missing at its time) the NEXT frame's packet to
 * rebuild it from in-band FEC when that one is buffered, else a
 * concealment. A frame behind the playout point is refused as late, a
 * second copy of a buffered one as a duplicate (the SFrame replay window
 * already refuses replays; this only keeps the order). Memory is fixed
 * (TF_JB_SLOTS frames); a frame more than TF_JB_RESET_FRAMES ahead (a
 * long gap, or a peer's jumped counter) restarts the timeline in O(slots).
 */
#ifndef TWOFOLD_COMMS_JITTER_H
#define TWOFOLD_COMMS_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_JB_SLOTS 64	 /* 1.28 s of 20 ms frames */
#define TF_JB_PKT_MAX 96 /* one Opus packet (60 bytes today) */
#define TF_JB_FRAME_US 20000
#define TF_JB_DELAY_START_US 40000
#define TF_JB_DELAY_MIN_US 20000
#define TF_JB_DELAY_MAX_US 200000
#define TF_JB_RESET_FRAMES 3000 /* 60 s */
/* indexes from here on are refused: no sender gets there (2^62 frames),
 * and the timeline can never wrap around 2^64 */
#define TF_JB_IDX_MAX (1ull << 62)
#define TF_JB_LATE_RESYNC 25 /* consecutive late frames (0.5 s) re-base off */

enum tf_jb_what {
	TF_JB_WAIT = 0, /* nothing due yet */
	TF_JB_PLAY,	/* out->pkt is the frame */
	TF_JB_FEC,	/* out->pkt is the next frame: decode its FEC */
	TF_JB_CONCEAL,	/* nothing: conceal (PLC) */
};

struct tf_jb_out {
	uint64_t idx; /* the frame this plays */
	size_t len;
	uint8_t pkt[TF_JB_PKT_MAX];
};

struct tf_jb_slot {
	bool have;
	uint8_t len;
	uint64_t idx;
	uint8_t pkt[TF_JB_PKT_MAX];
};

#define TF_JB_BLOCKS 4
#define TF_JB_BLOCK_FRAMES 50

struct tf_jb {
	bool started;
	uint64_t base;	/* the first index of this timeline */
	uint64_t next;	/* the next index to play */
	uint64_t top;	/* the highest index received */
	int64_t off_us; /* reference transit (windowed minimum) */
	int64_t blk_min[TF_JB_BLOCKS], cur_min;
	unsigned blk_i, blk_n, late_run;
	int64_t delay_us, peak_us;
	uint64_t peak_t;
	struct tf_jb_slot slot[TF_JB_SLOTS];
	/* statistics */
	uint64_t played, fec, concealed, late, dups, early, reordered, resets,
		skipped;
};

void tf_jb_init(struct tf_jb *jb);
/* A received frame: 0 buffered, -ESTALE late (its time has passed),
 * -EALREADY a duplicate, -ERANGE too far ahead for the buffer (dropped;
 * the timeline follows) or idx >= TF_JB_IDX_MAX, -EMSGSIZE larger than
 * TF_JB_PKT_MAX. */
int tf_jb_put(struct tf_jb *jb, uint64_t idx, const uint8_t *pkt, size_t n,
	      uint64_t now_us);
/* The next frame due at now_us, or TF_JB_WAIT. Call until TF_JB_WAIT. */
enum tf_jb_what tf_jb_pop(struct tf_jb *jb, uint64_t now_us,
			  struct tf_jb_out *out);
/* The next frame whatever its time (a sound card's clock asks for it;
 * playout.h decides when): TF_JB_WAIT only before the first frame. */
enum tf_jb_what tf_jb_take(struct tf_jb *jb, uint64_t now_us,
			   struct tf_jb_out *out);
/* idx is buffered; some index from next on is buffered */
bool tf_jb_has(const struct tf_jb *jb, uint64_t idx);
bool tf_jb_any(const struct tf_jb *jb);
/* how late now_us is for the next frame (negative: early); 0 before
 * the first frame */
int64_t tf_jb_lag_us(const struct tf_jb *jb, uint64_t now_us);
/* When the next frame is due (µs), or UINT64_MAX before the first frame. */
uint64_t tf_jb_due_us(const struct tf_jb *jb);

#endif
