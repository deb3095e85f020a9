/* SPDX-License-Identifier: ISC */
/*
 * Crypto benchmark: for each suite, AEAD seal/open through tf_seal/tf_open
 * next to the raw library call on the same message size (the anchor, in the
 * same run), plus hash throughput, signatures, verifications and key
 * agreements per second, and the start-up self-test time.
 *
 * Method: 1 MiB messages; each sample runs the operation for a fixed count
 * (~50 ms), raw and twofold samples interleaved; the median of 9 samples is
 * reported. Ratio = twofold / raw (goal >= 0.95).
 */
#include <gcrypt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "twofold/crypto.h"

#define MSG (1u << 20)
#define SAMPLES 9

static uint8_t *g_msg, *g_out, *g_back, *g_blob;
static uint8_t g_key[32], g_nonce[24], g_tag[16];
static struct tf_key *g_tfkey;
static size_t g_bloblen;

typedef int (*op_fn)(void);

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_crypto: %s failed\n", what);
	exit(1);
}

/* Seconds per call, one sample. */
static double sample(op_fn f, unsigned n)
{
	double t0 = now_s();

	for (unsigned i = 0; i < n; i++)
		if (f() != 0)
			die("operation");
	return (now_s() - t0) / n;
}

/* Calls to fill ~50 ms. */
static unsigned calibrate(op_fn f)
{
	double per = sample(f, 2);
	unsigned n = (unsigned)(0.05 / per);

	return n < 2 ? 2 : n;
}

/* Median seconds per call of a and b, interleaved. */
static void pair(op_fn a, op_fn b, double *ma, double *mb)
{
	double sa[SAMPLES], sb[SAMPLES];
	unsigned na = calibrate(a), nb = calibrate(b);

	for (int i = 0; i < SAMPLES; i++) {
		sa[i] = sample(a, na);
		sb[i] = sample(b, nb);
	}
	qsort(sa, SAMPLES, sizeof(double), cmp_double);
	qsort(sb, SAMPLES, sizeof(double), cmp_double);
	*ma = sa[SAMPLES / 2];
	*mb = sb[SAMPLES / 2];
}

static double one(op_fn a)
{
	double s[SAMPLES];
	unsigned n = calibrate(a);

	for (int i = 0; i < SAMPLES; i++)
		s[i] = sample(a, n);
	qsort(s, SAMPLES, sizeof(double), cmp_double);
	return s[SAMPLES / 2];
}

/* ---- raw library calls ---- */

static int raw_xchacha_seal(void)
{
	unsigned long long tl;

	return crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		g_out, g_tag, &tl, g_msg, MSG, g_nonce, 32, NULL, g_nonce,
		g_key);
}

static int raw_xchacha_open(void)
{
	return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		g_back, NULL, g_out, MSG, g_tag, g_nonce, 32, g_nonce, g_key);
}

static int gcm(int algo, size_t keylen, bool enc)
{
	gcry_cipher_hd_t h;
	int r = -1;

	if (gcry_cipher_open(&h, algo, GCRY_CIPHER_MODE_GCM,
			     GCRY_CIPHER_SECURE))
		return -1;
	if (gcry_cipher_setkey(h, g_key, keylen) ||
	    gcry_cipher_setiv(h, g_nonce, 12) ||
	    gcry_cipher_authenticate(h, g_nonce, 20) || gcry_cipher_final(h))
		goto out;
	if (enc) {
		if (gcry_cipher_encrypt(h, g_out, MSG, g_msg, MSG) ||
		    gcry_cipher_gettag(h, g_tag, 16))
			goto out;
	} else {
		if (gcry_cipher_decrypt(h, g_back, MSG, g_out, MSG) ||
		    gcry_cipher_checktag(h, g_tag, 16))
			goto out;
	}
	r = 0;
out:
	gcry_cipher_close(h);
	return r;
}

static int raw_sm4_seal(void)
{
	return gcm(GCRY_CIPHER_SM4, 16, true);
}
static int raw_sm4_open(void)
{
	return gcm(GCRY_CIPHER_SM4, 16, false);
}
static int raw_aes_seal(void)
{
	return gcm(GCRY_CIPHER_AES256, 32, true);
}
static int raw_aes_open(void)
{
	return gcm(GCRY_CIPHER_AES256, 32, false);
}

/* ---- twofold ---- */

static int tf_seal_op(void)
{
	return tf_seal(g_tfkey, g_nonce, 12, g_msg, MSG, g_blob, MSG + 64,
		       &g_bloblen);
}

static int tf_open_op(void)
{
	size_t n;

	return tf_open(g_tfkey, g_nonce, 12, g_blob, g_bloblen, g_back, MSG,
		       &n);
}

static const struct tf_suite *g_suite;
static struct tf_key *g_sign, *g_kx;
static uint8_t g_sig[TF_SIG_MAX], g_pk[TF_PK_MAX], g_peer[TF_PK_MAX];
static size_t g_siglen;

static int hash_op(void)
{
	uint8_t h[TF_HASH_BYTES];

	return tf_hash(g_suite, h, g_msg, MSG);
}

static int sign_op(void)
{
	return tf_sign(g_sign, g_msg, 64, g_sig, sizeof(g_sig), &g_siglen);
}

static int verify_op(void)
{
	return tf_verify(g_suite, g_pk, g_msg, 64, g_sig, g_siglen);
}

static int kx_op(void)
{
	uint8_t k[TF_KX_BYTES];

	return tf_kx(g_kx, g_peer, k);
}

static int selftest_op(void)
{
	char why[256];

	return tf_crypto_selftest(g_suite, why, sizeof(why));
}

static void row_aead(const char *suite, const char *what, op_fn raw, op_fn tfop)
{
	double r, t;

	pair(raw, tfop, &r, &t);
	printf("%-5s %-28s %10.0f %10.0f %7.3f\n", suite, what, MSG / r / 1e6,
	       MSG / t / 1e6, r / t);
}

static void bench_suite(const char *name)
{
	struct tf_key *other = NULL;
	bool intl;

	g_suite = tf_suite_by_name(name);
	intl = g_suite->id == TF_SUITE_INTL;
	if (tf_key_import(g_suite, TF_KEY_AEAD, g_key, 32, &g_tfkey) ||
	    tf_key_generate(g_suite, TF_KEY_SIGN, &g_sign) ||
	    tf_key_generate(g_suite, TF_KEY_KX, &g_kx) ||
	    tf_key_generate(g_suite, TF_KEY_KX, &other) ||
	    tf_key_public(g_sign, g_pk, sizeof(g_pk)) ||
	    tf_key_public(other, g_peer, sizeof(g_peer)))
		die("key setup");

	/* seal first so open has a valid blob / tag (raw output in g_out,
	 * twofold's in g_blob; the seal rows rewrite both consistently) */
	if (tf_seal_op() || (intl ? raw_xchacha_seal() : raw_sm4_seal()))
		die("seal");
	if (intl) {
		row_aead(name, "seal XChaCha20-Poly1305", raw_xchacha_seal,
			 tf_seal_op);
		row_aead(name, "open XChaCha20-Poly1305", raw_xchacha_open,
			 tf_open_op);
	} else {
		row_aead(name, "seal SM4-GCM", raw_sm4_seal, tf_seal_op);
		row_aead(name, "open SM4-GCM", raw_sm4_open, tf_open_op);
	}
	printf("%-5s %-28s %10s %10.0f\n", name,
	       intl ? "hash BLAKE2b-256 (MB/s)" : "hash SM3 (MB/s)", "",
	       MSG / one(hash_op) / 1e6);
	if (sign_op())
		die("sign");
	printf("%-5s %-28s %10s %10.0f\n", name,
	       intl ? "sign Ed25519 (/s)" : "sign SM2 (/s)", "",
	       1.0 / one(sign_op));
	printf("%-5s %-28s %10s %10.0f\n", name,
	       intl ? "verify Ed25519 (/s)" : "verify SM2 (/s)", "",
	       1.0 / one(verify_op));
	printf("%-5s %-28s %10s %10.0f\n", name,
	       intl ? "kx X25519+HKDF (/s)" : "kx SM2-ECDH+HKDF (/s)", "",
	       1.0 / one(kx_op));
	printf("%-5s %-28s %10s %10.1f\n", name, "start-up selftest (ms)", "",
	       one(selftest_op) * 1e3);
	{
		char why[256];
		double t0 = now_s();

		if (tf_crypto_selftest_full(g_suite, why, sizeof(why)))
			die(why);
		printf("%-5s %-28s %10s %10.1f\n", name, "full selftest (ms)",
		       "", (now_s() - t0) * 1e3);
	}
	tf_key_free(g_tfkey);
	tf_key_free(g_sign);
	tf_key_free(g_kx);
	tf_key_free(other);
	g_tfkey = g_sign = g_kx = NULL;
}

int main(void)
{
	struct utsname u;
	char day[32];
	time_t t = time(NULL);

	if (tf_crypto_init() != 0)
		die("tf_crypto_init");
	g_msg = malloc(MSG);
	g_out = malloc(MSG + 64);
	g_back = malloc(MSG);
	g_blob = malloc(MSG + 64);
	if (!g_msg || !g_out || !g_back || !g_blob)
		die("malloc");
	randombytes_buf(g_msg, MSG);
	randombytes_buf(g_key, sizeof(g_key));
	randombytes_buf(g_nonce, sizeof(g_nonce));
	uname(&u);
	strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&t));
	printf("# bench_crypto %s, %s %s, %ld CPUs, libsodium %s, libgcrypt "
	       "%s\n",
	       day, u.sysname, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
	       sodium_version_string(), gcry_check_version(NULL));
	printf("# AEAD: 1 MiB messages, median of %d interleaved samples; "
	       "ratio = twofold/raw (goal >= 0.95)\n",
	       SAMPLES);
	printf("%-5s %-28s %10s %10s %7s\n", "suite", "operation", "raw MB/s",
	       "twofold", "ratio");
	bench_suite("intl");
	bench_suite("gm");
	{
		double r, a;

		if (raw_aes_seal())
			die("aes");
		pair(raw_aes_seal, raw_aes_open, &r, &a);
		printf("%-5s %-28s %10.0f %10s\n", "ref",
		       "seal AES-256-GCM (gcry)", MSG / r / 1e6, "-");
		printf("%-5s %-28s %10.0f %10s\n", "ref",
		       "open AES-256-GCM (gcry)", MSG / a / 1e6, "-");
	}
	free(g_msg);
	free(g_out);
	free(g_back);
	free(g_blob);
	return 0;
}
