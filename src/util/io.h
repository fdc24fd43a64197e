/* SPDX-License-Identifier: BSD-3-Clause */
/* Blocking file I/O that finishes the job or says why not. */
#ifndef PC_UTIL_IO_H
#define PC_UTIL_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all @len bytes (retrying short writes and EINTR): 0 or -errno. */
int pc_write_all(int fd, const void *buf, size_t len);

/* Read until @len bytes are in or the file ends (retrying short reads and
 * EINTR): the count, below @len only at end of file, or -errno. */
ssize_t pc_read_full(int fd, void *buf, size_t len);

#endif
