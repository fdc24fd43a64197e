/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON Lines: the flow record format (capture_flow_to_json) and the exporter
 * that writes one record per line to a file or stdout. Hand-rolled number
 * formatting: a million records must not cost a second of printf.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export.h"
#include "util/io.h"

struct jbuf {
	char *p, *end;
	bool overflow;
};

static void put(struct jbuf *b, const char *s, size_t n)
{
	if ((size_t)(b->end - b->p) <= n) {
		b->overflow = true;
		return;
	}
	memcpy(b->p, s, n);
	b->p += n;
}

#define PUTS(b, lit) put(b, lit, sizeof(lit) - 1)

/* Decimal digits of @v into the 20 bytes before @end; returns where they start. */
static char *u64_digits(char *end, uint64_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	char *p = end;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

static void put_u64(struct jbuf *b, uint64_t v)
{
	char tmp[20], *p = u64_digits(tmp + sizeof(tmp), v);

	put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* A dotted quad at @p; returns its end. */
static char *ipv4_text(char *p, const uint8_t *a)
{
	int k;

	for (k = 0; k < 4; k++) {
		unsigned v = a[k];

		if (k)
			*p++ = '.';
		if (v >= 100) {
			*p++ = (char)('0' + v / 100);
			v %= 100;
			*p++ = (char)('0' + v / 10);
		} else if (v >= 10) {
			*p++ = (char)('0' + v / 10);
		}
		*p++ = (char)('0' + v % 10);
	}
	return p;
}

/* IPv6 text exactly as glibc's inet_ntop writes it (RFC 5952: the longest run
 * of two or more zero groups, the first of equal ones, as "::"; lower-case hex;
 * ::a.b.c.d and ::ffff:a.b.c.d with an IPv4 tail), without its sprintf per group. */
static char *ipv6_text(char *p, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	int best = -1, best_len = 0, cur = -1, cur_len = 0, i, sh;
	unsigned w[8];

	for (i = 0; i < 8; i++) {
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		if (!w[i]) {
			if (cur < 0)
				cur = i, cur_len = 0;
			cur_len++;
		} else if (cur >= 0) {
			if (best < 0 || cur_len > best_len)
				best = cur, best_len = cur_len;
			cur = -1;
		}
	}
	if (cur >= 0 && (best < 0 || cur_len > best_len))
		best = cur, best_len = cur_len;
	if (best >= 0 && best_len < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return ipv4_text(p, a + 12);
		for (sh = 12; sh > 0 && !(w[i] >> sh); sh -= 4)
			;
		for (; sh >= 0; sh -= 4)
			*p++ = hex[(w[i] >> sh) & 15];
	}
	if (best >= 0 && best + best_len == 8)
		*p++ = ':';
	return p;
}

size_t pc_json_addr(char out[PC_JSON_ADDR_MAX], int ver, const uint8_t *a)
{
	char *p = ver == 4 ? ipv4_text(out, a) : ipv6_text(out, a);

	*p = 0;
	return (size_t)(p - out);
}

static void put_ip(struct jbuf *b, int ver, const uint8_t *a)
{
	char s[PC_JSON_ADDR_MAX + 2];
	size_t n = pc_json_addr(s + 1, ver, a);

	s[0] = '"';
	s[n + 1] = '"';
	put(b, s, n + 2);
}

static void put_mac(struct jbuf *b, const uint8_t *m)
{
	static const char hex[] = "0123456789abcdef";
	char s[19];
	int k;

	for (k = 0; k < 6; k++) {
		s[k * 3] = hex[m[k] >> 4];
		s[k * 3 + 1] = hex[m[k] & 15];
		s[k * 3 + 2] = ':';
	}
	put(b, "\"", 1);
	put(b, s, 17);
	put(b, "\"", 1);
}

static bool mac_set(const uint8_t *m)
{
	return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) != 0;
}

/* mpls_labels (label numbers) and mpls_exp (their EXP bits), top first. */
static void put_mpls(struct jbuf *b, const uint32_t *lse)
{
	int k, n = 0;

	while (n < 3 && lse[n])
		n++;
	if (!n)
		return;
	PUTS(b, ",\"mpls_labels\":[");
	for (k = 0; k < n; k++) {
		if (k)
			put(b, ",", 1);
		put_u64(b, lse[k] >> 4);
	}
	PUTS(b, "],\"mpls_exp\":[");
	for (k = 0; k < n; k++) {
		if (k)
			put(b, ",", 1);
		put_u64(b, (lse[k] >> 1) & 7);
	}
	PUTS(b, "]");
}

/* Tunnels whose header carries an id (VNI, key, session, call id, TEID). */
static bool tunnel_has_id(uint8_t type)
{
	switch (type) {
	case CAPTURE_TUNNEL_VXLAN:
	case CAPTURE_TUNNEL_GENEVE:
	case CAPTURE_TUNNEL_GRE:
	case CAPTURE_TUNNEL_NVGRE:
	case CAPTURE_TUNNEL_ERSPAN:
	case CAPTURE_TUNNEL_PPTP:
	case CAPTURE_TUNNEL_GTPU:
		return true;
	default:
		return false;
	}
}

static void put_tunnel(struct jbuf *b, const struct capture_flow *f)
{
	const char *name = capture_tunnel_name(f->tunnel_type);

	if (!f->tunnel_type || !name)
		return;
	PUTS(b, ",\"tunnel_type\":\"");
	put(b, name, strlen(name));
	PUTS(b, "\"");
	if (tunnel_has_id(f->tunnel_type)) {
		PUTS(b, ",\"tunnel_id\":");
		put_u64(b, f->tunnel_id);
		if (f->rev_packets && f->rev_tunnel_id != f->tunnel_id) {
			PUTS(b, ",\"rev_tunnel_id\":");
			put_u64(b, f->rev_tunnel_id);
		}
	}
	if (f->outer_ip_version == 4 || f->outer_ip_version == 6) {
		PUTS(b, ",\"outer_src_ip\":");
		put_ip(b, f->outer_ip_version, f->outer_src_ip);
		PUTS(b, ",\"outer_dst_ip\":");
		put_ip(b, f->outer_ip_version, f->outer_dst_ip);
	}
}

/* Link and path identity: each field only where it applies. */
static void put_path(struct jbuf *b, const struct capture_flow *f)
{
	char cid[CAPTURE_COMMUNITY_ID_LEN];

	if (!capture_flow_community_id(f, f->community_id_seed, cid)) {
		PUTS(b, ",\"community_id\":\"");
		put(b, cid, strlen(cid));
		PUTS(b, "\"");
	}
	PUTS(b, ",\"interface\":");
	put_u64(b, f->interface);
	if (mac_set(f->src_mac) || mac_set(f->dst_mac)) {
		PUTS(b, ",\"src_mac\":");
		put_mac(b, f->src_mac);
		PUTS(b, ",\"dst_mac\":");
		put_mac(b, f->dst_mac);
	}
	if (f->vlan_inner) {
		PUTS(b, ",\"vlan_inner\":");
		put_u64(b, f->vlan_inner);
	}
	put_mpls(b, f->mpls_labels);
	put_tunnel(b, f);
	if (f->packets) {
		PUTS(b, ",\"tos\":");
		put_u64(b, f->tos);
		PUTS(b, ",\"dscp\":");
		put_u64(b, f->tos >> 2);
		PUTS(b, ",\"min_ttl\":");
		put_u64(b, f->min_ttl);
		PUTS(b, ",\"max_ttl\":");
		put_u64(b, f->max_ttl);
	}
	if (f->rev_packets) {
		PUTS(b, ",\"rev_tos\":");
		put_u64(b, f->rev_tos);
		PUTS(b, ",\"rev_dscp\":");
		put_u64(b, f->rev_tos >> 2);
		PUTS(b, ",\"rev_min_ttl\":");
		put_u64(b, f->rev_min_ttl);
		PUTS(b, ",\"rev_max_ttl\":");
		put_u64(b, f->rev_max_ttl);
	}
}

/* Length of a valid UTF-8 sequence at s[0..n) (shortest form, no surrogates,
 * at most U+10FFFF), or 0 when s[0] does not start one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t k, want;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0; /* ASCII is handled by the caller; 0x80-0xc1 never lead */
	want = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < want)
		return 0;
	cp = s[0] & (0x7f >> want);
	for (k = 1; k < want; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((want == 3 && cp < 0x800) || (want == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return want;
}

/*
 * A JSON string from a NUL-terminated field of at most @max bytes. The bytes
 * come off the wire: quote, backslash and control characters are escaped,
 * valid UTF-8 passes through, and any other byte is written as \u00XX of the
 * byte (its Latin-1 reading), so the line stays valid JSON and the byte
 * value survives. Worst case 6 output bytes per input byte.
 */
static void put_str(struct jbuf *b, const char *str, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n = strnlen(str, max);

	put(b, "\"", 1);
	while (i < n) {
		size_t run = i, u;
		char esc[6] = { '\\', 'u', '0', '0' };

		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		put(b, str + i, run - i);
		i = run;
		if (i == n)
			break;
		if (s[i] >= 0x80 && (u = utf8_len(s + i, n - i))) {
			put(b, str + i, u);
			i += u;
			continue;
		}
		if (s[i] == '"' || s[i] == '\\') {
			esc[1] = (char)s[i];
			put(b, esc, 2);
		} else {
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 15];
			put(b, esc, 6);
		}
		i++;
	}
	put(b, "\"", 1);
}

/* ,"key":"value" when the string field is not empty. */
#define PUT_FSTR(b, key, field)                           \
	do {                                              \
		if ((field)[0]) {                         \
			PUTS(b, ",\"" key "\":");         \
			put_str(b, field, sizeof(field)); \
		}                                         \
	} while (0)

#define PUT_FU64(b, key, v)               \
	do {                              \
		PUTS(b, ",\"" key "\":"); \
		put_u64(b, v);            \
	} while (0)

static void put_name(struct jbuf *b, const char *lit_key, size_t klen, const char *name)
{
	if (!name)
		return;
	put(b, lit_key, klen);
	put(b, "\"", 1);
	put(b, name, strlen(name));
	put(b, "\"", 1);
}

/* Transport health (Zeek conn.log style): payload octets always, the rest
 * when the TCP stage saw the flow. */
static void put_tcp(struct jbuf *b, const struct capture_flow *f)
{
	PUT_FU64(b, "payload_bytes", f->payload_bytes);
	PUT_FU64(b, "rev_payload_bytes", f->rev_payload_bytes);
	if (f->l7_flags & CAPTURE_L7_TCP) {
		put_name(b, ",\"conn_state\":", 14, capture_conn_state_name(f->conn_state));
		PUT_FSTR(b, "history", f->history);
		PUT_FU64(b, "retrans_packets", f->retrans_packets);
		PUT_FU64(b, "retrans_bytes", f->retrans_bytes);
		PUT_FU64(b, "rev_retrans_packets", f->rev_retrans_packets);
		PUT_FU64(b, "rev_retrans_bytes", f->rev_retrans_bytes);
		PUT_FU64(b, "ooo_packets", f->ooo_packets);
		PUT_FU64(b, "rev_ooo_packets", f->rev_ooo_packets);
		PUT_FU64(b, "zero_win", f->zero_win);
		PUT_FU64(b, "rev_zero_win", f->rev_zero_win);
	}
	if (f->l7_flags & CAPTURE_L7_RTT) {
		PUT_FU64(b, "rtt_us", f->rtt_us);
		PUT_FU64(b, "rtt_syn_us", f->rtt_syn_us);
	}
}

/* Application fields: each group only when its stage filled it. */
static void put_app(struct jbuf *b, const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags;

	if (fl & CAPTURE_L7_APP) {
		PUT_FSTR(b, "app", f->app);
		PUT_FSTR(b, "app_category", f->app_category);
		PUT_FU64(b, "app_id", f->app_id);
		PUT_FU64(b, "app_master_id", f->app_master_id);
		put_name(b, ",\"dpi_confidence\":", 18,
			 capture_dpi_confidence_name(f->dpi_confidence));
	}
	if (fl & CAPTURE_L7_TLS) {
		PUT_FSTR(b, "tls_sni", f->tls_sni);
		PUT_FSTR(b, "tls_alpn", f->tls_alpn);
	}
	if (fl & CAPTURE_L7_TLS_VERSION)
		PUT_FU64(b, "tls_version", f->tls_version);
	if (fl & CAPTURE_L7_TLS) {
		PUT_FSTR(b, "ja4", f->ja4);
		PUT_FSTR(b, "ja3", f->ja3);
	}
	if (fl & CAPTURE_L7_DNS) {
		PUT_FSTR(b, "dns_qname", f->dns_qname);
		PUT_FU64(b, "dns_qtype", f->dns_qtype);
	}
	if (fl & CAPTURE_L7_DNS_RESPONSE) {
		PUT_FU64(b, "dns_rcode", f->dns_rcode);
		PUT_FU64(b, "dns_answers", f->dns_answers);
	}
	if (fl & CAPTURE_L7_HTTP) {
		PUT_FSTR(b, "http_method", f->http_method);
		PUT_FSTR(b, "http_host", f->http_host);
		PUT_FSTR(b, "http_url", f->http_url);
		PUT_FSTR(b, "http_user_agent", f->http_user_agent);
	}
	if (fl & CAPTURE_L7_HTTP_RESPONSE)
		PUT_FU64(b, "http_status", f->http_status);
}

/* GeoIP / ASN enrichment of either end. */
static void put_geo(struct jbuf *b, const struct capture_flow *f)
{
	uint32_t fl = f->l7_flags;

	if (fl & CAPTURE_L7_GEO_SRC)
		PUT_FSTR(b, "src_country", f->src_country);
	if (fl & CAPTURE_L7_GEO_DST)
		PUT_FSTR(b, "dst_country", f->dst_country);
	if (fl & CAPTURE_L7_ASN_SRC) {
		PUT_FU64(b, "src_asn", f->src_asn);
		PUT_FSTR(b, "src_as_org", f->src_as_org);
	}
	if (fl & CAPTURE_L7_ASN_DST) {
		PUT_FU64(b, "dst_asn", f->dst_asn);
		PUT_FSTR(b, "dst_as_org", f->dst_as_org);
	}
}

CAPTURE_API int capture_flow_to_json(const struct capture_flow *f, char *buf, size_t len)
{
	struct jbuf b = { buf, buf + len, false };
	const char *reason = capture_end_reason_name(f->end_reason);

	PUTS(&b, "{\"src_ip\":");
	put_ip(&b, f->ip_version, f->src_ip);
	PUTS(&b, ",\"dst_ip\":");
	put_ip(&b, f->ip_version, f->dst_ip);
	PUTS(&b, ",\"src_port\":");
	put_u64(&b, f->src_port);
	PUTS(&b, ",\"dst_port\":");
	put_u64(&b, f->dst_port);
	PUTS(&b, ",\"proto\":");
	put_u64(&b, f->proto);
	PUTS(&b, ",\"ip_version\":");
	put_u64(&b, f->ip_version);
	PUTS(&b, ",\"vlan\":");
	put_u64(&b, f->vlan);
	PUTS(&b, ",\"packets\":");
	put_u64(&b, f->packets);
	PUTS(&b, ",\"bytes\":");
	put_u64(&b, f->bytes);
	PUTS(&b, ",\"rev_packets\":");
	put_u64(&b, f->rev_packets);
	PUTS(&b, ",\"rev_bytes\":");
	put_u64(&b, f->rev_bytes);
	PUTS(&b, ",\"tcp_flags\":");
	put_u64(&b, f->tcp_flags);
	PUTS(&b, ",\"rev_tcp_flags\":");
	put_u64(&b, f->rev_tcp_flags);
	PUTS(&b, ",\"first_ns\":");
	put_u64(&b, f->first_ns);
	PUTS(&b, ",\"last_ns\":");
	put_u64(&b, f->last_ns);
	PUTS(&b, ",\"icmp_type\":");
	put_u64(&b, f->icmp_type);
	PUTS(&b, ",\"icmp_code\":");
	put_u64(&b, f->icmp_code);
	PUTS(&b, ",\"end_reason\":\"");
	put(&b, reason, strlen(reason));
	PUTS(&b, "\",\"worker\":");
	put_u64(&b, f->worker);
	put_path(&b, f);
	put_tcp(&b, f);
	put_app(&b, f);
	put_geo(&b, f);
	PUTS(&b, "}");
	if (b.overflow || b.p >= b.end)
		return -ENOSPC;
	*b.p = 0;
	return (int)(b.p - buf);
}

/*
 * The exporter buffers whole lines and writes them itself: when the buffer
 * is full, on every tick (so records leave at most ~100 ms after their flow
 * ended, live or not, while a fast file still gets 1 MiB writes) and at the
 * end. A record counts once it is written: a failed write counts one error
 * and none of the lines it held (a write cut short may have left a few), so
 * records + lost = delivered, and a caller can tell what did not get out.
 */
struct json_priv {
	int fd;
	bool own; /* opened here; stdout is the caller's */
	char *buf;
	size_t len, lines; /* bytes and records buffered */
};

#define JSON_BUF (1u << 20)
#define JSON_LINE CAPTURE_FLOW_JSON_MAX

static int json_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		     size_t errlen)
{
	struct json_priv *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return -ENOMEM;
	j->buf = malloc(JSON_BUF);
	if (!j->buf) {
		free(j);
		return -ENOMEM;
	}
	if (!strcmp(t->path, "-")) {
		j->fd = STDOUT_FILENO;
	} else {
		j->fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (j->fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot open for writing: %s", t->path,
				 strerror(errno));
			free(j->buf);
			free(j);
			return rc;
		}
		j->own = true;
	}
	e->priv = j;
	return 0;
}

/* Write the buffered lines. 0 or -errno (counted). */
static int json_out(struct pc_exporter *e)
{
	struct json_priv *j = e->priv;
	int rc;

	if (!j->len)
		return 0;
	if (!j->own)
		fflush(stdout); /* keep order with what the program prints itself */
	rc = pc_write_all(j->fd, j->buf, j->len);
	if (rc < 0) {
		atomic_fetch_add_explicit(&e->cnt.errors, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&e->cnt.records, j->lines, memory_order_relaxed);
		atomic_fetch_add_explicit(&e->cnt.messages, j->lines, memory_order_relaxed);
	}
	j->len = j->lines = 0;
	return rc;
}

static int json_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct json_priv *j = e->priv;
	int rc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int len;

		if (JSON_BUF - j->len < JSON_LINE && json_out(e) < 0)
			rc = -EIO;
		len = capture_flow_to_json(&recs[i], j->buf + j->len, JSON_LINE - 1);
		if (len < 0)
			continue;
		j->buf[j->len + (size_t)len] = '\n';
		j->len += (size_t)len + 1;
		j->lines++;
	}
	return rc < 0 ? rc : (int)n;
}

static int json_tick(struct pc_exporter *e, uint64_t now_ns)
{
	return json_out(e);
}

static int json_flush(struct pc_exporter *e)
{
	return json_out(e);
}

static void json_close(struct pc_exporter *e)
{
	struct json_priv *j = e->priv;

	if (!j)
		return;
	json_out(e);
	if (j->own && close(j->fd))
		atomic_fetch_add_explicit(&e->cnt.errors, 1, memory_order_relaxed);
	free(j->buf);
	free(j);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_json_ops = {
	.name = "json",
	.open = json_open,
	.write = json_write,
	.tick = json_tick,
	.flush = json_flush,
	.close = json_close,
};
