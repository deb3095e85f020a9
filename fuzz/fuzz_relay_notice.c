/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: what a relay reads from another relay over NATS
 * (src/relay/notice.c): the subject a notice came on and the notice.
 * Input: the subject, a NUL byte, then the notice. An accepted subject
 * names a well-formed address whose subject is the input again; an
 * accepted notice's plaintext lies inside the input, and a version 1
 * notice is the one relay_notice_build makes for that address.
 */
#include <stdlib.h>
#include <string.h>

#include "src/relay/notice.h"
#include "src/relay/req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size), *pt;
	char subj[RELAY_SUBJ_MAX + 8], addr[TF_COMMS_ADDR_MAX + 1];
	char again[RELAY_SUBJ_MAX], o[TF_CERT_ID_MAX + 1],
		d[TF_CERT_ID_MAX + 1];
	uint8_t out[2 + TF_COMMS_ADDR_MAX + TF_COMMS_PAYLOAD_MAX];
	size_t sl, ptlen;
	int n;

	if (nul == NULL || (sl = (size_t)(nul - data)) >= sizeof(subj))
		return 0;
	memcpy(subj, data, sl);
	subj[sl] = '\0';
	data += sl + 1;
	size -= sl + 1;
	if (relay_subject_addr(subj, addr) == 0) {
		if (relay_addr_split(addr, o, d) < 0 ||
		    relay_subject(addr, again) < 0 || strcmp(again, subj) != 0)
			abort();
	}
	if (relay_notice_parse(subj, data, size, addr, &pt, &ptlen) < 0)
		return 0;
	if (pt < data || ptlen == 0 || ptlen > size ||
	    (size_t)(pt - data) > size - ptlen || ptlen > TF_COMMS_PAYLOAD_MAX)
		abort();
	if (data[0] == RELAY_NOTICE_V1) {
		n = relay_notice_build(addr, pt, ptlen, out, sizeof(out));
		if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
			abort();
	}
	return 0;
}
