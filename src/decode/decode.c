/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet decoder: link header -> VLAN/MPLS/PPPoE/LLC -> IPv4 or IPv6 (+extension
 * headers) -> L4 ports. One forward pass with no tables of function pointers;
 * every read is preceded by a check against caplen (-> truncated) or against
 * the lengths the headers themselves declare (-> malformed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"
#include "decode/decode.h"
#include "decode/frag.h"

#define MAX_VLAN_TAGS 8
#define MAX_MPLS_LABELS 16
#define MAX_IP6_EXT 16
#define MAX_NFLOG_TLVS 64

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ1 0x9100
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_P_PPP_SES 0x8864
#define ETH_P_802_3_MAX 1500

#define PPP_IP 0x0021
#define PPP_IPV6 0x0057
#define PPP_MPLS_UC 0x0281
#define PPP_MPLS_MC 0x0283

/* libpcap link types beyond the ones capture.h names */
#define DLT_RAW_14 14
#define DLT_PPP 9
#define DLT_PPP_SERIAL 50
#define DLT_C_HDLC 104
#define DLT_NFLOG 239
#define NFULA_PAYLOAD 9

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

struct pc_decoder {
	struct pc_decode_stats st;
	struct pc_frag_table ft;
};

/* Where the link stage leaves the IP header. */
struct lnk {
	uint32_t off;  /* IP header offset */
	uint32_t cap;  /* bytes that may be read (caplen; NFLOG: payload TLV end) */
	uint32_t orig; /* bytes on the wire, bound for IP length fields */
	unsigned ver;  /* 4 or 6 */
	uint16_t vlan;
};

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint16_t rd16le(const uint8_t *b)
{
	return (uint16_t)(b[1] << 8 | b[0]);
}

static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int pc_decoder_create(struct pc_decoder **out, uint32_t frag_slots, uint64_t frag_timeout_ns)
{
	struct pc_decoder *d;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	rc = pc_frag_init(&d->ft, frag_slots, frag_timeout_ns);
	if (rc < 0) {
		free(d);
		return rc;
	}
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

/* IP version for a BSD address family value, 0 if not IP. AF_INET6 differs by OS. */
static unsigned af_version(uint32_t af)
{
	switch (af) {
	case 2:
		return 4;
	case 10: /* Linux */
	case 24: /* OpenBSD, NetBSD */
	case 28: /* FreeBSD, DragonFly */
	case 30: /* macOS */
		return 6;
	default:
		return 0;
	}
}

/* MPLS label stack at @o: pop to bottom of stack, then IPv4/IPv6 by first nibble. */
static enum pc_verdict mpls(const uint8_t *pk, struct lnk *l, uint32_t o)
{
	uint32_t cap = l->cap;
	unsigned n;

	for (n = 0;; n++) {
		if (n == MAX_MPLS_LABELS)
			return PC_DEC_MALFORMED;
		if (cap - o < 4)
			return PC_DEC_TRUNCATED;
		o += 4;
		if (pk[o - 2] & 1) /* bottom of stack */
			break;
	}
	/* MPLS names no payload type: guess from the first nibble as routers do */
	if (cap - o < 1)
		return PC_DEC_TRUNCATED;
	l->ver = pk[o] >> 4;
	if (l->ver != 4 && l->ver != 6)
		return PC_DEC_NON_IP; /* pseudowire control word, Ethernet, ... */
	l->off = o;
	return PC_DEC_OK;
}

/*
 * Follow ethertype @type, whose header ends at l->off, through VLAN tags, MPLS,
 * PPPoE and (when @llc: Ethernet's 802.3 length field) LLC/SNAP to IPv4/IPv6.
 */
static enum pc_verdict ethertype(const uint8_t *pk, struct lnk *l, uint16_t type, bool llc)
{
	uint32_t o = l->off, cap = l->cap;
	unsigned n = 0;

	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ1) {
		if (++n > MAX_VLAN_TAGS)
			return PC_DEC_MALFORMED;
		if (cap - o < 4)
			return PC_DEC_TRUNCATED;
		if (n == 1)
			l->vlan = rd16(pk + o) & 0x0fff;
		type = rd16(pk + o + 2);
		o += 4;
	}
	switch (type) {
	case ETH_P_IP:
		l->ver = 4;
		break;
	case ETH_P_IPV6:
		l->ver = 6;
		break;
	case ETH_P_MPLS_UC:
	case ETH_P_MPLS_MC:
		return mpls(pk, l, o);
	case ETH_P_PPP_SES:
		/* ver/type, code, session id, length, then the PPP protocol */
		if (cap - o < 8)
			return PC_DEC_TRUNCATED;
		type = rd16(pk + o + 6);
		o += 8;
		if (type == PPP_IP)
			l->ver = 4;
		else if (type == PPP_IPV6)
			l->ver = 6;
		else
			return PC_DEC_NON_IP; /* LCP, IPCP, ... */
		break;
	default:
		if (!llc || type > ETH_P_802_3_MAX)
			return PC_DEC_NON_IP;
		/* 802.3 length: only SNAP (AA AA 03, OUI 0) carries an ethertype */
		if (cap - o < 3)
			return PC_DEC_TRUNCATED;
		if (pk[o] != 0xaa || pk[o + 1] != 0xaa || pk[o + 2] != 0x03)
			return PC_DEC_NON_IP; /* STP, NetBIOS, ... */
		if (cap - o < 8)
			return PC_DEC_TRUNCATED;
		if (pk[o + 3] | pk[o + 4] | pk[o + 5])
			return PC_DEC_NON_IP; /* vendor OUI (CDP, ...) */
		type = rd16(pk + o + 6);
		o += 8;
		if (type == ETH_P_IP)
			l->ver = 4;
		else if (type == ETH_P_IPV6)
			l->ver = 6;
		else
			return PC_DEC_NON_IP;
		break;
	}
	l->off = o;
	return PC_DEC_OK;
}

/* PPP (DLT 9/50): optional ff 03 HDLC framing, 1- or 2-byte protocol field;
 * IPv4, IPv6 and MPLS. */
static enum pc_verdict ppp(const uint8_t *pk, struct lnk *l)
{
	uint32_t o = 0, cap = l->cap;
	uint16_t proto;

	if (cap >= 1 && pk[0] == 0xff) { /* all-stations address: HDLC framing */
		if (cap < 2)
			return PC_DEC_TRUNCATED;
		if (pk[1] != 0x03)
			return PC_DEC_NON_IP;
		o = 2;
	}
	if (cap - o < 1)
		return PC_DEC_TRUNCATED;
	if (pk[o] & 1) { /* protocol field compression */
		proto = pk[o];
		o += 1;
	} else {
		if (cap - o < 2)
			return PC_DEC_TRUNCATED;
		proto = rd16(pk + o);
		o += 2;
	}
	if (proto == PPP_IP)
		l->ver = 4;
	else if (proto == PPP_IPV6)
		l->ver = 6;
	else if (proto == PPP_MPLS_UC || proto == PPP_MPLS_MC)
		return mpls(pk, l, o);
	else
		return PC_DEC_NON_IP;
	l->off = o;
	return PC_DEC_OK;
}

/*
 * NFLOG (DLT 239): family, version, resource id, then TLVs (length and type in
 * the writer's byte order, taken as little-endian) padded to 4 bytes; the IP
 * packet is the value of the NFULA_PAYLOAD TLV, which then bounds the packet.
 */
static enum pc_verdict nflog(const uint8_t *pk, struct lnk *l)
{
	uint32_t o = 4, cap = l->cap, orig = l->orig, tl;
	unsigned n;

	if (cap < 4)
		return PC_DEC_TRUNCATED;
	if (pk[1] != 0)
		return PC_DEC_MALFORMED;
	for (n = 0; o < orig; n++) {
		if (n == MAX_NFLOG_TLVS || orig - o < 4)
			return PC_DEC_MALFORMED;
		if (o > cap || cap - o < 4) /* o may pass cap by skipping TLVs */
			return PC_DEC_TRUNCATED;
		tl = rd16le(pk + o);
		if (tl < 4 || tl > orig - o)
			return PC_DEC_MALFORMED;
		if (rd16le(pk + o + 2) == NFULA_PAYLOAD) {
			if (pk[0] == 2)
				l->ver = 4;
			else if (pk[0] == 10)
				l->ver = 6;
			else
				return PC_DEC_NON_IP;
			l->off = o + 4;
			l->orig = o + tl;
			if (l->cap > l->orig)
				l->cap = l->orig;
			return PC_DEC_OK;
		}
		tl = (tl + 3) & ~3u;
		if (tl >= orig - o)
			break;
		o += tl;
	}
	return PC_DEC_NON_IP; /* no packet payload logged */
}

/*
 * Ports / ICMP type-code of @proto at @b: @room bytes captured, @len bytes of
 * payload the IP header declares.
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
	if (proto == IPPROTO_TCP_)
		m->tcp_flags = b[13];
	m->flags |= PC_META_HAS_L4;
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

static enum pc_verdict ip4(struct pc_decoder *d, const uint8_t *pk, const struct lnk *l,
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
	frag = rd16(h + 6);
	if (pc_likely(!(frag & 0x3fff))) /* neither MF nor an offset */
		return l4(h + hl, room - hl, tot - hl, proto, m);
	m->flags |= PC_META_FRAGMENT;
	frag_id_fill(&id, h + 12, h + 16, 4, 4, proto, rd16(h + 4));
	if (frag & 0x1fff)
		return frag_later(d, &id, m);
	return frag_first(d, &id, h + hl, room - hl, tot - hl, proto, m);
}

static enum pc_verdict ip6(struct pc_decoder *d, const uint8_t *pk, const struct lnk *l,
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
				if (fo & 0xfff8)
					return frag_later(d, &id, m);
			}
		}
		nh = h[o];
		o += hl;
	}
upper:
	m->key.proto = nh; /* ESP and no-next-header end here without ports */
	if (frag)
		return frag_first(d, &id, h + o, room - o, len - o, nh, m);
	return l4(h + o, room - o, len - o, nh, m);
}

enum pc_verdict pc_decode(struct pc_decoder *d, const struct pc_pkt *p, struct pc_meta *m)
{
	const uint8_t *pk = p->data;
	enum pc_verdict v = PC_DEC_OK;
	struct lnk l;
	uint32_t af;

	memset(m, 0, sizeof(*m));
	m->ts_ns = p->ts_ns;
	m->wirelen = p->wirelen;
	l.off = 0;
	l.cap = p->caplen;
	l.orig = p->wirelen > p->caplen ? p->wirelen : p->caplen;
	l.ver = 0;
	l.vlan = 0;

	switch (p->linktype) {
	case PC_DLT_EN10MB:
		if (l.cap < ETH_HLEN)
			return PC_DEC_TRUNCATED;
		l.off = ETH_HLEN;
		if (pc_likely(rd16(pk + 12) == ETH_P_IP))
			l.ver = 4;
		else
			v = ethertype(pk, &l, rd16(pk + 12), true);
		break;
	case PC_DLT_LINUX_SLL:
		if (l.cap < SLL_HLEN)
			return PC_DEC_TRUNCATED;
		l.off = SLL_HLEN;
		v = ethertype(pk, &l, rd16(pk + 14), false);
		break;
	case PC_DLT_LINUX_SLL2:
		if (l.cap < SLL2_HLEN)
			return PC_DEC_TRUNCATED;
		l.off = SLL2_HLEN;
		v = ethertype(pk, &l, rd16(pk), false);
		break;
	case PC_DLT_RAW:
	case DLT_RAW_14:
	case PC_DLT_RAW_101:
		if (l.cap < 1)
			return PC_DEC_TRUNCATED;
		l.ver = pk[0] >> 4;
		if (l.ver != 4 && l.ver != 6)
			return PC_DEC_MALFORMED;
		break;
	case PC_DLT_IPV4:
		l.ver = 4;
		break;
	case PC_DLT_IPV6:
		l.ver = 6;
		break;
	case PC_DLT_NULL:
		if (l.cap < 4)
			return PC_DEC_TRUNCATED;
		/* host order of the writer: the family value is small, so it sits
		 * in the first byte (little-endian) or the last (big-endian) */
		af = rd32(pk);
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		l.off = 4;
		l.ver = af_version(af);
		if (!l.ver)
			return PC_DEC_NON_IP;
		break;
	case PC_DLT_LOOP:
		if (l.cap < 4)
			return PC_DEC_TRUNCATED;
		l.off = 4;
		l.ver = af_version(rd32(pk));
		if (!l.ver)
			return PC_DEC_NON_IP;
		break;
	case DLT_PPP:
	case DLT_PPP_SERIAL:
		v = ppp(pk, &l);
		break;
	case DLT_C_HDLC:
		/* address, control, ethertype */
		if (l.cap < 4)
			return PC_DEC_TRUNCATED;
		l.off = 4;
		v = ethertype(pk, &l, rd16(pk + 2), false);
		break;
	case DLT_NFLOG:
		v = nflog(pk, &l);
		break;
	default:
		return PC_DEC_UNSUPPORTED_LINK;
	}
	if (v != PC_DEC_OK)
		return v;
	m->key.vlan = l.vlan;
	if (pc_likely(l.ver == 4))
		return ip4(d, pk, &l, m);
	return ip6(d, pk, &l, m);
}
