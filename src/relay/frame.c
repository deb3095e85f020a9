/* SPDX-License-Identifier: ISC */
/* The TCP fallback's frame splitter (frame.h). */
#include <errno.h>

#include "frame.h"

ssize_t relay_frames_split(const uint8_t *buf, size_t len, size_t max,
			   void (*fn)(void *arg, const uint8_t *frame,
				      size_t n),
			   void *arg)
{
	size_t off = 0;

	while (len - off >= 2) {
		size_t fl = (size_t)buf[off] << 8 | buf[off + 1];
		if (fl == 0 || fl > max)
			return -EBADMSG;
		if (len - off - 2 < fl)
			break; /* the rest comes with the next read */
		fn(arg, buf + off + 2, fl);
		off += 2 + fl;
	}
	return (ssize_t)off;
}
