/* SPDX-License-Identifier: ISC */
/*
 * libclamav behind bounded limits. Runs only in the scanner helper
 * (src/scanner/main.c): libclamav parses hostile archives and documents,
 * so a bug in it must land in a process with no keys, no network and no
 * privilege.
 *
 * Fail closed: libclamav by default reports a file it stopped scanning at a
 * limit (size, recursion, file count, time) as clean. CL_SCAN_HEURISTIC_
 * EXCEEDS_MAX turns that into an alert ("Heuristics.Limits.Exceeded.*"),
 * and a file above max_file is refused here before libclamav sees it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <clamav.h>

#include "twofold/scan.h"

struct tf_scan_engine {
	struct cl_engine *cl;
	struct tf_scan_limits lim;
};

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* library code never prints: libclamav's messages are dropped (the
 * verdict and cl_strerror carry what the caller needs) */
static void quiet(enum cl_msg sev, const char *full, const char *msg, void *ctx)
{
	(void)sev;
	(void)full;
	(void)msg;
	(void)ctx;
}

static int cl_once(void)
{
	static int done; /* the helper is single-threaded */
	if (done)
		return done < 0 ? done : 0;
	cl_set_clcb_msg(quiet);
	done = cl_init(CL_INIT_DEFAULT) == CL_SUCCESS ? 1 : -EIO;
	return done < 0 ? done : 0;
}

int tf_scan_engine_load(const char *dir, const char *tmpdir,
			const struct tf_scan_limits *lim,
			struct tf_scan_engine **out, unsigned *n_sigs,
			char *why, size_t whylen)
{
	int r = cl_once();
	if (r < 0)
		return fail(why, whylen, r, "libclamav did not initialise");
	struct tf_scan_engine *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->lim = *lim;
	e->cl = cl_engine_new();
	if (e->cl == NULL) {
		free(e);
		return -ENOMEM;
	}
	cl_error_t c = CL_SUCCESS;
	struct {
		enum cl_engine_field f;
		long long v;
	} nums[] = {
		{CL_ENGINE_MAX_FILESIZE, (long long)lim->max_file},
		{CL_ENGINE_MAX_SCANSIZE, (long long)lim->max_scan},
		{CL_ENGINE_MAX_RECURSION, lim->max_depth},
		{CL_ENGINE_MAX_FILES, lim->max_files},
		{CL_ENGINE_MAX_SCANTIME, lim->max_ms},
		/* libclamav remembers files it found clean by their MD5
		 * (1.4) and answers a later file with that MD5 clean without
		 * scanning it: an attacker imports the clean half of an MD5
		 * collision, then the malicious half (test_scan.c
		 * test_md5_twins). Every file is scanned. */
		{CL_ENGINE_DISABLE_CACHE, 1},
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(nums) && c == CL_SUCCESS; i++)
		c = cl_engine_set_num(e->cl, nums[i].f, nums[i].v);
	if (c == CL_SUCCESS)
		c = cl_engine_set_str(e->cl, CL_ENGINE_TMPDIR, tmpdir);
	unsigned sigs = 0;
	if (c == CL_SUCCESS)
		c = cl_load(dir, e->cl, &sigs, CL_DB_STDOPT);
	if (c != CL_SUCCESS) {
		r = fail(why, whylen, -EINVAL, "loading the database: %s",
			 cl_strerror(c));
		goto err;
	}
	/* an engine without signatures answers "clean" to everything */
	if (sigs == 0) {
		r = fail(why, whylen, -ENOENT,
			 "the scanner database holds no signature");
		goto err;
	}
	c = cl_engine_compile(e->cl);
	if (c != CL_SUCCESS) {
		r = fail(why, whylen, -EINVAL, "compiling the database: %s",
			 cl_strerror(c));
		goto err;
	}
	if (n_sigs)
		*n_sigs = sigs;
	*out = e;
	return 0;
err:
	cl_engine_free(e->cl);
	free(e);
	return r;
}

void tf_scan_engine_free(struct tf_scan_engine *e)
{
	if (e == NULL)
		return;
	cl_engine_free(e->cl);
	free(e);
}

int tf_scan_fd(struct tf_scan_engine *e, int fd, struct tf_scan_verdict *v,
	       char *why, size_t whylen)
{
	struct stat st;
	memset(v, 0, sizeof(*v));
	if (fstat(fd, &st) < 0)
		return fail(why, whylen, -errno, "cannot stat the file");
	if (!S_ISREG(st.st_mode))
		return fail(why, whylen, -EINVAL, "not a regular file");
	if ((uint64_t)st.st_size > e->lim.max_file) {
		v->result = TF_SCAN_LIMIT;
		snprintf(v->name, sizeof(v->name),
			 "Limits.FileSize (%llu bytes, at most %llu)",
			 (unsigned long long)st.st_size,
			 (unsigned long long)e->lim.max_file);
		return 0;
	}
	struct cl_scan_options opt = {
		.general = CL_SCAN_GENERAL_HEURISTICS,
		.parse = ~0u,
		.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX,
	};
	const char *name = NULL;
	unsigned long scanned = 0;
	cl_error_t c = cl_scandesc(fd, NULL, &name, &scanned, e->cl, &opt);
	v->scanned = (uint64_t)scanned * CL_COUNT_PRECISION;
	switch (c) {
	case CL_CLEAN: v->result = TF_SCAN_CLEAN; return 0;
	case CL_VIRUS:
		v->result = name && strncmp(name, "Heuristics.Limits", 17) == 0
				    ? TF_SCAN_LIMIT
				    : TF_SCAN_INFECTED;
		snprintf(v->name, sizeof(v->name), "%s",
			 name ? name : "unnamed");
		return 0;
	case CL_ETIMEOUT:
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
		v->result = TF_SCAN_LIMIT;
		snprintf(v->name, sizeof(v->name), "Limits.%s", cl_strerror(c));
		return 0;
	default:
		return fail(why, whylen, -EIO, "scan failed: %s",
			    cl_strerror(c));
	}
}
