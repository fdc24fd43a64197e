/* SPDX-License-Identifier: BSD-3-Clause */
/* Error and name tables: one X-macro list in the public header generates them. */
#include <string.h>

#include "packet_capture.h"

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
