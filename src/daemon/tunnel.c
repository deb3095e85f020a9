/* SPDX-License-Identifier: ISC */
/*
 * The daemon's side of `network = tunnel` (docs/network.md; issue 12):
 *
 *  - the persona's tunnel key: device-bound, derived from the device
 *    secret (tf_keystore_derive, info "twofold tunnel key v1 SUITE
 *    PERSONA"), never stored, so it exists while the persona is locked or
 *    evicted and never enters the persona;
 *  - tun0 in the persona's network namespace (which the daemon owns and
 *    which outlives the persona), its addresses and routes;
 *  - the UDP socket in the daemon's own (uplink) namespace, bound to
 *    tunnel_listen_port and connected to tunnel_endpoint;
 *  - the tunnel process (twofold/tunnel.h), cloned from the spawner (it
 *    never carries the daemon's memory) outside every persona, given both
 *    by SCM_RIGHTS in CONFIG, then supervised on the loop: its pidfd says
 *    when it dies, its control socket brings STATUS. A dead one is
 *    restarted 1 s later, doubling to 30 s, back to 1 s after 60 s up;
 *    each restart re-creates tun0 (the old one went with the process's
 *    queue fds), so the persona's traffic resumes without its restart.
 *
 * The daemon keeps no TUN or UDP fd once CONFIG is sent: the device lives
 * exactly as long as the process, and while it is gone the persona has
 * lo only and every connect fails with ENETUNREACH (lockdown by
 * construction: no interface of the persona reaches the underlay).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twofold/keys.h"
#include "twofold/log.h"
#include "twofold/net.h"
#include "twofold/persona.h"
#include "twofold/secmem.h"
#include "twofold/suite.h"
#include "twofold/tunnel.h"
#include "daemon.h"

#define NS_PER_S 1000000000ull
#define BACKOFF_FIRST_S 1u
#define BACKOFF_MAX_S 30u
#define UP_RESETS_BACKOFF_NS (60ull * NS_PER_S)

const char *tfd_tunnel_state_name(const struct tfd_tunnel *t)
{
	if (!t->configured)
		return "not-configured";
	if (!t->running)
		return t->restart_pending ? "restarting" : "down";
	if (!t->have_status)
		return "down";
	switch (t->st.state) {
	case TF_TUNNEL_HANDSHAKING: return "handshaking";
	case TF_TUNNEL_UP: return "up";
	default: return "down";
	}
}

/* how long the last refusal stays the error of an up tunnel */
#define TFD_REFUSAL_SHOWN_NS (300ull * 1000000000ull)

const char *tfd_tunnel_error(const struct tfd_tunnel *t)
{
	if (!t->configured || !t->running)
		return t->error[0] ? t->error : NULL;
	if (t->have_status && t->st.state != TF_TUNNEL_UP && t->st.reason[0])
		return t->st.reason;
	/* up, but its datagrams are too big for the underlay */
	if (t->have_status && t->st.last_error == -EMSGSIZE && t->st.reason[0])
		return t->st.reason;
	if (t->refusal[0] &&
	    tf_boottime_ns() - t->refusal_bt_ns < TFD_REFUSAL_SHOWN_NS)
		return t->refusal;
	return NULL;
}

/* ------------------------------------------------------------ the key */

/* X25519 (RFC 7748 §5): the 32 derived bytes, clamped. */
static int key_intl(struct tfd *d, const char *info, uint8_t *priv,
		    uint8_t *pub, size_t *publen)
{
	int r = tf_keystore_derive(d->ks, info, priv, 32);

	if (r < 0)
		return r;
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
	if (crypto_scalarmult_base(pub, priv) != 0)
		return -EIO;
	*publen = 32;
	return 0;
}

/* SM2: d = (48 derived bytes mod (n - 1)) + 1, so 1 <= d <= n - 1 (the
 * 16 extra bytes keep the bias below 2^-128, as gm.c's seed keys), and
 * the public point d*G as 04 || x || y. */
static int key_gm(struct tfd *d, const char *info, uint8_t *priv, uint8_t *pub,
		  size_t *publen)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	BIGNUM *x = BN_secure_new(), *m = BN_new();
	BN_CTX *bctx = BN_CTX_secure_new();
	EC_POINT *pt = NULL;
	uint8_t *wide = tf_secure_alloc(48);
	int r = -EIO;

	if (g == NULL || x == NULL || m == NULL || bctx == NULL || wide == NULL)
		goto out;
	r = tf_keystore_derive(d->ks, info, wide, 48);
	if (r < 0)
		goto out;
	r = -EIO;
	BN_set_flags(x, BN_FLG_CONSTTIME);
	if (BN_copy(m, EC_GROUP_get0_order(g)) == NULL || !BN_sub_word(m, 1) ||
	    BN_bin2bn(wide, 48, x) == NULL || !BN_nnmod(x, x, m, bctx) ||
	    !BN_add_word(x, 1) || BN_bn2binpad(x, priv, 32) != 32)
		goto out;
	pt = EC_POINT_new(g);
	if (pt == NULL || !EC_POINT_mul(g, pt, x, NULL, NULL, bctx) ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, 65,
			       bctx) != 65)
		goto out;
	*publen = 65;
	r = 0;
out:
	if (r < 0)
		tf_memzero(priv, 32);
	tf_secure_free(wide);
	EC_POINT_free(pt);
	BN_clear_free(x);
	BN_free(m);
	BN_CTX_free(bctx);
	EC_GROUP_free(g);
	return r;
}

/* Is pk a point of the SM2 curve (not infinity)? */
static bool gm_point_valid(const uint8_t *pk, size_t len)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *q = g ? EC_POINT_new(g) : NULL;
	bool ok = q && len == 65 && pk[0] == 0x04 &&
		  EC_POINT_oct2point(g, q, pk, len, NULL) &&
		  !EC_POINT_is_at_infinity(g, q) &&
		  EC_POINT_is_on_curve(g, q, NULL) == 1;

	EC_POINT_free(q);
	EC_GROUP_free(g);
	return ok;
}

static const char *suite_name(uint8_t id)
{
	const struct tf_suite_info *si = tf_suite_info_by_id(id);
	return si ? si->name : "?";
}

int tfd_tunnel_key(struct tfd *d, const struct tfd_persona *p, uint8_t suite,
		   uint8_t *priv, uint8_t *pub, size_t *publen)
{
	char info[96];

	if (d->ks == NULL || tfd_keystore_busy(d))
		return -EBUSY;
	snprintf(info, sizeof(info), "twofold tunnel key v1 %s %s",
		 suite_name(suite), p->cfg->name);
	if (suite == TF_SUITE_INTL)
		return key_intl(d, info, priv, pub, publen);
	if (suite == TF_SUITE_GM)
		return key_gm(d, info, priv, pub, publen);
	return -EPROTONOSUPPORT;
}

/* --------------------------------------------------------- the set-up */

static unsigned queue_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > (long)TF_TUNCTL_MAX_QUEUES ? TF_TUNCTL_MAX_QUEUES
					      : (unsigned)n;
}

/* The UDP socket of the tunnel, in the daemon's (uplink) namespace:
 * bound to tunnel_listen_port (0: the kernel picks) and connected to the
 * gateway, so it takes datagrams from nobody else. */
static int udp_socket(const struct tf_tunnel_cfg *tc, uint32_t mark,
		      uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_storage a = {0}, got;
	socklen_t alen, glen = sizeof(got);
	int fam = tc->endpoint.ss_family;
	_cleanup_close_ int fd = -1;
	char ep[80];

	tf_sockaddr_format((const struct sockaddr *)&tc->endpoint, ep,
			   sizeof(ep));
	fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = tf_negerrno();
		snprintf(err, errlen, "cannot make the tunnel's UDP socket: %s",
			 strerror(-e));
		return e;
	}
	/* the firewall's handle on this socket (TFD_TUNNEL_MARK): it may
	 * send to the endpoint only */
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		int e = tf_negerrno();
		snprintf(err, errlen, "cannot mark the tunnel's UDP socket: %s",
			 strerror(-e));
		return e;
	}
	if (fam == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)tc->listen_port);
		alen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons((uint16_t)tc->listen_port);
		alen = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&a, alen) < 0) {
		int e = tf_negerrno();
		snprintf(err, errlen,
			 "cannot bind the tunnel's UDP socket to port %u: %s "
			 "(tunnel_listen_port)",
			 tc->listen_port, strerror(-e));
		return e;
	}
	if (connect(fd, (const struct sockaddr *)&tc->endpoint,
		    tc->endpoint_len) < 0) {
		int e = tf_negerrno();
		snprintf(err, errlen, "cannot reach tunnel endpoint %s: %s", ep,
			 strerror(-e));
		return e;
	}
	if (getsockname(fd, (struct sockaddr *)&got, &glen) == 0)
		*port = ntohs(got.ss_family == AF_INET6
				      ? ((struct sockaddr_in6 *)&got)->sin6_port
				      : ((struct sockaddr_in *)&got)->sin_port);
	return steal_fd(&fd);
}

/* tun0 in the persona's namespace with its MTU, addresses and routes:
 * queue fds in fds[0..*nq). Nothing stays behind on failure (the device
 * goes with its last fd). */
static int make_tun(struct tfd_persona *p, int *fds, unsigned *nq,
		    unsigned *flags_out, char *err, size_t errlen)
{
	const struct tf_tunnel_cfg *tc = &p->cfg->tunnel;
	unsigned n = queue_count(), fl = 0;
	char what[80];
	int r;

	r = tf_net_tun_create(tfd_netns_fd(p), "tun0", n, TF_TUN_VNET_HDR, fds,
			      &fl);
	if (r < 0) {
		snprintf(err, errlen,
			 "cannot create tun0 in %s's namespace: %s",
			 p->cfg->name, strerror(-r));
		return r;
	}
	/* no IPv6 address in the tunnel: no IPv6 on tun0 either (else the
	 * kernel gives it a link-local address and sends router and
	 * neighbour solicitations into the tunnel, kernel 6.18) */
	{
		bool v6 = false;
		for (unsigned i = 0; i < tc->n_addr; i++)
			v6 |= tc->addr[i].family == AF_INET6;
		if (!v6 &&
		    tf_net_sysctl(tfd_netns_fd(p),
				  "net/ipv6/conf/tun0/disable_ipv6", "1") < 0)
			tf_debug("%s: cannot disable IPv6 on tun0",
				 p->cfg->name);
	}
	/* allowed-ips on the device's side: a packet from the gateway whose
	 * inner source is outside tunnel_routes (a hostile or compromised
	 * gateway posing as an internet host) has no route back through tun0
	 * and strict reverse-path filtering drops it (IPv4: the effective
	 * value is the larger of all's and tun0's) */
	if ((r = tf_net_sysctl(tfd_netns_fd(p), "net/ipv4/conf/all/rp_filter",
			       "1")) < 0 ||
	    (r = tf_net_sysctl(tfd_netns_fd(p), "net/ipv4/conf/tun0/rp_filter",
			       "1")) < 0) {
		snprintf(err, errlen,
			 "cannot set rp_filter on tun0 of %s: %s (a gateway "
			 "could spoof inner sources)",
			 p->cfg->name, strerror(-r));
		goto fail;
	}
	r = tf_net_link_up(tfd_netns_fd(p), "tun0", tc->mtu ? tc->mtu : 1420);
	if (r < 0) {
		snprintf(err, errlen, "cannot set tun0 of %s up (mtu %u): %s",
			 p->cfg->name, tc->mtu, strerror(-r));
		goto fail;
	}
	for (unsigned i = 0; i < tc->n_addr; i++) {
		r = tf_net_addr_add(tfd_netns_fd(p), "tun0", &tc->addr[i]);
		if (r < 0 && r != -EEXIST) {
			tf_cidr_format(&tc->addr[i], what, sizeof(what));
			snprintf(err, errlen,
				 "cannot add address %s to tun0 of %s: %s",
				 what, p->cfg->name, strerror(-r));
			goto fail;
		}
	}
	for (unsigned i = 0; i < tc->n_routes; i++) {
		r = tf_net_route_add(tfd_netns_fd(p), "tun0", &tc->routes[i],
				     NULL);
		if (r < 0) {
			tf_cidr_format(&tc->routes[i], what, sizeof(what));
			snprintf(err, errlen,
				 "cannot add route %s via tun0 of %s: %s", what,
				 p->cfg->name, strerror(-r));
			goto fail;
		}
	}
	if (tc->n_routes == 0) {
		/* tunnel_routes' default: everything goes to the tunnel */
		struct tf_cidr all = {.family = AF_INET, .len = 0};
		r = tf_net_route_add(tfd_netns_fd(p), "tun0", &all, NULL);
		if (r < 0) {
			snprintf(err, errlen,
				 "cannot add the default route via tun0 of "
				 "%s: %s",
				 p->cfg->name, strerror(-r));
			goto fail;
		}
	}
	/* the same for every family, in the persona's namespace (which it
	 * cannot change): a packet from tun0 must come from inside
	 * tunnel_routes (rp_filter has no IPv6 counterpart) */
	{
		char rs[2048], nerr[256] = "", v4[1024] = "", v6[1024] = "";
		size_t l4 = 0, l6 = 0;
		struct tf_cidr all = {.family = AF_INET, .len = 0};
		const struct tf_cidr *rt = tc->n_routes ? tc->routes : &all;
		unsigned nr = tc->n_routes ? tc->n_routes : 1;

		for (unsigned i = 0; i < nr; i++) {
			tf_cidr_format(&rt[i], what, sizeof(what));
			if (rt[i].family == AF_INET6)
				l6 += (size_t)snprintf(v6 + l6, sizeof(v6) - l6,
						       "%s%s", l6 ? ", " : "",
						       what);
			else
				l4 += (size_t)snprintf(v4 + l4, sizeof(v4) - l4,
						       "%s%s", l4 ? ", " : "",
						       what);
			if (l4 >= sizeof(v4) || l6 >= sizeof(v6)) {
				r = -E2BIG;
				snprintf(err, errlen, "too many tunnel_routes");
				goto fail;
			}
		}
		snprintf(rs, sizeof(rs),
			 "table inet twofold_tun {}\n"
			 "delete table inet twofold_tun\n"
			 "table inet twofold_tun {\n"
			 "\tchain pre {\n"
			 "\t\ttype filter hook prerouting priority raw; "
			 "policy accept;\n"
			 "\t\t%s%s%s\n"
			 "\t\t%s%s%s\n"
			 "\t}\n}\n",
			 l4 ? "iifname \"tun0\" ip saddr != { " : "",
			 l4 ? v4 : "iifname \"tun0\" meta nfproto ipv4 drop",
			 l4 ? " } drop" : "",
			 l6 ? "iifname \"tun0\" ip6 saddr != { " : "",
			 l6 ? v6 : "iifname \"tun0\" meta nfproto ipv6 drop",
			 l6 ? " } drop" : "");
		r = tf_nft_apply(tfd_netns_fd(p), rs, nerr, sizeof(nerr));
		if (r < 0) {
			snprintf(err, errlen,
				 "cannot set the inner-source filter of tun0 "
				 "of %s: %s",
				 p->cfg->name, nerr[0] ? nerr : strerror(-r));
			goto fail;
		}
	}
	*nq = n;
	*flags_out = fl;
	return 0;
fail:
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	return r;
}

static int send_config(int ctl, const struct tf_tunctl_config *cf,
		       const int *fds, size_t nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * (TF_TUNCTL_MAX_QUEUES + 1))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)cf, .iov_len = sizeof(*cf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	tf_cmsg_put_fds(&mh, cbuf.b, fds, nfds);
	do
		n = sendmsg(ctl, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return tf_negerrno();
	return n == (ssize_t)sizeof(*cf) ? 0 : -EPROTO;
}

static void tunnel_exited(struct tfd *d, struct tfd_source *s, uint32_t ev);
static void tunnel_ctl(struct tfd *d, struct tfd_source *s, uint32_t ev);
static void tunnel_restart(struct tfd *d, struct tfd_source *s, uint32_t ev);

/* Drop what the last process left (its pidfd and control socket). */
static void tunnel_forget(struct tfd *d, struct tfd_tunnel *t)
{
	tfd_source_del(d, &t->pid_src);
	tfd_source_del(d, &t->ctl_src);
	if (t->ctl >= 0)
		close(t->ctl);
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->ctl = t->pidfd = -1;
	t->pid = 0;
	t->running = false;
	t->have_status = false;
}

static void schedule_restart(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_tunnel *t = &p->tun;

	if (d->state == TFD_STOPPING)
		return;
	if (t->backoff_s == 0)
		t->backoff_s = BACKOFF_FIRST_S;
	if (tfd_timer_arm(d, &t->timer, (uint64_t)t->backoff_s * NS_PER_S,
			  tunnel_restart, p) < 0) {
		tf_warn("%s: cannot arm the tunnel's restart timer",
			p->cfg->name);
		return;
	}
	t->restart_pending = true;
	t->next_backoff_s = t->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S
							     : t->backoff_s * 2;
}

/* Make tun0 and the UDP socket, spawn the process, send CONFIG. */
static int tunnel_spawn(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_tunnel *t = &p->tun;
	const struct tf_tunnel_cfg *tc = &p->cfg->tunnel;
	int fds[TF_TUNCTL_MAX_QUEUES + 1], sv[2] = {-1, -1}, pidfd = -1;
	struct tf_tunctl_config *cf = NULL;
	unsigned nq = 0, fl = 0;
	uint16_t port = 0;
	size_t pub_len = 0;
	int udp = -1, r;
	pid_t pid;

	/* fail closed: the daemon's table confines the tunnel socket to
	 * its endpoint (netns.c); without it no socket is made */
	if (!d->nft_table) {
		snprintf(t->error, sizeof(t->error),
			 "the firewall that confines the tunnel's socket "
			 "could not be set (see the daemon log)");
		return -ENOLINK;
	}
	r = make_tun(p, fds, &nq, &fl, t->error, sizeof(t->error));
	if (r < 0)
		return r;
	udp = udp_socket(tc, TFD_TUNNEL_MARK(p - d->personas), &port, t->error,
			 sizeof(t->error));
	if (udp < 0) {
		r = udp;
		goto out;
	}
	fds[nq] = udp;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = tf_negerrno();
		snprintf(t->error, sizeof(t->error),
			 "cannot make the tunnel's control socket: %s",
			 strerror(-r));
		goto out;
	}
	cf = tf_secure_alloc(sizeof(*cf));
	if (cf == NULL) {
		r = -ENOMEM;
		snprintf(t->error, sizeof(t->error),
			 "out of secure memory for the tunnel key");
		goto out;
	}
	memset(cf, 0, sizeof(*cf));
	/* derived again for every start: the private key is kept nowhere
	 * but in this message and the tunnel process */
	{
		uint8_t pub[TF_TUN_PUB_MAX];
		r = tfd_tunnel_key(d, p, t->suite, cf->local_priv, pub,
				   &pub_len);
		if (r < 0) {
			snprintf(t->error, sizeof(t->error),
				 "cannot derive the tunnel key: %s",
				 strerror(-r));
			goto out;
		}
	}
	cf->type = TF_TUNCTL_CONFIG;
	cf->version = TF_TUNCTL_VERSION;
	cf->suite = t->suite;
	cf->n_tun = (uint8_t)nq;
	cf->mtu = (uint16_t)(tc->mtu ? tc->mtu : 1420);
	cf->keepalive_s = (uint16_t)tc->keepalive;
	cf->peer_pub_len = (uint16_t)t->peer_len;
	cf->flags = (fl & TF_TUN_VNET_HDR) ? TF_TUNCTL_F_VNET_HDR : 0;
	cf->uid = TFD_TUNNEL_ID(p - d->personas);
	cf->gid = TFD_TUNNEL_ID(p - d->personas);
	memcpy(cf->peer_pub, t->peer, t->peer_len);
	memcpy(&cf->endpoint, &tc->endpoint, sizeof(cf->endpoint));
	/* names are at most TF_NAME_MAX (32) bytes: it fits */
	snprintf(cf->persona, sizeof(cf->persona), "%s", p->cfg->name);

	pid = tf_persona_spawn_tunnel(p->cfg->name, sv[1], &pidfd);
	if (pid < 0) {
		r = pid;
		snprintf(t->error, sizeof(t->error),
			 "cannot start the tunnel process: %s%s", strerror(-r),
			 r == -EOWNERDEAD ? " (the spawner died; restart "
					    "twofoldd)"
					  : "");
		goto out;
	}
	close(sv[1]);
	sv[1] = -1;
	r = send_config(sv[0], cf, fds, nq + 1);
	if (r < 0) {
		snprintf(t->error, sizeof(t->error),
			 "cannot configure the tunnel process: %s",
			 strerror(-r));
		(void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	}
	t->pid = pid;
	t->pidfd = pidfd;
	t->ctl = sv[0];
	sv[0] = -1;
	t->running = true;
	t->have_status = false;
	t->local_port = port;
	t->started_bt_ns = tf_boottime_ns();
	if (tfd_source_add(d, &t->pid_src, t->pidfd, EPOLLIN, tunnel_exited,
			   p) < 0 ||
	    tfd_source_add(d, &t->ctl_src, t->ctl, EPOLLIN, tunnel_ctl, p) <
		    0) {
		/* unsupervised it must not run: kill, and forget it */
		(void)pidfd_send_signal(t->pidfd, SIGKILL, NULL, 0);
		(void)waitid(P_PIDFD, (id_t)t->pidfd, NULL, WEXITED);
		tunnel_forget(d, t);
		snprintf(t->error, sizeof(t->error),
			 "cannot watch the tunnel process");
		r = -ENOMEM;
		goto out;
	}
	if (r == 0) {
		char addrs[160] = "";
		for (unsigned i = 0; i < tc->n_addr; i++) {
			char a[64];
			size_t l = strlen(addrs);
			tf_cidr_format(&tc->addr[i], a, sizeof(a));
			snprintf(addrs + l, sizeof(addrs) - l, "%s%s",
				 i ? "," : "", a);
		}
		tfd_audit(d, 0, "net.link", p, NULL,
			  "mode=tunnel\tlink=tun0\taddresses=%s",
			  addrs[0] ? addrs : "-");
		t->error[0] = '\0';
		tf_info("%s: tunnel process %d started (%u queue%s%s, port %u)",
			p->cfg->name, (int)pid, nq, nq == 1 ? "" : "s",
			cf->flags ? ", vnet header" : "", port);
	}
	/* a failed CONFIG: the process dies; its exit restarts it */
	r = 0;
out:
	if (cf)
		tf_secure_free(cf); /* wipes the private key */
	/* the device must die with the process: no copy of a queue here */
	for (unsigned i = 0; i < nq; i++)
		close(fds[i]);
	if (udp >= 0)
		close(udp);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

static void describe_exit(const siginfo_t *si, char *buf, size_t cap)
{
	if (si->si_pid == 0)
		snprintf(buf, cap, "tunnel process ended");
	else if (si->si_code == CLD_EXITED)
		snprintf(buf, cap, "tunnel process exited with status %d",
			 si->si_status);
	else
		snprintf(buf, cap, "tunnel process killed by signal %d (%s)",
			 si->si_status, strsignal(si->si_status));
}

static void tunnel_exited(struct tfd *d, struct tfd_source *s, uint32_t ev)
{
	struct tfd_persona *p = s->data;
	struct tfd_tunnel *t = &p->tun;
	siginfo_t si;
	char why[128];
	uint64_t up_ns = tf_boottime_ns() - t->started_bt_ns;

	memset(&si, 0, sizeof(si));
	(void)waitid(P_PIDFD, (id_t)t->pidfd, &si, WEXITED | WNOHANG);
	describe_exit(&si, why, sizeof(why));
	tunnel_forget(d, t);
	/* up a minute: this is a new failure, not the same one again */
	if (up_ns >= UP_RESETS_BACKOFF_NS)
		t->backoff_s = BACKOFF_FIRST_S;
	else if (t->next_backoff_s)
		t->backoff_s = t->next_backoff_s;
	snprintf(t->error, sizeof(t->error), "%s; restart in %u s", why,
		 t->backoff_s ? t->backoff_s : BACKOFF_FIRST_S);
	tf_warn("%s: %s", p->cfg->name, t->error);
	tfd_audit(d, 0, "net.tunnel.down", p, NULL, "reason=%s", why);
	t->last_state = TF_TUNNEL_DOWN;
	schedule_restart(d, p);
}

static void tunnel_restart(struct tfd *d, struct tfd_source *s, uint32_t ev)
{
	struct tfd_persona *p = s->data;
	struct tfd_tunnel *t = &p->tun;
	char why[sizeof(t->error)];
	int r;

	t->restart_pending = false;
	if (t->running || d->state == TFD_STOPPING)
		return;
	t->restarts++;
	r = tunnel_spawn(d, p);
	tfd_audit(d, 0, "net.tunnel.restart", p, NULL, "restarts=%u\tresult=%d",
		  t->restarts, r);
	if (r < 0) {
		/* tun0 may still be going from the last one, the key store
		 * busy with a job: try again later */
		memcpy(why, t->error, sizeof(why));
		t->backoff_s =
			t->next_backoff_s ? t->next_backoff_s : BACKOFF_FIRST_S;
		snprintf(t->error, sizeof(t->error), "%.120s; retry in %u s",
			 why, t->backoff_s);
		tf_warn("%s: %s", p->cfg->name, t->error);
		schedule_restart(d, p);
	}
}

/* A message from the tunnel process: STATUS only, exactly its size. */
static void tunnel_ctl(struct tfd *d, struct tfd_source *s, uint32_t ev)
{
	struct tfd_persona *p = s->data;
	struct tfd_tunnel *t = &p->tun;
	struct tf_tunctl_status st;
	char ep[80];
	ssize_t n;

	for (;;) {
		n = recv(t->ctl, &st, sizeof(st), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	if (n != (ssize_t)sizeof(st) || st.type != TF_TUNCTL_STATUS ||
	    st.version != TF_TUNCTL_VERSION || st.state > TF_TUNNEL_UP) {
		/* EOF, an error or a message we do not know: the channel
		 * closes, which ends the process; its pidfd does the rest */
		if (n != 0)
			tf_warn("%s: tunnel process sent a bad control "
				"message (%zd bytes); stopping it",
				p->cfg->name, n);
		tfd_source_del(d, &t->ctl_src);
		close(t->ctl);
		t->ctl = -1;
		if (t->pidfd >= 0)
			(void)pidfd_send_signal(t->pidfd, SIGKILL, NULL, 0);
		return;
	}
	st.reason[sizeof(st.reason) - 1] = '\0';
	/* one line, printable: it goes to status and the log as it is */
	for (char *q = st.reason; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q == 0x7f)
			*q = ' ';
	/* packets refused (another suite's handshake, a wrong key, a
	 * replay): one record per STATUS that counts more, so at most one
	 * a second however fast they come */
	if (t->have_status && st.rejected > t->st.rejected) {
		unsigned long long nr = st.rejected - t->st.rejected;
		const char *why = st.state == TF_TUNNEL_UP && st.reason[0]
					  ? st.reason
					  : "invalid packets";

		tfd_audit(d, 0, "net.refused", p, NULL, "count=%llu\treason=%s",
			  nr, st.reason[0] ? st.reason : "invalid packets");
		snprintf(t->refusal, sizeof(t->refusal),
			 "refused %llu packet%s: %s", nr, nr == 1 ? "" : "s",
			 why);
		t->refusal_bt_ns = tf_boottime_ns();
	}
	/* a state without its reason still says something useful */
	if (st.state != TF_TUNNEL_UP && st.reason[0] == '\0') {
		char e[80];
		tf_sockaddr_format(
			(const struct sockaddr *)&p->cfg->tunnel.endpoint, e,
			sizeof(e));
		snprintf(st.reason, sizeof(st.reason),
			 st.state == TF_TUNNEL_HANDSHAKING
				 ? "handshaking: no answer from %s yet"
				 : "no session with %s",
			 e);
	}
	t->st = st;
	t->have_status = true;
	if (st.state == t->last_state)
		return;
	tf_sockaddr_format((const struct sockaddr *)&p->cfg->tunnel.endpoint,
			   ep, sizeof(ep));
	if (st.state == TF_TUNNEL_UP) {
		tf_info("%s: tunnel up to %s (%s)", p->cfg->name, ep,
			suite_name(t->suite));
		tfd_audit(d, 0, "net.tunnel.up", p, NULL,
			  "endpoint=%s\tsuite=%s", ep, suite_name(t->suite));
	} else if (t->last_state == TF_TUNNEL_UP) {
		tf_info("%s: tunnel down: %s", p->cfg->name,
			st.reason[0] ? st.reason : "session ended");
		tfd_audit(d, 0, "net.tunnel.down", p, NULL, "reason=%s",
			  st.reason[0] ? st.reason : "session ended");
	}
	t->last_state = st.state;
}

/* --------------------------------------------------------- life cycle */

/* Decode and check the persona's tunnel config; not-configured (with
 * the hint) or an error line in t->error. */
static void tunnel_load(struct tfd_persona *p)
{
	struct tfd_tunnel *t = &p->tun;
	const struct tf_tunnel_cfg *tc = &p->cfg->tunnel;
	size_t want, len = 0;

	t->suite = tc->suite ? tc->suite : TF_SUITE_INTL;
	if (!tc->has_endpoint || tc->peer_key[0] == '\0') {
		snprintf(t->error, sizeof(t->error),
			 "tunnel not configured: set tunnel_endpoint and "
			 "tunnel_peer_key");
		return;
	}
	want = t->suite == TF_SUITE_GM ? 65 : 32;
	if (sodium_base642bin(t->peer, sizeof(t->peer), tc->peer_key,
			      strlen(tc->peer_key), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != want ||
	    (t->suite == TF_SUITE_GM && !gm_point_valid(t->peer, len))) {
		snprintf(t->error, sizeof(t->error),
			 "tunnel_peer_key of %s is not a %s public key "
			 "(standard base64 of %zu bytes%s): fix device.conf",
			 p->cfg->name, suite_name(t->suite), want,
			 t->suite == TF_SUITE_GM ? ", an uncompressed SM2 point"
						 : "");
		tf_err("%s", t->error);
		return;
	}
	t->peer_len = len;
	t->configured = true;
}

void tfd_tunnels_setup(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		struct tfd_tunnel *t = &p->tun;
		uint8_t priv[TF_TUN_KEY_BYTES];
		int r;

		t->pid_src.fd = t->ctl_src.fd = t->timer.fd = -1;
		t->ctl = t->pidfd = -1;
		if (p->cfg->network != TF_NET_TUNNEL)
			continue;
		t->suite = p->cfg->tunnel.suite ? p->cfg->tunnel.suite
						: TF_SUITE_INTL;
		/* the public key, for `twofold tunnel key` even before the
		 * tunnel is configured (it is what the organisation needs
		 * to configure its side) */
		r = tfd_tunnel_key(d, p, t->suite, priv, t->pub, &t->pub_len);
		tf_memzero(priv, sizeof(priv));
		if (r < 0)
			tf_err("%s: cannot derive the tunnel key: %s",
			       p->cfg->name, strerror(-r));
		tunnel_load(p);
		if (!t->configured)
			continue;
		if (tfd_netns_fd(p) < 0) {
			snprintf(t->error, sizeof(t->error),
				 "%s has no network namespace of the daemon's",
				 p->cfg->name);
			t->configured = false;
			continue;
		}
		r = tunnel_spawn(d, p);
		if (r < 0) {
			tf_warn("%s: %s", p->cfg->name, t->error);
			t->next_backoff_s = BACKOFF_FIRST_S * 2;
			schedule_restart(d, p);
		}
	}
}

void tfd_tunnels_tick(struct tfd *d)
{
	/* counters change without a state change: ask once a second so
	 * `net status` is never more than that behind */
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_tunnel *t = &d->personas[i].tun;
		struct {
			uint32_t type, version;
		} q = {TF_TUNCTL_STATUS_REQ, TF_TUNCTL_VERSION};

		if (t->running && t->ctl >= 0)
			(void)send(t->ctl, &q, sizeof(q),
				   MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

void tfd_tunnels_shutdown(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_tunnel *t = &d->personas[i].tun;

		tfd_timer_close(d, &t->timer);
		t->restart_pending = false;
		if (!t->running)
			continue;
		/* closing the control socket ends it; SIGKILL makes sure */
		if (t->ctl >= 0) {
			tfd_source_del(d, &t->ctl_src);
			close(t->ctl);
			t->ctl = -1;
		}
		(void)pidfd_send_signal(t->pidfd, SIGKILL, NULL, 0);
		(void)waitid(P_PIDFD, (id_t)t->pidfd, NULL, WEXITED);
		tunnel_forget(d, t);
	}
}
