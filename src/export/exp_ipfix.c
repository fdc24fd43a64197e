/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPFIX exporter (RFC 7011) over UDP, TCP or to a file (RFC 5655). Biflows carry RFC 5103
 * reverse elements (PEN 29305) unless uniflow export is asked for. An options template
 * and record report the exporting process statistics. Sequence number = data records sent
 * before the message in this observation domain. TCP keeps records in a bounded ring until
 * the messages holding them are written to the socket, so an outage loses only the bound.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/compiler.h"
#include "export/nf_common.h"

#define IPFIX_HDR 16
#define PEN_REVERSE 29305u
#define TID_BI4 256
#define TID_BI6 257
#define TID_UNI4 258
#define TID_UNI6 259
#define TID_OPTS 260
#define NTP_EPOCH_OFFSET 2208988800ull

struct ie {
	uint16_t id, len;
	uint32_t pen;
};

/* 152/153 (milliseconds) become 156/157 (nanoseconds) when asked for. */
#define IE_START 152
#define IE_END 153

/* Field order of the data templates; encode() follows it exactly. */
static const struct ie head4[] = {
	{ 8, 4, 0 },  /* sourceIPv4Address */
	{ 12, 4, 0 }, /* destinationIPv4Address */
};
static const struct ie head6[] = {
	{ 27, 16, 0 }, /* sourceIPv6Address */
	{ 28, 16, 0 }, /* destinationIPv6Address */
};
static const struct ie common4[] = {
	{ 7, 2, 0 },   /* sourceTransportPort */
	{ 11, 2, 0 },  /* destinationTransportPort */
	{ 4, 1, 0 },   /* protocolIdentifier */
	{ 58, 2, 0 },  /* vlanId */
	{ 32, 2, 0 },  /* icmpTypeCodeIPv4 */
	{ 10, 4, 0 },  /* ingressInterface */
	{ 61, 1, 0 },  /* flowDirection */
	{ 136, 1, 0 }, /* flowEndReason */
};
static const struct ie common6[] = {
	{ 7, 2, 0 },  { 11, 2, 0 },  { 4, 1, 0 },
	{ 58, 2, 0 }, { 139, 2, 0 }, /* icmpTypeCodeIPv6 */
	{ 10, 4, 0 }, { 61, 1, 0 },  { 136, 1, 0 },
};
_Static_assert(sizeof(common4) == sizeof(common6), "same layout for IPv4 and IPv6");
/*
 * RFC 5103 reverse elements. They come before their forward twins on purpose: nfdump 1.7
 * reads reverseTcpControlBits and reverseFlowStart/End as if they were the forward
 * elements (it keeps the last value seen), so the forward ones must come last to win.
 */
static const struct ie reverse[] = {
	{ 1, 8, PEN_REVERSE }, /* reverseOctetDeltaCount */
	{ 2, 8, PEN_REVERSE }, /* reversePacketDeltaCount */
	{ 6, 2, PEN_REVERSE }, /* reverseTcpControlBits */
	{ IE_START, 8, PEN_REVERSE }, { IE_END, 8, PEN_REVERSE },
};
static const struct ie forward[] = {
	{ 6, 2, 0 }, /* tcpControlBits */
	{ 1, 8, 0 }, /* octetDeltaCount */
	{ 2, 8, 0 }, /* packetDeltaCount */
	{ IE_START, 8, 0 }, { IE_END, 8, 0 },
};

/* Exporting process reliability statistics (RFC 7011 section 4.3). */
static const struct ie opts_ies[] = {
	{ 144, 4, 0 }, /* exportingProcessId (scope) = observation domain */
	{ 41, 8, 0 },  /* exportedMessageTotalCount */
	{ 42, 8, 0 },  /* exportedFlowRecordTotalCount */
	{ 40, 8, 0 },  /* exportedOctetTotalCount */
	{ 164, 8, 0 }, /* ignoredPacketTotalCount: packets in no flow */
	{ 166, 8, 0 }, /* notSentFlowTotalCount */
	{ 167, 8, 0 }, /* notSentPacketTotalCount */
	{ 160, 8, 0 }, /* systemInitTimeMilliseconds */
};

#define OPTS_REC 60

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
	uint8_t tmpl[3][200]; /* v4, v6 data templates, options template */
	uint16_t tmpl_len[3];
	size_t rlen4, rlen6;
	uint16_t tid4, tid6;
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

static size_t build_template(uint8_t *buf, uint16_t tid, bool opts, const struct ie *const *lists,
			     const size_t *counts, size_t nlists, bool ns, size_t *rlen)
{
	uint8_t *p = buf;
	size_t i, j, nfields = 0;

	for (i = 0; i < nlists; i++)
		nfields += counts[i];
	p = nf_put16(p, tid);
	p = nf_put16(p, (uint16_t)nfields);
	if (opts)
		p = nf_put16(p, 1); /* scope field count */
	*rlen = 0;
	for (i = 0; i < nlists; i++) {
		for (j = 0; j < counts[i]; j++) {
			const struct ie *f = &lists[i][j];
			uint16_t id = f->id;

			if (ns && id == IE_START)
				id = 156; /* flowStartNanoseconds */
			else if (ns && id == IE_END)
				id = 157; /* flowEndNanoseconds */
			p = nf_put16(p, f->pen ? (uint16_t)(id | 0x8000) : id);
			p = nf_put16(p, f->len);
			if (f->pen)
				p = nf_put32(p, f->pen);
			*rlen += f->len;
		}
	}
	return (size_t)(p - buf);
}

static void build_templates(struct ipfix *x)
{
	const struct ie *l4[] = { head4, common4, reverse, forward };
	const struct ie *l6[] = { head6, common6, reverse, forward };
	const struct ie *lo[] = { opts_ies };
	size_t c[] = { 2, PC_ARRAY_SIZE(common4), x->uni ? 0 : PC_ARRAY_SIZE(reverse),
		       PC_ARRAY_SIZE(forward) };
	size_t co[] = { PC_ARRAY_SIZE(opts_ies) };
	size_t rl;

	x->tid4 = x->uni ? TID_UNI4 : TID_BI4;
	x->tid6 = x->uni ? TID_UNI6 : TID_BI6;
	x->tmpl_len[0] = (uint16_t)build_template(x->tmpl[0], x->tid4, false, l4, c, 4,
						  x->cfg.nanoseconds, &x->rlen4);
	x->tmpl_len[1] = (uint16_t)build_template(x->tmpl[1], x->tid6, false, l6, c, 4,
						  x->cfg.nanoseconds, &x->rlen6);
	x->tmpl_len[2] =
		(uint16_t)build_template(x->tmpl[2], TID_OPTS, true, lo, co, 1, false, &rl);
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
	build_templates(x);
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
	pc_nf_io_msg_done(&x->io, m->buf, m->len);
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

/*
 * Templates (when due) and the statistics record leave in a message of their own, ahead of
 * any data message that is finished after them.
 */
static void send_control(struct ipfix *x, uint64_t now)
{
	int i;

	if (x->tmpl_due) {
		for (i = 0; i < 3; i++) {
			uint8_t *p = reserve(x, SLOT_CTL, i < 2 ? 2 : 3, x->tmpl_len[i], now);

			memcpy(p, x->tmpl[i], x->tmpl_len[i]);
			x->m[SLOT_CTL].nrec++;
		}
		x->tmpl_due = false;
		x->tmpl_ns = now;
	}
	add_options_record(x, now);
	x->opts_due = false;
	finish(x, SLOT_CTL);
}

static inline uint64_t ntp_ns(uint64_t ns)
{
	uint64_t sec = ns / 1000000000ull, frac = ns % 1000000000ull;

	/* Rounded to nearest, so that a reader truncating back to ns gets @ns again. */
	return (sec + NTP_EPOCH_OFFSET) << 32 | (((frac << 32) + 500000000ull) / 1000000000ull);
}

static inline uint8_t *put_time(uint8_t *p, uint64_t ns, bool nano)
{
	return nf_put64(p, nano ? (ns ? ntp_ns(ns) : 0) : ns / 1000000ull);
}

static bool flow_icmp(const struct capture_flow *f)
{
	return (f->ip_version == 4 && f->proto == 1) || (f->ip_version == 6 && f->proto == 58);
}

/* The fields before the counters, for one direction. */
static uint8_t *encode_head(uint8_t *p, const struct capture_flow *f, const uint8_t *src,
			    const uint8_t *dst, uint16_t sport, uint16_t dport, uint8_t itype,
			    uint8_t icode)
{
	size_t al = f->ip_version == 4 ? 4 : 16;

	memcpy(p, src, al);
	memcpy(p + al, dst, al);
	p += 2 * al;
	p = nf_put16(p, sport);
	p = nf_put16(p, dport);
	p = nf_put8(p, f->proto);
	p = nf_put16(p, f->vlan);
	p = nf_put16(p, flow_icmp(f) ? (uint16_t)(itype << 8 | icode) : 0);
	p = nf_put32(p, 0); /* ingressInterface: not known per record */
	p = nf_put8(p, 0);  /* flowDirection: ingress */
	return nf_put8(p, pc_nf_end_reason(f->end_reason));
}

static uint8_t *encode_tail(uint8_t *p, uint8_t flags, uint64_t bytes, uint64_t packets,
			    uint64_t first, uint64_t last, bool ns)
{
	p = nf_put16(p, flags);
	p = nf_put64(p, bytes);
	p = nf_put64(p, packets);
	p = put_time(p, first, ns);
	return put_time(p, last, ns);
}

static void encode_bi(struct ipfix *x, uint8_t *p, const struct capture_flow *f)
{
	bool ns = x->cfg.nanoseconds, rev = f->rev_packets != 0;

	p = encode_head(p, f, f->src_ip, f->dst_ip, f->src_port, f->dst_port, f->icmp_type,
			f->icmp_code);
	p = nf_put64(p, f->rev_bytes);
	p = nf_put64(p, f->rev_packets);
	p = nf_put16(p, f->rev_tcp_flags);
	p = put_time(p, rev ? f->rev_first_ns : 0, ns);
	p = put_time(p, rev ? f->rev_last_ns : 0, ns);
	encode_tail(p, f->tcp_flags, f->bytes, f->packets, f->first_ns, f->last_ns, ns);
}

static void encode_uni(struct ipfix *x, uint8_t *p, const struct capture_flow *f,
		       const struct nf_uni *u)
{
	p = encode_head(p, f, u->src, u->dst, u->sport, u->dport, u->icmp_type, u->icmp_code);
	encode_tail(p, u->flags, u->bytes, u->packets, u->first_ns, u->last_ns, x->cfg.nanoseconds);
}

/* Encode one flow record (one or two data records). IPv4 and IPv6 records fill separate
 * messages: full ones then all have one size, and UDP sends a run of them with one GSO send. */
static void encode_flow(struct ipfix *x, const struct capture_flow *f, uint64_t now)
{
	int k = f->ip_version == 4 ? 0 : 1;
	uint16_t tid = k ? x->tid6 : x->tid4;
	size_t rl = k ? x->rlen6 : x->rlen4;
	struct nf_uni u[2];
	unsigned i, nu;
	uint8_t *p;

	if (!x->uni) {
		p = reserve(x, k, tid, rl, now);
		encode_bi(x, p, f);
		x->m[k].nrec++;
		x->m[k].ndata++;
		x->s.flow_recs++;
		return;
	}
	nu = pc_nf_split(f, u);
	for (i = 0; i < nu; i++) {
		p = reserve(x, k, tid, rl, now);
		encode_uni(x, p, f, &u[i]);
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
