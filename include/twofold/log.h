/* SPDX-License-Identifier: ISC */
/*
 * Logging. Only programs (daemon, CLI) call this; library code returns
 * errors instead. Never pass a secret: there is no "%s of a key" anywhere,
 * and tf_log refuses format arguments longer than TF_LOG_LINE_MAX.
 * Bytes outside printable ASCII are escaped, so untrusted strings (persona
 * names from requests, file names) cannot forge log lines.
 */
#ifndef TWOFOLD_LOG_H
#define TWOFOLD_LOG_H

#include "twofold/common.h"

enum tf_log_level {
	TF_LOG_ERR = 3,
	TF_LOG_WARN = 4,
	TF_LOG_INFO = 6,
	TF_LOG_DEBUG = 7
};

#define TF_LOG_LINE_MAX 1024

/* When standard error is systemd's journal stream (JOURNAL_STREAM names
 * fd 2), each line starts "<N>", N the level below (the syslog priority). */
void tf_log_init(const char *ident, enum tf_log_level max_level);
bool tf_log_stderr_is_journal(void);
void tf_log(enum tf_log_level lvl, const char *fmt, ...) TF_PRINTF(2, 3);

#define tf_err(...) tf_log(TF_LOG_ERR, __VA_ARGS__)
#define tf_warn(...) tf_log(TF_LOG_WARN, __VA_ARGS__)
#define tf_info(...) tf_log(TF_LOG_INFO, __VA_ARGS__)
#define tf_debug(...) tf_log(TF_LOG_DEBUG, __VA_ARGS__)

/* Escape a string into buf for safe display (always NUL-terminates). */
void tf_escape(const char *in, size_t inlen, char *buf, size_t cap);

#endif
