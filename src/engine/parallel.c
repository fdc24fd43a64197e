/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offline metering with several workers: reading is the only serial part.
 *
 *   reader (c->disp)   ops->rx_burst; --count; when packets are stored
 *                      or sampled, the filter, storage and sampling too, in
 *                      file order; copies the packets into batch t = 0, 1, ...
 *                      (buffer t % nb) and releases the backend's burst
 *   worker i           decodes the batches t with t % N == i (filter, decode,
 *                      symmetric address hash) and groups the metas by shard
 *                      in the batch; meters its own shard i from every batch
 *                      in order t = 0, 1, ..., so the packets of one flow keep
 *                      their order; the last shard done with a batch hands
 *                      its buffer back to the reader
 *
 * Metas point into the batch's copy of the packets (payload inspection reads
 * them there): a buffer is reused only when every shard has metered it.
 * Nothing blocks but on a batch not yet read or decoded, and the lowest such
 * batch always progresses, so there is no deadlock.
 *
 * IP fragments: the decode stage's fragment table sees only its own batches,
 * so a packet that is a fragment (or an unmatched later one) goes to its
 * shard undecoded and the shard decodes it with a decoder of its own, in
 * order. The shard hash (pc_flow_key_sym_hash) has no ports, so every
 * fragment of a datagram meets its flow there; a later fragment is routed by
 * the addresses, VLAN and IP version the decoder has filled before it finds
 * (or not) its first fragment. The fragment counters are the shards'.
 *
 * Accounting: a packet is counted read where it ends, so that conservation
 * holds per worker: by the reader when it skips it (filter, sampling), by
 * the decoding worker when decode skips it, by the shard that meters it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/futex.h"

#define PAR_PKTS 4096		/* packets a batch holds at most */
#define PAR_BYTES (1024u << 10) /* packet bytes a batch holds (more for a longer packet) */
/* a batch's bytes start at this and double, up to PAR_BYTES, each time it
 * fills by bytes before by packets: a short input never costs them all */
#define PAR_BYTES_START (64u << 10)
#define PAR_RAW 0x80000000u /* src[]: a fragment the shard decodes itself */

struct par_batch {
	_Atomic unsigned refs;	  /* shards yet to meter it; 0: the reader's */
	_Atomic uint64_t decoded; /* t + 1 once batch t is decoded and grouped */
	unsigned n;
	size_t used, cap;
	bool grow;     /* it filled by bytes: larger when taken next */
	uint8_t *data; /* the packets' bytes */
	struct pc_pkt pkt[PAR_PKTS];
	struct pc_meta m[PAR_PKTS]; /* shard j's: [off[j], off[j + 1]) */
	uint32_t src[PAR_PKTS];	    /* m[x]'s packet, | PAR_RAW: to be decoded by the shard */
	unsigned off[PC_MAX_WORKERS + 1];
};

/* A worker's own: its decode stage's scratch and what the others read. */
struct par_worker {
	_Atomic uint64_t dec_now; /* newest packet time its decode stage saw */
	_Atomic bool metered;	  /* its shard has metered every batch */
	struct pc_meta m[PAR_PKTS];
	uint32_t src[PAR_PKTS];
	uint8_t shard[PAR_PKTS];
} pc_cache_aligned;

struct pc_par {
	_Atomic uint64_t published; /* batches [0, published) are read */
	/* An event count: bumped when a batch is read, decoded or metered, so
	 * a thread with nothing to do sleeps in the kernel until then (not in
	 * short sleeps: each is a context switch) */
	_Atomic uint32_t ev pc_cache_aligned;
	_Atomic unsigned parked;
	unsigned nb; /* buffers: batch t is in b[t % nb] */
	struct par_batch *b;
	struct par_worker *pw;
	bool admit; /* the reader filters, stores and samples */
};

int pc_engine_par_create(struct capture *c)
{
	struct pc_par *par = calloc(1, sizeof(*par));
	unsigned i;

	if (!par)
		return -ENOMEM;
	c->par = par;
	/* enough that every worker can decode while the shards meter */
	par->nb = 2 * c->nworkers + 2;
	/* not zeroed whole (~600 KB a batch, ~450 KB a worker): every array is
	 * written before it is read, and zeroing them costs a session start a
	 * page fault per 4 KB (much more under AddressSanitizer) */
	par->b = malloc(sizeof(*par->b) * par->nb);
	par->pw = aligned_alloc(64, sizeof(*par->pw) * c->nworkers); /* a multiple of 64 */
	if (!par->b || !par->pw) {
		free(par->b);
		par->b = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < c->nworkers; i++) {
		atomic_init(&par->pw[i].dec_now, 0);
		atomic_init(&par->pw[i].metered, false);
	}
	for (i = 0; i < par->nb; i++) {
		atomic_init(&par->b[i].refs, 0);
		atomic_init(&par->b[i].decoded, 0);
		par->b[i].n = 0;
		par->b[i].used = 0;
		memset(par->b[i].off, 0, sizeof(par->b[i].off));
		par->b[i].data = NULL;
	}
	for (i = 0; i < par->nb; i++) {
		par->b[i].cap = PAR_BYTES_START;
		par->b[i].grow = false;
		par->b[i].data = malloc(PAR_BYTES_START);
		if (!par->b[i].data)
			return -ENOMEM;
	}
	/* fixed for the session (the writer is made after this, when enabled) */
	par->admit = c->pout_enabled || c->cfg.sample_rate > 1;
	return 0;
}

void pc_engine_par_destroy(struct capture *c)
{
	struct pc_par *par = c->par;
	unsigned i;

	if (!par)
		return;
	for (i = 0; par->b && i < par->nb; i++)
		free(par->b[i].data);
	free(par->b);
	free(par->pw);
	free(par);
	c->par = NULL;
}

/* Something a parked thread may wait for has happened: wake them. A system
 * call only when a thread is parked; at most a few per batch. */
static void signal_all(struct pc_par *par)
{
	atomic_fetch_add(&par->ev, 1);
	if (atomic_load(&par->parked))
		pc_futex_wake(&par->ev, INT_MAX);
}

/* Nothing to do since the event count read @seen (read before looking for
 * work): spin a little, then sleep until the next event, 10 ms at most (a
 * stop request or a flow snapshot is not an event). */
static void wait_event(struct pc_par *par, uint32_t seen, unsigned *spins)
{
	if ((*spins)++ < 512) {
		pc_cpu_relax();
		return;
	}
	*spins = 0;
	atomic_fetch_add(&par->parked, 1);
	if (atomic_load(&par->ev) == seen)
		pc_futex_wait(&par->ev, seen, PC_RX_WAIT_MS);
	atomic_fetch_sub(&par->parked, 1);
}

/* Whether the non-graceful stop asked for ends the session now. */
static bool abandon(struct capture *c)
{
	return atomic_load(&c->stop_req) && !atomic_load(&c->graceful);
}

/* Reader: batch @t's buffer once every shard is done with it (NULL: the
 * session is abandoned), room made for a packet of @caplen bytes. */
static struct par_batch *take(struct capture *c, uint64_t t, uint32_t caplen)
{
	struct par_batch *b = &c->par->b[t % c->par->nb];
	unsigned spins = 0;

	for (;;) {
		uint32_t seen = atomic_load(&c->par->ev);

		if (!atomic_load_explicit(&b->refs, memory_order_acquire))
			break;
		if (abandon(c))
			return NULL;
		wait_event(c->par, seen, &spins);
	}
	if (caplen > b->cap || (b->grow && b->cap < PAR_BYTES)) {
		/* doubled after it filled by bytes; a packet longer than any
		 * before (rare) gets what it needs */
		size_t want = b->grow ? PC_MIN(b->cap * 2, (size_t)PAR_BYTES) : b->cap;
		uint8_t *d;

		want = PC_MAX(want, (size_t)caplen);
		d = malloc(want);
		if (!d)
			return NULL;
		free(b->data);
		b->data = d;
		b->cap = want;
	}
	b->grow = false;
	b->n = 0;
	b->used = 0;
	return b;
}

static void publish(struct capture *c, struct par_batch *b)
{
	atomic_store_explicit(&b->refs, c->nworkers, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->par->published, 1, memory_order_release);
	signal_all(c->par);
}

void *pc_engine_par_read_main(void *arg)
{
	struct pc_worker *d = arg; /* the reader's stats block */
	struct capture *c = d->c;
	struct pc_par *par = c->par;
	const struct pc_capture_ops *ops = c->cap.ops;
	bool ufilter = c->cfg.filter && !c->cap.filter_applied;
	struct pc_pkt pkts[PC_BURST];
	struct par_batch *b = NULL;
	uint64_t t = 0;

	while (!pc_engine_should_stop(c)) {
		uint64_t skipped = 0, skipped_bytes = 0;
		unsigned n, i;
		bool last;
		int rc = pc_engine_read_burst(d, pkts, &n, &last);

		if (rc < 0)
			break;
		for (i = 0; i < n; i++) {
			const struct pc_pkt *p = &pkts[i];
			struct pc_pkt *q;

			if (par->admit && !pc_engine_admit(d, p, ufilter)) {
				skipped++;
				skipped_bytes += p->wirelen;
				continue;
			}
			if (b && (b->n == PAR_PKTS || b->cap - b->used < p->caplen)) {
				b->grow = b->n < PAR_PKTS;
				publish(c, b);
				b = NULL;
				t++;
			}
			if (!b) {
				b = take(c, t, p->caplen);
				if (!b) {
					if (!abandon(c))
						pc_engine_worker_error(d, -ENOMEM);
					break;
				}
			}
			q = &b->pkt[b->n++];
			*q = *p;
			q->data = b->data + b->used;
			memcpy(b->data + b->used, p->data, p->caplen);
			b->used += (p->caplen + 7u) & ~7u;
			if (b->used > b->cap)
				b->used = b->cap;
		}
		ops->rx_release(&c->cap, 0, (unsigned)rc);
		if (skipped) {
			PC_STAT_ADD(d->st.packets_read, skipped);
			PC_STAT_ADD(d->st.bytes_read, skipped_bytes);
			pc_engine_publish_skips(d);
		}
		if (i < n) /* abandoned, or out of memory */
			break;
		/* a quiet input (a pipe) must not hold back what is read */
		if (b && (!rc || last)) {
			publish(c, b);
			b = NULL;
			t++;
		}
		if (last) {
			atomic_store(&c->stop_req, true);
			break;
		}
	}
	if (b && b->n)
		publish(c, b);
	pc_engine_publish_skips(d);
	pc_engine_bpf_release(&d->ufilter);
	pc_engine_bpf_release(&d->wfilter);
	atomic_store(&c->dispatch_done, true);
	signal_all(par);
	return NULL;
}

/* Worker @w's decode stage on batch @t in @b: skips counted here, the rest
 * grouped by shard into b->m. */
static void decode_batch(struct pc_worker *w, struct par_batch *b, uint64_t t)
{
	struct capture *c = w->c;
	struct par_worker *pw = &c->par->pw[w->idx];
	bool ufilter = !c->par->admit && c->cfg.filter && !c->cap.filter_applied;
	unsigned N = c->nworkers, cnt[PC_MAX_WORKERS + 1], i, k = 0;
	uint64_t skipped = 0, bytes = 0, now = w->now_ns;

	for (i = 0; i < b->n; i++) {
		const struct pc_pkt *p = &b->pkt[i];
		struct pc_meta *m = &pw->m[k];
		enum pc_verdict v;

		if (ufilter && !pc_engine_admit(w, p, true)) {
			skipped++;
			bytes += p->wirelen;
			continue;
		}
		v = pc_decode(w->dec2, p, m);
		if (pc_likely(v == PC_DEC_OK && !(m->flags & PC_META_FRAGMENT))) {
			pw->src[k] = i;
			if (m->ts_ns > now)
				now = m->ts_ns;
			if (pc_unlikely(!w->first_ns))
				w->first_ns = m->ts_ns ? m->ts_ns : 1;
		} else if (v == PC_DEC_OK || v == PC_DEC_FRAGMENT_UNMATCHED) {
			pw->src[k] = i | PAR_RAW;
		} else {
			w->skipped[v - 1]++;
			skipped++;
			bytes += p->wirelen;
			continue;
		}
		pw->shard[k] = (uint8_t)(pc_flow_key_sym_hash(&m->key, c->seed) % N);
		k++;
	}
	/* counting sort by shard, stable: each shard's part stays in file order */
	memset(cnt, 0, sizeof(cnt[0]) * (N + 1));
	for (i = 0; i < k; i++)
		cnt[pw->shard[i] + 1]++;
	for (i = 0; i < N; i++) {
		cnt[i + 1] += cnt[i];
		b->off[i] = cnt[i];
	}
	b->off[N] = k;
	for (i = 0; i < k; i++) {
		unsigned x = cnt[pw->shard[i]]++;

		b->m[x] = pw->m[i];
		b->src[x] = pw->src[i];
	}
	w->now_ns = now; /* the decode stage's; the shard keeps its own below */
	if (skipped) {
		PC_STAT_ADD(w->st.packets_read, skipped);
		PC_STAT_ADD(w->st.bytes_read, bytes);
	}
	atomic_store_explicit(&pw->dec_now, now, memory_order_relaxed);
	atomic_store_explicit(&b->decoded, t + 1, memory_order_release);
	signal_all(c->par);
}

/* Worker @w's shard: its part of batch @b, in order; @now: its newest time. */
static void meter_batch(struct pc_worker *w, struct par_batch *b, uint64_t *now)
{
	unsigned a = b->off[w->idx], e = b->off[w->idx + 1], run = a, x;
	uint64_t bytes = 0, t = *now;

	for (x = a; x < e; x++) {
		const struct pc_pkt *p;
		struct pc_meta one;
		enum pc_verdict v;

		if (pc_likely(!(b->src[x] & PAR_RAW))) {
			bytes += b->m[x].wirelen; /* the packet's, as decode copies it */
			if (b->m[x].ts_ns > t)
				t = b->m[x].ts_ns;
			continue;
		}
		p = &b->pkt[b->src[x] & ~PAR_RAW];
		bytes += p->wirelen;
		pc_engine_account(w, &b->m[run], x - run);
		run = x + 1;
		v = pc_decode(w->dec, p, &one);
		if (v != PC_DEC_OK) {
			w->skipped[v - 1]++;
			continue;
		}
		if (one.ts_ns > t)
			t = one.ts_ns;
		if (pc_unlikely(!w->first_ns))
			w->first_ns = one.ts_ns ? one.ts_ns : 1;
		pc_engine_account(w, &one, 1);
	}
	pc_engine_account(w, &b->m[run], e - run);
	PC_STAT_ADD(w->st.packets_read, e - a);
	PC_STAT_ADD(w->st.bytes_read, bytes);
	*now = t;
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		signal_all(w->c->par); /* the reader may wait for this buffer */
}

/* The session's end time for the final flush: the newest packet any stage
 * saw, once every shard has metered everything (false: abandoned). */
static bool end_time(struct pc_worker *w, uint64_t *now)
{
	struct capture *c = w->c;
	struct pc_par *par = c->par;
	unsigned spins = 0, i;

	if (*now > atomic_load(&par->pw[w->idx].dec_now)) /* its own: one writer */
		atomic_store(&par->pw[w->idx].dec_now, *now);
	atomic_store(&par->pw[w->idx].metered, true);
	signal_all(par);
	for (i = 0; i < c->nworkers; i++) {
		for (;;) {
			uint32_t seen = atomic_load(&par->ev);

			if (atomic_load(&par->pw[i].metered))
				break;
			if (abandon(c))
				return false;
			pc_engine_serve_requests(w, false);
			wait_event(par, seen, &spins);
		}
		if (atomic_load(&par->pw[i].dec_now) > *now)
			*now = atomic_load(&par->pw[i].dec_now);
	}
	return true;
}

void *pc_engine_par_worker_main(void *arg)
{
	struct pc_worker *w = arg;
	struct capture *c = w->c;
	struct pc_par *par = c->par;
	uint64_t d = w->idx, s = 0, shard_now = 0;
	unsigned spins = 0;

	for (;;) {
		uint32_t seen = atomic_load(&par->ev);	    /* before looking for work */
		bool done = atomic_load(&c->dispatch_done); /* before published */
		uint64_t pub = atomic_load_explicit(&par->published, memory_order_acquire);
		bool did = false;

		if (abandon(c))
			break;
		/* meter first: it frees buffers for the reader */
		while (s < pub && atomic_load_explicit(&par->b[s % par->nb].decoded,
						       memory_order_acquire) == s + 1) {
			meter_batch(w, &par->b[s % par->nb], &shard_now);
			s++;
			did = true;
		}
		if (d < pub) {
			decode_batch(w, &par->b[d % par->nb], d);
			d += c->nworkers;
			did = true;
		}
		if (did) {
			spins = 0;
			if (w->ft)
				pc_flow_expire(w->ft, shard_now, 1024, &w->sink);
			pc_engine_serve_requests(w, true);
			pc_engine_publish(w);
			continue;
		}
		if (done && s >= pub && d >= pub)
			break;
		pc_engine_serve_requests(w, false);
		pc_engine_publish(w);
		wait_event(par, seen, &spins);
	}
	/* the flush's end time: the newest packet of the whole input */
	w->now_ns = shard_now;
	if (end_time(w, &shard_now))
		w->now_ns = shard_now;
	pc_engine_worker_finish(w);
	pc_engine_bpf_release(&w->ufilter);
	atomic_store(&w->finished, true);
	pc_engine_answer_pending(w);
	atomic_fetch_sub(&c->workers_running, 1);
	return NULL;
}
