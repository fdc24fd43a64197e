/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS ClientHello / ServerHello parser with JA3 and JA4 (FoxIO) fingerprints.
 * Reads the handshake records at the start of a TCP stream (a message spanning
 * records is gathered in a bounded stack buffer) or one handshake message from
 * QUIC CRYPTO frames. Every read is bounds-checked; the message is walked once
 * to validate it before any field is taken.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "inspect/l7.h"

/*
 * Largest handshake message taken: a ClientHello with post-quantum key shares
 * is about 1.8 KB; 8 KiB bounds the stack copy and the sort arrays below.
 */
#define HS_MAX 8192
#define REC_MAX (16384 + 2048) /* TLSCiphertext bound (RFC 8446 5.2) */
#define HT_CLIENT_HELLO 1
#define HT_SERVER_HELLO 2

#define EXT_SNI 0x0000
#define EXT_GROUPS 0x000a
#define EXT_FORMATS 0x000b
#define EXT_SIGALGS 0x000d
#define EXT_ALPN 0x0010
#define EXT_VERSIONS 0x002b

/* A window of bytes still to read. */
struct cur {
	const uint8_t *p;
	size_t n;
};

/* What the walk of a hello keeps: views into the message. */
struct hello {
	unsigned legacy; /* legacy_version */
	unsigned selected;
	struct cur ciphers; /* 2-byte values */
	struct cur exts;    /* the extensions block */
	struct cur groups, formats, sigalgs, versions;
	struct cur alpn; /* first ALPN protocol name */
	unsigned seen;	 /* extensions walked (bits below): a repeat is ignored */
	bool sni_ext;
};

enum {
	SEEN_SNI = 1,
	SEEN_ALPN = 2,
	SEEN_VERSIONS = 4,
	SEEN_SIGALGS = 8,
	SEEN_GROUPS = 16,
	SEEN_FORMATS = 32
};

static bool take(struct cur *c, size_t k, const uint8_t **out)
{
	if (c->n < k)
		return false;
	if (out)
		*out = c->p;
	c->p += k;
	c->n -= k;
	return true;
}

static bool get(struct cur *c, unsigned bytes, unsigned *v)
{
	const uint8_t *b;
	unsigned i;

	if (!take(c, bytes, &b))
		return false;
	for (*v = 0, i = 0; i < bytes; i++)
		*v = *v << 8 | b[i];
	return true;
}

/* A vector with a @lenbytes length prefix, as a window of its own. */
static bool vec(struct cur *c, unsigned lenbytes, struct cur *sub)
{
	unsigned len;

	if (!get(c, lenbytes, &len) || !take(c, len, &sub->p))
		return false;
	sub->n = len;
	return true;
}

static bool is_grease(unsigned v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static unsigned be16(const uint8_t *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

static void copy_name(char *dst, size_t size, const uint8_t *src, size_t n)
{
	if (n > size - 1)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* server_name: the first host_name entry (RFC 6066 3). */
static bool ext_sni(struct cur d, struct pc_tls_hello *out)
{
	struct cur list, name;
	unsigned type;

	if (!vec(&d, 2, &list) || d.n)
		return false;
	while (list.n) {
		if (!get(&list, 1, &type) || !vec(&list, 2, &name))
			return false;
		if (type == 0 && !out->sni[0])
			copy_name(out->sni, sizeof(out->sni), name.p, name.n);
	}
	return true;
}

/* ALPN (RFC 7301 3.1): keeps the first protocol name. */
static bool ext_alpn(struct cur d, struct hello *h)
{
	struct cur list, name;

	if (!vec(&d, 2, &list) || d.n)
		return false;
	while (list.n) {
		if (!vec(&list, 1, &name))
			return false;
		if (!h->alpn.p)
			h->alpn = name;
	}
	return true;
}

/* A list of 2-byte values behind a @lenbytes length, filling the whole data. */
static bool ext_list16(struct cur d, unsigned lenbytes, struct cur *list)
{
	return vec(&d, lenbytes, list) && !d.n && list->n % 2 == 0;
}

static unsigned seen_bit(unsigned type)
{
	switch (type) {
	case EXT_SNI:
		return SEEN_SNI;
	case EXT_ALPN:
		return SEEN_ALPN;
	case EXT_VERSIONS:
		return SEEN_VERSIONS;
	case EXT_SIGALGS:
		return SEEN_SIGALGS;
	case EXT_GROUPS:
		return SEEN_GROUPS;
	case EXT_FORMATS:
		return SEEN_FORMATS;
	}
	return 0;
}

static bool client_ext(unsigned type, struct cur d, struct hello *h, struct pc_tls_hello *out)
{
	switch (type) {
	case EXT_SNI:
		h->sni_ext = true;
		return ext_sni(d, out);
	case EXT_ALPN:
		return ext_alpn(d, h);
	case EXT_VERSIONS:
		return ext_list16(d, 1, &h->versions);
	case EXT_SIGALGS:
		return ext_list16(d, 2, &h->sigalgs);
	case EXT_GROUPS:
		return ext_list16(d, 2, &h->groups);
	case EXT_FORMATS:
		return vec(&d, 1, &h->formats) && !d.n;
	}
	return true;
}

static bool server_ext(unsigned type, struct cur d, struct hello *h)
{
	switch (type) {
	case EXT_VERSIONS:
		return get(&d, 2, &h->selected) && !d.n;
	case EXT_ALPN:
		return ext_alpn(d, h);
	}
	return true;
}

/* Walks the extensions block; false when it is malformed. */
static bool walk_exts(struct hello *h, bool client, struct pc_tls_hello *out)
{
	struct cur c = h->exts, d;
	unsigned type;

	while (c.n) {
		if (!get(&c, 2, &type) || !vec(&c, 2, &d))
			return false;
		if (h->seen & seen_bit(type))
			continue; /* repeated (RFC 8446 forbids it): the first counts */
		h->seen |= seen_bit(type);
		if (client ? !client_ext(type, d, h, out) : !server_ext(type, d, h))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- JA3/JA4 */

/*
 * Text hashed for JA3/JA4, formatted by hand into a small buffer that is fed
 * to the digest when full: snprintf and one EVP_DigestUpdate per number made
 * up most of the cost of a ClientHello (56 us of them, perf).
 */
struct hw {
	EVP_MD_CTX *md;
	size_t n;
	char b[256];
};

/* Digests fetched once per process: an implicit fetch on every
 * EVP_DigestInit_ex takes OpenSSL's global store lock. */
static EVP_MD *alg_md5, *alg_sha256;
static pthread_once_t alg_once = PTHREAD_ONCE_INIT;

static void fetch_algs(void)
{
	alg_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static bool hw_start(struct hw *w, const EVP_MD *alg)
{
	w->n = 0;
	return alg && EVP_DigestInit_ex(w->md, alg, NULL);
}

static void hw_flush(struct hw *w)
{
	EVP_DigestUpdate(w->md, w->b, w->n);
	w->n = 0;
}

static void hw_ch(struct hw *w, char c)
{
	if (w->n == sizeof(w->b))
		hw_flush(w);
	w->b[w->n++] = c;
}

/* "<sep><v>": decimal (JA3) or 4 lower-case hex digits (JA4); no separator
 * when @sep is 0. */
static void hw_num(struct hw *w, unsigned v, bool hex, char sep)
{
	static const char hx[] = "0123456789abcdef";
	char d[5];
	int k = 0;

	if (sep)
		hw_ch(w, sep);
	if (hex) {
		hw_ch(w, hx[v >> 12 & 15]);
		hw_ch(w, hx[v >> 8 & 15]);
		hw_ch(w, hx[v >> 4 & 15]);
		hw_ch(w, hx[v & 15]);
		return;
	}
	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < 5);
	while (k)
		hw_ch(w, d[--k]);
}

/* The digest's first @hexlen hex digits into @out. */
static void hw_end(struct hw *w, char *out, size_t hexlen)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned i, dl = 0;

	hw_flush(w);
	if (!EVP_DigestFinal_ex(w->md, dig, &dl))
		dl = 0;
	for (i = 0; i < hexlen / 2 && i < dl; i++) {
		out[2 * i] = hx[dig[i] >> 4];
		out[2 * i + 1] = hx[dig[i] & 15];
	}
	out[2 * i] = 0;
}

/* JA3: one list of 16-bit (@w 2) or 8-bit (@w 1) values, GREASE removed. */
static void ja3_list(struct hw *w, struct cur l, unsigned width)
{
	char sep = 0;
	unsigned v;

	while (get(&l, width, &v)) {
		if (width == 2 && is_grease(v))
			continue;
		hw_num(w, v, false, sep);
		sep = '-';
	}
}

static void ja3_exts(struct hw *w, struct cur c)
{
	char sep = 0;
	unsigned type;
	struct cur d;

	while (get(&c, 2, &type) && vec(&c, 2, &d)) {
		if (is_grease(type))
			continue;
		hw_num(w, type, false, sep);
		sep = '-';
	}
}

/* Salesforce JA3: SSLVersion,Ciphers,Extensions,EllipticCurves,PointFormats */
static void ja3(struct hw *w, const struct hello *h, struct pc_tls_hello *out)
{
	if (!hw_start(w, alg_md5))
		return;
	hw_num(w, h->legacy, false, 0);
	hw_ch(w, ',');
	ja3_list(w, h->ciphers, 2);
	hw_ch(w, ',');
	ja3_exts(w, h->exts);
	hw_ch(w, ',');
	ja3_list(w, h->groups, 2);
	hw_ch(w, ',');
	ja3_list(w, h->formats, 1);
	hw_end(w, out->ja3, 32);
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static const char *ja4_version(unsigned v)
{
	switch (v) {
	case 0x0304:
		return "13";
	case 0x0303:
		return "12";
	case 0x0302:
		return "11";
	case 0x0301:
		return "10";
	case 0x0300:
		return "s3";
	case 0x0002:
		return "s2";
	case 0xfeff:
		return "d1";
	case 0xfefd:
		return "d2";
	case 0xfefc:
		return "d3";
	}
	return "00";
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* First and last character of the first ALPN, or of its hex when either
 * end is not alphanumeric; "00" when there is none (JA4.md). */
static void ja4_alpn(struct cur a, char two[3])
{
	static const char hx[] = "0123456789abcdef";
	uint8_t f, l;

	two[2] = 0;
	if (!a.p || !a.n) {
		two[0] = two[1] = '0';
		return;
	}
	f = a.p[0];
	l = a.p[a.n - 1];
	if (is_alnum(f) && is_alnum(l)) {
		two[0] = (char)f;
		two[1] = (char)l;
	} else {
		two[0] = hx[f >> 4];
		two[1] = hx[l & 15];
	}
}

/* Hashes a sorted list (and the signature algorithms after '_'): 12 hex, or
 * "000000000000" for an empty list. */
static bool ja4_hash(struct hw *w, const uint16_t *v, size_t n, struct cur sig, char out[13])
{
	size_t i;
	unsigned s;
	char sep = '_';

	if (!n) {
		memcpy(out, "000000000000", 13);
		return true;
	}
	if (!hw_start(w, alg_sha256))
		return false;
	for (i = 0; i < n; i++)
		hw_num(w, v[i], true, i ? ',' : 0);
	while (get(&sig, 2, &s)) {
		if (is_grease(s))
			continue;
		hw_num(w, s, true, sep);
		sep = ',';
	}
	hw_end(w, out, 12);
	return true;
}

static void ja4(struct hw *w, const struct hello *h, bool quic, struct pc_tls_hello *out)
{
	uint16_t ciph[HS_MAX / 2], ext[HS_MAX / 4];
	size_t nc = 0, ne = 0, next_all = 0;
	struct cur c = h->ciphers, e = h->exts, d, none = { NULL, 0 };
	char alpn[3], hb[13], hc[13];
	unsigned v;

	while (get(&c, 2, &v))
		if (!is_grease(v))
			ciph[nc++] = (uint16_t)v;
	while (get(&e, 2, &v) && vec(&e, 2, &d)) {
		if (is_grease(v))
			continue;
		next_all++;
		if (v != EXT_SNI && v != EXT_ALPN)
			ext[ne++] = (uint16_t)v;
	}
	qsort(ciph, nc, sizeof(ciph[0]), cmp_u16);
	qsort(ext, ne, sizeof(ext[0]), cmp_u16);
	ja4_alpn(h->alpn, alpn);
	if (!ja4_hash(w, ciph, nc, none, hb) || !ja4_hash(w, ext, ne, h->sigalgs, hc))
		return; /* no SHA-256: the fingerprint stays unknown ("") */
	snprintf(out->ja4, sizeof(out->ja4), "%c%s%c%02u%02u%s_%s_%s", quic ? 'q' : 't',
		 ja4_version(out->version), h->sni_ext ? 'd' : 'i', (unsigned)(nc > 99 ? 99 : nc),
		 (unsigned)(next_all > 99 ? 99 : next_all), alpn, hb, hc);
}

/* ----------------------------------------------------------------- hellos */

/* Highest non-GREASE supported_versions entry, else legacy_version. */
static unsigned client_version(const struct hello *h)
{
	struct cur l = h->versions;
	unsigned v, best = 0;

	while (get(&l, 2, &v))
		if (!is_grease(v) && v > best)
			best = v;
	return best ? best : h->legacy;
}

static int client_hello(struct cur b, bool quic, struct pc_tls_hello *out)
{
	struct hello h = { 0 };
	struct cur sid, comp;
	struct hw w;

	if (!get(&b, 2, &h.legacy) || !take(&b, 32, NULL) || !vec(&b, 1, &sid) || sid.n > 32 ||
	    !vec(&b, 2, &h.ciphers) || h.ciphers.n % 2 || !vec(&b, 1, &comp) || !comp.n)
		return -1;
	if (b.n && (!vec(&b, 2, &h.exts) || !walk_exts(&h, true, out)))
		return -1;
	out->client = true;
	out->version = (uint16_t)client_version(&h);
	if (h.alpn.p)
		copy_name(out->alpn, sizeof(out->alpn), h.alpn.p, h.alpn.n);
	pthread_once(&alg_once, fetch_algs);
	w.md = EVP_MD_CTX_new();
	if (w.md) { /* without it the fingerprints stay unknown ("") */
		ja3(&w, &h, out);
		ja4(&w, &h, quic, out);
		EVP_MD_CTX_free(w.md);
	}
	return 1;
}

static int server_hello(struct cur b, struct pc_tls_hello *out)
{
	struct hello h = { 0 };
	struct cur sid;

	if (!get(&b, 2, &h.legacy) || !take(&b, 32, NULL) || !vec(&b, 1, &sid) || sid.n > 32 ||
	    !take(&b, 3, NULL)) /* cipher_suite, compression_method */
		return -1;
	if (b.n && (!vec(&b, 2, &h.exts) || !walk_exts(&h, false, out)))
		return -1;
	out->client = false;
	out->version = (uint16_t)(h.selected ? h.selected : h.legacy);
	if (h.alpn.p)
		copy_name(out->alpn, sizeof(out->alpn), h.alpn.p, h.alpn.n);
	return 1;
}

int pc_tls_parse_handshake(const uint8_t *p, size_t n, bool quic, struct pc_tls_hello *out)
{
	struct pc_tls_hello h; /* @out is written only with a whole result */
	struct cur b;
	size_t len;
	int rc;

	if (n >= 1 && p[0] != HT_CLIENT_HELLO && p[0] != HT_SERVER_HELLO)
		return -1;
	if (n < 4)
		return 0;
	len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (len + 4 > HS_MAX)
		return -1;
	if (n < len + 4)
		return 0;
	memset(&h, 0, sizeof(h));
	b.p = p + 4;
	b.n = len;
	rc = p[0] == HT_CLIENT_HELLO ? client_hello(b, quic, &h) : server_hello(b, &h);
	if (rc == 1)
		*out = h;
	return rc;
}

/* The header bytes of a record at @p (@n of them, maybe fewer than 5) that
 * cannot start a handshake record: content type 22, major version 3. */
static bool bad_record(const uint8_t *p, size_t n)
{
	return (n >= 1 && p[0] != 22) || (n >= 2 && p[1] != 3) ||
	       (n >= 5 && (be16(p + 3) == 0 || be16(p + 3) > REC_MAX));
}

int pc_tls_parse_stream(const uint8_t *p, size_t n, struct pc_tls_hello *out)
{
	uint8_t buf[HS_MAX];
	size_t off = 0, have = 0, len, avail, k;
	int rc;

	for (;;) {
		if (bad_record(p + off, n - off))
			return -1;
		if (n - off < 5)
			return 0;
		len = be16(p + off + 3);
		avail = n - off - 5 < len ? n - off - 5 : len;
		if (have == 0) { /* the usual case: the whole message in one record */
			rc = pc_tls_parse_handshake(p + off + 5, avail, false, out);
			if (rc != 0 || avail < len)
				return rc;
		} else {
			k = avail < HS_MAX - have ? avail : HS_MAX - have;
			memcpy(buf + have, p + off + 5, k);
			have += k;
			rc = pc_tls_parse_handshake(buf, have, false, out);
			if (rc != 0 || avail < len)
				return rc;
		}
		if (have == 0) {
			k = avail < HS_MAX ? avail : HS_MAX;
			memcpy(buf, p + off + 5, k);
			have = k;
		}
		off += 5 + len;
	}
}
