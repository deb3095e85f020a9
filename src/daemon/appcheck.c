/* SPDX-License-Identifier: ISC */
/*
 * The package checker (issue 13, docs/packages.md "Installing"): the
 * process that parses an untrusted package. It is a fork of the spawner
 * (which never saw a secret), not of the daemon. It takes one request —
 * the suite, the persona's trust list and a read-only fd of the daemon's
 * own copy of the package (a root-only file nobody can change) — then
 * leaves the network (a new, empty network namespace), drops to nobody
 * with no capabilities and no_new_privs, loads a seccomp allowlist that
 * has no open, no socket and no exec, and only then reads the package
 * (tf_pkg_open: every bound, the signature, the streamed payload hash). It
 * answers the verdict, the manifest and the payload's place, and exits.
 * A compromised checker can lie about a package, but holds nothing: no
 * key, no fd but the package's and its socket, no way to open anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twofold/crypto.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/pkg.h"
#include "twofold/sandbox.h"
#include "apps.h"
#include "daemon.h"

#define CHECK_MAGIC 0x74664b31u /* "tfK1" */
#define NOBODY 65534u
/* a 4 GiB payload at a few hundred MB/s */
#define CHECK_TIMEOUT_MS 60000

struct check_req {
	uint32_t magic;
	uint8_t suite;
	char trust[TF_APP_TRUST_MAX];
};

struct check_ans {
	uint32_t magic;
	int32_t err;
	char reason[TF_REASON_MAX];
	char msg[256];
	struct tf_pkg_manifest m;
	uint64_t off, len;
	uint8_t hash[TF_HASH_BYTES];
	uint8_t digest[TF_HASH_BYTES];
};

static int check_seccomp(void)
{
	static const int allow[] = {
		SCMP_SYS(read),		  SCMP_SYS(pread64),
		SCMP_SYS(write),	  SCMP_SYS(sendmsg),
		SCMP_SYS(sendto),	  SCMP_SYS(close),
		SCMP_SYS(fstat),	  SCMP_SYS(newfstatat),
		SCMP_SYS(lseek),	  SCMP_SYS(futex),
		SCMP_SYS(getrandom),	  SCMP_SYS(clock_gettime),
		SCMP_SYS(munmap),	  SCMP_SYS(brk),
		SCMP_SYS(mremap),	  SCMP_SYS(madvise),
		SCMP_SYS(mlock),	  SCMP_SYS(munlock),
		SCMP_SYS(getpid),	  SCMP_SYS(gettid),
		SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
		SCMP_SYS(sigaltstack),	  SCMP_SYS(exit),
		SCMP_SYS(exit_group),
	};
	return tf_seccomp_helper(allow, TF_ARRAY_SIZE(allow), false);
}

static void answer(int ctl, struct check_ans *a)
{
	a->magic = CHECK_MAGIC;
	(void)send(ctl, a, sizeof(*a), MSG_NOSIGNAL);
}

static void fail(int ctl, struct check_ans *a, int err, const char *reason,
		 const char *what)
{
	a->err = err;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	snprintf(a->msg, sizeof(a->msg), "package checker: %s: %s", what,
		 strerror(-err));
	answer(ctl, a);
}

void tfd_appcheck_main(int ctl)
{
	static struct check_req q;
	static struct check_ans a;
	struct tf_pkg_trust trust;
	struct tf_pkg_err perr = {0};
	const struct tf_suite *suite;
	int fds[1] = {-1};
	size_t nfds = 0;
	struct iovec iov = {.iov_base = &q, .iov_len = sizeof(q)};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	struct tf_pkg *pkg = NULL;
	ssize_t n;
	int r;

	memset(&a, 0, sizeof(a));
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(q) || q.magic != CHECK_MAGIC ||
	    tf_cmsg_take_fds(&mh, fds, 1, &nfds) < 0 || nfds != 1 ||
	    memchr(q.trust, '\0', sizeof(q.trust)) == NULL)
		_exit(2);
	suite = tf_suite_by_id(q.suite);
	/* the spawner forked before the daemon set up its crypto */
	if (suite == NULL || tf_crypto_init() < 0)
		_exit(2);
	/* the trust list is the daemon's (device.conf): parsed before the
	 * drop, which also lets the crypto library set itself up */
	r = tf_pkg_trust_parse(suite, q.trust, &trust, &perr);
	if (r < 0) {
		a.err = r;
		snprintf(a.reason, sizeof(a.reason), "%s",
			 perr.reason ? perr.reason : "");
		snprintf(a.msg, sizeof(a.msg), "%s", perr.msg);
		answer(ctl, &a);
		_exit(0);
	}
	/* no network: a namespace of its own with nothing in it */
	if (unshare(CLONE_NEWNET) < 0) {
		fail(ctl, &a, tf_negerrno(), "errno.EPERM",
		     "leave the network");
		_exit(1);
	}
	r = tf_privs_drop(NOBODY, NOBODY);
	if (r == 0)
		r = tf_caps_drop_all();
	if (r == 0)
		r = tf_nnp_set();
	if (r < 0) {
		fail(ctl, &a, r, "errno.EPERM", "drop privileges");
		_exit(1);
	}
	r = check_seccomp();
	if (r < 0) {
		fail(ctl, &a, r, "errno.EPERM", "load its seccomp filter");
		_exit(1);
	}
	r = tf_pkg_open(fds[0], &trust, suite, &pkg, &perr);
	if (r < 0) {
		a.err = r;
		snprintf(a.reason, sizeof(a.reason), "%s",
			 perr.reason ? perr.reason : "");
		snprintf(a.msg, sizeof(a.msg), "%s", perr.msg);
		answer(ctl, &a);
		_exit(0);
	}
	a.m = *tf_pkg_manifest(pkg);
	a.off = tf_pkg_payload_offset(pkg);
	a.len = tf_pkg_payload_length(pkg);
	memcpy(a.hash, tf_pkg_payload_hash(pkg), sizeof(a.hash));
	memcpy(a.digest, tf_pkg_digest(pkg), sizeof(a.digest));
	answer(ctl, &a);
	_exit(0);
}

/* The checker's answer cannot overflow the daemon, but its strings are
 * still bounded here before anything prints or compares them. */
static bool manifest_sane(const struct tf_pkg_manifest *m)
{
	if (!memchr(m->name, '\0', sizeof(m->name)) ||
	    !memchr(m->version, '\0', sizeof(m->version)) || m->n_entries < 1 ||
	    m->n_entries > TF_PKG_ENTRIES_MAX || m->n_fs > TF_PKG_FS_MAX)
		return false;
	for (size_t i = 0; i < m->n_entries; i++)
		if (!memchr(m->entries[i].name, '\0',
			    sizeof(m->entries[i].name)) ||
		    !memchr(m->entries[i].path, '\0',
			    sizeof(m->entries[i].path)) ||
		    m->entries[i].path[0] != '/')
			return false;
	for (size_t i = 0; i < m->n_fs; i++)
		if (!memchr(m->fs[i].path, '\0', sizeof(m->fs[i].path)) ||
		    m->fs[i].path[0] != '/')
			return false;
	return tfd_app_name_ok(m->name);
}

int tfd_appcheck_spawn(const struct tfd_persona *p, struct tfd_appcheck *ck)
{
	int sv[2];
	pid_t pid;

	ck->sock = ck->pidfd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return tf_negerrno();
	pid = tf_persona_spawn_pkgcheck(p->cfg->name, sv[1], &ck->pidfd);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		ck->pidfd = -1;
		return (int)pid;
	}
	ck->sock = sv[0];
	ck->pid = pid;
	return 0;
}

void tfd_appcheck_end(struct tfd_appcheck *ck)
{
	siginfo_t si;

	if (ck->sock >= 0)
		close(ck->sock);
	ck->sock = -1;
	if (ck->pidfd < 0)
		return;
	/* it exits after its answer; never leave it behind */
	(void)syscall(SYS_pidfd_send_signal, ck->pidfd, SIGKILL, NULL, 0);
	memset(&si, 0, sizeof(si));
	(void)waitid(P_PIDFD, (id_t)ck->pidfd, &si, WEXITED);
	close(ck->pidfd);
	ck->pidfd = -1;
}

int tfd_appcheck_run(struct tfd_appcheck *ck, uint8_t suite_id,
		     const char *trust, int pkgfd, struct tfd_app_verdict *v)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	_cleanup_free_ struct check_req *q = calloc(1, sizeof(*q));
	_cleanup_free_ struct check_ans *a = calloc(1, sizeof(*a));
	struct iovec iov = {.iov_base = q, .iov_len = sizeof(*q)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int rofd, r = 0;
	ssize_t n;
	char path[64];

	memset(v, 0, sizeof(*v));
	if (q == NULL || a == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* a read-only fd of our copy: the checker can never write it */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pkgfd);
	rofd = open(path, O_RDONLY | O_CLOEXEC);
	if (rofd < 0) {
		r = tf_negerrno();
		goto out;
	}
	q->magic = CHECK_MAGIC;
	q->suite = suite_id;
	if (tf_strlcpy(q->trust, trust, sizeof(q->trust)) < 0) {
		close(rofd);
		r = -ENAMETOOLONG;
		goto out;
	}
	tf_cmsg_put_fds(&mh, cbuf.b, &rofd, 1);
	n = sendmsg(ck->sock, &mh, MSG_NOSIGNAL);
	close(rofd);
	if (n != (ssize_t)sizeof(*q)) {
		r = n < 0 ? tf_negerrno() : -EIO;
		goto out;
	}
	{
		struct pollfd pfd = {.fd = ck->sock, .events = POLLIN};
		int k;
		do
			k = poll(&pfd, 1, CHECK_TIMEOUT_MS);
		while (k < 0 && errno == EINTR);
		if (k <= 0) {
			r = k == 0 ? -ETIMEDOUT : tf_negerrno();
			goto out;
		}
	}
	/* waits for its answer, or its end (EOF) */
	n = recv(ck->sock, a, sizeof(*a), 0);
	if (n != (ssize_t)sizeof(*a) || a->magic != CHECK_MAGIC) {
		r = -EPROTO;
		snprintf(v->msg, sizeof(v->msg),
			 "the package checker died without an answer");
		goto out;
	}
	a->reason[sizeof(a->reason) - 1] = '\0';
	a->msg[sizeof(a->msg) - 1] = '\0';
	if (a->err < 0) {
		r = a->err > -4096 ? a->err : -EBADMSG;
		snprintf(v->reason, sizeof(v->reason), "%s", a->reason);
		snprintf(v->msg, sizeof(v->msg), "%s", a->msg);
		goto out;
	}
	if (!manifest_sane(&a->m)) {
		r = -EPROTO;
		snprintf(v->msg, sizeof(v->msg),
			 "the package checker answered a malformed manifest");
		goto out;
	}
	v->m = a->m;
	v->off = a->off;
	v->len = a->len;
	memcpy(v->hash, a->hash, sizeof(v->hash));
	memcpy(v->digest, a->digest, sizeof(v->digest));
out:
	if (r < 0)
		tf_info("package checker %d: %s", (int)ck->pid, strerror(-r));
	tfd_appcheck_end(ck);
	if (r < 0 && v->msg[0] == '\0')
		snprintf(v->msg, sizeof(v->msg), "package check failed: %s",
			 strerror(-r));
	return r;
}
