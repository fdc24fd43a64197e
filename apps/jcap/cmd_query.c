/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap query DB [filters]`: read flow records back from a SQLite flow store
 * written with --store / --export sqlite:, newest first, through
 * capture_store_query(). Exit 0 ok (also when nothing matched), 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jcap.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: jcap query DB [--since T] [--until T] [--ip ADDR|CIDR] [--port N]\n"
		   "                     [--proto tcp|udp|icmp|icmp6|N] [--limit N]\n"
		   "                     [-F table|json|csv]\n"
		   "  Flows that overlap [since, until] (last packet >= since, first <= until),\n"
		   "  with ADDR/CIDR (IPv4 or IPv6) and port N on either side, newest first.\n"
		   "  T: epoch seconds with an optional fraction (1700000000.25), or ISO-8601\n"
		   "  UTC (2023-11-14T22:13:20Z, 2023-11-14T22:13:20.25Z).\n");
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

static int parse_proto(const char *s, int32_t *out)
{
	static const struct {
		const char *name;
		int num;
	} names[] = {
		{ "tcp", 6 },	     { "udp", 17 },   { "icmp", 1 }, { "icmp6", 58 },
		{ "ipv6-icmp", 58 }, { "sctp", 132 }, { "gre", 47 }, { "esp", 50 },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i].name)) {
			*out = names[i].num;
			return 0;
		}
	}
	if (jcap_parse_u64("--proto", s, 0, 255, &v) < 0)
		return -1;
	*out = (int32_t)v;
	return 0;
}

struct sink {
	enum jcap_format fmt;
	struct capture_flow *all; /* table and csv: printed once at the end */
	size_t n, cap;
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
	if (k->oom)
		return;
	if (k->n + n > k->cap) {
		size_t cap = k->cap ? k->cap : 1024;
		struct capture_flow *p;

		while (cap < k->n + n)
			cap *= 2;
		p = realloc(k->all, cap * sizeof(*p));
		if (!p) {
			k->oom = true;
			return;
		}
		k->all = p;
		k->cap = cap;
	}
	memcpy(k->all + k->n, recs, n * sizeof(*recs));
	k->n += n;
}

int jcap_cmd_query(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "ip", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{ "limit", required_argument, NULL, 'l' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct capture_query q = { .sz = sizeof(q), .port = -1, .proto = -1 };
	struct sink k = { .fmt = jcap_default_format(stdout) };
	const char *db;
	char err[1024] = "";
	uint64_t v;
	int64_t r;
	int c;

	optind = 0; /* full getopt reset: main may have parsed before us */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":F:h", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'u':
			if (parse_time(optarg, c == 's' ? &q.since_ns : &q.until_ns) < 0) {
				jcap_err("query: %s: '%s' is not a time (epoch seconds[.fraction] "
					 "or YYYY-MM-DDTHH:MM:SS[.fraction]Z)",
					 c == 's' ? "--since" : "--until", optarg);
				return JCAP_EXIT_USAGE;
			}
			break;
		case 'i':
			q.ip = optarg;
			break;
		case 'p':
			if (jcap_parse_u64("--port", optarg, 0, 65535, &v) < 0)
				return JCAP_EXIT_USAGE;
			q.port = (int32_t)v;
			break;
		case 'P':
			if (parse_proto(optarg, &q.proto) < 0)
				return JCAP_EXIT_USAGE;
			break;
		case 'l':
			if (jcap_parse_u64("--limit", optarg, 0, INT64_MAX, &v) < 0)
				return JCAP_EXIT_USAGE;
			q.limit = v;
			break;
		case 'F':
			if (jcap_parse_format(optarg, &k.fmt) < 0) {
				jcap_err("query: unknown format '%s' (table, json or csv)", optarg);
				return JCAP_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return JCAP_EXIT_OK;
		case ':':
			jcap_err("query: option %s needs a value", argv[optind - 1]);
			usage(stderr);
			return JCAP_EXIT_USAGE;
		default:
			jcap_err("query: unknown option %s", argv[optind - 1]);
			usage(stderr);
			return JCAP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		jcap_err("query: the flow store DB is required");
		usage(stderr);
		return JCAP_EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		jcap_err("query: unexpected argument '%s'", argv[optind + 1]);
		usage(stderr);
		return JCAP_EXIT_USAGE;
	}
	db = argv[optind];

	r = capture_store_query(db, &q, on_flows, &k, err, sizeof(err));
	if (r == -EINVAL) {
		/* a filter the library refused (address/CIDR, since after until) */
		jcap_err("query: %s", err);
		free(k.all);
		return JCAP_EXIT_USAGE;
	}
	if (r < 0) {
		/* err already starts with the database path */
		if (err[0])
			jcap_err("%s", err);
		else
			jcap_err("%s: %s", db, capture_strerror((int)r));
		free(k.all);
		return JCAP_EXIT_FAIL;
	}
	if (k.oom) {
		jcap_err("%s: out of memory holding %lld flows (use -F json or --limit)", db,
			 (long long)r);
		free(k.all);
		return JCAP_EXIT_FAIL;
	}
	if (k.fmt != JCAP_FMT_JSON && jcap_print_flows(stdout, k.all, k.n, k.fmt) < 0)
		k.io_err = true;
	free(k.all);
	if (fflush(stdout) != 0 || k.io_err) {
		jcap_err("query: cannot write the results: %s", strerror(errno));
		return JCAP_EXIT_FAIL;
	}
	return JCAP_EXIT_OK;
}
