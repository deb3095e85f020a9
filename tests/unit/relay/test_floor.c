/* SPDX-License-Identifier: ISC */
/* Floor control (src/relay/floor.c) with a fake clock: grant, queue in
 * rank order, release to the next, idle, emergency pre-emption, priority
 * pre-emption, maximum talk time (ordinary and emergency), queue timeout,
 * queue full, repeated presses and late releases, members leaving, and
 * 1,000 contention trials of simultaneous presses checked against a
 * shadow model: zero double grants. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "floor.h"

static const struct tf_floor_cfg cfg = {
	.max_talk_ms = 30000,
	.emergency_talk_ms = 120000,
	.queue_ms = 10000,
	.queue_max = 4,
	.preempt_priority = 200,
};

static struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX];

static void expect(int n, int i, unsigned type, uint32_t member,
		   unsigned reason)
{
	assert_true(i < n);
	assert_int_equal(ev[i].type, type);
	assert_int_equal(ev[i].member, member);
	assert_int_equal(ev[i].reason, reason);
}

static void test_grant_queue_release(void **state)
{
	struct tf_floor f;
	int n;

	(void)state;
	tf_floor_init(&f, &cfg);
	assert_int_equal(tf_floor_deadline(&f), UINT64_MAX);
	n = tf_floor_request(&f, 100, 1, 10, false, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_GRANTED, 1, 0);
	assert_int_equal(ev[0].burst, 1);
	/* a retransmitted press: the same grant, the same burst */
	n = tf_floor_request(&f, 150, 1, 10, false, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_GRANTED, 1, 0);
	assert_int_equal(ev[0].burst, 1);
	n = tf_floor_request(&f, 200, 2, 10, false, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 2, 0);
	assert_int_equal(ev[0].position, 0);
	/* higher priority (below the pre-emption level) goes first in line */
	n = tf_floor_request(&f, 300, 3, 50, false, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 3, 0);
	assert_int_equal(ev[0].position, 0);
	n = tf_floor_request(&f, 310, 2, 10, false, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 2, 0);
	assert_int_equal(ev[0].position, 1);
	/* a release of an old burst (a late retransmission) does nothing */
	assert_int_equal(tf_floor_release(&f, 400, 1, 7, ev), 0);
	n = tf_floor_release(&f, 400, 1, 1, ev);
	assert_int_equal(n, 2);
	expect(n, 0, TF_FLOOR_RELEASED, 1, 0);
	expect(n, 1, TF_FLOOR_GRANTED, 3, 0);
	assert_int_equal(ev[1].burst, 2);
	n = tf_floor_release(&f, 500, 3, 0, ev);
	expect(n, 1, TF_FLOOR_GRANTED, 2, 0);
	n = tf_floor_release(&f, 600, 2, 0, ev);
	assert_int_equal(n, 2);
	expect(n, 0, TF_FLOOR_RELEASED, 2, 0);
	expect(n, 1, TF_FLOOR_IDLE, TF_FLOOR_NONE, 0);
	assert_false(tf_floor_taken(&f));
	/* a release by someone who holds nothing */
	assert_int_equal(tf_floor_release(&f, 700, 9, 0, ev), 0);
}

static void test_preemption(void **state)
{
	struct tf_floor f;
	int n;

	(void)state;
	tf_floor_init(&f, &cfg);
	(void)tf_floor_request(&f, 0, 1, 100, false, ev);
	(void)tf_floor_request(&f, 10, 2, 10, false, ev);
	/* an emergency takes the floor at once */
	n = tf_floor_request(&f, 20, 5, 0, true, ev);
	assert_int_equal(n, 2);
	expect(n, 0, TF_FLOOR_REVOKED, 1, TF_FLOOR_R_PREEMPTED);
	expect(n, 1, TF_FLOOR_GRANTED, 5, 0);
	assert_true(ev[1].emergency);
	/* a second emergency does not cut the first: it waits, first */
	n = tf_floor_request(&f, 30, 6, 0, true, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 6, 0);
	assert_int_equal(ev[0].position, 0);
	/* nor does the pre-emptive priority cut an emergency */
	n = tf_floor_request(&f, 40, 7, 255, false, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 7, 0);
	assert_int_equal(ev[0].position, 1);
	n = tf_floor_release(&f, 50, 5, 0, ev);
	expect(n, 1, TF_FLOOR_GRANTED, 6, 0);
	n = tf_floor_release(&f, 60, 6, 0, ev);
	expect(n, 1, TF_FLOOR_GRANTED, 7, 0);
	/* priority pre-emption: >= preempt_priority and above the talker */
	tf_floor_init(&f, &cfg);
	(void)tf_floor_request(&f, 0, 1, 100, false, ev);
	n = tf_floor_request(&f, 10, 2, 150, false, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 2, 0);
	n = tf_floor_request(&f, 20, 3, 200, false, ev);
	expect(n, 0, TF_FLOOR_REVOKED, 1, TF_FLOOR_R_PREEMPTED);
	expect(n, 1, TF_FLOOR_GRANTED, 3, 0);
	n = tf_floor_request(&f, 30, 4, 200, false, ev);
	expect(n, 0, TF_FLOOR_QUEUED, 4, 0);
}

static void test_max_time_and_timeouts(void **state)
{
	struct tf_floor f;
	int n;

	(void)state;
	tf_floor_init(&f, &cfg);
	(void)tf_floor_request(&f, 1000, 1, 10, false, ev);
	(void)tf_floor_request(&f, 2000, 2, 10, false, ev);
	assert_int_equal(tf_floor_deadline(&f), 12000);
	/* 2's request lapses before 1's talk time runs out */
	assert_int_equal(tf_floor_tick(&f, 11999, ev), 0);
	n = tf_floor_tick(&f, 12000, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_DENIED, 2, TF_FLOOR_R_TIMEOUT);
	assert_int_equal(tf_floor_deadline(&f), 31000);
	(void)tf_floor_request(&f, 25000, 3, 10, false, ev);
	assert_int_equal(tf_floor_tick(&f, 30999, ev), 0);
	n = tf_floor_tick(&f, 31000, ev);
	assert_int_equal(n, 2);
	expect(n, 0, TF_FLOOR_REVOKED, 1, TF_FLOOR_R_MAX_TIME);
	expect(n, 1, TF_FLOOR_GRANTED, 3, 0);
	/* an emergency talks longer */
	n = tf_floor_request(&f, 32000, 4, 0, true, ev);
	expect(n, 1, TF_FLOOR_GRANTED, 4, 0);
	assert_int_equal(tf_floor_deadline(&f), 32000 + 120000);
	n = tf_floor_tick(&f, 32000 + 30000, ev);
	assert_int_equal(n, 0);
	n = tf_floor_tick(&f, 32000 + 120000, ev);
	expect(n, 0, TF_FLOOR_REVOKED, 4, TF_FLOOR_R_MAX_TIME);
	expect(n, 1, TF_FLOOR_IDLE, TF_FLOOR_NONE, 0);
}

static void test_full_queue_and_leaving(void **state)
{
	struct tf_floor_cfg nq = cfg;
	struct tf_floor f;
	int n;

	(void)state;
	tf_floor_init(&f, &cfg);
	(void)tf_floor_request(&f, 0, 1, 10, false, ev);
	for (uint32_t m = 2; m < 6; m++) {
		n = tf_floor_request(&f, m, m, 10, false, ev);
		expect(n, 0, TF_FLOOR_QUEUED, m, 0);
	}
	n = tf_floor_request(&f, 9, 6, 10, false, ev);
	expect(n, 0, TF_FLOOR_DENIED, 6, TF_FLOOR_R_BUSY);
	/* a queued member releasing withdraws its request */
	n = tf_floor_release(&f, 10, 3, 0, ev);
	expect(n, 0, TF_FLOOR_DENIED, 3, TF_FLOOR_R_CANCELLED);
	/* a queued member leaving, then the talker leaving */
	n = tf_floor_remove(&f, 11, 2, ev);
	expect(n, 0, TF_FLOOR_DENIED, 2, TF_FLOOR_R_LEFT);
	n = tf_floor_remove(&f, 12, 1, ev);
	assert_int_equal(n, 2);
	expect(n, 0, TF_FLOOR_REVOKED, 1, TF_FLOOR_R_LEFT);
	expect(n, 1, TF_FLOOR_GRANTED, 4, 0);
	/* no queue: busy is a denial */
	nq.queue_max = 0;
	tf_floor_init(&f, &nq);
	(void)tf_floor_request(&f, 0, 1, 10, false, ev);
	n = tf_floor_request(&f, 1, 2, 10, false, ev);
	expect(n, 0, TF_FLOOR_DENIED, 2, TF_FLOOR_R_BUSY);
}

/* A shadow of who holds the floor, built only from the events: a GRANTED
 * while the shadow holds someone is a double grant. */
static unsigned apply(uint32_t *holder, int n)
{
	unsigned doubles = 0;

	for (int i = 0; i < n; i++) {
		switch (ev[i].type) {
		case TF_FLOOR_GRANTED:
			if (*holder != TF_FLOOR_NONE && *holder != ev[i].member)
				doubles++;
			*holder = ev[i].member;
			break;
		case TF_FLOOR_REVOKED:
		case TF_FLOOR_RELEASED:
			if (*holder == ev[i].member)
				*holder = TF_FLOOR_NONE;
			break;
		default: break;
		}
	}
	return doubles;
}

/* A hold (a relay that took a group over across relays): requests
 * queue, nothing is granted, no emergency pre-empts; at its end the head
 * of the queue is granted; a hold on a taken floor is refused. */
static void test_hold(void **state)
{
	struct tf_floor f;
	int n;

	(void)state;
	tf_floor_init(&f, &cfg);
	assert_int_equal(tf_floor_hold(&f, 0, 2500), 0);
	assert_true(tf_floor_taken(&f));
	assert_int_equal(tf_floor_deadline(&f), 2500);
	n = tf_floor_request(&f, 10, 1, 10, false, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_QUEUED, 1, 0);
	n = tf_floor_request(&f, 20, 2, 255, true, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_QUEUED, 2, 0);
	assert_int_equal(ev[0].position, 0); /* the emergency first in line */
	assert_int_equal(tf_floor_tick(&f, 2499, ev), 0);
	/* the end of the hold: no REVOKED for nobody, a grant */
	n = tf_floor_tick(&f, 2500, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_GRANTED, 2, 0);
	assert_int_equal(tf_floor_hold(&f, 2600, 5000), -EBUSY);
	n = tf_floor_release(&f, 2700, 2, 0, ev);
	expect(n, 1, TF_FLOOR_GRANTED, 1, 0);
	n = tf_floor_release(&f, 2800, 1, 0, ev);
	expect(n, 1, TF_FLOOR_IDLE, TF_FLOOR_NONE, 0);
	/* a hold ended early (the old owner's HANDOVER) goes idle */
	assert_int_equal(tf_floor_hold(&f, 3000, 9000), 0);
	assert_int_equal(tf_floor_hold(&f, 3100, 3100), 0);
	n = tf_floor_tick(&f, 3100, ev);
	assert_int_equal(n, 1);
	expect(n, 0, TF_FLOOR_IDLE, TF_FLOOR_NONE, 0);
	assert_false(tf_floor_taken(&f));
}

static void test_contention(void **state)
{
	unsigned doubles = 0, grants = 0, preempts = 0;
	struct tf_floor f;
	uint64_t now = 0;

	(void)state;
	srand(4711);
	tf_floor_init(&f, &cfg);
	for (int t = 0; t < 1000; t++) {
		uint32_t holder = f.talker,
			 members = 2 + (uint32_t)(rand() % 30);
		unsigned granted_this_round = 0;
		int n;

		/* everyone presses in the same millisecond, in random order,
		 * some with an emergency, some pressing twice */
		for (uint32_t k = 0; k < members; k++) {
			uint32_t m = (uint32_t)(rand() % 64);
			bool em = rand() % 16 == 0;
			n = tf_floor_request(&f, now, m,
					     (uint8_t)(rand() % 256), em, ev);
			doubles += apply(&holder, n);
			for (int i = 0; i < n; i++) {
				granted_this_round +=
					ev[i].type == TF_FLOOR_GRANTED;
				preempts += ev[i].type == TF_FLOOR_REVOKED;
			}
			assert_int_equal(holder, f.talker);
		}
		grants += granted_this_round;
		/* then some let go, some leave, the clock moves */
		now += (uint64_t)(rand() % 40000);
		n = tf_floor_tick(&f, now, ev);
		doubles += apply(&holder, n);
		n = tf_floor_release(&f, now, f.talker, 0, ev);
		doubles += apply(&holder, n);
		n = tf_floor_remove(&f, now, (uint32_t)(rand() % 64), ev);
		doubles += apply(&holder, n);
		assert_int_equal(holder, f.talker);
		/* the queue is in rank order without duplicates, and the
		 * talker is never in it */
		for (size_t i = 0; i < f.nq; i++) {
			assert_int_not_equal(f.q[i].member, f.talker);
			for (size_t j = i + 1; j < f.nq; j++)
				assert_int_not_equal(f.q[i].member,
						     f.q[j].member);
			if (i > 0)
				assert_true(f.q[i - 1].emergency >=
					    f.q[i].emergency);
		}
	}
	printf("# floor contention: 1000 trials, %u grants, %u revocations, "
	       "%u double grants\n",
	       grants, preempts, doubles);
	assert_int_equal(doubles, 0);
	assert_true(grants > 1000);
	assert_true(preempts > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant_queue_release),
		cmocka_unit_test(test_preemption),
		cmocka_unit_test(test_max_time_and_timeouts),
		cmocka_unit_test(test_full_queue_and_leaving),
		cmocka_unit_test(test_contention),
		cmocka_unit_test(test_hold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
