/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * printf-appending into a string: into a caller's fixed buffer (the stats
 * JSON) or into a heap buffer that grows (jcapd's Prometheus text). A failed
 * append (no room, no memory) marks the buffer failed and later appends do
 * nothing, so a writer checks once at the end. Header-only: the daemon uses
 * it too.
 */
#ifndef PC_UTIL_STRBUF_H
#define PC_UTIL_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct pc_strbuf {
	char *p;
	size_t len; /* bytes written, excluding the NUL */
	size_t cap;
	bool grow;   /* heap-owned: realloc when full */
	bool failed; /* an append did not fit (fixed) or no memory (grow) */
};

/* A fixed buffer of @cap bytes (> 0) owned by the caller. */
static inline void pc_strbuf_fixed(struct pc_strbuf *b, char *buf, size_t cap)
{
	b->p = buf;
	b->len = 0;
	b->cap = cap;
	b->grow = false;
	b->failed = !buf || !cap;
	if (!b->failed)
		buf[0] = 0;
}

/* A heap buffer that grows; release with free(b->p). */
static inline void pc_strbuf_heap(struct pc_strbuf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->grow = true;
	b->failed = false;
}

static inline void pc_strbuf_vprintf(struct pc_strbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static inline void pc_strbuf_vprintf(struct pc_strbuf *b, const char *fmt, va_list ap)
{
	for (;;) {
		size_t left = b->cap - b->len;
		va_list aq;
		int n;

		if (b->failed)
			return;
		va_copy(aq, ap);
		n = vsnprintf(b->p ? b->p + b->len : NULL, left, fmt, aq);
		va_end(aq);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < left) {
			b->len += (size_t)n;
			return;
		}
		if (!b->grow) {
			b->p[b->len] = 0; /* drop the partial append */
			b->failed = true;
			return;
		}
		{
			size_t ncap = b->cap * 2 + (size_t)n + 64;
			char *np = realloc(b->p, ncap);

			if (!np) {
				b->failed = true;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

static inline void pc_strbuf_printf(struct pc_strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void pc_strbuf_printf(struct pc_strbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pc_strbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

#endif
