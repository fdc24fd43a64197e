/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AF_PACKET TPACKET_V3 backend: one mmap'd block ring per worker socket, walked
 * a block at a time; a block goes back to the kernel only when every packet
 * handed out from it has been released. Several sockets form a PACKET_FANOUT
 * group whose classic BPF program hashes the address pair symmetrically, so
 * both directions and every fragment of a flow reach the same worker.
 */
#include <net/if.h>
#include <net/if_arp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture/bpf.h"
#include "capture/capture.h"
#include "capture/tstamp.h"
#include "util/compiler.h"
#include "util/env.h"
#include "util/log.h"
#include "util/privs.h"

#define AFP_BLOCK_SIZE (1u << 20) /* holds any snaplen (<= 256 KiB) packet */
#define AFP_FRAME_SIZE 2048	  /* only used to size tp_frame_nr */
#define AFP_RETIRE_TOV_MS 10	  /* measured: see docs/BACKENDS.md */
#define AFP_MAX_QUEUES 64
#define VLAN_TAG_LEN 4
/* prefetch distance in the block: the header load of the next packet was the
 * walk's main stall (the kernel wrote the block from another CPU); 256/512
 * bytes ahead (1-4 small packets) was too close, 4 KiB measured best */
#define AFP_PREFETCH 4096

struct afp_queue {
	/* hot: touched every burst by the owning worker only */
	uint8_t *ring;
	unsigned nblocks;
	unsigned cur; /* block being walked / next to wait for */
	bool active;  /* cur is owned by us and partly walked */
	unsigned pkt_left;
	uint8_t *pkt_next;
	unsigned rel_first; /* first block walked to its end, not released */
	unsigned rel_count;
	int fd;
	struct pc_tstamp ts;
	const struct pc_bpf *vlan_filter; /* user-space check of tagged frames */
	size_t ring_len;
	/* read by other threads */
	_Atomic uint64_t k_packets;
	_Atomic uint64_t k_drops;
	_Atomic uint64_t k_freeze;
	_Atomic uint64_t vlan_filtered;
} pc_cache_aligned;

struct afp {
	unsigned nq;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint64_t ifdrop_base; /* rx_dropped at open */
	struct pc_bpf *filter;
	struct pc_tstamp ts; /* owns the PTP fd, copied per queue */
	struct afp_queue q[];
};

static int afp_probe(const char *ifname, char *reason, size_t len)
{
	int fd, ret;

	ret = pc_check_capability(PC_CAP_NET_RAW, reason, len);
	if (ret < 0)
		return ret;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(reason, len, "socket(AF_PACKET): %s", strerror(errno));
		return ret;
	}
	close(fd);
	if (ifname && !if_nametoindex(ifname)) {
		snprintf(reason, len, "no such interface '%s'", ifname);
		return -ENODEV;
	}
	snprintf(reason, len, "AF_PACKET TPACKET_V3 ring with PACKET_FANOUT (CAP_NET_RAW held)");
	return 0;
}

static int linktype_of(const char *ifname, int *dlt, char *err, size_t len)
{
	struct ifreq ifr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		ret = -errno;
		snprintf(err, len, "afpacket: %s: SIOCGIFHWADDR: %s", ifname, strerror(errno));
		goto out;
	}
	switch (ifr.ifr_hwaddr.sa_family) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		*dlt = PC_DLT_EN10MB;
		break;
	case ARPHRD_NONE:
	case ARPHRD_PPP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_IPGRE:
		*dlt = PC_DLT_RAW;
		break;
	default:
		snprintf(err, len, "afpacket: %s: hardware type %u not supported (use -b pcap)",
			 ifname, ifr.ifr_hwaddr.sa_family);
		ret = -CAPTURE_E_LINKTYPE;
	}
out:
	close(fd);
	return ret;
}

#define STMT(c, k) ((struct sock_filter){ (c), 0, 0, (uint32_t)(k) })
#define JUMP(c, k, t, f) ((struct sock_filter){ (c), (t), (f), (uint32_t)(k) })

/*
 * Fanout program: the member is a hash of the unordered address pair (the
 * kernel takes it modulo the member count). The pair is put in order (min,
 * max) before an order-dependent multiply-xor mix, so both directions agree;
 * ports are ignored, so every fragment of a datagram agrees too. (A plain XOR
 * of the two addresses is symmetric as well but maps every pair with the same
 * XOR, e.g. 198.18.0.k <-> 198.19.0.k, to one member.) IPv6 addresses are
 * first folded to 32 bits by XOR of their words.
 * Loads are relative to the network header (SKF_NET_OFF): incoming frames have
 * their outer VLAN tag in skb metadata already and outgoing frames still start
 * at the MAC header, so offsets from the packet start would differ by
 * direction. One in-band tag (QinQ inner) is skipped with X = 4. Non-IP goes
 * to member 0.
 */
static unsigned build_fanout_prog(struct sock_filter *p, size_t max)
{
	unsigned n = 0, ipv4, ipv6, pair, ret0, j_ipv4, j_ipv6, ja_v4, ja_v6, off;

	if (max < 96)
		return 0;
	p[n++] = STMT(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL);
	p[n++] = STMT(BPF_LDX | BPF_W | BPF_IMM, 0);
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_8021Q, 1, 0);
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_8021AD, 0, 2);
	p[n++] = STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 2);
	p[n++] = STMT(BPF_LDX | BPF_W | BPF_IMM, VLAN_TAG_LEN);
	j_ipv4 = n;
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 0); /* patched */
	j_ipv6 = n;
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 0); /* patched */
	ret0 = n;
	p[n++] = STMT(BPF_RET | BPF_K, 0);

	/* IPv4: M0 = source, A = destination */
	ipv4 = n;
	p[n++] = STMT(BPF_LD | BPF_W | BPF_IND, SKF_NET_OFF + 12);
	p[n++] = STMT(BPF_ST, 0);
	p[n++] = STMT(BPF_LD | BPF_W | BPF_IND, SKF_NET_OFF + 16);
	ja_v4 = n;
	p[n++] = STMT(BPF_JMP | BPF_JA, 0); /* patched */

	/* IPv6: M0 = XOR of the source words, A = XOR of the destination words */
	ipv6 = n;
	p[n++] = STMT(BPF_STX, 2); /* keep the base offset */
	for (off = 8; off < 40; off += 4) {
		unsigned m = off < 24 ? 0 : 1;

		if (off != 8)
			p[n++] = STMT(BPF_LDX | BPF_W | BPF_MEM, 2);
		p[n++] = STMT(BPF_LD | BPF_W | BPF_IND, SKF_NET_OFF + off);
		if (off != 8 && off != 24) {
			p[n++] = STMT(BPF_LDX | BPF_W | BPF_MEM, m);
			p[n++] = STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
		}
		if (off != 36)
			p[n++] = STMT(BPF_ST, m);
	}
	ja_v6 = n;
	p[n++] = STMT(BPF_JMP | BPF_JA, 0); /* patched */

	/* A = b, M0 = a: order the pair into M0 = min, M1 = max, then mix */
	pair = n;
	p[n++] = STMT(BPF_ST, 1);
	p[n++] = STMT(BPF_LDX | BPF_W | BPF_MEM, 0);
	p[n++] = JUMP(BPF_JMP | BPF_JGT | BPF_X, 0, 2, 0);
	p[n++] = STMT(BPF_ST, 0);
	p[n++] = STMT(BPF_STX, 1);
	p[n++] = STMT(BPF_LD | BPF_W | BPF_MEM, 0);
	p[n++] = STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u);
	p[n++] = STMT(BPF_LDX | BPF_W | BPF_MEM, 1);
	p[n++] = STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	p[n++] = STMT(BPF_ALU | BPF_MUL | BPF_K, 0x85ebca6bu);
	p[n++] = STMT(BPF_MISC | BPF_TAX, 0);
	p[n++] = STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
	p[n++] = STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	p[n++] = STMT(BPF_RET | BPF_A, 0);

	p[j_ipv4].jt = (uint8_t)(ipv4 - j_ipv4 - 1);
	p[j_ipv6].jt = (uint8_t)(ipv6 - j_ipv6 - 1);
	p[j_ipv6].jf = (uint8_t)(ret0 - j_ipv6 - 1);
	p[ja_v4].k = pair - ja_v4 - 1;
	p[ja_v6].k = pair - ja_v6 - 1;
	return n;
}

static int attach(int fd, struct sock_filter *insns, unsigned n)
{
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

/*
 * The capture filter for the kernel (pc_bpf_socket_prog: tagged frames pass
 * it and walk() runs the same program on them in user space). On @loopback
 * every packet is seen leaving and arriving: the outgoing copy is dropped, as
 * libpcap does. A filter rather than PACKET_IGNORE_OUTGOING: a fanout group
 * ignores that per-socket option (the group's own flag needs Linux 6.2), and a
 * frame the filter drops is not counted in tp_packets, so the kernel's count
 * stays what was delivered.
 */
static int build_filter(struct afp *a, const struct pc_cap_params *p, int dlt, bool loopback,
			struct sock_filter **out, unsigned *nout, char *err, size_t errlen)
{
	struct sock_filter *ins;
	unsigned n;
	int ret;

	if (!p->filter || !p->filter[0]) {
		ins = calloc(1, sizeof(*ins));
		if (!ins)
			return -ENOMEM;
		ins[0] = STMT(BPF_RET | BPF_K, p->snaplen);
		n = 1;
	} else {
		ret = pc_bpf_create(&a->filter, p->filter, dlt, p->snaplen, err, errlen);
		if (ret < 0)
			return ret;
		ret = pc_bpf_socket_prog(a->filter, dlt, p->snaplen, &ins);
		if (ret < 0)
			return ret;
		n = (unsigned)ret;
	}
	if (loopback && pc_capture_drop_outgoing(&ins, &n) < 0) {
		free(ins);
		return -ENOMEM;
	}
	if (n > BPF_MAXINSNS) {
		free(ins);
		return pc_errf(err, errlen, -CAPTURE_E_FILTER,
			       "filter too long for the kernel (%u instructions)", n);
	}
	*out = ins;
	*nout = n;
	return 0;
}

static int setup_socket(struct afp *a, struct afp_queue *q, const struct pc_cap_params *p,
			size_t ring_bytes, char *err, size_t errlen)
{
	struct sock_filter drop_all = STMT(BPF_RET | BPF_K, 0);
	struct tpacket_req3 req;
	struct sockaddr_ll sll;
	int v, ret;

	q->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: nothing yet */
	if (q->fd < 0) {
		ret = -errno;
		if (errno == EPERM || errno == EACCES)
			snprintf(err, errlen,
				 "socket(AF_PACKET): %s: missing capability "
				 "CAP_NET_RAW",
				 strerror(errno));
		else
			snprintf(err, errlen, "socket(AF_PACKET): %s", strerror(errno));
		return ret;
	}
	v = TPACKET_V3;
	if (setsockopt(q->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		goto fail_opt;
	v = VLAN_TAG_LEN; /* room to put a stripped VLAN tag back in front */
	if (setsockopt(q->fd, SOL_PACKET, PACKET_RESERVE, &v, sizeof(v)) < 0)
		goto fail_opt;
	if (q->ts.hw) {
		v = SOF_TIMESTAMPING_RAW_HARDWARE;
		if (setsockopt(q->fd, SOL_PACKET, PACKET_TIMESTAMP, &v, sizeof(v)) < 0)
			goto fail_opt;
	}
	/* until every fanout member is in place, no packet may land anywhere */
	ret = attach(q->fd, &drop_all, 1);
	if (ret < 0) {
		snprintf(err, errlen, "SO_ATTACH_FILTER: %s", strerror(-ret));
		return ret;
	}
	memset(&req, 0, sizeof(req));
	req.tp_block_size = AFP_BLOCK_SIZE;
	req.tp_block_nr = (unsigned)(ring_bytes / AFP_BLOCK_SIZE);
	req.tp_frame_size = AFP_FRAME_SIZE;
	req.tp_frame_nr = req.tp_block_nr * (AFP_BLOCK_SIZE / AFP_FRAME_SIZE);
	/* PC_AFP_BLOCK_TOV_MS overrides the block retire timeout (1..1000 ms) */
	req.tp_retire_blk_tov = pc_env_uint("PC_AFP_BLOCK_TOV_MS", AFP_RETIRE_TOV_MS, 1, 1000);
	req.tp_feature_req_word = 0;
	if (setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "PACKET_RX_RING (%u blocks of %u KiB): %s", req.tp_block_nr,
			 AFP_BLOCK_SIZE >> 10, strerror(errno));
		return ret;
	}
	q->nblocks = req.tp_block_nr;
	q->ring_len = (size_t)req.tp_block_nr * req.tp_block_size;
	q->ring = mmap(NULL, q->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, q->fd,
		       0);
	if (q->ring == MAP_FAILED) {
		ret = -errno;
		q->ring = NULL;
		snprintf(err, errlen, "mmap of the %zu MiB ring: %s", q->ring_len >> 20,
			 strerror(errno));
		return ret;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = a->ifindex;
	if (bind(q->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "bind to %s: %s", p->interface, strerror(errno));
		return ret;
	}
	if (p->promiscuous) {
		struct packet_mreq mr;

		memset(&mr, 0, sizeof(mr));
		mr.mr_ifindex = a->ifindex;
		mr.mr_type = PACKET_MR_PROMISC;
		if (setsockopt(q->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
			goto fail_opt;
	}
	return 0;
fail_opt:
	ret = -errno;
	snprintf(err, errlen, "setsockopt: %s", strerror(errno));
	return ret;
}

static int join_fanout(struct afp *a, char *err, size_t errlen)
{
	struct sock_filter prog[128];
	struct sock_fprog fp;
	socklen_t sl;
	unsigned i, n;
	int v, id;

	v = (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
	if (setsockopt(a->q[0].fd, SOL_PACKET, PACKET_FANOUT, &v, sizeof(v)) < 0) {
		snprintf(err, errlen, "PACKET_FANOUT (cbpf): %s", strerror(errno));
		return -errno;
	}
	sl = sizeof(v);
	if (getsockopt(a->q[0].fd, SOL_PACKET, PACKET_FANOUT, &v, &sl) < 0) {
		snprintf(err, errlen, "PACKET_FANOUT id: %s", strerror(errno));
		return -errno;
	}
	id = v & 0xffff;
	n = build_fanout_prog(prog, PC_ARRAY_SIZE(prog));
	fp.len = (unsigned short)n;
	fp.filter = prog;
	if (setsockopt(a->q[0].fd, SOL_PACKET, PACKET_FANOUT_DATA, &fp, sizeof(fp)) < 0) {
		snprintf(err, errlen, "PACKET_FANOUT_DATA: %s", strerror(errno));
		return -errno;
	}
	for (i = 1; i < a->nq; i++) {
		v = id | (PACKET_FANOUT_CBPF << 16);
		if (setsockopt(a->q[i].fd, SOL_PACKET, PACKET_FANOUT, &v, sizeof(v)) < 0) {
			snprintf(err, errlen, "PACKET_FANOUT join (member %u): %s", i,
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static void afp_close(struct pc_cap *cap)
{
	struct afp *a = cap->priv;
	unsigned i;

	if (!a)
		return;
	for (i = 0; i < a->nq; i++) {
		if (a->q[i].ring)
			munmap(a->q[i].ring, a->q[i].ring_len);
		if (a->q[i].fd >= 0)
			close(a->q[i].fd);
	}
	pc_tstamp_release(&a->ts);
	pc_bpf_destroy(a->filter);
	free(a);
	cap->priv = NULL;
}

static int afp_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	struct sock_filter *fprog = NULL;
	unsigned mb = p->buffer_size_mb ? p->buffer_size_mb : CAPTURE_BUFFER_MB_MIN;
	unsigned nq = p->workers ? p->workers : 1;
	unsigned i, nfprog = 0, ifflags = 0;
	size_t per_q;
	struct afp *a;
	int dlt = PC_DLT_EN10MB, ret;
	bool loopback;

	ret = pc_capture_check_buffer_mb("afpacket", mb, cap->err, sizeof(cap->err));
	if (ret < 0)
		return ret;
	if (nq > AFP_MAX_QUEUES) {
		snprintf(cap->err, sizeof(cap->err), "afpacket: %u workers, at most %u", nq,
			 AFP_MAX_QUEUES);
		return -CAPTURE_E_CONFIG;
	}
	/* the ring budget is shared by the members; each keeps at least 8 blocks */
	per_q = ((size_t)mb << 20) / nq;
	per_q = PC_MAX(per_q - per_q % AFP_BLOCK_SIZE, (size_t)8 * AFP_BLOCK_SIZE);

	a = calloc(1, sizeof(*a) + nq * sizeof(a->q[0]));
	if (!a)
		return -ENOMEM;
	a->nq = nq;
	for (i = 0; i < nq; i++)
		a->q[i].fd = -1;
	cap->priv = a;
	a->ifindex = (int)if_nametoindex(p->interface);
	if (!a->ifindex) {
		snprintf(cap->err, sizeof(cap->err), "afpacket: no such interface '%s'",
			 p->interface);
		ret = -ENODEV;
		goto fail;
	}
	snprintf(a->ifname, sizeof(a->ifname), "%s", p->interface);
	a->ifdrop_base = pc_if_rx_dropped(a->ifname);
	ret = linktype_of(p->interface, &dlt, cap->err, sizeof(cap->err));
	if (ret < 0)
		goto fail;
	loopback = pc_if_flags(p->interface, &ifflags) == 0 && (ifflags & IFF_LOOPBACK);
	ret = build_filter(a, p, dlt, loopback, &fprog, &nfprog, cap->err, sizeof(cap->err));
	if (ret < 0)
		goto fail;
	pc_tstamp_setup(&a->ts, p->tstamp, p->interface);
	for (i = 0; i < nq; i++) {
		char err[256] = "";

		a->q[i].ts = a->ts;
		a->q[i].vlan_filter = dlt == PC_DLT_EN10MB ? a->filter : NULL;
		ret = setup_socket(a, &a->q[i], p, per_q, err, sizeof(err));
		if (ret < 0) {
			snprintf(cap->err, sizeof(cap->err), "afpacket: %s: %s", p->interface, err);
			goto fail;
		}
	}
	if (nq > 1) {
		ret = join_fanout(a, cap->err, sizeof(cap->err));
		if (ret < 0)
			goto fail;
	}
	/* every member in place: swap drop-all for the real filter */
	for (i = 0; i < nq; i++) {
		ret = attach(a->q[i].fd, fprog, nfprog);
		if (ret < 0) {
			snprintf(cap->err, sizeof(cap->err), "afpacket: SO_ATTACH_FILTER: %s",
				 strerror(-ret));
			goto fail;
		}
	}
	free(fprog);
	cap->nqueues = nq;
	cap->linktype = dlt;
	cap->filter_applied = p->filter && p->filter[0];
	snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "%s", a->ts.source);
	snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail), "%s", a->ts.detail);
	snprintf(cap->mode, sizeof(cap->mode), "tpacket_v3%s", nq > 1 ? " fanout cbpf" : "");
	return 0;
fail:
	free(fprog);
	afp_close(cap);
	return ret;
}

static inline struct tpacket_block_desc *block(struct afp_queue *q, unsigned i)
{
	return (struct tpacket_block_desc *)(q->ring + (size_t)i * AFP_BLOCK_SIZE);
}

static inline bool block_ready(struct afp_queue *q, unsigned i)
{
	return __atomic_load_n(&block(q, i)->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
	       TP_STATUS_USER;
}

/* Hand the blocks walked to their end back to the kernel. */
static void release_blocks(struct afp_queue *q)
{
	while (q->rel_count) {
		__atomic_store_n(&block(q, q->rel_first)->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		q->rel_first = (q->rel_first + 1) % q->nblocks;
		q->rel_count--;
	}
}

static unsigned walk(struct afp_queue *q, struct pc_pkt *pkts, unsigned max, int dlt)
{
	unsigned n = 0;

	while (n < max) {
		struct tpacket3_hdr *h;
		struct pc_pkt *pk;
		uint8_t *data;

		if (!q->active) {
			struct tpacket_block_desc *bd;

			/* a ring full of walked-but-unreleased blocks waits for release */
			if (q->rel_count == q->nblocks || !block_ready(q, q->cur))
				break;
			bd = block(q, q->cur);
			q->active = true;
			q->pkt_left = bd->hdr.bh1.num_pkts;
			q->pkt_next = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
		}
		if (!q->pkt_left) {
			q->active = false;
			if (!q->rel_count)
				q->rel_first = q->cur;
			q->rel_count++;
			q->cur = (q->cur + 1) % q->nblocks;
			continue;
		}
		h = (struct tpacket3_hdr *)q->pkt_next;
		q->pkt_next += h->tp_next_offset;
		q->pkt_left--;
		/* ring memory was just written by another CPU: packets lie one after
		 * the other in the block, so fetch two lines well ahead */
		if (q->pkt_left) {
			pc_prefetch(q->pkt_next + AFP_PREFETCH);
			pc_prefetch(q->pkt_next + AFP_PREFETCH + 64);
		}
		data = (uint8_t *)h + h->tp_mac;
		pk = &pkts[n];
		pk->caplen = h->tp_snaplen;
		pk->wirelen = h->tp_len;
		if ((h->tp_status & TP_STATUS_VLAN_VALID) && dlt == PC_DLT_EN10MB &&
		    pk->caplen >= 2 * ETH_ALEN) {
			uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID)
						? h->hv1.tp_vlan_tpid
						: ETH_P_8021Q;
			uint16_t be;

			/* PACKET_RESERVE left room in front of the MAC header */
			memmove(data - VLAN_TAG_LEN, data, 2 * ETH_ALEN);
			data -= VLAN_TAG_LEN;
			be = htons(tpid);
			memcpy(data + 2 * ETH_ALEN, &be, 2);
			be = htons((uint16_t)h->hv1.tp_vlan_tci);
			memcpy(data + 2 * ETH_ALEN + 2, &be, 2);
			pk->caplen += VLAN_TAG_LEN;
			pk->wirelen += VLAN_TAG_LEN;
			pk->data = data;
			pk->linktype = (uint16_t)dlt;
			if (q->vlan_filter && !pc_bpf_match(q->vlan_filter, pk)) {
				atomic_fetch_add_explicit(&q->vlan_filtered, 1,
							  memory_order_relaxed);
				continue;
			}
		}
		pk->data = data;
		pk->ts_ns =
			pc_tstamp_adjust(&q->ts, (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec);
		pk->linktype = (uint16_t)dlt;
		pk->ifindex = 0;
		n++;
	}
	return n;
}

static int afp_rx_burst(struct pc_cap *cap, unsigned qi, struct pc_pkt *pkts, unsigned max,
			int timeout_ms)
{
	struct afp *a = cap->priv;
	struct afp_queue *q = &a->q[qi];
	struct pollfd pfd;
	unsigned n;

	/* an engine that forgot rx_release must not starve the ring */
	release_blocks(q);
	pc_tstamp_refresh(&q->ts);
	n = walk(q, pkts, max, cap->linktype);
	if (n || timeout_ms == 0)
		return (int)n;
	pfd.fd = q->fd;
	pfd.events = POLLIN | POLLERR;
	pfd.revents = 0;
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
		snprintf(cap->err, sizeof(cap->err), "afpacket: poll: %s", strerror(errno));
		return -errno;
	}
	if (pfd.revents & (POLLERR | POLLNVAL)) {
		char why[96];

		/* the kernel reports ENETDOWN both for a device that went down and
		 * for one that was deleted: say which */
		if (pc_if_check(a->ifname, why, sizeof(why)) == -ENETDOWN)
			snprintf(cap->err, sizeof(cap->err), "afpacket: %s", why);
		else
			snprintf(cap->err, sizeof(cap->err),
				 "afpacket: %s: socket error (interface gone?)", a->ifname);
		return -ENETDOWN;
	}
	return (int)walk(q, pkts, max, cap->linktype);
}

static void afp_rx_release(struct pc_cap *cap, unsigned qi, unsigned n)
{
	struct afp *a = cap->priv;

	release_blocks(&a->q[qi]);
}

static int afp_stats(struct pc_cap *cap, unsigned qi, struct pc_cap_stats *st)
{
	struct afp *a = cap->priv;
	struct afp_queue *q;
	struct tpacket_stats_v3 ks;
	socklen_t len = sizeof(ks);

	if (!a || qi >= a->nq)
		return -EINVAL;
	q = &a->q[qi];
	/* the kernel zeroes its counters on every read: fold the deltas in */
	if (getsockopt(q->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0) {
		atomic_fetch_add_explicit(&q->k_packets, ks.tp_packets, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->k_drops, ks.tp_drops, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->k_freeze, ks.tp_freeze_q_cnt, memory_order_relaxed);
	}
	memset(st, 0, sizeof(*st));
	st->packets = atomic_load_explicit(&q->k_packets, memory_order_relaxed);
	st->drops = atomic_load_explicit(&q->k_drops, memory_order_relaxed);
	st->freeze_q = atomic_load_explicit(&q->k_freeze, memory_order_relaxed);
	if (qi == 0) /* per interface: reported once */
		st->ifdrops = pc_if_rx_dropped(a->ifname) - a->ifdrop_base;
	return 0;
}

const struct pc_capture_ops pc_cap_afpacket_ops = {
	.name = "afpacket",
	.preference = 30,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_AUTO | PC_CAP_F_NETDEV,
	.probe = afp_probe,
	.open = afp_open,
	.rx_burst = afp_rx_burst,
	.rx_release = afp_rx_release,
	.stats = afp_stats,
	.close = afp_close,
};
