/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' audio backends (issue 15: "audio devices when present"):
 * capture and playback in 20 ms frames of 16 kHz mono s16
 * (TF_MEDIA_FRAME samples), behind one interface with two backends:
 *
 *   files  --audio-in FILE / --audio-out FILE (WAV or raw s16le; the
 *          headless tests), the code calls and PTT always had;
 *   ALSA   --audio-dev PCM (snd_pcm, non-blocking, 20 ms periods, xrun
 *          recovery; audio_alsa.c, built when meson finds alsa).
 *
 * A file wins over a device when both are given. The callers (call.c,
 * ptt.c) decide *when* a device may be open (docs/comms.md "Audio
 * devices"): this layer only opens what it is told to.
 *
 * Errors: -errno, and a one-line message naming the device or file in
 * the caller's buffer (library style: nothing is printed here).
 */
#ifndef TWOFOLD_COMMS_AUDIO_H
#define TWOFOLD_COMMS_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/media.h"

#define AUDIO_ERR_MAX 256
#define AUDIO_DEV_MAX 128 /* an ALSA pcm name */

struct audio_in;
struct audio_out;

/* Was twofold-comms built with ALSA? */
bool audio_have_alsa(void);
/* An ALSA pcm name we pass on: printable, no spaces or newlines (it
 * travels in one control request field) */
bool audio_dev_ok(const char *dev);

/* Capture from file (non-empty: loaded whole) or else dev (ALSA). */
int audio_in_open(const char *file, const char *dev, struct audio_in **out,
		  char *err, size_t errcap);
/* One frame into pcm: 1 a frame, 0 the device has none ready yet
 * (pcm is silence), -ENODATA the file ended, or -errno (err filled). */
/* A file the caller (the CLI, with its own rights) opened and passed:
 * fd is taken (closed here, also on error; -1 says it never came); name
 * is for the error line only. The service opens no path for a caller. */
int audio_in_open_fd(int fd, const char *name, struct audio_in **out, char *err,
		     size_t errcap);
int audio_in_read(struct audio_in *a, int16_t pcm[static TF_MEDIA_FRAME],
		  char *err, size_t errcap);
/* A device, not a file (the caller paces a device by its own clock) */
bool audio_in_is_dev(const struct audio_in *a);
void audio_in_close(struct audio_in *a); /* NULL ok; the mic is released */

/* Playback to file (non-empty: written, WAV by ".wav") or else dev. */
int audio_out_open(const char *file, const char *dev, struct audio_out **out,
		   char *err, size_t errcap);
/* One frame; a full device buffer drops it (0), an underrun is
 * recovered. -errno (err filled) when the output is unusable. */
/* The same for writing; WAV when name ends in ".wav", else raw. */
int audio_out_open_fd(int fd, const char *name, struct audio_out **out,
		      char *err, size_t errcap);
int audio_out_write(struct audio_out *a,
		    const int16_t pcm[static TF_MEDIA_FRAME], char *err,
		    size_t errcap);
bool audio_out_is_dev(const struct audio_out *a);
/* A device: how many frames it needs now (0..5) to stay fed, each to be
 * written with audio_out_write (a frame or a concealment: playout.h);
 * -errno (err filled) when it failed. A file: 0 (written by index). */
int audio_out_want(struct audio_out *a, char *err, size_t errcap);
/* A device's underruns recovered so far (0 for a file) */
uint64_t audio_out_xruns(const struct audio_out *a);
/* A device with a clock of its own (1), one without (0: the null pcm
 * consumes at once and cannot run dry; a file, too), or not known
 * before the first write (-1) */
int audio_out_clocked(const struct audio_out *a);
/* Finish (a file: WAV sizes, fsync; a device: what is queued is
 * dropped) and free; 0 or the first error. NULL ok. */
int audio_out_close(struct audio_out *a);

/* ---- the ALSA backend (audio_alsa.c; stubs without ALSA) ---- */
struct alsa_pcm;
int alsa_open(const char *dev, bool capture, struct alsa_pcm **out, char *err,
	      size_t errcap);
/* capture: 1 frame read, 0 none ready; playback: 1 written, 0 dropped */
int alsa_read(struct alsa_pcm *p, int16_t pcm[static TF_MEDIA_FRAME], char *err,
	      size_t errcap);
int alsa_write(struct alsa_pcm *p, const int16_t pcm[static TF_MEDIA_FRAME],
	       char *err, size_t errcap);
int alsa_want(struct alsa_pcm *p, char *err, size_t errcap);
uint64_t alsa_xruns(const struct alsa_pcm *p);
int alsa_clocked(const struct alsa_pcm *p);
void alsa_close(struct alsa_pcm *p);

#endif
