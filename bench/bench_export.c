/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Export throughput: flow records per second encoded and sent over loopback UDP (full
 * datagrams, sendmmsg) by the IPFIX, NetFlow v9 and v5 exporters, on one core, in the
 * batches the export thread uses. Also IPFIX to a file on /dev/null (encoding alone).
 * Usage: bench_export [-n RECORDS] [-b BATCH] [-m MTU] [-k ipfix,ipfix-uni,v9,v5,ipfix-file]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "export/export.h"

/* export.c refers to the exporters weakly; these strong references pull them out of a
 * static library. */
const struct pc_exporter_ops *const bench_linked_ops[] = {
	&pc_exp_netflow5_ops,
	&pc_exp_netflow9_ops,
	&pc_exp_ipfix_ops,
};

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
		fprintf(stderr, "bench_export: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

/* 4096 varied records: 80 % IPv4, 20 % IPv6, three quarters two-way. */
static struct capture_flow *make_records(size_t n)
{
	struct capture_flow *r = calloc(n, sizeof(*r));
	size_t i;

	if (!r)
		exit(1);
	for (i = 0; i < n; i++) {
		struct capture_flow *f = &r[i];
		uint32_t a = (uint32_t)i * 2654435761u;

		f->ip_version = (i % 5 == 4) ? 6 : 4;
		if (f->ip_version == 4) {
			f->src_ip[0] = 198;
			f->src_ip[1] = 18;
			f->src_ip[2] = (uint8_t)(a >> 8);
			f->src_ip[3] = (uint8_t)a;
			f->dst_ip[0] = 198;
			f->dst_ip[1] = 19;
			f->dst_ip[3] = (uint8_t)(a >> 16);
		} else {
			f->src_ip[0] = 0x20;
			f->src_ip[1] = 0x01;
			f->src_ip[3] = 2;
			memcpy(f->src_ip + 12, &a, 4);
			memcpy(f->dst_ip, f->src_ip, 12);
			f->dst_ip[15] = 1;
		}
		f->proto = (i % 4 == 0) ? 17 : 6;
		f->src_port = (uint16_t)(1024 + (a >> 20));
		f->dst_port = (i % 4 == 0) ? 53 : 443;
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
		f->last_ns = f->first_ns + 5000000000ull;
		f->fwd_first_ns = f->first_ns;
		f->fwd_last_ns = f->last_ns;
		f->rev_first_ns = f->rev_packets ? f->first_ns + 1000 : 0;
		f->rev_last_ns = f->rev_packets ? f->last_ns : 0;
	}
	return r;
}

static uint64_t rate_records; /* -r: UDP pacing, records/s (0: unpaced) */
static uint32_t fields;	      /* -f: --fields all (IPFIX under PEN 32473) */

static int run(const char *label, const char *spec, bool uniflow, uint32_t mtu,
	       const struct capture_flow *recs, size_t nrecs, size_t total, size_t batch)
{
	struct capture_export_opts o;
	struct pc_export_target t;
	struct pc_exporter *e = NULL;
	char err[512];
	double w0, c0, w1, c1;
	size_t done = 0, off = 0;
	uint64_t msgs, errs;
	int rc;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.mtu = mtu;
	o.uniflow = uniflow;
	o.template_refresh_sec = 60;
	o.rate_records = rate_records ? rate_records : CAPTURE_EXPORT_UNPACED;
	o.fields = fields;
	o.ipfix_pen = 32473;
	rc = pc_export_parse(spec, &o, &t, err, sizeof(err));
	if (!rc)
		rc = pc_exporter_create(&e, &t, NULL, NULL, 0, NULL, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "bench_export: %s\n", err);
		return 1;
	}
	w0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	while (done < total) {
		size_t n = batch;

		if (n > total - done)
			n = total - done;
		if (off + n > nrecs)
			off = 0;
		e->ops->write(e, recs + off, n);
		off += n;
		done += n;
	}
	if (e->ops->flush)
		e->ops->flush(e);
	c1 = now_s(CLOCK_THREAD_CPUTIME_ID);
	w1 = now_s(CLOCK_MONOTONIC);
	msgs = atomic_load(&e->cnt.messages);
	errs = atomic_load(&e->cnt.errors);
	printf("%-11s records=%zu messages=%llu errors=%llu wall_s=%.3f cpu_s=%.3f "
	       "Mrec_per_s=%.2f Mrec_per_cpu_s=%.2f bytes_per_msg=%u\n",
	       label, total, (unsigned long long)msgs, (unsigned long long)errs, w1 - w0, c1 - c0,
	       (double)total / (w1 - w0) / 1e6, (double)total / (c1 - c0) / 1e6, mtu);
	pc_exporter_destroy(e);
	return errs ? 1 : 0;
}

int main(int argc, char **argv)
{
	size_t total = 5000000, batch = 256, nrecs = 4096;
	uint32_t mtu = 1400;
	const char *kinds = "ipfix,ipfix-uni,v9,v5,ipfix-file";
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char spec[128];
	struct capture_flow *recs;
	int opt, fd, sz = 64 << 20, rc = 0;

	while ((opt = getopt(argc, argv, "n:b:m:k:r:f")) != -1) {
		switch (opt) {
		case 'n':
			total = parse_ul(optarg, "record count");
			break;
		case 'b':
			batch = parse_ul(optarg, "batch");
			break;
		case 'm':
			mtu = (uint32_t)parse_ul(optarg, "mtu");
			break;
		case 'k':
			kinds = optarg;
			break;
		case 'r':
			rate_records = parse_ul(optarg, "rate");
			break;
		case 'f':
			fields = CAPTURE_FIELD_ALL;
			break;
		default:
			fprintf(stderr,
				"usage: bench_export [-n RECORDS] [-b BATCH] [-m MTU] "
				"[-k ipfix,ipfix-uni,v9,v5,ipfix-file] [-r RECORDS_PER_S] [-f]\n");
			return 2;
		}
	}
	if (!batch)
		batch = 1;
	recs = make_records(nrecs);
	/* A bound receiver that is never read: the kernel delivers (or drops, once its
	 * buffer is full) every datagram, so the sender pays the whole loopback path. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		perror("bench_export: receiver");
		return 1;
	}
	for (const char *k = kinds; *k;) {
		size_t l = strcspn(k, ",");
		char name[32];

		snprintf(name, sizeof(name), "%.*s", (int)l, k);
		k += l + (k[l] == ',');
		if (!strcmp(name, "ipfix-file")) {
			rc |= run(name, "ipfix-file:/dev/null", false, mtu, recs, nrecs, total,
				  batch);
			continue;
		}
		if (!strcmp(name, "ipfix") || !strcmp(name, "ipfix-uni"))
			snprintf(spec, sizeof(spec), "ipfix://127.0.0.1:%u", ntohs(a.sin_port));
		else if (!strcmp(name, "v9"))
			snprintf(spec, sizeof(spec), "netflow9://127.0.0.1:%u", ntohs(a.sin_port));
		else if (!strcmp(name, "v5"))
			snprintf(spec, sizeof(spec), "netflow5://127.0.0.1:%u", ntohs(a.sin_port));
		else {
			fprintf(stderr, "bench_export: unknown kind '%s'\n", name);
			return 2;
		}
		rc |= run(name, spec, !strcmp(name, "ipfix-uni"), mtu, recs, nrecs, total, batch);
	}
	close(fd);
	free(recs);
	return rc;
}
