/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker inspection of each flow's first packets. A flow's handle is an
 * inspection record while it is inspected (index + 1, below the high bit),
 * then a compact result record (high bit, size class, index + 1) or
 * PC_INSP_DONE when nothing was found. Records come from pools reserved with
 * mmap at creation and handed out from their start or a free list, so the
 * memory backed follows the flows inspected or holding results at a time.
 *
 * Bounds: 16 packets from each side are looked at, 32 in all, then the flow
 * is settled (nDPI gives its best guess); the first 4 KiB of each TCP
 * direction are reassembled in sequence order from the SYN (or the first
 * payload segment when no SYN was seen); a hole still open when the flow is
 * settled, or data before the stream's start, gives that direction up and
 * counts one reassembly gap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "inspect/dpi.h"
#include "inspect/inspect.h"
#include "inspect/inspect_res.h"
#include "inspect/l7.h"

#define STREAM_MAX 4096 /* bytes reassembled per TCP direction */
#define DIR_PKTS 16	/* packets looked at from each side */
#define FLOW_PKTS 32	/* packets looked at in all */
/* nDPI sees a TCP or UDP flow's packets that carry payload until its
 * verdict, at most this many (then it gives its best guess); its dissectors
 * need payload, so the others (handshakes, pure ACKs) are not given to it,
 * and a flow without any never takes an nDPI state: its verdict is nDPI's
 * guess from ports and addresses (pc_dpi_guess). nDPI names most protocols
 * from the first one or two payload packets of each side. */
#define DPI_DATA_PKTS 8

#define H_RESULT 0x80000000u
#define H_CLASS_SHIFT 29
#define H_INDEX 0x1fffffffu
/* A result that is only nDPI's verdict (most flows: no parser found
 * anything) needs no record: its numbers are the handle, class H_APP. */
#define H_APP 3u
#define H_APP_ID_BITS 9 /* app and master protocol ids */
#define H_APP_CAT_BITS 7
#define H_APP_CONF_BITS 3

enum want {
	W_TLS = 1u << 0,  /* TCP stream that starts as a TLS record */
	W_HTTP = 1u << 1, /* TCP stream that starts as HTTP/1.x */
	W_DNS = 1u << 2,  /* DNS message (UDP datagram or TCP stream) */
	W_QUIC = 1u << 3, /* QUIC client Initial */
	W_ANY = 0xf,
};

/* One TCP direction: the first STREAM_MAX bytes from the stream's start. */
struct stream {
	uint32_t base;	 /* sequence number of byte 0 */
	uint16_t have;	 /* contiguous bytes from 0 */
	uint16_t hi;	 /* end of the furthest data seen (declared), capped */
	uint8_t based;	 /* base is set */
	uint8_t want;	 /* W_* still trying on this direction; 0xff: not classified */
	uint8_t gave_up; /* gap or bound: nothing more on this direction */
	uint8_t parsed;	 /* a parser took its message */
};

struct rec {
	uint32_t next_free;
	uint32_t *owner;  /* the flow's handle while in use (reclaim), else NULL */
	uint64_t last_ns; /* time of the flow's last packet looked at */
	uint32_t dpi;	  /* nDPI state (pc_dpi handle), 0: none */
	uint32_t quic;	  /* QUIC pool index + 1, 0: none */
	uint8_t pkts[2];  /* packets looked at from each side */
	uint8_t total;	  /* packets looked at in all */
	uint8_t want;	  /* W_* the flow still tries (UDP: DNS, QUIC) */
	uint8_t quic_dir; /* side that sent the QUIC client Initial */
	uint8_t dpi_done; /* nDPI has its verdict (or is not used) */
	uint8_t dpi_data; /* packets with payload nDPI has seen */
	uint8_t pad;
	struct pc_dpi_tuple tup; /* nDPI's guess without a state is from these */
	uint32_t sb[2];		 /* each TCP direction's stream buffer (index + 1), 0: none */
	struct stream st[2];
	uint32_t fnd; /* what the parsers found (found pool index + 1), 0: nothing yet */
	/* nDPI's verdict (app_id or master_id set: identified) */
	uint16_t app_id, master_id;
	uint8_t category_id, confidence;
};

/* The first bytes of one TCP direction, taken when a parser wants them. */
struct sbuf {
	uint8_t got[STREAM_MAX / 8]; /* bitmap of the bytes received */
	uint8_t buf[STREAM_MAX];
};

#define RES_CLASSES 3
static const size_t res_size[RES_CLASSES] = { 128, 384, PC_INSP_RES_MAX };

/* A pool of fixed-size records reserved at creation; the first 4 bytes of
 * a free record link the free list. */
struct pool {
	uint8_t *base;
	size_t esz, len;
	uint32_t max, used, free_head;
};

struct pc_inspect {
	uint32_t off;
	struct pool recs;
	struct pool found; /* struct pc_insp_found, taken at a parser's first result */
	struct pool sbufs;
	struct pool quic;
	struct pool res[RES_CLASSES];
	struct pc_dpi *dpi;
	struct pc_quic_ctx *qctx;
	struct pc_inspect_counters cnt;
	uint32_t clock; /* reclaim scan position in recs */
};

/* A full pool takes the record of a flow quiet for this long (its
 * inspection settles as at the flow's end), looking at a few at a time. */
#define RECLAIM_QUIET_NS 2000000000ull
#define RECLAIM_SCAN 16

static int pool_init(struct pool *p, size_t esz, uint32_t max)
{
	p->esz = esz;
	p->max = max;
	p->len = esz * max;
	p->base = mmap(NULL, p->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void pool_release(struct pool *p)
{
	if (p->base)
		munmap(p->base, p->len);
	p->base = NULL;
}

static void *pool_at(const struct pool *p, uint32_t i)
{
	return p->base + (size_t)(i - 1) * p->esz;
}

/* A record's index + 1, or 0 when the pool is full. Not zeroed. */
static uint32_t pool_get(struct pool *p)
{
	uint32_t i = p->free_head;

	if (i) {
		memcpy(&p->free_head, pool_at(p, i), sizeof(uint32_t));
		return i;
	}
	if (p->used == p->max)
		return 0;
	return ++p->used;
}

static void pool_put(struct pool *p, uint32_t i)
{
	memcpy(pool_at(p, i), &p->free_head, sizeof(uint32_t));
	p->free_head = i;
}

int pc_inspect_create(struct pc_inspect **out, const struct pc_inspect_params *p)
{
	struct pc_inspect *in = calloc(1, sizeof(*in));
	uint32_t nq;
	int i, rc = -ENOMEM;

	if (!in)
		return -ENOMEM;
	in->off = p->off & CAPTURE_INSPECT_ALL;
	/* QUIC state (4.6 KB) only for UDP flows that open with a QUIC long
	 * header: a smaller pool of its own */
	nq = p->max_flows / 8 ? p->max_flows / 8 : 1;
	if (pool_init(&in->recs, sizeof(struct rec), p->max_flows ? p->max_flows : 1) ||
	    pool_init(&in->found, sizeof(struct pc_insp_found), p->max_flows ? p->max_flows : 1) ||
	    pool_init(&in->sbufs, sizeof(struct sbuf), p->max_flows ? 2 * p->max_flows : 2) ||
	    pool_init(&in->quic, sizeof(struct pc_quic_flow), nq))
		goto err;
	for (i = 0; i < RES_CLASSES; i++)
		if (pool_init(&in->res[i], res_size[i], p->max_results ? p->max_results : 1))
			goto err;
	if (!(in->off & CAPTURE_INSPECT_QUIC)) {
		in->qctx = pc_quic_ctx_create();
		if (!in->qctx)
			goto err;
	}
	if (!(in->off & CAPTURE_INSPECT_DPI)) {
		rc = pc_dpi_create(&in->dpi, in->recs.max);
		if (rc == -ENOTSUP) {
			/* not compiled in: every other stage still works */
			in->off |= CAPTURE_INSPECT_DPI;
		} else if (rc) {
			goto err;
		}
	}
	*out = in;
	return 0;
err:
	pc_inspect_destroy(in);
	return rc;
}

void pc_inspect_destroy(struct pc_inspect *in)
{
	int i;

	if (!in)
		return;
	pc_dpi_destroy(in->dpi);
	if (in->qctx)
		pc_quic_ctx_destroy(in->qctx);
	pool_release(&in->recs);
	pool_release(&in->found);
	pool_release(&in->sbufs);
	pool_release(&in->quic);
	for (i = 0; i < RES_CLASSES; i++)
		pool_release(&in->res[i]);
	free(in);
}

const struct pc_inspect_counters *pc_inspect_counters(const struct pc_inspect *in)
{
	return &in->cnt;
}

static bool on(const struct pc_inspect *in, uint32_t stage)
{
	return !(in->off & stage);
}

static bool any_on(const struct pc_inspect *in, uint32_t stages)
{
	return (in->off & stages) != stages;
}

static bool dns_port(const struct pc_flow_key *k)
{
	int i;

	for (i = 0; i < 2; i++)
		if (k->port[i] == 53 || k->port[i] == 5353 || k->port[i] == 5355)
			return true;
	return false;
}

bool pc_inspect_active(const struct pc_inspect *in)
{
	return in && any_on(in, CAPTURE_INSPECT_ALL & ~CAPTURE_INSPECT_TCP);
}

/* ------------------------------------------------------------ results */

/* What @r's parsers found so far, NULL when nothing. */
static struct pc_insp_found *found_of(const struct pc_inspect *in, const struct rec *r)
{
	return r->fnd ? pool_at(&in->found, r->fnd) : NULL;
}

/* Where @r's parsers put their results, taken at the first; NULL when the
 * pool is full (counted; the result is dropped). */
static struct pc_insp_found *found_get(struct pc_inspect *in, struct rec *r)
{
	struct pc_insp_found *f;

	if (r->fnd)
		return pool_at(&in->found, r->fnd);
	r->fnd = pool_get(&in->found);
	if (!r->fnd) {
		in->cnt.pool_full++;
		return NULL;
	}
	f = pool_at(&in->found, r->fnd);
	f->l7 = 0;
	return f;
}

static void take_tls(struct pc_inspect *in, struct rec *r, const struct pc_tls_hello *h, bool quic)
{
	struct pc_insp_found *f = found_get(in, r);

	if (!f)
		return;
	if (h->client) {
		if (f->l7 & CAPTURE_L7_TLS)
			return;
		f->ch = *h;
		f->l7 |= CAPTURE_L7_TLS | CAPTURE_L7_TLS_VERSION | (quic ? CAPTURE_L7_QUIC : 0);
	} else if (!(f->l7 & CAPTURE_L7_TLS_SERVER)) {
		f->sh = *h;
		f->l7 |= CAPTURE_L7_TLS_SERVER | CAPTURE_L7_TLS_VERSION;
	}
}

static void take_dns(struct pc_inspect *in, struct rec *r, const struct pc_dns_msg *m)
{
	struct pc_insp_found *f = found_get(in, r);

	if (!f)
		return;
	if (!(f->l7 & CAPTURE_L7_DNS)) {
		f->dns = *m;
		f->l7 |= CAPTURE_L7_DNS;
	}
	if (m->response && !(f->l7 & CAPTURE_L7_DNS_RESPONSE)) {
		f->dns_rcode = m->rcode;
		f->dns_answers = m->answers;
		f->l7 |= CAPTURE_L7_DNS_RESPONSE;
	}
}

static void take_http(struct pc_inspect *in, struct rec *r, const struct pc_http_msg *m)
{
	struct pc_insp_found *f = found_get(in, r);

	if (!f)
		return;
	if (m->response) {
		if (!(f->l7 & CAPTURE_L7_HTTP_RESPONSE)) {
			f->http_status = m->status;
			f->l7 |= CAPTURE_L7_HTTP_RESPONSE;
		}
	} else if (!(f->l7 & CAPTURE_L7_HTTP)) {
		f->req = *m;
		f->l7 |= CAPTURE_L7_HTTP;
	}
}

/* ------------------------------------------------------------- streams */

/* W_HTTP when @p starts with a method or "HTTP/1.", 0xff when it is the
 * start of one, 0 otherwise. */
static uint8_t http_start(const uint8_t *p, size_t n)
{
	static const char *const tok[] = { "GET ",     "POST ",	   "HEAD ",  "PUT ",   "DELETE ",
					   "OPTIONS ", "CONNECT ", "PATCH ", "TRACE ", "HTTP/1." };
	size_t i;

	for (i = 0; i < sizeof(tok) / sizeof(tok[0]); i++) {
		size_t l = strlen(tok[i]);

		if (!memcmp(p, tok[i], n < l ? n : l))
			return n >= l ? W_HTTP : 0xff;
	}
	return 0;
}

/* Which parsers a TCP stream's first @n bytes call for: 0 none, 0xff wait
 * (they may still become a TLS record or an HTTP request or response). */
static uint8_t classify(const struct pc_inspect *in, const struct pc_flow_key *k, const uint8_t *p,
			size_t n)
{
	if (!n || (n == 1 && p[0] == 0x16))
		return 0xff;
	if (p[0] == 0x16 && p[1] == 0x03)
		return on(in, CAPTURE_INSPECT_TLS) ? W_TLS : 0;
	if (dns_port(k) && on(in, CAPTURE_INSPECT_DNS))
		return W_DNS;
	return on(in, CAPTURE_INSPECT_HTTP) ? http_start(p, n) : 0;
}

/* Run the stream's parsers over its contiguous bytes; @final: no more will
 * come. */
static void parse_stream(struct pc_inspect *in, struct rec *r, const struct pc_flow_key *k, int dir,
			 bool final)
{
	struct stream *s = &r->st[dir];
	const uint8_t *p;
	size_t n = s->have;
	int rc = -1;

	if (s->gave_up || !n || !r->sb[dir])
		return;
	p = ((struct sbuf *)pool_at(&in->sbufs, r->sb[dir]))->buf;
	if (s->want == 0xff) {
		s->want = classify(in, k, p, n);
		if (s->want == 0xff) {
			if (!final)
				return;
			s->want = 0;
		}
	}
	if (s->want & W_TLS) {
		struct pc_tls_hello h;

		rc = pc_tls_parse_stream(p, n, &h);
		if (rc == 1)
			take_tls(in, r, &h, false);
	} else if (s->want & W_HTTP) {
		struct pc_http_msg m;

		rc = pc_http_parse(p, n, final || n == STREAM_MAX, &m);
		if (rc == 1)
			take_http(in, r, &m);
	} else if (s->want & W_DNS) {
		struct pc_dns_msg m;

		rc = pc_dns_parse(p, n, true, &m);
		if (rc == 1)
			take_dns(in, r, &m);
	}
	if (rc == 1)
		s->parsed = 1;
	if (rc != 0 || n == STREAM_MAX)
		s->want = 0;
}

static void mark(uint8_t *got, unsigned from, unsigned to)
{
	for (; from < to && (from & 7); from++)
		got[from >> 3] |= (uint8_t)(1u << (from & 7));
	for (; from + 8 <= to; from += 8)
		got[from >> 3] = 0xff;
	for (; from < to; from++)
		got[from >> 3] |= (uint8_t)(1u << (from & 7));
}

static unsigned contiguous(const uint8_t *got, unsigned have)
{
	while (have < STREAM_MAX && (got[have >> 3] & (1u << (have & 7))))
		have = (got[have >> 3] == 0xff && !(have & 7)) ? have + 8 : have + 1;
	return have;
}

static void stream_give_up(struct pc_inspect *in, struct stream *s, bool gap)
{
	if (s->gave_up)
		return;
	s->gave_up = 1;
	s->want = 0;
	if (gap)
		in->cnt.reassembly_gaps++;
}

/* No more bytes will be taken from side @d: its parsers get what there is;
 * a hole before the furthest data seen is a gap when they still wanted more. */
static void stream_settle(struct pc_inspect *in, struct rec *r, const struct pc_flow_key *k, int d)
{
	struct stream *s = &r->st[d];

	if (!s->want || s->gave_up)
		return;
	parse_stream(in, r, k, d, true);
	stream_give_up(in, s, s->want && s->hi > s->have);
}

/* A TCP segment from side @dir into its stream. */
static void tcp_segment(struct pc_inspect *in, struct rec *r, const struct pc_meta *m, int dir)
{
	struct stream *s = &r->st[dir];
	uint32_t cap = m->l3_cap > m->pl_off ? m->l3_cap - m->pl_off : 0, off, end;
	struct sbuf *sb;

	if (!(m->flags & PC_META_TCP_HDR) || s->gave_up)
		return;
	if (m->tcp_flags & 0x02) { /* SYN: the stream starts after it */
		if (!s->based) {
			s->base = m->tcp_seq + 1;
			s->based = 1;
		}
		return;
	}
	if (!m->pl_len || !m->pl_off)
		return;
	if (cap > m->pl_len)
		cap = m->pl_len;
	if (!s->based) {
		s->base = m->tcp_seq;
		s->based = 1;
	}
	off = m->tcp_seq - s->base;
	if (off >= 0x80000000u) {
		/* data before the stream's start: its first bytes were missed (and
		 * what was classified from the later ones means nothing) */
		if (!s->parsed)
			stream_give_up(in, s, true);
		return;
	}
	if (off >= STREAM_MAX || !s->want)
		return;
	end = off + m->pl_len < STREAM_MAX ? off + m->pl_len : STREAM_MAX;
	if (end > s->hi)
		s->hi = (uint16_t)end;
	if (off + cap > end)
		cap = end - off;
	if (!r->sb[dir]) {
		/* a stream whose first bytes no parser takes needs no buffer */
		if (!off && cap && s->want == 0xff) {
			s->want = classify(in, &m->key, m->l3 + m->pl_off, cap);
			if (!s->want)
				return;
		}
		r->sb[dir] = pool_get(&in->sbufs);
		if (!r->sb[dir]) {
			in->cnt.pool_full++;
			stream_give_up(in, s, false);
			return;
		}
		memset(((struct sbuf *)pool_at(&in->sbufs, r->sb[dir]))->got, 0, STREAM_MAX / 8);
	}
	sb = pool_at(&in->sbufs, r->sb[dir]);
	memcpy(sb->buf + off, m->l3 + m->pl_off, cap);
	mark(sb->got, off, off + cap);
	if (off <= s->have && off + cap > s->have) {
		s->have = (uint16_t)contiguous(sb->got, s->have);
		parse_stream(in, r, &m->key, dir, false);
	}
}

/* ----------------------------------------------------------- datagrams */

static void udp_datagram(struct pc_inspect *in, struct rec *r, const struct pc_meta *m, int dir)
{
	const uint8_t *p = m->l3 + m->pl_off;
	size_t n = m->l3_cap > m->pl_off ? m->l3_cap - m->pl_off : 0;

	if (!m->pl_off || !n)
		return;
	if (n > m->pl_len)
		n = m->pl_len;
	if (r->want & W_DNS) {
		struct pc_dns_msg d;
		int rc = pc_dns_parse(p, n, false, &d);

		if (rc == 1)
			take_dns(in, r, &d);
		if (rc < 0 || (r->fnd && (found_of(in, r)->l7 & CAPTURE_L7_DNS_RESPONSE)))
			r->want &= ~(uint8_t)W_DNS;
	}
	if (r->want & W_QUIC) {
		struct pc_quic_flow *q;
		struct pc_tls_hello h;
		int rc;

		if (!r->quic) {
			/* a long header with a version we know (1, 2) opens it */
			uint32_t v =
				n >= 5 ? (uint32_t)p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4] : 0;
			bool quic = (p[0] & 0x80) && (v == 1 || v == 0x6b3343cfu);

			r->quic = quic ? pool_get(&in->quic) : 0;
			if (!r->quic) {
				if (quic)
					in->cnt.pool_full++; /* no QUIC state left */
				r->want &= ~(uint8_t)W_QUIC;
				return;
			}
			memset(pool_at(&in->quic, r->quic), 0, sizeof(struct pc_quic_flow));
			r->quic_dir = (uint8_t)dir;
		}
		if (dir != r->quic_dir)
			return;
		q = pool_at(&in->quic, r->quic);
		rc = pc_quic_parse_initial(in->qctx, q, p, n, &h);
		if (rc == 1)
			take_tls(in, r, &h, true);
		if (rc != 0) {
			r->want &= ~(uint8_t)W_QUIC;
			pool_put(&in->quic, r->quic);
			r->quic = 0;
		}
	}
}

/* ------------------------------------------------------------- records */

static struct rec *rec_of(const struct pc_inspect *in, uint32_t h)
{
	return pool_at(&in->recs, h);
}

static uint32_t finish(struct pc_inspect *in, uint32_t h, const struct pc_flow_key *k);

/* The pool is full: settle the inspection of a flow quiet for
 * RECLAIM_QUIET_NS (its handle is rewritten in its flow entry) and hand its
 * record out again; 0 when none of the next RECLAIM_SCAN records is quiet. */
static uint32_t reclaim(struct pc_inspect *in, uint64_t now)
{
	struct pc_flow_key k;
	unsigned i;

	memset(&k, 0, sizeof(k));
	for (i = 0; i < RECLAIM_SCAN && in->recs.used; i++) {
		uint32_t h = in->clock % in->recs.used + 1;
		struct rec *r = rec_of(in, h);

		in->clock++;
		if (r->owner && now > r->last_ns + RECLAIM_QUIET_NS) {
			*r->owner = finish(in, h, &k);
			in->cnt.reclaimed++;
			return pool_get(&in->recs);
		}
	}
	return 0;
}

static uint32_t rec_start(struct pc_inspect *in, const struct pc_meta *m, uint32_t *owner)
{
	uint32_t h = pool_get(&in->recs);
	struct rec *r;

	if (!h)
		h = reclaim(in, m->ts_ns);
	if (!h) {
		in->cnt.pool_full++;
		return PC_INSP_DONE;
	}
	in->cnt.flows++;
	r = rec_of(in, h);
	memset(r, 0, sizeof(*r));
	r->owner = owner;
	r->st[0].want = r->st[1].want = 0xff;
	if (m->key.proto == 17) {
		if (on(in, CAPTURE_INSPECT_DNS) && dns_port(&m->key))
			r->want |= W_DNS;
		if (on(in, CAPTURE_INSPECT_QUIC))
			r->want |= W_QUIC;
	}
	if (m->key.proto != 6)
		r->st[0].want = r->st[1].want = 0;
	/* nDPI's state is taken at the flow's first payload (dpi_packet) */
	r->dpi_done = !in->dpi;
	if (in->dpi && (m->key.proto == 6 || m->key.proto == 17)) {
		r->tup.proto = m->key.proto;
		r->tup.sport = m->key.port[0];
		r->tup.dport = m->key.port[1];
		if (m->key.ipver == 4 && m->l3_cap >= 20) {
			r->tup.v4 = 1;
			memcpy(&r->tup.saddr, m->l3 + 12, 4);
			memcpy(&r->tup.daddr, m->l3 + 16, 4);
		}
	}
	return h;
}

/* Whether the parsers found the name of the flow's server (the SNI of a
 * TLS/QUIC ClientHello, an HTTP Host, a DNS question), which nDPI names its
 * application from as well. */
static bool named(const struct pc_insp_found *f)
{
	return f && (((f->l7 & CAPTURE_L7_TLS) && f->ch.sni[0]) ||
		     ((f->l7 & CAPTURE_L7_HTTP) && f->req.host[0]) ||
		     ((f->l7 & CAPTURE_L7_DNS) && f->dns.qname[0]));
}

static void dpi_settle(struct pc_inspect *in, struct rec *r, const struct pc_dpi_result *res)
{
	r->app_id = res->app_id;
	r->master_id = res->master_id;
	r->category_id = res->category_id;
	r->confidence = res->confidence;
	if (res->app_id || res->master_id)
		in->cnt.dpi_identified++;
	if (r->dpi)
		pc_dpi_flow_put(in->dpi, r->dpi);
	r->dpi = 0;
	r->dpi_done = 1;
}

/* Packet @m of a flow nDPI has no verdict on yet. */
static void dpi_packet(struct pc_inspect *in, struct rec *r, const struct pc_meta *m)
{
	bool l4 = m->key.proto == 6 || m->key.proto == 17;
	struct pc_dpi_result res;

	if (l4 && !m->pl_len)
		return;
	if (!r->dpi) {
		r->dpi = pc_dpi_flow_get(in->dpi);
		if (!r->dpi) {
			in->cnt.dpi_pool_full++;
			r->dpi_done = 1;
			return;
		}
		in->cnt.dpi_flows++;
	} else if (!m->pl_len && r->dpi_data) {
		return; /* other protocols: the first packet, then payload only */
	}
	if (pc_dpi_packet(in->dpi, r->dpi, m->l3, m->l3_cap, m->ts_ns / 1000000u,
			  named(found_of(in, r)), &res)) {
		dpi_settle(in, r, &res);
	} else if (m->pl_len && ++r->dpi_data >= DPI_DATA_PKTS) {
		pc_dpi_giveup(in->dpi, r->dpi, &r->tup, &res);
		dpi_settle(in, r, &res);
	}
}

/* The QUIC state, stream buffers and found record of @r go back. */
static void put_parts(struct pc_inspect *in, struct rec *r)
{
	int d;

	if (r->quic)
		pool_put(&in->quic, r->quic);
	for (d = 0; d < 2; d++)
		if (r->sb[d])
			pool_put(&in->sbufs, r->sb[d]);
	if (r->fnd)
		pool_put(&in->found, r->fnd);
	r->quic = r->sb[0] = r->sb[1] = r->fnd = 0;
}

/* Pack what @r found (the parsers' results and nDPI's verdict) into @u. */
static size_t pack(const struct pc_inspect *in, const struct rec *r, struct pc_insp_res *u)
{
	const struct pc_insp_found *f = found_of(in, r);
	struct pc_insp_found tmp;

	if (!r->app_id && !r->master_id) {
		if (f)
			return pc_insp_pack(f, u);
		memset(u, 0, sizeof(*u));
		return sizeof(*u);
	}
	if (f)
		memcpy(&tmp, f, sizeof(tmp));
	else
		tmp.l7 = 0;
	tmp.l7 |= CAPTURE_L7_APP;
	memset(&tmp.dpi, 0, sizeof(tmp.dpi));
	tmp.dpi.app_id = r->app_id;
	tmp.dpi.master_id = r->master_id;
	tmp.dpi.category_id = r->category_id;
	tmp.dpi.confidence = r->confidence;
	pc_dpi_names(in->dpi, &tmp.dpi);
	return pc_insp_pack(&tmp, u);
}

static bool streams_want(const struct rec *r)
{
	return (r->st[0].want && !r->st[0].gave_up) || (r->st[1].want && !r->st[1].gave_up);
}

/* The flow's inspection ends: what is pending settles, the record goes
 * back; returns the flow's new handle. */
static uint32_t finish(struct pc_inspect *in, uint32_t h, const struct pc_flow_key *k)
{
	struct rec *r = rec_of(in, h);
	union {
		struct pc_insp_res r;
		uint8_t b[PC_INSP_RES_MAX];
	} u;
	size_t sz;
	uint32_t i, c, h2;
	int d;

	for (d = 0; d < 2; d++)
		stream_settle(in, r, k, d);
	if (r->dpi) {
		struct pc_dpi_result res;

		pc_dpi_giveup(in->dpi, r->dpi, &r->tup, &res);
		dpi_settle(in, r, &res);
	} else if (!r->dpi_done && r->tup.proto) {
		struct pc_dpi_result res;

		/* no payload: nDPI's guess */
		if (pc_dpi_guess(in->dpi, &r->tup, &res))
			dpi_settle(in, r, &res);
	}
	if (!r->fnd && (r->app_id || r->master_id) && r->app_id < 1u << H_APP_ID_BITS &&
	    r->master_id < 1u << H_APP_ID_BITS && r->category_id < 1u << H_APP_CAT_BITS &&
	    r->confidence < 1u << H_APP_CONF_BITS) {
		/* only nDPI's verdict: the handle holds it */
		h2 = H_RESULT | H_APP << H_CLASS_SHIFT | r->app_id |
		     (uint32_t)r->master_id << H_APP_ID_BITS |
		     (uint32_t)r->category_id << (2 * H_APP_ID_BITS) |
		     (uint32_t)r->confidence << (2 * H_APP_ID_BITS + H_APP_CAT_BITS);
		sz = 0;
	} else {
		sz = pack(in, r, &u.r);
		h2 = u.r.l7 ? 0 : PC_INSP_DONE;
	}
	put_parts(in, r);
	r->owner = NULL;
	pool_put(&in->recs, h);
	if (h2)
		return h2;
	for (c = 0; c < RES_CLASSES - 1 && sz > res_size[c]; c++)
		;
	i = pool_get(&in->res[c]);
	if (!i) {
		in->cnt.pool_full++;
		return PC_INSP_DONE;
	}
	memcpy(pool_at(&in->res[c], i), &u, sz);
	return H_RESULT | c << H_CLASS_SHIFT | i;
}

/* Without nDPI: whether any parser could apply to the flow of @m, its first
 * packet (so that flows no parser takes never cost a record). */
static bool parsers_apply(const struct pc_inspect *in, const struct pc_meta *m)
{
	const uint8_t *p = m->l3 + m->pl_off;
	size_t n = m->l3_cap > m->pl_off ? m->l3_cap - m->pl_off : 0;

	if (on(in, CAPTURE_INSPECT_DNS) && dns_port(&m->key) &&
	    (m->key.proto == 6 || m->key.proto == 17))
		return true;
	if (m->key.proto == 6)
		return any_on(in, CAPTURE_INSPECT_TLS | CAPTURE_INSPECT_HTTP);
	if (m->key.proto != 17)
		return false;
	return on(in, CAPTURE_INSPECT_QUIC) && m->pl_off && n >= 5 && (p[0] & 0x80);
}

void pc_inspect_packet(struct pc_inspect *in, uint32_t *h, const struct pc_meta *m, int dir)
{
	struct rec *r;

	if (!pc_inspect_wants(*h) || !m->l3)
		return;
	if (*h == PC_INSP_NONE) {
		if (!in->dpi && !parsers_apply(in, m)) {
			*h = PC_INSP_DONE;
			return;
		}
		*h = rec_start(in, m, h);
		if (*h == PC_INSP_DONE)
			return;
	}
	r = rec_of(in, *h);
	r->total++;
	r->last_ns = m->ts_ns;
	if (r->pkts[dir] < DIR_PKTS) {
		r->pkts[dir]++;
		if (m->key.proto == 6)
			tcp_segment(in, r, m, dir);
		else if (r->want)
			udp_datagram(in, r, m, dir);
		if (r->pkts[dir] == DIR_PKTS)
			stream_settle(in, r, &m->key, dir);
	}
	if (!r->dpi_done)
		dpi_packet(in, r, m);
	if ((r->dpi_done && !r->want && !streams_want(r)) || r->total >= FLOW_PKTS)
		*h = finish(in, *h, &m->key);
}

void pc_inspect_end(struct pc_inspect *in, uint32_t *h)
{
	struct pc_flow_key k;

	if (!pc_inspect_wants(*h) || *h == PC_INSP_NONE)
		return;
	/* the key only tells classify() the ports, which it no longer needs
	 * once a stream is classified; unclassified streams are given up */
	memset(&k, 0, sizeof(k));
	*h = finish(in, *h, &k);
}

/* The app fields of an H_APP handle into @o. */
static void fill_app(const struct pc_inspect *in, uint32_t h, struct capture_flow *o)
{
	struct pc_dpi_result res;
	const uint32_t id_mask = (1u << H_APP_ID_BITS) - 1;

	memset(&res, 0, sizeof(res));
	res.app_id = (uint16_t)(h & id_mask);
	res.master_id = (uint16_t)((h >> H_APP_ID_BITS) & id_mask);
	res.category_id = (uint8_t)((h >> (2 * H_APP_ID_BITS)) & ((1u << H_APP_CAT_BITS) - 1));
	res.confidence = (uint8_t)((h >> (2 * H_APP_ID_BITS + H_APP_CAT_BITS)) &
				   ((1u << H_APP_CONF_BITS) - 1));
	pc_dpi_names(in->dpi, &res);
	o->l7_flags |= CAPTURE_L7_APP;
	o->app_id = res.app_id;
	o->app_master_id = res.master_id;
	o->dpi_confidence = res.confidence;
	_Static_assert(sizeof(o->app) == sizeof(res.app) &&
			       sizeof(o->app_category) == sizeof(res.category),
		       "app name sizes");
	memcpy(o->app, res.app, sizeof(o->app));
	memcpy(o->app_category, res.category, sizeof(o->app_category));
}

void pc_inspect_fill(const struct pc_inspect *in, uint32_t h, struct capture_flow *r)
{
	if (h == PC_INSP_NONE || h == PC_INSP_DONE)
		return;
	if (h >> H_CLASS_SHIFT == (H_RESULT | H_APP << H_CLASS_SHIFT) >> H_CLASS_SHIFT) {
		fill_app(in, h, r);
	} else if (h & H_RESULT) {
		uint32_t c = (h >> H_CLASS_SHIFT) & 3;

		pc_insp_unpack(pool_at(&in->res[c], h & H_INDEX), r);
	} else {
		/* still inspecting (a snapshot of a live flow): what is known so far */
		union {
			struct pc_insp_res r;
			uint8_t b[PC_INSP_RES_MAX];
		} u;

		pack(in, rec_of(in, h), &u.r);
		pc_insp_unpack(&u.r, r);
	}
}

void pc_inspect_release(struct pc_inspect *in, uint32_t h)
{
	if (h == PC_INSP_NONE || h == PC_INSP_DONE)
		return;
	if (h & H_RESULT) {
		uint32_t c = (h >> H_CLASS_SHIFT) & 3;

		if (c != H_APP)
			pool_put(&in->res[c], h & H_INDEX);
		return;
	}
	/* a flow cleared while inspected */
	{
		struct rec *r = rec_of(in, h);

		if (r->dpi)
			pc_dpi_flow_put(in->dpi, r->dpi);
		put_parts(in, r);
		r->owner = NULL;
		pool_put(&in->recs, h);
	}
}
