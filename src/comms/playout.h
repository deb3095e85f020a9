/* SPDX-License-Identifier: ISC */
/*
 * Adaptive playout on a sound card (playout.c; docs/comms.md "Audio
 * devices"). Pure: no I/O, no decoding; the caller measures.
 *
 * A file is written by frame index; a card plays by its own clock and
 * needs a frame every 20 ms whether one came or not. The device sink
 * (devplay in call.c and ptt.c) asks the card how many frames it wants
 * and, for each, asks here whether to
 *   - INSERT a concealed frame (Opus PLC) and keep the next index for
 *     later: nothing is buffered yet (a delay spike, a sender behind,
 *     the card's clock faster than the sender's), or the playout point
 *     runs more than GROW_US ahead of the jitter buffer's target
 *     (grown at a quiet frame, at most one adjustment per ADJ_GAP
 *     slots); or
 *   - TAKE the next index: the frame, its rebuild from the next frame's
 *     FEC, or a concealment when later frames are there (it was lost).
 * A taken frame that plays more than SHRINK_US behind the target (a
 * spike's backlog, the sender's clock faster than the card's) is
 * DROPPED when it is quiet (below QUIET of the running mean energy:
 * silence between words) and the frame after it is buffered, or
 * whatever its energy when the lag passes FORCE_US; at most one
 * adjustment per ADJ_GAP slots (10 a second: at most 200 ms of speech
 * time removed per second). The lag is  now - (the index's due time
 * in the jitter buffer): 0 when playing exactly on target.
 * Whole frames are dropped or inserted, not a pitch-synchronous
 * time-stretch (WSOLA): a drop at a quiet frame is hardly heard, and the
 * dropped frame is cross-faded into the next one (tf_po_merge: 40 ms
 * into 20 without a step in the waveform, a click when the frame was
 * not quiet); Opus PLC makes the inserted ones.
 */
#ifndef TWOFOLD_COMMS_PLAYOUT_H
#define TWOFOLD_COMMS_PLAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#define TF_PO_ADJ_GAP 5		 /* slots between two adjustments */
#define TF_PO_SHRINK_US 30000	 /* lag above which frames are dropped */
#define TF_PO_GROW_US 30000	 /* lead above which frames are inserted */
#define TF_PO_FORCE_US 100000	 /* beyond this, whatever the energy */
#define TF_PO_HOLD_MAX_US 400000 /* waiting for a stalled stream, at most */
#define TF_PO_QUIET 0.1		 /* of the running mean energy */
#define TF_PO_QUIET_ABS 100.0	 /* mean square (about -50 dBFS): silence */

enum tf_po_act {
	TF_PO_TAKE = 0, /* the next index (play, FEC or conceal) */
	TF_PO_INSERT,	/* a concealed frame; the index waits */
};

struct tf_po {
	uint64_t slot;	   /* card slots served */
	uint64_t last_adj; /* slot of the last drop or paced insert */
	bool adj_any;
	double mean_e;	 /* running mean energy of what played */
	bool last_quiet; /* the last frame played was quiet */
	/* statistics */
	uint64_t inserted, dropped, held;
	int64_t lag_us, lag_max_us;
};

void tf_po_init(struct tf_po *po);
/* Before a slot: next_held is the next index buffered, any_held any
 * later one. */
enum tf_po_act tf_po_before(struct tf_po *po, int64_t lag_us, bool next_held,
			    bool any_held);
/* A taken, decoded frame of mean-square energy e: drop it (true; the
 * slot takes the next index) or play it. after_held: the index after it
 * is buffered (a drop must not turn into a concealment). */
bool tf_po_drop(struct tf_po *po, int64_t lag_us, double e, bool after_held);
/* What went to the card in this slot (e: its energy) */
void tf_po_played(struct tf_po *po, double e);
/* mean square of a 20 ms frame */
double tf_po_energy(const int16_t *pcm, unsigned n);
/* A dropped frame a and the next one b into out (may be b): a fades
 * out as b fades in over the n samples (linear overlap-add), so the
 * output starts where a started and ends where b ends. */
void tf_po_merge(const int16_t *a, const int16_t *b, int16_t *out, unsigned n);

#endif
