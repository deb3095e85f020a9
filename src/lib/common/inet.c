/* SPDX-License-Identifier: ISC */
/*
 * Address literals of the network config (include/twofold/net.h): CIDR
 * prefixes and ADDR:PORT endpoints. In tf_base because the config parser
 * (tf_config_parse) needs them; literals only, never a name lookup (that
 * would need DNS on the underlay).
 */
#include <arpa/inet.h>
#include <string.h>

#include "twofold/net.h"

/* Longest literal we take: an IPv6 address with an IPv4 tail, "/128". */
#define CIDR_TEXT_MAX 64

static int parse_prefix_len(const char *s, unsigned max, uint8_t *out)
{
	unsigned v = 0;
	if (!*s || strlen(s) > 3)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	/* "08" is not a length anyone means; refuse leading zeros */
	if (s[0] == '0' && s[1])
		return -EINVAL;
	if (v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

static bool host_bits_set(const uint8_t *a, size_t n, unsigned len)
{
	for (size_t i = 0; i < n; i++) {
		unsigned bit0 = (unsigned)i * 8;
		uint8_t mask;
		if (bit0 + 8 <= len)
			continue;
		mask = bit0 >= len ? 0xff : (uint8_t)(0xff >> (len - bit0));
		if (a[i] & mask)
			return true;
	}
	return false;
}

int tf_cidr_parse(const char *s, bool must_be_network, struct tf_cidr *out)
{
	char buf[CIDR_TEXT_MAX];
	struct tf_cidr c = {0};
	size_t n = strlen(s);
	char *slash;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, &c.addr.v4) == 1) {
		c.family = AF_INET;
		c.len = 32;
	} else if (inet_pton(AF_INET6, buf, &c.addr.v6) == 1) {
		c.family = AF_INET6;
		c.len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		int r = parse_prefix_len(slash + 1, c.len, &c.len);
		if (r < 0)
			return r;
	}
	if (must_be_network) {
		const uint8_t *a = c.family == AF_INET
					   ? (const uint8_t *)&c.addr.v4
					   : (const uint8_t *)&c.addr.v6;
		if (host_bits_set(a, c.family == AF_INET ? 4 : 16, c.len))
			return -EINVAL;
	}
	*out = c;
	return 0;
}

void tf_cidr_format(const struct tf_cidr *c, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	if (cap == 0)
		return;
	if (c->family == AF_INET || c->family == AF_INET6)
		inet_ntop(c->family, &c->addr, a, sizeof(a));
	snprintf(buf, cap, "%s/%u", a, (unsigned)c->len);
}

static int parse_port(const char *s, uint16_t *out)
{
	unsigned v = 0;
	if (!*s || strlen(s) > 5 || (s[0] == '0'))
		return -EINVAL; /* port 0 cannot be connected to */
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int tf_sockaddr_parse(const char *s, struct sockaddr_storage *out,
		      socklen_t *outlen)
{
	char buf[CIDR_TEXT_MAX];
	size_t n = strlen(s);
	const char *port;
	uint16_t p;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	if (buf[0] == '[') {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
		char *close = strchr(buf, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		port = close + 2;
		/* no zone ids ("fe80::1%eth0"): the interface would be the
		 * daemon's guess */
		if (inet_pton(AF_INET6, buf + 1, &sin6.sin6_addr) != 1)
			return -EINVAL;
		if (parse_port(port, &p) < 0)
			return -EINVAL;
		sin6.sin6_port = htons(p);
		memset(out, 0, sizeof(*out));
		memcpy(out, &sin6, sizeof(sin6));
		*outlen = sizeof(sin6);
		return 0;
	}
	{
		struct sockaddr_in sin = {.sin_family = AF_INET};
		char *colon = strchr(buf, ':');
		/* one colon only: a bare IPv6 address needs its brackets */
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		*colon = '\0';
		if (inet_pton(AF_INET, buf, &sin.sin_addr) != 1)
			return -EINVAL;
		if (parse_port(colon + 1, &p) < 0)
			return -EINVAL;
		sin.sin_port = htons(p);
		memset(out, 0, sizeof(*out));
		memcpy(out, &sin, sizeof(sin));
		*outlen = sizeof(sin);
		return 0;
	}
}

void tf_sockaddr_format(const struct sockaddr *sa, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	if (cap == 0)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, cap, "%s:%u", a, (unsigned)ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, cap, "[%s]:%u", a,
			 (unsigned)ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, cap, "?");
	}
}
