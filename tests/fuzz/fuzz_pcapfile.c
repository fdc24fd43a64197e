/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the offline path: the input is a capture file (pcap,
 * pcapng, encrypted, or gzip/zstd/lz4-compressed: seeds gz_*, zst_*, lz4_*)
 * read through the public API from a memfd and metered.
 * Aborts unless every packet read is in a flow or a skip counter and the
 * exported records carry exactly the packets counted in flows.
 */
/*
 * Inputs of odd length run with two workers (the offline dispatcher), even
 * ones with one; lengths divisible by 3 arrive through a pipe, written in
 * small pieces by a thread (the reader's refill across records and the
 * pipe-only paths), the others from a memfd. Seeds: corpus/pcapfile/ (enc_*
 * are encrypted under test_key below). libFuzzer build and run: README.md
 * (-DPC_FUZZ=ON; -timeout=20 -rss_limit_mb=2048 -max_len=8192 CORPUS_COPY).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "packet_capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (1u << 20)

/* replay_main.c: each input is a whole capture session (threads, tables:
 * ~13 ms under ASan), so CTest replays fewer mutations per seed than for the
 * decoder, and every 4th prefix past the file header (fuzz_pcapreader, the
 * reader alone, replays every prefix of its seeds: truncation at each byte is
 * proven there, the session on top of it here) */
const unsigned long fuzz_replay_mutations = 250;
const unsigned long fuzz_replay_prefix_stride = 4;

/* The test key of the encrypted seeds (64 hex digits, see corpus/pcapfile). */
static const char test_key[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

struct sums {
	uint64_t records;
	uint64_t packets;
};

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "fuzz_pcapfile: invariant violated: %s (%llu != %llu)\n", what, a, b);
	abort();
}

static void on_flows(void *ctx, const struct capture_flow *recs, size_t n)
{
	struct sums *s = ctx;
	size_t i;

	for (i = 0; i < n; i++)
		s->packets += recs[i].packets + recs[i].rev_packets;
	s->records += n;
}

/* Writes the input into a pipe in @chunk-byte pieces, then closes it. */
struct feeder {
	pthread_t th;
	int fd;
	const uint8_t *data;
	size_t size, chunk;
};

static void *feed_main(void *arg)
{
	struct feeder *fe = arg;
	size_t off = 0;

	while (off < fe->size) {
		size_t n = fe->size - off < fe->chunk ? fe->size - off : fe->chunk;
		ssize_t w = write(fe->fd, fe->data + off, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the reader gave up (EPIPE): fine */
		off += (size_t)w;
		sched_yield();
	}
	close(fe->fd);
	return NULL;
}

static void on_log(void *ctx, int level, const char *msg)
{
	/* the engine's messages must be whole strings; read every byte */
	if (level < CAPTURE_LOG_ERROR || level > CAPTURE_LOG_DEBUG || strlen(msg) == 0)
		fail("log message", (unsigned long long)level, 0);
}

static int memfd_with(const void *data, size_t size)
{
	const uint8_t *p = data;
	int fd = memfd_create("fuzz_pcapfile", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (size) {
		ssize_t n = write(fd, p, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		size -= (size_t)n;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char key_path[64];
	struct capture_config cfg = { .sz = sizeof(cfg) };
	struct capture_flow_config fc = { .sz = sizeof(fc) };
	struct capture_stats st = { .sz = sizeof(st) };
	struct sums sums = { 0 };
	struct capture *c = NULL;
	struct feeder fe = { .fd = -1 };
	bool piped = size % 3 == 0;
	char path[64];
	uint64_t skipped = 0;
	int fd, rc, i;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!key_path[0]) {
		/* kept open for the life of the process */
		int kfd = memfd_with(test_key, sizeof(test_key) - 1);

		if (kfd < 0)
			fail("key memfd", 0, 1);
		snprintf(key_path, sizeof(key_path), "/proc/self/fd/%d", kfd);
		signal(SIGPIPE, SIG_IGN); /* the feeder sees EPIPE instead */
	}
	if (piped) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			fail("pipe", 0, 1);
		fd = p[0];
		fe.fd = p[1];
		fe.data = data;
		fe.size = size;
		fe.chunk = 1 + (size / 3) % 64 * 4;
		if (pthread_create(&fe.th, NULL, feed_main, &fe))
			fail("feeder thread", 0, 1);
	} else {
		fd = memfd_with(data, size);
	}
	if (fd < 0)
		fail("input memfd", 0, 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg.pcap_file = path;
	cfg.backend = "file";
	cfg.decrypt_key_file = key_path;
	/* odd sizes also go through the offline dispatcher and two shards */
	cfg.workers = (size & 1) ? 2 : 1;
	cfg.export_queue = 64; /* small: cheap to set up per input (1.3 KB a record) */
	cfg.log_fn = on_log;
	cfg.log_level = CAPTURE_LOG_WARN;
	if (capture_init(&c, &cfg) < 0)
		fail("capture_init", 0, 1);
	fc.table_size = 4096;
	/* our own parsers and TCP health see every input; nDPI (a library we do
	 * not fuzz here) would cost its detection module's start per input */
	fc.inspect_off = CAPTURE_INSPECT_DPI;
	if (capture_flow_enable(c, &fc) < 0 || capture_set_flow_callback(c, on_flows, &sums) < 0)
		fail("flow setup", 0, 1);
	rc = capture_start(c);
	/* capture_poll(-1) naps 2 ms per check: polling without a wait and
	 * yielding keeps the fuzzer at hundreds of inputs a second */
	while (rc == 0 && (rc = capture_poll(c, 0)) == CAPTURE_STATE_RUNNING) {
		sched_yield();
		rc = 0;
	}
	if (rc >= 0)
		rc = capture_poll(c, -1);
	if (rc >= 0 && rc != CAPTURE_STATE_DONE)
		fail("state after poll", (unsigned long long)rc, CAPTURE_STATE_DONE);
	/* a refused file always says why, naming the file */
	if (rc < 0 && strncmp(capture_last_error(c), path, strlen(path)) != 0)
		fail("error message names the file", 0, 1);
	if (capture_get_stats(c, &st) < 0)
		fail("capture_get_stats", 0, 1);
	for (i = 0; i < CAPTURE_SKIP_MAX; i++)
		skipped += st.skipped[i];
	if (st.packets_read != st.packets_in_flows + skipped)
		fail("packets_read == packets_in_flows + skipped", st.packets_read,
		     st.packets_in_flows + skipped);
	if (sums.packets != st.packets_in_flows)
		fail("exported packets == packets_in_flows", sums.packets, st.packets_in_flows);
	if (sums.records != st.flows_exported)
		fail("records received == flows_exported", sums.records, st.flows_exported);
	if (st.flows_active != 0)
		fail("no flow left active", st.flows_active, 0);
	if (st.flows_created != st.flows_exported)
		fail("flows_created == flows_exported", st.flows_created, st.flows_exported);
	capture_destroy(c);
	close(fd); /* the last reader: a feeder still writing gets EPIPE */
	if (piped)
		pthread_join(fe.th, NULL);
	return 0;
}
