/* SPDX-License-Identifier: ISC */
/*
 * Notification records (issue 14 item 5, docs/shell.md "Notifications"):
 * what a persona's notifier (tf-notifyd) writes to the socketpair the
 * daemon gave it, one record per SOCK_SEQPACKET datagram. The notifier
 * speaks D-Bus; the daemon only ever parses this fixed record, so a D-Bus
 * parser bug stays inside the persona (fuzz/fuzz_notify.c).
 *
 * Record (integers big-endian):
 *   "TFNT" | u8 version (1) | u8 urgency (0 low, 1 normal, 2 critical)
 *   | u8 app_len (0..TF_NOTIFY_APP_MAX) | u8 0
 *   | u16 summary_len (1..TF_NOTIFY_SUMMARY_MAX)
 *   | u16 body_len (0..TF_NOTIFY_BODY_MAX)
 *   | app | summary | body. Nothing may follow.
 * app and summary are printable ASCII; body is printable ASCII or '\n'.
 * The notifier maps anything else (UTF-8 the shell's font cannot draw,
 * control bytes) to '?' and cuts at the bounds before encoding.
 */
#ifndef TWOFOLD_NOTIFY_H
#define TWOFOLD_NOTIFY_H

#include "twofold/common.h"

#define TF_NOTIFY_MAGIC "TFNT"
#define TF_NOTIFY_VERSION 1
#define TF_NOTIFY_HDR_BYTES 12
#define TF_NOTIFY_APP_MAX 64
#define TF_NOTIFY_SUMMARY_MAX 256
#define TF_NOTIFY_BODY_MAX 1024
#define TF_NOTIFY_MAX                                                          \
	(TF_NOTIFY_HDR_BYTES + TF_NOTIFY_APP_MAX + TF_NOTIFY_SUMMARY_MAX +     \
	 TF_NOTIFY_BODY_MAX)
#define TF_NOTIFY_URGENCY_MAX 2

struct tf_notify {
	uint8_t urgency;
	char app[TF_NOTIFY_APP_MAX + 1]; /* NUL-terminated */
	char summary[TF_NOTIFY_SUMMARY_MAX + 1];
	char body[TF_NOTIFY_BODY_MAX + 1];
};

/* Parse one record of exactly len bytes. 0, or -EBADMSG (malformed,
 * truncated, trailing bytes, a byte outside the allowed set) or
 * -EPROTONOSUPPORT (another version). *out is zeroed on error. */
int tf_notify_parse(const uint8_t *buf, size_t len, struct tf_notify *out);

/* Encode n into buf (cap bytes, TF_NOTIFY_MAX is always enough). Fields
 * are taken as they are (run tf_notify_sanitize first). Returns the
 * record's length, -EINVAL for a field out of bounds or a summary that is
 * empty, -ENOBUFS when cap is too small. */
ssize_t tf_notify_encode(const struct tf_notify *n, uint8_t *buf, size_t cap);

/* Copy src (any bytes, NUL-terminated) into dst (cap bytes, cap >= 1),
 * cut to cap - 1, each byte outside printable ASCII replaced by '?'
 * (a '\n' kept when newline is true; a UTF-8 sequence is one '?'). */
void tf_notify_sanitize(char *dst, size_t cap, const char *src, bool newline);

/* What the shell may be given of a persona's notification (docs/shell.md
 * "Redaction is the daemon's"): the full text only for a persona that is
 * unlocked and in front, or one that is not credential-bound (personal:
 * its text is no secret from the device's user); otherwise a fixed line
 * that names the persona and carries nothing of the notification. */
enum tf_notify_view {
	TF_NOTIFY_FULL,
	TF_NOTIFY_REDACTED,
};

enum tf_notify_view tf_notify_view_for(bool cred_bound, bool foreground,
				       bool unlocked);

/* The text for the shell into buf (cap bytes): FULL is
 * "APP\nSUMMARY\nBODY"; REDACTED is "Title: new message" (title: the
 * persona's name, first letter upper-case) and reads nothing of n, which
 * may then be NULL. 0, -EINVAL (a bad view or name), -ENOBUFS (cut). */
int tf_notify_render(const struct tf_notify *n, const char *persona,
		     enum tf_notify_view view, char *buf, size_t cap);

/* What the daemon keeps of one persona's notifications: the last
 * TF_NOTIFY_KEEP, a rate limit (GCRA: TF_NOTIFY_RATE a second sustained,
 * bursts of TF_NOTIFY_BURST), ids 1.. (never 0, as in the D-Bus spec).
 * The clock is the caller's (CLOCK_BOOTTIME ns), so the tests need none.
 * Clear it when the persona locks or stops: its text then leaves the
 * daemon's memory too. */
#define TF_NOTIFY_KEEP 16
#define TF_NOTIFY_RATE 10
#define TF_NOTIFY_BURST 64

struct tf_notify_store {
	uint64_t tat_ns; /* the rate limit's theoretical arrival time */
	uint32_t last_id;
	uint64_t refused; /* over the rate, since the last clear */
	size_t n, head;	  /* entries, the oldest one's slot */
	struct {
		uint32_t id;
		struct tf_notify n;
	} e[TF_NOTIFY_KEEP];
};

/* Keep *n (the oldest goes when full) and return its id (> 0), or
 * -EBUSY over the rate (nothing kept, refused counted). */
int64_t tf_notify_store_push(struct tf_notify_store *s,
			     const struct tf_notify *n, uint64_t now_ns);
/* The kept notification with that id: 0, or -ENOENT (never kept, or
 * dropped since). */
int tf_notify_store_get(const struct tf_notify_store *s, uint32_t id,
			struct tf_notify *out);
/* Forget every entry (wiped) and the refusal count; ids go on. */
void tf_notify_store_clear(struct tf_notify_store *s);

#endif
