/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-stage cost of the one-core packet path, in ns per packet, on a classic
 * little-endian pcap file: the stages a worker runs (worker.c), each timed
 * with the cycle counter around its own loop over a 64-packet burst:
 *
 *   read     read() of the file in 1 MiB chunks from the page cache (what a
 *            file backend's copy costs; the file's records are then walked
 *            from a mapping of it)
 *   walk     record headers -> packet views (pc_pkt), a burst at a time
 *   decode   pc_decode, views -> metas
 *   hash     canonical order + keyed hash of each meta's key (the same work
 *            pc_flow_update_burst does first; timed alone on a copy)
 *   table    pc_flow_update_burst minus hash: bucket lookup, entry update,
 *            flow creation and the records of flows a packet ends
 *   expiry   pc_flow_expire(now, 1024) after each burst, as the worker runs
 *            it, with the records of the flows it ends
 *   record   make_record + the copy of the record a worker pushes to its
 *            export ring, per record (timed on the final flush), then per
 *            packet: x records / packets
 *   floor    the table's memory access pattern alone: per packet one random
 *            bucket (its two lines: tags, pool indexes) and the two lines of
 *            one random entry of as many as were alive at most (what an
 *            update touches), pipelined as the table pipelines its lookups;
 *            what no table of this layout can beat
 *
 * Stage times are cycle-counter shares of a pass whose CPU time (user +
 * system, CLOCK_PROCESS_CPUTIME_ID) is measured, so they add up to the
 * pass's CPU time. Best pass of ROUNDS.
 * Counts (flows created, records) are printed so a run can be checked
 * against the truth file's flow count.
 *
 * usage: bench_stages FILE.pcap [ROUNDS] [SLOTS] [TCP_HEALTH 0|1]
 * build: bench/bench_stages.sh BUILD_DIR (compiles this against the static
 *        library) or by hand:
 *        cc -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_stages.c \
 *           BUILD/libpacket_capture.a $(bench/static_libs.sh BUILD) -lpthread
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "decode/decode.h"
#include "flow/flow.h"
#include "flow/flow_key.h"

#define BURST 64

enum {
	S_WALK,
	S_DECODE,
	S_HASH,
	S_UPDATE,
	S_EXPIRE,
	S_N
};

static const char *const stage_name[S_N] = { "walk", "decode", "hash", "table", "expiry" };

/* CPU time of the process: on a shared machine, time spent waiting for a
 * CPU does not count (the stages' cycle-counter shares still may). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return now_ns();
#endif
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* What a worker does with a record: build it in place in its export ring
 * (2048 records, the default for a file), here never read. */
#define SINK_RING 2048
struct sink {
	struct pc_flow_sink s; /* first */
	struct capture_flow *ring;
	uint64_t n;
};

static struct capture_flow *sink_get(struct pc_flow_sink *fs)
{
	struct sink *s = (struct sink *)fs;

	return &s->ring[s->n & (SINK_RING - 1)];
}

static void sink_put(struct pc_flow_sink *fs, struct capture_flow *r)
{
	(void)r;
	((struct sink *)fs)->n++;
}

struct pass {
	uint64_t wall_ns, cyc[S_N], packets, decoded, created, peak, records, flush_records;
	double flush_ns;
};

static int run_pass(const uint8_t *buf, size_t len, uint32_t slots, int tcp_health, struct pass *ps)
{
	struct pc_flow_params fp = {
		.slots = slots,
		.idle_ns = 30ull * 1000000000ull, /* the engine's defaults */
		.active_ns = 1800ull * 1000000000ull,
		.tcp_health = tcp_health != 0,
		.seed = { 0x0123456789abcdefull, 0xfedcba9876543210ull },
	};
	static struct pc_pkt pk[BURST];
	static struct pc_meta m[BURST];
	static struct sink sink;
	struct pc_hash_key hk;
	struct pc_flow_table *t;
	struct pc_decoder *d;
	size_t off = 24;
	uint64_t now = 0, sinkh = 0, t0, c0, c1;
	uint16_t lt = (uint16_t)le32(buf + 20);

	memset(ps, 0, sizeof(*ps));
	if (pc_decoder_create(&d, NULL) < 0 || pc_flow_table_create(&t, &fp) < 0)
		return -1;
	pc_hash_key_init(&hk, fp.seed);
	sink.s = (struct pc_flow_sink){ sink_get, sink_put };
	if (!sink.ring && !(sink.ring = calloc(SINK_RING, sizeof(*sink.ring))))
		return -1;
	sink.n = 0;
	t0 = now_ns();
	for (;;) {
		unsigned n = 0, k = 0, i;

		c0 = cycles();
		while (n < BURST && off + 16 <= len) {
			uint32_t incl = le32(buf + off + 8);

			if (off + 16 + incl > len)
				break;
			pk[n].data = buf + off + 16;
			pk[n].caplen = incl;
			pk[n].wirelen = le32(buf + off + 12);
			pk[n].ts_ns = (uint64_t)le32(buf + off) * 1000000000ull +
				      le32(buf + off + 4) * 1000ull;
			pk[n].linktype = lt;
			pk[n].ifindex = 0;
			n++;
			off += 16 + incl;
		}
		c1 = cycles();
		ps->cyc[S_WALK] += c1 - c0;
		if (!n)
			break;
		for (i = 0; i < n; i++)
			if (pc_decode(d, &pk[i], &m[k]) == PC_DEC_OK) {
				if (m[k].ts_ns > now)
					now = m[k].ts_ns;
				k++;
			}
		c0 = cycles();
		ps->cyc[S_DECODE] += c0 - c1;
		for (i = 0; i < k; i++) {
			struct pc_flow_key key = m[i].key;

			pc_flow_key_canon(&key);
			sinkh += pc_flow_key_hash(&key, &hk);
		}
		c1 = cycles();
		ps->cyc[S_HASH] += c1 - c0;
		pc_flow_update_burst(t, m, k, &sink.s);
		c0 = cycles();
		ps->cyc[S_UPDATE] += c0 - c1;
		pc_flow_expire(t, now, 1024, &sink.s);
		ps->cyc[S_EXPIRE] += cycles() - c0;
		ps->packets += n;
		ps->decoded += k;
		if (pc_flow_table_counters(t)->active > ps->peak)
			ps->peak = pc_flow_table_counters(t)->active;
	}
	ps->wall_ns = now_ns() - t0;
	ps->created = pc_flow_table_counters(t)->created;
	ps->records = sink.n;
	t0 = now_ns();
	pc_flow_flush(t, now, CAPTURE_END_SHUTDOWN, &sink.s);
	ps->flush_ns = (double)(now_ns() - t0);
	ps->flush_records = sink.n - ps->records;
	if (sinkh == 42) /* keep the hash loop */
		fputc(' ', stderr);
	pc_flow_table_destroy(t);
	pc_decoder_destroy(d);
	return 0;
}

/* The floor: per packet one random 128-byte bucket of @nb (both lines),
 * then the first two lines of one random entry of @ne (written), pipelined
 * 8 and 16 deep as pc_flow_update_burst does. Returns ns per packet. */
static double floor_ns(uint64_t npk, size_t nb, size_t ne, size_t esz)
{
	uint8_t *bk =
		mmap(NULL, nb * 128, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *en =
		mmap(NULL, ne * esz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t h[32], x = 0x9e3779b97f4a7c15ull, t0, i, acc = 0;
	size_t pe[32];

	if (bk == MAP_FAILED || en == MAP_FAILED)
		return -1;
	madvise(bk, nb * 128, MADV_HUGEPAGE);
	madvise(en, ne * esz, MADV_HUGEPAGE);
	memset(bk, 1, nb * 128);
	memset(en, 1, ne * esz);
	t0 = now_ns();
	for (i = 0; i < npk + 16; i++) {
		if (i < npk) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			h[i & 31] = x;
			__builtin_prefetch(bk + (x % nb) * 128);
			__builtin_prefetch(bk + (x % nb) * 128 + 64);
		}
		if (i >= 8 && i - 8 < npk) {
			uint64_t j = i - 8;
			uint8_t *b = bk + (h[j & 31] % nb) * 128;

			pe[j & 31] = (b[0] + b[64] + (h[j & 31] >> 32)) % ne;
			__builtin_prefetch(en + pe[j & 31] * esz, 1);
			__builtin_prefetch(en + pe[j & 31] * esz + 64, 1);
		}
		if (i >= 16) {
			uint8_t *e = en + pe[(i - 16) & 31] * esz;

			e[0]++;
			e[64]++;
			acc += e[0];
		}
	}
	t0 = now_ns() - t0;
	munmap(bk, nb * 128);
	munmap(en, ne * esz);
	return acc == 42 ? 0 : (double)t0 / (double)npk;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3, r, fd;
	int tcp = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 0;
	uint32_t slots = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 1u << 20;
	struct pass best = { .wall_ns = ~0ull }, ps;
	double read_best = 1e30, per_rec, pk, scale, rec_pp, fl;
	uint64_t total = 0;
	struct stat st;
	uint8_t *buf, *chunk;
	int s;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr,
			"usage: bench_stages FILE.pcap [ROUNDS] [SLOTS] [TCP_HEALTH 0|1]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || st.st_size < 24) {
		perror(argv[1]);
		return 1;
	}
	chunk = malloc(1u << 20);
	buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (!chunk || buf == MAP_FAILED || le32(buf) != 0xa1b2c3d4u) {
		fprintf(stderr, "%s: not a little-endian microsecond pcap\n", argv[1]);
		return 1;
	}
	for (r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();
		ssize_t got;

		lseek(fd, 0, SEEK_SET);
		while ((got = read(fd, chunk, 1u << 20)) > 0)
			total += (uint64_t)got;
		if ((double)(now_ns() - t0) < read_best)
			read_best = (double)(now_ns() - t0);
	}
	for (r = 0; r < rounds; r++) {
		if (run_pass(buf, (size_t)st.st_size, slots, tcp, &ps) < 0) {
			fprintf(stderr, "bench_stages: table or decoder creation failed\n");
			return 1;
		}
		if (ps.wall_ns < best.wall_ns)
			best = ps;
	}
	pk = (double)best.packets;
	for (s = 0, scale = 0; s < S_N; s++)
		scale += (double)best.cyc[s];
	scale = (double)best.wall_ns / scale; /* ns per cycle-counter tick */
	per_rec = best.flush_records ? best.flush_ns / (double)best.flush_records : 0;
	rec_pp = per_rec * (double)(best.records + best.flush_records) / pk;
	printf("%s: %.0f packets (%llu decoded), %llu flows created, %llu records "
	       "(%llu at the end); table %u slots, TCP health %s; best of %d passes\n",
	       argv[1], pk, (unsigned long long)best.decoded, (unsigned long long)best.created,
	       (unsigned long long)(best.records + best.flush_records),
	       (unsigned long long)best.flush_records, slots, tcp ? "on" : "off", rounds);
	printf("  %-8s %6.1f ns/packet  (read() of the file, 1 MiB chunks, page cache)\n", "read",
	       read_best / pk);
	for (s = 0; s < S_N; s++) {
		double ns = (double)best.cyc[s] * scale / pk;

		if (s == S_UPDATE)
			ns -= (double)best.cyc[S_HASH] * scale / pk; /* update hashes too */
		printf("  %-8s %6.1f ns/packet\n", stage_name[s], ns);
	}
	printf("  %-8s %6.1f ns/packet  (%.1f ns a record x %.3f records a packet; inside "
	       "table and expiry)\n",
	       "record", rec_pp, per_rec, (double)(best.records + best.flush_records) / pk);
	printf("  %-8s %6.1f ns/packet  = %.2f Mpps (walk .. expiry, no read; + read: %.2f Mpps)\n",
	       "total", (double)best.wall_ns / pk, pk * 1e3 / (double)best.wall_ns,
	       pk * 1e3 / ((double)best.wall_ns + read_best));
	fl = floor_ns(best.packets, slots / 16, best.peak, 256);
	printf("  %-8s %6.1f ns/packet  (a random bucket's 2 lines + 2 entry lines a packet, "
	       "pipelined, in %u buckets and %llu entries: the most flows alive at once)\n",
	       "floor", fl, slots / 16, (unsigned long long)best.peak);
	munmap(buf, (size_t)st.st_size);
	free(chunk);
	close(fd);
	return total ? 0 : 1;
}
