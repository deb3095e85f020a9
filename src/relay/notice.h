/* SPDX-License-Identifier: ISC */
/*
 * What relays publish to each other on NATS core (nats.c,
 * docs/comms-protocol.md "Between relays"): the subject of an address
 * (twofold.o.HEX(officer), twofold.d.HEX(officer).HEX(device)) and the
 * notice, u8 version | ...: version 0 (relays before several devices per
 * officer) u8 0 | reply plaintext; version 1 u8 1 | u8 n | to | reply
 * plaintext. Pure code: another relay's bytes are parsed here, bounded,
 * fuzzed (fuzz/fuzz_relay_notice.c).
 */
#ifndef TWOFOLD_RELAY_NOTICE_H
#define TWOFOLD_RELAY_NOTICE_H

#include "twofold/comms.h"
#include "twofold/common.h"

/* twofold.d. + 2 x 64 hex + '.' + 2 x 64 hex, NUL */
#define RELAY_SUBJ_MAX (sizeof("twofold.d.") + 4 * TF_CERT_ID_MAX + 1)
#define RELAY_NOTICE_V0 0
#define RELAY_NOTICE_V1 1

/* addr's subject into out; -EINVAL when addr is not an address. */
TF_WUR int relay_subject(const char *addr, char out[static RELAY_SUBJ_MAX])
	TF_NONNULL(1, 2);
/* The address subj names into addr; -EINVAL when it is none of ours. */
TF_WUR int relay_subject_addr(const char *subj,
			      char addr[static TF_COMMS_ADDR_MAX + 1])
	TF_NONNULL(1, 2);
/* A notice received on subj: 0 and *pt, *ptlen (pointing into d) the
 * reply plaintext for the address subj names (in addr); -EBADMSG when
 * malformed, of an unknown version, or (version 1) naming another
 * address than its subject's. */
TF_WUR int relay_notice_parse(const char *subj, const uint8_t *d, size_t len,
			      char addr[static TF_COMMS_ADDR_MAX + 1],
			      const uint8_t **pt, size_t *ptlen)
	TF_NONNULL(1, 2, 4, 5, 6);
/* A version 1 notice for addr into out; its length, -EINVAL, -ENOBUFS. */
TF_WUR int relay_notice_build(const char *addr, const uint8_t *pt, size_t len,
			      uint8_t *out, size_t cap) TF_NONNULL(1, 4);

#endif
