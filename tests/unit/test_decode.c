/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the packet decoder: hand-built packets for every link type and
 * encapsulation, exact keys and lengths, and one test per non-OK verdict
 * (truncation swept over every caplen below what a packet needs).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

/* ------------------------------------------------------------ assertions */

#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                                       \
	do {                                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);                          \
		if (a_ != b_) {                                                              \
			fprintf(stderr, "%s:%d: %s is %lld, expected %s = %lld\n", __FILE__, \
				__LINE__, #a, a_, #b, b_);                                   \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

static void hexdump(const char *what, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	fprintf(stderr, "  %s:", what);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %02x", b[i]);
	fprintf(stderr, "\n");
}

#define CHECK_KEY(got, want)                                                              \
	do {                                                                              \
		if (memcmp(&(got), &(want), sizeof(want))) {                              \
			fprintf(stderr, "%s:%d: flow key differs\n", __FILE__, __LINE__); \
			hexdump("got ", &(got), sizeof(got));                             \
			hexdump("want", &(want), sizeof(want));                           \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

/* ------------------------------------------------------- packet builders */

#define HI(x) (uint8_t)(((x) >> 8) & 0xff)
#define LO(x) (uint8_t)((x)&0xff)
#define MAC_A 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01
#define MAC_B 0x02, 0x00, 0x5e, 0x00, 0x00, 0x02
/* Ethernet: dst MAC, src MAC, ethertype */
#define ETH(type) MAC_B, MAC_A, HI(type), LO(type)
/* VLAN tag after a TPID: TCI (PCP/DEI/VID), next ethertype */
#define TCI(tci, next) HI(tci), LO(tci), HI(next), LO(next)
/* MPLS label stack entry: label, TC 0, bottom-of-stack bit, TTL 64 */
#define MPLS(label, s) \
	(uint8_t)((label) >> 12), (uint8_t)((label) >> 4), (uint8_t)(((label)&0xf) << 4 | (s)), 64
#define A4 198, 18, 0, 1
#define B4 198, 19, 0, 1
#define A6 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01
#define B6 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02
/* IPv4 header: version/IHL byte, total length, id, flags+offset, protocol, src, dst */
#define IP4X(vihl, tot, id, frag, proto, ...)                                                  \
	(vihl), 0x00, HI(tot), LO(tot), HI(id), LO(id), HI(frag), LO(frag), 64, (proto), 0x00, \
		0x00, __VA_ARGS__
#define IP4(tot, id, frag, proto) IP4X(0x45, tot, id, frag, proto, A4, B4)
/* IPv6 header: payload length, next header, src A6, dst B6 */
#define IP6(plen, nh) 0x60, 0x00, 0x00, 0x00, HI(plen), LO(plen), (nh), 64, A6, B6
/* TCP header (20 bytes): ports, seq 1, ack 0, data offset 5, flags, window */
#define TCP(sp, dp, flags)                                                                       \
	HI(sp), LO(sp), HI(dp), LO(dp), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, (flags), 0xff, 0xff, 0, 0, \
		0, 0
/* UDP header (8 bytes): ports, length, checksum 0 */
#define UDP(sp, dp, len) HI(sp), LO(sp), HI(dp), LO(dp), HI(len), LO(len), 0, 0
/* IPv6 destination options / hop-by-hop header of 8 bytes (PadN 4) */
#define OPT8(nh) (nh), 0, 0x01, 0x04, 0, 0, 0, 0
/* IPv6 fragment header: next header, offset in 8-byte units, M flag, id */
#define FRAG6(nh, off, m, id) \
	(nh), 0, HI((off) << 3 | (m)), LO((off) << 3 | (m)), 0, 0, HI(id), LO(id)

static const uint8_t a4[] = { A4 }, b4[] = { B4 }, a6[] = { A6 }, b6[] = { B6 };

static struct pc_flow_key key(int ver, uint16_t sp, uint16_t dp, uint8_t proto, uint16_t vlan)
{
	struct pc_flow_key k;

	memset(&k, 0, sizeof(k));
	if (ver == 4) {
		memcpy(k.addr[0], a4, 4);
		memcpy(k.addr[1], b4, 4);
	} else {
		memcpy(k.addr[0], a6, 16);
		memcpy(k.addr[1], b6, 16);
	}
	k.port[0] = sp;
	k.port[1] = dp;
	k.proto = proto;
	k.ipver = (uint8_t)ver;
	k.vlan = vlan;
	return k;
}

/* ------------------------------------------------------------- harness */

static struct pc_decoder *dec;
static uint64_t now_ns = 1700000000000000000ull;

/* Decode the first @cap bytes of @b (wire length @n) from an exact-size heap
 * copy, so sanitizer builds catch any read past caplen. */
static enum pc_verdict decode_cap(int lt, const uint8_t *b, size_t n, size_t cap, struct pc_meta *m)
{
	uint8_t *copy = malloc(cap ? cap : 1);
	struct pc_pkt p;
	enum pc_verdict v;

	CHECK(copy != NULL);
	memcpy(copy, b, cap);
	memset(&p, 0xa5, sizeof(p));
	p.data = copy;
	p.caplen = (uint32_t)cap;
	p.wirelen = (uint32_t)n;
	p.ts_ns = ++now_ns;
	p.linktype = (uint16_t)lt;
	p.ifindex = 0;
	v = pc_decode(dec, &p, m);
	free(copy);
	if (v == PC_DEC_OK) {
		CHECK_EQ(m->ts_ns, now_ns);
		CHECK_EQ(m->wirelen, n);
	}
	return v;
}

static enum pc_verdict decode(int lt, const uint8_t *b, size_t n, struct pc_meta *m)
{
	return decode_cap(lt, b, n, n, m);
}

#define DECODE(lt, arr, m) decode(lt, arr, sizeof(arr), m)

/* Every caplen below @need is truncated, @need itself decodes. */
static void sweep_at(int line, int lt, const uint8_t *b, size_t n, size_t need)
{
	struct pc_meta m;
	enum pc_verdict v;
	size_t cap;

	for (cap = 0; cap <= n; cap++) {
		v = decode_cap(lt, b, n, cap, &m);
		if (v != (cap < need ? PC_DEC_TRUNCATED : PC_DEC_OK)) {
			fprintf(stderr, "%s:%d: caplen %zu of %zu (need %zu): verdict %d\n",
				__FILE__, line, cap, n, need, v);
			exit(1);
		}
	}
}

#define SWEEP(lt, arr, need) sweep_at(__LINE__, lt, arr, sizeof(arr), need)

/* Expect OK with exactly this key, ip_bytes, tcp flags and meta flags. */
static void expect_at(int line, int lt, const uint8_t *b, size_t n, struct pc_flow_key k,
		      uint32_t ip_bytes, uint8_t tcp_flags, uint8_t flags)
{
	struct pc_meta m;
	enum pc_verdict v = decode(lt, b, n, &m);

	if (lt == 1)
		flags |= PC_META_HAS_MAC; /* every Ethernet frame has them */
	if (v != PC_DEC_OK) {
		fprintf(stderr, "%s:%d: verdict %d, expected OK\n", __FILE__, line, v);
		exit(1);
	}
	/* a whole TCP header is flagged too (its fields are tested on their own) */
	if (k.proto == 6 && (m.flags & PC_META_TCP_HDR))
		flags |= PC_META_TCP_HDR;
	if (memcmp(&m.key, &k, sizeof(k)) || m.ip_bytes != ip_bytes || m.tcp_flags != tcp_flags ||
	    m.flags != flags) {
		fprintf(stderr, "%s:%d: ip_bytes %u/%u tcp_flags %#x/%#x flags %#x/%#x\n", __FILE__,
			line, m.ip_bytes, ip_bytes, m.tcp_flags, tcp_flags, m.flags, flags);
		hexdump("got key ", &m.key, sizeof(m.key));
		hexdump("want key", &k, sizeof(k));
		exit(1);
	}
}

#define EXPECT(lt, arr, k, ipb, tf, fl) expect_at(__LINE__, lt, arr, sizeof(arr), k, ipb, tf, fl)

static void verdict_at(int line, int lt, const uint8_t *b, size_t n, enum pc_verdict want)
{
	struct pc_meta m;
	enum pc_verdict v = decode(lt, b, n, &m);

	if (v != want) {
		fprintf(stderr, "%s:%d: verdict %d, expected %d\n", __FILE__, line, v, want);
		exit(1);
	}
}

#define VERDICT(lt, arr, want) verdict_at(__LINE__, lt, arr, sizeof(arr), want)

#define L4 PC_META_HAS_L4
#define EN 1
#define SLL 113
#define SLL2 276
#define TCP_SYN 0x02

/* ----------------------------------------------------------- Ethernet, L2 */

static void test_ethernet_ipv4_tcp(void)
{
	/* Ethernet | IPv4 198.18.0.1 -> 198.19.0.1 DF | TCP 1024 -> 80 SYN */
	static const uint8_t pkt[] = {
		ETH(0x0800),
		IP4(40, 0x1234, 0x4000, 6),
		TCP(1024, 80, TCP_SYN),
	};
	struct pc_meta m;

	EXPECT(EN, pkt, key(4, 1024, 80, 6, 0), 40, TCP_SYN, L4);
	CHECK_EQ(DECODE(EN, pkt, &m), PC_DEC_OK);
	CHECK_EQ(m.icmp_type, 0);
	CHECK_EQ(m.icmp_code, 0);
	/* Ethernet ends at 14, IPv4 at 34, TCP ports+flags at 48 */
	SWEEP(EN, pkt, 48);
}

static void test_ethernet_padding(void)
{
	/* Ethernet | IPv4 total length 28 | UDP 7 -> 9 | 18 bytes of minimum-frame padding */
	static const uint8_t pkt[] = {
		ETH(0x0800),
		IP4(28, 1, 0, 17),
		UDP(7, 9, 8),
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
	};

	EXPECT(EN, pkt, key(4, 7, 9, 17, 0), 28, 0, L4);
}

static void test_vlan(void)
{
	/* Ethernet | 802.1Q PCP 5 vid 100 | IPv4 198.18.0.1 -> 198.19.0.1 | UDP 5353 -> 53 */
	static const uint8_t pkt[] = {
		ETH(0x8100),
		TCI(0xa000 | 100, 0x0800),
		IP4(28, 1, 0, 17),
		UDP(5353, 53, 8),
	};

	EXPECT(EN, pkt, key(4, 5353, 53, 17, 100), 28, 0, L4);
	SWEEP(EN, pkt, 18 + 20 + 4);
}

static void test_qinq(void)
{
	/* Ethernet | 802.1ad vid 200 | 802.1Q vid 100 | IPv4 | TCP 40000 -> 443 ACK */
	static const uint8_t qinq[] = {
		ETH(0x88a8),	  TCI(200, 0x8100),	 TCI(100, 0x0800),
		IP4(40, 2, 0, 6), TCP(40000, 443, 0x10),
	};
	/* Ethernet | 0x9100 tag vid 4095 | 802.1Q vid 7 | IPv6 2001:db8::1 -> ::2 | UDP 1 -> 2 */
	static const uint8_t old_qinq[] = {
		ETH(0x9100), TCI(0x0fff, 0x8100), TCI(7, 0x86dd), IP6(8, 17), UDP(1, 2, 8),
	};

	EXPECT(EN, qinq, key(4, 40000, 443, 6, 200), 40, 0x10, L4);
	SWEEP(EN, qinq, 22 + 20 + 14);
	EXPECT(EN, old_qinq, key(6, 1, 2, 17, 4095), 48, 0, L4);
}

static void test_vlan_tag_limit(void)
{
	/* Ethernet | 8 x 802.1Q (vid 10, 11, ...) | IPv4 | UDP 1 -> 2: the most tags allowed */
	static const uint8_t eight[] = {
		ETH(0x8100),	 TCI(10, 0x8100),   TCI(11, 0x8100), TCI(12, 0x8100),
		TCI(13, 0x8100), TCI(14, 0x8100),   TCI(15, 0x8100), TCI(16, 0x8100),
		TCI(17, 0x0800), IP4(28, 1, 0, 17), UDP(1, 2, 8),
	};
	/* Ethernet | 9 x 802.1Q | IPv4 | UDP: one tag too many -> malformed */
	static const uint8_t nine[] = {
		ETH(0x8100),	 TCI(10, 0x8100), TCI(11, 0x8100),   TCI(12, 0x8100),
		TCI(13, 0x8100), TCI(14, 0x8100), TCI(15, 0x8100),   TCI(16, 0x8100),
		TCI(17, 0x8100), TCI(18, 0x0800), IP4(28, 1, 0, 17), UDP(1, 2, 8),
	};

	EXPECT(EN, eight, key(4, 1, 2, 17, 10), 28, 0, L4);
	VERDICT(EN, nine, PC_DEC_MALFORMED);
}

static void test_mpls(void)
{
	/* Ethernet | MPLS 16 | MPLS 17 (bottom) | IPv4 | TCP 1024 -> 80 SYN+ACK */
	static const uint8_t two[] = {
		ETH(0x8847), MPLS(16, 0), MPLS(17, 1), IP4(40, 3, 0, 6), TCP(1024, 80, 0x12),
	};
	/* Ethernet | 802.1Q vid 5 | MPLS multicast 1000 (bottom) | IPv6 | UDP 546 -> 547 */
	static const uint8_t v6[] = {
		ETH(0x8100), TCI(5, 0x8848), MPLS(1000, 1), IP6(8, 17), UDP(546, 547, 8),
	};
	/* Ethernet | MPLS 16 (bottom) | pseudowire control word 0000 | Ethernet IPv4, cut */
	static const uint8_t pw[] = {
		ETH(0x8847), MPLS(16, 1), 0x00, 0x00, 0x00, 0x00, ETH(0x0800),
	};
	/* Ethernet | 16 MPLS labels, the 16th bottom of stack | IPv4 | UDP 1 -> 2 */
	static const uint8_t deep[] = {
		ETH(0x8847), MPLS(1, 0),  MPLS(2, 0),	     MPLS(3, 0),   MPLS(4, 0),
		MPLS(5, 0),  MPLS(6, 0),  MPLS(7, 0),	     MPLS(8, 0),   MPLS(9, 0),
		MPLS(10, 0), MPLS(11, 0), MPLS(12, 0),	     MPLS(13, 0),  MPLS(14, 0),
		MPLS(15, 0), MPLS(16, 1), IP4(28, 1, 0, 17), UDP(1, 2, 8),
	};
	/* Ethernet | 17 MPLS labels, none the bottom within the bound -> malformed */
	static const uint8_t too_deep[] = {
		ETH(0x8847), MPLS(1, 0),  MPLS(2, 0),  MPLS(3, 0),	  MPLS(4, 0),
		MPLS(5, 0),  MPLS(6, 0),  MPLS(7, 0),  MPLS(8, 0),	  MPLS(9, 0),
		MPLS(10, 0), MPLS(11, 0), MPLS(12, 0), MPLS(13, 0),	  MPLS(14, 0),
		MPLS(15, 0), MPLS(16, 0), MPLS(17, 1), IP4(28, 1, 0, 17), UDP(1, 2, 8),
	};

	EXPECT(EN, two, key(4, 1024, 80, 6, 0), 40, 0x12, L4 | PC_META_MPLS);
	SWEEP(EN, two, 22 + 20 + 14);
	EXPECT(EN, v6, key(6, 546, 547, 17, 5), 48, 0, L4 | PC_META_MPLS);
	SWEEP(EN, v6, 22 + 40 + 4);
	VERDICT(EN, pw, PC_DEC_TRUNCATED); /* the emulated frame ends at its header */
	EXPECT(EN, deep, key(4, 1, 2, 17, 0), 28, 0, L4 | PC_META_MPLS);
	VERDICT(EN, too_deep, PC_DEC_MALFORMED);
}

static void test_pppoe(void)
{
	/* Ethernet | PPPoE session 0x1234 | PPP IPv4 | IPv4 | UDP 500 -> 4500 */
	static const uint8_t v4[] = {
		ETH(0x8864),	   0x11, 0x00, 0x12, 0x34, 0x00, 30, 0x00, 0x21, IP4(28, 9, 0, 17),
		UDP(500, 4500, 8),
	};
	/* Ethernet | PPPoE session | PPP IPv6 | IPv6 | TCP 22 -> 50000 FIN+ACK */
	static const uint8_t v6[] = {
		ETH(0x8864),	      0x11, 0x00, 0x12, 0x34, 0x00, 62, 0x00, 0x57, IP6(20, 6),
		TCP(22, 50000, 0x11),
	};
	/* Ethernet | PPPoE session | PPP LCP echo request -> non-IP */
	static const uint8_t lcp[] = {
		ETH(0x8864), 0x11, 0x00, 0x12, 0x34, 0x00, 10, 0xc0, 0x21,
		0x09,	     0x01, 0x00, 0x08, 0,    0,	   0,  0,
	};

	EXPECT(EN, v4, key(4, 500, 4500, 17, 0), 28, 0, L4);
	SWEEP(EN, v4, 22 + 20 + 4);
	EXPECT(EN, v6, key(6, 22, 50000, 6, 0), 60, 0x11, L4);
	VERDICT(EN, lcp, PC_DEC_NON_IP);
}

static void test_llc_snap(void)
{
	/* Ethernet 802.3 length 36 | LLC AA AA 03 | SNAP OUI 0 type IPv4 | IPv4 | UDP 67 -> 68 */
	static const uint8_t snap[] = {
		ETH(36),	   0xaa,	   0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00,
		IP4(28, 1, 0, 17), UDP(67, 68, 8),
	};
	/* Ethernet 802.3 length 38 | LLC 42 42 03 | STP configuration BPDU -> non-IP */
	static const uint8_t stp[] = {
		ETH(38), 0x42, 0x42, 0x03,  0x00, 0x00, 0x00, 0x00, 0x80, 0x00, MAC_A, 0, 0,	0,
		0,	 0x80, 0x00, MAC_A, 0x80, 0x01, 0,    0,    0x14, 0,	0x02,  0, 0x0f, 0,
	};
	/* Ethernet 802.3 | LLC AA AA 03 | SNAP OUI 00000c (Cisco) type 2000 CDP -> non-IP */
	static const uint8_t cdp[] = {
		ETH(20), 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, 0x02, 0xb4, 0, 0,
	};

	EXPECT(EN, snap, key(4, 67, 68, 17, 0), 28, 0, L4);
	SWEEP(EN, snap, 22 + 20 + 4);
	VERDICT(EN, stp, PC_DEC_NON_IP);
	VERDICT(EN, cdp, PC_DEC_NON_IP);
}

static void test_non_ip(void)
{
	/* Ethernet | ARP request who-has 198.19.0.1 tell 198.18.0.1 -> non-IP */
	static const uint8_t arp[] = {
		ETH(0x0806), 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
		MAC_A,	     A4,   0,	 0,    0,    0, 0, 0,	 B4,
	};
	/* Ethernet | 802.1Q vid 3 | LLDP (0x88cc) -> non-IP */
	static const uint8_t lldp[] = { ETH(0x8100), TCI(3, 0x88cc), 0x02, 0x07, 0x04 };

	VERDICT(EN, arp, PC_DEC_NON_IP);
	VERDICT(EN, lldp, PC_DEC_NON_IP);
}

/* ------------------------------------------------------------ link types */

static void test_sll(void)
{
	/* SLL outgoing, ARPHRD_ETHER, 6-byte address, protocol IPv4 | IPv4 | TCP 1024 -> 80 SYN */
	static const uint8_t v4[] = {
		0x00,
		0x04,
		0x00,
		0x01,
		0x00,
		0x06,
		MAC_A,
		0x00,
		0x00,
		0x08,
		0x00,
		IP4(40, 1, 0, 6),
		TCP(1024, 80, TCP_SYN),
	};
	/* SLL, protocol 802.1Q (not offloaded) | vid 42 | IPv6 | UDP 1 -> 2 */
	static const uint8_t vlan[] = {
		0x00,	    0x00,	  0x00, 0x01, 0x00, 0x06,
		MAC_A,	    0x00,	  0x00, 0x81, 0x00, TCI(42, 0x86dd),
		IP6(8, 17), UDP(1, 2, 8),
	};
	/* SLL, protocol 0x0004 (802.2 LLC frame) -> non-IP (no 802.3 length semantics) */
	static const uint8_t llc[] = {
		0x00, 0x00, 0x00, 0x01, 0x00, 0x06, MAC_A, 0x00, 0x00, 0x00,
		0x04, 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00,  0x08, 0x00,
	};

	EXPECT(SLL, v4, key(4, 1024, 80, 6, 0), 40, TCP_SYN, L4);
	SWEEP(SLL, v4, 16 + 20 + 14);
	EXPECT(SLL, vlan, key(6, 1, 2, 17, 42), 48, 0, L4);
	VERDICT(SLL, llc, PC_DEC_NON_IP);
}

static void test_sll2(void)
{
	/* SLL2 protocol IPv6, ifindex 3, ARPHRD_ETHER, host, 6-byte address |
	 * IPv6 | UDP 53 -> 3333 */
	static const uint8_t v6[] = {
		0x86,
		0xdd,
		0x00,
		0x00,
		0x00,
		0x00,
		0x00,
		0x03,
		0x00,
		0x01,
		0x00,
		0x06,
		MAC_A,
		0x00,
		0x00,
		IP6(8, 17),
		UDP(53, 3333, 8),
	};
	/* SLL2 protocol ARP -> non-IP */
	static const uint8_t arp[] = {
		0x08, 0x06, 0x00,  0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01,
		0x00, 0x06, MAC_A, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
	};

	EXPECT(SLL2, v6, key(6, 53, 3333, 17, 0), 48, 0, L4);
	SWEEP(SLL2, v6, 20 + 40 + 4);
	VERDICT(SLL2, arp, PC_DEC_NON_IP);
}

static void test_raw(void)
{
	/* raw IP: IPv4 | UDP 123 -> 123 */
	static const uint8_t v4[] = { IP4(28, 1, 0, 17), UDP(123, 123, 8) };
	/* raw IP: IPv6 | TCP 80 -> 1024 RST */
	static const uint8_t v6[] = { IP6(20, 6), TCP(80, 1024, 0x04) };
	/* raw IP: version nibble 5 -> malformed */
	static const uint8_t v5[] = { 0x55, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, A4, B4 };
	static const int types[] = { 12, 14, 101 };
	unsigned i;

	for (i = 0; i < 3; i++) {
		EXPECT(types[i], v4, key(4, 123, 123, 17, 0), 28, 0, L4);
		EXPECT(types[i], v6, key(6, 80, 1024, 6, 0), 60, 0x04, L4);
		VERDICT(types[i], v5, PC_DEC_MALFORMED);
		SWEEP(types[i], v4, 20 + 4);
		SWEEP(types[i], v6, 40 + 14);
	}
	/* LINKTYPE_IPV4 / LINKTYPE_IPV6 fix the version; a contradicting header is malformed */
	EXPECT(228, v4, key(4, 123, 123, 17, 0), 28, 0, L4);
	EXPECT(229, v6, key(6, 80, 1024, 6, 0), 60, 0x04, L4);
	VERDICT(228, v6, PC_DEC_MALFORMED);
	VERDICT(229, v4, PC_DEC_MALFORMED);
	SWEEP(228, v4, 24);
	SWEEP(229, v6, 54);
}

static void test_null_loop(void)
{
	/* BSD null, AF_INET little-endian writer | IPv4 | UDP 1 -> 2 */
	static const uint8_t le4[] = { 2, 0, 0, 0, IP4(28, 1, 0, 17), UDP(1, 2, 8) };
	/* BSD null, AF_INET big-endian writer | IPv4 | UDP 1 -> 2 */
	static const uint8_t be4[] = { 0, 0, 0, 2, IP4(28, 1, 0, 17), UDP(1, 2, 8) };
	/* BSD null, AF_INET6 = 30 (macOS) little-endian | IPv6 | UDP 1 -> 2 */
	static const uint8_t mac6[] = { 30, 0, 0, 0, IP6(8, 17), UDP(1, 2, 8) };
	/* BSD null, AF_INET6 = 24 (OpenBSD) big-endian | IPv6 | UDP 1 -> 2 */
	static const uint8_t obsd6[] = { 0, 0, 0, 24, IP6(8, 17), UDP(1, 2, 8) };
	/* BSD null, AF_INET6 = 28 (FreeBSD) little-endian | IPv6 | UDP 1 -> 2 */
	static const uint8_t fbsd6[] = { 28, 0, 0, 0, IP6(8, 17), UDP(1, 2, 8) };
	/* BSD null, AF_INET6 = 10 (Linux) little-endian | IPv6 | UDP 1 -> 2 */
	static const uint8_t lnx6[] = { 10, 0, 0, 0, IP6(8, 17), UDP(1, 2, 8) };
	/* BSD null, AF 7 (not IP) -> non-IP */
	static const uint8_t other[] = { 7, 0, 0, 0, 0x45, 0, 0, 20 };
	/* loop (network order), AF_INET | IPv4 | UDP 1 -> 2 */
	static const uint8_t loop4[] = { 0, 0, 0, 2, IP4(28, 1, 0, 17), UDP(1, 2, 8) };
	/* loop, AF_INET6 = 28 | IPv6 | UDP 1 -> 2 */
	static const uint8_t loop6[] = { 0, 0, 0, 28, IP6(8, 17), UDP(1, 2, 8) };
	/* loop with a little-endian family: 0x02000000 is no address family -> non-IP */
	static const uint8_t loop_le[] = { 2, 0, 0, 0, IP4(28, 1, 0, 17), UDP(1, 2, 8) };

	EXPECT(0, le4, key(4, 1, 2, 17, 0), 28, 0, L4);
	EXPECT(0, be4, key(4, 1, 2, 17, 0), 28, 0, L4);
	EXPECT(0, mac6, key(6, 1, 2, 17, 0), 48, 0, L4);
	EXPECT(0, obsd6, key(6, 1, 2, 17, 0), 48, 0, L4);
	EXPECT(0, fbsd6, key(6, 1, 2, 17, 0), 48, 0, L4);
	EXPECT(0, lnx6, key(6, 1, 2, 17, 0), 48, 0, L4);
	VERDICT(0, other, PC_DEC_NON_IP);
	SWEEP(0, le4, 4 + 20 + 4);
	EXPECT(108, loop4, key(4, 1, 2, 17, 0), 28, 0, L4);
	EXPECT(108, loop6, key(6, 1, 2, 17, 0), 48, 0, L4);
	VERDICT(108, loop_le, PC_DEC_NON_IP);
	SWEEP(108, loop6, 4 + 40 + 4);
}

static void test_ppp_hdlc_nflog(void)
{
	/* PPP in HDLC framing ff 03, protocol 0x0021 | IPv4 | TCP 1 -> 2 SYN */
	static const uint8_t ppp4[] = { 0xff, 0x03, 0x00, 0x21, IP4(40, 1, 0, 6), TCP(1, 2, 2) };
	/* PPP without framing, protocol 0x0057 | IPv6 | UDP 1 -> 2 */
	static const uint8_t ppp6[] = { 0x00, 0x57, IP6(8, 17), UDP(1, 2, 8) };
	/* PPP, compressed 1-byte protocol 0x21 | IPv4 | UDP 1 -> 2 */
	static const uint8_t pfc[] = { 0x21, IP4(28, 1, 0, 17), UDP(1, 2, 8) };
	/* PPP ff 03, protocol MPLS unicast (0x0281) | MPLS 100 (bottom) | IPv4 | UDP 1 -> 2 */
	static const uint8_t ppp_mpls[] = {
		0xff, 0x03, 0x02, 0x81, MPLS(100, 1), IP4(28, 1, 0, 17), UDP(1, 2, 8),
	};
	/* PPP ff 03, LCP (0xc021) configure request -> non-IP */
	static const uint8_t lcp[] = { 0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04 };
	/* Cisco HDLC unicast, ethertype IPv4 | IPv4 | UDP 1 -> 2 */
	static const uint8_t hdlc4[] = { 0x0f, 0x00, 0x08, 0x00, IP4(28, 1, 0, 17), UDP(1, 2, 8) };
	/* Cisco HDLC multicast, ethertype IPv6 | IPv6 | UDP 1 -> 2 */
	static const uint8_t hdlc6[] = { 0x8f, 0x00, 0x86, 0xdd, IP6(8, 17), UDP(1, 2, 8) };
	/* Cisco HDLC, SLARP (0x8035) keepalive -> non-IP */
	static const uint8_t slarp[] = { 0x8f, 0x00, 0x80, 0x35, 0, 0, 0, 2 };
	/* NFLOG AF_INET | TLV hwproto (8) | TLV payload (4 + 28): IPv4 | UDP 1 -> 2 |
	 * TLV prefix "abc" */
	static const uint8_t nflog4[] = {
		2,
		0,
		0,
		1,
		8,
		0,
		1,
		0,
		0x08,
		0x00,
		3,
		0,
		32,
		0,
		9,
		0,
		IP4(28, 1, 0, 17),
		UDP(1, 2, 8),
		8,
		0,
		10,
		0,
		'a',
		'b',
		'c',
		0,
	};
	/* NFLOG AF_INET6 | TLV payload (4 + 42) + 2 bytes of TLV padding:
	 * IPv6 | ICMPv6 router solicitation type/code only (2 bytes) */
	static const uint8_t nflog6[] = {
		10, 0, 0, 1, 46, 0, 9, 0, IP6(2, 58), 133, 0, 0, 0,
	};
	/* the same with next header UDP: 2 bytes are no UDP header -> malformed, although
	 * the padding would let a careless decoder read 4 */
	static const uint8_t nflog6_udp[] = {
		10, 0, 0, 1, 46, 0, 9, 0, IP6(2, 17), 133, 0, 0, 0,
	};
	/* NFLOG AF_INET whose IPv4 total length (29) overruns its payload TLV -> malformed */
	static const uint8_t nflog_over[] = {
		2, 0, 0,  1, 32,  0,   9,   0, IP4(29, 1, 0, 17), UDP(1, 2, 8),
		8, 0, 10, 0, 'a', 'b', 'c', 0,
	};
	/* NFLOG AF_INET, only a prefix TLV, no packet payload -> non-IP */
	static const uint8_t nflog_none[] = { 2, 0, 0, 1, 8, 0, 10, 0, 'a', 'b', 'c', 0 };

	EXPECT(9, ppp4, key(4, 1, 2, 6, 0), 40, 2, L4);
	EXPECT(50, ppp4, key(4, 1, 2, 6, 0), 40, 2, L4);
	EXPECT(9, ppp6, key(6, 1, 2, 17, 0), 48, 0, L4);
	EXPECT(9, pfc, key(4, 1, 2, 17, 0), 28, 0, L4);
	EXPECT(9, ppp_mpls, key(4, 1, 2, 17, 0), 28, 0, L4 | PC_META_MPLS);
	SWEEP(9, ppp_mpls, 8 + 20 + 4);
	VERDICT(9, lcp, PC_DEC_NON_IP);
	SWEEP(9, ppp4, 4 + 20 + 14);
	EXPECT(104, hdlc4, key(4, 1, 2, 17, 0), 28, 0, L4);
	EXPECT(104, hdlc6, key(6, 1, 2, 17, 0), 48, 0, L4);
	VERDICT(104, slarp, PC_DEC_NON_IP);
	SWEEP(104, hdlc4, 4 + 20 + 4);
	EXPECT(239, nflog4, key(4, 1, 2, 17, 0), 28, 0, L4);
	SWEEP(239, nflog4, 16 + 20 + 4);
	EXPECT(239, nflog6, key(6, 133 << 8, 133 << 8, 58, 0), 42, 0, L4);
	VERDICT(239, nflog6_udp, PC_DEC_MALFORMED);
	VERDICT(239, nflog_over, PC_DEC_MALFORMED);
	VERDICT(239, nflog_none, PC_DEC_NON_IP);
}

static void test_unsupported_link(void)
{
	/* IEEE 802.11 (105), radiotap (127), user DLT 147: not decoded */
	static const uint8_t pkt[] = { 0x08, 0x00, 0x00, 0x00, IP4(20, 1, 0, 17) };

	VERDICT(105, pkt, PC_DEC_UNSUPPORTED_LINK);
	VERDICT(127, pkt, PC_DEC_UNSUPPORTED_LINK);
	VERDICT(147, pkt, PC_DEC_UNSUPPORTED_LINK);
	VERDICT(65535, pkt, PC_DEC_UNSUPPORTED_LINK);
}

/* ------------------------------------------------------------------ IPv4 */

static void test_ipv4_options(void)
{
	/* Ethernet | IPv4 IHL 6 with router alert option | TCP 1024 -> 80 PSH+ACK */
	static const uint8_t ra[] = {
		ETH(0x0800),	     IP4X(0x46, 44, 1, 0, 6, A4, B4), 0x94, 0x04, 0x00, 0x00,
		TCP(1024, 80, 0x18),
	};
	/* Ethernet | IPv4 IHL 15 (40 bytes of NOP/EOL options) | UDP 1 -> 2 */
	static const uint8_t full[] = {
		ETH(0x0800),
		IP4X(0x4f, 68, 1, 0, 17, A4, B4),
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		1,
		0,
		UDP(1, 2, 8),
	};

	EXPECT(EN, ra, key(4, 1024, 80, 6, 0), 44, 0x18, L4);
	SWEEP(EN, ra, 14 + 24 + 14);
	EXPECT(EN, full, key(4, 1, 2, 17, 0), 68, 0, L4);
	SWEEP(EN, full, 14 + 60 + 4);
}

static void test_ipv4_malformed(void)
{
	/* Ethernet | IPv4 IHL 4 (< 5) | ... -> malformed */
	static const uint8_t ihl4[] = {
		ETH(0x0800),
		IP4X(0x44, 40, 1, 0, 6, A4, B4),
		TCP(1, 2, 2),
	};
	/* Ethernet type IPv4 but version 6 nibble -> malformed */
	static const uint8_t ver6[] = {
		ETH(0x0800),
		IP4X(0x65, 40, 1, 0, 6, A4, B4),
		TCP(1, 2, 2),
	};
	/* Ethernet | IPv4 total length 19 (< IHL*4) -> malformed */
	static const uint8_t short_tot[] = { ETH(0x0800), IP4(19, 1, 0, 6), TCP(1, 2, 2) };
	/* Ethernet | IPv4 total length 41, one more than the frame carries -> malformed */
	static const uint8_t long_tot[] = { ETH(0x0800), IP4(41, 1, 0, 6), TCP(1, 2, 2) };
	/* Ethernet | IPv4 total length 30: TCP header cut at 10 bytes by IP itself -> malformed */
	static const uint8_t tcp_cut[] = { ETH(0x0800), IP4(30, 1, 0, 6), TCP(1, 2, 2) };
	/* Ethernet | IPv4 total length 23: 3-byte UDP header -> malformed */
	static const uint8_t udp_cut[] = { ETH(0x0800), IP4(23, 1, 0, 17), UDP(1, 2, 8) };
	/* Ethernet | IPv4 total length 21: 1-byte ICMP header -> malformed */
	static const uint8_t icmp_cut[] = { ETH(0x0800), IP4(21, 1, 0, 1), 8, 0, 0, 0 };

	VERDICT(EN, ihl4, PC_DEC_MALFORMED);
	VERDICT(EN, ver6, PC_DEC_MALFORMED);
	VERDICT(EN, short_tot, PC_DEC_MALFORMED);
	VERDICT(EN, long_tot, PC_DEC_MALFORMED);
	VERDICT(EN, tcp_cut, PC_DEC_MALFORMED);
	VERDICT(EN, udp_cut, PC_DEC_MALFORMED);
	VERDICT(EN, icmp_cut, PC_DEC_MALFORMED);
}

static void test_ipv4_lengths(void)
{
	/* Ethernet | IPv4 total length 0 (TSO capture, 1514-byte frame) | TCP 1 -> 2 ACK */
	static uint8_t tso[1514] = { ETH(0x0800), IP4(0, 1, 0x4000, 6), TCP(1, 2, 0x10) };
	struct pc_meta m;

	EXPECT(EN, tso, key(4, 1, 2, 6, 0), 1500, 0x10, L4);
	/* snaplen 96 of the same frame: still 1500 IP bytes from the wire length */
	CHECK_EQ(decode_cap(EN, tso, sizeof(tso), 96, &m), PC_DEC_OK);
	CHECK_EQ(m.ip_bytes, 1500);
	CHECK_EQ(m.wirelen, 1514);
	/* a snaplen-cut frame: total length 1500 fits the wire length, not caplen */
	tso[16] = HI(1500);
	tso[17] = LO(1500);
	CHECK_EQ(decode_cap(EN, tso, sizeof(tso), 64, &m), PC_DEC_OK);
	CHECK_EQ(m.ip_bytes, 1500);
	/* ... but a wire length shorter than total length is malformed */
	CHECK_EQ(decode_cap(EN, tso, 1513, 64, &m), PC_DEC_MALFORMED);
}

/* ------------------------------------------------------------------ IPv6 */

static void test_ipv6_ext(void)
{
	/* Ethernet | IPv6 | hop-by-hop (PadN) | UDP 546 -> 547 */
	static const uint8_t hbh[] = { ETH(0x86dd), IP6(16, 0), OPT8(17), UDP(546, 547, 8) };
	/* Ethernet | IPv6 | routing type 2 (one address) | TCP 1 -> 2 SYN */
	static const uint8_t rt[] = {
		ETH(0x86dd), IP6(44, 43), 6, 2, 2, 1, 0, 0, 0, 0, A6, TCP(1, 2, 2),
	};
	/* Ethernet | IPv6 | destination options 16 bytes (PadN 12) | UDP 1 -> 2 */
	static const uint8_t dst[] = {
		ETH(0x86dd), IP6(24, 60), 17, 1, 0x01, 12,	     0, 0, 0, 0, 0, 0, 0,
		0,	     0,		  0,  0, 0,    UDP(1, 2, 8),
	};
	/* Ethernet | IPv6 | atomic fragment (offset 0, M 0) | UDP 1 -> 2: a whole packet */
	static const uint8_t atomic[] = {
		ETH(0x86dd),
		IP6(16, 44),
		FRAG6(17, 0, 0, 7),
		UDP(1, 2, 8),
	};
	/* Ethernet | IPv6 | AH (len 4: 24 bytes) | TCP 1 -> 2 SYN */
	static const uint8_t ah[] = {
		ETH(0x86dd), IP6(44, 51), 6, 4, 0, 0, 0, 0, 1,
		0,	     0,		  0, 0, 1, 0, 0, 0, 0,
		0,	     0,		  0, 0, 0, 0, 0, 0, TCP(1, 2, 2),
	};
	/* Ethernet | IPv6 | hop-by-hop | dst opts | routing | atomic fragment | AH | TCP 1 -> 2 */
	static const uint8_t chain[] = {
		ETH(0x86dd),
		IP6(92, 0),
		OPT8(60),
		OPT8(43),
		44,
		2,
		2,
		1,
		0,
		0,
		0,
		0,
		A6,
		FRAG6(51, 0, 0, 1),
		6,
		4,
		0,
		0,
		0,
		0,
		1,
		0,
		0,
		0,
		0,
		1,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		TCP(1, 2, 2),
	};
	/* Ethernet | IPv6 | ESP SPI 0x100 seq 1 + 8 bytes: proto 50, no ports */
	static const uint8_t esp[] = {
		ETH(0x86dd), IP6(16, 50), 0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	/* Ethernet | IPv6 | hop-by-hop | no next header (59) */
	static const uint8_t nonext[] = { ETH(0x86dd), IP6(8, 0), OPT8(59) };

	EXPECT(EN, hbh, key(6, 546, 547, 17, 0), 56, 0, L4);
	SWEEP(EN, hbh, 14 + 40 + 8 + 4);
	EXPECT(EN, rt, key(6, 1, 2, 6, 0), 84, 2, L4);
	SWEEP(EN, rt, 14 + 40 + 24 + 14);
	EXPECT(EN, dst, key(6, 1, 2, 17, 0), 64, 0, L4);
	SWEEP(EN, dst, 14 + 40 + 16 + 4);
	EXPECT(EN, atomic, key(6, 1, 2, 17, 0), 56, 0, L4);
	EXPECT(EN, ah, key(6, 1, 2, 6, 0), 84, 2, L4);
	SWEEP(EN, ah, 14 + 40 + 24 + 14);
	EXPECT(EN, chain, key(6, 1, 2, 6, 0), 132, 2, L4);
	SWEEP(EN, chain, 14 + 40 + 8 + 8 + 24 + 8 + 24 + 14);
	EXPECT(EN, esp, key(6, 0, 0, 50, 0), 56, 0, 0);
	EXPECT(EN, nonext, key(6, 0, 0, 59, 0), 48, 0, 0);
}

static void test_ipv6_malformed(void)
{
	/* Ethernet | IPv6 | 16 x dst opts | UDP 1 -> 2: the most extension headers allowed */
	static const uint8_t ext16[] = {
		ETH(0x86dd), IP6(136, 60), OPT8(60), OPT8(60), OPT8(60),     OPT8(60), OPT8(60),
		OPT8(60),    OPT8(60),	   OPT8(60), OPT8(60), OPT8(60),     OPT8(60), OPT8(60),
		OPT8(60),    OPT8(60),	   OPT8(60), OPT8(17), UDP(1, 2, 8),
	};
	/* Ethernet | IPv6 | 17 x dst opts | UDP: over the bound -> malformed */
	static const uint8_t ext17[] = {
		ETH(0x86dd), IP6(144, 60), OPT8(60), OPT8(60), OPT8(60), OPT8(60),     OPT8(60),
		OPT8(60),    OPT8(60),	   OPT8(60), OPT8(60), OPT8(60), OPT8(60),     OPT8(60),
		OPT8(60),    OPT8(60),	   OPT8(60), OPT8(60), OPT8(17), UDP(1, 2, 8),
	};
	/* Ethernet | IPv6 payload 8 | dst opts claiming 16 bytes -> malformed */
	static const uint8_t ext_over[] = {
		ETH(0x86dd), IP6(8, 60), 17, 1, 0x01, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	/* Ethernet | IPv6 payload 0 | hop-by-hop with a jumbo payload option -> malformed
	 * (jumbograms are not supported) */
	static const uint8_t jumbo[] = {
		ETH(0x86dd), IP6(0, 0), 17, 0, 0xc2, 4, 0x00, 0x01, 0x00, 0x10, UDP(1, 2, 8),
	};
	/* Ethernet | IPv6 payload 21 in a frame carrying 20 -> malformed */
	static const uint8_t long_plen[] = { ETH(0x86dd), IP6(21, 6), TCP(1, 2, 2) };
	/* Ethernet type IPv6 carrying a version 4 header -> malformed */
	static const uint8_t ver4[] = { ETH(0x86dd),
					IP4(40, 1, 0, 6),
					TCP(1, 2, 2),
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0,
					0 };
	/* Ethernet | IPv6 | UDP payload length 3 -> malformed */
	static const uint8_t udp_cut[] = { ETH(0x86dd), IP6(3, 17), UDP(1, 2, 8) };
	/* Ethernet | IPv6 | first of two fragment headers, then a second one -> malformed */
	static const uint8_t two_frag[] = {
		ETH(0x86dd), IP6(24, 44), FRAG6(44, 0, 1, 5), FRAG6(17, 0, 1, 6), UDP(1, 2, 8),
	};

	EXPECT(EN, ext16, key(6, 1, 2, 17, 0), 176, 0, L4);
	VERDICT(EN, ext17, PC_DEC_MALFORMED);
	VERDICT(EN, ext_over, PC_DEC_MALFORMED);
	VERDICT(EN, jumbo, PC_DEC_MALFORMED);
	VERDICT(EN, long_plen, PC_DEC_MALFORMED);
	VERDICT(EN, ver4, PC_DEC_MALFORMED);
	VERDICT(EN, udp_cut, PC_DEC_MALFORMED);
	VERDICT(EN, two_frag, PC_DEC_MALFORMED);
}

static void test_ipv6_lengths(void)
{
	/* Ethernet | IPv6 payload 0 (TSO / BIG TCP capture, 1514-byte frame) | TCP 1 -> 2 ACK */
	static const uint8_t tso[1514] = { ETH(0x86dd), IP6(0, 6), TCP(1, 2, 0x10) };
	/* Ethernet | IPv6 payload 0, next header 59 | 6 bytes of frame padding: 40 IP bytes */
	static const uint8_t empty[] = { ETH(0x86dd), IP6(0, 59), 0, 0, 0, 0, 0, 0 };

	EXPECT(EN, tso, key(6, 1, 2, 6, 0), 1500, 0x10, L4);
	EXPECT(EN, empty, key(6, 0, 0, 59, 0), 40, 0, 0);
}

/* -------------------------------------------------------------------- L4 */

static void test_l4(void)
{
	/* Ethernet | IPv4 | TCP 65535 -> 1 with all 8 flag bits (CWR..FIN) */
	static const uint8_t xmas[] = { ETH(0x0800), IP4(40, 1, 0, 6), TCP(65535, 1, 0xff) };
	/* Ethernet | IPv4 | SCTP 2905 -> 2905, verification tag, checksum */
	static const uint8_t sctp[] = {
		ETH(0x0800), IP4(32, 1, 0, 132), 0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0,
	};
	/* Ethernet | IPv6 | UDP-Lite 5004 -> 5005, checksum coverage 8 */
	static const uint8_t udplite[] = { ETH(0x86dd), IP6(8, 136), UDP(5004, 5005, 8) };
	/* Ethernet | IPv4 | DCCP 5001 -> 5002 (first 4 bytes of a generic header) */
	static const uint8_t dccp[] = {
		ETH(0x0800), IP4(36, 1, 0, 33),
		0x13,	     0x89,
		0x13,	     0x8a,
		3,	     0,
		0,	     0,
		0,	     0,
		0,	     0,
		0,	     0,
		0,	     0,
	};
	/* Ethernet | IPv4 | ICMP echo request id 1 seq 1 */
	static const uint8_t echo[] = { ETH(0x0800), IP4(28, 1, 0, 1), 8, 0, 0, 0, 0, 1, 0, 1 };
	/* Ethernet | IPv4 | ICMP destination unreachable, port unreachable (3/3) */
	static const uint8_t unreach[] = { ETH(0x0800), IP4(28, 1, 0, 1), 3, 3, 0, 0, 0, 0, 0, 0 };
	/* Ethernet | IPv6 | ICMPv6 echo request (128/0) */
	static const uint8_t echo6[] = { ETH(0x86dd), IP6(8, 58), 128, 0, 0, 0, 0, 1, 0, 1 };
	/* Ethernet | IPv4 | GRE (flags 0, protocol WCCP, not decapsulated) + 4 bytes:
	 * address pair only */
	static const uint8_t gre[] = {
		ETH(0x0800), IP4(28, 1, 0, 47), 0, 0, 0x88, 0x3e, 0x45, 0, 0, 0,
	};
	struct pc_meta m;

	EXPECT(EN, xmas, key(4, 65535, 1, 6, 0), 40, 0xff, L4);
	EXPECT(EN, sctp, key(4, 2905, 2905, 132, 0), 32, 0, L4);
	SWEEP(EN, sctp, 14 + 20 + 4);
	EXPECT(EN, udplite, key(6, 5004, 5005, 136, 0), 48, 0, L4);
	EXPECT(EN, dccp, key(4, 5001, 5002, 33, 0), 36, 0, L4);
	EXPECT(EN, echo, key(4, 8 << 8, 8 << 8, 1, 0), 28, 0, L4);
	CHECK_EQ(DECODE(EN, echo, &m), PC_DEC_OK);
	CHECK_EQ(m.icmp_type, 8);
	CHECK_EQ(m.icmp_code, 0);
	SWEEP(EN, echo, 14 + 20 + 2);
	CHECK_EQ(DECODE(EN, unreach, &m), PC_DEC_OK);
	CHECK_EQ(m.icmp_type, 3);
	CHECK_EQ(m.icmp_code, 3);
	EXPECT(EN, echo6, key(6, 128 << 8, 128 << 8, 58, 0), 48, 0, L4);
	CHECK_EQ(DECODE(EN, echo6, &m), PC_DEC_OK);
	CHECK_EQ(m.icmp_type, 128);
	CHECK_EQ(m.icmp_code, 0);
	SWEEP(EN, echo6, 14 + 40 + 2);
	EXPECT(EN, gre, key(4, 0, 0, 47, 0), 28, 0, 0);
	/* GRE needs its 4-byte header to tell what it carries */
	SWEEP(EN, gre, 14 + 20 + 4);
}

/* ------------------------------------------- TCP header and payload fields */

/* TCP header: ports, seq, ack, data offset (32-bit words), flags, window */
#define NOP4 1, 1, 1, 1 /* TCP options: four NOPs */
#define ZERO4 0, 0, 0, 0
#define BE32(x) (uint8_t)((x) >> 24), (uint8_t)((x) >> 16), (uint8_t)((x) >> 8), (uint8_t)(x)
#define TCPX(sp, dp, seq, ack, doff, flags, win)                                               \
	HI(sp), LO(sp), HI(dp), LO(dp), BE32(seq), BE32(ack), (uint8_t)((doff) << 4), (flags), \
		HI(win), LO(win), 0, 0, 0, 0

static void test_tcp_fields(void)
{
	/* Ethernet | IPv4 (total 62) | TCP 40000 -> 443 seq 0xfffffff0 ack 7,
	 * 32-byte header (12 bytes of NOP options), PSH|ACK, window 0 | 10 bytes */
	static const uint8_t v4[] = {
		ETH(0x0800),
		IP4(62, 1, 0, 6),
		TCPX(40000, 443, 0xfffffff0u, 7, 8, 0x18, 0),
		NOP4,
		NOP4,
		NOP4,
		ZERO4,
		ZERO4,
		0,
		0,
	};
	/* Ethernet | IPv6 | destination options (8) | TCP 1 -> 2 seq 1000 ack 0,
	 * SYN, window 512 | 3 bytes */
	static const uint8_t v6[] = {
		ETH(0x86dd), IP6(8 + 20 + 3, 60), OPT8(6), TCPX(1, 2, 1000, 0, 5, 0x02, 512), 0, 0,
		0,
	};
	struct pc_meta m;
	size_t cap;

	CHECK_EQ(DECODE(EN, v4, &m), PC_DEC_OK);
	CHECK(m.flags & PC_META_TCP_HDR);
	CHECK_EQ(m.tcp_seq, 0xfffffff0u);
	CHECK_EQ(m.tcp_ack, 7);
	CHECK_EQ(m.tcp_win, 0);
	CHECK_EQ(m.tcp_flags, 0x18);
	CHECK(m.l3 != NULL);
	CHECK_EQ(m.l3_cap, 62);
	CHECK_EQ(m.pl_off, 20 + 32);
	CHECK_EQ(m.pl_len, 10);
	/* cut inside the payload: the declared length stays, l3_cap says what is there */
	CHECK_EQ(decode_cap(EN, v4, sizeof(v4), sizeof(v4) - 4, &m), PC_DEC_OK);
	CHECK_EQ(m.pl_len, 10);
	CHECK_EQ(m.l3_cap, 58);
	/* a TCP header cut before its 20 bytes: flags and ports, no seq/ack/window,
	 * no payload (its offset is unknown) */
	for (cap = 14 + 20 + 14; cap < 14 + 20 + 20; cap++) {
		CHECK_EQ(decode_cap(EN, v4, sizeof(v4), cap, &m), PC_DEC_OK);
		CHECK_EQ(m.tcp_flags, 0x18);
		CHECK(!(m.flags & PC_META_TCP_HDR));
		CHECK_EQ(m.pl_len, 0);
	}
	CHECK_EQ(DECODE(EN, v6, &m), PC_DEC_OK);
	CHECK(m.flags & PC_META_TCP_HDR);
	CHECK_EQ(m.tcp_seq, 1000);
	CHECK_EQ(m.tcp_ack, 0);
	CHECK_EQ(m.tcp_win, 512);
	CHECK_EQ(m.pl_off, 40 + 8 + 20);
	CHECK_EQ(m.pl_len, 3);
	CHECK_EQ(m.l3_cap, 40 + 8 + 20 + 3);
}

static void test_tcp_fragments(void)
{
	/* Ethernet | IPv4 id 9 MF offset 0 | TCP 5 -> 6 ACK + 12 payload bytes
	 * (total 52), then the later fragment, offset 32, 16 more bytes */
	static const uint8_t first[] = {
		ETH(0x0800),
		IP4(52, 9, 0x2000, 6),
		TCPX(5, 6, 1, 1, 5, 0x10, 100),
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
	};
	static const uint8_t later[] = {
		ETH(0x0800), IP4(36, 9, 4, 6), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	/* Ethernet | IPv6 | fragment (first, M) | TCP 7 -> 8 SYN + 4 bytes; the later
	 * fragment (offset 3 * 8) with 8 bytes */
	static const uint8_t first6[] = {
		ETH(0x86dd),
		IP6(8 + 20 + 4, 44),
		FRAG6(6, 0, 1, 21),
		TCPX(7, 8, 1, 0, 5, 0x02, 100),
		0,
		0,
		0,
		0,
	};
	static const uint8_t later6[] = {
		ETH(0x86dd), IP6(8 + 8, 44), FRAG6(6, 3, 0, 21), 0, 0, 0, 0, 0, 0, 0, 0,
	};
	struct pc_meta m;

	/* payload counted, nothing to inspect: no l3, no sequence fields */
	CHECK_EQ(DECODE(EN, first, &m), PC_DEC_OK);
	CHECK(m.flags & PC_META_FRAGMENT);
	CHECK(!(m.flags & PC_META_TCP_HDR));
	CHECK_EQ(m.tcp_flags, 0x10);
	CHECK(m.l3 == NULL);
	CHECK_EQ(m.pl_off, 0);
	CHECK_EQ(m.pl_len, 12);
	CHECK_EQ(DECODE(EN, later, &m), PC_DEC_OK);
	CHECK(!(m.flags & PC_META_TCP_HDR));
	CHECK(m.l3 == NULL);
	CHECK_EQ(m.pl_len, 16);
	CHECK_EQ(m.key.port[0], 5);
	CHECK_EQ(DECODE(EN, first6, &m), PC_DEC_OK);
	CHECK(!(m.flags & PC_META_TCP_HDR));
	CHECK(m.l3 == NULL);
	CHECK_EQ(m.pl_len, 4);
	CHECK_EQ(DECODE(EN, later6, &m), PC_DEC_OK);
	CHECK(m.l3 == NULL);
	CHECK_EQ(m.pl_len, 8);
	CHECK_EQ(m.key.port[1], 8);
}

/* ------------------------------------------------------------- fragments */

static void test_fragment_unmatched(void)
{
	/* Ethernet | IPv4 id 77 offset 1480 (later fragment), first never seen -> unmatched */
	static const uint8_t later[] = {
		ETH(0x0800), IP4(28, 77, 185, 17), 1, 2, 3, 4, 5, 6, 7, 8,
	};
	/* Ethernet | IPv6 | fragment offset 181 id 77, first never seen -> unmatched */
	static const uint8_t later6[] = {
		ETH(0x86dd), IP6(16, 44), FRAG6(17, 181, 0, 77), 1, 2, 3, 4, 5, 6, 7, 8
	};

	struct pc_meta m;
	size_t cap;

	VERDICT(EN, later, PC_DEC_FRAGMENT_UNMATCHED);
	VERDICT(EN, later6, PC_DEC_FRAGMENT_UNMATCHED);
	/* a later fragment needs only its IP header (and the IPv6 fragment header) */
	for (cap = 0; cap <= sizeof(later); cap++)
		CHECK_EQ(decode_cap(EN, later, sizeof(later), cap, &m),
			 cap < 14 + 20 ? PC_DEC_TRUNCATED : PC_DEC_FRAGMENT_UNMATCHED);
	for (cap = 0; cap <= sizeof(later6); cap++)
		CHECK_EQ(decode_cap(EN, later6, sizeof(later6), cap, &m),
			 cap < 14 + 40 + 8 ? PC_DEC_TRUNCATED : PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(pc_decoder_stats(dec)->fragments_matched, 0);
}

static void test_api(void)
{
	struct pc_decoder *d = NULL;

	CHECK_EQ(pc_decoder_create(NULL, NULL), -EINVAL);
	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = (1u << 20) + 1 }),
		 -EINVAL);
	CHECK(d == NULL);
	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 5 }), 0);
	CHECK(d != NULL);
	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 0);
	pc_decoder_destroy(d);
	pc_decoder_destroy(NULL);
}

int main(void)
{
	CHECK_EQ(pc_decoder_create(&dec, NULL), 0);
	test_ethernet_ipv4_tcp();
	test_ethernet_padding();
	test_vlan();
	test_qinq();
	test_vlan_tag_limit();
	test_mpls();
	test_pppoe();
	test_llc_snap();
	test_non_ip();
	test_sll();
	test_sll2();
	test_raw();
	test_null_loop();
	test_ppp_hdlc_nflog();
	test_unsupported_link();
	test_ipv4_options();
	test_ipv4_malformed();
	test_ipv4_lengths();
	test_ipv6_ext();
	test_ipv6_malformed();
	test_ipv6_lengths();
	test_l4();
	test_tcp_fields();
	test_fragment_unmatched();
	test_tcp_fragments(); /* after: that test counts no matched fragment */
	test_api();
	pc_decoder_destroy(dec);
	printf("test_decode: all passed\n");
	return 0;
}
