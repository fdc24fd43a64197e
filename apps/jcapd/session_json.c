/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd's JSON views of the session: /status (what runs, since when, on which
 * backend; under ctl) and /metrics (the engine's counters, total and per
 * worker, with rates; under life only, so a read never waits for a stop).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "session.h"
#include "util/clock.h"

/* ISO 8601 UTC with milliseconds; "" for 0. */
static void iso_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char base[32];

	if (!ns || !gmtime_r(&t, &tm)) {
		buf[0] = '\0';
		return;
	}
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)((ns / 1000000ull) % 1000));
}

void session_get_status(struct capture_status *st)
{
	if (g_sess.c && capture_get_status(g_sess.c, st) == 0) {
		st->backend[sizeof(st->backend) - 1] = '\0';
		st->backend_reason[sizeof(st->backend_reason) - 1] = '\0';
		st->interface[sizeof(st->interface) - 1] = '\0';
		st->pcap_file[sizeof(st->pcap_file) - 1] = '\0';
		st->tstamp_source[sizeof(st->tstamp_source) - 1] = '\0';
		st->tstamp_detail[sizeof(st->tstamp_detail) - 1] = '\0';
		st->xdp_mode[sizeof(st->xdp_mode) - 1] = '\0';
	} else {
		memset(st, 0, sizeof(*st));
	}
}

json_t *session_status_json_locked(void)
{
	struct capture_status st = { .sz = sizeof(st) };
	const char *state = session_state_locked();
	char start_iso[48] = "", stop_iso[48] = "";
	double uptime = 0;
	json_t *o;

	g_sess.cached_state = state;
	session_get_status(&st);
	iso_time(st.start_ns, start_iso, sizeof(start_iso));
	iso_time(st.stop_ns, stop_iso, sizeof(stop_iso));
	if (st.start_ns) {
		uint64_t end = st.stop_ns ? st.stop_ns : pc_wall_ns();

		uptime = end > st.start_ns ? (double)(end - st.start_ns) / 1e9 : 0;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:f, s:i, s:s, s:s, s:s}",
		      "state", state, "backend", st.backend, "backend_requested",
		      g_sess.c ? g_sess.backend_requested : "", "backend_reason", st.backend_reason,
		      "interface", st.interface, "pcap_file", st.pcap_file, "start_time", start_iso,
		      "start_ns", jint(st.start_ns), "stop_time", stop_iso, "stop_ns",
		      jint(st.stop_ns), "uptime_sec", uptime, "workers", (int)st.workers,
		      "tstamp_source", st.tstamp_source, "tstamp_detail", st.tstamp_detail,
		      "xdp_mode", st.xdp_mode);
	if (o && st.pcap_file[0]) {
		json_object_set_new(o, "input_bytes", jint(st.input_bytes));
		json_object_set_new(o, "input_done", jint(st.input_done));
	}
	if (o && strcmp(state, "failed") == 0)
		json_object_set_new(o, "error", json_string(capture_last_error(g_sess.c)));
	if (o && strcmp(state, "stopped") == 0 && g_sess.stopped)
		json_object_set_new(o, "graceful", json_boolean(g_sess.graceful));
	return o;
}

int session_status(struct resp *rs)
{
	json_t *o;

	pthread_mutex_lock(&g_sess.ctl);
	o = session_status_json_locked();
	pthread_mutex_unlock(&g_sess.ctl);
	return resp_json(rs, o);
}

/* The nested "drops" object: every place a packet or record can be lost. */
static json_t *drops_json(const struct capture_stats *st)
{
	return json_pack(
		"{s:{s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o}, s:{s:o}, s:{s:o, s:o}}", "kernel",
		"dropped", jint(st->kernel_drops), "ifdrops", jint(st->kernel_ifdrops), "freeze_q",
		jint(st->kernel_freeze_q), "xdp_rx_ring_full", jint(st->xdp_rx_ring_full),
		"xdp_fill_ring_empty", jint(st->xdp_fill_ring_empty), "export", "queue",
		jint(st->export_queue_drops), "tcp_queue", jint(st->export_tcp_queue_drops),
		"writer", "queue", jint(st->writer_queue_drops), "flows", "dropped_records",
		jint(st->flows_dropped), "packets_in_dropped_records",
		jint(st->packets_in_dropped_records));
}

json_t *session_stats_json(const struct capture_stats *st, double pps, double bps)
{
	json_t *o, *skipped, *expired;
	int i;

	skipped = json_object();
	for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
		json_object_set_new(skipped, capture_skip_name(i), jint(st->skipped[i]));
	expired = json_pack("{s:o, s:o, s:o, s:o, s:o}", "idle", jint(st->flows_idle), "active",
			    jint(st->flows_active_timeout), "end", jint(st->flows_end), "evicted",
			    jint(st->flows_evicted), "shutdown", jint(st->flows_shutdown));
	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:f}", "packets", jint(st->packets_read),
		      "bytes", jint(st->bytes_read), "packets_in_flows", jint(st->packets_in_flows),
		      "bytes_in_flows", jint(st->bytes_in_flows), "skipped", skipped, "drops",
		      drops_json(st), "pps", pps, "bps", bps);
	if (!o)
		return json_object();
	json_object_set_new(o, "flows",
			    json_pack("{s:o, s:o, s:o, s:o}", "active", jint(st->flows_active),
				      "created", jint(st->flows_created), "exported",
				      jint(st->flows_exported), "expired", expired));
	json_object_set_new(o, "kernel", json_pack("{s:o}", "packets", jint(st->kernel_packets)));
	json_object_set_new(o, "dpdk",
			    json_pack("{s:o, s:o, s:o, s:o}", "ipackets", jint(st->dpdk_ipackets),
				      "imissed", jint(st->dpdk_imissed), "rx_nombuf",
				      jint(st->dpdk_rx_nombuf), "ierrors", jint(st->dpdk_ierrors)));
	/* -b ebpf (zeros on other backends): seen = metered + handed_up (every
	 * reason) + ring_full + errors; as the library's capture_stats_json */
	json_object_set_new(
		o, "ebpf",
		json_pack("{s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}, s:o, s:o, s:o, "
			  "s:o, s:o}",
			  "seen", jint(st->ebpf_seen), "metered", jint(st->ebpf_metered),
			  "handed_up", "non_ip", jint(st->ebpf_up_non_ip), "vlan",
			  jint(st->ebpf_up_vlan), "fragment", jint(st->ebpf_up_fragment), "tunnel",
			  jint(st->ebpf_up_tunnel), "ext_header", jint(st->ebpf_up_ext_header),
			  "malformed", jint(st->ebpf_up_malformed), "map_full",
			  jint(st->ebpf_up_map_full), "filter", jint(st->ebpf_up_filter),
			  "ring_full", jint(st->ebpf_ring_full), "errors", jint(st->ebpf_errors),
			  "harvests", jint(st->ebpf_harvests), "harvest_ns",
			  jint(st->ebpf_harvest_ns), "harvested_flows",
			  jint(st->ebpf_harvested_flows)));
	json_object_set_new(
		o, "export",
		json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "records",
			  jint(st->export_records), "messages", jint(st->export_messages), "errors",
			  jint(st->export_errors), "not_exportable",
			  jint(st->export_not_exportable), "delivered", jint(st->export_delivered),
			  "failed", jint(st->export_failed), "in_flight",
			  jint(st->export_in_flight), "retries", jint(st->export_retries),
			  "buffer_drops", jint(st->export_buffer_drops)));
	json_object_set_new(o, "writer",
			    json_pack("{s:o, s:o, s:o, s:o}", "packets", jint(st->writer_packets),
				      "bytes", jint(st->writer_bytes), "files",
				      jint(st->writer_files), "errors", jint(st->writer_errors)));
	json_object_set_new(o, "fragments",
			    json_pack("{s:o, s:o, s:o}", "tracked", jint(st->fragments_tracked),
				      "matched", jint(st->fragments_matched), "tunnel",
				      jint(st->tunnel_fragments)));
	json_object_set_new(
		o, "inspect",
		json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "flows", jint(st->inspect_flows),
			  "pool_full", jint(st->inspect_pool_full), "dpi_flows",
			  jint(st->dpi_flows), "dpi_pool_full", jint(st->dpi_pool_full),
			  "dpi_identified", jint(st->dpi_identified), "tcp_reassembly_gaps",
			  jint(st->tcp_reassembly_gaps), "reclaimed", jint(st->inspect_reclaimed)));
	json_object_set_new(o, "geoip", json_pack("{s:o}", "lookups", jint(st->geoip_lookups)));
	json_object_set_new(o, "ended_ring_records", jint(st->ended_ring_records));
	json_object_set_new(o, "first_ns", jint(st->first_ns));
	json_object_set_new(o, "last_ns", jint(st->last_ns));
	return o;
}

int session_metrics(struct resp *rs)
{
	struct capture_stats st = { .sz = sizeof(st) };
	double pps, bps, win = 0;
	json_t *workers;
	unsigned w;

	workers = json_array();
	pthread_rwlock_rdlock(&g_sess.life);
	if (g_sess.c && capture_get_stats(g_sess.c, &st) < 0)
		memset(&st, 0, sizeof(st));
	rates_get(RATES_TOTAL, &pps, &bps, &win);
	rs->json =
		json_pack("{s:s, s:f, s:i, s:o}", "state", g_sess.cached_state, "rate_window_sec",
			  win, "workers_count", (int)(g_sess.c ? st.workers : 0), "total",
			  session_stats_json(&st, pps, bps));
	for (w = 0; g_sess.c && w < st.workers && w < SESSION_MAX_WORKERS; w++) {
		struct capture_stats ws = { .sz = sizeof(ws) };
		double wp, wb, ww;
		json_t *o;

		if (capture_get_worker_stats(g_sess.c, w, &ws) < 0)
			continue;
		rates_get(w, &wp, &wb, &ww);
		o = session_stats_json(&ws, wp, wb);
		json_object_set_new(o, "worker", json_integer(w));
		json_array_append_new(workers, o);
	}
	pthread_rwlock_unlock(&g_sess.life);
	if (!rs->json) {
		json_decref(workers);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	json_object_set_new(rs->json, "workers", workers);
	rs->status = 200;
	return 200;
}
