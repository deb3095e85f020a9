/* SPDX-License-Identifier: ISC */
/*
 * tfclock: an ALSA playback pcm with a clock, for tests only (there is
 * no sound card here, and the null pcm consumes everything at once, so
 * it can neither run dry nor say how much is queued). An ioplug external
 * plugin (libasound's own pcm_ioplug.h) loaded from the test's
 * ALSA_CONFIG_PATH file:
 *
 *   pcm_type.tfclock { lib "/path/to/libasound_module_pcm_tfclock.so" }
 *   pcm.x { type file; slave.pcm { type tfclock; stats "FILE"; ppm N }
 *           file "OUT.raw"; format raw }
 *
 * Once started it consumes rate x (1 + ppm/10^6) frames per second of
 * CLOCK_MONOTONIC (ppm < 0: a card slower than the sender's clock), as
 * a card does; when what was written runs out it reports an underrun
 * (-EPIPE from its pointer), as a card does. The samples are discarded
 * (the file plugin above it keeps them). At every underrun and at the
 * close it rewrites FILE with one line:
 *   xruns N frames F first_start_us T0 close_us T1 running_us R
 * (F frames written to it, T0 its first start, T1 its close (0 before),
 * R the time it ran, monotonic µs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
/* alsa/conf.h: a shared object's entry symbol, not a static build's list */
#define PIC 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>

struct tfclock {
	snd_pcm_ioplug_t io;
	char stats[512];
	long ppm;
	int pipefd[2];
	uint64_t t_start, hw; /* this run: its start, frames consumed */
	uint64_t xruns, frames, first_start, close_us, running;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void write_stats(struct tfclock *c)
{
	FILE *f;
	char tmp[540];

	if (!c->stats[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->stats);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"xruns %llu frames %llu first_start_us %llu close_us %llu "
		"running_us %llu\n",
		(unsigned long long)c->xruns, (unsigned long long)c->frames,
		(unsigned long long)c->first_start,
		(unsigned long long)c->close_us,
		(unsigned long long)c->running);
	fclose(f);
	rename(tmp, c->stats);
}

static uint64_t consumed(const struct tfclock *c, uint64_t now)
{
	double us = (double)(now - c->t_start);

	return (uint64_t)(us * c->io.rate * (1.0 + (double)c->ppm / 1e6) / 1e6);
}

static int tc_start(snd_pcm_ioplug_t *io)
{
	struct tfclock *c = io->private_data;

	c->t_start = mono_us();
	c->hw = 0;
	if (!c->first_start)
		c->first_start = c->t_start;
	return 0;
}

static int tc_stop(snd_pcm_ioplug_t *io)
{
	struct tfclock *c = io->private_data;

	if (c->t_start) {
		c->running += mono_us() - c->t_start;
		c->t_start = 0;
	}
	return 0;
}

static snd_pcm_sframes_t tc_pointer(snd_pcm_ioplug_t *io)
{
	struct tfclock *c = io->private_data;
	uint64_t n, appl = io->appl_ptr;

	if (io->state == SND_PCM_STATE_RUNNING && c->t_start) {
		n = consumed(c, mono_us());
		if (n >= appl) {
			/* ran dry: what a card does */
			c->hw = appl;
			c->xruns++;
			tc_stop(io);
			write_stats(c);
			return -EPIPE;
		}
		c->hw = n;
	}
	return (snd_pcm_sframes_t)(c->hw % io->buffer_size);
}

static snd_pcm_sframes_t tc_transfer(snd_pcm_ioplug_t *io,
				     const snd_pcm_channel_area_t *areas,
				     snd_pcm_uframes_t offset,
				     snd_pcm_uframes_t size)
{
	struct tfclock *c = io->private_data;

	(void)areas;
	(void)offset;
	c->frames += size;
	return (snd_pcm_sframes_t)size;
}

static int tc_prepare(snd_pcm_ioplug_t *io)
{
	struct tfclock *c = io->private_data;

	c->hw = 0;
	c->t_start = 0;
	return 0;
}

static int tc_close(snd_pcm_ioplug_t *io)
{
	struct tfclock *c = io->private_data;

	tc_stop(io);
	c->close_us = mono_us();
	write_stats(c);
	close(c->pipefd[0]);
	close(c->pipefd[1]);
	free(c);
	return 0;
}

static const snd_pcm_ioplug_callback_t tc_callback = {
	.start = tc_start,
	.stop = tc_stop,
	.pointer = tc_pointer,
	.transfer = tc_transfer,
	.prepare = tc_prepare,
	.close = tc_close,
};

static int constraints(snd_pcm_ioplug_t *io)
{
	static const unsigned access[] = {SND_PCM_ACCESS_RW_INTERLEAVED};
	static const unsigned format[] = {SND_PCM_FORMAT_S16_LE};
	int r;

	r = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_ACCESS, 1,
					  access);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_FORMAT,
						  1, format);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_CHANNELS, 1, 2);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_RATE,
						    8000, 48000);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 64, 64 * 1024);
	if (r >= 0)
		r = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64);
	return r;
}

SND_PCM_PLUGIN_DEFINE_FUNC(tfclock)
{
	snd_config_iterator_t i, next;
	struct tfclock *c;
	const char *stats = NULL;
	long ppm = 0;
	int r;

	(void)root;
	if (stream != SND_PCM_STREAM_PLAYBACK)
		return -EINVAL;
	snd_config_for_each(i, next, conf)
	{
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;

		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") ||
		    !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "stats") &&
		    snd_config_get_string(n, &stats) == 0)
			continue;
		if (!strcmp(id, "ppm") && snd_config_get_integer(n, &ppm) == 0)
			continue;
		SNDERR("tfclock: unknown field %s", id);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (pipe2(c->pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(c);
		return -errno;
	}
	if (stats)
		snprintf(c->stats, sizeof(c->stats), "%s", stats);
	c->ppm = ppm;
	c->io.version = SND_PCM_IOPLUG_VERSION;
	c->io.name = "twofold test clock";
	c->io.callback = &tc_callback;
	c->io.private_data = c;
	c->io.poll_fd = c->pipefd[1];
	c->io.poll_events = POLLOUT;
	c->io.flags = SND_PCM_IOPLUG_FLAG_MONOTONIC;
	r = snd_pcm_ioplug_create(&c->io, name, stream, mode);
	if (r < 0) {
		close(c->pipefd[0]);
		close(c->pipefd[1]);
		free(c);
		return r;
	}
	r = constraints(&c->io);
	if (r < 0) {
		snd_pcm_ioplug_delete(&c->io);
		return r;
	}
	*pcmp = c->io.pcm;
	return 0;
}

SND_PCM_PLUGIN_SYMBOL(tfclock);
