/* SPDX-License-Identifier: ISC */
/*
 * bench/net: the raw AEAD bound of a tunnel's data path on one core:
 * seal 1420-byte packets (the tunnel MTU) with the suite's transport
 * AEAD and nothing else: SM4-GCM (libgcrypt, gm) and ChaCha20-Poly1305
 * IETF (libsodium, intl). Prints "NAME Mbit/s" per line: the best of
 * ROUNDS rounds, since on a shared machine a round that lost the core
 * says nothing about the cipher. Built and run by
 * bench/net/run (cc -O2 aead_bound.c -lgcrypt -lsodium).
 */
#include <gcrypt.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define PKT 1420
#define SECS 0.5
#define ROUNDS 5

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static uint8_t in[PKT], out[PKT + 16], key[32], nonce[12];
	gcry_cipher_hd_t h;
	unsigned long long clen;
	double t0, t;
	uint64_t n;
	double best_sm4 = 0, best_cc = 0;

	if (sodium_init() < 0 || !gcry_check_version(NULL))
		return 1;
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	if (gcry_cipher_open(&h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_GCM, 0) ||
	    gcry_cipher_setkey(h, key, 16))
		return 1;
	for (int r = 0; r < ROUNDS; r++) {
		for (n = 0, t0 = now(); (t = now()) - t0 < SECS; n++) {
			/* the WireGuard nonce: 0^4 || LE64 counter */
			memcpy(nonce + 4, &n, 8);
			gcry_cipher_setiv(h, nonce, 12);
			gcry_cipher_encrypt(h, out, PKT, in, PKT);
			gcry_cipher_gettag(h, out + PKT, 16);
		}
		best_sm4 = fmax(best_sm4, (double)n * PKT * 8 / (t - t0) / 1e6);
	}
	gcry_cipher_close(h);
	for (int r = 0; r < ROUNDS; r++) {
		for (n = 0, t0 = now(); (t = now()) - t0 < SECS; n++) {
			memcpy(nonce + 4, &n, 8);
			crypto_aead_chacha20poly1305_ietf_encrypt(
				out, &clen, in, PKT, NULL, 0, NULL, nonce, key);
		}
		best_cc = fmax(best_cc, (double)n * PKT * 8 / (t - t0) / 1e6);
	}
	printf("sm4-gcm %.0f\n", best_sm4);
	printf("chacha20-poly1305 %.0f\n", best_cc);
	return 0;
}
