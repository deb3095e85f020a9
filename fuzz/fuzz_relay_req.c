/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-relay's request parser (src/relay/req.c), which
 * reads what an authenticated but untrusted device sends inside its DATA
 * payloads. Input: the decrypted payload. A parsed request's pointers
 * must lie inside the input; a reply built from it (as the relay does
 * for SEND and FWD) must fit or be refused, never overflow. The address
 * parser (relay_addr_get, "officer" or "officer/device") also reads the
 * whole input on its own: what it accepts is a well-formed address that
 * relay_addr_split takes apart and that joins back to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/relay/req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *d, size_t size)
{
	return p >= d && n <= size && (size_t)(p - d) <= size - n;
}

/* an accepted address: both halves ids, one '/' at most, splits and
 * joins back to itself */
static void check_addr(const char *a)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	char j[TF_COMMS_ADDR_MAX + 2];
	size_t n = strlen(a);
	const char *slash = strchr(a, '/');

	if (n == 0 || n > TF_COMMS_ADDR_MAX ||
	    (slash && strchr(slash + 1, '/')) ||
	    relay_addr_split(a, o, d) < 0 || !relay_id_ok(o, strlen(o)) ||
	    (d[0] != '\0' && !relay_id_ok(d, strlen(d))) ||
	    (slash == NULL) != (d[0] == '\0'))
		abort();
	snprintf(j, sizeof(j), "%s%s%s", o, d[0] ? "/" : "", d);
	if (strcmp(j, a) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_req q;
	char addr[TF_COMMS_ADDR_MAX + 1];
	uint8_t out[1400];
	size_t u;

	u = relay_addr_get(data, size, addr);
	if (u > size || (u != 0 && u != 1u + data[0]))
		abort();
	if (u != 0)
		check_addr(addr);
	if (relay_req_parse(data, size, &q) < 0)
		return 0;
	if ((q.body_len && !inside(q.body, q.body_len, data, size)) ||
	    (q.id && !inside(q.id, RELAY_ID_BYTES, data, size)))
		abort();
	if (q.op == RELAY_OP_SEND || q.op == RELAY_OP_FWD ||
	    q.op == RELAY_OP_ACK || q.op == RELAY_OP_BUNDLE_GET ||
	    q.op == RELAY_OP_DEVICES) {
		check_addr(q.name);
		if (q.op == RELAY_OP_DEVICES && strchr(q.name, '/') != NULL)
			abort();
	}
	if (q.op == RELAY_OP_SEND || q.op == RELAY_OP_FWD) {
		int n = relay_reply_build(
			q.op == RELAY_OP_SEND ? RELAY_OP_MSG : RELAY_OP_FROM,
			q.name, q.id, q.body, q.body_len, out, sizeof(out));
		if (n > (int)sizeof(out))
			abort();
	}
	return 0;
}
