/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' calls (call.c; docs/comms.md "Calls", the wire format in
 * docs/comms-protocol.md "Calls"): hooks comms.c calls.
 */
#ifndef TWOFOLD_COMMS_CALL_H
#define TWOFOLD_COMMS_CALL_H

#include "svc.h"

/* relay ops this part uses besides svc.h's */
enum {
	OP_FWD = 0x10,
	OP_FROM = 0x11,
};

/* FWD/FROM bodies whose first byte is in 0x20..0x2f are calls' */
#define CALL_FWD_FIRST 0x20
#define CALL_FWD_LAST 0x2f

/* FROM from the relay: true when it was a call message (consumed). */
bool call_on_from(struct svc *s, const char *from, const uint8_t *b, size_t n);
/* a relay ERROR (code, text) while a call is being set up */
/* An ERROR from the relay; op and name: the request it names (op 0:
 * none, an older relay's or an unnamed one). */
void call_on_error(struct svc *s, uint8_t code, uint8_t op, const char *name);
/* a BUNDLE the relay sent (before comms.c's own use of it) */
void call_on_bundle(struct svc *s, const char *whose, const uint8_t *b,
		    size_t n);
/* a DEVICES answer the relay sent (before comms.c's own use of it) */
void call_on_devices(struct svc *s, const uint8_t *b, size_t n);
/* A control request: 0 not a call request; 1 answered (the caller closes
 * fd); 2 answered later (fd is now call.c's to close). */
int call_control(struct svc *s, int fd, char *req);
/* append the call's status lines to out (used bytes; NUL-terminated) */
size_t call_status(struct svc *s, char *out, size_t cap);
/* the poll timeout the call needs (ms; at most dflt) */
int call_poll_timeout(struct svc *s, int dflt);
/* timers: media pacing, set-up and answer timeouts */
void call_tick(struct svc *s);
/* Is a call active (answered)? Then PTT bursts may play too. */
bool call_active(void);
/* twofoldd gave this call the sound devices ("audio yes"): open what
 * is not open yet, if the call is still active */
void call_devices_again(struct svc *s);
/* the service stops: end the call (files finished) */
void call_shutdown(struct svc *s);

#endif
