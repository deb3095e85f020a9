/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-comms' parsers of the relay's talk-group replies
 * and of the authority's key message (src/comms/wire.c, which ptt.c
 * calls: ROSTER pieces, STATE, FLOOR, FRAME) and the frame opening with
 * the previous epoch's grace key. Input: u8 selector | payload; the
 * selector picks the parser (and, for a frame, the suite). Invariants: no
 * read outside the input; on success every name is a valid officer id,
 * every pointer and length handed back lies inside the input, a roster
 * piece fits its total, and a frame under keys the input cannot know
 * never opens. Selectors 0xf0, 0xf1 and 0xf2: an address (u8 n |
 * officer[/device]), a DEVICES reply and an ERROR body with the request
 * it names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	if (p < data || p > data + size || n > (size_t)(data + size - p))
		abort();
}

static void name_ok(const char *n, bool may_be_empty)
{
	if (!(may_be_empty && n[0] == '\0') && !comms_officer_ok(n))
		abort();
}

static void frame(const uint8_t *p, size_t n, unsigned sel)
{
	static const uint8_t s2[TF_GROUP_SECRET_BYTES] = {2},
			     s3[TF_GROUP_SECRET_BYTES] = {3};
	const struct tf_suite *s = tf_suite_at(sel & 1);
	struct ptt_grace g = {0};
	uint8_t pt[2048];
	uint64_t ctr;
	int m;

	if (s == NULL || ptt_grace_keep(&g, 2, s2, 0) < 0)
		return;
	m = ptt_open_frame(s, "north", 3, s3, &g, p, n, sel & 2 ? 0 : 5000, pt,
			   sizeof(pt), &ctr);
	/* the keys are not in the input: a forgery opens nothing */
	if (m >= 0 || (m != -ENOKEY && m != -EBADMSG && m != -EAGAIN))
		abort();
	ptt_grace_wipe(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	const uint8_t *p = data + 1;
	size_t n;

	if (!init) {
		if (tf_crypto_init() < 0)
			abort();
		init = true;
	}
	if (size < 1)
		return 0;
	n = size - 1;
	/* 0xf0, 0xf1: the addresses of several devices per officer (the
	 * older selectors keep their meaning for the corpus) */
	if (data[0] == 0xf0) {
		char a[TF_COMMS_ADDR_MAX + 1], o[TF_CERT_ID_MAX + 1],
			d[TF_CERT_ID_MAX + 1];
		size_t u = comms_get_addr(p, n, a);
		if (u != 0) {
			if (u > n || !comms_addr_split(a, o, d))
				abort();
			name_ok(o, false);
			name_ok(d, true);
			if (strlen(o) + (d[0] ? 1 + strlen(d) : 0) != strlen(a))
				abort();
		}
		return 0;
	}
	if (data[0] == 0xf1) {
		struct comms_devices v;
		if (comms_parse_devices(p, n, &v) == 0) {
			name_ok(v.officer, false);
			if (v.count == 0 || v.count > TF_COMMS_DEVICES_MAX)
				abort();
			for (size_t i = 0; i < v.count; i++) {
				name_ok(v.dev[i], false);
				if (i && strcmp(v.dev[i - 1], v.dev[i]) >= 0)
					abort();
			}
		}
		return 0;
	}
	if (data[0] == 0xf2) {
		struct comms_error e;
		if (comms_parse_error(p, n, &e) == 0) {
			inside(e.text, e.textlen, data, size);
			if (memchr(e.text, 0, e.textlen) != NULL ||
			    e.has_id != (e.op == 0x02) ||
			    (e.op != 0 && !comms_addr_ok(e.name)) ||
			    (e.op == 0 && e.textlen != n - 1))
				abort();
		}
		return 0;
	}
	switch (data[0] % 6) {
	case 0: {
		struct ptt_piece v;
		if (ptt_parse_piece(p, n, &v) == 0) {
			name_ok(v.group, false);
			inside(v.data, v.len, data, size);
			if (v.total == 0 || v.total > TF_ROSTER_WIRE_MAX ||
			    v.off + v.len > v.total)
				abort();
		}
		break;
	}
	case 1: {
		struct ptt_state v;
		if (ptt_parse_state(p, n, &v) == 0) {
			name_ok(v.group, false);
			name_ok(v.talker, true);
		}
		break;
	}
	case 2: {
		struct ptt_floor v;
		if (ptt_parse_floor(p, n, &v) == 0) {
			name_ok(v.group, false);
			name_ok(v.who, true);
		}
		break;
	}
	case 3: {
		struct ptt_frame v;
		if (ptt_parse_frame(p, n, &v) == 0) {
			name_ok(v.group, false);
			name_ok(v.who, false);
			inside(v.sf, v.sflen, data, size);
			frame(v.sf, v.sflen, data[0] / 6);
		}
		break;
	}
	case 4: {
		struct ptt_keymsg v;
		uint8_t sec[TF_GROUP_SECRET_BYTES];
		int r = ptt_parse_keymsg((const char *)p, n, &v, sec);
		if (r == 0) {
			name_ok(v.group, false);
			if (v.epoch == 0 || v.epoch > TF_GROUP_EPOCH_MAX)
				abort();
		} else if (r != -ENOENT && r != -EBADMSG) {
			abort();
		}
		break;
	}
	default: frame(p, n, data[0] / 6); break;
	}
	return 0;
}
