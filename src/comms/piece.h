/* SPDX-License-Identifier: ISC */
/*
 * Messages longer than one datagram (docs/comms-protocol.md "Long
 * messages"): one end-to-end message, sealed once with one Double
 * Ratchet step, carried in pieces of one constant size, each its own
 * SEND with its own client-chosen id. Pure code (no I/O, no clock: the
 * caller passes now), so the fuzz target (fuzz/fuzz_piece.c) and the unit
 * test (tests/unit/comms/test_piece.c) call it without a service.
 *
 * What binds a piece to its message: the piece header names the message
 * id, its index and the count; the pieces' data concatenated in index
 * order is the sealed message, whose AEAD tag (over every byte, the tag
 * last) fails for any piece dropped, changed, moved, repeated in another
 * place or taken from another message or sender; and the sealed
 * plaintext (the envelope) names the message id again, so a whole
 * message cannot be relabelled as another. Nothing is decrypted before
 * every piece is there.
 */
#ifndef TWOFOLD_COMMS_PIECE_H
#define TWOFOLD_COMMS_PIECE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/comms.h" /* TF_COMMS_ADDR_MAX */
#include "twofold/e2e.h"   /* TF_E2E_MSG_MAX, TF_E2E_PT_MAX */

#define PIECE_ID_BYTES 16
/* u8 0xF1 | u8 version 1 | id (16) | u16 index | u16 count | u16 len */
#define PIECE_MARK 0xF1 /* an end-to-end message starts with its version 1 */
#define PIECE_VERSION 1
#define PIECE_HDR 24
/* data per piece; with the header 1,024 bytes, the same for every piece
 * (padded with zeros): a SEND of it (op, u8 n, an address of at most 129
 * bytes, the id) and the relay's MSG fit one 1,400-byte channel payload */
#define PIECE_DATA 1000
#define PIECE_BYTES (PIECE_HDR + PIECE_DATA)
/* the largest sealed message (a first message with its certificate) */
#define PIECES_MAX ((TF_E2E_MSG_MAX + PIECE_DATA - 1) / PIECE_DATA)

/* The longest text (docs/comms.md "Long messages"): with the envelope
 * and the sent-message sync prefix (SYNC_PREFIX, an address, a space) it
 * is still one end-to-end message (TF_E2E_PT_MAX) */
#define LONG_TEXT_MAX 16000
/* the sealed plaintext of a long message: u8 0 | u8 1 | id (16) | text
 * (a text has no NUL, so no short message starts with 0) */
#define LONG_ENV_HDR (2 + PIECE_ID_BYTES)
_Static_assert(LONG_ENV_HDR + 16 + 1 + TF_COMMS_ADDR_MAX + 1 + LONG_TEXT_MAX <=
		       TF_E2E_PT_MAX,
	       "a long text with its envelope and sync prefix is one message");
_Static_assert(PIECES_MAX <= 32, "the reassembly bitmap is 32 bits");

/* Bounds of the receiving side's reassembly */
#define PARTIALS_MAX 16 /* incomplete messages kept (every sender) */
#define PARTIAL_AGE_MS (24ull * 3600 * 1000) /* then shown as failed */

struct comms_piece {
	uint8_t id[PIECE_ID_BYTES]; /* the message's */
	unsigned index, count;	    /* index < count <= PIECES_MAX */
	const uint8_t *data;	    /* into the parsed buffer */
	size_t len;		    /* 1..PIECE_DATA */
};

/* true when a blob is a piece (its first byte; parse it to know more) */
bool comms_is_piece(const uint8_t *b, size_t n);
/* Exactly PIECE_BYTES, the marker and version, index < count <=
 * PIECES_MAX, 1 <= len <= PIECE_DATA, a last piece's len and every
 * other's full (len == PIECE_DATA), zero padding: 0 and *out filled, or
 * -EBADMSG. */
int comms_piece_parse(const uint8_t *b, size_t n, struct comms_piece *out);
/* how many pieces a sealed message of n bytes takes (0: none fit) */
unsigned comms_piece_count(size_t n);
/* piece index of the sealed message (n bytes) into out: PIECE_BYTES, or
 * -EINVAL (index out of range, n too long) */
int comms_piece_build(const uint8_t id[static PIECE_ID_BYTES],
		      const uint8_t *sealed, size_t n, unsigned index,
		      uint8_t out[static PIECE_BYTES]);
/* the relay-level (client-chosen) id of piece index: the message id with
 * its last two bytes xored with index + 1, so retries reuse it and no
 * piece's id is the message's */
void comms_piece_id(const uint8_t id[static PIECE_ID_BYTES], unsigned index,
		    uint8_t out[static PIECE_ID_BYTES]);

/* the envelope: text (n bytes, 1..LONG_TEXT_MAX + the sync prefix) into
 * out (cap bytes): the length, or -EINVAL / -ENOBUFS */
int comms_long_wrap(const uint8_t id[static PIECE_ID_BYTES], const char *text,
		    size_t n, uint8_t *out, size_t cap);
/* a decrypted envelope: 0 and the text at *text (*tn bytes, >= 1), or
 * -EBADMSG (not an envelope, or another message's id: relabelled) */
int comms_long_unwrap(const uint8_t *pt, size_t n,
		      const uint8_t id[static PIECE_ID_BYTES],
		      const uint8_t **text, size_t *tn);

/* ---- reassembly bookkeeping (which pieces of which message are
 * kept; the bytes are the caller's, one file per piece) ---- */
struct comms_partial {
	char from[TF_COMMS_ADDR_MAX + 1];
	uint8_t id[PIECE_ID_BYTES];
	unsigned count;
	uint32_t have; /* bit i: piece i kept */
	uint64_t first_ms;
};
struct comms_reasm {
	struct comms_partial p[PARTIALS_MAX];
	size_t n;
};

enum comms_reasm_verdict {
	REASM_NEW = 0,	    /* keep the piece (and then: not complete) */
	REASM_COMPLETE = 1, /* keep it: every piece is there now */
	REASM_HAVE = 2,	    /* that index is kept: compare the bytes */
	REASM_CONFLICT = 3, /* the count differs from its siblings': the
			       message is forged or spliced, fail it */
};

/* the slot of (from, id), or -1 */
int comms_reasm_find(const struct comms_reasm *r, const char *from,
		     const uint8_t id[static PIECE_ID_BYTES]);
/* A piece arrived (from: an address, at most TF_COMMS_ADDR_MAX). When
 * its message is new and PARTIALS_MAX are kept, *evict is set to the
 * oldest's slot and nothing changes: the caller fails that one
 * (comms_reasm_drop) and calls again. Otherwise *slot is the message's
 * slot and the verdict says what to do; REASM_NEW and REASM_COMPLETE
 * have marked the piece kept. -EINVAL for a from too long. */
int comms_reasm_add(struct comms_reasm *r, const char *from,
		    const struct comms_piece *pc, uint64_t now_ms, int *slot,
		    int *evict);
void comms_reasm_drop(struct comms_reasm *r, int slot);
/* the slot of a message older than age_ms, or -1 */
int comms_reasm_expired(const struct comms_reasm *r, uint64_t now_ms,
			uint64_t age_ms);
/* pieces kept of slot's message */
unsigned comms_reasm_have(const struct comms_partial *p);

#endif
