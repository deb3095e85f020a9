/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: floor control (src/relay/floor.c). The relay feeds it
 * presses and releases straight from devices, so any sequence must keep
 * its invariants. Input: 4-byte steps (op, member, priority, clock step).
 * Invariants, checked against a shadow built only from the events: never
 * two talkers (a GRANTED while someone holds the floor), the shadow and
 * the state agree, the queue is bounded, in rank order, without
 * duplicates and without the talker, and no call writes more events than
 * TF_FLOOR_EVENTS_MAX.
 */
#include <stdlib.h>

#include "floor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* one spare slot past the maximum: a write there is a bug */
	struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX + 1];
	const struct tf_floor_cfg cfg = {.max_talk_ms = 3000,
					 .emergency_talk_ms = 9000,
					 .queue_ms = 1000,
					 .queue_max = TF_FLOOR_QUEUE_MAX,
					 .preempt_priority = 200};
	struct tf_floor f;
	uint32_t holder = TF_FLOOR_NONE;
	uint64_t now = 0;

	tf_floor_init(&f, &cfg);
	for (size_t i = 0; i + 4 <= size; i += 4) {
		uint8_t op = data[i] & 7, pri = data[i + 2];
		uint32_t m = data[i + 1] & 63;
		int n;

		now += (uint64_t)data[i + 3] * 16;
		ev[TF_FLOOR_EVENTS_MAX].type = 0xee;
		switch (op) {
		case 0:
		case 1: n = tf_floor_request(&f, now, m, pri, false, ev); break;
		case 2: n = tf_floor_request(&f, now, m, pri, true, ev); break;
		case 3: n = tf_floor_release(&f, now, m, 0, ev); break;
		case 4: n = tf_floor_release(&f, now, m, pri, ev); break;
		case 5: n = tf_floor_remove(&f, now, m, ev); break;
		default: n = tf_floor_tick(&f, now, ev); break;
		}
		if (n < 0 || n > TF_FLOOR_EVENTS_MAX ||
		    ev[TF_FLOOR_EVENTS_MAX].type != 0xee)
			abort();
		for (int k = 0; k < n; k++) {
			if (ev[k].type == TF_FLOOR_GRANTED) {
				if (holder != TF_FLOOR_NONE &&
				    holder != ev[k].member)
					abort();
				holder = ev[k].member;
			} else if ((ev[k].type == TF_FLOOR_REVOKED ||
				    ev[k].type == TF_FLOOR_RELEASED) &&
				   holder == ev[k].member) {
				holder = TF_FLOOR_NONE;
			}
		}
		if (holder != f.talker || f.nq > TF_FLOOR_QUEUE_MAX)
			abort();
		for (size_t a = 0; a < f.nq; a++) {
			if (f.q[a].member == f.talker)
				abort();
			if (a > 0 && f.q[a - 1].emergency < f.q[a].emergency)
				abort();
			if (a > 0 && f.q[a - 1].emergency == f.q[a].emergency &&
			    f.q[a - 1].priority < f.q[a].priority)
				abort();
			for (size_t b = a + 1; b < f.nq; b++)
				if (f.q[a].member == f.q[b].member)
					abort();
		}
	}
	return 0;
}
