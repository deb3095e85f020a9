/* SPDX-License-Identifier: ISC */
/* twofold-relay's request parser and reply builder (req.h). */
#include <errno.h>
#include <string.h>

#include "req.h"

size_t relay_name_get(const uint8_t *p, size_t len,
		      char out[static TF_CERT_ID_MAX + 1])
{
	size_t n;

	if (len < 1)
		return 0;
	n = p[0];
	if (n == 0 || n > TF_CERT_ID_MAX || len - 1 < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[1 + i] < 0x21 || p[1 + i] > 0x7e)
			return 0;
	memcpy(out, p + 1, n);
	out[n] = '\0';
	return 1 + n;
}

bool relay_id_ok(const char *p, size_t n)
{
	if (n == 0 || n > TF_CERT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '@'))
			return false;
	}
	return true;
}

/* both halves checked: an empty one, a second '/', a byte outside the
 * certificate alphabet or a half over 64 bytes is no address */
static bool addr_ok(const char *p, size_t n)
{
	const char *slash = memchr(p, '/', n);

	if (slash == NULL)
		return relay_id_ok(p, n);
	return relay_id_ok(p, (size_t)(slash - p)) &&
	       relay_id_ok(slash + 1, n - (size_t)(slash - p) - 1);
}

size_t relay_addr_get(const uint8_t *p, size_t len,
		      char out[static TF_COMMS_ADDR_MAX + 1])
{
	size_t n;

	if (len < 1)
		return 0;
	n = p[0];
	if (n == 0 || n > TF_COMMS_ADDR_MAX || len - 1 < n ||
	    !addr_ok((const char *)p + 1, n))
		return 0;
	memcpy(out, p + 1, n);
	out[n] = '\0';
	return 1 + n;
}

int relay_addr_split(const char *addr, char officer[static TF_CERT_ID_MAX + 1],
		     char device[static TF_CERT_ID_MAX + 1])
{
	size_t n = strnlen(addr, TF_COMMS_ADDR_MAX + 1), on;
	const char *slash;

	if (n > TF_COMMS_ADDR_MAX || !addr_ok(addr, n))
		return -EINVAL;
	slash = memchr(addr, '/', n);
	on = slash ? (size_t)(slash - addr) : n;
	memcpy(officer, addr, on);
	officer[on] = '\0';
	if (slash) {
		memcpy(device, slash + 1, n - on - 1);
		device[n - on - 1] = '\0';
	} else {
		device[0] = '\0';
	}
	return 0;
}

int relay_req_parse(const uint8_t *pt, size_t n, struct relay_req *out)
{
	struct relay_req q = {0};
	size_t used;

	if (n < 1)
		return -EBADMSG;
	q.op = pt[0];
	pt++;
	n--;
	switch (q.op) {
	case RELAY_OP_ECHO:
		q.body = pt;
		q.body_len = n;
		break;
	case RELAY_OP_FETCH:
		if (n != 0)
			return -EBADMSG;
		break;
	case RELAY_OP_SEND:
	case RELAY_OP_ACK:
		used = relay_addr_get(pt, n, q.name);
		if (used == 0 || n - used < RELAY_ID_BYTES)
			return -EBADMSG;
		q.id = pt + used;
		q.body = pt + used + RELAY_ID_BYTES;
		q.body_len = n - used - RELAY_ID_BYTES;
		if (q.op == RELAY_OP_ACK && q.body_len != 0)
			return -EBADMSG;
		break;
	case RELAY_OP_PREKEYS:
		if (n == 0)
			return -EBADMSG;
		q.body = pt;
		q.body_len = n;
		break;
	case RELAY_OP_BUNDLE_GET:
		used = relay_addr_get(pt, n, q.name);
		if (used == 0 || used != n)
			return -EBADMSG;
		break;
	case RELAY_OP_DEVICES: /* of one officer: a bare id */
		used = relay_addr_get(pt, n, q.name);
		if (used == 0 || used != n || strchr(q.name, '/') != NULL)
			return -EBADMSG;
		break;
	case RELAY_OP_FWD:
		used = relay_addr_get(pt, n, q.name);
		if (used == 0)
			return -EBADMSG;
		q.body = pt + used;
		q.body_len = n - used;
		break;
	default: return -EOPNOTSUPP;
	}
	*out = q;
	return 0;
}

int relay_reply_build(uint8_t op, const char *name, const uint8_t *id,
		      const uint8_t *body, size_t body_len, uint8_t *out,
		      size_t cap)
{
	size_t nl = strnlen(name, TF_COMMS_ADDR_MAX + 1), need;

	if (nl == 0 || nl > TF_COMMS_ADDR_MAX || (body == NULL && body_len))
		return -EINVAL;
	need = 2 + nl + (id ? RELAY_ID_BYTES : 0) + body_len;
	if (need > cap)
		return -ENOBUFS;
	out[0] = op;
	out[1] = (uint8_t)nl;
	memcpy(out + 2, name, nl);
	if (id)
		memcpy(out + 2 + nl, id, RELAY_ID_BYTES);
	if (body_len)
		memcpy(out + need - body_len, body, body_len);
	return (int)need;
}
