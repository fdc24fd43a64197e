/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap query DB [filters]`: read flow records back from a SQLite flow store
 * written with --store / --export sqlite:, newest first, through
 * capture_store_query(). Exit 0 ok (also when nothing matched), 1 failure, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jcap.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: jcap query DB [--since T] [--until T] [--ip ADDR|CIDR] [--port N]\n"
		   "                     [--proto tcp|udp|icmp|icmp6|N] [--limit N]\n"
		   "                     [--community-id ID] [--tunnel-id N] [--mac MAC]\n"
		   "                     [--app GLOB] [--sni GLOB] [--dns-name GLOB]\n"
		   "                     [--country CC] [--asn N] [-F table|json|csv]\n"
		   "       jcap query DB [filters] --top N --by KEY | --aggregate KEYS\n"
		   "                     [--bin DUR] [--order flows|packets|bytes] [-F FMT]\n"
		   "       jcap query DB [filters] --bin DUR | --summary [-F FMT]\n"
		   "  Flows that overlap [since, until] (last packet >= since, first <= until),\n"
		   "  with ADDR/CIDR (IPv4 or IPv6) and port N on either side, newest first.\n"
		   "  T: epoch seconds with an optional fraction (1700000000.25), or ISO-8601\n"
		   "  UTC (2023-11-14T22:13:20Z, 2023-11-14T22:13:20.25Z).\n"
		   "  --tunnel-id: VNI, GRE key, ERSPAN session or TEID (either way);\n"
		   "  --mac: aa:bb:cc:dd:ee:ff on either side.\n"
		   "  --app, --sni, --dns-name: SQLite GLOB patterns (*, ?, [...]) on app,\n"
		   "  tls_sni, dns_qname ('*.example.com'); --app is case-sensitive (nDPI's\n"
		   "  names, 'TLS.*'), --sni and --dns-name ignore ASCII case.\n"
		   "  --country CC (ISO 3166, any case), --asn N: either end.\n"
		   "  Reports (computed by SQLite): one row per value of KEY (--by) or of\n"
		   "  KEYS (--aggregate src_ip,dst_port) with flows, packets and bytes (both\n"
		   "  directions), largest first by --order (default flows), the first N with\n"
		   "  --top; --bin DUR (300, 5m, 1h, 1d) groups by time bins of the flows'\n"
		   "  first packets; --summary: totals, first/last time, flows by protocol.\n"
		   "  KEY: src_ip, dst_ip, src_port, dst_port, proto, ip_version, vlan,\n"
		   "  end_reason, community_id, app, app_category, tls_sni, dns_qname,\n"
		   "  http_host, conn_state, src_country, dst_country, src_asn, dst_asn;\n"
		   "  country and asn count each flow under both ends, as nfdump's -s as.\n");
}

/* Digits [s, s+n) as a number; false if any is not a digit. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* ".ddddddddd" (1..9 digits, more are refused) to nanoseconds; @s after the dot. */
static bool fraction(const char *s, const char **end, uint64_t *ns)
{
	uint64_t v = 0, scale = 100000000;
	int n = 0;

	while (*s >= '0' && *s <= '9') {
		if (++n > 9)
			return false;
		v += (uint64_t)(*s - '0') * scale;
		scale /= 10;
		s++;
	}
	if (n == 0)
		return false;
	*ns = v;
	*end = s;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Epoch seconds[.fraction] or YYYY-MM-DDTHH:MM:SS[.fraction]Z to ns. */
static int parse_time(const char *s, uint64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	uint64_t frac = 0;
	const char *p;
	struct tm tm;
	time_t t;
	int y, mo, d, h, mi, se;

	if (!s || !*s)
		return -1;
	if (strlen(s) >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
	    s[16] == ':') {
		if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
		    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
			return -1;
		if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
		    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || se > 59)
			return -1;
		p = s + 19;
		if (*p == '.' && !fraction(p + 1, &p, &frac))
			return -1;
		if (strcmp(p, "Z") && strcmp(p, "+00:00"))
			return -1; /* UTC only: no local time guesses */
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = se;
		t = timegm(&tm);
		if (t < 0 || (uint64_t)t > UINT64_MAX / 1000000000ull - 1)
			return -1;
		*out = (uint64_t)t * 1000000000ull + frac;
		return 0;
	} else {
		uint64_t sec = 0;

		p = s;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9') {
			if (sec > (UINT64_MAX / 1000000000ull - 1) / 10)
				return -1;
			sec = sec * 10 + (uint64_t)(*p - '0');
			p++;
		}
		if (*p == '.' && !fraction(p + 1, &p, &frac))
			return -1;
		if (*p)
			return -1;
		if (sec > UINT64_MAX / 1000000000ull - 1)
			return -1;
		*out = sec * 1000000000ull + frac;
		return 0;
	}
}

/* --since/--until T into the uint64_t (ns) field of the option. */
static int opt_time(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		    void *base)
{
	if (parse_time(arg, (uint64_t *)((char *)base + opt->off)) < 0) {
		jcap_err("%s: --%s: '%s' is not a time (epoch seconds[.fraction] "
			 "or YYYY-MM-DDTHH:MM:SS[.fraction]Z)",
			 cmd->name, opt->name, arg);
		return -1;
	}
	return 0;
}

static int opt_proto(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		     void *base)
{
	static const struct {
		const char *name;
		int num;
	} names[] = {
		{ "tcp", 6 },	     { "udp", 17 },   { "icmp", 1 }, { "icmp6", 58 },
		{ "ipv6-icmp", 58 }, { "sctp", 132 }, { "gre", 47 }, { "esp", 50 },
	};
	int32_t *out = (int32_t *)((char *)base + opt->off);
	uint64_t v;
	size_t i;

	for (i = 0; i < JCAP_ARRAY_SIZE(names); i++) {
		if (!strcmp(arg, names[i].name)) {
			*out = names[i].num;
			return 0;
		}
	}
	if (jcap_parse_u64("--proto", arg, 0, 255, &v) < 0)
		return -1;
	*out = (int32_t)v;
	return 0;
}

/* --tunnel-id N: the id and the flag that it was given. */
static int opt_tunnel_id(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
			 void *base)
{
	struct capture_query *q = (struct capture_query *)((char *)base + opt->off);
	uint64_t v;

	(void)cmd;
	if (jcap_parse_u64("--tunnel-id", arg, 0, UINT32_MAX, &v) < 0)
		return -1;
	q->tunnel_id = (uint32_t)v;
	q->has_tunnel_id = true;
	return 0;
}

/* --asn N: the number and the flag that it was given. */
static int opt_asn(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		   void *base)
{
	struct capture_query *q = (struct capture_query *)((char *)base + opt->off);
	uint64_t v;

	(void)cmd;
	if (jcap_parse_u64("--asn", arg, 0, UINT32_MAX, &v) < 0)
		return -1;
	q->asn = (uint32_t)v;
	q->has_asn = true;
	return 0;
}

struct query_args {
	struct capture_query q;
	int fmt; /* enum jcap_format */
	/* reports (report.c) */
	struct capture_report rep;
	const char *by, *aggregate;
	uint64_t top;
	bool summary;
};

/* --bin DUR: 300, 300s, 5m, 1h, 1d */
static int opt_bin(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		   void *base)
{
	if (jcap_parse_duration(arg, (uint64_t *)((char *)base + opt->off)) < 0) {
		jcap_err("%s: --bin: '%s' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)",
			 cmd->name, arg);
		return -1;
	}
	return 0;
}

#define F(member) JCAP_FIELD(struct query_args, member)

static const struct jcap_opt query_opts[] = {
	JCAP_FN(0, "since", "T", F(q.since_ns), opt_time, NULL),
	JCAP_FN(0, "until", "T", F(q.until_ns), opt_time, NULL),
	JCAP_STR(0, "ip", "ADDR|CIDR", F(q.ip), NULL),
	JCAP_UINT(0, "port", "N", F(q.port), 0, 65535, NULL),
	JCAP_FN(0, "proto", "P", F(q.proto), opt_proto, NULL),
	JCAP_UINT(0, "limit", "N", F(q.limit), 0, INT64_MAX, NULL),
	JCAP_STR(0, "community-id", "ID", F(q.community_id), NULL),
	JCAP_FN(0, "tunnel-id", "N", F(q), opt_tunnel_id, NULL),
	JCAP_STR(0, "mac", "MAC", F(q.mac), NULL),
	JCAP_STR(0, "app", "GLOB", F(q.app), NULL),
	JCAP_STR(0, "sni", "GLOB", F(q.sni), NULL),
	JCAP_STR(0, "dns-name", "GLOB", F(q.dns_name), NULL),
	JCAP_STR(0, "country", "CC", F(q.country), NULL),
	JCAP_FN(0, "asn", "N", F(q), opt_asn, NULL),
	JCAP_ENUM('F', "format", "FMT", F(fmt), jcap_format_names, "format", NULL),
	JCAP_UINT(0, "top", "N", F(top), 1, INT64_MAX, NULL),
	JCAP_STR(0, "by", "KEY", F(by), NULL),
	JCAP_STR(0, "aggregate", "KEYS", F(aggregate), NULL),
	JCAP_FN(0, "bin", "DUR", F(rep.bin_ns), opt_bin, NULL),
	JCAP_ENUM(0, "order", "KEY", F(rep.order), jcap_report_order_names, "order", NULL),
	JCAP_FLAG(0, "summary", F(summary), true, NULL),
	JCAP_HELP('h', "help"),
};

static const struct jcap_cmd query_cmd = JCAP_CMD("query", query_opts, usage, true);

struct sink {
	enum jcap_format fmt;
	struct jcap_flows all; /* table and csv: printed once at the end */
	bool oom, io_err;
};

static void on_flows(void *ctx, const struct capture_flow *recs, size_t n)
{
	struct sink *k = ctx;

	if (k->fmt == JCAP_FMT_JSON) {
		/* JSON Lines stream as they come: no result set held in memory */
		if (jcap_print_flows(stdout, recs, n, JCAP_FMT_JSON) < 0)
			k->io_err = true;
		return;
	}
	if (!k->oom && jcap_flows_add(&k->all, recs, n) < 0)
		k->oom = true;
}

/* --top/--by, --aggregate, --bin, --summary: an exit code. */
static int query_report(struct query_args *a, const char *db)
{
	int rc;

	if (a->by && a->aggregate)
		return jcap_usage_err(&query_cmd, "give --by KEY or --aggregate KEYS, not both");
	if (a->top && !a->by && !a->aggregate)
		return jcap_usage_err(&query_cmd, "--top N needs --by KEY or --aggregate KEYS");
	if (a->by && strchr(a->by, ','))
		return jcap_usage_err(&query_cmd, "--by takes one key; several: --aggregate");
	if (a->summary && (a->by || a->aggregate || a->rep.bin_ns))
		return jcap_usage_err(&query_cmd, "--summary stands alone");
	if (a->q.limit)
		return jcap_usage_err(&query_cmd, "reports take --top N, not --limit");
	a->rep.sz = sizeof(a->rep);
	a->rep.keys = a->by ? a->by : a->aggregate;
	a->rep.limit = a->top;
	if (a->summary)
		rc = jcap_report_summary(stdout, db, &a->q, (enum jcap_format)a->fmt);
	else
		rc = jcap_report(stdout, db, &a->q, &a->rep, (enum jcap_format)a->fmt);
	if (fflush(stdout) != 0) {
		jcap_err("query: cannot write the results: %s", strerror(errno));
		return JCAP_EXIT_FAIL;
	}
	return rc;
}

int jcap_cmd_query(int argc, char **argv)
{
	struct query_args a = {
		.q = { .sz = sizeof(a.q), .port = -1, .proto = -1 },
		.fmt = jcap_default_format(stdout),
	};
	struct sink k = { 0 };
	const char *db;
	char err[1024] = "";
	int64_t r;
	int rc;

	rc = jcap_opts_parse(&query_cmd, argc, argv, &a);
	if (rc <= 0)
		return rc < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	if (rc >= argc)
		return jcap_usage_err(&query_cmd, "the flow store DB is required");
	if (rc + 1 < argc)
		return jcap_usage_err(&query_cmd, "unexpected argument '%s'", argv[rc + 1]);
	db = argv[rc];
	k.fmt = (enum jcap_format)a.fmt;
	if (a.by || a.aggregate || a.rep.bin_ns || a.summary || a.top)
		return query_report(&a, db);

	r = capture_store_query(db, &a.q, on_flows, &k, err, sizeof(err));
	if (r == -EINVAL) {
		/* a filter the library refused (address/CIDR, since after until) */
		jcap_err("query: %s", err);
		free(k.all.v);
		return JCAP_EXIT_USAGE;
	}
	if (r < 0) {
		/* err already starts with the database path */
		if (err[0])
			jcap_err("%s", err);
		else
			jcap_err("%s: %s", db, capture_strerror((int)r));
		free(k.all.v);
		return JCAP_EXIT_FAIL;
	}
	if (k.oom) {
		jcap_err("%s: out of memory holding %lld flows (use -F json or --limit)", db,
			 (long long)r);
		free(k.all.v);
		return JCAP_EXIT_FAIL;
	}
	if (k.fmt != JCAP_FMT_JSON && jcap_print_flows(stdout, k.all.v, k.all.n, k.fmt) < 0)
		k.io_err = true;
	free(k.all.v);
	if (fflush(stdout) != 0 || k.io_err) {
		jcap_err("query: cannot write the results: %s", strerror(errno));
		return JCAP_EXIT_FAIL;
	}
	return JCAP_EXIT_OK;
}
