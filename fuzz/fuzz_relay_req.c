/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-relay's request parser (src/relay/req.c), which
 * reads what an authenticated but untrusted device sends inside its DATA
 * payloads. Input: the decrypted payload. A parsed request's pointers
 * must lie inside the input; a reply built from it (as the relay does
 * for SEND and FWD) must fit or be refused, never overflow.
 */
#include <stdlib.h>
#include <string.h>

#include "src/relay/req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *d, size_t size)
{
	return p >= d && n <= size && (size_t)(p - d) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_req q;
	uint8_t out[1400];

	if (relay_req_parse(data, size, &q) < 0)
		return 0;
	if ((q.body_len && !inside(q.body, q.body_len, data, size)) ||
	    (q.id && !inside(q.id, RELAY_ID_BYTES, data, size)))
		abort();
	if (q.op == RELAY_OP_SEND || q.op == RELAY_OP_FWD) {
		int n = relay_reply_build(
			q.op == RELAY_OP_SEND ? RELAY_OP_MSG : RELAY_OP_FROM,
			q.name, q.id, q.body, q.body_len, out, sizeof(out));
		if (n > (int)sizeof(out))
			abort();
	}
	return 0;
}
