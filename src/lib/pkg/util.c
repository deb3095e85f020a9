/* SPDX-License-Identifier: ISC */
/*
 * Shared pieces of the package and catalog formats: errors, signature
 * slots, trust lists, base64/hex, signing key files.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "twofold/secmem.h"

int tf_pkg_fail(struct tf_pkg_err *err, int r, const char *reason,
		const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->reason = reason;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

int tf_pkg_check_suite(uint8_t id, const struct tf_suite *suite,
		       const char *what, struct tf_pkg_err *err)
{
	const struct tf_suite_info *si = tf_suite_info_by_id(id);

	if (id == suite->id)
		return 0;
	if (si == NULL)
		return tf_pkg_fail(err, -EPROTONOSUPPORT, TF_R_PKG_WRONG_SUITE,
				   "%s names unknown suite id %u; this device "
				   "uses %s",
				   what, id, suite->name);
	return tf_pkg_fail(err, -EPROTONOSUPPORT, TF_R_PKG_WRONG_SUITE,
			   "%s is signed for the %s suite; this device uses %s",
			   what, si->name, suite->name);
}

int tf_pkg_keyid(const struct tf_suite *s, const uint8_t *pk, size_t pklen,
		 uint8_t id[static TF_PKG_KEYID_BYTES])
{
	uint8_t h[TF_HASH_BYTES];
	int r = tf_hash(s, h, pk, pklen);

	if (r < 0)
		return r;
	memcpy(id, h, TF_PKG_KEYID_BYTES);
	return 0;
}

void tf_pkg_keyid_hex(const uint8_t id[static TF_PKG_KEYID_BYTES],
		      char hex[static 17])
{
	tf_pkg_hex_encode(id, TF_PKG_KEYID_BYTES, hex);
}

#define SLOT_SIG_OFF 16
#define SLOT_PAD_OFF (SLOT_SIG_OFF + TF_SIG_MAX)
_Static_assert(SLOT_PAD_OFF + 8 == TF_PKG_SLOT_BYTES, "slot layout");

int tf_pkg_slots_sign(uint8_t *slots, struct tf_key *const *keys, size_t n,
		      const uint8_t *m, size_t mlen)
{
	memset(slots, 0, n * TF_PKG_SLOT_BYTES);
	for (size_t i = 0; i < n; i++) {
		uint8_t *sl = slots + i * TF_PKG_SLOT_BYTES;
		const struct tf_suite *s = tf_key_suite(keys[i]);
		uint8_t pk[TF_PK_MAX];
		size_t siglen = 0;
		int r;

		r = tf_key_public(keys[i], pk, sizeof(pk));
		if (r < 0)
			return r;
		r = tf_pkg_keyid(s, pk, s->pk_bytes, sl + 8);
		if (r < 0)
			return r;
		r = tf_sign(keys[i], m, mlen, sl + SLOT_SIG_OFF, TF_SIG_MAX,
			    &siglen);
		if (r < 0)
			return r;
		sl[0] = s->id;
		sl[1] = (uint8_t)siglen;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int tf_pkg_slots_verify(const uint8_t *slots, size_t n,
			const struct tf_pkg_trust *trust,
			const struct tf_suite *suite, const uint8_t *m,
			size_t mlen, const char *what, unsigned *signer,
			struct tf_pkg_err *err)
{
	char hex[17] = "";
	bool named_trusted = false;

	if (trust->suite != suite->id)
		return tf_pkg_fail(err, -EINVAL, TF_R_PKG_UNTRUSTED,
				   "the trusted keys are for another suite "
				   "than %s",
				   suite->name);
	/* every slot must be well-formed before any is believed */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *sl = slots + i * TF_PKG_SLOT_BYTES;
		if (sl[0] != suite->id)
			return tf_pkg_check_suite(sl[0], suite, what, err) < 0
				       ? -EPROTONOSUPPORT
				       : tf_pkg_fail(err, -EBADMSG,
						     TF_R_PKG_MALFORMED,
						     "%s: signature slot %zu "
						     "is malformed",
						     what, i);
		if (sl[1] < 8 || sl[1] > TF_SIG_MAX || !all_zero(sl + 2, 6) ||
		    !all_zero(sl + SLOT_SIG_OFF + sl[1], TF_SIG_MAX - sl[1]) ||
		    !all_zero(sl + SLOT_PAD_OFF, 8))
			return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_MALFORMED,
					   "%s: signature slot %zu is "
					   "malformed",
					   what, i);
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *sl = slots + i * TF_PKG_SLOT_BYTES;
		for (unsigned k = 0; k < trust->n; k++) {
			if (memcmp(sl + 8, trust->id[k], TF_PKG_KEYID_BYTES))
				continue;
			named_trusted = true;
			if (tf_verify(suite, trust->pk[k], m, mlen,
				      sl + SLOT_SIG_OFF, sl[1]) == 0) {
				if (signer)
					*signer = k;
				return 0;
			}
		}
	}
	if (named_trusted)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_BAD_SIGNATURE,
				   "%s: the signature by a trusted key does "
				   "not verify (modified after signing)",
				   what);
	if (n > 0)
		tf_pkg_keyid_hex(slots + 8, hex);
	return tf_pkg_fail(err, -EKEYREJECTED, TF_R_PKG_UNTRUSTED,
			   "%s is signed by key %s, which this persona does "
			   "not trust (app_trust)",
			   what, hex);
}

int tf_pkg_trust_parse(const struct tf_suite *s, const char *list,
		       struct tf_pkg_trust *out, struct tf_pkg_err *err)
{
	struct tf_pkg_trust t = {.suite = s->id, .pk_len = s->pk_bytes};
	const char *p = list;

	while (*p) {
		size_t k = strcspn(p, ", ");
		size_t got = 0;
		int r;

		if (k == 0) {
			p++;
			continue;
		}
		if (t.n == TF_PKG_TRUST_MAX)
			return tf_pkg_fail(err, -E2BIG, TF_R_PKG_TOO_LARGE,
					   "more than %d trusted keys",
					   TF_PKG_TRUST_MAX);
		r = tf_pkg_b64_decode(p, k, t.pk[t.n], TF_PK_MAX, &got);
		if (r < 0 || got != s->pk_bytes)
			return tf_pkg_fail(
				err, -EINVAL, TF_R_PKG_KEY,
				"trusted key %u is not the base64 of "
				"a %zu-byte %s public key",
				t.n + 1, s->pk_bytes, s->name);
		r = tf_pkg_keyid(s, t.pk[t.n], got, t.id[t.n]);
		if (r < 0)
			return r;
		t.n++;
		p += k;
	}
	if (t.n == 0)
		return tf_pkg_fail(err, -ENOKEY, TF_R_PKG_UNTRUSTED,
				   "no trusted key given");
	*out = t;
	return 0;
}

int tf_pkg_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int tf_pkg_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

bool tf_pkg_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > TF_PKG_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '-'))
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* lower case only: one spelling per hash */
}

int tf_pkg_hex_decode(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void tf_pkg_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int tf_pkg_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (cap < (len + 2) / 3 * 4 + 1)
		return -ENOBUFS;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int tf_pkg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap,
		      size_t *outlen)
{
	size_t o = 0;

	if (inlen % 4)
		return -EINVAL;
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == inlen && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad) /* "=x" */
				return -EINVAL;
			v[j] = b64val(in[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* non-canonical: bits under the padding must be zero */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -EINVAL;
		if (o + 3 - (size_t)pad > cap)
			return -ENOBUFS;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	*outlen = o;
	return 0;
}

/* ---- signing key files ---- */
#define KEYFILE_MAGIC "TFPKGSK1"

int tf_pkg_key_generate(const struct tf_suite *s, const char *path,
			struct tf_key **out)
{
	_cleanup_key_ struct tf_key *k = NULL;
	_cleanup_close_ int fd = -1;
	uint8_t *buf = tf_secure_alloc(TF_PKG_KEYFILE_BYTES);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, KEYFILE_MAGIC, 8);
	buf[8] = s->id;
	buf[9] = buf[10] = buf[11] = 0;
	r = tf_random(buf + 12, TF_KEY_BYTES);
	if (r == 0)
		r = tf_key_sign_from_seed(s, buf + 12, &k);
	if (r < 0)
		goto out;
	/* O_EXCL: never overwrite an organisation's signing key. The file
	 * is complete before it is visible under its name (link at the
	 * end), so a crash leaves no half key file. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = tf_pkg_write_all(fd, buf, TF_PKG_KEYFILE_BYTES);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(path);
		goto out;
	}
	if (out)
		*out = steal_pointer(&k);
out:
	tf_secure_free(buf);
	return r;
}

int tf_pkg_key_load(const char *path, struct tf_key **out,
		    struct tf_pkg_err *err)
{
	_cleanup_close_ int fd = -1;
	const struct tf_suite *s;
	struct stat st;
	uint8_t *buf;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return tf_pkg_fail(err, -errno, TF_R_PKG_KEY,
				   "cannot open signing key %s: %s", path,
				   strerror(errno));
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != TF_PKG_KEYFILE_BYTES)
		return tf_pkg_fail(err, -EINVAL, TF_R_PKG_KEY,
				   "%s is not a twofold signing key (twofold "
				   "pkg keygen makes one)",
				   path);
	if (st.st_mode & 077)
		return tf_pkg_fail(err, -EPERM, TF_R_PKG_KEY,
				   "signing key %s is readable by others; "
				   "chmod 600 it",
				   path);
	buf = tf_secure_alloc(TF_PKG_KEYFILE_BYTES);
	if (buf == NULL)
		return -ENOMEM;
	r = tf_pkg_pread_all(fd, buf, TF_PKG_KEYFILE_BYTES, 0);
	if (r == 0 && (memcmp(buf, KEYFILE_MAGIC, 8) != 0 || buf[9] ||
		       buf[10] || buf[11]))
		r = tf_pkg_fail(err, -EINVAL, TF_R_PKG_KEY,
				"%s is not a twofold signing key", path);
	else if (r == 0 && (s = tf_suite_by_id(buf[8])) == NULL)
		r = tf_pkg_fail(err, -EPROTONOSUPPORT, TF_R_PKG_KEY,
				"signing key %s names unknown suite id %u",
				path, buf[8]);
	else if (r == 0)
		r = tf_key_sign_from_seed(s, buf + 12, out);
	tf_secure_free(buf);
	return r;
}
