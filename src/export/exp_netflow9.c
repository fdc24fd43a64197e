/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow v9 exporter (RFC 3954) over UDP: templates for IPv4 and IPv6 in a datagram of
 * their own at start and every template_refresh seconds; a biflow leaves as one uniflow
 * record per direction (v9 has no reverse elements); sequence = export packets sent before.
 * Times use the absolute flowStart/EndMilliseconds (152/153), not uptime offsets.
 */
#include <errno.h>
#include <stdlib.h>

#include "util/compiler.h"
#include "export/nf_common.h"

#define V9_HDR 20
#define V9_TID4 256
#define V9_TID6 257

struct v9_field {
	uint16_t type, len;
};

/* Record layouts; v9_encode() writes the fields in this order. */
static const struct v9_field v9_fields4[] = {
	{ 8, 4 },   /* IPV4_SRC_ADDR */
	{ 12, 4 },  /* IPV4_DST_ADDR */
	{ 7, 2 },   /* L4_SRC_PORT */
	{ 11, 2 },  /* L4_DST_PORT */
	{ 4, 1 },   /* PROTOCOL */
	{ 6, 1 },   /* TCP_FLAGS */
	{ 58, 2 },  /* SRC_VLAN */
	{ 32, 2 },  /* ICMP_TYPE: type * 256 + code */
	{ 10, 4 },  /* INPUT_SNMP */
	{ 61, 1 },  /* DIRECTION: 0 ingress */
	{ 136, 1 }, /* flowEndReason */
	{ 1, 8 },   /* IN_BYTES */
	{ 2, 8 },   /* IN_PKTS */
	{ 152, 8 }, /* flowStartMilliseconds */
	{ 153, 8 }, /* flowEndMilliseconds */
};

static const struct v9_field v9_fields6[] = {
	{ 27, 16 }, /* IPV6_SRC_ADDR */
	{ 28, 16 }, /* IPV6_DST_ADDR */
	{ 7, 2 },   { 11, 2 },	{ 4, 1 }, { 6, 1 }, { 58, 2 },	{ 32, 2 },  { 10, 4 },
	{ 61, 1 },  { 136, 1 }, { 1, 8 }, { 2, 8 }, { 152, 8 }, { 153, 8 },
};

#define V9_REC4 56
#define V9_REC6 80

struct nf9 {
	struct nf_cfg cfg;
	struct nf_io io;
	struct nf_msg m[3]; /* IPv4 data, IPv6 data, templates */
	uint64_t start_ns;
	uint64_t tmpl_ns; /* when templates last went out */
	bool tmpl_due;
	uint64_t packets_sent; /* sequence number */
};

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
	pc_nf_io_msg_done(&x->io, m->buf, m->len);
	m->buf = NULL;
}

static void nf9_begin(struct nf9 *x, int k, uint64_t now)
{
	pc_nf_msg_begin(&x->m[k], pc_nf_io_msg(&x->io), x->cfg.mtu, V9_HDR, now);
}

static void add_template(struct nf9 *x, uint16_t id, const struct v9_field *fl, size_t nf,
			 uint64_t now)
{
	uint8_t *p = pc_nf_msg_add(&x->m[2], 0, 4 + 4 * nf, true);
	size_t i;

	if (!p) { /* only with a small MTU: templates get a datagram each */
		nf9_finish(x, 2);
		nf9_begin(x, 2, now);
		p = pc_nf_msg_add(&x->m[2], 0, 4 + 4 * nf, true);
	}
	p = nf_put16(p, id);
	p = nf_put16(p, (uint16_t)nf);
	for (i = 0; i < nf; i++) {
		p = nf_put16(p, fl[i].type);
		p = nf_put16(p, fl[i].len);
	}
	x->m[2].nrec++;
}

/* Templates leave in a datagram of their own, ahead of any data that needs them. */
static void nf9_templates(struct nf9 *x, uint64_t now)
{
	nf9_begin(x, 2, now);
	add_template(x, V9_TID4, v9_fields4, PC_ARRAY_SIZE(v9_fields4), now);
	add_template(x, V9_TID6, v9_fields6, PC_ARRAY_SIZE(v9_fields6), now);
	nf9_finish(x, 2);
	x->tmpl_due = false;
	x->tmpl_ns = now;
}

static bool refresh_due(const struct nf9 *x, uint64_t now)
{
	return x->tmpl_due || now - x->tmpl_ns >= (uint64_t)x->cfg.refresh_sec * 1000000000ull;
}

static void v9_encode(uint8_t *p, const struct capture_flow *f, const struct nf_uni *u)
{
	bool icmp = (f->ip_version == 4 && f->proto == 1) || (f->ip_version == 6 && f->proto == 58);
	size_t al = f->ip_version == 4 ? 4 : 16;

	memcpy(p, u->src, al);
	memcpy(p + al, u->dst, al);
	p += 2 * al;
	p = nf_put16(p, u->sport);
	p = nf_put16(p, u->dport);
	p = nf_put8(p, f->proto);
	p = nf_put8(p, u->flags);
	p = nf_put16(p, f->vlan);
	p = nf_put16(p, icmp ? (uint16_t)(u->icmp_type << 8 | u->icmp_code) : 0);
	p = nf_put32(p, 0);
	p = nf_put8(p, 0);
	p = nf_put8(p, pc_nf_end_reason(f->end_reason));
	p = nf_put64(p, u->bytes);
	p = nf_put64(p, u->packets);
	p = nf_put64(p, u->first_ns / 1000000ull);
	nf_put64(p, u->last_ns / 1000000ull);
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
		size_t rl = s ? V9_REC6 : V9_REC4;

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
			v9_encode(p, f, &u[k]);
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
