/* SPDX-License-Identifier: ISC */
/*
 * SFrame frames (RFC 9605) on the tf_suite vtable: the layout, the key
 * schedule and the nonce construction are documented in twofold/sframe.h.
 */
#include <errno.h>
#include <string.h>

#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "twofold/sframe.h"

#define SF_NK_MAX 32
#define SF_NN_MAX 24

struct tf_sframe_key {
	const struct tf_suite *s;
	uint64_t kid;
	uint16_t suite_id;
	size_t nk, nn;
	/* the AEAD key buffer is always TF_KEY_BYTES: the suites' raw AEAD
	 * reads that many (gm uses the first 16) */
	uint8_t key[TF_KEY_BYTES];
	uint8_t salt[SF_NN_MAX];
};

/* Per suite: Nk (gm's SM4 takes 128 bits; the rest of the buffer stays
 * zero), or 0 for a suite SFrame has no id for. */
static size_t sf_nk(const struct tf_suite *s)
{
	switch (s->id) {
	case TF_SUITE_INTL: return 32;
	case TF_SUITE_GM: return 16;
	default: return 0;
	}
}

static void be_put(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static uint64_t be_get(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* bytes needed for v as a big-endian integer, at least 1 */
static size_t be_len(uint64_t v)
{
	size_t n = 1;

	while (n < 8 && (v >> (8 * n)) != 0)
		n++;
	return n;
}

int tf_sframe_key_derive(const struct tf_suite *s, const uint8_t *base,
			 size_t n, uint64_t kid, struct tf_sframe_key **out)
{
	static const char klabel[] = "SFrame 1.0 Secret key ";
	static const char slabel[] = "SFrame 1.0 Secret salt ";
	uint8_t info[sizeof(slabel) - 1 + 8 + 2];
	struct tf_sframe_key *k;
	size_t nk = sf_nk(s), ll;
	int r;

	if (nk == 0 || s->aead_nonce_bytes > SF_NN_MAX ||
	    s->aead_nonce_bytes < 8 || s->aead_tag_bytes != TF_SFRAME_TAG_BYTES)
		return -EPROTONOSUPPORT;
	if (n < TF_SFRAME_BASE_MIN || n > TF_SFRAME_BASE_MAX)
		return -EINVAL;
	k = tf_secure_alloc(sizeof(*k));
	if (!k)
		return -errno;
	k->s = s;
	k->kid = kid;
	k->suite_id = (uint16_t)(TF_SFRAME_SUITE_BASE | s->id);
	k->nk = nk;
	k->nn = s->aead_nonce_bytes;

	/* The suite's hkdf is extract (empty salt) then expand with info:
	 * the two RFC 9605 expands share one extract, so calling it twice
	 * with the two labels gives the same bytes. */
	ll = sizeof(klabel) - 1;
	memcpy(info, klabel, ll);
	be_put(info + ll, kid, 8);
	be_put(info + ll + 8, k->suite_id, 2);
	r = s->hkdf(k->key, nk, base, n, NULL, 0, info, ll + 10);
	if (r < 0)
		goto fail;
	ll = sizeof(slabel) - 1;
	memcpy(info, slabel, ll);
	be_put(info + ll, kid, 8);
	be_put(info + ll + 8, k->suite_id, 2);
	r = s->hkdf(k->salt, k->nn, base, n, NULL, 0, info, ll + 10);
	if (r < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	tf_secure_free(k);
	return r;
}

void tf_sframe_key_free(struct tf_sframe_key *k)
{
	tf_secure_free(k); /* zeroes */
}

uint64_t tf_sframe_key_kid(const struct tf_sframe_key *k)
{
	return k->kid;
}

uint16_t tf_sframe_key_suite(const struct tf_sframe_key *k)
{
	return k->suite_id;
}

static size_t hdr_encode(uint8_t *p, uint64_t kid, uint64_t ctr)
{
	size_t off = 1;
	uint8_t cfg = 0;

	if (kid < 8) {
		cfg |= (uint8_t)(kid << 4);
	} else {
		size_t l = be_len(kid);
		cfg |= (uint8_t)(0x80 | ((l - 1) << 4));
		be_put(p + off, kid, l);
		off += l;
	}
	if (ctr < 8) {
		cfg |= (uint8_t)ctr;
	} else {
		size_t l = be_len(ctr);
		cfg |= (uint8_t)(0x08 | (l - 1));
		be_put(p + off, ctr, l);
		off += l;
	}
	p[0] = cfg;
	return off;
}

static size_t hdr_len(uint64_t kid, uint64_t ctr)
{
	return 1 + (kid < 8 ? 0 : be_len(kid)) + (ctr < 8 ? 0 : be_len(ctr));
}

size_t tf_sframe_len(const struct tf_sframe_key *k, uint64_t ctr, size_t n)
{
	return hdr_len(k->kid, ctr) + n + TF_SFRAME_TAG_BYTES;
}

/* header only; the frame-length check is the caller's */
static int hdr_decode(const uint8_t *in, size_t n, uint64_t *kid, uint64_t *ctr)
{
	size_t off = 1, l;
	uint8_t cfg;

	if (n < 1)
		return -EINVAL;
	cfg = in[0];
	if (cfg & 0x80) {
		l = ((cfg >> 4) & 7) + 1;
		if (n - off < l)
			return -EINVAL;
		*kid = be_get(in + off, l);
		off += l;
	} else {
		*kid = (cfg >> 4) & 7;
	}
	if (cfg & 0x08) {
		l = (cfg & 7) + 1;
		if (n - off < l)
			return -EINVAL;
		*ctr = be_get(in + off, l);
		off += l;
	} else {
		*ctr = cfg & 7;
	}
	return (int)off;
}

int tf_sframe_peek(const uint8_t *in, size_t n, uint64_t *kid, uint64_t *ctr)
{
	uint64_t k, c;
	int h = hdr_decode(in, n, &k, &c);

	if (h < 0)
		return h;
	if (n - (size_t)h < TF_SFRAME_TAG_BYTES)
		return -EINVAL;
	*kid = k;
	*ctr = c;
	return h;
}

static void make_nonce(const struct tf_sframe_key *k, uint64_t ctr,
		       uint8_t nonce[SF_NN_MAX])
{
	memcpy(nonce, k->salt, k->nn);
	for (size_t i = 0; i < 8; i++)
		nonce[k->nn - 1 - i] ^= (uint8_t)(ctr >> (8 * i));
}

int tf_sframe_seal(const struct tf_sframe_key *k, uint64_t ctr,
		   const uint8_t *pt, size_t n, uint8_t *out, size_t cap)
{
	uint8_t nonce[SF_NN_MAX];
	size_t h = hdr_len(k->kid, ctr);
	int r;

	if (n > (size_t)INT32_MAX - TF_SFRAME_OVERHEAD_MAX || (n && !pt))
		return -EINVAL;
	if (cap < h + n + TF_SFRAME_TAG_BYTES)
		return -ENOBUFS;
	hdr_encode(out, k->kid, ctr);
	make_nonce(k, ctr, nonce);
	/* pt may alias out + h (in-place): the AEADs read m before writing c */
	r = k->s->aead_encrypt(out + h, out + h + n, pt, n, out, h, nonce,
			       k->key);
	if (r < 0) {
		memset(out, 0, cap);
		return r;
	}
	return (int)(h + n + TF_SFRAME_TAG_BYTES);
}

int tf_sframe_open(const struct tf_sframe_key *k, const uint8_t *in, size_t n,
		   uint8_t *out, size_t cap)
{
	uint8_t nonce[SF_NN_MAX];
	uint64_t kid, ctr;
	size_t ctlen;
	int h, r;

	h = tf_sframe_peek(in, n, &kid, &ctr);
	if (h < 0)
		return h;
	if (kid != k->kid)
		return -EKEYREJECTED;
	ctlen = n - (size_t)h - TF_SFRAME_TAG_BYTES;
	if (ctlen > (size_t)INT32_MAX)
		return -EINVAL;
	if (cap < ctlen || (ctlen && !out))
		return -ENOBUFS;
	make_nonce(k, ctr, nonce);
	r = k->s->aead_decrypt(out, in + h, ctlen, in + h + ctlen, in,
			       (size_t)h, nonce, k->key);
	if (r < 0) {
		if (ctlen)
			memset(out, 0, ctlen);
		return r == -EBADMSG ? -EBADMSG : r;
	}
	return (int)ctlen;
}

/* ---- replay window ---- */

void tf_sframe_window_init(struct tf_sframe_window *w)
{
	memset(w, 0, sizeof(*w));
}

#define WBITS TF_SFRAME_WINDOW

static bool wbit(const struct tf_sframe_window *w, uint64_t ctr)
{
	uint64_t i = ctr % WBITS;
	return (w->bits[i / 64] >> (i % 64)) & 1;
}

int tf_sframe_window_check(const struct tf_sframe_window *w, uint64_t ctr)
{
	if (!w->any || ctr > w->top)
		return 0;
	if (w->top - ctr >= WBITS)
		return -ESTALE;
	return wbit(w, ctr) ? -EALREADY : 0;
}

int tf_sframe_window_update(struct tf_sframe_window *w, uint64_t ctr)
{
	uint64_t i;
	int r = tf_sframe_window_check(w, ctr);

	if (r < 0)
		return r;
	if (!w->any) {
		memset(w->bits, 0, sizeof(w->bits));
		w->any = true;
		w->top = ctr;
	} else if (ctr > w->top) {
		/* slide: clear the bits of every CTR the window now passes
		 * over (all of them after a jump of a window or more) */
		if (ctr - w->top >= WBITS) {
			memset(w->bits, 0, sizeof(w->bits));
		} else {
			for (uint64_t c = w->top + 1; c <= ctr; c++) {
				i = c % WBITS;
				w->bits[i / 64] &= ~(1ull << (i % 64));
			}
		}
		w->top = ctr;
	}
	i = ctr % WBITS;
	w->bits[i / 64] |= 1ull << (i % 64);
	return 0;
}
