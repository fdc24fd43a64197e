/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow key canonical order and keyed hashing. SipHash-1-3 under a random
 * per-process seed: traffic cannot be crafted to collide without the seed.
 */
#include <string.h>

#include "compiler.h"
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

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

/* SipHash-1-3 over whole 8-byte words (len is a multiple of 8). */
static pc_always_inline uint64_t siphash13_words(const void *data, size_t len,
						 const uint64_t seed[2])
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ seed[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ seed[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ seed[0];
	uint64_t v3 = 0x7465646279746573ULL ^ seed[1];
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t m;

		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	{
		uint64_t b = (uint64_t)len << 56;

		v3 ^= b;
		SIPROUND;
		v0 ^= b;
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t pc_flow_key_hash(const struct pc_flow_key *k, const uint64_t seed[2])
{
	if (pc_likely(k->ipver == 4)) {
		/* IPv4 keys carry 16 meaningful bytes: hash those (6 SipRounds
		 * instead of 9); the length byte keeps them apart from IPv6 */
		uint8_t b[16];

		memcpy(b, k->addr[0], 4);
		memcpy(b + 4, k->addr[1], 4);
		memcpy(b + 8, k->port, 4);
		memcpy(b + 12, &k->vlan, 2);
		b[14] = k->proto;
		b[15] = k->ipver;
		return siphash13_words(b, sizeof(b), seed);
	}
	return siphash13_words(k, sizeof(*k), seed);
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
