/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the package header and manifest parsers (twofold/pkg.h).
 * The first 64 bytes go to tf_pkg_header_parse, the rest to the strict
 * and the source manifest parsers. Invariants: whatever parses strictly
 * formats back to the same bytes; whatever parses as source formats to a
 * manifest that parses strictly (after a payload hash is set).
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tf_pkg_manifest m, back;
	static char text[TF_PKG_MANIFEST_MAX];
	struct tf_pkg_header h;
	struct tf_pkg_err e;
	size_t len;

	if (tf_pkg_header_parse(data, size, &h, &e) == 0 &&
	    (h.n_slots == 0 || h.n_slots > TF_PKG_SLOTS_MAX ||
	     h.manifest_len > TF_PKG_MANIFEST_MAX ||
	     h.payload_len > TF_PKG_PAYLOAD_MAX ||
	     h.payload_offset % TF_PKG_ALIGN))
		abort();
	if (size < TF_PKG_HDR_BYTES)
		return 0;
	data += TF_PKG_HDR_BYTES;
	size -= TF_PKG_HDR_BYTES;
	if (tf_pkg_manifest_parse((const char *)data, size, 0, &m, &e) == 0) {
		if (tf_pkg_manifest_format(&m, text, sizeof(text), &len) < 0 ||
		    len != size || memcmp(text, data, size) != 0)
			abort();
	}
	if (tf_pkg_manifest_parse((const char *)data, size, TF_PKG_MF_SOURCE,
				  &m, &e) == 0) {
		m.has_payload_hash = true;
		if (tf_pkg_manifest_format(&m, text, sizeof(text), &len) < 0)
			return 0; /* a source manifest near the bound */
		if (tf_pkg_manifest_parse(text, len, 0, &back, &e) < 0)
			abort();
		if (strcmp(m.name, back.name) != 0 ||
		    m.version_code != back.version_code ||
		    m.permissions != back.permissions ||
		    m.n_entries != back.n_entries)
			abort();
	}
	return 0;
}
