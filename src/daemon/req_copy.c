/* SPDX-License-Identifier: ISC */
/*
 * twofold copy (TF_REQ_COPY, cli/verb_copy.c): a file enters a persona
 * only through quarantine and the scanner (issue 13 item 6).
 *
 *   1. the source is opened in its persona's view, /proc/PID/root of the
 *      persona's init with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
 *      and O_PATH | O_NOFOLLOW: the persona cannot point the daemon at a
 *      host file (a symlink resolves inside its root; a final symlink, a
 *      FIFO, a device or a directory is refused before it is opened for
 *      reading, so opening has no side effect); a host path (root only)
 *      the same from "/";
 *   2. it is copied into an unlinked O_TMPFILE in STATE/quarantine (outside
 *      both personas; the persona can change its file afterwards, not the
 *      copy that is scanned and delivered);
 *   3. the scanner helper (twofold-scanner: no network, no keys, nobody,
 *      seccomp) gets a read-only fd of the copy and answers a verdict;
 *   4. clean: the copy goes into the destination persona's
 *      /home/app/Inbox[/DIR] as a new file owned by its app uid, with the
 *      xattr user.twofold.origin = "SRC HASHNAME=HEX" (the device suite's
 *      hash), linked only when complete (O_TMPFILE + linkat: no partial
 *      file is ever visible in the Inbox).
 * Every outcome is audited: copy.accepted, copy.refused (with the
 * verdict). Steps 2-4 run as a job; only one copy runs at a time (the
 * helper answers one fd at a time).
 *
 * Policy: out of a credential persona (secure) only a flow device.conf
 * copy_flows names; into a credential persona only with a verified
 * database (scan_db, scan_trust): a missing or bad one refuses the import
 * with one line saying so. A persona without scan_db and scan_trust that
 * is not a credential persona takes copies unscanned.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tf_config.h"
#include "twofold/crypto.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/scan.h"
#include "daemon.h"

#define COPY_MAX (UINT64_C(256) << 20) /* the scanner's max_file */
#define SCAN_TIMEOUT_MS 180000
#define ORIGIN_XATTR "user.twofold.origin"
#define INBOX_USER "app" /* the persona's app user (persona/child.c) */

/* The one scanner helper: started for one destination persona's database
 * (a copy into another restarts it), on the loop's thread (PDEATHSIG is
 * per thread); a job reads its first answer. */
static struct {
	int sock;
	pid_t pid;
	bool ready;
	char persona[TF_NAME_MAX + 1];
	char work[64];
	bool busy;   /* a copy job holds it */
	bool broken; /* it died, hung or spoke nonsense: restart it */
} scanner = {.sock = -1, .pid = -1};

static int rm_cb(const char *p, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void scanner_stop(void)
{
	if (scanner.sock >= 0)
		close(scanner.sock);
	scanner.sock = -1;
	if (scanner.pid > 0) {
		kill(scanner.pid, SIGKILL);
		while (waitpid(scanner.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	scanner.pid = -1;
	scanner.ready = false;
	scanner.broken = false;
	if (scanner.work[0])
		(void)nftw(scanner.work, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	scanner.work[0] = '\0';
}

/* twofold-scanner: in the build tree's src/scanner, else installed in
 * TF_LIBEXECDIR */
static int scanner_path(char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/../scanner/twofold-scanner", self) <
		    cap &&
	    access(out, X_OK) == 0)
		return 0;
	if ((size_t)snprintf(out, cap, "%s",
			     TF_LIBEXECDIR "/twofold-scanner") >= cap)
		return -ENAMETOOLONG;
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static int scanner_start(struct tfd *d, const struct tfd_persona *p, char *why,
			 size_t whylen)
{
	const struct tf_persona_cfg *cfg = p->cfg;
	const struct tf_suite *s = d->suite;
	char exe[PATH_MAX];
	/* a helper that died (a crash on hostile input) is a zombie until
	 * waited for; one a job found broken is killed: a new one each time */
	if (scanner.sock >= 0 && strcmp(scanner.persona, cfg->name) == 0 &&
	    !scanner.broken && waitpid(scanner.pid, NULL, WNOHANG) == 0)
		return 0;
	scanner_stop();
	if (scanner_path(exe, sizeof(exe)) < 0) {
		snprintf(why, whylen,
			 "the scanner helper twofold-scanner is not installed "
			 "next to twofoldd");
		return -ENOENT;
	}
	_cleanup_close_ int db =
		open(cfg->scan_db, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (db < 0) {
		int e = -errno;
		if ((size_t)snprintf(why, whylen,
				     "no scanner database: cannot open %s "
				     "(%s); imports into %s are refused until "
				     "device.conf scan_db names a signed "
				     "bundle (twofold pkg scandb)",
				     cfg->scan_db, strerror(-e),
				     cfg->name) >= whylen)
			why[whylen - 1] = '\0';
		return e;
	}
	/* /run, not the state dir: nobody (the helper after its drop) must
	 * be able to pass through to WORK/tmp */
	snprintf(scanner.work, sizeof(scanner.work),
		 "/run/twofold-scan-XXXXXX");
	if (mkdtemp(scanner.work) == NULL) {
		int e = -errno;
		scanner.work[0] = '\0';
		snprintf(why, whylen, "cannot make the scanner's dir: %s",
			 strerror(-e));
		return e;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = -errno;
		snprintf(why, whylen, "socketpair: %s", strerror(-e));
		return e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_adddup2(&fa, db, 4);
	posix_spawn_file_actions_addclosefrom_np(&fa, 5);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	/* the loop blocks every signal (signalfd): unblock them in the
	 * helper, and reset their dispositions */
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	char *argv[] = {
		"twofold-scanner", "serve",	 "--suite",
		(char *)s->name,   "--trust",	 (char *)cfg->scan_trust,
		"--work",	   scanner.work, NULL};
	char *envp[] = {NULL};
	pid_t pid;
	int r = posix_spawn(&pid, exe, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		snprintf(why, whylen, "cannot start the scanner: %s",
			 strerror(r));
		return -r;
	}
	scanner.sock = sv[0];
	scanner.pid = pid;
	tf_debug("%s: scanner helper %d started", cfg->name, (int)pid);
	scanner.ready = false;
	snprintf(scanner.persona, sizeof(scanner.persona), "%s", cfg->name);
	return 0;
}

/* one answer of the helper, waiting at most ms */
static int scanner_recv(struct tf_scan_wire *w, int ms)
{
	struct pollfd pf = {.fd = scanner.sock, .events = POLLIN};
	int n = poll(&pf, 1, ms);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return -errno;
	ssize_t k = recv(scanner.sock, w, sizeof(*w), 0);
	if (k < 0)
		return -errno;
	if (k != (ssize_t)sizeof(*w))
		return -EPIPE; /* it died (EOF) or spoke nonsense */
	w->name[sizeof(w->name) - 1] = '\0';
	w->why[sizeof(w->why) - 1] = '\0';
	return 0;
}

/* The helper's first answer, the database load's, is read on first use
 * (a job's thread; the caller holds the helper, tfd_scanner_claim). */
static int scanner_ready(char *why, size_t whylen)
{
	struct tf_scan_wire w;
	int r;

	if (scanner.ready)
		return 0;
	r = scanner_recv(&w, SCAN_TIMEOUT_MS);
	if (r == 0 && w.err < 0)
		r = w.err;
	if (r < 0) {
		scanner.broken = true;
		snprintf(why, whylen,
			 "scanner database refused: %s; nothing can be "
			 "scanned, so nothing is let in",
			 r == w.err ? w.why : "the scanner did not start");
		return r;
	}
	scanner.ready = true;
	return 0;
}

int tfd_scanner_send(int fd, uint32_t tag, char *why, size_t whylen)
{
	char b[1 + sizeof(tag)], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {b, sizeof(b)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int r = scanner_ready(why, whylen);

	if (r < 0)
		return r;
	b[0] = 'S';
	memcpy(b + 1, &tag, sizeof(tag));
	tf_cmsg_put_fds(&mh, cbuf, &fd, 1);
	if (sendmsg(scanner.sock, &mh, MSG_NOSIGNAL) < 0) {
		r = -errno;
		scanner.broken = true;
		snprintf(why, whylen, "scan failed: %s", strerror(-r));
		return r;
	}
	return 0;
}

int tfd_scanner_recv(struct tf_scan_wire *w, char *why, size_t whylen)
{
	int r = scanner_recv(w, SCAN_TIMEOUT_MS);

	if (r < 0) {
		/* no answer in time, or a dead helper: the next scan starts
		 * a new one; what was in flight is lost (refused) */
		scanner.broken = true;
		snprintf(why, whylen, "scan failed: %s", strerror(-r));
	}
	return r;
}

/* The helper's verdict on one read-only regular file fd. 0 with w filled
 * (w->result says clean or not), or -errno with why: the helper or the
 * scan failed (fail closed: the file is refused). */
int tfd_scanner_scan(int fd, struct tf_scan_wire *w, char *why, size_t whylen)
{
	int r = tfd_scanner_send(fd, 0, why, whylen);

	if (r == 0)
		r = tfd_scanner_recv(w, why, whylen);
	if (r == 0 && w->err < 0) {
		snprintf(why, whylen, "scan failed: %s", w->why);
		r = w->err;
	}
	return r;
}

int tfd_scanner_claim(struct tfd *d, const struct tfd_persona *p, char *why,
		      size_t whylen)
{
	int r;

	if (scanner.busy) {
		snprintf(why, whylen,
			 "the scanner is busy with another copy or install; "
			 "try again");
		return -EBUSY;
	}
	r = scanner_start(d, p, why, whylen);
	if (r == 0)
		scanner.busy = true;
	return r;
}

void tfd_scanner_release(void)
{
	scanner.busy = false;
}

struct copy_job;
static struct copy_job *running; /* the one copy job, on the loop's side */

struct copy_job {
	struct tfd_job j;
	struct tfd_persona *dst;
	const struct tf_suite *suite;
	int src, qdir, inbox;
	uid_t owner;
	bool scan;
	uint64_t size;
	char origin[PATH_MAX + 32];
	char name[NAME_MAX + 1];
	char dir[NAME_MAX + 1];
	/* results */
	int err;
	bool refused_by_scan;
	char why[320];
	char sig[128];
	char hash[2 * TF_HASH_BYTES + 1];
	char final[NAME_MAX + 1];
};

static int copy_fd(int from, int to, uint64_t max, uint64_t *n)
{
	static __thread uint8_t buf[1 << 16];
	uint64_t total = 0;
	for (;;) {
		ssize_t k = pread(from, buf, sizeof(buf), (off_t)total);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		if (total + (uint64_t)k > max)
			return -EFBIG; /* it grew while being copied */
		int r = tf_write_full(to, buf, (size_t)k);
		if (r < 0)
			return r;
		total += (uint64_t)k;
	}
	*n = total;
	return 0;
}

static int reopen(int fd, int flags)
{
	char p[40];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	int r = open(p, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static const char *hash_name(const struct tf_suite *s)
{
	return s->id == TF_SUITE_GM ? "sm3" : "blake2b-256";
}

static void copy_run(struct tfd_job *j)
{
	struct copy_job *cj = (struct copy_job *)j;
	_cleanup_close_ int q = -1, qr = -1, out = -1;
	uint64_t n = 0;
	int r;

	/* 2. quarantine: an unlinked file the persona cannot reach */
	q = openat(cj->qdir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (q < 0) {
		cj->err = -errno;
		snprintf(cj->why, sizeof(cj->why), "quarantine: %s",
			 strerror(errno));
		return;
	}
	r = copy_fd(cj->src, q, COPY_MAX, &n);
	if (r < 0) {
		cj->err = r;
		snprintf(cj->why, sizeof(cj->why),
			 r == -EFBIG ? "the source grew past %llu bytes while "
				       "being copied"
				     : "reading the source failed",
			 (unsigned long long)COPY_MAX);
		return;
	}
	cj->size = n;
	/* 3. the verdict, on a read-only fd: the helper cannot alter it */
	if (cj->scan) {
		struct tf_scan_wire w;
		qr = reopen(q, O_RDONLY);
		if (qr < 0) {
			cj->err = qr;
			snprintf(cj->why, sizeof(cj->why), "quarantine reopen");
			return;
		}
		r = tfd_scanner_scan(qr, &w, cj->why, sizeof(cj->why));
		if (r < 0) {
			cj->err = r;
			return;
		}
		if (w.result != TF_SCAN_CLEAN) {
			cj->err = -EACCES;
			cj->refused_by_scan = true;
			snprintf(cj->sig, sizeof(cj->sig), "%s", w.name);
			snprintf(cj->why, sizeof(cj->why), "%s: %s",
				 w.result == TF_SCAN_INFECTED
					 ? "malware found"
					 : "not fully scanned",
				 w.name);
			return;
		}
	}
	/* the tag's hash, of exactly the bytes delivered */
	uint8_t h[TF_HASH_BYTES];
	void *m = n ? mmap(NULL, n, PROT_READ, MAP_SHARED, q, 0) : NULL;
	if (m == MAP_FAILED) {
		cj->err = -errno;
		snprintf(cj->why, sizeof(cj->why), "quarantine map");
		return;
	}
	r = tf_hash(cj->suite, h, m ? m : (const void *)"", (size_t)n);
	if (m)
		munmap(m, n);
	if (r < 0) {
		cj->err = r;
		snprintf(cj->why, sizeof(cj->why), "hashing failed");
		return;
	}
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(cj->hash + 2 * i, 3, "%02x", h[i]);

	/* 4. into the Inbox: complete, owned, tagged, then linked */
	out = openat(cj->inbox, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0) {
		cj->err = -errno;
		snprintf(cj->why, sizeof(cj->why), "Inbox: %s",
			 strerror(errno));
		return;
	}
	uint64_t n2 = 0;
	char tag[sizeof(cj->origin) + 96];
	int tl = snprintf(tag, sizeof(tag), "%s %s=%s", cj->origin,
			  hash_name(cj->suite), cj->hash);
	r = copy_fd(q, out, n, &n2);
	if (r == 0 && n2 != n)
		r = -EIO;
	if (r == 0 && fchown(out, cj->owner, cj->owner) < 0)
		r = -errno;
	if (r == 0 && fsetxattr(out, ORIGIN_XATTR, tag, (size_t)tl, 0) < 0)
		r = -errno;
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	if (r < 0) {
		cj->err = r;
		snprintf(cj->why, sizeof(cj->why), "writing into the Inbox: %s",
			 strerror(-r));
		return;
	}
	char p[40];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", out);
	for (int i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(cj->final, sizeof(cj->final), "%s", cj->name);
		else
			snprintf(cj->final, sizeof(cj->final), "%.240s.%d",
				 cj->name, i);
		if (linkat(AT_FDCWD, p, cj->inbox, cj->final,
			   AT_SYMLINK_FOLLOW) == 0) {
			(void)fsync(cj->inbox);
			cj->err = 0;
			return;
		}
		if (errno != EEXIST)
			break;
	}
	cj->err = -errno;
	snprintf(cj->why, sizeof(cj->why), "linking into the Inbox: %s",
		 strerror(errno));
}

static void copy_done(struct tfd *d, struct tfd_job *j)
{
	struct copy_job *cj = (struct copy_job *)j;
	struct tfd_reply rep = {.exit_code = -1};
	struct tfd_conn *c = j->c;
	const char *dn = cj->dst->cfg->name;

	scanner.busy = false;
	running = NULL;
	if (cj->err == 0) {
		tfd_audit(d, TF_AUDIT_SYNC, "copy.accepted", cj->dst, c,
			  "src=%s\tdst=/home/" INBOX_USER
			  "/Inbox%s%s/%s\tsize=%llu\t%s=%s\tscanned=%s",
			  cj->origin, cj->dir[0] ? "/" : "", cj->dir, cj->final,
			  (unsigned long long)cj->size, hash_name(cj->suite),
			  cj->hash, cj->scan ? "clean" : "no");
		tfd_reply_err(&rep, 0,
			      "copied %s to %s:/home/" INBOX_USER
			      "/Inbox%s%s/%s (%llu bytes%s)",
			      cj->origin, dn, cj->dir[0] ? "/" : "", cj->dir,
			      cj->final, (unsigned long long)cj->size,
			      cj->scan ? ", scanned clean" : ", not scanned");
	} else {
		tfd_audit(d, TF_AUDIT_SYNC, "copy.refused", cj->dst, c,
			  "src=%s\tverdict=%s\tsignature=%s\treason=%s",
			  cj->origin,
			  cj->refused_by_scan ? "infected" : "error",
			  cj->sig[0] ? cj->sig : "-", cj->why);
		tfd_reply_err(&rep, cj->err, "copy to %s: refused: %s", dn,
			      cj->why);
	}
	close(cj->src);
	close(cj->qdir);
	close(cj->inbox);
	free(cj);
	tfd_conn_reply(d, c, &rep);
}

void tfd_copy_forget(struct tfd_conn *c)
{
	if (running != NULL && running->j.c == c)
		running->j.c = NULL;
}

void tfd_copy_shutdown(void)
{
	scanner_stop();
}

static int openat2_(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .resolve = resolve};
	long r = syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	return r < 0 ? -errno : (int)r;
}

/* absolute, bounded, no ".." component (RESOLVE_IN_ROOT would clamp it,
 * but a path that says ".." is refused rather than reinterpreted) */
static bool path_ok(const char *p)
{
	size_t n = strnlen(p, PATH_MAX);
	if (n == 0 || n >= PATH_MAX || p[0] != '/')
		return false;
	for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return false;
	return true;
}

static bool component_ok(const char *s)
{
	size_t n = strnlen(s, NAME_MAX + 1);
	return n > 0 && n <= NAME_MAX && strchr(s, '/') == NULL &&
	       strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* a directory below dfd, made (owned by the app) when missing; never
 * through a symlink */
static int subdir_open(int dfd, const char *name, uid_t owner)
{
	if (mkdirat(dfd, name, 0700) == 0) {
		if (fchownat(dfd, name, owner, owner, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	return openat2_(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
				RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
}

/* the flow FROM:TO is named in copy_flows */
static bool flow_allowed(const struct tfd *d, const char *from, const char *to)
{
	char want[2 * TF_NAME_MAX + 2], buf[TF_COPY_FLOWS_MAX];
	snprintf(want, sizeof(want), "%s:%s", from, to);
	snprintf(buf, sizeof(buf), "%s", d->cfg.copy_flows);
	for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save))
		if (strcmp(t, want) == 0)
			return true;
	return false;
}

static enum tfd_disp refuse(struct tfd *d, struct tfd_conn *c,
			    struct tfd_persona *p, const char *src,
			    struct tfd_reply *rep, int err, const char *fmt,
			    ...) TF_PRINTF(7, 8);
static enum tfd_disp refuse(struct tfd *d, struct tfd_conn *c,
			    struct tfd_persona *p, const char *src,
			    struct tfd_reply *rep, int err, const char *fmt,
			    ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tfd_audit(d, TF_AUDIT_SYNC, "copy.refused", p, c,
		  "src=%s\tverdict=policy\treason=%s", src, why);
	tfd_reply_err(rep, err, "copy to %s: refused: %s", p->cfg->name, why);
	return TFD_REPLY_NOW;
}

enum tfd_disp tfd_req_copy(struct tfd *d, struct tfd_conn *c,
			   const struct tf_msg *m, struct tfd_persona *p,
			   struct tfd_reply *rep)
{
	const char *spec = NULL, *dir = "";
	size_t k = 0;
	for (size_t i = 0; i < m->n_attrs; i++) {
		if (m->attrs[i].type != TF_A_ARG)
			continue;
		const char *v = (const char *)m->attrs[i].val;
		if (k == 0)
			spec = v;
		else if (k == 1)
			dir = v;
		k++;
	}
	if (spec == NULL || k > 2) {
		tfd_reply_err(rep, -EBADMSG,
			      "malformed request: copy takes SOURCE [DIR]");
		return TFD_REPLY_NOW;
	}
	char esc[PATH_MAX + 32];
	tf_escape(spec, strlen(spec), esc, sizeof(esc));
	if (dir[0] && !component_ok(dir))
		return refuse(d, c, p, esc, rep, -EINVAL,
			      "the destination must be a directory name in "
			      "the Inbox (no '/' or '..')");

	/* 1. the source, in its own view */
	struct tfd_persona *sp = NULL;
	const char *path = spec;
	if (spec[0] != '/') {
		const char *colon = strchr(spec, ':');
		char sname[TF_NAME_MAX + 1];
		if (colon == NULL || (size_t)(colon - spec) > TF_NAME_MAX)
			return refuse(d, c, p, esc, rep, -EINVAL,
				      "the source must be PERSONA:/PATH or a "
				      "host /PATH");
		memcpy(sname, spec, (size_t)(colon - spec));
		sname[colon - spec] = '\0';
		sp = tf_name_valid(sname) ? tfd_persona_find(d, sname) : NULL;
		if (sp == NULL)
			return refuse(d, c, p, esc, rep, -ENOENT,
				      "unknown source persona '%s'", sname);
		if (sp->rt == NULL)
			return refuse(d, c, p, esc, rep, -ESRCH,
				      "%s is not running; start it first",
				      sname);
		path = colon + 1;
	} else if (c->uid != 0) {
		return refuse(d, c, p, esc, rep, -EPERM,
			      "only root may copy from a host path");
	}
	if (sp == p)
		return refuse(d, c, p, esc, rep, -EINVAL,
			      "source and destination are the same persona");
	/* secure -> anything: only a named flow */
	if (sp != NULL && sp->cfg->credential &&
	    !flow_allowed(d, sp->cfg->name, p->cfg->name))
		return refuse(d, c, p, esc, rep, -EPERM,
			      "copies from %s to %s are not allowed (device "
			      "policy copy_flows names no such flow)",
			      sp->cfg->name, p->cfg->name);
	if (!path_ok(path))
		return refuse(d, c, p, esc, rep, -EINVAL,
			      "the source path must be absolute, without '..'");
	bool scan = p->cfg->credential || p->cfg->scan_db[0] ||
		    p->cfg->scan_trust[0];
	if (scan && (!p->cfg->scan_db[0] || !p->cfg->scan_trust[0]))
		return refuse(d, c, p, esc, rep, -ENOENT,
			      "no scanner database for %s (device.conf "
			      "scan_db and scan_trust); imports are refused",
			      p->cfg->name);
	if (scanner.busy)
		return refuse(d, c, p, esc, rep, -EBUSY,
			      "the scanner is busy with another copy or "
			      "install; try again");

	_cleanup_close_ int root = -1, opath = -1, src = -1;
	if (sp != NULL) {
		char rp[40];
		snprintf(rp, sizeof(rp), "/proc/%d/root",
			 (int)tf_persona_init_pid(sp->rt));
		root = open(rp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return refuse(d, c, p, esc, rep, -errno,
				      "cannot enter %s's view: %s",
				      sp->cfg->name, strerror(errno));
		opath = openat2_(root, path, O_PATH | O_NOFOLLOW | O_CLOEXEC,
				 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	} else {
		opath = openat2_(AT_FDCWD, path,
				 O_PATH | O_NOFOLLOW | O_CLOEXEC,
				 RESOLVE_NO_MAGICLINKS);
	}
	if (opath < 0)
		return refuse(d, c, p, esc, rep, opath, "cannot open %s: %s",
			      esc, strerror(-opath));
	struct stat st;
	if (fstat(opath, &st) < 0)
		return refuse(d, c, p, esc, rep, -errno, "cannot stat %s", esc);
	if (S_ISLNK(st.st_mode))
		return refuse(d, c, p, esc, rep, -ELOOP,
			      "%s is a symbolic link; name the file itself",
			      esc);
	if (!S_ISREG(st.st_mode))
		return refuse(d, c, p, esc, rep, -EINVAL,
			      "%s is not a regular file (a FIFO, device, "
			      "socket or directory)",
			      esc);
	if ((uint64_t)st.st_size > COPY_MAX)
		return refuse(d, c, p, esc, rep, -EFBIG,
			      "%s is %llu bytes; at most %llu may be imported",
			      esc, (unsigned long long)st.st_size,
			      (unsigned long long)COPY_MAX);
	src = reopen(opath, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (src < 0)
		return refuse(d, c, p, esc, rep, src, "cannot read %s: %s", esc,
			      strerror(-src));
	const char *base = strrchr(path, '/') + 1;
	if (!component_ok(base))
		return refuse(d, c, p, esc, rep, -EINVAL, "%s names no file",
			      esc);

	/* the destination: DATA/home/app/Inbox[/DIR] */
	uid_t owner = p->cfg->uid_base + TF_APP_UID_DEFAULT;
	char hp[PATH_MAX + 8];
	snprintf(hp, sizeof(hp), "%s/home", p->data_dir);
	_cleanup_close_ int home =
		open(hp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int user =
		home < 0 ? -errno : subdir_open(home, INBOX_USER, owner);
	_cleanup_close_ int inbox =
		user < 0 ? user : subdir_open(user, "Inbox", owner);
	_cleanup_close_ int target =
		inbox < 0 || !dir[0] ? -1 : subdir_open(inbox, dir, owner);
	if (inbox < 0 || (dir[0] && target < 0))
		return refuse(d, c, p, esc, rep, inbox < 0 ? inbox : target,
			      "cannot open %s's Inbox: %s", p->cfg->name,
			      strerror(-(inbox < 0 ? inbox : target)));
	char qp[PATH_MAX + 16];
	snprintf(qp, sizeof(qp), "%s/quarantine", d->state_dir);
	if (mkdir(qp, 0700) < 0 && errno != EEXIST)
		return refuse(d, c, p, esc, rep, -errno,
			      "cannot make the quarantine dir");
	_cleanup_close_ int qdir =
		open(qp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (qdir < 0)
		return refuse(d, c, p, esc, rep, -errno,
			      "cannot open the quarantine dir");
	char why[320] = "";
	if (scan && tfd_scanner_claim(d, p, why, sizeof(why)) < 0)
		return refuse(d, c, p, esc, rep, -ENOENT, "%s", why);

	struct copy_job *cj = calloc(1, sizeof(*cj));
	if (cj == NULL) {
		tfd_scanner_release();
		tfd_reply_err(rep, -ENOMEM, "copy: out of memory");
		return TFD_REPLY_NOW;
	}
	cj->dst = p;
	cj->suite = d->suite;
	cj->owner = owner;
	cj->scan = scan;
	snprintf(cj->origin, sizeof(cj->origin), "%s%s%s",
		 sp ? sp->cfg->name : "host", ":", path);
	snprintf(cj->name, sizeof(cj->name), "%s", base);
	snprintf(cj->dir, sizeof(cj->dir), "%s", dir);
	cj->j.src.fd = -1;
	cj->j.run = copy_run;
	cj->j.done = copy_done;
	cj->j.c = c;
	cj->j.what = "copy";
	cj->src = src;
	cj->qdir = qdir;
	cj->inbox = dir[0] ? target : inbox;
	if (tfd_job_start(d, &cj->j) < 0) {
		free(cj);
		tfd_scanner_release();
		tfd_reply_err(rep, -EAGAIN,
			      "copy: no worker thread; try again");
		return TFD_REPLY_NOW;
	}
	/* the job owns them now */
	src = qdir = -1;
	if (dir[0])
		target = -1;
	else
		inbox = -1;
	scanner.busy = true;
	running = cj;
	c->waiting = true;
	return TFD_REPLY_LATER;
}
