/* SPDX-License-Identifier: ISC */
/*
 * The evil relay's hooks (evil.c), compiled only into the test build
 * twofold-relay-evil (-DTF_RELAY_EVIL). In the shipped relay every
 * RELAY_EVIL_* macro is empty, so relay.c's code paths are untouched.
 */
#ifndef TWOFOLD_RELAY_EVIL_H
#define TWOFOLD_RELAY_EVIL_H

#ifdef TF_RELAY_EVIL
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay;
struct worker;
struct sess;

/* TF_EVIL parsed: 0, or -EINVAL for an unknown forgery (or roster-cert's
 * TF_EVIL_CERT / TF_EVIL_KEY unreadable). */
int relay_evil_init(struct relay *r);
/* A reply plaintext for s: may point *pt at a forged copy in buf
 * (RELAY_DGRAM_MAX bytes) and change *len; true when evil.c sent it
 * itself (replays, reordering) and the caller must not. */
bool relay_evil_send(struct worker *w, struct sess *s, const uint8_t **pt,
		     size_t *len, uint8_t *buf);
/* An unencrypted datagram (a RESP) about to go out, in place. */
void relay_evil_raw(struct relay *r, uint8_t *p, size_t len);
/* BUNDLE_GET's stored bundle for whose (store_mu held): may replace it. */
void relay_evil_bundle(struct relay *r, const char *whose, uint8_t **base,
		       size_t *bl, size_t *ol);

#define RELAY_EVIL_INIT(r)                                                     \
	do {                                                                   \
		if (relay_evil_init(r) < 0) {                                  \
			fprintf(stderr, PROG ": TF_EVIL: unknown forgery, "    \
					     "or TF_EVIL_CERT/TF_EVIL_KEY "    \
					     "unreadable\n");                  \
			return 2;                                              \
		}                                                              \
	} while (0)
#define RELAY_EVIL_SEND(w, s, pt, len, buf)                                    \
	do {                                                                   \
		if (relay_evil_send(w, s, &(pt), &(len), buf))                 \
			return;                                                \
	} while (0)
#define RELAY_EVIL_RAW(r, p, len) relay_evil_raw(r, p, len)
#define RELAY_EVIL_BUNDLE(r, whose, base, bl, ol)                              \
	relay_evil_bundle(r, whose, base, bl, ol)
#define RELAY_EVIL_BUF(b) uint8_t b[RELAY_DGRAM_MAX]
#else
#define RELAY_EVIL_INIT(r) ((void)0)
#define RELAY_EVIL_SEND(w, s, pt, len, buf) ((void)0)
#define RELAY_EVIL_RAW(r, p, len) ((void)0)
#define RELAY_EVIL_BUNDLE(r, whose, base, bl, ol) ((void)0)
#define RELAY_EVIL_BUF(b) /* nothing */
#endif

#endif
