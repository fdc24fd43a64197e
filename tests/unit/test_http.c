/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * unit.http: pc_http_parse on HTTP/1.x requests and responses (line endings,
 * header case and whitespace, obs-fold, interim responses), on malformed and
 * hostile starts (no colon, NUL and control bytes, other protocols) and on
 * random bytes. Every input is parsed from an exact-size heap copy, whole and
 * at every truncation, with and without @final, so ASan sees any overread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "l7_util.h"
#include "inspect/l7.h"

static int parse_n(const char *s, size_t n, bool final, struct pc_http_msg *m)
{
	uint8_t *copy = malloc(n ? n : 1);
	int r;

	if (!copy)
		abort();
	memcpy(copy, s, n);
	r = pc_http_parse(copy, n, final, m);
	free(copy);
	return r;
}

static int parse(const char *s, bool final, struct pc_http_msg *m)
{
	return parse_n(s, strlen(s), final, m);
}

/* Every cut of @s before its @need bytes waits (0); from @need on it parses
 * (1), also with @final. With @final, cuts from @known on give 1, shorter
 * ones -1. */
static void check_cuts(const char *s, size_t need, size_t known)
{
	struct pc_http_msg m;
	size_t k, n = strlen(s);
	int bad = 0;

	for (k = 0; k <= n; k++) {
		int r = parse_n(s, k, false, &m), rf = parse_n(s, k, true, &m);

		if (r != (k < need ? 0 : 1) || rf != (k < known ? -1 : 1)) {
			fprintf(stderr, "cut at %zu of %zu: %d, final %d\n", k, n, r, rf);
			bad++;
		}
	}
	CHECK_EQ(bad, 0);
}

static const char get[] = "GET /index.html?q=1&r=%20 HTTP/1.1\r\n"
			  "Host: www.example.com\r\n"
			  "User-Agent: curl/7.88.1\r\n"
			  "Accept: */*\r\n"
			  "\r\n"
			  "body bytes";

static void test_request(void)
{
	struct pc_http_msg m;
	size_t end = strlen(get) - strlen("body bytes");

	CHECK_EQ(parse(get, false, &m), 1);
	CHECK_EQ(m.response, false);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.url, "/index.html?q=1&r=%20");
	CHECK_STR(m.host, "www.example.com");
	CHECK_STR(m.user_agent, "curl/7.88.1");
	CHECK_EQ(m.status, 0);
	/* waits for the empty line; with @final it takes what is there as soon
	 * as the method and a space are in */
	check_cuts(get, end, 5);
	/* cut after the Host line: the host is known, the agent not yet */
	CHECK_EQ(parse_n(get, 60, true, &m), 1);
	CHECK_STR(m.host, "www.example.com");
	CHECK_STR(m.user_agent, "");
	/* cut inside the target: what there is of it */
	CHECK_EQ(parse_n(get, 10, true, &m), 1);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.url, "/index");
	/* cut inside the Host value: not taken */
	CHECK_EQ(parse_n(get, 45, true, &m), 1);
	CHECK_STR(m.host, "");
}

static void test_line_ends_and_case(void)
{
	struct pc_http_msg m;

	CHECK_EQ(parse("POST /api HTTP/1.0\nhOsT:example.org:8080\nuser-AGENT:\t Mozilla/5.0 (X11) "
		       "\t\n\n",
		       false, &m),
		 1);
	CHECK_STR(m.method, "POST");
	CHECK_STR(m.url, "/api");
	CHECK_STR(m.host, "example.org:8080");
	CHECK_STR(m.user_agent, "Mozilla/5.0 (X11)");
	/* the first Host wins; an empty value stays unknown */
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUser-Agent:   \r\n\r\n", false, &m),
		 1);
	CHECK_STR(m.host, "a");
	CHECK_STR(m.user_agent, "");
	/* LF then CRLF ends the block too */
	CHECK_EQ(parse("GET / HTTP/1.1\nHost: a\n\r\n", false, &m), 1);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n\r", false, &m), 0);
}

static void test_headers_hostile(void)
{
	static const char nul_host[] =
		"GET / HTTP/1.1\r\nHost: ev\0il.com\r\nUser-Agent: x\r\n\r\n";
	static const char nul_line[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	struct pc_http_msg m;

	/* obs-fold continuation lines are ignored, the first line is kept */
	CHECK_EQ(parse("GET / HTTP/1.1\r\nUser-Agent: foo\r\n bar\r\nHost:\r\n\tx.com\r\n\r\n",
		       false, &m),
		 1);
	CHECK_STR(m.user_agent, "foo");
	CHECK_STR(m.host, "");
	/* lines without a colon, or with a space before it, are skipped */
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost www.bad\r\nHost : x\r\n: y\r\nHost: good\r\n\r\n",
		       false, &m),
		 1);
	CHECK_STR(m.host, "good");
	/* a NUL or other control byte in a value: that value is not taken */
	CHECK_EQ(parse_n(nul_host, sizeof(nul_host) - 1, false, &m), 1);
	CHECK_STR(m.host, "");
	CHECK_STR(m.user_agent, "x");
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\rb\r\nUser-Agent: \x7f\r\n\r\n", false, &m), 1);
	CHECK_STR(m.host, "");
	CHECK_STR(m.user_agent, "");
	/* obs-text (UTF-8) in a value is kept */
	CHECK_EQ(parse("GET / HTTP/1.1\r\nUser-Agent: caf\xc3\xa9\r\n\r\n", false, &m), 1);
	CHECK_STR(m.user_agent, "caf\xc3\xa9");
	/* a NUL in the request line: not HTTP */
	CHECK_EQ(parse_n(nul_line, sizeof(nul_line) - 1, false, &m), -1);
}

static void test_bounds(void)
{
	char req[1200], ua[300];
	struct pc_http_msg m;

	memset(ua, 'u', sizeof(ua) - 1);
	ua[sizeof(ua) - 1] = 0;
	snprintf(req, sizeof(req), "GET /%0*d HTTP/1.1\r\nUser-Agent: %s\r\n\r\n", 400, 7, ua);
	CHECK_EQ(parse(req, false, &m), 1);
	CHECK_EQ(strlen(m.url), CAPTURE_NAME_LEN - 1);
	CHECK_EQ(m.url[0], '/');
	CHECK_EQ(m.url[CAPTURE_NAME_LEN - 2], '0');
	CHECK_EQ(strlen(m.user_agent), CAPTURE_NAME_LEN - 1);
	/* request-target forms: absolute, authority (CONNECT), asterisk */
	CHECK_EQ(parse("GET http://a.example/x HTTP/1.1\r\n\r\n", false, &m), 1);
	CHECK_STR(m.url, "http://a.example/x");
	CHECK_EQ(parse("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", false, &m),
		 1);
	CHECK_STR(m.method, "CONNECT");
	CHECK_STR(m.url, "a.example:443");
	CHECK_EQ(parse("OPTIONS * HTTP/1.1\r\n\r\n", false, &m), 1);
	CHECK_STR(m.url, "*");
}

static void test_methods(void)
{
	static const char *const ok[] = { "GET",    "HEAD",	"POST",	     "PUT",
					  "DELETE", "CONNECT",	"OPTIONS",   "TRACE",
					  "PATCH",  "PROPFIND", "PROPPATCH", "MKCOL",
					  "COPY",   "MOVE",	"LOCK",	     "UNLOCK" };
	static const char *const bad[] = {
		"get / HTTP/1.1\r\n\r\n",			/* methods are case-sensitive */
		"GETX / HTTP/1.1\r\n\r\n",			/* not one of ours */
		"FOO / HTTP/1.1\r\n\r\n",			/* a token, but unknown */
		"GET  / HTTP/1.1\r\n\r\n",			/* two spaces */
		"GET  HTTP/1.1\r\n\r\n",			/* an empty target */
		"HEAD /\r\n\r\n",				/* HTTP/0.9 had GET only */
		"GET /\t\r\n",					/* a control byte in the target */
		"GET /\rX",					/* CR without LF */
		"GET / HTTP/1.2\r\n\r\n",			/* only 1.0 and 1.1 */
		"GET / HTTP/2.0\r\n\r\n",			/* not HTTP/1.x */
		"GET / HTTP/1.1 \r\n\r\n",			/* junk after the version */
		"GET / HTTP/1.1\rX\n\r\n",			/* CR without LF */
		"GET /a\tb HTTP/1.1\r\n\r\n",			/* a control byte in the target */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",		/* the HTTP/2 preface */
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS ClientHello */
		"SSH-2.0-OpenSSH_9.2\r\n",
	};
	char req[64];
	struct pc_http_msg m;
	size_t k;

	for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		snprintf(req, sizeof(req), "%s /r HTTP/1.1\r\nHost: h\r\n\r\n", ok[k]);
		CHECK_EQ(parse(req, false, &m), 1);
		CHECK_STR(m.method, ok[k]);
		CHECK_STR(m.host, "h");
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int r = parse(bad[k], false, &m), rf = parse(bad[k], true, &m);

		if (r != -1 || rf != -1)
			fprintf(stderr, "bad[%zu]: %d %d\n", k, r, rf);
		CHECK_EQ(r, -1);
		CHECK_EQ(rf, -1);
	}
	/* HTTP/0.9: "GET target" and the line end, no version, no headers */
	CHECK_EQ(parse("GET /\r\n\r\n", false, &m), 1);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.url, "/");
	CHECK_EQ(parse("GET /old.html\n", false, &m), 1);
	CHECK_STR(m.url, "/old.html");
	CHECK_EQ(parse("GET /old.html\r", false, &m), 0);
	CHECK_EQ(parse("GET /old.html\r", true, &m), 1);
	CHECK_STR(m.url, "/old.html");
	/* refused as soon as a byte rules HTTP out */
	CHECK_EQ(parse("\x16", false, &m), -1);
	CHECK_EQ(parse("GX", false, &m), -1);
	CHECK_EQ(parse("HTTP/2", false, &m), -1);
	CHECK_EQ(parse("PROPFINX", false, &m), -1);
	CHECK_EQ(parse("PROP", false, &m), 0);
	CHECK_EQ(parse("H", false, &m), 0);
	CHECK_EQ(parse("H", true, &m), -1);
	CHECK_EQ(parse("", false, &m), 0);
	CHECK_EQ(parse("", true, &m), -1);
}

static void test_response(void)
{
	static const char ok[] = "HTTP/1.1 404 Not Found\r\nServer: x\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n"
				   "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
				   "HTTP/1.1 200 OK\r\n";
	struct pc_http_msg m;

	CHECK_EQ(parse(ok, false, &m), 1);
	CHECK_EQ(m.response, true);
	CHECK_EQ(m.status, 404);
	CHECK_STR(m.method, "");
	/* the status is all it needs: known once the byte after it is in */
	check_cuts(ok, 13, 12);
	CHECK_EQ(parse("HTTP/1.0 200\r\n", false, &m), 1); /* no reason phrase */
	CHECK_EQ(m.status, 200);
	CHECK_EQ(parse("HTTP/1.1 101 Switching Protocols\r\n", false, &m), 1);
	CHECK_EQ(m.status, 101);
	/* interim responses are passed over */
	CHECK_EQ(parse(cont, false, &m), 1);
	CHECK_EQ(m.status, 200);
	CHECK_EQ(parse_n(cont, 30, false, &m), 0);
	CHECK_EQ(parse_n(cont, 30, true, &m), 1);
	CHECK_EQ(m.status, 100);
	CHECK_EQ(parse_n(cont, 40, true, &m), 1); /* the 103's headers cut */
	CHECK_EQ(m.status, 103);
	CHECK_EQ(parse_n(cont, 80, true, &m), 1);
	CHECK_EQ(m.status, 103);
	/* garbage after an interim response: the interim status is what there is */
	CHECK_EQ(parse("HTTP/1.1 100 Continue\r\n\r\n\x16\x03", false, &m), 1);
	CHECK_EQ(m.status, 100);
	CHECK_EQ(parse("HTTP/1.1 600 X\r\n", false, &m), -1);
	CHECK_EQ(parse("HTTP/1.1 099 X\r\n", false, &m), -1);
	CHECK_EQ(parse("HTTP/1.1 20x X\r\n", false, &m), -1);
	CHECK_EQ(parse("HTTP/1.1 2000 X\r\n", false, &m), -1);
	CHECK_EQ(parse("HTTP/1.1  200 X\r\n", false, &m), -1);
	CHECK_EQ(parse("HTTP/1.3 200 X\r\n", false, &m), -1);
}

/* 100000 random 64-byte payloads: a start needs one of 16 methods and a
 * space, or "HTTP/" (p < 16 / 256^4 = 4e-9 each), then a valid line: none
 * may parse, and none may leave the caller waiting for more. */
static void test_random(void)
{
	uint8_t b[64];
	struct pc_http_msg m;
	unsigned i, k, ok = 0, wait = 0;

	for (i = 0; i < 100000; i++) {
		random_fill(b, sizeof(b));
		k = (unsigned)parse_n((const char *)b, sizeof(b), false, &m) + 1;
		ok += k == 2;
		wait += k == 1;
	}
	printf("random 64-byte payloads: %u parsed as HTTP, %u waiting (of 100000)\n", ok, wait);
	CHECK_EQ(ok, 0);
	CHECK_EQ(wait, 0);
}

int main(void)
{
	test_request();
	test_line_ends_and_case();
	test_headers_hostile();
	test_bounds();
	test_methods();
	test_response();
	test_random();
	return check_finish("unit.http");
}
