/* SPDX-License-Identifier: BSD-3-Clause */
/* Comma-separated name lists ("vxlan,gtpu", "dpi,tls") into bit masks. */
#ifndef PC_UTIL_NAMES_H
#define PC_UTIL_NAMES_H

#include <stdint.h>

/* Set bit i of *@on for each name in @list equal to @names[i], for i in
 * [@first, @n). Returns 0, or -1 at the first unknown name (*@on unchanged). */
int pc_name_list_bits(const char *list, const char *const *names, unsigned first, unsigned n,
		      uint32_t *on);

#endif
