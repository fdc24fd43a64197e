/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite flow store, read side: CIDR parsing and the parameterised,
 * read-only queries behind `jcap query` and capture_store_query().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/flow_store.h"
#include "export/flow_store_db.h"
#include "util/log.h"
#include "util/opts.h"

#define QUERY_BATCH 256 /* rows handed to the callback at a time */

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

/* Copy a BLOB column of exactly @len bytes (else leave @out zero). */
static void blob_n(sqlite3_stmt *st, int i, void *out, int len)
{
	if (sqlite3_column_bytes(st, i) == len && sqlite3_column_blob(st, i))
		memcpy(out, sqlite3_column_blob(st, i), (size_t)len);
}

/* The schema version 2 columns from column @i on (FLOW_COLS order). */
static void row_to_path(sqlite3_stmt *st, int i, struct capture_flow *f)
{
	const uint8_t *b;
	int k, n;

	f->interface = (uint32_t)sqlite3_column_int64(st, i++);
	f->tos = (uint8_t)sqlite3_column_int(st, i++);
	f->rev_tos = (uint8_t)sqlite3_column_int(st, i++);
	f->min_ttl = (uint8_t)sqlite3_column_int(st, i++);
	f->max_ttl = (uint8_t)sqlite3_column_int(st, i++);
	f->rev_min_ttl = (uint8_t)sqlite3_column_int(st, i++);
	f->rev_max_ttl = (uint8_t)sqlite3_column_int(st, i++);
	f->vlan_inner = (uint16_t)sqlite3_column_int(st, i++);
	f->tunnel_type = (uint8_t)sqlite3_column_int(st, i++);
	f->community_id_seed = (uint16_t)sqlite3_column_int(st, i++);
	f->outer_ip_version = (uint8_t)sqlite3_column_int(st, i++);
	blob_n(st, i++, f->src_mac, 6);
	blob_n(st, i++, f->dst_mac, 6);
	b = sqlite3_column_blob(st, i);
	n = sqlite3_column_bytes(st, i++) / 4;
	for (k = 0; b && k < n && k < 3; k++)
		f->mpls_labels[k] = (uint32_t)b[4 * k] << 24 | (uint32_t)b[4 * k + 1] << 16 |
				    (uint32_t)b[4 * k + 2] << 8 | b[4 * k + 3];
	f->tunnel_id = (uint32_t)sqlite3_column_int64(st, i++);
	f->rev_tunnel_id = (uint32_t)sqlite3_column_int64(st, i++);
	unkey16(f->outer_src_ip, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i),
		f->outer_ip_version);
	i++;
	unkey16(f->outer_dst_ip, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i),
		f->outer_ip_version);
	i += 2; /* community_id is computed, not read */
	pc_fs_row_to_l7(st, i, f);
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
	row_to_path(st, i, f);
}

void pc_fs_sql_add(char *sql, size_t len, size_t *off, const char *frag)
{
	size_t n = strlen(frag);

	if (*off + n < len) {
		memcpy(sql + *off, frag, n + 1);
		*off += n;
	}
}

CAPTURE_API int capture_mac_parse(const char *s, uint8_t mac[6])
{
	int k, v;

	for (k = 0; k < 6; k++) {
		const char *p = s + 3 * k;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			return -EINVAL;
		if (k < 5 ? p[2] != ':' && p[2] != '-' : p[2] != 0)
			return -EINVAL;
		v = (int)strtol((char[]){ p[0], p[1], 0 }, NULL, 16);
		mac[k] = (uint8_t)v;
	}
	return 0;
}

/* Lower-case copy of a name pattern into @out (ASCII; other bytes kept). */
static int lower_copy(const char *what, const char *s, char *out, size_t len, char *err,
		      size_t errlen)
{
	size_t i, n = strlen(s);

	if (!n || n >= len)
		return pc_errf(err, errlen, -EINVAL, "%s pattern must be 1 to %zu bytes", what,
			       len - 1);
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return 0;
}

/* The application filters of @f->q: patterns and the country code. */
static int filter_l7_init(struct pc_fs_filter *f, char *err, size_t errlen)
{
	const struct capture_query *q = &f->q;
	const char *c = q->country;

	if (q->app && (!q->app[0] || strlen(q->app) >= CAPTURE_NAME_LEN))
		return pc_errf(err, errlen, -EINVAL, "app pattern must be 1 to %d bytes",
			       CAPTURE_NAME_LEN - 1);
	if (q->sni && lower_copy("sni", q->sni, f->sni, sizeof(f->sni), err, errlen))
		return -EINVAL;
	if (q->dns_name &&
	    lower_copy("dns name", q->dns_name, f->dns_name, sizeof(f->dns_name), err, errlen))
		return -EINVAL;
	if (c) {
		if (!isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) || c[2])
			return pc_errf(err, errlen, -EINVAL,
				       "'%s' is not a country code (two letters, ISO 3166)", c);
		f->country[0] = (char)toupper((unsigned char)c[0]);
		f->country[1] = (char)toupper((unsigned char)c[1]);
	}
	return 0;
}

int pc_fs_filter_init(struct pc_fs_filter *f, const struct capture_query *in, char *err,
		      size_t errlen)
{
	const struct capture_query *q = &f->q;

	memset(f, 0, sizeof(*f));
	f->q = (struct capture_query){ .sz = sizeof(f->q), .port = -1, .proto = -1 };
	/* a query too small to say what it wants is an argument error */
	if (in && pc_opts_copy(&f->q, sizeof(f->q), in,
			       offsetof(struct capture_query, limit) + sizeof(in->limit),
			       "capture_query", err, errlen) < 0)
		return -EINVAL;
	if (q->port < -1 || q->port > 65535)
		return pc_errf(err, errlen, -EINVAL, "port %d out of range (0..65535)", q->port);
	if (q->proto < -1 || q->proto > 255)
		return pc_errf(err, errlen, -EINVAL, "protocol %d out of range (0..255)", q->proto);
	if (q->ip && pc_flow_store_parse_cidr(q->ip, f->lo, f->hi, &f->ver) < 0)
		return pc_errf(err, errlen, -EINVAL, "'%s' is not an IPv4/IPv6 address or CIDR",
			       q->ip);
	if (q->since_ns && q->until_ns && q->since_ns > q->until_ns)
		return pc_errf(err, errlen, -EINVAL, "since is after until");
	if (q->mac && capture_mac_parse(q->mac, f->mac) < 0)
		return pc_errf(err, errlen, -EINVAL,
			       "'%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", q->mac);
	return filter_l7_init(f, err, errlen);
}

void pc_fs_filter_sql(const struct pc_fs_filter *f, char *sql, size_t len, size_t *off)
{
	const struct capture_query *q = &f->q;

	if (q->since_ns)
		pc_fs_sql_add(sql, len, off, " AND last_ns >= ?");
	if (q->until_ns)
		pc_fs_sql_add(sql, len, off, " AND first_ns <= ?");
	if (q->ip)
		pc_fs_sql_add(sql, len, off,
			      " AND ip_version = ? AND "
			      "(src_ip BETWEEN ? AND ? OR dst_ip BETWEEN ? AND ?)");
	if (q->port >= 0)
		pc_fs_sql_add(sql, len, off, " AND (src_port = ? OR dst_port = ?)");
	if (q->proto >= 0)
		pc_fs_sql_add(sql, len, off, " AND proto = ?");
	if (q->community_id)
		pc_fs_sql_add(sql, len, off, " AND community_id = ?");
	if (q->has_tunnel_id)
		pc_fs_sql_add(sql, len, off, " AND (tunnel_id = ? OR rev_tunnel_id = ?)");
	if (q->mac)
		pc_fs_sql_add(sql, len, off, " AND (src_mac = ? OR dst_mac = ?)");
	if (q->app)
		pc_fs_sql_add(sql, len, off, " AND app GLOB ?");
	if (q->sni)
		pc_fs_sql_add(sql, len, off, " AND lower(tls_sni) GLOB ?");
	if (q->dns_name)
		pc_fs_sql_add(sql, len, off, " AND lower(dns_qname) GLOB ?");
	if (q->country)
		pc_fs_sql_add(sql, len, off, " AND (src_country = ? OR dst_country = ?)");
	if (q->has_asn)
		pc_fs_sql_add(sql, len, off, " AND (src_asn = ? OR dst_asn = ?)");
}

int pc_fs_filter_bind(const struct pc_fs_filter *f, sqlite3_stmt *st, int b)
{
	const struct capture_query *q = &f->q;

	if (q->since_ns)
		sqlite3_bind_int64(st, b++, ts_clamp(q->since_ns));
	if (q->until_ns)
		sqlite3_bind_int64(st, b++, ts_clamp(q->until_ns));
	if (q->ip) {
		sqlite3_bind_int(st, b++, f->ver);
		sqlite3_bind_blob(st, b++, f->lo, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, f->hi, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, f->lo, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, f->hi, 16, SQLITE_STATIC);
	}
	if (q->port >= 0) {
		sqlite3_bind_int(st, b++, q->port);
		sqlite3_bind_int(st, b++, q->port);
	}
	if (q->proto >= 0)
		sqlite3_bind_int(st, b++, q->proto);
	if (q->community_id)
		sqlite3_bind_text(st, b++, q->community_id, -1, SQLITE_STATIC);
	if (q->has_tunnel_id) {
		sqlite3_bind_int64(st, b++, q->tunnel_id);
		sqlite3_bind_int64(st, b++, q->tunnel_id);
	}
	if (q->mac) {
		sqlite3_bind_blob(st, b++, f->mac, 6, SQLITE_STATIC);
		sqlite3_bind_blob(st, b++, f->mac, 6, SQLITE_STATIC);
	}
	if (q->app)
		sqlite3_bind_text(st, b++, q->app, -1, SQLITE_STATIC);
	if (q->sni)
		sqlite3_bind_text(st, b++, f->sni, -1, SQLITE_STATIC);
	if (q->dns_name)
		sqlite3_bind_text(st, b++, f->dns_name, -1, SQLITE_STATIC);
	if (q->country) {
		sqlite3_bind_text(st, b++, f->country, 2, SQLITE_STATIC);
		sqlite3_bind_text(st, b++, f->country, 2, SQLITE_STATIC);
	}
	if (q->has_asn) {
		sqlite3_bind_int64(st, b++, q->asn);
		sqlite3_bind_int64(st, b++, q->asn);
	}
	return b;
}

/* The SELECT for @f into @sql: built only from constant fragments, every
 * value a parameter bound in the same order. */
static void query_sql(const struct pc_fs_filter *f, char *sql, size_t len)
{
	size_t off = 0;

	sql[0] = 0;
	pc_fs_sql_add(sql, len, &off, "SELECT " FLOW_COLS " FROM flows WHERE 1");
	pc_fs_filter_sql(f, sql, len, &off);
	pc_fs_sql_add(sql, len, &off, " ORDER BY last_ns DESC, id DESC");
	if (f->q.limit)
		pc_fs_sql_add(sql, len, &off, " LIMIT ?");
}

int64_t pc_flow_store_query(const char *path, const struct capture_query *q, capture_flow_fn fn,
			    void *ctx, char *err, size_t errlen)
{
	struct capture_flow *batch = NULL;
	struct pc_fs_filter flt;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	char sql[4096]; /* FLOW_COLS and every filter: about 2100 bytes */
	size_t nb = 0;
	int64_t count = 0;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!path || !path[0])
		return pc_errf(err, errlen, -EINVAL, "no database path");
	rc = pc_fs_filter_init(&flt, q, err, errlen);
	if (rc)
		return rc;
	query_sql(&flt, sql, sizeof(sql));

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
	if (flt.q.limit)
		sqlite3_bind_int64(st, pc_fs_filter_bind(&flt, st, 1), ts_clamp(flt.q.limit));
	else
		pc_fs_filter_bind(&flt, st, 1);
	batch = malloc(QUERY_BATCH * sizeof(*batch));
	if (!batch) {
		rc = pc_errf(err, errlen, -ENOMEM, "out of memory");
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
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
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
	rc = pc_fs_db_open(&db, path, true, false, err, errlen);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	txt = (const char *)sqlite3_column_text(st, 0);
	if (!txt || strcmp(txt, "ok")) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: integrity check: %s", path,
			     txt ? txt : "no answer");
		goto out;
	}
	rc = pc_fs_check_schema(db, path, false, err, errlen);
	if (rc)
		goto out;
	n = pc_fs_pragma_int(db, "SELECT count(*) FROM flows");
	if (n < 0) {
		rc = pc_errf(err, errlen, -CAPTURE_E_DB, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (rows)
		*rows = (uint64_t)n;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
