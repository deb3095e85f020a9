/* SPDX-License-Identifier: ISC */
/*
 * Sandbox primitives: cgroups (one per persona under a per-daemon group),
 * privilege/capability drop, no_new_privs, Landlock and seccomp.
 *
 * The persona module builds containers from these; the daemon decides the
 * names. Conventions: common.h (0/positive on success, -errno on failure,
 * outputs written only on success, destructors accept NULL).
 */
#ifndef TWOFOLD_SANDBOX_H
#define TWOFOLD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twofold/common.h"

/* ---- cgroups: one cgroup per persona under a per-device group ---- */

enum tf_cg_layout {
	TF_CG_UNIFIED = 1, /* pure v2 at /sys/fs/cgroup */
	TF_CG_HYBRID = 2,  /* v1 controllers + v2 at /sys/fs/cgroup/unified */
};

/* 0 = unlimited/default. cpu_weight is on the v2 scale 1..10000 (v1 hosts
 * get cpu.shares = weight * 1024 / 100, clamped to 2..262144). */
struct tf_cg_limits {
	uint64_t memory_max;
	uint64_t pids_max;
	uint32_t cpu_weight;
};

/* Major or minor that matches any number ("c 136:*" for all ptys). */
#define TF_CG_DEV_ANY UINT32_MAX
/* At most this many rules per tf_cgroup_device_set call. */
#define TF_CG_DEV_MAX 256

/* One device rule: type 'c' (char) or 'b' (block). */
struct tf_cg_dev {
	char type;
	uint32_t major, minor;
	bool allow;
};

struct tf_cgroup; /* opaque */

/* Where cgroups live on this host (from statfs of /sys/fs/cgroup). */
TF_EXPORT TF_WUR int tf_cgroup_layout(enum tf_cg_layout *out);
/* The leaf of the daemon's own cgroup that it moves into on a pure v2
 * host, so that the cgroup it was started in can give the persona cgroups
 * controllers; the persona cgroups stay under the cgroup it was started
 * in. 1 if moved, 0 if not needed (hybrid, v1, the root cgroup, already
 * there). Call before forking anything. */
#define TF_CG_SELF_LEAF "twofoldd-self"
TF_EXPORT TF_WUR int tf_cgroup_enter_leaf(void);

/* Switch the host's cgroup2 mount to favordynmods (cheap task migration,
 * dearer fork/exit; host-wide). 1 = switched, 0 = already on, -errno. */
TF_EXPORT TF_WUR int tf_cgroup_favor_dynmods(void);

/* group like "twofold-1a2b3c4d" (unique per daemon instance), persona a
 * tf_name_valid() name. Creates group/persona in every hierarchy it uses,
 * applies lim (may be NULL) and a device policy that denies every device
 * (the profile's devices come with tf_cgroup_device_set). -EEXIST if it exists (call tf_cgroup_remove_stale first).
 * Never leaves a half-made cgroup behind. */
TF_EXPORT TF_WUR int tf_cgroup_create(const char *group, const char *persona,
				      const struct tf_cg_limits *lim,
				      struct tf_cgroup **out);
/* Open an existing one (stale cleanup, daemon restart). -ENOENT if absent. */
TF_EXPORT TF_WUR int tf_cgroup_open(const char *group, const char *persona,
				    struct tf_cgroup **out) TF_NONNULL(1, 2, 3);
/* Write pid into every hierarchy's cgroup.procs. */
TF_EXPORT TF_WUR int tf_cgroup_attach(struct tf_cgroup *cg, pid_t pid);
/* O_DIRECTORY fd of the v2 cgroup dir (owned by the handle), for clone3
 * CLONE_INTO_CGROUP; -1 if none. */
TF_EXPORT int tf_cgroup_v2_fd(const struct tf_cgroup *cg);
/* Write val to the control file `file` of the cgroup dir dfd in one
 * write() (a cgroup file takes one value per write: a short one is -EIO).
 * For the control files the handle has no call for (cgroup.kill,
 * cgroup.freeze of a child cgroup). */
TF_EXPORT int tf_cgroup_write(int dfd, const char *file, const char *val)
	TF_NONNULL(2, 3);
/* Freeze/thaw; waits (bounded, -ETIMEDOUT) until the kernel reports it. */
TF_EXPORT TF_WUR int tf_cgroup_freeze(struct tf_cgroup *cg, bool frozen);
/* SIGKILL every process, also frozen ones; waits (bounded) until empty. */
TF_EXPORT TF_WUR int tf_cgroup_kill(struct tf_cgroup *cg);
/* Kill if needed, rmdir in every hierarchy, free the handle (always, also
 * on failure). */
TF_EXPORT int tf_cgroup_destroy(struct tf_cgroup *cg);
/* Free the handle only. */
TF_EXPORT void tf_cgroup_free(struct tf_cgroup *cg);
/* Kill + rmdir everything under group in every hierarchy, then the group
 * dirs themselves (daemon start after kill -9). 0 also if nothing existed. */
TF_EXPORT TF_WUR int tf_cgroup_remove_stale(const char *group);
/* Call fn(parent, name, ud) for each child cgroup (subdirectory) of the
 * cgroup dir dfd, in readdir order; the one walk every cgroup tree
 * operation uses. Stops at the first fn that returns < 0 and returns that;
 * 0 otherwise (or -errno when dfd cannot be read). dfd stays the caller's.
 * Not TF_WUR: a best-effort sweep may ignore it. */
TF_EXPORT int tf_cgroup_for_each_child(int dfd,
				       int (*fn)(int parent, const char *name,
						 void *ud),
				       void *ud) TF_NONNULL(2);
TF_EXPORT TF_WUR int tf_cgroup_set_cpu_weight(struct tf_cgroup *cg,
					      uint32_t weight);
/* Count of processes (>= 0). */
TF_EXPORT TF_WUR int tf_cgroup_nprocs(const struct tf_cgroup *cg);
TF_EXPORT TF_WUR int tf_cgroup_memory_current(const struct tf_cgroup *cg,
					      uint64_t *bytes);
TF_EXPORT TF_WUR int tf_cgroup_frozen(const struct tf_cgroup *cg, bool *frozen);
/* The full device policy of the cgroup: default deny; allows the devs with
 * allow=true, except those that a dev with allow=false denies (a deny wins).
 * The list is policy (struct tf_profile, tf_profile_dev_rules): this module
 * keeps no device list of its own. Called again at every foreground switch; replaces the policy atomically
 * (v1: the kernel applies each line; v2: BPF program replaced in one call). */
TF_EXPORT TF_WUR int tf_cgroup_device_set(struct tf_cgroup *cg,
					  const struct tf_cg_dev *devs,
					  size_t n);
/* Lower level, also used by the tests on hybrid hosts: load the device
 * policy as a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to the v2
 * cgroup of cg (works on any cgroup2 dir, with or without controllers),
 * replacing the one this handle attached before. */
TF_EXPORT TF_WUR int tf_cgroup_device_set_bpf(struct tf_cgroup *cg,
					      const struct tf_cg_dev *devs,
					      size_t n);
/* Devices set aside for one service (a call's sound card, kept by the
 * persona's comms service while the persona is in the background): each
 * entry of devs (allow is ignored) is allowed only to a task running as
 * host uid `uid` in the cgroup v2 directory whose id is cgroup_id
 * (tf_cgroup_id), and denied to every other task, whatever the rest of
 * the policy says. */
struct tf_cg_keep {
	uint64_t cgroup_id;
	uint32_t uid;
	const struct tf_cg_dev *devs;
	size_t n;
};
/* tf_cgroup_device_set plus keep (NULL or n 0: none). The kernel's BPF
 * device program sees who opens, the v1 controller does not: on a hybrid
 * host the v1 list also allows the keep devices and a keep-only program
 * on the v2 directory narrows them (attached before the v1 allow,
 * detached after the v1 deny); on a unified host they are the first
 * rules of the one program. -EOPNOTSUPP when keep is given and there is
 * no cgroup2 directory. */
TF_EXPORT TF_WUR int tf_cgroup_device_set_keep(struct tf_cgroup *cg,
					       const struct tf_cg_dev *devs,
					       size_t n,
					       const struct tf_cg_keep *keep);
/* The id of the cgroup2 directory dirfd (its file handle: what
 * bpf_get_current_cgroup_id() says for a task in it). */
TF_EXPORT TF_WUR int tf_cgroup_id(int dirfd, uint64_t *id);
/* The same program on any cgroup2 directory dirfd that no tf_cgroup
 * handle owns (an app's cgroup below its persona's): replaces whatever
 * device programs dirfd itself had (found by BPF_PROG_QUERY; the new one
 * is attached before the old ones are detached). The kernel runs every
 * program from the task's cgroup up to the root (BPF_F_ALLOW_MULTI) and,
 * on a hybrid host, the v1 devices controller after them: a device must
 * pass all of them. */
TF_EXPORT TF_WUR int
tf_cgroup_dir_device_set_bpf(int dirfd, const struct tf_cg_dev *devs, size_t n);

/* ---- applied to the calling process, in a launched app, in this order,
 *      last steps before exec ---- */

/* setgroups(0) + setresgid + setresuid, then prove it: try to get uid/gid 0
 * back and abort() if that works (OpenSSH uidswap.c). Capability steps that
 * need CAP_SETPCAP (bounding set, securebits) cannot be done after the uid
 * change, so this does them just before setresuid and clears the remaining
 * sets right after it; tf_caps_drop_all() that follows then only verifies
 * and clears what is left. Needs CAP_SETUID/SETGID/SETPCAP (root, or root
 * in the persona's user namespace). */
TF_EXPORT TF_WUR int tf_privs_drop(uid_t uid, gid_t gid);
/* Once, in a process whose children will call tf_privs_drop_locked() (a
 * persona's launcher): clear the ambient set, empty the bounding set, then
 * lock securebits NOROOT | NO_SETUID_FIXUP | NO_CAP_AMBIENT_RAISE. The
 * effective and permitted sets stay (the children need CAP_SETUID etc.).
 * Needs CAP_SETPCAP; clone() children inherit all of it. */
TF_EXPORT TF_WUR int tf_caps_lock(void);
/* After tf_caps_lock(): keep only CAP_SETUID and CAP_SETGID, permitted and
 * effective (what tf_privs_drop_locked() in a child needs), drop every
 * other capability and the inheritable set; -EPERM if anything else is
 * left afterwards. */
TF_EXPORT TF_WUR int tf_caps_keep_setid(void);
/* tf_privs_drop() for a child of a tf_caps_lock() process: skips the
 * bounding-set work (41 prctls per launch), -EPERM if the securebits show
 * tf_caps_lock() did not run. Same proof, same abort(). */
TF_EXPORT TF_WUR int tf_privs_drop_locked(uid_t uid, gid_t gid);
/* Empty all capability sets incl. bounding and ambient (libcap); securebits
 * NOROOT | NO_SETUID_FIXUP | NO_CAP_AMBIENT_RAISE, all locked. Idempotent:
 * steps already done (by tf_privs_drop) are skipped, so it succeeds without
 * privilege once they are; -EPERM if a needed step is impossible. */
TF_EXPORT TF_WUR int tf_caps_drop_all(void);
/* PR_SET_NO_NEW_PRIVS. */
TF_EXPORT TF_WUR int tf_nnp_set(void);
/* Landlock: read/exec beneath the readable paths (the profile's: "/"),
 * write (create, remove, rename, truncate) only beneath the writable paths
 * (absolute; missing ones are skipped; a path may also be a single file
 * such as /dev/null or /dev/tty, which then gets read/write only: without
 * it, writing even /dev/null is refused). Returns the ABI version used
 * (> 0), 0 when Landlock is unavailable (best effort), -errno on real
 * failure. Call after tf_nnp_set(). */
TF_EXPORT TF_WUR int tf_landlock_apply(const char *const *readable, size_t nr,
				       const char *const *writable, size_t n);
/* The same for an installed app's own domain, also scoped (ABI 6, Linux
 * 6.12; skipped on older kernels): it cannot connect to an abstract unix
 * socket bound outside its domain (another app's, the persona user's),
 * so an app without `network` cannot reach one with it that way. */
TF_EXPORT TF_WUR int tf_landlock_apply_app(const char *const *readable,
					   size_t nr,
					   const char *const *writable,
					   size_t n);

/* The syscall and socket policy of an app (part of struct tf_profile):
 * which allowlist (docs/seccomp.md is its readable source), whether the
 * app layer is loaded on top, and the socket families. */
enum tf_seccomp_allowlist {
	TF_SC_APP = 1, /* the app allowlist of docs/seccomp.md */
};
#define TF_SC_FAMILIES_MAX 8
struct tf_seccomp_policy {
	uint32_t allowlist; /* enum tf_seccomp_allowlist */
	bool app_layer;	    /* tf_seccomp_app_layer_prog() before exec */
	/* W^X: no mapping both writable and executable, no anonymous
	 * executable mapping, no mprotect/pkey_mprotect to PROT_EXEC, no
	 * shmat(SHM_EXEC): EPERM (a gated persona: docs/exec.md) */
	bool no_execmem;
	/* socket(2) families allowed (sorted, each < 64); any other gets
	 * EAFNOSUPPORT. AF_NETLINK only with netlink_proto as protocol. */
	uint32_t n_families;
	int32_t families[TF_SC_FAMILIES_MAX];
	int32_t netlink_proto;
	/* socketpair(2) families (sorted, each < 64) */
	uint32_t n_pair_families;
	int32_t pair_families[TF_SC_FAMILIES_MAX];
};

/* The app seccomp policy pol (docs/seccomp.md): an allowlist with default
 * ENOSYS, argument filters on clone, socket, socketpair, ioctl, prctl and
 * personality, EPERM for the listed denials; syscalls of a foreign arch
 * (i386, x32 on x86-64) kill the process. Loads both layers:
 * tf_seccomp_default_prog() and tf_seccomp_app_layer_prog(). Call after
 * tf_nnp_set() (or with CAP_SYS_ADMIN). -EINVAL for an unknown policy. */
TF_EXPORT TF_WUR int tf_seccomp_apply(const struct tf_seccomp_policy *pol);

/* A helper process's whole syscall filter, loaded: default ENOSYS, the
 * syscall numbers in list (libseccomp's SCMP_SYS), mmap/mprotect only
 * without PROT_EXEC, and with threads clone for threads only. 0 or
 * -errno. Call after tf_nnp_set(). */
TF_EXPORT TF_WUR int tf_seccomp_helper(const int *list, size_t n, bool threads);

/* Landlock in two steps, so a launcher builds the ruleset once (paths
 * resolved in its mount namespace) and each app only restricts itself:
 * tf_landlock_apply() is exactly prepare + restrict. prepare gives fd -1
 * and abi 0 where Landlock is unavailable; the fd is O_CLOEXEC. */
TF_EXPORT TF_WUR int tf_landlock_prepare(const char *const *readable, size_t nr,
					 const char *const *writable, size_t n,
					 int *fd_out, int *abi_out);
TF_EXPORT TF_WUR int tf_landlock_restrict(int ruleset_fd);

/* The same filters as compiled BPF, to build once (e.g. in a launcher) and
 * load cheaply in each app (no libseccomp call per load).
 * tf_seccomp_default_prog(): the first layer, which a launcher loads on
 * itself and its apps inherit; it still allows clone(CLONE_PARENT) and
 * clone3, which the launcher needs. tf_seccomp_app_layer_prog(): a tiny
 * second layer each app loads on top before exec (after its uid change):
 * clone(CLONE_PARENT) -> EPERM, clone3 -> ENOSYS, the rest allowed (the
 * first layer decides it); the kernel runs both, the strictest wins. */
struct sock_filter;
struct tf_seccomp_prog {
	struct sock_filter *insns;
	size_t len;
};
TF_EXPORT TF_WUR int
tf_seccomp_default_prog(const struct tf_seccomp_policy *pol,
			struct tf_seccomp_prog *out);
TF_EXPORT TF_WUR int tf_seccomp_app_layer_prog(struct tf_seccomp_prog *out);
TF_EXPORT TF_WUR int tf_seccomp_load_prog(const struct tf_seccomp_prog *p)
	TF_NONNULL(1);
TF_EXPORT void tf_seccomp_prog_free(struct tf_seccomp_prog *p);

#endif
