/* SPDX-License-Identifier: ISC */
/*
 * The message store's SQLite backend (store.h): the embedded default, one
 * process, one file. WAL with synchronous=FULL: a commit is on disk when
 * sqlite3_step returns (the WAL is fsynced at every commit), so put may
 * acknowledge then; NORMAL would lose the last commits on power loss.
 *
 * Tables (schema 1, PRAGMA user_version; issue 15's several devices per
 * officer: senders and recipients are addresses, store.h):
 *   msgs(seq INTEGER PRIMARY KEY AUTOINCREMENT, sender, id, recipient,
 *        blob, stored_at)  UNIQUE(sender, recipient, id)
 *   seen(sender, recipient, id, acked_at)  PRIMARY KEY(sender, recipient,
 *        id): tombstones of delivered messages, so a late retry is still
 *        a duplicate; recipient '' (no address is empty): a tombstone of
 *        schema 0, which named no recipient, so it covers every one
 *   prekey_base(officer, device, bundle, published), prekey_opk(officer,
 *        device, opk, used): end-to-end prekeys as published (opaque),
 *        each one-time prekey handed out once (marked used in the
 *        transaction that reads it); published orders the devices
 * AUTOINCREMENT so a seq is never reused after deletes: a reader's
 * "after seq N" cursor stays right (the migration keeps the counter).
 * Schema 0 (before issue 15): msgs UNIQUE(sender, id), seen(sender, id,
 * acked_at), prekey_base(officer, bundle), prekey_opk(officer, opk,
 * used); sq_migrate0 rebuilds those tables in one transaction.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "twofold/cert.h"

#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)
#define SQ_SCHEMA 1 /* PRAGMA user_version; 0: before issue 15's devices */

struct sq_store {
	struct tf_store base;
	sqlite3 *db;
	sqlite3_stmt *ins, *seen_q, *next_q, *del, *tomb, *exp, *cnt;
	bool fresh; /* made at SQ_SCHEMA: seen_q has no ?4 */
};

static int sq_err(sqlite3 *db, int rc)
{
	int ext = sqlite3_extended_errcode(db);

	if (rc == SQLITE_FULL || ext == SQLITE_FULL)
		return -ENOSPC;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	return -EIO;
}

static bool name_ok(const char *s)
{
	size_t n = s ? strnlen(s, TF_STORE_NAME_MAX + 1) : 0;

	return n > 0 && n <= TF_STORE_NAME_MAX;
}

static int sq_exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_err(db, rc);
}

/* One put inside the caller's transaction: TF_STORE_STORED,
 * TF_STORE_DUPLICATE or -errno (the statement failed, the transaction is
 * the caller's to roll back). */
static int sq_put_one(struct sq_store *st, const char *sender,
		      const uint8_t id[TF_STORE_ID_BYTES],
		      const char *recipient, const uint8_t *blob, size_t len,
		      int64_t now)
{
	char officer[TF_STORE_NAME_MAX + 1];
	int rc;

	/* ?4: the sender's bare officer, the name its messages had before
	 * several devices per officer (seen_q's comment) */
	(void)tf_store_addr_officer(sender, officer);
	sqlite3_reset(st->seen_q);
	sqlite3_bind_text(st->seen_q, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->seen_q, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st->seen_q, 3, recipient, -1, SQLITE_STATIC);
	if (!st->fresh)
		sqlite3_bind_text(st->seen_q, 4, officer, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->seen_q);
	sqlite3_reset(st->seen_q);
	if (rc == SQLITE_ROW)
		return TF_STORE_DUPLICATE;
	if (rc != SQLITE_DONE)
		return sq_err(st->db, rc);
	sqlite3_reset(st->ins);
	sqlite3_bind_text(st->ins, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->ins, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st->ins, 3, recipient, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->ins, 4, blob ? (const void *)blob : "", (int)len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st->ins, 5, now);
	rc = sqlite3_step(st->ins);
	sqlite3_reset(st->ins);
	/* the statement alone is undone (ON CONFLICT ABORT), not the
	 * transaction: the rest of a batch goes on */
	if (rc == SQLITE_CONSTRAINT)
		return TF_STORE_DUPLICATE;
	if (rc != SQLITE_DONE)
		return sq_err(st->db, rc);
	return TF_STORE_STORED;
}

static bool put_ok(const char *sender, const char *recipient, const uint8_t *id,
		   const uint8_t *blob, size_t len)
{
	return name_ok(sender) && name_ok(recipient) && id != NULL &&
	       len <= TF_STORE_BLOB_MAX && (blob != NULL || len == 0);
}

/* BEGIN IMMEDIATE: the duplicate check and the insert must see the same
 * state even if a second relay process opened the file. */
static int sq_put(struct tf_store *base, const char *sender,
		  const uint8_t id[TF_STORE_ID_BYTES], const char *recipient,
		  const uint8_t *blob, size_t len, int64_t now)
{
	struct sq_store *st = (struct sq_store *)base;
	int r, c;

	if (!put_ok(sender, recipient, id, blob, len))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = sq_put_one(st, sender, id, recipient, blob, len, now);
	if (r != TF_STORE_STORED) {
		(void)sq_exec(st->db, "ROLLBACK");
		return r;
	}
	c = sq_exec(st->db, "COMMIT");
	if (c < 0) {
		(void)sq_exec(st->db, "ROLLBACK");
		return c;
	}
	return r;
}

static int sq_put_many(struct tf_store *base, struct tf_store_put_item *it,
		       size_t n, int64_t now)
{
	struct sq_store *st = (struct sq_store *)base;
	int r;

	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!put_ok(it[i].sender, it[i].recipient, it[i].id, it[i].blob,
			    it[i].len)) {
			it[i].result = -EINVAL;
			continue;
		}
		r = sq_put_one(st, it[i].sender, it[i].id, it[i].recipient,
			       it[i].blob, it[i].len, now);
		if (r < 0)
			goto rollback;
		it[i].result = r;
	}
	r = sq_exec(st->db, "COMMIT");
	if (r < 0)
		goto rollback;
	return 0;
rollback:
	(void)sq_exec(st->db, "ROLLBACK");
	return r;
}

static int sq_next(struct tf_store *base, const char *recipient,
		   int64_t after_seq, struct tf_stored_msg *out)
{
	struct sq_store *st = (struct sq_store *)base;
	struct tf_stored_msg m = {0};
	char officer[TF_STORE_NAME_MAX + 1];
	const void *b;
	const unsigned char *s, *rcpt;
	int rc, r = 0;

	if (!name_ok(recipient))
		return -EINVAL;
	/* a bare address: ?3 is the same, the union gives its rows once */
	(void)tf_store_addr_officer(recipient, officer);
	sqlite3_reset(st->next_q);
	sqlite3_bind_text(st->next_q, 1, recipient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st->next_q, 2, after_seq);
	sqlite3_bind_text(st->next_q, 3, officer, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->next_q);
	if (rc == SQLITE_DONE)
		goto out;
	if (rc != SQLITE_ROW) {
		r = sq_err(st->db, rc);
		goto out;
	}
	m.seq = sqlite3_column_int64(st->next_q, 0);
	s = sqlite3_column_text(st->next_q, 1);
	b = sqlite3_column_blob(st->next_q, 2);
	rcpt = sqlite3_column_text(st->next_q, 4);
	if (s == NULL || rcpt == NULL ||
	    sqlite3_column_bytes(st->next_q, 2) != TF_STORE_ID_BYTES) {
		r = -EIO; /* a row we never wrote: refuse, do not guess */
		goto out;
	}
	snprintf(m.sender, sizeof(m.sender), "%s", (const char *)s);
	snprintf(m.recipient, sizeof(m.recipient), "%s", (const char *)rcpt);
	memcpy(m.id, b, TF_STORE_ID_BYTES);
	m.len = (size_t)sqlite3_column_bytes(st->next_q, 3);
	m.blob = malloc(m.len ? m.len : 1);
	if (m.blob == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (m.len)
		memcpy(m.blob, sqlite3_column_blob(st->next_q, 3), m.len);
	*out = m;
	r = 1;
out:
	sqlite3_reset(st->next_q);
	return r;
}

/* inside the caller's transaction: 1 deleted, 0 none, -errno */
static int sq_del_one(struct sq_store *st, const char *recipient,
		      const char *sender, const uint8_t id[TF_STORE_ID_BYTES])
{
	int rc;

	sqlite3_reset(st->del);
	sqlite3_bind_text(st->del, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->del, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st->del, 3, recipient, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->del);
	sqlite3_reset(st->del);
	if (rc != SQLITE_DONE)
		return sq_err(st->db, rc);
	return sqlite3_changes(st->db) > 0;
}

static int sq_ack(struct tf_store *base, const char *recipient,
		  const char *sender, const uint8_t id[TF_STORE_ID_BYTES],
		  int64_t now)
{
	struct sq_store *st = (struct sq_store *)base;
	char officer[TF_STORE_NAME_MAX + 1];
	const char *row = recipient;
	int rc, r;

	if (!name_ok(recipient) || !name_ok(sender))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	/* the device's own copy first; only when it has none, the bare
	 * officer's row (stored for any of its devices) */
	r = sq_del_one(st, recipient, sender, id);
	if (r == 0 && tf_store_addr_officer(recipient, officer)) {
		row = officer;
		r = sq_del_one(st, officer, sender, id);
	}
	if (r < 0)
		goto rollback;
	if (r == 0) {
		r = -ENOENT;
		goto rollback;
	}
	sqlite3_reset(st->tomb);
	sqlite3_bind_text(st->tomb, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->tomb, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st->tomb, 3, now);
	sqlite3_bind_text(st->tomb, 4, row, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->tomb);
	sqlite3_reset(st->tomb);
	if (rc != SQLITE_DONE) {
		r = sq_err(st->db, rc);
		goto rollback;
	}
	r = sq_exec(st->db, "COMMIT");
	if (r < 0)
		goto rollback;
	return 0;
rollback:
	(void)sq_exec(st->db, "ROLLBACK");
	return r;
}

static int sq_expire(struct tf_store *base, int64_t before)
{
	struct sq_store *st = (struct sq_store *)base;
	int rc;

	sqlite3_reset(st->exp);
	sqlite3_bind_int64(st->exp, 1, before);
	rc = sqlite3_step(st->exp);
	sqlite3_reset(st->exp);
	if (rc != SQLITE_DONE)
		return sq_err(st->db, rc);
	return sqlite3_changes(st->db);
}

static int sq_count(struct tf_store *base, const char *recipient)
{
	struct sq_store *st = (struct sq_store *)base;
	char officer[TF_STORE_NAME_MAX + 1];
	int rc, n;

	if (!name_ok(recipient))
		return -EINVAL;
	/* a bare address counts its rows once: the IN list has it twice */
	(void)tf_store_addr_officer(recipient, officer);
	sqlite3_reset(st->cnt);
	sqlite3_bind_text(st->cnt, 1, recipient, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->cnt, 2, officer, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->cnt);
	n = rc == SQLITE_ROW ? sqlite3_column_int(st->cnt, 0)
			     : sq_err(st->db, rc);
	sqlite3_reset(st->cnt);
	return n;
}

/* A statement with text ?1 (and ?2 when two), blob ?3 (when blob) */
static int sq_one(sqlite3 *db, const char *sql, const char *officer,
		  const char *device, const uint8_t *blob, size_t len)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	if (device != NULL)
		sqlite3_bind_text(q, 2, device, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(q, 3, blob, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : sq_err(db, rc);
}

static int sq_count_opk(sqlite3 *db, const char *officer, const char *device)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT count(*) FROM prekey_opk WHERE "
				    "officer=?1 AND device=?2 AND used=0",
				    -1, &q, NULL);
	int n;

	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, device, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	n = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : sq_err(db, rc);
	sqlite3_finalize(q);
	return n;
}

static bool device_ok(const char *d)
{
	size_t n = d ? strnlen(d, TF_STORE_DEVICE_MAX + 1) : 0;

	return n > 0 && n <= TF_STORE_DEVICE_MAX;
}

static int sq_prekey_put(struct tf_store *base, const char *officer,
			 const char *device, const uint8_t *b, size_t blen,
			 const uint8_t *opks, size_t n, size_t opklen)
{
	struct sq_store *st = (struct sq_store *)base;
	int r, left = 0;

	if (!name_ok(officer) || !device_ok(device) || blen == 0 ||
	    blen > TF_STORE_BLOB_MAX ||
	    (n && (opks == NULL || opklen < 5 || opklen > 256)))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	/* published: this device is now the officer's newest (a bare
	 * BUNDLE_GET's answer, DEVICES' order when there are too many) */
	r = sq_one(
		st->db,
		"INSERT OR REPLACE INTO prekey_base(officer, device, bundle, "
		"published) VALUES(?1, ?2, ?3, (SELECT coalesce(max("
		"published), 0) + 1 FROM prekey_base))",
		officer, device, b, blen);
	/* a device may publish again and again: its one-time prekeys on
	 * the relay stay bounded (the extra ones are not kept) */
	if (r == 0) {
		int have = sq_count_opk(st->db, officer, device);

		if (have < 0)
			r = have;
		else if ((size_t)have >= TF_STORE_OPK_MAX)
			n = 0;
		else if (n > TF_STORE_OPK_MAX - (size_t)have)
			n = TF_STORE_OPK_MAX - (size_t)have;
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = sq_one(st->db,
			   "INSERT OR IGNORE INTO prekey_opk(officer, device, "
			   "opk) VALUES(?1, ?2, ?3)",
			   officer, device, opks + i * opklen, opklen);
	/* tombstones bounded too: the newest TF_STORE_OPK_TOMBS kept */
	if (r == 0)
		r = sq_one(st->db,
			   "DELETE FROM prekey_opk WHERE officer=?1 AND "
			   "device=?2 AND used=1 AND rowid NOT IN (SELECT "
			   "rowid FROM prekey_opk WHERE officer=?1 AND "
			   "device=?2 AND used=1 ORDER BY rowid DESC "
			   "LIMIT " SQ_STR(TF_STORE_OPK_TOMBS) ")",
			   officer, device, NULL, 0);
	if (r == 0 && (left = sq_count_opk(st->db, officer, device)) < 0)
		r = left;
	if (r == 0)
		r = sq_exec(st->db, "COMMIT");
	if (r < 0)
		(void)sq_exec(st->db, "ROLLBACK");
	return r < 0 ? r : left;
}

static int sq_prekey_take(struct tf_store *base, const char *officer,
			  const char *device,
			  char devout[TF_STORE_DEVICE_MAX + 1],
			  uint8_t **bundle, size_t *blen, uint8_t *opk,
			  size_t opkcap, size_t *opklen)
{
	struct sq_store *st = (struct sq_store *)base;
	sqlite3_stmt *q = NULL;
	char dev[TF_STORE_DEVICE_MAX + 1];
	const unsigned char *d;
	uint8_t *b = NULL;
	size_t n = 0, on = 0;
	int64_t row = 0;
	int rc, r;

	if (!name_ok(officer) || (device[0] != '\0' && !device_ok(device)))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(
		st->db,
		device[0] != '\0'
			? "SELECT device, bundle FROM prekey_base WHERE "
			  "officer=?1 AND device=?2"
			: "SELECT device, bundle FROM prekey_base WHERE "
			  "officer=?1 ORDER BY published DESC LIMIT 1",
		-1, &q, NULL);
	if (rc != SQLITE_OK) {
		q = NULL;
		r = sq_err(st->db, rc);
		goto rollback;
	}
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	if (device[0] != '\0')
		sqlite3_bind_text(q, 2, device, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		r = 0;
		goto rollback;
	}
	if (rc != SQLITE_ROW) {
		r = sq_err(st->db, rc);
		goto rollback;
	}
	d = sqlite3_column_text(q, 0);
	if (d == NULL || !device_ok((const char *)d)) {
		r = -EIO; /* a row we never wrote */
		goto rollback;
	}
	snprintf(dev, sizeof(dev), "%s", (const char *)d);
	n = (size_t)sqlite3_column_bytes(q, 1);
	b = malloc(n ? n : 1);
	if (b == NULL) {
		r = -ENOMEM;
		goto rollback;
	}
	memcpy(b, sqlite3_column_blob(q, 1), n);
	sqlite3_finalize(q);
	rc = sqlite3_prepare_v2(st->db,
				"SELECT rowid, opk FROM prekey_opk WHERE "
				"officer=?1 AND device=?2 AND used=0 ORDER BY "
				"rowid LIMIT 1",
				-1, &q, NULL);
	if (rc != SQLITE_OK) {
		q = NULL;
		r = sq_err(st->db, rc);
		goto rollback;
	}
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, dev, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		row = sqlite3_column_int64(q, 0);
		on = (size_t)sqlite3_column_bytes(q, 1);
		if (on > opkcap) {
			r = -EIO;
			goto rollback;
		}
		memcpy(opk, sqlite3_column_blob(q, 1), on);
	} else if (rc != SQLITE_DONE) {
		r = sq_err(st->db, rc);
		goto rollback;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (on) {
		/* handed out once: marked before the reply leaves. The row
		 * stays as a tombstone (a public key, no secret), so a
		 * device that publishes again (its reply was lost) cannot
		 * bring back a key someone else already holds */
		rc = sqlite3_prepare_v2(st->db,
					"UPDATE prekey_opk SET used=1 WHERE "
					"rowid=?1",
					-1, &q, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, row);
			rc = sqlite3_step(q);
		}
		sqlite3_finalize(q);
		q = NULL;
		if (rc != SQLITE_DONE) {
			r = sq_err(st->db, rc);
			goto rollback;
		}
	}
	r = sq_exec(st->db, "COMMIT");
	if (r < 0)
		goto rollback;
	*bundle = b;
	*blen = n;
	*opklen = on;
	memcpy(devout, dev, sizeof(dev));
	return 1;
rollback:
	sqlite3_finalize(q);
	free(b);
	(void)sq_exec(st->db, "ROLLBACK");
	return r;
}

static int sq_prekey_list(struct tf_store *base, const char *officer,
			  struct tf_store_bundle *out, size_t max)
{
	struct sq_store *st = (struct sq_store *)base;
	sqlite3_stmt *q = NULL;
	size_t k = 0;
	int rc, r = 0;

	if (!name_ok(officer))
		return -EINVAL;
	rc = sqlite3_prepare_v2(st->db,
				"SELECT device, bundle FROM prekey_base WHERE "
				"officer=?1 ORDER BY published DESC LIMIT ?2",
				-1, &q, NULL);
	if (rc != SQLITE_OK)
		return sq_err(st->db, rc);
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)max);
	while (k < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *d = sqlite3_column_text(q, 0);
		size_t n = (size_t)sqlite3_column_bytes(q, 1);

		if (d == NULL || !device_ok((const char *)d)) {
			r = -EIO;
			break;
		}
		out[k].bundle = malloc(n ? n : 1);
		if (out[k].bundle == NULL) {
			r = -ENOMEM;
			break;
		}
		if (n)
			memcpy(out[k].bundle, sqlite3_column_blob(q, 1), n);
		out[k].len = n;
		snprintf(out[k].device, sizeof(out[k].device), "%s",
			 (const char *)d);
		k++;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sq_err(st->db, rc);
	sqlite3_finalize(q);
	if (r < 0) {
		for (size_t i = 0; i < k; i++)
			tf_store_bundle_clear(&out[i]);
		return r;
	}
	return (int)k;
}

static void sq_close(struct tf_store *base)
{
	struct sq_store *st = (struct sq_store *)base;

	sqlite3_finalize(st->ins);
	sqlite3_finalize(st->seen_q);
	sqlite3_finalize(st->next_q);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->tomb);
	sqlite3_finalize(st->exp);
	sqlite3_finalize(st->cnt);
	sqlite3_close(st->db);
	free(st);
}

static const struct tf_store_ops sq_ops = {
	.name = "sqlite",
	.put_many = sq_put_many,
	.put = sq_put,
	.next = sq_next,
	.ack = sq_ack,
	.expire = sq_expire,
	.count = sq_count,
	.prekey_put = sq_prekey_put,
	.prekey_take = sq_prekey_take,
	.prekey_list = sq_prekey_list,
	.close = sq_close,
};

static const char pragmas[] = "PRAGMA synchronous=FULL;"
			      "PRAGMA foreign_keys=ON;";

#define SQ_BUSY_MS 5000 /* the busy timeout, and the WAL switch's wait */

/* PRAGMA journal_mode=WAL, waiting as the busy timeout would. The busy
 * handler does not cover it: on a file still in rollback mode (a fresh
 * one) the switch reads page 1 under a shared lock, then upgrades to an
 * exclusive lock to write the WAL version bytes, and SQLite never calls
 * the busy handler for a lock wanted while this connection already holds
 * a read transaction (it could deadlock), so it returns SQLITE_BUSY at
 * once when another process is doing the same (SQLite 3.40.1 showed it:
 * 4 processes opening one fresh file failed about one open in six). We
 * hold no lock between tries, so retrying cannot deadlock. The mode is
 * persistent in the file: once one process has switched it, the others'
 * pragma is a no-op that returns "wal". */
static int sq_wal(sqlite3 *db)
{
	int waited = 0, step = 1, rc;

	for (;;) {
		sqlite3_stmt *q = NULL;
		bool wal = false;

		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &q,
					NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(q);
			if (rc == SQLITE_ROW) {
				const unsigned char *m =
					sqlite3_column_text(q, 0);

				wal = m != NULL &&
				      !sqlite3_stricmp((const char *)m, "wal");
				rc = SQLITE_OK;
			}
		}
		sqlite3_finalize(q);
		if (rc == SQLITE_OK)
			return wal ? 0 : -EIO; /* WAL refused: not our store */
		if ((rc & 0xff) != SQLITE_BUSY || waited >= SQ_BUSY_MS)
			return sq_err(db, rc);
		/* 1, 2, 4 .. 32 ms: the other process's switch is short */
		waited += sqlite3_sleep(step);
		if (step < 32)
			step *= 2;
	}
}

/* schema 1 */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS msgs("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sender TEXT NOT NULL, id BLOB NOT NULL, recipient TEXT NOT NULL,"
	" blob BLOB NOT NULL, stored_at INTEGER NOT NULL,"
	" UNIQUE(sender, recipient, id));"
	"CREATE INDEX IF NOT EXISTS msgs_rcpt ON msgs(recipient, seq);"
	"CREATE TABLE IF NOT EXISTS seen("
	" sender TEXT NOT NULL, recipient TEXT NOT NULL, id BLOB NOT NULL,"
	" acked_at INTEGER NOT NULL,"
	" PRIMARY KEY(sender, recipient, id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS seen_age ON seen(acked_at);"
	"CREATE TABLE IF NOT EXISTS prekey_base("
	" officer TEXT NOT NULL, device TEXT NOT NULL, bundle BLOB NOT NULL,"
	" published INTEGER NOT NULL,"
	" PRIMARY KEY(officer, device)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS prekey_pub ON prekey_base(published);"
	"CREATE TABLE IF NOT EXISTS prekey_opk("
	" officer TEXT NOT NULL, device TEXT NOT NULL, opk BLOB NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, UNIQUE(officer, device, opk));";

/* Schema 0 -> 1, inside the caller's transaction: the old tables are
 * renamed, the new ones made, the rows copied (messages with their seq,
 * and the AUTOINCREMENT counter kept, so no seq is reused), and each old
 * bundle moved to the device its certificate names (one that does not
 * parse was of no use to anyone: dropped, with its one-time prekeys). */
static int sq_migrate0(sqlite3 *db)
{
	static const char before[] =
		"DROP INDEX IF EXISTS msgs_rcpt;"
		"DROP INDEX IF EXISTS seen_age;"
		"ALTER TABLE msgs RENAME TO msgs_v0;"
		"ALTER TABLE seen RENAME TO seen_v0;"
		"ALTER TABLE prekey_base RENAME TO prekey_base_v0;"
		"ALTER TABLE prekey_opk RENAME TO prekey_opk_v0;";
	static const char copy[] =
		"INSERT INTO msgs(seq, sender, id, recipient, blob, stored_at)"
		" SELECT seq, sender, id, recipient, blob, stored_at"
		" FROM msgs_v0 ORDER BY seq;"
		"INSERT INTO seen(sender, recipient, id, acked_at)"
		" SELECT sender, '', id, acked_at FROM seen_v0;"
		/* the counter: the largest of the old one and the rows */
		"INSERT INTO sqlite_sequence(name, seq)"
		" SELECT 'msgs', 0 WHERE NOT EXISTS"
		" (SELECT 1 FROM sqlite_sequence WHERE name='msgs');"
		"UPDATE sqlite_sequence SET seq=max(seq, coalesce((SELECT"
		" max(seq) FROM sqlite_sequence WHERE name='msgs_v0'), 0))"
		" WHERE name='msgs';";
	static const char after[] = "DROP TABLE msgs_v0;"
				    "DROP TABLE seen_v0;"
				    "DROP TABLE prekey_base_v0;"
				    "DROP TABLE prekey_opk_v0;";
	sqlite3_stmt *q = NULL;
	int64_t pub = 0;
	int rc, r;

	r = sq_exec(db, before);
	if (r == 0)
		r = sq_exec(db, schema);
	if (r == 0)
		r = sq_exec(db, copy);
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(
		db, "SELECT officer, bundle FROM prekey_base_v0", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *o = sqlite3_column_text(q, 0);
		const uint8_t *b = sqlite3_column_blob(q, 1);
		size_t n = (size_t)sqlite3_column_bytes(q, 1);
		char dev[TF_STORE_DEVICE_MAX + 1];
		sqlite3_stmt *ins = NULL;

		if (o == NULL || b == NULL ||
		    tf_store_bundle_device(b, n, dev) < 0)
			continue;
		rc = sqlite3_prepare_v2(
			db,
			"INSERT OR REPLACE INTO prekey_base(officer, device, "
			"bundle, published) VALUES(?1, ?2, ?3, ?4)",
			-1, &ins, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(ins, 1, (const char *)o, -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(ins, 2, dev, -1, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 3, b, (int)n, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 4, ++pub);
			rc = sqlite3_step(ins);
		}
		sqlite3_finalize(ins);
		if (rc != SQLITE_DONE) {
			r = sq_err(db, rc);
			break;
		}
		r = sq_one(db,
			   "INSERT OR IGNORE INTO prekey_opk(officer, device, "
			   "opk, used) SELECT officer, ?2, opk, used FROM "
			   "prekey_opk_v0 WHERE officer=?1 ORDER BY rowid",
			   (const char *)o, dev, NULL, 0);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_err(db, rc);
	sqlite3_finalize(q);
	if (r == 0)
		r = sq_exec(db, after);
	return r;
}

static int sq_user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : sq_err(db, rc);
}

/* 1 when the table exists, 0 when not, -errno */
static int sq_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT 1 FROM sqlite_master WHERE "
				    "type='table' AND name=?1",
				    -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	return sq_err(db, rc);
}

/* The mark of a store made at schema 1 (never made by sq_migrate0): it
 * holds no row of schema 0 (a tombstone naming no recipient, a sender
 * named by its bare officer), and none can come (a session's address
 * always has a device), so a put looks for its own name only
 * (seen_fresh in tf_store_open_sqlite). */
#define SQ_FRESH "relay_fresh"

/* The schema at SQ_SCHEMA, in one transaction (BEGIN IMMEDIATE: a
 * second relay process opening the same file waits, then sees it done);
 * *fresh: made at SQ_SCHEMA (SQ_FRESH) */
static int sq_schema(sqlite3 *db, bool *fresh)
{
	sqlite3_stmt *q = NULL;
	bool old = false;
	int v = 0, rc, r;

	r = sq_exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = sq_user_version(db, &v);
	if (r == 0 && v > SQ_SCHEMA)
		r = -EPROTO; /* a newer relay's: not ours to guess at */
	if (r == 0 && v == 0) {
		/* version 0 with a msgs table: a store from before */
		rc = sqlite3_prepare_v2(db,
					"SELECT 1 FROM sqlite_master WHERE "
					"type='table' AND name='msgs'",
					-1, &q, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(q);
			old = rc == SQLITE_ROW;
			if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				rc = SQLITE_OK;
		}
		sqlite3_finalize(q);
		if (rc != SQLITE_OK)
			r = sq_err(db, rc);
	}
	if (r == 0 && old)
		r = sq_migrate0(db);
	else if (r == 0)
		r = sq_exec(db, schema);
	if (r == 0 && v == 0 && !old)
		r = sq_exec(db, "CREATE TABLE " SQ_FRESH "(x);");
	if (r == 0) {
		r = sq_has_table(db, SQ_FRESH);
		*fresh = r == 1;
		r = r < 0 ? r : 0;
	}
	if (r == 0 && v != SQ_SCHEMA)
		r = sq_exec(db, "PRAGMA user_version=" SQ_STR(SQ_SCHEMA));
	if (r == 0)
		r = sq_exec(db, "COMMIT");
	if (r < 0)
		(void)sq_exec(db, "ROLLBACK");
	return r;
}

int tf_store_open_sqlite(const char *path, struct tf_store **out)
{
	struct sq_store *st = calloc(1, sizeof(*st));
	bool fresh = false;
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} q[] = {
		{&st->ins, "INSERT INTO msgs(sender, id, recipient, blob, "
			   "stored_at) VALUES(?1, ?2, ?3, ?4, ?5)"},
		/* a tombstone of schema 0 ('') covers every recipient; and a
		 * message stored or delivered before the migration was
		 * named by its sender's bare officer (?4): the same device's
		 * retry after it, now under its officer/device, is still a
		 * duplicate (a bare sender only ever comes from before: a
		 * session's address always has a device) */
		{&st->seen_q,
		 "SELECT 1 FROM seen WHERE sender=?1 AND recipient IN (?3, '') "
		 "AND id=?2 UNION ALL SELECT 1 FROM seen WHERE sender=?4 AND "
		 "?4<>?1 AND recipient IN (?3, '') AND id=?2 UNION ALL SELECT "
		 "1 "
		 "FROM msgs WHERE sender=?4 AND ?4<>?1 AND recipient=?3 AND "
		 "id=?2 LIMIT 1"},
		/* each half by its index, then the earlier: one row each,
		 * not a sort of all the recipient's rows per step */
		{&st->next_q,
		 "SELECT * FROM (SELECT seq, sender, id, blob, recipient FROM "
		 "msgs WHERE recipient=?1 AND seq>?2 ORDER BY seq LIMIT 1) "
		 "UNION ALL SELECT * FROM (SELECT seq, sender, id, blob, "
		 "recipient FROM msgs WHERE recipient=?3 AND ?3<>?1 AND "
		 "seq>?2 ORDER BY seq LIMIT 1) ORDER BY 1 LIMIT 1"},
		{&st->del, "DELETE FROM msgs WHERE sender=?1 AND id=?2 AND "
			   "recipient=?3"},
		{&st->tomb, "INSERT OR REPLACE INTO seen(sender, recipient, "
			    "id, acked_at) VALUES(?1, ?4, ?2, ?3)"},
		{&st->exp, "DELETE FROM seen WHERE acked_at<?1"},
		{&st->cnt, "SELECT count(*) FROM msgs WHERE recipient IN "
			   "(?1, ?2)"},
	};
	int rc, r;

	if (st == NULL)
		return -ENOMEM;
	st->base.ops = &sq_ops;
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		r = st->db ? sq_err(st->db, rc) : -ENOMEM;
		goto fail;
	}
	/* a second process (a restarted relay whose old one still exits)
	 * waits a little instead of failing */
	sqlite3_busy_timeout(st->db, SQ_BUSY_MS);
	r = sq_wal(st->db);
	if (r == 0)
		r = sq_exec(st->db, pragmas);
	if (r == 0)
		r = sq_schema(st->db, &fresh);
	if (r < 0)
		goto fail;
	/* a store made at this schema: its own name only (SQ_FRESH) */
	if (fresh)
		q[1].sql = "SELECT 1 FROM seen WHERE sender=?1 AND "
			   "recipient=?3 AND id=?2";
	st->fresh = fresh;
	for (size_t i = 0; i < TF_ARRAY_SIZE(q); i++) {
		rc = sqlite3_prepare_v2(st->db, q[i].sql, -1, q[i].st, NULL);
		if (rc != SQLITE_OK) {
			r = sq_err(st->db, rc);
			goto fail;
		}
	}
	*out = &st->base;
	return 0;
fail:
	sq_close(&st->base);
	return r;
}

void tf_stored_msg_clear(struct tf_stored_msg *m)
{
	free(m->blob);
	m->blob = NULL;
	m->len = 0;
}
