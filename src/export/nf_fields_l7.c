/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --fields groups app, tcp, payload and geo of the v9 and IPFIX exporters: IANA
 * elements where they exist (applicationId/Name, HTTP, BGP AS numbers, transport
 * octets), jcap's own under the user's PEN otherwise. Strings are variable-length
 * (RFC 7011 7) and only IPFIX carries them; an IPFIX template holds only the parts
 * (enum nf_section) that the flow has known, so nothing unknown is sent as data.
 */
#include <string.h>

#include "export/nf_fields.h"

#define IE_BGP_SRC_AS 16
#define IE_BGP_DST_AS 17
#define IE_APP_ID 95
#define IE_APP_NAME 96
#define IE_TRANSPORT_OCTETS 401 /* transportOctetDeltaCount: L4 payload */
#define IE_HTTP_STATUS 457
#define IE_HTTP_METHOD 459
#define IE_HTTP_HOST 460
#define IE_HTTP_TARGET 461
#define IE_HTTP_UA 468

#define LABEL_LEN 8 /* array size that holds a confidence or state name */

struct l7b {
	struct nf_field *f;
	size_t n;
	uint32_t pen; /* 0: IPFIX without one, or v9: no enterprise elements */
	bool v9;
};

static void add(struct l7b *b, uint16_t id, uint16_t len, uint32_t pen, uint8_t val)
{
	if (b->n < NF_MAX_FIELDS)
		b->f[b->n++] = (struct nf_field){ .id = id, .len = len, .pen = pen, .val = val };
}

/* An element of jcap's (or its RFC 5103 reverse): only IPFIX with a PEN has them. */
static void ent(struct l7b *b, uint16_t id, uint16_t len, uint8_t val)
{
	if (b->pen && !b->v9)
		add(b, id, len, b->pen, val);
}

/* A string: IPFIX only, as a variable-length element. */
static void str(struct l7b *b, uint16_t id, uint32_t pen, uint8_t val)
{
	if (!b->v9 && pen)
		add(b, id, NF_VARLEN, pen, val);
}

static void app_layout(struct l7b *b, uint32_t sec)
{
	if (sec & NF_SEC_APP) {
		add(b, IE_APP_ID, NF_APPID_LEN, 0, NV_APP_ID);
		if (!b->v9)
			add(b, IE_APP_NAME, NF_VARLEN, 0, NV_APP_NAME);
		str(b, NF_IE_APP_CATEGORY, b->pen, NV_APP_CAT);
		str(b, NF_IE_DPI_CONFIDENCE, b->pen, NV_DPI_CONF);
	}
	if (sec & NF_SEC_TLS) {
		str(b, NF_IE_TLS_SNI, b->pen, NV_TLS_SNI);
		str(b, NF_IE_TLS_ALPN, b->pen, NV_TLS_ALPN);
		str(b, NF_IE_JA4, b->pen, NV_JA4);
		str(b, NF_IE_JA3, b->pen, NV_JA3);
	}
	if (sec & NF_SEC_TLSV)
		ent(b, NF_IE_TLS_VERSION, 2, NV_TLS_VER);
	if (sec & NF_SEC_DNS) {
		str(b, NF_IE_DNS_QNAME, b->pen, NV_DNS_QNAME);
		ent(b, NF_IE_DNS_QTYPE, 2, NV_DNS_QTYPE);
	}
	if (sec & NF_SEC_DNSR) {
		ent(b, NF_IE_DNS_RCODE, 1, NV_DNS_RCODE);
		ent(b, NF_IE_DNS_ANSWERS, 2, NV_DNS_ANS);
	}
	if ((sec & NF_SEC_HTTP) && !b->v9) {
		add(b, IE_HTTP_METHOD, NF_VARLEN, 0, NV_HTTP_METHOD);
		add(b, IE_HTTP_HOST, NF_VARLEN, 0, NV_HTTP_HOST);
		add(b, IE_HTTP_TARGET, NF_VARLEN, 0, NV_HTTP_URL);
		add(b, IE_HTTP_UA, NF_VARLEN, 0, NV_HTTP_UA);
	}
	if (sec & NF_SEC_HTTPR)
		add(b, IE_HTTP_STATUS, 2, 0, NV_HTTP_STATUS);
}

static void tcp_layout(struct l7b *b, uint32_t sec, bool bi)
{
	if (sec & NF_SEC_TCP) {
		if (bi) { /* reverse twins first, as in nf_fields.c */
			ent(b, NF_IE_RETRANS_PACKETS | NF_REVERSE_BIT, 4, NV_RRETR_PKTS);
			ent(b, NF_IE_RETRANS_OCTETS | NF_REVERSE_BIT, 8, NV_RRETR_BYTES);
			ent(b, NF_IE_OOO_PACKETS | NF_REVERSE_BIT, 4, NV_ROOO);
			ent(b, NF_IE_ZERO_WINDOW | NF_REVERSE_BIT, 4, NV_RZWIN);
		}
		str(b, NF_IE_CONN_STATE, b->pen, NV_CONN_STATE);
		str(b, NF_IE_HISTORY, b->pen, NV_HISTORY);
		ent(b, NF_IE_RETRANS_PACKETS, 4, NV_RETR_PKTS);
		ent(b, NF_IE_RETRANS_OCTETS, 8, NV_RETR_BYTES);
		ent(b, NF_IE_OOO_PACKETS, 4, NV_OOO);
		ent(b, NF_IE_ZERO_WINDOW, 4, NV_ZWIN);
	}
	if (sec & NF_SEC_RTT) {
		ent(b, NF_IE_RTT_US, 4, NV_RTT);
		ent(b, NF_IE_RTT_SYN_US, 4, NV_RTT_SYN);
	}
}

size_t pc_nf_l7_layout(const struct nf_layout *l, struct nf_field *out, size_t n)
{
	struct l7b b = { .f = out, .n = n, .pen = l->pen, .v9 = l->version == 9 };
	uint32_t fs = l->fields, sec = b.v9 ? NF_SEC_ALL : l->sec;

	if (fs & CAPTURE_FIELD_PAYLOAD) {
		if (l->bi)
			add(&b, IE_TRANSPORT_OCTETS, 8, NF_PEN_REVERSE, NV_RPAYLOAD);
		add(&b, IE_TRANSPORT_OCTETS, 8, 0, NV_PAYLOAD);
	}
	if (fs & CAPTURE_FIELD_APP)
		app_layout(&b, sec);
	if (fs & CAPTURE_FIELD_TCP)
		tcp_layout(&b, sec, l->bi);
	if ((fs & CAPTURE_FIELD_GEO) && (sec & NF_SEC_GEO)) {
		add(&b, IE_BGP_SRC_AS, 4, 0, NV_SRC_ASN);
		add(&b, IE_BGP_DST_AS, 4, 0, NV_DST_ASN);
		str(&b, NF_IE_SRC_COUNTRY, b.pen, NV_SRC_CC);
		str(&b, NF_IE_DST_COUNTRY, b.pen, NV_DST_CC);
		str(&b, NF_IE_SRC_AS_ORG, b.pen, NV_SRC_ORG);
		str(&b, NF_IE_DST_AS_ORG, b.pen, NV_DST_ORG);
	}
	return b.n;
}

uint32_t pc_nf_sections(uint32_t fields, const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags, s = 0;

	if (fields & CAPTURE_FIELD_APP) {
		s |= fl & CAPTURE_L7_APP ? NF_SEC_APP : 0;
		s |= fl & (CAPTURE_L7_TLS | CAPTURE_L7_TLS_SERVER | CAPTURE_L7_QUIC) ? NF_SEC_TLS
										     : 0;
		s |= fl & CAPTURE_L7_TLS_VERSION ? NF_SEC_TLSV : 0;
		s |= fl & CAPTURE_L7_DNS ? NF_SEC_DNS : 0;
		s |= fl & CAPTURE_L7_DNS_RESPONSE ? NF_SEC_DNSR : 0;
		s |= fl & CAPTURE_L7_HTTP ? NF_SEC_HTTP : 0;
		s |= fl & CAPTURE_L7_HTTP_RESPONSE ? NF_SEC_HTTPR : 0;
	}
	if (fields & CAPTURE_FIELD_TCP) {
		s |= fl & CAPTURE_L7_TCP ? NF_SEC_TCP : 0;
		s |= fl & CAPTURE_L7_RTT ? NF_SEC_RTT : 0;
	}
	if ((fields & CAPTURE_FIELD_GEO) && (fl & (CAPTURE_L7_GEO_SRC | CAPTURE_L7_GEO_DST |
						   CAPTURE_L7_ASN_SRC | CAPTURE_L7_ASN_DST)))
		s |= NF_SEC_GEO;
	return s;
}

/* A uniflow or v9 record of the dst -> src direction: its source is the flow's dst. */
static bool is_rev(const struct capture_flow *f, const struct nf_uni *u)
{
	return u->src == f->dst_ip;
}

static const char *name_or_empty(const char *s)
{
	return s ? s : "";
}

/* The string of @val for a record of direction @rev; @max: its array size. */
static const char *str_of(uint8_t val, const struct capture_flow *f, bool rev, size_t *max)
{
	bool src = (val == NV_SRC_CC || val == NV_SRC_ORG) != rev;

	*max = CAPTURE_NAME_LEN;
	switch (val) {
	case NV_APP_NAME:
		*max = sizeof(f->app);
		return f->app;
	case NV_APP_CAT:
		*max = sizeof(f->app_category);
		return f->app_category;
	case NV_DPI_CONF: /* the longest is "unknown" */
		*max = LABEL_LEN;
		return name_or_empty(capture_dpi_confidence_name(f->dpi_confidence));
	case NV_TLS_SNI:
		return f->tls_sni;
	case NV_TLS_ALPN:
		*max = sizeof(f->tls_alpn);
		return f->tls_alpn;
	case NV_JA4:
		*max = sizeof(f->ja4);
		return f->ja4;
	case NV_JA3:
		*max = sizeof(f->ja3);
		return f->ja3;
	case NV_DNS_QNAME:
		return f->dns_qname;
	case NV_HTTP_METHOD:
		*max = sizeof(f->http_method);
		return f->http_method;
	case NV_HTTP_HOST:
		return f->http_host;
	case NV_HTTP_URL:
		return f->http_url;
	case NV_HTTP_UA:
		return f->http_user_agent;
	case NV_CONN_STATE: /* the longest is "RSTOS0" */
		*max = LABEL_LEN;
		return name_or_empty(capture_conn_state_name(f->conn_state));
	case NV_HISTORY:
		*max = sizeof(f->history);
		return f->history;
	case NV_SRC_CC:
	case NV_DST_CC:
		*max = sizeof(f->src_country);
		return src ? f->src_country : f->dst_country;
	case NV_SRC_ORG:
	case NV_DST_ORG:
		*max = sizeof(f->src_as_org);
		return src ? f->src_as_org : f->dst_as_org;
	default:
		*max = 1;
		return "";
	}
}

size_t pc_nf_l7_varmax(const struct nf_field *fd)
{
	static const struct capture_flow any;
	size_t max = 1;

	str_of(fd->val, &any, false, &max);
	return 1 + (max - 1); /* one length octet: every string is under 255 */
}

size_t pc_nf_l7_varlen(const struct nf_field *fd, const struct capture_flow *f,
		       const struct nf_uni *fw)
{
	size_t max = 1;
	const char *s = str_of(fd->val, f, is_rev(f, fw), &max);

	return 1 + strnlen(s, max - 1);
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t max)
{
	size_t n = strnlen(s, max - 1);

	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

static uint32_t asn(const struct capture_flow *f, bool src)
{
	if (src)
		return f->l7_flags & CAPTURE_L7_ASN_SRC ? f->src_asn : 0;
	return f->l7_flags & CAPTURE_L7_ASN_DST ? f->dst_asn : 0;
}

/* The per-direction counters of @f for direction @rev. */
static uint8_t *put_dir(uint8_t *p, uint8_t val, const struct capture_flow *f, bool rev)
{
	switch (val) {
	case NV_RETR_PKTS:
		return nf_put32(p, rev ? f->rev_retrans_packets : f->retrans_packets);
	case NV_RETR_BYTES:
		return nf_put64(p, rev ? f->rev_retrans_bytes : f->retrans_bytes);
	case NV_OOO:
		return nf_put32(p, rev ? f->rev_ooo_packets : f->ooo_packets);
	case NV_ZWIN:
		return nf_put32(p, rev ? f->rev_zero_win : f->zero_win);
	default: /* NV_PAYLOAD */
		return nf_put64(p, rev ? f->rev_payload_bytes : f->payload_bytes);
	}
}

uint8_t *pc_nf_l7_put(uint8_t *p, const struct nf_field *fd, const struct capture_flow *f,
		      const struct nf_uni *fw, const struct nf_uni *rv)
{
	bool rev = is_rev(f, fw);
	size_t max = 1;

	if (fd->len == NF_VARLEN) {
		const char *s = str_of(fd->val, f, rev, &max);

		return put_str(p, s, max);
	}
	switch (fd->val) {
	case NV_APP_ID:
		p = nf_put8(p, NF_APPID_ENGINE);
		p = nf_put32(p, NF_APPID_PEN);
		return nf_put16(p, f->l7_flags & CAPTURE_L7_APP ? f->app_id : 0);
	case NV_TLS_VER:
		return nf_put16(p, f->tls_version);
	case NV_DNS_QTYPE:
		return nf_put16(p, f->dns_qtype);
	case NV_DNS_RCODE:
		return nf_put8(p, f->dns_rcode);
	case NV_DNS_ANS:
		return nf_put16(p, f->dns_answers);
	case NV_HTTP_STATUS:
		return nf_put16(p, f->l7_flags & CAPTURE_L7_HTTP_RESPONSE ? f->http_status : 0);
	case NV_RETR_PKTS:
	case NV_RETR_BYTES:
	case NV_OOO:
	case NV_ZWIN:
	case NV_PAYLOAD:
		return put_dir(p, fd->val, f, rev);
	case NV_RRETR_PKTS:
	case NV_RRETR_BYTES:
	case NV_ROOO:
	case NV_RZWIN:
		return put_dir(p, (uint8_t)(fd->val - NV_RRETR_PKTS + NV_RETR_PKTS), f,
			       is_rev(f, rv));
	case NV_RPAYLOAD:
		return put_dir(p, NV_PAYLOAD, f, is_rev(f, rv));
	case NV_RTT:
		return nf_put32(p, f->rtt_us);
	case NV_RTT_SYN:
		return nf_put32(p, f->rtt_syn_us);
	case NV_SRC_ASN:
		return nf_put32(p, asn(f, !rev));
	case NV_DST_ASN:
		return nf_put32(p, asn(f, rev));
	default:
		memset(p, 0, fd->len);
		return p + fd->len;
	}
}
