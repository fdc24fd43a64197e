/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Record layouts of the NetFlow v9 and IPFIX exporters: which information elements a
 * template carries (the default record plus the --fields groups asked for) and the one
 * encoder that writes a record in exactly that order. IANA elements where they exist;
 * jcap's own elements (tunnel, outer addresses, Community ID) under the user's PEN.
 */
#ifndef PC_NF_FIELDS_H
#define PC_NF_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/nf_common.h"

#define NF_PEN_REVERSE 29305u /* RFC 5103 reverse elements */
#define NF_REVERSE_BIT 0x4000 /* RFC 5103 6.2: reverse of an enterprise element */
#define NF_MAX_FIELDS 48
#define NF_CID_LEN 30 /* "1:" + base64 of a SHA-1 */

/* jcap's own elements, under capture_export_opts.ipfix_pen (docs/ipfix/jcap-elements.xml) */
enum nf_jcap_ie {
	NF_IE_TUNNEL_TYPE = 1,
	NF_IE_TUNNEL_ID = 2,
	NF_IE_OUTER_SRC4 = 3,
	NF_IE_OUTER_DST4 = 4,
	NF_IE_OUTER_SRC6 = 5,
	NF_IE_OUTER_DST6 = 6,
	NF_IE_COMMUNITY_ID = 7,
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
};

/* The fields of @l in record order into @out (NF_MAX_FIELDS); returns how many. */
size_t pc_nf_layout(const struct nf_layout *l, struct nf_field *out);
/* Record length of @n fields. */
size_t pc_nf_rec_len(const struct nf_field *fl, size_t n);
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

/* The IPFIX/v9 settings resolved from a target: field selection and its checks. */
int pc_nf_fields_cfg(const struct pc_export_target *t, int version, uint32_t *fields, uint32_t *pen,
		     char *err, size_t errlen);

#endif
