/* SPDX-License-Identifier: ISC */
/*
 * The persona lifecycle: one transition table, (state, event) -> state,
 * that dispatch (which requests a state allows), the refusals and hints
 * ("unlock it with: twofold unlock secure") and status all read; and the
 * actions that take a persona from one state to the next: start, the halt
 * (stop or evict) and the timer that turns a lock into an evict.
 *
 * A halt never waits on the loop: the persona's processes are killed at
 * once (cgroup.kill), then the loop watches init's pidfd and the cgroup's
 * cgroup.events (the kernel notifies "populated 0" with EPOLLPRI, also on
 * a hybrid host's /sys/fs/cgroup/unified, seen on 6.18), with a deadline
 * on the persona's timer. Once they are gone the key is removed; a removal
 * the kernel cannot finish yet (files busy) is retried on the same timer
 * for up to a second, then every second by tfd_timer_tick. Requests that
 * wait for a halt (stop, lock --evict, wipe, restart) are its waiters.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"
#include "apps.h"
#include "daemon.h"

/* As long as tf_persona_stop() itself would wait for the processes. */
#define HALT_DEADLINE_NS (10ull * 1000000000ull)
/*
 * How long a lock-down retries a key removal the kernel could not finish
 * before it answers "pending" (then the 1 s tick goes on). A normal evict
 * needs 1-3 removals and ~65-80 ms with 100 processes on this 2-vCPU VM,
 * most of it the kill; what is still busy after a second is a file held
 * open from outside the persona, which only its holder can end.
 */
#define REMOVE_BUDGET_NS (1000ull * 1000000ull)

/* ---- the tables ---- */

#define SAME 0u	   /* the state stays (a request's own action decides) */
#define CHOSEN ~0u /* the action chooses the state (tfd_lc_fire's to) */
#define ALL TFD_P_ANY

struct transition {
	unsigned from; /* states (a mask) */
	enum tfd_event ev;
	unsigned to; /* a state, SAME or CHOSEN */
	const char *does;
};

/* Read from top to bottom: the first row whose states hold p's and whose
 * event is ev. A request is allowed exactly when it has a row. */
static const struct transition table[] = {
	/* requests (dispatch.c: each request type names its event) */
	{TFD_P_STOPPED, TFD_EV_START, SAME,
	 "start its container (a credential persona only with its key in)"},
	{TFD_P_RUNNING | TFD_P_FROZEN, TFD_EV_STOP, SAME,
	 "halt: stop (device-bound) or evict (credential)"},
	/* not FROZEN: a restart must not turn a screen lock into a running
	 * persona; unlock first */
	{TFD_P_RUNNING | TFD_P_STOPPED, TFD_EV_RESTART, SAME,
	 "halt without evict, then start"},
	{TFD_P_RUNNING, TFD_EV_RUN, SAME, "launch an app (req_run.c)"},
	/* only RUNNING: a locked persona never gets the foreground devices
	 * (foreground.c); unlock it first */
	{TFD_P_RUNNING, TFD_EV_SWITCH, SAME, "take the foreground devices"},
	{TFD_P_NOKEY | TFD_P_RUNNING | TFD_P_FROZEN | TFD_P_EVICTED |
		 TFD_P_STOPPED | TFD_P_ERASED,
	 TFD_EV_ENROLL, SAME, "set, change or add a duress credential"},
	{TFD_P_FROZEN | TFD_P_EVICTED | TFD_P_STOPPED, TFD_EV_UNLOCK,
	 TFD_P_UNLOCKING, "check the credential on a worker thread"},
	/* every state: a lock-down must reach a key wherever the kernel
	 * has it (stopped with its key, a removal pending, an erase whose
	 * removal did not finish, an unlock under way: cancelled); the
	 * handler asks the kernel and refuses what has nothing to lock */
	{ALL, TFD_EV_LOCK, SAME, "freeze, or with --evict a lock-down"},
	/* every state: a wipe (and a remote wipe, which retries) must
	 * reach a persona whatever it is doing; the handler refuses a
	 * device-bound persona and anyone but root */
	{ALL, TFD_EV_WIPE, SAME, "evict, crypto-erase, remove its data"},

	/* the daemon's own transitions */
	{TFD_P_STOPPED, TFD_EV_STARTED, TFD_P_RUNNING, "its init runs"},
	{TFD_P_RUNNING, TFD_EV_FREEZE, TFD_P_FREEZING,
	 "screen lock: cgroup.freeze written, the loop waits for frozen 1"},
	{TFD_P_FREEZING | TFD_P_RUNNING, TFD_EV_FROZEN, TFD_P_FROZEN,
	 "screen lock"},
	{TFD_P_FREEZING, TFD_EV_FREEZE_FAILED, TFD_P_RUNNING,
	 "not frozen by the deadline: thawed, running as before"},
	{TFD_P_UNLOCKING, TFD_EV_UNLOCKED, TFD_P_RUNNING,
	 "right credential: thawed, or key loaded and started"},
	{TFD_P_UNLOCKING, TFD_EV_UNLOCK_FAILED, CHOSEN,
	 "wrong credential, or cancelled: back to where it was"},
	/* also UNLOCKING: a key its start added and could not use leaves
	 * the kernel again (fail closed) */
	{ALL, TFD_EV_HALT, TFD_P_STOPPING,
	 "kill everything now; the loop waits for it to go"},
	{TFD_P_STOPPING, TFD_EV_HALTED, CHOSEN,
	 "processes gone (key removed): stopped, locked, or as it was"},
	{TFD_P_NOKEY | TFD_P_ERASED, TFD_EV_ENROLLED, TFD_P_EVICTED,
	 "first credential set: locked until unlocked"},
	{TFD_P_STOPPED, TFD_EV_LOCKED_DOWN, TFD_P_EVICTED,
	 "lock --evict with no process and no key"},
	{ALL, TFD_EV_ERASED, TFD_P_ERASED, "crypto-erased"},
};

/*
 * Per state: its status word, the refusal of a request it does not allow
 * (the errno and the sentence; "{}" is the persona's name) and the hint
 * status prints. A credential persona and a device-bound one differ only
 * where they are stopped.
 */
struct state_info {
	enum tfd_pstate state;
	const char *name;
	int err;
	const char *refuse, *refuse_dev;
	const char *hint, *hint_dev;
	const char *reason, *reason_dev; /* of the refusal (twofold/error.h) */
};

static const struct state_info states[] = {
	{TFD_P_STOPPED, "stopped", -ESRCH,
	 "{} is not running; unlock it with: twofold unlock {}",
	 "{} is stopped; start it with: twofold persona start {}",
	 "unlock: twofold unlock", "start: twofold persona start",
	 TF_R_PERSONA_NOT_RUNNING, TF_R_PERSONA_STOPPED},
	{TFD_P_RUNNING, "running", -EALREADY, "{} is already running", NULL,
	 NULL, NULL, TF_R_PERSONA_RUNNING, NULL},
	{TFD_P_FROZEN, "frozen", -EACCES,
	 "{} is locked; unlock it with: twofold unlock {}", NULL,
	 "unlock: twofold unlock", NULL, TF_R_PERSONA_LOCKED, NULL},
	{TFD_P_EVICTED, "locked", -EACCES,
	 "{} is locked; unlock it with: twofold unlock {}", NULL,
	 "unlock: twofold unlock", NULL, TF_R_PERSONA_LOCKED, NULL},
	{TFD_P_NOKEY, "no-credential", -ENOKEY,
	 "{} has no credential yet; set one with: twofold enroll {}", NULL,
	 "set a credential: twofold enroll", NULL, TF_R_PERSONA_NO_CREDENTIAL,
	 NULL},
	{TFD_P_ERASED, "erased", -ENOKEY,
	 "{} was crypto-erased; its data is gone", NULL,
	 "enroll it again, empty: twofold enroll", NULL, TF_R_PERSONA_ERASED,
	 NULL},
	{TFD_P_UNLOCKING, "unlocking", -EBUSY,
	 "busy: an unlock of {} is in progress; try again once it is "
	 "answered",
	 NULL, NULL, NULL, TF_R_PERSONA_UNLOCKING, NULL},
	{TFD_P_STOPPING, "stopping", -EBUSY,
	 "busy: {} is stopping; try again once it has (see: twofold status)",
	 NULL, NULL, NULL, TF_R_PERSONA_STOPPING, NULL},
	{TFD_P_FREEZING, "freezing", -EBUSY,
	 "busy: {} is being locked; try again once the lock is answered", NULL,
	 NULL, NULL, TF_R_PERSONA_FREEZING, NULL},
};

static const struct state_info *info_of(enum tfd_pstate s)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(states); i++)
		if (states[i].state == s)
			return &states[i];
	return NULL;
}

static const struct transition *row_of(enum tfd_pstate s, enum tfd_event ev)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(table); i++)
		if ((table[i].from & s) && table[i].ev == ev)
			return &table[i];
	return NULL;
}

const char *tfd_pstate_name(enum tfd_pstate s)
{
	const struct state_info *si = info_of(s);

	return si ? si->name : "unknown";
}

bool tfd_lc_allowed(const struct tfd_persona *p, enum tfd_event ev)
{
	return row_of(p->state, ev) != NULL;
}

bool tfd_lc_fire(struct tfd *d, struct tfd_persona *p, enum tfd_event ev,
		 enum tfd_pstate to)
{
	const struct transition *t = row_of(p->state, ev);
	enum tfd_pstate was = p->state;

	if (t == NULL) {
		tf_err("%s: internal: event %d not allowed when %s",
		       p->cfg->name, (int)ev, tfd_pstate_name(was));
		return false;
	}
	if (t->to == CHOSEN)
		p->state = to;
	else if (t->to != SAME)
		p->state = (enum tfd_pstate)t->to;
	if (p->state != was) {
		tf_debug("%s: %s -> %s (%s)", p->cfg->name,
			 tfd_pstate_name(was), tfd_pstate_name(p->state),
			 t->does);
		/* every state change goes through here: the one hook */
		tfd_events_state(d, p, was);
		/* out of "running": its notifications' text is wiped */
		tfd_notify_state(d, p);
	}
	return true;
}

/* tmpl with every "{}" replaced by name */
static void fill(char *out, size_t cap, const char *tmpl, const char *name)
{
	size_t o = 0, nl = strlen(name);

	for (const char *s = tmpl; *s && o + 1 < cap; s++) {
		if (s[0] == '{' && s[1] == '}') {
			size_t k = TF_MIN(nl, cap - 1 - o);
			memcpy(out + o, name, k);
			o += k;
			s++;
			continue;
		}
		out[o++] = *s;
	}
	out[o] = '\0';
}

void tfd_lc_refuse(struct tfd *d, struct tfd_persona *p, enum tfd_event ev,
		   struct tfd_reply *rep)
{
	const struct state_info *si = info_of(p->state);
	const char *n = p->cfg->name;
	char msg[sizeof(rep->msg)];

	if (si == NULL) {
		tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_DENIED, n,
			       "%s: not allowed now", n);
		return;
	}
	/* systemctl-like: asking for the state the persona is in is done,
	 * not an error (a panic-button or provisioning script must not fail
	 * because the work was done already); the note says so */
	if (p->state == TFD_P_RUNNING &&
	    (ev == TFD_EV_START || ev == TFD_EV_UNLOCK)) {
		tfd_reply_err(rep, 0, "%s is already %s (nothing to do)", n,
			      ev == TFD_EV_START ? "running" : "unlocked");
		return;
	}
	/* a device-bound persona's key stays in when it stops; a credential
	 * persona stopped with its key in is evicted by a stop, not done */
	if (ev == TFD_EV_STOP && (!p->cfg->credential || !p->key_loaded) &&
	    !p->evict_pending &&
	    (p->state &
	     (TFD_P_STOPPED | TFD_P_EVICTED | TFD_P_NOKEY | TFD_P_ERASED))) {
		tfd_reply_err(rep, 0, "%s is already stopped (nothing to do)",
			      n);
		return;
	}
	if ((p->state == TFD_P_FROZEN || p->state == TFD_P_EVICTED) &&
	    ev == TFD_EV_SWITCH) {
		tfd_reply_fail(
			rep, -EACCES, TF_R_PERSONA_LOCKED, n,
			"%s is locked; unlock it first: twofold unlock %s", n,
			n);
		return;
	}
	if ((p->state == TFD_P_FROZEN || p->state == TFD_P_EVICTED) &&
	    p->evict_pending) {
		tfd_reply_fail(
			rep, -EACCES, TF_R_PERSONA_EVICT_PENDING, n,
			"%s is locked (lock-down still removing its key: "
			"%s); unlock it with: twofold unlock %s",
			n, tfd_evict_reason(p), n);
		tfd_reply_param(rep, "cause", "%s", tfd_evict_reason(p));
		return;
	}
	if (p->state == TFD_P_ERASED) {
		/* the cause only when it was the counter (see
		 * tfd_erased_by_failures) */
		bool byf = tfd_erased_by_failures(d, p);

		tfd_reply_fail(rep, si->err, TF_R_PERSONA_ERASED, n,
			       "%s was crypto-erased%s; its data "
			       "is gone",
			       n, byf ? " after too many failed attempts" : "");
		if (byf)
			tfd_reply_param(rep, "cause", "failed_attempts");
		return;
	}
	fill(msg, sizeof(msg),
	     !p->cfg->credential && si->refuse_dev ? si->refuse_dev
						   : si->refuse,
	     n);
	tfd_reply_fail(rep, si->err,
		       !p->cfg->credential && si->reason_dev ? si->reason_dev
							     : si->reason,
		       n, "%s", msg);
}

const char *tfd_lc_hint(const struct tfd_persona *p)
{
	const struct state_info *si = info_of(p->state);

	if (si == NULL)
		return NULL;
	if (p->state == TFD_P_EVICTED && p->evict_pending)
		return "evict: pending, retrying; unlock: twofold unlock";
	if (!p->cfg->credential && si->hint_dev)
		return si->hint_dev;
	return si->hint;
}

/* ---- start ---- */

static size_t p_index(const struct tfd *d, const struct tfd_persona *p)
{
	return (size_t)(p - d->personas);
}

int tfd_persona_start(struct tfd *d, struct tfd_persona *p, char *err,
		      size_t errlen)
{
	/* the persona's policy, built once per start (profile.h); the
	 * persona keeps its own copy */
	struct tf_profile prof;
	struct tf_persona_spec spec = {
		.cfg = p->cfg,
		.prof = &prof,
		.data_dir = p->data_dir,
		.cgroup_group = d->cg_group,
		.foreground = p->foreground,
		.cg = steal_pointer(&p->pre_cg), /* taken over */
		/* the daemon's namespace for it (netns.c), kept across
		 * restarts: the init joins it */
		.has_netns = p->has_netns,
		.netns_fd = p->netns_fd,
	};
	size_t idx = p_index(d, p);
	uint64_t t0 = tf_now_ns();
	int r;

	r = tf_profile_for_persona(&d->cfg, p->cfg, &prof, err, errlen);
	if (r == 0 && tf_strlcpy(prof.resolv_conf, tfd_netns_resolv(p),
				 sizeof(prof.resolv_conf)) < 0)
		r = -ENAMETOOLONG;
	if (r == 0)
		r = tf_persona_start(&spec, &p->rt, err, errlen);
	else if (spec.cg)
		(void)tf_cgroup_destroy(spec.cg); /* start would have */
	if (r < 0)
		return r;
	r = tfd_source_add(d, &p->init_src, tf_persona_pidfd(p->rt), EPOLLIN,
			   tfd_persona_init_exited, p);
	/* before any app can be launched: fail closed without the gate */
	if (r == 0 && tfd_gate_wanted(p)) {
		r = tfd_gate_start(d, p, &prof, err, errlen);
		if (r < 0) {
			tfd_source_del(d, &p->init_src);
			tf_persona_stop(p->rt);
			p->rt = NULL;
			return r;
		}
	}
	if (r < 0) {
		tf_persona_stop(p->rt);
		p->rt = NULL;
		snprintf(err, errlen, "%s: cannot watch its init: %s",
			 p->cfg->name, strerror(-r));
		return r;
	}
	/* the installed apps, before any run can ask for one */
	tfd_apps_persona_started(d, p);
	/* its display socket (display = shell), before any app runs */
	tfd_display_persona_started(d, p);
	/* its session bus and notifier (display = shell), as its app uid */
	tfd_notify_persona_started(d, p);
	/* from STOPPED (start, restart) or UNLOCKING (an unlock's end) */
	if (p->state == TFD_P_UNLOCKING)
		(void)tfd_lc_fire(d, p, TFD_EV_UNLOCKED, 0);
	else
		(void)tfd_lc_fire(d, p, TFD_EV_STARTED, 0);
	/* another persona's call may hold the sound devices: then none
	 * for this one either, even in the foreground (callaudio.c) */
	r = tfd_callaudio_apply(d, p);
	if (r < 0)
		tf_warn("%s: setting who may open the sound devices: %s",
			p->cfg->name, strerror(-r));
	/* twofold-comms (comms = yes, provisioned), once it runs */
	tfd_comms_persona_started(d, p);
	tfd_audit(d, 0, "persona.start", p, NULL, "init_pid=%d",
		  tf_persona_init_pid(p->rt));
	/* the guard kills it (cgroup.kill) if the daemon dies */
	tfd_guard_cgroup(idx, tf_persona_cgroup_fd(p->rt));
	tf_info("%s: started (init pid %d, %.1f ms)%s", p->cfg->name,
		tf_persona_init_pid(p->rt), (double)(tf_now_ns() - t0) / 1e6,
		p->foreground ? ", foreground" : "");
	return 0;
}

int tfd_persona_stop_sync(struct tfd *d, struct tfd_persona *p)
{
	int r;

	if (p->rt == NULL)
		return 0;
	tfd_source_del(d, &p->init_src);
	tfd_notify_persona_stopping(d, p);
	tfd_comms_persona_stopping(d, p);
	r = tf_persona_stop(p->rt);
	p->rt = NULL;
	tfd_gate_stop(d, p); /* nothing of the persona is left to block */
	tfd_guard_cgroup_clear(p_index(d, p));
	tf_info("%s: stopped", p->cfg->name);
	tfd_audit(d, 0, "persona.stop", p, NULL, "result=%d", r);
	return r;
}

/* ---- halt: stop or evict without waiting on the loop ---- */

static void halt_timer(struct tfd *d, struct tfd_source *s, uint32_t events);
static void halt_events(struct tfd *d, struct tfd_source *s, uint32_t events);

static void events_close(struct tfd *d, struct tfd_halt *h)
{
	if (h->events.fd < 0)
		return;
	tfd_source_del(d, &h->events);
	close(h->events.fd);
	h->events.fd = -1;
}

/* One "KEY 0|1" line of cgroup.events ("populated", "frozen"); the read
 * also re-arms its EPOLLPRI (kernfs reports a change once per open file
 * until it is read). */
static int read_event_flag(int fd, const char *key, bool *on)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	size_t klen = strlen(key);
	const char *k;

	if (n < 0)
		return tf_negerrno();
	buf[n] = '\0';
	for (k = strstr(buf, key); k != NULL; k = strstr(k + 1, key))
		if ((k == buf || k[-1] == '\n') && k[klen] == ' ')
			break;
	if (k == NULL)
		return -EPROTO;
	*on = k[klen + 1] == '1';
	return 0;
}

static int read_populated(int fd, bool *populated)
{
	return read_event_flag(fd, "populated", populated);
}

static bool pidfd_done(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

static void halt_finish(struct tfd *d, struct tfd_persona *p, int r)
{
	struct tfd_halt *h = &p->halt;
	struct tfd_waiter w[TFD_WAITERS_MAX];
	size_t n = h->n_waiters;

	tfd_timer_disarm(d, &p->timer);
	events_close(d, h);
	h->active = false;
	h->removing = false;
	(void)tfd_lc_fire(d, p, TFD_EV_HALTED, h->then);
	if (h->wipe_data) {
		int q = tfd_persona_wipe_data(p);
		if (q < 0)
			tf_warn("%s: removing its erased data: %s",
				p->cfg->name, strerror(-q));
	}
	memcpy(w, h->waiters, n * sizeof(w[0]));
	h->n_waiters = 0;
	for (size_t i = 0; i < n; i++)
		w[i].resume(d, p, w[i].c, r, w[i].flags);
	tfd_foreground_settle(d);
}

static void remove_step(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_halt *h = &p->halt;
	uint64_t now;
	unsigned t = 0;
	int r;

	r = tfd_evict_key(d, p, false, &t);
	h->tries += t;
	/* the sync job's error, which the removal's own syncfs no longer
	 * sees (errseq: a file system's error is reported once per file) */
	if (h->sync_err < 0 && p->evict_sync_err == 0)
		p->evict_sync_err = h->sync_err;
	if (r == 0) {
		tf_fault_point("evict-after-remove");
		tf_info("%s: evicted in %.1f ms (%u tries)", p->cfg->name,
			(double)(tf_now_ns() - h->t0_ns) / 1e6, h->tries);
		tfd_audit(d, TF_AUDIT_SYNC, "evict.done", p, NULL,
			  "duration_ms=%.1f\ttries=%u",
			  (double)(tf_now_ns() - h->t0_ns) / 1e6, h->tries);
		halt_finish(d, p, 0);
		return;
	}
	now = tf_boottime_ns();
	if (now >= h->remove_end_ns || !p->evict_pending ||
	    tfd_timer_arm(d, &p->timer, (uint64_t)h->delay_us * 1000u,
			  halt_timer, p) < 0) {
		tf_err("%s: key still in the kernel after %u removals (%s); "
		       "the persona stays locked and twofoldd retries every "
		       "second",
		       p->cfg->name, h->tries, tfd_evict_reason(p));
		tfd_audit(d, TF_AUDIT_SYNC, "evict.pending", p, NULL,
			  "duration_ms=%.1f\ttries=%u\terrno=%d",
			  (double)(tf_now_ns() - h->t0_ns) / 1e6, h->tries, -r);
		halt_finish(d, p, r);
		return;
	}
	/* 0.5 ms doubling, at most 100 ms a wait: the dead persona's mount
	 * namespace goes a few ms after its last process (6.18) */
	h->delay_us = TF_MIN(h->delay_us * 2, 100000u);
}

static void remove_begin(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_halt *h = &p->halt;

	h->remove_end_ns = tf_boottime_ns() + REMOVE_BUDGET_NS;
	h->delay_us = 500;
	remove_step(d, p);
}

/*
 * Before the key goes, the persona's dirty data is written (syncfs) on a
 * worker thread: with a lot of it that takes seconds, which the loop must
 * not spend. The job owns a dup of the file system's fd (it never touches
 * the key store or the persona) and its done() removes the key, whose
 * own syncfs then finds little left to write.
 */
struct sync_job {
	struct tfd_job j;
	struct tfd_persona *p; /* not j.p: that slot is an unlock's */
	int fd;
	int err;
};

static void sync_run(struct tfd_job *j)
{
	struct sync_job *s = (struct sync_job *)j;

	s->err = syncfs(s->fd) < 0 ? tf_negerrno() : 0;
	close(s->fd);
	s->fd = -1;
}

static void sync_done(struct tfd *d, struct tfd_job *j)
{
	struct sync_job *s = (struct sync_job *)j;
	struct tfd_persona *p = s->p;
	struct tfd_halt *h = &p->halt;

	h->sync_err = s->err;
	free(s);
	if (h->sync_err < 0)
		tf_warn("%s: syncing its files before the key removal failed: "
			"%s; writes not yet on disk may be lost",
			p->cfg->name, strerror(-h->sync_err));
	if (!h->active || !h->syncing)
		return;
	h->syncing = false;
	remove_begin(d, p);
}

/* 0: the job runs (sync_done goes on); -errno: remove now */
static int sync_begin(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_halt *h = &p->halt;
	struct sync_job *s;
	int fd = tfd_storage_fd(p);
	int r;

	h->sync_err = 0;
	if (fd < 0 || (!p->key_loaded && !p->evict_pending))
		return -ENOKEY;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (s->fd < 0) {
		free(s);
		return tf_negerrno();
	}
	s->p = p;
	s->j.src.fd = -1;
	s->j.run = sync_run;
	s->j.done = sync_done;
	s->j.what = "evict-sync";
	r = tfd_job_start(d, &s->j);
	if (r < 0) {
		close(s->fd);
		free(s);
		return r;
	}
	h->syncing = true;
	return 0;
}

/* Every process is gone (or could not be waited for): tear down, then the
 * key (evict). */
static void processes_gone(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_halt *h = &p->halt;
	int r;

	tfd_timer_disarm(d, &p->timer);
	events_close(d, h);
	r = tfd_persona_stop_sync(d, p);
	if (r < 0 && h->stop_err == 0)
		h->stop_err = r;
	if (r < 0 && h->evict)
		tf_err("%s: stopping it failed (%s); removing its key anyway",
		       p->cfg->name, strerror(-r));
	tf_debug("%s: processes gone after %.1f ms", p->cfg->name,
		 (double)(tf_now_ns() - h->t0_ns) / 1e6);
	if (!h->evict) {
		halt_finish(d, p, h->stop_err);
		return;
	}
	tf_fault_point("evict-after-kill");
	h->removing = true;
	if (sync_begin(d, p) == 0)
		return; /* sync_done goes on */
	remove_begin(d, p);
}

static void halt_check(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_halt *h = &p->halt;

	if (h->active && !h->removing && h->init_gone && h->cg_empty)
		processes_gone(d, p);
}

static void halt_events(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_persona *p = s->data;
	bool populated = true;

	(void)events;
	if (read_populated(s->fd, &populated) < 0 || !populated) {
		/* unreadable: the cgroup went; init's pidfd decides */
		p->halt.cg_empty = true;
		events_close(d, &p->halt);
		halt_check(d, p);
	}
}

static void halt_timer(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_persona *p = s->data;
	struct tfd_halt *h = &p->halt;
	uint64_t exp;

	(void)events;
	if (read(s->fd, &exp, sizeof(exp)) < 0 && errno == EAGAIN)
		return; /* re-armed before it was read */
	if (!h->active)
		return;
	if (h->removing) {
		remove_step(d, p);
		return;
	}
	/* The deadline: a process does not die (uninterruptible sleep, or a
	 * zombie of the persona's pid namespace that a stopped parent
	 * outside does not reap). Its key goes anyway; the waiters are
	 * answered; the loop keeps waiting, and finishes when it goes. */
	h->timed_out = true;
	h->stop_err = -ETIMEDOUT;
	tf_err("%s: its processes did not exit within %llu s of the kill; "
	       "twofoldd keeps waiting",
	       p->cfg->name, HALT_DEADLINE_NS / 1000000000ull);
	if (h->evict)
		(void)tfd_evict_key(d, p, true, NULL);
	{
		struct tfd_waiter w[TFD_WAITERS_MAX];
		size_t n = h->n_waiters;

		memcpy(w, h->waiters, n * sizeof(w[0]));
		h->n_waiters = 0;
		for (size_t i = 0; i < n; i++)
			w[i].resume(d, p, w[i].c, -ETIMEDOUT, w[i].flags);
	}
}

/* Kill everything of p now and watch it go. -errno when this host
 * cannot (no cgroup v2 directory, no cgroup.kill before 5.14): the caller
 * stops synchronously. */
static int kill_begin(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_halt *h = &p->halt;
	int cgfd = tf_persona_cgroup_fd(p->rt);
	bool populated = true;
	int efd, r;

	if (cgfd < 0)
		return -EOPNOTSUPP;
	efd = openat(cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (efd < 0)
		return tf_negerrno();
	/* cgroup.kill: the whole subtree, frozen tasks too, no pid race */
	r = tf_cgroup_write(cgfd, "cgroup.kill", "1");
	if (r == 0)
		r = tfd_source_add(d, &h->events, efd, EPOLLPRI, halt_events,
				   p);
	if (r < 0) {
		close(efd);
		return r;
	}
	/* init at once too: its death zaps the pid namespace */
	(void)syscall(SYS_pidfd_send_signal, tf_persona_pidfd(p->rt), SIGKILL,
		      NULL, 0);
	r = tfd_timer_arm(d, &p->timer, HALT_DEADLINE_NS, halt_timer, p);
	if (r < 0)
		tf_warn("%s: no deadline for its stop: %s", p->cfg->name,
			strerror(-r));
	if (read_populated(efd, &populated) == 0 && !populated) {
		h->cg_empty = true;
		events_close(d, h);
	}
	if (pidfd_done(tf_persona_pidfd(p->rt))) {
		h->init_gone = true;
		tfd_source_del(d, &p->init_src);
	}
	return 0;
}

static int add_waiter(struct tfd_halt *h, const struct tfd_waiter *w)
{
	if (w == NULL)
		return TFD_PENDING;
	if (h->n_waiters == TFD_WAITERS_MAX)
		return -EBUSY;
	h->waiters[h->n_waiters++] = *w;
	return TFD_PENDING;
}

/* ---- screen lock: freeze without waiting on the loop ---- */

/* As long as tf_cgroup_freeze() itself would wait. */
#define FREEZE_DEADLINE_NS (5ull * 1000000000ull)
/* TWOFOLD_FAULT=freeze-delay (tests): cgroup.freeze is written this late,
 * so a test can ask things while a lock is pending */
#define FREEZE_FAULT_DELAY_NS (2ull * 1000000000ull)

static void freeze_timer(struct tfd *d, struct tfd_source *s, uint32_t events);

static void source_close(struct tfd *d, struct tfd_source *s)
{
	if (s->fd < 0)
		return;
	tfd_source_del(d, s);
	close(s->fd);
	s->fd = -1;
}

static int read_frozen(int fd, bool *frozen)
{
	return read_event_flag(fd, "frozen", frozen);
}

static void freeze_resume_all(struct tfd *d, struct tfd_persona *p, int r)
{
	struct tfd_freeze *f = &p->freeze;
	struct tfd_waiter w[TFD_WAITERS_MAX];
	size_t n = f->n_waiters;

	memcpy(w, f->waiters, n * sizeof(w[0]));
	f->n_waiters = 0;
	for (size_t i = 0; i < n; i++)
		w[i].resume(d, p, w[i].c, r, w[i].flags);
}

static void freeze_finish(struct tfd *d, struct tfd_persona *p, int r)
{
	struct tfd_freeze *f = &p->freeze;

	tfd_timer_disarm(d, &p->timer);
	tfd_timer_disarm(d, &f->recheck);
	source_close(d, &f->events);
	f->active = false;
	if (r == 0) {
		(void)tfd_lc_fire(d, p, TFD_EV_FROZEN, 0);
		p->locked_at_ns = tf_boottime_ns(); /* counts suspend */
		tf_debug("%s: frozen after %.1f ms", p->cfg->name,
			 (double)(tf_now_ns() - f->t0_ns) / 1e6);
	} else {
		/* what the state says must be true: running, not half
		 * frozen */
		if (tf_persona_cgroup_fd(p->rt) >= 0)
			(void)tf_persona_freeze_write(p->rt, false);
		tf_warn("%s: not frozen: %s", p->cfg->name, strerror(-r));
		(void)tfd_lc_fire(d, p, TFD_EV_FREEZE_FAILED, 0);
	}
	freeze_resume_all(d, p, r);
	tfd_foreground_settle(d);
}

/* A halt begins: the kill takes frozen tasks too; the lock's answer says
 * it was overtaken. */
static void freeze_cancel(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_freeze *f = &p->freeze;

	if (!f->active)
		return;
	tfd_timer_disarm(d, &p->timer);
	tfd_timer_disarm(d, &f->recheck);
	source_close(d, &f->events);
	f->active = false;
	freeze_resume_all(d, p, -ECANCELED);
}

static void freeze_events(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_persona *p = s->data;
	bool frozen = false;
	int r;

	(void)events;
	r = read_frozen(s->fd, &frozen);
	if (r < 0)
		freeze_finish(d, p, r);
	else if (frozen)
		freeze_finish(d, p, 0);
}

/* Per-child freeze (a keep-* cgroup exists): nothing to epoll for the
 * root, so look again every FREEZE_RECHECK_NS until all say frozen or
 * the deadline passes. A running task stops within microseconds, so
 * this usually ends at the first or second look. */
#define FREEZE_RECHECK_NS (5ull * 1000000ull)

static void freeze_recheck(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_persona *p = s->data;
	uint64_t exp;
	bool frozen = false;
	int r;

	(void)events;
	if (read(s->fd, &exp, sizeof(exp)) < 0 && errno == EAGAIN)
		return;
	if (!p->freeze.active)
		return;
	r = tf_persona_frozen(p->rt, &frozen);
	if (r < 0)
		freeze_finish(d, p, r);
	else if (frozen)
		freeze_finish(d, p, 0);
	else if ((r = tfd_timer_arm(d, &p->freeze.recheck, FREEZE_RECHECK_NS,
				    freeze_recheck, p)) < 0)
		freeze_finish(d, p, r);
}

static int freeze_write(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_freeze *f = &p->freeze;
	bool frozen = false;
	int r;

	/* the root, or each child but keep-* (keep.c) */
	r = tf_persona_freeze_write(p->rt, true);
	if (r < 0)
		return r;
	f->written = true;
	r = tfd_timer_arm(d, &p->timer, FREEZE_DEADLINE_NS, freeze_timer, p);
	if (r < 0)
		tf_warn("%s: no deadline for its lock: %s", p->cfg->name,
			strerror(-r));
	/* already frozen (nothing to stop): no event will come */
	if (tf_persona_frozen(p->rt, &frozen) == 0 && frozen) {
		freeze_finish(d, p, 0);
		return 0;
	}
	if (tf_persona_freeze_per_child(p->rt)) {
		r = tfd_timer_arm(d, &f->recheck, FREEZE_RECHECK_NS,
				  freeze_recheck, p);
		if (r < 0)
			return r;
	}
	return 0;
}

static void freeze_timer(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_persona *p = s->data;
	struct tfd_freeze *f = &p->freeze;
	uint64_t exp;
	int r;

	(void)events;
	if (read(s->fd, &exp, sizeof(exp)) < 0 && errno == EAGAIN)
		return; /* re-armed before it was read */
	if (!f->active)
		return;
	if (!f->written) {
		r = freeze_write(d, p);
		if (r < 0)
			freeze_finish(d, p, r);
		return;
	}
	tf_err("%s: not frozen within %llu s", p->cfg->name,
	       FREEZE_DEADLINE_NS / 1000000000ull);
	freeze_finish(d, p, -ETIMEDOUT);
}

int tfd_freeze(struct tfd *d, struct tfd_persona *p, const struct tfd_waiter *w,
	       int *res)
{
	struct tfd_freeze *f = &p->freeze;
	int cgfd, efd, r;

	if (f->active) {
		if (w == NULL)
			return TFD_PENDING;
		if (f->n_waiters == TFD_WAITERS_MAX)
			return -EBUSY;
		f->waiters[f->n_waiters++] = *w;
		return TFD_PENDING;
	}
	if (p->rt == NULL)
		return -ESRCH;
	cgfd = tf_persona_cgroup_fd(p->rt);
	efd = cgfd < 0 ? -1
		       : openat(cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (efd < 0) {
		/* no cgroup v2 directory to watch (a v1 freezer): the
		 * library's own bounded wait, as before */
		r = tf_persona_freeze(p->rt, true);
		if (r == 0) {
			(void)tfd_lc_fire(d, p, TFD_EV_FROZEN, 0);
			p->locked_at_ns = tf_boottime_ns();
		}
		*res = r;
		return 0;
	}
	r = tfd_source_add(d, &f->events, efd, EPOLLPRI, freeze_events, p);
	if (r < 0) {
		close(efd);
		return r;
	}
	if (!tfd_lc_fire(d, p, TFD_EV_FREEZE, 0)) {
		source_close(d, &f->events);
		return -EBUSY;
	}
	f->active = true;
	f->written = false;
	f->n_waiters = 0;
	f->t0_ns = tf_now_ns();
	if (tf_fault_injected("freeze-delay"))
		r = tfd_timer_arm(d, &p->timer, FREEZE_FAULT_DELAY_NS,
				  freeze_timer, p);
	else
		r = freeze_write(d, p);
	if (r < 0) {
		/* no waiter yet: the caller answers with r */
		freeze_finish(d, p, r);
		return r;
	}
	if (!f->active) { /* frozen already */
		*res = 0;
		return 0;
	}
	if (w != NULL)
		f->waiters[f->n_waiters++] = *w;
	return TFD_PENDING;
}

int tfd_halt(struct tfd *d, struct tfd_persona *p, bool evict,
	     const struct tfd_waiter *w, int *res)
{
	struct tfd_halt *h = &p->halt;
	enum tfd_pstate was = p->state;

	if (h->active) {
		/* a stop under way becomes a lock-down if one is asked */
		if (evict && !h->evict) {
			h->evict = true;
			if (h->then == TFD_P_STOPPED)
				h->then = TFD_P_EVICTED;
		}
		/* past its deadline a process may never go: whoever asks
		 * now is answered now (a wipe goes on with its erase) */
		if (h->timed_out && w != NULL) {
			if (evict)
				(void)tfd_evict_key(d, p, true, NULL);
			*res = -ETIMEDOUT;
			return 0;
		}
		return add_waiter(h, w);
	}
	/* a screen lock under way is overtaken (the kill takes frozen
	 * tasks too) */
	freeze_cancel(d, p);
	h->active = true;
	h->evict = evict;
	h->wipe_data = false;
	h->init_gone = h->cg_empty = h->removing = h->timed_out = false;
	h->syncing = false;
	h->sync_err = 0;
	h->stop_err = 0;
	h->tries = 0;
	h->n_waiters = 0;
	h->t0_ns = tf_now_ns();
	/* an erased or never-enrolled persona stays what it was */
	h->then = !evict				      ? TFD_P_STOPPED
		  : was == TFD_P_ERASED || was == TFD_P_NOKEY ? was
							      : TFD_P_EVICTED;
	if (!tfd_lc_fire(d, p, TFD_EV_HALT, 0)) {
		h->active = false;
		return -EBUSY;
	}
	/* fail closed: a halting persona's call holds no sound device */
	tfd_callaudio_update(d);
	if (p->rt == NULL) {
		h->init_gone = h->cg_empty = true;
		processes_gone(d, p);
	} else if (kill_begin(d, p) < 0) {
		/* no way to watch them go here: as before, the blocking
		 * stop (tf_persona_stop's own bounded wait) */
		h->init_gone = h->cg_empty = true;
		processes_gone(d, p);
	} else {
		halt_check(d, p);
	}
	if (h->active)
		return add_waiter(h, w);
	*res = h->evict ? (p->evict_pending ? p->evict_err : 0) : h->stop_err;
	return 0;
}

int tfd_halt_stop_or_evict(struct tfd *d, struct tfd_persona *p,
			   const struct tfd_waiter *w, int *res)
{
	return tfd_halt(d, p, p->cfg->credential, w, res);
}

int tfd_evict_key_soon(struct tfd *d, struct tfd_persona *p)
{
	int r = 0;

	/* a halt removes it at its end anyway */
	if (p->halt.active)
		return 0;
	if (tfd_halt(d, p, true, NULL, &r) == TFD_PENDING)
		return 0;
	return r;
}

/* The persona's init died: a halt's, or on its own (killed from outside,
 * or a bug): then tear down what is left and say so. */
void tfd_persona_init_exited(struct tfd *d, struct tfd_source *s,
			     uint32_t events)
{
	struct tfd_persona *p = s->data;
	int r;

	(void)events;
	tfd_source_del(d, s);
	if (p->rt == NULL)
		return;
	if (p->halt.active) {
		p->halt.init_gone = true;
		halt_check(d, p);
		return;
	}
	tf_warn("%s: its init exited unexpectedly; persona stopped",
		p->cfg->name);
	/* an unlock under way finds it stopped when it ends */
	if (p->state == TFD_P_UNLOCKING) {
		(void)tfd_persona_stop_sync(d, p);
		return;
	}
	(void)tfd_halt_stop_or_evict(d, p, NULL, &r);
	tfd_foreground_settle(d);
}

void tfd_conn_forget(struct tfd *d, struct tfd_conn *c)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		for (size_t k = 0; k < p->halt.n_waiters; k++)
			if (p->halt.waiters[k].c == c)
				p->halt.waiters[k].c = NULL;
		for (size_t k = 0; k < p->freeze.n_waiters; k++)
			if (p->freeze.waiters[k].c == c)
				p->freeze.waiters[k].c = NULL;
		if (p->wipe_job && p->wipe_job->c == c)
			p->wipe_job->c = NULL;
		if (p->after_job.c == c)
			p->after_job.c = NULL;
		if (p->job && p->job->c == c)
			p->job->c = NULL;
	}
	tfd_copy_forget(c);
	tfd_app_forget(c);
}

void tfd_timer_tick(struct tfd *d)
{
	/* the boot clock: time suspended counts toward lock_evict_after */
	uint64_t now = tf_boottime_ns();

	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		uint64_t after =
			(uint64_t)p->cfg->lock_evict_after * 1000000000ull;
		int r;

		/* a halt or an unlock under way ends by itself */
		if (p->halt.active || p->freeze.active ||
		    p->state == TFD_P_UNLOCKING)
			continue;
		if (p->evict_pending) {
			(void)tfd_evict_key(d, p, false, NULL);
			continue;
		}
		if (tfd_reauth_tick(d, p)) /* reauth.c, CLOCK_BOOTTIME */
			continue;
		if (p->state != TFD_P_FROZEN || after == 0)
			continue;
		if (now - p->locked_at_ns >= after) {
			tf_info("%s: locked for %u s, evicting", p->cfg->name,
				p->cfg->lock_evict_after);
			(void)tfd_halt(d, p, true, NULL, &r);
		}
	}
	tfd_foreground_settle(d);
	tfd_tunnels_tick(d);
	tfd_notify_tick(d);
	tfd_comms_tick(d);
	tfd_audit_tick(d);
}
