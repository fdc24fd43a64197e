/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table shard: two-choice bucketed hash with 16 tags per cache line,
 * entries in a compact pool, and a staged burst lookup. Memory is reserved
 * at creation and touched as flows need it; no allocation, lock or syscall
 * per packet. The layout and the expiry model are described in flow.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/compiler.h"
#include "flow/flow.h"
#include "flow/tcp_health.h"
#include "inspect/inspect.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

enum {
	ST_FIN0 = 1u << 0, /* FIN seen from side 0 */
	ST_FIN1 = 1u << 1,
	ST_RST = 1u << 2,
	ST_SRC_LOCKED = 1u << 3, /* src decided by a SYN */
	ST_MAC0 = 1u << 4,	 /* mac[0] holds side 0's first frame */
	ST_MAC1 = 1u << 5,
	ST_EXT = 1u << 6, /* e->ext holds a pc_flow_ext (tunnel, MPLS or inner VLAN) */
	ST_B2 = 1u << 7,  /* in its second bucket: counted in ovf[] of its first */
};

/*
 * The entry, 256 bytes on a 256-byte boundary, so four whole cache lines:
 * lines 0-1 are what every packet reads or writes (key, counters, times,
 * TTL range, the low 32 bits of the payload octets). Line 2 holds what
 * inspection and TCP health read per packet (the inspection handle, the 40
 * bytes of TCP health a TCP packet reads) and what the first packet of a
 * side writes (TOS; the payload's high words on a carry); line 3 the TCP
 * health counters, written on events only (a retransmission, the
 * handshake), and the MAC addresses, written once per direction. So an
 * update prefetches two lines, three for TCP health or inspection, four for
 * a new flow (init_flow zeroes it). A flow costs its 256-byte pool entry,
 * and each slot 8 bytes (tag, pool index); a tunnelled, MPLS or QinQ flow
 * also holds a 56-byte pool record (ext).
 */
struct pc_flow_entry {
	struct pc_flow_key key;
	uint64_t pkts[2]; /* indexed by canonical side of the sender */
	uint64_t bytes[2];
	uint64_t first[2]; /* 0: no packet from that side yet */
	uint64_t last[2];
	uint32_t payload[2]; /* L4 payload octets by side, low 32 bits */
	uint8_t flags[2];
	uint8_t src_side;
	uint8_t state;
	uint8_t ttl_min[2]; /* TTL range of each side's packets */
	uint8_t ttl_max[2];
	/* line 2: TCP health and inspection read it per packet */
	uint32_t insp;		/* inspection handle (inspect/inspect.h) */
	uint32_t ext;		/* where ST_EXT: its pc_flow_ext is t->xp[ext - 1] */
	uint32_t payload_hi[2]; /* payload octets, high 32 bits */
	uint8_t tos[2];		/* first packet from each side */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint32_t pad0;
	struct pc_tcp_health tcp; /* TCP flows, when the table's tcp_health is on */
	/* cold: written on the first packet from each side */
	uint8_t mac[2][12]; /* that packet's source and destination MAC */
};

#define ENT_HOT 128 /* bytes of the entry every update touches (prefetched) */
_Static_assert(offsetof(struct pc_flow_entry, insp) == ENT_HOT, "hot part of the entry");
_Static_assert(offsetof(struct pc_flow_entry, tcp) == 152, "TCP health's hot part ends line 2");
_Static_assert(offsetof(struct pc_flow_entry, mac) == 232, "TCP health before the MACs");
_Static_assert(sizeof(struct pc_flow_entry) == 256, "flow entry layout: four cache lines");

static pc_always_inline uint64_t ent_payload(const struct pc_flow_entry *e, int side)
{
	return (uint64_t)e->payload_hi[side] << 32 | e->payload[side];
}

/* Add @v payload octets to side @dir: line 2 is written only on a carry. */
static pc_always_inline void payload_add(struct pc_flow_entry *e, int dir, uint64_t v)
{
	uint32_t lo = e->payload[dir];

	e->payload[dir] = lo + (uint32_t)v;
	if (pc_unlikely((v >> 32) || e->payload[dir] < lo))
		e->payload_hi[dir] += (uint32_t)(v >> 32) + (e->payload[dir] < lo);
}

/*
 * What only tunnelled, MPLS or inner-VLAN flows carry, in a compact pool:
 * records are taken from its start (a free list first), so the memory the
 * kernel backs follows the number of such flows at a time, not the table
 * size, and plain traffic never touches any of it.
 */
struct pc_flow_ext {
	uint8_t outer[2][16]; /* outermost IP source, destination of the first packet */
	uint32_t mpls[3];     /* label stack of the first packet */
	uint32_t teid[2];     /* GTP-U TEID / PPTP call id, first packet from each side */
	uint8_t outer_ipver;
	uint8_t dir;	     /* canonical side that sent the first packet */
	uint16_t vlan_inner; /* inner (QinQ) VLAN id of the first packet */
};

/*
 * A bucket: 16 tags (0 = empty slot) in its first cache line, the pool
 * index of each used slot's entry in its second. Entries live in a compact
 * pool (taken from its start, freed ones reused last-in first-out), so the
 * memory an input touches follows the flows alive at a time, not the table
 * size: a 1M-slot table costs 8 MB of buckets plus what its flows use.
 */
struct ft_bucket {
	uint32_t tag[PC_FLOW_BUCKET_SLOTS];
	uint32_t idx[PC_FLOW_BUCKET_SLOTS];
};

_Static_assert(sizeof(struct ft_bucket) == 128, "bucket: two cache lines");

struct pc_flow_table {
	struct ft_bucket *bk;	   /* nbuckets */
	struct pc_flow_entry *ent; /* pool: as many entries as slots, reserved */
	uint32_t *fstack;	   /* freed pool entries, the last freed on top */
	uint32_t *ovf;		   /* per bucket: flows of which it is the first
				      bucket that sit in their second */
	uint32_t ntop;		   /* entries on fstack */
	uint32_t nused;		   /* entries ever handed out (from ent[0]) */
	struct pc_flow_ext *xp;	   /* pool: as many records as slots, reserved */
	uint32_t xused;		   /* records ever handed out (from xp[0]) */
	uint32_t xfree;		   /* free list head (index + 1; next in teid[0]) */
	uint64_t mask;		   /* nbuckets - 1 */
	size_t slots;
	uint64_t idle_ns, active_ns, close_ns;
	struct pc_hash_key hk;
	bool uniflow;
	bool tcp_health;
	uint16_t worker;
	uint16_t cid_seed;
	uint32_t ifindex;	 /* live: the interface every flow has */
	struct pc_inspect *insp; /* the worker's inspection, NULL: none */
	/* sweep state */
	size_t cursor;
	uint64_t sweep_last_ns;
	double sweep_carry;
	struct pc_flow_counters cnt;
};

/* Table memory: 2 MiB aligned and marked for transparent huge pages, since
 * every lookup lands on a random page and 4 KiB pages make each one a TLB
 * miss. Zeroed by the kernel (anonymous mapping). */
static void *alloc_table(size_t n)
{
	size_t huge = 2u << 20, len = (n + huge - 1) & ~(huge - 1);
	uint8_t *p =
		mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + len < p + len + huge)
		munmap(a + len, (size_t)(p + len + huge - (a + len)));
	madvise(a, len, MADV_HUGEPAGE);
	return a;
}

static void free_table(void *p, size_t n)
{
	size_t huge = 2u << 20;

	if (p)
		munmap(p, (n + huge - 1) & ~(huge - 1));
}

int pc_flow_table_create(struct pc_flow_table **out, const struct pc_flow_params *p)
{
	struct pc_flow_table *t;
	size_t slots = 4096;

	while (slots < p->slots && slots < (1u << 26))
		slots <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->bk = alloc_table(slots / PC_FLOW_BUCKET_SLOTS * sizeof(struct ft_bucket));
	t->ent = alloc_table(slots * sizeof(struct pc_flow_entry));
	t->fstack = alloc_table(slots * sizeof(uint32_t));
	t->xp = alloc_table(slots * sizeof(struct pc_flow_ext));
	t->ovf = alloc_table(slots / PC_FLOW_BUCKET_SLOTS * sizeof(uint32_t));
	if (!t->bk || !t->ent || !t->fstack || !t->xp || !t->ovf) {
		free_table(t->ovf, slots / PC_FLOW_BUCKET_SLOTS * sizeof(uint32_t));
		free_table(t->bk, slots / PC_FLOW_BUCKET_SLOTS * sizeof(struct ft_bucket));
		free_table(t->ent, slots * sizeof(struct pc_flow_entry));
		free_table(t->fstack, slots * sizeof(uint32_t));
		free_table(t->xp, slots * sizeof(struct pc_flow_ext));
		free(t);
		return -ENOMEM;
	}
	t->slots = slots;
	t->mask = slots / PC_FLOW_BUCKET_SLOTS - 1;
	t->idle_ns = p->idle_ns;
	t->active_ns = p->active_ns;
	t->close_ns = p->close_ns ? p->close_ns : PC_FLOW_CLOSE_TIMEOUT_NS;
	t->uniflow = p->uniflow;
	t->tcp_health = p->tcp_health;
	t->worker = p->worker;
	t->cid_seed = p->cid_seed;
	t->ifindex = p->ifindex;
	t->insp = pc_inspect_active(p->insp) ? p->insp : NULL;
	pc_hash_key_init(&t->hk, p->seed);
	*out = t;
	return 0;
}

void pc_flow_table_destroy(struct pc_flow_table *t)
{
	if (!t)
		return;
	free_table(t->bk, t->slots / PC_FLOW_BUCKET_SLOTS * sizeof(struct ft_bucket));
	free_table(t->ent, t->slots * sizeof(struct pc_flow_entry));
	free_table(t->fstack, t->slots * sizeof(uint32_t));
	free_table(t->xp, t->slots * sizeof(struct pc_flow_ext));
	free_table(t->ovf, t->slots / PC_FLOW_BUCKET_SLOTS * sizeof(uint32_t));
	free(t);
}

size_t pc_flow_table_slots(const struct pc_flow_table *t)
{
	return t->slots;
}

const struct pc_flow_counters *pc_flow_table_counters(const struct pc_flow_table *t)
{
	return &t->cnt;
}

static pc_always_inline uint64_t b1_of(const struct pc_flow_table *t, uint64_t h)
{
	return h & t->mask;
}

static pc_always_inline uint64_t b2_of(const struct pc_flow_table *t, uint64_t h)
{
	uint64_t b = (h >> 32) & t->mask;

	return b == (h & t->mask) ? b ^ 1 : b;
}

static pc_always_inline uint32_t tag_of(uint64_t h)
{
	return ((uint32_t)(h >> 16) ^ (uint32_t)(h >> 45)) | 1u;
}

/* Slot s is tag s % 16 of bucket s / 16. */
static pc_always_inline uint32_t *tag_at(const struct pc_flow_table *t, size_t s)
{
	return &t->bk[s / PC_FLOW_BUCKET_SLOTS].tag[s % PC_FLOW_BUCKET_SLOTS];
}

static pc_always_inline struct pc_flow_entry *ent_at(const struct pc_flow_table *t, size_t s)
{
	return &t->ent[t->bk[s / PC_FLOW_BUCKET_SLOTS].idx[s % PC_FLOW_BUCKET_SLOTS]];
}

/* The pool entry the next new flow takes when @ahead others take theirs
 * first (a prefetch hint, kept inside the pool). */
static pc_always_inline uint32_t ent_next(const struct pc_flow_table *t, uint32_t ahead)
{
	size_t i = ahead < t->ntop ? t->fstack[t->ntop - 1 - ahead]
				   : (size_t)t->nused + (ahead - t->ntop);

	return i < t->slots ? (uint32_t)i : 0;
}

/* Give slot @s an entry from the pool. Never fails: the pool has an entry
 * for every slot. */
static pc_always_inline struct pc_flow_entry *ent_take(struct pc_flow_table *t, size_t s)
{
	uint32_t i = t->ntop ? t->fstack[--t->ntop] : t->nused++;

	t->bk[s / PC_FLOW_BUCKET_SLOTS].idx[s % PC_FLOW_BUCKET_SLOTS] = i;
	return &t->ent[i];
}

static pc_always_inline bool key_eq(const struct pc_flow_key *a, const struct pc_flow_key *b)
{
	uint64_t x[6], y[6];

	_Static_assert(sizeof(x) == sizeof(*a), "key_eq compares the whole key");
	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
		(x[5] ^ y[5])) == 0;
}

/* Bit i set when tag slot i of the bucket line equals @tag. */
static pc_always_inline unsigned match_mask(const uint32_t *line, uint32_t tag)
{
#if defined(__SSE2__)
	__m128i t = _mm_set1_epi32((int)tag);
	unsigned m0 = (unsigned)_mm_movemask_ps(
		_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128((const __m128i *)line), t)));
	unsigned m1 = (unsigned)_mm_movemask_ps(
		_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128((const __m128i *)(line + 4)), t)));
	unsigned m2 = (unsigned)_mm_movemask_ps(
		_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128((const __m128i *)(line + 8)), t)));
	unsigned m3 = (unsigned)_mm_movemask_ps(
		_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128((const __m128i *)(line + 12)), t)));

	return m0 | m1 << 4 | m2 << 8 | m3 << 12;
#else
	unsigned i, m = 0;

	for (i = 0; i < PC_FLOW_BUCKET_SLOTS; i++)
		m |= (unsigned)(line[i] == tag) << i;
	return m;
#endif
}

static pc_always_inline uint64_t ent_last(const struct pc_flow_entry *e)
{
	return e->last[0] > e->last[1] ? e->last[0] : e->last[1];
}

static pc_always_inline uint64_t ent_first(const struct pc_flow_entry *e)
{
	if (!e->first[0])
		return e->first[1];
	if (!e->first[1])
		return e->first[0];
	return e->first[0] < e->first[1] ? e->first[0] : e->first[1];
}

static pc_always_inline bool ent_closing(const struct pc_flow_entry *e)
{
	return (e->state & ST_RST) || (e->state & (ST_FIN0 | ST_FIN1)) == (ST_FIN0 | ST_FIN1);
}

static pc_always_inline long lookup(const struct pc_flow_table *t, const struct pc_flow_key *k,
				    uint64_t h)
{
	uint32_t tag = tag_of(h);
	uint64_t bk[2] = { b1_of(t, h), b2_of(t, h) };
	int j;

	/* the second bucket holds a key only when its first was full then */
	for (j = 0; j < (t->ovf[bk[0]] ? 2 : 1); j++) {
		size_t base = bk[j] * PC_FLOW_BUCKET_SLOTS;
		unsigned m = match_mask(t->bk[bk[j]].tag, tag);

		while (m) {
			size_t s = base + (unsigned)__builtin_ctz(m);

			if (key_eq(&ent_at(t, s)->key, k))
				return (long)s;
			m &= m - 1;
		}
	}
	return -1;
}

/* Link and path identity of a record: MACs, TOS/TTL, tunnel, interface. */
static void record_path(const struct pc_flow_table *t, const struct pc_flow_entry *e,
			const struct pc_flow_ext *x, struct capture_flow *r)
{
	int s = e->src_side, d = 1 - s;

	if (e->state & (ST_MAC0 << s)) {
		memcpy(r->src_mac, e->mac[s], 6);
		memcpy(r->dst_mac, e->mac[s] + 6, 6);
	} else if (e->state & (ST_MAC0 << d)) {
		/* only dst -> src seen: its frame's addresses, swapped */
		memcpy(r->src_mac, e->mac[d] + 6, 6);
		memcpy(r->dst_mac, e->mac[d], 6);
	}
	r->tos = e->tos[s];
	r->rev_tos = e->tos[d];
	r->min_ttl = e->ttl_min[s];
	r->max_ttl = e->ttl_max[s];
	r->rev_min_ttl = e->ttl_min[d];
	r->rev_max_ttl = e->ttl_max[d];
	r->interface = t->ifindex ? t->ifindex : e->key.iface;
	r->tunnel_type = e->key.tunnel_type;
	r->tunnel_id = r->rev_tunnel_id = e->key.tunnel_id;
	if (!(e->state & ST_EXT))
		return;
	r->vlan_inner = x->vlan_inner;
	memcpy(r->mpls_labels, x->mpls, sizeof(r->mpls_labels));
	if (!e->key.tunnel_type)
		return;
	r->outer_ip_version = x->outer_ipver;
	memcpy(r->outer_src_ip, x->outer[x->dir == s ? 0 : 1], 16);
	memcpy(r->outer_dst_ip, x->outer[x->dir == s ? 1 : 0], 16);
	/* ids that differ per direction (GTP-U TEID, PPTP call id) are not
	 * in the key: each side's first packet gave its own */
	if (e->key.tunnel_type == CAPTURE_TUNNEL_GTPU ||
	    e->key.tunnel_type == CAPTURE_TUNNEL_PPTP) {
		r->tunnel_id = x->teid[s];
		r->rev_tunnel_id = x->teid[d];
	}
}

static void make_record(const struct pc_flow_table *t, const struct pc_flow_entry *e, int reason,
			struct capture_flow *r)
{
	int s = e->src_side, d = 1 - s;

	memset(r, 0, sizeof(*r));
	memcpy(r->src_ip, e->key.addr[s], 16);
	memcpy(r->dst_ip, e->key.addr[d], 16);
	r->src_port = e->key.port[s];
	r->dst_port = e->key.port[d];
	r->vlan = e->key.vlan;
	r->ip_version = e->key.ipver;
	r->proto = e->key.proto;
	r->tcp_flags = e->flags[s];
	r->rev_tcp_flags = e->flags[d];
	r->icmp_type = e->icmp_type;
	r->icmp_code = e->icmp_code;
	r->end_reason = (uint8_t)reason;
	r->worker = t->worker;
	r->packets = e->pkts[s];
	r->bytes = e->bytes[s];
	r->rev_packets = e->pkts[d];
	r->rev_bytes = e->bytes[d];
	r->first_ns = ent_first(e);
	r->last_ns = ent_last(e);
	r->fwd_first_ns = e->first[s];
	r->fwd_last_ns = e->last[s];
	r->rev_first_ns = e->first[d];
	r->rev_last_ns = e->last[d];
	r->community_id_seed = t->cid_seed;
	r->payload_bytes = ent_payload(e, s);
	r->rev_payload_bytes = ent_payload(e, d);
	if (t->tcp_health && e->key.proto == 6)
		pc_tcp_fill(&e->tcp, s, r);
	record_path(t, e, (e->state & ST_EXT) ? &t->xp[e->ext - 1] : NULL, r);
	if (t->insp)
		pc_inspect_fill(t->insp, e->insp, r);
}

/* A zeroed pool record; returns its index + 1. Never fails: the pool has
 * a record for every slot. */
static uint32_t ext_get(struct pc_flow_table *t)
{
	uint32_t i = t->xfree;

	if (i)
		t->xfree = t->xp[i - 1].teid[0];
	else
		i = ++t->xused;
	memset(&t->xp[i - 1], 0, sizeof(t->xp[0]));
	return i;
}

static void ext_put(struct pc_flow_table *t, uint32_t i)
{
	t->xp[i - 1].teid[0] = t->xfree;
	t->xfree = i;
}

/* Emit the record of @e and release what it holds but its pool entry. */
static void finish_flow(struct pc_flow_table *t, struct pc_flow_entry *e, int reason,
			struct pc_flow_sink *out)
{
	struct capture_flow *r;

	if (t->insp)
		pc_inspect_end(t->insp, &e->insp);
	r = out->get(out); /* built in place: a worker's export ring */
	make_record(t, e, reason, r);
	if (t->insp)
		pc_inspect_release(t->insp, e->insp);
	if (e->state & ST_EXT)
		ext_put(t, e->ext);
	t->cnt.active--;
	t->cnt.ended[reason]++;
	out->put(out, r);
}

/* End the flow in slot @slot: its record, then the slot and entry are free. */
static void end_flow(struct pc_flow_table *t, size_t slot, int reason, struct pc_flow_sink *out)
{
	struct pc_flow_entry *e = ent_at(t, slot);

	if (e->state & ST_B2)
		t->ovf[b1_of(t, pc_flow_key_hash(&e->key, &t->hk))]--;
	finish_flow(t, e, reason, out);
	t->fstack[t->ntop++] = t->bk[slot / PC_FLOW_BUCKET_SLOTS].idx[slot % PC_FLOW_BUCKET_SLOTS];
	*tag_at(t, slot) = 0;
}

/* Start a flow in @e with the packet @m sent by canonical side @dir. */
static void init_flow(struct pc_flow_table *t, struct pc_flow_entry *e, const struct pc_flow_key *k,
		      const struct pc_meta *m, int dir)
{
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->src_side = (uint8_t)dir;
	e->insp = PC_INSP_NONE;
	e->icmp_type = m->icmp_type;
	e->icmp_code = m->icmp_code;
	if (pc_unlikely((m->flags & (PC_META_TUNNEL | PC_META_MPLS)) || m->vlan_inner)) {
		struct pc_flow_ext *x;

		e->ext = ext_get(t);
		x = &t->xp[e->ext - 1];
		x->vlan_inner = m->vlan_inner;
		if (m->flags & PC_META_MPLS)
			memcpy(x->mpls, m->mpls, sizeof(x->mpls));
		if (m->flags & PC_META_TUNNEL) {
			x->outer_ipver = m->outer_ipver;
			memcpy(x->outer, m->outer_addr, sizeof(x->outer));
		}
		x->dir = (uint8_t)dir;
		e->state |= ST_EXT;
	}
	if (k->proto == 6 && (m->tcp_flags & TCP_SYN) && !t->uniflow) {
		/* SYN: sender is src; SYN-ACK: the receiver sent the SYN */
		e->src_side = (uint8_t)((m->tcp_flags & TCP_ACK) ? 1 - dir : dir);
		e->state |= ST_SRC_LOCKED;
	}
	t->cnt.created++;
}

/* The first packet from side @dir: what records keep of it. */
static void first_from(struct pc_flow_table *t, struct pc_flow_entry *e, const struct pc_meta *m,
		       int dir)
{
	e->tos[dir] = m->tos;
	e->ttl_min[dir] = e->ttl_max[dir] = m->ttl;
	if (m->flags & PC_META_HAS_MAC) {
		memcpy(e->mac[dir], m->mac, sizeof(e->mac[dir]));
		e->state |= (uint8_t)(ST_MAC0 << dir);
	}
	/* only GTP-U and PPTP have one (init_flow zeroed it): other tunnels
	 * touch the side array once per flow */
	if ((e->state & ST_EXT) && m->teid)
		t->xp[e->ext - 1].teid[dir] = m->teid;
}

static pc_always_inline void account(struct pc_flow_table *t, struct pc_flow_entry *e,
				     const struct pc_meta *m, int dir)
{
	uint64_t ts = m->ts_ns;

	if (pc_unlikely(!e->pkts[dir]))
		first_from(t, e, m, dir);
	else if (m->ttl < e->ttl_min[dir])
		e->ttl_min[dir] = m->ttl;
	else if (m->ttl > e->ttl_max[dir])
		e->ttl_max[dir] = m->ttl;
	if (!e->first[dir] || ts < e->first[dir])
		e->first[dir] = ts;
	if (ts > e->last[dir])
		e->last[dir] = ts;
	e->pkts[dir]++;
	e->bytes[dir] += m->ip_bytes;
	payload_add(e, dir, m->pl_len);
	e->flags[dir] |= m->tcp_flags;
	if (e->key.proto == 6 && m->tcp_flags) {
		/* uniflow: each record sees one side, so its own FIN closes it */
		if (m->tcp_flags & TCP_FIN)
			e->state |= t->uniflow ? ST_FIN0 | ST_FIN1 : (dir ? ST_FIN1 : ST_FIN0);
		if (m->tcp_flags & TCP_RST)
			e->state |= ST_RST;
		if ((m->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
		    !(e->state & ST_SRC_LOCKED)) {
			e->src_side = (uint8_t)dir;
			e->state |= ST_SRC_LOCKED;
		}
	}
	if (t->tcp_health && (m->flags & PC_META_TCP_HDR))
		pc_tcp_update(&e->tcp, m, dir, e->first, e->pkts);
	if (t->insp && pc_inspect_wants(e->insp))
		pc_inspect_packet(t->insp, &e->insp, m, dir);
	t->cnt.packets++;
	t->cnt.bytes += m->ip_bytes;
}

/* Why an existing flow must end before @m can be counted, or 0. */
static pc_always_inline int must_end(const struct pc_flow_table *t, const struct pc_flow_entry *e,
				     const struct pc_meta *m)
{
	uint64_t ts = m->ts_ns, last = ent_last(e);

	if (ts > last && ts - last > t->idle_ns)
		return ent_closing(e) ? CAPTURE_END_END : CAPTURE_END_IDLE;
	if (ent_closing(e)) {
		if (ts > last && ts - last > t->close_ns)
			return CAPTURE_END_END;
		if (e->key.proto == 6 && (m->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
			return CAPTURE_END_END; /* 5-tuple reused */
	}
	if (ts >= ent_first(e) && ts - ent_first(e) >= t->active_ns)
		return CAPTURE_END_ACTIVE;
	return 0;
}

/* Why a resident flow has expired at @now (sweep), or 0. */
static pc_always_inline int expired_at(const struct pc_flow_table *t, const struct pc_flow_entry *e,
				       uint64_t now)
{
	uint64_t last = ent_last(e);

	if (now <= last)
		return 0;
	if (ent_closing(e))
		return now - last > t->close_ns || now - last > t->idle_ns ? CAPTURE_END_END : 0;
	return now - last > t->idle_ns ? CAPTURE_END_IDLE : 0;
}

/* Population count of a 16-bit mask (no popcnt instruction assumed). */
static pc_always_inline unsigned pop16(unsigned m)
{
	m = m - ((m >> 1) & 0x5555u);
	m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
	m = (m + (m >> 4)) & 0x0f0fu;
	return (m + (m >> 8)) & 0x1fu;
}

/* A new flow goes to its first bucket while that has this many free slots
 * or more, so that lookups mostly read one bucket; past it, to the less
 * loaded of the two, which keeps two-choice hashing's fill before the first
 * eviction. */
#define B1_ROOM 8

static pc_always_inline unsigned free_mask(const struct pc_flow_table *t, uint64_t b)
{
	return match_mask(t->bk[b].tag, 0);
}

/* Both buckets full: reclaim an expired flow, else evict the least recently
 * seen of the 32 candidates. Returns the freed slot. */
static size_t make_room(struct pc_flow_table *t, uint64_t b1, uint64_t b2, uint64_t now,
			struct pc_flow_sink *out)
{
	uint64_t bk[2] = { b1, b2 };
	size_t victim = b1 * PC_FLOW_BUCKET_SLOTS;
	uint64_t oldest = UINT64_MAX;
	int j, i, why;

	for (j = 0; j < 2; j++) {
		for (i = 0; i < PC_FLOW_BUCKET_SLOTS; i++) {
			size_t s = bk[j] * PC_FLOW_BUCKET_SLOTS + i;
			uint64_t last = ent_last(ent_at(t, s));

			why = expired_at(t, ent_at(t, s), now);
			if (why) {
				end_flow(t, s, why, out);
				return s;
			}
			if (last < oldest) {
				oldest = last;
				victim = s;
			}
		}
	}
	end_flow(t, victim, CAPTURE_END_EVICTED, out);
	return victim;
}

static void update_one(struct pc_flow_table *t, const struct pc_flow_key *k, int dir, uint64_t h,
		       const struct pc_meta *m, struct pc_flow_sink *out)
{
	long s = lookup(t, k, h);
	struct pc_flow_entry *e;
	uint64_t b1;
	unsigned f;
	size_t slot;

	if (pc_likely(s >= 0)) {
		int why;

		e = ent_at(t, (size_t)s);
		why = must_end(t, e, m);
		if (pc_unlikely(why)) {
			/* the new flow takes the old one's slot and entry */
			uint8_t b2 = e->state & ST_B2;

			finish_flow(t, e, why, out);
			t->cnt.active++;
			init_flow(t, e, k, m, dir);
			e->state |= b2;
		}
		account(t, e, m, dir);
		return;
	}
	b1 = b1_of(t, h);
	f = free_mask(t, b1);
	if (pc_likely(pop16(f) >= B1_ROOM)) {
		slot = b1 * PC_FLOW_BUCKET_SLOTS + (unsigned)__builtin_ctz(f);
	} else {
		uint64_t b2 = b2_of(t, h);
		unsigned f2 = free_mask(t, b2);

		if (f && pop16(f) >= pop16(f2))
			slot = b1 * PC_FLOW_BUCKET_SLOTS + (unsigned)__builtin_ctz(f);
		else if (f2)
			slot = b2 * PC_FLOW_BUCKET_SLOTS + (unsigned)__builtin_ctz(f2);
		else
			slot = make_room(t, b1, b2, m->ts_ns, out);
	}
	e = ent_take(t, slot);
	*tag_at(t, slot) = tag_of(h);
	t->cnt.active++;
	init_flow(t, e, k, m, dir);
	if (slot / PC_FLOW_BUCKET_SLOTS != b1) {
		e->state |= ST_B2;
		t->ovf[b1]++;
	}
	account(t, e, m, dir);
}

/* The pool record ext_get() will hand out next (to a new tunnelled flow). */
static pc_always_inline void prefetch_ext(const struct pc_flow_table *t)
{
	const char *x = (const char *)&t->xp[t->xfree ? t->xfree - 1 : t->xused];

	pc_prefetch_w(x);
	pc_prefetch_w(x + sizeof(struct pc_flow_ext) - 1);
}

/* Software-pipelined staged lookup: while packet i is hashed and its first
 * bucket's two lines prefetched (the second bucket's too where flows of the
 * first overflowed to it), packet i - D1 has its candidate entry (a match,
 * or the pool entry a new flow will take) prefetched and
 * packet i - D2 is accounted. Enough misses stay in flight to hide memory
 * latency, few enough to fit the line-fill buffers. */
#define D1 8
#define D2 16
/* Packets staged at a time: one capture burst, so a live burst is one chunk. */
#define FT_CHUNK 64

void pc_flow_update_burst(struct pc_flow_table *t, const struct pc_meta *m, unsigned n,
			  struct pc_flow_sink *out)
{
	struct pc_flow_key keys[FT_CHUNK];
	uint64_t hash[FT_CHUNK];
	uint8_t dir[FT_CHUNK];
	uint8_t fresh[FT_CHUNK];
	unsigned base, ahead = 0; /* new flows staged, not inserted yet */

	for (base = 0; base < n; base += FT_CHUNK) {
		unsigned cnt = n - base < FT_CHUNK ? n - base : FT_CHUNK;
		const struct pc_meta *mb = m + base;
		unsigned i;

		for (i = 0; i < cnt + D2; i++) {
			if (i < cnt) {
				keys[i] = mb[i].key;
				dir[i] = t->uniflow ? 0 : pc_flow_key_canon(&keys[i]);
				hash[i] = pc_flow_key_hash(&keys[i], &t->hk);
				const struct ft_bucket *b1 = &t->bk[b1_of(t, hash[i])];

				pc_prefetch(b1->tag);
				pc_prefetch(b1->idx);
				if (t->ovf[b1_of(t, hash[i])]) {
					const struct ft_bucket *b2 = &t->bk[b2_of(t, hash[i])];

					pc_prefetch(b2->tag);
					pc_prefetch(b2->idx);
				}
			}
			if (i >= D1 && i - D1 < cnt) {
				unsigned j = i - D1;
				uint32_t tag = tag_of(hash[j]);
				const struct ft_bucket *b = &t->bk[b1_of(t, hash[j])];
				unsigned mk = match_mask(b->tag, tag);
				const char *e;

				if (!mk && t->ovf[b1_of(t, hash[j])]) {
					b = &t->bk[b2_of(t, hash[j])];
					mk = match_mask(b->tag, tag);
				}
				fresh[j] = !mk;
				if (mk) {
					e = (const char *)&t->ent[b->idx[__builtin_ctz(mk)]];
				} else {
					/* a new flow: warm the pool entry it will take */
					e = (const char *)&t->ent[ent_next(t, ahead++)];
					if ((mb[j].flags & (PC_META_TUNNEL | PC_META_MPLS)) ||
					    mb[j].vlan_inner)
						prefetch_ext(t);
				}
				pc_prefetch_w(e);
				pc_prefetch_w(e + 64);
				/* line 2: TCP health's per-packet part, the
				 * inspection handle; line 3: TCP health counters,
				 * written on events only. init_flow zeroes both. */
				if (fresh[j] || t->insp ||
				    (t->tcp_health && (mb[j].flags & PC_META_TCP_HDR)))
					pc_prefetch_w(e + 128);
				if (fresh[j])
					pc_prefetch_w(e + 192);
			}
			if (i >= D2) {
				unsigned j = i - D2;

				ahead -= fresh[j];
				update_one(t, &keys[j], dir[j], hash[j], &mb[j], out);
			}
		}
	}
}

/* Sweeps read each used slot's entry (its times and state, line 1, then
 * all of it for the record of a flow that ends): the entries sit anywhere
 * in the pool, so they are prefetched a few buckets ahead of the walk. */
#define SWEEP_AHEAD 4

static pc_always_inline void prefetch_bucket_ents(const struct pc_flow_table *t, uint64_t b)
{
	unsigned used = ~match_mask(t->bk[b].tag, 0) & 0xffffu;

	while (used) {
		const char *e = (const char *)&t->ent[t->bk[b].idx[__builtin_ctz(used)]];

		pc_prefetch(e);
		pc_prefetch(e + 64);
		pc_prefetch(e + 128);
		pc_prefetch(e + 192);
		used &= used - 1;
	}
}

unsigned pc_flow_expire(struct pc_flow_table *t, uint64_t now_ns, unsigned max_slots,
			struct pc_flow_sink *out)
{
	uint64_t period = t->idle_ns;
	uint64_t dt;
	double want;
	size_t visits, nb, i;
	unsigned ended = 0;

	if (period < 1000000000ull)
		period = 1000000000ull;
	if (!t->sweep_last_ns || now_ns < t->sweep_last_ns) {
		t->sweep_last_ns = now_ns;
		return 0;
	}
	dt = now_ns - t->sweep_last_ns;
	if (dt > period)
		dt = period;
	want = t->sweep_carry + (double)t->slots * (double)dt / (double)period;
	if (want > (double)t->slots)
		want = (double)t->slots;
	visits = (size_t)want;
	if (visits > max_slots)
		visits = max_slots;
	t->sweep_carry = want - (double)visits;
	t->sweep_last_ns = now_ns;
	/* whole buckets at a time; empty slots cost one tag compare. The
	 * entries of the bucket SWEEP_AHEAD further on are prefetched. */
	nb = (visits + PC_FLOW_BUCKET_SLOTS - 1) / PC_FLOW_BUCKET_SLOTS;
	for (i = 0; i < nb && i < SWEEP_AHEAD; i++)
		prefetch_bucket_ents(t, (t->cursor / PC_FLOW_BUCKET_SLOTS + i) & t->mask);
	for (i = 0; i < nb; i++) {
		size_t base = t->cursor & ~(size_t)(PC_FLOW_BUCKET_SLOTS - 1);
		unsigned used = ~match_mask(t->bk[base / PC_FLOW_BUCKET_SLOTS].tag, 0) & 0xffffu;

		if (i + SWEEP_AHEAD < nb)
			prefetch_bucket_ents(t,
					     (base / PC_FLOW_BUCKET_SLOTS + SWEEP_AHEAD) & t->mask);
		t->cursor = (base + PC_FLOW_BUCKET_SLOTS) & (t->slots - 1);
		while (used) {
			size_t s = base + (unsigned)__builtin_ctz(used);
			int why = expired_at(t, ent_at(t, s), now_ns);

			used &= used - 1;
			if (why) {
				end_flow(t, s, why, out);
				ended++;
			}
		}
	}
	return ended;
}

void pc_flow_flush(struct pc_flow_table *t, uint64_t now_ns, int reason, struct pc_flow_sink *out)
{
	size_t s;

	for (s = 0; s < t->slots; s++) {
		int why;

		if (s % PC_FLOW_BUCKET_SLOTS == 0 &&
		    s / PC_FLOW_BUCKET_SLOTS + SWEEP_AHEAD <= t->mask)
			prefetch_bucket_ents(t, s / PC_FLOW_BUCKET_SLOTS + SWEEP_AHEAD);
		if (!*tag_at(t, s))
			continue;
		why = now_ns ? expired_at(t, ent_at(t, s), now_ns) : 0;
		if (!why)
			why = ent_closing(ent_at(t, s)) ? CAPTURE_END_END : reason;
		end_flow(t, s, why, out);
	}
}

uint64_t pc_flow_clear(struct pc_flow_table *t)
{
	uint64_t n = t->cnt.active;
	size_t s;

	for (s = 0; t->insp && s < t->slots; s++)
		if (*tag_at(t, s))
			pc_inspect_release(t->insp, ent_at(t, s)->insp);
	memset(t->bk, 0, t->slots / PC_FLOW_BUCKET_SLOTS * sizeof(struct ft_bucket));
	memset(t->ovf, 0, t->slots / PC_FLOW_BUCKET_SLOTS * sizeof(uint32_t));
	t->ntop = t->nused = 0;
	t->xused = t->xfree = 0;
	t->cnt.active = 0;
	return n;
}

int pc_flow_find(const struct pc_flow_table *t, const struct pc_flow_key *key,
		 struct capture_flow *out)
{
	struct pc_flow_key k = *key;
	long s;

	if (!t->uniflow)
		pc_flow_key_canon(&k);
	s = lookup(t, &k, pc_flow_key_hash(&k, &t->hk));
	if (s < 0 && t->uniflow) {
		/* uniflow: each direction is its own flow; try the other one */
		memcpy(k.addr[0], key->addr[1], 16);
		memcpy(k.addr[1], key->addr[0], 16);
		k.port[0] = key->port[1];
		k.port[1] = key->port[0];
		s = lookup(t, &k, pc_flow_key_hash(&k, &t->hk));
	}
	if (s < 0)
		return -CAPTURE_E_NOT_FOUND;
	make_record(t, ent_at(t, (size_t)s), CAPTURE_END_ACTIVE_FLOW, out);
	return 0;
}

size_t pc_flow_snapshot(const struct pc_flow_table *t, size_t *cursor, size_t nslots,
			struct capture_flow *out, size_t max)
{
	size_t n = 0, s = *cursor, end = s + nslots;

	if (end > t->slots)
		end = t->slots;
	for (; s < end && n < max; s++)
		if (*tag_at(t, s))
			make_record(t, ent_at(t, s), CAPTURE_END_ACTIVE_FLOW, &out[n++]);
	*cursor = s;
	return n;
}

/* ------------------------------------------------------------------------
 * Flow deltas metered in the kernel (eBPF backend, flow/flow_agg.h): each
 * side goes through update_one as one packet carrying its whole delta, then
 * the entry gets the side's other packets, last time and TTL range.
 */
#include "flow/flow_agg.h"

static void agg_side(struct pc_flow_table *t, const struct pc_flow_key *key, int side,
		     const struct pc_flow_agg_dir *d, struct pc_flow_sink *out)
{
	struct pc_flow_key k = *key;
	struct pc_flow_entry *e;
	struct pc_meta m;
	uint64_t h;
	long s;
	int dir;

	memset(&m, 0, sizeof(m));
	if (side) { /* as sent: the sender first */
		memcpy(k.addr[0], key->addr[1], 16);
		memcpy(k.addr[1], key->addr[0], 16);
		k.port[0] = key->port[1];
		k.port[1] = key->port[0];
	}
	m.key = k;
	m.ts_ns = d->first_ns;
	m.ip_bytes = (uint32_t)d->bytes;
	m.pl_len = (uint32_t)d->payload;
	m.wirelen = m.ip_bytes;
	/* SYN without ACK first: the pure SYN decides the source side */
	m.tcp_flags = d->syn_only ? (uint8_t)(d->flags & ~TCP_ACK) : d->flags;
	m.icmp_type = d->icmp_type;
	m.icmp_code = d->icmp_code;
	m.tos = d->tos;
	m.ttl = d->ttl_min;
	m.flags = PC_META_HAS_L4;
	if (d->has_mac) {
		memcpy(m.mac, d->mac, sizeof(m.mac));
		m.flags |= PC_META_HAS_MAC;
	}
	dir = t->uniflow ? 0 : pc_flow_key_canon(&k);
	h = pc_flow_key_hash(&k, &t->hk);
	update_one(t, &k, dir, h, &m, out);
	s = lookup(t, &k, h);
	if (s < 0)
		return;
	e = ent_at(t, (size_t)s);
	/* the rest of the delta: 32-bit meta fields carried only the first part */
	e->bytes[dir] += d->bytes - m.ip_bytes;
	payload_add(e, dir, d->payload - m.pl_len);
	t->cnt.bytes += d->bytes - m.ip_bytes;
	e->pkts[dir] += d->pkts - 1;
	t->cnt.packets += d->pkts - 1;
	e->flags[dir] |= d->flags;
	if (d->last_ns > e->last[dir])
		e->last[dir] = d->last_ns;
	if (d->ttl_min < e->ttl_min[dir])
		e->ttl_min[dir] = d->ttl_min;
	if (d->ttl_max > e->ttl_max[dir])
		e->ttl_max[dir] = d->ttl_max;
}

void pc_flow_apply_agg(struct pc_flow_table *t, const struct pc_flow_agg *a,
		       struct pc_flow_sink *out)
{
	int first = !a->d[0].pkts || (a->d[1].pkts && a->d[1].first_ns < a->d[0].first_ns);

	if (a->d[first].pkts)
		agg_side(t, &a->key, first, &a->d[first], out);
	if (a->d[!first].pkts)
		agg_side(t, &a->key, !first, &a->d[!first], out);
}
