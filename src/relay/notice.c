/* SPDX-License-Identifier: ISC */
/* NATS subjects and notices between relays (notice.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notice.h"
#include "req.h"

static size_t hex_to(char *out, const char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[(uint8_t)p[i] >> 4];
		out[2 * i + 1] = hx[(uint8_t)p[i] & 15];
	}
	return 2 * n;
}

int relay_subject(const char *addr, char out[static RELAY_SUBJ_MAX])
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	size_t n = strlen("twofold.o.");

	if (relay_addr_split(addr, o, d) < 0)
		return -EINVAL;
	/* hex: an id may hold '.', which NATS reads as a token separator */
	memcpy(out, d[0] ? "twofold.d." : "twofold.o.", n);
	n += hex_to(out + n, o, strlen(o));
	if (d[0]) {
		out[n++] = '.';
		n += hex_to(out + n, d, strlen(d));
	}
	out[n] = '\0';
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* ours are lowercase: anything else is not ours */
}

/* one hex token (an id) into out; the characters read, 0 when malformed */
static size_t unhex_id(const char *p, char out[static TF_CERT_ID_MAX + 1])
{
	size_t hl = strcspn(p, ".");

	if (hl == 0 || hl % 2 || hl / 2 > TF_CERT_ID_MAX)
		return 0;
	for (size_t i = 0; i < hl / 2; i++) {
		int h = unhex(p[2 * i]), l = unhex(p[2 * i + 1]);
		if (h < 0 || l < 0)
			return 0;
		out[i] = (char)(h << 4 | l);
	}
	out[hl / 2] = '\0';
	return relay_id_ok(out, hl / 2) ? hl : 0;
}

int relay_subject_addr(const char *subj,
		       char addr[static TF_COMMS_ADDR_MAX + 1])
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	bool dev = !strncmp(subj, "twofold.d.", 10);
	size_t u;

	if (!dev && strncmp(subj, "twofold.o.", 10) != 0)
		return -EINVAL;
	subj += 10;
	u = unhex_id(subj, o);
	if (u == 0 || subj[u] != (dev ? '.' : '\0'))
		return -EINVAL;
	if (!dev) {
		snprintf(addr, TF_COMMS_ADDR_MAX + 1, "%s", o);
		return 0;
	}
	subj += u + 1;
	u = unhex_id(subj, d);
	if (u == 0 || subj[u] != '\0')
		return -EINVAL;
	snprintf(addr, TF_COMMS_ADDR_MAX + 1, "%s/%s", o, d);
	return 0;
}

int relay_notice_parse(const char *subj, const uint8_t *d, size_t len,
		       char addr[static TF_COMMS_ADDR_MAX + 1],
		       const uint8_t **pt, size_t *ptlen)
{
	char a[TF_COMMS_ADDR_MAX + 1], to[TF_COMMS_ADDR_MAX + 1];
	size_t off = 1;

	if (len < 2 || relay_subject_addr(subj, a) < 0)
		return -EBADMSG;
	if (d[0] == RELAY_NOTICE_V1) {
		/* the recipient inside must be the subject's: a notice
		 * published on one subject never reaches another address */
		size_t u = relay_addr_get(d + 1, len - 1, to);
		if (u == 0 || strcmp(to, a) != 0)
			return -EBADMSG;
		off = 1 + u;
	} else if (d[0] != RELAY_NOTICE_V0) {
		return -EBADMSG;
	}
	if (len <= off || len - off > TF_COMMS_PAYLOAD_MAX)
		return -EBADMSG;
	memcpy(addr, a, sizeof(a));
	*pt = d + off;
	*ptlen = len - off;
	return 0;
}

int relay_notice_build(const char *addr, const uint8_t *pt, size_t len,
		       uint8_t *out, size_t cap)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	size_t al = strnlen(addr, TF_COMMS_ADDR_MAX + 1);

	if (relay_addr_split(addr, o, d) < 0 || len == 0 ||
	    len > TF_COMMS_PAYLOAD_MAX || pt == NULL)
		return -EINVAL;
	if (2 + al + len > cap)
		return -ENOBUFS;
	out[0] = RELAY_NOTICE_V1;
	out[1] = (uint8_t)al;
	memcpy(out + 2, addr, al);
	memcpy(out + 2 + al, pt, len);
	return (int)(2 + al + len);
}
