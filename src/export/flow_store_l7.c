/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite flow store, schema version 3 columns: the transport health and
 * application fields of a record, bound for the INSERT and read back for
 * queries. A value whose capture_l7_flags bit is clear, and an empty
 * string, is NULL; l7_flags itself is stored, so a record reads back as
 * it was written.
 */
#include <string.h>

#include "export/flow_store_db.h"

static void bind_u(sqlite3_stmt *st, int i, bool known, uint64_t v)
{
	if (known)
		sqlite3_bind_int64(st, i, i64(v));
	else
		sqlite3_bind_null(st, i);
}

/* A string field of at most @max bytes (bytes as they came, not checked
 * as UTF-8: SQLite keeps them and GLOB compares bytes). */
static void bind_s(sqlite3_stmt *st, int i, bool known, const char *s, size_t max)
{
	size_t n = known ? strnlen(s, max) : 0;

	if (n)
		sqlite3_bind_text(st, i, s, (int)n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

#define BIND_S(st, i, known, field) bind_s(st, i, known, field, sizeof(field))

static void bind_name(sqlite3_stmt *st, int i, bool known, const char *name)
{
	if (known && name)
		sqlite3_bind_text(st, i, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int bind_tcp(sqlite3_stmt *st, int i, const struct capture_flow *f)
{
	bool tcp = f->l7_flags & CAPTURE_L7_TCP, rtt = f->l7_flags & CAPTURE_L7_RTT;

	sqlite3_bind_int64(st, i++, f->l7_flags);
	sqlite3_bind_int64(st, i++, i64(f->payload_bytes));
	sqlite3_bind_int64(st, i++, i64(f->rev_payload_bytes));
	bind_name(st, i++, tcp, capture_conn_state_name(f->conn_state));
	BIND_S(st, i++, tcp, f->history);
	bind_u(st, i++, tcp, f->retrans_packets);
	bind_u(st, i++, tcp, f->retrans_bytes);
	bind_u(st, i++, tcp, f->rev_retrans_packets);
	bind_u(st, i++, tcp, f->rev_retrans_bytes);
	bind_u(st, i++, tcp, f->ooo_packets);
	bind_u(st, i++, tcp, f->rev_ooo_packets);
	bind_u(st, i++, tcp, f->zero_win);
	bind_u(st, i++, tcp, f->rev_zero_win);
	bind_u(st, i++, rtt, f->rtt_us);
	bind_u(st, i++, rtt, f->rtt_syn_us);
	return i;
}

void pc_fs_bind_l7(sqlite3_stmt *st, int i, const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags;
	bool app = fl & CAPTURE_L7_APP, tls = fl & CAPTURE_L7_TLS, dns = fl & CAPTURE_L7_DNS;
	bool http = fl & CAPTURE_L7_HTTP, dresp = fl & CAPTURE_L7_DNS_RESPONSE;

	i = bind_tcp(st, i, f);
	BIND_S(st, i++, app, f->app);
	BIND_S(st, i++, app, f->app_category);
	bind_u(st, i++, app, f->app_id);
	bind_u(st, i++, app, f->app_master_id);
	bind_name(st, i++, app, capture_dpi_confidence_name(f->dpi_confidence));
	BIND_S(st, i++, tls, f->tls_sni);
	BIND_S(st, i++, tls, f->tls_alpn);
	bind_u(st, i++, fl & CAPTURE_L7_TLS_VERSION, f->tls_version);
	BIND_S(st, i++, tls, f->ja4);
	BIND_S(st, i++, tls, f->ja3);
	BIND_S(st, i++, dns, f->dns_qname);
	bind_u(st, i++, dns, f->dns_qtype);
	bind_u(st, i++, dresp, f->dns_rcode);
	bind_u(st, i++, dresp, f->dns_answers);
	BIND_S(st, i++, http, f->http_method);
	BIND_S(st, i++, http, f->http_host);
	BIND_S(st, i++, http, f->http_url);
	BIND_S(st, i++, http, f->http_user_agent);
	bind_u(st, i++, fl & CAPTURE_L7_HTTP_RESPONSE, f->http_status);
	BIND_S(st, i++, fl & CAPTURE_L7_GEO_SRC, f->src_country);
	BIND_S(st, i++, fl & CAPTURE_L7_GEO_DST, f->dst_country);
	bind_u(st, i++, fl & CAPTURE_L7_ASN_SRC, f->src_asn);
	BIND_S(st, i++, fl & CAPTURE_L7_ASN_SRC, f->src_as_org);
	bind_u(st, i++, fl & CAPTURE_L7_ASN_DST, f->dst_asn);
	BIND_S(st, i, fl & CAPTURE_L7_ASN_DST, f->dst_as_org);
}

/* Copy a TEXT column into a field of @len bytes, cut and NUL-terminated. */
static void col_s(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(out, t, n);
	out[n] = 0;
}

#define COL_S(st, i, field) col_s(st, i, field, sizeof(field))

/* The enum value whose name @name(v) is the TEXT column, else 0. */
static uint8_t col_enum(sqlite3_stmt *st, int i, const char *(*name)(int), int count)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	int v;

	for (v = 1; t && v < count; v++)
		if (name(v) && !strcmp(name(v), t))
			return (uint8_t)v;
	return 0;
}

static uint64_t col_u(sqlite3_stmt *st, int i)
{
	return u64(sqlite3_column_int64(st, i)); /* NULL reads 0 */
}

static int row_tcp(sqlite3_stmt *st, int i, struct capture_flow *f)
{
	f->l7_flags = (uint32_t)col_u(st, i++);
	f->payload_bytes = col_u(st, i++);
	f->rev_payload_bytes = col_u(st, i++);
	f->conn_state = col_enum(st, i++, capture_conn_state_name, CAPTURE_CONN_COUNT);
	COL_S(st, i++, f->history);
	f->retrans_packets = (uint32_t)col_u(st, i++);
	f->retrans_bytes = col_u(st, i++);
	f->rev_retrans_packets = (uint32_t)col_u(st, i++);
	f->rev_retrans_bytes = col_u(st, i++);
	f->ooo_packets = (uint32_t)col_u(st, i++);
	f->rev_ooo_packets = (uint32_t)col_u(st, i++);
	f->zero_win = (uint32_t)col_u(st, i++);
	f->rev_zero_win = (uint32_t)col_u(st, i++);
	f->rtt_us = (uint32_t)col_u(st, i++);
	f->rtt_syn_us = (uint32_t)col_u(st, i++);
	return i;
}

void pc_fs_row_to_l7(sqlite3_stmt *st, int i, struct capture_flow *f)
{
	i = row_tcp(st, i, f);
	COL_S(st, i++, f->app);
	COL_S(st, i++, f->app_category);
	f->app_id = (uint16_t)col_u(st, i++);
	f->app_master_id = (uint16_t)col_u(st, i++);
	f->dpi_confidence = col_enum(st, i++, capture_dpi_confidence_name, CAPTURE_DPI_DPI + 1);
	COL_S(st, i++, f->tls_sni);
	COL_S(st, i++, f->tls_alpn);
	f->tls_version = (uint16_t)col_u(st, i++);
	COL_S(st, i++, f->ja4);
	COL_S(st, i++, f->ja3);
	COL_S(st, i++, f->dns_qname);
	f->dns_qtype = (uint16_t)col_u(st, i++);
	f->dns_rcode = (uint8_t)col_u(st, i++);
	f->dns_answers = (uint16_t)col_u(st, i++);
	COL_S(st, i++, f->http_method);
	COL_S(st, i++, f->http_host);
	COL_S(st, i++, f->http_url);
	COL_S(st, i++, f->http_user_agent);
	f->http_status = (uint16_t)col_u(st, i++);
	COL_S(st, i++, f->src_country);
	COL_S(st, i++, f->dst_country);
	f->src_asn = (uint32_t)col_u(st, i++);
	COL_S(st, i++, f->src_as_org);
	f->dst_asn = (uint32_t)col_u(st, i++);
	COL_S(st, i, f->dst_as_org);
}
