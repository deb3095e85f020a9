/* SPDX-License-Identifier: ISC */
/*
 * Organisation certificates and the deny-list (twofold/cert.h). Every
 * input here is untrusted: a certificate arrives inside a Noise handshake
 * from anyone who can reach a relay, so the parser reads through one
 * bounded cursor and never trusts a length it has not checked against what
 * is left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/cert.h"
#include "wire.h"

/* ---- names and ids ---- */

static const char *const role_names[] = {
	[TF_ROLE_OFFICER] = "officer",
	[TF_ROLE_DISPATCHER] = "dispatcher",
	[TF_ROLE_GROUP_AUTHORITY] = "group-authority",
	[TF_ROLE_RELAY] = "relay",
};

const char *tf_cert_role_name(unsigned role)
{
	if (role == 0 || role >= TF_ARRAY_SIZE(role_names))
		return NULL;
	return role_names[role];
}

unsigned tf_cert_role_by_name(const char *name)
{
	for (unsigned i = 1; i < TF_ARRAY_SIZE(role_names); i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return 0;
}

int tf_cert_keyid(const struct tf_suite *s, const uint8_t *pk, size_t pklen,
		  uint8_t out[static TF_CERT_KEYID_BYTES])
{
	static const char label[] = "twofold key id v1";
	uint8_t buf[sizeof(label) - 1 + 1 + TF_PK_MAX], h[TF_HASH_BYTES];
	size_t n = sizeof(label) - 1;
	int r;

	if (pklen == 0 || pklen > TF_PK_MAX)
		return -EINVAL;
	memcpy(buf, label, n);
	buf[n++] = s->id;
	memcpy(buf + n, pk, pklen);
	r = tf_hash(s, h, buf, n + pklen);
	if (r < 0)
		return r;
	memcpy(out, h, TF_CERT_KEYID_BYTES);
	return 0;
}

int tf_cert_anchor_init(struct tf_cert_anchor *a, const struct tf_suite *s,
			const uint8_t *pk, size_t pklen)
{
	struct tf_cert_anchor t = {.suite = s, .pk_len = pklen};
	int r;

	if (pklen != s->pk_bytes)
		return -EINVAL;
	memcpy(t.pk, pk, pklen);
	r = tf_cert_keyid(s, pk, pklen, t.keyid);
	if (r < 0)
		return r;
	*a = t;
	return 0;
}

/* ---- certificates ---- */

int tf_cert_parse(const uint8_t *buf, size_t len, struct tf_cert *out)
{
	struct rd r = {.p = buf, .left = len};
	struct tf_cert c = {0};
	const struct tf_suite *s;
	const uint8_t *p;
	size_t n, pkb;

	if (len > TF_CERT_MAX)
		return -EBADMSG;
	p = rd_take(&r, 4);
	if (p == NULL || memcmp(p, TF_CERT_MAGIC, 4) != 0)
		return -EBADMSG;
	c.version = (uint8_t)rd_u(&r, 1);
	c.suite = (uint8_t)rd_u(&r, 1);
	c.role = (uint8_t)rd_u(&r, 1);
	if (rd_u(&r, 1) != 0 || r.bad)
		return -EBADMSG;
	if (c.version != TF_CERT_VERSION)
		return -EPROTONOSUPPORT;
	s = tf_suite_by_id(c.suite);
	if (s == NULL)
		return -EPROTONOSUPPORT;
	if (tf_cert_role_name(c.role) == NULL)
		return -EBADMSG;
	pkb = s->pk_bytes;
	c.serial = rd_u(&r, 8);
	c.not_before = rd_u(&r, 8);
	c.not_after = rd_u(&r, 8);
	p = rd_take(&r, TF_CERT_KEYID_BYTES);
	if (p != NULL)
		memcpy(c.issuer, p, TF_CERT_KEYID_BYTES);
	p = rd_vec(&r, 1, 1, TF_CERT_ID_MAX, &n);
	if (p == NULL || !cert_id_ok(p, n))
		return -EBADMSG;
	memcpy(c.officer, p, n);
	p = rd_vec(&r, 1, 1, TF_CERT_ID_MAX, &n);
	if (p == NULL || !cert_id_ok(p, n))
		return -EBADMSG;
	memcpy(c.device, p, n);
	p = rd_vec(&r, 1, pkb, pkb, &c.sign_pk_len);
	if (p == NULL)
		return -EBADMSG;
	memcpy(c.sign_pk, p, pkb);
	p = rd_vec(&r, 1, pkb, pkb, &c.dh_pk_len);
	if (p == NULL)
		return -EBADMSG;
	memcpy(c.dh_pk, p, pkb);
	c.tbs_len = len - r.left;
	p = rd_vec(&r, 1, 1, TF_SIG_MAX, &c.sig_len);
	if (p == NULL || r.left != 0)
		return -EBADMSG;
	memcpy(c.sig, p, c.sig_len);
	if (c.not_after <= c.not_before)
		return -EBADMSG;
	*out = c;
	return 0;
}

int tf_cert_sign(const struct tf_cert *c, const struct tf_key *ca, uint8_t *out,
		 size_t cap)
{
	const struct tf_suite *s = tf_key_suite(ca);
	uint8_t pk[TF_PK_MAX], keyid[TF_CERT_KEYID_BYTES], sig[TF_SIG_MAX];
	uint8_t tmp[TF_CERT_MAX];
	struct wr w = {.p = tmp, .cap = sizeof(tmp)};
	size_t siglen, on = strnlen(c->officer, sizeof(c->officer)),
		       dn = strnlen(c->device, sizeof(c->device));
	int r;

	if (s == NULL || s->id != c->suite ||
	    tf_cert_role_name(c->role) == NULL ||
	    !cert_id_ok((const uint8_t *)c->officer, on) ||
	    !cert_id_ok((const uint8_t *)c->device, dn) ||
	    c->sign_pk_len != s->pk_bytes || c->dh_pk_len != s->pk_bytes ||
	    c->not_after <= c->not_before ||
	    c->not_after - c->not_before > TF_CERT_MAX_VALIDITY)
		return -EINVAL;
	r = tf_key_public(ca, pk, sizeof(pk));
	if (r < 0)
		return r;
	r = tf_cert_keyid(s, pk, s->pk_bytes, keyid);
	if (r < 0)
		return r;
	wr_put(&w, TF_CERT_MAGIC, 4);
	wr_u(&w, TF_CERT_VERSION, 1);
	wr_u(&w, c->suite, 1);
	wr_u(&w, c->role, 1);
	wr_u(&w, 0, 1);
	wr_u(&w, c->serial, 8);
	wr_u(&w, c->not_before, 8);
	wr_u(&w, c->not_after, 8);
	wr_put(&w, keyid, sizeof(keyid));
	wr_vec(&w, c->officer, on);
	wr_vec(&w, c->device, dn);
	wr_vec(&w, c->sign_pk, c->sign_pk_len);
	wr_vec(&w, c->dh_pk, c->dh_pk_len);
	if (w.bad)
		return -EINVAL;
	r = tf_sign_id(ca, TF_CERT_SIGN_ID, tmp, w.len, sig, sizeof(sig),
		       &siglen);
	if (r < 0)
		return r;
	wr_vec(&w, sig, siglen);
	if (w.bad)
		return -EINVAL;
	if (w.len > cap)
		return -ENOBUFS;
	memcpy(out, tmp, w.len);
	return (int)w.len;
}

int tf_cert_check(const struct tf_cert *c, const struct tf_cert_anchor *ca,
		  uint64_t now, unsigned roles, const struct tf_denylist *dl)
{
	int r;

	if (ca->suite == NULL || c->suite != ca->suite->id)
		return -EPROTONOSUPPORT;
	if (memcmp(c->issuer, ca->keyid, TF_CERT_KEYID_BYTES) != 0)
		return -ENOKEY;
	if (c->not_after < c->not_before ||
	    c->not_after - c->not_before > TF_CERT_MAX_VALIDITY)
		return -EBADMSG;
	if (now < c->not_before)
		return -ETIME;
	if (now >= c->not_after)
		return -EKEYEXPIRED;
	if (c->role >= 32 || !(roles & TF_ROLE_BIT(c->role)))
		return -EPERM;
	if (dl != NULL) {
		r = tf_denylist_check_fresh(dl, 0, now);
		if (r < 0)
			return r;
		if (tf_denylist_contains(dl, c->serial))
			return -EKEYREVOKED;
	}
	return 0;
}

int tf_cert_verify(const uint8_t *buf, size_t len,
		   const struct tf_cert_anchor *ca, uint64_t now,
		   unsigned roles, const struct tf_denylist *dl,
		   struct tf_cert *out)
{
	struct tf_cert c;
	int r;

	r = tf_cert_parse(buf, len, &c);
	if (r < 0)
		return r;
	if (ca->suite == NULL || c.suite != ca->suite->id)
		return -EPROTONOSUPPORT;
	if (memcmp(c.issuer, ca->keyid, TF_CERT_KEYID_BYTES) != 0)
		return -ENOKEY;
	/* the signature before anything a forger could choose to make us
	 * report: an unsigned certificate says nothing, not even "expired" */
	r = tf_verify_id(ca->suite, ca->pk, TF_CERT_SIGN_ID, buf, c.tbs_len,
			 c.sig, c.sig_len);
	if (r < 0)
		return r == -EINVAL ? -EBADMSG : r;
	r = tf_cert_check(&c, ca, now, roles, dl);
	if (r < 0)
		return r;
	if (out != NULL)
		*out = c;
	return 0;
}

const char *tf_cert_reason(int err)
{
	switch (err) {
	case 0: return "certificate valid";
	case -EBADMSG:
		return "certificate malformed or its signature is invalid";
	case -EPROTONOSUPPORT:
		return "certificate of another crypto suite or format version";
	case -ENOKEY: return "certificate issued by another CA";
	case -EKEYEXPIRED:
		return "certificate expired; ask the organisation for a new "
		       "one";
	case -ETIME: return "certificate not yet valid; check the device clock";
	case -EKEYREVOKED: return "certificate revoked (on the deny-list)";
	case -EPERM: return "certificate's role is not allowed here";
	case -ESTALE:
		return "deny-list out of date or older than one already seen; "
		       "fetch a current one";
	default: return "certificate check failed";
	}
}

/* ---- deny-list ---- */

struct tf_denylist {
	uint8_t suite;
	uint8_t issuer[TF_CERT_KEYID_BYTES];
	uint64_t issued_at, next_update;
	size_t count;
	size_t tbs_len;
	uint8_t sig[TF_SIG_MAX];
	size_t sig_len;
	uint64_t serials[]; /* strictly ascending */
};

void tf_denylist_free(struct tf_denylist *dl)
{
	free(dl);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int tf_denylist_sign(const struct tf_key *ca, uint64_t issued_at,
		     uint64_t next_update, const uint64_t *serials, size_t n,
		     uint8_t **out, size_t *outlen)
{
	const struct tf_suite *s = tf_key_suite(ca);
	_cleanup_free_ uint64_t *sorted = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t pk[TF_PK_MAX], keyid[TF_CERT_KEYID_BYTES], sig[TF_SIG_MAX];
	size_t m = 0, cap, siglen;
	struct wr w;
	int r;

	if (s == NULL || n > TF_DENYLIST_MAX || (serials == NULL && n) ||
	    next_update <= issued_at)
		return -EINVAL;
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (sorted == NULL)
		return -ENOMEM;
	if (n)
		memcpy(sorted, serials, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || sorted[m - 1] != sorted[i])
			sorted[m++] = sorted[i];
	r = tf_key_public(ca, pk, sizeof(pk));
	if (r < 0)
		return r;
	r = tf_cert_keyid(s, pk, s->pk_bytes, keyid);
	if (r < 0)
		return r;
	cap = TF_DENYLIST_FIXED_BYTES + 8 * m + 1 + TF_SIG_MAX;
	buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	w = (struct wr){.p = buf, .cap = cap};
	wr_put(&w, TF_DENYLIST_MAGIC, 4);
	wr_u(&w, TF_DENYLIST_VERSION, 1);
	wr_u(&w, s->id, 1);
	wr_u(&w, 0, 2);
	wr_put(&w, keyid, sizeof(keyid));
	wr_u(&w, issued_at, 8);
	wr_u(&w, next_update, 8);
	wr_u(&w, m, 4);
	for (size_t i = 0; i < m; i++)
		wr_u(&w, sorted[i], 8);
	if (w.bad)
		return -EINVAL;
	r = tf_sign_id(ca, TF_DENYLIST_SIGN_ID, buf, w.len, sig, sizeof(sig),
		       &siglen);
	if (r < 0)
		return r;
	wr_vec(&w, sig, siglen);
	if (w.bad)
		return -EINVAL;
	*outlen = w.len;
	*out = steal_pointer(&buf);
	return 0;
}

int tf_denylist_parse_unverified(const uint8_t *buf, size_t len,
				 struct tf_denylist **out)
{
	_cleanup_denylist_ struct tf_denylist *dl = NULL;
	struct rd r = {.p = buf, .left = len};
	const uint8_t *p;
	uint8_t suite;
	uint64_t count, issued_at, next_update;
	int e;

	e = rd_header(&r, TF_DENYLIST_MAGIC, TF_DENYLIST_VERSION, &suite);
	if (e < 0)
		return e;
	p = rd_take(&r, TF_CERT_KEYID_BYTES);
	issued_at = rd_u(&r, 8);
	next_update = rd_u(&r, 8);
	count = rd_u(&r, 4);
	/* the count is checked against what is left before it sizes an
	 * allocation: a 4-byte field must not buy a 512 KiB calloc */
	if (r.bad || count > TF_DENYLIST_MAX || count * 8 > r.left)
		return -EBADMSG;
	dl = calloc(1, sizeof(*dl) + (size_t)count * sizeof(uint64_t));
	if (dl == NULL)
		return -ENOMEM;
	dl->suite = suite;
	memcpy(dl->issuer, p, TF_CERT_KEYID_BYTES);
	dl->issued_at = issued_at;
	dl->next_update = next_update;
	dl->count = (size_t)count;
	for (size_t i = 0; i < dl->count; i++) {
		dl->serials[i] = rd_u(&r, 8);
		if (i > 0 && dl->serials[i] <= dl->serials[i - 1])
			return -EBADMSG;
	}
	dl->tbs_len = len - r.left;
	p = rd_vec(&r, 1, 1, TF_SIG_MAX, &dl->sig_len);
	if (p == NULL || r.left != 0 || dl->next_update <= dl->issued_at)
		return -EBADMSG;
	memcpy(dl->sig, p, dl->sig_len);
	*out = steal_pointer(&dl);
	return 0;
}

int tf_denylist_parse(const uint8_t *buf, size_t len,
		      const struct tf_cert_anchor *ca, struct tf_denylist **out)
{
	_cleanup_denylist_ struct tf_denylist *dl = NULL;
	int r;

	r = tf_denylist_parse_unverified(buf, len, &dl);
	if (r < 0)
		return r;
	if (ca->suite == NULL || dl->suite != ca->suite->id)
		return -EPROTONOSUPPORT;
	if (memcmp(dl->issuer, ca->keyid, TF_CERT_KEYID_BYTES) != 0)
		return -ENOKEY;
	r = tf_verify_id(ca->suite, ca->pk, TF_DENYLIST_SIGN_ID, buf,
			 dl->tbs_len, dl->sig, dl->sig_len);
	if (r < 0)
		return r == -EINVAL ? -EBADMSG : r;
	*out = steal_pointer(&dl);
	return 0;
}

int tf_denylist_check_fresh(const struct tf_denylist *dl, uint64_t newest_seen,
			    uint64_t now)
{
	if (dl->issued_at < newest_seen || now >= dl->next_update)
		return -ESTALE;
	return 0;
}

bool tf_denylist_contains(const struct tf_denylist *dl, uint64_t serial)
{
	size_t lo = 0, hi = dl->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dl->serials[mid] == serial)
			return true;
		if (dl->serials[mid] < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

uint64_t tf_denylist_issued_at(const struct tf_denylist *dl)
{
	return dl->issued_at;
}

uint64_t tf_denylist_next_update(const struct tf_denylist *dl)
{
	return dl->next_update;
}

size_t tf_denylist_count(const struct tf_denylist *dl)
{
	return dl->count;
}

uint64_t tf_denylist_at(const struct tf_denylist *dl, size_t i)
{
	return i < dl->count ? dl->serials[i] : 0;
}
