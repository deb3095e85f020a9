/* SPDX-License-Identifier: ISC */
/*
 * The package manifest: bounded key = value lines. A package's manifest
 * must be byte-for-byte the canonical form (parse, format, compare), so a
 * manifest has exactly one encoding and what is signed is what is shown.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"

#define TF_PKG_PERM_ROW_(tag, bit, name, desc) {1u << (bit), #name},
static const struct {
	uint32_t bit;
	const char *name;
} perms[] = {TF_PKG_PERMS(TF_PKG_PERM_ROW_)};
#undef TF_PKG_PERM_ROW_

const char *tf_pkg_perm_name(uint32_t bit)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(perms); i++)
		if (perms[i].bit == bit)
			return perms[i].name;
	return NULL;
}

uint32_t tf_pkg_perm_by_name(const char *name)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(perms); i++)
		if (strcmp(perms[i].name, name) == 0)
			return perms[i].bit;
	return 0;
}

uint32_t tf_pkg_persona_by_name(const char *name)
{
	if (strcmp(name, "personal") == 0)
		return TF_PKG_PERSONA_PERSONAL;
	if (strcmp(name, "secure") == 0)
		return TF_PKG_PERSONA_SECURE;
	return 0;
}

#define BAD(...) tf_pkg_fail(err, -EBADMSG, TF_R_PKG_MANIFEST, __VA_ARGS__)

/* An absolute path inside the image: no "." / ".." / empty component,
 * no trailing '/', a conservative character set (no spaces, no
 * control characters, nothing a shell or a mount option would split). */
static bool path_ok(const char *s, size_t len)
{
	if (len < 2 || len > TF_PKG_PATH_MAX || s[0] != '/' ||
	    s[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._+@-/", c)))
			return false;
		if (c == '/') {
			size_t k = 1;
			while (i + k < len && s[i + k] != '/')
				k++;
			/* component s[i+1 .. i+k) */
			if (k == 1 || (k == 2 && s[i + 1] == '.') ||
			    (k == 3 && s[i + 1] == '.' && s[i + 2] == '.'))
				return false;
		}
	}
	return true;
}

static bool version_ok(const char *s, size_t len)
{
	if (len == 0 || len > TF_PKG_VERSION_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(".+~_-", c)))
			return false;
	}
	return true;
}

static bool entry_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > TF_PKG_ENTRY_NAME_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._-", c)))
			return false;
	}
	return true;
}

/* decimal u64, no sign, no leading zero, >= 1 */
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

/* "a,b,c" of names from a table: each known, none twice */
static int parse_set(const char *v, size_t len, bool perm_list, uint32_t *out,
		     struct tf_pkg_err *err)
{
	uint32_t set = 0;
	size_t i = 0;

	while (i < len) {
		char word[24];
		size_t k = 0;
		uint32_t b;

		while (i + k < len && v[i + k] != ',')
			k++;
		if (k == 0 || k >= sizeof(word))
			return BAD("%s: empty or overlong name in the list",
				   perm_list ? "permissions" : "personas");
		memcpy(word, v + i, k);
		word[k] = '\0';
		b = perm_list ? tf_pkg_perm_by_name(word)
			      : tf_pkg_persona_by_name(word);
		if (b == 0)
			return BAD(perm_list ? "unknown permission '%s'"
					     : "unknown persona '%s' "
					       "(personal, secure)",
				   word);
		if (set & b)
			return BAD("'%s' listed twice", word);
		set |= b;
		i += k;
		if (i < len && ++i == len) /* trailing comma */
			return BAD("trailing ',' in a list");
	}
	*out = set;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

enum { K_NAME, K_CODE, K_VERSION, K_PERSONAS, K_PERMS, K_HASH, K_N };

int tf_pkg_manifest_parse(const char *text, size_t len, unsigned flags,
			  struct tf_pkg_manifest *out, struct tf_pkg_err *err)
{
	static const char *const single[K_N] = {"name",	       "version_code",
						"version",     "personas",
						"permissions", "payload_hash"};
	struct tf_pkg_manifest m;
	bool seen[K_N] = {0};
	bool source = flags & TF_PKG_MF_SOURCE;
	size_t pos = 0, lineno = 0;
	int r;

	memset(&m, 0, sizeof(m));
	if (text == NULL && len)
		return -EINVAL;
	if (len > TF_PKG_MANIFEST_MAX)
		return tf_pkg_fail(err, -EFBIG, TF_R_PKG_TOO_LARGE,
				   "manifest is %zu bytes (at most %d)", len,
				   TF_PKG_MANIFEST_MAX);
	while (pos < len) {
		const char *l = text + pos, *eq, *k, *v;
		size_t ll = 0, kl, vl;

		lineno++;
		while (pos + ll < len && l[ll] != '\n')
			ll++;
		if (pos + ll == len && !source)
			return BAD("line %zu: no newline at the end", lineno);
		pos += ll + 1;
		for (size_t i = 0; i < ll; i++)
			if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
				return BAD("line %zu: control character",
					   lineno);
			else if ((unsigned char)l[i] >= 0x7f)
				return BAD("line %zu: not ASCII", lineno);
		k = l;
		while (source && ll && is_space(*k))
			k++, ll--;
		if (source && (ll == 0 || *k == '#'))
			continue;
		eq = memchr(k, '=', ll);
		if (eq == NULL)
			return BAD("line %zu: not KEY = VALUE", lineno);
		kl = (size_t)(eq - k);
		while (kl && is_space(k[kl - 1]))
			kl--;
		v = eq + 1;
		vl = ll - (size_t)(v - k);
		while (vl && is_space(*v))
			v++, vl--;
		while (vl && is_space(v[vl - 1]))
			vl--;

		int key = -1;
		for (int i = 0; i < K_N; i++)
			if (strlen(single[i]) == kl &&
			    memcmp(single[i], k, kl) == 0)
				key = i;
		if (key >= 0 && seen[key])
			return BAD("line %zu: %s given twice", lineno,
				   single[key]);
		if (key >= 0)
			seen[key] = true;
		switch (key) {
		case K_NAME:
			if (!tf_pkg_name_ok(v, vl))
				return BAD("name must match "
					   "[a-z][a-z0-9.-]{0,63}");
			memcpy(m.name, v, vl);
			break;
		case K_CODE:
			if (parse_u64(v, vl, &m.version_code) < 0 ||
			    m.version_code == 0)
				return BAD("version_code must be a decimal "
					   "number from 1 to 2^64-1");
			break;
		case K_VERSION:
			if (!version_ok(v, vl))
				return BAD("version must be 1..64 of "
					   "[A-Za-z0-9.+~_-]");
			memcpy(m.version, v, vl);
			break;
		case K_PERSONAS:
			r = parse_set(v, vl, false, &m.personas, err);
			if (r < 0)
				return r;
			if (m.personas == 0)
				return BAD("personas: name at least one of "
					   "personal, secure");
			break;
		case K_PERMS:
			r = parse_set(v, vl, true, &m.permissions, err);
			if (r < 0)
				return r;
			break;
		case K_HASH:
			if (source)
				return BAD("line %zu: payload_hash is "
					   "computed by twofold pkg build",
					   lineno);
			if (tf_pkg_hex_decode(v, vl, m.payload_hash,
					      TF_HASH_BYTES) < 0)
				return BAD("payload_hash must be %d lower-case"
					   " hex digits",
					   2 * TF_HASH_BYTES);
			m.has_payload_hash = true;
			break;
		default:
			if (kl == 5 && memcmp(k, "entry", 5) == 0) {
				const char *e = memchr(v, '=', vl);
				size_t nl = e ? (size_t)(e - v) : 0;
				struct tf_pkg_entry *en;
				if (m.n_entries == TF_PKG_ENTRIES_MAX)
					return BAD("more than %d entry points",
						   TF_PKG_ENTRIES_MAX);
				if (e == NULL || !entry_name_ok(v, nl))
					return BAD("line %zu: entry must be "
						   "NAME=/PATH, NAME of "
						   "[a-z0-9._-]",
						   lineno);
				if (!path_ok(e + 1, vl - nl - 1))
					return BAD("line %zu: entry path must"
						   " be absolute, inside the "
						   "image, without . or .. "
						   "components",
						   lineno);
				for (unsigned i = 0; i < m.n_entries; i++)
					if (strlen(m.entries[i].name) == nl &&
					    !memcmp(m.entries[i].name, v, nl))
						return BAD("entry '%.*s' given "
							   "twice",
							   (int)nl, v);
				en = &m.entries[m.n_entries++];
				memcpy(en->name, v, nl);
				memcpy(en->path, e + 1, vl - nl - 1);
			} else if (kl == 2 && memcmp(k, "fs", 2) == 0) {
				struct tf_pkg_fs *f;
				if (m.n_fs == TF_PKG_FS_MAX)
					return BAD("more than %d fs rules",
						   TF_PKG_FS_MAX);
				if (vl < 4 ||
				    (memcmp(v, "ro:", 3) != 0 &&
				     memcmp(v, "rw:", 3) != 0) ||
				    !path_ok(v + 3, vl - 3))
					return BAD("line %zu: fs must be "
						   "ro:/PATH or rw:/PATH "
						   "without . or ..",
						   lineno);
				f = &m.fs[m.n_fs++];
				f->write = v[1] == 'w';
				memcpy(f->path, v + 3, vl - 3);
			} else {
				return BAD("line %zu: unknown key '%.*s'",
					   lineno, (int)TF_MIN(kl, 32), k);
			}
		}
	}
	for (int i = 0; i < K_HASH; i++)
		if (!seen[i] && i != K_PERMS)
			return BAD("%s is missing", single[i]);
	if (m.n_entries == 0)
		return BAD("no entry point (entry = NAME=/PATH)");
	if (!source && !m.has_payload_hash)
		return BAD("payload_hash is missing");
	if (!source) {
		/* one encoding only: the bytes must be the canonical form */
		char canon[TF_PKG_MANIFEST_MAX];
		size_t cl;
		if (tf_pkg_manifest_format(&m, canon, sizeof(canon), &cl) < 0 ||
		    cl != len || memcmp(canon, text, len) != 0)
			return BAD("manifest is not in canonical form (order, "
				   "spacing)");
	}
	*out = m;
	return 0;
}

struct sbuf {
	char *p;
	size_t cap, len;
	bool over;
};

static void put(struct sbuf *b, const char *fmt, ...) TF_PRINTF(2, 3);
static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->over = true;
	else
		b->len += (size_t)n;
}

static void put_set(struct sbuf *b, const char *key, uint32_t set, bool perm)
{
	bool first = true;

	put(b, "%s = ", key);
	for (unsigned i = 0; i < 32; i++) {
		uint32_t bit = 1u << i;
		const char *n;
		if (!(set & bit))
			continue;
		n = perm ? tf_pkg_perm_name(bit)
			 : (bit == TF_PKG_PERSONA_PERSONAL ? "personal"
			    : bit == TF_PKG_PERSONA_SECURE ? "secure"
							   : NULL);
		if (n == NULL)
			continue;
		put(b, "%s%s", first ? "" : ",", n);
		first = false;
	}
	put(b, "\n");
}

static int format_(const struct tf_pkg_manifest *m, bool with_hash, char *buf,
		   size_t cap, size_t *len)
{
	struct sbuf b = {buf, cap, 0, false};
	char hex[2 * TF_HASH_BYTES + 1];

	if (cap == 0)
		return -ENOBUFS;
	put(&b, "name = %s\nversion_code = %" PRIu64 "\nversion = %s\n",
	    m->name, m->version_code, m->version);
	put_set(&b, "personas", m->personas, false);
	if (m->permissions)
		put_set(&b, "permissions", m->permissions, true);
	for (unsigned i = 0; i < m->n_entries && i < TF_PKG_ENTRIES_MAX; i++)
		put(&b, "entry = %s=%s\n", m->entries[i].name,
		    m->entries[i].path);
	for (unsigned i = 0; i < m->n_fs && i < TF_PKG_FS_MAX; i++)
		put(&b, "fs = %s:%s\n", m->fs[i].write ? "rw" : "ro",
		    m->fs[i].path);
	if (with_hash && m->has_payload_hash) {
		tf_pkg_hex_encode(m->payload_hash, TF_HASH_BYTES, hex);
		put(&b, "payload_hash = %s\n", hex);
	}
	if (b.over)
		return -ENOBUFS;
	*len = b.len;
	return 0;
}

int tf_pkg_manifest_format(const struct tf_pkg_manifest *m, char *buf,
			   size_t cap, size_t *len)
{
	return format_(m, true, buf, cap, len);
}

int tf_pkg_image_uuid(const struct tf_suite *s, const struct tf_pkg_manifest *m,
		      char uuid[static 37])
{
	static const char tag[] = "twofold erofs uuid v1\n";
	char text[TF_PKG_MANIFEST_MAX + sizeof(tag)];
	uint8_t h[TF_HASH_BYTES];
	size_t len;
	int r;

	memcpy(text, tag, sizeof(tag) - 1);
	r = format_(m, false, text + sizeof(tag) - 1,
		    sizeof(text) - sizeof(tag) + 1, &len);
	if (r < 0)
		return r;
	r = tf_hash(s, h, (const uint8_t *)text, len + sizeof(tag) - 1);
	if (r < 0)
		return r;
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* variant */
	snprintf(uuid, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9],
		 h[10], h[11], h[12], h[13], h[14], h[15]);
	return 0;
}

int tf_pkg_check_persona(const struct tf_pkg_manifest *m, uint32_t persona,
			 struct tf_pkg_err *err)
{
	if (persona && (m->personas & persona) == persona)
		return 0;
	return tf_pkg_fail(err, -EPERM, TF_R_PKG_WRONG_PERSONA,
			   "package %s is not for the %s persona", m->name,
			   persona == TF_PKG_PERSONA_SECURE ? "secure"
							    : "personal");
}

int tf_pkg_check_update(const struct tf_pkg_manifest *inst,
			const struct tf_pkg_manifest *cand,
			struct tf_pkg_err *err)
{
	if (strcmp(inst->name, cand->name) != 0)
		return tf_pkg_fail(err, -EINVAL, TF_R_PKG_MANIFEST,
				   "package %s cannot update %s", cand->name,
				   inst->name);
	if (cand->version_code <= inst->version_code)
		return tf_pkg_fail(err, -ESTALE, TF_R_PKG_ROLLBACK,
				   "%s version code %" PRIu64
				   " is not above the installed %" PRIu64
				   " (rollback refused)",
				   cand->name, cand->version_code,
				   inst->version_code);
	return 0;
}
