/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoder internals shared by decode.c (entry, IP, L4), decode_link.c (link
 * layers, VLAN, MPLS, PPP) and decode_tunnel.c (decapsulation). A struct lnk
 * is a window over the packet: every read stays below cap, every length field
 * is checked against orig.
 */
#ifndef PC_DECODE_INT_H
#define PC_DECODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"
#include "decode/frag.h"

/* Internal results beside enum pc_verdict, never returned by pc_decode(). */
#define PC_DEC_PW_ETH 64 /* MPLS pseudowire: l->off at its control word */
#define PC_DEC_OUTER 65	 /* tunnel payload we do not look into: meter the layer above */

struct pc_decoder {
	struct pc_decode_stats st;
	struct pc_frag_table ft;
	uint32_t decap_off; /* 1u << CAPTURE_TUNNEL_x: not decapsulated */
	unsigned nports;
	uint64_t port_hint[16]; /* bit (port & 1023): a tunnel port may match */
	uint16_t port[PC_DECAP_MAX_PORTS];
	uint8_t port_type[PC_DECAP_MAX_PORTS];
};

/* Where the link stage leaves the IP header, and the IP stage its payload. */
struct lnk {
	uint32_t off;  /* IP header offset */
	uint32_t cap;  /* bytes that may be read (caplen; NFLOG: payload TLV end) */
	uint32_t orig; /* bytes on the wire, bound for IP length fields */
	unsigned ver;  /* 4 or 6 */
	uint16_t vlan;
	uint16_t vlan2;	 /* second VLAN tag (QinQ inner), 0 if none */
	uint32_t l4;	 /* set by the IP stage: offset of its payload */
	uint32_t l4end;	 /* end of that payload as the IP header declares it */
	uint32_t lse[3]; /* top MPLS label stack entries of the first stack */
	uint8_t nlse;	 /* how many of lse[] are set */
};

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint16_t rd16le(const uint8_t *b)
{
	return (uint16_t)(b[1] << 8 | b[0]);
}

static inline uint32_t rd24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* decode_link.c: @type's header ends at l->off; follows VLAN tags, MPLS,
 * PPPoE and (@llc) LLC/SNAP to IPv4/IPv6 (l->ver, l->off). */
int pc_dec_ethertype(const uint8_t *pk, struct lnk *l, uint16_t type, bool llc);
/* PPP frame at @o (optional ff 03, 1- or 2-byte protocol). */
int pc_dec_ppp(const uint8_t *pk, struct lnk *l, uint32_t o);
/* MPLS label stack at @o; PC_DEC_PW_ETH for a control word + Ethernet. */
int pc_dec_mpls(const uint8_t *pk, struct lnk *l, uint32_t o);
int pc_dec_nflog(const uint8_t *pk, struct lnk *l);
unsigned pc_dec_af_version(uint32_t af);

/* decode.c: the IP header at l->off into @m; sets l->l4 / l->l4end. */
enum pc_verdict pc_dec_ip4(struct pc_decoder *d, const uint8_t *pk, struct lnk *l,
			   struct pc_meta *m);
enum pc_verdict pc_dec_ip6(struct pc_decoder *d, const uint8_t *pk, struct lnk *l,
			   struct pc_meta *m);

/* decode_tunnel.c: decapsulate while @m's payload is a tunnel (@pw: the link
 * stage already found an MPLS pseudowire at l->off). Returns a verdict. */
enum pc_verdict pc_decap(struct pc_decoder *d, const uint8_t *pk, struct lnk *l, struct pc_meta *m,
			 bool pw);

/* The first MPLS stack's top entries (l->nlse of them, the rest zero) into @m. */
static inline void pc_dec_set_mpls(struct pc_meta *m, const struct lnk *l)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		m->mpls[i] = i < l->nlse ? l->lse[i] : 0;
	m->flags |= PC_META_MPLS;
}

/* May @m (decoded OK, not yet decapsulated) carry a tunnel? Cheap filter. */
static inline bool pc_dec_maybe_tunnel(const struct pc_decoder *d, const struct pc_meta *m)
{
	uint16_t a = m->key.port[0], b = m->key.port[1];

	switch (m->key.proto) {
	case 17:
		return (d->port_hint[(b >> 6) & 15] >> (b & 63) & 1) ||
		       (d->port_hint[(a >> 6) & 15] >> (a & 63) & 1);
	case 4:
	case 41:
	case 47:
		return true;
	default:
		return false;
	}
}

#endif
