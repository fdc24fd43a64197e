/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <string.h>

#include "packet_capture.h"
#include "util/log.h"
#include "util/opts.h"

int pc_opts_copy(void *dst, size_t dst_sz, const void *src, size_t min_sz, const char *what,
		 char *err, size_t errlen)
{
	const uint8_t *s = src;
	size_t sz, i;

	memcpy(&sz, src, sizeof(sz));
	if (sz < min_sz)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "%s: size %zu too small (at least %zu)", what, sz, min_sz);
	for (i = dst_sz; i < sz; i++)
		if (s[i])
			return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
				       "%s: unknown options set (size %zu; this library knows %zu "
				       "bytes)",
				       what, sz, dst_sz);
	memset(dst, 0, dst_sz);
	memcpy(dst, src, sz < dst_sz ? sz : dst_sz);
	memcpy(dst, &dst_sz, sizeof(dst_sz));
	return 0;
}

void pc_opts_copy_out(void *dst, const void *src, size_t src_sz)
{
	size_t sz;

	memcpy(&sz, dst, sizeof(sz));
	if (sz > src_sz)
		sz = src_sz;
	memcpy(dst, src, sz);
	memcpy(dst, &sz, sizeof(sz));
}
