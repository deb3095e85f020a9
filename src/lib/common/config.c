/* SPDX-License-Identifier: ISC */
/*
 * device.conf parser. The file is written by `twofold init` and edited by
 * administrators, and read by the root daemon, so it is treated as
 * untrusted: bounded size, bounded line length, fixed tables, every number
 * range-checked, and a fuzz target (fuzz/fuzz_config.c).
 *
 * Every key is one row of keys[] below (section, name, type, bounds, field,
 * default, doc line); parse, the per-key checks of validate, format and the
 * defaults all read that table, so a new key is one row there plus its
 * consumer. Rules between keys stay explicit code in tf_config_validate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "twofold/config.h"
#include "twofold/suite.h"

#define LINE_MAX_LEN 512

static const char *const device_class_names[] = {
	[TF_DEV_DISPLAY] = "display",	    [TF_DEV_INPUT] = "input",
	[TF_DEV_AUDIO] = "audio",	    [TF_DEV_CAMERA] = "camera",
	[TF_DEV_MICROPHONE] = "microphone",
};

const char *tf_device_class_name(enum tf_device_class cls)
{
	if ((size_t)cls < TF_ARRAY_SIZE(device_class_names) &&
	    device_class_names[cls] != NULL)
		return device_class_names[cls];
	return "unknown";
}

int tf_device_class_parse(const char *s)
{
	for (size_t i = 1; i < TF_ARRAY_SIZE(device_class_names); i++)
		if (strcmp(s, device_class_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

uint32_t tf_config_uid_slot_base(const char *key, uint32_t probe)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 1099511628211ull;
	return TF_UID_SLOT_FIRST +
	       (uint32_t)((h + probe) % TF_UID_SLOTS) * TF_UID_SLOT_SPAN;
}

uint64_t tf_config_storage_share(const struct tf_config *c, size_t i)
{
	uint64_t given = 0, rest;
	size_t open = 0;

	if (i >= c->n_personas)
		return 0;
	if (c->personas[i].storage_size)
		return c->personas[i].storage_size;
	for (size_t j = 0; j < c->n_personas; j++) {
		given += c->personas[j].storage_size;
		open += c->personas[j].storage_size == 0;
	}
	if (given >= c->storage_size)
		return 0;
	rest = (c->storage_size - given) / open;
	return rest & ~((UINT64_C(1) << 20) - 1);
}

const struct tf_persona_cfg *tf_config_persona(const struct tf_config *c,
					       const char *name)
{
	for (size_t i = 0; i < c->n_personas; i++)
		if (strcmp(c->personas[i].name, name) == 0)
			return &c->personas[i];
	return NULL;
}

TF_PRINTF(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* ---- the schema ---- */

enum section { SEC_TOP, SEC_PERSONA, SEC_DEVICE };

static const char *const section_names[] = {
	[SEC_TOP] = "top",
	[SEC_PERSONA] = "persona",
	[SEC_DEVICE] = "device",
};

enum key_type {
	T_U32,	   /* decimal, min..max */
	T_U64,	   /* decimal, min..max (or 0 with zero_ok) */
	T_SIZE,	   /* decimal with K/M/G/T, min..max (or 0 with zero_ok) */
	T_BOOL,	   /* yes/true/1, no/false/0 */
	T_STR,	   /* no control characters, shorter than its field */
	T_PCRS,	   /* "none" or PCR numbers 0..23: "0,7" */
	T_CLASS,   /* a device class name */
	T_NETMODE, /* none, nat or tunnel */
	T_SUITEID, /* a suite name, stored as its uint8_t id */
	T_CIDR,	   /* one network prefix: "10.213.0.0/16" */
	/* comma lists of at most max entries, the count a uint8_t at aux:
	 * T_ADDRS host addresses ("1.1.1.1, fd00::53"), T_PREFIXES
	 * networks (no host bits), T_IFADDRS addresses with a length */
	T_ADDRS,
	T_PREFIXES,
	T_IFADDRS,
	T_ENDPOINT, /* ADDR:PORT or [ADDR6]:PORT; a bool "has" at aux */
};

struct key {
	enum section sec;
	const char *name;
	enum key_type type;
	size_t off;  /* in struct tf_config, tf_persona_cfg or tf_device_cfg */
	size_t size; /* of the field (T_STR: its capacity) */
	uint64_t min, max;
	bool zero_ok; /* 0 is accepted below min ("unlimited", "a share") */
	/* default in the file's syntax; NULL: 0, "no" or unset. Parsed by
	 * the same code as the file (a unit test checks each one). */
	const char *def;
	/* a default that depends on other keys: run once the section (for
	 * SEC_TOP: the whole file) is read, when the key was not given */
	void (*derive)(void *obj, const struct tf_config *c);
	/* false: the value is unset or derived, written as a comment so that
	 * reading the file back derives it again (NULL: always written) */
	bool (*shown)(const void *obj, const struct tf_config *c);
	const char *doc; /* one line, written above the key by format */
	/* lists: the uint8_t count's offset (min..max: how many); T_CIDR:
	 * min..max bound the prefix length; T_ENDPOINT: the bool has-flag's
	 * offset (the socklen_t follows the sockaddr_storage) */
	size_t aux;
};

static void derive_foreground(void *obj, const struct tf_config *c)
{
	struct tf_config *t = obj;

	/* no foreground line: the first persona listed */
	if (c->n_personas > 0)
		snprintf(t->foreground, sizeof(t->foreground), "%s",
			 c->personas[0].name);
}

static void derive_reauth(void *obj, const struct tf_config *c)
{
	struct tf_persona_cfg *p = obj;

	(void)c;
	/* 72 h for a credential persona, off for a device-bound one (it has
	 * no credential to ask again) */
	p->reauth_after = p->credential ? TF_REAUTH_DEFAULT : 0;
}

static void derive_class(void *obj, const struct tf_config *c)
{
	struct tf_device_cfg *d = obj;
	int cls = tf_device_class_parse(d->name);

	(void)c;
	/* a device named after its class needs no class= line */
	d->cls = cls > 0 ? (enum tf_device_class)cls : 0;
}

static void derive_network(void *obj, const struct tf_config *c)
{
	struct tf_persona_cfg *p = obj;

	(void)c;
	/* the credential persona is the one whose traffic belongs to the
	 * organisation: tunnel only; a device-bound one is on the internet */
	p->network = p->credential ? TF_NET_TUNNEL : TF_NET_NAT;
}

static void derive_tunnel_suite(void *obj, const struct tf_config *c)
{
	struct tf_persona_cfg *p = obj;
	const struct tf_suite_info *si = tf_suite_info_by_name(c->suite);

	/* the device's suite; an unknown one is refused by validate */
	p->tunnel.suite = si ? si->id : TF_SUITE_INTL;
}

static bool shown_tunnel(const void *obj, const struct tf_config *c)
{
	(void)c;
	return ((const struct tf_persona_cfg *)obj)->network == TF_NET_TUNNEL;
}

static bool shown_credential(const void *obj, const struct tf_config *c)
{
	(void)c;
	return ((const struct tf_persona_cfg *)obj)->credential;
}

static bool shown_nonzero_u64(const void *obj, const struct tf_config *c);

static bool shown_nonzero_top(const void *obj, const struct tf_config *c)
{
	(void)c;
	return ((const struct tf_config *)obj)->shell_uid != 0;
}

#define FIELD(sec_type, f) offsetof(sec_type, f), sizeof(((sec_type *)0)->f)
#define TOP(f) FIELD(struct tf_config, f)
#define PER(f) FIELD(struct tf_persona_cfg, f)
#define DEV(f) FIELD(struct tf_device_cfg, f)
#define SZ_16M (UINT64_C(16) << 20)
#define SZ_16T (UINT64_C(1) << 44)

/* In the order format writes them; docs/twofold-config.5.md lists every
 * row (tests/unit/common checks both ways). */
/* aux is the last field, set only by the rows of the types that use it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct key keys[] = {
	{SEC_TOP, "version", T_U32, TOP(version), 1, 1000000, false, "1", NULL,
	 NULL, "format version of this file"},
	{SEC_TOP, "suite", T_STR, TOP(suite), 0, 0, false, TF_SUITE_DEFAULT,
	 NULL, NULL,
	 "crypto suite; must match the one device.secret was made for"},
	{SEC_TOP, "foreground", T_STR, TOP(foreground), 0, 0, false, NULL,
	 derive_foreground, NULL,
	 "persona that is foreground when the daemon starts"},
	{SEC_TOP, "background_cpu_weight", T_U32, TOP(background_cpu_weight), 1,
	 10000, false, "10", NULL, NULL,
	 "CPU weight of the personas not in the foreground (1..10000)"},
	{SEC_TOP, "storage_size", T_SIZE, TOP(storage_size), SZ_16M, SZ_16T,
	 false, "1G", NULL, NULL,
	 "bytes of all storage images together (shared by the personas)"},
	{SEC_TOP, "storage_dir", T_STR, TOP(storage_dir), 0, 0, false, NULL,
	 NULL, NULL,
	 "a directory on an fscrypt-capable ext4 instead of the images"},
	{SEC_TOP, "pin_min_digits", T_U32, TOP(pin_min_digits), 4, 64, false,
	 "6", NULL, NULL, "shortest PIN (digits only)"},
	{SEC_TOP, "passphrase_min_chars", T_U32, TOP(passphrase_min_chars), 4,
	 128, false, "10", NULL, NULL, "shortest passphrase (characters)"},
	{SEC_TOP, "throttle_free_tries", T_U32, TOP(throttle_free_tries), 1,
	 100, false, "5", NULL, NULL, "failed unlocks that cost no wait"},
	{SEC_TOP, "throttle_max_failures", T_U32, TOP(throttle_max_failures), 2,
	 1000, false, "20", NULL, NULL,
	 "failed unlocks after which the persona is crypto-erased"},
	{SEC_TOP, "throttle_base_delay", T_U32, TOP(throttle_base_delay), 1,
	 86400, false, "30", NULL, NULL,
	 "seconds of the first wait, doubled per further failure"},
	{SEC_TOP, "kdf_target_ms", T_U32, TOP(kdf_target_ms), 1, 60000, false,
	 "500", NULL, NULL, "CPU time of one Argon2id run (calibrated)"},
	{SEC_TOP, "kdf_min_mem_mib", T_U32, TOP(kdf_min_mem_mib), 1, 4096,
	 false, "64", NULL, NULL, "Argon2id memory floor (MiB)"},
	{SEC_TOP, "allow_weak_credentials", T_BOOL, TOP(allow_weak_credentials),
	 0, 0, false, NULL, NULL, NULL,
	 "yes: accept kdf_min_mem_mib < 64 or pin_min_digits < 6 (tests "
	 "only)"},
	{SEC_TOP, "tpm_tcti", T_STR, TOP(tpm_tcti), 0, 0, false, NULL, NULL,
	 NULL, "TPM 2.0 to protect the keys with (a tss2 TCTI string)"},
	{SEC_TOP, "tpm_pcrs", T_PCRS, TOP(tpm_pcrs), 0, 0, false, "7", NULL,
	 NULL, "PCRs a credential slot is bound to (\"none\" or e.g. 0,7)"},
	{SEC_TOP, "cgroup_favor_dynmods", T_BOOL, TOP(cgroup_favor_dynmods), 0,
	 0, false, NULL, NULL, NULL,
	 "yes: host-wide cgroup2 favordynmods; persona start and unlock get "
	 "~15 ms faster on hybrid hosts"},
	{SEC_TOP, "control_group", T_STR, TOP(control_group), 0, 0, false, NULL,
	 NULL, NULL,
	 "group whose members may ask status, switch, lock, run and watch "
	 "(unset: root only)"},
	{SEC_TOP, "shell_uid", T_U32, TOP(shell_uid), 1, UINT32_MAX - 1, true,
	 NULL, NULL, shown_nonzero_top,
	 "uid of the trusted shell, which may ask everything root may "
	 "(unset: none)"},
	{SEC_TOP, "display", T_STR, TOP(display), 0, 0, false, "none", NULL,
	 NULL,
	 "none, or shell: persona apps get a Wayland socket of twofold-shell"},
	{SEC_TOP, "shell_start", T_BOOL, TOP(shell_start), 0, 0, false, NULL,
	 NULL, NULL,
	 "yes: twofoldd starts twofold-shell as shell_uid and restarts it "
	 "(display = shell)"},
	{SEC_TOP, "lock_idle_seconds", T_U32, TOP(lock_idle_seconds), 0, 86400,
	 false, "0", NULL, NULL,
	 "seconds without input until the shell locks secure, 0 = never"},
	{SEC_TOP, "nat_subnet", T_CIDR, TOP(nat_subnet), 8, 24, false,
	 TF_NAT_SUBNET_DEFAULT, NULL, NULL,
	 "IPv4 network (/8../24) the nat personas' /30 links are cut from"},
	{SEC_TOP, "copy_flows", T_STR, TOP(copy_flows), 0, 0, false, NULL, NULL,
	 NULL,
	 "copies allowed out of a credential persona, FROM:TO[,...] (unset: "
	 "none)"},
	{SEC_TOP, "clipboard_flows", T_STR, TOP(clipboard_flows), 0, 0, false,
	 NULL, NULL, NULL,
	 "cross-persona pastes of the shell, FROM:TO[,...] or none (unset: "
	 "into credential personas only)"},

	{SEC_PERSONA, "uid_base", T_U32, PER(uid_base), 1, UINT32_MAX - 1,
	 false, NULL, NULL, NULL, "host uid of the persona's uid 0"},
	{SEC_PERSONA, "uid_count", T_U32, PER(uid_count), 1001, 1u << 24, false,
	 "65536", NULL, NULL, "uids mapped into the persona"},
	{SEC_PERSONA, "base", T_STR, PER(base), 0, 0, false, NULL, NULL, NULL,
	 "read-only root directory (unset: the host's /usr, /etc, /lib*)"},
	{SEC_PERSONA, "memory_max", T_SIZE, PER(memory_max), 8u << 20,
	 UINT64_MAX, true, "2G", NULL, NULL, "memory limit, 0 = unlimited"},
	{SEC_PERSONA, "pids_max", T_U64, PER(pids_max), 8, 1u << 22, true,
	 "4096", NULL, NULL, "process limit, 0 = unlimited"},
	{SEC_PERSONA, "cpu_weight", T_U32, PER(cpu_weight), 1, 10000, false,
	 "100", NULL, NULL, "CPU weight in the foreground (1..10000)"},
	{SEC_PERSONA, "credential", T_BOOL, PER(credential), 0, 0, false, NULL,
	 NULL, NULL, "yes: the key also needs the user's PIN or passphrase"},
	{SEC_PERSONA, "autostart", T_BOOL, PER(autostart), 0, 0, false, "yes",
	 NULL, NULL, "start with the daemon (device-bound personas)"},
	{SEC_PERSONA, "lock_evict_after", T_U32, PER(lock_evict_after), 0,
	 TF_IDLE_EVICT_MAX, false, NULL, NULL, NULL,
	 "seconds locked before evicted, 0 = never"},
	{SEC_PERSONA, "pty_max", T_U32, PER(pty_max), 1, 65536, false, "256",
	 NULL, NULL, "pseudo-terminals open at once"},
	{SEC_PERSONA, "allow_exec_writable", T_BOOL, PER(allow_exec_writable),
	 0, 0, false, NULL, NULL, NULL,
	 "yes: programs may run from the writable dirs (device-bound "
	 "personas only)"},
	{SEC_PERSONA, "comms", T_BOOL, PER(comms), 0, 0, false, NULL, NULL,
	 NULL,
	 "yes: the daemon runs twofold-comms in it once provisioned "
	 "(twofold comms provision)"},
	{SEC_PERSONA, "comms_audio", T_STR, PER(comms_audio), 0, 0, false, NULL,
	 NULL, NULL,
	 "ALSA device twofold-comms plays and records calls on (its "
	 "--audio-dev), empty = none"},
	{SEC_PERSONA, "exec_hashes", T_STR, PER(exec_hashes), 0, 0, false,
	 "pin", NULL, NULL,
	 "base files' content on exec: pin (first exec pins it), sealed "
	 "(only `twofold exec seal`'s), off"},
	{SEC_PERSONA, "reauth_after", T_U32, PER(reauth_after), 0,
	 TF_REAUTH_MAX, false, NULL, derive_reauth, shown_credential,
	 "seconds after a credential unlock until evicted, 0 = never "
	 "(credential only)"},
	{SEC_PERSONA, "idle_evict_after", T_U32, PER(idle_evict_after), 0,
	 TF_IDLE_EVICT_MAX, false, NULL, NULL, shown_credential,
	 "seconds in the background until evicted, 0 = never (credential "
	 "only)"},
	{SEC_PERSONA, "storage_size", T_SIZE, PER(storage_size),
	 TF_STORAGE_SHARE_MIN, SZ_16T, true, NULL, NULL, shown_nonzero_u64,
	 "bytes of its own storage image (unset: a share of storage_size)"},
	{SEC_PERSONA, "network", T_NETMODE, PER(network), 0, 0, false, NULL,
	 derive_network, NULL,
	 "none, nat or tunnel (unset: tunnel if credential, else nat)"},
	{SEC_PERSONA, "dns", T_ADDRS, PER(dns), 1, TF_NET_DNS_MAX, false, NULL,
	 NULL, NULL,
	 "nat: resolvers, A[,B] (unset: those of the host's /etc/resolv.conf)",
	 offsetof(struct tf_persona_cfg, n_dns)},
	{SEC_PERSONA, "tunnel_suite", T_SUITEID, PER(tunnel.suite), 0, 0, false,
	 NULL, derive_tunnel_suite, shown_tunnel,
	 "tunnel: intl (WireGuard) or gm (SM2/SM3/SM4-GCM) (unset: suite)"},
	{SEC_PERSONA, "tunnel_endpoint", T_ENDPOINT, PER(tunnel.endpoint), 0, 0,
	 false, NULL, NULL, shown_tunnel,
	 "tunnel: the gateway, ADDR:PORT or [ADDR6]:PORT (unset: never up)",
	 offsetof(struct tf_persona_cfg, tunnel.has_endpoint)},
	{SEC_PERSONA, "scan_trust", T_STR, PER(scan_trust), 0, 0, false, NULL,
	 NULL, NULL,
	 "base64 public keys that may sign the scanner database (unset: "
	 "imports refused)"},
	{SEC_PERSONA, "scan_db", T_STR, PER(scan_db), 0, 0, false, NULL, NULL,
	 NULL, "path of the signed scanner database bundle (.tfdb)"},
	{SEC_PERSONA, "tunnel_peer_key", T_STR, PER(tunnel.peer_key), 0, 0,
	 false, NULL, NULL, shown_tunnel,
	 "tunnel: the gateway's public key, base64 (unset: never up)"},
	{SEC_PERSONA, "tunnel_address", T_IFADDRS, PER(tunnel.addr), 1,
	 TF_TUNNEL_ADDR_MAX, false, NULL, NULL, shown_tunnel,
	 "tunnel: the persona's inner address(es) on tun0, one v4 and one v6",
	 offsetof(struct tf_persona_cfg, tunnel.n_addr)},
	{SEC_PERSONA, "tunnel_routes", T_PREFIXES, PER(tunnel.routes), 1,
	 TF_TUNNEL_ROUTES_MAX, false, "0.0.0.0/0", NULL, shown_tunnel,
	 "tunnel: networks routed through tun0, comma list of up to 8",
	 offsetof(struct tf_persona_cfg, tunnel.n_routes)},
	{SEC_PERSONA, "tunnel_dns", T_ADDRS, PER(tunnel.dns), 1, TF_NET_DNS_MAX,
	 false, NULL, NULL, shown_tunnel,
	 "tunnel: resolvers inside tunnel_routes, comma list of up to 4",
	 offsetof(struct tf_persona_cfg, tunnel.n_dns)},
	{SEC_PERSONA, "tunnel_keepalive", T_U32, PER(tunnel.keepalive), 0, 3600,
	 false, "25", NULL, shown_tunnel,
	 "tunnel: seconds between keepalives, 0 = off"},
	{SEC_PERSONA, "tunnel_mtu", T_U32, PER(tunnel.mtu), 1280, 9000, false,
	 "1420", NULL, shown_tunnel, "tunnel: MTU of tun0 (1280..9000)"},
	{SEC_PERSONA, "tunnel_listen_port", T_U32, PER(tunnel.listen_port), 0,
	 65535, false, NULL, NULL, shown_tunnel,
	 "tunnel: local UDP port, 0 = any"},
	{SEC_PERSONA, "app_trust", T_STR, PER(app_trust), 0, 0, false, NULL,
	 NULL, NULL,
	 "apps: package and catalog signer keys, base64, up to 4 (unset: "
	 "no apps)"},
	{SEC_PERSONA, "app_catalog", T_STR, PER(app_catalog), 0, 0, false, NULL,
	 NULL, NULL, "apps: the signed catalog file (unset: none)"},
	{SEC_PERSONA, "alert_trust", T_STR, PER(alert_trust), 0, 0, false, NULL,
	 NULL, NULL,
	 "alerts: urgent alert signer keys, base64, up to 4 (unset: no "
	 "alerts)"},
	{SEC_PERSONA, "alert_port", T_U32, PER(alert_port), 0, 65535, false,
	 NULL, NULL, NULL,
	 "alerts: UDP port in the persona's network namespace, 0 = none"},

	{SEC_DEVICE, "class", T_CLASS, DEV(cls), 0, 0, false, NULL,
	 derive_class, NULL, "display, input, audio, camera or microphone"},
	{SEC_DEVICE, "path", T_STR, DEV(path), 0, 0, false, NULL, NULL, NULL,
	 "host device node, opened only by the foreground persona"},
};

#pragma GCC diagnostic pop

/* the parser tracks which keys a section gave in one bit per row */
_Static_assert(TF_ARRAY_SIZE(keys) <= 64, "keys[] outgrew uint64_t given");

static bool shown_nonzero_u64(const void *obj, const struct tf_config *c)
{
	(void)c;
	return ((const struct tf_persona_cfg *)obj)->storage_size != 0;
}

const char *tf_config_key_at(size_t i, const char **section, const char **doc)
{
	if (i >= TF_ARRAY_SIZE(keys))
		return NULL;
	if (section)
		*section = section_names[keys[i].sec];
	if (doc)
		*doc = keys[i].doc;
	return keys[i].name;
}

static const struct key *key_find(enum section sec, const char *name,
				  size_t *idx)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(keys); i++)
		if (keys[i].sec == sec && strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* "none", or PCR numbers 0..23 separated by commas: "7", "0,2,7" */
static int parse_pcrs(const char *v, uint32_t *out)
{
	uint32_t m = 0;

	if (!strcmp(v, "none")) {
		*out = 0;
		return 0;
	}
	for (const char *p = v;;) {
		unsigned n = 0;
		int digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 3) {
			n = n * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || n > 23 || (m & (1u << n)))
			return -EINVAL;
		m |= 1u << n;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*out = m;
	return 0;
}

static bool str_clean(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static bool in_bounds(const struct key *k, uint64_t x)
{
	return (x >= k->min && x <= k->max) || (k->zero_ok && x == 0);
}

static const char *const net_mode_names[] = {
	[TF_NET_NONE] = "none",
	[TF_NET_NAT] = "nat",
	[TF_NET_TUNNEL] = "tunnel",
};

const char *tf_net_mode_name(enum tf_net_mode m)
{
	if ((size_t)m < TF_ARRAY_SIZE(net_mode_names) &&
	    net_mode_names[m] != NULL)
		return net_mode_names[m];
	return "unknown";
}

static int net_mode_parse(const char *v)
{
	for (size_t i = 1; i < TF_ARRAY_SIZE(net_mode_names); i++)
		if (net_mode_names[i] && strcmp(v, net_mode_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

/* The sockaddr_storage of a T_ENDPOINT row is followed by its length. */
_Static_assert(offsetof(struct tf_tunnel_cfg, endpoint_len) ==
		       offsetof(struct tf_tunnel_cfg, endpoint) +
			       sizeof(struct sockaddr_storage),
	       "endpoint_len must follow endpoint");

/* One entry of a list row: an address ("1.1.1.1"), a network
 * ("10.0.0.0/8") or an interface address ("10.77.0.2/32"). */
static int list_entry(enum key_type t, const char *v, struct tf_cidr *out)
{
	if (t == T_ADDRS && strchr(v, '/'))
		return -EINVAL;
	return tf_cidr_parse(v, t == T_PREFIXES, out);
}

/* "A, B, C" into the array at f (count at cnt): at most k->max entries,
 * "" is none. Nothing written on error. */
static int list_set(const struct key *k, char *f, uint8_t *cnt, const char *v)
{
	struct tf_cidr tmp[8];
	char buf[LINE_MAX_LEN + 1];
	size_t cap = k->size / sizeof(struct tf_cidr), n = 0;
	char *save = NULL, *tok;

	if (strlen(v) >= sizeof(buf) || cap > TF_ARRAY_SIZE(tmp))
		return -EINVAL;
	memcpy(buf, v, strlen(v) + 1);
	if (trim(buf)[0] != '\0') {
		for (tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (n >= cap || n >= k->max ||
			    list_entry(k->type, trim(tok), &tmp[n]) < 0)
				return -EINVAL;
			n++;
		}
		/* "a,,b" and a trailing comma: a typo, not an entry */
		if (n == 0 || strstr(v, ",,") || v[strlen(v) - 1] == ',')
			return -EINVAL;
	}
	memcpy(f, tmp, n * sizeof(tmp[0]));
	memset(f + n * sizeof(tmp[0]), 0, (cap - n) * sizeof(tmp[0]));
	*cnt = (uint8_t)n;
	return 0;
}

/* Parse v into the field of k in obj; -EINVAL (nothing written) if v is
 * not of k's type or outside its bounds. */
static int key_set(const struct key *k, void *obj, const char *v)
{
	char *f = (char *)obj + k->off;
	uint64_t x;
	uint32_t u;
	bool b;
	int r;

	switch (k->type) {
	case T_U32:
	case T_U64:
		r = tf_parse_u64(v, k->max, &x);
		if (r < 0 || !in_bounds(k, x))
			return -EINVAL;
		if (k->type == T_U32) {
			u = (uint32_t)x;
			memcpy(f, &u, sizeof(u));
		} else {
			memcpy(f, &x, sizeof(x));
		}
		return 0;
	case T_SIZE:
		if (tf_parse_size(v, &x) < 0 || !in_bounds(k, x))
			return -EINVAL;
		memcpy(f, &x, sizeof(x));
		return 0;
	case T_BOOL:
		if (parse_bool(v, &b) < 0)
			return -EINVAL;
		memcpy(f, &b, sizeof(b));
		return 0;
	case T_STR:
		if (!str_clean(v) || strlen(v) >= k->size)
			return -EINVAL;
		memcpy(f, v, strlen(v) + 1);
		return 0;
	case T_PCRS:
		if (parse_pcrs(v, &u) < 0)
			return -EINVAL;
		memcpy(f, &u, sizeof(u));
		return 0;
	case T_CLASS:
		r = tf_device_class_parse(v);
		if (r < 0)
			return -EINVAL;
		{
			enum tf_device_class cls = (enum tf_device_class)r;
			memcpy(f, &cls, sizeof(cls));
		}
		return 0;
	case T_NETMODE:
		r = net_mode_parse(v);
		if (r < 0)
			return -EINVAL;
		{
			enum tf_net_mode m = (enum tf_net_mode)r;
			memcpy(f, &m, sizeof(m));
		}
		return 0;
	case T_SUITEID: {
		const struct tf_suite_info *si = tf_suite_info_by_name(v);
		if (si == NULL)
			return -EINVAL;
		memcpy(f, &si->id, sizeof(si->id));
		return 0;
	}
	case T_CIDR: {
		struct tf_cidr c;
		if (tf_cidr_parse(v, true, &c) < 0 || c.family != AF_INET ||
		    c.len < k->min || c.len > k->max)
			return -EINVAL;
		memcpy(f, &c, sizeof(c));
		return 0;
	}
	case T_ADDRS:
	case T_PREFIXES:
	case T_IFADDRS: return list_set(k, f, (uint8_t *)obj + k->aux, v);
	case T_ENDPOINT: {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		bool has = v[0] != '\0';
		if (has && tf_sockaddr_parse(v, &ss, &len) < 0)
			return -EINVAL;
		if (!has)
			memset(&ss, 0, sizeof(ss));
		memcpy(f, &ss, sizeof(ss));
		memcpy(f + sizeof(ss), &len, sizeof(len));
		memcpy((char *)obj + k->aux, &has, sizeof(has));
		return 0;
	}
	}
	return -EINVAL;
}

int tf_config_schema_check(char *err, size_t errlen)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];
		union {
			struct tf_config c;
			struct tf_persona_cfg p;
			struct tf_device_cfg d;
		} * scratch;
		size_t objsize = k->sec == SEC_TOP	 ? sizeof(scratch->c)
				 : k->sec == SEC_PERSONA ? sizeof(scratch->p)
							 : sizeof(scratch->d);
		int r = 0;

		if (k->doc == NULL || strchr(k->doc, '\n') != NULL ||
		    k->off + k->size > objsize)
			return fail(err, errlen,
				    "key %s: no one-line doc or "
				    "field outside its section",
				    k->name);
		for (size_t j = 0; j < i; j++)
			if (keys[j].sec == k->sec &&
			    strcmp(keys[j].name, k->name) == 0)
				return fail(err, errlen, "key %s twice",
					    k->name);
		if (k->def == NULL)
			continue;
		scratch = calloc(1, sizeof(*scratch));
		if (scratch == NULL)
			return -ENOMEM;
		r = key_set(k, scratch, k->def);
		free(scratch);
		if (r < 0)
			return fail(err, errlen,
				    "key %s: default '%s' does not parse",
				    k->name, k->def);
	}
	return 0;
}

/* Every row of sec to its default (the section's object zeroed first). */
static void section_defaults(enum section sec, void *obj)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(keys); i++)
		if (keys[i].sec == sec && keys[i].def != NULL)
			/* a default that does not parse is caught by
			 * tests/unit/common (test_config_schema) */
			(void)!key_set(&keys[i], obj, keys[i].def);
}

static void section_derive(enum section sec, void *obj, uint64_t given,
			   const struct tf_config *c)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(keys); i++)
		if (keys[i].sec == sec && keys[i].derive != NULL &&
		    !(given & (UINT64_C(1) << i)))
			keys[i].derive(obj, c);
}

static void persona_init(struct tf_persona_cfg *p, const char *name,
			 uint32_t uid_base)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	section_defaults(SEC_PERSONA, p);
	p->uid_base = uid_base;
}

void tf_config_default(struct tf_config *c)
{
	memset(c, 0, sizeof(*c));
	section_defaults(SEC_TOP, c);
	c->n_personas = 2;
	persona_init(&c->personas[0], "personal", 1000000);
	persona_init(&c->personas[1], "secure", 1065536);
	/* what `init` writes beyond the row defaults: secure is the
	 * credential-bound persona, evicted 5 min after a screen lock */
	c->personas[1].credential = true;
	c->personas[1].lock_evict_after = 300;
	section_derive(SEC_TOP, c, 0, c);
	for (size_t i = 0; i < c->n_personas; i++)
		section_derive(SEC_PERSONA, &c->personas[i], 0, c);
}

static int parse_section(struct tf_config *c, char *hdr, enum section *sec,
			 char *err, size_t errlen, unsigned lineno)
{
	char *kind = hdr, *name = strchr(hdr, ' ');

	if (name == NULL)
		return fail(err, errlen,
			    "line %u: section needs a name: [persona NAME]",
			    lineno);
	*name++ = '\0';
	name = trim(name);
	if (!tf_name_valid(name))
		return fail(err, errlen,
			    "line %u: invalid name (use a-z, 0-9, - and _, "
			    "starting with a letter, at most 32)",
			    lineno);
	if (!strcmp(kind, "persona")) {
		if (tf_config_persona(c, name) != NULL)
			return fail(err, errlen, "line %u: persona %s twice",
				    lineno, name);
		if (c->n_personas >= TF_PERSONA_MAX)
			return fail(err, errlen,
				    "line %u: too many personas (at most %d)",
				    lineno, TF_PERSONA_MAX);
		persona_init(&c->personas[c->n_personas++], name, 0);
		*sec = SEC_PERSONA;
		return 0;
	}
	if (!strcmp(kind, "device")) {
		for (size_t i = 0; i < c->n_devices; i++)
			if (!strcmp(c->devices[i].name, name))
				return fail(err, errlen,
					    "line %u: device %s twice", lineno,
					    name);
		if (c->n_devices >= TF_DEVICE_MAX)
			return fail(err, errlen,
				    "line %u: too many devices (at most %d)",
				    lineno, TF_DEVICE_MAX);
		struct tf_device_cfg *d = &c->devices[c->n_devices++];
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", name);
		section_defaults(SEC_DEVICE, d);
		*sec = SEC_DEVICE;
		return 0;
	}
	return fail(err, errlen, "line %u: unknown section [%s]", lineno, kind);
}

/* The keys each section gave (bit i = keys[i]): a derived default is
 * applied only where its key was not given. */
struct given {
	uint64_t top;
	uint64_t persona[TF_PERSONA_MAX];
	uint64_t device[TF_DEVICE_MAX];
};

static int set_line(struct tf_config *c, enum section sec, struct given *g,
		    const char *k, const char *v)
{
	const struct key *key;
	uint64_t *mask;
	void *obj;
	size_t idx;
	int r;

	switch (sec) {
	case SEC_TOP:
		obj = c;
		mask = &g->top;
		break;
	case SEC_PERSONA:
		obj = &c->personas[c->n_personas - 1];
		mask = &g->persona[c->n_personas - 1];
		break;
	case SEC_DEVICE:
		obj = &c->devices[c->n_devices - 1];
		mask = &g->device[c->n_devices - 1];
		break;
	default: return -EINVAL;
	}
	key = key_find(sec, k, &idx);
	if (key == NULL)
		return -ENOENT;
	r = key_set(key, obj, v);
	if (r < 0)
		return r;
	/* an empty string is the same as no line: unset */
	if (v[0] != '\0')
		*mask |= UINT64_C(1) << idx;
	else
		*mask &= ~(UINT64_C(1) << idx);
	return 0;
}

int tf_config_parse(const char *text, size_t len, struct tf_config *out,
		    char *err, size_t errlen)
{
	_cleanup_free_ struct tf_config *c = NULL;
	_cleanup_free_ struct given *g = NULL;
	char line[LINE_MAX_LEN + 1];
	enum section sec = SEC_TOP;
	unsigned lineno = 0;
	size_t pos = 0;
	int first_err = 0;
	char first_msg[256] = "", saved_msg[256] = "";
	int r;

	if (len > TF_CONFIG_MAX)
		return fail(err, errlen, "file larger than %d bytes",
			    TF_CONFIG_MAX);
	c = calloc(1, sizeof(*c));
	g = calloc(1, sizeof(*g));
	if (c == NULL || g == NULL)
		return -ENOMEM;
	/* a file lists its personas explicitly; the rows' defaults fill
	 * what it leaves out */
	section_defaults(SEC_TOP, c);
	c->version = 0;

	while (pos < len) {
		size_t e = pos, linelen;
		char *s, *eq, *k, *v;

		while (e < len && text[e] != '\n')
			e++;
		linelen = e - pos;
		lineno++;
		r = 0;
		if (linelen > LINE_MAX_LEN)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: longer than %d characters", lineno,
				 LINE_MAX_LEN);
		else if (memchr(text + pos, '\0', linelen) != NULL)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: contains a NUL byte", lineno);
		else
			memcpy(line, text + pos, linelen);
		pos = e + 1;
		if (r < 0)
			goto record;
		line[linelen] = '\0';
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close == NULL || trim(close + 1)[0] != '\0') {
				r = fail(first_msg, sizeof(first_msg),
					 "line %u: malformed section header",
					 lineno);
				goto record;
			}
			*close = '\0';
			r = parse_section(c, trim(s + 1), &sec, first_msg,
					  sizeof(first_msg), lineno);
			goto record;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: expected key = value", lineno);
			goto record;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		r = set_line(c, sec, g, k, v);
		if (r == -ENOENT)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: unknown key '%.40s'", lineno, k);
		else if (r < 0)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: invalid value for %.40s", lineno, k);
	record:
		/* keep parsing after an error only to learn the version */
		if (r < 0 && first_err == 0) {
			first_err = r;
			snprintf(saved_msg, sizeof(saved_msg), "%s", first_msg);
		}
	}
	/* a newer format may have keys we do not know: say that first */
	if (c->version > TF_CONFIG_VERSION) {
		if (err && errlen)
			snprintf(err, errlen,
				 "written by a newer twofold (format %u; this "
				 "build reads %u)",
				 c->version, TF_CONFIG_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (first_err < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", saved_msg);
		return first_err;
	}
	if (c->version == 0)
		return fail(err, errlen, "missing 'version = %d'",
			    TF_CONFIG_VERSION);
	for (size_t i = 0; i < c->n_personas; i++)
		section_derive(SEC_PERSONA, &c->personas[i], g->persona[i], c);
	for (size_t i = 0; i < c->n_devices; i++)
		section_derive(SEC_DEVICE, &c->devices[i], g->device[i], c);
	section_derive(SEC_TOP, c, g->top, c);
	r = tf_config_validate(c, false, err, errlen);
	if (r < 0)
		return r;
	*out = *c;
	return 0;
}

/* The row's own bounds, on a value in memory (init and the daemon
 * validate what they built or changed, not only what they parsed). A row
 * without a default left at 0 or "" is unset: the rules between keys
 * below say what that means. */
static int key_check(const struct key *k, const void *obj, const char *who,
		     char *err, size_t errlen)
{
	const char *f = (const char *)obj + k->off;
	uint64_t x = 0;
	uint32_t u;

	switch (k->type) {
	case T_U32:
		memcpy(&u, f, sizeof(u));
		x = u;
		break;
	case T_U64:
	case T_SIZE: memcpy(&x, f, sizeof(x)); break;
	case T_STR:
		if (memchr(f, '\0', k->size) == NULL || !str_clean(f))
			return fail(err, errlen,
				    "%s%s is too long or has control "
				    "characters",
				    who, k->name);
		return 0;
	case T_PCRS:
		memcpy(&u, f, sizeof(u));
		if (u >> 24)
			return fail(err, errlen,
				    "%stpm_pcrs names a PCR above 23", who);
		return 0;
	case T_CLASS: {
		enum tf_device_class cls;
		memcpy(&cls, f, sizeof(cls));
		if (cls != 0 &&
		    strcmp(tf_device_class_name(cls), "unknown") == 0)
			return fail(err, errlen, "%sunknown class", who);
		return 0;
	}
	case T_BOOL: return 0;
	case T_NETMODE: {
		enum tf_net_mode m;
		memcpy(&m, f, sizeof(m));
		if (strcmp(tf_net_mode_name(m), "unknown") == 0)
			return fail(err, errlen,
				    "%snetwork must be none, nat or tunnel",
				    who);
		return 0;
	}
	case T_SUITEID:
		if (tf_suite_info_by_id((uint8_t)f[0]) == NULL)
			return fail(err, errlen, "%s%s names no known suite",
				    who, k->name);
		return 0;
	case T_CIDR: {
		struct tf_cidr c;
		memcpy(&c, f, sizeof(c));
		if (c.family != AF_INET || c.len < k->min || c.len > k->max)
			return fail(err, errlen,
				    "%s%s must be an IPv4 network /%u../%u",
				    who, k->name, (unsigned)k->min,
				    (unsigned)k->max);
		return 0;
	}
	case T_ADDRS:
	case T_PREFIXES:
	case T_IFADDRS: {
		uint8_t n = *((const uint8_t *)obj + k->aux);
		if (n > k->max || n > k->size / sizeof(struct tf_cidr))
			return fail(err, errlen,
				    "%s%s has more than %u entries", who,
				    k->name, (unsigned)k->max);
		return 0;
	}
	case T_ENDPOINT: return 0;
	}
	if (x == 0 && k->def == NULL)
		return 0;
	if (!in_bounds(k, x))
		return fail(err, errlen,
			    "%s%s = %llu is out of range (%llu..%llu%s)", who,
			    k->name, (unsigned long long)x,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max,
			    k->zero_ok ? ", or 0" : "");
	return 0;
}

static int section_check(enum section sec, const void *obj, const char *who,
			 char *err, size_t errlen)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(keys); i++) {
		int r;

		if (keys[i].sec != sec)
			continue;
		r = key_check(&keys[i], obj, who, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Length in bytes of standard base64 text s (with its = padding), or -1. */
static int b64_decoded_len(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n == 0 || n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'A' && ch <= 'Z') ||
			     (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9');
		if (ch == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad || !(alnum || ch == '+' || ch == '/')) {
			return -1;
		}
	}
	return (int)(n / 4 * 3 - pad);
}

static bool cidr_contains(const struct tf_cidr *net, const struct tf_cidr *a)
{
	const uint8_t *x = (const uint8_t *)&net->addr,
		      *y = (const uint8_t *)&a->addr;
	unsigned len = net->len;

	if (net->family != a->family || a->len < net->len)
		return false;
	for (unsigned i = 0; len; i++) {
		unsigned bits = len >= 8 ? 8 : len;
		uint8_t mask = (uint8_t)(0xff00u >> bits);
		if ((x[i] ^ y[i]) & mask)
			return false;
		len -= bits;
	}
	return true;
}

/* The rules between the network keys of persona p (issue 12). */
static int validate_net(const struct tf_config *c,
			const struct tf_persona_cfg *p, char *err,
			size_t errlen)
{
	const struct tf_tunnel_cfg *t = &p->tunnel;
	int klen;

	if (p->n_dns && p->network != TF_NET_NAT)
		return fail(err, errlen,
			    "persona %s: dns applies to network = nat only "
			    "(a tunnel persona's resolvers are tunnel_dns)",
			    p->name);
	for (uint8_t i = 0; i < p->n_dns; i++)
		if (p->dns[i].family != AF_INET)
			return fail(err, errlen,
				    "persona %s: dns must be IPv4 addresses "
				    "(nat is IPv4 only)",
				    p->name);
	if (p->network != TF_NET_TUNNEL)
		return 0;
	if (t->peer_key[0]) {
		size_t want = t->suite == TF_SUITE_GM ? 65 : 32;
		klen = b64_decoded_len(t->peer_key);
		if (klen != (int)want)
			return fail(err, errlen,
				    "persona %s: tunnel_peer_key must be the "
				    "base64 of a %zu-byte %s public key",
				    p->name, want,
				    t->suite == TF_SUITE_GM ? "SM2" : "X25519");
	}
	for (uint8_t i = 0; i < t->n_addr; i++)
		for (uint8_t j = 0; j < i; j++)
			if (t->addr[i].family == t->addr[j].family)
				return fail(err, errlen,
					    "persona %s: tunnel_address takes "
					    "one IPv4 and one IPv6 address",
					    p->name);
	if (t->n_routes == 0)
		return fail(err, errlen,
			    "persona %s: tunnel_routes is empty: nothing "
			    "would go through the tunnel",
			    p->name);
	for (uint8_t i = 0; i < t->n_dns; i++) {
		bool in = false;
		for (uint8_t j = 0; j < t->n_routes; j++)
			in |= cidr_contains(&t->routes[j], &t->dns[i]);
		if (!in)
			return fail(err, errlen,
				    "persona %s: tunnel_dns %u is outside "
				    "tunnel_routes: its queries would have no "
				    "route",
				    p->name, (unsigned)i + 1);
	}
	(void)c;
	return 0;
}

int tf_config_validate(const struct tf_config *c, bool check_paths, char *err,
		       size_t errlen)
{
	char who[TF_NAME_MAX + 16];
	struct stat st;
	int r;

	/* each key on its own (its row), then the rules between keys */
	r = section_check(SEC_TOP, c, "", err, errlen);
	if (r < 0)
		return r;
	if (c->n_personas > TF_PERSONA_MAX || c->n_devices > TF_DEVICE_MAX)
		return fail(err, errlen, "too many personas or devices");
	for (size_t i = 0; i < c->n_personas; i++) {
		snprintf(who, sizeof(who), "persona %s: ", c->personas[i].name);
		r = section_check(SEC_PERSONA, &c->personas[i], who, err,
				  errlen);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_devices; i++) {
		snprintf(who, sizeof(who), "device %s: ", c->devices[i].name);
		r = section_check(SEC_DEVICE, &c->devices[i], who, err, errlen);
		if (r < 0)
			return r;
	}

	if (tf_suite_info_by_name(c->suite) == NULL) {
		char known[64];
		tf_suite_names(known, sizeof(known), ", ");
		return fail(err, errlen, "unknown suite '%.15s' (known: %s)",
			    c->suite, known);
	}
	if (c->n_personas < 2)
		return fail(err, errlen,
			    "at least two personas are needed (have %zu)",
			    c->n_personas);
	if (c->throttle_free_tries >= c->throttle_max_failures)
		return fail(err, errlen,
			    "throttle_free_tries must be below "
			    "throttle_max_failures");
	/* Without a TPM the Argon2id cost and the PIN length are all that
	 * bound a thief who copied the disk: refuse settings that make that
	 * cheap, unless the file says it knows (the tests' 8 MiB KDF). */
	if (!c->allow_weak_credentials &&
	    c->kdf_min_mem_mib < TF_KDF_MEM_MIB_SAFE)
		return fail(
			err, errlen,
			"kdf_min_mem_mib = %u is below %u MiB: offline "
			"guessing becomes cheap; set "
			"allow_weak_credentials = yes to force (tests only)",
			c->kdf_min_mem_mib, TF_KDF_MEM_MIB_SAFE);
	if (!c->allow_weak_credentials &&
	    c->pin_min_digits < TF_PIN_DIGITS_SAFE)
		return fail(
			err, errlen,
			"pin_min_digits = %u is below %u: a short PIN "
			"falls to offline guessing; set "
			"allow_weak_credentials = yes to force (tests only)",
			c->pin_min_digits, TF_PIN_DIGITS_SAFE);
	/* a passphrase may be any non-digit string: one shorter than the
	 * PIN floor ("12345a", or "aaaa" with the minimum of 4) would undo
	 * the pin_min_digits refusal above */
	if (!c->allow_weak_credentials &&
	    c->passphrase_min_chars < TF_PIN_DIGITS_SAFE)
		return fail(
			err, errlen,
			"passphrase_min_chars = %u is below %u: a short "
			"passphrase falls to offline guessing; set "
			"allow_weak_credentials = yes to force (tests only)",
			c->passphrase_min_chars, TF_PIN_DIGITS_SAFE);
	if (c->storage_dir[0] != '\0' && c->storage_dir[0] != '/')
		return fail(err, errlen,
			    "storage_dir must be an absolute path");
	if (strcmp(c->display, "none") != 0 && strcmp(c->display, "shell") != 0)
		return fail(err, errlen, "display = %.7s: use none or shell",
			    c->display);
	/* the shell's sockets are made for its uid: no uid, no shell */
	if (strcmp(c->display, "shell") == 0 && c->shell_uid == 0)
		return fail(err, errlen,
			    "display = shell needs shell_uid (the uid "
			    "twofold-shell runs as)");
	/* the shell opens the display and the input devices (docs/shell.md
	 * "Devices"): a persona given them too would read the keyboard
	 * past the shell's focus, whatever the foreground */
	for (size_t i = 0; strcmp(c->display, "shell") == 0 && i < c->n_devices;
	     i++)
		if (c->devices[i].cls == TF_DEV_INPUT ||
		    c->devices[i].cls == TF_DEV_DISPLAY)
			return fail(err, errlen,
				    "device %s: class %s with display = "
				    "shell: twofold-shell opens the display "
				    "and input devices, never a persona; "
				    "remove this [device] section",
				    c->devices[i].name,
				    c->devices[i].cls == TF_DEV_INPUT
					    ? "input"
					    : "display");
	/* clipboard_flows: "none" or FROM:TO pairs of two personas */
	if (c->clipboard_flows[0] && strcmp(c->clipboard_flows, "none") != 0) {
		char buf[TF_COPY_FLOWS_MAX], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", c->clipboard_flows);
		for (char *t = strtok_r(buf, ", ", &save); t;
		     t = strtok_r(NULL, ", ", &save)) {
			char *colon = strchr(t, ':');
			bool from = false, to = false;

			if (colon) {
				*colon = '\0';
				for (size_t i = 0; i < c->n_personas; i++) {
					from |= strcmp(c->personas[i].name,
						       t) == 0;
					to |= strcmp(c->personas[i].name,
						     colon + 1) == 0;
				}
			}
			if (!colon || !from || !to || strcmp(t, colon + 1) == 0)
				return fail(err, errlen,
					    "clipboard_flows: '%.40s%s%.40s' "
					    "is not "
					    "FROM:TO of two personas (or use "
					    "none)",
					    t, colon ? ":" : "",
					    colon ? colon + 1 : "");
		}
	}
	if (c->shell_start && strcmp(c->display, "shell") != 0)
		return fail(err, errlen,
			    "shell_start = yes needs display = shell");
	/* a credential persona runs signed code only (issue 13): no switch
	 * may give it executable writable dirs */
	for (size_t i = 0; i < c->n_personas; i++)
		if (c->personas[i].credential &&
		    c->personas[i].allow_exec_writable)
			return fail(err, errlen,
				    "persona %s: allow_exec_writable = yes is "
				    "refused for a credential-bound persona "
				    "(only signed code runs there); remove it",
				    c->personas[i].name);
	for (size_t i = 0; i < c->n_personas; i++) {
		const char *a = c->personas[i].comms_audio;

		/* one argv word of the service: printable, no blank */
		for (size_t k = 0; a[k]; k++)
			if (a[k] <= ' ' || a[k] > '~')
				return fail(err, errlen,
					    "persona %s: comms_audio must be "
					    "an ALSA device name (no blank or "
					    "control character): \"%s\"",
					    c->personas[i].name, a);
	}
	for (size_t i = 0; i < c->n_personas; i++) {
		const char *m = c->personas[i].exec_hashes;

		if (m[0] && strcmp(m, "pin") && strcmp(m, "sealed") &&
		    strcmp(m, "off"))
			return fail(err, errlen,
				    "persona %s: exec_hashes must be pin, "
				    "sealed or off (not \"%s\")",
				    c->personas[i].name, m);
	}
	for (size_t i = 0; i < c->n_personas; i++) {
		const struct tf_persona_cfg *p = &c->personas[i];
		uint64_t end = (uint64_t)p->uid_base + p->uid_count;

		/* host uids below 65536 belong to real users and services */
		if (p->uid_base < 65536 || end > UINT32_MAX)
			return fail(err, errlen,
				    "persona %s: uid_base must be set, at "
				    "least 65536, with uid_base + uid_count "
				    "below 2^32",
				    p->name);
		if (!p->credential &&
		    (p->reauth_after != 0 || p->idle_evict_after != 0))
			return fail(err, errlen,
				    "persona %s: reauth_after and "
				    "idle_evict_after need credential = yes "
				    "(a device-bound persona has no credential "
				    "to ask again)",
				    p->name);
		if (p->uid_count <= TF_APP_UID_DEFAULT)
			return fail(err, errlen,
				    "persona %s: uid_count must exceed %u",
				    p->name, TF_APP_UID_DEFAULT);
		r = validate_net(c, p, err, errlen);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			const struct tf_persona_cfg *q = &c->personas[j];
			uint64_t qend = (uint64_t)q->uid_base + q->uid_count;
			if (p->uid_base < qend && q->uid_base < end)
				return fail(err, errlen,
					    "personas %s and %s have "
					    "overlapping uid ranges "
					    "(%u+%u and %u+%u)",
					    q->name, p->name, q->uid_base,
					    q->uid_count, p->uid_base,
					    p->uid_count);
		}
		if (p->base[0] != '\0') {
			if (p->base[0] != '/')
				return fail(err, errlen,
					    "persona %s: base must be an "
					    "absolute path",
					    p->name);
			if (check_paths &&
			    (stat(p->base, &st) < 0 || !S_ISDIR(st.st_mode)))
				return fail(err, errlen,
					    "persona %s: base %.200s does not "
					    "exist or is not a directory",
					    p->name, p->base);
		}
	}
	if (tf_config_persona(c, c->foreground) == NULL)
		return fail(err, errlen, "foreground names no persona: %s",
			    c->foreground);
	for (size_t i = 0; i < c->n_devices; i++) {
		const struct tf_device_cfg *d = &c->devices[i];
		if (d->cls == 0)
			return fail(err, errlen, "device %s: class missing",
				    d->name);
		if (d->path[0] != '/')
			return fail(err, errlen,
				    "device %s: path must be absolute",
				    d->name);
		/* a missing node is fine (hot-plugged later); an existing
		 * file that is not a device node is a mistake */
		if (check_paths && stat(d->path, &st) == 0 &&
		    !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			return fail(err, errlen,
				    "device %s: %.200s is not a device node",
				    d->name, d->path);
	}
	return 0;
}

static void key_write(FILE *f, const struct key *k, const void *obj,
		      const struct tf_config *c, bool doc)
{
	const char *fld = (const char *)obj + k->off;
	bool shown = k->shown == NULL || k->shown(obj, c);
	uint64_t x;
	uint32_t u;
	bool b;

	if (doc && k->doc)
		fprintf(f, "# %s\n", k->doc);
	if ((k->type == T_STR && fld[0] == '\0') ||
	    ((k->type == T_ADDRS || k->type == T_PREFIXES ||
	      k->type == T_IFADDRS) &&
	     *((const uint8_t *)obj + k->aux) == 0) ||
	    (k->type == T_ENDPOINT && !*((const bool *)obj + k->aux))) {
		/* unset: documented, not set */
		fprintf(f, "#%s =\n", k->name);
		return;
	}
	fprintf(f, "%s%s = ", shown ? "" : "#", k->name);
	switch (k->type) {
	case T_U32:
		memcpy(&u, fld, sizeof(u));
		fprintf(f, "%u", u);
		break;
	case T_U64:
	case T_SIZE:
		memcpy(&x, fld, sizeof(x));
		fprintf(f, "%llu", (unsigned long long)x);
		break;
	case T_BOOL:
		memcpy(&b, fld, sizeof(b));
		fputs(b ? "yes" : "no", f);
		break;
	case T_STR: fputs(fld, f); break;
	case T_PCRS:
		memcpy(&u, fld, sizeof(u));
		if (u == 0)
			fputs("none", f);
		for (unsigned i = 0, first = 1; i < 24; i++)
			if (u & (1u << i)) {
				fprintf(f, first ? "%u" : ",%u", i);
				first = 0;
			}
		break;
	case T_CLASS: {
		enum tf_device_class cls;
		memcpy(&cls, fld, sizeof(cls));
		fputs(tf_device_class_name(cls), f);
		break;
	}
	case T_NETMODE: {
		enum tf_net_mode m;
		memcpy(&m, fld, sizeof(m));
		fputs(tf_net_mode_name(m), f);
		break;
	}
	case T_SUITEID: {
		const struct tf_suite_info *si =
			tf_suite_info_by_id((uint8_t)fld[0]);
		fputs(si ? si->name : "unknown", f);
		break;
	}
	case T_CIDR: {
		struct tf_cidr cidr;
		char buf[64];
		memcpy(&cidr, fld, sizeof(cidr));
		tf_cidr_format(&cidr, buf, sizeof(buf));
		fputs(buf, f);
		break;
	}
	case T_ADDRS:
	case T_PREFIXES:
	case T_IFADDRS: {
		uint8_t n = *((const uint8_t *)obj + k->aux);
		for (uint8_t i = 0; i < n; i++) {
			struct tf_cidr cidr;
			char buf[64];
			memcpy(&cidr, fld + i * sizeof(cidr), sizeof(cidr));
			tf_cidr_format(&cidr, buf, sizeof(buf));
			/* a resolver is an address: no "/32" */
			if (k->type == T_ADDRS)
				*strchr(buf, '/') = '\0';
			fprintf(f, i ? ", %s" : "%s", buf);
		}
		break;
	}
	case T_ENDPOINT: {
		char buf[80];
		tf_sockaddr_format((const struct sockaddr *)fld, buf,
				   sizeof(buf));
		fputs(buf, f);
		break;
	}
	}
	fputc('\n', f);
}

static void section_write(FILE *f, enum section sec, const void *obj,
			  const struct tf_config *c, bool doc)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(keys); i++)
		if (keys[i].sec == sec)
			key_write(f, &keys[i], obj, c, doc);
}

int tf_config_format(const struct tf_config *c, char **out)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);

	if (f == NULL)
		return -ENOMEM;
	fputs("# twofold device configuration (see twofold-config(5),\n"
	      "# docs/twofold-config.5.md). Written by `twofold init`.\n"
	      "# A line '#key = ...' is a key not set: its default applies.\n",
	      f);
	section_write(f, SEC_TOP, c, c, true);
	/* the doc lines once per kind of section: the first one */
	for (size_t i = 0; i < c->n_personas; i++) {
		fprintf(f, "\n[persona %s]\n", c->personas[i].name);
		section_write(f, SEC_PERSONA, &c->personas[i], c, i == 0);
	}
	for (size_t i = 0; i < c->n_devices; i++) {
		fprintf(f, "\n[device %s]\n", c->devices[i].name);
		section_write(f, SEC_DEVICE, &c->devices[i], c, i == 0);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}
