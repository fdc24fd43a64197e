/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encrypting sink: writes the container header, then seals the byte stream
 * in chunks of at most chunk_size plaintext bytes, numbered from 0; close
 * seals the last (possibly empty) chunk with the final flag. A full buffer is
 * sealed only when more data arrives, so the final chunk is never missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"
#include "store/sink.h"

struct sink_crypt {
	struct pc_sink s;
	struct pc_aead *aead;
	uint32_t chunk_size;
	uint64_t idx; /* next chunk number */
	int err;
	size_t used;  /* plaintext waiting in pt */
	uint8_t *pt;  /* chunk_size */
	uint8_t *rec; /* one sealed chunk record */
};

static int seal(struct sink_crypt *c, bool final)
{
	int n;

	if (c->err)
		return c->err;
	n = pc_aead_seal(c->aead, c->idx, final, c->pt, c->used, c->rec);
	if (n < 0)
		return c->err = n;
	c->idx++;
	c->used = 0;
	c->err = pc_sink_write(c->s.next, c->rec, (size_t)n);
	return c->err;
}

static int crypt_write(struct pc_sink *s, const void *buf, size_t len)
{
	struct sink_crypt *c = (struct sink_crypt *)s;
	const uint8_t *p = buf;
	size_t n;
	int ret;

	if (c->err)
		return c->err;
	while (len) {
		if (c->used == c->chunk_size) {
			ret = seal(c, false);
			if (ret < 0)
				return ret;
		}
		n = PC_MIN(len, c->chunk_size - c->used);
		memcpy(c->pt + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		s->bytes += n;
	}
	return 0;
}

/* Seal what is pending as a short (non-final) chunk so it reaches the disk. */
static int crypt_flush(struct pc_sink *s)
{
	struct sink_crypt *c = (struct sink_crypt *)s;
	int ret;

	if (c->used) {
		ret = seal(c, false);
		if (ret < 0)
			return ret;
	}
	return c->err ? c->err : pc_sink_flush(s->next);
}

static void crypt_free(struct sink_crypt *c)
{
	pc_aead_destroy(c->aead);
	if (c->pt)
		explicit_bzero(c->pt, c->chunk_size); /* plaintext: not left in the heap */
	free(c->pt);
	free(c->rec);
	free(c);
}

static int crypt_close(struct pc_sink *s)
{
	struct sink_crypt *c = (struct sink_crypt *)s;
	int ret = seal(c, true);
	int ret2 = pc_sink_close(s->next);

	crypt_free(c);
	return ret < 0 ? ret : ret2;
}

static const struct pc_sink_ops crypt_ops = {
	.write = crypt_write,
	.flush = crypt_flush,
	.close = crypt_close,
};

int pc_sink_crypt_create(struct pc_sink **out, struct pc_sink *next, const struct pc_crypt_key *k,
			 uint32_t chunk_size, char *err, size_t errlen)
{
	uint8_t hdr[PC_CRYPT_HDR_LEN];
	struct sink_crypt *c;
	int ret;

	*out = NULL;
	if (!chunk_size)
		chunk_size = PC_CRYPT_CHUNK_DEFAULT;
	ret = -EINVAL;
	if (chunk_size > PC_CRYPT_CHUNK_MAX)
		goto err_next;
	ret = -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto err_next;
	c->s.ops = &crypt_ops;
	c->s.next = next;
	c->chunk_size = chunk_size;
	c->pt = malloc(chunk_size);
	c->rec = malloc((size_t)chunk_size + PC_CRYPT_CHUNK_HDR_LEN + PC_CRYPT_TAG_LEN);
	if (!c->pt || !c->rec)
		goto err_free;
	ret = pc_crypt_header_make(hdr, k, chunk_size);
	if (ret < 0)
		goto err_free;
	ret = pc_aead_create(&c->aead, k, hdr, true);
	if (ret < 0)
		goto err_free;
	ret = pc_sink_write(next, hdr, sizeof(hdr));
	if (ret < 0)
		goto err_free;
	*out = &c->s;
	return 0;

err_free:
	crypt_free(c);
err_next:
	if (err && errlen)
		snprintf(err, errlen, "cannot start encryption: %s", capture_strerror(ret));
	pc_sink_close(next);
	return ret;
}
