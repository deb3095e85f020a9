/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "twofold/log.h"

static const char *log_ident = "twofold";
static enum tf_log_level log_max = TF_LOG_INFO;

void tf_log_init(const char *ident, enum tf_log_level max_level)
{
	log_ident = ident;
	log_max = max_level;
}

void tf_escape(const char *in, size_t inlen, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < inlen && in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= cap)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 >= cap)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
}

void tf_log(enum tf_log_level lvl, const char *fmt, ...)
{
	char raw[TF_LOG_LINE_MAX], line[TF_LOG_LINE_MAX];
	static const char *names[] = {[TF_LOG_ERR] = "error",
				      [TF_LOG_WARN] = "warning",
				      [TF_LOG_INFO] = "info",
				      [TF_LOG_DEBUG] = "debug"};
	va_list ap;
	int saved = errno;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	tf_escape(raw, sizeof(raw), line, sizeof(line));
	fprintf(stderr, "%s: %s%s%s\n", log_ident,
		lvl == TF_LOG_INFO ? "" : names[lvl],
		lvl == TF_LOG_INFO ? "" : ": ", line);
	errno = saved;
}
