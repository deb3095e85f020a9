/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the WAV header parser (src/lib/comms/media.c) that
 * --audio-in files go through. Invariants: on success the data lies
 * inside the input and has an even length; no read outside the input.
 * Also feeds the input to the Opus decoder wrapper as one packet (a
 * peer's media after SFrame opened it): one frame or -EBADMSG.
 */
#include <errno.h>
#include <stdlib.h>

#include "twofold/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tf_media_dec *d;
	int16_t pcm[TF_MEDIA_FRAME];
	struct tf_wav_info wi;
	int r;

	if (tf_wav_parse(data, size, &wi) == 0 &&
	    (wi.data_off > size || wi.data_len > size - wi.data_off ||
	     (wi.data_len & 1)))
		abort();
	if (!d && tf_media_dec_new(&d) < 0)
		abort();
	r = tf_media_decode(d, data, size, pcm);
	if (r != TF_MEDIA_FRAME && r != -EBADMSG)
		abort();
	return 0;
}
