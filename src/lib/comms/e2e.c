/* SPDX-License-Identifier: ISC */
/*
 * End-to-end messages (twofold/e2e.h): X3DH (Signal's "The X3DH Key
 * Agreement Protocol", rev. 1) and the Double Ratchet (Signal's "The
 * Double Ratchet Algorithm", rev. 1, without header encryption) on the
 * suite's Noise primitives (internal.h). Where the specs leave a choice:
 *
 *  - KDF: HKDF(salt, ikm) with the suite's HMAC (BLAKE2b-512 / SM3) and
 *    two outputs, the first 32 bytes of each used (as Noise does).
 *  - X3DH: SK = HKDF(salt = HASH("twofold x3dh v1"), 0xFF x 32 || DH1 ||
 *    DH2 || DH3 [|| DH4]); AD = "twofold e2e v1" || suite || IK_initiator
 *    || IK_responder, and every message's AEAD also authenticates its
 *    whole header (the X3DH fields, the sender's certificate, the ratchet
 *    key and counters), so a relay that changes any byte is caught.
 *  - AEAD: the suite's (ChaCha20-Poly1305 / SM4-GCM) with counter 0:
 *    every message key is used exactly once.
 *
 * The session is one flat, pointer-free object in tf_secure_alloc memory,
 * so a decrypt works on a copy and commits only on success, and the
 * state file is the object itself behind a magic and a size.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "src/lib/comms/internal.h"
#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/secmem.h"

#define KEYLEN 32
#define X3DH_SALT_LABEL "twofold x3dh v1"
#define AD_LABEL "twofold e2e v1"
#define AD_LABEL_LEN 14
#define PREKEYS_MAGIC "TFEP"
#define SESSION_MAGIC "TFES"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* HKDF with two outputs of KEYLEN bytes (Noise section 4.3's shape; the
 * suite's HMAC). */
static int kdf2(const struct nz_suite *s, const uint8_t *salt, size_t saltlen,
		const uint8_t *ikm, size_t ikmlen, uint8_t o1[static KEYLEN],
		uint8_t o2[static KEYLEN])
{
	uint8_t t[64], a[64], b[64], one = 1, two = 2;
	int r;

	r = s->hmac(t, salt, saltlen, ikm, ikmlen, NULL, 0);
	if (r == 0)
		r = s->hmac(a, t, s->hashlen, &one, 1, NULL, 0);
	if (r == 0)
		r = s->hmac(b, t, s->hashlen, a, s->hashlen, &two, 1);
	if (r == 0) {
		memcpy(o1, a, KEYLEN);
		memcpy(o2, b, KEYLEN);
	}
	sodium_memzero(t, sizeof(t));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	return r < 0 ? -EIO : 0;
}

/* KDF_CK: message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02)
 * (the Double Ratchet spec's recommendation). */
static int kdf_ck(const struct nz_suite *s, uint8_t ck[static KEYLEN],
		  uint8_t mk[static KEYLEN])
{
	uint8_t a[64], b[64], one = 1, two = 2;
	int r = s->hmac(a, ck, KEYLEN, &one, 1, NULL, 0);

	if (r == 0)
		r = s->hmac(b, ck, KEYLEN, &two, 1, NULL, 0);
	if (r == 0) {
		memcpy(mk, a, KEYLEN);
		memcpy(ck, b, KEYLEN);
	}
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	return r < 0 ? -EIO : 0;
}

size_t tf_e2e_dh_bytes(uint8_t suite)
{
	const struct nz_suite *s = nz_get(suite);

	return s ? s->dhlen : 0;
}

/* ---- bundles ---- */

int tf_e2e_bundle_parse(const uint8_t *buf, size_t len,
			struct tf_e2e_bundle *out)
{
	struct tf_e2e_bundle b = {0};
	const struct nz_suite *s;
	size_t off = 8, dl;

	if (len < 8 || memcmp(buf, "TFPB", 4) != 0 || buf[4] != TF_E2E_VERSION)
		return -EBADMSG;
	s = nz_get(buf[5]);
	if (s == NULL)
		return -EBADMSG;
	dl = s->dhlen;
	b.suite = buf[5];
	b.certlen = get16(buf + 6);
	if (b.certlen == 0 || b.certlen > TF_CERT_MAX || len - off < b.certlen)
		return -EBADMSG;
	b.cert = buf + off;
	off += b.certlen;
	if (len - off < 4 + dl + 1)
		return -EBADMSG;
	b.spk_id = get32(buf + off);
	b.spk = buf + off + 4;
	off += 4 + dl;
	b.siglen = buf[off++];
	if (b.siglen == 0 || b.siglen > TF_SIG_MAX || len - off < b.siglen + 2)
		return -EBADMSG;
	b.sig = buf + off;
	off += b.siglen;
	b.opk_count = get16(buf + off);
	off += 2;
	if (b.opk_count > TF_E2E_OPK_MAX || len - off != b.opk_count * (4 + dl))
		return -EBADMSG;
	b.opks = buf + off;
	for (size_t i = 0; i < b.opk_count; i++)
		if (get32(b.opks + i * (4 + dl)) == 0) /* 0 means none */
			return -EBADMSG;
	*out = b;
	return 0;
}

void tf_e2e_bundle_opk(const struct tf_e2e_bundle *b, size_t i, uint32_t *id,
		       const uint8_t **pub)
{
	size_t dl = nz_get(b->suite)->dhlen;

	*id = get32(b->opks + i * (4 + dl));
	*pub = b->opks + i * (4 + dl) + 4;
}

static int bundle_write(uint8_t suite, const uint8_t *cert, size_t certlen,
			uint32_t spk_id, const uint8_t *spk, const uint8_t *sig,
			size_t siglen, size_t n, const uint8_t *opks,
			uint8_t *out, size_t cap)
{
	const struct nz_suite *s = nz_get(suite);
	size_t need, off = 0;

	if (s == NULL || certlen == 0 || certlen > TF_CERT_MAX || siglen == 0 ||
	    siglen > TF_SIG_MAX || n > TF_E2E_OPK_MAX)
		return -EINVAL;
	need = 8 + certlen + 4 + s->dhlen + 1 + siglen + 2 + n * (4 + s->dhlen);
	if (need > cap)
		return -ENOBUFS;
	memcpy(out, "TFPB", 4);
	out[4] = TF_E2E_VERSION;
	out[5] = suite;
	put16(out + 6, (uint16_t)certlen);
	off = 8;
	memcpy(out + off, cert, certlen);
	off += certlen;
	put32(out + off, spk_id);
	memcpy(out + off + 4, spk, s->dhlen);
	off += 4 + s->dhlen;
	out[off++] = (uint8_t)siglen;
	memcpy(out + off, sig, siglen);
	off += siglen;
	put16(out + off, (uint16_t)n);
	off += 2;
	if (n)
		memcpy(out + off, opks, n * (4 + s->dhlen));
	off += n * (4 + s->dhlen);
	return (int)off;
}

int tf_e2e_bundle_pick(const struct tf_e2e_bundle *b, size_t opk, uint8_t *out,
		       size_t cap)
{
	size_t dl = nz_get(b->suite)->dhlen;

	if (opk != SIZE_MAX && opk >= b->opk_count)
		return -EINVAL;
	return bundle_write(b->suite, b->cert, b->certlen, b->spk_id, b->spk,
			    b->sig, b->siglen, opk == SIZE_MAX ? 0 : 1,
			    opk == SIZE_MAX ? NULL : b->opks + opk * (4 + dl),
			    out, cap);
}

/* What the signed prekey's signature covers: suite || spk id || spk. */
static size_t spk_tbs(uint8_t suite, uint32_t id, const uint8_t *spk, size_t dl,
		      uint8_t out[static 5 + TF_E2E_DH_MAX])
{
	out[0] = suite;
	put32(out + 1, id);
	memcpy(out + 5, spk, dl);
	return 5 + dl;
}

int tf_e2e_bundle_verify(const struct tf_e2e_bundle *b,
			 const struct tf_cert_anchor *ca, uint64_t now,
			 const struct tf_denylist *dl, const char *officer,
			 struct tf_cert *cert)
{
	const struct nz_suite *s = nz_get(b->suite);
	struct tf_cert c;
	uint8_t tbs[5 + TF_E2E_DH_MAX];
	size_t n;
	int r;

	if (s == NULL || ca->suite == NULL || ca->suite->id != b->suite)
		return -EPROTONOSUPPORT;
	r = tf_cert_verify(b->cert, b->certlen, ca, now, TF_ROLES_E2E, dl, &c);
	if (r < 0)
		return r;
	if (c.dh_pk_len != s->dhlen ||
	    (officer != NULL && strcmp(c.officer, officer) != 0))
		return -EKEYREJECTED;
	n = spk_tbs(b->suite, b->spk_id, b->spk, s->dhlen, tbs);
	if (tf_verify_id(ca->suite, c.sign_pk, TF_E2E_SPK_SIGN_ID, tbs, n,
			 b->sig, b->siglen) != 0)
		return -EKEYREJECTED;
	if (cert != NULL)
		*cert = c;
	return 0;
}

/* ---- prekeys ---- */

struct e2e_opk {
	uint32_t id; /* 0: used */
	uint8_t priv[32], pub[TF_E2E_DH_MAX];
};

/* The state file's first layout (before top-ups and rotation): still
 * read, so a device keeps its prekeys across the upgrade. */
struct e2e_prekeys_v1 {
	uint8_t suite;
	uint32_t spk_id;
	uint8_t spk_priv[32], spk_pub[TF_E2E_DH_MAX];
	uint8_t sig[TF_SIG_MAX];
	uint32_t siglen;
	uint32_t n_opk;
	struct e2e_opk opk[TF_E2E_OPK_MAX];
};

struct tf_e2e_prekeys {
	uint8_t suite;
	uint32_t spk_id;
	uint8_t spk_priv[32], spk_pub[TF_E2E_DH_MAX];
	uint8_t sig[TF_SIG_MAX];
	uint32_t siglen;
	uint32_t n_opk;
	struct e2e_opk opk[TF_E2E_OPK_MAX];
	/* ids only grow: a used id is never handed out again */
	uint32_t next_opk_id;
	/* the signed prekey before the last rotation, for messages sealed
	 * to it and still in flight, until prev_until (0: none) */
	uint32_t prev_spk_id;
	uint8_t prev_spk_priv[32], prev_spk_pub[TF_E2E_DH_MAX];
	uint64_t spk_made, prev_until; /* Unix seconds; spk_made 0: unknown */
};

int tf_e2e_prekeys_new(uint8_t suite, const struct tf_key *sign_sk,
		       uint32_t spk_id, size_t n_opk, uint32_t first_opk_id,
		       struct tf_e2e_prekeys **out)
{
	const struct nz_suite *s = nz_get(suite);
	struct tf_e2e_prekeys *p;
	uint8_t tbs[5 + TF_E2E_DH_MAX];
	size_t n, siglen;
	int r;

	if (s == NULL || n_opk > TF_E2E_OPK_MAX || first_opk_id == 0 ||
	    first_opk_id > UINT32_MAX - TF_E2E_OPK_MAX)
		return -EINVAL;
	p = tf_secure_alloc(sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->suite = suite;
	p->spk_id = spk_id;
	r = s->w->keygen(p->spk_priv, p->spk_pub);
	if (r < 0)
		goto fail;
	n = spk_tbs(suite, spk_id, p->spk_pub, s->dhlen, tbs);
	r = tf_sign_id(sign_sk, TF_E2E_SPK_SIGN_ID, tbs, n, p->sig,
		       sizeof(p->sig), &siglen);
	if (r < 0)
		goto fail;
	p->siglen = (uint32_t)siglen;
	for (size_t i = 0; i < n_opk; i++) {
		p->opk[i].id = first_opk_id + (uint32_t)i;
		r = s->w->keygen(p->opk[i].priv, p->opk[i].pub);
		if (r < 0)
			goto fail;
	}
	p->n_opk = (uint32_t)n_opk;
	p->next_opk_id = first_opk_id + (uint32_t)n_opk;
	*out = p;
	return 0;
fail:
	tf_secure_free(p);
	return r;
}

/* A new signed prekey spk_id, signed with sign_sk, into the slots given. */
static int spk_make(const struct nz_suite *s, uint8_t suite,
		    const struct tf_key *sign_sk, uint32_t spk_id,
		    uint8_t priv[32], uint8_t *pub, uint8_t *sig,
		    uint32_t *siglen)
{
	uint8_t tbs[5 + TF_E2E_DH_MAX];
	size_t n, sl;
	int r = s->w->keygen(priv, pub);

	if (r < 0)
		return r;
	n = spk_tbs(suite, spk_id, pub, s->dhlen, tbs);
	r = tf_sign_id(sign_sk, TF_E2E_SPK_SIGN_ID, tbs, n, sig, TF_SIG_MAX,
		       &sl);
	if (r < 0)
		return r;
	*siglen = (uint32_t)sl;
	return 0;
}

int tf_e2e_prekeys_top_up(struct tf_e2e_prekeys *p, size_t n)
{
	const struct nz_suite *s = nz_get(p->suite);
	size_t live = 0, drop;
	int r;

	if (s == NULL || n > TF_E2E_OPK_MAX ||
	    p->next_opk_id > UINT32_MAX - TF_E2E_OPK_MAX)
		return -EINVAL;
	/* the used slots out, oldest first; a full table drops its oldest
	 * unused keys (a first message to one of them is then refused as
	 * a replay: bounded state beats keys handed out and never used) */
	for (size_t i = 0; i < p->n_opk; i++)
		if (p->opk[i].id != 0) {
			if (i != live)
				p->opk[live] = p->opk[i];
			live++;
		}
	drop = live + n > TF_E2E_OPK_MAX ? live + n - TF_E2E_OPK_MAX : 0;
	if (drop) {
		memmove(&p->opk[0], &p->opk[drop],
			(live - drop) * sizeof(p->opk[0]));
		live -= drop;
	}
	sodium_memzero(&p->opk[live],
		       (TF_E2E_OPK_MAX - live) * sizeof(p->opk[0]));
	p->n_opk = (uint32_t)live;
	for (size_t i = 0; i < n; i++) {
		struct e2e_opk *o = &p->opk[p->n_opk];

		r = s->w->keygen(o->priv, o->pub);
		if (r < 0)
			return r; /* the ones made so far stay: all valid */
		o->id = p->next_opk_id++;
		p->n_opk++;
	}
	return 0;
}

int tf_e2e_prekeys_rotate(struct tf_e2e_prekeys *p,
			  const struct tf_key *sign_sk, uint64_t now,
			  uint64_t max_age, uint64_t grace)
{
	const struct nz_suite *s = nz_get(p->suite);
	uint8_t priv[32], pub[TF_E2E_DH_MAX], sig[TF_SIG_MAX];
	uint32_t siglen, id;
	int r;

	if (s == NULL)
		return -EINVAL;
	if (p->prev_until != 0 && now >= p->prev_until) {
		sodium_memzero(p->prev_spk_priv, sizeof(p->prev_spk_priv));
		p->prev_spk_id = 0;
		p->prev_until = 0;
	}
	if (p->spk_made == 0) {
		/* from a state file before rotation: its age starts now */
		p->spk_made = now;
		return 1;
	}
	if (now < p->spk_made + max_age)
		return 0;
	id = p->spk_id + 1 == 0 ? 1 : p->spk_id + 1;
	r = spk_make(s, p->suite, sign_sk, id, priv, pub, sig, &siglen);
	if (r < 0) {
		sodium_memzero(priv, sizeof(priv));
		return r;
	}
	p->prev_spk_id = p->spk_id;
	memcpy(p->prev_spk_priv, p->spk_priv, 32);
	memcpy(p->prev_spk_pub, p->spk_pub, s->dhlen);
	p->prev_until = now + grace;
	p->spk_id = id;
	memcpy(p->spk_priv, priv, 32);
	memcpy(p->spk_pub, pub, s->dhlen);
	memcpy(p->sig, sig, siglen);
	p->siglen = siglen;
	p->spk_made = now;
	sodium_memzero(priv, sizeof(priv));
	return 1;
}

uint32_t tf_e2e_prekeys_spk_id(const struct tf_e2e_prekeys *p)
{
	return p->spk_id;
}

void tf_e2e_prekeys_free(struct tf_e2e_prekeys *p)
{
	tf_secure_free(p);
}

size_t tf_e2e_prekeys_opk_left(const struct tf_e2e_prekeys *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_opk; i++)
		n += p->opk[i].id != 0;
	return n;
}

int tf_e2e_prekeys_bundle(const struct tf_e2e_prekeys *p, const uint8_t *cert,
			  size_t certlen, uint8_t *out, size_t cap)
{
	return tf_e2e_prekeys_bundle_newest(p, cert, certlen, SIZE_MAX, out,
					    cap);
}

int tf_e2e_prekeys_bundle_newest(const struct tf_e2e_prekeys *p,
				 const uint8_t *cert, size_t certlen,
				 size_t max_opk, uint8_t *out, size_t cap)
{
	size_t live = tf_e2e_prekeys_opk_left(p);

	return tf_e2e_prekeys_bundle_slice(p, cert, certlen,
					   live > max_opk ? live - max_opk : 0,
					   max_opk, out, cap);
}

int tf_e2e_prekeys_bundle_slice(const struct tf_e2e_prekeys *p,
				const uint8_t *cert, size_t certlen,
				size_t first, size_t max_opk, uint8_t *out,
				size_t cap)
{
	size_t dl = nz_get(p->suite)->dhlen, n = 0, skip = first;
	uint8_t opks[TF_E2E_OPK_MAX * (4 + TF_E2E_DH_MAX)];

	/* the slots are oldest first: skip the first unused ones */
	for (size_t i = 0; i < p->n_opk && n < max_opk; i++) {
		if (p->opk[i].id == 0)
			continue;
		if (skip) {
			skip--;
			continue;
		}
		put32(opks + n * (4 + dl), p->opk[i].id);
		memcpy(opks + n * (4 + dl) + 4, p->opk[i].pub, dl);
		n++;
	}
	return bundle_write(p->suite, cert, certlen, p->spk_id, p->spk_pub,
			    p->sig, p->siglen, n, opks, out, cap);
}

size_t tf_e2e_prekeys_encoded_bytes(void)
{
	return 8 + sizeof(struct tf_e2e_prekeys);
}

/* The state files are this machine's own objects behind a magic, a
 * version and the object's size (a build with another layout refuses
 * them rather than misreading them); decode still checks every count. */
static int obj_encode(const char *magic, const void *obj, size_t n,
		      uint8_t *out, size_t cap)
{
	if (cap < 8 + n)
		return -ENOBUFS;
	memcpy(out, magic, 4);
	out[4] = TF_E2E_VERSION;
	out[5] = 0;
	put16(out + 6, (uint16_t)(n & 0xffff));
	memcpy(out + 8, obj, n);
	return (int)(8 + n);
}

static int obj_check(const char *magic, const uint8_t *buf, size_t len,
		     size_t n)
{
	if (len != 8 + n || memcmp(buf, magic, 4) != 0 ||
	    buf[4] != TF_E2E_VERSION || get16(buf + 6) != (n & 0xffff))
		return -EBADMSG;
	return 0;
}

int tf_e2e_prekeys_encode(const struct tf_e2e_prekeys *p, uint8_t *out,
			  size_t cap)
{
	return obj_encode(PREKEYS_MAGIC, p, sizeof(*p), out, cap);
}

int tf_e2e_prekeys_decode(const uint8_t *buf, size_t len,
			  struct tf_e2e_prekeys **out)
{
	struct tf_e2e_prekeys *p;
	bool v1 = obj_check(PREKEYS_MAGIC, buf, len,
			    sizeof(struct e2e_prekeys_v1)) == 0;
	int r = v1 ? 0 : obj_check(PREKEYS_MAGIC, buf, len, sizeof(*p));

	if (r < 0)
		return r;
	p = tf_secure_alloc(sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	if (v1) {
		/* the first layout is this one's prefix; ids were numbered
		 * upwards from 1, so the next one follows the highest */
		memcpy(p, buf + 8, sizeof(struct e2e_prekeys_v1));
		p->next_opk_id = p->n_opk + 1;
		for (size_t i = 0; i < p->n_opk && i < TF_E2E_OPK_MAX; i++)
			if (p->opk[i].id >= p->next_opk_id &&
			    p->opk[i].id < UINT32_MAX - TF_E2E_OPK_MAX)
				p->next_opk_id = p->opk[i].id + 1;
	} else {
		memcpy(p, buf + 8, sizeof(*p));
	}
	if (nz_get(p->suite) == NULL || p->n_opk > TF_E2E_OPK_MAX ||
	    p->siglen == 0 || p->siglen > TF_SIG_MAX || p->next_opk_id == 0) {
		tf_secure_free(p);
		return -EBADMSG;
	}
	*out = p;
	return 0;
}

/* ---- messages ---- */

int tf_e2e_msg_parse(const uint8_t *buf, size_t len, struct tf_e2e_msg *out)
{
	struct tf_e2e_msg m = {0};
	const struct nz_suite *s;
	size_t off = 4, dl;

	if (len < 4 || buf[0] != TF_E2E_VERSION || buf[3] != 0)
		return -EBADMSG;
	if (len > TF_E2E_MSG_MAX)
		return -EBADMSG;
	m.type = buf[1];
	m.suite = buf[2];
	s = nz_get(m.suite);
	if (s == NULL)
		return -EPROTONOSUPPORT;
	dl = s->dhlen;
	if (m.type == TF_E2E_TYPE_PREKEY) {
		if (len - off < 8 + dl + 2)
			return -EBADMSG;
		m.spk_id = get32(buf + off);
		m.opk_id = get32(buf + off + 4);
		m.ek = buf + off + 8;
		off += 8 + dl;
		m.certlen = get16(buf + off);
		off += 2;
		if (m.certlen == 0 || m.certlen > TF_CERT_MAX ||
		    len - off < m.certlen)
			return -EBADMSG;
		m.cert = buf + off;
		off += m.certlen;
	} else if (m.type != TF_E2E_TYPE_RATCHET) {
		return -EBADMSG;
	}
	if (len - off < dl + 8 + TF_E2E_TAG_BYTES)
		return -EBADMSG;
	m.dh = buf + off;
	m.pn = get32(buf + off + dl);
	m.n = get32(buf + off + dl + 4);
	off += dl + 8;
	m.hdr_len = off;
	m.ct = buf + off;
	m.ctlen = len - off;
	if (m.ctlen - TF_E2E_TAG_BYTES > TF_E2E_PT_MAX)
		return -EBADMSG;
	*out = m;
	return 0;
}

/* ---- sessions ---- */

struct e2e_skipped {
	uint8_t dh[TF_E2E_DH_MAX];
	uint32_t n;
	uint8_t used; /* slot holds a key */
	uint8_t mk[KEYLEN];
};

struct tf_e2e_session {
	uint8_t suite;
	uint8_t initiator;
	uint8_t has_cks, has_ckr, has_dhr, has_prev_dhr;
	uint8_t pending; /* initiator: no reply yet, send the X3DH header */
	uint8_t ad[AD_LABEL_LEN + 1 + 2 * TF_E2E_DH_MAX];
	uint32_t adlen;
	uint8_t peer_ik[TF_E2E_DH_MAX];
	uint8_t rk[KEYLEN], cks[KEYLEN], ckr[KEYLEN];
	uint8_t dhs_priv[32], dhs_pub[TF_E2E_DH_MAX];
	uint8_t dhr[TF_E2E_DH_MAX], prev_dhr[TF_E2E_DH_MAX];
	uint32_t ns, nr, pn;
	/* the X3DH header: the initiator sends it until the first reply;
	 * the responder keeps its ek to recognise a retried first message */
	uint32_t spk_id, opk_id;
	uint8_t ek[TF_E2E_DH_MAX];
	uint32_t certlen;
	uint8_t cert[TF_CERT_MAX];
	uint32_t skip_next; /* ring position of the next skipped key */
	struct e2e_skipped skipped[TF_E2E_SKIPPED_MAX];
};

static struct tf_e2e_session *session_alloc(void)
{
	struct tf_e2e_session *s = tf_secure_alloc(sizeof(*s));

	if (s != NULL)
		memset(s, 0, sizeof(*s));
	return s;
}

void tf_e2e_session_free(struct tf_e2e_session *s)
{
	tf_secure_free(s);
}

const uint8_t *tf_e2e_session_peer_ik(const struct tf_e2e_session *s,
				      size_t *len)
{
	if (len != NULL)
		*len = nz_get(s->suite)->dhlen;
	return s->peer_ik;
}

bool tf_e2e_session_is_base(const struct tf_e2e_session *s,
			    const struct tf_e2e_msg *m)
{
	size_t dl = nz_get(s->suite)->dhlen;

	return !s->initiator && m->type == TF_E2E_TYPE_PREKEY &&
	       m->suite == s->suite && m->spk_id == s->spk_id &&
	       m->opk_id == s->opk_id && tf_memeq_ct(m->ek, s->ek, dl) == 0;
}

static void set_ad(struct tf_e2e_session *ss, const struct nz_suite *s,
		   const uint8_t *ik_init, const uint8_t *ik_resp)
{
	memcpy(ss->ad, AD_LABEL, AD_LABEL_LEN);
	ss->ad[AD_LABEL_LEN] = s->id;
	memcpy(ss->ad + AD_LABEL_LEN + 1, ik_init, s->dhlen);
	memcpy(ss->ad + AD_LABEL_LEN + 1 + s->dhlen, ik_resp, s->dhlen);
	ss->adlen = (uint32_t)(AD_LABEL_LEN + 1 + 2 * s->dhlen);
}

/* SK from up to four DH outputs. */
static int x3dh_sk(const struct nz_suite *s, const uint8_t dh[4][32],
		   size_t ndh, uint8_t sk[static KEYLEN])
{
	uint8_t salt[64], ikm[32 * 5], unused[KEYLEN];
	int r;

	r = s->hash(salt, X3DH_SALT_LABEL, strlen(X3DH_SALT_LABEL), NULL, 0);
	if (r < 0)
		return -EIO;
	/* F: 32 0xFF bytes, so the first DH input is never a valid scalar
	 * encoding alone (the X3DH spec section 2.2) */
	memset(ikm, 0xff, 32);
	for (size_t i = 0; i < ndh; i++)
		memcpy(ikm + 32 * (i + 1), dh[i], 32);
	r = kdf2(s, salt, s->hashlen, ikm, 32 * (ndh + 1), sk, unused);
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(unused, sizeof(unused));
	return r;
}

/* KDF_RK: (rk, ck) = HKDF(rk, DH(dhs, dhr)). */
static int ratchet_rk(const struct nz_suite *s, uint8_t rk[static KEYLEN],
		      const uint8_t *priv, const uint8_t *pub,
		      uint8_t ck[static KEYLEN])
{
	uint8_t dh[32], nrk[KEYLEN];
	int r = s->w->dh(dh, priv, pub);

	if (r < 0) {
		r = -EBADMSG; /* an invalid point from the peer */
		goto out;
	}
	r = kdf2(s, rk, KEYLEN, dh, sizeof(dh), nrk, ck);
	if (r == 0)
		memcpy(rk, nrk, KEYLEN);
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(nrk, sizeof(nrk));
	return r;
}

int tf_e2e_session_initiate(uint8_t suite, const uint8_t dh_priv[static 32],
			    const uint8_t *cert, size_t certlen,
			    const struct tf_e2e_bundle *b,
			    struct tf_e2e_session **out)
{
	const struct nz_suite *s = nz_get(suite);
	struct tf_e2e_session *ss;
	struct tf_cert peer;
	uint8_t dh[4][32], ek_priv[32], ik_pub[TF_E2E_DH_MAX];
	const uint8_t *opk = NULL;
	size_t ndh = 3;
	int r;

	if (s == NULL || b->suite != suite || certlen == 0 ||
	    certlen > TF_CERT_MAX)
		return -EINVAL;
	/* the caller verified b; this only reads its identity key */
	r = tf_cert_parse(b->cert, b->certlen, &peer);
	if (r < 0 || peer.dh_pk_len != s->dhlen)
		return -EBADMSG;
	ss = session_alloc();
	if (ss == NULL)
		return -ENOMEM;
	ss->suite = suite;
	ss->initiator = 1;
	memcpy(ss->peer_ik, peer.dh_pk, s->dhlen);
	if ((r = s->w->pubkey(dh_priv, ik_pub)) < 0 ||
	    (r = s->w->keygen(ek_priv, ss->ek)) < 0)
		goto fail;
	ss->spk_id = b->spk_id;
	if (b->opk_count > 0)
		tf_e2e_bundle_opk(b, 0, &ss->opk_id, &opk);
	/* DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
	 * DH4 = DH(EK_A, OPK_B) */
	if (s->w->dh(dh[0], dh_priv, b->spk) < 0 ||
	    s->w->dh(dh[1], ek_priv, peer.dh_pk) < 0 ||
	    s->w->dh(dh[2], ek_priv, b->spk) < 0 ||
	    (opk != NULL && s->w->dh(dh[3], ek_priv, opk) < 0)) {
		r = -EBADMSG;
		goto fail;
	}
	if (opk != NULL)
		ndh = 4;
	r = x3dh_sk(s, (const uint8_t(*)[32])dh, ndh, ss->rk);
	if (r < 0)
		goto fail;
	set_ad(ss, s, ik_pub, peer.dh_pk);
	memcpy(ss->cert, cert, certlen);
	ss->certlen = (uint32_t)certlen;
	ss->pending = 1;
	/* the first DH ratchet step, against the signed prekey */
	memcpy(ss->dhr, b->spk, s->dhlen);
	ss->has_dhr = 1;
	if ((r = s->w->keygen(ss->dhs_priv, ss->dhs_pub)) < 0 ||
	    (r = ratchet_rk(s, ss->rk, ss->dhs_priv, ss->dhr, ss->cks)) < 0)
		goto fail;
	ss->has_cks = 1;
	*out = ss;
	r = 0;
	goto out;
fail:
	tf_e2e_session_free(ss);
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(ek_priv, sizeof(ek_priv));
	return r;
}

int tf_e2e_encrypt(struct tf_e2e_session *ss, const uint8_t *pt, size_t len,
		   uint8_t *out, size_t cap)
{
	const struct nz_suite *s = nz_get(ss->suite);
	uint8_t mk[KEYLEN], ad[sizeof(ss->ad) + TF_E2E_HDR_MAX];
	size_t off = 4, dl = s->dhlen;
	int r;

	if ((pt == NULL && len) || len > TF_E2E_PT_MAX || !ss->has_cks ||
	    ss->ns == UINT32_MAX)
		return -EINVAL;
	if (cap < (ss->pending ? 8 + dl + 2 + ss->certlen : 0) + dl + 8 + len +
			  TF_E2E_TAG_BYTES + 4)
		return -ENOBUFS;
	out[0] = TF_E2E_VERSION;
	out[1] = ss->pending ? TF_E2E_TYPE_PREKEY : TF_E2E_TYPE_RATCHET;
	out[2] = ss->suite;
	out[3] = 0;
	if (ss->pending) {
		put32(out + off, ss->spk_id);
		put32(out + off + 4, ss->opk_id);
		memcpy(out + off + 8, ss->ek, dl);
		off += 8 + dl;
		put16(out + off, (uint16_t)ss->certlen);
		memcpy(out + off + 2, ss->cert, ss->certlen);
		off += 2 + ss->certlen;
	}
	memcpy(out + off, ss->dhs_pub, dl);
	put32(out + off + dl, ss->pn);
	put32(out + off + dl + 4, ss->ns);
	off += dl + 8;
	r = kdf_ck(s, ss->cks, mk);
	if (r < 0)
		return r;
	memcpy(ad, ss->ad, ss->adlen);
	memcpy(ad + ss->adlen, out, off);
	r = s->w->aead_seal(out + off, mk, 0, pt, len, ad, ss->adlen + off);
	sodium_memzero(mk, sizeof(mk));
	if (r < 0)
		return -EIO;
	ss->ns++;
	return (int)(off + len + TF_E2E_TAG_BYTES);
}

static int open_with(const struct nz_suite *s, const struct tf_e2e_session *ss,
		     const uint8_t *msg, const struct tf_e2e_msg *m,
		     const uint8_t mk[static KEYLEN], uint8_t *pt)
{
	uint8_t ad[sizeof(ss->ad) + TF_E2E_HDR_MAX];

	if (m->hdr_len > TF_E2E_HDR_MAX)
		return -EBADMSG;
	memcpy(ad, ss->ad, ss->adlen);
	memcpy(ad + ss->adlen, msg, m->hdr_len);
	if (s->w->aead_open(pt, mk, 0, m->ct, m->ctlen, ad,
			    ss->adlen + m->hdr_len) < 0)
		return -EBADMSG;
	return (int)(m->ctlen - TF_E2E_TAG_BYTES);
}

static void skip_store(struct tf_e2e_session *ss, size_t dl,
		       const uint8_t mk[static KEYLEN])
{
	struct e2e_skipped *k = &ss->skipped[ss->skip_next];

	/* the ring overwrites the oldest: a message delayed past
	 * TF_E2E_SKIPPED_MAX later ones is lost, memory stays bounded */
	memcpy(k->dh, ss->dhr, dl);
	k->n = ss->nr;
	memcpy(k->mk, mk, KEYLEN);
	k->used = 1;
	ss->skip_next = (ss->skip_next + 1) % TF_E2E_SKIPPED_MAX;
}

static int skip_until(const struct nz_suite *s, struct tf_e2e_session *ss,
		      uint32_t until)
{
	uint8_t mk[KEYLEN];
	int r;

	if (!ss->has_ckr)
		return 0;
	if (until > ss->nr && until - ss->nr > TF_E2E_MAX_SKIP)
		return -ERANGE;
	while (ss->nr < until) {
		r = kdf_ck(s, ss->ckr, mk);
		if (r < 0)
			return r;
		skip_store(ss, s->dhlen, mk);
		ss->nr++;
	}
	sodium_memzero(mk, sizeof(mk));
	return 0;
}

/* The Double Ratchet's RatchetDecrypt on ss (a scratch copy: the caller
 * commits it only on success). */
static int ratchet_decrypt(const struct nz_suite *s, struct tf_e2e_session *ss,
			   const uint8_t *msg, const struct tf_e2e_msg *m,
			   uint8_t *pt)
{
	size_t dl = s->dhlen;
	uint8_t mk[KEYLEN];
	int r;

	/* a skipped key? */
	for (size_t i = 0; i < TF_E2E_SKIPPED_MAX; i++) {
		struct e2e_skipped *k = &ss->skipped[i];

		if (!k->used || k->n != m->n || memcmp(k->dh, m->dh, dl) != 0)
			continue;
		r = open_with(s, ss, msg, m, k->mk, pt);
		if (r >= 0)
			sodium_memzero(k, sizeof(*k)); /* once */
		return r;
	}
	if (ss->has_dhr && memcmp(m->dh, ss->dhr, dl) == 0 && ss->has_ckr) {
		if (m->n < ss->nr)
			return -EALREADY; /* read already (its key is gone) */
	} else if (ss->has_prev_dhr && memcmp(m->dh, ss->prev_dhr, dl) == 0) {
		/* an old chain and not a kept skipped key: read already */
		return -EALREADY;
	} else {
		/* DH ratchet step: a new ratchet key from the peer */
		if ((r = skip_until(s, ss, m->pn)) < 0)
			return r;
		if (ss->has_dhr) {
			memcpy(ss->prev_dhr, ss->dhr, dl);
			ss->has_prev_dhr = 1;
		}
		ss->pn = ss->ns;
		ss->ns = 0;
		ss->nr = 0;
		memcpy(ss->dhr, m->dh, dl);
		ss->has_dhr = 1;
		if ((r = ratchet_rk(s, ss->rk, ss->dhs_priv, ss->dhr,
				    ss->ckr)) < 0)
			return r;
		ss->has_ckr = 1;
		if ((r = s->w->keygen(ss->dhs_priv, ss->dhs_pub)) < 0 ||
		    (r = ratchet_rk(s, ss->rk, ss->dhs_priv, ss->dhr,
				    ss->cks)) < 0)
			return r;
		ss->has_cks = 1;
	}
	if ((r = skip_until(s, ss, m->n)) < 0)
		return r;
	if ((r = kdf_ck(s, ss->ckr, mk)) < 0)
		return r;
	ss->nr++;
	r = open_with(s, ss, msg, m, mk, pt);
	sodium_memzero(mk, sizeof(mk));
	return r;
}

int tf_e2e_decrypt(struct tf_e2e_session *ss, const uint8_t *msg, size_t len,
		   uint8_t *pt, size_t cap)
{
	const struct nz_suite *s = nz_get(ss->suite);
	struct tf_e2e_session *tmp;
	struct tf_e2e_msg m;
	uint8_t *buf;
	int r;

	r = tf_e2e_msg_parse(msg, len, &m);
	if (r < 0)
		return r;
	if (m.suite != ss->suite)
		return -EPROTONOSUPPORT;
	if (m.ctlen - TF_E2E_TAG_BYTES > cap)
		return -ENOBUFS;
	/* a PREKEY message on a session: only the responder's own first
	 * message again (a retry); the X3DH header is authenticated in AD */
	if (m.type == TF_E2E_TYPE_PREKEY && !tf_e2e_session_is_base(ss, &m))
		return -EBADMSG;
	tmp = session_alloc();
	buf = tf_secure_alloc(TF_E2E_PT_MAX);
	if (tmp == NULL || buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(tmp, ss, sizeof(*tmp));
	r = ratchet_decrypt(s, tmp, msg, &m, buf);
	if (r >= 0) {
		/* the peer answered on our ratchet: stop sending X3DH */
		if (tmp->initiator && m.type == TF_E2E_TYPE_RATCHET)
			tmp->pending = 0;
		memcpy(ss, tmp, sizeof(*ss));
		memcpy(pt, buf, (size_t)r);
	}
out:
	tf_secure_free(tmp);
	tf_secure_free(buf);
	return r;
}

int tf_e2e_session_accept(uint8_t suite, const uint8_t dh_priv[static 32],
			  struct tf_e2e_prekeys *pk,
			  const struct tf_cert_anchor *ca, uint64_t now,
			  const struct tf_denylist *dl, const uint8_t *msg,
			  size_t len, struct tf_cert *peer,
			  struct tf_e2e_session **out, uint8_t *pt, size_t cap)
{
	const struct nz_suite *s = nz_get(suite);
	struct tf_e2e_session *ss = NULL;
	struct tf_e2e_msg m;
	struct tf_cert c;
	struct e2e_opk *opk = NULL;
	const uint8_t *spk_priv, *spk_pub;
	uint8_t dh[4][32], ik_pub[TF_E2E_DH_MAX];
	int r;

	if (s == NULL || pk->suite != suite)
		return -EINVAL;
	r = tf_e2e_msg_parse(msg, len, &m);
	if (r < 0)
		return r;
	if (m.suite != suite)
		return -EPROTONOSUPPORT;
	if (m.type != TF_E2E_TYPE_PREKEY)
		return -EBADMSG;
	if (m.ctlen - TF_E2E_TAG_BYTES > cap)
		return -ENOBUFS;
	r = tf_cert_verify(m.cert, m.certlen, ca, now, TF_ROLES_E2E, dl, &c);
	if (r < 0)
		return r;
	if (c.dh_pk_len != s->dhlen)
		return -EKEYREJECTED;
	/* the current signed prekey, or the one before it while its grace
	 * lasts (a message sealed before our rotation still opens) */
	if (m.spk_id == pk->spk_id) {
		spk_priv = pk->spk_priv;
		spk_pub = pk->spk_pub;
	} else if (pk->prev_until != 0 && now < pk->prev_until &&
		   m.spk_id == pk->prev_spk_id) {
		spk_priv = pk->prev_spk_priv;
		spk_pub = pk->prev_spk_pub;
	} else {
		return -ENOKEY;
	}
	if (m.opk_id != 0) {
		for (size_t i = 0; i < pk->n_opk; i++)
			if (pk->opk[i].id == m.opk_id)
				opk = &pk->opk[i];
		if (opk == NULL)
			return -ENOKEY; /* used already, or never ours */
	}
	if (s->w->dh(dh[0], spk_priv, c.dh_pk) < 0 ||
	    s->w->dh(dh[1], dh_priv, m.ek) < 0 ||
	    s->w->dh(dh[2], spk_priv, m.ek) < 0 ||
	    (opk != NULL && s->w->dh(dh[3], opk->priv, m.ek) < 0)) {
		r = -EBADMSG;
		goto out;
	}
	ss = session_alloc();
	if (ss == NULL) {
		r = -ENOMEM;
		goto out;
	}
	ss->suite = suite;
	memcpy(ss->peer_ik, c.dh_pk, s->dhlen);
	if ((r = s->w->pubkey(dh_priv, ik_pub)) < 0 ||
	    (r = x3dh_sk(s, (const uint8_t(*)[32])dh, opk ? 4 : 3, ss->rk)) < 0)
		goto out;
	set_ad(ss, s, c.dh_pk, ik_pub);
	ss->spk_id = m.spk_id;
	ss->opk_id = m.opk_id;
	memcpy(ss->ek, m.ek, s->dhlen);
	/* our first ratchet key is the signed prekey */
	memcpy(ss->dhs_priv, spk_priv, 32);
	memcpy(ss->dhs_pub, spk_pub, s->dhlen);
	r = tf_e2e_decrypt(ss, msg, len, pt, cap);
	if (r < 0)
		goto out;
	if (opk != NULL)
		sodium_memzero(opk, sizeof(*opk)); /* one-time: id 0 = used */
	if (peer != NULL)
		*peer = c;
	*out = ss;
	ss = NULL;
out:
	tf_e2e_session_free(ss);
	sodium_memzero(dh, sizeof(dh));
	return r;
}

size_t tf_e2e_session_encoded_bytes(void)
{
	return 8 + sizeof(struct tf_e2e_session);
}

int tf_e2e_session_encode(const struct tf_e2e_session *s, uint8_t *out,
			  size_t cap)
{
	return obj_encode(SESSION_MAGIC, s, sizeof(*s), out, cap);
}

int tf_e2e_session_decode(const uint8_t *buf, size_t len,
			  struct tf_e2e_session **out)
{
	struct tf_e2e_session *s;
	int r = obj_check(SESSION_MAGIC, buf, len, sizeof(*s));

	if (r < 0)
		return r;
	s = session_alloc();
	if (s == NULL)
		return -ENOMEM;
	memcpy(s, buf + 8, sizeof(*s));
	if (nz_get(s->suite) == NULL || s->adlen > sizeof(s->ad) ||
	    s->certlen > TF_CERT_MAX || s->skip_next >= TF_E2E_SKIPPED_MAX) {
		tf_e2e_session_free(s);
		return -EBADMSG;
	}
	*out = s;
	return 0;
}
