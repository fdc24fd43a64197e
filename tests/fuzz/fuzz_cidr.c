/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the address/CIDR filter of flow store queries
 * (pc_flow_store_parse_cidr: jcap query --ip, capture_store_query). The input
 * is the filter text. An accepted filter must be one CIDR block of store keys
 * (prefix bits shared, lo all zeros and hi all ones after them; IPv4 inside
 * ::ffff:0:0/96; no '/' means a single address), and writing it back as
 * ADDRESS/PREFIX must parse to the same block.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/flow_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_cidr: invariant violated: %s (filter '%s')\n", what, s);
	abort();
}

static bool bit(const uint8_t *b, unsigned i)
{
	return b[i / 8] & (0x80u >> (i % 8));
}

/* The prefix length of the block [lo, hi], or -1 when it is not one. */
static int block_prefix(const uint8_t lo[16], const uint8_t hi[16])
{
	unsigned i, plen = 0;

	while (plen < 128 && bit(lo, plen) == bit(hi, plen))
		plen++;
	for (i = plen; i < 128; i++)
		if (bit(lo, i) || !bit(hi, i))
			return -1;
	return (int)plen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t v4map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t lo[16], hi[16], lo2[16], hi2[16], ver = 0, ver2 = 0;
	char addr[INET6_ADDRSTRLEN], again[INET6_ADDRSTRLEN + 8];
	char *s;
	int plen;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (pc_flow_store_parse_cidr(s, lo, hi, &ver) < 0)
		goto out;
	if (ver != 4 && ver != 6)
		fail("version neither 4 nor 6", s);
	plen = block_prefix(lo, hi);
	if (plen < 0)
		fail("the range is not a CIDR block", s);
	if (!strchr(s, '/') && plen != 128)
		fail("an address without a prefix is not a single address", s);
	if (ver == 4 && (plen < 96 || memcmp(lo, v4map, 12)))
		fail("IPv4 block outside ::ffff:0:0/96", s);
	if (!inet_ntop(ver == 4 ? AF_INET : AF_INET6, ver == 4 ? lo + 12 : lo, addr, sizeof(addr)))
		fail("inet_ntop", s);
	snprintf(again, sizeof(again), "%s/%d", addr, ver == 4 ? plen - 96 : plen);
	if (pc_flow_store_parse_cidr(again, lo2, hi2, &ver2) < 0)
		fail("the block written back does not parse", again);
	if (ver2 != ver || memcmp(lo, lo2, 16) || memcmp(hi, hi2, 16))
		fail("the block written back parses to another block", again);
out:
	free(s);
	return 0;
}
