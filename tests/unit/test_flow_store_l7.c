/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the flow store's schema version 3: the transport health and
 * application fields round trip exactly, NULL when unknown; the filters
 * app/sni/dns_name (GLOB, case rules), country and asn (either end); the
 * report keys app, country and asn; a version 2 store refused read-only and
 * upgraded by a writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "export/flow_store.h"
#include "export/flow_store_db.h"
#include "packet_capture.h"

#define NREC 5
#define SET(field, s) snprintf(field, sizeof(field), "%s", s)

static char dir[64];
static struct capture_flow recs[NREC];

static const char *path(const char *name)
{
	static char buf[2][256];
	static int k;
	char *b = buf[k++ % 2];

	snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
	return b;
}

/* Tag t (1..NREC) in packets; 198.18.0.t -> 198.19.0.t, TCP port 443. */
static struct capture_flow *mk(int t)
{
	struct capture_flow *f = &recs[t - 1];

	memset(f, 0, sizeof(*f));
	f->ip_version = 4;
	f->src_ip[0] = 198, f->src_ip[1] = 18, f->src_ip[3] = (uint8_t)t;
	f->dst_ip[0] = 198, f->dst_ip[1] = 19, f->dst_ip[3] = (uint8_t)t;
	f->src_port = (uint16_t)(40000 + t);
	f->dst_port = 443;
	f->proto = 6;
	f->packets = (uint64_t)t;
	f->bytes = 100u * (unsigned)t;
	f->first_ns = 1700000000000000000ull + (uint64_t)t * 1000000000ull;
	f->last_ns = f->first_ns + 5000;
	f->end_reason = CAPTURE_END_END;
	return f;
}

static void geo(struct capture_flow *f, const char *sc, uint32_t sa, const char *dc, uint32_t da)
{
	f->l7_flags |=
		CAPTURE_L7_GEO_SRC | CAPTURE_L7_GEO_DST | CAPTURE_L7_ASN_SRC | CAPTURE_L7_ASN_DST;
	SET(f->src_country, sc);
	SET(f->dst_country, dc);
	f->src_asn = sa;
	f->dst_asn = da;
	SET(f->src_as_org, "Org, \"quoted\"");
}

static void make_records(void)
{
	struct capture_flow *f;

	/* 1: everything known */
	f = mk(1);
	f->l7_flags = CAPTURE_L7_APP | CAPTURE_L7_TLS | CAPTURE_L7_TLS_SERVER |
		      CAPTURE_L7_TLS_VERSION | CAPTURE_L7_TCP | CAPTURE_L7_RTT;
	f->payload_bytes = 517, f->rev_payload_bytes = UINT64_MAX;
	f->conn_state = CAPTURE_CONN_SF;
	SET(f->history, "ShADadFf");
	f->retrans_packets = 1, f->retrans_bytes = 100, f->rev_retrans_packets = 2;
	f->rev_retrans_bytes = 1ull << 40, f->ooo_packets = 3, f->rev_ooo_packets = 4;
	f->zero_win = 5, f->rev_zero_win = UINT32_MAX, f->rtt_us = 1500, f->rtt_syn_us = 900;
	SET(f->app, "TLS.YouTube");
	SET(f->app_category, "Media");
	f->app_id = 124, f->app_master_id = 91, f->dpi_confidence = CAPTURE_DPI_DPI;
	SET(f->tls_sni, "Www.YouTube.com");
	SET(f->tls_alpn, "h2");
	f->tls_version = 0x0304;
	SET(f->ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	SET(f->ja3, "0123456789abcdef0123456789abcdef");
	geo(f, "DE", 3320, "US", 15169);
	/* 2: DNS, with a hostile name (bytes kept as they came) */
	f = mk(2);
	f->proto = 17, f->dst_port = 53;
	f->l7_flags = CAPTURE_L7_APP | CAPTURE_L7_DNS | CAPTURE_L7_DNS_RESPONSE;
	f->payload_bytes = 40;
	SET(f->app, "DNS");
	f->app_id = 5, f->dpi_confidence = CAPTURE_DPI_MATCH_BY_PORT;
	SET(f->dns_qname, "mail.example.org");
	f->dns_qtype = 15, f->dns_rcode = 3;
	geo(f, "FR", 64496, "DE", 3320);
	/* 3: HTTP */
	f = mk(3);
	f->dst_port = 80;
	f->l7_flags = CAPTURE_L7_APP | CAPTURE_L7_HTTP | CAPTURE_L7_HTTP_RESPONSE | CAPTURE_L7_TCP;
	f->conn_state = CAPTURE_CONN_RSTO;
	SET(f->history, "ShADar");
	SET(f->app, "HTTP");
	SET(f->http_method, "GET");
	SET(f->http_host, "example.org");
	SET(f->http_url, "/a,b?\"c\"\n\xff");
	SET(f->http_user_agent, "curl/8");
	f->http_status = 200;
	/* 4: QUIC with an SNI, no geo */
	f = mk(4);
	f->proto = 17;
	f->l7_flags = CAPTURE_L7_APP | CAPTURE_L7_TLS | CAPTURE_L7_QUIC;
	SET(f->app, "QUIC.Google");
	SET(f->tls_sni, "www.google.com");
	SET(f->tls_alpn, "h3");
	/* 5: nothing known */
	mk(5);
}

struct got {
	struct capture_flow f[16];
	size_t n;
};

static void collect(void *ctx, const struct capture_flow *r, size_t n)
{
	struct got *g = ctx;
	size_t i;

	for (i = 0; i < n && g->n < 16; i++)
		g->f[g->n++] = r[i];
}

static struct capture_query qdef(void)
{
	struct capture_query q = { .sz = sizeof(q), .port = -1, .proto = -1 };

	return q;
}

/* The tags @q finds, newest first, as a string "4 2"; or the error. */
static const char *tags(const char *db, const struct capture_query *q)
{
	static char out[256];
	struct got g = { .n = 0 };
	char err[256] = "";
	size_t i, off = 0;
	int64_t r = capture_store_query(db, q, collect, &g, err, sizeof(err));

	if (r < 0) {
		snprintf(out, sizeof(out), "error %lld: %s", (long long)r, err);
		return out;
	}
	out[0] = 0;
	for (i = 0; i < g.n; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%llu", i ? " " : "",
					(unsigned long long)g.f[i].packets);
	return out;
}

static void store(const char *db, const struct capture_flow *v, size_t n)
{
	struct pc_flow_store_params p = { .path = db };
	struct pc_flow_store *s = NULL;
	char err[256] = "";

	CHECK(pc_flow_store_open(&s, &p, err, sizeof(err)) == 0);
	if (!s) {
		fprintf(stderr, "open %s: %s\n", db, err);
		return;
	}
	CHECK(pc_flow_store_insert(s, v, n) == (int)n);
	CHECK(pc_flow_store_close(s) == 0);
}

/* Every record reads back as it was written: same JSON, same bytes. */
static void test_round_trip(void)
{
	const char *db = path("rt.db");
	char a[CAPTURE_FLOW_JSON_MAX], b[CAPTURE_FLOW_JSON_MAX];
	struct capture_query q = qdef();
	struct got g = { .n = 0 };
	size_t i, off = offsetof(struct capture_flow, l7_flags);
	char err[256];

	store(db, recs, NREC);
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == NREC);
	for (i = 0; i < g.n; i++) {
		const struct capture_flow *w = &recs[g.f[i].packets - 1];

		CHECK(capture_flow_to_json(w, a, sizeof(a)) > 0);
		CHECK(capture_flow_to_json(&g.f[i], b, sizeof(b)) > 0);
		CHECK_STR(b, a);
		CHECK(!memcmp((const char *)&g.f[i] + off, (const char *)w + off,
			      sizeof(*w) - off));
	}
}

static void test_filters(void)
{
	const char *db = path("rt.db");
	struct capture_query q = qdef();

	q.app = "TLS.*";
	CHECK_STR(tags(db, &q), "1");
	q.app = "tls.*"; /* nDPI's names: case counts */
	CHECK_STR(tags(db, &q), "");
	q.app = "[DH]*";
	CHECK_STR(tags(db, &q), "3 2");
	q = qdef();
	q.sni = "*.YOUTUBE.COM"; /* names: ASCII case ignored */
	CHECK_STR(tags(db, &q), "1");
	q.sni = "www.*";
	CHECK_STR(tags(db, &q), "4 1");
	q.sni = "www.google.co?";
	CHECK_STR(tags(db, &q), "4");
	q = qdef();
	q.dns_name = "*example.org";
	CHECK_STR(tags(db, &q), "2"); /* not the HTTP host example.org */
	q = qdef();
	q.country = "de";
	CHECK_STR(tags(db, &q), "2 1");
	q.country = "US";
	CHECK_STR(tags(db, &q), "1");
	q.has_asn = true;
	q.asn = 3320;
	CHECK_STR(tags(db, &q), "1");
	q.country = NULL;
	CHECK_STR(tags(db, &q), "2 1");
	q.asn = 64497;
	CHECK_STR(tags(db, &q), "");
	q = qdef();
	q.app = "*";
	q.port = 53;
	CHECK_STR(tags(db, &q), "2");
	q = qdef();
	q.country = "DEU";
	CHECK_STR(tags(db, &q), "error -22: 'DEU' is not a country code (two letters, ISO 3166)");
	q.country = "1E";
	CHECK_STR(tags(db, &q), "error -22: '1E' is not a country code (two letters, ISO 3166)");
	q = qdef();
	q.sni = "";
	CHECK_STR(tags(db, &q), "error -22: sni pattern must be 1 to 127 bytes");
}

struct rep {
	char text[512];
	size_t off;
};

static void on_row(void *ctx, const struct capture_report_row *r)
{
	struct rep *p = ctx;

	p->off += (size_t)snprintf(p->text + p->off, sizeof(p->text) - p->off, "%s=%llu ",
				   r->key_text[0], (unsigned long long)r->flows);
}

static const char *report(const char *db, const char *keys)
{
	static struct rep p;
	struct capture_report r = { .sz = sizeof(r), .keys = keys };
	struct capture_query q = qdef();
	char err[256] = "";
	int64_t n;

	memset(&p, 0, sizeof(p));
	n = capture_store_report(db, &q, &r, on_row, &p, err, sizeof(err));
	if (n < 0)
		snprintf(p.text, sizeof(p.text), "error: %s", err);
	return p.text;
}

static void test_reports(void)
{
	const char *db = path("rt.db");

	/* largest first, ties by key; unknown is its own (empty) group */
	CHECK_STR(report(db, "app"), "=1 DNS=1 HTTP=1 QUIC.Google=1 TLS.YouTube=1 ");
	CHECK_STR(report(db, "country"), "=6 DE=2 FR=1 US=1 ");
	CHECK_STR(report(db, "dst_country"), "=3 DE=1 US=1 ");
	CHECK_STR(report(db, "asn"), "0=6 3320=2 15169=1 64496=1 ");
	CHECK_STR(report(db, "conn_state"), "=3 RSTO=1 SF=1 ");
}

/* A version 2 store: the version 1 table plus version 2's columns. */
static void make_v2(const char *db)
{
	sqlite3 *h;
	char sql[256];
	size_t i;

	unlink(db);
	CHECK(sqlite3_open(db, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, schema_sql, NULL, NULL, NULL) == SQLITE_OK);
	for (i = 0; i < sizeof(schema_v2_cols) / sizeof(schema_v2_cols[0]); i++) {
		snprintf(sql, sizeof(sql), "ALTER TABLE flows ADD COLUMN %s", schema_v2_cols[i]);
		CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
	}
	CHECK(sqlite3_exec(h,
			   "PRAGMA application_id = 1784897904; PRAGMA user_version = 2;"
			   "INSERT INTO flows (ip_version, src_ip, dst_ip, src_port, dst_port, "
			   "proto, vlan, packets, bytes, rev_packets, rev_bytes, tcp_flags, "
			   "rev_tcp_flags, icmp_type, icmp_code, end_reason, worker, first_ns, "
			   "last_ns, rev_first_ns, rev_last_ns, fwd_first_ns, fwd_last_ns) "
			   "VALUES (4, zeroblob(16), zeroblob(16), 1, 2, 17, 0, 9, 90, 0, 0, 0, 0, "
			   "0, 0, 3, 0, 1, 2, 0, 0, 1, 2)",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
}

static void test_upgrade(void)
{
	const char *db = path("v2.db");
	struct capture_query q = qdef();
	char want[512];

	make_v2(db);
	snprintf(want, sizeof(want),
		 "error -%d: %s: flow store schema version 2, this build reads 3: store flows "
		 "into it once (sqlite:%s) to upgrade it",
		 CAPTURE_E_DB, db, db);
	CHECK_STR(tags(db, &q), want);
	store(db, &recs[1], 1);
	CHECK_STR(tags(db, &q), "2 9");
	q.app = "DNS";
	CHECK_STR(tags(db, &q), "2");
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/pc_store_l7.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_records();
	test_round_trip();
	test_filters();
	test_reports();
	test_upgrade();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
	return check_finish("unit.flow_store_l7");
}
