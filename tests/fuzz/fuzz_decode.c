/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the packet decoder. Byte 0 picks the link type; the rest
 * is decoded once as a single packet, then again as a sequence of records
 * [flags][len_hi][len_lo][bytes] through the same decoder so that first and later
 * fragments meet in its (small) fragment table. Every packet is copied into an
 * exact-size heap buffer so ASan sees any read past caplen; invariants of an OK
 * verdict are checked and a violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 32
#define RECORD_TICK_NS 100000000ull /* flags & 0x7f counts 100 ms steps */

static const uint16_t links[] = {
	1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 9, 50, 104, 239, 105, 1,
};

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_decode: invariant violated: %s\n", what);
	abort();
}

static bool zero(const uint8_t *b, size_t n)
{
	while (n--)
		if (*b++)
			return false;
	return true;
}

static void check_ok(const struct pc_pkt *p, const struct pc_meta *m)
{
	const struct pc_flow_key *k = &m->key;
	uint32_t orig = p->wirelen > p->caplen ? p->wirelen : p->caplen;

	if (k->ipver != 4 && k->ipver != 6)
		fail("ipver");
	if (k->ipver == 4 && (!zero(k->addr[0] + 4, 12) || !zero(k->addr[1] + 4, 12)))
		fail("IPv4 key not zero padded");
	if (m->ip_bytes < (k->ipver == 4 ? 20u : 40u) || m->ip_bytes > orig)
		fail("ip_bytes out of range");
	if (m->ts_ns != p->ts_ns || m->wirelen != p->wirelen)
		fail("ts/wirelen not copied");
	if (m->flags & ~(PC_META_FRAGMENT | PC_META_HAS_L4 | PC_META_TUNNEL | PC_META_MPLS |
			 PC_META_HAS_MAC | PC_META_TCP_HDR))
		fail("unknown meta flags");
	if ((m->flags & PC_META_TCP_HDR) && k->proto != 6)
		fail("TCP header fields on a non-TCP packet");
	if (m->l3 && (m->l3 < p->data || m->l3 + m->l3_cap > p->data + p->caplen))
		fail("l3 outside the captured packet");
	if (m->l3 && m->l3_cap > m->ip_bytes)
		fail("l3_cap beyond the IP length");
	if (m->l3 && m->pl_off && m->pl_off + m->pl_len > m->ip_bytes)
		fail("payload beyond the IP length");
	if (m->pl_len > m->ip_bytes)
		fail("payload longer than the IP packet");
	if ((m->flags & PC_META_FRAGMENT) && m->l3)
		fail("a fragment offered for inspection");
	if (!(m->flags & PC_META_TUNNEL) &&
	    (k->tunnel_type || k->tunnel_id || m->teid || m->outer_ipver))
		fail("tunnel fields without PC_META_TUNNEL");
	if ((m->flags & PC_META_TUNNEL) &&
	    (!k->tunnel_type || k->tunnel_type >= CAPTURE_TUNNEL_COUNT ||
	     (m->outer_ipver != 0 && m->outer_ipver != 4 && m->outer_ipver != 6)))
		fail("tunnel type / outer version out of range");
	if (k->iface != p->ifindex)
		fail("interface not copied");
	if (k->vlan > 4095)
		fail("vlan over 12 bits");
	if (!(m->flags & PC_META_HAS_L4) &&
	    (k->port[0] || k->port[1] || m->icmp_type || m->icmp_code))
		fail("ports without HAS_L4");
	if (m->tcp_flags && k->proto != 6)
		fail("tcp flags on a non-TCP packet");
	if ((k->port[0] || k->port[1]) && k->proto != 6 && k->proto != 17 && k->proto != 33 &&
	    k->proto != 132 && k->proto != 136 && k->proto != 1 && k->proto != 58)
		fail("ports on a protocol without ports");
	if ((k->proto == 1 || k->proto == 58) && k->port[0] != k->port[1])
		fail("ICMP key ports differ");
}

static void run(struct pc_decoder *d, uint16_t lt, const uint8_t *b, size_t len, uint32_t wirelen,
		uint64_t ts)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct pc_pkt p = { 0 };
	struct pc_meta m;
	enum pc_verdict v;

	if (!copy)
		return;
	memcpy(copy, b, len);
	p.data = copy;
	p.caplen = (uint32_t)len;
	p.wirelen = wirelen;
	p.ts_ns = ts;
	p.linktype = lt;
	v = pc_decode(d, &p, &m);
	if (v > PC_DEC_FRAGMENT_UNMATCHED && v != PC_DEC_TUNNEL_DEPTH)
		fail("verdict out of range");
	if (v == PC_DEC_OK)
		check_ok(&p, &m);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pc_decode_stats *st;
	struct pc_decoder *d;
	uint64_t ts = 1700000000000000000ull;
	size_t pos = 1, len;
	uint16_t lt;
	unsigned n;

	if (size < 1 || size > 65536)
		return 0;
	lt = links[data[0] % (sizeof(links) / sizeof(links[0]))];
	/* 8 slots: 2 sets of 4 ways, so replacement happens; 2 s timeout */
	if (pc_decoder_create(&d, &(struct pc_decode_opts){ .frag_slots = 8,
							    .frag_timeout_ns = 2000000000ull }) < 0)
		fail("decoder create");
	run(d, lt, data + 1, size - 1, (uint32_t)(size - 1), ts);
	for (n = 0; n < MAX_RECORDS && size - pos >= 3; n++) {
		uint8_t fl = data[pos];

		len = (size_t)data[pos + 1] << 8 | data[pos + 2];
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		ts += (fl & 0x7f) * RECORD_TICK_NS;
		/* high bit: a snaplen-cut capture, the wire had 1000 bytes more */
		run(d, lt, data + pos, len, (uint32_t)len + (fl & 0x80 ? 1000u : 0u), ts);
		pos += len;
	}
	st = pc_decoder_stats(d);
	if (st->fragments_evicted > st->fragments_tracked)
		fail("more evictions than tracked fragments");
	pc_decoder_destroy(d);
	return 0;
}
