/* SPDX-License-Identifier: ISC */
/* The device sink's decisions (src/comms/playout.c) and, with the jitter
 * buffer (jitter.c), the sink's loop on a simulated card clock (the
 * loop of devplay.c without the codec): a stall is filled by inserted
 * concealments and its backlog dropped at quiet frames afterwards, a
 * bounded number per second; a sender 1 % faster than the card is
 * followed by drops, one 1 % slower by inserts; the lag returns near 0
 * in each case; loud frames are spared unless the lag is large; a lost
 * frame (later ones there) is taken, not waited for; a dropped frame is
 * cross-faded into the next one: no step in the waveform where a plain
 * cut makes one (a click). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jitter.h"
#include "playout.h"

#define F TF_JB_FRAME_US
#define LOUD 1e7
#define QUIET 10.0

static void test_stall_inserts(void **st)
{
	struct tf_po po;

	(void)st;
	tf_po_init(&po);
	/* nothing buffered: wait with a concealment, unpaced */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(tf_po_before(&po, i * F, false, false),
				 TF_PO_INSERT);
		tf_po_played(&po, LOUD);
	}
	assert_int_equal(po.inserted, 10);
	assert_int_equal(po.held, 10);
	/* not for ever: past the bound the index goes on */
	assert_int_equal(tf_po_before(&po, TF_PO_HOLD_MAX_US, false, false),
			 TF_PO_TAKE);
	/* later frames there: this one is lost, not late */
	assert_int_equal(tf_po_before(&po, 0, false, true), TF_PO_TAKE);
	assert_int_equal(po.lag_max_us, TF_PO_HOLD_MAX_US);
}

static void test_drop_rules(void **st)
{
	struct tf_po po;

	(void)st;
	tf_po_init(&po);
	for (int i = 0; i < 50; i++)
		tf_po_played(&po, LOUD);
	/* on target or little behind: nothing dropped */
	assert_false(tf_po_drop(&po, TF_PO_SHRINK_US, QUIET, true));
	/* behind, loud: spared; quiet: dropped */
	assert_false(tf_po_drop(&po, TF_PO_SHRINK_US + F, LOUD, true));
	/* quiet but the next one missing: would only make a concealment */
	assert_false(tf_po_drop(&po, TF_PO_SHRINK_US + F, QUIET, false));
	assert_true(tf_po_drop(&po, TF_PO_SHRINK_US + F, QUIET, true));
	/* paced: not again before TF_PO_ADJ_GAP slots */
	for (int i = 0; i < TF_PO_ADJ_GAP - 1; i++) {
		tf_po_played(&po, LOUD);
		assert_false(tf_po_drop(&po, TF_PO_SHRINK_US + F, QUIET, true));
	}
	tf_po_played(&po, LOUD);
	/* far behind: whatever the energy */
	assert_true(tf_po_drop(&po, TF_PO_FORCE_US + 1, LOUD, true));
	assert_int_equal(po.dropped, 2);
	/* quiet relative to the running mean, not only absolute */
	for (int i = 0; i < TF_PO_ADJ_GAP; i++)
		tf_po_played(&po, LOUD);
	assert_true(tf_po_drop(&po, TF_PO_SHRINK_US + F, LOUD / 20, true));
}

static void test_grow_rules(void **st)
{
	struct tf_po po;

	(void)st;
	tf_po_init(&po);
	tf_po_played(&po, LOUD);
	/* ahead of the target after a loud frame: not now */
	assert_int_equal(tf_po_before(&po, -TF_PO_GROW_US - F, true, true),
			 TF_PO_TAKE);
	tf_po_played(&po, QUIET);
	assert_int_equal(tf_po_before(&po, -TF_PO_GROW_US - F, true, true),
			 TF_PO_INSERT);
	tf_po_played(&po, QUIET);
	/* paced */
	assert_int_equal(tf_po_before(&po, -TF_PO_GROW_US - F, true, true),
			 TF_PO_TAKE);
	for (int i = 0; i < TF_PO_ADJ_GAP; i++)
		tf_po_played(&po, LOUD);
	/* far ahead: whatever the energy */
	assert_int_equal(tf_po_before(&po, -TF_PO_FORCE_US - F, true, true),
			 TF_PO_INSERT);
	/* near the target: the frame plays */
	for (int i = 0; i < TF_PO_ADJ_GAP; i++)
		tf_po_played(&po, QUIET);
	assert_int_equal(tf_po_before(&po, -TF_PO_GROW_US, true, true),
			 TF_PO_TAKE);
}

/* the largest step between two samples */
static int max_step(const int16_t *x, unsigned n)
{
	int m = 0;

	for (unsigned i = 1; i < n; i++) {
		int d = abs(x[i] - x[i - 1]);
		m = d > m ? d : m;
	}
	return m;
}

static void test_merge(void **st)
{
	enum { N = 320 };
	int16_t x[4 * N], cut[3 * N], ola[3 * N];
	int natural, plain, merged;

	(void)st;
	/* a 210 Hz tone: 4.2 periods per frame, so dropping a frame jumps
	 * its phase by 0.2 of a period */
	for (unsigned i = 0; i < 4 * N; i++)
		x[i] = (int16_t)(10000 * sin(2 * M_PI * 210 * i / 16000.0));
	natural = max_step(x, 4 * N);
	/* frames 0, 1, 2, 3: frame 1 dropped */
	memcpy(cut, x, N * sizeof(x[0]));
	memcpy(cut + N, x + 2 * N, 2 * N * sizeof(x[0]));
	memcpy(ola, cut, sizeof(ola));
	tf_po_merge(x + N, x + 2 * N, ola + N, N);
	plain = max_step(cut, 3 * N);
	merged = max_step(ola, 3 * N);
	print_message("largest step: the tone %d, a cut %d, cross-faded %d\n",
		      natural, plain, merged);
	assert_true(plain > 3 * natural);
	assert_true(merged < natural + natural / 4);
	/* it starts as the dropped frame and ends as the next one */
	assert_int_equal(ola[N], x[N]);
	assert_true(abs(ola[2 * N - 1] - x[3 * N - 1]) <= natural);
	/* in place, as devplay calls it */
	memcpy(ola + N, x + 2 * N, N * sizeof(x[0]));
	tf_po_merge(x + N, ola + N, ola + N, N);
	assert_int_equal(max_step(ola, 3 * N), merged);
}

/* ---- the sink's loop on a simulated clock ---- */

struct sim {
	struct tf_jb jb;
	struct tf_po po;
	uint64_t next_send; /* sender's next frame index */
	uint64_t taken, concealed, lastk;
	bool any;
	int64_t lag_end;
};

/* speech-like energy: a quiet frame every 7th (between syllables) */
static double energy_of(uint64_t k)
{
	return k % 7 == 0 ? QUIET : LOUD;
}

static void card_slot(struct sim *s, uint64_t now)
{
	struct tf_jb_out o;
	int64_t lag = tf_jb_lag_us(&s->jb, now);
	enum tf_jb_what w;
	double e = 0;

	if (tf_po_before(&s->po, lag, tf_jb_has(&s->jb, s->jb.next),
			 tf_jb_any(&s->jb)) == TF_PO_INSERT) {
		s->concealed++;
		tf_po_played(&s->po, 0);
		return;
	}
	for (int i = 0; i < 2; i++) {
		w = tf_jb_take(&s->jb, now, &o);
		assert_int_not_equal(w, TF_JB_WAIT);
		/* in order, each index once */
		if (s->any)
			assert_true(o.idx > s->lastk);
		s->any = true;
		s->lastk = o.idx;
		s->taken++;
		e = w == TF_JB_PLAY ? energy_of(o.idx) : 0;
		if (w == TF_JB_PLAY && i == 0 &&
		    tf_po_drop(&s->po, lag, e, tf_jb_has(&s->jb, s->jb.next))) {
			lag = tf_jb_lag_us(&s->jb, now);
			continue;
		}
		break;
	}
	tf_po_played(&s->po, e);
}

/* secs of a call: the sender's clock at send_ppm against the card's;
 * the network delays every frame by 30 ms, and those sent in
 * [stall_at, stall_at + stall) wait until its end */
static void run(struct sim *s, double secs, long send_ppm, uint64_t stall_at,
		uint64_t stall)
{
	double send_f = F / (1.0 + (double)send_ppm / 1e6);
	uint64_t t_end = (uint64_t)(secs * 1e6), card_next = 0;
	uint8_t pkt[8] = {1};

	memset(s, 0, sizeof(*s));
	tf_jb_init(&s->jb);
	tf_po_init(&s->po);
	for (uint64_t t = 1000000; t < 1000000 + t_end; t += 1000) {
		/* frames arriving at t */
		for (;;) {
			uint64_t sent = 1000000 +
					(uint64_t)(s->next_send * send_f),
				 arr = sent + 30000;

			if (sent >= stall_at + 1000000 &&
			    sent < stall_at + stall + 1000000)
				arr = stall_at + stall + 1000000;
			if (arr > t)
				break;
			(void)tf_jb_put(&s->jb, s->next_send, pkt, sizeof(pkt),
					t);
			s->next_send++;
		}
		if (!s->jb.started || t < card_next)
			continue;
		if (card_next == 0) {
			if (t < tf_jb_due_us(&s->jb))
				continue;
			card_next = t;
		}
		card_slot(s, t);
		card_next += F;
	}
	s->lag_end = s->po.lag_us;
}

static void test_sim_steady(void **st)
{
	struct sim s;

	(void)st;
	run(&s, 20, 0, UINT64_MAX / 2, 0);
	print_message("steady: inserted %llu dropped %llu lag %lld us\n",
		      (unsigned long long)s.po.inserted,
		      (unsigned long long)s.po.dropped, (long long)s.lag_end);
	assert_true(s.po.dropped <= 2 && s.po.inserted <= 2);
	assert_true(s.lag_end > -TF_PO_GROW_US && s.lag_end < TF_PO_SHRINK_US);
}

static void test_sim_stall(void **st)
{
	struct sim s;

	(void)st;
	run(&s, 15, 0, 3000000, 300000);
	print_message("stall 300 ms: inserted %llu (held %llu) dropped %llu "
		      "lag max %lld end %lld us\n",
		      (unsigned long long)s.po.inserted,
		      (unsigned long long)s.po.held,
		      (unsigned long long)s.po.dropped,
		      (long long)s.po.lag_max_us, (long long)s.lag_end);
	/* the stall was filled (~15 slots), its backlog dropped after */
	assert_true(s.po.held >= 10);
	assert_true(s.po.lag_max_us >= 200000);
	assert_true(s.po.dropped >= 3);
	assert_true(s.lag_end < TF_PO_SHRINK_US + F);
	assert_int_equal(s.jb.late, 0); /* nothing that came was lost */
	/* bounded: at most one adjustment per TF_PO_ADJ_GAP slots */
	assert_true(s.po.dropped <= 15 * 50 / TF_PO_ADJ_GAP);
}

static void test_sim_drift(void **st)
{
	struct sim s;

	(void)st;
	/* the sender 1 % faster: 20 s bring 10 frames too many */
	run(&s, 20, 10000, UINT64_MAX / 2, 0);
	print_message("sender +1 %%: inserted %llu dropped %llu lag %lld us\n",
		      (unsigned long long)s.po.inserted,
		      (unsigned long long)s.po.dropped, (long long)s.lag_end);
	assert_true(s.po.dropped >= 6 && s.po.dropped <= 14);
	assert_true(s.lag_end < TF_PO_SHRINK_US + F);
	/* 1 % slower: 10 too few, inserted */
	run(&s, 20, -10000, UINT64_MAX / 2, 0);
	print_message("sender -1 %%: inserted %llu dropped %llu lag %lld us\n",
		      (unsigned long long)s.po.inserted,
		      (unsigned long long)s.po.dropped, (long long)s.lag_end);
	assert_true(s.po.inserted >= 6 && s.po.inserted <= 14);
	assert_true(s.lag_end > -TF_PO_GROW_US - F);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_stall_inserts),
		cmocka_unit_test(test_drop_rules),
		cmocka_unit_test(test_grow_rules),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_sim_steady),
		cmocka_unit_test(test_sim_stall),
		cmocka_unit_test(test_sim_drift),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
