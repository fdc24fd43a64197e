/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compressed offline input (gzip, zstd, lz4 frame), decompressed on a thread
 * of its own that feeds the file reader through a bounded buffer of chunks.
 */
#ifndef PC_FILE_SRC_H
#define PC_FILE_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum pc_zkind {
	PC_Z_NONE,
	PC_Z_GZIP,
	PC_Z_ZSTD,
	PC_Z_LZ4,
	PC_Z_XZ,   /* recognised to be refused clearly */
	PC_Z_BZIP2 /* likewise */
};

/* The compression @head (the input's first @n bytes, 4 are enough) is in,
 * by its magic bytes; PC_Z_NONE for anything else. */
enum pc_zkind pc_zsrc_detect(const uint8_t *head, size_t n);

/* "gzip", "zstd", "lz4", "xz", "bzip2" */
const char *pc_zsrc_name(enum pc_zkind k);

struct pc_zsrc;

/*
 * Start decompressing @fd (the caller's; open until pc_zsrc_close) on a
 * thread, beginning with the @plen bytes at @prefix already read from it.
 * @pipe: @fd is non-blocking and read after poll(). 0, or -CAPTURE_E_FORMAT
 * (a format this build cannot read: the message in @err) or -err.
 */
int pc_zsrc_open(struct pc_zsrc **out, int fd, bool pipe, enum pc_zkind k, const void *prefix,
		 size_t plen, char *err, size_t errlen);

/*
 * Up to @len decompressed bytes into @buf, waiting for them until
 * @deadline_ns (pc_mono_ns(); UINT64_MAX: as long as it takes). Returns the
 * count, 0 at the end of the stream, -EAGAIN when the deadline passed with
 * nothing, or -err once everything before the error was read (the message
 * from pc_zsrc_error()).
 */
ssize_t pc_zsrc_read(struct pc_zsrc *z, void *buf, size_t len, uint64_t deadline_ns);
const char *pc_zsrc_error(const struct pc_zsrc *z);

/* Compressed bytes the thread has read so far (for progress). */
uint64_t pc_zsrc_raw_pos(const struct pc_zsrc *z);

/* Stop the thread and free; the fd is left open. NULL is fine. */
void pc_zsrc_close(struct pc_zsrc *z);

#endif
