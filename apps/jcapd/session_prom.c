/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd's GET /metrics: the Prometheus text exposition (format 0.0.4) of the
 * engine's counters, per worker and in total, the rates, the session and the
 * daemon's own reply counts. Counters are read under life only, so a scrape
 * never waits for a stop or a flow scan.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "util/strbuf.h"

/* Label values: backslash, double quote and newline escaped (exposition 0.0.4). */
static void label_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 3 < outlen; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static void family(struct pc_strbuf *b, const char *name, const char *type, const char *help)
{
	pc_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define WFIELD(field) offsetof(struct capture_stats, field)

/* One counter family read from a struct capture_stats field (uint64_t at @off). */
struct metric {
	const char *name;
	const char *type;
	const char *help;
	size_t off;
};

static uint64_t fld(const struct capture_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

static const struct metric worker_metrics[] = {
	{ "jcap_packets_total", "counter", "Packets delivered to the engine.",
	  WFIELD(packets_read) },
	{ "jcap_bytes_total", "counter", "Wire bytes of the packets delivered to the engine.",
	  WFIELD(bytes_read) },
	{ "jcap_flow_packets_total", "counter", "Packets counted in flows.",
	  WFIELD(packets_in_flows) },
	{ "jcap_flow_bytes_total", "counter", "IP-layer bytes counted in flows.",
	  WFIELD(bytes_in_flows) },
	{ "jcap_flows_created_total", "counter", "Flows created in the flow table.",
	  WFIELD(flows_created) },
	{ "jcap_flows_exported_total", "counter", "Flow records that left the flow table.",
	  WFIELD(flows_exported) },
	{ "jcap_flows_active", "gauge", "Flows currently in the flow table.",
	  WFIELD(flows_active) },
};

static const struct metric total_metrics[] = {
	{ "jcap_flows_dropped_total", "counter", "Live flows discarded by a non-graceful stop.",
	  WFIELD(flows_dropped) },
	{ "jcap_export_queue_drops_total", "counter", "Flow records lost to a full export queue.",
	  WFIELD(export_queue_drops) },
	{ "jcap_kernel_packets_total", "counter", "Packets the kernel saw (live capture).",
	  WFIELD(kernel_packets) },
	{ "jcap_kernel_drops_total", "counter",
	  "Packets the kernel dropped before the engine read them.", WFIELD(kernel_drops) },
	{ "jcap_kernel_ifdrops_total", "counter", "Packets dropped by the interface.",
	  WFIELD(kernel_ifdrops) },
	{ "jcap_kernel_freeze_queue_total", "counter", "TPACKET_V3 freeze-queue events.",
	  WFIELD(kernel_freeze_q) },
	/* -b ebpf: seen = metered + handed up (every reason) + ring_full + errors */
	{ "jcap_ebpf_seen_total", "counter", "eBPF: packets the kernel program saw.",
	  WFIELD(ebpf_seen) },
	{ "jcap_ebpf_metered_total", "counter", "eBPF: packets counted in kernel flow entries.",
	  WFIELD(ebpf_metered) },
	{ "jcap_ebpf_up_non_ip_total", "counter", "eBPF: handed up, not IPv4/IPv6.",
	  WFIELD(ebpf_up_non_ip) },
	{ "jcap_ebpf_up_vlan_total", "counter", "eBPF: handed up, a second VLAN tag (QinQ).",
	  WFIELD(ebpf_up_vlan) },
	{ "jcap_ebpf_up_fragment_total", "counter", "eBPF: handed up, IP fragments.",
	  WFIELD(ebpf_up_fragment) },
	{ "jcap_ebpf_up_tunnel_total", "counter", "eBPF: handed up, tunnel packets.",
	  WFIELD(ebpf_up_tunnel) },
	{ "jcap_ebpf_up_ext_header_total", "counter",
	  "eBPF: handed up, IPv6 extension headers not walked.", WFIELD(ebpf_up_ext_header) },
	{ "jcap_ebpf_up_malformed_total", "counter",
	  "eBPF: handed up, truncated or inconsistent headers.", WFIELD(ebpf_up_malformed) },
	{ "jcap_ebpf_up_map_full_total", "counter", "eBPF: handed up, kernel flow map full.",
	  WFIELD(ebpf_up_map_full) },
	{ "jcap_ebpf_up_filter_total", "counter",
	  "eBPF: handed up, a filter applied in user space.", WFIELD(ebpf_up_filter) },
	{ "jcap_ebpf_ring_full_total", "counter", "eBPF: lost, the ring buffer was full.",
	  WFIELD(ebpf_ring_full) },
	{ "jcap_ebpf_errors_total", "counter", "eBPF: lost, map or copy errors.",
	  WFIELD(ebpf_errors) },
	{ "jcap_ebpf_harvests_total", "counter", "eBPF: kernel flow map harvests.",
	  WFIELD(ebpf_harvests) },
	{ "jcap_ebpf_harvest_nanoseconds_total", "counter",
	  "eBPF: time spent harvesting, in nanoseconds.", WFIELD(ebpf_harvest_ns) },
	{ "jcap_ebpf_harvested_flows_total", "counter",
	  "eBPF: flow deltas taken from the kernel map.", WFIELD(ebpf_harvested_flows) },
	{ "jcap_xdp_rx_ring_full_total", "counter", "AF_XDP receive ring full events.",
	  WFIELD(xdp_rx_ring_full) },
	{ "jcap_xdp_fill_ring_empty_total", "counter", "AF_XDP fill ring empty events.",
	  WFIELD(xdp_fill_ring_empty) },
	{ "jcap_dpdk_ipackets_total", "counter", "DPDK port: packets received (rte_eth_stats).",
	  WFIELD(dpdk_ipackets) },
	{ "jcap_dpdk_imissed_total", "counter", "DPDK port: packets dropped, RX queue full.",
	  WFIELD(dpdk_imissed) },
	{ "jcap_dpdk_rx_nombuf_total", "counter", "DPDK port: RX mbuf allocation failures.",
	  WFIELD(dpdk_rx_nombuf) },
	{ "jcap_dpdk_ierrors_total", "counter", "DPDK port: erroneous packets received.",
	  WFIELD(dpdk_ierrors) },
	{ "jcap_writer_packets_total", "counter", "Packets written to capture files.",
	  WFIELD(writer_packets) },
	{ "jcap_writer_bytes_total", "counter", "Bytes written to capture files.",
	  WFIELD(writer_bytes) },
	{ "jcap_writer_queue_drops_total", "counter", "Packets lost to a full writer queue.",
	  WFIELD(writer_queue_drops) },
	{ "jcap_writer_files_total", "counter", "Capture files opened.", WFIELD(writer_files) },
	{ "jcap_writer_errors_total", "counter", "Capture file write errors.",
	  WFIELD(writer_errors) },
	{ "jcap_export_records_total", "counter", "Flow records handed to exporters.",
	  WFIELD(export_records) },
	{ "jcap_export_messages_total", "counter", "NetFlow/IPFIX messages sent.",
	  WFIELD(export_messages) },
	{ "jcap_export_errors_total", "counter", "Exporter send or write failures.",
	  WFIELD(export_errors) },
	{ "jcap_export_not_exportable_total", "counter",
	  "Records an exporter cannot carry (IPv6 for NetFlow v5).",
	  WFIELD(export_not_exportable) },
	{ "jcap_export_tcp_queue_drops_total", "counter",
	  "IPFIX/TCP records lost over the outage bound.", WFIELD(export_tcp_queue_drops) },
	{ "jcap_export_delivered_total", "counter",
	  "Kafka/ClickHouse records acknowledged by the broker or server.",
	  WFIELD(export_delivered) },
	{ "jcap_export_failed_total", "counter",
	  "Kafka/ClickHouse records given up on (failed, timed out, undelivered at stop).",
	  WFIELD(export_failed) },
	{ "jcap_export_in_flight", "gauge", "Kafka/ClickHouse records not yet acknowledged.",
	  WFIELD(export_in_flight) },
	{ "jcap_export_retries_total", "counter", "ClickHouse insert requests sent again.",
	  WFIELD(export_retries) },
	{ "jcap_export_buffer_drops_total", "counter",
	  "Kafka/ClickHouse records dropped at a full producer queue or insert buffer.",
	  WFIELD(export_buffer_drops) },
	{ "jcap_fragments_tracked_total", "counter", "First fragments entered in the table.",
	  WFIELD(fragments_tracked) },
	{ "jcap_fragments_matched_total", "counter", "Later fragments given their ports.",
	  WFIELD(fragments_matched) },
	{ "jcap_tunnel_fragments_total", "counter",
	  "Outer fragments of tunnel packets, metered as the outer flow.",
	  WFIELD(tunnel_fragments) },
	{ "jcap_inspect_flows_total", "counter", "Flows whose first packets were inspected.",
	  WFIELD(inspect_flows) },
	{ "jcap_inspect_pool_full_total", "counter",
	  "Flows left uninspected: no free inspection state.", WFIELD(inspect_pool_full) },
	{ "jcap_dpi_flows_total", "counter", "Flows given to nDPI.", WFIELD(dpi_flows) },
	{ "jcap_dpi_pool_full_total", "counter", "Flows left without nDPI: no free nDPI state.",
	  WFIELD(dpi_pool_full) },
	{ "jcap_dpi_identified_total", "counter", "nDPI verdicts naming an application.",
	  WFIELD(dpi_identified) },
	{ "jcap_tcp_reassembly_gaps_total", "counter",
	  "TCP streams whose first bytes had a gap: TLS/HTTP/DNS given up.",
	  WFIELD(tcp_reassembly_gaps) },
	{ "jcap_inspect_reclaimed_total", "counter",
	  "Inspections settled early to make room (pool full, flow quiet for 2 s).",
	  WFIELD(inspect_reclaimed) },
	{ "jcap_geoip_lookups_total", "counter",
	  "Address lookups in the GeoIP/ASN databases (export thread).", WFIELD(geoip_lookups) },
	{ "jcap_ended_ring_records", "gauge", "Flows in the recently-ended ring.",
	  WFIELD(ended_ring_records) },
};

static const char *const expire_names[] = { "idle", "active", "end", "evicted", "shutdown" };
static const size_t expire_offs[] = { WFIELD(flows_idle), WFIELD(flows_active_timeout),
				      WFIELD(flows_end), WFIELD(flows_evicted),
				      WFIELD(flows_shutdown) };

/* Every worker's counters and rates, one family at a time. */
static void put_workers(struct pc_strbuf *b, const struct capture_stats *ws, unsigned nw)
{
	double pps, bps, win;
	unsigned w;
	size_t i;

	for (i = 0; i < sizeof(worker_metrics) / sizeof(worker_metrics[0]); i++) {
		family(b, worker_metrics[i].name, worker_metrics[i].type, worker_metrics[i].help);
		for (w = 0; w < nw; w++)
			pc_strbuf_printf(b, "%s{worker=\"%u\"} %llu\n", worker_metrics[i].name, w,
					 (unsigned long long)fld(&ws[w], worker_metrics[i].off));
	}
	family(b, "jcap_packets_skipped_total", "counter",
	       "Packets in no flow, by worker and reason.");
	for (w = 0; w < nw; w++)
		for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
			pc_strbuf_printf(
				b, "jcap_packets_skipped_total{worker=\"%u\",reason=\"%s\"} %llu\n",
				w, capture_skip_name((int)i), (unsigned long long)ws[w].skipped[i]);
	family(b, "jcap_flows_expired_total", "counter",
	       "Flows that left the table, by worker and end reason.");
	for (w = 0; w < nw; w++)
		for (i = 0; i < sizeof(expire_names) / sizeof(expire_names[0]); i++)
			pc_strbuf_printf(
				b, "jcap_flows_expired_total{worker=\"%u\",reason=\"%s\"} %llu\n",
				w, expire_names[i],
				(unsigned long long)fld(&ws[w], expire_offs[i]));
	family(b, "jcap_packets_per_second", "gauge",
	       "Packet rate over the rate window, by worker.");
	for (w = 0; w < nw; w++) {
		rates_get(w, &pps, &bps, &win);
		pc_strbuf_printf(b, "jcap_packets_per_second{worker=\"%u\"} %.3f\n", w, pps);
	}
	family(b, "jcap_bits_per_second", "gauge",
	       "Wire bit rate over the rate window, by worker.");
	for (w = 0; w < nw; w++) {
		rates_get(w, &pps, &bps, &win);
		pc_strbuf_printf(b, "jcap_bits_per_second{worker=\"%u\"} %.3f\n", w, bps);
	}
}

static void put_totals(struct pc_strbuf *b, const struct capture_stats *tot)
{
	size_t i;

	for (i = 0; i < sizeof(total_metrics) / sizeof(total_metrics[0]); i++) {
		family(b, total_metrics[i].name, total_metrics[i].type, total_metrics[i].help);
		pc_strbuf_printf(b, "%s %llu\n", total_metrics[i].name,
				 (unsigned long long)fld(tot, total_metrics[i].off));
	}
}

/* The session description: ctl may be busy with a stop; never wait for it here. */
static void put_session(struct pc_strbuf *b, unsigned workers)
{
	struct capture_status cs = { .sz = sizeof(cs) };
	const char *state = g_sess.cached_state;
	char e1[96], e2[160];

	pthread_rwlock_rdlock(&g_sess.life);
	session_get_status(&cs);
	pthread_rwlock_unlock(&g_sess.life);
	family(b, "jcap_capture_running", "gauge", "1 while a capture session runs.");
	pc_strbuf_printf(b, "jcap_capture_running %d\n", strcmp(state, "running") == 0);
	family(b, "jcap_capture_info", "gauge", "The session: state, backend and interface.");
	label_escape(cs.backend, e1, sizeof(e1));
	label_escape(cs.interface, e2, sizeof(e2));
	pc_strbuf_printf(b, "jcap_capture_info{state=\"%s\",backend=\"%s\",interface=\"%s\"} 1\n",
			 state, e1, e2);
	family(b, "jcap_capture_workers", "gauge", "Worker threads of the session.");
	pc_strbuf_printf(b, "jcap_capture_workers %u\n", workers);
	family(b, "jcap_capture_start_time_seconds", "gauge",
	       "Unix time the session started, 0 if none.");
	pc_strbuf_printf(b, "jcap_capture_start_time_seconds %.3f\n", (double)cs.start_ns / 1e9);
}

static void put_daemon(struct pc_strbuf *b)
{
	int codes[16];
	uint64_t counts[16];
	size_t i, nc;

	family(b, "jcapd_http_responses_total", "counter",
	       "Replies sent by the daemon, by status code (\"other\": any other).");
	nc = routes_status_counts(codes, counts, 16);
	for (i = 0; i < nc; i++) {
		if (codes[i])
			pc_strbuf_printf(b, "jcapd_http_responses_total{code=\"%d\"} %llu\n",
					 codes[i], (unsigned long long)counts[i]);
		else
			pc_strbuf_printf(b, "jcapd_http_responses_total{code=\"other\"} %llu\n",
					 (unsigned long long)counts[i]);
	}
	family(b, "jcapd_build_info", "gauge", "Library version jcapd runs on.");
	pc_strbuf_printf(b, "jcapd_build_info{version=\"%s\"} 1\n", capture_version());
}

int session_prometheus(struct resp *rs)
{
	/* the workers' stats live off the stack, guarded by ws_lock (taken before life) */
	static struct capture_stats ws[SESSION_MAX_WORKERS];
	static pthread_mutex_t ws_lock = PTHREAD_MUTEX_INITIALIZER;
	struct capture_stats tot = { .sz = sizeof(tot) };
	struct pc_strbuf b;
	unsigned w, nw = 0;
	bool have;

	pc_strbuf_heap(&b);
	pthread_mutex_lock(&ws_lock);
	pthread_rwlock_rdlock(&g_sess.life);
	have = g_sess.c && capture_get_stats(g_sess.c, &tot) == 0;
	if (have) {
		nw = tot.workers > SESSION_MAX_WORKERS ? SESSION_MAX_WORKERS : tot.workers;
		for (w = 0; w < nw; w++) {
			memset(&ws[w], 0, sizeof(ws[w]));
			ws[w].sz = sizeof(ws[w]);
			capture_get_worker_stats(g_sess.c, w, &ws[w]);
		}
	} else {
		memset(&tot, 0, sizeof(tot));
	}
	pthread_rwlock_unlock(&g_sess.life);
	put_workers(&b, ws, nw);
	pthread_mutex_unlock(&ws_lock);
	put_totals(&b, &tot);
	put_session(&b, have ? tot.workers : 0);
	put_daemon(&b);
	return resp_strbuf(rs, &b, "text/plain; version=0.0.4; charset=utf-8");
}
