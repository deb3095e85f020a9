/* SPDX-License-Identifier: ISC */
/*
 * Message building and parsing. The parser is the daemon's first contact
 * with untrusted bytes from any local client; it is bounded everywhere,
 * never trusts a length before checking it against what remains, and has a
 * fuzz target (fuzz/fuzz_request.c).
 */
#include <stdio.h>
#include <string.h>

#include "twofold/ipc.h"
#include "twofold/secmem.h"

void tf_msgbuf_init(struct tf_msgbuf *b, uint16_t type)
{
	memset(b, 0, sizeof(*b));
	b->cap = 256;
	b->data = malloc(b->cap);
	if (b->data == NULL) {
		b->err = -ENOMEM;
		return;
	}
	memset(b->data, 0, TF_MSG_HDR_BYTES);
	tf_put_le16(b->data, TF_PROTO_MAGIC);
	b->data[2] = TF_PROTO_VERSION;
	tf_put_le16(b->data + 4, type);
	b->len = TF_MSG_HDR_BYTES;
}

void tf_msgbuf_init_secret(struct tf_msgbuf *b, uint16_t type, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap < TF_MSG_HDR_BYTES || cap > TF_FRAG_MAX) {
		b->err = -EINVAL;
		return;
	}
	b->data = tf_secure_alloc(cap); /* zero-filled */
	if (b->data == NULL) {
		b->err = tf_negerrno();
		return;
	}
	b->cap = cap;
	b->secret = b->secmem = true;
	tf_put_le16(b->data, TF_PROTO_MAGIC);
	b->data[2] = TF_PROTO_VERSION;
	tf_put_le16(b->data + 4, type);
	b->len = TF_MSG_HDR_BYTES;
}

static int reserve(struct tf_msgbuf *b, size_t more)
{
	size_t want;
	uint8_t *n;

	if (b->err)
		return b->err;
	if (more > TF_MSG_MAX || b->len + more > TF_MSG_MAX)
		return b->err = -EMSGSIZE;
	if (b->len + more <= b->cap)
		return 0;
	if (b->secmem)
		return b->err = -EMSGSIZE; /* growing would copy it */
	want = b->cap;
	while (want < b->len + more)
		want *= 2;
	n = malloc(want);
	if (n == NULL)
		return b->err = -ENOMEM;
	memcpy(n, b->data, b->len);
	/* never leave a copy of a credential in freed heap memory */
	tf_memzero(b->data, b->cap);
	free(b->data);
	b->data = n;
	b->cap = want;
	return 0;
}

void tf_msgbuf_put(struct tf_msgbuf *b, uint16_t attr, const void *v,
		   size_t len)
{
	if (len > TF_MSG_MAX) {
		b->err = b->err ? b->err : -EMSGSIZE;
		return;
	}
	if (reserve(b, 8 + len) < 0)
		return;
	tf_put_le16(b->data + b->len, attr);
	tf_put_le16(b->data + b->len + 2, 0);
	tf_put_le32(b->data + b->len + 4, (uint32_t)len);
	if (len)
		memcpy(b->data + b->len + 8, v, len);
	b->len += 8 + len;
}

void tf_msgbuf_put_str(struct tf_msgbuf *b, uint16_t attr, const char *s)
{
	size_t len = strlen(s);

	if (len + 1 > TF_STR_MAX) {
		b->err = b->err ? b->err : -E2BIG;
		return;
	}
	tf_msgbuf_put(b, attr, s, len + 1);
}

void tf_msgbuf_put_u32(struct tf_msgbuf *b, uint16_t attr, uint32_t v)
{
	uint8_t le[4];

	tf_put_le32(le, v);
	tf_msgbuf_put(b, attr, le, 4);
}

void tf_msgbuf_put_i32(struct tf_msgbuf *b, uint16_t attr, int32_t v)
{
	tf_msgbuf_put_u32(b, attr, (uint32_t)v);
}

int tf_msgbuf_finish(struct tf_msgbuf *b)
{
	if (b->err)
		return b->err;
	tf_put_le32(b->data + 8, (uint32_t)(b->len - TF_MSG_HDR_BYTES));
	return 0;
}

void tf_msgbuf_free(struct tf_msgbuf *b)
{
	if (b->secmem)
		tf_secure_free(b->data); /* zeroes */
	else if (b->data != NULL && b->secret)
		tf_memzero(b->data, b->cap);
	if (!b->secmem)
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Strings: exactly one NUL, the last byte. */
static bool str_ok(const uint8_t *v, uint32_t len)
{
	return len >= 1 && len <= TF_STR_MAX && v[len - 1] == '\0' &&
	       memchr(v, '\0', len - 1) == NULL;
}

static bool attr_ok(uint16_t type, const uint8_t *v, uint32_t len)
{
	switch (type) {
	case TF_A_PERSONA:
	case TF_A_ARG:
	case TF_A_ENV:
	case TF_A_CWD:
	case TF_A_SECRET:
	case TF_A_SECRET_NEW:
	case TF_A_MESSAGE:
	case TF_A_TEXT:
	case TF_A_JSON:
	case TF_A_REASON:
	case TF_A_PARAM: return str_ok(v, len);
	case TF_A_UID:
	case TF_A_FLAGS:
	case TF_A_SIGNAL:
	case TF_A_ERRNO:
	case TF_A_EXIT:
	case TF_A_PID: return len == 4;
	default: return false;
	}
}

static bool type_known(uint16_t t)
{
	return (t >= TF_REQ_PING && t <= TF_REQ_TYPE_MAX) ||
	       t == TF_REP_RESULT || t == TF_REP_EXITED ||
	       t == TF_REP_RESERVED_STARTED || t == TF_REP_PTY ||
	       t == TF_REP_STOPPED || t == TF_REP_EVENT;
}

int tf_msg_parse(const uint8_t *buf, size_t len, struct tf_msg *msg)
{
	struct tf_attr_ref *attrs = NULL;
	size_t n = 0, cap = 0, off;
	uint32_t body;
	uint16_t type;

	if (len < TF_MSG_HDR_BYTES)
		return -EBADMSG;
	if (len > TF_MSG_MAX)
		return -EMSGSIZE;
	if (tf_get_le16(buf) != TF_PROTO_MAGIC)
		return -EBADMSG;
	if (buf[2] != TF_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[3] != 0 || tf_get_le16(buf + 6) != 0)
		return -EBADMSG;
	type = tf_get_le16(buf + 4);
	if (!type_known(type))
		return -EBADMSG;
	body = tf_get_le32(buf + 8);
	if ((size_t)body != len - TF_MSG_HDR_BYTES)
		return -EBADMSG;

	for (off = TF_MSG_HDR_BYTES; off < len;) {
		uint16_t at;
		uint32_t alen;

		if (len - off < 8)
			goto bad;
		at = tf_get_le16(buf + off);
		alen = tf_get_le32(buf + off + 4);
		if (tf_get_le16(buf + off + 2) != 0)
			goto bad;
		off += 8;
		if (alen > len - off)
			goto bad;
		if (!attr_ok(at, buf + off, alen))
			goto bad;
		if (n == cap) {
			struct tf_attr_ref *na;
			if (cap >= TF_ATTR_MAX) {
				free(attrs);
				return -EMSGSIZE;
			}
			cap = cap ? cap * 2 : 16;
			if (cap > TF_ATTR_MAX)
				cap = TF_ATTR_MAX;
			na = realloc(attrs, cap * sizeof(*na));
			if (na == NULL) {
				free(attrs);
				return -ENOMEM;
			}
			attrs = na;
		}
		attrs[n].type = at;
		attrs[n].len = alen;
		attrs[n].val = buf + off;
		n++;
		off += alen;
	}
	msg->type = type;
	msg->n_attrs = n;
	msg->attrs = attrs;
	return 0;
bad:
	free(attrs);
	return -EBADMSG;
}

void tf_msg_clear(struct tf_msg *msg)
{
	free(msg->attrs);
	msg->attrs = NULL;
	msg->n_attrs = 0;
}

static const struct tf_attr_ref *find(const struct tf_msg *m, uint16_t attr)
{
	for (size_t i = 0; i < m->n_attrs; i++)
		if (m->attrs[i].type == attr)
			return &m->attrs[i];
	return NULL;
}

const char *tf_msg_str(const struct tf_msg *m, uint16_t attr)
{
	const struct tf_attr_ref *a = find(m, attr);

	return a ? (const char *)a->val : NULL;
}

int tf_msg_u32(const struct tf_msg *m, uint16_t attr, uint32_t *out)
{
	const struct tf_attr_ref *a = find(m, attr);

	if (a == NULL)
		return -ENOENT;
	*out = tf_get_le32(a->val);
	return 0;
}

int tf_msg_i32(const struct tf_msg *m, uint16_t attr, int32_t *out)
{
	uint32_t v;
	int r = tf_msg_u32(m, attr, &v);

	if (r == 0)
		*out = (int32_t)v;
	return r;
}

size_t tf_msg_count(const struct tf_msg *m, uint16_t attr)
{
	size_t c = 0;

	for (size_t i = 0; i < m->n_attrs; i++)
		c += m->attrs[i].type == attr;
	return c;
}

int tf_control_path(const char *state_dir, char *buf, size_t cap)
{
	int n;

	if (state_dir == NULL)
		n = snprintf(buf, cap, "/run/twofold/control");
	else
		n = snprintf(buf, cap, "%s/control", state_dir);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	/* sockaddr_un.sun_path is 108 bytes */
	if ((size_t)n >= 108)
		return -ENAMETOOLONG;
	return 0;
}
