/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Link-layer stages of the decoder: ethertype chains (VLAN/QinQ, MPLS,
 * PPPoE, LLC/SNAP), PPP, NFLOG and BSD address families. Each leaves the IP
 * header's offset and version in a struct lnk, or returns a verdict; every
 * read is preceded by a check against l->cap.
 */
#include "decode/decode_int.h"

#define MAX_VLAN_TAGS 8
#define MAX_MPLS_LABELS 16
#define MAX_NFLOG_TLVS 64
#define NFULA_PAYLOAD 9

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

/* IP version for a BSD address family value, 0 if not IP. AF_INET6 differs by OS. */
unsigned pc_dec_af_version(uint32_t af)
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

/*
 * MPLS label stack at @o: pop to bottom of stack, then decide the payload by
 * its first nibble as routers, Wireshark and Zeek do: 4 IPv4, 6 IPv6, 0 the
 * pseudowire control word (RFC 4385) followed by an Ethernet frame. An
 * Ethernet pseudowire without a control word cannot be told from IP reliably
 * and is not decoded (non_ip). The first stack seen keeps its top entries.
 */
int pc_dec_mpls(const uint8_t *pk, struct lnk *l, uint32_t o)
{
	uint32_t cap = l->cap;
	bool keep = !l->nlse;
	unsigned n;

	for (n = 0;; n++) {
		if (n == MAX_MPLS_LABELS)
			return PC_DEC_MALFORMED;
		if (o > cap || cap - o < 4)
			return PC_DEC_TRUNCATED;
		if (keep && n < 3)
			l->lse[l->nlse++] = rd32(pk + o) >> 8; /* label, exp, s */
		o += 4;
		if (pk[o - 2] & 1) /* bottom of stack */
			break;
	}
	if (cap - o < 1)
		return PC_DEC_TRUNCATED;
	l->ver = pk[o] >> 4;
	l->off = o;
	if (l->ver == 0)
		return PC_DEC_PW_ETH; /* l->off: the control word */
	if (l->ver != 4 && l->ver != 6)
		return PC_DEC_NON_IP;
	return PC_DEC_OK;
}

/* 802.3 length field: only SNAP (AA AA 03, OUI 0) carries an ethertype. */
static int llc_snap(const uint8_t *pk, struct lnk *l, uint32_t *o)
{
	uint32_t cap = l->cap;
	uint16_t type;

	if (cap - *o < 3)
		return PC_DEC_TRUNCATED;
	if (pk[*o] != 0xaa || pk[*o + 1] != 0xaa || pk[*o + 2] != 0x03)
		return PC_DEC_NON_IP; /* STP, NetBIOS, ... */
	if (cap - *o < 8)
		return PC_DEC_TRUNCATED;
	if (pk[*o + 3] | pk[*o + 4] | pk[*o + 5])
		return PC_DEC_NON_IP; /* vendor OUI (CDP, ...) */
	type = rd16(pk + *o + 6);
	*o += 8;
	if (type == ETH_P_IP)
		l->ver = 4;
	else if (type == ETH_P_IPV6)
		l->ver = 6;
	else
		return PC_DEC_NON_IP;
	return PC_DEC_OK;
}

/*
 * Follow ethertype @type, whose header ends at l->off, through VLAN tags, MPLS,
 * PPPoE and (when @llc: Ethernet's 802.3 length field) LLC/SNAP to IPv4/IPv6.
 */
int pc_dec_ethertype(const uint8_t *pk, struct lnk *l, uint16_t type, bool llc)
{
	uint32_t o = l->off, cap = l->cap;
	unsigned n = 0;
	int v;

	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ1) {
		if (++n > MAX_VLAN_TAGS)
			return PC_DEC_MALFORMED;
		if (o > cap || cap - o < 4)
			return PC_DEC_TRUNCATED;
		if (n == 1)
			l->vlan = rd16(pk + o) & 0x0fff;
		else if (n == 2)
			l->vlan2 = rd16(pk + o) & 0x0fff;
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
		return pc_dec_mpls(pk, l, o);
	case ETH_P_PPP_SES:
		/* ver/type, code, session id, length, then the PPP protocol */
		if (o > cap || cap - o < 8)
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
		v = llc_snap(pk, l, &o);
		if (v != PC_DEC_OK)
			return v;
		break;
	}
	l->off = o;
	return PC_DEC_OK;
}

/* PPP at @o (DLT 9/50, PPTP): optional ff 03 HDLC framing, 1- or 2-byte
 * protocol field; IPv4, IPv6 and MPLS. */
int pc_dec_ppp(const uint8_t *pk, struct lnk *l, uint32_t o)
{
	uint32_t cap = l->cap;
	uint16_t proto;

	if (o > cap)
		return PC_DEC_TRUNCATED;
	if (cap - o >= 1 && pk[o] == 0xff) { /* all-stations address: HDLC framing */
		if (cap - o < 2)
			return PC_DEC_TRUNCATED;
		if (pk[o + 1] != 0x03)
			return PC_DEC_NON_IP;
		o += 2;
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
		return pc_dec_mpls(pk, l, o);
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
int pc_dec_nflog(const uint8_t *pk, struct lnk *l)
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
