/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Formatting for the user's log callback and for caller-owned error buffers.
 * Every module logs through these, so a level filter or a message size is
 * decided once.
 */
#ifndef PC_UTIL_LOG_H
#define PC_UTIL_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "packet_capture.h"
#include "util/compiler.h"

/* Longest message handed to a log callback (longer ones are cut). */
#define PC_LOG_MAX 768

/* Format and hand to @fn when @level <= @max_level; NULL @fn: nothing. */
void pc_logf(capture_log_fn fn, void *ctx, int max_level, int level, const char *fmt, ...)
	pc_printf(5, 6);
void pc_vlogf(capture_log_fn fn, void *ctx, int max_level, int level, const char *fmt, va_list ap)
	pc_printf(5, 0);

/* Format into @err (when non-NULL and @errlen > 0) and return @rc, so an
 * error path reads `return pc_errf(err, errlen, -EINVAL, "...")`. */
int pc_errf(char *err, size_t errlen, int rc, const char *fmt, ...) pc_printf(4, 5);

#endif
