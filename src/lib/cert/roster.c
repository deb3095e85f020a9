/* SPDX-License-Identifier: ISC */
/*
 * Talk-group rosters and epoch keys (twofold/roster.h). A roster reaches a
 * member through the relay, which may be hostile: every length is bounded
 * and checked before use (fuzz/fuzz_roster.c), and nothing a roster says
 * is believed before the authority's certificate and the signature are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/roster.h"
#include "wire.h"

static bool member_role_ok(uint8_t role)
{
	return role == TF_ROLE_OFFICER || role == TF_ROLE_DISPATCHER;
}

static int member_cmp(const struct tf_roster_member *a,
		      const struct tf_roster_member *b)
{
	int c = strcmp(a->officer, b->officer);

	return c != 0 ? c : memcmp(a->device, b->device, sizeof(a->device));
}

static int member_qcmp(const void *a, const void *b)
{
	return member_cmp(a, b);
}

int tf_roster_new(size_t cap, struct tf_roster **out)
{
	struct tf_roster *r;

	if (cap > TF_ROSTER_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r) + cap * sizeof(r->m[0]));
	if (r == NULL)
		return -ENOMEM;
	*out = r;
	return 0;
}

int tf_roster_device_hash(const struct tf_suite *s, const uint8_t *dh_pk,
			  size_t len,
			  uint8_t out[static TF_ROSTER_DEVHASH_BYTES])
{
	static const char label[] = "twofold roster device v1";
	uint8_t buf[sizeof(label) - 1 + 1 + TF_PK_MAX];
	size_t n = sizeof(label) - 1;

	if (len == 0 || len > TF_PK_MAX)
		return -EINVAL;
	memcpy(buf, label, n);
	buf[n++] = s->id;
	memcpy(buf + n, dh_pk, len);
	return tf_hash(s, out, buf, n + len);
}

int tf_roster_sort(struct tf_roster *r)
{
	qsort(r->m, r->n, sizeof(r->m[0]), member_qcmp);
	for (size_t i = 1; i < r->n; i++)
		if (member_cmp(&r->m[i - 1], &r->m[i]) == 0)
			return -EEXIST;
	return 0;
}

int tf_roster_find(const struct tf_roster *r, const char *officer,
		   const uint8_t *device)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->m[i].officer, officer) == 0 &&
		    (device == NULL || memcmp(r->m[i].device, device,
					      TF_ROSTER_DEVHASH_BYTES) == 0))
			return (int)i;
	return -ENOENT;
}

int tf_roster_sign(const struct tf_roster *r, const struct tf_key *sk,
		   const uint8_t *cert, size_t certlen, uint8_t **out,
		   size_t *outlen)
{
	const struct tf_suite *s = tf_key_suite(sk);
	size_t gn = strnlen(r->group, sizeof(r->group)), siglen;
	uint8_t sig[TF_SIG_MAX];
	_cleanup_free_ uint8_t *buf = NULL;
	struct wr w;
	int e;

	if (s == NULL || !cert_id_ok((const uint8_t *)r->group, gn) ||
	    r->n == 0 || r->n > TF_ROSTER_MAX || r->epoch == 0 ||
	    r->epoch > TF_GROUP_EPOCH_MAX || r->expires_at <= r->issued_at ||
	    r->expires_at - r->issued_at > TF_ROSTER_MAX_VALIDITY ||
	    certlen == 0 || certlen > TF_CERT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < r->n; i++) {
		size_t on = strnlen(r->m[i].officer, sizeof(r->m[i].officer));
		if (!cert_id_ok((const uint8_t *)r->m[i].officer, on) ||
		    !member_role_ok(r->m[i].role) ||
		    (i > 0 && member_cmp(&r->m[i - 1], &r->m[i]) >= 0))
			return -EINVAL;
	}
	buf = malloc(TF_ROSTER_WIRE_MAX);
	if (buf == NULL)
		return -ENOMEM;
	w = (struct wr){.p = buf, .cap = TF_ROSTER_WIRE_MAX};
	wr_put(&w, TF_ROSTER_MAGIC, 4);
	wr_u(&w, TF_ROSTER_VERSION, 1);
	wr_u(&w, s->id, 1);
	wr_u(&w, 0, 2);
	wr_vec(&w, r->group, gn);
	wr_u(&w, r->epoch, 8);
	wr_u(&w, r->issued_at, 8);
	wr_u(&w, r->expires_at, 8);
	wr_u(&w, certlen, 2);
	wr_put(&w, cert, certlen);
	wr_u(&w, r->n, 2);
	for (size_t i = 0; i < r->n; i++) {
		wr_vec(&w, r->m[i].officer, strlen(r->m[i].officer));
		wr_put(&w, r->m[i].device, TF_ROSTER_DEVHASH_BYTES);
		wr_u(&w, r->m[i].role, 1);
	}
	if (w.bad)
		return -EINVAL;
	e = tf_sign_id(sk, TF_ROSTER_SIGN_ID, buf, w.len, sig, sizeof(sig),
		       &siglen);
	if (e < 0)
		return e;
	wr_vec(&w, sig, siglen);
	if (w.bad)
		return -EINVAL;
	*outlen = w.len;
	*out = steal_pointer(&buf);
	return 0;
}

int tf_roster_parse(const uint8_t *buf, size_t len, struct tf_roster **out)
{
	struct rd r = {.p = buf, .left = len};
	_cleanup_free_ struct tf_roster *ro = NULL;
	const uint8_t *p;
	uint8_t suite;
	size_t n, count;
	int e;

	if (len > TF_ROSTER_WIRE_MAX)
		return -EBADMSG;
	e = rd_header(&r, TF_ROSTER_MAGIC, TF_ROSTER_VERSION, &suite);
	if (e < 0)
		return e;
	/* the count comes after the certificate: allocate for the most and
	 * let the members land where they are checked */
	e = tf_roster_new(TF_ROSTER_MAX, &ro);
	if (e < 0)
		return e;
	ro->version = TF_ROSTER_VERSION;
	ro->suite = suite;
	p = rd_vec(&r, 1, 1, TF_CERT_ID_MAX, &n);
	if (p == NULL || !cert_id_ok(p, n))
		return -EBADMSG;
	memcpy(ro->group, p, n);
	ro->epoch = rd_u(&r, 8);
	ro->issued_at = rd_u(&r, 8);
	ro->expires_at = rd_u(&r, 8);
	p = rd_vec(&r, 2, 1, TF_CERT_MAX, &n);
	if (p == NULL || tf_cert_parse(p, n, &ro->authority) < 0 ||
	    ro->authority.suite != suite)
		return -EBADMSG;
	count = (size_t)rd_u(&r, 2);
	if (r.bad || count == 0 || count > TF_ROSTER_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < count; i++) {
		struct tf_roster_member *m = &ro->m[i];
		p = rd_vec(&r, 1, 1, TF_CERT_ID_MAX, &n);
		if (p == NULL || !cert_id_ok(p, n))
			return -EBADMSG;
		memcpy(m->officer, p, n);
		p = rd_take(&r, TF_ROSTER_DEVHASH_BYTES);
		if (p == NULL)
			return -EBADMSG;
		memcpy(m->device, p, TF_ROSTER_DEVHASH_BYTES);
		m->role = (uint8_t)rd_u(&r, 1);
		if (r.bad || !member_role_ok(m->role) ||
		    (i > 0 && member_cmp(&ro->m[i - 1], m) >= 0))
			return -EBADMSG;
	}
	ro->n = count;
	ro->tbs_len = len - r.left;
	p = rd_vec(&r, 1, 1, TF_SIG_MAX, &n);
	if (p == NULL || r.left != 0)
		return -EBADMSG;
	if (ro->epoch == 0 || ro->epoch > TF_GROUP_EPOCH_MAX ||
	    ro->expires_at <= ro->issued_at)
		return -EBADMSG;
	*out = steal_pointer(&ro);
	return 0;
}

int tf_roster_verify(const uint8_t *buf, size_t len,
		     const struct tf_cert_anchor *ca,
		     const struct tf_denylist *dl, uint64_t now,
		     const char *group, uint64_t held_epoch,
		     struct tf_roster **out)
{
	_cleanup_free_ struct tf_roster *ro = NULL;
	const uint8_t *cert;
	size_t certlen;
	int e = tf_roster_parse(buf, len, &ro);

	if (e < 0)
		return e;
	if (ro->suite != ca->suite->id)
		return -EPROTONOSUPPORT;
	/* The certificate sits at a fixed place: after the 8-byte header,
	 * the group id and the three u64s comes its u16 length. */
	cert = buf + 8 + 1 + strlen(ro->group) + 24;
	certlen = ((size_t)cert[0] << 8) | cert[1];
	cert += 2;
	e = tf_cert_verify(cert, certlen, ca, now,
			   TF_ROLE_BIT(TF_ROLE_GROUP_AUTHORITY), dl, NULL);
	if (e < 0)
		return e;
	/* the signature before any other field: an unsigned roster's group,
	 * epoch and dates are the sender's choice and say nothing */
	if (tf_verify_id(ca->suite, ro->authority.sign_pk, TF_ROSTER_SIGN_ID,
			 buf, ro->tbs_len, buf + ro->tbs_len + 1,
			 len - ro->tbs_len - 1) != 0)
		return -EBADMSG;
	if (group != NULL && strcmp(group, ro->group) != 0)
		return -EXDEV;
	if (ro->expires_at - ro->issued_at > TF_ROSTER_MAX_VALIDITY)
		return -EBADMSG;
	if (now >= ro->expires_at)
		return -EKEYEXPIRED;
	if (ro->issued_at > now + TF_ROSTER_SKEW)
		return -ETIME;
	if (ro->epoch <= held_epoch)
		return -ESTALE;
	if (out != NULL)
		*out = steal_pointer(&ro);
	return 0;
}

const char *tf_roster_reason(int err)
{
	switch (err) {
	case 0: return "valid";
	case -EBADMSG: return "roster malformed or not signed by its authority";
	case -EPROTONOSUPPORT: return "roster of another suite or version";
	case -EPERM:
		return "roster signed by a certificate that is not a "
		       "group authority";
	case -ENOKEY: return "roster authority not certified by this CA";
	case -EKEYREVOKED: return "roster authority's certificate is revoked";
	case -EXDEV: return "roster of another group";
	case -ESTALE: return "roster older than the one held (a replay)";
	case -EKEYEXPIRED:
		return "roster or its authority's certificate "
		       "expired";
	case -ETIME:
		return "roster or its authority's certificate not yet "
		       "valid";
	default: return "roster refused";
	}
}

/* ---- epoch keys ---- */

static int group_kdf(const struct tf_suite *s, const uint8_t *secret,
		     const char *label, const char *group, uint64_t epoch,
		     int index, uint8_t *out)
{
	uint8_t info[32 + 1 + TF_CERT_ID_MAX + 8 + 2];
	struct wr w = {.p = info, .cap = sizeof(info)};
	size_t gn = strnlen(group, TF_CERT_ID_MAX + 1);

	if (!cert_id_ok((const uint8_t *)group, gn) || epoch == 0 ||
	    epoch > TF_GROUP_EPOCH_MAX)
		return -EINVAL;
	wr_put(&w, label, strlen(label));
	wr_u(&w, gn, 1);
	wr_put(&w, group, gn);
	wr_u(&w, epoch, 8);
	if (index >= 0)
		wr_u(&w, (uint64_t)index, 2);
	if (w.bad)
		return -EINVAL;
	return tf_kdf(s, out, TF_KEY_BYTES, secret, TF_GROUP_SECRET_BYTES, NULL,
		      0, info, w.len);
}

int tf_group_secret_join(const struct tf_suite *s,
			 const uint8_t secret[static TF_GROUP_SECRET_BYTES],
			 const char *group, uint64_t new_epoch,
			 uint8_t out[static TF_GROUP_SECRET_BYTES])
{
	return group_kdf(s, secret, "twofold group v1 join", group, new_epoch,
			 -1, out);
}

int tf_group_talker_key(const struct tf_suite *s,
			const uint8_t secret[static TF_GROUP_SECRET_BYTES],
			const char *group, uint64_t epoch, unsigned index,
			uint8_t out[static TF_KEY_BYTES])
{
	if (index >= TF_ROSTER_MAX)
		return -EINVAL;
	return group_kdf(s, secret, "twofold group v1 talker", group, epoch,
			 (int)index, out);
}
