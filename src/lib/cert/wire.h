/* SPDX-License-Identifier: ISC */
/*
 * The bounded big-endian reader and writer of the organisation's signed
 * records (certificates, deny-lists, alerts). Every input through them is
 * untrusted: a reader never hands out a byte it has not checked is there,
 * and after the first failure every call fails (bad stays set), so a
 * parser checks once at the end. A writer likewise never writes past cap.
 */
#ifndef TF_CERT_WIRE_H
#define TF_CERT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include "twofold/cert.h"

struct rd {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

/* an n-byte (1..8) big-endian unsigned */
static inline uint64_t rd_u(struct rd *r, size_t n)
{
	const uint8_t *p = rd_take(r, n);
	uint64_t v = 0;

	for (size_t i = 0; p != NULL && i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* a length of lenbytes, then that many bytes, the length in [min, max] */
static inline const uint8_t *rd_vec(struct rd *r, size_t lenbytes, size_t min,
				    size_t max, size_t *len)
{
	size_t n = (size_t)rd_u(r, lenbytes);

	if (r->bad || n < min || n > max) {
		r->bad = true;
		return NULL;
	}
	*len = n;
	return rd_take(r, n);
}

struct wr {
	uint8_t *p;
	size_t cap, len;
	bool bad;
};

static inline void wr_put(struct wr *w, const void *d, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static inline void wr_u(struct wr *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	wr_put(w, b, n);
}

/* a u8 length, then that many bytes (the length over 255: bad) */
static inline void wr_vec(struct wr *w, const void *d, size_t n)
{
	if (n > 255) {
		w->bad = true;
		return;
	}
	wr_u(w, n, 1);
	wr_put(w, d, n);
}

/* The common header of the signed records: 4-byte magic, u8 version, u8
 * suite, u16 zero. A wrong magic or a short or nonzero header is
 * -EBADMSG; a version other than want or an unknown suite is
 * -EPROTONOSUPPORT (a newer peer, not a forger). */
static inline int rd_header(struct rd *r, const char magic[static 4],
			    uint8_t want, uint8_t *suite)
{
	const uint8_t *p = rd_take(r, 4);
	uint8_t version;

	if (p == NULL || memcmp(p, magic, 4) != 0)
		return -EBADMSG;
	version = (uint8_t)rd_u(r, 1);
	*suite = (uint8_t)rd_u(r, 1);
	if (rd_u(r, 2) != 0 || r->bad)
		return -EBADMSG;
	if (version != want || tf_suite_by_id(*suite) == NULL)
		return -EPROTONOSUPPORT;
	return 0;
}

/* Certificate, group and officer ids end up in logs, file names and the
 * relay's routing table: a narrow alphabet keeps them from carrying
 * terminal escapes or path tricks. */
static inline bool cert_id_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > TF_CERT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			  c == '.' || c == '@';
		if (!ok)
			return false;
	}
	return true;
}

#endif
