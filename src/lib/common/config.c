/* SPDX-License-Identifier: ISC */
/*
 * device.conf parser. The file is written by `twofold init` and edited by
 * administrators, and read by the root daemon, so it is treated as
 * untrusted: bounded size, bounded line length, fixed tables, every number
 * range-checked, and a fuzz target (fuzz/fuzz_config.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "twofold/config.h"

#define LINE_MAX_LEN 512
/* reauth_after of a [persona] section not (yet) given: parse_u32 never
 * yields it (its bound is TF_REAUTH_MAX) */
#define REAUTH_UNSET UINT32_MAX

static const char *const device_class_names[] = {
	[TF_DEV_DISPLAY] = "display",	    [TF_DEV_INPUT] = "input",
	[TF_DEV_AUDIO] = "audio",	    [TF_DEV_CAMERA] = "camera",
	[TF_DEV_MICROPHONE] = "microphone",
};

const char *tf_device_class_name(enum tf_device_class cls)
{
	if ((size_t)cls < TF_ARRAY_SIZE(device_class_names) &&
	    device_class_names[cls] != NULL)
		return device_class_names[cls];
	return "unknown";
}

int tf_device_class_parse(const char *s)
{
	for (size_t i = 1; i < TF_ARRAY_SIZE(device_class_names); i++)
		if (strcmp(s, device_class_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

static void persona_default(struct tf_persona_cfg *p, const char *name,
			    uint32_t uid_base, bool credential)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->uid_base = uid_base;
	p->uid_count = TF_UID_COUNT_DEFAULT;
	p->memory_max = 2ull << 30;
	p->pids_max = 4096;
	p->cpu_weight = 100;
	p->credential = credential;
	p->autostart = true;
	p->lock_evict_after = credential ? 300 : 0;
	p->reauth_after = credential ? TF_REAUTH_DEFAULT : 0;
	p->pty_max = TF_PTY_MAX_DEFAULT;
}

void tf_config_default(struct tf_config *c)
{
	memset(c, 0, sizeof(*c));
	c->version = TF_CONFIG_VERSION;
	snprintf(c->suite, sizeof(c->suite), "intl");
	snprintf(c->foreground, sizeof(c->foreground), "personal");
	c->background_cpu_weight = 10;
	c->storage_size = 1ull << 30;
	c->pin_min_digits = 6;
	c->passphrase_min_chars = 10;
	c->throttle_free_tries = 5;
	c->throttle_max_failures = 20;
	c->throttle_base_delay = 30;
	c->kdf_target_ms = 500;
	c->kdf_min_mem_mib = 64;
	c->tpm_pcrs = TF_CFG_TPM_PCRS_DEFAULT;
	c->n_personas = 2;
	persona_default(&c->personas[0], "personal", 1000000, false);
	persona_default(&c->personas[1], "secure", 1065536, true);
}

uint32_t tf_config_uid_slot_base(const char *key, uint32_t probe)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 1099511628211ull;
	return TF_UID_SLOT_FIRST +
	       (uint32_t)((h + probe) % TF_UID_SLOTS) * TF_UID_SLOT_SPAN;
}

uint64_t tf_config_storage_share(const struct tf_config *c, size_t i)
{
	uint64_t given = 0, rest;
	size_t open = 0;

	if (i >= c->n_personas)
		return 0;
	if (c->personas[i].storage_size)
		return c->personas[i].storage_size;
	for (size_t j = 0; j < c->n_personas; j++) {
		given += c->personas[j].storage_size;
		open += c->personas[j].storage_size == 0;
	}
	if (given >= c->storage_size)
		return 0;
	rest = (c->storage_size - given) / open;
	return rest & ~((UINT64_C(1) << 20) - 1);
}

const struct tf_persona_cfg *tf_config_persona(const struct tf_config *c,
					       const char *name)
{
	for (size_t i = 0; i < c->n_personas; i++)
		if (strcmp(c->personas[i].name, name) == 0)
			return &c->personas[i];
	return NULL;
}

TF_PRINTF(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t x;

	if (tf_parse_u64(v, max, &x) < 0 || x < min)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

/* "none", or PCR numbers 0..23 separated by commas: "7", "0,2,7" */
static int parse_pcrs(const char *v, uint32_t *out)
{
	uint32_t m = 0;

	if (!strcmp(v, "none")) {
		*out = 0;
		return 0;
	}
	for (const char *p = v;;) {
		unsigned n = 0;
		int digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 3) {
			n = n * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || n > 23 || (m & (1u << n)))
			return -EINVAL;
		m |= 1u << n;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*out = m;
	return 0;
}

static int parse_str(const char *v, char *dst, size_t cap)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	return tf_strlcpy(dst, v, cap);
}

enum section { SEC_TOP, SEC_PERSONA, SEC_DEVICE };

static int set_top(struct tf_config *c, const char *k, const char *v)
{
	uint64_t sz;

	if (!strcmp(k, "version"))
		return parse_u32(v, 1, 1000000, &c->version);
	if (!strcmp(k, "suite"))
		return parse_str(v, c->suite, sizeof(c->suite));
	if (!strcmp(k, "foreground"))
		return parse_str(v, c->foreground, sizeof(c->foreground));
	if (!strcmp(k, "background_cpu_weight"))
		return parse_u32(v, 1, 10000, &c->background_cpu_weight);
	if (!strcmp(k, "storage_size")) {
		if (tf_parse_size(v, &sz) < 0 || sz < (16ull << 20) ||
		    sz > (1ull << 44))
			return -EINVAL;
		c->storage_size = sz;
		return 0;
	}
	if (!strcmp(k, "storage_dir"))
		return parse_str(v, c->storage_dir, sizeof(c->storage_dir));
	if (!strcmp(k, "pin_min_digits"))
		return parse_u32(v, 4, 64, &c->pin_min_digits);
	if (!strcmp(k, "passphrase_min_chars"))
		return parse_u32(v, 4, 128, &c->passphrase_min_chars);
	if (!strcmp(k, "throttle_free_tries"))
		return parse_u32(v, 1, 100, &c->throttle_free_tries);
	if (!strcmp(k, "throttle_max_failures"))
		return parse_u32(v, 2, 1000, &c->throttle_max_failures);
	if (!strcmp(k, "throttle_base_delay"))
		return parse_u32(v, 1, 86400, &c->throttle_base_delay);
	if (!strcmp(k, "kdf_target_ms"))
		return parse_u32(v, 1, 60000, &c->kdf_target_ms);
	if (!strcmp(k, "kdf_min_mem_mib"))
		return parse_u32(v, 1, 4096, &c->kdf_min_mem_mib);
	if (!strcmp(k, "allow_weak_credentials"))
		return parse_bool(v, &c->allow_weak_credentials);
	if (!strcmp(k, "tpm_tcti"))
		return parse_str(v, c->tpm_tcti, sizeof(c->tpm_tcti));
	if (!strcmp(k, "tpm_pcrs"))
		return parse_pcrs(v, &c->tpm_pcrs);
	if (!strcmp(k, "cgroup_favor_dynmods"))
		return parse_bool(v, &c->cgroup_favor_dynmods);
	return -ENOENT;
}

static int set_persona(struct tf_persona_cfg *p, const char *k, const char *v)
{
	uint64_t sz;

	if (!strcmp(k, "uid_base"))
		return parse_u32(v, 1, UINT32_MAX - 1, &p->uid_base);
	if (!strcmp(k, "uid_count"))
		return parse_u32(v, 1001, 1u << 24, &p->uid_count);
	if (!strcmp(k, "base"))
		return parse_str(v, p->base, sizeof(p->base));
	if (!strcmp(k, "memory_max")) {
		if (tf_parse_size(v, &sz) < 0 || (sz != 0 && sz < (8u << 20)))
			return -EINVAL;
		p->memory_max = sz;
		return 0;
	}
	if (!strcmp(k, "pids_max")) {
		if (tf_parse_u64(v, 1u << 22, &sz) < 0 || (sz != 0 && sz < 8))
			return -EINVAL;
		p->pids_max = sz;
		return 0;
	}
	if (!strcmp(k, "cpu_weight"))
		return parse_u32(v, 1, 10000, &p->cpu_weight);
	if (!strcmp(k, "credential"))
		return parse_bool(v, &p->credential);
	if (!strcmp(k, "autostart"))
		return parse_bool(v, &p->autostart);
	if (!strcmp(k, "lock_evict_after"))
		return parse_u32(v, 0, 7 * 86400, &p->lock_evict_after);
	if (!strcmp(k, "reauth_after"))
		return parse_u32(v, 0, TF_REAUTH_MAX, &p->reauth_after);
	if (!strcmp(k, "idle_evict_after"))
		return parse_u32(v, 0, TF_IDLE_EVICT_MAX, &p->idle_evict_after);
	if (!strcmp(k, "pty_max"))
		return parse_u32(v, 1, 65536, &p->pty_max);
	if (!strcmp(k, "storage_size")) {
		if (tf_parse_size(v, &sz) < 0 ||
		    (sz != 0 && sz < TF_STORAGE_SHARE_MIN) || sz > (1ull << 44))
			return -EINVAL;
		p->storage_size = sz;
		return 0;
	}
	return -ENOENT;
}

static int set_device(struct tf_device_cfg *d, const char *k, const char *v)
{
	int cls;

	if (!strcmp(k, "class")) {
		cls = tf_device_class_parse(v);
		if (cls < 0)
			return -EINVAL;
		d->cls = (enum tf_device_class)cls;
		return 0;
	}
	if (!strcmp(k, "path"))
		return parse_str(v, d->path, sizeof(d->path));
	return -ENOENT;
}

static int parse_section(struct tf_config *c, char *hdr, enum section *sec,
			 char *err, size_t errlen, unsigned lineno)
{
	char *kind = hdr, *name = strchr(hdr, ' ');

	if (name == NULL)
		return fail(err, errlen,
			    "line %u: section needs a name: [persona NAME]",
			    lineno);
	*name++ = '\0';
	name = trim(name);
	if (!tf_name_valid(name))
		return fail(err, errlen,
			    "line %u: invalid name (use a-z, 0-9, - and _, "
			    "starting with a letter, at most 32)",
			    lineno);
	if (!strcmp(kind, "persona")) {
		if (tf_config_persona(c, name) != NULL)
			return fail(err, errlen, "line %u: persona %s twice",
				    lineno, name);
		if (c->n_personas >= TF_PERSONA_MAX)
			return fail(err, errlen,
				    "line %u: too many personas (at most %d)",
				    lineno, TF_PERSONA_MAX);
		persona_default(&c->personas[c->n_personas], name, 0, false);
		/* set after the section is read: it depends on credential */
		c->personas[c->n_personas].reauth_after = REAUTH_UNSET;
		c->n_personas++;
		*sec = SEC_PERSONA;
		return 0;
	}
	if (!strcmp(kind, "device")) {
		for (size_t i = 0; i < c->n_devices; i++)
			if (!strcmp(c->devices[i].name, name))
				return fail(err, errlen,
					    "line %u: device %s twice", lineno,
					    name);
		if (c->n_devices >= TF_DEVICE_MAX)
			return fail(err, errlen,
				    "line %u: too many devices (at most %d)",
				    lineno, TF_DEVICE_MAX);
		struct tf_device_cfg *d = &c->devices[c->n_devices++];
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", name);
		/* a device named after its class needs no class= line */
		int cls = tf_device_class_parse(name);
		d->cls = cls > 0 ? (enum tf_device_class)cls : 0;
		*sec = SEC_DEVICE;
		return 0;
	}
	return fail(err, errlen, "line %u: unknown section [%s]", lineno, kind);
}

int tf_config_parse(const char *text, size_t len, struct tf_config *out,
		    char *err, size_t errlen)
{
	_cleanup_free_ struct tf_config *c = NULL;
	char line[LINE_MAX_LEN + 1];
	enum section sec = SEC_TOP;
	unsigned lineno = 0;
	size_t pos = 0;
	int first_err = 0;
	char first_msg[256] = "", saved_msg[256] = "";
	int r;

	if (len > TF_CONFIG_MAX)
		return fail(err, errlen, "file larger than %d bytes",
			    TF_CONFIG_MAX);
	c = malloc(sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	tf_config_default(c);
	/* a file lists its personas explicitly; defaults fill their keys */
	c->n_personas = 0;
	c->version = 0;
	c->foreground[0] = '\0';

	while (pos < len) {
		size_t e = pos, linelen;
		char *s, *eq, *k, *v;

		while (e < len && text[e] != '\n')
			e++;
		linelen = e - pos;
		lineno++;
		r = 0;
		if (linelen > LINE_MAX_LEN)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: longer than %d characters", lineno,
				 LINE_MAX_LEN);
		else if (memchr(text + pos, '\0', linelen) != NULL)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: contains a NUL byte", lineno);
		else
			memcpy(line, text + pos, linelen);
		pos = e + 1;
		if (r < 0)
			goto record;
		line[linelen] = '\0';
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close == NULL || trim(close + 1)[0] != '\0') {
				r = fail(first_msg, sizeof(first_msg),
					 "line %u: malformed section header",
					 lineno);
				goto record;
			}
			*close = '\0';
			r = parse_section(c, trim(s + 1), &sec, first_msg,
					  sizeof(first_msg), lineno);
			goto record;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: expected key = value", lineno);
			goto record;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		switch (sec) {
		case SEC_TOP: r = set_top(c, k, v); break;
		case SEC_PERSONA:
			r = set_persona(&c->personas[c->n_personas - 1], k, v);
			break;
		case SEC_DEVICE:
			r = set_device(&c->devices[c->n_devices - 1], k, v);
			break;
		default: r = -EINVAL; break;
		}
		if (r == -ENOENT)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: unknown key '%.40s'", lineno, k);
		else if (r < 0)
			r = fail(first_msg, sizeof(first_msg),
				 "line %u: invalid value for %.40s", lineno, k);
	record:
		/* keep parsing after an error only to learn the version */
		if (r < 0 && first_err == 0) {
			first_err = r;
			snprintf(saved_msg, sizeof(saved_msg), "%s", first_msg);
		}
	}
	/* a newer format may have keys we do not know: say that first */
	if (c->version > TF_CONFIG_VERSION) {
		if (err && errlen)
			snprintf(err, errlen,
				 "written by a newer twofold (format %u; this "
				 "build reads %u)",
				 c->version, TF_CONFIG_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (first_err < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", saved_msg);
		return first_err;
	}
	if (c->version == 0)
		return fail(err, errlen, "missing 'version = %d'",
			    TF_CONFIG_VERSION);
	/* reauth_after not given: 72 h for a credential persona, off for a
	 * device-bound one (it has no credential to ask again) */
	for (size_t i = 0; i < c->n_personas; i++)
		if (c->personas[i].reauth_after == REAUTH_UNSET)
			c->personas[i].reauth_after =
				c->personas[i].credential ? TF_REAUTH_DEFAULT
							  : 0;
	/* no foreground line: the first persona listed */
	if (c->foreground[0] == '\0' && c->n_personas > 0)
		snprintf(c->foreground, sizeof(c->foreground), "%s",
			 c->personas[0].name);
	r = tf_config_validate(c, false, err, errlen);
	if (r < 0)
		return r;
	*out = *c;
	return 0;
}

int tf_config_validate(const struct tf_config *c, bool check_paths, char *err,
		       size_t errlen)
{
	struct stat st;

	if (strcmp(c->suite, "intl") != 0 && strcmp(c->suite, "gm") != 0)
		return fail(err, errlen,
			    "unknown suite '%.15s' (known: intl, gm)",
			    c->suite);
	if (c->n_personas < 2)
		return fail(err, errlen,
			    "at least two personas are needed (have %zu)",
			    c->n_personas);
	if (c->throttle_free_tries >= c->throttle_max_failures)
		return fail(err, errlen,
			    "throttle_free_tries must be below "
			    "throttle_max_failures");
	/* Without a TPM the Argon2id cost and the PIN length are all that
	 * bound a thief who copied the disk: refuse settings that make that
	 * cheap, unless the file says it knows (the tests' 8 MiB KDF). */
	if (!c->allow_weak_credentials &&
	    c->kdf_min_mem_mib < TF_KDF_MEM_MIB_SAFE)
		return fail(
			err, errlen,
			"kdf_min_mem_mib = %u is below %u MiB: offline "
			"guessing becomes cheap; set "
			"allow_weak_credentials = yes to force (tests only)",
			c->kdf_min_mem_mib, TF_KDF_MEM_MIB_SAFE);
	if (!c->allow_weak_credentials &&
	    c->pin_min_digits < TF_PIN_DIGITS_SAFE)
		return fail(
			err, errlen,
			"pin_min_digits = %u is below %u: a short PIN "
			"falls to offline guessing; set "
			"allow_weak_credentials = yes to force (tests only)",
			c->pin_min_digits, TF_PIN_DIGITS_SAFE);
	/* a passphrase may be any non-digit string: one shorter than the
	 * PIN floor ("12345a", or "aaaa" with the minimum of 4) would undo
	 * the pin_min_digits refusal above */
	if (!c->allow_weak_credentials &&
	    c->passphrase_min_chars < TF_PIN_DIGITS_SAFE)
		return fail(
			err, errlen,
			"passphrase_min_chars = %u is below %u: a short "
			"passphrase falls to offline guessing; set "
			"allow_weak_credentials = yes to force (tests only)",
			c->passphrase_min_chars, TF_PIN_DIGITS_SAFE);
	if (c->storage_dir[0] != '\0' && c->storage_dir[0] != '/')
		return fail(err, errlen,
			    "storage_dir must be an absolute path");
	for (size_t i = 0; i < c->n_personas; i++) {
		const struct tf_persona_cfg *p = &c->personas[i];
		uint64_t end = (uint64_t)p->uid_base + p->uid_count;

		/* host uids below 65536 belong to real users and services */
		if (p->uid_base < 65536 || end > UINT32_MAX)
			return fail(err, errlen,
				    "persona %s: uid_base must be set, at "
				    "least 65536, with uid_base + uid_count "
				    "below 2^32",
				    p->name);
		if (!p->credential &&
		    (p->reauth_after != 0 || p->idle_evict_after != 0))
			return fail(err, errlen,
				    "persona %s: reauth_after and "
				    "idle_evict_after need credential = yes "
				    "(a device-bound persona has no credential "
				    "to ask again)",
				    p->name);
		if (p->uid_count <= TF_APP_UID_DEFAULT)
			return fail(err, errlen,
				    "persona %s: uid_count must exceed %u",
				    p->name, TF_APP_UID_DEFAULT);
		for (size_t j = 0; j < i; j++) {
			const struct tf_persona_cfg *q = &c->personas[j];
			uint64_t qend = (uint64_t)q->uid_base + q->uid_count;
			if (p->uid_base < qend && q->uid_base < end)
				return fail(err, errlen,
					    "personas %s and %s have "
					    "overlapping uid ranges "
					    "(%u+%u and %u+%u)",
					    q->name, p->name, q->uid_base,
					    q->uid_count, p->uid_base,
					    p->uid_count);
		}
		if (p->base[0] != '\0') {
			if (p->base[0] != '/')
				return fail(err, errlen,
					    "persona %s: base must be an "
					    "absolute path",
					    p->name);
			if (check_paths &&
			    (stat(p->base, &st) < 0 || !S_ISDIR(st.st_mode)))
				return fail(err, errlen,
					    "persona %s: base %.200s does not "
					    "exist or is not a directory",
					    p->name, p->base);
		}
	}
	if (tf_config_persona(c, c->foreground) == NULL)
		return fail(err, errlen, "foreground names no persona: %s",
			    c->foreground);
	for (size_t i = 0; i < c->n_devices; i++) {
		const struct tf_device_cfg *d = &c->devices[i];
		if (d->cls == 0)
			return fail(err, errlen, "device %s: class missing",
				    d->name);
		if (d->path[0] != '/')
			return fail(err, errlen,
				    "device %s: path must be absolute",
				    d->name);
		/* a missing node is fine (hot-plugged later); an existing
		 * file that is not a device node is a mistake */
		if (check_paths && stat(d->path, &st) == 0 &&
		    !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			return fail(err, errlen,
				    "device %s: %.200s is not a device node",
				    d->name, d->path);
	}
	return 0;
}

int tf_config_format(const struct tf_config *c, char **out)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);

	if (f == NULL)
		return -ENOMEM;
	fprintf(f,
		"# twofold device configuration (see twofold-config(5),\n"
		"# docs/twofold-config.5.md). Written by `twofold init`.\n"
		"version = %u\n"
		"suite = %s\n"
		"foreground = %s\n"
		"background_cpu_weight = %u\n"
		"storage_size = %llu\n",
		c->version, c->suite, c->foreground, c->background_cpu_weight,
		(unsigned long long)c->storage_size);
	if (c->storage_dir[0])
		fprintf(f, "storage_dir = %s\n", c->storage_dir);
	fprintf(f,
		"pin_min_digits = %u\n"
		"passphrase_min_chars = %u\n"
		"throttle_free_tries = %u\n"
		"throttle_max_failures = %u\n"
		"throttle_base_delay = %u\n"
		"kdf_target_ms = %u\n"
		"kdf_min_mem_mib = %u\n"
		"# yes: accept kdf_min_mem_mib < %u, pin_min_digits or "
		"passphrase_min_chars < %u (tests only)\n"
		"allow_weak_credentials = %s\n",
		c->pin_min_digits, c->passphrase_min_chars,
		c->throttle_free_tries, c->throttle_max_failures,
		c->throttle_base_delay, c->kdf_target_ms, c->kdf_min_mem_mib,
		TF_KDF_MEM_MIB_SAFE, TF_PIN_DIGITS_SAFE,
		c->allow_weak_credentials ? "yes" : "no");
	if (c->tpm_tcti[0])
		fprintf(f, "tpm_tcti = %s\n", c->tpm_tcti);
	if (c->tpm_tcti[0] || c->tpm_pcrs != TF_CFG_TPM_PCRS_DEFAULT) {
		fputs("tpm_pcrs = ", f);
		if (c->tpm_pcrs == 0)
			fputs("none", f);
		for (unsigned i = 0, first = 1; i < 24; i++)
			if (c->tpm_pcrs & (1u << i)) {
				fprintf(f, first ? "%u" : ",%u", i);
				first = 0;
			}
		fputc('\n', f);
	}
	fprintf(f,
		"# yes: host-wide cgroup2 favordynmods; persona start and "
		"unlock\n"
		"# get ~15 ms faster on hybrid hosts (see "
		"twofold-config(5))\n"
		"cgroup_favor_dynmods = %s\n",
		c->cgroup_favor_dynmods ? "yes" : "no");
	for (size_t i = 0; i < c->n_personas; i++) {
		const struct tf_persona_cfg *p = &c->personas[i];
		fprintf(f,
			"\n[persona %s]\n"
			"uid_base = %u\n"
			"uid_count = %u\n",
			p->name, p->uid_base, p->uid_count);
		if (p->base[0])
			fprintf(f, "base = %s\n", p->base);
		fprintf(f,
			"memory_max = %llu\n"
			"pids_max = %llu\n"
			"cpu_weight = %u\n"
			"credential = %s\n"
			"autostart = %s\n"
			"lock_evict_after = %u\n"
			"pty_max = %u\n",
			(unsigned long long)p->memory_max,
			(unsigned long long)p->pids_max, p->cpu_weight,
			p->credential ? "yes" : "no",
			p->autostart ? "yes" : "no", p->lock_evict_after,
			p->pty_max);
		if (p->credential)
			fprintf(f,
				"reauth_after = %u\n"
				"idle_evict_after = %u\n",
				p->reauth_after, p->idle_evict_after);
		if (p->storage_size)
			fprintf(f, "storage_size = %llu\n",
				(unsigned long long)p->storage_size);
	}
	for (size_t i = 0; i < c->n_devices; i++)
		fprintf(f, "\n[device %s]\nclass = %s\npath = %s\n",
			c->devices[i].name,
			tf_device_class_name(c->devices[i].cls),
			c->devices[i].path);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}
