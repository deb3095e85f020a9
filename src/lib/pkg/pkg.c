/* SPDX-License-Identifier: ISC */
/*
 * The package container: header, signature slots, streaming verify and
 * build (docs/packages.md "Layout").
 *
 * Header (64 bytes, little-endian):
 *    0 magic "TFAPKG1\0"     8 u16 format (1)     10 u8 suite id
 *   11 u8 slots (1..4)      12 u32 header length (64)
 *   16 u32 manifest length (1..16384)  20 u32 slot length (96)
 *   24 u64 payload offset   32 u64 payload length   40 u32 flags (0)
 *   44 20 reserved bytes (0)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CHUNK (1u << 20) /* payload read/hash granule */
#define EROFS_SB_OFF 1024
#define EROFS_MAGIC 0xE0F5E1E2u

struct tf_pkg {
	struct tf_pkg_header h;
	struct tf_pkg_manifest m;
	uint8_t payload_hash[TF_HASH_BYTES];
	uint8_t digest[TF_HASH_BYTES];
	unsigned signer;
};

static uint64_t align_up(uint64_t v)
{
	return (v + TF_PKG_ALIGN - 1) & ~(uint64_t)(TF_PKG_ALIGN - 1);
}

static uint64_t prefix_len(uint32_t manifest_len, unsigned n_slots)
{
	return align_up(TF_PKG_HDR_BYTES + (uint64_t)manifest_len +
			(uint64_t)n_slots * TF_PKG_SLOT_BYTES);
}

#define MALFORMED(...)                                                         \
	tf_pkg_fail(err, -EBADMSG, TF_R_PKG_MALFORMED, __VA_ARGS__)

int tf_pkg_header_parse(const uint8_t *b, size_t len, struct tf_pkg_header *out,
			struct tf_pkg_err *err)
{
	struct tf_pkg_header h;
	uint32_t hl, sl, flags;

	if (b == NULL || len < TF_PKG_HDR_BYTES)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_TRUNCATED,
				   "package is shorter than its %d-byte "
				   "header",
				   TF_PKG_HDR_BYTES);
	if (memcmp(b, TF_PKG_MAGIC, 8) != 0)
		return MALFORMED("not a twofold package (no TFAPKG1 magic)");
	h.format = tf_get_le16(b + 8);
	h.suite = b[10];
	h.n_slots = b[11];
	hl = tf_get_le32(b + 12);
	h.manifest_len = tf_get_le32(b + 16);
	sl = tf_get_le32(b + 20);
	h.payload_offset = tf_get_le64(b + 24);
	h.payload_len = tf_get_le64(b + 32);
	flags = tf_get_le32(b + 40);
	if (h.format != TF_PKG_FORMAT)
		return tf_pkg_fail(err, -EPROTONOSUPPORT, TF_R_PKG_MALFORMED,
				   "package format %u is not supported "
				   "(this twofold reads %d)",
				   h.format, TF_PKG_FORMAT);
	if (hl != TF_PKG_HDR_BYTES || sl != TF_PKG_SLOT_BYTES)
		return MALFORMED("package header length %u or slot length %u "
				 "is not %d/%d",
				 hl, sl, TF_PKG_HDR_BYTES, TF_PKG_SLOT_BYTES);
	if (flags != 0)
		return MALFORMED("package header has unknown flags 0x%x",
				 flags);
	for (size_t i = 44; i < TF_PKG_HDR_BYTES; i++)
		if (b[i])
			return MALFORMED("package header byte %zu is reserved "
					 "and not zero",
					 i);
	if (h.n_slots == 0 || h.n_slots > TF_PKG_SLOTS_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "package has %u signature slots (1..%d)",
				   h.n_slots, TF_PKG_SLOTS_MAX);
	if (h.manifest_len == 0 || h.manifest_len > TF_PKG_MANIFEST_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "package manifest length %u (1..%d)",
				   h.manifest_len, TF_PKG_MANIFEST_MAX);
	if (h.payload_len == 0 || h.payload_len > TF_PKG_PAYLOAD_MAX ||
	    h.payload_len % TF_PKG_ALIGN)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "package payload length %" PRIu64
				   " (a multiple of %d, at most 4 GiB)",
				   h.payload_len, TF_PKG_ALIGN);
	if (h.payload_offset != prefix_len(h.manifest_len, h.n_slots))
		return MALFORMED("package payload offset %" PRIu64
				 " is not %" PRIu64,
				 h.payload_offset,
				 prefix_len(h.manifest_len, h.n_slots));
	*out = h;
	return 0;
}

static void header_encode(uint8_t *b, const struct tf_pkg_header *h)
{
	memset(b, 0, TF_PKG_HDR_BYTES);
	memcpy(b, TF_PKG_MAGIC, 8);
	tf_put_le16(b + 8, h->format);
	b[10] = h->suite;
	b[11] = h->n_slots;
	tf_put_le32(b + 12, TF_PKG_HDR_BYTES);
	tf_put_le32(b + 16, h->manifest_len);
	tf_put_le32(b + 20, TF_PKG_SLOT_BYTES);
	tf_put_le64(b + 24, h->payload_offset);
	tf_put_le64(b + 32, h->payload_len);
}

/* Hash len bytes of fd from off, in CHUNK pieces (pread: never mapped). */
static int hash_range(const struct tf_suite *s, int fd, uint64_t off,
		      uint64_t len, uint8_t out[static TF_HASH_BYTES])
{
	_cleanup_hash_ struct tf_hash_ctx *h = NULL;
	_cleanup_free_ uint8_t *buf = malloc(CHUNK);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	r = tf_hash_begin(s, &h);
	if (r < 0)
		return r;
	while (len) {
		size_t n = (size_t)TF_MIN(len, (uint64_t)CHUNK);
		r = tf_pkg_pread_all(fd, buf, n, off);
		if (r < 0)
			return r;
		r = tf_hash_update(h, buf, n);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	r = tf_hash_end(steal_pointer(&h), out);
	return r;
}

/* The image and its zero padding to a whole block, hashed (and copied to
 * copy_fd when >= 0). */
static int hash_image(const struct tf_suite *s, int fd, uint64_t img,
		      uint8_t out[static TF_HASH_BYTES], int copy_fd)
{
	static const uint8_t zero[TF_PKG_ALIGN];
	_cleanup_hash_ struct tf_hash_ctx *h = NULL;
	_cleanup_free_ uint8_t *buf = malloc(CHUNK);
	size_t pad = (size_t)(align_up(img) - img);
	uint64_t off = 0;
	int r;

	if (buf == NULL)
		return -ENOMEM;
	r = tf_hash_begin(s, &h);
	while (r == 0 && off < img) {
		size_t n = (size_t)TF_MIN(img - off, (uint64_t)CHUNK);
		r = tf_pkg_pread_all(fd, buf, n, off);
		if (r == 0)
			r = tf_hash_update(h, buf, n);
		if (r == 0 && copy_fd >= 0)
			r = tf_pkg_write_all(copy_fd, buf, n);
		off += n;
	}
	if (r == 0)
		r = tf_hash_update(h, zero, pad);
	if (r == 0 && copy_fd >= 0)
		r = tf_pkg_write_all(copy_fd, zero, pad);
	if (r == 0)
		r = tf_hash_end(steal_pointer(&h), out);
	return r;
}

int tf_pkg_open(int fd, const struct tf_pkg_trust *trust,
		const struct tf_suite *suite, struct tf_pkg **out,
		struct tf_pkg_err *err)
{
	_cleanup_free_ struct tf_pkg *p = NULL;
	_cleanup_free_ uint8_t *pre = NULL;
	uint8_t hdr[TF_PKG_HDR_BYTES], sb[4];
	uint64_t slots_end;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return MALFORMED("package is not a regular file");
	r = tf_pkg_pread_all(fd, hdr, sizeof(hdr), 0);
	if (r == -ENODATA)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_TRUNCATED,
				   "package is shorter than its %d-byte "
				   "header",
				   TF_PKG_HDR_BYTES);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	r = tf_pkg_header_parse(hdr, sizeof(hdr), &p->h, err);
	if (r < 0)
		return r;
	/* the suite first: "signed for gm" beats "bad signature" */
	r = tf_pkg_check_suite(p->h.suite, suite, "package", err);
	if (r < 0)
		return r;
	if ((uint64_t)st.st_size != p->h.payload_offset + p->h.payload_len)
		return tf_pkg_fail(
			err, -EBADMSG,
			(uint64_t)st.st_size <
					p->h.payload_offset + p->h.payload_len
				? TF_R_PKG_TRUNCATED
				: TF_R_PKG_MALFORMED,
			"package is %jd bytes; its header says %" PRIu64,
			(intmax_t)st.st_size,
			p->h.payload_offset + p->h.payload_len);
	/* bounded by the header checks: at most 20 KiB */
	pre = malloc(p->h.payload_offset);
	if (pre == NULL)
		return -ENOMEM;
	r = tf_pkg_pread_all(fd, pre, p->h.payload_offset, 0);
	if (r == -ENODATA)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_TRUNCATED,
				   "package is truncated");
	if (r < 0)
		return r;
	if (memcmp(pre, hdr, sizeof(hdr)) != 0)
		return MALFORMED("package changed while it was read");
	slots_end = TF_PKG_HDR_BYTES + p->h.manifest_len +
		    (uint64_t)p->h.n_slots * TF_PKG_SLOT_BYTES;
	for (uint64_t i = slots_end; i < p->h.payload_offset; i++)
		if (pre[i])
			return MALFORMED("package padding byte %" PRIu64
					 " is not zero",
					 i);
	r = tf_pkg_slots_verify(pre + TF_PKG_HDR_BYTES + p->h.manifest_len,
				p->h.n_slots, trust, suite, pre,
				TF_PKG_HDR_BYTES + p->h.manifest_len, "package",
				&p->signer, err);
	if (r < 0)
		return r;
	/* only signed bytes reach the manifest parser */
	r = tf_pkg_manifest_parse((const char *)pre + TF_PKG_HDR_BYTES,
				  p->h.manifest_len, 0, &p->m, err);
	if (r < 0)
		return r;
	r = tf_hash(suite, p->digest, pre,
		    TF_PKG_HDR_BYTES + p->h.manifest_len);
	if (r < 0)
		return r;
	r = hash_range(suite, fd, p->h.payload_offset, p->h.payload_len,
		       p->payload_hash);
	if (r == -ENODATA)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_TRUNCATED,
				   "package payload is truncated");
	if (r < 0)
		return r;
	if (memcmp(p->payload_hash, p->m.payload_hash, TF_HASH_BYTES) != 0)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_PAYLOAD_MISMATCH,
				   "package %s: the payload does not match "
				   "the signed hash (modified or damaged)",
				   p->m.name);
	/* signed, but still: what the daemon will mount must be erofs */
	r = tf_pkg_pread_all(fd, sb, sizeof(sb),
			     p->h.payload_offset + EROFS_SB_OFF);
	if (r < 0 || tf_get_le32(sb) != EROFS_MAGIC)
		return MALFORMED("package %s: the payload is not an erofs "
				 "image",
				 p->m.name);
	*out = steal_pointer(&p);
	return 0;
}

void tf_pkg_free(struct tf_pkg *p)
{
	free(p);
}

const struct tf_pkg_manifest *tf_pkg_manifest(const struct tf_pkg *p)
{
	return &p->m;
}

const struct tf_pkg_header *tf_pkg_header(const struct tf_pkg *p)
{
	return &p->h;
}

uint64_t tf_pkg_payload_offset(const struct tf_pkg *p)
{
	return p->h.payload_offset;
}

uint64_t tf_pkg_payload_length(const struct tf_pkg *p)
{
	return p->h.payload_len;
}

const uint8_t *tf_pkg_payload_hash(const struct tf_pkg *p)
{
	return p->payload_hash;
}

unsigned tf_pkg_signer(const struct tf_pkg *p)
{
	return p->signer;
}

const uint8_t *tf_pkg_digest(const struct tf_pkg *p)
{
	return p->digest;
}

int tf_pkg_check_keys(struct tf_key *const *keys, size_t n,
		      struct tf_pkg_err *err);
int tf_pkg_check_keys(struct tf_key *const *keys, size_t n,
		      struct tf_pkg_err *err)
{
	if (n == 0 || n > TF_PKG_SLOTS_MAX)
		return tf_pkg_fail(err, -EINVAL, TF_R_PKG_KEY,
				   "sign with 1 to %d keys", TF_PKG_SLOTS_MAX);
	for (size_t i = 1; i < n; i++)
		if (tf_key_suite(keys[i]) != tf_key_suite(keys[0]))
			return tf_pkg_fail(err, -EINVAL, TF_R_PKG_KEY,
					   "signing keys of different suites");
	return 0;
}

int tf_pkg_build(int out_fd, struct tf_pkg_manifest *m, int image_fd,
		 struct tf_key *const *keys, size_t n_keys,
		 struct tf_pkg_err *err)
{
	const struct tf_suite *s;
	_cleanup_free_ uint8_t *pre = NULL;
	struct tf_pkg_header h = {.format = TF_PKG_FORMAT};
	struct tf_pkg_manifest check;
	uint8_t again[TF_HASH_BYTES];
	struct stat st;
	size_t mlen;
	uint64_t img;
	int r;

	r = tf_pkg_check_keys(keys, n_keys, err);
	if (r < 0)
		return r;
	s = tf_key_suite(keys[0]);
	if (fstat(image_fd, &st) < 0)
		return -errno;
	img = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode) || img <= EROFS_SB_OFF + 4 ||
	    align_up(img) > TF_PKG_PAYLOAD_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "the image is %" PRIu64
				   " bytes (an erofs image, at most 4 GiB)",
				   img);
	/* the hash covers the zero padding to a whole block too */
	r = hash_image(s, image_fd, img, m->payload_hash, -1);
	if (r < 0)
		return r;
	m->has_payload_hash = true;
	pre = calloc(1, prefix_len(TF_PKG_MANIFEST_MAX, TF_PKG_SLOTS_MAX));
	if (pre == NULL)
		return -ENOMEM;
	r = tf_pkg_manifest_format(m, (char *)pre + TF_PKG_HDR_BYTES,
				   TF_PKG_MANIFEST_MAX, &mlen);
	if (r < 0)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "the manifest is over %d bytes",
				   TF_PKG_MANIFEST_MAX);
	/* what we sign must be what a device accepts */
	r = tf_pkg_manifest_parse((char *)pre + TF_PKG_HDR_BYTES, mlen, 0,
				  &check, err);
	if (r < 0)
		return r;
	h.suite = s->id;
	h.n_slots = (uint8_t)n_keys;
	h.manifest_len = (uint32_t)mlen;
	h.payload_offset = prefix_len(h.manifest_len, h.n_slots);
	h.payload_len = align_up(img);
	header_encode(pre, &h);
	r = tf_pkg_slots_sign(pre + TF_PKG_HDR_BYTES + mlen, keys, n_keys, pre,
			      TF_PKG_HDR_BYTES + mlen);
	if (r < 0)
		return r;
	r = tf_pkg_write_all(out_fd, pre, h.payload_offset);
	if (r < 0)
		return r;
	/* copy while hashing again: an image that changed between the two
	 * reads would give a package no device accepts */
	r = hash_image(s, image_fd, img, again, out_fd);
	if (r < 0)
		return r;
	if (memcmp(again, m->payload_hash, TF_HASH_BYTES) != 0)
		return tf_pkg_fail(err, -EAGAIN, TF_R_PKG_PAYLOAD_MISMATCH,
				   "the image changed while it was packed");
	return 0;
}
