/* SPDX-License-Identifier: BSD-3-Clause */
/* Fixed-size, zero-padded flow key, canonical ordering and keyed hashing. */
#ifndef PC_FLOW_KEY_H
#define PC_FLOW_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* 48 bytes. IPv4 addresses use addr[i][0..3], the rest stays zero. Always
 * zero the whole struct before filling it: padding takes part in hashing.
 * Innermost conversation; the tunnel and interface keep tenants apart. */
struct pc_flow_key {
	uint8_t addr[2][16];
	uint16_t port[2]; /* host byte order; ICMP/ICMPv6: both type << 8 | code,
			     a reply's type mapped to its request's (one biflow) */
	uint16_t vlan;	  /* outer VLAN id, 0 if none */
	uint8_t proto;
	uint8_t ipver;	     /* 4 or 6 */
	uint32_t tunnel_id;  /* VNI / GRE key / VSID / ERSPAN session; 0 for GTP-U
			       (its TEID differs per direction) and no tunnel */
	uint16_t iface;	     /* pcapng interface id; live: 0 (one interface) */
	uint8_t tunnel_type; /* enum capture_tunnel */
	uint8_t pad;
};

_Static_assert(sizeof(struct pc_flow_key) == 48, "flow key must stay 48 bytes");

/* Put the key in canonical order (lower address/port side first).
 * Returns true when it swapped the sides (the packet goes side 1 -> side 0). */
bool pc_flow_key_canon(struct pc_flow_key *k);

/*
 * ICMP (@proto 1) and ICMPv6 (58) message types that come in pairs (echo
 * and its reply, ...), as Zeek and Community ID pair them. Returns the
 * counterpart of @type, or -1 for a type without one (an unreachable, a
 * time exceeded: one-way). *is_request tells which half @type is.
 */
int pc_icmp_counterpart(uint8_t proto, uint8_t type, bool *is_request);

/* The key's port for an ICMP message: type << 8 | code, a reply's type
 * mapped to its request's, so both halves of an exchange are one flow. */
static inline uint16_t pc_icmp_key_port(uint8_t proto, uint8_t type, uint8_t code)
{
	bool req;
	int peer = pc_icmp_counterpart(proto, type, &req);

	if (peer >= 0 && !req)
		type = (uint8_t)peer;
	return (uint16_t)(type << 8 | code);
}

/* Key of the flow hash, expanded once from the random per-process seed. */
struct pc_hash_key {
	uint64_t k[6];
};

void pc_hash_key_init(struct pc_hash_key *hk, const uint64_t seed[2]);

/*
 * Keyed hash of a flow key: NH (the universal hash inside UMAC) over the
 * six 64-bit words, sum of (w0+k0)(w1+k1) + (w2+k2)(w3+k3) + (w4+k4)(w5+k5) in
 * 128 bits, folded and mixed. For a key the sender does not know, two
 * different flow keys collide with probability about 2^-64, so traffic
 * cannot be crafted to pile into one bucket; it costs three multiplies,
 * about half of SipHash-1-3 here.
 */
static inline uint64_t pc_flow_key_hash(const struct pc_flow_key *k, const struct pc_hash_key *hk)
{
	uint64_t w[6], x;
	unsigned __int128 s;

	memcpy(w, k, sizeof(w));
	s = (unsigned __int128)(w[0] + hk->k[0]) * (w[1] + hk->k[1]);
	s += (unsigned __int128)(w[2] + hk->k[2]) * (w[3] + hk->k[3]);
	s += (unsigned __int128)(w[4] + hk->k[4]) * (w[5] + hk->k[5]);
	x = (uint64_t)s ^ (uint64_t)(s >> 64);
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

/* Direction-independent hash of the address pair only (+ vlan), for
 * dispatching to workers: both directions and all fragments agree. */
uint32_t pc_flow_key_sym_hash(const struct pc_flow_key *k, const uint64_t seed[2]);

#endif
