/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' ALSA backend (audio.h): one snd_pcm per open, 16 kHz
 * mono S16_LE, interleaved, non-blocking, 20 ms periods. The service's
 * poll loop already runs a 20 ms frame clock (calls, PTT), so it reads
 * and writes one period per tick without a thread of its own:
 *
 *  - capture: a frame only when a whole period is ready (0 otherwise:
 *    the caller sends silence, its clock goes on). More than
 *    CAPTURE_KEEP periods waiting (our clock slower than the card's) are
 *    skipped, so the mouth-to-ear delay stays bounded.
 *  - playback: started once PLAY_START periods are queued (a little
 *    jitter absorbed); a full buffer drops the frame (the card's clock
 *    slower than the sender's), an underrun (-EPIPE) is recovered with
 *    snd_pcm_recover (counted: alsa_xruns) and the frame written again.
 *    alsa_want says how many frames the card needs now to keep
 *    PLAY_TARGET periods queued (snd_pcm_delay): the caller fills each
 *    with a frame or a concealment (playout.h), so a call or a burst
 *    never lets it run dry. alsa_clocked tells a pcm with a clock from
 *    one without (the null pcm consumes at once: its delay after a
 *    write is 0), which cannot run dry and is written like a file.
 *
 * libasound's own messages ("ALSA lib pcm.c:...") go nowhere: the caller
 * prints one line naming the device.
 *
 * Without hardware (tests, CI): any ALSA plugin pcm works, e.g. the file
 * plugin over the null one, from an ALSA_CONFIG_PATH file
 * (tests/integration/comms/test_audio_alsa.sh).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "audio.h"

#ifdef TF_HAVE_ALSA
#include <alsa/asoundlib.h>

#define PERIODS_CAPTURE 8
#define PERIODS_PLAY 6
#define CAPTURE_KEEP 4
#define PLAY_START 2
#define PLAY_TARGET 3 /* periods kept queued: 60 ms of wake-up slack */
#define WANT_MAX (PERIODS_PLAY - 1)

struct alsa_pcm {
	snd_pcm_t *h;
	bool capture;
	char name[AUDIO_DEV_MAX];
	/* playback: -1 not known yet (nothing written), 1 the pcm has a
	 * clock (its delay after the first write was above 0), 0 none */
	int clocked;
	uint64_t xruns;
};

bool audio_have_alsa(void)
{
	return true;
}

static void quiet(const char *file, int line, const char *fn, int err,
		  const char *fmt, ...)
{
	(void)file;
	(void)line;
	(void)fn;
	(void)err;
	(void)fmt;
}

static const char *dir_name(bool capture)
{
	return capture ? "capture" : "playback";
}

static int setup(struct alsa_pcm *p, char *err, size_t errcap)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_uframes_t period = TF_MEDIA_FRAME,
			  buffer =
				  (snd_pcm_uframes_t)TF_MEDIA_FRAME *
				  (p->capture ? PERIODS_CAPTURE : PERIODS_PLAY);
	unsigned rate = TF_MEDIA_RATE;
	const char *what;
	int r;

	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	what = "its parameters";
	r = snd_pcm_hw_params_any(p->h, hw);
	if (r >= 0) {
		what = "interleaved access";
		r = snd_pcm_hw_params_set_access(p->h, hw,
						 SND_PCM_ACCESS_RW_INTERLEAVED);
	}
	if (r >= 0) {
		what = "16-bit samples (S16_LE)";
		r = snd_pcm_hw_params_set_format(p->h, hw,
						 SND_PCM_FORMAT_S16_LE);
	}
	if (r >= 0) {
		what = "one channel";
		r = snd_pcm_hw_params_set_channels(p->h, hw, 1);
	}
	if (r >= 0) {
		/* a card that cannot do 16 kHz: ALSA's own resampler */
		what = "16 kHz";
		r = snd_pcm_hw_params_set_rate_resample(p->h, hw, 1);
		if (r >= 0)
			r = snd_pcm_hw_params_set_rate_near(p->h, hw, &rate,
							    NULL);
		if (r >= 0 && rate != TF_MEDIA_RATE)
			r = -EINVAL;
	}
	if (r >= 0) {
		what = "20 ms periods";
		r = snd_pcm_hw_params_set_period_size_near(p->h, hw, &period,
							   NULL);
		if (r >= 0)
			r = snd_pcm_hw_params_set_buffer_size_near(p->h, hw,
								   &buffer);
	}
	if (r >= 0) {
		what = "its parameters";
		r = snd_pcm_hw_params(p->h, hw);
	}
	if (r >= 0) {
		what = "its start threshold";
		r = snd_pcm_sw_params_current(p->h, sw);
		if (r >= 0)
			r = snd_pcm_sw_params_set_start_threshold(
				p->h, sw,
				p->capture ? 1
					   : (snd_pcm_uframes_t)TF_MEDIA_FRAME *
						     PLAY_START);
		if (r >= 0)
			r = snd_pcm_sw_params_set_avail_min(p->h, sw, period);
		if (r >= 0)
			r = snd_pcm_sw_params(p->h, sw);
	}
	if (r >= 0) {
		what = "to prepare it";
		r = snd_pcm_prepare(p->h);
	}
	if (r >= 0 && p->capture) {
		what = "to start it";
		r = snd_pcm_start(p->h);
	}
	if (r < 0)
		snprintf(err, errcap, "audio device %s (%s): cannot set %s: %s",
			 p->name, dir_name(p->capture), what, snd_strerror(r));
	return r;
}

int alsa_open(const char *dev, bool capture, struct alsa_pcm **out, char *err,
	      size_t errcap)
{
	static bool quieted;
	struct alsa_pcm *p;
	int r;

	if (!audio_dev_ok(dev)) {
		snprintf(err, errcap,
			 "audio device name refused (printable, no spaces, "
			 "under %d bytes)",
			 AUDIO_DEV_MAX);
		return -EINVAL;
	}
	if (!quieted) {
		(void)snd_lib_error_set_handler(quiet);
		quieted = true;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	p->capture = capture;
	p->clocked = -1;
	snprintf(p->name, sizeof(p->name), "%s", dev);
	r = snd_pcm_open(&p->h, dev,
			 capture ? SND_PCM_STREAM_CAPTURE
				 : SND_PCM_STREAM_PLAYBACK,
			 SND_PCM_NONBLOCK);
	if (r < 0) {
		snprintf(err, errcap,
			 "cannot open the audio device %s for %s: %s (check "
			 "--audio-dev; `aplay -L` lists the devices)",
			 dev, dir_name(capture), snd_strerror(r));
		free(p);
		return r < -4095 ? -EIO : r;
	}
	r = setup(p, err, errcap);
	if (r < 0) {
		alsa_close(p);
		return r < -4095 ? -EIO : r;
	}
	*out = p;
	return 0;
}

/* An xrun (-EPIPE) or a suspend (-ESTRPIPE): recovered, capture
 * restarted; anything else is reported. */
static int recover(struct alsa_pcm *p, int r, char *err, size_t errcap)
{
	int e;

	if (r == -EPIPE && !p->capture)
		p->xruns++; /* the card ran dry: a click */
	e = snd_pcm_recover(p->h, r, 1);
	if (e >= 0 && p->capture)
		e = snd_pcm_start(p->h);
	if (e < 0) {
		snprintf(err, errcap, "audio device %s (%s) failed: %s",
			 p->name, dir_name(p->capture), snd_strerror(r));
		return r < -4095 ? -EIO : r;
	}
	return 0;
}

int alsa_read(struct alsa_pcm *p, int16_t pcm[static TF_MEDIA_FRAME], char *err,
	      size_t errcap)
{
	snd_pcm_sframes_t av = snd_pcm_avail_update(p->h), n;

	if (av < 0)
		return recover(p, (int)av, err, errcap);
	if (av < TF_MEDIA_FRAME)
		return 0;
	if (av > (snd_pcm_sframes_t)TF_MEDIA_FRAME * CAPTURE_KEEP)
		(void)snd_pcm_forward(p->h,
				      (snd_pcm_uframes_t)(av - TF_MEDIA_FRAME));
	n = snd_pcm_readi(p->h, pcm, TF_MEDIA_FRAME);
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return recover(p, (int)n, err, errcap);
	if (n < TF_MEDIA_FRAME) /* never with a period ready; be safe */
		memset(pcm + n, 0,
		       (size_t)(TF_MEDIA_FRAME - n) * sizeof(pcm[0]));
	return 1;
}

int alsa_write(struct alsa_pcm *p, const int16_t pcm[static TF_MEDIA_FRAME],
	       char *err, size_t errcap)
{
	snd_pcm_sframes_t n;
	int r;

	for (int tries = 0; tries < 2; tries++) {
		n = snd_pcm_writei(p->h, pcm, TF_MEDIA_FRAME);
		if (n >= 0) {
			if (p->clocked < 0) {
				snd_pcm_sframes_t d = 0;

				p->clocked =
					snd_pcm_delay(p->h, &d) == 0 && d > 0;
			}
			return 1;
		}
		if (n == -EAGAIN)
			return 0; /* the buffer is full: drop this frame */
		r = recover(p, (int)n, err, errcap);
		if (r < 0)
			return r;
	}
	return 0;
}

int alsa_want(struct alsa_pcm *p, char *err, size_t errcap)
{
	snd_pcm_sframes_t d = 0;
	int r;

	r = snd_pcm_state(p->h) == SND_PCM_STATE_XRUN ? -EPIPE
						      : snd_pcm_delay(p->h, &d);
	if (r < 0) {
		r = recover(p, r, err, errcap);
		if (r < 0)
			return r;
		d = 0;
	}
	/* the card's own clock: top up to PLAY_TARGET periods */
	if (d < 0)
		d = 0;
	r = (int)(((snd_pcm_sframes_t)TF_MEDIA_FRAME * PLAY_TARGET - d +
		   TF_MEDIA_FRAME - 1) /
		  TF_MEDIA_FRAME);
	return r < 0 ? 0 : r > WANT_MAX ? WANT_MAX : r;
}

int alsa_clocked(const struct alsa_pcm *p)
{
	return p->clocked;
}

uint64_t alsa_xruns(const struct alsa_pcm *p)
{
	return p ? p->xruns : 0;
}

void alsa_close(struct alsa_pcm *p)
{
	if (p == NULL)
		return;
	if (p->h) {
		/* what is queued is not played after the call or burst */
		(void)snd_pcm_drop(p->h);
		(void)snd_pcm_close(p->h);
	}
	free(p);
}

#else /* !TF_HAVE_ALSA */

bool audio_have_alsa(void)
{
	return false;
}

int alsa_open(const char *dev, bool capture, struct alsa_pcm **out, char *err,
	      size_t errcap)
{
	(void)out;
	snprintf(err, errcap,
		 "cannot open the audio device %s for %s: this twofold-comms "
		 "was built without ALSA; use --audio-in/--audio-out files",
		 dev, capture ? "capture" : "playback");
	return -EOPNOTSUPP;
}

int alsa_read(struct alsa_pcm *p, int16_t pcm[static TF_MEDIA_FRAME], char *err,
	      size_t errcap)
{
	(void)p;
	(void)pcm;
	(void)err;
	(void)errcap;
	return -EOPNOTSUPP;
}

int alsa_write(struct alsa_pcm *p, const int16_t pcm[static TF_MEDIA_FRAME],
	       char *err, size_t errcap)
{
	(void)p;
	(void)pcm;
	(void)err;
	(void)errcap;
	return -EOPNOTSUPP;
}

int alsa_want(struct alsa_pcm *p, char *err, size_t errcap)
{
	(void)p;
	(void)err;
	(void)errcap;
	return -EOPNOTSUPP;
}

uint64_t alsa_xruns(const struct alsa_pcm *p)
{
	(void)p;
	return 0;
}

int alsa_clocked(const struct alsa_pcm *p)
{
	(void)p;
	return 0;
}

void alsa_close(struct alsa_pcm *p)
{
	(void)p;
}

#endif
