/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the tunnel data path's packet parsers (src/lib/tunnel/
 * pkt.c). They read packets an adversary shapes: the gateway parses what a
 * device decrypted (tf_pkt_addrs, its allowed-ips check), the device
 * coalesces what the gateway sent (tf_gro_add), and both answer packets
 * from their TUN (tf_pkt_unreachable) or segment TSO reads (tf_pkt_segment,
 * whose vnet header the kernel writes; fuzzed too, as a bug guard).
 *
 * Input: byte 0 picks the parser; for segment, the next 10 bytes are the
 * virtio_net_hdr; for GRO, the rest is cut into packets by a 2-byte
 * length prefix each. Invariants (ASan/UBSan): no crash, no overread, and
 * every emitted packet or coalesced buffer within its bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "src/lib/tunnel/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t emitted;

static int emit(void *ctx, uint8_t *pkt, size_t len)
{
	(void)ctx;
	if (len > TF_PKT_MAX)
		abort();
	if (len) /* touch every byte: ASan sees an overread */
		emitted += pkt[0] + pkt[len - 1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[TF_PKT_MAX], scratch[TF_PKT_MAX], out[1500];
	static struct tf_gro g;
	struct tf_pkt_addrs a;

	if (size < 1 || size - 1 > TF_PKT_MAX)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	switch (data[0] % 4) {
	case 0:
		if (tf_pkt_addrs(p, n, &a) == 0 && a.iplen > n)
			abort();
		break;
	case 1: {
		size_t r = tf_pkt_unreachable(p, n, out, sizeof(out));
		if (r > sizeof(out))
			abort();
		break;
	}
	case 2: {
		struct virtio_net_hdr vh;
		if (n < sizeof(vh))
			return 0;
		memcpy(&vh, p, sizeof(vh));
		/* the segmenter works in place: a private copy */
		memcpy(pkt, p + sizeof(vh), n - sizeof(vh));
		(void)tf_pkt_segment(&vh, pkt, n - sizeof(vh), scratch,
				     sizeof(scratch), emit, NULL);
		break;
	}
	case 3: {
		memset(&g, 0, sizeof(g));
		while (n >= 2) {
			size_t l = (size_t)p[0] << 8 | p[1];
			p += 2, n -= 2;
			if (l > n)
				l = n;
			if (tf_gro_add(&g, p, l) == 0) {
				if (tf_gro_flush(&g) > sizeof(g.buf))
					abort();
				(void)tf_gro_add(&g, p, l);
			}
			p += l, n -= l;
		}
		if (tf_gro_flush(&g) > sizeof(g.buf))
			abort();
		break;
	}
	}
	return 0;
}
