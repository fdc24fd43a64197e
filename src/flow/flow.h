/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table shard: one per worker, single-threaded, fixed memory.
 *
 * Layout: 2^k buckets of 16 slots. Each bucket's 16 32-bit tags fill one
 * cache line, the pool index of each slot's entry the next. Entries (256
 * bytes; an ordinary packet updates the first 128) live in a compact pool
 * that hands out freed entries first, so the memory touched follows the
 * flows alive at a time, not the table size; what only tunnelled or MPLS
 * flows carry sits in a side pool touched only by them. A key may sit in
 * either of two buckets (two-choice hashing); a new flow takes its first
 * bucket while that has room, and a per-bucket count of the flows that
 * overflowed to their second tells a lookup whether to read it. The lookup
 * is staged over a burst: hash + prefetch bucket lines, prefetch the
 * candidate entry, then update.
 *
 * Expiry model (packet time, so a file replays identically every time):
 *  - a packet arriving more than idle_timeout after the flow's last packet
 *    ends the old flow ("idle") and starts a new one;
 *  - a packet arriving when now - first >= active_timeout ends the old flow
 *    ("active") and starts a new one with this packet;
 *  - TCP: once a FIN has been seen from both sides, or an RST from either,
 *    the flow is closing: later packets (the last ACK, retransmissions) still
 *    count in it, and it ends ("end") after close_timeout without packets,
 *    or at once when a new SYN reuses the 5-tuple (the SYN starts a new
 *    flow), or at end of input;
 *  - a bounded sweep (a slice of the table per call) ends flows idle for
 *    longer than idle_timeout and closing flows quiet for close_timeout;
 *  - table full (both candidate buckets full): an expired candidate is
 *    reclaimed first, otherwise the least recently seen of the 32 candidates
 *    is evicted ("evicted") to make room. Never a stall.
 */
#ifndef PC_FLOW_H
#define PC_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"
#include "decode/meta.h"
#include "flow/flow_key.h"

struct pc_inspect;

#define PC_FLOW_BUCKET_SLOTS 16
#define PC_FLOW_CLOSE_TIMEOUT_NS (5ull * 1000000000ull)

struct pc_flow_params {
	uint32_t slots; /* rounded up to a power of two, >= 4096 */
	uint64_t idle_ns;
	uint64_t active_ns;
	uint64_t close_ns; /* 0: PC_FLOW_CLOSE_TIMEOUT_NS */
	bool uniflow;
	bool tcp_health; /* conn_state, history, retransmissions, RTT (tcp_health.h) */
	uint16_t worker;
	uint16_t cid_seed; /* Community ID seed, copied into every record */
	uint32_t ifindex;  /* live: the interface's index (the record's interface);
			      0: the key's pcapng interface id */
	uint64_t seed[2];
	struct pc_inspect *insp; /* the worker's inspection (NULL: none), not owned */
};

/* Single writer (the owning worker); others read them relaxed. */
struct pc_flow_counters {
	uint64_t packets; /* packets accounted in flows */
	uint64_t bytes;	  /* IP octets accounted */
	uint64_t created;
	uint64_t active;			  /* flows in the table now */
	uint64_t ended[CAPTURE_END_SHUTDOWN + 1]; /* by end reason */
};

/*
 * Where the records of flows leaving the table go: @get gives the place the
 * next record is built in (never NULL; the table zeroes and fills it), @put
 * hands it on once complete, before the next @get. A worker builds records
 * straight in its export ring (engine/worker.c).
 */
struct pc_flow_sink {
	struct capture_flow *(*get)(struct pc_flow_sink *s);
	void (*put)(struct pc_flow_sink *s, struct capture_flow *rec);
};

/* Receives each record; @rec lives for the call. */
typedef void (*pc_flow_emit_fn)(void *ctx, const struct capture_flow *rec);

/* A sink for callers that only want each record (tests, benches): built in
 * @rec, then given to fn(ctx, rec). PC_FLOW_CB(fn, ctx) makes one that lives
 * for the enclosing block. */
struct pc_flow_cb_sink {
	struct pc_flow_sink s;
	pc_flow_emit_fn fn;
	void *ctx;
	struct capture_flow rec;
};

static inline struct capture_flow *pc_flow_cb_get(struct pc_flow_sink *s)
{
	return &((struct pc_flow_cb_sink *)s)->rec;
}

static inline void pc_flow_cb_put(struct pc_flow_sink *s, struct capture_flow *rec)
{
	struct pc_flow_cb_sink *b = (struct pc_flow_cb_sink *)s;

	b->fn(b->ctx, rec);
}

#define PC_FLOW_CB(f, c)                                                         \
	(&(struct pc_flow_cb_sink){                                              \
		.s = { pc_flow_cb_get, pc_flow_cb_put }, .fn = (f), .ctx = (c) } \
		  .s)

struct pc_flow_table;

int pc_flow_table_create(struct pc_flow_table **out, const struct pc_flow_params *p);
void pc_flow_table_destroy(struct pc_flow_table *t);

/* Account @n decoded packets (staged lookup). */
void pc_flow_update_burst(struct pc_flow_table *t, const struct pc_meta *m, unsigned n,
			  struct pc_flow_sink *out);

/* Sweep a slice of the table sized to the packet time elapsed since the
 * last call (a full pass per idle timeout, at most one per second),
 * visiting at most @max_slots slots. Returns the number of flows ended. */
unsigned pc_flow_expire(struct pc_flow_table *t, uint64_t now_ns, unsigned max_slots,
			struct pc_flow_sink *out);

/* End every flow: those already expired at @now_ns (0: none) with their
 * expiry reason, closing TCP flows with "end", the rest with @reason. So a
 * file ends the same way whatever the sweep had reached. */
void pc_flow_flush(struct pc_flow_table *t, uint64_t now_ns, int reason, struct pc_flow_sink *out);

/* Drop every flow without emitting (counted by the caller). Returns count. */
uint64_t pc_flow_clear(struct pc_flow_table *t);

/* Find the flow of @key (any direction; key need not be canonical). */
int pc_flow_find(const struct pc_flow_table *t, const struct pc_flow_key *key,
		 struct capture_flow *out);

/* Copy active flows found in slots [*cursor, *cursor + nslots) into @out
 * (at most @max), advancing *cursor. Returns the number copied. */
size_t pc_flow_snapshot(const struct pc_flow_table *t, size_t *cursor, size_t nslots,
			struct capture_flow *out, size_t max);

size_t pc_flow_table_slots(const struct pc_flow_table *t);
const struct pc_flow_counters *pc_flow_table_counters(const struct pc_flow_table *t);

#endif
