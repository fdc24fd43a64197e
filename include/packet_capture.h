/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file packet_capture.h
 * @brief libpacket_capture: packet capture and flow metering engine.
 *
 * One opaque handle (struct capture) drives one capture session: a backend
 * (pcap file, libpcap live, AF_PACKET TPACKET_V3, AF_XDP) feeds worker threads
 * that decode packets and meter bidirectional flows; expired flow records go
 * to exporters (JSON lines, NetFlow v5/v9, IPFIX, SQLite) on an export thread.
 *
 * Conventions:
 * - Functions returning int return >= 0 on success (often a count) and a
 *   negative error code on failure: -errno, or -CAPTURE_E_* from this header.
 *   capture_strerror() names both kinds; capture_last_error() gives the
 *   detailed message of the last failure on a handle (libpcap's text for a
 *   bad filter, the file name and the problem for a bad input file, ...).
 * - Versioned structs start with `size_t sz` (set it to sizeof the struct)
 *   and only ever grow by appending fields.
 * - The library never exits, aborts or prints: logs go to the callback in
 *   struct capture_config.
 * - Thread safety is stated per function. Unless said otherwise, calls on
 *   one handle must not overlap each other.
 */
#ifndef PACKET_CAPTURE_H
#define PACKET_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CAPTURE_API __attribute__((visibility("default")))
#else
#define CAPTURE_API
#endif

#define CAPTURE_VERSION_MAJOR 0
#define CAPTURE_VERSION_MINOR 1
#define CAPTURE_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Project error codes, returned negated. Values start above any errno.
 * X(NAME, value, message)
 */
#define CAPTURE_ERRORS(X)                                                    \
	X(CAPTURE_E_STATE, 1000, "operation not valid in the current state") \
	X(CAPTURE_E_CONFIG, 1001, "invalid configuration")                   \
	X(CAPTURE_E_FILTER, 1002, "invalid filter expression")               \
	X(CAPTURE_E_FORMAT, 1003, "not a capture file")                      \
	X(CAPTURE_E_TRUNCATED, 1004, "truncated capture file")               \
	X(CAPTURE_E_BACKEND, 1005, "capture backend unavailable")            \
	X(CAPTURE_E_LINKTYPE, 1006, "unsupported link type")                 \
	X(CAPTURE_E_VERIFY, 1007, "signature verification failed")           \
	X(CAPTURE_E_KEY, 1008, "invalid key")                                \
	X(CAPTURE_E_WRONG_KEY, 1009, "data was encrypted under another key") \
	X(CAPTURE_E_AUTH, 1010, "authentication failed: data damaged")       \
	X(CAPTURE_E_TARGET, 1011, "invalid export target")                   \
	X(CAPTURE_E_NOT_FOUND, 1012, "not found")                            \
	X(CAPTURE_E_PRIV, 1013, "missing privilege")                         \
	X(CAPTURE_E_DB, 1014, "flow store error")                            \
	X(CAPTURE_E_CRYPTO, 1015, "cryptographic library error")             \
	X(CAPTURE_E_EOF, 1016, "end of input")

enum capture_error {
#define CAPTURE_ERR_ENUM(name, val, msg) name = val,
	CAPTURE_ERRORS(CAPTURE_ERR_ENUM)
#undef CAPTURE_ERR_ENUM
};

/**
 * Message for an error code (negative or positive; errno or CAPTURE_E_*).
 * Thread-safe; the string is static.
 */
CAPTURE_API const char *capture_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

enum capture_log_level {
	CAPTURE_LOG_ERROR = 0,
	CAPTURE_LOG_WARN = 1,
	CAPTURE_LOG_INFO = 2,
	CAPTURE_LOG_DEBUG = 3,
};

/** Log callback; may be called from any engine thread. msg lives for the call. */
typedef void (*capture_log_fn)(void *ctx, int level, const char *msg);

enum capture_tstamp {
	CAPTURE_TSTAMP_KERNEL = 0,   /**< kernel software stamps (default) */
	CAPTURE_TSTAMP_HARDWARE = 1, /**< NIC raw hardware stamps, else kernel */
	CAPTURE_TSTAMP_PTP = 2,	     /**< time read from a PTP hardware clock */
	CAPTURE_TSTAMP_NTP = 3,	     /**< system clock, sync state reported */
};

/** Accepted live ring sizes (capture_config.buffer_size_mb), in MiB. */
#define CAPTURE_BUFFER_MB_MIN 64
#define CAPTURE_BUFFER_MB_MAX 2048

struct capture_config {
	size_t sz;		 /**< sizeof(struct capture_config) */
	const char *interface;	 /**< live interface, or NULL */
	const char *pcap_file;	 /**< offline input (pcap, pcapng, encrypted) */
	const char *backend;	 /**< "auto" (or NULL), "pcap", "afpacket",
					     "afxdp", "file" */
	const char *filter;	 /**< tcpdump-syntax BPF, or NULL */
	uint32_t snaplen;	 /**< 0: 262144 */
	uint32_t buffer_size_mb; /**< live ring size, 0: 64 (64..2048) */
	uint32_t workers;	 /**< 0: 1 */
	bool promiscuous;
	uint8_t tstamp;	       /**< enum capture_tstamp */
	uint64_t max_packets;  /**< stop after this many; 0: no limit */
	uint32_t duration_sec; /**< live: stop after; 0: no limit */
	capture_log_fn log_fn; /**< NULL: silent */
	void *log_ctx;
	int log_level;		      /**< highest level passed to log_fn */
	uint32_t export_queue;	      /**< flow records per worker queue, 0: 2048 from files
					 (2.5 MiB), 16384 live (20 MiB) */
	const char *decrypt_key_file; /**< key for encrypted pcap_file input */
	const char *user;	      /**< drop privileges to this user after open */
	/* Tunnels (see enum capture_tunnel). */
	uint32_t decap_off;	  /**< bits (1u << CAPTURE_TUNNEL_x) NOT decapsulated;
					0: decapsulate every kind (the default) */
	const char *tunnel_ports; /**< UDP ports per tunnel, e.g.
					"vxlan=4789+8472,geneve=6081,gtpu=2152,mplsudp=6635";
					NULL: those defaults */
	/* DPDK backend. */
	const char *dpdk_eal; /**< EAL arguments, e.g. "--no-huge -m 256 --vdev=net_pcap0,..." */
	/* Packet sampling, before decode: the others count as skipped (sampled_out). */
	uint32_t sample_rate; /**< meter 1 in N packets; 0 or 1: every packet */
	bool sample_random;   /**< each packet with probability 1/N, not every N-th */
	/* Enrichment of every record on the export thread (MaxMind DB files). */
	const char *geoip_city; /**< GeoIP2/GeoLite2 City or Country database, or NULL */
	const char *geoip_asn;	/**< GeoLite2 ASN database, or NULL */
	/* Several offline inputs metered as one run, merged in time order like
	 * mergecap (each may be pcap, pcapng, compressed or encrypted). Used
	 * instead of pcap_file when npcap_files > 0; give one or the other. */
	const char *const *pcap_files;
	uint32_t npcap_files;
	/* eBPF backend ("ebpf"): flows metered in the kernel. */
	const char *ebpf_hook;	 /**< "xdp" (NULL: the default) or "tc" */
	uint32_t ebpf_map_flows; /**< kernel flow map entries; 0: 65536 */
	bool ebpf_drop;		 /**< drop packets after metering (dedicated port only) */
};

struct capture;

/**
 * Create a capture session from @cfg (copied; strings are duplicated).
 * Checks the configuration, compiles the filter (a bad expression fails with
 * -CAPTURE_E_FILTER and libpcap's message in capture_last_error()).
 * @out receives the handle, to be freed with capture_destroy().
 */
CAPTURE_API int capture_init(struct capture **out, const struct capture_config *cfg);

/** Stop (not gracefully) if running, free everything. NULL is a no-op. */
CAPTURE_API void capture_destroy(struct capture *c);

/**
 * Detailed text of the last failure on @c (or of the last failed
 * capture_init in this thread when @c is NULL). Valid until the next call
 * on the handle.
 */
CAPTURE_API const char *capture_last_error(const struct capture *c);

/* ------------------------------------------------------------------------ */
/* Flow metering                                                            */
/* ------------------------------------------------------------------------ */

enum capture_end_reason {
	CAPTURE_END_ACTIVE_FLOW = 0, /**< still in the table (lookups, snapshots) */
	CAPTURE_END_IDLE = 1,	     /**< no packet for idle_timeout */
	CAPTURE_END_ACTIVE = 2,	     /**< lived longer than active_timeout */
	CAPTURE_END_END = 3,	     /**< TCP FIN from both sides, or RST */
	CAPTURE_END_EVICTED = 4,     /**< table full: made room for a new flow */
	CAPTURE_END_SHUTDOWN = 5,    /**< end of input or stop */
};

/** Name of an end reason ("idle", "active", "end", "evicted", "shutdown"). */
CAPTURE_API const char *capture_end_reason_name(int reason);

struct capture_flow_config {
	size_t sz;		     /**< sizeof(struct capture_flow_config) */
	uint32_t table_size;	     /**< flow slots in all, 4096..16777216; 0: 1048576
					      reading files, 65536 live */
	uint32_t idle_timeout_sec;   /**< 0: 30 */
	uint32_t active_timeout_sec; /**< 0: 1800 */
	bool uniflow;		     /**< one record per direction */
	uint32_t ended_ring_size;    /**< recently ended flows kept for
					     capture_flow_get_all(); 0: none.
					     The ring grows as flows end, to
					     sizeof(struct capture_flow) (about
					     1.3 KB) a slot at most */
	uint32_t idle_timeout_ms;    /**< if non-zero, overrides idle_timeout_sec */
	uint16_t community_id_seed;  /**< Community ID v1 seed; 0 by default */
	uint32_t inspect_off;	     /**< CAPTURE_INSPECT_* stages turned off; 0: all on
					  (nDPI only where compiled in) */
	uint32_t inspect_flows;	     /**< flows under inspection at a time, per worker;
					  0: 65536 (more wait uninspected: inspect_pool_full) */
};

/** Tunnel kinds the decoder decapsulates (capture_flow.tunnel_type). */
enum capture_tunnel {
	CAPTURE_TUNNEL_NONE = 0,
	CAPTURE_TUNNEL_VXLAN = 1,    /**< tunnel_id: VNI (in the flow key) */
	CAPTURE_TUNNEL_GENEVE = 2,   /**< tunnel_id: VNI (in the key) */
	CAPTURE_TUNNEL_GRE = 3,	     /**< tunnel_id: GRE key if present (in the key) */
	CAPTURE_TUNNEL_NVGRE = 4,    /**< tunnel_id: VSID (in the key) */
	CAPTURE_TUNNEL_ERSPAN = 5,   /**< tunnel_id: session id (in the key) */
	CAPTURE_TUNNEL_PPTP = 6,     /**< enhanced GRE, inner PPP; tunnel_id: call id */
	CAPTURE_TUNNEL_GTPU = 7,     /**< tunnel_id: TEID each way (not in the key) */
	CAPTURE_TUNNEL_IPIP = 8,     /**< IPv4/IPv6 in IPv4/IPv6 (protocols 4, 41) */
	CAPTURE_TUNNEL_MPLS_UDP = 9, /**< MPLS over UDP (RFC 7510) */
	CAPTURE_TUNNEL_MPLS_PW = 10, /**< MPLS pseudowire carrying Ethernet */
	CAPTURE_TUNNEL_TEREDO = 11,
	CAPTURE_TUNNEL_AYIYA = 12,
	CAPTURE_TUNNEL_COUNT
};

/** Name of a tunnel kind ("vxlan", "geneve", ...), NULL if out of range. */
CAPTURE_API const char *capture_tunnel_name(int type);

/**
 * Parse a decapsulation list into capture_config.decap_off: "all" (0), "none"
 * (every kind off) or tunnel names separated by commas (the kinds decapsulated,
 * every other one off). @return 0, -CAPTURE_E_CONFIG for an unknown name
 * (@decap_off unchanged), -EINVAL for NULL arguments.
 */
CAPTURE_API int capture_decap_parse(const char *list, uint32_t *decap_off);

/** Zeek conn.log connection states (capture_flow.conn_state, TCP only). */
enum capture_conn_state {
	CAPTURE_CONN_NONE = 0, /**< not TCP, or TCP health off */
	CAPTURE_CONN_S0,       /**< connection attempt seen, no reply */
	CAPTURE_CONN_S1,       /**< established, not terminated */
	CAPTURE_CONN_SF,       /**< established and closed normally */
	CAPTURE_CONN_REJ,      /**< attempt rejected (SYN answered by RST) */
	CAPTURE_CONN_S2,       /**< established, close attempt by src, no reply from dst */
	CAPTURE_CONN_S3,       /**< established, close attempt by dst, no reply from src */
	CAPTURE_CONN_RSTO,     /**< established, src aborted (RST) */
	CAPTURE_CONN_RSTR,     /**< dst sent a RST */
	CAPTURE_CONN_RSTOS0,   /**< src sent SYN then RST, no SYN-ACK seen */
	CAPTURE_CONN_RSTRH,    /**< dst sent SYN-ACK then RST, no SYN seen */
	CAPTURE_CONN_SH,       /**< src sent SYN then FIN, no SYN-ACK seen */
	CAPTURE_CONN_SHR,      /**< dst sent SYN-ACK then FIN, no SYN seen */
	CAPTURE_CONN_OTH,      /**< no SYN seen: midstream traffic */
	CAPTURE_CONN_COUNT
};

/** Zeek's name of a connection state ("S0", "SF", ...), NULL if out of range or NONE. */
CAPTURE_API const char *capture_conn_state_name(int state);

/** Confidence of an nDPI verdict (capture_flow.dpi_confidence), as nDPI 4.2 reports it. */
enum capture_dpi_confidence {
	CAPTURE_DPI_UNKNOWN = 0,
	CAPTURE_DPI_MATCH_BY_PORT = 1,
	CAPTURE_DPI_MATCH_BY_IP = 2,
	CAPTURE_DPI_DPI_CACHE = 3,
	CAPTURE_DPI_DPI = 4,
};

/** Name of a DPI confidence ("unknown", "port", "ip", "cache", "dpi"), NULL if out of range. */
CAPTURE_API const char *capture_dpi_confidence_name(int conf);

/** Which optional fields of a record are known (capture_flow.l7_flags). */
enum capture_l7_flags {
	CAPTURE_L7_APP = 1u << 0, /**< app, app_category, app ids, dpi_confidence */
	CAPTURE_L7_TLS = 1u << 1, /**< a ClientHello: tls_sni (if sent), tls_alpn, ja3, ja4 */
	CAPTURE_L7_TLS_SERVER = 1u << 2,   /**< a ServerHello: tls_version is the selected one */
	CAPTURE_L7_QUIC = 1u << 3,	   /**< the ClientHello came in a QUIC Initial */
	CAPTURE_L7_DNS = 1u << 4,	   /**< dns_qname, dns_qtype */
	CAPTURE_L7_DNS_RESPONSE = 1u << 5, /**< dns_rcode, dns_answers */
	CAPTURE_L7_HTTP = 1u << 6,	   /**< http_method, http_url, http_host, http_user_agent */
	CAPTURE_L7_HTTP_RESPONSE = 1u << 7, /**< http_status */
	CAPTURE_L7_TCP = 1u << 8,	    /**< conn_state, history, retrans_*, ooo_*, zero_win */
	CAPTURE_L7_RTT = 1u << 9,	    /**< rtt_us, rtt_syn_us */
	CAPTURE_L7_GEO_SRC = 1u << 10,	    /**< src_country */
	CAPTURE_L7_GEO_DST = 1u << 11,	    /**< dst_country */
	CAPTURE_L7_ASN_SRC = 1u << 12,	    /**< src_asn, src_as_org */
	CAPTURE_L7_ASN_DST = 1u << 13,	    /**< dst_asn, dst_as_org */
	CAPTURE_L7_TLS_VERSION = 1u << 14,  /**< tls_version */
};

#define CAPTURE_HISTORY_LEN 20
#define CAPTURE_APP_LEN 48
#define CAPTURE_APP_CATEGORY_LEN 32
#define CAPTURE_NAME_LEN 128 /**< SNI, DNS name, HTTP host, URL, user agent */
#define CAPTURE_ALPN_LEN 32
#define CAPTURE_JA4_LEN 40
#define CAPTURE_JA3_LEN 36
#define CAPTURE_HTTP_METHOD_LEN 12
#define CAPTURE_AS_ORG_LEN 48

/** Inspection stages (capture_flow_config.inspect_off bits). */
enum capture_inspect {
	CAPTURE_INSPECT_DPI = 1u << 0,	/**< nDPI application identification */
	CAPTURE_INSPECT_TLS = 1u << 1,	/**< TLS ClientHello / ServerHello */
	CAPTURE_INSPECT_QUIC = 1u << 2, /**< QUIC v1/v2 client Initial (SNI, ALPN, JA4) */
	CAPTURE_INSPECT_DNS = 1u << 3,
	CAPTURE_INSPECT_HTTP = 1u << 4,
	CAPTURE_INSPECT_TCP = 1u << 5, /**< TCP health: state, history, RTT, retransmissions */
	CAPTURE_INSPECT_ALL = 0x3f,
};

/**
 * Parse an inspection list into capture_flow_config.inspect_off: "all" (0),
 * "none" (every stage off) or stage names separated by commas ("dpi", "tls",
 * "quic", "dns", "http", "tcp": those on, every other off). @return 0,
 * -CAPTURE_E_CONFIG for an unknown name (@off unchanged), -EINVAL for NULL.
 */
CAPTURE_API int capture_inspect_parse(const char *list, uint32_t *off);

/** Whether nDPI is compiled in; writes its version into @buf when it is. */
CAPTURE_API bool capture_dpi_available(char *buf, size_t len);

/** A flow record. IPv4 addresses use the first 4 bytes of the arrays. */
struct capture_flow {
	uint8_t src_ip[16]; /**< side that sent first (SYN sender for TCP) */
	uint8_t dst_ip[16];
	uint16_t src_port; /**< 0 for protocols without ports */
	uint16_t dst_port;
	uint16_t vlan;	       /**< outer VLAN id, 0 if none */
	uint8_t ip_version;    /**< 4 or 6 */
	uint8_t proto;	       /**< IP protocol number */
	uint8_t tcp_flags;     /**< OR of TCP flags, src -> dst */
	uint8_t rev_tcp_flags; /**< OR of TCP flags, dst -> src */
	uint8_t icmp_type;     /**< ICMP/ICMPv6 flows: first packet's type */
	uint8_t icmp_code;
	uint8_t end_reason; /**< enum capture_end_reason */
	uint8_t pad0;
	uint16_t worker;  /**< worker (table shard) that metered it */
	uint64_t packets; /**< src -> dst */
	uint64_t bytes;	  /**< IP-layer octets src -> dst */
	uint64_t rev_packets;
	uint64_t rev_bytes;
	uint64_t first_ns;     /**< Unix epoch nanoseconds, first packet */
	uint64_t last_ns;      /**< last packet */
	uint64_t rev_first_ns; /**< first packet dst -> src (0 if none) */
	uint64_t rev_last_ns;
	uint64_t fwd_first_ns; /**< first packet src -> dst (0 if none) */
	uint64_t fwd_last_ns;
	/* Link and path identity; the fields above are the innermost conversation's. */
	uint8_t src_mac[6];	  /**< innermost Ethernet, first packet src -> dst */
	uint8_t dst_mac[6];	  /**< (all zero when the link has no MACs) */
	uint16_t vlan_inner;	  /**< inner (customer) VLAN id of QinQ, 0 if none */
	uint8_t tunnel_type;	  /**< enum capture_tunnel (innermost decapsulation) */
	uint8_t outer_ip_version; /**< 4 or 6 when tunnelled, else 0 */
	uint32_t tunnel_id;	  /**< VNI, GRE key, ERSPAN session, TEID src -> dst */
	uint32_t rev_tunnel_id;	  /**< TEID dst -> src (GTP-U), else tunnel_id */
	uint8_t outer_src_ip[16]; /**< outermost IP header of the first packet */
	uint8_t outer_dst_ip[16];
	uint32_t mpls_labels[3]; /**< top label stack entries, each
					label << 4 | exp << 1 | bottom-of-stack; 0: none */
	uint32_t interface;	 /**< pcapng interface id, or live ifindex */
	uint8_t tos;		 /**< DSCP << 2 | ECN, first packet src -> dst */
	uint8_t rev_tos;
	uint8_t min_ttl; /**< TTL / hop limit range, src -> dst */
	uint8_t max_ttl;
	uint8_t rev_min_ttl; /**< dst -> src (0 if none) */
	uint8_t rev_max_ttl;
	uint16_t community_id_seed; /**< the session's capture_flow_config seed, so
				       every consumer computes the same Community ID */
	/* Transport health and application fields (see capture_l7_flags: a field
	 * is known only when its flag is set; strings are NUL-terminated, "" when
	 * unknown, and cut to their array size less one byte). */
	uint32_t l7_flags;	/**< CAPTURE_L7_* */
	uint64_t payload_bytes; /**< L4 payload octets src -> dst (every protocol
					  with ports; IP payload otherwise) */
	uint64_t rev_payload_bytes;
	uint64_t retrans_bytes; /**< TCP payload octets sent again src -> dst */
	uint64_t rev_retrans_bytes;
	uint32_t retrans_packets; /**< TCP segments repeating sequence space already seen */
	uint32_t rev_retrans_packets;
	uint32_t ooo_packets; /**< TCP segments arriving after a higher sequence
					  had been seen, not repeating seen data */
	uint32_t rev_ooo_packets;
	uint32_t zero_win; /**< TCP segments advertising a zero window (not RST) */
	uint32_t rev_zero_win;
	uint32_t rtt_us;	/**< TCP handshake: SYN -> SYN/ACK -> ACK, microseconds */
	uint32_t rtt_syn_us;	/**< SYN -> SYN/ACK part (server side of the probe) */
	uint8_t conn_state;	/**< enum capture_conn_state (TCP), 0 otherwise */
	uint8_t dpi_confidence; /**< enum capture_dpi_confidence */
	uint16_t tls_version;	/**< ServerHello's selected version when seen, else the
					  highest the ClientHello offers (0x0304: TLS 1.3) */
	uint16_t dns_qtype;	/**< first question's type */
	uint8_t dns_rcode;	/**< first response's RCODE */
	uint8_t pad1;
	uint16_t dns_answers;	/**< first response's ANCOUNT */
	uint16_t http_status;	/**< first response's status code */
	uint16_t app_id;	/**< nDPI application protocol id (0: unknown) */
	uint16_t app_master_id; /**< nDPI master protocol id (TLS of TLS.YouTube) */
	uint32_t src_asn;	/**< autonomous system of src_ip (GeoIP ASN database) */
	uint32_t dst_asn;
	char history[CAPTURE_HISTORY_LEN]; /**< Zeek conn.log history: upper case src
					      side, lower case dst side, first occurrence */
	char app[CAPTURE_APP_LEN];	   /**< nDPI "MASTER.APP" or "APP" (e.g. TLS.YouTube) */
	char app_category[CAPTURE_APP_CATEGORY_LEN];
	char tls_sni[CAPTURE_NAME_LEN];	  /**< TLS or QUIC ClientHello server_name */
	char tls_alpn[CAPTURE_ALPN_LEN];  /**< ServerHello's ALPN when seen, else the
					      ClientHello's first */
	char ja4[CAPTURE_JA4_LEN];	  /**< FoxIO JA4 of the ClientHello */
	char ja3[CAPTURE_JA3_LEN];	  /**< JA3 MD5 (hex) of the ClientHello */
	char dns_qname[CAPTURE_NAME_LEN]; /**< first question's name, no trailing dot */
	char http_method[CAPTURE_HTTP_METHOD_LEN];
	char http_host[CAPTURE_NAME_LEN];
	char http_url[CAPTURE_NAME_LEN]; /**< request target as sent (path, query) */
	char http_user_agent[CAPTURE_NAME_LEN];
	char src_country[4]; /**< ISO 3166 alpha-2 of src_ip (GeoIP city/country database) */
	char dst_country[4];
	char src_as_org[CAPTURE_AS_ORG_LEN];
	char dst_as_org[CAPTURE_AS_ORG_LEN];
};

#define CAPTURE_COMMUNITY_ID_LEN 32 /**< "1:" + base64 of SHA-1 + NUL, rounded */

/**
 * Community ID v1 (corelight community-id-spec) of @f's innermost tuple,
 * written NUL-terminated into @out. @return 0, or -EINVAL (not IPv4/IPv6).
 */
CAPTURE_API int capture_flow_community_id(const struct capture_flow *f, uint16_t seed,
					  char out[CAPTURE_COMMUNITY_ID_LEN]);

/** A flow key for lookups; direction does not matter. */
struct capture_flow_key {
	uint8_t ip_version;
	uint8_t proto;
	uint16_t vlan;
	uint8_t src_ip[16];
	uint8_t dst_ip[16];
	uint16_t src_port;
	uint16_t dst_port;   /**< ICMP/ICMPv6: src_port the type and dst_port the code,
			      or both the record's ports (type << 8 | code) */
	uint8_t tunnel_type; /**< enum capture_tunnel; 0: not tunnelled */
	uint8_t pad[3];
	uint32_t tunnel_id; /**< as in capture_flow (0 for GTP-U: not in the key) */
	uint32_t interface; /**< pcapng interface id; ignored for live sessions */
};

/**
 * Enable flow metering with @cfg (NULL: defaults). Before capture_start, or
 * during a session (then the new settings apply to the next start).
 */
CAPTURE_API int capture_flow_enable(struct capture *c, const struct capture_flow_config *cfg);

/**
 * Batch callback for expired flow records, called on the export thread.
 * @recs lives for the call only.
 */
typedef void (*capture_flow_fn)(void *ctx, const struct capture_flow *recs, size_t n);

/** Set the callback that receives every expired flow record. Before start. */
CAPTURE_API int capture_set_flow_callback(struct capture *c, capture_flow_fn fn, void *ctx);

/**
 * Find the active flow matching @key (either direction).
 * @return 0 and *out filled, or -CAPTURE_E_NOT_FOUND. Thread-safe against the
 * workers (served by them between bursts; never stalls the packet path).
 */
CAPTURE_API int capture_flow_lookup(struct capture *c, const struct capture_flow_key *key,
				    struct capture_flow *out);

enum capture_flows_flags {
	CAPTURE_FLOWS_ACTIVE = 1u << 0, /**< flows still in the tables */
	CAPTURE_FLOWS_ENDED = 1u << 1,	/**< flows in the recently-ended ring */
};

/**
 * Copy up to @max flows into @out (active ones, ended ones or both by @flags).
 * @return number copied (>= 0), or a negative error. When @total is not NULL
 * it receives the number of matching flows that exist (may exceed @max).
 */
CAPTURE_API int64_t capture_flow_get_all(struct capture *c, struct capture_flow *out, size_t max,
					 unsigned flags, uint64_t *total);

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

enum capture_state {
	CAPTURE_STATE_IDLE = 0, /**< initialised, not started */
	CAPTURE_STATE_RUNNING = 1,
	CAPTURE_STATE_DONE = 2, /**< offline input fully read and flushed */
	CAPTURE_STATE_STOPPED = 3,
	CAPTURE_STATE_FAILED = 4,
};

/**
 * Open the backend, verify the configured artifacts, start the workers and
 * the export thread. Returns at once; capture runs in the background.
 */
CAPTURE_API int capture_start(struct capture *c);

/**
 * Wait up to @timeout_ms (-1: forever) for the session to finish.
 * @return enum capture_state (RUNNING if still going), or a negative error
 * when a worker failed (details in capture_last_error()).
 * Thread-safe with respect to capture_get_stats and the flow readers.
 */
CAPTURE_API int capture_poll(struct capture *c, int timeout_ms);

/**
 * Stop the session. Graceful: every live flow is flushed (end_reason
 * shutdown) to every exporter and every file closed valid. Not graceful:
 * live flows are dropped (counted). Safe from a signal-handling thread,
 * not from a signal handler (use capture_request_stop there).
 */
CAPTURE_API int capture_stop(struct capture *c, bool graceful);

/** Async-signal-safe: ask the workers to stop; capture_poll then returns. */
CAPTURE_API void capture_request_stop(struct capture *c);

/* ------------------------------------------------------------------------ */
/* Statistics and status                                                    */
/* ------------------------------------------------------------------------ */

/** Reasons a packet is not in any flow. X(NAME, json_name) */
#define CAPTURE_SKIP_REASONS(X)                   \
	X(NON_IP, non_ip)                         \
	X(TRUNCATED, truncated)                   \
	X(MALFORMED, malformed)                   \
	X(UNSUPPORTED_LINK, unsupported_link)     \
	X(FRAGMENT_UNMATCHED, fragment_unmatched) \
	X(FILTERED, filtered)                     \
	X(FLOW_DISABLED, flow_disabled)           \
	X(SAMPLED_OUT, sampled_out)               \
	X(TUNNEL_DEPTH, tunnel_too_deep)

enum capture_skip {
#define CAPTURE_SKIP_ENUM(name, json) CAPTURE_SKIP_##name,
	CAPTURE_SKIP_REASONS(CAPTURE_SKIP_ENUM)
#undef CAPTURE_SKIP_ENUM
	CAPTURE_SKIP_COUNT
};

#define CAPTURE_SKIP_MAX 16 /* room reserved in the stats struct */

/** Name of a skip reason as used in JSON ("non_ip", ...), NULL if out of range. */
CAPTURE_API const char *capture_skip_name(int reason);

struct capture_stats {
	size_t sz;	       /**< sizeof(struct capture_stats) */
	uint64_t packets_read; /**< packets delivered to the engine */
	uint64_t bytes_read;   /**< their wire length */
	uint64_t packets_in_flows;
	uint64_t bytes_in_flows; /**< IP-layer octets */
	uint64_t skipped[CAPTURE_SKIP_MAX];
	uint64_t flows_created;
	uint64_t flows_exported; /**< records that left the tables */
	uint64_t flows_active;
	uint64_t flows_idle; /**< expired by reason ... */
	uint64_t flows_active_timeout;
	uint64_t flows_end;
	uint64_t flows_evicted;
	uint64_t flows_shutdown;
	uint64_t flows_dropped;	     /**< not gracefully stopped: discarded */
	uint64_t export_queue_drops; /**< records lost to a full export queue */
	uint64_t packets_in_dropped_records;
	uint64_t fragments_tracked; /**< first fragments entered in the table */
	uint64_t fragments_matched; /**< later fragments given their ports */
	uint64_t kernel_packets;    /**< live: packets the kernel saw */
	uint64_t kernel_drops;	    /**< live: tp_drops / ps_drop / XDP rx_dropped */
	uint64_t kernel_freeze_q;   /**< live: tp_freeze_q_cnt */
	uint64_t kernel_ifdrops;    /**< live: ps_ifdrop */
	uint64_t xdp_rx_ring_full;
	uint64_t xdp_fill_ring_empty;
	uint64_t writer_packets; /**< packets written by the packet writer */
	uint64_t writer_bytes;
	uint64_t writer_queue_drops; /**< packets lost to a full writer queue */
	uint64_t writer_files;	     /**< files opened (rotations + 1) */
	uint64_t writer_errors;
	uint64_t export_records;	 /**< records taken by exporters (TCP: less those
					      still queued at close, in tcp_queue_drops) */
	uint64_t export_messages;	 /**< NetFlow/IPFIX messages sent */
	uint64_t export_errors;		 /**< send/write failures */
	uint64_t export_not_exportable;	 /**< e.g. IPv6 flows for NetFlow v5 */
	uint64_t export_tcp_queue_drops; /**< IPFIX/TCP records lost over the bound */
	uint64_t ended_ring_records;	 /**< flows in the recently-ended ring */
	uint64_t first_ns;		 /**< first packet time seen */
	uint64_t last_ns;		 /**< last packet time seen */
	uint32_t workers;
	uint32_t pad0;
	/* Kafka and ClickHouse exports, in records: delivered + failed + in_flight +
	 * buffer_drops = the records they took (export_records' share) */
	uint64_t export_delivered;    /**< acknowledged by the broker / server */
	uint64_t export_failed;	      /**< given up: delivery failed or timed out,
					   or still undelivered when the exporter stopped */
	uint64_t export_in_flight;    /**< handed over, not yet acknowledged (gauge) */
	uint64_t export_retries;      /**< ClickHouse: insert requests sent again */
	uint64_t export_buffer_drops; /**< dropped at a full producer queue / insert buffer */
	/* DPDK port counters (rte_eth_stats; 0 on other backends) */
	uint64_t dpdk_ipackets;	 /**< packets the port received into mbufs */
	uint64_t dpdk_imissed;	 /**< dropped by the NIC: RX queue full */
	uint64_t dpdk_rx_nombuf; /**< RX mbuf allocation failures */
	uint64_t dpdk_ierrors;	 /**< erroneous packets received */
	/** outer IP fragments of tunnel packets, metered as the outer flow */
	uint64_t tunnel_fragments;
	/* Application inspection (see capture_flow_config.inspect_off) */
	uint64_t inspect_flows;	    /**< flows whose payload was inspected */
	uint64_t inspect_pool_full; /**< flows left uninspected: no free inspection state */
	uint64_t dpi_flows;	    /**< flows given to nDPI */
	uint64_t dpi_pool_full;	    /**< flows left without nDPI: no free nDPI state */
	uint64_t dpi_identified;    /**< nDPI verdicts naming an application */
	uint64_t
		tcp_reassembly_gaps; /**< TLS/HTTP/DNS streams given up: a gap in the first bytes */
	uint64_t geoip_lookups;	     /**< address lookups in the GeoIP/ASN databases */
	uint64_t inspect_reclaimed;  /**< inspections settled early to make room: pool
					 full, the flow quiet for 2 s */
	/* eBPF backend (0 on others): ebpf_seen = ebpf_metered + the ebpf_up_* +
	 * ebpf_ring_full + ebpf_errors; the handed-up ones are what packets_read counts */
	uint64_t ebpf_seen;	       /**< packets the program saw */
	uint64_t ebpf_metered;	       /**< counted in kernel flow entries */
	uint64_t ebpf_up_non_ip;       /**< handed up: not IPv4/IPv6 after one VLAN tag */
	uint64_t ebpf_up_vlan;	       /**< handed up: a second VLAN tag (QinQ) */
	uint64_t ebpf_up_fragment;     /**< handed up: IP fragments */
	uint64_t ebpf_up_tunnel;       /**< handed up: GRE, IP-in-IP, UDP tunnel ports */
	uint64_t ebpf_up_ext_header;   /**< handed up: IPv6 extension headers not walked */
	uint64_t ebpf_up_malformed;    /**< handed up: truncated or inconsistent headers */
	uint64_t ebpf_up_map_full;     /**< handed up: new flow, kernel map full */
	uint64_t ebpf_up_filter;       /**< handed up: a filter user space applies */
	uint64_t ebpf_ring_full;       /**< lost: the ring buffer to user space was full */
	uint64_t ebpf_errors;	       /**< lost: map or copy errors in the program */
	uint64_t ebpf_harvests;	       /**< kernel map harvests */
	uint64_t ebpf_harvest_ns;      /**< time spent harvesting (map swap + drain) */
	uint64_t ebpf_harvested_flows; /**< flow deltas taken from the kernel map */
};

/**
 * Fill @st (st->sz must be set) with the totals over all workers.
 * Thread-safe; never stops the packet path (relaxed reads).
 */
CAPTURE_API int capture_get_stats(struct capture *c, struct capture_stats *st);

/** Same for one worker (0 .. workers-1). */
CAPTURE_API int capture_get_worker_stats(struct capture *c, unsigned worker,
					 struct capture_stats *st);

/**
 * Write the totals (and per-worker objects when @per_worker) as one JSON
 * object into @buf. Field names are those documented in the README.
 * @return length written (excluding NUL), or -ENOSPC if @len is too small.
 */
CAPTURE_API int capture_stats_json(struct capture *c, char *buf, size_t len, bool per_worker);

struct capture_status {
	size_t sz;		  /**< sizeof(struct capture_status) */
	int state;		  /**< enum capture_state */
	char backend[16];	  /**< backend actually in use */
	char backend_reason[512]; /**< why it was chosen / others passed over */
	char interface[64];
	char pcap_file[256];
	uint64_t start_ns; /**< wall clock at start, 0 if not started */
	uint64_t stop_ns;
	uint32_t workers;
	char tstamp_source[32]; /**< "kernel", "hardware", "file", ... */
	char tstamp_detail[128];
	char xdp_mode[32];    /**< afxdp: "native copy", "generic copy", ... */
	uint64_t input_bytes; /**< offline: size of the input file */
	uint64_t input_done;  /**< offline: bytes of it consumed so far */
};

CAPTURE_API int capture_get_status(struct capture *c, struct capture_status *st);

/* ------------------------------------------------------------------------ */
/* Backends                                                                 */
/* ------------------------------------------------------------------------ */

struct capture_backend_info {
	char name[16]; /**< "afxdp", "afpacket", "pcap", "file", ... */
	bool available;
	int preference;	  /**< higher is tried first by auto */
	char reason[256]; /**< why (un)available */
};

/**
 * List every backend the library knows of, available or not, with the reason.
 * @return number of entries (may exceed @max; only @max are written).
 */
CAPTURE_API int capture_list_backends(struct capture_backend_info *out, size_t max);

/* ------------------------------------------------------------------------ */
/* Export                                                                   */
/* ------------------------------------------------------------------------ */

enum capture_transport {
	CAPTURE_TRANSPORT_UDP = 0,
	CAPTURE_TRANSPORT_TCP = 1,
	CAPTURE_TRANSPORT_FILE = 2, /**< IPFIX file, RFC 5655 */
};

struct capture_netflow_config {
	size_t sz;		       /**< sizeof(struct capture_netflow_config) */
	uint16_t version;	       /**< 5, 9 or 10 (IPFIX) */
	uint8_t transport;	       /**< enum capture_transport */
	bool uniflow;		       /**< IPFIX: one record per direction */
	const char *collector;	       /**< host name or address (v4 or v6) */
	uint16_t port;		       /**< 0: 2055 (v5/v9) or 4739 (IPFIX) */
	const char *path;	       /**< FILE transport: output file */
	uint32_t template_refresh_sec; /**< 0: 60 */
	uint32_t observation_domain;   /**< IPFIX domain / v9 source id */
	uint32_t mtu;		       /**< max message size, 0: 1400 */
	bool nanoseconds;	       /**< IPFIX: flowStart/EndNanoseconds */
	uint32_t tcp_queue_records;    /**< TCP: records kept across an outage, 0: 65536 */
	/* Record contents and UDP pacing, as in struct capture_export_opts
	 * (a caller built before them passes a smaller sz: all 0, the defaults). */
	uint32_t fields;       /**< CAPTURE_FIELD_* bits added to the default record */
	uint32_t ipfix_pen;    /**< enterprise number of jcap's own IPFIX elements */
	uint64_t rate_records; /**< UDP: records/s at most (0: default, as export opts) */
	uint64_t rate_bits;    /**< UDP: bits/s at most; 0: no limit */
	bool sample_scale;     /**< packet/octet counts times the sampling interval */
};

/** Add a NetFlow/IPFIX exporter. Before or during a session. */
CAPTURE_API int capture_netflow_enable(struct capture *c, const struct capture_netflow_config *cfg);

struct capture_export_opts {
	size_t sz;
	uint32_t observation_domain;
	uint32_t template_refresh_sec;
	uint32_t mtu;
	uint64_t store_max_rows;    /**< sqlite retention by rows, 0: none */
	uint32_t store_max_age_sec; /**< sqlite retention by age, 0: none */
	bool uniflow;
	/** Kafka and ClickHouse settings, one "KEY=VALUE" a line: "kafka.P=V" sets
	 *  librdkafka property P, "clickhouse.K=V" a ClickHouse one (see
	 *  docs/SCALING.md); each exporter takes the lines of its own prefix.
	 *  NULL: none. Copied by capture_export_add. */
	const char *props;
	/* IPFIX / NetFlow v9 record contents and UDP pacing (docs/EXPORT.md). */
	uint32_t fields;       /**< CAPTURE_FIELD_* bits added to the default
				     records; 0: the default record */
	uint32_t ipfix_pen;    /**< enterprise number of jcap's own IPFIX elements
				     (CAPTURE_FIELD_TUNNEL, _COMMUNITY_ID, _APP, _TCP,
				     _GEO); 0: none */
	uint64_t rate_records; /**< UDP: records/s at most; 0: default (file input
				     without rate_bits CAPTURE_EXPORT_FILE_RATE,
				     live unpaced);
				     CAPTURE_EXPORT_UNPACED: never paced */
	uint64_t rate_bits;    /**< UDP: bits/s of datagrams at most; 0: no limit */
	bool sample_scale;     /**< packet/octet counts times the sampling interval */
};

/** Optional record fields (capture_export_opts.fields). */
enum capture_export_field {
	CAPTURE_FIELD_MAC = 1u << 0,	      /**< sourceMacAddress, destinationMacAddress */
	CAPTURE_FIELD_VLAN = 1u << 1,	      /**< dot1qCustomerVlanId (QinQ inner) */
	CAPTURE_FIELD_MPLS = 1u << 2,	      /**< mplsTopLabelStackSection 1..3 */
	CAPTURE_FIELD_TUNNEL = 1u << 3,	      /**< layer2SegmentId; IPFIX: tunnel type,
						   id, outer addresses (PEN) */
	CAPTURE_FIELD_TTL = 1u << 4,	      /**< minimumTTL, maximumTTL */
	CAPTURE_FIELD_TOS = 1u << 5,	      /**< ipClassOfService */
	CAPTURE_FIELD_INTERFACE = 1u << 6,    /**< ingressInterface (always carried) */
	CAPTURE_FIELD_COMMUNITY_ID = 1u << 7, /**< IPFIX only (PEN) */
	CAPTURE_FIELD_APP = 1u << 8,	      /**< applicationId/Name, HTTP (IANA); TLS,
						   DNS, category (PEN) */
	CAPTURE_FIELD_TCP = 1u << 9,	      /**< TCP health, RTT (IPFIX only, PEN) */
	CAPTURE_FIELD_PAYLOAD = 1u << 10,     /**< transportOctetDeltaCount */
	CAPTURE_FIELD_GEO = 1u << 11,	      /**< bgpSource/DestinationAsNumber;
						   IPFIX: country, AS org (PEN) */
	CAPTURE_FIELD_ALL = 0xfff,
};

#define CAPTURE_EXPORT_FILE_RATE 20000 /**< records/s: UDP default for file input */
#define CAPTURE_EXPORT_UNPACED UINT64_MAX

/**
 * Parse a field list: names separated by commas (mac, vlan, mpls, tunnel, ttl,
 * tos, interface, community_id, app, tcp, payload, geo, all, none), each optionally prefixed by '+' (add)
 * or '-' (remove), starting from @fields' value. @return 0, or -CAPTURE_E_CONFIG
 * for an unknown name (@fields unchanged).
 */
CAPTURE_API int capture_export_fields_parse(const char *list, uint32_t *fields);

/**
 * Add an exporter from a target string:
 *   ipfix://HOST:PORT  ipfix+tcp://HOST:PORT  ipfix-file:PATH
 *   netflow9://HOST:PORT  netflow5://HOST:PORT  json:PATH (json:- = stdout)
 *   sqlite:PATH
 *   kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?format=json&key=flow|community_id&...]
 *   clickhouse://HOST[:PORT]/DB.TABLE[?batch=N&flush_ms=M&create=1&...]
 * IPv6 hosts in brackets: ipfix://[::1]:4739. A malformed target fails with
 * -CAPTURE_E_TARGET and capture_last_error() naming it. @opts may be NULL.
 */
CAPTURE_API int capture_export_add(struct capture *c, const char *target,
				   const struct capture_export_opts *opts);

/* ------------------------------------------------------------------------ */
/* Packet storage and encryption at rest                                    */
/* ------------------------------------------------------------------------ */

enum capture_pcap_format {
	CAPTURE_PCAP_FORMAT_PCAP = 0,
	CAPTURE_PCAP_FORMAT_PCAPNG = 1,
};

struct capture_pcap_out_config {
	size_t sz;		 /**< sizeof(struct capture_pcap_out_config) */
	const char *dir;	 /**< output directory (holds only captures) */
	uint8_t format;		 /**< enum capture_pcap_format */
	uint64_t rotate_bytes;	 /**< 0: no size rotation */
	uint32_t rotate_seconds; /**< 0: no time rotation */
	uint32_t max_files;	 /**< 0: keep all */
	uint32_t snaplen;	 /**< 0: whole packets */
	const char *filter;	 /**< only packets matching, NULL: all */
	uint32_t queue_packets;	 /**< writer queue per worker, 0: 65536 */
};

/** Write captured packets to rotating files. Before capture_start. */
CAPTURE_API int capture_pcap_out_enable(struct capture *c,
					const struct capture_pcap_out_config *cfg);

enum capture_cipher {
	CAPTURE_CIPHER_AES_256_GCM = 0,
	CAPTURE_CIPHER_AES_128_GCM = 1,
	CAPTURE_CIPHER_CHACHA20_POLY1305 = 2,
};

/** The cipher's name ("aes-256-gcm", "aes-128-gcm", "chacha20-poly1305"),
 *  or NULL for an unknown id. */
CAPTURE_API const char *capture_cipher_name(int cipher);
/** The enum capture_cipher for @name, or -CAPTURE_E_CONFIG. */
CAPTURE_API int capture_cipher_from_name(const char *name);

struct capture_encryption_config {
	size_t sz;	      /**< sizeof(struct capture_encryption_config) */
	const char *key_file; /**< 32 raw bytes or 64 hex digits */
	uint8_t cipher;	      /**< enum capture_cipher */
};

/** Encrypt everything the packet writer stores. The key is never logged. */
CAPTURE_API int capture_set_encryption(struct capture *c,
				       const struct capture_encryption_config *cfg);

/**
 * Decrypt an encrypted capture @in into @out (byte-identical to what was
 * written). Wrong key -> -CAPTURE_E_WRONG_KEY, damaged/tampered/truncated ->
 * -CAPTURE_E_AUTH or -CAPTURE_E_TRUNCATED; on failure @out is removed.
 * @err (may be NULL) receives a one-line explanation. Thread-safe.
 */
CAPTURE_API int capture_decrypt_file(const char *key_file, const char *in, const char *out,
				     char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Firmware and program integrity                                           */
/* ------------------------------------------------------------------------ */

enum capture_verify_result {
	CAPTURE_VERIFY_VALID = 0,
	CAPTURE_VERIFY_INVALID_SIGNATURE = 1,
	CAPTURE_VERIFY_WRONG_KEY_TYPE = 2,
	CAPTURE_VERIFY_UNREADABLE = 3,
	CAPTURE_VERIFY_WEAK_KEY = 4, /**< RSA under 2048 bits */
};

/** Name of a verify result ("valid", "invalid_signature", ...). */
CAPTURE_API const char *capture_verify_result_name(int result);

enum capture_sig_padding {
	CAPTURE_SIG_PKCS1 = 0, /**< RSASSA-PKCS1-v1_5 (RSA default) */
	CAPTURE_SIG_PSS = 1,   /**< RSASSA-PSS */
	CAPTURE_SIG_AUTO = 2,  /**< try PKCS#1 v1.5, then PSS */
};

struct capture_verify_opts {
	size_t sz;
	const char *digest; /**< "sha256" (NULL), "sha384", "sha512" */
	uint8_t padding;    /**< enum capture_sig_padding (RSA only) */
};

/**
 * Verify the detached signature @signature over file @image with the PEM
 * public key @public_key. @opts may be NULL.
 * @return enum capture_verify_result (>= 0), or a negative error for
 * invalid arguments. @detail (may be NULL) receives a one-line explanation.
 * Thread-safe.
 */
CAPTURE_API int capture_verify_firmware(const char *image, const char *signature,
					const char *public_key,
					const struct capture_verify_opts *opts, char *detail,
					size_t detail_len);

/**
 * Add an artifact (XDP object, firmware image, plugin) that capture_start
 * verifies first; a failure refuses to start and names the artifact.
 */
CAPTURE_API int capture_add_artifact(struct capture *c, const char *image, const char *signature,
				     const char *public_key,
				     const struct capture_verify_opts *opts);

/* ------------------------------------------------------------------------ */
/* Flow store queries                                                       */
/* ------------------------------------------------------------------------ */

struct capture_query {
	size_t sz;		  /**< sizeof(struct capture_query) */
	uint64_t since_ns;	  /**< flows with last_ns >= since, 0: any */
	uint64_t until_ns;	  /**< flows with first_ns <= until, 0: any */
	const char *ip;		  /**< address or CIDR, either side, NULL: any */
	int32_t port;		  /**< either side, -1: any */
	int32_t proto;		  /**< -1: any */
	uint64_t limit;		  /**< 0: no limit */
	const char *community_id; /**< "1:..." exactly, NULL: any */
	const char *mac;	  /**< "aa:bb:cc:dd:ee:ff", either side, NULL: any */
	uint32_t tunnel_id;	  /**< with has_tunnel_id: tunnel_id or rev_tunnel_id */
	bool has_tunnel_id;
	/* Application fields: names are SQLite GLOB patterns (*, ?, [...]);
	 * app is case-sensitive (nDPI's names), sni and dns_name compare
	 * ASCII case-insensitively (DNS names are). NULL: any. */
	const char *app;      /**< app */
	const char *sni;      /**< tls_sni */
	const char *dns_name; /**< dns_qname */
	const char *country;  /**< "DE": src_country or dst_country (any case) */
	uint32_t asn;	      /**< with has_asn: src_asn or dst_asn */
	bool has_asn;
};

/** Parse "aa:bb:cc:dd:ee:ff" (or '-' between the bytes) into @mac: 0 or -EINVAL. */
CAPTURE_API int capture_mac_parse(const char *s, uint8_t mac[6]);

/**
 * Run @q against the SQLite flow store @db, passing matching records to @fn
 * in batches, newest first. @return number of records, or a negative error
 * (@err, may be NULL, says why). Thread-safe.
 */
CAPTURE_API int64_t capture_store_query(const char *db, const struct capture_query *q,
					capture_flow_fn fn, void *ctx, char *err, size_t errlen);

/** What a report's rows are ordered by, largest first (time bins: by time). */
enum capture_report_order {
	CAPTURE_REPORT_BY_FLOWS = 0,
	CAPTURE_REPORT_BY_PACKETS = 1,
	CAPTURE_REPORT_BY_BYTES = 2,
};

#define CAPTURE_REPORT_MAX_KEYS 4

/** nfdump-like statistics over a flow store, computed by SQLite. */
struct capture_report {
	size_t sz;	  /**< sizeof(struct capture_report) */
	const char *keys; /**< comma-separated fields to group by: src_ip, dst_ip,
				src_port, dst_port, proto, ip_version, vlan,
				end_reason, community_id, app, app_category,
				tls_sni, dns_qname, http_host, conn_state,
				src_country, dst_country, src_asn, dst_asn;
				country and asn group on either end (a flow
				counts under both); NULL or "": no grouping */
	uint64_t bin_ns;  /**< > 0: also group by time bins of this length
				(a flow counts in the bin of its first packet) */
	uint8_t order;	  /**< enum capture_report_order */
	uint64_t limit;	  /**< rows, 0: all */
};

/** One row of a report; lives for the callback only. */
struct capture_report_row {
	unsigned nkeys;
	const char *key_name[CAPTURE_REPORT_MAX_KEYS];
	char key_text[CAPTURE_REPORT_MAX_KEYS][48]; /**< address, number or name */
	bool key_numeric[CAPTURE_REPORT_MAX_KEYS];  /**< key_text is a number */
	uint64_t bin_ns;			    /**< start of the bin (bin_ns > 0) */
	uint64_t flows;
	uint64_t packets; /**< both directions */
	uint64_t bytes;	  /**< both directions, IP-layer octets */
	uint64_t first_ns, last_ns;
};

typedef void (*capture_report_fn)(void *ctx, const struct capture_report_row *row);

/**
 * Aggregate the flows of @db that match @q (its limit is ignored) as @r
 * says: one row per group, passed to @fn in order. @return the number of
 * rows, or a negative error (-EINVAL for an unknown key, @err says why).
 * Thread-safe.
 */
CAPTURE_API int64_t capture_store_report(const char *db, const struct capture_query *q,
					 const struct capture_report *r, capture_report_fn fn,
					 void *ctx, char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Utilities                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Size of a buffer that holds any record capture_flow_to_json() writes, NUL
 * included: every field present, every string byte escaped as \u00XX (the
 * longest possible record is about 7 KiB; the rest is room to grow).
 */
#define CAPTURE_FLOW_JSON_MAX 8192

/**
 * Format @f as one JSON object (the documented flow record, no newline).
 * @return length (excluding NUL) or -ENOSPC. Thread-safe.
 */
CAPTURE_API int capture_flow_to_json(const struct capture_flow *f, char *buf, size_t len);

/** Library version string "MAJOR.MINOR.PATCH". */
CAPTURE_API const char *capture_version(void);

/**
 * What this build holds, one item a line: "exporters PREFIX...", then
 * "library NAME VERSION" for each library it runs on. Writes at most @len
 * bytes (NUL-terminated when @len > 0). @return the length the whole text
 * needs (as snprintf does).
 */
CAPTURE_API int capture_build_info(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PACKET_CAPTURE_H */
