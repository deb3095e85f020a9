/* SPDX-License-Identifier: ISC */
/* twofold-relay's DEVICES answer (devices.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "req.h"
#include "twofold/e2e.h"

static int devid_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The relay only leaves out: each client checks every bundle again
 * itself, so this is about not offering what would be refused anyway
 * (an expired or revoked device), never about trust. No signature: the
 * relay verified the certificate when it stored the bundle (PREKEYS,
 * relay.c op_prekeys), so what can have changed since is the clock and
 * the deny-list; a DEVICES costs parsing and a deny-list lookup per
 * row, not up to DEVICES_SCAN signature checks that a device could
 * repeat in a loop (an SM2 verify is ~10x an Ed25519 one). A row the
 * relay did not write (another relay's, an intruder's) is the client's
 * to refuse, as before. */
static bool listed(const char *officer, const struct tf_store_bundle *sb,
		   uint8_t suite, const struct tf_cert_anchor *ca,
		   const struct tf_denylist *dl, uint64_t now)
{
	struct tf_e2e_bundle b;
	struct tf_cert c;

	if (sb->bundle == NULL ||
	    tf_e2e_bundle_parse(sb->bundle, sb->len, &b) < 0 ||
	    b.suite != suite || tf_cert_parse(b.cert, b.certlen, &c) < 0 ||
	    tf_cert_check(&c, ca, now, TF_ROLES_E2E, dl) < 0)
		return false;
	return !strcmp(c.officer, officer) && !strcmp(c.device, sb->device);
}

int relay_devices_reply(const char *officer, const struct tf_store_bundle *sb,
			size_t n, uint8_t suite,
			const struct tf_cert_anchor *ca,
			const struct tf_denylist *dl, uint64_t now,
			uint8_t *out, size_t cap)
{
	const char *ids[TF_COMMS_DEVICES_MAX];
	size_t on = strnlen(officer, TF_CERT_ID_MAX + 1), k = 0, off, need;

	if (!relay_id_ok(officer, on))
		return -EINVAL;
	/* newest first: the TF_COMMS_DEVICES_MAX most recently published
	 * of the acceptable ones; a device listed twice (two rows can not
	 * name one device, but the rows are not ours to trust) once */
	for (size_t i = 0; i < n && k < TF_COMMS_DEVICES_MAX; i++) {
		bool dup = false;

		if (!listed(officer, &sb[i], suite, ca, dl, now))
			continue;
		for (size_t j = 0; j < k && !dup; j++)
			dup = !strcmp(ids[j], sb[i].device);
		if (!dup)
			ids[k++] = sb[i].device;
	}
	if (k == 0)
		return -ENOENT;
	qsort(ids, k, sizeof(ids[0]), devid_cmp);
	need = 3 + on;
	for (size_t i = 0; i < k; i++)
		need += 1 + strlen(ids[i]);
	if (need > cap)
		return -ENOBUFS;
	out[0] = RELAY_OP_DEVICE_LIST;
	out[1] = (uint8_t)on;
	memcpy(out + 2, officer, on);
	off = 2 + on;
	out[off++] = (uint8_t)k;
	for (size_t i = 0; i < k; i++) {
		size_t dl_ = strlen(ids[i]); /* a certificate's: <= 64 */

		out[off++] = (uint8_t)dl_;
		memcpy(out + off, ids[i], dl_);
		off += dl_;
	}
	return (int)off;
}
