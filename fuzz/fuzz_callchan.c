/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the comms service's lines to twofoldd (src/daemon/
 * callchan.c). The service runs inside a persona: any bytes, in any
 * split. Input: the first byte picks a chunk size, the rest is fed in
 * chunks of it. Invariants: every line handed on is at most
 * TFD_CHAN_LINE_MAX bytes and NUL-terminated, and a word is recognised
 * only in a line that is exactly that word.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(void *ud, const char *line, size_t len)
{
	enum tfd_chan_word w = tfd_chan_parse(line, len);

	(void)ud;
	if (line == NULL) {
		if (w != TFD_CHAN_UNKNOWN)
			abort();
		return;
	}
	if (len > TFD_CHAN_LINE_MAX || line[len] != '\0')
		abort();
	if ((w == TFD_CHAN_CALL_ACTIVE && strcmp(line, "call active")) ||
	    (w == TFD_CHAN_CALL_IDLE && strcmp(line, "call idle")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tfd_linebuf lb = {0};
	size_t chunk;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	for (size_t off = 0; off < size; off += chunk)
		(void)tfd_linebuf_feed(&lb, (const char *)data + off,
				       size - off < chunk ? size - off : chunk,
				       on_line, NULL);
	return 0;
}
