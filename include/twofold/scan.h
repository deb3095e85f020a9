/* SPDX-License-Identifier: ISC */
/*
 * Malware scanning at the boundary (issue 13 item 6, docs/scanning.md).
 *
 * Two halves:
 *  - the signed database bundle (.tfdb, src/lib/scan/bundle.c): the
 *    organisation packs its ClamAV signature files (.ndb/.hdb/.ldb/.cvd...)
 *    with `twofold pkg scandb`; the device accepts only a bundle signed by
 *    the key that device.conf `scan_trust` names. Parsing needs no crypto
 *    (fuzzed: fuzz/fuzz_scandb.c); verifying and unpacking do.
 *  - the engine (src/lib/scan/engine.c): libclamav with bounded limits,
 *    a verdict with the signature name. It runs only in the unprivileged
 *    scanner helper (twofold-scanner), never in twofoldd.
 *
 * Bundle layout (little endian), TF_SCANDB_HDR_BYTES header:
 *   0  magic "TFSCDB1\0"
 *   8  u8 version (1) | u8 suite id | u16 file count (1..TF_SCANDB_FILES_MAX)
 *   12 u16 signature length (1..TF_SIG_MAX) | u16 reserved (0)
 *   16 u64 body length (<= TF_SCANDB_BODY_MAX)
 *   24 u64 created (UTC seconds; informational)
 *   32 body: per file  u16 name length | u16 0 | u32 0 | u64 size | name | data
 *   then the signature, then end of file (nothing may follow).
 * The signature is tf_sign over header (32 bytes) || tf_hash(body), so the
 * suite id, the count and every length are signed along with the files.
 */
#ifndef TWOFOLD_SCAN_H
#define TWOFOLD_SCAN_H

#include "twofold/common.h"

#define TF_SCANDB_MAGIC "TFSCDB1"
#define TF_SCANDB_VERSION 1
#define TF_SCANDB_HDR_BYTES 32
#define TF_SCANDB_FILES_MAX 64
#define TF_SCANDB_NAME_MAX 64
#define TF_SCANDB_ENTRY_HDR 16
#define TF_SCANDB_BODY_MAX (UINT64_C(1) << 30) /* 1 GiB: main.cvd is ~170 MB */

struct tf_scandb_file {
	char name[TF_SCANDB_NAME_MAX + 1];
	const uint8_t *data; /* points into the parsed buffer */
	uint64_t size;
};

/* A parsed (not yet verified) bundle; points into the caller's buffer. */
struct tf_scandb {
	uint8_t suite_id;
	uint64_t created;
	size_t n_files;
	struct tf_scandb_file files[TF_SCANDB_FILES_MAX];
	const uint8_t *hdr; /* TF_SCANDB_HDR_BYTES */
	const uint8_t *body;
	uint64_t body_len;
	const uint8_t *sig;
	size_t sig_len;
};

/* A file name a bundle may carry: [A-Za-z0-9][A-Za-z0-9._-]*, at most
 * TF_SCANDB_NAME_MAX bytes, ending in one of ClamAV's database extensions
 * (.ndb .hdb .hsb .mdb .msb .ldb .cvd .cld .cud .fp .sfp .ign2 .ftm .cdb
 * .idb .pdb .wdb .yar .yara). No '/', so unpacking cannot leave its dir. */
TF_EXPORT bool tf_scandb_name_ok(const char *name) TF_NONNULL(1);

/* Parse and bound-check a whole bundle (no crypto). -EBADMSG malformed
 * (why says which field), -EMSGSIZE over a bound, -EPROTONOSUPPORT another
 * version. Output written only on success. */
TF_EXPORT TF_WUR int tf_scandb_parse(const uint8_t *buf, size_t len,
				     struct tf_scandb *out, char *why,
				     size_t whylen) TF_NONNULL(3);

/* The scanner helper's wire (twofoldd <-> twofold-scanner, a SOCK_SEQPACKET
 * socketpair; both ends are this build, so a fixed struct). Request: the
 * byte 'S', optionally followed by a u32 tag (host order), with the file
 * as the one SCM_RIGHTS fd (read-only). Reply: this struct, with the
 * request's tag (0 without one). The helper scans TF_SCAN_THREADS files
 * at once, so with several requests in flight the replies may come in
 * any order: the tag says which file each is for. The first reply,
 * unasked, says whether the database loaded. */
#define TF_SCAN_THREADS 2
struct tf_scan_wire {
	int32_t err;	 /* 0, or -errno: the scan (or the load) failed */
	uint32_t result; /* enum tf_scan_result */
	uint64_t scanned;
	uint32_t n_sigs; /* the first reply: signatures loaded */
	char name[128];	 /* the signature, or the limit */
	char why[256];	 /* err < 0: one line */
	uint32_t tag;	 /* the request's */
	/* 1: clean from the helper's cache of files it found clean, by the
	 * suite's hash and size (never MD5), without a new scan */
	uint32_t cached;
};

struct tf_suite;
struct tf_key;

/* Verify a parsed bundle: its suite must be s (-EPROTONOSUPPORT otherwise,
 * why names both), and its signature must be by one of the n_pk trusted
 * public keys (s->pk_bytes each; -EKEYREJECTED otherwise). */
TF_EXPORT TF_WUR int tf_scandb_verify(const struct tf_scandb *db,
				      const struct tf_suite *s,
				      const uint8_t *const *pks, size_t n_pk,
				      char *why, size_t whylen)
	TF_NONNULL(1, 2);

/* Write each file of a verified bundle into dirfd (new files, 0600,
 * O_EXCL|O_NOFOLLOW: an existing name is -EEXIST). */
TF_EXPORT TF_WUR int tf_scandb_unpack(const struct tf_scandb *db, int dirfd)
	TF_NONNULL(1);

/* Pack every database file of dirfd (names that pass tf_scandb_name_ok;
 * anything else but "." / ".." is refused with -EINVAL naming it in why;
 * sorted, so the same tree and key give the same bytes apart from
 * `created`) into a bundle signed by sk, written to out_fd. */
TF_EXPORT TF_WUR int tf_scandb_pack(const struct tf_key *sk, int dirfd,
				    uint64_t created, int out_fd, char *why,
				    size_t whylen) TF_NONNULL(1);

/* ---- the engine (libclamav; only in the scanner helper) ---- */
struct tf_scan_limits {
	uint64_t max_file;  /* a larger file is refused, never skipped */
	uint64_t max_scan;  /* bytes scanned in all (archives expand) */
	uint32_t max_depth; /* archive recursion */
	uint32_t max_files; /* files inside one archive */
	uint32_t max_ms;    /* scan time of one file */
};
#define TF_SCAN_LIMITS_DEFAULT                                                 \
	{                                                                      \
		.max_file = UINT64_C(256) << 20,                               \
		.max_scan = UINT64_C(1) << 30, .max_depth = 16,                \
		.max_files = 10000, .max_ms = 120000                           \
	}

enum tf_scan_result {
	TF_SCAN_CLEAN = 0,
	TF_SCAN_INFECTED = 1, /* name: the signature */
	/* a limit was reached (size, depth, time): refused, because what was
	 * not scanned is not known to be clean; name says which */
	TF_SCAN_LIMIT = 2,
};

struct tf_scan_verdict {
	enum tf_scan_result result;
	char name[128];
	uint64_t scanned; /* bytes */
};

struct tf_scan_engine;

/* Load every database file of dir (libclamav's cl_load, standard options)
 * and compile the engine; tmpdir is where libclamav unpacks archives (the
 * helper's private dir). -ENOENT: dir holds no signature (an empty engine
 * would pass everything). n_sigs (optional): signatures loaded. */
TF_EXPORT TF_WUR int tf_scan_engine_load(const char *dir, const char *tmpdir,
					 const struct tf_scan_limits *lim,
					 struct tf_scan_engine **out,
					 unsigned *n_sigs, char *why,
					 size_t whylen) TF_NONNULL(1, 2, 3, 4);
TF_EXPORT void tf_scan_engine_free(struct tf_scan_engine *e);

/* Scan an open regular file (read from offset 0 by libclamav). 0 with a
 * verdict, or -errno when the scan itself failed (why says how). */
TF_EXPORT TF_WUR int tf_scan_fd(struct tf_scan_engine *e, int fd,
				struct tf_scan_verdict *v, char *why,
				size_t whylen) TF_NONNULL(1, 3);

#endif
