/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QUIC client Initial decryption (v1 RFC 9001, v2 RFC 9369): initial keys from
 * the client's first Destination Connection ID (HKDF-SHA256), AES-128-ECB
 * header protection, AES-128-GCM payload; CRYPTO frames are gathered into the
 * flow's bounded buffer until the ClientHello is whole. Cipher contexts live
 * in the per-worker pc_quic_ctx: nothing is allocated per packet.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "inspect/l7.h"

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define TAG_LEN 16
#define SAMPLE_LEN 16
#define MAX_INITIALS 16 /* client Initial packets taken before giving up */

struct pc_quic_ctx {
	EVP_KDF_CTX *kdf;
	EVP_CIPHER_CTX *ecb; /* header protection */
	EVP_CIPHER_CTX *gcm; /* payload */
	uint8_t pt[65536];   /* one packet's plaintext (a UDP payload's bound) */
};

/* RFC 9001 5.2 and RFC 9369 3.3.1 */
static const uint8_t salt_v1[20] = { 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
				     0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a };
static const uint8_t salt_v2[20] = { 0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
				     0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9 };

struct pc_quic_ctx *pc_quic_ctx_create(void)
{
	struct pc_quic_ctx *q = calloc(1, sizeof(*q));
	EVP_KDF *kdf;

	if (!q)
		return NULL;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		goto err_free;
	q->kdf = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	q->ecb = EVP_CIPHER_CTX_new();
	q->gcm = EVP_CIPHER_CTX_new();
	if (!q->kdf || !q->ecb || !q->gcm ||
	    !EVP_EncryptInit_ex(q->ecb, EVP_aes_128_ecb(), NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(q->ecb, 0) ||
	    !EVP_DecryptInit_ex(q->gcm, EVP_aes_128_gcm(), NULL, NULL, NULL))
		goto err_ctx;
	return q;
err_ctx:
	pc_quic_ctx_destroy(q);
	return NULL;
err_free:
	free(q);
	return NULL;
}

void pc_quic_ctx_destroy(struct pc_quic_ctx *q)
{
	if (!q)
		return;
	EVP_KDF_CTX_free(q->kdf);
	EVP_CIPHER_CTX_free(q->ecb);
	EVP_CIPHER_CTX_free(q->gcm);
	free(q);
}

/* ------------------------------------------------------------------ keys */

static bool hkdf(struct pc_quic_ctx *q, int mode, const uint8_t *key, size_t klen,
		 const uint8_t *salt_or_info, size_t slen, uint8_t *out, size_t olen)
{
	OSSL_PARAM prm[5], *p = prm;

	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, klen);
	*p++ = OSSL_PARAM_construct_octet_string(
		mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
		(void *)salt_or_info, slen);
	*p = OSSL_PARAM_construct_end();
	return EVP_KDF_derive(q->kdf, out, olen, prm) > 0;
}

/* HKDF-Expand-Label (RFC 8446 7.1) with an empty context. */
static bool expand_label(struct pc_quic_ctx *q, const uint8_t secret[32], const char *label,
			 uint8_t *out, size_t olen)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t ll = strlen(label);

	info[0] = (uint8_t)(olen >> 8);
	info[1] = (uint8_t)olen;
	info[2] = (uint8_t)(6 + ll);
	memcpy(info + 3, "tls13 ", 6);
	memcpy(info + 9, label, ll);
	info[9 + ll] = 0;
	return hkdf(q, EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, 32, info, 10 + ll, out, olen);
}

struct keys {
	uint8_t key[16], iv[12], hp[16];
};

static bool derive(struct pc_quic_ctx *q, uint32_t version, const uint8_t *dcid, size_t dlen,
		   struct keys *k)
{
	uint8_t initial[32], client[32];
	bool v2 = version == QUIC_V2;

	return hkdf(q, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dcid, dlen, v2 ? salt_v2 : salt_v1, 20,
		    initial, 32) &&
	       expand_label(q, initial, "client in", client, 32) &&
	       expand_label(q, client, v2 ? "quicv2 key" : "quic key", k->key, 16) &&
	       expand_label(q, client, v2 ? "quicv2 iv" : "quic iv", k->iv, 12) &&
	       expand_label(q, client, v2 ? "quicv2 hp" : "quic hp", k->hp, 16);
}

/* ---------------------------------------------------------------- packets */

/* A long-header packet's layout, all offsets from its first byte. */
struct lhdr {
	uint32_t version;
	bool initial;
	const uint8_t *dcid;
	uint8_t dcid_len;
	size_t pn_off, end; /* packet number offset; packet size */
};

static bool varint(const uint8_t *p, size_t n, size_t *o, uint64_t *v)
{
	size_t len, i;

	if (*o >= n)
		return false;
	len = (size_t)1 << (p[*o] >> 6);
	if (n - *o < len)
		return false;
	*v = p[*o] & 0x3f;
	for (i = 1; i < len; i++)
		*v = *v << 8 | p[*o + i];
	*o += len;
	return true;
}

/* Parses the long header at @p (@n bytes to the datagram's end): false when
 * it is not one of a version we know or does not fit. */
static bool long_header(const uint8_t *p, size_t n, struct lhdr *h)
{
	size_t o = 5;
	uint64_t v;
	unsigned type;

	if (n < 7 || !(p[0] & 0x80))
		return false;
	h->version = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (h->version != QUIC_V1 && h->version != QUIC_V2)
		return false;
	type = (p[0] >> 4) & 3;
	h->initial = type == (h->version == QUIC_V2 ? 1u : 0u);
	h->dcid_len = p[o++];
	if (h->dcid_len > 20 || n - o < h->dcid_len + 1u)
		return false;
	h->dcid = p + o;
	o += h->dcid_len;
	if (p[o] > 20 || n - o < p[o] + 1u)
		return false;
	o += 1u + p[o];
	if (h->initial && (!varint(p, n, &o, &v) || v > n - o))
		return false; /* token */
	if (h->initial)
		o += (size_t)v;
	if (!varint(p, n, &o, &v) || v > n - o || v < 4 + SAMPLE_LEN)
		return false; /* Length: packet number and payload */
	h->pn_off = o;
	h->end = o + (size_t)v;
	return true;
}

/*
 * Removes header protection and decrypts the Initial @p laid out as @h into
 * q->pt: returns the plaintext length, or -1 when it does not authenticate.
 */
static long open_packet(struct pc_quic_ctx *q, const struct keys *k, const uint8_t *p,
			const struct lhdr *h)
{
	uint8_t mask[32], first, pnb[4], nonce[12], tag[TAG_LEN];
	const uint8_t *ct;
	size_t pnl, ctlen, i;
	int ol = 0, fl = 0;

	if (!EVP_EncryptInit_ex(q->ecb, NULL, NULL, k->hp, NULL) ||
	    !EVP_EncryptUpdate(q->ecb, mask, &ol, p + h->pn_off + 4, SAMPLE_LEN) || ol < 5)
		return -1;
	first = p[0] ^ (mask[0] & 0x0f);
	pnl = (first & 3) + 1u;
	memcpy(nonce, k->iv, sizeof(nonce));
	for (i = 0; i < pnl; i++) {
		pnb[i] = p[h->pn_off + i] ^ mask[1 + i];
		nonce[12 - pnl + i] ^= pnb[i];
	}
	ct = p + h->pn_off + pnl;
	ctlen = h->end - h->pn_off - pnl - TAG_LEN; /* >= 0: Length >= 20 */
	if (ctlen > sizeof(q->pt))
		return -1;
	memcpy(tag, p + h->end - TAG_LEN, TAG_LEN);
	if (!EVP_DecryptInit_ex(q->gcm, NULL, NULL, k->key, nonce) ||
	    !EVP_DecryptUpdate(q->gcm, NULL, &ol, &first, 1) ||
	    !EVP_DecryptUpdate(q->gcm, NULL, &ol, p + 1, (int)(h->pn_off - 1)) ||
	    !EVP_DecryptUpdate(q->gcm, NULL, &ol, pnb, (int)pnl) ||
	    !EVP_DecryptUpdate(q->gcm, q->pt, &ol, ct, (int)ctlen) ||
	    !EVP_CIPHER_CTX_ctrl(q->gcm, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) ||
	    EVP_DecryptFinal_ex(q->gcm, q->pt + ol, &fl) <= 0)
		return -1;
	return (long)ol + fl;
}

/* One CRYPTO frame's bytes at stream offset @off, clipped to the buffer. */
static void crypto_data(struct pc_quic_flow *f, uint64_t off, const uint8_t *d, uint64_t len)
{
	uint64_t i, end = off + len;

	if (off >= PC_QUIC_CRYPTO_MAX)
		return;
	if (end > PC_QUIC_CRYPTO_MAX)
		end = PC_QUIC_CRYPTO_MAX;
	memcpy(f->buf + off, d, (size_t)(end - off));
	for (i = off; i < end; i++)
		f->got[i / 8] |= (uint8_t)(1u << (i % 8));
	while (f->have < PC_QUIC_CRYPTO_MAX && (f->got[f->have / 8] & (1u << (f->have % 8))))
		f->have++;
}

/* Skips an ACK frame's fields after its type (RFC 9000 19.3). */
static bool skip_ack(const uint8_t *p, size_t n, size_t *o, bool ecn)
{
	uint64_t v, ranges, i;

	if (!varint(p, n, o, &v) || !varint(p, n, o, &v) || !varint(p, n, o, &ranges) ||
	    !varint(p, n, o, &v))
		return false;
	for (i = 0; i < ranges; i++)
		if (!varint(p, n, o, &v) || !varint(p, n, o, &v))
			return false;
	for (i = 0; ecn && i < 3; i++)
		if (!varint(p, n, o, &v))
			return false;
	return true;
}

/* The frames of one decrypted Initial: false on a malformed frame or one
 * that an Initial cannot carry (RFC 9000 12.4). */
static bool frames(struct pc_quic_flow *f, const uint8_t *p, size_t n)
{
	size_t o = 0;
	uint64_t type, off, len;

	while (o < n) {
		if (!varint(p, n, &o, &type))
			return false;
		switch (type) {
		case 0x00: /* PADDING: runs of hundreds of bytes */
			while (o < n && !p[o])
				o++;
			break;
		case 0x01: /* PING */
			break;
		case 0x02: /* ACK */
		case 0x03:
			if (!skip_ack(p, n, &o, type == 0x03))
				return false;
			break;
		case 0x06: /* CRYPTO */
			if (!varint(p, n, &o, &off) || !varint(p, n, &o, &len) || len > n - o)
				return false;
			crypto_data(f, off, p + o, len);
			o += (size_t)len;
			break;
		case 0x1c: /* CONNECTION_CLOSE: nothing after it matters */
			return true;
		default:
			return false;
		}
	}
	return true;
}

/* Keys for the Initial @h of the flow: the flow's own (from its first DCID),
 * or after a Retry the ones of the new DCID, adopted once they open it. */
static long open_initial(struct pc_quic_ctx *q, struct pc_quic_flow *f, const uint8_t *p,
			 const struct lhdr *h)
{
	struct keys k;
	long len;

	if (!f->keyed) {
		if (!derive(q, h->version, h->dcid, h->dcid_len, &k))
			return -1;
		memcpy(f->key, k.key, 16);
		memcpy(f->iv, k.iv, 12);
		memcpy(f->hp, k.hp, 16);
		memcpy(f->dcid, h->dcid, h->dcid_len);
		f->dcid_len = h->dcid_len;
		f->version = h->version;
		f->keyed = true;
	}
	memcpy(k.key, f->key, 16);
	memcpy(k.iv, f->iv, 12);
	memcpy(k.hp, f->hp, 16);
	len = open_packet(q, &k, p, h);
	if (len >= 0 || (h->dcid_len == f->dcid_len && !memcmp(h->dcid, f->dcid, f->dcid_len)))
		return len;
	if (!derive(q, h->version, h->dcid, h->dcid_len, &k))
		return -1;
	len = open_packet(q, &k, p, h);
	if (len >= 0) { /* a Retry moved the keys to this DCID */
		memcpy(f->key, k.key, 16);
		memcpy(f->iv, k.iv, 12);
		memcpy(f->hp, k.hp, 16);
		memcpy(f->dcid, h->dcid, h->dcid_len);
		f->dcid_len = h->dcid_len;
	}
	return len;
}

int pc_quic_parse_initial(struct pc_quic_ctx *q, struct pc_quic_flow *f, const uint8_t *p, size_t n,
			  struct pc_tls_hello *out)
{
	struct lhdr h;
	size_t o = 0, need;
	long len;

	/* the first packet of a client datagram is a long header of ours */
	if (!long_header(p, n, &h) || (f->keyed && h.version != f->version))
		return -1;
	while (o < n && long_header(p + o, n - o, &h)) {
		if (h.initial) {
			if (h.version != (f->keyed ? f->version : h.version) ||
			    ++f->packets > MAX_INITIALS)
				return -1;
			len = open_initial(q, f, p + o, &h);
			if (len < 0 || !frames(f, q->pt, (size_t)len))
				return -1;
		}
		o += h.end; /* coalesced packets follow (RFC 9000 12.2) */
	}
	if (f->have < 4)
		return 0;
	if (f->buf[0] != 1) /* the client's CRYPTO stream starts with its ClientHello */
		return -1;
	need = 4 + ((size_t)f->buf[1] << 16 | (size_t)f->buf[2] << 8 | f->buf[3]);
	if (need > PC_QUIC_CRYPTO_MAX)
		return -1;
	if (f->have < need)
		return f->packets >= MAX_INITIALS ? -1 : 0;
	return pc_tls_parse_handshake(f->buf, need, true, out);
}
