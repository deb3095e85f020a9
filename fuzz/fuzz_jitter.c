/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the call jitter buffer (src/comms/jitter.c). Frame
 * indexes come from the peer (authenticated, but a peer may jump its
 * counter anywhere), so any sequence of puts, pops and clock steps must
 * keep its invariants. Input: 4-byte steps (op, index step, clock step
 * in 100 µs). Invariants: frames come out in strictly increasing index
 * order, a played frame carries its own packet, one drain pops at most
 * TF_JB_SLOTS + 1 frames (no loop over a gap), the delay stays within
 * its bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jitter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pkt_of(uint64_t idx, uint8_t p[8])
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(idx >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tf_jb jb; /* ~7 KiB: not on the fuzzer's stack */
	struct tf_jb_out o;
	uint64_t now = 1000000, cur = 1000, last = 0;
	bool any = false;
	uint8_t p[16] = {0}; /* puts of up to 15 bytes (op 2) */

	tf_jb_init(&jb);
	for (size_t i = 0; i + 4 <= size; i += 4) {
		uint8_t op = data[i] & 3;
		int8_t d = (int8_t)data[i + 1];

		now += (uint64_t)(data[i + 2] | data[i + 3] << 8) * 100;
		switch (op) {
		case 0: /* a frame near the newest */
		case 1:
			cur = cur + (uint64_t)(int64_t)d;
			pkt_of(cur, p);
			(void)tf_jb_put(&jb, cur, p, 8, now);
			break;
		case 2: /* a jump: 2^(d & 63) ahead */
			cur += 1ull << (d & 63);
			pkt_of(cur, p);
			(void)tf_jb_put(&jb, cur, p, (size_t)(d & 15), now);
			break;
		default: { /* the playout tick */
			enum tf_jb_what w;
			int n = 0;

			while ((w = tf_jb_pop(&jb, now, &o)) != TF_JB_WAIT) {
				if (any && o.idx <= last) {
					fprintf(stderr,
						"order: %llu after %llu\n",
						(unsigned long long)o.idx,
						(unsigned long long)last);
					abort(); /* out of order or twice */
				}
				any = true;
				last = o.idx;
				if (w == TF_JB_PLAY && o.len == 8) {
					pkt_of(o.idx, p);
					if (memcmp(o.pkt, p, 8) != 0) {
						fprintf(stderr,
							"frame %llu: another's "
							"packet\n",
							(unsigned long long)
								o.idx);
						abort();
					}
				}
				if (++n > TF_JB_SLOTS + 1) {
					fprintf(stderr, "%d pops in a drain\n",
						n);
					abort(); /* a loop over a gap */
				}
			}
			break;
		}
		}
		if (jb.delay_us < TF_JB_DELAY_MIN_US ||
		    jb.delay_us > TF_JB_DELAY_MAX_US) {
			fprintf(stderr, "delay %lld\n", (long long)jb.delay_us);
			abort();
		}
	}
	return 0;
}
