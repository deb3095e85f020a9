/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay's DEVICES answer (issue 15, several devices per officer;
 * docs/comms-protocol.md "Requests to the relay"): which of an officer's
 * stored prekey bundles name a device a client would accept now. Pure
 * code over the store's rows (untrusted: another relay or an intruder
 * may have written them), so it is unit-tested apart from the relay.
 */
#ifndef TWOFOLD_RELAY_DEVICES_H
#define TWOFOLD_RELAY_DEVICES_H

#include "store.h"
#include "twofold/cert.h"
#include "twofold/comms.h"

/* The reply 0x0b DEVICES u8 n | officer | u8 count | count x (u8 n |
 * device) into out, from the officer's bundles sb (the most recently
 * published first, as tf_store_prekey_list gives them): a bundle is
 * listed when it parses (bounded parsers), is of suite, and its
 * certificate passes tf_cert_check at now against ca and dl (dl NULL:
 * none held) with an end-to-end role, naming officer and the row's
 * device: no signature is checked (the relay verified it when it
 * stored the bundle), so the cost is bounded by parsing; the
 * first TF_COMMS_DEVICES_MAX listed, sorted by device id. Returns the
 * length, -ENOENT when none is listed, -EINVAL for a bad officer,
 * -ENOBUFS when cap is too small. */
TF_WUR int relay_devices_reply(const char *officer,
			       const struct tf_store_bundle *sb, size_t n,
			       uint8_t suite, const struct tf_cert_anchor *ca,
			       const struct tf_denylist *dl, uint64_t now,
			       uint8_t *out, size_t cap) TF_NONNULL(1, 5, 8);

#endif
