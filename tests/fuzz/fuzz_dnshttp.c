/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the DNS and HTTP/1.x parsers (pc_dns_parse,
 * pc_http_parse). Input: [mode][bytes]; mode % 3: 0 DNS over UDP, 1 DNS over
 * TCP, 2 HTTP. Invariants: results are 1, 0 or -1, strings NUL-terminated in
 * their arrays; a verdict (1 or -1) on a prefix of the bytes is the verdict on
 * all of them, with the same fields (the parsers decide only on bytes they
 * have seen); HTTP with @final never waits and agrees with every verdict of
 * the same bytes without it; a DNS message parsed over TCP parses the same
 * over UDP (TCP only adds the length to check against).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 4096

static void fail(const char *what, size_t n)
{
	fprintf(stderr, "fuzz_dnshttp: invariant violated: %s (%zu bytes)\n", what, n);
	abort();
}

static void terminated(const char *s, size_t sz, size_t n)
{
	if (!memchr(s, 0, sz))
		fail("string not NUL-terminated", n);
}

static int dns(const uint8_t *p, size_t n, bool tcp, struct pc_dns_msg *m)
{
	int r = pc_dns_parse(p, n, tcp, m);

	if (r < -1 || r > 1)
		fail("DNS result out of range", n);
	terminated(m->qname, sizeof(m->qname), n);
	if (r == 1 && !m->response && m->rcode)
		fail("DNS rcode in a query", n);
	return r;
}

static void fuzz_dns(const uint8_t *p, size_t n, bool tcp)
{
	static const unsigned num[] = { 1, 2, 3 };
	struct pc_dns_msg all, part, udp;
	int r = dns(p, n, tcp, &all);
	size_t k;

	for (k = 0; k < sizeof(num) / sizeof(num[0]); k++) {
		size_t cut = n * num[k] / 4;
		int rp = dns(p, cut, tcp, &part);

		if (rp && rp != r)
			fail("DNS verdict on a prefix changed with more bytes", n);
		if (rp == 1 && memcmp(&part, &all, sizeof(all)))
			fail("DNS fields from a prefix differ", n);
	}
	if (tcp && r == 1) {
		size_t len = (size_t)p[0] << 8 | p[1];

		if (dns(p + 2, len < n - 2 ? len : n - 2, false, &udp) != 1 ||
		    memcmp(&udp, &all, sizeof(all)))
			fail("DNS over TCP and over UDP disagree", n);
	}
}

static int http(const uint8_t *p, size_t n, bool final, struct pc_http_msg *m)
{
	int r = pc_http_parse(p, n, final, m);

	if (r < -1 || r > 1 || (final && r == 0))
		fail("HTTP result out of range", n);
	terminated(m->method, sizeof(m->method), n);
	terminated(m->url, sizeof(m->url), n);
	terminated(m->host, sizeof(m->host), n);
	terminated(m->user_agent, sizeof(m->user_agent), n);
	if (r == 1 && m->response != !m->method[0])
		fail("HTTP message neither request nor response", n);
	if (r == 1 && m->response && (m->status < 100 || m->status > 599))
		fail("HTTP status out of range", n);
	return r;
}

/* The parser sets the strings, not the bytes after their NUL. */
static bool same_http(const struct pc_http_msg *a, const struct pc_http_msg *b)
{
	return a->response == b->response && a->status == b->status &&
	       !strcmp(a->method, b->method) && !strcmp(a->url, b->url) &&
	       !strcmp(a->host, b->host) && !strcmp(a->user_agent, b->user_agent);
}

static void fuzz_http(const uint8_t *p, size_t n)
{
	static const unsigned num[] = { 1, 2, 3 };
	struct pc_http_msg all, fin, part;
	int r = http(p, n, false, &all), rf = http(p, n, true, &fin);
	size_t k;

	if (r && (rf != r || !same_http(&fin, &all)))
		fail("HTTP with final disagrees with a verdict", n);
	for (k = 0; k < sizeof(num) / sizeof(num[0]); k++) {
		size_t cut = n * num[k] / 4;
		int rp = http(p, cut, false, &part);

		if (rp && rp != r)
			fail("HTTP verdict on a prefix changed with more bytes", n);
		if (rp == 1 && !same_http(&part, &all))
			fail("HTTP fields from a prefix differ", n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_dns(data + 1, size - 1, false);
		break;
	case 1:
		fuzz_dns(data + 1, size - 1, true);
		break;
	default:
		fuzz_http(data + 1, size - 1);
	}
	return 0;
}
