/* SPDX-License-Identifier: ISC */
/*
 * How twofold-relay authenticates to NATS and protects the connection
 * (natsauth.c; relay.c main parses the options, nats.c connects):
 * TLS with the organisation's CA (the server's certificate and host
 * name verified), optionally a client certificate (mutual TLS), and a
 * user:password file or a NATS .creds file (user JWT + nkey seed).
 *
 * Two steps because of the sandbox: relay_nats_load reads every file
 * before the privilege drop (the CA and the secrets may be readable by
 * root only) and makes no cnats call (cnats starts its library threads
 * at the first one, and they must inherit the drop and the seccomp
 * filter); relay_nats_auth_apply hands the material to cnats' options
 * after the drop.
 */
#ifndef TWOFOLD_RELAY_NATSAUTH_H
#define TWOFOLD_RELAY_NATSAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

#include "twofold/common.h"

/* secret files: a user:password line, a .creds file (JWT + seed) */
#define RELAY_NATS_SECRET_MAX 8192
/* PEM files: the CA bundle, the client certificate chain and key */
#define RELAY_NATS_PEM_MAX (256u * 1024)

/* --nats and its options, as given (paths; NULL: not given) */
struct relay_nats_cfg {
	const char *urls;      /* --nats URL[,URL...] */
	const char *ca;	       /* --nats-ca: TLS, servers verified by it */
	const char *cert;      /* --nats-cert: mutual TLS (with --nats-key) */
	const char *key;       /* --nats-key */
	const char *creds;     /* --nats-creds: user JWT + nkey seed */
	const char *user_file; /* --nats-user-file: user:password */
};

/* What relay_nats_load read: PEM text on the heap, the key and the
 * credentials in secure memory (twofold/secmem.h). */
struct relay_nats_auth {
	bool tls;	  /* --nats-ca or a tls:// URL */
	char *ca;	  /* PEM */
	char *cert;	  /* PEM chain */
	char *key;	  /* PEM, secure memory */
	char *user;	  /* secure memory: "user\0password" */
	const char *pass; /* into user */
	char *creds;	  /* secure memory: the .creds file */
	const char *jwt;  /* into creds, NUL-terminated there */
	const char *seed; /* into creds */
};

/* Before the sandbox: *out is NULL when nothing is asked (no TLS, no
 * credentials). Check the combination (a key without its
 * certificate, a password without TLS, ...) and read the files; the
 * secret files must be regular, owned by root or the caller, and have no
 * group or other access. 0, or -errno with one line for the operator in
 * why (naming the option and the file, never a secret). */
TF_WUR int relay_nats_load(const struct relay_nats_cfg *cfg,
			   struct relay_nats_auth **out, char *why,
			   size_t whylen) TF_NONNULL(1, 2, 3);

/* After the sandbox, on options not yet used to connect: TLS (refused
 * with a clear why when this libnats was built without it), the CA, the
 * client certificate, the credentials. Our copies of the key and the
 * password are wiped here (cnats keeps its own for reconnects); the
 * .creds stay in a (they sign each connection's nonce): a must outlive
 * the connection. NATS_OK or the failing status with why set. */
TF_WUR natsStatus relay_nats_auth_apply(natsOptions *opts,
					struct relay_nats_auth *a, char *why,
					size_t whylen) TF_NONNULL(1, 2, 3);

/* One line for a first connection cnats refused with st: which servers,
 * what failed (TLS, credentials), what to check. */
void relay_nats_connect_why(natsStatus st, const char *urls,
			    const struct relay_nats_auth *a, char *why,
			    size_t whylen) TF_NONNULL(2, 4);

/* Wipes and frees; accepts NULL. */
void relay_nats_auth_free(struct relay_nats_auth *a);
static inline void relay_nats_auth_freep(struct relay_nats_auth **a)
{
	relay_nats_auth_free(*a);
	*a = NULL;
}

/* Parsers (unit-tested): a user:password line (one line, both parts
 * non-empty, no control characters; a trailing newline is allowed),
 * split in place into user / pass. 0 or -EINVAL. */
TF_WUR int relay_nats_parse_userpass(char *b, size_t len, const char **user,
				     const char **pass) TF_NONNULL(1, 3, 4);
/* A .creds file (nsc's format: the JWT after "-----BEGIN NATS USER
 * JWT-----", the seed after "-----BEGIN USER NKEY SEED-----"), both
 * NUL-terminated in place; only base64url and '.' in the JWT, base32 in
 * the seed ("SU..."). 0 or -EINVAL. */
TF_WUR int relay_nats_parse_creds(char *b, size_t len, const char **jwt,
				  const char **seed) TF_NONNULL(1, 3, 4);

#endif
