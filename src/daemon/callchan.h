/* SPDX-License-Identifier: ISC */
/*
 * The comms service's words to the daemon on svc.c's channel (issue 15:
 * a call in the background keeps its sound card). The service runs in
 * the persona, so what it writes is untrusted: lines of at most
 * TFD_CHAN_LINE_MAX bytes, exact words only. Pure code (no daemon
 * state), unit-tested in tests/unit/daemon/test_callchan.c and fuzzed
 * (fuzz/fuzz_callchan.c).
 */
#ifndef TWOFOLD_DAEMON_CALLCHAN_H
#define TWOFOLD_DAEMON_CALLCHAN_H

#include <stdbool.h>
#include <stddef.h>

/* one line, without its '\n' */
#define TFD_CHAN_LINE_MAX 64

enum tfd_chan_word {
	TFD_CHAN_UNKNOWN = 0,
	TFD_CHAN_CALL_ACTIVE, /* "call active": a call was answered */
	TFD_CHAN_CALL_IDLE,   /* "call idle": hung up, lost, or started */
};

/* Bytes to lines: at most TFD_CHAN_LINE_MAX bytes are kept; a longer
 * line is reported once as overlong (line NULL) when its '\n' comes,
 * and nothing of it is parsed. */
struct tfd_linebuf {
	char buf[TFD_CHAN_LINE_MAX + 1];
	size_t len;
	bool overlong;
};
typedef void (*tfd_line_cb)(void *ud, const char *line, size_t len);

/* Feed n bytes; cb gets each complete line (NUL-terminated, len without
 * the NUL; line NULL for an overlong one). Returns the lines seen. */
size_t tfd_linebuf_feed(struct tfd_linebuf *lb, const char *data, size_t n,
			tfd_line_cb cb, void *ud);

/* What one line says: exact words, nothing else (no blank around, no
 * NUL inside, no case folding). */
enum tfd_chan_word tfd_chan_parse(const char *line, size_t len);

#endif
