/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for encryption at rest: key files, the chunked AEAD container
 * (round trips for every cipher at chunk boundaries) and every way a file can
 * go bad: wrong key, flipped bits, truncation, reordered/dropped chunks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/compiler.h"
#include "store/sink.h"

#include "check.h"

#define CHUNK PC_CRYPT_CHUNK_DEFAULT
#define REC(n) (PC_CRYPT_CHUNK_HDR_LEN + (n) + PC_CRYPT_TAG_LEN)

static char dir[256];

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void put_file(const char *name, const void *data, size_t len)
{
	char p[512];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len)) {
		perror(p);
		exit(1);
	}
	fclose(f);
}

static uint8_t *get_file(const char *name, size_t *len)
{
	char p[512];
	uint8_t *buf;
	struct stat st;
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "rb");
	if (!f)
		return NULL;
	fstat(fileno(f), &st);
	buf = malloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	return buf;
}

static const uint8_t key_bytes[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
/* HMAC-SHA256(key 00..1f, "jcap key id"), computed with
 * `printf 'jcap key id' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f` */
static const uint8_t key_id_expected[8] = { 0xc2, 0xcb, 0x8f, 0x08, 0x2f, 0x97, 0x30, 0x8b };

static void load_key(struct pc_crypt_key *k, const char *name, uint8_t cipher)
{
	char p[512], err[256];
	int ret;

	path_of(p, sizeof(p), name);
	ret = pc_crypt_key_load(k, p, cipher, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "key load %s: %s\n", p, err);
		exit(1);
	}
}

static void test_keys(void)
{
	static const char hex[] = "  000102030405060708090a0b0c0d0e0f"
				  "101112131415161718191A1B1C1D1E1F\n";
	struct pc_crypt_key a, b;
	char p[512], err[256];
	uint8_t junk[64];
	int ret;

	put_file("raw.key", key_bytes, 32);
	put_file("hex.key", hex, strlen(hex));
	load_key(&a, "raw.key", CAPTURE_CIPHER_AES_256_GCM);
	load_key(&b, "hex.key", CAPTURE_CIPHER_CHACHA20_POLY1305);
	CHECK(memcmp(a.key, key_bytes, 32) == 0);
	CHECK(memcmp(b.key, key_bytes, 32) == 0);
	CHECK(memcmp(a.key_id, key_id_expected, 8) == 0);
	CHECK(memcmp(b.key_id, key_id_expected, 8) == 0);
	CHECK_EQ(b.cipher, CAPTURE_CIPHER_CHACHA20_POLY1305);
	pc_crypt_key_wipe(&a);
	CHECK(a.key[1] == 0 && a.key[31] == 0 && a.key_id[0] == 0);

	put_file("short.key", key_bytes, 31);
	path_of(p, sizeof(p), "short.key");
	ret = pc_crypt_key_load(&a, p, 0, err, sizeof(err));
	CHECK_EQ(ret, -CAPTURE_E_KEY);
	CHECK(strstr(err, p) && strstr(err, "need 32 raw bytes or 64 hex digits") &&
	      strstr(err, "holds 31 bytes"));

	memset(junk, 'g', sizeof(junk));
	put_file("nothex.key", junk, 64);
	path_of(p, sizeof(p), "nothex.key");
	ret = pc_crypt_key_load(&a, p, 0, err, sizeof(err));
	CHECK_EQ(ret, -CAPTURE_E_KEY);
	CHECK(strstr(err, p) && strstr(err, "not all hex digits"));

	put_file("empty.key", "", 0);
	path_of(p, sizeof(p), "empty.key");
	CHECK_EQ(pc_crypt_key_load(&a, p, 0, err, sizeof(err)), -CAPTURE_E_KEY);
	CHECK(strstr(err, "holds 0 bytes") != NULL);

	path_of(p, sizeof(p), "missing.key");
	ret = pc_crypt_key_load(&a, p, 0, err, sizeof(err));
	CHECK_EQ(ret, -ENOENT);
	CHECK(strstr(err, p) && strstr(err, "cannot read key file"));

	path_of(p, sizeof(p), "raw.key");
	CHECK_EQ(pc_crypt_key_load(&a, p, 7, err, sizeof(err)), -CAPTURE_E_CONFIG);

	/* a directory is no key file, whatever it holds */
	snprintf(p, sizeof(p), "%s", dir);
	ret = pc_crypt_key_load(&a, p, 0, err, sizeof(err));
	CHECK_EQ(ret, -EISDIR);
	{
		char want[600];

		snprintf(want, sizeof(want), "%s: cannot read key file: Is a directory", p);
		CHECK_STR(err, want);
	}

	/* a key that differs in one bit has another id */
	junk[0] = key_bytes[0] ^ 1;
	memcpy(junk + 1, key_bytes + 1, 31);
	put_file("other.key", junk, 32);
	load_key(&a, "other.key", 0);
	CHECK(memcmp(a.key_id, key_id_expected, 8) != 0);
}

/* Encrypt @len bytes of @pt into file @name through crypt sink -> file sink. */
static void encrypt_to(const char *name, const struct pc_crypt_key *k, const uint8_t *pt,
		       size_t len, size_t piece)
{
	struct pc_sink *file, *top;
	char p[512], err[256];
	size_t off;

	path_of(p, sizeof(p), name);
	unlink(p);
	CHECK_EQ(pc_sink_file_open(&file, p, err, sizeof(err)), 0);
	CHECK_EQ(pc_sink_crypt_create(&top, file, k, 0, err, sizeof(err)), 0);
	for (off = 0; off < len; off += piece)
		CHECK_EQ(pc_sink_write(top, pt + off, PC_MIN(piece, len - off)), 0);
	CHECK_EQ(top->bytes, len);
	CHECK_EQ(pc_sink_close(top), 0);
}

/* Read @name back with key @k. Returns the reader's result (0 = verified end)
 * and the plaintext it handed out in @out / @outlen. */
static int decrypt_from(const char *name, const struct pc_crypt_key *k, uint8_t *out, size_t cap,
			size_t *outlen, char *msg, size_t msglen)
{
	struct pc_crypt_reader *r;
	char p[512];
	ssize_t n;
	int fd, ret;

	*outlen = 0;
	msg[0] = '\0';
	path_of(p, sizeof(p), name);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = pc_crypt_reader_open(&r, fd, k, msg, msglen);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	for (;;) {
		n = pc_crypt_reader_read(r, out + *outlen, PC_MIN((size_t)7777, cap - *outlen));
		if (n <= 0)
			break;
		*outlen += (size_t)n;
	}
	snprintf(msg, msglen, "%s", pc_crypt_reader_error(r));
	pc_crypt_reader_close(r);
	close(fd);
	return (int)n;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void test_round_trips(void)
{
	static const char *const names[] = { "aes-256-gcm", "aes-128-gcm", "chacha20-poly1305" };
	const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17 };
	const size_t max = 3 * CHUNK + 17;
	uint8_t *pt = malloc(max), *back = malloc(max + 1);
	struct pc_crypt_key k;
	char msg[256], dec[512], in[512];
	size_t len, i, flen;
	uint8_t *f;
	int c;

	fill(pt, max, 42);
	for (c = 0; c < 3; c++) {
		load_key(&k, "raw.key", (uint8_t)c);
		for (i = 0; i < PC_ARRAY_SIZE(sizes); i++) {
			size_t n = sizes[i], chunks = n ? (n + CHUNK - 1) / CHUNK : 1;

			/* odd write sizes cross chunk edges in every position */
			encrypt_to("rt.enc", &k, pt, n, i & 1 ? 1000 : 65537);
			f = get_file("rt.enc", &flen);
			CHECK_EQ(flen, PC_CRYPT_HDR_LEN + chunks * REC(0) + n);
			CHECK(memcmp(f, PC_CRYPT_MAGIC, 8) == 0);
			CHECK_EQ(f[8], 1);
			CHECK_EQ(f[9], c);
			CHECK(memcmp(f + 16, key_id_expected, 8) == 0);
			/* the plaintext does not appear in the file */
			if (n >= 64)
				CHECK(memmem(f, flen, pt, 32) == NULL);
			free(f);
			CHECK_EQ(decrypt_from("rt.enc", &k, back, max + 1, &len, msg, sizeof(msg)),
				 0);
			CHECK_EQ(len, n);
			CHECK(memcmp(back, pt, n) == 0);
			if (failures)
				fprintf(stderr, "  (cipher %s, size %zu)\n", names[c], n);
		}
		/* the public entry point restores the same bytes */
		path_of(in, sizeof(in), "rt.enc");
		path_of(dec, sizeof(dec), "rt.pcap");
		path_of(msg, sizeof(msg), "raw.key");
		CHECK_EQ(capture_decrypt_file(msg, in, dec, NULL, 0), 0);
		f = get_file("rt.pcap", &flen);
		CHECK(f && flen == max && memcmp(f, pt, max) == 0);
		free(f);
		unlink(dec);
	}
	/* two encryptions of the same data differ (fresh salt, hence key and nonces) */
	load_key(&k, "raw.key", 0);
	encrypt_to("a.enc", &k, pt, 100, 100);
	encrypt_to("b.enc", &k, pt, 100, 100);
	{
		size_t la, lb;
		uint8_t *a = get_file("a.enc", &la), *b = get_file("b.enc", &lb);

		CHECK(la == lb && memcmp(a + 24, b + 24, 32) != 0);
		CHECK(memcmp(a + 72, b + 72, 100) != 0);
		free(a);
		free(b);
	}
	free(pt);
	free(back);
}

/* Write @f[0..len) with bit @bit of byte @at flipped as @name. */
static void put_flipped(const char *name, const uint8_t *f, size_t len, size_t at, int bit)
{
	uint8_t *c = malloc(len);

	memcpy(c, f, len);
	c[at] ^= (uint8_t)(1u << bit);
	put_file(name, c, len);
	free(c);
}

static int try_decrypt(const char *name, const struct pc_crypt_key *k, size_t *got, char *msg,
		       size_t msglen)
{
	static uint8_t back[4 * CHUNK];

	return decrypt_from(name, k, back, sizeof(back), got, msg, msglen);
}

static void test_damage(void)
{
	const size_t n = 2 * CHUNK + 100; /* chunks: full, full, final 100 */
	const size_t c0 = PC_CRYPT_HDR_LEN, c1 = c0 + REC(CHUNK), c2 = c1 + REC(CHUNK);
	uint8_t *pt = malloc(n), *f, *g;
	struct pc_crypt_key k, other;
	char msg[256], in[512], out[512], kp[512], err[512];
	size_t flen, got, i;
	static const size_t hdr_bytes[] = { 8, 9, 10, 11, 12, 15, 16, 23, 24, 40, 55, 56, 63 };
	DIR *d;
	struct dirent *de;
	int ret;

	fill(pt, n, 7);
	load_key(&k, "raw.key", CAPTURE_CIPHER_AES_256_GCM);
	load_key(&other, "other.key", CAPTURE_CIPHER_AES_256_GCM);
	encrypt_to("good.enc", &k, pt, n, 4096);
	f = get_file("good.enc", &flen);
	CHECK_EQ(flen, c2 + REC(100));

	/* wrong key: told apart from damage by the key id */
	ret = try_decrypt("good.enc", &other, &got, msg, sizeof(msg));
	CHECK_EQ(ret, -CAPTURE_E_WRONG_KEY);
	CHECK(strstr(msg, "wrong key: encrypted under key id c2cb8f082f97308b") != NULL);
	CHECK_EQ(got, 0);

	/* flipped bits in the header (not the magic): damaged */
	for (i = 0; i < PC_ARRAY_SIZE(hdr_bytes); i++) {
		put_flipped("bad.enc", f, flen, hdr_bytes[i], (int)(i % 8));
		ret = try_decrypt("bad.enc", &k, &got, msg, sizeof(msg));
		CHECK_EQ(ret, -CAPTURE_E_AUTH);
		CHECK_EQ(got, 0);
		CHECK(strstr(msg, "damaged: container header checksum mismatch") != NULL);
	}
	/* flipped bit in the magic: not an encrypted capture at all */
	put_flipped("bad.enc", f, flen, 3, 0);
	CHECK_EQ(try_decrypt("bad.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_FORMAT);
	CHECK(strstr(msg, "not an encrypted capture") != NULL);

	/* flipped bit in a chunk header, ciphertext and tag of each chunk */
	{
		const size_t at[] = { c0 + 1,
				      c0 + 5,
				      c0 + 8,
				      c0 + 8 + 1000,
				      c1 - 1,
				      c1 + 2,
				      c1 + 8 + CHUNK - 1,
				      c2 + 3,
				      c2 + 8,
				      c2 + 8 + 99,
				      flen - 16,
				      flen - 1 };
		const size_t plain_ok[] = { 0,	       0,	  0,	     0,
					    0,	       CHUNK,	  CHUNK,     2 * CHUNK,
					    2 * CHUNK, 2 * CHUNK, 2 * CHUNK, 2 * CHUNK };

		for (i = 0; i < PC_ARRAY_SIZE(at); i++) {
			put_flipped("bad.enc", f, flen, at[i], (int)(i % 8));
			ret = try_decrypt("bad.enc", &k, &got, msg, sizeof(msg));
			CHECK_EQ(ret, -CAPTURE_E_AUTH);
			/* only the chunks before the damage were handed out */
			CHECK_EQ(got, plain_ok[i]);
			CHECK(strstr(msg, "damaged: chunk ") != NULL);
		}
	}

	/* truncation at many points */
	{
		const size_t at[] = { 1,  5,	  8,	  40,	       63,
				      c0, c0 + 4, c0 + 8, c0 + 500,    c1 - 1,
				      c1, c1 + 7, c2,	  c2 + 8 + 50, flen - 1 };
		const char *why[] = { "inside the 64-byte header",
				      "inside the 64-byte header",
				      "inside the 64-byte header",
				      "inside the 64-byte header",
				      "inside the 64-byte header",
				      "no chunk after the header",
				      "inside the header of chunk 0",
				      "inside chunk 0",
				      "inside chunk 0",
				      "inside chunk 0",
				      "after chunk 0, its final chunk is missing",
				      "inside the header of chunk 1",
				      "after chunk 1, its final chunk is missing",
				      "inside chunk 2",
				      "inside chunk 2" };

		for (i = 0; i < PC_ARRAY_SIZE(at); i++) {
			put_file("cut.enc", f, at[i]);
			ret = try_decrypt("cut.enc", &k, &got, msg, sizeof(msg));
			CHECK_EQ(ret, -CAPTURE_E_TRUNCATED);
			if (!strstr(msg, why[i])) {
				fprintf(stderr, "cut at %zu: '%s', expected '%s'\n", at[i], msg,
					why[i]);
				failures++;
			}
		}
		put_file("cut.enc", f, 0);
		CHECK_EQ(try_decrypt("cut.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_FORMAT);
		CHECK(strstr(msg, "empty file") != NULL);
	}

	/* a dropped empty final chunk is a truncation too */
	encrypt_to("exact.enc", &k, pt, CHUNK * 2, CHUNK * 2); /* full, full(final) */
	g = get_file("exact.enc", &got);
	CHECK_EQ(got, c2);
	put_file("cut.enc", g, c1);
	CHECK_EQ(try_decrypt("cut.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_TRUNCATED);
	free(g);

	/* reordered, duplicated, dropped chunks; data appended after the end */
	g = malloc(flen + 10);
	memcpy(g, f, c0); /* swap chunks 0 and 1 */
	memcpy(g + c0, f + c1, REC(CHUNK));
	memcpy(g + c1, f + c0, REC(CHUNK));
	memcpy(g + c2, f + c2, flen - c2);
	put_file("bad.enc", g, flen);
	CHECK_EQ(try_decrypt("bad.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_AUTH);
	CHECK(strstr(msg, "damaged: chunk 0 failed authentication") != NULL);
	CHECK_EQ(got, 0);

	memcpy(g, f, flen); /* chunk 0 twice */
	memcpy(g + c1, f + c0, REC(CHUNK));
	put_file("bad.enc", g, flen);
	CHECK_EQ(try_decrypt("bad.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_AUTH);
	CHECK(strstr(msg, "damaged: chunk 1 failed authentication") != NULL);
	CHECK_EQ(got, CHUNK);

	memcpy(g, f, c1); /* chunk 1 dropped */
	memcpy(g + c1, f + c2, flen - c2);
	put_file("bad.enc", g, flen - REC(CHUNK));
	CHECK_EQ(try_decrypt("bad.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_AUTH);
	CHECK(strstr(msg, "damaged: chunk 1 failed authentication") != NULL);

	memcpy(g, f, flen); /* trailing bytes */
	memcpy(g + flen, "0123456789", 10);
	put_file("bad.enc", g, flen + 10);
	CHECK_EQ(try_decrypt("bad.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_AUTH);
	CHECK(strstr(msg, "damaged: data follows the final chunk 2") != NULL);

	/* the final chunk of another file under the same key does not fit */
	encrypt_to("other.enc", &k, pt, 2 * CHUNK + 100, 4096);
	{
		size_t olen;
		uint8_t *o = get_file("other.enc", &olen);

		memcpy(g, f, flen);
		memcpy(g + c2, o + c2, olen - c2);
		put_file("bad.enc", g, flen);
		CHECK_EQ(try_decrypt("bad.enc", &k, &got, msg, sizeof(msg)), -CAPTURE_E_AUTH);
		free(o);
	}
	free(g);

	/* capture_decrypt_file: the error names the file and the problem, and no
	 * output (nor temporary) is left behind */
	path_of(out, sizeof(out), "out.pcap");
	path_of(kp, sizeof(kp), "other.key");
	path_of(in, sizeof(in), "good.enc");
	CHECK_EQ(capture_decrypt_file(kp, in, out, err, sizeof(err)), -CAPTURE_E_WRONG_KEY);
	CHECK(strncmp(err, in, strlen(in)) == 0 && strstr(err, ": wrong key: ") != NULL);
	put_file("cut.enc", f, c2 + 20);
	path_of(kp, sizeof(kp), "raw.key");
	path_of(in, sizeof(in), "cut.enc");
	CHECK_EQ(capture_decrypt_file(kp, in, out, err, sizeof(err)), -CAPTURE_E_TRUNCATED);
	CHECK(strstr(err, ": truncated: file ends inside chunk 2 (12 of 116 bytes)") != NULL);
	put_flipped("bad.enc", f, flen, c1 + 100, 3);
	path_of(in, sizeof(in), "bad.enc");
	CHECK_EQ(capture_decrypt_file(kp, in, out, err, sizeof(err)), -CAPTURE_E_AUTH);
	CHECK(strstr(err, ": damaged: chunk 1 failed authentication") != NULL);
	path_of(in, sizeof(in), "raw.key");
	CHECK_EQ(capture_decrypt_file(kp, in, out, err, sizeof(err)), -CAPTURE_E_FORMAT);
	CHECK(strstr(err, ": not an encrypted capture") != NULL);
	CHECK(access(out, F_OK) < 0 && errno == ENOENT);
	d = opendir(dir);
	while (d && (de = readdir(d)))
		CHECK(strncmp(de->d_name, ".out.pcap.", 10) != 0);
	if (d)
		closedir(d);
	path_of(in, sizeof(in), "good.enc");
	CHECK_EQ(capture_decrypt_file(kp, in, out, err, sizeof(err)), 0);
	g = get_file("out.pcap", &got);
	CHECK(g && got == n && memcmp(g, pt, n) == 0);
	free(g);

	CHECK(pc_crypt_is_encrypted(f, flen));
	CHECK(!pc_crypt_is_encrypted(f, 7));
	CHECK(!pc_crypt_is_encrypted((const uint8_t *)"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", 8));
	free(f);
	free(pt);
}

/* Random damage never decrypts: 3000 mutations (bit flips, byte changes,
 * truncations, insertions, deletions, chunk-sized cuts) of a 5-chunk file
 * each end in a named error, with plaintext only from chunks before it. */
static void test_mutations(void)
{
	const size_t n = 4500, chunk = 1000;
	uint8_t *pt = malloc(n), *f, *m = malloc(8192), back[8192];
	struct pc_sink *file, *top;
	struct pc_crypt_key k;
	char p[512], err[256], msg[256];
	size_t flen, mlen, got, at, i;
	uint32_t seed = 12345;
	int it, ret, counts[4] = { 0 };

	fill(pt, n, 99);
	load_key(&k, "raw.key", CAPTURE_CIPHER_CHACHA20_POLY1305);
	path_of(p, sizeof(p), "mut.enc");
	unlink(p);
	CHECK_EQ(pc_sink_file_open(&file, p, err, sizeof(err)), 0);
	CHECK_EQ(pc_sink_crypt_create(&top, file, &k, (uint32_t)chunk, err, sizeof(err)), 0);
	CHECK_EQ(pc_sink_write(top, pt, n), 0);
	CHECK_EQ(pc_sink_close(top), 0);
	f = get_file("mut.enc", &flen);
	CHECK_EQ(flen, PC_CRYPT_HDR_LEN + 5 * REC(0) + n);
	for (it = 0; it < 3000; it++) {
		seed = seed * 1103515245u + 12345u;
		at = (seed >> 8) % flen;
		memcpy(m, f, flen);
		mlen = flen;
		switch (it % 6) {
		case 0: /* one bit */
			m[at] ^= (uint8_t)(1u << (seed & 7));
			break;
		case 1: /* one byte to another value */
			m[at] ^= (uint8_t)(1 + (seed & 0x7f));
			break;
		case 2: /* truncation */
			mlen = at;
			break;
		case 3: /* a byte inserted */
			memmove(m + at + 1, m + at, flen - at);
			m[at] = (uint8_t)seed;
			mlen = flen + 1;
			break;
		case 4: /* a byte deleted */
			memmove(m + at, m + at + 1, flen - at - 1);
			mlen = flen - 1;
			break;
		default: /* a whole chunk record removed */
			i = (seed >> 4) % 4;
			at = PC_CRYPT_HDR_LEN + i * REC(chunk);
			memmove(m + at, m + at + REC(chunk), flen - at - REC(chunk));
			mlen = flen - REC(chunk);
			break;
		}
		put_file("mut2.enc", m, mlen);
		ret = decrypt_from("mut2.enc", &k, back, sizeof(back), &got, msg, sizeof(msg));
		if (ret != -CAPTURE_E_AUTH && ret != -CAPTURE_E_TRUNCATED &&
		    ret != -CAPTURE_E_FORMAT && ret != -CAPTURE_E_WRONG_KEY) {
			fprintf(stderr, "mutation %d (kind %d at %zu): result %d\n", it, it % 6, at,
				ret);
			failures++;
		}
		checks++;
		counts[ret == -CAPTURE_E_AUTH	     ? 0
		       : ret == -CAPTURE_E_TRUNCATED ? 1
		       : ret == -CAPTURE_E_FORMAT    ? 2
						     : 3]++;
		/* whatever came out is a prefix of the truth, in whole chunks */
		CHECK(got % chunk == 0 && got < n && memcmp(back, pt, got) == 0);
	}
	CHECK(counts[0] > 1000 && counts[1] > 400 && counts[2] > 0);
	free(f);
	free(m);
	free(pt);
}

static void cleanup(void)
{
	char p[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		path_of(p, sizeof(p), de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_crypt.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_keys();
	test_round_trips();
	test_damage();
	test_mutations();
	cleanup();
	return check_finish("unit.crypt");
}
