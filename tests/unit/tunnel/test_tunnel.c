/* SPDX-License-Identifier: ISC */
/* Unit tests of the tunnel data path's packet helpers (checksums, TSO
 * segmentation, ICMP unreachable), the control channel checks, and the
 * gateway's config and device list parsers. Checksums are verified with
 * a separate byte-wise reference sum, not the code under test. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "src/gateway/gwconf.h"
#include "src/lib/tunnel/ctl.h"
#include "src/lib/tunnel/pkt.h"
#include "src/lib/tunnel/tunnel_internal.h"
#include "twofold/suite.h"

/* RFC 1071, big-endian 16-bit words, byte by byte */
static uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
	return s;
}
static uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}
/* a packet's L4 checksum is right when the sum over pseudo-header and
 * segment is 0xffff */
static void assert_l4_ok(const uint8_t *ip, size_t len)
{
	bool v4 = (ip[0] >> 4) == 4;
	size_t l4 = v4 ? (size_t)(ip[0] & 15) * 4 : 40;
	uint8_t proto = v4 ? ip[9] : ip[6];
	uint32_t s = v4 ? ref_sum(ip + 12, 8, 0) : ref_sum(ip + 8, 32, 0);
	s += proto + (uint32_t)(len - l4);
	if (proto == IPPROTO_ICMP)
		s = 0; /* ICMPv4 has no pseudo-header */
	assert_int_equal(ref_fold(ref_sum(ip + l4, len - l4, s)), 0xffff);
}
static void assert_ip4_hdr_ok(const uint8_t *ip)
{
	assert_int_equal(ref_fold(ref_sum(ip, (size_t)(ip[0] & 15) * 4, 0)),
			 0xffff);
}

static void test_csum_rfc1071(void **st)
{
	/* RFC 1071 section 3's example: the sum is ddf2 */
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03,
				    0xf4, 0xf5, 0xf6, 0xf7};
	uint16_t c = tf_csum_fold(tf_csum_partial(b, sizeof(b), 0));
	uint8_t out[2];
	memcpy(out, &c, 2);
	assert_int_equal(out[0] << 8 | out[1], 0xffff - 0xddf2);
	/* odd lengths and every alignment agree with the reference */
	uint8_t buf[301];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t off = 0; off < 4; off++)
		for (size_t n = 0; n < 290; n += 7) {
			c = tf_csum_fold(tf_csum_partial(buf + off, n, 0));
			memcpy(out, &c, 2);
			assert_int_equal(
				(out[0] << 8 | out[1]),
				(uint16_t)~ref_fold(ref_sum(buf + off, n, 0)));
		}
}

/* A TCP super-packet as the kernel hands it over with TSO: headers with
 * the pseudo-header sum in the checksum field (NEEDS_CSUM), total length
 * of the whole thing. */
static size_t make_tcp(uint8_t *p, bool v6, size_t payload, uint8_t flags,
		       struct virtio_net_hdr *vh, uint16_t mss)
{
	size_t l4 = v6 ? 40 : 20, hl = l4 + 32; /* TCP with 12 bytes opts */
	memset(p, 0, hl);
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)((hl - 40 + payload) >> 8);
		p[5] = (uint8_t)(hl - 40 + payload);
		p[6] = IPPROTO_TCP;
		p[7] = 64;
		inet_pton(AF_INET6, "fd00::2", p + 8);
		inet_pton(AF_INET6, "fd00::100:10", p + 24);
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)((hl + payload) >> 8);
		p[3] = (uint8_t)(hl + payload);
		p[4] = 0x12;
		p[5] = 0x34;
		p[6] = 0x40; /* DF */
		p[8] = 64;
		p[9] = IPPROTO_TCP;
		inet_pton(AF_INET, "10.77.0.2", p + 12);
		inet_pton(AF_INET, "10.77.100.10", p + 16);
	}
	uint8_t *t = p + l4;
	t[0] = 0xc3, t[1] = 0x50, t[2] = 0, t[3] = 7;
	t[4] = 0xff, t[5] = 0xff, t[6] = 0xff, t[7] = 0x00; /* seq wraps */
	t[12] = 8 << 4;
	t[13] = flags;
	t[14] = 0x01;
	for (size_t i = 20; i < 32; i++)
		t[i] = 1; /* NOPs */
	for (size_t i = 0; i < payload; i++)
		p[hl + i] = (uint8_t)(i * 7 + 3);
	/* the pseudo-header sum of the first segment's length, as Linux
	 * leaves it for a GSO packet: over the addresses and proto only */
	uint32_t s = v6 ? ref_sum(p + 8, 32, 0) : ref_sum(p + 12, 8, 0);
	s += IPPROTO_TCP;
	uint16_t ps = ref_fold(s);
	t[16] = (uint8_t)(ps >> 8), t[17] = (uint8_t)ps;
	memset(vh, 0, sizeof(*vh));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh->gso_size = mss;
	vh->hdr_len = (uint16_t)hl;
	vh->csum_start = (uint16_t)l4;
	vh->csum_offset = 16;
	return hl + payload;
}

struct segs {
	size_t n;
	size_t len[64];
	uint8_t pkt[64][2048];
};
static int collect(void *ctx, uint8_t *p, size_t len)
{
	struct segs *s = ctx;
	assert_true(s->n < 64 && len <= 2048);
	memcpy(s->pkt[s->n], p, len);
	s->len[s->n++] = len;
	return 0;
}

static void check_tso(bool v6, size_t payload, uint16_t mss)
{
	static uint8_t pkt[TF_PKT_MAX], scratch[TF_PKT_MAX];
	static struct segs s;
	struct virtio_net_hdr vh;
	uint8_t flags = 0x80 | 0x10 | 0x08 | 0x01; /* CWR ACK PSH FIN */
	size_t len = make_tcp(pkt, v6, payload, flags, &vh, mss);
	size_t l4 = v6 ? 40 : 20, hl = l4 + 32;

	s.n = 0;
	int n = tf_pkt_segment(&vh, pkt, len, scratch, sizeof(scratch), collect,
			       &s);
	size_t want = (payload + mss - 1) / mss;
	assert_int_equal(n, (int)want);
	assert_int_equal(s.n, want);
	size_t off = 0;
	for (size_t i = 0; i < s.n; i++) {
		uint8_t *p = s.pkt[i], *t = p + l4;
		size_t seg = TF_MIN((size_t)mss, payload - off);
		assert_int_equal(s.len[i], hl + seg);
		if (v6) {
			assert_int_equal(p[4] << 8 | p[5], hl - 40 + seg);
		} else {
			assert_int_equal(p[2] << 8 | p[3], hl + seg);
			assert_int_equal(p[4] << 8 | p[5], 0x1234 + i);
			assert_ip4_hdr_ok(p);
		}
		uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 |
			       (uint32_t)t[6] << 8 | t[7];
		assert_int_equal(seq, (uint32_t)(0xffffff00u + off));
		bool first = i == 0, last = i + 1 == s.n;
		assert_int_equal(!!(t[13] & 0x80), first);
		assert_int_equal(!!(t[13] & 0x08), last);
		assert_int_equal(!!(t[13] & 0x01), last);
		assert_true(t[13] & 0x10);
		assert_memory_equal(p + hl, pkt + hl + off, seg);
		assert_l4_ok(p, s.len[i]);
		off += seg;
	}
	assert_int_equal(off, payload);
}

static void test_tso_v4(void **st)
{
	check_tso(false, 3000, 1000);
	check_tso(false, 2999, 1368); /* odd last segment */
	check_tso(false, 1, 1368);
	check_tso(false, 64 * 1000, 1000);
}

static void test_tso_v6(void **st)
{
	check_tso(true, 3001, 1000);
	check_tso(true, 40000, 1348);
}

static void test_tso_malformed(void **st)
{
	static uint8_t pkt[TF_PKT_MAX], scratch[TF_PKT_MAX];
	static struct segs s;
	struct virtio_net_hdr vh;
	size_t len = make_tcp(pkt, false, 3000, 0x10, &vh, 1000);

	vh.gso_size = 0;
	assert_int_equal(tf_pkt_segment(&vh, pkt, len, scratch, sizeof(scratch),
					collect, &s),
			 -EINVAL);
	vh.gso_size = 1000;
	vh.csum_start = 24; /* not the IPv4 header's length */
	assert_int_equal(tf_pkt_segment(&vh, pkt, len, scratch, sizeof(scratch),
					collect, &s),
			 -EINVAL);
	vh.csum_start = 20;
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(tf_pkt_segment(&vh, pkt, len, scratch, sizeof(scratch),
					collect, &s),
			 -EINVAL);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	assert_int_equal(tf_pkt_segment(&vh, pkt, 30, scratch, sizeof(scratch),
					collect, &s),
			 -EINVAL);
	/* scratch too small for one segment */
	assert_int_equal(
		tf_pkt_segment(&vh, pkt, len, scratch, 500, collect, &s),
		-EINVAL);
}

static void test_csum_finish_udp(void **st)
{
	uint8_t p[64] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, IPPROTO_UDP};
	static struct segs s;
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .csum_start = 20,
				    .csum_offset = 6};

	inet_pton(AF_INET, "10.77.0.2", p + 12);
	inet_pton(AF_INET, "10.77.0.1", p + 16);
	p[20] = 0x13, p[21] = 0x88, p[22] = 0, p[23] = 53, p[25] = 20;
	memcpy(p + 28, "twelve bytes", 12);
	uint16_t ps = ref_fold(ref_sum(p + 12, 8, 0) + IPPROTO_UDP + 20);
	p[26] = (uint8_t)(ps >> 8), p[27] = (uint8_t)ps;
	s.n = 0;
	assert_int_equal(tf_pkt_segment(&vh, p, 40, NULL, 0, collect, &s), 1);
	assert_int_equal(s.len[0], 40);
	assert_l4_ok(s.pkt[0], 40);
	vh.csum_start = 39; /* field beyond the packet */
	assert_int_equal(tf_pkt_segment(&vh, p, 40, NULL, 0, collect, &s),
			 -EINVAL);
}

static void test_unreachable_v4(void **st)
{
	static uint8_t pkt[TF_PKT_MAX], out[1500];
	struct virtio_net_hdr vh;
	size_t len = make_tcp(pkt, false, 0, 0x02, &vh, 1000); /* a SYN */
	size_t n = tf_pkt_unreachable(pkt, len, out, sizeof(out));

	assert_int_equal(n, 28 + len);
	assert_ip4_hdr_ok(out);
	assert_int_equal(out[9], IPPROTO_ICMP);
	assert_memory_equal(out + 12, pkt + 16, 4); /* from its destination */
	assert_memory_equal(out + 16, pkt + 12, 4); /* to its source */
	assert_int_equal(out[20], 3);		    /* dest unreachable */
	assert_int_equal(out[21], 0);		    /* net unreachable */
	assert_memory_equal(out + 28, pkt, len);
	assert_int_equal(ref_fold(ref_sum(out + 20, n - 20, 0)), 0xffff);

	/* a big packet: the quote stops at 576 bytes in all */
	len = make_tcp(pkt, false, 1300, 0x10, &vh, 1368);
	assert_int_equal(tf_pkt_unreachable(pkt, len, out, sizeof(out)), 576);
	/* no error about an ICMP error */
	uint8_t ic[56];
	memcpy(ic, out, sizeof(ic));
	ic[2] = 0, ic[3] = 56;
	assert_int_equal(tf_pkt_unreachable(ic, 56, out, sizeof(out)), 0);
	/* an echo request does get one */
	ic[20] = 8;
	assert_int_equal(tf_pkt_unreachable(ic, 56, out, sizeof(out)), 84);
	/* multicast destination, non-first fragment, truncated: none */
	len = make_tcp(pkt, false, 0, 0x02, &vh, 1000);
	pkt[16] = 224;
	assert_int_equal(tf_pkt_unreachable(pkt, len, out, sizeof(out)), 0);
	pkt[16] = 10;
	pkt[7] = 1;
	assert_int_equal(tf_pkt_unreachable(pkt, len, out, sizeof(out)), 0);
	pkt[7] = 0;
	assert_int_equal(tf_pkt_unreachable(pkt, len - 1, out, sizeof(out)), 0);
	assert_int_equal(tf_pkt_unreachable(pkt, len, out, 1000), 0);
}

static void test_unreachable_v6(void **st)
{
	static uint8_t pkt[TF_PKT_MAX], out[1500];
	struct virtio_net_hdr vh;
	size_t len = make_tcp(pkt, true, 1400, 0x02, &vh, 1000);
	size_t n = tf_pkt_unreachable(pkt, len, out, sizeof(out));

	assert_int_equal(n, 1280);
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(out[4] << 8 | out[5], 1280 - 40);
	assert_int_equal(out[6], IPPROTO_ICMPV6);
	assert_memory_equal(out + 8, pkt + 24, 16);
	assert_memory_equal(out + 24, pkt + 8, 16);
	assert_int_equal(out[40], 1); /* destination unreachable */
	assert_int_equal(out[41], 0); /* no route */
	assert_l4_ok(out, n);
	/* not to an ICMPv6 error */
	assert_int_equal(tf_pkt_unreachable(out, n, pkt, TF_PKT_MAX), 0);
	/* not from the unspecified address */
	len = make_tcp(pkt, true, 0, 0x02, &vh, 1000);
	memset(pkt + 8, 0, 16);
	assert_int_equal(tf_pkt_unreachable(pkt, len, out, sizeof(out)), 0);
}

static void test_addrs(void **st)
{
	static uint8_t pkt[TF_PKT_MAX];
	struct virtio_net_hdr vh;
	struct tf_pkt_addrs a;
	size_t len = make_tcp(pkt, false, 10, 0x10, &vh, 1000);

	assert_int_equal(tf_pkt_addrs(pkt, len + 5, &a), 0); /* padded */
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.iplen, len);
	assert_int_equal(tf_pkt_addrs(pkt, len - 1, &a), -EINVAL);
	pkt[0] = 0x44; /* IHL 16 bytes */
	assert_int_equal(tf_pkt_addrs(pkt, len, &a), -EINVAL);
	pkt[0] = 0x75;
	assert_int_equal(tf_pkt_addrs(pkt, len, &a), -EINVAL);
	len = make_tcp(pkt, true, 10, 0x10, &vh, 1000);
	assert_int_equal(tf_pkt_addrs(pkt, len, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(tf_pkt_addrs(pkt, 39, &a), -EINVAL);
}

/* ---- receive coalescing ---- */

static struct tf_gro gro;

/* segment a super-packet, feed every segment to GRO: one packet comes
 * back, equal to the original but for the fields TSO rewrites */
static void check_gro_roundtrip(bool v6, size_t payload, uint16_t mss)
{
	static uint8_t pkt[TF_PKT_MAX], scratch[TF_PKT_MAX];
	static struct segs s;
	struct virtio_net_hdr vh;
	size_t len = make_tcp(pkt, v6, payload, 0x10 | 0x08, &vh, mss);
	size_t l4 = v6 ? 40 : 20, hl = l4 + 32;

	s.n = 0;
	assert_true(tf_pkt_segment(&vh, pkt, len, scratch, sizeof(scratch),
				   collect, &s) > 0);
	memset(&gro, 0, sizeof(gro));
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(tf_gro_add(&gro, s.pkt[i], s.len[i]), 1);
	size_t n = tf_gro_flush(&gro);
	assert_int_equal(n, TF_VNET_HDR_LEN + len);
	struct virtio_net_hdr out;
	memcpy(&out, gro.buf, sizeof(out));
	uint8_t *p = gro.buf + TF_VNET_HDR_LEN;
	if (s.n == 1) {
		assert_int_equal(out.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		assert_int_equal(out.flags, VIRTIO_NET_HDR_F_DATA_VALID);
		assert_l4_ok(p, len);
		return;
	}
	assert_int_equal(out.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6
					  : VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out.gso_size, mss);
	assert_int_equal(out.hdr_len, hl);
	assert_int_equal(out.csum_start, l4);
	assert_int_equal(out.csum_offset, 16);
	assert_memory_equal(p + hl, pkt + hl, payload);
	if (v6) {
		assert_int_equal(p[4] << 8 | p[5], len - 40);
	} else {
		assert_int_equal(p[2] << 8 | p[3], len);
		assert_ip4_hdr_ok(p);
	}
	assert_true(p[l4 + 13] & 0x08); /* the last segment's PSH */
	/* NEEDS_CSUM: the field holds the pseudo-header sum of the whole */
	uint32_t ps = v6 ? ref_sum(p + 8, 32, 0) : ref_sum(p + 12, 8, 0);
	ps += IPPROTO_TCP + (uint32_t)(len - l4);
	assert_int_equal(p[l4 + 16] << 8 | p[l4 + 17], ref_fold(ps));
	/* and it completes into a valid checksum */
	assert_int_equal(tf_pkt_csum_finish(p, len, (uint16_t)l4, 16), 0);
	assert_l4_ok(p, len);
}

static void test_gro(void **st)
{
	check_gro_roundtrip(false, 10 * 1368, 1368);
	check_gro_roundtrip(false, 10 * 1368 + 7, 1368);
	check_gro_roundtrip(true, 5000, 1348);
	check_gro_roundtrip(false, 100, 1368);
	check_gro_roundtrip(false, 47 * 1368, 1368); /* near 64 KiB */
}

static void test_gro_refuses(void **st)
{
	static uint8_t a[2048], b[2048];
	struct virtio_net_hdr vh;
	size_t la = make_tcp(a, false, 1000, 0x10, &vh, 1000);
	make_tcp(b, false, 1000, 0x10, &vh, 1000);
	/* make b the next segment of a: seq + 1000, length fixed */
	uint8_t *tb = b + 20;
	uint32_t seq = 0xffffff00u + 1000;
	tb[4] = (uint8_t)(seq >> 24), tb[5] = (uint8_t)(seq >> 16);
	tb[6] = (uint8_t)(seq >> 8), tb[7] = (uint8_t)seq;
	size_t lb = la;

#define TRY(mutate, want)                                                      \
	do {                                                                   \
		static uint8_t c[2048];                                        \
		memcpy(c, b, lb);                                              \
		mutate;                                                        \
		memset(&gro, 0, sizeof(gro));                                  \
		assert_int_equal(tf_gro_add(&gro, a, la), 1);                  \
		assert_int_equal(tf_gro_add(&gro, c, lb), want);               \
	} while (0)
	TRY((void)0, 1);
	TRY(c[20 + 7] ^= 1, 0);	    /* a gap in the sequence */
	TRY(c[20 + 1] ^= 1, 0);	    /* another port */
	TRY(c[19] ^= 1, 0);	    /* another destination */
	TRY(c[20 + 11] ^= 1, 0);    /* another ack */
	TRY(c[20 + 14] ^= 1, 0);    /* another window */
	TRY(c[20 + 25] ^= 1, 0);    /* other options (a timestamp) */
	TRY(c[20 + 13] |= 0x01, 0); /* FIN */
	TRY(c[20 + 13] |= 0x02, 0); /* SYN */
	TRY(c[20 + 13] |= 0x80, 0); /* CWR */
	TRY(c[1] = 4, 0);	    /* another TOS (ECN mark) */
	TRY(c[8] = 3, 0);	    /* another TTL */
	TRY(c[6] = 0x20, 0);	    /* a fragment */
	/* the first with PSH closes the packet */
	memset(&gro, 0, sizeof(gro));
	a[33] |= 0x08;
	assert_int_equal(tf_gro_add(&gro, a, la), 1);
	assert_int_equal(tf_gro_add(&gro, b, lb), 0);
	a[33] &= (uint8_t)~0x08;
	/* a longer segment than the first cannot follow */
	static uint8_t big[2048];
	size_t lbig = make_tcp(big, false, 1200, 0x10, &vh, 1200);
	memcpy(big + 20 + 4, tb + 4, 4);
	memset(&gro, 0, sizeof(gro));
	assert_int_equal(tf_gro_add(&gro, a, la), 1);
	assert_int_equal(tf_gro_add(&gro, big, lbig), 0);
	/* a non-TCP packet goes alone */
	static uint8_t u[64] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, IPPROTO_UDP};
	memset(&gro, 0, sizeof(gro));
	assert_int_equal(tf_gro_add(&gro, u, 28), 1);
	assert_int_equal(tf_gro_add(&gro, a, la), 0);
	assert_int_equal(tf_gro_flush(&gro), TF_VNET_HDR_LEN + 28);
	assert_int_equal(tf_gro_flush(&gro), 0);
}

/* ---- control channel ---- */

static void good_config(struct tf_tunctl_config *c)
{
	memset(c, 0, sizeof(*c));
	c->type = TF_TUNCTL_CONFIG;
	c->version = TF_TUNCTL_VERSION;
	c->suite = TF_SUITE_INTL;
	c->n_tun = 2;
	c->mtu = 1420;
	c->peer_pub_len = 32;
	c->uid = c->gid = 65534;
	c->endpoint.ss_family = AF_INET;
	strcpy(c->persona, "secure");
}

static void test_ctl_check(void **st)
{
	struct tf_tunctl_config c;
	char why[160];

	good_config(&c);
	assert_int_equal(
		tf_tunctl_config_check(&c, sizeof(c), 3, why, sizeof(why)), 0);
	assert_int_equal(
		tf_tunctl_config_check(&c, sizeof(c) - 1, 3, why, sizeof(why)),
		-EINVAL);
	assert_non_null(strstr(why, "size"));
	assert_int_equal(
		tf_tunctl_config_check(&c, sizeof(c), 2, why, sizeof(why)),
		-EINVAL);
#define BAD(field, val, word)                                                  \
	do {                                                                   \
		good_config(&c);                                               \
		c.field = val;                                                 \
		assert_int_equal(tf_tunctl_config_check(&c, sizeof(c),         \
							(size_t)c.n_tun + 1,   \
							why, sizeof(why)),     \
				 -EINVAL);                                     \
		assert_non_null(strstr(why, word));                            \
	} while (0)
	BAD(type, 2, "CONFIG");
	BAD(version, 2, "version");
	BAD(suite, 3, "suite");
	BAD(peer_pub_len, 65, "length");
	BAD(suite, TF_SUITE_GM, "length"); /* gm wants 65 */
	BAD(n_tun, 9, "queues");
	BAD(mtu, 1279, "MTU");
	BAD(mtu, 9001, "MTU");
	BAD(uid, 0, "root");
	BAD(has_psk, 2, "psk");
	BAD(endpoint.ss_family, AF_UNIX, "endpoint");
	good_config(&c);
	memset(c.persona, 'a', sizeof(c.persona));
	assert_int_equal(
		tf_tunctl_config_check(&c, sizeof(c), 3, why, sizeof(why)),
		-EINVAL);
	good_config(&c);
	c.n_tun = 0;
	assert_int_equal(
		tf_tunctl_config_check(&c, sizeof(c), 1, why, sizeof(why)),
		-EINVAL);
	uint32_t req[2] = {TF_TUNCTL_STATUS_REQ, TF_TUNCTL_VERSION};
	assert_int_equal(tf_tunctl_req_check(req, 8), 0);
	assert_int_equal(tf_tunctl_req_check(req, 4), -EINVAL);
	req[1] = 9;
	assert_int_equal(tf_tunctl_req_check(req, 8), -EINVAL);
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void send_cfg(int s, const struct tf_tunctl_config *c, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 12)];
		struct cmsghdr a;
	} cm = {0};
	int fds[12];
	struct iovec iov = {(void *)c, sizeof(*c)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	for (size_t i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfds) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * nfds);
	}
	assert_true(sendmsg(s, &mh, 0) >= 0);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
}

static void test_ctl_recv(void **st)
{
	struct tf_tunctl_config c, got;
	int sv[2], fds[TF_TUNCTL_MAX_QUEUES + 1];
	size_t nfds = 0;
	char why[160];

	assert_int_equal(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	int before = count_fds();
	good_config(&c);
	c.local_priv[0] = 0x42;
	send_cfg(sv[0], &c, 3);
	assert_int_equal(tf_tunctl_recv_config(sv[1], &got, fds, &nfds, why,
					       sizeof(why)),
			 0);
	assert_int_equal(nfds, 3);
	assert_int_equal(got.local_priv[0], 0x42);
	for (size_t i = 0; i < nfds; i++) {
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		close(fds[i]);
	}
	assert_int_equal(count_fds(), before);
	/* one fd short: refused, every received fd closed, key wiped */
	send_cfg(sv[0], &c, 2);
	assert_int_equal(tf_tunctl_recv_config(sv[1], &got, fds, &nfds, why,
					       sizeof(why)),
			 -EINVAL);
	assert_int_equal(got.local_priv[0], 0);
	assert_int_equal(count_fds(), before);
	/* more fds than any CONFIG may carry: refused, all closed */
	send_cfg(sv[0], &c, 12);
	assert_int_equal(tf_tunctl_recv_config(sv[1], &got, fds, &nfds, why,
					       sizeof(why)),
			 -EINVAL);
	assert_int_equal(count_fds(), before);
	/* a short message */
	assert_int_equal(send(sv[0], &c, 10, 0), 10);
	assert_int_equal(tf_tunctl_recv_config(sv[1], &got, fds, &nfds, why,
					       sizeof(why)),
			 -EINVAL);
	close(sv[0]);
	assert_int_equal(tf_tunctl_recv_config(sv[1], &got, fds, &nfds, why,
					       sizeof(why)),
			 -EIO);
	close(sv[1]);
}

/* ---- gateway config and device list ---- */

static void test_gw_conf(void **st)
{
	struct tf_gw_conf c;
	char err[256];
	const char *good = "# the gateway\n"
			   "listen = [::]:51821\n"
			   "address = 10.77.0.1/24   # the TUN\n"
			   "intl_key = /etc/gw/intl.key\n"
			   "devices = /etc/gw/devices\n";

	assert_int_equal(
		tf_gw_conf_parse(good, strlen(good), &c, err, sizeof(err)), 0);
	assert_int_equal(c.listen.ss_family, AF_INET6);
	assert_int_equal(c.mtu, 1420);
	assert_string_equal(c.tun, "tfgw0");
	assert_int_equal(c.n_address, 1);
	assert_int_equal(c.address[0].len, 24);
	assert_string_equal(c.intl_key, "/etc/gw/intl.key");
	assert_string_equal(c.gm_key, "");
	const char *two = "address = 10.77.0.1/24 , fd77::1/64\n"
			  "gm_key = /k\ndevices = /d\n";
	assert_int_equal(
		tf_gw_conf_parse(two, strlen(two), &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_address, 2);
	assert_int_equal(c.address[1].family, AF_INET6);
	assert_int_equal(c.address[1].len, 64);
	static const struct {
		const char *text, *err;
	} bad[] = {
		{"address = 10.77.0.1/24\ndevices = /d\n", "neither"},
		{"intl_key = /k\ndevices = /d\n", "address"},
		{"address = 10.77.0.1/24\nintl_key = /k\n", "devices"},
		{"address = 10.77.0.1/33\n", "line 1: bad value for address"},
		{"mtu = 100\n", "bad value for mtu"},
		{"mtu = 1420\nmtu = 1420\n", "line 2: mtu given twice"},
		{"bogus = 1\n", "unknown key"},
		{"listen\n", "KEY = VALUE"},
		{"listen = 1.2.3.4\n", "bad value for listen"},
		{"listen = 1.2.3.4:70000\n", "bad value for listen"},
		{"tun = a/b\n", "bad value for tun"},
		{"tun = 0123456789abcdef\n", "bad value for tun"},
		{"queues = 9\n", "bad value for queues"},
		{"address = 10.0.0.1/8, 10.0.0.2/8\n", "bad value for address"},
		{"address = 10.0.0.1/8, fd00::1/8, fd01::1/8\n",
		 "bad value for address"},
		{"address = ,\n", "bad value for address"},
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad); i++) {
		assert_int_equal(tf_gw_conf_parse(bad[i].text,
						  strlen(bad[i].text), &c, err,
						  sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: got '%s'", bad[i].text, err);
	}
	char longl[700];
	memset(longl, 'a', sizeof(longl));
	assert_int_equal(
		tf_gw_conf_parse(longl, sizeof(longl), &c, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "longer"));
	assert_int_equal(tf_gw_conf_parse("mtu = 14\0"
					  "20\n",
					  12, &c, err, sizeof(err)),
			 -EINVAL);
}

#define K32 "uNJlRJKtyIORBlyN9Rt62i12EeX/YBxQmtvGrsci2Hc="
#define K32B "twokKpyX29DLu5XLVhvsoAh3AQyS/ik+7ROyOtwGkQs="
#define K65                                                                    \
	"BKjyOciu0uZDwmh1P72qCDxyTmNV4q65WDp0wZNlnAgoyXMblHrJb2JmPEMBLOaiO3sl" \
	"f6fMqln2Wks4KbJDhd0="

static void test_gw_devices(void **st)
{
	static struct tf_gw_device d[8];
	size_t n = 0;
	char err[256];
	const char *good = "phone intl " K32 " 10.77.0.2/32,fd77::2/128\n"
			   "\n# comment\n"
			   "tablet\tgm\t" K65 "   10.77.0.3\n";

	assert_int_equal(tf_gw_devices_parse(good, strlen(good), d, 8, &n, err,
					     sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].name, "phone");
	assert_int_equal(d[0].suite, TF_SUITE_INTL);
	assert_int_equal(d[0].pub_len, 32);
	assert_int_equal(d[0].n_addr, 2);
	assert_int_equal(d[0].addr[1].family, AF_INET6);
	assert_int_equal(d[1].suite, TF_SUITE_GM);
	assert_int_equal(d[1].pub_len, 65);
	assert_int_equal(d[1].addr[0].len, 32);
	static const struct {
		const char *text, *err;
	} bad[] = {
		{"phone intl " K32 "\n", "expected NAME"},
		{"phone intl " K32 " 10.0.0.1 extra\n", "expected NAME"},
		{"ph/one intl " K32 " 10.0.0.1\n", "bad device name"},
		{"phone ecc " K32 " 10.0.0.1\n", "suite must be"},
		{"phone gm " K32 " 10.0.0.1\n", "not 65 bytes"},
		{"phone intl " K65 " 10.0.0.1\n", "not 32 bytes"},
		{"phone intl !!! 10.0.0.1\n", "not 32 bytes"},
		{"phone intl " K32 " 10.0.0.0/24\n", "host address"},
		{"phone intl " K32 " 10.0.0.1,10.0.0.1\n", "listed twice"},
		{"phone intl " K32 " 1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5\n",
		 "more than 4"},
		{"a intl " K32 " 10.0.0.1\na intl " K32B " 10.0.0.2\n",
		 "line 2: a: name listed twice"},
		{"a intl " K32 " 10.0.0.1\nb intl " K32 " 10.0.0.2\n",
		 "same public key as a"},
		{"a intl " K32 " 10.0.0.1\nb intl " K32B " 10.0.0.1\n",
		 "address of a"},
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad); i++) {
		assert_int_equal(tf_gw_devices_parse(bad[i].text,
						     strlen(bad[i].text), d, 8,
						     &n, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: got '%s'", bad[i].text, err);
	}
	/* the cap is a limit, not an overflow */
	const char *three = "a intl " K32 " 10.0.0.1\nb intl " K32B
			    " 10.0.0.2\nc gm " K65 " 10.0.0.3\n";
	assert_int_equal(tf_gw_devices_parse(three, strlen(three), d, 2, &n,
					     err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "more than 2 devices"));
}

/* ---- the tunnel process's seccomp filter ---- */

static void *thread_ok(void *arg)
{
	return arg;
}

/* In a child: the data path's calls work, everything that would reach
 * beyond the fds fails with ENOSYS. Exit status = the first failed
 * check's number. */
static int seccomp_child(void)
{
	int sv[2];
	char b = 'x';
	pthread_t t;
	void *ret = NULL;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    tf_tunnel_seccomp() < 0)
		return 2;
	if (write(sv[0], &b, 1) != 1 || read(sv[1], &b, 1) != 1)
		return 3;
	if (pthread_create(&t, NULL, thread_ok, &b) != 0 ||
	    pthread_join(t, &ret) != 0 || ret != &b)
		return 4;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 5;
	if (mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0 || errno != ENOSYS)
		return 6;
	if (syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY) >= 0 ||
	    errno != ENOSYS)
		return 7;
	if (syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0) >= 0 || errno != ENOSYS)
		return 8;
	if (syscall(SYS_connect, sv[0], NULL, 0) >= 0 || errno != ENOSYS)
		return 9;
	/* a new process: clone without CLONE_THREAD */
	if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) >= 0 || errno != ENOSYS)
		return 10;
	char *argv[] = {"/bin/true", NULL};
	if (syscall(SYS_execve, "/bin/true", argv, NULL) >= 0 ||
	    errno != ENOSYS)
		return 11;
	if (syscall(SYS_setresuid, 0, 0, 0) >= 0 || errno != ENOSYS)
		return 12;
	if (syscall(SYS_ioctl, sv[0], 0, 0) >= 0 || errno != ENOSYS)
		return 13;
	return 0;
}

static void test_seccomp(void **st)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(seccomp_child());
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071),
		cmocka_unit_test(test_tso_v4),
		cmocka_unit_test(test_tso_v6),
		cmocka_unit_test(test_tso_malformed),
		cmocka_unit_test(test_csum_finish_udp),
		cmocka_unit_test(test_unreachable_v4),
		cmocka_unit_test(test_unreachable_v6),
		cmocka_unit_test(test_addrs),
		cmocka_unit_test(test_gro),
		cmocka_unit_test(test_gro_refuses),
		cmocka_unit_test(test_ctl_check),
		cmocka_unit_test(test_ctl_recv),
		cmocka_unit_test(test_gw_conf),
		cmocka_unit_test(test_gw_devices),
		cmocka_unit_test(test_seccomp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
