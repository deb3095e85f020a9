/* SPDX-License-Identifier: ISC */
/*
 * Corpus replay driver: feeds every file of the given directories (or
 * files) to LLVMFuzzerTestOneInput once. Built with the normal toolchain,
 * so CI runs each corpus under ASan+UBSan without needing libFuzzer.
 * Prints TAP-ish progress and "N passed, 0 failed"; a crash is a failure.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX (8u << 20)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	buf = malloc(REPLAY_MAX);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX, f);
	fclose(f);
	/* an exact-size copy, so ASan sees reads past the end */
	{
		uint8_t *exact = malloc(n ? n : 1);
		if (exact == NULL) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, n);
		free(buf);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned done = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				failed++;
			else
				done++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		if (d == NULL) {
			perror(argv[i]);
			failed++;
			continue;
		}
		while ((e = readdir(d)) != NULL) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
			if (run_file(p) < 0)
				failed++;
			else
				done++;
		}
		closedir(d);
	}
	printf("replayed %u inputs\n", done);
	if (done == 0) {
		fprintf(stderr, "empty corpus\n");
		return 1;
	}
	return failed ? 1 : 0;
}
