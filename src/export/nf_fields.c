/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Template layouts and the record encoder of the v9 and IPFIX exporters. The default
 * layout is the record every earlier release sent, byte for byte; the --fields groups
 * append after it, reverse (RFC 5103) elements ahead of their forward twins.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/nf_fields.h"
#include "util/compiler.h"
#include "util/log.h"

#define IE_START_MS 152
#define IE_END_MS 153
#define IE_START_NS 156
#define IE_END_NS 157
#define NTP_EPOCH_OFFSET 2208988800ull
#define NF_PEN_FIELDS                                                            \
	(CAPTURE_FIELD_TUNNEL | CAPTURE_FIELD_COMMUNITY_ID | CAPTURE_FIELD_APP | \
	 CAPTURE_FIELD_TCP | CAPTURE_FIELD_GEO)

struct fl_builder {
	struct nf_field *f;
	size_t n;
};

static void add(struct fl_builder *b, uint16_t id, uint16_t len, uint32_t pen, uint8_t val)
{
	if (b->n < NF_MAX_FIELDS)
		b->f[b->n++] = (struct nf_field){ .id = id, .len = len, .pen = pen, .val = val };
}

/* The fields added since @from are run @block. */
static void mark(struct fl_builder *b, size_t from, uint8_t block)
{
	b->f[from].block = block;
	b->f[from].run = (uint8_t)(b->n - from);
}

/* The record of earlier releases: addresses, ports, protocol, VLAN, ICMP, interface,
 * direction, end reason, then (IPFIX biflow) the reverse counters and the forward ones. */
static void base_layout(struct fl_builder *b, const struct nf_layout *l)
{
	bool v4 = l->ipver == 4, v9 = l->version == 9;
	uint16_t st = l->ns ? IE_START_NS : IE_START_MS, en = l->ns ? IE_END_NS : IE_END_MS;

	size_t k = b->n;

	add(b, v4 ? 8 : 27, v4 ? 4 : 16, 0, NV_SRC);
	add(b, v4 ? 12 : 28, v4 ? 4 : 16, 0, NV_DST);
	add(b, 7, 2, 0, NV_SPORT);
	add(b, 11, 2, 0, NV_DPORT);
	add(b, 4, 1, 0, NV_PROTO);
	if (v9) { /* v9's historical order: TCP_FLAGS here, one byte */
		add(b, 6, 1, 0, NV_FLAGS);
		add(b, 58, 2, 0, NV_VLAN);
		add(b, 32, 2, 0, NV_ICMP);
	} else {
		add(b, 58, 2, 0, NV_VLAN);
		add(b, v4 ? 32 : 139, 2, 0, NV_ICMP);
	}
	add(b, 10, 4, 0, NV_IFACE);
	add(b, 61, 1, 0, NV_DIR);
	add(b, 136, 1, 0, NV_END);
	mark(b, k, v9 ? NB_HEAD_V9 : NB_HEAD);
	k = b->n;
	if (v9) {
		add(b, 1, 8, 0, NV_BYTES);
		add(b, 2, 8, 0, NV_PKTS);
		add(b, IE_START_MS, 8, 0, NV_START);
		add(b, IE_END_MS, 8, 0, NV_FIN);
		mark(b, k, NB_CNT_V9);
		return;
	}
	/* nfdump 1.7 reads reverse elements as their forward twins (the last value it
	 * sees wins), so the reverse ones come first. */
	if (l->bi) {
		add(b, 1, 8, NF_PEN_REVERSE, NV_RBYTES);
		add(b, 2, 8, NF_PEN_REVERSE, NV_RPKTS);
		add(b, 6, 2, NF_PEN_REVERSE, NV_RFLAGS);
		add(b, st, 8, NF_PEN_REVERSE, NV_RSTART);
		add(b, en, 8, NF_PEN_REVERSE, NV_RFIN);
		mark(b, k, NB_REV);
		k = b->n;
	}
	add(b, 6, 2, 0, NV_FLAGS);
	add(b, 1, 8, 0, NV_BYTES);
	add(b, 2, 8, 0, NV_PKTS);
	add(b, st, 8, 0, NV_START);
	add(b, en, 8, 0, NV_FIN);
	mark(b, k, NB_FWD);
}

size_t pc_nf_layout(const struct nf_layout *l, struct nf_field *out)
{
	struct fl_builder b = { .f = out, .n = 0 };
	uint32_t fs = l->fields, pen = l->version == 10 ? l->pen : 0;

	base_layout(&b, l);
	if (l->bi) { /* reverse twins first, as above */
		if (fs & CAPTURE_FIELD_TOS)
			add(&b, 5, 1, NF_PEN_REVERSE, NV_RTOS);
		if (fs & CAPTURE_FIELD_TTL) {
			add(&b, 52, 1, NF_PEN_REVERSE, NV_RMINTTL);
			add(&b, 53, 1, NF_PEN_REVERSE, NV_RMAXTTL);
		}
		if ((fs & CAPTURE_FIELD_TUNNEL) && l->outer && pen)
			add(&b, NF_IE_TUNNEL_ID | NF_REVERSE_BIT, 4, pen, NV_RTUN_ID);
	}
	if (fs & CAPTURE_FIELD_MAC) {
		add(&b, 56, 6, 0, NV_SMAC); /* sourceMacAddress */
		add(&b, 80, 6, 0, NV_DMAC); /* destinationMacAddress */
	}
	if (fs & CAPTURE_FIELD_VLAN)
		add(&b, 245, 2, 0, NV_VLAN_IN); /* dot1qCustomerVlanId */
	if (fs & CAPTURE_FIELD_MPLS) {
		add(&b, 70, 3, 0, NV_MPLS1); /* mplsTopLabelStackSection */
		add(&b, 71, 3, 0, NV_MPLS2); /* mplsLabelStackSection2 */
		add(&b, 72, 3, 0, NV_MPLS3);
	}
	if (fs & CAPTURE_FIELD_TOS)
		add(&b, 5, 1, 0, NV_TOS); /* ipClassOfService */
	if (fs & CAPTURE_FIELD_TTL) {
		add(&b, 52, 1, 0, NV_MINTTL); /* minimumTTL */
		add(&b, 53, 1, 0, NV_MAXTTL); /* maximumTTL */
	}
	/* v9 has the VNI only; IPFIX carries the tunnel in its own templates */
	if ((fs & CAPTURE_FIELD_TUNNEL) && (l->version == 9 || l->outer)) {
		add(&b, 351, 8, 0, NV_L2SEG); /* layer2SegmentId */
		if (pen && l->outer) {
			bool o4 = l->outer == 4;

			add(&b, NF_IE_TUNNEL_TYPE, 1, pen, NV_TUN_TYPE);
			add(&b, NF_IE_TUNNEL_ID, 4, pen, NV_TUN_ID);
			add(&b, o4 ? NF_IE_OUTER_SRC4 : NF_IE_OUTER_SRC6, o4 ? 4 : 16, pen,
			    NV_OSRC);
			add(&b, o4 ? NF_IE_OUTER_DST4 : NF_IE_OUTER_DST6, o4 ? 4 : 16, pen,
			    NV_ODST);
		}
	}
	if ((fs & CAPTURE_FIELD_COMMUNITY_ID) && pen)
		add(&b, NF_IE_COMMUNITY_ID, NF_CID_LEN, pen, NV_CID);
	return pc_nf_l7_layout(l, out, b.n);
}

size_t pc_nf_rec_len(const struct nf_field *fl, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		len += fl[i].len == NF_VARLEN ? pc_nf_l7_varmax(&fl[i]) : fl[i].len;
	return len;
}

bool pc_nf_has_varlen(const struct nf_field *fl, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fl[i].len == NF_VARLEN)
			return true;
	return false;
}

size_t pc_nf_flow_len(const struct nf_field *fl, size_t n, const struct capture_flow *f,
		      const struct nf_uni *fw)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		len += fl[i].len == NF_VARLEN ? pc_nf_l7_varlen(&fl[i], f, fw) : fl[i].len;
	return len;
}

size_t pc_nf_template(uint8_t *buf, uint16_t tid, const struct nf_field *fl, size_t n,
		      unsigned scope, bool ipfix)
{
	uint8_t *p = buf;
	size_t i;

	p = nf_put16(p, tid);
	p = nf_put16(p, (uint16_t)n);
	if (scope)
		p = nf_put16(p, (uint16_t)scope);
	for (i = 0; i < n; i++) {
		bool ent = ipfix && fl[i].pen;

		p = nf_put16(p, ent ? (uint16_t)(fl[i].id | 0x8000) : fl[i].id);
		p = nf_put16(p, fl[i].len);
		if (ent)
			p = nf_put32(p, fl[i].pen);
	}
	return (size_t)(p - buf);
}

void pc_nf_bi_views(const struct capture_flow *f, struct nf_uni u[2])
{
	pc_nf_dirs(f, u);
	/* the biflow record's own times: the flow's, and the reverse side's if it has any */
	u[0].first_ns = f->first_ns;
	u[0].last_ns = f->last_ns;
	u[1].first_ns = f->rev_packets ? f->rev_first_ns : 0;
	u[1].last_ns = f->rev_packets ? f->rev_last_ns : 0;
}

static inline uint64_t ntp_ns(uint64_t ns)
{
	uint64_t sec = ns / 1000000000ull, frac = ns % 1000000000ull;

	/* Rounded to nearest, so that a reader truncating back to ns gets @ns again. */
	return (sec + NTP_EPOCH_OFFSET) << 32 | (((frac << 32) + 500000000ull) / 1000000000ull);
}

static uint64_t time_val(uint16_t id, uint64_t ns)
{
	if (id == IE_START_NS || id == IE_END_NS)
		return ns ? ntp_ns(ns) : 0;
	return ns / 1000000ull;
}

static bool is_icmp(const struct capture_flow *f)
{
	return (f->ip_version == 4 && f->proto == 1) || (f->ip_version == 6 && f->proto == 58);
}

/* layer2SegmentId: segment type in the top octet (IANA: 0x01 VxLAN, 0x02 NVGRE). */
static uint64_t l2seg(const struct capture_flow *f)
{
	if (f->tunnel_type == CAPTURE_TUNNEL_VXLAN)
		return 1ull << 56 | (f->tunnel_id & 0xffffff);
	if (f->tunnel_type == CAPTURE_TUNNEL_NVGRE)
		return 2ull << 56 | (f->tunnel_id & 0xffffff);
	return 0;
}

/* jcap's tunnelId: the ids that layer2SegmentId does not carry. */
static uint32_t tun_id(const struct capture_flow *f, uint32_t id)
{
	return l2seg(f) ? 0 : id;
}

static uint8_t *put_bytes(uint8_t *p, const uint8_t *src, size_t len)
{
	static const uint8_t zero[16];

	memcpy(p, src ? src : zero, len);
	return p + len;
}

static uint8_t *put_cid(uint8_t *p, const struct capture_flow *f, struct nf_enc *enc)
{
	size_t n;

	if (!enc->cid_done) {
		if (capture_flow_community_id(f, f->community_id_seed, enc->cid) < 0)
			enc->cid[0] = 0;
		enc->cid_done = true;
	}
	n = strnlen(enc->cid, NF_CID_LEN);
	memcpy(p, enc->cid, n);
	memset(p + n, 0, NF_CID_LEN - n);
	return p + NF_CID_LEN;
}

/* One field of the record; each case writes the width its layout gives it. */
static uint8_t *put_field(uint8_t *p, const struct nf_field *fd, const struct capture_flow *f,
			  const struct nf_uni *fw, const struct nf_uni *rv, struct nf_enc *enc,
			  bool icmp)
{
	switch (fd->val) {
	case NV_SRC:
		return put_bytes(p, fw->src, fd->len);
	case NV_DST:
		return put_bytes(p, fw->dst, fd->len);
	case NV_SPORT: /* ICMP: 0, type and code have their own element */
		return nf_put16(p, icmp ? 0 : fw->sport);
	case NV_DPORT:
		return nf_put16(p, icmp ? 0 : fw->dport);
	case NV_PROTO:
		return nf_put8(p, f->proto);
	case NV_VLAN:
		return nf_put16(p, f->vlan);
	case NV_ICMP:
		return nf_put16(p, icmp ? (uint16_t)(fw->icmp_type << 8 | fw->icmp_code) : 0);
	case NV_IFACE:
		return nf_put32(p, f->interface);
	case NV_DIR:
		return nf_put8(p, 0); /* ingress */
	case NV_END:
		return nf_put8(p, pc_nf_end_reason(f->end_reason));
	case NV_FLAGS: /* v9: one byte */
		return fd->len == 1 ? nf_put8(p, fw->flags) : nf_put16(p, fw->flags);
	case NV_BYTES:
		return nf_put64(p, fw->bytes * enc->scale);
	case NV_PKTS:
		return nf_put64(p, fw->packets * enc->scale);
	case NV_START:
		return nf_put64(p, time_val(fd->id, fw->first_ns));
	case NV_FIN:
		return nf_put64(p, time_val(fd->id, fw->last_ns));
	case NV_RFLAGS:
		return nf_put16(p, rv->flags);
	case NV_RBYTES:
		return nf_put64(p, rv->bytes * enc->scale);
	case NV_RPKTS:
		return nf_put64(p, rv->packets * enc->scale);
	case NV_RSTART:
		return nf_put64(p, time_val(fd->id, rv->first_ns));
	case NV_RFIN:
		return nf_put64(p, time_val(fd->id, rv->last_ns));
	case NV_SMAC:
		return put_bytes(p, fw->smac, 6);
	case NV_DMAC:
		return put_bytes(p, fw->dmac, 6);
	case NV_VLAN_IN:
		return nf_put16(p, f->vlan_inner);
	case NV_MPLS1:
	case NV_MPLS2:
	case NV_MPLS3: {
		uint32_t e = f->mpls_labels[fd->val - NV_MPLS1];

		p = nf_put8(p, (uint8_t)(e >> 16));
		return nf_put16(p, (uint16_t)e);
	}
	case NV_TOS:
		return nf_put8(p, fw->tos);
	case NV_MINTTL:
		return nf_put8(p, fw->min_ttl);
	case NV_MAXTTL:
		return nf_put8(p, fw->max_ttl);
	case NV_RTOS:
		return nf_put8(p, rv->tos);
	case NV_RMINTTL:
		return nf_put8(p, rv->min_ttl);
	case NV_RMAXTTL:
		return nf_put8(p, rv->max_ttl);
	case NV_L2SEG:
		return nf_put64(p, l2seg(f));
	case NV_TUN_TYPE:
		return nf_put8(p, f->tunnel_type);
	case NV_TUN_ID:
		return nf_put32(p, tun_id(f, fw->tunnel_id));
	case NV_RTUN_ID:
		return nf_put32(p, tun_id(f, rv->tunnel_id));
	case NV_OSRC:
		return put_bytes(p, fw->osrc, fd->len);
	case NV_ODST:
		return put_bytes(p, fw->odst, fd->len);
	case NV_CID:
		return put_cid(p, f, enc);
	default:
		if (fd->val >= NV_L7_FIRST)
			return pc_nf_l7_put(p, fd, f, fw, rv);
		memset(p, 0, fd->len);
		return p + fd->len;
	}
}

/* A run of the default layout (enum nf_block), the same bytes as field by field. */
static uint8_t *put_block(uint8_t *p, const struct nf_field *fd, const struct capture_flow *f,
			  const struct nf_uni *fw, const struct nf_uni *rv, uint64_t scale,
			  bool icmp)
{
	const struct nf_uni *u = fd->block == NB_REV ? rv : fw;
	size_t al = fd->len;

	switch (fd->block) {
	case NB_HEAD:
	case NB_HEAD_V9:
		memcpy(p, fw->src, al);
		memcpy(p + al, fw->dst, al);
		p += 2 * al;
		p = nf_put16(p, icmp ? 0 : fw->sport);
		p = nf_put16(p, icmp ? 0 : fw->dport);
		p = nf_put8(p, f->proto);
		if (fd->block == NB_HEAD_V9)
			p = nf_put8(p, fw->flags);
		p = nf_put16(p, f->vlan);
		p = nf_put16(p, icmp ? (uint16_t)(fw->icmp_type << 8 | fw->icmp_code) : 0);
		p = nf_put32(p, f->interface);
		p = nf_put8(p, 0);
		return nf_put8(p, pc_nf_end_reason(f->end_reason));
	case NB_FWD:
		p = nf_put16(p, fw->flags);
		p = nf_put64(p, fw->bytes * scale);
		p = nf_put64(p, fw->packets * scale);
		p = nf_put64(p, time_val(fd[3].id, fw->first_ns));
		return nf_put64(p, time_val(fd[4].id, fw->last_ns));
	case NB_REV:
	case NB_CNT_V9:
		p = nf_put64(p, u->bytes * scale);
		p = nf_put64(p, u->packets * scale);
		if (fd->block == NB_REV) {
			p = nf_put16(p, u->flags);
			fd++;
		}
		p = nf_put64(p, time_val(fd[2].id, u->first_ns));
		return nf_put64(p, time_val(fd[3].id, u->last_ns));
	default:
		return p;
	}
}

uint8_t *pc_nf_encode(uint8_t *p, const struct nf_field *fl, size_t n, const struct capture_flow *f,
		      const struct nf_uni *fw, const struct nf_uni *rv, struct nf_enc *enc)
{
	bool icmp = is_icmp(f);
	size_t i;

	for (i = 0; i < n; i++) {
		if (fl[i].block) {
			p = put_block(p, &fl[i], f, fw, rv, enc->scale, icmp);
			i += fl[i].run - 1u;
			continue;
		}
		p = put_field(p, &fl[i], f, fw, rv, enc, icmp);
	}
	return p;
}

/* ------------------------------------------------------------------ --fields */

static const struct {
	const char *name;
	uint32_t bits;
} field_names[] = {
	{ "mac", CAPTURE_FIELD_MAC },
	{ "vlan", CAPTURE_FIELD_VLAN },
	{ "mpls", CAPTURE_FIELD_MPLS },
	{ "tunnel", CAPTURE_FIELD_TUNNEL },
	{ "ttl", CAPTURE_FIELD_TTL },
	{ "tos", CAPTURE_FIELD_TOS },
	{ "interface", CAPTURE_FIELD_INTERFACE },
	{ "community_id", CAPTURE_FIELD_COMMUNITY_ID },
	{ "app", CAPTURE_FIELD_APP },
	{ "tcp", CAPTURE_FIELD_TCP },
	{ "payload", CAPTURE_FIELD_PAYLOAD },
	{ "geo", CAPTURE_FIELD_GEO },
	{ "all", CAPTURE_FIELD_ALL },
	{ "none", CAPTURE_FIELD_ALL }, /* "none" and "-all" clear everything */
};

CAPTURE_API int capture_export_fields_parse(const char *list, uint32_t *fields)
{
	uint32_t v;
	const char *s = list;

	if (!list || !fields)
		return -CAPTURE_E_CONFIG;
	v = *fields;
	while (*s) {
		size_t len = strcspn(s, ","), i;
		bool minus = *s == '-';

		if (*s == '+' || *s == '-') {
			s++;
			len--;
		}
		for (i = 0; i < PC_ARRAY_SIZE(field_names); i++)
			if (strlen(field_names[i].name) == len &&
			    !strncmp(s, field_names[i].name, len))
				break;
		if (i == PC_ARRAY_SIZE(field_names))
			return -CAPTURE_E_CONFIG;
		if (minus || !strcmp(field_names[i].name, "none"))
			v &= ~field_names[i].bits;
		else
			v |= field_names[i].bits;
		s += len;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return -CAPTURE_E_CONFIG;
	}
	*fields = v;
	return 0;
}

int pc_nf_fields_cfg(const struct pc_export_target *t, int version, uint32_t *fields, uint32_t *pen,
		     char *err, size_t errlen)
{
	*fields = t->opts.fields & CAPTURE_FIELD_ALL;
	*pen = t->opts.ipfix_pen;
	if (version == 10 && !*pen && (*fields & NF_PEN_FIELDS))
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "%s: the fields tunnel, community_id, app, tcp and geo use jcap's "
			       "own IPFIX elements: give an enterprise number (--ipfix-pen N)",
			       t->spec);
	return 0;
}
