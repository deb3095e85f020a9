/* SPDX-License-Identifier: ISC */
/*
 * The device-bound protector: SP wrapped under the device secret and the
 * discardable file alone (no credential), for the personal persona.
 * It is created by tf_ks_create_sp (create.c).
 */
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"

/* dfd: the persona directory, locked (tf_ks_open_persona). */
int tf_ks_device_unlock(struct tf_keystore *ks, int dfd, const char *persona,
			uint8_t fskey[static TF_KEYS_FSKEY_BYTES])
{
	_cleanup_secure_ uint8_t *sp = NULL;
	enum tf_persona_keystate st;
	struct tf_throttle_rec t;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES];
	int r;

	r = tf_ks_load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	switch (st) {
	case TF_KS_NONE: return -ENOENT;
	case TF_KS_ERASED: return -ENOKEY;
	case TF_KS_CREDENTIAL: return -EINVAL;
	case TF_KS_DEVICE: break;
	}
	r = tf_ks_load_spblob(ks, dfd, F_SP_DEVICE, &b);
	if (r < 0)
		return r;
	if (b.protector != TF_PROT_DEVICE)
		return -EBADMSG;
	r = tf_ks_discard_hash(ks, dfd, b.generation, dhash);
	if (r < 0)
		return r;
	sp = tf_secure_alloc(TF_SP_BYTES);
	if (sp == NULL)
		return -ENOMEM;
	r = tf_ks_open_sp(ks, persona, &b, NULL, NULL, dhash, sp);
	if (r < 0)
		return r;
	return tf_ks_fskey_from_sp(ks, persona, sp, fskey);
}
