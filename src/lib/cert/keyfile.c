/* SPDX-License-Identifier: ISC */
/*
 * Key files of twofold-ca(1): public key files travel (a device hands its
 * KEY.pub to the organisation, a relay is provisioned with ca.pub), so
 * their parser is bounded like the certificate's; private key files stay
 * where they were made and only ever hold a seed and a scalar.
 */
#include <errno.h>
#include <string.h>

#include "twofold/cert.h"
#include "twofold/secmem.h"

int tf_pubfile_encode(const struct tf_pubfile *pf, uint8_t *out, size_t cap)
{
	size_t n = 0, need;

	if (pf->suite == NULL || pf->sign_pk_len != pf->suite->pk_bytes ||
	    (pf->dh_pk_len != 0 && pf->dh_pk_len != pf->suite->pk_bytes))
		return -EINVAL;
	need = 8 + pf->sign_pk_len + pf->dh_pk_len;
	if (cap < need)
		return -ENOBUFS;
	memcpy(out, TF_PUBFILE_MAGIC, 4);
	n = 4;
	out[n++] = 1;
	out[n++] = pf->suite->id;
	out[n++] = (uint8_t)pf->sign_pk_len;
	memcpy(out + n, pf->sign_pk, pf->sign_pk_len);
	n += pf->sign_pk_len;
	out[n++] = (uint8_t)pf->dh_pk_len;
	memcpy(out + n, pf->dh_pk, pf->dh_pk_len);
	n += pf->dh_pk_len;
	return (int)n;
}

int tf_pubfile_parse(const uint8_t *buf, size_t len, struct tf_pubfile *out)
{
	struct tf_pubfile pf = {0};
	size_t n = 6, pkb;

	if (len < 8 || len > TF_PUBFILE_MAX ||
	    memcmp(buf, TF_PUBFILE_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] != 1)
		return -EPROTONOSUPPORT;
	pf.suite = tf_suite_by_id(buf[5]);
	if (pf.suite == NULL)
		return -EPROTONOSUPPORT;
	pkb = pf.suite->pk_bytes;
	if (buf[n] != pkb || len - n - 1 < pkb + 1)
		return -EBADMSG;
	pf.sign_pk_len = pkb;
	memcpy(pf.sign_pk, buf + n + 1, pkb);
	n += 1 + pkb;
	pf.dh_pk_len = buf[n++];
	if ((pf.dh_pk_len != 0 && pf.dh_pk_len != pkb) ||
	    len - n != pf.dh_pk_len)
		return -EBADMSG;
	memcpy(pf.dh_pk, buf + n, pf.dh_pk_len);
	*out = pf;
	return 0;
}

int tf_privfile_parse(const uint8_t *buf, size_t len, struct tf_privfile *out)
{
	struct tf_privfile pf = {0};

	if (len != TF_PRIVFILE_BYTES || memcmp(buf, TF_PRIVFILE_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] != 1)
		return -EPROTONOSUPPORT;
	pf.suite = tf_suite_by_id(buf[5]);
	if (pf.suite == NULL)
		return -EPROTONOSUPPORT;
	pf.kind = buf[6];
	if ((pf.kind != TF_KEYFILE_CA && pf.kind != TF_KEYFILE_DEVICE) ||
	    buf[7] != 0)
		return -EBADMSG;
	pf.secret = tf_secure_alloc(2 * TF_KEY_BYTES);
	if (pf.secret == NULL)
		return -ENOMEM;
	memcpy(pf.secret, buf + 8, 2 * TF_KEY_BYTES);
	*out = pf;
	return 0;
}

int tf_privfile_encode(const struct tf_privfile *pf,
		       uint8_t out[static TF_PRIVFILE_BYTES])
{
	if (pf->suite == NULL || pf->secret == NULL ||
	    (pf->kind != TF_KEYFILE_CA && pf->kind != TF_KEYFILE_DEVICE))
		return -EINVAL;
	memcpy(out, TF_PRIVFILE_MAGIC, 4);
	out[4] = 1;
	out[5] = pf->suite->id;
	out[6] = pf->kind;
	out[7] = 0;
	memcpy(out + 8, pf->secret, 2 * TF_KEY_BYTES);
	return 0;
}

void tf_privfile_free(struct tf_privfile *pf)
{
	tf_secure_free(pf->secret); /* wipes */
	pf->secret = NULL;
}

int tf_privfile_sign_key(const struct tf_privfile *pf, struct tf_key **out)
{
	if (pf->suite == NULL || pf->secret == NULL)
		return -EINVAL;
	return tf_key_sign_from_seed(pf->suite, pf->secret, out);
}
