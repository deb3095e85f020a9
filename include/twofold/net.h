/* SPDX-License-Identifier: ISC */
/*
 * Network plumbing for the personas (issue 12): network namespaces the
 * daemon owns, links, addresses and routes through rtnetlink (libmnl), and
 * firewall rulesets through libnftables. Used by twofoldd only (root, in
 * the device's uplink namespace).
 *
 * Every function that takes an nsfd works in that network namespace and
 * leaves the calling thread where it was (it enters with setns(2) on the
 * calling thread only, opens its netlink socket there, and returns).
 * nsfd -1 = the caller's own namespace.
 */
#ifndef TWOFOLD_NET_H
#define TWOFOLD_NET_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "twofold/common.h"

/* An IPv4 or IPv6 prefix: "10.77.0.2/32", "fd00::/8". */
struct tf_cidr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t len; /* prefix length */
};

/* Parse "ADDR/LEN" (or a bare ADDR: a host prefix). -EINVAL if malformed
 * or host bits are set where must_be_network. */
TF_EXPORT TF_WUR int tf_cidr_parse(const char *s, bool must_be_network,
				   struct tf_cidr *out) TF_NONNULL(1, 3);
/* "10.77.0.2/32" into buf (at least 64 bytes). */
TF_EXPORT void tf_cidr_format(const struct tf_cidr *c, char *buf, size_t cap)
	TF_NONNULL(1, 2);
/* Parse "ADDR:PORT" or "[ADDR6]:PORT" (literal addresses only: resolving a
 * name would need DNS on the underlay). -EINVAL if malformed. */
TF_EXPORT TF_WUR int tf_sockaddr_parse(const char *s,
				       struct sockaddr_storage *out,
				       socklen_t *outlen) TF_NONNULL(1, 2, 3);
TF_EXPORT void tf_sockaddr_format(const struct sockaddr *sa, char *buf,
				  size_t cap) TF_NONNULL(1, 2);

/* A new network namespace owned by the caller's user namespace (the
 * daemon's: so no persona's root has any capability over it), with lo
 * up. Returns its fd (O_CLOEXEC) in *nsfd. */
TF_EXPORT TF_WUR int tf_netns_create(int *nsfd) TF_NONNULL(1);
/* Enter nsfd on the calling thread; *oldfd gets the namespace to return
 * to with tf_netns_leave (which closes it). */
TF_EXPORT TF_WUR int tf_netns_enter(int nsfd, int *oldfd) TF_NONNULL(2);
TF_EXPORT int tf_netns_leave(int oldfd);
/* socket(2) in namespace nsfd: the socket stays bound to it. */
TF_EXPORT TF_WUR int tf_netns_socket(int nsfd, int domain, int type, int proto);

/* ---- links, addresses, routes (rtnetlink) ---- */
/* A veth pair: host_if in the caller's namespace, peer_if moved into
 * peer_nsfd. -EEXIST if host_if exists. */
TF_EXPORT TF_WUR int tf_net_veth_create(const char *host_if, int peer_nsfd,
					const char *peer_if) TF_NONNULL(1, 3);
TF_EXPORT TF_WUR int tf_net_link_del(int nsfd, const char *ifname)
	TF_NONNULL(2);
/* Set up (and the MTU, when mtu != 0). */
TF_EXPORT TF_WUR int tf_net_link_up(int nsfd, const char *ifname, unsigned mtu)
	TF_NONNULL(2);
TF_EXPORT TF_WUR int tf_net_addr_add(int nsfd, const char *ifname,
				     const struct tf_cidr *a) TF_NONNULL(2, 3);
/* dst via gw (NULL: on-link, through ifname). Replaces an existing route
 * to dst (NLM_F_REPLACE). */
TF_EXPORT TF_WUR int tf_net_route_add(int nsfd, const char *ifname,
				      const struct tf_cidr *dst,
				      const struct tf_cidr *gw)
	TF_NONNULL(2, 3);
/* A sysctl of the namespace (e.g. "net/ipv4/ip_forward", "1"): opened
 * under /proc/sys while in nsfd. */
TF_EXPORT TF_WUR int tf_net_sysctl(int nsfd, const char *path,
				   const char *value) TF_NONNULL(2, 3);

/* What a namespace has, read back from the kernel (for `net status`). */
#define TF_NET_INFO_MAX 16
struct tf_net_info {
	size_t n_links;
	struct {
		char name[16];
		bool up;
		unsigned mtu;
	} links[TF_NET_INFO_MAX];
	size_t n_addrs;
	struct {
		char ifname[16];
		struct tf_cidr a;
	} addrs[TF_NET_INFO_MAX];
	size_t n_routes; /* main table, unicast */
	struct {
		char ifname[16];
		struct tf_cidr dst;
		bool has_gw;
		struct tf_cidr gw;
	} routes[TF_NET_INFO_MAX];
};
TF_EXPORT TF_WUR int tf_net_info(int nsfd, struct tf_net_info *out)
	TF_NONNULL(2);

/* ---- TUN ---- */
#define TF_TUN_VNET_HDR 0x1u /* IFF_VNET_HDR + TUNSETOFFLOAD (csum, TSO) */
/* Create TUN ifname in nsfd with nqueues queues (IFF_TUN | IFF_NO_PI |
 * IFF_MULTI_QUEUE; IFF_VNET_HDR with TF_TUN_VNET_HDR when the kernel takes
 * it, reported back in *flags_out). fds gets nqueues O_CLOEXEC fds; the
 * device lives as long as one of them is open (not persistent). */
TF_EXPORT TF_WUR int tf_net_tun_create(int nsfd, const char *ifname,
				       unsigned nqueues, unsigned flags,
				       int *fds, unsigned *flags_out)
	TF_NONNULL(2, 5, 6);

/* ---- firewall (libnftables) ---- */
/* Apply an nft ruleset text (nft -f syntax) atomically in nsfd. On failure
 * -EINVAL and the first line of nft's error in err. */
TF_EXPORT TF_WUR int tf_nft_apply(int nsfd, const char *ruleset, char *err,
				  size_t errlen) TF_NONNULL(2);
/* Run one nft command and return its JSON output (`nft -j list ...`),
 * malloc'd, in *out. */
TF_EXPORT TF_WUR int tf_nft_json(int nsfd, const char *cmd, char **out)
	TF_NONNULL(2, 3);

#endif
