/* SPDX-License-Identifier: ISC */
/*
 * Persona containers: one long-lived container per persona (DESIGN.md
 * "Process model"). tf_persona_start() builds it once (user, mount, pid,
 * ipc, uts, net and cgroup namespaces, a read-only root, the persona's
 * private writable dirs, a cgroup); tf_persona_exec() enters the running
 * container to launch an app, it never builds a sandbox per launch.
 *
 * Process shape:
 *
 *   twofoldd ──fork at start──> spawner (never holds a secret; clones the
 *      │                          next two with CLONE_PARENT, see below)
 *      ├──(spawner)──> init (pid 1 of the persona's pid ns, no caps,
 *      │                       PR_SET_PDEATHSIG(SIGKILL): dies with the daemon)
 *      ├──(spawner)──> launcher (host pid ns, persona's cgroups and other
 *      │                       namespaces; one per persona, forked at start;
 *      │                       clones each app on request)
 *      └──────────────────> app (pid N of the persona's pid ns; a direct child
 *                                of the daemon, via CLONE_PARENT from the
 *                                launcher, so the daemon waits on its pidfd
 *                                and gets its exit status)
 *
 * Contract for the caller (the daemon):
 *  - Reap app children through the pidfds tf_persona_exec() returns, by
 *    pid or pidfd (waitid(P_PIDFD)), never with waitpid(-1): start/exec/stop
 *    reap their own helper processes (the launcher included: it is the
 *    daemon's child too) by pid or pidfd and tolerate ECHILD.
 *  - An app's zombie keeps the persona's pid namespace alive (the kernel's
 *    zap_pid_ns_processes() waits for every pid of the namespace to be
 *    released, also for children whose parent is outside). So
 *    tf_persona_stop() reaps the app zombies it launched that are still
 *    unreaped; their exit status is then lost (the daemon sees ECHILD and
 *    reports them as killed by stop).
 *  - Call tf_persona_spawner_start() first thing in main(): inits and
 *    launchers are forks of the spawner, not of the caller, so none of the
 *    caller's secrets follows them. They are still the caller's children
 *    (CLONE_PARENT). The launcher keeps only its socket. If it dies, the
 *    next tf_persona_exec() starts a new one.
 *  - Apps do not survive a daemon restart: init dies with the daemon
 *    (PR_SET_PDEATHSIG, tied to the calling *thread*: call start from the
 *    daemon's main thread) and with it the whole pid namespace. On start the
 *    daemon calls tf_persona_cleanup_stale() and starts the personas again.
 *    Mounts need no cleanup: they live only in the persona's mount namespace.
 *  - The spawner forks with raw clone3(), which skips libc's atfork
 *    handlers: call tf_persona_spawner_start() while single-threaded.
 *
 * Conventions: common.h (0/positive on success, -errno on failure, outputs
 * written only on success, destructors accept NULL).
 */
#ifndef TWOFOLD_PERSONA_H
#define TWOFOLD_PERSONA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twofold/common.h"
#include "twofold/config.h"

/* Length of the optional error message buffer of tf_persona_start(). */
#define TF_PERSONA_ERR_MAX 256

struct tf_persona; /* runtime handle */

/*
 * Fork the persona spawner (spawner.c): the clean process every persona
 * init and launcher is cloned from, so that none of them holds a copy of
 * the caller's memory. Call it first thing in main(), single-threaded,
 * before anything secret was read (a key, a PIN, a request); tf_persona_
 * start() and tf_persona_exec() use it from then on. It dies with the
 * caller's thread (PDEATHSIG). If it dies, persona starts (and launcher
 * respawns) fail with -EOWNERDEAD ("the persona spawner died; restart
 * twofoldd"); it is never forked again. -EALREADY on a second call.
 */
TF_EXPORT TF_WUR int tf_persona_spawner_start(void);
/* For tests that call tf_persona_start() without a spawner: let the calls
 * fork the caller directly (as if it held no secret). Without this or a
 * spawner, tf_persona_start() fails with -ENOTCONN. */
TF_EXPORT void tf_persona_spawner_direct(void);
/* The spawner's pid, -1 when none runs. */
TF_EXPORT pid_t tf_persona_spawner_pid(void);

/*
 * Helper processes outside every persona (issue 12: the tunnel process,
 * include/twofold/tunnel.h), cloned from the spawner too so they never
 * carry the daemon's memory. fn is the child's body, called with its one
 * fd (the daemon's control socket's other end); register it before
 * tf_persona_spawner_start() (the spawner is a fork and takes it along).
 * NULL: such a spawn fails with -ENOSYS.
 */
TF_EXPORT void tf_persona_spawner_tunnel_main(void (*fn)(int ctl));
/* Clone the tunnel process: no new namespace (it runs in the caller's
 * network namespace, the device's uplink), no persona cgroup, a child of
 * the caller (pidfd in *pidfd_out, O_CLOEXEC), killed when the caller
 * dies; its only fd is ctl (dup'd into it; the caller keeps its own).
 * name: the persona, for the process title. Returns the pid or -errno. */
TF_EXPORT TF_WUR pid_t tf_persona_spawn_tunnel(const char *name, int ctl,
					       int *pidfd_out) TF_NONNULL(1, 3);
/* The same for the package checker (issue 13, src/daemon/appcheck.c): a
 * body registered before the spawner starts, a clean fork that never saw
 * a secret, ctl its only fd. */
TF_EXPORT void tf_persona_spawner_pkgcheck_main(void (*fn)(int ctl));
TF_EXPORT TF_WUR pid_t tf_persona_spawn_pkgcheck(const char *name, int ctl,
						 int *pidfd_out)
	TF_NONNULL(1, 3);

struct tf_cgroup;  /* sandbox.h */
struct tf_profile; /* profile.h */

struct tf_persona_spec {
	/* who: name, uid_base, uid_count (>= TF_APP_UID_DEFAULT + 1) */
	const struct tf_persona_cfg *cfg;
	/* what it may do: its only policy input (profile.h; the daemon
	 * builds it with tf_profile_for_persona() once per start): base,
	 * system dirs, data-dir binds and the data dirs to make, writable
	 * paths, devices (foreground ones bound at the same path, missing
	 * host nodes skipped, allowed by the cgroup only while foreground),
	 * seccomp and Landlock policy, cgroup limits, pty_max, network.
	 * Copied: the caller may free it after the call. */
	const struct tf_profile *prof;
	/* Host path of the persona's writable data dir (must exist). The
	 * profile's dirs below it are created when missing; see
	 * tf_persona_start(). */
	const char *data_dir;
	/* e.g. "twofold-1a2b3c4d", unique per daemon instance */
	const char *cgroup_group;
	bool foreground;
	/* Optional: the persona's cgroup, made ahead by
	 * tf_persona_cgroup_create() (e.g. while a credential is checked).
	 * tf_persona_start() takes it over whatever it returns. */
	struct tf_cgroup *cg;
	/* The network namespace the init joins (twofoldd's, made with
	 * tf_netns_create(): owned by the initial user namespace, so the
	 * persona's root has no capability over it; it outlives the
	 * persona). Without has_netns the start makes a fresh one with lo
	 * up, gone with the persona (tests). Not taken over. */
	bool has_netns;
	int netns_fd;
};

/* Create the persona's cgroup with the limits of spec->prof, as
 * tf_persona_start() would, so that it can be done ahead. Makes no process:
 * safe on a helper thread. -EEXIST when it exists. */
TF_EXPORT TF_WUR int
tf_persona_cgroup_create(const struct tf_persona_spec *spec,
			 struct tf_cgroup **out);

/*
 * Build and start the persona; returns when its init runs and the whole
 * setup is complete, or fails with -errno and (when err != NULL) a reason in
 * err ("base /x does not exist"), leaving nothing behind (no process, no
 * cgroup). Data dir layout of the default profile (tf_profile_default),
 * created on first start (owner as seen inside):
 *   home      root 0755      /home
 *   home/app  1000 0700      /home/app, the default cwd of apps
 *   var       1000 0755      /var
 *   tmp       root 1777      /tmp
 *   run       root 0755      /run  (run/user/1000: 1000 0700)
 * -EEXIST when the cgroup exists (run tf_persona_cleanup_stale() first).
 */
TF_EXPORT TF_WUR int tf_persona_start(const struct tf_persona_spec *spec,
				      struct tf_persona **out, char *err,
				      size_t errlen);

/* init's pidfd, for the daemon's epoll (readable when init exits). Owned
 * by the handle. */
TF_EXPORT int tf_persona_pidfd(const struct tf_persona *p);
TF_EXPORT pid_t tf_persona_init_pid(const struct tf_persona *p);
TF_EXPORT const char *tf_persona_name(const struct tf_persona *p);
/* The persona's profile as it runs (devices resolved), owned by the
 * handle: e.g. the default environment of its apps. */
TF_EXPORT const struct tf_profile *
tf_persona_profile(const struct tf_persona *p);
/* O_DIRECTORY fd of the persona's v2 cgroup (owned by the persona), to
 * list its processes; -1 if none. */
TF_EXPORT int tf_persona_cgroup_fd(const struct tf_persona *p);

enum tf_exec_stage {
	TF_EXEC_STAGE_EXEC = 0,	 /* execve / PATH search (-ENOENT: not found) */
	TF_EXEC_STAGE_CWD = 1,	 /* chdir to the working directory */
	TF_EXEC_STAGE_SETUP = 2, /* stdio, privileges, Landlock, seccomp */
};

struct tf_exec_spec {
	char *const *argv; /* argv[0] is searched in envp's PATH if no '/' */
	char *const *envp; /* passed exactly as given */
	const char *cwd;   /* NULL = /home/app for TF_APP_UID_DEFAULT, else / */
	uid_t uid;	   /* inside the persona, e.g. TF_APP_UID_DEFAULT */
	gid_t gid;
	int fds[3]; /* become 0, 1, 2; -1 = /dev/null */
	/* TF_EXEC_CTTY: fds[ctty] is a terminal of the persona's own devpts
	 * (tf_persona_open_pty), which becomes the app's controlling
	 * terminal. TF_EXEC_CGROUP: the app is born in the cgroup v2
	 * directory cgroup_fd (tf_persona_run_cgroup), not the persona's. */
	unsigned flags;
	int ctty;
	int cgroup_fd;
	/* optional: on an app-side failure, which step failed, so the caller
	 * can tell "no such directory" from "no such command" */
	enum tf_exec_stage *stage_out;
	/* optional, NULL-terminated (at most TF_EXEC_LL_MAX): the app's own
	 * Landlock domain instead of the profile's: read and execute beneath
	 * /, write only beneath these paths (an installed app: its data dir,
	 * its manifest's writable fs entries, /dev) */
	const char *const *ll_write;
};
#define TF_EXEC_LL_MAX 24

/* gid of "tty" inside every persona (its devpts gid=5, as on the host):
 * ptys are group tty 0620, so no app runs with it */
#define TF_PERSONA_TTY_GID 5

#define TF_EXEC_CTTY 0x1u
#define TF_EXEC_CGROUP 0x2u

/*
 * A pseudo-terminal inside the persona's own devpts instance (so it counts
 * against that instance's max= and is invisible to the host and the other
 * persona), its slave owned by uid (inside the persona) and the tty group,
 * mode 0620. A persona never gets a host terminal: `twofold run -t` relays
 * between the caller's terminal and *master. Both fds O_CLOEXEC, owned by
 * the caller.
 */
TF_EXPORT TF_WUR int tf_persona_open_pty(struct tf_persona *p, uid_t uid,
					 int *master, int *slave)
	TF_NONNULL(1, 3, 4);

/*
 * A cgroup of its own for one `run` (every process it starts lives there):
 * <persona's v2 cgroup>/run-<n>, created empty, its cgroup.procs owned by
 * the persona's root so that the launcher may clone into it
 * (CLONE_INTO_CGROUP, no cgroup write per launch). *fd: O_RDONLY directory
 * fd (O_CLOEXEC, the caller's); name: "run-<n>". -EOPNOTSUPP without a
 * cgroup v2 hierarchy.
 */
TF_EXPORT TF_WUR int tf_persona_run_cgroup(struct tf_persona *p, int *fd,
					   char name[static 32]);
/* Make the next run's cgroup now, so that tf_persona_run_cgroup() only
 * hands it out: call it when nothing waits (after a launch). */
TF_EXPORT int tf_persona_run_cgroup_prepare(struct tf_persona *p);
/* End of a run: kill every process left in its cgroup (cgroup.kill) when
 * kill is set, and remove the cgroup if it is empty now; a populated one
 * is removed by a later tf_persona_sweep_run_cgroups(). */
TF_EXPORT int tf_persona_run_cgroup_end(struct tf_persona *p, const char *name,
					bool kill);
/* Remove every run cgroup of the persona that is empty (a background
 * service's, once it ended). Cheap; the daemon calls it from its timer. */
TF_EXPORT void tf_persona_sweep_run_cgroups(struct tf_persona *p);

/*
 * An installed app's cgroups (run --app): <persona's v2 cgroup>/app-NAME,
 * and one run-<n> below it per run. app is one path component of at most
 * TF_PERSONA_APP_NAME_MAX bytes (the daemon checks the package name).
 */
#define TF_PERSONA_APP_NAME_MAX 64
/* "app-NAME/run-<n>" and its NUL */
#define TF_PERSONA_CG_NAME_MAX (TF_PERSONA_APP_NAME_MAX + 48)
struct tf_cg_dev;
/* Make app-NAME (or keep it) and set its device program to devs
 * (tf_cgroup_dir_device_set_bpf): the kernel checks it as well as the
 * persona's policy. Called before its first run and at every install or
 * update of the app. A failure leaves no app-NAME without its program. */
TF_EXPORT TF_WUR int tf_persona_app_cgroup(struct tf_persona *p,
					   const char *app,
					   const struct tf_cg_dev *devs,
					   size_t n);
/* A run's cgroup below app-NAME, as tf_persona_run_cgroup() (cgroup.procs
 * the persona root's); name: "app-NAME/run-<n>", which
 * tf_persona_run_cgroup_end() takes. -ENOENT: no app-NAME yet (make it
 * with tf_persona_app_cgroup() and call again). */
TF_EXPORT TF_WUR int
tf_persona_app_run_cgroup(struct tf_persona *p, const char *app, int *fd,
			  char name[static TF_PERSONA_CG_NAME_MAX]);
/* Make app's next run cgroup now (one spare, for the app launched
 * last), as tf_persona_run_cgroup_prepare(). */
TF_EXPORT int tf_persona_app_run_cgroup_prepare(struct tf_persona *p,
						const char *app);
/* Kill every process of every run of app (cgroup.kill of app-NAME),
 * wait up to timeout_ms until they are gone (-ETIMEDOUT if not; they are
 * dying), then remove its cgroups. 0 if it had none. */
TF_EXPORT TF_WUR int tf_persona_app_kill(struct tf_persona *p, const char *app,
					 int timeout_ms);

/*
 * Launch an app in the running persona (one message to the persona's
 * launcher, which clones it; no setns, no cgroup write). On success *pid_out is the app's
 * host pid (a child of the caller) and *pidfd_out its pidfd (O_CLOEXEC,
 * owned by the caller). When the command cannot be executed the app's
 * errno comes back: -ENOENT (not found), -EACCES, -ENOEXEC, ...; the app
 * has then already been reaped. -E2BIG when argv + envp + cwd exceed
 * 4 MiB or 131072 strings; -ECONNRESET when the launcher died during the
 * launch (a new one is started by the next call).
 */
TF_EXPORT TF_WUR int tf_persona_exec(struct tf_persona *p,
				     const struct tf_exec_spec *x,
				     pid_t *pid_out, int *pidfd_out);

/*
 * Services exempt from the screen lock (keep.c; docs/ARCHITECTURE.md
 * "cgroups"): <persona v2 cgroup>/keep-NAME (NAME: [a-z0-9-], at most
 * TF_PERSONA_APP_NAME_MAX), made (or kept) empty with its cgroup.procs
 * the persona root's so the launcher clones into it (TF_EXEC_CGROUP).
 * Only the daemon puts a process there. While one exists, a lock freezes
 * every other child of the root instead of the root. Make it while the
 * persona runs, not while it is frozen. -EOPNOTSUPP without cgroup v2.
 */
TF_EXPORT TF_WUR int tf_persona_keep_cgroup(struct tf_persona *p,
					    const char *name, int *fd);
/* Kill what runs in keep-NAME and remove it (now if empty, else at the
 * next call); 0 if it has none. */
TF_EXPORT int tf_persona_keep_end(struct tf_persona *p, const char *name);
TF_EXPORT bool tf_persona_has_keep(const struct tf_persona *p);
/* Begin a freeze (no wait): cgroup.freeze 1 on the root, or on each
 * child but keep-* when a keep-* exists; frozen=false thaws everything
 * (root and every child). -EOPNOTSUPP without cgroup v2. */
TF_EXPORT int tf_persona_freeze_write(struct tf_persona *p, bool frozen);
/* Did the last freeze go child by child (tf_persona_freeze_write)? Then
 * the root's cgroup.events never says "frozen 1": poll
 * tf_persona_frozen(). */
TF_EXPORT bool tf_persona_freeze_per_child(const struct tf_persona *p);
/* Is everything frozen that the last freeze froze (the root, or every
 * child but keep-*)? */
TF_EXPORT TF_WUR int tf_persona_frozen(const struct tf_persona *p,
				       bool *frozen);

/* Freeze (screen lock) or thaw every process of the persona but those in
 * keep-* cgroups (see above); waits (bounded, -ETIMEDOUT). */
TF_EXPORT TF_WUR int tf_persona_freeze(struct tf_persona *p, bool frozen);

/* Device policy: the profile's foreground devices are allowed only when
 * fg; cpu weight prof.lim.cpu_weight when fg, prof.bg_cpu_weight
 * otherwise. */
TF_EXPORT TF_WUR int tf_persona_set_foreground(struct tf_persona *p, bool fg);

/* Who may open the profile's call devices (TF_PROF_DEV_CALL: sound) from
 * now on, kept across later tf_persona_set_foreground calls:
 *  FOLLOW: as every foreground device (the default);
 *  NONE: nobody in the persona, even in the foreground (another
 *        persona's call holds them);
 *  KEEP: only tasks running as host uid `uid` in the cgroup v2 directory
 *        with id cgroup_id (tf_cgroup_id of its keep-NAME: the comms
 *        service during a call), whatever fg says.
 * Then applies the policy for fg as tf_persona_set_foreground. A failed
 * KEEP leaves NONE (fail closed). */
enum tf_persona_call {
	TF_PERSONA_CALL_FOLLOW = 0,
	TF_PERSONA_CALL_NONE,
	TF_PERSONA_CALL_KEEP,
};
TF_EXPORT TF_WUR int tf_persona_set_call_devices(struct tf_persona *p, bool fg,
						 enum tf_persona_call call,
						 uint64_t cgroup_id,
						 uint32_t uid);

struct tf_persona_stats {
	/* processes of the persona: its init and every app and their
	 * children (the daemon's launcher, also in the cgroup, is left out) */
	int nprocs;
	uint64_t memory_bytes;
	bool frozen;
};
TF_EXPORT TF_WUR int tf_persona_stats(const struct tf_persona *p,
				      struct tf_persona_stats *st);

/* Host pid of the persona's launcher (for tests); -1 if none. After the
 * launcher died, the old pid until the next tf_persona_exec() replaced it
 * (the zombie is not reaped before, so the pid cannot be reused). */
TF_EXPORT pid_t tf_persona_launcher_pid(const struct tf_persona *p);

/* Kill everything, reap init (and unreaped apps, see above), destroy the
 * cgroup; always frees p. Returns the first error met. NULL is a no-op. */
TF_EXPORT int tf_persona_stop(struct tf_persona *p);

/* Daemon start after a crash or kill -9: remove every cgroup of the group
 * (killing what is left in them). */
TF_EXPORT TF_WUR int tf_persona_cleanup_stale(const char *cgroup_group);

#endif
