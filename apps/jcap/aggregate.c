/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reports of `jcap query` over the flow records of a run, without a
 * store: `jcap -r F --top 10 --by dst_port`. Rows are grouped, totalled
 * and ordered exactly as capture_store_report() orders the store's (largest
 * first, ties by ip_version then the keys; bins in time order), so the two
 * print the same report for the same flows. Sort and walk: O(n log n).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "jcap.h"

enum kind {
	K_NUM,
	K_ADDR,
	K_TEXT
};

enum key {
	KEY_SRC_IP,
	KEY_DST_IP,
	KEY_SRC_PORT,
	KEY_DST_PORT,
	KEY_PROTO,
	KEY_IP_VERSION,
	KEY_VLAN,
	KEY_END_REASON,
	KEY_COMMUNITY_ID,
	KEY_APP,
	KEY_APP_CATEGORY,
	KEY_TLS_SNI,
	KEY_DNS_QNAME,
	KEY_HTTP_HOST,
	KEY_CONN_STATE,
	KEY_SRC_COUNTRY,
	KEY_DST_COUNTRY,
	KEY_COUNTRY, /* either end: each flow counted under both */
	KEY_SRC_ASN,
	KEY_DST_ASN,
	KEY_ASN, /* either end */
};

/* The same names as the store's report keys. */
static const struct {
	const char *name;
	enum kind kind;
} keys[] = {
	[KEY_SRC_IP] = { "src_ip", K_ADDR },
	[KEY_DST_IP] = { "dst_ip", K_ADDR },
	[KEY_SRC_PORT] = { "src_port", K_NUM },
	[KEY_DST_PORT] = { "dst_port", K_NUM },
	[KEY_PROTO] = { "proto", K_NUM },
	[KEY_IP_VERSION] = { "ip_version", K_NUM },
	[KEY_VLAN] = { "vlan", K_NUM },
	[KEY_END_REASON] = { "end_reason", K_NUM },
	[KEY_COMMUNITY_ID] = { "community_id", K_TEXT },
	[KEY_APP] = { "app", K_TEXT },
	[KEY_APP_CATEGORY] = { "app_category", K_TEXT },
	[KEY_TLS_SNI] = { "tls_sni", K_TEXT },
	[KEY_DNS_QNAME] = { "dns_qname", K_TEXT },
	[KEY_HTTP_HOST] = { "http_host", K_TEXT },
	[KEY_CONN_STATE] = { "conn_state", K_TEXT },
	[KEY_SRC_COUNTRY] = { "src_country", K_TEXT },
	[KEY_DST_COUNTRY] = { "dst_country", K_TEXT },
	[KEY_COUNTRY] = { "country", K_TEXT },
	[KEY_SRC_ASN] = { "src_asn", K_NUM },
	[KEY_DST_ASN] = { "dst_asn", K_NUM },
	[KEY_ASN] = { "asn", K_NUM },
};

struct item {
	const struct capture_flow *f;
	uint64_t bin;
	char cid[CAPTURE_COMMUNITY_ID_LEN];
	bool dst; /* country, asn: this item is the flow's destination end */
};

/* What the comparators group on (one report at a time, on the main thread). */
static struct {
	int key[CAPTURE_REPORT_MAX_KEYS];
	unsigned nkeys;
	bool addr;
	int order;
} plan;

int jcap_aggregate_keys(const char *spec, int *out, unsigned *n)
{
	const char *s = spec, *e;
	size_t len, i;

	*n = 0;
	while (s && *s) {
		e = strchr(s, ',');
		len = e ? (size_t)(e - s) : strlen(s);
		for (i = 0; i < JCAP_ARRAY_SIZE(keys); i++)
			if (strlen(keys[i].name) == len && !strncmp(keys[i].name, s, len))
				break;
		if (i == JCAP_ARRAY_SIZE(keys)) {
			jcap_err("unknown key '%.*s' (src_ip, dst_ip, src_port, dst_port, proto, "
				 "ip_version, vlan, end_reason, community_id, app, app_category, "
				 "tls_sni, dns_qname, http_host, conn_state, src_country, "
				 "dst_country, country, src_asn, dst_asn, asn)",
				 (int)len, s);
			return -1;
		}
		if (*n == CAPTURE_REPORT_MAX_KEYS) {
			jcap_err("at most %d keys", CAPTURE_REPORT_MAX_KEYS);
			return -1;
		}
		out[(*n)++] = (int)i;
		s = e ? e + 1 : NULL;
	}
	return 0;
}

/* An AS number of @f's source or destination, 0 (the store's NULL) unknown. */
static uint64_t asn(const struct capture_flow *f, bool dst)
{
	if (dst)
		return f->l7_flags & CAPTURE_L7_ASN_DST ? f->dst_asn : 0;
	return f->l7_flags & CAPTURE_L7_ASN_SRC ? f->src_asn : 0;
}

static uint64_t num(const struct item *it, int k)
{
	const struct capture_flow *f = it->f;

	switch (k) {
	case KEY_SRC_ASN:
	case KEY_DST_ASN:
	case KEY_ASN:
		return asn(f, k == KEY_DST_ASN || (k == KEY_ASN && it->dst));
	case KEY_SRC_PORT:
		return f->src_port;
	case KEY_DST_PORT:
		return f->dst_port;
	case KEY_PROTO:
		return f->proto;
	case KEY_IP_VERSION:
		return f->ip_version;
	case KEY_VLAN:
		return f->vlan;
	default:
		return f->end_reason;
	}
}

/* @s when its flag is in @f's l7_flags and it is not empty: the store's
 * value, NULL where the store has NULL. */
static const char *known(const struct capture_flow *f, uint32_t flag, const char *s)
{
	return (f->l7_flags & flag) && s[0] ? s : NULL;
}

/* A text key's value, or NULL (sorted first, as SQLite sorts NULL). */
static const char *text(const struct item *it, int k)
{
	const struct capture_flow *f = it->f;
	bool dst = k == KEY_DST_COUNTRY || (k == KEY_COUNTRY && it->dst);

	switch (k) {
	case KEY_APP:
		return known(f, CAPTURE_L7_APP, f->app);
	case KEY_APP_CATEGORY:
		return known(f, CAPTURE_L7_APP, f->app_category);
	case KEY_TLS_SNI:
		return known(f, CAPTURE_L7_TLS, f->tls_sni);
	case KEY_DNS_QNAME:
		return known(f, CAPTURE_L7_DNS, f->dns_qname);
	case KEY_HTTP_HOST:
		return known(f, CAPTURE_L7_HTTP, f->http_host);
	case KEY_CONN_STATE:
		return f->l7_flags & CAPTURE_L7_TCP ? capture_conn_state_name(f->conn_state) : NULL;
	case KEY_SRC_COUNTRY:
	case KEY_DST_COUNTRY:
	case KEY_COUNTRY:
		return dst ? known(f, CAPTURE_L7_GEO_DST, f->dst_country)
			   : known(f, CAPTURE_L7_GEO_SRC, f->src_country);
	default:
		return it->cid;
	}
}

/* An address as the store keeps it: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
static void addr16(const struct capture_flow *f, int k, uint8_t out[16])
{
	const uint8_t *a = k == KEY_SRC_IP ? f->src_ip : f->dst_ip;

	if (f->ip_version == 4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a, 4);
	} else {
		memcpy(out, a, 16);
	}
}

static int cmp_key(const struct item *x, const struct item *y, int k)
{
	uint8_t a[16], b[16];
	const char *s, *t;
	uint64_t u, v;

	switch (keys[k].kind) {
	case K_ADDR:
		addr16(x->f, k, a);
		addr16(y->f, k, b);
		return memcmp(a, b, 16);
	case K_TEXT:
		s = text(x, k);
		t = text(y, k);
		if (!s || !t)
			return !!s - !!t;
		return strcmp(s, t);
	case K_NUM:
		break;
	}
	u = num(x, k);
	v = num(y, k);
	return (u > v) - (u < v);
}

/* bin, ip_version when an address is a key, then the keys: the GROUP BY. */
static int cmp_group(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	unsigned i;
	int c;

	if (x->bin != y->bin)
		return x->bin < y->bin ? -1 : 1;
	if (plan.addr && x->f->ip_version != y->f->ip_version)
		return x->f->ip_version < y->f->ip_version ? -1 : 1;
	for (i = 0; i < plan.nkeys; i++) {
		c = cmp_key(x, y, plan.key[i]);
		if (c)
			return c;
	}
	return 0;
}

struct group {
	struct capture_report_row row;
	size_t seq; /* position in GROUP BY order: the tie breaker */
};

static uint64_t metric(const struct capture_report_row *r)
{
	return plan.order == CAPTURE_REPORT_BY_PACKETS ? r->packets
	       : plan.order == CAPTURE_REPORT_BY_BYTES ? r->bytes
						       : r->flows;
}

static int cmp_rank(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	uint64_t u = metric(&x->row), v = metric(&y->row);

	if (u != v)
		return u > v ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void key_texts(const struct item *it, struct capture_report_row *row)
{
	unsigned k;
	int key;

	row->nkeys = plan.nkeys;
	for (k = 0; k < plan.nkeys; k++) {
		key = plan.key[k];
		row->key_name[k] = keys[key].name;
		row->key_numeric[k] = keys[key].kind == K_NUM && key != KEY_END_REASON;
		if (keys[key].kind == K_ADDR) {
			if (!inet_ntop(it->f->ip_version == 4 ? AF_INET : AF_INET6,
				       key == KEY_SRC_IP ? it->f->src_ip : it->f->dst_ip,
				       row->key_text[k], sizeof(row->key_text[k])))
				snprintf(row->key_text[k], sizeof(row->key_text[k]), "?");
		} else if (keys[key].kind == K_TEXT) {
			snprintf(row->key_text[k], sizeof(row->key_text[k]), "%s",
				 text(it, key) ? text(it, key) : "");
		} else if (key == KEY_END_REASON) {
			snprintf(row->key_text[k], sizeof(row->key_text[k]), "%s",
				 capture_end_reason_name(it->f->end_reason));
		} else {
			snprintf(row->key_text[k], sizeof(row->key_text[k]), "%llu",
				 (unsigned long long)num(it, key));
		}
	}
}

static void add_flow(struct capture_report_row *r, const struct capture_flow *f)
{
	if (!r->flows || f->first_ns < r->first_ns)
		r->first_ns = f->first_ns;
	if (f->last_ns > r->last_ns)
		r->last_ns = f->last_ns;
	r->flows++;
	r->packets += f->packets + f->rev_packets;
	r->bytes += f->bytes + f->rev_bytes;
}

/* Sorted items into groups (GROUP BY order). Returns how many. */
static size_t make_groups(const struct item *it, size_t n, struct group *g)
{
	size_t i, ng = 0;

	for (i = 0; i < n; i++) {
		if (!i || cmp_group(&it[i - 1], &it[i])) {
			memset(&g[ng], 0, sizeof(g[ng]));
			g[ng].seq = ng;
			g[ng].row.bin_ns = it[i].bin;
			key_texts(&it[i], &g[ng].row);
			ng++;
		}
		add_flow(&g[ng - 1].row, it[i].f);
	}
	return ng;
}

/* The rows of @rep over @f into *@out (malloc'd; *@nout of them). 0, or
 * -1 after reporting. */
static int aggregate(const struct capture_flow *f, size_t n, const struct capture_report *rep,
		     struct capture_report_row **out, size_t *nout)
{
	struct item *it = NULL;
	struct group *g = NULL;
	struct capture_report_row *rows = NULL;
	size_t i, ng, per = 1;
	unsigned k;
	bool cid = false;
	int rc = -1;

	if (jcap_aggregate_keys(rep->keys, plan.key, &plan.nkeys) < 0)
		return -1;
	plan.order = rep->order;
	plan.addr = false;
	for (k = 0; k < plan.nkeys; k++) {
		plan.addr |= keys[plan.key[k]].kind == K_ADDR;
		cid |= plan.key[k] == KEY_COMMUNITY_ID;
		if (plan.key[k] == KEY_COUNTRY || plan.key[k] == KEY_ASN)
			per = 2; /* each flow once per end, as the store's UNION ALL */
	}
	it = calloc(n ? n * per : 1, sizeof(*it));
	g = calloc(n ? n * per : 1, sizeof(*g));
	if (!it || !g) {
		jcap_err("out of memory for the report");
		goto out;
	}
	for (i = 0; i < n * per; i++) {
		const struct capture_flow *fl = &f[i / per];

		it[i].f = fl;
		it[i].dst = i % per == 1;
		it[i].bin = rep->bin_ns ? fl->first_ns / rep->bin_ns * rep->bin_ns : 0;
		if (cid && capture_flow_community_id(fl, fl->community_id_seed, it[i].cid) < 0)
			it[i].cid[0] = 0;
	}
	n *= per;
	qsort(it, n, sizeof(*it), cmp_group);
	ng = make_groups(it, n, g);
	if (!rep->bin_ns)
		qsort(g, ng, sizeof(*g), cmp_rank);
	if (rep->limit && rep->limit < ng)
		ng = rep->limit;
	rows = malloc((ng ? ng : 1) * sizeof(*rows));
	if (!rows) {
		jcap_err("out of memory for the report");
		goto out;
	}
	for (i = 0; i < ng; i++)
		rows[i] = g[i].row;
	*out = rows;
	*nout = ng;
	rc = 0;
out:
	free(it);
	free(g);
	return rc;
}

int jcap_aggregate_print(FILE *fp, const struct capture_flow *f, size_t n,
			 const struct capture_report *rep, enum jcap_format fmt)
{
	struct capture_report_row *rows;
	size_t nr;

	if (aggregate(f, n, rep, &rows, &nr) < 0)
		return -1;
	jcap_report_print(fp, rows, nr, rep->keys, rep->bin_ns != 0, fmt);
	free(rows);
	return 0;
}

int jcap_aggregate_summary(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_format fmt)
{
	const struct capture_report all = { .sz = sizeof(all) };
	const struct capture_report by = { .sz = sizeof(by), .keys = "proto" };
	struct capture_report_row *t, *p, zero = { .nkeys = 0 };
	size_t nt, np;

	if (aggregate(f, n, &all, &t, &nt) < 0)
		return -1;
	if (aggregate(f, n, &by, &p, &np) < 0) {
		free(t);
		return -1;
	}
	/* no flows: one row of zeros, as SQL's aggregate over no rows */
	jcap_summary_print(fp, nt ? t : &zero, p, np, fmt);
	free(t);
	free(p);
	return 0;
}
