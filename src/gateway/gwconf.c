/* SPDX-License-Identifier: ISC */
/*
 * twofold-gateway config and device list parsers (gwconf.h). The files
 * come from the organisation's administrators and, later, from fleet
 * management: treated as untrusted (bounded, no allocation, fuzzed).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gwconf.h"
#include "twofold/common.h"
#include "twofold/suite.h"

TF_PRINTF(4, 5)
static int fail(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "line %u: %s", line, msg);
	return -EINVAL;
}

int tf_gw_prefix_parse(const char *s, bool host_only, struct tf_gw_prefix *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct tf_gw_prefix p = {0};
	unsigned max;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = AF_INET6, max = 128;
	else
		return -EINVAL;
	p.len = (uint8_t)max;
	if (slash) {
		const char *d = slash + 1;
		unsigned v = 0;
		if (!*d || strlen(d) > 3)
			return -EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(*d - '0');
		}
		if (v > max || (host_only && v != max))
			return -EINVAL;
		p.len = (uint8_t)v;
	}
	*out = p;
	return 0;
}

int tf_gw_sockaddr_parse(const char *s, struct sockaddr_storage *out,
			 socklen_t *outlen)
{
	char host[64];
	const char *colon;
	size_t hl;
	int off = 0;

	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':')
			return -EINVAL;
		hl = (size_t)(e - s - 1);
		off = 1;
		colon = e + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s + off, hl);
	host[hl] = 0;
	const char *p = colon + 1;
	unsigned port = 0;
	if (!*p || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		port = port * 10 + (unsigned)(*p - '0');
	}
	if (port > 65535)
		return -EINVAL;
	struct sockaddr_storage ss = {0};
	if (!off) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*outlen = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*outlen = sizeof(*a);
	}
	*out = ss;
	return 0;
}

/* Next line of text into buf (NUL-terminated, comment and surrounding
 * blanks stripped). Returns 1 for a line, 0 at the end, -E2BIG for a line
 * over TF_GW_LINE_MAX, -EINVAL for a NUL byte. */
static int next_line(const char **pos, const char *end, char *buf)
{
	const char *s = *pos, *e;
	size_t n;

	if (s >= end)
		return 0;
	e = memchr(s, '\n', (size_t)(end - s));
	if (!e)
		e = end;
	*pos = e < end ? e + 1 : end;
	n = (size_t)(e - s);
	if (n >= TF_GW_LINE_MAX)
		return -E2BIG;
	if (memchr(s, 0, n))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	char *h = strchr(buf, '#');
	if (h)
		*h = 0;
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	size_t l = 0;
	while (buf[l] && isspace((unsigned char)buf[l]))
		l++;
	memmove(buf, buf + l, n - l + 1);
	return 1;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned x = 0;
	if (!*v || strlen(v) > 6)
		return -EINVAL;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -EINVAL;
		x = x * 10 + (unsigned)(*v - '0');
	}
	if (x < lo || x > hi)
		return -EINVAL;
	*out = x;
	return 0;
}

/* "A[, B]": at most one IPv4 and one IPv6 prefix */
static int parse_addresses(char *v, struct tf_gw_conf *c)
{
	char *save = NULL;

	c->n_address = 0;
	for (char *a = strtok_r(v, ",", &save); a;
	     a = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*a))
			a++;
		size_t n = strlen(a);
		while (n && isspace((unsigned char)a[n - 1]))
			a[--n] = 0;
		if (c->n_address == 2 ||
		    tf_gw_prefix_parse(a, false, &c->address[c->n_address]) < 0)
			return -EINVAL;
		if (c->n_address == 1 &&
		    c->address[0].family == c->address[1].family)
			return -EINVAL;
		c->n_address++;
	}
	return c->n_address ? 0 : -EINVAL;
}

int tf_gw_conf_parse(const char *text, size_t len, struct tf_gw_conf *out,
		     char *err, size_t errlen)
{
	struct tf_gw_conf c = {0};
	const char *pos = text, *end = text + len;
	char line[TF_GW_LINE_MAX];
	unsigned ln = 0, seen = 0;
	bool has_addr = false;
	int r;

	if (len > TF_GW_FILE_MAX)
		return fail(err, errlen, 0, "file larger than %u bytes",
			    TF_GW_FILE_MAX);
	(void)tf_gw_sockaddr_parse("0.0.0.0:51820", &c.listen, &c.listen_len);
	memcpy(c.tun, "tfgw0", 6);
	c.mtu = 1420;
	while ((r = next_line(&pos, end, line)) != 0) {
		ln++;
		if (r == -E2BIG)
			return fail(err, errlen, ln, "longer than %u bytes",
				    TF_GW_LINE_MAX - 1);
		if (r < 0)
			return fail(err, errlen, ln, "NUL byte");
		if (!line[0])
			continue;
		char *eq = strchr(line, '=');
		if (!eq)
			return fail(err, errlen, ln, "expected KEY = VALUE");
		char *k = line, *v = eq + 1;
		*eq = 0;
		size_t kl = strlen(k);
		while (kl && isspace((unsigned char)k[kl - 1]))
			k[--kl] = 0;
		while (isspace((unsigned char)*v))
			v++;
		static const char *const keys[] = {
			"listen",   "tun",    "address", "mtu",
			"intl_key", "gm_key", "devices", "queues"};
		size_t ki = 0;
		while (ki < TF_ARRAY_SIZE(keys) && strcmp(k, keys[ki]))
			ki++;
		if (ki == TF_ARRAY_SIZE(keys))
			return fail(err, errlen, ln, "unknown key '%.32s'", k);
		if (seen & (1u << ki))
			return fail(err, errlen, ln, "%s given twice",
				    keys[ki]);
		seen |= 1u << ki;
		switch (ki) {
		case 0:
			r = tf_gw_sockaddr_parse(v, &c.listen, &c.listen_len);
			break;
		case 1:
			r = copy_str(c.tun, sizeof(c.tun), v);
			for (const char *p = c.tun; r == 0 && *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '-' &&
				    *p != '_' && *p != '.')
					r = -EINVAL;
			break;
		case 2:
			r = parse_addresses(v, &c);
			has_addr = r == 0;
			break;
		case 3: r = parse_uint(v, 1280, 9000, &c.mtu); break;
		case 4: r = copy_str(c.intl_key, sizeof(c.intl_key), v); break;
		case 5: r = copy_str(c.gm_key, sizeof(c.gm_key), v); break;
		case 6: r = copy_str(c.devices, sizeof(c.devices), v); break;
		case 7: r = parse_uint(v, 0, 8, &c.queues); break;
		}
		if (r < 0)
			return fail(err, errlen, ln, "bad value for %s",
				    keys[ki]);
	}
	if (!has_addr)
		return fail(err, errlen, ln,
			    "address (the TUN's, e.g. "
			    "10.77.0.1/24) is not set");
	if (!c.intl_key[0] && !c.gm_key[0])
		return fail(err, errlen, ln,
			    "neither intl_key nor gm_key is set");
	if (!c.devices[0])
		return fail(err, errlen, ln,
			    "devices (the device list) is "
			    "not set");
	*out = c;
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TF_GW_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

static bool prefix_eq(const struct tf_gw_prefix *a,
		      const struct tf_gw_prefix *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

int tf_gw_devices_parse(const char *text, size_t len, struct tf_gw_device *devs,
			size_t cap, size_t *n, char *err, size_t errlen)
{
	const char *pos = text, *end = text + len;
	char line[TF_GW_LINE_MAX];
	unsigned ln = 0;
	size_t cnt = 0;
	int r;

	if (len > TF_GW_FILE_MAX)
		return fail(err, errlen, 0, "file larger than %u bytes",
			    TF_GW_FILE_MAX);
	while ((r = next_line(&pos, end, line)) != 0) {
		ln++;
		if (r == -E2BIG)
			return fail(err, errlen, ln, "longer than %u bytes",
				    TF_GW_LINE_MAX - 1);
		if (r < 0)
			return fail(err, errlen, ln, "NUL byte");
		if (!line[0])
			continue;
		char *f[5], *save = NULL;
		size_t nf = 0;
		for (char *t = strtok_r(line, " \t", &save); t;
		     t = strtok_r(NULL, " \t", &save)) {
			if (nf == 5)
				break;
			f[nf++] = t;
		}
		if (nf != 4)
			return fail(
				err, errlen, ln,
				"expected NAME SUITE BASE64PUB ADDR[,ADDR]");
		if (cnt == cap)
			return fail(err, errlen, ln, "more than %zu devices",
				    cap);
		struct tf_gw_device d = {0};
		if (!name_ok(f[0]))
			return fail(err, errlen, ln,
				    "bad device name (1..%u of A-Z a-z 0-9 . _ "
				    "-)",
				    TF_GW_NAME_MAX);
		memcpy(d.name, f[0], strlen(f[0]) + 1);
		if (!strcmp(f[1], "intl"))
			d.suite = TF_SUITE_INTL;
		else if (!strcmp(f[1], "gm"))
			d.suite = TF_SUITE_GM;
		else
			return fail(err, errlen, ln,
				    "%s: suite must be intl or gm", d.name);
		size_t want = d.suite == TF_SUITE_INTL ? 32 : 65, got = 0;
		if (strlen(f[2]) > 100 ||
		    sodium_base642bin(d.pub, sizeof(d.pub), f[2], strlen(f[2]),
				      NULL, &got, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    got != want)
			return fail(err, errlen, ln,
				    "%s: public key is not %zu bytes of "
				    "standard base64",
				    d.name, want);
		if (d.suite == TF_SUITE_GM && d.pub[0] != 4)
			return fail(err, errlen, ln,
				    "%s: a gm key is an uncompressed SM2 point "
				    "(04||x||y)",
				    d.name);
		d.pub_len = (uint8_t)got;
		char *asave = NULL;
		for (char *a = strtok_r(f[3], ",", &asave); a;
		     a = strtok_r(NULL, ",", &asave)) {
			if (d.n_addr == TF_GW_DEV_ADDRS)
				return fail(err, errlen, ln,
					    "%s: more than %u addresses",
					    d.name, TF_GW_DEV_ADDRS);
			if (tf_gw_prefix_parse(a, true, &d.addr[d.n_addr]) < 0)
				return fail(err, errlen, ln,
					    "%s: bad address (a host address: "
					    "ADDR/32 or ADDR6/128)",
					    d.name);
			d.n_addr++;
		}
		if (d.n_addr == 0)
			return fail(err, errlen, ln, "%s: no address", d.name);
		for (size_t i = 0; i < cnt; i++) {
			if (!strcmp(devs[i].name, d.name))
				return fail(err, errlen, ln,
					    "%s: name listed twice", d.name);
			if (devs[i].pub_len == d.pub_len &&
			    !memcmp(devs[i].pub, d.pub, d.pub_len))
				return fail(err, errlen, ln,
					    "%s: same public key as %s", d.name,
					    devs[i].name);
			for (size_t a = 0; a < devs[i].n_addr; a++)
				for (size_t b = 0; b < d.n_addr; b++)
					if (prefix_eq(&devs[i].addr[a],
						      &d.addr[b]))
						return fail(err, errlen, ln,
							    "%s: address of %s",
							    d.name,
							    devs[i].name);
		}
		for (size_t a = 0; a < d.n_addr; a++)
			for (size_t b = a + 1; b < d.n_addr; b++)
				if (prefix_eq(&d.addr[a], &d.addr[b]))
					return fail(err, errlen, ln,
						    "%s: address listed twice",
						    d.name);
		devs[cnt++] = d;
	}
	*n = cnt;
	return 0;
}
