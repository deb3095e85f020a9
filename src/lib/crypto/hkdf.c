/* SPDX-License-Identifier: ISC */
/*
 * HKDF (RFC 5869) over a pluggable HMAC.
 *
 * Written here by hand because neither library in Debian 12 offers what we
 * need: libsodium 1.0.18 has no crypto_kdf_hkdf_* (added in 1.0.19), and
 * libgcrypt 1.10 has no HKDF at all. The engine is a few lines of RFC 5869
 * §2.2/§2.3 on top of the libraries' HMAC primitives, and it takes the HMAC
 * as a parameter so that the RFC's own (SHA-256) test vectors exercise the
 * very same loop the suites use with HMAC-SHA-512 and HMAC-SM3.
 */
#include <gcrypt.h>
#include <sodium.h>
#include <string.h>

#include "internal.h"

/* libsodium's HMAC-SHA-256 and HMAC-SHA-512 differ only in the names of
 * their state type and calls: one body, made twice. */
#define SODIUM_HMAC(alg)                                                       \
	static int hmac_##alg(uint8_t *out, const uint8_t *key, size_t keylen, \
			      const struct tf_iov *parts, size_t nparts)       \
	{                                                                      \
		crypto_auth_hmac##alg##_state st;                              \
		int r = -EIO;                                                  \
                                                                               \
		if (crypto_auth_hmac##alg##_init(&st, key, keylen) != 0)       \
			goto out;                                              \
		for (size_t i = 0; i < nparts; i++)                            \
			if (parts[i].n > 0 &&                                  \
			    crypto_auth_hmac##alg##_update(&st, parts[i].p,    \
							   parts[i].n) != 0)   \
				goto out;                                      \
		if (crypto_auth_hmac##alg##_final(&st, out) == 0)              \
			r = 0;                                                 \
	out:                                                                   \
		sodium_memzero(&st, sizeof(st));                               \
		return r;                                                      \
	}
SODIUM_HMAC(sha256)
SODIUM_HMAC(sha512)

static int hmac_sm3(uint8_t *out, const uint8_t *key, size_t keylen,
		    const struct tf_iov *parts, size_t nparts)
{
	gcry_mac_hd_t h;
	size_t len = 32;
	int r = -EIO;

	/* GCRY_MAC_FLAG_SECURE: the HMAC key pads live in libgcrypt's
	 * locked secure memory, not the ordinary heap. */
	if (gcry_mac_open(&h, GCRY_MAC_HMAC_SM3, GCRY_MAC_FLAG_SECURE, NULL))
		return -EIO;
	if (gcry_mac_setkey(h, key, keylen))
		goto out;
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].n > 0 && gcry_mac_write(h, parts[i].p, parts[i].n))
			goto out;
	if (gcry_mac_read(h, out, &len) || len != 32)
		goto out;
	r = 0;
out:
	gcry_mac_close(h);
	return r;
}

const struct tf_hmac_alg tf_hmac_sha256 = {"HMAC-SHA-256", 32, hmac_sha256};
const struct tf_hmac_alg tf_hmac_sha512 = {"HMAC-SHA-512", 64, hmac_sha512};
const struct tf_hmac_alg tf_hmac_sm3 = {"HMAC-SM3", 32, hmac_sm3};

int tf_hkdf(const struct tf_hmac_alg *h, uint8_t *out, size_t outlen,
	    const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
	    size_t saltlen, const uint8_t *info, size_t infolen)
{
	static const uint8_t zeros[TF_HMAC_MAX];
	uint8_t prk[TF_HMAC_MAX], t[TF_HMAC_MAX];
	size_t done = 0, tlen = 0;
	int r;

	if (h == NULL || h->hlen > TF_HMAC_MAX || out == NULL)
		return -EINVAL;
	/* §2.3: L <= 255 * HashLen */
	if (outlen == 0 || outlen > 255 * h->hlen)
		return -EINVAL;
	if ((ikm == NULL && ikmlen) || (info == NULL && infolen) ||
	    (salt == NULL && saltlen))
		return -EINVAL;
	/* §2.2: a missing salt is HashLen zero bytes. */
	if (salt == NULL || saltlen == 0) {
		salt = zeros;
		saltlen = h->hlen;
	}
	/* Extract: PRK = HMAC-Hash(salt, IKM) */
	r = h->mac(prk, salt, saltlen, (const struct tf_iov[]){{ikm, ikmlen}},
		   1);
	if (r < 0)
		goto out;
	/* Expand: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), i = 1..N */
	for (uint8_t i = 1; done < outlen; i++) {
		struct tf_iov parts[3] = {{t, tlen}, {info, infolen}, {&i, 1}};
		size_t n;

		r = h->mac(t, prk, h->hlen, parts, 3);
		if (r < 0)
			goto out;
		tlen = h->hlen;
		n = TF_MIN(tlen, outlen - done);
		memcpy(out + done, t, n);
		done += n;
	}
	r = 0;
out:
	if (r < 0)
		tf_memzero(out, outlen);
	tf_memzero(prk, sizeof(prk));
	tf_memzero(t, sizeof(t));
	return r;
}
