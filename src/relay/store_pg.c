/* SPDX-License-Identifier: ISC */
/*
 * The message store's PostgreSQL 15 backend (store.h): the distributed
 * deployment, several relays on one database (Patroni for failover,
 * docs/comms.md). Same contract as store_sqlite.c.
 *
 * Durability: the session sets synchronous_commit=on (a server default
 * of off or local must not weaken it: an acknowledged message would be
 * lost by a crash), and open refuses a server running with fsync=off.
 * A statement outside BEGIN is its own transaction, so put and ack are
 * one round trip each: durable when PQexecPrepared returns.
 *
 * Duplicates: every (sender, recipient, id) gets its row in seen when it
 * is first
 * stored (acked_at NULL while it waits), so the uniqueness check never
 * depends on a row that an ack deletes: put is one INSERT .. ON CONFLICT
 * DO NOTHING into seen and, only if that inserted, into msgs, in one
 * statement. Two relays racing on one retry are serialised by the
 * unique index (the loser waits for the winner's commit, then sees the
 * conflict), with no explicit lock. A DUPLICATE answer waits for the
 * synchronous standby before it is given (pg_sync_wait): the first
 * commit may be on the primary alone.
 *
 * Order: seq is a bigserial. Within one relay puts are serial, so one
 * sender's order is its seq order; across relays two concurrent
 * transactions may commit out of seq order, which a reader's "after
 * seq N" cursor could skip until the next FETCH (which starts again from
 * 0). Nothing is lost, at worst delivered on the next FETCH.
 *
 * Schema (relay_schema's version): 1 before issue 15 (messages and
 * tombstones named by (sender, id), one bundle per officer), 2 with
 * addresses (store.h): pg_migrate1 turns a 1 into a 2 under the advisory
 * lock, in one transaction. A tombstone of version 1 named no recipient:
 * recipient '' (no address is empty) covers every one. A database made
 * at 2 is marked (PG_FRESH) and its puts skip those checks.
 *
 * Group commit (put_many) is one pipeline: one round trip per batch.
 *
 * A lost connection (primary restart, failover): the call fails with
 * -EIO ("retry later" to the device; nothing acknowledged) and the next
 * call reconnects (a second after the last attempt ended, so a dead
 * server is not hammered from the event loop) and prepares the
 * statements again.
 * The connection string is the operator's; it is never copied into an
 * error or a log (libpq's message is, which names the host, never the
 * password).
 */
#include <endian.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)
/* a dead TCP peer noticed within this (pg_connect) */
#define PG_TCP_TIMEOUT_MS 8000
/* between the end of a failed reconnect and the next (pg_ensure) */
#define PG_RETRY_MS 1000

struct pg_store {
	struct tf_store base;
	PGconn *conn;
	char *conninfo;	     /* may hold a password: zeroed on close */
	bool ready;	     /* connected and the statements prepared */
	bool fresh;	     /* no row of schema 1: put is Q_PUT_FRESH */
	int64_t last_try_ms; /* CLOCK_MONOTONIC, the end of the last attempt */
	bool warned;	     /* the server sent a WARNING (pg_notice) */
};

/* name, SQL, parameter count */
static const struct {
	const char *name, *sql;
	int n;
} stmts[] = {
	/* a tombstone of schema 1 ('') covers every recipient; and a
	 * message of schema 1 (waiting or delivered: its seen row) was
	 * named by its sender's bare officer ($6): the same device's retry
	 * after the migration, under its officer/device, is still a
	 * duplicate (a bare sender only ever comes from before). So a bare
	 * sender ($6=$1) looks for its schema-1 tombstone, a device's for
	 * its officer's rows: two NOT EXISTS, each an index probe behind a
	 * one-time filter that the generic plan evaluates before it (one
	 * OR of both made a bitmap scan of three probes for every put) */
	{"put",
	 "WITH s AS (INSERT INTO seen(sender, recipient, id) SELECT $1, $3, $2 "
	 "WHERE NOT EXISTS (SELECT 1 FROM seen WHERE $6=$1 AND sender=$1 AND "
	 "recipient='' AND id=$2) AND NOT EXISTS (SELECT 1 FROM seen WHERE "
	 "$6<>$1 AND sender=$6 AND recipient IN ($3, '') AND id=$2) "
	 "ON CONFLICT DO NOTHING RETURNING 1) "
	 "INSERT INTO msgs(sender, id, recipient, blob, stored_at) "
	 "SELECT $1, $2, $3, $4, $5 FROM s",
	 6},
	/* a store made at schema 2 (pg_schema's PG_FRESH) has no row of
	 * schema 1 to look for: the bare put, one probe (the conflict) */
	{"put_fresh",
	 "WITH s AS (INSERT INTO seen(sender, recipient, id) VALUES($1, $3, "
	 "$2) ON CONFLICT DO NOTHING RETURNING 1) "
	 "INSERT INTO msgs(sender, id, recipient, blob, stored_at) "
	 "SELECT $1, $2, $3, $4, $5 FROM s",
	 5},
	/* each half by its index, then the earlier ($3 the officer of the
	 * address $1; the same for a bare one) */
	{"next",
	 "(SELECT seq, sender, id, blob, recipient FROM msgs WHERE "
	 "recipient=$1 AND seq>$2 ORDER BY seq LIMIT 1) UNION ALL "
	 "(SELECT seq, sender, id, blob, recipient FROM msgs WHERE "
	 "recipient=$3 AND $3<>$1 AND seq>$2 ORDER BY seq LIMIT 1) "
	 "ORDER BY 1 LIMIT 1",
	 3},
	{"ack",
	 "WITH d AS (DELETE FROM msgs WHERE sender=$1 AND id=$2 AND "
	 "recipient=$3 RETURNING 1) "
	 "UPDATE seen SET acked_at=$4 WHERE sender=$1 AND recipient=$3 AND "
	 "id=$2 AND EXISTS (SELECT 1 FROM d)",
	 4},
	{"expire", "DELETE FROM seen WHERE acked_at<$1", 1},
	{"count", "SELECT count(*) FROM msgs WHERE recipient IN ($1, $2)", 2},
	/* the upsert locks the device's base row until COMMIT: two
	 * publications of one device are serialised, so the bound holds */
	{"pk_base",
	 "INSERT INTO prekey_base(officer, device, bundle) VALUES($1, $2, $3) "
	 "ON CONFLICT(officer, device) DO UPDATE SET bundle=EXCLUDED.bundle, "
	 "published=nextval('prekey_pub')",
	 3},
	{"pk_unused",
	 "SELECT count(*) FROM prekey_opk WHERE officer=$1 AND device=$2 AND "
	 "NOT used",
	 2},
	{"pk_add",
	 "INSERT INTO prekey_opk(officer, device, opk) VALUES($1, $2, $3) "
	 "ON CONFLICT DO NOTHING",
	 3},
	{"pk_trim",
	 "DELETE FROM prekey_opk WHERE officer=$1 AND device=$2 AND used AND "
	 "n NOT IN (SELECT n FROM prekey_opk WHERE officer=$1 AND device=$2 "
	 "AND used ORDER BY n DESC LIMIT " PG_STR(TF_STORE_OPK_TOMBS) ")",
	 2},
	{"pk_get",
	 "SELECT device, bundle FROM prekey_base WHERE officer=$1 AND "
	 "device=$2",
	 2},
	{"pk_newest",
	 "SELECT device, bundle FROM prekey_base WHERE officer=$1 ORDER BY "
	 "published DESC LIMIT 1",
	 1},
	{"pk_list",
	 "SELECT device, bundle FROM prekey_base WHERE officer=$1 ORDER BY "
	 "published DESC LIMIT $2",
	 2},
	/* read and marked in one statement, so one transaction: each
	 * one-time prekey is handed out once even with several relays
	 * (SKIP LOCKED: a concurrent taker gets the next one) */
	{"pk_take",
	 "UPDATE prekey_opk SET used=true WHERE n=(SELECT n FROM prekey_opk "
	 "WHERE officer=$1 AND device=$2 AND NOT used ORDER BY n LIMIT 1 "
	 "FOR UPDATE SKIP LOCKED) RETURNING opk",
	 2},
};

enum {
	Q_PUT,
	Q_PUT_FRESH,
	Q_NEXT,
	Q_ACK,
	Q_EXPIRE,
	Q_COUNT,
	Q_PK_BASE,
	Q_PK_UNUSED,
	Q_PK_ADD,
	Q_PK_TRIM,
	Q_PK_GET,
	Q_PK_NEWEST,
	Q_PK_LIST,
	Q_PK_TAKE,
};

#define PG_SCHEMA 2

/* Idempotent, serialised by an advisory lock (pg_schema), and DDL only
 * when the schema is missing or old (relay_schema names its version):
 * two relays starting on an empty database would race on CREATE .. IF
 * NOT EXISTS (it checks, then creates: the second fails on pg_type's
 * unique index), and a CREATE INDEX IF NOT EXISTS takes a share lock on
 * its table even when the index exists, which deadlocks against another
 * relay's puts already running. */
#define PG_TABLES_MSGS                                                         \
	"CREATE TABLE msgs("                                                   \
	" seq bigserial PRIMARY KEY,"                                          \
	" sender text NOT NULL, id bytea NOT NULL, recipient text NOT NULL,"   \
	" blob bytea NOT NULL, stored_at bigint NOT NULL,"                     \
	" UNIQUE(sender, recipient, id));"                                     \
	"CREATE INDEX msgs_rcpt ON msgs(recipient, seq);"                      \
	"CREATE TABLE seen("                                                   \
	" sender text NOT NULL, recipient text NOT NULL, id bytea NOT NULL,"   \
	" acked_at bigint, PRIMARY KEY(sender, recipient, id));"               \
	"CREATE INDEX seen_age ON seen(acked_at);"
#define PG_TABLES_PREKEYS                                                      \
	"CREATE SEQUENCE prekey_pub;"                                          \
	"CREATE TABLE prekey_base("                                            \
	" officer text NOT NULL, device text NOT NULL, bundle bytea NOT NULL," \
	" published bigint NOT NULL DEFAULT nextval('prekey_pub'),"            \
	" PRIMARY KEY(officer, device));"                                      \
	"CREATE INDEX prekey_base_pub ON prekey_base(officer, published);"     \
	"CREATE TABLE prekey_opk("                                             \
	" n bigserial PRIMARY KEY, officer text NOT NULL,"                     \
	" device text NOT NULL, opk bytea NOT NULL,"                           \
	" used boolean NOT NULL DEFAULT false, UNIQUE(officer, device, opk));"

/* The mark of a store made at schema 2, on the table whose rows it
 * speaks of (dropped with it, never made by a migration): seen holds no
 * row of schema 1 (a tombstone naming no recipient, a sender named by
 * its bare officer), and none can come (a session's address always has
 * a device), so put needs no check for them (Q_PUT_FRESH). A store
 * made or migrated without it keeps the checks. */
#define PG_FRESH "twofold relay: made at schema 2, no row of schema 1"

static const char schema_new[] = PG_TABLES_MSGS PG_TABLES_PREKEYS
	"CREATE TABLE relay_schema(version integer NOT NULL);"
	"INSERT INTO relay_schema VALUES(" PG_STR(
		PG_SCHEMA) ");"
			   "COMMENT ON TABLE seen IS '" PG_FRESH "';";

/* version 1 -> 2, the messages: the unique keys gain the recipient; a
 * waiting message's seen row takes its recipient, an acknowledged one's
 * tombstone '' */
static const char migrate1_msgs[] =
	"ALTER TABLE msgs DROP CONSTRAINT msgs_sender_id_key;"
	"ALTER TABLE msgs ADD UNIQUE(sender, recipient, id);"
	"ALTER TABLE seen ADD COLUMN recipient text NOT NULL DEFAULT '';"
	"ALTER TABLE seen ALTER COLUMN recipient DROP DEFAULT;"
	"ALTER TABLE seen DROP CONSTRAINT seen_pkey;"
	"UPDATE seen SET recipient=m.recipient FROM msgs m WHERE "
	"m.sender=seen.sender AND m.id=seen.id;"
	"ALTER TABLE seen ADD PRIMARY KEY(sender, recipient, id);"
	"ALTER TABLE prekey_base RENAME TO prekey_base_v1;"
	"ALTER TABLE prekey_opk RENAME TO prekey_opk_v1;"
	"ALTER TABLE prekey_opk_v1 RENAME CONSTRAINT prekey_opk_pkey TO "
	"prekey_opk_v1_pkey;"
	"ALTER TABLE prekey_opk_v1 RENAME CONSTRAINT "
	"prekey_opk_officer_opk_key TO prekey_opk_v1_officer_opk_key;"
	"ALTER TABLE prekey_base_v1 RENAME CONSTRAINT prekey_base_pkey TO "
	"prekey_base_v1_pkey;"
	"ALTER SEQUENCE prekey_opk_n_seq RENAME TO "
	"prekey_opk_v1_n_seq;" PG_TABLES_PREKEYS;

static bool name_ok(const char *s)
{
	size_t n = s ? strnlen(s, TF_STORE_NAME_MAX + 1) : 0;

	return n > 0 && n <= TF_STORE_NAME_MAX;
}

/* Connection classes (08: connection exception, 57P: the server is
 * shutting down or starting) and read_only_sql_transaction (25006: after
 * a failover this server became a standby; a reconnect with
 * target_session_attrs=read-write finds the new primary): drop the
 * session, so the next call connects afresh. */
static int pg_fail(struct pg_store *st, const PGresult *res)
{
	const char *code =
		res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(st->conn) != CONNECTION_OK || code == NULL ||
	    !strncmp(code, "08", 2) || !strncmp(code, "57P", 3) ||
	    !strcmp(code, "25006"))
		st->ready = false;
	if (code && !strcmp(code, "53100")) /* disk_full */
		return -ENOSPC;
	if (code && !strcmp(code, "53200")) /* out_of_memory */
		return -ENOMEM;
	return -EIO;
}

static int pg_prepare_all(struct pg_store *st)
{
	PGresult *res = PQexec(st->conn, "SET synchronous_commit TO on");
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_fail(st, res);
	PQclear(res);
	for (size_t i = 0; r == 0 && i < TF_ARRAY_SIZE(stmts); i++) {
		res = PQprepare(st->conn, stmts[i].name, stmts[i].sql,
				stmts[i].n, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pg_fail(st, res);
		PQclear(res);
	}
	return r;
}

/* libpq's default prints the server's notices to stderr: library code
 * never prints. A WARNING is remembered: one on a COMMIT is how the
 * server says it stopped waiting for the synchronous standby (a cancel:
 * "the transaction has already committed locally, but might not have
 * been replicated"), and that COMMIT still reports success. */
static void pg_notice(void *arg, const PGresult *res)
{
	struct pg_store *st = arg;
	const char *sev =
		PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (sev != NULL && !strcmp(sev, "WARNING"))
		st->warned = true;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pg_connect(struct pg_store *st)
{
	/* Our defaults first, so one in the operator's string wins (with
	 * expand_dbname the later keywords override the earlier).
	 * connect_timeout: per host of a multi-host string, so a dead host
	 * costs 3 s before the next is tried. The TCP ones (libpq ignores
	 * them on a unix socket): a primary that vanished without a FIN or
	 * RST (a machine that lost power, a partition) would otherwise hold
	 * a statement, and with it store_mu and so the whole relay, for the
	 * kernel's retransmission timeout (~15 min with tcp_retries2=15):
	 * tcp_user_timeout bounds a request the peer never acknowledged,
	 * keepalives an answer that never comes (the request was acked).
	 * Neither fires on a live server that is slow: its kernel acks and
	 * answers probes whatever the backend does (a COMMIT waiting for a
	 * synchronous standby). A lost COMMIT's outcome is unknown: the
	 * device retries with the same id and the seen table makes it a
	 * duplicate if it did commit. */
	const char *const kw[] = {
		"connect_timeout",     "keepalives",	   "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"application_name",    "dbname",	   NULL};
	const char *const val[] = {"3",
				   "1",
				   "5",
				   "1",
				   "3",
				   PG_STR(PG_TCP_TIMEOUT_MS),
				   "twofold-relay",
				   st->conninfo,
				   NULL};

	if (st->conn != NULL)
		PQfinish(st->conn);
	st->conn = PQconnectdbParams(kw, val, 1);
	st->last_try_ms = mono_ms();
	if (st->conn == NULL)
		return -ENOMEM;
	PQsetNoticeReceiver(st->conn, pg_notice, st);
	if (PQstatus(st->conn) != CONNECTION_OK)
		return -EIO;
	return 0;
}

/* Before every call: reconnect a lost session (rate-limited) and
 * prepare the statements again (they are per session). The second is
 * counted from the end of the last attempt, which can itself take
 * connect_timeout per dead host, all of it under the caller's store_mu:
 * counted from its start, a relay whose first host is dead would spend
 * the whole outage inside attempts; this way it answers "retry later"
 * at once for a second between two. */
static int pg_ensure(struct pg_store *st)
{
	int r;

	if (st->ready && PQstatus(st->conn) == CONNECTION_OK)
		return 0;
	st->ready = false;
	if (mono_ms() - st->last_try_ms < PG_RETRY_MS)
		return -EIO;
	r = pg_connect(st);
	if (r == 0)
		r = pg_prepare_all(st);
	if (r < 0)
		return r;
	st->ready = true;
	st->base.reconnects++;
	return 0;
}

/* Parameters: text (NUL-terminated, format 0) or binary (format 1). */
struct pg_params {
	const char *v[6];
	int len[6], fmt[6], n;
	uint64_t i64[2];
	int ni64;
};

static void p_text(struct pg_params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_bin(struct pg_params *p, const void *b, size_t n)
{
	p->v[p->n] = n ? b : "";
	p->len[p->n] = (int)n;
	p->fmt[p->n++] = 1;
}

static void p_int8(struct pg_params *p, int64_t x)
{
	p->i64[p->ni64] = htobe64((uint64_t)x);
	p_bin(p, &p->i64[p->ni64++], 8);
}

/* Runs a prepared statement, results in binary; NULL and *err on
 * failure (the session dropped if the connection is gone). */
static PGresult *pg_run(struct pg_store *st, int q, const struct pg_params *p,
			int *err)
{
	PGresult *res;
	ExecStatusType s;

	res = PQexecPrepared(st->conn, stmts[q].name, p->n, p->v, p->len,
			     p->fmt, 1);
	s = PQresultStatus(res);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return res;
	*err = pg_fail(st, res);
	PQclear(res);
	return NULL;
}

static int pg_tuples(PGresult *res)
{
	int n = atoi(PQcmdTuples(res));

	PQclear(res);
	return n;
}

static int pg_simple(struct pg_store *st, const char *sql)
{
	PGresult *res = PQexec(st->conn, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_fail(st, res);
	PQclear(res);
	return r;
}

/* The arguments first, then the session: a bad call costs no reconnect */
static int pg_ready(struct pg_store *st, bool args_ok)
{
	return args_ok ? pg_ensure(st) : -EINVAL;
}

static int pg_begin(struct pg_store *st)
{
	int r = pg_ensure(st);

	return r < 0 ? r : pg_simple(st, "BEGIN");
}

/* A failed transaction: roll back while the session lives (a lost one
 * rolled back itself), return r. */
static int pg_rollback(struct pg_store *st, int r)
{
	if (PQstatus(st->conn) == CONNECTION_OK)
		(void)pg_simple(st, "ROLLBACK");
	return r;
}

/* On the synchronous standby too, before the device hears STORED. A
 * put that finds its message already there (the retry of a COMMIT
 * whose answer was lost) writes nothing, so its COMMIT does not wait
 * for the standby: the first COMMIT may be on the primary alone (its
 * session ended while it waited), and a failover now would lose a
 * message the relay acknowledged. The same for a COMMIT that came back
 * with a WARNING (its wait cancelled). A transaction that writes WAL
 * waits at its COMMIT until the standby has flushed the WAL up to its
 * commit record, and so the earlier commit too; an xid alone is not
 * enough (PostgreSQL 15 skips the wait, and the flush, for a
 * transaction that logged nothing before its commit record), so it
 * updates the one row of relay_schema to itself: always a new row
 * version, whatever the message. Two relays doing it at once queue on
 * that row for the length of a commit; it is for duplicates and
 * warnings only. Without a synchronous standby it is one more local
 * commit. -EIO if that wait was cut short too: the device retries. */
static int pg_sync_wait(struct pg_store *st)
{
	PGresult *res;
	int r = 0;

	st->warned = false;
	res = PQexec(st->conn, "UPDATE relay_schema SET version=version");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_fail(st, res);
	PQclear(res);
	if (r == 0 && st->warned)
		r = -EIO;
	return r;
}

static int pg_put(struct tf_store *base, const char *sender,
		  const uint8_t id[TF_STORE_ID_BYTES], const char *recipient,
		  const uint8_t *blob, size_t len, int64_t now)
{
	struct pg_store *st = (struct pg_store *)base;
	struct pg_params p = {0};
	char officer[TF_STORE_NAME_MAX + 1];
	PGresult *res;
	int r;

	r = pg_ready(st, name_ok(sender) && name_ok(recipient) &&
				 len <= TF_STORE_BLOB_MAX &&
				 (blob != NULL || !len));
	if (r < 0)
		return r;
	(void)tf_store_addr_officer(sender, officer);
	p_text(&p, sender);
	p_bin(&p, id, TF_STORE_ID_BYTES);
	p_text(&p, recipient);
	p_bin(&p, blob, len);
	p_int8(&p, now);
	if (!st->fresh)
		p_text(&p, officer);
	st->warned = false;
	res = pg_run(st, st->fresh ? Q_PUT_FRESH : Q_PUT, &p, &r);
	if (res == NULL)
		return r;
	r = pg_tuples(res) == 1 ? TF_STORE_STORED : TF_STORE_DUPLICATE;
	if (r == TF_STORE_DUPLICATE || st->warned) {
		int e = pg_sync_wait(st);

		if (e < 0)
			return e;
	}
	return r;
}

static bool item_ok(const struct tf_store_put_item *it)
{
	return name_ok(it->sender) && name_ok(it->recipient) &&
	       it->id != NULL && it->len <= TF_STORE_BLOB_MAX &&
	       (it->blob != NULL || !it->len);
}

/* Queues one put of the pipeline (libpq copies the parameters). */
static bool pg_send_put(struct pg_store *st, const struct tf_store_put_item *it,
			int64_t now)
{
	struct pg_params p = {0};
	char officer[TF_STORE_NAME_MAX + 1];

	(void)tf_store_addr_officer(it->sender, officer);
	p_text(&p, it->sender);
	p_bin(&p, it->id, TF_STORE_ID_BYTES);
	p_text(&p, it->recipient);
	p_bin(&p, it->blob, it->len);
	p_int8(&p, now);
	if (!st->fresh)
		p_text(&p, officer);
	return PQsendQueryPrepared(st->conn,
				   stmts[st->fresh ? Q_PUT_FRESH : Q_PUT].name,
				   p.n, p.v, p.len, p.fmt, 1) == 1;
}

static bool pg_send_simple(struct pg_store *st, const char *sql)
{
	return PQsendQueryParams(st->conn, sql, 0, NULL, NULL, NULL, NULL, 0) ==
	       1;
}

/* The next query's result of the pipeline, and the NULL that ends it.
 * NULL when the connection broke (none comes). */
static PGresult *pg_pipe_result(struct pg_store *st)
{
	PGresult *res = PQgetResult(st->conn), *extra;

	if (res == NULL)
		return NULL;
	while ((extra = PQgetResult(st->conn)) != NULL)
		PQclear(extra);
	return res;
}

/* One query's result: 0, or the batch's error (the first one wins: the
 * queries after it come back PGRES_PIPELINE_ABORTED). */
static int pg_pipe_status(struct pg_store *st, PGresult *res, int r)
{
	ExecStatusType s = PQresultStatus(res);

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	if (s == PGRES_PIPELINE_ABORTED)
		return r < 0 ? r : -EIO;
	return r < 0 ? r : pg_fail(st, res);
}

/* Group commit: BEGIN, the puts, COMMIT in one pipeline, so one round
 * trip and one WAL flush for the batch. Each put waiting for its
 * answer before the next is sent (34 round trips for 32 messages, each
 * a wakeup of the server and of the relay) cost several times the
 * statements themselves and the fsync on this machine (bench/RESULTS.md,
 * round 6). The puts run in order inside the transaction, so a second
 * copy in the batch sees the first one's seen row: a duplicate. The
 * COMMIT's CommandComplete is sent after its WAL flush (a transaction
 * statement commits at its Execute, before the Sync), and the results
 * are read up to the Sync before any item is reported. On any failure
 * nothing of the batch is committed: the first error stops the
 * pipeline (the server skips the rest up to the Sync), then ROLLBACK. */
static int pg_put_many(struct tf_store *base, struct tf_store_put_item *it,
		       size_t n, int64_t now)
{
	struct pg_store *st = (struct pg_store *)base;
	PGresult *res;
	bool sent, wrote = false, dup = false;
	int r = pg_ensure(st);

	if (r < 0)
		return r;
	if (PQenterPipelineMode(st->conn) != 1)
		return pg_fail(st, NULL);
	st->warned = false;
	sent = pg_send_simple(st, "BEGIN");
	for (size_t i = 0; sent && i < n; i++) {
		it[i].result = item_ok(&it[i]) ? 0 : -EINVAL;
		if (it[i].result == 0)
			sent = pg_send_put(st, &it[i], now);
	}
	sent = sent && pg_send_simple(st, "COMMIT") &&
	       PQpipelineSync(st->conn) == 1;
	if (!sent) /* the connection failed: the server rolls back */
		return pg_fail(st, NULL);
	/* BEGIN, each put, COMMIT, then the Sync */
	res = pg_pipe_result(st);
	if (res == NULL)
		return pg_fail(st, NULL);
	r = pg_pipe_status(st, res, 0);
	PQclear(res);
	for (size_t i = 0; i < n; i++) {
		if (it[i].result < 0)
			continue;
		res = pg_pipe_result(st);
		if (res == NULL)
			return pg_fail(st, NULL);
		r = pg_pipe_status(st, res, r);
		if (r == 0) {
			it[i].result = atoi(PQcmdTuples(res)) == 1
					       ? TF_STORE_STORED
					       : TF_STORE_DUPLICATE;
			wrote |= it[i].result == TF_STORE_STORED;
			dup |= it[i].result == TF_STORE_DUPLICATE;
		}
		PQclear(res);
	}
	res = pg_pipe_result(st);
	if (res == NULL)
		return pg_fail(st, NULL);
	r = pg_pipe_status(st, res, r);
	/* a COMMIT of a failed transaction answers ROLLBACK */
	if (r == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
		r = -EIO;
	PQclear(res);
	res = PQgetResult(st->conn);
	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		PQclear(res);
		return pg_fail(st, NULL);
	}
	PQclear(res);
	if (PQexitPipelineMode(st->conn) != 1)
		return pg_fail(st, NULL);
	if (r != 0)
		return pg_rollback(st, r);
	/* committed; but a batch that wrote nothing did not wait for the
	 * standby, and a WARNING (the standby wait cancelled) is no durable
	 * commit either: wait for it now (pg_sync_wait) */
	if ((dup && !wrote) || st->warned)
		r = pg_sync_wait(st);
	return r;
}

static int64_t be_int8(const char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return (int64_t)be64toh(x);
}

static int pg_next(struct tf_store *base, const char *recipient,
		   int64_t after_seq, struct tf_stored_msg *out)
{
	struct pg_store *st = (struct pg_store *)base;
	struct tf_stored_msg m = {0};
	struct pg_params p = {0};
	char officer[TF_STORE_NAME_MAX + 1];
	PGresult *res;
	int r;

	r = pg_ready(st, name_ok(recipient));
	if (r < 0)
		return r;
	(void)tf_store_addr_officer(recipient, officer);
	p_text(&p, recipient);
	p_int8(&p, after_seq);
	p_text(&p, officer);
	res = pg_run(st, Q_NEXT, &p, &r);
	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		r = 0;
		goto out;
	}
	/* a row we never wrote: refuse, do not guess */
	r = -EIO;
	if (PQnfields(res) != 5 || PQgetlength(res, 0, 0) != 8 ||
	    PQgetlength(res, 0, 1) > TF_STORE_NAME_MAX ||
	    PQgetlength(res, 0, 4) > TF_STORE_NAME_MAX ||
	    PQgetlength(res, 0, 2) != TF_STORE_ID_BYTES ||
	    PQgetlength(res, 0, 3) > TF_STORE_BLOB_MAX)
		goto out;
	m.seq = be_int8(PQgetvalue(res, 0, 0));
	memcpy(m.sender, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
	m.sender[PQgetlength(res, 0, 1)] = '\0';
	memcpy(m.recipient, PQgetvalue(res, 0, 4),
	       (size_t)PQgetlength(res, 0, 4));
	m.recipient[PQgetlength(res, 0, 4)] = '\0';
	memcpy(m.id, PQgetvalue(res, 0, 2), TF_STORE_ID_BYTES);
	m.len = (size_t)PQgetlength(res, 0, 3);
	m.blob = malloc(m.len ? m.len : 1);
	if (m.blob == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(m.blob, PQgetvalue(res, 0, 3), m.len);
	*out = m;
	r = 1;
out:
	PQclear(res);
	return r;
}

static int pg_ack_one(struct pg_store *st, const char *recipient,
		      const char *sender, const uint8_t id[TF_STORE_ID_BYTES],
		      int64_t now)
{
	struct pg_params p = {0};
	PGresult *res;
	int r;

	p_text(&p, sender);
	p_bin(&p, id, TF_STORE_ID_BYTES);
	p_text(&p, recipient);
	p_int8(&p, now);
	res = pg_run(st, Q_ACK, &p, &r);
	if (res == NULL)
		return r;
	return pg_tuples(res) == 1 ? 0 : -ENOENT;
}

/* the device's own copy first; only when it has none, the bare
 * officer's row (stored for any of its devices) */
static int pg_ack(struct tf_store *base, const char *recipient,
		  const char *sender, const uint8_t id[TF_STORE_ID_BYTES],
		  int64_t now)
{
	struct pg_store *st = (struct pg_store *)base;
	char officer[TF_STORE_NAME_MAX + 1];
	int r;

	r = pg_ready(st, name_ok(recipient) && name_ok(sender));
	if (r < 0)
		return r;
	r = pg_ack_one(st, recipient, sender, id, now);
	if (r == -ENOENT && tf_store_addr_officer(recipient, officer))
		r = pg_ack_one(st, officer, sender, id, now);
	return r;
}

static int pg_expire(struct tf_store *base, int64_t before)
{
	struct pg_store *st = (struct pg_store *)base;
	struct pg_params p = {0};
	PGresult *res;
	int r = pg_ensure(st);

	if (r < 0)
		return r;
	p_int8(&p, before);
	res = pg_run(st, Q_EXPIRE, &p, &r);
	return res == NULL ? r : pg_tuples(res);
}

/* count(*) is bigint: 8 bytes, big-endian in binary results */
static int pg_count_q(struct pg_store *st, int q, const char *who,
		      const char *who2)
{
	struct pg_params p = {0};
	PGresult *res;
	int64_t n;
	int r;

	p_text(&p, who);
	p_text(&p, who2);
	res = pg_run(st, q, &p, &r);
	if (res == NULL)
		return r;
	if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 8) {
		PQclear(res);
		return -EIO;
	}
	n = be_int8(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int pg_count(struct tf_store *base, const char *recipient)
{
	struct pg_store *st = (struct pg_store *)base;
	char officer[TF_STORE_NAME_MAX + 1];
	int r;

	r = pg_ready(st, name_ok(recipient));
	if (r < 0)
		return r;
	(void)tf_store_addr_officer(recipient, officer);
	return pg_count_q(st, Q_COUNT, recipient, officer);
}

static bool device_ok(const char *d)
{
	size_t n = d ? strnlen(d, TF_STORE_DEVICE_MAX + 1) : 0;

	return n > 0 && n <= TF_STORE_DEVICE_MAX;
}

static int pg_prekey_put(struct tf_store *base, const char *officer,
			 const char *device, const uint8_t *b, size_t blen,
			 const uint8_t *opks, size_t n, size_t opklen)
{
	struct pg_store *st = (struct pg_store *)base;
	PGresult *res = NULL;
	int r, have;

	if (!name_ok(officer) || !device_ok(device) || blen == 0 ||
	    blen > TF_STORE_BLOB_MAX ||
	    (n && (opks == NULL || opklen < 5 || opklen > 256)))
		return -EINVAL;
	r = pg_begin(st);
	if (r < 0)
		return r;
	{
		struct pg_params p = {0};

		p_text(&p, officer);
		p_text(&p, device);
		p_bin(&p, b, blen);
		res = pg_run(st, Q_PK_BASE, &p, &r);
		if (res == NULL)
			goto rollback;
		PQclear(res);
	}
	/* a device may publish again and again: its one-time prekeys on
	 * the relay stay bounded (the extra ones are not kept) */
	have = pg_count_q(st, Q_PK_UNUSED, officer, device);
	if (have < 0) {
		r = have;
		goto rollback;
	}
	if ((size_t)have >= TF_STORE_OPK_MAX)
		n = 0;
	else if (n > TF_STORE_OPK_MAX - (size_t)have)
		n = TF_STORE_OPK_MAX - (size_t)have;
	for (size_t i = 0; i < n; i++) {
		struct pg_params p = {0};

		p_text(&p, officer);
		p_text(&p, device);
		p_bin(&p, opks + i * opklen, opklen);
		res = pg_run(st, Q_PK_ADD, &p, &r);
		if (res == NULL)
			goto rollback;
		PQclear(res);
	}
	/* tombstones bounded too: the newest TF_STORE_OPK_TOMBS kept */
	{
		struct pg_params p = {0};

		p_text(&p, officer);
		p_text(&p, device);
		res = pg_run(st, Q_PK_TRIM, &p, &r);
		if (res == NULL)
			goto rollback;
		PQclear(res);
	}
	have = pg_count_q(st, Q_PK_UNUSED, officer, device);
	if (have < 0) {
		r = have;
		goto rollback;
	}
	r = pg_simple(st, "COMMIT");
	if (r < 0)
		goto rollback;
	return have;
rollback:
	return pg_rollback(st, r);
}

/* a (device, bundle) row of pk_get / pk_newest / pk_list, bounded */
static int pg_bundle_row(PGresult *res, int i, struct tf_store_bundle *out)
{
	size_t dl = (size_t)PQgetlength(res, i, 0);
	size_t n = (size_t)PQgetlength(res, i, 1);

	if (PQnfields(res) != 2 || dl == 0 || dl > TF_STORE_DEVICE_MAX ||
	    n > TF_STORE_BLOB_MAX)
		return -EIO; /* a row we never wrote */
	out->bundle = malloc(n ? n : 1);
	if (out->bundle == NULL)
		return -ENOMEM;
	memcpy(out->bundle, PQgetvalue(res, i, 1), n);
	out->len = n;
	memcpy(out->device, PQgetvalue(res, i, 0), dl);
	out->device[dl] = '\0';
	return 0;
}

static int pg_prekey_take(struct tf_store *base, const char *officer,
			  const char *device,
			  char devout[TF_STORE_DEVICE_MAX + 1],
			  uint8_t **bundle, size_t *blen, uint8_t *opk,
			  size_t opkcap, size_t *opklen)
{
	struct pg_store *st = (struct pg_store *)base;
	struct pg_params p = {0};
	struct tf_store_bundle b = {0};
	PGresult *res;
	size_t on = 0;
	int r;

	r = pg_ready(st, name_ok(officer) &&
				 (device[0] == '\0' || device_ok(device)));
	if (r < 0)
		return r;
	p_text(&p, officer);
	if (device[0] != '\0')
		p_text(&p, device);
	res = pg_run(st, device[0] != '\0' ? Q_PK_GET : Q_PK_NEWEST, &p, &r);
	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	r = pg_bundle_row(res, 0, &b);
	PQclear(res);
	if (r < 0)
		return r;
	/* handed out once: marked (committed) before the reply leaves. The
	 * row stays as a tombstone (a public key, no secret), so a device
	 * that publishes again (its reply was lost) cannot bring back a
	 * key someone else already holds */
	p = (struct pg_params){0};
	p_text(&p, officer);
	p_text(&p, b.device);
	res = pg_run(st, Q_PK_TAKE, &p, &r);
	if (res == NULL) {
		tf_store_bundle_clear(&b);
		return r;
	}
	if (PQntuples(res) == 1) {
		on = (size_t)PQgetlength(res, 0, 0);
		if (on > opkcap) {
			PQclear(res);
			tf_store_bundle_clear(&b);
			return -EIO;
		}
		memcpy(opk, PQgetvalue(res, 0, 0), on);
	}
	PQclear(res);
	*bundle = b.bundle;
	*blen = b.len;
	*opklen = on;
	memcpy(devout, b.device, sizeof(b.device));
	return 1;
}

static int pg_prekey_list(struct tf_store *base, const char *officer,
			  struct tf_store_bundle *out, size_t max)
{
	struct pg_store *st = (struct pg_store *)base;
	struct pg_params p = {0};
	PGresult *res;
	int r, n;

	r = pg_ready(st, name_ok(officer) && max <= INT32_MAX);
	if (r < 0)
		return r;
	p_text(&p, officer);
	p_int8(&p, (int64_t)max);
	res = pg_run(st, Q_PK_LIST, &p, &r);
	if (res == NULL)
		return r;
	n = PQntuples(res);
	if ((size_t)n > max)
		n = (int)max;
	for (int i = 0; i < n; i++) {
		r = pg_bundle_row(res, i, &out[i]);
		if (r < 0) {
			while (i-- > 0)
				tf_store_bundle_clear(&out[i]);
			PQclear(res);
			return r;
		}
	}
	PQclear(res);
	return n;
}

static void pg_close(struct tf_store *base)
{
	struct pg_store *st = (struct pg_store *)base;

	if (st->conn != NULL)
		PQfinish(st->conn);
	if (st->conninfo != NULL) {
		explicit_bzero(st->conninfo, strlen(st->conninfo));
		free(st->conninfo);
	}
	free(st);
}

static const struct tf_store_ops pg_ops = {
	.name = "postgres",
	.put_many = pg_put_many,
	.put = pg_put,
	.next = pg_next,
	.ack = pg_ack,
	.expire = pg_expire,
	.count = pg_count,
	.prekey_put = pg_prekey_put,
	.prekey_take = pg_prekey_take,
	.prekey_list = pg_prekey_list,
	.close = pg_close,
};

/* version 1 -> 2, the prekeys: each old bundle moves to the device its
 * certificate names, with its one-time prekeys (one that does not parse
 * was of no use to anyone: dropped) */
static int pg_migrate1_prekeys(struct pg_store *st)
{
	PGresult *res = PQexecParams(
		st->conn, "SELECT officer, bundle FROM prekey_base_v1", 0, NULL,
		NULL, NULL, NULL, 1);
	int r = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = pg_fail(st, res);
		PQclear(res);
		return r;
	}
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		char officer[TF_STORE_NAME_MAX + 1];
		char dev[TF_STORE_DEVICE_MAX + 1];
		size_t ol = (size_t)PQgetlength(res, i, 0);
		const uint8_t *b = (const uint8_t *)PQgetvalue(res, i, 1);
		size_t n = (size_t)PQgetlength(res, i, 1);
		const char *v[3];
		int len[3], fmt[3] = {0, 0, 1};
		PGresult *q;

		if (ol == 0 || ol > TF_STORE_NAME_MAX ||
		    tf_store_bundle_device(b, n, dev) < 0)
			continue;
		memcpy(officer, PQgetvalue(res, i, 0), ol);
		officer[ol] = '\0';
		v[0] = officer;
		v[1] = dev;
		v[2] = (const char *)b;
		len[0] = len[1] = 0;
		len[2] = (int)n;
		q = PQexecParams(st->conn,
				 "INSERT INTO prekey_base(officer, device, "
				 "bundle) VALUES($1, $2, $3)",
				 3, NULL, v, len, fmt, 0);
		if (PQresultStatus(q) != PGRES_COMMAND_OK)
			r = pg_fail(st, q);
		PQclear(q);
		if (r < 0)
			break;
		q = PQexecParams(st->conn,
				 "INSERT INTO prekey_opk(officer, device, opk, "
				 "used) SELECT officer, $2, opk, used FROM "
				 "prekey_opk_v1 WHERE officer=$1 ORDER BY n",
				 2, NULL, v, len, fmt, 0);
		if (PQresultStatus(q) != PGRES_COMMAND_OK)
			r = pg_fail(st, q);
		PQclear(q);
	}
	PQclear(res);
	if (r == 0)
		r = pg_simple(st, "DROP TABLE prekey_base_v1, prekey_opk_v1");
	return r;
}

/* The schema at PG_SCHEMA: created, or migrated from version 1, under
 * the advisory lock in one transaction (a second relay starting waits,
 * then finds it done). -EPROTO for a newer relay's schema. On failure
 * the transaction is the caller's to roll back (after it read the
 * server's message). */
static int pg_schema(struct pg_store *st)
{
	PGresult *res;
	int r, v = 0;

	r = pg_simple(st, "BEGIN");
	if (r < 0)
		return r;
	res = PQexec(st->conn, "SELECT pg_advisory_xact_lock(7402331501)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = pg_fail(st, res);
	PQclear(res);
	if (r < 0)
		return r;
	/* two queries: a statement naming a missing table fails to parse */
	res = PQexec(st->conn, "SELECT to_regclass('relay_schema') IS NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		r = pg_fail(st, res);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		v = -1; /* there: read it */
	PQclear(res);
	if (r == 0 && v < 0) {
		res = PQexec(
			st->conn,
			"SELECT coalesce(max(version), 0) FROM relay_schema");
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    PQntuples(res) != 1)
			r = pg_fail(st, res);
		else
			v = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (r == 0 && v > PG_SCHEMA)
		r = -EPROTO; /* a newer relay's: not ours to guess at */
	else if (r == 0 && v == 0) {
		r = pg_simple(st, schema_new);
		st->fresh = r == 0;
	} else if (r == 0 && v == PG_SCHEMA) {
		res = PQexec(
			st->conn,
			"SELECT coalesce(obj_description('seen'::regclass, "
			"'pg_class'), '') = '" PG_FRESH "'");
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    PQntuples(res) != 1)
			r = pg_fail(st, res);
		else
			st->fresh = !strcmp(PQgetvalue(res, 0, 0), "t");
		PQclear(res);
	} else if (r == 0 && v == 1) {
		r = pg_simple(st, migrate1_msgs);
		if (r == 0)
			r = pg_migrate1_prekeys(st);
		if (r == 0)
			r = pg_simple(st, "UPDATE relay_schema SET "
					  "version=" PG_STR(PG_SCHEMA));
	}
	if (r == 0)
		r = pg_simple(st, "COMMIT");
	return r;
}

static void why_set(char *why, size_t whylen, const char *msg)
{
	size_t n;

	if (why == NULL || whylen == 0)
		return;
	n = strcspn(msg, "\n");
	if (n >= whylen)
		n = whylen - 1;
	memcpy(why, msg, n);
	why[n] = '\0';
}

int tf_store_open_pg(const char *conninfo, struct tf_store **out, char *why,
		     size_t whylen)
{
	struct pg_store *st = calloc(1, sizeof(*st));
	PGresult *res;
	int r;

	if (st == NULL)
		return -ENOMEM;
	st->base.ops = &pg_ops;
	st->conninfo = strdup(conninfo);
	if (st->conninfo == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	r = pg_connect(st);
	if (r < 0) {
		why_set(why, whylen,
			st->conn ? PQerrorMessage(st->conn) : "out of memory");
		goto fail;
	}
	/* the contract is "durable on return": a server that does not
	 * fsync cannot keep it, whatever the session asks */
	res = PQexec(st->conn, "SHOW fsync");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), "on") != 0) {
		PQclear(res);
		why_set(why, whylen,
			"the server runs with fsync=off: a stored message "
			"would not survive a crash");
		r = -EINVAL;
		goto fail;
	}
	PQclear(res);
	r = pg_schema(st);
	if (r < 0) {
		why_set(why, whylen,
			r == -EPROTO ? "the database has a newer relay's "
				       "schema"
				     : PQerrorMessage(st->conn));
		(void)pg_rollback(st, r);
		goto fail;
	}
	r = pg_prepare_all(st);
	if (r < 0) {
		why_set(why, whylen, PQerrorMessage(st->conn));
		goto fail;
	}
	st->ready = true;
	*out = &st->base;
	return 0;
fail:
	pg_close(&st->base);
	return r;
}
