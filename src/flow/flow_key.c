/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow key canonical order, the hash key and the dispatch hash. The flow
 * hash itself is inline in flow_key.h (NH universal hashing under a random
 * per-process key).
 */
#include <string.h>

#include "util/compiler.h"
#include "flow/flow_key.h"

/* memcmp order of two 16-byte addresses, with two big-endian word compares */
static pc_always_inline int addr_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&b0, b, 8);
	if (a0 != b0)
		return __builtin_bswap64(a0) < __builtin_bswap64(b0) ? -1 : 1;
	memcpy(&a1, a + 8, 8);
	memcpy(&b1, b + 8, 8);
	if (a1 != b1)
		return __builtin_bswap64(a1) < __builtin_bswap64(b1) ? -1 : 1;
	return 0;
}

bool pc_flow_key_canon(struct pc_flow_key *k)
{
	int c = addr_cmp(k->addr[0], k->addr[1]);

	if (c < 0 || (c == 0 && k->port[0] <= k->port[1]))
		return false;
	uint8_t tmp[16];
	uint16_t p;

	memcpy(tmp, k->addr[0], 16);
	memcpy(k->addr[0], k->addr[1], 16);
	memcpy(k->addr[1], tmp, 16);
	p = k->port[0];
	k->port[0] = k->port[1];
	k->port[1] = p;
	return true;
}

/* Request/reply type pairs, request first (Zeek's and Community ID's). */
static const uint8_t icmp4_pairs[][2] = {
	{ 8, 0 }, { 13, 14 }, { 15, 16 }, { 10, 9 }, { 17, 18 },
};
static const uint8_t icmp6_pairs[][2] = {
	{ 128, 129 }, { 133, 134 }, { 135, 136 }, { 130, 131 }, { 139, 140 }, { 144, 145 },
};

int pc_icmp_counterpart(uint8_t proto, uint8_t type, bool *is_request)
{
	const uint8_t(*p)[2] = proto == 58 ? icmp6_pairs : icmp4_pairs;
	size_t i, n = proto == 58 ? sizeof(icmp6_pairs) / sizeof(icmp6_pairs[0])
				  : sizeof(icmp4_pairs) / sizeof(icmp4_pairs[0]);

	for (i = 0; i < n; i++) {
		if (p[i][0] == type || p[i][1] == type) {
			*is_request = p[i][0] == type;
			return *is_request ? p[i][1] : p[i][0];
		}
	}
	*is_request = false;
	return -1;
}

/* splitmix64: expands the seed into the hash key */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void pc_hash_key_init(struct pc_hash_key *hk, const uint64_t seed[2])
{
	uint64_t x = seed[0] ^ (seed[1] * 0xff51afd7ed558ccdull);
	unsigned i;

	for (i = 0; i < 6; i++)
		hk->k[i] = splitmix(&x);
}

uint32_t pc_flow_key_sym_hash(const struct pc_flow_key *k, const uint64_t seed[2])
{
	/* XOR of the two addresses is the same both ways; no ports, so later
	 * fragments agree. Only spreads load over workers, so a multiply mix
	 * under the seed is enough (collisions cost balance, not time). */
	uint64_t a[4], x;

	memcpy(a, k->addr[0], 16);
	memcpy(a + 2, k->addr[1], 16);
	x = (a[0] ^ a[2]) * 0x9e3779b97f4a7c15ull ^ (a[1] ^ a[3]) ^ seed[0];
	x ^= (uint64_t)k->vlan << 32 | k->ipver;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull ^ seed[1];
	x ^= x >> 29;
	return (uint32_t)(x >> 32);
}
