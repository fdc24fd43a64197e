/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Community ID v1 (corelight community-id-spec) of a flow record. The ID is
 * computed from the record's innermost tuple when a record is written out,
 * never on the packet path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "packet_capture.h"
#include "flow/flow_key.h"

static EVP_MD *sha1_md; /* fetched once, kept for the process */
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void sha1_fetch(void)
{
	sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

/*
 * Hash input: seed (2 bytes), the two addresses, the protocol, a zero pad
 * byte, then the two ports (all big-endian) when the protocol has them:
 * TCP, UDP, SCTP, and ICMP/ICMPv6 with the type and its counterpart type
 * (or the code, for a type without one) in their place. The lower
 * (address, port) side goes first, except for one-way ICMP messages, which
 * keep their sender first (as Zeek does).
 */
CAPTURE_API int capture_flow_community_id(const struct capture_flow *f, uint16_t seed,
					  char out[CAPTURE_COMMUNITY_ID_LEN])
{
	uint8_t in[2 + 32 + 2 + 4], md[SHA_DIGEST_LENGTH];
	const uint8_t *sa, *da;
	size_t alen, n = 0;
	uint16_t sp = 0, dp = 0;
	bool ports, one_way = false;
	int c;

	if (!f || !out || (f->ip_version != 4 && f->ip_version != 6))
		return -EINVAL;
	alen = f->ip_version == 4 ? 4 : 16;
	sa = f->src_ip;
	da = f->dst_ip;
	ports = has_ports(f->proto);
	if (ports) {
		sp = f->src_port;
		dp = f->dst_port;
	} else if (f->proto == 1 || f->proto == 58) {
		bool req;
		int peer = pc_icmp_counterpart(f->proto, f->icmp_type, &req);

		sp = f->icmp_type;
		dp = peer >= 0 ? (uint16_t)peer : f->icmp_code;
		one_way = peer < 0;
		ports = true;
	}
	c = memcmp(sa, da, alen);
	if (!one_way && (c > 0 || (c == 0 && sp > dp))) {
		const uint8_t *ta = sa;
		uint16_t tp = sp;

		sa = da;
		da = ta;
		sp = dp;
		dp = tp;
	}
	in[n++] = (uint8_t)(seed >> 8);
	in[n++] = (uint8_t)seed;
	memcpy(in + n, sa, alen);
	n += alen;
	memcpy(in + n, da, alen);
	n += alen;
	in[n++] = f->proto;
	in[n++] = 0;
	if (ports) {
		in[n++] = (uint8_t)(sp >> 8);
		in[n++] = (uint8_t)sp;
		in[n++] = (uint8_t)(dp >> 8);
		in[n++] = (uint8_t)dp;
	}
	/* SHA1() fetches the algorithm on every call (OpenSSL 3): half the cost */
	pthread_once(&sha1_once, sha1_fetch);
	if (!sha1_md || !EVP_Digest(in, n, md, NULL, sha1_md, NULL))
		return -ENOMEM;
	out[0] = '1';
	out[1] = ':';
	EVP_EncodeBlock((unsigned char *)out + 2, md, SHA_DIGEST_LENGTH); /* 28 chars + NUL */
	return 0;
}
