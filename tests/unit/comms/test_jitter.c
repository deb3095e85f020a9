/* SPDX-License-Identifier: ISC */
/* The call jitter buffer (src/comms/jitter.c) on a simulated clock:
 * in-order frames play in order; frames reordered by up to 60 ms of
 * jitter all play, in order, each once; a missing frame comes back from
 * the next frame's FEC when that one is buffered, else is concealed;
 * late and buffered duplicates are refused; the delay stays in 20..200 ms
 * (grows at once, shrinks slowly); a counter that jumps far ahead
 * restarts the timeline without a loop over the gap; a frame beyond the
 * buffer is refused (fixed memory). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jitter.h"

#define F TF_JB_FRAME_US

static void pkt_of(uint64_t idx, uint8_t p[8])
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(idx >> (8 * i));
}

/* pop everything due at t; checks order and that each index comes once */
static int drain(struct tf_jb *jb, uint64_t t, uint64_t *expect, int *kinds)
{
	struct tf_jb_out o;
	enum tf_jb_what w;
	int n = 0;

	while ((w = tf_jb_pop(jb, t, &o)) != TF_JB_WAIT) {
		assert_int_equal(o.idx, *expect);
		(*expect)++;
		kinds[w]++;
		if (w == TF_JB_PLAY) {
			uint8_t p[8];
			pkt_of(o.idx, p);
			assert_int_equal(o.len, 8);
			assert_memory_equal(o.pkt, p, 8);
		}
		n++;
		assert_true(n < 1000);
	}
	return n;
}

static void test_in_order(void **state)
{
	struct tf_jb jb;
	uint64_t t0 = 1000000, expect = 100;
	int kinds[4] = {0};
	uint8_t p[8];
	(void)state;

	tf_jb_init(&jb);
	assert_int_equal(tf_jb_due_us(&jb), UINT64_MAX);
	for (uint64_t k = 100; k < 400; k++) {
		uint64_t t = t0 + (k - 100) * F + 50000;
		pkt_of(k, p);
		assert_int_equal(tf_jb_put(&jb, k, p, 8, t), 0);
		drain(&jb, t, &expect, kinds);
	}
	/* the first plays one delay after its arrival */
	assert_int_equal(kinds[TF_JB_PLAY] + kinds[TF_JB_FEC] +
				 kinds[TF_JB_CONCEAL],
			 (int)(expect - 100));
	assert_int_equal(kinds[TF_JB_CONCEAL], 0);
	assert_int_equal(kinds[TF_JB_FEC], 0);
	/* steady arrivals: the delay shrank towards its floor */
	assert_true(jb.delay_us < TF_JB_DELAY_START_US);
	assert_true(jb.delay_us >= TF_JB_DELAY_MIN_US);
}

/* arrival k x 20 ms + 50 ms + jitter in [0, 60 ms): reorders */
static void test_reorder(void **state)
{
	struct tf_jb jb;
	uint64_t t0 = 5000000, expect = 0, arr[500];
	int kinds[4] = {0}, order[500], late = 0;
	uint32_t x = 12345;
	uint8_t p[8];
	(void)state;

	tf_jb_init(&jb);
	for (int k = 0; k < 500; k++) {
		x = x * 1103515245u + 12345u;
		arr[k] = t0 + (uint64_t)k * F + 50000 + (x >> 8) % 60000;
		order[k] = k;
	}
	/* deliver in arrival order (an insertion sort: it is small) */
	for (int i = 1; i < 500; i++)
		for (int j = i; j > 0 && arr[order[j]] < arr[order[j - 1]];
		     j--) {
			int tmp = order[j];
			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	for (int i = 0; i < 500; i++) {
		int k = order[i];
		/* the playout clock ticks up to this arrival first */
		drain(&jb, arr[k], &expect, kinds);
		pkt_of((uint64_t)k, p);
		if (tf_jb_put(&jb, (uint64_t)k, p, 8, arr[k]) == -ESTALE)
			late++;
	}
	/* the playout clock goes on past the last frame (concealing) */
	drain(&jb, arr[order[499]] + TF_JB_DELAY_MAX_US, &expect, kinds);
	assert_true(expect >= 500);
	assert_true(jb.reordered > 50);
	/* only the first frames before the delay grew can be late */
	assert_true(late <= 10);
	assert_true(kinds[TF_JB_PLAY] >= 480);
	assert_true(jb.delay_us >= 50000 && jb.delay_us <= TF_JB_DELAY_MAX_US);
}

static void test_fec_and_conceal(void **state)
{
	struct tf_jb jb;
	struct tf_jb_out o;
	uint64_t t = 1000000;
	uint8_t p[8];
	(void)state;

	tf_jb_init(&jb);
	pkt_of(0, p);
	assert_int_equal(tf_jb_put(&jb, 0, p, 8, t), 0);
	/* 1 missing, 2 buffered; 3 and 4 missing, 5 buffered late enough */
	pkt_of(2, p);
	assert_int_equal(tf_jb_put(&jb, 2, p, 8, t + 2 * F), 0);
	assert_int_equal(tf_jb_pop(&jb, t, &o), TF_JB_WAIT);
	t += TF_JB_DELAY_START_US;
	assert_int_equal(tf_jb_pop(&jb, t, &o), TF_JB_PLAY);
	assert_int_equal(o.idx, 0);
	assert_int_equal(tf_jb_pop(&jb, t, &o), TF_JB_WAIT);
	assert_int_equal(tf_jb_pop(&jb, t + F, &o), TF_JB_FEC);
	assert_int_equal(o.idx, 1);
	pkt_of(2, p);
	assert_memory_equal(o.pkt, p, 8); /* the NEXT frame's packet */
	assert_int_equal(tf_jb_pop(&jb, t + 2 * F, &o), TF_JB_PLAY);
	assert_int_equal(o.idx, 2);
	assert_int_equal(tf_jb_pop(&jb, t + 3 * F, &o), TF_JB_CONCEAL);
	assert_int_equal(o.idx, 3);
	/* 2 again: played already (late), a buffered copy is a duplicate */
	assert_int_equal(tf_jb_put(&jb, 2, p, 8, t + 3 * F), -ESTALE);
	/* ... 60 ms behind the reference: the delay grew to cover it */
	assert_true(jb.delay_us >= 60000 + 10000 - 100);
	t += 40000;
	pkt_of(5, p);
	assert_int_equal(tf_jb_put(&jb, 5, p, 8, t + 3 * F), 0);
	assert_int_equal(tf_jb_put(&jb, 5, p, 8, t + 3 * F), -EALREADY);
	assert_int_equal(tf_jb_pop(&jb, t + 4 * F, &o), TF_JB_FEC);
	assert_int_equal(o.idx, 4);
	assert_int_equal(tf_jb_pop(&jb, t + 5 * F, &o), TF_JB_PLAY);
	assert_int_equal(o.idx, 5);
	assert_int_equal(jb.dups, 1);
	assert_int_equal(jb.late, 1);
	/* too large for a slot */
	uint8_t big[TF_JB_PKT_MAX + 1] = {0};
	assert_int_equal(tf_jb_put(&jb, 6, big, sizeof(big), t + 5 * F),
			 -EMSGSIZE);
}

/* frame 0 overtaken by frame 1 before anything played: 0 still plays,
 * first, at its own time */
static void test_overtaken_first(void **state)
{
	struct tf_jb jb;
	struct tf_jb_out o;
	uint64_t t = 1000000;
	uint8_t p[8];
	(void)state;

	tf_jb_init(&jb);
	pkt_of(1, p);
	assert_int_equal(tf_jb_put(&jb, 1, p, 8, t + F), 0);
	pkt_of(0, p);
	assert_int_equal(tf_jb_put(&jb, 0, p, 8, t + F + 2000), 0);
	assert_int_equal(tf_jb_pop(&jb, t + F, &o), TF_JB_WAIT);
	assert_int_equal(
		tf_jb_pop(&jb, t + F + 3000 + TF_JB_DELAY_START_US, &o),
		TF_JB_PLAY);
	assert_int_equal(o.idx, 0);
	assert_int_equal(tf_jb_pop(&jb, t + 2 * F + TF_JB_DELAY_START_US, &o),
			 TF_JB_PLAY);
	assert_int_equal(o.idx, 1);
	assert_int_equal(jb.late, 0);
}

static void test_delay_bounds(void **state)
{
	struct tf_jb jb;
	uint64_t t = 1000000, expect = 0;
	int kinds[4] = {0};
	uint8_t p[8];
	(void)state;

	tf_jb_init(&jb);
	pkt_of(0, p);
	assert_int_equal(tf_jb_put(&jb, 0, p, 8, t), 0);
	/* frame 1 arrives 500 ms after its time: the delay grows at once,
	 * but to the ceiling only */
	pkt_of(1, p);
	(void)tf_jb_put(&jb, 1, p, 8, t + F + 500000);
	assert_int_equal(jb.delay_us, TF_JB_DELAY_MAX_US);
	/* frame 2 35 ms late: not less than that + margin at once */
	tf_jb_init(&jb);
	pkt_of(0, p);
	assert_int_equal(tf_jb_put(&jb, 0, p, 8, t), 0);
	pkt_of(1, p);
	assert_int_equal(tf_jb_put(&jb, 1, p, 8, t + F + 35000), 0);
	assert_true(jb.delay_us >= 45000);
	/* then steady: shrinks slowly (2 ms per second), never below 20 */
	int64_t d = jb.delay_us;
	for (uint64_t k = 2; k < 52; k++) {
		pkt_of(k, p);
		assert_int_equal(tf_jb_put(&jb, k, p, 8, t + k * F), 0);
		drain(&jb, t + k * F, &expect, kinds);
	}
	assert_true(jb.delay_us < d && jb.delay_us >= d - 2100);
	for (uint64_t k = 52; k < 2000; k++) {
		pkt_of(k, p);
		(void)tf_jb_put(&jb, k, p, 8, t + k * F);
		drain(&jb, t + k * F, &expect, kinds);
	}
	assert_int_equal(jb.delay_us, TF_JB_DELAY_MIN_US);
}

static void test_jump_and_bounds(void **state)
{
	struct tf_jb jb;
	struct tf_jb_out o;
	uint64_t t = 1000000, expect = 0;
	int kinds[4] = {0};
	uint8_t p[8];
	(void)state;

	tf_jb_init(&jb);
	for (uint64_t k = 0; k < 10; k++) {
		pkt_of(k, p);
		assert_int_equal(tf_jb_put(&jb, k, p, 8, t + k * F), 0);
	}
	/* beyond the buffer but within a minute: refused, memory fixed */
	pkt_of(10 + TF_JB_SLOTS, p);
	assert_int_equal(tf_jb_put(&jb, 10 + TF_JB_SLOTS, p, 8, t + 10 * F),
			 -ERANGE);
	/* a counter far ahead (forged or after a long gap): a new timeline
	 * at once, no frame-by-frame walk over the gap */
	uint64_t far = 1ull << 40;
	pkt_of(far, p);
	assert_int_equal(tf_jb_put(&jb, far, p, 8, t + 11 * F), 0);
	assert_int_equal(jb.resets, 1);
	assert_int_equal(jb.next, far);
	expect = far;
	drain(&jb, t + 11 * F + TF_JB_DELAY_MAX_US, &expect, kinds);
	assert_true(expect > far);
	/* indexes the timeline could wrap around 2^64 from: refused */
	assert_int_equal(tf_jb_put(&jb, TF_JB_IDX_MAX, p, 8, t + 11 * F),
			 -ERANGE);
	assert_int_equal(tf_jb_put(&jb, UINT64_MAX, p, 8, t + 11 * F), -ERANGE);
	/* the old timeline is gone: its frames are late now */
	pkt_of(3, p);
	assert_int_equal(tf_jb_put(&jb, 3, p, 8, t + 12 * F), -ESTALE);
	/* a receiver that stalls for 10 s skips ahead instead of
	 * concealing 500 frames in one go */
	tf_jb_init(&jb);
	pkt_of(0, p);
	assert_int_equal(tf_jb_put(&jb, 0, p, 8, t), 0);
	assert_int_equal(tf_jb_pop(&jb, t + 10000000, &o), TF_JB_CONCEAL);
	assert_true(jb.skipped >= 400);
	assert_true(o.idx >= 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_fec_and_conceal),
		cmocka_unit_test(test_overtaken_first),
		cmocka_unit_test(test_delay_bounds),
		cmocka_unit_test(test_jump_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
