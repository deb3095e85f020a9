/* SPDX-License-Identifier: ISC */
/*
 * The device sink (devplay.c; docs/comms.md "Audio devices"): a jitter
 * buffer's frames played on a sound card by the card's clock. Each
 * call of devplay_tick writes what the card wants now (audio_out_want):
 * for each slot the next frame, its FEC rebuild or a concealment, a
 * concealment inserted or a quiet frame dropped to bring the playout
 * delay back to the jitter buffer's target (playout.h). While the stream
 * is live (a call active, a burst's floor taken) the card never runs
 * dry; after it, silence until the caller closes the device. Used by
 * calls (call.c) and push-to-talk bursts (ptt.c); files stay written by
 * frame index, without this.
 */
#ifndef TWOFOLD_COMMS_DEVPLAY_H
#define TWOFOLD_COMMS_DEVPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio.h"
#include "jitter.h"
#include "playout.h"

struct tf_media_dec;

struct devplay {
	struct tf_po po;
	bool started; /* the first frame was due: the card is fed */
	bool fed;     /* the card got a frame: it is running, keep it fed */
	/* what the card got: frames, of them concealed (PLC: inserted or
	 * lost), rebuilt from FEC, decode failures, and frames dropped */
	uint64_t frames, concealed, fec, bad, dropped;
};

void devplay_init(struct devplay *d);
/* A new stream on the same card (a new burst): its timeline starts
 * over, the card gets silence until its first frame; counters kept. */
void devplay_restart(struct devplay *d);
/* Feed out (a device) from jb through dec at now_us; live: conceal
 * what is missing, else silence. Calls played(idx, arg) for every
 * index taken from jb (in order). 0, or -errno with err filled when
 * the device failed. */
int devplay_tick(struct devplay *d, struct audio_out *out, struct tf_jb *jb,
		 struct tf_media_dec *dec, bool live, uint64_t now_us,
		 void (*played)(uint64_t idx, void *arg), void *arg, char *err,
		 size_t errcap);

#endif
