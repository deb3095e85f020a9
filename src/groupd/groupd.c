/* SPDX-License-Identifier: ISC */
/*
 * twofold-groupd: the group authority of talk groups (issue 15, like
 * MCPTT's group management server). Its own process with its own
 * group-authority certificate, separate from the relays: a relay that is
 * broken into cannot add a member, because members accept only rosters
 * this key signed, and epoch secrets only over an end-to-end session with
 * the holder of this certificate.
 *
 *   twofold-groupd --state DIR init --key KEY --cert CERT --ca CA.pub
 *   twofold-groupd --state DIR create GROUP
 *   twofold-groupd --state DIR add GROUP CERT [--dispatcher]
 *   twofold-groupd --state DIR remove GROUP OFFICER
 *   twofold-groupd --state DIR list
 *   twofold-groupd --state DIR publish GROUP --relay ADDR:PORT
 *                  --relay-pub FILE --comms COMMS_STATE
 *
 * Every change signs a new roster (epoch + 1). A removal makes a fresh
 * random epoch secret (the leaver cannot compute it); a join ratchets it
 * forward, secret' = KDF(secret, join) (the joiner cannot compute the
 * old one). `publish` uploads the signed roster to the relay (which then
 * routes by it at once: a removed device gets nothing more) and sends
 * each member, over the pairwise end-to-end session of groupd's own
 * twofold-comms service (its control socket), one key message:
 *   twofold-group-key v1 GROUP EPOCH ROSTER-HASH SECRET   (hex)
 * The member fetches the roster from the relay, checks it is the one
 * hashed here and signed by the certificate whose key it has the session
 * with, and only then uses the secret.
 *
 * State, every file written atomically: DIR/key (0600), DIR/cert,
 * DIR/ca.pub; DIR/groups/GROUP/{roster, secret (0600), pending}.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/comms.h"
#include "twofold/roster.h"
#include "twofold/secmem.h"

#define PROG "twofold-groupd"
#define KEYMSG_PREFIX "twofold-group-key v1 "
/* a roster is re-signed on every change; it lives this long at most */
#define ROSTER_VALIDITY (TF_ROSTER_MAX_VALIDITY - 3600)

struct authority {
	const struct tf_suite *suite;
	struct tf_cert_anchor anchor;
	struct tf_privfile pf;
	struct tf_key *sign;
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct tf_cert me;
};

static const char *D;

static int fail(const char *fmt, ...) TF_PRINTF(1, 2);
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static int readf(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *b = NULL;
	int r = tf_read_file_at(AT_FDCWD, path, max, &b, len);

	if (r == 0)
		*out = (uint8_t *)b;
	return r;
}

static void pathf(char *out, size_t cap, const char *fmt, ...) TF_PRINTF(3, 4);
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = snprintf(out, cap, "%s/", D);
	vsnprintf(out + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool group_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > TF_CERT_ID_MAX || g[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((g[i] >= 'a' && g[i] <= 'z') ||
		      (g[i] >= 'A' && g[i] <= 'Z') ||
		      (g[i] >= '0' && g[i] <= '9') || g[i] == '-' ||
		      g[i] == '_' || g[i] == '.' || g[i] == '@'))
			return false;
	return true;
}

static int load_authority(struct authority *a)
{
	char p[512];
	uint8_t *b = NULL;
	struct tf_pubfile pub;
	size_t len;
	int r;

	pathf(p, sizeof(p), "ca.pub");
	if (readf(p, TF_PUBFILE_MAX, &b, &len) < 0 ||
	    tf_pubfile_parse(b, len, &pub) < 0 ||
	    tf_cert_anchor_init(&a->anchor, pub.suite, pub.sign_pk,
				pub.sign_pk_len) < 0) {
		free(b);
		return fail("%s is not a CA public key; run `" PROG
			    " --state %s init` first",
			    p, D);
	}
	free(b);
	a->suite = pub.suite;
	pathf(p, sizeof(p), "key");
	if (readf(p, TF_PRIVFILE_BYTES, &b, &len) < 0 ||
	    tf_privfile_parse(b, len, &a->pf) < 0 ||
	    a->pf.kind != TF_KEYFILE_DEVICE || a->pf.suite != a->suite ||
	    tf_privfile_sign_key(&a->pf, &a->sign) < 0) {
		if (b)
			tf_memzero(b, len);
		free(b);
		return fail("%s is not a %s identity key", p, a->suite->name);
	}
	tf_memzero(b, len);
	free(b);
	pathf(p, sizeof(p), "cert");
	if (readf(p, TF_CERT_MAX, &b, &len) < 0)
		return fail("cannot read %s", p);
	memcpy(a->cert, b, len);
	a->certlen = len;
	free(b);
	r = tf_cert_verify(a->cert, a->certlen, &a->anchor,
			   (uint64_t)time(NULL),
			   TF_ROLE_BIT(TF_ROLE_GROUP_AUTHORITY), NULL, &a->me);
	if (r < 0)
		return fail("certificate %s refused: %s (issue one with "
			    "`twofold-ca issue --role group-authority`)",
			    p, tf_cert_reason(r));
	return 0;
}

static void authority_free(struct authority *a)
{
	tf_key_free(a->sign);
	tf_privfile_free(&a->pf);
}

static int copy_file(const char *from, const char *to, size_t max, mode_t mode)
{
	uint8_t *b = NULL;
	size_t len;
	int r = readf(from, max, &b, &len);

	if (r == 0)
		r = tf_atomic_write(to, b, len, mode);
	if (b)
		tf_memzero(b, len);
	free(b);
	return r;
}

static int cmd_init(int argc, char **argv)
{
	const char *key = NULL, *cert = NULL, *ca = NULL;
	struct authority a = {0};
	char p[512];
	int r;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--key"))
			key = argv[i + 1];
		else if (!strcmp(argv[i], "--cert"))
			cert = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			ca = argv[i + 1];
	}
	if (!key || !cert || !ca)
		return fail("init needs --key KEY --cert CERT --ca CA.pub");
	if ((mkdir(D, 0700) < 0 && errno != EEXIST))
		return fail("cannot create %s: %s", D, strerror(errno));
	pathf(p, sizeof(p), "groups");
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return fail("cannot create %s: %s", p, strerror(errno));
	pathf(p, sizeof(p), "key");
	if (copy_file(key, p, TF_PRIVFILE_BYTES, 0600) < 0)
		return fail("cannot copy the key %s", key);
	pathf(p, sizeof(p), "cert");
	if (copy_file(cert, p, TF_CERT_MAX, 0644) < 0)
		return fail("cannot copy the certificate %s", cert);
	pathf(p, sizeof(p), "ca.pub");
	if (copy_file(ca, p, TF_PUBFILE_MAX, 0644) < 0)
		return fail("cannot copy the CA key %s", ca);
	r = load_authority(&a);
	authority_free(&a);
	return r;
}

/* ---- groups ---- */

/* The current roster (NULL: none yet, the group has no member) and the
 * epoch secret, which lives in secure memory. */
struct group {
	char id[TF_CERT_ID_MAX + 1];
	struct tf_roster *r;
	uint8_t *secret;
};

static void group_free(struct group *g)
{
	free(g->r);
	tf_secure_free(g->secret);
	memset(g, 0, sizeof(*g));
}

static int group_load(const char *id, struct group *g)
{
	char p[512];
	uint8_t *b = NULL;
	size_t len;
	struct stat st;

	memset(g, 0, sizeof(*g));
	if (!group_ok(id))
		return fail("%s is not a group id (letters, digits, -_.@)", id);
	snprintf(g->id, sizeof(g->id), "%s", id);
	pathf(p, sizeof(p), "groups/%s", id);
	if (stat(p, &st) < 0)
		return fail("no group %s (make it with `" PROG " create %s`)",
			    id, id);
	g->secret = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (g->secret == NULL)
		return fail("out of secure memory");
	pathf(p, sizeof(p), "groups/%s/roster", id);
	if (readf(p, TF_ROSTER_WIRE_MAX, &b, &len) == 0) {
		/* our own file, but parsed as strictly as anyone's */
		int r = tf_roster_parse(b, len, &g->r);
		free(b);
		if (r < 0)
			return fail("%s is damaged", p);
		pathf(p, sizeof(p), "groups/%s/secret", id);
		if (readf(p, TF_GROUP_SECRET_BYTES, &b, &len) < 0 ||
		    len != TF_GROUP_SECRET_BYTES) {
			free(b);
			return fail("%s is missing or damaged", p);
		}
		memcpy(g->secret, b, len);
		tf_memzero(b, len);
		free(b);
	}
	return 0;
}

/* Sign and store the next epoch: the secret first, then the roster that
 * names its epoch, then the pending mark (a crash in between leaves an
 * old roster with a new secret, which `publish` never sends: the roster
 * hash in the key message would not match). */
static int group_commit(struct authority *a, struct group *g,
			struct tf_roster *next, const uint8_t *secret)
{
	_cleanup_free_ uint8_t *w = NULL;
	char p[512];
	size_t wl;
	int r;

	next->issued_at = (uint64_t)time(NULL);
	next->expires_at = next->issued_at + ROSTER_VALIDITY;
	if (next->expires_at > a->me.not_after)
		next->expires_at = a->me.not_after;
	snprintf(next->group, sizeof(next->group), "%s", g->id);
	r = tf_roster_sort(next);
	if (r == 0)
		r = tf_roster_sign(next, a->sign, a->cert, a->certlen, &w, &wl);
	if (r < 0)
		return fail("cannot sign the roster of %s: %s", g->id,
			    strerror(-r));
	pathf(p, sizeof(p), "groups/%s/secret", g->id);
	if (tf_atomic_write(p, secret, TF_GROUP_SECRET_BYTES, 0600) < 0)
		return fail("cannot write %s", p);
	pathf(p, sizeof(p), "groups/%s/roster", g->id);
	if (tf_atomic_write(p, w, wl, 0644) < 0)
		return fail("cannot write %s", p);
	pathf(p, sizeof(p), "groups/%s/pending", g->id);
	if (tf_atomic_write(p, "", 0, 0600) < 0)
		return fail("cannot write %s", p);
	printf("%s: epoch %llu, %zu members; publish it with `" PROG
	       " publish %s ...`\n",
	       g->id, (unsigned long long)next->epoch, next->n, g->id);
	return 0;
}

static int cmd_create(const char *id)
{
	char p[512];

	if (!group_ok(id))
		return fail("%s is not a group id (letters, digits, -_.@)", id);
	pathf(p, sizeof(p), "groups/%s", id);
	if (mkdir(p, 0700) < 0)
		return fail("cannot create group %s: %s", id,
			    errno == EEXIST ? "it exists" : strerror(errno));
	printf("%s: created, no members yet\n", id);
	return 0;
}

/* The end of a membership change (add, remove), committed or not: frees
 * what it loaded and made, returns rc. */
static int change_end(struct authority *a, struct group *g,
		      struct tf_roster *next, uint8_t *sec, int rc)
{
	tf_secure_free(sec);
	free(next);
	group_free(g);
	authority_free(a);
	return rc;
}

static int cmd_add(const char *id, const char *certpath, bool dispatcher)
{
	struct authority a = {0};
	/* zeroed: the authority may fail to load before the group is */
	struct group g = {0};
	struct tf_roster *next = NULL;
	struct tf_cert c;
	uint8_t *b = NULL, *sec = NULL;
	size_t len, n;
	int r, rc = 1;

	if (load_authority(&a) || group_load(id, &g))
		goto out;
	if (readf(certpath, TF_CERT_MAX, &b, &len) < 0) {
		fail("cannot read the certificate %s", certpath);
		goto out;
	}
	/* only a device the CA certifies, as an officer or dispatcher */
	r = tf_cert_verify(b, len, &a.anchor, (uint64_t)time(NULL),
			   TF_ROLES_CLIENT, NULL, &c);
	free(b);
	if (r < 0) {
		fail("certificate %s refused: %s", certpath, tf_cert_reason(r));
		goto out;
	}
	n = g.r ? g.r->n : 0;
	if (n >= TF_ROSTER_MAX) {
		fail("%s has %u members, the most a roster holds", id,
		     TF_ROSTER_MAX);
		goto out;
	}
	if (tf_roster_new(n + 1, &next) < 0)
		goto out;
	if (g.r) {
		memcpy(next->m, g.r->m, n * sizeof(next->m[0]));
		next->epoch = g.r->epoch + 1;
	} else {
		next->epoch = 1;
	}
	next->n = n + 1;
	snprintf(next->m[n].officer, sizeof(next->m[n].officer), "%s",
		 c.officer);
	next->m[n].role = dispatcher ? TF_ROLE_DISPATCHER : TF_ROLE_OFFICER;
	if (tf_roster_device_hash(a.suite, c.dh_pk, c.dh_pk_len,
				  next->m[n].device) < 0)
		goto out;
	if (g.r && tf_roster_find(g.r, c.officer, next->m[n].device) >= 0) {
		fail("%s is already in %s", c.officer, id);
		goto out;
	}
	sec = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (sec == NULL)
		goto out;
	/* join: ratchet forward (the joiner cannot compute the past); the
	 * first member: a fresh secret */
	r = g.r ? tf_group_secret_join(a.suite, g.secret, id, next->epoch, sec)
		: tf_random(sec, TF_GROUP_SECRET_BYTES);
	if (r < 0) {
		fail("cannot make the epoch secret");
		goto out;
	}
	rc = group_commit(&a, &g, next, sec);
out:
	return change_end(&a, &g, next, sec, rc);
}

static int cmd_remove(const char *id, const char *officer)
{
	struct authority a = {0};
	struct group g = {0};
	struct tf_roster *next = NULL;
	uint8_t *sec = NULL;
	size_t k = 0;
	int rc = 1;

	if (load_authority(&a) || group_load(id, &g))
		goto out;
	if (g.r == NULL || tf_roster_find(g.r, officer, NULL) < 0) {
		fail("%s is not in %s", officer, id);
		goto out;
	}
	if (tf_roster_new(g.r->n, &next) < 0)
		goto out;
	for (size_t i = 0; i < g.r->n; i++)
		if (strcmp(g.r->m[i].officer, officer) != 0)
			next->m[k++] = g.r->m[i];
	if (k == 0) {
		fail("%s would have no member left; a roster lists at least "
		     "one",
		     id);
		goto out;
	}
	next->n = k;
	next->epoch = g.r->epoch + 1;
	/* leave: a fresh secret, nothing the leaver held derives it */
	sec = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (sec == NULL || tf_random(sec, TF_GROUP_SECRET_BYTES) < 0) {
		fail("cannot make the epoch secret");
		goto out;
	}
	rc = group_commit(&a, &g, next, sec);
out:
	return change_end(&a, &g, next, sec, rc);
}

static int cmd_list(void)
{
	char p[512];
	DIR *d;
	struct dirent *e;

	pathf(p, sizeof(p), "groups");
	d = opendir(p);
	if (d == NULL)
		return fail("no groups in %s (run init first)", D);
	while ((e = readdir(d)) != NULL) {
		struct group g;
		char pend[600];

		if (e->d_name[0] == '.' || !group_ok(e->d_name))
			continue;
		if (group_load(e->d_name, &g))
			continue;
		pathf(pend, sizeof(pend), "groups/%s/pending", g.id);
		printf("%s epoch %llu members %zu%s\n", g.id,
		       g.r ? (unsigned long long)g.r->epoch : 0ull,
		       g.r ? g.r->n : 0,
		       access(pend, F_OK) == 0 ? " (not yet published)" : "");
		for (size_t i = 0; g.r && i < g.r->n; i++)
			printf("  %s %s\n", g.r->m[i].officer,
			       tf_cert_role_name(g.r->m[i].role));
		group_free(&g);
	}
	closedir(d);
	return 0;
}

/* ---- publish ---- */

/* Upload the roster to the relay over our own channel (the relay knows
 * us by our group-authority certificate) and wait for its answer. */
static int relay_publish(struct authority *a, const char *relay,
			 const char *rpub, const uint8_t *w, size_t wl)
{
	uint8_t *b = NULL, out[2048], in[2048], pt[2048];
	struct tf_comms_client *c = NULL;
	struct tf_comms_session *s = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct tf_pubfile pub;
	struct timespec ts;
	char host[64];
	unsigned port;
	size_t len;
	ssize_t n;
	int fd, r, rc = 1;

	if (readf(rpub, TF_PUBFILE_MAX, &b, &len) < 0 ||
	    tf_pubfile_parse(b, len, &pub) < 0 || pub.suite != a->suite ||
	    pub.dh_pk_len == 0) {
		free(b);
		return fail("%s is not the relay's %s public key", rpub,
			    a->suite->name);
	}
	free(b);
	if (sscanf(relay, "%63[^:]:%u", host, &port) != 2 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return fail("--relay wants ADDR:PORT, not %s", relay);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("cannot reach the relay %s: %s", relay,
			    strerror(errno));
	clock_gettime(CLOCK_REALTIME, &ts);
	r = tf_comms_client_start(a->suite->id, a->pf.secret + TF_KEY_BYTES,
				  pub.dh_pk, a->cert, a->certlen,
				  (uint64_t)ts.tv_sec * 1000000000ull +
					  (uint64_t)ts.tv_nsec,
				  0x67726f75, &c, out, sizeof(out));
	if (r < 0)
		goto out;
	int cookies = 0;

	for (int tries = 0; tries < 3 && s == NULL; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (send(fd, out, (size_t)r, 0) < 0)
			break;
		if (poll(&p, 1, 2000) != 1)
			continue;
		n = recv(fd, in, sizeof(in), 0);
		/* a relay under load answers with a COOKIE: the INIT again,
		 * with mac2 (one round trip more, not a try) */
		if (n > 0 && tf_comms_client_cookie(c, in, (size_t)n) == 0) {
			r = tf_comms_client_init(c, out, sizeof(out));
			if (r < 0)
				break;
			if (cookies++ < 3)
				tries--;
			continue;
		}
		if (n > 0 && tf_comms_client_finish(c, in, (size_t)n, &s) < 0)
			break;
	}
	if (s == NULL) {
		fail("the relay %s did not accept our handshake", relay);
		goto out;
	}
	for (size_t off = 0; off < wl;) {
		size_t k = wl - off > 1200 ? 1200 : wl - off;
		pt[0] = 0x30; /* JOIN: a piece of the roster */
		for (int i = 0; i < 4; i++) {
			pt[1 + i] = (uint8_t)(wl >> (24 - 8 * i));
			pt[5 + i] = (uint8_t)(off >> (24 - 8 * i));
		}
		memcpy(pt + 9, w + off, k);
		r = tf_comms_encrypt(s, pt, 9 + k, out, sizeof(out));
		if (r < 0 || send(fd, out, (size_t)r, 0) < 0)
			goto out;
		off += k;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int m;
		if (poll(&p, 1, 3000) != 1) {
			fail("the relay %s did not answer the roster", relay);
			goto out;
		}
		n = recv(fd, in, sizeof(in), 0);
		if (n <= 0)
			continue;
		m = tf_comms_decrypt(s, in, (size_t)n, pt, sizeof(pt));
		if (m >= 1 && pt[0] == 0x31) {
			rc = 0;
			break;
		}
		if (m >= 2 && pt[0] == 0x7f) {
			fail("the relay refused the roster: %.*s", m - 2,
			     pt + 2);
			break;
		}
	}
out:
	tf_comms_session_free(s);
	tf_comms_client_free(c);
	close(fd);
	return rc;
}

/* One request to our twofold-comms service's control socket. */
static int comms_send(const char *dir, const char *to, const char *text)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[1024], rep[256];
	int fd, n, rc = -EIO;
	ssize_t m;

	n = snprintf(req, sizeof(req), "send\n%s\n%s", to, text);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control",
			     dir) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) == n &&
	    (m = recv(fd, rep, sizeof(rep) - 1, 0)) > 0) {
		rep[m] = '\0';
		rc = strncmp(rep, "ok", 2) == 0 ? 0 : -EPROTO;
	}
	tf_memzero(req, sizeof(req));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int cmd_publish(const char *id, int argc, char **argv)
{
	const char *relay = NULL, *rpub = NULL, *comms = NULL;
	struct authority a = {0};
	struct group g = {0};
	uint8_t *w = NULL, h[TF_HASH_BYTES];
	char p[512], hh[2 * TF_HASH_BYTES + 1], sh[2 * TF_KEY_BYTES + 1];
	char text[512];
	size_t wl;
	int rc = 1, bad = 0;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--relay"))
			relay = argv[i + 1];
		else if (!strcmp(argv[i], "--relay-pub"))
			rpub = argv[i + 1];
		else if (!strcmp(argv[i], "--comms"))
			comms = argv[i + 1];
	}
	if (!relay || !rpub || !comms)
		return fail("publish needs --relay ADDR:PORT --relay-pub FILE "
			    "--comms COMMS_STATE");
	if (load_authority(&a) || group_load(id, &g))
		goto out;
	if (g.r == NULL) {
		fail("%s has no members yet", id);
		goto out;
	}
	pathf(p, sizeof(p), "groups/%s/roster", id);
	if (readf(p, TF_ROSTER_WIRE_MAX, &w, &wl) < 0 ||
	    tf_hash(a.suite, h, w, wl) < 0)
		goto out;
	if (relay_publish(&a, relay, rpub, w, wl))
		goto out;
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < TF_HASH_BYTES; i++) {
		hh[2 * i] = hx[h[i] >> 4];
		hh[2 * i + 1] = hx[h[i] & 15];
		sh[2 * i] = hx[g.secret[i] >> 4];
		sh[2 * i + 1] = hx[g.secret[i] & 15];
	}
	hh[2 * TF_HASH_BYTES] = sh[2 * TF_KEY_BYTES] = '\0';
	snprintf(text, sizeof(text), KEYMSG_PREFIX "%s %llu %s %s", id,
		 (unsigned long long)g.r->epoch, hh, sh);
	for (size_t i = 0; i < g.r->n; i++)
		if (comms_send(comms, g.r->m[i].officer, text) < 0) {
			fail("cannot queue the key for %s on the comms service "
			     "%s",
			     g.r->m[i].officer, comms);
			bad++;
		}
	tf_memzero(text, sizeof(text));
	tf_memzero(sh, sizeof(sh));
	if (bad == 0) {
		pathf(p, sizeof(p), "groups/%s/pending", id);
		(void)unlink(p);
		printf("%s: epoch %llu published to the relay and queued for "
		       "%zu members\n",
		       id, (unsigned long long)g.r->epoch, g.r->n);
		rc = 0;
	}
out:
	free(w);
	group_free(&g);
	authority_free(&a);
	return rc;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: " PROG " --state DIR init --key KEY --cert CERT --ca "
		"CA.pub\n"
		"       " PROG " --state DIR create GROUP\n"
		"       " PROG " --state DIR add GROUP CERT [--dispatcher]\n"
		"       " PROG " --state DIR remove GROUP OFFICER\n"
		"       " PROG " --state DIR list\n"
		"       " PROG " --state DIR publish GROUP --relay ADDR:PORT "
		"--relay-pub FILE --comms COMMS_STATE\n");
	return 2;
}

int main(int argc, char **argv)
{
	int i = 1;

	D = secure_getenv("TWOFOLD_GROUPD_STATE");
	if (argc > 2 && !strcmp(argv[1], "--state")) {
		D = argv[2];
		i = 3;
	}
	if (D == NULL)
		D = "/var/lib/twofold-groupd";
	if (i >= argc)
		return usage();
	umask(0077);
	if (tf_crypto_init() < 0)
		return fail("crypto libraries failed to initialise");
	if (!strcmp(argv[i], "init"))
		return cmd_init(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "create") && argc == i + 2)
		return cmd_create(argv[i + 1]);
	if (!strcmp(argv[i], "add") && (argc == i + 3 || argc == i + 4))
		return cmd_add(argv[i + 1], argv[i + 2],
			       argc == i + 4 &&
				       !strcmp(argv[i + 3], "--dispatcher"));
	if (!strcmp(argv[i], "remove") && argc == i + 3)
		return cmd_remove(argv[i + 1], argv[i + 2]);
	if (!strcmp(argv[i], "list") && argc == i + 1)
		return cmd_list();
	if (!strcmp(argv[i], "publish") && argc >= i + 2)
		return cmd_publish(argv[i + 1], argc - i - 2, argv + i + 2);
	return usage();
}
