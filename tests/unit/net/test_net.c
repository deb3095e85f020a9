/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of src/lib/net and common/inet.c (include/twofold/net.h).
 * The program unshares its own network namespace first (it is one thread
 * then), so every link, route and table it makes goes with it at exit.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "twofold/net.h"

static void test_cidr(void **state)
{
	struct tf_cidr c;
	char buf[64];
	assert_int_equal(tf_cidr_parse("10.0.0.1", false, &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.len, 32);
	assert_int_equal(tf_cidr_parse("10.213.0.0/16", true, &c), 0);
	assert_int_equal(c.len, 16);
	tf_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "10.213.0.0/16");
	assert_int_equal(tf_cidr_parse("10.213.0.1/16", false, &c), 0);
	assert_int_equal(tf_cidr_parse("10.213.0.1/16", true, &c), -EINVAL);
	assert_int_equal(tf_cidr_parse("10.213.128.0/17", true, &c), 0);
	assert_int_equal(tf_cidr_parse("10.213.64.0/17", true, &c), -EINVAL);
	assert_int_equal(tf_cidr_parse("0.0.0.0/0", true, &c), 0);
	assert_int_equal(c.len, 0);
	assert_int_equal(tf_cidr_parse("1.0.0.0/0", true, &c), -EINVAL);
	assert_int_equal(tf_cidr_parse("fd00::/8", true, &c), 0);
	assert_int_equal(c.family, AF_INET6);
	tf_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::/8");
	assert_int_equal(tf_cidr_parse("fd00::1", true, &c), 0);
	assert_int_equal(c.len, 128);
	const char *bad[] = {"",
			     "/8",
			     "10.0.0.0/",
			     "10.0.0.0/33",
			     "10.0.0.0/08",
			     "10.0.0.0/-1",
			     "10.0.0.0/ 8",
			     " 10.0.0.0",
			     "10.0.0/8",
			     "fd00::/129",
			     "host/8",
			     "10.0.0.0/8/8",
			     "10.0.0.256",
			     "10.0.0.0/1000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tf_cidr_parse(bad[i], false, &c), -EINVAL);
	char lng[200];
	memset(lng, '1', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	assert_int_equal(tf_cidr_parse(lng, false, &c), -EINVAL);
}

static void test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];
	assert_int_equal(tf_sockaddr_parse("192.0.2.2:51820", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	tf_sockaddr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.2:51820");
	assert_int_equal(tf_sockaddr_parse("[fd00::1]:7", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	tf_sockaddr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::1]:7");
	assert_int_equal(tf_sockaddr_parse("1.2.3.4:65535", &ss, &len), 0);
	const char *bad[] = {"",
			     "1.2.3.4",
			     "1.2.3.4:",
			     "1.2.3.4:0",
			     "1.2.3.4:65536",
			     "1.2.3.4:080",
			     "1.2.3.4:8x",
			     "fd00::1:51820",
			     "[fd00::1]51820",
			     "[fd00::1]:",
			     "[fe80::1%eth0]:1",
			     "[1.2.3.4]:5",
			     "gateway.example:51820",
			     ":51820"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tf_sockaddr_parse(bad[i], &ss, &len), -EINVAL);
}

static ino_t ns_ino(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static ino_t fd_ino(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static bool has_link(const struct tf_net_info *i, const char *name, bool up,
		     unsigned mtu)
{
	for (size_t k = 0; k < i->n_links; k++)
		if (!strcmp(i->links[k].name, name))
			return i->links[k].up == up &&
			       (!mtu || i->links[k].mtu == mtu);
	return false;
}

static void test_netns_veth(void **state)
{
	ino_t self = ns_ino("/proc/thread-self/ns/net");
	struct tf_net_info *info = calloc(1, sizeof(*info));
	struct tf_cidr host, peer, gw, def, gw2;
	char buf[64];
	int ns = -1;
	assert_non_null(info);
	assert_int_equal(tf_netns_create(&ns), 0);
	assert_true(ns >= 0);
	assert_true(fd_ino(ns) != self);
	assert_int_equal(ns_ino("/proc/thread-self/ns/net"), self);
	assert_true(fcntl(ns, F_GETFD) & FD_CLOEXEC);

	/* lo is up in the new namespace, only lo */
	assert_int_equal(tf_net_info(ns, info), 0);
	assert_int_equal(info->n_links, 1);
	assert_true(has_link(info, "lo", true, 0));

	assert_int_equal(tf_net_veth_create("tfvtest0", ns, "eth0"), 0);
	assert_int_equal(tf_net_veth_create("tfvtest0", ns, "eth1"), -EEXIST);
	assert_int_equal(tf_net_veth_create("bad/name", ns, "eth1"), -EINVAL);
	assert_int_equal(tf_net_link_up(-1, "tfvtest0", 1500), 0);
	assert_int_equal(tf_net_link_up(ns, "eth0", 1400), 0);
	assert_int_equal(tf_net_link_up(ns, "nosuch0", 0), -ENODEV);
	assert_int_equal(tf_cidr_parse("10.9.0.1/30", false, &host), 0);
	assert_int_equal(tf_cidr_parse("10.9.0.2/30", false, &peer), 0);
	assert_int_equal(tf_cidr_parse("10.9.0.1", false, &gw), 0);
	assert_int_equal(tf_cidr_parse("0.0.0.0/0", true, &def), 0);
	assert_int_equal(tf_net_addr_add(-1, "tfvtest0", &host), 0);
	assert_int_equal(tf_net_addr_add(ns, "eth0", &peer), 0);
	/* again: a restart sets the same address */
	assert_int_equal(tf_net_addr_add(ns, "eth0", &peer), 0);
	assert_int_equal(tf_net_route_add(ns, "eth0", &def, &gw), 0);
	/* replaced, not a second default route */
	assert_int_equal(tf_net_route_add(ns, "eth0", &def, &gw), 0);
	/* a gateway of the other family; one not on the link */
	assert_int_equal(tf_cidr_parse("fd00::1", true, &gw2), 0);
	assert_int_equal(tf_net_route_add(ns, "eth0", &def, &gw2), -EINVAL);
	assert_int_equal(tf_cidr_parse("10.8.0.1", true, &gw2), 0);
	assert_int_equal(tf_net_route_add(ns, "eth0", &def, &gw2),
			 -ENETUNREACH);

	assert_int_equal(tf_net_info(ns, info), 0);
	assert_int_equal(info->n_links, 2);
	assert_true(has_link(info, "eth0", true, 1400));
	bool found = false;
	for (size_t k = 0; k < info->n_addrs; k++) {
		tf_cidr_format(&info->addrs[k].a, buf, sizeof(buf));
		if (!strcmp(buf, "10.9.0.2/30") &&
		    !strcmp(info->addrs[k].ifname, "eth0"))
			found = true;
	}
	assert_true(found);
	size_t ndef = 0;
	for (size_t k = 0; k < info->n_routes; k++) {
		if (info->routes[k].dst.family != AF_INET ||
		    info->routes[k].dst.len != 0)
			continue;
		ndef++;
		assert_true(info->routes[k].has_gw);
		tf_cidr_format(&info->routes[k].gw, buf, sizeof(buf));
		assert_string_equal(buf, "10.9.0.1/32");
		assert_string_equal(info->routes[k].ifname, "eth0");
	}
	assert_int_equal(ndef, 1);

	/* the host side is here, not there */
	assert_int_equal(tf_net_info(-1, info), 0);
	assert_true(has_link(info, "tfvtest0", true, 1500));
	assert_false(has_link(info, "eth0", true, 0));

	/* a socket made in ns can bind the address only ns has */
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr = peer.addr.v4};
	int s = tf_netns_socket(ns, AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	close(s);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(errno, EADDRNOTAVAIL);
	close(s);

	/* a sysctl of ns, not of ours */
	assert_int_equal(tf_net_sysctl(ns, "net/ipv4/ip_forward", "1"), 0);
	assert_int_equal(tf_net_sysctl(ns, "../etc/passwd", "1"), -EINVAL);
	int old;
	char v[8] = {0};
	assert_int_equal(tf_netns_enter(ns, &old), 0);
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
	assert_true(read(fd, v, sizeof(v) - 1) > 0);
	close(fd);
	assert_int_equal(tf_netns_leave(old), 0);
	assert_int_equal(v[0], '1');
	fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
	assert_true(read(fd, v, sizeof(v) - 1) > 0);
	close(fd);
	assert_int_equal(v[0], '0');

	/* deleting one end removes the pair */
	assert_int_equal(tf_net_link_del(-1, "tfvtest0"), 0);
	assert_int_equal(tf_net_info(ns, info), 0);
	assert_int_equal(info->n_links, 1);
	assert_int_equal(tf_net_link_del(-1, "tfvtest0"), -ENODEV);
	assert_int_equal(ns_ino("/proc/thread-self/ns/net"), self);
	close(ns);
	free(info);
}

static void test_tun(void **state)
{
	struct tf_net_info *info = calloc(1, sizeof(*info));
	int fds[3], ns = -1;
	unsigned flags = 99;
	assert_int_equal(tf_netns_create(&ns), 0);
	assert_int_equal(
		tf_net_tun_create(ns, "tun0", 3, TF_TUN_VNET_HDR, fds, &flags),
		0);
	for (int i = 0; i < 3; i++)
		assert_true(fds[i] >= 0 &&
			    (fcntl(fds[i], F_GETFD) & FD_CLOEXEC));
	/* kernel 6.18 has the offloads */
	assert_int_equal(flags, TF_TUN_VNET_HDR);
	assert_int_equal(tf_net_link_up(ns, "tun0", 1420), 0);
	assert_int_equal(tf_net_info(ns, info), 0);
	assert_true(has_link(info, "tun0", true, 1420));
	assert_int_equal(tf_net_info(-1, info), 0);
	assert_false(has_link(info, "tun0", true, 0));
	/* not persistent: gone with its last queue */
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	assert_int_equal(tf_net_info(ns, info), 0);
	assert_false(has_link(info, "tun0", true, 0));
	/* plain: no vnet header asked, none given */
	assert_int_equal(tf_net_tun_create(ns, "tun0", 1, 0, fds, &flags), 0);
	assert_int_equal(flags, 0);
	close(fds[0]);
	assert_int_equal(tf_net_tun_create(ns, "tun0", 0, 0, fds, &flags),
			 -EINVAL);
	close(ns);
	free(info);
}

static void test_nft(void **state)
{
	char err[256];
	char *out = NULL;
	int ns = -1;
	assert_int_equal(tf_netns_create(&ns), 0);
	assert_int_equal(
		tf_nft_apply(ns,
			     "table inet tftest {\n"
			     " chain input { type filter hook input priority 0;"
			     " policy accept; counter; }\n"
			     "}\n",
			     err, sizeof(err)),
		0);
	assert_int_equal(tf_nft_json(ns, "list ruleset", &out), 0);
	assert_non_null(strstr(out, "\"nftables\""));
	assert_non_null(strstr(out, "\"tftest\""));
	free(out);
	out = NULL;
	/* only there */
	assert_int_equal(tf_nft_json(-1, "list ruleset", &out), 0);
	assert_null(strstr(out, "\"tftest\""));
	free(out);
	/* atomic: the bad second table keeps the first one out */
	assert_int_equal(
		tf_nft_apply(ns,
			     "delete table inet tftest\n"
			     "table inet other { chain c { nonsense; } }\n",
			     err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "Error"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(tf_nft_json(ns, "list tables", &out), 0);
	assert_non_null(strstr(out, "\"tftest\""));
	assert_null(strstr(out, "\"other\""));
	free(out);
	close(ns);
}

int main(void)
{
	/* our own namespace, made while we are one thread */
	if (unshare(CLONE_NEWNET) < 0) {
		perror("test_net: unshare(CLONE_NEWNET) (needs root)");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_netns_veth),
		cmocka_unit_test(test_tun),
		cmocka_unit_test(test_nft),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
