/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GET /packet_capture/capture/flows: the query string (limit, sort_by,
 * address and port filters, state) parsed and checked whole, then handed to
 * the session's flow snapshot (session_flows.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jcapd.h"

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_ip_filter(const char *s, struct flow_query *q)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	uint64_t pfx;

	if (n == 0 || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(q->ip, 0, sizeof(q->ip));
	if (inet_pton(AF_INET, addr, q->ip) == 1) {
		q->ip_version = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, q->ip) == 1) {
		q->ip_version = 6;
		max = 128;
	} else {
		return -EINVAL;
	}
	q->prefix = max;
	if (slash) {
		if (parse_u64(slash + 1, max, &pfx))
			return -EINVAL;
		q->prefix = (unsigned)pfx;
	}
	q->has_ip = true;
	return 0;
}

/* app, sni, dns_name (glob patterns), country, asn into @q; 0 or the 400. */
static int parse_app_filters(const struct req *rq, struct flow_query *q, struct resp *rs)
{
	static const char *const globs[] = { "app", "sni", "dns_name" };
	const char **out[] = { &q->app, &q->sni, &q->dns_name };
	const char *v;
	uint64_t n;
	size_t i;

	for (i = 0; i < 3; i++) {
		v = http_query(rq, globs[i]);
		if (v && (!v[0] || strlen(v) >= CAPTURE_NAME_LEN))
			return resp_error(rs, 400, globs[i],
					  "'%s' must be a pattern of 1 to %d bytes", globs[i],
					  CAPTURE_NAME_LEN - 1);
		*out[i] = v;
	}
	v = http_query(rq, "country");
	if (v) {
		if (!isalpha((unsigned char)v[0]) || !isalpha((unsigned char)v[1]) || v[2])
			return resp_error(rs, 400, "country",
					  "'country' must be a two-letter ISO 3166 code");
		q->country[0] = (char)toupper((unsigned char)v[0]);
		q->country[1] = (char)toupper((unsigned char)v[1]);
	}
	v = http_query(rq, "asn");
	if (v) {
		if (parse_u64(v, UINT32_MAX, &n))
			return resp_error(rs, 400, "asn", "'asn' must be 0..4294967295");
		q->asn = (uint32_t)n;
		q->has_asn = true;
	}
	return 0;
}

int routes_h_flows(const struct req *rq, const json_t *body, struct resp *rs)
{
	static const char *const qkeys[] = { "limit", "sort_by",      "ip",	   "port", "proto",
					     "state", "community_id", "tunnel_id", "mac",  "app",
					     "sni",   "dns_name",     "country",   "asn",  NULL };
	static const char *const sorts[] = { "bytes", "packets", "duration", "last_seen", NULL };
	static const struct {
		const char *name;
		int num;
	} protos[] = {
		{ "icmp", 1 }, { "tcp", 6 },	 { "udp", 17 },	  { "gre", 47 },
		{ "esp", 50 }, { "icmpv6", 58 }, { "sctp", 132 },
	};
	struct flow_query q = { .limit = 10, .port = -1, .proto = -1 };
	const char *bad, *v;
	uint64_t n;
	int st;

	bad = http_query_unknown(rq, qkeys);
	if (bad)
		return resp_error(rs, 400, bad, "unknown or repeated query parameter '%s'", bad);
	v = http_query(rq, "limit");
	if (v && parse_u64(v, 1000000, &q.limit))
		return resp_error(rs, 400, "limit", "'limit' must be 0 (all) .. 1000000");
	v = http_query(rq, "sort_by");
	if (v) {
		q.sort = routes_find_name(sorts, v);
		if (q.sort < 0)
			return resp_error(
				rs, 400, "sort_by",
				"'sort_by' must be bytes, packets, duration or last_seen");
	}
	v = http_query(rq, "ip");
	if (v && parse_ip_filter(v, &q))
		return resp_error(rs, 400, "ip", "'ip' must be an IPv4/IPv6 address or CIDR");
	v = http_query(rq, "port");
	if (v) {
		if (parse_u64(v, 65535, &n))
			return resp_error(rs, 400, "port", "'port' must be 0..65535");
		q.port = (int32_t)n;
	}
	v = http_query(rq, "proto");
	if (v) {
		for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (strcasecmp(protos[i].name, v) == 0)
				q.proto = protos[i].num;
		if (q.proto < 0) {
			if (parse_u64(v, 255, &n))
				return resp_error(rs, 400, "proto",
						  "'proto' must be tcp, udp, icmp, icmpv6, sctp, "
						  "gre, esp or a number 0..255");
			q.proto = (int32_t)n;
		}
	}
	v = http_query(rq, "community_id");
	if (v)
		q.community_id = v;
	v = http_query(rq, "tunnel_id");
	if (v) {
		if (parse_u64(v, UINT32_MAX, &n))
			return resp_error(rs, 400, "tunnel_id",
					  "'tunnel_id' must be 0..4294967295");
		q.tunnel_id = (uint32_t)n;
		q.has_tunnel_id = true;
	}
	v = http_query(rq, "mac");
	if (v) {
		if (capture_mac_parse(v, q.mac))
			return resp_error(rs, 400, "mac",
					  "'mac' must be a MAC address aa:bb:cc:dd:ee:ff");
		q.has_mac = true;
	}
	st = parse_app_filters(rq, &q, rs);
	if (st)
		return st;
	v = http_query(rq, "state");
	if (v) {
		if (strcmp(v, "all") == 0)
			q.all = true;
		else if (strcmp(v, "active") != 0)
			return resp_error(rs, 400, "state", "'state' must be active or all");
	}
	return session_flows(&q, rs);
}
