/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-gateway's config and device list parsers
 * (src/gateway/gwconf.c). The first byte picks the parser; the rest is
 * the file. Invariants: no crash or overread (ASan), and whatever parses
 * is within the documented bounds.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "src/gateway/gwconf.h"
#include "twofold/suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tf_gw_device devs[64];
	struct tf_gw_conf c;
	char err[256];
	size_t n = 0;

	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if (data[0] & 1) {
		if (tf_gw_devices_parse(text, len, devs, TF_ARRAY_SIZE(devs),
					&n, err, sizeof(err)) < 0)
			return 0;
		if (n > TF_ARRAY_SIZE(devs))
			abort();
		for (size_t i = 0; i < n; i++) {
			const struct tf_gw_device *d = &devs[i];
			size_t nl = strnlen(d->name, sizeof(d->name));
			if (nl == 0 || nl > TF_GW_NAME_MAX ||
			    (d->suite != TF_SUITE_INTL &&
			     d->suite != TF_SUITE_GM) ||
			    d->pub_len != (d->suite == TF_SUITE_GM ? 65 : 32) ||
			    d->n_addr == 0 || d->n_addr > TF_GW_DEV_ADDRS)
				abort();
			for (size_t a = 0; a < d->n_addr; a++)
				if (d->addr[a].len !=
				    (d->addr[a].family == AF_INET ? 32 : 128))
					abort();
		}
		return 0;
	}
	if (tf_gw_conf_parse(text, len, &c, err, sizeof(err)) < 0)
		return 0;
	if (c.mtu < 1280 || c.mtu > 9000 || c.queues > 8 ||
	    (!c.intl_key[0] && !c.gm_key[0]) || !c.devices[0] ||
	    strnlen(c.tun, sizeof(c.tun)) == sizeof(c.tun) ||
	    (c.listen.ss_family != AF_INET && c.listen.ss_family != AF_INET6))
		abort();
	return 0;
}
