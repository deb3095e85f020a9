/* SPDX-License-Identifier: ISC */
/*
 * The device's tunnel process (issue 12): the data path between a
 * persona's TUN device and the organisation's gateway, and its control
 * protocol with twofoldd.
 *
 *   twofoldd ── spawner (clean memory) ──clone──> tunnel process
 *      │  SOCK_SEQPACKET socketpair, fixed-size messages below
 *      │  CONFIG (+ SCM_RIGHTS: n_tun TUN queue fds, then the UDP socket)
 *      │  STATUS_REQ                  ──>
 *      │  <──  STATUS (on request, and unsolicited on every state change)
 *
 * The tunnel process holds the persona's tunnel private key and nothing
 * else of the daemon's: it is forked from the spawner, which never saw a
 * secret, and gets the key in CONFIG. After CONFIG it drops to an
 * unprivileged uid, no capabilities, no_new_privs and a seccomp allowlist
 * (it needs only its fds). The UDP socket was made by the daemon in the
 * device's uplink namespace; the TUN queues in the persona's namespace: so
 * nothing in the persona can send on the underlay, and the tunnel process
 * can reach nothing but its two ends. When it dies its TUN queues close,
 * the device goes away with its routes, and the persona's connects fail
 * with ENETUNREACH (lockdown by construction). While no session is up it
 * answers every packet from the TUN with ICMP(v6) "network unreachable",
 * so connects fail at once instead of timing out.
 *
 * Both ends are ours and local; every message is still checked for its
 * exact size, type and version (a mismatch closes the channel).
 */
#ifndef TWOFOLD_TUNNEL_H
#define TWOFOLD_TUNNEL_H

#include <sys/socket.h>

#include "twofold/common.h"

#define TF_TUNCTL_VERSION 1u
#define TF_TUNCTL_MAX_QUEUES 8u
#define TF_TUN_KEY_BYTES 32u /* private keys (X25519, SM2 d) */
#define TF_TUN_PUB_MAX 65u   /* largest public key (SM2 04||x||y) */

enum tf_tunctl_type {
	TF_TUNCTL_CONFIG = 1,	  /* daemon -> tunnel, once, with the fds */
	TF_TUNCTL_STATUS_REQ = 2, /* daemon -> tunnel */
	TF_TUNCTL_STATUS = 3,	  /* tunnel -> daemon */
};

/* tf_tunctl_config.flags */
#define TF_TUNCTL_F_VNET_HDR 0x1u /* the TUN fds were made with IFF_VNET_HDR */

struct tf_tunctl_config {
	uint32_t type;	  /* TF_TUNCTL_CONFIG */
	uint32_t version; /* TF_TUNCTL_VERSION */
	uint8_t suite;	  /* enum tf_suite_id: TF_SUITE_INTL / TF_SUITE_GM */
	uint8_t n_tun;	  /* TUN queue fds in SCM_RIGHTS, 1..MAX_QUEUES */
	uint16_t mtu;	  /* of the TUN device */
	uint16_t keepalive_s; /* persistent keepalive, 0 = off */
	uint16_t peer_pub_len;
	uint32_t flags;
	uint32_t uid, gid; /* to drop to after taking the fds */
	uint8_t local_priv[TF_TUN_KEY_BYTES];
	uint8_t peer_pub[TF_TUN_PUB_MAX];
	uint8_t has_psk;
	uint8_t psk[32];
	struct sockaddr_storage endpoint; /* the gateway (the UDP socket is
					     connected to it) */
	char persona[33];		  /* for log lines */
};

enum tf_tunnel_state {
	TF_TUNNEL_DOWN = 0, /* no session; packets get ICMP unreachable */
	TF_TUNNEL_HANDSHAKING = 1, /* initiation sent, no session yet */
	TF_TUNNEL_UP = 2,	   /* a session within its lifetime */
};

struct tf_tunctl_status {
	uint32_t type;		     /* TF_TUNCTL_STATUS */
	uint32_t version;	     /* TF_TUNCTL_VERSION */
	uint32_t state;		     /* enum tf_tunnel_state */
	int32_t last_error;	     /* -errno of the last failure, or 0 */
	uint64_t last_handshake;     /* CLOCK_REALTIME, ns; 0 = never */
	uint64_t rx_bytes, tx_bytes; /* inner (plaintext) bytes */
	uint64_t rx_packets, tx_packets;
	uint64_t handshakes; /* completed */
	uint64_t rejected;   /* packets dropped as invalid */
	char reason[160];    /* one line: why down / last failure */
};

/* The tunnel process body (the spawner's child): reads CONFIG from ctl,
 * runs the data path until ctl is closed (the daemon's end), then exits.
 * Never returns. */
TF_EXPORT TF_NORETURN void tf_tunnel_main(int ctl);

#endif
