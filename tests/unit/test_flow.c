/* SPDX-License-Identifier: BSD-3-Clause */
/* unit.flow: flow key canonical order, the table's accounting, expiry and eviction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

#include "check.h"

#define SEC 1000000000ull
#define T0 (1700000000ull * SEC)

struct sink {
	struct capture_flow r[2048]; /* 1.3 KB each, on the stack */
	size_t n;
	uint64_t packets;
};

static void emit(void *ctx, const struct capture_flow *rec)
{
	struct sink *s = ctx;

	if (s->n < 2048)
		s->r[s->n] = *rec;
	s->n++;
	s->packets += rec->packets + rec->rev_packets;
}

/* An IPv4 packet a.b.c.d:sp -> w.x.y.z:dp as the decoder would describe it. */
static struct pc_meta pkt4(uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t proto,
			   uint8_t flags, uint32_t len, uint64_t ts)
{
	struct pc_meta m;

	memset(&m, 0, sizeof(m));
	m.key.addr[0][0] = (uint8_t)(src >> 24);
	m.key.addr[0][1] = (uint8_t)(src >> 16);
	m.key.addr[0][2] = (uint8_t)(src >> 8);
	m.key.addr[0][3] = (uint8_t)src;
	m.key.addr[1][0] = (uint8_t)(dst >> 24);
	m.key.addr[1][1] = (uint8_t)(dst >> 16);
	m.key.addr[1][2] = (uint8_t)(dst >> 8);
	m.key.addr[1][3] = (uint8_t)dst;
	m.key.port[0] = sp;
	m.key.port[1] = dp;
	m.key.proto = proto;
	m.key.ipver = 4;
	m.tcp_flags = flags;
	m.ip_bytes = len;
	m.wirelen = len + 14;
	m.ts_ns = ts;
	m.flags = PC_META_HAS_L4;
	return m;
}

#define C 0xc6120001u /* 198.18.0.1, client */
#define S 0xc6130001u /* 198.19.0.1, server */
#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04
#define PSH 0x08

static struct pc_flow_table *mk(uint32_t slots, uint64_t idle, uint64_t active, bool uni)
{
	struct pc_flow_params p = { .slots = slots,
				    .idle_ns = idle,
				    .active_ns = active,
				    .uniflow = uni,
				    .worker = 3,
				    .seed = { 0x1234, 0x5678 } };
	struct pc_flow_table *t;

	if (pc_flow_table_create(&t, &p)) {
		fprintf(stderr, "cannot create table\n");
		exit(1);
	}
	return t;
}

static void one(struct pc_flow_table *t, struct pc_meta m, struct sink *s)
{
	pc_flow_update_burst(t, &m, 1, PC_FLOW_CB(emit, s));
}

static void test_canon_and_hash(void)
{
	struct pc_flow_key a, b;
	uint64_t seed[2] = { 1, 2 };
	struct pc_hash_key hk;
	struct pc_meta m1 = pkt4(C, 1024, S, 80, 6, 0, 40, T0);
	struct pc_meta m2 = pkt4(S, 80, C, 1024, 6, 0, 40, T0);

	a = m1.key;
	b = m2.key;
	CHECK(!pc_flow_key_canon(&a)); /* 198.18 < 198.19: already canonical */
	CHECK(pc_flow_key_canon(&b));
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	pc_hash_key_init(&hk, seed);
	CHECK_EQ(pc_flow_key_hash(&a, &hk), pc_flow_key_hash(&b, &hk));
	CHECK_EQ(pc_flow_key_sym_hash(&m1.key, seed), pc_flow_key_sym_hash(&m2.key, seed));
	/* a different seed gives a different hash */
	{
		uint64_t seed2[2] = { 3, 4 };
		struct pc_hash_key hk2;

		pc_hash_key_init(&hk2, seed2);
		CHECK(pc_flow_key_hash(&a, &hk) != pc_flow_key_hash(&a, &hk2));
	}
	/* same addresses, swapped ports: the port decides the order */
	{
		struct pc_meta m3 = pkt4(C, 2000, C, 1000, 17, 0, 40, T0);

		a = m3.key;
		CHECK(pc_flow_key_canon(&a));
		CHECK_EQ(a.port[0], 1000);
	}
}

static void test_biflow_tcp_session(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };
	const struct capture_flow *r;

	/* SYN-ACK seen first (capture started mid-handshake): the SYN sender,
	 * the client, is still src */
	one(t, pkt4(S, 80, C, 1024, 6, SYN | ACK, 60, T0 + 1), &s);
	one(t, pkt4(C, 1024, S, 80, 6, ACK, 52, T0 + 2), &s);
	one(t, pkt4(C, 1024, S, 80, 6, ACK | PSH, 552, T0 + 3), &s);
	one(t, pkt4(S, 80, C, 1024, 6, ACK, 52, T0 + 4), &s);
	one(t, pkt4(C, 1024, S, 80, 6, FIN | ACK, 52, T0 + 5), &s);
	one(t, pkt4(S, 80, C, 1024, 6, FIN | ACK, 52, T0 + 6), &s);
	CHECK_EQ(s.n, 0); /* closing: waits for the last ACK */
	one(t, pkt4(C, 1024, S, 80, 6, ACK, 52, T0 + 7), &s);
	CHECK_EQ(s.n, 0);
	CHECK_EQ(pc_flow_table_counters(t)->active, 1);
	/* the sweep visits the table once per idle timeout: within the
	 * close timeout nothing ends, within one more sweep period it does */
	{
		uint64_t now;

		for (now = T0 + 7; now <= T0 + 7 + PC_FLOW_CLOSE_TIMEOUT_NS; now += SEC / 4)
			pc_flow_expire(t, now, 1u << 20, PC_FLOW_CB(emit, &s));
		CHECK_EQ(s.n, 0);
		for (; now <= T0 + 7 + PC_FLOW_CLOSE_TIMEOUT_NS + 31 * SEC; now += SEC / 4)
			pc_flow_expire(t, now, 1u << 20, PC_FLOW_CB(emit, &s));
	}
	CHECK_EQ(s.n, 1);
	r = &s.r[0];
	CHECK_EQ(r->src_ip[3], 1);
	CHECK_EQ(r->src_ip[1], 18); /* client 198.18.0.1 */
	CHECK_EQ(r->src_port, 1024);
	CHECK_EQ(r->dst_port, 80);
	CHECK_EQ(r->packets, 4);
	CHECK_EQ(r->bytes, 52 + 552 + 52 + 52);
	CHECK_EQ(r->rev_packets, 3);
	CHECK_EQ(r->rev_bytes, 60 + 52 + 52);
	CHECK_EQ(r->tcp_flags, ACK | PSH | FIN);
	CHECK_EQ(r->rev_tcp_flags, SYN | ACK | FIN);
	CHECK_EQ(r->first_ns, T0 + 1);
	CHECK_EQ(r->last_ns, T0 + 7);
	CHECK_EQ(r->fwd_first_ns, T0 + 2);
	CHECK_EQ(r->rev_first_ns, T0 + 1);
	CHECK_EQ(r->end_reason, CAPTURE_END_END);
	CHECK_EQ(r->worker, 3);
	CHECK_EQ(r->ip_version, 4);
	CHECK_EQ(pc_flow_table_counters(t)->active, 0);
	CHECK_EQ(pc_flow_table_counters(t)->packets, 7);
	pc_flow_table_destroy(t);
}

static void test_reuse_rst_and_idle(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };

	/* RST closes; a new SYN on the same 5-tuple starts a new flow at once */
	one(t, pkt4(C, 1024, S, 80, 6, SYN, 60, T0), &s);
	one(t, pkt4(S, 80, C, 1024, 6, RST | ACK, 40, T0 + 10), &s);
	CHECK_EQ(s.n, 0);
	one(t, pkt4(C, 1024, S, 80, 6, SYN, 60, T0 + 20), &s);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.r[0].end_reason, CAPTURE_END_END);
	CHECK_EQ(s.r[0].packets, 1);
	CHECK_EQ(s.r[0].rev_packets, 1);
	/* idle gap: exactly the timeout does not split, one ns more does */
	one(t, pkt4(C, 1024, S, 80, 6, ACK, 40, T0 + 20 + 30 * SEC), &s);
	CHECK_EQ(s.n, 1);
	one(t, pkt4(C, 1024, S, 80, 6, ACK, 40, T0 + 20 + 60 * SEC + 1), &s);
	CHECK_EQ(s.n, 2);
	CHECK_EQ(s.r[1].end_reason, CAPTURE_END_IDLE);
	CHECK_EQ(s.r[1].packets, 2);
	CHECK_EQ(s.r[1].last_ns, T0 + 20 + 30 * SEC);
	/* shutdown flush: the open one */
	pc_flow_flush(t, T0 + 20 + 60 * SEC + 1, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 3);
	CHECK_EQ(s.r[2].end_reason, CAPTURE_END_SHUTDOWN);
	CHECK_EQ(s.r[2].packets, 1);
	CHECK_EQ(s.packets, 5);
	pc_flow_table_destroy(t);
}

static void test_active_timeout(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 60 * SEC, false);
	struct sink s = { 0 };
	uint64_t i;

	/* one UDP packet every 10 s for 125 s: splits at 60 s of age */
	for (i = 0; i <= 12; i++)
		one(t, pkt4(C, 5000, S, 53, 17, 0, 100, T0 + i * 10 * SEC), &s);
	CHECK_EQ(s.n, 2);
	CHECK_EQ(s.r[0].end_reason, CAPTURE_END_ACTIVE);
	CHECK_EQ(s.r[0].packets, 6); /* t = 0..50 */
	CHECK_EQ(s.r[1].packets, 6); /* t = 60..110 */
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.r[2].packets, 1);
	CHECK_EQ(s.r[2].end_reason, CAPTURE_END_SHUTDOWN);
	CHECK_EQ(s.r[0].proto, 17);
	CHECK_EQ(s.r[0].dst_port, 53);
	pc_flow_table_destroy(t);
}

static void test_uniflow(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, true);
	struct sink s = { 0 };

	one(t, pkt4(C, 1024, S, 53, 17, 0, 70, T0), &s);
	one(t, pkt4(S, 53, C, 1024, 17, 0, 170, T0 + 5), &s);
	one(t, pkt4(S, 53, C, 1024, 17, 0, 170, T0 + 6), &s);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 2);
	CHECK_EQ(s.r[0].packets + s.r[1].packets, 3);
	CHECK_EQ(s.r[0].rev_packets + s.r[1].rev_packets, 0);
	CHECK_EQ(s.r[0].bytes + s.r[1].bytes, 410);
	pc_flow_table_destroy(t);
}

/* ------------------------------------------------------------ TCP health */

static struct pc_flow_table *mk_health(bool on, bool uni)
{
	struct pc_flow_params p = { .slots = 4096,
				    .idle_ns = 30 * SEC,
				    .active_ns = 1800 * SEC,
				    .uniflow = uni,
				    .tcp_health = on,
				    .seed = { 0x1234, 0x5678 } };
	struct pc_flow_table *t;

	if (pc_flow_table_create(&t, &p)) {
		fprintf(stderr, "cannot create table\n");
		exit(1);
	}
	return t;
}

/* A whole TCP segment with @len payload bytes, as the decoder gives it. */
static struct pc_meta seg(uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags,
			  uint32_t seq, uint16_t win, uint32_t len, uint64_t ts)
{
	struct pc_meta m = pkt4(src, sp, dst, dp, 6, flags, 40 + len, ts);

	m.flags |= PC_META_TCP_HDR;
	m.tcp_seq = seq;
	m.tcp_ack = 1;
	m.tcp_win = win;
	m.pl_len = len;
	return m;
}

#define CS(fl, sq, len, t) seg(C, 1024, S, 80, (fl), (sq), 1000, (len), T0 + (t))
#define SC(fl, sq, len, t) seg(S, 80, C, 1024, (fl), (sq), 1000, (len), T0 + (t))

/* Sequence tracking across the 2^32 wrap: holes, their filling from below,
 * from above and inside, a second jump widening the open hole, partial
 * overlaps, keep-alives, repeated SYNs and FINs. */
static void test_tcp_sequence(void)
{
	struct pc_flow_table *t = mk_health(true, false);
	struct sink s = { 0 };
	const uint32_t x = 0xffffff00u; /* the client's ISN */
	const struct capture_flow *r;

	one(t, CS(SYN, x, 0, 0), &s);
	one(t, CS(SYN, x, 0, 1), &s); /* a repeated SYN: no retransmission */
	one(t, SC(SYN | ACK, 77, 0, 2), &s);
	one(t, CS(ACK, x + 1, 0, 3), &s);
	one(t, CS(ACK, x + 1, 100, 4), &s);	   /* [x+1, x+101) */
	one(t, CS(ACK, x + 401, 100, 5), &s);	   /* jump: hole [x+101, x+401) */
	one(t, CS(ACK, x + 101, 100, 6), &s);	   /* fills from below: ooo 1 */
	one(t, CS(ACK, x + 301, 100, 7), &s);	   /* from above: ooo 2, hole [x+201, x+301) */
	one(t, CS(ACK, x + 1, 50, 8), &s);	   /* below the hole: retrans 1, 50 bytes */
	one(t, CS(ACK, x + 701, 100, 9), &s);	   /* jump again: hole [x+201, x+701) */
	one(t, CS(ACK, x + 401, 100, 10), &s);	   /* inside: ooo 3, hole [x+201, x+401) */
	one(t, CS(ACK, x + 201, 200, 11), &s);	   /* fills it: ooo 4, no hole */
	one(t, CS(ACK, x + 451, 100, 12), &s);	   /* seen already: retrans 2, 100 bytes */
	one(t, CS(ACK, x + 751, 100, 13), &s);	   /* 50 seen, 50 new: retrans 3, 50 bytes */
	one(t, CS(ACK, x + 850, 1, 14), &s);	   /* keep-alive: not counted */
	one(t, CS(FIN | ACK, x + 851, 0, 15), &s); /* the FIN takes x+851 */
	one(t, CS(FIN | ACK, x + 851, 0, 16), &s); /* repeated FIN: no payload, not counted */
	one(t, CS(RST, x + 1, 30, 17), &s);	   /* RSTs are not analysed */
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 1);
	r = &s.r[0];
	CHECK_EQ(r->ooo_packets, 4);
	CHECK_EQ(r->retrans_packets, 3);
	CHECK_EQ(r->retrans_bytes, 200);
	CHECK_EQ(r->rev_retrans_packets + r->rev_ooo_packets, 0);
	CHECK_EQ(r->payload_bytes, 100 * 8 + 50 + 200 + 1 + 30);
	CHECK_STR(r->history, "ShADTFR");
	CHECK_STR(capture_conn_state_name(r->conn_state), "RSTO");
	CHECK(r->l7_flags & CAPTURE_L7_TCP);
	pc_flow_table_destroy(t);
}

/* The handshake RTT in microseconds (ns cut), only for a clean handshake;
 * zero windows (not on RSTs), saturating; health off leaves no field. */
static void test_tcp_rtt_and_windows(void)
{
	struct pc_flow_table *t = mk_health(true, false);
	struct sink s = { 0 };
	struct pc_meta m;
	unsigned i;

	one(t, CS(SYN, 1, 0, 0), &s);
	one(t, SC(SYN | ACK, 9, 0, 1234567), &s);
	one(t, CS(ACK, 2, 0, 3000999), &s);
	/* a repeated SYN before the SYN-ACK: no RTT */
	one(t, seg(C, 1025, S, 80, SYN, 1, 1000, 0, T0), &s);
	one(t, seg(C, 1025, S, 80, SYN, 1, 1000, 0, T0 + SEC), &s);
	one(t, seg(S, 80, C, 1025, SYN | ACK, 1, 1000, 0, T0 + SEC + 5000), &s);
	one(t, seg(C, 1025, S, 80, ACK, 2, 1000, 0, T0 + SEC + 9000), &s);
	/* zero windows from the server: 70000 ACKs, then an RST with window 0 */
	for (i = 0; i < 70000; i++)
		one(t, seg(S, 80, C, 1026, ACK, 5, 0, 0, T0 + 10 + i), &s);
	one(t, seg(S, 80, C, 1026, RST, 5, 0, 0, T0 + 80000), &s);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 3);
	for (i = 0; i < s.n; i++) {
		const struct capture_flow *r = &s.r[i];

		if (r->src_port == 1024) {
			CHECK(r->l7_flags & CAPTURE_L7_RTT);
			CHECK_EQ(r->rtt_syn_us, 1234);
			CHECK_EQ(r->rtt_us, 3000);
			CHECK_STR(r->history, "ShA");
			CHECK_STR(capture_conn_state_name(r->conn_state), "S1");
		} else if (r->src_port == 1025) {
			CHECK(!(r->l7_flags & CAPTURE_L7_RTT));
			CHECK_EQ(r->rtt_us, 0);
			CHECK_STR(capture_conn_state_name(r->conn_state), "S1");
		} else {
			/* midstream from the server: src is the server */
			CHECK_EQ(r->src_port, 80);
			CHECK_EQ(r->zero_win, 65535);
			CHECK_STR(r->history, "AWR");
			CHECK_STR(capture_conn_state_name(r->conn_state), "OTH");
		}
	}
	/* health off: nothing, even for TCP */
	pc_flow_table_destroy(t);
	t = mk_health(false, false);
	s.n = 0;
	one(t, CS(SYN, 1, 0, 0), &s);
	m = SC(SYN | ACK, 9, 0, 10);
	m.tcp_win = 0;
	one(t, m, &s);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.r[0].l7_flags & (CAPTURE_L7_TCP | CAPTURE_L7_RTT), 0);
	CHECK_EQ(s.r[0].conn_state, CAPTURE_CONN_NONE);
	CHECK_STR(s.r[0].history, "");
	CHECK_EQ(s.r[0].rev_zero_win, 0);
	pc_flow_table_destroy(t);
}

/* The record's src changes when a SYN arrives after the first packet: the
 * per-side data follow it. A SYN-ACK whose SYN was not seen: SHR, RSTRH.
 * Packets without a whole TCP header take no part; live lookups see it. */
static void test_tcp_sides(void)
{
	struct pc_flow_table *t = mk_health(true, false);
	struct sink s = { 0 };
	struct pc_flow_key k;
	struct capture_flow f;
	struct pc_meta frag;
	unsigned i;

	/* the server speaks first (zero window), then the client's SYN */
	one(t, seg(S, 80, C, 2000, ACK, 5, 0, 0, T0), &s);
	one(t, seg(C, 2000, S, 80, SYN, 1, 1000, 0, T0 + 1), &s);
	one(t, seg(S, 80, C, 2000, ACK, 5, 1000, 10, T0 + 2), &s);
	one(t, seg(S, 80, C, 2000, ACK, 5, 1000, 10, T0 + 3), &s); /* retransmitted */
	/* SYN-ACK then FIN, SYN-ACK then RST, no SYN seen */
	one(t, seg(S, 80, C, 2001, SYN | ACK, 5, 1000, 0, T0 + 4), &s);
	one(t, seg(S, 80, C, 2001, FIN | ACK, 6, 1000, 0, T0 + 5), &s);
	one(t, seg(S, 80, C, 2002, SYN | ACK, 5, 1000, 0, T0 + 6), &s);
	one(t, seg(S, 80, C, 2002, RST, 6, 1000, 0, T0 + 7), &s);
	/* a fragment: no header fields, no letter, no state */
	frag = pkt4(C, 2003, S, 80, 6, ACK, 200, T0 + 8);
	frag.flags |= PC_META_FRAGMENT;
	frag.pl_len = 160;
	one(t, frag, &s);
	memset(&k, 0, sizeof(k));
	k = pkt4(S, 80, C, 2000, 6, 0, 0, 0).key;
	CHECK_EQ(pc_flow_find(t, &k, &f), 0);
	CHECK_EQ(f.src_port, 2000);
	CHECK_EQ(f.rev_zero_win, 1);
	CHECK_EQ(f.rev_retrans_packets, 1);
	CHECK_STR(f.history, "awSdt");
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 4);
	for (i = 0; i < s.n; i++) {
		const struct capture_flow *r = &s.r[i];
		const char *st = capture_conn_state_name(r->conn_state);

		CHECK(r->l7_flags & CAPTURE_L7_TCP);
		if (r->src_port == 2000) {
			CHECK_EQ(r->zero_win + r->retrans_packets, 0);
			CHECK_EQ(r->rev_zero_win, 1);
			CHECK_EQ(r->rev_retrans_packets, 1);
			CHECK_EQ(r->rev_retrans_bytes, 10);
			CHECK_STR(r->history, "awSdt");
			CHECK_STR(st, "OTH");
		} else if (r->src_port == 2001) {
			CHECK_STR(r->history, "hf");
			CHECK_STR(st, "SHR");
		} else if (r->src_port == 2002) {
			CHECK_STR(r->history, "hr");
			CHECK_STR(st, "RSTRH");
		} else {
			CHECK_EQ(r->src_port, 2003);
			CHECK_EQ(r->payload_bytes, 160);
			CHECK_STR(r->history, "");
			CHECK_EQ(r->conn_state, CAPTURE_CONN_OTH);
		}
	}
	pc_flow_table_destroy(t);
}

static void test_sweep_and_find(void)
{
	struct pc_flow_table *t = mk(4096, 10 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };
	struct capture_flow f, snap[200];
	struct pc_meta m;
	size_t cursor = 0, n;
	uint32_t i;

	for (i = 0; i < 100; i++)
		one(t, pkt4(C + i, 1024, S, 443, 6, SYN, 60, T0 + i), &s);
	CHECK_EQ(pc_flow_table_counters(t)->active, 100);
	/* find either direction */
	m = pkt4(S, 443, C + 7, 1024, 6, 0, 0, 0);
	CHECK_EQ(pc_flow_find(t, &m.key, &f), 0);
	CHECK_EQ(f.packets, 1);
	CHECK_EQ(f.src_ip[3], 8);
	CHECK_EQ(f.end_reason, CAPTURE_END_ACTIVE_FLOW);
	m = pkt4(S, 444, C + 7, 1024, 6, 0, 0, 0);
	CHECK_EQ(pc_flow_find(t, &m.key, &f), -CAPTURE_E_NOT_FOUND);
	n = pc_flow_snapshot(t, &cursor, pc_flow_table_slots(t), snap, 200);
	CHECK_EQ(n, 100);
	/* sweeping: within one idle period nothing; after it, bounded slices
	 * end everything */
	pc_flow_expire(t, T0 + 100, 1u << 20, PC_FLOW_CB(emit, &s));
	pc_flow_expire(t, T0 + 5 * SEC, 1u << 20, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 0);
	for (i = 0; i < 64; i++)
		pc_flow_expire(t, T0 + 11 * SEC + i * (SEC / 8), 128, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 100);
	CHECK_EQ(s.r[0].end_reason, CAPTURE_END_IDLE);
	CHECK_EQ(pc_flow_table_counters(t)->active, 0);
	pc_flow_table_destroy(t);
}

static void test_eviction(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };
	const struct pc_flow_counters *fc = pc_flow_table_counters(t);
	uint32_t i;

	CHECK_EQ(pc_flow_table_slots(t), 4096);
	for (i = 0; i < 6000; i++)
		one(t, pkt4(C + i, 1024, S, 80, 6, SYN, 60, T0 + i), &s);
	CHECK_EQ(fc->created, 6000);
	CHECK(fc->active <= 4096);
	CHECK(fc->active > 3800); /* two-choice buckets fill to > 90% */
	CHECK_EQ(fc->ended[CAPTURE_END_EVICTED], 6000 - fc->active);
	CHECK_EQ(s.n, 6000 - fc->active);
	CHECK_EQ(s.r[0].end_reason, CAPTURE_END_EVICTED);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 6000);
	CHECK_EQ(s.packets, 6000);
	pc_flow_table_destroy(t);
}

/*
 * Which flow is evicted. The test keeps its own book of every flow in the
 * table (identified by its client address: C + id) and of the time it was
 * last seen. A key's two candidate buckets are computed as flow_table.c
 * picks them (NH hash of the canonical key under the table's seed: the low
 * bits, and bits 32 and up, the neighbour bucket when both coincide); that
 * the new flow always lands in one of them checks the computation. A bucket's
 * members are read with pc_flow_snapshot over its 16 slots.
 */
#define EV_FLOWS 3000u
#define EV_NEW 20000u
#define EV_WANT 300u

struct ev_book {
	uint64_t last[EV_FLOWS + EV_NEW];
	uint64_t pkts[EV_FLOWS + EV_NEW];
};

static uint32_t ev_id(const struct capture_flow *f)
{
	uint32_t a = (uint32_t)f->src_ip[0] << 24 | (uint32_t)f->src_ip[1] << 16 |
		     (uint32_t)f->src_ip[2] << 8 | f->src_ip[3];

	return a - C;
}

static struct pc_meta ev_pkt(uint32_t id, uint64_t ts)
{
	return pkt4(C + id, 1024, S, 53, 17, 0, 80, ts);
}

static void ev_buckets(const struct pc_flow_table *t, const struct pc_hash_key *hk, uint32_t id,
		       size_t b[2])
{
	struct pc_flow_key k = ev_pkt(id, 0).key;
	uint64_t mask = pc_flow_table_slots(t) / PC_FLOW_BUCKET_SLOTS - 1, h;

	pc_flow_key_canon(&k);
	h = pc_flow_key_hash(&k, hk);
	b[0] = h & mask;
	b[1] = (h >> 32) & mask;
	if (b[1] == b[0])
		b[1] ^= 1;
}

/* The flows of bucket @b: their ids into @ids; returns how many. */
static size_t ev_members(const struct pc_flow_table *t, size_t b, uint32_t ids[16])
{
	struct capture_flow f[PC_FLOW_BUCKET_SLOTS];
	size_t cursor = b * PC_FLOW_BUCKET_SLOTS, n, i;

	n = pc_flow_snapshot(t, &cursor, PC_FLOW_BUCKET_SLOTS, f, PC_FLOW_BUCKET_SLOTS);
	for (i = 0; i < n; i++)
		ids[i] = ev_id(&f[i]);
	return n;
}

static void test_eviction_least_recently_seen(void)
{
	static struct ev_book bk;
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	uint64_t seed[2] = { 0x1234, 0x5678 }; /* mk()'s */
	struct pc_hash_key hk;
	struct sink s = { 0 };
	uint64_t ts = T0;
	uint32_t i, j, evictions = 0, misplaced = 0, wrong = 0;

	pc_hash_key_init(&hk, seed);
	memset(&bk, 0, sizeof(bk));
	for (i = 0; i < EV_FLOWS; i++, ts += 1000) {
		one(t, ev_pkt(i, ts), &s);
		bk.last[i] = ts;
		bk.pkts[i] = 1;
	}
	CHECK_EQ(s.n, 0); /* 73% full: every flow found a free slot */
	/* seen again in an order unrelated to creation (a stride permutation),
	 * so the least recently seen is not the oldest */
	for (i = 0; i < EV_FLOWS; i++, ts += 1000) {
		uint32_t id = (i * 1831u + 7u) % EV_FLOWS;

		one(t, ev_pkt(id, ts), &s);
		bk.last[id] = ts;
		bk.pkts[id]++;
	}
	CHECK_EQ(s.n, 0);
	for (j = 0; j < EV_NEW && evictions < EV_WANT; j++, ts += 1000) {
		uint32_t id = EV_FLOWS + j, ids[2][16], victim = UINT32_MAX, k;
		size_t b[2], n[2], before = s.n;
		uint64_t oldest = UINT64_MAX;
		bool landed = false;

		ev_buckets(t, &hk, id, b);
		n[0] = ev_members(t, b[0], ids[0]);
		n[1] = ev_members(t, b[1], ids[1]);
		if (n[0] == PC_FLOW_BUCKET_SLOTS && n[1] == PC_FLOW_BUCKET_SLOTS) {
			for (k = 0; k < 2 * PC_FLOW_BUCKET_SLOTS; k++) {
				uint32_t c = ids[k / 16][k % 16];

				if (bk.last[c] < oldest) {
					oldest = bk.last[c];
					victim = c;
				}
			}
		}
		one(t, ev_pkt(id, ts), &s);
		bk.last[id] = ts;
		bk.pkts[id] = 1;
		if (victim == UINT32_MAX) {
			CHECK_EQ(s.n, before); /* a free candidate slot: nobody evicted */
		} else {
			const struct capture_flow *r = &s.r[before];

			CHECK_EQ(s.n, before + 1);
			CHECK_EQ(r->end_reason, CAPTURE_END_EVICTED);
			if (ev_id(r) != victim)
				wrong++;
			CHECK_EQ(r->last_ns, bk.last[victim]);
			CHECK_EQ(r->packets, bk.pkts[victim]);
			evictions++;
		}
		/* the new flow sits in one of the two computed buckets */
		for (k = 0; k < 2 && !landed; k++) {
			size_t m = ev_members(t, b[k], ids[k]), q;

			for (q = 0; q < m; q++)
				landed |= ids[k][q] == id;
		}
		misplaced += !landed;
	}
	CHECK_EQ(evictions, EV_WANT);
	CHECK_EQ(wrong, 0);	/* each time the least recently seen of the 32 */
	CHECK_EQ(misplaced, 0); /* the bucket computation above is flow_table.c's */
	CHECK_EQ(pc_flow_table_counters(t)->ended[CAPTURE_END_EVICTED], EV_WANT);
	pc_flow_table_destroy(t);
}

static void test_ipv6_and_icmp(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };
	struct pc_meta a, b;

	memset(&a, 0, sizeof(a));
	a.key.ipver = 6;
	a.key.proto = 58;
	a.key.addr[0][0] = 0x20;
	a.key.addr[0][15] = 9;
	a.key.addr[1][0] = 0x20;
	a.key.addr[1][15] = 1;
	a.ip_bytes = 104;
	a.icmp_type = 128; /* echo request */
	a.ts_ns = T0;
	b = a;
	memcpy(b.key.addr[0], a.key.addr[1], 16);
	memcpy(b.key.addr[1], a.key.addr[0], 16);
	b.icmp_type = 129; /* echo reply */
	b.ts_ns = T0 + 1000;
	one(t, a, &s);
	one(t, b, &s);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.r[0].icmp_type, 128); /* from the first packet */
	CHECK_EQ(s.r[0].src_ip[15], 9);
	CHECK_EQ(s.r[0].packets, 1);
	CHECK_EQ(s.r[0].rev_packets, 1);
	CHECK_EQ(s.r[0].ip_version, 6);
	pc_flow_table_destroy(t);
}

/* Give @m Ethernet addresses (src, dst: last byte), a TOS and a TTL. */
static struct pc_meta link(struct pc_meta m, uint8_t smac, uint8_t dmac, uint8_t tos, uint8_t ttl)
{
	static const uint8_t base[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x00 };

	memcpy(m.mac[0], base, 6);
	memcpy(m.mac[1], base, 6);
	m.mac[0][5] = smac;
	m.mac[1][5] = dmac;
	m.flags |= PC_META_HAS_MAC;
	m.tos = tos;
	m.ttl = ttl;
	return m;
}

/* MACs, TOS and TTL range per direction, inner VLAN, interface. */
static void test_link_identity(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };
	struct capture_flow *r;
	struct pc_meta m;

	/* the server's SYN-ACK arrives first: the record's src is still the client */
	one(t, link(pkt4(S, 443, C, 1024, 6, SYN | ACK, 60, T0), 0xbb, 0xaa, 0x2e, 60), &s);
	one(t, link(pkt4(C, 1024, S, 443, 6, ACK, 52, T0 + 1), 0xaa, 0xbb, 0xb8, 64), &s);
	one(t, link(pkt4(C, 1024, S, 443, 6, ACK, 52, T0 + 2), 0xaa, 0xcc, 0x00, 61), &s);
	one(t, link(pkt4(C, 1024, S, 443, 6, ACK, 52, T0 + 3), 0xaa, 0xbb, 0x00, 63), &s);
	one(t, link(pkt4(S, 443, C, 1024, 6, ACK, 52, T0 + 4), 0xbb, 0xaa, 0x00, 57), &s);
	/* raw IP (no MACs), inner VLAN, pcapng interface 3 */
	m = pkt4(C, 5000, S, 53, 17, 0, 80, T0 + 5);
	m.key.iface = 3;
	m.vlan_inner = 201;
	m.ttl = 9;
	one(t, m, &s);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 2);
	r = s.r[0].proto == 6 ? &s.r[0] : &s.r[1];
	CHECK_EQ(r->src_ip[3], 1);
	CHECK_EQ(r->src_ip[1], 18); /* client */
	CHECK_EQ(r->src_mac[5], 0xaa);
	CHECK_EQ(r->dst_mac[5], 0xbb); /* first frame client -> server, not the later 0xcc */
	CHECK_EQ(r->src_mac[0], 0x02);
	CHECK_EQ(r->tos, 0xb8);
	CHECK_EQ(r->rev_tos, 0x2e);
	CHECK_EQ(r->min_ttl, 61);
	CHECK_EQ(r->max_ttl, 64);
	CHECK_EQ(r->rev_min_ttl, 57);
	CHECK_EQ(r->rev_max_ttl, 60);
	CHECK_EQ(r->interface, 0);
	CHECK_EQ(r->tunnel_type, 0);
	CHECK_EQ(r->mpls_labels[0], 0);
	r = s.r[0].proto == 17 ? &s.r[0] : &s.r[1];
	CHECK_EQ(r->src_mac[0] | r->src_mac[5] | r->dst_mac[0] | r->dst_mac[5], 0);
	CHECK_EQ(r->vlan_inner, 201);
	CHECK_EQ(r->interface, 3);
	CHECK_EQ(r->min_ttl, 9);
	CHECK_EQ(r->max_ttl, 9);
	CHECK_EQ(r->rev_min_ttl, 0);
	pc_flow_table_destroy(t);
}

/* The same 5-tuple on two interfaces, or under two VNIs, is two flows;
 * GTP-U's two TEIDs are one biflow; the outer addresses and MPLS stack of
 * the first packet reach the record, oriented to its src. */
static void test_tunnels(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink s = { 0 };
	struct capture_flow f, *r;
	struct pc_meta m;
	size_t i;

	m = pkt4(C, 1000, S, 80, 6, SYN, 60, T0);
	one(t, m, &s);
	m.key.iface = 1;
	one(t, m, &s);
	m.key.iface = 0;
	m.key.tunnel_type = CAPTURE_TUNNEL_VXLAN;
	m.key.tunnel_id = 5001;
	m.flags |= PC_META_TUNNEL;
	m.outer_ipver = 4;
	m.outer_addr[0][0] = 10, m.outer_addr[0][3] = 1;
	m.outer_addr[1][0] = 10, m.outer_addr[1][3] = 2;
	one(t, m, &s);
	m.key.tunnel_id = 5002;
	one(t, m, &s);
	CHECK_EQ(pc_flow_table_counters(t)->active, 4);
	CHECK_EQ(pc_flow_find(t, &m.key, &f), 0);
	CHECK_EQ(f.tunnel_type, CAPTURE_TUNNEL_VXLAN);
	CHECK_EQ(f.tunnel_id, 5002);
	CHECK_EQ(f.rev_tunnel_id, 5002);
	CHECK_EQ(f.outer_ip_version, 4);
	CHECK_EQ(f.outer_src_ip[3], 1);
	CHECK_EQ(f.outer_dst_ip[3], 2);
	/* GTP-U: uplink TEID 0x100 first from the server side (it is the
	 * canonical side 1 here), the downlink 0x200 back; MPLS on the first */
	m = pkt4(S, 2152, C, 2152, 17, 0, 100, T0 + 10);
	m.flags |= PC_META_TUNNEL | PC_META_MPLS;
	m.key.tunnel_type = CAPTURE_TUNNEL_GTPU;
	m.teid = 0x100;
	m.outer_ipver = 6;
	m.outer_addr[0][15] = 0x11;
	m.outer_addr[1][15] = 0x22;
	m.mpls[0] = 1000u << 4 | 5u << 1;
	m.mpls[1] = 2000u << 4 | 1u;
	one(t, m, &s);
	m = pkt4(C, 2152, S, 2152, 17, 0, 100, T0 + 11);
	m.flags |= PC_META_TUNNEL;
	m.key.tunnel_type = CAPTURE_TUNNEL_GTPU;
	m.teid = 0x200;
	m.outer_ipver = 6;
	m.outer_addr[0][15] = 0x22;
	m.outer_addr[1][15] = 0x11;
	one(t, m, &s);
	CHECK_EQ(pc_flow_table_counters(t)->active, 5);
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, &s));
	CHECK_EQ(s.n, 5);
	for (i = 0, r = NULL; i < s.n; i++)
		if (s.r[i].tunnel_type == CAPTURE_TUNNEL_GTPU)
			r = &s.r[i];
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_EQ(r->packets, 1);
	CHECK_EQ(r->rev_packets, 1);
	CHECK_EQ(r->src_ip[1], 19); /* the server sent first */
	CHECK_EQ(r->tunnel_id, 0x100);
	CHECK_EQ(r->rev_tunnel_id, 0x200);
	CHECK_EQ(r->outer_ip_version, 6);
	CHECK_EQ(r->outer_src_ip[15], 0x11);
	CHECK_EQ(r->outer_dst_ip[15], 0x22);
	CHECK_EQ(r->mpls_labels[0], 1000u << 4 | 5u << 1);
	CHECK_EQ(r->mpls_labels[1], 2000u << 4 | 1u);
	CHECK_EQ(r->mpls_labels[2], 0);
	pc_flow_table_destroy(t);
}

/* The tunnel/MPLS/QinQ pool: a record given back when its flow ends is
 * handed to the next such flow, zeroed: round 1 reuses round 0's records
 * (MPLS, inner VLAN) and must show none of their values. */
static void test_ext_pool_reuse(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink *s = calloc(1, sizeof(*s));
	struct pc_meta m;
	unsigned round, i, bad = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 100; i++) {
			m = pkt4(C + i, 1000, S, 4000, 17, 0, 100, T0 + round * 60 * SEC + i);
			m.flags |= PC_META_TUNNEL;
			m.key.tunnel_type = CAPTURE_TUNNEL_VXLAN;
			m.key.tunnel_id = 1000 + i;
			m.outer_ipver = 4;
			m.outer_addr[0][3] = (uint8_t)(round + 1);
			m.outer_addr[1][3] = 9;
			if (!round) {
				m.flags |= PC_META_MPLS;
				m.mpls[0] = (100u + i) << 4 | 1u;
				m.vlan_inner = (uint16_t)(200 + i);
			}
			one(t, m, s);
			one(t, pkt4(C + i, 1000, S, 4001, 17, 0, 50, T0 + round * 60 * SEC + i), s);
		}
	}
	CHECK_EQ(s->n, 200); /* round 0's 200 flows ended idle by round 1's packets */
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, s));
	CHECK_EQ(s->n, 400);
	for (i = 0; i < s->n && i < 400; i++) {
		const struct capture_flow *r = &s->r[i];
		unsigned k = r->src_ip[3] - 1u, later = i >= 200;

		if (r->dst_port == 4001) {
			bad += r->tunnel_type || r->vlan_inner || r->mpls_labels[0] ||
			       r->outer_ip_version;
			continue;
		}
		bad += r->tunnel_id != 1000 + k || r->outer_src_ip[3] != later + 1 ||
		       r->outer_dst_ip[3] != 9 || r->packets != 1;
		bad += r->mpls_labels[0] != (later ? 0 : (100u + k) << 4 | 1u);
		bad += r->vlan_inner != (later ? 0 : 200 + k);
	}
	CHECK_EQ(bad, 0);
	free(s);
	pc_flow_table_destroy(t);
}

/* Payload octets past 2^32 on one side (the entry keeps the low 32 bits
 * beside the counters and carries into a high word), and entries reused
 * from the pool after their flows ended start clean. */
static void test_payload_carry_and_reuse(void)
{
	struct pc_flow_table *t = mk(4096, 30 * SEC, 1800 * SEC, false);
	struct sink *s = calloc(1, sizeof(*s));
	static struct pc_meta m[1000];
	unsigned i, k, bad = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	/* 70000 x 65000 payload octets = 4 550 000 000, past 2^32 */
	for (k = 0; k < 70; k++) {
		for (i = 0; i < 1000; i++) {
			m[i] = pkt4(C, 5000, S, 6000, 17, 0, 65028, T0 + (k * 1000 + i) * 1000);
			m[i].pl_len = 65000;
		}
		pc_flow_update_burst(t, m, 1000, PC_FLOW_CB(emit, s));
	}
	for (i = 0; i < 3; i++) {
		m[i] = pkt4(S, 6000, C, 5000, 17, 0, 38, T0 + SEC + i);
		m[i].pl_len = 10;
	}
	pc_flow_update_burst(t, m, 3, PC_FLOW_CB(emit, s));
	/* 300 short flows beside it */
	for (i = 0; i < 300; i++) {
		m[i] = pkt4(C + 1 + i, 1000, S, 53, 17, 0, 100, T0 + SEC + 10 + i);
		m[i].pl_len = 72;
	}
	pc_flow_update_burst(t, m, 300, PC_FLOW_CB(emit, s));
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, s));
	CHECK_EQ(s->n, 301);
	for (i = 0; i < s->n && i < 301; i++) {
		const struct capture_flow *r = &s->r[i];

		if (r->src_port == 5000) {
			CHECK_EQ(r->packets, 70000);
			CHECK_EQ(r->bytes, 70000ull * 65028);
			CHECK_EQ(r->payload_bytes, 4550000000ull);
			CHECK_EQ(r->rev_packets, 3);
			CHECK_EQ(r->rev_payload_bytes, 30);
		} else {
			bad += r->packets != 1 || r->payload_bytes != 72 || r->rev_packets;
		}
	}
	CHECK_EQ(bad, 0);
	/* every entry is back in the pool: new flows take them, from a clean start */
	s->n = 0;
	for (i = 0; i < 301; i++) {
		m[i] = pkt4(C + 1000 + i, 2000, S, 53, 17, 0, 60, T0 + 2 * SEC + i);
		m[i].pl_len = 32;
	}
	pc_flow_update_burst(t, m, 301, PC_FLOW_CB(emit, s));
	pc_flow_flush(t, 0, CAPTURE_END_SHUTDOWN, PC_FLOW_CB(emit, s));
	CHECK_EQ(s->n, 301);
	for (i = 0, bad = 0; i < s->n && i < 301; i++)
		bad += s->r[i].packets != 1 || s->r[i].bytes != 60 || s->r[i].payload_bytes != 32 ||
		       s->r[i].rev_packets || s->r[i].first_ns != s->r[i].last_ns;
	CHECK_EQ(bad, 0);
	CHECK_EQ(pc_flow_table_counters(t)->active, 0);
	free(s);
	pc_flow_table_destroy(t);
}

int main(void)
{
	test_canon_and_hash();
	test_biflow_tcp_session();
	test_reuse_rst_and_idle();
	test_active_timeout();
	test_uniflow();
	test_tcp_sequence();
	test_tcp_rtt_and_windows();
	test_tcp_sides();
	test_sweep_and_find();
	test_eviction();
	test_eviction_least_recently_seen();
	test_ipv6_and_icmp();
	test_link_identity();
	test_tunnels();
	test_ext_pool_reuse();
	test_payload_carry_and_reuse();
	return check_finish("unit.flow");
}
