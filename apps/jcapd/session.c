/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd capture session: one engine handle at a time. Control operations hold
 * `ctl`; the handle's lifetime is guarded by `life` so that counter reads
 * (capture_get_stats is thread-safe) never wait for a stop or a flow scan.
 * Settings given before a session (metering, exporters, encryption) apply at start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "jcapd.h"

#define MAX_WORKERS 64
#define MAX_SAMPLES 61

struct sample {
	uint64_t t_ns;
	uint64_t pk[MAX_WORKERS + 1]; /* [MAX_WORKERS]: total */
	uint64_t by[MAX_WORKERS + 1];
};

static struct {
	pthread_mutex_t ctl;
	pthread_rwlock_t life;
	struct capture *c;
	bool stopped; /* capture_stop was called on c */
	bool graceful;
	_Atomic(const char *) cached_state; /* for /healthz and /metrics, set under ctl */
	char backend_requested[16];
	bool live;

	bool flow_on;
	struct capture_flow_config flow;
	struct netflow_req exports[JCAPD_MAX_EXPORTS];
	unsigned n_exports;
	bool crypt_on;
	struct crypt_req crypt;

	pthread_t sampler;
	bool sampler_started;
	bool quit;
	pthread_mutex_t smu;
	pthread_cond_t scv;
	struct sample ring[MAX_SAMPLES];
	unsigned ring_head; /* next slot */
	unsigned ring_n;
	unsigned ring_workers;
} S = {
	.ctl = PTHREAD_MUTEX_INITIALIZER,
	.life = PTHREAD_RWLOCK_INITIALIZER,
	.smu = PTHREAD_MUTEX_INITIALIZER,
	.cached_state = "idle",
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static json_t *jint(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* ---------------------------------------------------------------- rates */

static void sample_now(struct capture *c)
{
	struct capture_stats st = { .sz = sizeof(st) };
	struct sample *s;
	unsigned w, nw;

	if (capture_get_stats(c, &st) < 0)
		return;
	nw = st.workers > MAX_WORKERS ? MAX_WORKERS : st.workers;
	pthread_mutex_lock(&S.smu);
	s = &S.ring[S.ring_head];
	memset(s, 0, sizeof(*s));
	s->t_ns = mono_ns();
	s->pk[MAX_WORKERS] = st.packets_read;
	s->by[MAX_WORKERS] = st.bytes_read;
	for (w = 0; w < nw; w++) {
		struct capture_stats ws = { .sz = sizeof(ws) };

		if (capture_get_worker_stats(c, w, &ws) == 0) {
			s->pk[w] = ws.packets_read;
			s->by[w] = ws.bytes_read;
		}
	}
	S.ring_workers = nw;
	S.ring_head = (S.ring_head + 1) % MAX_SAMPLES;
	if (S.ring_n < MAX_SAMPLES)
		S.ring_n++;
	pthread_mutex_unlock(&S.smu);
}

static void samples_reset(void)
{
	pthread_mutex_lock(&S.smu);
	S.ring_n = 0;
	S.ring_head = 0;
	S.ring_workers = 0;
	pthread_mutex_unlock(&S.smu);
}

/*
 * Rate of worker @w (MAX_WORKERS: total) over the newest sample and the oldest
 * one inside the window. Returns false when fewer than two samples exist.
 */
static bool rate_of(unsigned w, double *pps, double *bps, double *window)
{
	const struct sample *newest, *oldest;
	unsigned span;
	double dt;
	bool ok = false;

	*pps = *bps = 0;
	*window = 0;
	pthread_mutex_lock(&S.smu);
	if (S.ring_n >= 2) {
		span = S.ring_n - 1;
		if (span > g_opts.rate_window_sec)
			span = g_opts.rate_window_sec;
		newest = &S.ring[(S.ring_head + MAX_SAMPLES - 1) % MAX_SAMPLES];
		oldest = &S.ring[(S.ring_head + MAX_SAMPLES - 1 - span) % MAX_SAMPLES];
		dt = (double)(newest->t_ns - oldest->t_ns) / 1e9;
		if (dt > 0 && newest->pk[w] >= oldest->pk[w] && newest->by[w] >= oldest->by[w]) {
			*pps = (double)(newest->pk[w] - oldest->pk[w]) / dt;
			*bps = (double)(newest->by[w] - oldest->by[w]) * 8.0 / dt;
			*window = dt;
			ok = true;
		}
	}
	pthread_mutex_unlock(&S.smu);
	return ok;
}

static const char *state_name_locked(void);

static void *sampler_main(void *arg)
{
	struct timespec ts;

	pthread_mutex_lock(&S.smu);
	while (!S.quit) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&S.scv, &S.smu, &ts);
		if (S.quit)
			break;
		pthread_mutex_unlock(&S.smu);
		pthread_rwlock_rdlock(&S.life);
		if (S.c)
			sample_now(S.c);
		pthread_rwlock_unlock(&S.life);
		/* keep /healthz's state fresh without waiting behind a long operation */
		if (pthread_mutex_trylock(&S.ctl) == 0) {
			S.cached_state = state_name_locked();
			pthread_mutex_unlock(&S.ctl);
		}
		pthread_mutex_lock(&S.smu);
	}
	pthread_mutex_unlock(&S.smu);
	return NULL;
}

static int start_impl(const struct start_req *sr, struct resp *rs);
static void snap_drop(void);
static int netflow_impl(const struct netflow_req *nr, struct resp *rs);
static int encryption_impl(const struct crypt_req *cr, struct resp *rs);

/* ---------------------------------------------------------------- control thread */

/*
 * Operations that make the engine create threads (start, adding an exporter or
 * encryption during a session) run here, on a thread at the daemon's base
 * priority: threads inherit their creator's nice value, and the HTTP threads
 * run at http_nice so that serving the API never outranks the capture.
 */
enum job_kind {
	JOB_START,
	JOB_NETFLOW,
	JOB_CRYPT
};

static struct {
	pthread_mutex_t call; /* one caller at a time */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool started;
	bool pending;
	bool done;
	bool quit;
	enum job_kind kind;
	const void *arg;
	struct resp *rs;
	int ret;
} J = {
	.call = PTHREAD_MUTEX_INITIALIZER,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static int run_job(enum job_kind kind, const void *arg, struct resp *rs)
{
	switch (kind) {
	case JOB_START:
		return start_impl(arg, rs);
	case JOB_NETFLOW:
		return netflow_impl(arg, rs);
	case JOB_CRYPT:
		return encryption_impl(arg, rs);
	}
	return resp_error(rs, 500, NULL, "internal error: unknown job");
}

static void *ctl_main(void *unused)
{
	pthread_mutex_lock(&J.mu);
	for (;;) {
		while (!J.pending && !J.quit)
			pthread_cond_wait(&J.cv, &J.mu);
		if (J.quit)
			break;
		pthread_mutex_unlock(&J.mu);
		J.ret = run_job(J.kind, J.arg, J.rs);
		pthread_mutex_lock(&J.mu);
		J.pending = false;
		J.done = true;
		pthread_cond_broadcast(&J.cv);
	}
	pthread_mutex_unlock(&J.mu);
	return NULL;
}

static int on_ctl_thread(enum job_kind kind, const void *arg, struct resp *rs)
{
	int ret;

	if (!J.started)
		return run_job(kind, arg, rs);
	pthread_mutex_lock(&J.call);
	pthread_mutex_lock(&J.mu);
	J.kind = kind;
	J.arg = arg;
	J.rs = rs;
	J.done = false;
	J.pending = true;
	pthread_cond_broadcast(&J.cv);
	while (!J.done)
		pthread_cond_wait(&J.cv, &J.mu);
	ret = J.ret;
	pthread_mutex_unlock(&J.mu);
	pthread_mutex_unlock(&J.call);
	return ret;
}

int session_init(void)
{
	pthread_condattr_t ca;
	int err;

	pthread_condattr_init(&ca);
	pthread_cond_init(&S.scv, &ca);
	pthread_condattr_destroy(&ca);
	S.flow_on = g_opts.flow_metering;
	S.flow.sz = sizeof(S.flow);
	S.flow.table_size = g_opts.table_size;
	S.flow.idle_timeout_sec = g_opts.idle_timeout_sec;
	S.flow.active_timeout_sec = g_opts.active_timeout_sec;
	S.flow.ended_ring_size = g_opts.ended_ring_size;
	err = pthread_create(&S.sampler, NULL, sampler_main, NULL);
	if (err)
		return -err;
	S.sampler_started = true;
	err = pthread_create(&J.th, NULL, ctl_main, NULL);
	if (err)
		return -err;
	J.started = true;
	return 0;
}

void session_release(void)
{
	if (J.started) {
		pthread_mutex_lock(&J.mu);
		J.quit = true;
		pthread_cond_broadcast(&J.cv);
		pthread_mutex_unlock(&J.mu);
		pthread_join(J.th, NULL);
		J.started = false;
	}
	if (S.sampler_started) {
		pthread_mutex_lock(&S.smu);
		S.quit = true;
		pthread_cond_signal(&S.scv);
		pthread_mutex_unlock(&S.smu);
		pthread_join(S.sampler, NULL);
		S.sampler_started = false;
	}
	pthread_mutex_lock(&S.ctl);
	pthread_rwlock_wrlock(&S.life);
	capture_destroy(S.c);
	S.c = NULL;
	snap_drop();
	pthread_rwlock_unlock(&S.life);
	pthread_mutex_unlock(&S.ctl);
}

/* ---------------------------------------------------------------- state */

/* Daemon view of the session; ctl held. */
static const char *state_name_locked(void)
{
	int r;

	if (!S.c)
		return "idle";
	if (S.stopped)
		return "stopped";
	r = capture_poll(S.c, 0);
	switch (r) {
	case CAPTURE_STATE_RUNNING:
		return "running";
	case CAPTURE_STATE_DONE:
		return "done";
	case CAPTURE_STATE_STOPPED:
		return "stopped";
	case CAPTURE_STATE_IDLE:
		return "starting";
	default:
		return "failed";
	}
}

const char *session_state_name(void)
{
	return S.cached_state;
}

static void iso_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char base[32];

	if (!ns || !gmtime_r(&t, &tm)) {
		buf[0] = '\0';
		return;
	}
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)((ns / 1000000ull) % 1000));
}

static json_t *status_json_locked(void)
{
	struct capture_status st = { .sz = sizeof(st) };
	const char *state = state_name_locked();
	char start_iso[48] = "", stop_iso[48] = "";
	double uptime = 0;
	json_t *o;

	S.cached_state = state;
	if (S.c && capture_get_status(S.c, &st) == 0) {
		st.backend[sizeof(st.backend) - 1] = '\0';
		st.backend_reason[sizeof(st.backend_reason) - 1] = '\0';
		st.interface[sizeof(st.interface) - 1] = '\0';
		st.pcap_file[sizeof(st.pcap_file) - 1] = '\0';
		st.tstamp_source[sizeof(st.tstamp_source) - 1] = '\0';
		st.tstamp_detail[sizeof(st.tstamp_detail) - 1] = '\0';
		st.xdp_mode[sizeof(st.xdp_mode) - 1] = '\0';
	} else {
		memset(&st, 0, sizeof(st));
	}
	iso_time(st.start_ns, start_iso, sizeof(start_iso));
	iso_time(st.stop_ns, stop_iso, sizeof(stop_iso));
	if (st.start_ns) {
		uint64_t end = st.stop_ns ? st.stop_ns : wall_ns();

		uptime = end > st.start_ns ? (double)(end - st.start_ns) / 1e9 : 0;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:f, s:i, s:s, s:s, s:s}",
		      "state", state, "backend", st.backend, "backend_requested",
		      S.c ? S.backend_requested : "", "backend_reason", st.backend_reason,
		      "interface", st.interface, "pcap_file", st.pcap_file, "start_time", start_iso,
		      "start_ns", jint(st.start_ns), "stop_time", stop_iso, "stop_ns",
		      jint(st.stop_ns), "uptime_sec", uptime, "workers", (int)st.workers,
		      "tstamp_source", st.tstamp_source, "tstamp_detail", st.tstamp_detail,
		      "xdp_mode", st.xdp_mode);
	if (o && st.pcap_file[0]) {
		json_object_set_new(o, "input_bytes", jint(st.input_bytes));
		json_object_set_new(o, "input_done", jint(st.input_done));
	}
	if (o && strcmp(state, "failed") == 0)
		json_object_set_new(o, "error", json_string(capture_last_error(S.c)));
	if (o && strcmp(state, "stopped") == 0 && S.stopped)
		json_object_set_new(o, "graceful", json_boolean(S.graceful));
	return o;
}

int session_status(struct resp *rs)
{
	pthread_mutex_lock(&S.ctl);
	rs->json = status_json_locked();
	pthread_mutex_unlock(&S.ctl);
	rs->status = rs->json ? 200 : 500;
	return rs->status;
}

/* ---------------------------------------------------------------- errors */

/* Map an engine error to an HTTP status and field, message from the library. */
static int engine_error(struct resp *rs, int err, const char *detail, const char *what,
			const char *default_field)
{
	const char *field = default_field;
	int status = 400;

	switch (-err) {
	case CAPTURE_E_FILTER:
		field = "filter";
		break;
	case CAPTURE_E_FORMAT:
	case CAPTURE_E_TRUNCATED:
	case CAPTURE_E_LINKTYPE:
		field = "pcap_file";
		break;
	case CAPTURE_E_BACKEND:
		field = "backend";
		break;
	case ENODEV:
	case ENXIO:
		field = "interface";
		break;
	case CAPTURE_E_KEY:
	case CAPTURE_E_WRONG_KEY:
	case CAPTURE_E_AUTH:
		break;
	case CAPTURE_E_TARGET:
	case CAPTURE_E_CONFIG:
	case EINVAL:
	case ENOENT:
	case ESPIPE:
	case EISDIR:
	case EACCES:
		break;
	case CAPTURE_E_STATE:
		status = 409;
		field = NULL;
		break;
	default:
		status = 500;
		field = NULL;
		break;
	}
	if (detail && *detail)
		return resp_error(rs, status, field, "%s: %s: %s", what, capture_strerror(err),
				  detail);
	return resp_error(rs, status, field, "%s: %s", what, capture_strerror(err));
}

/* ---------------------------------------------------------------- start / stop */

static void netflow_fixup(struct netflow_req *nr)
{
	nr->cfg.collector = nr->collector[0] ? nr->collector : NULL;
	nr->cfg.path = nr->path[0] ? nr->path : NULL;
}

static int start_impl(const struct start_req *sr, struct resp *rs)
{
	struct capture_config cfg = { .sz = sizeof(cfg) };
	struct capture *nc = NULL, *old;
	const char *state;
	unsigned i;
	int r;

	pthread_mutex_lock(&S.ctl);
	state = state_name_locked();
	if (strcmp(state, "running") == 0 || strcmp(state, "starting") == 0) {
		resp_error(rs, 409, NULL, "a capture session is already running; stop it first");
		goto out;
	}
	cfg.interface = sr->interface[0] ? sr->interface : NULL;
	cfg.pcap_file = sr->pcap_file[0] ? sr->pcap_file : NULL;
	cfg.backend = sr->backend;
	cfg.filter = sr->has_filter ? sr->filter : NULL;
	cfg.snaplen = sr->snaplen;
	cfg.buffer_size_mb = sr->buffer_size_mb;
	cfg.workers = sr->workers;
	cfg.promiscuous = sr->promiscuous;
	cfg.tstamp = (uint8_t)sr->tstamp;
	cfg.max_packets = sr->max_packets;
	cfg.duration_sec = sr->duration_sec;
	cfg.log_fn = jlog_engine;
	cfg.log_level = g_opts.log_level;
	cfg.decrypt_key_file = sr->decrypt_key_file[0] ? sr->decrypt_key_file : NULL;
	cfg.user = g_opts.capture_user[0] ? g_opts.capture_user : NULL;
	r = capture_init(&nc, &cfg);
	if (r < 0) {
		engine_error(rs, r, capture_last_error(NULL), "start",
			     cfg.pcap_file ? "pcap_file" : "interface");
		nc = NULL;
		goto out;
	}
	if (S.flow_on) {
		r = capture_flow_enable(nc, &S.flow);
		if (r < 0) {
			engine_error(rs, r, capture_last_error(nc), "flow metering", NULL);
			goto fail;
		}
	}
	for (i = 0; i < S.n_exports; i++) {
		netflow_fixup(&S.exports[i]);
		r = capture_netflow_enable(nc, &S.exports[i].cfg);
		if (r < 0) {
			engine_error(rs, r, capture_last_error(nc), "netflow export", "collector");
			goto fail;
		}
	}
	for (i = 0; i < g_opts.n_exports; i++) {
		r = capture_export_add(nc, g_opts.exports[i], NULL);
		if (r < 0) {
			engine_error(rs, r, capture_last_error(nc), "export (config file)", NULL);
			goto fail;
		}
	}
	if (sr->has_pcap_out) {
		r = capture_pcap_out_enable(nc, &sr->pcap_out);
		if (r < 0) {
			engine_error(rs, r, capture_last_error(nc), "pcap_out", "pcap_out");
			goto fail;
		}
		if (S.crypt_on) {
			S.crypt.cfg.key_file = S.crypt.key_file;
			r = capture_set_encryption(nc, &S.crypt.cfg);
			if (r < 0) {
				engine_error(rs, r, capture_last_error(nc), "encryption",
					     "key_file");
				goto fail;
			}
		}
	}
	r = capture_start(nc);
	if (r < 0) {
		engine_error(rs, r, capture_last_error(nc), "start",
			     cfg.pcap_file ? "pcap_file" : "interface");
		goto fail;
	}
	memcpy(S.backend_requested, sr->backend, sizeof(S.backend_requested));
	S.live = cfg.interface != NULL;
	pthread_rwlock_wrlock(&S.life);
	old = S.c;
	S.c = nc;
	snap_drop();
	S.stopped = false;
	S.graceful = false;
	samples_reset();
	pthread_rwlock_unlock(&S.life);
	capture_destroy(old);
	jlog(CAPTURE_LOG_INFO, "session started: %s %s", cfg.interface ? "interface" : "file",
	     cfg.interface ? cfg.interface : cfg.pcap_file);
	rs->json = status_json_locked();
	if (rs->json && sr->has_pcap_out)
		json_object_set_new(rs->json, "encrypted", json_boolean(S.crypt_on));
	rs->status = rs->json ? 200 : 500;
	goto out;
fail:
	capture_destroy(nc);
out:
	pthread_mutex_unlock(&S.ctl);
	return rs->status;
}

static json_t *stats_json(const struct capture_stats *st, double pps, double bps);

int session_stop(bool graceful, struct resp *rs)
{
	struct capture_stats st = { .sz = sizeof(st) };
	double pps, bps, win;
	int r;

	pthread_mutex_lock(&S.ctl);
	if (!S.c || S.stopped) {
		resp_error(rs, 409, NULL, "no capture session to stop");
		goto out;
	}
	r = capture_stop(S.c, graceful);
	if (r < 0 && r != -CAPTURE_E_STATE) {
		engine_error(rs, r, capture_last_error(S.c), "stop", NULL);
		goto out;
	}
	S.stopped = true;
	S.graceful = graceful;
	S.cached_state = "stopped";
	capture_get_stats(S.c, &st);
	rate_of(MAX_WORKERS, &pps, &bps, &win);
	rs->json = json_pack("{s:s, s:b, s:o}", "state", "stopped", "graceful", graceful, "stats",
			     stats_json(&st, pps, bps));
	rs->status = rs->json ? 200 : 500;
	jlog(CAPTURE_LOG_INFO, "session stopped (%s)", graceful ? "graceful" : "immediate");
out:
	pthread_mutex_unlock(&S.ctl);
	return rs->status;
}

void session_shutdown(void)
{
	const char *state;

	pthread_mutex_lock(&S.ctl);
	state = state_name_locked();
	if (S.c && !S.stopped) {
		int r = capture_stop(S.c, true);

		if (r < 0 && r != -CAPTURE_E_STATE)
			jlog(CAPTURE_LOG_ERROR, "graceful stop (%s): %s: %s", state,
			     capture_strerror(r), capture_last_error(S.c));
		else
			jlog(CAPTURE_LOG_INFO, "session stopped gracefully at shutdown");
		S.stopped = true;
		S.graceful = true;
	}
	pthread_mutex_unlock(&S.ctl);
}

/* ---------------------------------------------------------------- settings */

static json_t *flow_cfg_json(const struct capture_flow_config *f)
{
	return json_pack("{s:b, s:i, s:i, s:i, s:b, s:i}", "enabled", S.flow_on, "table_size",
			 (json_int_t)f->table_size, "idle_timeout_sec",
			 (json_int_t)f->idle_timeout_sec, "active_timeout_sec",
			 (json_int_t)f->active_timeout_sec, "uniflow", f->uniflow,
			 "ended_ring_size", (json_int_t)f->ended_ring_size);
}

static bool running_locked(void)
{
	const char *s = state_name_locked();

	return strcmp(s, "running") == 0;
}

int session_flow_enable(const struct capture_flow_config *fc, struct resp *rs)
{
	int r;

	pthread_mutex_lock(&S.ctl);
	if (S.c && running_locked()) {
		/* The library takes new settings for its next start: this checks them. */
		r = capture_flow_enable(S.c, fc);
		if (r < 0) {
			engine_error(rs, r, capture_last_error(S.c), "flow metering", NULL);
			goto out;
		}
	}
	S.flow = *fc;
	S.flow.sz = sizeof(S.flow);
	S.flow_on = true;
	rs->json = json_pack("{s:o, s:s}", "flow_metering", flow_cfg_json(&S.flow), "applies",
			     "next_start");
	rs->status = 200;
out:
	pthread_mutex_unlock(&S.ctl);
	return rs->status;
}

static bool same_exporter(const struct netflow_req *a, const struct netflow_req *b)
{
	return a->cfg.version == b->cfg.version && a->cfg.transport == b->cfg.transport &&
	       a->cfg.port == b->cfg.port && strcmp(a->collector, b->collector) == 0 &&
	       strcmp(a->path, b->path) == 0;
}

static int resolve_collector(const char *host, struct resp *rs)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	int r;

	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0)
		return resp_error(rs, 400, "collector", "collector '%s': %s", host,
				  gai_strerror(r));
	freeaddrinfo(res);
	return 0;
}

static int netflow_impl(const struct netflow_req *nr, struct resp *rs)
{
	static const char *const tnames[] = { "udp", "tcp", "file" };
	struct netflow_req tmp = *nr;
	const char *applies = "next_start";
	unsigned i;
	int r;

	pthread_mutex_lock(&S.ctl);
	for (i = 0; i < S.n_exports; i++)
		if (same_exporter(&S.exports[i], nr))
			break;
	if (i == S.n_exports && S.n_exports == JCAPD_MAX_EXPORTS) {
		resp_error(rs, 409, NULL, "already %d exporters enabled", JCAPD_MAX_EXPORTS);
		goto out;
	}
	netflow_fixup(&tmp);
	if (S.c && running_locked()) {
		if (i < S.n_exports) {
			resp_error(rs, 409, NULL, "this exporter is already enabled");
			goto out;
		}
		r = capture_netflow_enable(S.c, &tmp.cfg);
		if (r < 0) {
			engine_error(rs, r, capture_last_error(S.c), "netflow export",
				     tmp.cfg.transport == CAPTURE_TRANSPORT_FILE ? "path"
										 : "collector");
			goto out;
		}
		applies = "now";
	} else if (tmp.cfg.transport != CAPTURE_TRANSPORT_FILE &&
		   resolve_collector(tmp.collector, rs)) {
		goto out;
	}
	S.exports[i] = tmp;
	netflow_fixup(&S.exports[i]);
	if (i == S.n_exports)
		S.n_exports++;
	rs->json = json_pack("{s:i, s:s, s:s, s:i, s:s, s:i, s:i, s:s, s:i}", "version",
			     (json_int_t)tmp.cfg.version, "transport", tnames[tmp.cfg.transport],
			     "collector", tmp.collector, "port", (json_int_t)tmp.cfg.port, "path",
			     tmp.path, "template_refresh_sec",
			     (json_int_t)tmp.cfg.template_refresh_sec, "observation_domain",
			     (json_int_t)tmp.cfg.observation_domain, "applies", applies,
			     "exporters", (json_int_t)S.n_exports);
	rs->status = rs->json ? 200 : 500;
out:
	pthread_mutex_unlock(&S.ctl);
	return rs->status;
}

static int encryption_impl(const struct crypt_req *cr, struct resp *rs)
{
	static const char *const cnames[] = { "aes-256-gcm", "aes-128-gcm", "chacha20-poly1305" };
	struct crypt_req tmp = *cr;
	const char *applies = "next_start";
	struct stat sb;
	int r;

	tmp.cfg.key_file = tmp.key_file;
	if (stat(tmp.key_file, &sb) != 0 || !S_ISREG(sb.st_mode))
		return resp_error(rs, 400, "key_file", "'key_file' is not a regular file");
	pthread_mutex_lock(&S.ctl);
	if (S.c && running_locked()) {
		r = capture_set_encryption(S.c, &tmp.cfg);
		if (r == 0) {
			applies = "now";
		} else if (r != -CAPTURE_E_STATE) {
			engine_error(rs, r, capture_last_error(S.c), "encryption", "key_file");
			goto out;
		}
	}
	S.crypt = tmp;
	S.crypt.cfg.key_file = S.crypt.key_file;
	S.crypt_on = true;
	rs->json = json_pack("{s:s, s:s, s:s}", "algorithm", cnames[tmp.cfg.cipher], "key_file",
			     tmp.key_file, "applies", applies);
	rs->status = rs->json ? 200 : 500;
out:
	pthread_mutex_unlock(&S.ctl);
	return rs->status;
}

int session_start(const struct start_req *sr, struct resp *rs)
{
	return on_ctl_thread(JOB_START, sr, rs);
}

int session_netflow_enable(const struct netflow_req *nr, struct resp *rs)
{
	return on_ctl_thread(JOB_NETFLOW, nr, rs);
}

int session_encryption_enable(const struct crypt_req *cr, struct resp *rs)
{
	return on_ctl_thread(JOB_CRYPT, cr, rs);
}

/* ---------------------------------------------------------------- metrics JSON */

static json_t *stats_json(const struct capture_stats *st, double pps, double bps)
{
	json_t *o, *skipped, *expired, *drops;
	int i;

	skipped = json_object();
	for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
		json_object_set_new(skipped, capture_skip_name(i), jint(st->skipped[i]));
	expired = json_pack("{s:o, s:o, s:o, s:o, s:o}", "idle", jint(st->flows_idle), "active",
			    jint(st->flows_active_timeout), "end", jint(st->flows_end), "evicted",
			    jint(st->flows_evicted), "shutdown", jint(st->flows_shutdown));
	drops = json_pack(
		"{s:{s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o}, s:{s:o}, s:{s:o, s:o}}", "kernel",
		"dropped", jint(st->kernel_drops), "ifdrops", jint(st->kernel_ifdrops), "freeze_q",
		jint(st->kernel_freeze_q), "xdp_rx_ring_full", jint(st->xdp_rx_ring_full),
		"xdp_fill_ring_empty", jint(st->xdp_fill_ring_empty), "export", "queue",
		jint(st->export_queue_drops), "tcp_queue", jint(st->export_tcp_queue_drops),
		"writer", "queue", jint(st->writer_queue_drops), "flows", "dropped_records",
		jint(st->flows_dropped), "packets_in_dropped_records",
		jint(st->packets_in_dropped_records));
	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:f}", "packets", jint(st->packets_read),
		      "bytes", jint(st->bytes_read), "packets_in_flows", jint(st->packets_in_flows),
		      "bytes_in_flows", jint(st->bytes_in_flows), "skipped", skipped, "drops",
		      drops, "pps", pps, "bps", bps);
	if (!o)
		return json_object();
	json_object_set_new(o, "flows",
			    json_pack("{s:o, s:o, s:o, s:o}", "active", jint(st->flows_active),
				      "created", jint(st->flows_created), "exported",
				      jint(st->flows_exported), "expired", expired));
	json_object_set_new(o, "kernel", json_pack("{s:o}", "packets", jint(st->kernel_packets)));
	json_object_set_new(o, "export",
			    json_pack("{s:o, s:o, s:o, s:o}", "records", jint(st->export_records),
				      "messages", jint(st->export_messages), "errors",
				      jint(st->export_errors), "not_exportable",
				      jint(st->export_not_exportable)));
	json_object_set_new(o, "writer",
			    json_pack("{s:o, s:o, s:o, s:o}", "packets", jint(st->writer_packets),
				      "bytes", jint(st->writer_bytes), "files",
				      jint(st->writer_files), "errors", jint(st->writer_errors)));
	json_object_set_new(o, "fragments",
			    json_pack("{s:o, s:o}", "tracked", jint(st->fragments_tracked),
				      "matched", jint(st->fragments_matched)));
	json_object_set_new(o, "ended_ring_records", jint(st->ended_ring_records));
	json_object_set_new(o, "first_ns", jint(st->first_ns));
	json_object_set_new(o, "last_ns", jint(st->last_ns));
	return o;
}

int session_metrics(struct resp *rs)
{
	struct capture_stats st = { .sz = sizeof(st) };
	double pps, bps, win = 0;
	json_t *workers;
	unsigned w;

	workers = json_array();
	pthread_rwlock_rdlock(&S.life);
	if (S.c && capture_get_stats(S.c, &st) < 0)
		memset(&st, 0, sizeof(st));
	rate_of(MAX_WORKERS, &pps, &bps, &win);
	rs->json = json_pack("{s:s, s:f, s:i, s:o}", "state", S.cached_state, "rate_window_sec",
			     win, "workers_count", (int)(S.c ? st.workers : 0), "total",
			     stats_json(&st, pps, bps));
	for (w = 0; S.c && w < st.workers && w < MAX_WORKERS; w++) {
		struct capture_stats ws = { .sz = sizeof(ws) };
		double wp, wb, ww;
		json_t *o;

		if (capture_get_worker_stats(S.c, w, &ws) < 0)
			continue;
		rate_of(w, &wp, &wb, &ww);
		o = stats_json(&ws, wp, wb);
		json_object_set_new(o, "worker", json_integer(w));
		json_array_append_new(workers, o);
	}
	pthread_rwlock_unlock(&S.life);
	if (!rs->json) {
		json_decref(workers);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	json_object_set_new(rs->json, "workers", workers);
	rs->status = 200;
	return 200;
}

/* ---------------------------------------------------------------- Prometheus text */

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap * 2 + (size_t)n;
			char *np = realloc(b->p, ncap);

			if (!np) {
				b->oom = true;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

/* Label values: backslash, double quote and newline escaped (exposition 0.0.4). */
static void label_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 3 < outlen; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define WFIELD(field) offsetof(struct capture_stats, field)

static uint64_t fld(const struct capture_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

static const struct {
	const char *name;
	const char *type;
	const char *help;
	size_t off;
} worker_metrics[] = {
	{ "jcap_packets_total", "counter", "Packets delivered to the engine.",
	  WFIELD(packets_read) },
	{ "jcap_bytes_total", "counter", "Wire bytes of the packets delivered to the engine.",
	  WFIELD(bytes_read) },
	{ "jcap_flow_packets_total", "counter", "Packets counted in flows.",
	  WFIELD(packets_in_flows) },
	{ "jcap_flow_bytes_total", "counter", "IP-layer bytes counted in flows.",
	  WFIELD(bytes_in_flows) },
	{ "jcap_flows_created_total", "counter", "Flows created in the flow table.",
	  WFIELD(flows_created) },
	{ "jcap_flows_exported_total", "counter", "Flow records that left the flow table.",
	  WFIELD(flows_exported) },
	{ "jcap_flows_active", "gauge", "Flows currently in the flow table.",
	  WFIELD(flows_active) },
};

static const struct {
	const char *name;
	const char *type;
	const char *help;
	size_t off;
} total_metrics[] = {
	{ "jcap_flows_dropped_total", "counter", "Live flows discarded by a non-graceful stop.",
	  WFIELD(flows_dropped) },
	{ "jcap_export_queue_drops_total", "counter", "Flow records lost to a full export queue.",
	  WFIELD(export_queue_drops) },
	{ "jcap_kernel_packets_total", "counter", "Packets the kernel saw (live capture).",
	  WFIELD(kernel_packets) },
	{ "jcap_kernel_drops_total", "counter",
	  "Packets the kernel dropped before the engine read them.", WFIELD(kernel_drops) },
	{ "jcap_kernel_ifdrops_total", "counter", "Packets dropped by the interface.",
	  WFIELD(kernel_ifdrops) },
	{ "jcap_kernel_freeze_queue_total", "counter", "TPACKET_V3 freeze-queue events.",
	  WFIELD(kernel_freeze_q) },
	{ "jcap_xdp_rx_ring_full_total", "counter", "AF_XDP receive ring full events.",
	  WFIELD(xdp_rx_ring_full) },
	{ "jcap_xdp_fill_ring_empty_total", "counter", "AF_XDP fill ring empty events.",
	  WFIELD(xdp_fill_ring_empty) },
	{ "jcap_writer_packets_total", "counter", "Packets written to capture files.",
	  WFIELD(writer_packets) },
	{ "jcap_writer_bytes_total", "counter", "Bytes written to capture files.",
	  WFIELD(writer_bytes) },
	{ "jcap_writer_queue_drops_total", "counter", "Packets lost to a full writer queue.",
	  WFIELD(writer_queue_drops) },
	{ "jcap_writer_files_total", "counter", "Capture files opened.", WFIELD(writer_files) },
	{ "jcap_writer_errors_total", "counter", "Capture file write errors.",
	  WFIELD(writer_errors) },
	{ "jcap_export_records_total", "counter", "Flow records handed to exporters.",
	  WFIELD(export_records) },
	{ "jcap_export_messages_total", "counter", "NetFlow/IPFIX messages sent.",
	  WFIELD(export_messages) },
	{ "jcap_export_errors_total", "counter", "Exporter send or write failures.",
	  WFIELD(export_errors) },
	{ "jcap_export_not_exportable_total", "counter",
	  "Records an exporter cannot carry (IPv6 for NetFlow v5).",
	  WFIELD(export_not_exportable) },
	{ "jcap_export_tcp_queue_drops_total", "counter",
	  "IPFIX/TCP records lost over the outage bound.", WFIELD(export_tcp_queue_drops) },
	{ "jcap_fragments_tracked_total", "counter", "First fragments entered in the table.",
	  WFIELD(fragments_tracked) },
	{ "jcap_fragments_matched_total", "counter", "Later fragments given their ports.",
	  WFIELD(fragments_matched) },
	{ "jcap_ended_ring_records", "gauge", "Flows in the recently-ended ring.",
	  WFIELD(ended_ring_records) },
};

static const char *const expire_names[] = { "idle", "active", "end", "evicted", "shutdown" };
static const size_t expire_offs[] = { WFIELD(flows_idle), WFIELD(flows_active_timeout),
				      WFIELD(flows_end), WFIELD(flows_evicted),
				      WFIELD(flows_shutdown) };

int session_prometheus(struct resp *rs)
{
	struct capture_stats tot = { .sz = sizeof(tot) };
	static struct capture_stats ws[MAX_WORKERS];
	struct capture_status cs = { .sz = sizeof(cs) };
	struct sbuf b = { 0 };
	char e1[96], e2[160];
	int codes[16];
	uint64_t counts[16];
	size_t i, nc;
	unsigned w, nw = 0;
	double pps, bps, win;
	bool have;
	static pthread_mutex_t ws_lock = PTHREAD_MUTEX_INITIALIZER;

	b.cap = 16384;
	b.p = malloc(b.cap);
	if (!b.p)
		return resp_error(rs, 500, NULL, "out of memory");
	b.p[0] = '\0';
	pthread_mutex_lock(&ws_lock);
	pthread_rwlock_rdlock(&S.life);
	have = S.c && capture_get_stats(S.c, &tot) == 0;
	if (have) {
		nw = tot.workers > MAX_WORKERS ? MAX_WORKERS : tot.workers;
		for (w = 0; w < nw; w++) {
			memset(&ws[w], 0, sizeof(ws[w]));
			ws[w].sz = sizeof(ws[w]);
			capture_get_worker_stats(S.c, w, &ws[w]);
		}
	} else {
		memset(&tot, 0, sizeof(tot));
	}
	pthread_rwlock_unlock(&S.life);

	for (i = 0; i < sizeof(worker_metrics) / sizeof(worker_metrics[0]); i++) {
		family(&b, worker_metrics[i].name, worker_metrics[i].type, worker_metrics[i].help);
		for (w = 0; w < nw; w++)
			sb_printf(&b, "%s{worker=\"%u\"} %llu\n", worker_metrics[i].name, w,
				  (unsigned long long)fld(&ws[w], worker_metrics[i].off));
	}
	family(&b, "jcap_packets_skipped_total", "counter",
	       "Packets in no flow, by worker and reason.");
	for (w = 0; w < nw; w++)
		for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
			sb_printf(&b,
				  "jcap_packets_skipped_total{worker=\"%u\",reason=\"%s\"} %llu\n",
				  w, capture_skip_name((int)i),
				  (unsigned long long)ws[w].skipped[i]);
	family(&b, "jcap_flows_expired_total", "counter",
	       "Flows that left the table, by worker and end reason.");
	for (w = 0; w < nw; w++)
		for (i = 0; i < 5; i++)
			sb_printf(&b,
				  "jcap_flows_expired_total{worker=\"%u\",reason=\"%s\"} %llu\n", w,
				  expire_names[i], (unsigned long long)fld(&ws[w], expire_offs[i]));
	family(&b, "jcap_packets_per_second", "gauge",
	       "Packet rate over the rate window, by worker.");
	for (w = 0; w < nw; w++) {
		rate_of(w, &pps, &bps, &win);
		sb_printf(&b, "jcap_packets_per_second{worker=\"%u\"} %.3f\n", w, pps);
	}
	family(&b, "jcap_bits_per_second", "gauge",
	       "Wire bit rate over the rate window, by worker.");
	for (w = 0; w < nw; w++) {
		rate_of(w, &pps, &bps, &win);
		sb_printf(&b, "jcap_bits_per_second{worker=\"%u\"} %.3f\n", w, bps);
	}
	pthread_mutex_unlock(&ws_lock);
	for (i = 0; i < sizeof(total_metrics) / sizeof(total_metrics[0]); i++) {
		family(&b, total_metrics[i].name, total_metrics[i].type, total_metrics[i].help);
		sb_printf(&b, "%s %llu\n", total_metrics[i].name,
			  (unsigned long long)fld(&tot, total_metrics[i].off));
	}

	/* session description: ctl may be busy with a stop; never wait for it here */
	memset(&cs, 0, sizeof(cs));
	cs.sz = sizeof(cs);
	pthread_rwlock_rdlock(&S.life);
	if (S.c && capture_get_status(S.c, &cs) != 0)
		memset(&cs, 0, sizeof(cs));
	pthread_rwlock_unlock(&S.life);
	cs.backend[sizeof(cs.backend) - 1] = '\0';
	cs.interface[sizeof(cs.interface) - 1] = '\0';
	family(&b, "jcap_capture_running", "gauge", "1 while a capture session runs.");
	sb_printf(&b, "jcap_capture_running %d\n", strcmp(S.cached_state, "running") == 0);
	family(&b, "jcap_capture_info", "gauge", "The session: state, backend and interface.");
	label_escape(cs.backend, e1, sizeof(e1));
	label_escape(cs.interface, e2, sizeof(e2));
	sb_printf(&b, "jcap_capture_info{state=\"%s\",backend=\"%s\",interface=\"%s\"} 1\n",
		  S.cached_state, e1, e2);
	family(&b, "jcap_capture_workers", "gauge", "Worker threads of the session.");
	sb_printf(&b, "jcap_capture_workers %u\n", have ? tot.workers : 0);
	family(&b, "jcap_capture_start_time_seconds", "gauge",
	       "Unix time the session started, 0 if none.");
	sb_printf(&b, "jcap_capture_start_time_seconds %.3f\n", (double)cs.start_ns / 1e9);
	family(&b, "jcapd_http_responses_total", "counter",
	       "Replies sent by the daemon, by status code (\"other\": any other).");
	nc = routes_status_counts(codes, counts, 16);
	for (i = 0; i < nc; i++) {
		if (codes[i])
			sb_printf(&b, "jcapd_http_responses_total{code=\"%d\"} %llu\n", codes[i],
				  (unsigned long long)counts[i]);
		else
			sb_printf(&b, "jcapd_http_responses_total{code=\"other\"} %llu\n",
				  (unsigned long long)counts[i]);
	}
	family(&b, "jcapd_build_info", "gauge", "Library version jcapd runs on.");
	sb_printf(&b, "jcapd_build_info{version=\"%s\"} 1\n", capture_version());
	if (b.oom) {
		free(b.p);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	rs->text = b.p;
	rs->text_len = b.len;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	rs->status = 200;
	return 200;
}

/* ---------------------------------------------------------------- flows */

static bool ip_match(const uint8_t *a, const struct flow_query *q)
{
	unsigned full = q->prefix / 8, rem = q->prefix % 8;

	if (memcmp(a, q->ip, full) != 0)
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));

		return (a[full] & mask) == (q->ip[full] & mask);
	}
	return true;
}

static bool flow_match(const struct capture_flow *f, const struct flow_query *q)
{
	if (q->proto >= 0 && f->proto != q->proto)
		return false;
	if (q->port >= 0 && f->src_port != q->port && f->dst_port != q->port)
		return false;
	if (q->has_ip) {
		if (f->ip_version != q->ip_version)
			return false;
		if (!ip_match(f->src_ip, q) && !ip_match(f->dst_ip, q))
			return false;
	}
	return true;
}

static uint64_t flow_key(const struct capture_flow *f, int sort_key)
{
	switch (sort_key) {
	case FLOW_SORT_PACKETS:
		return f->packets + f->rev_packets;
	case FLOW_SORT_DURATION:
		return f->last_ns >= f->first_ns ? f->last_ns - f->first_ns : 0;
	case FLOW_SORT_LAST_SEEN:
		return f->last_ns;
	default:
		return f->bytes + f->rev_bytes;
	}
}

/* Descending by the key; ties by first packet time, then the tuple, so order is stable. */
static int flow_cmp(const void *pa, const void *pb, void *arg)
{
	const struct capture_flow *a = pa, *b = pb;
	int sort_key = *(const int *)arg;
	uint64_t ka = flow_key(a, sort_key), kb = flow_key(b, sort_key);
	int c;

	if (ka != kb)
		return ka > kb ? -1 : 1;
	if (a->first_ns != b->first_ns)
		return a->first_ns < b->first_ns ? -1 : 1;
	c = memcmp(a->src_ip, b->src_ip, 16);
	if (c)
		return c;
	c = memcmp(a->dst_ip, b->dst_ip, 16);
	if (c)
		return c;
	if (a->src_port != b->src_port)
		return a->src_port < b->src_port ? -1 : 1;
	if (a->dst_port != b->dst_port)
		return a->dst_port < b->dst_port ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return (int)a->end_reason - (int)b->end_reason;
}

static const char *const sort_names[] = { "bytes", "packets", "duration", "last_seen" };

/*
 * Ordering: the sort key is computed once per flow and the top @k kept in a
 * bounded heap (O(n log k)), so "top 10 of a million" does not sort a million
 * 128-byte records; ties fall back to the full comparison, so the order is the
 * same as sorting everything.
 */
struct ranked {
	uint64_t key;
	uint32_t idx;
};

struct rank_ctx {
	const struct capture_flow *arr;
	int sort;
};

/* <0 when @a ranks before @b. */
static int rank_cmp(const void *pa, const void *pb, void *arg)
{
	const struct ranked *a = pa, *b = pb;
	struct rank_ctx *rc = arg;

	if (a->key != b->key)
		return a->key > b->key ? -1 : 1;
	return flow_cmp(&rc->arr[a->idx], &rc->arr[b->idx], &rc->sort);
}

/* Max-heap on "ranks later": the root is the worst of the kept ones. */
static void heap_down(struct ranked *h, size_t n, size_t i, struct rank_ctx *rc)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		struct ranked t;

		if (l < n && rank_cmp(&h[l], &h[w], rc) > 0)
			w = l;
		if (r < n && rank_cmp(&h[r], &h[w], rc) > 0)
			w = r;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* The first @k of @n flows in order (array of k), or NULL (k == 0 or no memory). */
static struct ranked *order_flows(const struct capture_flow *arr, size_t n, size_t k, int sort)
{
	struct rank_ctx rc = { arr, sort };
	struct ranked *h, cur;
	size_t i;

	if (!k)
		return NULL;
	h = malloc(k * sizeof(*h));
	if (!h)
		return NULL;
	for (i = 0; i < n; i++) {
		cur.key = flow_key(&arr[i], sort);
		cur.idx = (uint32_t)i;
		if (i < k) {
			h[i] = cur;
			if (i == k - 1)
				for (size_t j = k / 2; j-- > 0;)
					heap_down(h, k, j, &rc);
		} else if (rank_cmp(&cur, &h[0], &rc) < 0) {
			h[0] = cur;
			heap_down(h, k, 0, &rc);
		}
	}
	qsort_r(h, k, sizeof(*h), rank_cmp, &rc);
	return h;
}

/*
 * Flow snapshots are shared by the requests that queued up behind one another:
 * a snapshot whose copy began after a request arrived is as fresh as that request
 * needs, so a burst of /flows requests costs the workers one copy, not one each.
 * Arrival and copy times are tickets from one counter, so nothing older than the
 * request is ever served. Small snapshots only; big ones are not kept.
 */
#define SNAP_KEEP_MAX 65536

static _Atomic uint64_t flow_ticket;

static struct {
	struct capture *c; /* handle the copy came from (under ctl) */
	unsigned flags;
	uint64_t stamp; /* ticket taken when the copy began */
	struct capture_flow *arr;
	size_t n;
	uint64_t total;
} snap;

/* Forget the kept snapshot (ctl held): its handle is going away. */
static void snap_drop(void)
{
	free(snap.arr);
	memset(&snap, 0, sizeof(snap));
}

/* Copy the flows of S.c (ctl held) into a new array. Returns 0 or an HTTP status. */
static int fetch_flows(unsigned flags, struct capture_flow **out, size_t *nout, uint64_t *totalp,
		       struct resp *rs)
{
	struct capture_flow *arr = NULL;
	size_t cap = 4096, n = 0;
	uint64_t total = 0;
	int64_t got;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		struct capture_flow *na = realloc(arr, cap * sizeof(*arr));

		if (!na) {
			free(arr);
			return resp_error(rs, 500, NULL, "out of memory for %zu flows", cap);
		}
		arr = na;
		got = capture_flow_get_all(S.c, arr, cap, flags, &total);
		if (got < 0) {
			free(arr);
			return engine_error(rs, (int)got, capture_last_error(S.c), "flows", NULL);
		}
		n = (size_t)got;
		if (total <= cap || cap >= g_opts.flows_scan_max)
			break;
		cap = total + total / 8 + 64;
		if (cap > g_opts.flows_scan_max)
			cap = g_opts.flows_scan_max;
	}
	*out = arr;
	*nout = n;
	*totalp = total;
	return 0;
}

int session_flows(const struct flow_query *q, struct resp *rs)
{
	struct capture_flow *arr = NULL;
	struct ranked *order = NULL;
	unsigned flags = CAPTURE_FLOWS_ACTIVE | (q->all ? CAPTURE_FLOWS_ENDED : 0);
	uint64_t arrival = atomic_fetch_add(&flow_ticket, 1);
	size_t n = 0, m, i, out_n;
	uint64_t total = 0;
	struct sbuf b = { 0 };
	char one[1024];
	bool truncated = false;
	int st;

	pthread_mutex_lock(&S.ctl);
	if (S.c && snap.arr && snap.c == S.c && snap.flags == flags && snap.stamp > arrival) {
		arr = malloc((snap.n ? snap.n : 1) * sizeof(*arr));
		if (!arr) {
			pthread_mutex_unlock(&S.ctl);
			return resp_error(rs, 500, NULL, "out of memory");
		}
		memcpy(arr, snap.arr, snap.n * sizeof(*arr));
		n = snap.n;
		total = snap.total;
	} else if (S.c) {
		uint64_t stamp = atomic_fetch_add(&flow_ticket, 1);

		st = fetch_flows(flags, &arr, &n, &total, rs);
		if (st) {
			pthread_mutex_unlock(&S.ctl);
			return st;
		}
		free(snap.arr);
		snap.arr = NULL;
		if (n <= SNAP_KEEP_MAX) {
			snap.arr = malloc((n ? n : 1) * sizeof(*arr));
			if (snap.arr) {
				memcpy(snap.arr, arr, n * sizeof(*arr));
				snap.c = S.c;
				snap.flags = flags;
				snap.stamp = stamp;
				snap.n = n;
				snap.total = total;
			}
		}
	}
	truncated = total > n;
	pthread_mutex_unlock(&S.ctl);

	for (i = m = 0; i < n; i++)
		if (flow_match(&arr[i], q))
			arr[m++] = arr[i];
	out_n = (q->limit && q->limit < m) ? (size_t)q->limit : m;
	order = order_flows(arr, m, out_n, q->sort);
	if (!order && out_n) {
		free(arr);
		return resp_error(rs, 500, NULL, "out of memory");
	}

	/*
	 * The records are written by capture_flow_to_json(), the library's one
	 * definition of the flow record, so they match `jcap -F json` byte for byte.
	 */
	b.cap = 256 + out_n * 400;
	b.p = malloc(b.cap);
	if (!b.p) {
		free(arr);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	b.p[0] = '\0';
	sb_printf(&b,
		  "{\"state\":\"%s\",\"sort_by\":\"%s\",\"limit\":%llu,\"matched\":%zu,"
		  "\"total\":%llu,\"truncated\":%s,\"returned\":%zu,\"flows\":[",
		  q->all ? "all" : "active", sort_names[q->sort], (unsigned long long)q->limit, m,
		  (unsigned long long)total, truncated ? "true" : "false", out_n);
	for (i = 0; i < out_n; i++) {
		int len = capture_flow_to_json(&arr[order[i].idx], one, sizeof(one));

		if (len < 0) {
			free(order);
			free(arr);
			free(b.p);
			return resp_error(rs, 500, NULL, "flow record: %s", capture_strerror(len));
		}
		sb_printf(&b, "%s%s", i ? "," : "", one);
	}
	sb_printf(&b, "]}\n");
	free(order);
	free(arr);
	if (b.oom) {
		free(b.p);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	rs->text = b.p;
	rs->text_len = b.len;
	rs->content_type = "application/json";
	rs->status = 200;
	return 200;
}
