/* SPDX-License-Identifier: ISC */
/*
 * The requests a device sends twofold-relay inside channel DATA payloads,
 * and the relay's replies (relay.c's header lists them). The parser is
 * the relay's first look at what an authenticated but untrusted device
 * sends: bounded, fuzzed (fuzz/fuzz_relay_req.c).
 */
#ifndef TWOFOLD_RELAY_REQ_H
#define TWOFOLD_RELAY_REQ_H

#include "twofold/cert.h"
#include "twofold/comms.h"
#include "twofold/common.h"

enum {
	RELAY_OP_ECHO = 0x01,
	RELAY_OP_SEND = 0x02,
	RELAY_OP_STORED = 0x03,
	RELAY_OP_MSG = 0x04,
	RELAY_OP_FETCH = 0x05,
	RELAY_OP_ACK = 0x06,
	RELAY_OP_PREKEYS = 0x07, /* publish end-to-end prekeys (a bundle) */
	RELAY_OP_BUNDLE_GET = 0x08,
	RELAY_OP_BUNDLE = 0x09,
	RELAY_OP_DEVICES = 0x0a, /* request and reply (0x0b) */
	RELAY_OP_DEVICE_LIST = 0x0b,
	RELAY_OP_FWD = 0x10,
	RELAY_OP_FROM = 0x11,
	RELAY_OP_ERROR = 0x7f,
};

#define RELAY_ID_BYTES 16

struct relay_req {
	uint8_t op;
	/* an address (relay_addr_get): SEND/FWD: to; ACK: from;
	   BUNDLE_GET: whose; DEVICES: a bare officer */
	char name[TF_COMMS_ADDR_MAX + 1];
	const uint8_t *id;   /* SEND, ACK: RELAY_ID_BYTES */
	const uint8_t *body; /* ECHO: all; SEND: blob; FWD: bytes;
				PREKEYS: the bundle */
	size_t body_len;
};

/* 0, or -EBADMSG (malformed), -EOPNOTSUPP (unknown op). Pointers in *out
 * point into pt. */
TF_WUR int relay_req_parse(const uint8_t *pt, size_t n, struct relay_req *out)
	TF_NONNULL(1, 3);

/* u8 n | name, the name printable ASCII without space (the officer-id
 * alphabet of certificates) and 1..TF_CERT_ID_MAX long, into out
 * NUL-terminated. Returns the bytes used, 0 when malformed. Shared by the
 * request parser and the talk-group requests (group.c). */
size_t relay_name_get(const uint8_t *p, size_t len,
		      char out[static TF_CERT_ID_MAX + 1]) TF_NONNULL(1, 3);

/* u8 n | address, "officer" or "officer/device" (both halves 1..64
 * bytes of the certificate id alphabet [A-Za-z0-9-_.@], one '/' at
 * most), into out NUL-terminated. Returns the bytes used, 0 when
 * malformed. */
size_t relay_addr_get(const uint8_t *p, size_t len,
		      char out[static TF_COMMS_ADDR_MAX + 1]) TF_NONNULL(1, 3);

/* Split a well-formed address (relay_addr_get's, or one the relay built)
 * at its '/': officer into officer, the device into device ("" for a bare
 * officer). -EINVAL when addr is not an address. */
TF_WUR int relay_addr_split(const char *addr,
			    char officer[static TF_CERT_ID_MAX + 1],
			    char device[static TF_CERT_ID_MAX + 1])
	TF_NONNULL(1, 2, 3);

/* true when n bytes at p are a certificate id (1..64, the alphabet) */
bool relay_id_ok(const char *p, size_t n) TF_NONNULL(1);

/* MSG (id != NULL) or FROM (id == NULL): op | u8 n | name | [id] | body
 * (name: an address, at most TF_COMMS_ADDR_MAX).
 * Returns the length, -ENOBUFS when it does not fit in cap. */
TF_WUR int relay_reply_build(uint8_t op, const char *name, const uint8_t *id,
			     const uint8_t *body, size_t body_len, uint8_t *out,
			     size_t cap) TF_NONNULL(2, 6);

#endif
