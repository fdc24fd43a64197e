/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of decapsulation (decode_tunnel.c): packets built layer by layer
 * at run time (lengths patched when a layer ends), decoded from exact-size heap
 * copies. Exact inner keys, tunnel type/id, outer addresses and MACs; every
 * caplen below what a tunnel packet needs is truncated; bad versions and
 * contradicting lengths are malformed; the depth limit, the options, the
 * outer-fragment policy and the ICMP key ports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

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

/* ------------------------------------------------------------ builder */

struct pkt {
	uint8_t b[600];
	size_t n;
};

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa }, mac_b[6] = { 2, 0, 0, 0, 0, 0xb };
static const uint8_t mac_c[6] = { 2, 0, 0, 0, 0, 0xc }, mac_d[6] = { 2, 0, 0, 0, 0, 0xd };
static const uint8_t o1[4] = { 203, 0, 113, 1 }, o2[4] = { 203, 0, 113, 2 };
static const uint8_t in1[4] = { 198, 18, 0, 1 }, in2[4] = { 198, 19, 0, 1 };

static void put(struct pkt *p, const void *d, size_t n)
{
	CHECK(p->n + n <= sizeof(p->b));
	if (n)
		memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void u8(struct pkt *p, unsigned v)
{
	uint8_t x = (uint8_t)v;

	put(p, &x, 1);
}

static void u16(struct pkt *p, unsigned v)
{
	u8(p, v >> 8);
	u8(p, v);
}

static void u32(struct pkt *p, uint32_t v)
{
	u16(p, v >> 16);
	u16(p, v & 0xffff);
}

static void eth(struct pkt *p, const uint8_t *dst, const uint8_t *src, unsigned type)
{
	put(p, dst, 6);
	put(p, src, 6);
	u16(p, type);
}

/* IPv4 header without options, DF clear; returns its offset for ip4_end(). */
static size_t ip4(struct pkt *p, unsigned proto, const uint8_t *s, const uint8_t *d, unsigned frag)
{
	size_t at = p->n;

	u8(p, 0x45);
	u8(p, 0x28); /* DSCP 10 */
	u16(p, 0);
	u16(p, 0x77);
	u16(p, frag);
	u8(p, 61);
	u8(p, proto);
	u16(p, 0);
	put(p, s, 4);
	put(p, d, 4);
	return at;
}

static void ip4_end(struct pkt *p, size_t at)
{
	p->b[at + 2] = (uint8_t)((p->n - at) >> 8);
	p->b[at + 3] = (uint8_t)(p->n - at);
}

static size_t udp(struct pkt *p, unsigned sp, unsigned dp)
{
	size_t at = p->n;

	u16(p, sp);
	u16(p, dp);
	u32(p, 0);
	return at;
}

static void udp_end(struct pkt *p, size_t at)
{
	p->b[at + 4] = (uint8_t)((p->n - at) >> 8);
	p->b[at + 5] = (uint8_t)(p->n - at);
}

/* The inner conversation: IPv4 in1 -> in2, TCP 1024 -> 80 SYN (40 bytes). */
static void inner_tcp(struct pkt *p)
{
	size_t ip = ip4(p, 6, in1, in2, 0);

	u16(p, 1024);
	u16(p, 80);
	u32(p, 1);
	u32(p, 0);
	u16(p, 0x5002);
	u16(p, 0xffff);
	u32(p, 0);
	ip4_end(p, ip);
}

/* ------------------------------------------------------------ harness */

static struct pc_decoder *dec;

static enum pc_verdict run_cap(struct pc_decoder *d, const struct pkt *p, size_t cap,
			       struct pc_meta *m)
{
	uint8_t *copy = malloc(cap ? cap : 1);
	struct pc_pkt k;
	enum pc_verdict v;

	CHECK(copy != NULL);
	memcpy(copy, p->b, cap);
	memset(&k, 0, sizeof(k));
	k.data = copy;
	k.caplen = (uint32_t)cap;
	k.wirelen = (uint32_t)p->n;
	k.ts_ns = 1700000000000000000ull;
	k.linktype = 1;
	k.ifindex = 3;
	v = pc_decode(d, &k, m);
	free(copy);
	return v;
}

static enum pc_verdict run(const struct pkt *p, struct pc_meta *m)
{
	return run_cap(dec, p, p->n, m);
}

/* Every caplen below @need is truncated, @need and above decode. */
static void sweep(int line, const struct pkt *p, size_t need)
{
	struct pc_meta m;
	enum pc_verdict v;
	size_t cap;

	for (cap = 0; cap <= p->n; cap++) {
		v = run_cap(dec, p, cap, &m);
		if (v != (cap < need ? PC_DEC_TRUNCATED : PC_DEC_OK)) {
			fprintf(stderr, "%s:%d: caplen %zu of %zu (need %zu): verdict %d\n",
				__FILE__, line, cap, p->n, need, v);
			exit(1);
		}
	}
}

/* The inner TCP conversation of inner_tcp(), in the given tunnel. */
static void check_inner(const struct pc_meta *m, int type, uint32_t id)
{
	CHECK(!memcmp(m->key.addr[0], in1, 4) && !memcmp(m->key.addr[1], in2, 4));
	CHECK_EQ(m->key.port[0], 1024);
	CHECK_EQ(m->key.port[1], 80);
	CHECK_EQ(m->key.proto, 6);
	CHECK_EQ(m->key.ipver, 4);
	CHECK_EQ(m->key.tunnel_type, type);
	CHECK_EQ(m->key.tunnel_id, id);
	CHECK_EQ(m->key.iface, 3);
	CHECK_EQ(m->ip_bytes, 40);
	CHECK_EQ(m->tcp_flags, 0x02);
	CHECK_EQ(m->ttl, 61);
	CHECK_EQ(m->tos, 0x28);
	CHECK(m->flags & PC_META_TUNNEL);
	CHECK_EQ(m->outer_ipver, 4);
	CHECK(!memcmp(m->outer_addr[0], o1, 4) && !memcmp(m->outer_addr[1], o2, 4));
}

/* Ethernet | IPv4 o1 -> o2 | UDP 50000 -> @dport | @hdr | (Ethernet c -> d |) inner */
static void udp_tunnel(struct pkt *p, unsigned dport, const uint8_t *hdr, size_t hl, bool l2)
{
	size_t ip, u;

	memset(p, 0, sizeof(*p));
	eth(p, mac_b, mac_a, 0x0800);
	ip = ip4(p, 17, o1, o2, 0);
	u = udp(p, 50000, dport);
	put(p, hdr, hl);
	if (l2)
		eth(p, mac_d, mac_c, 0x0800);
	inner_tcp(p);
	udp_end(p, u);
	ip4_end(p, ip);
}

/* A datagram on a tunnel port whose header is not that tunnel's: metered as
 * the UDP packet it is, in its own flow (no skip, no tunnel). */
static void outer_udp(const struct pkt *p, uint16_t dport)
{
	struct pc_meta m;

	CHECK_EQ(run(p, &m), PC_DEC_OK);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.port[0], 50000);
	CHECK_EQ(m.key.port[1], dport);
	CHECK_EQ(m.key.tunnel_type, 0);
	CHECK(!(m.flags & PC_META_TUNNEL));
}

/* ------------------------------------------------------------ tests */

static void test_vxlan(void)
{
	/* VXLAN: flags I, VNI 0x123456 */
	static const uint8_t vx[] = { 0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0 };
	static const uint8_t no_i[] = { 0x00, 0, 0, 0, 0x12, 0x34, 0x56, 0 };
	struct pc_meta m;
	struct pkt p;

	udp_tunnel(&p, 4789, vx, sizeof(vx), true);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_VXLAN, 0x123456);
	CHECK(!memcmp(m.mac[0], mac_c, 6) && !memcmp(m.mac[1], mac_d, 6)); /* innermost */
	/* outer 14 + 20 + 8, VXLAN 8, inner Ethernet 14, IPv4 20, TCP to its flags 14 */
	sweep(__LINE__, &p, 14 + 20 + 8 + 8 + 14 + 20 + 14);
	udp_tunnel(&p, 8472, vx, sizeof(vx), true); /* Linux's port */
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	CHECK_EQ(m.key.tunnel_type, CAPTURE_TUNNEL_VXLAN);
	udp_tunnel(&p, 4789, no_i, sizeof(no_i), true);
	outer_udp(&p, 4789); /* not that tunnel: plain UDP */
}

static void test_geneve(void)
{
	/* Geneve: version 0, 1 option word, protocol 0x6558, VNI 77; then the option */
	static const uint8_t gv[] = { 0x01, 0, 0x65, 0x58, 0, 0, 77, 0, 0x01, 0x02, 0x80, 0 };
	static const uint8_t v1[] = { 0x41, 0, 0x65, 0x58, 0, 0, 77, 0, 0x01, 0x02, 0x80, 0 };
	/* options 63 words: past the datagram */
	static const uint8_t big[] = { 0x3f, 0, 0x65, 0x58, 0, 0, 77, 0 };
	struct pc_meta m;
	struct pkt p;

	udp_tunnel(&p, 6081, gv, sizeof(gv), true);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_GENEVE, 77);
	sweep(__LINE__, &p, 14 + 20 + 8 + 12 + 14 + 20 + 14);
	udp_tunnel(&p, 6081, v1, sizeof(v1), true);
	outer_udp(&p, 6081); /* not that tunnel: plain UDP */
	udp_tunnel(&p, 6081, big, sizeof(big), true);
	outer_udp(&p, 6081); /* not that tunnel: plain UDP */
}

static void test_gtpu(void)
{
	/* GTP-U v1 PT, G-PDU, length 40, TEID 0xabcdef01 */
	static const uint8_t gpdu[] = { 0x30, 0xff, 0, 40, 0xab, 0xcd, 0xef, 0x01 };
	/* with E: sequence, N-PDU, next 0x85; extension of 4 bytes, next 0; length 48 */
	static const uint8_t ext[] = { 0x34, 0xff, 0, 48, 0, 0, 0, 9, 0, 1, 0, 0x85, 1, 0, 9, 0 };
	/* extension of length 0 */
	static const uint8_t ext0[] = { 0x34, 0xff, 0, 48, 0, 0, 0, 9, 0, 1, 0, 0x85, 0, 0, 9, 0 };
	static const uint8_t v2[] = { 0x50, 0xff, 0, 40, 0xab, 0xcd, 0xef, 0x01 };
	static const uint8_t echo[] = { 0x30, 0x01, 0, 40, 0, 0, 0, 0 };
	static const uint8_t longer[] = { 0x30, 0xff, 0, 41, 0xab, 0xcd, 0xef, 0x01 };
	struct pc_meta m;
	struct pkt p;

	udp_tunnel(&p, 2152, gpdu, sizeof(gpdu), false);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_GTPU, 0); /* the TEID is not in the key */
	CHECK_EQ(m.teid, 0xabcdef01);
	CHECK(!memcmp(m.mac[0], mac_a, 6)); /* the outer link's: no inner Ethernet */
	sweep(__LINE__, &p, 14 + 20 + 8 + 8 + 20 + 14);
	udp_tunnel(&p, 2152, ext, sizeof(ext), false);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_GTPU, 0);
	sweep(__LINE__, &p, 14 + 20 + 8 + 16 + 20 + 14);
	udp_tunnel(&p, 2152, ext0, sizeof(ext0), false);
	outer_udp(&p, 2152); /* not that tunnel: plain UDP */
	udp_tunnel(&p, 2152, v2, sizeof(v2), false);
	outer_udp(&p, 2152); /* not that tunnel: plain UDP */
	udp_tunnel(&p, 2152, longer, sizeof(longer), false);
	outer_udp(&p, 2152); /* not that tunnel: plain UDP */
	/* signalling: the outer UDP flow */
	udp_tunnel(&p, 2152, echo, sizeof(echo), false);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.port[1], 2152);
	CHECK_EQ(m.key.tunnel_type, 0);
	CHECK(!(m.flags & PC_META_TUNNEL));
}

/* Ethernet | IPv4 o1 -> o2 proto @proto | @hdr | (@l2: Ethernet |) inner */
static void ip_tunnel(struct pkt *p, unsigned proto, const uint8_t *hdr, size_t hl, bool l2)
{
	size_t ip;

	memset(p, 0, sizeof(*p));
	eth(p, mac_b, mac_a, 0x0800);
	ip = ip4(p, proto, o1, o2, 0);
	put(p, hdr, hl);
	if (l2)
		eth(p, mac_d, mac_c, 0x0800);
	inner_tcp(p);
	ip4_end(p, ip);
}

static void test_gre(void)
{
	/* GRE: checksum, key 0xdeadbeef, sequence; protocol IPv4 */
	static const uint8_t keyed[] = { 0xb0, 0,    0x08, 0,	 0, 0, 0, 0,
					 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1 };
	/* NVGRE: key only, TEB, VSID 0x123456 flow id 0x5a */
	static const uint8_t nv[] = { 0x20, 0, 0x65, 0x58, 0x12, 0x34, 0x56, 0x5a };
	/* ERSPAN II: GRE sequence, 0x88be; version 1, session 513 */
	static const uint8_t e2[] = { 0x10, 0, 0x88, 0xbe, 0, 0, 0, 5,
				      0x10, 0, 0x02, 0x01, 0, 0, 0, 0 };
	static const uint8_t e2v[] = { 0x10, 0, 0x88, 0xbe, 0, 0, 0, 5,
				       0x20, 0, 0x02, 0x01, 0, 0, 0, 0 };
	/* ERSPAN III: version 2, session 1023, frame type 0, O set: 8 more bytes */
	static const uint8_t e3[] = { 0x10, 0, 0x22, 0xeb, 0, 0, 0, 5, 0x20, 0, 0x03, 0xff, 0, 0,
				      0,    0, 0,    0,	   0, 1, 0, 0, 0,    0, 0,    0,    0, 0 };
	static const uint8_t v2[] = { 0x00, 0x02, 0x08, 0 };	   /* GRE version 2 */
	static const uint8_t pptp_bad[] = { 0x30, 0x01, 0x08, 0 }; /* version 1, not PPP */
	static const uint8_t wccp[] = { 0, 0, 0x88, 0x3e };
	struct pc_meta m;
	struct pkt p;

	ip_tunnel(&p, 47, keyed, sizeof(keyed), false);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_GRE, 0xdeadbeef);
	sweep(__LINE__, &p, 14 + 20 + 16 + 20 + 14);
	ip_tunnel(&p, 47, nv, sizeof(nv), true);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_NVGRE, 0x123456);
	ip_tunnel(&p, 47, e2, sizeof(e2), true);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_ERSPAN, 513);
	sweep(__LINE__, &p, 14 + 20 + 16 + 14 + 20 + 14);
	ip_tunnel(&p, 47, e2v, sizeof(e2v), true);
	CHECK_EQ(run(&p, &m), PC_DEC_MALFORMED);
	ip_tunnel(&p, 47, e3, sizeof(e3), true);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_ERSPAN, 1023);
	ip_tunnel(&p, 47, v2, sizeof(v2), false);
	CHECK_EQ(run(&p, &m), PC_DEC_MALFORMED);
	ip_tunnel(&p, 47, pptp_bad, sizeof(pptp_bad), false);
	CHECK_EQ(run(&p, &m), PC_DEC_MALFORMED);
	ip_tunnel(&p, 47, wccp, sizeof(wccp), false); /* not decapsulated: GRE flow */
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	CHECK_EQ(m.key.proto, 47);
	CHECK_EQ(m.key.tunnel_type, 0);
}

static void test_ipip_and_depth(void)
{
	struct pc_meta m;
	struct pkt p;
	size_t ip[6];
	int n, i;

	/* IPv4 in IPv4 whose inner header says version 6: malformed */
	ip_tunnel(&p, 4, NULL, 0, false);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	check_inner(&m, CAPTURE_TUNNEL_IPIP, 0);
	p.b[14 + 20] = 0x65;
	CHECK_EQ(run(&p, &m), PC_DEC_MALFORMED);
	/* n IPv4-in-IPv4 levels: 4 decapsulated, 5 too deep */
	for (n = 4; n <= 5; n++) {
		memset(&p, 0, sizeof(p));
		eth(&p, mac_b, mac_a, 0x0800);
		for (i = 0; i < n; i++)
			ip[i] = ip4(&p, 4, o1, o2, 0);
		inner_tcp(&p);
		for (i = n - 1; i >= 0; i--)
			ip4_end(&p, ip[i]);
		CHECK_EQ(run(&p, &m), n == 4 ? PC_DEC_OK : PC_DEC_TUNNEL_DEPTH);
		if (n == 4)
			check_inner(&m, CAPTURE_TUNNEL_IPIP, 0); /* the outermost o1 -> o2 */
	}
	CHECK_EQ(PC_DEC_TUNNEL_DEPTH - 1, CAPTURE_SKIP_TUNNEL_DEPTH);
	CHECK(!strcmp(capture_skip_name(CAPTURE_SKIP_TUNNEL_DEPTH), "tunnel_too_deep"));
}

static void test_pseudowire(void)
{
	struct pc_meta m;
	struct pkt p;

	/* Ethernet | MPLS 100 (bottom, EXP 5) | control word | Ethernet c -> d | IPv4 | TCP */
	memset(&p, 0, sizeof(p));
	eth(&p, mac_b, mac_a, 0x8847);
	u32(&p, 100u << 12 | 5u << 9 | 1u << 8 | 64);
	u32(&p, 0);
	eth(&p, mac_d, mac_c, 0x0800);
	inner_tcp(&p);
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	CHECK_EQ(m.key.tunnel_type, CAPTURE_TUNNEL_MPLS_PW);
	CHECK_EQ(m.key.port[1], 80);
	CHECK_EQ(m.outer_ipver, 0); /* no IP outside */
	CHECK_EQ(m.flags & PC_META_MPLS, PC_META_MPLS);
	CHECK_EQ(m.mpls[0], 100u << 4 | 5u << 1 | 1);
	CHECK(!memcmp(m.mac[0], mac_c, 6));
	sweep(__LINE__, &p, 14 + 4 + 4 + 14 + 20 + 14);
	/* an ARP frame in the pseudowire: nothing to meter, non-IP as before */
	p.b[14 + 8 + 12] = 0x08;
	p.b[14 + 8 + 13] = 0x06;
	CHECK_EQ(run(&p, &m), PC_DEC_NON_IP);
}

static void test_options(void)
{
	static const uint8_t vx[] = { 0x08, 0, 0, 0, 0, 0, 9, 0 };
	struct pc_decode_opts o = { 0 };
	struct pc_decoder *d;
	struct pc_meta m;
	struct pkt p;
	char err[200];
	uint32_t off = 0;

	/* --decap without vxlan: the outer UDP flow */
	CHECK_EQ(capture_decap_parse("gre,gtpu", &off), 0);
	CHECK_EQ(off, ((1u << CAPTURE_TUNNEL_COUNT) - 1) & ~1u & ~(1u << CAPTURE_TUNNEL_GRE) &
			      ~(1u << CAPTURE_TUNNEL_GTPU));
	CHECK_EQ(capture_decap_parse("vxlan,bogus", &off), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_decap_parse("none", &off), 0);
	CHECK_EQ(off, 0x1ffe);
	CHECK(!strcmp(capture_tunnel_name(CAPTURE_TUNNEL_VXLAN), "vxlan"));
	CHECK(capture_tunnel_name(CAPTURE_TUNNEL_COUNT) == NULL);
	o.decap_off = 1u << CAPTURE_TUNNEL_VXLAN;
	CHECK_EQ(pc_decoder_create(&d, &o), 0);
	udp_tunnel(&p, 4789, vx, sizeof(vx), true);
	CHECK_EQ(run_cap(d, &p, p.n, &m), PC_DEC_OK);
	CHECK_EQ(m.key.port[1], 4789);
	CHECK_EQ(m.key.tunnel_type, 0);
	pc_decoder_destroy(d);
	/* VXLAN moved to 9999: 4789 is plain UDP */
	o.decap_off = 0;
	CHECK_EQ(pc_decode_ports_parse(&o, "vxlan=9999,gtpu=", err, sizeof(err)), 0);
	CHECK_EQ(o.nports, 5); /* 9999, geneve, mplsudp, teredo, ayiya */
	CHECK_EQ(pc_decoder_create(&d, &o), 0);
	CHECK_EQ(run_cap(d, &p, p.n, &m), PC_DEC_OK);
	CHECK_EQ(m.key.tunnel_type, 0);
	udp_tunnel(&p, 9999, vx, sizeof(vx), true);
	CHECK_EQ(run_cap(d, &p, p.n, &m), PC_DEC_OK);
	CHECK_EQ(m.key.tunnel_type, CAPTURE_TUNNEL_VXLAN);
	pc_decoder_destroy(d);
	CHECK_EQ(pc_decode_ports_parse(&o, "vxlan=1+", err, sizeof(err)), -EINVAL);
	CHECK(!strcmp(err, "tunnel ports: bad port list '1+' for vxlan (1..65535, '+' between)"));
	CHECK_EQ(pc_decode_ports_parse(&o, "ipip=1", err, sizeof(err)), -EINVAL);
	CHECK(!strncmp(err, "tunnel ports: 'ipip=1' is not NAME=PORT", 38));
	CHECK_EQ(pc_decode_ports_parse(&o, "vxlan=5,geneve=5", err, sizeof(err)), -EINVAL);
	CHECK(!strcmp(err, "tunnel ports: UDP port 5 given twice"));
}

static void test_outer_fragment(void)
{
	static const uint8_t vx[] = { 0x08, 0, 0, 0, 0, 0, 9, 0 };
	const struct pc_decode_stats *st = pc_decoder_stats(dec);
	uint64_t before = st->tunnel_fragments;
	struct pc_meta m;
	struct pkt p;

	/* the first fragment (MF) of a VXLAN datagram: the outer UDP flow, counted */
	udp_tunnel(&p, 4789, vx, sizeof(vx), true);
	p.b[14 + 6] = 0x20;
	CHECK_EQ(run(&p, &m), PC_DEC_OK);
	CHECK_EQ(m.key.port[1], 4789);
	CHECK(!(m.flags & PC_META_TUNNEL));
	CHECK(m.flags & PC_META_FRAGMENT);
	CHECK_EQ(st->tunnel_fragments, before + 1);
}

static void test_icmp_ports(void)
{
	static const struct {
		uint8_t proto, type, code;
		uint16_t port;
	} v[] = {
		{ 1, 8, 0, 0x0800 },	{ 1, 0, 0, 0x0800 },  { 1, 14, 0, 0x0d00 },
		{ 1, 3, 1, 0x0301 },	{ 1, 9, 0, 0x0a00 },  { 58, 129, 0, 0x8000 },
		{ 58, 136, 0, 0x8700 }, { 58, 1, 4, 0x0104 },
	};
	struct pc_meta m;
	struct pkt p;
	size_t i, ip;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&p, 0, sizeof(p));
		eth(&p, mac_b, mac_a, 0x0800);
		ip = ip4(&p, v[i].proto, in1, in2, 0);
		u8(&p, v[i].type);
		u8(&p, v[i].code);
		u16(&p, 0);
		u32(&p, 0);
		ip4_end(&p, ip);
		CHECK_EQ(run(&p, &m), PC_DEC_OK);
		CHECK_EQ(m.key.port[0], v[i].port);
		CHECK_EQ(m.key.port[1], v[i].port);
		CHECK_EQ(m.icmp_type, v[i].type);
	}
}

int main(void)
{
	CHECK_EQ(pc_decoder_create(&dec, NULL), 0);
	test_vxlan();
	test_geneve();
	test_gtpu();
	test_gre();
	test_ipip_and_depth();
	test_pseudowire();
	test_options();
	test_outer_fragment();
	test_icmp_ports();
	pc_decoder_destroy(dec);
	printf("test_decap: all passed\n");
	return 0;
}
