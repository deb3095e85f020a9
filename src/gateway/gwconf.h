/* SPDX-License-Identifier: ISC */
/*
 * twofold-gateway's two input files: the config (INI-style KEY = VALUE)
 * and the device list (NAME SUITE BASE64PUB ADDR[,ADDR...] per line).
 * Both are bounded (size, line length, counts) and have a fuzz target
 * (fuzz/fuzz_gateway_conf.c); the parsers take text, not paths, so the
 * fuzzer drives exactly what the gateway runs.
 */
#ifndef TF_GWCONF_H
#define TF_GWCONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TF_GW_FILE_MAX (1u << 20) /* either file */
#define TF_GW_LINE_MAX 512u
#define TF_GW_MAX_DEVICES 4096u
#define TF_GW_NAME_MAX 32u /* device names: [A-Za-z0-9._-] */
#define TF_GW_DEV_ADDRS 4u /* inner host addresses per device */
#define TF_GW_PUB_MAX 65u

struct tf_gw_prefix {
	int family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
	uint8_t len;
};

struct tf_gw_conf {
	struct sockaddr_storage listen;
	socklen_t listen_len;
	char tun[16];
	struct tf_gw_prefix address[2]; /* the TUN's: one per family */
	uint8_t n_address;
	unsigned mtu;
	unsigned queues; /* 0 = number of CPUs (at most 8) */
	char intl_key[256], gm_key[256], devices[256]; /* paths, "" = unset */
};

struct tf_gw_device {
	char name[TF_GW_NAME_MAX + 1];
	uint8_t suite; /* TF_SUITE_INTL / TF_SUITE_GM */
	uint8_t pub[TF_GW_PUB_MAX];
	uint8_t pub_len;
	uint8_t n_addr;
	struct tf_gw_prefix addr[TF_GW_DEV_ADDRS]; /* /32 or /128 */
};

/* Parse the config text. On -EINVAL "line N: what" in err. Defaults:
 * listen 0.0.0.0:51820, tun tfgw0, mtu 1420. At least one of intl_key /
 * gm_key, and devices, must be set. */
int tf_gw_conf_parse(const char *text, size_t len, struct tf_gw_conf *out,
		     char *err, size_t errlen);

/* Parse a device list into devs (cap entries); *n gets the count. Names,
 * public keys and addresses must be unique. On -EINVAL "line N: what". */
int tf_gw_devices_parse(const char *text, size_t len, struct tf_gw_device *devs,
			size_t cap, size_t *n, char *err, size_t errlen);

/* "ADDR" or "ADDR/LEN" (inet_pton literal). host_only: LEN must be the
 * full length (32/128). */
int tf_gw_prefix_parse(const char *s, bool host_only, struct tf_gw_prefix *out);
/* "ADDR:PORT" or "[ADDR6]:PORT" */
int tf_gw_sockaddr_parse(const char *s, struct sockaddr_storage *out,
			 socklen_t *outlen);

#endif
