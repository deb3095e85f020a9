/* SPDX-License-Identifier: ISC */
/*
 * Each persona's network namespace (issue 12, docs/network.md): made here
 * at daemon start, owned by the initial user namespace (so the persona's
 * root, whose user namespace is a child, has no capability over it), kept
 * across persona stop, start, restart and evict (the init joins it:
 * tf_persona_spec.netns_fd), gone when the daemon exits.
 *
 *   none    lo only
 *   nat     lo + eth0 (.2 of the persona's /30 of nat_subnet), default
 *           via .1 on tfv<i> in our namespace; the `inet twofold` table
 *           masquerades it out of the uplink, DNATs its DNS on .1 to the
 *           resolvers and rejects everything else towards the device,
 *           the other personas and the tunnels' private networks
 *   tunnel  lo here; tun0 and the tunnel process are tunnel.c's
 *
 * The persona's resolv.conf is written under the daemon's run directory
 * and bound by the init over /etc/resolv.conf (tf_profile.resolv_conf).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "twofold/atomicfile.h"
#include "twofold/log.h"
#include "twofold/net.h"

#define NAT_MTU 1500
#define RULESET_MAX (32 * 1024)

static size_t p_index(const struct tfd *d, const struct tfd_persona *p)
{
	return (size_t)(p - d->personas);
}

int tfd_netns_fd(const struct tfd_persona *p)
{
	return p->has_netns ? p->netns_fd : -1;
}

const char *tfd_netns_resolv(const struct tfd_persona *p)
{
	return p->resolv_conf;
}

void tfd_netns_host_if(const struct tfd *d, const struct tfd_persona *p,
		       char buf[static 16])
{
	snprintf(buf, 16, "tfv%zu", p_index(d, p));
}

/* The /30 of slot i: .1 ours, .2 the persona's. */
static void nat_addrs(const struct tfd *d, size_t i, struct tf_cidr *net,
		      struct tf_cidr *host, struct tf_cidr *peer)
{
	uint32_t base =
		ntohl(d->cfg.nat_subnet.addr.v4.s_addr) + (uint32_t)i * 4;

	*net = (struct tf_cidr){.family = AF_INET, .len = 30};
	net->addr.v4.s_addr = htonl(base);
	*host = *net;
	host->addr.v4.s_addr = htonl(base + 1);
	*peer = *net;
	peer->addr.v4.s_addr = htonl(base + 2);
}

static void addr_text(const struct tf_cidr *c, char *buf, size_t cap)
{
	if (!inet_ntop(c->family, &c->addr, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
}

/* The IPv4 nameservers of the host's /etc/resolv.conf (a nat persona
 * without dns =). 0 when there is none. */
static uint8_t host_resolvers(struct tf_cidr *out, uint8_t max)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256];
	uint8_t n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char addr[64];
		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		if (strchr(addr, ':'))
			continue; /* nat is IPv4 only */
		if (tf_cidr_parse(addr, false, &out[n]) == 0 &&
		    out[n].family == AF_INET)
			n++;
	}
	return n;
}

static bool is_loopback4(const struct tf_cidr *c)
{
	return c->family == AF_INET && (ntohl(c->addr.v4.s_addr) >> 24) == 127;
}

/* Is the IPv4 prefix inside a private range (RFC 1918, shared address
 * space, link-local)? A tunnel's 0.0.0.0/0 is not: it is the internet. */
static bool private4(const struct tf_cidr *c)
{
	static const struct {
		uint32_t net;
		uint8_t len;
	} priv[] = {{0x0a000000, 8},
		    {0xac100000, 12},
		    {0xc0a80000, 16},
		    {0x64400000, 10},
		    {0xa9fe0000, 16}};
	uint32_t a = ntohl(c->addr.v4.s_addr);

	if (c->family != AF_INET)
		return false;
	for (size_t i = 0; i < TF_ARRAY_SIZE(priv); i++) {
		uint32_t mask = ~(uint32_t)0 << (32 - priv[i].len);
		if (c->len >= priv[i].len && (a & mask) == priv[i].net)
			return true;
	}
	return false;
}

/* ---- resolv.conf ---- */

static int resolv_dir(const struct tfd *d, char *buf, size_t cap)
{
	const char *slash = strrchr(d->sock_path, '/');
	int n;

	if (!slash)
		return -EINVAL;
	n = snprintf(buf, cap, "%.*s/net", (int)(slash - d->sock_path),
		     d->sock_path);
	return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

static int write_resolv(struct tfd *d, struct tfd_persona *p,
			const struct tf_cidr *ns, uint8_t n)
{
	char dir[PATH_MAX], path[PATH_MAX], text[512], a[64];
	size_t len = 0;
	int r;

	r = resolv_dir(d, dir, sizeof(dir));
	if (r < 0)
		return r;
	r = tf_mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.resolv.conf", dir,
			     p->cfg->name) >= sizeof(path) ||
	    strlen(path) >= sizeof(p->resolv_conf))
		return -ENAMETOOLONG;
	len += (size_t)snprintf(text, sizeof(text),
				"# twofold: %s, network = %s\n", p->cfg->name,
				tf_net_mode_name(p->cfg->network));
	for (uint8_t i = 0; i < n; i++) {
		addr_text(&ns[i], a, sizeof(a));
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"nameserver %s\n", a);
	}
	/* the persona's apps read it (others' read: their uids are not
	 * ours); replaced whole, never seen half-written */
	r = tf_atomic_write(path, text, len, 0644);
	if (r < 0)
		return r;
	snprintf(p->resolv_conf, sizeof(p->resolv_conf), "%s", path);
	return 0;
}

/* ---- the inet twofold table ---- */

struct rs {
	char *buf;
	size_t len;
	bool full;
};

static TF_PRINTF(2, 3) void rs_add(struct rs *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->buf + s->len, RULESET_MAX - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= RULESET_MAX - s->len)
		s->full = true;
	else
		s->len += (size_t)n;
}

/* Networks no nat persona may reach: the whole nat_subnet (the other
 * personas; its own .1 is on the input path) and every tunnel persona's
 * private inner addresses and routes. */
static void blocked_set(const struct tfd *d, struct rs *s)
{
	char a[64];

	tf_cidr_format(&d->cfg.nat_subnet, a, sizeof(a));
	rs_add(s,
	       "\tset blocked {\n\t\ttype ipv4_addr; flags interval;\n"
	       "\t\tauto-merge\n\t\telements = { %s",
	       a);
	for (size_t i = 0; i < d->n_personas; i++) {
		const struct tf_tunnel_cfg *t = &d->personas[i].cfg->tunnel;
		if (d->personas[i].cfg->network != TF_NET_TUNNEL)
			continue;
		for (uint8_t k = 0; k < t->n_addr; k++)
			if (private4(&t->addr[k])) {
				struct tf_cidr c = t->addr[k];
				/* the host part of 10.77.0.2/24 is not a
				 * network: the one address */
				c.len = 32;
				tf_cidr_format(&c, a, sizeof(a));
				rs_add(s, ", %s", a);
			}
		for (uint8_t k = 0; k < t->n_routes; k++)
			if (private4(&t->routes[k])) {
				tf_cidr_format(&t->routes[k], a, sizeof(a));
				rs_add(s, ", %s", a);
			}
	}
	rs_add(s, " }\n\t}\n");
}

static int build_ruleset(const struct tfd *d, struct rs *s)
{
	char host_if[16], a[64], b[64];
	bool any = false;

	/* replace atomically: make sure it exists, drop it, make it anew,
	 * all in one batch */
	rs_add(s, "table inet twofold {}\ndelete table inet twofold\n");
	rs_add(s, "table inet twofold {\n");
	blocked_set(d, s);
	/* every refusal answers (ICMP admin-prohibited, TCP reset): an app
	 * fails at once instead of waiting for a timeout */
	rs_add(s, "\tchain refuse {\n"
		  "\t\tmeta l4proto tcp reject with tcp reset\n"
		  "\t\treject with icmpx type admin-prohibited\n\t}\n");

	rs_add(s, "\tchain prerouting {\n\t\ttype nat hook prerouting "
		  "priority dstnat; policy accept;\n");
	for (size_t i = 0; i < d->n_personas; i++) {
		const struct tfd_persona *p = &d->personas[i];
		struct tf_cidr net, host, peer;
		if (!p->nat_link || p->n_resolvers == 0)
			continue;
		nat_addrs(d, i, &net, &host, &peer);
		tfd_netns_host_if(d, p, host_if);
		addr_text(&host, a, sizeof(a));
		/* several resolvers: one per query in turn (a retry goes
		 * to the next one) */
		if (p->n_resolvers == 1) {
			addr_text(&p->resolvers[0], b, sizeof(b));
			rs_add(s,
			       "\t\tiifname \"%s\" ip daddr %s meta l4proto "
			       "{ tcp, udp } th dport 53 dnat ip to %s\n",
			       host_if, a, b);
		} else {
			rs_add(s,
			       "\t\tiifname \"%s\" ip daddr %s meta l4proto "
			       "{ tcp, udp } th dport 53 dnat ip to numgen "
			       "inc mod %u map { ",
			       host_if, a, (unsigned)p->n_resolvers);
			for (uint8_t k = 0; k < p->n_resolvers; k++) {
				addr_text(&p->resolvers[k], b, sizeof(b));
				rs_add(s, "%s%u : %s", k ? ", " : "",
				       (unsigned)k, b);
			}
			rs_add(s, " }\n");
		}
	}
	rs_add(s, "\t}\n");

	rs_add(s, "\tchain postrouting {\n\t\ttype nat hook postrouting "
		  "priority srcnat; policy accept;\n");
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tf_cidr net, host, peer;
		if (!d->personas[i].nat_link)
			continue;
		nat_addrs(d, i, &net, &host, &peer);
		tf_cidr_format(&net, a, sizeof(a));
		rs_add(s, "\t\tip saddr %s oifname != \"tfv*\" masquerade\n",
		       a);
		any = true;
	}
	rs_add(s, "\t}\n");

	rs_add(s, "\tchain forward {\n\t\ttype filter hook forward priority "
		  "filter; policy accept;\n"
		  /* persona to persona, never */
		  "\t\tiifname \"tfv*\" oifname \"tfv*\" jump refuse\n");
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tf_cidr net, host, peer;
		if (!d->personas[i].nat_link)
			continue;
		nat_addrs(d, i, &net, &host, &peer);
		tfd_netns_host_if(d, &d->personas[i], host_if);
		addr_text(&peer, a, sizeof(a));
		/* its own address only: no spoofing another persona's */
		rs_add(s, "\t\tiifname \"%s\" ip saddr != %s jump refuse\n",
		       host_if, a);
	}
	/* a tunnel's endpoint: personal's datagrams to it would leave with
	 * the device's own address (NAT), so a handshake flood of personal's
	 * would be the device's at the gateway, and a mapping on the
	 * tunnel's port, made while the tunnel process restarts, would
	 * catch the gateway's packets for the tunnel */
	for (size_t i = 0; i < d->n_personas; i++) {
		const struct tf_tunnel_cfg *t = &d->personas[i].cfg->tunnel;
		const struct sockaddr_in *ep =
			(const struct sockaddr_in *)&t->endpoint;
		if (d->personas[i].cfg->network != TF_NET_TUNNEL ||
		    !t->has_endpoint || ep->sin_family != AF_INET)
			continue; /* nat is IPv4 only: v6 is refused whole */
		if (!inet_ntop(AF_INET, &ep->sin_addr, a, sizeof(a)))
			continue;
		rs_add(s,
		       "\t\tiifname \"tfv*\" ip daddr %s udp dport %u jump "
		       "refuse\n",
		       a, (unsigned)ntohs(ep->sin_port));
	}
	rs_add(s, "\t\tiifname \"tfv*\" ip daddr @blocked jump refuse\n"
		  /* nat is IPv4 only */
		  "\t\tiifname \"tfv*\" meta nfproto ipv6 jump refuse\n"
		  /* towards a persona: answers only, nothing from outside
		* starts a connection to it */
		  "\t\toifname \"tfv*\" ct state established,related accept\n"
		  "\t\toifname \"tfv*\" jump refuse\n\t}\n");

	/* a tunnel socket (TFD_TUNNEL_MARK, set by the daemon) sends to
	 * its endpoint only: a compromised tunnel process (it parses what
	 * the persona and the network send it) cannot reach anything else
	 * on the underlay */
	rs_add(s, "\tchain output {\n\t\ttype filter hook output priority "
		  "filter; policy accept;\n");
	for (size_t i = 0; i < d->n_personas; i++) {
		const struct tf_tunnel_cfg *t = &d->personas[i].cfg->tunnel;
		unsigned mark = TFD_TUNNEL_MARK(i);
		if (d->personas[i].cfg->network != TF_NET_TUNNEL ||
		    !t->has_endpoint)
			continue;
		if (t->endpoint.ss_family == AF_INET) {
			const struct sockaddr_in *ep =
				(const struct sockaddr_in *)&t->endpoint;
			if (!inet_ntop(AF_INET, &ep->sin_addr, a, sizeof(a)))
				continue;
			rs_add(s,
			       "\t\tmeta mark 0x%08x ip daddr %s udp dport %u "
			       "accept\n",
			       mark, a, (unsigned)ntohs(ep->sin_port));
		} else if (t->endpoint.ss_family == AF_INET6) {
			const struct sockaddr_in6 *ep =
				(const struct sockaddr_in6 *)&t->endpoint;
			if (!inet_ntop(AF_INET6, &ep->sin6_addr, a, sizeof(a)))
				continue;
			rs_add(s,
			       "\t\tmeta mark 0x%08x ip6 daddr %s udp dport "
			       "%u accept\n",
			       mark, a, (unsigned)ntohs(ep->sin6_port));
		}
		rs_add(s, "\t\tmeta mark 0x%08x jump refuse\n", mark);
	}
	rs_add(s, "\t}\n");

	rs_add(s, "\tchain input {\n\t\ttype filter hook input priority "
		  "filter; policy accept;\n"
		  /* the DNS the prerouting chain sent to a resolver of
		   * ours (a loopback one: route_localnet) */
		  "\t\tiifname \"tfv*\" ct status dnat meta l4proto { tcp, "
		  "udp } th dport 53 accept\n"
		  "\t\tiifname \"tfv*\" jump refuse\n\t}\n");
	rs_add(s, "}\n");
	if (s->full)
		return -E2BIG;
	return any ? 1 : 0;
}

int tfd_netns_firewall(struct tfd *d, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = malloc(RULESET_MAX);
	struct rs s = {.buf = buf};
	char nerr[256] = "";
	int r;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	r = build_ruleset(d, &s);
	if (r < 0) {
		snprintf(err, errlen, "firewall ruleset too large");
		return r;
	}
	r = tf_nft_apply(-1, buf, nerr, sizeof(nerr));
	if (r < 0) {
		snprintf(err, errlen, "nft table inet twofold: %s",
			 nerr[0] ? nerr : strerror(-r));
		return r;
	}
	d->nft_table = true;
	return 0;
}

/* ---- per persona ---- */

static int setup_nat(struct tfd *d, struct tfd_persona *p, char *err,
		     size_t errlen)
{
	size_t i = p_index(d, p);
	struct tf_cidr net, host, peer, def = {.family = AF_INET, .len = 0};
	char host_if[16], path[96];
	bool local_dns = false;
	int r;

	nat_addrs(d, i, &net, &host, &peer);
	tfd_netns_host_if(d, p, host_if);
	r = tf_net_veth_create(host_if, p->netns_fd, "eth0");
	if (r == -EEXIST) {
		/* our namespace already has one: another twofoldd runs
		 * here (a veth's pair dies with a persona namespace, so
		 * none is left by a killed one) */
		snprintf(err, errlen,
			 "%s exists: another twofoldd runs in this network "
			 "namespace; %s has loopback only",
			 host_if, p->cfg->name);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot create veth %s: %s", host_if,
			 strerror(-r));
		return r;
	}
	p->nat_link = true;
	/* no IPv6 on either end: no link-local path around the IPv4
	 * rules (a kernel without IPv6 has no such file: fine) */
	snprintf(path, sizeof(path), "net/ipv6/conf/%s/disable_ipv6", host_if);
	(void)!tf_net_sysctl(-1, path, "1");
	(void)!tf_net_sysctl(p->netns_fd, "net/ipv6/conf/eth0/disable_ipv6",
			     "1");
	if ((r = tf_net_addr_add(-1, host_if, &host)) < 0 ||
	    (r = tf_net_link_up(-1, host_if, NAT_MTU)) < 0 ||
	    (r = tf_net_addr_add(p->netns_fd, "eth0", &peer)) < 0 ||
	    (r = tf_net_link_up(p->netns_fd, "eth0", NAT_MTU)) < 0 ||
	    (r = tf_net_route_add(p->netns_fd, "eth0", &def, &host)) < 0) {
		snprintf(err, errlen, "cannot set up %s / eth0: %s", host_if,
			 strerror(-r));
		return r;
	}
	if (p->cfg->n_dns) {
		memcpy(p->resolvers, p->cfg->dns,
		       p->cfg->n_dns * sizeof(p->resolvers[0]));
		p->n_resolvers = p->cfg->n_dns;
	} else {
		p->n_resolvers = host_resolvers(p->resolvers, TF_NET_DNS_MAX);
		if (p->n_resolvers == 0)
			tf_warn("%s: the host's /etc/resolv.conf names no "
				"IPv4 nameserver; set dns = in device.conf "
				"for it to resolve names",
				p->cfg->name);
	}
	for (uint8_t k = 0; k < p->n_resolvers; k++)
		local_dns |= is_loopback4(&p->resolvers[k]);
	if (local_dns) {
		/* DNAT to 127.0.0.53 from a non-loopback interface: the
		 * kernel drops 127/8 there as martian unless asked */
		snprintf(path, sizeof(path), "net/ipv4/conf/%s/route_localnet",
			 host_if);
		r = tf_net_sysctl(-1, path, "1");
		if (r < 0)
			tf_warn("%s: route_localnet on %s: %s", p->cfg->name,
				host_if, strerror(-r));
	}
	/* the persona asks its .1; the table forwards it */
	r = write_resolv(d, p, &host, p->n_resolvers ? 1 : 0);
	if (r < 0) {
		snprintf(err, errlen, "cannot write its resolv.conf: %s",
			 strerror(-r));
		return r;
	}
	return 0;
}

static int setup_one(struct tfd *d, struct tfd_persona *p, char *err,
		     size_t errlen)
{
	switch (p->cfg->network) {
	case TF_NET_NAT: return setup_nat(d, p, err, errlen);
	case TF_NET_TUNNEL:
		/* tun0 and its routes come with the tunnel (tunnel.c); the
		 * resolvers are inside the tunnel only */
		if (p->cfg->tunnel.n_dns)
			return write_resolv(d, p, p->cfg->tunnel.dns,
					    p->cfg->tunnel.n_dns);
		return 0;
	case TF_NET_NONE:
	default: return 0;
	}
}

/* The firewall could not be made: no nat persona goes online without it
 * (fail closed); each keeps lo only and says why. */
static void drop_nat_links(struct tfd *d, const char *why)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		char host_if[16];
		if (!p->nat_link)
			continue;
		tfd_netns_host_if(d, p, host_if);
		(void)!tf_net_link_del(-1, host_if);
		p->nat_link = false;
		snprintf(p->net_error, sizeof(p->net_error),
			 "%s; no network (loopback only)", why);
		tf_err("%s: network: %s", p->cfg->name, p->net_error);
	}
}

int tfd_netns_setup(struct tfd *d, char *err, size_t errlen)
{
	char why_fw[256] = "";
	bool any_nat = false, any_tunnel = false;
	int r;

	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		char why[200] = "";

		p->netns_fd = -1;
		r = tf_netns_create(&p->netns_fd);
		if (r < 0) {
			snprintf(err, errlen,
				 "%s: cannot make its network namespace: %s",
				 p->cfg->name, strerror(-r));
			return r;
		}
		p->has_netns = true;
		/* a persona whose network cannot be made still runs, with
		 * loopback only; net status and the log say why */
		r = setup_one(d, p, why, sizeof(why));
		if (r < 0) {
			snprintf(p->net_error, sizeof(p->net_error), "%s", why);
			tf_warn("%s: network: %s", p->cfg->name, why);
			continue;
		}
		any_nat |= p->nat_link;
		any_tunnel |= p->cfg->network == TF_NET_TUNNEL &&
			      p->cfg->tunnel.has_endpoint;
		if (p->cfg->network == TF_NET_NAT) {
			char a[64];
			struct tf_cidr net, host, peer;
			nat_addrs(d, i, &net, &host, &peer);
			tf_cidr_format(&peer, a, sizeof(a));
			tfd_audit(d, 0, "net.link", p, NULL,
				  "mode=nat addresses=%s", a);
		}
	}
	if (!any_nat && !any_tunnel)
		return 0;
	/* the table before forwarding: never a moment where a persona's
	 * packets are routed unfiltered; and before any tunnel socket
	 * exists (tunnel.c starts none without it) */
	r = tfd_netns_firewall(d, why_fw, sizeof(why_fw));
	if (r < 0 && any_tunnel)
		tf_warn("no tunnel will start: %s", why_fw);
	if (!any_nat)
		return 0;
	if (r == 0) {
		char was[4] = "";
		int f = open("/proc/sys/net/ipv4/ip_forward",
			     O_RDONLY | O_CLOEXEC);
		if (f >= 0) {
			(void)!read(f, was, sizeof(was) - 1);
			close(f);
		}
		r = tf_net_sysctl(-1, "net/ipv4/ip_forward", "1");
		/* a host that did not forward gets that back at exit */
		if (r == 0 && was[0] == '0')
			d->forward_set = true;
		if (r < 0)
			snprintf(why_fw, sizeof(why_fw),
				 "cannot enable net.ipv4.ip_forward: %s",
				 strerror(-r));
	}
	if (r < 0)
		drop_nat_links(d, why_fw);
	(void)err;
	(void)errlen;
	return 0;
}

void tfd_netns_shutdown(struct tfd *d)
{
	char err[256];

	if (d->forward_set) {
		int r = tf_net_sysctl(-1, "net/ipv4/ip_forward", "0");
		if (r < 0)
			tf_warn("restoring net.ipv4.ip_forward = 0: %s",
				strerror(-r));
		d->forward_set = false;
	}

	if (d->nft_table) {
		int r = tf_nft_apply(-1,
				     "table inet twofold {}\n"
				     "delete table inet twofold\n",
				     err, sizeof(err));
		if (r < 0)
			tf_warn("removing nft table inet twofold: %s", err);
		d->nft_table = false;
	}
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		char host_if[16];
		if (p->nat_link) {
			/* it would go with the namespace; now, so that a
			 * persona's processes outliving us (the guard kills
			 * them) have no path out meanwhile */
			tfd_netns_host_if(d, p, host_if);
			(void)!tf_net_link_del(-1, host_if);
			p->nat_link = false;
		}
		if (p->has_netns) {
			close(p->netns_fd);
			p->netns_fd = -1;
			p->has_netns = false;
		}
		if (p->resolv_conf[0]) {
			(void)unlink(p->resolv_conf);
			p->resolv_conf[0] = '\0';
		}
	}
}
