/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS hello parser (src/inspect/tls.c): SNI, ALPN, versions, JA3 and JA4 of
 * ClientHellos whole, split across records and cut at every byte; ServerHello
 * selections; refusals of what is not a TLS handshake. Every input is parsed
 * from an exact-size heap copy, so ASan sees any read past its end.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "l7_util.h"
#include "inspect/l7.h"

/*
 * Vector 1: the lists of FoxIO's JA4.md example ("t13d1516h2_8daaf6152771_
 * e5627efa2ab1"), with the GREASE a Chrome ClientHello carries added: legacy
 * version 0x0303, random 00..1f, a 32-byte session id, ciphers 2a2a (GREASE)
 * then 1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,
 * 0035; compression null; extensions in order 0a0a (GREASE), 001b, 0000
 * (server_name www.example.com), 0033, 0010 (ALPN h2, http/1.1), 4469, 0017,
 * 002d, 000d (0403,0804,0401,0503,0805,0501,0806,0601), 0005, 0023, 0012, 002b
 * (7a7a GREASE, 0304, 0303), ff01, 000b (0), 000a (6a6a GREASE, 001d, 0017,
 * 0018), 0015 (40 bytes of padding), fafa (GREASE).
 * JA4: the spec's own value, the ClientHello matching its example lists.
 * JA3: tshark 4.0's tls.handshake.ja3 of these bytes (ja3_full
 * "771,4865-...-53,27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,
 * 29-23-24,0").
 */
static const char hello1_hex[] = "0100015c0303000102030405060708090a0b0c0d0e0f10111213141516171819"
				 "1a1b1c1d1e1f2011111111111111111111111111111111111111111111111111"
				 "1111111111111100202a2a130113021303c02bc02fc02cc030cca9cca8c013c0"
				 "14009c009d002f0035010000f30a0a0000001b00030200020000001400120000"
				 "0f7777772e6578616d706c652e636f6d0033002b00296a6a000100001d002000"
				 "0000000000000000000000000000000000000000000000000000000000000000"
				 "10000e000c02683208687474702f312e3144690005000302683200170000002d"
				 "00020101000d0012001004030804040105030805050108060601000500050100"
				 "0000000023000000120000002b0007067a7a03040303ff01000100000b000201"
				 "00000a000a00086a6a001d001700180015002800000000000000000000000000"
				 "000000000000000000000000000000000000000000000000000000fafa000100";
#define HELLO1_JA4 "t13d1516h2_8daaf6152771_e5627efa2ab1"
#define HELLO1_JA3 "c000e2caf3a25423f9de6c8a4b12a975"

/*
 * Vector 2: a TLS 1.2 client without server_name, supported_versions or
 * signature_algorithms: ciphers c02f,c030,009e,0035,00ff; extensions 000b
 * (0,1,2), 000a (0017,0018), 0023, 0010 (one ALPN of bytes 30 ab), 0016, 0017.
 * JA4 derived by hand (checked with Python's hashlib):
 *   a: t 12 (legacy 0x0303) i (no SNI) 05 ciphers 06 extensions, ALPN "30 ab"
 *      ends in a non-alphanumeric byte, so the first and last hex digits of
 *      "30ab": "3b" -> t12i05063b
 *   b: sha256("0035,009e,00ff,c02f,c030")[:12] = 408bfbd5df8e
 *   c: sha256("000a,000b,0016,0017,0023")[:12] = 195413a0cc0f (no "_": no
 *      signature algorithms; 0010 left out)
 * JA3: tshark's tls.handshake.ja3 of these bytes ("771,49199-49200-158-53-
 * 255,11-10-35-16-22-23,23-24,0-1-2").
 */
static const char hello2_hex[] = "0100007a0303000102030405060708090a0b0c0d0e0f10111213141516171819"
				 "1a1b1c1d1e1f2011111111111111111111111111111111111111111111111111"
				 "11111111111111000ac02fc030009e003500ff01000027000b00040300010200"
				 "0a0006000400170018002300000010000500030230ab0016000000170000";
#define HELLO2_JA4 "t12i05063b_408bfbd5df8e_195413a0cc0f"
#define HELLO2_JA3 "a1a32815c329bc805482777a7eb3ee09"

/* Exact-size heap copies, so ASan reports any read past the end. */
static int stream(const uint8_t *p, size_t n, struct pc_tls_hello *out)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	memcpy(c, p, n);
	rc = pc_tls_parse_stream(c, n, out);
	free(c);
	return rc;
}

static int handshake(const uint8_t *p, size_t n, bool quic, struct pc_tls_hello *out)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	memcpy(c, p, n);
	rc = pc_tls_parse_handshake(c, n, quic, out);
	free(c);
	return rc;
}

/* Wraps @msg in records of at most @chunk bytes each (type 22, 0x0301). */
static size_t records(const uint8_t *msg, size_t n, size_t chunk, uint8_t *out)
{
	size_t o = 0, k;

	while (n) {
		k = n < chunk ? n : chunk;
		out[o++] = 22;
		out[o++] = 3;
		out[o++] = 1;
		out[o++] = (uint8_t)(k >> 8);
		out[o++] = (uint8_t)k;
		memcpy(out + o, msg, k);
		o += k;
		msg += k;
		n -= k;
	}
	return o;
}

static void check_hello1(const struct pc_tls_hello *h, char first)
{
	char ja4[CAPTURE_JA4_LEN];

	memcpy(ja4, HELLO1_JA4, sizeof(HELLO1_JA4));
	ja4[0] = first;
	CHECK(h->client);
	CHECK_EQ(h->version, 0x0304);
	CHECK_STR(h->sni, "www.example.com");
	CHECK_STR(h->alpn, "h2");
	CHECK_STR(h->ja4, ja4);
	CHECK_STR(h->ja3, HELLO1_JA3);
}

static void test_vector1(void)
{
	uint8_t msg[512], s[1024];
	struct pc_tls_hello h;
	size_t n = unhex(hello1_hex, msg, sizeof(msg)), sn, i;

	CHECK_EQ(n, 352);
	sn = records(msg, n, 16384, s);
	CHECK_EQ(stream(s, sn, &h), 1);
	check_hello1(&h, 't');
	/* the same message from QUIC CRYPTO frames: only JA4's first letter */
	CHECK_EQ(handshake(msg, n, true, &h), 1);
	check_hello1(&h, 'q');
	CHECK_EQ(handshake(msg, n, false, &h), 1);
	check_hello1(&h, 't');
	/* every cut: "wait for more", never a result or a refusal */
	for (i = 0; i < n; i++)
		if (handshake(msg, i, false, &h) != 0)
			break;
	CHECK_EQ(i, n);
	for (i = 0; i < sn; i++)
		if (stream(s, i, &h) != 0)
			break;
	CHECK_EQ(i, sn);
}

/* The message split across records of 1, 7 and 100 bytes: every prefix of
 * the stream waits, the whole stream gives the same result. */
static void test_split_records(void)
{
	static const size_t chunks[] = { 1, 7, 100 };
	uint8_t msg[512], s[512 * 6];
	struct pc_tls_hello h;
	size_t n = unhex(hello1_hex, msg, sizeof(msg)), sn, i, c;

	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		sn = records(msg, n, chunks[c], s);
		for (i = 0; i < sn; i++)
			if (stream(s, i, &h) != 0)
				break;
		CHECK_EQ(i, sn);
		memset(&h, 0x55, sizeof(h));
		CHECK_EQ(stream(s, sn, &h), 1);
		check_hello1(&h, 't');
	}
	/* more records after the hello (a pipelined second message) change nothing */
	sn = records(msg, n, 100, s);
	sn += records(msg, 40, 100, s + sn);
	CHECK_EQ(stream(s, sn, &h), 1);
	check_hello1(&h, 't');
}

static void test_vector2(void)
{
	uint8_t msg[256], s[512];
	struct pc_tls_hello h;
	size_t n = unhex(hello2_hex, msg, sizeof(msg));

	CHECK_EQ(n, 126);
	CHECK_EQ(stream(s, records(msg, n, 16384, s), &h), 1);
	CHECK(h.client);
	CHECK_EQ(h.version, 0x0303);
	CHECK_STR(h.sni, "");
	CHECK_STR(h.alpn, "0\xab"); /* bytes as sent */
	CHECK_STR(h.ja4, HELLO2_JA4);
	CHECK_STR(h.ja3, HELLO2_JA3);
}

/* ----------------------------------------------------- hand-built hellos */

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put16(struct buf *b, unsigned v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(b, x, 2);
}

/* Sets the 24-bit handshake length (bytes 1-3) from the size. */
static void seal_hs(struct buf *b)
{
	size_t len = b->n - 4;

	b->b[1] = (uint8_t)(len >> 16);
	b->b[2] = (uint8_t)(len >> 8);
	b->b[3] = (uint8_t)len;
}

/* A ClientHello with @nc ciphers 0x1301.., no extensions block when @ext is
 * NULL, else that block as given. */
static void client_hello(struct buf *b, size_t nc, const uint8_t *ext, size_t elen)
{
	static const uint8_t rnd[32];
	size_t i;

	b->n = 0;
	put(b, "\x01\0\0\0\x03\x03", 6);
	put(b, rnd, 32);
	put(b, "\0", 1); /* no session id */
	put16(b, (unsigned)(2 * nc));
	for (i = 0; i < nc; i++)
		put16(b, 0x1301 + (unsigned)i);
	put(b, "\x01\0", 2);
	if (ext) {
		put16(b, (unsigned)elen);
		put(b, ext, elen);
	}
	seal_hs(b);
}

/* No ciphers and no extensions: JA4's empty-list rule gives zeros for b and c;
 * JA3 "771,,,," (its MD5 from Python's hashlib). */
static void test_empty_lists(void)
{
	struct pc_tls_hello h;
	struct buf b;

	client_hello(&b, 0, NULL, 0);
	CHECK_EQ(handshake(b.b, b.n, false, &h), 1);
	CHECK_STR(h.ja4, "t12i000000_000000000000_000000000000");
	CHECK_STR(h.ja3, "bddda940f9963577c41d7c28b1a5f65f");
	CHECK_EQ(h.version, 0x0303);
}

/* server_name longer than the field: cut to its size less one. A second
 * host_name entry and a second server_name extension are ignored. */
static void test_long_sni(void)
{
	uint8_t ext[700];
	char want[CAPTURE_NAME_LEN];
	struct pc_tls_hello h;
	struct buf b;
	size_t o = 0, i;

	/* server_name: length 309, list length 307: host_name (300 bytes of
	 * 'a'..'z'), then a second host_name "z" */
	memcpy(ext, "\0\0\x01\x35\x01\x33", 6);
	o = 6;
	ext[o++] = 0;
	ext[o++] = 300 >> 8;
	ext[o++] = 300 & 0xff;
	for (i = 0; i < 300; i++)
		ext[o++] = (uint8_t)('a' + i % 26);
	memcpy(ext + o, "\0\0\x01z", 4);
	o += 4;
	memcpy(ext + o, "\0\0\0\x08\0\x06\0\0\x03xyz", 12); /* second server_name */
	o += 12;
	client_hello(&b, 1, ext, o);
	CHECK_EQ(handshake(b.b, b.n, false, &h), 1);
	for (i = 0; i < sizeof(want) - 1; i++)
		want[i] = (char)('a' + i % 26);
	want[i] = 0;
	CHECK_STR(h.sni, want);
	CHECK_EQ(strlen(h.sni), CAPTURE_NAME_LEN - 1);
	/* one SNI counted once: 2 extensions seen (both 0000), 1 cipher */
	CHECK(!strncmp(h.ja4, "t12d0102", 8));
}

/* ServerHellos: TLS 1.3 (selected version in supported_versions) and TLS 1.2
 * with a selected ALPN. */
static void test_server_hello(void)
{
	static const uint8_t rnd[32];
	struct pc_tls_hello h;
	struct buf b = { .n = 0 };
	uint8_t s[4200];

	put(&b, "\x02\0\0\0\x03\x03", 6);
	put(&b, rnd, 32);
	put(&b, "\x00\x13\x01\x00", 4); /* no session id, TLS_AES_128_GCM_SHA256 */
	put(&b, "\x00\x06\x00\x2b\x00\x02\x03\x04", 8);
	seal_hs(&b);
	CHECK_EQ(stream(s, records(b.b, b.n, 16384, s), &h), 1);
	CHECK(!h.client);
	CHECK_EQ(h.version, 0x0304);
	CHECK_STR(h.alpn, "");
	CHECK_STR(h.ja4, "");
	CHECK_STR(h.ja3, "");

	b.n = 0;
	put(&b, "\x02\0\0\0\x03\x03", 6);
	put(&b, rnd, 32);
	put(&b, "\x00\xc0\x2f\x00", 4);
	put(&b, "\x00\x0f\x00\x10\x00\x0b\x00\x09\x08http/1.1\xff\x01\x00\x00", 19);
	seal_hs(&b);
	CHECK_EQ(stream(s, records(b.b, b.n, 16384, s), &h), 1);
	CHECK(!h.client);
	CHECK_EQ(h.version, 0x0303);
	CHECK_STR(h.alpn, "http/1.1");
}

/* What is not a TLS hello: refused (-1), as early as its first bytes allow. */
static void test_refusals(void)
{
	static const uint8_t rnd[32];
	struct pc_tls_hello h;
	uint8_t msg[512], s[1024];
	size_t n = unhex(hello1_hex, msg, sizeof(msg)), sn;
	struct buf b;

	CHECK_EQ(stream((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h), -1);
	CHECK_EQ(stream((const uint8_t *)"G", 1, &h), -1);
	CHECK_EQ(stream((const uint8_t *)"\x16", 1, &h), 0);
	CHECK_EQ(stream((const uint8_t *)"\x16\x02", 2, &h), -1);		  /* SSL 2 major */
	CHECK_EQ(stream((const uint8_t *)"\x17\x03\x03\x00\x10", 5, &h), -1);	  /* app data */
	CHECK_EQ(stream((const uint8_t *)"\x16\x03\x01\x00\x00", 5, &h), -1);	  /* empty record */
	CHECK_EQ(stream((const uint8_t *)"\x16\x03\x01\x48\x01", 5, &h), -1);	  /* > 2^14+2048 */
	CHECK_EQ(stream((const uint8_t *)"\x16\x03\x01\x00\x04\x0b", 6, &h), -1); /* Certificate */
	CHECK_EQ(stream((const uint8_t *)"", 0, &h), 0);
	/* a message over the 8 KiB bound */
	CHECK_EQ(handshake((const uint8_t *)"\x01\x00\x20\x00", 4, false, &h), -1);
	CHECK_EQ(handshake((const uint8_t *)"\x01\x00\x1f\xfc", 4, false, &h), 0);
	/* a hello whose record is followed by a non-handshake record before it ends */
	sn = records(msg, 200, 16384, s);
	memcpy(s + sn, "\x17\x03\x03\x00\x01\x00", 6);
	CHECK_EQ(stream(s, sn + 6, &h), -1);
	/* extensions overrunning the message */
	memcpy(s, msg, n);
	s[0x6b] = 0x01; /* extensions length 0x00f3 -> 0x01f3 */
	CHECK_EQ(handshake(s, n, false, &h), -1);
	/* an odd cipher_suites length */
	client_hello(&b, 1, NULL, 0);
	b.b[4 + 2 + 32 + 1 + 1] = 3;
	CHECK_EQ(handshake(b.b, b.n, false, &h), -1);
	/* a session id over 32 bytes */
	b.n = 0;
	put(&b, "\x01\0\0\0\x03\x03", 6);
	put(&b, rnd, 32);
	put(&b, "\x21", 1);
	put(&b, rnd, 32);
	put(&b, "\0", 1);
	put(&b, "\x00\x02\x13\x01\x01\x00", 6);
	seal_hs(&b);
	CHECK_EQ(handshake(b.b, b.n, false, &h), -1);
	/* a good server_name, then a truncated ALPN: refused, @out untouched */
	client_hello(&b, 1,
		     (const uint8_t *)"\x00\x00\x00\x06\x00\x04\x00\x00\x01x"
				      "\x00\x10\x00\x03\x00\x05\x02",
		     17);
	memset(&h, 0x55, sizeof(h));
	CHECK_EQ(handshake(b.b, b.n, false, &h), -1);
	CHECK_EQ((uint8_t)h.sni[0], 0x55);
	/* a truncated server_name inside a well-framed extension */
	client_hello(&b, 1, (const uint8_t *)"\x00\x00\x00\x05\x00\x08\x00\x00\x05", 9);
	CHECK_EQ(handshake(b.b, b.n, false, &h), -1);
}

int main(void)
{
	test_vector1();
	test_split_records();
	test_vector2();
	test_empty_lists();
	test_long_sni();
	test_server_hello();
	test_refusals();
	return check_finish("test_tls");
}
