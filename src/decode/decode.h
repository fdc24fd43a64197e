/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet decoder: link layer (Ethernet, SLL, SLL2, raw IP, BSD null/loop),
 * VLAN/QinQ, MPLS, PPPoE, IPv4 (+options), IPv6 (+ext headers), TCP/UDP/SCTP
 * ports, ICMP/ICMPv6 type/code, and the tunnels around them (docs/TUNNELS.md:
 * VXLAN, Geneve, GRE/NVGRE/ERSPAN/PPTP, GTP-U, IP-in-IP, MPLS over UDP, MPLS
 * pseudowires, Teredo, AYIYA) to a fixed depth. Every read is bounds-checked;
 * the result is a verdict counted by reason. Non-first IP fragments get their
 * ports from a bounded per-decoder fragment table; unmatched ones are never
 * guessed.
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
	/* tunnels nested deeper than PC_DECAP_DEPTH */
	PC_DEC_TUNNEL_DEPTH = CAPTURE_SKIP_TUNNEL_DEPTH + 1,
};

#define PC_DECAP_DEPTH 4      /* decapsulations per packet at most */
#define PC_DECAP_MAX_PORTS 16 /* UDP tunnel ports */

struct pc_decode_stats {
	uint64_t fragments_tracked; /* first fragments recorded */
	uint64_t fragments_matched; /* later fragments given ports */
	uint64_t fragments_evicted; /* table entries reused before expiry */
	uint64_t tunnel_fragments;  /* fragments of tunnel packets: metered as the
				       outer flow, not reassembled */
};

/* What pc_decoder_create() takes; zero-filled: every default. */
struct pc_decode_opts {
	uint32_t frag_slots;	  /* fragment table size (rounded up to a power
				     of two, 0: 4096) */
	uint64_t frag_timeout_ns; /* how long a first fragment's ports are kept (0: 30 s) */
	uint32_t decap_off;	  /* 1u << CAPTURE_TUNNEL_x: not decapsulated */
	unsigned nports;	  /* 0: the default UDP ports (pc_decode_ports_parse) */
	uint16_t port[PC_DECAP_MAX_PORTS];
	uint8_t port_type[PC_DECAP_MAX_PORTS]; /* enum capture_tunnel of port[i] */
};

/*
 * Fill @o's UDP tunnel ports from @spec, "NAME=PORT[+PORT...][,NAME=...]"
 * (NAME: vxlan, geneve, gtpu, mplsudp, teredo, ayiya). A NAME given replaces
 * its default ports, "NAME=" alone gives it none; the others keep theirs
 * (vxlan 4789+8472, geneve 6081, gtpu 2152, mplsudp 6635, teredo 3544,
 * ayiya 5072). NULL or "": the defaults. Returns 0, or -EINVAL with the
 * reason in @err.
 */
int pc_decode_ports_parse(struct pc_decode_opts *o, const char *spec, char *err, size_t errlen);

struct pc_decoder;

/* @o: NULL for every default. -EINVAL for a bad fragment table size. */
int pc_decoder_create(struct pc_decoder **out, const struct pc_decode_opts *o);
void pc_decoder_destroy(struct pc_decoder *d);

/* Decode @p into @m (key zero-padded). Returns a verdict; @m is meaningful
 * only for PC_DEC_OK. Never reads outside p->data[0 .. p->caplen). */
enum pc_verdict pc_decode(struct pc_decoder *d, const struct pc_pkt *p, struct pc_meta *m);

const struct pc_decode_stats *pc_decoder_stats(const struct pc_decoder *d);

#endif
