/* SPDX-License-Identifier: ISC */
/*
 * Opus media and audio files for calls and push-to-talk (twofold/media.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opus.h>

#include "twofold/media.h"

struct tf_media_enc {
	OpusEncoder *o;
	int delay;
};

struct tf_media_dec {
	OpusDecoder *o;
};

int tf_media_enc_new(int loss_pct, bool fec, struct tf_media_enc **out)
{
	struct tf_media_enc *e;
	int err;

	if (loss_pct < 0 || loss_pct > 100)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->o = opus_encoder_create(TF_MEDIA_RATE, 1, OPUS_APPLICATION_VOIP,
				   &err);
	if (!e->o) {
		free(e);
		return -ENOMEM;
	}
	/* Hard CBR: every packet the same size before padding, so the
	 * padding to TF_MEDIA_PKT_BYTES never has to grow a packet, and
	 * sizes do not follow the speech (VBR leaks phonemes). */
	if (opus_encoder_ctl(e->o, OPUS_SET_BITRATE(TF_MEDIA_BITRATE)) ||
	    opus_encoder_ctl(e->o, OPUS_SET_VBR(0)) ||
	    opus_encoder_ctl(e->o, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) ||
	    opus_encoder_ctl(e->o,
			     OPUS_SET_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND)) ||
	    opus_encoder_ctl(e->o, OPUS_SET_INBAND_FEC(fec ? 1 : 0)) ||
	    opus_encoder_ctl(e->o, OPUS_SET_PACKET_LOSS_PERC(loss_pct)) ||
	    opus_encoder_ctl(e->o, OPUS_SET_DTX(0)) ||
	    opus_encoder_ctl(e->o, OPUS_SET_COMPLEXITY(5)) ||
	    opus_encoder_ctl(e->o, OPUS_GET_LOOKAHEAD(&e->delay))) {
		opus_encoder_destroy(e->o);
		free(e);
		return -EINVAL;
	}
	*out = e;
	return 0;
}

void tf_media_enc_free(struct tf_media_enc *e)
{
	if (!e)
		return;
	opus_encoder_destroy(e->o);
	free(e);
}

int tf_media_enc_delay(const struct tf_media_enc *e)
{
	return e->delay;
}

int tf_media_encode(struct tf_media_enc *e,
		    const int16_t pcm[static TF_MEDIA_FRAME],
		    uint8_t out[static TF_MEDIA_PKT_BYTES])
{
	opus_int32 n;

	n = opus_encode(e->o, pcm, TF_MEDIA_FRAME, out, TF_MEDIA_PKT_BYTES);
	if (n < 0)
		return -EIO;
	if (n < TF_MEDIA_PKT_BYTES &&
	    opus_packet_pad(out, n, TF_MEDIA_PKT_BYTES) != OPUS_OK)
		return -EIO;
	return TF_MEDIA_PKT_BYTES;
}

int tf_media_dec_new(struct tf_media_dec **out)
{
	struct tf_media_dec *d;
	int err;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->o = opus_decoder_create(TF_MEDIA_RATE, 1, &err);
	if (!d->o) {
		free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

void tf_media_dec_free(struct tf_media_dec *d)
{
	if (!d)
		return;
	opus_decoder_destroy(d->o);
	free(d);
}

static int plc(struct tf_media_dec *d, int16_t *pcm)
{
	int n = opus_decode(d->o, NULL, 0, pcm, TF_MEDIA_FRAME, 0);

	if (n != TF_MEDIA_FRAME) {
		memset(pcm, 0, TF_MEDIA_FRAME * sizeof(*pcm));
		return n < 0 ? -EIO : TF_MEDIA_FRAME;
	}
	return n;
}

int tf_media_decode(struct tf_media_dec *d, const uint8_t *pkt, size_t n,
		    int16_t pcm[static TF_MEDIA_FRAME])
{
	int r;

	if (!pkt)
		return plc(d, pcm);
	/* A packet that decodes to anything but one 20 ms frame is not
	 * ours (Opus accepts up to 120 ms): refuse it and let the caller
	 * conceal, so a peer cannot make us emit more audio than time. */
	if (n == 0 || n > 1275 ||
	    opus_packet_get_nb_samples(pkt, (opus_int32)n, TF_MEDIA_RATE) !=
		    TF_MEDIA_FRAME)
		return -EBADMSG;
	r = opus_decode(d->o, pkt, (opus_int32)n, pcm, TF_MEDIA_FRAME, 0);
	if (r != TF_MEDIA_FRAME)
		return -EBADMSG;
	return r;
}

int tf_media_decode_fec(struct tf_media_dec *d, const uint8_t *next, size_t n,
			int16_t pcm[static TF_MEDIA_FRAME])
{
	int r;

	if (n == 0 || n > 1275 ||
	    opus_packet_get_nb_samples(next, (opus_int32)n, TF_MEDIA_RATE) !=
		    TF_MEDIA_FRAME)
		return plc(d, pcm);
	/* decode_fec=1: the LBRR data of the previous frame that next
	 * carries; Opus itself falls back to PLC when there is none. */
	r = opus_decode(d->o, next, (opus_int32)n, pcm, TF_MEDIA_FRAME, 1);
	if (r != TF_MEDIA_FRAME)
		return plc(d, pcm);
	return r;
}

/* ---- WAV and raw files ---- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int tf_wav_parse(const uint8_t *buf, size_t n, struct tf_wav_info *out)
{
	bool have_fmt = false;
	size_t off = 12, end;

	if (!buf || n < 12 || memcmp(buf, "RIFF", 4) ||
	    memcmp(buf + 8, "WAVE", 4))
		return -EINVAL;
	/* The RIFF size is often wrong in streamed files (0 or ~0): trust
	 * the smaller of it and the file. */
	end = (size_t)le32(buf + 4) + 8;
	if (end > n || end < 12)
		end = n;
	for (int chunks = 0; chunks < 64; chunks++) {
		size_t len;

		if (end - off < 8)
			return -EINVAL;
		len = le32(buf + off + 4);
		if (!memcmp(buf + off, "fmt ", 4)) {
			const uint8_t *f = buf + off + 8;

			if (len < 16 || len > end - off - 8)
				return -EINVAL;
			/* 1 = PCM; 0xFFFE (extensible) is refused too: one
			 * exact format, nothing to negotiate */
			if (le16(f) != 1 || le16(f + 2) != 1 ||
			    le32(f + 4) != TF_MEDIA_RATE || le16(f + 14) != 16)
				return -EPROTONOSUPPORT;
			have_fmt = true;
		} else if (!memcmp(buf + off, "data", 4)) {
			if (!have_fmt)
				return -EINVAL;
			/* a streamed file's data size may be a placeholder:
			 * clamp to what is there */
			if (len > end - off - 8)
				len = end - off - 8;
			out->data_off = off + 8;
			out->data_len = len & ~(size_t)1;
			return 0;
		}
		if (len > end - off - 8)
			return -EINVAL;
		off += 8 + len + (len & 1); /* chunks are word aligned */
		if (off > end)
			return -EINVAL;
	}
	return -EINVAL;
}

int tf_audio_load(const char *path, int16_t **pcm, size_t *nsamples)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return tf_audio_load_fd(fd, pcm, nsamples);
}

int tf_audio_load_fd(int fd, int16_t **pcm, size_t *nsamples)
{
	const size_t max = (size_t)TF_AUDIO_MAX_SAMPLES * 2 + 4096;
	_cleanup_free_ uint8_t *buf = NULL;
	struct tf_wav_info wi = {0};
	struct stat st;
	size_t got = 0, off, len;
	int16_t *s;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	/* pread: a descriptor handed over may not be at offset 0 */
	while (got < (size_t)st.st_size) {
		ssize_t k = pread(fd, buf + got, (size_t)st.st_size - got,
				  (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	if (got >= 4 && !memcmp(buf, "RIFF", 4)) {
		r = tf_wav_parse(buf, got, &wi);
		if (r < 0)
			return r;
		off = wi.data_off;
		len = wi.data_len;
	} else {
		off = 0;
		len = got & ~(size_t)1;
	}
	if (len / 2 > TF_AUDIO_MAX_SAMPLES)
		return -EFBIG;
	s = malloc(len ? len : 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < len / 2; i++)
		s[i] = (int16_t)le16(buf + off + 2 * i);
	*pcm = s;
	*nsamples = len / 2;
	return 0;
}

struct tf_audio_writer {
	int fd;
	bool wav;
	uint64_t bytes;
	int err;
};

static void wav_header(uint8_t h[44], uint32_t datalen)
{
	memcpy(h, "RIFF", 4);
	put_le32(h + 4, 36 + datalen);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le32(h + 16, 16);
	put_le16(h + 20, 1);
	put_le16(h + 22, 1);
	put_le32(h + 24, TF_MEDIA_RATE);
	put_le32(h + 28, TF_MEDIA_RATE * 2);
	put_le16(h + 32, 2);
	put_le16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put_le32(h + 40, datalen);
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

bool tf_audio_path_is_wav(const char *path)
{
	size_t l = strlen(path);

	return l >= 4 && !strcasecmp(path + l - 4, ".wav");
}

int tf_audio_writer_open(const char *path, struct tf_audio_writer **out)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	return tf_audio_writer_open_fd(fd, tf_audio_path_is_wav(path), out);
}

int tf_audio_writer_open_fd(int fd, bool wav, struct tf_audio_writer **out)
{
	struct tf_audio_writer *w;
	struct stat st;
	uint8_t h[44];
	int r;

	/* a regular file only: a pipe or FIFO nobody drains would block the
	 * service's one event loop in write() (messages, calls and talk
	 * groups with it), and the caller chose the descriptor */
	r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (r < 0) {
		close(fd);
		return r;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->wav = wav;
	w->fd = fd;
	if (w->wav) {
		/* placeholder sizes until close (readers clamp them) */
		wav_header(h, 0xFFFFFFFFu - 36);
		r = write_all(w->fd, h, sizeof(h));
		if (r < 0) {
			close(w->fd);
			free(w);
			return r;
		}
	}
	*out = w;
	return 0;
}

int tf_audio_write(struct tf_audio_writer *w, const int16_t *pcm, size_t n)
{
	uint8_t buf[2 * TF_MEDIA_FRAME];
	int r;

	while (n > 0) {
		size_t k = n < TF_MEDIA_FRAME ? n : TF_MEDIA_FRAME;

		if (w->bytes + 2 * k > 0xFFFFFFFFu - 44)
			return w->err = -EFBIG;
		for (size_t i = 0; i < k; i++)
			put_le16(buf + 2 * i, (uint16_t)pcm[i]);
		r = write_all(w->fd, buf, 2 * k);
		if (r < 0)
			return w->err = r;
		w->bytes += 2 * k;
		pcm += k;
		n -= k;
	}
	return 0;
}

int tf_audio_writer_close(struct tf_audio_writer *w)
{
	uint8_t h[44];
	int r;

	if (!w)
		return 0;
	r = w->err;
	if (w->wav) {
		wav_header(h, (uint32_t)w->bytes);
		if (pwrite(w->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) &&
		    r == 0)
			r = -EIO;
	}
	if (fsync(w->fd) < 0 && r == 0)
		r = -errno;
	if (close(w->fd) < 0 && r == 0)
		r = -errno;
	free(w);
	return r;
}
