/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the eBPF flow meter (flow_meter.bpf.c) and its user-space side
 * (cap_ebpf.c) share: the flow key (the layout of struct pc_flow_key), the
 * per-CPU flow value, the counters and the record of a packet handed up.
 */
#ifndef PC_FLOW_METER_H
#define PC_FLOW_METER_H

#include <linux/types.h>

/* struct pc_flow_key, byte for byte (flow/flow_key.h): canonical order */
struct fm_key {
	__u8 addr[2][16];
	__u16 port[2]; /* host order; ICMP: type << 8 | code, a reply's type mapped */
	__u16 vlan;
	__u8 proto;
	__u8 ipver;
	__u32 tunnel_id; /* always 0: tunnels are handed up */
	__u16 iface;	 /* always 0 (live) */
	__u8 tunnel_type;
	__u8 pad;
};

/* One direction of a flow on one CPU (canonical side of the sender). */
struct fm_dir {
	__u64 pkts;
	__u64 bytes;   /* IP octets */
	__u64 payload; /* L4 payload octets, as the user-space decoder counts them */
	__u64 first;   /* bpf_ktime_get_ns */
	__u64 last;
	__u8 flags;    /* TCP flags OR'd */
	__u8 syn_only; /* a SYN without ACK was seen */
	__u8 tos;      /* of the first packet on this CPU */
	__u8 ttl_min;
	__u8 ttl_max;
	__u8 icmp_type; /* of the first packet on this CPU */
	__u8 icmp_code;
	__u8 pad;
	__u8 mac[12]; /* the first frame's source, destination */
	__u32 pad2;
	__u64 wire; /* frame octets (for the capture's bytes read) */
};

struct fm_val {
	struct fm_dir d[2];
};

/* Per-CPU counters: seen = metered + every FM_UP_* + ring_full + errors. */
enum fm_counter {
	FM_SEEN = 0,
	FM_METERED,
	FM_UP_NON_IP,	  /* ARP, MPLS, PPPoE, ...: not decoded here */
	FM_UP_VLAN,	  /* a second VLAN tag (QinQ) */
	FM_UP_FRAGMENT,	  /* IPv4/IPv6 fragments (ports only in the first) */
	FM_UP_TUNNEL,	  /* GRE, IP-in-IP, UDP on a tunnel port */
	FM_UP_EXT_HEADER, /* IPv6 extension headers not walked (AH, > 4, too long) */
	FM_UP_MALFORMED,  /* truncated or inconsistent headers */
	FM_UP_MAP_FULL,	  /* new flow, no room in the kernel map */
	FM_UP_FILTER,	  /* a filter the program cannot run: user space decides */
	FM_RING_FULL,	  /* to hand up, but the ring buffer was full: lost */
	FM_ERRORS,	  /* map or copy errors: lost */
	FM_NCOUNTERS
};

#define FM_UP_FIRST FM_UP_NON_IP
#define FM_UP_LAST FM_UP_FILTER

struct fm_counters {
	__u64 c[FM_NCOUNTERS];
};

/* Bytes of a handed-up packet copied into the ring buffer. */
#define FM_SNAP 2048

/* One handed-up packet in the ring buffer. */
struct fm_rec {
	__u64 ts; /* bpf_ktime_get_ns */
	__u32 wirelen;
	__u16 caplen;
	__u8 reason;  /* enum fm_counter */
	__u8 vlan_hw; /* tc: the first VLAN tag was taken out of the frame */
	__u16 vlan_tci;
	__u16 vlan_proto; /* network order */
	__u32 pad;
	__u8 data[FM_SNAP];
};

#define FM_TC_HANDLE 0x4a43 /* "JC" */
#define FM_TC_PRIO 0x4a43

#endif
