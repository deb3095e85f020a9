/* SPDX-License-Identifier: ISC */
/* What the comms benchmarks share: a monotonic clock in seconds and a
 * small file read whole (a key, a certificate; exits on failure: a
 * benchmark without its inputs measures nothing). */
#ifndef TF_BENCHUTIL_H
#define TF_BENCHUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline size_t slurp(const char *path, uint8_t *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	n = fread(out, 1, cap, f);
	fclose(f);
	return n;
}

#endif
