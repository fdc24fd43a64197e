/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters and status for other threads: worker counters summed with
 * relaxed loads, the backend's kernel counters, the writer's and the
 * exporters' counters, the stats JSON and the session status. Flow
 * snapshots and lookups are in control.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "util/opts.h"
#include "util/strbuf.h"

static void add_worker(struct capture_stats *t, const struct pc_worker *w)
{
	const struct pc_worker_stats *s = &w->st;
	unsigned i;

	t->packets_read += PC_STAT_GET(s->packets_read);
	t->bytes_read += PC_STAT_GET(s->bytes_read);
	for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
		t->skipped[i] += PC_STAT_GET(s->skipped_pub[i]);
	t->export_queue_drops += PC_STAT_GET(s->export_queue_drops);
	t->packets_in_dropped_records += PC_STAT_GET(s->packets_in_dropped_records);
	t->flows_dropped += PC_STAT_GET(s->flows_dropped);
	t->packets_in_flows += PC_STAT_GET(s->flow.packets);
	t->bytes_in_flows += PC_STAT_GET(s->flow.bytes);
	t->flows_created += PC_STAT_GET(s->flow.created);
	t->flows_active += PC_STAT_GET(s->flow.active);
	t->flows_idle += PC_STAT_GET(s->flow.ended[CAPTURE_END_IDLE]);
	t->flows_active_timeout += PC_STAT_GET(s->flow.ended[CAPTURE_END_ACTIVE]);
	t->flows_end += PC_STAT_GET(s->flow.ended[CAPTURE_END_END]);
	t->flows_evicted += PC_STAT_GET(s->flow.ended[CAPTURE_END_EVICTED]);
	t->flows_shutdown += PC_STAT_GET(s->flow.ended[CAPTURE_END_SHUTDOWN]);
	t->fragments_tracked += PC_STAT_GET(s->frag_tracked);
	t->fragments_matched += PC_STAT_GET(s->frag_matched);
	t->tunnel_fragments += PC_STAT_GET(s->tunnel_frags);
	t->inspect_flows += PC_STAT_GET(s->insp.flows);
	t->inspect_pool_full += PC_STAT_GET(s->insp.pool_full);
	t->dpi_flows += PC_STAT_GET(s->insp.dpi_flows);
	t->dpi_pool_full += PC_STAT_GET(s->insp.dpi_pool_full);
	t->dpi_identified += PC_STAT_GET(s->insp.dpi_identified);
	t->tcp_reassembly_gaps += PC_STAT_GET(s->insp.reassembly_gaps);
	t->inspect_reclaimed += PC_STAT_GET(s->insp.reclaimed);
	{
		uint64_t f = PC_STAT_GET(s->first_ns), l = PC_STAT_GET(s->last_ns);

		if (f && (!t->first_ns || f < t->first_ns))
			t->first_ns = f;
		if (l > t->last_ns)
			t->last_ns = l;
	}
}

void pc_kernel_stats(struct capture *c, struct pc_cap_stats *out)
{
	struct pc_cap_stats sum, q;
	unsigned i;

	if (!c->cap.ops || !c->cap.ops->stats)
		return;
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < c->cap.nqueues; i++) {
		memset(&q, 0, sizeof(q));
		if (c->cap.ops->stats(&c->cap, i, &q) < 0)
			continue;
		sum.packets += q.packets;
		sum.drops += q.drops;
		sum.freeze_q += q.freeze_q;
		sum.ifdrops += q.ifdrops;
		sum.xdp_rx_ring_full += q.xdp_rx_ring_full;
		sum.xdp_fill_ring_empty += q.xdp_fill_ring_empty;
		sum.dpdk_ipackets += q.dpdk_ipackets;
		sum.dpdk_imissed += q.dpdk_imissed;
		sum.dpdk_rx_nombuf += q.dpdk_rx_nombuf;
		sum.dpdk_ierrors += q.dpdk_ierrors;
		for (unsigned j = 0; j < PC_EBPF_NSTATS; j++)
			sum.ebpf[j] += q.ebpf[j];
	}
	*out = sum;
}

static void finish(struct capture_stats *t)
{
	t->flows_exported = t->flows_idle + t->flows_active_timeout + t->flows_end +
			    t->flows_evicted + t->flows_shutdown;
}

/* The exporters' counters: open ones plus those closed this session. Taken
 * before stats_lock (lock order: exp_lock, then stats_lock), since the
 * export thread reads the stats while it holds exp_lock. */
static void add_exporters(struct capture *c, struct capture_stats *t)
{
	struct pc_exporter *e;

	pthread_mutex_lock(&c->exp_lock);
	t->export_records = c->exp_done.records;
	t->export_messages = c->exp_done.messages;
	t->export_errors = c->exp_done.errors + c->export_open_errors;
	t->export_not_exportable = c->exp_done.not_exportable;
	t->export_tcp_queue_drops = c->exp_done.queue_drops;
	t->export_delivered = c->exp_done.delivered;
	t->export_failed = c->exp_done.failed;
	t->export_retries = c->exp_done.retries;
	t->export_buffer_drops = c->exp_done.buffer_drops;
	for (e = c->exporters; e; e = e->next) {
		t->export_records += atomic_load_explicit(&e->cnt.records, memory_order_relaxed);
		t->export_messages += atomic_load_explicit(&e->cnt.messages, memory_order_relaxed);
		t->export_errors += atomic_load_explicit(&e->cnt.errors, memory_order_relaxed);
		t->export_not_exportable +=
			atomic_load_explicit(&e->cnt.not_exportable, memory_order_relaxed);
		t->export_tcp_queue_drops +=
			atomic_load_explicit(&e->cnt.queue_drops, memory_order_relaxed);
		t->export_delivered +=
			atomic_load_explicit(&e->cnt.delivered, memory_order_relaxed);
		t->export_failed += atomic_load_explicit(&e->cnt.failed, memory_order_relaxed);
		t->export_in_flight +=
			atomic_load_explicit(&e->cnt.in_flight, memory_order_relaxed);
		t->export_retries += atomic_load_explicit(&e->cnt.retries, memory_order_relaxed);
		t->export_buffer_drops +=
			atomic_load_explicit(&e->cnt.buffer_drops, memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->exp_lock);
}

/* Session-wide counters (stats_lock read held). */
static void add_session(struct capture *c, struct capture_stats *t)
{
	struct pc_cap_stats k = c->kstats_done;
	struct pc_writer_stats ws = c->writer_done;

	/* kernel counters: live from the backend while it is open. Backends
	 * keep running totals of what the kernel hands out as deltas, so one
	 * reader at a time. */
	if (c->cap_live) {
		pthread_mutex_lock(&c->kstats_lock);
		pc_kernel_stats(c, &k);
		pthread_mutex_unlock(&c->kstats_lock);
	}
	t->kernel_packets = k.packets;
	t->kernel_drops = k.drops;
	t->kernel_freeze_q = k.freeze_q;
	t->kernel_ifdrops = k.ifdrops;
	t->xdp_rx_ring_full = k.xdp_rx_ring_full;
	t->xdp_fill_ring_empty = k.xdp_fill_ring_empty;
	t->dpdk_ipackets = k.dpdk_ipackets;
	t->dpdk_imissed = k.dpdk_imissed;
	t->dpdk_rx_nombuf = k.dpdk_rx_nombuf;
	t->dpdk_ierrors = k.dpdk_ierrors;
	_Static_assert(offsetof(struct capture_stats, ebpf_harvested_flows) -
				       offsetof(struct capture_stats, ebpf_seen) ==
			       (PC_EBPF_NSTATS - 1) * sizeof(uint64_t),
		       "ebpf counters of capture_stats in pc_cap_stats.ebpf[] order");
	memcpy(&t->ebpf_seen, k.ebpf, sizeof(k.ebpf));
	if (c->writer)
		pc_writer_get_stats(c->writer, &ws);
	t->writer_packets = ws.packets;
	t->writer_bytes = ws.bytes;
	t->writer_queue_drops = ws.queue_drops;
	t->writer_files = ws.files;
	t->writer_errors = ws.errors;
	pthread_mutex_lock(&c->ended_lock);
	t->ended_ring_records = c->ended_count;
	pthread_mutex_unlock(&c->ended_lock);
	t->geoip_lookups = atomic_load_explicit(&c->geoip_lookups, memory_order_relaxed);
}

CAPTURE_API int capture_get_stats(struct capture *c, struct capture_stats *st)
{
	struct capture_stats t;
	unsigned i;

	if (!c || !st || st->sz < sizeof(size_t) + sizeof(uint64_t))
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	add_exporters(c, &t);
	pthread_rwlock_rdlock(&c->stats_lock);
	if (c->w) {
		for (i = 0; i < c->nworkers; i++)
			add_worker(&t, &c->w[i]);
		if (c->dispatch)
			add_worker(&t, &c->disp);
		t.workers = c->nworkers;
	} else if (c->w_prev) {
		for (i = 0; i < c->nworkers_prev; i++)
			add_worker(&t, &c->w_prev[i]);
		add_worker(&t, &c->disp_prev);
		t.workers = c->nworkers_prev;
	}
	add_session(c, &t);
	pthread_rwlock_unlock(&c->stats_lock);
	finish(&t);
	t.sz = sizeof(t);
	pc_opts_copy_out(st, &t, sizeof(t));
	return 0;
}

CAPTURE_API int capture_get_worker_stats(struct capture *c, unsigned worker,
					 struct capture_stats *st)
{
	struct capture_stats t;
	int rc = 0;

	if (!c || !st)
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	pthread_rwlock_rdlock(&c->stats_lock);
	if (c->w && worker < c->nworkers)
		add_worker(&t, &c->w[worker]);
	else if (!c->w && c->w_prev && worker < c->nworkers_prev)
		add_worker(&t, &c->w_prev[worker]);
	else
		rc = -ENOENT;
	pthread_rwlock_unlock(&c->stats_lock);
	if (rc)
		return rc;
	finish(&t);
	t.workers = 1;
	t.sz = sizeof(t);
	pc_opts_copy_out(st, &t, sizeof(t));
	return 0;
}

#define U(x) ((unsigned long long)(x))

static void emit_stats(struct pc_strbuf *o, const struct capture_stats *s, bool full)
{
	int i;

	pc_strbuf_printf(o,
			 "\"packets_read\":%llu,\"bytes_read\":%llu,\"packets_in_flows\":%llu,"
			 "\"bytes_in_flows\":%llu,\"flows_created\":%llu,\"flows_exported\":%llu,"
			 "\"flows_active\":%llu,\"skipped\":{",
			 U(s->packets_read), U(s->bytes_read), U(s->packets_in_flows),
			 U(s->bytes_in_flows), U(s->flows_created), U(s->flows_exported),
			 U(s->flows_active));
	for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
		pc_strbuf_printf(o, "%s\"%s\":%llu", i ? "," : "", capture_skip_name(i),
				 U(s->skipped[i]));
	pc_strbuf_printf(
		o,
		"},\"expired\":{\"idle\":%llu,\"active\":%llu,\"end\":%llu,\"evicted\":%llu,"
		"\"shutdown\":%llu},\"flows_dropped\":%llu,\"export_queue_drops\":%llu,"
		"\"packets_in_dropped_records\":%llu,\"fragments\":{\"tracked\":%llu,"
		"\"matched\":%llu,\"tunnel\":%llu},\"first_ns\":%llu,\"last_ns\":%llu",
		U(s->flows_idle), U(s->flows_active_timeout), U(s->flows_end), U(s->flows_evicted),
		U(s->flows_shutdown), U(s->flows_dropped), U(s->export_queue_drops),
		U(s->packets_in_dropped_records), U(s->fragments_tracked), U(s->fragments_matched),
		U(s->tunnel_fragments), U(s->first_ns), U(s->last_ns));
	pc_strbuf_printf(o,
			 ",\"inspect\":{\"flows\":%llu,\"pool_full\":%llu,\"dpi_flows\":%llu,"
			 "\"dpi_pool_full\":%llu,\"dpi_identified\":%llu,"
			 "\"tcp_reassembly_gaps\":%llu,\"reclaimed\":%llu}",
			 U(s->inspect_flows), U(s->inspect_pool_full), U(s->dpi_flows),
			 U(s->dpi_pool_full), U(s->dpi_identified), U(s->tcp_reassembly_gaps),
			 U(s->inspect_reclaimed));
	if (!full)
		return;
	pc_strbuf_printf(
		o,
		",\"export\":{\"records\":%llu,\"messages\":%llu,\"errors\":%llu,"
		"\"not_exportable\":%llu,\"tcp_queue_drops\":%llu,\"delivered\":%llu,"
		"\"failed\":%llu,\"in_flight\":%llu,\"retries\":%llu,\"buffer_drops\":%llu},"
		"\"writer\":{\"packets\":%llu,\"bytes\":%llu,\"queue_drops\":%llu,\"files\":%llu,"
		"\"errors\":%llu},"
		"\"kernel\":{\"packets\":%llu,\"drops\":%llu,\"freeze_q\":%llu,\"ifdrops\":%llu,"
		"\"xdp_rx_ring_full\":%llu,\"xdp_fill_ring_empty\":%llu},"
		"\"dpdk\":{\"ipackets\":%llu,\"imissed\":%llu,\"rx_nombuf\":%llu,"
		"\"ierrors\":%llu},\"ended_ring_records\":%llu,\"workers\":%u",
		U(s->export_records), U(s->export_messages), U(s->export_errors),
		U(s->export_not_exportable), U(s->export_tcp_queue_drops), U(s->export_delivered),
		U(s->export_failed), U(s->export_in_flight), U(s->export_retries),
		U(s->export_buffer_drops), U(s->writer_packets), U(s->writer_bytes),
		U(s->writer_queue_drops), U(s->writer_files), U(s->writer_errors),
		U(s->kernel_packets), U(s->kernel_drops), U(s->kernel_freeze_q),
		U(s->kernel_ifdrops), U(s->xdp_rx_ring_full), U(s->xdp_fill_ring_empty),
		U(s->dpdk_ipackets), U(s->dpdk_imissed), U(s->dpdk_rx_nombuf), U(s->dpdk_ierrors),
		U(s->ended_ring_records), s->workers);
	pc_strbuf_printf(o, ",\"geoip\":{\"lookups\":%llu}", U(s->geoip_lookups));
	pc_strbuf_printf(o,
			 ",\"ebpf\":{\"seen\":%llu,\"metered\":%llu,\"handed_up\":{\"non_ip\":%llu,"
			 "\"vlan\":%llu,\"fragment\":%llu,\"tunnel\":%llu,\"ext_header\":%llu,"
			 "\"malformed\":%llu,\"map_full\":%llu,\"filter\":%llu},\"ring_full\":%llu,"
			 "\"errors\":%llu,\"harvests\":%llu,\"harvest_ns\":%llu,"
			 "\"harvested_flows\":%llu}",
			 U(s->ebpf_seen), U(s->ebpf_metered), U(s->ebpf_up_non_ip),
			 U(s->ebpf_up_vlan), U(s->ebpf_up_fragment), U(s->ebpf_up_tunnel),
			 U(s->ebpf_up_ext_header), U(s->ebpf_up_malformed), U(s->ebpf_up_map_full),
			 U(s->ebpf_up_filter), U(s->ebpf_ring_full), U(s->ebpf_errors),
			 U(s->ebpf_harvests), U(s->ebpf_harvest_ns), U(s->ebpf_harvested_flows));
}

CAPTURE_API int capture_stats_json(struct capture *c, char *buf, size_t len, bool per_worker)
{
	struct capture_stats s = { .sz = sizeof(s) };
	struct pc_strbuf o;
	unsigned i;
	int rc;

	if (!c || !buf || !len)
		return -EINVAL;
	pc_strbuf_fixed(&o, buf, len);
	rc = capture_get_stats(c, &s);
	if (rc)
		return rc;
	pc_strbuf_printf(&o, "{");
	emit_stats(&o, &s, true);
	if (per_worker) {
		pc_strbuf_printf(&o, ",\"per_worker\":[");
		for (i = 0; i < s.workers; i++) {
			struct capture_stats w = { .sz = sizeof(w) };

			if (capture_get_worker_stats(c, i, &w))
				break;
			pc_strbuf_printf(&o, "%s{\"worker\":%u,", i ? "," : "", i);
			emit_stats(&o, &w, false);
			pc_strbuf_printf(&o, "}");
		}
		pc_strbuf_printf(&o, "]");
	}
	pc_strbuf_printf(&o, "}");
	if (o.failed)
		return -ENOSPC;
	return (int)o.len;
}

CAPTURE_API int capture_get_status(struct capture *c, struct capture_status *st)
{
	struct capture_status t;

	if (!c || !st)
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	pthread_rwlock_rdlock(&c->stats_lock);
	t.workers = c->w ? c->nworkers : c->nworkers_prev;
	pthread_mutex_lock(&c->err_lock);
	t.state = atomic_load(&c->state);
	snprintf(t.backend, sizeof(t.backend), "%s", c->last_backend);
	snprintf(t.backend_reason, sizeof(t.backend_reason), "%s", c->why);
	snprintf(t.interface, sizeof(t.interface), "%s", c->cfg.interface ? c->cfg.interface : "");
	if (c->cfg.npcap_files) /* several inputs: the first and how many more */
		snprintf(t.pcap_file, sizeof(t.pcap_file), "%s (+%u more)", c->cfg.pcap_files[0],
			 c->cfg.npcap_files - 1);
	else
		snprintf(t.pcap_file, sizeof(t.pcap_file), "%s",
			 c->cfg.pcap_file ? c->cfg.pcap_file : "");
	t.start_ns = c->start_ns;
	t.stop_ns = c->stop_ns;
	snprintf(t.tstamp_source, sizeof(t.tstamp_source), "%s", c->tstamp_source);
	snprintf(t.tstamp_detail, sizeof(t.tstamp_detail), "%s", c->tstamp_detail);
	snprintf(t.xdp_mode, sizeof(t.xdp_mode), "%s", c->cap_mode);
	t.input_bytes = c->input_bytes;
	t.input_done =
		c->cap_live ? __atomic_load_n(&c->cap.input_pos, __ATOMIC_RELAXED) : c->input_done;
	pthread_mutex_unlock(&c->err_lock);
	pthread_rwlock_unlock(&c->stats_lock);
	if (!st->sz) /* callers that leave it unset get the whole struct */
		st->sz = sizeof(t);
	pc_opts_copy_out(st, &t, sizeof(t));
	return 0;
}
