/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd routes: the /packet_capture/capture/... endpoints plus /metrics, /healthz
 * and /openapi.json. Each request is checked whole (route, method, token, media
 * type, every field and its range) before anything changes: no half-done state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jcapd.h"

#define PREFIX "/packet_capture/capture"

/* ---------------------------------------------------------------- status counters */

static const int counted[] = { 200, 400, 401, 403, 404, 405, 409, 413, 415, 500 };
static _Atomic uint64_t status_count[sizeof(counted) / sizeof(counted[0]) + 1];

void routes_count_status(int status)
{
	size_t i, n = sizeof(counted) / sizeof(counted[0]);

	for (i = 0; i < n; i++)
		if (counted[i] == status)
			break;
	atomic_fetch_add_explicit(&status_count[i], 1, memory_order_relaxed);
}

size_t routes_status_counts(int *codes, uint64_t *counts, size_t max)
{
	size_t i, n = sizeof(counted) / sizeof(counted[0]);

	for (i = 0; i <= n && i < max; i++) {
		codes[i] = i < n ? counted[i] : 0; /* 0: any other status */
		counts[i] = atomic_load_explicit(&status_count[i], memory_order_relaxed);
	}
	return i;
}

int resp_error(struct resp *rs, int status, const char *field, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(rs->json);
	rs->json = json_object();
	if (rs->json) {
		json_object_set_new(rs->json, "error", json_string(msg));
		if (field)
			json_object_set_new(rs->json, "field", json_string(field));
	}
	rs->status = status;
	return status;
}

int resp_json(struct resp *rs, json_t *o)
{
	rs->json = o;
	rs->status = o ? 200 : 500;
	return rs->status;
}

int resp_text(struct resp *rs, char *text, size_t len, const char *content_type)
{
	rs->text = text;
	rs->text_len = len;
	rs->content_type = content_type;
	rs->status = 200;
	return 200;
}

/* ---------------------------------------------------------------- JSON field helpers */

/* Every key of @o must be in @allowed; otherwise 400 naming the first stranger. */
static int check_keys(const json_t *o, const char *const *allowed, struct resp *rs)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v)
	{
		const char *const *a;

		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return resp_error(rs, 400, key, "unknown field '%s'", key);
	}
	return 0;
}

static int get_uint(const json_t *o, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		    bool *present, struct resp *rs)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return resp_error(rs, 400, key, "'%s' must be an integer", key);
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return resp_error(rs, 400, key, "'%s' must be in %llu..%llu", key,
				  (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

/* get_uint() into a uint32_t, which keeps its value (the default) when @key is absent. */
static int get_u32(const json_t *o, const char *key, uint32_t min, uint32_t max, uint32_t *out,
		   struct resp *rs)
{
	bool present;
	uint64_t v = 0;
	int st = get_uint(o, key, min, max, &v, &present, rs);

	if (!st && present)
		*out = (uint32_t)v;
	return st;
}

static int get_str(const json_t *o, const char *key, size_t maxlen, char *out, bool *present,
		   struct resp *rs)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return resp_error(rs, 400, key, "'%s' must be a string", key);
	n = json_string_length(v);
	if (n >= maxlen)
		return resp_error(rs, 400, key, "'%s' is longer than %zu characters", key,
				  maxlen - 1);
	if (memchr(json_string_value(v), '\0', n))
		return resp_error(rs, 400, key, "'%s' contains a NUL character", key);
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

static int get_bool(const json_t *o, const char *key, bool *out, struct resp *rs)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return resp_error(rs, 400, key, "'%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* Map paths_confine()'s answer to 403 / 400 for field @key. */
static int confine(const char *key, const char *path, bool must_exist, char *out, size_t outlen,
		   struct resp *rs)
{
	int err = paths_confine(path, must_exist, out, outlen);

	if (err == 0)
		return 0;
	if (err == -EACCES)
		return resp_error(rs, 403, key, "'%s' is outside the allowed directories", key);
	if (err == -EINVAL)
		return resp_error(rs, 400, key, "'%s' must be an absolute path", key);
	return resp_error(rs, 400, key, "%s: %s", path, strerror(-err));
}

int routes_find_name(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- handlers */

static int h_backends(const struct req *rq, const json_t *body, struct resp *rs)
{
	struct capture_backend_info bi[32];
	json_t *arr;
	int n, i;

	n = capture_list_backends(bi, 32);
	if (n < 0)
		return resp_error(rs, 500, NULL, "listing backends: %s", capture_strerror(n));
	if (n > 32)
		n = 32;
	arr = json_array();
	for (i = 0; i < n; i++) {
		bi[i].name[sizeof(bi[i].name) - 1] = '\0';
		bi[i].reason[sizeof(bi[i].reason) - 1] = '\0';
		json_array_append_new(arr, json_pack("{s:s, s:b, s:i, s:s}", "name", bi[i].name,
						     "available", bi[i].available, "preference",
						     bi[i].preference, "reason", bi[i].reason));
	}
	return resp_json(rs, json_pack("{s:o}", "backends", arr));
}

static const char *const backends_ok[] = { "auto",  "dpdk", "pcap", "afpacket",
					   "afxdp", "ebpf", "file", NULL };
static const char *const tstamps[] = { "kernel", "hardware", "ptp", "ntp", NULL };

static int parse_pcap_out(const json_t *po, struct start_req *sr, struct resp *rs)
{
	static const char *const keys[] = {
		"dir",	     "format",	"rotate_size_mb", "rotate_seconds",
		"max_files", "snaplen", "filter",	  NULL
	};
	static const char *const formats[] = { "pcap", "pcapng", NULL };
	char dir[JCAPD_PATH_MAX], fmt[16] = "pcap";
	uint64_t v;
	bool has_dir = false, present;
	int st;

	if (!json_is_object(po))
		return resp_error(rs, 400, "pcap_out", "'pcap_out' must be an object");
	if ((st = check_keys(po, keys, rs)))
		return st;
	if ((st = get_str(po, "dir", sizeof(dir), dir, &has_dir, rs)))
		return st;
	if (!has_dir)
		return resp_error(rs, 400, "dir", "'pcap_out' needs 'dir'");
	if ((st = confine("dir", dir, true, sr->pcap_out_dir, sizeof(sr->pcap_out_dir), rs)))
		return st;
	if ((st = get_str(po, "format", sizeof(fmt), fmt, NULL, rs)))
		return st;
	if (routes_find_name(formats, fmt) < 0)
		return resp_error(rs, 400, "format", "'format' must be pcap or pcapng");
	sr->pcap_out.sz = sizeof(sr->pcap_out);
	sr->pcap_out.format = (uint8_t)routes_find_name(formats, fmt);
	if ((st = get_uint(po, "rotate_size_mb", 1, 1048576, &v, &present, rs)))
		return st;
	if (present)
		sr->pcap_out.rotate_bytes = v << 20;
	if ((st = get_u32(po, "rotate_seconds", 1, 86400 * 7, &sr->pcap_out.rotate_seconds, rs)) ||
	    (st = get_u32(po, "max_files", 1, 1000000, &sr->pcap_out.max_files, rs)) ||
	    (st = get_u32(po, "snaplen", 64, 262144, &sr->pcap_out.snaplen, rs)))
		return st;
	if ((st = get_str(po, "filter", sizeof(sr->pcap_out_filter), sr->pcap_out_filter, &present,
			  rs)))
		return st;
	sr->pcap_out.dir = sr->pcap_out_dir;
	sr->pcap_out.filter = present ? sr->pcap_out_filter : NULL;
	sr->has_pcap_out = true;
	return 0;
}

/*
 * EAL arguments from a client: nothing that loads code (-d) or names a file
 * outside the confinement. A --vdev's rx_pcap=PATH is confined like
 * pcap_file; any other absolute path (tx_pcap, vhost sockets, --huge-dir) is
 * refused. Quotes are not accepted: arguments are split at white space.
 */
static int check_dpdk_eal(const char *args, struct resp *rs)
{
	char buf[1024], path[JCAPD_PATH_MAX], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", args);
	if (strpbrk(buf, "'\"\\"))
		return resp_error(rs, 400, "dpdk_eal", "'dpdk_eal': quotes are not accepted");
	for (tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		char *kv = strstr(tok, "rx_pcap=");
		char *end;
		int st;

		if (strncmp(tok, "-d", 2) == 0 || strncmp(tok, "--driver-path", 13) == 0)
			return resp_error(rs, 403, "dpdk_eal",
					  "'dpdk_eal': loading drivers (-d) is not allowed");
		if (kv && (kv == tok || kv[-1] == ',')) {
			kv += 8;
			end = strchr(kv, ',');
			if (end)
				*end = '\0';
			st = confine("dpdk_eal", kv, true, path, sizeof(path), rs);
			if (st)
				return st;
			if (end)
				*end = ',';
			memset(kv, 'x', end ? (size_t)(end - kv) : strlen(kv));
		}
		if (strchr(tok, '/'))
			return resp_error(rs, 403, "dpdk_eal",
					  "'dpdk_eal': only rx_pcap= may name a file");
	}
	return 0;
}

/* "decap" (all, none, tunnel names) and "tunnel_ports" (checked by capture_init). */
static int get_decap(const json_t *body, struct start_req *sr, struct resp *rs)
{
	char decap[256] = "all";
	int st;

	if ((st = get_str(body, "decap", sizeof(decap), decap, NULL, rs)) ||
	    (st = get_str(body, "tunnel_ports", sizeof(sr->tunnel_ports), sr->tunnel_ports, NULL,
			  rs)))
		return st;
	if (capture_decap_parse(decap, &sr->decap_off) < 0)
		return resp_error(rs, 400, "decap",
				  "'decap' must be all, none or tunnel names separated by commas "
				  "(vxlan, geneve, gre, nvgre, erspan, pptp, gtpu, ipip, mplsudp, "
				  "mplspw, teredo, ayiya)");
	return 0;
}

/* "inspect" (all, none, stage names) and "inspect_flows"; the config file's
 * inspect and inspect_flows by default. */
static int get_inspect(const json_t *body, struct start_req *sr, struct resp *rs)
{
	char list[128];
	int st;

	memcpy(list, g_opts.inspect, sizeof(list));
	sr->inspect_flows = g_opts.inspect_flows;
	if ((st = get_str(body, "inspect", sizeof(list), list, NULL, rs)) ||
	    (st = get_u32(body, "inspect_flows", 1, 16777216, &sr->inspect_flows, rs)))
		return st;
	if (capture_inspect_parse(list, &sr->inspect_off) < 0)
		return resp_error(rs, 400, "inspect",
				  "'inspect' must be all, none or names separated by commas "
				  "(dpi, tls, quic, dns, http, tcp)");
	return 0;
}

/* "geoip_city" and "geoip_asn": database files inside an allowed directory;
 * the config file's by default, "" for none. */
static int get_geoip(const json_t *body, struct start_req *sr, struct resp *rs)
{
	static const char *const names[] = { "geoip_city", "geoip_asn" };
	char *dst[] = { sr->geoip_city, sr->geoip_asn };
	const char *dflt[] = { g_opts.geoip_city, g_opts.geoip_asn };
	char path[JCAPD_PATH_MAX];
	bool present;
	int i, st;

	for (i = 0; i < 2; i++) {
		snprintf(dst[i], JCAPD_PATH_MAX, "%s", dflt[i]);
		if ((st = get_str(body, names[i], sizeof(path), path, &present, rs)))
			return st;
		if (!present)
			continue;
		dst[i][0] = 0;
		if (path[0] && (st = confine(names[i], path, true, dst[i], JCAPD_PATH_MAX, rs)))
			return st;
	}
	return 0;
}

/* "fields", "ipfix_pen", "export_rate" (records/s or "unpaced") and
 * "sample_scale" of an export target, as jcap's --fields, --ipfix-pen,
 * --export-rate and --sample-scale: /start (the config file's targets) and
 * /netflow/export/enable. */
static int get_target_opts(const json_t *body, uint32_t *fields, uint32_t *pen, uint64_t *rate,
			   bool *scale, struct resp *rs)
{
	char list[256];
	bool present;
	json_t *r;
	int st;

	if ((st = get_str(body, "fields", sizeof(list), list, &present, rs)))
		return st;
	if (present && capture_export_fields_parse(list, fields) < 0)
		return resp_error(
			rs, 400, "fields",
			"'fields' must be names from mac, vlan, mpls, tunnel, ttl, tos, "
			"interface, community_id, app, tcp, payload, geo, all, none, each "
			"with an optional + or -, separated by commas");
	r = json_object_get(body, "export_rate");
	if (json_is_string(r) && !strcmp(json_string_value(r), "unpaced"))
		*rate = CAPTURE_EXPORT_UNPACED;
	else if (r && !json_is_integer(r))
		return resp_error(rs, 400, "export_rate",
				  "'export_rate' must be records/s (an integer) or \"unpaced\"");
	else if ((st = get_uint(body, "export_rate", 1, UINT32_MAX, rate, NULL, rs)))
		return st;
	if ((st = get_u32(body, "ipfix_pen", 1, UINT32_MAX, pen, rs)) ||
	    (st = get_bool(body, "sample_scale", scale, rs)))
		return st;
	return 0;
}

/* "sample" and "sample_random" (the session); "fields", "ipfix_pen", "export_rate"
 * (records/s) and "sample_scale" for the config file's export targets, as jcap's
 * --fields, --ipfix-pen, --export-rate and --sample-scale. */
static int get_export_opts(const json_t *body, struct start_req *sr, struct resp *rs)
{
	static const char *const per_target[] = { "fields", "ipfix_pen", "export_rate",
						  "sample_scale", NULL };
	struct capture_export_opts *xo = &sr->xo;
	int st, i;

	if ((st = get_u32(body, "sample", 1, UINT32_MAX, &sr->sample_rate, rs)) ||
	    (st = get_bool(body, "sample_random", &sr->sample_random, rs)))
		return st;
	if (sr->sample_random && sr->sample_rate < 2)
		return resp_error(rs, 400, "sample_random",
				  "'sample_random' needs 'sample' of 2 or more");
	for (i = 0; per_target[i] && !g_opts.n_exports; i++)
		if (json_object_get(body, per_target[i]))
			return resp_error(rs, 400, per_target[i],
					  "'%s' applies to the export targets of the config file "
					  "(export = ...); none is configured",
					  per_target[i]);
	return get_target_opts(body, &xo->fields, &xo->ipfix_pen, &xo->rate_records,
			       &xo->sample_scale, rs);
}

/* "pcap_files": several offline inputs (absolute paths inside the allowed
 * directories), merged in time order by the file backend. */
static int get_files(const json_t *body, struct start_req *sr, struct resp *rs)
{
	json_t *a = json_object_get(body, "pcap_files"), *v;
	size_t i;
	int st;

	if (!a)
		return 0;
	if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > JCAPD_MAX_FILES)
		return resp_error(rs, 400, "pcap_files",
				  "'pcap_files' must be an array of 1 to %d paths",
				  JCAPD_MAX_FILES);
	for (i = 0; i < json_array_size(a); i++) {
		v = json_array_get(a, i);
		if (!json_is_string(v) || !json_string_value(v)[0])
			return resp_error(rs, 400, "pcap_files",
					  "'pcap_files' must be an array of 1 to %d paths",
					  JCAPD_MAX_FILES);
		if ((st = confine("pcap_files", json_string_value(v), true, sr->pcap_files[i],
				  JCAPD_PATH_MAX, rs)))
			return st;
		sr->pcap_file_list[i] = sr->pcap_files[i];
	}
	sr->npcap_files = (uint32_t)json_array_size(a);
	return 0;
}

static int h_start(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const keys[] = {
		"interface",	"pcap_file",	 "backend",	"buffer_size_mb",
		"workers",	"filter",	 "snaplen",	"promiscuous",
		"tstamp",	"duration_sec",	 "max_packets", "decrypt_key_file",
		"pcap_out",	"dpdk_eal",	 "decap",	"tunnel_ports",
		"inspect",	"inspect_flows", "geoip_city",	"geoip_asn",
		"sample",	"sample_random", "fields",	"ipfix_pen",
		"sample_scale", "export_rate",	 "ebpf_hook",	"ebpf_map_flows",
		"ebpf_drop",	"pcap_files",	 NULL
	};
	struct start_req *sr;
	char path[JCAPD_PATH_MAX], tst[16] = "kernel";
	bool has_if, has_file, present;
	uint64_t v;
	int st;

	sr = calloc(1, sizeof(*sr));
	if (!sr)
		return resp_error(rs, 500, NULL, "out of memory");
	sr->promiscuous = true;
	memcpy(sr->backend, "auto", 5);
	if ((st = check_keys(body, keys, rs)))
		goto out;
	if ((st = get_str(body, "interface", sizeof(sr->interface), sr->interface, &has_if, rs)))
		goto out;
	if ((st = get_str(body, "pcap_file", sizeof(path), path, &has_file, rs)))
		goto out;
	if ((st = get_files(body, sr, rs)))
		goto out;
	if (sr->npcap_files && (has_if || has_file)) {
		st = resp_error(rs, 400, "pcap_files",
				"give exactly one of 'interface', 'pcap_file' and 'pcap_files'");
		goto out;
	}
	if (has_if == (has_file || sr->npcap_files)) {
		st = resp_error(rs, 400, has_if ? "pcap_file" : "interface",
				"give exactly one of 'interface' and 'pcap_file'");
		goto out;
	}
	if (has_if && (!sr->interface[0] || strchr(sr->interface, '/'))) {
		st = resp_error(rs, 400, "interface", "'interface' is not an interface name");
		goto out;
	}
	if (has_file &&
	    (st = confine("pcap_file", path, true, sr->pcap_file, sizeof(sr->pcap_file), rs)))
		goto out;
	if ((st = get_str(body, "backend", sizeof(sr->backend), sr->backend, NULL, rs)))
		goto out;
	if (routes_find_name(backends_ok, sr->backend) < 0) {
		st = resp_error(rs, 400, "backend",
				"'backend' must be one of auto, dpdk, pcap, afpacket, afxdp, ebpf, "
				"file");
		goto out;
	}
	if ((st = get_u32(body, "buffer_size_mb", CAPTURE_BUFFER_MB_MIN, CAPTURE_BUFFER_MB_MAX,
			  &sr->buffer_size_mb, rs)))
		goto out;
	sr->workers = 1;
	if ((st = get_u32(body, "workers", 1, 64, &sr->workers, rs)))
		goto out;
	if ((st = get_str(body, "filter", sizeof(sr->filter), sr->filter, &sr->has_filter, rs)))
		goto out;
	if ((st = get_u32(body, "snaplen", 64, 262144, &sr->snaplen, rs)))
		goto out;
	if ((st = get_bool(body, "promiscuous", &sr->promiscuous, rs)))
		goto out;
	if ((st = get_str(body, "tstamp", sizeof(tst), tst, NULL, rs)))
		goto out;
	sr->tstamp = routes_find_name(tstamps, tst);
	if (sr->tstamp < 0) {
		st = resp_error(rs, 400, "tstamp", "'tstamp' must be kernel, hardware, ptp or ntp");
		goto out;
	}
	if ((st = get_u32(body, "duration_sec", 1, 86400 * 365, &sr->duration_sec, rs)))
		goto out;
	if ((st = get_uint(body, "max_packets", 1, INT64_MAX, &v, &present, rs)))
		goto out;
	sr->max_packets = present ? v : 0;
	if ((st = get_str(body, "decrypt_key_file", sizeof(path), path, &present, rs)))
		goto out;
	if (present) {
		if (!has_file) {
			st = resp_error(rs, 400, "decrypt_key_file",
					"'decrypt_key_file' applies to 'pcap_file' input only");
			goto out;
		}
		if ((st = confine("decrypt_key_file", path, true, sr->decrypt_key_file,
				  sizeof(sr->decrypt_key_file), rs)))
			goto out;
	}
	if (json_object_get(body, "pcap_out") &&
	    (st = parse_pcap_out(json_object_get(body, "pcap_out"), sr, rs)))
		goto out;
	if ((st = get_str(body, "dpdk_eal", sizeof(sr->dpdk_eal), sr->dpdk_eal, NULL, rs)) ||
	    (st = check_dpdk_eal(sr->dpdk_eal, rs)))
		goto out;
	if ((st = get_str(body, "ebpf_hook", sizeof(sr->ebpf_hook), sr->ebpf_hook, NULL, rs)))
		goto out;
	if (sr->ebpf_hook[0] && strcmp(sr->ebpf_hook, "xdp") && strcmp(sr->ebpf_hook, "tc")) {
		st = resp_error(rs, 400, "ebpf_hook", "'ebpf_hook' must be xdp or tc");
		goto out;
	}
	sr->ebpf_map_flows = g_opts.ebpf_map_flows;
	if ((st = get_u32(body, "ebpf_map_flows", 16, 16777216, &sr->ebpf_map_flows, rs)) ||
	    (st = get_bool(body, "ebpf_drop", &sr->ebpf_drop, rs)))
		goto out;
	if ((st = get_decap(body, sr, rs)) || (st = get_inspect(body, sr, rs)) ||
	    (st = get_geoip(body, sr, rs)) || (st = get_export_opts(body, sr, rs)))
		goto out;
	st = session_start(sr, rs);
out:
	free(sr);
	return st;
}

static int h_stop(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const keys[] = { "graceful", NULL };
	bool graceful = true;
	int st;

	if ((st = check_keys(body, keys, rs)) || (st = get_bool(body, "graceful", &graceful, rs)))
		return st;
	return session_stop(graceful, rs);
}

static int h_status(const struct req *rq, const json_t *body, struct resp *rs)
{
	return session_status(rs);
}

static int h_metrics(const struct req *rq, const json_t *body, struct resp *rs)
{
	return session_metrics(rs);
}

static int h_prometheus(const struct req *rq, const json_t *body, struct resp *rs)
{
	return session_prometheus(rs);
}

static int h_flow_enable(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const keys[] = { "table_size", "idle_timeout_sec", "active_timeout_sec",
					    "uniflow",	  "ended_ring_size",  "community_id_seed",
					    NULL };
	uint32_t seed = g_opts.community_id_seed;
	struct capture_flow_config fc = { .sz = sizeof(fc) };
	int st;

	fc.table_size = g_opts.table_size;
	fc.idle_timeout_sec = g_opts.idle_timeout_sec;
	fc.active_timeout_sec = g_opts.active_timeout_sec;
	fc.ended_ring_size = g_opts.ended_ring_size;
	if ((st = check_keys(body, keys, rs)) ||
	    (st = get_u32(body, "table_size", 0, 16777216, &fc.table_size, rs)) ||
	    (st = get_u32(body, "idle_timeout_sec", 1, 86400, &fc.idle_timeout_sec, rs)) ||
	    (st = get_u32(body, "active_timeout_sec", 1, 604800, &fc.active_timeout_sec, rs)) ||
	    (st = get_u32(body, "ended_ring_size", 0, 16777216, &fc.ended_ring_size, rs)) ||
	    (st = get_bool(body, "uniflow", &fc.uniflow, rs)) ||
	    (st = get_u32(body, "community_id_seed", 0, 65535, &seed, rs)))
		return st;
	fc.community_id_seed = (uint16_t)seed;
	if (fc.table_size && fc.table_size < 4096)
		return resp_error(rs, 400, "table_size",
				  "'table_size' must be 0 (1048576 for a file, 65536 live) or in "
				  "4096..16777216");
	if (fc.idle_timeout_sec > fc.active_timeout_sec)
		return resp_error(rs, 400, "idle_timeout_sec",
				  "'idle_timeout_sec' must not exceed 'active_timeout_sec'");
	return session_flow_enable(&fc, rs);
}

static int h_netflow(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const keys[] = { "version",
					    "collector",
					    "port",
					    "transport",
					    "path",
					    "template_refresh_sec",
					    "observation_domain",
					    "mtu",
					    "uniflow",
					    "nanoseconds",
					    "fields",
					    "ipfix_pen",
					    "export_rate",
					    "sample_scale",
					    NULL };
	static const char *const transports[] = { "udp", "tcp", "file", NULL };
	struct netflow_req *nr;
	char tr[8] = "udp", path[JCAPD_PATH_MAX];
	bool present, has_coll;
	uint64_t v;
	int st;

	nr = calloc(1, sizeof(*nr));
	if (!nr)
		return resp_error(rs, 500, NULL, "out of memory");
	nr->cfg.sz = sizeof(nr->cfg);
	if ((st = check_keys(body, keys, rs)))
		goto out;
	if ((st = get_uint(body, "version", 5, 10, &v, &present, rs)))
		goto out;
	if (!present || (v != 5 && v != 9 && v != 10)) {
		st = resp_error(rs, 400, "version", "'version' must be 5, 9 or 10 (IPFIX)");
		goto out;
	}
	nr->cfg.version = (uint16_t)v;
	if ((st = get_str(body, "transport", sizeof(tr), tr, NULL, rs)))
		goto out;
	if (routes_find_name(transports, tr) < 0) {
		st = resp_error(rs, 400, "transport", "'transport' must be udp, tcp or file");
		goto out;
	}
	nr->cfg.transport = (uint8_t)routes_find_name(transports, tr);
	if (nr->cfg.transport != CAPTURE_TRANSPORT_UDP && nr->cfg.version != 10) {
		st = resp_error(rs, 400, "transport", "NetFlow v%u is sent over udp only",
				nr->cfg.version);
		goto out;
	}
	if ((st = get_str(body, "collector", sizeof(nr->collector), nr->collector, &has_coll, rs)))
		goto out;
	if ((st = get_str(body, "path", sizeof(path), path, &present, rs)))
		goto out;
	if (nr->cfg.transport == CAPTURE_TRANSPORT_FILE) {
		if (has_coll) {
			st = resp_error(rs, 400, "collector", "file transport takes 'path' only");
			goto out;
		}
		if (!present) {
			st = resp_error(rs, 400, "path", "file transport needs 'path'");
			goto out;
		}
		if ((st = confine("path", path, false, nr->path, sizeof(nr->path), rs)))
			goto out;
		nr->cfg.path = nr->path;
	} else {
		if (present) {
			st = resp_error(rs, 400, "path", "'path' is for the file transport only");
			goto out;
		}
		if (!has_coll || !nr->collector[0]) {
			st = resp_error(rs, 400, "collector", "'collector' (host) is required");
			goto out;
		}
		nr->cfg.collector = nr->collector;
	}
	if ((st = get_uint(body, "port", 1, 65535, &v, &present, rs)))
		goto out;
	if (present && nr->cfg.transport == CAPTURE_TRANSPORT_FILE) {
		st = resp_error(rs, 400, "port", "'port' is not used by the file transport");
		goto out;
	}
	nr->cfg.port = present ? (uint16_t)v : 0;
	if ((st = get_u32(body, "template_refresh_sec", 1, 86400, &nr->cfg.template_refresh_sec,
			  rs)) ||
	    (st = get_u32(body, "observation_domain", 0, UINT32_MAX, &nr->cfg.observation_domain,
			  rs)) ||
	    (st = get_u32(body, "mtu", 576, 65535, &nr->cfg.mtu, rs)))
		goto out;
	if ((st = get_bool(body, "uniflow", &nr->cfg.uniflow, rs)))
		goto out;
	if ((st = get_bool(body, "nanoseconds", &nr->cfg.nanoseconds, rs)))
		goto out;
	if ((nr->cfg.uniflow || nr->cfg.nanoseconds) && nr->cfg.version != 10) {
		st = resp_error(rs, 400, nr->cfg.uniflow ? "uniflow" : "nanoseconds",
				"'%s' applies to IPFIX (version 10) only",
				nr->cfg.uniflow ? "uniflow" : "nanoseconds");
		goto out;
	}
	if ((st = get_target_opts(body, &nr->cfg.fields, &nr->cfg.ipfix_pen, &nr->cfg.rate_records,
				  &nr->cfg.sample_scale, rs)))
		goto out;
	if (nr->cfg.fields && nr->cfg.version == 5) {
		st = resp_error(rs, 400, "fields",
				"'fields' applies to NetFlow v9 and IPFIX (v5 records are fixed)");
		goto out;
	}
	/* refused now, not at the next start (the exporter waits for it) */
	if (nr->cfg.version == 10 && !nr->cfg.ipfix_pen &&
	    (nr->cfg.fields & (CAPTURE_FIELD_TUNNEL | CAPTURE_FIELD_COMMUNITY_ID |
			       CAPTURE_FIELD_APP | CAPTURE_FIELD_TCP | CAPTURE_FIELD_GEO))) {
		st = resp_error(rs, 400, "ipfix_pen",
				"the fields tunnel, community_id, app, tcp and geo use jcap's own "
				"IPFIX elements: give an enterprise number ('ipfix_pen')");
		goto out;
	}
	if (nr->cfg.rate_records && nr->cfg.transport != CAPTURE_TRANSPORT_UDP) {
		st = resp_error(rs, 400, "export_rate", "'export_rate' paces UDP exports only");
		goto out;
	}
	st = session_netflow_enable(nr, rs);
out:
	free(nr);
	return st;
}

static int h_encryption(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const keys[] = { "algorithm", "key_file", NULL };
	struct crypt_req *cr;
	char alg[32] = "aes-256-gcm", path[JCAPD_PATH_MAX];
	bool present;
	int st, cipher;

	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return resp_error(rs, 500, NULL, "out of memory");
	cr->cfg.sz = sizeof(cr->cfg);
	if ((st = check_keys(body, keys, rs)))
		goto out;
	if ((st = get_str(body, "algorithm", sizeof(alg), alg, NULL, rs)))
		goto out;
	cipher = capture_cipher_from_name(alg);
	if (cipher < 0) {
		st = resp_error(
			rs, 400, "algorithm",
			"'algorithm' must be aes-256-gcm, aes-128-gcm or chacha20-poly1305");
		goto out;
	}
	cr->cfg.cipher = (uint8_t)cipher;
	if ((st = get_str(body, "key_file", sizeof(path), path, &present, rs)))
		goto out;
	if (!present) {
		st = resp_error(rs, 400, "key_file", "'key_file' is required");
		goto out;
	}
	if ((st = confine("key_file", path, true, cr->key_file, sizeof(cr->key_file), rs)))
		goto out;
	cr->cfg.key_file = cr->key_file;
	st = session_encryption_enable(cr, rs);
out:
	free(cr);
	return st;
}

static int h_verify(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const qkeys[] = { "image",  "signature", "public_key",
					     "digest", "padding",   NULL };
	static const char *const digests[] = { "sha256", "sha384", "sha512", NULL };
	static const char *const paddings[] = { "pkcs1", "pss", "auto", NULL };
	static const char *const fields[] = { "image", "signature", "public_key" };
	char paths[3][JCAPD_PATH_MAX], detail[512] = "";
	struct capture_verify_opts vo = { .sz = sizeof(vo) };
	const char *bad, *d, *p;
	int st, r, i;

	bad = http_query_unknown(rq, qkeys);
	if (bad)
		return resp_error(rs, 400, bad, "unknown or repeated query parameter '%s'", bad);
	for (i = 0; i < 3; i++) {
		const char *v = http_query(rq, fields[i]);

		if (!v || !*v)
			return resp_error(rs, 400, fields[i], "query parameter '%s' is required",
					  fields[i]);
	}
	for (i = 0; i < 3; i++)
		if ((st = confine(fields[i], http_query(rq, fields[i]), true, paths[i],
				  sizeof(paths[i]), rs)))
			return st;
	d = http_query(rq, "digest");
	if (d && routes_find_name(digests, d) < 0)
		return resp_error(rs, 400, "digest", "'digest' must be sha256, sha384 or sha512");
	vo.digest = d ? d : "sha256";
	p = http_query(rq, "padding");
	if (p && routes_find_name(paddings, p) < 0)
		return resp_error(rs, 400, "padding", "'padding' must be pkcs1, pss or auto");
	vo.padding = p ? (uint8_t)routes_find_name(paddings, p) : CAPTURE_SIG_PKCS1;
	r = capture_verify_firmware(paths[0], paths[1], paths[2], &vo, detail, sizeof(detail));
	if (r < 0)
		return resp_error(rs, 400, NULL, "verification could not run: %s%s%s",
				  capture_strerror(r), detail[0] ? ": " : "", detail);
	return resp_json(rs, json_pack("{s:s, s:b, s:i, s:s, s:s, s:s, s:s, s:s}", "result",
				       capture_verify_result_name(r), "valid",
				       r == CAPTURE_VERIFY_VALID, "code", r, "detail", detail,
				       "image", paths[0], "signature", paths[1], "public_key",
				       paths[2], "digest", vo.digest));
}

static int h_healthz(const struct req *rq, const json_t *body, struct resp *rs)
{
	return resp_json(rs, json_pack("{s:s, s:s, s:s}", "status", "ok", "session",
				       session_state_name(), "version", capture_version()));
}

static int h_openapi(const struct req *rq, const json_t *body, struct resp *rs)
{
	size_t n = strlen(jcapd_openapi_json);
	char *text = malloc(n + 1);

	if (!text)
		return resp_error(rs, 500, NULL, "out of memory");
	memcpy(text, jcapd_openapi_json, n + 1);
	return resp_text(rs, text, n, "application/json");
}

/* ---------------------------------------------------------------- router */

struct route {
	const char *method;
	const char *path;
	int (*fn)(const struct req *rq, const json_t *body, struct resp *rs);
	enum auth_scope scope; /* the OpenAPI document's x-required-scope says the same */
};

static const struct route routes[] = {
	{ "GET", PREFIX "/backends", h_backends, SCOPE_READ },
	{ "POST", PREFIX "/start", h_start, SCOPE_CONTROL },
	{ "POST", PREFIX "/stop", h_stop, SCOPE_CONTROL },
	{ "GET", PREFIX "/status", h_status, SCOPE_READ },
	{ "GET", PREFIX "/metrics", h_metrics, SCOPE_READ },
	{ "POST", PREFIX "/flow/meter/enable", h_flow_enable, SCOPE_CONTROL },
	{ "GET", PREFIX "/flows", routes_h_flows, SCOPE_READ },
	{ "POST", PREFIX "/netflow/export/enable", h_netflow, SCOPE_CONTROL },
	{ "POST", PREFIX "/encryption/enable", h_encryption, SCOPE_CONTROL },
	{ "GET", PREFIX "/firmware/verify", h_verify, SCOPE_ADMIN },
	{ "GET", "/metrics", h_prometheus, SCOPE_READ },
	{ "GET", "/healthz", h_healthz, SCOPE_NONE },
	{ "GET", "/openapi.json", h_openapi, SCOPE_NONE },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* "application/json" with optional parameters (charset=utf-8). */
static bool is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Does @rt need a token from this client? Reads only with auth_reads (or metrics_auth). */
static bool needs_token(const struct route *rt, const struct req *rq)
{
	if (rt->scope == SCOPE_NONE)
		return false;
	if (rt->scope > SCOPE_READ)
		return true;
	if (rt->fn == h_prometheus) {
		switch (g_opts.metrics_auth) {
		case METRICS_AUTH_TOKEN:
			return true;
		case METRICS_AUTH_LOOPBACK:
			return !rq->peer_loopback;
		case METRICS_AUTH_OPEN:
			return false;
		}
	}
	return g_opts.auth_reads;
}

/* The token and its scope; false with @rs set (401 or 403) when refused. */
static bool authorized(const struct route *rt, const struct req *rq, struct resp *rs)
{
	int a;

	if (!needs_token(rt, rq))
		return true;
	a = auth_check(rq->auth_header, &rs->who);
	if (a == 401) {
		rs->www_auth = true;
		resp_error(rs, 401, NULL, "missing bearer token (Authorization: Bearer ...)");
		return false;
	}
	if (a == 403) {
		resp_error(rs, 403, NULL, "invalid token");
		return false;
	}
	if (rs->who.scope < (int)rt->scope) {
		resp_error(rs, 403, NULL, "token scope '%s' does not allow %s %s (needs '%s')",
			   auth_scope_names[rs->who.scope], rt->method, rt->path,
			   auth_scope_names[rt->scope]);
		return false;
	}
	return true;
}

bool routes_is_slow(const char *method, const char *path)
{
	/* reads of counters, health and the document never wait for anything */
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return strcmp(path, PREFIX "/status") == 0 || strcmp(path, PREFIX "/flows") == 0 ||
		       strcmp(path, PREFIX "/firmware/verify") == 0;
	return strncmp(path, PREFIX "/", strlen(PREFIX "/")) == 0;
}

void routes_dispatch(const struct req *rq, struct resp *rs)
{
	const struct route *rt = NULL;
	const char *method = rq->method;
	json_t *body = NULL;
	json_error_t jerr;
	bool path_known = false;
	size_t i;

	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	for (i = 0; i < N_ROUTES; i++) {
		if (strcmp(routes[i].path, rq->path) != 0)
			continue;
		path_known = true;
		if (strcmp(routes[i].method, method) == 0)
			rt = &routes[i];
	}
	if (!path_known) {
		resp_error(rs, 404, NULL, "no such endpoint: %s", rq->path);
		return;
	}
	if (!rt) {
		for (i = 0; i < N_ROUTES; i++)
			if (strcmp(routes[i].path, rq->path) == 0)
				rs->allow =
					strcmp(routes[i].method, "GET") == 0 ? "GET, HEAD" : "POST";
		resp_error(rs, 405, NULL, "method %s not allowed on %s", rq->method, rq->path);
		return;
	}
	/* every POST changes something; firmware verification is audited too */
	rs->audit = strcmp(rt->method, "POST") == 0 || rt->scope == SCOPE_ADMIN;
	if (!authorized(rt, rq, rs))
		return;
	if (strcmp(rt->method, "POST") == 0) {
		if (rq->body_len > 0 && !is_json_type(rq->content_type)) {
			resp_error(rs, 415, NULL, "Content-Type must be application/json");
			return;
		}
		if (rq->body_len == 0) {
			body = json_object();
		} else {
			body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
			if (!body) {
				resp_error(rs, 400, NULL, "invalid JSON: %s (line %d, column %d)",
					   jerr.text, jerr.line, jerr.column);
				return;
			}
			if (!json_is_object(body)) {
				json_decref(body);
				resp_error(rs, 400, NULL, "the body must be a JSON object");
				return;
			}
		}
	} else if (rq->body_len > 0) {
		resp_error(rs, 400, NULL, "%s takes no request body", rq->path);
		return;
	}
	if (strcmp(rt->path, PREFIX "/firmware/verify") != 0 &&
	    strcmp(rt->path, PREFIX "/flows") != 0) {
		static const char *const none[] = { NULL };
		const char *bad = http_query_unknown(rq, none);

		if (bad) {
			resp_error(rs, 400, bad, "unknown query parameter '%s'", bad);
			return;
		}
	}
	rt->fn(rq, body, rs);
	json_decref(body);
	if (!rs->json && !rs->text)
		resp_error(rs, 500, NULL, "internal error: empty reply");
}
