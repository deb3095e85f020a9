/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the talk-group messages relays exchange over NATS
 * (src/relay/gnmsg.c), which anyone able to publish on the bus can send.
 * A parsed message's body must lie inside the input, its officer and
 * group ids be bounded printable strings, and re-encoding its head then
 * the body must give the input back.
 */
#include <stdlib.h>
#include <string.h>

#include "src/relay/gnmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[GN_HDR + GN_MEMBER_MAX + 12];
	struct gn_msg m;
	size_t hl;

	if (gn_parse(data, size, &m) < 0)
		return 0;
	if (m.body_len > size || m.body < data ||
	    (size_t)(m.body - data) != size - m.body_len)
		abort();
	if (strnlen(m.officer, sizeof(m.officer)) >= sizeof(m.officer) ||
	    strnlen(m.gid, sizeof(m.gid)) >= sizeof(m.gid))
		abort();
	hl = gn_put_head(&m, out);
	if (hl != size - m.body_len || memcmp(out, data, hl) != 0)
		abort();
	return 0;
}
