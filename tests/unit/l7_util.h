/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the protocol parsers' unit tests (unit.tls, unit.quic,
 * unit.dns, unit.http): hex strings to bytes, and random payloads. */
#ifndef PC_TEST_L7_UTIL_H
#define PC_TEST_L7_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The bytes of hex string @h into @out (at most @cap); returns how many. */
static inline size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (h[0] && h[1] && n < cap && sscanf(h, "%2x", &v) == 1) {
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

/* Fill @b with the next @n bytes (a multiple of 8) of a fixed xorshift64*
 * sequence: the same inputs on every run. */
static inline void random_fill(uint8_t *b, size_t n)
{
	static uint64_t s = 0x9e3779b97f4a7c15ull;
	size_t k;

	for (k = 0; k + 8 <= n; k += 8) {
		uint64_t r;

		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		r = s * 0x2545f4914f6cdd1dull;
		memcpy(b + k, &r, 8);
	}
}

#endif
