/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP fragment table: power-of-two sets of PC_FRAG_WAYS entries, keyed by a
 * seeded hash of (ip version, src, dst, proto, id). Entries expire by packet
 * time; a full set gives up its oldest entry. Only fragments touch it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "decode/frag.h"
#include "util/clock.h"

#define FRAG_DEFAULT_SLOTS 4096u
#define FRAG_MAX_SLOTS (1u << 20)
#define FRAG_DEFAULT_TIMEOUT_NS (30ull * 1000000000ull)

_Static_assert(sizeof(struct pc_frag_id) == 40, "fragment id must have no hidden padding");

int pc_frag_init(struct pc_frag_table *t, uint32_t slots, uint64_t timeout_ns)
{
	uint32_t n = 1;

	memset(t, 0, sizeof(*t));
	if (slots == 0)
		slots = FRAG_DEFAULT_SLOTS;
	if (slots > FRAG_MAX_SLOTS)
		return -EINVAL;
	while (n < slots)
		n <<= 1;
	t->ways = n < PC_FRAG_WAYS ? n : PC_FRAG_WAYS;
	t->set_mask = n / t->ways - 1;
	t->timeout_ns = timeout_ns ? timeout_ns : FRAG_DEFAULT_TIMEOUT_NS;
	t->ent = calloc(n, sizeof(*t->ent));
	if (!t->ent)
		return -ENOMEM;
	/* A random seed keeps crafted fragment ids from piling into one set. */
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = pc_mono_ns() * 0x9e3779b97f4a7c15ull ^ (uintptr_t)t->ent;
	return 0;
}

void pc_frag_release(struct pc_frag_table *t)
{
	free(t->ent);
	t->ent = NULL;
}

static uint32_t frag_hash(const struct pc_frag_table *t, const struct pc_frag_id *id)
{
	uint64_t w[5], h = t->seed;
	unsigned i;

	memcpy(w, id, sizeof(w));
	for (i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)(h ^ (h >> 29));
}

static bool expired(const struct pc_frag_table *t, const struct pc_frag_ent *e, uint64_t now)
{
	/* time running backwards (merged captures) keeps the entry alive */
	return now > e->ts_ns && now - e->ts_ns > t->timeout_ns;
}

bool pc_frag_record(struct pc_frag_table *t, const struct pc_frag_id *id,
		    const struct pc_frag_l4 *l4, uint64_t now_ns)
{
	struct pc_frag_ent *set = t->ent + (size_t)(frag_hash(t, id) & t->set_mask) * t->ways;
	struct pc_frag_ent *slot = NULL, *oldest = set, *e;
	bool evicted = false;
	uint32_t i;

	for (i = 0; i < t->ways; i++) {
		e = &set[i];
		if (e->used && !memcmp(&e->id, id, sizeof(*id))) {
			slot = e; /* a repeated first fragment refreshes its entry */
			goto fill;
		}
	}
	for (i = 0; i < t->ways; i++) {
		e = &set[i];
		if (!e->used || expired(t, e, now_ns)) {
			slot = e;
			goto fill;
		}
		if (e->ts_ns < oldest->ts_ns)
			oldest = e;
	}
	slot = oldest;
	evicted = true;
fill:
	slot->id = *id;
	slot->l4 = *l4;
	slot->ts_ns = now_ns;
	slot->used = 1;
	return evicted;
}

bool pc_frag_lookup(const struct pc_frag_table *t, const struct pc_frag_id *id, uint64_t now_ns,
		    struct pc_frag_l4 *l4)
{
	const struct pc_frag_ent *set = t->ent + (size_t)(frag_hash(t, id) & t->set_mask) * t->ways;
	uint32_t i;

	for (i = 0; i < t->ways; i++) {
		const struct pc_frag_ent *e = &set[i];

		if (e->used && !memcmp(&e->id, id, sizeof(*id)) && !expired(t, e, now_ns)) {
			*l4 = e->l4;
			return true;
		}
	}
	return false;
}
