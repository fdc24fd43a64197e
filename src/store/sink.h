/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to src/store: the sink chain (pcap framing -> encryption -> file)
 * and the encrypted container's primitives. Layout in docs/STORAGE.md.
 * No OpenSSL type appears here: crypt.c is the only file that wraps it.
 */
#ifndef PC_STORE_SINK_H
#define PC_STORE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- container constants (docs/STORAGE.md) ---- */
#define PC_CRYPT_MAGIC "\x89JCAPENC" /* 8 bytes */
#define PC_CRYPT_MAGIC_LEN 8
#define PC_CRYPT_VERSION 1
#define PC_CRYPT_KDF_HKDF_SHA256 1
#define PC_CRYPT_HDR_LEN 64
#define PC_CRYPT_SALT_LEN 32
#define PC_CRYPT_CHUNK_HDR_LEN 8 /* u32 length|final, u32 CRC-32 of it */
#define PC_CRYPT_TAG_LEN 16
#define PC_CRYPT_FINAL 0x80000000u
#define PC_CRYPT_CHUNK_DEFAULT 65536u
#define PC_CRYPT_CHUNK_MAX (16u << 20)

/* Build a fresh header (random salt) for key @k and @chunk_size. */
int pc_crypt_header_make(uint8_t hdr[PC_CRYPT_HDR_LEN], const struct pc_crypt_key *k,
			 uint32_t chunk_size);

/* CRC-32 (IEEE 802.3, zlib's crc32) of @len bytes. */
uint32_t pc_crypt_crc32(const uint8_t *p, size_t len);

/* One file's AEAD state: per-file key and nonce prefix derived by HKDF. */
struct pc_aead;
int pc_aead_create(struct pc_aead **out, const struct pc_crypt_key *k,
		   const uint8_t hdr[PC_CRYPT_HDR_LEN], bool seal);
/* Seal @len bytes (<= chunk size) as chunk @idx into @out, which receives the
 * whole chunk record: PC_CRYPT_CHUNK_HDR_LEN + len + PC_CRYPT_TAG_LEN bytes.
 * Returns the record length or -CAPTURE_E_CRYPTO. */
int pc_aead_seal(struct pc_aead *a, uint64_t idx, bool final, const uint8_t *in, size_t len,
		 uint8_t *out);
/* Open chunk @idx: @word is its length word (with the final bit), @ct the
 * ciphertext followed by the tag. 0 and @pt filled, or -CAPTURE_E_AUTH. */
int pc_aead_open(struct pc_aead *a, uint64_t idx, uint32_t word, const uint8_t *ct, uint8_t *pt);
void pc_aead_destroy(struct pc_aead *a);

/* ---- sinks ---- */
struct pc_sink;

struct pc_sink_ops {
	int (*write)(struct pc_sink *s, const void *buf, size_t len);
	/* Push buffered data down the chain (crypt: seal a partial chunk). */
	int (*flush)(struct pc_sink *s);
	/* Finish (crypt: final chunk), close, free; closes the next sink too.
	 * Returns the first error met on the way down. */
	int (*close)(struct pc_sink *s);
};

struct pc_sink {
	const struct pc_sink_ops *ops;
	struct pc_sink *next; /* NULL at the file end of the chain */
	uint64_t bytes;	      /* bytes accepted by write */
};

static inline int pc_sink_write(struct pc_sink *s, const void *buf, size_t len)
{
	return s->ops->write(s, buf, len);
}

static inline int pc_sink_flush(struct pc_sink *s)
{
	return s->ops->flush(s);
}

static inline int pc_sink_close(struct pc_sink *s)
{
	return s ? s->ops->close(s) : 0;
}

/* Bytes that reached the end of the chain (the file). */
static inline uint64_t pc_sink_disk_bytes(const struct pc_sink *s)
{
	while (s->next)
		s = s->next;
	return s->bytes;
}

/* Create @path exclusively (mode 0640) behind a write buffer. */
int pc_sink_file_open(struct pc_sink **out, const char *path, char *err, size_t errlen);

/* Encrypting sink in front of @next; takes ownership of @next (closed on
 * close, and on failure here). @chunk_size 0: PC_CRYPT_CHUNK_DEFAULT. */
int pc_sink_crypt_create(struct pc_sink **out, struct pc_sink *next, const struct pc_crypt_key *k,
			 uint32_t chunk_size, char *err, size_t errlen);

#endif
