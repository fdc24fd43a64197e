/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encryption at rest: key files, the chunked AEAD container (docs/STORAGE.md),
 * its streaming reader and capture_decrypt_file(). The only file in src/store
 * that talks to OpenSSL. Invariant: no plaintext leaves the reader before the
 * chunk holding it has been authenticated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "store/sink.h"
#include "util/compiler.h"
#include "util/io.h"
#include "util/log.h"

#define KEY_FILE_MAX 256 /* longer than any valid key file */
#define NONCE_LEN 12
#define NONCE_PREFIX_LEN 4
#define AAD_LEN (PC_CRYPT_HDR_LEN + 8 + 4)

/* Header field offsets */
#define H_VERSION 8
#define H_CIPHER 9
#define H_KDF 10
#define H_RESERVED 11
#define H_CHUNK 12
#define H_KEYID 16
#define H_SALT 24
#define H_CHECK 56
#define H_CHECK_LEN 8

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

uint32_t pc_crypt_crc32(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (b = 0; b < 8; b++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static const char *const cipher_names[] = {
	[CAPTURE_CIPHER_AES_256_GCM] = "aes-256-gcm",
	[CAPTURE_CIPHER_AES_128_GCM] = "aes-128-gcm",
	[CAPTURE_CIPHER_CHACHA20_POLY1305] = "chacha20-poly1305",
};

CAPTURE_API const char *capture_cipher_name(int cipher)
{
	if (cipher < 0 || (size_t)cipher >= sizeof(cipher_names) / sizeof(cipher_names[0]))
		return NULL;
	return cipher_names[cipher];
}

CAPTURE_API int capture_cipher_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(cipher_names) / sizeof(cipher_names[0]); i++)
		if (!strcmp(name, cipher_names[i]))
			return (int)i;
	return -CAPTURE_E_CONFIG;
}

static const EVP_CIPHER *cipher_of(uint8_t id)
{
	switch (id) {
	case CAPTURE_CIPHER_AES_256_GCM:
		return EVP_aes_256_gcm();
	case CAPTURE_CIPHER_AES_128_GCM:
		return EVP_aes_128_gcm();
	case CAPTURE_CIPHER_CHACHA20_POLY1305:
		return EVP_chacha20_poly1305();
	default:
		return NULL;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void hex8(char out[17], const uint8_t id[8])
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 8; i++) {
		out[2 * i] = d[id[i] >> 4];
		out[2 * i + 1] = d[id[i] & 15];
	}
	out[16] = '\0';
}

/* key id = first 8 bytes of HMAC-SHA256(key, "jcap key id") */
static int derive_key_id(struct pc_crypt_key *k)
{
	static const char label[] = "jcap key id";
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha256(), k->key, sizeof(k->key), (const uint8_t *)label, sizeof(label) - 1,
		  mac, &maclen) ||
	    maclen < 8)
		return -CAPTURE_E_CRYPTO;
	memcpy(k->key_id, mac, 8);
	return 0;
}

int pc_crypt_key_load(struct pc_crypt_key *k, const char *path, uint8_t cipher, char *err,
		      size_t errlen)
{
	uint8_t buf[KEY_FILE_MAX + 1];
	size_t n, a, b, i;
	ssize_t nr;
	bool hexbad = false;
	int fd, ret;

	memset(k, 0, sizeof(*k));
	if (!path)
		return pc_errf(err, errlen, -EINVAL, "no key file given");
	if (!cipher_of(cipher))
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "%s: unknown cipher id %u", path,
			       cipher);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return pc_errf(err, errlen, ret, "%s: cannot read key file: %s", path,
			       capture_strerror(ret));
	}
	nr = pc_read_full(fd, buf, sizeof(buf));
	close(fd);
	if (nr < 0) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return pc_errf(err, errlen, (int)nr, "%s: cannot read key file: %s", path,
			       capture_strerror((int)nr));
	}
	n = (size_t)nr;

	ret = -CAPTURE_E_KEY;
	if (n == 32) {
		memcpy(k->key, buf, 32);
		ret = 0;
	} else if (n <= KEY_FILE_MAX) {
		a = 0;
		b = n;
		while (a < b && is_space(buf[a]))
			a++;
		while (b > a && is_space(buf[b - 1]))
			b--;
		if (b - a == 64) {
			for (i = 0; i < 32; i++) {
				int hi = hexval(buf[a + 2 * i]), lo = hexval(buf[a + 2 * i + 1]);

				if (hi < 0 || lo < 0)
					break;
				k->key[i] = (uint8_t)(hi << 4 | lo);
			}
			if (i == 32)
				ret = 0;
			else
				hexbad = true;
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (ret < 0 && hexbad)
		pc_errf(err, errlen, ret, "%s: invalid key: 64 characters but not all hex digits",
			path);
	else if (ret < 0)
		pc_errf(err, errlen, ret,
			"%s: invalid key: need 32 raw bytes or 64 hex digits, "
			"file holds %s%zu bytes",
			path, n > KEY_FILE_MAX ? "more than " : "",
			n > KEY_FILE_MAX ? (size_t)KEY_FILE_MAX : n);
	if (ret < 0) {
		pc_crypt_key_wipe(k);
		return ret;
	}
	k->cipher = cipher;
	ret = derive_key_id(k);
	if (ret < 0) {
		pc_crypt_key_wipe(k);
		pc_errf(err, errlen, ret, "%s: cannot derive the key id", path);
	}
	return ret;
}

void pc_crypt_key_wipe(struct pc_crypt_key *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}

bool pc_crypt_is_encrypted(const uint8_t *head, size_t n)
{
	return head && n >= PC_CRYPT_MAGIC_LEN &&
	       memcmp(head, PC_CRYPT_MAGIC, PC_CRYPT_MAGIC_LEN) == 0;
}

static int header_check(const uint8_t *hdr, uint8_t out[H_CHECK_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(hdr, H_CHECK, md, &mdlen, EVP_sha256(), NULL) || mdlen < H_CHECK_LEN)
		return -CAPTURE_E_CRYPTO;
	memcpy(out, md, H_CHECK_LEN);
	return 0;
}

int pc_crypt_header_make(uint8_t hdr[PC_CRYPT_HDR_LEN], const struct pc_crypt_key *k,
			 uint32_t chunk_size)
{
	if (!cipher_of(k->cipher) || !chunk_size || chunk_size > PC_CRYPT_CHUNK_MAX)
		return -EINVAL;
	memset(hdr, 0, PC_CRYPT_HDR_LEN);
	memcpy(hdr, PC_CRYPT_MAGIC, PC_CRYPT_MAGIC_LEN);
	hdr[H_VERSION] = PC_CRYPT_VERSION;
	hdr[H_CIPHER] = k->cipher;
	hdr[H_KDF] = PC_CRYPT_KDF_HKDF_SHA256;
	hdr[H_RESERVED] = 0;
	put_be32(hdr + H_CHUNK, chunk_size);
	memcpy(hdr + H_KEYID, k->key_id, 8);
	if (RAND_bytes(hdr + H_SALT, PC_CRYPT_SALT_LEN) != 1)
		return -CAPTURE_E_CRYPTO;
	return header_check(hdr, hdr + H_CHECK);
}

/* ------------------------------------------------------------------ AEAD */

struct pc_aead {
	EVP_CIPHER_CTX *ctx;
	uint8_t hdr[PC_CRYPT_HDR_LEN];
	uint8_t prefix[NONCE_PREFIX_LEN];
	bool seal;
};

/*
 * Per-file key and nonce prefix:
 *   OKM = HKDF-SHA256(IKM = 32-byte key, salt = header salt,
 *                     info = "jcap v1 file key" || cipher id, L = keylen + 4)
 * The cipher key is OKM[0, keylen) (16 bytes for AES-128-GCM, 32 otherwise),
 * the nonce prefix OKM[keylen, keylen + 4).
 */
static int derive_file_key(const struct pc_crypt_key *k, const uint8_t *salt, uint8_t cipher,
			   uint8_t *okm, size_t okmlen)
{
	static const char label[] = "jcap v1 file key";
	uint8_t info[sizeof(label)];
	EVP_PKEY_CTX *pctx;
	size_t outlen = okmlen;
	int ok;

	memcpy(info, label, sizeof(label) - 1);
	info[sizeof(label) - 1] = cipher;
	pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (!pctx)
		return -CAPTURE_E_CRYPTO;
	ok = EVP_PKEY_derive_init(pctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) > 0 &&
	     EVP_PKEY_CTX_set1_hkdf_salt(pctx, salt, PC_CRYPT_SALT_LEN) > 0 &&
	     EVP_PKEY_CTX_set1_hkdf_key(pctx, k->key, sizeof(k->key)) > 0 &&
	     EVP_PKEY_CTX_add1_hkdf_info(pctx, info, sizeof(info)) > 0 &&
	     EVP_PKEY_derive(pctx, okm, &outlen) > 0 && outlen == okmlen;
	EVP_PKEY_CTX_free(pctx);
	return ok ? 0 : -CAPTURE_E_CRYPTO;
}

int pc_aead_create(struct pc_aead **out, const struct pc_crypt_key *k,
		   const uint8_t hdr[PC_CRYPT_HDR_LEN], bool seal)
{
	const EVP_CIPHER *c = cipher_of(hdr[H_CIPHER]);
	uint8_t okm[32 + NONCE_PREFIX_LEN];
	struct pc_aead *a;
	size_t keylen;
	int ret = -CAPTURE_E_CRYPTO;

	*out = NULL;
	if (!c)
		return -CAPTURE_E_FORMAT;
	keylen = (size_t)EVP_CIPHER_get_key_length(c);
	if (keylen > 32 || EVP_CIPHER_get_iv_length(c) != NONCE_LEN)
		return -CAPTURE_E_CRYPTO;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	memcpy(a->hdr, hdr, PC_CRYPT_HDR_LEN);
	a->seal = seal;
	ret = derive_file_key(k, hdr + H_SALT, hdr[H_CIPHER], okm, keylen + NONCE_PREFIX_LEN);
	if (ret < 0)
		goto err_free;
	memcpy(a->prefix, okm + keylen, NONCE_PREFIX_LEN);
	ret = -CAPTURE_E_CRYPTO;
	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx)
		goto err_free;
	if (EVP_CipherInit_ex(a->ctx, c, NULL, okm, NULL, seal ? 1 : 0) != 1)
		goto err_ctx;
	OPENSSL_cleanse(okm, sizeof(okm));
	*out = a;
	return 0;

err_ctx:
	EVP_CIPHER_CTX_free(a->ctx);
err_free:
	OPENSSL_cleanse(okm, sizeof(okm));
	free(a);
	return ret;
}

void pc_aead_destroy(struct pc_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

/* Nonce = prefix || BE64(idx); AAD = header || BE64(idx) || BE32(word). */
static int aead_start(struct pc_aead *a, uint64_t idx, uint32_t word)
{
	uint8_t nonce[NONCE_LEN], aad[AAD_LEN];
	int outl;

	memcpy(nonce, a->prefix, NONCE_PREFIX_LEN);
	put_be64(nonce + NONCE_PREFIX_LEN, idx);
	memcpy(aad, a->hdr, PC_CRYPT_HDR_LEN);
	put_be64(aad + PC_CRYPT_HDR_LEN, idx);
	put_be32(aad + PC_CRYPT_HDR_LEN + 8, word);
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, a->seal ? 1 : 0) != 1)
		return -CAPTURE_E_CRYPTO;
	if (EVP_CipherUpdate(a->ctx, NULL, &outl, aad, AAD_LEN) != 1)
		return -CAPTURE_E_CRYPTO;
	return 0;
}

int pc_aead_seal(struct pc_aead *a, uint64_t idx, bool final, const uint8_t *in, size_t len,
		 uint8_t *out)
{
	uint32_t word = (uint32_t)len | (final ? PC_CRYPT_FINAL : 0);
	uint8_t *ct = out + PC_CRYPT_CHUNK_HDR_LEN;
	int outl = 0, fl = 0;

	if (!a->seal || len > PC_CRYPT_CHUNK_MAX)
		return -EINVAL;
	put_be32(out, word);
	put_be32(out + 4, pc_crypt_crc32(out, 4));
	if (aead_start(a, idx, word) < 0)
		return -CAPTURE_E_CRYPTO;
	if (len && EVP_CipherUpdate(a->ctx, ct, &outl, in, (int)len) != 1)
		return -CAPTURE_E_CRYPTO;
	if (EVP_CipherFinal_ex(a->ctx, ct + outl, &fl) != 1 || (size_t)(outl + fl) != len)
		return -CAPTURE_E_CRYPTO;
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, PC_CRYPT_TAG_LEN, ct + len) != 1)
		return -CAPTURE_E_CRYPTO;
	return (int)(PC_CRYPT_CHUNK_HDR_LEN + len + PC_CRYPT_TAG_LEN);
}

int pc_aead_open(struct pc_aead *a, uint64_t idx, uint32_t word, const uint8_t *ct, uint8_t *pt)
{
	size_t len = word & ~PC_CRYPT_FINAL;
	uint8_t tag[PC_CRYPT_TAG_LEN];
	int outl = 0, fl = 0;

	if (a->seal || len > PC_CRYPT_CHUNK_MAX)
		return -EINVAL;
	if (aead_start(a, idx, word) < 0)
		return -CAPTURE_E_CRYPTO;
	if (len && EVP_CipherUpdate(a->ctx, pt, &outl, ct, (int)len) != 1)
		return -CAPTURE_E_AUTH;
	memcpy(tag, ct + len, PC_CRYPT_TAG_LEN);
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, PC_CRYPT_TAG_LEN, tag) != 1)
		return -CAPTURE_E_CRYPTO;
	if (EVP_CipherFinal_ex(a->ctx, pt + outl, &fl) != 1) {
		OPENSSL_cleanse(pt, len); /* unauthenticated: never hand it out */
		return -CAPTURE_E_AUTH;
	}
	return 0;
}

/* ---------------------------------------------------------------- reader */

struct pc_crypt_reader {
	int fd;
	struct pc_aead *aead;
	uint32_t chunk_size;
	uint64_t idx; /* next chunk to read */
	bool done;    /* final chunk verified, end of file checked */
	int err;      /* sticky: once failed, always failed */
	uint8_t *ct;  /* chunk_size + tag */
	uint8_t *pt;  /* chunk_size */
	size_t pt_len, pt_off;
	char msg[256];
};

/* Parse and check a header; fills @msg on failure. */
static int header_parse(const uint8_t *hdr, ssize_t n, const struct pc_crypt_key *k,
			uint32_t *chunk_size, char *msg, size_t msglen)
{
	uint8_t check[H_CHECK_LEN];
	char want[17], have[17];
	int ret;

	if (n == 0)
		return pc_errf(msg, msglen, -CAPTURE_E_FORMAT,
			       "not an encrypted capture: empty file");
	if (memcmp(hdr, PC_CRYPT_MAGIC, PC_MIN((size_t)n, (size_t)PC_CRYPT_MAGIC_LEN)) != 0)
		return pc_errf(msg, msglen, -CAPTURE_E_FORMAT,
			       "not an encrypted capture (no jcap container magic)");
	if (n < PC_CRYPT_HDR_LEN)
		return pc_errf(msg, msglen, -CAPTURE_E_TRUNCATED,
			       "truncated: file ends inside the %d-byte header (%zd bytes)",
			       PC_CRYPT_HDR_LEN, n);
	ret = header_check(hdr, check);
	if (ret < 0)
		return pc_errf(msg, msglen, ret, "cryptographic library error");
	if (memcmp(check, hdr + H_CHECK, H_CHECK_LEN) != 0)
		return pc_errf(msg, msglen, -CAPTURE_E_AUTH,
			       "damaged: container header checksum mismatch");
	if (hdr[H_VERSION] != PC_CRYPT_VERSION)
		return pc_errf(msg, msglen, -CAPTURE_E_FORMAT,
			       "unsupported container version %u (this reader knows %u)",
			       hdr[H_VERSION], PC_CRYPT_VERSION);
	if (!cipher_of(hdr[H_CIPHER]) || hdr[H_KDF] != PC_CRYPT_KDF_HKDF_SHA256 ||
	    hdr[H_RESERVED] != 0)
		return pc_errf(msg, msglen, -CAPTURE_E_FORMAT,
			       "unsupported cipher %u or key derivation %u", hdr[H_CIPHER],
			       hdr[H_KDF]);
	*chunk_size = get_be32(hdr + H_CHUNK);
	if (!*chunk_size || *chunk_size > PC_CRYPT_CHUNK_MAX)
		return pc_errf(msg, msglen, -CAPTURE_E_FORMAT, "unsupported chunk size %u",
			       *chunk_size);
	if (memcmp(hdr + H_KEYID, k->key_id, 8) != 0) {
		hex8(want, hdr + H_KEYID);
		hex8(have, k->key_id);
		return pc_errf(msg, msglen, -CAPTURE_E_WRONG_KEY,
			       "wrong key: encrypted under key id %s, the key given has id %s",
			       want, have);
	}
	return 0;
}

int pc_crypt_reader_open(struct pc_crypt_reader **out, int fd, const struct pc_crypt_key *k,
			 char *err, size_t errlen)
{
	uint8_t hdr[PC_CRYPT_HDR_LEN];
	struct pc_crypt_reader *r;
	uint32_t chunk_size = 0;
	char msg[256] = "";
	ssize_t n;
	int ret;

	*out = NULL;
	n = pc_read_full(fd, hdr, sizeof(hdr));
	if (n < 0)
		return pc_errf(err, errlen, (int)n, "read error: %s", capture_strerror((int)n));
	ret = header_parse(hdr, n, k, &chunk_size, msg, sizeof(msg));
	if (ret < 0)
		return pc_errf(err, errlen, ret, "%s", msg);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->chunk_size = chunk_size;
	r->ct = malloc((size_t)chunk_size + PC_CRYPT_TAG_LEN);
	r->pt = malloc(chunk_size);
	ret = -ENOMEM;
	if (!r->ct || !r->pt)
		goto err_free;
	ret = pc_aead_create(&r->aead, k, hdr, false);
	if (ret < 0) {
		pc_errf(err, errlen, ret, "%s", capture_strerror(ret));
		goto err_free;
	}
	*out = r;
	return 0;

err_free:
	free(r->ct);
	free(r->pt);
	free(r);
	return ret;
}

/* Read, check and decrypt the next chunk into r->pt. 0, or < 0 with the
 * reason in r->msg (the caller makes it sticky). */
static int next_chunk(struct pc_crypt_reader *r)
{
	uint8_t ch[PC_CRYPT_CHUNK_HDR_LEN], extra;
	unsigned long long idx = r->idx;
	uint32_t word, len;
	ssize_t n;
	int ret;

	n = pc_read_full(r->fd, ch, sizeof(ch));
	if (n < 0)
		return pc_errf(r->msg, sizeof(r->msg), (int)n, "read error: %s",
			       capture_strerror((int)n));
	if (n == 0) {
		if (idx == 0)
			return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_TRUNCATED,
				       "truncated: no chunk after the header");
		return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_TRUNCATED,
			       "truncated: file ends after chunk %llu, its final chunk is missing",
			       idx - 1);
	}
	if (n < (ssize_t)sizeof(ch))
		return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_TRUNCATED,
			       "truncated: file ends inside the header of chunk %llu", idx);
	word = get_be32(ch);
	if (get_be32(ch + 4) != pc_crypt_crc32(ch, 4))
		return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_AUTH,
			       "damaged: chunk %llu header checksum mismatch", idx);
	len = word & ~PC_CRYPT_FINAL;
	if (len > r->chunk_size || (!(word & PC_CRYPT_FINAL) && len == 0))
		return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_AUTH,
			       "damaged: chunk %llu has invalid length %u", idx, len);
	n = pc_read_full(r->fd, r->ct, (size_t)len + PC_CRYPT_TAG_LEN);
	if (n < 0)
		return pc_errf(r->msg, sizeof(r->msg), (int)n, "read error: %s",
			       capture_strerror((int)n));
	if ((size_t)n < (size_t)len + PC_CRYPT_TAG_LEN)
		return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_TRUNCATED,
			       "truncated: file ends inside chunk %llu (%zd of %u bytes)", idx, n,
			       len + PC_CRYPT_TAG_LEN);
	ret = pc_aead_open(r->aead, r->idx, word, r->ct, r->pt);
	if (ret == -CAPTURE_E_AUTH)
		return pc_errf(r->msg, sizeof(r->msg), ret,
			       "damaged: chunk %llu failed authentication (altered, reordered or "
			       "foreign data)",
			       idx);
	if (ret < 0)
		return pc_errf(r->msg, sizeof(r->msg), ret, "decryption error: %s",
			       capture_strerror(ret));
	if (word & PC_CRYPT_FINAL) {
		n = pc_read_full(r->fd, &extra, 1);
		if (n < 0)
			return pc_errf(r->msg, sizeof(r->msg), (int)n, "read error: %s",
				       capture_strerror((int)n));
		if (n > 0) {
			OPENSSL_cleanse(r->pt, len);
			return pc_errf(r->msg, sizeof(r->msg), -CAPTURE_E_AUTH,
				       "damaged: data follows the final chunk %llu", idx);
		}
		r->done = true;
	}
	r->idx++;
	r->pt_len = len;
	r->pt_off = 0;
	return 0;
}

ssize_t pc_crypt_reader_read(struct pc_crypt_reader *r, void *buf, size_t len)
{
	size_t n;
	int ret;

	while (r->pt_off == r->pt_len) {
		if (r->err)
			return r->err;
		if (r->done)
			return 0;
		ret = next_chunk(r);
		if (ret < 0) {
			r->err = ret; /* once failed, always failed */
			return ret;
		}
	}
	n = PC_MIN(len, r->pt_len - r->pt_off);
	memcpy(buf, r->pt + r->pt_off, n);
	r->pt_off += n;
	return (ssize_t)n;
}

const char *pc_crypt_reader_error(const struct pc_crypt_reader *r)
{
	return r && r->msg[0] ? r->msg : "no error";
}

void pc_crypt_reader_close(struct pc_crypt_reader *r)
{
	if (!r)
		return;
	pc_aead_destroy(r->aead);
	if (r->pt)
		OPENSSL_cleanse(r->pt, r->chunk_size);
	free(r->pt);
	free(r->ct);
	free(r);
}

/* ------------------------------------------------------------ decrypting */

CAPTURE_API int capture_decrypt_file(const char *key_file, const char *in, const char *out,
				     char *err, size_t errlen)
{
	struct pc_crypt_reader *r = NULL;
	struct pc_crypt_key key;
	char tmp[PATH_MAX], msg[256];
	const char *slash;
	uint8_t *buf = NULL;
	int ifd, ofd, ret;
	ssize_t n;

	if (!key_file || !in || !out)
		return pc_errf(err, errlen, -EINVAL, "missing key file, input or output");
	ret = pc_crypt_key_load(&key, key_file, CAPTURE_CIPHER_AES_256_GCM, msg, sizeof(msg));
	if (ret < 0)
		return pc_errf(err, errlen, ret, "%s", msg);
	ifd = open(in, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		ret = -errno;
		pc_errf(err, errlen, ret, "%s: cannot open: %s", in, capture_strerror(ret));
		goto out_key;
	}
	ret = pc_crypt_reader_open(&r, ifd, &key, msg, sizeof(msg));
	if (ret < 0) {
		pc_errf(err, errlen, ret, "%s: %s", in, msg);
		goto out_in;
	}
	/* Plaintext goes to a hidden temporary next to @out, renamed only once
	 * the final chunk has been authenticated. */
	slash = strrchr(out, '/');
	if (slash)
		ret = snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - out), out,
			       slash + 1);
	else
		ret = snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", out);
	if (ret < 0 || (size_t)ret >= sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		pc_errf(err, errlen, ret, "%s: name too long", out);
		goto out_reader;
	}
	ofd = mkostemp(tmp, O_CLOEXEC);
	if (ofd < 0) {
		ret = -errno;
		pc_errf(err, errlen, ret, "%s: cannot create: %s", out, capture_strerror(ret));
		goto out_reader;
	}
	buf = malloc(PC_CRYPT_CHUNK_DEFAULT);
	if (!buf) {
		ret = -ENOMEM;
		pc_errf(err, errlen, ret, "out of memory");
		goto out_tmp;
	}
	for (;;) {
		n = pc_crypt_reader_read(r, buf, PC_CRYPT_CHUNK_DEFAULT);
		if (n < 0) {
			ret = (int)n;
			pc_errf(err, errlen, ret, "%s: %s", in, pc_crypt_reader_error(r));
			goto out_tmp;
		}
		if (n == 0)
			break;
		ret = pc_write_all(ofd, buf, (size_t)n);
		if (ret < 0) {
			pc_errf(err, errlen, ret, "%s: write failed: %s", out,
				capture_strerror(ret));
			goto out_tmp;
		}
	}
	if (fsync(ofd) < 0 || close(ofd) < 0) {
		ret = -errno;
		ofd = -1;
		pc_errf(err, errlen, ret, "%s: write failed: %s", out, capture_strerror(ret));
		goto out_tmp;
	}
	ofd = -1;
	if (rename(tmp, out) < 0) {
		ret = -errno;
		pc_errf(err, errlen, ret, "%s: cannot rename into place: %s", out,
			capture_strerror(ret));
		goto out_tmp;
	}
	ret = 0;
	goto out_reader;

out_tmp:
	if (ofd >= 0)
		close(ofd);
	unlink(tmp);
out_reader:
	free(buf);
	pc_crypt_reader_close(r);
out_in:
	close(ifd);
out_key:
	pc_crypt_key_wipe(&key);
	return ret;
}
