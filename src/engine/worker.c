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
 *   pc_flow_expire -> records of ended flows built in place in an SPSC ring -> export thread
 *   pc_engine_serve_requests      control-plane snapshot/lookup (control.c)
 *   publish_flow_counters         counters for readers on other threads
 *
 * Workers never lock, allocate or log per packet. Live through a single
 * queue with several workers, one dispatcher thread decodes and hands metas
 * to shard threads by a symmetric address hash; offline with several
 * workers, parallel.c.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "flow/flow_agg.h"
#include "util/clock.h"
#include "util/futex.h"

/* Wait for a peer thread: spin briefly (it is usually a burst away), then
 * yield the CPU with short sleeps rather than sched_yield storms. */
static void pc_engine_backoff(unsigned *spins)
{
	if (*spins < 64)
		pc_cpu_relax();
	else if (*spins < 96)
		sched_yield();
	else
		pc_sleep_us(*spins < 256 ? 10 : 100);
	(*spins)++;
}

/* The export thread in a long nap (export_thread.c) is woken by the first
 * record after it: one wake-up per nap, not per record. */
static inline void wake_export(struct capture *c)
{
	if (pc_unlikely(atomic_load_explicit(&c->export_nap, memory_order_relaxed)) &&
	    atomic_exchange(&c->export_nap, 0))
		pc_futex_wake(&c->export_nap, 1);
}

#define SINK_WORKER(s, field) ((struct pc_worker *)((char *)(s)-offsetof(struct pc_worker, field)))

/* Records are built in place in the worker's export ring. From a file a full
 * ring is waited for (never lose a record to our own speed); live, the
 * record is built in w->drop and counted as dropped. */
static struct capture_flow *sink_get(struct pc_flow_sink *s)
{
	struct pc_worker *w = SINK_WORKER(s, sink);
	struct capture_flow *r = pc_ring_reserve(&w->out);
	unsigned spins = 0;

	if (pc_likely(r != NULL))
		return r;
	if (!w->c->cap.offline)
		return w->drop;
	while (!(r = pc_ring_reserve(&w->out)))
		pc_engine_backoff(&spins);
	return r;
}

static void sink_put(struct pc_flow_sink *s, struct capture_flow *rec)
{
	struct pc_worker *w = SINK_WORKER(s, sink);

	if (pc_unlikely(rec == w->drop)) {
		PC_STAT_ADD(w->st.export_queue_drops, 1);
		PC_STAT_ADD(w->st.packets_in_dropped_records, rec->packets + rec->rev_packets);
		return;
	}
	pc_ring_commit(&w->out);
	wake_export(w->c);
}

/* The flush at the end: no packet is read any more, so live waits too (the
 * export thread may be in a nap while every active flow ends at once). */
static struct capture_flow *final_get(struct pc_flow_sink *s)
{
	struct pc_worker *w = SINK_WORKER(s, sink_final);
	struct capture_flow *r;
	unsigned spins = 0;

	while (!(r = pc_ring_reserve(&w->out))) {
		wake_export(w->c);
		pc_engine_backoff(&spins);
	}
	return r;
}

static void final_put(struct pc_flow_sink *s, struct capture_flow *rec)
{
	struct pc_worker *w = SINK_WORKER(s, sink_final);

	(void)rec;
	pc_ring_commit(&w->out);
	wake_export(w->c);
}

int pc_engine_sinks_init(struct pc_worker *w)
{
	w->sink = (struct pc_flow_sink){ sink_get, sink_put };
	w->sink_final = (struct pc_flow_sink){ final_get, final_put };
	w->drop = malloc(sizeof(*w->drop));
	return w->drop ? 0 : -ENOMEM;
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

void pc_engine_bpf_release(struct pc_bpf_cache *bc)
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

/* The user-space capture filter (@ufilter: there is one), packet storage and
 * sampling for one packet, in input order: false when it is skipped (counted
 * in w->skipped). */
bool pc_engine_admit(struct pc_worker *w, const struct pc_pkt *p, bool ufilter)
{
	struct capture *c = w->c;

	if (ufilter) {
		struct pc_bpf *f = filter_for(w, &w->ufilter, c->cfg.filter, p->linktype);

		if (!f || !pc_bpf_match(f, p)) {
			w->skipped[CAPTURE_SKIP_FILTERED]++;
			return false;
		}
	}
	if (c->writer) {
		struct pc_bpf *f = c->pout_filter
					   ? filter_for(w, &w->wfilter, c->pout_filter, p->linktype)
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
		return false;
	}
	return true;
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
		if (!pc_engine_admit(w, p, ufilter))
			continue;
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

void pc_engine_publish_skips(struct pc_worker *w)
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

void pc_engine_account(struct pc_worker *w, struct pc_meta *m, unsigned k)
{
	if (!k)
		return;
	if (w->ft)
		pc_flow_update_burst(w->ft, m, k, &w->sink);
	else
		w->skipped[CAPTURE_SKIP_FLOW_DISABLED] += k;
}

/* Serve a flow snapshot / lookup request from the control plane, a slice
 * at a time so the packet path never stalls for long. */
void pc_engine_publish(struct pc_worker *w)
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
	pc_engine_publish_skips(w);
	PC_STAT_SET(w->st.last_ns, w->now_ns);
}

static bool pc_engine_count_reached(struct capture *c, unsigned *n)
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

void pc_engine_worker_finish(struct pc_worker *w)
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
			pc_flow_flush(w->ft, now, CAPTURE_END_SHUTDOWN, &w->sink_final);
		else
			PC_STAT_ADD(w->st.flows_dropped, pc_flow_clear(w->ft));
	}
	pc_engine_publish(w);
}

bool pc_engine_should_stop(struct capture *c)
{
	if (atomic_load_explicit(&c->stop_req, memory_order_relaxed))
		return true;
	if (c->deadline_ns && pc_mono_ns() >= c->deadline_ns) {
		atomic_store(&c->stop_req, true);
		return true;
	}
	return false;
}

void pc_engine_worker_error(struct pc_worker *w, int rc)
{
	struct capture *c = w->c;

	if (!c->worker_err) {
		c->worker_err = rc;
		pc_engine_err(c, rc, "%s", c->cap.err[0] ? c->cap.err : capture_strerror(rc));
	}
	atomic_store(&c->stop_req, true);
}

/* A backend that meters in the kernel (ebpf): apply the flow deltas it
 * harvested (it paces itself). @final, at stop: the kernel stops metering,
 * every delta comes out, then the packets it still queued for us. */
static void harvest_kernel(struct pc_worker *w, bool final, struct pc_pkt *pkts, struct pc_meta *m)
{
	struct capture *c = w->c;
	const struct pc_capture_ops *ops = c->cap.ops;
	struct pc_flow_agg agg[PC_BURST];
	unsigned x;
	int n, i, rc;

	if (!ops->harvest || w->idx != 0)
		return;
	while ((n = ops->harvest(&c->cap, w->idx, agg, PC_BURST, final)) > 0) {
		for (i = 0; i < n; i++) {
			/* read by the kernel for us: packets read like the handed-up ones */
			PC_STAT_ADD(w->st.packets_read, agg[i].d[0].pkts + agg[i].d[1].pkts);
			PC_STAT_ADD(w->st.bytes_read, agg[i].d[0].wire + agg[i].d[1].wire);
			x = (unsigned)(agg[i].d[0].pkts + agg[i].d[1].pkts);
			if (pc_engine_count_reached(c, &x)) /* --count: at harvest granularity */
				atomic_store(&c->stop_req, true);
			if (agg[i].d[0].last_ns > w->now_ns)
				w->now_ns = agg[i].d[0].last_ns;
			if (agg[i].d[1].last_ns > w->now_ns)
				w->now_ns = agg[i].d[1].last_ns;
			if (w->ft)
				pc_flow_apply_agg(w->ft, &agg[i], &w->sink);
			else
				w->skipped[CAPTURE_SKIP_FLOW_DISABLED] +=
					agg[i].d[0].pkts + agg[i].d[1].pkts;
		}
	}
	if (n < 0)
		pc_engine_worker_error(w, n);
	while (final && (rc = ops->rx_burst(&c->cap, w->idx, pkts, PC_BURST, 0)) > 0) {
		pc_engine_account(w, m, prepare_burst(w, pkts, (unsigned)rc, m));
		ops->rx_release(&c->cap, w->idx, (unsigned)rc);
	}
}

/* The next wait of a live worker that found nothing in @wait_ms: doubled up
 * to PC_RX_IDLE_WAIT_MS (a quiet link wakes it ~20 times a second, not 100),
 * PC_RX_WAIT_MS again while a control request is half served, and never past
 * the session's deadline. */
static int idle_wait_ms(struct pc_worker *w, int wait_ms)
{
	struct capture *c = w->c;
	uint64_t now, left_ms;

	if (c->cap.offline ||
	    atomic_load_explicit(&w->req_state, memory_order_relaxed) == PC_REQ_PENDING)
		return PC_RX_WAIT_MS;
	wait_ms = PC_MIN(wait_ms * 2, PC_RX_IDLE_WAIT_MS);
	if (c->deadline_ns) {
		now = pc_mono_ns();
		left_ms = now < c->deadline_ns ? (c->deadline_ns - now) / 1000000u + 1 : 1;
		if (left_ms < (uint64_t)wait_ms)
			wait_ms = (int)left_ms;
	}
	return wait_ms;
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
	int wait_ms = PC_RX_WAIT_MS;

	while (!pc_engine_should_stop(c)) {
		int rc;

		harvest_kernel(w, false, pkts, m);
		rc = ops->rx_burst(&c->cap, w->idx, pkts, PC_BURST, wait_ms);
		unsigned n, k;
		bool last = false;

		if (rc < 0) {
			if (rc != -CAPTURE_E_EOF)
				pc_engine_worker_error(w, rc);
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
				pc_flow_expire(w->ft, w->now_ns, 1u << 16, &w->sink);
			pc_engine_serve_requests(w, false);
			pc_engine_publish(w);
			wait_ms = idle_wait_ms(w, wait_ms);
			continue;
		}
		wait_ms = PC_RX_WAIT_MS;
		last = pc_engine_count_reached(c, &n);
		k = prepare_burst(w, pkts, n, m);
		pc_engine_account(w, m, k); /* before the release: meta.l3 points into the views */
		ops->rx_release(&c->cap, w->idx, (unsigned)rc);
		if (w->ft)
			pc_flow_expire(w->ft, w->now_ns, 1024, &w->sink);
		pc_engine_serve_requests(w, rc == PC_BURST);
		pc_engine_publish(w);
		if (last) {
			atomic_store(&c->stop_req, true);
			break;
		}
	}
	harvest_kernel(w, true, pkts, m);
	pc_engine_worker_finish(w);
	pc_engine_bpf_release(&w->ufilter);
	pc_engine_bpf_release(&w->wfilter);
	atomic_store(&w->finished, true);
	pc_engine_answer_pending(w);
	atomic_fetch_sub(&c->workers_running, 1);
	wake_export(c); /* it ends when the last worker has */
	return NULL;
}

/* Live through one queue with several workers: one reader decodes and
 * dispatches metas by a symmetric address hash, so both directions and every
 * fragment of a flow meet in one shard. */
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

/* The single reader's next burst of queue 0 (the dispatcher, parallel.c):
 * rx_burst's result, < 0 at the end (an error other than the end of the
 * input recorded); @n: the packets to take (--count), @last: the count is
 * reached with them. */
int pc_engine_read_burst(struct pc_worker *d, struct pc_pkt *pkts, unsigned *n, bool *last)
{
	struct capture *c = d->c;
	int rc = c->cap.ops->rx_burst(&c->cap, 0, pkts, PC_BURST, 100);

	if (rc < 0) {
		if (rc != -CAPTURE_E_EOF)
			pc_engine_worker_error(d, rc);
		return rc;
	}
	*n = (unsigned)rc;
	*last = pc_engine_count_reached(c, n);
	return rc;
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
		pc_engine_worker_error(d, -ENOMEM);
		atomic_store(&c->dispatch_done, true);
		return NULL;
	}
	while (!pc_engine_should_stop(c)) {
		unsigned n, got;
		bool last;
		int rc = pc_engine_read_burst(d, pkts, &n, &last);

		if (rc < 0)
			break;
		/* metas copy what they need: the views may go at the next burst */
		got = prepare_burst(d, pkts, n, m + k);
		if (bytes)
			keep_bytes(m, bytes, k, k + got);
		k += got;
		ops->rx_release(&c->cap, 0, (unsigned)rc);
		if (k > DISPATCH_BATCH - PC_BURST || last || !n) {
			dispatch(c, m, k, stage, nstage);
			k = 0;
			pc_engine_publish_skips(d);
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
	pc_engine_publish_skips(d);
	PC_STAT_SET(d->st.last_ns, d->now_ns);
	pc_engine_bpf_release(&d->ufilter);
	pc_engine_bpf_release(&d->wfilter);
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
			pc_engine_backoff(&spins);
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
		pc_engine_account(w, m, (unsigned)k);
		if (w->ft)
			pc_flow_expire(w->ft, w->now_ns, 1024, &w->sink);
		pc_engine_serve_requests(w, k == DISPATCH_BATCH);
		pc_engine_publish(w);
	}
	pc_engine_worker_finish(w);
	atomic_store(&w->finished, true);
	pc_engine_answer_pending(w);
	atomic_fetch_sub(&c->workers_running, 1);
	wake_export(c); /* it ends when the last worker has */
	return NULL;
}
