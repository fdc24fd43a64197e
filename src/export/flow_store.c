/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite flow store: the only file that includes sqlite3.h. One table of flow
 * records, WAL journal, batched insert transactions, retention by age and row
 * count in bounded steps, and parameterised read-only queries. Addresses are
 * 16-byte big-endian BLOBs (IPv4 as ::ffff:a.b.c.d) so a CIDR is a BLOB range.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "export/flow_store.h"
#include "export/flow_store_db.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/opts.h"

#define STORE_APP_ID 0x6a636170 /* "jcap" in PRAGMA application_id */
#define STORE_SCHEMA_VERSION 3
#define STORE_BUSY_MS 5000
#define STORE_CHECKPOINT_BYTES (64 << 20) /* WAL size that triggers a checkpoint */

struct pc_flow_store {
	sqlite3 *db;
	sqlite3_stmt *ins, *begin, *commit, *del_age, *del_rows;
	struct pc_flow_store_params p;
	uint64_t rows;	  /* committed + pending */
	uint32_t pending; /* rows in the open transaction */
	bool in_txn;
	uint64_t txn_start_ms; /* monotonic, when the transaction began */
	char path[4096];
	char err[512];
};

static uint64_t mono_ms(void)
{
	return pc_mono_ns() / 1000000;
}

static const char *errtext(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len); /* GNU: thread-safe */
}

/* Record an SQLite failure on @s: "<path>: <what>: <sqlite message>". */
static int dberr(struct pc_flow_store *s, const char *what)
{
	return pc_errf(s->err, sizeof(s->err), -CAPTURE_E_DB, "%s: %s: %s", s->path, what,
		       sqlite3_errmsg(s->db));
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Single integer result of @sql, or -1. */
sqlite3_int64 pc_fs_pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3_int64 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool has_flows_table(sqlite3 *db)
{
	return pc_fs_pragma_int(db, "SELECT count(*) FROM sqlite_schema "
				    "WHERE type = 'table' AND name = 'flows'") == 1;
}

/* Explain why @path cannot be opened before SQLite gives a vaguer message. */
static int precheck(const char *path, bool must_exist, char *err, size_t errlen)
{
	struct stat st;
	char eb[128];
	int e;

	if (stat(path, &st) < 0) {
		e = errno;
		if (e == ENOENT && !must_exist)
			return 0;
		return pc_errf(err, errlen, -e, "%s: %s", path, errtext(e, eb, sizeof(eb)));
	}
	if (S_ISDIR(st.st_mode))
		return pc_errf(err, errlen, -EISDIR, "%s: %s", path,
			       errtext(EISDIR, eb, sizeof(eb)));
	if (!S_ISREG(st.st_mode))
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: not a regular file", path);
	return 0;
}

/* Add @n columns and their indexes, in the caller's transaction. */
static int add_columns(sqlite3 *db, const char *const *cols, size_t n, const char *idx)
{
	char sql[128];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "ALTER TABLE flows ADD COLUMN %s", cols[i]);
		rc = exec(db, sql);
		if (rc != SQLITE_OK)
			return rc;
	}
	return exec(db, idx);
}

/* Version @from -> current: version 2's columns of tunnels and link
 * identity, version 3's of transport health and applications, in the
 * caller's transaction. SQLITE_OK or the failing code. */
static int migrate(sqlite3 *db, sqlite3_int64 from)
{
	char sql[64];
	int rc = SQLITE_OK;

	if (from < 2)
		rc = add_columns(db, schema_v2_cols, PC_ARRAY_SIZE(schema_v2_cols), schema_v2_idx);
	if (rc == SQLITE_OK && from < 3)
		rc = add_columns(db, schema_v3_cols, PC_ARRAY_SIZE(schema_v3_cols), schema_v3_idx);
	if (rc != SQLITE_OK)
		return rc;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	return exec(db, sql);
}

/* Upgrade an older store opened for writing; the message says why not. */
static int upgrade(sqlite3 *db, sqlite3_int64 from, const char *path, char *err, size_t errlen)
{
	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK || migrate(db, from) != SQLITE_OK ||
	    exec(db, "COMMIT") != SQLITE_OK) {
		pc_errf(err, errlen, -CAPTURE_E_DB,
			"%s: cannot upgrade the schema to version %d: %s", path,
			STORE_SCHEMA_VERSION, sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return -CAPTURE_E_DB;
	}
	return 0;
}

/*
 * Check the file is ours (or empty, then create the schema). A version 1 or
 * 2 store is upgraded when opened for writing (@create); a reader asks for
 * that rather than guessing the columns it lacks. A database of
 * another application is refused rather than written into.
 */
int pc_fs_check_schema(sqlite3 *db, const char *path, bool create, char *err, size_t errlen)
{
	sqlite3_int64 app, ver, n;
	char sql[128];

	app = pc_fs_pragma_int(db, "PRAGMA application_id");
	if (app < 0)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
	ver = pc_fs_pragma_int(db, "PRAGMA user_version");
	n = pc_fs_pragma_int(db, "SELECT count(*) FROM sqlite_schema");
	if (app == STORE_APP_ID) {
		if (ver >= 1 && ver < STORE_SCHEMA_VERSION && has_flows_table(db) && create)
			return upgrade(db, ver, path, err, errlen);
		if (ver >= 1 && ver < STORE_SCHEMA_VERSION)
			return pc_errf(err, errlen, -CAPTURE_E_DB,
				       "%s: flow store schema version %lld, this build reads %d: "
				       "store flows into it once (sqlite:%s) to upgrade it",
				       path, (long long)ver, STORE_SCHEMA_VERSION, path);
		if (ver != STORE_SCHEMA_VERSION)
			return pc_errf(err, errlen, -CAPTURE_E_DB,
				       "%s: flow store schema version %lld, this build reads %d",
				       path, (long long)ver, STORE_SCHEMA_VERSION);
		if (!has_flows_table(db))
			return pc_errf(err, errlen, -CAPTURE_E_DB,
				       "%s: flow store without a flows table", path);
		return 0;
	}
	if (app != 0 || n != 0)
		return pc_errf(err, errlen, -CAPTURE_E_DB,
			       "%s: an SQLite database but not a jcap flow store", path);
	if (!create)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: empty database, no flows stored",
			       path);
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d;", STORE_APP_ID);
	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK || exec(db, schema_sql) != SQLITE_OK ||
	    exec(db, sql) != SQLITE_OK || migrate(db, 1) != SQLITE_OK ||
	    exec(db, "COMMIT") != SQLITE_OK) {
		pc_errf(err, errlen, -CAPTURE_E_DB, "%s: cannot create the schema: %s", path,
			sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return -CAPTURE_E_DB;
	}
	return 0;
}

/* Open an SQLite connection with a clear error; @rw opens read-write. */
int pc_fs_db_open(sqlite3 **out, const char *path, bool rw, bool create, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_NOMUTEX | (rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
		    (create ? SQLITE_OPEN_CREATE : 0);
	sqlite3 *db = NULL;
	char eb[128];
	int rc, e;

	rc = precheck(path, !create, err, errlen);
	if (rc)
		return rc;
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		e = db ? sqlite3_system_errno(db) : 0;
		if (e > 0)
			pc_errf(err, errlen, -e, "%s: %s", path, errtext(e, eb, sizeof(eb)));
		else
			pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path,
				db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return e > 0 ? -e : -CAPTURE_E_DB;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	*out = db;
	return 0;
}

/* Page size, journal, sync and cache settings of the writing connection
 * (the measurements behind them are beside each). 0 or -CAPTURE_E_DB. */
static int tune_db(struct pc_flow_store *s, char *err, size_t errlen)
{
	sqlite3_int64 n;

	/* 8 KiB pages for a new file (a no-op for an existing one): shallower
	 * index trees, about 15 % more rows per second than 4 KiB in paired runs */
	if (exec(s->db, "PRAGMA page_size = 8192") != SQLITE_OK)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path,
			       sqlite3_errmsg(s->db));
	/* WAL: readers (jcap query) never block the writer; with NORMAL a crash
	 * of the process loses nothing committed, a power loss at most the last
	 * transactions, and the file is never corrupt */
	n = 0;
	{
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) ==
		    SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
			    !strcmp((const char *)sqlite3_column_text(st, 0), "wal"))
				n = 1;
			sqlite3_finalize(st);
		}
	}
	if (!n)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: cannot use the WAL journal: %s",
			       s->path, sqlite3_errmsg(s->db));
	/* checkpoints (the only fsyncs under NORMAL) every 64 MiB of WAL rather
	 * than SQLite's 4 MiB: about a third more rows per second. A 64 MiB page
	 * cache (SQLite's default is 2 MiB) keeps the inner pages of the address
	 * and port indexes, where each row lands at a random place, in memory. */
	if (exec(s->db, "PRAGMA synchronous = NORMAL; "
			"PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -65536; "
			"PRAGMA temp_store = MEMORY") != SQLITE_OK)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path,
			       sqlite3_errmsg(s->db));
	n = pc_fs_pragma_int(s->db, "PRAGMA page_size"); /* 8192, or an older file's */
	if (n < 512 ||
	    sqlite3_wal_autocheckpoint(s->db, (int)(STORE_CHECKPOINT_BYTES / n)) != SQLITE_OK)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path,
			       sqlite3_errmsg(s->db));
	return 0;
}

/* The statements the writer reuses for every batch. 0 or -CAPTURE_E_DB (the
 * ones prepared are left for the caller to finalize). */
static int prepare_writer(struct pc_flow_store *s, char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(s->db,
			       "INSERT INTO flows (" FLOW_COLS ") VALUES (?,?,?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &s->begin,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &s->commit, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
			       "DELETE FROM flows WHERE id IN (SELECT id FROM flows "
			       "WHERE last_ns < ?1 ORDER BY last_ns LIMIT ?2)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->del_age, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
			       "DELETE FROM flows WHERE id IN (SELECT id FROM flows "
			       "ORDER BY last_ns, id LIMIT ?1)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->del_rows, NULL) != SQLITE_OK)
		return pc_errf(err, errlen, -CAPTURE_E_DB, "%s: cannot prepare statements: %s",
			       s->path, sqlite3_errmsg(s->db));
	return 0;
}

static void finalize_writer(struct pc_flow_store *s)
{
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->del_age);
	sqlite3_finalize(s->del_rows);
}

int pc_flow_store_open(struct pc_flow_store **out, const struct pc_flow_store_params *p, char *err,
		       size_t errlen)
{
	struct pc_flow_store *s;
	sqlite3_int64 n;
	int rc;

	if (!out || !p || !p->path || !p->path[0])
		return pc_errf(err, errlen, -EINVAL, "flow store: no database path");
	if (strlen(p->path) >= sizeof(s->path))
		return pc_errf(err, errlen, -ENAMETOOLONG, "flow store: path too long");
	s = calloc(1, sizeof(*s));
	if (!s)
		return pc_errf(err, errlen, -ENOMEM, "flow store: out of memory");
	s->p = *p;
	if (!s->p.batch_rows)
		s->p.batch_rows = PC_STORE_BATCH_ROWS;
	if (!s->p.commit_ms)
		s->p.commit_ms = PC_STORE_COMMIT_MS;
	if (!s->p.retain_budget)
		s->p.retain_budget = PC_STORE_RETAIN_BUDGET;
	memcpy(s->path, p->path, strlen(p->path) + 1);
	s->p.path = s->path;

	rc = pc_fs_db_open(&s->db, s->path, true, true, err, errlen);
	if (rc)
		goto free_s;
	rc = tune_db(s, err, errlen);
	if (rc)
		goto close_db;
	rc = pc_fs_check_schema(s->db, s->path, true, err, errlen);
	if (rc)
		goto close_db;
	/* no documented query used flows_first_ns (the planner walks flows_last_ns
	 * for --until, in output order), and every index costs each insert: stores
	 * made before it was dropped lose it here, once */
	if (exec(s->db, "DROP INDEX IF EXISTS flows_first_ns") != SQLITE_OK) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto close_db;
	}
	rc = prepare_writer(s, err, errlen);
	if (rc)
		goto finalize;
	n = pc_fs_pragma_int(s->db, "SELECT count(*) FROM flows");
	if (n < 0) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto finalize;
	}
	s->rows = (uint64_t)n;
	*out = s;
	return 0;

finalize:
	finalize_writer(s);
close_db:
	sqlite3_close(s->db);
free_s:
	free(s);
	return rc;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

static int txn_begin(struct pc_flow_store *s)
{
	if (s->in_txn)
		return 0;
	if (step_done(s->begin))
		return dberr(s, "begin");
	s->in_txn = true;
	s->txn_start_ms = mono_ms();
	return 0;
}

/* A statement of the transaction failed: record it like dberr() and notice
 * when SQLite rolled the transaction back on its own. Returns dberr's code. */
static int txn_fail(struct pc_flow_store *s, const char *what)
{
	int rc = dberr(s, what);

	if (s->in_txn && sqlite3_get_autocommit(s->db)) {
		s->in_txn = false;
		s->rows -= PC_MIN(s->rows, s->pending);
		s->pending = 0;
	}
	return rc;
}

int pc_flow_store_commit(struct pc_flow_store *s)
{
	uint32_t n = s->pending;

	if (!s->in_txn)
		return 0;
	if (step_done(s->commit))
		return txn_fail(s, "commit");
	s->in_txn = false;
	s->pending = 0;
	return (int)n;
}

static bool mac_set(const uint8_t *m)
{
	return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) != 0;
}

static bool outer_set(const struct capture_flow *f)
{
	return f->tunnel_type && (f->outer_ip_version == 4 || f->outer_ip_version == 6);
}

/* A BLOB of @n bytes at @p (valid until the step), or NULL when !@p. */
static void bind_blob_or_null(sqlite3_stmt *st, int i, const void *p, int n)
{
	if (p)
		sqlite3_bind_blob(st, i, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/*
 * The schema version 2 columns from parameter @i on (FLOW_COLS order).
 * @b holds the MPLS entries (b->mpls), the outer address keys and the
 * Community ID text until the step.
 */
struct path_binds {
	uint8_t mpls[12], outer[2][16];
	char cid[CAPTURE_COMMUNITY_ID_LEN];
};

static void bind_path(sqlite3_stmt *st, int i, const struct capture_flow *f, struct path_binds *b)
{
	bool mac = mac_set(f->src_mac) || mac_set(f->dst_mac), outer = outer_set(f);
	int k, n = 0;

	sqlite3_bind_int64(st, i++, f->interface);
	sqlite3_bind_int(st, i++, f->tos);
	sqlite3_bind_int(st, i++, f->rev_tos);
	sqlite3_bind_int(st, i++, f->min_ttl);
	sqlite3_bind_int(st, i++, f->max_ttl);
	sqlite3_bind_int(st, i++, f->rev_min_ttl);
	sqlite3_bind_int(st, i++, f->rev_max_ttl);
	sqlite3_bind_int(st, i++, f->vlan_inner);
	sqlite3_bind_int(st, i++, f->tunnel_type);
	sqlite3_bind_int(st, i++, f->community_id_seed);
	sqlite3_bind_int(st, i++, outer ? f->outer_ip_version : 0);
	bind_blob_or_null(st, i++, mac ? f->src_mac : NULL, 6);
	bind_blob_or_null(st, i++, mac ? f->dst_mac : NULL, 6);
	for (; n < 3 && f->mpls_labels[n]; n++)
		for (k = 0; k < 4; k++)
			b->mpls[n * 4 + k] = (uint8_t)(f->mpls_labels[n] >> (24 - 8 * k));
	bind_blob_or_null(st, i++, n ? b->mpls : NULL, n * 4);
	if (f->tunnel_type) {
		sqlite3_bind_int64(st, i++, f->tunnel_id);
		sqlite3_bind_int64(st, i++, f->rev_tunnel_id);
	} else {
		sqlite3_bind_null(st, i++);
		sqlite3_bind_null(st, i++);
	}
	key16(b->outer[0], f->outer_src_ip, f->outer_ip_version);
	key16(b->outer[1], f->outer_dst_ip, f->outer_ip_version);
	bind_blob_or_null(st, i++, outer ? b->outer[0] : NULL, 16);
	bind_blob_or_null(st, i++, outer ? b->outer[1] : NULL, 16);
	if (!capture_flow_community_id(f, f->community_id_seed, b->cid))
		sqlite3_bind_text(st, i++, b->cid, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i++);
	pc_fs_bind_l7(st, i, f);
}

/*
 * One execution of the prepared INSERT, reused for every row (no per-row
 * parsing or allocation: the address keys are bound SQLITE_STATIC from the
 * stack, valid until the step below). A 32-row INSERT ... VALUES statement
 * measured no faster.
 */
static int insert_one(struct pc_flow_store *s, const struct capture_flow *f)
{
	sqlite3_stmt *st = s->ins;
	uint8_t src[16], dst[16];
	struct path_binds path;
	int i = 1;

	key16(src, f->src_ip, f->ip_version);
	key16(dst, f->dst_ip, f->ip_version);
	sqlite3_bind_int(st, i++, f->ip_version);
	sqlite3_bind_blob(st, i++, src, 16, SQLITE_STATIC);
	sqlite3_bind_blob(st, i++, dst, 16, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, f->src_port);
	sqlite3_bind_int(st, i++, f->dst_port);
	sqlite3_bind_int(st, i++, f->proto);
	sqlite3_bind_int(st, i++, f->vlan);
	sqlite3_bind_int64(st, i++, i64(f->packets));
	sqlite3_bind_int64(st, i++, i64(f->bytes));
	sqlite3_bind_int64(st, i++, i64(f->rev_packets));
	sqlite3_bind_int64(st, i++, i64(f->rev_bytes));
	sqlite3_bind_int(st, i++, f->tcp_flags);
	sqlite3_bind_int(st, i++, f->rev_tcp_flags);
	sqlite3_bind_int(st, i++, f->icmp_type);
	sqlite3_bind_int(st, i++, f->icmp_code);
	sqlite3_bind_int(st, i++, f->end_reason);
	sqlite3_bind_int(st, i++, f->worker);
	sqlite3_bind_int64(st, i++, i64(f->first_ns));
	sqlite3_bind_int64(st, i++, i64(f->last_ns));
	sqlite3_bind_int64(st, i++, i64(f->rev_first_ns));
	sqlite3_bind_int64(st, i++, i64(f->rev_last_ns));
	sqlite3_bind_int64(st, i++, i64(f->fwd_first_ns));
	sqlite3_bind_int64(st, i++, i64(f->fwd_last_ns));
	bind_path(st, i, f, &path);
	return step_done(st);
}

int pc_flow_store_insert(struct pc_flow_store *s, const struct capture_flow *recs, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (recs[i].ip_version != 4 && recs[i].ip_version != 6)
			return pc_errf(s->err, sizeof(s->err), -EINVAL,
				       "%s: record with IP version %u", s->path,
				       recs[i].ip_version);
	}
	for (i = 0; i < n; i++) {
		rc = txn_begin(s);
		if (rc)
			return rc;
		if (insert_one(s, &recs[i]))
			return txn_fail(s, "insert");
		s->pending++;
		s->rows++;
		if (s->pending >= s->p.batch_rows) {
			rc = pc_flow_store_commit(s);
			if (rc < 0)
				return rc;
		}
	}
	return (int)PC_MIN(n, (size_t)INT_MAX);
}

/* Step a bound retention DELETE: the rows it deleted (taken off s->rows too),
 * or < 0. */
static int64_t delete_step(struct pc_flow_store *s, sqlite3_stmt *st, const char *what)
{
	uint64_t ch;

	if (step_done(st))
		return txn_fail(s, what);
	ch = (uint64_t)sqlite3_changes(s->db);
	s->rows -= PC_MIN(s->rows, ch);
	return (int64_t)ch;
}

/* Delete at most @budget rows by the retention rules. Returns rows deleted. */
static int64_t retain(struct pc_flow_store *s, uint64_t now_ns, uint64_t budget)
{
	uint64_t cutoff, age_ns, done = 0, want;
	int64_t ch;
	int rc;

	if (s->p.max_age_sec) {
		age_ns = (uint64_t)s->p.max_age_sec * 1000000000ull;
		cutoff = now_ns > age_ns ? now_ns - age_ns : 0;
		if (cutoff && budget) {
			rc = txn_begin(s);
			if (rc)
				return rc;
			sqlite3_bind_int64(s->del_age, 1, ts_clamp(cutoff));
			sqlite3_bind_int64(s->del_age, 2, ts_clamp(budget));
			ch = delete_step(s, s->del_age, "retention by age");
			if (ch < 0)
				return ch;
			done += (uint64_t)ch;
		}
	}
	if (s->p.max_rows && s->rows > s->p.max_rows && done < budget) {
		want = PC_MIN(s->rows - s->p.max_rows, budget - done);
		rc = txn_begin(s);
		if (rc)
			return rc;
		sqlite3_bind_int64(s->del_rows, 1, ts_clamp(want));
		ch = delete_step(s, s->del_rows, "retention by rows");
		if (ch < 0)
			return ch;
		done += (uint64_t)ch;
	}
	return (int64_t)done;
}

int pc_flow_store_tick(struct pc_flow_store *s, uint64_t now_ns)
{
	int64_t del = retain(s, now_ns, s->p.retain_budget);
	int rc;

	if (del < 0)
		return (int)del;
	if (s->in_txn && (del > 0 || mono_ms() - s->txn_start_ms >= s->p.commit_ms)) {
		rc = pc_flow_store_commit(s);
		if (rc < 0)
			return rc;
	}
	return (int)del;
}

int64_t pc_flow_store_retain_all(struct pc_flow_store *s, uint64_t now_ns)
{
	int64_t del = retain(s, now_ns, (uint64_t)INT64_MAX);
	int rc;

	if (del < 0)
		return del;
	rc = pc_flow_store_commit(s);
	return rc < 0 ? rc : del;
}

uint64_t pc_flow_store_rows(const struct pc_flow_store *s)
{
	return s->rows;
}

uint32_t pc_flow_store_pending(const struct pc_flow_store *s)
{
	return s->pending;
}

const char *pc_flow_store_error(const struct pc_flow_store *s)
{
	return s->err;
}

int pc_flow_store_close(struct pc_flow_store *s)
{
	int rc;

	if (!s)
		return 0;
	rc = pc_flow_store_commit(s);
	if (rc > 0)
		rc = 0;
	if (s->in_txn)
		exec(s->db, "ROLLBACK");
	finalize_writer(s);
	/* the last connection checkpoints the WAL into the database and removes it */
	if (sqlite3_close(s->db) != SQLITE_OK && !rc)
		rc = -CAPTURE_E_DB;
	free(s);
	return rc;
}
