/* SPDX-License-Identifier: ISC */
/*
 * Device configuration: <state>/device.conf, an INI-style text file written
 * by `twofold init` and edited by administrators. The parser is bounded
 * (TF_CONFIG_MAX bytes, fixed-size tables) and fuzzed (fuzz/fuzz_config.c).
 *
 *   version = 1
 *   suite = intl
 *   [persona personal]
 *   uid_base = 1000000
 *   ...
 *   [device camera]
 *   path = /dev/video0
 *
 * See docs/twofold-config.5.md for every key.
 */
#ifndef TWOFOLD_CONFIG_H
#define TWOFOLD_CONFIG_H

#include <limits.h>

#include "twofold/common.h"
#include "twofold/net.h"

#define TF_CONFIG_VERSION 1 /* what this build writes and reads */
#define TF_CONFIG_MAX (64 * 1024)
#define TF_PERSONA_MAX 8
#define TF_DEVICE_MAX 16
#define TF_NAME_MAX 32	    /* persona and device names, without NUL */
#define TF_CFG_PATH_MAX 256 /* paths in the config */
/* PCR 7: the Secure Boot state (UEFI PC client profile); docs/keys.md */
#define TF_CFG_TPM_PCRS_DEFAULT (1u << 7)
#define TF_UID_COUNT_DEFAULT 65536u
#define TF_PTY_MAX_DEFAULT 256u /* devpts max= per persona */
#define TF_APP_UID_DEFAULT 1000u
/* The uid (and gid) twofold-comms runs as inside a persona (issue 15;
 * docs/comms.md "In the secure persona"): not the default app uid, so
 * the officer's terminal and anything else run as TF_APP_UID_DEFAULT
 * cannot read the device key, prekeys or ratchet sessions. Below
 * TF_APP_UID_DEFAULT, so inside every persona's range (uid_count is at
 * least TF_APP_UID_DEFAULT + 1) and clear of installed apps' uids
 * (TFD_APP_UID_FIRST + slot, >= 10000); never 0 or the tty gid 5.
 * `twofold run --user` refuses it. Static asserts in daemon/req_comms.c. */
#define TF_COMMS_UID 999u
/* comms_audio's field: the service's own limit on --audio-dev (64) */
#define TF_COMMS_AUDIO_MAX 64
/* reauth_after of a credential persona: 72 h, as Android requires of a
 * primary credential; at most 30 days */
#define TF_REAUTH_DEFAULT (72u * 3600u)
#define TF_REAUTH_MAX (30u * 86400u)
#define TF_IDLE_EVICT_MAX (7u * 86400u)

enum tf_device_class {
	TF_DEV_DISPLAY = 1,
	TF_DEV_INPUT,
	TF_DEV_AUDIO,
	TF_DEV_CAMERA,
	TF_DEV_MICROPHONE,
};

/* A persona's network (issue 12; docs/network.md). Here rather than in
 * profile.h, which includes this header: the profile carries the same
 * value (struct tf_profile.net). */
enum tf_net_mode {
	/* lo only, in the namespace the daemon made */
	TF_NET_NONE = 1,
	/* a veth to the daemon's (uplink) namespace, NAT, the host's DNS */
	TF_NET_NAT = 2,
	/* lo and tun0 only: every packet through the tunnel (lockdown) */
	TF_NET_TUNNEL = 3,
};
/* "none", "nat", "tunnel" ("unknown" past them) */
TF_EXPORT const char *tf_net_mode_name(enum tf_net_mode m);

#define TF_NAT_SUBNET_DEFAULT "10.213.0.0/16"
#define TF_TUNNEL_MTU_DEFAULT 1420u
#define TF_TUNNEL_KEEPALIVE_DEFAULT 25u
#define TF_NET_DNS_MAX 4
#define TF_TUNNEL_ADDR_MAX 2
#define TF_TUNNEL_ROUTES_MAX 8
#define TF_TUNNEL_PEER_KEY_MAX 100 /* base64 text with its NUL */
/* app_trust: up to TF_PKG_TRUST_MAX (4) base64 keys, comma-separated
 * (4 x 88 for gm's 65-byte keys, commas, NUL) */
#define TF_APP_TRUST_MAX 360
#define TF_SCAN_TRUST_MAX 400 /* up to 4 base64 keys, commas, NUL */
#define TF_COPY_FLOWS_MAX 128

/* The tunnel of a `network = tunnel` persona (tunnel_* keys). */
struct tf_tunnel_cfg {
	uint8_t suite; /* TF_SUITE_INTL / TF_SUITE_GM */
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	socklen_t endpoint_len;
	/* base64 as written, "" = unset; decoded by the daemon (the parser
	 * checks the length: 32 bytes intl, 65 bytes gm) */
	char peer_key[TF_TUNNEL_PEER_KEY_MAX];
	uint8_t n_addr;
	struct tf_cidr addr[TF_TUNNEL_ADDR_MAX];
	uint8_t n_routes;
	struct tf_cidr routes[TF_TUNNEL_ROUTES_MAX];
	uint8_t n_dns;
	struct tf_cidr dns[TF_NET_DNS_MAX];
	uint32_t keepalive, mtu, listen_port;
};

struct tf_persona_cfg {
	char name[TF_NAME_MAX + 1];
	uint32_t uid_base;	    /* host uid of persona uid 0 */
	uint32_t uid_count;	    /* size of the mapped range */
	char base[TF_CFG_PATH_MAX]; /* "" = host /usr,/bin,/lib*,/etc */
	uint64_t memory_max;	    /* bytes, 0 = unlimited */
	uint64_t pids_max;	    /* 0 = unlimited */
	uint32_t cpu_weight; /* 1..10000 when foreground (cgroup v2 scale) */
	bool credential;     /* SP wrapped by credential + device secret */
	bool autostart;	     /* start with the daemon (if keys allow) */
	uint32_t
		lock_evict_after; /* seconds after lock until evict, 0 = never */
	uint32_t pty_max; /* ptys the persona may open (its devpts max=) */
	/* yes: programs may run from its writable dirs (/home, /tmp, /var,
	 * /run, /dev/shm) and nothing gates exec; a credential persona with
	 * it is refused (issue 13: only signed code runs in secure) */
	bool allow_exec_writable;
	bool comms; /* run twofold-comms in it once provisioned */
	/* the ALSA device twofold-comms is started with (--audio-dev), ""
	 * none; at most TF_COMMS_AUDIO_MAX - 1 printable bytes, no blank */
	char comms_audio[TF_COMMS_AUDIO_MAX];
	/* the exec gate's base-file hashes (docs/exec.md): "pin" (the
	 * first exec pins path -> hash), "sealed" (only what `twofold exec
	 * seal` recorded) or "off" */
	char exec_hashes[8];
	/* seconds after the last credential unlock until the persona is
	 * evicted and needs the credential again; 0 = never (credential
	 * personas only; default TF_REAUTH_DEFAULT for them) */
	uint32_t reauth_after;
	/* seconds a running credential persona may go without being the
	 * foreground before it is evicted; 0 = never */
	uint32_t idle_evict_after;
	/* bytes of its own storage image; 0 = an equal share of what the
	 * top-level storage_size leaves (tf_config_storage_share) */
	uint64_t storage_size;
	/* network: the mode (default nat, tunnel for a credential persona) */
	enum tf_net_mode network;
	/* nat: resolvers (host prefixes); 0 = the host's /etc/resolv.conf */
	uint8_t n_dns;
	struct tf_cidr dns[TF_NET_DNS_MAX];
	struct tf_tunnel_cfg tunnel;
	/* apps (docs/packages.md): signer keys of its packages and catalogs,
	 * base64 as written, comma-separated; decoded (and checked against
	 * the suite) by tf_pkg_trust_parse. "" = no app can be installed */
	char app_trust[TF_APP_TRUST_MAX];
	char app_catalog[TF_CFG_PATH_MAX]; /* "" = no catalog */
	/* malware scanning of imports (issue 13): the signers of the scanner
	 * database bundle, base64 public keys comma-separated ("" = none:
	 * imports into this persona are refused), and the bundle's path */
	char scan_trust[TF_SCAN_TRUST_MAX];
	char scan_db[TF_CFG_PATH_MAX];
	/* urgent alerts (docs/shell.md "Urgent alerts"): the organisation's
	 * alert signers, base64 public keys comma-separated as app_trust
	 * ("" = no alert is ever accepted for this persona), and the UDP
	 * port the daemon listens on inside its network namespace (0 = only
	 * `twofold alert post`) */
	char alert_trust[TF_APP_TRUST_MAX];
	uint32_t alert_port;
};

struct tf_device_cfg {
	char name[TF_NAME_MAX + 1];
	enum tf_device_class cls;
	char path[TF_CFG_PATH_MAX]; /* host device node */
};

/* The floors below which offline guessing of a PIN gets cheap: Argon2id
 * memory (MiB) and PIN length. A device.conf under either is refused
 * unless it says allow_weak_credentials = yes. */
#define TF_KDF_MEM_MIB_SAFE 64u
#define TF_PIN_DIGITS_SAFE 6u

struct tf_config {
	uint32_t version;
	char suite[16];
	char foreground[TF_NAME_MAX + 1]; /* persona foreground at start */
	uint32_t background_cpu_weight;	  /* cgroup v2 scale 1..10000 */
	/* storage */
	uint64_t storage_size; /* bytes of all images together (init) */
	char storage_dir[TF_CFG_PATH_MAX]; /* "" = image in the state dir */
	/* recognition */
	uint32_t pin_min_digits;
	uint32_t passphrase_min_chars;
	uint32_t throttle_free_tries;	/* failures with no wait */
	uint32_t throttle_max_failures; /* then crypto-erase */
	uint32_t throttle_base_delay;	/* seconds, doubled per failure */
	uint32_t kdf_target_ms;
	uint32_t kdf_min_mem_mib;
	/* kdf_min_mem_mib below TF_KDF_MEM_MIB_SAFE or pin_min_digits below
	 * TF_PIN_DIGITS_SAFE are refused unless this is set (tests only) */
	bool allow_weak_credentials;
	char tpm_tcti[TF_CFG_PATH_MAX]; /* "" = no TPM */
	uint32_t tpm_pcrs; /* bit n = PCR n in the slot policy; 0 = none */
	bool cgroup_favor_dynmods; /* set the host's cgroup2 favordynmods */
	/* who besides root may talk to the daemon (twofoldd.8 "Callers"):
	 * the members of this group ("" none) some requests, this uid
	 * (0 none) every request */
	char control_group[TF_NAME_MAX + 1];
	uint32_t shell_uid;
	/* the display path (issue 14): "none", or "shell": the daemon makes
	 * the trusted shell's socket directories and puts each persona's
	 * Wayland socket into it at persona start (docs/shell.md) */
	char display[8];
	/* display = shell: twofoldd starts twofold-shell as shell_uid and
	 * restarts it when it exits (shellproc.c) */
	bool shell_start;
	/* seconds without input until the shell locks the credential
	 * personas (0 = never; read by the shell from the status) */
	uint32_t lock_idle_seconds;
	/* IPv4 network the nat personas' /30 links are cut from: persona
	 * slot i gets the i-th /30 */
	struct tf_cidr nat_subnet;
	/* copies that leave a credential persona, "FROM:TO[,FROM:TO]"
	 * ("" = none: `twofold copy secure:... personal:` is refused) */
	char copy_flows[TF_COPY_FLOWS_MAX];
	/* the shell's cross-persona paste, "FROM:TO[,...]" or "none" ("" =
	 * unset: from a persona without a credential into one with) */
	char clipboard_flows[TF_COPY_FLOWS_MAX];
	size_t n_personas;
	struct tf_persona_cfg personas[TF_PERSONA_MAX];
	size_t n_devices;
	struct tf_device_cfg devices[TF_DEVICE_MAX];
};

/* Host uid slots for `init`: each device gets TF_UID_SLOT_SPAN uids (its
 * two default personas, 65536 each) at TF_UID_SLOT_FIRST + slot * span,
 * slot < TF_UID_SLOTS; the last slot ends below 2^31. */
#define TF_UID_SLOT_FIRST (1u << 20)
#define TF_UID_SLOT_SPAN (2u * TF_UID_COUNT_DEFAULT)
#define TF_UID_SLOTS 16000u

/* The first uid of slot number probe for the device whose state directory
 * has the real path key: a hash of key picks the first slot, probe walks
 * on from there (to step over a slot that is taken). Not a secret. */
TF_EXPORT uint32_t tf_config_uid_slot_base(const char *key, uint32_t probe);

/* Defaults: every key's schema default, and personas "personal"
 * (device-bound) and "secure" (credential, lock_evict_after 300). */
TF_EXPORT void tf_config_default(struct tf_config *c);

/* Parse and validate. On error returns -EINVAL (or -EPROTONOSUPPORT for a
 * version newer than TF_CONFIG_VERSION) and writes "line N: what" to err. */
TF_EXPORT TF_WUR int tf_config_parse(const char *text, size_t len,
				     struct tf_config *out, char *err,
				     size_t errlen) TF_NONNULL(3);

/* Semantic checks shared by parse and init: unique names, disjoint uid
 * ranges, known suite, base paths exist (check_paths). */
TF_EXPORT TF_WUR int tf_config_validate(const struct tf_config *c,
					bool check_paths, char *err,
					size_t errlen) TF_NONNULL(1);

/* Serialize (malloc'd, NUL-terminated): every key of the schema, each
 * with its doc line as a comment above it (in the first section of its
 * kind); an unset or derived key is written commented out ("#base ="). */
TF_EXPORT TF_WUR int tf_config_format(const struct tf_config *c, char **out);

/* The schema (src/lib/common/config.c keys[]), for tests and docs: the
 * name of key i, its section ("top", "persona" or "device") and its doc
 * line; NULL past the last key. */
TF_EXPORT const char *tf_config_key_at(size_t i, const char **section,
				       const char **doc);
/* The schema's own consistency (tests): every default parses under its
 * row's type and bounds, one-line docs, no key twice in a section. */
TF_EXPORT TF_WUR int tf_config_schema_check(char *err, size_t errlen);

/* Smallest storage image of one persona: ext4 with a journal. */
#define TF_STORAGE_SHARE_MIN (UINT64_C(16) << 20)

/*
 * Size of persona i's storage image: its own storage_size, or else an
 * equal share (rounded down to 1 MiB) of the top-level storage_size minus
 * the sizes given explicitly. 0 when nothing is left for it.
 */
TF_EXPORT uint64_t tf_config_storage_share(const struct tf_config *c, size_t i);

TF_EXPORT const struct tf_persona_cfg *
tf_config_persona(const struct tf_config *c, const char *name);

TF_EXPORT const char *tf_device_class_name(enum tf_device_class cls);
TF_EXPORT TF_WUR int tf_device_class_parse(const char *s)
	TF_NONNULL(1); /* -EINVAL if unknown */

#endif
