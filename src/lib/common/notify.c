/* SPDX-License-Identifier: ISC */
/*
 * Notification records: the notifier inside a persona encodes, the daemon
 * parses (include/twofold/notify.h). The parser is the only code of the
 * daemon that sees a persona's notification bytes, so it is strict: fixed
 * header, every length bounded, exact total, a closed byte set.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "twofold/notify.h"
#include "twofold/secmem.h"

static bool ok_byte(uint8_t c, bool newline)
{
	return (c >= 0x20 && c < 0x7f) || (newline && c == '\n');
}

static bool ok_field(const uint8_t *p, size_t n, bool newline)
{
	for (size_t i = 0; i < n; i++)
		if (!ok_byte(p[i], newline))
			return false;
	return true;
}

int tf_notify_parse(const uint8_t *buf, size_t len, struct tf_notify *out)
{
	size_t app, sum, body;

	memset(out, 0, sizeof(*out));
	if (len < TF_NOTIFY_HDR_BYTES || len > TF_NOTIFY_MAX ||
	    memcmp(buf, TF_NOTIFY_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] != TF_NOTIFY_VERSION)
		return -EPROTONOSUPPORT;
	app = buf[6];
	sum = (size_t)buf[8] << 8 | buf[9];
	body = (size_t)buf[10] << 8 | buf[11];
	if (buf[5] > TF_NOTIFY_URGENCY_MAX || buf[7] != 0 ||
	    app > TF_NOTIFY_APP_MAX || sum < 1 || sum > TF_NOTIFY_SUMMARY_MAX ||
	    body > TF_NOTIFY_BODY_MAX ||
	    len != TF_NOTIFY_HDR_BYTES + app + sum + body)
		return -EBADMSG;
	buf += TF_NOTIFY_HDR_BYTES;
	if (!ok_field(buf, app, false) || !ok_field(buf + app, sum, false) ||
	    !ok_field(buf + app + sum, body, true))
		return -EBADMSG;
	out->urgency = buf[-TF_NOTIFY_HDR_BYTES + 5];
	memcpy(out->app, buf, app);
	memcpy(out->summary, buf + app, sum);
	memcpy(out->body, buf + app + sum, body);
	return 0;
}

ssize_t tf_notify_encode(const struct tf_notify *n, uint8_t *buf, size_t cap)
{
	size_t app = strnlen(n->app, sizeof(n->app));
	size_t sum = strnlen(n->summary, sizeof(n->summary));
	size_t body = strnlen(n->body, sizeof(n->body));
	size_t len = TF_NOTIFY_HDR_BYTES + app + sum + body;

	if (app > TF_NOTIFY_APP_MAX || sum < 1 || sum > TF_NOTIFY_SUMMARY_MAX ||
	    body > TF_NOTIFY_BODY_MAX || n->urgency > TF_NOTIFY_URGENCY_MAX)
		return -EINVAL;
	if (cap < len)
		return -ENOBUFS;
	memcpy(buf, TF_NOTIFY_MAGIC, 4);
	buf[4] = TF_NOTIFY_VERSION;
	buf[5] = n->urgency;
	buf[6] = (uint8_t)app;
	buf[7] = 0;
	buf[8] = (uint8_t)(sum >> 8);
	buf[9] = (uint8_t)sum;
	buf[10] = (uint8_t)(body >> 8);
	buf[11] = (uint8_t)body;
	memcpy(buf + TF_NOTIFY_HDR_BYTES, n->app, app);
	memcpy(buf + TF_NOTIFY_HDR_BYTES + app, n->summary, sum);
	memcpy(buf + TF_NOTIFY_HDR_BYTES + app + sum, n->body, body);
	return (ssize_t)len;
}

void tf_notify_sanitize(char *dst, size_t cap, const char *src, bool newline)
{
	size_t o = 0;

	for (const uint8_t *p = (const uint8_t *)src; *p && o + 1 < cap; p++) {
		if (ok_byte(*p, newline)) {
			dst[o++] = (char)*p;
			continue;
		}
		/* one '?' per UTF-8 sequence: skip its continuation bytes */
		dst[o++] = '?';
		while ((p[1] & 0xc0) == 0x80)
			p++;
	}
	dst[o] = '\0';
}

enum tf_notify_view tf_notify_view_for(bool cred_bound, bool foreground,
				       bool unlocked)
{
	if (!cred_bound)
		return TF_NOTIFY_FULL;
	return foreground && unlocked ? TF_NOTIFY_FULL : TF_NOTIFY_REDACTED;
}

int tf_notify_render(const struct tf_notify *n, const char *persona,
		     enum tf_notify_view view, char *buf, size_t cap)
{
	int w;

	if (cap == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	if (view == TF_NOTIFY_REDACTED) {
		if (!persona || !persona[0])
			return -EINVAL;
		/* from the persona's name only: not one byte of n */
		w = snprintf(buf, cap, "%c%s: new message",
			     toupper((unsigned char)persona[0]), persona + 1);
	} else if (view == TF_NOTIFY_FULL && n) {
		w = snprintf(buf, cap, "%s\n%s\n%s", n->app, n->summary,
			     n->body);
	} else {
		return -EINVAL;
	}
	if (w < 0)
		return -EINVAL;
	return (size_t)w >= cap ? -ENOBUFS : 0;
}

#define INTERVAL_NS (1000000000ull / TF_NOTIFY_RATE)

int64_t tf_notify_store_push(struct tf_notify_store *s,
			     const struct tf_notify *n, uint64_t now_ns)
{
	uint64_t tat = s->tat_ns > now_ns ? s->tat_ns : now_ns;
	size_t slot;

	/* GCRA: admitted while the backlog of intervals is under the
	 * burst; a flood is refused in O(1), nothing queued */
	if (tat - now_ns > (TF_NOTIFY_BURST - 1) * INTERVAL_NS) {
		s->refused++;
		return -EBUSY;
	}
	s->tat_ns = tat + INTERVAL_NS;
	if (++s->last_id == 0)
		s->last_id = 1;
	if (s->n < TF_NOTIFY_KEEP) {
		slot = (s->head + s->n) % TF_NOTIFY_KEEP;
		s->n++;
	} else {
		slot = s->head;
		s->head = (s->head + 1) % TF_NOTIFY_KEEP;
	}
	s->e[slot].id = s->last_id;
	s->e[slot].n = *n;
	return s->last_id;
}

int tf_notify_store_get(const struct tf_notify_store *s, uint32_t id,
			struct tf_notify *out)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t slot = (s->head + i) % TF_NOTIFY_KEEP;

		if (id != 0 && s->e[slot].id == id) {
			*out = s->e[slot].n;
			return 0;
		}
	}
	return -ENOENT;
}

void tf_notify_store_clear(struct tf_notify_store *s)
{
	tf_memzero(s->e, sizeof(s->e));
	s->n = s->head = 0;
	s->refused = 0;
}
