/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "util/env.h"

unsigned pc_env_uint(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char *e = getenv(name);
	unsigned long v;
	char *end;

	if (!e || !*e)
		return def;
	v = strtoul(e, &end, 10);
	return (*end || v < min || v > max) ? def : (unsigned)v;
}
