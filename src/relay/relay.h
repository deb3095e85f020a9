/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay's shared state (relay.c): the session table, the workers,
 * and what a request handler may call. Handlers of new ops (floor
 * control, calls, groups) are added to relay_dispatch() in relay.c and
 * follow the LOCKING RULE below.
 *
 * Threads: N workers (one per core by default), each with its own
 * SO_REUSEPORT UDP socket and TCP listener on the relay's port and its
 * own epoll; the kernel spreads flows over them. A worker may receive for
 * one session and send to any other: the session table is shared. Also:
 * the main thread (signals, housekeeping every 5 s) and, with --nats,
 * cnats' threads, whose callbacks deliver through a worker of their own
 * (nats.c) and take tab like a handler.
 *
 * LOCKING RULE (lock order: tab, then store_mu, then group_mu, then a
 * session's mu, then a TCP connection's mu; seen_mu and tcp_mu are
 * leaves; dl_lock before group_mu):
 *  - tab (rwlock) guards the table's shape: which slots are used, the
 *    officer index. A handler runs with tab READ-locked by the worker:
 *    it may look sessions up (relay_sess_by_id, relay_officer_each) and
 *    send to them, but must not take tab again (the rwlock prefers
 *    writers: a second read lock can deadlock behind a handshake), and
 *    the session pointers it holds are valid only until it returns (or
 *    until relay_store_begin).
 *  - a session's mu guards its channel state (send counter, replay
 *    window) and address; relay_send / relay_send_raw take it. Never
 *    hold one session's mu while taking another's (do not call
 *    relay_send with a mu held).
 *  - store_mu serialises every tf_store_* call: take it with
 *    relay_store_lock() around a read, or relay_store_begin/end around a
 *    call that commits (it fsyncs: the table is released meanwhile);
 *    never across a wait on anything else. relay_send under store_mu is
 *    allowed (order above).
 *  - group_mu guards the talk groups and floors (group.c, floor.c); their
 *    sends go to the batch of the worker holding it (tab held, read or
 *    write). The main thread ticks the floors' deadlines with its own
 *    batch (ctl_w). With --nats a group lives on the relay that owns it
 *    (gnats.c); gnats' callbacks take w_mu (their batch), then tab and
 *    group_mu through relay_groups_enter. Whoever sends floor events
 *    flushes its batch before releasing group_mu (relay_flush is
 *    allowed there): batches of different threads flushed after the
 *    unlock could reach a member out of the floor's order.
 *  - per-worker state (the output batch, the group commit batch) is the
 *    worker's own: pass the worker you were given, never another's.
 *  - group commit: op_send only appends to w->gc; relay_gc_flush takes
 *    store_mu with tab NOT held, then tab for reading to answer (the
 *    senders looked up again by id and serial). A handler that fills the
 *    batch flushes it with tab released and retaken, like
 *    relay_store_begin/end.
 */
#ifndef TWOFOLD_RELAY_RELAY_H
#define TWOFOLD_RELAY_RELAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "req.h"
#include "seen.h"
#include "store.h"
#include "twofold/comms.h"
#include "twofold/roster.h"

#define RELAY_MAX_SESSIONS 16384
#define RELAY_RECENT 64 /* per session: seqs a NATS notice's walk gave */
#define RELAY_OFFICER_BUCKETS 8192
#define RELAY_SEEN_MAX 65536
#define RELAY_BATCH 32	    /* datagrams per recvmmsg */
#define RELAY_OUT_BATCH 256 /* per sendmmsg: a batch fanned out to 8 */
#define RELAY_DGRAM_MAX 2048
#define RELAY_WORKERS_MAX 64
#define RELAY_GC_MAX 64 /* SENDs per group commit (--group-commit) */
/* INITs per second per worker above which it asks for cookies: a DH
 * costs ~0.3 ms (intl) / ~3 ms (gm), so this keeps a flood's share of a
 * core's CPU small while a burst of honest reconnects passes without an
 * extra round trip (--cookie-load) */
#define RELAY_COOKIE_LOAD 64

#define RELAY_TCP_MAX 1024	  /* connections, all workers (--max-tcp) */
#define RELAY_TCP_OUT (64 * 1024) /* queued bytes per connection */
#define RELAY_TCP_DEADLINE_S 10	  /* to finish a frame or a handshake */

/* ERROR codes (docs/comms-protocol.md): 4 is a FWD's recipient held by no
 * relay, 8 a BUNDLE_GET for an officer without prekeys; 5..7 are the talk
 * groups' (group.c) */
enum {
	ERR_BAD = 1,
	ERR_STORE = 2,
	ERR_FULL = 3,
	ERR_OFFLINE = 4,
	ERR_NO_PREKEYS = 8,
};

/* Where a datagram came from / a session's replies go: a UDP address, or
 * a TCP connection (tcp >= 0: its slot, and the slot's generation, so a
 * reply to a closed and reused slot is dropped). */
struct path {
	int32_t tcp;
	uint32_t gen;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* A TCP fallback connection (tcp.c): the same channel datagrams, each
 * framed by a big-endian u16 length. The owner worker reads it; any
 * worker may send to it (mu). Output is bounded: a frame that does not
 * fit is dropped (a slow consumer loses real-time frames, never blocks
 * anyone; stored messages wait for its next FETCH). */
struct tconn {
	pthread_mutex_t mu; /* fd, gen, out */
	int fd;		    /* -1: closed */
	bool busy;	    /* the slot is taken (tcp_mu) */
	uint32_t gen;
	struct worker *owner;
	bool want_out; /* EPOLLOUT registered */
	uint8_t *out;
	size_t out_len;
	/* the owner's only */
	uint8_t in[2 * (2 + 2048)];
	size_t in_len;
	/* read by housekeeping */
	_Atomic int64_t opened, last_rx, partial_since;
	_Atomic bool authed; /* a handshake or DATA authenticated on it */
};

struct sess {
	bool used;
	bool reserved; /* id handed to a handshake in progress */
	/* confirmed by the device's first DATA and in the officer index
	 * (routable, present on NATS); until then it replaces nothing and
	 * nothing is routed to it: a replayed INIT ends here (relay.c
	 * on_init). Written with tab write-held. */
	bool linked;
	int64_t born; /* CLOCK_MONOTONIC seconds: an unconfirmed one expires */
	uint32_t id;
	pthread_mutex_t mu; /* s, addr, addrlen */
	struct tf_comms_session *s;
	struct path path;
	char officer[TF_CERT_ID_MAX + 1];
	char devid[TF_CERT_ID_MAX + 1];	  /* its certificate's device id */
	char addr[TF_COMMS_ADDR_MAX + 1]; /* officer "/" devid: MSG/FROM's */
	uint64_t serial;
	uint8_t device[TF_ROSTER_DEVHASH_BYTES]; /* what a roster names */
	uint8_t role;				 /* its certificate's */
	int32_t next_officer;	   /* officer index chain; -1 ends it */
	_Atomic int64_t last_rx;   /* CLOCK_MONOTONIC seconds */
	_Atomic bool expired_said; /* "keys too old" logged once */
	/* its FETCH has walked the store (set under store_mu at the end
	 * of the walk): only then is a new message's MSG pushed to it.
	 * Before, the message is in the store and that walk brings it in
	 * the sender's order; a push that overtook the walk would show a
	 * sender's later message before the earlier ones waiting. */
	atomic_bool fetched;
	/* NATS notices walk the store on from cursor (store_mu; relay.c,
	 * doorbell_each); the seqs walked after it, up to walked_hi, are
	 * the last RELAY_RECENT in recent (a ring, npos written) */
	int64_t cursor, walked_hi;
	unsigned npos;
	int64_t recent[RELAY_RECENT];
};

struct relay;

/* A SEND waiting for the worker's group commit: a copy (the datagram's
 * buffer is reused) and who asked, by session id and serial, since the
 * session may be gone when the commit returns. */
struct relay_gc_item {
	uint32_t sid;
	uint64_t serial;
	char sender[TF_COMMS_ADDR_MAX + 1];
	char to[TF_COMMS_ADDR_MAX + 1];
	uint8_t id[RELAY_ID_BYTES];
	size_t len;
	uint8_t blob[TF_COMMS_PAYLOAD_MAX];
};

struct worker {
	struct relay *r;
	int idx, fd, ep, lfd; /* UDP socket, epoll, TCP listener */
	pthread_t th;
	/* the output batch, flushed with one sendmmsg after each input
	 * batch (or when full): fan-out costs one syscall per batch */
	unsigned on;
	struct mmsghdr om[RELAY_OUT_BATCH];
	struct iovec oiov[RELAY_OUT_BATCH];
	struct sockaddr_storage oaddr[RELAY_OUT_BATCH];
	uint8_t obuf[RELAY_OUT_BATCH][RELAY_DGRAM_MAX];
	uint64_t dropped; /* sendmmsg would block: UDP, dropped */
	/* SENDs gathered in this wakeup, committed together by
	 * relay_gc_flush (one fsync) before their STORED answers */
	unsigned gcn;
	struct relay_gc_item gc[RELAY_GC_MAX];
	struct tf_store_put_item gput[RELAY_GC_MAX];
	/* INITs this worker saw in the second init_sec (the load test) */
	int64_t init_sec;
	unsigned init_n;
};

struct relay {
	bool verbose;
	unsigned nworkers;
	int64_t idle_s; /* a session silent this long is dropped */
	unsigned expire_ticks;
	int stop_fd; /* eventfd: workers return when readable */
	struct tf_comms_relay cfg;
	struct tf_cert_anchor anchor;
	struct tf_denylist *dl;
	const char *dl_path;
	pthread_rwlock_t dl_lock;     /* cfg.dl (SIGHUP reloads it) */
	uint8_t *priv;		      /* secure memory */
	uint8_t pub[TF_NOISE_DH_MAX]; /* its public half */
	struct tf_store *store;
	pthread_mutex_t store_mu;
	unsigned store_reconnects; /* store->reconnects logged (store_mu) */
	pthread_rwlock_t tab;
	struct sess sess[RELAY_MAX_SESSIONS];
	int32_t officer_head[RELAY_OFFICER_BUCKETS];
	pthread_mutex_t seen_mu;
	struct relay_seen seen;
	struct worker *w[RELAY_WORKERS_MAX];
	pthread_mutex_t log_mu;
	unsigned max_tcp;
	pthread_mutex_t tcp_mu; /* slot allocation, ntcp */
	unsigned ntcp;
	struct tconn tcp[RELAY_TCP_MAX];
	struct relay_nats *nats;   /* NULL: one relay, in-process only */
	struct relay_gnats *gnats; /* talk groups across relays (gnats.c) */
	unsigned gc_max;	   /* SENDs per commit, 1..RELAY_GC_MAX */
	/* logged at exit (-v): SENDs committed, commits, the largest */
	_Atomic uint64_t gc_sends, gc_commits;
	_Atomic unsigned gc_largest;
	pthread_mutex_t group_mu;
	struct relay_groups *groups; /* talk groups and floors (group.c) */
	struct worker *ctl_w;	     /* the main thread's output batch */
	/* INIT flood defence (docs/comms-protocol.md "Cookies"): a worker
	 * that sees more than cookie_load INITs in a second (or every
	 * worker, with the test-only --cookie-always) is under load and
	 * answers INITs without a valid mac2 with a COOKIE instead of a
	 * DH. cookie_mu (a leaf) guards the secret. */
	unsigned cookie_load;
	bool cookie_always;
	pthread_mutex_t cookie_mu;
	int64_t cookie_birth;	/* CLOCK_MONOTONIC s; 0: none yet */
	uint8_t *cookie_secret; /* secure memory */
	/* counted for -v: DH done (tf_comms_relay_accept), COOKIEs sent,
	 * INITs dropped by mac1 */
	_Atomic uint64_t n_dh, n_cookies, n_mac1_bad;
	_Atomic uint64_t n_rekeys; /* handshakes that rekeyed a session */
	size_t n_unconfirmed; /* sessions with no DATA yet (tab write-held) */
	/* tests only (--reject-after): keys refused after this many s
	 * instead of TF_COMMS_REJECT_AFTER_S (0) */
	unsigned reject_after_s;
	uint64_t logged_dh, logged_cookies, logged_mac1_bad; /* main's */
};

void relay_log(struct relay *r, const char *fmt, ...) TF_PRINTF(2, 3);
#define logv relay_log

/* tab held (read or write). */
struct sess *relay_sess_by_id(struct relay *r, uint32_t id);
/* tab held: calls fn for every session of officer; returns how many. */
size_t relay_officer_each(struct relay *r, const char *officer,
			  void (*fn)(struct worker *, struct sess *, void *),
			  struct worker *w, void *arg);
/* tab held: the same for an address: "officer/device", the sessions
 * whose certificate names that device; a bare "officer", all of its. */
size_t relay_addr_each(struct relay *r, const char *addr,
		       void (*fn)(struct worker *, struct sess *, void *),
		       struct worker *w, void *arg);
/* Encrypt pt for s into w's output batch (s->mu taken inside). */
void relay_send(struct worker *w, struct sess *s, const uint8_t *pt,
		size_t len);
void relay_send_error(struct worker *w, struct sess *s, uint8_t code,
		      const char *text);
/* The same for one request (docs/comms-protocol.md ERROR): after the
 * text, 0x00 | u8 op | u8 n | name, and id (RELAY_ID_BYTES) for a SEND,
 * so a device with several requests in flight knows which one failed (a
 * device from before reads the text up to the NUL). name as the request
 * gave it; an empty or overlong one is left out. */
void relay_send_error_req(struct worker *w, struct sess *s, uint8_t code,
			  const char *text, uint8_t op, const char *name,
			  const uint8_t *id);
/* An unencrypted datagram (a RESP) along path. */
void relay_send_raw(struct worker *w, const uint8_t *p, size_t len,
		    const struct path *to);

/* tcp.c */
/* One datagram of a connection, or from UDP (relay.c). */
void relay_on_datagram(struct worker *w, const uint8_t *buf, size_t len,
		       const struct path *from);
void relay_tcp_init(struct relay *r);
/* EPOLLIN on w->lfd: accept (up to the cap). */
void relay_tcp_accept(struct worker *w);
/* an event on connection slot i (owned by w) */
void relay_tcp_event(struct worker *w, int32_t i, uint32_t events);
/* Frame p into connection (i, gen): 0, or -EAGAIN when dropped. Any
 * thread; takes the connection's mu (a leaf). */
int relay_tcp_send(struct relay *r, int32_t i, uint32_t gen, const uint8_t *p,
		   size_t len);
/* Housekeeping: shut down connections past their deadlines. */
void relay_tcp_housekeep(struct relay *r, int64_t now);
/* At exit, the workers joined. */
void relay_tcp_close_all(struct relay *r);
/* nats.c: NATS core between relays (--nats). Frames and stored messages
 * for a bare officer go to subject twofold.o.HEX(officer), for an
 * officer/device to twofold.d.HEX(officer).HEX(device); a relay with a
 * local session of that officer (device) is subscribed (interest is
 * presence). */
struct relay_nats_auth;
/* After the sandbox: connect to urls with auth (natsauth.h; NULL: no TLS,
 * no credentials), which is taken (freed at relay_nats_close, or here on
 * failure). A first connection a server refuses (TLS, credentials) is an
 * error; while every server is down it waits (retrying) for one. 0, or
 * -errno with one line in why. */
int relay_nats_open(struct relay *r, const char *urls,
		    struct relay_nats_auth *auth, char *why, size_t whylen);
void relay_nats_close(struct relay *r);
/* at shutdown, before relay_nats_close and relay_gnats_close: no cnats
 * handler runs past this (nats.c "Shutdown and cnats' threads"); every
 * handler (nats.c, gnats.c) is wrapped in enter/leave */
void relay_nats_quiesce(struct relay *r);
bool relay_nats_cb_enter(void);
/* last: waits (bounded) for cnats' library threads to end */
void relay_nats_end(void);
void relay_nats_cb_leave(void);
/* The cnats message handler NAME: NAME_cb run between enter and leave,
 * the message dropped when shutting down (nats.c, gnats.c) */
#define RELAY_NATS_MSG_HANDLER(name)                                           \
	static void name(natsConnection *nc, natsSubscription *sub,            \
			 natsMsg *msg, void *closure)                          \
	{                                                                      \
		if (!relay_nats_cb_enter()) {                                  \
			natsMsg_Destroy(msg);                                  \
			return;                                                \
		}                                                              \
		name##_cb(nc, sub, msg, closure);                              \
		relay_nats_cb_leave();                                         \
	}
/* tab write-held: the first local session of an address (a bare
 * officer: any of its devices; officer/device) appeared / the last one
 * left */
void relay_nats_addr_up(struct relay *r, const char *addr);
void relay_nats_addr_down(struct relay *r, const char *addr);
/* Any worker: hand a reply plaintext (FROM, MSG) for addr's devices on
 * other relays to NATS. No-op without --nats. */
void relay_nats_publish(struct relay *r, const char *addr, const uint8_t *pt,
			size_t len);
/* The same for a FWD with no local recipient (tab read-held): when no
 * relay holds addr, from gets ERROR 4 later (NATS "no responders"). */
void relay_nats_publish_fwd(struct relay *r, const char *addr,
			    const uint8_t *pt, size_t len,
			    const struct sess *from);
/* relay.c, for nats.c: deliver pt to addr's local sessions through w
 * (takes tab for reading); deliver every stored message to every local
 * session (after a NATS reconnect: notices may have been lost). */
size_t relay_deliver_local(struct worker *w, const char *addr,
			   const uint8_t *pt, size_t len);
void relay_redeliver_stored(struct worker *w);

/* nats.c, for gnats.c: the connection (valid until relay_nats_close) */
struct __natsConnection;
struct __natsConnection *relay_nats_conn(struct relay *r);
/* relay.c, for gnats.c: take tab for reading and group_mu, group.c's
 * sends going to w; leave releases both and flushes w. */
void relay_groups_enter(struct worker *w);
void relay_groups_leave(struct worker *w);
/* gnats.c: talk groups across relays (--nats). open after
 * relay_nats_open (lease_ms: the longest a grant lasts; node_id 0: a
 * random one); stop before relay_nats_close, close after it. */
int relay_gnats_open(struct relay *r, uint64_t lease_ms, uint64_t node_id);
void relay_gnats_stop(struct relay *r);
void relay_gnats_close(struct relay *r);
/* group_mu held (and tab): a device's group op (pt[0] 0x30..0x3f) */
int relay_gnats_request(struct worker *w, struct sess *s, const uint8_t *pt,
			size_t n);
/* group_mu held: group.c sent pt to local session s / to a member on
 * another relay (vid has RELAY_VSESS); s left the relay */
void relay_gnats_sent(struct relay *r, struct sess *s, const uint8_t *pt,
		      size_t n);
void relay_gnats_remote(struct relay *r, uint32_t vid, const uint8_t *pt,
			size_t n);
void relay_gnats_sess_gone(struct relay *r, struct sess *s);

/* epoll tags */
#define RELAY_TAG_UDP 1ull
#define RELAY_TAG_LISTEN 2ull
#define RELAY_TAG_STOP 3ull
#define RELAY_TAG_CONN (1ull << 32) /* | slot */
void relay_flush(struct worker *w);
/* Commit the SENDs w gathered (tf_store_put_many), then answer each one
 * (STORED, or "retry later") and notify the recipients. The worker loop
 * calls it with tab NOT held, after each input batch (a recvmmsg, the
 * frames of one TCP read) and before relay_flush. */
void relay_gc_flush(struct worker *w);
/* A store call that commits (an fsync, milliseconds) without holding
 * the table: begin releases the handler's read lock on tab and takes
 * store_mu; end releases store_mu, takes tab back and returns the
 * session again, or NULL when it was dropped meanwhile. Every session
 * pointer is stale across the pair: copy what you need (the officer id)
 * before begin. Without it a SEND's fsync would hold tab, and a
 * handshake waiting for the write lock (writer-preferring) would stall
 * all forwarding behind it. */
struct relay_store_ctx {
	uint32_t id;
	uint64_t serial;
};
void relay_store_begin(struct worker *w, struct sess *s,
		       struct relay_store_ctx *c);
struct sess *relay_store_end(struct worker *w, const struct relay_store_ctx *c);
static inline void relay_store_lock(struct relay *r)
{
	pthread_mutex_lock(&r->store_mu);
}
/* A backend that reconnected (PostgreSQL after a failover) says so in
 * the log once per new session: what an operator looks for after a
 * primary went away */
static inline void relay_store_unlock(struct relay *r)
{
	unsigned n = r->store->reconnects;

	if (n != r->store_reconnects) {
		r->store_reconnects = n;
		relay_log(r, "message store: reconnected (%u so far)", n);
	}
	pthread_mutex_unlock(&r->store_mu);
}

#endif
