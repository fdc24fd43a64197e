/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow v5 exporter: IPv4 uniflow records over UDP, 30 per datagram at most and never
 * more than the MTU holds (28 at the default 1400 bytes).
 * IPv6 flows are counted as not exportable; a biflow becomes one record per direction
 * with packets; counters above 32 bits are split over several records (totals stay exact).
 * Packet sampling is declared in the header's sampling field (mode and interval).
 */
#include <errno.h>
#include <stdlib.h>

#include "util/compiler.h"
#include "export/nf_common.h"

#define V5_HDR 24
#define V5_REC 48
#define V5_MAX_REC 30
#define U32_MAX_ 0xffffffffull

struct nf5 {
	struct nf_cfg cfg;
	struct nf_io io;
	uint8_t *msg; /* datagram being filled, NULL: none */
	unsigned nrec;
	uint64_t started_ns;
	uint64_t first_ms[V5_MAX_REC], last_ms[V5_MAX_REC];
	uint64_t start_ms; /* exporter start: sysUptime 0 */
	uint64_t base_ms;  /* uptime origin; lowered for older (offline) flows */
	uint64_t max_last_ms;
	uint64_t flows_sent; /* flow_sequence */
	unsigned max_rec;    /* 30, or fewer when the MTU is smaller */
	uint16_t sampling;   /* header: 01 deterministic / 10 random, 14-bit interval */
	uint64_t scale;	     /* --sample-scale: counters times the interval */
};

static int nf5_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		    size_t errlen)
{
	struct nf5 *x;
	int rc;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	rc = pc_nf_cfg(t, 5, &x->cfg, err, errlen);
	if (rc)
		goto free_x;
	rc = pc_nf_io_open(&x->io, e, &x->cfg, err, errlen);
	if (rc)
		goto free_x;
	x->max_rec = PC_MIN(V5_MAX_REC, (x->cfg.mtu - V5_HDR) / V5_REC);
	if (x->cfg.sample_rate && x->cfg.sample_rate < (1u << 14))
		x->sampling =
			(uint16_t)((x->cfg.sample_random ? 2u : 1u) << 14 | x->cfg.sample_rate);
	x->scale = x->cfg.sample_scale ? x->cfg.sample_rate : 1;
	x->start_ms = pc_nf_now_ns() / 1000000ull;
	x->base_ms = x->start_ms;
	e->priv = x;
	return 0;
free_x:
	free(x);
	return rc;
}

/*
 * Close the datagram: First/Last are uptime milliseconds, so the header's clock and
 * uptime are chosen together such that a collector's unix_ms - sysUptime + First gives
 * back each flow's absolute time. The origin is the exporter's start, or the oldest flow
 * seen when older traffic (a capture file) is exported; when wall clock minus that origin
 * overflows 32 bits the header clock follows the flows' own time instead.
 */
static void nf5_finish(struct nf5 *x)
{
	uint64_t now_ms = pc_nf_now_ns() / 1000000ull, hdr_ms;
	uint8_t *p;
	unsigned i;

	if (!x->msg)
		return;
	for (i = 0; i < x->nrec; i++)
		if (x->first_ms[i] < x->base_ms)
			x->base_ms = x->first_ms[i];
	hdr_ms = now_ms;
	if (hdr_ms < x->max_last_ms || hdr_ms - x->base_ms > U32_MAX_)
		hdr_ms = x->max_last_ms;
	if (hdr_ms - x->base_ms > U32_MAX_)
		x->base_ms = hdr_ms - U32_MAX_;
	p = x->msg;
	p = nf_put16(p, 5);
	p = nf_put16(p, (uint16_t)x->nrec);
	p = nf_put32(p, (uint32_t)(hdr_ms - x->base_ms));
	p = nf_put32(p, (uint32_t)(hdr_ms / 1000));
	p = nf_put32(p, (uint32_t)(hdr_ms % 1000) * 1000000u);
	p = nf_put32(p, (uint32_t)x->flows_sent);
	p = nf_put8(p, (uint8_t)(x->cfg.domain >> 8)); /* engine_type */
	p = nf_put8(p, (uint8_t)x->cfg.domain);	       /* engine_id */
	nf_put16(p, x->sampling);		       /* mode << 14 | interval */
	for (i = 0; i < x->nrec; i++) {
		uint8_t *r = x->msg + V5_HDR + (size_t)i * V5_REC + 24;
		uint64_t f = x->first_ms[i] > x->base_ms ? x->first_ms[i] - x->base_ms : 0;
		uint64_t l = x->last_ms[i] > x->base_ms ? x->last_ms[i] - x->base_ms : 0;

		r = nf_put32(r, (uint32_t)f);
		nf_put32(r, (uint32_t)l);
	}
	x->flows_sent += x->nrec;
	pc_nf_io_msg_done(&x->io, x->msg, V5_HDR + (size_t)x->nrec * V5_REC, x->nrec);
	x->msg = NULL;
	x->nrec = 0;
}

static void nf5_add(struct nf5 *x, const struct capture_flow *f, const struct nf_uni *u,
		    uint32_t pkts, uint32_t bytes)
{
	uint8_t *p;
	bool icmp = f->proto == 1;

	if (!x->msg) {
		x->msg = pc_nf_io_msg(&x->io);
		x->nrec = 0;
		x->started_ns = pc_nf_now_ns();
	}
	p = x->msg + V5_HDR + (size_t)x->nrec * V5_REC;
	memcpy(p, u->src, 4);
	memcpy(p + 4, u->dst, 4);
	memset(p + 8, 0, 8); /* nexthop, input, output */
	p = nf_put32(p + 16, pkts);
	p = nf_put32(p, bytes);
	p += 8; /* First, Last: at finish */
	p = nf_put16(p, icmp ? 0 : u->sport);
	p = nf_put16(p, icmp ? (uint16_t)(u->icmp_type << 8 | u->icmp_code) : u->dport);
	p = nf_put8(p, 0); /* pad1 */
	p = nf_put8(p, u->flags);
	p = nf_put8(p, f->proto);
	memset(p, 0, 9); /* tos, src_as, dst_as, masks, pad2 */
	x->first_ms[x->nrec] = u->first_ns / 1000000ull;
	x->last_ms[x->nrec] = u->last_ns / 1000000ull;
	if (x->last_ms[x->nrec] > x->max_last_ms)
		x->max_last_ms = x->last_ms[x->nrec];
	if (++x->nrec == x->max_rec)
		nf5_finish(x);
}

static int nf5_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct nf5 *x = e->priv;
	uint64_t accepted = 0, skipped = 0;
	struct nf_uni u[2];
	size_t i;
	unsigned k, nu;

	for (i = 0; i < n; i++) {
		const struct capture_flow *f = &recs[i];

		if (f->ip_version != 4) {
			skipped++;
			continue;
		}
		accepted++;
		nu = pc_nf_split(f, u);
		for (k = 0; k < nu; k++) {
			uint64_t pk = u[k].packets * x->scale, by = u[k].bytes * x->scale;
			uint64_t parts, j;

			if (pc_likely(pk <= U32_MAX_ && by <= U32_MAX_)) {
				nf5_add(x, f, &u[k], (uint32_t)pk, (uint32_t)by);
				continue;
			}
			/* 32-bit counters: share the totals over enough records. */
			parts = PC_MAX((pk + U32_MAX_ - 1) / U32_MAX_,
				       (by + U32_MAX_ - 1) / U32_MAX_);
			for (j = 0; j < parts; j++)
				nf5_add(x, f, &u[k], (uint32_t)(pk / parts + (j < pk % parts)),
					(uint32_t)(by / parts + (j < by % parts)));
		}
	}
	if (skipped)
		atomic_fetch_add_explicit(&e->cnt.not_exportable, skipped, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->cnt.records, accepted, memory_order_relaxed);
	return (int)n;
}

static int nf5_tick(struct pc_exporter *e, uint64_t now_ns)
{
	struct nf5 *x = e->priv;

	if (x->msg && now_ns - x->started_ns >= NF_FLUSH_AGE_NS)
		nf5_finish(x);
	return pc_nf_io_flush(&x->io);
}

static int nf5_flush(struct pc_exporter *e)
{
	struct nf5 *x = e->priv;

	nf5_finish(x);
	return pc_nf_io_flush(&x->io);
}

static void nf5_close(struct pc_exporter *e)
{
	struct nf5 *x = e->priv;

	if (!x)
		return;
	nf5_flush(e);
	pc_nf_io_close(&x->io);
	free(x);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_netflow5_ops = {
	.name = "netflow5",
	.open = nf5_open,
	.write = nf5_write,
	.tick = nf5_tick,
	.flush = nf5_flush,
	.close = nf5_close,
};
