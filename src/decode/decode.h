/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet decoder: link layer (Ethernet, SLL, SLL2, raw IP, BSD null/loop),
 * VLAN/QinQ, MPLS, PPPoE, IPv4 (+options), IPv6 (+ext headers), TCP/UDP/SCTP
 * ports, ICMP/ICMPv6 type/code. Every read is bounds-checked; the result is a
 * verdict counted by reason. Non-first IP fragments get their ports from a
 * bounded per-decoder fragment table; unmatched ones are never guessed.
 */
#ifndef PC_DECODE_H
#define PC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "decode/meta.h"

/* Verdict - 1 == enum capture_skip index for every non-OK verdict. */
enum pc_verdict {
	PC_DEC_OK = 0,
	PC_DEC_NON_IP = 1,	       /* ARP, LLDP, STP, unknown ethertype... */
	PC_DEC_TRUNCATED = 2,	       /* caplen ends before the headers we need */
	PC_DEC_MALFORMED = 3,	       /* header fields contradict each other */
	PC_DEC_UNSUPPORTED_LINK = 4,   /* link type we do not decode */
	PC_DEC_FRAGMENT_UNMATCHED = 5, /* non-first fragment, first never seen */
};

struct pc_decode_stats {
	uint64_t fragments_tracked; /* first fragments recorded */
	uint64_t fragments_matched; /* later fragments given ports */
	uint64_t fragments_evicted; /* table entries reused before expiry */
};

struct pc_decoder;

/* @frag_slots: fragment table size (rounded up to a power of two, 0: 4096);
 * @frag_timeout_ns: how long a first fragment's ports are kept (0: 30 s). */
int pc_decoder_create(struct pc_decoder **out, uint32_t frag_slots, uint64_t frag_timeout_ns);
void pc_decoder_destroy(struct pc_decoder *d);

/* Decode @p into @m (key zero-padded). Returns a verdict; @m is meaningful
 * only for PC_DEC_OK. Never reads outside p->data[0 .. p->caplen). */
enum pc_verdict pc_decode(struct pc_decoder *d, const struct pc_pkt *p, struct pc_meta *m);

const struct pc_decode_stats *pc_decoder_stats(const struct pc_decoder *d);

#endif
