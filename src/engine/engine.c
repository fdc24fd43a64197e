/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine lifecycle: configuration, worker threads (one flow table shard
 * each), the optional offline dispatcher, the export thread and the packet
 * writer. Workers never lock, allocate or log per packet; expired records
 * leave through a bounded SPSC ring per worker (full: counted when live,
 * back-pressure when reading a file, which cannot overflow).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/compiler.h"
#include "engine/engine.h"
#include "util/privs.h"

/* How long an idle live worker waits for packets: bounds the latency of
 * flow snapshots and lookups, which workers serve between bursts. */
#define PC_RX_WAIT_MS 10

static __thread char init_err[512];

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

void pc_log(struct capture *c, int level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!c->cfg.log_fn || level > c->cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cfg.log_fn(c->cfg.log_ctx, level, msg);
}

static int set_err(struct capture *c, int rc, const char *fmt, ...) pc_printf(3, 4);

static int set_err(struct capture *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pthread_mutex_lock(&c->err_lock);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	pthread_mutex_unlock(&c->err_lock);
	va_end(ap);
	return rc;
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

CAPTURE_API const char *capture_last_error(const struct capture *c)
{
	return c ? c->errmsg : init_err;
}

static void free_config_strings(struct capture *c)
{
	free(c->s_iface);
	free(c->s_file);
	free(c->s_backend);
	free(c->s_filter);
	free(c->s_keyfile);
	free(c->s_user);
	free(c->pout_dir);
	free(c->pout_filter);
	free(c->enc_keyfile);
}

CAPTURE_API int capture_init(struct capture **out, const struct capture_config *cfg)
{
	struct capture *c;
	struct capture_config k;

	init_err[0] = 0;
	if (!out || !cfg || cfg->sz < offsetof(struct capture_config, promiscuous)) {
		snprintf(init_err, sizeof(init_err), "capture_init: missing or too old config");
		return -EINVAL;
	}
	memset(&k, 0, sizeof(k));
	memcpy(&k, cfg, cfg->sz < sizeof(k) ? cfg->sz : sizeof(k));
	if (!k.interface == !k.pcap_file) {
		snprintf(init_err, sizeof(init_err),
			 "give exactly one of an interface or a pcap file");
		return -CAPTURE_E_CONFIG;
	}
	if (k.workers > PC_MAX_WORKERS) {
		snprintf(init_err, sizeof(init_err), "workers must be 1..%d", PC_MAX_WORKERS);
		return -CAPTURE_E_CONFIG;
	}
	if (k.buffer_size_mb && (k.buffer_size_mb < 64 || k.buffer_size_mb > 2048)) {
		snprintf(init_err, sizeof(init_err), "buffer_size_mb %u out of range (64..2048)",
			 k.buffer_size_mb);
		return -CAPTURE_E_CONFIG;
	}
	if (k.tstamp > CAPTURE_TSTAMP_NTP) {
		snprintf(init_err, sizeof(init_err), "unknown timestamp source %u", k.tstamp);
		return -CAPTURE_E_CONFIG;
	}
	if (k.backend && *k.backend && strcmp(k.backend, "auto") && !pc_capture_find(k.backend)) {
		snprintf(init_err, sizeof(init_err),
			 "unknown backend '%s' (auto, pcap, afpacket, afxdp, file)", k.backend);
		return -CAPTURE_E_CONFIG;
	}
	if (k.filter && *k.filter) {
		/* syntax check now, so a bad expression never reaches start */
		struct pc_bpf *f;
		int rc = pc_bpf_create(&f, k.filter, PC_DLT_EN10MB, 262144, init_err,
				       sizeof(init_err));

		if (rc < 0)
			return rc;
		pc_bpf_destroy(f);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->err_lock, NULL);
	pthread_mutex_init(&c->ctl_lock, NULL);
	{
		/* recursive: exporters read the engine's stats (options records)
		 * from inside deliver(), which holds it */
		pthread_mutexattr_t ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&c->exp_lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	pthread_mutex_init(&c->ended_lock, NULL);
	pthread_mutex_init(&c->req_lock, NULL);
	pthread_rwlock_init(&c->stats_lock, NULL);
	c->cfg = k;
	c->s_iface = dup_opt(k.interface);
	c->s_file = dup_opt(k.pcap_file);
	c->s_backend =
		dup_opt(k.backend && *k.backend ? k.backend : (k.pcap_file ? "file" : "auto"));
	c->s_filter = dup_opt(k.filter && *k.filter ? k.filter : NULL);
	c->s_keyfile = dup_opt(k.decrypt_key_file);
	c->s_user = dup_opt(k.user);
	c->cfg.interface = c->s_iface;
	c->cfg.pcap_file = c->s_file;
	c->cfg.backend = c->s_backend;
	c->cfg.filter = c->s_filter;
	c->cfg.decrypt_key_file = c->s_keyfile;
	c->cfg.user = c->s_user;
	if (!c->cfg.workers)
		c->cfg.workers = 1;
	if (!c->cfg.snaplen)
		c->cfg.snaplen = 262144;
	if (!c->cfg.buffer_size_mb)
		c->cfg.buffer_size_mb = 64;
	if (!c->cfg.export_queue)
		c->cfg.export_queue = 65536;
	if (getrandom(c->seed, sizeof(c->seed), 0) != sizeof(c->seed)) {
		c->seed[0] = mono_ns() ^ (uint64_t)(uintptr_t)c;
		c->seed[1] = wall_ns() * 0x9e3779b97f4a7c15ull;
	}
	atomic_store(&c->state, CAPTURE_STATE_IDLE);
	*out = c;
	return 0;
}

CAPTURE_API int capture_flow_enable(struct capture *c, const struct capture_flow_config *cfg)
{
	struct capture_flow_config f;

	if (!c)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	if (cfg)
		memcpy(&f, cfg, cfg->sz < sizeof(f) ? cfg->sz : sizeof(f));
	f.sz = sizeof(f);
	if (!f.table_size)
		f.table_size = 1u << 20;
	if (f.table_size < 4096 || f.table_size > 16777216)
		return set_err(c, -CAPTURE_E_CONFIG, "table_size %u out of range (4096..16777216)",
			       f.table_size);
	if (!f.idle_timeout_sec && !f.idle_timeout_ms)
		f.idle_timeout_sec = 30;
	if (!f.active_timeout_sec)
		f.active_timeout_sec = 1800;
	if (f.ended_ring_size > 16777216)
		return set_err(c, -CAPTURE_E_CONFIG, "ended_ring_size %u too large (max 16777216)",
			       f.ended_ring_size);
	pthread_mutex_lock(&c->ctl_lock);
	c->fcfg = f;
	c->flow_enabled = true;
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;
}

CAPTURE_API int capture_set_flow_callback(struct capture *c, capture_flow_fn fn, void *ctx)
{
	if (!c)
		return -EINVAL;
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING)
		return set_err(c, -CAPTURE_E_STATE, "cannot change the callback while running");
	c->flow_cb = fn;
	c->flow_ctx = ctx;
	return 0;
}

/* ---------------------------------------------------------------- export */

static void engine_stats_for_export(void *ctx, struct capture_stats *st)
{
	st->sz = sizeof(*st);
	capture_get_stats(ctx, st);
}

static int add_target(struct capture *c, const struct pc_export_target *t)
{
	int rc = 0;

	pthread_mutex_lock(&c->exp_lock);
	if (c->ntargets >= PC_MAX_EXPORTERS) {
		rc = set_err(c, -CAPTURE_E_CONFIG, "at most %d exporters", PC_MAX_EXPORTERS);
		goto unlock;
	}
	c->targets[c->ntargets] = *t;
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING) {
		/* applies now, too */
		struct pc_exporter *e;
		char err[512];

		rc = pc_exporter_create(&e, t, c->cfg.log_fn, c->cfg.log_ctx, c->cfg.log_level,
					engine_stats_for_export, c, err, sizeof(err));
		if (rc < 0) {
			set_err(c, rc, "%s", err);
			goto unlock;
		}
		e->next = c->exporters;
		c->exporters = e;
	}
	c->ntargets++;
unlock:
	pthread_mutex_unlock(&c->exp_lock);
	return rc;
}

CAPTURE_API int capture_export_add(struct capture *c, const char *target,
				   const struct capture_export_opts *opts)
{
	struct pc_export_target t;
	char err[512];
	int rc;

	if (!c)
		return -EINVAL;
	rc = pc_export_parse(target, opts, &t, err, sizeof(err));
	if (rc < 0)
		return set_err(c, rc, "%s", err);
	return add_target(c, &t);
}

CAPTURE_API int capture_netflow_enable(struct capture *c, const struct capture_netflow_config *cfg)
{
	struct pc_export_target t;
	char err[512];
	int rc;

	if (!c || !cfg)
		return -EINVAL;
	rc = pc_export_from_netflow(cfg, &t, err, sizeof(err));
	if (rc < 0)
		return set_err(c, rc, "%s", err);
	return add_target(c, &t);
}

static void open_exporters(struct capture *c)
{
	size_t i;

	pthread_mutex_lock(&c->exp_lock);
	for (i = 0; i < c->ntargets; i++) {
		struct pc_exporter *e;
		char err[512];
		int rc = pc_exporter_create(&e, &c->targets[i], c->cfg.log_fn, c->cfg.log_ctx,
					    c->cfg.log_level, engine_stats_for_export, c, err,
					    sizeof(err));

		if (rc < 0) {
			/* reported and counted; capture goes on */
			pc_log(c, CAPTURE_LOG_ERROR, "export %s: %s", c->targets[i].spec, err);
			set_err(c, rc, "%s", err);
			c->export_open_errors++;
			continue;
		}
		e->next = c->exporters;
		c->exporters = e;
	}
	pthread_mutex_unlock(&c->exp_lock);
}

static void close_exporters(struct capture *c)
{
	struct pc_exporter *e, *n;

	pthread_mutex_lock(&c->exp_lock);
	for (e = c->exporters; e; e = n) {
		n = e->next;
		/* unlink first: closing sends final records (IPFIX statistics)
		 * that read the engine's stats, which walk this list */
		c->exporters = n;
		pc_exporter_close(e);
		/* keep their final counters for the stats of the finished session */
		c->exp_done.records += atomic_load(&e->cnt.records);
		c->exp_done.messages += atomic_load(&e->cnt.messages);
		c->exp_done.errors += atomic_load(&e->cnt.errors);
		c->exp_done.not_exportable += atomic_load(&e->cnt.not_exportable);
		c->exp_done.queue_drops += atomic_load(&e->cnt.queue_drops);
		pc_exporter_destroy(e);
	}
	c->exporters = NULL;
	pthread_mutex_unlock(&c->exp_lock);
}

static void ended_append(struct capture *c, const struct capture_flow *r, size_t n)
{
	size_t i;

	if (!c->ended)
		return;
	pthread_mutex_lock(&c->ended_lock);
	for (i = 0; i < n; i++) {
		c->ended[c->ended_head] = r[i];
		c->ended_head = (c->ended_head + 1) % c->ended_cap;
		if (c->ended_count < c->ended_cap)
			c->ended_count++;
	}
	pthread_mutex_unlock(&c->ended_lock);
}

static void deliver(struct capture *c, const struct capture_flow *r, size_t n)
{
	struct pc_exporter *e;

	pthread_mutex_lock(&c->exp_lock);
	/* exporters count their own failures; one failing never stops the rest */
	for (e = c->exporters; e; e = e->next)
		e->ops->write(e, r, n);
	pthread_mutex_unlock(&c->exp_lock);
	if (c->flow_cb)
		c->flow_cb(c->flow_ctx, r, n);
	ended_append(c, r, n);
	atomic_fetch_add_explicit(&c->export_delivered, n, memory_order_relaxed);
}

static void tick_exporters(struct capture *c, bool flush)
{
	struct pc_exporter *e;
	uint64_t now = wall_ns();

	pthread_mutex_lock(&c->exp_lock);
	for (e = c->exporters; e; e = e->next) {
		if (e->ops->tick)
			e->ops->tick(e, now);
		if (flush && e->ops->flush)
			e->ops->flush(e);
	}
	pthread_mutex_unlock(&c->exp_lock);
}

#define EXPORT_BATCH 512

static void *export_main(void *arg)
{
	struct capture *c = arg;
	struct capture_flow batch[EXPORT_BATCH]; /* ~78 KB: threads have MBs */
	uint64_t last_tick = mono_ns();
	unsigned idle_rounds = 0;

	for (;;) {
		size_t got = 0;
		unsigned i;
		bool finished = atomic_load(&c->workers_running) == 0;

		for (i = 0; i < c->nworkers; i++) {
			size_t n = pc_ring_pop(&c->w[i].out, batch, EXPORT_BATCH);

			if (n) {
				deliver(c, batch, n);
				got += n;
			}
		}
		if (mono_ns() - last_tick > 100000000ull) {
			tick_exporters(c, false);
			last_tick = mono_ns();
		}
		if (got) {
			idle_rounds = 0;
			continue;
		}
		if (finished)
			break; /* workers done and rings were empty after it */
		/* nothing to do: back off gently (1 ms at most). Live: 1 ms at once
		 * (bench_live: flows ending every ~80 us kept this thread in 50 us
		 * naps, ~20k wake-ups/s, as much CPU as the worker; a worker ring of
		 * export_queue (65536) records overflows in 1 ms only above 65M
		 * records/s). A file keeps the short naps: its worker waits on us. */
		sleep_us(idle_rounds < 10 && c->cap.offline ? 50 : 1000);
		idle_rounds++;
	}
	tick_exporters(c, true);
	close_exporters(c);
	return NULL;
}

/* ---------------------------------------------------------------- workers */

/* Wait for a peer thread: spin briefly (it is usually a burst away), then
 * yield the CPU with short sleeps rather than sched_yield storms. */
static void backoff(unsigned *spins)
{
	if (*spins < 64)
		pc_cpu_relax();
	else if (*spins < 96)
		sched_yield();
	else
		sleep_us(*spins < 256 ? 10 : 100);
	(*spins)++;
}

static void emit_record(void *ctx, const struct capture_flow *rec)
{
	struct pc_worker *w = ctx;

	if (pc_likely(pc_ring_push(&w->out, rec)))
		return;
	if (w->c->cap.offline) {
		/* a file can wait: never lose a record to our own speed */
		unsigned spins = 0;

		while (!pc_ring_push(&w->out, rec))
			backoff(&spins);
		return;
	}
	PC_STAT_ADD(w->st.export_queue_drops, 1);
	PC_STAT_ADD(w->st.packets_in_dropped_records, rec->packets + rec->rev_packets);
}

static struct pc_bpf *filter_for(struct pc_worker *w, struct pc_bpf_cache *bc, const char *expr,
				 int linktype)
{
	unsigned i;

	for (i = 0; i < bc->n; i++)
		if (bc->lt[i] == linktype)
			return bc->f[i];
	if (bc->n < PC_BPF_CACHE) {
		char err[512];

		if (pc_bpf_create(&bc->f[bc->n], expr, linktype, w->c->cfg.snaplen, err,
				  sizeof(err)) < 0) {
			/* the expression cannot apply to this link type: nothing matches */
			pc_log(w->c, CAPTURE_LOG_WARN, "%s (link type %d)", err, linktype);
			bc->f[bc->n] = NULL;
		}
		bc->lt[bc->n] = linktype;
		return bc->f[bc->n++];
	}
	return NULL;
}

static void bpf_cache_release(struct pc_bpf_cache *bc)
{
	unsigned i;

	for (i = 0; i < bc->n; i++)
		pc_bpf_destroy(bc->f[i]);
	bc->n = 0;
}

/* Filter, store and decode a burst into @m; returns how many decoded OK. */
static unsigned prepare_burst(struct pc_worker *w, struct pc_pkt *pkts, unsigned n,
			      struct pc_meta *m)
{
	struct capture *c = w->c;
	unsigned i, k = 0;
	uint64_t bytes = 0;
	bool ufilter = c->cfg.filter && !c->cap.filter_applied;

	for (i = 0; i < n; i++) {
		const struct pc_pkt *p = &pkts[i];
		enum pc_verdict v;

		bytes += p->wirelen;
		if (ufilter) {
			struct pc_bpf *f = filter_for(w, &w->ufilter, c->cfg.filter, p->linktype);

			if (!f || !pc_bpf_match(f, p)) {
				w->skipped[CAPTURE_SKIP_FILTERED]++;
				continue;
			}
		}
		if (c->writer) {
			struct pc_bpf *f = c->pout_filter ? filter_for(w, &w->wfilter,
								       c->pout_filter, p->linktype)
							  : NULL;

			/* a file can wait for the writer; live traffic cannot */
			if (!c->pout_filter || (f && pc_bpf_match(f, p))) {
				if (c->cap.offline)
					pc_writer_submit_wait(c->writer, w->writer_slot, p);
				else
					pc_writer_submit(c->writer, w->writer_slot, p);
			}
		}
		v = pc_decode(w->dec, p, &m[k]);
		if (pc_likely(v == PC_DEC_OK)) {
			if (m[k].ts_ns > w->now_ns)
				w->now_ns = m[k].ts_ns;
			if (pc_unlikely(!w->first_ns))
				w->first_ns = m[k].ts_ns ? m[k].ts_ns : 1;
			k++;
		} else {
			w->skipped[v - 1]++;
		}
	}
	PC_STAT_ADD(w->st.packets_read, n);
	PC_STAT_ADD(w->st.bytes_read, bytes);
	return k;
}

static void publish_skips(struct pc_worker *w)
{
	unsigned i;

	if (w->dec) {
		const struct pc_decode_stats *ds = pc_decoder_stats(w->dec);

		PC_STAT_SET(w->st.frag_tracked, ds->fragments_tracked);
		PC_STAT_SET(w->st.frag_matched, ds->fragments_matched);
	}
	if (w->first_ns && !w->st.first_ns)
		PC_STAT_SET(w->st.first_ns, w->first_ns);

	for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
		if (w->skipped[i] != w->st.skipped_pub[i])
			PC_STAT_SET(w->st.skipped_pub[i], w->skipped[i]);
}

static void account_metas(struct pc_worker *w, struct pc_meta *m, unsigned k)
{
	if (!k)
		return;
	if (w->ft)
		pc_flow_update_burst(w->ft, m, k, emit_record, w);
	else
		w->skipped[CAPTURE_SKIP_FLOW_DISABLED] += k;
}

/* Serve a flow snapshot / lookup request from the control plane, a slice
 * at a time so the packet path never stalls for long. */
static void serve_requests(struct pc_worker *w, size_t budget)
{
	int st = atomic_load_explicit(&w->req_state, memory_order_acquire);

	if (pc_likely(st != PC_REQ_PENDING))
		return;
	if (!w->ft) {
		w->req_n = 0;
		w->req_rc = 0;
		atomic_store_explicit(&w->req_state, PC_REQ_DONE, memory_order_release);
		return;
	}
	if (w->req_kind == PC_REQ_LOOKUP) {
		w->req_rc = pc_flow_find(w->ft, &w->req_key, w->req_buf);
		w->req_n = w->req_rc == 0;
		atomic_store_explicit(&w->req_state, PC_REQ_DONE, memory_order_release);
		return;
	}
	w->req_n += pc_flow_snapshot(w->ft, &w->req_cursor, budget, w->req_buf + w->req_n,
				     w->req_max - w->req_n);
	if (w->req_cursor >= pc_flow_table_slots(w->ft) || w->req_n >= w->req_max) {
		w->req_rc = 0;
		atomic_store_explicit(&w->req_state, PC_REQ_DONE, memory_order_release);
	}
}

static void publish_flow_counters(struct pc_worker *w)
{
	if (w->ft) {
		const struct pc_flow_counters *fc = pc_flow_table_counters(w->ft);

		PC_STAT_SET(w->st.flow.packets, fc->packets);
		PC_STAT_SET(w->st.flow.bytes, fc->bytes);
		PC_STAT_SET(w->st.flow.created, fc->created);
		PC_STAT_SET(w->st.flow.active, fc->active);
		for (unsigned i = 0; i <= CAPTURE_END_SHUTDOWN; i++)
			PC_STAT_SET(w->st.flow.ended[i], fc->ended[i]);
	}
	publish_skips(w);
	PC_STAT_SET(w->st.last_ns, w->now_ns);
}

static bool count_reached(struct capture *c, unsigned *n)
{
	uint64_t max = c->cfg.max_packets, prev;

	if (!max)
		return false;
	prev = atomic_fetch_add(&c->counted, *n);
	if (prev >= max) {
		*n = 0;
		return true;
	}
	if (prev + *n >= max) {
		*n = (unsigned)(max - prev);
		return true;
	}
	return false;
}

static void worker_finish(struct pc_worker *w)
{
	struct capture *c = w->c;

	if (w->ft) {
		/* end time: the newest packet of the whole input, or now when live */
		uint64_t now = w->now_ns;

		if (c->dispatch && atomic_load(&c->dispatch_done) && c->disp.now_ns > now)
			now = c->disp.now_ns;
		if (!c->cap.offline && wall_ns() > now)
			now = wall_ns();
		if (atomic_load(&c->graceful))
			pc_flow_flush(w->ft, now, CAPTURE_END_SHUTDOWN, emit_record, w);
		else
			PC_STAT_ADD(w->st.flows_dropped, pc_flow_clear(w->ft));
	}
	publish_flow_counters(w);
}

static bool should_stop(struct capture *c)
{
	if (atomic_load_explicit(&c->stop_req, memory_order_relaxed))
		return true;
	if (c->deadline_ns && mono_ns() >= c->deadline_ns) {
		atomic_store(&c->stop_req, true);
		return true;
	}
	return false;
}

static void worker_error(struct pc_worker *w, int rc)
{
	struct capture *c = w->c;

	if (!c->worker_err) {
		c->worker_err = rc;
		set_err(c, rc, "%s", c->cap.err[0] ? c->cap.err : capture_strerror(rc));
	}
	atomic_store(&c->stop_req, true);
}

/* A worker reading its own backend queue (live, or one worker on a file). */
static void *worker_main(void *arg)
{
	struct pc_worker *w = arg;
	struct capture *c = w->c;
	const struct pc_capture_ops *ops = c->cap.ops;
	struct pc_pkt pkts[PC_BURST];
	struct pc_meta m[PC_BURST];
	bool live = !c->cap.offline;

	while (!should_stop(c)) {
		int rc = ops->rx_burst(&c->cap, w->idx, pkts, PC_BURST, PC_RX_WAIT_MS);
		unsigned n, k;
		bool last = false;

		if (rc < 0) {
			if (rc != -CAPTURE_E_EOF)
				worker_error(w, rc);
			break;
		}
		n = (unsigned)rc;
		if (!n) {
			if (live) {
				uint64_t now = wall_ns();

				if (now > w->now_ns)
					w->now_ns = now;
			}
			if (w->ft)
				pc_flow_expire(w->ft, w->now_ns, 1u << 16, emit_record, w);
			serve_requests(w, SIZE_MAX);
			publish_flow_counters(w);
			continue;
		}
		last = count_reached(c, &n);
		k = prepare_burst(w, pkts, n, m);
		ops->rx_release(&c->cap, w->idx, (unsigned)rc);
		account_metas(w, m, k);
		if (w->ft)
			pc_flow_expire(w->ft, w->now_ns, 1024, emit_record, w);
		serve_requests(w, 8192);
		publish_flow_counters(w);
		if (last) {
			atomic_store(&c->stop_req, true);
			break;
		}
	}
	worker_finish(w);
	bpf_cache_release(&w->ufilter);
	bpf_cache_release(&w->wfilter);
	/* answer a request that raced with the end */
	if (atomic_load(&w->req_state) == PC_REQ_PENDING) {
		w->req_rc = 0;
		atomic_store(&w->req_state, PC_REQ_DONE);
	}
	atomic_store(&w->finished, true);
	atomic_fetch_sub(&c->workers_running, 1);
	return NULL;
}

/* Offline with several workers: one reader decodes and dispatches metas by a
 * symmetric address hash, so both directions and every fragment of a flow
 * meet in one shard. */
/* Packets the dispatcher decodes before handing them out: several bursts,
 * so each shard receives batches long enough for its pipelined lookup. */
#define DISPATCH_BATCH (4 * PC_BURST)

/* Hand @k decoded packets to their shards: sort by shard, then one ring
 * update per shard, waiting (a file can wait) while a shard's ring is full. */
static void dispatch(struct capture *c, const struct pc_meta *m, unsigned k, struct pc_meta *stage,
		     unsigned *nstage)
{
	unsigned i;

	for (i = 0; i < c->nworkers; i++)
		nstage[i] = 0;
	for (i = 0; i < k; i++) {
		unsigned q = pc_flow_key_sym_hash(&m[i].key, c->seed) % c->nworkers;

		stage[q * DISPATCH_BATCH + nstage[q]++] = m[i];
	}
	for (i = 0; i < c->nworkers; i++) {
		size_t done = 0;
		unsigned spins = 0;

		while (done < nstage[i]) {
			done += pc_ring_push_n(&c->w[i].in, &stage[i * DISPATCH_BATCH + done],
					       nstage[i] - done);
			if (done < nstage[i]) {
				if (atomic_load(&c->stop_req) && !atomic_load(&c->graceful))
					break;
				/* the shard drains in microseconds: spin, do not sleep */
				if (spins++ < 4096)
					pc_cpu_relax();
				else
					sched_yield();
			}
		}
	}
}

static void *dispatch_main(void *arg)
{
	struct pc_worker *d = arg; /* the dispatcher's own stats block */
	struct capture *c = d->c;
	const struct pc_capture_ops *ops = c->cap.ops;
	struct pc_pkt pkts[PC_BURST];
	struct pc_meta m[DISPATCH_BATCH];
	struct pc_meta *stage = malloc(sizeof(*stage) * DISPATCH_BATCH * c->nworkers);
	unsigned nstage[PC_MAX_WORKERS];
	unsigned k = 0;

	if (!stage) {
		worker_error(d, -ENOMEM);
		atomic_store(&c->dispatch_done, true);
		return NULL;
	}
	while (!should_stop(c)) {
		int rc = ops->rx_burst(&c->cap, 0, pkts, PC_BURST, 100);
		unsigned n;
		bool last;

		if (rc < 0) {
			if (rc != -CAPTURE_E_EOF)
				worker_error(d, rc);
			break;
		}
		n = (unsigned)rc;
		last = count_reached(c, &n);
		/* metas copy what they need: the views may go at the next burst */
		k += prepare_burst(d, pkts, n, m + k);
		ops->rx_release(&c->cap, 0, (unsigned)rc);
		if (k > DISPATCH_BATCH - PC_BURST || last || !n) {
			dispatch(c, m, k, stage, nstage);
			k = 0;
			publish_skips(d);
			PC_STAT_SET(d->st.last_ns, d->now_ns);
		}
		if (last) {
			atomic_store(&c->stop_req, true);
			break;
		}
	}
	dispatch(c, m, k, stage, nstage);
	free(stage);
	publish_skips(d);
	PC_STAT_SET(d->st.last_ns, d->now_ns);
	bpf_cache_release(&d->ufilter);
	bpf_cache_release(&d->wfilter);
	atomic_store(&c->dispatch_done, true);
	return NULL;
}

/* A worker fed by the dispatcher. */
static void *shard_main(void *arg)
{
	struct pc_worker *w = arg;
	struct capture *c = w->c;
	struct pc_meta m[DISPATCH_BATCH];
	unsigned spins = 0;

	for (;;) {
		size_t k = pc_ring_pop(&w->in, m, DISPATCH_BATCH);
		unsigned i;

		if (!k) {
			if (atomic_load(&c->dispatch_done) && pc_ring_empty(&w->in))
				break;
			if (atomic_load(&c->stop_req) && !atomic_load(&c->graceful))
				break;
			serve_requests(w, SIZE_MAX);
			backoff(&spins);
			continue;
		}
		spins = 0;
		for (i = 0; i < k; i++)
			if (m[i].ts_ns > w->now_ns)
				w->now_ns = m[i].ts_ns;
		account_metas(w, m, (unsigned)k);
		if (w->ft)
			pc_flow_expire(w->ft, w->now_ns, 1024, emit_record, w);
		serve_requests(w, 8192);
		publish_flow_counters(w);
	}
	worker_finish(w);
	if (atomic_load(&w->req_state) == PC_REQ_PENDING) {
		w->req_rc = 0;
		atomic_store(&w->req_state, PC_REQ_DONE);
	}
	atomic_store(&w->finished, true);
	atomic_fetch_sub(&c->workers_running, 1);
	return NULL;
}

/* ---------------------------------------------------------------- start/stop */

static void release_workers(struct capture *c)
{
	unsigned i;

	if (!c->w)
		return;
	pthread_rwlock_wrlock(&c->stats_lock);
	for (i = 0; i < c->nworkers; i++) {
		struct pc_worker *w = &c->w[i];

		pc_flow_table_destroy(w->ft);
		pc_decoder_destroy(w->dec);
		pc_ring_release(&w->out);
		pc_ring_release(&w->in);
	}
	/* keep the last session's counters readable after the tables are gone */
	free(c->w_prev);
	c->w_prev = c->w;
	c->nworkers_prev = c->nworkers;
	c->w = NULL;
	pc_decoder_destroy(c->disp.dec);
	c->disp.dec = NULL;
	c->disp_prev = c->disp;
	pthread_rwlock_unlock(&c->stats_lock);
}

static int verify_artifacts(struct capture *c)
{
	size_t i;

	for (i = 0; i < c->nartifacts; i++) {
		struct pc_artifact *a = &c->artifacts[i];
		char detail[512];
		int r = capture_verify_firmware(a->image, a->sig, a->pubkey, &a->opts, detail,
						sizeof(detail));

		if (r != CAPTURE_VERIFY_VALID)
			return set_err(c, -CAPTURE_E_VERIFY,
				       "artifact %s failed verification: %s (%s)", a->image,
				       r < 0 ? capture_strerror(r) : capture_verify_result_name(r),
				       detail);
	}
	return 0;
}

static int start_writer(struct capture *c)
{
	struct pc_writer_params p;
	struct pc_crypt_key key;
	char err[512];
	int rc;

	if (!c->pout_enabled)
		return 0;
	memset(&p, 0, sizeof(p));
	p.dir = c->pout_dir;
	p.format = c->pout.format;
	p.rotate_bytes = c->pout.rotate_bytes;
	p.rotate_seconds = c->pout.rotate_seconds;
	p.max_files = c->pout.max_files;
	p.snaplen = c->pout.snaplen;
	p.queue_packets = c->pout.queue_packets;
	p.workers = c->dispatch ? 1 : c->nworkers;
	p.linktype = c->cap.linktype;
	p.log_fn = c->cfg.log_fn;
	p.log_ctx = c->cfg.log_ctx;
	p.log_level = c->cfg.log_level;
	if (c->enc_enabled) {
		rc = pc_crypt_key_load(&key, c->enc_keyfile, c->enc_cipher, err, sizeof(err));
		if (rc < 0)
			return set_err(c, rc, "%s", err);
		p.key = &key;
	}
	rc = pc_writer_create(&c->writer, &p, err, sizeof(err));
	if (c->enc_enabled)
		pc_crypt_key_wipe(&key);
	if (rc < 0)
		return set_err(c, rc, "%s", err);
	return 0;
}

static int setup_workers(struct capture *c)
{
	unsigned i;
	int rc;

	c->w = calloc(c->nworkers, sizeof(*c->w));
	if (!c->w)
		return -ENOMEM;
	memset(&c->disp, 0, sizeof(c->disp));
	c->disp.c = c;
	for (i = 0; i < c->nworkers; i++) {
		struct pc_worker *w = &c->w[i];

		w->c = c;
		w->idx = i;
		w->writer_slot = i;
		rc = pc_ring_init(&w->out, c->cfg.export_queue, sizeof(struct capture_flow));
		if (rc)
			return rc;
		if (c->dispatch) {
			rc = pc_ring_init(&w->in, 65536, sizeof(struct pc_meta));
			if (rc)
				return rc;
		} else {
			rc = pc_decoder_create(&w->dec, 0, 0);
			if (rc)
				return rc;
		}
		if (c->flow_enabled) {
			struct pc_flow_params fp = {
				.slots = (c->fcfg.table_size + c->nworkers - 1) / c->nworkers,
				.idle_ns = c->fcfg.idle_timeout_ms
						   ? (uint64_t)c->fcfg.idle_timeout_ms * 1000000ull
						   : (uint64_t)c->fcfg.idle_timeout_sec *
							     1000000000ull,
				.active_ns = (uint64_t)c->fcfg.active_timeout_sec * 1000000000ull,
				.uniflow = c->fcfg.uniflow,
				.worker = (uint16_t)i,
				.seed = { c->seed[0], c->seed[1] },
			};

			rc = pc_flow_table_create(&w->ft, &fp);
			if (rc)
				return rc;
		}
	}
	if (c->dispatch) {
		c->disp.writer_slot = 0;
		rc = pc_decoder_create(&c->disp.dec, 0, 0);
		if (rc)
			return rc;
	}
	return 0;
}

CAPTURE_API int capture_start(struct capture *c)
{
	char why[512] = "";
	unsigned i;
	int rc, st;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->ctl_lock);
	st = atomic_load(&c->state);
	if (st == CAPTURE_STATE_RUNNING) {
		rc = set_err(c, -CAPTURE_E_STATE, "capture is already running");
		goto unlock;
	}
	if (c->threads_live) {
		rc = set_err(c, -CAPTURE_E_STATE, "stop the previous session first");
		goto unlock;
	}
	c->errmsg[0] = 0;
	/* cleared before the (possibly slow) open: a stop asked for meanwhile,
	 * say a Ctrl-C, ends the session as soon as it starts */
	atomic_store(&c->stop_req, false);
	rc = verify_artifacts(c);
	if (rc)
		goto unlock;
	memset(&c->params, 0, sizeof(c->params));
	c->params.interface = c->cfg.interface;
	c->params.pcap_file = c->cfg.pcap_file;
	c->params.filter = c->cfg.filter;
	c->params.decrypt_key_file = c->cfg.decrypt_key_file;
	c->params.snaplen = c->cfg.snaplen;
	c->params.buffer_size_mb = c->cfg.buffer_size_mb;
	c->params.workers = c->cfg.workers;
	c->params.promiscuous = c->cfg.promiscuous;
	c->params.tstamp = c->cfg.tstamp;
	c->params.log_fn = c->cfg.log_fn;
	c->params.log_ctx = c->cfg.log_ctx;
	c->params.log_level = c->cfg.log_level;
	memset(&c->cap, 0, sizeof(c->cap));
	rc = pc_capture_open(&c->cap, c->cfg.backend, &c->params, why, sizeof(why));
	if (rc < 0) {
		set_err(c, rc, "%s",
			c->cap.err[0] ? c->cap.err : (why[0] ? why : capture_strerror(rc)));
		goto unlock;
	}
	pthread_mutex_lock(&c->err_lock);
	snprintf(c->why, sizeof(c->why), "%s", why);
	snprintf(c->last_backend, sizeof(c->last_backend), "%s", c->cap.ops->name);
	snprintf(c->tstamp_source, sizeof(c->tstamp_source), "%s", c->cap.tstamp_source);
	snprintf(c->tstamp_detail, sizeof(c->tstamp_detail), "%s", c->cap.tstamp_detail);
	snprintf(c->cap_mode, sizeof(c->cap_mode), "%s", c->cap.mode);
	pthread_mutex_unlock(&c->err_lock);
	if (c->cfg.user && *c->cfg.user) {
		char err[256];

		rc = pc_drop_privileges(c->cfg.user, err, sizeof(err));
		if (rc < 0) {
			set_err(c, rc, "%s", err);
			goto close_cap;
		}
	}
	if (c->cfg.filter && !c->cap.filter_applied) {
		/* compile for the input's link type now: refuse before capture */
		struct pc_bpf *f;

		rc = pc_bpf_create(&f, c->cfg.filter, c->cap.linktype, c->cfg.snaplen, c->errmsg,
				   sizeof(c->errmsg));
		if (rc < 0)
			goto close_cap;
		pc_bpf_destroy(f);
	}
	c->dispatch = c->cap.nqueues == 1 && c->cfg.workers > 1;
	c->nworkers = c->dispatch ? c->cfg.workers : c->cap.nqueues;
	if (!c->nworkers)
		c->nworkers = 1;
	rc = setup_workers(c);
	if (rc < 0) {
		set_err(c, rc, "cannot allocate the flow tables and queues: %s",
			capture_strerror(rc));
		goto free_workers;
	}
	if (c->flow_enabled && c->fcfg.ended_ring_size && !c->ended) {
		c->ended = calloc(c->fcfg.ended_ring_size, sizeof(*c->ended));
		if (!c->ended) {
			rc = set_err(c, -ENOMEM, "cannot allocate the ended-flow ring");
			goto free_workers;
		}
		c->ended_cap = c->fcfg.ended_ring_size;
	}
	pthread_mutex_lock(&c->ended_lock);
	c->ended_head = c->ended_count = 0;
	pthread_mutex_unlock(&c->ended_lock);
	rc = start_writer(c);
	if (rc < 0)
		goto free_workers;
	memset(&c->exp_done, 0, sizeof(c->exp_done));
	c->export_open_errors = 0;
	open_exporters(c);
	c->worker_err = 0;
	atomic_store(&c->counted, 0);
	atomic_store(&c->graceful, true);
	atomic_store(&c->dispatch_done, false);
	atomic_store(&c->export_delivered, 0);
	c->deadline_ns = c->cfg.duration_sec && !c->cap.offline
				 ? mono_ns() + (uint64_t)c->cfg.duration_sec * 1000000000ull
				 : 0;
	c->start_ns = wall_ns();
	c->stop_ns = 0;
	atomic_store(&c->workers_running, (int)c->nworkers);
	/* the export thread first: a file's workers wait on it */
	rc = pthread_create(&c->export_th, NULL, export_main, c);
	if (rc) {
		set_err(c, -rc, "cannot start the export thread: %s", strerror(rc));
		rc = -rc;
		close_exporters(c);
		goto free_workers;
	}
	atomic_store(&c->state, CAPTURE_STATE_RUNNING);
	for (i = 0; i < c->nworkers; i++) {
		rc = pthread_create(&c->w[i].th, NULL, c->dispatch ? shard_main : worker_main,
				    &c->w[i]);
		if (rc) {
			/* no thread: account it as finished so the others can wind down */
			atomic_store(&c->stop_req, true);
			atomic_fetch_sub(&c->workers_running, 1);
			set_err(c, -rc, "cannot start worker %u: %s", i, strerror(rc));
			continue;
		}
		c->w[i].started = true;
	}
	if (c->dispatch && pthread_create(&c->dispatch_th, NULL, dispatch_main, &c->disp) == 0)
		c->dispatch_started = true;
	else if (c->dispatch)
		atomic_store(&c->dispatch_done, true);
	c->threads_live = true;
	pc_log(c, CAPTURE_LOG_INFO, "capture started: backend %s, %u worker(s)%s%s",
	       c->cap.ops->name, c->nworkers, c->why[0] ? ": " : "", c->why);
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;

free_workers:
	if (c->writer) {
		pc_writer_destroy(c->writer);
		c->writer = NULL;
	}
	release_workers(c);
close_cap:
	pc_capture_close(&c->cap);
unlock:
	pthread_mutex_unlock(&c->ctl_lock);
	return rc;
}

/* Join every thread and close the session (ctl_lock held). */
static void join_session(struct capture *c, int final_state)
{
	unsigned i;

	if (!c->threads_live)
		return;
	if (c->dispatch_started)
		pthread_join(c->dispatch_th, NULL);
	c->dispatch_started = false;
	for (i = 0; i < c->nworkers; i++)
		if (c->w[i].started)
			pthread_join(c->w[i].th, NULL);
	pthread_join(c->export_th, NULL);
	if (c->writer) {
		struct pc_writer_stats ws;

		pc_writer_stop(c->writer);
		pc_writer_get_stats(c->writer, &ws);
		pc_writer_destroy(c->writer);
		c->writer_done = ws;
		c->writer = NULL;
	}
	/* kernel counters are only readable while the backend is open: take
	 * the final values now, after the workers' last reads */
	memset(&c->kstats_done, 0, sizeof(c->kstats_done));
	pc_kernel_stats(c, &c->kstats_done);
	pc_capture_close(&c->cap);
	release_workers(c);
	c->threads_live = false;
	c->stop_ns = wall_ns();
	if (c->worker_err)
		final_state = CAPTURE_STATE_FAILED;
	atomic_store(&c->state, final_state);
}

CAPTURE_API int capture_poll(struct capture *c, int timeout_ms)
{
	uint64_t deadline =
		timeout_ms < 0 ? UINT64_MAX : mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	int st;

	if (!c)
		return -EINVAL;
	for (;;) {
		st = atomic_load(&c->state);
		if (st != CAPTURE_STATE_RUNNING)
			break;
		if (atomic_load(&c->workers_running) == 0) {
			/* the session ended by itself (end of file, --count, duration,
			 * a fatal error): collect the threads */
			pthread_mutex_lock(&c->ctl_lock);
			if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING)
				join_session(c, c->cap.offline && !atomic_load(&c->stop_req)
							? CAPTURE_STATE_DONE
							: (c->cap.offline ? CAPTURE_STATE_DONE
									  : CAPTURE_STATE_STOPPED));
			pthread_mutex_unlock(&c->ctl_lock);
			continue;
		}
		if (mono_ns() >= deadline)
			return CAPTURE_STATE_RUNNING;
		sleep_us(2000);
	}
	if (st == CAPTURE_STATE_FAILED)
		return c->worker_err ? c->worker_err : -CAPTURE_E_STATE;
	return st;
}

CAPTURE_API void capture_request_stop(struct capture *c)
{
	if (c)
		atomic_store(&c->stop_req, true);
}

CAPTURE_API int capture_stop(struct capture *c, bool graceful)
{
	int st;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->ctl_lock);
	st = atomic_load(&c->state);
	if (st != CAPTURE_STATE_RUNNING && !c->threads_live) {
		pthread_mutex_unlock(&c->ctl_lock);
		return set_err(c, -CAPTURE_E_STATE, "capture is not running");
	}
	atomic_store(&c->graceful, graceful);
	atomic_store(&c->stop_req, true);
	join_session(c, st == CAPTURE_STATE_RUNNING ? CAPTURE_STATE_STOPPED : st);
	pthread_mutex_unlock(&c->ctl_lock);
	return c->worker_err && graceful ? c->worker_err : 0;
}

CAPTURE_API void capture_destroy(struct capture *c)
{
	size_t i;

	if (!c)
		return;
	if (c->threads_live)
		capture_stop(c, false);
	free(c->w_prev);
	free(c->ended);
	for (i = 0; i < c->nartifacts; i++) {
		free(c->artifacts[i].image);
		free(c->artifacts[i].sig);
		free(c->artifacts[i].pubkey);
		free(c->artifacts[i].digest);
	}
	free(c->artifacts);
	free_config_strings(c);
	pthread_mutex_destroy(&c->err_lock);
	pthread_mutex_destroy(&c->ctl_lock);
	pthread_mutex_destroy(&c->exp_lock);
	pthread_mutex_destroy(&c->ended_lock);
	pthread_mutex_destroy(&c->req_lock);
	pthread_rwlock_destroy(&c->stats_lock);
	free(c);
}

/* ---------------------------------------------------------------- storage config */

CAPTURE_API int capture_pcap_out_enable(struct capture *c,
					const struct capture_pcap_out_config *cfg)
{
	struct capture_pcap_out_config p;

	if (!c || !cfg)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	memcpy(&p, cfg, cfg->sz < sizeof(p) ? cfg->sz : sizeof(p));
	if (!p.dir || !*p.dir)
		return set_err(c, -CAPTURE_E_CONFIG, "packet output needs a directory");
	if (p.format > CAPTURE_PCAP_FORMAT_PCAPNG)
		return set_err(c, -CAPTURE_E_CONFIG, "unknown packet file format %u", p.format);
	if (p.filter && *p.filter) {
		struct pc_bpf *f;
		int rc = pc_bpf_create(&f, p.filter, PC_DLT_EN10MB, 262144, c->errmsg,
				       sizeof(c->errmsg));

		if (rc < 0)
			return rc;
		pc_bpf_destroy(f);
	}
	pthread_mutex_lock(&c->ctl_lock);
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING) {
		pthread_mutex_unlock(&c->ctl_lock);
		return set_err(c, -CAPTURE_E_STATE,
			       "packet output can only be enabled before capture starts");
	}
	free(c->pout_dir);
	free(c->pout_filter);
	c->pout = p;
	c->pout_dir = strdup(p.dir);
	c->pout_filter = p.filter && *p.filter ? strdup(p.filter) : NULL;
	c->pout.dir = c->pout_dir;
	c->pout.filter = c->pout_filter;
	c->pout_enabled = true;
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;
}

CAPTURE_API int capture_set_encryption(struct capture *c,
				       const struct capture_encryption_config *cfg)
{
	struct capture_encryption_config e;
	struct pc_crypt_key key;
	char err[512];
	int rc;

	if (!c || !cfg)
		return -EINVAL;
	memset(&e, 0, sizeof(e));
	memcpy(&e, cfg, cfg->sz < sizeof(e) ? cfg->sz : sizeof(e));
	if (!e.key_file || !*e.key_file)
		return set_err(c, -CAPTURE_E_KEY, "encryption needs a key file");
	if (e.cipher > CAPTURE_CIPHER_CHACHA20_POLY1305)
		return set_err(c, -CAPTURE_E_CONFIG, "unknown cipher %u", e.cipher);
	/* load once now so a bad key file is refused at once */
	rc = pc_crypt_key_load(&key, e.key_file, e.cipher, err, sizeof(err));
	if (rc < 0)
		return set_err(c, rc, "%s", err);
	pc_crypt_key_wipe(&key);
	pthread_mutex_lock(&c->ctl_lock);
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING) {
		pthread_mutex_unlock(&c->ctl_lock);
		return set_err(c, -CAPTURE_E_STATE,
			       "encryption applies from the next start (stop the capture first)");
	}
	free(c->enc_keyfile);
	c->enc_keyfile = strdup(e.key_file);
	c->enc_cipher = e.cipher;
	c->enc_enabled = true;
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;
}

CAPTURE_API int capture_add_artifact(struct capture *c, const char *image, const char *signature,
				     const char *public_key, const struct capture_verify_opts *opts)
{
	struct pc_artifact *a, *na;

	if (!c || !image || !signature || !public_key)
		return -EINVAL;
	na = realloc(c->artifacts, (c->nartifacts + 1) * sizeof(*na));
	if (!na)
		return -ENOMEM;
	c->artifacts = na;
	a = &na[c->nartifacts];
	memset(a, 0, sizeof(*a));
	a->image = strdup(image);
	a->sig = strdup(signature);
	a->pubkey = strdup(public_key);
	a->opts.sz = sizeof(a->opts);
	if (opts) {
		memcpy(&a->opts, opts, opts->sz < sizeof(a->opts) ? opts->sz : sizeof(a->opts));
		a->opts.sz = sizeof(a->opts);
		a->digest = opts->digest ? strdup(opts->digest) : NULL;
		a->opts.digest = a->digest;
	}
	c->nartifacts++;
	return 0;
}
