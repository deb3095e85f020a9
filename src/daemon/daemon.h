/* SPDX-License-Identifier: ISC */
/* twofoldd internals (docs/ARCHITECTURE.md). */
#ifndef TWOFOLDD_DAEMON_H
#define TWOFOLDD_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "twofold/audit.h"
#include "twofold/config.h"
#include "twofold/error.h"
#include "twofold/ipc.h"
#include "twofold/persona.h"
#include "twofold/storage.h"
#include "twofold/tunnel.h"
#include "callchan.h"

#define TFD_CONN_MAX 64
/* of which only root may take the last few (server.c accept_one) */
#define TFD_CONN_ROOT_RESERVE 8
/* The largest request a caller other than root may send: `run`'s argv and
 * environment (TF_ARGV_TOTAL_MAX) need at most this much in practice, and
 * the reader allocates a message's declared size at its first fragment,
 * so the members of control_group together can pin at most
 * (TFD_CONN_MAX - TFD_CONN_ROOT_RESERVE) x this (14 MiB), not x 4 MiB. */
#define TFD_MSG_MAX_USER (256u << 10)
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

/* Persona states (lifecycle.c holds the transition table). UNLOCKING,
 * STOPPING and FREEZING are the transient ones: a credential check runs
 * on a worker thread, the processes are killed and the loop waits for
 * them to go (and for the key to leave the kernel), or cgroup.freeze is
 * written and the loop waits for the kernel to say "frozen 1". */
enum tfd_pstate {
	TFD_P_STOPPED =
		1u << 0, /* not running; keys may or may not be loaded */
	TFD_P_RUNNING = 1u << 1, /* running (foreground or background) */
	TFD_P_FROZEN = 1u << 2,	 /* screen-locked: frozen, keys stay */
	TFD_P_EVICTED = 1u << 3, /* locked down: processes gone, key removed */
	TFD_P_NOKEY = 1u << 4,	 /* needs a credential: `twofold enroll` */
	TFD_P_ERASED = 1u << 5,	 /* crypto-erased after too many failures */
	TFD_P_UNLOCKING = 1u << 6, /* a credential check (KDF) is running */
	TFD_P_STOPPING = 1u << 7,  /* killed, waiting for the processes */
	TFD_P_FREEZING = 1u << 8,  /* screen lock: waiting for "frozen 1" */
	TFD_P_ANY = 0x1ff,
};

/* What happens to a persona: a request (the first block) or the daemon's
 * own doing. The lifecycle table (lifecycle.c) says, for each state,
 * which events are allowed and the state they lead to. */
enum tfd_event {
	TFD_EV_NONE = 0,
	TFD_EV_START,
	TFD_EV_STOP,
	TFD_EV_RESTART,
	TFD_EV_RUN,
	TFD_EV_SWITCH,
	TFD_EV_ENROLL,
	TFD_EV_UNLOCK,
	TFD_EV_LOCK,
	TFD_EV_WIPE,
	/* internal */
	TFD_EV_STARTED,	      /* its init runs */
	TFD_EV_FREEZE,	      /* screen lock begins (cgroup.freeze 1) */
	TFD_EV_FROZEN,	      /* screen lock done */
	TFD_EV_FREEZE_FAILED, /* not frozen by the deadline: thawed */
	TFD_EV_UNLOCKED,      /* the credential was right: running */
	TFD_EV_UNLOCK_FAILED, /* wrong credential, cancelled: back */
	TFD_EV_HALT,	      /* kill begins (stop, evict) */
	TFD_EV_HALTED,	      /* processes gone (and key removed) */
	TFD_EV_ENROLLED,      /* the first credential is set */
	TFD_EV_LOCKED_DOWN,   /* evict with no process and no key */
	TFD_EV_ERASED,	      /* crypto-erased */
};

struct tf_persona;
struct tf_storage;
struct tf_keystore;
struct tf_audit;
struct tfd;
struct tfd_conn;
struct tfd_persona;

/*
 * An epoll event source: the loop calls cb with the epoll events of fd.
 * Every fd the loop watches is one (server.c): the listening socket, each
 * connection, the signalfd, the 1 s tick, the pidfds of apps, inits and
 * the guard, each job's completion eventfd, each persona's cgroup.events
 * and its timer.
 */
struct tfd_source;
typedef void (*tfd_source_cb)(struct tfd *d, struct tfd_source *s,
			      uint32_t events);
struct tfd_source {
	int fd;
	tfd_source_cb cb;
	void *data; /* what it belongs to */
	bool added;
};

/* A request that waits for a persona's lifecycle (a stop, an evict): its
 * resume is called, on the loop, with the result; it sends the reply. */
typedef void (*tfd_resume_fn)(struct tfd *d, struct tfd_persona *p,
			      struct tfd_conn *c, int r, uint32_t flags);
struct tfd_waiter {
	struct tfd_conn *c; /* NULL once the client left */
	tfd_resume_fn resume;
	uint32_t flags;
};
#define TFD_WAITERS_MAX 8

/* A stop or evict under way (lifecycle.c): the processes were killed at
 * its start; the loop waits for init's pidfd and for cgroup.events to say
 * "populated 0", with a deadline on the persona's timer; then the key is
 * removed, retried on the same timer for up to a second. */
struct tfd_halt {
	bool active;
	bool evict;	/* the key leaves the kernel at the end */
	bool wipe_data; /* crypto-erased: its data goes too */
	bool init_gone, cg_empty;
	bool syncing;	/* phase 2a: a job syncs its file system */
	bool removing;	/* phase 2: key removal retries */
	int sync_err;	/* that job's syncfs error */
	bool timed_out; /* the deadline passed; waiters answered */
	int stop_err;
	unsigned tries, delay_us;
	enum tfd_pstate then; /* the state when done */
	uint64_t t0_ns, remove_end_ns;
	struct tfd_source events; /* cgroup.events, EPOLLPRI */
	/* a keep-* cgroup exists (keep.c): the root's children are frozen
	 * one by one, the root's events never say "frozen 1", so this timer
	 * re-checks them until the deadline */
	struct tfd_source recheck;
	struct tfd_waiter waiters[TFD_WAITERS_MAX];
	size_t n_waiters;
};

/* A screen lock under way (lifecycle.c): cgroup.freeze is written; the
 * loop waits for cgroup.events to say "frozen 1", with a deadline on the
 * persona's timer. A halt that begins meanwhile ends it. */
struct tfd_freeze {
	bool active;
	bool written; /* cgroup.freeze 1 is written (a test delays it) */
	uint64_t t0_ns;
	struct tfd_source events; /* cgroup.events, EPOLLPRI */
	/* a keep-* cgroup exists (keep.c): the root's children are frozen
	 * one by one, the root's events never say "frozen 1", so this timer
	 * re-checks them until the deadline */
	struct tfd_source recheck;
	struct tfd_waiter waiters[TFD_WAITERS_MAX];
	size_t n_waiters;
};

/* svc.c: a daemon-chosen program kept running in a persona, in its
 * keep-NAME cgroup (exempt from the screen lock), supervised */
struct tfd_svc {
	char name[32];	 /* keep-NAME */
	char p_name[40]; /* the persona, for log lines */
	pid_t pid;
	int pidfd; /* -1: not running */
	struct tfd_source src;
	uint64_t started_ns, next_start_ns;
	unsigned backoff_s, restarts;
	bool restart_now; /* killed for a restart (tfd_svc_restart) */
	char error[160];  /* why it is down ("" fine) */
	/* chan: the service's stdin is one end of a socketpair whose other
	 * end (chan_fd, -1 while it is down) only the daemon holds: the one
	 * channel on which the daemon's words cannot be forged from inside
	 * the persona (tfd_svc_say), and on which the service answers in
	 * lines (on_line; untrusted: bounded, rate-limited, chan_src) */
	bool chan;
	int chan_fd;
	struct tfd_source chan_src;
	struct tfd_linebuf chan_lb;
	/* lines this second (window from chan_win_ns): over
	 * TFD_SVC_CHAN_LINES_PER_S the channel is not read until the next
	 * second (tfd_svc_chan_tick: what waited then is dropped), logged
	 * once per pause */
	uint64_t chan_win_ns;
	unsigned chan_lines;
	bool chan_paused;
	/* called with each line the service wrote (NULL: overlong), and
	 * when it ended (exit, kill, stop); data is the caller's */
	void (*on_line)(struct tfd *d, struct tfd_svc *s, const char *line,
			size_t len);
	void (*on_end)(struct tfd *d, struct tfd_svc *s);
	/* it wrote more than TFD_SVC_CHAN_LINES_PER_S in a second */
	void (*on_flood)(struct tfd *d, struct tfd_svc *s);
	void *data;
	/* cgroup v2 id of its keep-NAME (tf_cgroup_id), 0 unknown */
	uint64_t cgroup_id;
	uid_t uid; /* inside the persona, also its gid: TF_APP_UID_DEFAULT
		      unless the caller sets it after tfd_svc_init */
};

struct tfd_job;

/* The tunnel process of a `network = tunnel` persona (tunnel.c): it
 * runs whenever the daemon does (also while the persona is locked,
 * evicted or stopped: its network namespace outlives it). */
/* Its own uid and gid, one per persona slot i: TFD_TUNNEL_UID_TOP - i,
 * in Debian's reserved 65000..65533 (never allocated to a user, below every
 * persona's uid_base). Not nobody (65534): every `nobody` daemon of the
 * host could SIGKILL it, prlimit it or renice it, and read its memory
 * wherever fs.suid_dumpable is 1. */
#define TFD_TUNNEL_UID_TOP 65533u
#define TFD_TUNNEL_ID(i) (TFD_TUNNEL_UID_TOP - (uint32_t)(i))
/* The fwmark (SO_MARK, set by the daemon: the tunnel process cannot
 * change it) of persona slot i's tunnel socket: the daemon's firewall
 * lets a socket with it send only to that tunnel's endpoint, so even a
 * compromised tunnel process reaches nothing else on the underlay
 * (netns.c build_ruleset). */
#define TFD_TUNNEL_MARK(i) (0x74660000u + (uint32_t)(i))
struct tfd_tunnel {
	bool configured; /* endpoint and a valid peer key: it is run */
	uint8_t suite;	 /* TF_SUITE_INTL / TF_SUITE_GM */
	/* the device-bound public key (the private one is derived again
	 * for each start and kept by the process only) */
	uint8_t pub[TF_TUN_PUB_MAX];
	size_t pub_len;
	uint8_t peer[TF_TUN_PUB_MAX];
	size_t peer_len;
	pid_t pid;
	int pidfd, ctl; /* -1: none */
	struct tfd_source pid_src, ctl_src, timer;
	bool running;	      /* a process is there */
	bool restart_pending; /* the timer will start one */
	bool have_status;     /* st is its latest STATUS */
	struct tf_tunctl_status st;
	uint32_t last_state; /* for the up/down audit records */
	uint16_t local_port; /* of the UDP socket */
	uint64_t started_bt_ns;
	unsigned backoff_s, next_backoff_s, restarts;
	char error[160]; /* why it is not running (or not configured) */
	/* the last packets refused (another suite's handshake, a replay,
	 * garbage from the endpoint): shown as the error for a while even
	 * when the tunnel is up */
	char refusal[200];
	uint64_t refusal_bt_ns;
};

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
	/* the loop's sources of this persona: init's pidfd, and a timer
	 * (the halt's deadline and key removal retries) */
	struct tfd_source init_src;
	struct tfd_source timer;
	struct tfd_halt halt;
	struct tfd_freeze freeze;
	/* the credential check running for it (UNLOCKING), and the state
	 * it came from */
	struct tfd_job *job;
	enum tfd_pstate unlock_from;
	/* a wipe's data removal running (req_keys.c; its j.c the wipe) */
	struct tfd_job *wipe_job;
	/* a wipe that waits for that check to end (the key store is busy) */
	struct tfd_waiter after_job;
	/* status while the key store is busy with a job: the last answers */
	uint32_t kdf_passes, kdf_mem_kib;
	bool kdf_known;
	bool erased_by_failures;
	/* network (netns.c): the namespace the daemon made for it (kept
	 * across stop/start/restart/evict), whether its nat veth tfv<i>
	 * exists, the resolvers its DNS goes to, its resolv.conf ("" none)
	 * and why its network could not be made ("" fine) */
	bool has_netns;
	int netns_fd;
	bool nat_link;
	uint8_t n_resolvers;
	struct tf_cidr resolvers[TF_NET_DNS_MAX];
	char resolv_conf[TF_CFG_PATH_MAX];
	char net_error[200];
	/* the exec gate (execgate.c) while it runs, and its denials' pipe */
	struct tfd_gate *gate;
	struct tfd_source gate_src;
	/* the MAC key of its exec hash record (exechash.c) while its
	 * fscrypt key is loaded; secure memory */
	uint8_t *exec_key;
	struct tfd_tunnel tun;
	/* notify.c: its session bus, notifier and kept notifications
	 * (display = shell; NULL otherwise) */
	struct tfd_notifier *notify;
	/* req_comms.c: twofold-comms (comms = yes, once provisioned) */
	struct tfd_svc comms;
	/* its last word on the channel: a call is active (false again when
	 * the service starts or ends); callaudio.c: that call holds the
	 * call devices now; an unknown line was logged (once a run) */
	bool call_active;
	bool call_audio;
	bool comms_warned;
	/* apps.c tfd_apps_tick: the catalog file as last checked (a change,
	 * or a minute, re-checks every installed app: one the catalog
	 * dropped is disabled and its processes killed) and which app uids
	 * (slot = uid - 10000, 256 of them) were disabled then */
	struct {
		bool seen;
		dev_t dev;
		ino_t ino;
		off_t size;
		int64_t mtime_ns;
		uint64_t checked_ns;
		uint64_t off[4];
	} appcat;
};

/*
 * Who may ask (the caller column of the dispatch table; docs/twofoldd.8.md
 * "Callers"): root (or the daemon's own euid), the trusted shell
 * (device.conf shell_uid) and the members of device.conf control_group.
 * A connection's class is fixed at connect (SO_PEERCRED, SO_PEERGROUPS)
 * and each request's is the lesser of that and its sender's
 * (SCM_CREDENTIALS), so a connection passed on to someone else never
 * speaks with more than that someone's rights.
 */
enum tfd_caller {
	TFD_CALL_NONE = 0,
	TFD_CALL_GROUP = 1u << 0,
	TFD_CALL_SHELL = 1u << 1,
	TFD_CALL_ROOT = 1u << 2,
};
/* the callers columns: what changes keys, data or configuration, and
 * what a user-level shell may do (read, switch, lock, run, watch) */
#define TFD_CALL_ADMIN (TFD_CALL_ROOT | TFD_CALL_SHELL)
#define TFD_CALL_USER (TFD_CALL_ADMIN | TFD_CALL_GROUP)

/* A subscriber (events.c) may leave this many bytes of events unread
 * before it is dropped: the socket's send queue is its bounded queue
 * (SIOCOUTQ), so a subscriber that never reads costs the daemon nothing
 * and never blocks it. ~60 events; well below the default 208 KiB
 * wmem_default, so the overflow event itself still fits. */
#define TFD_SUB_QUEUE_BYTES (64u * 1024)

struct tfd_conn {
	struct tfd_source src; /* the socket */
	int fd;
	uid_t uid;
	pid_t pid;
	enum tfd_caller peer_class; /* of who connected (accept) */
	enum tfd_caller caller;	    /* of this request's sender */
	/* subscribe (events.c): events are sent on this connection; dropped:
	 * it fell behind, closed at the next turn of the loop */
	bool subscribed, sub_dropped;
	struct tf_msg_reader rd;
	/* `run` in progress */
	struct {
		struct tfd_source src; /* its pidfd */
		struct tfd_conn *conn;
		pid_t pid;
		int pidfd;
		/* its run cgroup ("" none) and persona; killed at exit
		 * unless a service; "app-NAME/run-N" for run --app */
		char cg[TF_PERSONA_CG_NAME_MAX];
		/* run --app: the app's name ("" a plain run), for remove and
		 * disable on hosts without cgroup v2 */
		char name[TF_PERSONA_APP_NAME_MAX + 1];
		struct tfd_persona *p;
		bool service;
		uint64_t kill_at_ns; /* orphaned: when its run is killed */
	} app;
	bool closing;
	/* a reply-later request is outstanding (a job, a stop): its
	 * completion replies (tfd_conn_reply); another request on this
	 * connection meanwhile is refused */
	bool waiting;
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
	/* device.conf control_group, resolved at start (has_group false:
	 * unset) */
	gid_t control_gid;
	bool has_group;
	/* events.c: the sequence number of the last event, and the source
	 * that closes dropped subscribers outside the emitting call */
	uint64_t ev_seq;
	struct tfd_source ev_reaper;
	size_t n_personas;
	struct tfd_persona personas[TF_PERSONA_MAX];
	struct tfd_source listen_src, signal_src, timer_src, guard_src;
	/* the key store is not thread-safe: at most one job uses it, and
	 * the loop leaves it alone meanwhile (jobs.c) */
	struct tfd_job *ks_job;
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
	bool nft_table;		/* netns.c applied the inet twofold table */
	/* netns.c turned net.ipv4.ip_forward on (it was 0): off at exit */
	bool forward_set;
	struct tfd_alerts *alerts; /* alert.c, NULL before setup */
};

/* A reply under construction: result errno + one-line message + output. */
struct tfd_reply {
	int err;
	char msg[512];
	char *text;    /* malloc'd human output */
	char *json;    /* malloc'd machine output */
	int exit_code; /* for run failures (127 command not found), -1 unset */
	/* structured error (twofold/error.h): the reason id (empty: the
	 * generic "errno.NAME" is sent) and its named parameters */
	char reason[TF_REASON_MAX];
	unsigned n_params;
	struct tf_err_param params[TF_ERR_PARAMS_MAX];
	pid_t pid; /* PTY: the app's host pid (its process group), 0 unset */
	/* work that must not delay the answer: run after it was sent */
	void (*after)(struct tfd *d, struct tfd_persona *p);
	struct tfd_persona *after_p;
};

/* What a handler did with its request: answered now (the dispatcher
 * sends rep), or kept the connection and answers later itself (a job, a
 * stop, a `run` whose answer is the app's exit). */
enum tfd_disp {
	TFD_REPLY_NOW = 0,
	TFD_REPLY_LATER = 1,
};

/* Set rep's errno and message (0 and a message: a success's words); a
 * failure set this way carries the generic reason "errno.NAME". */
void tfd_reply_err(struct tfd_reply *rep, int err, const char *fmt, ...)
	TF_PRINTF(3, 4);
/* A refusal with its reason id (TF_R_*, twofold/error.h) and, when it
 * concerns one, the persona as the parameter "persona"; more parameters
 * with tfd_reply_param after it. The message stays for older clients and
 * logs; the CLI renders its own sentence from reason and parameters. */
void tfd_reply_fail(struct tfd_reply *rep, int err, const char *reason,
		    const char *persona, const char *fmt, ...) TF_PRINTF(5, 6);
/* The reason a failure goes out with: its own, else "errno.NAME" */
void tfd_reply_reason(const struct tfd_reply *rep, char *buf, size_t cap);
/* Add (or replace) the named parameter key; silently dropped past
 * TF_ERR_PARAMS_MAX (the message still says it). */
void tfd_reply_param(struct tfd_reply *rep, const char *key, const char *fmt,
		     ...) TF_PRINTF(3, 4);

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
/* The same for the call devices only (TF_PROF_DEV_CALL), whatever the
 * foreground: the count of holders killed. */
int tfd_revoke_call_fds(struct tfd *d, struct tfd_persona *p);
/* callaudio.c: who holds the call devices (sound) for a call. update:
 * re-decide from every persona's call_active and state, apply every
 * persona's device policy, kill what must lose them; call it after any
 * change of those. apply: q's device policy for q->foreground as that
 * decision says (instead of tf_persona_set_foreground). report: the
 * service of p says a call is active or idle. */
void tfd_callaudio_update(struct tfd *d);
TF_WUR int tfd_callaudio_apply(struct tfd *d, struct tfd_persona *q);
void tfd_callaudio_report(struct tfd *d, struct tfd_persona *p, bool active);
struct tfd_persona *tfd_callaudio_holder(struct tfd *d);

/* dispatch.c */
typedef enum tfd_disp (*tfd_handler)(struct tfd *d, struct tfd_conn *c,
				     const struct tf_msg *m,
				     struct tfd_persona *p,
				     struct tfd_reply *rep);
void tfd_dispatch(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m);
struct tfd_persona *tfd_persona_find(struct tfd *d, const char *name);
/* The persona a request names, or NULL after the ENOENT refusal naming it
 * (escaped) went into rep. */
struct tfd_persona *tfd_persona_lookup(struct tfd *d, const char *name,
				       struct tfd_reply *rep);
/* Two memory streams, the reply's text and JSON; false (nothing left
 * open, *text and *json freed and NULL) when out of memory. */
bool tfd_streams_open(FILE **t, char **text, size_t *tlen, FILE **j,
		      char **json, size_t *jlen);

/* server.c: the loop's sources. add watches fd (events: EPOLLIN, ...)
 * and calls cb(d, s, events) from then on; del stops that (the fd stays
 * open: its owner closes it). One event is handled per wakeup, so a
 * callback may free any source, its own included. */
TF_WUR int tfd_source_add(struct tfd *d, struct tfd_source *s, int fd,
			  uint32_t events, tfd_source_cb cb, void *data);
void tfd_source_del(struct tfd *d, struct tfd_source *s);
/* A one-shot timer source (a timerfd on CLOCK_BOOTTIME, made at the
 * first arm): cb runs once, ns from now; re-arming replaces the time. */
TF_WUR int tfd_timer_arm(struct tfd *d, struct tfd_source *s, uint64_t ns,
			 tfd_source_cb cb, void *data);
void tfd_timer_disarm(struct tfd *d, struct tfd_source *s);
void tfd_timer_close(struct tfd *d, struct tfd_source *s);
int tfd_send_reply(struct tfd_conn *c, uint16_t type,
		   const struct tfd_reply *rep);
/* The same with descriptors (SCM_RIGHTS) on the reply. */
int tfd_send_reply_fds(struct tfd_conn *c, uint16_t type,
		       const struct tfd_reply *rep, const int *fds,
		       size_t nfds);
/* Answer c's request (now, or the reply-later one) with rep: send it,
 * then run rep->after, free rep's output; c == NULL (the client left)
 * only runs after and frees. */
void tfd_conn_reply(struct tfd *d, struct tfd_conn *c, struct tfd_reply *rep);
void tfd_conn_close(struct tfd *d, struct tfd_conn *c);

/* jobs.c: slow work off the loop. run executes on a worker thread; done
 * on the loop once it returned (its completion is an eventfd source).
 * The worker thread touches only what its job owns. */
struct tfd_job {
	struct tfd_source src;
	pthread_t th;
	void (*run)(struct tfd_job *j);
	void (*done)(struct tfd *d, struct tfd_job *j);
	struct tfd_persona *p;
	struct tfd_conn *c;	/* the waiting request; NULL if it left */
	_Atomic bool cancelled; /* a lock-down overtook it: discard */
	bool uses_keystore;
	const char *what; /* its request's name, for the debug log */
	uint64_t t0_ns;
};
TF_WUR int tfd_job_start(struct tfd *d, struct tfd_job *j);
/* The key store is held by a job: the loop must not call it now. */
bool tfd_keystore_busy(const struct tfd *d);
/* At exit: wait for the running jobs, then complete them cancelled. */
void tfd_jobs_shutdown(struct tfd *d);
/* A connection goes: forget it in every job and waiter. */
void tfd_conn_forget(struct tfd *d, struct tfd_conn *c);

/* handlers: requests with a persona are paired with the CLI's verbs by
 * file name (req_persona.c: verb_persona.c, ...; docs/ARCHITECTURE.md) */
#define TFD_HANDLER(name)                                                      \
	enum tfd_disp name(struct tfd *, struct tfd_conn *,                    \
			   const struct tf_msg *, struct tfd_persona *,        \
			   struct tfd_reply *)
TFD_HANDLER(tfd_req_ping);
TFD_HANDLER(tfd_req_status);
TFD_HANDLER(tfd_req_start);
TFD_HANDLER(tfd_req_stop);
TFD_HANDLER(tfd_req_restart);
TFD_HANDLER(tfd_req_run);
TFD_HANDLER(tfd_req_signal);
TFD_HANDLER(tfd_req_switch);
TFD_HANDLER(tfd_req_enroll);
TFD_HANDLER(tfd_req_unlock);
TFD_HANDLER(tfd_req_lock);
TFD_HANDLER(tfd_req_wipe);
TFD_HANDLER(tfd_req_subscribe);
TFD_HANDLER(tfd_req_net_status);
TFD_HANDLER(tfd_req_app_install);
TFD_HANDLER(tfd_req_app_list);
TFD_HANDLER(tfd_req_app_remove);
TFD_HANDLER(tfd_req_tunnel_key);
/* req_copy.c: twofold copy (quarantine, scanner helper, Inbox) */
TFD_HANDLER(tfd_req_copy);
TFD_HANDLER(tfd_req_exec_seal);
void tfd_copy_forget(struct tfd_conn *c); /* the client left */
void tfd_copy_shutdown(void);		  /* at exit: stop the scanner */
/* The one scanner helper, shared by copies and app installs: claim it on
 * the loop (started, or restarted for p's database; -EBUSY while a copy
 * or an install holds it; why says what failed), scan fds from the
 * job's thread, release it on the loop when the job is done. */
struct tf_scan_wire;
TF_WUR int tfd_scanner_claim(struct tfd *d, const struct tfd_persona *p,
			     char *why, size_t whylen);
TF_WUR int tfd_scanner_scan(int fd, struct tf_scan_wire *w, char *why,
			    size_t whylen);
/* The same in two halves, to keep several files in flight (the helper
 * scans TF_SCAN_THREADS at once, answering in any order, each with its
 * request's tag). recv: 0 with w (w->err < 0: that file's scan failed),
 * or -errno: the helper is gone and every file in flight unanswered. */
TF_WUR int tfd_scanner_send(int fd, uint32_t tag, char *why, size_t whylen);
TF_WUR int tfd_scanner_recv(struct tf_scan_wire *w, char *why, size_t whylen);
void tfd_scanner_release(void);
/* req_keys.c: was p crypto-erased by its failure counter? Otherwise by
 * a wipe, a remote wipe or the duress credential, which replies and
 * status do not tell apart (the audit log does). */
bool tfd_erased_by_failures(struct tfd *d, struct tfd_persona *p);

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

/* lifecycle.c: the transition table and its actions. */
/* Is event ev allowed in p's state? */
bool tfd_lc_allowed(const struct tfd_persona *p, enum tfd_event ev);
/* Take the transition (p->state, ev); to is the state for rows whose
 * action chooses it (halt, failed unlock), else ignored. false (and
 * logged) when the table has no such row: the state is left alone. */
bool tfd_lc_fire(struct tfd *d, struct tfd_persona *p, enum tfd_event ev,
		 enum tfd_pstate to);
/* Why request `what` (ev) is not allowed in p's state, and what to type:
 * the refusal of the state's row, into rep. */
void tfd_lc_refuse(struct tfd *d, struct tfd_persona *p, enum tfd_event ev,
		   struct tfd_reply *rep);
/* The status word of a state, and its hint ("unlock: twofold unlock"),
 * NULL when it has none. */
const char *tfd_pstate_name(enum tfd_pstate s);
const char *tfd_lc_hint(const struct tfd_persona *p);
TF_WUR int tfd_persona_start(struct tfd *d, struct tfd_persona *p, char *err,
			     size_t errlen);
/*
 * Stop p's processes, and with evict remove its key too, without waiting:
 * they are killed now, the loop sees them go (halt above). 0: done now
 * (nothing ran; *res the result); 1: under way, w (may be NULL) is
 * resumed with the result once done; -errno when w cannot be added. A
 * halt already under way takes w and evict too.
 */
#define TFD_PENDING 1
int tfd_halt(struct tfd *d, struct tfd_persona *p, bool evict,
	     const struct tfd_waiter *w, int *res);
/*
 * Screen-lock p (RUNNING): write cgroup.freeze and let the loop wait for
 * "frozen 1" (deadline 5 s: -ETIMEDOUT, thawed again). Returns like
 * tfd_halt: 0 done now (*res), TFD_PENDING (w resumed with the result),
 * -errno. A halt that begins meanwhile resumes w with -ECANCELED.
 */
int tfd_freeze(struct tfd *d, struct tfd_persona *p, const struct tfd_waiter *w,
	       int *res);
/* Stop for a device-bound persona; evict for a credential one. */
int tfd_halt_stop_or_evict(struct tfd *d, struct tfd_persona *p,
			   const struct tfd_waiter *w, int *res);
/* Synchronous stop (start-up failures, exit): waits for the processes. */
int tfd_persona_stop_sync(struct tfd *d, struct tfd_persona *p);
void tfd_persona_init_exited(struct tfd *d, struct tfd_source *s,
			     uint32_t events);
void tfd_timer_tick(struct tfd *d);

/* netns.c: each persona's network namespace (issue 12). Setup at start
 * (after the config, before any persona starts): a namespace per persona
 * with lo up, nat links and the inet twofold table, resolv.conf files;
 * shutdown at exit removes the table and the links. */
TF_WUR int tfd_netns_setup(struct tfd *d, char *err, size_t errlen);
void tfd_netns_shutdown(struct tfd *d);
/* The persona's namespace (an fd owned by the daemon: do not close), or
 * -1 before setup. Valid for the daemon's whole life, whatever the
 * persona's state: tunnel.c makes tun0 in it (tf_net_tun_create). */
int tfd_netns_fd(const struct tfd_persona *p);
/* The resolv.conf the persona's init binds, "" for none. */
const char *tfd_netns_resolv(const struct tfd_persona *p);
/* "tfv<i>": the persona's host-side veth name (nat). */
void tfd_netns_host_if(const struct tfd *d, const struct tfd_persona *p,
		       char buf[static 16]);
/* Build and apply the inet twofold table again from the config and the
 * links made (atomic replace). */
TF_WUR int tfd_netns_firewall(struct tfd *d, char *err, size_t errlen);

/* device.c: the device's storage and keys, brought up at start-up. */
/* The fd of p's mounted file system (-ENODEV: no storage). */
int tfd_storage_fd(const struct tfd_persona *p);
TF_WUR int tfd_personas_setup(struct tfd *d, char *err, size_t errlen);
void tfd_personas_shutdown(struct tfd *d);
/* Remove p's key now (one try, no wait); 0 when ABSENT, else
 * evict_pending is set and the timer retries (report: log that). *tries
 * (may be NULL) gets the removals made. */
int tfd_evict_key(struct tfd *d, struct tfd_persona *p, bool report,
		  unsigned *tries);
/* lifecycle.c: the same, then retried on p's timer for up to a second
 * (a halt's key removal phase) before the 1 s tick takes over. */
int tfd_evict_key_soon(struct tfd *d, struct tfd_persona *p);
/* Why p's key removal is pending: "files busy" or the error. */
const char *tfd_evict_reason(const struct tfd_persona *p);

void tfd_app_exited(struct tfd *d, struct tfd_source *s, uint32_t events);
/* SIGCHLD: tell each CLI whose app stopped (req_run.c). */
void tfd_apps_sigchld(struct tfd *d);
/* "SIGTERM" for a log line (sigabbrev_np), "signal N" for one without a
 * name; a per-thread buffer, valid until the next call */
const char *tfd_signal_name(unsigned signo);
/* Every second: remove finished run cgroups, reap children nobody tracks,
 * kill orphaned runs whose grace is over (req_run.c). */
void tfd_run_tick(struct tfd *d);
/* A run whose client left: killed at the next tick after the grace (or
 * now, when the list is full). */
void tfd_orphan_add(struct tfd *d, struct tfd_conn *c);
/* Signal a `run` app's process group if it is still ours to signal. */
int tfd_app_signal(struct tfd_conn *c, int sig);

/* tunnel.c (docs/network.md): the tunnel processes of the `tunnel`
 * personas. setup after the personas' namespaces exist; tick every
 * second (asks each for fresh counters); shutdown ends them. */
void tfd_tunnels_setup(struct tfd *d);
void tfd_tunnels_tick(struct tfd *d);
void tfd_tunnels_shutdown(struct tfd *d);
/* The device-bound key pair of p's tunnel in suite: priv gets
 * TF_TUN_KEY_BYTES (wipe it), pub *publen bytes (32 or 65). -EBUSY while
 * a job holds the key store. */
TF_WUR int tfd_tunnel_key(struct tfd *d, const struct tfd_persona *p,
			  uint8_t suite, uint8_t *priv, uint8_t *pub,
			  size_t *publen);
/* net status words: the state ("not-configured", "down", "handshaking",
 * "up", "restarting") and the one-line error, NULL when none */
const char *tfd_tunnel_state_name(const struct tfd_tunnel *t);
const char *tfd_tunnel_error(const struct tfd_tunnel *t);
/* The test-only body (TWOFOLD_FAULT=tunnel-stub): takes CONFIG and its
 * fds, answers STATUS "down", moves no packet. Never the real one. */
TF_NORETURN void tfd_tunnel_stub_main(int ctl);

/* status_guess.c: what bounds offline guessing without a TPM */
double tfd_gpu_guesses_per_s(uint32_t passes, uint64_t mem_kib);
void tfd_human_duration(double s, char *buf, size_t cap);
void tfd_status_guessing(struct tfd *d, FILE *t, FILE *j);
int tfd_dir_has_data(const char *path);
/* Remove a persona's (unreadable) data after a crypto-erase. */
int tfd_persona_wipe_data(struct tfd_persona *p);
/* The same for a path (a job's own copy; touches nothing else). */
int tfd_wipe_dir(const char *dir);
/* Put p's key in the kernel and check its data dir. Fail closed: on any
 * failure after the key went in, it is removed again (evict_pending when
 * that cannot finish; the timer retries). */
TF_WUR int tfd_load_key_and_dir(struct tfd *d, struct tfd_persona *p,
				const uint8_t *fskey, char *err, size_t errlen);
/* Ask the kernel whether p's key is in its keyring and make key_loaded
 * (and evict_pending) say what the kernel says; *st (may be NULL) gets the
 * status. -errno when it cannot be asked (key_loaded left as it was). */
int tfd_key_sync(struct tfd *d, struct tfd_persona *p, enum tf_key_status *st);

/* events.c: state changes streamed to subscribers (docs/protocol.md
 * "Events"). Each sends one TF_REP_EVENT to every subscribed connection;
 * none waits, and a subscriber that falls behind is dropped. */
void tfd_events_state(struct tfd *d, const struct tfd_persona *p,
		      enum tfd_pstate was);
void tfd_events_foreground(struct tfd *d, const struct tfd_persona *to);
void tfd_events_key(struct tfd *d, const struct tfd_persona *p, bool loaded);
/* p's call took (holds) or gave back the sound devices */
void tfd_events_call(struct tfd *d, const struct tfd_persona *p, bool holds);
/* an urgent alert accepted for p (alert.c): its id, never its text */
void tfd_events_alert(struct tfd *d, const struct tfd_persona *p,
		      const char *idhex);
/* a notification kept for p (notify.c): its id, never its text */
void tfd_events_notify(struct tfd *d, const struct tfd_persona *p, uint32_t id);
void tfd_events_throttle(struct tfd *d, const struct tfd_persona *p, int err,
			 unsigned failures, unsigned tries_left,
			 unsigned wait_s);

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

/* execgate.c: the exec gate of a persona without allow_exec_writable
 * (docs/exec.md). Started after its init is set up (a failure stops the
 * start: fail closed), stopped after its processes are gone. rescan:
 * mark mounts made since (an app image under /apps); new mounts are also
 * seen on their own where the kernel reports mount events (6.14). */
struct tf_profile;
bool tfd_gate_wanted(const struct tfd_persona *p);
TF_WUR int tfd_gate_start(struct tfd *d, struct tfd_persona *p,
			  const struct tf_profile *prof, char *err,
			  size_t errlen);
int tfd_gate_rescan(struct tfd_persona *p);
void tfd_gate_stop(struct tfd *d, struct tfd_persona *p);
/* apps.c tells the gate which mounts under /apps are its own (only
 * those execute): attach before the image's mount (mfd, fsmount's fd) is
 * moved into the persona, of an app that is installed, verified and
 * allowed by the catalog; settle after (attached: name's other mounts,
 * the image an update replaced, go; else this one goes); detached when
 * name's mount is gone (remove, disable). No-ops without a gate. */
void tfd_gate_app_attach(struct tfd_persona *p, const char *name, int mfd);
void tfd_gate_app_settle(struct tfd_persona *p, const char *name, int mfd,
			 bool attached);
void tfd_gate_app_detached(struct tfd_persona *p, const char *name);
/* exec seal (req_exec.c): the persona's record of base-file hashes is
 * replaced by hs's entries (a struct tfd_hashes *, emptied) and saved;
 * -ENOTCONN without a running gate */
TF_WUR int tfd_gate_seal(struct tfd *d, struct tfd_persona *p, void *hs);
/* the decisions, for tests: an interpreter's exe basename; a file of
 * script shape (its first bytes, the opener's NUL-separated cmdline) */
bool tfd_gate_is_interpreter(const char *base);
bool tfd_gate_script_shape(const char *path, const char *head, size_t n_head,
			   const char *cmdline, size_t n_cmd);

/* display.c: device.conf display = shell (docs/shell.md). setup makes
 * the shell's socket directories (at start, before the personas);
 * persona_started puts the persona's socket directory into it at
 * /run/user/1000 (a failure is logged: the persona runs without one). */
bool tfd_display_on(const struct tfd *d);
int tfd_display_dir(const struct tfd *d, char *buf, size_t cap);
TF_WUR int tfd_display_setup(struct tfd *d, char *err, size_t errlen);
void tfd_display_persona_started(struct tfd *d, struct tfd_persona *p);

/* notify.c: notifications (docs/shell.md "Notifications"). setup before
 * the personas start (display = shell only); started after the persona's
 * display socket; stopping before its processes are killed; state at
 * every state change (wipes the kept text unless running); tick from the
 * 1 s timer (restarts a dead bus or notifier after its backoff). */
struct tfd_notifier;
void tfd_notify_setup(struct tfd *d);
void tfd_notify_shutdown(struct tfd *d);
void tfd_notify_persona_started(struct tfd *d, struct tfd_persona *p);
void tfd_notify_persona_stopping(struct tfd *d, struct tfd_persona *p);
void tfd_notify_state(struct tfd *d, struct tfd_persona *p);
void tfd_notify_tick(struct tfd *d);
void tfd_notify_status(const struct tfd_persona *p, FILE *t, FILE *j);
enum tfd_disp tfd_req_notify_get(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep);
/* svc.c (struct tfd_svc above): init once; start runs argv[0] (a path
 * the persona sees) as s->uid (TF_APP_UID_DEFAULT unless set after init)
 * in keep-NAME, Landlock writing
 * only beneath ll_write; due: down and its backoff passed; stop kills
 * it and removes keep-NAME. */
void tfd_svc_init(struct tfd_svc *s, const char *name);
TF_WUR int tfd_svc_start(struct tfd *d, struct tfd_persona *p,
			 struct tfd_svc *s, char *const argv[],
			 const char *const *ll_write);
bool tfd_svc_running(const struct tfd_svc *s);
bool tfd_svc_due(const struct tfd_svc *s);
void tfd_svc_stop(struct tfd *d, struct tfd_persona *p, struct tfd_svc *s);
/* Kill it and start it again at the next tick, without a backoff (its
 * exit is reaped on the loop, no zombie stays) */
void tfd_svc_restart(struct tfd_svc *s);
/* One line to a running service with a channel (non-blocking: a service
 * that does not read is not waited for); 0 or -errno. */
int tfd_svc_say(struct tfd_svc *s, const char *line);
/* Lines per second the daemon reads from a service's channel */
#define TFD_SVC_CHAN_LINES_PER_S 16u
/* From the 1 s tick: read a channel a flood had paused again. */
void tfd_svc_chan_tick(struct tfd *d, struct tfd_svc *s);

/* req_comms.c: twofold-comms in a persona (docs/comms.md "In the secure
 * persona"): started with the persona when provisioned, stopped before
 * its processes are killed, restarted from the tick; COMMS (provision,
 * status) */
void tfd_comms_persona_started(struct tfd *d, struct tfd_persona *p);
void tfd_comms_persona_stopping(struct tfd *d, struct tfd_persona *p);
void tfd_comms_tick(struct tfd *d);
/* the foreground moved: each running service is told whether its
 * persona holds it (PTT bursts play aloud only then, or in a call) */
void tfd_comms_foreground(struct tfd *d);
void tfd_comms_status(const struct tfd_persona *p, FILE *t, FILE *j);
enum tfd_disp tfd_req_comms(struct tfd *d, struct tfd_conn *c,
			    const struct tf_msg *m, struct tfd_persona *p,
			    struct tfd_reply *rep);

/* alert.c: urgent alerts. setup after the network namespaces (a UDP
 * socket in each persona's with alert_port) and before serving. */
struct tfd_alerts;
void tfd_alerts_setup(struct tfd *d);
void tfd_alerts_shutdown(struct tfd *d);
enum tfd_disp tfd_req_alert_post(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep);
enum tfd_disp tfd_req_alert_body(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep);

/* shellproc.c: with display = shell and shell_start = yes, twofold-shell
 * started as shell_uid (options from device.conf) and restarted with a
 * backoff when it exits; setup once ready, tick every second, shutdown
 * before the personas stop */
bool tfd_shellproc_on(const struct tfd *d);
void tfd_shellproc_setup(struct tfd *d);
void tfd_shellproc_tick(struct tfd *d);
void tfd_shellproc_shutdown(struct tfd *d);
pid_t tfd_shellproc_pid(void);
/* display.c: the group the shell's directory is open to */
gid_t tfd_display_shell_gid(const struct tfd *d);

/* req_clip.c: the shell's cross-persona paste (device.conf
 * clipboard_flows; unset: non-credential into credential only) */
bool tfd_clip_allowed(const struct tfd *d, const struct tfd_persona *from,
		      const struct tfd_persona *to);
enum tfd_disp tfd_req_cross_copy(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep);

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
