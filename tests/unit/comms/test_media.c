/* SPDX-License-Identifier: ISC */
/* Call audio (src/lib/comms/media.c): constant packet size, a round trip
 * that really decodes (SNR against the original after aligning the codec
 * delay), the loss test (10 % seeded random loss: FEC-on decoding beats
 * concealment-only on the lost frames by >= 4 dB), malformed packets, and
 * the WAV/raw file reader and writer including malformed WAV headers. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/speech.h"
#include "twofold/media.h"

#define SECONDS 10
#define NS (TF_MEDIA_RATE * SECONDS)
#define NF (NS / TF_MEDIA_FRAME)

/* Speech-like (tests/common/speech.h), the syllables dipping to silence */
static void speech(int16_t *x, size_t n, double f0base)
{
	tf_test_speech(x, n, f0base, 0);
}

/* SNR in dB of y against x delayed by d, over the given frames (NULL:
 * every frame). */
static double snr(const int16_t *x, const int16_t *y, size_t n, int d,
		  const bool *which)
{
	double s = 0, e = 0;

	for (size_t j = (size_t)d; j < n; j++) {
		if (which && !which[j / TF_MEDIA_FRAME])
			continue;
		double a = x[j - (size_t)d], b = y[j];
		s += a * a;
		e += (a - b) * (a - b);
	}
	return 10 * log10(s / (e + 1e-9));
}

static int best_delay(const int16_t *x, const int16_t *y, size_t n)
{
	double best = -1e9;
	int bd = 0;

	for (int d = 0; d < 640; d++) {
		double v = snr(x, y, n, d, NULL);
		if (v > best) {
			best = v;
			bd = d;
		}
	}
	return bd;
}

static uint8_t pkts[NF][TF_MEDIA_PKT_BYTES];
static int16_t in[NS], out_fec[NS], out_plc[NS], out_all[NS];

static void encode_all(bool fec, int *delay)
{
	struct tf_media_enc *e = NULL;

	assert_int_equal(tf_media_enc_new(TF_MEDIA_LOSS_PCT, fec, &e), 0);
	*delay = tf_media_enc_delay(e);
	for (int f = 0; f < NF; f++)
		assert_int_equal(
			tf_media_encode(e, in + f * TF_MEDIA_FRAME, pkts[f]),
			TF_MEDIA_PKT_BYTES);
	tf_media_enc_free(e);
}

static void test_roundtrip(void **state)
{
	struct tf_media_dec *d = NULL;
	int delay, bd;
	double v;
	(void)state;

	speech(in, NS, 140);
	encode_all(true, &delay);
	assert_int_equal(tf_media_dec_new(&d), 0);
	for (int f = 0; f < NF; f++)
		assert_int_equal(tf_media_decode(d, pkts[f], TF_MEDIA_PKT_BYTES,
						 out_all + f * TF_MEDIA_FRAME),
				 TF_MEDIA_FRAME);
	tf_media_dec_free(d);
	bd = best_delay(in, out_all, NS);
	v = snr(in, out_all, NS, bd, NULL);
	printf("# round trip: SNR %.1f dB at delay %d (encoder lookahead "
	       "%d)\n",
	       v, bd, delay);
	assert_true(v > 5.0);
	/* a different signal does not match: the bound means something */
	speech(out_fec, NS, 200);
	assert_true(snr(in, out_fec, NS, bd, NULL) < 3.0);
}

static void test_loss_fec(void **state)
{
	struct tf_media_dec *df = NULL, *dp = NULL;
	static bool lost[NF];
	uint32_t seed = 0x2f6e2b1u;
	int delay, nlost = 0, bd;
	double sf, sp;
	(void)state;

	speech(in, NS, 140);
	encode_all(true, &delay);
	/* 10 % random loss, deterministic (an LCG) */
	for (int f = 0; f < NF; f++) {
		seed = seed * 1664525u + 1013904223u;
		lost[f] = f > 5 && (seed >> 8) % 10 == 0;
		nlost += lost[f];
	}
	assert_int_equal(tf_media_dec_new(&df), 0);
	assert_int_equal(tf_media_dec_new(&dp), 0);
	for (int f = 0; f < NF; f++) {
		int16_t *of = out_fec + f * TF_MEDIA_FRAME;
		int16_t *op = out_plc + f * TF_MEDIA_FRAME;

		if (lost[f]) {
			if (f + 1 < NF && !lost[f + 1])
				assert_int_equal(
					tf_media_decode_fec(df, pkts[f + 1],
							    TF_MEDIA_PKT_BYTES,
							    of),
					TF_MEDIA_FRAME);
			else
				assert_int_equal(
					tf_media_decode(df, NULL, 0, of),
					TF_MEDIA_FRAME);
			assert_int_equal(tf_media_decode(dp, NULL, 0, op),
					 TF_MEDIA_FRAME);
		} else {
			assert_int_equal(tf_media_decode(df, pkts[f],
							 TF_MEDIA_PKT_BYTES,
							 of),
					 TF_MEDIA_FRAME);
			assert_int_equal(tf_media_decode(dp, pkts[f],
							 TF_MEDIA_PKT_BYTES,
							 op),
					 TF_MEDIA_FRAME);
		}
	}
	tf_media_dec_free(df);
	tf_media_dec_free(dp);
	/* the alignment of the loss-free path (the codec's delay) */
	bd = best_delay(in, out_plc, NS);
	sf = snr(in, out_fec, NS, bd, lost);
	sp = snr(in, out_plc, NS, bd, lost);
	printf("# loss %d/%d frames (%.1f %%), delay %d: lost frames SNR "
	       "FEC %.2f dB, PLC only %.2f dB, gain %.2f dB\n",
	       nlost, NF, 100.0 * nlost / NF, bd, sf, sp, sf - sp);
	assert_true(nlost > NF / 20 && nlost < NF / 6);
	assert_true(sf - sp >= 4.0);
}

/* Without FEC in the stream, "FEC" decoding is concealment: no gain. The
 * loss test's figure comes from the FEC data, not from the harness. */
static void test_loss_nofec_control(void **state)
{
	struct tf_media_dec *df = NULL;
	int16_t tmp[TF_MEDIA_FRAME];
	int delay;
	(void)state;

	speech(in, NS, 140);
	encode_all(false, &delay);
	assert_int_equal(tf_media_dec_new(&df), 0);
	assert_int_equal(tf_media_decode(df, pkts[0], TF_MEDIA_PKT_BYTES, tmp),
			 TF_MEDIA_FRAME);
	/* no LBRR in the packet: the call still yields a (concealed) frame */
	assert_int_equal(
		tf_media_decode_fec(df, pkts[2], TF_MEDIA_PKT_BYTES, tmp),
		TF_MEDIA_FRAME);
	tf_media_dec_free(df);
}

static void test_bad_packets(void **state)
{
	struct tf_media_dec *d = NULL;
	struct tf_media_enc *e = NULL;
	int16_t pcm[TF_MEDIA_FRAME * 2] = {0};
	uint8_t p[TF_MEDIA_PKT_BYTES], junk[200];
	(void)state;

	assert_int_equal(tf_media_dec_new(&d), 0);
	assert_int_equal(tf_media_decode(d, junk, 0, pcm), -EBADMSG);
	/* TOC code 3 with a frame count of 0: malformed */
	memset(junk, 0, sizeof(junk));
	junk[0] = 0x03;
	junk[1] = 0x00;
	assert_int_equal(tf_media_decode(d, junk, 2, pcm), -EBADMSG);
	/* a 40 ms packet (two 20 ms frames, TOC code 1) is not ours */
	assert_int_equal(tf_media_enc_new(0, false, &e), 0);
	assert_int_equal(tf_media_encode(e, pcm, p), TF_MEDIA_PKT_BYTES);
	junk[0] = (uint8_t)((p[0] & ~3u) | 1u);
	memcpy(junk + 1, p + 1, 20);
	memcpy(junk + 21, p + 1, 20);
	assert_int_equal(tf_media_decode(d, junk, 41, pcm), -EBADMSG);
	assert_int_equal(tf_media_decode(d, p, sizeof(p), pcm), TF_MEDIA_FRAME);
	assert_int_equal(tf_media_enc_new(101, true, &e), -EINVAL);
	tf_media_enc_free(e);
	tf_media_dec_free(d);
}

static void write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/tf-media-XXXXXX", wav[64], raw[64], bad[64];
	struct tf_audio_writer *w = NULL;
	struct tf_wav_info wi;
	int16_t *got = NULL;
	size_t n = 0;
	uint8_t hdr[64];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(wav, sizeof(wav), "%s/a.wav", dir);
	snprintf(raw, sizeof(raw), "%s/a.raw", dir);
	snprintf(bad, sizeof(bad), "%s/bad.wav", dir);
	speech(in, 16000, 140);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? raw : wav;
		assert_int_equal(tf_audio_writer_open(p, &w), 0);
		assert_int_equal(tf_audio_write(w, in, 1000), 0);
		assert_int_equal(tf_audio_write(w, in + 1000, 15000), 0);
		assert_int_equal(tf_audio_writer_close(w), 0);
		assert_int_equal(tf_audio_load(p, &got, &n), 0);
		assert_int_equal(n, 16000);
		assert_memory_equal(got, in, 32000);
		free(got);
		got = NULL;
	}
	/* the WAV header as written: 44 bytes, PCM16 16 kHz mono */
	{
		FILE *f = fopen(wav, "rb");
		assert_non_null(f);
		assert_int_equal(fread(hdr, 1, 44, f), 44);
		fclose(f);
		assert_memory_equal(hdr, "RIFF", 4);
		assert_int_equal(tf_wav_parse(hdr, 44, &wi), 0);
		assert_int_equal(wi.data_off, 44);
		assert_int_equal(wi.data_len, 0); /* clamped to the buffer */
	}
	/* malformed: wrong rate, stereo, fmt size past the end, data before
	 * fmt, a chunk size overflowing, too many chunks, truncated */
	{
		uint8_t h[44];
		memcpy(h, hdr, 44);
		h[24] = 0x44; /* 44100-ish */
		h[25] = 0xac;
		assert_int_equal(tf_wav_parse(h, 44, &wi), -EPROTONOSUPPORT);
		memcpy(h, hdr, 44);
		h[22] = 2;
		assert_int_equal(tf_wav_parse(h, 44, &wi), -EPROTONOSUPPORT);
		memcpy(h, hdr, 44);
		h[16] = 0xff;
		assert_int_equal(tf_wav_parse(h, 44, &wi), -EINVAL);
		memcpy(h, hdr, 44);
		memcpy(h + 12, "data", 4);
		assert_int_equal(tf_wav_parse(h, 44, &wi), -EINVAL);
		memcpy(h, hdr, 44);
		memcpy(h + 12, "LIST", 4);
		h[16] = h[17] = h[18] = h[19] = 0xff;
		assert_int_equal(tf_wav_parse(h, 44, &wi), -EINVAL);
		for (size_t l = 0; l < 44; l++)
			assert_true(tf_wav_parse(hdr, l, &wi) < 0);
		write_file(bad, h, 44);
		assert_true(tf_audio_load(bad, &got, &n) < 0);
	}
	{
		static uint8_t many[12 + 70 * 8];
		memcpy(many, "RIFF", 4);
		memcpy(many + 8, "WAVE", 4);
		for (int c = 0; c < 70; c++)
			memcpy(many + 12 + 8 * c, "junk", 4);
		assert_int_equal(tf_wav_parse(many, sizeof(many), &wi),
				 -EINVAL);
	}
	assert_int_equal(tf_audio_load("/nonexistent/x.wav", &got, &n),
			 -ENOENT);
	unlink(wav);
	unlink(raw);
	unlink(bad);
	rmdir(dir);
}

/* The descriptor forms twofold-comms uses (the CLI opens, the service
 * reads and writes): a WAV written through an fd reads back through an
 * fd that is not at offset 0, and a path's suffix says WAV or raw. */
static void test_files_fd(void **state)
{
	char dir[] = "/tmp/tf-media-XXXXXX", wav[64];
	struct tf_audio_writer *w = NULL;
	int16_t *got = NULL;
	size_t n = 0;
	char c;
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(wav, sizeof(wav), "%s/b.WAV", dir);
	assert_true(tf_audio_path_is_wav(wav));
	assert_false(tf_audio_path_is_wav("/x/b.raw"));
	assert_false(tf_audio_path_is_wav("av"));
	speech(in, 16000, 140);
	fd = open(wav, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(tf_audio_writer_open_fd(fd, true, &w), 0);
	assert_int_equal(tf_audio_write(w, in, 16000), 0);
	assert_int_equal(tf_audio_writer_close(w), 0); /* closes fd */
	fd = open(wav, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(tf_audio_load_fd(fd, &got, &n), 0);
	assert_int_equal(n, 16000);
	assert_memory_equal(got, in, 32000);
	free(got);
	close(fd);
	/* not a regular file */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(tf_audio_load_fd(fd, &got, &n), -EINVAL);
	close(fd);
	/* a pipe nobody reads would stall the service's writes: refused
	 * (and the descriptor closed: its write end then has no holder) */
	{
		int p[2];

		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		assert_int_equal(tf_audio_writer_open_fd(p[1], false, &w),
				 -EINVAL);
		assert_int_equal(fcntl(p[1], F_GETFD), -1);
		close(p[0]);
	}
	unlink(wav);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_loss_fec),
		cmocka_unit_test(test_loss_nofec_control),
		cmocka_unit_test(test_bad_packets),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_files_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
