/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Size-versioned option structs (first member `size_t sz`, see STYLE.md):
 * the one checked copy every public entry point uses. A caller built against
 * an older header passes a smaller sz and the fields it does not know stay
 * zero (their defaults). A caller built against a newer header is accepted
 * only when every byte past what this library knows is zero, as libbpf's
 * OPTS_VALID does: a set field we cannot honour is refused, never ignored.
 */
#ifndef PC_UTIL_OPTS_H
#define PC_UTIL_OPTS_H

#include <stddef.h>

/* Zero @dst (@dst_sz bytes), copy the caller's struct @src into it and set
 * dst->sz to @dst_sz. Returns 0, or -CAPTURE_E_CONFIG with a message in
 * @err: "@what: size N too small (at least M)" when src->sz < @min_sz, or
 * "@what: unknown options set (size N; this library knows M bytes)". */
int pc_opts_copy(void *dst, size_t dst_sz, const void *src, size_t min_sz, const char *what,
		 char *err, size_t errlen);

/* The other direction: copy the library's @src (@src_sz bytes) out into a
 * caller's struct whose sz gives its room; only what both know is written,
 * and dst->sz is set to that many bytes. */
void pc_opts_copy_out(void *dst, const void *src, size_t src_sz);

#endif
