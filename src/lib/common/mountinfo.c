/* SPDX-License-Identifier: ISC */
/* The /proc/self/mountinfo parser (include/twofold/mountinfo.h). */
#include <stdio.h>
#include <string.h>

#include "twofold/mountinfo.h"

static int parse_uint(const char *s, char end, unsigned *out, const char **next)
{
	unsigned long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	if (*p != end)
		return -EINVAL;
	*out = (unsigned)v;
	if (next)
		*next = p + 1;
	return 0;
}

int tf_mountinfo_parse_line(char *line, struct tf_mountinfo *out)
{
	struct tf_mountinfo m;
	char *f[6], *p = line, *tok;
	const char *rest;
	size_t n = strlen(line);

	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	for (int i = 0; i < 6; i++) {
		f[i] = strsep(&p, " ");
		if (f[i] == NULL || p == NULL)
			return -EINVAL;
	}
	/* optional fields (shared:N, master:N, ...) up to the lone "-" */
	do {
		tok = strsep(&p, " ");
		if (tok == NULL || p == NULL)
			return -EINVAL;
	} while (strcmp(tok, "-") != 0);
	m.fstype = strsep(&p, " ");
	m.source = p ? strsep(&p, " ") : NULL;
	m.super_opts = p ? strsep(&p, " ") : NULL;
	if (m.super_opts == NULL || m.fstype[0] == '\0')
		return -EINVAL;
	if (parse_uint(f[0], '\0', &m.id, NULL) < 0 ||
	    parse_uint(f[1], '\0', &m.parent, NULL) < 0 ||
	    parse_uint(f[2], ':', &m.major, &rest) < 0 ||
	    parse_uint(rest, '\0', &m.minor, NULL) < 0)
		return -EINVAL;
	if (f[3][0] != '/' || f[4][0] != '/')
		return -EINVAL;
	m.root = f[3];
	m.mount_point = f[4];
	m.mount_opts = f[5];
	*out = m;
	return 0;
}

int tf_mountinfo_foreach(int (*fn)(const struct tf_mountinfo *m, void *ud),
			 void *ud)
{
	_cleanup_free_ char *line = malloc(TF_MOUNTINFO_LINE_MAX);
	_cleanup_fclose_ FILE *f = NULL;
	int r = 0;

	if (line == NULL)
		return -ENOMEM;
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return tf_negerrno();
	while (r == 0 && fgets(line, TF_MOUNTINFO_LINE_MAX, f)) {
		struct tf_mountinfo m;
		size_t n = strlen(line);

		if (n == 0 || line[n - 1] != '\n') {
			int c;

			if (feof(f))
				goto parse; /* a last line without newline */
			/* too long: skip the rest of it, never parse a tail */
			while ((c = getc(f)) != EOF && c != '\n')
				;
			continue;
		}
	parse:
		if (tf_mountinfo_parse_line(line, &m) == 0)
			r = fn(&m, ud);
	}
	return r == 0 && ferror(f) ? -EIO : r;
}

bool tf_opt_has(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	if (opts == NULL)
		return false;
	for (const char *p = opts; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}
