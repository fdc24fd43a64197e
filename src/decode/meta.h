/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The contract between the decoder and the flow table: what one decoded
 * packet carries to its flow. decode/ fills it, flow/ consumes it (and the
 * offline dispatcher ships it between threads), so neither module includes
 * the other.
 */
#ifndef PC_META_H
#define PC_META_H

#include <stdint.h>

#include "flow/flow_key.h"

/* What the flow table needs from one packet. */
struct pc_meta {
	struct pc_flow_key key; /* as on the wire: addr[0]/port[0] = sender */
	uint64_t ts_ns;
	uint32_t ip_bytes; /* IPv4 total length / IPv6 payload length + 40 */
	uint32_t wirelen;
	uint8_t tcp_flags; /* TCP only (first fragment or whole packet) */
	uint8_t icmp_type; /* ICMP/ICMPv6 only */
	uint8_t icmp_code;
	uint8_t flags;	     /* PC_META_* */
	uint8_t tos;	     /* innermost IP: DSCP << 2 | ECN */
	uint8_t ttl;	     /* innermost IP: TTL / hop limit */
	uint16_t vlan_inner; /* outermost Ethernet: its second VLAN tag (QinQ
				customer VLAN; key.vlan is the first), 0 if none */
	uint8_t mac[2][6];   /* innermost Ethernet: [0] source, [1] destination;
				only with PC_META_HAS_MAC (not zeroed otherwise) */
	uint32_t teid;	     /* GTP-U TEID of this packet (not in the key) */
	/* Only when PC_META_TUNNEL / PC_META_MPLS is set (not zeroed otherwise): */
	uint32_t mpls[3];	   /* top label stack entries: label << 4 | exp << 1 | s */
	uint8_t outer_ipver;	   /* outermost IP header */
	uint8_t outer_addr[2][16]; /* [0] its source, [1] its destination */
	/* Innermost IP packet and its L4 payload, for inspection and TCP health.
	 * l3 points into the packet view: valid until the burst is released
	 * (offline with several workers, into the shard's copy). Unfragmented
	 * packets only: a fragment has pl_len 0 and l3 NULL. */
	const uint8_t *l3; /* innermost IP header */
	uint32_t l3_cap;   /* bytes captured from l3 on, within the IP length */
	uint32_t pl_off;   /* L4 payload offset from l3 (0: no payload) */
	uint32_t pl_len;   /* L4 payload bytes the IP length declares (may exceed
			      what was captured: l3_cap - pl_off) */
	uint32_t tcp_seq;  /* TCP only (PC_META_TCP_HDR) */
	uint32_t tcp_ack;
	uint16_t tcp_win; /* raw window field (unscaled) */
};

enum pc_meta_flags {
	PC_META_FRAGMENT = 1u << 0, /* an IP fragment (first or later) */
	PC_META_HAS_L4 = 1u << 1,   /* ports / type-code valid */
	PC_META_TUNNEL = 1u << 2,   /* decapsulated: outer_* and key.tunnel_* valid */
	PC_META_MPLS = 1u << 3,	    /* mpls[] valid */
	PC_META_HAS_MAC = 1u << 4,  /* mac[] valid */
	PC_META_TCP_HDR = 1u << 5,  /* a whole TCP header: tcp_seq/ack/win valid */
};

#endif
