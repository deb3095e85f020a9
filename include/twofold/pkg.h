/* SPDX-License-Identifier: ISC */
/*
 * App packages (.tfa) and catalogs (docs/packages.md): a small fixed
 * format, signify/minisign style, not a general archive.
 *
 *   package = header (64 bytes) | manifest (key = value text, <= 16 KiB)
 *           | signature slots (n x 96 bytes, 1..4) | zero padding to 4096
 *           | payload (an erofs image, <= 4 GiB)
 *
 * Every signature covers header || manifest; the manifest carries the
 * payload's hash in the suite's hash (BLAKE2b-256 intl, SM3 gm), so one
 * signature binds every byte. Verification (tf_pkg_open) is meant to run
 * in an unprivileged helper with no keys: it reads the fd with pread,
 * checks every bound before it allocates, verifies a signature by a
 * trusted key of the device's suite, parses the manifest strictly, and
 * streams the payload through the hash in 1 MiB pieces (never mapped
 * whole). The daemon then mounts payload [offset, offset + length) of the
 * same, unchangeable file read-only (see "Handing over" in
 * docs/packages.md: the fd must be a sealed memfd or a file only root can
 * write, or the bytes mounted may not be the bytes verified).
 *
 *   catalog = header (32 bytes) | body (text, <= 256 KiB) | slots
 *
 * A catalog is an organisation's signed allowlist with a sequence number
 * and an expiry; the rollback rules are the pure functions at the end.
 *
 * Errors: functions return 0 or -errno and, when given one, fill a
 * struct tf_pkg_err with a stable reason id (twofold/error.h TF_R_PKG_*,
 * TF_R_CATALOG_*) and a one-line message naming what is wrong.
 */
#ifndef TWOFOLD_PKG_H
#define TWOFOLD_PKG_H

#include <time.h>

#include "twofold/common.h"
#include "twofold/crypto.h"

/* ---- bounds (every length in a header or manifest is checked) ---- */
#define TF_PKG_MAGIC "TFAPKG1" /* 8 bytes with its NUL */
#define TF_PKG_FORMAT 1
#define TF_PKG_HDR_BYTES 64
#define TF_PKG_MANIFEST_MAX 16384
#define TF_PKG_SLOTS_MAX 4
#define TF_PKG_SLOT_BYTES 96
#define TF_PKG_ALIGN 4096 /* payload offset and length: erofs blocks */
#define TF_PKG_PAYLOAD_MAX (UINT64_C(4) << 30)
#define TF_PKG_KEYID_BYTES 8 /* first bytes of tf_hash(public key) */
#define TF_PKG_TRUST_MAX 4   /* trusted signer keys per persona */

#define TF_PKG_NAME_MAX 64 /* [a-z][a-z0-9.-]{0,63} */
#define TF_PKG_VERSION_MAX 64
#define TF_PKG_ENTRIES_MAX 16
#define TF_PKG_ENTRY_NAME_MAX 32
#define TF_PKG_PATH_MAX 255 /* absolute, inside the image */
#define TF_PKG_FS_MAX 16

/* Personas a package may target (manifest `personas`). */
#define TF_PKG_PERSONA_PERSONAL (1u << 0)
#define TF_PKG_PERSONA_SECURE (1u << 1)

/* The fixed permission list (manifest `permissions`); an unknown name is
 * refused. X(TAG, bit, name, description) */
#define TF_PKG_PERMS(X)                                                        \
	X(NETWORK, 0, network, "connect to the network")                       \
	X(CAMERA, 1, camera, "use the camera while in the foreground")         \
	X(MICROPHONE, 2, microphone,                                           \
	  "use the microphone while in the foreground")                        \
	X(NOTIFICATIONS, 3, notifications, "post notifications")               \
	X(LOCATION, 4, location, "read the device's location")                 \
	X(BLUETOOTH, 5, bluetooth, "use Bluetooth")                            \
	X(NFC, 6, nfc, "use NFC")                                              \
	X(CLIPBOARD, 7, clipboard, "read and write the persona's clipboard")

#define TF_PKG_PERM_ENUM_(tag, bit, name, desc) TF_PERM_##tag = 1u << (bit),
enum tf_pkg_perm { TF_PKG_PERMS(TF_PKG_PERM_ENUM_) };
#undef TF_PKG_PERM_ENUM_

/* "network", ... for one bit; NULL for an unknown bit */
TF_EXPORT const char *tf_pkg_perm_name(uint32_t bit);
/* bit for a name, 0 if unknown */
TF_EXPORT uint32_t tf_pkg_perm_by_name(const char *name);

/* ---- errors ---- */
struct tf_pkg_err {
	const char *reason; /* TF_R_PKG_* / TF_R_CATALOG_* (static) */
	char msg[256];	    /* one line, names the field or offset */
};

/* ---- manifest ---- */
struct tf_pkg_entry {
	char name[TF_PKG_ENTRY_NAME_MAX + 1]; /* [a-z0-9][a-z0-9._-]* */
	char path[TF_PKG_PATH_MAX + 1];	      /* absolute, no . / .. / // */
};

/* A Landlock path rule the app's sandbox gets (manifest `fs`). Paths
 * are inside the persona's view; the sandbox decides what they mean. */
struct tf_pkg_fs {
	bool write;
	char path[TF_PKG_PATH_MAX + 1];
};

struct tf_pkg_manifest {
	char name[TF_PKG_NAME_MAX + 1];
	uint64_t version_code; /* >= 1; an update must be higher */
	char version[TF_PKG_VERSION_MAX + 1];
	uint32_t personas;    /* TF_PKG_PERSONA_*, at least one */
	uint32_t permissions; /* TF_PERM_* */
	uint8_t n_entries;    /* >= 1 in a package */
	struct tf_pkg_entry entries[TF_PKG_ENTRIES_MAX];
	uint8_t n_fs;
	struct tf_pkg_fs fs[TF_PKG_FS_MAX];
	bool has_payload_hash;
	uint8_t payload_hash[TF_HASH_BYTES];
};

/*
 * Parse manifest text. TF_PKG_MF_SOURCE: what the organisation writes
 * (# comments, blank lines, any order, no payload_hash); 0: a package's
 * manifest, which must be exactly the canonical form tf_pkg_manifest_format
 * writes (one encoding per manifest; payload_hash required). Never reads
 * past len; text need not be NUL-terminated.
 */
#define TF_PKG_MF_SOURCE 1u
TF_EXPORT TF_WUR int
tf_pkg_manifest_parse(const char *text, size_t len, unsigned flags,
		      struct tf_pkg_manifest *out, struct tf_pkg_err *err)
	TF_NONNULL(4);
/* Canonical text (fixed key order, one space each side of '='). *len gets
 * the length (no NUL written past it if cap is exact). -ENOBUFS. */
TF_EXPORT TF_WUR int tf_pkg_manifest_format(const struct tf_pkg_manifest *m,
					    char *buf, size_t cap, size_t *len)
	TF_NONNULL(1, 2, 4);
/* The erofs UUID a build uses: from the suite's hash of the canonical
 * manifest without payload_hash (the image does not depend on itself),
 * as RFC 4122 text (version 4 bits set), 37 bytes with the NUL. */
TF_EXPORT TF_WUR int tf_pkg_image_uuid(const struct tf_suite *s,
				       const struct tf_pkg_manifest *m,
				       char uuid[static 37]) TF_NONNULL(1, 2);

/* ---- header ---- */
struct tf_pkg_header {
	uint16_t format;	 /* TF_PKG_FORMAT */
	uint8_t suite;		 /* suite registry id */
	uint8_t n_slots;	 /* 1..TF_PKG_SLOTS_MAX */
	uint32_t manifest_len;	 /* 1..TF_PKG_MANIFEST_MAX */
	uint64_t payload_offset; /* aligned, right after the slots */
	uint64_t payload_len;	 /* aligned, 1 block..TF_PKG_PAYLOAD_MAX */
};
/* Parse and bound-check the first TF_PKG_HDR_BYTES bytes (fuzzed). */
TF_EXPORT TF_WUR int tf_pkg_header_parse(const uint8_t *buf, size_t len,
					 struct tf_pkg_header *out,
					 struct tf_pkg_err *err) TF_NONNULL(3);

/* ---- trust ---- */
struct tf_pkg_trust {
	uint8_t suite;
	uint8_t n;
	size_t pk_len;
	uint8_t pk[TF_PKG_TRUST_MAX][TF_PK_MAX];
	uint8_t id[TF_PKG_TRUST_MAX][TF_PKG_KEYID_BYTES];
};
/* device.conf `app_trust = BASE64[,BASE64]`, or `--trust` (a base64 key
 * or a comma list): each the public key of suite s. */
TF_EXPORT TF_WUR int
tf_pkg_trust_parse(const struct tf_suite *s, const char *list,
		   struct tf_pkg_trust *out, struct tf_pkg_err *err)
	TF_NONNULL(1, 2, 3);
/* Key id as 16 hex digits (17 bytes with the NUL) for messages. */
TF_EXPORT void tf_pkg_keyid_hex(const uint8_t id[static TF_PKG_KEYID_BYTES],
				char hex[static 17]);

/* ---- verifying a package (device side, unprivileged helper) ---- */
struct tf_pkg;
/*
 * Verify the package in fd (read with pread only; the file offset is not
 * used) against the persona's trust, for the device's suite. On success
 * *out holds the parsed manifest and the payload's place. Refusals:
 * -EBADMSG (malformed, tampered, hash mismatch), -EKEYREJECTED (no
 * trusted signer), -EPROTONOSUPPORT (another suite or format), -EFBIG
 * (a bound), -EIO. err->reason says which.
 */
TF_EXPORT TF_WUR int tf_pkg_open(int fd, const struct tf_pkg_trust *trust,
				 const struct tf_suite *suite,
				 struct tf_pkg **out, struct tf_pkg_err *err)
	TF_NONNULL(2, 3, 4);
TF_EXPORT void tf_pkg_free(struct tf_pkg *p);
static inline void tf_pkg_freep(struct tf_pkg **p)
{
	tf_pkg_free(*p);
	*p = NULL;
}
#define _cleanup_pkg_ _cleanup_(tf_pkg_freep)
TF_EXPORT const struct tf_pkg_manifest *tf_pkg_manifest(const struct tf_pkg *p);
TF_EXPORT const struct tf_pkg_header *tf_pkg_header(const struct tf_pkg *p);
/* the erofs image: bytes [offset, offset + length) of the file */
TF_EXPORT uint64_t tf_pkg_payload_offset(const struct tf_pkg *p);
TF_EXPORT uint64_t tf_pkg_payload_length(const struct tf_pkg *p);
/* the payload hash as computed while reading (equals the manifest's) */
TF_EXPORT const uint8_t *tf_pkg_payload_hash(const struct tf_pkg *p);
/* index into trust of the key whose signature verified */
TF_EXPORT unsigned tf_pkg_signer(const struct tf_pkg *p);
/* the suite's hash of header || manifest: names this exact build */
TF_EXPORT const uint8_t *tf_pkg_digest(const struct tf_pkg *p);

/* ---- building (organisation side) ---- */
/*
 * Write a package to out_fd (at its current position, sequentially):
 * hashes the erofs image in image_fd (read from offset 0 to its size),
 * sets m->payload_hash, signs header || manifest with every key (1..4,
 * all of one suite). The same inputs give the same bytes (Ed25519 is
 * deterministic; SM2 signatures are not, so gm packages differ in their
 * slots only).
 */
TF_EXPORT TF_WUR int tf_pkg_build(int out_fd, struct tf_pkg_manifest *m,
				  int image_fd, struct tf_key *const *keys,
				  size_t n_keys, struct tf_pkg_err *err)
	TF_NONNULL(2, 4);

/* Signing key files: "TFPKGSK1" | u8 suite | 3 zero | 32-byte seed (the
 * key is tf_key_sign_from_seed of it), mode 0600, written atomically;
 * O_EXCL: an existing file is never replaced (-EEXIST). */
#define TF_PKG_KEYFILE_BYTES 44
TF_EXPORT TF_WUR int tf_pkg_key_generate(const struct tf_suite *s,
					 const char *path, struct tf_key **out)
	TF_NONNULL(1, 2);
TF_EXPORT TF_WUR int tf_pkg_key_load(const char *path, struct tf_key **out,
				     struct tf_pkg_err *err) TF_NONNULL(1, 2);

/* Standard base64 (with padding) of len bytes; cap >= 4*ceil(len/3)+1. */
TF_EXPORT TF_WUR int tf_pkg_b64_encode(const uint8_t *in, size_t len, char *out,
				       size_t cap);
/* -EINVAL on bad characters or padding; *outlen gets the byte count. */
TF_EXPORT TF_WUR int tf_pkg_b64_decode(const char *in, size_t inlen,
				       uint8_t *out, size_t cap,
				       size_t *outlen);

/* ---- catalog ---- */
#define TF_CAT_MAGIC "TFACAT1"
#define TF_CAT_FORMAT 1
#define TF_CAT_HDR_BYTES 32
#define TF_CAT_BODY_MAX (256u << 10)
#define TF_CAT_ENTRIES_MAX 1024

struct tf_catalog_entry {
	char name[TF_PKG_NAME_MAX + 1];
	uint64_t min_code, max_code; /* inclusive */
	bool any_hash;		     /* "*": any build the signer signed */
	uint8_t hash[TF_HASH_BYTES]; /* else: exactly this payload */
	uint32_t personas;	     /* TF_PKG_PERSONA_* */
};

struct tf_catalog {
	uint64_t seq;	 /* strictly increasing per organisation */
	int64_t expires; /* UTC seconds; refused at or after it */
	uint8_t suite;
	uint8_t digest[TF_HASH_BYTES]; /* hash of header || body */
	size_t n;
	struct tf_catalog_entry *entries;
};

/* The body text: "seq = N", "expires = YYYY-MM-DDTHH:MM:SSZ", then
 * "app = NAME MIN MAX HASH|* PERSONAS" lines (fuzzed). */
TF_EXPORT TF_WUR int tf_catalog_parse_body(const char *text, size_t len,
					   struct tf_catalog **out,
					   struct tf_pkg_err *err)
	TF_NONNULL(3);
/* Verify a whole catalog file (read into memory: it is bounded). */
TF_EXPORT TF_WUR int tf_catalog_verify(const uint8_t *buf, size_t len,
				       const struct tf_pkg_trust *trust,
				       const struct tf_suite *suite,
				       struct tf_catalog **out,
				       struct tf_pkg_err *err)
	TF_NONNULL(3, 4, 5);
/* Read (bounded) and verify the catalog in fd. */
TF_EXPORT TF_WUR int tf_catalog_load(int fd, const struct tf_pkg_trust *trust,
				     const struct tf_suite *suite,
				     struct tf_catalog **out,
				     struct tf_pkg_err *err)
	TF_NONNULL(2, 3, 4);
/* Sign body (which must parse) into a catalog file on out_fd. */
TF_EXPORT TF_WUR int tf_catalog_build(int out_fd, const char *body, size_t len,
				      struct tf_key *const *keys, size_t n_keys,
				      struct tf_pkg_err *err) TF_NONNULL(2, 4);
TF_EXPORT void tf_catalog_free(struct tf_catalog *c);
static inline void tf_catalog_freep(struct tf_catalog **c)
{
	tf_catalog_free(*c);
	*c = NULL;
}
#define _cleanup_catalog_ _cleanup_(tf_catalog_freep)

/* "2027-01-31T00:00:00Z" <-> UTC seconds (also "2027-01-31"). */
TF_EXPORT TF_WUR int tf_catalog_parse_time(const char *s, int64_t *out);
TF_EXPORT void tf_catalog_format_time(int64_t t, char buf[static 21]);

/* ---- rules (pure functions) ---- */
/* An update: same name, version code strictly above the installed one.
 * -ESTALE (TF_R_PKG_ROLLBACK) otherwise, -EINVAL for another name. */
TF_EXPORT TF_WUR int tf_pkg_check_update(const struct tf_pkg_manifest *inst,
					 const struct tf_pkg_manifest *cand,
					 struct tf_pkg_err *err)
	TF_NONNULL(1, 2);
/* A new catalog replacing the one last accepted (old_seq; old_digest NULL
 * if none was): seq below old_seq -ESTALE; seq equal but other bytes
 * -ESTALE (a fork); expired at now -EKEYEXPIRED. */
TF_EXPORT TF_WUR int tf_catalog_check(uint64_t old_seq,
				      const uint8_t *old_digest,
				      const struct tf_catalog *cand,
				      int64_t now, struct tf_pkg_err *err)
	TF_NONNULL(3);
/* May this package be installed into (or keep running in) persona (one
 * TF_PKG_PERSONA_* bit)? 0, or -EPERM with the reason: not listed,
 * version outside the range, another build (hash), not for this persona,
 * or the catalog expired at now (-EKEYEXPIRED). */
TF_EXPORT TF_WUR int tf_catalog_allows(const struct tf_catalog *c,
				       const struct tf_pkg_manifest *m,
				       const uint8_t *payload_hash,
				       uint32_t persona, int64_t now,
				       struct tf_pkg_err *err) TF_NONNULL(1, 2);
/* The manifest's package personas must include persona (-EPERM). */
TF_EXPORT TF_WUR int tf_pkg_check_persona(const struct tf_pkg_manifest *m,
					  uint32_t persona,
					  struct tf_pkg_err *err) TF_NONNULL(1);
/* "personal" / "secure" -> bit, 0 if neither */
TF_EXPORT uint32_t tf_pkg_persona_by_name(const char *name);

#endif
