/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-relay's talk-group requests (src/relay/group.c,
 * ops 0x30..0x3a), which any certified device sends. Input: steps of
 * u8 member (0..3, or the group authority) | u16 length | payload, fed to
 * relay_groups_request with a clock that moves, and relay_groups_tick /
 * relay_groups_sess_gone in between. The four members and the authority
 * are fixed (the same CA seed as fuzz_cert; fuzz/corpus/fuzz_relay_group
 * holds a JOIN with a roster they signed, so the fuzzer gets past the
 * signature to the floor and the fan-out). Invariants: no read outside
 * the input, every datagram sent fits one channel payload and goes to a
 * session that exists.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000ull

static struct tf_cert_anchor anchor;
static struct relay_member mem[5];
static const char *const names[5] = {"m000", "m001", "m002", "m003", "groupd"};
static bool ready;

static void init(void)
{
	const struct tf_suite *s;
	uint8_t seed[TF_KEY_BYTES], pk[TF_PK_MAX];
	struct tf_key *k = NULL;

	if (tf_crypto_init() < 0 || (s = tf_suite_at(0)) == NULL)
		abort();
	memset(seed, 0x11, sizeof(seed));
	if (tf_key_sign_from_seed(s, seed, &k) < 0 ||
	    tf_key_public(k, pk, sizeof(pk)) < 0 ||
	    tf_cert_anchor_init(&anchor, s, pk, s->pk_bytes) < 0)
		abort();
	tf_key_free(k);
	for (int i = 0; i < 5; i++) {
		mem[i].sess = 100 + (uint32_t)i;
		mem[i].officer = names[i];
		memset(mem[i].device, 0x40 + i, sizeof(mem[i].device));
		mem[i].role = i == 4 ? TF_ROLE_GROUP_AUTHORITY
				     : (i == 0 ? TF_ROLE_DISPATCHER
					       : TF_ROLE_OFFICER);
	}
	ready = true;
}

static void sink(void *ctx, uint32_t sess, const uint8_t *pt, size_t n)
{
	(void)ctx;
	(void)pt;
	if (n == 0 || n > 1400 || sess < 100 || sess > 104)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tf_floor_cfg cfg = {.max_talk_ms = 3000,
					 .emergency_talk_ms = 9000,
					 .queue_ms = 1000,
					 .queue_max = 4,
					 .preempt_priority = 200};
	struct relay_groups *g = NULL;
	uint64_t ms = 0;
	size_t i = 0;

	if (!ready)
		init();
	if (relay_groups_new(&anchor, &cfg, sink, NULL, &g) < 0)
		abort();
	while (i + 3 <= size) {
		uint8_t who = data[i];
		size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		ms += who >> 4;
		if ((who & 0x0f) == 0x0f) {
			relay_groups_tick(g, ms);
		} else if ((who & 0x0f) == 0x0e) {
			relay_groups_sess_gone(g, 101, ms);
		} else if (n > 0) {
			(void)relay_groups_request(g, &mem[(who & 0x0f) % 5],
						   data + i, n, NOW, ms);
		}
		i += n;
	}
	(void)relay_groups_deadline(g);
	relay_groups_free(g);
	return 0;
}
