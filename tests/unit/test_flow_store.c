/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the SQLite flow store: exact round trip of records, every
 * query filter (time, address/CIDR v4 and v6 edges, port, protocol, limit),
 * batching, retention by rows and age, and a SIGKILL in the middle of inserts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "packet_capture.h"
#include "check.h"
#include "export/flow_store.h"
#include "util/clock.h"

static char dir[64];

#define T0 1700000000000000000ull /* 2023-11-14T22:13:20Z in ns */
#define S(x) ((uint64_t)(x)*1000000000ull)
#define NREC 12

static const char *path(const char *name)
{
	static char bufs[4][256];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static void addr(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	if (inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, out) != 1) {
		fprintf(stderr, "bad test address %s\n", s);
		exit(1);
	}
}

/* The reference records; `packets` is the tag that names each one (1..12). */
static struct capture_flow recs[NREC];

static void mk(int tag, const char *src, const char *dst, uint16_t sp, uint16_t dp, uint8_t proto,
	       unsigned first_s, unsigned last_s)
{
	struct capture_flow *f = &recs[tag - 1];

	memset(f, 0, sizeof(*f));
	f->ip_version = strchr(src, ':') ? 6 : 4;
	addr(f->src_ip, src);
	addr(f->dst_ip, dst);
	f->src_port = sp;
	f->dst_port = dp;
	f->proto = proto;
	f->packets = (uint64_t)tag;
	f->bytes = 1000u * (unsigned)tag + 40;
	f->rev_packets = (uint64_t)tag * 2;
	f->rev_bytes = 3000u * (unsigned)tag;
	f->first_ns = T0 + S(first_s) + 123456789u; /* sub-second part kept exactly */
	f->last_ns = T0 + S(last_s) + 987654321u;
	f->fwd_first_ns = f->first_ns;
	f->fwd_last_ns = f->last_ns - 1;
	f->rev_first_ns = f->first_ns + 1000;
	f->rev_last_ns = f->last_ns;
	f->end_reason = (uint8_t)(tag % 6);
	f->worker = (uint16_t)(tag % 3);
	if (proto == 6) {
		f->tcp_flags = 0x1b;
		f->rev_tcp_flags = 0x12;
	}
}

static void make_records(void)
{
	mk(1, "10.0.0.1", "192.168.1.1", 1234, 80, 6, 0, 10);
	mk(2, "10.0.0.2", "10.0.0.255", 5353, 53, 17, 5, 6);
	mk(3, "192.168.1.1", "10.1.0.1", 443, 50000, 6, 20, 30);
	mk(4, "8.8.8.8", "10.0.0.1", 0, 0, 1, 40, 41);
	recs[3].icmp_type = 8;
	recs[3].icmp_code = 0;
	mk(5, "255.255.255.255", "0.0.0.0", 68, 67, 17, 50, 50);
	mk(6, "2001:db8::1", "2001:db8:0:1::5", 1000, 443, 6, 1, 100);
	recs[5].vlan = 4094;
	recs[5].bytes = UINT64_MAX - 5; /* above INT64_MAX: stored bit for bit */
	recs[5].rev_packets = (1ull << 63) + 7;
	mk(7, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1", 40000, 53, 17, 60, 61);
	mk(8, "::ffff:10.0.0.1", "::1", 2000, 80, 6, 70, 71); /* real IPv6, v4-mapped */
	mk(9, "::", "ff02::1", 0, 0, 58, 80, 80);
	recs[8].icmp_type = 135;
	mk(10, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::2", 3000, 80, 17, 90, 95);
	mk(11, "10.255.255.255", "11.0.0.0", 4000, 8080, 6, 95, 96);
	mk(12, "9.255.255.255", "172.16.0.1", 5000, 80, 6, 97, 99);
}

struct got {
	struct capture_flow f[64];
	size_t n;
	int calls;
};

static void collect(void *ctx, const struct capture_flow *r, size_t n)
{
	struct got *g = ctx;
	size_t i;

	g->calls++;
	for (i = 0; i < n && g->n < 64; i++)
		g->f[g->n++] = r[i];
}

static struct capture_query qdef(void)
{
	struct capture_query q = { .sz = sizeof(q), .port = -1, .proto = -1 };

	return q;
}

/* Run @q and compare the tags, in order, with the list (0-terminated). */
static void expect_q(int line, const char *db, const struct capture_query *q, ...)
{
	int want[NREC + 1], nw = 0, t;
	struct got g = { .n = 0 };
	char err[256] = "";
	int64_t r;
	va_list ap;
	size_t i;
	bool ok;

	va_start(ap, q);
	while ((t = va_arg(ap, int)) != 0 && nw < NREC)
		want[nw++] = t;
	va_end(ap);
	r = capture_store_query(db, q, collect, &g, err, sizeof(err));
	ok = r == nw && g.n == (size_t)nw;
	for (i = 0; ok && i < g.n; i++)
		ok = g.f[i].packets == (uint64_t)want[i];
	if (!ok) {
		fprintf(stderr, "line %d: query returned %lld (%s):", line, (long long)r, err);
		for (i = 0; i < g.n; i++)
			fprintf(stderr, " %llu", (unsigned long long)g.f[i].packets);
		fprintf(stderr, "; want");
		for (t = 0; t < nw; t++)
			fprintf(stderr, " %d", want[t]);
		fprintf(stderr, "\n");
		failures++;
	}
}

#define EXPECT_Q(db, q, ...) expect_q(__LINE__, db, q, __VA_ARGS__, 0)

static void expect_ip(int line, const char *db, const char *ip, ...)
{
	struct capture_query q = qdef();
	int want[NREC + 1], nw = 0, t;
	struct got g = { .n = 0 };
	char err[256] = "";
	int64_t r;
	va_list ap;
	size_t i;
	bool ok;

	va_start(ap, ip);
	while ((t = va_arg(ap, int)) != 0 && nw < NREC)
		want[nw++] = t;
	va_end(ap);
	q.ip = ip;
	r = capture_store_query(db, &q, collect, &g, err, sizeof(err));
	ok = r == nw && g.n == (size_t)nw;
	for (i = 0; ok && i < g.n; i++)
		ok = g.f[i].packets == (uint64_t)want[i];
	if (!ok) {
		fprintf(stderr, "line %d: --ip %s returned %lld (%s):", line, ip, (long long)r,
			err);
		for (i = 0; i < g.n; i++)
			fprintf(stderr, " %llu", (unsigned long long)g.f[i].packets);
		fprintf(stderr, "\n");
		failures++;
	}
}

#define EXPECT_IP(db, ip, ...) expect_ip(__LINE__, db, ip, ##__VA_ARGS__, 0)

static void test_cidr_parse(void)
{
	uint8_t lo[16], hi[16], v;
	uint8_t want_lo[16], want_hi[16];

	CHECK(pc_flow_store_parse_cidr("10.0.0.0/8", lo, hi, &v) == 0 && v == 4);
	addr(want_lo, "::ffff:10.0.0.0");
	addr(want_hi, "::ffff:10.255.255.255");
	CHECK(!memcmp(lo, want_lo, 16) && !memcmp(hi, want_hi, 16));
	/* host bits beyond the prefix are ignored */
	CHECK(pc_flow_store_parse_cidr("10.1.2.3/8", lo, hi, &v) == 0);
	CHECK(!memcmp(lo, want_lo, 16) && !memcmp(hi, want_hi, 16));
	CHECK(pc_flow_store_parse_cidr("0.0.0.0/0", lo, hi, &v) == 0 && v == 4);
	addr(want_lo, "::ffff:0.0.0.0");
	addr(want_hi, "::ffff:255.255.255.255");
	CHECK(!memcmp(lo, want_lo, 16) && !memcmp(hi, want_hi, 16));
	CHECK(pc_flow_store_parse_cidr("192.0.2.77", lo, hi, &v) == 0 && !memcmp(lo, hi, 16));
	CHECK(pc_flow_store_parse_cidr("192.0.2.77/32", lo, hi, &v) == 0 && !memcmp(lo, hi, 16));
	CHECK(pc_flow_store_parse_cidr("198.18.0.0/15", lo, hi, &v) == 0);
	addr(want_hi, "::ffff:198.19.255.255");
	CHECK(!memcmp(hi, want_hi, 16));
	CHECK(pc_flow_store_parse_cidr("::/0", lo, hi, &v) == 0 && v == 6);
	memset(want_lo, 0, 16);
	memset(want_hi, 0xff, 16);
	CHECK(!memcmp(lo, want_lo, 16) && !memcmp(hi, want_hi, 16));
	CHECK(pc_flow_store_parse_cidr("2001:db8:1:2:3:4:5:6/64", lo, hi, &v) == 0);
	addr(want_lo, "2001:db8:1:2::");
	addr(want_hi, "2001:db8:1:2:ffff:ffff:ffff:ffff");
	CHECK(!memcmp(lo, want_lo, 16) && !memcmp(hi, want_hi, 16));
	CHECK(pc_flow_store_parse_cidr("2001:db8::/33", lo, hi, &v) == 0);
	addr(want_hi, "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff");
	CHECK(!memcmp(hi, want_hi, 16));
	CHECK(pc_flow_store_parse_cidr("::1/128", lo, hi, &v) == 0 && !memcmp(lo, hi, 16));

	CHECK(pc_flow_store_parse_cidr("10.0.0.0/33", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("::/129", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0.0/", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0.0/-1", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0.0/+8", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0.0/8x", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0.0/8/8", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("host.example", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("/8", lo, hi, &v) == -EINVAL);
	CHECK(pc_flow_store_parse_cidr("10.0.0.0/99999999999999999999", lo, hi, &v) == -EINVAL);
}

static struct pc_flow_store *open_store(const char *name, uint32_t batch, uint32_t commit_ms,
					uint64_t max_rows, uint32_t max_age, uint32_t budget)
{
	struct pc_flow_store_params p = {
		.path = path(name),
		.batch_rows = batch,
		.commit_ms = commit_ms,
		.max_rows = max_rows,
		.max_age_sec = max_age,
		.retain_budget = budget,
	};
	struct pc_flow_store *s = NULL;
	char err[256];
	int rc = pc_flow_store_open(&s, &p, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "open %s: %d %s\n", name, rc, err);
		exit(1);
	}
	return s;
}

static uint64_t rows_of(const char *db)
{
	uint64_t n = 0;
	char err[256];

	if (pc_flow_store_check(db, &n, err, sizeof(err)) != 0) {
		fprintf(stderr, "check %s: %s\n", db, err);
		failures++;
	}
	return n;
}

static void test_queries(void)
{
	struct pc_flow_store *s = open_store("q.db", 5, 3600000, 0, 0, 0);
	struct capture_query q = qdef();
	struct got g = { .n = 0 };
	const char *db = path("q.db");
	char err[256];
	size_t i, j;

	CHECK(pc_flow_store_insert(s, recs, NREC) == NREC);
	CHECK(pc_flow_store_rows(s) == NREC);
	CHECK(pc_flow_store_pending(s) == 2); /* 12 = 2 batches of 5 + 2 open */
	CHECK(pc_flow_store_close(s) == 0);

	/* exact round trip of every field; newest (last_ns) first */
	CHECK(capture_store_query(db, NULL, collect, &g, err, sizeof(err)) == NREC);
	CHECK(g.n == NREC && g.calls == 1);
	for (i = 0; i < g.n; i++) {
		j = g.f[i].packets - 1;
		CHECK(j < NREC && !memcmp(&g.f[i], &recs[j], sizeof(recs[0])));
	}
	EXPECT_Q(db, &q, 6, 12, 11, 10, 9, 8, 7, 5, 4, 3, 1, 2);

	/* time: since = last_ns >= T, until = first_ns <= T (boundaries included) */
	q.since_ns = T0 + S(50) + 987654321u;
	EXPECT_Q(db, &q, 6, 12, 11, 10, 9, 8, 7, 5);
	q.since_ns++;
	EXPECT_Q(db, &q, 6, 12, 11, 10, 9, 8, 7);
	q = qdef();
	q.until_ns = T0 + S(20) + 123456789u;
	EXPECT_Q(db, &q, 6, 3, 1, 2);
	q.until_ns--;
	EXPECT_Q(db, &q, 6, 1, 2);
	q.since_ns = T0 + S(41);
	q.until_ns = T0 + S(61);
	EXPECT_Q(db, &q, 6, 7, 5, 4);

	/* addresses, either side, IPv4 and IPv6 kept apart */
	EXPECT_IP(db, "10.0.0.0/8", 11, 4, 3, 1, 2);
	EXPECT_IP(db, "10.1.2.3/8", 11, 4, 3, 1, 2);
	EXPECT_IP(db, "10.0.0.1", 4, 1);
	EXPECT_IP(db, "10.0.0.1/32", 4, 1);
	EXPECT_IP(db, "10.0.0.0/31", 4, 1);
	EXPECT_IP(db, "10.0.0.0/30", 4, 1, 2);
	EXPECT_IP(db, "10.0.0.255/32", 2);
	EXPECT_IP(db, "11.0.0.0/8", 11);
	EXPECT_IP(db, "9.0.0.0/8", 12);
	EXPECT_IP(db, "0.0.0.0/0", 12, 11, 5, 4, 3, 1, 2);
	EXPECT_IP(db, "0.0.0.0/32", 5);
	EXPECT_IP(db, "255.255.255.255/32", 5);
	EXPECT_IP(db, "128.0.0.0/1", 12, 5, 3, 1);
	EXPECT_IP(db, "192.0.2.1");
	EXPECT_IP(db, "::/0", 6, 10, 9, 8, 7);
	EXPECT_IP(db, "::/128", 9);
	EXPECT_IP(db, "::1", 8);
	EXPECT_IP(db, "::ffff:0:0/96", 8);
	EXPECT_IP(db, "::ffff:10.0.0.1/128", 8);
	EXPECT_IP(db, "2001:db8::/32", 6, 10, 7);
	EXPECT_IP(db, "2001:db8::/64", 6, 10);
	EXPECT_IP(db, "2001:db8:0:1::/64", 6);
	EXPECT_IP(db, "2001:db8::2/128", 10);
	EXPECT_IP(db, "fe80::/10", 7);
	EXPECT_IP(db, "ff00::/8", 10, 9);
	EXPECT_IP(db, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 10);
	EXPECT_IP(db, "8000::/1", 10, 9, 7);

	/* ports, either side; ICMP flows have none (0) */
	q = qdef();
	q.port = 80;
	EXPECT_Q(db, &q, 12, 10, 8, 1);
	q.port = 53;
	EXPECT_Q(db, &q, 7, 2);
	q.port = 0;
	EXPECT_Q(db, &q, 9, 4);
	q.port = 65535;
	EXPECT_Q(db, &q, 0);
	q.port = 50000;
	EXPECT_Q(db, &q, 3);

	q = qdef();
	q.proto = 17;
	EXPECT_Q(db, &q, 10, 7, 5, 2);
	q.proto = 1;
	EXPECT_Q(db, &q, 4);
	q.proto = 58;
	EXPECT_Q(db, &q, 9);
	q.proto = 132;
	EXPECT_Q(db, &q, 0);

	/* limit, alone and after filters */
	q = qdef();
	q.limit = 3;
	EXPECT_Q(db, &q, 6, 12, 11);
	q.proto = 6;
	q.limit = 2;
	EXPECT_Q(db, &q, 6, 12);
	q.limit = 100;
	EXPECT_Q(db, &q, 6, 12, 11, 8, 3, 1);

	/* combined */
	q = qdef();
	q.ip = "10.0.0.0/8";
	q.port = 80;
	q.proto = 6;
	EXPECT_Q(db, &q, 1);
	q.since_ns = T0 + S(11);
	EXPECT_Q(db, &q, 0);

	/* bad queries */
	q = qdef();
	q.port = 65536;
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == -EINVAL);
	CHECK(!strcmp(err, "port 65536 out of range (0..65535)"));
	q = qdef();
	q.proto = 256;
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == -EINVAL);
	q = qdef();
	q.ip = "10.0.0.0/33";
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == -EINVAL);
	CHECK(!strcmp(err, "'10.0.0.0/33' is not an IPv4/IPv6 address or CIDR"));
	q = qdef();
	q.ip = "1.2.3.4' OR 1=1 --"; /* never reaches SQL text anyway */
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == -EINVAL);
	q = qdef();
	q.since_ns = 10;
	q.until_ns = 5;
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == -EINVAL);
	CHECK(!strcmp(err, "since is after until"));
	q = qdef();
	q.sz = 8;
	CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == -EINVAL);
}

static void test_big_result_batches(void)
{
	static struct capture_flow many[1000];
	struct pc_flow_store *s = open_store("many.db", 0, 0, 0, 0, 0);
	struct capture_query q = qdef();
	struct got g = { .n = 0 };
	char err[128];
	size_t i;

	for (i = 0; i < 1000; i++) {
		many[i] = recs[i % NREC];
		many[i].last_ns = T0 + i;
	}
	CHECK(pc_flow_store_insert(s, many, 1000) == 1000);
	CHECK(pc_flow_store_close(s) == 0);
	/* without a callback: only counted */
	CHECK(capture_store_query(path("many.db"), &q, NULL, NULL, err, sizeof(err)) == 1000);
	q.limit = 600;
	CHECK(capture_store_query(path("many.db"), &q, collect, &g, err, sizeof(err)) == 600);
	CHECK(g.calls == 3); /* 256 + 256 + 88 */
	CHECK(g.f[0].last_ns == T0 + 999 && g.f[63].last_ns == T0 + 936);
}

/* The default batch (params 0): one commit per PC_STORE_BATCH_ROWS rows, the
 * rest open until the tick or close; a concurrent reader sees whole batches. */
static void test_default_batch(void)
{
	struct pc_flow_store *s = open_store("d.db", 0, 3600000, 0, 0, 0);
	const char *db = path("d.db");
	struct capture_query q = qdef();
	struct capture_flow chunk[256];
	size_t i, done = 0, total = PC_STORE_BATCH_ROWS + 3;
	char err[128];

	for (i = 0; i < 256; i++) {
		chunk[i] = recs[i % NREC];
		chunk[i].packets = i + 1;
	}
	while (done < total) {
		size_t n = total - done < 256 ? total - done : 256;

		CHECK(pc_flow_store_insert(s, chunk, n) == (int)n);
		done += n;
	}
	CHECK(pc_flow_store_pending(s) == 3);
	CHECK(pc_flow_store_rows(s) == total);
	CHECK(capture_store_query(db, &q, NULL, NULL, err, sizeof(err)) == PC_STORE_BATCH_ROWS);
	CHECK(pc_flow_store_close(s) == 0);
	CHECK(rows_of(db) == total);
}

static void test_batching(void)
{
	struct pc_flow_store *s = open_store("b.db", 4, 3600000, 0, 0, 0);
	const char *db = path("b.db");
	struct capture_query q = qdef();
	char err[128];

	/* a reader sees committed batches only */
	CHECK(pc_flow_store_insert(s, recs, 10) == 10);
	CHECK(pc_flow_store_pending(s) == 2);
	CHECK(capture_store_query(db, &q, NULL, NULL, err, sizeof(err)) == 8);
	/* tick before commit_ms: nothing more committed */
	CHECK(pc_flow_store_tick(s, T0) == 0);
	CHECK(capture_store_query(db, &q, NULL, NULL, err, sizeof(err)) == 8);
	CHECK(pc_flow_store_commit(s) == 2);
	CHECK(pc_flow_store_commit(s) == 0);
	CHECK(capture_store_query(db, &q, NULL, NULL, err, sizeof(err)) == 10);
	CHECK(pc_flow_store_close(s) == 0);

	/* tick commits a batch once it has been open for commit_ms (20 ms
	 * here), never sooner: tick until it does, timing each tick from just
	 * before the insert that opened the batch */
	s = open_store("b.db", 100, 20, 0, 0, 0);
	CHECK(pc_flow_store_rows(s) == 10); /* reopened: appends */
	{
		uint64_t t0 = pc_mono_ns(), dt = 0, early = 0;
		int ticks = 0;

		CHECK(pc_flow_store_insert(s, recs + 10, 2) == 2);
		CHECK(pc_flow_store_pending(s) == 2);
		while (pc_flow_store_pending(s) && dt < 10000000000ull) {
			CHECK(pc_flow_store_tick(s, T0) == 0);
			dt = pc_mono_ns() - t0;
			/* the store's clock has ms steps: 19 ms of ours can read 20 */
			if (pc_flow_store_pending(s) == 0 && dt < 19000000ull)
				early = dt;
			ticks++;
			if (pc_flow_store_pending(s))
				pc_sleep_us(1000);
		}
		CHECK_EQ(pc_flow_store_pending(s), 0); /* committed within 10 s */
		CHECK_EQ(early, 0);		       /* not before 20 ms */
		CHECK(ticks >= 1);
	}
	CHECK(capture_store_query(db, &q, NULL, NULL, err, sizeof(err)) == 12);

	/* graceful close commits the open batch */
	CHECK(pc_flow_store_insert(s, recs, 7) == 7);
	CHECK(capture_store_query(db, &q, NULL, NULL, err, sizeof(err)) == 12);
	CHECK(pc_flow_store_close(s) == 0);
	CHECK(rows_of(db) == 19);
	/* the WAL is checkpointed and removed at close */
	CHECK(access(path("b.db-wal"), F_OK) != 0);

	/* a record that is neither IPv4 nor IPv6 is refused, nothing stored */
	{
		struct capture_flow bad[2];

		bad[0] = recs[0];
		bad[1] = recs[1];
		bad[1].ip_version = 0;
		s = open_store("b.db", 0, 0, 0, 0, 0);
		CHECK(pc_flow_store_insert(s, bad, 2) == -EINVAL);
		CHECK(strstr(pc_flow_store_error(s), "record with IP version 0") != NULL);
		CHECK(pc_flow_store_close(s) == 0);
		CHECK(rows_of(db) == 19);
	}
}

static void test_retention_rows(void)
{
	struct pc_flow_store *s = open_store("r.db", 0, 0, 5, 0, 3);
	struct capture_query q = qdef();
	const char *db = path("r.db");

	CHECK(pc_flow_store_insert(s, recs, NREC) == NREC);
	/* bounded: 3 rows per tick, oldest last_ns first */
	CHECK(pc_flow_store_tick(s, T0) == 3);
	CHECK(pc_flow_store_rows(s) == 9);
	CHECK(pc_flow_store_pending(s) == 0); /* deletions are committed */
	EXPECT_Q(db, &q, 6, 12, 11, 10, 9, 8, 7, 5, 4);
	CHECK(pc_flow_store_tick(s, T0) == 3);
	CHECK(pc_flow_store_tick(s, T0) == 1);
	CHECK(pc_flow_store_tick(s, T0) == 0);
	CHECK(pc_flow_store_rows(s) == 5);
	EXPECT_Q(db, &q, 6, 12, 11, 10, 9);

	/* retain_all at close time has no budget */
	CHECK(pc_flow_store_insert(s, recs, NREC) == NREC);
	CHECK(pc_flow_store_retain_all(s, T0) == 12);
	CHECK(pc_flow_store_rows(s) == 5);
	CHECK(pc_flow_store_close(s) == 0);
	CHECK(rows_of(db) == 5);
	/* the survivors are the 5 newest of 17 rows: tags 6, 6, 12, 12, 11 */
	q.limit = 0;
	{
		struct got g = { .n = 0 };
		char err[64];
		size_t i;

		CHECK(capture_store_query(db, &q, collect, &g, err, sizeof(err)) == 5);
		for (i = 0; i + 1 < g.n; i++)
			CHECK(g.f[i].last_ns >= g.f[i + 1].last_ns);
		CHECK(g.f[4].packets == 11);
	}
}

static void test_retention_age(void)
{
	struct pc_flow_store *s = open_store("a.db", 0, 0, 0, 30, 2);
	struct capture_query q = qdef();
	const char *db = path("a.db");

	CHECK(pc_flow_store_insert(s, recs, NREC) == NREC);
	CHECK(pc_flow_store_commit(s) == NREC);
	/* now = T0+81s: drop last_ns < T0+51s (5 is at T0+50.98: dropped too) */
	CHECK(pc_flow_store_tick(s, T0 + S(81)) == 2);
	CHECK(pc_flow_store_tick(s, T0 + S(81)) == 2);
	CHECK(pc_flow_store_tick(s, T0 + S(81)) == 1);
	CHECK(pc_flow_store_tick(s, T0 + S(81)) == 0);
	EXPECT_Q(db, &q, 6, 12, 11, 10, 9, 8, 7);
	/* exactly at the boundary: last_ns == cutoff is kept */
	CHECK(pc_flow_store_tick(s, recs[6].last_ns + S(30)) == 0);
	CHECK(pc_flow_store_tick(s, recs[6].last_ns + S(30) + 1) == 1);
	CHECK(pc_flow_store_rows(s) == 6);
	CHECK(pc_flow_store_close(s) == 0);
	CHECK(rows_of(db) == 6);

	/* both rules together: age first, then rows */
	s = open_store("a2.db", 0, 0, 3, 30, 100);
	CHECK(pc_flow_store_insert(s, recs, NREC) == NREC);
	CHECK(pc_flow_store_tick(s, T0 + S(81)) == 9);
	CHECK(pc_flow_store_close(s) == 0);
	EXPECT_Q(path("a2.db"), &q, 6, 12, 11);
}

static void test_open_errors(void)
{
	struct pc_flow_store_params p = { .path = NULL };
	struct pc_flow_store *s = NULL;
	struct capture_query q = qdef();
	char err[256];
	FILE *f;

	CHECK(pc_flow_store_open(&s, &p, err, sizeof(err)) == -EINVAL);
	p.path = path("nodir/x.db");
	CHECK(pc_flow_store_open(&s, &p, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "nodir/x.db: No such file or directory") != NULL);
	p.path = dir;
	CHECK(pc_flow_store_open(&s, &p, err, sizeof(err)) == -EISDIR);
	f = fopen(path("text.db"), "w");
	CHECK(f != NULL);
	fputs("this is not an sqlite database, just some text long enough to be looked at\n", f);
	fclose(f);
	p.path = path("text.db");
	CHECK(pc_flow_store_open(&s, &p, err, sizeof(err)) == -CAPTURE_E_DB);
	CHECK(strstr(err, "file is not a database") != NULL);

	CHECK(capture_store_query(path("missing.db"), &q, NULL, NULL, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "missing.db: No such file or directory") != NULL);
	/* a query never creates the file */
	CHECK(access(path("missing.db"), F_OK) != 0);
	CHECK(capture_store_query(dir, &q, NULL, NULL, err, sizeof(err)) == -EISDIR);
	CHECK(capture_store_query(path("text.db"), &q, NULL, NULL, err, sizeof(err)) ==
	      -CAPTURE_E_DB);
	CHECK(strstr(err, "file is not a database") != NULL);
	f = fopen(path("empty.db"), "w");
	fclose(f);
	CHECK(capture_store_query(path("empty.db"), &q, NULL, NULL, err, sizeof(err)) ==
	      -CAPTURE_E_DB);
	CHECK(strstr(err, "empty database, no flows stored") != NULL);
	if (system("command -v sqlite3 >/dev/null 2>&1") == 0) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "sqlite3 %s 'CREATE TABLE t(a)'", path("other.db"));
		CHECK(system(cmd) == 0);
		p.path = path("other.db");
		CHECK(pc_flow_store_open(&s, &p, err, sizeof(err)) == -CAPTURE_E_DB);
		CHECK(strstr(err, "an SQLite database but not a jcap flow store") != NULL);
		CHECK(capture_store_query(path("other.db"), &q, NULL, NULL, err, sizeof(err)) ==
		      -CAPTURE_E_DB);
	}
}

/*
 * A writer killed by SIGKILL in the middle of inserting: the database passes
 * PRAGMA integrity_check and holds exactly the committed batches.
 */
static void test_crash(void)
{
	enum {
		BATCH = 50,
		WAIT_COMMITS = 6
	};
	const char *db = path("crash.db");
	int pfd[2], status, commits = 0;
	uint64_t rows = 0;
	char err[256], c;
	pid_t pid;

	CHECK(pipe(pfd) == 0);
	pid = fork();
	if (pid == 0) {
		struct pc_flow_store *s;
		uint64_t i;

		close(pfd[0]);
		s = open_store("crash.db", BATCH, 3600000, 0, 0, 0);
		for (i = 0;; i++) {
			struct capture_flow f = recs[i % NREC];

			f.last_ns = T0 + i;
			if (pc_flow_store_insert(s, &f, 1) != 1)
				_exit(3);
			if (pc_flow_store_pending(s) == 0 && write(pfd[1], "c", 1) != 1)
				_exit(4);
		}
	}
	CHECK(pid > 0);
	close(pfd[1]);
	while (commits < WAIT_COMMITS && read(pfd[0], &c, 1) == 1)
		commits++;
	/* the child goes on inserting into its next batch: kill it there */
	usleep(2000);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);
	CHECK(commits == WAIT_COMMITS);
	CHECK(access(path("crash.db-wal"), F_OK) == 0); /* it really died mid-flight */
	CHECK(pc_flow_store_check(db, &rows, err, sizeof(err)) == 0);
	CHECK(rows >= (uint64_t)WAIT_COMMITS * BATCH);
	CHECK(rows % BATCH == 0);
	fprintf(stderr, "crash test: %llu rows committed before SIGKILL\n",
		(unsigned long long)rows);
	/* the same through the sqlite3 command, when installed */
	if (system("command -v sqlite3 >/dev/null 2>&1") == 0) {
		char cmd[512], out[128] = "";
		FILE *pp;
		size_t got;

		snprintf(cmd, sizeof(cmd),
			 "sqlite3 %s 'PRAGMA integrity_check' 'SELECT count(*) FROM flows'", db);
		pp = popen(cmd, "r");
		CHECK(pp != NULL);
		if (pp) {
			got = fread(out, 1, sizeof(out) - 1, pp);
			out[got] = 0;
			CHECK(pclose(pp) == 0);
			snprintf(cmd, sizeof(cmd), "ok\n%llu\n", (unsigned long long)rows);
			CHECK(!strcmp(out, cmd));
		}
	}
	/* the store opens again and goes on */
	{
		struct pc_flow_store *s = open_store("crash.db", BATCH, 0, 0, 0, 0);

		CHECK(pc_flow_store_rows(s) == rows);
		CHECK(pc_flow_store_insert(s, recs, 3) == 3);
		CHECK(pc_flow_store_close(s) == 0);
		CHECK(rows_of(db) == rows + 3);
	}
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/pc_store.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_records();
	test_cidr_parse();
	test_queries();
	test_big_result_batches();
	test_batching();
	test_default_batch();
	test_retention_rows();
	test_retention_age();
	test_open_errors();
	test_crash();

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
	return check_finish("unit.flow_store");
}
