/* SPDX-License-Identifier: BSD-3-Clause */
/* jcap output formats: JSON Lines (the library's record), CSV and a table. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jcap.h"

void jcap_json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', fp);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
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

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmp6";
	case 132:
		return "sctp";
	default:
		snprintf(buf, len, "%u", p);
		return buf;
	}
}

static void endpoint(const struct capture_flow *f, bool src, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	fmt_ip(f, src ? f->src_ip : f->dst_ip, a, sizeof(a));
	snprintf(buf, len, f->ip_version == 6 ? "[%s]:%u" : "%s:%u", a,
		 src ? f->src_port : f->dst_port);
}

static void print_table(FILE *fp, const struct capture_flow *f, size_t n)
{
	int ws = 3, wd = 3;
	size_t i;

	/* columns as wide as the widest endpoint shown */
	for (i = 0; i < n; i++) {
		char s[64];
		int l;

		endpoint(&f[i], true, s, sizeof(s));
		l = (int)strlen(s);
		ws = l > ws ? l : ws;
		endpoint(&f[i], false, s, sizeof(s));
		l = (int)strlen(s);
		wd = l > wd ? l : wd;
	}
	fprintf(fp, "%-*s  %-*s %-5s %4s %10s %12s %10s %12s %10s  %s\n", ws, "SRC", wd, "DST",
		"PROTO", "VLAN", "PKTS", "BYTES", "REV_PKTS", "REV_BYTES", "DURATION", "END");
	for (i = 0; i < n; i++) {
		char s[64], d[64], pb[8];
		double dur = (double)(f[i].last_ns - f[i].first_ns) / 1e9;

		endpoint(&f[i], true, s, sizeof(s));
		endpoint(&f[i], false, d, sizeof(d));
		fprintf(fp,
			"%-*s  %-*s %-5s %4u %10" PRIu64 " %12" PRIu64 " %10" PRIu64 " %12" PRIu64
			" %9.3fs  %s\n",
			ws, s, wd, d, proto_name(f[i].proto, pb, sizeof(pb)), f[i].vlan,
			f[i].packets, f[i].bytes, f[i].rev_packets, f[i].rev_bytes, dur,
			capture_end_reason_name(f[i].end_reason));
	}
}

static void print_csv(FILE *fp, const struct capture_flow *f, size_t n)
{
	size_t i;

	fputs("src_ip,dst_ip,src_port,dst_port,proto,ip_version,vlan,packets,bytes,rev_packets,"
	      "rev_bytes,tcp_flags,rev_tcp_flags,first_ns,last_ns,icmp_type,icmp_code,end_reason,"
	      "worker\n",
	      fp);
	for (i = 0; i < n; i++) {
		char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];

		fmt_ip(&f[i], f[i].src_ip, sa, sizeof(sa));
		fmt_ip(&f[i], f[i].dst_ip, da, sizeof(da));
		fprintf(fp,
			"%s,%s,%u,%u,%u,%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%u,%u,%" PRIu64 ",%" PRIu64 ",%u,%u,%s,%u\n",
			sa, da, f[i].src_port, f[i].dst_port, f[i].proto, f[i].ip_version,
			f[i].vlan, f[i].packets, f[i].bytes, f[i].rev_packets, f[i].rev_bytes,
			f[i].tcp_flags, f[i].rev_tcp_flags, f[i].first_ns, f[i].last_ns,
			f[i].icmp_type, f[i].icmp_code, capture_end_reason_name(f[i].end_reason),
			f[i].worker);
	}
}

int jcap_print_flows(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_format fmt)
{
	size_t i;
	char line[1024];

	switch (fmt) {
	case JCAP_FMT_TABLE:
		print_table(fp, f, n);
		break;
	case JCAP_FMT_CSV:
		print_csv(fp, f, n);
		break;
	case JCAP_FMT_JSON:
		for (i = 0; i < n; i++) {
			int len = capture_flow_to_json(&f[i], line, sizeof(line) - 1);

			if (len < 0)
				continue;
			line[len++] = '\n';
			fwrite(line, 1, (size_t)len, fp);
		}
		break;
	}
	return ferror(fp) ? -EIO : 0;
}
