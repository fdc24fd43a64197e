/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the session_*.c files share: the one capture session (g_sess), the
 * control thread, the 1 Hz rate sampler and the JSON pieces. Lock order:
 * g_sess.ctl, then g_sess.life, then the sampler's lock (innermost; taken by
 * rates_*). Readers of counters take only life (shared), never ctl.
 */
#ifndef JCAPD_SESSION_H
#define JCAPD_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "jcapd.h"
#include "util/strbuf.h"

/* Most workers whose counters and rates are kept and reported. */
#define SESSION_MAX_WORKERS 64
/* rates_get()'s worker index for the whole session. */
#define RATES_TOTAL SESSION_MAX_WORKERS

/*
 * Control operations hold `ctl`; the handle's lifetime is guarded by `life`
 * (written only to swap or destroy `c`) so that counter reads never wait for
 * a stop or a flow scan. Settings given before a session (metering, exporters,
 * encryption) are kept here and applied at start.
 */
struct session {
	pthread_mutex_t ctl;
	pthread_rwlock_t life;
	struct capture *c;
	bool stopped; /* capture_stop was called on c */
	bool graceful;
	_Atomic(const char *) cached_state; /* for /healthz and /metrics, set under ctl */
	char backend_requested[16];

	bool flow_on;
	struct capture_flow_config flow;
	struct netflow_req exports[JCAPD_MAX_EXPORTS];
	unsigned n_exports;
	bool crypt_on;
	struct crypt_req crypt;
};

extern struct session g_sess;

static inline json_t *jint(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* A 200 reply with the text of @b (owned from here), or 500 when an append failed. */
static inline int resp_strbuf(struct resp *rs, struct pc_strbuf *b, const char *content_type)
{
	if (b->failed) {
		free(b->p);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	return resp_text(rs, b->p, b->len, content_type);
}

/* ---------------------------------------------------------------- session.c */

/* Daemon view of the session ("idle", "running", ...); ctl held. */
const char *session_state_locked(void);
/* Map engine error @err to an HTTP status and field; message from the library. */
int session_engine_error(struct resp *rs, int err, const char *detail, const char *what,
			 const char *default_field);
/* Point cfg.collector / cfg.path at the request's own strings (or NULL). */
void session_netflow_fixup(struct netflow_req *nr);
/* The sampler's once-a-second call: sample the counters, refresh cached_state. */
void session_tick(void);

/* ---------------------------------------------------------------- session_ctl.c */

typedef int ctl_job_fn(const void *arg, struct resp *rs);

int ctl_start(void);
void ctl_stop(void);
/* Run @fn on the control thread (or here, before ctl_start) and return its status. */
int ctl_call(ctl_job_fn *fn, const void *arg, struct resp *rs);

/* ---------------------------------------------------------------- session_rates.c */

/* Start the sampler thread, which calls session_tick() every second. 0 or -errno. */
int rates_start(void);
void rates_stop(void);
/* Take a sample of @c's counters (life held shared). */
void rates_sample(struct capture *c);
/* Forget all samples: a new handle's counters start again from zero. */
void rates_reset(void);
/*
 * Rate of worker @w (RATES_TOTAL: the whole session) over the newest sample and
 * the oldest one inside the window. Returns false when fewer than two samples exist.
 */
bool rates_get(unsigned w, double *pps, double *bps, double *window);

/* ---------------------------------------------------------------- session_json.c */

/* The handle's status with every string terminated, all zero without a handle or
 * on failure; ctl or life held. @st->sz set by the caller. */
void session_get_status(struct capture_status *st);
/* The /status object (NULL: no memory); ctl held. Refreshes cached_state. */
json_t *session_status_json_locked(void);
/* One counters object of /metrics (an empty object when out of memory). */
json_t *session_stats_json(const struct capture_stats *st, double pps, double bps);

/* ---------------------------------------------------------------- session_flows.c */

/* Forget the kept flow snapshot (ctl held): its handle is going away. */
void flows_snap_drop(void);

#endif /* JCAPD_SESSION_H */
