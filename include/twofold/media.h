/* SPDX-License-Identifier: ISC */
/*
 * Call and push-to-talk audio (src/lib/comms/media.c, library tf_media):
 * libopus at 16 kHz mono, one 20 ms frame per packet, hard CBR at
 * 24 kbit/s (libopus 1.3.1 makes in-band FEC only at >= 20 kbit/s for
 * 16 kHz speech, FACTS.md) with in-band FEC on and the expected loss set,
 * every packet padded (Opus's own padding, RFC 6716 §3.2.5) to
 * TF_MEDIA_PKT_BYTES so packet sizes within a burst are constant and leak
 * nothing about the speech. Decoding conceals a lost frame from the next
 * packet's FEC when that packet has arrived, else by Opus's PLC.
 *
 * Files for headless use (--audio-in/--audio-out): WAV (RIFF, PCM16,
 * 16 kHz, mono; the parser is bounded and fuzzed) or raw s16le.
 */
#ifndef TWOFOLD_MEDIA_H
#define TWOFOLD_MEDIA_H

#include "twofold/common.h"

#define TF_MEDIA_RATE 16000
#define TF_MEDIA_FRAME 320 /* samples in 20 ms */
#define TF_MEDIA_FRAME_MS 20
#define TF_MEDIA_BITRATE 24000
#define TF_MEDIA_PKT_BYTES 60 /* 24 kbit/s x 20 ms */
#define TF_MEDIA_LOSS_PCT 10  /* expected loss the encoder plans FEC for */

struct tf_media_enc;
struct tf_media_dec;

/* loss_pct: the expected packet loss (0..100) the FEC is sized for. */
TF_EXPORT TF_WUR int tf_media_enc_new(int loss_pct, bool fec,
				      struct tf_media_enc **out) TF_NONNULL(3);
TF_EXPORT void tf_media_enc_free(struct tf_media_enc *e);
/* The encoder's lookahead in samples: decoded audio lags the input by it. */
TF_EXPORT int tf_media_enc_delay(const struct tf_media_enc *e) TF_NONNULL(1);
/* One frame in, one packet of exactly TF_MEDIA_PKT_BYTES out: returns
 * TF_MEDIA_PKT_BYTES or -errno. */
TF_EXPORT TF_WUR int tf_media_encode(struct tf_media_enc *e,
				     const int16_t pcm[static TF_MEDIA_FRAME],
				     uint8_t out[static TF_MEDIA_PKT_BYTES])
	TF_NONNULL(1);

TF_EXPORT TF_WUR int tf_media_dec_new(struct tf_media_dec **out) TF_NONNULL(1);
TF_EXPORT void tf_media_dec_free(struct tf_media_dec *d);
/* Decode a received packet (untrusted: a malformed one is -EBADMSG and
 * the frame is concealed by the caller), or conceal a lost one (pkt NULL:
 * PLC). Writes TF_MEDIA_FRAME samples; returns TF_MEDIA_FRAME or -errno. */
TF_EXPORT TF_WUR int tf_media_decode(struct tf_media_dec *d, const uint8_t *pkt,
				     size_t n,
				     int16_t pcm[static TF_MEDIA_FRAME])
	TF_NONNULL(1);
/* Recover the frame before next (lost) from next's in-band FEC; falls
 * back to PLC when next carries none. Call it, then tf_media_decode(next). */
TF_EXPORT TF_WUR int tf_media_decode_fec(struct tf_media_dec *d,
					 const uint8_t *next, size_t n,
					 int16_t pcm[static TF_MEDIA_FRAME])
	TF_NONNULL(1, 2);

/* ---- audio files ---- */

#define TF_AUDIO_MAX_SAMPLES (TF_MEDIA_RATE * 60 * 30) /* 30 min in a file */

/* Where a WAV file's samples are: data_off/data_len inside buf. */
struct tf_wav_info {
	size_t data_off, data_len;
};
/* Parse a RIFF/WAVE header held in buf (the whole file): 0, or -EINVAL
 * (not a well-formed RIFF/WAVE), -EPROTONOSUPPORT (not PCM16 16 kHz
 * mono). At most 64 chunks are walked; every size is checked against n. */
TF_EXPORT TF_WUR int tf_wav_parse(const uint8_t *buf, size_t n,
				  struct tf_wav_info *out) TF_NONNULL(3);
/* Load a WAV (by its RIFF magic) or raw s16le file: *pcm malloc'd
 * (free()), *nsamples its length. -EFBIG past TF_AUDIO_MAX_SAMPLES. */
TF_EXPORT TF_WUR int tf_audio_load(const char *path, int16_t **pcm,
				   size_t *nsamples) TF_NONNULL(1, 2, 3);
/* The same from an open fd (read with pread from 0; not closed): a
 * service loads what its caller opened, with the caller's rights. */
TF_EXPORT TF_WUR int tf_audio_load_fd(int fd, int16_t **pcm, size_t *nsamples)
	TF_NONNULL(2, 3);

/* A streaming writer: WAV when the path ends in ".wav", else raw s16le.
 * The WAV sizes are filled in at close. */
struct tf_audio_writer;
TF_EXPORT TF_WUR int tf_audio_writer_open(const char *path,
					  struct tf_audio_writer **out)
	TF_NONNULL(1, 2);
/* The same on an fd its caller opened for writing (owned from here on,
 * closed by tf_audio_writer_close or on error); wav as the path would
 * say: tf_audio_path_is_wav. */
TF_EXPORT TF_WUR int tf_audio_writer_open_fd(int fd, bool wav,
					     struct tf_audio_writer **out)
	TF_NONNULL(3);
TF_EXPORT bool tf_audio_path_is_wav(const char *path) TF_NONNULL(1);
TF_EXPORT TF_WUR int tf_audio_write(struct tf_audio_writer *w,
				    const int16_t *pcm, size_t n) TF_NONNULL(1);
/* Finish (WAV sizes, fsync) and free; 0 or the first error. NULL ok. */
TF_EXPORT int tf_audio_writer_close(struct tf_audio_writer *w);

#endif
