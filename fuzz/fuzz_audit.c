/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the audit log parser (src/lib/audit/format.c), which
 * `twofold audit show` and the verifier run over a file anyone with root
 * may have edited. Invariants: a parsed record never claims more bytes
 * than it was given, and encoding its decoded fields again gives exactly
 * its bytes (nothing in a record is outside what the parser checked). The
 * audit.key and audit.verify parsers get the same input.
 */
#include <stdlib.h>
#include <string.h>

#include "src/lib/audit/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tf_audit_rec rec;
	static uint8_t out[4 + TF_AUDIT_BODY_MAX];
	struct tf_audit_kv kv[TF_AUDIT_FIELDS_MAX];
	struct tf_audit_keystate ks;
	uint8_t sid, k0[32], pk[65];
	size_t off = 0, used, len, pkl = sizeof(pk);

	if (tf_audit_keystate_parse(data, size, &ks) == 0 &&
	    ks.offset == UINT64_MAX - 1)
		return 0; /* only to use the result */
	if (tf_audit_verify_file_parse(data, size, &sid, k0, pk, &pkl) == 0 &&
	    pkl > sizeof(pk))
		abort();
	if (tf_audit_header_parse(data, size, &sid) == 0)
		off = TF_AUDIT_HDR_BYTES;
	while (off < size &&
	       tf_audit_parse(data + off, size - off, &rec, &used) == 0) {
		struct tf_audit_meta m = {.kind = rec.kind,
					  .epoch = rec.epoch,
					  .seq = rec.seq,
					  .realtime_ns = rec.realtime_ns,
					  .boottime_ns = rec.boottime_ns};
		struct tf_audit_event ev = {
			.type = rec.type,
			.persona = rec.persona[0] ? rec.persona : NULL,
			.uid = rec.uid,
			.pid = rec.pid,
			.n_fields = rec.n_fields,
			.fields = kv};

		if (used > size - off || rec.raw != data + off ||
		    rec.raw_len + TF_AUDIT_TRAILER != used)
			abort();
		memcpy(m.boot_id, rec.boot_id, 16);
		for (size_t i = 0; i < rec.n_fields; i++) {
			kv[i].key = rec.fields[i].key;
			kv[i].value = rec.fields[i].value;
		}
		if (tf_audit_encode(&m, &ev, out, sizeof(out), &len) < 0 ||
		    len != rec.raw_len || memcmp(out, rec.raw, len) != 0)
			abort();
		off += used;
	}
	return 0;
}
