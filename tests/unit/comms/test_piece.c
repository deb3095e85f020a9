/* SPDX-License-Identifier: ISC */
/*
 * Long messages in pieces (src/comms/piece.c, built in here;
 * docs/comms-protocol.md "Long messages"): the piece format (one size,
 * one encoding, every field bounded), the ids of the pieces, the
 * envelope that names the message id, and the reassembly bookkeeping
 * (in any order, duplicates, a count that disagrees, the bound on
 * incomplete messages, the age).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "piece.h"

static const uint8_t ID[PIECE_ID_BYTES] = {1, 2,  3,  4,  5,  6,  7,  8,
					   9, 10, 11, 12, 13, 14, 15, 16};

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed);
}

/* every piece of a sealed message is PIECE_BYTES, and put together in
 * index order they are the message */
static void test_split_join(void **state)
{
	static uint8_t sealed[PIECES_MAX * PIECE_DATA], back[sizeof(sealed)];
	static const size_t sizes[] = {1, 999, 1000, 1001, 2500, 5000, 16935};
	(void)state;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], got = 0;
		unsigned count = comms_piece_count(n);

		fill(sealed, n, (unsigned)k);
		assert_int_equal(count, (n + PIECE_DATA - 1) / PIECE_DATA);
		for (unsigned i = 0; i < count; i++) {
			uint8_t pc[PIECE_BYTES];
			struct comms_piece p;

			assert_int_equal(
				comms_piece_build(ID, sealed, n, i, pc),
				PIECE_BYTES);
			assert_true(comms_is_piece(pc, sizeof(pc)));
			assert_int_equal(comms_piece_parse(pc, sizeof(pc), &p),
					 0);
			assert_memory_equal(p.id, ID, PIECE_ID_BYTES);
			assert_int_equal(p.index, i);
			assert_int_equal(p.count, count);
			memcpy(back + got, p.data, p.len);
			got += p.len;
		}
		assert_int_equal(got, n);
		assert_memory_equal(back, sealed, n);
		assert_int_equal(comms_piece_build(ID, sealed, n, count,
						   (uint8_t[PIECE_BYTES]){0}),
				 -EINVAL);
	}
	assert_int_equal(comms_piece_count(0), 0);
	assert_int_equal(comms_piece_count((size_t)PIECES_MAX * PIECE_DATA + 1),
			 0);
	/* the largest sealed message fits */
	assert_true(comms_piece_count(TF_E2E_MSG_MAX) > 0);
}

/* one encoding: every field checked, the padding zero, the size fixed */
static void test_parse_refuses(void **state)
{
	uint8_t sealed[2500], pc[PIECE_BYTES + 1], bad[PIECE_BYTES];
	struct comms_piece p;
	(void)state;

	fill(sealed, sizeof(sealed), 7);
	assert_int_equal(comms_piece_build(ID, sealed, sizeof(sealed), 2, pc),
			 PIECE_BYTES);
	assert_int_equal(comms_piece_parse(pc, PIECE_BYTES - 1, &p), -EBADMSG);
	pc[PIECE_BYTES] = 0;
	assert_int_equal(comms_piece_parse(pc, PIECE_BYTES + 1, &p), -EBADMSG);
	/* each header byte changed (but the id, which is any 16 bytes) */
	for (size_t i = 0; i < PIECE_HDR; i++) {
		if (i >= 2 && i < 18)
			continue;
		memcpy(bad, pc, PIECE_BYTES);
		bad[i] ^= 0x80;
		assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p),
				 -EBADMSG);
	}
	/* a byte of padding after the last piece's 500 bytes */
	memcpy(bad, pc, PIECE_BYTES);
	bad[PIECE_BYTES - 1] = 1;
	assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p), -EBADMSG);
	/* a piece that is not the last must be full */
	assert_int_equal(comms_piece_build(ID, sealed, sizeof(sealed), 0, bad),
			 PIECE_BYTES);
	bad[23] = 0xe7; /* len 999 */
	bad[PIECE_BYTES - 1] = 0;
	assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p), -EBADMSG);
	/* index == count, count 0, count over PIECES_MAX, len 0 */
	memcpy(bad, pc, PIECE_BYTES);
	bad[19] = 3;
	assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p), -EBADMSG);
	memcpy(bad, pc, PIECE_BYTES);
	bad[18] = bad[19] = bad[20] = bad[21] = 0;
	assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p), -EBADMSG);
	memcpy(bad, pc, PIECE_BYTES);
	bad[21] = PIECES_MAX + 1;
	assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p), -EBADMSG);
	memcpy(bad, pc, PIECE_BYTES);
	bad[22] = bad[23] = 0;
	assert_int_equal(comms_piece_parse(bad, PIECE_BYTES, &p), -EBADMSG);
	/* an end-to-end message is not a piece */
	assert_false(comms_is_piece((const uint8_t[]){1, 2, 3}, 3));
}

static void test_ids(void **state)
{
	uint8_t a[PIECE_ID_BYTES], b[PIECE_ID_BYTES];
	(void)state;

	for (unsigned i = 0; i < PIECES_MAX; i++) {
		comms_piece_id(ID, i, a);
		assert_memory_not_equal(a, ID, PIECE_ID_BYTES);
		for (unsigned j = 0; j < i; j++) {
			comms_piece_id(ID, j, b);
			assert_memory_not_equal(a, b, PIECE_ID_BYTES);
		}
		comms_piece_id(ID, i, b);
		assert_memory_equal(a, b, PIECE_ID_BYTES); /* retries */
	}
}

static void test_envelope(void **state)
{
	uint8_t env[64], other[PIECE_ID_BYTES] = {9};
	const uint8_t *t;
	size_t tn;
	int n;
	(void)state;

	n = comms_long_wrap(ID, "a report", 8, env, sizeof(env));
	assert_int_equal(n, LONG_ENV_HDR + 8);
	assert_int_equal(comms_long_unwrap(env, (size_t)n, ID, &t, &tn), 0);
	assert_int_equal(tn, 8);
	assert_memory_equal(t, "a report", 8);
	/* relabelled as another message, or not an envelope at all */
	assert_int_equal(comms_long_unwrap(env, (size_t)n, other, &t, &tn),
			 -EBADMSG);
	assert_int_equal(
		comms_long_unwrap((const uint8_t *)"hello", 5, ID, &t, &tn),
		-EBADMSG);
	assert_int_equal(comms_long_unwrap(env, LONG_ENV_HDR, ID, &t, &tn),
			 -EBADMSG);
	assert_int_equal(comms_long_wrap(ID, "x", 1, env, LONG_ENV_HDR),
			 -ENOBUFS);
	assert_int_equal(comms_long_wrap(ID, "", 0, env, sizeof(env)), -EINVAL);
}

static struct comms_piece piece(const uint8_t *id, unsigned i, unsigned n)
{
	struct comms_piece p = {.index = i, .count = n, .len = PIECE_DATA};

	memcpy(p.id, id, PIECE_ID_BYTES);
	return p;
}

static void test_reassembly(void **state)
{
	static struct comms_reasm r;
	struct comms_piece p;
	int slot, ev;
	(void)state;

	memset(&r, 0, sizeof(r));
	/* out of order, with a duplicate: complete only at the last */
	p = piece(ID, 2, 3);
	assert_int_equal(comms_reasm_add(&r, "alice/phone", &p, 10, &slot, &ev),
			 REASM_NEW);
	p = piece(ID, 0, 3);
	assert_int_equal(comms_reasm_add(&r, "alice/phone", &p, 11, &slot, &ev),
			 REASM_NEW);
	assert_int_equal(comms_reasm_add(&r, "alice/phone", &p, 12, &slot, &ev),
			 REASM_HAVE);
	/* the same id from another sender is another message */
	p = piece(ID, 1, 3);
	assert_int_equal(comms_reasm_add(&r, "carol/phone", &p, 12, &slot, &ev),
			 REASM_NEW);
	assert_int_equal(r.n, 2);
	assert_int_equal(comms_reasm_add(&r, "alice/phone", &p, 13, &slot, &ev),
			 REASM_COMPLETE);
	assert_int_equal(comms_reasm_have(&r.p[slot]), 3);
	assert_int_equal(r.p[slot].first_ms, 10);
	comms_reasm_drop(&r, slot);
	assert_int_equal(r.n, 1);
	/* a count that disagrees with its siblings' */
	p = piece(ID, 0, 4);
	assert_int_equal(comms_reasm_add(&r, "carol/phone", &p, 14, &slot, &ev),
			 REASM_CONFLICT);
	assert_int_equal(comms_reasm_find(&r, "carol/phone", ID), slot);
	/* the age: carol's (first at 12) is expired at 12 + age */
	assert_int_equal(comms_reasm_expired(&r, 12 + 999, 1000), -1);
	assert_int_equal(comms_reasm_expired(&r, 12 + 1000, 1000), slot);
	/* a clock set far back expires it too, a little back does not */
	assert_int_equal(comms_reasm_expired(&r, 5, 1000), -1);
	r.p[slot].first_ms = 5000;
	assert_int_equal(comms_reasm_expired(&r, 3000, 1000), slot);
	r.p[slot].first_ms = 12;
	comms_reasm_drop(&r, slot);
	assert_int_equal(r.n, 0);
	/* at most PARTIALS_MAX incomplete: the oldest is named, nothing
	 * changes until the caller drops it */
	for (unsigned k = 0; k < PARTIALS_MAX; k++) {
		uint8_t id[PIECE_ID_BYTES] = {(uint8_t)k};

		p = piece(id, 0, 2);
		assert_int_equal(
			comms_reasm_add(&r, "bob", &p, 100 - k, &slot, &ev),
			REASM_NEW);
	}
	{
		uint8_t id[PIECE_ID_BYTES] = {0xee};

		p = piece(id, 0, 2);
		assert_int_equal(
			comms_reasm_add(&r, "bob", &p, 200, &slot, &ev),
			REASM_NEW);
		assert_int_equal(slot, -1);
		assert_int_equal(ev, PARTIALS_MAX - 1); /* first at 100 - 15 */
		assert_int_equal(r.n, PARTIALS_MAX);
		comms_reasm_drop(&r, ev);
		assert_int_equal(
			comms_reasm_add(&r, "bob", &p, 200, &slot, &ev),
			REASM_NEW);
		assert_true(slot >= 0);
		assert_int_equal(ev, -1);
	}
	/* out of range */
	p = piece(ID, 3, 3);
	assert_int_equal(comms_reasm_add(&r, "bob", &p, 1, &slot, &ev),
			 -EINVAL);
	p = piece(ID, 0, PIECES_MAX + 1);
	assert_int_equal(comms_reasm_add(&r, "bob", &p, 1, &slot, &ev),
			 -EINVAL);
	p = piece(ID, 0, 2);
	assert_int_equal(comms_reasm_add(&r, "", &p, 1, &slot, &ev), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_join),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_reassembly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
