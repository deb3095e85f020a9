/* SPDX-License-Identifier: ISC */
/* The relay's message store, both backends: stored is durable across a
 * reopen, client-chosen ids deduplicate (also after delivery: the
 * tombstone), arrival order per recipient, delete on ack, expiry of
 * tombstones, bounds; SQLite: WAL mode; PostgreSQL: a primary restart
 * fails a put ("retry later") and the store works again after it.
 * SQLite by default; PostgreSQL when TF_TEST_STORE_PG names a cluster
 * (with_pg.sh starts a private one, meson's relay_store_pg). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store.h"

static char dir[] = "/tmp/tfstore.XXXXXX";
static char path[64];
static const char *pg; /* the PostgreSQL connection string, or NULL */

static int open_store(struct tf_store **st)
{
	char why[256];

	if (pg == NULL)
		return tf_store_open_sqlite(path, st);
	return tf_store_open_pg(pg, st, why, sizeof(why));
}

/* a fresh schema: the store creates it again */
static int pg_reset(void)
{
	PGconn *c = PQconnectdb(pg);
	PGresult *res = PQexec(c, "DROP TABLE IF EXISTS msgs, seen, "
				  "prekey_base, prekey_opk, relay_schema");
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
	size_t bl, ol;

	for (int i = 0; i < 3; i++)
		memset(opks[i], 'a' + i, sizeof(opks[i]));
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(
		tf_store_prekey_take(st, "bob", &b, &bl, opk, sizeof(opk), &ol),
		0);
	assert_int_equal(tf_store_prekey_put(st, "bob",
					     (const uint8_t *)"base1", 5,
					     &opks[0][0], 2, 8),
			 2);
	assert_int_equal(
		tf_store_prekey_take(st, "bob", &b, &bl, opk, sizeof(opk), &ol),
		1);
	assert_int_equal(bl, 5);
	assert_memory_equal(b, "base1", 5);
	assert_int_equal(ol, 8);
	assert_memory_equal(opk, opks[0], 8);
	free(b);
	tf_store_close(st);
	assert_int_equal(open_store(&st), 0);
	/* a known one-time prekey is not added twice; a new base replaces */
	assert_int_equal(tf_store_prekey_put(st, "bob",
					     (const uint8_t *)"base2", 5,
					     &opks[1][0], 2, 8),
			 2);
	assert_int_equal(
		tf_store_prekey_take(st, "bob", &b, &bl, opk, sizeof(opk), &ol),
		1);
	assert_memory_equal(b, "base2", 5);
	assert_memory_equal(opk, opks[1], 8);
	free(b);
	assert_int_equal(
		tf_store_prekey_take(st, "bob", &b, &bl, opk, sizeof(opk), &ol),
		1);
	assert_memory_equal(opk, opks[2], 8);
	free(b);
	/* a republication (the device's reply was lost) does not bring
	 * back what was handed out */
	assert_int_equal(tf_store_prekey_put(st, "bob",
					     (const uint8_t *)"base3", 5,
					     &opks[0][0], 3, 8),
			 0);
	/* none left: the base bundle alone */
	assert_int_equal(
		tf_store_prekey_take(st, "bob", &b, &bl, opk, sizeof(opk), &ol),
		1);
	assert_int_equal(ol, 0);
	free(b);
	/* bounded per officer however often it publishes */
	for (unsigned i = 0; i < TF_STORE_OPK_MAX + 10; i++) {
		uint8_t o[8] = {0};

		memcpy(o, &i, sizeof(i));
		assert_int_equal(
			tf_store_prekey_put(st, "eve", (const uint8_t *)"b", 1,
					    o, 1, 8),
			i < TF_STORE_OPK_MAX ? (int)i + 1 : TF_STORE_OPK_MAX);
	}
	for (unsigned i = 0; i < TF_STORE_OPK_MAX; i++) {
		assert_int_equal(tf_store_prekey_take(st, "eve", &b, &bl, opk,
						      sizeof(opk), &ol),
				 1);
		assert_int_equal(ol, 8);
		free(b);
	}
	assert_int_equal(
		tf_store_prekey_take(st, "eve", &b, &bl, opk, sizeof(opk), &ol),
		1);
	assert_int_equal(ol, 0);
	free(b);
	tf_store_close(st);
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
	tf_store_close(st);
	/* durable, in order */
	assert_int_equal(open_store(&st), 0);
	assert_int_equal(tf_store_count(st, "gina"), 4);
	for (const char *want = "oabc"; *want; want++) {
		assert_int_equal(tf_store_next(st, "gina", seq, &m), 1);
		seq = m.seq;
		assert_memory_equal(m.blob, *want == 'o' ? "old" : want, 1);
		tf_stored_msg_clear(&m);
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_prekeys),
		cmocka_unit_test(test_wal),
		cmocka_unit_test(test_put_many),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_pg_restart),
	};

	pg = getenv("TF_TEST_STORE_PG");
	return cmocka_run_group_tests(tests, setup, teardown);
}
