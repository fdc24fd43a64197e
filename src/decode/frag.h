/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP fragment table (internal to the decoder): remembers the L4 ports of first
 * fragments so later fragments of the same datagram join the same flow.
 * Fixed size, set-associative, expiry by packet time; nothing allocated per packet.
 */
#ifndef PC_DECODE_FRAG_H
#define PC_DECODE_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#define PC_FRAG_WAYS 4

/* Identity of a datagram; padding-free so it compares with memcmp. */
struct pc_frag_id {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id; /* IPv4: 16-bit id; IPv6: fragment header id */
	uint8_t ipver;
	uint8_t proto; /* IPv4 protocol / IPv6 fragment header next header */
	uint8_t pad[2];
};

/* What a later fragment inherits from the first one. */
struct pc_frag_l4 {
	uint16_t port[2];
	uint8_t proto; /* upper-layer protocol (after IPv6 extension headers) */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t has_l4;
};

struct pc_frag_ent {
	struct pc_frag_id id;
	struct pc_frag_l4 l4;
	uint64_t ts_ns; /* packet time of the first fragment */
	uint8_t used;
};

struct pc_frag_table {
	struct pc_frag_ent *ent; /* nsets * ways entries */
	uint32_t set_mask;	 /* nsets - 1 */
	uint32_t ways;
	uint64_t timeout_ns;
	uint64_t seed;
};

/* @slots: rounded up to a power of two (0: 4096, max 1 << 20 else -EINVAL). */
int pc_frag_init(struct pc_frag_table *t, uint32_t slots, uint64_t timeout_ns);
void pc_frag_release(struct pc_frag_table *t);

/* Record (or refresh) a first fragment. Returns true when a live entry of
 * another datagram had to be replaced (the set was full). */
bool pc_frag_record(struct pc_frag_table *t, const struct pc_frag_id *id,
		    const struct pc_frag_l4 *l4, uint64_t now_ns);

/* Find the first fragment of @id that has not expired at @now_ns. */
bool pc_frag_lookup(const struct pc_frag_table *t, const struct pc_frag_id *id, uint64_t now_ns,
		    struct pc_frag_l4 *l4);

#endif
