/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd capture session lifecycle: one engine handle at a time (g_sess), its
 * start, stop and shutdown, the daemon's view of its state, and the mapping of
 * engine errors to HTTP replies. A start builds the new handle completely
 * before it replaces the old one under `life`, so readers see one or the other.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "session.h"

struct session g_sess = {
	.ctl = PTHREAD_MUTEX_INITIALIZER,
	.life = PTHREAD_RWLOCK_INITIALIZER,
	.cached_state = "idle",
};

/* ---------------------------------------------------------------- state */

const char *session_state_locked(void)
{
	int r;

	if (!g_sess.c)
		return "idle";
	if (g_sess.stopped)
		return "stopped";
	r = capture_poll(g_sess.c, 0);
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
	return g_sess.cached_state;
}

/* sessions started since the daemon did: the audit names the one a request touched */
static _Atomic uint64_t serial;

uint64_t session_serial(void)
{
	return atomic_load_explicit(&serial, memory_order_relaxed);
}

void session_tick(void)
{
	pthread_rwlock_rdlock(&g_sess.life);
	if (g_sess.c)
		rates_sample(g_sess.c);
	pthread_rwlock_unlock(&g_sess.life);
	/* keep /healthz's state fresh without waiting behind a long operation */
	if (pthread_mutex_trylock(&g_sess.ctl) == 0) {
		g_sess.cached_state = session_state_locked();
		pthread_mutex_unlock(&g_sess.ctl);
	}
}

int session_init(void)
{
	int err;

	g_sess.flow_on = g_opts.flow_metering;
	g_sess.flow.sz = sizeof(g_sess.flow);
	g_sess.flow.table_size = g_opts.table_size;
	g_sess.flow.idle_timeout_sec = g_opts.idle_timeout_sec;
	g_sess.flow.active_timeout_sec = g_opts.active_timeout_sec;
	g_sess.flow.ended_ring_size = g_opts.ended_ring_size;
	g_sess.flow.community_id_seed = (uint16_t)g_opts.community_id_seed;
	err = rates_start();
	if (err)
		return err;
	return ctl_start();
}

void session_release(void)
{
	ctl_stop();
	rates_stop();
	pthread_mutex_lock(&g_sess.ctl);
	pthread_rwlock_wrlock(&g_sess.life);
	capture_destroy(g_sess.c);
	g_sess.c = NULL;
	flows_snap_drop();
	pthread_rwlock_unlock(&g_sess.life);
	pthread_mutex_unlock(&g_sess.ctl);
}

/* ---------------------------------------------------------------- errors */

int session_engine_error(struct resp *rs, int err, const char *detail, const char *what,
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

/* ---------------------------------------------------------------- start */

void session_netflow_fixup(struct netflow_req *nr)
{
	nr->cfg.collector = nr->collector[0] ? nr->collector : NULL;
	nr->cfg.path = nr->path[0] ? nr->path : NULL;
}

static void start_config(const struct start_req *sr, struct capture_config *cfg)
{
	cfg->interface = sr->interface[0] ? sr->interface : NULL;
	cfg->pcap_file = sr->pcap_file[0] ? sr->pcap_file : NULL;
	cfg->pcap_files = sr->npcap_files ? sr->pcap_file_list : NULL;
	cfg->npcap_files = sr->npcap_files;
	cfg->backend = sr->backend;
	cfg->filter = sr->has_filter ? sr->filter : NULL;
	cfg->snaplen = sr->snaplen;
	cfg->buffer_size_mb = sr->buffer_size_mb;
	cfg->workers = sr->workers;
	cfg->promiscuous = sr->promiscuous;
	cfg->tstamp = (uint8_t)sr->tstamp;
	cfg->max_packets = sr->max_packets;
	cfg->duration_sec = sr->duration_sec;
	cfg->log_fn = jlog_engine;
	cfg->log_level = g_opts.log_level;
	cfg->decrypt_key_file = sr->decrypt_key_file[0] ? sr->decrypt_key_file : NULL;
	cfg->dpdk_eal = sr->dpdk_eal[0] ? sr->dpdk_eal : NULL;
	cfg->ebpf_hook = sr->ebpf_hook[0] ? sr->ebpf_hook : NULL;
	cfg->ebpf_map_flows = sr->ebpf_map_flows;
	cfg->ebpf_drop = sr->ebpf_drop;
	cfg->decap_off = sr->decap_off;
	cfg->tunnel_ports = sr->tunnel_ports[0] ? sr->tunnel_ports : NULL;
	cfg->geoip_city = sr->geoip_city[0] ? sr->geoip_city : NULL;
	cfg->geoip_asn = sr->geoip_asn[0] ? sr->geoip_asn : NULL;
	cfg->sample_rate = sr->sample_rate;
	cfg->sample_random = sr->sample_random;
	cfg->user = g_opts.capture_user[0] ? g_opts.capture_user : NULL;
}

/*
 * Give the new handle @nc the session's settings: flow metering, exporters (the
 * API's and the config file's), packet files and their encryption; ctl held.
 * Returns 0, or the HTTP status of the error written to @rs.
 */
static int start_outputs(struct capture *nc, const struct start_req *sr, struct resp *rs)
{
	unsigned i;
	int r;

	if (g_sess.flow_on) {
		struct capture_flow_config fc = g_sess.flow;

		fc.inspect_off = sr->inspect_off;
		fc.inspect_flows = sr->inspect_flows;
		r = capture_flow_enable(nc, &fc);
		if (r < 0)
			return session_engine_error(rs, r, capture_last_error(nc), "flow metering",
						    NULL);
	}
	for (i = 0; i < g_sess.n_exports; i++) {
		session_netflow_fixup(&g_sess.exports[i]);
		r = capture_netflow_enable(nc, &g_sess.exports[i].cfg);
		if (r < 0)
			return session_engine_error(rs, r, capture_last_error(nc), "netflow export",
						    "collector");
	}
	for (i = 0; i < g_opts.n_exports; i++) {
		struct capture_export_opts xo = sr->xo;

		xo.sz = sizeof(xo);
		xo.props = g_opts.export_props[0] ? g_opts.export_props : NULL;
		r = capture_export_add(nc, g_opts.exports[i], &xo);
		if (r < 0)
			return session_engine_error(rs, r, capture_last_error(nc),
						    "export (config file)", NULL);
	}
	if (!sr->has_pcap_out)
		return 0;
	r = capture_pcap_out_enable(nc, &sr->pcap_out);
	if (r < 0)
		return session_engine_error(rs, r, capture_last_error(nc), "pcap_out", "pcap_out");
	if (g_sess.crypt_on) {
		g_sess.crypt.cfg.key_file = g_sess.crypt.key_file;
		r = capture_set_encryption(nc, &g_sess.crypt.cfg);
		if (r < 0)
			return session_engine_error(rs, r, capture_last_error(nc), "encryption",
						    "key_file");
	}
	return 0;
}

/* Make the started handle @nc the session's and destroy the one before; ctl held. */
static void start_install(struct capture *nc, const struct start_req *sr)
{
	struct capture *old;

	memcpy(g_sess.backend_requested, sr->backend, sizeof(g_sess.backend_requested));
	pthread_rwlock_wrlock(&g_sess.life);
	old = g_sess.c;
	g_sess.c = nc;
	flows_snap_drop();
	g_sess.stopped = false;
	g_sess.graceful = false;
	atomic_fetch_add_explicit(&serial, 1, memory_order_relaxed);
	rates_reset();
	pthread_rwlock_unlock(&g_sess.life);
	capture_destroy(old);
}

/* On the control thread: engine threads inherit its priority. */
static int start_job(const void *arg, struct resp *rs)
{
	const struct start_req *sr = arg;
	struct capture_config cfg = { .sz = sizeof(cfg) };
	struct capture *nc = NULL;
	const char *state, *input;
	json_t *o;
	int r;

	pthread_mutex_lock(&g_sess.ctl);
	state = session_state_locked();
	if (strcmp(state, "running") == 0 || strcmp(state, "starting") == 0) {
		resp_error(rs, 409, NULL, "a capture session is already running; stop it first");
		goto out;
	}
	start_config(sr, &cfg);
	input = cfg.pcap_file ? "pcap_file" : cfg.npcap_files ? "pcap_files" : "interface";
	r = capture_init(&nc, &cfg);
	if (r < 0) {
		session_engine_error(rs, r, capture_last_error(NULL), "start", input);
		goto out;
	}
	if (start_outputs(nc, sr, rs))
		goto destroy_nc;
	r = capture_start(nc);
	if (r < 0) {
		session_engine_error(rs, r, capture_last_error(nc), "start", input);
		goto destroy_nc;
	}
	start_install(nc, sr);
	jlog(CAPTURE_LOG_INFO, "session started: %s %s", cfg.interface ? "interface" : "file",
	     cfg.interface ? cfg.interface : cfg.npcap_files ? cfg.pcap_files[0] : cfg.pcap_file);
	o = session_status_json_locked();
	if (o && sr->has_pcap_out)
		json_object_set_new(o, "encrypted", json_boolean(g_sess.crypt_on));
	resp_json(rs, o);
	goto out;
destroy_nc:
	capture_destroy(nc);
out:
	pthread_mutex_unlock(&g_sess.ctl);
	return rs->status;
}

int session_start(const struct start_req *sr, struct resp *rs)
{
	return ctl_call(start_job, sr, rs);
}

/* ---------------------------------------------------------------- stop */

int session_stop(bool graceful, struct resp *rs)
{
	struct capture_stats st = { .sz = sizeof(st) };
	double pps, bps, win;
	int r;

	pthread_mutex_lock(&g_sess.ctl);
	if (!g_sess.c || g_sess.stopped) {
		resp_error(rs, 409, NULL, "no capture session to stop");
		goto out;
	}
	r = capture_stop(g_sess.c, graceful);
	if (r < 0 && r != -CAPTURE_E_STATE) {
		session_engine_error(rs, r, capture_last_error(g_sess.c), "stop", NULL);
		goto out;
	}
	g_sess.stopped = true;
	g_sess.graceful = graceful;
	g_sess.cached_state = "stopped";
	capture_get_stats(g_sess.c, &st);
	rates_get(RATES_TOTAL, &pps, &bps, &win);
	resp_json(rs, json_pack("{s:s, s:b, s:o}", "state", "stopped", "graceful", graceful,
				"stats", session_stats_json(&st, pps, bps)));
	jlog(CAPTURE_LOG_INFO, "session stopped (%s)", graceful ? "graceful" : "immediate");
out:
	pthread_mutex_unlock(&g_sess.ctl);
	return rs->status;
}

void session_shutdown(void)
{
	const char *state;

	pthread_mutex_lock(&g_sess.ctl);
	state = session_state_locked();
	if (g_sess.c && !g_sess.stopped) {
		int r = capture_stop(g_sess.c, true);

		if (r < 0 && r != -CAPTURE_E_STATE)
			jlog(CAPTURE_LOG_ERROR, "graceful stop (%s): %s: %s", state,
			     capture_strerror(r), capture_last_error(g_sess.c));
		else
			jlog(CAPTURE_LOG_INFO, "session stopped gracefully at shutdown");
		g_sess.stopped = true;
		g_sess.graceful = true;
	}
	pthread_mutex_unlock(&g_sess.ctl);
}
