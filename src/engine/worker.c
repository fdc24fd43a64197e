/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker threads: the packet path. Per packet, in order:
 *
 *   ops->rx_burst                 backend hands a burst of views (capture/)
 *   prepare_burst                 per packet:
 *     pc_bpf_match                  user-space filter when the kernel has none
 *     pc_writer_submit[_wait]       packet storage (store/), before decode
 *     pc_decode                     headers -> struct pc_meta (decode/)
 *   pc_flow_update_burst          metas -> flow table shard (flow/); payload
 *                                 inspection reads the views through meta.l3
 *   ops->rx_release               views go back to the backend
 *   pc_flow_expire -> emit_record ended flows -> SPSC ring -> export thread
 *   pc_engine_serve_requests      control-plane snapshot/lookup (control.c)
 *   publish_flow_counters         counters for readers on other threads
 *
 * Workers never lock, allocate or log per packet. Offline with several
 * workers, one dispatcher thread decodes and hands metas to shard threads
 * by a symmetric address hash.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/clock.h"

/* Wait for a peer thread: spin briefly (it is usually a burst away), then
 * yield the CPU with short sleeps rather than sched_yield storms. */
static void backoff(unsigned *spins)
{
	if (*spins < 64)
		pc_cpu_relax();
	else if (*spins < 96)
		sched_yield();
	else
		pc_sleep_us(*spins < 256 ? 10 : 100);
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

/* --sample N: true for the packets that are metered, one in N (every N-th, from
 * the first, or each with probability 1/N). The others are counted as skipped. */
static bool sampled_in(struct pc_worker *w, uint32_t n)
{
	uint64_t x;

	if (!w->c->cfg.sample_random) {
		if (w->sample_left) {
			w->sample_left--;
			return false;
		}
		w->sample_left = n - 1;
		return true;
	}
	x = w->sample_rng; /* xorshift64, seeded per session and thread */
	if (pc_unlikely(!x))
		x = (w->c->seed[0] ^ ((uint64_t)w->idx + 1) * 0x9e3779b97f4a7c15ull) | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->sample_rng = x;
	return ((x >> 32) * n) >> 32 == 0;
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
		if (c->cfg.sample_rate > 1 && !sampled_in(w, c->cfg.sample_rate)) {
			w->skipped[CAPTURE_SKIP_SAMPLED_OUT]++;
			continue;
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
		PC_STAT_SET(w->st.tunnel_frags, ds->tunnel_fragments);
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
	if (w->insp) {
		const struct pc_inspect_counters *ic = pc_inspect_counters(w->insp);

		PC_STAT_SET(w->st.insp.flows, ic->flows);
		PC_STAT_SET(w->st.insp.pool_full, ic->pool_full);
		PC_STAT_SET(w->st.insp.dpi_flows, ic->dpi_flows);
		PC_STAT_SET(w->st.insp.dpi_pool_full, ic->dpi_pool_full);
		PC_STAT_SET(w->st.insp.dpi_identified, ic->dpi_identified);
		PC_STAT_SET(w->st.insp.reassembly_gaps, ic->reassembly_gaps);
		PC_STAT_SET(w->st.insp.reclaimed, ic->reclaimed);
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
		if (!c->cap.offline && pc_wall_ns() > now)
			now = pc_wall_ns();
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
	if (c->deadline_ns && pc_mono_ns() >= c->deadline_ns) {
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
		pc_engine_err(c, rc, "%s", c->cap.err[0] ? c->cap.err : capture_strerror(rc));
	}
	atomic_store(&c->stop_req, true);
}

/* A worker reading its own backend queue (live, or one worker on a file). */
void *pc_engine_worker_main(void *arg)
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
				uint64_t now = pc_wall_ns();

				if (now > w->now_ns)
					w->now_ns = now;
			}
			if (w->ft)
				pc_flow_expire(w->ft, w->now_ns, 1u << 16, emit_record, w);
			pc_engine_serve_requests(w, false);
			publish_flow_counters(w);
			continue;
		}
		last = count_reached(c, &n);
		k = prepare_burst(w, pkts, n, m);
		account_metas(w, m, k); /* before the release: meta.l3 points into the views */
		ops->rx_release(&c->cap, w->idx, (unsigned)rc);
		if (w->ft)
			pc_flow_expire(w->ft, w->now_ns, 1024, emit_record, w);
		pc_engine_serve_requests(w, rc == PC_BURST);
		publish_flow_counters(w);
		if (last) {
			atomic_store(&c->stop_req, true);
			break;
		}
	}
	worker_finish(w);
	bpf_cache_release(&w->ufilter);
	bpf_cache_release(&w->wfilter);
	atomic_store(&w->finished, true);
	pc_engine_answer_pending(w);
	atomic_fetch_sub(&c->workers_running, 1);
	return NULL;
}

/* Offline with several workers: one reader decodes and dispatches metas by a
 * symmetric address hash, so both directions and every fragment of a flow
 * meet in one shard. */
/* Packets the dispatcher decodes before handing them out: several bursts,
 * so each shard receives batches long enough for its pipelined lookup. */
#define DISPATCH_BATCH PC_DISPATCH_BATCH

/* Ring element size: a meta, or a meta with its payload copy. */
static size_t dispatch_esz(const struct capture *c)
{
	return c->dispatch_copy ? sizeof(struct pc_meta_copy) : sizeof(struct pc_meta);
}

/* Payload inspection: metas [@from, @to) keep their packet's first bytes in
 * @bytes, since the views go back before the shards see them. */
static void keep_bytes(struct pc_meta *m, uint8_t (*bytes)[PC_INSPECT_COPY], unsigned from,
		       unsigned to)
{
	for (; from < to; from++) {
		if (!m[from].l3)
			continue;
		if (m[from].l3_cap > PC_INSPECT_COPY)
			m[from].l3_cap = PC_INSPECT_COPY;
		memcpy(bytes[from], m[from].l3, m[from].l3_cap);
		m[from].l3 = bytes[from];
	}
}

/* Hand @k decoded packets to their shards: sort by shard, then one ring
 * update per shard, waiting (a file can wait) while a shard's ring is full. */
static void dispatch(struct capture *c, const struct pc_meta *m, unsigned k, uint8_t *stage,
		     unsigned *nstage)
{
	size_t esz = dispatch_esz(c);
	unsigned i;

	for (i = 0; i < c->nworkers; i++)
		nstage[i] = 0;
	for (i = 0; i < k; i++) {
		unsigned q = pc_flow_key_sym_hash(&m[i].key, c->seed) % c->nworkers;
		uint8_t *e = stage + (q * DISPATCH_BATCH + nstage[q]++) * esz;

		memcpy(e, &m[i], sizeof(m[i]));
		if (c->dispatch_copy && m[i].l3)
			memcpy(e + offsetof(struct pc_meta_copy, l3), m[i].l3, m[i].l3_cap);
		else if (!c->dispatch_copy)
			((struct pc_meta *)e)->l3 = NULL; /* its view is gone by now */
	}
	for (i = 0; i < c->nworkers; i++) {
		size_t done = 0;
		unsigned spins = 0;

		while (done < nstage[i]) {
			done += pc_ring_push_n(&c->w[i].in,
					       stage + (i * DISPATCH_BATCH + done) * esz,
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

void *pc_engine_dispatch_main(void *arg)
{
	struct pc_worker *d = arg; /* the dispatcher's own stats block */
	struct capture *c = d->c;
	const struct pc_capture_ops *ops = c->cap.ops;
	struct pc_pkt pkts[PC_BURST];
	struct pc_meta m[DISPATCH_BATCH];
	uint8_t *stage = malloc(dispatch_esz(c) * DISPATCH_BATCH * c->nworkers);
	uint8_t(*bytes)[PC_INSPECT_COPY] =
		c->dispatch_copy ? malloc(sizeof(*bytes) * DISPATCH_BATCH) : NULL;
	unsigned nstage[PC_MAX_WORKERS];
	unsigned k = 0;

	if (!stage || (c->dispatch_copy && !bytes)) {
		free(stage);
		free(bytes);
		worker_error(d, -ENOMEM);
		atomic_store(&c->dispatch_done, true);
		return NULL;
	}
	while (!should_stop(c)) {
		int rc = ops->rx_burst(&c->cap, 0, pkts, PC_BURST, 100);
		unsigned n, got;
		bool last;

		if (rc < 0) {
			if (rc != -CAPTURE_E_EOF)
				worker_error(d, rc);
			break;
		}
		n = (unsigned)rc;
		last = count_reached(c, &n);
		/* metas copy what they need: the views may go at the next burst */
		got = prepare_burst(d, pkts, n, m + k);
		if (bytes)
			keep_bytes(m, bytes, k, k + got);
		k += got;
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
	free(bytes);
	publish_skips(d);
	PC_STAT_SET(d->st.last_ns, d->now_ns);
	bpf_cache_release(&d->ufilter);
	bpf_cache_release(&d->wfilter);
	atomic_store(&c->dispatch_done, true);
	return NULL;
}

/* A worker fed by the dispatcher. */
void *pc_engine_shard_main(void *arg)
{
	struct pc_worker *w = arg;
	struct capture *c = w->c;
	struct pc_meta m[DISPATCH_BATCH];
	unsigned spins = 0;

	for (;;) {
		size_t k = pc_ring_pop(&w->in, w->mcopy ? (void *)w->mcopy : (void *)m,
				       DISPATCH_BATCH);
		unsigned i;

		if (!k) {
			if (atomic_load(&c->dispatch_done) && pc_ring_empty(&w->in))
				break;
			if (atomic_load(&c->stop_req) && !atomic_load(&c->graceful))
				break;
			pc_engine_serve_requests(w, false);
			backoff(&spins);
			continue;
		}
		spins = 0;
		for (i = 0; w->mcopy && i < k; i++) {
			m[i] = w->mcopy[i].m;
			if (m[i].l3)
				m[i].l3 = w->mcopy[i].l3;
		}
		for (i = 0; i < k; i++)
			if (m[i].ts_ns > w->now_ns)
				w->now_ns = m[i].ts_ns;
		account_metas(w, m, (unsigned)k);
		if (w->ft)
			pc_flow_expire(w->ft, w->now_ns, 1024, emit_record, w);
		pc_engine_serve_requests(w, k == DISPATCH_BATCH);
		publish_flow_counters(w);
	}
	worker_finish(w);
	atomic_store(&w->finished, true);
	pc_engine_answer_pending(w);
	atomic_fetch_sub(&c->workers_running, 1);
	return NULL;
}
