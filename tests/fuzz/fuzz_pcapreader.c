/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the capture file reader alone: the file backend's ops
 * (pc_capture_open "file", rx_burst/rx_release until end or error, close) on
 * one thread, with no engine around it, so it runs thousands of inputs a
 * second where fuzz_pcapfile runs a whole session per input. The input is the
 * file (pcap, pcapng, or an encrypted container under the test key below).
 * Inputs of up to 64 KiB whose length is divisible by 8 are read from a pipe
 * (no peek, no size; an 8 MiB buffer, costly under ASan, hence one in 8), the
 * others from a memfd; the burst size is 1 + (length / 3) % 64. Every byte of
 * every packet view is read (ASan checks that views stay inside the buffer);
 * views must be sane (data present, wirelen >= caplen), no more packet bytes
 * than file bytes, progress on every call, and a refused file names itself.
 * Seeds: corpus/pcapreader/ (make_corpus.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (1u << 20)
#define PIPE_MAX 65536 /* what a pipe holds without a reader: written before opening */

/* The key of the encrypted seeds (64 hex digits; as in fuzz_pcapfile.c). */
static const char test_key[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

/* replay_main.c: every prefix of each seed is replayed too, and hostile
 * lengths make the reader grow big buffers, which ASan's allocator maps and
 * unmaps: 600 mutations a seed keep the ASan replay under 2 minutes (the
 * default 3000 took 5.5 and was the suite's longest test) */
const unsigned long fuzz_replay_mutations = 600;

static const char *cur_path;
volatile uint8_t fuzz_pcapreader_sink; /* where the packet bytes read go */

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "fuzz_pcapreader: invariant violated: %s (%llu, %llu)\n", what, a, b);
	abort();
}

static void on_log(void *ctx, int level, const char *msg)
{
	/* the reader's warnings are about the file: they name it */
	if (level < CAPTURE_LOG_ERROR || level > CAPTURE_LOG_DEBUG ||
	    strncmp(msg, cur_path, strlen(cur_path)))
		fail("log message does not name the file", (unsigned long long)level, 0);
}

static int memfd_with(const uint8_t *p, size_t n)
{
	int fd = memfd_create("fuzz_pcapreader", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (n && write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A pipe holding the whole input, its write end closed: read end or -1. */
static int pipe_with(const uint8_t *p, size_t n)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	if (n && write(fds[1], p, n) != (ssize_t)n) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	close(fds[1]);
	return fds[0];
}

static uint8_t touch(const struct pc_pkt *pk)
{
	uint8_t x = 0;
	uint32_t i;

	for (i = 0; i < pk->caplen; i++)
		x ^= pk->data[i];
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char key_path[64];
	struct pc_cap_params p = { 0 };
	struct pc_pkt pkts[PC_BURST];
	struct pc_cap cap;
	bool piped = size % 8 == 0 && size <= PIPE_MAX;
	unsigned max = 1 + (unsigned)(size / 3) % PC_BURST;
	unsigned long long calls = 0, bytes = 0;
	char path[64], why[256];
	int fd, rc, i;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!key_path[0]) {
		int kfd = memfd_with((const uint8_t *)test_key, sizeof(test_key) - 1);

		/* Hostile lengths make the reader grow its buffer to tens of MiB
		 * (bounded by MAX_RECORD) and pipes start at 8 MiB: with glibc's
		 * sliding threshold those come from the heap and realloc copies
		 * them (3.7k inputs/s); always mmapped, realloc is an mremap
		 * (15k/s). No effect under ASan, whose allocator is its own. */
		mallopt(M_MMAP_THRESHOLD, 128 * 1024);

		if (kfd < 0) /* kept open for the life of the process */
			fail("key memfd", (unsigned long long)errno, 0);
		snprintf(key_path, sizeof(key_path), "/proc/self/fd/%d", kfd);
	}
	fd = piped ? pipe_with(data, size) : memfd_with(data, size);
	if (fd < 0)
		fail("input fd", (unsigned long long)errno, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cur_path = path;
	p.pcap_file = path;
	p.decrypt_key_file = key_path;
	p.workers = 1;
	p.log_fn = on_log;
	p.log_level = CAPTURE_LOG_DEBUG;
	memset(&cap, 0, sizeof(cap));
	rc = pc_capture_open(&cap, "file", &p, why, sizeof(why));
	if (rc < 0) {
		if (strncmp(cap.err, path, strlen(path)))
			fail("a refused file is not named", 0, 0);
		goto out;
	}
	if (cap.nqueues != 1 || !cap.offline || cap.input_bytes != (piped ? 0 : size))
		fail("backend state after open", cap.nqueues, cap.input_bytes);
	for (;;) {
		int n = cap.ops->rx_burst(&cap, 0, pkts, max, 0);

		/* every call parses something: bounds the loop by the input size */
		if (++calls > size + 2)
			fail("no progress", calls, size);
		if (n < 0) {
			if (n != -CAPTURE_E_EOF && strncmp(cap.err, path, strlen(path)))
				fail("a read error does not name the file", (unsigned long long)-n,
				     0);
			break;
		}
		if ((unsigned)n > max)
			fail("burst larger than asked", (unsigned long long)n, max);
		for (i = 0; i < n; i++) {
			if (pkts[i].caplen && !pkts[i].data)
				fail("packet without data", i, pkts[i].caplen);
			if (pkts[i].wirelen < pkts[i].caplen)
				fail("wirelen below caplen", pkts[i].wirelen, pkts[i].caplen);
			fuzz_pcapreader_sink ^= touch(&pkts[i]);
			bytes += pkts[i].caplen;
		}
		if (bytes > size)
			fail("more packet bytes than file bytes", bytes, size);
		if (cap.input_pos > (piped ? size : cap.input_bytes))
			fail("input position past the input", cap.input_pos, size);
		cap.ops->rx_release(&cap, 0, (unsigned)n);
	}
	pc_capture_close(&cap);
out:
	close(fd);
	return 0;
}
