/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP health of one flow, in the manner of Zeek's conn.log: per canonical
 * side an endpoint state, sequence tracking (retransmissions, out-of-order
 * segments), zero windows and the letters of the history; the handshake RTT.
 * 80 bytes inside the flow entry, updated per packet without allocation.
 *
 * Only packets with a whole TCP header take part (PC_META_TCP_HDR: not
 * fragments, not headers cut by the snap length); they still count in the
 * flow's packets, bytes and payload.
 *
 * Sequence analysis, per direction, in serial arithmetic (RFC 1982: a is
 * below b when (int32_t)(a - b) < 0, so wrap-around is handled):
 *  - nxt: the highest sequence end seen, seq + payload (+1 for SYN, +1 FIN);
 *  - a SYN restarts the side's tracking (a repeated SYN is never counted);
 *  - a segment starting beyond nxt leaves a hole [nxt, seq) (one hole is
 *    tracked: a later jump while one is open widens it to the new start);
 *  - a segment with payload starting below nxt is
 *    - out of order (ooo_packets) when it overlaps the open hole: it brings
 *      sequence space not seen before, sent earlier but arriving later (the
 *      hole shrinks by what it fills: from below, or else from above);
 *    - else a retransmission (retrans_packets; retrans_bytes: the part of
 *      its payload below nxt) unless it is a keep-alive (1 byte at nxt - 1);
 *    as Wireshark's tcp.analysis.retransmission / out_of_order, but by
 *    sequence space, not by the time since the previous segment;
 *  - RST segments and segments without payload, SYN or FIN are not analysed.
 * Zero window: a segment whose window field is 0 and that is not an RST.
 *
 * History: Zeek's letters, upper case for the record's src, lower case for
 * its dst, each letter once per side in order of first occurrence:
 *   S a SYN without ACK, H a SYN-ACK, A a pure ACK (no payload, SYN, FIN
 *   or RST), D a segment with payload (no SYN, FIN or RST), F a FIN, R an
 *   RST (a packet with more than one of SYN, FIN and RST gives no flag
 *   letter), T a retransmission, W a zero window.
 * Not produced: C (checksums are not verified), G (content gaps), I and Q
 * (inconsistent and multi-flag packets), ^ (direction flips).
 *
 * Handshake RTT: rtt_syn = the SYN (src's first packet) to the SYN-ACK (the
 * first packet of dst); rtt = the SYN to the next packet of src, an ACK
 * without SYN or RST. Known (CAPTURE_L7_RTT) only when the handshake came
 * in that order without a repeated SYN.
 *
 * Uniflow tables (a record per direction) never see the other side in a
 * record: conn_state says what one side did (S0 a SYN, SH a SYN then a FIN,
 * RSTOS0 a SYN then an RST, OTH without a SYN), there is no RTT, and every
 * letter is upper case. A flow split by the active timeout starts its next
 * record midstream: no SYN in it, no RTT.
 */
#ifndef PC_TCP_HEALTH_H
#define PC_TCP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"
#include "decode/meta.h"
#include "util/compiler.h"

/* Zeek's endpoint states (Zeek's TCP_ENDPOINT_*, SYN_ACK_SENT folded into
 * SYN_SENT): what the side's packets have done so far. */
enum pc_tcp_ep {
	PC_TCP_INACTIVE = 0, /* sent nothing */
	PC_TCP_SYN_SENT,     /* sent a SYN (or a SYN-ACK to no SYN seen) */
	PC_TCP_PARTIAL,	     /* sent segments, never a SYN: midstream */
	PC_TCP_ESTABLISHED,  /* a SYN answered by a SYN-ACK */
	PC_TCP_CLOSED,	     /* sent a FIN */
	PC_TCP_RESET,	     /* sent an RST */
};

#define PC_TCP_EP_MASK 0x07u
#define PC_TCP_SEQ 0x08u	/* nxt is known */
#define PC_TCP_RTT_CLIENT 0x10u /* this side's SYN started the RTT, its ACK is due */

/* History letters: bit i of pc_tcp_side.seen, code i in the order word. */
enum pc_tcp_letter {
	PC_H_S,
	PC_H_H,
	PC_H_A,
	PC_H_D,
	PC_H_F,
	PC_H_R,
	PC_H_T,
	PC_H_W
};

/* What every TCP packet of a side reads: 16 bytes. */
struct pc_tcp_side {
	uint32_t nxt;	  /* highest sequence end seen */
	uint32_t hole_lo; /* [lo, hi): skipped, not filled yet; lo == hi: none */
	uint32_t hole_hi;
	uint16_t zero_win; /* saturates at 65535 */
	uint8_t st;	   /* enum pc_tcp_ep | PC_TCP_SEQ | PC_TCP_RTT_CLIENT */
	uint8_t seen;	   /* history letters this side has given */
};

/*
 * In the flow entry at byte 152: the sides and the history (40 bytes) end
 * the entry's third cache line, which every packet touches anyway; the
 * counters in the fourth line are written only when something happens (a
 * retransmission, an out-of-order segment, the handshake), so an ordinary
 * segment costs no extra cache line.
 */
struct pc_tcp_health {
	struct pc_tcp_side side[2]; /* by canonical side */
	uint64_t order;		    /* history: 4-bit codes side << 3 | letter, oldest lowest */
	uint64_t retrans_bytes[2];
	uint32_t retrans_pkts[2];
	uint32_t ooo_pkts[2];
	uint32_t rtt_syn_us; /* +1: 0 not measured */
	uint32_t rtt_us;     /* +1: 0 not measured */
};

_Static_assert(sizeof(struct pc_tcp_health) == 80, "TCP health layout");
_Static_assert(offsetof(struct pc_tcp_health, retrans_bytes) == 40, "hot part: 40 bytes");

/* Out of line (tcp_health.c): the rare events of a packet. */
void pc_tcp_flags(struct pc_tcp_health *h, uint8_t fl, int dir, uint64_t ts,
		  const uint64_t first[2], const uint64_t pkts[2]);
unsigned pc_tcp_seq_slow(struct pc_tcp_health *h, int dir, uint32_t seq, uint32_t len, uint32_t end,
			 uint8_t fl);
void pc_tcp_letters(struct pc_tcp_health *h, int dir, unsigned bits);
void pc_tcp_ack_rtt(struct pc_tcp_health *h, uint8_t fl, int dir, uint64_t ts,
		    const uint64_t first[2], const uint64_t pkts[2]);

/* The flag letter of a packet by payload? << 4 | ACK << 3 | RST | SYN | FIN
 * (tcp_health.c); a lookup, since most packets of short flows give one. */
extern const uint8_t pc_tcp_flag_letter[32];

static pc_always_inline unsigned pc_tcp_packet_letters(uint8_t fl, uint32_t len)
{
	return pc_tcp_flag_letter[(fl & 0x07u) | ((fl >> 1) & 0x08u) | (len ? 0x10u : 0)];
}

/* Letters given so far (both sides): a population count of 16 bits. */
static pc_always_inline unsigned pc_tcp_letter_count(const struct pc_tcp_health *h)
{
	unsigned m = (unsigned)h->side[0].seen | (unsigned)h->side[1].seen << 8;

	m = m - ((m >> 1) & 0x5555u);
	m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
	m = (m + (m >> 4)) & 0x0f0fu;
	return (m + (m >> 8)) & 0x1fu;
}

/*
 * Packet @m (PC_META_TCP_HDR) from canonical side @dir, after the entry's
 * counters took it: @first and @pkts are the entry's per-side arrays.
 */
static pc_always_inline void pc_tcp_update(struct pc_tcp_health *h, const struct pc_meta *m,
					   int dir, const uint64_t first[2], const uint64_t pkts[2])
{
	struct pc_tcp_side *s = &h->side[dir];
	uint8_t fl = m->tcp_flags;
	uint32_t len = m->pl_len;
	unsigned bits = pc_tcp_packet_letters(fl, len);

	if (pc_unlikely((fl & 0x07) || (s->st & PC_TCP_EP_MASK) == PC_TCP_INACTIVE))
		pc_tcp_flags(h, fl, dir, m->ts_ns, first, pkts);
	else if (pc_unlikely(s->st & PC_TCP_RTT_CLIENT))
		pc_tcp_ack_rtt(h, fl, dir, m->ts_ns, first, pkts);
	if (!(fl & 0x04)) {
		uint32_t end = m->tcp_seq + len + ((fl >> 1) & 1u) + (fl & 1u); /* SYN, FIN */

		if (pc_unlikely(!m->tcp_win)) {
			if (s->zero_win != UINT16_MAX)
				s->zero_win++;
			bits |= 1u << PC_H_W;
		}
		if (pc_likely(end != m->tcp_seq)) {
			/* in order, the common case: no hole open, seq == nxt */
			if (pc_likely((s->st & PC_TCP_SEQ) && m->tcp_seq == s->nxt &&
				      s->hole_lo == s->hole_hi && !(fl & 0x02)))
				s->nxt = end;
			else
				bits |= pc_tcp_seq_slow(h, dir, m->tcp_seq, len, end, fl);
		}
	}
	if (pc_unlikely((s->seen & bits) != bits))
		pc_tcp_letters(h, dir, bits);
}

/* Fill @r's TCP health fields; @s is the canonical side that is the
 * record's src. Uses r->payload_bytes / rev_payload_bytes (set before). */
void pc_tcp_fill(const struct pc_tcp_health *h, int s, struct capture_flow *r);

#endif
