/* SPDX-License-Identifier: ISC */
/*
 * Catalogs: an organisation's signed allowlist (docs/packages.md
 * "Catalog"). Header (32 bytes, little-endian):
 *    0 magic "TFACAT1\0"   8 u16 format (1)   10 u8 suite   11 u8 slots
 *   12 u32 header length (32)   16 u32 body length (1..256 KiB)
 *   20 u32 slot length (96)     24 8 reserved bytes (0)
 * then the body text, then the slots; the signatures cover header || body.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define BAD(...) tf_pkg_fail(err, -EBADMSG, TF_R_CATALOG_MALFORMED, __VA_ARGS__)

int tf_catalog_parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0}, back;
	unsigned y, mo, d, h = 0, mi = 0, se = 0;
	char tail;
	time_t t;
	size_t n = strlen(s);

	if (n == 10 && sscanf(s, "%4u-%2u-%2u%c", &y, &mo, &d, &tail) == 3) {
		/* date only: its midnight UTC */
	} else if (n != 20 ||
		   sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi,
			  &se, &tail) != 7 ||
		   tail != 'Z') {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || strchr("-T:Z", s[i])))
			return -EINVAL;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)mo - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)se;
	t = timegm(&tm);
	/* 2027-02-30 normalises to March: refuse it */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_mday != (int)d || back.tm_mon != (int)mo - 1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

void tf_catalog_format_time(int64_t t, char buf[static 21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		snprintf(buf, 21, "invalid");
}

void tf_catalog_free(struct tf_catalog *c)
{
	if (c == NULL)
		return;
	free(c->entries);
	free(c);
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_personas(const char *v, size_t len, uint32_t *out)
{
	uint32_t set = 0;
	size_t i = 0;

	while (i < len) {
		char w[16];
		size_t k = 0;
		uint32_t b;
		while (i + k < len && v[i + k] != ',')
			k++;
		if (k == 0 || k >= sizeof(w))
			return -EINVAL;
		memcpy(w, v + i, k);
		w[k] = '\0';
		b = tf_pkg_persona_by_name(w);
		if (b == 0 || (set & b))
			return -EINVAL;
		set |= b;
		i += k;
		if (i < len && ++i == len)
			return -EINVAL;
	}
	if (set == 0)
		return -EINVAL;
	*out = set;
	return 0;
}

/* Split one line into up to n space-separated fields (single spaces). */
static size_t fields(const char *l, size_t ll, const char **f, size_t *fl,
		     size_t n)
{
	size_t c = 0, i = 0;

	while (i <= ll && c < n) {
		size_t k = 0;
		while (i + k < ll && l[i + k] != ' ')
			k++;
		f[c] = l + i;
		fl[c++] = k;
		i += k + 1;
	}
	return i <= ll ? n + 1 : c; /* n + 1: too many */
}

int tf_catalog_parse_body(const char *text, size_t len, struct tf_catalog **out,
			  struct tf_pkg_err *err)
{
	_cleanup_(tf_catalog_freep) struct tf_catalog *c = NULL;
	size_t pos = 0, lineno = 0;

	if (text == NULL && len)
		return -EINVAL;
	if (len > TF_CAT_BODY_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "catalog body is %zu bytes (at most %u)",
				   len, TF_CAT_BODY_MAX);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	while (pos < len) {
		const char *l = text + pos, *f[6];
		size_t ll = 0, fl[6], nf;
		char tbuf[24];

		lineno++;
		while (pos + ll < len && l[ll] != '\n')
			ll++;
		if (pos + ll == len)
			return BAD("catalog line %zu: no newline at the end",
				   lineno);
		pos += ll + 1;
		for (size_t i = 0; i < ll; i++)
			if ((unsigned char)l[i] < 0x20 ||
			    (unsigned char)l[i] >= 0x7f)
				return BAD("catalog line %zu: control or "
					   "non-ASCII character",
					   lineno);
		nf = fields(l, ll, f, fl, 6);
		if (lineno == 1) {
			if (nf != 3 || fl[0] != 3 || memcmp(f[0], "seq", 3) ||
			    fl[1] != 1 || f[1][0] != '=' ||
			    parse_u64(f[2], fl[2], &c->seq) < 0)
				return BAD("catalog line 1 must be 'seq = N'");
			continue;
		}
		if (lineno == 2) {
			if (nf != 3 || fl[0] != 7 ||
			    memcmp(f[0], "expires", 7) || fl[1] != 1 ||
			    f[1][0] != '=' || fl[2] >= sizeof(tbuf))
				return BAD("catalog line 2 must be 'expires "
					   "= YYYY-MM-DDTHH:MM:SSZ'");
			memcpy(tbuf, f[2], fl[2]);
			tbuf[fl[2]] = '\0';
			if (fl[2] != 20 ||
			    tf_catalog_parse_time(tbuf, &c->expires) < 0)
				return BAD("catalog expires: not a UTC time "
					   "YYYY-MM-DDTHH:MM:SSZ");
			continue;
		}
		/* app = NAME MIN MAX HASH|* PERSONAS */
		if (c->n == TF_CAT_ENTRIES_MAX)
			return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
					   "catalog has more than %d entries",
					   TF_CAT_ENTRIES_MAX);
		if (c->n % 64 == 0) {
			void *p = realloc(c->entries,
					  (c->n + 64) * sizeof(*c->entries));
			if (p == NULL)
				return -ENOMEM;
			c->entries = p;
		}
		struct tf_catalog_entry *e = &c->entries[c->n];
		memset(e, 0, sizeof(*e));
		{
			const char *r = l + 6, *g[5];
			size_t gl[5];
			if (ll < 6 || memcmp(l, "app = ", 6) != 0 ||
			    fields(r, ll - 6, g, gl, 5) != 5)
				return BAD("catalog line %zu: expected 'app = "
					   "NAME MIN MAX HASH|* PERSONAS'",
					   lineno);
			if (!tf_pkg_name_ok(g[0], gl[0]))
				return BAD("catalog line %zu: bad package "
					   "name",
					   lineno);
			memcpy(e->name, g[0], gl[0]);
			if (parse_u64(g[1], gl[1], &e->min_code) < 0 ||
			    parse_u64(g[2], gl[2], &e->max_code) < 0 ||
			    e->min_code == 0 || e->min_code > e->max_code)
				return BAD("catalog line %zu: version range "
					   "must be 1 <= MIN <= MAX",
					   lineno);
			if (gl[3] == 1 && g[3][0] == '*')
				e->any_hash = true;
			else if (tf_pkg_hex_decode(g[3], gl[3], e->hash,
						   TF_HASH_BYTES) < 0)
				return BAD("catalog line %zu: hash must be %d "
					   "lower-case hex digits or *",
					   lineno, 2 * TF_HASH_BYTES);
			if (parse_personas(g[4], gl[4], &e->personas) < 0)
				return BAD("catalog line %zu: personas must "
					   "be personal, secure or both",
					   lineno);
		}
		c->n++;
	}
	if (lineno < 2)
		return BAD("catalog has no seq and expires lines");
	*out = steal_pointer(&c);
	return 0;
}

static int header_parse(const uint8_t *b, size_t len, uint8_t *suite,
			uint8_t *n_slots, uint32_t *body_len,
			struct tf_pkg_err *err)
{
	if (len < TF_CAT_HDR_BYTES)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_TRUNCATED,
				   "catalog is shorter than its header");
	if (memcmp(b, TF_CAT_MAGIC, 8) != 0)
		return BAD("not a twofold catalog (no TFACAT1 magic)");
	if (tf_get_le16(b + 8) != TF_CAT_FORMAT)
		return tf_pkg_fail(err, -EPROTONOSUPPORT,
				   TF_R_CATALOG_MALFORMED,
				   "catalog format %u is not supported",
				   tf_get_le16(b + 8));
	*suite = b[10];
	*n_slots = b[11];
	*body_len = tf_get_le32(b + 16);
	if (tf_get_le32(b + 12) != TF_CAT_HDR_BYTES ||
	    tf_get_le32(b + 20) != TF_PKG_SLOT_BYTES)
		return BAD("catalog header or slot length is wrong");
	for (size_t i = 24; i < TF_CAT_HDR_BYTES; i++)
		if (b[i])
			return BAD("catalog header byte %zu is reserved and "
				   "not zero",
				   i);
	if (*n_slots == 0 || *n_slots > TF_PKG_SLOTS_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "catalog has %u signature slots (1..%d)",
				   *n_slots, TF_PKG_SLOTS_MAX);
	if (*body_len == 0 || *body_len > TF_CAT_BODY_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "catalog body length %u (1..%u)", *body_len,
				   TF_CAT_BODY_MAX);
	if (len != TF_CAT_HDR_BYTES + (size_t)*body_len +
			   (size_t)*n_slots * TF_PKG_SLOT_BYTES)
		return tf_pkg_fail(
			err, -EBADMSG,
			len < TF_CAT_HDR_BYTES + (size_t)*body_len +
						(size_t)*n_slots *
							TF_PKG_SLOT_BYTES
				? TF_R_PKG_TRUNCATED
				: TF_R_CATALOG_MALFORMED,
			"catalog is %zu bytes; its header says %zu", len,
			TF_CAT_HDR_BYTES + (size_t)*body_len +
				(size_t)*n_slots * TF_PKG_SLOT_BYTES);
	return 0;
}

int tf_catalog_verify(const uint8_t *buf, size_t len,
		      const struct tf_pkg_trust *trust,
		      const struct tf_suite *suite, struct tf_catalog **out,
		      struct tf_pkg_err *err)
{
	_cleanup_(tf_catalog_freep) struct tf_catalog *c = NULL;
	uint8_t s_id = 0, n_slots = 0;
	uint32_t body_len = 0;
	int r;

	if (buf == NULL)
		return -EINVAL;
	r = header_parse(buf, len, &s_id, &n_slots, &body_len, err);
	if (r < 0)
		return r;
	r = tf_pkg_check_suite(s_id, suite, "catalog", err);
	if (r < 0)
		return r;
	r = tf_pkg_slots_verify(buf + TF_CAT_HDR_BYTES + body_len, n_slots,
				trust, suite, buf, TF_CAT_HDR_BYTES + body_len,
				"catalog", NULL, err);
	if (r < 0)
		return r;
	r = tf_catalog_parse_body((const char *)buf + TF_CAT_HDR_BYTES,
				  body_len, &c, err);
	if (r < 0)
		return r;
	c->suite = s_id;
	r = tf_hash(suite, c->digest, buf, TF_CAT_HDR_BYTES + body_len);
	if (r < 0)
		return r;
	*out = steal_pointer(&c);
	return 0;
}

int tf_catalog_load(int fd, const struct tf_pkg_trust *trust,
		    const struct tf_suite *suite, struct tf_catalog **out,
		    struct tf_pkg_err *err)
{
	const size_t max = TF_CAT_HDR_BYTES + TF_CAT_BODY_MAX +
			   TF_PKG_SLOTS_MAX * TF_PKG_SLOT_BYTES;
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return BAD("catalog is not a regular file");
	if ((uint64_t)st.st_size > max)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "catalog is %jd bytes (at most %zu)",
				   (intmax_t)st.st_size, max);
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return -ENOMEM;
	r = tf_pkg_pread_all(fd, buf, (size_t)st.st_size, 0);
	if (r == -ENODATA)
		return tf_pkg_fail(err, -EBADMSG, TF_R_PKG_TRUNCATED,
				   "catalog shrank while it was read");
	if (r < 0)
		return r;
	return tf_catalog_verify(buf, (size_t)st.st_size, trust, suite, out,
				 err);
}

int tf_pkg_check_keys(struct tf_key *const *keys, size_t n,
		      struct tf_pkg_err *err);

int tf_catalog_build(int out_fd, const char *body, size_t len,
		     struct tf_key *const *keys, size_t n_keys,
		     struct tf_pkg_err *err)
{
	_cleanup_(tf_catalog_freep) struct tf_catalog *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t total;
	int r;

	r = tf_pkg_check_keys(keys, n_keys, err);
	if (r < 0)
		return r;
	r = tf_catalog_parse_body(body, len, &c, err);
	if (r < 0)
		return r;
	total = TF_CAT_HDR_BYTES + len + n_keys * TF_PKG_SLOT_BYTES;
	buf = calloc(1, total);
	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, TF_CAT_MAGIC, 8);
	tf_put_le16(buf + 8, TF_CAT_FORMAT);
	buf[10] = tf_key_suite(keys[0])->id;
	buf[11] = (uint8_t)n_keys;
	tf_put_le32(buf + 12, TF_CAT_HDR_BYTES);
	tf_put_le32(buf + 16, (uint32_t)len);
	tf_put_le32(buf + 20, TF_PKG_SLOT_BYTES);
	memcpy(buf + TF_CAT_HDR_BYTES, body, len);
	r = tf_pkg_slots_sign(buf + TF_CAT_HDR_BYTES + len, keys, n_keys, buf,
			      TF_CAT_HDR_BYTES + len);
	if (r < 0)
		return r;
	return tf_pkg_write_all(out_fd, buf, total);
}

int tf_catalog_check(uint64_t old_seq, const uint8_t *old_digest,
		     const struct tf_catalog *cand, int64_t now,
		     struct tf_pkg_err *err)
{
	char t[21];

	if (old_digest && cand->seq < old_seq)
		return tf_pkg_fail(err, -ESTALE, TF_R_CATALOG_ROLLBACK,
				   "catalog sequence %" PRIu64
				   " is below the accepted %" PRIu64
				   " (rollback refused)",
				   cand->seq, old_seq);
	if (old_digest && cand->seq == old_seq &&
	    memcmp(old_digest, cand->digest, TF_HASH_BYTES) != 0)
		return tf_pkg_fail(err, -ESTALE, TF_R_CATALOG_ROLLBACK,
				   "catalog sequence %" PRIu64
				   " is the accepted one's but its contents "
				   "differ (a new catalog needs a higher seq)",
				   cand->seq);
	if (now >= cand->expires) {
		tf_catalog_format_time(cand->expires, t);
		return tf_pkg_fail(err, -EKEYEXPIRED, TF_R_CATALOG_EXPIRED,
				   "catalog %" PRIu64
				   " expired at %s; ask for a current one",
				   cand->seq, t);
	}
	return 0;
}

int tf_catalog_allows(const struct tf_catalog *c,
		      const struct tf_pkg_manifest *m,
		      const uint8_t *payload_hash, uint32_t persona,
		      int64_t now, struct tf_pkg_err *err)
{
	const char *why = "is not in the catalog";
	const uint8_t *h = payload_hash ? payload_hash : m->payload_hash;
	char t[21];

	if (now >= c->expires) {
		tf_catalog_format_time(c->expires, t);
		return tf_pkg_fail(err, -EKEYEXPIRED, TF_R_CATALOG_EXPIRED,
				   "catalog %" PRIu64
				   " expired at %s; ask for a current one",
				   c->seq, t);
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct tf_catalog_entry *e = &c->entries[i];
		if (strcmp(e->name, m->name) != 0)
			continue;
		if (m->version_code < e->min_code ||
		    m->version_code > e->max_code) {
			why = "is listed, but not this version code";
			continue;
		}
		if (!e->any_hash && memcmp(e->hash, h, TF_HASH_BYTES) != 0) {
			why = "is listed, but not this build (payload hash)";
			continue;
		}
		if (!(e->personas & persona)) {
			why = "is listed, but not for this persona";
			continue;
		}
		return 0;
	}
	return tf_pkg_fail(err, -EPERM, TF_R_PKG_NOT_IN_CATALOG,
			   "%s %" PRIu64 " %s (catalog %" PRIu64 ")", m->name,
			   m->version_code, why, c->seq);
}
