/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Record layouts of the NetFlow v9 and IPFIX exporters: which information elements a
 * template carries (the default record plus the --fields groups asked for) and the one
 * encoder that writes a record in exactly that order. IANA elements where they exist;
 * jcap's own elements (tunnel, outer addresses, Community ID; TLS, DNS, TCP health, GeoIP
 * names: nf_fields_l7.c) under the user's PEN.
 */
#ifndef PC_NF_FIELDS_H
#define PC_NF_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/nf_common.h"

#define NF_PEN_REVERSE 29305u /* RFC 5103 reverse elements */
#define NF_REVERSE_BIT 0x4000 /* RFC 5103 6.2: reverse of an enterprise element */
#define NF_MAX_FIELDS 96
#define NF_VARLEN 0xffff /* RFC 7011 7: variable-length element in a template */
#define NF_CID_LEN 30	 /* "1:" + base64 of a SHA-1 */

/* jcap's own elements, under capture_export_opts.ipfix_pen (docs/ipfix/jcap-elements.xml) */
enum nf_jcap_ie {
	NF_IE_TUNNEL_TYPE = 1,
	NF_IE_TUNNEL_ID = 2,
	NF_IE_OUTER_SRC4 = 3,
	NF_IE_OUTER_DST4 = 4,
	NF_IE_OUTER_SRC6 = 5,
	NF_IE_OUTER_DST6 = 6,
	NF_IE_COMMUNITY_ID = 7,
	NF_IE_APP_CATEGORY = 8,
	NF_IE_DPI_CONFIDENCE = 9,
	NF_IE_TLS_SNI = 10,
	NF_IE_TLS_ALPN = 11,
	NF_IE_TLS_VERSION = 12,
	NF_IE_JA4 = 13,
	NF_IE_JA3 = 14,
	NF_IE_DNS_QNAME = 15,
	NF_IE_DNS_QTYPE = 16,
	NF_IE_DNS_RCODE = 17,
	NF_IE_DNS_ANSWERS = 18,
	NF_IE_CONN_STATE = 19,
	NF_IE_HISTORY = 20,
	NF_IE_RETRANS_PACKETS = 21,
	NF_IE_RETRANS_OCTETS = 22,
	NF_IE_OOO_PACKETS = 23,
	NF_IE_ZERO_WINDOW = 24,
	NF_IE_RTT_US = 25,
	NF_IE_RTT_SYN_US = 26,
	NF_IE_SRC_COUNTRY = 27,
	NF_IE_DST_COUNTRY = 28,
	NF_IE_SRC_AS_ORG = 29,
	NF_IE_DST_AS_ORG = 30,
};

/* applicationId (95): RFC 6759 classification engine 20 (PANA-L7-PEN), ntop's
 * enterprise number (whose nDPI assigns the ids), the nDPI protocol id. */
#define NF_APPID_ENGINE 20
#define NF_APPID_PEN 35632u
#define NF_APPID_LEN 7

/* Parts of the --fields groups app, tcp and geo that an IPFIX record carries only when
 * the flow has them known (capture_l7_flags); each set of parts has its own template. */
enum nf_section {
	NF_SEC_APP = 1u << 0,	/* nDPI verdict */
	NF_SEC_TLS = 1u << 1,	/* a ClientHello (TLS or QUIC) */
	NF_SEC_TLSV = 1u << 2,	/* tls_version */
	NF_SEC_DNS = 1u << 3,	/* a DNS question */
	NF_SEC_DNSR = 1u << 4,	/* a DNS response */
	NF_SEC_HTTP = 1u << 5,	/* an HTTP request */
	NF_SEC_HTTPR = 1u << 6, /* an HTTP response */
	NF_SEC_TCP = 1u << 7,	/* TCP health */
	NF_SEC_RTT = 1u << 8,	/* handshake RTT */
	NF_SEC_GEO = 1u << 9,	/* GeoIP / ASN of either side */
	NF_SEC_ALL = (1u << 10) - 1,
};

/* Where a field's value comes from; R* are the reverse direction of a biflow. */
enum nf_val {
	NV_SRC,
	NV_DST,
	NV_SPORT,
	NV_DPORT,
	NV_PROTO,
	NV_VLAN,
	NV_ICMP,
	NV_IFACE,
	NV_DIR,
	NV_END,
	NV_FLAGS,
	NV_BYTES,
	NV_PKTS,
	NV_START,
	NV_FIN,
	NV_RFLAGS,
	NV_RBYTES,
	NV_RPKTS,
	NV_RSTART,
	NV_RFIN,
	NV_SMAC,
	NV_DMAC,
	NV_VLAN_IN,
	NV_MPLS1,
	NV_MPLS2,
	NV_MPLS3,
	NV_TOS,
	NV_MINTTL,
	NV_MAXTTL,
	NV_RTOS,
	NV_RMINTTL,
	NV_RMAXTTL,
	NV_L2SEG,
	NV_TUN_TYPE,
	NV_TUN_ID,
	NV_RTUN_ID,
	NV_OSRC,
	NV_ODST,
	NV_CID,
	/* --fields app, tcp, payload, geo (nf_fields_l7.c) */
	NV_L7_FIRST,
	NV_APP_ID = NV_L7_FIRST,
	NV_APP_NAME,
	NV_APP_CAT,
	NV_DPI_CONF,
	NV_TLS_SNI,
	NV_TLS_ALPN,
	NV_TLS_VER,
	NV_JA4,
	NV_JA3,
	NV_DNS_QNAME,
	NV_DNS_QTYPE,
	NV_DNS_RCODE,
	NV_DNS_ANS,
	NV_HTTP_METHOD,
	NV_HTTP_HOST,
	NV_HTTP_URL,
	NV_HTTP_UA,
	NV_HTTP_STATUS,
	NV_CONN_STATE,
	NV_HISTORY,
	NV_RETR_PKTS,
	NV_RETR_BYTES,
	NV_OOO,
	NV_ZWIN,
	NV_RRETR_PKTS,
	NV_RRETR_BYTES,
	NV_ROOO,
	NV_RZWIN,
	NV_RTT,
	NV_RTT_SYN,
	NV_PAYLOAD,
	NV_RPAYLOAD,
	NV_SRC_ASN,
	NV_DST_ASN,
	NV_SRC_CC,
	NV_DST_CC,
	NV_SRC_ORG,
	NV_DST_ORG,
};

/* Runs of the default layout that the encoder writes in one go (speed only). */
enum nf_block {
	NB_NONE = 0,
	NB_HEAD,    /* IPFIX: addresses .. flowEndReason (10 fields) */
	NB_HEAD_V9, /* v9: addresses .. flowEndReason with TCP_FLAGS (11 fields) */
	NB_REV,	    /* IPFIX reverse octets, packets, flags, start, end (5) */
	NB_FWD,	    /* IPFIX flags, octets, packets, start, end (5) */
	NB_CNT_V9,  /* v9 octets, packets, start, end (4) */
};

struct nf_field {
	uint16_t id, len;
	uint32_t pen;  /* 0: IANA */
	uint8_t val;   /* enum nf_val */
	uint8_t block; /* enum nf_block on a run's first field */
	uint8_t run;   /* fields in that run */
};

/* What a template is for. */
struct nf_layout {
	int version;	 /* 9 or 10 */
	uint8_t ipver;	 /* 4 or 6: the flow's (inner) addresses */
	uint8_t outer;	 /* IPFIX tunnel templates: 4 or 6, else 0 */
	bool bi;	 /* IPFIX biflow with RFC 5103 reverse elements */
	bool ns;	 /* IPFIX flowStart/EndNanoseconds */
	uint32_t fields; /* CAPTURE_FIELD_* */
	uint32_t pen;
	uint32_t sec; /* IPFIX: enum nf_section parts carried (v9: ignored, all) */
};

/* The fields of @l in record order into @out (NF_MAX_FIELDS); returns how many. */
size_t pc_nf_layout(const struct nf_layout *l, struct nf_field *out);
/* Record length of @n fields; a variable-length one counted at its largest. */
size_t pc_nf_rec_len(const struct nf_field *fl, size_t n);
/* Whether a field of @fl has variable length (then see pc_nf_flow_len). */
bool pc_nf_has_varlen(const struct nf_field *fl, size_t n);
/* The length of the record of @fl for @f seen from @fw (exact, variable-length
 * strings as long as they are). */
size_t pc_nf_flow_len(const struct nf_field *fl, size_t n, const struct capture_flow *f,
		      const struct nf_uni *fw);
/* Template record (IPFIX: enterprise bit and PEN where set) into @buf; returns its
 * length. @scope: options template scope count (0: data template). */
size_t pc_nf_template(uint8_t *buf, uint16_t tid, const struct nf_field *fl, size_t n,
		      unsigned scope, bool ipfix);

/* Per-flow context of the encoder; pc_nf_enc_init() before the flow's records. */
struct nf_enc {
	uint64_t scale; /* packet/octet multiplier (sampling), 1: none */
	bool cid_done;
	char cid[CAPTURE_COMMUNITY_ID_LEN]; /* computed at its first use */
};

static inline void pc_nf_enc_init(struct nf_enc *enc, uint64_t scale)
{
	enc->scale = scale;
	enc->cid_done = false;
}

/* Write one record of @fl: @f's fields, @fw the forward view (a uniflow record's only
 * direction), @rv the reverse one (biflow); returns the end. */
uint8_t *pc_nf_encode(uint8_t *p, const struct nf_field *fl, size_t n, const struct capture_flow *f,
		      const struct nf_uni *fw, const struct nf_uni *rv, struct nf_enc *enc);

/* The two directions of @f as a biflow record has them, forward and reverse (the
 * reverse one may have no packets: its times are then 0). */
void pc_nf_bi_views(const struct capture_flow *f, struct nf_uni u[2]);

/* The enum nf_section parts of @f that the CAPTURE_FIELD_* selection @fields carries. */
uint32_t pc_nf_sections(uint32_t fields, const struct capture_flow *f);

/* nf_fields_l7.c: the elements of the groups app, tcp, payload and geo appended to
 * @out[@n..] (NF_MAX_FIELDS); returns the new count. */
size_t pc_nf_l7_layout(const struct nf_layout *l, struct nf_field *out, size_t n);
/* One of those fields (val >= NV_L7_FIRST) of @f: @fw the record's direction, @rv the
 * reverse one of a biflow; returns the end. */
uint8_t *pc_nf_l7_put(uint8_t *p, const struct nf_field *fd, const struct capture_flow *f,
		      const struct nf_uni *fw, const struct nf_uni *rv);
/* Octets that variable-length field @fd takes for @f (length prefix included). */
size_t pc_nf_l7_varlen(const struct nf_field *fd, const struct capture_flow *f,
		       const struct nf_uni *fw);
/* Octets that variable-length field @fd takes at most. */
size_t pc_nf_l7_varmax(const struct nf_field *fd);

/* The IPFIX/v9 settings resolved from a target: field selection and its checks. */
int pc_nf_fields_cfg(const struct pc_export_target *t, int version, uint32_t *fields, uint32_t *pen,
		     char *err, size_t errlen);

#endif
