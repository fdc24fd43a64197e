/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pc_json_addr (exp_json.c), the address text of JSON records and Kafka keys,
 * written by hand for speed: it must equal glibc's inet_ntop byte for byte,
 * for every IPv4 octet value, RFC 5952's cases (longest zero run, first of
 * equal runs, no "::" for one zero group, IPv4-mapped and -compatible tails)
 * and a million pseudo-random IPv6 addresses biased towards zero groups.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "export/export.h"

static void same(int ver, const uint8_t *a)
{
	char want[INET6_ADDRSTRLEN], got[PC_JSON_ADDR_MAX + 8];
	size_t n;

	memset(got, 'x', sizeof(got));
	CHECK(inet_ntop(ver == 4 ? AF_INET : AF_INET6, a, want, sizeof(want)) != NULL);
	n = pc_json_addr(got, ver, a);
	CHECK_EQ(n, strlen(want));
	CHECK_STR(got, want);
}

static void test_ipv4(void)
{
	uint8_t a[4];
	unsigned v;

	for (v = 0; v < 256; v++) {
		a[0] = (uint8_t)v;
		a[1] = (uint8_t)(255 - v);
		a[2] = (uint8_t)(v * 7);
		a[3] = (uint8_t)(v / 3);
		same(4, a);
	}
	memset(a, 255, 4);
	same(4, a);
}

static void test_ipv6_cases(void)
{
	static const char *const cases[] = {
		"::",
		"::1",
		"1::",
		"::ffff:1.2.3.4",
		"::1.2.3.4",
		"::0.0.1.0",
		"::ffff:0.0.0.0",
		"::fffe:1.2.3.4",
		"1:0:2::",
		"0:1::",
		"1::2:0:0:3",
		"1:0:0:2::3",
		"1:0:0:2:0:0:3:4",
		"2001:db8::1",
		"fe80::1:2:3:4",
		"1:2:3:4:5:6:7:8",
		"0:0:1::",
		"ff02::1:ff00:1",
		"1:0:2:0:3:0:4:0",
		"::2:3:4:5:6:7:8",
		"1:2:3:4:5:6:7::",
		"abcd:ef01:2345:6789:abcd:ef01:2345:6789",
		"::ffff:0:1.2.3.4",
	};
	uint8_t a[16];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(inet_pton(AF_INET6, cases[i], a) == 1);
		same(6, a);
	}
}

static void test_ipv6_random(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t a[16];
	int n, g;

	for (n = 0; n < 1000000; n++) {
		for (g = 0; g < 8; g++) {
			unsigned w;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* half the groups zero; of the rest, small values and 0xffff often */
			w = (x & 1)   ? 0
			    : (x & 2) ? (unsigned)(x >> 20) & 0xffff
			    : (x & 4) ? 0xffff
				      : (unsigned)(x >> 40) & 0xf;
			a[2 * g] = (uint8_t)(w >> 8);
			a[2 * g + 1] = (uint8_t)w;
		}
		same(6, a);
		if (failures > 20)
			break;
	}
}

int main(void)
{
	test_ipv4();
	test_ipv6_cases();
	test_ipv6_random();
	return check_finish("test_json_addr");
}
