/* SPDX-License-Identifier: BSD-3-Clause */
/* Blocking file I/O that finishes the job or says why not. */
#ifndef PC_UTIL_IO_H
#define PC_UTIL_IO_H

#include <stddef.h>

/* Write all @len bytes (retrying short writes and EINTR): 0 or -errno. */
int pc_write_all(int fd, const void *buf, size_t len);

#endif
