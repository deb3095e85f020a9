/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms inside a persona (issue 15 item 6; docs/comms.md "In the
 * secure persona"), the daemon's side of `twofold comms` (cli/verb_comms.c).
 *
 * Provisioning (COMMS, root only, the persona running, i.e. unlocked):
 * the device key, its certificate, the CA's key, the relay's key and the
 * relay's address go into the persona's own encrypted storage,
 * <data dir>/home/.twofold-comms (inside: /home/.twofold-comms), each
 * file written atomically, 0600, owned by the service's own uid
 * TF_COMMS_UID (not the default app uid the officer's terminal runs
 * as), the directory 0711: the default uid reaches the control socket
 * by name but can neither list the directory nor read a key. The
 * storage is fscrypt: a lock-down (evict) removes the key and the files
 * are ciphertext with encrypted names from then on. The daemon reaches
 * that directory from the host with openat2 RESOLVE_NO_SYMLINKS |
 * RESOLVE_BENEATH from the data dir and chowns only through an fd it
 * fstat'ed (a regular file with one link, or a directory), because the
 * persona's processes wrote there (an older version's service ran as
 * the default uid): a planted symlink or hardlink must not turn a root
 * write or chown into one elsewhere. Every start first gives an older
 * version's state dir to TF_COMMS_UID (migrate_dir).
 *
 * Service: with `comms = yes` and the five files there, every start or
 * unlock of the persona runs
 *   twofold-comms --state /home/.twofold-comms service --relay ADDR
 *     --relay-pub F --key F --cert F --ca F --daemon-fd 0
 * through svc.c: TF_COMMS_UID, keep-comms (a screen lock leaves it running),
 * Landlock writing only its state dir, restarted with a backoff. The
 * binary is TWOFOLD_COMMS_BIN (tests: a copy below /usr, which the
 * persona sees as its read-only base) or TF_BINDIR/twofold-comms: the
 * build tree is not visible inside a persona, and the exec gate lets only
 * base-system and app-image files run.
 *
 * Foreground: the service's stdin is svc.c's channel, a socket only the
 * daemon holds the other end of; at every start and every foreground
 * move it says "foreground yes" or "foreground no" there (PTT bursts
 * play aloud only while the persona is in front or a call is active;
 * docs/comms.md "Audio devices"). Not on the control socket: any app of
 * the persona can reach that one as the service's own uid.
 *
 * Calls: the service answers on the same channel, "call active" when a
 * call is answered, "call idle" when it ends and when it starts
 * (callchan.c parses; unknown lines are logged once a run and change
 * nothing); callaudio.c decides from that who holds the sound devices.
 * The service's --audio-dev is the persona's comms_audio (device.conf),
 * none when unset.
 *
 * Status (COMMS with TF_F_COMMS_STATUS): the daemon asks the service on
 * its control socket, reached through /proc/INIT/root, and hands back
 * its printable lines (at most 1 KiB, 1 s). Root only, as provisioning:
 * the officer id is the persona's business. It blocks the loop at most
 * that second (a frozen or wedged service); a job would be the next
 * step if anyone but root could ask.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "tf_config.h"
#include "twofold/atomicfile.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/secmem.h"
#include "apps.h"
#include "daemon.h"

/* the service's own uid: inside every persona's range (uid_count >
 * TF_APP_UID_DEFAULT, config.c), not root, not the tty gid, not the
 * default app uid, not an installed app's */
_Static_assert(TF_COMMS_UID > 0 && TF_COMMS_UID < TF_APP_UID_DEFAULT,
	       "TF_COMMS_UID must be mapped in every persona");
_Static_assert(TF_COMMS_UID != TF_PERSONA_TTY_GID,
	       "TF_COMMS_UID must not be the persona's tty gid");
_Static_assert(TF_COMMS_UID < TFD_APP_UID_FIRST,
	       "TF_COMMS_UID must not be an installed app's uid");

#define COMMS_DIR ".twofold-comms"
#define COMMS_STATE "/home/" COMMS_DIR
#define COMMS_FILE_MAX 4096
#define COMMS_STATUS_MAX 1024

struct pfile {
	const char *arg;  /* "NAME=HEX" in the request */
	const char *file; /* in COMMS_DIR */
	bool secret;
};

static const struct pfile pfiles[] = {
	{"key", "device.key", true}, {"cert", "device.cert", false},
	{"ca", "ca.pub", false},     {"relay-pub", "relay.pub", false},
	{"relay", "relay", false}, /* ADDR:PORT, text */
};
#define N_PFILES (sizeof(pfiles) / sizeof(pfiles[0]))

static const char *comms_bin(void)
{
	const char *e = secure_getenv("TWOFOLD_COMMS_BIN");

	return e && e[0] == '/' ? e : TF_BINDIR "/twofold-comms";
}

static int openat2_beneath(int dfd, const char *path, int flags,
			   uint64_t resolve)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
			   RESOLVE_NO_MAGICLINKS | resolve,
	};
	int fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));

	return fd < 0 ? tf_negerrno() : fd;
}

static int open_beneath(int dfd, const char *path, int flags)
{
	return openat2_beneath(dfd, path, flags, 0);
}

static uid_t comms_uid(const struct tfd_persona *p)
{
	return p->cfg->uid_base + TF_COMMS_UID;
}

/* Give NAME in dir to the comms uid with mode, through an fd opened with
 * no symlink anywhere: what is chowned is what fstat says, never what a
 * name pointed to a moment before. A file with a second name (a
 * hardlink the persona's default uid made to one of its own files
 * while it still owned the directory) or anything but a regular file
 * or directory is refused: root would hand someone's file to the
 * service. *dir_out, when asked for, gets the opened directory. */
static int own_at(int dfd, const char *name, mode_t mode, uid_t uid,
		  int *dir_out)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EPERM;
	/* O_NONBLOCK: a FIFO swapped in after the fstatat must not hang
	 * the loop (it is refused below). No mount crossing either: the
	 * state dir is one file system, a mount in it nothing ours. */
	fd = openat2_beneath(dfd, name,
			     S_ISDIR(st.st_mode)
				     ? O_RDONLY | O_DIRECTORY
				     : O_RDONLY | O_NONBLOCK | O_NOCTTY,
			     RESOLVE_NO_XDEV);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (S_ISDIR(st.st_mode) != (dir_out != NULL) ||
	    (!S_ISDIR(st.st_mode) &&
	     (!S_ISREG(st.st_mode) || st.st_nlink != 1)))
		return -EPERM;
	if ((st.st_uid != uid || st.st_gid != uid) && fchown(fd, uid, uid) < 0)
		return tf_negerrno();
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		return tf_negerrno();
	if (dir_out)
		*dir_out = steal_fd(&fd);
	return 0;
}

/* The state dir, host side: made if absent when make; never through a
 * symlink. With make, owned by the comms uid, 0711: the default uid can
 * neither list nor write it (nor read the 0600 files in it) but can
 * reach the control socket, the officer's interface, by its name. /home
 * is the persona root's 0755 (profile.c), so the default uid cannot
 * swap the directory itself either. */
static int state_dir(const struct tfd_persona *p, bool make)
{
	_cleanup_close_ int data = -1, home = -1, dir = -1;
	int r;

	data = open(p->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (data < 0)
		return tf_negerrno();
	home = open_beneath(data, "home", O_RDONLY | O_DIRECTORY);
	if (home < 0)
		return home;
	if (make && mkdirat(home, COMMS_DIR, 0700) < 0 && errno != EEXIST)
		return tf_negerrno();
	if (!make)
		return open_beneath(home, COMMS_DIR, O_RDONLY | O_DIRECTORY);
	r = own_at(home, COMMS_DIR, 0711, comms_uid(p), &dir);
	if (r < 0)
		return r == -EPERM ? -ENOTDIR : r;
	return steal_fd(&dir);
}

/* An older version ran the service as the default app uid and left the
 * state dir (and everything the service wrote in it: prekeys, sessions,
 * outbox, inbox...) owned by it. The top directory is taken first, so
 * the default uid can make no new name there while the rest is walked;
 * each subdirectory before its contents. Two levels (the service makes
 * no deeper ones); a symlink, a hardlink or a special file is counted
 * and its name removed. The control socket is the service's to
 * remake. */
static int migrate_dir(int dir, uid_t uid, unsigned depth, unsigned *refused)
{
	_cleanup_close_ int dup_fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
	DIR *ds;
	struct dirent *e;
	int r = 0;

	if (dup_fd < 0)
		return tf_negerrno();
	ds = fdopendir(dup_fd);
	if (ds == NULL)
		return tf_negerrno();
	dup_fd = -1;
	while ((e = readdir(ds)) != NULL) {
		struct stat st;
		_cleanup_close_ int sub = -1;
		int k;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISSOCK(st.st_mode) && depth == 0 &&
		    !strcmp(e->d_name, "control"))
			continue;
		/* already the service's: nothing to do (the common case
		 * after the first start: no open per file) */
		if (st.st_uid == uid && st.st_gid == uid &&
		    (S_ISREG(st.st_mode) ? (st.st_mode & 07777) == 0600
					 : S_ISDIR(st.st_mode) && depth == 0))
			k = 0;
		else if (S_ISDIR(st.st_mode) && depth == 0)
			k = own_at(dir, e->d_name, 0700, uid, &sub);
		else
			k = own_at(dir, e->d_name, 0600, uid, NULL);
		if (k == 0 && S_ISDIR(st.st_mode) && depth == 0 && sub < 0)
			k = own_at(dir, e->d_name, 0700, uid, &sub);
		/* planted (the service makes none of these, and only it
		 * and the persona's root can write here now that the
		 * directory is taken): the name goes, whatever it points
		 * to stays as it is. Left, a hardlink in inbox/ would let
		 * its owner write "messages" the officer reads. */
		if (k == -EPERM) {
			++*refused;
			if (!S_ISDIR(st.st_mode))
				(void)unlinkat(dir, e->d_name, 0);
		} else if (k < 0 && k != -ENOENT && r == 0)
			r = k;
		if (sub >= 0) {
			k = migrate_dir(sub, uid, depth + 1, refused);
			if (k < 0 && r == 0)
				r = k;
		}
	}
	closedir(ds);
	return r;
}

static bool provisioned(const struct tfd_persona *p)
{
	_cleanup_close_ int dir = state_dir(p, false);
	struct stat st;

	if (dir < 0)
		return false;
	for (size_t i = 0; i < N_PFILES; i++)
		if (fstatat(dir, pfiles[i].file, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode))
			return false;
	return true;
}

/* The relay's ADDR:PORT from the state dir: digits, dots, colons,
 * brackets only (it becomes one argv word of the service) */
static int read_relay(const struct tfd_persona *p, char *buf, size_t cap)
{
	_cleanup_close_ int dir = state_dir(p, false), fd = -1;
	ssize_t n;

	if (dir < 0)
		return dir;
	fd = open_beneath(dir, "relay", O_RDONLY);
	if (fd < 0)
		return fd;
	n = read(fd, buf, cap - 1);
	if (n <= 0)
		return n < 0 ? tf_negerrno() : -EINVAL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] == '\0' ||
	    strspn(buf, "0123456789.:[]abcdefABCDEF") != strlen(buf))
		return -EINVAL;
	return 0;
}

/* A line the service wrote on its channel (untrusted: the service runs
 * in the persona). line NULL: longer than TFD_CHAN_LINE_MAX. */
static void comms_line(struct tfd *d, struct tfd_svc *s, const char *line,
		       size_t len)
{
	struct tfd_persona *p = s->data;

	switch (tfd_chan_parse(line, len)) {
	case TFD_CHAN_CALL_ACTIVE: tfd_callaudio_report(d, p, true); return;
	case TFD_CHAN_CALL_IDLE: tfd_callaudio_report(d, p, false); return;
	case TFD_CHAN_UNKNOWN: break;
	}
	if (p->comms_warned)
		return;
	p->comms_warned = true;
	/* its words are the persona's: the length only, never the text */
	tf_warn("%s: twofold-comms wrote a line the daemon does not know "
		"(%s; ignored, and later ones too without a word)",
		p->cfg->name, line ? "unknown words" : "over 64 bytes");
}

/* It ended (exit, kill, restart, stop): whatever it said, no call. */
static void comms_end(struct tfd *d, struct tfd_svc *s)
{
	struct tfd_persona *p = s->data;

	p->comms_warned = false;
	if (p->call_active || p->call_audio) {
		p->call_active = false;
		tfd_callaudio_update(d);
	}
}

/* A flood: the service is broken or not ours any more. Fail closed: no
 * call, until it says "call active" again in a calmer second. */
static void comms_flood(struct tfd *d, struct tfd_svc *s)
{
	tfd_callaudio_report(d, s->data, false);
}

static void svc_init(struct tfd_persona *p)
{
	tfd_svc_init(&p->comms, "comms");
	p->comms.uid = TF_COMMS_UID;
	p->comms.chan = true; /* foreground yes|no: tfd_comms_foreground */
	p->comms.on_line = comms_line;
	p->comms.on_end = comms_end;
	p->comms.on_flood = comms_flood;
	p->comms.data = p;
}

/* Before every start: the state dir and what is in it are the comms
 * uid's (migrate_dir). Refused entries are logged, not fatal: the
 * service remakes what it cannot read. */
static int own_state(struct tfd_persona *p)
{
	_cleanup_close_ int dir = state_dir(p, true);
	unsigned refused = 0;
	int r;

	if (dir < 0)
		return dir;
	r = migrate_dir(dir, comms_uid(p), 0, &refused);
	if (refused)
		tf_warn("%s: twofold-comms: %u entries in its state directory "
			"were symlinks, hardlinks or special files; removed "
			"(what they pointed to is untouched)",
			p->cfg->name, refused);
	return r;
}

static bool wanted(const struct tfd_persona *p)
{
	bool locked = p->state & (TFD_P_FROZEN | TFD_P_FREEZING);

	/* also while locked, when the lock went child by child (keep-comms
	 * existed): a restart lands in keep-comms, never frozen. A lock that
	 * froze the root would freeze a keep-comms made under it. */
	return p->cfg->comms && p->rt && !p->halt.active &&
	       (p->state & (TFD_P_RUNNING | TFD_P_FROZEN | TFD_P_FREEZING)) &&
	       (!locked || tf_persona_freeze_per_child(p->rt));
}

static void tell_foreground(struct tfd_persona *p)
{
	int r = tfd_svc_say(&p->comms, p->foreground ? "foreground yes\n"
						     : "foreground no\n");

	if (r < 0)
		tf_warn("%s: telling twofold-comms the foreground: %s",
			p->cfg->name, strerror(-r));
}

void tfd_comms_foreground(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];

		if (p->cfg->comms && p->comms.name[0] &&
		    tfd_svc_running(&p->comms))
			tell_foreground(p);
	}
}

static void comms_start(struct tfd *d, struct tfd_persona *p)
{
	/* /dev/snd: ALSA opens its nodes read-write (Landlock's write_file
	 * covers device nodes); whether the persona may open them at all is
	 * the device cgroup's (foreground devices only) */
	static const char *const ll[] = {COMMS_STATE, "/dev/snd", NULL};
	char relay[128];
	char *argv[] = {
		(char *)comms_bin(),
		"--state",
		COMMS_STATE,
		"service",
		"--relay",
		relay,
		"--relay-pub",
		COMMS_STATE "/relay.pub",
		"--key",
		COMMS_STATE "/device.key",
		"--cert",
		COMMS_STATE "/device.cert",
		"--ca",
		COMMS_STATE "/ca.pub",
		"--daemon-fd",
		"0",
		NULL, /* --audio-dev */
		NULL, /* comms_audio */
		NULL,
	};
	int r;

	if (p->comms.name[0] == '\0')
		svc_init(p);
	if (!wanted(p) || tfd_svc_running(&p->comms) ||
	    !tfd_svc_due(&p->comms) || !provisioned(p))
		return;
	r = read_relay(p, relay, sizeof(relay));
	if (r < 0) {
		snprintf(p->comms.error, sizeof(p->comms.error),
			 "its relay address is unreadable: %s", strerror(-r));
		return;
	}
	if (p->cfg->comms_audio[0]) {
		/* config.c checked it is one printable word */
		size_t k = TF_ARRAY_SIZE(argv) - 3;

		argv[k] = "--audio-dev";
		argv[k + 1] = (char *)p->cfg->comms_audio;
	}
	r = own_state(p);
	if (r < 0)
		snprintf(p->comms.error, sizeof(p->comms.error),
			 "cannot give its state directory to its uid: %s",
			 strerror(-r));
	else
		r = tfd_svc_start(d, p, &p->comms, argv, ll);
	if (r < 0) {
		tf_warn("%s: twofold-comms: %s", p->cfg->name, p->comms.error);
		/* as if it died: the tick tries again after the backoff */
		p->comms.backoff_s = TF_MIN(
			p->comms.backoff_s ? p->comms.backoff_s * 2 : 1, 60u);
		p->comms.next_start_ns =
			tf_now_ns() +
			(uint64_t)p->comms.backoff_s * 1000000000ull;
		return;
	}
	tfd_audit(d, 0, "comms.start", p, NULL, "pid=%d", (int)p->comms.pid);
	/* a new run: no call until it says so */
	p->call_active = false;
	p->comms_warned = false;
	tell_foreground(p);
}

void tfd_comms_persona_started(struct tfd *d, struct tfd_persona *p)
{
	if (!p->cfg->comms)
		return;
	svc_init(p);
	comms_start(d, p);
}

void tfd_comms_persona_stopping(struct tfd *d, struct tfd_persona *p)
{
	if (p->comms.name[0] == '\0')
		return;
	tfd_svc_stop(d, p, &p->comms);
}

void tfd_comms_tick(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++)
		if (d->personas[i].cfg->comms) {
			comms_start(d, &d->personas[i]);
			tfd_svc_chan_tick(d, &d->personas[i].comms);
		}
}

void tfd_comms_status(const struct tfd_persona *p, FILE *t, FILE *j)
{
	bool on = p->comms.name[0] != '\0' && tfd_svc_running(&p->comms);

	if (!p->cfg->comms)
		return;
	if (t && on)
		fprintf(t, "  comms running (pid %d)%s", (int)p->comms.pid,
			!p->call_active ? ""
			: p->call_audio
				? (p->foreground
					   ? ", call active"
					   : ", call active in the "
					     "background: holds the audio")
				: ", call active without audio");
	else if (t && p->comms.name[0] && p->comms.error[0])
		fprintf(t, "  comms down (%s)", p->comms.error);
	if (j == NULL)
		return;
	/* the error is the daemon's own words; only what needs no escape */
	fprintf(j,
		",\"comms\":{\"running\":%s,\"pid\":%d,\"restarts\":%u,"
		"\"call\":\"%s\",\"call_audio\":%s",
		on ? "true" : "false", on ? (int)p->comms.pid : -1,
		p->comms.restarts, on && p->call_active ? "active" : "idle",
		p->call_audio ? "true" : "false");
	if (!on && p->comms.error[0] && strpbrk(p->comms.error, "\"\\") == NULL)
		fprintf(j, ",\"error\":\"%s\"", p->comms.error);
	fputc('}', j);
}

/* ---- the request ---- */

static int unhex(const char *h, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(h);

	if (n % 2 || n / 2 > cap || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", h[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", h[2 * i + 1]))
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static enum tfd_disp provision(struct tfd *d, struct tfd_conn *c,
			       const struct tf_msg *m, struct tfd_persona *p,
			       struct tfd_reply *rep)
{
	const char *val[N_PFILES] = {0};
	_cleanup_close_ int dir = -1;
	uid_t uid = comms_uid(p);
	uint8_t *buf;
	size_t len = 0;
	int r = 0;

	for (size_t i = 0; i < m->n_attrs; i++) {
		const struct tf_attr_ref *a = &m->attrs[i];
		const char *s = (const char *)a->val, *eq;
		size_t k;

		if (a->type != TF_A_ARG)
			continue;
		eq = memchr(s, '=', a->len);
		for (k = 0; eq && k < N_PFILES; k++)
			if ((size_t)(eq - s) == strlen(pfiles[k].arg) &&
			    !strncmp(s, pfiles[k].arg, (size_t)(eq - s)))
				break;
		if (eq == NULL || k == N_PFILES || val[k] != NULL ||
		    s[a->len - 1] != '\0') {
			tfd_reply_err(rep, -EINVAL,
				      "comms provision %s: a bad or repeated "
				      "item (give --key, --cert, --ca, "
				      "--relay and --relay-pub once each)",
				      p->cfg->name);
			return TFD_REPLY_NOW;
		}
		val[k] = eq + 1;
	}
	for (size_t k = 0; k < N_PFILES; k++)
		if (val[k] == NULL) {
			tfd_reply_err(rep, -EINVAL,
				      "comms provision %s: --%s missing",
				      p->cfg->name, pfiles[k].arg);
			return TFD_REPLY_NOW;
		}
	dir = state_dir(p, true);
	if (dir < 0) {
		tfd_reply_err(rep, dir,
			      "comms provision %s: cannot open its state "
			      "directory in the persona's storage: %s",
			      p->cfg->name, strerror(-dir));
		return TFD_REPLY_NOW;
	}
	buf = tf_secure_alloc(COMMS_FILE_MAX);
	if (buf == NULL) {
		tfd_reply_err(rep, -ENOMEM, "comms provision: out of memory");
		return TFD_REPLY_NOW;
	}
	for (size_t k = 0; k < N_PFILES && r == 0; k++) {
		if (!strcmp(pfiles[k].arg, "relay")) {
			len = strlen(val[k]);
			if (len == 0 || len >= 128 ||
			    strspn(val[k], "0123456789.:[]abcdefABCDEF") != len)
				r = -EINVAL;
			else
				memcpy(buf, val[k], len);
		} else {
			r = unhex(val[k], buf, COMMS_FILE_MAX, &len);
		}
		if (r < 0) {
			tfd_reply_err(rep, r, "comms provision %s: bad --%s",
				      p->cfg->name, pfiles[k].arg);
			break;
		}
		r = tf_atomic_write_at(dir, pfiles[k].file, buf, len, 0600);
		if (r == 0)
			r = own_at(dir, pfiles[k].file, 0600, uid, NULL);
		if (r < 0)
			tfd_reply_err(rep, r,
				      "comms provision %s: cannot write "
				      "%s: %s",
				      p->cfg->name, pfiles[k].file,
				      strerror(-r));
		tf_memzero(buf, len);
	}
	tf_secure_free(buf);
	tfd_audit(d, TF_AUDIT_SYNC, "comms.provision", p, c, "result=%d", r);
	if (r < 0)
		return TFD_REPLY_NOW;
	/* a running service keeps its old keys until it restarts: now */
	if (p->comms.name[0] != '\0' && tfd_svc_running(&p->comms))
		tfd_svc_restart(&p->comms);
	else if (p->cfg->comms) {
		svc_init(p);
		comms_start(d, p);
	}
	tfd_reply_err(rep, 0, "%s: comms provisioned%s", p->cfg->name,
		      p->cfg->comms ? ""
				    : " (set comms = yes in its device.conf "
				      "section to run the service)");
	return TFD_REPLY_NOW;
}

static enum tfd_disp status(struct tfd_persona *p, struct tfd_reply *rep)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 1};
	_cleanup_close_ int fd = -1;
	char b[COMMS_STATUS_MAX + 1];
	ssize_t n;

	if (!p->cfg->comms || !tfd_svc_running(&p->comms)) {
		tfd_reply_err(rep, -ESRCH, "comms in %s: not running%s%s%s",
			      p->cfg->name, p->comms.error[0] ? " (" : "",
			      p->comms.error, p->comms.error[0] ? ")" : "");
		return TFD_REPLY_NOW;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/%d/root%s/control",
		 (int)tf_persona_init_pid(p->rt), COMMS_STATE);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	/* the persona's process answers: bounded in time and size, and
	 * only printable text goes back */
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, "status", 6, MSG_NOSIGNAL) != 6 ||
	    (n = recv(fd, b, COMMS_STATUS_MAX, 0)) <= 0) {
		tfd_reply_err(rep, -EIO,
			      "comms in %s: the service does not "
			      "answer",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	b[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if ((b[i] < 0x20 && b[i] != '\n') || b[i] == 0x7f)
			b[i] = '?';
	if (strncmp(b, "ok\n", 3) != 0) {
		tfd_reply_err(rep, -EIO, "comms in %s: the service refused",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	rep->text = strdup(b + 3);
	tfd_reply_err(rep, 0, "comms in %s", p->cfg->name);
	return TFD_REPLY_NOW;
}

enum tfd_disp tfd_req_comms(struct tfd *d, struct tfd_conn *c,
			    const struct tf_msg *m, struct tfd_persona *p,
			    struct tfd_reply *rep)
{
	const char *name = tf_msg_str(m, TF_A_PERSONA);
	uint32_t flags = 0;

	/* the persona is looked up here, not by the table: status is asked
	 * in any state */
	p = name && tf_name_valid(name) ? tfd_persona_find(d, name) : NULL;
	if (p == NULL) {
		tfd_reply_fail(rep, -ENOENT, TF_R_PERSONA_UNKNOWN, NULL,
			       "comms: unknown persona (see: twofold persona "
			       "list)");
		return TFD_REPLY_NOW;
	}
	(void)tf_msg_u32(m, TF_A_FLAGS, &flags);
	if (flags & TF_F_COMMS_STATUS)
		return status(p, rep);
	/* the keys go into its storage: only while it is unlocked */
	if (p->state != TFD_P_RUNNING || p->rt == NULL) {
		tfd_reply_err(rep, -EACCES,
			      "comms provision %s: it is not running "
			      "(unlock it first: twofold unlock %s)",
			      p->cfg->name, p->cfg->name);
		return TFD_REPLY_NOW;
	}
	return provision(d, c, m, p, rep);
}
