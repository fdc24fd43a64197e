/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd's GET .../flows: a copy of the session's flow table (shared between
 * requests that queued up together), filtered by address, port and protocol,
 * the top N kept in order, and written as the library's JSON flow records.
 * Only the copy holds ctl; filtering, ordering and writing hold no lock.
 */
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "util/strbuf.h"

/* ---------------------------------------------------------------- filter and order */

static bool ip_match(const uint8_t *a, const struct flow_query *q)
{
	unsigned full = q->prefix / 8, rem = q->prefix % 8;

	if (memcmp(a, q->ip, full) != 0)
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));

		return (a[full] & mask) == (q->ip[full] & mask);
	}
	return true;
}

/* @pat matches the record's string @s (of @len bytes, known when @known);
 * fnmatch without escapes is SQLite's GLOB, as jcap query's filters. */
static bool glob_match(const char *pat, bool known, const char *s, size_t len, bool nocase)
{
	if (!known || !memchr(s, 0, len) || !s[0])
		return false;
	return fnmatch(pat, s, FNM_NOESCAPE | (nocase ? FNM_CASEFOLD : 0)) == 0;
}

static bool app_match(const struct capture_flow *f, const struct flow_query *q)
{
	uint32_t fl = f->l7_flags;

	if (q->app && !glob_match(q->app, fl & CAPTURE_L7_APP, f->app, sizeof(f->app), false))
		return false;
	if (q->sni &&
	    !glob_match(q->sni, fl & CAPTURE_L7_TLS, f->tls_sni, sizeof(f->tls_sni), true))
		return false;
	if (q->dns_name &&
	    !glob_match(q->dns_name, fl & CAPTURE_L7_DNS, f->dns_qname, sizeof(f->dns_qname), true))
		return false;
	if (q->country[0] &&
	    !((fl & CAPTURE_L7_GEO_SRC) && !memcmp(f->src_country, q->country, 3)) &&
	    !((fl & CAPTURE_L7_GEO_DST) && !memcmp(f->dst_country, q->country, 3)))
		return false;
	if (q->has_asn && !((fl & CAPTURE_L7_ASN_SRC) && f->src_asn == q->asn) &&
	    !((fl & CAPTURE_L7_ASN_DST) && f->dst_asn == q->asn))
		return false;
	return true;
}

static bool flow_match(const struct capture_flow *f, const struct flow_query *q)
{
	if (!app_match(f, q))
		return false;
	if (q->proto >= 0 && f->proto != q->proto)
		return false;
	if (q->port >= 0 && f->src_port != q->port && f->dst_port != q->port)
		return false;
	if (q->has_ip) {
		if (f->ip_version != q->ip_version)
			return false;
		if (!ip_match(f->src_ip, q) && !ip_match(f->dst_ip, q))
			return false;
	}
	if (q->has_tunnel_id &&
	    (!f->tunnel_type || (f->tunnel_id != q->tunnel_id && f->rev_tunnel_id != q->tunnel_id)))
		return false;
	if (q->has_mac && memcmp(f->src_mac, q->mac, 6) && memcmp(f->dst_mac, q->mac, 6))
		return false;
	if (q->community_id) {
		char cid[CAPTURE_COMMUNITY_ID_LEN];

		if (capture_flow_community_id(f, f->community_id_seed, cid) ||
		    strcmp(cid, q->community_id))
			return false;
	}
	return true;
}

static uint64_t flow_key(const struct capture_flow *f, int sort_key)
{
	switch (sort_key) {
	case FLOW_SORT_PACKETS:
		return f->packets + f->rev_packets;
	case FLOW_SORT_DURATION:
		return f->last_ns >= f->first_ns ? f->last_ns - f->first_ns : 0;
	case FLOW_SORT_LAST_SEEN:
		return f->last_ns;
	default:
		return f->bytes + f->rev_bytes;
	}
}

/* Descending by the key; ties by first packet time, then the tuple, so order is stable. */
static int flow_cmp(const void *pa, const void *pb, void *arg)
{
	const struct capture_flow *a = pa, *b = pb;
	int sort_key = *(const int *)arg;
	uint64_t ka = flow_key(a, sort_key), kb = flow_key(b, sort_key);
	int c;

	if (ka != kb)
		return ka > kb ? -1 : 1;
	if (a->first_ns != b->first_ns)
		return a->first_ns < b->first_ns ? -1 : 1;
	c = memcmp(a->src_ip, b->src_ip, 16);
	if (c)
		return c;
	c = memcmp(a->dst_ip, b->dst_ip, 16);
	if (c)
		return c;
	if (a->src_port != b->src_port)
		return a->src_port < b->src_port ? -1 : 1;
	if (a->dst_port != b->dst_port)
		return a->dst_port < b->dst_port ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return (int)a->end_reason - (int)b->end_reason;
}

static const char *const sort_names[] = { "bytes", "packets", "duration", "last_seen" };

/*
 * Ordering: the sort key is computed once per flow and the top @k kept in a
 * bounded heap (O(n log k)), so "top 10 of a million" does not sort a million
 * 128-byte records; ties fall back to the full comparison, so the order is the
 * same as sorting everything.
 */
struct ranked {
	uint64_t key;
	uint32_t idx;
};

struct rank_ctx {
	const struct capture_flow *arr;
	int sort;
};

/* <0 when @a ranks before @b. */
static int rank_cmp(const void *pa, const void *pb, void *arg)
{
	const struct ranked *a = pa, *b = pb;
	struct rank_ctx *rc = arg;

	if (a->key != b->key)
		return a->key > b->key ? -1 : 1;
	return flow_cmp(&rc->arr[a->idx], &rc->arr[b->idx], &rc->sort);
}

/* Max-heap on "ranks later": the root is the worst of the kept ones. */
static void heap_down(struct ranked *h, size_t n, size_t i, struct rank_ctx *rc)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		struct ranked t;

		if (l < n && rank_cmp(&h[l], &h[w], rc) > 0)
			w = l;
		if (r < n && rank_cmp(&h[r], &h[w], rc) > 0)
			w = r;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* The first @k of @n flows in order (array of k), or NULL (k == 0 or no memory). */
static struct ranked *order_flows(const struct capture_flow *arr, size_t n, size_t k, int sort)
{
	struct rank_ctx rc = { arr, sort };
	struct ranked *h, cur;
	size_t i;

	if (!k)
		return NULL;
	h = malloc(k * sizeof(*h));
	if (!h)
		return NULL;
	for (i = 0; i < n; i++) {
		cur.key = flow_key(&arr[i], sort);
		cur.idx = (uint32_t)i;
		if (i < k) {
			h[i] = cur;
			if (i == k - 1)
				for (size_t j = k / 2; j-- > 0;)
					heap_down(h, k, j, &rc);
		} else if (rank_cmp(&cur, &h[0], &rc) < 0) {
			h[0] = cur;
			heap_down(h, k, 0, &rc);
		}
	}
	qsort_r(h, k, sizeof(*h), rank_cmp, &rc);
	return h;
}

/* ---------------------------------------------------------------- the copy */

/*
 * Flow snapshots are shared by the requests that queued up behind one another:
 * a snapshot whose copy began after a request arrived is as fresh as that request
 * needs, so a burst of /flows requests costs the workers one copy, not one each.
 * Arrival and copy times are tickets from one counter, so nothing older than the
 * request is ever served. Small snapshots only; big ones are not kept.
 */
#define SNAP_KEEP_MAX 65536

static _Atomic uint64_t flow_ticket;

static struct {
	struct capture *c; /* handle the copy came from (under ctl) */
	unsigned flags;
	uint64_t stamp; /* ticket taken when the copy began */
	struct capture_flow *arr;
	size_t n;
	uint64_t total;
} snap;

/* A copy of the session's flows taken for one request. */
struct flow_set {
	struct capture_flow *arr; /* malloc'd; NULL without a session */
	size_t n;		  /* flows copied */
	uint64_t total;		  /* flows there were: more than n when the copy was capped */
};

void flows_snap_drop(void)
{
	free(snap.arr);
	memset(&snap, 0, sizeof(snap));
}

/* Copy the flows of g_sess.c (ctl held) into @fs. Returns 0 or an HTTP status. */
static int fetch_flows(unsigned flags, struct flow_set *fs, struct resp *rs)
{
	struct capture_flow *arr = NULL;
	size_t cap = 4096, n = 0;
	uint64_t total = 0;
	int64_t got;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		struct capture_flow *na = realloc(arr, cap * sizeof(*arr));

		if (!na) {
			free(arr);
			return resp_error(rs, 500, NULL, "out of memory for %zu flows", cap);
		}
		arr = na;
		got = capture_flow_get_all(g_sess.c, arr, cap, flags, &total);
		if (got < 0) {
			free(arr);
			return session_engine_error(rs, (int)got, capture_last_error(g_sess.c),
						    "flows", NULL);
		}
		n = (size_t)got;
		if (total <= cap || cap >= g_opts.flows_scan_max)
			break;
		cap = total + total / 8 + 64;
		if (cap > g_opts.flows_scan_max)
			cap = g_opts.flows_scan_max;
	}
	fs->arr = arr;
	fs->n = n;
	fs->total = total;
	return 0;
}

/* Keep a small copy for the requests queued behind this one (ctl held). */
static void snap_keep(const struct flow_set *fs, unsigned flags, uint64_t stamp)
{
	free(snap.arr);
	snap.arr = NULL;
	if (fs->n > SNAP_KEEP_MAX)
		return;
	snap.arr = malloc((fs->n ? fs->n : 1) * sizeof(*fs->arr));
	if (!snap.arr)
		return;
	memcpy(snap.arr, fs->arr, fs->n * sizeof(*fs->arr));
	snap.c = g_sess.c;
	snap.flags = flags;
	snap.stamp = stamp;
	snap.n = fs->n;
	snap.total = fs->total;
}

/*
 * The flows for a request that arrived at ticket @arrival (ctl held): the kept
 * snapshot when its copy began later, else a fresh copy. Returns 0 with @fs
 * filled (empty without a session), or an HTTP status written to @rs.
 */
static int copy_flows(unsigned flags, uint64_t arrival, struct flow_set *fs, struct resp *rs)
{
	uint64_t stamp;
	int st;

	memset(fs, 0, sizeof(*fs));
	if (!g_sess.c)
		return 0;
	if (snap.arr && snap.c == g_sess.c && snap.flags == flags && snap.stamp > arrival) {
		fs->arr = malloc((snap.n ? snap.n : 1) * sizeof(*fs->arr));
		if (!fs->arr)
			return resp_error(rs, 500, NULL, "out of memory");
		memcpy(fs->arr, snap.arr, snap.n * sizeof(*fs->arr));
		fs->n = snap.n;
		fs->total = snap.total;
		return 0;
	}
	stamp = atomic_fetch_add(&flow_ticket, 1);
	st = fetch_flows(flags, fs, rs);
	if (st)
		return st;
	snap_keep(fs, flags, stamp);
	return 0;
}

/* ---------------------------------------------------------------- the reply */

/*
 * The records are written by capture_flow_to_json(), the library's one
 * definition of the flow record, so they match `jcap -F json` byte for byte.
 */
static int write_flows(const struct flow_query *q, const struct flow_set *fs, size_t matched,
		       const struct ranked *order, size_t out_n, struct resp *rs)
{
	struct pc_strbuf b;
	char one[CAPTURE_FLOW_JSON_MAX];
	size_t i;

	pc_strbuf_heap(&b);
	pc_strbuf_printf(&b,
			 "{\"state\":\"%s\",\"sort_by\":\"%s\",\"limit\":%llu,\"matched\":%zu,"
			 "\"total\":%llu,\"truncated\":%s,\"returned\":%zu,\"flows\":[",
			 q->all ? "all" : "active", sort_names[q->sort],
			 (unsigned long long)q->limit, matched, (unsigned long long)fs->total,
			 fs->total > fs->n ? "true" : "false", out_n);
	for (i = 0; i < out_n; i++) {
		int len = capture_flow_to_json(&fs->arr[order[i].idx], one, sizeof(one));

		if (len < 0) {
			free(b.p);
			return resp_error(rs, 500, NULL, "flow record: %s", capture_strerror(len));
		}
		pc_strbuf_printf(&b, "%s%s", i ? "," : "", one);
	}
	pc_strbuf_printf(&b, "]}\n");
	return resp_strbuf(rs, &b, "application/json");
}

int session_flows(const struct flow_query *q, struct resp *rs)
{
	unsigned flags = CAPTURE_FLOWS_ACTIVE | (q->all ? CAPTURE_FLOWS_ENDED : 0);
	uint64_t arrival = atomic_fetch_add(&flow_ticket, 1);
	struct ranked *order;
	struct flow_set fs;
	size_t m, i, out_n;
	int st;

	pthread_mutex_lock(&g_sess.ctl);
	st = copy_flows(flags, arrival, &fs, rs);
	pthread_mutex_unlock(&g_sess.ctl);
	if (st)
		return st;

	for (i = m = 0; i < fs.n; i++)
		if (flow_match(&fs.arr[i], q))
			fs.arr[m++] = fs.arr[i];
	out_n = (q->limit && q->limit < m) ? (size_t)q->limit : m;
	order = order_flows(fs.arr, m, out_n, q->sort);
	if (!order && out_n) {
		free(fs.arr);
		return resp_error(rs, 500, NULL, "out of memory");
	}
	st = write_flows(q, &fs, m, order, out_n, rs);
	free(order);
	free(fs.arr);
	return st;
}
