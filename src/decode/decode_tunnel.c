/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decapsulation. While the payload of the IP header just decoded is a tunnel
 * (a UDP port of the decoder's table, GRE, IP-in-IP) or an MPLS stack ended
 * in a pseudowire, parse the tunnel header and decode the packet inside into
 * the same struct pc_meta, PC_DECAP_DEPTH levels at most. A tunnel whose
 * payload is not looked into (signalling, non-IP frames, encrypted PPP, an
 * outer fragment) leaves the packet in the flow of the layer above: nothing
 * is guessed. docs/TUNNELS.md describes the formats and the flow key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_int.h"
#include "util/names.h"

#define NOT_TUNNEL (-1)
#define ETH_HLEN 14
#define MAX_GTP_EXT 8

#define GRE_C 0x8000
#define GRE_R 0x4000
#define GRE_K 0x2000
#define GRE_S 0x1000
#define GRE_A 0x0080 /* PPTP acknowledgment number present */

enum nxt {
	NXT_ETH,
	NXT_IP4,
	NXT_IP6,
	NXT_IP,
	NXT_PPP,
	NXT_MPLS
};

/* One tunnel header: what it is and where its payload lies. */
struct tun {
	uint8_t type;  /* enum capture_tunnel */
	uint8_t next;  /* enum nxt */
	uint32_t id;   /* key.tunnel_id */
	uint32_t teid; /* per-direction id (GTP-U TEID, PPTP call id): meta.teid */
	uint32_t off;  /* payload start */
	uint32_t end;  /* payload end as the headers declare it */
};

static const char *const tunnel_names[CAPTURE_TUNNEL_COUNT] = {
	[CAPTURE_TUNNEL_NONE] = "none",	     [CAPTURE_TUNNEL_VXLAN] = "vxlan",
	[CAPTURE_TUNNEL_GENEVE] = "geneve",  [CAPTURE_TUNNEL_GRE] = "gre",
	[CAPTURE_TUNNEL_NVGRE] = "nvgre",    [CAPTURE_TUNNEL_ERSPAN] = "erspan",
	[CAPTURE_TUNNEL_PPTP] = "pptp",	     [CAPTURE_TUNNEL_GTPU] = "gtpu",
	[CAPTURE_TUNNEL_IPIP] = "ipip",	     [CAPTURE_TUNNEL_MPLS_UDP] = "mplsudp",
	[CAPTURE_TUNNEL_MPLS_PW] = "mplspw", [CAPTURE_TUNNEL_TEREDO] = "teredo",
	[CAPTURE_TUNNEL_AYIYA] = "ayiya",
};

CAPTURE_API const char *capture_tunnel_name(int type)
{
	if (type < 0 || type >= CAPTURE_TUNNEL_COUNT)
		return NULL;
	return tunnel_names[type];
}

static int tunnel_by_name(const char *s, size_t n)
{
	int i;

	for (i = 1; i < CAPTURE_TUNNEL_COUNT; i++)
		if (strlen(tunnel_names[i]) == n && !memcmp(tunnel_names[i], s, n))
			return i;
	return -1;
}

CAPTURE_API int capture_decap_parse(const char *list, uint32_t *decap_off)
{
	uint32_t on;

	if (!list || !decap_off)
		return -EINVAL;
	if (!strcmp(list, "all")) {
		*decap_off = 0;
		return 0;
	}
	if (!strcmp(list, "none")) {
		*decap_off = ((1u << CAPTURE_TUNNEL_COUNT) - 1) & ~1u;
		return 0;
	}
	if (pc_name_list_bits(list, tunnel_names, 1, CAPTURE_TUNNEL_COUNT, &on) < 0)
		return -CAPTURE_E_CONFIG;
	*decap_off = ((1u << CAPTURE_TUNNEL_COUNT) - 1) & ~1u & ~on;
	return 0;
}

/* ---------------------------------------------------------------- ports */

static bool udp_kind(int t)
{
	return t == CAPTURE_TUNNEL_VXLAN || t == CAPTURE_TUNNEL_GENEVE ||
	       t == CAPTURE_TUNNEL_GTPU || t == CAPTURE_TUNNEL_MPLS_UDP ||
	       t == CAPTURE_TUNNEL_TEREDO || t == CAPTURE_TUNNEL_AYIYA;
}

static int add_port(struct pc_decode_opts *o, int type, unsigned long port, char *err,
		    size_t errlen)
{
	unsigned i;

	for (i = 0; i < o->nports; i++) {
		if (o->port[i] == port) {
			if (err)
				snprintf(err, errlen, "tunnel ports: UDP port %lu given twice",
					 port);
			return -EINVAL;
		}
	}
	if (o->nports == PC_DECAP_MAX_PORTS) {
		if (err)
			snprintf(err, errlen, "tunnel ports: more than %d ports",
				 PC_DECAP_MAX_PORTS);
		return -EINVAL;
	}
	o->port[o->nports] = (uint16_t)port;
	o->port_type[o->nports++] = (uint8_t)type;
	return 0;
}

/* "PORT[+PORT...]" of @type between @p and @e. */
static int parse_port_list(struct pc_decode_opts *o, int type, const char *p, const char *e,
			   char *err, size_t errlen)
{
	const char *list = p;
	unsigned long v;
	char *end;
	int rc;

	while (p < e) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = strtoul(p, &end, 10);
		if (end > e || v < 1 || v > 65535 || (end < e && *end != '+'))
			goto bad;
		rc = add_port(o, type, v, err, errlen);
		if (rc)
			return rc;
		p = end < e ? end + 1 : end;
		if (end < e && p == e)
			goto bad; /* trailing '+' */
	}
	return 0;
bad:
	if (err)
		snprintf(err, errlen,
			 "tunnel ports: bad port list '%.*s' for %s (1..65535, '+' between)",
			 (int)(e - list), list, tunnel_names[type]);
	return -EINVAL;
}

int pc_decode_ports_parse(struct pc_decode_opts *o, const char *spec, char *err, size_t errlen)
{
	static const struct {
		uint8_t type;
		uint16_t port;
	} def[] = {
		{ CAPTURE_TUNNEL_VXLAN, 4789 },	   { CAPTURE_TUNNEL_VXLAN, 8472 },
		{ CAPTURE_TUNNEL_GENEVE, 6081 },   { CAPTURE_TUNNEL_GTPU, 2152 },
		{ CAPTURE_TUNNEL_MPLS_UDP, 6635 }, { CAPTURE_TUNNEL_TEREDO, 3544 },
		{ CAPTURE_TUNNEL_AYIYA, 5072 },
	};
	const char *p, *e, *eq;
	uint32_t given = 0;
	unsigned i;
	int t, rc;

	o->nports = 0;
	for (p = spec; p && *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		t = eq ? tunnel_by_name(p, (size_t)(eq - p)) : -1;
		if (t < 0 || !udp_kind(t)) {
			if (err)
				snprintf(
					err, errlen,
					"tunnel ports: '%.*s' is not NAME=PORT[+PORT] with NAME one of "
					"vxlan, geneve, gtpu, mplsudp, teredo, ayiya",
					(int)(e - p), p);
			return -EINVAL;
		}
		if (given & (1u << t)) {
			if (err)
				snprintf(err, errlen, "tunnel ports: %s given twice",
					 tunnel_names[t]);
			return -EINVAL;
		}
		given |= 1u << t;
		rc = parse_port_list(o, t, eq + 1, e, err, errlen);
		if (rc)
			return rc;
	}
	for (i = 0; i < sizeof(def) / sizeof(def[0]); i++) {
		if (given & (1u << def[i].type))
			continue;
		rc = add_port(o, def[i].type, def[i].port, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- headers */

/* @n bytes at @o: inside the declared payload (else malformed) and captured
 * (else truncated)? */
static int need(const struct lnk *l, uint32_t end, uint32_t o, uint32_t n)
{
	if (o > end || end - o < n)
		return PC_DEC_MALFORMED;
	if (o > l->cap || l->cap - o < n)
		return PC_DEC_TRUNCATED;
	return PC_DEC_OK;
}

/* VXLAN (RFC 7348): flags with I set, 3 reserved, VNI, reserved; Ethernet. */
static int vxlan(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off;
	int v = need(l, t->end, o, 8);

	if (v)
		return v;
	if (!(pk[o] & 0x08))
		return PC_DEC_MALFORMED; /* no VNI */
	t->id = rd24(pk + o + 4);
	t->off = o + 8;
	t->next = NXT_ETH;
	return PC_DEC_OK;
}

/* Geneve (RFC 8926): version 0, options skipped by their length. */
static int geneve(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off, hl;
	int v = need(l, t->end, o, 8);

	if (v)
		return v;
	if (pk[o] >> 6)
		return PC_DEC_MALFORMED;
	hl = 8 + (pk[o] & 0x3fu) * 4;
	v = need(l, t->end, o, hl);
	if (v)
		return v;
	t->id = rd24(pk + o + 4);
	t->off = o + hl;
	switch (rd16(pk + o + 2)) {
	case 0x6558:
		t->next = NXT_ETH;
		return PC_DEC_OK;
	case 0x0800:
		t->next = NXT_IP4;
		return PC_DEC_OK;
	case 0x86dd:
		t->next = NXT_IP6;
		return PC_DEC_OK;
	default:
		return PC_DEC_OUTER;
	}
}

/* GTP-U extension headers from @hl (4-byte units, next type last). */
static int gtp_ext(const uint8_t *pk, const struct lnk *l, const struct tun *t, uint32_t *hl,
		   uint8_t next)
{
	uint32_t o = t->off, len;
	unsigned n;
	int v;

	for (n = 0; next; n++) {
		if (n == MAX_GTP_EXT)
			return PC_DEC_MALFORMED;
		v = need(l, t->end, o + *hl, 1);
		if (v)
			return v;
		len = pk[o + *hl] * 4u;
		if (!len)
			return PC_DEC_MALFORMED;
		v = need(l, t->end, o + *hl, len);
		if (v)
			return v;
		next = pk[o + *hl + len - 1];
		*hl += len;
	}
	return PC_DEC_OK;
}

/* GTP-U v1 (3GPP TS 29.281): only G-PDUs carry user packets. */
static int gtpu(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off, hl = 8, len;
	int v = need(l, t->end, o, 8);
	uint8_t fl;

	if (v)
		return v;
	fl = pk[o];
	if (fl >> 5 != 1 || !(fl & 0x10))
		return PC_DEC_MALFORMED; /* not version 1 / GTP' */
	if (pk[o + 1] != 0xff)
		return PC_DEC_OUTER; /* echo, error indication, end marker */
	len = rd16(pk + o + 2);
	if (len > t->end - o - 8)
		return PC_DEC_MALFORMED;
	t->end = o + 8 + len;
	t->teid = rd32(pk + o + 4);
	if (fl & 0x07) { /* sequence number, N-PDU number, next extension type */
		v = need(l, t->end, o, 12);
		if (v)
			return v;
		hl = 12;
		v = gtp_ext(pk, l, t, &hl, (fl & 0x04) ? pk[o + 11] : 0);
		if (v)
			return v;
	}
	t->off = o + hl;
	t->next = NXT_IP;
	return PC_DEC_OK;
}

/* Teredo (RFC 4380): optional authentication and origin indicators, then
 * IPv6 whose length fills the datagram; anything else is plain UDP. */
static int teredo(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off, end = t->end, cap = l->cap < end ? l->cap : end;

	if (o + 4 <= cap && rd16(pk + o) == 0x0001) /* authentication */
		o += 4 + pk[o + 2] + pk[o + 3] + 9;
	if (o + 2 <= cap && rd16(pk + o) == 0x0000) /* origin indication */
		o += 8;
	if (o > cap || cap - o < 40 || pk[o] >> 4 != 6 || rd16(pk + o + 4) + 40u != end - o)
		return PC_DEC_OUTER;
	t->off = o;
	t->next = NXT_IP6;
	return PC_DEC_OK;
}

/* AYIYA: identity 2^idlen bytes, signature siglen * 4 bytes; opcode 1
 * (forward) carries the packet its next header names. */
static int ayiya(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off, hl;
	int v = need(l, t->end, o, 8);

	if (v)
		return v;
	hl = 8 + (1u << (pk[o] >> 4)) + (pk[o + 1] >> 4) * 4u;
	v = need(l, t->end, o, hl);
	if (v)
		return v;
	if ((pk[o + 2] & 0x0f) != 1)
		return PC_DEC_OUTER;
	if (pk[o + 3] == 41)
		t->next = NXT_IP6;
	else if (pk[o + 3] == 4)
		t->next = NXT_IP4;
	else
		return PC_DEC_OUTER;
	t->off = o + hl;
	return PC_DEC_OK;
}

/* ERSPAN type II (version 1, 8 bytes) and III (version 2, 12 bytes and an
 * optional 8-byte platform subheader); the session id is the tunnel id. */
static int erspan(const uint8_t *pk, const struct lnk *l, struct tun *t, bool type3)
{
	uint32_t o = t->off, hl = type3 ? 12 : 8;
	int v = need(l, t->end, o, hl);
	uint16_t w;

	if (v)
		return v;
	if (pk[o] >> 4 != (type3 ? 2 : 1))
		return PC_DEC_MALFORMED;
	t->type = CAPTURE_TUNNEL_ERSPAN;
	t->id = rd16(pk + o + 2) & 0x3ff;
	t->next = NXT_ETH;
	if (type3) {
		w = rd16(pk + o + 10); /* P, frame type, hw id, D, Gra, O */
		if (w & 1)
			hl += 8;
		v = need(l, t->end, o, hl);
		if (v)
			return v;
		if ((w >> 10 & 0x1f) == 2)
			t->next = NXT_IP;
		else if (w >> 10 & 0x1f)
			return PC_DEC_OUTER; /* a frame type we do not know */
	}
	t->off = o + hl;
	return PC_DEC_OK;
}

/* PPTP's enhanced GRE (RFC 2637): key = payload length and the peer's call id. */
static int pptp(const uint8_t *pk, const struct lnk *l, struct tun *t, uint16_t fl, uint16_t proto)
{
	uint32_t o = t->off, hl = 8, plen;
	int v;

	if (proto != 0x880b || !(fl & GRE_K))
		return PC_DEC_MALFORMED;
	hl += (fl & GRE_S ? 4 : 0) + (fl & GRE_A ? 4 : 0);
	v = need(l, t->end, o, hl);
	if (v)
		return v;
	plen = rd16(pk + o + 4);
	if (!plen)
		return PC_DEC_OUTER; /* an acknowledgment alone */
	if (plen > t->end - o - hl)
		return PC_DEC_MALFORMED;
	t->type = CAPTURE_TUNNEL_PPTP;
	t->teid = rd16(pk + o + 6);
	t->off = o + hl;
	t->end = t->off + plen;
	t->next = NXT_PPP;
	return PC_DEC_OK;
}

/* GRE (RFC 2784/2890), NVGRE (RFC 7637), ERSPAN I/II/III, PPTP. */
static int gre(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off, hl = 4, key = 0;
	int v = need(l, t->end, o, 4);
	uint16_t fl, proto;

	if (v)
		return v;
	fl = rd16(pk + o);
	proto = rd16(pk + o + 2);
	if ((fl & 7) == 1)
		return pptp(pk, l, t, fl, proto);
	if (fl & 7)
		return PC_DEC_MALFORMED; /* unknown version */
	if (fl & GRE_R)
		return PC_DEC_OUTER; /* RFC 1701 source routing: not decoded */
	hl += (fl & GRE_C ? 4 : 0);
	if (fl & GRE_K) {
		v = need(l, t->end, o, hl + 4);
		if (v)
			return v;
		key = rd32(pk + o + hl);
		hl += 4;
	}
	hl += (fl & GRE_S ? 4 : 0);
	v = need(l, t->end, o, hl);
	if (v)
		return v;
	t->type = CAPTURE_TUNNEL_GRE;
	t->id = key;
	t->off = o + hl;
	switch (proto) {
	case 0x0800:
		t->next = NXT_IP4;
		return PC_DEC_OK;
	case 0x86dd:
		t->next = NXT_IP6;
		return PC_DEC_OK;
	case 0x8847:
	case 0x8848:
		t->next = NXT_MPLS;
		return PC_DEC_OK;
	case 0x6558: /* transparent Ethernet bridging; NVGRE: key only */
		t->next = NXT_ETH;
		if ((fl & (GRE_C | GRE_K | GRE_S)) == GRE_K) {
			t->type = CAPTURE_TUNNEL_NVGRE;
			t->id = key >> 8; /* VSID; the low byte is a flow id */
		}
		return PC_DEC_OK;
	case 0x88be: /* ERSPAN type II; type I has no sequence number and no header */
		if (fl & GRE_S)
			return erspan(pk, l, t, false);
		t->type = CAPTURE_TUNNEL_ERSPAN;
		t->id = 0;
		t->next = NXT_ETH;
		return PC_DEC_OK;
	case 0x22eb:
		return erspan(pk, l, t, true);
	default:
		return PC_DEC_OUTER; /* keepalive, WCCP, ... */
	}
}

static int udp_type(const struct pc_decoder *d, uint16_t port)
{
	unsigned i;

	for (i = 0; i < d->nports; i++)
		if (d->port[i] == port)
			return d->port_type[i];
	return 0;
}

#define GRE_KINDS                                                                              \
	(1u << CAPTURE_TUNNEL_GRE | 1u << CAPTURE_TUNNEL_NVGRE | 1u << CAPTURE_TUNNEL_ERSPAN | \
	 1u << CAPTURE_TUNNEL_PPTP)

/* MPLS over UDP (RFC 7510): a label stack that ends (bottom-of-stack bit)
 * within 8 entries and is followed by IPv4, IPv6 or a pseudowire control
 * word; anything else is no MPLS. The MPLS stage walks the stack again. */
static int mpls_udp(const uint8_t *pk, const struct lnk *l, struct tun *t)
{
	uint32_t o = t->off;
	unsigned i;
	int v;

	for (i = 0; i < 8; i++, o += 4) {
		v = need(l, t->end, o, 4);
		if (v)
			return v;
		if (pk[o + 2] & 1)
			break;
	}
	if (i == 8)
		return PC_DEC_MALFORMED;
	v = need(l, t->end, o + 4, 1);
	if (v)
		return v;
	if (pk[o + 4] >> 4 != 4 && pk[o + 4] >> 4 != 6 && pk[o + 4] >> 4 != 0)
		return PC_DEC_MALFORMED;
	t->next = NXT_MPLS;
	return PC_DEC_OK;
}

/* A UDP tunnel is only a guess from a port number: a whole datagram whose
 * header does not parse as that tunnel is an ordinary UDP packet of its own
 * flow (an ephemeral port may well be 2152 or 4789), never a skip. A header
 * cut by the snap length stays "truncated": nobody can tell. */
static int by_port(int v)
{
	return v == PC_DEC_MALFORMED ? PC_DEC_OUTER : v;
}

/* Is the payload of @m's IP header (at l->l4) a tunnel? Parses its header into @t. */
static int classify(struct pc_decoder *d, const uint8_t *pk, const struct lnk *l,
		    const struct pc_meta *m, struct tun *t)
{
	uint32_t off = d->decap_off, ulen;
	int type = 0, v;

	switch (m->key.proto) {
	case 17:
		type = udp_type(d, m->key.port[1]);
		if (!type)
			type = udp_type(d, m->key.port[0]);
		break;
	case 4:
	case 41:
		type = CAPTURE_TUNNEL_IPIP;
		break;
	case 47:
		type = (off & GRE_KINDS) == GRE_KINDS ? 0 : CAPTURE_TUNNEL_GRE;
		off &= ~(1u << CAPTURE_TUNNEL_GRE); /* checked once the kind is known */
		break;
	}
	if (!type || (off & (1u << type)))
		return NOT_TUNNEL;
	if (m->flags & PC_META_FRAGMENT) {
		d->st.tunnel_fragments++; /* metered as the outer flow */
		return NOT_TUNNEL;
	}
	memset(t, 0, sizeof(*t));
	t->type = (uint8_t)type;
	t->off = l->l4;
	t->end = l->l4end;
	if (m->key.proto == 17) {
		v = need(l, t->end, t->off, 8);
		if (v)
			return v;
		ulen = rd16(pk + t->off + 4);
		if (ulen >= 8 && ulen < t->end - t->off)
			t->end = t->off + ulen; /* 0 or too long: TSO/GSO, the IP length */
		t->off += 8;
	}
	switch (type) {
	case CAPTURE_TUNNEL_VXLAN:
		return by_port(vxlan(pk, l, t));
	case CAPTURE_TUNNEL_GENEVE:
		return by_port(geneve(pk, l, t));
	case CAPTURE_TUNNEL_GTPU:
		return by_port(gtpu(pk, l, t));
	case CAPTURE_TUNNEL_MPLS_UDP:
		return by_port(mpls_udp(pk, l, t));
	case CAPTURE_TUNNEL_TEREDO:
		return by_port(teredo(pk, l, t));
	case CAPTURE_TUNNEL_AYIYA:
		return by_port(ayiya(pk, l, t));
	case CAPTURE_TUNNEL_IPIP:
		t->next = m->key.proto == 4 ? NXT_IP4 : NXT_IP6;
		return PC_DEC_OK;
	default:
		v = gre(pk, l, t);
		if (v == PC_DEC_OK && (d->decap_off & (1u << t->type)))
			return NOT_TUNNEL;
		return v;
	}
}

/* An MPLS pseudowire whose control word is at l->off: Ethernet after it. */
static int pseudowire(const struct pc_decoder *d, const struct lnk *l, struct tun *t)
{
	if (d->decap_off & (1u << CAPTURE_TUNNEL_MPLS_PW))
		return NOT_TUNNEL;
	memset(t, 0, sizeof(*t));
	t->type = CAPTURE_TUNNEL_MPLS_PW;
	t->next = NXT_ETH;
	t->off = l->off + 4;
	t->end = l->orig;
	return need(l, l->orig, l->off, 4);
}

/* ---------------------------------------------------------------- inside */

/* Start the next level: remember the outermost IP header, clear the tuple. */
static void enter(struct pc_meta *m, const struct tun *t)
{
	if (!m->outer_ipver && m->key.ipver) {
		m->outer_ipver = m->key.ipver;
		memcpy(m->outer_addr, m->key.addr, sizeof(m->outer_addr));
	}
	memset(m->key.addr, 0, sizeof(m->key.addr));
	m->key.port[0] = 0;
	m->key.port[1] = 0;
	m->key.proto = 0;
	m->key.ipver = 0;
	m->key.tunnel_type = t->type;
	m->key.tunnel_id = t->id;
	m->teid = t->teid;
	m->ip_bytes = 0;
	m->tcp_flags = 0;
	m->icmp_type = 0;
	m->icmp_code = 0;
	m->tos = 0;
	m->ttl = 0;
	m->l3 = NULL;
	m->l3_cap = 0;
	m->pl_off = 0;
	m->pl_len = 0;
	m->flags = (uint8_t)((m->flags & (PC_META_MPLS | PC_META_HAS_MAC)) | PC_META_TUNNEL);
}

/* An Ethernet frame at s->off: its MACs become the innermost ones. */
static int eth(const uint8_t *pk, struct lnk *s, struct pc_meta *m)
{
	uint32_t o = s->off;
	int v = need(s, s->orig, o, ETH_HLEN);

	if (v)
		return v;
	memcpy(m->mac[0], pk + o + 6, 6);
	memcpy(m->mac[1], pk + o, 6);
	m->flags |= PC_META_HAS_MAC;
	s->off = o + ETH_HLEN;
	return pc_dec_ethertype(pk, s, rd16(pk + o + 12), true);
}

/* Decode the payload of @t (link layer, then IP) into @m; @l becomes its window. */
static int inner(struct pc_decoder *d, const uint8_t *pk, struct lnk *l, struct pc_meta *m,
		 const struct tun *t)
{
	struct lnk s = *l;
	int v = PC_DEC_OK;

	s.off = t->off;
	s.orig = t->end;
	if (s.cap > t->end)
		s.cap = t->end;
	s.nlse = 0;
	switch (t->next) {
	case NXT_ETH:
		v = eth(pk, &s, m);
		break;
	case NXT_IP4:
		s.ver = 4;
		break;
	case NXT_IP6:
		s.ver = 6;
		break;
	case NXT_IP:
		v = need(&s, s.orig, s.off, 1);
		if (v)
			return v;
		s.ver = pk[s.off] >> 4;
		if (s.ver != 4 && s.ver != 6)
			return PC_DEC_OUTER;
		break;
	case NXT_PPP:
		v = pc_dec_ppp(pk, &s, s.off);
		break;
	default:
		v = pc_dec_mpls(pk, &s, s.off);
		break;
	}
	if (s.nlse && !(m->flags & PC_META_MPLS))
		pc_dec_set_mpls(m, &s);
	*l = s;
	if (v == PC_DEC_NON_IP)
		return PC_DEC_OUTER;
	if (v != PC_DEC_OK)
		return v; /* a verdict, or PC_DEC_PW_ETH */
	return s.ver == 4 ? pc_dec_ip4(d, pk, l, m) : pc_dec_ip6(d, pk, l, m);
}

enum pc_verdict pc_decap(struct pc_decoder *d, const uint8_t *pk, struct lnk *l, struct pc_meta *m,
			 bool pw)
{
	struct pc_meta up; /* the last level decoded to its IP header */
	bool decoded = !pw, have_up = false;
	unsigned depth;
	struct tun t;
	int v;

	for (depth = 0;; depth++) {
		v = pw ? pseudowire(d, l, &t) : classify(d, pk, l, m, &t);
		if (v == NOT_TUNNEL || v == PC_DEC_OUTER)
			break;
		if (v != PC_DEC_OK)
			return (enum pc_verdict)v;
		if (depth == PC_DECAP_DEPTH)
			return PC_DEC_TUNNEL_DEPTH;
		if (decoded) {
			up = *m;
			have_up = true;
		}
		enter(m, &t);
		v = inner(d, pk, l, m, &t);
		pw = v == PC_DEC_PW_ETH;
		decoded = v == PC_DEC_OK;
		if (v == PC_DEC_OUTER)
			break;
		if (v != PC_DEC_OK && !pw)
			return (enum pc_verdict)v;
	}
	if (decoded)
		return PC_DEC_OK;
	if (!have_up)
		return PC_DEC_NON_IP; /* a pseudowire right on the link, not decoded */
	*m = up;
	return PC_DEC_OK;
}
