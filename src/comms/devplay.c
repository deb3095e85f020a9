/* SPDX-License-Identifier: ISC */
/*
 * The device sink: a jitter buffer played by a sound card's clock
 * (devplay.h; the decisions are playout.c's).
 */
#include <string.h>

#include "twofold/common.h"
#include "twofold/media.h"

#include "devplay.h"

void devplay_init(struct devplay *d)
{
	memset(d, 0, sizeof(*d));
	tf_po_init(&d->po);
}

void devplay_restart(struct devplay *d)
{
	tf_po_init(&d->po);
	d->started = false;
}

static void conceal(struct tf_media_dec *dec, int16_t *pcm)
{
	if (tf_media_decode(dec, NULL, 0, pcm) < 0)
		memset(pcm, 0, TF_MEDIA_FRAME * sizeof(pcm[0]));
}

/* one slot's frame from the stream */
static void one(struct devplay *d, struct tf_jb *jb, struct tf_media_dec *dec,
		uint64_t now, int16_t *pcm, void (*played)(uint64_t, void *),
		void *arg)
{
	struct tf_jb_out o;
	int64_t lag = tf_jb_lag_us(jb, now);
	int16_t gone[TF_MEDIA_FRAME];
	bool merge = false;

	if (tf_po_before(&d->po, lag, tf_jb_has(jb, jb->next), tf_jb_any(jb)) ==
	    TF_PO_INSERT) {
		conceal(dec, pcm);
		d->concealed++;
		return;
	}
	/* at most two takes: the second only after a drop, whose rule
	 * wants the frame after it buffered; the dropped one is faded into
	 * it */
	for (int i = 0; i < 2; i++) {
		if (i == 1)
			merge = true;
		switch (tf_jb_take(jb, now, &o)) {
		case TF_JB_PLAY:
			played(o.idx, arg);
			if (tf_media_decode(dec, o.pkt, o.len, pcm) < 0) {
				d->bad++;
				conceal(dec, pcm);
				break;
			}
			if (i == 0 &&
			    tf_po_drop(&d->po, lag,
				       tf_po_energy(pcm, TF_MEDIA_FRAME),
				       tf_jb_has(jb, jb->next))) {
				d->dropped++;
				memcpy(gone, pcm, sizeof(gone));
				lag = tf_jb_lag_us(jb, now);
				continue;
			}
			break;
		case TF_JB_FEC:
			played(o.idx, arg);
			if (tf_media_decode_fec(dec, o.pkt, o.len, pcm) < 0)
				conceal(dec, pcm);
			d->fec++;
			break;
		case TF_JB_CONCEAL:
			played(o.idx, arg);
			conceal(dec, pcm);
			d->concealed++;
			break;
		default: /* not started: cannot happen once started */
			memset(pcm, 0, TF_MEDIA_FRAME * sizeof(pcm[0]));
			break;
		}
		break;
	}
	if (merge) {
		tf_po_merge(gone, pcm, pcm, TF_MEDIA_FRAME);
		tf_memzero(gone, sizeof(gone));
	}
}

/* A pcm without a clock (the null one; or not known before the first
 * write): the frames the jitter buffer has due, as for a file; nothing
 * can run dry, and inserting would only shift the stream */
static int by_jb(struct devplay *d, struct audio_out *out, struct tf_jb *jb,
		 struct tf_media_dec *dec, uint64_t now_us,
		 void (*played)(uint64_t, void *), void *arg, char *err,
		 size_t errcap)
{
	int16_t pcm[TF_MEDIA_FRAME];
	struct tf_jb_out o;
	enum tf_jb_what w;
	int r = 0;

	while (r >= 0 && (w = tf_jb_pop(jb, now_us, &o)) != TF_JB_WAIT) {
		played(o.idx, arg);
		if (w == TF_JB_PLAY &&
		    tf_media_decode(dec, o.pkt, o.len, pcm) < 0) {
			d->bad++;
			conceal(dec, pcm);
		} else if (w == TF_JB_FEC) {
			if (tf_media_decode_fec(dec, o.pkt, o.len, pcm) < 0)
				conceal(dec, pcm);
			d->fec++;
		} else if (w == TF_JB_CONCEAL) {
			conceal(dec, pcm);
			d->concealed++;
		}
		r = audio_out_write(out, pcm, err, errcap);
		if (r >= 0) {
			d->frames++;
			d->fed = true;
		}
	}
	tf_memzero(pcm, sizeof(pcm));
	return r < 0 ? r : 0;
}

int devplay_tick(struct devplay *d, struct audio_out *out, struct tf_jb *jb,
		 struct tf_media_dec *dec, bool live, uint64_t now_us,
		 void (*played)(uint64_t idx, void *arg), void *arg, char *err,
		 size_t errcap)
{
	int16_t pcm[TF_MEDIA_FRAME];
	bool play;
	int n, r = 0;

	if (!d->started && live && jb->started && now_us >= tf_jb_due_us(jb))
		d->started = true;
	/* the card starts with the first frame's time: before it nothing
	 * is written, so nothing can run dry; once running (a burst
	 * before this one) it gets silence until then */
	if (!d->started && !d->fed)
		return 0;
	if (audio_out_clocked(out) != 1)
		return live ? by_jb(d, out, jb, dec, now_us, played, arg, err,
				    errcap)
			    : 0;
	play = live && d->started;
	n = audio_out_want(out, err, errcap);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (play)
			one(d, jb, dec, now_us, pcm, played, arg);
		else
			memset(pcm, 0, sizeof(pcm)); /* after the stream */
		r = audio_out_write(out, pcm, err, errcap);
		if (r < 0)
			break;
		d->frames++;
		d->fed = true;
		tf_po_played(&d->po, tf_po_energy(pcm, TF_MEDIA_FRAME));
	}
	tf_memzero(pcm, sizeof(pcm));
	return r < 0 ? r : 0;
}
