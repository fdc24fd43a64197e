/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

#include "util/log.h"

void pc_vlogf(capture_log_fn fn, void *ctx, int max_level, int level, const char *fmt, va_list ap)
{
	char msg[PC_LOG_MAX];

	if (!fn || level > max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fn(ctx, level, msg);
}

void pc_logf(capture_log_fn fn, void *ctx, int max_level, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vlogf(fn, ctx, max_level, level, fmt, ap);
	va_end(ap);
}

int pc_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}
