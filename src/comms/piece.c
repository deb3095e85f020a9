/* SPDX-License-Identifier: ISC */
/*
 * Long messages in pieces (piece.h; docs/comms-protocol.md "Long
 * messages"). Every parser here reads a piece the relay handed over:
 * untrusted, bounded by the length given, fuzzed (fuzz/fuzz_piece.c).
 */
#include <errno.h>
#include <string.h>

#include "piece.h"

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

bool comms_is_piece(const uint8_t *b, size_t n)
{
	return n >= 1 && b[0] == PIECE_MARK;
}

int comms_piece_parse(const uint8_t *b, size_t n, struct comms_piece *out)
{
	struct comms_piece pc;
	uint8_t pad = 0;

	if (n != PIECE_BYTES || b[0] != PIECE_MARK || b[1] != PIECE_VERSION)
		return -EBADMSG;
	memcpy(pc.id, b + 2, PIECE_ID_BYTES);
	pc.index = get16(b + 18);
	pc.count = get16(b + 20);
	pc.len = get16(b + 22);
	if (pc.count == 0 || pc.count > PIECES_MAX || pc.index >= pc.count ||
	    pc.len == 0 || pc.len > PIECE_DATA ||
	    (pc.index + 1 < pc.count && pc.len != PIECE_DATA))
		return -EBADMSG;
	/* the padding is zeros: a piece has one encoding */
	for (size_t i = PIECE_HDR + pc.len; i < PIECE_BYTES; i++)
		pad |= b[i];
	if (pad != 0)
		return -EBADMSG;
	pc.data = b + PIECE_HDR;
	*out = pc;
	return 0;
}

unsigned comms_piece_count(size_t n)
{
	if (n == 0 || n > (size_t)PIECES_MAX * PIECE_DATA)
		return 0;
	return (unsigned)((n + PIECE_DATA - 1) / PIECE_DATA);
}

int comms_piece_build(const uint8_t id[static PIECE_ID_BYTES],
		      const uint8_t *sealed, size_t n, unsigned index,
		      uint8_t out[static PIECE_BYTES])
{
	unsigned count = comms_piece_count(n);
	size_t off, len;

	if (count == 0 || index >= count)
		return -EINVAL;
	off = (size_t)index * PIECE_DATA;
	len = n - off < PIECE_DATA ? n - off : PIECE_DATA;
	memset(out, 0, PIECE_BYTES);
	out[0] = PIECE_MARK;
	out[1] = PIECE_VERSION;
	memcpy(out + 2, id, PIECE_ID_BYTES);
	put16(out + 18, index);
	put16(out + 20, count);
	put16(out + 22, (unsigned)len);
	memcpy(out + PIECE_HDR, sealed + off, len);
	return PIECE_BYTES;
}

void comms_piece_id(const uint8_t id[static PIECE_ID_BYTES], unsigned index,
		    uint8_t out[static PIECE_ID_BYTES])
{
	unsigned x = index + 1;

	memcpy(out, id, PIECE_ID_BYTES);
	out[PIECE_ID_BYTES - 2] ^= (uint8_t)(x >> 8);
	out[PIECE_ID_BYTES - 1] ^= (uint8_t)x;
}

int comms_long_wrap(const uint8_t id[static PIECE_ID_BYTES], const char *text,
		    size_t n, uint8_t *out, size_t cap)
{
	if (n == 0 || n > TF_E2E_PT_MAX - LONG_ENV_HDR)
		return -EINVAL;
	if (cap < LONG_ENV_HDR + n)
		return -ENOBUFS;
	out[0] = 0;
	out[1] = 1;
	memcpy(out + 2, id, PIECE_ID_BYTES);
	memcpy(out + LONG_ENV_HDR, text, n);
	return (int)(LONG_ENV_HDR + n);
}

int comms_long_unwrap(const uint8_t *pt, size_t n,
		      const uint8_t id[static PIECE_ID_BYTES],
		      const uint8_t **text, size_t *tn)
{
	/* the id is not secret: a plain compare */
	if (n <= LONG_ENV_HDR || pt[0] != 0 || pt[1] != 1 ||
	    memcmp(pt + 2, id, PIECE_ID_BYTES) != 0)
		return -EBADMSG;
	*text = pt + LONG_ENV_HDR;
	*tn = n - LONG_ENV_HDR;
	return 0;
}

int comms_reasm_find(const struct comms_reasm *r, const char *from,
		     const uint8_t id[static PIECE_ID_BYTES])
{
	for (size_t i = 0; i < r->n; i++)
		if (!memcmp(r->p[i].id, id, PIECE_ID_BYTES) &&
		    !strcmp(r->p[i].from, from))
			return (int)i;
	return -1;
}

int comms_reasm_add(struct comms_reasm *r, const char *from,
		    const struct comms_piece *pc, uint64_t now_ms, int *slot,
		    int *evict)
{
	size_t fl = strnlen(from, TF_COMMS_ADDR_MAX + 1);
	struct comms_partial *p;
	int k;

	*slot = *evict = -1;
	if (fl == 0 || fl > TF_COMMS_ADDR_MAX || pc->count == 0 ||
	    pc->count > PIECES_MAX || pc->index >= pc->count)
		return -EINVAL;
	k = comms_reasm_find(r, from, pc->id);
	if (k < 0) {
		if (r->n >= PARTIALS_MAX) {
			size_t old = 0;

			for (size_t i = 1; i < r->n; i++)
				if (r->p[i].first_ms < r->p[old].first_ms)
					old = i;
			*evict = (int)old;
			return REASM_NEW;
		}
		k = (int)r->n++;
		p = &r->p[k];
		memset(p, 0, sizeof(*p));
		memcpy(p->from, from, fl + 1);
		memcpy(p->id, pc->id, PIECE_ID_BYTES);
		p->count = pc->count;
		p->first_ms = now_ms;
	}
	p = &r->p[k];
	*slot = k;
	if (p->count != pc->count)
		return REASM_CONFLICT;
	if (p->have & (1u << pc->index))
		return REASM_HAVE;
	p->have |= 1u << pc->index;
	return comms_reasm_have(p) == p->count ? REASM_COMPLETE : REASM_NEW;
}

void comms_reasm_drop(struct comms_reasm *r, int slot)
{
	if (slot < 0 || (size_t)slot >= r->n)
		return;
	memmove(&r->p[slot], &r->p[slot + 1],
		(r->n - (size_t)slot - 1) * sizeof(r->p[0]));
	r->n--;
}

int comms_reasm_expired(const struct comms_reasm *r, uint64_t now_ms,
			uint64_t age_ms)
{
	for (size_t i = 0; i < r->n; i++)
		if ((now_ms >= r->p[i].first_ms &&
		     now_ms - r->p[i].first_ms >= age_ms) ||
		    (now_ms < r->p[i].first_ms &&
		     r->p[i].first_ms - now_ms > age_ms)) /* a clock set back */
			return (int)i;
	return -1;
}

unsigned comms_reasm_have(const struct comms_partial *p)
{
	return (unsigned)__builtin_popcount(p->have);
}
