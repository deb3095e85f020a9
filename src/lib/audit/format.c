/* SPDX-License-Identifier: ISC */
/*
 * The audit record format: encoder, parser, sequential reader. Crypto-free
 * (tf_base), so the CLI reads the log itself. The parser takes untrusted
 * bytes (a log anyone with root may have edited): every length is checked
 * against both its bound and the bytes left, every character against its
 * alphabet, and a body must be used up exactly (fuzz/fuzz_audit.c).
 */
#include <string.h>

#include "src/lib/audit/internal.h"

static bool type_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_';
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* tf_name_valid's alphabet (checked in full after) */
static bool persona_char(char c)
{
	return key_char(c) || c == '-';
}

static bool value_char(char c)
{
	return (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f;
}

/* ---- encoding ---- */

/* Copy at most max bytes of s, each outside the alphabet replaced by
 * repl; returns the length written. */
static size_t put_str(uint8_t *p, const char *s, size_t max, bool (*ok)(char),
		      char repl)
{
	size_t n = 0;

	for (; s != NULL && s[n] != '\0' && n < max; n++)
		p[n] = ok(s[n]) ? (uint8_t)s[n] : (uint8_t)repl;
	return n;
}

int tf_audit_encode(const struct tf_audit_meta *m,
		    const struct tf_audit_event *ev, uint8_t *out, size_t cap,
		    size_t *len)
{
	uint8_t *b = out + 4, *p, *count;
	size_t n, nf;

	if (cap < 4 + TF_AUDIT_BODY_MAX || ev->type == NULL ||
	    ev->type[0] == '\0' || (ev->fields == NULL && ev->n_fields))
		return -EINVAL;
	nf = TF_MIN(ev->n_fields, (size_t)TF_AUDIT_FIELDS_MAX);
	b[0] = TF_AUDIT_VERSION;
	b[1] = m->kind;
	tf_audit_put16(b + 2, 0);
	tf_audit_put32(b + 4, m->epoch);
	tf_audit_put64(b + 8, m->seq);
	tf_audit_put64(b + 16, m->realtime_ns);
	tf_audit_put64(b + 24, m->boottime_ns);
	memcpy(b + 32, m->boot_id, 16);
	tf_audit_put32(b + 48, ev->uid);
	tf_audit_put32(b + 52, ev->pid);
	p = b + TF_AUDIT_BODY_FIXED;
	/* fixed part + type + persona + count always fit */
	n = put_str(p + 1, ev->type, TF_AUDIT_TYPE_MAX, type_char, '_');
	p[0] = (uint8_t)n;
	p += 1 + n;
	n = 0;
	if (ev->persona != NULL && tf_name_valid(ev->persona))
		n = put_str(p + 1, ev->persona, TF_AUDIT_PERSONA_MAX,
			    persona_char, '_');
	else if (ev->persona != NULL)
		n = put_str(p + 1, "invalid", TF_AUDIT_PERSONA_MAX, key_char,
			    '_');
	p[0] = (uint8_t)n;
	p += 1 + n;
	count = p++;
	*count = 0;
	for (size_t i = 0; i < nf; i++) {
		const struct tf_audit_kv *f = &ev->fields[i];
		size_t left = (size_t)(b + TF_AUDIT_BODY_MAX - p), kn, vn;
		size_t vmax;

		if (f->key == NULL || f->key[0] == '\0' || left < 1 + 1 + 2)
			break;
		kn = strnlen(f->key, TF_AUDIT_KEY_MAX);
		if (left < 1 + kn + 2)
			break;
		vmax = TF_MIN((size_t)TF_AUDIT_VALUE_MAX, left - 1 - kn - 2);
		put_str(p + 1, f->key, kn, key_char, '_');
		p[0] = (uint8_t)kn;
		vn = put_str(p + 1 + kn + 2, f->value ? f->value : "", vmax,
			     value_char, '?');
		tf_audit_put16(p + 1 + kn, (uint16_t)vn);
		p += 1 + kn + 2 + vn;
		(*count)++;
	}
	n = (size_t)(p - b);
	tf_audit_put32(out, (uint32_t)n);
	*len = 4 + n;
	return 0;
}

/* ---- parsing ---- */

struct cur {
	const uint8_t *p;
	size_t left;
};

static bool take(struct cur *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return false;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

/* a length-prefixed string (u8 or u16 length) into dst[max + 1] */
static bool take_str(struct cur *c, bool wide, size_t max, bool empty_ok,
		     bool (*ok)(char), char *dst)
{
	const uint8_t *lp, *s;
	size_t n;

	if (!take(c, wide ? 2 : 1, &lp))
		return false;
	n = wide ? tf_audit_get16(lp) : lp[0];
	if (n > max || (n == 0 && !empty_ok) || !take(c, n, &s))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ok((char)s[i]))
			return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

int tf_audit_parse(const uint8_t *buf, size_t len, struct tf_audit_rec *rec,
		   size_t *consumed)
{
	struct cur c;
	const uint8_t *b, *x;
	uint32_t blen;
	uint8_t nf;

	if (len < 4)
		return -EAGAIN;
	blen = tf_audit_get32(buf);
	if (blen < TF_AUDIT_BODY_FIXED + 3 || blen > TF_AUDIT_BODY_MAX)
		return -EBADMSG;
	if (len - 4 < (size_t)blen + TF_AUDIT_TRAILER)
		return -EAGAIN;
	b = buf + 4;
	memset(rec, 0, sizeof(*rec));
	if (b[0] != TF_AUDIT_VERSION || b[1] > TF_AUDIT_CHECKPOINT ||
	    tf_audit_get16(b + 2) != 0)
		return -EBADMSG;
	rec->kind = b[1];
	rec->epoch = tf_audit_get32(b + 4);
	rec->seq = tf_audit_get64(b + 8);
	rec->realtime_ns = tf_audit_get64(b + 16);
	rec->boottime_ns = tf_audit_get64(b + 24);
	memcpy(rec->boot_id, b + 32, 16);
	rec->uid = tf_audit_get32(b + 48);
	rec->pid = tf_audit_get32(b + 52);
	c.p = b + TF_AUDIT_BODY_FIXED;
	c.left = blen - TF_AUDIT_BODY_FIXED;
	if (!take_str(&c, false, TF_AUDIT_TYPE_MAX, false, type_char,
		      rec->type) ||
	    !take_str(&c, false, TF_AUDIT_PERSONA_MAX, true, persona_char,
		      rec->persona) ||
	    !take(&c, 1, &x))
		return -EBADMSG;
	if (rec->persona[0] != '\0' && !tf_name_valid(rec->persona))
		return -EBADMSG;
	nf = x[0];
	if (nf > TF_AUDIT_FIELDS_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < nf; i++)
		if (!take_str(&c, false, TF_AUDIT_KEY_MAX, false, key_char,
			      rec->fields[i].key) ||
		    !take_str(&c, true, TF_AUDIT_VALUE_MAX, true, value_char,
			      rec->fields[i].value))
			return -EBADMSG;
	if (c.left != 0)
		return -EBADMSG; /* no room for hidden bytes */
	rec->n_fields = nf;
	rec->raw = buf;
	rec->raw_len = 4 + blen;
	rec->chain = buf + 4 + blen;
	rec->mac = rec->chain + 32;
	*consumed = 4 + (size_t)blen + TF_AUDIT_TRAILER;
	return 0;
}

int tf_audit_header_parse(const uint8_t *buf, size_t len, uint8_t *suite_id)
{
	if (len < TF_AUDIT_HDR_BYTES)
		return -EAGAIN;
	if (memcmp(buf, TF_AUDIT_MAGIC, 4) != 0 || tf_audit_get16(buf + 6))
		return -EBADMSG;
	if (buf[4] != TF_AUDIT_VERSION)
		return buf[4] > TF_AUDIT_VERSION ? -EPROTONOSUPPORT : -EBADMSG;
	*suite_id = buf[5];
	return 0;
}

const char *tf_audit_field(const struct tf_audit_rec *rec, const char *key)
{
	for (size_t i = 0; i < rec->n_fields && i < TF_AUDIT_FIELDS_MAX; i++)
		if (strcmp(rec->fields[i].key, key) == 0)
			return rec->fields[i].value;
	return NULL;
}

/* ---- the sequential reader ---- */

static int fill(struct tf_audit_reader *rd)
{
	ssize_t n;

	if (rd->pos > 0) {
		memmove(rd->buf, rd->buf + rd->pos, rd->have - rd->pos);
		rd->have -= rd->pos;
		rd->pos = 0;
	}
	while (!rd->eof && rd->have < sizeof(rd->buf)) {
		n = read(rd->fd, rd->buf + rd->have,
			 sizeof(rd->buf) - rd->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tf_negerrno();
		if (n == 0)
			rd->eof = true;
		rd->have += (size_t)n;
	}
	return 0;
}

int tf_audit_reader_init(struct tf_audit_reader *rd, int fd)
{
	int r;

	memset(rd, 0, sizeof(*rd));
	rd->fd = fd;
	r = fill(rd);
	if (r < 0)
		return r;
	if (rd->have == 0)
		return -ENODATA;
	r = tf_audit_header_parse(rd->buf, rd->have, &rd->suite_id);
	if (r == -EAGAIN)
		return -EBADMSG;
	if (r < 0)
		return r;
	rd->pos = TF_AUDIT_HDR_BYTES;
	rd->offset = TF_AUDIT_HDR_BYTES;
	return 0;
}

int tf_audit_reader_next(struct tf_audit_reader *rd, struct tf_audit_rec *rec,
			 uint64_t *torn)
{
	size_t used;
	int r;

	if (rd->have - rd->pos < TF_AUDIT_REC_MAX && !rd->eof) {
		r = fill(rd);
		if (r < 0)
			return r;
	}
	if (rd->have == rd->pos)
		return 0;
	r = tf_audit_parse(rd->buf + rd->pos, rd->have - rd->pos, rec, &used);
	if (r == -EAGAIN) {
		*torn = rd->have - rd->pos; /* eof: the buffer holds a record */
		return -EAGAIN;
	}
	if (r < 0)
		return r;
	rd->pos += used;
	rd->offset += used;
	return 1;
}

/* ---- audit.key ---- */

void tf_audit_keystate_format(const struct tf_audit_keystate *ks,
			      uint8_t out[static TF_AUDIT_KEY_BYTES])
{
	memset(out, 0, TF_AUDIT_KEY_BYTES);
	memcpy(out, TF_AUDIT_KEY_MAGIC, 4);
	out[4] = TF_AUDIT_VERSION;
	out[5] = ks->suite_id;
	tf_audit_put32(out + 8, ks->epoch);
	tf_audit_put64(out + 16, ks->next_seq);
	tf_audit_put64(out + 24, ks->offset);
	memcpy(out + 32, ks->chain, 32);
	memcpy(out + 64, ks->k, 32);
}

int tf_audit_keystate_parse(const uint8_t *buf, size_t len,
			    struct tf_audit_keystate *out)
{
	if (len != TF_AUDIT_KEY_BYTES || memcmp(buf, TF_AUDIT_KEY_MAGIC, 4) ||
	    buf[4] != TF_AUDIT_VERSION || tf_audit_get16(buf + 6) ||
	    tf_audit_get32(buf + 12))
		return -EBADMSG;
	out->suite_id = buf[5];
	out->epoch = tf_audit_get32(buf + 8);
	out->next_seq = tf_audit_get64(buf + 16);
	out->offset = tf_audit_get64(buf + 24);
	memcpy(out->chain, buf + 32, 32);
	memcpy(out->k, buf + 64, 32);
	return 0;
}

int tf_audit_verify_file_parse(const uint8_t *buf, size_t len,
			       uint8_t *suite_id, uint8_t k0[static 32],
			       uint8_t *pk, size_t *pklen)
{
	size_t n;

	if (len < 8 + 32 || memcmp(buf, TF_AUDIT_VERIFY_MAGIC, 4) ||
	    buf[4] != TF_AUDIT_VERSION || buf[7] != 0)
		return -EBADMSG;
	n = buf[6];
	if (n == 0 || n > 65 || len != 8 + 32 + n || *pklen < n)
		return -EBADMSG;
	*suite_id = buf[5];
	memcpy(k0, buf + 8, 32);
	memcpy(pk, buf + 40, n);
	*pklen = n;
	return 0;
}

/* ---- hex ---- */

void tf_audit_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tf_audit_unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t l = strlen(s);

	if (l % 2 || l / 2 > cap)
		return -EBADMSG;
	for (size_t i = 0; i < l / 2; i++) {
		int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = l / 2;
	return 0;
}
