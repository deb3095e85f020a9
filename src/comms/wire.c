/* SPDX-License-Identifier: ISC */
/*
 * Parsers and key handling of twofold-comms that need no service state
 * (wire.h says why they are apart: fuzzing and unit tests).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/cert.h"
#include "twofold/e2e.h"
#include "twofold/secmem.h"
#include "twofold/sframe.h"
#include "wire.h"

static uint64_t get_u(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int comms_unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* An officer id as certificates allow it ([A-Za-z0-9-_.@], 1..64): safe
 * as a file name. The relay names senders: it is checked, not trusted. */
bool comms_officer_ok(const char *n)
{
	size_t l = strnlen(n, TF_CERT_ID_MAX + 1);

	if (l == 0 || l > TF_CERT_ID_MAX || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (size_t i = 0; i < l; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
			    "YZ"
			    "0123456789-_.@",
			    n[i]))
			return false;
	return true;
}

size_t comms_get_name(const uint8_t *p, size_t n, char *out)
{
	if (n < 1 || p[0] == 0 || p[0] > TF_CERT_ID_MAX || n - 1 < p[0])
		return 0;
	memcpy(out, p + 1, p[0]);
	out[p[0]] = '\0';
	return comms_officer_ok(out) ? 1u + p[0] : 0;
}

bool comms_addr_split(const char *addr, char officer[static TF_CERT_ID_MAX + 1],
		      char device[static TF_CERT_ID_MAX + 1])
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	size_t l = strnlen(addr, TF_COMMS_ADDR_MAX + 1);
	const char *sl;
	size_t ol;

	if (l == 0 || l > TF_COMMS_ADDR_MAX)
		return false;
	sl = memchr(addr, '/', l);
	ol = sl ? (size_t)(sl - addr) : l;
	if (ol == 0 || ol > TF_CERT_ID_MAX)
		return false;
	memcpy(o, addr, ol);
	o[ol] = '\0';
	d[0] = '\0';
	if (sl) {
		size_t dl = l - ol - 1;

		if (dl == 0 || dl > TF_CERT_ID_MAX)
			return false;
		memcpy(d, sl + 1, dl);
		d[dl] = '\0';
		if (!comms_officer_ok(d))
			return false; /* also refuses a second '/' */
	}
	if (!comms_officer_ok(o))
		return false;
	memcpy(officer, o, ol + 1);
	memcpy(device, d, strlen(d) + 1);
	return true;
}

bool comms_addr_ok(const char *addr)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];

	return comms_addr_split(addr, o, d);
}

bool comms_addr_full(const char *addr)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];

	return comms_addr_split(addr, o, d) && d[0] != '\0';
}

size_t comms_get_addr(const uint8_t *p, size_t n, char *out)
{
	if (n < 1 || p[0] == 0 || p[0] > TF_COMMS_ADDR_MAX || n - 1 < p[0])
		return 0;
	memcpy(out, p + 1, p[0]);
	out[p[0]] = '\0';
	return comms_addr_ok(out) ? 1u + p[0] : 0;
}

int comms_parse_error(const uint8_t *p, size_t n, struct comms_error *out)
{
	struct comms_error e = {0};
	const uint8_t *nul;
	size_t k, u;

	if (n < 1)
		return -EBADMSG;
	e.code = p[0];
	e.text = p + 1;
	nul = memchr(p + 1, 0, n - 1);
	e.textlen = nul ? (size_t)(nul - (p + 1)) : n - 1;
	if (nul != NULL) {
		k = (size_t)(nul - p) + 1; /* the op */
		if (k >= n || (p[k] != 0x02 && p[k] != 0x08 && p[k] != 0x0a))
			return -EBADMSG;
		e.op = p[k++];
		u = comms_get_addr(p + k, n - k, e.name);
		if (u == 0)
			return -EBADMSG;
		k += u;
		e.has_id = e.op == 0x02;
		if (n - k != (e.has_id ? COMMS_MSGID_BYTES : 0))
			return -EBADMSG;
		if (e.has_id)
			memcpy(e.id, p + k, COMMS_MSGID_BYTES);
	}
	*out = e;
	return 0;
}

int comms_parse_devices(const uint8_t *p, size_t n, struct comms_devices *out)
{
	struct comms_devices v;
	size_t u = comms_get_name(p, n, v.officer);

	if (u == 0 || n - u < 1)
		return -EBADMSG;
	v.count = p[u++];
	if (v.count == 0 || v.count > TF_COMMS_DEVICES_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < v.count; i++) {
		size_t k = comms_get_name(p + u, n - u, v.dev[i]);

		if (k == 0 || (i > 0 && strcmp(v.dev[i - 1], v.dev[i]) >= 0))
			return -EBADMSG;
		u += k;
	}
	if (u != n)
		return -EBADMSG;
	memcpy(out, &v, sizeof(v));
	return 0;
}

int comms_bundle_check(const struct tf_e2e_bundle *b,
		       const struct tf_cert_anchor *ca, uint64_t now,
		       const struct tf_denylist *dl, const char *officer,
		       const char *device, struct tf_cert *out)
{
	struct tf_cert c;
	int r = tf_e2e_bundle_verify(b, ca, now, dl, officer, &c);

	if (r < 0)
		return r;
	if (device[0] != '\0' && strcmp(c.device, device) != 0)
		return -EXDEV;
	if (out)
		*out = c;
	return 0;
}

int comms_cert_check(const uint8_t *cert, size_t len,
		     const struct tf_cert_anchor *ca, uint64_t now, bool e2e,
		     const struct tf_denylist *dl, const char *officer,
		     const char *device, struct tf_cert *out)
{
	struct tf_cert c;
	int r = tf_cert_verify(cert, len, ca, now,
			       e2e ? TF_ROLES_E2E : TF_ROLES_CLIENT, dl, &c);

	if (r < 0)
		return r;
	if (strcmp(c.officer, officer) != 0)
		return -EKEYREJECTED;
	if (device[0] != '\0' && strcmp(c.device, device) != 0)
		return -EXDEV;
	if (out)
		*out = c;
	return 0;
}

/* an optional name: u8 0 is none (""); bytes used, 0 if malformed */
static size_t get_opt_name(const uint8_t *p, size_t n, char *out)
{
	if (n >= 1 && p[0] == 0) {
		out[0] = '\0';
		return 1;
	}
	return comms_get_name(p, n, out);
}

int ptt_parse_piece(const uint8_t *p, size_t n, struct ptt_piece *out)
{
	struct ptt_piece v;
	size_t u = comms_get_name(p, n, v.group);

	if (u == 0 || n - u < 8)
		return -EBADMSG;
	v.total = (size_t)get_u(p + u, 4);
	v.off = (size_t)get_u(p + u + 4, 4);
	v.data = p + u + 8;
	v.len = n - u - 8;
	if (v.total == 0 || v.total > TF_ROSTER_WIRE_MAX || v.off > v.total ||
	    v.len > v.total - v.off)
		return -EBADMSG;
	*out = v;
	return 0;
}

int ptt_parse_state(const uint8_t *p, size_t n, struct ptt_state *out)
{
	struct ptt_state v;
	size_t u = comms_get_name(p, n, v.group);
	const uint8_t *q = p + u;

	if (u == 0 || n - u < 23)
		return -EBADMSG;
	v.epoch = get_u(q, 8);
	v.taken = q[8] != 0;
	v.burst = (uint32_t)get_u(q + 9, 4);
	v.emergency = q[13] != 0;
	v.kid = get_u(q + 14, 8);
	if (get_opt_name(q + 22, n - u - 22, v.talker) == 0)
		return -EBADMSG;
	*out = v;
	return 0;
}

int ptt_parse_floor(const uint8_t *p, size_t n, struct ptt_floor *out)
{
	struct ptt_floor v;
	size_t u = comms_get_name(p, n, v.group);
	const uint8_t *q = p + u;

	if (u == 0 || n - u < 10)
		return -EBADMSG;
	v.type = q[0];
	v.reason = q[1];
	v.emergency = q[2] != 0;
	v.position = (uint16_t)get_u(q + 3, 2);
	v.burst = (uint32_t)get_u(q + 5, 4);
	if (get_opt_name(q + 9, n - u - 9, v.who) == 0)
		return -EBADMSG;
	*out = v;
	return 0;
}

int ptt_parse_frame(const uint8_t *p, size_t n, struct ptt_frame *out)
{
	struct ptt_frame v;
	size_t u = comms_get_name(p, n, v.group), u2;

	if (u == 0)
		return -EBADMSG;
	u2 = comms_get_name(p + u, n - u, v.who);
	if (u2 == 0 || n - u - u2 < 4)
		return -EBADMSG;
	v.burst = (uint32_t)get_u(p + u + u2, 4);
	v.sf = p + u + u2 + 4;
	v.sflen = n - u - u2 - 4;
	*out = v;
	return 0;
}

static bool hex_ok(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", h[i]) || h[i] == '\0')
			return false;
	return true;
}

int ptt_parse_keymsg(const char *text, size_t n, struct ptt_keymsg *out,
		     uint8_t secret[static TF_GROUP_SECRET_BYTES])
{
	/* a bounded, NUL-terminated copy: text need not be a C string */
	char t[TF_CERT_ID_MAX + 2 * TF_HASH_BYTES + 2 * TF_KEY_BYTES + 64];
	char id[TF_CERT_ID_MAX + 1], hh[2 * TF_HASH_BYTES + 1],
		sh[2 * TF_KEY_BYTES + 1];
	const size_t pl = strlen(PTT_KEYMSG_PREFIX);
	struct ptt_keymsg v;
	unsigned long long epoch;
	int end = -1, r = -EBADMSG;

	if (n < pl || memcmp(text, PTT_KEYMSG_PREFIX, pl) != 0)
		return -ENOENT;
	if (n - pl >= sizeof(t))
		return -EBADMSG;
	memcpy(t, text + pl, n - pl);
	t[n - pl] = '\0';
	if (sscanf(t, "%64s %20llu %64s %64s%n", id, &epoch, hh, sh, &end) !=
		    4 ||
	    end < 0 || t[end] != '\0' || !comms_officer_ok(id) || epoch == 0 ||
	    epoch > TF_GROUP_EPOCH_MAX || strlen(hh) != 2 * TF_HASH_BYTES ||
	    strlen(sh) != 2 * TF_KEY_BYTES || !hex_ok(hh, strlen(hh)) ||
	    !hex_ok(sh, strlen(sh)))
		goto out;
	memcpy(v.group, id, strlen(id) + 1);
	v.epoch = epoch;
	if (comms_unhex(hh, v.hash, TF_HASH_BYTES) < 0 ||
	    comms_unhex(sh, secret, TF_GROUP_SECRET_BYTES) < 0)
		goto out;
	*out = v;
	r = 0;
out:
	if (r < 0)
		tf_memzero(secret, TF_GROUP_SECRET_BYTES);
	tf_memzero(sh, sizeof(sh));
	tf_memzero(t, sizeof(t));
	return r;
}

void ptt_grace_wipe(struct ptt_grace *g)
{
	/* tf_secure_free wipes before it frees */
	tf_secure_free(g->secret);
	g->secret = NULL;
	g->epoch = 0;
	g->until_ms = 0;
}

int ptt_grace_keep(struct ptt_grace *g, uint64_t epoch,
		   const uint8_t secret[static TF_GROUP_SECRET_BYTES],
		   uint64_t now_ms)
{
	if (g->secret == NULL)
		g->secret = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (g->secret == NULL) {
		ptt_grace_wipe(g);
		return -ENOMEM;
	}
	memcpy(g->secret, secret, TF_GROUP_SECRET_BYTES);
	g->epoch = epoch;
	g->until_ms = now_ms + PTT_GRACE_MS;
	return 0;
}

void ptt_grace_tick(struct ptt_grace *g, uint64_t now_ms)
{
	if (g->secret != NULL && now_ms >= g->until_ms)
		ptt_grace_wipe(g);
}

const uint8_t *ptt_grace_get(struct ptt_grace *g, uint64_t epoch,
			     uint64_t now_ms)
{
	ptt_grace_tick(g, now_ms);
	if (g->secret == NULL || epoch == 0 || epoch != g->epoch)
		return NULL;
	return g->secret;
}

int ptt_open_frame(const struct tf_suite *s, const char *group, uint64_t epoch,
		   const uint8_t *secret, struct ptt_grace *prev,
		   const uint8_t *sf, size_t sflen, uint64_t now_ms,
		   uint8_t *pt, size_t cap, uint64_t *ctr)
{
	uint8_t base[TF_KEY_BYTES];
	struct tf_sframe_key *k = NULL;
	const uint8_t *sec;
	uint64_t kid, c, ep;
	int m;

	if (tf_sframe_peek(sf, sflen, &kid, &c) < 0)
		return -EBADMSG;
	ep = tf_group_kid_epoch(kid);
	if (ep > epoch && secret != NULL)
		return -EAGAIN;
	sec = ep == epoch ? secret : ptt_grace_get(prev, ep, now_ms);
	if (sec == NULL)
		return -ENOKEY;
	m = tf_group_talker_key(s, sec, group, ep, tf_group_kid_index(kid),
				base);
	if (m == 0)
		m = tf_sframe_key_derive(s, base, sizeof(base), kid, &k);
	tf_memzero(base, sizeof(base));
	if (m < 0)
		return -EBADMSG;
	m = tf_sframe_open(k, sf, sflen, pt, cap);
	tf_sframe_key_free(k);
	if (m < 0)
		return -EBADMSG;
	*ctr = c;
	return m;
}

int ptt_hold_put(struct ptt_hold *h, uint32_t burst, const uint8_t *sf,
		 size_t n, uint64_t at_ms)
{
	struct ptt_held *x;

	if (n > PTT_HELD_BYTES)
		return -EMSGSIZE;
	if (h->f == NULL) {
		h->f = calloc(PTT_HOLD_FRAMES, sizeof(*h->f));
		if (h->f == NULL)
			return -ENOMEM;
		h->head = h->count = 0;
	}
	if (h->count == PTT_HOLD_FRAMES) { /* full: the oldest goes */
		h->head = (h->head + 1) % PTT_HOLD_FRAMES;
		h->count--;
	}
	x = &h->f[(h->head + h->count) % PTT_HOLD_FRAMES];
	x->at_ms = at_ms;
	x->burst = burst;
	x->n = (uint16_t)n;
	memcpy(x->b, sf, n);
	h->count++;
	return 0;
}

bool ptt_hold_next(struct ptt_hold *h, uint64_t now_ms, struct ptt_held *out)
{
	while (h->f != NULL && h->count > 0) {
		struct ptt_held *x = &h->f[h->head];
		bool fresh = now_ms < x->at_ms + PTT_HOLD_MS;

		if (fresh)
			*out = *x;
		h->head = (h->head + 1) % PTT_HOLD_FRAMES;
		h->count--;
		if (fresh)
			return true;
	}
	return false;
}

void ptt_hold_free(struct ptt_hold *h)
{
	free(h->f);
	h->f = NULL;
	h->head = h->count = 0;
}

int ptt_rx_frame(const struct tf_suite *s, const char *group, uint64_t epoch,
		 const uint8_t *secret, struct ptt_grace *prev,
		 struct ptt_hold *hold, uint32_t burst, const uint8_t *sf,
		 size_t sflen, uint64_t now_ms, uint8_t *pt, size_t cap,
		 uint64_t *ctr)
{
	uint64_t kid, c;
	int m = ptt_open_frame(s, group, epoch, secret, prev, sf, sflen, now_ms,
			       pt, cap, ctr);

	if (m == -EAGAIN) {
		m = ptt_hold_put(hold, burst, sf, sflen, now_ms);
		return m < 0 ? m : 0;
	}
	if (m > 0 && prev->secret != NULL &&
	    tf_sframe_peek(sf, sflen, &kid, &c) >= 0 &&
	    tf_group_kid_epoch(kid) == epoch)
		ptt_grace_wipe(prev);
	return m;
}
