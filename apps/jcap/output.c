/* SPDX-License-Identifier: BSD-3-Clause */
/* jcap output formats: JSON Lines (the library's record), CSV; helpers of the table. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "jcap.h"

/* Length of the valid UTF-8 sequence at @p (NUL-terminated), 0 if none. */
static unsigned utf8_seq(const unsigned char *p)
{
	unsigned n, i;
	uint32_t cp;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	cp = p[0] & (0x7fu >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string as the library writes one: valid UTF-8 passes, any other
 * byte (wire bytes in a report key: an SNI, a DNS name) becomes \u00XX. */
void jcap_json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', fp);
	while (*p) {
		unsigned n = *p >= 0x80 ? utf8_seq(p) : 1;

		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p == 0x7f || !n)
			fprintf(fp, "\\u%04x", *p);
		else
			fwrite(p, 1, n, fp);
		p += n ? n : 1;
	}
	fputc('"', fp);
}

const char *const jcap_format_names[] = { "table", "json", "csv", NULL };

enum jcap_format jcap_default_format(FILE *fp)
{
	return isatty(fileno(fp)) ? JCAP_FMT_TABLE : JCAP_FMT_JSON;
}

int jcap_flows_add(struct jcap_flows *fl, const struct capture_flow *recs, size_t n)
{
	if (fl->n + n > fl->cap) {
		size_t cap = fl->cap ? fl->cap : 1024;
		struct capture_flow *v;

		while (cap < fl->n + n)
			cap *= 2;
		v = realloc(fl->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		fl->v = v;
		fl->cap = cap;
	}
	memcpy(fl->v + fl->n, recs, n * sizeof(*recs));
	fl->n += n;
	return 0;
}

static void fmt_ip(const struct capture_flow *f, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(f->ip_version == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

const char *const jcap_time_format_names[] = { "ns", "iso", NULL };

const char *jcap_proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 47:
		return "gre";
	case 50:
		return "esp";
	case 58:
		return "icmp6";
	case 132:
		return "sctp";
	default:
		snprintf(buf, len, "%u", p);
		return buf;
	}
}

void jcap_iso_time(uint64_t ns, bool utc, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000u);
	unsigned ms = (unsigned)(ns % 1000000000u / 1000000u);
	struct tm tm;
	size_t n;

	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
		snprintf(buf, len, "?");
		return;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03u%s", ms, utc ? "Z" : "");
}

void jcap_units(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v / 1000.0;
	size_t u = 0;

	if (v < 100000) {
		snprintf(buf, len, "%" PRIu64, v);
		return;
	}
	/* 999.95 would print as 1000.0: that is the next unit's 1.0 */
	while (d >= 999.95 && u + 1 < sizeof(units) - 1) {
		d /= 1000.0;
		u++;
	}
	snprintf(buf, len, "%.1f%c", d, units[u]);
}

unsigned jcap_term_width(FILE *fp)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	char *end;
	unsigned long v;

	if (env && *env) {
		v = strtoul(env, &end, 10);
		if (!*end && v > 0 && v < 100000)
			return (unsigned)v;
	}
	if (isatty(fileno(fp)) && ioctl(fileno(fp), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

/* CSV columns of the link and path identity; empty where they do not apply. */
#define CSV_PATH_HEADER                                                                         \
	",community_id,interface,src_mac,dst_mac,vlan_inner,mpls_labels,tunnel_type,tunnel_id," \
	"rev_tunnel_id,outer_src_ip,outer_dst_ip,tos,dscp,rev_tos,rev_dscp,min_ttl,max_ttl,"    \
	"rev_min_ttl,rev_max_ttl"

static void csv_mac(FILE *fp, const uint8_t *m, bool set)
{
	if (set)
		fprintf(fp, ",%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	else
		fputc(',', fp);
}

static void csv_path(FILE *fp, const struct capture_flow *f)
{
	static const uint8_t zero[6];
	char cid[CAPTURE_COMMUNITY_ID_LEN] = "", oa[2][INET6_ADDRSTRLEN] = { "", "" };
	bool mac = memcmp(f->src_mac, zero, 6) || memcmp(f->dst_mac, zero, 6);
	const char *tn = f->tunnel_type ? capture_tunnel_name(f->tunnel_type) : NULL;
	int k;

	capture_flow_community_id(f, f->community_id_seed, cid);
	fprintf(fp, ",%s,%u", cid, f->interface);
	csv_mac(fp, f->src_mac, mac);
	csv_mac(fp, f->dst_mac, mac);
	fputc(',', fp);
	if (f->vlan_inner)
		fprintf(fp, "%u", f->vlan_inner);
	fputc(',', fp); /* labels separated by '/', top first */
	for (k = 0; k < 3 && f->mpls_labels[k]; k++)
		fprintf(fp, k ? "/%u" : "%u", f->mpls_labels[k] >> 4);
	if (tn && (f->outer_ip_version == 4 || f->outer_ip_version == 6)) {
		inet_ntop(f->outer_ip_version == 4 ? AF_INET : AF_INET6, f->outer_src_ip, oa[0],
			  sizeof(oa[0]));
		inet_ntop(f->outer_ip_version == 4 ? AF_INET : AF_INET6, f->outer_dst_ip, oa[1],
			  sizeof(oa[1]));
	}
	if (tn)
		fprintf(fp, ",%s,%u,%u,%s,%s", tn, f->tunnel_id, f->rev_tunnel_id, oa[0], oa[1]);
	else
		fputs(",,,,,", fp);
	if (f->packets)
		fprintf(fp, ",%u,%u", f->tos, f->tos >> 2);
	else
		fputs(",,", fp);
	if (f->rev_packets)
		fprintf(fp, ",%u,%u", f->rev_tos, f->rev_tos >> 2);
	else
		fputs(",,", fp);
	if (f->packets)
		fprintf(fp, ",%u,%u", f->min_ttl, f->max_ttl);
	else
		fputs(",,", fp);
	if (f->rev_packets)
		fprintf(fp, ",%u,%u", f->rev_min_ttl, f->rev_max_ttl);
	else
		fputs(",,", fp);
}

static void print_csv(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_time_format tf)
{
	size_t i;

	fputs("src_ip,dst_ip,src_port,dst_port,proto,ip_version,vlan,packets,bytes,rev_packets,"
	      "rev_bytes,tcp_flags,rev_tcp_flags,first_ns,last_ns,icmp_type,icmp_code,end_reason,"
	      "worker" CSV_PATH_HEADER,
	      fp);
	fputs(jcap_csv_l7_header, fp);
	fputs(tf == JCAP_TIME_ISO ? ",start,end\n" : "\n", fp);
	for (i = 0; i < n; i++) {
		char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN], t0[40], t1[40];

		fmt_ip(&f[i], f[i].src_ip, sa, sizeof(sa));
		fmt_ip(&f[i], f[i].dst_ip, da, sizeof(da));
		fprintf(fp,
			"%s,%s,%u,%u,%u,%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%u,%u,%" PRIu64 ",%" PRIu64 ",%u,%u,%s,%u",
			sa, da, f[i].src_port, f[i].dst_port, f[i].proto, f[i].ip_version,
			f[i].vlan, f[i].packets, f[i].bytes, f[i].rev_packets, f[i].rev_bytes,
			f[i].tcp_flags, f[i].rev_tcp_flags, f[i].first_ns, f[i].last_ns,
			f[i].icmp_type, f[i].icmp_code, capture_end_reason_name(f[i].end_reason),
			f[i].worker);
		csv_path(fp, &f[i]);
		jcap_csv_l7(fp, &f[i]);
		if (tf == JCAP_TIME_ISO) {
			jcap_iso_time(f[i].first_ns, true, t0, sizeof(t0));
			jcap_iso_time(f[i].last_ns, true, t1, sizeof(t1));
			fprintf(fp, ",%s,%s", t0, t1);
		}
		fputc('\n', fp);
	}
}

int jcap_flow_json(const struct capture_flow *f, enum jcap_time_format tf, char *buf, size_t len)
{
	char t0[40], t1[40];
	int n, w;

	if (len < 2)
		return -ENOSPC;
	n = capture_flow_to_json(f, buf, len - 1);
	if (n < 1)
		return n < 0 ? n : -ENOSPC;
	if (tf == JCAP_TIME_ISO) {
		/* "start"/"end" go last, before the object's closing brace */
		jcap_iso_time(f->first_ns, true, t0, sizeof(t0));
		jcap_iso_time(f->last_ns, true, t1, sizeof(t1));
		w = snprintf(buf + n - 1, len - (size_t)n, ",\"start\":\"%s\",\"end\":\"%s\"}", t0,
			     t1);
		if (w < 0 || (size_t)w >= len - (size_t)n)
			return -ENOSPC;
		n += w - 1;
	}
	buf[n++] = '\n';
	buf[n] = 0;
	return n;
}

int jcap_print_flows(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_format fmt)
{
	struct jcap_out o = { .fmt = fmt,
			      .width = fmt == JCAP_FMT_TABLE ? jcap_term_width(fp) : 0 };

	return jcap_print_flows_out(fp, f, n, &o);
}

int jcap_print_flows_out(FILE *fp, const struct capture_flow *f, size_t n, const struct jcap_out *o)
{
	size_t i;
	char line[JCAP_JSON_LINE];

	switch (o->fmt) {
	case JCAP_FMT_TABLE:
		jcap_print_table(fp, f, n, o);
		break;
	case JCAP_FMT_CSV:
		print_csv(fp, f, n, o->time_fmt);
		break;
	case JCAP_FMT_JSON:
		for (i = 0; i < n; i++) {
			int len = jcap_flow_json(&f[i], o->time_fmt, line, sizeof(line));

			if (len > 0)
				fwrite(line, 1, (size_t)len, fp);
		}
		break;
	}
	return ferror(fp) ? -EIO : 0;
}
