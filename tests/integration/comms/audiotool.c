/* SPDX-License-Identifier: ISC */
/*
 * audiotool: test helper for call audio (tests only).
 *
 *   audiotool gen FILE SECONDS F0      a speech-like WAV/raw file (a voice
 *                                      at F0 Hz with vibrato, formants and
 *                                      syllables), 16 kHz mono
 *   audiotool snr REF OUT              the best SNR of OUT against REF over
 *                                      delays 0..1 s (the codec delay and
 *                                      the call's start), on the part both
 *                                      cover: prints "snr DB delay N"
 *   audiotool canary FILE OFFSET N     the hex of N bytes of FILE's samples
 *                                      from sample OFFSET (a PCM canary)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/speech.h"
#include "twofold/media.h"

static int gen(const char *path, double secs, double f0base)
{
	size_t n = (size_t)(secs * TF_MEDIA_RATE);
	int16_t *x = calloc(n, sizeof(*x));
	struct tf_audio_writer *w = NULL;

	if (!x)
		return 1;
	tf_test_speech(x, n, f0base, 0.2);
	if (tf_audio_writer_open(path, &w) < 0 || tf_audio_write(w, x, n) < 0 ||
	    tf_audio_writer_close(w) < 0) {
		fprintf(stderr, "audiotool: cannot write %s\n", path);
		return 1;
	}
	free(x);
	return 0;
}

static int snr(const char *ref, const char *out)
{
	int16_t *x = NULL, *y = NULL;
	size_t nx, ny;
	double best = -1e9;
	int bd = -1;

	if (tf_audio_load(ref, &x, &nx) < 0 ||
	    tf_audio_load(out, &y, &ny) < 0) {
		fprintf(stderr, "audiotool: cannot read %s or %s\n", ref, out);
		return 1;
	}
	for (int d = 0; d < TF_MEDIA_RATE; d++) {
		double s = 0, e = 0;
		size_t cnt = 0;

		for (size_t j = (size_t)d; j < ny && j - (size_t)d < nx; j++) {
			double a = x[j - (size_t)d], b = y[j];
			s += a * a;
			e += (a - b) * (a - b);
			cnt++;
		}
		if (cnt < (size_t)TF_MEDIA_RATE)
			continue; /* less than a second in common */
		double v = 10 * log10((s + 1e-9) / (e + 1e-9));
		if (v > best) {
			best = v;
			bd = d;
		}
	}
	printf("snr %.2f delay %d\n", best, bd);
	free(x);
	free(y);
	return 0;
}

static int canary(const char *path, size_t off, size_t n)
{
	int16_t *x = NULL;
	size_t nx;

	if (tf_audio_load(path, &x, &nx) < 0 || off + n / 2 > nx)
		return 1;
	for (size_t i = 0; i < n; i++)
		printf("%02x", ((const uint8_t *)(x + off))[i]);
	printf("\n");
	free(x);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "gen"))
		return gen(argv[2], atof(argv[3]), atof(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "snr"))
		return snr(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "canary"))
		return canary(argv[2], strtoul(argv[3], NULL, 10),
			      strtoul(argv[4], NULL, 10));
	fprintf(stderr, "usage: audiotool gen FILE SECONDS F0 | snr REF OUT | "
			"canary FILE OFFSET N\n");
	return 2;
}
