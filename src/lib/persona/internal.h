/* SPDX-License-Identifier: ISC */
/* Internal to src/lib/persona. */
#ifndef TWOFOLD_PERSONA_INTERNAL_H
#define TWOFOLD_PERSONA_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "twofold/common.h"
#include "twofold/config.h"
#include "twofold/ipc.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"

struct tf_persona {
	char name[TF_NAME_MAX + 1];
	pid_t init_pid;
	int pidfd;
	struct tf_cgroup *cg;
	bool hybrid; /* v1 controllers: children must be attached by pid */
	bool foreground;
	/* the persona's policy, copied at start with its devices resolved
	 * (TF_PROF_DEV_RESOLVE done): the one list the init binds /dev nodes
	 * from and the cgroup device policy is made of */
	struct tf_profile prof;
	/* dups of the pidfds of launched apps, to reap their zombies at stop
	 * (see persona.h); pruned as apps exit */
	int *apps;
	size_t n_apps, cap_apps;
	/* the persona's launcher (launcher.c): a child of the daemon, in the
	 * persona's cgroups and (for its children) namespaces; -1 = none */
	pid_t launcher_pid;
	int launcher_pidfd;
	int launcher_sock; /* SOCK_SEQPACKET, the daemon's end */
	/* host uid of the persona's root: owner of what its launcher may
	 * write (run cgroups' cgroup.procs), base of its app uids */
	uid_t uid_base;
	/* O_PATH fd of the persona's /dev/pts (its own devpts instance), for
	 * ptys made by the daemon; -1 until the init is set up */
	int pts_fd;
	/* the next run's cgroup, made ahead (off the launch path); -1 none */
	int spare_cg_fd;
	char spare_cg[32];
	/* the same for the last app run (run --app): "app-NAME/run-<n>" */
	int spare_app_fd;
	char spare_app[TF_PERSONA_CG_NAME_MAX];
	/* a lock froze the root's children one by one, keep-* excepted
	 * (keep.c), instead of the root */
	bool kids_frozen;
	/* the call devices (TF_PROF_DEV_CALL): as the foreground, nobody's,
	 * or only a service's (cgroup id, host uid): set by
	 * tf_persona_set_call_devices, kept across foreground moves */
	enum tf_persona_call call;
	uint64_t call_cgid;
	uint32_t call_uid;
};

/* What the init child needs; filled by the parent before clone3 so the
 * child does no allocation and reads no config. */
struct tf_p_setup {
	const char *name;
	const char *data_dir;
	/* mounts, binds, writable paths, devices, pty_max, network */
	const struct tf_profile *prof;
	int sync_fd;   /* parent -> child: 1 byte "go" after uid map + attach */
	int status_fd; /* child -> parent: struct tf_p_status */
};

struct tf_p_status {
	int err; /* 0 = init is running */
	char msg[TF_PERSONA_ERR_MAX];
};

/* Entry of the cloned child: builds the container and becomes its init.
 * Never returns. */
TF_NORETURN void tf_p_child_main(const struct tf_p_setup *s);

/* raw clone3 (glibc 2.36 has no wrapper); fork-like when stack is 0 */
pid_t tf_p_clone3(uint64_t flags, int cgroup_fd, int *pidfd_out);

/* At the end of a start (init set up): the persona's /dev/pts for ptys,
 * its cgroup.procs handed to its root for run cgroups (run.c). */
int tf_p_run_setup(struct tf_persona *p);

/* keep.c: a new child dfd of the root is frozen at once while its
 * siblings are (a lock with a keep-* cgroup); the blocking freeze/thaw
 * of tf_persona_freeze() in either mode. */
int tf_p_keep_new_child(struct tf_persona *p, int dfd);
int tf_p_keep_freeze_wait(struct tf_persona *p, bool frozen);

/* ---- spawner protocol (daemon <-> spawner, spawner.c) ----
 *
 * One request per message, fds by SCM_RIGHTS: for an init fd0 = the sync
 * pipe's read end, fd1 = the status pipe's write end; for a launcher fd0 =
 * its socket, fd1 = the init's pidfd; then the v2 cgroup dir fd when flags
 * has CLONE_INTO_CGROUP; then, for an init (required), the network
 * namespace the daemon made for the persona (netns = 1): the spawner
 * setns()es into it for the clone and returns to its own, so the init is
 * born there (CLONE_NEWNET is never asked: a namespace the persona's user
 * namespace owned would be the persona root's to change). Reply: err,
 * pid, and the child's pidfd. */
#define TF_P_SPAWN_MAGIC 0x74665331u /* "tfS1" */
/* a tunnel process (tf_persona_spawn_tunnel): fd0 = its control socket,
 * no other fd, no flags; it runs the registered body (spawner.c). A
 * package checker (tf_persona_spawn_pkgcheck, issue 13): the same shape,
 * its own registered body. */
enum {
	TF_P_SPAWN_INIT = 1,
	TF_P_SPAWN_LAUNCHER = 2,
	TF_P_SPAWN_TUNNEL = 3,
	TF_P_SPAWN_PKGCHECK = 4,
};

struct tf_p_spawn_req {
	uint32_t magic;
	uint32_t kind;
	uint64_t flags; /* namespaces, CLONE_INTO_CGROUP */
	uint32_t netns; /* 1: the last fd is the netns to clone into */
	char name[TF_NAME_MAX + 1];
	char data_dir[PATH_MAX]; /* init only */
	/* the persona's (resolved) profile: what the init builds and what
	 * the launcher applies; checked by the spawner (tf_profile_check) */
	struct tf_profile prof;
};

/* Clone an init or a launcher as the caller's child, through the spawner
 * (or, after tf_persona_spawner_direct(), directly). Returns its pid and
 * its pidfd; -EOWNERDEAD when the spawner died, -ENOTCONN when none was
 * started. */
pid_t tf_p_spawn(const struct tf_p_spawn_req *q, int fd0, int fd1, int cgfd,
		 int nsfd, int *pidfd_out);

/* A request for p's init (data_dir) or launcher (NULL), with p's
 * profile. */
int tf_p_fill_spawn_req(struct tf_p_spawn_req *q, uint32_t kind,
			const struct tf_persona *p, const char *data_dir);

/* The launcher's side (launcher.c), in the spawned child. */
TF_NORETURN void tf_p_launcher_child(int sock, int init_pidfd, pid_t parent,
				     const struct tf_profile *prof);

/* Remember an app's pidfd (dup) for stop; prunes exited ones. */
int tf_p_track_app(struct tf_persona *p, int pidfd);

/* Wait until fd is readable; -ETIMEDOUT after ms. */
int tf_p_wait_readable(int fd, int ms);

/* ---- launcher protocol (daemon <-> launcher, launcher.c, exec.c) ----
 *
 * One SOCK_SEQPACKET socketpair per persona. Launch request: a first
 * message of struct tf_p_launch_hdr followed by the first (at most
 * TF_P_LAUNCH_CHUNK) bytes of the payload, carrying by SCM_RIGHTS the
 * present stdio fds (in order 0, 1, 2; flags say which) and, last, the
 * write end of the exec-error pipe; the rest of the payload follows in
 * messages of at most TF_P_LAUNCH_CHUNK bytes (a message must fit the
 * socket's send buffer, 208 KiB by default, so a 2 MiB argv is split).
 * Payload: argc NUL-terminated argv strings, envc env strings, then the
 * cwd if TF_P_L_CWD. Reply: struct tf_p_launch_reply. */
#define TF_P_LAUNCH_MAGIC 0x74664c31u	/* "tfL1" */
#define TF_P_GO_MAGIC 0x74664731u	/* "tfG1": setns now (start) */
#define TF_P_LAUNCH_MAX (4u << 20)	/* payload bytes */
#define TF_P_LAUNCH_STRS_MAX (1u << 17) /* argc + envc */
#define TF_P_LAUNCH_CHUNK (64u * 1024)
#define TF_P_L_CWD 0x1u
#define TF_P_L_FD(i) (0x10u << (i)) /* stdio fd i is attached */
/* a cgroup dir fd follows the stdio fds: clone the app into it */
#define TF_P_L_CG 0x100u
/* stdio fd i is the app's controlling terminal (TIOCSCTTY) */
#define TF_P_L_CTTY(i) (0x1000u << (i))
#define TF_P_L_CTTY_ANY (TF_P_L_CTTY(0) | TF_P_L_CTTY(1) | TF_P_L_CTTY(2))

struct tf_p_launch_hdr {
	uint32_t magic;
	uint32_t len; /* payload bytes in all messages */
	uint32_t argc, envc;
	uint32_t uid, gid;
	uint32_t flags;
	/* Landlock write paths after the cwd (tf_exec_spec ll_write) */
	uint32_t llc;
};

struct tf_p_launch_reply {
	int32_t err; /* 0: the app was cloned, its exec result follows on the
			pipe; < 0: nothing was started */
	int32_t pid; /* the app's host pid */
};

/* Written by the app to the exec-error pipe when it cannot exec; EOF
 * without it means execve succeeded. */
struct tf_p_exec_msg {
	int32_t err;
	int32_t stage; /* enum tf_exec_stage */
};

/* SIG_DFL for every signal, empty mask (children of the daemon). */
void tf_p_reset_signals(void);
/* Compile the app seccomp filter of policy pol (the spawner does it once
 * for the default profile's; a launcher whose profile says otherwise
 * compiles its own at start). */
int tf_p_launcher_prepare(const struct tf_seccomp_policy *pol);
/* In the launcher, once, after it entered the persona's namespaces:
 * apply to itself the capability lock, no_new_privs, Landlock (prof's read
 * and writable paths) and seccomp every app inherits (exec.c). */
int tf_p_launcher_harden(const struct tf_profile *prof);

/* Fork the launcher into the persona's cgroups (v1 attach included); it
 * then waits for tf_p_launcher_go(). init_pidfd: the persona's init. */
int tf_p_launcher_spawn(struct tf_persona *p, int init_pidfd);
/* Let it enter the persona's namespaces (init must be set up by now) and
 * wait until it reports; stops it on failure. */
int tf_p_launcher_go(struct tf_persona *p);
/* Close the socket, SIGKILL, reap (by pidfd, bounded by ms). */
void tf_p_launcher_stop(struct tf_persona *p, int ms);
/* true while the launcher process has not exited */
bool tf_p_launcher_alive(const struct tf_persona *p);

/* The app's side of a launch, in the launcher's child. Never returns. */
TF_NORETURN void tf_p_app_main(const struct tf_exec_spec *x, int err_fd);

#endif
