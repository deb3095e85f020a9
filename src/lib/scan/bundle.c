/* SPDX-License-Identifier: ISC */
/*
 * The signed scanner database bundle (twofold/scan.h has the layout).
 *
 * signify-style on purpose: one fixed header, a flat list of files, one
 * signature; no compression, no directories, no metadata that a parser
 * would have to interpret. tf_scandb_parse runs in the scanner helper on
 * bytes nobody has vouched for yet, so it only bounds and slices; it has
 * a fuzz target (fuzz/fuzz_scandb.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twofold/crypto.h"
#include "twofold/scan.h"

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static const char *const db_ext[] = {
	".ndb", ".hdb", ".hsb", ".mdb", ".msb",	 ".ldb", ".cvd",
	".cld", ".cud", ".fp",	".sfp", ".ign2", ".ftm", ".cdb",
	".idb", ".pdb", ".wdb", ".yar", ".yara",
};

bool tf_scandb_name_ok(const char *name)
{
	size_t n = strnlen(name, TF_SCANDB_NAME_MAX + 1);
	if (n == 0 || n > TF_SCANDB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	for (size_t i = 0; i < TF_ARRAY_SIZE(db_ext); i++) {
		size_t e = strlen(db_ext[i]);
		if (n > e && strcmp(name + n - e, db_ext[i]) == 0)
			return true;
	}
	return false;
}

int tf_scandb_parse(const uint8_t *buf, size_t len, struct tf_scandb *out,
		    char *why, size_t whylen)
{
	struct tf_scandb db;
	memset(&db, 0, sizeof(db));
	if (buf == NULL || len < TF_SCANDB_HDR_BYTES)
		return fail(why, whylen, -EBADMSG,
			    "truncated: %zu bytes, the header alone is %d", len,
			    TF_SCANDB_HDR_BYTES);
	if (memcmp(buf, TF_SCANDB_MAGIC, 8) != 0)
		return fail(why, whylen, -EBADMSG,
			    "not a scanner database bundle (bad magic)");
	if (buf[8] != TF_SCANDB_VERSION)
		return fail(why, whylen, -EPROTONOSUPPORT,
			    "bundle version %u; this device reads version %d",
			    buf[8], TF_SCANDB_VERSION);
	db.suite_id = buf[9];
	uint16_t nfiles = tf_get_le16(buf + 10);
	uint16_t siglen = tf_get_le16(buf + 12);
	uint64_t body_len = tf_get_le64(buf + 16);
	db.created = tf_get_le64(buf + 24);
	if (tf_get_le16(buf + 14) != 0)
		return fail(why, whylen, -EBADMSG, "reserved header field set");
	if (nfiles == 0 || nfiles > TF_SCANDB_FILES_MAX)
		return fail(why, whylen, nfiles ? -EMSGSIZE : -EBADMSG,
			    "%u database files (1..%d allowed)", nfiles,
			    TF_SCANDB_FILES_MAX);
	if (siglen == 0 || siglen > TF_SIG_MAX)
		return fail(why, whylen, -EMSGSIZE,
			    "signature length %u (1..%d allowed)", siglen,
			    TF_SIG_MAX);
	if (body_len > TF_SCANDB_BODY_MAX)
		return fail(why, whylen, -EMSGSIZE,
			    "body of %llu bytes (at most %llu)",
			    (unsigned long long)body_len,
			    (unsigned long long)TF_SCANDB_BODY_MAX);
	/* header + body + signature must be exactly the file: no slack a
	 * second parser could read differently */
	if ((uint64_t)len - TF_SCANDB_HDR_BYTES < body_len ||
	    (uint64_t)len - TF_SCANDB_HDR_BYTES - body_len != siglen)
		return fail(why, whylen, -EBADMSG,
			    "lengths disagree with the file size (%zu bytes; "
			    "truncated or extended)",
			    len);
	db.hdr = buf;
	db.body = buf + TF_SCANDB_HDR_BYTES;
	db.body_len = body_len;
	db.sig = db.body + body_len;
	db.sig_len = siglen;

	uint64_t off = 0;
	for (size_t i = 0; i < nfiles; i++) {
		const uint8_t *e = db.body + off;
		if (body_len - off < TF_SCANDB_ENTRY_HDR)
			return fail(why, whylen, -EBADMSG,
				    "file %zu: entry header truncated", i);
		uint16_t nl = tf_get_le16(e);
		uint64_t sz = tf_get_le64(e + 8);
		if (tf_get_le16(e + 2) != 0 || tf_get_le32(e + 4) != 0)
			return fail(why, whylen, -EBADMSG,
				    "file %zu: reserved field set", i);
		if (nl == 0 || nl > TF_SCANDB_NAME_MAX)
			return fail(why, whylen, -EBADMSG,
				    "file %zu: name length %u (1..%d)", i, nl,
				    TF_SCANDB_NAME_MAX);
		off += TF_SCANDB_ENTRY_HDR;
		if (body_len - off < nl)
			return fail(why, whylen, -EBADMSG,
				    "file %zu: name truncated", i);
		struct tf_scandb_file *f = &db.files[i];
		memcpy(f->name, db.body + off, nl);
		f->name[nl] = '\0';
		if (strlen(f->name) != nl || !tf_scandb_name_ok(f->name))
			return fail(
				why, whylen, -EBADMSG,
				"file %zu: name is not a database file name "
				"([A-Za-z0-9._-], a ClamAV extension)",
				i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(db.files[j].name, f->name) == 0)
				return fail(why, whylen, -EBADMSG,
					    "file %s appears twice", f->name);
		off += nl;
		if (body_len - off < sz)
			return fail(why, whylen, -EBADMSG,
				    "file %s: size %llu past the body", f->name,
				    (unsigned long long)sz);
		f->data = db.body + off;
		f->size = sz;
		off += sz;
	}
	if (off != body_len)
		return fail(why, whylen, -EBADMSG,
			    "%llu bytes after the last file",
			    (unsigned long long)(body_len - off));
	db.n_files = nfiles;
	*out = db;
	return 0;
}

/* header || H(body): what is signed (a signature over a digest keeps the
 * message small for SM2 and Ed25519 alike, and the body is hashed once) */
static int signed_msg(const struct tf_suite *s, const uint8_t *hdr,
		      const uint8_t *body, uint64_t body_len,
		      uint8_t msg[TF_SCANDB_HDR_BYTES + TF_HASH_BYTES])
{
	memcpy(msg, hdr, TF_SCANDB_HDR_BYTES);
	return tf_hash(s, msg + TF_SCANDB_HDR_BYTES, body, (size_t)body_len);
}

int tf_scandb_verify(const struct tf_scandb *db, const struct tf_suite *s,
		     const uint8_t *const *pks, size_t n_pk, char *why,
		     size_t whylen)
{
	if (db->suite_id != s->id) {
		const struct tf_suite *other = tf_suite_by_id(db->suite_id);
		return fail(why, whylen, -EPROTONOSUPPORT,
			    "database bundle is signed for the %s suite; this "
			    "device uses %s",
			    other ? other->name : "unknown", s->name);
	}
	if (n_pk == 0 || pks == NULL)
		return fail(why, whylen, -EKEYREJECTED,
			    "no trusted database signer (device.conf "
			    "scan_trust)");
	uint8_t msg[TF_SCANDB_HDR_BYTES + TF_HASH_BYTES];
	int r = signed_msg(s, db->hdr, db->body, db->body_len, msg);
	if (r < 0)
		return fail(why, whylen, r, "hashing the bundle failed");
	for (size_t i = 0; i < n_pk; i++)
		if (pks[i] != NULL && tf_verify(s, pks[i], msg, sizeof(msg),
						db->sig, db->sig_len) == 0)
			return 0;
	return fail(why, whylen, -EKEYREJECTED,
		    "database bundle signature is not by a trusted key "
		    "(device.conf scan_trust), or the bundle was altered");
}

int tf_scandb_unpack(const struct tf_scandb *db, int dirfd)
{
	for (size_t i = 0; i < db->n_files; i++) {
		const struct tf_scandb_file *f = &db->files[i];
		_cleanup_close_ int fd = openat(dirfd, f->name,
						O_WRONLY | O_CREAT | O_EXCL |
							O_NOFOLLOW | O_CLOEXEC,
						0600);
		if (fd < 0)
			return -errno;
		int r = tf_write_full(fd, f->data, (size_t)f->size);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tf_scandb_pack(const struct tf_key *sk, int dirfd, uint64_t created,
		   int out_fd, char *why, size_t whylen)
{
	const struct tf_suite *s = tf_key_suite(sk);
	char *names[TF_SCANDB_FILES_MAX];
	size_t n = 0;
	int r = 0;
	uint8_t *body = NULL;
	size_t body_len = 0;

	/* a new open file description: a dup would share (and move) the
	 * caller's directory offset */
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(why, whylen, -errno, "cannot read the directory");
	DIR *dir = fdopendir(dfd);
	if (dir == NULL) {
		close(dfd);
		return fail(why, whylen, -errno, "cannot read the directory");
	}
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!tf_scandb_name_ok(de->d_name)) {
			r = fail(why, whylen, -EINVAL,
				 "%.80s is not a ClamAV database file "
				 "(.ndb .hdb .ldb .cvd ...)",
				 de->d_name);
			goto out;
		}
		if (n == TF_SCANDB_FILES_MAX) {
			r = fail(why, whylen, -EMSGSIZE,
				 "more than %d database files",
				 TF_SCANDB_FILES_MAX);
			goto out;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n == 0) {
		r = fail(why, whylen, -ENOENT, "no database files to pack");
		goto out;
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = openat(
			dirfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			r = fail(why, whylen, -errno, "cannot open %s",
				 names[i]);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			r = fail(why, whylen, -EINVAL,
				 "%s is not a regular file", names[i]);
			goto out;
		}
		size_t nl = strlen(names[i]);
		uint64_t add = TF_SCANDB_ENTRY_HDR + nl + (uint64_t)st.st_size;
		if (body_len + add > TF_SCANDB_BODY_MAX) {
			r = fail(why, whylen, -EMSGSIZE,
				 "database files exceed %llu bytes",
				 (unsigned long long)TF_SCANDB_BODY_MAX);
			goto out;
		}
		uint8_t *nb = realloc(body, body_len + add);
		if (nb == NULL) {
			r = -ENOMEM;
			goto out;
		}
		body = nb;
		uint8_t *e = body + body_len;
		memset(e, 0, TF_SCANDB_ENTRY_HDR);
		tf_put_le16(e, (uint16_t)nl);
		tf_put_le64(e + 8, (uint64_t)st.st_size);
		memcpy(e + TF_SCANDB_ENTRY_HDR, names[i], nl);
		ssize_t got = tf_read_full(fd, e + TF_SCANDB_ENTRY_HDR + nl,
					   (size_t)st.st_size);
		if (got != st.st_size) {
			r = fail(why, whylen, got < 0 ? (int)got : -EIO,
				 "%s changed while being read", names[i]);
			goto out;
		}
		body_len += add;
	}

	uint8_t hdr[TF_SCANDB_HDR_BYTES] = {0};
	memcpy(hdr, TF_SCANDB_MAGIC, 8);
	hdr[8] = TF_SCANDB_VERSION;
	hdr[9] = s->id;
	tf_put_le16(hdr + 10, (uint16_t)n);
	tf_put_le64(hdr + 16, body_len);
	tf_put_le64(hdr + 24, created);
	/* the signature length is in the signed header, so sign a header
	 * that states the length the suite's signatures have: Ed25519 is
	 * fixed; SM2's DER length varies, so retry until it matches */
	uint8_t msg[TF_SCANDB_HDR_BYTES + TF_HASH_BYTES];
	uint8_t sig[TF_SIG_MAX];
	size_t siglen = 0;
	for (int tries = 0; tries < 64; tries++) {
		size_t want =
			tries == 0 ? 64 : (size_t)(TF_SIG_MAX - tries % 8);
		tf_put_le16(hdr + 12, (uint16_t)want);
		r = signed_msg(s, hdr, body, body_len, msg);
		if (r < 0)
			goto out;
		r = tf_sign(sk, msg, sizeof(msg), sig, sizeof(sig), &siglen);
		if (r < 0) {
			fail(why, whylen, r, "signing failed");
			goto out;
		}
		if (siglen == want)
			break;
		siglen = 0;
	}
	if (siglen == 0) {
		r = fail(why, whylen, -EIO, "signing failed (length)");
		goto out;
	}
	r = tf_write_full(out_fd, hdr, sizeof(hdr));
	if (r == 0)
		r = tf_write_full(out_fd, body, body_len);
	if (r == 0)
		r = tf_write_full(out_fd, sig, siglen);
	if (r < 0)
		fail(why, whylen, r, "writing the bundle failed");
out:
	free(body);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	closedir(dir);
	return r;
}
