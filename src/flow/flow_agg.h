/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A flow's counters metered elsewhere (the eBPF backend's kernel map) since
 * the last harvest, applied to a flow table shard in one step.
 */
#ifndef PC_FLOW_AGG_H
#define PC_FLOW_AGG_H

#include <stdint.h>

#include "flow/flow.h"

/* One direction: the packets canonical side @i of the key sent. */
struct pc_flow_agg_dir {
	uint64_t pkts; /* 0: none from this side */
	uint64_t bytes;
	uint64_t payload;
	uint64_t wire;	   /* frame octets (not in the flow: the capture's bytes read) */
	uint64_t first_ns; /* wall time */
	uint64_t last_ns;
	uint8_t flags;	  /* TCP flags OR'd */
	uint8_t syn_only; /* a SYN without ACK among them */
	uint8_t tos;	  /* of the first packet */
	uint8_t ttl_min;
	uint8_t ttl_max;
	uint8_t icmp_type; /* of the first packet */
	uint8_t icmp_code;
	uint8_t has_mac;
	uint8_t mac[12]; /* the first frame's source, destination */
};

struct pc_flow_agg {
	struct pc_flow_key key; /* any order: side i of d[i] is key.addr[i] */
	struct pc_flow_agg_dir d[2];
};

/*
 * Account @a in table @t: each side in order of its first packet as if that
 * packet carried the side's whole delta (so expiry, TCP end and the source
 * side follow the per-packet rules), then the rest of its packets, its last
 * time and TTL range. Flows it ends go to @out.
 */
void pc_flow_apply_agg(struct pc_flow_table *t, const struct pc_flow_agg *a,
		       struct pc_flow_sink *out);

#endif
