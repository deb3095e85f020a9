/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' audio interface (audio.h): the file backend here, the
 * ALSA one in audio_alsa.c (or its stubs when built without ALSA).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twofold/common.h"
#include "twofold/secmem.h"

#include "audio.h"

struct audio_in {
	/* a file, loaded whole (tf_audio_load bounds it) */
	int16_t *pcm;
	size_t n, pos;
	struct alsa_pcm *dev;
};

struct audio_out {
	struct tf_audio_writer *w;
	char path[512]; /* for the error line */
	struct alsa_pcm *dev;
};

bool audio_dev_ok(const char *dev)
{
	size_t n = strlen(dev);

	if (n == 0 || n >= AUDIO_DEV_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (dev[i] <= ' ' || dev[i] > '~')
			return false;
	return true;
}

int audio_in_open(const char *file, const char *dev, struct audio_in **out,
		  char *err, size_t errcap)
{
	struct audio_in *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (file && *file) {
		r = tf_audio_load(file, &a->pcm, &a->n);
		if (r < 0) {
			snprintf(err, errcap,
				 "cannot read the audio file %s: %s (WAV PCM16 "
				 "16 kHz mono, or raw s16le)",
				 file, strerror(-r));
			free(a);
			return r;
		}
	} else if (dev && *dev) {
		r = alsa_open(dev, true, &a->dev, err, errcap);
		if (r < 0) {
			free(a);
			return r;
		}
	}
	/* neither: silence, as before there were devices */
	*out = a;
	return 0;
}

int audio_in_open_fd(int fd, const char *name, struct audio_in **out, char *err,
		     size_t errcap)
{
	struct audio_in *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (fd < 0) {
		snprintf(err, errcap,
			 "cannot open the audio files: %s came without its "
			 "descriptor (the CLI opens them and passes them)",
			 name);
		free(a);
		return -EBADF;
	}
	r = tf_audio_load_fd(fd, &a->pcm, &a->n);
	close(fd);
	if (r < 0) {
		snprintf(err, errcap,
			 "cannot read the audio file %s: %s (WAV PCM16 16 kHz "
			 "mono, or raw s16le)",
			 name,
			 fd < 0 ? "the CLI did not pass it" : strerror(-r));
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

int audio_in_read(struct audio_in *a, int16_t pcm[static TF_MEDIA_FRAME],
		  char *err, size_t errcap)
{
	size_t k;

	memset(pcm, 0, TF_MEDIA_FRAME * sizeof(pcm[0]));
	if (a->dev)
		return alsa_read(a->dev, pcm, err, errcap);
	if (a->pcm == NULL)
		return 1;
	if (a->pos >= a->n)
		return -ENODATA;
	k = TF_MIN(a->n - a->pos, (size_t)TF_MEDIA_FRAME);
	memcpy(pcm, a->pcm + a->pos, k * sizeof(pcm[0]));
	a->pos += k;
	return 1;
}

bool audio_in_is_dev(const struct audio_in *a)
{
	return a && a->dev;
}

void audio_in_close(struct audio_in *a)
{
	if (a == NULL)
		return;
	alsa_close(a->dev);
	if (a->pcm)
		tf_memzero(a->pcm, a->n * sizeof(a->pcm[0]));
	free(a->pcm);
	free(a);
}

int audio_out_open(const char *file, const char *dev, struct audio_out **out,
		   char *err, size_t errcap)
{
	struct audio_out *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (file && *file) {
		snprintf(a->path, sizeof(a->path), "%s", file);
		r = tf_audio_writer_open(file, &a->w);
		if (r < 0) {
			snprintf(err, errcap,
				 "cannot write the audio file %s: %s", file,
				 strerror(-r));
			free(a);
			return r;
		}
	} else if (dev && *dev) {
		r = alsa_open(dev, false, &a->dev, err, errcap);
		if (r < 0) {
			free(a);
			return r;
		}
	}
	*out = a;
	return 0;
}

int audio_out_open_fd(int fd, const char *name, struct audio_out **out,
		      char *err, size_t errcap)
{
	struct audio_out *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL || fd < 0) {
		if (fd >= 0)
			close(fd);
		free(a);
		snprintf(err, errcap,
			 a ? "cannot open the audio files: %s came without "
			     "its descriptor (the CLI opens them and passes "
			     "them)"
			   : "cannot write the audio file %s: out of memory",
			 name);
		return a ? -EBADF : -ENOMEM;
	}
	snprintf(a->path, sizeof(a->path), "%s", name);
	r = tf_audio_writer_open_fd(fd, tf_audio_path_is_wav(name), &a->w);
	if (r < 0) {
		snprintf(err, errcap, "cannot write the audio file %s: %s",
			 name, strerror(-r));
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

int audio_out_write(struct audio_out *a,
		    const int16_t pcm[static TF_MEDIA_FRAME], char *err,
		    size_t errcap)
{
	int r;

	if (a->dev)
		return alsa_write(a->dev, pcm, err, errcap);
	if (a->w == NULL)
		return 0;
	r = tf_audio_write(a->w, pcm, TF_MEDIA_FRAME);
	if (r < 0) {
		snprintf(err, errcap, "cannot write the audio file %s: %s",
			 a->path, strerror(-r));
		return r;
	}
	return 1;
}

bool audio_out_is_dev(const struct audio_out *a)
{
	return a && a->dev;
}

int audio_out_want(struct audio_out *a, char *err, size_t errcap)
{
	return a && a->dev ? alsa_want(a->dev, err, errcap) : 0;
}

uint64_t audio_out_xruns(const struct audio_out *a)
{
	return a ? alsa_xruns(a->dev) : 0;
}

int audio_out_clocked(const struct audio_out *a)
{
	return a && a->dev ? alsa_clocked(a->dev) : 0;
}

int audio_out_close(struct audio_out *a)
{
	int r;

	if (a == NULL)
		return 0;
	alsa_close(a->dev);
	r = tf_audio_writer_close(a->w);
	free(a);
	return r;
}
