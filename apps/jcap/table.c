/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The -F table of flows, for people: local start time, protocol names, TCP
 * flags as letters, counts with units, fitted to the terminal. Columns are
 * as wide as their widest cell; when the line is wider than the limit,
 * the steps of fit_steps[] apply in order until it fits (the man page and
 * the help document the same order). Names from the wire (APP, SNI) are
 * printed with every byte that is not printable ASCII as '?'.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jcap.h"

enum col {
	C_START,
	C_DUR,
	C_PROTO,
	C_SRC,
	C_DST,
	C_APP,
	C_SNI,
	C_FLAGS,
	C_STATE,
	C_TUNNEL,
	C_VLAN,
	C_PKTS,
	C_BYTES,
	C_RPKTS,
	C_RBYTES,
	C_END,
	C_COUNT
};

static const struct {
	const char *head;
	bool right;
} cols[C_COUNT] = {
	[C_START] = { "START", false },	    [C_DUR] = { "DURATION", true },
	[C_PROTO] = { "PROTO", false },	    [C_SRC] = { "SRC", false },
	[C_DST] = { "DST", false },	    [C_APP] = { "APP", false },
	[C_SNI] = { "SNI", false },	    [C_STATE] = { "STATE", false },
	[C_FLAGS] = { "FLAGS", false },	    [C_TUNNEL] = { "TUNNEL", false },
	[C_VLAN] = { "VLAN", true },	    [C_PKTS] = { "PKTS", true },
	[C_BYTES] = { "BYTES", true },	    [C_RPKTS] = { "REV_PKTS", true },
	[C_RBYTES] = { "REV_BYTES", true }, [C_END] = { "END", false },
};

/* What fitting does, step by step: shorten long (IPv6) endpoints to
 * ENDPOINT_SHORT and names to NAME_SHORT, drop columns, show only the time
 * of day, drop more. APP goes last: after "who", "which application" is
 * what the table answers. */
#define STEP_SHORTEN (-1)
#define STEP_TIME_ONLY (-2)
#define ENDPOINT_SHORT 22
#define NAME_SHORT 20
#define CELL_MAX (CAPTURE_NAME_LEN + 8)

static const int fit_steps[] = {
	STEP_SHORTEN,	C_END,	  C_VLAN,  C_RPKTS, C_RBYTES, C_DUR,
	STEP_TIME_ONLY, C_TUNNEL, C_FLAGS, C_PKTS,  C_APP,
};

struct layout {
	bool on[C_COUNT];
	int w[C_COUNT];
	int ep_max; /* endpoints longer than this are shortened; 0: never */
	bool time_only;
};

/* nfdump's flag letters, CWR down to FIN, '.' for a flag not seen. */
static void tcp_flags(uint8_t fl, char out[9])
{
	static const char letters[] = "CEUAPRSF";
	int i;

	for (i = 0; i < 8; i++)
		out[i] = fl & (0x80 >> i) ? letters[i] : '.';
	out[8] = 0;
}

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 33 || proto == 136;
}

/*
 * "v4:port", "[v6]:port"; ICMP's type.code in the destination's port, as
 * nfdump shows it; the bare address for other protocols without ports.
 * Cut in the middle to @max characters.
 */
static void endpoint(const struct capture_flow *f, bool src, int max, char *buf, size_t len)
{
	bool icmp = f->proto == 1 || f->proto == 58;
	char a[INET6_ADDRSTRLEN], tmp[64];
	int n, head;

	if (!inet_ntop(f->ip_version == 4 ? AF_INET : AF_INET6, src ? f->src_ip : f->dst_ip, a,
		       sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (has_ports(f->proto))
		n = snprintf(tmp, sizeof(tmp), f->ip_version == 6 ? "[%s]:%u" : "%s:%u", a,
			     src ? f->src_port : f->dst_port);
	else if (icmp && !src)
		n = snprintf(tmp, sizeof(tmp), f->ip_version == 6 ? "[%s]:%u.%u" : "%s:%u.%u", a,
			     f->icmp_type, f->icmp_code);
	else
		n = snprintf(tmp, sizeof(tmp), "%s", a);
	if (!max || n <= max) {
		snprintf(buf, len, "%s", tmp);
		return;
	}
	head = (max - 2) / 2;
	snprintf(buf, len, "%.*s..%s", head, tmp, tmp + n - (max - 2 - head));
}

/* @s (at most CAPTURE_NAME_LEN - 1 bytes) printable, cut in the middle to
 * @max characters (0: whole). */
static void name(const char *s, int max, char *buf, size_t len)
{
	char tmp[CAPTURE_NAME_LEN];
	int i, n, head;

	if (!s)
		s = "";
	for (n = 0; n < (int)sizeof(tmp) - 1 && s[n]; n++)
		tmp[n] = s[n] > 0x20 && s[n] < 0x7f ? s[n] : '?';
	tmp[n] = 0;
	if (!max || n <= max) {
		snprintf(buf, len, "%s", tmp);
		return;
	}
	head = (max - 2) / 2;
	i = n - (max - 2 - head);
	snprintf(buf, len, "%.*s..%s", head, tmp, tmp + i);
}

static void tunnel(const struct capture_flow *f, char *buf, size_t len)
{
	const char *name = capture_tunnel_name(f->tunnel_type);

	if (!f->tunnel_type) {
		buf[0] = 0;
		return;
	}
	if (f->tunnel_id)
		snprintf(buf, len, "%s:%u", name ? name : "?", f->tunnel_id);
	else
		snprintf(buf, len, "%s", name ? name : "?");
}

/* The text of column @c for @f. */
static const char *cell(int c, const struct capture_flow *f, const struct layout *l, char *buf,
			size_t len)
{
	char t[40];

	switch (c) {
	case C_START:
		jcap_iso_time(f->first_ns, false, t, sizeof(t));
		snprintf(buf, len, "%s", l->time_only ? t + 11 : t);
		break;
	case C_DUR:
		snprintf(buf, len, "%.3fs", (double)(f->last_ns - f->first_ns) / 1e9);
		break;
	case C_PROTO:
		return jcap_proto_name(f->proto, buf, len);
	case C_SRC:
	case C_DST:
		endpoint(f, c == C_SRC, l->ep_max, buf, len);
		break;
	case C_APP:
		name(jcap_flow_app(f), l->ep_max ? NAME_SHORT : 0, buf, len);
		break;
	case C_SNI:
		name(f->l7_flags & CAPTURE_L7_TLS ? f->tls_sni : NULL, 0, buf, len);
		break;
	case C_FLAGS:
		if (f->proto != 6)
			return "";
		tcp_flags(f->tcp_flags | f->rev_tcp_flags, buf);
		break;
	case C_STATE: {
		const char *s = capture_conn_state_name(f->conn_state);

		return f->l7_flags & CAPTURE_L7_TCP && s ? s : "";
	}
	case C_TUNNEL:
		tunnel(f, buf, len);
		break;
	case C_VLAN:
		snprintf(buf, len, "%u", f->vlan);
		break;
	case C_PKTS: /* both directions; REV_ the share from dst to src */
		jcap_units(f->packets + f->rev_packets, buf, len);
		break;
	case C_BYTES:
		jcap_units(f->bytes + f->rev_bytes, buf, len);
		break;
	case C_RPKTS:
		jcap_units(f->rev_packets, buf, len);
		break;
	case C_RBYTES:
		jcap_units(f->rev_bytes, buf, len);
		break;
	case C_END:
		return capture_end_reason_name(f->end_reason);
	}
	return buf;
}

static void measure(const struct capture_flow *f, size_t n, struct layout *l)
{
	char buf[CELL_MAX];
	size_t i;
	int c, w;

	for (c = 0; c < C_COUNT; c++)
		l->w[c] = (int)strlen(cols[c].head);
	for (i = 0; i < n; i++) {
		for (c = 0; c < C_COUNT; c++) {
			if (!l->on[c])
				continue;
			w = (int)strlen(cell(c, &f[i], l, buf, sizeof(buf)));
			if (w > l->w[c])
				l->w[c] = w;
		}
	}
}

static int total(const struct layout *l)
{
	int c, sum = -1;

	for (c = 0; c < C_COUNT; c++)
		if (l->on[c])
			sum += l->w[c] + 1;
	return sum;
}

/* Which columns, how wide: everything that applies, then fit_steps[]
 * until the line fits @width (0: no limit). */
static void plan(const struct capture_flow *f, size_t n, const struct jcap_out *o, struct layout *l)
{
	unsigned width = o->width;
	size_t i, s;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < C_COUNT; i++)
		l->on[i] = i < C_APP || i > C_VLAN;
	/* these columns appear when a flow has them (SNI and STATE: --wide) */
	for (i = 0; i < n; i++) {
		l->on[C_APP] |= jcap_flow_app(&f[i]) != NULL;
		l->on[C_SNI] |= o->wide && (f[i].l7_flags & CAPTURE_L7_TLS) && f[i].tls_sni[0];
		l->on[C_FLAGS] |= f[i].proto == 6;
		l->on[C_STATE] |= o->wide && (f[i].l7_flags & CAPTURE_L7_TCP) &&
				  capture_conn_state_name(f[i].conn_state);
		l->on[C_TUNNEL] |= f[i].tunnel_type != 0;
		l->on[C_VLAN] |= f[i].vlan != 0;
	}
	measure(f, n, l);
	for (s = 0; width && s < JCAP_ARRAY_SIZE(fit_steps) && total(l) > (int)width; s++) {
		if (fit_steps[s] == STEP_SHORTEN) {
			l->ep_max = ENDPOINT_SHORT;
		} else if (fit_steps[s] == STEP_TIME_ONLY) {
			l->time_only = true;
		} else {
			l->on[fit_steps[s]] = false;
			continue;
		}
		measure(f, n, l);
	}
}

static void row(FILE *fp, const struct layout *l, const char *const *text)
{
	int c, last = -1;

	for (c = 0; c < C_COUNT; c++)
		if (l->on[c])
			last = c;
	for (c = 0; c < C_COUNT; c++) {
		if (!l->on[c])
			continue;
		if (c == last && !cols[c].right) /* no trailing blanks */
			fputs(text[c], fp);
		else
			fprintf(fp, cols[c].right ? "%*s" : "%-*s", l->w[c], text[c]);
		fputc(c == last ? '\n' : ' ', fp);
	}
}

void jcap_print_table(FILE *fp, const struct capture_flow *f, size_t n, const struct jcap_out *o)
{
	const char *text[C_COUNT];
	char bufs[C_COUNT][CELL_MAX];
	struct layout l;
	size_t i;
	int c;

	plan(f, n, o, &l);
	for (c = 0; c < C_COUNT; c++)
		text[c] = cols[c].head;
	row(fp, &l, text);
	for (i = 0; i < n; i++) {
		for (c = 0; c < C_COUNT; c++)
			text[c] = l.on[c] ? cell(c, &f[i], &l, bufs[c], sizeof(bufs[c])) : "";
		row(fp, &l, text);
	}
}
