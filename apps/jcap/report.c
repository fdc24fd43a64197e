/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap query DB --top N --by KEY | --aggregate KEYS | --bin DUR |
 * --summary`: nfdump-like statistics, computed by SQLite
 * (capture_store_report) and printed here as JSON Lines (exact numbers),
 * CSV or a table (K/M/G units). One row per group, largest first (by
 * flows unless --order says packets or bytes); bins in time order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jcap.h"

const char *const jcap_report_order_names[] = { "flows", "packets", "bytes", NULL };

int jcap_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		char unit;
		uint64_t sec;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	unsigned long long v;
	uint64_t mul = 1;
	char *end;
	size_t i;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !v)
		return -1;
	if (*end) {
		for (i = 0; i < JCAP_ARRAY_SIZE(units) && units[i].unit != *end; i++)
			;
		if (i == JCAP_ARRAY_SIZE(units) || end[1])
			return -1;
		mul = units[i].sec;
	}
	if (v > UINT64_MAX / 1000000000ull / mul)
		return -1;
	*ns = v * mul * 1000000000ull;
	return 0;
}

struct rows {
	struct capture_report_row *v;
	size_t n, cap;
	bool oom;
};

static void on_row(void *ctx, const struct capture_report_row *row)
{
	struct rows *r = ctx;
	struct capture_report_row *v;

	if (r->oom)
		return;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		v = realloc(r->v, r->cap * sizeof(*v));
		if (!v) {
			r->oom = true;
			return;
		}
		r->v = v;
	}
	r->v[r->n++] = *row;
}

static void json_row(FILE *fp, const struct capture_report_row *w, bool bin)
{
	char t[40];
	unsigned k;

	fputc('{', fp);
	if (bin) {
		jcap_iso_time(w->bin_ns, true, t, sizeof(t));
		fprintf(fp, "\"bin\":\"%s\",\"bin_ns\":%" PRIu64 ",", t, w->bin_ns);
	}
	for (k = 0; k < w->nkeys; k++) {
		fprintf(fp, "\"%s\":", w->key_name[k]);
		if (w->key_numeric[k])
			fputs(w->key_text[k], fp);
		else
			jcap_json_str(fp, w->key_text[k]);
		fputc(',', fp);
	}
	fprintf(fp, "\"flows\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}\n",
		w->flows, w->packets, w->bytes);
}

static void csv_rows(FILE *fp, const struct rows *r, const char *const *names, unsigned nkeys,
		     bool bin)
{
	char t[40];
	unsigned k;
	size_t i;

	if (bin)
		fputs("bin,bin_ns,", fp);
	for (k = 0; k < nkeys; k++)
		fprintf(fp, "%s,", names[k]);
	fputs("flows,packets,bytes\n", fp);
	for (i = 0; i < r->n; i++) {
		if (bin) {
			jcap_iso_time(r->v[i].bin_ns, true, t, sizeof(t));
			fprintf(fp, "%s,%" PRIu64 ",", t, r->v[i].bin_ns);
		}
		for (k = 0; k < nkeys; k++) { /* names from the wire: quoted where needed */
			jcap_csv_field(fp, r->v[i].key_text[k]);
			fputc(',', fp);
		}
		fprintf(fp, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", r->v[i].flows, r->v[i].packets,
			r->v[i].bytes);
	}
}

/* A key's text for the table: protocol names, as in the flow table; a name
 * from the wire (app, SNI) with bytes that are not printable ASCII as '?'. */
static const char *table_key(const struct capture_report_row *w, unsigned k, char *buf, size_t len)
{
	const char *s = w->key_text[k];
	size_t i;

	if (!strcmp(w->key_name[k], "proto"))
		return jcap_proto_name((uint8_t)strtoul(s, NULL, 10), buf, len);
	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = 0;
	return buf;
}

static void table_rows(FILE *fp, const struct rows *r, const char *const *names, unsigned nkeys,
		       bool bin)
{
	int w[CAPTURE_REPORT_MAX_KEYS];
	char buf[3][24], t[40], nb[64];
	unsigned k;
	size_t i;

	for (k = 0; k < nkeys; k++) {
		w[k] = (int)strlen(names[k]);
		for (i = 0; i < r->n; i++) {
			int l = (int)strlen(table_key(&r->v[i], k, nb, sizeof(nb)));

			w[k] = l > w[k] ? l : w[k];
		}
	}
	if (bin)
		fprintf(fp, "%-23s ", "BIN");
	for (k = 0; k < nkeys; k++)
		fprintf(fp, "%-*s ", w[k], names[k]);
	fprintf(fp, "%8s %8s %8s\n", "FLOWS", "PACKETS", "BYTES");
	for (i = 0; i < r->n; i++) {
		if (bin) {
			jcap_iso_time(r->v[i].bin_ns, false, t, sizeof(t));
			fprintf(fp, "%-23s ", t);
		}
		for (k = 0; k < nkeys; k++)
			fprintf(fp, "%-*s ", w[k], table_key(&r->v[i], k, nb, sizeof(nb)));
		jcap_units(r->v[i].flows, buf[0], sizeof(buf[0]));
		jcap_units(r->v[i].packets, buf[1], sizeof(buf[1]));
		jcap_units(r->v[i].bytes, buf[2], sizeof(buf[2]));
		fprintf(fp, "%8s %8s %8s\n", buf[0], buf[1], buf[2]);
	}
}

/* Run one report; the rows in @out. An exit code. */
static int run(const char *db, const struct capture_query *q, const struct capture_report *rep,
	       struct rows *out)
{
	char err[1024] = "";
	int64_t n;

	n = capture_store_report(db, q, rep, on_row, out, err, sizeof(err));
	if (n == -EINVAL) {
		jcap_err("query: %s", err);
		return JCAP_EXIT_USAGE;
	}
	if (n < 0) {
		if (err[0])
			jcap_err("%s", err);
		else
			jcap_err("%s: %s", db, capture_strerror((int)n));
		return JCAP_EXIT_FAIL;
	}
	if (out->oom) {
		jcap_err("%s: out of memory holding the report", db);
		return JCAP_EXIT_FAIL;
	}
	return JCAP_EXIT_OK;
}

/* Key names of @keys ("src_ip,dst_port") for the headers, split in @buf. */
static unsigned split_keys(const char *keys, char *buf, size_t len, const char **names)
{
	unsigned n = 0;
	char *p = buf;

	snprintf(buf, len, "%s", keys);
	while (p && *p && n < CAPTURE_REPORT_MAX_KEYS) {
		names[n++] = p;
		p = strchr(p, ',');
		if (p)
			*p++ = 0;
	}
	return n;
}

void jcap_report_print(FILE *fp, const struct capture_report_row *v, size_t n, const char *keys,
		       bool bin, enum jcap_format fmt)
{
	const char *names[CAPTURE_REPORT_MAX_KEYS];
	const struct rows r = { .v = (struct capture_report_row *)v, .n = n };
	char kb[256];
	unsigned nk = 0;
	size_t i;

	if (keys && *keys)
		nk = split_keys(keys, kb, sizeof(kb), names);
	if (fmt == JCAP_FMT_JSON)
		for (i = 0; i < n; i++)
			json_row(fp, &v[i], bin);
	else if (fmt == JCAP_FMT_CSV)
		csv_rows(fp, &r, names, nk, bin);
	else
		table_rows(fp, &r, names, nk, bin);
}

int jcap_report(FILE *fp, const char *db, const struct capture_query *q,
		const struct capture_report *rep, enum jcap_format fmt)
{
	struct rows r = { 0 };
	int rc;

	rc = run(db, q, rep, &r);
	if (rc == JCAP_EXIT_OK)
		jcap_report_print(fp, r.v, r.n, rep->keys, rep->bin_ns != 0, fmt);
	free(r.v);
	return rc;
}

void jcap_summary_print(FILE *fp, const struct capture_report_row *t,
			const struct capture_report_row *p, size_t np, enum jcap_format fmt)
{
	char t0[40], t1[40], nb[64], u[3][24];
	size_t i;

	jcap_iso_time(t->first_ns, fmt != JCAP_FMT_TABLE, t0, sizeof(t0));
	jcap_iso_time(t->last_ns, fmt != JCAP_FMT_TABLE, t1, sizeof(t1));
	if (!t->flows)
		t0[0] = t1[0] = 0;
	if (fmt == JCAP_FMT_TABLE) {
		jcap_units(t->flows, u[0], sizeof(u[0]));
		jcap_units(t->packets, u[1], sizeof(u[1]));
		jcap_units(t->bytes, u[2], sizeof(u[2]));
		fprintf(fp, "flows %s, packets %s, bytes %s, first %s, last %s\n", u[0], u[1], u[2],
			t0[0] ? t0 : "-", t1[0] ? t1 : "-");
		for (i = 0; i < np; i++) {
			jcap_units(p[i].flows, u[0], sizeof(u[0]));
			jcap_units(p[i].packets, u[1], sizeof(u[1]));
			jcap_units(p[i].bytes, u[2], sizeof(u[2]));
			fprintf(fp, "  %-6s flows %s, packets %s, bytes %s\n",
				table_key(&p[i], 0, nb, sizeof(nb)), u[0], u[1], u[2]);
		}
		return;
	}
	if (fmt == JCAP_FMT_CSV) {
		fprintf(fp,
			"proto,flows,packets,bytes,first_ns,last_ns\nall,%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
			t->flows, t->packets, t->bytes, t->first_ns, t->last_ns);
		for (i = 0; i < np; i++)
			fprintf(fp,
				"%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
				p[i].key_text[0], p[i].flows, p[i].packets, p[i].bytes,
				p[i].first_ns, p[i].last_ns);
		return;
	}
	fprintf(fp,
		"{\"flows\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64
		",\"first\":\"%s\",\"last\":\"%s\","
		"\"protocols\":[",
		t->flows, t->packets, t->bytes, t->first_ns, t->last_ns, t0, t1);
	for (i = 0; i < np; i++)
		fprintf(fp,
			"%s{\"proto\":%s,\"flows\":%" PRIu64 ",\"packets\":%" PRIu64
			",\"bytes\":%" PRIu64 "}",
			i ? "," : "", p[i].key_text[0], p[i].flows, p[i].packets, p[i].bytes);
	fputs("]}\n", fp);
}

/* --summary: totals, first and last time, flows by protocol. */
int jcap_report_summary(FILE *fp, const char *db, const struct capture_query *q,
			enum jcap_format fmt)
{
	struct capture_report tot = { .sz = sizeof(tot) };
	struct capture_report by = { .sz = sizeof(by), .keys = "proto" };
	struct rows t = { 0 }, p = { 0 };
	int rc;

	rc = run(db, q, &tot, &t);
	if (rc == JCAP_EXIT_OK)
		rc = run(db, q, &by, &p);
	if (rc != JCAP_EXIT_OK || t.n != 1)
		goto out;
	jcap_summary_print(fp, &t.v[0], p.v, p.n, fmt);
out:
	free(t.v);
	free(p.v);
	return rc;
}
