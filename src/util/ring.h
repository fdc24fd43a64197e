/* SPDX-License-Identifier: BSD-3-Clause */
/* Bounded single-producer single-consumer ring of fixed-size elements. */
#ifndef PC_RING_H
#define PC_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"

struct pc_ring {
	_Atomic size_t head pc_cache_aligned; /* written by the producer */
	size_t tail_cache;		      /* producer's view of tail */
	_Atomic size_t tail pc_cache_aligned; /* written by the consumer */
	size_t head_cache;		      /* consumer's view of head */
	size_t mask pc_cache_aligned;
	size_t esz;
	uint8_t *data;
};

static inline int pc_ring_init(struct pc_ring *r, size_t count, size_t esz)
{
	size_t n = 16;

	while (n < count)
		n <<= 1;
	memset(r, 0, sizeof(*r));
	r->data = calloc(n, esz);
	if (!r->data)
		return -ENOMEM;
	r->mask = n - 1;
	r->esz = esz;
	return 0;
}

static inline void pc_ring_release(struct pc_ring *r)
{
	free(r->data);
	r->data = NULL;
}

/* Producer, in two steps: the next free element to build in place (NULL when
 * full), then pc_ring_commit() once it is complete. */
static inline void *pc_ring_reserve(struct pc_ring *r)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (h - r->tail_cache > r->mask) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (h - r->tail_cache > r->mask)
			return NULL;
	}
	return r->data + (h & r->mask) * r->esz;
}

static inline void pc_ring_commit(struct pc_ring *r)
{
	atomic_store_explicit(&r->head, atomic_load_explicit(&r->head, memory_order_relaxed) + 1,
			      memory_order_release);
}

/* Producer: copy up to @n elements in with one index update; returns how
 * many fitted. */
static inline size_t pc_ring_push_n(struct pc_ring *r, const void *e, size_t n)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t room = r->mask + 1 - (h - r->tail_cache), i;

	if (room < n) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		room = r->mask + 1 - (h - r->tail_cache);
	}
	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		memcpy(r->data + ((h + i) & r->mask) * r->esz, (const uint8_t *)e + i * r->esz,
		       r->esz);
	if (n)
		atomic_store_explicit(&r->head, h + n, memory_order_release);
	return n;
}

/* Consumer: copy up to @max elements out. */
static inline size_t pc_ring_pop(struct pc_ring *r, void *out, size_t max)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t n, i;

	if (r->head_cache == t)
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
	n = r->head_cache - t;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		memcpy((uint8_t *)out + i * r->esz, r->data + ((t + i) & r->mask) * r->esz, r->esz);
	if (n)
		atomic_store_explicit(&r->tail, t + n, memory_order_release);
	return n;
}

/* Consumer, in place: up to @max elements that follow each other in memory
 * (*@first is the oldest); they stay the consumer's until pc_ring_advance(). */
static inline size_t pc_ring_peek(struct pc_ring *r, void **first, size_t max)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t n, to_end = r->mask + 1 - (t & r->mask);

	if (r->head_cache == t)
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
	n = r->head_cache - t;
	if (n > max)
		n = max;
	if (n > to_end)
		n = to_end;
	*first = r->data + (t & r->mask) * r->esz;
	return n;
}

/* Consumer: the @n oldest elements (from pc_ring_peek) are done with. */
static inline void pc_ring_advance(struct pc_ring *r, size_t n)
{
	atomic_store_explicit(&r->tail, atomic_load_explicit(&r->tail, memory_order_relaxed) + n,
			      memory_order_release);
}

static inline bool pc_ring_empty(struct pc_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) ==
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
