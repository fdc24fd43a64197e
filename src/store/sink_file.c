/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * File sink: the end of the storage chain. Buffers writes and hands them to
 * the kernel in large pieces; the first write error sticks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/sink.h"
#include "util/compiler.h"
#include "util/io.h"
#include "util/log.h"

#define FILE_BUF (256u << 10)
#define DIRECT_MIN (64u << 10)

struct sink_file {
	struct pc_sink s; /* first: the chain sees only this */
	int fd;
	int err;
	size_t used;
	uint8_t buf[FILE_BUF];
};

static int file_flush(struct pc_sink *s)
{
	struct sink_file *f = (struct sink_file *)s;

	if (f->err)
		return f->err;
	if (f->used) {
		f->err = pc_write_all(f->fd, f->buf, f->used);
		f->used = 0;
	}
	return f->err;
}

static int file_write(struct pc_sink *s, const void *buf, size_t len)
{
	struct sink_file *f = (struct sink_file *)s;
	int ret;

	if (f->err)
		return f->err;
	/* big pieces (sealed 64 KiB chunks) go straight out: copying them into
	 * the buffer first would cost a pass over the data for nothing */
	if (f->used + len > FILE_BUF || len >= DIRECT_MIN) {
		ret = file_flush(s);
		if (ret < 0)
			return ret;
	}
	if (len >= DIRECT_MIN) {
		f->err = pc_write_all(f->fd, buf, len);
		if (f->err)
			return f->err;
	} else {
		memcpy(f->buf + f->used, buf, len);
		f->used += len;
	}
	s->bytes += len;
	return 0;
}

static int file_close(struct pc_sink *s)
{
	struct sink_file *f = (struct sink_file *)s;
	int ret = file_flush(s);

	if (close(f->fd) < 0 && !ret)
		ret = -errno;
	free(f);
	return ret;
}

static const struct pc_sink_ops file_ops = {
	.write = file_write,
	.flush = file_flush,
	.close = file_close,
};

int pc_sink_file_open(struct pc_sink **out, const char *path, char *err, size_t errlen)
{
	struct sink_file *f;
	int ret;

	*out = NULL;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	memset(&f->s, 0, sizeof(f->s));
	f->s.ops = &file_ops;
	f->err = 0;
	f->used = 0;
	f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (f->fd < 0) {
		ret = -errno;
		pc_errf(err, errlen, ret, "%s: cannot create: %s", path, capture_strerror(ret));
		free(f);
		return ret;
	}
	*out = &f->s;
	return 0;
}
