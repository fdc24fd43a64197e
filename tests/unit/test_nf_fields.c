/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --fields layouts and encoder of the v9/IPFIX exporters: the names
 * capture_export_fields_parse() takes, which elements each group adds (and that
 * the default layout is the earlier release's), and the bytes of a record with
 * every group: MACs, QinQ, an MPLS stack, TOS/TTL, a VXLAN VNI, GTP-U TEIDs; the
 * stand-alone IPFIX messages (Kafka's format=ipfix) and the send-failure hints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "export/export.h"
#include "export/ipfix_msg.h"
#include "export/nf_fields.h"

static void test_parse(void)
{
	uint32_t f = 0;

	CHECK_EQ(capture_export_fields_parse("", &f), 0);
	CHECK_EQ(f, 0);
	CHECK_EQ(capture_export_fields_parse("+mac,+mpls", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_MAC | CAPTURE_FIELD_MPLS);
	CHECK_EQ(capture_export_fields_parse("ttl,-mac", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_MPLS | CAPTURE_FIELD_TTL);
	CHECK_EQ(capture_export_fields_parse("all,-community_id", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_ALL & ~CAPTURE_FIELD_COMMUNITY_ID);
	CHECK_EQ(capture_export_fields_parse("none,tos", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_TOS);
	CHECK_EQ(capture_export_fields_parse("none,app,tcp,payload,geo", &f), 0);
	CHECK_EQ(f,
		 CAPTURE_FIELD_APP | CAPTURE_FIELD_TCP | CAPTURE_FIELD_PAYLOAD | CAPTURE_FIELD_GEO);
	CHECK_EQ(capture_export_fields_parse("all,-app", &f), 0);
	CHECK_EQ(f, 0xfffu & ~CAPTURE_FIELD_APP);
	CHECK_EQ(capture_export_fields_parse("none,tos", &f), 0);
	/* refused, and @f left as it was */
	CHECK_EQ(capture_export_fields_parse("mac,macs", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse("mac,", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse(",mac", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse("+", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse(NULL, &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(f, CAPTURE_FIELD_TOS);
}

static size_t find(const struct nf_field *fl, size_t n, uint32_t pen, uint16_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fl[i].pen == pen && fl[i].id == id)
			return i;
	return (size_t)-1;
}

static void test_layouts(void)
{
	struct nf_field fl[NF_MAX_FIELDS];
	struct nf_layout l = { .version = 10, .ipver = 4, .bi = true };
	size_t n;

	/* default: the 20 elements of earlier releases, 91 bytes */
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 20);
	CHECK_EQ(pc_nf_rec_len(fl, n), 91);
	l.bi = false;
	CHECK_EQ(pc_nf_rec_len(fl, pc_nf_layout(&l, fl)), 57);
	l.version = 9;
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 15);
	CHECK_EQ(pc_nf_rec_len(fl, n), 56);
	l.ipver = 6;
	CHECK_EQ(pc_nf_rec_len(fl, pc_nf_layout(&l, fl)), 80);

	/* v9 with everything: IANA elements only, fixed length (payload, applicationId,
	 * httpStatusCode, BGP AS numbers) */
	l.fields = CAPTURE_FIELD_ALL;
	l.pen = 32473;
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 15 + 2 + 1 + 3 + 1 + 2 + 1 + 5);
	CHECK(!pc_nf_has_varlen(fl, n));
	CHECK_EQ(fl[find(fl, n, 0, 95)].len, NF_APPID_LEN);
	CHECK(find(fl, n, 0, 96) == (size_t)-1);
	CHECK(find(fl, n, 32473, NF_IE_COMMUNITY_ID) == (size_t)-1);
	CHECK(find(fl, n, 0, 351) != (size_t)-1);

	/* IPFIX biflow, tunnel template with an IPv6 outer header */
	l = (struct nf_layout){ .version = 10,
				.ipver = 4,
				.outer = 6,
				.bi = true,
				.fields = CAPTURE_FIELD_ALL,
				.pen = 32473 };
	n = pc_nf_layout(&l, fl);
	CHECK(find(fl, n, 29305, 5) < find(fl, n, 0, 5)); /* reverse twins first */
	CHECK(find(fl, n, 29305, 52) < find(fl, n, 0, 52));
	CHECK(find(fl, n, 32473, NF_IE_TUNNEL_ID | NF_REVERSE_BIT) < find(fl, n, 32473, 2));
	CHECK_EQ(fl[find(fl, n, 32473, NF_IE_OUTER_SRC6)].len, 16);
	CHECK(find(fl, n, 32473, NF_IE_OUTER_SRC4) == (size_t)-1);
	/* then transportOctetDeltaCount, its reverse twin first; no section of a flow */
	CHECK_EQ(fl[n - 3].id, NF_IE_COMMUNITY_ID);
	CHECK_EQ(fl[n - 3].len, NF_CID_LEN);
	CHECK(fl[n - 2].id == 401 && fl[n - 2].pen == 29305 && fl[n - 1].id == 401);
	/* the base template of the same selection has no tunnel element */
	l.outer = 0;
	n = pc_nf_layout(&l, fl);
	CHECK(find(fl, n, 0, 351) == (size_t)-1);
	CHECK(find(fl, n, 32473, NF_IE_TUNNEL_TYPE) == (size_t)-1);
}

static void flow_v4(struct capture_flow *f)
{
	static const uint8_t sm[6] = { 0x02, 0, 0, 0, 0, 0x01 }, dm[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(f, 0, sizeof(*f));
	f->ip_version = 4;
	f->proto = 17;
	inet_pton(AF_INET, "198.18.0.1", f->src_ip);
	inet_pton(AF_INET, "198.19.0.1", f->dst_ip);
	f->src_port = 2152;
	f->dst_port = 2152;
	f->packets = 3;
	f->bytes = 300;
	f->rev_packets = 2;
	f->rev_bytes = 200;
	memcpy(f->src_mac, sm, 6);
	memcpy(f->dst_mac, dm, 6);
	f->vlan = 100;
	f->vlan_inner = 200;
	f->mpls_labels[0] = 1000 << 4 | 5 << 1;	    /* EXP 5 */
	f->mpls_labels[1] = 2000 << 4 | 0 << 1 | 1; /* bottom of stack */
	f->tos = 0xb8;
	f->rev_tos = 0x01;
	f->min_ttl = 60;
	f->max_ttl = 64;
	f->rev_min_ttl = 250;
	f->rev_max_ttl = 255;
	f->interface = 7;
}

/* The value of field @k of a record laid out by @fl. */
static const uint8_t *at(const struct nf_field *fl, size_t k, const uint8_t *rec)
{
	size_t i, off = 0;

	for (i = 0; i < k; i++)
		off += fl[i].len;
	return rec + off;
}

static void test_encode(void)
{
	struct nf_layout l = { .version = 10,
			       .ipver = 4,
			       .outer = 4,
			       .bi = true,
			       .fields = CAPTURE_FIELD_ALL,
			       .pen = 32473 };
	struct nf_field fl[NF_MAX_FIELDS];
	struct capture_flow f;
	struct nf_uni v[2];
	struct nf_enc enc = { .scale = 1 };
	uint8_t rec[512], *end;
	size_t n = pc_nf_layout(&l, fl);
	const uint8_t *p;

	flow_v4(&f);
	f.tunnel_type = CAPTURE_TUNNEL_GTPU;
	f.outer_ip_version = 4;
	f.tunnel_id = 0x11223344;
	f.rev_tunnel_id = 0x55667788;
	inet_pton(AF_INET, "192.0.2.1", f.outer_src_ip);
	inet_pton(AF_INET, "192.0.2.2", f.outer_dst_ip);
	pc_nf_bi_views(&f, v);
	end = pc_nf_encode(rec, fl, n, &f, &v[0], &v[1], &enc);
	CHECK_EQ(end - rec, pc_nf_rec_len(fl, n));
	/* MPLS stack entries as on the wire: label(20) EXP(3) S(1) */
	p = at(fl, find(fl, n, 0, 70), rec);
	CHECK(p[0] == 0x00 && p[1] == 0x3e && p[2] == 0x8a);
	p = at(fl, find(fl, n, 0, 71), rec);
	CHECK(p[0] == 0x00 && p[1] == 0x7d && p[2] == 0x01);
	p = at(fl, find(fl, n, 0, 72), rec);
	CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0);
	CHECK(!memcmp(at(fl, find(fl, n, 0, 56), rec), f.src_mac, 6));
	CHECK(!memcmp(at(fl, find(fl, n, 0, 80), rec), f.dst_mac, 6));
	p = at(fl, find(fl, n, 0, 245), rec);
	CHECK_EQ(p[0] << 8 | p[1], 200);
	CHECK_EQ(*at(fl, find(fl, n, 0, 5), rec), 0xb8);
	CHECK_EQ(*at(fl, find(fl, n, 29305, 5), rec), 0x01);
	CHECK_EQ(*at(fl, find(fl, n, 0, 52), rec), 60);
	CHECK_EQ(*at(fl, find(fl, n, 29305, 53), rec), 255);
	p = at(fl, find(fl, n, 0, 10), rec);
	CHECK_EQ(p[3], 7);
	/* GTP-U: no layer2SegmentId, the TEID of each direction in jcapTunnelId */
	p = at(fl, find(fl, n, 0, 351), rec);
	CHECK(!memcmp(p, "\0\0\0\0\0\0\0\0", 8));
	CHECK_EQ(*at(fl, find(fl, n, 32473, NF_IE_TUNNEL_TYPE), rec), CAPTURE_TUNNEL_GTPU);
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_TUNNEL_ID), rec), "\x11\x22\x33\x44", 4));
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_TUNNEL_ID | NF_REVERSE_BIT), rec),
		      "\x55\x66\x77\x88", 4));
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_OUTER_DST4), rec), "\xc0\x00\x02\x02", 4));

	/* VXLAN: the VNI in layer2SegmentId (type 0x01), jcapTunnelId 0 */
	f.tunnel_type = CAPTURE_TUNNEL_VXLAN;
	f.tunnel_id = 4242;
	f.rev_tunnel_id = 4242;
	pc_nf_bi_views(&f, v);
	pc_nf_encode(rec, fl, n, &f, &v[0], &v[1], &enc);
	CHECK(!memcmp(at(fl, find(fl, n, 0, 351), rec), "\x01\0\0\0\0\0\x10\x92", 8));
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_TUNNEL_ID), rec), "\0\0\0\0", 4));

	/* uniflow reverse record: MACs, outer addresses and TEID swapped to its side;
	 * --sample-scale multiplies the counters */
	l.bi = false;
	n = pc_nf_layout(&l, fl);
	{
		struct nf_uni u[2];

		pc_nf_dirs(&f, u);
		enc.scale = 10;
		pc_nf_encode(rec, fl, n, &f, &u[1], &u[1], &enc);
		CHECK(!memcmp(at(fl, find(fl, n, 0, 56), rec), f.dst_mac, 6));
		CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_OUTER_SRC4), rec), "\xc0\x00\x02\x02",
			      4));
		p = at(fl, find(fl, n, 0, 2), rec);
		CHECK_EQ(p[7], 20);
		p = at(fl, find(fl, n, 0, 1), rec);
		CHECK_EQ(p[6] << 8 | p[7], 2000);
		CHECK_EQ(*at(fl, find(fl, n, 0, 52), rec), 250);
	}
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Walk the sets of an IPFIX message: template records (set 2/3) and data records
 * of data set @tid with record length @rlen. */
static void walk(const uint8_t *m, size_t len, unsigned tid, size_t rlen, unsigned *ntmpl,
		 unsigned *ndata)
{
	size_t off = 16;

	*ntmpl = *ndata = 0;
	while (off + 4 <= len) {
		unsigned id = be16(m + off), sl = be16(m + off + 2);

		if (sl < 4 || off + sl > len)
			break;
		if (id == 2 || id == 3)
			(*ntmpl)++; /* template sets */
		else if (id == tid)
			*ndata += (unsigned)((sl - 4) / rlen);
		off += sl;
	}
	CHECK_EQ(off, len);
}

/* Kafka's format=ipfix: each message carries the templates before its records. */
static void test_messages(void)
{
	struct capture_export_opts o = { .sz = sizeof(o),
					 .uniflow = true,
					 .observation_domain = 9 };
	struct pc_export_target t;
	struct pc_ipfix_msgs *b = NULL;
	struct capture_flow f[40];
	uint8_t buf[1400];
	char err[256];
	size_t len, taken, i;
	unsigned nt, nd;

	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)), 0);
	CHECK_EQ(pc_ipfix_msgs_create(&b, &t, err, sizeof(err)), 0);
	for (i = 0; i < 40; i++)
		flow_v4(&f[i]); /* two directions each: two uniflow records */
	len = pc_ipfix_msgs_build(b, f, 40, &taken, buf, sizeof(buf), 1700000000ull * 1000000000);
	CHECK(len > 0 && len <= sizeof(buf));
	CHECK_EQ(be16(buf), 10);
	CHECK_EQ(be16(buf + 2), len);
	CHECK_EQ(buf[15], 9); /* observation domain */
	CHECK_EQ(buf[11], 0); /* sequence */
	walk(buf, len, 258, 57, &nt, &nd);
	CHECK_EQ(nt, 2); /* IPv4 and IPv6 templates; statistics options template */
	CHECK_EQ(nd, 2 * taken);
	CHECK(taken > 0 && taken < 40);
	len = pc_ipfix_msgs_build(b, f + taken, 40 - taken, &i, buf, sizeof(buf), 0);
	CHECK_EQ(buf[11], 2 * taken); /* data records before */
	walk(buf, len, 258, 57, &nt, &nd);
	CHECK_EQ(nt, 2);
	CHECK_EQ(nd, 2 * i);
	/* too small for the templates */
	CHECK_EQ(pc_ipfix_msgs_build(b, f, 1, &taken, buf, 64, 0), 0);
	CHECK_EQ(taken, 0);
	pc_ipfix_msgs_destroy(b);
	/* the PEN rule holds here too */
	o.fields = CAPTURE_FIELD_COMMUNITY_ID;
	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)),
		 -CAPTURE_E_TARGET);
	pc_ipfix_msgs_destroy(NULL);
}

/* Send failures come with what to do about them. */
static void test_hints(void)
{
	struct nf_io io;
	char b[160];

	memset(&io, 0, sizeof(io));
	io.serr.msgsize_len = 9000;
	CHECK_STR(pc_nf_send_hint(&io, EMSGSIZE, b, sizeof(b)),
		  "; a 9000-byte datagram is larger than the path to the collector takes: lower "
		  "--mtu");
	CHECK_STR(pc_nf_send_hint(&io, ENOBUFS, b, sizeof(b)),
		  "; a send queue on the way out (the socket's, or the interface's qdisc or "
		  "device queue) is full and datagrams are dropped: lower --export-rate, or "
		  "raise net.core.wmem_default or the interface's txqueuelen");
	CHECK_STR(pc_nf_send_hint(&io, ECONNREFUSED, b, sizeof(b)), "");
}

/* ------------------------------------------------------------------ app, tcp, payload, geo */

#define SET(f, field, v) snprintf((f)->field, sizeof((f)->field), "%s", (v))
#define L7_FIELDS \
	(CAPTURE_FIELD_APP | CAPTURE_FIELD_TCP | CAPTURE_FIELD_PAYLOAD | CAPTURE_FIELD_GEO)

/* TLS over TCP with every application, health and GeoIP field known. */
static void flow_tls(struct capture_flow *f)
{
	flow_v4(f);
	f->proto = 6;
	f->src_port = 40000;
	f->dst_port = 443;
	f->first_ns = f->fwd_first_ns = 1700000000000000000ull;
	f->last_ns = f->rev_last_ns = 1700000001000000000ull;
	f->fwd_last_ns = 1700000000900000000ull;
	f->rev_first_ns = 1700000000001500000ull;
	f->l7_flags = CAPTURE_L7_APP | CAPTURE_L7_TLS | CAPTURE_L7_TLS_SERVER |
		      CAPTURE_L7_TLS_VERSION | CAPTURE_L7_TCP | CAPTURE_L7_RTT |
		      CAPTURE_L7_GEO_SRC | CAPTURE_L7_GEO_DST | CAPTURE_L7_ASN_SRC |
		      CAPTURE_L7_ASN_DST;
	f->app_id = 124;
	f->app_master_id = 91;
	f->dpi_confidence = CAPTURE_DPI_DPI;
	SET(f, app, "TLS.YouTube");
	SET(f, app_category, "Media");
	SET(f, tls_sni, "www.youtube.com");
	SET(f, tls_alpn, "h2");
	SET(f, ja4, "t13d1516h2_8daaf6152771_02713d6af862");
	SET(f, ja3, "e7d705a3286e19ea42f587b344ee6865");
	f->tls_version = 0x0304;
	f->conn_state = CAPTURE_CONN_SF;
	SET(f, history, "ShADadFf");
	f->rtt_us = 1500;
	f->rtt_syn_us = 1000;
	f->retrans_packets = 2;
	f->rev_retrans_packets = 1;
	f->retrans_bytes = 2000;
	f->rev_retrans_bytes = 100;
	f->ooo_packets = 1;
	f->rev_zero_win = 3;
	f->payload_bytes = 5000;
	f->rev_payload_bytes = 60000;
	f->src_asn = 64496;
	f->dst_asn = 64511;
	SET(f, src_country, "SE");
	SET(f, dst_country, "US");
	SET(f, src_as_org, "Example Net");
	SET(f, dst_as_org, "Documentation AS");
}

/* A DNS question over IPv6 and its answer. */
static void flow_dns(struct capture_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->ip_version = 6;
	f->proto = 17;
	inet_pton(AF_INET6, "2001:db8::1", f->src_ip);
	inet_pton(AF_INET6, "2001:db8::53", f->dst_ip);
	f->src_port = 5353;
	f->dst_port = 53;
	f->packets = f->rev_packets = 1;
	f->bytes = 77;
	f->rev_bytes = 93;
	f->first_ns = f->fwd_first_ns = f->fwd_last_ns = 1700000002000000000ull;
	f->last_ns = f->rev_first_ns = f->rev_last_ns = 1700000002000400000ull;
	f->l7_flags = CAPTURE_L7_DNS | CAPTURE_L7_DNS_RESPONSE;
	SET(f, dns_qname, "example.org");
	f->dns_qtype = 28;
	f->dns_rcode = 3;
	f->dns_answers = 0;
	f->payload_bytes = 29;
	f->rev_payload_bytes = 45;
}

/* An HTTP request and its response; no nDPI verdict. */
static void flow_http(struct capture_flow *f)
{
	flow_tls(f);
	f->src_port = 40001;
	f->dst_port = 80;
	f->l7_flags = CAPTURE_L7_HTTP | CAPTURE_L7_HTTP_RESPONSE | CAPTURE_L7_TCP;
	SET(f, http_method, "GET");
	SET(f, http_host, "www.example.com");
	SET(f, http_url, "/index.html?q=1");
	SET(f, http_user_agent, "curl/7.88.1");
	f->http_status = 404;
	f->conn_state = CAPTURE_CONN_RSTR;
	SET(f, history, "ShADdr");
}

/* The value of field @k of a record with variable-length fields. */
static const uint8_t *at_v(const struct nf_field *fl, size_t k, const uint8_t *rec)
{
	size_t i, off = 0;

	for (i = 0; i < k; i++)
		off += fl[i].len == NF_VARLEN ? 1u + rec[off] : fl[i].len;
	return rec + off;
}

/* Field (@pen, @id) of @rec is the string @s (length octet, then the bytes). */
static bool str_is(const struct nf_field *fl, size_t n, uint32_t pen, uint16_t id,
		   const uint8_t *rec, const char *s)
{
	size_t k = find(fl, n, pen, id);
	const uint8_t *p;

	if (k == (size_t)-1 || fl[k].len != NF_VARLEN)
		return false;
	p = at_v(fl, k, rec);
	return p[0] == strlen(s) && !memcmp(p + 1, s, p[0]);
}

static uint64_t num(const struct nf_field *fl, size_t n, uint32_t pen, uint16_t id,
		    const uint8_t *rec)
{
	size_t k = find(fl, n, pen, id), i;
	const uint8_t *p;
	uint64_t v = 0;

	if (k == (size_t)-1)
		return UINT64_MAX;
	p = at_v(fl, k, rec);
	for (i = 0; i < fl[k].len; i++)
		v = v << 8 | p[i];
	return v;
}

static void test_l7_layouts(void)
{
	struct nf_layout l = {
		.version = 10, .ipver = 4, .bi = true, .fields = L7_FIELDS, .pen = 32473
	};
	struct nf_field fl[NF_MAX_FIELDS];
	struct capture_flow f;
	size_t n;

	/* no section known: only the payload octets join the default record */
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 22);
	CHECK(!pc_nf_has_varlen(fl, n));
	/* which sections a flow has */
	flow_tls(&f);
	CHECK_EQ(pc_nf_sections(L7_FIELDS, &f),
		 NF_SEC_APP | NF_SEC_TLS | NF_SEC_TLSV | NF_SEC_TCP | NF_SEC_RTT | NF_SEC_GEO);
	CHECK_EQ(pc_nf_sections(CAPTURE_FIELD_TCP | CAPTURE_FIELD_GEO, &f),
		 NF_SEC_TCP | NF_SEC_RTT | NF_SEC_GEO);
	CHECK_EQ(pc_nf_sections(CAPTURE_FIELD_PAYLOAD | CAPTURE_FIELD_MAC, &f), 0);
	flow_http(&f);
	CHECK_EQ(pc_nf_sections(L7_FIELDS, &f), NF_SEC_HTTP | NF_SEC_HTTPR | NF_SEC_TCP);
	flow_dns(&f);
	f.l7_flags &= ~CAPTURE_L7_DNS_RESPONSE; /* unanswered */
	CHECK_EQ(pc_nf_sections(L7_FIELDS, &f), NF_SEC_DNS);
	flow_v4(&f);
	CHECK_EQ(pc_nf_sections(CAPTURE_FIELD_ALL, &f), 0);

	/* HTTP: the IANA elements, strings of variable length */
	l.sec = NF_SEC_HTTP | NF_SEC_HTTPR;
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 22 + 5);
	CHECK_EQ(fl[find(fl, n, 0, 459)].len, NF_VARLEN);
	CHECK_EQ(fl[find(fl, n, 0, 460)].len, NF_VARLEN);
	CHECK_EQ(fl[find(fl, n, 0, 461)].len, NF_VARLEN);
	CHECK_EQ(fl[find(fl, n, 0, 468)].len, NF_VARLEN);
	CHECK_EQ(fl[find(fl, n, 0, 457)].len, 2);
	CHECK(find(fl, n, 0, 95) == (size_t)-1);
	/* TCP health: reverse twins (RFC 5103 6.2 bit) first; none in uniflow */
	l.sec = NF_SEC_TCP;
	n = pc_nf_layout(&l, fl);
	CHECK(find(fl, n, 32473, NF_IE_RETRANS_OCTETS | NF_REVERSE_BIT) <
	      find(fl, n, 32473, NF_IE_RETRANS_OCTETS));
	CHECK(find(fl, n, 32473, NF_IE_RTT_US) == (size_t)-1);
	l.bi = false;
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 15 + 1 + 6); /* uniflow default, payload, health */
	/* the largest record of all: IPv6 in IPv6, every group, every section, every
	 * string at its longest; it fits the default MTU of 1400 */
	l = (struct nf_layout){ .version = 10,
				.ipver = 6,
				.outer = 6,
				.bi = true,
				.fields = CAPTURE_FIELD_ALL,
				.pen = 32473,
				.sec = NF_SEC_ALL };
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 77);
	CHECK_EQ(pc_nf_rec_len(fl, n), 1291);
}

static void test_l7_encode(void)
{
	struct nf_layout l = {
		.version = 10, .ipver = 4, .bi = true, .fields = L7_FIELDS, .pen = 32473
	};
	struct nf_field fl[NF_MAX_FIELDS];
	struct capture_flow f;
	struct nf_uni v[2];
	struct nf_enc enc = { .scale = 1 };
	uint8_t rec[1400], *end;
	size_t n;

	flow_tls(&f);
	l.sec = pc_nf_sections(l.fields, &f);
	n = pc_nf_layout(&l, fl);
	pc_nf_bi_views(&f, v);
	end = pc_nf_encode(rec, fl, n, &f, &v[0], &v[1], &enc);
	CHECK_EQ(end - rec, pc_nf_flow_len(fl, n, &f, &v[0]));
	CHECK(pc_nf_flow_len(fl, n, &f, &v[0]) < pc_nf_rec_len(fl, n));
	/* applicationId: engine 20 (PANA-L7-PEN), ntop's PEN 35632, nDPI id 124 */
	CHECK(!memcmp(at_v(fl, find(fl, n, 0, 95), rec), "\x14\x00\x00\x8b\x30\x00\x7c", 7));
	CHECK(str_is(fl, n, 0, 96, rec, "TLS.YouTube"));
	CHECK(str_is(fl, n, 32473, NF_IE_APP_CATEGORY, rec, "Media"));
	CHECK(str_is(fl, n, 32473, NF_IE_DPI_CONFIDENCE, rec, "dpi"));
	CHECK(str_is(fl, n, 32473, NF_IE_TLS_SNI, rec, "www.youtube.com"));
	CHECK(str_is(fl, n, 32473, NF_IE_TLS_ALPN, rec, "h2"));
	CHECK(str_is(fl, n, 32473, NF_IE_JA4, rec, "t13d1516h2_8daaf6152771_02713d6af862"));
	CHECK(str_is(fl, n, 32473, NF_IE_JA3, rec, "e7d705a3286e19ea42f587b344ee6865"));
	CHECK_EQ(num(fl, n, 32473, NF_IE_TLS_VERSION, rec), 0x0304);
	CHECK(str_is(fl, n, 32473, NF_IE_CONN_STATE, rec, "SF"));
	CHECK(str_is(fl, n, 32473, NF_IE_HISTORY, rec, "ShADadFf"));
	CHECK_EQ(num(fl, n, 32473, NF_IE_RETRANS_PACKETS, rec), 2);
	CHECK_EQ(num(fl, n, 32473, NF_IE_RETRANS_PACKETS | NF_REVERSE_BIT, rec), 1);
	CHECK_EQ(num(fl, n, 32473, NF_IE_RETRANS_OCTETS, rec), 2000);
	CHECK_EQ(num(fl, n, 32473, NF_IE_RETRANS_OCTETS | NF_REVERSE_BIT, rec), 100);
	CHECK_EQ(num(fl, n, 32473, NF_IE_OOO_PACKETS, rec), 1);
	CHECK_EQ(num(fl, n, 32473, NF_IE_ZERO_WINDOW | NF_REVERSE_BIT, rec), 3);
	CHECK_EQ(num(fl, n, 32473, NF_IE_RTT_US, rec), 1500);
	CHECK_EQ(num(fl, n, 32473, NF_IE_RTT_SYN_US, rec), 1000);
	CHECK_EQ(num(fl, n, 0, 401, rec), 5000);
	CHECK_EQ(num(fl, n, 29305, 401, rec), 60000);
	CHECK_EQ(num(fl, n, 0, 16, rec), 64496);
	CHECK_EQ(num(fl, n, 0, 17, rec), 64511);
	CHECK(str_is(fl, n, 32473, NF_IE_SRC_COUNTRY, rec, "SE"));
	CHECK(str_is(fl, n, 32473, NF_IE_DST_AS_ORG, rec, "Documentation AS"));
	/* the default record's end is still where it was (flowEndMilliseconds) */
	CHECK_EQ(num(fl, n, 0, 153, rec), 1700000001000ull);

	/* uniflow, the dst -> src record: its own counters, the sides swapped */
	l.bi = false;
	n = pc_nf_layout(&l, fl);
	pc_nf_dirs(&f, v);
	end = pc_nf_encode(rec, fl, n, &f, &v[1], &v[1], &enc);
	CHECK_EQ(end - rec, pc_nf_flow_len(fl, n, &f, &v[1]));
	CHECK_EQ(num(fl, n, 0, 401, rec), 60000);
	CHECK_EQ(num(fl, n, 32473, NF_IE_RETRANS_PACKETS, rec), 1);
	CHECK_EQ(num(fl, n, 32473, NF_IE_ZERO_WINDOW, rec), 3);
	CHECK_EQ(num(fl, n, 0, 16, rec), 64511);
	CHECK(str_is(fl, n, 32473, NF_IE_SRC_COUNTRY, rec, "US"));
	CHECK(str_is(fl, n, 32473, NF_IE_DST_AS_ORG, rec, "Example Net"));
	CHECK(str_is(fl, n, 32473, NF_IE_CONN_STATE, rec, "SF")); /* the flow's */

	/* a string not sent is empty (length 0), a name out of range too; a side
	 * without an AS is AS 0 (RFC 7607) */
	f.tls_sni[0] = 0;
	f.dpi_confidence = 200;
	f.l7_flags &= ~CAPTURE_L7_ASN_DST;
	end = pc_nf_encode(rec, fl, n, &f, &v[0], &v[0], &enc);
	CHECK_EQ(end - rec, pc_nf_flow_len(fl, n, &f, &v[0]));
	CHECK(str_is(fl, n, 32473, NF_IE_TLS_SNI, rec, ""));
	CHECK(str_is(fl, n, 32473, NF_IE_DPI_CONFIDENCE, rec, ""));
	CHECK_EQ(num(fl, n, 0, 17, rec), 0);
	/* a string at its array's size is cut at size - 1 */
	memset(f.http_host, 'a', sizeof(f.http_host));
	f.l7_flags |= CAPTURE_L7_HTTP;
	l.sec = NF_SEC_HTTP;
	n = pc_nf_layout(&l, fl);
	end = pc_nf_encode(rec, fl, n, &f, &v[0], &v[0], &enc);
	CHECK_EQ(*at_v(fl, find(fl, n, 0, 460), rec), CAPTURE_NAME_LEN - 1);
	CHECK_EQ(end - rec, pc_nf_flow_len(fl, n, &f, &v[0]));
}

/* NetFlow v9: fixed-length IANA elements only, 0 where unknown. */
static void test_l7_v9(void)
{
	struct nf_layout l = { .version = 9, .ipver = 4, .fields = L7_FIELDS, .pen = 32473 };
	struct nf_field fl[NF_MAX_FIELDS];
	struct capture_flow f;
	struct nf_uni u[2];
	struct nf_enc enc = { .scale = 1 };
	uint8_t rec[512], *end;
	size_t n = pc_nf_layout(&l, fl);

	CHECK_EQ(n, 15 + 5);
	CHECK(!pc_nf_has_varlen(fl, n));
	flow_tls(&f);
	pc_nf_dirs(&f, u);
	end = pc_nf_encode(rec, fl, n, &f, &u[1], &u[1], &enc);
	CHECK_EQ(end - rec, pc_nf_rec_len(fl, n));
	CHECK(!memcmp(at(fl, find(fl, n, 0, 95), rec), "\x14\x00\x00\x8b\x30\x00\x7c", 7));
	CHECK(!memcmp(at(fl, find(fl, n, 0, 457), rec), "\0\0", 2));	    /* no response */
	CHECK(!memcmp(at(fl, find(fl, n, 0, 16), rec), "\0\0\xfb\xff", 4)); /* 64511 */
	CHECK(!memcmp(at(fl, find(fl, n, 0, 401), rec), "\0\0\0\0\0\0\xea\x60", 8));
	flow_v4(&f); /* nothing known */
	pc_nf_dirs(&f, u);
	pc_nf_encode(rec, fl, n, &f, &u[0], &u[0], &enc);
	CHECK(!memcmp(at(fl, find(fl, n, 0, 95), rec), "\x14\x00\x00\x8b\x30\0\0", 7));
	CHECK(!memcmp(at(fl, find(fl, n, 0, 17), rec), "\0\0\0\0", 4));
}

/* The sets of an IPFIX message: @ids gets their ids in order; returns how many. */
static size_t sets(const uint8_t *m, size_t len, unsigned *ids, size_t max)
{
	size_t off = 16, n = 0;

	while (off + 4 <= len && n < max) {
		unsigned sl = be16(m + off + 2);

		if (sl < 4 || off + sl > len)
			break;
		ids[n++] = be16(m + off);
		off += sl;
	}
	CHECK_EQ(off, len);
	return n;
}

/* A flow with sections gets a template of its own, made when first needed, sent ahead
 * of the records; every later message carries it too. */
static void test_l7_messages(void)
{
	struct capture_export_opts o = { .sz = sizeof(o), .fields = L7_FIELDS, .ipfix_pen = 32473 };
	struct pc_export_target t;
	struct pc_ipfix_msgs *b = NULL;
	struct capture_flow f[4];
	uint8_t buf[4096];
	char err[256];
	size_t len, taken;
	unsigned ids[16];

	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)), 0);
	CHECK_EQ(pc_ipfix_msgs_create(&b, &t, err, sizeof(err)), 0);
	flow_v4(&f[0]);
	flow_tls(&f[1]);
	flow_dns(&f[2]);
	flow_tls(&f[3]); /* the same sections as f[1]: the same template */
	len = pc_ipfix_msgs_build(b, f, 4, &taken, buf, sizeof(buf), 0);
	CHECK_EQ(taken, 4);
	/* templates 256/257, statistics (set 3), templates 270/271; then data */
	CHECK_EQ(sets(buf, len, ids, 16), 7);
	CHECK(ids[0] == 2 && ids[1] == 3 && ids[2] == 2);
	CHECK(ids[3] == 256 && ids[4] == 270 && ids[5] == 271 && ids[6] == 270);
	len = pc_ipfix_msgs_build(b, f + 1, 1, &taken, buf, sizeof(buf), 0);
	CHECK_EQ(sets(buf, len, ids, 16), 4);
	CHECK(ids[2] == 2 && ids[3] == 270);
	pc_ipfix_msgs_destroy(b);
	/* without a PEN the groups with jcap's elements are refused; payload is IANA's */
	o.ipfix_pen = 0;
	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)),
		 -CAPTURE_E_TARGET);
	CHECK(strstr(err, "the fields tunnel, community_id, app, tcp and geo use jcap's own IPFIX "
			  "elements: give an enterprise number (--ipfix-pen N)") != NULL);
	o.fields = CAPTURE_FIELD_PAYLOAD;
	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)), 0);
	CHECK_EQ(pc_ipfix_msgs_create(&b, &t, err, sizeof(err)), 0);
	pc_ipfix_msgs_destroy(b);
}

/* --write-ipfix PATH: the four flows above through the IPFIX file exporter, --fields
 * all under PEN 32473, for the decoders of tests/integration/test_export_fields.py. */
static int write_ipfix(const char *path, bool uniflow)
{
	struct capture_export_opts o = {
		.sz = sizeof(o), .fields = CAPTURE_FIELD_ALL, .ipfix_pen = 32473, .uniflow = uniflow
	};
	struct pc_export_target t;
	struct pc_exporter *e = NULL;
	struct capture_flow f[4];
	char spec[600], err[256];
	int rc;

	snprintf(spec, sizeof(spec), "ipfix-file:%s", path);
	flow_tls(&f[0]);
	flow_dns(&f[1]);
	flow_http(&f[2]);
	flow_v4(&f[3]);
	f[3].first_ns = f[3].fwd_first_ns = f[3].rev_first_ns = 1700000003000000000ull;
	f[3].last_ns = f[3].fwd_last_ns = f[3].rev_last_ns = 1700000003000000000ull;
	f[3].payload_bytes = 216;
	f[3].rev_payload_bytes = 144;
	rc = pc_export_parse(spec, &o, &t, err, sizeof(err));
	if (!rc)
		rc = pc_exporter_create(&e, &t, NULL, NULL, 0, NULL, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = e->ops->write(e, f, 4);
	pc_exporter_destroy(e);
	return rc == 4 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write-ipfix"))
		return write_ipfix(argv[2], false);
	if (argc == 3 && !strcmp(argv[1], "--write-ipfix-uniflow"))
		return write_ipfix(argv[2], true);
	test_hints();
	test_l7_layouts();
	test_l7_encode();
	test_l7_v9();
	test_l7_messages();
	test_parse();
	test_layouts();
	test_encode();
	test_messages();
	return check_finish("nf_fields");
}
