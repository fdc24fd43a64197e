/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * unit.core: error/name tables, export target parsing, the JSON record,
 * the SPSC ring, configuration checks and one session through the public API
 * on a pcap written here.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packet_capture.h"
#include "util/ring.h"
#include "capture/capture.h"
#include "export/export.h"

#include "check.h"

static void test_names(void)
{
	CHECK_STR(capture_strerror(-CAPTURE_E_FILTER), "invalid filter expression");
	CHECK_STR(capture_strerror(CAPTURE_E_WRONG_KEY), "data was encrypted under another key");
	CHECK_STR(capture_strerror(-ENOENT), "No such file or directory");
	CHECK_STR(capture_strerror(0), "success");
	CHECK_STR(capture_end_reason_name(CAPTURE_END_IDLE), "idle");
	CHECK_STR(capture_end_reason_name(CAPTURE_END_END), "end");
	CHECK_STR(capture_end_reason_name(CAPTURE_END_EVICTED), "evicted");
	CHECK_STR(capture_end_reason_name(CAPTURE_END_SHUTDOWN), "shutdown");
	CHECK_STR(capture_end_reason_name(99), "unknown");
	CHECK_STR(capture_skip_name(CAPTURE_SKIP_NON_IP), "non_ip");
	CHECK_STR(capture_skip_name(CAPTURE_SKIP_FRAGMENT_UNMATCHED), "fragment_unmatched");
	CHECK(capture_skip_name(CAPTURE_SKIP_COUNT) == NULL);
	CHECK(CAPTURE_SKIP_COUNT <= CAPTURE_SKIP_MAX);
}

static void test_targets(void)
{
	struct pc_export_target t;
	struct capture_export_opts o = { .sz = sizeof(o), .observation_domain = 7, .mtu = 1200 };
	char err[512];

	CHECK(pc_export_parse("ipfix://127.0.0.1:4739", &o, &t, err, sizeof(err)) == 0);
	CHECK(t.kind == PC_EXP_IPFIX && t.nf.transport == CAPTURE_TRANSPORT_UDP);
	CHECK_STR(t.host, "127.0.0.1");
	CHECK(t.port == 4739 && t.nf.version == 10 && t.nf.observation_domain == 7 &&
	      t.nf.mtu == 1200);
	CHECK(pc_export_parse("ipfix+tcp://[::1]:9995", NULL, &t, err, sizeof(err)) == 0);
	CHECK(t.kind == PC_EXP_IPFIX && t.nf.transport == CAPTURE_TRANSPORT_TCP);
	CHECK_STR(t.host, "::1");
	CHECK(t.port == 9995);
	CHECK(pc_export_parse("netflow5://collector.example", NULL, &t, err, sizeof(err)) == 0);
	CHECK(t.kind == PC_EXP_NETFLOW5 && t.port == 2055 && t.nf.version == 5);
	CHECK(pc_export_parse("netflow9://10.0.0.1:2056", NULL, &t, err, sizeof(err)) == 0);
	CHECK(t.kind == PC_EXP_NETFLOW9 && t.port == 2056);
	CHECK(pc_export_parse("ipfix-file:/tmp/x.ipfix", NULL, &t, err, sizeof(err)) == 0);
	CHECK(t.nf.transport == CAPTURE_TRANSPORT_FILE);
	CHECK_STR(t.path, "/tmp/x.ipfix");
	CHECK(pc_export_parse("json:-", NULL, &t, err, sizeof(err)) == 0 && t.kind == PC_EXP_JSON);
	CHECK(pc_export_parse("sqlite:flows.db", NULL, &t, err, sizeof(err)) == 0 &&
	      t.kind == PC_EXP_SQLITE);

	CHECK(pc_export_parse("ipfix://::1:4739", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'ipfix://::1:4739': IPv6 addresses must be written "
		       "in brackets: [::1]:4739");
	CHECK(pc_export_parse("ipfix://host:99999", NULL, &t, err, sizeof(err)) ==
	      -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'ipfix://host:99999': port must be a number from 1 "
		       "to 65535");
	CHECK(pc_export_parse("ipfix://:4739", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'ipfix://:4739': missing host");
	/* found by fuzz.export_target: a host "[" that could not be written back */
	CHECK(pc_export_parse("ipfix://[[]", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'ipfix://[[]': '[' or ']' inside the host");
	CHECK(pc_export_parse("ipfix://[host]:4739", NULL, &t, err, sizeof(err)) ==
	      -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'ipfix://[host]:4739': brackets are for IPv6 "
		       "addresses only");
	/* a port is digits only: no sign, no blank (strtoul alone takes them) */
	CHECK(pc_export_parse("ipfix://h:+5", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK(pc_export_parse("ipfix://h: 5", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK(pc_export_parse("ipfix://h:-18446744073709551615", NULL, &t, err, sizeof(err)) ==
	      -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'ipfix://h:-18446744073709551615': port must be a "
		       "number from 1 to 65535");
	CHECK(pc_export_parse("json:", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'json:': missing path");
	CHECK(pc_export_parse("mqtt://x:1", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK(strstr(err, "unknown kind") != NULL);
	/* Kafka, ClickHouse: hosts, name, then the query and the caller's props */
	{
		struct capture_export_opts xo = { .sz = sizeof(xo),
						  .props =
							  "kafka.linger.ms=5\nclickhouse.batch=9" };

		CHECK(pc_export_parse("kafka://a:1,[::1]:2/flows?key=none", &xo, &t, err,
				      sizeof(err)) == 0);
		CHECK(t.kind == PC_EXP_KAFKA && t.opts.props == NULL);
		CHECK_STR(t.host, "a:1,[::1]:2");
		CHECK_STR(t.path, "flows");
		CHECK_STR(t.props, "key=none\nkafka.linger.ms=5\n");
		CHECK(pc_export_parse("clickhouse://ch/db.t?batch=5", &xo, &t, err, sizeof(err)) ==
		      0);
		CHECK(t.kind == PC_EXP_CLICKHOUSE && t.port == 8123);
		CHECK_STR(t.host, "ch");
		CHECK_STR(t.path, "db.t");
		CHECK_STR(t.props, "batch=5\nclickhouse.batch=9\n");
	}
	CHECK(pc_export_parse("kafka://a:1", NULL, &t, err, sizeof(err)) == -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export target 'kafka://a:1': want HOST:PORT/NAME");
	CHECK(pc_export_parse("kafka://a:1/t?linger", NULL, &t, err, sizeof(err)) ==
	      -CAPTURE_E_TARGET);
	CHECK_STR(err, "invalid export setting 'linger': want KEY=VALUE");
	CHECK(pc_export_parse("clickhouse://ch/t", NULL, &t, err, sizeof(err)) ==
	      -CAPTURE_E_TARGET);
	CHECK(strstr(err, "want clickhouse://HOST:PORT/DB.TABLE") != NULL);
}

static void test_json(void)
{
	struct capture_flow f;
	char buf[1024];
	int n;

	memset(&f, 0, sizeof(f));
	f.ip_version = 4;
	f.src_ip[0] = 198, f.src_ip[1] = 18, f.src_ip[3] = 1;
	f.dst_ip[0] = 198, f.dst_ip[1] = 19, f.dst_ip[2] = 255, f.dst_ip[3] = 254;
	f.src_port = 40000;
	f.dst_port = 443;
	f.proto = 6;
	f.vlan = 4094;
	f.packets = 18446744073709551615ull; /* 2^64 - 1 stays exact */
	f.bytes = 1;
	f.rev_packets = 0;
	f.rev_bytes = 9007199254740993ull; /* 2^53 + 1: beyond a double */
	f.tcp_flags = 0x1b;
	f.rev_tcp_flags = 0x12;
	f.first_ns = 1700000000123456789ull;
	f.last_ns = 1700000001000000000ull;
	f.end_reason = CAPTURE_END_EVICTED;
	f.worker = 12;
	n = capture_flow_to_json(&f, buf, sizeof(buf));
	CHECK(n == (int)strlen(buf));
	CHECK_STR(buf,
		  "{\"src_ip\":\"198.18.0.1\",\"dst_ip\":\"198.19.255.254\",\"src_port\":40000,"
		  "\"dst_port\":443,\"proto\":6,\"ip_version\":4,\"vlan\":4094,"
		  "\"packets\":18446744073709551615,\"bytes\":1,\"rev_packets\":0,"
		  "\"rev_bytes\":9007199254740993,\"tcp_flags\":27,\"rev_tcp_flags\":18,"
		  "\"first_ns\":1700000000123456789,\"last_ns\":1700000001000000000,"
		  "\"icmp_type\":0,\"icmp_code\":0,\"end_reason\":\"evicted\",\"worker\":12,"
		  "\"community_id\":\"1:Pqgx/mCHbXw/QvlbcNs9IAh/ntU=\",\"interface\":0,\"tos\":0,"
		  "\"dscp\":0,\"min_ttl\":0,\"max_ttl\":0,\"payload_bytes\":0,"
		  "\"rev_payload_bytes\":0}");
	memset(&f, 0, sizeof(f));
	f.ip_version = 6;
	f.src_ip[0] = 0x20, f.src_ip[1] = 0x01, f.src_ip[2] = 0x0d, f.src_ip[3] = 0xb8;
	f.src_ip[15] = 1;
	f.dst_ip[15] = 1; /* ::1 */
	f.proto = 58;
	f.icmp_type = 128;
	f.end_reason = CAPTURE_END_SHUTDOWN;
	CHECK(capture_flow_to_json(&f, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"src_ip\":\"2001:db8::1\",\"dst_ip\":\"::1\"") != NULL);
	CHECK(strstr(buf, "\"icmp_type\":128,\"icmp_code\":0,\"end_reason\":\"shutdown\"") != NULL);
	CHECK(capture_flow_to_json(&f, buf, 40) == -ENOSPC);
}

static void test_ring(void)
{
	struct pc_ring r;
	uint64_t v, out[64];
	size_t n, total = 0, next = 0;
	uint64_t i;

	CHECK(pc_ring_init(&r, 20, sizeof(uint64_t)) == 0); /* rounds up to 32 */
	for (i = 0; i < 32; i++) {
		uint64_t *e = pc_ring_reserve(&r); /* built in place, then committed */

		CHECK(e != NULL);
		*e = i;
		pc_ring_commit(&r);
	}
	v = 99;
	CHECK(pc_ring_reserve(&r) == NULL); /* full: no slot, nothing overwritten */
	CHECK(pc_ring_push_n(&r, &v, 1) == 0);
	n = pc_ring_pop(&r, out, 10);
	CHECK(n == 10 && out[0] == 0 && out[9] == 9);
	{
		uint64_t batch[16];

		for (i = 0; i < 16; i++)
			batch[i] = 32 + i;
		CHECK(pc_ring_push_n(&r, batch, 16) == 10); /* room for 10 */
	}
	next = 10;
	while ((n = pc_ring_pop(&r, out, 64)) > 0) {
		for (i = 0; i < n; i++)
			CHECK(out[i] == next + i);
		next += n;
		total += n;
	}
	CHECK(total == 32 && next == 42);
	CHECK(pc_ring_empty(&r));
	/* read in place: head and tail at 42 (slot 10), so 30 written elements
	 * run to the end of the array (22) and wrap (8); a peek stops at the end */
	for (i = 0; i < 30; i++) {
		uint64_t *e = pc_ring_reserve(&r);

		CHECK(e != NULL);
		*e = 100 + i;
		pc_ring_commit(&r);
	}
	{
		void *first;
		uint64_t *p;

		n = pc_ring_peek(&r, &first, 64);
		p = first;
		CHECK(n == 22 && p[0] == 100 && p[21] == 121);
		CHECK(pc_ring_reserve(&r) != NULL); /* 2 free: peeked slots are not free */
		pc_ring_advance(&r, 5);		    /* part of a peek can be given back */
		n = pc_ring_peek(&r, &first, 64);
		p = first;
		CHECK(n == 17 && p[0] == 105);
		pc_ring_advance(&r, n);
		n = pc_ring_peek(&r, &first, 3); /* at most @max */
		p = first;
		CHECK(n == 3 && p[0] == 122 && p[2] == 124);
		pc_ring_advance(&r, n);
		n = pc_ring_peek(&r, &first, 64);
		p = first;
		CHECK(n == 5 && p[4] == 129);
		pc_ring_advance(&r, n);
		CHECK(pc_ring_peek(&r, &first, 64) == 0 && pc_ring_empty(&r));
	}
	pc_ring_release(&r);
}

static void test_config_checks(void)
{
	struct capture_config cfg;
	struct capture *c = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.sz = sizeof(cfg);
	CHECK(capture_init(&c, &cfg) == -CAPTURE_E_CONFIG);
	CHECK_STR(capture_last_error(NULL), "give exactly one of an interface or a pcap file");
	cfg.pcap_file = "x.pcap";
	cfg.workers = 65;
	CHECK(capture_init(&c, &cfg) == -CAPTURE_E_CONFIG);
	CHECK_STR(capture_last_error(NULL), "workers must be 1..64");
	cfg.workers = 1;
	cfg.buffer_size_mb = 4096;
	CHECK(capture_init(&c, &cfg) == -CAPTURE_E_CONFIG);
	CHECK_STR(capture_last_error(NULL), "buffer_size_mb 4096 out of range (64..2048)");
	cfg.buffer_size_mb = 0;
	cfg.backend = "dpdk2";
	CHECK(capture_init(&c, &cfg) == -CAPTURE_E_CONFIG);
	/* the names come from the registry, in its (preference) order */
	CHECK_STR(
		capture_last_error(NULL),
		(pc_capture_find("dpdk")->flags & PC_CAP_F_PLACEHOLDER)
			? "unknown backend 'dpdk2' (auto, afxdp, ebpf, afpacket, pcap, file)"
			: "unknown backend 'dpdk2' (auto, dpdk, afxdp, ebpf, afpacket, pcap, file)");
	cfg.backend = NULL;
	cfg.filter = "tcp port";
	CHECK(capture_init(&c, &cfg) == -CAPTURE_E_FILTER);
	CHECK(strstr(capture_last_error(NULL), "invalid filter 'tcp port': ") ==
	      capture_last_error(NULL));
	CHECK(strstr(capture_last_error(NULL), "syntax error") != NULL);
	cfg.filter = NULL;
	CHECK(capture_init(&c, &cfg) == 0);
	{
		struct capture_flow_config fc = { .sz = sizeof(fc), .table_size = 100 };

		CHECK(capture_flow_enable(c, &fc) == -CAPTURE_E_CONFIG);
		CHECK_STR(capture_last_error(c), "table_size 100 out of range (4096..16777216)");
	}
	CHECK(capture_stop(c, true) == -CAPTURE_E_STATE);
	CHECK_STR(capture_last_error(c), "capture is not running");
	CHECK(capture_export_add(c, "ipfix://a:b", NULL) == -CAPTURE_E_TARGET);
	capture_destroy(c);
	capture_destroy(NULL);
}

/* Size-versioned structs from a newer header: zero bytes past what the
 * library knows are accepted, a set one is refused with a message. */
static void test_versioned_structs(void)
{
	struct {
		struct capture_flow_config fc;
		uint8_t newer[16];
	} big;
	struct {
		struct capture_config cfg;
		uint64_t newer;
	} bigc;
	struct capture *c = NULL;
	char want[160];

	memset(&bigc, 0, sizeof(bigc));
	bigc.cfg.sz = sizeof(bigc);
	bigc.cfg.pcap_file = "x.pcap";
	bigc.newer = 1;
	CHECK(capture_init(&c, &bigc.cfg) == -CAPTURE_E_CONFIG);
	snprintf(want, sizeof(want),
		 "capture_config: unknown options set (size %zu; this library knows %zu bytes)",
		 sizeof(bigc), sizeof(struct capture_config));
	CHECK_STR(capture_last_error(NULL), want);
	bigc.newer = 0;
	CHECK(capture_init(&c, &bigc.cfg) == 0);

	memset(&big, 0, sizeof(big));
	big.fc.sz = sizeof(big);
	big.fc.table_size = 8192;
	CHECK(capture_flow_enable(c, &big.fc) == 0);
	big.newer[15] = 0x80;
	CHECK(capture_flow_enable(c, &big.fc) == -CAPTURE_E_CONFIG);
	snprintf(want, sizeof(want),
		 "capture_flow_config: unknown options set (size %zu; this library knows %zu "
		 "bytes)",
		 sizeof(big), sizeof(struct capture_flow_config));
	CHECK_STR(capture_last_error(c), want);
	/* an older caller: the fields it lacks take their defaults */
	{
		struct capture_flow_config old = { .sz = offsetof(struct capture_flow_config,
								  table_size) };

		CHECK(capture_flow_enable(c, &old) == 0);
	}
	capture_destroy(c);

	CHECK_STR(capture_cipher_name(CAPTURE_CIPHER_AES_256_GCM), "aes-256-gcm");
	CHECK_STR(capture_cipher_name(CAPTURE_CIPHER_AES_128_GCM), "aes-128-gcm");
	CHECK_STR(capture_cipher_name(CAPTURE_CIPHER_CHACHA20_POLY1305), "chacha20-poly1305");
	CHECK(capture_cipher_name(3) == NULL);
	CHECK(capture_cipher_name(-1) == NULL);
	CHECK(capture_cipher_from_name("chacha20-poly1305") == CAPTURE_CIPHER_CHACHA20_POLY1305);
	CHECK(capture_cipher_from_name("aes-256-gcm") == CAPTURE_CIPHER_AES_256_GCM);
	CHECK(capture_cipher_from_name("AES-256-GCM") == -CAPTURE_E_CONFIG);
	CHECK(capture_cipher_from_name(NULL) == -CAPTURE_E_CONFIG);
}

/* A pcap with 5 packets: TCP SYN, SYN-ACK (one flow), a UDP packet, an ARP
 * frame (non_ip) and an Ethernet frame cut inside its IPv4 header. */
static const uint8_t pcap_hdr[24] = {
	0xd4, 0xc3, 0xb2, 0xa1, 2,    0,    4, 0, 0, 0, 0, 0,
	0,    0,    0,	  0,	0xff, 0xff, 0, 0, 1, 0, 0, 0, /* snaplen 65535, Ethernet */
};

static size_t frame_ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, uint16_t sp,
			 uint16_t dp, uint8_t flags)
{
	size_t l4 = proto == 6 ? 20 : 8;
	uint16_t tot = (uint16_t)(20 + l4);

	memset(p, 0, 14 + tot);
	p[12] = 0x08; /* ethertype IPv4 */
	p[14] = 0x45;
	p[16] = (uint8_t)(tot >> 8);
	p[17] = (uint8_t)tot;
	p[22] = 64;
	p[23] = proto;
	p[26] = (uint8_t)(src >> 24), p[27] = (uint8_t)(src >> 16), p[28] = (uint8_t)(src >> 8);
	p[29] = (uint8_t)src;
	p[30] = (uint8_t)(dst >> 24), p[31] = (uint8_t)(dst >> 16), p[32] = (uint8_t)(dst >> 8);
	p[33] = (uint8_t)dst;
	p[34] = (uint8_t)(sp >> 8), p[35] = (uint8_t)sp;
	p[36] = (uint8_t)(dp >> 8), p[37] = (uint8_t)dp;
	if (proto == 6) {
		p[46] = 0x50;
		p[47] = flags;
	} else {
		p[38] = 0, p[39] = 8;
	}
	return 14 + tot;
}

static void put_rec(FILE *fp, uint32_t sec, const uint8_t *p, uint32_t caplen, uint32_t len)
{
	uint32_t h[4] = { sec, 0, caplen, len };

	fwrite(h, 4, 4, fp);
	fwrite(p, 1, caplen, fp);
}

struct got {
	struct capture_flow r[8];
	size_t n;
};

static void on_flows(void *ctx, const struct capture_flow *recs, size_t n)
{
	struct got *g = ctx;
	size_t i;

	for (i = 0; i < n && g->n < 8; i++)
		g->r[g->n++] = recs[i];
}

static void test_session(void)
{
	char path[] = "/tmp/unit_core_XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
	uint8_t p[128];
	size_t n;
	struct capture_config cfg;
	struct capture_flow_config fc = { .sz = sizeof(fc) };
	struct capture_stats st = { .sz = sizeof(st) };
	struct capture_status ss = { .sz = sizeof(ss) };
	struct capture *c;
	struct got g = { .n = 0 };
	int rc, i;
	uint64_t skipped = 0;

	if (!fp) {
		CHECK(!"cannot create a temporary pcap");
		return;
	}
	fwrite(pcap_hdr, 1, sizeof(pcap_hdr), fp);
	n = frame_ipv4(p, 0xc6120001, 0xc6130001, 6, 1024, 80, 0x02);
	put_rec(fp, 100, p, (uint32_t)n, (uint32_t)n);
	n = frame_ipv4(p, 0xc6130001, 0xc6120001, 6, 80, 1024, 0x12);
	put_rec(fp, 101, p, (uint32_t)n, (uint32_t)n);
	n = frame_ipv4(p, 0xc6120002, 0xc6130002, 17, 5353, 53, 0);
	put_rec(fp, 102, p, (uint32_t)n, (uint32_t)n);
	memset(p, 0, 60);
	p[12] = 0x08, p[13] = 0x06; /* ARP */
	put_rec(fp, 103, p, 60, 60);
	n = frame_ipv4(p, 0xc6120003, 0xc6130003, 6, 1, 2, 0);
	put_rec(fp, 104, p, 24, (uint32_t)n); /* cut 10 bytes into IPv4 */
	fclose(fp);

	memset(&cfg, 0, sizeof(cfg));
	cfg.sz = sizeof(cfg);
	cfg.pcap_file = path;
	CHECK(capture_init(&c, &cfg) == 0);
	CHECK(capture_flow_enable(c, &fc) == 0);
	CHECK(capture_set_flow_callback(c, on_flows, &g) == 0);
	CHECK(capture_start(c) == 0);
	/* a second start while running: test_running_refusals (a FIFO keeps the
	 * session running, so the refusal is certain there) */
	rc = capture_poll(c, 10000);
	CHECK(rc == CAPTURE_STATE_DONE);
	CHECK(capture_get_stats(c, &st) == 0);
	for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
		skipped += st.skipped[i];
	CHECK(st.packets_read == 5);
	CHECK(st.packets_in_flows == 3);
	CHECK(st.skipped[CAPTURE_SKIP_NON_IP] == 1);
	CHECK(st.skipped[CAPTURE_SKIP_TRUNCATED] == 1);
	CHECK(st.packets_read == st.packets_in_flows + skipped);
	CHECK(st.flows_created == 2 && st.flows_exported == 2 && st.flows_shutdown == 2);
	CHECK(st.bytes_in_flows == 40 + 40 + 28);
	CHECK(g.n == 2);
	CHECK(capture_get_status(c, &ss) == 0);
	CHECK(ss.state == CAPTURE_STATE_DONE);
	CHECK_STR(ss.backend, "file");
	CHECK_STR(ss.tstamp_source, "file");
	CHECK(ss.input_bytes == ss.input_done && ss.input_bytes > 0);
	for (i = 0; i < (int)g.n; i++) {
		if (g.r[i].proto == 6) {
			CHECK(g.r[i].src_port == 1024 && g.r[i].packets == 1 &&
			      g.r[i].rev_packets == 1);
			CHECK(g.r[i].first_ns == 100000000000ull &&
			      g.r[i].last_ns == 101000000000ull);
		} else {
			CHECK(g.r[i].proto == 17 && g.r[i].dst_port == 53 && g.r[i].bytes == 28);
		}
	}
	/* a second session on the same handle replays the file identically */
	g.n = 0;
	CHECK(capture_start(c) == 0);
	CHECK(capture_poll(c, 10000) == CAPTURE_STATE_DONE);
	CHECK(g.n == 2);
	CHECK(capture_get_stats(c, &st) == 0 && st.packets_read == 5);
	capture_destroy(c);
	unlink(path);
}

/* A flow callback that blocks until released: the export thread stops
 * draining, the worker's ring fills and the worker waits (a file never
 * drops), so it cannot serve control requests meanwhile. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	unsigned calls;
};

static void on_flows_gated(void *ctx, const struct capture_flow *recs, size_t n)
{
	struct gate *g = ctx;

	(void)recs, (void)n;
	pthread_mutex_lock(&g->mu);
	g->calls++;
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* A snapshot that times out is cancelled: once capture_flow_get_all has
 * returned -ETIMEDOUT, nothing writes into the caller's buffer, even when
 * the worker gets going again. */
static void test_cancelled_request(void)
{
	char path[] = "/tmp/pc_core_gate_XXXXXX";
	struct capture_config cfg = { .sz = sizeof(cfg), .export_queue = 1024 };
	struct capture_flow_config fc = { .sz = sizeof(fc),
					  .table_size = 16384,
					  .idle_timeout_sec = 1 };
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };
	struct capture_stats st = { .sz = sizeof(st) };
	const unsigned nflows = 8000; /* far more than the ring and a batch hold */
	struct capture_flow *buf;
	uint8_t p[128];
	int64_t got = 0;
	unsigned i, tries = 0;
	size_t n, bad = 0;
	int fd = mkstemp(path);
	FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;

	CHECK(fp != NULL);
	if (!fp)
		return;
	fwrite(pcap_hdr, 1, sizeof(pcap_hdr), fp);
	/* one packet per flow, 2 s apart: each ends idle as the next arrives */
	for (i = 0; i < nflows; i++) {
		n = frame_ipv4(p, 0xc6120000 + i, 0xc6130001, 17, 1000, 53, 0);
		put_rec(fp, 100 + 2 * i, p, (uint32_t)n, (uint32_t)n);
	}
	fclose(fp);
	buf = malloc(sizeof(*buf) * 64);
	CHECK(buf != NULL);
	cfg.pcap_file = path;
	struct capture *c = NULL;

	CHECK(capture_init(&c, &cfg) == 0);
	CHECK(capture_flow_enable(c, &fc) == 0);
	CHECK(capture_set_flow_callback(c, on_flows_gated, &g) == 0);
	CHECK(capture_start(c) == 0);
	/* ask until a request finds the worker stuck behind the full ring */
	do {
		got = capture_flow_get_all(c, buf, 64, CAPTURE_FLOWS_ACTIVE, NULL);
		CHECK(got >= 0 || got == -ETIMEDOUT);
	} while (got != -ETIMEDOUT && ++tries < 1000 &&
		 capture_poll(c, 0) == CAPTURE_STATE_RUNNING);
	CHECK(got == -ETIMEDOUT);
	memset(buf, 0xa5, sizeof(*buf) * 64);
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	CHECK(capture_poll(c, 30000) == CAPTURE_STATE_DONE);
	CHECK(capture_get_stats(c, &st) == 0);
	CHECK(st.packets_read == nflows);
	CHECK(st.flows_exported == nflows);
	for (n = 0; n < sizeof(*buf) * 64; n++)
		bad += ((uint8_t *)buf)[n] != 0xa5;
	CHECK(bad == 0);
	free(buf);
	capture_destroy(c);
	unlink(path);
}

/* IPFIX over TCP to a collector that is not there: every record stays
 * queued and is lost at close, counted once (as a queue drop, not also
 * among the records exported). */
static void test_tcp_export_lost_counted_once(void)
{
	char path[] = "/tmp/pc_core_tcp_XXXXXX", target[64];
	struct capture_config cfg = { .sz = sizeof(cfg) };
	struct capture_flow_config fc = { .sz = sizeof(fc), .table_size = 4096 };
	struct capture_stats st = { .sz = sizeof(st) };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct capture *c = NULL;
	uint8_t p[128];
	unsigned i;
	size_t n;
	int fd = mkstemp(path), s = socket(AF_INET, SOCK_STREAM, 0);
	FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;

	CHECK(fp != NULL && s >= 0);
	if (!fp || s < 0)
		return;
	/* a loopback port nothing listens on */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&sa, &sl) == 0);
	close(s);
	snprintf(target, sizeof(target), "ipfix+tcp://127.0.0.1:%u", ntohs(sa.sin_port));
	fwrite(pcap_hdr, 1, sizeof(pcap_hdr), fp);
	for (i = 0; i < 3; i++) {
		n = frame_ipv4(p, 0xc6120001 + i, 0xc6130001, 17, 1000, 53, 0);
		put_rec(fp, 100 + i, p, (uint32_t)n, (uint32_t)n);
	}
	fclose(fp);
	cfg.pcap_file = path;
	CHECK(capture_init(&c, &cfg) == 0);
	CHECK(capture_flow_enable(c, &fc) == 0);
	CHECK(capture_export_add(c, target, NULL) == 0);
	CHECK(capture_start(c) == 0);
	CHECK(capture_poll(c, 30000) == CAPTURE_STATE_DONE);
	CHECK(capture_get_stats(c, &st) == 0);
	CHECK(st.flows_exported == 3);
	CHECK(st.export_tcp_queue_drops == 3);
	CHECK(st.export_records == 0);
	capture_destroy(c);
	unlink(path);
}

/* A session that stays running as long as the test holds a FIFO's write
 * end: what a running session refuses, and with which message. */
static void test_running_refusals(void)
{
	char dir[] = "/tmp/pc_core_fifo_XXXXXX", path[64];
	struct capture_config cfg = { .sz = sizeof(cfg) };
	struct capture_pcap_out_config po = { .sz = sizeof(po), .dir = "/tmp" };
	struct capture_stats st = { .sz = sizeof(st) };
	struct capture *c = NULL;
	uint8_t p[128];
	size_t n;
	int wfd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/in.pcap", dir);
	CHECK(mkfifo(path, 0600) == 0);
	/* O_RDWR never blocks on a FIFO; the header is in the pipe before start */
	wfd = open(path, O_RDWR);
	CHECK(wfd >= 0);
	CHECK(write(wfd, pcap_hdr, sizeof(pcap_hdr)) == (ssize_t)sizeof(pcap_hdr));
	cfg.pcap_file = path;
	CHECK(capture_init(&c, &cfg) == 0);
	CHECK(capture_start(c) == 0);
	CHECK(capture_poll(c, 0) == CAPTURE_STATE_RUNNING);
	CHECK(capture_start(c) == -CAPTURE_E_STATE);
	CHECK_STR(capture_last_error(c), "capture is already running");
	CHECK(capture_add_artifact(c, "img", "img.sig", "key.pem", NULL) == -CAPTURE_E_STATE);
	CHECK_STR(capture_last_error(c),
		  "artifacts are verified at start: add them before capture_start");
	CHECK(capture_pcap_out_enable(c, &po) == -CAPTURE_E_STATE);
	CHECK_STR(capture_last_error(c), "packet output can only be enabled before capture starts");
	CHECK(capture_set_flow_callback(c, on_flows, NULL) == -CAPTURE_E_STATE);
	CHECK_STR(capture_last_error(c), "cannot change the callback while running");
	/* one packet, then end of input */
	n = frame_ipv4(p, 0xc6120001, 0xc6130001, 17, 1000, 53, 0);
	{
		uint32_t rec[4] = { 1, 0, (uint32_t)n, (uint32_t)n };

		CHECK(write(wfd, rec, sizeof(rec)) == (ssize_t)sizeof(rec));
		CHECK(write(wfd, p, n) == (ssize_t)n);
	}
	close(wfd);
	CHECK(capture_poll(c, 10000) == CAPTURE_STATE_DONE);
	CHECK(capture_get_stats(c, &st) == 0);
	CHECK(st.packets_read == 1);
	CHECK(st.skipped[CAPTURE_SKIP_FLOW_DISABLED] == 1);
	capture_destroy(c);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_names();
	test_targets();
	test_json();
	test_ring();
	test_config_checks();
	test_versioned_structs();
	test_session();
	test_running_refusals();
	test_cancelled_request();
	test_tcp_export_lost_counted_once();
	return check_finish("unit.core");
}
