/* SPDX-License-Identifier: ISC */
/*
 * The duress credential (docs/keys.md "Duress credential"): a second PIN
 * that, entered where the credential is asked, crypto-erases the persona
 * at once and is answered exactly like a wrong credential.
 *
 * Its verifier is keys/<persona>/duress:
 *
 *   tag = HKDF_suite(ikm  = device secret || Argon2id(duress, salt, costs)
 *                           || hash(discardable),
 *                    info = "twofold duress" 0 persona)
 *
 * with the salt and costs of the current sp.credential, so an attempt
 * runs ONE Argon2id whatever it turns out to be: the attempt's own hash
 * is checked against sp.credential (the AEAD open) and, when that fails,
 * against the tag (constant-time compare). A wrong credential and the
 * duress one do the same work up to the erase. The device secret (sealed
 * by the TPM where there is one) is in the tag so that a copy of the disk
 * alone does not let the duress PIN be guessed offline; the discardable's
 * hash ties it to this persona's key (the erase destroys both).
 *
 * The file carries the salt it was made under (its link): after a
 * credential change (new salt) it no longer matches anything and the
 * change replaces it with a decoy; a leftover after a crash is ignored.
 * Every credential has the file (a decoy until a duress credential is
 * set: tf_ks_duress_decoy), so its presence tells nothing.
 */
#include <string.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"

#define DURESS_LABEL "twofold duress"

int tf_keys_duress_parse(const uint8_t *buf, size_t len,
			 uint8_t link[static TF_SALT_BYTES],
			 uint8_t tag[static TF_DURESS_TAG_BYTES])
{
	if (len < 5 || memcmp(buf, TF_DURESS_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] > TF_DURESS_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[4] != TF_DURESS_VERSION || len != TF_DURESS_FILE_BYTES ||
	    buf[5] || buf[6] || buf[7])
		return -EBADMSG;
	memcpy(link, buf + 8, TF_SALT_BYTES);
	memcpy(tag, buf + 8 + TF_SALT_BYTES, TF_DURESS_TAG_BYTES);
	return 0;
}

static int duress_tag(struct tf_keystore *ks, const char *persona,
		      const uint8_t *pw, const uint8_t dhash[TF_HASH_BYTES],
		      uint8_t tag[TF_DURESS_TAG_BYTES])
{
	_cleanup_secure_ uint8_t *ikm = NULL;
	uint8_t info[sizeof(DURESS_LABEL) + TF_NAME_MAX + 1];
	size_t plen = strlen(persona), n = 0;

	if (plen > TF_NAME_MAX)
		return -EINVAL;
	ikm = tf_secure_alloc(TF_DEVSECRET_BYTES + TF_KEY_BYTES +
			      TF_HASH_BYTES);
	if (ikm == NULL)
		return -ENOMEM;
	memcpy(ikm + n, ks->devsecret, TF_DEVSECRET_BYTES);
	n += TF_DEVSECRET_BYTES;
	memcpy(ikm + n, pw, TF_KEY_BYTES);
	n += TF_KEY_BYTES;
	memcpy(ikm + n, dhash, TF_HASH_BYTES);
	n += TF_HASH_BYTES;
	memcpy(info, DURESS_LABEL, sizeof(DURESS_LABEL)); /* with its NUL */
	memcpy(info + sizeof(DURESS_LABEL), persona, plen);
	return tf_kdf(ks->s, tag, TF_DURESS_TAG_BYTES, ikm, n, NULL, 0, info,
		      sizeof(DURESS_LABEL) + plen);
}

/* The verifier bound to salt: 1 and tag, 0 if there is none (or it was
 * made under another salt), -errno. */
static int load_verifier(int dfd, const uint8_t salt[TF_SALT_BYTES],
			 uint8_t tag[TF_DURESS_TAG_BYTES])
{
	uint8_t buf[TF_DURESS_FILE_BYTES + 1], link[TF_SALT_BYTES];
	size_t len = 0;
	int r;

	r = tf_ks_read_key_file(dfd, F_DURESS, buf, sizeof(buf), &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = tf_keys_duress_parse(buf, len, link, tag);
	if (r < 0)
		return r;
	return memcmp(link, salt, TF_SALT_BYTES) == 0;
}

int tf_ks_duress_match(struct tf_keystore *ks, int dfd, const char *persona,
		       const struct tf_spblob *b, const uint8_t *pw,
		       const uint8_t dhash[TF_HASH_BYTES])
{
	uint8_t want[TF_DURESS_TAG_BYTES], got[TF_DURESS_TAG_BYTES];
	int have, r, eq;

	/* the tag is computed and compared with or without a verifier, so
	 * a persona without one does the same work as one with it */
	have = load_verifier(dfd, b->salt, want);
	if (have <= 0)
		memset(want, 0xa5, sizeof(want));
	r = duress_tag(ks, persona, pw, dhash, got);
	if (r < 0)
		return r;
	eq = tf_memeq_ct(want, got, sizeof(want)) == 0;
	tf_memzero(got, sizeof(got));
	if (have == -EBADMSG || have == -EPROTONOSUPPORT)
		return 0; /* a damaged verifier: the credential check stands */
	if (have < 0)
		return have;
	return have > 0 && eq;
}

/* The verifier of no duress credential: a random tag linked to salt.
 * Every credential gets one (enrolment and change), and a real tag is
 * pseudo-random too, so the file's presence, size and content say nothing
 * about whether a duress credential is set to anyone without it (a thief
 * who copied the disk); tf_ks_duress_match compares against it as
 * against a real one (a match has probability 2^-256). */
int tf_ks_duress_decoy(int dfd, const uint8_t salt[TF_SALT_BYTES])
{
	uint8_t buf[TF_DURESS_FILE_BYTES];
	int r;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, TF_DURESS_MAGIC, 4);
	buf[4] = TF_DURESS_VERSION;
	memcpy(buf + 8, salt, TF_SALT_BYTES);
	r = tf_random(buf + 8 + TF_SALT_BYTES, TF_DURESS_TAG_BYTES);
	if (r == 0)
		r = tf_atomic_write_at(dfd, F_DURESS, buf, sizeof(buf), 0600);
	tf_memzero(buf, sizeof(buf));
	return r;
}

/* Write name again with the same content (a new inode, new times), so
 * that setting the duress verifier does not leave it the one file of the
 * persona newer than the others (ctime and birth time cannot be set). The
 * content is identical, so a crash leaves the same bytes either way. */
static int retouch(int dfd, const char *name)
{
	uint8_t buf[TF_DISCARD_FILE_BYTES + 1];
	size_t len = 0;
	int r;

	r = tf_ks_read_key_file(dfd, name, buf, sizeof(buf), &len);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = tf_atomic_write_at(dfd, name, buf, len, 0600);
	tf_memzero(buf, sizeof(buf));
	return r;
}

int tf_keys_set_duress(struct tf_keystore *ks, const char *persona,
		       const uint8_t *cred, size_t len, const uint8_t *duress,
		       size_t dlen, struct tf_throttle_info *ti)
{
	_cleanup_secure_ uint8_t *sp = NULL, *pw = NULL;
	_cleanup_close_ int dfd = -1;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES], buf[TF_DURESS_FILE_BYTES];
	int r;

	if (cred == NULL || duress == NULL)
		return -EINVAL;
	/* neither costs a try: nothing about the credential is checked */
	if (tf_credential_check_form(&ks->cfg, duress, dlen, NULL, 0) < 0)
		return -EINVAL;
	if (len == dlen && tf_memeq_ct(cred, duress, len) == 0)
		return -EEXIST;
	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	sp = tf_secure_alloc(TF_SP_BYTES);
	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (sp == NULL || pw == NULL)
		return -ENOMEM;
	/* the current credential, through the throttle (it may be the
	 * duress credential already set: that erases, as anywhere) */
	r = tf_ks_cred_attempt(ks, dfd, persona, cred, len, sp, ti, NULL, NULL);
	if (r < 0)
		return r;
	r = tf_ks_load_spblob(ks, dfd, F_SP_CRED, &b);
	if (r == 0)
		r = tf_ks_discard_hash(ks, dfd, b.generation, dhash);
	if (r == 0)
		r = tf_ks_pwhash(duress, dlen, &b, pw, NULL);
	if (r < 0)
		return r;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, TF_DURESS_MAGIC, 4);
	buf[4] = TF_DURESS_VERSION;
	memcpy(buf + 8, b.salt, TF_SALT_BYTES);
	r = duress_tag(ks, persona, pw, dhash, buf + 8 + TF_SALT_BYTES);
	if (r < 0)
		return r;
	r = tf_atomic_write_at(dfd, F_DURESS, buf, sizeof(buf), 0600);
	tf_memzero(buf, sizeof(buf));
	if (r < 0)
		return r;
	/* the other key files as new as the verifier (see retouch); the
	 * verifier is set whatever happens here, so that is the answer */
	(void)retouch(dfd, F_SP_CRED);
	(void)retouch(dfd, F_DISCARD);
	(void)retouch(dfd, F_TPM_SLOT);
	(void)retouch(dfd, F_TPM_CRED);
	return 0;
}

int tf_keys_has_duress(struct tf_keystore *ks, const char *persona)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	enum tf_persona_keystate st;
	struct tf_spblob b;
	uint8_t tag[TF_DURESS_TAG_BYTES];
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = tf_ks_load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	if (st != TF_KS_CREDENTIAL)
		return 0;
	r = tf_ks_load_spblob(ks, dfd, F_SP_CRED, &b);
	if (r < 0)
		return r;
	r = load_verifier(dfd, b.salt, tag);
	tf_memzero(tag, sizeof(tag));
	return r;
}
