/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "twofold/log.h"

static const char *log_ident = "twofold";
static enum tf_log_level log_max = TF_LOG_INFO;
static bool log_journal;

bool tf_log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected
	 * stdout/stderr to; compare with fd 2 itself, so a child that
	 * inherited the variable but writes to a terminal or a file (a
	 * redirect in a unit's shell, a test) keeps the plain format */
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void tf_log_init(const char *ident, enum tf_log_level max_level)
{
	log_ident = ident;
	log_max = max_level;
	log_journal = tf_log_stderr_is_journal();
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
	/* to the journal: "<N>" is the syslog priority (sd-daemon(3)), so an
	 * error is filed as an error; the journal records the identifier */
	if (log_journal)
		fprintf(stderr, "<%d>", (int)lvl);
	fprintf(stderr, "%s: %s%s%s\n", log_ident,
		lvl == TF_LOG_INFO ? "" : names[lvl],
		lvl == TF_LOG_INFO ? "" : ": ", line);
	errno = saved;
}
