/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-relay's TCP frame splitter (src/relay/frame.c),
 * the first code that reads what an unauthenticated TCP peer sends.
 * Input: the byte stream. It is fed the way tcp.c reads it, in chunks
 * (sizes from a generator seeded by the input) into a buffer of the
 * connection's size, consumed frames moved out; and checked against a
 * plain parse of the whole stream: the same frames, in order, each
 * inside the buffer and 1..max bytes, the same point of refusal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/relay/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 2048
#define BUF (2 * (2 + MAX)) /* struct tconn's in[] */

struct got {
	const uint8_t *lo, *hi; /* the buffer the frames must lie in */
	const uint8_t *ref;	/* the stream */
	size_t ref_len, pos;	/* where the next frame's bytes are */
};

static void on_frame(void *arg, const uint8_t *f, size_t n)
{
	struct got *g = arg;

	if (n == 0 || n > MAX || f < g->lo || f + n > g->hi)
		abort();
	/* frame k of the chunked run is frame k of the stream */
	if (g->pos + 2 + n > g->ref_len ||
	    ((size_t)g->ref[g->pos] << 8 | g->ref[g->pos + 1]) != n ||
	    memcmp(f, g->ref + g->pos + 2, n) != 0)
		abort();
	g->pos += 2 + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[BUF];
	struct got g = {buf, buf + BUF, data, size, 0};
	size_t len = 0, fed = 0, ref_ok = 0;
	uint32_t rng = 2166136261u ^ (uint32_t)size;
	bool refused = false, ref_refused = false;

	/* the reference: frames of the whole stream, where it is refused */
	for (size_t off = 0; size - off >= 2;) {
		size_t fl = (size_t)data[off] << 8 | data[off + 1];
		if (fl == 0 || fl > MAX) {
			ref_refused = true;
			break;
		}
		if (size - off - 2 < fl)
			break;
		off += 2 + fl;
		ref_ok = off;
	}
	while (fed < size && !refused) {
		size_t chunk, room = BUF - len;
		ssize_t n;

		rng = rng * 1103515245u + 12345u;
		chunk = 1 + (rng >> 8) % 3000;
		if (chunk > size - fed)
			chunk = size - fed;
		if (chunk > room)
			chunk = room;
		if (chunk == 0)
			abort(); /* a full buffer without a whole frame */
		memcpy(buf + len, data + fed, chunk);
		len += chunk;
		fed += chunk;
		n = relay_frames_split(buf, len, MAX, on_frame, &g);
		if (n == -EBADMSG) {
			refused = true;
			break;
		}
		if (n < 0 || (size_t)n > len)
			abort();
		memmove(buf, buf + n, len - (size_t)n);
		len -= (size_t)n;
	}
	/* every whole frame delivered, once; refused iff the stream is */
	if (g.pos != ref_ok || refused != ref_refused)
		abort();
	return 0;
}
