/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the SQLite flow store's writer (flow_store.c) and reader
 * (flow_store_query.c) share: the column list, the value mappings and the
 * checked open. Only these two files include sqlite3.h.
 */
#ifndef PC_FLOW_STORE_DB_H
#define PC_FLOW_STORE_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "packet_capture.h"

/* Column order shared by INSERT and SELECT; the statements below follow it. */
#define FLOW_COLS                                                                       \
	"ip_version, src_ip, dst_ip, src_port, dst_port, proto, vlan, packets, bytes, " \
	"rev_packets, rev_bytes, tcp_flags, rev_tcp_flags, icmp_type, icmp_code, "      \
	"end_reason, worker, first_ns, last_ns, rev_first_ns, rev_last_ns, "            \
	"fwd_first_ns, fwd_last_ns, "                                                   \
	"interface, tos, rev_tos, min_ttl, max_ttl, rev_min_ttl, rev_max_ttl, "         \
	"vlan_inner, tunnel_type, community_id_seed, outer_ip_version, src_mac, "       \
	"dst_mac, mpls_labels, tunnel_id, rev_tunnel_id, outer_src_ip, outer_dst_ip, "  \
	"community_id, " FLOW_COLS_V3
#define FLOW_NCOLS (42 + FLOW_NCOLS_V3)

/* Schema version 3: transport health and application fields, in the JSON
 * record's order (flow_store_l7.c binds and reads them). */
#define FLOW_COLS_V3                                                                    \
	"l7_flags, payload_bytes, rev_payload_bytes, conn_state, history, "             \
	"retrans_packets, retrans_bytes, rev_retrans_packets, rev_retrans_bytes, "      \
	"ooo_packets, rev_ooo_packets, zero_win, rev_zero_win, rtt_us, rtt_syn_us, "    \
	"app, app_category, app_id, app_master_id, dpi_confidence, tls_sni, tls_alpn, " \
	"tls_version, ja4, ja3, dns_qname, dns_qtype, dns_rcode, dns_answers, "         \
	"http_method, http_host, http_url, http_user_agent, http_status, src_country, " \
	"dst_country, src_asn, src_as_org, dst_asn, dst_as_org"
#define FLOW_NCOLS_V3 40

/*
 * Schema version 2 (tunnels and link identity) adds these columns to the
 * version 1 table; a new store is made the same way, so both paths agree.
 * NULL where a field does not apply: src_mac/dst_mac (6 bytes) without
 * MACs, mpls_labels (the stack entries, 4 bytes big-endian each) without
 * MPLS, tunnel_id/rev_tunnel_id/outer_* without a tunnel.
 */
static const char *const schema_v2_cols[] = {
	"interface INTEGER NOT NULL DEFAULT 0",
	"tos INTEGER NOT NULL DEFAULT 0",
	"rev_tos INTEGER NOT NULL DEFAULT 0",
	"min_ttl INTEGER NOT NULL DEFAULT 0",
	"max_ttl INTEGER NOT NULL DEFAULT 0",
	"rev_min_ttl INTEGER NOT NULL DEFAULT 0",
	"rev_max_ttl INTEGER NOT NULL DEFAULT 0",
	"vlan_inner INTEGER NOT NULL DEFAULT 0",
	"tunnel_type INTEGER NOT NULL DEFAULT 0",
	"community_id_seed INTEGER NOT NULL DEFAULT 0",
	"outer_ip_version INTEGER NOT NULL DEFAULT 0",
	"src_mac BLOB",
	"dst_mac BLOB",
	"mpls_labels BLOB",
	"tunnel_id INTEGER",
	"rev_tunnel_id INTEGER",
	"outer_src_ip BLOB",
	"outer_dst_ip BLOB",
	"community_id TEXT",
};

/* The queries by Community ID, tunnel id and MAC (jcap query, REST); the
 * partial indexes cost nothing for rows without a tunnel or MACs. */
static const char schema_v2_idx[] =
	"CREATE INDEX IF NOT EXISTS flows_community_id ON flows(community_id);"
	"CREATE INDEX IF NOT EXISTS flows_tunnel_id ON flows(tunnel_id) "
	"WHERE tunnel_id IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_rev_tunnel_id ON flows(rev_tunnel_id) "
	"WHERE rev_tunnel_id IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_src_mac ON flows(src_mac) WHERE src_mac IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_dst_mac ON flows(dst_mac) WHERE dst_mac IS NOT NULL;";

/*
 * Schema version 3 adds these to version 2. l7_flags is the record's
 * capture_l7_flags; a value its flag does not cover, and an empty string,
 * is NULL. conn_state and dpi_confidence are their names ("SF", "dpi").
 */
static const char *const schema_v3_cols[] = {
	"l7_flags INTEGER NOT NULL DEFAULT 0",
	"payload_bytes INTEGER NOT NULL DEFAULT 0",
	"rev_payload_bytes INTEGER NOT NULL DEFAULT 0",
	"conn_state TEXT",
	"history TEXT",
	"retrans_packets INTEGER",
	"retrans_bytes INTEGER",
	"rev_retrans_packets INTEGER",
	"rev_retrans_bytes INTEGER",
	"ooo_packets INTEGER",
	"rev_ooo_packets INTEGER",
	"zero_win INTEGER",
	"rev_zero_win INTEGER",
	"rtt_us INTEGER",
	"rtt_syn_us INTEGER",
	"app TEXT",
	"app_category TEXT",
	"app_id INTEGER",
	"app_master_id INTEGER",
	"dpi_confidence TEXT",
	"tls_sni TEXT",
	"tls_alpn TEXT",
	"tls_version INTEGER",
	"ja4 TEXT",
	"ja3 TEXT",
	"dns_qname TEXT",
	"dns_qtype INTEGER",
	"dns_rcode INTEGER",
	"dns_answers INTEGER",
	"http_method TEXT",
	"http_host TEXT",
	"http_url TEXT",
	"http_user_agent TEXT",
	"http_status INTEGER",
	"src_country TEXT",
	"dst_country TEXT",
	"src_asn INTEGER",
	"src_as_org TEXT",
	"dst_asn INTEGER",
	"dst_as_org TEXT",
};

/* The columns jcap query --app/--sni/--dns-name/--country/--asn and the
 * reports look at; partial, so flows without them cost no index entry. */
static const char schema_v3_idx[] =
	"CREATE INDEX IF NOT EXISTS flows_app ON flows(app) WHERE app IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_tls_sni ON flows(tls_sni) WHERE tls_sni IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_dns_qname ON flows(dns_qname) "
	"WHERE dns_qname IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_src_country ON flows(src_country) "
	"WHERE src_country IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_dst_country ON flows(dst_country) "
	"WHERE dst_country IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_src_asn ON flows(src_asn) WHERE src_asn IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS flows_dst_asn ON flows(dst_asn) WHERE dst_asn IS NOT NULL;";

/* The version 3 columns of a record, from parameter / column @i on
 * (flow_store_l7.c); the bound strings are @f's, valid until the step. */
void pc_fs_bind_l7(sqlite3_stmt *st, int i, const struct capture_flow *f);
void pc_fs_row_to_l7(sqlite3_stmt *st, int i, struct capture_flow *f);

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

/* Store an unsigned 64-bit counter bit for bit in SQLite's signed INTEGER. */
static inline sqlite3_int64 i64(uint64_t v)
{
	sqlite3_int64 r;

	memcpy(&r, &v, sizeof(r));
	return r;
}

static inline uint64_t u64(sqlite3_int64 v)
{
	uint64_t r;

	memcpy(&r, &v, sizeof(r));
	return r;
}

/* Timestamps compared with SQL: keep them in the positive range. */
static inline sqlite3_int64 ts_clamp(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

/* Bounded append of a constant SQL fragment (never a value). */
void pc_fs_sql_add(char *sql, size_t len, size_t *off, const char *frag);

/* A checked capture_query filter: its WHERE terms and the values they bind.
 * Queries and reports share it, so both take the same filters. */
struct pc_fs_filter {
	struct capture_query q; /* the caller's, checked and copied (any size) */
	uint8_t lo[16], hi[16], mac[6];
	uint8_t ver;
	char sni[CAPTURE_NAME_LEN], dns_name[CAPTURE_NAME_LEN]; /* lower case */
	char country[3];					/* upper case */
};

/* Copy @q (NULL: no filter) into @f, check it, parse its values.
 * 0 or -EINVAL with the reason. @q's strings must outlive @f. */
int pc_fs_filter_init(struct pc_fs_filter *f, const struct capture_query *q, char *err,
		      size_t errlen);
/* Append " AND term" for each filter of @f (constant fragments only). */
void pc_fs_filter_sql(const struct pc_fs_filter *f, char *sql, size_t len, size_t *off);
/* Bind @f's values from parameter @b on, in the order of pc_fs_filter_sql;
 * returns the next parameter index. */
int pc_fs_filter_bind(const struct pc_fs_filter *f, sqlite3_stmt *st, int b);

static inline void key16(uint8_t out[16], const uint8_t ip[16], uint8_t version)
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

static inline void unkey16(uint8_t out[16], const void *blob, int len, uint8_t version)
{
	memset(out, 0, 16);
	if (!blob || len != 16)
		return;
	if (version == 4)
		memcpy(out, (const uint8_t *)blob + 12, 4);
	else
		memcpy(out, blob, 16);
}

/* Single integer result of @sql, or -1. */
sqlite3_int64 pc_fs_pragma_int(sqlite3 *db, const char *sql);
/* Open @path (read-write or read-only, creating it when asked) and check its
 * schema; the message says which file and why. */
int pc_fs_db_open(sqlite3 **out, const char *path, bool rw, bool create, char *err, size_t errlen);
int pc_fs_check_schema(sqlite3 *db, const char *path, bool create, char *err, size_t errlen);

#endif
