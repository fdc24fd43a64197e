/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPFIX exporter (RFC 7011) over UDP, TCP or to a file (RFC 5655). Biflows carry RFC 5103
 * reverse elements (PEN 29305) unless uniflow export is asked for. An options template
 * and record report the exporting process statistics. Sequence number = data records sent
 * before the message in this observation domain. TCP keeps records in a bounded ring until
 * the messages holding them are written to the socket, so an outage loses only the bound.
 * Record layouts come from nf_fields.c (--fields); the same templates build stand-alone
 * messages for Kafka (ipfix_msg.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/compiler.h"
#include "export/nf_common.h"
#include "export/ipfix_msg.h"
#include "export/nf_fields.h"
#include "util/log.h"

#define IPFIX_HDR 16
#define TID_BI4 256
#define TID_BI6 257
#define TID_UNI4 258
#define TID_UNI6 259
#define TID_OPTS 260
#define TID_SAMPLING 261
#define TID_TUNNEL 262		 /* + 4 uniflow + 2 inner IPv6 + 1 outer IPv6 */
#define TID_VAR 270		 /* data templates of the sections a flow has, as they appear */
#define NVAR 128		 /* of those at most; beyond, a flow's record lacks its sections */
#define NBASE 6			 /* 2 data, 4 tunnel data */
#define NTMPL (NBASE + 2 + NVAR) /* + statistics, sampling */

#define IE(i, l)                      \
	{                             \
		.id = (i), .len = (l) \
	}

/* Exporting process reliability statistics (RFC 7011 section 4.3). */
static const struct nf_field opts_ies[] = {
	IE(144, 4), /* exportingProcessId (scope) = observation domain */
	IE(41, 8),  /* exportedMessageTotalCount */
	IE(42, 8),  /* exportedFlowRecordTotalCount */
	IE(40, 8),  /* exportedOctetTotalCount */
	IE(164, 8), /* ignoredPacketTotalCount: packets in no flow */
	IE(166, 8), /* notSentFlowTotalCount */
	IE(167, 8), /* notSentPacketTotalCount */
	IE(160, 8), /* systemInitTimeMilliseconds */
};

/* Packet selection (RFC 5477), with the older samplingInterval/Algorithm beside it
 * for collectors that read only those (nfdump). */
static const struct nf_field sampling_det[] = {
	IE(149, 4), /* observationDomainId (scope) */
	IE(34, 4),  /* samplingInterval */
	IE(35, 1),  /* samplingAlgorithm: 1 deterministic */
	IE(304, 2), /* selectorAlgorithm: 1 systematic count-based */
	IE(305, 4), /* samplingPacketInterval: 1 */
	IE(306, 4), /* samplingPacketSpace: N - 1 */
};
static const struct nf_field sampling_rnd[] = {
	IE(149, 4), IE(34, 4), IE(35, 1), /* 2: random */
	IE(304, 2),			  /* selectorAlgorithm: 4 uniform probabilistic */
	IE(311, 8),			  /* samplingProbability: 1 / N */
};

#define OPTS_REC 60

struct ipfix_tmpl {
	uint16_t tid;
	uint16_t set; /* 2 data, 3 options */
	struct nf_field fl[NF_MAX_FIELDS];
	size_t nfl, rlen, wlen; /* rlen: the largest record */
	bool varlen;		/* records differ in length (strings) */
	uint8_t wire[8 + 8 * NF_MAX_FIELDS];
};

/* Counters that a TCP rewind restores together. */
struct ipfix_seq {
	uint64_t seq; /* data records in messages so far */
	uint64_t msgs, flow_recs, octets;
};

struct ipfix {
	struct nf_cfg cfg;
	struct nf_io io;
	struct nf_msg m[3]; /* IPv4 data, IPv6 data, templates + statistics */
	bool uni;
	struct ipfix_tmpl t[NTMPL];
	unsigned ntmpl;
	int base[2];	/* data templates by inner IP version (4, 6) */
	int tun[2][2];	/* [inner v6][outer v6] tunnel data templates, -1: none */
	int opts, samp; /* statistics and sampling options templates, -1: none */
	int16_t var[NBASE][NF_SEC_ALL + 1]; /* section templates by base, + 1; 0: none yet */
	unsigned nvar;
	bool var_full_logged;
	uint64_t start_ns;
	uint64_t tmpl_ns;
	bool tmpl_due, opts_due;
	struct ipfix_seq s;
	/* TCP */
	struct nf_ring ring;
	size_t inflight; /* ring records encoded into io.out */
	uint64_t inflight_msgs;
	struct ipfix_seq committed;
	uint32_t conn_gen;
};

static int add_tmpl(struct ipfix *x, uint16_t tid, const struct nf_field *fl, size_t n,
		    unsigned scope)
{
	struct ipfix_tmpl *t = &x->t[x->ntmpl];

	t->tid = tid;
	t->set = scope ? 3 : 2;
	memcpy(t->fl, fl, n * sizeof(*fl));
	t->nfl = n;
	t->rlen = pc_nf_rec_len(fl, n);
	t->varlen = pc_nf_has_varlen(fl, n);
	t->wlen = pc_nf_template(t->wire, tid, fl, n, scope, true);
	return (int)x->ntmpl++;
}

static void base_layout(const struct ipfix *x, struct nf_layout *l, unsigned b, uint32_t sec)
{
	bool tun = b >= 2;
	unsigned in6 = tun ? (b - 2) >> 1 : b, out6 = tun ? (b - 2) & 1 : 0;

	*l = (struct nf_layout){ .version = 10,
				 .ipver = in6 ? 6 : 4,
				 .outer = tun ? (out6 ? 6 : 4) : 0,
				 .bi = !x->uni,
				 .ns = x->cfg.nanoseconds,
				 .fields = x->cfg.fields,
				 .pen = x->cfg.pen,
				 .sec = sec };
}

/* Data template @b (0, 1: IPv4, IPv6; 2 + 2 * inner IPv6 + outer IPv6: tunnels) with
 * the sections @sec. */
static int add_data_tmpl(struct ipfix *x, uint16_t tid, unsigned b, uint32_t sec)
{
	struct nf_layout l;
	struct nf_field fl[NF_MAX_FIELDS];

	base_layout(x, &l, b, sec);
	return add_tmpl(x, tid, fl, pc_nf_layout(&l, fl), 0);
}

/* The largest record of base @b, every section present, fits the MTU? */
static bool largest_fits(const struct ipfix *x, unsigned b)
{
	struct nf_layout l;
	struct nf_field fl[NF_MAX_FIELDS];
	size_t n;

	base_layout(x, &l, b, NF_SEC_ALL);
	n = pc_nf_layout(&l, fl);
	return IPFIX_HDR + 4 + PC_MAX(8 + 8 * n, pc_nf_rec_len(fl, n)) <= x->cfg.mtu;
}

/* Every template, and the largest record of every data template with all its sections,
 * fit the MTU? */
static bool fits_mtu(const struct ipfix *x)
{
	unsigned i;

	for (i = 0; i < x->ntmpl; i++)
		if (IPFIX_HDR + 4 + PC_MAX(x->t[i].wlen, x->t[i].rlen) > x->cfg.mtu)
			return false;
	for (i = 0; i < NBASE; i++)
		if ((i < 2 || x->tun[0][0] >= 0) && !largest_fits(x, i))
			return false;
	return true;
}

/* The templates of the selected fields; refused when the MTU cannot hold one of them. */
static int build_templates(struct ipfix *x, const char *spec, char *err, size_t errlen)
{
	uint16_t tb = x->uni ? TID_UNI4 : TID_BI4, tt = TID_TUNNEL + (x->uni ? 4 : 0);
	unsigned in, out;

	x->base[0] = add_data_tmpl(x, tb, 0, 0);
	x->base[1] = add_data_tmpl(x, tb + 1, 1, 0);
	x->opts = add_tmpl(x, TID_OPTS, opts_ies, PC_ARRAY_SIZE(opts_ies), 1);
	x->samp = -1;
	if (x->cfg.sample_rate)
		x->samp = x->cfg.sample_random ? add_tmpl(x, TID_SAMPLING, sampling_rnd,
							  PC_ARRAY_SIZE(sampling_rnd), 1)
					       : add_tmpl(x, TID_SAMPLING, sampling_det,
							  PC_ARRAY_SIZE(sampling_det), 1);
	for (in = 0; in < 2; in++)
		for (out = 0; out < 2; out++)
			x->tun[in][out] = (x->cfg.fields & CAPTURE_FIELD_TUNNEL)
						  ? add_data_tmpl(x, (uint16_t)(tt + 2 * in + out),
								  2 + 2 * in + out, 0)
						  : -1;
	if (!fits_mtu(x))
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "%s: mtu %u too small for the selected fields", spec, x->cfg.mtu);
	return 0;
}

static int ipfix_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		      size_t errlen)
{
	struct ipfix *x;
	int rc;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	rc = pc_nf_cfg(t, 10, &x->cfg, err, errlen);
	if (rc)
		goto free_x;
	x->uni = x->cfg.uniflow;
	rc = build_templates(x, t->spec, err, errlen);
	if (rc)
		goto free_x;
	if (x->cfg.transport == CAPTURE_TRANSPORT_TCP) {
		rc = pc_nf_ring_init(&x->ring, x->cfg.tcp_queue);
		if (rc) {
			snprintf(err, errlen, "%s: out of memory for %u queued records", t->spec,
				 x->cfg.tcp_queue);
			goto free_x;
		}
	}
	rc = pc_nf_io_open(&x->io, e, &x->cfg, err, errlen);
	if (rc)
		goto free_ring;
	x->start_ns = pc_nf_now_ns();
	x->tmpl_due = true;
	x->opts_due = true;
	e->priv = x;
	return 0;
free_ring:
	pc_nf_ring_release(&x->ring);
free_x:
	free(x);
	return rc;
}

#define SLOT_CTL 2

static void finish(struct ipfix *x, int k)
{
	struct nf_msg *m = &x->m[k];
	uint64_t now = pc_nf_now_ns();
	uint8_t *p;

	if (!nf_msg_open(m))
		return;
	pc_nf_msg_close_set(m, false);
	p = m->buf;
	p = nf_put16(p, 10);
	p = nf_put16(p, (uint16_t)m->len);
	p = nf_put32(p, (uint32_t)(now / 1000000000ull)); /* export time */
	p = nf_put32(p, (uint32_t)x->s.seq);
	nf_put32(p, x->cfg.domain);
	x->s.seq += m->ndata;
	x->s.msgs++;
	x->s.octets += m->len;
	if (x->cfg.transport == CAPTURE_TRANSPORT_TCP)
		x->inflight_msgs++;
	pc_nf_io_msg_done(&x->io, m->buf, m->len, m->ndata);
	m->buf = NULL;
}

static void finish_data(struct ipfix *x)
{
	finish(x, 0);
	finish(x, 1);
}

/* Reserve @len bytes in set @set_id of message @k, starting a new one when it is full. */
static uint8_t *reserve(struct ipfix *x, int k, uint16_t set_id, size_t len, uint64_t now)
{
	struct nf_msg *m = &x->m[k];
	uint8_t *p = NULL;

	if (nf_msg_open(m))
		p = pc_nf_msg_add(m, set_id, len, false);
	if (!p) {
		finish(x, k);
		pc_nf_msg_begin(m, pc_nf_io_msg(&x->io), x->cfg.mtu, IPFIX_HDR, now);
		p = pc_nf_msg_add(m, set_id, len, false);
	}
	return p; /* never NULL: NF_MIN_MTU holds the largest record */
}

static void add_options_record(struct ipfix *x, uint64_t now)
{
	struct pc_exporter *e = x->io.e;
	struct capture_stats st;
	uint64_t ignored = 0, not_sent;
	uint8_t *p;
	int i;

	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	if (e->stats_fn) {
		e->stats_fn(e->stats_ctx, &st);
		for (i = 0; i < CAPTURE_SKIP_COUNT; i++)
			ignored += st.skipped[i];
	}
	not_sent = st.export_queue_drops + st.flows_dropped +
		   atomic_load_explicit(&e->cnt.queue_drops, memory_order_relaxed);
	p = reserve(x, SLOT_CTL, TID_OPTS, OPTS_REC, now);
	p = nf_put32(p, x->cfg.domain);
	p = nf_put64(p, x->s.msgs);
	p = nf_put64(p, x->s.flow_recs);
	p = nf_put64(p, x->s.octets);
	p = nf_put64(p, ignored);
	p = nf_put64(p, not_sent);
	p = nf_put64(p, st.packets_in_dropped_records);
	nf_put64(p, x->start_ns / 1000000ull);
	x->m[SLOT_CTL].nrec++;
	x->m[SLOT_CTL].ndata++;
}

/* The sampling options record (template TID_SAMPLING) at @p. */
static void put_sampling(const struct ipfix *x, uint8_t *p)
{
	uint32_t n = x->cfg.sample_rate;
	double prob = 1.0 / n;
	uint64_t bits;

	p = nf_put32(p, x->cfg.domain);
	p = nf_put32(p, n);
	if (x->cfg.sample_random) {
		p = nf_put8(p, 2);
		p = nf_put16(p, 4);
		memcpy(&bits, &prob, sizeof(bits));
		nf_put64(p, bits);
	} else {
		p = nf_put8(p, 1);
		p = nf_put16(p, 1);
		p = nf_put32(p, 1);
		nf_put32(p, n - 1);
	}
}

static void add_sampling_record(struct ipfix *x, uint64_t now)
{
	put_sampling(x, reserve(x, SLOT_CTL, TID_SAMPLING, x->t[x->samp].rlen, now));
	x->m[SLOT_CTL].nrec++;
	x->m[SLOT_CTL].ndata++;
}

/*
 * Templates (when due) and the statistics record leave in a message of their own, ahead of
 * any data message that is finished after them.
 */
static void send_control(struct ipfix *x, uint64_t now)
{
	int i;

	if (x->tmpl_due) {
		for (i = 0; i < (int)x->ntmpl; i++) {
			uint8_t *p = reserve(x, SLOT_CTL, x->t[i].set, x->t[i].wlen, now);

			memcpy(p, x->t[i].wire, x->t[i].wlen);
			x->m[SLOT_CTL].nrec++;
		}
		x->tmpl_due = false;
		x->tmpl_ns = now;
		if (x->samp >= 0) /* the selection does not change: with the templates */
			add_sampling_record(x, now);
	}
	add_options_record(x, now);
	x->opts_due = false;
	finish(x, SLOT_CTL);
}

/* The base data template of @f (see add_data_tmpl). */
static unsigned base_of(const struct ipfix *x, const struct capture_flow *f)
{
	unsigned k = f->ip_version == 4 ? 0 : 1;

	if (x->tun[0][0] >= 0 && f->tunnel_type &&
	    (f->outer_ip_version == 4 || f->outer_ip_version == 6))
		return 2 + 2 * k + (f->outer_ip_version == 6);
	return k;
}

static const struct ipfix_tmpl *base_tmpl(const struct ipfix *x, unsigned b)
{
	return &x->t[b < 2 ? x->base[b] : x->tun[(b - 2) >> 1][(b - 2) & 1]];
}

/* A template made after the others went out: alone, at once (with all of them later). */
static void send_template(struct ipfix *x, int i, uint64_t now)
{
	uint8_t *p;

	if (x->tmpl_due) /* none went out yet: it goes with them */
		return;
	p = reserve(x, SLOT_CTL, x->t[i].set, x->t[i].wlen, now);
	memcpy(p, x->t[i].wire, x->t[i].wlen);
	x->m[SLOT_CTL].nrec++;
	finish(x, SLOT_CTL);
}

/*
 * The template of @f: its base, or the base with the sections @f has known, made when a
 * flow first needs it and (@send) sent at once in a message of its own, ahead of the data
 * message that will hold the record.
 */
static const struct ipfix_tmpl *tmpl_get(struct ipfix *x, const struct capture_flow *f,
					 uint64_t now, bool send)
{
	unsigned b = base_of(x, f);
	uint32_t sec = pc_nf_sections(x->cfg.fields, f);
	int i;

	if (!sec)
		return base_tmpl(x, b);
	if (x->var[b][sec])
		return &x->t[x->var[b][sec] - 1];
	if (x->nvar == NVAR) {
		if (!x->var_full_logged && x->io.e)
			pc_nf_log(x->io.e, CAPTURE_LOG_WARN,
				  "%d IPFIX templates of application sections made: further "
				  "combinations are sent without them",
				  NVAR);
		x->var_full_logged = true;
		return base_tmpl(x, b);
	}
	i = add_data_tmpl(x, (uint16_t)(TID_VAR + x->nvar++), b, sec);
	x->var[b][sec] = (int16_t)(i + 1);
	if (send)
		send_template(x, i, now);
	return &x->t[i];
}

static size_t rec_len(const struct ipfix_tmpl *t, const struct capture_flow *f,
		      const struct nf_uni *u)
{
	return t->varlen ? pc_nf_flow_len(t->fl, t->nfl, f, u) : t->rlen;
}

/* Encode one flow record (one or two data records). IPv4 and IPv6 records fill separate
 * messages: full ones then all have one size, and UDP sends a run of them with one GSO send. */
static void encode_flow(struct ipfix *x, const struct capture_flow *f, uint64_t now)
{
	int k = f->ip_version == 4 ? 0 : 1;
	const struct ipfix_tmpl *t = tmpl_get(x, f, now, true);
	struct nf_enc enc;
	struct nf_uni u[2];
	unsigned i, nu;
	uint8_t *p;

	pc_nf_enc_init(&enc, x->cfg.sample_scale ? x->cfg.sample_rate : 1);
	if (!x->uni) {
		pc_nf_bi_views(f, u);
		nu = 1;
	} else {
		nu = pc_nf_split(f, u);
	}
	for (i = 0; i < nu; i++) {
		p = reserve(x, k, t->tid, rec_len(t, f, &u[i]), now);
		pc_nf_encode(p, t->fl, t->nfl, f, &u[i], x->uni ? &u[i] : &u[1], &enc);
		x->m[k].nrec++;
		x->m[k].ndata++;
		x->s.flow_recs++;
	}
}

static bool refresh_due(const struct ipfix *x, uint64_t now)
{
	return x->tmpl_due || x->opts_due ||
	       (x->cfg.transport == CAPTURE_TRANSPORT_UDP &&
		now - x->tmpl_ns >= (uint64_t)x->cfg.refresh_sec * 1000000000ull);
}

/* UDP: templates again after template_refresh; statistics go with them. */
static void maybe_control(struct ipfix *x, uint64_t now)
{
	if (!refresh_due(x, now))
		return;
	if (x->cfg.transport == CAPTURE_TRANSPORT_UDP)
		x->tmpl_due = true;
	send_control(x, now);
}

/* ------------------------------------------------------------------ TCP */

static void tcp_commit(struct ipfix *x)
{
	pc_nf_ring_pop(&x->ring, x->inflight);
	atomic_fetch_add_explicit(&x->io.e->cnt.messages, x->inflight_msgs, memory_order_relaxed);
	x->inflight = 0;
	x->inflight_msgs = 0;
	x->committed = x->s;
}

/*
 * Move queued records to the collector as far as the socket allows now. Records leave
 * the ring only once the messages holding them are written to the socket; when the
 * connection drops they are encoded again, after the templates, on the next one.
 */
static int tcp_pump(struct ipfix *x, uint64_t now)
{
	int rc;

	if (!pc_nf_io_tcp_poll(&x->io, now))
		return 0;
	if (x->io.conn_gen != x->conn_gen) {
		/* New connection: whatever was in flight on the old one goes again. */
		int k;

		x->conn_gen = x->io.conn_gen;
		x->inflight = 0;
		x->inflight_msgs = 0;
		x->s = x->committed;
		for (k = 0; k < 3; k++) {
			if (nf_msg_open(&x->m[k]))
				pc_nf_io_msg_drop(&x->io, x->m[k].buf);
			x->m[k].buf = NULL;
		}
		x->tmpl_due = true;
		x->opts_due = true;
	}
	for (;;) {
		if (x->io.out_len) {
			rc = pc_nf_io_flush(&x->io);
			if (rc == -EAGAIN)
				return 0;
			if (rc < 0)
				return rc; /* dropped: rewound at the next connect */
		}
		tcp_commit(x);
		if (!x->ring.count && !x->tmpl_due && !x->opts_due)
			return 0;
		if (x->tmpl_due) /* new connection: templates before any data */
			send_control(x, now);
		while (x->inflight < x->ring.count && x->io.out_len < NF_TCP_OUT) {
			encode_flow(x, pc_nf_ring_at(&x->ring, x->inflight), now);
			x->inflight++;
		}
		finish_data(x);
		/* statistics after the data they count */
		if (x->opts_due && x->inflight == x->ring.count)
			send_control(x, now);
	}
}

/* ------------------------------------------------------------------ ops */

static int ipfix_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct ipfix *x = e->priv;
	uint64_t now = pc_nf_now_ns();
	size_t i;

	if (x->cfg.transport == CAPTURE_TRANSPORT_TCP) {
		size_t took = pc_nf_ring_push(&x->ring, recs, n);

		if (took < n)
			atomic_fetch_add_explicit(&e->cnt.queue_drops, n - took,
						  memory_order_relaxed);
		atomic_fetch_add_explicit(&e->cnt.records, took, memory_order_relaxed);
		tcp_pump(x, now);
		return (int)n;
	}
	maybe_control(x, now);
	for (i = 0; i < n; i++)
		encode_flow(x, &recs[i], now);
	atomic_fetch_add_explicit(&e->cnt.records, n, memory_order_relaxed);
	return (int)n;
}

static int ipfix_tick(struct pc_exporter *e, uint64_t now_ns)
{
	struct ipfix *x = e->priv;
	int k;

	if (x->cfg.transport == CAPTURE_TRANSPORT_TCP)
		return tcp_pump(x, now_ns);
	for (k = 0; k < 2; k++)
		if (nf_msg_open(&x->m[k]) && now_ns - x->m[k].started_ns >= NF_FLUSH_AGE_NS)
			finish(x, k);
	/* UDP: templates at start and on refresh even without flows; a file gets them
	 * with its first data or at close. */
	if (x->cfg.transport == CAPTURE_TRANSPORT_UDP)
		maybe_control(x, now_ns);
	return pc_nf_io_flush(&x->io);
}

static int ipfix_flush(struct pc_exporter *e)
{
	struct ipfix *x = e->priv;

	if (x->cfg.transport == CAPTURE_TRANSPORT_TCP)
		return tcp_pump(x, pc_nf_now_ns());
	maybe_control(x, pc_nf_now_ns());
	finish_data(x);
	return pc_nf_io_flush(&x->io);
}

static void ipfix_close(struct pc_exporter *e)
{
	struct ipfix *x = e->priv;
	uint64_t now, deadline;

	if (!x)
		return;
	now = pc_nf_now_ns();
	x->opts_due = true; /* final statistics */
	if (x->cfg.transport == CAPTURE_TRANSPORT_TCP) {
		deadline = now + NF_CLOSE_DRAIN_NS;
		for (;;) {
			tcp_pump(x, now);
			if (!x->ring.count && !x->io.out_len && !x->opts_due &&
			    x->io.tstate == NF_TCP_UP)
				break;
			now = pc_nf_now_ns();
			if (now >= deadline)
				break;
			poll(NULL, 0, 10);
		}
		if (x->ring.count) {
			pc_nf_log(e, CAPTURE_LOG_WARN, "%zu records not delivered to %s",
				  x->ring.count, x->io.name);
			/* counted once: lost, no longer among the records taken */
			atomic_fetch_add_explicit(&e->cnt.queue_drops, x->ring.count,
						  memory_order_relaxed);
			atomic_fetch_sub_explicit(&e->cnt.records, x->ring.count,
						  memory_order_relaxed);
		}
		pc_nf_ring_release(&x->ring);
	} else {
		finish_data(x);
		send_control(x, now); /* templates if none went out yet, statistics */
		pc_nf_io_flush(&x->io);
	}
	pc_nf_io_close(&x->io);
	free(x);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_ipfix_ops = {
	.name = "ipfix",
	.open = ipfix_open,
	.write = ipfix_write,
	.tick = ipfix_tick,
	.flush = ipfix_flush,
	.close = ipfix_close,
};

/* ------------------------------------------------------------------ messages alone */

struct pc_ipfix_msgs {
	struct ipfix x; /* templates and settings; no transport */
	uint64_t seq;
};

int pc_ipfix_msgs_create(struct pc_ipfix_msgs **out, const struct pc_export_target *t, char *err,
			 size_t errlen)
{
	struct pc_ipfix_msgs *b = calloc(1, sizeof(*b));
	struct ipfix *x;
	int rc;

	if (!b)
		return -ENOMEM;
	x = &b->x;
	rc = pc_nf_fields_cfg(t, 10, &x->cfg.fields, &x->cfg.pen, err, errlen);
	if (rc)
		goto free_b;
	x->cfg.mtu = NF_MAX_MTU;
	x->cfg.domain = t->opts.observation_domain;
	x->uni = x->cfg.uniflow = t->opts.uniflow;
	x->cfg.sample_rate = t->sample_rate > 1 ? t->sample_rate : 0;
	x->cfg.sample_random = t->sample_random;
	x->cfg.sample_scale = t->opts.sample_scale && x->cfg.sample_rate;
	rc = build_templates(x, t->spec, err, errlen);
	if (rc)
		goto free_b;
	*out = b;
	return 0;
free_b:
	free(b);
	return rc;
}

void pc_ipfix_msgs_destroy(struct pc_ipfix_msgs *b)
{
	free(b);
}

/* Room for the records of @f (one biflow, or one per direction with packets)? */
static bool put_flow(struct ipfix *x, struct nf_msg *m, const struct capture_flow *f)
{
	const struct ipfix_tmpl *t = tmpl_get(x, f, 0, false);
	struct nf_enc enc;
	struct nf_uni u[2];
	unsigned i, nu;
	size_t need = 4;

	pc_nf_enc_init(&enc, x->cfg.sample_scale ? x->cfg.sample_rate : 1);
	if (!x->uni) {
		pc_nf_bi_views(f, u);
		nu = 1;
	} else {
		nu = pc_nf_split(f, u);
	}
	for (i = 0; i < nu; i++)
		need += rec_len(t, f, &u[i]);
	if (m->len + need > m->cap)
		return false;
	for (i = 0; i < nu; i++) {
		uint8_t *p = pc_nf_msg_add(m, t->tid, rec_len(t, f, &u[i]), false);

		pc_nf_encode(p, t->fl, t->nfl, f, &u[i], x->uni ? &u[i] : &u[1], &enc);
		m->ndata++;
	}
	return true;
}

size_t pc_ipfix_msgs_build(struct pc_ipfix_msgs *b, const struct capture_flow *recs, size_t n,
			   size_t *taken, uint8_t *buf, size_t cap, uint64_t now_ns)
{
	struct ipfix *x = &b->x;
	struct nf_msg m;
	size_t i;
	unsigned k;
	uint8_t *p;

	*taken = 0;
	for (i = 0; i < n; i++) /* the templates of these flows, before the message's */
		tmpl_get(x, &recs[i], now_ns, false);
	pc_nf_msg_begin(&m, buf, PC_MIN(cap, NF_MAX_MTU), IPFIX_HDR, now_ns);
	for (k = 0; k < x->ntmpl; k++) {
		p = pc_nf_msg_add(&m, x->t[k].set, x->t[k].wlen, false);
		if (!p)
			return 0;
		memcpy(p, x->t[k].wire, x->t[k].wlen);
	}
	if (x->samp >= 0) {
		p = pc_nf_msg_add(&m, TID_SAMPLING, x->t[x->samp].rlen, false);
		if (!p)
			return 0;
		put_sampling(x, p);
		m.ndata++;
	}
	for (i = 0; i < n && put_flow(x, &m, &recs[i]); i++)
		;
	*taken = i;
	pc_nf_msg_close_set(&m, false);
	p = nf_put16(buf, 10);
	p = nf_put16(p, (uint16_t)m.len);
	p = nf_put32(p, (uint32_t)(now_ns / 1000000000ull));
	p = nf_put32(p, (uint32_t)b->seq);
	nf_put32(p, x->cfg.domain);
	b->seq += m.ndata;
	return m.len;
}
