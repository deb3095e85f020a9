/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' talk-group pieces that need no service (src/comms/
 * wire.c): the previous epoch's key across a rekey, through the same
 * ptt_open_frame the service plays frames with, and the parsers of the
 * relay's replies and the authority's key message (bounds). Both suites.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/sframe.h"
#include "wire.h"

#define G "north"

static int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

/* one frame of talker index idx at (epoch, secret), counter ctr */
static size_t seal(const struct tf_suite *s, const uint8_t *sec, uint64_t epoch,
		   unsigned idx, uint64_t ctr, uint8_t *out)
{
	uint8_t base[TF_KEY_BYTES], pt[60];
	struct tf_sframe_key *k = NULL;
	uint64_t kid = tf_group_kid(epoch, idx);
	int n;

	memset(pt, (int)ctr, sizeof(pt));
	assert_int_equal(tf_group_talker_key(s, sec, G, epoch, idx, base), 0);
	assert_int_equal(tf_sframe_key_derive(s, base, sizeof(base), kid, &k),
			 0);
	n = tf_sframe_seal(k, ctr, pt, sizeof(pt), out, 256);
	tf_sframe_key_free(k);
	assert_true(n > 0);
	return (size_t)n;
}

static int open1(const struct tf_suite *s, uint64_t epoch, const uint8_t *sec,
		 struct ptt_grace *prev, const uint8_t *f, size_t n,
		 uint64_t now)
{
	uint8_t pt[256];
	uint64_t ctr = 0;
	int m = ptt_open_frame(s, G, epoch, sec, prev, f, n, now, pt,
			       sizeof(pt), &ctr);
	if (m >= 0) {
		assert_int_equal(m, 60);
		assert_int_equal(pt[0], (uint8_t)ctr);
	}
	return m;
}

/* A burst of 40 frames by talker 0; the talker switches from epoch 2 to
 * epoch 3 after frame 20, and the receiving member installs epoch 3
 * (at t = 1000 ms) before the last 5 frames of epoch 2 reach it. */
static void test_grace(void **state)
{
	(void)state;
	for (size_t si = 0; tf_suite_at(si) != NULL; si++) {
		const struct tf_suite *s = tf_suite_at(si);
		uint8_t s2[TF_GROUP_SECRET_BYTES], s3[TF_GROUP_SECRET_BYTES];
		uint8_t f[40][256];
		size_t fl[40];
		struct ptt_grace prev = {0}, none = {0};
		int played = 0;

		assert_int_equal(tf_random(s2, sizeof(s2)), 0);
		assert_int_equal(tf_random(s3, sizeof(s3)), 0);
		for (unsigned i = 0; i < 40; i++)
			fl[i] = seal(s, i < 20 ? s2 : s3, i < 20 ? 2 : 3, 0,
				     100 + i, f[i]);
		/* frames 0..14 arrive under epoch 2 in force */
		for (unsigned i = 0; i < 15; i++)
			played += open1(s, 2, s2, &prev, f[i], fl[i], 900) > 0;
		/* the rekey: epoch 3 in force, epoch 2 kept for the window */
		assert_int_equal(ptt_grace_keep(&prev, 2, s2, 1000), 0);
		/* the talker's first frames of epoch 3 overtake its last
		 * ones of epoch 2 (another path, a relay queue) */
		for (unsigned i = 20; i < 25; i++)
			played += open1(s, 3, s3, &prev, f[i], fl[i], 1010) > 0;
		for (unsigned i = 15; i < 20; i++)
			played += open1(s, 3, s3, &prev, f[i], fl[i], 1020) > 0;
		for (unsigned i = 25; i < 40; i++)
			played += open1(s, 3, s3, &prev, f[i], fl[i], 1500) > 0;
		/* no gap: every frame of the burst opened */
		assert_int_equal(played, 40);

		/* after the window: an old-epoch frame replayed is refused,
		 * and the previous key is gone from memory */
		assert_int_equal(open1(s, 3, s3, &prev, f[5], fl[5],
				       1000 + PTT_GRACE_MS),
				 -ENOKEY);
		assert_null(prev.secret);
		assert_int_equal(prev.epoch, 0);
		/* epoch 3 still plays */
		assert_int_equal(open1(s, 3, s3, &prev, f[30], fl[30], 5000),
				 60);

		/* a joiner of epoch 3 never had epoch 2: nothing of it */
		for (unsigned i = 0; i < 20; i++)
			assert_int_equal(
				open1(s, 3, s3, &none, f[i], fl[i], 1010),
				-ENOKEY);
		/* the removed member (still on epoch 2, no key for 3):
		 * nothing of epoch 3 (a newer epoch: it may hold the
		 * ciphertext, but no key ever comes) */
		for (unsigned i = 20; i < 40; i++)
			assert_int_equal(
				open1(s, 2, s2, &none, f[i], fl[i], 1010),
				-EAGAIN);
		/* the grace key only for its own epoch: epoch 1 frames are
		 * not opened by it, nor by the key in force */
		{
			uint8_t g1[256];
			size_t n1 = seal(s, s2, 1, 0, 7, g1);
			assert_int_equal(ptt_grace_keep(&prev, 2, s2, 0), 0);
			assert_int_equal(open1(s, 3, s3, &prev, g1, n1, 10),
					 -ENOKEY);
			/* a flipped bit of an epoch-2 frame in the window */
			f[16][fl[16] - 1] ^= 1;
			assert_int_equal(
				open1(s, 3, s3, &prev, f[16], fl[16], 10),
				-EBADMSG);
			ptt_grace_tick(&prev, 999);
			assert_non_null(prev.secret);
			ptt_grace_tick(&prev, PTT_GRACE_MS);
			assert_null(prev.secret);
		}
		/* no key in force at all */
		assert_int_equal(open1(s, 3, NULL, &none, f[30], fl[30], 0),
				 -ENOKEY);
	}
}

static void test_hold(void **state)
{
	struct ptt_hold h = {0};
	struct ptt_held x;
	uint8_t f[PTT_HELD_BYTES + 1] = {0};
	(void)state;

	assert_false(ptt_hold_next(&h, 0, &x));
	assert_int_equal(ptt_hold_put(&h, 1, f, sizeof(f), 0), -EMSGSIZE);
	/* more than it holds: the oldest go, in order */
	for (unsigned i = 0; i < PTT_HOLD_FRAMES + 10; i++) {
		f[0] = (uint8_t)i;
		assert_int_equal(ptt_hold_put(&h, 7, f, 60, 100 + i), 0);
	}
	assert_int_equal(h.count, PTT_HOLD_FRAMES);
	assert_true(ptt_hold_next(&h, 200, &x));
	assert_int_equal(x.b[0], 10);
	assert_int_equal(x.n, 60);
	assert_int_equal(x.burst, 7);
	/* past PTT_HOLD_MS: dropped, the fresher ones come */
	assert_true(ptt_hold_next(&h, 100 + 20 + PTT_HOLD_MS - 1, &x));
	assert_int_equal(x.b[0], 20);
	assert_false(ptt_hold_next(&h, 100000, &x));
	assert_int_equal(h.count, 0);
	ptt_hold_free(&h);
	assert_null(h.f);
}

static size_t name(uint8_t *b, const char *n)
{
	b[0] = (uint8_t)strlen(n);
	memcpy(b + 1, n, b[0]);
	return 1u + b[0];
}

static void test_parsers(void **state)
{
	uint8_t b[128] = {0};
	size_t l = name(b, G);
	struct ptt_state st;
	struct ptt_floor fl;
	struct ptt_frame fr;
	struct ptt_piece pc;
	(void)state;

	/* STATE: 22 bytes after the group and the talker's length byte */
	memset(b + l, 0, 23);
	b[l + 8] = 1;
	b[l + 12] = 7;
	assert_int_equal(ptt_parse_state(b, l + 23, &st), 0);
	assert_true(st.taken);
	assert_int_equal(st.burst, 7);
	assert_string_equal(st.talker, "");
	/* one byte short: the talker's length byte is missing (read past
	 * the end before wire.c) */
	assert_int_equal(ptt_parse_state(b, l + 22, &st), -EBADMSG);
	l += 22;
	l += name(b + l, "alice");
	assert_int_equal(ptt_parse_state(b, l, &st), 0);
	assert_string_equal(st.talker, "alice");
	/* a talker name longer than what is left */
	assert_int_equal(ptt_parse_state(b, l - 1, &st), -EBADMSG);

	/* FLOOR */
	l = name(b, G);
	memset(b + l, 0, 9);
	b[l] = 1;
	l += 9;
	assert_int_equal(ptt_parse_floor(b, l, &fl), -EBADMSG);
	b[l] = 0;
	assert_int_equal(ptt_parse_floor(b, l + 1, &fl), 0);
	assert_int_equal(fl.type, 1);
	l += name(b + l, "../x");
	assert_int_equal(ptt_parse_floor(b, l, &fl), -EBADMSG);

	/* FRAME */
	l = name(b, G);
	l += name(b + l, "bob");
	assert_int_equal(ptt_parse_frame(b, l + 3, &fr), -EBADMSG);
	assert_int_equal(ptt_parse_frame(b, l + 4, &fr), 0);
	assert_int_equal(fr.sflen, 0);

	/* ROSTER piece: offset and length within total */
	l = name(b, G);
	memset(b + l, 0, 8);
	b[l + 3] = 10; /* total 10 */
	b[l + 7] = 4;  /* offset 4 */
	assert_int_equal(ptt_parse_piece(b, l + 8 + 6, &pc), 0);
	assert_int_equal(pc.len, 6);
	assert_int_equal(ptt_parse_piece(b, l + 8 + 7, &pc), -EBADMSG);
	b[l + 3] = 0; /* total 0 */
	assert_int_equal(ptt_parse_piece(b, l + 8, &pc), -EBADMSG);
}

static void test_keymsg(void **state)
{
	char t[300];
	struct ptt_keymsg km;
	uint8_t sec[TF_GROUP_SECRET_BYTES];
	const char *hx64 = "000102030405060708090a0b0c0d0e0f"
			   "101112131415161718191a1b1c1d1e1f";
	(void)state;

	snprintf(t, sizeof(t), PTT_KEYMSG_PREFIX "north 5 %s %s", hx64, hx64);
	assert_int_equal(ptt_parse_keymsg(t, strlen(t), &km, sec), 0);
	assert_string_equal(km.group, "north");
	assert_int_equal(km.epoch, 5);
	assert_int_equal(sec[31], 0x1f);
	assert_int_equal(km.hash[1], 1);
	/* not NUL-terminated: only n bytes are read */
	assert_int_equal(ptt_parse_keymsg(t, strlen(t) - 1, &km, sec),
			 -EBADMSG);
	assert_int_equal(ptt_parse_keymsg("hello", 5, &km, sec), -ENOENT);
	snprintf(t, sizeof(t), PTT_KEYMSG_PREFIX "north 5 %s %s junk", hx64,
		 hx64);
	assert_int_equal(ptt_parse_keymsg(t, strlen(t), &km, sec), -EBADMSG);
	snprintf(t, sizeof(t), PTT_KEYMSG_PREFIX "north 0 %s %s", hx64, hx64);
	assert_int_equal(ptt_parse_keymsg(t, strlen(t), &km, sec), -EBADMSG);
	snprintf(t, sizeof(t), PTT_KEYMSG_PREFIX "no/rth 5 %s %s", hx64, hx64);
	assert_int_equal(ptt_parse_keymsg(t, strlen(t), &km, sec), -EBADMSG);
	snprintf(t, sizeof(t), PTT_KEYMSG_PREFIX "north 5 %s %.62szz", hx64,
		 hx64);
	assert_int_equal(ptt_parse_keymsg(t, strlen(t), &km, sec), -EBADMSG);
	for (size_t i = 0; i < sizeof(sec); i++)
		assert_int_equal(sec[i], 0); /* wiped on the error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grace),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_keymsg),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
