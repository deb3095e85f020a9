/* SPDX-License-Identifier: ISC */
/*
 * Suite-independent layer: library start-up, suite lookup, key handles,
 * sealed blobs and the thin tf_* wrappers over the suite vtables.
 */
#include <errno.h>
#include <gcrypt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal.h"
#include "twofold/secmem.h"

struct tf_key {
	const struct tf_suite *suite;
	enum tf_key_use use;
	uint8_t *secret; /* tf_secure_alloc, TF_SK_MAX bytes */
	size_t secret_len;
	uint8_t pk[TF_PK_MAX]; /* SIGN/KX only */
};

/* ---- start-up ---- */

static bool crypto_ready;

int tf_crypto_init(void)
{
	if (crypto_ready)
		return 0;
	if (sodium_init() < 0)
		return -EIO;
	/* libgcrypt must be initialised by the application before first use
	 * (libgcrypt manual, "Initializing the library"). If another part of
	 * the program already finished that, leave its choices alone. */
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		if (gcry_check_version(GCRYPT_VERSION) == NULL)
			return -ENOTSUP;
		/* Library code never prints: without this libgcrypt writes
		 * "Warning: using insecure memory!" to stderr when mlock
		 * fails for an unprivileged caller. */
		gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
		/* 64 KiB pool for key schedules and HMAC pads
		 * (GCRY_CIPHER_SECURE / GCRY_MAC_FLAG_SECURE); libgcrypt
		 * 1.10 grows it on demand. */
		if (gcry_control(GCRYCTL_INIT_SECMEM, 65536, 0))
			return -EIO;
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	/* OpenSSL 3.0 initialises itself on first use. */
	crypto_ready = true;
	return 0;
}

/* The registry's rows (twofold/suite.h), each paired with the vtable its
 * implementation defines as tf_suite_<name>. */
#define IMPL(tag, id, name, brief, desc) &tf_suite_##name,
static const struct tf_suite *const tf_suites[] = {TF_SUITES(IMPL)};
#undef IMPL

const struct tf_suite *tf_suite_at(size_t i)
{
	return i < TF_ARRAY_SIZE(tf_suites) ? tf_suites[i] : NULL;
}

const struct tf_suite *tf_suite_by_name(const char *name)
{
	const struct tf_suite_info *si = tf_suite_info_by_name(name);

	return si ? tf_suite_by_id(si->id) : NULL;
}

const struct tf_suite *tf_suite_by_id(uint8_t id)
{
	const struct tf_suite *s;

	tf_suite_foreach(i, s) if (s->id == id) return s;
	return NULL;
}

static bool suite_known(const struct tf_suite *s)
{
	const struct tf_suite *t;

	tf_suite_foreach(i, t) if (t == s) return true;
	return false;
}

int tf_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		/* getrandom(2) blocks only until the pool is initialised at
		 * boot, never afterwards; requests up to 256 bytes are not
		 * interrupted, larger ones may return short or EINTR. */
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tf_negerrno();
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- keys ---- */

static int key_new(const struct tf_suite *s, enum tf_key_use use,
		   struct tf_key **out)
{
	struct tf_key *k;

	if (!suite_known(s))
		return -EINVAL;
	if (use != TF_KEY_AEAD && use != TF_KEY_SIGN && use != TF_KEY_KX)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->secret = tf_secure_alloc(TF_SK_MAX);
	if (k->secret == NULL) {
		free(k);
		return -ENOMEM;
	}
	k->suite = s;
	k->use = use;
	*out = k;
	return 0;
}

void tf_key_free(struct tf_key *k)
{
	if (k == NULL)
		return;
	tf_secure_free(k->secret); /* zeroes before unmapping */
	tf_memzero(k, sizeof(*k));
	free(k);
}

int tf_key_generate(const struct tf_suite *s, enum tf_key_use use,
		    struct tf_key **out)
{
	_cleanup_key_ struct tf_key *k = NULL;
	size_t len = TF_SK_MAX;
	int r;

	r = key_new(s, use, &k);
	if (r < 0)
		return r;
	switch (use) {
	case TF_KEY_AEAD:
		len = TF_KEY_BYTES;
		r = tf_random(k->secret, len);
		break;
	case TF_KEY_SIGN: r = s->sign_keygen(k->secret, &len, k->pk); break;
	case TF_KEY_KX: r = s->kx_keygen(k->secret, &len, k->pk); break;
	}
	if (r < 0)
		return r;
	k->secret_len = len;
	*out = steal_pointer(&k);
	return 0;
}

int tf_key_import(const struct tf_suite *s, enum tf_key_use use,
		  const uint8_t *bytes, size_t len, struct tf_key **out)
{
	struct tf_key *k;
	int r;

	if (use != TF_KEY_AEAD || len != TF_KEY_BYTES)
		return -EINVAL;
	r = key_new(s, use, &k);
	if (r < 0)
		return r;
	memcpy(k->secret, bytes, TF_KEY_BYTES);
	k->secret_len = TF_KEY_BYTES;
	*out = k;
	return 0;
}

const struct tf_suite *tf_key_suite(const struct tf_key *k)
{
	return k ? k->suite : NULL;
}

int tf_key_public(const struct tf_key *k, uint8_t *pk, size_t pkcap)
{
	if (k == NULL || pk == NULL ||
	    (k->use != TF_KEY_SIGN && k->use != TF_KEY_KX))
		return -EINVAL;
	if (pkcap < k->suite->pk_bytes)
		return -ENOBUFS;
	memcpy(pk, k->pk, k->suite->pk_bytes);
	return 0;
}

/* ---- sealed blobs ---- */

size_t tf_seal_overhead(const struct tf_suite *s)
{
	return TF_BLOB_FIXED_HDR + s->aead_nonce_bytes + s->aead_tag_bytes;
}

/* AEAD associated data = blob header (fixed part + nonce) || caller's ad.
 * The AEAD interfaces take one contiguous ad, so join the two; small ones
 * (the usual case) stay on the stack. */
#define AD_STACK 256

static int join_ad(uint8_t *stackbuf, uint8_t **heap, const uint8_t *hdr,
		   size_t hdrlen, const uint8_t *ad, size_t adlen,
		   const uint8_t **joined)
{
	uint8_t *p = stackbuf;

	if (adlen > SIZE_MAX - hdrlen)
		return -EOVERFLOW;
	if (hdrlen + adlen > AD_STACK) {
		p = *heap = malloc(hdrlen + adlen);
		if (p == NULL)
			return -ENOMEM;
	}
	memcpy(p, hdr, hdrlen);
	if (adlen)
		memcpy(p + hdrlen, ad, adlen);
	*joined = p;
	return 0;
}

int tf_seal(const struct tf_key *k, const uint8_t *ad, size_t adlen,
	    const uint8_t *pt, size_t ptlen, uint8_t *out, size_t outcap,
	    size_t *outlen)
{
	const struct tf_suite *s;
	uint8_t adbuf[AD_STACK];
	_cleanup_free_ uint8_t *adheap = NULL;
	const uint8_t *fullad;
	size_t hdrlen, total;
	int r;

	if (k == NULL || k->use != TF_KEY_AEAD || out == NULL ||
	    outlen == NULL || (pt == NULL && ptlen) || (ad == NULL && adlen))
		return -EINVAL;
	s = k->suite;
	hdrlen = TF_BLOB_FIXED_HDR + s->aead_nonce_bytes;
	if (ptlen > SIZE_MAX - tf_seal_overhead(s))
		return -EOVERFLOW;
	total = ptlen + tf_seal_overhead(s);
	if (outcap < total)
		return -ENOBUFS;

	memcpy(out, TF_BLOB_MAGIC, 4);
	out[4] = TF_BLOB_VERSION;
	out[5] = s->id;
	out[6] = out[7] = 0;
	r = tf_random(out + TF_BLOB_FIXED_HDR, s->aead_nonce_bytes);
	if (r < 0)
		return r;
	r = join_ad(adbuf, &adheap, out, hdrlen, ad, adlen, &fullad);
	if (r < 0)
		return r;
	r = s->aead_encrypt(out + hdrlen, out + hdrlen + ptlen, pt, ptlen,
			    fullad, hdrlen + adlen, out + TF_BLOB_FIXED_HDR,
			    k->secret);
	if (r < 0)
		return r;
	*outlen = total;
	return 0;
}

int tf_open(const struct tf_key *k, const uint8_t *ad, size_t adlen,
	    const uint8_t *blob, size_t bloblen, uint8_t *pt, size_t ptcap,
	    size_t *ptlen)
{
	const struct tf_suite *s;
	uint8_t adbuf[AD_STACK];
	_cleanup_free_ uint8_t *adheap = NULL;
	const uint8_t *fullad;
	size_t hdrlen, ctlen;
	int r;

	if (k->use != TF_KEY_AEAD || (blob == NULL && bloblen) ||
	    (ad == NULL && adlen))
		return -EINVAL;
	s = k->suite;
	if (bloblen < TF_BLOB_FIXED_HDR ||
	    memcmp(blob, TF_BLOB_MAGIC, 4) != 0 || blob[4] != TF_BLOB_VERSION)
		return -EINVAL;
	/* Checked before anything else about the body: the nonce and tag
	 * sizes depend on the suite. */
	if (blob[5] != s->id)
		return -EPROTONOSUPPORT;
	if (blob[6] != 0 || blob[7] != 0)
		return -EINVAL;
	hdrlen = TF_BLOB_FIXED_HDR + s->aead_nonce_bytes;
	if (bloblen < hdrlen + s->aead_tag_bytes)
		return -EINVAL;
	ctlen = bloblen - hdrlen - s->aead_tag_bytes;
	if (ptcap < ctlen || (pt == NULL && ctlen))
		return -ENOBUFS;
	r = join_ad(adbuf, &adheap, blob, hdrlen, ad, adlen, &fullad);
	if (r < 0)
		return r;
	r = s->aead_decrypt(pt, blob + hdrlen, ctlen, blob + hdrlen + ctlen,
			    fullad, hdrlen + adlen, blob + TF_BLOB_FIXED_HDR,
			    k->secret);
	if (r < 0) {
		if (ctlen)
			tf_memzero(pt, ctlen);
		return r;
	}
	*ptlen = ctlen;
	return 0;
}

/* ---- hashing and derivation ---- */

int tf_hash(const struct tf_suite *s, uint8_t out[static TF_HASH_BYTES],
	    const uint8_t *m, size_t mlen)
{
	if (!suite_known(s) || out == NULL || (m == NULL && mlen))
		return -EINVAL;
	return s->hash(out, m, mlen);
}

struct tf_hash_ctx {
	const struct tf_suite *s;
	void *st;
};

int tf_hash_begin(const struct tf_suite *s, struct tf_hash_ctx **out)
{
	struct tf_hash_ctx *h;
	int r;

	if (!suite_known(s) || out == NULL)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->s = s;
	r = s->hash_begin(&h->st);
	if (r < 0) {
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

int tf_hash_update(struct tf_hash_ctx *h, const void *m, size_t mlen)
{
	if (h->st == NULL || (m == NULL && mlen))
		return -EINVAL;
	return h->s->hash_update(h->st, m, mlen);
}

int tf_hash_end(struct tf_hash_ctx *h, uint8_t out[static TF_HASH_BYTES])
{
	int r;

	if (h->st == NULL)
		return -EINVAL;
	r = h->s->hash_end(h->st, out);
	h->st = NULL;
	free(h);
	return r;
}

void tf_hash_free(struct tf_hash_ctx *h)
{
	if (h == NULL)
		return;
	if (h->st)
		(void)h->s->hash_end(h->st, NULL);
	free(h);
}

int tf_hash_fd(const struct tf_suite *s, int fd,
	       uint8_t out[static TF_HASH_BYTES], uint64_t *size_out)
{
	_cleanup_hash_ struct tf_hash_ctx *h = NULL;
	const size_t cap = 1u << 18;
	uint8_t *buf = malloc(cap);
	uint64_t off = 0;
	int r = buf ? tf_hash_begin(s, &h) : -ENOMEM;

	while (r == 0) {
		ssize_t k = pread(fd, buf, cap, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			r = -errno;
		if (k <= 0)
			break;
		r = tf_hash_update(h, buf, (size_t)k);
		off += (uint64_t)k;
	}
	free(buf);
	if (r < 0)
		return r;
	r = tf_hash_end(h, out);
	h = NULL; /* end frees it */
	if (size_out)
		*size_out = off;
	return r;
}

int tf_kdf(const struct tf_suite *s, uint8_t *out, size_t outlen,
	   const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
	   size_t saltlen, const uint8_t *info, size_t infolen)
{
	if (!suite_known(s))
		return -EINVAL;
	return s->hkdf(out, outlen, ikm, ikmlen, salt, saltlen, info, infolen);
}

int tf_kdf_key(const struct tf_suite *s, const uint8_t *ikm, size_t ikmlen,
	       const uint8_t *info, size_t infolen, struct tf_key **out)
{
	_cleanup_key_ struct tf_key *k = NULL;
	int r;

	r = key_new(s, TF_KEY_AEAD, &k);
	if (r < 0)
		return r;
	r = s->hkdf(k->secret, TF_KEY_BYTES, ikm, ikmlen, NULL, 0, info,
		    infolen);
	if (r < 0)
		return r;
	k->secret_len = TF_KEY_BYTES;
	*out = steal_pointer(&k);
	return 0;
}

int tf_pwhash(uint8_t *out, size_t outlen, const uint8_t *pw, size_t pwlen,
	      const uint8_t salt[static TF_SALT_BYTES], uint64_t opslimit,
	      size_t memlimit)
{
	if (out == NULL || salt == NULL || (pw == NULL && pwlen))
		return -EINVAL;
	if (outlen < crypto_pwhash_BYTES_MIN || outlen > 1024 ||
	    pwlen > crypto_pwhash_PASSWD_MAX ||
	    opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN ||
	    memlimit > crypto_pwhash_MEMLIMIT_MAX)
		return -EINVAL;
	/* libsodium's Argon2id v1.3 (RFC 9106), lanes = 1, SIMD-optimised;
	 * it fails only when it cannot allocate memlimit bytes. */
	if (crypto_pwhash(out, outlen, (const char *)pw, pwlen, salt, opslimit,
			  memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

/* ---- signatures and key agreement ---- */

int tf_sign(const struct tf_key *sk, const uint8_t *m, size_t mlen,
	    uint8_t *sig, size_t sigcap, size_t *siglen)
{
	uint8_t buf[TF_SIG_MAX];
	size_t len = sizeof(buf);
	int r;

	if (sk == NULL || sk->use != TF_KEY_SIGN || sig == NULL ||
	    siglen == NULL || (m == NULL && mlen))
		return -EINVAL;
	r = sk->suite->sign(buf, &len, m, mlen, sk->secret, sk->secret_len);
	if (r < 0)
		return r;
	if (len > sigcap)
		return -ENOBUFS;
	memcpy(sig, buf, len);
	*siglen = len;
	return 0;
}

int tf_verify(const struct tf_suite *s, const uint8_t *pk, const uint8_t *m,
	      size_t mlen, const uint8_t *sig, size_t siglen)
{
	if (!suite_known(s) || (m == NULL && mlen) || (sig == NULL && siglen))
		return -EINVAL;
	return s->verify(sig, siglen, m, mlen, pk);
}

/*
 * Signatures bound to a distinguishing ID. gm: the SM2 user ID enters Z_A
 * (GB/T 32918.2), as the standard means it to. intl: Ed25519 has no ID, so
 * the ID is a domain-separation prefix of the signed bytes,
 * u8 idlen || id || m, which gives the same property: a signature made
 * for one ID never verifies under another.
 */
static int sign_id_prefixed(uint8_t **out, size_t *outlen, const char *id,
			    size_t idlen, const uint8_t *m, size_t mlen)
{
	uint8_t *buf;

	if (idlen == 0 || idlen > TF_SIGN_ID_MAX || mlen > SIZE_MAX - 256)
		return -EINVAL;
	buf = malloc(1 + idlen + mlen);
	if (buf == NULL)
		return -ENOMEM;
	buf[0] = (uint8_t)idlen;
	memcpy(buf + 1, id, idlen);
	if (mlen)
		memcpy(buf + 1 + idlen, m, mlen);
	*out = buf;
	*outlen = 1 + idlen + mlen;
	return 0;
}

int tf_sign_id(const struct tf_key *sk, const char *id, const uint8_t *m,
	       size_t mlen, uint8_t *sig, size_t sigcap, size_t *siglen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t tmp[TF_SIG_MAX];
	size_t len = sizeof(tmp), idlen, blen;
	int r;

	if (sk == NULL || sk->use != TF_KEY_SIGN || id == NULL || sig == NULL ||
	    siglen == NULL || (m == NULL && mlen))
		return -EINVAL;
	idlen = strlen(id);
	if (idlen == 0 || idlen > TF_SIGN_ID_MAX)
		return -EINVAL;
	if (sk->suite->id == TF_SUITE_GM) {
		r = tf_gm_sm2_sign_id(tmp, &len, m, mlen, sk->secret,
				      sk->secret_len, id, idlen);
	} else {
		r = sign_id_prefixed(&buf, &blen, id, idlen, m, mlen);
		if (r < 0)
			return r;
		r = sk->suite->sign(tmp, &len, buf, blen, sk->secret,
				    sk->secret_len);
	}
	if (r < 0)
		return r;
	if (len > sigcap)
		return -ENOBUFS;
	memcpy(sig, tmp, len);
	*siglen = len;
	return 0;
}

int tf_verify_id(const struct tf_suite *s, const uint8_t *pk, const char *id,
		 const uint8_t *m, size_t mlen, const uint8_t *sig,
		 size_t siglen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t idlen, blen;
	int r;

	if (!suite_known(s) || (m == NULL && mlen) || (sig == NULL && siglen))
		return -EINVAL;
	idlen = strlen(id);
	if (idlen == 0 || idlen > TF_SIGN_ID_MAX)
		return -EINVAL;
	if (s->id == TF_SUITE_GM)
		return tf_gm_sm2_verify_id(sig, siglen, m, mlen, pk, id, idlen);
	r = sign_id_prefixed(&buf, &blen, id, idlen, m, mlen);
	if (r < 0)
		return r;
	return s->verify(sig, siglen, buf, blen, pk);
}

int tf_kx(const struct tf_key *sk, const uint8_t *peer_pk,
	  uint8_t out[static TF_KX_BYTES])
{
	if (sk == NULL || sk->use != TF_KEY_KX || peer_pk == NULL ||
	    out == NULL)
		return -EINVAL;
	return sk->suite->kx(out, sk->secret, sk->secret_len, peer_pk);
}

/*
 * Both suites derive the agreed key the same way:
 *   key = HKDF-<suite hash>(IKM = raw DH output, salt = none,
 *                           info = "twofold kx v1" || pk_lo || pk_hi)
 * where pk_lo/pk_hi are the two public keys in memcmp order, so both sides
 * compute the same info without knowing who is "initiator". Binding the
 * public keys follows RFC 7748 §6.1's advice to hash the transcript rather
 * than use the raw output as a key.
 */
int tf_kx_finish(const struct tf_suite *s, uint8_t out[TF_KX_BYTES],
		 const uint8_t *raw, size_t rawlen, const uint8_t *own_pk,
		 const uint8_t *peer_pk)
{
	static const char label[] = "twofold kx v1";
	uint8_t info[sizeof(label) - 1 + 2 * TF_PK_MAX];
	size_t n = s->pk_bytes, off = sizeof(label) - 1;
	const uint8_t *lo = own_pk, *hi = peer_pk;

	if (memcmp(own_pk, peer_pk, n) > 0) {
		lo = peer_pk;
		hi = own_pk;
	}
	memcpy(info, label, off);
	memcpy(info + off, lo, n);
	memcpy(info + off + n, hi, n);
	return s->hkdf(out, TF_KX_BYTES, raw, rawlen, NULL, 0, info,
		       off + 2 * n);
}

/* ---- audit log helpers (src/lib/audit): a keyed MAC and a signing key
 * derived from a seed ---- */

int tf_mac(const struct tf_suite *s, uint8_t out[TF_HASH_BYTES],
	   const uint8_t key[TF_KEY_BYTES], const uint8_t *m, size_t mlen)
{
	if (!suite_known(s) || out == NULL || key == NULL ||
	    (m == NULL && mlen))
		return -EINVAL;
	if (s->id == TF_SUITE_INTL)
		return tf_intl_mac(out, key, m, mlen);
	return tf_hmac_sm3.mac(out, key, TF_KEY_BYTES,
			       (const struct tf_iov[]){{m, mlen}}, 1);
}

int tf_key_sign_from_seed(const struct tf_suite *s,
			  const uint8_t seed[TF_KEY_BYTES], struct tf_key **out)
{
	_cleanup_key_ struct tf_key *k = NULL;
	size_t len = TF_SK_MAX;
	int r;

	if (seed == NULL || out == NULL)
		return -EINVAL;
	r = key_new(s, TF_KEY_SIGN, &k);
	if (r < 0)
		return r;
	if (s->id == TF_SUITE_INTL)
		r = tf_intl_sign_seed_keypair(seed, k->secret, &len, k->pk);
	else
		r = tf_gm_sign_seed_keypair(seed, k->secret, &len, k->pk);
	if (r < 0)
		return r;
	k->secret_len = len;
	*out = steal_pointer(&k);
	return 0;
}
