/* SPDX-License-Identifier: ISC */
/*
 * Adaptive playout on a sound card: the decisions (playout.h). Pure.
 */
#include <string.h>

#include "playout.h"

#define MEAN_W (1.0 / 32) /* running mean over ~0.64 s of frames */

void tf_po_init(struct tf_po *po)
{
	memset(po, 0, sizeof(*po));
}

/* one paced adjustment per TF_PO_ADJ_GAP slots */
static bool may_adjust(const struct tf_po *po)
{
	return !po->adj_any || po->slot - po->last_adj >= TF_PO_ADJ_GAP;
}

static void adjusted(struct tf_po *po)
{
	po->adj_any = true;
	po->last_adj = po->slot;
}

static bool quiet(const struct tf_po *po, double e)
{
	return e < TF_PO_QUIET_ABS || e < TF_PO_QUIET * po->mean_e;
}

enum tf_po_act tf_po_before(struct tf_po *po, int64_t lag_us, bool next_held,
			    bool any_held)
{
	po->lag_us = lag_us;
	if (lag_us > po->lag_max_us)
		po->lag_max_us = lag_us;
	if (!next_held) {
		/* nothing buffered: the stream stalled (or the card runs
		 * ahead); wait for it with a concealed frame rather than
		 * give up frames that are on their way, up to a bound (a
		 * sender that went away must not hold the timeline) */
		if (!any_held && lag_us < TF_PO_HOLD_MAX_US) {
			po->held++;
			po->inserted++;
			return TF_PO_INSERT;
		}
		return TF_PO_TAKE; /* lost: FEC or concealment, index on */
	}
	/* playing ahead of the target (it grew: late frames were seen):
	 * grow the buffer by one concealed frame, after a quiet one */
	if (lag_us < -TF_PO_GROW_US && may_adjust(po) &&
	    (po->last_quiet || lag_us < -TF_PO_FORCE_US)) {
		adjusted(po);
		po->inserted++;
		return TF_PO_INSERT;
	}
	return TF_PO_TAKE;
}

bool tf_po_drop(struct tf_po *po, int64_t lag_us, double e, bool after_held)
{
	if (lag_us <= TF_PO_SHRINK_US || !after_held || !may_adjust(po))
		return false;
	if (!quiet(po, e) && lag_us <= TF_PO_FORCE_US)
		return false;
	adjusted(po);
	po->dropped++;
	return true;
}

void tf_po_played(struct tf_po *po, double e)
{
	po->slot++;
	po->last_quiet = quiet(po, e);
	po->mean_e = po->slot == 1 ? e : po->mean_e + MEAN_W * (e - po->mean_e);
}

void tf_po_merge(const int16_t *a, const int16_t *b, int16_t *out, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		/* weights (n - i) / n and i / n: no overflow, no step */
		int32_t v = ((int32_t)a[i] * (int32_t)(n - i) +
			     (int32_t)b[i] * (int32_t)i) /
			    (int32_t)n;

		out[i] = (int16_t)v;
	}
}

double tf_po_energy(const int16_t *pcm, unsigned n)
{
	double s = 0;

	for (unsigned i = 0; i < n; i++)
		s += (double)pcm[i] * pcm[i];
	return n ? s / n : 0;
}
