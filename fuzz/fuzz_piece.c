/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the pieces of a long message (src/comms/piece.c), which a
 * relay hands over and may forge, drop, repeat or reorder. Input: u8
 * selector | payload. Selector 0: one piece (comms_piece_parse) and, if
 * it parses, rebuilt from its own data: the same bytes (one encoding).
 * Selector 1: a decrypted envelope (comms_long_unwrap) under the id of
 * its first 16 bytes. Selector 2: a run of pieces of PIECE_BYTES each
 * fed to the reassembly bookkeeping from two senders (the byte after
 * each piece picks the sender and the clock step). Invariants: no read
 * outside the input; a parsed piece has index < count <= PIECES_MAX and
 * 1 <= len <= PIECE_DATA; the bookkeeping holds at most PARTIALS_MAX
 * messages, says COMPLETE exactly when every piece of one is kept, never
 * marks a piece past its count, and an expired slot is one that exists.
 */
#include <stdlib.h>
#include <string.h>

#include "piece.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_piece(const uint8_t *p, size_t n)
{
	struct comms_piece pc;
	uint8_t again[PIECE_BYTES];

	if (comms_piece_parse(p, n, &pc) < 0)
		return;
	if (pc.index >= pc.count || pc.count > PIECES_MAX || pc.len == 0 ||
	    pc.len > PIECE_DATA || pc.data != p + PIECE_HDR)
		abort();
	/* the last piece of a message of this many bytes is this one */
	if (pc.index + 1 == pc.count) {
		size_t total = (size_t)pc.index * PIECE_DATA + pc.len;
		static uint8_t sealed[PIECES_MAX * PIECE_DATA];

		memset(sealed, 0, total);
		memcpy(sealed + (size_t)pc.index * PIECE_DATA, pc.data, pc.len);
		if (comms_piece_count(total) != pc.count ||
		    comms_piece_build(pc.id, sealed, total, pc.index, again) !=
			    PIECE_BYTES ||
		    memcmp(again, p, PIECE_BYTES) != 0)
			abort();
	}
}

static void envelope(const uint8_t *p, size_t n)
{
	const uint8_t *t;
	size_t tn;

	if (n < PIECE_ID_BYTES)
		return;
	if (comms_long_unwrap(p + PIECE_ID_BYTES, n - PIECE_ID_BYTES, p, &t,
			      &tn) == 0 &&
	    (tn == 0 || t < p || t + tn != p + n))
		abort();
}

static void reassembly(const uint8_t *p, size_t n)
{
	static struct comms_reasm r;
	static const char *const from[2] = {"alice/phone", "bob"};
	uint64_t now = 1000;
	int v;

	memset(&r, 0, sizeof(r));
	while (n >= PIECE_BYTES + 1) {
		struct comms_piece pc;
		int slot, ev;
		const char *f = from[p[PIECE_BYTES] & 1];

		now += (uint64_t)(p[PIECE_BYTES] >> 1) * 1000;
		if (comms_piece_parse(p, PIECE_BYTES, &pc) == 0) {
			v = comms_reasm_add(&r, f, &pc, now, &slot, &ev);
			if (ev >= 0) {
				if ((size_t)ev >= r.n || r.n != PARTIALS_MAX)
					abort();
				comms_reasm_drop(&r, ev);
				v = comms_reasm_add(&r, f, &pc, now, &slot,
						    &ev);
			}
			if (v < 0 || slot < 0 || (size_t)slot >= r.n || ev >= 0)
				abort();
			if ((v == REASM_COMPLETE) !=
			    (comms_reasm_have(&r.p[slot]) == r.p[slot].count &&
			     v != REASM_HAVE && v != REASM_CONFLICT))
				abort();
			if (r.p[slot].have >> r.p[slot].count)
				abort();
			if (v == REASM_COMPLETE || v == REASM_CONFLICT)
				comms_reasm_drop(&r, slot);
		}
		if (r.n > PARTIALS_MAX)
			abort();
		v = comms_reasm_expired(&r, now, 30000);
		if (v >= 0) {
			if ((size_t)v >= r.n)
				abort();
			comms_reasm_drop(&r, v);
		}
		p += PIECE_BYTES + 1;
		n -= PIECE_BYTES + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: one_piece(data + 1, size - 1); break;
	case 1: envelope(data + 1, size - 1); break;
	default: reassembly(data + 1, size - 1); break;
	}
	return 0;
}
