/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live backends through pc_capture_open on a veth pair inside a private network
 * namespace (unshare(CLONE_NEWNET): gone when the process exits). Hand-built
 * frames (IPv4/IPv6, TCP/UDP, VLAN tags, IPv4 fragments) are sent into one end
 * and every backend must deliver each one exactly, with the VLAN tag in place,
 * and fanout must keep each address pair on one member. Needs root: else 77.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/bpf.h"
#include "capture/capture.h"
#include "util/privs.h"

static int failures;

#define CHECK(cond, ...)                                                                \
	do {                                                                            \
		if (!(cond)) {                                                          \
			failures++;                                                     \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
		}                                                                       \
	} while (0)

#define NFLOWS 120
#define MAXF 400
#define FRAME_MAX 1600

struct frame {
	uint8_t b[FRAME_MAX];
	uint32_t len;
	int flow;
};

static struct frame frames[MAXF];
static int nframes;

static uint16_t csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)(b[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet [+ 802.1Q] header; returns its length. */
static uint32_t eth(uint8_t *b, int vlan, uint16_t type)
{
	static const uint8_t dst[6] = { 0x02, 0x01, 0, 0, 0, 2 }, src[6] = { 0x02, 0, 0, 0, 0, 1 };

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	if (vlan) {
		put16(b + 12, ETH_P_8021Q);
		put16(b + 14, (uint16_t)vlan);
		put16(b + 16, type);
		return 18;
	}
	put16(b + 12, type);
	return 14;
}

/*
 * Flow f: client 198.18.0.(f+1) <-> server 198.19.0.(f+1) (IPv4) or
 * 2001:2::1:f <-> 2001:2::2:f (IPv6). @rev swaps the direction. @frag: 0 whole,
 * 1 first fragment, 2 last fragment (IPv4 only).
 */
static void add_frame(int f, bool v6, int vlan, bool tcp, bool rev, int frag, uint32_t pay)
{
	struct frame *fr = &frames[nframes++];
	uint8_t *b = fr->b;
	uint8_t a1[16] = { 0 }, a2[16] = { 0 };
	uint32_t o = eth(b, vlan, v6 ? ETH_P_IPV6 : ETH_P_IP), l4len, ip;

	fr->flow = f;
	l4len = (tcp ? 20 : 8) + pay;
	if (!v6) {
		a1[0] = 198, a1[1] = 18, a1[3] = (uint8_t)(f + 1);
		a2[0] = 198, a2[1] = 19, a2[3] = (uint8_t)(f + 1);
		ip = o;
		memset(b + o, 0, 20);
		b[o] = 0x45;
		if (frag == 2) {
			put16(b + o + 2, (uint16_t)(20 + 64));
			put16(b + o + 6, 8); /* offset 64 bytes, last */
		} else {
			put16(b + o + 2, (uint16_t)(20 + (frag == 1 ? 64 : l4len)));
			if (frag == 1)
				put16(b + o + 6, 0x2000); /* MF */
		}
		put16(b + o + 4, (uint16_t)(f * 7 + 1));
		b[o + 8] = 64;
		b[o + 9] = tcp ? 6 : 17;
		memcpy(b + o + 12, rev ? a2 : a1, 4);
		memcpy(b + o + 16, rev ? a1 : a2, 4);
		put16(b + o + 10, csum(b + o, 20));
		o += 20;
	} else {
		a1[0] = 0x20, a1[1] = 0x01, a1[3] = 2, a1[13] = 1, a1[15] = (uint8_t)f;
		a2[0] = 0x20, a2[1] = 0x01, a2[3] = 2, a2[13] = 2, a2[15] = (uint8_t)f;
		ip = o;
		memset(b + o, 0, 40);
		b[o] = 0x60;
		put16(b + o + 4, (uint16_t)l4len);
		b[o + 6] = tcp ? 6 : 17;
		b[o + 7] = 64;
		memcpy(b + o + 8, rev ? a2 : a1, 16);
		memcpy(b + o + 24, rev ? a1 : a2, 16);
		o += 40;
	}
	(void)ip;
	if (frag == 2) {
		memset(b + o, 0xab, 64);
		o += 64;
	} else {
		memset(b + o, 0, l4len);
		put16(b + o, rev ? 443 : (uint16_t)(10000 + f));
		put16(b + o + 2, rev ? (uint16_t)(10000 + f) : 443);
		if (tcp)
			b[o + 12] = 0x50;
		else
			put16(b + o + 4, (uint16_t)l4len);
		o += frag == 1 ? 64 : l4len;
	}
	while (o < 60)
		b[o++] = 0;
	fr->len = o;
}

static void build_frames(void)
{
	int f;

	nframes = 0;
	for (f = 0; f < NFLOWS; f++) {
		bool v6 = f % 3 == 1, tcp = f % 2 == 0;
		int vlan = f % 5 == 0 ? 100 + f : 0;

		add_frame(f, v6, vlan, tcp, false, 0, 10 + (uint32_t)f);
		add_frame(f, v6, vlan, tcp, true, 0, 100);
		if (!v6 && !tcp && f % 4 == 3) { /* a fragmented datagram, both parts */
			add_frame(f, false, vlan, false, false, 1, 0);
			add_frame(f, false, vlan, false, false, 2, 0);
		}
	}
}

/* Which flow a delivered frame belongs to (by the addresses), -1 unknown. */
static int frame_flow(const struct pc_pkt *p)
{
	const uint8_t *b = p->data;
	uint32_t o = 14;
	uint16_t t;

	if (p->caplen < 60)
		return -1;
	t = (uint16_t)(b[12] << 8 | b[13]);
	if (t == ETH_P_8021Q) {
		t = (uint16_t)(b[16] << 8 | b[17]);
		o = 18;
	}
	if (t == ETH_P_IP)
		return b[o + 12] == 198 && b[o + 13] == 18 ? b[o + 15] - 1 : b[o + 19] - 1;
	if (t == ETH_P_IPV6)
		return b[o + 8 + 15];
	return -1;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

static int send_frames(const char *ifname, const bool *only_flow_mask)
{
	struct sockaddr_ll sll;
	int fd, i, sent = 0;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	for (i = 0; i < nframes; i++) {
		if (only_flow_mask && !only_flow_mask[frames[i].flow])
			continue;
		if (sendto(fd, frames[i].b, frames[i].len, 0, (struct sockaddr *)&sll,
			   sizeof(sll)) != (ssize_t)frames[i].len) {
			close(fd);
			return -errno;
		}
		sent++;
		if ((i & 31) == 31)
			usleep(200); /* let the receive side keep up on 2 cores */
	}
	close(fd);
	return sent;
}

struct result {
	int total;
	uint64_t bytes;
	int per_q[4];
	int flow_q[NFLOWS]; /* member mask per flow */
	int matched_exact;  /* frames byte-identical to one sent */
	int vlan_seen;
};

static bool same_as_sent(const struct pc_pkt *p)
{
	int i;

	for (i = 0; i < nframes; i++)
		if (frames[i].len == p->caplen && memcmp(frames[i].b, p->data, p->caplen) == 0)
			return true;
	return false;
}

static void collect(struct pc_cap *cap, int want, struct result *r)
{
	struct pc_pkt pkts[PC_BURST];
	struct timespec t0, t;
	unsigned q;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int got = 0;

		for (q = 0; q < cap->nqueues; q++) {
			int n = cap->ops->rx_burst(cap, q, pkts, PC_BURST, 20), i;

			CHECK(n >= 0, "rx_burst: %d %s", n, cap->err);
			if (n < 0)
				return;
			for (i = 0; i < n; i++) {
				int f = frame_flow(&pkts[i]);

				r->total++;
				r->bytes += pkts[i].wirelen;
				r->per_q[q]++;
				if (f >= 0 && f < NFLOWS)
					r->flow_q[f] |= 1 << q;
				r->matched_exact += same_as_sent(&pkts[i]);
				r->vlan_seen += pkts[i].data[12] == 0x81;
				CHECK(pkts[i].caplen == pkts[i].wirelen, "caplen %u wirelen %u",
				      pkts[i].caplen, pkts[i].wirelen);
				CHECK(pkts[i].ts_ns > 1700000000ull * 1000000000ull, "ts %llu",
				      (unsigned long long)pkts[i].ts_ns);
			}
			cap->ops->rx_release(cap, q, (unsigned)n);
			got += n;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (r->total >= want && !got)
			break;
		if (t.tv_sec - t0.tv_sec > 3)
			break;
	}
}

static void expected(const bool *mask, int *count, uint64_t *bytes, int *vlan)
{
	int i;

	*count = 0;
	*bytes = 0;
	*vlan = 0;
	for (i = 0; i < nframes; i++) {
		if (mask && !mask[frames[i].flow])
			continue;
		(*count)++;
		*bytes += frames[i].len;
		*vlan += frames[i].b[12] == 0x81;
	}
}

static struct pc_cap_params params(const char *ifname, unsigned workers, const char *filter)
{
	struct pc_cap_params p;

	memset(&p, 0, sizeof(p));
	p.interface = ifname;
	p.snaplen = 262144;
	p.buffer_size_mb = 64;
	p.workers = workers;
	p.promiscuous = true;
	p.filter = filter;
	p.tstamp = CAPTURE_TSTAMP_KERNEL;
	return p;
}

/* Open @backend on veth1, send every frame (or the @mask flows) into veth0. */
static void check_backend(const char *backend, unsigned workers, const char *filter,
			  const bool *mask)
{
	struct pc_cap_params p = params("veth1", workers, filter);
	struct pc_cap cap;
	struct pc_cap_stats st;
	struct result r;
	char why[1024];
	uint64_t want_bytes, kpk = 0, kdrop = 0;
	int want, want_vlan, ret, f, members = 0, sent;
	unsigned q;

	ret = pc_capture_open(&cap, backend, &p, why, sizeof(why));
	CHECK(ret >= 0, "%s: open: %d %s", backend, ret, why);
	if (ret < 0)
		return;
	printf("%s workers=%u filter=%s: %s [queues %u, mode %s, tstamp %s]\n", backend, workers,
	       filter ? filter : "-", why, cap.nqueues, cap.mode, cap.tstamp_source);
	CHECK(cap.filter_applied == (filter != NULL), "%s filter_applied", backend);
	sent = send_frames("veth0", NULL);
	CHECK(sent == nframes, "sent %d of %d", sent, nframes);
	expected(mask, &want, &want_bytes, &want_vlan);
	collect(&cap, want, &r);
	CHECK(r.total == want, "%s/%u: got %d packets, sent %d", backend, workers, r.total, want);
	CHECK(r.bytes == want_bytes, "%s/%u: got %llu bytes, want %llu", backend, workers,
	      (unsigned long long)r.bytes, (unsigned long long)want_bytes);
	CHECK(r.matched_exact == r.total, "%s: %d of %d frames differ from what was sent", backend,
	      r.total - r.matched_exact, r.total);
	CHECK(r.vlan_seen == want_vlan, "%s: %d VLAN-tagged frames, want %d", backend, r.vlan_seen,
	      want_vlan);
	for (f = 0; f < NFLOWS; f++) {
		if (mask && !mask[f])
			CHECK(r.flow_q[f] == 0, "%s: filtered flow %d delivered", backend, f);
		else
			CHECK(r.flow_q[f] && !(r.flow_q[f] & (r.flow_q[f] - 1)),
			      "%s: flow %d on member mask %d", backend, f, r.flow_q[f]);
	}
	for (q = 0; q < cap.nqueues; q++) {
		members += r.per_q[q] > 0;
		CHECK(cap.ops->stats(&cap, q, &st) == 0, "stats");
		kpk += st.packets;
		kdrop += st.drops;
	}
	if (workers > 1 && cap.nqueues > 1)
		CHECK(members == (int)cap.nqueues, "%s: only %d of %u members got packets", backend,
		      members, cap.nqueues);
	CHECK(kdrop == 0, "%s: kernel drops %llu", backend, (unsigned long long)kdrop);
	/* the kernel counts before its filter only for pcap/afpacket on the tagged path */
	if (!filter)
		CHECK(kpk == (uint64_t)want, "%s: kernel packets %llu, want %d", backend,
		      (unsigned long long)kpk, want);
	pc_capture_close(&cap);
}

static void check_registry(void)
{
	const struct pc_capture_ops *const *reg = pc_capture_registry();
	struct capture_backend_info info[8];
	int n, i;

	for (n = 0; reg[n]; n++)
		;
	CHECK(n == 7, "registry has %d entries", n);
	CHECK(pc_capture_find("afpacket") == &pc_cap_afpacket_ops, "find afpacket");
	CHECK(pc_capture_find("nope") == NULL, "find nope");
	n = capture_list_backends(info, 8);
	CHECK(n == 7, "list: %d", n);
	for (i = 0; i < n && i < 8; i++) {
		if (!strcmp(info[i].name, "dpdk")) {
			CHECK(!info[i].available, "dpdk available?");
			/* no hugepages, no bound NIC here (or a build without DPDK) */
			CHECK(strstr(info[i].reason, "not compiled in (") == info[i].reason ||
				      strstr(info[i].reason, "DPDK ") == info[i].reason,
			      "dpdk reason: %s", info[i].reason);
		}
		if (!strcmp(info[i].name, "pfring"))
			CHECK(!info[i].available &&
				      strstr(info[i].reason, "not built with PF_RING"),
			      "pfring: %s", info[i].reason);
		if (!strcmp(info[i].name, "afpacket"))
			CHECK(info[i].available, "afpacket: %s", info[i].reason);
		if (!strcmp(info[i].name, "ebpf"))
			/* root with clang + bpftool at build time: loadable; otherwise why */
			CHECK(info[i].available || info[i].reason[0], "ebpf: no reason given");
		if (!strcmp(info[i].name, "file"))
			CHECK(info[i].available && info[i].preference == 0, "file: %s",
			      info[i].reason);
	}
	CHECK(capture_list_backends(info, 2) == 7, "count beyond max");
}

static void check_errors(void)
{
	struct pc_cap_params p = params("veth1", 1, NULL);
	struct pc_cap cap;
	char why[1024];
	int ret;

	p.buffer_size_mb = 32;
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret == -CAPTURE_E_CONFIG, "ret %d", ret);
	CHECK(!strcmp(why, "afpacket: buffer size 32 MB out of range (accepted: 64..2048 MB)"),
	      "why: %s", why);
	p.buffer_size_mb = 4096;
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret == -CAPTURE_E_CONFIG, "ret %d", ret);
	p.buffer_size_mb = 64;
	p.interface = "nosuchif0";
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret == -ENODEV && !strcmp(why, "afpacket: no such interface 'nosuchif0'"),
	      "ret %d why %s", ret, why);
	p.interface = "veth1";
	p.filter = "tcp and";
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret == -CAPTURE_E_FILTER && strstr(why, "syntax error"), "ret %d why %s", ret, why);
	ret = pc_capture_open(&cap, "auto", &p, why, sizeof(why));
	CHECK(ret == -CAPTURE_E_FILTER, "auto bad filter ret %d why %s", ret, why);
	p.filter = NULL;
	ret = pc_capture_open(&cap, "dpdk", &p, why, sizeof(why));
	CHECK((ret == -CAPTURE_E_BACKEND && strstr(why, "dpdk: not compiled in (")) ||
		      (ret == -ENODEV &&
		       strstr(why, "dpdk: 'veth1' is not a DPDK port (name one as dpdk:")),
	      "dpdk: %d %s", ret, why);
	p.interface = NULL;
	ret = pc_capture_open(&cap, "auto", &p, why, sizeof(why));
	CHECK(ret == -CAPTURE_E_CONFIG &&
		      !strcmp(why, "auto: neither an interface nor a file given"),
	      "auto without input: %d %s", ret, why);
	p.interface = "veth1";
	ret = pc_capture_open(&cap, "bogus", &p, why, sizeof(why));
	CHECK(ret == -CAPTURE_E_CONFIG && strstr(why, "unknown capture backend 'bogus'"),
	      "bogus: %s", why);
	/* auto on a veth: afxdp is copy-only there, so afpacket wins and says why */
	ret = pc_capture_open(&cap, "auto", &p, why, sizeof(why));
	CHECK(ret >= 0 && cap.ops == &pc_cap_afpacket_ops, "auto: %d %s", ret, why);
	CHECK((strstr(why, "afxdp: copy mode only") || strstr(why, "afxdp: not built")) &&
		      (strstr(why, "dpdk: not compiled in") ||
		       strstr(why, "dpdk: 'veth1' is not a DPDK port")),
	      "auto why: %s", why);
	printf("auto: %s\n", why);
	if (ret >= 0)
		pc_capture_close(&cap);
	/* hardware stamps on a veth: fall back, and say so */
	p.tstamp = CAPTURE_TSTAMP_HARDWARE;
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret >= 0 && !strcmp(cap.tstamp_source, "kernel") &&
		      strstr(cap.tstamp_detail, "hardware requested, fell back to kernel stamps"),
	      "hw: %s / %s", cap.tstamp_source, cap.tstamp_detail);
	if (ret >= 0)
		pc_capture_close(&cap);
	p.tstamp = CAPTURE_TSTAMP_PTP;
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret >= 0, "ptp open");
	if (ret >= 0) {
		if (access("/dev/ptp0", F_OK) != 0)
			CHECK(!strcmp(cap.tstamp_source, "kernel") &&
				      strstr(cap.tstamp_detail, "ptp requested, fell back"),
			      "ptp: %s", cap.tstamp_detail);
		pc_capture_close(&cap);
	}
	p.tstamp = CAPTURE_TSTAMP_NTP;
	ret = pc_capture_open(&cap, "afpacket", &p, why, sizeof(why));
	CHECK(ret >= 0 && !strcmp(cap.tstamp_source, "ntp") &&
		      strstr(cap.tstamp_detail, "synchronised"),
	      "ntp: %s", cap.tstamp_detail);
	if (ret >= 0)
		pc_capture_close(&cap);
}

static int xdp_attached(const char *ifname)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip link show dev %s | grep -q 'prog/xdp'", ifname);
	return system(cmd) == 0;
}

static char last_log[512];

static void log_cb(void *ctx, int level, const char *msg)
{
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* A run killed with the program attached: the next open must replace it. */
static void check_xdp_stale(void)
{
	struct pc_cap_params p = params("veth1", 1, NULL);
	struct pc_cap cap;
	char why[1024];
	pid_t pid;
	int st, ret;

	pid = fork();
	if (pid == 0) {
		if (pc_capture_open(&cap, "afxdp", &p, why, sizeof(why)) < 0)
			_exit(3);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st), "child status %d", st);
	CHECK(xdp_attached("veth1"), "killed run left no program (nothing to test)");
	p.log_fn = log_cb;
	p.log_level = CAPTURE_LOG_DEBUG;
	last_log[0] = '\0';
	ret = pc_capture_open(&cap, "afxdp", &p, why, sizeof(why));
	CHECK(ret >= 0, "reopen after kill: %s", why);
	CHECK(strstr(last_log, "removed stale XDP program 'xsk_def_prog'"), "log: %s", last_log);
	if (ret >= 0)
		pc_capture_close(&cap);
	CHECK(!xdp_attached("veth1"), "program left attached after close");
}

/*
 * Overrun the ring on purpose (nothing reads while @nsend full-size frames
 * arrive): every frame must be either delivered or counted as dropped.
 */
static void check_drops(const char *backend, int nsend)
{
	struct pc_cap_params p = params("veth1", 1, NULL);
	struct pc_pkt pkts[PC_BURST];
	struct pc_cap_stats st, sum;
	struct sockaddr_ll sll;
	struct frame big;
	struct pc_cap cap;
	char why[1024];
	uint64_t got = 0;
	int fd, i, ret, idle = 0;
	unsigned q;

	ret = pc_capture_open(&cap, backend, &p, why, sizeof(why));
	CHECK(ret >= 0, "%s: open: %s", backend, why);
	if (ret < 0)
		return;
	memset(&big, 0, sizeof(big));
	big.len = eth(big.b, 0, ETH_P_IP) + 1500;
	big.b[14] = 0x45;
	put16(big.b + 16, 1500);
	big.b[22] = 64;
	big.b[23] = 17;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex("veth0");
	for (i = 0; i < nsend; i++) {
		big.b[27] = (uint8_t)i;
		if (sendto(fd, big.b, big.len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			break;
		if ((i & 31) == 31)
			usleep(100); /* stay under the veth backlog: drop in the ring only */
	}
	close(fd);
	CHECK(i == nsend, "sent %d of %d", i, nsend);
	while (idle < 3) {
		int n = cap.ops->rx_burst(&cap, 0, pkts, PC_BURST, 50);

		if (n <= 0) {
			idle++;
			continue;
		}
		idle = 0;
		got += (uint64_t)n;
		cap.ops->rx_release(&cap, 0, (unsigned)n);
	}
	memset(&sum, 0, sizeof(sum));
	for (q = 0; q < cap.nqueues; q++) {
		CHECK(cap.ops->stats(&cap, q, &st) == 0, "stats");
		sum.packets += st.packets;
		sum.drops += st.drops;
		sum.ifdrops += st.ifdrops;
	}
	printf("%s overrun: sent %d delivered %llu kernel packets %llu drops %llu ifdrops %llu\n",
	       backend, nsend, (unsigned long long)got, (unsigned long long)sum.packets,
	       (unsigned long long)sum.drops, (unsigned long long)sum.ifdrops);
	CHECK(sum.drops + sum.ifdrops > 0, "%s: ring never overran", backend);
	CHECK(got + sum.drops + sum.ifdrops == (uint64_t)nsend,
	      "%s: delivered %llu + drops %llu + ifdrops %llu != sent %d", backend,
	      (unsigned long long)got, (unsigned long long)sum.drops,
	      (unsigned long long)sum.ifdrops, nsend);
	if (strcmp(backend, "afxdp") != 0)
		CHECK(sum.packets == (uint64_t)nsend, "%s: kernel packets %llu", backend,
		      (unsigned long long)sum.packets);
	pc_capture_close(&cap);
}

/* The interface disappears under a running capture: rx_burst must fail. */
static void check_iface_gone(const char *backend)
{
	struct pc_cap_params p = params("veth3", 1, NULL);
	struct pc_pkt pkts[PC_BURST];
	struct pc_cap cap;
	char why[1024];
	int ret, n = 0, i;

	if (run("ip link add veth2 type veth peer name veth3 && ip link set veth2 up && "
		"ip link set veth3 up") != 0) {
		CHECK(0, "cannot create veth2/veth3");
		return;
	}
	ret = pc_capture_open(&cap, backend, &p, why, sizeof(why));
	CHECK(ret >= 0, "%s: open: %s", backend, why);
	run("ip link del veth2");
	if (ret < 0)
		return;
	for (i = 0; i < 20 && n >= 0; i++)
		n = cap.ops->rx_burst(&cap, 0, pkts, PC_BURST, 20);
	CHECK(n == -ENETDOWN, "%s: rx_burst after the interface went: %d", backend, n);
	CHECK(strstr(cap.err, "interface gone?") != NULL, "%s: err %s", backend, cap.err);
	pc_capture_close(&cap);
}

int main(void)
{
	char err[256];
	bool mask[NFLOWS];
	int f;

	if (geteuid() != 0 || pc_check_capability(PC_CAP_NET_ADMIN, err, sizeof(err)) < 0) {
		printf("SKIP: needs root (CAP_NET_ADMIN, CAP_NET_RAW) for a veth pair\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	/* no IPv6 neighbour discovery or MLD reports among the counted frames */
	if (run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		"net.ipv6.conf.default.disable_ipv6=1 && ip link set lo up && "
		"ip link add veth0 type veth peer name veth1 && "
		"ip link set veth0 up && ip link set veth1 up") != 0) {
		printf("SKIP: cannot create a veth pair in a private namespace\n");
		return 77;
	}
	build_frames();
	check_registry();
	check_errors();

	check_backend("afpacket", 1, NULL, NULL);
	check_backend("afpacket", 2, NULL, NULL);
	check_backend("afpacket", 3, NULL, NULL);
	check_backend("pcap", 1, NULL, NULL);
	/* same expression, same packets: VLAN-tagged flows must not match "udp" */
	for (f = 0; f < NFLOWS; f++)
		mask[f] = f % 2 == 1 && f % 5 != 0;
	check_backend("afpacket", 1, "udp", mask);
	check_backend("afpacket", 2, "udp", mask);
	check_backend("pcap", 1, "udp", mask);
	for (f = 0; f < NFLOWS; f++)
		mask[f] = f % 5 == 0;
	check_backend("afpacket", 2, "vlan", mask);
	check_backend("pcap", 1, "vlan", mask);
	check_drops("afpacket", 60000);
	check_drops("pcap", 60000);
	check_iface_gone("afpacket");
	check_iface_gone("pcap");
	if (pc_cap_afxdp_ops.rx_burst) {
		for (f = 0; f < NFLOWS; f++)
			mask[f] = f % 2 == 1 && f % 5 != 0;
		setenv("PC_XDP_MODE", "native", 1);
		check_backend("afxdp", 1, NULL, NULL);
		check_backend("afxdp", 1, "udp", mask);
		CHECK(!xdp_attached("veth1"), "native program left attached");
		setenv("PC_XDP_MODE", "generic", 1);
		check_backend("afxdp", 1, NULL, NULL);
		CHECK(!xdp_attached("veth1"), "generic program left attached");
		setenv("PC_XDP_MODE", "native", 1);
		check_drops("afxdp", 40000);
		check_iface_gone("afxdp");
		unsetenv("PC_XDP_MODE");
		check_xdp_stale();
	} else {
		printf("afxdp: not built with libxdp, not tested\n");
	}
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all live backend checks passed\n");
	return 0;
}
