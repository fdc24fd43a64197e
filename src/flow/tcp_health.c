/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP health: the rare per-packet events (flags, sequence holes and
 * retransmissions, history letters, the handshake) and the record's fields
 * (Zeek's conn_state from the two endpoint states). Model in tcp_health.h.
 */
#include <string.h>

#include "flow/tcp_health.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

#define L(x) (uint8_t)(1u << PC_H_##x)
/* Zeek's flag letter: exactly one of SYN, FIN, RST gives S or H (by ACK), F
 * or R; none of them: D with payload, else A with ACK; more than one: none
 * (Zeek's I and Q, not produced). Index: payload? << 4 | ACK << 3 | flags. */
const uint8_t pc_tcp_flag_letter[32] = {
	[0x00] = 0,    [0x01] = L(F), [0x02] = L(S), [0x04] = L(R), [0x08] = L(A), [0x09] = L(F),
	[0x0a] = L(H), [0x0c] = L(R), [0x10] = L(D), [0x11] = L(F), [0x12] = L(S), [0x14] = L(R),
	[0x18] = L(D), [0x19] = L(F), [0x1a] = L(H), [0x1c] = L(R),
};

/* @a before @b in sequence space (serial arithmetic) */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static uint32_t us_plus1(uint64_t ns)
{
	uint64_t us = ns / 1000;

	return us >= UINT32_MAX - 1 ? UINT32_MAX : (uint32_t)us + 1;
}

/* The next packet of the side whose SYN started the RTT, after the SYN-ACK:
 * its second packet, an ACK, completes the handshake; anything else voids it. */
void pc_tcp_ack_rtt(struct pc_tcp_health *h, uint8_t fl, int dir, uint64_t ts,
		    const uint64_t first[2], const uint64_t pkts[2])
{
	h->side[dir].st &= (uint8_t)~PC_TCP_RTT_CLIENT;
	if (pkts[dir] == 2 && (fl & (F_SYN | F_RST | F_ACK)) == F_ACK && ts >= first[dir])
		h->rtt_us = us_plus1(ts - first[dir]);
	else
		h->rtt_syn_us = 0;
}

/* A SYN-ACK from @dir answering the SYN of the other side. */
static void synack(struct pc_tcp_health *h, int dir, uint64_t ts, const uint64_t first[2],
		   const uint64_t pkts[2])
{
	int c = 1 - dir;

	/* in order: the SYN was all the client sent, this is the server's first */
	if (h->rtt_syn_us || pkts[c] != 1 || pkts[dir] != 1 || ts < first[c])
		return;
	h->rtt_syn_us = us_plus1(ts - first[c]);
	h->side[c].st |= PC_TCP_RTT_CLIENT;
}

/* Endpoint states (Zeek's, simplified): a SYN makes an inactive side
 * SYN_SENT; a SYN-ACK answering a SYN_SENT side establishes both (Zeek's
 * connection_established comes with the SYN-ACK); a FIN closes, an RST
 * resets the sender; anything else from an inactive side is midstream. */
void pc_tcp_flags(struct pc_tcp_health *h, uint8_t fl, int dir, uint64_t ts,
		  const uint64_t first[2], const uint64_t pkts[2])
{
	struct pc_tcp_side *x = &h->side[dir], *y = &h->side[1 - dir];
	unsigned xs = x->st & PC_TCP_EP_MASK;

	if (x->st & PC_TCP_RTT_CLIENT)
		pc_tcp_ack_rtt(h, fl, dir, ts, first, pkts);
	if (fl & F_SYN) {
		if (xs == PC_TCP_INACTIVE)
			xs = PC_TCP_SYN_SENT;
		if ((fl & F_ACK) && (y->st & PC_TCP_EP_MASK) == PC_TCP_SYN_SENT) {
			y->st = (uint8_t)((y->st & ~PC_TCP_EP_MASK) | PC_TCP_ESTABLISHED);
			if (xs == PC_TCP_SYN_SENT)
				xs = PC_TCP_ESTABLISHED;
			synack(h, dir, ts, first, pkts);
		}
	}
	if ((fl & F_FIN) && xs != PC_TCP_RESET)
		xs = PC_TCP_CLOSED;
	if (fl & F_RST)
		xs = PC_TCP_RESET;
	if (xs == PC_TCP_INACTIVE)
		xs = PC_TCP_PARTIAL;
	x->st = (uint8_t)((x->st & ~PC_TCP_EP_MASK) | xs);
}

/* Below nxt: fills the open hole (out of order) or repeats what was seen.
 * Returns the history letter it gives (T for a retransmission). */
static unsigned below_nxt(struct pc_tcp_health *h, int dir, uint32_t seq, uint32_t len,
			  uint32_t end)
{
	struct pc_tcp_side *s = &h->side[dir];
	uint32_t dend = seq + len;
	unsigned bits = 0;

	if (s->hole_lo != s->hole_hi && seq_lt(seq, s->hole_hi) && seq_lt(s->hole_lo, dend)) {
		h->ooo_pkts[dir]++;
		if (!seq_lt(s->hole_lo, seq)) /* fills from below */
			s->hole_lo = seq_lt(dend, s->hole_hi) ? dend : s->hole_hi;
		else /* from above or inside: the part below stays open */
			s->hole_hi = seq;
	} else {
		h->retrans_pkts[dir]++;
		h->retrans_bytes[dir] += seq_lt(s->nxt, end) ? s->nxt - seq : len;
		bits = 1u << PC_H_T;
	}
	if (seq_lt(s->nxt, end))
		s->nxt = end;
	return bits;
}

unsigned pc_tcp_seq_slow(struct pc_tcp_health *h, int dir, uint32_t seq, uint32_t len, uint32_t end,
			 uint8_t fl)
{
	struct pc_tcp_side *s = &h->side[dir];

	if ((fl & F_SYN) || !(s->st & PC_TCP_SEQ)) {
		s->nxt = end;
		s->hole_lo = s->hole_hi = 0;
		s->st |= PC_TCP_SEQ;
		return 0;
	}
	if (!seq_lt(seq, s->nxt)) {
		if (seq != s->nxt) { /* a jump ahead: the space between is missing */
			if (s->hole_lo == s->hole_hi)
				s->hole_lo = s->nxt;
			s->hole_hi = seq;
		}
		s->nxt = end;
		return 0;
	}
	if (!len)
		return 0; /* a repeated FIN: no payload */
	if (len == 1 && seq + 1 == s->nxt && !(fl & F_FIN))
		return 0; /* keep-alive */
	return below_nxt(h, dir, seq, len, end);
}

void pc_tcp_letters(struct pc_tcp_health *h, int dir, unsigned bits)
{
	struct pc_tcp_side *s = &h->side[dir];
	unsigned n = pc_tcp_letter_count(h);
	unsigned add = bits & ~(unsigned)s->seen & 0xffu, i;

	for (i = 0; add; i++, add >>= 1) {
		if (!(add & 1))
			continue;
		/* 8 letters a side: at most 16 codes, the word never overflows */
		h->order |= (uint64_t)((unsigned)dir << 3 | i) << (4 * n++);
		s->seen |= (uint8_t)(1u << i);
	}
}

static void history(const struct pc_tcp_health *h, int src, char *out, size_t size)
{
	static const char letters[] = "SHADFRTW";
	unsigned n = pc_tcp_letter_count(h);
	unsigned i;

	for (i = 0; i < n && i + 1 < size; i++) {
		unsigned code = (unsigned)(h->order >> (4 * i)) & 15u;
		char c = letters[code & 7u];

		out[i] = (int)(code >> 3) == src ? c : (char)(c - 'A' + 'a');
	}
	out[i] = '\0';
}

/* Zeek's RSTOS0 test: the history matches ^S[^HAFGIQ]*R (a SYN, then an RST
 * from src before any SYN-ACK, ACK or FIN of its own). */
static bool syn_then_rst(const char *hist)
{
	if (hist[0] != 'S')
		return false;
	for (hist++; *hist; hist++) {
		if (*hist == 'R')
			return true;
		if (strchr("HAFGIQ", *hist))
			return false;
	}
	return false;
}

static bool inactive(unsigned st)
{
	return st == PC_TCP_INACTIVE || st == PC_TCP_PARTIAL;
}

/* Zeek's conn_state() (base/protocols/conn/main.zeek) from the endpoint
 * states of src (@os) and dst (@rs). */
static uint8_t conn_state(unsigned os, unsigned rs, const struct capture_flow *r)
{
	if (rs == PC_TCP_RESET) {
		if (os == PC_TCP_SYN_SENT ||
		    (os == PC_TCP_RESET && !r->payload_bytes && !r->rev_payload_bytes))
			return CAPTURE_CONN_REJ;
		return inactive(os) ? CAPTURE_CONN_RSTRH : CAPTURE_CONN_RSTR;
	}
	if (os == PC_TCP_RESET) {
		if (inactive(rs))
			return syn_then_rst(r->history) ? CAPTURE_CONN_RSTOS0 : CAPTURE_CONN_OTH;
		return CAPTURE_CONN_RSTO;
	}
	if (os == PC_TCP_CLOSED && rs == PC_TCP_CLOSED)
		return CAPTURE_CONN_SF;
	if (os == PC_TCP_CLOSED)
		return inactive(rs) ? CAPTURE_CONN_SH : CAPTURE_CONN_S2;
	if (rs == PC_TCP_CLOSED)
		return inactive(os) ? CAPTURE_CONN_SHR : CAPTURE_CONN_S3;
	if (os == PC_TCP_SYN_SENT && rs == PC_TCP_INACTIVE)
		return CAPTURE_CONN_S0;
	if (os == PC_TCP_ESTABLISHED && rs == PC_TCP_ESTABLISHED)
		return CAPTURE_CONN_S1;
	return CAPTURE_CONN_OTH;
}

void pc_tcp_fill(const struct pc_tcp_health *h, int s, struct capture_flow *r)
{
	const struct pc_tcp_side *f = &h->side[s], *b = &h->side[1 - s];
	int d = 1 - s;

	r->l7_flags |= CAPTURE_L7_TCP;
	r->retrans_packets = h->retrans_pkts[s];
	r->retrans_bytes = h->retrans_bytes[s];
	r->rev_retrans_packets = h->retrans_pkts[d];
	r->rev_retrans_bytes = h->retrans_bytes[d];
	r->ooo_packets = h->ooo_pkts[s];
	r->rev_ooo_packets = h->ooo_pkts[d];
	r->zero_win = f->zero_win;
	r->rev_zero_win = b->zero_win;
	history(h, s, r->history, sizeof(r->history));
	r->conn_state = conn_state(f->st & PC_TCP_EP_MASK, b->st & PC_TCP_EP_MASK, r);
	if (h->rtt_us) {
		r->l7_flags |= CAPTURE_L7_RTT;
		r->rtt_syn_us = h->rtt_syn_us - 1;
		r->rtt_us = h->rtt_us - 1;
	}
}
