/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd options: one table of keys read from a key = value file and from the
 * command line. Every value is checked whole when it is read (type, range, listen
 * address, export target syntax, user), so a daemon that starts has a usable
 * configuration. No exit, no printing, no global state: callers own the messages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jcapd.h"

/* longest config file line, newline included */
#define LINE_MAX_BYTES 8192

const char *const config_level_names[4] = { "error", "warn", "info", "debug" };

enum kind {
	K_STR,	  /* a string up to size - 1 bytes */
	K_USER,	  /* a user name that exists */
	K_LISTEN, /* ADDR:PORT or [V6ADDR]:PORT */
	K_BOOL,
	K_UINT,	 /* uint32_t or size_t (by size), in min..max */
	K_UINT0, /* K_UINT, or 0 for the library's default */
	K_LEVEL,
	K_ALLOW,   /* repeatable */
	K_EXPORT,  /* repeatable, capture_export_add syntax */
	K_EXPOPT,  /* repeatable, kafka.P=V or clickhouse.K=V */
	K_METRICS, /* one of metrics_choices, stored as its enum metrics_auth */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off, size;
	uint64_t min, max;
	const char *help;
};

/* metrics_auth, indexed by enum metrics_auth */
static const char *const metrics_choices[] = { "", "token", "loopback", "open", NULL };

#define FIELD(f) offsetof(struct jcapd_opts, f), sizeof(((struct jcapd_opts *)0)->f)

static const struct key keys[] = {
	{ "listen", K_LISTEN, FIELD(listen), 0, 0,
	  "ADDR:PORT or [V6ADDR]:PORT to listen on (127.0.0.1:8000)" },
	{ "token_file", K_STR, FIELD(token_file), 0, 0,
	  "file holding the bearer token for mutating requests (none)" },
	{ "allow_dir", K_ALLOW, 0, 0, 0, 0,
	  "directory that request paths may name; repeatable (none: no paths)" },
	{ "syslog", K_BOOL, FIELD(use_syslog), 0, 0, "log to syslog, not stderr (false)" },
	{ "log_level", K_LEVEL, FIELD(log_level), 0, 0, "error|warn|info|debug (info)" },
	{ "max_body_bytes", K_UINT, FIELD(max_body_bytes), 256, 16777216,
	  "largest request body; larger gets 413 (65536)" },
	{ "http_threads", K_UINT, FIELD(http_threads), 1, 64,
	  "HTTP threads, each with its own epoll (2)" },
	{ "http_nice", K_UINT, FIELD(http_nice), 0, 19,
	  "HTTP threads run this much nicer than the capture (5)" },
	{ "max_connections", K_UINT, FIELD(max_connections), 1, 65536,
	  "concurrent HTTP connections (64)" },
	{ "max_connections_per_ip", K_UINT, FIELD(max_connections_per_ip), 1, 65536,
	  "concurrent HTTP connections from one client address (16)" },
	{ "connection_timeout_sec", K_UINT, FIELD(connection_timeout_sec), 1, 3600,
	  "idle HTTP connection timeout (30)" },
	{ "request_timeout_sec", K_UINT, FIELD(request_timeout_sec), 1, 3600,
	  "a request's headers and body must arrive within this (10)" },
	{ "auth_reads", K_BOOL, FIELD(auth_reads), 0, 0,
	  "GET endpoints need the token too (false)" },
	{ "flow_metering", K_BOOL, FIELD(flow_metering), 0, 0,
	  "meter flows in every session (true)" },
	{ "flow_table_size", K_UINT0, FIELD(table_size), 4096, 16777216,
	  "flow table slots; 0: 1048576 for a file session, 65536 live (0)" },
	{ "flow_idle_timeout_sec", K_UINT, FIELD(idle_timeout_sec), 1, 86400,
	  "flow idle timeout (30)" },
	{ "flow_active_timeout_sec", K_UINT, FIELD(active_timeout_sec), 1, 604800,
	  "flow active timeout (1800)" },
	{ "ended_ring_size", K_UINT, FIELD(ended_ring_size), 0, 16777216,
	  "recently ended flows kept for state=all, ~1.3 KB each (65536)" },
	{ "community_id_seed", K_UINT, FIELD(community_id_seed), 0, 65535,
	  "Community ID v1 seed of the flow records (0)" },
	{ "inspect", K_STR, FIELD(inspect), 0, 0,
	  "what sessions inspect flows for: all, none or dpi,tls,quic,dns,http,tcp (all)" },
	{ "inspect_flows", K_UINT, FIELD(inspect_flows), 1, 16777216,
	  "flows inspected at a time per worker (65536)" },
	{ "ebpf_map_flows", K_UINT, FIELD(ebpf_map_flows), 16, 16777216,
	  "backend ebpf: flows per kernel map of a session (65536)" },
	{ "geoip_city", K_STR, FIELD(geoip_city), 0, 0,
	  "MaxMind City or Country database: records' src/dst_country (none)" },
	{ "geoip_asn", K_STR, FIELD(geoip_asn), 0, 0,
	  "MaxMind ASN database: records' src/dst_asn and _as_org (none)" },
	{ "rate_window_sec", K_UINT, FIELD(rate_window_sec), 1, 60,
	  "window of the pps/bps rates (10)" },
	{ "flows_scan_max", K_UINT, FIELD(flows_scan_max), 4096, 33554432,
	  "most flows one /flows request examines (4194304)" },
	{ "capture_user", K_USER, FIELD(capture_user), 0, 0,
	  "drop capture privileges to this user after opening (none)" },
	{ "export", K_EXPORT, 0, 0, 0, 0,
	  "exporter target for every session (jcap --export syntax); repeatable" },
	{ "export_opt", K_EXPOPT, 0, 0, 0, 0,
	  "kafka.P=V or clickhouse.K=V for the export targets (jcap --export-opt); "
	  "repeatable; values never logged" },
	{ "tls_cert", K_STR, FIELD(tls_cert), 0, 0,
	  "PEM certificate chain: serve HTTPS (with tls_key; reloaded on SIGHUP)" },
	{ "tls_key", K_STR, FIELD(tls_key), 0, 0, "PEM private key of tls_cert" },
	{ "tls_client_ca", K_STR, FIELD(tls_client_ca), 0, 0,
	  "PEM CA certificates: clients need a certificate they signed (none)" },
	{ "tls_priorities", K_STR, FIELD(tls_priorities), 0, 0,
	  "GnuTLS priority string; TLS below 1.2 is always off (" JCAPD_TLS_PRIORITIES_DEFAULT
	  ")" },
	{ "insecure_http", K_BOOL, FIELD(insecure_http), 0, 0,
	  "allow clear-text HTTP on a non-loopback address (false)" },
	{ "audit_log", K_STR, FIELD(audit_log), 0, 0,
	  "FILE or syslog: a line per mutating or refused request (none)" },
	{ "metrics_auth", K_METRICS, FIELD(metrics_auth), 0, 0,
	  "Prometheus /metrics: token, loopback (none needed from loopback) or open "
	  "(as the other reads)" },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void config_init(struct jcapd_opts *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->listen, "127.0.0.1:8000", sizeof("127.0.0.1:8000"));
	o->log_level = CAPTURE_LOG_INFO;
	o->max_body_bytes = 65536;
	o->http_threads = 2;
	o->http_nice = 5;
	o->max_connections = 64;
	/* a quarter of the default 64: one client address cannot take them all */
	o->max_connections_per_ip = 16;
	o->connection_timeout_sec = 30;
	o->request_timeout_sec = 10;
	o->flow_metering = true;
	o->table_size = 0; /* the library's: 1M for a file, 64K live */
	o->idle_timeout_sec = 30;
	o->active_timeout_sec = 1800;
	o->ended_ring_size = 65536; /* ~85 MB of ~1.3 KB records once full */
	o->rate_window_sec = 10;
	memcpy(o->inspect, "all", sizeof("all"));
	o->flows_scan_max = 4194304;
	memcpy(o->tls_priorities, JCAPD_TLS_PRIORITIES_DEFAULT,
	       sizeof(JCAPD_TLS_PRIORITIES_DEFAULT));
}

void config_release(struct jcapd_opts *o)
{
	for (unsigned i = 0; i < o->n_allow_dirs; i++)
		free(o->allow_dirs[i]);
	for (unsigned i = 0; i < o->n_exports; i++)
		free(o->exports[i]);
	o->n_allow_dirs = o->n_exports = 0;
	o->export_props[0] = 0;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

bool config_key_is_bool(const char *name)
{
	const struct key *k = find_key(name);

	return k && k->kind == K_BOOL;
}

int config_parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *port_s;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		port_s = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon) {
			memcpy(host, "127.0.0.1", 10);
			port_s = s;
		} else {
			if ((size_t)(colon - s) >= sizeof(host))
				return -EINVAL;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = '\0';
			if (!host[0] || strcmp(host, "localhost") == 0)
				memcpy(host, "127.0.0.1", 10);
			port_s = colon + 1;
		}
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || end == port_s || *end || *port_s == '-' || *port_s == '+' || port > 65535)
		return -EINVAL;
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
	}
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/*
 * The library parses export targets only on a handle; a throwaway one on a file
 * that is never opened checks the syntax without touching the network or disk.
 */
static int check_export(const char *target, char *err, size_t errlen)
{
	struct capture_config cc = { .sz = sizeof(cc), .pcap_file = "/dev/null" };
	struct capture *c;
	int r;

	r = capture_init(&c, &cc);
	if (r < 0)
		return fail(err, errlen, r, "export: cannot check the target: %s",
			    capture_last_error(NULL));
	r = capture_export_add(c, target, NULL);
	if (r < 0)
		r = fail(err, errlen, -EINVAL, "export: %s", capture_last_error(c));
	capture_destroy(c);
	return r;
}

/*
 * One export_opt line: "kafka.P=V" or "clickhouse.K=V", appended to
 * o->export_props. The value may be a secret (sasl.password): errors name the
 * key only. The library checks the properties when a session adds the targets:
 * one it refuses fails POST /start with its message.
 */
static int add_export_opt(struct jcapd_opts *o, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	size_t have = strlen(o->export_props), n = strlen(v);

	if (!eq || eq == v || strchr(v, '\n') ||
	    (strncmp(v, "kafka.", 6) && strncmp(v, "clickhouse.", 11)) ||
	    (size_t)(eq - v) == (strncmp(v, "kafka.", 6) ? 11u : 6u))
		return fail(err, errlen, -EINVAL,
			    "export_opt: expected kafka.PROPERTY=VALUE or clickhouse.NAME=VALUE, "
			    "got '%.*s=...'",
			    eq ? (int)(eq - v) : 0, v);
	if (have + n + 2 > sizeof(o->export_props))
		return fail(err, errlen, -EINVAL, "export_opt: more than %zu bytes in all",
			    sizeof(o->export_props) - 2);
	memcpy(o->export_props + have, v, n);
	memcpy(o->export_props + have + n, "\n", 2);
	return 0;
}

static int check_user(const char *name, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r;

	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r)
		return fail(err, errlen, -EINVAL, "capture_user: cannot look up '%s': %s", name,
			    strerror(r));
	if (!res)
		return fail(err, errlen, -EINVAL, "capture_user: no such user '%s'", name);
	return 0;
}

static int list_add(char **list, unsigned *n, unsigned max, const char *key, const char *v,
		    char *err, size_t errlen)
{
	if (*n >= max)
		return fail(err, errlen, -EINVAL, "%s: more than %u given", key, max);
	list[*n] = strdup(v);
	if (!list[*n])
		return fail(err, errlen, -ENOMEM, "%s: out of memory", key);
	(*n)++;
	return 0;
}

static int set_uint(struct jcapd_opts *o, const struct key *k, const char *v, char *err,
		    size_t errlen)
{
	unsigned long long n;
	char *end;
	void *p = (char *)o + k->off;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || errno || *end ||
	    (n < k->min && !(n == 0 && k->kind == K_UINT0)) || n > k->max)
		return fail(err, errlen, -EINVAL,
			    "%s: expected %san integer in %llu..%llu, got '%s'", k->name,
			    k->kind == K_UINT0 ? "0 or " : "", (unsigned long long)k->min,
			    (unsigned long long)k->max, v);
	/* the fields are unsigned, uint32_t or size_t */
	if (k->size == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)n;

		memcpy(p, &x, sizeof(x));
	} else if (k->size == sizeof(uint64_t)) {
		uint64_t x = n;

		memcpy(p, &x, sizeof(x));
	} else {
		return fail(err, errlen, -EINVAL, "%s: unexpected field size", k->name);
	}
	return 0;
}

int config_set(struct jcapd_opts *o, const char *name, const char *v, char *err, size_t errlen)
{
	const struct key *k = find_key(name);
	struct sockaddr_storage ss;
	char *p;
	int i;

	if (!k)
		return fail(err, errlen, -ENOENT, "unknown key '%s'", name);
	if (!*v)
		return fail(err, errlen, -EINVAL, "%s: empty value", k->name);
	p = (char *)o + k->off;
	switch (k->kind) {
	case K_LISTEN:
		if (strlen(v) >= k->size || config_parse_listen(v, &ss))
			return fail(err, errlen, -EINVAL,
				    "listen: expected ADDR:PORT or [V6ADDR]:PORT, got '%s'", v);
		break;
	case K_USER:
		if (strlen(v) < k->size && check_user(v, err, errlen))
			return -EINVAL;
		break;
	case K_BOOL:
		if (parse_bool(v, (bool *)p))
			return fail(err, errlen, -EINVAL, "%s: expected true or false, got '%s'",
				    k->name, v);
		return 0;
	case K_LEVEL:
		for (i = 0; i < 4; i++)
			if (!strcmp(v, config_level_names[i]))
				break;
		if (i == 4)
			return fail(err, errlen, -EINVAL,
				    "log_level: expected error, warn, info or debug, got '%s'", v);
		o->log_level = i;
		return 0;
	case K_UINT:
	case K_UINT0:
		return set_uint(o, k, v, err, errlen);
	case K_METRICS:
		for (i = METRICS_AUTH_TOKEN; i <= METRICS_AUTH_OPEN; i++) {
			if (!strcmp(v, metrics_choices[i])) {
				memcpy(p, &i, sizeof(i));
				return 0;
			}
		}
		return fail(err, errlen, -EINVAL, "%s: expected token, loopback or open, got '%s'",
			    k->name, v);
	case K_ALLOW:
		if (strlen(v) >= JCAPD_PATH_MAX)
			return fail(err, errlen, -EINVAL, "allow_dir: longer than %d bytes",
				    JCAPD_PATH_MAX - 1);
		return list_add(o->allow_dirs, &o->n_allow_dirs, JCAPD_MAX_ALLOW_DIRS, k->name, v,
				err, errlen);
	case K_EXPORT:
		if (check_export(v, err, errlen))
			return -EINVAL;
		return list_add(o->exports, &o->n_exports, JCAPD_MAX_EXPORTS, k->name, v, err,
				errlen);
	case K_EXPOPT:
		return add_export_opt(o, v, err, errlen);
	case K_STR:
		break;
	}
	/* the string kinds */
	if (strlen(v) >= k->size)
		return fail(err, errlen, -EINVAL, "%s: longer than %zu bytes", k->name,
			    k->size - 1);
	memcpy(p, v, strlen(v) + 1);
	return 0;
}

int config_check(const struct jcapd_opts *o, char *err, size_t errlen)
{
	uint32_t off;

	if (capture_inspect_parse(o->inspect, &off) < 0)
		return fail(err, errlen, -EINVAL,
			    "inspect '%s': expected all, none or names separated by commas "
			    "(dpi, tls, quic, dns, http, tcp)",
			    o->inspect);
	/* POST /flow/meter/enable starts from these and refuses idle > active */
	if (o->idle_timeout_sec > o->active_timeout_sec)
		return fail(err, errlen, -EINVAL,
			    "flow_idle_timeout_sec %u is longer than flow_active_timeout_sec %u",
			    o->idle_timeout_sec, o->active_timeout_sec);
	return 0;
}

bool config_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

int config_check_transport(const struct jcapd_opts *o, char *err, size_t errlen)
{
	struct sockaddr_storage ss;

	if (!o->tls_cert[0] != !o->tls_key[0])
		return fail(err, errlen, -EINVAL, "%s given without %s: HTTPS needs both",
			    o->tls_cert[0] ? "tls_cert" : "tls_key",
			    o->tls_cert[0] ? "tls_key" : "tls_cert");
	if (o->tls_client_ca[0] && !o->tls_cert[0])
		return fail(err, errlen, -EINVAL,
			    "tls_client_ca needs tls_cert and tls_key (client certificates are "
			    "part of HTTPS)");
	if (o->tls_cert[0] || o->insecure_http || config_parse_listen(o->listen, &ss) < 0 ||
	    config_addr_is_loopback((struct sockaddr *)&ss))
		return 0;
	return fail(err, errlen, -EINVAL,
		    "refusing clear-text HTTP on non-loopback %s: give --tls-cert FILE and "
		    "--tls-key FILE (or --insecure-http to send tokens and flows unencrypted)",
		    o->listen);
}

/*
 * One line of @f without its newline into @buf. Returns 1, 0 at the end of the
 * file, -E2BIG for a line that does not fit, -EILSEQ for a NUL byte, -errno.
 */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	bool nul = false;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (n + 1 >= size)
			return -E2BIG;
		if (ch == '\0')
			nul = true;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	if (ferror(f))
		return errno ? -errno : -EIO; /* a directory: EISDIR */
	if (ch == EOF && n == 0)
		return 0;
	return nul ? -EILSEQ : 1;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_load(struct jcapd_opts *o, const char *file, char *err, size_t errlen)
{
	unsigned line_of[N_KEYS] = { 0 }, lineno = 0, last;
	char line[LINE_MAX_BYTES], why[JCAPD_PATH_MAX + 512];
	FILE *f;
	int r;

	f = fopen(file, "re");
	if (!f) {
		r = errno;
		return fail(err, errlen, -r, "%s: %s", file, strerror(r));
	}
	for (;;) {
		const struct key *k;
		char *eq, *key, *val, *s;

		lineno++;
		r = read_line(f, line, sizeof(line));
		if (r == 0)
			break;
		if (r == -E2BIG) {
			r = fail(why, sizeof(why), -EINVAL, "line longer than %d bytes",
				 LINE_MAX_BYTES - 1);
			goto bad;
		}
		if (r == -EILSEQ) {
			r = fail(why, sizeof(why), -EINVAL, "NUL byte in the line");
			goto bad;
		}
		if (r < 0) {
			r = fail(why, sizeof(why), r, "%s", strerror(-r));
			goto bad;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			r = fail(why, sizeof(why), -EINVAL, "expected key = value");
			goto bad;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		k = find_key(key);
		if (k && k->kind != K_ALLOW && k->kind != K_EXPORT && k->kind != K_EXPOPT &&
		    line_of[k - keys]) {
			r = fail(why, sizeof(why), -EINVAL, "%s given twice (first on line %u)",
				 key, line_of[k - keys]);
			goto bad;
		}
		r = config_set(o, key, val, why, sizeof(why));
		if (r < 0)
			goto bad;
		line_of[k - keys] = lineno;
	}
	fclose(f);
	r = config_check(o, why, sizeof(why));
	if (r < 0) {
		/* name the later line of the two keys that disagree */
		const struct key *ki = find_key("flow_idle_timeout_sec");
		const struct key *ka = find_key("flow_active_timeout_sec");

		last = line_of[ki - keys] > line_of[ka - keys] ? line_of[ki - keys]
							       : line_of[ka - keys];
		if (last)
			return fail(err, errlen, r, "%s:%u: %s", file, last, why);
	}
	return 0;
bad:
	fclose(f);
	return fail(err, errlen, r, "%s:%u: %s", file, lineno, why);
}

void config_usage(FILE *out)
{
	fprintf(out, "usage: jcapd [--config FILE] [--listen ADDR:PORT] [--token-file FILE]\n"
		     "             [--allow-dir DIR]... [--syslog] [--OPTION VALUE]...\n"
		     "Every config file key is also an option (--key-name VALUE, '_' as '-'):\n");
	for (size_t i = 0; i < N_KEYS; i++) {
		char name[64];
		size_t k;

		for (k = 0; keys[i].name[k] && k + 1 < sizeof(name); k++)
			name[k] = keys[i].name[k] == '_' ? '-' : keys[i].name[k];
		name[k] = '\0';
		fprintf(out, "  --%-24s %s\n", name, keys[i].help);
	}
	fprintf(out, "  --%-24s %s\n  --%-24s %s\n", "config FILE", "read key = value lines first",
		"version", "print the version");
}
