/* SPDX-License-Identifier: ISC */
/* The relay's message store, both backends: stored is durable across a
 * reopen, client-chosen ids deduplicate (also after delivery: the
 * tombstone), arrival order per recipient, delete on ack, expiry of
 * tombstones, bounds; SQLite: WAL mode; PostgreSQL: a primary restart
 * fails a put ("retry later") and the store works again after it, and
 * a COMMIT whose answer was lost is a duplicate when retried.
 * SQLite by default; PostgreSQL when TF_TEST_STORE_PG names a cluster
 * (with_pg.sh starts a private one, meson's relay_store_pg). SQLite:
 * several processes opening one fresh file at once all succeed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store.h"
#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/wg.h"

static char dir[] = "/tmp/tfstore.XXXXXX";
static char path[64];
static const char *pg; /* the PostgreSQL connection string, or NULL */

static int open_store(struct tf_store **st)
{
	char why[256];
	int r;

	if (pg == NULL)
		return tf_store_open_sqlite(path, st);
	r = tf_store_open_pg(pg, st, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "open: %s\n", why);
	return r;
}

/* a fresh schema: the store creates it again */
static int pg_reset(void)
{
	PGconn *c = PQconnectdb(pg);
	PGresult *res = PQexec(c, "DROP TABLE IF EXISTS msgs, seen, "
				  "prekey_base, prekey_opk, relay_schema, "
				  "prekey_base_v1, prekey_opk_v1; "
				  "DROP SEQUENCE IF EXISTS prekey_pub");
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	PQfinish(c);
	return ok ? 0 : -1;
}

static int setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/store.db", dir);
	return pg != NULL ? pg_reset() : 0;
}

static int teardown(void **state)
{
	char p[96];
	static const char *const sfx[] = {"", "-wal", "-shm"};

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
		/* test_migrate's, when it failed before removing it */
		snprintf(p, sizeof(p), "%s/old.db%s", dir, sfx[i]);
		unlink(p);
	}
	return rmdir(dir);
}

static void id_of(uint8_t id[TF_STORE_ID_BYTES], unsigned n)
{
	memset(id, 0, TF_STORE_ID_BYTES);
	id[0] = (uint8_t)n;
	id[1] = (uint8_t)(n >> 8);
}

static void test_store(void **state)
{
	struct tf_store *st = NULL;
	struct tf_stored_msg m;
	uint8_t id[TF_STORE_ID_BYTES];
	int64_t seq = 0;

	assert_int_equal(open_store(&st), 0);
	/* two senders interleaved, to one recipient */
	for (unsigned i = 0; i < 10; i++) {
		char blob[16];
		snprintf(blob, sizeof(blob), "%s-%u", i % 2 ? "b" : "a", i);
		id_of(id, i);
		assert_int_equal(tf_store_put(st, i % 2 ? "bob" : "alice", id,
					      "carol", (uint8_t *)blob,
					      strlen(blob), 100),
				 TF_STORE_STORED);
	}
	/* a retry of a stored message */
	id_of(id, 4);
	assert_int_equal(tf_store_put(st, "alice", id, "carol",
				      (const uint8_t *)"x", 1, 101),
			 TF_STORE_DUPLICATE);
	/* the same id from another sender is another message */
	assert_int_equal(tf_store_put(st, "bob", id, "carol",
				      (const uint8_t *)"b-dup-id", 8, 101),
			 TF_STORE_STORED);
	assert_int_equal(tf_store_count(st, "carol"), 11);
	assert_int_equal(tf_store_count(st, "dave"), 0);
	tf_store_close(st);

	/* durable: a new process sees everything, in order */
	assert_int_equal(open_store(&st), 0);
	for (unsigned i = 0; i < 10; i++) {
		char want[16];
		snprintf(want, sizeof(want), "%s-%u", i % 2 ? "b" : "a", i);
		assert_int_equal(tf_store_next(st, "carol", seq, &m), 1);
		assert_true(m.seq > seq);
		seq = m.seq;
		assert_int_equal(m.len, strlen(want));
		assert_memory_equal(m.blob, want, m.len);
		assert_string_equal(m.sender, i % 2 ? "bob" : "alice");
		assert_int_equal(tf_store_ack(st, "carol", m.sender, m.id, 200),
				 0);
		tf_stored_msg_clear(&m);
	}
	assert_int_equal(tf_store_next(st, "carol", seq, &m), 1);
	assert_memory_equal(m.blob, "b-dup-id", 8);
	tf_stored_msg_clear(&m);
	/* acked twice / for someone else */
	id_of(id, 0);
	assert_int_equal(tf_store_ack(st, "carol", "alice", id, 201), -ENOENT);
	id_of(id, 4);
	assert_int_equal(tf_store_ack(st, "dave", "bob", id, 201), -ENOENT);
	/* a late retry after delivery is still a duplicate (tombstone) */
	id_of(id, 2);
	assert_int_equal(tf_store_put(st, "alice", id, "carol",
				      (const uint8_t *)"a-2", 3, 300),
			 TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_count(st, "carol"), 1);
	/* tombstones expire after the retry horizon */
	assert_int_equal(tf_store_expire(st, 150), 0);
	assert_int_equal(tf_store_expire(st, 250), 10);
	/* bounds */
	assert_int_equal(tf_store_put(st, "", id, "carol", NULL, 0, 1),
			 -EINVAL);
	assert_int_equal(tf_store_put(st, "alice", id, "carol", NULL,
				      TF_STORE_BLOB_MAX + 1, 1),
			 -EINVAL);
	tf_store_close(st);
}

/* end-to-end prekeys: each one-time prekey handed out once, also across
 * a reopen (durable), the base bundle replaced by a new publication */
static void test_prekeys(void **state)
{
	struct tf_store *st = NULL;
	uint8_t opks[3][8], opk[64], *b = NULL;
	char dev[TF_STORE_DEVICE_MAX + 1];
	size_t bl, ol;

	for (int i = 0; i < 3; i++)
		memset(opks[i], 'a' + i, sizeof(opks[i]));
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(tf_store_prekey_take(st, "bob", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 0);
	assert_int_equal(tf_store_prekey_put(st, "bob", "phone",
					     (const uint8_t *)"base1", 5,
					     &opks[0][0], 2, 8),
			 2);
	assert_int_equal(tf_store_prekey_take(st, "bob", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_int_equal(bl, 5);
	assert_memory_equal(b, "base1", 5);
	assert_int_equal(ol, 8);
	assert_memory_equal(opk, opks[0], 8);
	free(b);
	tf_store_close(st);
	assert_int_equal(open_store(&st), 0);
	/* a known one-time prekey is not added twice; a new base replaces */
	assert_int_equal(tf_store_prekey_put(st, "bob", "phone",
					     (const uint8_t *)"base2", 5,
					     &opks[1][0], 2, 8),
			 2);
	assert_int_equal(tf_store_prekey_take(st, "bob", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_memory_equal(b, "base2", 5);
	assert_memory_equal(opk, opks[1], 8);
	free(b);
	assert_int_equal(tf_store_prekey_take(st, "bob", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_memory_equal(opk, opks[2], 8);
	free(b);
	/* a republication (the device's reply was lost) does not bring
	 * back what was handed out */
	assert_int_equal(tf_store_prekey_put(st, "bob", "phone",
					     (const uint8_t *)"base3", 5,
					     &opks[0][0], 3, 8),
			 0);
	/* none left: the base bundle alone */
	assert_int_equal(tf_store_prekey_take(st, "bob", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_int_equal(ol, 0);
	free(b);
	/* bounded per officer however often it publishes */
	for (unsigned i = 0; i < TF_STORE_OPK_MAX + 10; i++) {
		uint8_t o[8] = {0};

		memcpy(o, &i, sizeof(i));
		assert_int_equal(
			tf_store_prekey_put(st, "eve", "phone",
					    (const uint8_t *)"b", 1, o, 1, 8),
			i < TF_STORE_OPK_MAX ? (int)i + 1 : TF_STORE_OPK_MAX);
	}
	for (unsigned i = 0; i < TF_STORE_OPK_MAX; i++) {
		assert_int_equal(tf_store_prekey_take(st, "eve", "phone", dev,
						      &b, &bl, opk, sizeof(opk),
						      &ol),
				 1);
		assert_int_equal(ol, 8);
		free(b);
	}
	assert_int_equal(tf_store_prekey_take(st, "eve", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_int_equal(ol, 0);
	free(b);
	tf_store_close(st);
}

/* several devices per officer (issue 15): one message id to two devices
 * of one officer is two messages, each fetched and acknowledged by its
 * own device only; a bare-officer row reaches both, the first ACK takes
 * it; the duplicate rule is per recipient */
static void test_devices(void **state)
{
	struct tf_store *st = NULL;
	struct tf_stored_msg m;
	uint8_t id[TF_STORE_ID_BYTES], id2[TF_STORE_ID_BYTES];
	const char *dev[] = {"alice/phone", "alice/tablet"};

	id_of(id, 700);
	id_of(id2, 701);
	assert_int_equal(open_store(&st), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(tf_store_put(st, "bob/phone", id, dev[i],
					      (const uint8_t *)dev[i],
					      strlen(dev[i]), 500),
				 TF_STORE_STORED);
	/* a retry to one device is a duplicate there only */
	assert_int_equal(tf_store_put(st, "bob/phone", id, dev[0],
				      (const uint8_t *)"x", 1, 501),
			 TF_STORE_DUPLICATE);
	/* an old client's message to the bare officer: for any device */
	assert_int_equal(tf_store_put(st, "bob", id2, "alice",
				      (const uint8_t *)"bare", 4, 502),
			 TF_STORE_STORED);
	assert_int_equal(tf_store_count(st, "alice/phone"), 2);
	assert_int_equal(tf_store_count(st, "alice/tablet"), 2);
	assert_int_equal(tf_store_count(st, "alice"), 1);
	assert_int_equal(tf_store_count(st, "alice/laptop"), 1);
	for (int i = 0; i < 2; i++) {
		/* its own copy, then the bare row, in arrival order */
		assert_int_equal(tf_store_next(st, dev[i], 0, &m), 1);
		assert_string_equal(m.sender, "bob/phone");
		assert_string_equal(m.recipient, dev[i]);
		assert_memory_equal(m.id, id, TF_STORE_ID_BYTES);
		assert_int_equal(m.len, strlen(dev[i]));
		assert_memory_equal(m.blob, dev[i], m.len);
		int64_t seq = m.seq;
		tf_stored_msg_clear(&m);
		assert_int_equal(tf_store_next(st, dev[i], seq, &m), 1);
		assert_string_equal(m.recipient, "alice");
		assert_memory_equal(m.blob, "bare", 4);
		seq = m.seq;
		tf_stored_msg_clear(&m);
		assert_int_equal(tf_store_next(st, dev[i], seq, &m), 0);
	}
	/* the phone's ACK leaves the tablet's copy */
	assert_int_equal(tf_store_ack(st, dev[0], "bob/phone", id, 600), 0);
	assert_int_equal(tf_store_ack(st, dev[0], "bob/phone", id, 600),
			 -ENOENT);
	assert_int_equal(tf_store_count(st, dev[1]), 2);
	assert_int_equal(tf_store_next(st, dev[1], 0, &m), 1);
	assert_memory_equal(m.blob, dev[1], m.len);
	tf_stored_msg_clear(&m);
	/* acknowledged: a late retry to the phone is still a duplicate, a
	 * first send to another device is not */
	assert_int_equal(tf_store_put(st, "bob/phone", id, dev[0],
				      (const uint8_t *)"x", 1, 601),
			 TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_put(st, "bob/phone", id, "alice/laptop",
				      (const uint8_t *)"l", 1, 601),
			 TF_STORE_STORED);
	/* the bare row: the tablet's ACK takes it, for both */
	assert_int_equal(tf_store_ack(st, dev[1], "bob", id2, 602), 0);
	assert_int_equal(tf_store_ack(st, dev[0], "bob", id2, 602), -ENOENT);
	assert_int_equal(tf_store_put(st, "bob", id2, "alice",
				      (const uint8_t *)"bare", 4, 603),
			 TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_ack(st, dev[1], "bob/phone", id, 604), 0);
	assert_int_equal(tf_store_ack(st, "alice/laptop", "bob/phone", id, 604),
			 0);
	assert_int_equal(tf_store_count(st, "alice/phone"), 0);
	assert_int_equal(tf_store_count(st, "alice/tablet"), 0);
	tf_store_close(st);
}

/* prekeys per (officer, device): each device its own bundle and
 * one-time prekeys; a bare take is the most recently published
 * device's; the list is newest first */
static void test_prekey_devices(void **state)
{
	struct tf_store *st = NULL;
	struct tf_store_bundle l[4];
	uint8_t o1[8] = "opk-one", o2[8] = "opk-two", opk[64], *b = NULL;
	char dev[TF_STORE_DEVICE_MAX + 1];
	size_t bl, ol;

	assert_int_equal(open_store(&st), 0);
	assert_int_equal(tf_store_prekey_put(st, "dana", "phone",
					     (const uint8_t *)"P1", 2, o1, 1,
					     8),
			 1);
	assert_int_equal(tf_store_prekey_put(st, "dana", "tablet",
					     (const uint8_t *)"T1", 2, o2, 1,
					     8),
			 1);
	assert_int_equal(tf_store_prekey_list(st, "dana", l, 4), 2);
	assert_string_equal(l[0].device, "tablet");
	assert_memory_equal(l[0].bundle, "T1", 2);
	assert_string_equal(l[1].device, "phone");
	for (int i = 0; i < 2; i++)
		tf_store_bundle_clear(&l[i]);
	assert_int_equal(tf_store_prekey_list(st, "dana", l, 1), 1);
	assert_string_equal(l[0].device, "tablet");
	tf_store_bundle_clear(&l[0]);
	/* the phone's one-time prekey is the phone's */
	assert_int_equal(tf_store_prekey_take(st, "dana", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_string_equal(dev, "phone");
	assert_memory_equal(b, "P1", 2);
	assert_int_equal(ol, 8);
	assert_memory_equal(opk, o1, 8);
	free(b);
	assert_int_equal(tf_store_prekey_take(st, "dana", "phone", dev, &b, &bl,
					      opk, sizeof(opk), &ol),
			 1);
	assert_int_equal(ol, 0);
	free(b);
	/* bare: the newest device (the tablet), with its own prekey */
	assert_int_equal(tf_store_prekey_take(st, "dana", "", dev, &b, &bl, opk,
					      sizeof(opk), &ol),
			 1);
	assert_string_equal(dev, "tablet");
	assert_int_equal(ol, 8);
	assert_memory_equal(opk, o2, 8);
	free(b);
	/* the phone publishes again: now it is the newest */
	assert_int_equal(tf_store_prekey_put(st, "dana", "phone",
					     (const uint8_t *)"P2", 2, NULL, 0,
					     8),
			 0);
	assert_int_equal(tf_store_prekey_take(st, "dana", "", dev, &b, &bl, opk,
					      sizeof(opk), &ol),
			 1);
	assert_string_equal(dev, "phone");
	assert_memory_equal(b, "P2", 2);
	free(b);
	assert_int_equal(tf_store_prekey_take(st, "dana", "laptop", dev, &b,
					      &bl, opk, sizeof(opk), &ol),
			 0);
	assert_int_equal(tf_store_prekey_list(st, "erin", l, 4), 0);
	assert_int_equal(tf_store_prekey_put(st, "dana", "",
					     (const uint8_t *)"X", 1, NULL, 0,
					     8),
			 -EINVAL);
	tf_store_close(st);
}

/* A real bundle (the migration parses its certificate): officer's
 * device, signed by a throwaway CA. */
static size_t make_bundle(const char *officer, const char *device, uint8_t *out,
			  size_t cap)
{
	const struct tf_suite *su = tf_suite_by_id(TF_SUITE_INTL);
	uint8_t seed[32] = {7}, cert[TF_CERT_MAX], priv[32];
	struct tf_key *ca = NULL, *sign = NULL;
	struct tf_e2e_prekeys *pk = NULL;
	struct tf_cert c = {0};
	size_t pl;
	int n;

	assert_int_equal(tf_key_sign_from_seed(su, seed, &ca), 0);
	seed[0] = 8;
	assert_int_equal(tf_key_sign_from_seed(su, seed, &sign), 0);
	c.suite = TF_SUITE_INTL;
	c.role = TF_ROLE_OFFICER;
	c.serial = 77;
	c.not_before = 1;
	c.not_after = 1 + 86400;
	strcpy(c.officer, officer);
	strcpy(c.device, device);
	c.sign_pk_len = c.dh_pk_len = su->pk_bytes;
	assert_int_equal(tf_key_public(sign, c.sign_pk, sizeof(c.sign_pk)), 0);
	assert_int_equal(tf_wg_keygen(TF_SUITE_INTL, priv, c.dh_pk, &pl), 0);
	n = tf_cert_sign(&c, ca, cert, sizeof(cert));
	assert_true(n > 0);
	assert_int_equal(
		tf_e2e_prekeys_new(TF_SUITE_INTL, sign, 1, 0, 100, &pk), 0);
	n = tf_e2e_prekeys_bundle(pk, cert, (size_t)n, out, cap);
	assert_true(n > 0);
	tf_e2e_prekeys_free(pk);
	tf_key_free(sign);
	tf_key_free(ca);
	return (size_t)n;
}

/* the schema of before several devices per officer, verbatim */
static const char old_sqlite[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE msgs("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sender TEXT NOT NULL, id BLOB NOT NULL, recipient TEXT NOT NULL,"
	" blob BLOB NOT NULL, stored_at INTEGER NOT NULL,"
	" UNIQUE(sender, id));"
	"CREATE INDEX msgs_rcpt ON msgs(recipient, seq);"
	"CREATE TABLE seen("
	" sender TEXT NOT NULL, id BLOB NOT NULL, acked_at INTEGER NOT NULL,"
	" PRIMARY KEY(sender, id)) WITHOUT ROWID;"
	"CREATE INDEX seen_age ON seen(acked_at);"
	"CREATE TABLE prekey_base("
	" officer TEXT PRIMARY KEY, bundle BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE prekey_opk("
	" officer TEXT NOT NULL, opk BLOB NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, UNIQUE(officer, opk));";
static const char old_pg[] =
	"CREATE TABLE msgs("
	" seq bigserial PRIMARY KEY,"
	" sender text NOT NULL, id bytea NOT NULL, recipient text NOT NULL,"
	" blob bytea NOT NULL, stored_at bigint NOT NULL,"
	" UNIQUE(sender, id));"
	"CREATE INDEX msgs_rcpt ON msgs(recipient, seq);"
	"CREATE TABLE seen("
	" sender text NOT NULL, id bytea NOT NULL, acked_at bigint,"
	" PRIMARY KEY(sender, id));"
	"CREATE INDEX seen_age ON seen(acked_at);"
	"CREATE TABLE prekey_base("
	" officer text PRIMARY KEY, bundle bytea NOT NULL);"
	"CREATE TABLE prekey_opk("
	" n bigserial PRIMARY KEY, officer text NOT NULL, opk bytea NOT NULL,"
	" used boolean NOT NULL DEFAULT false, UNIQUE(officer, opk));"
	"CREATE TABLE relay_schema(version integer NOT NULL);"
	"INSERT INTO relay_schema VALUES(1);";

/* rows of the old schema: bob and carl wrote to the bare officer alice,
 * bob to dave; a delivered message of bob's (id 9) left a tombstone;
 * the sequence is past the rows (seq 10 was delivered); alice
 * published one bundle naming her device "phone", zed one that does not
 * parse */
static void old_rows(sqlite3 *db, PGconn *c, const uint8_t *bundle, size_t bl)
{
	char hex[2 * TF_E2E_BUNDLE_MAX + 1];

	for (size_t i = 0; i < bl; i++)
		snprintf(hex + 2 * i, 3, "%02x", bundle[i]);
	if (db != NULL) {
		const char *ins =
			"INSERT INTO msgs(seq, sender, id, recipient, blob, "
			"stored_at) VALUES(1, 'bob', zeroblob(16), 'alice', "
			"'m1', 10);"
			"INSERT INTO msgs(seq, sender, id, recipient, blob, "
			"stored_at) VALUES(2, 'carl', zeroblob(16), 'alice', "
			"'m2', 11);"
			"INSERT INTO msgs(seq, sender, id, recipient, blob, "
			"stored_at) VALUES(3, 'bob', "
			"x'01000000000000000000000000000000', 'dave', "
			"'m3', 12);"
			"INSERT INTO msgs(seq, sender, id, recipient, blob, "
			"stored_at) VALUES(10, 'bob', "
			"x'0a000000000000000000000000000000', 'dave', "
			"'m10', 12);"
			"DELETE FROM msgs WHERE seq=10;"
			"INSERT INTO seen VALUES('bob', "
			"x'09000000000000000000000000000000', 50);"
			"INSERT INTO prekey_base VALUES('zed', x'00');"
			"INSERT INTO prekey_opk VALUES('zed', x'0102030405', "
			"0);"
			"INSERT INTO prekey_opk VALUES('alice', "
			"x'00000001aaaaaaaa', 1);"
			"INSERT INTO prekey_opk VALUES('alice', "
			"x'00000002bbbbbbbb', 0);";
		assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL),
				 SQLITE_OK);
		char *q = sqlite3_mprintf("INSERT INTO prekey_base "
					  "VALUES('alice', x'%s')",
					  hex);
		assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_free(q);
	} else {
		char *q = malloc(4096 + sizeof(hex));
		PGresult *res;

		assert_non_null(q);
		snprintf(q, 4096 + sizeof(hex),
			 "INSERT INTO msgs(seq, sender, id, recipient, blob, "
			 "stored_at) VALUES(1, 'bob', '\\x%032d', 'alice', "
			 "'m1', 10), (2, 'carl', '\\x%032d', 'alice', 'm2', "
			 "11), "
			 "(3, 'bob', '\\x01%030d', 'dave', 'm3', 12);"
			 "SELECT setval('msgs_seq_seq', 10);"
			 /* waiting messages have their seen row (acked_at
			 * NULL), delivered ones a time */
			 "INSERT INTO seen VALUES('bob', '\\x%032d', NULL), "
			 "('carl', '\\x%032d', NULL), ('bob', '\\x01%030d', "
			 "NULL), ('bob', '\\x09%030d', 50);"
			 "INSERT INTO prekey_base VALUES('zed', '\\x00'), "
			 "('alice', '\\x%s');"
			 "INSERT INTO prekey_opk(officer, opk, used) VALUES"
			 "('zed', '\\x0102030405', false), "
			 "('alice', '\\x00000001aaaaaaaa', true), "
			 "('alice', '\\x00000002bbbbbbbb', false);",
			 0, 0, 0, 0, 0, 0, 0, hex);
		res = PQexec(c, q);
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		free(q);
	}
}

/* A store from before several devices per officer opens, is migrated
 * once, and keeps working: its bare-officer messages reach each of the
 * officer's devices, its tombstones still make a retry a duplicate, no
 * seq is reused, its bundle is the device's its certificate names */
static void test_migrate(void **state)
{
	char old[96];
	struct tf_store *st = NULL;
	struct tf_stored_msg m;
	struct tf_store_bundle l[4];
	uint8_t id[TF_STORE_ID_BYTES], bundle[TF_E2E_BUNDLE_MAX], opk[64];
	uint8_t *b = NULL;
	char dev[TF_STORE_DEVICE_MAX + 1], why[256];
	size_t bl = make_bundle("alice", "phone", bundle, sizeof(bundle)), ol;
	int64_t seq;

	snprintf(old, sizeof(old), "%s/old.db", dir);
	if (pg == NULL) {
		sqlite3 *db = NULL;

		assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, old_sqlite, NULL, NULL, NULL),
				 SQLITE_OK);
		old_rows(db, NULL, bundle, bl);
		sqlite3_close(db);
	} else {
		PGconn *c = PQconnectdb(pg);
		PGresult *res;

		assert_int_equal(pg_reset(), 0);
		res = PQexec(c, old_pg);
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		old_rows(NULL, c, bundle, bl);
		PQfinish(c);
	}
	for (int round = 0; round < 2; round++) {
		/* the second open finds it migrated: nothing changes */
		assert_int_equal(
			pg ? tf_store_open_pg(pg, &st, why, sizeof(why))
			   : tf_store_open_sqlite(old, &st),
			0);
		assert_int_equal(tf_store_count(st, "alice/phone"), 2);
		assert_int_equal(tf_store_count(st, "alice/tablet"), 2);
		assert_int_equal(tf_store_count(st, "dave"), 1);
		tf_store_close(st);
	}
	assert_int_equal(pg ? tf_store_open_pg(pg, &st, why, sizeof(why))
			    : tf_store_open_sqlite(old, &st),
			 0);
	const char *devs[] = {"alice/phone", "alice/tablet"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tf_store_next(st, devs[i], 0, &m), 1);
		assert_string_equal(m.sender, "bob");
		assert_string_equal(m.recipient, "alice");
		assert_memory_equal(m.blob, "m1", 2);
		seq = m.seq;
		tf_stored_msg_clear(&m);
		assert_int_equal(tf_store_next(st, devs[i], seq, &m), 1);
		assert_string_equal(m.sender, "carl");
		tf_stored_msg_clear(&m);
	}
	/* the phone acknowledges bob's: gone for the tablet too (it was
	 * the officer's), and a retry is a duplicate */
	id_of(id, 0);
	assert_int_equal(tf_store_ack(st, "alice/phone", "bob", id, 60), 0);
	assert_int_equal(tf_store_next(st, "alice/tablet", 0, &m), 1);
	assert_string_equal(m.sender, "carl");
	tf_stored_msg_clear(&m);
	assert_int_equal(tf_store_put(st, "bob", id, "alice",
				      (const uint8_t *)"m1", 2, 61),
			 TF_STORE_DUPLICATE);
	/* the old tombstone (id 9): a retry to any address is a duplicate */
	id_of(id, 9);
	assert_int_equal(tf_store_put(st, "bob", id, "alice/phone",
				      (const uint8_t *)"m9", 2, 62),
			 TF_STORE_DUPLICATE);
	/* a waiting message of the old schema is still a duplicate */
	id_of(id, 1);
	assert_int_equal(tf_store_put(st, "bob", id, "dave",
				      (const uint8_t *)"m3", 2, 62),
			 TF_STORE_DUPLICATE);
	/* and so are both when the same device retries after the change,
	 * its session now named bob/phone */
	assert_int_equal(tf_store_put(st, "bob/phone", id, "dave",
				      (const uint8_t *)"m3", 2, 62),
			 TF_STORE_DUPLICATE);
	id_of(id, 9);
	assert_int_equal(tf_store_put(st, "bob/phone", id, "alice",
				      (const uint8_t *)"m9", 2, 62),
			 TF_STORE_DUPLICATE);
	/* bob's acknowledged m1 (to the bare alice), retried by bob/phone */
	id_of(id, 0);
	assert_int_equal(tf_store_put(st, "bob/phone", id, "alice",
				      (const uint8_t *)"m1", 2, 62),
			 TF_STORE_DUPLICATE);
	/* carl's waiting m2 retried by carl/tablet: a duplicate; the same id
	 * to another recipient is a message */
	assert_int_equal(tf_store_put(st, "carl/tablet", id, "alice",
				      (const uint8_t *)"m2", 2, 62),
			 TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_put(st, "carl/tablet", id, "alice/laptop",
				      (const uint8_t *)"m2b", 3, 62),
			 TF_STORE_STORED);
	/* the same retries in one group commit (its own code path): all
	 * duplicates but the new one, stored once in the batch */
	{
		uint8_t ids[3][TF_STORE_ID_BYTES];
		struct tf_store_put_item it[5] = {
			{"bob/phone", "dave", ids[0], (const uint8_t *)"m3", 2,
			 99},
			{"bob/phone", "alice", ids[1], (const uint8_t *)"m9", 2,
			 99},
			{"bob", "alice/phone", ids[1], (const uint8_t *)"m9", 2,
			 99},
			{"bob/phone", "ed", ids[2], (const uint8_t *)"m12", 3,
			 99},
			{"bob/phone", "ed", ids[2], (const uint8_t *)"m12", 3,
			 99},
		};

		id_of(ids[0], 1);
		id_of(ids[1], 9);
		id_of(ids[2], 12);
		assert_int_equal(tf_store_put_many(st, it, 5, 62), 0);
		for (size_t i = 0; i < 5; i++)
			assert_int_equal(it[i].result,
					 i == 3 ? TF_STORE_STORED
						: TF_STORE_DUPLICATE);
		assert_int_equal(tf_store_count(st, "ed"), 1);
	}
	/* new rows come after every old seq */
	id_of(id, 11);
	assert_int_equal(tf_store_put(st, "bob/phone", id, "alice/phone",
				      (const uint8_t *)"new", 3, 63),
			 TF_STORE_STORED);
	assert_int_equal(tf_store_next(st, "alice/phone", 2, &m), 1);
	assert_true(m.seq > 10);
	assert_memory_equal(m.blob, "new", 3);
	tf_stored_msg_clear(&m);
	/* the bundle: alice's phone's, with its unused one-time prekey;
	 * zed's did not parse */
	assert_int_equal(tf_store_prekey_list(st, "alice", l, 4), 1);
	assert_string_equal(l[0].device, "phone");
	assert_int_equal(l[0].len, bl);
	assert_memory_equal(l[0].bundle, bundle, bl);
	tf_store_bundle_clear(&l[0]);
	assert_int_equal(tf_store_prekey_list(st, "zed", l, 4), 0);
	assert_int_equal(tf_store_prekey_take(st, "alice", "", dev, &b, &ol,
					      opk, sizeof(opk), &ol),
			 1);
	assert_string_equal(dev, "phone");
	assert_int_equal(ol, 8);
	assert_memory_equal(opk, "\x00\x00\x00\x02\xbb\xbb\xbb\xbb", 8);
	free(b);
	tf_store_close(st);
	if (pg == NULL) {
		char p[128];
		static const char *const sfx[] = {"", "-wal", "-shm"};

		for (size_t i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s%s", old, sfx[i]);
			unlink(p);
		}
	}
}

static void test_wal(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	struct tf_store *st = NULL;

	if (pg != NULL)
		skip();

	assert_int_equal(open_store(&st), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
	tf_store_close(st);
}

/* group commit: one transaction for a batch, a result per item */
static void test_put_many(void **state)
{
	struct tf_store *st = NULL;
	struct tf_stored_msg m;
	uint8_t ids[4][TF_STORE_ID_BYTES];
	struct tf_store_put_item it[6];
	int64_t seq = 0;

	for (unsigned i = 0; i < 4; i++)
		id_of(ids[i], 900 + i);
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(tf_store_put(st, "hal", ids[3], "gina",
				      (const uint8_t *)"old", 3, 1),
			 TF_STORE_STORED);
	for (unsigned i = 0; i < 6; i++)
		it[i] = (struct tf_store_put_item){
			.sender = "hal",
			.recipient = "gina",
			.id = ids[i < 3	   ? i
				  : i == 3 ? 1
					   : 3],
			.blob = (const uint8_t *)"abcdef" + i,
			.len = 1,
			.result = 99};
	it[4].sender = ""; /* out of bounds: skipped, the rest goes on */
	assert_int_equal(tf_store_put_many(st, it, 6, 2), 0);
	assert_int_equal(it[0].result, TF_STORE_STORED);
	assert_int_equal(it[1].result, TF_STORE_STORED);
	assert_int_equal(it[2].result, TF_STORE_STORED);
	assert_int_equal(it[3].result, TF_STORE_DUPLICATE); /* in the batch */
	assert_int_equal(it[4].result, -EINVAL);
	assert_int_equal(it[5].result, TF_STORE_DUPLICATE); /* stored before */
	if (pg != NULL) {
		/* PostgreSQL refuses a sender that is not UTF-8 (SQLite
		 * stores the bytes): a statement failing in the middle of
		 * the pipeline fails the batch, nothing of it is stored, and
		 * the session works on (rolled back, out of pipeline mode) */
		uint8_t nid[3][TF_STORE_ID_BYTES];

		for (unsigned i = 0; i < 3; i++) {
			id_of(nid[i], 950 + i);
			it[i] = (struct tf_store_put_item){
				.sender = i == 1 ? "h\xff" : "hal",
				.recipient = "gina",
				.id = nid[i],
				.blob = (const uint8_t *)"x",
				.len = 1};
		}
		assert_int_equal(tf_store_put_many(st, it, 3, 2), -EIO);
		assert_int_equal(tf_store_count(st, "gina"), 4);
		it[1].sender = "hal";
		assert_int_equal(tf_store_put_many(st, it, 3, 2), 0);
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(it[i].result, TF_STORE_STORED);
		assert_int_equal(tf_store_count(st, "gina"), 7);
	}
	tf_store_close(st);
	/* durable, in order */
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(tf_store_count(st, "gina"), pg != NULL ? 7 : 4);
	for (const char *want = "oabc"; *want; want++) {
		assert_int_equal(tf_store_next(st, "gina", seq, &m), 1);
		seq = m.seq;
		assert_memory_equal(m.blob, *want == 'o' ? "old" : want, 1);
		tf_stored_msg_clear(&m);
	}
	tf_store_close(st);
}

/* A store made at this schema has no row of the old one, so a put looks
 * for its own (sender, recipient, id) only (the fast path: one probe;
 * test_migrate keeps the old rows' checks): a bare sender's message and
 * one of a device of it are two, acknowledged or not, in a batch or
 * not; the same name is still a duplicate. */
static void test_fresh_schema(void **state)
{
	struct tf_store *st = NULL;
	struct tf_stored_msg m;
	uint8_t id[TF_STORE_ID_BYTES];
	struct tf_store_put_item it[2] = {
		{"nia/pad", "oz", id, (const uint8_t *)"b", 1, 99},
		{"nia", "oz/phone", id, (const uint8_t *)"c", 1, 99},
	};

	if (pg != NULL)
		assert_int_equal(pg_reset(), 0);
	id_of(id, 7000);
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(
		tf_store_put(st, "nia", id, "oz", (const uint8_t *)"a", 1, 1),
		TF_STORE_STORED);
	assert_int_equal(tf_store_put_many(st, it, 2, 1), 0);
	assert_int_equal(it[0].result, TF_STORE_STORED);
	assert_int_equal(it[1].result, TF_STORE_STORED);
	assert_int_equal(tf_store_put(st, "nia/pad", id, "oz",
				      (const uint8_t *)"b", 1, 1),
			 TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_next(st, "oz", 0, &m), 1);
	assert_int_equal(tf_store_ack(st, "oz", m.sender, id, 2), 0);
	tf_stored_msg_clear(&m);
	assert_int_equal(
		tf_store_put(st, "nia", id, "oz", (const uint8_t *)"a", 1, 3),
		TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_count(st, "oz/phone"), 2);
	tf_store_close(st);
}

/* Several relays on one store: they start at once on an empty database
 * (the schema is created once; no relay fails or deadlocks against
 * another's puts) and all send the same messages (each one is stored by
 * exactly one of them, the others get DUPLICATE). */
#define CC_RELAYS 4
#define CC_MSGS 40
static int cc_stored[CC_RELAYS], cc_err[CC_RELAYS];

static void *cc_relay(void *arg)
{
	int k = (int)(intptr_t)arg;
	struct tf_store *st = NULL;
	uint8_t id[TF_STORE_ID_BYTES];
	int r = open_store(&st);

	if (r < 0) {
		cc_err[k] = r;
		return NULL;
	}
	for (unsigned i = 0; i < CC_MSGS; i++) {
		id_of(id, 5000 + i);
		r = tf_store_put(st, "ivy", id, "jon", (const uint8_t *)"m", 1,
				 1);
		if (r < 0) {
			cc_err[k] = r;
			break;
		}
		cc_stored[k] += r == TF_STORE_STORED;
	}
	tf_store_close(st);
	return NULL;
}

static void test_concurrent(void **state)
{
	pthread_t th[CC_RELAYS];
	struct tf_store *st = NULL;
	int total = 0;

	if (pg != NULL) /* from an empty database, as a first deployment */
		assert_int_equal(pg_reset(), 0);
	for (int k = 0; k < CC_RELAYS; k++)
		assert_int_equal(pthread_create(&th[k], NULL, cc_relay,
						(void *)(intptr_t)k),
				 0);
	for (int k = 0; k < CC_RELAYS; k++) {
		pthread_join(th[k], NULL);
		assert_int_equal(cc_err[k], 0);
		total += cc_stored[k];
	}
	assert_int_equal(total, CC_MSGS);
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(tf_store_count(st, "jon"), CC_MSGS);
	tf_store_close(st);
}

/* Several relays (processes) opening one fresh SQLite file at once for
 * the first time: each open succeeds or waits, none fails (the WAL
 * switch and the schema creation race). FO_ROUNDS fresh files, FO_PROCS
 * processes each, released together by closing a pipe. */
#define FO_PROCS 4
#define FO_ROUNDS 60
static int fo_child(int gate)
{
	struct tf_store *st = NULL;
	char c;
	int r;

	if (read(gate, &c, 1) < 0) /* EOF: go */
		_exit(100);
	r = tf_store_open_sqlite(path, &st);
	if (r == 0) {
		uint8_t id[TF_STORE_ID_BYTES] = {(uint8_t)getpid()};

		r = tf_store_put(st, "kim", id, "lou", (const uint8_t *)"m", 1,
				 1);
		tf_store_close(st);
	}
	_exit(r < 0 ? (-r & 0x7f) : 0);
}

static void test_fresh_open(void **state)
{
	char p[96];
	static const char *const sfx[] = {"", "-wal", "-shm"};
	int failed = 0, why = 0;

	if (pg != NULL)
		skip();
	for (int round = 0; round < FO_ROUNDS; round++) {
		pid_t kid[FO_PROCS];
		int gate[2];

		for (size_t i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
			unlink(p);
		}
		assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
		for (int k = 0; k < FO_PROCS; k++) {
			kid[k] = fork();
			assert_true(kid[k] >= 0);
			if (kid[k] == 0) {
				close(gate[1]);
				fo_child(gate[0]);
			}
		}
		close(gate[0]);
		close(gate[1]);
		for (int k = 0; k < FO_PROCS; k++) {
			int ws = 0;

			assert_int_equal(waitpid(kid[k], &ws, 0), kid[k]);
			if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
				failed++;
				why = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
			}
		}
	}
	if (failed)
		fprintf(stderr,
			"fresh open: %d of %d opens failed (last: %s)\n",
			failed, FO_ROUNDS * FO_PROCS,
			why > 0 ? strerror(why) : "killed");
	assert_int_equal(failed, 0);
}

/* A primary restart (pg_ctl restart -m immediate, as a crash or a
 * Patroni failover looks to the relay): the put on the dead connection
 * fails with -EIO (the relay says "retry later", nothing acknowledged),
 * the store reconnects by itself, the retry of that same message is
 * stored once, and what was committed before the crash is still there. */
static void test_pg_restart(void **state)
{
	const char *restart = getenv("TF_TEST_PG_RESTART");
	struct tf_store *st = NULL;
	uint8_t id[TF_STORE_ID_BYTES];
	int r = -EIO, tries = 0;

	if (pg == NULL || restart == NULL)
		skip();
	assert_int_equal(open_store(&st), 0);
	id_of(id, 1);
	assert_int_equal(tf_store_put(st, "ann", id, "ben",
				      (const uint8_t *)"before", 6, 1),
			 TF_STORE_STORED);
	assert_int_equal(system(restart), 0);
	id_of(id, 2);
	assert_int_equal(tf_store_put(st, "ann", id, "ben",
				      (const uint8_t *)"after", 5, 2),
			 -EIO);
	/* the device's retries: the store reconnects (at most once a
	 * second) */
	while (r == -EIO && tries++ < 100) {
		usleep(100 * 1000);
		r = tf_store_put(st, "ann", id, "ben", (const uint8_t *)"after",
				 5, 2);
	}
	assert_int_equal(r, TF_STORE_STORED);
	assert_int_equal(tf_store_put(st, "ann", id, "ben",
				      (const uint8_t *)"after", 5, 3),
			 TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_count(st, "ben"), 2);
	tf_store_close(st);
}

/* One statement on a connection of its own (the test's admin one, as
 * the cluster's superuser); the first row's first value into out. */
static int pg_one(const char *conninfo, const char *sql, char *out,
		  size_t outlen)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(res);
	int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	if (out != NULL && outlen > 0) {
		out[0] = '\0';
		if (s == PGRES_TUPLES_OK && PQntuples(res) > 0)
			snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* until a fresh session sees synchronous_standby_names = want (the
 * postmaster reloads after pg_reload_conf returns) */
static int pg_sync_names(const char *want)
{
	char sql[128], v[64];

	snprintf(sql, sizeof(sql),
		 "ALTER SYSTEM SET synchronous_standby_names TO '%s'", want);
	if (pg_one(pg, sql, NULL, 0) < 0 ||
	    pg_one(pg, "SELECT pg_reload_conf()", NULL, 0) < 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		if (pg_one(pg, "SHOW synchronous_standby_names", v,
			   sizeof(v)) == 0 &&
		    !strcmp(v, want))
			return 0;
		usleep(50 * 1000);
	}
	return -1;
}

struct cl_put {
	struct tf_store *st;
	uint8_t id[TF_STORE_ID_BYTES];
	int r;
	volatile int done;
};

static void *cl_put_thread(void *arg)
{
	struct cl_put *p = arg;

	p->r = tf_store_put(p->st, "ann", p->id, "cid", (const uint8_t *)"lost",
			    4, 1);
	p->done = 1;
	return NULL;
}

/* the store's session waits for the synchronous standby in a statement
 * like `like` (at most 10 s) */
static bool syncrep_seen(const char *like)
{
	char sql[256], v[32];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_stat_activity WHERE "
		 "application_name = 'twofold-relay' AND wait_event = "
		 "'SyncRep' AND query LIKE '%s'",
		 like);
	for (int i = 0; i < 200; i++) {
		if (pg_one(pg, sql, v, sizeof(v)) == 0 && !strcmp(v, "1"))
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* fn (pg_cancel_backend, pg_terminate_backend) on the store's session */
static int store_backend(const char *fn)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "SELECT %s(pid) FROM pg_stat_activity WHERE "
		 "application_name = 'twofold-relay'",
		 fn);
	return pg_one(pg, sql, NULL, 0);
}

static void put_start(struct cl_put *p, pthread_t *th)
{
	p->done = 0;
	assert_int_equal(pthread_create(th, NULL, cl_put_thread, p), 0);
}

/* A COMMIT whose answer is lost, with a synchronous standby that never
 * comes (synchronous_standby_names names one that is not there), as in
 * a failover in the middle of it:
 *  - its wait cancelled (pg_cancel_backend): the server answers the
 *    COMMIT as a success, with only a WARNING, while no standby has it;
 *    the store must not say STORED but wait again (pg_sync_wait), and
 *    a second cancel makes it -EIO ("retry later");
 *  - the device's retry finds the message there, and the DUPLICATE
 *    answer must wait for the standby too (the first commit is on the
 *    primary alone): its session terminated meanwhile, -EIO again;
 *  - once the primary needs no standby, the retry is DUPLICATE and the
 *    message there once.
 * The connection string asks for statement_timeout=200 ms, as an
 * operator might: PostgreSQL (13 and later) stops the statement timer
 * before it commits, so the put is still waiting well after that. */
static void test_pg_commit_lost(void **state)
{
	char ci[1024];
	struct tf_store *st = NULL;
	struct tf_stored_msg m = {0};
	struct cl_put p = {0};
	pthread_t th;
	int r = -EIO, tries = 0;
	char why[256];

	if (pg == NULL)
		skip();
	snprintf(ci, sizeof(ci), "%s options='-c statement_timeout=200'", pg);
	assert_int_equal(tf_store_open_pg(ci, &st, why, sizeof(why)), 0);
	assert_int_equal(pg_sync_names("nosuch"), 0);
	/* a session opened before the reload keeps the old names until its
	 * next command; end it, so the store's next one is new */
	assert_int_equal(store_backend("pg_terminate_backend"), 0);
	id_of(p.id, 7);
	p.st = st;
	while (r == -EIO && tries++ < 100) { /* until it reconnected */
		sleep(1);
		r = tf_store_count(st, "cid");
	}
	assert_int_equal(r, 0);

	put_start(&p, &th);
	assert_true(syncrep_seen("%INSERT INTO seen%"));
	/* well past the 200 ms (the put is still blocked, so this is no
	 * timing assertion: a slow machine only makes it wait longer) */
	for (int i = 0; i < 20 && !p.done; i++)
		usleep(50 * 1000);
	assert_false(p.done);
	assert_int_equal(store_backend("pg_cancel_backend"), 0);
	assert_true(syncrep_seen("UPDATE relay_schema%"));
	assert_false(p.done);
	assert_int_equal(store_backend("pg_cancel_backend"), 0);
	pthread_join(th, NULL);
	assert_int_equal(p.r, -EIO);

	put_start(&p, &th); /* the retry, the standby still missing */
	assert_true(syncrep_seen("UPDATE relay_schema%"));
	assert_false(p.done);
	assert_int_equal(store_backend("pg_terminate_backend"), 0);
	pthread_join(th, NULL);
	assert_int_equal(p.r, -EIO);

	assert_int_equal(pg_sync_names(""), 0);
	r = -EIO;
	tries = 0;
	while (r == -EIO && tries++ < 100) {
		usleep(100 * 1000);
		r = tf_store_put(st, "ann", p.id, "cid",
				 (const uint8_t *)"lost", 4, 2);
	}
	assert_int_equal(r, TF_STORE_DUPLICATE);
	assert_int_equal(tf_store_count(st, "cid"), 1);
	assert_int_equal(tf_store_next(st, "cid", 0, &m), 1);
	assert_memory_equal(m.blob, "lost", 4);
	tf_stored_msg_clear(&m);
	tf_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_prekeys),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_prekey_devices),
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_wal),
		cmocka_unit_test(test_put_many),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_fresh_schema),
		cmocka_unit_test(test_fresh_open),
		cmocka_unit_test(test_pg_restart),
		/* last: it changes the cluster's configuration */
		cmocka_unit_test(test_pg_commit_lost),
	};

	pg = getenv("TF_TEST_STORE_PG");
	if (tf_crypto_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
