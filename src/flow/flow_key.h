/* SPDX-License-Identifier: BSD-3-Clause */
/* Fixed-size, zero-padded flow key, canonical ordering and keyed hashing. */
#ifndef PC_FLOW_KEY_H
#define PC_FLOW_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* 40 bytes. IPv4 addresses use addr[i][0..3], the rest stays zero. Always
 * zero the whole struct before filling it: padding takes part in hashing. */
struct pc_flow_key {
	uint8_t addr[2][16];
	uint16_t port[2]; /* host byte order; ICMP: 0 */
	uint16_t vlan;	  /* outer VLAN id, 0 if none */
	uint8_t proto;
	uint8_t ipver; /* 4 or 6 */
};

_Static_assert(sizeof(struct pc_flow_key) == 40, "flow key must stay 40 bytes");

/* Put the key in canonical order (lower address/port side first).
 * Returns true when it swapped the sides (the packet goes side 1 -> side 0). */
bool pc_flow_key_canon(struct pc_flow_key *k);

/* Keyed hash (SipHash-1-3) of a key under a per-process random seed. */
uint64_t pc_flow_key_hash(const struct pc_flow_key *k, const uint64_t seed[2]);

/* Direction-independent hash of the address pair only (+ vlan), for
 * dispatching to workers: both directions and all fragments agree. */
uint32_t pc_flow_key_sym_hash(const struct pc_flow_key *k, const uint64_t seed[2]);

#endif
