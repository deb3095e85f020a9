/* SPDX-License-Identifier: ISC */
/*
 * net status and tunnel key (paired with cli/verb_net.c and
 * cli/verb_tunnel.c; docs/network.md). Both are read-only and built here
 * in text and JSON, so the CLI stays a printer. Links, addresses and
 * routes are what the kernel says of each persona's namespace now
 * (tf_net_info), and lockdown is computed from them: a tunnel persona is
 * locked down when no link but lo and tun0 exists in its namespace.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "twofold/error.h"
#include "twofold/log.h"
#include "twofold/net.h"
#include "twofold/persona.h"
#include "twofold/suite.h"
#include "daemon.h"

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_str_or_null(FILE *f, const char *s)
{
	if (s)
		json_str(f, s);
	else
		fputs("null", f);
}

static const char *mode_name(enum tf_net_mode m)
{
	switch (m) {
	case TF_NET_NAT: return "nat";
	case TF_NET_TUNNEL: return "tunnel";
	default: return "none";
	}
}

static const char *suite_name(uint8_t id)
{
	const struct tf_suite_info *si = tf_suite_info_by_id(id);
	return si ? si->name : "?";
}

static bool is_loopback(const struct tf_cidr *c)
{
	if (c->family == AF_INET)
		return (ntohl(c->addr.v4.s_addr) >> 24) == 127;
	return c->family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&c->addr.v6);
}

/* "default via 10.213.0.1 dev eth0", "10.77.0.0/16 dev tun0" */
static void route_str(const struct tf_net_info *ni, size_t i, char *buf,
		      size_t cap)
{
	char dst[64] = "default", gw[80] = "";
	int n;

	if (ni->routes[i].dst.len != 0)
		tf_cidr_format(&ni->routes[i].dst, dst, sizeof(dst));
	if (ni->routes[i].has_gw) {
		char a[64];
		tf_cidr_format(&ni->routes[i].gw, a, sizeof(a));
		a[strcspn(a, "/")] = '\0'; /* an address, not a prefix */
		snprintf(gw, sizeof(gw), " via %s", a);
	}
	n = snprintf(buf, cap, "%s%s dev %s", dst, gw, ni->routes[i].ifname);
	(void)n;
}

/* What the persona's resolv.conf names: nat its slot's .1 (DNAT'ed to
 * its resolvers), tunnel its tunnel_dns, none nothing. */
static size_t dns_list(const struct tfd *d, const struct tfd_persona *p,
		       char out[4][64])
{
	size_t n = 0;

	if (p->cfg->network == TF_NET_NAT) {
		size_t slot = (size_t)(p - d->personas);
		struct tf_cidr c = {.family = AF_INET, .len = 32};
		uint32_t base = ntohl(d->cfg.nat_subnet.addr.v4.s_addr);

		if (d->cfg.nat_subnet.family != AF_INET)
			base = (10u << 24) | (213u << 16); /* the default */
		c.addr.v4.s_addr = htonl(base + 4u * (uint32_t)slot + 1u);
		tf_cidr_format(&c, out[n], 64);
		out[n][strcspn(out[n], "/")] = '\0';
		n++;
	} else if (p->cfg->network == TF_NET_TUNNEL) {
		for (size_t i = 0; i < p->cfg->tunnel.n_dns && n < 4; i++) {
			tf_cidr_format(&p->cfg->tunnel.dns[i], out[n], 64);
			out[n][strcspn(out[n], "/")] = '\0';
			n++;
		}
	}
	return n;
}

static void b64(const uint8_t *b, size_t len, char *out, size_t cap)
{
	if (len == 0 || sodium_base64_ENCODED_LEN(
				len, sodium_base64_VARIANT_ORIGINAL) > cap)
		out[0] = '\0';
	else
		sodium_bin2base64(out, cap, b, len,
				  sodium_base64_VARIANT_ORIGINAL);
}

static void human_bytes(uint64_t b, char *buf, size_t cap)
{
	if (b >= (1ull << 30))
		snprintf(buf, cap, "%.1f GiB", (double)b / (1 << 30));
	else if (b >= (1ull << 20))
		snprintf(buf, cap, "%.1f MiB", (double)b / (1 << 20));
	else if (b >= 1024)
		snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
	else
		snprintf(buf, cap, "%llu B", (unsigned long long)b);
}

static void tunnel_block(const struct tfd_persona *p, FILE *t, FILE *j)
{
	const struct tfd_tunnel *tn = &p->tun;
	const struct tf_tunnel_cfg *tc = &p->cfg->tunnel;
	const char *err = tfd_tunnel_error(tn);
	char ep[80] = "", key[100], rx[24], tx[24];
	const struct tf_tunctl_status *st = &tn->st;
	bool have = tn->running && tn->have_status;
	uint64_t hs_s = have ? st->last_handshake / 1000000000ull : 0;

	if (tc->has_endpoint)
		tf_sockaddr_format((const struct sockaddr *)&tc->endpoint, ep,
				   sizeof(ep));
	b64(tn->pub, tn->pub_len, key, sizeof(key));
	/* text */
	fprintf(t, "  tunnel     %s %s", suite_name(tn->suite),
		tfd_tunnel_state_name(tn));
	if (ep[0])
		fprintf(t, ", endpoint %s", ep);
	if (tn->running)
		fprintf(t, ", local port %u, pid %d", tn->local_port,
			(int)tn->pid);
	fputc('\n', t);
	if (have) {
		human_bytes(st->rx_bytes, rx, sizeof(rx));
		human_bytes(st->tx_bytes, tx, sizeof(tx));
		if (hs_s) {
			time_t now = time(NULL);
			fprintf(t, "             last handshake %llds ago",
				(long long)(now - (time_t)hs_s));
		} else {
			fprintf(t, "             no handshake yet");
		}
		fprintf(t,
			", rx %s (%llu packets), tx %s (%llu packets), "
			"handshakes %llu, rejected %llu\n",
			rx, (unsigned long long)st->rx_packets, tx,
			(unsigned long long)st->tx_packets,
			(unsigned long long)st->handshakes,
			(unsigned long long)st->rejected);
	}
	if (tn->restarts)
		fprintf(t, "             restarts %u\n", tn->restarts);
	if (key[0])
		fprintf(t, "  public key %s\n", key);
	if (err)
		fprintf(t, "  error      %s\n", err);
	/* JSON */
	fprintf(j,
		",\"tunnel\":{\"suite\":\"%s\",\"state\":\"%s\","
		"\"configured\":%s,\"endpoint\":",
		suite_name(tn->suite), tfd_tunnel_state_name(tn),
		tn->configured ? "true" : "false");
	json_str_or_null(j, ep[0] ? ep : NULL);
	fputs(",\"local_port\":", j);
	if (tn->running)
		fprintf(j, "%u", tn->local_port);
	else
		fputs("null", j);
	fputs(",\"pid\":", j);
	if (tn->running)
		fprintf(j, "%d", (int)tn->pid);
	else
		fputs("null", j);
	fputs(",\"public_key\":", j);
	json_str_or_null(j, key[0] ? key : NULL);
	fputs(",\"last_handshake\":", j);
	if (hs_s)
		fprintf(j, "%llu", (unsigned long long)hs_s);
	else
		fputs("null", j);
	fprintf(j,
		",\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"rx_packets\":%llu,"
		"\"tx_packets\":%llu,\"handshakes\":%llu,\"rejected\":%llu,"
		"\"restarts\":%u,\"error\":",
		(unsigned long long)(have ? st->rx_bytes : 0),
		(unsigned long long)(have ? st->tx_bytes : 0),
		(unsigned long long)(have ? st->rx_packets : 0),
		(unsigned long long)(have ? st->tx_packets : 0),
		(unsigned long long)(have ? st->handshakes : 0),
		(unsigned long long)(have ? st->rejected : 0), tn->restarts);
	json_str_or_null(j, err);
	fputc('}', j);
}

static void persona_block(struct tfd *d, struct tfd_persona *p, bool first,
			  FILE *t, FILE *j)
{
	static struct tf_net_info ni; /* 3 KiB: not on the stack */
	char dns[4][64], a[64], err[240] = "";
	size_t n_dns = dns_list(d, p, dns);
	bool lockdown = false, have = false;
	int r;

	memset(&ni, 0, sizeof(ni));
	if (tfd_netns_fd(p) < 0) {
		snprintf(err, sizeof(err), "no network namespace");
	} else if ((r = tf_net_info(tfd_netns_fd(p), &ni)) < 0) {
		snprintf(err, sizeof(err),
			 "cannot read its network namespace: %s", strerror(-r));
	} else {
		have = true;
	}
	/* why the daemon could not make its network (netns.c) */
	if (err[0] == '\0' && p->net_error[0])
		snprintf(err, sizeof(err), "%s", p->net_error);
	if (have && p->cfg->network == TF_NET_TUNNEL) {
		/* from the kernel, not from what we meant to make */
		lockdown = true;
		for (size_t i = 0; i < ni.n_links; i++)
			if (strcmp(ni.links[i].name, "lo") != 0 &&
			    strcmp(ni.links[i].name, "tun0") != 0)
				lockdown = false;
	}
	/* text */
	fprintf(t, "%s%s: %s, %s%s\n", first ? "" : "\n", p->cfg->name,
		mode_name(p->cfg->network), p->rt ? "running" : "not running",
		lockdown ? ", lockdown" : "");
	fprintf(t, "  links     ");
	for (size_t i = 0; i < ni.n_links; i++)
		fprintf(t, "%s %s %s mtu %u", i ? "," : "", ni.links[i].name,
			ni.links[i].up ? "up" : "down", ni.links[i].mtu);
	fprintf(t, "%s\n  addresses ", ni.n_links ? "" : " -");
	{
		size_t shown = 0;
		for (size_t i = 0; i < ni.n_addrs; i++) {
			if (is_loopback(&ni.addrs[i].a))
				continue;
			tf_cidr_format(&ni.addrs[i].a, a, sizeof(a));
			fprintf(t, "%s %s", shown++ ? "," : "", a);
		}
		fprintf(t, "%s\n  routes    ", shown ? "" : " -");
	}
	for (size_t i = 0; i < ni.n_routes; i++) {
		char rs[160];
		route_str(&ni, i, rs, sizeof(rs));
		fprintf(t, "%s %s", i ? "," : "", rs);
	}
	fprintf(t, "%s\n  dns       ", ni.n_routes ? "" : " -");
	for (size_t i = 0; i < n_dns; i++)
		fprintf(t, "%s %s", i ? "," : "", dns[i]);
	fprintf(t, "%s\n", n_dns ? "" : " -");
	if (err[0])
		fprintf(t, "  error      %s\n", err);

	/* JSON */
	fprintf(j, "%s{\"name\":", first ? "" : ",");
	json_str(j, p->cfg->name);
	fprintf(j, ",\"mode\":\"%s\",\"running\":%s,\"links\":[",
		mode_name(p->cfg->network), p->rt ? "true" : "false");
	for (size_t i = 0; i < ni.n_links; i++) {
		fprintf(j, "%s{\"name\":", i ? "," : "");
		json_str(j, ni.links[i].name);
		fprintf(j, ",\"up\":%s,\"mtu\":%u}",
			ni.links[i].up ? "true" : "false", ni.links[i].mtu);
	}
	fputs("],\"addresses\":[", j);
	{
		size_t shown = 0;
		for (size_t i = 0; i < ni.n_addrs; i++) {
			if (is_loopback(&ni.addrs[i].a))
				continue;
			tf_cidr_format(&ni.addrs[i].a, a, sizeof(a));
			fputs(shown++ ? "," : "", j);
			json_str(j, a);
		}
	}
	fputs("],\"routes\":[", j);
	for (size_t i = 0; i < ni.n_routes; i++) {
		char rs[160];
		route_str(&ni, i, rs, sizeof(rs));
		fputs(i ? "," : "", j);
		json_str(j, rs);
	}
	fputs("],\"dns\":[", j);
	for (size_t i = 0; i < n_dns; i++) {
		fputs(i ? "," : "", j);
		json_str(j, dns[i]);
	}
	fprintf(j, "],\"lockdown\":%s,\"error\":", lockdown ? "true" : "false");
	json_str_or_null(j, err[0] ? err : NULL);
	if (p->cfg->network == TF_NET_TUNNEL)
		tunnel_block(p, t, j);
	fputc('}', j);
}

enum tfd_disp tfd_req_net_status(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m,
				 struct tfd_persona *unused,
				 struct tfd_reply *rep)
{
	char *text = NULL, *json = NULL;
	size_t tlen = 0, jlen = 0;
	FILE *t, *j;

	if (!tfd_streams_open(&t, &text, &tlen, &j, &json, &jlen)) {
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "out of memory");
		return TFD_REPLY_NOW;
	}
	fputs("{\"version\":1,\"personas\":[", j);
	for (size_t i = 0; i < d->n_personas; i++)
		persona_block(d, &d->personas[i], i == 0, t, j);
	fputs("]}\n", j);
	fclose(t);
	fclose(j);
	rep->text = text;
	rep->json = json;
	rep->err = 0;
	return TFD_REPLY_NOW;
}

enum tfd_disp tfd_req_tunnel_key(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m,
				 struct tfd_persona *unused,
				 struct tfd_reply *rep)
{
	const char *name = tf_msg_str(m, TF_A_PERSONA);
	struct tfd_persona *p = NULL;
	char key[100], *text = NULL, *json = NULL;
	size_t tlen = 0, jlen = 0;
	FILE *t, *j;

	if (name != NULL) {
		p = tfd_persona_lookup(d, name, rep);
		if (p == NULL)
			return TFD_REPLY_NOW;
		if (p->cfg->network != TF_NET_TUNNEL) {
			tfd_reply_fail(
				rep, -EINVAL, TF_R_NET_NOT_TUNNEL, p->cfg->name,
				"%s has network = %s: only a tunnel "
				"persona has a tunnel key",
				p->cfg->name, mode_name(p->cfg->network));
			tfd_reply_param(rep, "mode", "%s",
					mode_name(p->cfg->network));
			return TFD_REPLY_NOW;
		}
	} else {
		for (size_t i = 0; i < d->n_personas && p == NULL; i++)
			if (d->personas[i].cfg->network == TF_NET_TUNNEL)
				p = &d->personas[i];
		if (p == NULL) {
			tfd_reply_fail(rep, -ENOENT, TF_R_NET_NOT_TUNNEL, NULL,
				       "no persona has network = tunnel "
				       "(device.conf)");
			return TFD_REPLY_NOW;
		}
	}
	if (p->tun.pub_len == 0) {
		tfd_reply_fail(rep, -ENOKEY, TF_R_NET_NO_KEY, p->cfg->name,
			       "%s: the tunnel key could not be derived "
			       "(see twofoldd's log)",
			       p->cfg->name);
		return TFD_REPLY_NOW;
	}
	b64(p->tun.pub, p->tun.pub_len, key, sizeof(key));
	if (!tfd_streams_open(&t, &text, &tlen, &j, &json, &jlen)) {
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "out of memory");
		return TFD_REPLY_NOW;
	}
	fprintf(t, "%s %s\n", suite_name(p->tun.suite), key);
	fputs("{\"persona\":", j);
	json_str(j, p->cfg->name);
	fprintf(j, ",\"suite\":\"%s\",\"public_key\":\"%s\"}\n",
		suite_name(p->tun.suite), key);
	fclose(t);
	fclose(j);
	rep->text = text;
	rep->json = json;
	rep->err = 0;
	return TFD_REPLY_NOW;
}
