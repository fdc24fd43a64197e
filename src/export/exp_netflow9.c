/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow v9 exporter (RFC 3954) over UDP: templates for IPv4 and IPv6 in a datagram of
 * their own at start and every template_refresh seconds; a biflow leaves as one uniflow
 * record per direction (v9 has no reverse elements); sequence = export packets sent before.
 * Times use the absolute flowStart/EndMilliseconds (152/153), not uptime offsets.
 * Record layouts come from nf_fields.c (--fields: IANA elements only); with packet
 * sampling an options template and record (SAMPLING_INTERVAL/ALGORITHM) go with them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/compiler.h"
#include "export/nf_common.h"
#include "export/nf_fields.h"
#include "util/log.h"

#define V9_HDR 20
#define V9_TID4 256
#define V9_TID6 257
#define V9_TID_SAMPLING 258 /* options: the session's packet sampling */
#define V9_SAMPLING_REC 9

struct nf9 {
	struct nf_cfg cfg;
	struct nf_io io;
	struct nf_msg m[3];		      /* IPv4 data, IPv6 data, templates */
	struct nf_field fl[2][NF_MAX_FIELDS]; /* IPv4, IPv6 record layouts */
	size_t nfl[2], rlen[2];
	uint64_t start_ns;
	uint64_t tmpl_ns; /* when templates last went out */
	bool tmpl_due;
	uint64_t packets_sent; /* sequence number */
};

/* The record layouts of the selected fields; refused when the MTU cannot hold them. */
static int nf9_layouts(struct nf9 *x, const char *spec, char *err, size_t errlen)
{
	int k;

	for (k = 0; k < 2; k++) {
		struct nf_layout l = { .version = 9, .ipver = k ? 6 : 4, .fields = x->cfg.fields };

		x->nfl[k] = pc_nf_layout(&l, x->fl[k]);
		x->rlen[k] = pc_nf_rec_len(x->fl[k], x->nfl[k]);
		if (V9_HDR + 4 + 8 + 4 * x->nfl[k] > x->cfg.mtu)
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "%s: mtu %u too small for the selected fields", spec,
				       x->cfg.mtu);
	}
	return 0;
}

static int nf9_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		    size_t errlen)
{
	struct nf9 *x;
	int rc;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	rc = pc_nf_cfg(t, 9, &x->cfg, err, errlen);
	if (rc)
		goto free_x;
	rc = nf9_layouts(x, t->spec, err, errlen);
	if (rc)
		goto free_x;
	rc = pc_nf_io_open(&x->io, e, &x->cfg, err, errlen);
	if (rc)
		goto free_x;
	x->start_ns = pc_nf_now_ns();
	x->tmpl_due = true;
	e->priv = x;
	return 0;
free_x:
	free(x);
	return rc;
}

static void nf9_finish(struct nf9 *x, int k)
{
	struct nf_msg *m = &x->m[k];
	uint64_t now = pc_nf_now_ns();
	uint8_t *p;

	if (!nf_msg_open(m))
		return;
	pc_nf_msg_close_set(m, true);
	p = m->buf;
	p = nf_put16(p, 9);
	p = nf_put16(p, (uint16_t)m->nrec);
	p = nf_put32(p, (uint32_t)((now - x->start_ns) / 1000000ull)); /* sysUptime */
	p = nf_put32(p, (uint32_t)(now / 1000000000ull));
	p = nf_put32(p, (uint32_t)x->packets_sent);
	nf_put32(p, x->cfg.domain); /* source id */
	x->packets_sent++;
	pc_nf_io_msg_done(&x->io, m->buf, m->len, m->nrec);
	m->buf = NULL;
}

static void nf9_begin(struct nf9 *x, int k, uint64_t now)
{
	pc_nf_msg_begin(&x->m[k], pc_nf_io_msg(&x->io), x->cfg.mtu, V9_HDR, now);
}

/* Room for @len bytes in the template message (a new one when full). */
static uint8_t *tmpl_room(struct nf9 *x, uint16_t set, size_t len, uint64_t now)
{
	uint8_t *p = pc_nf_msg_add(&x->m[2], set, len, true);

	if (!p) { /* only with a small MTU: templates get a datagram each */
		nf9_finish(x, 2);
		nf9_begin(x, 2, now);
		p = pc_nf_msg_add(&x->m[2], set, len, true);
	}
	x->m[2].nrec++;
	return p;
}

/* Options template and record: SAMPLING_INTERVAL, SAMPLING_ALGORITHM (1 deterministic,
 * 2 random) scoped to the system (the source id). */
static void add_sampling(struct nf9 *x, uint64_t now)
{
	uint8_t *p = tmpl_room(x, 1, 6 + 12, now);

	p = nf_put16(p, V9_TID_SAMPLING);
	p = nf_put16(p, 4); /* scope length in bytes */
	p = nf_put16(p, 8); /* option length in bytes */
	p = nf_put16(p, 1); /* scope: System */
	p = nf_put16(p, 4);
	p = nf_put16(p, 34); /* SAMPLING_INTERVAL */
	p = nf_put16(p, 4);
	p = nf_put16(p, 35); /* SAMPLING_ALGORITHM */
	nf_put16(p, 1);
	p = tmpl_room(x, V9_TID_SAMPLING, V9_SAMPLING_REC, now);
	p = nf_put32(p, x->cfg.domain);
	p = nf_put32(p, x->cfg.sample_rate);
	nf_put8(p, x->cfg.sample_random ? 2 : 1);
}

/* Templates leave in a datagram of their own, ahead of any data that needs them. */
static void nf9_templates(struct nf9 *x, uint64_t now)
{
	int k;

	nf9_begin(x, 2, now);
	for (k = 0; k < 2; k++) {
		uint8_t *p = tmpl_room(x, 0, 4 + 4 * x->nfl[k], now);

		pc_nf_template(p, k ? V9_TID6 : V9_TID4, x->fl[k], x->nfl[k], 0, false);
	}
	if (x->cfg.sample_rate)
		add_sampling(x, now);
	nf9_finish(x, 2);
	x->tmpl_due = false;
	x->tmpl_ns = now;
}

static bool refresh_due(const struct nf9 *x, uint64_t now)
{
	return x->tmpl_due || now - x->tmpl_ns >= (uint64_t)x->cfg.refresh_sec * 1000000000ull;
}

/* IPv4 and IPv6 records fill separate datagrams: full ones then all have one size, and
 * the UDP transport sends a run of them with one GSO send. */
static int nf9_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct nf9 *x = e->priv;
	uint64_t now = pc_nf_now_ns();
	struct nf_uni u[2];
	size_t i;
	unsigned k, nu;

	if (refresh_due(x, now))
		nf9_templates(x, now);
	for (i = 0; i < n; i++) {
		const struct capture_flow *f = &recs[i];
		int s = f->ip_version == 4 ? 0 : 1;
		uint16_t tid = s ? V9_TID6 : V9_TID4;
		size_t rl = x->rlen[s];

		struct nf_enc enc;

		pc_nf_enc_init(&enc, x->cfg.sample_scale ? x->cfg.sample_rate : 1);
		nu = pc_nf_split(f, u);
		for (k = 0; k < nu; k++) {
			uint8_t *p = NULL;

			if (nf_msg_open(&x->m[s]))
				p = pc_nf_msg_add(&x->m[s], tid, rl, true);
			if (!p) {
				nf9_finish(x, s);
				nf9_begin(x, s, now);
				p = pc_nf_msg_add(&x->m[s], tid, rl, true);
			}
			pc_nf_encode(p, x->fl[s], x->nfl[s], f, &u[k], &u[k], &enc);
			x->m[s].nrec++;
		}
	}
	atomic_fetch_add_explicit(&e->cnt.records, n, memory_order_relaxed);
	return (int)n;
}

static int nf9_tick(struct pc_exporter *e, uint64_t now_ns)
{
	struct nf9 *x = e->priv;
	int k;

	for (k = 0; k < 2; k++)
		if (nf_msg_open(&x->m[k]) && now_ns - x->m[k].started_ns >= NF_FLUSH_AGE_NS)
			nf9_finish(x, k);
	/* Refreshed even when no flows arrive: a collector that restarted learns the
	 * templates before the next data. */
	if (refresh_due(x, now_ns))
		nf9_templates(x, now_ns);
	return pc_nf_io_flush(&x->io);
}

static int nf9_flush(struct pc_exporter *e)
{
	struct nf9 *x = e->priv;

	if (x->tmpl_due)
		nf9_templates(x, pc_nf_now_ns());
	nf9_finish(x, 0);
	nf9_finish(x, 1);
	return pc_nf_io_flush(&x->io);
}

static void nf9_close(struct pc_exporter *e)
{
	struct nf9 *x = e->priv;

	if (!x)
		return;
	nf9_flush(e);
	pc_nf_io_close(&x->io);
	free(x);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_netflow9_ops = {
	.name = "netflow9",
	.open = nf9_open,
	.write = nf9_write,
	.tick = nf9_tick,
	.flush = nf9_flush,
	.close = nf9_close,
};
