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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "util/compiler.h"
#include "export/flow_store.h"

#define STORE_APP_ID 0x6a636170 /* "jcap" in PRAGMA application_id */
#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_MS 5000
#define QUERY_BATCH 256
#define STORE_CHECKPOINT_BYTES (64 << 20) /* WAL size that triggers a checkpoint */

/* Column order shared by INSERT and SELECT; the statements below follow it. */
#define FLOW_COLS                                                                       \
	"ip_version, src_ip, dst_ip, src_port, dst_port, proto, vlan, packets, bytes, " \
	"rev_packets, rev_bytes, tcp_flags, rev_tcp_flags, icmp_type, icmp_code, "      \
	"end_reason, worker, first_ns, last_ns, rev_first_ns, rev_last_ns, "            \
	"fwd_first_ns, fwd_last_ns"
#define FLOW_NCOLS 23

static const char schema_sql[] = "CREATE TABLE IF NOT EXISTS flows ("
				 " id INTEGER PRIMARY KEY,"
				 " ip_version INTEGER NOT NULL,"
				 " src_ip BLOB NOT NULL," /* 16 bytes, IPv4 as ::ffff:a.b.c.d */
				 " dst_ip BLOB NOT NULL,"
				 " src_port INTEGER NOT NULL,"
				 " dst_port INTEGER NOT NULL,"
				 " proto INTEGER NOT NULL,"
				 " vlan INTEGER NOT NULL,"
				 " packets INTEGER NOT NULL,"
				 " bytes INTEGER NOT NULL,"
				 " rev_packets INTEGER NOT NULL,"
				 " rev_bytes INTEGER NOT NULL,"
				 " tcp_flags INTEGER NOT NULL,"
				 " rev_tcp_flags INTEGER NOT NULL,"
				 " icmp_type INTEGER NOT NULL,"
				 " icmp_code INTEGER NOT NULL,"
				 " end_reason INTEGER NOT NULL,"
				 " worker INTEGER NOT NULL,"
				 " first_ns INTEGER NOT NULL," /* Unix epoch nanoseconds */
				 " last_ns INTEGER NOT NULL,"
				 " rev_first_ns INTEGER NOT NULL,"
				 " rev_last_ns INTEGER NOT NULL,"
				 " fwd_first_ns INTEGER NOT NULL,"
				 " fwd_last_ns INTEGER NOT NULL);"
				 "CREATE INDEX IF NOT EXISTS flows_last_ns ON flows(last_ns);"
				 "CREATE INDEX IF NOT EXISTS flows_src_ip ON flows(src_ip);"
				 "CREATE INDEX IF NOT EXISTS flows_dst_ip ON flows(dst_ip);"
				 "CREATE INDEX IF NOT EXISTS flows_src_port ON flows(src_port);"
				 "CREATE INDEX IF NOT EXISTS flows_dst_port ON flows(dst_port);";

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
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *errtext(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len); /* GNU: thread-safe */
}

static int seterr(char *err, size_t errlen, int ret, const char *fmt, ...) pc_printf(4, 5);

static int seterr(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Record an SQLite failure on @s: "<path>: <what>: <sqlite message>". */
static int dberr(struct pc_flow_store *s, const char *what)
{
	return seterr(s->err, sizeof(s->err), -CAPTURE_E_DB, "%s: %s: %s", s->path, what,
		      sqlite3_errmsg(s->db));
}

/* Store an unsigned 64-bit counter bit for bit in SQLite's signed INTEGER. */
static sqlite3_int64 i64(uint64_t v)
{
	sqlite3_int64 r;

	memcpy(&r, &v, sizeof(r));
	return r;
}

static uint64_t u64(sqlite3_int64 v)
{
	uint64_t r;

	memcpy(&r, &v, sizeof(r));
	return r;
}

/* Timestamps compared with SQL: keep them in the positive range. */
static sqlite3_int64 ts_clamp(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static void key16(uint8_t out[16], const uint8_t ip[16], uint8_t version)
{
	if (version == 4) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, ip, 4);
	} else {
		memcpy(out, ip, 16);
	}
}

static void unkey16(uint8_t out[16], const void *blob, int len, uint8_t version)
{
	memset(out, 0, 16);
	if (!blob || len != 16)
		return;
	if (version == 4)
		memcpy(out, (const uint8_t *)blob + 12, 4);
	else
		memcpy(out, blob, 16);
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Single integer result of @sql, or -1. */
static sqlite3_int64 pragma_int(sqlite3 *db, const char *sql)
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
	return pragma_int(db, "SELECT count(*) FROM sqlite_schema "
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
		return seterr(err, errlen, -e, "%s: %s", path, errtext(e, eb, sizeof(eb)));
	}
	if (S_ISDIR(st.st_mode))
		return seterr(err, errlen, -EISDIR, "%s: %s", path,
			      errtext(EISDIR, eb, sizeof(eb)));
	if (!S_ISREG(st.st_mode))
		return seterr(err, errlen, -CAPTURE_E_DB, "%s: not a regular file", path);
	return 0;
}

/*
 * Check the file is ours (or empty, then create the schema). A database of
 * another application is refused rather than written into.
 */
static int check_schema(sqlite3 *db, const char *path, bool create, char *err, size_t errlen)
{
	sqlite3_int64 app, ver, n;
	char sql[128];

	app = pragma_int(db, "PRAGMA application_id");
	if (app < 0)
		return seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
	ver = pragma_int(db, "PRAGMA user_version");
	n = pragma_int(db, "SELECT count(*) FROM sqlite_schema");
	if (app == STORE_APP_ID) {
		if (ver != STORE_SCHEMA_VERSION)
			return seterr(err, errlen, -CAPTURE_E_DB,
				      "%s: flow store schema version %lld, this build reads %d",
				      path, (long long)ver, STORE_SCHEMA_VERSION);
		if (!has_flows_table(db))
			return seterr(err, errlen, -CAPTURE_E_DB,
				      "%s: flow store without a flows table", path);
		return 0;
	}
	if (app != 0 || n != 0)
		return seterr(err, errlen, -CAPTURE_E_DB,
			      "%s: an SQLite database but not a jcap flow store", path);
	if (!create)
		return seterr(err, errlen, -CAPTURE_E_DB, "%s: empty database, no flows stored",
			      path);
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		 STORE_APP_ID, STORE_SCHEMA_VERSION);
	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK || exec(db, schema_sql) != SQLITE_OK ||
	    exec(db, sql) != SQLITE_OK || exec(db, "COMMIT") != SQLITE_OK) {
		seterr(err, errlen, -CAPTURE_E_DB, "%s: cannot create the schema: %s", path,
		       sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return -CAPTURE_E_DB;
	}
	return 0;
}

/* Open an SQLite connection with a clear error; @rw opens read-write. */
static int db_open(sqlite3 **out, const char *path, bool rw, bool create, char *err, size_t errlen)
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
			seterr(err, errlen, -e, "%s: %s", path, errtext(e, eb, sizeof(eb)));
		else
			seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", path,
			       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return e > 0 ? -e : -CAPTURE_E_DB;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	*out = db;
	return 0;
}

int pc_flow_store_open(struct pc_flow_store **out, const struct pc_flow_store_params *p, char *err,
		       size_t errlen)
{
	struct pc_flow_store *s;
	sqlite3_int64 n;
	int rc;

	if (!out || !p || !p->path || !p->path[0])
		return seterr(err, errlen, -EINVAL, "flow store: no database path");
	if (strlen(p->path) >= sizeof(s->path))
		return seterr(err, errlen, -ENAMETOOLONG, "flow store: path too long");
	s = calloc(1, sizeof(*s));
	if (!s)
		return seterr(err, errlen, -ENOMEM, "flow store: out of memory");
	s->p = *p;
	if (!s->p.batch_rows)
		s->p.batch_rows = PC_STORE_BATCH_ROWS;
	if (!s->p.commit_ms)
		s->p.commit_ms = PC_STORE_COMMIT_MS;
	if (!s->p.retain_budget)
		s->p.retain_budget = PC_STORE_RETAIN_BUDGET;
	memcpy(s->path, p->path, strlen(p->path) + 1);
	s->p.path = s->path;

	rc = db_open(&s->db, s->path, true, true, err, errlen);
	if (rc)
		goto free_s;
	/* 8 KiB pages for a new file (a no-op for an existing one): shallower
	 * index trees, about 15 % more rows per second than 4 KiB in paired runs */
	if (exec(s->db, "PRAGMA page_size = 8192") != SQLITE_OK) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto close_db;
	}
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
	if (!n) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: cannot use the WAL journal: %s",
			    s->path, sqlite3_errmsg(s->db));
		goto close_db;
	}
	/* checkpoints (the only fsyncs under NORMAL) every 64 MiB of WAL rather
	 * than SQLite's 4 MiB: about a third more rows per second. A 64 MiB page
	 * cache (SQLite's default is 2 MiB) keeps the inner pages of the address
	 * and port indexes, where each row lands at a random place, in memory. */
	if (exec(s->db, "PRAGMA synchronous = NORMAL; "
			"PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -65536; "
			"PRAGMA temp_store = MEMORY") != SQLITE_OK) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto close_db;
	}
	n = pragma_int(s->db, "PRAGMA page_size"); /* 8192, or an older file's */
	if (n < 512 ||
	    sqlite3_wal_autocheckpoint(s->db, (int)(STORE_CHECKPOINT_BYTES / n)) != SQLITE_OK) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto close_db;
	}
	rc = check_schema(s->db, s->path, true, err, errlen);
	if (rc)
		goto close_db;
	/* no documented query used flows_first_ns (the planner walks flows_last_ns
	 * for --until, in output order), and every index costs each insert: stores
	 * made before it was dropped lose it here, once */
	if (exec(s->db, "DROP INDEX IF EXISTS flows_first_ns") != SQLITE_OK) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto close_db;
	}
	if (sqlite3_prepare_v3(s->db,
			       "INSERT INTO flows (" FLOW_COLS ") VALUES (?,?,?,?,?,?,?,"
			       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
			       -1, SQLITE_PREPARE_PERSISTENT, &s->del_rows, NULL) != SQLITE_OK) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: cannot prepare statements: %s",
			    s->path, sqlite3_errmsg(s->db));
		goto finalize;
	}
	n = pragma_int(s->db, "SELECT count(*) FROM flows");
	if (n < 0) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto finalize;
	}
	s->rows = (uint64_t)n;
	*out = s;
	return 0;

finalize:
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->del_age);
	sqlite3_finalize(s->del_rows);
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

/* An SQLite error may have rolled the transaction back on its own. */
static void txn_lost(struct pc_flow_store *s)
{
	if (s->in_txn && sqlite3_get_autocommit(s->db)) {
		s->in_txn = false;
		s->rows -= PC_MIN(s->rows, s->pending);
		s->pending = 0;
	}
}

int pc_flow_store_commit(struct pc_flow_store *s)
{
	uint32_t n = s->pending;

	if (!s->in_txn)
		return 0;
	if (step_done(s->commit)) {
		int rc = dberr(s, "commit");

		txn_lost(s);
		return rc;
	}
	s->in_txn = false;
	s->pending = 0;
	return (int)n;
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
	return step_done(st);
}

int pc_flow_store_insert(struct pc_flow_store *s, const struct capture_flow *recs, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (recs[i].ip_version != 4 && recs[i].ip_version != 6)
			return seterr(s->err, sizeof(s->err), -EINVAL,
				      "%s: record with IP version %u", s->path, recs[i].ip_version);
	}
	for (i = 0; i < n; i++) {
		rc = txn_begin(s);
		if (rc)
			return rc;
		if (insert_one(s, &recs[i])) {
			rc = dberr(s, "insert");
			txn_lost(s);
			return rc;
		}
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

/* Delete at most @budget rows by the retention rules. Returns rows deleted. */
static int64_t retain(struct pc_flow_store *s, uint64_t now_ns, uint64_t budget)
{
	uint64_t cutoff, age_ns, done = 0, want;
	int rc, ch;

	if (s->p.max_age_sec) {
		age_ns = (uint64_t)s->p.max_age_sec * 1000000000ull;
		cutoff = now_ns > age_ns ? now_ns - age_ns : 0;
		if (cutoff && budget) {
			rc = txn_begin(s);
			if (rc)
				return rc;
			sqlite3_bind_int64(s->del_age, 1, ts_clamp(cutoff));
			sqlite3_bind_int64(s->del_age, 2, ts_clamp(budget));
			if (step_done(s->del_age)) {
				rc = dberr(s, "retention by age");
				txn_lost(s);
				return rc;
			}
			ch = sqlite3_changes(s->db);
			done += (uint64_t)ch;
			s->rows -= PC_MIN(s->rows, (uint64_t)ch);
		}
	}
	if (s->p.max_rows && s->rows > s->p.max_rows && done < budget) {
		want = PC_MIN(s->rows - s->p.max_rows, budget - done);
		rc = txn_begin(s);
		if (rc)
			return rc;
		sqlite3_bind_int64(s->del_rows, 1, ts_clamp(want));
		if (step_done(s->del_rows)) {
			rc = dberr(s, "retention by rows");
			txn_lost(s);
			return rc;
		}
		ch = sqlite3_changes(s->db);
		done += (uint64_t)ch;
		s->rows -= PC_MIN(s->rows, (uint64_t)ch);
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
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->del_age);
	sqlite3_finalize(s->del_rows);
	/* the last connection checkpoints the WAL into the database and removes it */
	if (sqlite3_close(s->db) != SQLITE_OK && !rc)
		rc = -CAPTURE_E_DB;
	free(s);
	return rc;
}

/* ------------------------------------------------------------------ queries */

int pc_flow_store_parse_cidr(const char *str, uint8_t lo[16], uint8_t hi[16], uint8_t *version)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	uint8_t addr[16], v4[16];
	unsigned long plen;
	size_t alen;
	unsigned bits, i;
	char *end;

	if (!str)
		return -EINVAL;
	slash = strchr(str, '/');
	alen = slash ? (size_t)(slash - str) : strlen(str);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, str, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, v4) == 1) {
		*version = 4;
		bits = 32;
		key16(addr, v4, 4);
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*version = 6;
		bits = 128;
	} else {
		return -EINVAL;
	}
	plen = bits;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end || plen > bits)
			return -EINVAL;
	}
	if (*version == 4)
		plen += 96; /* inside ::ffff:0:0/96 */
	for (i = 0; i < 16; i++) {
		unsigned long keep = plen >= (i + 1) * 8 ? 8 : plen > i * 8 ? plen - i * 8 : 0;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		lo[i] = addr[i] & mask;
		hi[i] = (uint8_t)(addr[i] | (uint8_t)~mask);
	}
	return 0;
}

static void row_to_flow(sqlite3_stmt *st, struct capture_flow *f)
{
	int i = 0;

	memset(f, 0, sizeof(*f));
	f->ip_version = (uint8_t)sqlite3_column_int(st, i++);
	unkey16(f->src_ip, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), f->ip_version);
	i++;
	unkey16(f->dst_ip, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), f->ip_version);
	i++;
	f->src_port = (uint16_t)sqlite3_column_int(st, i++);
	f->dst_port = (uint16_t)sqlite3_column_int(st, i++);
	f->proto = (uint8_t)sqlite3_column_int(st, i++);
	f->vlan = (uint16_t)sqlite3_column_int(st, i++);
	f->packets = u64(sqlite3_column_int64(st, i++));
	f->bytes = u64(sqlite3_column_int64(st, i++));
	f->rev_packets = u64(sqlite3_column_int64(st, i++));
	f->rev_bytes = u64(sqlite3_column_int64(st, i++));
	f->tcp_flags = (uint8_t)sqlite3_column_int(st, i++);
	f->rev_tcp_flags = (uint8_t)sqlite3_column_int(st, i++);
	f->icmp_type = (uint8_t)sqlite3_column_int(st, i++);
	f->icmp_code = (uint8_t)sqlite3_column_int(st, i++);
	f->end_reason = (uint8_t)sqlite3_column_int(st, i++);
	f->worker = (uint16_t)sqlite3_column_int(st, i++);
	f->first_ns = u64(sqlite3_column_int64(st, i++));
	f->last_ns = u64(sqlite3_column_int64(st, i++));
	f->rev_first_ns = u64(sqlite3_column_int64(st, i++));
	f->rev_last_ns = u64(sqlite3_column_int64(st, i++));
	f->fwd_first_ns = u64(sqlite3_column_int64(st, i++));
	f->fwd_last_ns = u64(sqlite3_column_int64(st, i++));
}

/* Bounded append of a constant SQL fragment (never a value). */
static void sql_add(char *sql, size_t len, size_t *off, const char *frag)
{
	size_t n = strlen(frag);

	if (*off + n < len) {
		memcpy(sql + *off, frag, n + 1);
		*off += n;
	}
}

int64_t pc_flow_store_query(const char *path, const struct capture_query *q, capture_flow_fn fn,
			    void *ctx, char *err, size_t errlen)
{
	struct capture_query all = { .sz = sizeof(all), .port = -1, .proto = -1 };
	struct capture_flow *batch = NULL;
	uint8_t lo[16], hi[16], ver = 0;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	char sql[1024];
	size_t off = 0, nb = 0;
	int64_t count = 0;
	int rc, b = 1;

	if (err && errlen)
		err[0] = 0;
	if (!path || !path[0])
		return seterr(err, errlen, -EINVAL, "no database path");
	if (!q)
		q = &all;
	if (q->sz < offsetof(struct capture_query, limit) + sizeof(q->limit))
		return seterr(err, errlen, -EINVAL, "capture_query.sz is too small");
	if (q->port < -1 || q->port > 65535)
		return seterr(err, errlen, -EINVAL, "port %d out of range (0..65535)", q->port);
	if (q->proto < -1 || q->proto > 255)
		return seterr(err, errlen, -EINVAL, "protocol %d out of range (0..255)", q->proto);
	if (q->ip && pc_flow_store_parse_cidr(q->ip, lo, hi, &ver) < 0)
		return seterr(err, errlen, -EINVAL, "'%s' is not an IPv4/IPv6 address or CIDR",
			      q->ip);
	if (q->since_ns && q->until_ns && q->since_ns > q->until_ns)
		return seterr(err, errlen, -EINVAL, "since is after until");

	/* the text is built only from constant fragments; every value is bound */
	sql_add(sql, sizeof(sql), &off, "SELECT " FLOW_COLS " FROM flows WHERE 1");
	if (q->since_ns)
		sql_add(sql, sizeof(sql), &off, " AND last_ns >= ?");
	if (q->until_ns)
		sql_add(sql, sizeof(sql), &off, " AND first_ns <= ?");
	if (q->ip)
		sql_add(sql, sizeof(sql), &off,
			" AND ip_version = ? AND "
			"(src_ip BETWEEN ? AND ? OR dst_ip BETWEEN ? AND ?)");
	if (q->port >= 0)
		sql_add(sql, sizeof(sql), &off, " AND (src_port = ? OR dst_port = ?)");
	if (q->proto >= 0)
		sql_add(sql, sizeof(sql), &off, " AND proto = ?");
	sql_add(sql, sizeof(sql), &off, " ORDER BY last_ns DESC, id DESC");
	if (q->limit)
		sql_add(sql, sizeof(sql), &off, " LIMIT ?");

	rc = db_open(&db, path, false, false, err, errlen);
	if (rc)
		return rc;
	rc = check_schema(db, path, false, err, errlen);
	if (rc)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (q->since_ns)
		sqlite3_bind_int64(st, b++, ts_clamp(q->since_ns));
	if (q->until_ns)
		sqlite3_bind_int64(st, b++, ts_clamp(q->until_ns));
	if (q->ip) {
		sqlite3_bind_int(st, b++, ver);
		sqlite3_bind_blob(st, b++, lo, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, hi, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, lo, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, hi, 16, SQLITE_STATIC);
	}
	if (q->port >= 0) {
		sqlite3_bind_int(st, b++, q->port);
		sqlite3_bind_int(st, b++, q->port);
	}
	if (q->proto >= 0)
		sqlite3_bind_int(st, b++, q->proto);
	if (q->limit)
		sqlite3_bind_int64(st, b++, ts_clamp(q->limit));

	batch = malloc(QUERY_BATCH * sizeof(*batch));
	if (!batch) {
		rc = seterr(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_flow(st, &batch[nb++]);
		count++;
		if (nb == QUERY_BATCH) {
			if (fn)
				fn(ctx, batch, nb);
			nb = 0;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (nb && fn)
		fn(ctx, batch, nb);
	rc = 0;
out:
	free(batch);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc < 0 ? rc : count;
}

int64_t capture_store_query(const char *db, const struct capture_query *q, capture_flow_fn fn,
			    void *ctx, char *err, size_t errlen)
{
	return pc_flow_store_query(db, q, fn, ctx, err, errlen);
}

int pc_flow_store_check(const char *path, uint64_t *rows, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	const char *txt;
	sqlite3_int64 n;
	int rc;

	/* read-write so that a WAL left by a crash can be recovered */
	rc = db_open(&db, path, true, false, err, errlen);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	txt = (const char *)sqlite3_column_text(st, 0);
	if (!txt || strcmp(txt, "ok")) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: integrity check: %s", path,
			    txt ? txt : "no answer");
		goto out;
	}
	rc = check_schema(db, path, false, err, errlen);
	if (rc)
		goto out;
	n = pragma_int(db, "SELECT count(*) FROM flows");
	if (n < 0) {
		rc = seterr(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (rows)
		*rows = (uint64_t)n;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
