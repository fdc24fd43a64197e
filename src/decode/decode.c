/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet decoder: link header -> VLAN/MPLS/PPPoE/LLC -> IPv4 or IPv6 (+extension
 * headers) -> L4 ports, then, only for packets that may carry a tunnel, the
 * decapsulation loop of decode_tunnel.c. One forward pass with no tables of
 * function pointers; every read is preceded by a check against caplen
 * (-> truncated) or against the lengths the headers themselves declare
 * (-> malformed).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"
#include "decode/decode_int.h"

#define MAX_IP6_EXT 16

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20

#define ETH_P_IP 0x0800

/* libpcap link types beyond the ones capture.h names */
#define DLT_RAW_14 14
#define DLT_PPP 9
#define DLT_PPP_SERIAL 50
#define DLT_C_HDLC 104
#define DLT_NFLOG 239

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_DCCP_ 33
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_NONE_ 59
#define IPPROTO_DSTOPTS_ 60
#define IPPROTO_SCTP_ 132
#define IPPROTO_UDPLITE_ 136

/* callers count a skipped packet at skipped[verdict - 1] */
_Static_assert(PC_DEC_NON_IP - 1 == CAPTURE_SKIP_NON_IP, "verdict/skip order");
_Static_assert(PC_DEC_TRUNCATED - 1 == CAPTURE_SKIP_TRUNCATED, "verdict/skip order");
_Static_assert(PC_DEC_MALFORMED - 1 == CAPTURE_SKIP_MALFORMED, "verdict/skip order");
_Static_assert(PC_DEC_UNSUPPORTED_LINK - 1 == CAPTURE_SKIP_UNSUPPORTED_LINK, "verdict/skip order");
_Static_assert(PC_DEC_FRAGMENT_UNMATCHED - 1 == CAPTURE_SKIP_FRAGMENT_UNMATCHED,
	       "verdict/skip order");
_Static_assert(PC_DEC_OUTER > PC_DEC_TUNNEL_DEPTH && PC_DEC_PW_ETH > PC_DEC_TUNNEL_DEPTH,
	       "internal results are no verdicts");

/* Install @o's tunnel ports (the defaults when it names none). */
static void set_ports(struct pc_decoder *d, const struct pc_decode_opts *o)
{
	struct pc_decode_opts def;
	unsigned i;

	if (!o->nports) {
		memset(&def, 0, sizeof(def));
		pc_decode_ports_parse(&def, NULL, NULL, 0);
		o = &def;
	}
	d->nports = o->nports;
	for (i = 0; i < o->nports; i++) {
		d->port[i] = o->port[i];
		d->port_type[i] = o->port_type[i];
		d->port_hint[(o->port[i] >> 6) & 15] |= 1ull << (o->port[i] & 63);
	}
}

int pc_decoder_create(struct pc_decoder **out, const struct pc_decode_opts *o)
{
	static const struct pc_decode_opts none;
	struct pc_decoder *d;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!o)
		o = &none;
	if (o->nports > PC_DECAP_MAX_PORTS)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	rc = pc_frag_init(&d->ft, o->frag_slots, o->frag_timeout_ns);
	if (rc < 0) {
		free(d);
		return rc;
	}
	d->decap_off = o->decap_off;
	set_ports(d, o);
	*out = d;
	return 0;
}

void pc_decoder_destroy(struct pc_decoder *d)
{
	if (!d)
		return;
	pc_frag_release(&d->ft);
	free(d);
}

const struct pc_decode_stats *pc_decoder_stats(const struct pc_decoder *d)
{
	return &d->st;
}

/* The L4 payload after a @hdr-byte header at @b (@len bytes of L4 declared). */
static pc_always_inline void payload_at(struct pc_meta *m, const uint8_t *b, uint32_t hdr,
					uint32_t len)
{
	m->pl_len = len - hdr;
	if (m->l3)
		m->pl_off = (uint32_t)(b + hdr - m->l3);
}

/*
 * Ports / ICMP type-code of @proto at @b: @room bytes captured, @len bytes of
 * payload the IP header declares. Protocols other than TCP and UDP count
 * their whole IP payload as payload (pc_dec_ip4/6 set it first).
 */
static pc_always_inline enum pc_verdict l4(const uint8_t *b, uint32_t room, uint32_t len,
					   uint8_t proto, struct pc_meta *m)
{
	uint32_t need;

	switch (proto) {
	case IPPROTO_TCP_:
		need = 14; /* ports .. flags */
		break;
	case IPPROTO_UDP_:
	case IPPROTO_UDPLITE_:
	case IPPROTO_SCTP_:
	case IPPROTO_DCCP_:
		need = 4;
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		if (len < 2)
			return PC_DEC_MALFORMED;
		if (room < 2)
			return PC_DEC_TRUNCATED;
		m->icmp_type = b[0];
		m->icmp_code = b[1];
		m->key.port[0] = pc_icmp_key_port(proto, b[0], b[1]);
		m->key.port[1] = m->key.port[0];
		m->flags |= PC_META_HAS_L4;
		return PC_DEC_OK;
	default:
		return PC_DEC_OK; /* GRE, ESP, ...: address-pair flow */
	}
	if (len < need)
		return PC_DEC_MALFORMED;
	if (room < need)
		return PC_DEC_TRUNCATED;
	m->key.port[0] = rd16(b);
	m->key.port[1] = rd16(b + 2);
	m->flags |= PC_META_HAS_L4;
	m->pl_len = 0; /* until the header says where the payload starts */
	m->pl_off = 0;
	if (proto == IPPROTO_TCP_) {
		uint32_t doff;

		m->tcp_flags = b[13];
		if (room < 20 || len < 20)
			return PC_DEC_OK;
		m->tcp_seq = rd32(b + 4);
		m->tcp_ack = rd32(b + 8);
		m->tcp_win = rd16(b + 14);
		m->flags |= PC_META_TCP_HDR;
		doff = (b[12] >> 4) * 4u;
		if (doff >= 20 && doff <= len)
			payload_at(m, b, doff, len);
	} else if (proto == IPPROTO_UDP_ || proto == IPPROTO_UDPLITE_) {
		if (len >= 8)
			payload_at(m, b, 8, len);
	} else {
		m->pl_len = len; /* SCTP, DCCP: the whole IP payload */
		m->pl_off = m->l3 ? (uint32_t)(b - m->l3) : 0;
	}
	return PC_DEC_OK;
}

/* First fragment: decode L4 as usual and remember it for the later ones. */
static enum pc_verdict frag_first(struct pc_decoder *d, const struct pc_frag_id *id,
				  const uint8_t *b, uint32_t room, uint32_t len, uint8_t proto,
				  struct pc_meta *m)
{
	enum pc_verdict v = l4(b, room, len, proto, m);
	struct pc_frag_l4 f;

	if (v != PC_DEC_OK)
		return v;
	/* payload bytes counted, nothing inspected: the rest is elsewhere */
	m->l3 = NULL;
	m->l3_cap = 0;
	m->pl_off = 0;
	m->flags &= (uint8_t)~PC_META_TCP_HDR;
	f.port[0] = m->key.port[0];
	f.port[1] = m->key.port[1];
	f.proto = proto;
	f.icmp_type = m->icmp_type;
	f.icmp_code = m->icmp_code;
	f.has_l4 = !!(m->flags & PC_META_HAS_L4);
	if (pc_frag_record(&d->ft, id, &f, m->ts_ns))
		d->st.fragments_evicted++;
	d->st.fragments_tracked++;
	return PC_DEC_OK;
}

/* Later fragment: ports only from a recorded first fragment, never guessed. */
static enum pc_verdict frag_later(struct pc_decoder *d, const struct pc_frag_id *id,
				  struct pc_meta *m)
{
	struct pc_frag_l4 f;

	m->l3 = NULL; /* pl_len: the fragment's whole IP payload (caller) */
	m->l3_cap = 0;
	m->pl_off = 0;
	if (!pc_frag_lookup(&d->ft, id, m->ts_ns, &f))
		return PC_DEC_FRAGMENT_UNMATCHED;
	m->key.proto = f.proto;
	m->key.port[0] = f.port[0];
	m->key.port[1] = f.port[1];
	m->icmp_type = f.icmp_type;
	m->icmp_code = f.icmp_code;
	if (f.has_l4)
		m->flags |= PC_META_HAS_L4;
	d->st.fragments_matched++;
	return PC_DEC_OK;
}

static void frag_id_fill(struct pc_frag_id *id, const uint8_t *src, const uint8_t *dst,
			 unsigned alen, uint8_t ver, uint8_t proto, uint32_t ident)
{
	memset(id, 0, sizeof(*id));
	memcpy(id->src, src, alen);
	memcpy(id->dst, dst, alen);
	id->id = ident;
	id->ipver = ver;
	id->proto = proto;
}

enum pc_verdict pc_dec_ip4(struct pc_decoder *d, const uint8_t *pk, struct lnk *l,
			   struct pc_meta *m)
{
	uint32_t room = l->cap - l->off, orig = l->orig - l->off, hl, tot, frag;
	struct pc_frag_id id;
	const uint8_t *h;
	uint8_t proto;

	if (room < 1)
		return PC_DEC_TRUNCATED;
	h = pk + l->off;
	if (h[0] >> 4 != 4)
		return PC_DEC_MALFORMED;
	if (room < 20)
		return PC_DEC_TRUNCATED;
	hl = (h[0] & 0x0fu) * 4;
	if (hl < 20)
		return PC_DEC_MALFORMED;
	if (room < hl)
		return PC_DEC_TRUNCATED;
	tot = rd16(h + 2);
	if (tot == 0)
		tot = orig; /* TSO/GSO capture: the NIC writes the length later */
	else if (tot > orig)
		return PC_DEC_MALFORMED;
	if (tot < hl)
		return PC_DEC_MALFORMED;
	proto = h[9];
	memcpy(m->key.addr[0], h + 12, 4);
	memcpy(m->key.addr[1], h + 16, 4);
	m->key.proto = proto;
	m->key.ipver = 4;
	m->ip_bytes = tot;
	m->tos = h[1];
	m->ttl = h[8];
	l->l4 = l->off + hl;
	l->l4end = l->off + tot;
	m->l3 = h;
	m->l3_cap = room < tot ? room : tot;
	m->pl_off = hl;
	m->pl_len = tot - hl;
	m->flags &= (uint8_t)~PC_META_TCP_HDR;
	frag = rd16(h + 6);
	if (pc_likely(!(frag & 0x3fff))) /* neither MF nor an offset */
		return l4(h + hl, room - hl, tot - hl, proto, m);
	m->flags |= PC_META_FRAGMENT;
	frag_id_fill(&id, h + 12, h + 16, 4, 4, proto, rd16(h + 4));
	if (frag & 0x1fff)
		return frag_later(d, &id, m); /* pl_len: its IP payload */
	return frag_first(d, &id, h + hl, room - hl, tot - hl, proto, m);
}

enum pc_verdict pc_dec_ip6(struct pc_decoder *d, const uint8_t *pk, struct lnk *l,
			   struct pc_meta *m)
{
	uint32_t room = l->cap - l->off, orig = l->orig - l->off, len, o = 40, hl;
	struct pc_frag_id id;
	const uint8_t *h;
	bool frag = false;
	uint16_t fo;
	uint8_t nh;
	unsigned n;

	if (room < 1)
		return PC_DEC_TRUNCATED;
	h = pk + l->off; /* not before: @pk may be NULL when caplen is 0 */
	if (h[0] >> 4 != 6)
		return PC_DEC_MALFORMED;
	if (room < 40)
		return PC_DEC_TRUNCATED;
	len = rd16(h + 4) + 40u;
	nh = h[6];
	if (len == 40 && nh != IPPROTO_NONE_) {
		/* A jumbogram (RFC 2675) carries its length in a hop-by-hop option:
		 * not supported, malformed. Otherwise a TSO/BIG TCP capture. */
		if (nh == IPPROTO_HOPOPTS_)
			return PC_DEC_MALFORMED;
		len = orig;
	} else if (len > orig) {
		return PC_DEC_MALFORMED;
	}
	memcpy(m->key.addr[0], h + 8, 16);
	memcpy(m->key.addr[1], h + 24, 16);
	m->key.ipver = 6;
	m->ip_bytes = len;
	m->l3 = h;
	m->l3_cap = room < len ? room : len;
	m->flags &= (uint8_t)~PC_META_TCP_HDR;
	m->tos = (uint8_t)(rd16(h) >> 4);
	m->ttl = h[7];
	for (n = 0;; n++) {
		switch (nh) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_FRAGMENT_:
		case IPPROTO_AH_:
			break;
		default:
			goto upper;
		}
		if (n == MAX_IP6_EXT)
			return PC_DEC_MALFORMED;
		if (len - o < 2)
			return PC_DEC_MALFORMED;
		if (room - o < 2)
			return PC_DEC_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT_)
			hl = 8;
		else if (nh == IPPROTO_AH_)
			hl = (h[o + 1] + 2u) * 4;
		else
			hl = (h[o + 1] + 1u) * 8;
		if (len - o < hl)
			return PC_DEC_MALFORMED;
		if (room - o < hl)
			return PC_DEC_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT_) {
			fo = rd16(h + o + 2); /* offset << 3 | res | M */
			if (fo & 0xfff9) {    /* not an atomic fragment */
				if (frag)
					return PC_DEC_MALFORMED;
				frag = true;
				m->flags |= PC_META_FRAGMENT;
				frag_id_fill(&id, h + 8, h + 24, 16, 6, h[o], rd32(h + o + 4));
				if (fo & 0xfff8) {
					m->pl_len = len - o - hl;
					return frag_later(d, &id, m);
				}
			}
		}
		nh = h[o];
		o += hl;
	}
upper:
	m->key.proto = nh; /* ESP and no-next-header end here without ports */
	l->l4 = l->off + o;
	l->l4end = l->off + len;
	m->pl_off = o;
	m->pl_len = len - o;
	if (frag)
		return frag_first(d, &id, h + o, room - o, len - o, nh, m);
	return l4(h + o, room - o, len - o, nh, m);
}

/* The link stage: leaves the IP header's offset and version in @l. */
static pc_always_inline int link_stage(const struct pc_pkt *p, const uint8_t *pk, struct lnk *l,
				       struct pc_meta *m)
{
	uint32_t af;

	switch (p->linktype) {
	case PC_DLT_EN10MB:
		if (l->cap < ETH_HLEN)
			return PC_DEC_TRUNCATED;
		l->off = ETH_HLEN;
		memcpy(m->mac[0], pk + 6, 6);
		memcpy(m->mac[1], pk, 6);
		m->flags |= PC_META_HAS_MAC;
		if (pc_likely(rd16(pk + 12) == ETH_P_IP)) {
			l->ver = 4;
			return PC_DEC_OK;
		}
		return pc_dec_ethertype(pk, l, rd16(pk + 12), true);
	case PC_DLT_LINUX_SLL:
		if (l->cap < SLL_HLEN)
			return PC_DEC_TRUNCATED;
		l->off = SLL_HLEN;
		return pc_dec_ethertype(pk, l, rd16(pk + 14), false);
	case PC_DLT_LINUX_SLL2:
		if (l->cap < SLL2_HLEN)
			return PC_DEC_TRUNCATED;
		l->off = SLL2_HLEN;
		return pc_dec_ethertype(pk, l, rd16(pk), false);
	case PC_DLT_RAW:
	case DLT_RAW_14:
	case PC_DLT_RAW_101:
		if (l->cap < 1)
			return PC_DEC_TRUNCATED;
		l->ver = pk[0] >> 4;
		if (l->ver != 4 && l->ver != 6)
			return PC_DEC_MALFORMED;
		return PC_DEC_OK;
	case PC_DLT_IPV4:
		l->ver = 4;
		return PC_DEC_OK;
	case PC_DLT_IPV6:
		l->ver = 6;
		return PC_DEC_OK;
	case PC_DLT_NULL:
		if (l->cap < 4)
			return PC_DEC_TRUNCATED;
		/* host order of the writer: the family value is small, so it sits
		 * in the first byte (little-endian) or the last (big-endian) */
		af = rd32(pk);
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		l->off = 4;
		l->ver = pc_dec_af_version(af);
		return l->ver ? PC_DEC_OK : PC_DEC_NON_IP;
	case PC_DLT_LOOP:
		if (l->cap < 4)
			return PC_DEC_TRUNCATED;
		l->off = 4;
		l->ver = pc_dec_af_version(rd32(pk));
		return l->ver ? PC_DEC_OK : PC_DEC_NON_IP;
	case DLT_PPP:
	case DLT_PPP_SERIAL:
		return pc_dec_ppp(pk, l, 0);
	case DLT_C_HDLC:
		/* address, control, ethertype */
		if (l->cap < 4)
			return PC_DEC_TRUNCATED;
		l->off = 4;
		return pc_dec_ethertype(pk, l, rd16(pk + 2), false);
	case DLT_NFLOG:
		return pc_dec_nflog(pk, l);
	default:
		return PC_DEC_UNSUPPORTED_LINK;
	}
}

/* The outer link's MPLS stack and QinQ inner tag into @m. */
static void link_extras(const struct lnk *l, struct pc_meta *m)
{
	m->vlan_inner = l->vlan2;
	if (l->nlse)
		pc_dec_set_mpls(m, l);
}

enum pc_verdict pc_decode(struct pc_decoder *d, const struct pc_pkt *p, struct pc_meta *m)
{
	const uint8_t *pk = p->data;
	enum pc_verdict v;
	struct lnk l;
	int lv;

	/* mac[], mpls[] and outer_addr[] are only read under their flags: zero
	 * the rest, which is most of the cost of a small packet's decode */
	memset(m, 0, offsetof(struct pc_meta, mac));
	m->teid = 0;
	m->outer_ipver = 0;
	m->ts_ns = p->ts_ns;
	m->wirelen = p->wirelen;
	m->key.iface = p->ifindex;
	l.off = 0;
	l.cap = p->caplen;
	l.orig = p->wirelen > p->caplen ? p->wirelen : p->caplen;
	l.ver = 0;
	l.vlan = 0;
	l.vlan2 = 0;
	l.nlse = 0;

	lv = link_stage(p, pk, &l, m);
	m->key.vlan = l.vlan;
	if (pc_unlikely(l.vlan2 | l.nlse))
		link_extras(&l, m);
	if (pc_unlikely(lv != PC_DEC_OK)) {
		if (lv == PC_DEC_PW_ETH)
			return pc_decap(d, pk, &l, m, true);
		return (enum pc_verdict)lv;
	}
	if (pc_likely(l.ver == 4))
		v = pc_dec_ip4(d, pk, &l, m);
	else
		v = pc_dec_ip6(d, pk, &l, m);
	if (pc_unlikely(v == PC_DEC_OK && pc_dec_maybe_tunnel(d, m)))
		return pc_decap(d, pk, &l, m, false);
	return v;
}
