/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: one RX queue per worker on ports with RSS (IP-only hash with
 * a symmetric Toeplitz key, so both directions and every fragment of a flow
 * reach one worker), one queue spread by the engine elsewhere. Bursts of
 * mbufs are handed to the worker as views and freed at rx_release.
 * Timestamps: the PMD's RX timestamp offload, net_pcap's dynamic field
 * (microseconds from the file), else the TSC calibrated against the wall clock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capture/capture.h"

#ifdef HAVE_DPDK

/* rte_eth_read_clock (device clock of the RX timestamp offload) */
#define ALLOW_EXPERIMENTAL_API 1

#include <stdlib.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_version.h>

#include "capture/cap_dpdk.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

#define DPDK_IDLE_US 100    /* sleep between empty polls within a timeout */
#define DPDK_BOUNCE 16384u  /* per packet: chained mbufs are copied out */
#define DPDK_MBUF_COST 2432 /* bytes of pool memory per mbuf (2176 + mbuf + header) */
/* A port without RSS that has at most this many RX queues has a fixed set,
 * each carrying packets (net_pcap: one per rx_pcap, net_af_packet: qpairs):
 * all are read. More (net_null: 1024, a NIC without RSS): queue 0 only. */
#define DPDK_FIXED_QUEUES 16

enum ts_mode {
	TS_OFFLOAD,
	TS_DYNFIELD,
	TS_TSC
};

struct dpdk_q {
	struct rte_mbuf *m[PC_BURST];
	unsigned n;
	uint8_t *bounce;	/* PC_BURST * DPDK_BOUNCE, allocated on first chain */
	uint64_t tsc0, wall0;	/* TSC anchor */
	uint64_t clk0, clk_ns0; /* device clock anchor (offload) */
} pc_cache_aligned;

struct dpdk {
	uint16_t port;
	bool taken, started, promisc_set;
	unsigned nq;	  /* backend queues: one per worker with RSS, else 1 */
	unsigned nhw;	  /* port RX queues: nq with RSS; without, all read by queue 0 */
	unsigned next_hw; /* without RSS: the port queue to poll first */
	uint32_t snaplen;
	enum ts_mode ts;
	int ts_off;	  /* dynamic field offset */
	uint64_t ts_flag; /* dynamic flag mask */
	uint64_t tsc_hz;
	double clk_ns_per_tick; /* offload: device clock period */
	struct dpdk_q q[];
};

/* Symmetric Toeplitz: a key repeating 0x6d5a gives hash(a,b) == hash(b,a). */
static uint8_t sym_key[52];

static int dpdk_probe(const char *ifname, char *reason, size_t len)
{
	if (!ifname)
		return pc_dpdk_probe_listing(reason, len);
	if (!pc_dpdk_is_port_name(ifname))
		return pc_errf(reason, len, -ENODEV,
			       "'%s' is not a DPDK port (name one as dpdk:PCI-ADDRESS or "
			       "dpdk:VDEV, e.g. dpdk:0000:03:00.0, dpdk:net_pcap0)",
			       ifname);
	snprintf(reason, len, "%s port %s", rte_version(), pc_dpdk_port_name(ifname));
	return 0;
}

static void dpdk_close(struct pc_cap *cap)
{
	struct dpdk *d = cap->priv;
	unsigned i;

	if (!d)
		return;
	if (d->started)
		rte_eth_dev_stop(d->port);
	if (d->promisc_set)
		rte_eth_promiscuous_disable(d->port);
	for (i = 0; i < d->nq; i++) {
		if (d->q[i].n)
			rte_pktmbuf_free_bulk(d->q[i].m, d->q[i].n);
		free(d->q[i].bounce);
	}
	if (d->taken)
		pc_dpdk_port_put(d->port);
	free(d);
	cap->priv = NULL;
}

/*
 * Queues: one per worker when the port hashes IP addresses (RSS), else one
 * backend queue reading the port's fixed queues (*@nhw, see
 * DPDK_FIXED_QUEUES). Returns the backend queue count.
 */
static unsigned pick_queues(const struct rte_eth_dev_info *info, const struct pc_cap_params *p,
			    struct rte_eth_conf *conf, unsigned *nhw)
{
	unsigned want = p->workers ? p->workers : 1, i;

	if (want < 2 || !(info->flow_type_rss_offloads & RTE_ETH_RSS_IP) ||
	    info->max_rx_queues < 2) {
		*nhw = info->max_rx_queues && info->max_rx_queues <= DPDK_FIXED_QUEUES
			       ? info->max_rx_queues
			       : 1;
		return 1;
	}
	for (i = 0; i < sizeof(sym_key); i += 2) {
		sym_key[i] = 0x6d;
		sym_key[i + 1] = 0x5a;
	}
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = sym_key;
	conf->rx_adv_conf.rss_conf.rss_key_len =
		info->hash_key_size && info->hash_key_size <= sizeof(sym_key) ? info->hash_key_size
									      : 40;
	/* addresses only, as afpacket's fanout: fragments stay with their flow */
	conf->rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info->flow_type_rss_offloads;
	*nhw = want < info->max_rx_queues ? want : info->max_rx_queues;
	return *nhw;
}

/* "dpdk: WHAT on port P: error" and the PMD's last word on it, if any. */
static int fail(struct pc_cap *cap, int ret, const char *what, const char *port)
{
	char last[256];

	pc_dpdk_last_log(last, sizeof(last));
	snprintf(cap->err, sizeof(cap->err), "dpdk: %s on port %s: %s%s%s", what, port,
		 rte_strerror(ret < 0 ? -ret : ret), last[0] ? ": " : "", last);
	return -CAPTURE_E_BACKEND;
}

/* Device clock to ns: two reads 10 ms apart against CLOCK_REALTIME. */
static bool calibrate_clock(struct dpdk *d)
{
	uint64_t c0, c1, w0, w1;
	struct timespec ts = { 0, 10000000 };

	if (rte_eth_read_clock(d->port, &c0) != 0)
		return false;
	w0 = pc_wall_ns();
	nanosleep(&ts, NULL);
	if (rte_eth_read_clock(d->port, &c1) != 0 || c1 <= c0)
		return false;
	w1 = pc_wall_ns();
	d->clk_ns_per_tick = (double)(w1 - w0) / (double)(c1 - c0);
	for (unsigned i = 0; i < d->nq; i++) {
		d->q[i].clk0 = c1;
		d->q[i].clk_ns0 = w1;
	}
	return true;
}

static void choose_tstamp(struct pc_cap *cap, struct dpdk *d, bool offload, const char *driver)
{
	unsigned i;

	d->tsc_hz = rte_get_tsc_hz();
	for (i = 0; i < d->nq; i++) {
		d->q[i].tsc0 = rte_get_tsc_cycles();
		d->q[i].wall0 = pc_wall_ns();
	}
	d->ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	i = (unsigned)rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
	d->ts_flag = d->ts_off >= 0 && (int)i >= 0 ? 1ull << i : 0;
	if (offload && d->ts_flag && calibrate_clock(d)) {
		d->ts = TS_OFFLOAD;
		snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "hardware");
		snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail),
			 "%s RX timestamp offload, device clock %.3f ns/tick", driver,
			 d->clk_ns_per_tick);
	} else if (d->ts_flag && strcmp(driver, "net_pcap") == 0) {
		d->ts = TS_DYNFIELD;
		snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "pmd");
		snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail),
			 "net_pcap timestamp dynamic field (file stamps, microseconds); TSC for "
			 "packets without one (infinite_rx)");
	} else {
		d->ts = TS_TSC;
		snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "tsc");
		snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail),
			 "%s offers no RX timestamps: TSC (%.3f GHz) calibrated against "
			 "CLOCK_REALTIME, one stamp per burst",
			 driver, (double)d->tsc_hz / 1e9);
	}
}

static int setup_queues(struct pc_cap *cap, struct dpdk *d, const struct rte_eth_conf *conf,
			const char *name, unsigned mb)
{
	unsigned n = (unsigned)(((uint64_t)mb << 20) / DPDK_MBUF_COST);
	uint16_t nrx = 4096, ntx = 0;
	struct rte_mempool *mp;
	unsigned i;
	int ret;

	ret = rte_eth_dev_configure(d->port, (uint16_t)d->nhw, 0, conf);
	if (ret < 0)
		return fail(cap, ret, "rte_eth_dev_configure", name);
	/* every queue's ring at most half the pool: the rest is in flight */
	while (nrx > 64 && (unsigned)nrx * d->nhw > n / 2)
		nrx /= 2;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(d->port, &nrx, &ntx);
	if (ret < 0)
		return fail(cap, ret, "rte_eth_dev_adjust_nb_rx_tx_desc", name);
	mp = pc_dpdk_pool_get(d->port, n, mb, cap->err, sizeof(cap->err));
	if (!mp)
		return -ENOMEM;
	for (i = 0; i < d->nhw; i++) {
		ret = rte_eth_rx_queue_setup(d->port, (uint16_t)i, nrx,
					     (unsigned)rte_eth_dev_socket_id(d->port), NULL, mp);
		if (ret < 0)
			return fail(cap, ret, "rte_eth_rx_queue_setup", name);
	}
	pc_dpdk_pool_commit(d->port);
	return 0;
}

static void say_queues(struct pc_cap *cap, const struct pc_cap_params *p, struct dpdk *d,
		       const char *name, const char *driver)
{
	if (d->nq > 1)
		pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_INFO,
			"dpdk: port %s (%s): %u RX queues, symmetric RSS on IP addresses", name,
			driver, d->nq);
	else if (p->workers > 1)
		pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_INFO,
			"dpdk: port %s (%s) has no RSS: %u RX queue%s read as one, the engine "
			"spreads packets to %u workers by the symmetric flow hash",
			name, driver, d->nhw, d->nhw > 1 ? "s" : "", p->workers);
	if (d->nq > 1)
		snprintf(cap->mode, sizeof(cap->mode), "%u queues, symmetric RSS", d->nq);
	else
		snprintf(cap->mode, sizeof(cap->mode), "%u queue%s, no RSS", d->nhw,
			 d->nhw > 1 ? "s" : "");
}

static int open_port(struct pc_cap *cap, const struct pc_cap_params *p, struct dpdk *d,
		     const char *name)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	bool offload;
	int ret;

	ret = rte_eth_dev_info_get(d->port, &info);
	if (ret < 0)
		return fail(cap, ret, "rte_eth_dev_info_get", name);
	memset(&conf, 0, sizeof(conf));
	d->nq = pick_queues(&info, p, &conf, &d->nhw);
	offload = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	if (offload)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	ret = setup_queues(cap, d, &conf, name, p->buffer_size_mb ? p->buffer_size_mb : 64);
	if (ret < 0)
		return ret;
	ret = rte_eth_dev_start(d->port);
	if (ret < 0)
		return fail(cap, ret, "rte_eth_dev_start", name);
	d->started = true;
	if (p->promiscuous && rte_eth_promiscuous_get(d->port) == 0 &&
	    rte_eth_promiscuous_enable(d->port) == 0)
		d->promisc_set = true;
	rte_eth_stats_reset(d->port);
	choose_tstamp(cap, d, offload, info.driver_name);
	say_queues(cap, p, d, name, info.driver_name);
	return 0;
}

static int dpdk_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	const char *name = pc_dpdk_port_name(p->interface);
	struct dpdk *d;
	uint16_t port;
	int ret;

	ret = pc_capture_check_buffer_mb("dpdk", p->buffer_size_mb ? p->buffer_size_mb : 64,
					 cap->err, sizeof(cap->err));
	if (ret < 0)
		return ret;
	/* the EAL's log reaches this capture's log until the port runs */
	ret = pc_dpdk_eal_start(p->dpdk_eal, p->log_fn, p->log_ctx, p->log_level, cap->err,
				sizeof(cap->err));
	if (ret < 0) {
		pc_dpdk_log_target(NULL, NULL, 0);
		return ret;
	}
	ret = pc_dpdk_port_take(name, &port, cap->err, sizeof(cap->err));
	if (ret < 0) {
		pc_dpdk_log_target(NULL, NULL, 0);
		return ret;
	}
	/* at most one queue per worker */
	d = calloc(1, sizeof(*d) + sizeof(d->q[0]) * (p->workers ? p->workers : 1));
	if (!d) {
		pc_dpdk_port_put(port);
		pc_dpdk_log_target(NULL, NULL, 0);
		return -ENOMEM;
	}
	d->port = port;
	d->taken = true;
	d->snaplen = p->snaplen ? p->snaplen : 262144;
	cap->priv = d;
	ret = open_port(cap, p, d, name);
	pc_dpdk_log_target(NULL, NULL, 0);
	if (ret < 0) {
		dpdk_close(cap);
		return ret;
	}
	cap->nqueues = d->nq;
	cap->linktype = PC_DLT_EN10MB;
	cap->filter_applied = false; /* the worker runs the compiled program */
	return 0;
}

static uint64_t tsc_now(struct dpdk *d, struct dpdk_q *q)
{
	uint64_t t = rte_get_tsc_cycles(), dt = t - q->tsc0;

	if (dt >= d->tsc_hz) { /* re-anchor every second: follows clock steps */
		q->tsc0 = t;
		q->wall0 = pc_wall_ns();
		return q->wall0;
	}
	return q->wall0 + (uint64_t)((double)dt * 1e9 / (double)d->tsc_hz);
}

static uint64_t stamp(struct dpdk *d, struct dpdk_q *q, const struct rte_mbuf *m, uint64_t burst)
{
	uint64_t v;

	if (d->ts == TS_TSC || !(m->ol_flags & d->ts_flag))
		return burst;
	v = *RTE_MBUF_DYNFIELD(m, d->ts_off, const rte_mbuf_timestamp_t *);
	if (d->ts == TS_DYNFIELD)
		return v * 1000;
	return q->clk_ns0 + (uint64_t)((double)(int64_t)(v - q->clk0) * d->clk_ns_per_tick);
}

/* A chained mbuf: copied to the queue's bounce area (snaplen bounded). */
static const uint8_t *linear(struct dpdk *d, struct dpdk_q *q, unsigned i, const struct rte_mbuf *m,
			     uint32_t *caplen)
{
	uint32_t len = m->pkt_len < d->snaplen ? m->pkt_len : d->snaplen;

	if (!q->bounce)
		q->bounce = malloc((size_t)PC_BURST * DPDK_BOUNCE);
	if (!q->bounce) {
		*caplen = m->data_len < len ? m->data_len : len;
		return rte_pktmbuf_mtod(m, const uint8_t *);
	}
	if (len > DPDK_BOUNCE)
		len = DPDK_BOUNCE;
	*caplen = len;
	return rte_pktmbuf_read(m, 0, len, q->bounce + (size_t)i * DPDK_BOUNCE);
}

static unsigned fill(struct dpdk *d, struct dpdk_q *q, struct pc_pkt *pkts, unsigned n)
{
	uint64_t burst = tsc_now(d, q); /* also for mbufs without a stamp */
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct rte_mbuf *m = q->m[i];
		struct pc_pkt *pk = &pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(q->m[i + 1], void *));
		if (pc_likely(m->nb_segs == 1)) {
			pk->data = rte_pktmbuf_mtod(m, const uint8_t *);
			pk->caplen = m->data_len < d->snaplen ? m->data_len : d->snaplen;
		} else {
			pk->data = linear(d, q, i, m, &pk->caplen);
		}
		pk->wirelen = m->pkt_len;
		pk->ts_ns = stamp(d, q, m, burst);
		pk->linktype = PC_DLT_EN10MB;
		pk->ifindex = 0;
	}
	return n;
}

/* No RSS, several port queues: the first that has packets, round robin. */
static uint16_t rx_fixed(struct dpdk *d, struct dpdk_q *q, unsigned max)
{
	unsigned k, hq = d->next_hw;
	uint16_t n = 0;

	for (k = 0; k < d->nhw && !n; k++) {
		hq = (d->next_hw + k) % d->nhw;
		n = rte_eth_rx_burst(d->port, (uint16_t)hq, q->m, (uint16_t)max);
	}
	d->next_hw = (hq + 1) % d->nhw;
	return n;
}

static int dpdk_rx_burst(struct pc_cap *cap, unsigned qi, struct pc_pkt *pkts, unsigned max,
			 int timeout_ms)
{
	struct dpdk *d = cap->priv;
	struct dpdk_q *q = &d->q[qi];
	uint64_t deadline = 0;
	uint16_t n;

	if (max > PC_BURST)
		max = PC_BURST;
	for (;;) {
		n = d->nhw == d->nq ? rte_eth_rx_burst(d->port, (uint16_t)qi, q->m, (uint16_t)max)
				    : rx_fixed(d, q, max);
		if (n || timeout_ms <= 0)
			break;
		if (!deadline)
			deadline = rte_get_tsc_cycles() + d->tsc_hz / 1000 * (uint64_t)timeout_ms;
		else if (rte_get_tsc_cycles() >= deadline)
			break;
		rte_delay_us_sleep(DPDK_IDLE_US);
	}
	q->n = n;
	return (int)fill(d, q, pkts, n);
}

static void dpdk_rx_release(struct pc_cap *cap, unsigned qi, unsigned n)
{
	struct dpdk *d = cap->priv;
	struct dpdk_q *q = &d->q[qi];

	if (q->n)
		rte_pktmbuf_free_bulk(q->m, q->n);
	q->n = 0;
}

static int dpdk_stats(struct pc_cap *cap, unsigned q, struct pc_cap_stats *st)
{
	struct dpdk *d = cap->priv;
	struct rte_eth_stats es;

	memset(st, 0, sizeof(*st));
	if (!d || q >= d->nq)
		return -EINVAL;
	if (q != 0)
		return 0; /* port-wide counters: reported once */
	if (rte_eth_stats_get(d->port, &es) != 0)
		return -CAPTURE_E_BACKEND;
	st->packets = es.ipackets + es.imissed;
	st->drops = es.imissed;
	st->dpdk_ipackets = es.ipackets;
	st->dpdk_imissed = es.imissed;
	st->dpdk_rx_nombuf = es.rx_nombuf;
	st->dpdk_ierrors = es.ierrors;
	return 0;
}

const struct pc_capture_ops pc_cap_dpdk_ops = {
	.name = "dpdk",
	.preference = 50,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_AUTO | PC_CAP_F_PORTS,
	.probe = dpdk_probe,
	.open = dpdk_open,
	.rx_burst = dpdk_rx_burst,
	.rx_release = dpdk_rx_release,
	.stats = dpdk_stats,
	.close = dpdk_close,
};

#else /* !HAVE_DPDK */

/* A "dpdk:" name is let through to open, which says why: auto then stops
 * there (PC_CAP_F_PORTS) instead of calling it a missing kernel interface. */
static int dpdk_probe(const char *ifname, char *reason, size_t len)
{
	snprintf(reason, len,
		 "not compiled in (libdpdk-dev not found at build time, or "
		 "-DPC_DPDK=OFF)");
	return ifname && strncmp(ifname, "dpdk:", 5) == 0 ? 0 : -CAPTURE_E_BACKEND;
}

static int dpdk_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	char reason[160];

	dpdk_probe(NULL, reason, sizeof(reason));
	snprintf(cap->err, sizeof(cap->err), "dpdk: %s", reason);
	return -CAPTURE_E_BACKEND;
}

const struct pc_capture_ops pc_cap_dpdk_ops = {
	.name = "dpdk",
	.preference = 50,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_AUTO | PC_CAP_F_PLACEHOLDER | PC_CAP_F_PORTS,
	.probe = dpdk_probe,
	.open = dpdk_open,
};

#endif /* HAVE_DPDK */
