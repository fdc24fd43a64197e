/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane requests for flows held in the workers' tables: a snapshot
 * of every active flow, or the lookup of one key. The packet path never
 * waits for a reader: the reader posts a request to a worker and the worker
 * serves it between bursts, a slice at a time when busy, or whole within
 * PC_RX_WAIT_MS when its input is quiet. One reader at a time (req_lock).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "util/clock.h"

/*
 * The request protocol (w->req_state):
 *
 *   reader: IDLE -> PENDING (request posted; the worker owns nothing yet)
 *   worker: PENDING -> SERVING (CAS: it now writes into the reader's buffer)
 *           SERVING -> PENDING (a slice done, more to come) or -> DONE
 *   reader: DONE -> IDLE (result taken), or on timeout PENDING -> IDLE (CAS:
 *           cancelled; the worker will not touch the buffer again). A reader
 *           that times out while the worker is SERVING waits for the slice
 *           to end (bounded), so nothing writes into its buffer after the
 *           reader returns.
 */

/* Slice of the table walked per call when the worker is busy. */
#define REQ_SLICE_SLOTS 8192
/* A worker that is not saturated keeps walking slices this long. */
#define REQ_CALM_NS 2000000ull
/* How long a reader waits for one worker before cancelling. */
#define REQ_TIMEOUT_NS 5000000000ull

/* ---------------------------------------------------------------- worker side */

static bool serve_slice(struct pc_worker *w)
{
	if (!w->ft) {
		w->req_n = 0;
		w->req_rc = 0;
		return true;
	}
	if (w->req_kind == PC_REQ_LOOKUP) {
		w->req_rc = pc_flow_find(w->ft, &w->req_key, w->req_buf);
		w->req_n = w->req_rc == 0;
		return true;
	}
	w->req_n += pc_flow_snapshot(w->ft, &w->req_cursor, REQ_SLICE_SLOTS, w->req_buf + w->req_n,
				     w->req_max - w->req_n);
	if (w->req_cursor >= pc_flow_table_slots(w->ft) || w->req_n >= w->req_max) {
		w->req_rc = 0;
		return true;
	}
	return false;
}

void pc_engine_serve_requests(struct pc_worker *w, bool busy)
{
	int st = PC_REQ_PENDING;
	uint64_t until = 0;
	bool done;

	if (pc_likely(atomic_load_explicit(&w->req_state, memory_order_relaxed) != PC_REQ_PENDING))
		return;
	if (!atomic_compare_exchange_strong_explicit(&w->req_state, &st, PC_REQ_SERVING,
						     memory_order_acquire, memory_order_relaxed))
		return; /* cancelled meanwhile */
	/* busy: one slice per burst, so the packet path never stalls for long;
	 * otherwise (a quiet link, an idle input) slices for up to 2 ms, so a
	 * snapshot never waits for packets to arrive */
	for (;;) {
		done = serve_slice(w);
		if (done || busy)
			break;
		if (!until)
			until = pc_mono_ns() + REQ_CALM_NS;
		else if (pc_mono_ns() >= until)
			break;
	}
	atomic_store_explicit(&w->req_state, done ? PC_REQ_DONE : PC_REQ_PENDING,
			      memory_order_release);
}

/* Answer a request that raced with the worker's end (it serves no more;
 * called after w->finished is set, so a reader that posts later sees it). */
void pc_engine_answer_pending(struct pc_worker *w)
{
	int st = PC_REQ_PENDING;

	w->req_rc = 0;
	atomic_compare_exchange_strong(&w->req_state, &st, PC_REQ_DONE);
}

/* ---------------------------------------------------------------- reader side */

/* Wait for worker @w to answer the posted request: 0 (answered: the result
 * is in the buffer) or -ETIMEDOUT (cancelled: the worker will never write
 * into the buffer again). */
static int wait_req(struct pc_worker *w)
{
	uint64_t deadline = pc_mono_ns() + REQ_TIMEOUT_NS;
	unsigned spins = 0;

	for (;;) {
		int st = atomic_load_explicit(&w->req_state, memory_order_acquire);

		if (st == PC_REQ_DONE)
			return 0;
		if (st == PC_REQ_PENDING && atomic_load(&w->finished) &&
		    atomic_compare_exchange_strong(&w->req_state, &st, PC_REQ_IDLE))
			return 0; /* the worker ended before it saw the request: nothing */
		if (st == PC_REQ_PENDING && pc_mono_ns() >= deadline &&
		    atomic_compare_exchange_strong(&w->req_state, &st, PC_REQ_IDLE))
			return -ETIMEDOUT;
		/* answered between bursts or within PC_RX_WAIT_MS when idle */
		pc_sleep_us(spins++ < 50 ? 20 : 200);
	}
}

static void key_from_public(const struct capture_flow_key *k, bool offline, struct pc_flow_key *pk)
{
	size_t alen = k->ip_version == 4 ? 4 : 16;

	memset(pk, 0, sizeof(*pk));
	memcpy(pk->addr[0], k->src_ip, alen);
	memcpy(pk->addr[1], k->dst_ip, alen);
	pk->port[0] = k->src_port;
	pk->port[1] = k->dst_port;
	/* ICMP: type and code (or a record's type << 8 | code), keyed as the
	 * decoder keys them */
	if ((k->proto == 1 || k->proto == 58) && k->src_port > 0xff)
		pk->port[0] = pk->port[1] = pc_icmp_key_port(k->proto, (uint8_t)(k->src_port >> 8),
							     (uint8_t)k->src_port);
	else if (k->proto == 1 || k->proto == 58)
		pk->port[0] = pk->port[1] =
			pc_icmp_key_port(k->proto, (uint8_t)k->src_port, (uint8_t)k->dst_port);
	pk->vlan = k->vlan;
	pk->proto = k->proto;
	pk->ipver = k->ip_version;
	pk->tunnel_type = k->tunnel_type;
	pk->tunnel_id = k->tunnel_type == CAPTURE_TUNNEL_GTPU ? 0 : k->tunnel_id;
	pk->iface = offline ? (uint16_t)k->interface : 0;
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
	pthread_mutex_lock(&c->req_lock);
	pthread_rwlock_rdlock(&c->stats_lock);
	if (!c->w || atomic_load(&c->state) != CAPTURE_STATE_RUNNING)
		goto unlock;
	key_from_public(key, c->cap.offline, &pk);
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
