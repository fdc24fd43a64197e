/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eBPF flow meter (XDP or TC ingress): bounded decode of Ethernet, one VLAN
 * tag, IPv4 (options skipped), IPv6 (hop-by-hop, routing, destination
 * options: up to 4), TCP/UDP/UDP-Lite/SCTP/DCCP/ICMP/ICMPv6 (other protocols
 * as address pairs); the canonical biflow key of user space; per-CPU flow
 * entries in the map the outer array currently names. Every packet it cannot
 * meter in full is copied into a ring buffer for user space, with the reason.
 * Packets always pass on, unless fm_drop (a dedicated capture port).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "flow_meter.h"

#define SCRATCH 512
#define HDR_MAX 256 /* header bytes looked at; deeper headers: handed up */
#define MAX_EXT 4

#define E2BIG_ 7
#define EEXIST_ 17

struct fm_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	/* entries allocated on insert: preallocating 65536 per-CPU values
	 * took ~0.4 s of system time per map at start */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* set by user space before load */
	__type(key, struct fm_key);
	__type(value, struct fm_val);
};

struct fm_map fm_flows0 SEC(".maps");
struct fm_map fm_flows1 SEC(".maps");

/* The map being filled: user space swaps the other one in, and the kernel
 * waits for every running program before the update returns. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fm_map);
} fm_active SEC(".maps") = {
	.values = { &fm_flows0 },
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 26); /* set by user space before load */
} fm_ring SEC(".maps");

struct fm_scratch {
	__u8 b[SCRATCH];
	struct fm_val nv; /* a new map entry (too large for the stack) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fm_scratch);
} fm_buf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fm_counters);
} fm_ctr SEC(".maps");

/* Set by user space (mmapped .bss). */
volatile __u32 fm_enabled;  /* 0: pass everything untouched, uncounted */
volatile __u32 fm_hand_all; /* a filter: every packet goes up (FM_UP_FILTER) */
volatile __u32 fm_drop;	    /* drop after metering */
__u64 fm_tun_ports[1024];   /* UDP ports user space decapsulates (bitmap) */

struct pkt {
	void *ctx;
	__u32 len;
	__u16 vlan_tci;
	__u16 vlan_proto;
	__u8 vlan_hw;
};

/* What one packet adds to its direction. */
struct info {
	__u32 ip_bytes;
	__u32 payload;
	__u32 wire;
	__u8 flags, tos, ttl, icmp_type, icmp_code, syn_only;
};

static __always_inline void count(struct fm_counters *c, int i)
{
	if (c && i >= 0 && i < FM_NCOUNTERS)
		c->c[i]++;
}

static __always_inline __u16 rd16(const __u8 *b, __u32 o)
{
	return (__u16)(b[o & 0xff] << 8 | b[(o + 1) & 0x1ff]);
}

/* ICMP echo/reply style pairs: a reply's type becomes its request's. */
static __always_inline __u8 icmp_req(__u8 proto, __u8 t)
{
	if (proto == 58) {
		switch (t) {
		case 129:
			return 128;
		case 134:
			return 133;
		case 136:
			return 135;
		case 131:
			return 130;
		case 140:
			return 139;
		case 145:
			return 144;
		}
		return t;
	}
	switch (t) {
	case 0:
		return 8;
	case 14:
		return 13;
	case 16:
		return 15;
	case 9:
		return 10;
	case 18:
		return 17;
	}
	return t;
}

/*
 * Decode the @cap header bytes in @b (@len on the wire) into @k (as sent) and
 * @in. 0: meter it; otherwise the enum fm_counter reason to hand it up.
 */
static __always_inline int decode(const __u8 *b, __u32 cap, struct pkt *p, struct fm_key *k,
				  struct info *in)
{
	__u32 off = 14, orig, tot, hl, l4len, i;
	__u16 type;
	__u8 proto;
	int nvlan = 0;

	if (cap < 14)
		return FM_UP_MALFORMED;
	type = rd16(b, 12);
	if (p->vlan_hw) {
		k->vlan = p->vlan_tci & 0x0fff;
		nvlan = 1;
	}
	if (type == ETH_P_8021Q || type == ETH_P_8021AD || type == 0x9100) {
		if (nvlan)
			return FM_UP_VLAN;
		if (cap < 18)
			return FM_UP_MALFORMED;
		k->vlan = rd16(b, 14) & 0x0fff;
		type = rd16(b, 16);
		off = 18;
		if (type == ETH_P_8021Q || type == ETH_P_8021AD || type == 0x9100)
			return FM_UP_VLAN;
	}
	if (p->len < off)
		return FM_UP_MALFORMED;
	orig = p->len - off;
	if (type == ETH_P_IP) {
		__u16 frag;

		if (cap < off + 20)
			return FM_UP_MALFORMED;
		if (b[off & 0xff] >> 4 != 4)
			return FM_UP_MALFORMED;
		hl = (b[off & 0xff] & 0x0f) * 4u;
		tot = rd16(b, off + 2);
		if (hl < 20 || tot < hl || tot > orig || cap < off + hl)
			return FM_UP_MALFORMED;
		frag = rd16(b, off + 6);
		if (frag & 0x3fff)
			return FM_UP_FRAGMENT;
		proto = b[(off + 9) & 0xff];
		for (i = 0; i < 4; i++) {
			k->addr[0][i] = b[(off + 12 + i) & 0xff];
			k->addr[1][i] = b[(off + 16 + i) & 0xff];
		}
		k->ipver = 4;
		in->tos = b[(off + 1) & 0xff];
		in->ttl = b[(off + 8) & 0xff];
		in->ip_bytes = tot;
		l4len = tot - hl;
		off += hl;
	} else if (type == ETH_P_IPV6) {
		__u32 o = 40, n;

		if (cap < off + 40)
			return FM_UP_MALFORMED;
		if (b[off & 0xff] >> 4 != 6)
			return FM_UP_MALFORMED;
		tot = rd16(b, off + 4) + 40u;
		if (tot == 40 || tot > orig) /* jumbogram / TSO or inconsistent */
			return FM_UP_MALFORMED;
		proto = b[(off + 6) & 0xff];
		for (i = 0; i < 16; i++) {
			k->addr[0][i] = b[(off + 8 + i) & 0xff];
			k->addr[1][i] = b[(off + 24 + i) & 0xff];
		}
		k->ipver = 6;
		in->tos = (__u8)(rd16(b, off) >> 4);
		in->ttl = b[(off + 7) & 0xff];
		in->ip_bytes = tot;
		for (n = 0; n <= MAX_EXT; n++) {
			if (proto == 44)
				return FM_UP_FRAGMENT;
			if (proto != 0 && proto != 43 && proto != 60)
				break;
			if (n == MAX_EXT)
				return FM_UP_EXT_HEADER;
			if (tot - o < 2)
				return FM_UP_MALFORMED;
			if (off + o + 2 > cap || off + o + 2 > HDR_MAX)
				return FM_UP_EXT_HEADER;
			hl = (b[(off + o + 1) & 0xff] + 1u) * 8;
			if (tot - o < hl)
				return FM_UP_MALFORMED;
			proto = b[(off + o) & 0xff];
			o += hl;
			if (o > HDR_MAX)
				return FM_UP_EXT_HEADER;
		}
		if (proto == 51)
			return FM_UP_EXT_HEADER;
		l4len = tot - o;
		off += o;
	} else {
		return FM_UP_NON_IP;
	}
	if (off > HDR_MAX - 20)
		return FM_UP_EXT_HEADER;
	k->proto = proto;
	in->payload = l4len;
	switch (proto) {
	case 4:
	case 41:
	case 47:
		return FM_UP_TUNNEL;
	case 6: {
		__u32 doff;

		if (l4len < 20)
			return FM_UP_MALFORMED;
		if (cap < off + 20)
			return FM_UP_MALFORMED;
		k->port[0] = rd16(b, off);
		k->port[1] = rd16(b, off + 2);
		in->flags = b[(off + 13) & 0xff];
		in->syn_only = (in->flags & 0x12) == 0x02;
		doff = (b[(off + 12) & 0xff] >> 4) * 4u;
		in->payload = doff >= 20 && doff <= l4len ? l4len - doff : 0;
		return 0;
	}
	case 17:
	case 136:
	case 132:
	case 33:
		if (l4len < 4 || cap < off + 4)
			return FM_UP_MALFORMED;
		k->port[0] = rd16(b, off);
		k->port[1] = rd16(b, off + 2);
		if (proto == 17 &&
		    ((fm_tun_ports[(k->port[0] >> 6) & 1023] >> (k->port[0] & 63)) & 1 ||
		     (fm_tun_ports[(k->port[1] >> 6) & 1023] >> (k->port[1] & 63)) & 1))
			return FM_UP_TUNNEL;
		if (proto == 17 || proto == 136)
			in->payload = l4len >= 8 ? l4len - 8 : 0;
		return 0;
	case 1:
	case 58:
		if (l4len < 2 || cap < off + 2)
			return FM_UP_MALFORMED;
		in->icmp_type = b[off & 0xff];
		in->icmp_code = b[(off + 1) & 0xff];
		k->port[0] = (__u16)(icmp_req(proto, in->icmp_type) << 8 | in->icmp_code);
		k->port[1] = k->port[0];
		return 0;
	default:
		return 0; /* ESP, ...: an address-pair flow */
	}
}

/* Canonical order, as pc_flow_key_canon: returns 1 when it swapped. */
static __always_inline int canon(struct fm_key *k)
{
	__u64 a0, a1, b0, b1;
	int i, c = 0;

	__builtin_memcpy(&a0, k->addr[0], 8);
	__builtin_memcpy(&a1, k->addr[0] + 8, 8);
	__builtin_memcpy(&b0, k->addr[1], 8);
	__builtin_memcpy(&b1, k->addr[1] + 8, 8);
	a0 = __builtin_bswap64(a0);
	a1 = __builtin_bswap64(a1);
	b0 = __builtin_bswap64(b0);
	b1 = __builtin_bswap64(b1);
	if (a0 != b0)
		c = a0 < b0 ? -1 : 1;
	else if (a1 != b1)
		c = a1 < b1 ? -1 : 1;
	if (c < 0 || (c == 0 && k->port[0] <= k->port[1]))
		return 0;
	for (i = 0; i < 16; i++) {
		__u8 t = k->addr[0][i];

		k->addr[0][i] = k->addr[1][i];
		k->addr[1][i] = t;
	}
	{
		__u16 t = k->port[0];

		k->port[0] = k->port[1];
		k->port[1] = t;
	}
	return 1;
}

static __always_inline void first_of(struct fm_dir *d, const struct info *in, const __u8 *b,
				     __u64 now)
{
	int i;

	d->first = now;
	d->tos = in->tos;
	d->ttl_min = in->ttl;
	d->ttl_max = in->ttl;
	d->icmp_type = in->icmp_type;
	d->icmp_code = in->icmp_code;
	for (i = 0; i < 6; i++) {
		d->mac[i] = b[6 + i]; /* source */
		d->mac[6 + i] = b[i];
	}
}

static __always_inline void add(struct fm_dir *d, const struct info *in, __u64 now)
{
	if (in->ttl < d->ttl_min)
		d->ttl_min = in->ttl;
	if (in->ttl > d->ttl_max)
		d->ttl_max = in->ttl;
	d->pkts++;
	d->bytes += in->ip_bytes;
	d->wire += in->wire;
	d->payload += in->payload;
	d->flags |= in->flags;
	d->syn_only |= in->syn_only;
	d->last = now;
}

/* 0: metered; otherwise the reason to hand the packet up. */
static __always_inline int meter(struct fm_scratch *s, const struct fm_key *k,
				 const struct info *in, int dir, __u64 now)
{
	const __u8 *b = s->b;
	__u32 zero = 0;
	void *map = bpf_map_lookup_elem(&fm_active, &zero);
	struct fm_val *v;
	struct fm_dir *d;

	if (!map)
		return FM_ERRORS;
	v = bpf_map_lookup_elem(map, k);
	if (!v) {
		long err;

		__builtin_memset(&s->nv, 0, sizeof(s->nv));
		d = &s->nv.d[dir & 1];
		first_of(d, in, b, now);
		add(d, in, now);
		err = bpf_map_update_elem(map, k, &s->nv, BPF_NOEXIST);
		if (!err)
			return 0;
		if (err != -EEXIST_)
			return FM_UP_MAP_FULL;	 /* -E2BIG, or no memory */
		v = bpf_map_lookup_elem(map, k); /* another CPU inserted it */
		if (!v)
			return FM_UP_MAP_FULL;
	}
	d = &v->d[dir & 1];
	if (!d->pkts)
		first_of(d, in, b, now);
	add(d, in, now);
	return 0;
}

static __always_inline int hand_up(struct pkt *p, int xdp, int reason, __u64 now,
				   struct fm_counters *c)
{
	struct fm_rec *r = bpf_ringbuf_reserve(&fm_ring, sizeof(*r), 0);
	__u32 n = p->len;
	long err;

	if (!r) {
		count(c, FM_RING_FULL);
		return -1;
	}
	if (n > FM_SNAP)
		n = FM_SNAP;
	n = ((n - 1) & (FM_SNAP - 1)) + 1; /* 1..FM_SNAP, in a form the verifier follows */
	if (xdp)
		err = bpf_xdp_load_bytes(p->ctx, 0, r->data, n);
	else
		err = bpf_skb_load_bytes(p->ctx, 0, r->data, n);
	if (err) {
		bpf_ringbuf_discard(r, 0);
		count(c, FM_ERRORS);
		return -1;
	}
	r->ts = now;
	r->wirelen = p->len;
	r->caplen = (__u16)n;
	r->reason = (__u8)reason;
	r->vlan_hw = p->vlan_hw;
	r->vlan_tci = p->vlan_tci;
	r->vlan_proto = p->vlan_proto;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	count(c, reason);
	return 0;
}

/* One packet: 0 done (metered or handed up), < 0 lost (counted). */
static __always_inline int process(struct pkt *p, int xdp)
{
	__u32 zero = 0, n;
	struct fm_counters *c = bpf_map_lookup_elem(&fm_ctr, &zero);
	struct fm_scratch *s = bpf_map_lookup_elem(&fm_buf, &zero);
	struct fm_key k = {};
	struct info in = {};
	__u64 now = bpf_ktime_get_ns();
	int why, dir;
	long err;

	count(c, FM_SEEN);
	if (!s) {
		count(c, FM_ERRORS);
		return -1;
	}
	if (fm_hand_all)
		return hand_up(p, xdp, FM_UP_FILTER, now, c);
	n = p->len < HDR_MAX ? p->len : HDR_MAX;
	n = ((n - 1) & (HDR_MAX - 1)) + 1;
	if (xdp)
		err = bpf_xdp_load_bytes(p->ctx, 0, s->b, n);
	else
		err = bpf_skb_load_bytes(p->ctx, 0, s->b, n);
	if (err)
		return hand_up(p, xdp, FM_UP_MALFORMED, now, c);
	why = decode(s->b, n, p, &k, &in);
	if (why)
		return hand_up(p, xdp, why, now, c);
	dir = canon(&k);
	in.wire = p->vlan_hw ? p->len + 4 : p->len; /* as user space would see it */
	why = meter(s, &k, &in, dir, now);
	if (why == FM_ERRORS) {
		count(c, FM_ERRORS);
		return -1;
	}
	if (why)
		return hand_up(p, xdp, why, now, c);
	count(c, FM_METERED);
	return 0;
}

SEC("xdp")
int fm_xdp(struct xdp_md *ctx)
{
	struct pkt p = {};

	if (!fm_enabled)
		return XDP_PASS;
	p.ctx = ctx;
	p.len = bpf_xdp_get_buff_len(ctx);
	process(&p, 1);
	return fm_drop ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int fm_tc(struct __sk_buff *skb)
{
	struct pkt p = {};

	if (!fm_enabled)
		return TC_ACT_UNSPEC;
	p.ctx = skb;
	p.len = skb->len;
	if (skb->vlan_present) {
		p.vlan_hw = 1;
		p.vlan_tci = (__u16)skb->vlan_tci;
		p.vlan_proto = (__u16)skb->vlan_proto;
	}
	process(&p, 0);
	return fm_drop ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
