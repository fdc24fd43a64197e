/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * unit.inspect: the per-worker inspection pools (bounded, counted when full,
 * records given back), TCP reassembly of the first bytes (in order, out of
 * order, gaps counted exactly) and nDPI's verdict on a real DNS packet and on
 * a flow without payload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"

#include "check.h"

#define T0 (1700000000ull * 1000000000ull)
#define SYN 0x02
#define ACK 0x10
#define PSH 0x08

/* An IPv4 packet: 20-byte header, then @l4 (@l4len bytes: TCP or UDP header
 * and payload). Checksums stay zero (nothing here verifies them). */
struct pkt {
	uint8_t b[1600];
	struct pc_meta m;
};

static void build(struct pkt *p, uint8_t proto, uint16_t sp, uint16_t dp, int from_server,
		  const uint8_t *l4hdr, unsigned hlen, const uint8_t *pl, unsigned plen)
{
	uint32_t c = 0xc6120001u, s = 0xc6130001u; /* 198.18.0.1, 198.19.0.1 */
	uint32_t src = from_server ? s : c, dst = from_server ? c : s;
	unsigned tot = 20 + hlen + plen;

	memset(p, 0, sizeof(*p));
	p->b[0] = 0x45;
	p->b[2] = (uint8_t)(tot >> 8);
	p->b[3] = (uint8_t)tot;
	p->b[8] = 64;
	p->b[9] = proto;
	for (int i = 0; i < 4; i++) {
		p->b[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		p->b[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	memcpy(p->b + 20, l4hdr, hlen);
	if (plen)
		memcpy(p->b + 20 + hlen, pl, plen);
	memcpy(p->m.key.addr[0], p->b + 12, 4);
	memcpy(p->m.key.addr[1], p->b + 16, 4);
	p->m.key.port[0] = from_server ? dp : sp;
	p->m.key.port[1] = from_server ? sp : dp;
	p->m.key.proto = proto;
	p->m.key.ipver = 4;
	p->m.flags = PC_META_HAS_L4;
	p->m.ip_bytes = tot;
	p->m.l3 = p->b;
	p->m.l3_cap = tot;
	p->m.pl_off = plen ? 20 + hlen : 0;
	p->m.pl_len = plen;
	p->m.ts_ns = T0;
}

/* A TCP segment client:40000 <-> server:443 with @seq and @flags. */
static void tcp_pkt(struct pkt *p, int from_server, uint32_t seq, uint8_t flags, const uint8_t *pl,
		    unsigned plen)
{
	uint8_t h[20] = { 0 };

	h[0] = from_server ? 0x01 : 0x9c; /* 443 / 40000 */
	h[1] = from_server ? 0xbb : 0x40;
	h[2] = from_server ? 0x9c : 0x01;
	h[3] = from_server ? 0x40 : 0xbb;
	h[4] = (uint8_t)(seq >> 24);
	h[5] = (uint8_t)(seq >> 16);
	h[6] = (uint8_t)(seq >> 8);
	h[7] = (uint8_t)seq;
	h[12] = 0x50;
	h[13] = flags;
	h[14] = 0xff;
	h[15] = 0xff;
	build(p, 6, 40000, 443, from_server, h, 20, pl, plen);
	p->m.flags |= PC_META_TCP_HDR;
	p->m.tcp_seq = seq;
	p->m.tcp_flags = flags;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A TLS 1.2 ClientHello in one record: legacy version 0x0303, 32 zero bytes
 * of random, no session id, cipher suites {0x1301, 0xc02f}, null compression,
 * one extension: server_name (0) with host_name "unit.example".
 */
static unsigned client_hello(uint8_t *out)
{
	static const char host[] = "unit.example";
	unsigned hl = sizeof(host) - 1, n = 0, body, ext;

	out[n++] = 0x16; /* record: handshake, TLS 1.0 on the record layer */
	out[n++] = 0x03;
	out[n++] = 0x01;
	n += 2;		 /* record length */
	out[n++] = 0x01; /* ClientHello */
	n += 3;		 /* handshake length */
	body = n;
	out[n++] = 0x03;
	out[n++] = 0x03;
	memset(out + n, 0, 32);
	n += 32;
	out[n++] = 0; /* session id */
	put16(out + n, 4);
	put16(out + n + 2, 0x1301);
	put16(out + n + 4, 0xc02f);
	n += 6;
	out[n++] = 1; /* compression methods: null */
	out[n++] = 0;
	ext = n;
	n += 2;
	put16(out + n, 0x0000); /* server_name */
	put16(out + n + 2, hl + 5);
	put16(out + n + 4, hl + 3); /* server_name_list */
	out[n + 6] = 0;		    /* host_name */
	put16(out + n + 7, hl);
	memcpy(out + n + 9, host, hl);
	n += 9 + hl;
	put16(out + ext, n - ext - 2);
	put16(out + 3, n - 5);
	out[6] = 0;
	put16(out + 7, n - body);
	return n;
}

static struct pc_inspect *make(uint32_t off, uint32_t max_flows, uint32_t max_results)
{
	struct pc_inspect_params p = { .off = off,
				       .max_flows = max_flows,
				       .max_results = max_results };
	struct pc_inspect *in = NULL;

	CHECK_EQ(pc_inspect_create(&in, &p), 0);
	return in;
}

/* End a flow and read what it found into @r. */
static void settle(struct pc_inspect *in, uint32_t *h, struct capture_flow *r)
{
	memset(r, 0, sizeof(*r));
	pc_inspect_end(in, h);
	pc_inspect_fill(in, *h, r);
	pc_inspect_release(in, *h);
}

/* The ClientHello in three segments, delivered in @order (indexes 0..2);
 * @syn: the handshake was seen. */
static void tls_split(const int *order, int nseg, bool syn, const char *want_sni, uint64_t gaps)
{
	struct pc_inspect *in = make(CAPTURE_INSPECT_DPI, 4, 4096);
	uint8_t ch[256];
	unsigned n = client_hello(ch), cut[4] = { 0, n / 3, 2 * n / 3, n };
	uint32_t h = PC_INSP_NONE, isn = 1000;
	struct capture_flow r;
	struct pkt p;
	int i;

	if (!in)
		return;
	if (syn) {
		tcp_pkt(&p, 0, isn - 1, SYN, NULL, 0);
		pc_inspect_packet(in, &h, &p.m, 0);
		tcp_pkt(&p, 1, 7000, SYN | ACK, NULL, 0);
		pc_inspect_packet(in, &h, &p.m, 1);
	}
	for (i = 0; i < nseg; i++) {
		int s = order[i];

		tcp_pkt(&p, 0, isn + cut[s], PSH | ACK, ch + cut[s], cut[s + 1] - cut[s]);
		pc_inspect_packet(in, &h, &p.m, 0);
	}
	settle(in, &h, &r);
	if (want_sni) {
		CHECK(r.l7_flags & CAPTURE_L7_TLS);
		CHECK_STR(r.tls_sni, want_sni);
		CHECK_EQ(r.tls_version, 0x0303);
	} else {
		CHECK(!(r.l7_flags & CAPTURE_L7_TLS));
		CHECK_STR(r.tls_sni, "");
	}
	CHECK_EQ(pc_inspect_counters(in)->reassembly_gaps, gaps);
	CHECK_EQ(pc_inspect_counters(in)->flows, 1);
	pc_inspect_destroy(in);
}

static void test_tls_reassembly(void)
{
	static const int in_order[] = { 0, 1, 2 }, shuffled[] = { 2, 0, 1 },
			 missing_middle[] = { 0, 2 }, late_first[] = { 1, 0, 2 };

	tls_split(in_order, 3, true, "unit.example", 0);
	tls_split(in_order, 3, false, "unit.example", 0);
	tls_split(shuffled, 3, true, "unit.example", 0);
	/* a hole that is never filled: given up, one gap */
	tls_split(missing_middle, 2, true, NULL, 1);
	/* no SYN and the first segment late: the stream started at segment 1,
	 * so segment 0 lies before it: one gap */
	tls_split(late_first, 3, false, NULL, 1);
}

/* A DNS query for "a.example" type A (RFC 1035 4.1), id 0x1234, RD. */
static unsigned dns_query(uint8_t *out)
{
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0,	  1,   0,   0,	 0, 0, 0, 0, 1, 'a',
				     7,	   'e',	 'x',  'a',  'm', 'p', 'l', 'e', 0, 0, 1, 0, 1 };

	memcpy(out, q, sizeof(q));
	return sizeof(q);
}

static void udp_dns(struct pkt *p, uint16_t cport)
{
	uint8_t h[8] = { 0 }, q[64];
	unsigned n = dns_query(q);

	put16(h, cport);
	put16(h + 2, 53);
	put16(h + 4, 8 + n);
	build(p, 17, cport, 53, 0, h, 8, q, n);
}

static void test_pools(void)
{
	struct pc_inspect *in = make(CAPTURE_INSPECT_DPI, 2, 4096);
	uint32_t h[4] = { PC_INSP_NONE, PC_INSP_NONE, PC_INSP_NONE, PC_INSP_NONE };
	struct capture_flow r;
	struct pkt p;
	int i;

	if (!in)
		return;
	/* two records: the third flow waits uninspected, counted */
	for (i = 0; i < 3; i++) {
		udp_dns(&p, (uint16_t)(50000 + i));
		pc_inspect_packet(in, &h[i], &p.m, 0);
	}
	CHECK(pc_inspect_wants(h[0]) && h[0] != PC_INSP_NONE);
	CHECK(pc_inspect_wants(h[1]) && h[1] != PC_INSP_NONE);
	CHECK_EQ(h[2], PC_INSP_DONE);
	CHECK_EQ(pc_inspect_counters(in)->flows, 2);
	CHECK_EQ(pc_inspect_counters(in)->pool_full, 1);
	/* the first ends: its record goes back, its result stays until release */
	settle(in, &h[0], &r);
	CHECK(r.l7_flags & CAPTURE_L7_DNS);
	CHECK(!(r.l7_flags & CAPTURE_L7_DNS_RESPONSE));
	CHECK_STR(r.dns_qname, "a.example");
	CHECK_EQ(r.dns_qtype, 1);
	udp_dns(&p, 50003);
	pc_inspect_packet(in, &h[3], &p.m, 0);
	CHECK(pc_inspect_wants(h[3]) && h[3] != PC_INSP_NONE);
	CHECK_EQ(pc_inspect_counters(in)->flows, 3);
	CHECK_EQ(pc_inspect_counters(in)->pool_full, 1);
	/* a snapshot of a flow still inspected shows what it has so far */
	memset(&r, 0, sizeof(r));
	pc_inspect_fill(in, h[1], &r);
	CHECK_STR(r.dns_qname, "a.example");
	settle(in, &h[1], &r);
	settle(in, &h[3], &r);
	pc_inspect_release(in, h[2]); /* DONE: nothing to give back */
	CHECK_EQ(pc_inspect_counters(in)->reassembly_gaps, 0);
	pc_inspect_destroy(in);
}

/* A full pool takes the record of a flow quiet for 2 s: that flow's
 * inspection settles (its handle rewritten in place), the new flow is
 * inspected; a flow quiet for less keeps its record. */
static void test_reclaim(void)
{
	struct pc_inspect *in = make(CAPTURE_INSPECT_DPI, 2, 4096);
	uint32_t h[4] = { PC_INSP_NONE, PC_INSP_NONE, PC_INSP_NONE, PC_INSP_NONE };
	uint64_t at[4] = { T0, T0, T0 + 1000000000ull, T0 + 2500000000ull };
	struct capture_flow r;
	struct pkt p;
	int i;

	if (!in)
		return;
	for (i = 0; i < 4; i++) {
		udp_dns(&p, (uint16_t)(50000 + i));
		p.m.ts_ns = at[i];
		pc_inspect_packet(in, &h[i], &p.m, 0);
	}
	CHECK_EQ(h[2], PC_INSP_DONE); /* 1 s: no flow quiet long enough */
	CHECK(pc_inspect_wants(h[3]) && h[3] != PC_INSP_NONE);
	CHECK_EQ(pc_inspect_counters(in)->pool_full, 1);
	CHECK_EQ(pc_inspect_counters(in)->reclaimed, 1);
	CHECK_EQ(pc_inspect_counters(in)->flows, 3);
	/* the first flow's inspection settled with what it had found */
	CHECK(!pc_inspect_wants(h[0]) && h[0] != PC_INSP_DONE);
	memset(&r, 0, sizeof(r));
	pc_inspect_fill(in, h[0], &r);
	CHECK(r.l7_flags & CAPTURE_L7_DNS);
	CHECK_STR(r.dns_qname, "a.example");
	CHECK(pc_inspect_wants(h[1]) && h[1] != PC_INSP_NONE);
	for (i = 0; i < 4; i++)
		settle(in, &h[i], &r);
	pc_inspect_destroy(in);
}

/* Inspection off for everything but TCP health: nothing to do at all. */
static void test_active(void)
{
	struct pc_inspect *in = make(CAPTURE_INSPECT_ALL & ~(uint32_t)CAPTURE_INSPECT_TCP, 4, 4096);

	CHECK(!pc_inspect_active(in));
	pc_inspect_destroy(in);
	in = make(CAPTURE_INSPECT_DPI | CAPTURE_INSPECT_TLS, 4, 4096);
	CHECK(pc_inspect_active(in));
	pc_inspect_destroy(in);
	CHECK(!pc_inspect_active(NULL));
}

/* nDPI names a DNS query "DNS" from the packet (where compiled in). */
static void test_dpi(void)
{
	char ver[32];
	struct pc_inspect *in;
	struct capture_flow r;
	uint32_t h = PC_INSP_NONE;
	struct pkt p;

	if (!capture_dpi_available(ver, sizeof(ver))) {
		printf("nDPI not compiled in: DPI checks skipped\n");
		return;
	}
	CHECK(!strncmp(ver, "ndpi ", 5));
	in = make(0, 4, 4096);
	if (!in)
		return;
	udp_dns(&p, 50000);
	pc_inspect_packet(in, &h, &p.m, 0);
	settle(in, &h, &r);
	CHECK(r.l7_flags & CAPTURE_L7_APP);
	CHECK_STR(r.app, "DNS");
	CHECK_STR(r.dns_qname, "a.example");
	CHECK_EQ(pc_inspect_counters(in)->dpi_flows, 1);
	CHECK_EQ(pc_inspect_counters(in)->dpi_identified, 1);
	pc_inspect_destroy(in);
}

/* A TCP flow without payload (handshake, pure ACKs, FIN) never takes an
 * nDPI state: its verdict is nDPI's guess from the port, as nDPI gives it for
 * such a flow, held in the handle itself (no result record: two such flows
 * settle with a result pool of one record, whose record a third flow with a
 * parser result still gets). */
static void test_dpi_no_payload(void)
{
	static const uint8_t fl[] = { SYN, SYN | ACK, ACK, ACK | 0x01 };
	struct pc_inspect *in;
	struct capture_flow r;
	uint32_t h[3] = { PC_INSP_NONE, PC_INSP_NONE, PC_INSP_NONE };
	struct pkt p;
	int f, i;

	if (!capture_dpi_available(NULL, 0))
		return;
	in = make(0, 4, 1);
	if (!in)
		return;
	for (f = 0; f < 2; f++) {
		for (i = 0; i < 4; i++) {
			tcp_pkt(&p, i == 1, 1000, fl[i], NULL, 0);
			pc_inspect_packet(in, &h[f], &p.m, i == 1);
		}
		pc_inspect_end(in, &h[f]);
		CHECK(h[f] & 0x80000000u);
	}
	for (f = 0; f < 2; f++) {
		memset(&r, 0, sizeof(r));
		pc_inspect_fill(in, h[f], &r);
		CHECK_EQ(r.l7_flags, CAPTURE_L7_APP);
		CHECK_STR(r.app, "TLS");
		CHECK_STR(r.app_category, "Web");
		CHECK_EQ(r.app_id, 91);
		CHECK_EQ(r.app_master_id, 0);
		CHECK_EQ(r.dpi_confidence, CAPTURE_DPI_MATCH_BY_PORT);
	}
	udp_dns(&p, 50001);
	pc_inspect_packet(in, &h[2], &p.m, 0);
	settle(in, &h[2], &r);
	CHECK_STR(r.app, "DNS");
	CHECK_STR(r.dns_qname, "a.example");
	CHECK_EQ(pc_inspect_counters(in)->dpi_flows, 1);
	CHECK_EQ(pc_inspect_counters(in)->dpi_identified, 3);
	CHECK_EQ(pc_inspect_counters(in)->pool_full, 0);
	pc_inspect_release(in, h[0]);
	pc_inspect_release(in, h[1]);
	pc_inspect_destroy(in);
}

int main(void)
{
	test_tls_reassembly();
	test_pools();
	test_reclaim();
	test_active();
	test_dpi();
	test_dpi_no_payload();
	return check_finish("unit.inspect");
}
