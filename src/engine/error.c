/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Errors and logging: the error name table (one X-macro list in the public
 * header generates it), the handle's last error, and the log callback.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "util/log.h"

/* capture_init's failures, per thread (there is no handle yet) */
static __thread char init_err[512];
/* what capture_last_error() returns: a copy taken under err_lock, so the
 * reader never sees a message half rewritten by another thread */
static __thread char last_err[sizeof(((struct capture *)0)->errmsg)];

char *pc_engine_init_err(size_t *len)
{
	*len = sizeof(init_err);
	return init_err;
}

void pc_log(struct capture *c, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_vlogf(c->cfg.log_fn, c->cfg.log_ctx, c->cfg.log_level, level, fmt, ap);
	va_end(ap);
}

int pc_engine_err(struct capture *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pthread_mutex_lock(&c->err_lock);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	pthread_mutex_unlock(&c->err_lock);
	va_end(ap);
	return rc;
}

CAPTURE_API const char *capture_last_error(const struct capture *c)
{
	struct capture *m = (struct capture *)c; /* the lock is not part of the value */

	if (!c)
		return init_err;
	pthread_mutex_lock(&m->err_lock);
	memcpy(last_err, c->errmsg, sizeof(last_err));
	pthread_mutex_unlock(&m->err_lock);
	return last_err;
}

CAPTURE_API const char *capture_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
#define CAPTURE_ERR_CASE(name, val, msg) \
	case val:                        \
		return msg;
		CAPTURE_ERRORS(CAPTURE_ERR_CASE)
#undef CAPTURE_ERR_CASE
	case 0:
		return "success";
	default:
		break;
	}
	/* strerror() is not thread-safe in general; glibc's table lookup via
	 * strerrordesc_np is, and never allocates. */
	{
		const char *s = strerrordesc_np(err);

		return s ? s : "unknown error";
	}
}

CAPTURE_API const char *capture_end_reason_name(int reason)
{
	static const char *const names[] = {
		[CAPTURE_END_ACTIVE_FLOW] = "active_flow", [CAPTURE_END_IDLE] = "idle",
		[CAPTURE_END_ACTIVE] = "active",	   [CAPTURE_END_END] = "end",
		[CAPTURE_END_EVICTED] = "evicted",	   [CAPTURE_END_SHUTDOWN] = "shutdown",
	};

	if (reason < 0 || reason >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[reason];
}

CAPTURE_API const char *capture_skip_name(int reason)
{
	static const char *const names[] = {
#define CAPTURE_SKIP_NAME(name, json) #json,
		CAPTURE_SKIP_REASONS(CAPTURE_SKIP_NAME)
#undef CAPTURE_SKIP_NAME
	};

	if (reason < 0 || reason >= CAPTURE_SKIP_COUNT)
		return NULL;
	return names[reason];
}

#define PC_STR2(x) #x
#define PC_STR(x) PC_STR2(x)

CAPTURE_API const char *capture_version(void)
{
	return PC_STR(CAPTURE_VERSION_MAJOR) "." PC_STR(CAPTURE_VERSION_MINOR) "." PC_STR(
		CAPTURE_VERSION_PATCH);
}
