/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoder micro-benchmark: loads a classic little-endian pcap into memory and
 * runs pc_decode() over every packet ROUNDS times, printing ns/packet (best
 * round) and the verdict counts. Isolates the decoder from I/O and the flow
 * table, so two trees' decoders can be compared on one workload; builds
 * against the decoder API before and after tunnels (pc_decode_opts).
 *
 * usage: bench_decode FILE.pcap [ROUNDS]
 * build: cc -O2 -Iinclude -Isrc bench/bench_decode.c BUILD/libpacket_capture.a -lpthread ...
 *        (bench/bench_tunnel.sh does it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode/decode.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int main(int argc, char **argv)
{
	struct pc_decoder *d;
	struct pc_pkt *pk;
	struct pc_meta m;
	uint64_t verdicts[16] = { 0 }, best = ~0ull, t0;
	size_t n = 0, cap = 1 << 20, off = 24, len;
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5, r;
	uint8_t *buf;
	FILE *f;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr, "usage: bench_decode FILE.pcap [ROUNDS]\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (long)(len = (size_t)ftell(f)) < 24) {
		perror(argv[1]);
		return 1;
	}
	rewind(f);
	buf = malloc(len);
	pk = malloc(cap * sizeof(*pk));
	if (!buf || !pk || fread(buf, 1, len, f) != len)
		return 1;
	fclose(f);
	while (off + 16 <= len) {
		uint32_t incl = le32(buf + off + 8);

		if (off + 16 + incl > len)
			break;
		if (n == cap) {
			cap *= 2;
			pk = realloc(pk, cap * sizeof(*pk));
			if (!pk)
				return 1;
		}
		memset(&pk[n], 0, sizeof(pk[n]));
		pk[n].data = buf + off + 16;
		pk[n].caplen = incl;
		pk[n].wirelen = le32(buf + off + 12);
		pk[n].ts_ns =
			(uint64_t)le32(buf + off) * 1000000000ull + le32(buf + off + 4) * 1000ull;
		pk[n].linktype = (uint16_t)le32(buf + 20);
		n++;
		off += 16 + incl;
	}
#ifdef PC_DECAP_DEPTH
	if (pc_decoder_create(&d, NULL) < 0)
#else
	if (pc_decoder_create(&d, 0, 0) < 0)
#endif
		return 1;
	for (r = 0; r < rounds; r++) {
		t0 = now_ns();
		for (size_t i = 0; i < n; i++)
			verdicts[pc_decode(d, &pk[i], &m) & 15]++;
		t0 = now_ns() - t0;
		if (t0 < best)
			best = t0;
	}
	printf("%s: %zu packets, best of %d rounds: %.1f ns/packet (%.2f Mpps decode only); "
	       "OK %llu, skipped %llu\n",
	       argv[1], n, rounds, (double)best / (double)n, (double)n * 1e3 / (double)best,
	       (unsigned long long)verdicts[0] / (unsigned)rounds,
	       (unsigned long long)(n - verdicts[0] / (unsigned)rounds));
	pc_decoder_destroy(d);
	free(pk);
	free(buf);
	return 0;
}
