/* SPDX-License-Identifier: ISC */
/*
 * events.log: one line per key event (crypto-erase), appended and fsync'd
 * in the state directory. Kept apart so it can move to the audit log.
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>

#include "twofold/atomicfile.h"
#include "src/lib/keys/internal.h"

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

int tf_ks_log_event(struct tf_keystore *ks, const char *persona,
		    const char *what)
{
	_cleanup_close_ int fd = -1;
	char line[512], stamp[32], safe[256];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	snprintf(safe, sizeof(safe), "%s", what);
	sanitize(safe);
	n = snprintf(line, sizeof(line), "%s %s %s\n", stamp, persona, safe);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	fd = openat(ks->statefd, TF_EVENTS_LOG,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
			    O_NOCTTY,
		    0600);
	if (fd < 0)
		return tf_negerrno();
	if (tf_write_full(fd, line, (size_t)n) < 0 || fsync(fd) < 0)
		return tf_negerrno();
	return tf_fsync_dir_at(ks->statefd, NULL);
}
