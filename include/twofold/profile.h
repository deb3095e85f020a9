/* SPDX-License-Identifier: ISC */
/*
 * What a persona, and an app inside it, may do: one value, struct
 * tf_profile, that the mechanisms (the persona container in
 * src/lib/persona, the sandbox primitives in src/lib/sandbox) consume and
 * that no module second-guesses with a table of its own (STYLE.md 12,
 * "policy is data, mechanisms are code").
 *
 *   device.conf ──tf_profile_for_persona()──> persona profile (once, at
 *                                              persona start)
 *   persona profile + app request ──tf_profile_restrict()──> app profile
 *                                   (always a subset; -EPERM otherwise)
 *
 * The struct is flat (fixed arrays, no pointers): it is copied into the
 * persona handle, and sent whole to the spawner, the init and the launcher
 * (src/lib/persona/internal.h), which check it with tf_profile_check().
 *
 * Merge rule (tf_profile_restrict): an app's profile is the persona's with
 * each list cut down to what the app asks for. An app may ask for fewer
 * devices, fewer or narrower writable paths (a path at or beneath one of
 * the persona's), fewer socket families, fewer permissions, and may set
 * environment variables the persona does not protect; it may never add a
 * device, a writable path, execution where the persona has none, a socket
 * family, a permission, or override a protected variable. Mounts, binds,
 * cgroup limits, the network mode and the syscall allowlist are the
 * persona's: an app does not choose them (they are per container).
 *
 * Conventions: common.h (0 on success, -errno on failure, outputs written
 * only on success).
 */
#ifndef TWOFOLD_PROFILE_H
#define TWOFOLD_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/common.h"
#include "twofold/config.h"
#include "twofold/sandbox.h"

#define TF_PROF_PATH_MAX 64 /* a path inside the persona, with its NUL */
#define TF_PROF_SYS_MAX 12
#define TF_PROF_BIND_MAX 8
#define TF_PROF_DIR_MAX 16
#define TF_PROF_WRITABLE_MAX 16
#define TF_PROF_READ_MAX 8
/* the basic devices, the configured ones, and up to 32 nodes the camera
 * and sound patterns find (a sound card has ~6-10) */
#define TF_PROF_DEV_MAX (12 + TF_DEVICE_MAX + 32)
#define TF_PROF_ENV_MAX 16
#define TF_PROF_ENV_LEN 256
/* display = shell (docs/shell.md): the app uid's runtime dir inside a
 * persona, the Wayland socket's name in it (a link into the directory the
 * daemon mounts at TF_SHELL_MOUNT_NAME there) */
#define TF_SHELL_RUNTIME_DIR "/run/user/1000"
#define TF_SHELL_WAYLAND_NAME "wayland-0"
#define TF_SHELL_MOUNT_NAME ".twofold-shell"

/* ---- mounts and binds ---- */

/* A host system directory seen read-only in the persona at /<name> (when
 * the profile has no base): bound read-only, or a symlink if it is one on
 * the host (merged /usr), or with TF_PROF_SYS_OVERLAY through a read-only
 * overlayfs of the persona's own (inodes of its own: no inotify or flock
 * channel to the other persona; "etc" gets the persona's own layer of
 * passwd, group, hostname, hosts, machine-id and whiteouts). */
#define TF_PROF_SYS_OVERLAY 0x1u
struct tf_prof_sys {
	char name[16];
	uint32_t flags;
};

/* A subdirectory of the persona's data dir bound read-write (nosuid,
 * nodev; noexec unless the writable path at dst has TF_PROF_EXEC). */
struct tf_prof_bind {
	char src[TF_PROF_PATH_MAX]; /* relative to the data dir: "home" */
	char dst[TF_PROF_PATH_MAX]; /* absolute: "/home" */
};

/* A directory the persona start makes in the data dir when missing
 * (never changed when present): rel below the data dir, owner uid (and
 * gid) as seen inside the persona, mode. In order: parents first. */
struct tf_prof_dir {
	char rel[TF_PROF_PATH_MAX];
	uint32_t uid;
	uint32_t mode;
};

/* ---- writable paths and Landlock ---- */

/* Programs may be executed from files beneath the path. Without it a
 * bind mounted there is noexec: new writable paths are noexec unless
 * they say otherwise. */
#define TF_PROF_EXEC 0x1u
struct tf_prof_path {
	char path[TF_PROF_PATH_MAX];
	uint32_t flags;
};

/* ---- devices: one list for the nodes in the persona's /dev and the
 *      cgroup device controller ---- */

/* The host node at path is bound into the persona's /dev at the same
 * path (a missing one is skipped). Without it only the cgroup rule is
 * made (ptmx and pts/N come from the persona's own devpts). */
#define TF_PROF_DEV_BIND 0x1u
/* Allowed by the cgroup only while the persona is the foreground. */
#define TF_PROF_DEV_FOREGROUND 0x2u
/* type, major and minor are not known yet: the persona start takes them
 * from the host node at path (stat), and drops the entry when the node is
 * absent (hot-pluggable). */
#define TF_PROF_DEV_RESOLVE 0x4u
/* With RESOLVE: path is a glob(7) pattern; the start makes one entry of
 * every character device node it matches then (none: no entry). The
 * default profile's camera (/dev/video*) and sound (everything in
 * /dev/snd) nodes. */
#define TF_PROF_DEV_GLOB 0x8u
/* With FOREGROUND: a call's device (sound: device.conf class audio or
 * microphone, and the /dev/snd pattern). Foreground-only like the rest,
 * except that the daemon may set it aside for the persona's comms
 * service during a call (tf_profile_dev_rules_call, tf_cgroup_keep), and
 * takes it from every persona while another persona's call holds it. */
#define TF_PROF_DEV_CALL 0x10u
struct tf_prof_dev {
	char path[TF_CFG_PATH_MAX]; /* "/dev/..." */
	char type;		    /* 'c' or 'b' */
	uint32_t major, minor;	    /* minor may be TF_CG_DEV_ANY */
	uint32_t flags;
	/* the app permission (TF_PROF_PERM_*) an app needs for it, 0 none:
	 * from the device.conf class (camera; microphone and audio) */
	uint64_t perm;
};

/* ---- environment ---- */

/* An app may not set this variable to anything else. */
#define TF_PROF_ENV_PROTECTED 0x1u
struct tf_prof_env {
	char entry[TF_PROF_ENV_LEN]; /* NAME=VALUE */
	uint32_t flags;
};

/* ---- network ----
 * enum tf_net_mode (TF_NET_NONE, TF_NET_NAT, TF_NET_TUNNEL) is in
 * config.h: the daemon makes the persona's namespace and its links; the
 * mode here tells the persona what to expect (its resolv.conf bind). */

/* ---- per-app permissions (issue 13 defines them); a bit set ---- */
typedef uint64_t tf_perms_t;

#define TF_PROFILE_VERSION 1u

struct tf_profile {
	uint32_t version; /* TF_PROFILE_VERSION */
	/* mounts and binds */
	char base[TF_CFG_PATH_MAX]; /* "" = the host's system dirs (sys) */
	uint32_t n_sys;
	struct tf_prof_sys sys[TF_PROF_SYS_MAX];
	uint32_t n_binds;
	struct tf_prof_bind binds[TF_PROF_BIND_MAX];
	uint32_t n_dirs;
	struct tf_prof_dir dirs[TF_PROF_DIR_MAX];
	uint32_t pty_max; /* the persona's devpts max= */
	/* writable paths: Landlock lets write (create, remove, rename,
	 * truncate) only beneath these; also a single file (/dev/null) */
	uint32_t n_writable;
	struct tf_prof_path writable[TF_PROF_WRITABLE_MAX];
	/* Landlock: read and execute beneath these (the rest of the rules
	 * are the writable paths) */
	uint32_t n_read;
	struct tf_prof_path read[TF_PROF_READ_MAX];
	/* devices */
	uint32_t n_devs;
	struct tf_prof_dev devs[TF_PROF_DEV_MAX];
	/* syscalls and sockets (docs/seccomp.md) */
	struct tf_seccomp_policy sc;
	/* cgroup: limits (cpu_weight when foreground) and the weight in the
	 * background (0 = leave the default) */
	struct tf_cg_limits lim;
	uint32_t bg_cpu_weight;
	/* the environment every app starts with (then the run's --env) */
	uint32_t n_env;
	struct tf_prof_env env[TF_PROF_ENV_MAX];
	enum tf_net_mode net;
	/* a host file (the daemon's, written for this persona's network
	 * mode) the init copies into its /etc layer as /etc/resolv.conf
	 * (read-only there, like all of /etc); "" = an empty one. A persona
	 * with a base keeps the base's own. */
	char resolv_conf[TF_CFG_PATH_MAX];
	tf_perms_t perms; /* issue 13; none today */
};

/* Today's built-in policy, with no device.conf: host system dirs, the data
 * dirs home var tmp run, the basic devices, the docs/seccomp.md allowlist,
 * no cgroup limits, PATH/HOME/LANG, loopback only. */
TF_EXPORT void tf_profile_default(struct tf_profile *out) TF_NONNULL(1);

/* The profile of persona pcfg of device cfg: the default with its base,
 * pty_max, cgroup limits, the device's background_cpu_weight and its
 * foreground devices (unresolved: TF_PROF_DEV_RESOLVE). -EINVAL (and why)
 * when it does not pass tf_profile_check(). */
TF_EXPORT TF_WUR int tf_profile_for_persona(const struct tf_config *cfg,
					    const struct tf_persona_cfg *pcfg,
					    struct tf_profile *out, char *why,
					    size_t whylen) TF_NONNULL(1, 2, 3);

/* Is it well formed: counts within the arrays, strings terminated, paths
 * absolute without "..", devices under /dev, families sorted and known
 * policies. 0 or -EINVAL with why. The spawner checks every profile it
 * receives with it. */
TF_EXPORT TF_WUR int tf_profile_check(const struct tf_profile *p, char *why,
				      size_t whylen) TF_NONNULL(1);

/* What an app asks for; NULL / 0 lists mean "as the persona". */
struct tf_app_request {
	/* environment entries set on top of the profile's (NAME=VALUE) */
	const char *const *env;
	size_t n_env;
	/* device paths, writable paths (with flags), socket families */
	const char *const *devices;
	size_t n_devices;
	bool want_devices; /* true: devices is the list, even when empty */
	const struct tf_prof_path *writable;
	size_t n_writable;
	bool want_writable;
	const int *families;
	size_t n_families;
	bool want_families;
	tf_perms_t perms;
};

/*
 * The app's profile: persona narrowed to req (the merge rule above). out
 * may be NULL to check only (the launch path does this for --env). An env
 * entry that does not fit out's table gives -E2BIG; out keeps only the
 * profile's entries then and the caller passes the rest itself. -EPERM
 * and why ("device /dev/video0 is not in persona's profile") when req
 * asks for more than persona allows.
 */
TF_EXPORT TF_WUR int tf_profile_restrict(const struct tf_profile *persona,
					 const struct tf_app_request *req,
					 struct tf_profile *out, char *why,
					 size_t whylen) TF_NONNULL(1, 2);

/* May an app set this NAME=VALUE entry (not a protected variable)? */
TF_EXPORT bool tf_profile_env_allowed(const struct tf_profile *p,
				      const char *entry) TF_NONNULL(1, 2);

/* ---- the views the mechanisms read (both from the one device list) ---- */

/* Host paths of the nodes bound into the persona's /dev (TF_PROF_DEV_BIND),
 * at most cap; returns the count. */
TF_EXPORT size_t tf_profile_dev_nodes(const struct tf_profile *p,
				      const char **out, size_t cap)
	TF_NONNULL(1);
/* The cgroup device rules (tf_cgroup_device_set) for the persona in the
 * foreground or not: every resolved device, allowed unless it is a
 * foreground device and fg is false (then a deny, which wins even over
 * another entry with the same numbers). At most cap; returns the count. */
TF_EXPORT size_t tf_profile_dev_rules(const struct tf_profile *p, bool fg,
				      struct tf_cg_dev *out, size_t cap)
	TF_NONNULL(1);
/* The same, but the call devices (TF_PROF_DEV_CALL) are allowed only if
 * call (not fg): tf_profile_dev_rules is this with call = fg. */
TF_EXPORT size_t tf_profile_dev_rules_call(const struct tf_profile *p, bool fg,
					   bool call, struct tf_cg_dev *out,
					   size_t cap) TF_NONNULL(1);
/* The resolved call devices, as allow rules: at most cap; the count. */
TF_EXPORT size_t tf_profile_call_devs(const struct tf_profile *p,
				      struct tf_cg_dev *out, size_t cap)
	TF_NONNULL(1);

/* Per-app permissions that gate devices: the package manifest's bits
 * (TF_PERM_CAMERA, TF_PERM_MICROPHONE in pkg.h; apps.c asserts they
 * agree). */
#define TF_PROF_PERM_CAMERA (1u << 1)
#define TF_PROF_PERM_MICROPHONE (1u << 2)
/* The device rules of one app's own cgroup (tf_persona_app_cgroup): each
 * device of the persona's (resolved) profile whose permission the app
 * lacks is denied, and so is each device class a permission gates (V4L2,
 * char major 81: camera; ALSA, char major 116: microphone and the rest of
 * sound), everything else allowed. The persona's rules (default deny; the
 * foreground devices only while foreground) still apply on top: an app
 * gets a camera only if it declared it and its persona is the
 * foreground. At most cap; returns the count. */
TF_EXPORT size_t tf_profile_app_dev_rules(const struct tf_profile *p,
					  tf_perms_t perms,
					  struct tf_cg_dev *out, size_t cap)
	TF_NONNULL(1);

/* Pointers to the writable / read path strings, for tf_landlock_prepare();
 * at most cap; returns the count. */
TF_EXPORT size_t tf_profile_paths(const struct tf_prof_path *paths, uint32_t n,
				  const char **out, size_t cap);

#endif
