/* SPDX-License-Identifier: ISC */
/*
 * A speech-like test signal for call audio, shared by the media unit test
 * (tests/unit/comms/test_media.c) and the integration tests' audiotool
 * (tests/integration/comms/audiotool.c): a voice at f0base Hz with 5 Hz
 * vibrato, twelve harmonics shaped by three formants, syllables at
 * ~3.5 Hz. lo is the envelope's lowest level (0: the syllables dip to
 * silence; 0.2: never below a fifth, so a codec always has a voice).
 * 16 kHz mono (TF_MEDIA_RATE). Include with a relative path.
 */
#ifndef TF_TEST_SPEECH_H
#define TF_TEST_SPEECH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/media.h"

static inline void tf_test_speech(int16_t *x, size_t n, double f0base,
				  double lo)
{
	const double pi = 3.14159265358979323846;
	const double formant[3] = {500, 1500, 2500};
	double phase = 0;

	for (size_t i = 0; i < n; i++) {
		double t = (double)i / TF_MEDIA_RATE;
		double f0 = f0base + 15 * sin(2 * pi * 5 * t);
		double env = sin(2 * pi * 1.75 * t);
		double v = 0;

		phase += 2 * pi * f0 / TF_MEDIA_RATE;
		env = lo + (1 - lo) * env * env;
		for (int h = 1; h <= 12; h++) {
			double a = 0;
			for (int k = 0; k < 3; k++) {
				double d = (h * f0 - formant[k]) / 300;
				a += exp(-d * d);
			}
			v += (0.15 + a) / h * sin(h * phase);
		}
		x[i] = (int16_t)(6000 * env * v);
	}
}

#endif
