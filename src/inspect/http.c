/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.x message-start parser (RFC 9112): request line with Host and
 * User-Agent, or status line (and HTTP/0.9's simple GET). Stateless: each
 * call reads the stream start again, one forward pass; every read is below
 * @n, and a byte that no HTTP/1.x start can hold ends the parse (-1) as soon
 * as it is seen.
 */
#include <string.h>
#include <strings.h>

#include "inspect/l7.h"

#define HTTP_MAX_INTERIM 4 /* 1xx responses skipped before the final one */

/* RFC 9110 methods and WebDAV's (RFC 4918): any other token is refused, which
 * keeps other protocols that start with a word and a space out. */
static const struct {
	char name[10];
	uint8_t len;
} methods[] = {
	{ "GET", 3 },	 { "HEAD", 4 },	    { "POST", 4 },	{ "PUT", 3 },
	{ "DELETE", 6 }, { "CONNECT", 7 },  { "OPTIONS", 7 },	{ "TRACE", 5 },
	{ "PATCH", 5 },	 { "PROPFIND", 8 }, { "PROPPATCH", 9 }, { "MKCOL", 5 },
	{ "COPY", 4 },	 { "MOVE", 4 },	    { "LOCK", 4 },	{ "UNLOCK", 6 },
};

/* Whether @p (@n bytes) starts with @lit (@l bytes): 1 yes, 0 @p is a
 * proper prefix of @lit, -1 no. */
static int starts(const uint8_t *p, size_t n, const char *lit, size_t l)
{
	if (memcmp(p, lit, n < l ? n : l))
		return -1;
	return n >= l;
}

/* RFC 9110 tchar: ALPHA DIGIT and !#$%&'*+-.^_`|~, a bit per ASCII byte */
static const uint64_t tchar_map[2] = { 0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull };

static bool is_tchar(uint8_t c)
{
	return c < 128 && (tchar_map[c >> 6] >> (c & 63) & 1);
}

static bool is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

/* Copies @len bytes of @s to the string @out of @osz bytes, cut. */
static void put(char *out, size_t osz, const uint8_t *s, size_t len)
{
	if (len > osz - 1)
		len = osz - 1;
	memcpy(out, s, len);
	out[len] = 0;
}

/* The line end at @i: the offset after it, 0 when @n ends first, -1 when
 * @p[i] is not CRLF or LF. */
static long line_end(const uint8_t *p, size_t n, size_t i)
{
	if (i >= n)
		return 0;
	if (p[i] == '\n')
		return (long)i + 1;
	if (p[i] != '\r')
		return -1;
	if (i + 1 >= n)
		return 0;
	return p[i + 1] == '\n' ? (long)i + 2 : -1;
}

/* One header line [@s, @e) (line end stripped): takes Host and User-Agent
 * when their value holds no control byte but HTAB and they are not taken yet.
 * Lines without a token and a colon, and obs-fold continuations, are skipped. */
static void header(const uint8_t *s, const uint8_t *e, struct pc_http_msg *out)
{
	const uint8_t *c = s, *v;
	char *dst;
	size_t dsz;

	if ((*s | 0x20) != 'h' && (*s | 0x20) != 'u')
		return; /* most lines, at the cost of one byte */
	while (c < e && is_tchar(*c))
		c++;
	if (c == e || *c != ':')
		return;
	if (c - s == 4 && !strncasecmp((const char *)s, "host", 4)) {
		dst = out->host;
		dsz = sizeof(out->host);
	} else if (c - s == 10 && !strncasecmp((const char *)s, "user-agent", 10)) {
		dst = out->user_agent;
		dsz = sizeof(out->user_agent);
	} else {
		return;
	}
	if (dst[0])
		return;
	for (c++; c < e && (*c == ' ' || *c == '\t'); c++)
		;
	while (e > c && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (v = c; v < e; v++)
		if (*v != '\t' && is_ctl(*v))
			return;
	put(dst, dsz, c, (size_t)(e - c));
}

/* Header lines from @i to the empty line that ends the block. @take: fill
 * @out from them. Returns the offset after the block, 0 when @n ends first. */
static size_t header_block(const uint8_t *p, size_t n, size_t i, bool take, struct pc_http_msg *out)
{
	for (;;) {
		const uint8_t *lf = i < n ? memchr(p + i, '\n', n - i) : NULL;
		const uint8_t *e;

		if (!lf)
			return 0;
		e = lf > p + i && lf[-1] == '\r' ? lf - 1 : lf;
		if (e == p + i)
			return (size_t)(lf - p) + 1;
		if (take && p[i] != ' ' && p[i] != '\t')
			header(p + i, e, out);
		i = (size_t)(lf - p) + 1;
	}
}

/* "METHOD SP": the method's length, 0 to wait, -1 none of ours. */
static long method(const uint8_t *p, size_t n, struct pc_http_msg *out)
{
	bool wait = false;
	size_t k;

	for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
		size_t l = methods[k].len;
		int r = p[0] == methods[k].name[0] ? starts(p, n, methods[k].name, l) : -1;

		if (r > 0 && n > l) {
			if (p[l] != ' ')
				continue;
			put(out->method, sizeof(out->method), p, l);
			return (long)l;
		}
		wait |= r >= 0;
	}
	return wait ? 0 : -1;
}

/*
 * Whether the bytes at @i match @pat, where 'v' stands for a minor version
 * (0 or 1), 'd' for a digit 1-5 and 'D' for any digit: 1 yes, 0 @n ends
 * first, -1 no.
 */
static int match(const uint8_t *p, size_t n, size_t i, const char *pat)
{
	for (; *pat; pat++, i++) {
		uint8_t c;
		bool ok;

		if (i >= n)
			return 0;
		c = p[i];
		switch (*pat) {
		case 'v':
			ok = c == '0' || c == '1';
			break;
		case 'd':
			ok = c >= '1' && c <= '5';
			break;
		case 'D':
			ok = c >= '0' && c <= '9';
			break;
		default:
			ok = c == (uint8_t)*pat;
		}
		if (!ok)
			return -1;
	}
	return 1;
}

/* Request: method, target, "HTTP/1.0" or "HTTP/1.1", then the header block;
 * or HTTP/0.9's "GET target" and the line end, with no headers (tshark and
 * Zeek report it too). @final: what the bytes held once the method is known. */
static int request(const uint8_t *p, size_t n, bool final, struct pc_http_msg *out)
{
	long m = method(p, n, out), le;
	size_t i, t;
	int v;

	if (m <= 0)
		return m < 0 || final ? -1 : 0;
	for (t = i = (size_t)m + 1; i < n && p[i] != ' ' && !is_ctl(p[i]); i++)
		;
	put(out->url, sizeof(out->url), p + t, i - t);
	if (i == n)
		return !final ? 0 : i > t ? 1 : -1;
	if (i == t)
		return -1; /* empty target */
	if (p[i] != ' ') {
		if (strcmp(out->method, "GET"))
			return -1;
		le = line_end(p, n, i);
		return le < 0 ? -1 : le > 0 || final;
	}
	v = match(p, n, i + 1, "HTTP/1.v");
	if (v <= 0)
		return v < 0 ? -1 : final;
	le = line_end(p, n, i + 9);
	if (le <= 0)
		return le < 0 ? -1 : final;
	if (!header_block(p, n, (size_t)le, true, out))
		return final;
	return 1;
}

/* "HTTP/1.x NNN" at @i, NNN 100-599 followed by SP or the line end (or the
 * end of the bytes when @final): sets out->status and returns the offset
 * after the digits; 0 wait, -1 not a status line. */
static long status_line(const uint8_t *p, size_t n, size_t i, bool final, struct pc_http_msg *out)
{
	int r = match(p, n, i, "HTTP/1.v dDD");
	const uint8_t *d;

	if (r <= 0)
		return r;
	d = p + i + 9;
	if (i + 12 < n && d[3] != ' ' && d[3] != '\r' && d[3] != '\n')
		return -1;
	if (i + 12 == n && !final)
		return 0;
	out->status = (uint16_t)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));
	return (long)i + 12;
}

/* Response: the status of the first response that is not interim (1xx but
 * 101 Switching Protocols), or of the last interim one the bytes hold; the
 * headers are not needed. */
static int response(const uint8_t *p, size_t n, bool final, struct pc_http_msg *out)
{
	size_t i = 0;
	int k;

	out->response = true;
	for (k = 0;; k++) {
		long s = status_line(p, n, i, final, out);
		const uint8_t *lf;

		if (s < 0)
			return k ? 1 : -1;
		if (s == 0)
			return !final ? 0 : k ? 1 : -1;
		if (out->status >= 200 || out->status == 101 || k == HTTP_MAX_INTERIM)
			return 1;
		lf = memchr(p + s, '\n', n - (size_t)s);
		i = lf ? header_block(p, n, (size_t)(lf - p) + 1, false, out) : 0;
		if (!i)
			return final;
	}
}

int pc_http_parse(const uint8_t *p, size_t n, bool final, struct pc_http_msg *out)
{
	/* not a memset: 400 bytes cost as much as parsing a short request */
	out->response = false;
	out->status = 0;
	out->method[0] = out->url[0] = out->host[0] = out->user_agent[0] = 0;
	if (!n)
		return final ? -1 : 0;
	if (starts(p, n, "HTTP/", 5) >= 0)
		return response(p, n, final, out);
	return request(p, n, final, out);
}
