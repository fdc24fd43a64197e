/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd packet and bit rates: a thread samples the session's counters once a
 * second into a ring of RING_SAMPLES, and a rate is the difference between the
 * newest sample and the oldest one inside the window (rate_window_sec). The
 * ring's lock is the innermost of the daemon's locks.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "session.h"
#include "util/clock.h"

/* One minute of history plus the newest sample. */
#define RING_SAMPLES 61

struct sample {
	uint64_t t_ns;
	uint64_t pk[SESSION_MAX_WORKERS + 1]; /* [RATES_TOTAL]: total */
	uint64_t by[SESSION_MAX_WORKERS + 1];
};

static struct {
	pthread_t sampler;
	bool started;
	bool quit;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sample ring[RING_SAMPLES];
	unsigned head; /* next slot */
	unsigned n;
} R = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

void rates_sample(struct capture *c)
{
	struct capture_stats st = { .sz = sizeof(st) };
	struct sample *s;
	unsigned w, nw;

	if (capture_get_stats(c, &st) < 0)
		return;
	nw = st.workers > SESSION_MAX_WORKERS ? SESSION_MAX_WORKERS : st.workers;
	pthread_mutex_lock(&R.mu);
	s = &R.ring[R.head];
	memset(s, 0, sizeof(*s));
	s->t_ns = pc_mono_ns();
	s->pk[RATES_TOTAL] = st.packets_read;
	s->by[RATES_TOTAL] = st.bytes_read;
	for (w = 0; w < nw; w++) {
		struct capture_stats ws = { .sz = sizeof(ws) };

		if (capture_get_worker_stats(c, w, &ws) == 0) {
			s->pk[w] = ws.packets_read;
			s->by[w] = ws.bytes_read;
		}
	}
	R.head = (R.head + 1) % RING_SAMPLES;
	if (R.n < RING_SAMPLES)
		R.n++;
	pthread_mutex_unlock(&R.mu);
}

void rates_reset(void)
{
	pthread_mutex_lock(&R.mu);
	R.n = 0;
	R.head = 0;
	pthread_mutex_unlock(&R.mu);
}

bool rates_get(unsigned w, double *pps, double *bps, double *window)
{
	const struct sample *newest, *oldest;
	unsigned span;
	double dt;
	bool ok = false;

	*pps = *bps = 0;
	*window = 0;
	pthread_mutex_lock(&R.mu);
	if (R.n >= 2) {
		span = R.n - 1;
		if (span > g_opts.rate_window_sec)
			span = g_opts.rate_window_sec;
		newest = &R.ring[(R.head + RING_SAMPLES - 1) % RING_SAMPLES];
		oldest = &R.ring[(R.head + RING_SAMPLES - 1 - span) % RING_SAMPLES];
		dt = (double)(newest->t_ns - oldest->t_ns) / 1e9;
		if (dt > 0 && newest->pk[w] >= oldest->pk[w] && newest->by[w] >= oldest->by[w]) {
			*pps = (double)(newest->pk[w] - oldest->pk[w]) / dt;
			*bps = (double)(newest->by[w] - oldest->by[w]) * 8.0 / dt;
			*window = dt;
			ok = true;
		}
	}
	pthread_mutex_unlock(&R.mu);
	return ok;
}

static void *sampler_main(void *arg)
{
	struct timespec ts;

	pthread_mutex_lock(&R.mu);
	while (!R.quit) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&R.cv, &R.mu, &ts);
		if (R.quit)
			break;
		/* session_tick takes life and ctl, which rank before this lock */
		pthread_mutex_unlock(&R.mu);
		session_tick();
		pthread_mutex_lock(&R.mu);
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

int rates_start(void)
{
	pthread_condattr_t ca;
	int err;

	pthread_condattr_init(&ca);
	pthread_cond_init(&R.cv, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&R.sampler, NULL, sampler_main, NULL);
	if (err)
		return -err;
	R.started = true;
	return 0;
}

void rates_stop(void)
{
	if (!R.started)
		return;
	pthread_mutex_lock(&R.mu);
	R.quit = true;
	pthread_cond_signal(&R.cv);
	pthread_mutex_unlock(&R.mu);
	pthread_join(R.sampler, NULL);
	R.started = false;
}
