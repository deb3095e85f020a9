/* SPDX-License-Identifier: ISC */
/*
 * Wrap and unwrap: the KEK from the device secret, the credential's
 * Argon2id output, the TPM-held secret and the discardable file; the AD
 * that binds a wrapped SP to its persona, protector and file header; seal
 * and open of SP; the fscrypt key from SP. docs/keys.md "Key hierarchy".
 */
#include <stdio.h>
#include <string.h>

#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"

#define AD_LABEL "twofold-sp-v1"
#define KEK_LABEL "twofold kek"
#define FSCRYPT_LABEL "fscrypt"

void tf_ks_discard_name(uint32_t gen, char name[TF_DISCARD_NAME_MAX])
{
	if (gen == 0)
		snprintf(name, TF_DISCARD_NAME_MAX, "%s", F_DISCARD);
	else
		snprintf(name, TF_DISCARD_NAME_MAX, "%s.%u", F_DISCARD, gen);
}

int tf_ks_discard_hash(struct tf_keystore *ks, int dfd, uint32_t gen,
		       uint8_t out[TF_HASH_BYTES])
{
	_cleanup_secure_ uint8_t *buf = NULL;
	char name[TF_DISCARD_NAME_MAX];
	const uint8_t *rnd;
	size_t len = 0; /* -O3 cannot see tf_ks_read_key_file sets it */
	int r;

	buf = tf_secure_alloc(TF_DISCARD_FILE_BYTES + 1);
	if (buf == NULL)
		return -ENOMEM;
	tf_ks_discard_name(gen, name);
	r = tf_ks_read_key_file(dfd, name, buf, TF_DISCARD_FILE_BYTES + 1,
				&len);
	if (r == -ENOENT)
		return -EBADMSG;
	if (r < 0)
		return r;
	r = tf_keys_discard_parse(buf, len, &rnd);
	if (r < 0)
		return r;
	return tf_hash(ks->s, out, rnd, TF_DISCARD_RANDOM);
}

/* KEK = HKDF(devsecret || tf_ks_pwhash-or-empty || tpm-secret-or-empty ||
 *            hash(discardable),
 *            info = "twofold kek" 0 persona 0 protector) */
static int derive_kek(struct tf_keystore *ks, const char *persona,
		      uint8_t protector, const uint8_t *pw,
		      const uint8_t *tpmsec, const uint8_t dhash[TF_HASH_BYTES],
		      struct tf_key **kek)
{
	_cleanup_secure_ uint8_t *ikm = NULL;
	uint8_t info[64];
	size_t ilen = 0, plen = strlen(persona);

	ikm = tf_secure_alloc(TF_DEVSECRET_BYTES + TF_KEY_BYTES +
			      TF_TPM_SECRET_BYTES + TF_HASH_BYTES);
	if (ikm == NULL)
		return -ENOMEM;
	memcpy(ikm + ilen, ks->devsecret, TF_DEVSECRET_BYTES);
	ilen += TF_DEVSECRET_BYTES;
	if (pw != NULL) {
		memcpy(ikm + ilen, pw, TF_KEY_BYTES);
		ilen += TF_KEY_BYTES;
	}
	/* the TPM-held secret of a credential persona: without the TPM (and
	 * its dictionary-attack counter) the KEK cannot be computed */
	if (tpmsec != NULL) {
		memcpy(ikm + ilen, tpmsec, TF_TPM_SECRET_BYTES);
		ilen += TF_TPM_SECRET_BYTES;
	}
	memcpy(ikm + ilen, dhash, TF_HASH_BYTES);
	ilen += TF_HASH_BYTES;

	memcpy(info, KEK_LABEL, sizeof(KEK_LABEL)); /* with its NUL */
	memcpy(info + sizeof(KEK_LABEL), persona, plen + 1);
	info[sizeof(KEK_LABEL) + plen + 1] = protector;
	return tf_kdf_key(ks->s, ikm, ilen, info, sizeof(KEK_LABEL) + plen + 2,
			  kek);
}

/* AD = "twofold-sp-v1" 0 persona 0 protector || file header (kind, salt,
 * Argon2id costs, lengths, generation): editing any of them fails
 * authentication. */
static size_t build_ad(uint8_t ad[128], const char *persona, uint8_t prot,
		       const uint8_t *hdr, size_t hlen)
{
	size_t plen = strlen(persona), n = 0;

	memcpy(ad, AD_LABEL, sizeof(AD_LABEL));
	n += sizeof(AD_LABEL);
	memcpy(ad + n, persona, plen + 1);
	n += plen + 1;
	ad[n++] = prot;
	memcpy(ad + n, hdr, hlen);
	return n + hlen;
}

int tf_ks_pwhash(const uint8_t *cred, size_t len, const struct tf_spblob *b,
		 uint8_t out[TF_KEY_BYTES], uint64_t *ns)
{
	uint64_t t0 = tf_now_ns();
	int r;

	r = tf_pwhash(out, TF_KEY_BYTES, cred, len, b->salt, b->opslimit,
		      (size_t)b->mem_kib * 1024u);
	if (ns)
		*ns += tf_now_ns() - t0;
	return r;
}

int tf_ks_seal_sp(struct tf_keystore *ks, const char *persona,
		  struct tf_spblob *b, const uint8_t *pw, const uint8_t *tpmsec,
		  const uint8_t dhash[TF_HASH_BYTES], const uint8_t *sp,
		  uint8_t out[TF_SPBLOB_MAX], size_t *outlen)
{
	_cleanup_key_ struct tf_key *kek = NULL;
	size_t sealed_len = TF_SP_BYTES + tf_seal_overhead(ks->s), n;
	uint8_t ad[128];
	size_t adlen, hlen;
	int r;

	if (sealed_len > TF_SPBLOB_SEALED_MAX)
		return -EINVAL;
	b->suite_id = ks->s->id;
	/* new blobs are the current version (b zeroed by the caller); the
	 * unit tests ask for 1 to check that version 1 still opens */
	if (b->version == 0)
		b->version = TF_SPBLOB_VERSION;
	hlen = tf_keys_spblob_header(b, sealed_len, out);
	adlen = build_ad(ad, persona, b->protector, out, hlen);
	r = derive_kek(ks, persona, b->protector, pw, tpmsec, dhash, &kek);
	if (r < 0)
		return r;
	r = tf_seal(kek, ad, adlen, sp, TF_SP_BYTES, out + hlen,
		    TF_SPBLOB_SEALED_MAX, &n);
	if (r < 0)
		return r;
	if (n != sealed_len)
		return -EINVAL;
	*outlen = hlen + n;
	return 0;
}

/* Always the full AEAD open: a wrong key costs the same as a right one
 * (the Argon2id before it dominates anyway). */
int tf_ks_open_sp(struct tf_keystore *ks, const char *persona,
		  const struct tf_spblob *b, const uint8_t *pw,
		  const uint8_t *tpmsec, const uint8_t dhash[TF_HASH_BYTES],
		  uint8_t *sp)
{
	_cleanup_key_ struct tf_key *kek = NULL;
	uint8_t hdr[TF_SPBLOB_HDR], ad[128];
	size_t adlen, n, hlen;
	int r;

	hlen = tf_keys_spblob_header(b, b->sealed_len, hdr);
	adlen = build_ad(ad, persona, b->protector, hdr, hlen);
	r = derive_kek(ks, persona, b->protector, pw, tpmsec, dhash, &kek);
	if (r < 0)
		return r;
	r = tf_open(kek, ad, adlen, b->sealed, b->sealed_len, sp, TF_SP_BYTES,
		    &n);
	if (r == -EINVAL || r == -EPROTONOSUPPORT)
		return -EBADMSG; /* malformed inner blob: damage */
	if (r < 0)
		return r; /* -EBADMSG: authentication failed */
	if (n != TF_SP_BYTES)
		return -EBADMSG;
	return 0;
}

int tf_ks_load_spblob(struct tf_keystore *ks, int dfd, const char *name,
		      struct tf_spblob *b)
{
	uint8_t buf[TF_SPBLOB_MAX + 1];
	size_t len;
	int r;

	r = tf_ks_read_key_file(dfd, name, buf, sizeof(buf), &len);
	if (r == -ENOENT)
		return -EBADMSG; /* load_state saw it: vanished since */
	if (r < 0)
		return r;
	r = tf_keys_spblob_parse(buf, len, b);
	if (r < 0)
		return r;
	if (b->suite_id != ks->s->id)
		return -EBADMSG;
	return 0;
}

int tf_ks_fskey_from_sp(struct tf_keystore *ks, const char *persona,
			const uint8_t *sp, uint8_t *fskey)
{
	_cleanup_secure_ uint8_t *tmp = NULL;
	uint8_t info[sizeof(FSCRYPT_LABEL) + TF_NAME_MAX];
	size_t plen = strlen(persona);
	int r;

	tmp = tf_secure_alloc(TF_KEYS_FSKEY_BYTES);
	if (tmp == NULL)
		return -ENOMEM;
	/* info = "fscrypt" || persona (DESIGN.md key hierarchy) */
	memcpy(info, FSCRYPT_LABEL, sizeof(FSCRYPT_LABEL) - 1);
	memcpy(info + sizeof(FSCRYPT_LABEL) - 1, persona, plen);
	r = tf_kdf(ks->s, tmp, TF_KEYS_FSKEY_BYTES, sp, TF_SP_BYTES, NULL, 0,
		   info, sizeof(FSCRYPT_LABEL) - 1 + plen);
	if (r < 0)
		return r;
	memcpy(fskey, tmp, TF_KEYS_FSKEY_BYTES);
	return 0;
}
