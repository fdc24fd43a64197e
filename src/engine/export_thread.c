/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The export thread: drains every worker's ring of ended flows and hands
 * each batch to the exporters, the user's flow callback and the ring of
 * recently ended flows; ticks exporters (template refresh, flush timers).
 * Exporters are opened at start and closed when the workers are done.
 * Records are enriched here (GeoIP/ASN) once, before anything sees them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "util/clock.h"
#include "util/futex.h"

static void engine_stats_for_export(void *ctx, struct capture_stats *st)
{
	st->sz = sizeof(*st);
	capture_get_stats(ctx, st);
}

/* What an exporter learns of the session: input kind (pacing) and sampling. */
static void session_facts(const struct capture *c, struct pc_export_target *t)
{
	t->offline = c->cap.offline;
	t->sample_rate = c->cfg.sample_rate > 1 ? c->cfg.sample_rate : 0;
	t->sample_random = c->cfg.sample_random;
}

int pc_engine_add_target(struct capture *c, const struct pc_export_target *t)
{
	int rc = 0;

	pthread_mutex_lock(&c->exp_lock);
	if (c->ntargets >= PC_MAX_EXPORTERS) {
		rc = pc_engine_err(c, -CAPTURE_E_CONFIG, "at most %d exporters", PC_MAX_EXPORTERS);
		goto unlock;
	}
	c->targets[c->ntargets] = *t;
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING) {
		/* applies now, too */
		struct pc_exporter *e;
		char err[512];

		session_facts(c, &c->targets[c->ntargets]);
		rc = pc_exporter_create(&e, &c->targets[c->ntargets], c->cfg.log_fn, c->cfg.log_ctx,
					c->cfg.log_level, engine_stats_for_export, c, err,
					sizeof(err));
		if (rc < 0) {
			pc_engine_err(c, rc, "%s", err);
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

void pc_engine_open_exporters(struct capture *c)
{
	size_t i;

	pthread_mutex_lock(&c->exp_lock);
	for (i = 0; i < c->ntargets; i++) {
		struct pc_exporter *e;
		char err[512];
		int rc;

		session_facts(c, &c->targets[i]);
		rc = pc_exporter_create(&e, &c->targets[i], c->cfg.log_fn, c->cfg.log_ctx,
					c->cfg.log_level, engine_stats_for_export, c, err,
					sizeof(err));
		if (rc < 0) {
			/* reported and counted; capture goes on */
			pc_log(c, CAPTURE_LOG_ERROR, "export %s: %s", c->targets[i].spec, err);
			pc_engine_err(c, rc, "%s", err);
			c->export_open_errors++;
			continue;
		}
		e->next = c->exporters;
		c->exporters = e;
	}
	pthread_mutex_unlock(&c->exp_lock);
}

void pc_engine_close_exporters(struct capture *c)
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
		c->exp_done.delivered += atomic_load(&e->cnt.delivered);
		c->exp_done.failed += atomic_load(&e->cnt.failed);
		c->exp_done.retries += atomic_load(&e->cnt.retries);
		c->exp_done.buffer_drops += atomic_load(&e->cnt.buffer_drops);
		pc_exporter_destroy(e);
	}
	c->exporters = NULL;
	pthread_mutex_unlock(&c->exp_lock);
}

int pc_engine_open_geoip(struct capture *c)
{
	char err[512];
	int rc;

	atomic_store(&c->geoip_lookups, 0);
	rc = pc_geoip_open(&c->geoip, c->cfg.geoip_city, c->cfg.geoip_asn, err, sizeof(err));
	return rc < 0 ? pc_engine_err(c, rc, "%s", err) : 0;
}

void pc_engine_close_geoip(struct capture *c)
{
	pc_geoip_close(c->geoip);
	c->geoip = NULL;
}

static void enrich(struct capture *c, struct capture_flow *r, size_t n)
{
	uint64_t lookups = 0;
	size_t i;

	for (i = 0; i < n; i++)
		lookups += pc_geoip_enrich(c->geoip, &r[i]);
	atomic_fetch_add_explicit(&c->geoip_lookups, lookups, memory_order_relaxed);
}

static void ended_append(struct capture *c, const struct capture_flow *r, size_t n)
{
	size_t i;

	if (!c->ended)
		return;
	pthread_mutex_lock(&c->ended_lock);
	for (i = 0; i < n; i++) {
		if (c->ended_count == c->ended_cap && c->ended_cap < c->ended_max) {
			/* full before its first wrap (so head is 0 and the slots
			 * are oldest to newest): double it, or keep overwriting
			 * the oldest when memory is short */
			size_t ncap =
				c->ended_cap * 2 < c->ended_max ? c->ended_cap * 2 : c->ended_max;
			struct capture_flow *nr = realloc(c->ended, ncap * sizeof(*nr));

			if (nr) {
				c->ended = nr;
				c->ended_head = c->ended_cap;
				c->ended_cap = ncap;
			} else {
				c->ended_max = c->ended_cap;
			}
		}
		c->ended[c->ended_head] = r[i];
		c->ended_head = (c->ended_head + 1) % c->ended_cap;
		if (c->ended_count < c->ended_cap)
			c->ended_count++;
	}
	pthread_mutex_unlock(&c->ended_lock);
}

static void deliver(struct capture *c, struct capture_flow *r, size_t n)
{
	struct pc_exporter *e;

	if (c->geoip)
		enrich(c, r, n);
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
	uint64_t now = pc_wall_ns();

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
/* Live: after this many empty naps in a row (~0.25 s) the thread sleeps until
 * a worker pushes a record, or the exporters' next tick */
#define EXPORT_NAP_ROUNDS 32

/* A quiet link: sleep until the first record (worker.c wakes us) or 100 ms.
 * A worker that pushes just as the flag is set may miss it; the record then
 * waits for the next one's wake-up or the timeout, and is never lost. */
static void long_nap(struct capture *c)
{
	unsigned i;
	bool empty = true;

	atomic_store(&c->export_nap, 1);
	for (i = 0; i < c->nworkers && empty; i++)
		empty = pc_ring_empty(&c->w[i].out);
	if (empty && atomic_load(&c->workers_running) && !atomic_load(&c->stop_req))
		pc_futex_wait(&c->export_nap, 1, 100);
	atomic_store(&c->export_nap, 0);
}

void *pc_engine_export_main(void *arg)
{
	struct capture *c = arg;
	uint64_t last_tick = pc_mono_ns();
	unsigned idle_rounds = 0;
	unsigned live_nap_us = PC_MIN(PC_MAX(c->export_queue / 2, 1000u), 8000u);

	for (;;) {
		size_t got = 0;
		unsigned i;
		bool finished = atomic_load(&c->workers_running) == 0;

		for (i = 0; i < c->nworkers; i++) {
			void *batch;
			/* read in place: the worker built them there */
			size_t n = pc_ring_peek(&c->w[i].out, &batch, EXPORT_BATCH);

			if (n) {
				deliver(c, batch, n);
				pc_ring_advance(&c->w[i].out, n);
				got += n;
			}
		}
		if (pc_mono_ns() - last_tick > 100000000ull) {
			tick_exporters(c, false);
			last_tick = pc_mono_ns();
		}
		if (got) {
			idle_rounds = 0;
			continue;
		}
		if (finished)
			break; /* workers done and rings were empty after it */
		/* nothing to do: back off gently. A file keeps short naps: its
		 * worker waits on us. Live: one nap per ring's worth of records at
		 * 2M records/s (16384: 8 ms; 1 ms at least), since each wake-up costs
		 * (bench_live: 1 ms naps were a third of a live jcap's CPU); short
		 * naps once a stop is asked for, when the workers flush every flow. */
		if (c->cap.offline || atomic_load(&c->stop_req))
			pc_sleep_us(idle_rounds < 10 ? 50 : 1000);
		else if (idle_rounds < EXPORT_NAP_ROUNDS)
			pc_sleep_us(live_nap_us);
		else
			long_nap(c);
		idle_rounds++;
	}
	tick_exporters(c, true);
	pc_engine_close_exporters(c);
	return NULL;
}
