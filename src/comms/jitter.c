/* SPDX-License-Identifier: ISC */
/*
 * The call receiver's jitter buffer: the model and its bounds are in
 * jitter.h. All times are µs of the caller's monotonic clock; indexes are
 * kept relative to the timeline's first frame (jb->base), and a timeline
 * that would grow past 2^31 frames (a peer's forged jump) restarts, so the
 * signed arithmetic below cannot overflow.
 */
#include <errno.h>
#include <string.h>

#include "jitter.h"

#define NEAR_LATE_US 5000 /* a frame this close to its time raises delay */
#define MARGIN_US 10000	  /* delay kept above the lateness seen */
#define SHRINK_US 40	  /* per frame received: 2 ms per second */
#define REL_MAX (1ull << 31)

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

void tf_jb_init(struct tf_jb *jb)
{
	memset(jb, 0, sizeof(*jb));
	jb->delay_us = TF_JB_DELAY_START_US;
}

/* a new timeline starting at idx (the first frame, or after a jump) */
static void start(struct tf_jb *jb, uint64_t idx)
{
	memset(jb->slot, 0, sizeof(jb->slot));
	jb->started = true;
	jb->base = jb->next = jb->top = idx;
	for (int i = 0; i < TF_JB_BLOCKS; i++)
		jb->blk_min[i] = INT64_MAX;
	jb->cur_min = INT64_MAX;
	jb->blk_i = jb->blk_n = jb->late_run = 0;
	jb->delay_us = TF_JB_DELAY_START_US;
	jb->peak_us = 0;
}

/* the reference transit: the minimum of the last blocks and this one */
static void note_offset(struct tf_jb *jb, int64_t o)
{
	int64_t m;

	jb->cur_min = min64(jb->cur_min, o);
	if (++jb->blk_n == TF_JB_BLOCK_FRAMES) {
		jb->blk_min[jb->blk_i] = jb->cur_min;
		jb->blk_i = (jb->blk_i + 1) % TF_JB_BLOCKS;
		jb->cur_min = INT64_MAX;
		jb->blk_n = 0;
	}
	m = jb->cur_min;
	for (int i = 0; i < TF_JB_BLOCKS; i++)
		m = min64(m, jb->blk_min[i]);
	/* m is never INT64_MAX here: o itself is in cur_min or a block */
	jb->off_us = m;
}

/* adapt the delay to this frame's lateness s (>= 0) behind off */
static void adapt(struct tf_jb *jb, int64_t s)
{
	int64_t target;

	jb->peak_us = max64(s, jb->peak_us - SHRINK_US);
	if (s > jb->delay_us - NEAR_LATE_US) {
		/* late or nearly: grow at once (a gap costs more than
		 * delay) */
		jb->delay_us = min64(TF_JB_DELAY_MAX_US, s + MARGIN_US);
		return;
	}
	target = max64(TF_JB_DELAY_MIN_US, jb->peak_us + MARGIN_US);
	if (jb->delay_us > target)
		jb->delay_us -= min64(SHRINK_US, jb->delay_us - target);
	jb->delay_us = max64(TF_JB_DELAY_MIN_US, jb->delay_us);
}

static int64_t rel_us(const struct tf_jb *jb, uint64_t idx)
{
	return (int64_t)(idx - jb->base) * TF_JB_FRAME_US;
}

static bool popped(const struct tf_jb *jb)
{
	return jb->played || jb->fec || jb->concealed || jb->skipped;
}

/* the timeline starts d frames earlier, at idx: every offset measured
 * against the old base is d frames larger against the new one */
static void rebase(struct tf_jb *jb, uint64_t idx)
{
	int64_t d = (int64_t)(jb->base - idx) * TF_JB_FRAME_US;

	jb->off_us -= d;
	if (jb->cur_min != INT64_MAX)
		jb->cur_min -= d;
	for (int i = 0; i < TF_JB_BLOCKS; i++)
		if (jb->blk_min[i] != INT64_MAX)
			jb->blk_min[i] -= d;
	jb->base = jb->next = idx;
}

int tf_jb_put(struct tf_jb *jb, uint64_t idx, const uint8_t *pkt, size_t n,
	      uint64_t now_us)
{
	struct tf_jb_slot *sl;
	int64_t o;

	if (n > TF_JB_PKT_MAX || (n && !pkt))
		return -EMSGSIZE;
	if (idx >= TF_JB_IDX_MAX)
		return -ERANGE; /* so that next + anything never wraps */
	if (!jb->started) {
		start(jb, idx);
	} else if (idx >= jb->next && (idx - jb->next > TF_JB_RESET_FRAMES ||
				       idx - jb->base >= REL_MAX)) {
		/* a minute or more ahead: a new timeline, not a loop that
		 * conceals every frame in between */
		start(jb, idx);
		jb->resets++;
	}
	if (idx < jb->next && !popped(jb) && jb->next - idx < TF_JB_SLOTS &&
	    (int64_t)now_us < (int64_t)tf_jb_due_us(jb)) {
		/* overtaken before anything played (frame 0 behind frame
		 * 1): the timeline starts at it instead */
		rebase(jb, idx);
	}
	if (idx < jb->next) {
		jb->late++;
		if (idx >= jb->base && jb->next - idx <= TF_JB_SLOTS) {
			/* too late to play, but its lateness counts: the
			 * delay grows at once so the next ones make it (a
			 * sender that stalled, a path that got slower) */
			o = (int64_t)now_us - rel_us(jb, idx);
			note_offset(jb, o);
			adapt(jb, o - jb->off_us);
		}
		if (idx >= jb->base && ++jb->late_run >= TF_JB_LATE_RESYNC) {
			/* every frame late for 0.5 s: the sender's timeline
			 * moved (it stalled and skipped ahead); re-base on
			 * this frame rather than drop the rest of the call */
			for (int i = 0; i < TF_JB_BLOCKS; i++)
				jb->blk_min[i] = INT64_MAX;
			jb->cur_min = INT64_MAX;
			jb->blk_n = 0;
			note_offset(jb, (int64_t)now_us - rel_us(jb, idx));
			jb->late_run = 0;
		}
		return -ESTALE;
	}
	o = (int64_t)now_us - rel_us(jb, idx);
	note_offset(jb, o);
	adapt(jb, o - jb->off_us);
	if (idx < jb->top)
		jb->reordered++;
	else
		jb->top = idx;
	if (idx - jb->next >= TF_JB_SLOTS) {
		jb->early++; /* its time is followed (off); pop skips ahead */
		return -ERANGE;
	}
	sl = &jb->slot[idx % TF_JB_SLOTS];
	if (sl->have && sl->idx == idx) {
		jb->dups++;
		return -EALREADY;
	}
	sl->have = true;
	sl->idx = idx;
	sl->len = (uint8_t)n;
	if (n)
		memcpy(sl->pkt, pkt, n);
	jb->late_run = 0;
	return 0;
}

uint64_t tf_jb_due_us(const struct tf_jb *jb)
{
	int64_t t;

	if (!jb->started)
		return UINT64_MAX;
	t = rel_us(jb, jb->next) + jb->off_us + jb->delay_us;
	return t < 0 ? 0 : (uint64_t)t;
}

static struct tf_jb_slot *held(struct tf_jb *jb, uint64_t idx)
{
	struct tf_jb_slot *sl = &jb->slot[idx % TF_JB_SLOTS];

	return sl->have && sl->idx == idx ? sl : NULL;
}

bool tf_jb_has(const struct tf_jb *jb, uint64_t idx)
{
	const struct tf_jb_slot *sl = &jb->slot[idx % TF_JB_SLOTS];

	return jb->started && sl->have && sl->idx == idx;
}

bool tf_jb_any(const struct tf_jb *jb)
{
	for (int i = 0; i < TF_JB_SLOTS; i++)
		if (jb->slot[i].have && jb->slot[i].idx >= jb->next)
			return true;
	return false;
}

int64_t tf_jb_lag_us(const struct tf_jb *jb, uint64_t now_us)
{
	if (!jb->started)
		return 0;
	return (int64_t)now_us -
	       (rel_us(jb, jb->next) + jb->off_us + jb->delay_us);
}

enum tf_jb_what tf_jb_pop(struct tf_jb *jb, uint64_t now_us,
			  struct tf_jb_out *out)
{
	if (!jb->started || now_us < tf_jb_due_us(jb))
		return TF_JB_WAIT;
	return tf_jb_take(jb, now_us, out);
}

enum tf_jb_what tf_jb_take(struct tf_jb *jb, uint64_t now_us,
			   struct tf_jb_out *out)
{
	struct tf_jb_slot *sl;
	int64_t behind;

	if (!jb->started)
		return TF_JB_WAIT;
	/* frames due at now_us beyond next: more than the buffer holds
	 * (the receiver stalled, or the timeline jumped): skip to the one
	 * due now instead of conceal more than TF_JB_SLOTS in a row */
	behind =
		((int64_t)now_us - jb->off_us - jb->delay_us) / TF_JB_FRAME_US -
		(int64_t)(jb->next - jb->base);
	if (behind >= TF_JB_SLOTS) {
		for (int i = 0; i < TF_JB_SLOTS; i++)
			if (jb->slot[i].idx < jb->next + (uint64_t)behind)
				jb->slot[i].have = false;
		jb->next += (uint64_t)behind;
		jb->skipped += (uint64_t)behind;
	}
	out->idx = jb->next;
	out->len = 0;
	if ((sl = held(jb, jb->next))) {
		out->len = sl->len;
		memcpy(out->pkt, sl->pkt, sl->len);
		sl->have = false;
		jb->next++;
		jb->played++;
		return TF_JB_PLAY;
	}
	jb->next++;
	if ((sl = held(jb, jb->next))) {
		/* kept: it plays next, after its FEC rebuilt this one */
		out->len = sl->len;
		memcpy(out->pkt, sl->pkt, sl->len);
		jb->fec++;
		return TF_JB_FEC;
	}
	jb->concealed++;
	return TF_JB_CONCEAL;
}
