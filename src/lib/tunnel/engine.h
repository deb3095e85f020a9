/* SPDX-License-Identifier: ISC */
/*
 * The tunnel engine shared by the device's tunnel process (one peer: the
 * gateway) and twofold-gateway (many peers: the devices). Internal.
 *
 * Threads:
 *  - one tx worker per TUN queue: read (TSO super-packets with
 *    IFF_VNET_HDR), segment, encrypt, send in batches (sendmmsg, one
 *    UDP_SEGMENT run per equal-size burst);
 *  - one rx worker: recvmmsg (UDP_GRO) on the UDP socket, decrypt in
 *    place, write to TUN queue 0 with a vnet header (DATA_VALID: the AEAD
 *    authenticated it, as kernel WireGuard marks CHECKSUM_UNNECESSARY);
 *    handshake messages are handled there under the engine's write lock.
 *    A single receiver keeps every flow in order;
 *  - the caller's thread runs the timers (tf_eng_tick) and its own control
 *    channel (the daemon's socket, or signals for the gateway).
 * One rwlock (writer-preferring) guards peers and keypairs: the workers
 * hold it for reading per batch, handshakes and timers for writing; a
 * keypair is freed only under the write lock, so no worker can still hold
 * it. Counters are atomics. Nothing allocates per packet: each worker has
 * fixed buffers made at start.
 */
#ifndef TF_TUNNEL_ENGINE_H
#define TF_TUNNEL_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "twofold/tunnel.h"
#include "twofold/wg.h"

#define TF_ENG_MAX_PEERS 4096u
#define TF_ENG_PEER_ADDRS 4u
#define TF_ENG_SLOT_BITS 13 /* local index = random high bits | slot */

struct tf_eng_prefix {
	int family;
	uint8_t addr[16];
};

struct tf_eng_peer {
	bool used;
	uint32_t slot;
	char name[33];
	uint8_t suite;
	struct tf_wg_peer *wg;
	struct tf_wg_keypair *cur, *prev, *next;
	uint32_t hs_index; /* our pending initiation's sender index, 0 none */
	struct tf_wg_timers t;
	struct sockaddr_storage ep;
	socklen_t eplen; /* 0: not known yet (a gateway before a handshake) */
	uint8_t n_addr;
	struct tf_eng_prefix addr[TF_ENG_PEER_ADDRS];
	enum tf_tunnel_state state;
	int last_error;
	char reason[160];
	uint64_t handshakes, last_handshake_rt;
	/* written by the workers without the write lock */
	_Atomic uint64_t last_tx, last_rx, last_tx_data, last_rx_data;
	_Atomic uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	_Atomic uint64_t rejected, bad_source;
	_Atomic bool want_handshake; /* a packet found no session */
};

struct tf_eng;

/* Called (under the write lock) on every state change of a peer. */
typedef void (*tf_eng_state_fn)(struct tf_eng *e, struct tf_eng_peer *p,
				void *ctx);
/* Called (under the write lock) on a refused message, for the log. */
typedef void (*tf_eng_refuse_fn)(struct tf_eng *e, struct tf_eng_peer *p,
				 const char *why, void *ctx);

struct tf_eng_cfg {
	bool device; /* initiator; ICMP unreachable while down; the
			       UDP socket is connected */
	bool vnet;   /* TUN fds have IFF_VNET_HDR */
	unsigned mtu;
	int udp;
	unsigned n_tun;
	int tun[TF_TUNCTL_MAX_QUEUES];
	struct tf_wg_static *st[2]; /* [0] intl, [1] gm; NULL = not served */
	tf_eng_state_fn on_state;
	tf_eng_refuse_fn on_refuse;
	void *ctx;
};

struct tf_eng {
	struct tf_eng_cfg cfg;
	pthread_rwlock_t lock;
	struct tf_eng_peer *peers; /* TF_ENG_MAX_PEERS slots (calloc) */
	uint32_t n_slots;	   /* slots in use: 0..n_slots-1 */
	/* the gateway's inner address -> slot table (open addressing) */
	uint32_t *route;
	size_t route_cap;
	_Atomic uint64_t unknown, refused_suite;
	/* the device's last TCP SYNs sent (headers only): when the gateway
	 * turns out to be gone (ECONNREFUSED), they get their ICMP
	 * unreachable at once instead of waiting for the retransmission */
	pthread_mutex_t syn_lock;
	struct {
		uint64_t sent;
		uint16_t len;
		uint8_t hdr[128];
	} syn[8];
	unsigned syn_next;
	pthread_t threads[TF_TUNCTL_MAX_QUEUES + 1];
	unsigned n_threads;
	_Atomic bool stop;
};

int tf_eng_init(struct tf_eng *e, const struct tf_eng_cfg *cfg);
/* Add a peer (under the write lock taken by the caller, or before start).
 * Returns the slot. */
int tf_eng_peer_add(struct tf_eng *e, const char *name, uint8_t suite,
		    const uint8_t *pub, size_t publen, const uint8_t *psk,
		    const struct tf_eng_prefix *addr, size_t n_addr,
		    const struct sockaddr *ep, socklen_t eplen);
/* Remove a peer: its keypairs are freed at once (write lock held). */
void tf_eng_peer_remove(struct tf_eng *e, struct tf_eng_peer *p);
/* Rebuild the route table after adds/removes (write lock held). */
int tf_eng_routes_rebuild(struct tf_eng *e);
int tf_eng_start(struct tf_eng *e);
/* Run the timers once (takes the write lock); *next_ms: when to call
 * again. */
void tf_eng_tick(struct tf_eng *e, int *next_ms);
/* Mark a peer down with a reason (write lock held): keypairs dropped. */
void tf_eng_peer_down(struct tf_eng *e, struct tf_eng_peer *p, int err,
		      const char *reason);
/* Free every keypair, peer and static (wipes the keys); the threads are
 * left blocked in their syscalls: call only right before exiting. */
void tf_eng_wipe(struct tf_eng *e);

uint64_t tf_eng_now(void);
const char *tf_eng_state_name(enum tf_tunnel_state s);

#endif
