/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the TLS hello and QUIC Initial parsers
 * (pc_tls_parse_handshake, pc_tls_parse_stream, pc_quic_parse_initial).
 * Byte 0 picks the mode (% 3), byte 1 is its flags; the rest:
 *   0 handshake: one handshake message. It is parsed directly (quic=false and
 *     true) and as a TCP stream cut into records of 1 + flags % 128 bytes;
 *     all three must agree (result, fields; JA4 differs in its first letter).
 *   1 datagrams: [len_hi][len_lo][bytes]... client datagrams of one QUIC flow.
 *   2 frames: [len_hi][len_lo][frames]... each the plaintext of a v1 client
 *     Initial the harness seals with the RFC 9001 A.1 keys (DCID
 *     8394c8f03e515708), one datagram each: reaches the frame parser and the
 *     CRYPTO reassembly past the AEAD.
 * Invariants: the result is -1, 0 or 1; on 1 every string ends inside its
 * array, a ClientHello's JA3 is "" or 32 lower-case hex digits and its JA4 ""
 * or of the form [tq]VV[di]NNNNAA_<12 hex>_<12 hex>, a ServerHello has
 * neither; the QUIC flow's contiguous CRYPTO count stays within its buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "inspect/l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* replay_main.c: 1000 mutations a seed (each QUIC seed re-derives keys and
 * decrypts up to 1200 bytes per run; 3000 took 2.2 s of CPU under ASan) */
const unsigned long fuzz_replay_mutations = 1000;

#define MAX_MSG 16384

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_tls: invariant violated: %s\n", what);
	abort();
}

static bool ends_inside(const char *s, size_t size)
{
	return memchr(s, 0, size) != NULL;
}

static bool hex_run(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ja4_form(const char *j)
{
	size_t i;

	if (!j[0])
		return true;
	if (strlen(j) != 36 || (j[0] != 't' && j[0] != 'q') || (j[3] != 'd' && j[3] != 'i') ||
	    j[10] != '_' || j[23] != '_' || !hex_run(j + 11, 12) || !hex_run(j + 24, 12))
		return false;
	for (i = 4; i < 8; i++)
		if (j[i] < '0' || j[i] > '9')
			return false;
	return true;
}

static void check_hello(int rc, const struct pc_tls_hello *h)
{
	if (rc < -1 || rc > 1)
		fail("result outside -1..1");
	if (rc != 1)
		return;
	if (!ends_inside(h->sni, sizeof(h->sni)) || !ends_inside(h->alpn, sizeof(h->alpn)) ||
	    !ends_inside(h->ja4, sizeof(h->ja4)) || !ends_inside(h->ja3, sizeof(h->ja3)))
		fail("a string runs to the end of its array");
	if (!h->client && (h->ja4[0] || h->ja3[0] || h->sni[0]))
		fail("a ServerHello with a fingerprint or SNI");
	if (h->ja3[0] && (strlen(h->ja3) != 32 || !hex_run(h->ja3, 32)))
		fail("JA3 is not 32 lower-case hex digits");
	if (!ja4_form(h->ja4))
		fail("JA4 is not of its form");
}

static void mode_handshake(uint8_t flags, const uint8_t *p, size_t n)
{
	static uint8_t rec[MAX_MSG * 6 + 5];
	struct pc_tls_hello a, b, q;
	size_t chunk = 1 + flags % 128, o = 0, k, i;
	int ra, rb, rq;

	if (n > MAX_MSG)
		return;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&q, 0, sizeof(q));
	ra = pc_tls_parse_handshake(p, n, false, &a);
	rq = pc_tls_parse_handshake(p, n, true, &q);
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		rec[o++] = 22;
		rec[o++] = 3;
		rec[o++] = 3;
		rec[o++] = (uint8_t)(k >> 8);
		rec[o++] = (uint8_t)k;
		memcpy(rec + o, p + i, k);
		o += k;
	}
	rb = pc_tls_parse_stream(rec, o, &b);
	check_hello(ra, &a);
	check_hello(rq, &q);
	check_hello(rb, &b);
	if (ra != rb || ra != rq)
		fail("stream, handshake and QUIC handshake parses disagree");
	if (ra != 1)
		return;
	if (memcmp(&a, &b, sizeof(a)))
		fail("the stream parse differs from the handshake parse");
	if (a.ja4[0] && (q.ja4[0] != 'q' || strcmp(a.ja4 + 1, q.ja4 + 1)))
		fail("the QUIC JA4 differs in more than its first letter");
}

static struct pc_quic_ctx *ctx(void)
{
	static struct pc_quic_ctx *q;

	if (!q)
		q = pc_quic_ctx_create();
	if (!q)
		fail("pc_quic_ctx_create");
	return q;
}

static void check_flow(int rc, const struct pc_quic_flow *f, const struct pc_tls_hello *h)
{
	check_hello(rc, h);
	if (f->have > PC_QUIC_CRYPTO_MAX || f->dcid_len > sizeof(f->dcid))
		fail("QUIC flow state out of its bounds");
	if (rc == 1 && !h->client)
		fail("a QUIC client Initial gave a ServerHello");
}

/* RFC 9001 A.1 client keys of DCID 8394c8f03e515708 */
static const uint8_t k_key[16] = { 0x1f, 0x36, 0x96, 0x13, 0xdd, 0x76, 0xd5, 0x46,
				   0x77, 0x30, 0xef, 0xcb, 0xe3, 0xb1, 0xa2, 0x2d };
static const uint8_t k_iv[12] = { 0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3,
				  0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c };
static const uint8_t k_hp[16] = { 0x9f, 0x50, 0x44, 0x9e, 0x04, 0xa0, 0xe8, 0x10,
				  0x28, 0x3a, 0x1e, 0x99, 0x33, 0xad, 0xed, 0xd2 };
static const uint8_t k_dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };

/* Seals @pl (@n bytes, padded to 20) as client Initial @pn into @out. */
static size_t seal(uint8_t *out, unsigned pn, const uint8_t *pl, size_t n)
{
	static EVP_CIPHER_CTX *gcm, *ecb;
	uint8_t mask[32], nonce[12];
	size_t o = 0, plen = n < 20 ? 20 : n;
	int ol;

	if (!gcm) {
		gcm = EVP_CIPHER_CTX_new();
		ecb = EVP_CIPHER_CTX_new();
		if (!gcm || !ecb)
			fail("EVP_CIPHER_CTX_new");
	}
	out[o++] = 0xc1;
	memcpy(out + o, "\0\0\0\x01\x08", 5);
	o += 5;
	memcpy(out + o, k_dcid, 8);
	o += 8;
	out[o++] = 0;
	out[o++] = 0;
	out[o++] = (uint8_t)(0x40 | (2 + plen + 16) >> 8);
	out[o++] = (uint8_t)(2 + plen + 16);
	out[o++] = (uint8_t)(pn >> 8);
	out[o++] = (uint8_t)pn;
	memcpy(out + o, pl, n);
	memset(out + o + n, 0, plen - n); /* PADDING */
	memcpy(nonce, k_iv, 12);
	nonce[10] ^= (uint8_t)(pn >> 8);
	nonce[11] ^= (uint8_t)pn;
	if (!EVP_EncryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, k_key, nonce) ||
	    !EVP_EncryptUpdate(gcm, NULL, &ol, out, (int)o) ||
	    !EVP_EncryptUpdate(gcm, out + o, &ol, out + o, (int)plen) ||
	    !EVP_EncryptFinal_ex(gcm, out + o + ol, &ol) ||
	    !EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, 16, out + o + plen) ||
	    !EVP_EncryptInit_ex(ecb, EVP_aes_128_ecb(), NULL, k_hp, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ecb, 0) ||
	    !EVP_EncryptUpdate(ecb, mask, &ol, out + o - 2 + 4, 16))
		fail("sealing");
	out[0] ^= mask[0] & 0x0f;
	out[o - 2] ^= mask[1];
	out[o - 1] ^= mask[2];
	return o + plen + 16;
}

/* From an exact-size heap copy: ASan sees any read past the datagram. */
static int parse_copy(const uint8_t *p, size_t n, struct pc_quic_flow *f, struct pc_tls_hello *h)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	if (!c)
		fail("malloc");
	memcpy(c, p, n);
	rc = pc_quic_parse_initial(ctx(), f, c, n, h);
	free(c);
	return rc;
}

static void mode_quic(bool sealed, const uint8_t *p, size_t n)
{
	static struct pc_quic_flow f;
	static uint8_t dg[2048];
	struct pc_tls_hello h;
	size_t len, dn;
	unsigned pn = 0;
	int rc = 0;

	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	while (rc == 0 && n >= 2) {
		len = (size_t)p[0] << 8 | p[1];
		p += 2;
		n -= 2;
		if (len > n)
			len = n;
		if (sealed && len > 1200)
			len = 1200;
		if (sealed) {
			dn = seal(dg, pn++, p, len);
			rc = parse_copy(dg, dn, &f, &h);
		} else {
			rc = parse_copy(p, len, &f, &h);
		}
		check_flow(rc, &f, &h);
		p += len;
		n -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *c;

	if (size < 2)
		return 0;
	switch (data[0] % 3) {
	case 0:
		/* exact-size copy of the message for ASan */
		c = malloc(size - 2 ? size - 2 : 1);
		if (!c)
			fail("malloc");
		memcpy(c, data + 2, size - 2);
		mode_handshake(data[1], c, size - 2);
		free(c);
		break;
	case 1:
		mode_quic(false, data + 2, size - 2);
		break;
	default:
		mode_quic(true, data + 2, size - 2);
		break;
	}
	return 0;
}
