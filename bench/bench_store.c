/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow store throughput: rows per second inserted through the sqlite exporter ops (in the
 * export thread's batches, with a tick every 100 ms), then the time of each documented
 * query filter over the result. Usage: bench_store [-n RECORDS] [-b BATCH] [-o DB] [-Q]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export/export.h"
#include "export/flow_store.h"

/* export.c refers to the exporters weakly: pull the sqlite one out of the archive */
const struct pc_exporter_ops *const bench_linked_ops[] = { &pc_exp_sqlite_ops };

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long parse_ul(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "bench_store: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

/* Record @i of a run: 80 % IPv4 (10.0.0.0/8 clients to 198.18.0.0/16 servers), 20 % IPv6,
 * addresses and client ports scattered like real traffic, one flow per millisecond. */
static void make_record(struct capture_flow *f, uint64_t i)
{
	uint32_t a = (uint32_t)i * 2654435761u, b = (uint32_t)(i * 40503u) ^ (a >> 7);

	memset(f, 0, sizeof(*f));
	f->ip_version = (i % 5 == 4) ? 6 : 4;
	if (f->ip_version == 4) {
		f->src_ip[0] = 10;
		f->src_ip[1] = (uint8_t)(a >> 16);
		f->src_ip[2] = (uint8_t)(a >> 8);
		f->src_ip[3] = (uint8_t)a;
		f->dst_ip[0] = 198;
		f->dst_ip[1] = 18;
		f->dst_ip[2] = (uint8_t)(b >> 8);
		f->dst_ip[3] = (uint8_t)b;
	} else {
		f->src_ip[0] = 0x20;
		f->src_ip[1] = 0x01;
		f->src_ip[2] = 0x0d;
		f->src_ip[3] = 0xb8;
		memcpy(f->src_ip + 12, &a, 4);
		memcpy(f->dst_ip, f->src_ip, 8);
		memcpy(f->dst_ip + 12, &b, 4);
	}
	f->proto = (i % 4 == 0) ? 17 : 6;
	f->src_port = (uint16_t)(1024 + (a >> 18) % 64000);
	f->dst_port = (i % 4 == 0) ? 53 : (i % 7 == 0) ? 80 : 443;
	f->tcp_flags = f->proto == 6 ? 0x1b : 0;
	f->rev_tcp_flags = f->proto == 6 ? 0x13 : 0;
	f->end_reason = CAPTURE_END_IDLE;
	f->packets = 1 + (a & 63);
	f->bytes = f->packets * 400;
	if (i % 4 != 3) {
		f->rev_packets = 1 + ((a >> 6) & 63);
		f->rev_bytes = f->rev_packets * 900;
	}
	f->first_ns = 1700000000000000000ull + i * 1000000ull;
	f->last_ns = f->first_ns + (uint64_t)(a % 5000) * 1000000ull;
	f->fwd_first_ns = f->first_ns;
	f->fwd_last_ns = f->last_ns;
	f->rev_first_ns = f->rev_packets ? f->first_ns + 1000 : 0;
	f->rev_last_ns = f->rev_packets ? f->last_ns : 0;
}

static void count_fn(void *ctx, const struct capture_flow *f, size_t n)
{
	(void)f;
	*(size_t *)ctx += n;
}

static void query(const char *db, const char *label, const struct capture_query *q)
{
	char err[512];
	size_t got = 0;
	double t0, t1;
	int64_t n;
	int k, reps = 5;

	t0 = now_s(CLOCK_MONOTONIC);
	for (k = 0; k < reps; k++) {
		got = 0;
		n = pc_flow_store_query(db, q, count_fn, &got, err, sizeof(err));
		if (n < 0) {
			fprintf(stderr, "bench_store: %s: %s\n", label, err);
			exit(1);
		}
	}
	t1 = now_s(CLOCK_MONOTONIC);
	printf("query %-28s rows=%zu ms=%.2f\n", label, got, (t1 - t0) / reps * 1e3);
}

int main(int argc, char **argv)
{
	size_t total = 500000, batch = 256, done = 0;
	const char *db = "/tmp/bench_store.db";
	struct capture_export_opts o;
	struct pc_export_target t;
	struct pc_exporter *e = NULL;
	struct capture_flow *recs;
	char err[512], wal[4200];
	double w0, c0, w1, c1, last_tick;
	int opt, rc, queries = 1;

	while ((opt = getopt(argc, argv, "n:b:o:Q")) != -1) {
		switch (opt) {
		case 'n':
			total = parse_ul(optarg, "record count");
			break;
		case 'b':
			batch = parse_ul(optarg, "batch");
			break;
		case 'o':
			db = optarg;
			break;
		case 'Q':
			queries = 0;
			break;
		default:
			fprintf(stderr,
				"usage: bench_store [-n RECORDS] [-b BATCH] [-o DB] [-Q: no queries]\n");
			return 2;
		}
	}
	if (!batch)
		batch = 1;
	unlink(db);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", db);
	unlink(wal);
	recs = calloc(batch, sizeof(*recs));
	if (!recs)
		return 1;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	snprintf(wal, sizeof(wal), "sqlite:%s", db);
	rc = pc_export_parse(wal, &o, &t, err, sizeof(err));
	if (!rc)
		rc = pc_exporter_create(&e, &t, NULL, NULL, 0, NULL, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	w0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	last_tick = w0;
	while (done < total) {
		size_t n = batch, k;
		double w;

		if (n > total - done)
			n = total - done;
		for (k = 0; k < n; k++)
			make_record(&recs[k], done + k);
		if (e->ops->write(e, recs, n) != (int)n) {
			fprintf(stderr, "bench_store: write failed\n");
			return 1;
		}
		done += n;
		w = now_s(CLOCK_MONOTONIC);
		if (w - last_tick >= 0.1) {
			e->ops->tick(e, (uint64_t)time(NULL) * 1000000000ull);
			last_tick = w;
		}
	}
	pc_exporter_close(e);
	c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	w1 = now_s(CLOCK_MONOTONIC);
	printf("insert records=%zu batch=%zu errors=%llu wall_s=%.3f cpu_s=%.3f rows_per_s=%.0f\n",
	       total, batch, (unsigned long long)atomic_load(&e->cnt.errors), w1 - w0, c1 - c0,
	       (double)total / (w1 - w0));
	pc_exporter_destroy(e);
	free(recs);

	if (queries) {
		uint64_t mid = 1700000000000000000ull + total / 2 * 1000000ull;
		struct capture_query q = { .sz = sizeof(q), .port = -1, .proto = -1 };

		q.since_ns = 1700000000000000000ull + (total - total / 100) * 1000000ull;
		query(db, "--since (newest 1%)", &q);
		q.since_ns = 0;
		q.until_ns = 1700000000000000000ull + total / 100 * 1000000ull;
		query(db, "--until (oldest 1%)", &q);
		q.since_ns = mid;
		q.until_ns = mid + 1000000000ull;
		query(db, "--since/--until (1 s)", &q);
		q.since_ns = q.until_ns = 0;
		q.ip = "10.1.2.0/24";
		query(db, "--ip 10.1.2.0/24", &q);
		q.ip = "198.18.3.4";
		query(db, "--ip 198.18.3.4", &q);
		q.ip = "2001:db8::/32";
		q.limit = 100;
		query(db, "--ip 2001:db8::/32 --limit 100", &q);
		q.ip = NULL;
		q.limit = 0;
		q.port = 1500;
		query(db, "--port 1500", &q);
		q.port = 80;
		q.limit = 100;
		query(db, "--port 80 --limit 100", &q);
		q.port = -1;
		q.proto = 17;
		query(db, "--proto udp --limit 100", &q);
	}
	return 0;
}
