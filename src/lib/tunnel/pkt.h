/* SPDX-License-Identifier: ISC */
/*
 * Packet helpers of the tunnel data path (internal to src/lib/tunnel and
 * the gateway; tests/unit/tunnel tests them): the Internet checksum, the
 * segmentation of a TUN super-packet (IFF_VNET_HDR + TUNSETOFFLOAD TSO)
 * into MSS-sized IP packets, the ICMP(v6) "network unreachable" answer
 * written back into the TUN while no session is up, and the inner
 * addresses of a packet (the gateway's allowed-ips check).
 *
 * Nothing here allocates: every function works in buffers the caller
 * owns (the data path's per-thread arenas).
 */
#ifndef TF_TUNNEL_PKT_H
#define TF_TUNNEL_PKT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

/* The largest packet a TUN read gives with TSO on (64 KiB + headers). */
#define TF_PKT_MAX 65536u
#define TF_VNET_HDR_LEN sizeof(struct virtio_net_hdr)

/* RFC 1071 one's-complement sum of len bytes, folded into 16 bits but
 * not inverted, starting from sum (for pseudo-headers). */
uint32_t tf_csum_partial(const void *data, size_t len, uint32_t sum);
uint16_t tf_csum_fold(uint32_t sum);
/* The pseudo-header sum of an IPv4/IPv6 packet's L4 (proto, l4len). */
uint32_t tf_csum_pseudo(const uint8_t *ip, uint8_t proto, uint32_t l4len);

/* Complete a NEEDS_CSUM packet in place: the one's-complement sum from
 * csum_start to the end stored at csum_start + csum_offset (the kernel
 * left the pseudo-header sum there). -EINVAL if out of bounds. */
int tf_pkt_csum_finish(uint8_t *pkt, size_t len, uint16_t csum_start,
		       uint16_t csum_offset);

/* Segment callback: one finished IP packet (len bytes at pkt), valid only
 * during the call. Return 0 to go on, <0 to stop (returned). */
typedef int (*tf_seg_fn)(void *ctx, uint8_t *pkt, size_t len);

/* A TUN read with its virtio_net_hdr: calls emit once per IP packet.
 * GSO_NONE: the packet (checksum finished when NEEDS_CSUM). GSO_TCPV4/6:
 * one packet per gso_size of payload with its own IP total length, id,
 * header checksum, TCP sequence number, flags (FIN/PSH only on the last,
 * CWR only on the first) and TCP checksum. scratch must hold
 * hdr_len + gso_size bytes (TF_PKT_MAX is always enough). Returns the
 * number of packets emitted or -EINVAL for a malformed header (the
 * packet is dropped: it came from our own kernel, so this is a bug
 * guard, not a parser of hostile input). */
int tf_pkt_segment(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len,
		   uint8_t *scratch, size_t scratch_cap, tf_seg_fn emit,
		   void *ctx);

/* The answer to an IP packet that cannot be sent because no session is
 * up: ICMP destination unreachable / network unreachable (v4) or ICMPv6
 * destination unreachable / no route (v6), from the packet's destination
 * to its source, quoting as much of it as fits in 576 (v4) or 1280 (v6)
 * bytes. Written to out (cap >= 1280). Returns its length, 0 when no
 * answer is due (an ICMP error itself, a non-first fragment, a
 * multicast/broadcast or unspecified source, a malformed packet). */
size_t tf_pkt_unreachable(const uint8_t *pkt, size_t len, uint8_t *out,
			  size_t cap);

/* The IP version, source and destination of a packet (v4: 4 bytes, v6:
 * 16 in src/dst). -EINVAL if it is not a well-formed IPv4/IPv6 header
 * whose total length fits in len. *iplen gets the IP total length (a
 * packet may be padded). */
struct tf_pkt_addrs {
	int family; /* AF_INET / AF_INET6 */
	uint8_t src[16], dst[16];
	size_t iplen;
};
int tf_pkt_addrs(const uint8_t *pkt, size_t len, struct tf_pkt_addrs *out);

#endif

/* Receive coalescing (GRO) for TUN writes with a vnet header: consecutive
 * in-order TCP segments of one flow become one super-packet written in
 * one write(2) (gso_type TCPV4/6, NEEDS_CSUM), which the kernel takes
 * whole, as GRO would have made it on a real NIC. Merged only when Linux's
 * tcp_gro_receive would: same addresses, ports, ack, window, TOS/TTL (v4:
 * no options, not a fragment), identical TCP options, flags ACK (PSH on
 * the last), sequence contiguous, every segment but the last exactly the
 * first's size. */
struct tf_gro {
	uint8_t buf[TF_VNET_HDR_LEN + 65535];
	size_t len; /* of the IP packet in buf + TF_VNET_HDR_LEN; 0 = empty */
	size_t l4, hl, mss;
	unsigned segs;
	uint32_t next_seq;
	bool closed; /* a short segment or PSH ended it */
};

/* Take pkt (a whole IP packet, checksums valid): 1 = appended to the
 * packet being built, 0 = not mergeable (the caller flushes with
 * tf_gro_flush and then calls tf_gro_add again: an empty tf_gro takes
 * any packet that fits). */
int tf_gro_add(struct tf_gro *g, const uint8_t *pkt, size_t len);
/* The bytes to write (vnet header + packet) at buf, 0 if empty; the
 * tf_gro is empty afterwards. A single packet gets a GSO_NONE header
 * with DATA_VALID (the AEAD authenticated it, as kernel WireGuard marks
 * CHECKSUM_UNNECESSARY). */
size_t tf_gro_flush(struct tf_gro *g);
