/* SPDX-License-Identifier: ISC */
/*
 * The audit log (docs/audit.md): <state>/audit.log, append-only,
 * length-prefixed binary records, each hash-chained in the device's suite
 * and MAC'd under a forward-secure key K_i that advances at every signed
 * checkpoint (K_{i+1} = KDF(K_i, "advance"), K_i wiped), as systemd's
 * journal sealing does: whoever takes the device later cannot forge,
 * edit, remove or truncate the records before the last checkpoint without
 * `twofold audit verify` saying so.
 *
 * Two halves:
 *   - the record format and its parser (format.c): crypto-free, in tf_base,
 *     so the CLI's `audit show` reads the log itself; untrusted input,
 *     bounded and fuzzed (fuzz/fuzz_audit.c)
 *   - the writer and the verifier (writer.c, verify.c): tf_core
 */
#ifndef TWOFOLD_AUDIT_H
#define TWOFOLD_AUDIT_H

#include "twofold/common.h"

struct tf_suite;
struct tf_audit;

#define TF_AUDIT_LOG "audit.log"       /* the records */
#define TF_AUDIT_KEY "audit.key"       /* K_i and the last checkpoint */
#define TF_AUDIT_VERIFY "audit.verify" /* K_0 + public key, for verifiers */

/* ---- bounds (every one enforced by the parser) ---- */
#define TF_AUDIT_BODY_MAX 2048 /* bytes of one record body */
#define TF_AUDIT_TYPE_MAX 48   /* event type id: [a-z0-9._] */
#define TF_AUDIT_PERSONA_MAX 32
#define TF_AUDIT_KEY_MAX 32    /* field key: [a-z0-9_] */
#define TF_AUDIT_VALUE_MAX 512 /* field value: printable ASCII */
#define TF_AUDIT_FIELDS_MAX 16
#define TF_AUDIT_HDR_BYTES 8 /* "TFAL" | u8 version | u8 suite | u16 0 */
#define TF_AUDIT_TRAILER 64  /* chain[32] | mac[32] after each body */
#define TF_AUDIT_NO_UID 0xffffffffu

enum tf_audit_kind {
	TF_AUDIT_EVENT = 0,
	TF_AUDIT_CHECKPOINT = 1,
};

/* ---- one decoded record ---- */
struct tf_audit_field {
	char key[TF_AUDIT_KEY_MAX + 1];
	char value[TF_AUDIT_VALUE_MAX + 1];
};

struct tf_audit_rec {
	uint8_t kind; /* enum tf_audit_kind */
	uint32_t epoch;
	uint64_t seq;
	uint64_t realtime_ns; /* CLOCK_REALTIME */
	uint64_t boottime_ns; /* CLOCK_BOOTTIME */
	uint8_t boot_id[16];
	uint32_t uid; /* TF_AUDIT_NO_UID: no caller */
	uint32_t pid; /* 0: no caller */
	char type[TF_AUDIT_TYPE_MAX + 1];
	char persona[TF_AUDIT_PERSONA_MAX + 1]; /* "" none */
	size_t n_fields;
	struct tf_audit_field fields[TF_AUDIT_FIELDS_MAX];
	/* where it lies in the parsed buffer: the length prefix and body
	 * (what the chain hash covers), then the stored chain and MAC */
	const uint8_t *raw;
	size_t raw_len;
	const uint8_t *chain, *mac;
};

/* Parse one record at buf: 0 and *consumed (length prefix + body +
 * trailer); -EAGAIN when buf ends inside it (a torn tail once the file
 * ends there); -EBADMSG malformed (any bound broken, bad characters, bytes
 * left over in the body). Never reads outside buf. */
TF_EXPORT TF_WUR int tf_audit_parse(const uint8_t *buf, size_t len,
				    struct tf_audit_rec *rec, size_t *consumed)
	TF_NONNULL(1, 3, 4);
/* The file header: 0 and *suite_id; -EAGAIN short; -EBADMSG not an audit
 * log; -EPROTONOSUPPORT a newer format version. */
TF_EXPORT TF_WUR int tf_audit_header_parse(const uint8_t *buf, size_t len,
					   uint8_t *suite_id) TF_NONNULL(1, 3);
/* The value of field key, or NULL. */
TF_EXPORT const char *tf_audit_field(const struct tf_audit_rec *rec,
				     const char *key) TF_NONNULL(1, 2);

/* Sequential reader over an audit.log fd (bounded buffer). */
struct tf_audit_reader {
	int fd;
	uint8_t buf[2 * (4 + TF_AUDIT_BODY_MAX + TF_AUDIT_TRAILER)];
	size_t have, pos;
	uint64_t offset; /* file offset of buf[pos] */
	bool eof;
	uint8_t suite_id;
};
/* Reads the header. -EBADMSG/-EPROTONOSUPPORT as tf_audit_header_parse;
 * -ENODATA an empty file. */
TF_EXPORT TF_WUR int tf_audit_reader_init(struct tf_audit_reader *rd, int fd)
	TF_NONNULL(1);
/* 1 and the next record (rec->raw valid until the next call), 0 at a
 * clean end, -EAGAIN a torn tail (*torn gets its bytes), -EBADMSG a
 * malformed record at rd->offset, -errno a read error. */
TF_EXPORT TF_WUR int tf_audit_reader_next(struct tf_audit_reader *rd,
					  struct tf_audit_rec *rec,
					  uint64_t *torn) TF_NONNULL(1, 2, 3);

/* ---- writing (twofoldd) ---- */

/* One event. Strings are copied into the record with every byte outside
 * printable ASCII replaced by '?' and cut at their bound (the log never
 * carries a terminal escape or a NUL). Never a secret in here. */
struct tf_audit_kv {
	const char *key;
	const char *value;
};
struct tf_audit_event {
	const char *type;    /* stable id, e.g. "unlock.failed" */
	const char *persona; /* NULL: none */
	uint32_t uid;	     /* TF_AUDIT_NO_UID: no caller */
	uint32_t pid;	     /* 0: no caller */
	size_t n_fields;
	const struct tf_audit_kv *fields;
};

/* tf_audit_append flags */
#define TF_AUDIT_SYNC 1u /* write + fdatasync before returning */

struct tf_audit_opts {
	uint32_t checkpoint_records; /* 0: 64 */
	uint32_t checkpoint_seconds; /* 0: 60 */
};

/* Open or create <state>/audit.log for appending. sign_seed is the seed
 * of the per-device checkpoint signing key (twofoldd derives it from the
 * device secret: tf_keystore_audit_seed). A new log writes audit.verify
 * (K_0 and the public key, 0600) for the organisation to copy off. A torn
 * tail (a crash mid-append) or a bad record after the last checkpoint is
 * replaced by a "log.recovered" record naming the bytes dropped.
 * why gets one line on failure:
 *   -EBADMSG   audit.log or audit.key damaged, or the log ends before the
 *              last checkpoint audit.key names (truncated: tampering?)
 *   -EPROTO    audit.log/audit.key belong to another suite or device key */
TF_EXPORT TF_WUR int tf_audit_open(int statefd, const struct tf_suite *s,
				   const uint8_t sign_seed[static 32],
				   const struct tf_audit_opts *o,
				   struct tf_audit **out, char *why,
				   size_t whylen) TF_NONNULL(2, 3, 5);
/* Append one record. -ENOSPC (disk full), -EIO...; the record is then not
 * in the log (a partial write is cut off again). Checkpoints when the
 * record count or the time since the last one says so. */
TF_EXPORT TF_WUR int tf_audit_append(struct tf_audit *a,
				     const struct tf_audit_event *ev,
				     unsigned flags) TF_NONNULL(1, 2);
/* A signed checkpoint now (if any record came since the last), then
 * K_{i+1}; synced. */
TF_EXPORT TF_WUR int tf_audit_checkpoint(struct tf_audit *a) TF_NONNULL(1);
/* From a 1 s timer: checkpoint if checkpoint_seconds have passed. */
TF_EXPORT TF_WUR int tf_audit_tick(struct tf_audit *a) TF_NONNULL(1);
/* The last append's error (0: fine) and how many appends failed. */
TF_EXPORT int tf_audit_last_error(const struct tf_audit *a, uint64_t *failed);
TF_EXPORT uint64_t tf_audit_next_seq(const struct tf_audit *a);
/* Checkpoint (a clean shutdown), wipe the key, close. NULL is fine. */
TF_EXPORT void tf_audit_close(struct tf_audit *a);

/* ---- verifying (twofoldd --audit-verify, tests) ---- */

struct tf_audit_verify_result {
	uint64_t records;
	uint64_t checkpoints;
	uint64_t last_checkpoint_seq;
	uint64_t last_checkpoint_realtime_ns;
	bool have_key;	     /* MACs checked (K_0 was given) */
	bool have_state;     /* audit.key was read (truncation check) */
	uint64_t bad_record; /* seq of the first bad record */
	char why[256];	     /* on failure: "record 57: ..." */
};

/* Verify the log in statefd (audit.log; audit.key when present). k0/pk:
 * the verification file's content (tf_audit_verify_file_parse), or NULL
 * (no MAC checks; signatures against the public key the log names).
 * 0 verified; -EBADMSG a bad record, torn tail or truncation (res->why says
 * which, naming the record); other -errno when it could not be read. */
TF_EXPORT TF_WUR int tf_audit_verify(int statefd, const uint8_t *k0,
				     const uint8_t *pk, size_t pklen,
				     struct tf_audit_verify_result *res)
	TF_NONNULL(5);
/* audit.verify: "TFAV" | u8 1 | u8 suite | u8 pklen | u8 0 | K_0[32] | pk.
 * -EBADMSG malformed. */
#define TF_AUDIT_VERIFY_MAX (8 + 32 + 65)
TF_EXPORT TF_WUR int
tf_audit_verify_file_parse(const uint8_t *buf, size_t len, uint8_t *suite_id,
			   uint8_t k0[static 32], uint8_t *pk, size_t *pklen)
	TF_NONNULL(1, 3, 4, 5, 6);

#endif
