/* SPDX-License-Identifier: ISC */
/*
 * Links, addresses and routes through rtnetlink (libmnl), and TUN devices
 * (include/twofold/net.h). A netlink socket talks to the namespace it was
 * opened in, so each call opens its own while inside nsfd.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "internal.h"
#include "twofold/net.h"

struct rtnl {
	struct mnl_socket *nl;
	unsigned portid;
	unsigned seq;
};

static void rtnl_close(struct rtnl *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
}

/* Open in the calling thread's current namespace. */
static int rtnl_open(struct rtnl *r)
{
	r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!r->nl)
		return tf_negerrno();
	if (mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = tf_negerrno();
		rtnl_close(r);
		return e;
	}
	r->portid = mnl_socket_get_portid(r->nl);
	r->seq = (unsigned)time(NULL);
	return 0;
}

/* Send one request (NLM_F_ACK set here) and run cb over the answer until
 * the ack or NLMSG_DONE: 0 or the kernel's -errno. */
static int rtnl_talk(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb,
		     void *data)
{
	_cleanup_free_ char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	unsigned seq = ++r->seq;
	int ret;
	if (!buf)
		return -ENOMEM;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return tf_negerrno();
	for (;;) {
		ssize_t n =
			mnl_socket_recvfrom(r->nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (n < 0)
			return tf_negerrno();
		ret = mnl_cb_run(buf, (size_t)n, seq, r->portid, cb, data);
		if (ret < 0)
			return tf_negerrno();
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* Open in nsfd (or here), send one request, leave. */
static int rtnl_do(int nsfd, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct rtnl r = {0};
	int old = -1, ret;
	ret = tf_net_enter_opt(nsfd, &old);
	if (ret < 0)
		return ret;
	ret = rtnl_open(&r);
	tf_net_leave_opt(&old);
	if (ret < 0)
		return ret;
	ret = rtnl_talk(&r, nlh, cb, data);
	rtnl_close(&r);
	return ret;
}

static int check_ifname(const char *ifname)
{
	size_t n = strlen(ifname);
	return n == 0 || n >= IFNAMSIZ || strchr(ifname, '/') ? -EINVAL : 0;
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags,
				 const char *ifname)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nlh;
}

int tf_net_veth_create(const char *host_if, int peer_nsfd, const char *peer_if)
{
	char buf[1024];
	struct nlmsghdr *nlh;
	struct nlattr *info, *data, *peer;
	struct ifinfomsg *pifi;
	if (check_ifname(host_if) < 0 || check_ifname(peer_if) < 0)
		return -EINVAL;
	nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, host_if);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer's attributes follow its own ifinfomsg */
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	memset(pifi, 0, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_if);
	/* created straight in the persona's namespace: no moment where
	 * both ends are in the uplink namespace under a guessable name */
	if (peer_nsfd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return rtnl_do(-1, nlh, NULL, NULL);
}

int tf_net_link_del(int nsfd, const char *ifname)
{
	char buf[256];
	if (check_ifname(ifname) < 0)
		return -EINVAL;
	return rtnl_do(nsfd, link_msg(buf, RTM_DELLINK, 0, ifname), NULL, NULL);
}

int tf_net_link_up(int nsfd, const char *ifname, unsigned mtu)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	if (check_ifname(ifname) < 0)
		return -EINVAL;
	nlh = link_msg(buf, RTM_NEWLINK, 0, ifname);
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return rtnl_do(nsfd, nlh, NULL, NULL);
}

static size_t cidr_bytes(const struct tf_cidr *c)
{
	return c->family == AF_INET ? 4 : 16;
}

static int check_cidr(const struct tf_cidr *c)
{
	if (c->family == AF_INET)
		return c->len <= 32 ? 0 : -EINVAL;
	if (c->family == AF_INET6)
		return c->len <= 128 ? 0 : -EINVAL;
	return -EAFNOSUPPORT;
}

/* The ifindex of ifname in nsfd: the name lookup of an ioctl socket made
 * in that namespace. */
static int ifindex_in(int nsfd, const char *ifname, unsigned *idx)
{
	struct ifreq ifr = {0};
	int fd = tf_netns_socket(nsfd, AF_INET, SOCK_DGRAM, 0);
	int r = 0;
	if (fd < 0)
		return fd;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		r = tf_negerrno();
	close(fd);
	if (r < 0)
		return r;
	*idx = (unsigned)ifr.ifr_ifindex;
	return 0;
}

int tf_net_addr_add(int nsfd, const char *ifname, const struct tf_cidr *a)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned idx;
	int r;
	if (check_ifname(ifname) < 0 || check_cidr(a) < 0)
		return -EINVAL;
	r = ifindex_in(nsfd, ifname, &idx);
	if (r < 0)
		return r;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	/* REPLACE: setting the same address again (a restart) is no error */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = idx;
	mnl_attr_put(nlh, IFA_LOCAL, cidr_bytes(a), &a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, cidr_bytes(a), &a->addr);
	if (a->family == AF_INET6) {
		/* no duplicate address detection: the address is ours by
		 * construction, and DAD would hold it "tentative" (unusable)
		 * for a second after every restart */
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	return rtnl_do(nsfd, nlh, NULL, NULL);
}

int tf_net_route_add(int nsfd, const char *ifname, const struct tf_cidr *dst,
		     const struct tf_cidr *gw)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	unsigned idx;
	int r;
	if (check_ifname(ifname) < 0 || check_cidr(dst) < 0)
		return -EINVAL;
	if (gw && (gw->family != dst->family || check_cidr(gw) < 0))
		return -EINVAL;
	r = ifindex_in(nsfd, ifname, &idx);
	if (r < 0)
		return r;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = dst->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst->len)
		mnl_attr_put(nlh, RTA_DST, cidr_bytes(dst), &dst->addr);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, cidr_bytes(gw), &gw->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, idx);
	return rtnl_do(nsfd, nlh, NULL, NULL);
}

/* ---- read back ---- */

struct dump_ctx {
	struct tf_net_info *info;
	int nsfd;
	/* ifindex -> name of the link dump, for addresses and routes */
	size_t n_idx;
	struct {
		unsigned idx;
		char name[IFNAMSIZ];
	} idx[64];
};

static const char *name_of(const struct dump_ctx *d, unsigned idx)
{
	for (size_t i = 0; i < d->n_idx; i++)
		if (d->idx[i].idx == idx)
			return d->idx[i].name;
	return "?";
}

static void copy_name(char dst[16], const char *src)
{
	size_t n = strnlen(src, 15);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool attr_to_cidr(const struct nlattr *a, int family, uint8_t len,
			 struct tf_cidr *out)
{
	size_t want = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
	if (!a || !want || mnl_attr_get_payload_len(a) != want)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->len = len;
	memcpy(&out->addr, mnl_attr_get_payload(a), want);
	return true;
}

static int collect_attrs(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t t = mnl_attr_get_type(a);
	/* every table here is sized 64 (IFLA_*, IFA_*, RTA_* all fit) */
	if (t < 64)
		tb[t] = a;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[64] = {0};
	const char *name;
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifi), collect_attrs, tb);
	if (!tb[IFLA_IFNAME] ||
	    mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_STRING) < 0)
		return MNL_CB_OK;
	name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	if (d->n_idx < TF_ARRAY_SIZE(d->idx)) {
		d->idx[d->n_idx].idx = (unsigned)ifi->ifi_index;
		copy_name(d->idx[d->n_idx].name, name);
		d->n_idx++;
	}
	if (d->info->n_links < TF_NET_INFO_MAX) {
		size_t i = d->info->n_links++;
		copy_name(d->info->links[i].name, name);
		d->info->links[i].up = (ifi->ifi_flags & IFF_UP) != 0;
		d->info->links[i].mtu =
			tb[IFLA_MTU] && mnl_attr_get_payload_len(
						tb[IFLA_MTU]) == 4
				? mnl_attr_get_u32(tb[IFLA_MTU])
				: 0;
	}
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[64] = {0};
	const struct nlattr *a;
	struct tf_cidr c;
	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    d->info->n_addrs >= TF_NET_INFO_MAX)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), collect_attrs, tb);
	/* IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
	 * peer's on point-to-point links) */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!attr_to_cidr(a, ifa->ifa_family, ifa->ifa_prefixlen, &c))
		return MNL_CB_OK;
	copy_name(d->info->addrs[d->info->n_addrs].ifname,
		  name_of(d, ifa->ifa_index));
	d->info->addrs[d->info->n_addrs++].a = c;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[64] = {0};
	uint32_t table;
	size_t i;
	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    d->info->n_routes >= TF_NET_INFO_MAX)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), collect_attrs, tb);
	table = tb[RTA_TABLE] && mnl_attr_get_payload_len(tb[RTA_TABLE]) == 4
			? mnl_attr_get_u32(tb[RTA_TABLE])
			: rtm->rtm_table;
	if (table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	i = d->info->n_routes;
	memset(&d->info->routes[i], 0, sizeof(d->info->routes[i]));
	if (tb[RTA_DST]) {
		if (!attr_to_cidr(tb[RTA_DST], rtm->rtm_family,
				  rtm->rtm_dst_len, &d->info->routes[i].dst))
			return MNL_CB_OK;
	} else {
		d->info->routes[i].dst.family = rtm->rtm_family;
		d->info->routes[i].dst.len = 0; /* default */
	}
	d->info->routes[i].has_gw = attr_to_cidr(
		tb[RTA_GATEWAY], rtm->rtm_family,
		rtm->rtm_family == AF_INET ? 32 : 128, &d->info->routes[i].gw);
	copy_name(d->info->routes[i].ifname,
		  tb[RTA_OIF] && mnl_attr_get_payload_len(tb[RTA_OIF]) == 4
			  ? name_of(d, mnl_attr_get_u32(tb[RTA_OIF]))
			  : "");
	d->info->n_routes++;
	return MNL_CB_OK;
}

static int dump(struct rtnl *r, uint16_t type, size_t hdrlen, mnl_cb_t cb,
		struct dump_ctx *d)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	/* the family byte leads every one of ifinfomsg/ifaddrmsg/rtmsg;
	 * the kernel wants the whole header of the message type */
	g = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	g->rtgen_family = AF_UNSPEC;
	return rtnl_talk(r, nlh, cb, d);
}

int tf_net_info(int nsfd, struct tf_net_info *out)
{
	_cleanup_free_ struct dump_ctx *d = calloc(1, sizeof(*d));
	_cleanup_free_ struct tf_net_info *info = calloc(1, sizeof(*info));
	struct rtnl r = {0};
	int old = -1, ret;
	if (!d || !info)
		return -ENOMEM;
	d->info = info;
	d->nsfd = nsfd;
	ret = tf_net_enter_opt(nsfd, &old);
	if (ret < 0)
		return ret;
	ret = rtnl_open(&r);
	tf_net_leave_opt(&old);
	if (ret < 0)
		return ret;
	ret = dump(&r, RTM_GETLINK, sizeof(struct ifinfomsg), link_cb, d);
	if (ret == 0)
		ret = dump(&r, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb,
			   d);
	if (ret == 0)
		ret = dump(&r, RTM_GETROUTE, sizeof(struct rtmsg), route_cb, d);
	rtnl_close(&r);
	if (ret < 0)
		return ret;
	*out = *info;
	return 0;
}

/* ---- TUN ---- */

static int tun_open_queue(const char *ifname, unsigned flags, bool vnet)
{
	struct ifreq ifr = {0};
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return tf_negerrno();
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE |
				(vnet ? IFF_VNET_HDR : 0));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return tf_negerrno();
	if (vnet) {
		/* what the engine can take whole: checksum left to it, TCP
		 * segments up to 64 KiB (GSO) in both families */
		unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
		if (ioctl(fd, TUNSETOFFLOAD, off) < 0)
			return tf_negerrno();
	}
	(void)flags;
	return steal_fd(&fd);
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int tun_open_all(const char *ifname, unsigned nqueues, bool vnet,
			int *fds)
{
	for (unsigned i = 0; i < nqueues; i++) {
		int fd = tun_open_queue(ifname, 0, vnet);
		if (fd < 0) {
			close_all(fds, i);
			return fd;
		}
		fds[i] = fd;
	}
	return 0;
}

int tf_net_tun_create(int nsfd, const char *ifname, unsigned nqueues,
		      unsigned flags, int *fds, unsigned *flags_out)
{
	bool vnet = (flags & TF_TUN_VNET_HDR) != 0;
	int old = -1, r;
	if (check_ifname(ifname) < 0 || nqueues == 0 || nqueues > 256)
		return -EINVAL;
	for (unsigned i = 0; i < nqueues; i++)
		fds[i] = -1;
	/* the device is made in the namespace /dev/net/tun was opened in */
	r = tf_net_enter_opt(nsfd, &old);
	if (r < 0)
		return r;
	r = tun_open_all(ifname, nqueues, vnet, fds);
	if (r < 0 && vnet && (r == -EINVAL || r == -EOPNOTSUPP)) {
		/* a kernel without the offloads: plain packets */
		vnet = false;
		r = tun_open_all(ifname, nqueues, vnet, fds);
	}
	tf_net_leave_opt(&old);
	if (r < 0)
		return r;
	*flags_out = vnet ? TF_TUN_VNET_HDR : 0;
	return 0;
}
