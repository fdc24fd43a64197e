/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "util/names.h"

int pc_name_list_bits(const char *list, const char *const *names, unsigned first, unsigned n,
		      uint32_t *on)
{
	uint32_t bits = 0;
	const char *p, *e;

	for (p = list;; p = e + 1) {
		size_t len;
		unsigned i;

		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		len = (size_t)(e - p);
		for (i = first; i < n; i++)
			if (strlen(names[i]) == len && !memcmp(names[i], p, len))
				break;
		if (i == n)
			return -1;
		bits |= 1u << i;
		if (!*e)
			break;
	}
	*on = bits;
	return 0;
}
