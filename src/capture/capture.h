/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Capture backend ops interface and registry. A backend hands a worker bursts
 * of packet views that stay valid until the worker releases the burst.
 */
#ifndef PC_CAPTURE_H
#define PC_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"

#define PC_BURST 64

struct pc_flow_agg; /* flow/flow_agg.h */

/* DLT values the decoder understands (same numbers as libpcap's DLT_*). */
enum pc_linktype {
	PC_DLT_NULL = 0,
	PC_DLT_EN10MB = 1,
	PC_DLT_RAW = 12, /* also 14 on some systems; normalised to 12 */
	PC_DLT_LOOP = 108,
	PC_DLT_LINUX_SLL = 113,
	PC_DLT_IPV4 = 228,
	PC_DLT_IPV6 = 229,
	PC_DLT_LINUX_SLL2 = 276,
	PC_DLT_RAW_101 = 101, /* LINKTYPE_RAW in files */
};

/* A borrowed view of one packet; data valid until rx_release. */
struct pc_pkt {
	const uint8_t *data;
	uint32_t caplen;
	uint32_t wirelen;
	uint64_t ts_ns;	   /* Unix epoch nanoseconds */
	uint16_t linktype; /* DLT of this packet (pcapng: per interface) */
	uint16_t ifindex;  /* pcapng interface id, live: 0 */
};

/* Counters of the ebpf backend, in the order of struct capture_stats'
 * ebpf_seen .. ebpf_harvested_flows; the first 12 are the program's own. */
#define PC_EBPF_NSTATS 15

/* Kernel/driver counters a live backend reports (cumulative). */
struct pc_cap_stats {
	uint64_t packets;  /* seen by the kernel (incl. drops) */
	uint64_t drops;	   /* tp_drops, ps_drop, XDP rx_dropped */
	uint64_t freeze_q; /* tp_freeze_q_cnt */
	uint64_t ifdrops;  /* ps_ifdrop */
	uint64_t xdp_rx_ring_full;
	uint64_t xdp_fill_ring_empty;
	uint64_t dpdk_ipackets; /* rte_eth_stats of the port */
	uint64_t dpdk_imissed;
	uint64_t dpdk_rx_nombuf;
	uint64_t dpdk_ierrors;
	/* ebpf: struct capture_stats' ebpf_seen .. ebpf_harvested_flows, in order */
	uint64_t ebpf[PC_EBPF_NSTATS];
};

/* What a backend needs to open; strings owned by the caller. */
struct pc_cap_params {
	const char *interface;
	const char *pcap_file;
	const char *filter;	      /* NULL: none */
	const char *decrypt_key_file; /* file backend: encrypted input */
	uint32_t snaplen;
	uint32_t buffer_size_mb;
	uint32_t workers; /* queues wanted (fanout members) */
	bool promiscuous;
	uint8_t tstamp; /* enum capture_tstamp */
	capture_log_fn log_fn;
	void *log_ctx;
	int log_level;
	const char *dpdk_eal;	       /* dpdk: EAL arguments */
	const char *const *pcap_files; /* file: several inputs merged in time order */
	uint32_t npcap_files;	       /* 0: pcap_file alone */
	const char *ebpf_hook;	       /* ebpf: "xdp" or "tc" (NULL: xdp) */
	uint32_t ebpf_map_flows;       /* ebpf: kernel map entries (0: default) */
	bool ebpf_drop;		       /* ebpf: drop after metering */
};

struct pc_cap {
	const struct pc_capture_ops *ops;
	void *priv;
	unsigned nqueues;	/* set by open: queues the workers read */
	int linktype;		/* default DLT of delivered packets */
	bool filter_applied;	/* open applied params->filter itself */
	bool offline;		/* file input: back-pressure instead of drops */
	uint64_t input_bytes;	/* offline: size of the input, 0 unknown */
	uint64_t input_pos;	/* offline: bytes consumed so far (relaxed) */
	char tstamp_source[32]; /* "kernel", "hardware", "file", ... */
	char tstamp_detail[128];
	char mode[32];	/* afxdp: "native copy", ... */
	char err[1024]; /* detailed error set by a failing op (DPDK: two EAL lines) */
	const struct pc_cap_params *params;
};

/*
 * What a backend is, for the generic layer (struct pc_capture_ops.flags).
 * Selection reads these and never compares ops pointers.
 */
#define PC_CAP_F_LIVE (1u << 0)	   /* reads an interface: params->interface needed */
#define PC_CAP_F_OFFLINE (1u << 1) /* reads a capture file: what auto opens for a file */
#define PC_CAP_F_AUTO (1u << 2)	   /* auto tries it (in registry order) for live input */
/* auto takes it only when probe reports its best mode (1), e.g. AF_XDP whose
 * copy mode costs ~5x AF_PACKET per packet: only zero-copy wins */
#define PC_CAP_F_AUTO_BEST_ONLY (1u << 3)
/* no build of this library captures with it: listed only so the backends
 * listing can say why it is absent, and left out of pc_capture_names() */
#define PC_CAP_F_PLACEHOLDER (1u << 4)
/* params->interface is a kernel network device: the generic layer refuses a
 * missing one ("no such interface 'X'") or one that is down ("interface X is
 * down") before the backend is probed; both fail the same way everywhere, so
 * auto stops there and says so first */
#define PC_CAP_F_NETDEV (1u << 5)
/* params->interface names a port of the backend's own (dpdk:PORT), never a
 * kernel device: once its probe accepted the name, auto tries no other */
#define PC_CAP_F_PORTS (1u << 6)
/* opens libpcap's "any" pseudo-device (every interface, Linux cooked link
 * type SLL/SLL2) when params->interface is "any"; the others refuse it */
#define PC_CAP_F_ANY_DEVICE (1u << 7)

struct pc_capture_ops {
	const char *name;
	int preference; /* reported by the listing; the registry is in this order */
	unsigned flags; /* PC_CAP_F_* */
	/* >= 0 available (1: best mode, e.g. zero-copy; 0: usable), < 0 not;
	 * @reason says why either way. @ifname may be NULL (listing). */
	int (*probe)(const char *ifname, char *reason, size_t len);
	int (*open)(struct pc_cap *cap, const struct pc_cap_params *p);
	/* Up to @max packets for queue @q, waiting up to @timeout_ms.
	 * >= 0: count; -CAPTURE_E_EOF: offline input ended; other < 0: error. */
	int (*rx_burst)(struct pc_cap *cap, unsigned q, struct pc_pkt *pkts, unsigned max,
			int timeout_ms);
	void (*rx_release)(struct pc_cap *cap, unsigned q, unsigned n);
	int (*stats)(struct pc_cap *cap, unsigned q, struct pc_cap_stats *st);
	void (*close)(struct pc_cap *cap);
	/* Optional (ebpf): flows metered in the kernel. Up to @max flow deltas
	 * for queue @q into @out, at most once per harvest interval unless
	 * @final (stop: the program stops metering and everything left comes
	 * out; the worker then reads the packets still queued with rx_burst).
	 * >= 0: count (call again until 0); < 0: error in cap->err. */
	int (*harvest)(struct pc_cap *cap, unsigned q, struct pc_flow_agg *out, unsigned max,
		       bool final);
};

/* Registry: every backend known, in preference order (NULL-terminated). */
const struct pc_capture_ops *const *pc_capture_registry(void);
const struct pc_capture_ops *pc_capture_find(const char *name);

/*
 * The backend names a user may choose from, as "auto, afxdp, afpacket, pcap,
 * file": "auto", then every registry entry in registry order except the
 * placeholders (PC_CAP_F_PLACEHOLDER). Cut short (always NUL-terminated) when
 * @len is too small. For "unknown backend" messages. Thread-safe.
 */
void pc_capture_names(char *buf, size_t len);

/*
 * Check a ring/buffer size @mb against CAPTURE_BUFFER_MB_MIN..MAX. Returns 0,
 * or -CAPTURE_E_CONFIG with "<backend>: buffer size N MB out of range
 * (accepted: 64..2048 MB)" in @err.
 */
int pc_capture_check_buffer_mb(const char *backend, unsigned mb, char *err, size_t errlen);

/*
 * Open the backend named @name ("auto" picks by preference) into @cap.
 * @why receives which one was chosen and why others were passed over.
 */
int pc_capture_open(struct pc_cap *cap, const char *name, const struct pc_cap_params *p, char *why,
		    size_t whylen);
void pc_capture_close(struct pc_cap *cap);

/* The interface's rx_dropped counter from sysfs (0 when unreadable). */
uint64_t pc_if_rx_dropped(const char *ifname);

/* The interface's IFF_* flags (SIOCGIFFLAGS) into *@flags: 0, -ENODEV when
 * there is no such interface, or another -errno. */
int pc_if_flags(const char *ifname, unsigned *flags);

/*
 * Can a capture on @ifname start? 0 when it exists and is up; otherwise
 * -ENODEV with "no such interface 'X'" or -ENETDOWN with "interface X is
 * down" in @err (other failures of SIOCGIFFLAGS: -errno and its text).
 */
int pc_if_check(const char *ifname, char *err, size_t len);

/* @ifname is "any", the pseudo-device of every interface (PC_CAP_F_ANY_DEVICE). */
bool pc_if_is_any(const char *ifname);

struct sock_filter;

/*
 * Put "outgoing frame (PACKET_OUTGOING) -> drop" in front of the classic BPF
 * socket program *@prog of *@len instructions (calloc'd; replaced by a new
 * calloc'd one). For the loopback device, where a packet socket sees every
 * packet twice, once leaving and once arriving: libpcap keeps only the
 * arriving copy there (and both directions on any other interface), so every
 * live backend does the same. Dropped in the kernel, the outgoing copy is
 * neither delivered nor counted in the socket's statistics. 0 or -ENOMEM.
 */
int pc_capture_drop_outgoing(struct sock_filter **prog, unsigned *len);

/* Backends known to the registry (defined in their own files). */
extern const struct pc_capture_ops pc_cap_file_ops;
extern const struct pc_capture_ops pc_cap_pcap_ops;
extern const struct pc_capture_ops pc_cap_afpacket_ops;
extern const struct pc_capture_ops pc_cap_afxdp_ops;
extern const struct pc_capture_ops pc_cap_ebpf_ops;
extern const struct pc_capture_ops pc_cap_dpdk_ops;
extern const struct pc_capture_ops pc_cap_pfring_ops;

#endif
