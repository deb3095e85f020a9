/* SPDX-License-Identifier: ISC */
/*
 * tf_tunnel_main (twofold/tunnel.h): the device's tunnel process. One
 * peer, the organisation's gateway, on a UDP socket the daemon connected
 * to it; the persona's TUN queues. Initiates at start and keeps the
 * session up; answers initiations too (so the gateway may initiate).
 *
 * Order of things, each step for a reason:
 *  1. CONFIG and the fds arrive; the key is copied into locked memory and
 *     the received copy wiped.
 *  2. the crypto libraries initialise (they may read files: before
 *     seccomp) and the static key is set up.
 *  3. drop to cfg.uid/gid, no capabilities, no_new_privs, not dumpable,
 *     seccomp: the process now holds only its fds and can open nothing.
 *  4. the workers start (they inherit the filter).
 *  5. the main thread runs the timers and answers STATUS_REQ; when the
 *     daemon's end closes, the keys are wiped and the process exits.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <sodium.h>

#include "ctl.h"
#include "engine.h"
#include "tunnel_internal.h"
#include "twofold/crypto.h"
#include "twofold/log.h"
#include "twofold/net.h"
#include "twofold/sandbox.h"
#include "twofold/secmem.h"
#include "twofold/tunnel.h"

struct dev {
	int ctl;
	struct tf_eng e;
	const char *persona;
};

static void send_status(struct dev *d, struct tf_eng_peer *p)
{
	struct tf_tunctl_status s = {0};

	s.type = TF_TUNCTL_STATUS;
	s.version = TF_TUNCTL_VERSION;
	s.state = p->state;
	s.last_error = p->last_error;
	s.last_handshake = p->last_handshake_rt;
	s.rx_bytes = atomic_load(&p->rx_bytes);
	s.tx_bytes = atomic_load(&p->tx_bytes);
	s.rx_packets = atomic_load(&p->rx_packets);
	s.tx_packets = atomic_load(&p->tx_packets);
	s.handshakes = p->handshakes;
	/* the device's socket is connected to its one peer: whatever
	 * arrives on it and is not valid (no peer matched: a bad type,
	 * mac1 or receiver index) is refused from that peer too */
	s.rejected = atomic_load(&p->rejected) + atomic_load(&d->e.unknown);
	snprintf(s.reason, sizeof(s.reason), "%s", p->reason);
	(void)!send(d->ctl, &s, sizeof(s), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_state(struct tf_eng *e, struct tf_eng_peer *p, void *ctx)
{
	struct dev *d = ctx;
	tf_info("tunnel %s: %s%s%s", d->persona, tf_eng_state_name(p->state),
		p->reason[0] ? ": " : "", p->reason);
	send_status(d, p);
}

static void on_refuse(struct tf_eng *e, struct tf_eng_peer *p, const char *why,
		      void *ctx)
{
	struct dev *d = ctx;
	static uint64_t last; /* under the engine's write lock */
	uint64_t now = tf_eng_now();

	/* the STATUS carries every refusal (count and reason); the log
	 * gets at most one a second */
	if (last && now - last < TF_WG_NSEC)
		return;
	last = now;
	tf_warn("tunnel %s: %s", d->persona, why);
}

/* the CONFIG copy (key, psk) in locked memory: wiped on every exit */
static struct tf_tunctl_config *cfg_mem;

TF_NORETURN static void die(int ctl, const char *what, int err)
{
	struct tf_tunctl_status s = {.type = TF_TUNCTL_STATUS,
				     .version = TF_TUNCTL_VERSION,
				     .state = TF_TUNNEL_DOWN,
				     .last_error = err};
	snprintf(s.reason, sizeof(s.reason), "tunnel process: %s", what);
	(void)!send(ctl, &s, sizeof(s), MSG_NOSIGNAL | MSG_DONTWAIT);
	tf_err("%s", s.reason);
	tf_secure_free(cfg_mem);
	_exit(1);
}

void tf_tunnel_main(int ctl)
{
	struct tf_tunctl_config *cfg = tf_secure_alloc(sizeof(*cfg));
	cfg_mem = cfg;
	int fds[TF_TUNCTL_MAX_QUEUES + 1];
	size_t nfds = 0;
	char why[160];
	static struct dev d;
	int r;

	tf_log_init("twofold-tunnel", TF_LOG_INFO);
	/* a core dump or ptrace by the dropped uid must not read the key */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (!cfg)
		die(ctl, "cannot lock memory for the key", -ENOMEM);
	r = tf_tunctl_recv_config(ctl, cfg, fds, &nfds, why, sizeof(why));
	if (r < 0)
		die(ctl, why, r);
	r = tf_crypto_init();
	if (r < 0)
		die(ctl, "crypto libraries failed to initialise", r);

	struct tf_eng_cfg ec = {
		.device = true,
		.vnet = cfg->flags & TF_TUNCTL_F_VNET_HDR,
		.mtu = cfg->mtu,
		.udp = fds[cfg->n_tun],
		.n_tun = cfg->n_tun,
		.on_state = on_state,
		.on_refuse = on_refuse,
		.ctx = &d,
	};
	memcpy(ec.tun, fds, sizeof(int) * cfg->n_tun);
	struct tf_wg_static *st = NULL;
	r = tf_wg_static_new(cfg->suite, cfg->local_priv, &st);
	sodium_memzero(cfg->local_priv, sizeof(cfg->local_priv));
	if (r < 0)
		die(ctl, "the tunnel key is not a valid key of its suite", r);
	ec.st[cfg->suite == TF_SUITE_GM ? 1 : 0] = st;
	d.ctl = ctl;
	d.persona = cfg->persona;
	r = tf_eng_init(&d.e, &ec);
	if (r < 0)
		die(ctl, "out of memory", r);
	socklen_t eplen = cfg->endpoint.ss_family == AF_INET6
				  ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in);
	r = tf_eng_peer_add(&d.e, cfg->persona, cfg->suite, cfg->peer_pub,
			    cfg->peer_pub_len, cfg->has_psk ? cfg->psk : NULL,
			    NULL, 0, (const struct sockaddr *)&cfg->endpoint,
			    eplen);
	sodium_memzero(cfg->psk, sizeof(cfg->psk));
	if (r < 0)
		die(ctl,
		    "peer key rejected (not a valid public key of the "
		    "suite)",
		    r);
	d.e.peers[0].t.persistent_keepalive = cfg->keepalive_s;

	/* 3. least privilege: from here on the process has its fds only */
	r = tf_privs_drop(cfg->uid, cfg->gid);
	if (r == 0)
		r = tf_caps_drop_all();
	if (r == 0)
		r = tf_nnp_set();
	/* again: a uid change resets "dumpable" to fs.suid_dumpable, which
	 * a host may set to 1 (its own uid could then ptrace it and read
	 * /proc/PID/mem: the key) */
	if (r == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		r = tf_negerrno();
	if (r < 0)
		die(ctl, "cannot drop privileges", r);
	r = tf_tunnel_seccomp();
	if (r < 0)
		die(ctl, "cannot load the seccomp filter", r);

	r = tf_eng_start(&d.e);
	if (r < 0)
		die(ctl, "cannot start the worker threads", r);
	send_status(&d, &d.e.peers[0]);

	int next_ms = 0;
	for (;;) {
		struct pollfd pf = {ctl, POLLIN, 0};
		int n = poll(&pf, 1, next_ms);
		if (n > 0) {
			uint8_t msg[64];
			ssize_t k = recv(ctl, msg, sizeof(msg), MSG_DONTWAIT);
			if (k == 0 ||
			    (k < 0 && errno != EAGAIN && errno != EINTR) ||
			    (pf.revents & (POLLHUP | POLLERR) && k <= 0))
				break;
			if (k > 0) {
				if (tf_tunctl_req_check(msg, (size_t)k) < 0)
					break; /* a mismatch closes the channel */
				pthread_rwlock_wrlock(&d.e.lock);
				send_status(&d, &d.e.peers[0]);
				pthread_rwlock_unlock(&d.e.lock);
			}
		}
		tf_eng_tick(&d.e, &next_ms);
	}
	tf_eng_wipe(&d.e);
	tf_secure_free(cfg);
	_exit(0);
}
