/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane requests for flows held in the workers' tables: a snapshot
 * of every active flow, or the lookup of one key. The packet path never
 * waits for a reader: the reader posts a request to a worker and the worker
 * serves it between bursts, a slice at a time (serve_requests), or within
 * PC_RX_WAIT_MS when its input is idle. One reader at a time (req_lock).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

/* ---------------------------------------------------------------- worker side */

void pc_engine_serve_requests(struct pc_worker *w, size_t budget)
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

/* Answer a request that raced with the worker's end (it serves no more). */
void pc_engine_answer_pending(struct pc_worker *w)
{
	if (atomic_load(&w->req_state) == PC_REQ_PENDING) {
		w->req_rc = 0;
		atomic_store(&w->req_state, PC_REQ_DONE);
	}
}

/* ---------------------------------------------------------------- reader side */

static int wait_req(struct pc_worker *w)
{
	struct timespec ts = { 0, 200000 };
	int i;

	/* a worker answers between bursts, or within PC_RX_WAIT_MS when idle */
	for (i = 0; i < 50000; i++) {
		if (atomic_load_explicit(&w->req_state, memory_order_acquire) == PC_REQ_DONE)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static void key_from_public(const struct capture_flow_key *k, struct pc_flow_key *pk)
{
	size_t alen = k->ip_version == 4 ? 4 : 16;

	memset(pk, 0, sizeof(*pk));
	memcpy(pk->addr[0], k->src_ip, alen);
	memcpy(pk->addr[1], k->dst_ip, alen);
	pk->port[0] = k->src_port;
	pk->port[1] = k->dst_port;
	pk->vlan = k->vlan;
	pk->proto = k->proto;
	pk->ipver = k->ip_version;
}

CAPTURE_API int capture_flow_lookup(struct capture *c, const struct capture_flow_key *key,
				    struct capture_flow *out)
{
	struct pc_flow_key pk;
	unsigned i;
	int rc = -CAPTURE_E_NOT_FOUND;

	if (!c || !key || !out)
		return -EINVAL;
	if (key->ip_version != 4 && key->ip_version != 6)
		return -EINVAL;
	key_from_public(key, &pk);
	pthread_mutex_lock(&c->req_lock);
	pthread_rwlock_rdlock(&c->stats_lock);
	if (!c->w || atomic_load(&c->state) != CAPTURE_STATE_RUNNING)
		goto unlock;
	for (i = 0; i < c->nworkers && rc == -CAPTURE_E_NOT_FOUND; i++) {
		struct pc_worker *w = &c->w[i];

		if (atomic_load(&w->finished))
			continue;
		w->req_kind = PC_REQ_LOOKUP;
		w->req_key = pk;
		w->req_buf = out;
		w->req_max = 1;
		w->req_n = 0;
		w->req_rc = -CAPTURE_E_NOT_FOUND;
		atomic_store_explicit(&w->req_state, PC_REQ_PENDING, memory_order_release);
		if (wait_req(w)) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = w->req_n ? 0 : -CAPTURE_E_NOT_FOUND;
		atomic_store(&w->req_state, PC_REQ_IDLE);
	}
unlock:
	pthread_rwlock_unlock(&c->stats_lock);
	pthread_mutex_unlock(&c->req_lock);
	return rc;
}

CAPTURE_API int64_t capture_flow_get_all(struct capture *c, struct capture_flow *out, size_t max,
					 unsigned flags, uint64_t *total)
{
	size_t n = 0;
	uint64_t tot = 0;
	unsigned i;
	int rc = 0;

	if (!c || (!out && max))
		return -EINVAL;
	pthread_mutex_lock(&c->req_lock);
	pthread_rwlock_rdlock(&c->stats_lock);
	if ((flags & CAPTURE_FLOWS_ACTIVE) && c->w &&
	    atomic_load(&c->state) == CAPTURE_STATE_RUNNING) {
		for (i = 0; i < c->nworkers; i++) {
			struct pc_worker *w = &c->w[i];

			if (atomic_load(&w->finished) || !w->ft)
				continue;
			tot += PC_STAT_GET(w->st.flow.active);
			if (n >= max)
				continue;
			w->req_kind = PC_REQ_SNAPSHOT;
			w->req_buf = out + n;
			w->req_max = max - n;
			w->req_n = 0;
			w->req_cursor = 0;
			atomic_store_explicit(&w->req_state, PC_REQ_PENDING, memory_order_release);
			if (wait_req(w)) {
				rc = -ETIMEDOUT;
				break;
			}
			n += w->req_n;
			atomic_store(&w->req_state, PC_REQ_IDLE);
		}
	}
	pthread_rwlock_unlock(&c->stats_lock);
	if (!rc && (flags & CAPTURE_FLOWS_ENDED)) {
		pthread_mutex_lock(&c->ended_lock);
		tot += c->ended_count;
		for (i = 0; i < c->ended_count && n < max; i++) {
			/* newest first */
			size_t idx = (c->ended_head + c->ended_cap - 1 - i) % c->ended_cap;

			out[n++] = c->ended[idx];
		}
		pthread_mutex_unlock(&c->ended_lock);
	}
	pthread_mutex_unlock(&c->req_lock);
	if (rc)
		return rc;
	if (total)
		*total = tot;
	return (int64_t)n;
}
