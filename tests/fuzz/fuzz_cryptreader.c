/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the encrypted container reader (pc_crypt_reader_*),
 * holding the right key, so that mutations reach authentication and framing.
 * Input: [flags][bytes]. flags & 0x80 clear: the bytes are a container, read
 * from a memfd under the fixed test key; flags & 1 first recomputes the header
 * checksum and flags & 2 every chunk header's CRC (so mutations get past those
 * cheap checks to the lengths, the cipher id and the AEAD); (flags >> 2) & 7
 * picks the read size. flags & 0x80 set: the bytes are plaintext, sealed by
 * the store's encrypting sink (chunk size 1 + (flags & 0x1f) * 7, at most 32
 * chunks, written in pieces; flags & 0x20 flushes now and then) and read
 * back: the same bytes must come out, and with flags & 0x40 one bit of the
 * container is flipped first, which must be refused.
 * A read that ends cleanly returns exactly the sum of the chunk lengths; an
 * error is sticky and says why. Seeds: corpus/cryptreader/ (make_corpus.sh).
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (1u << 20)

/* The key of the encrypted seeds (as in fuzz_pcapfile.c and fuzz_pcapreader.c). */
static const char test_key[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
static const size_t read_sizes[8] = { 1, 3, 16, 100, 4096, 65536, 7, 1u << 20 };

static struct pc_crypt_key keys[3]; /* test_key under each cipher */
static int in_fd = -1;

static void fail(const char *what, long long a, long long b)
{
	fprintf(stderr, "fuzz_cryptreader: invariant violated: %s (%lld, %lld)\n", what, a, b);
	abort();
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void setup(void)
{
	char path[64], err[256];
	int kfd, i;

	/* headers may ask for chunks of up to 16 MiB: mmapped, not copied
	 * around the heap (see fuzz_pcapreader.c) */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	kfd = memfd_create("fuzz_cryptreader_key", MFD_CLOEXEC);
	if (kfd < 0 || write(kfd, test_key, sizeof(test_key) - 1) != sizeof(test_key) - 1)
		fail("key memfd", errno, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", kfd);
	for (i = 0; i < 3; i++)
		if (pc_crypt_key_load(&keys[i], path, (uint8_t)i, err, sizeof(err)) < 0)
			fail("loading the test key", i, 0);
	close(kfd);
	in_fd = memfd_create("fuzz_cryptreader", MFD_CLOEXEC);
	if (in_fd < 0)
		fail("input memfd", errno, 0);
}

/*
 * Walk the chunk framing after the header: optionally rewrite each chunk
 * header's CRC, and return the plaintext bytes a complete, well-framed file
 * holds (-1 when the framing does not end with a final chunk at the end).
 */
static long long walk_chunks(uint8_t *b, size_t n, bool fix_crc)
{
	size_t off = PC_CRYPT_HDR_LEN;
	long long sum = 0;

	while (off + PC_CRYPT_CHUNK_HDR_LEN <= n) {
		uint32_t word = be32(b + off), len = word & ~PC_CRYPT_FINAL;

		if (fix_crc)
			put_be32(b + off + 4, pc_crypt_crc32(b + off, 4));
		if (len > n || off + PC_CRYPT_CHUNK_HDR_LEN + len + PC_CRYPT_TAG_LEN > n)
			return -1;
		off += PC_CRYPT_CHUNK_HDR_LEN + len + PC_CRYPT_TAG_LEN;
		sum += len;
		if (word & PC_CRYPT_FINAL)
			return off == n ? sum : -1;
	}
	return -1;
}

static void load_input(const uint8_t *b, size_t n)
{
	if (ftruncate(in_fd, 0) < 0 || (n && pwrite(in_fd, b, n, 0) != (ssize_t)n) ||
	    lseek(in_fd, 0, SEEK_SET) != 0)
		fail("writing the input memfd", errno, 0);
}

/* Read the container in in_fd to its end with reads of @rsz bytes. Returns
 * the plaintext length (copied to @out when not NULL, up to @outlen) or the
 * sticky error; every invariant of the reader's contract is checked. */
static long long read_all(const struct pc_crypt_key *k, size_t rsz, uint8_t *out, size_t outlen,
			  size_t in_len)
{
	struct pc_crypt_reader *r;
	char err[256] = "";
	uint8_t *buf;
	long long total = 0;
	ssize_t n;
	int rc;

	rc = pc_crypt_reader_open(&r, in_fd, k, err, sizeof(err));
	if (rc < 0) {
		if (rc != -CAPTURE_E_FORMAT && rc != -CAPTURE_E_TRUNCATED &&
		    rc != -CAPTURE_E_AUTH && rc != -CAPTURE_E_WRONG_KEY && rc != -ENOMEM)
			fail("open: unexpected error code", rc, 0);
		if (!err[0])
			fail("open refused without a message", rc, 0);
		if (r)
			fail("open failed but handed out a reader", rc, 0);
		return rc;
	}
	buf = malloc(rsz);
	if (!buf)
		fail("malloc", 0, 0);
	while ((n = pc_crypt_reader_read(r, buf, rsz)) > 0) {
		if ((size_t)n > rsz)
			fail("read returned more than asked", n, (long long)rsz);
		if (out && (size_t)total + (size_t)n <= outlen)
			memcpy(out + total, buf, (size_t)n);
		total += n;
		if ((size_t)total > in_len)
			fail("more plaintext than container bytes", total, (long long)in_len);
	}
	if (n < 0) {
		if (n != -CAPTURE_E_AUTH && n != -CAPTURE_E_TRUNCATED && n != -CAPTURE_E_FORMAT &&
		    n != -CAPTURE_E_CRYPTO)
			fail("read: unexpected error code", n, 0);
		if (!strcmp(pc_crypt_reader_error(r), "no error"))
			fail("read failed without a message", n, 0);
		if (pc_crypt_reader_read(r, buf, rsz) != n)
			fail("read error not sticky", n, 0);
		total = n;
	} else if (pc_crypt_reader_read(r, buf, rsz) != 0) {
		fail("read after the verified end is not 0", 0, 0);
	}
	free(buf);
	pc_crypt_reader_close(r);
	return total;
}

/* ---- plaintext mode: seal with the store's sink, read back ---- */

struct mem_sink {
	struct pc_sink s;
	uint8_t *buf;
	size_t len, cap;
};

static int mem_write(struct pc_sink *s, const void *p, size_t len)
{
	struct mem_sink *m = (struct mem_sink *)s;

	if (m->len + len > m->cap) {
		size_t ncap = (m->len + len) * 2;
		uint8_t *nb = realloc(m->buf, ncap);

		if (!nb)
			return -ENOMEM;
		m->buf = nb;
		m->cap = ncap;
	}
	memcpy(m->buf + m->len, p, len);
	m->len += len;
	s->bytes += len;
	return 0;
}

static int mem_flush(struct pc_sink *s)
{
	return 0;
}

static int mem_close(struct pc_sink *s)
{
	return 0; /* the buffer stays with the harness */
}

static const struct pc_sink_ops mem_ops = {
	.write = mem_write,
	.flush = mem_flush,
	.close = mem_close,
};

static void round_trip(uint8_t flags, const uint8_t *pt, size_t n)
{
	struct mem_sink m = { .s = { .ops = &mem_ops } };
	const struct pc_crypt_key *k = &keys[n % 3];
	uint32_t chunk = 1 + (flags & 0x1f) * 7;
	size_t off = 0, piece = 1 + n % 23;
	struct pc_sink *top;
	uint8_t *back;
	long long got;
	char err[256];

	if (pc_sink_crypt_create(&top, &m.s, k, chunk, err, sizeof(err)) < 0)
		fail("pc_sink_crypt_create", 0, 0);
	while (off < n) {
		size_t w = n - off < piece ? n - off : piece;

		if (pc_sink_write(top, pt + off, w) < 0)
			fail("sink write", (long long)off, 0);
		off += w;
		/* a flush seals a short, non-final chunk: the stream must not change */
		if (flags & 0x20 && off < n && off % 5 == 0 && pc_sink_flush(top) < 0)
			fail("sink flush", (long long)off, 0);
	}
	if (pc_sink_close(top) < 0)
		fail("sink close", 0, 0);
	if (walk_chunks(m.buf, m.len, false) != (long long)n)
		fail("sealed framing does not hold the plaintext", walk_chunks(m.buf, m.len, false),
		     (long long)n);
	if (flags & 0x40) {
		/* any flipped bit, header to last tag, is refused */
		size_t at = (n * 2654435761u + flags) % m.len;

		m.buf[at] ^= (uint8_t)(1u << (n % 8));
		load_input(m.buf, m.len);
		got = read_all(k, read_sizes[n % 8], NULL, 0, m.len);
		if (got >= 0)
			fail("a flipped bit was not detected (offset, length)", (long long)at,
			     (long long)m.len);
		free(m.buf);
		return;
	}
	back = malloc(n ? n : 1);
	if (!back)
		fail("malloc", 0, 0);
	load_input(m.buf, m.len);
	got = read_all(k, read_sizes[n % 8], back, n, m.len);
	if (got != (long long)n || memcmp(back, pt, n))
		fail("round trip lost or changed data", got, (long long)n);
	free(back);
	free(m.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags, *b;
	long long want, got;
	size_t n;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (in_fd < 0)
		setup();
	flags = data[0];
	n = size - 1;
	if (flags & 0x80) {
		/* at most 32 chunks: the reader makes two reads and an AEAD call
		 * per chunk, so 1-byte chunks of a long input only cost time */
		if (n <= 32 * (1 + (flags & 0x1f) * 7u))
			round_trip(flags, data + 1, n);
		return 0;
	}
	b = malloc(n ? n : 1);
	if (!b)
		return 0;
	memcpy(b, data + 1, n);
	if ((flags & 1) && n >= PC_CRYPT_HDR_LEN) {
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		/* the header check: first 8 bytes of SHA-256 over bytes 0..55 */
		if (EVP_Digest(b, 56, md, &mdlen, EVP_sha256(), NULL))
			memcpy(b + 56, md, 8);
	}
	want = n >= PC_CRYPT_HDR_LEN ? walk_chunks(b, n, flags & 2) : -1;
	load_input(b, n);
	got = read_all(&keys[0], read_sizes[(flags >> 2) & 7], NULL, 0, n);
	/* a clean end means every chunk was read and authenticated, nothing more */
	if (got >= 0 && got != want)
		fail("clean end, but not the plaintext the framing holds", got, want);
	free(b);
	return 0;
}
