/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd session settings: flow metering, NetFlow/IPFIX exporters and packet
 * file encryption. Each is kept in g_sess for the next start and, where the
 * engine takes it during a session, checked or applied on the running handle
 * first, so a setting the engine refuses is never kept.
 */
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "session.h"

static bool running_locked(void)
{
	const char *s = session_state_locked();

	return strcmp(s, "running") == 0;
}

/* ---------------------------------------------------------------- flow metering */

static json_t *flow_cfg_json(const struct capture_flow_config *f)
{
	return json_pack("{s:b, s:i, s:i, s:i, s:b, s:i, s:i}", "enabled", g_sess.flow_on,
			 "table_size", (json_int_t)f->table_size, "idle_timeout_sec",
			 (json_int_t)f->idle_timeout_sec, "active_timeout_sec",
			 (json_int_t)f->active_timeout_sec, "uniflow", f->uniflow,
			 "ended_ring_size", (json_int_t)f->ended_ring_size, "community_id_seed",
			 (json_int_t)f->community_id_seed);
}

int session_flow_enable(const struct capture_flow_config *fc, struct resp *rs)
{
	int r;

	pthread_mutex_lock(&g_sess.ctl);
	if (g_sess.c && running_locked()) {
		/* The library takes new settings for its next start: this checks them. */
		r = capture_flow_enable(g_sess.c, fc);
		if (r < 0) {
			session_engine_error(rs, r, capture_last_error(g_sess.c), "flow metering",
					     NULL);
			goto out;
		}
	}
	g_sess.flow = *fc;
	g_sess.flow.sz = sizeof(g_sess.flow);
	g_sess.flow_on = true;
	resp_json(rs, json_pack("{s:o, s:s}", "flow_metering", flow_cfg_json(&g_sess.flow),
				"applies", "next_start"));
out:
	pthread_mutex_unlock(&g_sess.ctl);
	return rs->status;
}

/* ---------------------------------------------------------------- exporters */

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

static json_t *exporter_json(const struct netflow_req *nr, const char *applies)
{
	static const char *const tnames[] = { "udp", "tcp", "file" };

	return json_pack("{s:i, s:s, s:s, s:i, s:s, s:i, s:i, s:s, s:i}", "version",
			 (json_int_t)nr->cfg.version, "transport", tnames[nr->cfg.transport],
			 "collector", nr->collector, "port", (json_int_t)nr->cfg.port, "path",
			 nr->path, "template_refresh_sec", (json_int_t)nr->cfg.template_refresh_sec,
			 "observation_domain", (json_int_t)nr->cfg.observation_domain, "applies",
			 applies, "exporters", (json_int_t)g_sess.n_exports);
}

/* On the control thread: a running engine starts the exporter's thread now. */
static int netflow_job(const void *arg, struct resp *rs)
{
	const struct netflow_req *nr = arg;
	struct netflow_req tmp = *nr;
	const char *applies = "next_start";
	unsigned i;
	int r;

	pthread_mutex_lock(&g_sess.ctl);
	for (i = 0; i < g_sess.n_exports; i++)
		if (same_exporter(&g_sess.exports[i], nr))
			break;
	if (i == g_sess.n_exports && g_sess.n_exports == JCAPD_MAX_EXPORTS) {
		resp_error(rs, 409, NULL, "already %d exporters enabled", JCAPD_MAX_EXPORTS);
		goto out;
	}
	session_netflow_fixup(&tmp);
	if (g_sess.c && running_locked()) {
		if (i < g_sess.n_exports) {
			resp_error(rs, 409, NULL, "this exporter is already enabled");
			goto out;
		}
		r = capture_netflow_enable(g_sess.c, &tmp.cfg);
		if (r < 0) {
			session_engine_error(
				rs, r, capture_last_error(g_sess.c), "netflow export",
				tmp.cfg.transport == CAPTURE_TRANSPORT_FILE ? "path" : "collector");
			goto out;
		}
		applies = "now";
	} else if (tmp.cfg.transport != CAPTURE_TRANSPORT_FILE &&
		   resolve_collector(tmp.collector, rs)) {
		goto out;
	}
	g_sess.exports[i] = tmp;
	session_netflow_fixup(&g_sess.exports[i]);
	if (i == g_sess.n_exports)
		g_sess.n_exports++;
	resp_json(rs, exporter_json(&tmp, applies));
out:
	pthread_mutex_unlock(&g_sess.ctl);
	return rs->status;
}

int session_netflow_enable(const struct netflow_req *nr, struct resp *rs)
{
	return ctl_call(netflow_job, nr, rs);
}

/* ---------------------------------------------------------------- encryption */

/* On the control thread: a running engine may start its encryption thread now. */
static int crypt_job(const void *arg, struct resp *rs)
{
	struct crypt_req tmp = *(const struct crypt_req *)arg;
	const char *applies = "next_start";
	struct stat sb;
	int r;

	tmp.cfg.key_file = tmp.key_file;
	if (stat(tmp.key_file, &sb) != 0 || !S_ISREG(sb.st_mode))
		return resp_error(rs, 400, "key_file", "'key_file' is not a regular file");
	pthread_mutex_lock(&g_sess.ctl);
	if (g_sess.c && running_locked()) {
		r = capture_set_encryption(g_sess.c, &tmp.cfg);
		if (r == 0) {
			applies = "now";
		} else if (r != -CAPTURE_E_STATE) {
			session_engine_error(rs, r, capture_last_error(g_sess.c), "encryption",
					     "key_file");
			goto out;
		}
	}
	g_sess.crypt = tmp;
	g_sess.crypt.cfg.key_file = g_sess.crypt.key_file;
	g_sess.crypt_on = true;
	resp_json(rs, json_pack("{s:s, s:s, s:s}", "algorithm", capture_cipher_name(tmp.cfg.cipher),
				"key_file", tmp.key_file, "applies", applies));
out:
	pthread_mutex_unlock(&g_sess.ctl);
	return rs->status;
}

int session_encryption_enable(const struct crypt_req *cr, struct resp *rs)
{
	return ctl_call(crypt_job, cr, rs);
}
