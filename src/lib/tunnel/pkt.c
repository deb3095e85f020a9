/* SPDX-License-Identifier: ISC */
/*
 * Checksums, TSO segmentation and ICMP unreachable answers (pkt.h).
 */
#include <errno.h>
#include <string.h>

#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>

#include "pkt.h"
#include "twofold/common.h"

uint32_t tf_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = sum;

	/* 32 bits at a time into a 64-bit accumulator: the carries are
	 * folded once at the end (RFC 1071 section 2 (B), deferred carries) */
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* the odd last byte is the high byte of a big-endian word:
		 * in memory order that is the first byte of a 16-bit load */
		uint16_t w = 0;
		memcpy(&w, p, 1);
		acc += w;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t tf_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t tf_csum_pseudo(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
	uint32_t sum;
	uint8_t tail[8] = {0};

	if ((ip[0] >> 4) == 4)
		sum = tf_csum_partial(ip + 12, 8, 0);
	else
		sum = tf_csum_partial(ip + 8, 32, 0);
	/* upper-layer length and next header as big-endian words (the v4
	 * zero/proto/len16 and the v6 len32/zero24/nh forms sum the same) */
	tail[0] = (uint8_t)(l4len >> 24);
	tail[1] = (uint8_t)(l4len >> 16);
	tail[2] = (uint8_t)(l4len >> 8);
	tail[3] = (uint8_t)l4len;
	tail[7] = proto;
	return tf_csum_partial(tail, 8, sum);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
/* the checksum field is stored as computed (native order of the sum of
 * native 16-bit loads), so it is written with memcpy, not put16 */
static void put_csum(uint8_t *p, uint16_t c)
{
	memcpy(p, &c, 2);
}

int tf_pkt_csum_finish(uint8_t *pkt, size_t len, uint16_t csum_start,
		       uint16_t csum_offset)
{
	if ((size_t)csum_start + csum_offset + 2 > len)
		return -EINVAL;
	/* the kernel stored the pseudo-header sum (not inverted) in the
	 * field: summing over it includes it */
	uint32_t s = tf_csum_partial(pkt + csum_start, len - csum_start, 0);
	uint16_t c = tf_csum_fold(s);
	/* a UDP checksum of 0 means "none": send 0xffff instead (RFC 768) */
	if (c == 0 && csum_offset == 6)
		c = 0xffff;
	put_csum(pkt + csum_start + csum_offset, c);
	return 0;
}

static void ip4_fix_header(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	put_csum(ip + 10, tf_csum_fold(tf_csum_partial(ip, ihl, 0)));
}

int tf_pkt_segment(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len,
		   uint8_t *scratch, size_t scratch_cap, tf_seg_fn emit,
		   void *ctx)
{
	uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	int r;

	if (len < 1)
		return -EINVAL;
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			r = tf_pkt_csum_finish(pkt, len, vh->csum_start,
					       vh->csum_offset);
			if (r < 0)
				return r;
		}
		r = emit(ctx, pkt, len);
		return r < 0 ? r : 1;
	}
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return -EINVAL; /* UDP offloads are not enabled (TUN_F_USO*) */

	bool v4 = gso == VIRTIO_NET_HDR_GSO_TCPV4;
	size_t l4 = vh->csum_start, mss = vh->gso_size;
	if (v4 ? ((pkt[0] >> 4) != 4 || l4 != (size_t)(pkt[0] & 15) * 4 ||
		  l4 < 20)
	       : ((pkt[0] >> 4) != 6 || l4 < 40))
		return -EINVAL;
	if (l4 + 20 > len || mss == 0)
		return -EINVAL;
	/* hdr_len is only a hint (virtio 1.1 5.1.6.2): take the TCP data
	 * offset from the header itself */
	size_t hl = l4 + (size_t)(pkt[l4 + 12] >> 4) * 4;
	if (hl < l4 + 20 || hl > len || hl + mss > scratch_cap)
		return -EINVAL;

	uint8_t *tcp0 = pkt + l4;
	uint32_t seq0 = get32(tcp0 + 4);
	uint8_t flags0 = tcp0[13];
	uint16_t id0 = v4 ? get16(pkt + 4) : 0;
	size_t payload = len - hl, off = 0;
	int n = 0;

	memcpy(scratch, pkt, hl);
	do {
		size_t seg = TF_MIN(mss, payload - off);
		bool first = off == 0, last = off + seg >= payload;
		uint8_t *tcp = scratch + l4;

		memcpy(scratch + hl, pkt + hl + off, seg);
		if (v4) {
			put16(scratch + 2, (uint16_t)(hl + seg));
			put16(scratch + 4, (uint16_t)(id0 + n));
			ip4_fix_header(scratch, l4);
		} else {
			put16(scratch + 4, (uint16_t)(hl + seg - 40));
		}
		put32(tcp + 4, seq0 + (uint32_t)off);
		uint8_t f = flags0;
		if (!last)
			f &= (uint8_t) ~(TH_FIN | TH_PUSH);
		if (!first)
			f &= (uint8_t)~0x80; /* CWR: once per window */
		tcp[13] = f;
		tcp[16] = tcp[17] = 0;
		uint32_t s = tf_csum_pseudo(scratch, IPPROTO_TCP,
					    (uint32_t)(hl - l4 + seg));
		put_csum(tcp + 16,
			 tf_csum_fold(tf_csum_partial(tcp, hl - l4 + seg, s)));
		r = emit(ctx, scratch, hl + seg);
		if (r < 0)
			return r;
		n++;
		off += seg;
	} while (off < payload);
	return n;
}

static bool v4_no_answer_to(const uint8_t *a)
{
	uint32_t x = get32(a);
	return x == 0 || x == 0xffffffffu || (x >> 28) == 0xe;
}

size_t tf_pkt_unreachable(const uint8_t *pkt, size_t len, uint8_t *out,
			  size_t cap)
{
	struct tf_pkt_addrs a;

	if (cap < 1280 || tf_pkt_addrs(pkt, len, &a) < 0)
		return 0;
	len = a.iplen;
	if (a.family == AF_INET) {
		size_t ihl = (size_t)(pkt[0] & 15) * 4;
		if (v4_no_answer_to(a.src) || v4_no_answer_to(a.dst))
			return 0;
		if (get16(pkt + 6) & 0x1fff) /* a non-first fragment */
			return 0;
		if (pkt[9] == IPPROTO_ICMP) {
			if (len < ihl + 1)
				return 0;
			uint8_t t = pkt[ihl];
			/* never an error about an error (RFC 1122 3.2.2) */
			if (t != ICMP_ECHO && t != ICMP_TIMESTAMP &&
			    t != ICMP_ADDRESS && t != ICMP_INFO_REQUEST)
				return 0;
		}
		size_t q = TF_MIN(len, 576 - 28);
		uint8_t *ip = out, *ic = out + 20;
		memset(out, 0, 28);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(28 + q));
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, a.dst, 4);
		memcpy(ip + 16, a.src, 4);
		ip4_fix_header(ip, 20);
		ic[0] = ICMP_DEST_UNREACH;
		/* UDP: port unreachable, which Linux reports to a connected
		 * UDP socket at once (ECONNREFUSED); net unreachable is a
		 * soft error there (seen only with IP_RECVERR). TCP aborts a
		 * connect on net unreachable (ENETUNREACH). */
		ic[1] = pkt[9] == IPPROTO_UDP ? ICMP_PORT_UNREACH
					      : ICMP_NET_UNREACH;
		memcpy(ic + 8, pkt, q);
		put_csum(ic + 2, tf_csum_fold(tf_csum_partial(ic, 8 + q, 0)));
		return 28 + q;
	}
	/* v6: no answer to an unspecified or multicast source, nor for a
	 * multicast destination (RFC 4443 2.4 (e)) */
	static const uint8_t zero[16];
	if (!memcmp(a.src, zero, 16) || a.src[0] == 0xff || a.dst[0] == 0xff)
		return 0;
	if (pkt[6] == IPPROTO_ICMPV6 && (len < 41 || pkt[40] < 128))
		return 0; /* an ICMPv6 error */
	size_t q = TF_MIN(len, 1280 - 48);
	uint8_t *ip = out, *ic = out + 40;
	memset(out, 0, 48);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(8 + q));
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = 64;
	memcpy(ip + 8, a.dst, 16);
	memcpy(ip + 24, a.src, 16);
	ic[0] = ICMP6_DST_UNREACH;
	/* as for v4: a hard error for UDP (ECONNREFUSED) */
	ic[1] = pkt[6] == IPPROTO_UDP ? ICMP6_DST_UNREACH_NOPORT
				      : ICMP6_DST_UNREACH_NOROUTE;
	memcpy(ic + 8, pkt, q);
	uint32_t s = tf_csum_pseudo(ip, IPPROTO_ICMPV6, (uint32_t)(8 + q));
	put_csum(ic + 2, tf_csum_fold(tf_csum_partial(ic, 8 + q, s)));
	return 48 + q;
}

int tf_pkt_addrs(const uint8_t *pkt, size_t len, struct tf_pkt_addrs *out)
{
	if (len < 20)
		return -EINVAL;
	if ((pkt[0] >> 4) == 4) {
		size_t ihl = (size_t)(pkt[0] & 15) * 4, tot = get16(pkt + 2);
		if (ihl < 20 || tot < ihl || tot > len)
			return -EINVAL;
		out->family = AF_INET;
		memset(out->src, 0, 16);
		memset(out->dst, 0, 16);
		memcpy(out->src, pkt + 12, 4);
		memcpy(out->dst, pkt + 16, 4);
		out->iplen = tot;
		return 0;
	}
	if ((pkt[0] >> 4) == 6) {
		if (len < 40)
			return -EINVAL;
		size_t tot = 40 + (size_t)get16(pkt + 4);
		if (tot > len)
			return -EINVAL;
		out->family = AF_INET6;
		memcpy(out->src, pkt + 8, 16);
		memcpy(out->dst, pkt + 24, 16);
		out->iplen = tot;
		return 0;
	}
	return -EINVAL;
}

/* ---- receive coalescing ---- */

/* offset of the TCP header if pkt is a TCP packet GRO may merge, else 0 */
static size_t gro_tcp_off(const uint8_t *p, size_t len)
{
	if (len < 40) /* the smallest TCP/IPv4 packet; also guards p[0] */
		return 0;
	if ((p[0] >> 4) == 4) {
		/* no IP options, not a fragment (DF is fine) */
		if (len < 40 || p[0] != 0x45 || p[9] != IPPROTO_TCP ||
		    (get16(p + 6) & 0x3fff) || get16(p + 2) != len)
			return 0;
		return 20;
	}
	if (len < 60 || p[6] != IPPROTO_TCP || 40u + get16(p + 4) != len)
		return 0;
	return 40;
}

int tf_gro_add(struct tf_gro *g, const uint8_t *pkt, size_t len)
{
	size_t l4 = gro_tcp_off(pkt, len);
	uint8_t *cur = g->buf + TF_VNET_HDR_LEN;

	if (g->len == 0) {
		if (len > sizeof(g->buf) - TF_VNET_HDR_LEN)
			return 0;
		memcpy(cur, pkt, len);
		g->len = len;
		g->segs = 1;
		g->closed = true;
		if (!l4)
			return 1; /* not TCP: goes alone */
		size_t hl = l4 + (size_t)(pkt[l4 + 12] >> 4) * 4;
		uint8_t f = pkt[l4 + 13];
		if (hl < l4 + 20 || hl >= len || (f & ~(TH_ACK | TH_PUSH)) ||
		    !(f & TH_ACK))
			return 1;
		g->l4 = l4;
		g->hl = hl;
		g->mss = len - hl;
		g->next_seq = get32(pkt + l4 + 4) + (uint32_t)g->mss;
		g->closed = (f & TH_PUSH) != 0;
		return 1;
	}
	if (g->closed || l4 != g->l4 || len <= g->hl)
		return 0;
	size_t hl = g->hl, pl = len - hl;
	const uint8_t *t = pkt + l4, *ct = cur + l4;
	uint8_t f = t[13];
	if (l4 + (size_t)(t[12] >> 4) * 4 != hl || pl > g->mss ||
	    (f & ~(TH_ACK | TH_PUSH)) || !(f & TH_ACK) ||
	    g->len + pl > sizeof(g->buf) - TF_VNET_HDR_LEN ||
	    get32(t + 4) != g->next_seq)
		return 0;
	/* same flow and state: v4 TOS, TTL and addresses; v6 traffic
	 * class/flow label, hop limit and addresses; TCP ports, ack and
	 * window, and options byte for byte */
	if (l4 == 20 ? (pkt[1] != cur[1] || pkt[8] != cur[8] ||
			memcmp(pkt + 12, cur + 12, 8))
		     : (memcmp(pkt, cur, 4) || pkt[7] != cur[7] ||
			memcmp(pkt + 8, cur + 8, 32)))
		return 0;
	if (memcmp(t, ct, 4) || memcmp(t + 8, ct + 8, 4) ||
	    memcmp(t + 14, ct + 14, 2) || memcmp(t + 20, ct + 20, hl - l4 - 20))
		return 0;
	memcpy(cur + g->len, pkt + hl, pl);
	g->len += pl;
	g->segs++;
	g->next_seq += (uint32_t)pl;
	if (f & TH_PUSH) {
		cur[l4 + 13] |= TH_PUSH;
		g->closed = true;
	}
	if (pl < g->mss)
		g->closed = true;
	return 1;
}

size_t tf_gro_flush(struct tf_gro *g)
{
	struct virtio_net_hdr vh = {0};
	uint8_t *p = g->buf + TF_VNET_HDR_LEN;
	size_t len = g->len;

	if (!len)
		return 0;
	g->len = 0;
	if (g->segs == 1) {
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		memcpy(g->buf, &vh, sizeof(vh));
		return TF_VNET_HDR_LEN + len;
	}
	size_t l4 = g->l4;
	if (l4 == 20) {
		put16(p + 2, (uint16_t)len);
		ip4_fix_header(p, 20);
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	} else {
		put16(p + 4, (uint16_t)(len - 40));
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not
	 * inverted, and the kernel finishes it only if the packet leaves
	 * the host (a local receiver trusts it, as for a GRO packet) */
	uint32_t s = tf_csum_pseudo(p, IPPROTO_TCP, (uint32_t)(len - l4));
	uint16_t c = (uint16_t)~tf_csum_fold(s);
	put_csum(p + l4 + 16, c);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.hdr_len = (uint16_t)g->hl;
	vh.gso_size = (uint16_t)g->mss;
	vh.csum_start = (uint16_t)l4;
	vh.csum_offset = 16;
	memcpy(g->buf, &vh, sizeof(vh));
	return TF_VNET_HDR_LEN + len;
}
