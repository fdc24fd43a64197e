/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the decoder's IP fragment table: later fragments inherit the
 * first fragment's ports (IPv4, IPv6), unmatched ones are refused, entries
 * expire by packet time, and a full set replaces its oldest entry (counted).
 */
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

#define HI(x) (uint8_t)(((x) >> 8) & 0xff)
#define LO(x) (uint8_t)((x)&0xff)
/* Ethernet: dst MAC, src MAC, ethertype */
#define ETH(type) 0x02, 0, 0x5e, 0, 0, 2, 0x02, 0, 0x5e, 0, 0, 1, HI(type), LO(type)
#define A4 198, 18, 0, 1
#define B4 198, 19, 0, 1
#define C4 198, 18, 0, 9
/* IPv4 header: total length, id, flags+offset (MF = 0x2000, offset in 8-byte units),
 * protocol, src, dst */
#define IP4S(tot, id, frag, proto, ...)                                                            \
	0x45, 0x00, HI(tot), LO(tot), HI(id), LO(id), HI(frag), LO(frag), 64, (proto), 0x00, 0x00, \
		__VA_ARGS__
#define IP4(tot, id, frag, proto) IP4S(tot, id, frag, proto, A4, B4)
#define MF 0x2000
#define A6 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01
#define B6 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02
/* IPv6 header: payload length, next header, src A6, dst B6 */
#define IP6(plen, nh) 0x60, 0x00, 0x00, 0x00, HI(plen), LO(plen), (nh), 64, A6, B6
/* IPv6 fragment header: next header, offset in 8-byte units, M flag, 32-bit id */
#define FRAG6(nh, off, m, id)                                                                \
	(nh), 0, HI((off) << 3 | (m)), LO((off) << 3 | (m)), HI((id) >> 16), LO((id) >> 16), \
		HI(id), LO(id)
/* TCP header (20 bytes): ports, seq, ack, data offset 5, flags, window */
#define TCP(sp, dp, flags)                                                                       \
	HI(sp), LO(sp), HI(dp), LO(dp), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, (flags), 0xff, 0xff, 0, 0, \
		0, 0
#define UDP(sp, dp, len) HI(sp), LO(sp), HI(dp), LO(dp), HI(len), LO(len), 0, 0
#define DATA8 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7
#define SEC 1000000000ull

static const uint8_t a4[] = { A4 }, b4[] = { B4 }, a6[] = { A6 }, b6[] = { B6 };

/* Decode at packet time @ts from an exact-size heap copy (sanitizers see overreads). */
static enum pc_verdict dec_at(struct pc_decoder *d, const uint8_t *b, size_t n, size_t cap,
			      uint64_t ts, struct pc_meta *m)
{
	uint8_t *copy = malloc(cap ? cap : 1);
	struct pc_pkt p = { 0 };
	enum pc_verdict v;

	CHECK(copy != NULL);
	memcpy(copy, b, cap);
	p.data = copy;
	p.caplen = (uint32_t)cap;
	p.wirelen = (uint32_t)n;
	p.ts_ns = ts;
	p.linktype = 1;
	v = pc_decode(d, &p, m);
	free(copy);
	return v;
}

#define DEC(d, arr, ts, m) dec_at(d, arr, sizeof(arr), sizeof(arr), ts, m)

static void check_key4(const struct pc_meta *m, uint16_t sp, uint16_t dp, uint8_t proto)
{
	struct pc_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr[0], a4, 4);
	memcpy(k.addr[1], b4, 4);
	k.port[0] = sp;
	k.port[1] = dp;
	k.proto = proto;
	k.ipver = 4;
	CHECK(!memcmp(&m->key, &k, sizeof(k)));
}

static void check_key6(const struct pc_meta *m, uint16_t sp, uint16_t dp, uint8_t proto)
{
	struct pc_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr[0], a6, 16);
	memcpy(k.addr[1], b6, 16);
	k.port[0] = sp;
	k.port[1] = dp;
	k.proto = proto;
	k.ipver = 6;
	CHECK(!memcmp(&m->key, &k, sizeof(k)));
}

#define BOTH (PC_META_FRAGMENT | PC_META_HAS_L4 | PC_META_HAS_MAC) /* Ethernet */

/* Ethernet | IPv4 198.18.0.1 -> 198.19.0.1 id 0x4242 MF offset 0 | UDP 5000 -> 6000 | 8 bytes */
static const uint8_t udp_first[] = {
	ETH(0x0800),
	IP4(36, 0x4242, MF, 17),
	UDP(5000, 6000, 24),
	DATA8,
};
/* Ethernet | IPv4 id 0x4242 MF offset 16 bytes (2 units) | 8 bytes: a middle fragment */
static const uint8_t udp_middle[] = { ETH(0x0800), IP4(28, 0x4242, MF | 2, 17), DATA8 };
/* Ethernet | IPv4 id 0x4242 offset 24 bytes (3 units), last | 8 bytes */
static const uint8_t udp_last[] = { ETH(0x0800), IP4(28, 0x4242, 3, 17), DATA8 };

static void test_ipv4_first_then_later(void)
{
	/* Ethernet | IPv4 id 7 MF | TCP 1024 -> 80 PSH+ACK | 8 bytes */
	static const uint8_t tcp_first[] = {
		ETH(0x0800),
		IP4(48, 7, MF, 6),
		TCP(1024, 80, 0x18),
		DATA8,
	};
	/* Ethernet | IPv4 id 7 offset 32 bytes (4 units), last | 16 bytes */
	static const uint8_t tcp_last[] = { ETH(0x0800), IP4(36, 7, 4, 6), DATA8, DATA8 };
	/* Ethernet | IPv4 id 9 MF | ICMP echo request | 8 bytes */
	static const uint8_t icmp_first[] = {
		ETH(0x0800), IP4(36, 9, MF, 1), 8, 0, 0, 0, 0, 1, 0, 1, DATA8,
	};
	/* Ethernet | IPv4 id 9 offset 16 bytes, last | 8 bytes */
	static const uint8_t icmp_last[] = { ETH(0x0800), IP4(28, 9, 2, 1), DATA8 };
	struct pc_decoder *d;
	struct pc_meta m;

	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 64 }), 0);
	CHECK_EQ(DEC(d, udp_first, 1 * SEC, &m), PC_DEC_OK);
	check_key4(&m, 5000, 6000, 17);
	CHECK_EQ(m.ip_bytes, 36);
	CHECK_EQ(m.flags, BOTH);
	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 1);

	CHECK_EQ(DEC(d, udp_middle, 1 * SEC + 1, &m), PC_DEC_OK);
	check_key4(&m, 5000, 6000, 17);
	CHECK_EQ(m.ip_bytes, 28);
	CHECK_EQ(m.flags, BOTH);
	CHECK_EQ(m.ts_ns, 1 * SEC + 1);
	CHECK_EQ(DEC(d, udp_last, 1 * SEC + 2, &m), PC_DEC_OK);
	check_key4(&m, 5000, 6000, 17);
	CHECK_EQ(m.ip_bytes, 28);
	CHECK_EQ(pc_decoder_stats(d)->fragments_matched, 2);

	CHECK_EQ(DEC(d, tcp_first, 2 * SEC, &m), PC_DEC_OK);
	check_key4(&m, 1024, 80, 6);
	CHECK_EQ(m.tcp_flags, 0x18);
	CHECK_EQ(m.ip_bytes, 48);
	CHECK_EQ(DEC(d, tcp_last, 2 * SEC, &m), PC_DEC_OK);
	check_key4(&m, 1024, 80, 6);
	CHECK_EQ(m.tcp_flags, 0); /* flags belong to the first fragment only */
	CHECK_EQ(m.ip_bytes, 36);
	CHECK_EQ(m.flags, BOTH);

	CHECK_EQ(DEC(d, icmp_first, 3 * SEC, &m), PC_DEC_OK);
	CHECK_EQ(DEC(d, icmp_last, 3 * SEC, &m), PC_DEC_OK);
	check_key4(&m, 8 << 8, 8 << 8, 1); /* ICMP: type << 8 | code both ways */
	CHECK_EQ(m.icmp_type, 8);
	CHECK_EQ(m.icmp_code, 0);
	CHECK_EQ(m.ip_bytes, 28);

	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 3);
	CHECK_EQ(pc_decoder_stats(d)->fragments_matched, 4);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 0);
	pc_decoder_destroy(d);
}

static void test_ipv6_first_then_later(void)
{
	/* Ethernet | IPv6 | fragment id 0x12345678 offset 0 M | UDP 5353 -> 5353 | 8 bytes */
	static const uint8_t first[] = {
		ETH(0x86dd), IP6(24, 44), FRAG6(17, 0, 1, 0x12345678), UDP(5353, 5353, 1000), DATA8,
	};
	/* Ethernet | IPv6 | fragment id 0x12345678 offset 16 bytes, last | 8 bytes */
	static const uint8_t later[] = {
		ETH(0x86dd),
		IP6(16, 44),
		FRAG6(17, 2, 0, 0x12345678),
		DATA8,
	};
	/* Ethernet | IPv6 | fragment id 5 offset 0 M | dst opts (PadN) | TCP 443 -> 1025 ACK */
	static const uint8_t first_opt[] = {
		ETH(0x86dd), IP6(36, 44), FRAG6(60, 0, 1, 5),	6, 0, 1, 4, 0, 0,
		0,	     0,		  TCP(443, 1025, 0x10),
	};
	/* Ethernet | IPv6 | fragment id 5 offset 32 bytes, last, next header dst opts | 8 bytes */
	static const uint8_t later_opt[] = {
		ETH(0x86dd),
		IP6(16, 44),
		FRAG6(60, 4, 0, 5),
		DATA8,
	};
	/* Ethernet | IPv6 | fragment id 0x12345679 (other datagram) offset 16 bytes | 8 bytes */
	static const uint8_t other_id[] = {
		ETH(0x86dd),
		IP6(16, 44),
		FRAG6(17, 2, 0, 0x12345679),
		DATA8,
	};
	struct pc_decoder *d;
	struct pc_meta m;

	CHECK_EQ(pc_decoder_create(&d, NULL), 0);
	CHECK_EQ(DEC(d, first, SEC, &m), PC_DEC_OK);
	check_key6(&m, 5353, 5353, 17);
	CHECK_EQ(m.flags, BOTH);
	CHECK_EQ(m.ip_bytes, 64);
	CHECK_EQ(DEC(d, later, SEC, &m), PC_DEC_OK);
	check_key6(&m, 5353, 5353, 17);
	CHECK_EQ(m.flags, BOTH);
	CHECK_EQ(m.ip_bytes, 56);
	CHECK_EQ(DEC(d, other_id, SEC, &m), PC_DEC_FRAGMENT_UNMATCHED);

	/* the first fragment's key names TCP after the options; the later one inherits it */
	CHECK_EQ(DEC(d, first_opt, SEC, &m), PC_DEC_OK);
	check_key6(&m, 443, 1025, 6);
	CHECK_EQ(m.tcp_flags, 0x10);
	CHECK_EQ(DEC(d, later_opt, SEC, &m), PC_DEC_OK);
	check_key6(&m, 443, 1025, 6);
	CHECK_EQ(m.tcp_flags, 0);
	CHECK_EQ(m.ip_bytes, 56);

	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 2);
	CHECK_EQ(pc_decoder_stats(d)->fragments_matched, 2);
	pc_decoder_destroy(d);
}

static void test_unmatched(void)
{
	/* Ethernet | IPv4 198.18.0.9 -> 198.19.0.1 id 0x4242 offset 24, last: other source */
	static const uint8_t other_src[] = {
		ETH(0x0800),
		IP4S(28, 0x4242, 3, 17, C4, B4),
		DATA8,
	};
	/* Ethernet | IPv4 id 0x4242 offset 24, last, protocol TCP: other protocol */
	static const uint8_t other_proto[] = { ETH(0x0800), IP4(28, 0x4242, 3, 6), DATA8 };
	/* Ethernet | IPv4 id 0x4243 offset 24, last: other id */
	static const uint8_t other_id[] = { ETH(0x0800), IP4(28, 0x4243, 3, 17), DATA8 };
	struct pc_decoder *d;
	struct pc_meta m;

	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 64 }), 0);
	/* the later fragment arrives first: never guessed */
	CHECK_EQ(DEC(d, udp_last, SEC, &m), PC_DEC_FRAGMENT_UNMATCHED);
	/* a first fragment cut before its ports is truncated and not remembered */
	CHECK_EQ(dec_at(d, udp_first, sizeof(udp_first), 14 + 20 + 3, SEC, &m), PC_DEC_TRUNCATED);
	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 0);
	CHECK_EQ(DEC(d, udp_middle, SEC, &m), PC_DEC_FRAGMENT_UNMATCHED);
	/* then the first fragment: from now on the later ones match */
	CHECK_EQ(DEC(d, udp_first, SEC, &m), PC_DEC_OK);
	CHECK_EQ(DEC(d, udp_last, SEC, &m), PC_DEC_OK);
	check_key4(&m, 5000, 6000, 17);
	CHECK_EQ(DEC(d, other_src, SEC, &m), PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(DEC(d, other_proto, SEC, &m), PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(DEC(d, other_id, SEC, &m), PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 1);
	CHECK_EQ(pc_decoder_stats(d)->fragments_matched, 1);
	pc_decoder_destroy(d);
}

static void test_expiry(void)
{
	struct pc_decoder *d;
	struct pc_meta m;

	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 64,
								 .frag_timeout_ns = 2 * SEC }),
		 0);
	CHECK_EQ(DEC(d, udp_first, 10 * SEC, &m), PC_DEC_OK);
	CHECK_EQ(DEC(d, udp_middle, 12 * SEC, &m), PC_DEC_OK); /* exactly the timeout */
	CHECK_EQ(DEC(d, udp_last, 12 * SEC + 1, &m), PC_DEC_FRAGMENT_UNMATCHED);
	/* packet time going backwards (merged files) does not expire it either */
	CHECK_EQ(DEC(d, udp_last, 5 * SEC, &m), PC_DEC_OK);
	/* a repeated first fragment restarts the clock */
	CHECK_EQ(DEC(d, udp_first, 20 * SEC, &m), PC_DEC_OK);
	CHECK_EQ(DEC(d, udp_last, 21 * SEC, &m), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 2);
	CHECK_EQ(pc_decoder_stats(d)->fragments_matched, 3);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 0);
	pc_decoder_destroy(d);

	/* default timeout is 30 s */
	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 64 }), 0);
	CHECK_EQ(DEC(d, udp_first, 100 * SEC, &m), PC_DEC_OK);
	CHECK_EQ(DEC(d, udp_middle, 130 * SEC, &m), PC_DEC_OK);
	CHECK_EQ(DEC(d, udp_last, 130 * SEC + 1, &m), PC_DEC_FRAGMENT_UNMATCHED);
	pc_decoder_destroy(d);
}

/* First fragment of datagram @id: Ethernet | IPv4 id MF | UDP 1000+id -> 53 | 8 bytes */
static enum pc_verdict first_id(struct pc_decoder *d, uint16_t id, uint64_t ts)
{
	uint8_t pkt[] = { ETH(0x0800), IP4(36, 0, MF, 17), UDP(0, 53, 24), DATA8 };
	struct pc_meta m;

	pkt[18] = HI(id);
	pkt[19] = LO(id);
	pkt[34] = HI(1000 + id);
	pkt[35] = LO(1000 + id);
	return DEC(d, pkt, ts, &m);
}

/* Last fragment of datagram @id; returns the verdict and checks the inherited port. */
static enum pc_verdict last_id(struct pc_decoder *d, uint16_t id, uint64_t ts)
{
	uint8_t pkt[] = { ETH(0x0800), IP4(28, 0, 3, 17), DATA8 };
	struct pc_meta m;
	enum pc_verdict v;

	pkt[18] = HI(id);
	pkt[19] = LO(id);
	v = DEC(d, pkt, ts, &m);
	if (v == PC_DEC_OK) {
		CHECK_EQ(m.key.port[0], 1000 + id);
		CHECK_EQ(m.key.port[1], 53);
	}
	return v;
}

static void test_table_full(void)
{
	struct pc_decoder *d;
	uint16_t id;

	/* 4 slots: one set of 4 ways, so every datagram competes for the same set */
	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 4,
								 .frag_timeout_ns = 100 * SEC }),
		 0);
	for (id = 1; id <= 4; id++)
		CHECK_EQ(first_id(d, id, id * SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 0);
	/* a repeated first fragment reuses its own entry */
	CHECK_EQ(first_id(d, 2, 5 * SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 0);
	/* a fifth datagram replaces the oldest live entry (id 1, then id 3) */
	CHECK_EQ(first_id(d, 5, 6 * SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 1);
	CHECK_EQ(first_id(d, 6, 7 * SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 2);
	CHECK_EQ(last_id(d, 1, 8 * SEC), PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(last_id(d, 3, 8 * SEC), PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(last_id(d, 2, 8 * SEC), PC_DEC_OK);
	CHECK_EQ(last_id(d, 4, 8 * SEC), PC_DEC_OK);
	CHECK_EQ(last_id(d, 5, 8 * SEC), PC_DEC_OK);
	CHECK_EQ(last_id(d, 6, 8 * SEC), PC_DEC_OK);
	/* once entries expired, new datagrams take their slots without evicting */
	for (id = 10; id < 14; id++)
		CHECK_EQ(first_id(d, id, 200 * SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 2);
	for (id = 10; id < 14; id++)
		CHECK_EQ(last_id(d, id, 200 * SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_tracked, 11);
	CHECK_EQ(pc_decoder_stats(d)->fragments_matched, 8);
	pc_decoder_destroy(d);

	/* one slot: one way, each new datagram evicts the last */
	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 1 }), 0);
	CHECK_EQ(first_id(d, 1, SEC), PC_DEC_OK);
	CHECK_EQ(first_id(d, 2, SEC), PC_DEC_OK);
	CHECK_EQ(pc_decoder_stats(d)->fragments_evicted, 1);
	CHECK_EQ(last_id(d, 1, SEC), PC_DEC_FRAGMENT_UNMATCHED);
	CHECK_EQ(last_id(d, 2, SEC), PC_DEC_OK);
	pc_decoder_destroy(d);
}

static void test_many_datagrams(void)
{
	struct pc_decoder *d;
	unsigned id, ok = 0;

	/* 8192 slots, 1000 interleaved datagrams: with 4 ways nearly all fit */
	CHECK_EQ(pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 8192 }), 0);
	for (id = 0; id < 1000; id++)
		CHECK_EQ(first_id(d, (uint16_t)id, SEC), PC_DEC_OK);
	for (id = 0; id < 1000; id++)
		ok += last_id(d, (uint16_t)id, SEC) == PC_DEC_OK;
	CHECK_EQ(ok + pc_decoder_stats(d)->fragments_evicted, 1000);
	CHECK(ok >= 990);
	pc_decoder_destroy(d);
}

int main(void)
{
	test_ipv4_first_then_later();
	test_ipv6_first_then_later();
	test_unmatched();
	test_expiry();
	test_table_full();
	test_many_datagrams();
	printf("test_frag: all passed\n");
	return 0;
}
