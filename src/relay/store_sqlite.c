/* SPDX-License-Identifier: ISC */
/*
 * The message store's SQLite backend (store.h): the embedded default, one
 * process, one file. WAL with synchronous=FULL: a commit is on disk when
 * sqlite3_step returns (the WAL is fsynced at every commit), so put may
 * acknowledge then; NORMAL would lose the last commits on power loss.
 *
 * Tables:
 *   msgs(seq INTEGER PRIMARY KEY AUTOINCREMENT, sender, id, recipient,
 *        blob, stored_at)  UNIQUE(sender, id)
 *   seen(sender, id, acked_at)  PRIMARY KEY(sender, id): tombstones of
 *        delivered messages, so a late retry is still a duplicate
 *   prekey_base(officer, bundle), prekey_opk(officer, opk, used):
 *        end-to-end prekeys as published (opaque), each one-time prekey
 *        handed out once (marked used in the transaction that reads it)
 * AUTOINCREMENT so a seq is never reused after deletes: a reader's
 * "after seq N" cursor stays right.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)

struct sq_store {
	struct tf_store base;
	sqlite3 *db;
	sqlite3_stmt *ins, *seen_q, *next_q, *del, *tomb, *exp, *cnt;
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
	int rc;

	sqlite3_reset(st->seen_q);
	sqlite3_bind_text(st->seen_q, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->seen_q, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
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
	const void *b;
	const unsigned char *s;
	int rc, r = 0;

	if (!name_ok(recipient))
		return -EINVAL;
	sqlite3_reset(st->next_q);
	sqlite3_bind_text(st->next_q, 1, recipient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st->next_q, 2, after_seq);
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
	if (s == NULL ||
	    sqlite3_column_bytes(st->next_q, 2) != TF_STORE_ID_BYTES) {
		r = -EIO; /* a row we never wrote: refuse, do not guess */
		goto out;
	}
	snprintf(m.sender, sizeof(m.sender), "%s", (const char *)s);
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

static int sq_ack(struct tf_store *base, const char *recipient,
		  const char *sender, const uint8_t id[TF_STORE_ID_BYTES],
		  int64_t now)
{
	struct sq_store *st = (struct sq_store *)base;
	int rc, r;

	if (!name_ok(recipient) || !name_ok(sender))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	sqlite3_reset(st->del);
	sqlite3_bind_text(st->del, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->del, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st->del, 3, recipient, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->del);
	sqlite3_reset(st->del);
	if (rc != SQLITE_DONE) {
		r = sq_err(st->db, rc);
		goto rollback;
	}
	if (sqlite3_changes(st->db) == 0) {
		r = -ENOENT;
		goto rollback;
	}
	sqlite3_reset(st->tomb);
	sqlite3_bind_text(st->tomb, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->tomb, 2, id, TF_STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st->tomb, 3, now);
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
	int rc, n;

	if (!name_ok(recipient))
		return -EINVAL;
	sqlite3_reset(st->cnt);
	sqlite3_bind_text(st->cnt, 1, recipient, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->cnt);
	n = rc == SQLITE_ROW ? sqlite3_column_int(st->cnt, 0)
			     : sq_err(st->db, rc);
	sqlite3_reset(st->cnt);
	return n;
}

static int sq_one(sqlite3 *db, const char *sql, const char *officer,
		  const uint8_t *blob, size_t len)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(q, 2, blob, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : sq_err(db, rc);
}

static int sq_count_opk(sqlite3 *db, const char *officer)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(
		db,
		"SELECT count(*) FROM prekey_opk WHERE officer=?1 AND used=0",
		-1, &q, NULL);
	int n;

	if (rc != SQLITE_OK)
		return sq_err(db, rc);
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	n = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : sq_err(db, rc);
	sqlite3_finalize(q);
	return n;
}

static int sq_prekey_put(struct tf_store *base, const char *officer,
			 const uint8_t *b, size_t blen, const uint8_t *opks,
			 size_t n, size_t opklen)
{
	struct sq_store *st = (struct sq_store *)base;
	int r, left = 0;

	if (!name_ok(officer) || blen == 0 || blen > TF_STORE_BLOB_MAX ||
	    (n && (opks == NULL || opklen < 5 || opklen > 256)))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = sq_one(st->db,
		   "INSERT OR REPLACE INTO prekey_base(officer, bundle) "
		   "VALUES(?1, ?2)",
		   officer, b, blen);
	/* a device may publish again and again: its one-time prekeys on
	 * the relay stay bounded (the extra ones are not kept) */
	if (r == 0) {
		int have = sq_count_opk(st->db, officer);

		if (have < 0)
			r = have;
		else if ((size_t)have >= TF_STORE_OPK_MAX)
			n = 0;
		else if (n > TF_STORE_OPK_MAX - (size_t)have)
			n = TF_STORE_OPK_MAX - (size_t)have;
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = sq_one(st->db,
			   "INSERT OR IGNORE INTO prekey_opk(officer, opk) "
			   "VALUES(?1, ?2)",
			   officer, opks + i * opklen, opklen);
	/* tombstones bounded too: the newest TF_STORE_OPK_TOMBS kept */
	if (r == 0)
		r = sq_one(st->db,
			   "DELETE FROM prekey_opk WHERE officer=?1 AND used=1 "
			   "AND rowid NOT IN (SELECT rowid FROM prekey_opk "
			   "WHERE officer=?1 AND used=1 ORDER BY rowid DESC "
			   "LIMIT " SQ_STR(TF_STORE_OPK_TOMBS) ")",
			   officer, NULL, 0);
	if (r == 0 && (left = sq_count_opk(st->db, officer)) < 0)
		r = left;
	if (r == 0)
		r = sq_exec(st->db, "COMMIT");
	if (r < 0)
		(void)sq_exec(st->db, "ROLLBACK");
	return r < 0 ? r : left;
}

static int sq_prekey_take(struct tf_store *base, const char *officer,
			  uint8_t **bundle, size_t *blen, uint8_t *opk,
			  size_t opkcap, size_t *opklen)
{
	struct sq_store *st = (struct sq_store *)base;
	sqlite3_stmt *q = NULL;
	uint8_t *b = NULL;
	size_t n = 0, on = 0;
	int64_t row = 0;
	int rc, r;

	if (!name_ok(officer))
		return -EINVAL;
	r = sq_exec(st->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(
		st->db, "SELECT bundle FROM prekey_base WHERE officer=?1", -1,
		&q, NULL);
	if (rc != SQLITE_OK) {
		r = sq_err(st->db, rc);
		goto rollback;
	}
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		r = 0;
		goto rollback;
	}
	if (rc != SQLITE_ROW) {
		r = sq_err(st->db, rc);
		goto rollback;
	}
	n = (size_t)sqlite3_column_bytes(q, 0);
	b = malloc(n ? n : 1);
	if (b == NULL) {
		r = -ENOMEM;
		goto rollback;
	}
	memcpy(b, sqlite3_column_blob(q, 0), n);
	sqlite3_finalize(q);
	rc = sqlite3_prepare_v2(st->db,
				"SELECT rowid, opk FROM prekey_opk WHERE "
				"officer=?1 AND used=0 ORDER BY rowid LIMIT 1",
				-1, &q, NULL);
	if (rc != SQLITE_OK) {
		q = NULL;
		r = sq_err(st->db, rc);
		goto rollback;
	}
	sqlite3_bind_text(q, 1, officer, -1, SQLITE_STATIC);
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
	return 1;
rollback:
	sqlite3_finalize(q);
	free(b);
	(void)sq_exec(st->db, "ROLLBACK");
	return r;
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
	.close = sq_close,
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"PRAGMA foreign_keys=ON;"
	"CREATE TABLE IF NOT EXISTS msgs("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sender TEXT NOT NULL, id BLOB NOT NULL, recipient TEXT NOT NULL,"
	" blob BLOB NOT NULL, stored_at INTEGER NOT NULL,"
	" UNIQUE(sender, id));"
	"CREATE INDEX IF NOT EXISTS msgs_rcpt ON msgs(recipient, seq);"
	"CREATE TABLE IF NOT EXISTS seen("
	" sender TEXT NOT NULL, id BLOB NOT NULL, acked_at INTEGER NOT NULL,"
	" PRIMARY KEY(sender, id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS seen_age ON seen(acked_at);"
	"CREATE TABLE IF NOT EXISTS prekey_base("
	" officer TEXT PRIMARY KEY, bundle BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS prekey_opk("
	" officer TEXT NOT NULL, opk BLOB NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, UNIQUE(officer, opk));";

int tf_store_open_sqlite(const char *path, struct tf_store **out)
{
	struct sq_store *st = calloc(1, sizeof(*st));
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} q[] = {
		{&st->ins, "INSERT INTO msgs(sender, id, recipient, blob, "
			   "stored_at) VALUES(?1, ?2, ?3, ?4, ?5)"},
		{&st->seen_q, "SELECT 1 FROM seen WHERE sender=?1 AND id=?2"},
		{&st->next_q, "SELECT seq, sender, id, blob FROM msgs WHERE "
			      "recipient=?1 AND seq>?2 ORDER BY seq LIMIT 1"},
		{&st->del, "DELETE FROM msgs WHERE sender=?1 AND id=?2 AND "
			   "recipient=?3"},
		{&st->tomb, "INSERT OR REPLACE INTO seen(sender, id, acked_at) "
			    "VALUES(?1, ?2, ?3)"},
		{&st->exp, "DELETE FROM seen WHERE acked_at<?1"},
		{&st->cnt, "SELECT count(*) FROM msgs WHERE recipient=?1"},
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
	sqlite3_busy_timeout(st->db, 5000);
	r = sq_exec(st->db, schema);
	if (r < 0)
		goto fail;
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
