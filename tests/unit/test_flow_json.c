/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow record's JSON (capture_flow_to_json): the transport health and
 * application fields, exact text, absence when unknown, escaping of hostile
 * strings and the bound CAPTURE_FLOW_JSON_MAX on the longest record.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "packet_capture.h"

static char buf[CAPTURE_FLOW_JSON_MAX];

#define SET(field, s) snprintf(field, sizeof(field), "%s", s)

/* An IPv4 TCP record with nothing but the 5-tuple and counters. */
static void base(struct capture_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->ip_version = 4;
	f->src_ip[0] = 198, f->src_ip[1] = 18, f->src_ip[3] = 1;
	f->dst_ip[0] = 198, f->dst_ip[1] = 18, f->dst_ip[3] = 2;
	f->src_port = 40000;
	f->dst_port = 443;
	f->proto = 6;
	f->packets = 5;
	f->bytes = 700;
	f->end_reason = CAPTURE_END_END;
}

/* The part of the line after max_ttl (the issue-12 fields), or the line. */
static const char *tail(const char *line)
{
	const char *p = strstr(line, "\"max_ttl\":0");

	return p ? p + strlen("\"max_ttl\":0") : line;
}

static void test_every_field(void)
{
	struct capture_flow f;
	int n;

	base(&f);
	f.l7_flags = CAPTURE_L7_APP | CAPTURE_L7_TLS | CAPTURE_L7_TLS_SERVER |
		     CAPTURE_L7_TLS_VERSION | CAPTURE_L7_DNS | CAPTURE_L7_DNS_RESPONSE |
		     CAPTURE_L7_HTTP | CAPTURE_L7_HTTP_RESPONSE | CAPTURE_L7_TCP | CAPTURE_L7_RTT |
		     CAPTURE_L7_GEO_SRC | CAPTURE_L7_GEO_DST | CAPTURE_L7_ASN_SRC |
		     CAPTURE_L7_ASN_DST;
	f.payload_bytes = 517;
	f.rev_payload_bytes = 18446744073709551615ull;
	f.conn_state = CAPTURE_CONN_SF;
	SET(f.history, "ShADadFf");
	f.retrans_packets = 1, f.retrans_bytes = 100;
	f.rev_retrans_packets = 2, f.rev_retrans_bytes = 4294967296ull;
	f.ooo_packets = 3, f.rev_ooo_packets = 4;
	f.zero_win = 5, f.rev_zero_win = 4294967295u;
	f.rtt_us = 1500, f.rtt_syn_us = 1000;
	SET(f.app, "TLS.YouTube");
	SET(f.app_category, "Media");
	f.app_id = 124, f.app_master_id = 91;
	f.dpi_confidence = CAPTURE_DPI_DPI;
	SET(f.tls_sni, "www.youtube.com");
	SET(f.tls_alpn, "h2");
	f.tls_version = 0x0304;
	SET(f.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	SET(f.ja3, "771,4865-4866,0-23,29-23,0");
	SET(f.dns_qname, "example.org");
	f.dns_qtype = 28, f.dns_rcode = 3, f.dns_answers = 0;
	SET(f.http_method, "GET");
	SET(f.http_host, "example.org");
	SET(f.http_url, "/index.html?q=1");
	SET(f.http_user_agent, "curl/7.88.1");
	f.http_status = 404;
	SET(f.src_country, "DE");
	SET(f.dst_country, "US");
	f.src_asn = 3320, f.dst_asn = 4294967295u;
	SET(f.src_as_org, "Deutsche Telekom AG");
	SET(f.dst_as_org, "");
	n = capture_flow_to_json(&f, buf, sizeof(buf));
	CHECK(n == (int)strlen(buf));
	CHECK_STR(
		tail(buf),
		",\"payload_bytes\":517,\"rev_payload_bytes\":18446744073709551615,"
		"\"conn_state\":\"SF\",\"history\":\"ShADadFf\",\"retrans_packets\":1,"
		"\"retrans_bytes\":100,\"rev_retrans_packets\":2,\"rev_retrans_bytes\":4294967296,"
		"\"ooo_packets\":3,\"rev_ooo_packets\":4,\"zero_win\":5,"
		"\"rev_zero_win\":4294967295,\"rtt_us\":1500,\"rtt_syn_us\":1000,"
		"\"app\":\"TLS.YouTube\",\"app_category\":\"Media\",\"app_id\":124,"
		"\"app_master_id\":91,\"dpi_confidence\":\"dpi\",\"tls_sni\":\"www.youtube.com\","
		"\"tls_alpn\":\"h2\",\"tls_version\":772,"
		"\"ja4\":\"t13d1516h2_8daaf6152771_e5627efa2ab1\","
		"\"ja3\":\"771,4865-4866,0-23,29-23,0\",\"dns_qname\":\"example.org\","
		"\"dns_qtype\":28,\"dns_rcode\":3,\"dns_answers\":0,\"http_method\":\"GET\","
		"\"http_host\":\"example.org\",\"http_url\":\"/index.html?q=1\","
		"\"http_user_agent\":\"curl/7.88.1\",\"http_status\":404,\"src_country\":\"DE\","
		"\"dst_country\":\"US\",\"src_asn\":3320,\"src_as_org\":\"Deutsche Telekom AG\","
		"\"dst_asn\":4294967295}");
}

/* Unknown is absent: flags clear hide filled fields; set flags with empty
 * strings print no empty strings; payload octets are always there. */
static void test_absent(void)
{
	struct capture_flow f;

	base(&f);
	SET(f.app, "HTTP");
	SET(f.tls_sni, "hidden.example");
	SET(f.history, "S");
	f.conn_state = CAPTURE_CONN_S0;
	f.rtt_us = 7;
	f.http_status = 200;
	f.dns_qtype = 1;
	SET(f.src_country, "FR");
	f.src_asn = 1;
	CHECK(capture_flow_to_json(&f, buf, sizeof(buf)) > 0);
	CHECK_STR(tail(buf), ",\"payload_bytes\":0,\"rev_payload_bytes\":0}");

	base(&f);
	f.l7_flags = CAPTURE_L7_TLS | CAPTURE_L7_HTTP | CAPTURE_L7_TCP | CAPTURE_L7_ASN_DST |
		     CAPTURE_L7_GEO_SRC;
	f.payload_bytes = 9;
	f.dst_asn = 64496;
	CHECK(capture_flow_to_json(&f, buf, sizeof(buf)) > 0);
	/* a TCP record whose state is NONE has no conn_state name */
	CHECK_STR(tail(buf),
		  ",\"payload_bytes\":9,\"rev_payload_bytes\":0,\"retrans_packets\":0,"
		  "\"retrans_bytes\":0,\"rev_retrans_packets\":0,\"rev_retrans_bytes\":0,"
		  "\"ooo_packets\":0,\"rev_ooo_packets\":0,\"zero_win\":0,"
		  "\"rev_zero_win\":0,\"dst_asn\":64496}");

	/* an out-of-range state or confidence is not printed as a name */
	base(&f);
	f.l7_flags = CAPTURE_L7_TCP | CAPTURE_L7_APP;
	f.conn_state = CAPTURE_CONN_COUNT;
	f.dpi_confidence = 200;
	CHECK(capture_flow_to_json(&f, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "conn_state") == NULL);
	CHECK(strstr(buf, "dpi_confidence") == NULL);
	CHECK(strstr(buf, "\"app_id\":0,\"app_master_id\":0}") != NULL);
}

/* Wire bytes in strings: quote, backslash, controls, invalid UTF-8. */
static void test_escaping(void)
{
	struct capture_flow f;

	base(&f);
	f.l7_flags = CAPTURE_L7_TLS | CAPTURE_L7_HTTP;
	SET(f.tls_sni, "a\"b\\c\n\x01\x1f\x7f");
	/* valid 2-, 3- and 4-byte UTF-8 pass through */
	SET(f.http_host, "caf\xc3\xa9.\xe2\x82\xac.\xf0\x9f\x98\x80");
	/* lone continuation, overlong '/', CESU surrogate, > U+10FFFF, truncated */
	SET(f.http_url, "/\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82");
	/* a latin-1 byte between ASCII */
	SET(f.http_user_agent, "M\xfcller");
	CHECK(capture_flow_to_json(&f, buf, sizeof(buf)) > 0);
	CHECK_STR(tail(buf), ",\"payload_bytes\":0,\"rev_payload_bytes\":0,"
			     "\"tls_sni\":\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f\","
			     "\"http_host\":\"caf\xc3\xa9.\xe2\x82\xac.\xf0\x9f\x98\x80\","
			     "\"http_url\":\"/\\u0080\\u00c0\\u00af\\u00ed\\u00a0\\u0080"
			     "\\u00f4\\u0090\\u0080\\u0080\\u00e2\\u0082\","
			     "\"http_user_agent\":\"M\\u00fcller\"}");

	/* a field without its NUL stops at the array's end */
	base(&f);
	f.l7_flags = CAPTURE_L7_TLS;
	memset(f.ja3, 'x', sizeof(f.ja3));
	CHECK(capture_flow_to_json(&f, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"ja3\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}") != NULL);
}

static void fill_hostile(char *s, size_t n)
{
	memset(s, 0x01, n - 1); /* each byte becomes \u0001: six */
	s[n - 1] = 0;
}

/* The longest record there can be fits CAPTURE_FLOW_JSON_MAX. */
static void test_bound(void)
{
	struct capture_flow f;
	int k, n;

	memset(&f, 0xff, sizeof(f));
	f.ip_version = 6;
	for (k = 0; k < 16; k++)
		f.src_ip[k] = f.dst_ip[k] = f.outer_src_ip[k] = f.outer_dst_ip[k] = 0xfe;
	f.outer_ip_version = 6;
	f.tunnel_type = CAPTURE_TUNNEL_GTPU;
	f.rev_tunnel_id = 1;
	f.end_reason = CAPTURE_END_EVICTED;
	for (k = 0; k < 3; k++)
		f.mpls_labels[k] = 0xffffffffu;
	f.conn_state = CAPTURE_CONN_RSTOS0;
	f.dpi_confidence = CAPTURE_DPI_MATCH_BY_PORT;
	fill_hostile(f.history, sizeof(f.history));
	fill_hostile(f.app, sizeof(f.app));
	fill_hostile(f.app_category, sizeof(f.app_category));
	fill_hostile(f.tls_sni, sizeof(f.tls_sni));
	fill_hostile(f.tls_alpn, sizeof(f.tls_alpn));
	fill_hostile(f.ja4, sizeof(f.ja4));
	fill_hostile(f.ja3, sizeof(f.ja3));
	fill_hostile(f.dns_qname, sizeof(f.dns_qname));
	fill_hostile(f.http_method, sizeof(f.http_method));
	fill_hostile(f.http_host, sizeof(f.http_host));
	fill_hostile(f.http_url, sizeof(f.http_url));
	fill_hostile(f.http_user_agent, sizeof(f.http_user_agent));
	fill_hostile(f.src_country, sizeof(f.src_country));
	fill_hostile(f.dst_country, sizeof(f.dst_country));
	fill_hostile(f.src_as_org, sizeof(f.src_as_org));
	fill_hostile(f.dst_as_org, sizeof(f.dst_as_org));
	n = capture_flow_to_json(&f, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(n < CAPTURE_FLOW_JSON_MAX);
	/* the bound is not loose by more than the room left for growth */
	CHECK(n > CAPTURE_FLOW_JSON_MAX - 2048);
	printf("longest record: %d bytes (CAPTURE_FLOW_JSON_MAX %d)\n", n, CAPTURE_FLOW_JSON_MAX);
	CHECK(capture_flow_to_json(&f, buf, (size_t)n) == -ENOSPC);
	CHECK(capture_flow_to_json(&f, buf, (size_t)n + 1) == n);
}

int main(void)
{
	test_every_field();
	test_absent();
	test_escaping();
	test_bound();
	return check_finish("flow_json");
}
