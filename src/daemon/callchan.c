/* SPDX-License-Identifier: ISC */
/* The comms service's lines to the daemon: callchan.h. */
#include <string.h>

#include "callchan.h"

size_t tfd_linebuf_feed(struct tfd_linebuf *lb, const char *data, size_t n,
			tfd_line_cb cb, void *ud)
{
	size_t lines = 0;

	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			lines++;
			if (lb->overlong) {
				cb(ud, NULL, 0);
			} else {
				lb->buf[lb->len] = '\0';
				cb(ud, lb->buf, lb->len);
			}
			lb->len = 0;
			lb->overlong = false;
			continue;
		}
		if (lb->overlong)
			continue;
		if (lb->len == TFD_CHAN_LINE_MAX) {
			/* past the bound: dropped whole, never cut into a
			 * shorter line that would parse */
			lb->overlong = true;
			lb->len = 0;
			continue;
		}
		lb->buf[lb->len++] = c;
	}
	return lines;
}

enum tfd_chan_word tfd_chan_parse(const char *line, size_t len)
{
	static const struct {
		const char *w;
		enum tfd_chan_word v;
	} words[] = {
		{"call active", TFD_CHAN_CALL_ACTIVE},
		{"call idle", TFD_CHAN_CALL_IDLE},
	};

	if (line == NULL)
		return TFD_CHAN_UNKNOWN;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (len == strlen(words[i].w) && !memcmp(line, words[i].w, len))
			return words[i].v;
	return TFD_CHAN_UNKNOWN;
}
