/* SPDX-License-Identifier: ISC */
/* twofoldd internals (docs/ARCHITECTURE.md). */
#ifndef TWOFOLDD_DAEMON_H
#define TWOFOLDD_DAEMON_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "twofold/audit.h"
#include "twofold/config.h"
#include "twofold/ipc.h"
#include "twofold/storage.h"

#define TFD_CONN_MAX 64
#define TFD_ORPHAN_MAX 256
/* how long an orphaned run's app has to act on SIGHUP before its run
 * cgroup is killed */
#define TFD_ORPHAN_GRACE_NS (2ull * 1000000000ull)

/* Daemon-wide state: the first column of the dispatch table. */
enum tfd_state {
	TFD_STARTING = 1u << 0,
	TFD_READY = 1u << 1,
	TFD_STOPPING = 1u << 2,
};

/* Persona states: the second column of the dispatch table. */
enum tfd_pstate {
	TFD_P_STOPPED =
		1u << 0, /* not running; keys may or may not be loaded */
	TFD_P_RUNNING = 1u << 1, /* running (foreground or background) */
	TFD_P_FROZEN = 1u << 2,	 /* screen-locked: frozen, keys stay */
	TFD_P_EVICTED = 1u << 3, /* locked down: processes gone, key removed */
	TFD_P_NOKEY = 1u << 4,	 /* needs a credential: `twofold enroll` */
	TFD_P_ERASED = 1u << 5,	 /* crypto-erased after too many failures */
	TFD_P_ANY = 0x3f,
};

struct tf_persona;
struct tf_storage;
struct tf_keystore;
struct tf_audit;

struct tfd_persona {
	const struct tf_persona_cfg *cfg;
	enum tfd_pstate state;
	struct tf_persona *rt; /* running container, NULL otherwise */
	bool foreground;
	bool key_loaded; /* fscrypt key present in the kernel */
	/* lock-down could not finish removing the key (files busy, I/O
	 * error): the persona stays EVICTED, only unlock leaves that, and
	 * the 1 s timer retries the removal until the kernel says ABSENT */
	bool evict_pending;
	int evict_err;	    /* why it is pending (-EBUSY: files busy) */
	int evict_sync_err; /* the last evict's syncfs error, 0 if none */
	uint8_t key_id[16];
	bool key_id_known; /* key_id is this persona's (added, or its policy) */
	/* when frozen (tf_boottime_ns: counts suspend), for lock_evict_after */
	uint64_t locked_at_ns;
	/* CLOCK_BOOTTIME of the last successful credential unlock, for
	 * reauth_after, and of the last second it was the foreground (or its
	 * unlock), for idle_evict_after (reauth.c) */
	uint64_t auth_bt_ns;
	uint64_t active_bt_ns;
	char data_dir[PATH_MAX];
	/* the file system data_dir is on, which every fscrypt ioctl of this
	 * persona uses (the key goes into its superblock's keyring): its own
	 * image's, or d->storage when all personas share one (storage_dir,
	 * or a state directory made with a single storage.img) */
	struct tf_storage *storage;
	bool storage_own; /* storage is this persona's: detach it */
	char last_error[160];
	/* its cgroup, made while an unlock's KDF ran; the next start takes
	 * it, a failed unlock removes it */
	struct tf_cgroup *pre_cg;
};

/* What an epoll event refers to. */
enum tfd_src {
	TFD_SRC_LISTEN,
	TFD_SRC_SIGNAL,
	TFD_SRC_CONN,
	TFD_SRC_APP,
	TFD_SRC_INIT,
	TFD_SRC_TIMER,
	TFD_SRC_GUARD
};

struct tfd_conn {
	enum tfd_src src; /* TFD_SRC_CONN; must stay first */
	int fd;
	uid_t uid;
	pid_t pid;
	struct tf_msg_reader rd;
	/* `run` in progress */
	struct {
		enum tfd_src src; /* TFD_SRC_APP; must stay first */
		struct tfd_conn *conn;
		pid_t pid;
		int pidfd;
		/* its run cgroup ("" none) and persona; killed at exit
		 * unless a service */
		char cg[32];
		struct tfd_persona *p;
		bool service;
		uint64_t kill_at_ns; /* orphaned: when its run is killed */
	} app;
	bool closing;
};

struct tfd {
	char state_dir[PATH_MAX];
	bool state_given; /* --state or TWOFOLD_STATE: socket in state dir */
	int state_fd;
	struct tf_config cfg;
	const void *suite; /* const struct tf_suite * */
	enum tfd_state state;
	int listen_fd, epoll_fd, signal_fd, timer_fd;
	char sock_path[108];
	char cg_group[48];
	uid_t owner_uid; /* besides root, who may talk to us */
	size_t n_personas;
	struct tfd_persona personas[TF_PERSONA_MAX];
	struct {
		enum tfd_src src;
		size_t idx;
	} init_src[TF_PERSONA_MAX];
	struct tfd_conn *conns[TFD_CONN_MAX];
	/* The secure receive area of every control connection (tf_msg_reader
	 * sbuf, TF_FRAG_MAX bytes): a request that is one datagram (every
	 * one that carries a credential) is received and parsed in it and it
	 * is wiped after each. One is enough: the loop reads and dispatches
	 * a whole one-datagram request in one go, so no two requests ever
	 * hold it at once; allocated at start, so no cost per connection. */
	uint8_t *rxbuf;
	/* runs whose client left (not services): killed after a grace */
	struct tfd_conn *orphans[TFD_ORPHAN_MAX];
	struct tf_storage *storage; /* the shared storage, or NULL */
	struct tf_keystore *ks;
	bool use_storage; /* encrypted storage active (issue 4) */
	uint64_t started_ns;
	struct tf_audit *audit; /* NULL: not recording (audit_err says why) */
	int audit_err;		/* the last append's error, 0 fine */
};

/* A reply under construction: result errno + one-line message + output. */
struct tfd_reply {
	int err;
	char msg[512];
	char *text;    /* malloc'd human output */
	char *json;    /* malloc'd machine output */
	int exit_code; /* for run failures (127 command not found), -1 unset */
	pid_t pid; /* PTY: the app's host pid (its process group), 0 unset */
	/* work that must not delay the answer: run after it was sent */
	void (*after)(struct tfd *d, struct tfd_persona *p);
	struct tfd_persona *after_p;
};

void tfd_reply_err(struct tfd_reply *rep, int err, const char *fmt, ...)
	TF_PRINTF(3, 4);

/* statecheck.c: start-up refusals; err gets one line naming the first
 * bad path (or the other process) and the fix */
TF_WUR int tfd_check_state_perms(const struct tfd *d, char *err, size_t errlen);
TF_WUR int tfd_check_uid_ranges(const struct tfd *d, char *err, size_t errlen);

/* foreground.c: the foreground is a running persona or none. move puts
 * every other persona in the background (revoking their device fds), then
 * gives `to` (NULL: nobody) the foreground; settle moves it off a persona
 * that no longer runs. Call settle after anything that changes a state. */
TF_WUR int tfd_foreground_move(struct tfd *d, struct tfd_persona *to);
void tfd_foreground_settle(struct tfd *d);
/* revoke.c: revoke p's open fds of the foreground devices (evdev); the
 * count revoked, or -errno */
int tfd_revoke_foreground_fds(struct tfd *d, struct tfd_persona *p);

/* dispatch.c */
typedef void (*tfd_handler)(struct tfd *d, struct tfd_conn *c,
			    const struct tf_msg *m, struct tfd_persona *p,
			    struct tfd_reply *rep);
void tfd_dispatch(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m);
const char *tfd_pstate_name(enum tfd_pstate s);
struct tfd_persona *tfd_persona_find(struct tfd *d, const char *name);

/* server.c */
int tfd_send_reply(struct tfd_conn *c, uint16_t type,
		   const struct tfd_reply *rep);
/* The same with descriptors (SCM_RIGHTS) on the reply. */
int tfd_send_reply_fds(struct tfd_conn *c, uint16_t type,
		       const struct tfd_reply *rep, const int *fds,
		       size_t nfds);
void tfd_conn_close(struct tfd *d, struct tfd_conn *c);
TF_WUR int tfd_epoll_add(struct tfd *d, int fd, void *tag);

/* handlers */
void tfd_req_ping(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		  struct tfd_persona *, struct tfd_reply *);
void tfd_req_status(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		    struct tfd_persona *, struct tfd_reply *);
void tfd_req_start(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		   struct tfd_persona *, struct tfd_reply *);
void tfd_req_stop(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		  struct tfd_persona *, struct tfd_reply *);
void tfd_req_restart(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		     struct tfd_persona *, struct tfd_reply *);
void tfd_req_run(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		 struct tfd_persona *, struct tfd_reply *);
void tfd_req_signal(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		    struct tfd_persona *, struct tfd_reply *);
void tfd_req_switch(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		    struct tfd_persona *, struct tfd_reply *);
void tfd_req_enroll(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		    struct tfd_persona *, struct tfd_reply *);
void tfd_req_unlock(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		    struct tfd_persona *, struct tfd_reply *);
void tfd_req_lock(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		  struct tfd_persona *, struct tfd_reply *);
void tfd_req_wipe(struct tfd *, struct tfd_conn *, const struct tf_msg *,
		  struct tfd_persona *, struct tfd_reply *);
/* req_keys.c: was p crypto-erased by its failure counter? Otherwise by
 * a wipe, a remote wipe or the duress credential, which replies and
 * status do not tell apart (the audit log does). */
bool tfd_erased_by_failures(struct tfd *d, const struct tfd_persona *p);

/* reauth.c: reauth_after and idle_evict_after, on CLOCK_BOOTTIME (time
 * suspended counts: a phone left suspended for three days needs the
 * credential when it wakes). */

/* A credential unlock of p succeeded now: both clocks restart. */
void tfd_reauth_stamp(struct tfd_persona *p);
/* From tfd_timer_tick, every second: evict p if its reauth_after or
 * idle_evict_after is over; true if it did (or tried to). */
bool tfd_reauth_tick(struct tfd *d, struct tfd_persona *p);
/* Seconds until p is evicted by reauth_after / idle_evict_after, or -1
 * when that timer does not run for p now. */
int64_t tfd_reauth_left_s(const struct tfd_persona *p);
int64_t tfd_idle_left_s(const struct tfd_persona *p);

/* personas.c: lifecycle used by handlers and start-up */
TF_WUR int tfd_personas_setup(struct tfd *d, char *err, size_t errlen);
TF_WUR int tfd_persona_start(struct tfd *d, struct tfd_persona *p, char *err,
			     size_t errlen);
int tfd_persona_stop(struct tfd *d, struct tfd_persona *p);
void tfd_persona_init_exited(struct tfd *d, size_t idx);
void tfd_app_exited(struct tfd *d, struct tfd_conn *c);
/* SIGCHLD: tell each CLI whose app stopped (req_run.c). */
void tfd_apps_sigchld(struct tfd *d);
/* Every second: remove finished run cgroups, reap children nobody tracks,
 * kill orphaned runs whose grace is over (req_run.c). */
void tfd_run_tick(struct tfd *d);
/* A run whose client left: killed at the next tick after the grace (or
 * now, when the list is full). */
void tfd_orphan_add(struct tfd *d, struct tfd_conn *c);
/* Signal a `run` app's process group if it is still ours to signal. */
int tfd_app_signal(struct tfd_conn *c, int sig);
void tfd_personas_shutdown(struct tfd *d);
void tfd_timer_tick(struct tfd *d);
int tfd_persona_evict(struct tfd *d, struct tfd_persona *p, uint64_t *ns);
/* Remove p's key (budget_ms of retries, 0: one try); 0 when ABSENT, else
 * evict_pending is set and the timer retries. */
int tfd_evict_key(struct tfd *d, struct tfd_persona *p, unsigned budget_ms,
		  unsigned *tries);
/* Why p's key removal is pending: "files busy" or the error. */
const char *tfd_evict_reason(const struct tfd_persona *p);

/* status_guess.c: what bounds offline guessing without a TPM */
double tfd_gpu_guesses_per_s(uint32_t passes, uint64_t mem_kib);
void tfd_human_duration(double s, char *buf, size_t cap);
void tfd_status_guessing(const struct tfd *d, FILE *t, FILE *j);
int tfd_dir_has_data(const char *path);
/* Remove a persona's (unreadable) data after a crypto-erase. */
int tfd_persona_wipe_data(struct tfd_persona *p);
/* Stop; a credential-bound persona is evicted too (its key leaves the
 * kernel), so only `unlock` brings it back. */
int tfd_persona_stop_or_evict(struct tfd *d, struct tfd_persona *p);
/* Put p's key in the kernel and check its data dir. Fail closed: on any
 * failure after the key went in, it is removed again (evict_pending when
 * that cannot finish; the timer retries). */
TF_WUR int tfd_load_key_and_dir(struct tfd *d, struct tfd_persona *p,
				const uint8_t *fskey, char *err, size_t errlen);
/* Ask the kernel whether p's key is in its keyring and make key_loaded
 * (and evict_pending) say what the kernel says; *st (may be NULL) gets the
 * status. -errno when it cannot be asked (key_loaded left as it was). */
int tfd_key_sync(struct tfd *d, struct tfd_persona *p, enum tf_key_status *st);

/* guard.c: the process that removes the keys and the mounts if twofoldd
 * dies (docs/ARCHITECTURE.md). Start it first thing in main(), before any
 * secret; then tell it every storage, key and persona cgroup as they come
 * and go (each call returns once the guard has it). Storage slots: a
 * persona's index for its own image, TFD_GUARD_SHARED for shared storage. */
#define TFD_GUARD_SHARED TF_PERSONA_MAX
#define TFD_GUARD_SLOTS (TF_PERSONA_MAX + 1)
TF_WUR int tfd_guard_start(char **argv);
int tfd_guard_pidfd(void);
pid_t tfd_guard_pid(void);
bool tfd_guard_alive(void);
void tfd_guard_lost(const char *why);
/* its pidfd became readable: it died */
void tfd_guard_exited(struct tfd *d);
void tfd_guard_stop(void);
/* before touching stale mounts: wait for a dead predecessor's guard */
void tfd_guard_wait_old(const char *state_dir);
void tfd_guard_storage(size_t slot, int fd, const char *mountpoint,
		       bool mounted);
void tfd_guard_storage_clear(size_t slot);
void tfd_guard_key(size_t persona, size_t slot, const uint8_t id[static 16]);
void tfd_guard_key_clear(size_t persona);
void tfd_guard_cgroup(size_t persona, int cgfd);
void tfd_guard_cgroup_clear(size_t persona);

/* audit.c: the audit log (docs/audit.md; docs/ARCHITECTURE.md "How to
 * add an audited event"). tfd_audit: one record; fmt gives "key=value"
 * fields separated by tabs; p and c may be NULL; flags TF_AUDIT_SYNC
 * (durable before it returns: before the daemon acts on the decision it
 * records). A failure is noted (daemon log, status), never fatal. */
void tfd_audit(struct tfd *d, unsigned flags, const char *type,
	       const struct tfd_persona *p, const struct tfd_conn *c,
	       const char *fmt, ...) TF_PRINTF(6, 7);
/* a request refused (by dispatch or its handler), with the caller */
void tfd_audit_refused(struct tfd *d, const struct tfd_conn *c,
		       const char *request, const struct tfd_persona *p,
		       const struct tfd_reply *rep);
void tfd_audit_open(struct tfd *d);  /* after the key store is open */
void tfd_audit_close(struct tfd *d); /* before it closes */
void tfd_audit_tick(struct tfd *d);  /* every second: timed checkpoint */
void tfd_audit_status(const struct tfd *d, FILE *t, FILE *j);
int tfd_audit_verify_main(const char *state, const char *keyfile);

#endif
