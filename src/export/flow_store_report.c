/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite flow store, reports: nfdump-like statistics (top N by a field,
 * aggregation on chosen keys, time bins, totals) computed by SQLite with
 * GROUP BY, so a report over millions of flows never leaves the database
 * as records. Keys come from a fixed table (never from the caller's text);
 * every value is a bound parameter. "country" and "asn" group on either end,
 * as nfdump's "-s as" does: a flow counts once under its source's and once
 * under its destination's (twice under one that is both).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "export/flow_store.h"
#include "export/flow_store_db.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/opts.h"

enum key_kind {
	K_NUM,
	K_ADDR,
	K_REASON,
	K_TEXT
};

static const struct {
	const char *name;
	const char *col;
	enum key_kind kind;
	bool both; /* from the rows of both ends (see both_from) */
} keys[] = {
	{ "src_ip", "src_ip", K_ADDR, false },
	{ "dst_ip", "dst_ip", K_ADDR, false },
	{ "src_port", "src_port", K_NUM, false },
	{ "dst_port", "dst_port", K_NUM, false },
	{ "proto", "proto", K_NUM, false },
	{ "ip_version", "ip_version", K_NUM, false },
	{ "vlan", "vlan", K_NUM, false },
	{ "end_reason", "end_reason", K_REASON, false },
	{ "community_id", "community_id", K_TEXT, false },
	{ "app", "app", K_TEXT, false },
	{ "app_category", "app_category", K_TEXT, false },
	{ "tls_sni", "tls_sni", K_TEXT, false },
	{ "dns_qname", "dns_qname", K_TEXT, false },
	{ "http_host", "http_host", K_TEXT, false },
	{ "conn_state", "conn_state", K_TEXT, false },
	{ "src_country", "src_country", K_TEXT, false },
	{ "dst_country", "dst_country", K_TEXT, false },
	{ "country", "end_country", K_TEXT, true },
	{ "src_asn", "src_asn", K_NUM, false },
	{ "dst_asn", "dst_asn", K_NUM, false },
	{ "asn", "end_asn", K_NUM, true },
};

#define KEY_NAMES                                                                      \
	"src_ip, dst_ip, src_port, dst_port, proto, ip_version, vlan, end_reason, "    \
	"community_id, app, app_category, tls_sni, dns_qname, http_host, conn_state, " \
	"src_country, dst_country, country, src_asn, dst_asn, asn"

/* Either end's country and AS as one column: each flow's row twice, with
 * the filter in both halves. */
#define BOTH_HALF(end) \
	"SELECT *, " end "_country AS end_country, " end "_asn AS end_asn FROM flows WHERE 1"

struct plan {
	int key[CAPTURE_REPORT_MAX_KEYS]; /* index into keys[] */
	unsigned nkeys;
	bool addr; /* an address key: ip_version is grouped on too */
	bool both; /* a key of either end: rows from both_from */
	struct pc_fs_filter flt;
};

/* @r->keys ("src_ip,dst_port") into @p. 0 or -EINVAL with the reason. */
static int parse_keys(const char *spec, struct plan *p, char *err, size_t errlen)
{
	const char *s = spec, *e;
	size_t n, i;

	while (s && *s) {
		e = strchr(s, ',');
		n = e ? (size_t)(e - s) : strlen(s);
		for (i = 0; i < PC_ARRAY_SIZE(keys); i++)
			if (strlen(keys[i].name) == n && !strncmp(keys[i].name, s, n))
				break;
		if (i == PC_ARRAY_SIZE(keys))
			return pc_errf(err, errlen, -EINVAL, "unknown key '%.*s' (%s)", (int)n, s,
				       KEY_NAMES);
		if (p->nkeys == CAPTURE_REPORT_MAX_KEYS)
			return pc_errf(err, errlen, -EINVAL, "at most %d keys",
				       CAPTURE_REPORT_MAX_KEYS);
		p->key[p->nkeys++] = (int)i;
		p->addr |= keys[i].kind == K_ADDR;
		p->both |= keys[i].both;
		s = e ? e + 1 : NULL;
	}
	return 0;
}

static int check(const struct capture_query *q, const struct capture_report *r, struct plan *p,
		 char *err, size_t errlen)
{
	int rc = pc_fs_filter_init(&p->flt, q, err, errlen);

	if (rc)
		return rc;
	if (r->order > CAPTURE_REPORT_BY_BYTES)
		return pc_errf(err, errlen, -EINVAL, "unknown order %u", r->order);
	return parse_keys(r->keys, p, err, errlen);
}

/* SELECT [bin,] keys..., flows, packets, bytes, first, last ... GROUP BY. */
static void build_sql(const struct capture_report *r, const struct plan *p, char *sql, size_t len)
{
	static const char *const order[] = { "flows", "packets", "bytes" };
	char group[256] = "";
	size_t off = 0, goff = 0;
	unsigned i;

	sql[0] = 0;
	pc_fs_sql_add(sql, len, &off, "SELECT ");
	if (r->bin_ns) {
		pc_fs_sql_add(sql, len, &off, "(first_ns / ?) * ?, ");
		pc_fs_sql_add(group, sizeof(group), &goff, ", 1");
	}
	if (p->addr) {
		pc_fs_sql_add(sql, len, &off, "ip_version, ");
		pc_fs_sql_add(group, sizeof(group), &goff, ", ip_version");
	}
	for (i = 0; i < p->nkeys; i++) {
		pc_fs_sql_add(sql, len, &off, keys[p->key[i]].col);
		pc_fs_sql_add(sql, len, &off, ", ");
		pc_fs_sql_add(group, sizeof(group), &goff, ", ");
		pc_fs_sql_add(group, sizeof(group), &goff, keys[p->key[i]].col);
	}
	pc_fs_sql_add(sql, len, &off,
		      "COUNT(*) AS flows, TOTAL(packets + rev_packets) AS packets, "
		      "TOTAL(bytes + rev_bytes) AS bytes, MIN(first_ns), MAX(last_ns) FROM ");
	if (p->both) {
		pc_fs_sql_add(sql, len, &off, "(" BOTH_HALF("src"));
		pc_fs_filter_sql(&p->flt, sql, len, &off);
		pc_fs_sql_add(sql, len, &off, " UNION ALL " BOTH_HALF("dst"));
		pc_fs_filter_sql(&p->flt, sql, len, &off);
		pc_fs_sql_add(sql, len, &off, ") WHERE 1");
	} else {
		pc_fs_sql_add(sql, len, &off, "flows WHERE 1");
		pc_fs_filter_sql(&p->flt, sql, len, &off);
	}
	if (goff) {
		pc_fs_sql_add(sql, len, &off, " GROUP BY ");
		pc_fs_sql_add(sql, len, &off, group + 2);
		/* bins in time order; groups largest first, ties by their keys */
		pc_fs_sql_add(sql, len, &off, " ORDER BY ");
		if (!r->bin_ns) {
			pc_fs_sql_add(sql, len, &off, order[r->order]);
			pc_fs_sql_add(sql, len, &off, " DESC, ");
		}
		pc_fs_sql_add(sql, len, &off, group + 2);
	}
	if (r->limit)
		pc_fs_sql_add(sql, len, &off, " LIMIT ?");
}

static void bind_all(sqlite3_stmt *st, const struct capture_report *r, const struct plan *p)
{
	int b = 1;

	if (r->bin_ns) {
		sqlite3_bind_int64(st, b++, ts_clamp(r->bin_ns));
		sqlite3_bind_int64(st, b++, ts_clamp(r->bin_ns));
	}
	b = pc_fs_filter_bind(&p->flt, st, b);
	if (p->both)
		b = pc_fs_filter_bind(&p->flt, st, b);
	if (r->limit)
		sqlite3_bind_int64(st, b++, ts_clamp(r->limit));
}

/* TOTAL() is a double: exact to 2^53, far beyond any store's sums. */
static uint64_t total_u64(sqlite3_stmt *st, int i)
{
	double v = sqlite3_column_double(st, i);

	return v > 0 ? (uint64_t)v : 0;
}

static void key_text(sqlite3_stmt *st, int i, int k, int ver, struct capture_report_row *row,
		     unsigned n)
{
	uint8_t a[16];
	const char *t;

	row->key_name[n] = keys[k].name;
	row->key_numeric[n] = keys[k].kind == K_NUM;
	switch (keys[k].kind) {
	case K_NUM:
		snprintf(row->key_text[n], sizeof(row->key_text[n]), "%lld",
			 (long long)sqlite3_column_int64(st, i));
		break;
	case K_ADDR:
		unkey16(a, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), (uint8_t)ver);
		if (!inet_ntop(ver == 4 ? AF_INET : AF_INET6, a, row->key_text[n],
			       sizeof(row->key_text[n])))
			snprintf(row->key_text[n], sizeof(row->key_text[n]), "?");
		break;
	case K_REASON:
		snprintf(row->key_text[n], sizeof(row->key_text[n]), "%s",
			 capture_end_reason_name(sqlite3_column_int(st, i)));
		break;
	case K_TEXT:
		t = (const char *)sqlite3_column_text(st, i);
		snprintf(row->key_text[n], sizeof(row->key_text[n]), "%s", t ? t : "");
		break;
	}
}

static void read_row(sqlite3_stmt *st, const struct capture_report *r, const struct plan *p,
		     struct capture_report_row *row)
{
	int i = 0, ver = 0;
	unsigned k;

	memset(row, 0, sizeof(*row));
	if (r->bin_ns)
		row->bin_ns = u64(sqlite3_column_int64(st, i++));
	if (p->addr)
		ver = sqlite3_column_int(st, i++);
	for (k = 0; k < p->nkeys; k++)
		key_text(st, i++, p->key[k], ver, row, k);
	row->nkeys = p->nkeys;
	row->flows = u64(sqlite3_column_int64(st, i++));
	row->packets = total_u64(st, i++);
	row->bytes = total_u64(st, i++);
	row->first_ns = u64(sqlite3_column_int64(st, i++));
	row->last_ns = u64(sqlite3_column_int64(st, i++));
}

int64_t capture_store_report(const char *path, const struct capture_query *q,
			     const struct capture_report *r, capture_report_fn fn, void *ctx,
			     char *err, size_t errlen)
{
	struct capture_report rc_ = { .sz = sizeof(rc_) };
	struct capture_report_row row;
	struct plan p = { .nkeys = 0 };
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	char sql[4096]; /* every filter twice: about 1500 bytes */
	int64_t count = 0;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!path || !path[0])
		return pc_errf(err, errlen, -EINVAL, "no database path");
	if (!r || pc_opts_copy(&rc_, sizeof(rc_), r,
			       offsetof(struct capture_report, limit) + sizeof(r->limit),
			       "capture_report", err, errlen) < 0)
		return r ? -EINVAL : pc_errf(err, errlen, -EINVAL, "no report");
	rc = check(q, &rc_, &p, err, errlen);
	if (rc)
		return rc;
	build_sql(&rc_, &p, sql, sizeof(sql));
	rc = pc_fs_db_open(&db, path, false, false, err, errlen);
	if (rc)
		return rc;
	rc = pc_fs_check_schema(db, path, false, err, errlen);
	if (rc)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	bind_all(st, &rc_, &p);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, &rc_, &p, &row);
		count++;
		if (fn)
			fn(ctx, &row);
	}
	if (rc != SQLITE_DONE) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc < 0 ? rc : count;
}
