/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CSV columns of the transport health and application fields: fixed
 * columns in the JSON record's order, empty where the record does not know
 * the value (its capture_l7_flags bit is clear or the string is empty).
 */
#include <inttypes.h>
#include <string.h>

#include "jcap.h"

const char jcap_csv_l7_header[] =
	",payload_bytes,rev_payload_bytes,conn_state,history,retrans_packets,retrans_bytes,"
	"rev_retrans_packets,rev_retrans_bytes,ooo_packets,rev_ooo_packets,zero_win,rev_zero_win,"
	"rtt_us,rtt_syn_us,app,app_category,app_id,app_master_id,dpi_confidence,tls_sni,tls_alpn,"
	"tls_version,ja4,ja3,dns_qname,dns_qtype,dns_rcode,dns_answers,http_method,http_host,"
	"http_url,http_user_agent,http_status,src_country,dst_country,src_asn,src_as_org,dst_asn,"
	"dst_as_org";

/*
 * @n bytes of @s as a CSV value. RFC 4180: a value with a comma, quote or
 * line break (or any control byte) is quoted, quotes doubled; other bytes
 * are written as they came (JSON has the escaped form).
 */
static void csv_value(FILE *fp, const char *s, size_t n)
{
	bool quote = false;
	size_t i;

	for (i = 0; i < n; i++)
		quote |= s[i] == ',' || s[i] == '"' || (unsigned char)s[i] < 0x20;
	if (!quote) {
		fwrite(s, 1, n, fp);
		return;
	}
	fputc('"', fp);
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', fp);
		fputc(s[i], fp);
	}
	fputc('"', fp);
}

/* ",value" of a string field of at most @max bytes, empty when unknown. */
static void csv_str(FILE *fp, bool known, const char *s, size_t max)
{
	fputc(',', fp);
	csv_value(fp, s, known ? strnlen(s, max) : 0);
}

#define CSV_STR(fp, known, field) csv_str(fp, known, field, sizeof(field))

void jcap_csv_field(FILE *fp, const char *s)
{
	csv_value(fp, s, strlen(s));
}

static void csv_u64(FILE *fp, bool known, uint64_t v)
{
	if (known)
		fprintf(fp, ",%" PRIu64, v);
	else
		fputc(',', fp);
}

static void csv_name(FILE *fp, bool known, const char *name)
{
	fprintf(fp, ",%s", known && name ? name : "");
}

static void csv_tcp(FILE *fp, const struct capture_flow *f)
{
	bool tcp = f->l7_flags & CAPTURE_L7_TCP, rtt = f->l7_flags & CAPTURE_L7_RTT;

	fprintf(fp, ",%" PRIu64 ",%" PRIu64, f->payload_bytes, f->rev_payload_bytes);
	csv_name(fp, tcp, capture_conn_state_name(f->conn_state));
	CSV_STR(fp, tcp, f->history);
	csv_u64(fp, tcp, f->retrans_packets);
	csv_u64(fp, tcp, f->retrans_bytes);
	csv_u64(fp, tcp, f->rev_retrans_packets);
	csv_u64(fp, tcp, f->rev_retrans_bytes);
	csv_u64(fp, tcp, f->ooo_packets);
	csv_u64(fp, tcp, f->rev_ooo_packets);
	csv_u64(fp, tcp, f->zero_win);
	csv_u64(fp, tcp, f->rev_zero_win);
	csv_u64(fp, rtt, f->rtt_us);
	csv_u64(fp, rtt, f->rtt_syn_us);
}

static void csv_app(FILE *fp, const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags;
	bool app = fl & CAPTURE_L7_APP, tls = fl & CAPTURE_L7_TLS, dns = fl & CAPTURE_L7_DNS;
	bool http = fl & CAPTURE_L7_HTTP, dresp = fl & CAPTURE_L7_DNS_RESPONSE;

	CSV_STR(fp, app, f->app);
	CSV_STR(fp, app, f->app_category);
	csv_u64(fp, app, f->app_id);
	csv_u64(fp, app, f->app_master_id);
	csv_name(fp, app, capture_dpi_confidence_name(f->dpi_confidence));
	CSV_STR(fp, tls, f->tls_sni);
	CSV_STR(fp, tls, f->tls_alpn);
	csv_u64(fp, fl & CAPTURE_L7_TLS_VERSION, f->tls_version);
	CSV_STR(fp, tls, f->ja4);
	CSV_STR(fp, tls, f->ja3);
	CSV_STR(fp, dns, f->dns_qname);
	csv_u64(fp, dns, f->dns_qtype);
	csv_u64(fp, dresp, f->dns_rcode);
	csv_u64(fp, dresp, f->dns_answers);
	CSV_STR(fp, http, f->http_method);
	CSV_STR(fp, http, f->http_host);
	CSV_STR(fp, http, f->http_url);
	CSV_STR(fp, http, f->http_user_agent);
	csv_u64(fp, fl & CAPTURE_L7_HTTP_RESPONSE, f->http_status);
}

void jcap_csv_l7(FILE *fp, const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags;

	csv_tcp(fp, f);
	csv_app(fp, f);
	CSV_STR(fp, fl & CAPTURE_L7_GEO_SRC, f->src_country);
	CSV_STR(fp, fl & CAPTURE_L7_GEO_DST, f->dst_country);
	csv_u64(fp, fl & CAPTURE_L7_ASN_SRC, f->src_asn);
	CSV_STR(fp, fl & CAPTURE_L7_ASN_SRC, f->src_as_org);
	csv_u64(fp, fl & CAPTURE_L7_ASN_DST, f->dst_asn);
	CSV_STR(fp, fl & CAPTURE_L7_ASN_DST, f->dst_as_org);
}

/*
 * A name for the table's APP column: nDPI's application, else the server
 * name the client asked for (TLS/QUIC SNI, HTTP Host, DNS question), or
 * NULL. The caller makes it printable.
 */
const char *jcap_flow_app(const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags;

	if ((fl & CAPTURE_L7_APP) && f->app[0])
		return f->app;
	if ((fl & CAPTURE_L7_TLS) && f->tls_sni[0])
		return f->tls_sni;
	if ((fl & CAPTURE_L7_HTTP) && f->http_host[0])
		return f->http_host;
	if ((fl & CAPTURE_L7_DNS) && f->dns_qname[0])
		return f->dns_qname;
	return NULL;
}
