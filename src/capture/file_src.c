/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compressed offline input: a thread reads the compressed bytes, runs the
 * decoder (zlib for gzip, libzstd, liblz4's frame format) and fills a ring of
 * NCHUNK chunks; the file reader copies out of the oldest full chunk. The
 * lock is taken once per chunk (1 MiB), never per packet. Concatenated
 * streams (gzip members, zstd and lz4 frames) are read one after another, as
 * their command-line tools do. A stream that stops inside a frame is
 * truncated; a decoder error is damage; both are reported after every byte
 * decoded before them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HAVE_LZ4
#include <lz4frame.h>
#endif

#include "capture/file_src.h"
#include "packet_capture.h"

#define NCHUNK 4
#define CHUNK (1u << 20)
#define IN_CHUNK (256u << 10)
#define STEP_IN (16u << 10)
#define POLL_MS 100 /* a pipe's reader looks for a stop this often */

struct pc_zsrc {
	enum pc_zkind kind;
	int fd;
	bool pipe;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv_data, cv_space;
	uint8_t *chunk[NCHUNK];
	size_t len[NCHUNK];
	unsigned rd, wr, full; /* consumer's chunk, producer's, chunks full */
	size_t rd_off;	       /* consumed of chunk[rd] */
	bool done;	       /* producer finished (err says how) */
	bool stop;	       /* close asked the producer to end */
	int err;
	char msg[256];
	uint64_t raw_pos;
	const uint8_t *prefix;
	size_t plen;
	uint8_t *in;
	bool mid; /* inside a gzip member / zstd or lz4 frame */
#ifdef HAVE_ZLIB
	z_stream zs;
#endif
#ifdef HAVE_ZSTD
	ZSTD_DStream *zd;
#endif
#ifdef HAVE_LZ4
	LZ4F_dctx *lz;
#endif
};

enum pc_zkind pc_zsrc_detect(const uint8_t *h, size_t n)
{
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return PC_Z_GZIP;
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return PC_Z_ZSTD;
	if (n >= 4 && h[0] == 0x04 && h[1] == 0x22 && h[2] == 0x4d && h[3] == 0x18)
		return PC_Z_LZ4;
	if (n >= 4 && h[0] == 0xfd && h[1] == '7' && h[2] == 'z' && h[3] == 'X')
		return PC_Z_XZ;
	if (n >= 4 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h' && h[3] >= '1' && h[3] <= '9')
		return PC_Z_BZIP2;
	return PC_Z_NONE;
}

const char *pc_zsrc_name(enum pc_zkind k)
{
	static const char *const names[] = { "none", "gzip", "zstd", "lz4", "xz", "bzip2" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* ---------------------------------------------------------------- decoders */

/* One decoder step: consume from @in (@inlen), produce into @out (@outlen);
 * *@used and *@made say how much. z->mid: a stream is open. 0 or -err. */
static int step(struct pc_zsrc *z, const uint8_t *in, size_t inlen, size_t *used, uint8_t *out,
		size_t outlen, size_t *made)
{
	switch (z->kind) {
#ifdef HAVE_ZLIB
	case PC_Z_GZIP: {
		int rc;

		z->zs.next_in = (Bytef *)(uintptr_t)in;
		z->zs.avail_in = (uInt)inlen;
		z->zs.next_out = out;
		z->zs.avail_out = (uInt)outlen;
		rc = inflate(&z->zs, Z_NO_FLUSH);
		*used = inlen - z->zs.avail_in;
		*made = outlen - z->zs.avail_out;
		if (rc == Z_STREAM_END) {
			z->mid = false;
			inflateReset(&z->zs); /* the next member, if any */
			return 0;
		}
		if (rc == Z_OK) {
			z->mid = z->mid || *used || *made;
			return 0;
		}
		if (rc == Z_BUF_ERROR)
			return 0; /* nothing to do without more input */
		snprintf(z->msg, sizeof(z->msg), "gzip stream damaged: %s",
			 z->zs.msg ? z->zs.msg : "inflate error");
		return -CAPTURE_E_FORMAT;
	}
#endif
#ifdef HAVE_ZSTD
	case PC_Z_ZSTD: {
		ZSTD_inBuffer ib = { in, inlen, 0 };
		ZSTD_outBuffer ob = { out, outlen, 0 };
		size_t r = ZSTD_decompressStream(z->zd, &ob, &ib);

		*used = ib.pos;
		*made = ob.pos;
		if (ZSTD_isError(r)) {
			snprintf(z->msg, sizeof(z->msg), "zstd stream damaged: %s",
				 ZSTD_getErrorName(r));
			return -CAPTURE_E_FORMAT;
		}
		if (*used || *made)
			z->mid = r != 0;
		return 0;
	}
#endif
#ifdef HAVE_LZ4
	case PC_Z_LZ4: {
		size_t d = outlen, s = inlen;
		size_t r = LZ4F_decompress(z->lz, out, &d, in, &s, NULL);

		*used = s;
		*made = d;
		if (LZ4F_isError(r)) {
			snprintf(z->msg, sizeof(z->msg), "lz4 stream damaged: %s",
				 LZ4F_getErrorName(r));
			return -CAPTURE_E_FORMAT;
		}
		if (*used || *made)
			z->mid = r != 0;
		return 0;
	}
#endif
	default:
		snprintf(z->msg, sizeof(z->msg), "no %s decoder", pc_zsrc_name(z->kind));
		return -CAPTURE_E_FORMAT;
	}
}

static int decoder_init(struct pc_zsrc *z, char *err, size_t errlen)
{
	switch (z->kind) {
#ifdef HAVE_ZLIB
	case PC_Z_GZIP:
		if (inflateInit2(&z->zs, 15 + 16) != Z_OK)
			break;
		return 0;
#endif
#ifdef HAVE_ZSTD
	case PC_Z_ZSTD:
		z->zd = ZSTD_createDStream();
		if (!z->zd || ZSTD_isError(ZSTD_initDStream(z->zd)))
			break;
		return 0;
#endif
#ifdef HAVE_LZ4
	case PC_Z_LZ4:
		if (LZ4F_isError(LZ4F_createDecompressionContext(&z->lz, LZ4F_VERSION)))
			break;
		return 0;
#endif
	case PC_Z_XZ:
	case PC_Z_BZIP2:
		snprintf(err, errlen,
			 "%s-compressed input is not read directly (gzip, zstd and lz4 are): "
			 "decompress it first",
			 pc_zsrc_name(z->kind));
		return -CAPTURE_E_FORMAT;
	default:
		snprintf(err, errlen,
			 "%s-compressed input: this build has no %s library (rebuild with "
			 "it installed, or decompress the file first)",
			 pc_zsrc_name(z->kind),
			 z->kind == PC_Z_GZIP	? "zlib"
			 : z->kind == PC_Z_ZSTD ? "libzstd"
						: "liblz4");
		return -CAPTURE_E_FORMAT;
	}
	snprintf(err, errlen, "cannot start the %s decoder (out of memory?)",
		 pc_zsrc_name(z->kind));
	return -ENOMEM;
}

static void decoder_free(struct pc_zsrc *z)
{
#ifdef HAVE_ZLIB
	if (z->kind == PC_Z_GZIP)
		inflateEnd(&z->zs);
#endif
#ifdef HAVE_ZSTD
	ZSTD_freeDStream(z->zd);
#endif
#ifdef HAVE_LZ4
	if (z->lz)
		LZ4F_freeDecompressionContext(z->lz);
#endif
}

/* ---------------------------------------------------------------- producer */

/* Compressed bytes into z->in: the count, 0 at the end, -err, or -ECANCELED
 * when close asked the thread to stop. */
static ssize_t read_in(struct pc_zsrc *z)
{
	if (z->plen) {
		size_t n = z->plen < IN_CHUNK ? z->plen : IN_CHUNK;

		memcpy(z->in, z->prefix, n);
		z->prefix += n;
		z->plen -= n;
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t n;

		if (__atomic_load_n(&z->stop, __ATOMIC_RELAXED))
			return -ECANCELED;
		if (z->pipe) {
			struct pollfd pfd = { .fd = z->fd, .events = POLLIN };

			if (poll(&pfd, 1, POLL_MS) == 0)
				continue;
		}
		n = read(z->fd, z->in, IN_CHUNK);
		if (n >= 0) {
			__atomic_add_fetch(&z->raw_pos, (uint64_t)n, __ATOMIC_RELAXED);
			return n;
		}
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

/* The next empty chunk, waiting for the reader to free one; NULL on stop. */
static uint8_t *acquire(struct pc_zsrc *z)
{
	uint8_t *c = NULL;

	pthread_mutex_lock(&z->mu);
	while (z->full == NCHUNK && !z->stop)
		pthread_cond_wait(&z->cv_space, &z->mu);
	if (!z->stop)
		c = z->chunk[z->wr];
	pthread_mutex_unlock(&z->mu);
	return c;
}

static void publish(struct pc_zsrc *z, size_t len)
{
	pthread_mutex_lock(&z->mu);
	z->len[z->wr] = len;
	z->wr = (z->wr + 1) % NCHUNK;
	__atomic_add_fetch(&z->full, 1, __ATOMIC_RELEASE); /* read unlocked by the reader */
	pthread_cond_signal(&z->cv_data);
	pthread_mutex_unlock(&z->mu);
}

static void finish(struct pc_zsrc *z, int err)
{
	pthread_mutex_lock(&z->mu);
	z->err = err;
	z->done = true;
	pthread_cond_broadcast(&z->cv_data);
	pthread_mutex_unlock(&z->mu);
}

static void *producer(void *arg)
{
	struct pc_zsrc *z = arg;
	uint8_t *out = acquire(z);
	size_t olen = 0, ipos = 0, ilen = 0;
	bool in_eof = false;
	int rc = 0;

	while (out) {
		size_t used = 0, made = 0;

		if (ipos == ilen && !in_eof) {
			ssize_t n = read_in(z);

			if (n < 0) {
				rc = (int)n;
				if (n != -ECANCELED)
					snprintf(z->msg, sizeof(z->msg), "read error: %s",
						 strerror((int)-n));
				break;
			}
			in_eof = n == 0;
			ilen = (size_t)n;
			ipos = 0;
		}
		/* modest steps: a decoder that fails hands back what it made in
		 * the steps before (zstd and lz4 report none of a failing call's) */
		rc = step(z, z->in + ipos, ilen - ipos < STEP_IN ? ilen - ipos : STEP_IN, &used,
			  out + olen, CHUNK - olen, &made);
		ipos += used;
		olen += made; /* what came before an error is read first */
		if (rc < 0)
			break;
		if (olen == CHUNK) {
			publish(z, olen);
			out = acquire(z);
			olen = 0;
			continue;
		}
		if (ipos == ilen && in_eof && !made)
			break; /* input gone and the decoder drained */
		if (!used && !made && ipos < ilen) {
			snprintf(z->msg, sizeof(z->msg), "%s decoder made no progress",
				 pc_zsrc_name(z->kind));
			rc = -CAPTURE_E_FORMAT;
			break;
		}
	}
	if (out && olen)
		publish(z, olen);
	if (!rc && out && z->mid) {
		snprintf(z->msg, sizeof(z->msg),
			 "%s stream truncated: it ends inside a frame after %llu compressed bytes",
			 pc_zsrc_name(z->kind),
			 (unsigned long long)__atomic_load_n(&z->raw_pos, __ATOMIC_RELAXED));
		rc = -CAPTURE_E_TRUNCATED;
	}
	finish(z, out ? rc : -ECANCELED);
	return NULL;
}

/* ---------------------------------------------------------------- consumer */

int pc_zsrc_open(struct pc_zsrc **out, int fd, bool pipe, enum pc_zkind k, const void *prefix,
		 size_t plen, char *err, size_t errlen)
{
	struct pc_zsrc *z = calloc(1, sizeof(*z));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!z)
		return -ENOMEM;
	z->kind = k;
	z->fd = fd;
	z->pipe = pipe;
	rc = decoder_init(z, err, errlen);
	if (rc < 0) {
		free(z);
		return rc;
	}
	/* the prefix is copied: the caller's buffer is reused at once */
	z->in = malloc(IN_CHUNK + plen);
	for (unsigned i = 0; i < NCHUNK; i++)
		z->chunk[i] = malloc(CHUNK);
	for (unsigned i = 0; i < NCHUNK; i++)
		if (!z->chunk[i])
			z->in = (free(z->in), NULL);
	if (!z->in) {
		snprintf(err, errlen, "out of memory for the %s decoder", pc_zsrc_name(k));
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(z->in + IN_CHUNK, prefix, plen);
	z->prefix = z->in + IN_CHUNK;
	z->plen = plen;
	z->raw_pos = plen;
	pthread_mutex_init(&z->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&z->cv_data, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&z->cv_space, NULL);
	rc = pthread_create(&z->th, NULL, producer, z);
	if (rc) {
		snprintf(err, errlen, "cannot start the %s thread: %s", pc_zsrc_name(k),
			 strerror(rc));
		pthread_cond_destroy(&z->cv_data);
		pthread_cond_destroy(&z->cv_space);
		pthread_mutex_destroy(&z->mu);
		rc = -rc;
		goto fail;
	}
	*out = z;
	return 0;
fail:
	for (unsigned i = 0; i < NCHUNK; i++)
		free(z->chunk[i]);
	free(z->in);
	decoder_free(z);
	free(z);
	return rc;
}

/* A full chunk at z->rd, waiting until @deadline_ns: 1, 0 at the end or
 * an error (z->err), or -EAGAIN. */
static int wait_chunk(struct pc_zsrc *z, uint64_t deadline_ns)
{
	int rc = 1;

	pthread_mutex_lock(&z->mu);
	while (!z->full && !z->done) {
		struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000u),
				       .tv_nsec = (long)(deadline_ns % 1000000000u) };

		if (deadline_ns == UINT64_MAX) {
			pthread_cond_wait(&z->cv_data, &z->mu);
		} else if (pthread_cond_timedwait(&z->cv_data, &z->mu, &ts) == ETIMEDOUT) {
			if (!z->full && !z->done)
				rc = -EAGAIN;
			break;
		}
	}
	if (rc == 1 && !z->full)
		rc = 0;
	pthread_mutex_unlock(&z->mu);
	return rc;
}

ssize_t pc_zsrc_read(struct pc_zsrc *z, void *buf, size_t len, uint64_t deadline_ns)
{
	size_t got = 0;

	while (got < len) {
		size_t n;

		/* z->full is only raised by the producer: a stale 0 just means
		 * one more look under the lock */
		if (!__atomic_load_n(&z->full, __ATOMIC_ACQUIRE)) {
			int rc;

			if (got)
				break; /* hand over what is here; wait next time */
			rc = wait_chunk(z, deadline_ns);
			if (rc == -EAGAIN)
				return rc;
			if (rc == 0)
				return z->err;
		}
		n = z->len[z->rd] - z->rd_off;
		if (n > len - got)
			n = len - got;
		memcpy((uint8_t *)buf + got, z->chunk[z->rd] + z->rd_off, n);
		got += n;
		z->rd_off += n;
		if (z->rd_off == z->len[z->rd]) {
			pthread_mutex_lock(&z->mu);
			z->rd = (z->rd + 1) % NCHUNK;
			z->rd_off = 0;
			__atomic_sub_fetch(&z->full, 1, __ATOMIC_RELAXED);
			pthread_cond_signal(&z->cv_space);
			pthread_mutex_unlock(&z->mu);
		}
	}
	return (ssize_t)got;
}

const char *pc_zsrc_error(const struct pc_zsrc *z)
{
	return z->msg[0] ? z->msg : "decompression failed";
}

uint64_t pc_zsrc_raw_pos(const struct pc_zsrc *z)
{
	return __atomic_load_n(&z->raw_pos, __ATOMIC_RELAXED);
}

void pc_zsrc_close(struct pc_zsrc *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	__atomic_store_n(&z->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&z->cv_space);
	pthread_mutex_unlock(&z->mu);
	pthread_join(z->th, NULL);
	pthread_cond_destroy(&z->cv_data);
	pthread_cond_destroy(&z->cv_space);
	pthread_mutex_destroy(&z->mu);
	for (unsigned i = 0; i < NCHUNK; i++)
		free(z->chunk[i]);
	free(z->in);
	decoder_free(z);
	free(z);
}
