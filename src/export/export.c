/* SPDX-License-Identifier: BSD-3-Clause */
/* Export targets: parsing "kind:..." strings and creating exporters by kind. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/nf_fields.h"
#include "util/log.h"
#include "util/opts.h"

static int bad(char *err, size_t errlen, const char *spec, const char *why)
{
	return pc_errf(err, errlen, -CAPTURE_E_TARGET, "invalid export target '%s': %s", spec, why);
}

/* "HOST:PORT" or "[V6]:PORT"; the port may be omitted (@defport). */
static int parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port,
			  uint16_t defport, const char **why)
{
	const char *colon, *h = s;
	size_t hl;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb) {
			*why = "missing ']' after an IPv6 address";
			return -1;
		}
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] && rb[1] != ':') {
			*why = "unexpected text after ']'";
			return -1;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon) {
			*why = "IPv6 addresses must be written in brackets: [::1]:4739";
			return -1;
		}
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0) {
		*why = "missing host";
		return -1;
	}
	if (memchr(h, '[', hl) || memchr(h, ']', hl)) {
		*why = "'[' or ']' inside the host";
		return -1;
	}
	if (*s == '[' && !memchr(h, ':', hl)) {
		*why = "brackets are for IPv6 addresses only";
		return -1;
	}
	if (hl >= hostlen) {
		*why = "host name too long";
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	if (!colon) {
		*port = defport;
		return 0;
	}
	{
		char *end;
		unsigned long v;

		/* digits only: strtoul alone would take " 5", "+5" and "-1" */
		errno = 0;
		v = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || colon[1] < '0' || colon[1] > '9' ||
		    v == 0 || v > 65535) {
			*why = "port must be a number from 1 to 65535";
			return -1;
		}
		*port = (uint16_t)v;
	}
	return 0;
}

static int copy_path(struct pc_export_target *t, const char *p, char *err, size_t errlen,
		     const char *spec)
{
	size_t n = strlen(p);

	if (!n)
		return bad(err, errlen, spec, "missing path");
	if (n >= sizeof(t->path))
		return bad(err, errlen, spec, "path too long");
	memcpy(t->path, p, n + 1);
	return 0;
}

/* Append "KEY=VALUE\n" to t->props. */
static int add_prop(struct pc_export_target *t, const char *kv, size_t n, char *err, size_t errlen)
{
	size_t have = strlen(t->props);

	if (!n || !memchr(kv, '=', n) || kv[0] == '=')
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "invalid export setting '%.*s': want KEY=VALUE", (int)n, kv);
	if (have + n + 2 > sizeof(t->props))
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "export settings too long");
	memcpy(t->props + have, kv, n);
	t->props[have + n] = '\n';
	t->props[have + n + 1] = 0;
	return 0;
}

/*
 * kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?K=V&...] and
 * clickhouse://HOST[:PORT]/DB.TABLE[?K=V&...]: hosts into t->host (Kafka:
 * the list as written, each entry checked), the path into t->path, the
 * query and then the caller's props lines of @prefix into t->props.
 */
static int parse_url(struct pc_export_target *t, const char *rest, const char *spec,
		     const char *prefix, uint16_t defport, const char *props, char *err,
		     size_t errlen)
{
	const char *slash = strchr(rest, '/'), *q, *why = NULL, *p;
	size_t hl, pl;
	int rc;

	if (!slash || slash == rest)
		return bad(err, errlen, spec, "want HOST:PORT/NAME");
	hl = (size_t)(slash - rest);
	if (hl >= sizeof(t->host))
		return bad(err, errlen, spec, "host list too long");
	for (p = rest; p < slash;) {
		const char *end = memchr(p, ',', (size_t)(slash - p));
		char one[sizeof(t->host)];
		size_t n = end ? (size_t)(end - p) : (size_t)(slash - p);

		if (end && t->kind == PC_EXP_CLICKHOUSE)
			return bad(err, errlen, spec, "one ClickHouse server per target");
		memcpy(one, p, n);
		one[n] = 0;
		if (parse_hostport(one, t->host, sizeof(t->host), &t->port, defport, &why))
			return bad(err, errlen, spec, why);
		p = end ? end + 1 : slash;
	}
	if (t->kind == PC_EXP_KAFKA) {
		memcpy(t->host, rest, hl);
		t->host[hl] = 0;
	}
	q = strchr(slash + 1, '?');
	pl = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
	if (!pl)
		return bad(err, errlen, spec, "missing name after '/'");
	memcpy(t->path, slash + 1, pl); /* spec < 512 bytes: fits */
	t->path[pl] = 0;
	for (p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		rc = add_prop(t, p, n, err, errlen);
		if (rc)
			return rc;
		p = amp ? amp + 1 : NULL;
	}
	for (p = props; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n && strncmp(p, "kafka.", 6) && strncmp(p, "clickhouse.", 11))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "invalid export setting '%.*s': want kafka.NAME=VALUE or "
				       "clickhouse.NAME=VALUE",
				       (int)n, p);
		if (n && !strncmp(p, prefix, strlen(prefix))) {
			rc = add_prop(t, p, n, err, errlen);
			if (rc)
				return rc;
		}
		p = nl ? nl + 1 : NULL;
	}
	return t->kind == PC_EXP_KAFKA ? pc_exp_kafka_check(t, err, errlen)
				       : pc_exp_clickhouse_check(t, err, errlen);
}

int pc_export_props_each(const char *props,
			 int (*fn)(void *ctx, const char *key, const char *val, char *err,
				   size_t errlen),
			 void *ctx, char *err, size_t errlen)
{
	char line[sizeof(((struct pc_export_target *)0)->props)];
	const char *p = props;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *eq;
		int rc;

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = 0;
		p = nl ? nl + 1 : NULL;
		eq = strchr(line, '=');
		if (!eq)
			continue; /* add_prop lets none through */
		*eq = 0;
		rc = fn(ctx, line, eq + 1, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Export target kinds by prefix; the first match wins (longest first). */
static const struct {
	const char *prefix;
	enum pc_export_kind kind;
	uint8_t transport;
	uint16_t version, defport;
	bool path;
} kinds[] = {
	{ "ipfix+tcp://", PC_EXP_IPFIX, CAPTURE_TRANSPORT_TCP, 10, 4739, false },
	{ "ipfix+udp://", PC_EXP_IPFIX, CAPTURE_TRANSPORT_UDP, 10, 4739, false },
	{ "ipfix://", PC_EXP_IPFIX, CAPTURE_TRANSPORT_UDP, 10, 4739, false },
	{ "ipfix-file:", PC_EXP_IPFIX, CAPTURE_TRANSPORT_FILE, 10, 0, true },
	{ "netflow9://", PC_EXP_NETFLOW9, CAPTURE_TRANSPORT_UDP, 9, 2055, false },
	{ "netflow5://", PC_EXP_NETFLOW5, CAPTURE_TRANSPORT_UDP, 5, 2055, false },
	{ "json:", PC_EXP_JSON, 0, 0, 0, true },
	{ "sqlite:", PC_EXP_SQLITE, 0, 0, 0, true },
	{ "kafka://", PC_EXP_KAFKA, 0, 0, 9092, false },
	{ "clickhouse://", PC_EXP_CLICKHOUSE, 0, 0, 8123, false },
};

const char *pc_export_kind_name(size_t i)
{
	return i < sizeof(kinds) / sizeof(kinds[0]) ? kinds[i].prefix : NULL;
}

int pc_export_parse(const char *spec, const struct capture_export_opts *opts,
		    struct pc_export_target *t, char *err, size_t errlen)
{
	const char *props = NULL;
	size_t i, n;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!spec || !*spec)
		return bad(err, errlen, "", "empty");
	n = strlen(spec);
	if (n >= sizeof(t->spec))
		return bad(err, errlen, "...", "too long");
	memcpy(t->spec, spec, n + 1);
	/* any size: what an older caller does not know stays at its default */
	if (opts) {
		rc = pc_opts_copy(&t->opts, sizeof(t->opts), opts, 0, "capture_export_opts", err,
				  errlen);
		if (rc < 0)
			return rc;
	}
	t->opts.sz = sizeof(t->opts);
	/* the caller's string: read here, never kept */
	props = t->opts.props;
	t->opts.props = NULL;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t pl = strlen(kinds[i].prefix);
		const char *rest = spec + pl, *why = NULL;

		if (strncmp(spec, kinds[i].prefix, pl))
			continue;
		t->kind = kinds[i].kind;
		if (t->kind == PC_EXP_IPFIX || t->kind == PC_EXP_NETFLOW9) {
			uint32_t fields, pen; /* the field selection is checked here, too */

			rc = pc_nf_fields_cfg(t, kinds[i].version, &fields, &pen, err, errlen);
			if (rc)
				return rc;
		}
		t->nf.sz = sizeof(t->nf);
		t->nf.version = kinds[i].version;
		t->nf.transport = kinds[i].transport;
		t->nf.observation_domain = t->opts.observation_domain;
		t->nf.template_refresh_sec = t->opts.template_refresh_sec;
		t->nf.mtu = t->opts.mtu;
		t->nf.uniflow = t->opts.uniflow;
		if (kinds[i].path) {
			rc = copy_path(t, rest, err, errlen, spec);
			if (rc)
				return rc;
			t->nf.path = t->path;
			return 0;
		}
		if (t->kind == PC_EXP_KAFKA)
			return parse_url(t, rest, spec, "kafka.", kinds[i].defport, props, err,
					 errlen);
		if (t->kind == PC_EXP_CLICKHOUSE)
			return parse_url(t, rest, spec, "clickhouse.", kinds[i].defport, props, err,
					 errlen);
		if (parse_hostport(rest, t->host, sizeof(t->host), &t->port, kinds[i].defport,
				   &why))
			return bad(err, errlen, spec, why);
		t->nf.collector = t->host;
		t->nf.port = t->port;
		return 0;
	}
	return bad(err, errlen, spec,
		   "unknown kind (use ipfix://H:P, ipfix+tcp://H:P, ipfix-file:PATH, "
		   "netflow9://H:P, netflow5://H:P, json:PATH, sqlite:PATH, "
		   "kafka://H:P/TOPIC or clickhouse://H:P/DB.TABLE)");
}

int pc_export_from_netflow(const struct capture_netflow_config *cfg, struct pc_export_target *t,
			   char *err, size_t errlen)
{
	struct capture_netflow_config c;
	size_t n;
	int rc;

	memset(t, 0, sizeof(*t));
	/* any size: what an older caller does not know stays zero (default) */
	rc = pc_opts_copy(&c, sizeof(c), cfg, 0, "capture_netflow_config", err, errlen);
	if (rc < 0)
		return rc;
	switch (c.version) {
	case 5:
		t->kind = PC_EXP_NETFLOW5;
		break;
	case 9:
		t->kind = PC_EXP_NETFLOW9;
		break;
	case 10:
		t->kind = PC_EXP_IPFIX;
		break;
	default:
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "invalid NetFlow version %u (use 5, 9 or 10)", c.version);
	}
	if (c.transport > CAPTURE_TRANSPORT_FILE ||
	    (c.transport != CAPTURE_TRANSPORT_UDP && t->kind != PC_EXP_IPFIX))
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "transport %u is not available for version %u", c.transport,
			       c.version);
	if (c.transport == CAPTURE_TRANSPORT_FILE) {
		if (!c.path || !*c.path || strlen(c.path) >= sizeof(t->path))
			return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
				       "IPFIX file export needs a path");
		memcpy(t->path, c.path, strlen(c.path) + 1);
		c.path = t->path;
		snprintf(t->spec, sizeof(t->spec), "ipfix-file:%s", t->path);
	} else {
		if (!c.collector || !*c.collector)
			return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
				       "a collector host is needed");
		n = strlen(c.collector);
		if (n >= sizeof(t->host))
			return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "collector name too long");
		memcpy(t->host, c.collector, n + 1);
		c.collector = t->host;
		if (!c.port)
			c.port = t->kind == PC_EXP_IPFIX ? 4739 : 2055;
		t->port = c.port;
		snprintf(t->spec, sizeof(t->spec), "%s://%s%s%s:%u",
			 t->kind == PC_EXP_IPFIX
				 ? (c.transport == CAPTURE_TRANSPORT_TCP ? "ipfix+tcp" : "ipfix")
				 : (t->kind == PC_EXP_NETFLOW9 ? "netflow9" : "netflow5"),
			 strchr(t->host, ':') ? "[" : "", t->host, strchr(t->host, ':') ? "]" : "",
			 c.port);
	}
	c.sz = sizeof(c);
	t->nf = c;
	t->opts.sz = sizeof(t->opts);
	t->opts.observation_domain = c.observation_domain;
	t->opts.template_refresh_sec = c.template_refresh_sec;
	t->opts.mtu = c.mtu;
	t->opts.uniflow = c.uniflow;
	t->opts.fields = c.fields;
	t->opts.ipfix_pen = c.ipfix_pen;
	t->opts.rate_records = c.rate_records;
	t->opts.rate_bits = c.rate_bits;
	t->opts.sample_scale = c.sample_scale;
	if (t->kind != PC_EXP_NETFLOW5) {
		uint32_t fields, pen; /* the field selection is checked here, too */

		return pc_nf_fields_cfg(t, c.version, &fields, &pen, err, errlen);
	}
	return 0;
}

static const struct pc_exporter_ops *ops_for(enum pc_export_kind k)
{
	switch (k) {
	case PC_EXP_JSON:
		return &pc_exp_json_ops;
	case PC_EXP_NETFLOW5:
		return &pc_exp_netflow5_ops;
	case PC_EXP_NETFLOW9:
		return &pc_exp_netflow9_ops;
	case PC_EXP_IPFIX:
		return &pc_exp_ipfix_ops;
	case PC_EXP_SQLITE:
		return &pc_exp_sqlite_ops;
	case PC_EXP_KAFKA:
		return &pc_exp_kafka_ops;
	case PC_EXP_CLICKHOUSE:
		return &pc_exp_clickhouse_ops;
	}
	return NULL;
}

int pc_exporter_create(struct pc_exporter **out, const struct pc_export_target *t,
		       capture_log_fn log_fn, void *log_ctx, int log_level,
		       pc_export_stats_fn stats_fn, void *stats_ctx, char *err, size_t errlen)
{
	const struct pc_exporter_ops *ops = ops_for(t->kind);
	struct pc_exporter *e;
	int rc;

	if (!ops)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "%s: this exporter is not part of this build", t->spec);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ops = ops;
	e->log_fn = log_fn;
	e->log_ctx = log_ctx;
	e->log_level = log_level;
	e->stats_fn = stats_fn;
	e->stats_ctx = stats_ctx;
	snprintf(e->target, sizeof(e->target), "%s", t->spec);
	rc = ops->open(e, t, err, errlen);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void pc_exporter_close(struct pc_exporter *e)
{
	if (!e || e->closed)
		return;
	e->closed = true;
	if (e->ops->close)
		e->ops->close(e);
}

void pc_exporter_destroy(struct pc_exporter *e)
{
	if (!e)
		return;
	pc_exporter_close(e);
	free(e);
}

void pc_export_log(struct pc_exporter *e, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vlogf(e->log_fn, e->log_ctx, e->log_level, level, fmt, ap);
	va_end(ap);
}
