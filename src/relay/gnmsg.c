/* SPDX-License-Identifier: ISC */
/* gnmsg.h: the relays' talk-group messages over NATS. */
#include <errno.h>
#include <string.h>

#include "gnmsg.h"
#include "req.h"

static uint64_t get_u(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_u(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

int gn_parse(const uint8_t *p, size_t n, struct gn_msg *m)
{
	size_t u;

	memset(m, 0, sizeof(*m));
	if (n < GN_HDR || p[0] != GN_VERSION)
		return -EBADMSG;
	m->kind = p[1];
	m->from = get_u(p + 2, 8);
	p += GN_HDR;
	n -= GN_HDR;
	switch (m->kind) {
	case GN_HELLO:
	case GN_SYNC:
	case GN_HANDOVER:
		if (n != 0)
			return -EBADMSG;
		break;
	case GN_REQ:
	case GN_JOIN:
	case GN_GONE:
		if (n < 5 + TF_ROSTER_DEVHASH_BYTES)
			return -EBADMSG;
		m->sess = (uint32_t)get_u(p, 4);
		m->role = p[4];
		memcpy(m->device, p + 5, TF_ROSTER_DEVHASH_BYTES);
		p += 5 + TF_ROSTER_DEVHASH_BYTES;
		n -= 5 + TF_ROSTER_DEVHASH_BYTES;
		u = relay_name_get(p, n, m->officer);
		if (u == 0)
			return -EBADMSG;
		p += u;
		n -= u;
		if ((m->kind == GN_GONE) != (n == 0))
			return -EBADMSG; /* GONE alone carries nothing */
		break;
	case GN_FAN:
		if (n < 13)
			return -EBADMSG;
		m->except_node = get_u(p, 8);
		m->except_sess = (uint32_t)get_u(p + 8, 4);
		p += 12;
		n -= 12;
		break;
	case GN_ROSTER:
		if (n == 0)
			return -EBADMSG;
		break;
	case GN_TO:
		if (n < 5)
			return -EBADMSG;
		m->sess = (uint32_t)get_u(p, 4);
		p += 4;
		n -= 4;
		break;
	case GN_ASK:
		if (n != 4)
			return -EBADMSG;
		m->ask = (uint32_t)get_u(p, 4);
		p += 4;
		n = 0;
		break;
	case GN_SAW:
		if (n < GN_SAW_FIXED + 2)
			return -EBADMSG;
		m->ask = (uint32_t)get_u(p, 4);
		m->state = p[4];
		m->watched_ms = (uint32_t)get_u(p + 5, 4);
		m->ago_ms = (uint32_t)get_u(p + 9, 4);
		m->lease_ms = (uint32_t)get_u(p + 13, 4);
		if (m->state > GN_SAW_TAKEN)
			return -EBADMSG;
		u = relay_name_get(p + GN_SAW_FIXED, n - GN_SAW_FIXED, m->gid);
		if (u == 0 || u != n - GN_SAW_FIXED)
			return -EBADMSG;
		p += n;
		n = 0;
		break;
	default: return -EBADMSG;
	}
	m->body = p;
	m->body_len = n;
	return 0;
}

size_t gn_put_head(const struct gn_msg *m, uint8_t *out)
{
	size_t l = 0, k;

	out[l++] = GN_VERSION;
	out[l++] = m->kind;
	put_u(out + l, m->from, 8);
	l += 8;
	switch (m->kind) {
	case GN_REQ:
	case GN_JOIN:
	case GN_GONE:
		put_u(out + l, m->sess, 4);
		out[l + 4] = m->role;
		memcpy(out + l + 5, m->device, TF_ROSTER_DEVHASH_BYTES);
		l += 5 + TF_ROSTER_DEVHASH_BYTES;
		k = strnlen(m->officer, TF_CERT_ID_MAX);
		out[l++] = (uint8_t)k;
		memcpy(out + l, m->officer, k);
		l += k;
		break;
	case GN_FAN:
		put_u(out + l, m->except_node, 8);
		put_u(out + l + 8, m->except_sess, 4);
		l += 12;
		break;
	case GN_TO:
		put_u(out + l, m->sess, 4);
		l += 4;
		break;
	case GN_ASK:
		put_u(out + l, m->ask, 4);
		l += 4;
		break;
	case GN_SAW:
		put_u(out + l, m->ask, 4);
		out[l + 4] = m->state;
		put_u(out + l + 5, m->watched_ms, 4);
		put_u(out + l + 9, m->ago_ms, 4);
		put_u(out + l + 13, m->lease_ms, 4);
		l += GN_SAW_FIXED;
		k = strnlen(m->gid, TF_CERT_ID_MAX);
		out[l++] = (uint8_t)k;
		memcpy(out + l, m->gid, k);
		l += k;
		break;
	}
	return l;
}
