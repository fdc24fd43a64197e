/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GeoIP/ASN enrichment cost per record, as the export thread pays it:
 * pc_geoip_enrich() over N records (default 1M) whose addresses lie in the
 * networks of MaxMind's test databases (bench/geoip_traffic.py lists them),
 * 20% IPv6, with the City database, the ASN one and both; thread CPU time.
 * -p POOL: addresses drawn from POOL distinct ones, skewed as traffic is (the
 * k-th most used about k^-0.5 as often as the first: u^2 of a uniform u),
 * so the session's answer cache hits as it would on a network; without it
 * every address is new (the worst case: every lookup made).
 * Usage: bench_geoip CITY.mmdb ASN.mmdb [-n RECORDS] [-p POOL]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/geoip.h"

static const char *const nets4[] = { "81.2.69.144/28",	"81.2.69.160/27",   "89.160.20.128/25",
				     "175.16.199.0/24", "202.196.224.0/20", "216.160.83.56/29",
				     "67.43.156.0/24",	"1.128.0.0/11",	    "12.81.92.0/22",
				     "12.81.96.0/19" };
static const char *const nets6[] = { "2001:218::/32",  "2001:220::/32",	 "2001:250::/31",
				     "2600:6000::/20", "2600:7000::/24", "2600:7100::/24" };

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* a random host of a random network of @nets into @out */
static void host(const char *const *nets, size_t n, int af, uint8_t *out)
{
	char buf[64], *slash;
	unsigned plen, i, len = af == AF_INET ? 4 : 16;

	snprintf(buf, sizeof(buf), "%s", nets[next() % n]);
	slash = strchr(buf, '/');
	*slash = 0;
	plen = (unsigned)strtoul(slash + 1, NULL, 10);
	inet_pton(af, buf, out);
	for (i = plen; i < len * 8; i++)
		if (next() & 1)
			out[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *what, const char *city, const char *asn, struct capture_flow *f,
		size_t n)
{
	struct pc_geoip *g;
	char err[512];
	unsigned long long lookups = 0, geo = 0, as = 0;
	double t;
	size_t i;

	if (pc_geoip_open(&g, city, asn, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	t = cpu_s();
	for (i = 0; i < n; i++) {
		f[i].l7_flags = 0;
		lookups += pc_geoip_enrich(g, &f[i]);
	}
	t = cpu_s() - t;
	for (i = 0; i < n; i++) {
		geo += !!(f[i].l7_flags & CAPTURE_L7_GEO_SRC) +
		       !!(f[i].l7_flags & CAPTURE_L7_GEO_DST);
		as += !!(f[i].l7_flags & CAPTURE_L7_ASN_SRC) +
		      !!(f[i].l7_flags & CAPTURE_L7_ASN_DST);
	}
	printf("%-5s %zu records, %llu lookups (%llu countries, %llu ASNs found): %.3f s, "
	       "%.0f ns per record, %.0f ns per lookup\n",
	       what, n, lookups, geo, as, t, t * 1e9 / (double)n, t * 1e9 / (double)lookups);
	pc_geoip_close(g);
}

/* with a pool: records take their addresses from the first @pool records */
static void reuse(struct capture_flow *f, size_t n, size_t pool)
{
	size_t i;

	for (i = pool; i < n; i++) {
		double u = (double)(next() >> 11) / 9007199254740992.0;
		const struct capture_flow *a = &f[(size_t)(u * u * (double)pool)];
		const struct capture_flow *b = &f[next() % pool];

		f[i].ip_version = a->ip_version;
		memcpy(f[i].src_ip, b->ip_version == a->ip_version ? b->src_ip : a->dst_ip, 16);
		memcpy(f[i].dst_ip, a->dst_ip, 16);
	}
}

int main(int argc, char **argv)
{
	size_t n = 1000000, pool = 0, i;
	struct capture_flow *f;
	int k;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_geoip CITY.mmdb ASN.mmdb [-n RECORDS] [-p POOL]\n");
		return 2;
	}
	for (k = 3; k + 1 < argc; k += 2) {
		if (!strcmp(argv[k], "-n"))
			n = strtoul(argv[k + 1], NULL, 10);
		else if (!strcmp(argv[k], "-p"))
			pool = strtoul(argv[k + 1], NULL, 10);
	}
	f = calloc(n, sizeof(*f));
	if (!f)
		return 1;
	for (i = 0; i < n; i++) {
		bool v6 = next() % 5 == 0;
		const char *const *nets = v6 ? nets6 : nets4;
		size_t nn = v6 ? sizeof(nets6) / sizeof(*nets6) : sizeof(nets4) / sizeof(*nets4);

		f[i].ip_version = v6 ? 6 : 4;
		host(nets, nn, v6 ? AF_INET6 : AF_INET, f[i].src_ip);
		host(nets, nn, v6 ? AF_INET6 : AF_INET, f[i].dst_ip);
	}
	if (pool && pool < n)
		reuse(f, n, pool);
	printf("%zu records, addresses %s\n", n,
	       pool ? "from a skewed pool (-p)" : "uniform over the networks");
	run("city", argv[1], NULL, f, n);
	run("asn", NULL, argv[2], f, n);
	run("both", argv[1], argv[2], f, n);
	free(f);
	return 0;
}
