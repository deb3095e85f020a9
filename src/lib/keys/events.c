/* SPDX-License-Identifier: ISC */
/*
 * Key store events (a crypto-erase and its cause) go to the audit log
 * (src/lib/audit) through a function twofoldd sets: the key store does not
 * link or know the log, and the log does not know the key store. The seed
 * of the log's checkpoint signing key is derived here from the device
 * secret, which never leaves the key store, as are other sub-keys
 * (tf_keystore_derive: the tunnel's key).
 */
#include <string.h>

#include "twofold/crypto.h"
#include "src/lib/keys/internal.h"

void tf_keystore_set_audit(struct tf_keystore *ks, tf_keystore_audit_fn fn,
			   void *ctx)
{
	ks->audit_fn = fn;
	ks->audit_ctx = ctx;
}

int tf_ks_log_event(struct tf_keystore *ks, const char *persona,
		    const char *event, const char *what)
{
	if (ks->audit_fn == NULL)
		return 0; /* nobody to tell (tests, benchmarks) */
	return ks->audit_fn(ks->audit_ctx, persona, event, what);
}

int tf_keystore_audit_seed(struct tf_keystore *ks, uint8_t out[static 32])
{
	static const char info[] = "twofold audit signing";

	return tf_kdf(ks->s, out, 32, ks->devsecret, TF_DEVSECRET_BYTES, NULL,
		      0, (const uint8_t *)info, sizeof(info) - 1);
}

int tf_keystore_derive(struct tf_keystore *ks, const char *info, uint8_t *out,
		       size_t outlen)
{
	size_t n = strlen(info);

	/* an empty info would give every caller the same key */
	if (n == 0 || outlen == 0 || outlen > TF_KEYSTORE_DERIVE_MAX)
		return -EINVAL;
	return tf_kdf(ks->s, out, outlen, ks->devsecret, TF_DEVSECRET_BYTES,
		      NULL, 0, (const uint8_t *)info, n);
}
