/* SPDX-License-Identifier: ISC */
/*
 * Urgent incident alerts (twofold/alert.h): the organisation's signed
 * record of one incident. Parsed by the daemon from a UDP datagram that
 * anyone on the tunnel's path may send, so every length is bounded and
 * checked before it is used (fuzz/fuzz_alert.c).
 */
#include <errno.h>
#include <string.h>

#include "twofold/alert.h"
#include "wire.h"

static bool text_ok(const uint8_t *p, size_t n, bool newlines)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 0x20 && p[i] < 0x7f) ||
		      (newlines && p[i] == '\n')))
			return false;
	return true;
}

static bool name_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > TF_ALERT_PERSONA_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
		      p[i] == '_'))
			return false;
	return true;
}

int tf_alert_parse(const uint8_t *buf, size_t len, struct tf_alert *out)
{
	struct tf_alert a;
	struct rd r = {.p = buf, .left = len};
	const uint8_t *p;
	size_t n;

	memset(&a, 0, sizeof(a));
	if (len > TF_ALERT_MAX)
		return -EBADMSG;
	p = rd_take(&r, 4);
	if (p == NULL || memcmp(p, TF_ALERT_MAGIC, 4) != 0)
		return -EBADMSG;
	if (rd_u(&r, 1) != TF_ALERT_VERSION && !r.bad)
		return -EPROTONOSUPPORT;
	a.suite = (uint8_t)rd_u(&r, 1);
	if (rd_u(&r, 2) != 0 || r.bad)
		return -EBADMSG;
	p = rd_take(&r, TF_ALERT_ID_BYTES);
	if (p == NULL)
		return -EBADMSG;
	memcpy(a.id, p, TF_ALERT_ID_BYTES);
	a.issued_at = rd_u(&r, 8);
	a.expires_at = rd_u(&r, 8);
	p = rd_vec(&r, 1, 1, TF_ALERT_PERSONA_MAX, &n);
	if (p == NULL || !name_ok(p, n))
		return -EBADMSG;
	memcpy(a.persona, p, n);
	p = rd_vec(&r, 1, 1, TF_ALERT_TITLE_MAX, &n);
	if (p == NULL || !text_ok(p, n, false))
		return -EBADMSG;
	memcpy(a.title, p, n);
	p = rd_vec(&r, 2, 0, TF_ALERT_BODY_MAX, &n);
	if (r.bad || !text_ok(p, n, true))
		return -EBADMSG;
	if (n)
		memcpy(a.body, p, n);
	a.body_len = n;
	a.tbs_len = len - r.left;
	p = rd_vec(&r, 1, 1, TF_SIG_MAX, &n);
	if (p == NULL || r.left != 0)
		return -EBADMSG;
	if (a.expires_at <= a.issued_at)
		return -EBADMSG;
	*out = a;
	return 0;
}

int tf_alert_sign(const struct tf_alert *a, const struct tf_key *sk,
		  uint8_t *out, size_t cap)
{
	const struct tf_suite *s = tf_key_suite(sk);
	uint8_t tmp[TF_ALERT_MAX], sig[TF_SIG_MAX];
	struct wr w = {.p = tmp, .cap = sizeof(tmp)};
	size_t pn = strnlen(a->persona, sizeof(a->persona)),
	       tn = strnlen(a->title, sizeof(a->title)), siglen;
	int r;

	if (s == NULL || !name_ok((const uint8_t *)a->persona, pn) || tn == 0 ||
	    tn > TF_ALERT_TITLE_MAX ||
	    !text_ok((const uint8_t *)a->title, tn, false) ||
	    a->body_len > TF_ALERT_BODY_MAX ||
	    !text_ok((const uint8_t *)a->body, a->body_len, true) ||
	    a->expires_at <= a->issued_at ||
	    a->expires_at - a->issued_at > TF_ALERT_MAX_TTL)
		return -EINVAL;
	wr_put(&w, TF_ALERT_MAGIC, 4);
	wr_u(&w, TF_ALERT_VERSION, 1);
	wr_u(&w, s->id, 1);
	wr_u(&w, 0, 2);
	wr_put(&w, a->id, TF_ALERT_ID_BYTES);
	wr_u(&w, a->issued_at, 8);
	wr_u(&w, a->expires_at, 8);
	wr_u(&w, pn, 1);
	wr_put(&w, a->persona, pn);
	wr_u(&w, tn, 1);
	wr_put(&w, a->title, tn);
	wr_u(&w, a->body_len, 2);
	wr_put(&w, a->body, a->body_len);
	if (w.bad)
		return -EINVAL;
	r = tf_sign_id(sk, TF_ALERT_SIGN_ID, tmp, w.len, sig, sizeof(sig),
		       &siglen);
	if (r < 0)
		return r;
	wr_u(&w, siglen, 1);
	wr_put(&w, sig, siglen);
	if (w.bad)
		return -EINVAL;
	if (w.len > cap)
		return -ENOBUFS;
	memcpy(out, tmp, w.len);
	return (int)w.len;
}

int tf_alert_verify(const uint8_t *buf, size_t len, const struct tf_suite *s,
		    const uint8_t (*pks)[TF_PK_MAX], size_t n,
		    const char *persona, uint64_t now, struct tf_alert *out)
{
	struct tf_alert a;
	bool good = false;
	int r = tf_alert_parse(buf, len, &a);

	if (r < 0)
		return r;
	if (a.suite != s->id)
		return -EPROTONOSUPPORT;
	/* the signature before anything else: an unsigned record's other
	 * fields are the sender's choice and say nothing */
	for (size_t i = 0; i < n && !good; i++)
		good = tf_verify_id(s, pks[i], TF_ALERT_SIGN_ID, buf, a.tbs_len,
				    buf + a.tbs_len + 1,
				    len - a.tbs_len - 1) == 0;
	if (!good)
		return -EBADMSG;
	if (strcmp(a.persona, persona) != 0)
		return -EXDEV;
	if (a.expires_at - a.issued_at > TF_ALERT_MAX_TTL)
		return -EMSGSIZE;
	if (now >= a.expires_at)
		return -EKEYEXPIRED;
	if (a.issued_at > now + TF_ALERT_SKEW)
		return -ETIME;
	if (out)
		*out = a;
	return 0;
}

const char *tf_alert_reason(int err)
{
	switch (err) {
	case 0: return "valid";
	case -EBADMSG: return "malformed or not signed by a trusted key";
	case -EPROTONOSUPPORT: return "of another suite or version";
	case -EXDEV: return "for another persona";
	case -EKEYEXPIRED: return "expired";
	case -ETIME: return "not yet valid (issued in the future)";
	case -EMSGSIZE: return "valid for longer than allowed";
	case -EALREADY: return "already seen (a replay)";
	case -ESTALE: return "older than the alerts already seen (a replay)";
	case -ENOKEY: return "no alert signer is configured (alert_trust)";
	default: return "refused";
	}
}

void tf_alert_id_hex(const uint8_t id[static TF_ALERT_ID_BYTES],
		     char out[static 2 * TF_ALERT_ID_BYTES + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < TF_ALERT_ID_BYTES; i++) {
		out[2 * i] = hx[id[i] >> 4];
		out[2 * i + 1] = hx[id[i] & 15];
	}
	out[2 * TF_ALERT_ID_BYTES] = '\0';
}
