/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay ↔ NATS: TLS and credentials (natsauth.h). Relays talk to
 * NATS across the organisation's network; message content is end-to-end
 * encrypted, but presence (who is connected where) and floor control are
 * not, so the connection must be neither readable nor injectable by
 * anyone on that network: TLS with the organisation's CA (cnats verifies
 * the certificate and, as Debian builds it, the URL's host name), and the
 * server only admits relays (a password, a client certificate or a NATS
 * user JWT).
 *
 * Secrets never reach argv (a password on the command line is in
 * /proc/PID/cmdline for every local user): they come from files that
 * only the relay's owner can read, are held in secure memory and wiped
 * once cnats has its copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natsauth.h"
#include "relay.h"
#include "twofold/secmem.h"

#define RELAY_NATS_NO_TRUST_STORE "/dev/null/no-system-trust-store"

static int read_secret(const char *opt, const char *path, char **out,
		       size_t *outlen, char *why, size_t whylen)
{
	_cleanup_close_ int fd =
		open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	struct stat st;
	char *b;
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = tf_negerrno();
		snprintf(why, whylen, "%s %s: cannot read it: %s", opt, path,
			 strerror(-e));
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s %s: not a regular file", opt, path);
		return -EINVAL;
	}
	/* the secret is the relay's alone: no one else may read it (nor
	 * replace it: owner root or the caller) */
	if ((st.st_mode & 077) != 0) {
		snprintf(why, whylen,
			 "%s %s: other users can read it (mode %04o): chmod "
			 "600 it",
			 opt, path, (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, whylen,
			 "%s %s: owned by uid %u, not by root or us: chown it",
			 opt, path, (unsigned)st.st_uid);
		return -EACCES;
	}
	if (st.st_size <= 0 || st.st_size > RELAY_NATS_SECRET_MAX) {
		snprintf(why, whylen, "%s %s: empty or larger than %u bytes",
			 opt, path, (unsigned)RELAY_NATS_SECRET_MAX);
		return -EINVAL;
	}
	b = tf_secure_alloc((size_t)st.st_size + 1);
	if (b == NULL) {
		snprintf(why, whylen, "%s: no secure memory (RLIMIT_MEMLOCK)",
			 opt);
		return -ENOMEM;
	}
	got = tf_read_full(fd, b, (size_t)st.st_size);
	if (got != st.st_size) {
		tf_secure_free(b);
		snprintf(why, whylen, "%s %s: short read", opt, path);
		return -EIO;
	}
	b[got] = '\0';
	*out = b;
	*outlen = (size_t)got;
	return 0;
}

static int read_pem(const char *opt, const char *path, char **out, char *why,
		    size_t whylen)
{
	size_t n;
	int e = tf_read_file_at(AT_FDCWD, path, RELAY_NATS_PEM_MAX, out, &n);

	if (e < 0)
		snprintf(why, whylen, "%s %s: cannot read it: %s", opt, path,
			 strerror(-e));
	else if (strstr(*out, "-----BEGIN ") == NULL) {
		snprintf(why, whylen, "%s %s: not a PEM file", opt, path);
		free(*out);
		*out = NULL;
		e = -EINVAL;
	}
	return e;
}

int relay_nats_parse_userpass(char *b, size_t len, const char **user,
			      const char **pass)
{
	char *colon;

	if (len > 0 && b[len - 1] == '\n')
		len--;
	if (len > 0 && b[len - 1] == '\r')
		len--;
	b[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)b[i] < 0x20 || b[i] == 0x7f)
			return -EINVAL; /* one line; nothing for the JSON */
	colon = strchr(b, ':');
	if (colon == NULL || colon == b || colon[1] == '\0')
		return -EINVAL;
	/* cnats writes both into CONNECT's JSON unescaped: a quote or
	 * backslash there would end the string */
	if (strpbrk(b, "\"\\") != NULL)
		return -EINVAL;
	*colon = '\0';
	*user = b;
	*pass = colon + 1;
	return 0;
}

/* the line after marker, NUL-terminated in place; charset: allowed */
static const char *creds_block(char *b, const char *marker, const char *allowed)
{
	char *p = strstr(b, marker), *end;

	if (p == NULL)
		return NULL;
	p += strlen(marker);
	while (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t')
		p++;
	end = p + strspn(p, allowed);
	if (end == p || (*end != '\0' && *end != '\r' && *end != '\n' &&
			 *end != ' ' && *end != '\t'))
		return NULL;
	*end = '\0';
	return p;
}

int relay_nats_parse_creds(char *b, size_t len, const char **jwt,
			   const char **seed)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
				     "opqrstuvwxyz0123456789-_.";
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	const char *j, *s;

	b[len] = '\0';
	if (strlen(b) != len)
		return -EINVAL;
	/* the seed first: finding the JWT cuts the buffer after it */
	s = creds_block(b, "-----BEGIN USER NKEY SEED-----", b32);
	if (s == NULL || strncmp(s, "SU", 2) != 0)
		return -EINVAL;
	j = creds_block(b, "-----BEGIN NATS USER JWT-----", b64url);
	if (j == NULL || j > s || strchr(j, '.') == NULL)
		return -EINVAL;
	*jwt = j;
	*seed = s;
	return 0;
}

static bool url_is_tls(const char *urls)
{
	for (const char *p = urls; p != NULL && *p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, "tls://", 6))
			return true;
	}
	return false;
}

int relay_nats_load(const struct relay_nats_cfg *cfg,
		    struct relay_nats_auth **out, char *why, size_t whylen)
{
	struct relay_nats_auth *a;
	size_t n;
	int e = 0;

	why[0] = '\0';
	if (cfg->urls == NULL) {
		if (cfg->ca || cfg->cert || cfg->key || cfg->creds ||
		    cfg->user_file) {
			snprintf(why, whylen, "--nats-* options need --nats");
			return -EINVAL;
		}
		*out = NULL;
		return 0;
	}
	/* nats://user:password@host: the command line is in
	 * /proc/PID/cmdline for every local user (and the URLs go into
	 * error lines): not even echoed here */
	if (strchr(cfg->urls, '@') != NULL) {
		snprintf(why, whylen,
			 "--nats: a URL holds credentials (user@ or "
			 "user:password@), which every local user can read "
			 "on the command line: use --nats-user-file or "
			 "--nats-creds");
		return -EINVAL;
	}
	if (!cfg->cert != !cfg->key) {
		snprintf(why, whylen,
			 "--nats-cert and --nats-key go together (mutual TLS)");
		return -EINVAL;
	}
	if (cfg->creds && cfg->user_file) {
		snprintf(why, whylen,
			 "--nats-creds and --nats-user-file: give one of them");
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	a->tls = cfg->ca != NULL || cfg->cert != NULL || url_is_tls(cfg->urls);
	if (a->tls && cfg->ca == NULL) {
		/* only --nats-ca is trusted (below): without it every
		 * server certificate fails; say so now */
		snprintf(why, whylen,
			 "TLS to NATS needs --nats-ca FILE (the CA that "
			 "signed the NATS servers' certificates)");
		e = -EINVAL;
	}
	/* cnats adds OpenSSL's default trust store (the system's public
	 * CAs, /etc/ssl/certs) to its TLS context (seen with Debian's
	 * libnats 3.4.1: with SSL_CERT_FILE naming the servers' CA, any
	 * --nats-ca was accepted): a certificate some public CA issued for
	 * the NATS host's name would pass. Point OpenSSL's defaults where
	 * nothing can exist (a path under a device), so only --nats-ca is
	 * trusted. Now: no thread runs yet to read the environment. */
	if (e == 0 && a->tls &&
	    (setenv("SSL_CERT_FILE", RELAY_NATS_NO_TRUST_STORE, 1) < 0 ||
	     setenv("SSL_CERT_DIR", RELAY_NATS_NO_TRUST_STORE, 1) < 0)) {
		e = tf_negerrno();
		snprintf(why, whylen, "cannot set SSL_CERT_FILE: %s",
			 strerror(-e));
	}
	if (e == 0 && cfg->user_file && !a->tls) {
		snprintf(why, whylen,
			 "--nats-user-file without TLS would send the password "
			 "in clear: give --nats-ca (and tls:// URLs)");
		e = -EINVAL;
	}
	if (e == 0 && cfg->ca)
		e = read_pem("--nats-ca", cfg->ca, &a->ca, why, whylen);
	if (e == 0 && cfg->cert)
		e = read_pem("--nats-cert", cfg->cert, &a->cert, why, whylen);
	if (e == 0 && cfg->key)
		e = read_secret("--nats-key", cfg->key, &a->key, &n, why,
				whylen);
	/* OpenSSL would ask for the passphrase on the terminal, at every
	 * start of a daemon that has none */
	if (e == 0 && cfg->key && strstr(a->key, "ENCRYPTED") != NULL) {
		snprintf(why, whylen,
			 "--nats-key %s: encrypted with a passphrase nobody "
			 "can type: give it unencrypted, mode 0600",
			 cfg->key);
		e = -EINVAL;
	}
	if (e == 0 && cfg->user_file) {
		const char *u;
		e = read_secret("--nats-user-file", cfg->user_file, &a->user,
				&n, why, whylen);
		if (e == 0 &&
		    relay_nats_parse_userpass(a->user, n, &u, &a->pass) < 0) {
			snprintf(why, whylen,
				 "--nats-user-file %s: expected one line "
				 "user:password (no quotes or backslashes)",
				 cfg->user_file);
			e = -EINVAL;
		}
	}
	if (e == 0 && cfg->creds) {
		e = read_secret("--nats-creds", cfg->creds, &a->creds, &n, why,
				whylen);
		if (e == 0 && relay_nats_parse_creds(a->creds, n, &a->jwt,
						     &a->seed) < 0) {
			snprintf(why, whylen,
				 "--nats-creds %s: not a NATS .creds file (a "
				 "user JWT and an SU... nkey seed)",
				 cfg->creds);
			e = -EINVAL;
		}
	}
	if (e < 0 || (!a->tls && a->creds == NULL)) {
		/* nothing to apply: a plain connection, as before */
		relay_nats_auth_free(a);
		a = NULL;
	}
	if (e == 0)
		*out = a;
	return e;
}

void relay_nats_auth_free(struct relay_nats_auth *a)
{
	if (a == NULL)
		return;
	free(a->ca);
	free(a->cert);
	tf_secure_free(a->key); /* zeroes */
	tf_secure_free(a->user);
	tf_secure_free(a->creds);
	free(a);
}

/* cnats' connect and reconnect threads: the user JWT and the nonce's
 * signature, from the .creds read before the sandbox (cnats' own
 * natsOptions_SetUserCredentialsFromFiles would re-read the file at
 * every reconnect, as the unprivileged --user, under the filter) */
static natsStatus creds_jwt(char **jwt, char **err, void *closure)
{
	const struct relay_nats_auth *a = closure;
	natsStatus st = NATS_CONNECTION_CLOSED;

	(void)err;
	if (!relay_nats_cb_enter())
		return st;
	*jwt = strdup(a->jwt);
	st = *jwt ? NATS_OK : NATS_NO_MEMORY;
	relay_nats_cb_leave();
	return st;
}

static natsStatus creds_sign(char **err, unsigned char **sig, int *siglen,
			     const char *nonce, void *closure)
{
	const struct relay_nats_auth *a = closure;
	natsStatus st = NATS_CONNECTION_CLOSED;

	(void)err;
	if (!relay_nats_cb_enter())
		return st;
	st = nats_Sign(a->seed, nonce, sig, siglen);
	relay_nats_cb_leave();
	return st;
}

/* cnats' error text without its "(file.c:123): " prefix */
static const char *last_error(void)
{
	const char *t = nats_GetLastError(NULL), *p;

	if (t == NULL || *t == '\0')
		return NULL;
	if (*t == '(' && (p = strstr(t, "): ")) != NULL)
		return p + 3;
	return t;
}

natsStatus relay_nats_auth_apply(natsOptions *opts, struct relay_nats_auth *a,
				 char *why, size_t whylen)
{
	natsStatus st = NATS_OK;
	const char *what = "";

	why[0] = '\0';
	if (a->tls) {
		what = "TLS";
		st = natsOptions_SetSecure(opts, true);
		if (st == NATS_ILLEGAL_STATE) {
			snprintf(why, whylen,
				 "this libnats was built without TLS: cannot "
				 "use --nats-ca or tls:// (install a libnats "
				 "built with OpenSSL)");
			return st;
		}
	}
	if (st == NATS_OK && a->ca) {
		what = "--nats-ca";
		st = natsOptions_SetCATrustedCertificates(opts, a->ca);
	}
	if (st == NATS_OK && a->cert) {
		what = "--nats-cert/--nats-key";
		st = natsOptions_SetCertificatesChain(opts, a->cert, a->key);
	}
	/* OpenSSL holds the parsed key now; our PEM copy goes */
	tf_secure_free(a->key);
	a->key = NULL;
	if (st == NATS_OK && a->user) {
		what = "--nats-user-file";
		st = natsOptions_SetUserInfo(opts, a->user, a->pass);
	}
	/* cnats keeps its own copy for reconnects (its options, which we
	 * cannot wipe); ours goes now */
	tf_secure_free(a->user);
	a->user = NULL;
	a->pass = NULL;
	if (st == NATS_OK && a->creds) {
		what = "--nats-creds";
		st = natsOptions_SetUserCredentialsCallbacks(opts, creds_jwt, a,
							     creds_sign, a);
	}
	/* a discovered server is named by the cluster (often by address),
	 * which the certificates of the names we were given need not
	 * cover; and the set of servers a relay trusts is the operator's */
	if (st == NATS_OK && a->tls) {
		what = "TLS";
		st = natsOptions_SetIgnoreDiscoveredServers(opts, true);
	}
	if (st != NATS_OK) {
		const char *t = last_error();
		snprintf(why, whylen, "%s refused by the NATS client: %s", what,
			 t ? t : natsStatus_GetText(st));
	}
	return st;
}

void relay_nats_connect_why(natsStatus st, const char *urls,
			    const struct relay_nats_auth *a, char *why,
			    size_t whylen)
{
	const char *t = last_error();
	bool tls = a != NULL && a->tls;
	bool creds = a != NULL && a->creds != NULL;

	if (t == NULL)
		t = natsStatus_GetText(st);
	switch (st) {
	case NATS_SSL_ERROR:
		if (tls)
			snprintf(why, whylen,
				 "NATS %s: TLS failed: %s (check --nats-ca and "
				 "that the server's certificate names the "
				 "URL's host)",
				 urls, t);
		else
			snprintf(why, whylen,
				 "NATS %s: the server requires TLS: give "
				 "--nats-ca FILE (%s)",
				 urls, t);
		break;
	case NATS_SECURE_CONNECTION_REQUIRED:
		snprintf(why, whylen,
			 "NATS %s: the server requires TLS: give --nats-ca "
			 "FILE",
			 urls);
		break;
	case NATS_SECURE_CONNECTION_WANTED:
		snprintf(why, whylen,
			 "NATS %s: the server offers no TLS (configure tls {} "
			 "on the NATS servers)",
			 urls);
		break;
	case NATS_CONNECTION_AUTH_FAILED:
	case NATS_NOT_PERMITTED:
		snprintf(why, whylen,
			 "NATS %s: the server refused this relay (%s): check "
			 "%s",
			 urls, t,
			 creds		? "--nats-creds"
			 : a && a->cert ? "--nats-user-file and --nats-cert"
					: "--nats-user-file (or give one)");
		break;
	default:
		/* TLS 1.3: a server that refuses the client's certificate
		 * (or its absence) says so after the handshake, by closing
		 * the connection: cnats sees no PONG */
		if (tls)
			snprintf(why, whylen,
				 "NATS %s: the server closed the connection "
				 "(%s): %s",
				 urls, t,
				 a->cert ? "check that it trusts this "
					   "relay's --nats-cert"
					 : "it may require a client "
					   "certificate (--nats-cert, "
					   "--nats-key)");
		else
			snprintf(why, whylen, "NATS %s: %s", urls, t);
		break;
	}
}
