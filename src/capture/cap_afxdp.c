/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AF_XDP backend through libxdp: one XSK socket (own UMEM, 16384+ frames) per
 * RX queue, all read by one worker so a flow never splits across workers (RX
 * queues are not assigned by a symmetric hash). Every frame consumed from an
 * RX ring goes back to the fill ring at release, so the fill ring stays full.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capture/capture.h"

#ifndef HAVE_AFXDP

static int xdp_probe(const char *ifname, char *reason, size_t len)
{
	snprintf(reason, len,
		 "not built with libxdp (libxdp-dev and libbpf-dev were not found "
		 "when this library was configured)");
	return -CAPTURE_E_BACKEND;
}

static int xdp_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	snprintf(cap->err, sizeof(cap->err), "afxdp: not built with libxdp");
	return -CAPTURE_E_BACKEND;
}

#else /* HAVE_AFXDP */

#include <bpf/libbpf.h>
#include <dirent.h>
#include <stdarg.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "capture/bpf.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/env.h"
#include "util/log.h"
#include "util/privs.h"

#define XDP_FRAME_SIZE 2048u
#define XDP_MIN_FRAMES 16384u /* 4096 ran the fill ring empty under contention */
#define XDP_MAX_QUEUES 64u
#define XDP_EBUSY_TRIES 50 /* ~1 s: a just-closed socket holds the queue ~50 ms */
/* RX coalescing: while traffic flows, an empty RX ring is given this long to
 * fill before the next look instead of a poll() that wakes on the first frame
 * (measured on a veth at ~350 kpps: one wake-up per 1-2 frames cost ~1.2 CPU s
 * per million packets). An RX ring of >= 16384 entries overflows in 500 us
 * only above 30 Mpps. PC_XDP_COALESCE_US=N (0..5000, 0 = off) overrides it. */
#define XDP_COALESCE_US 500u
#define XDP_COALESCE_MAX_US 5000u

/* netdev generic netlink family (linux/netdev.h, kernel >= 6.3) */
#define NETDEV_CMD_DEV_GET 1
#define NETDEV_A_DEV_IFINDEX 1
#define NETDEV_A_DEV_XDP_FEATURES 3
#define NETDEV_XDP_ACT_XSK_ZEROCOPY 8

struct xq {
	struct xsk_socket *xsk;
	struct xsk_umem *umem;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	void *area;
	size_t area_len;
	uint32_t frames;
	uint32_t rx_idx; /* first descriptor of the held burst */
	uint32_t held;	 /* descriptors consumed, not yet released */
	int fd;
	_Atomic uint64_t delivered; /* frames taken from the RX ring */
};

struct xdpc {
	unsigned nq;
	int ifindex;
	unsigned next; /* round-robin start */
	unsigned coalesce_us;
	bool flowing; /* the last look found frames: coalesce before polling */
	struct pc_bpf *filter;
	_Atomic uint64_t filtered;
	uint64_t ifdrop_base; /* rx_dropped at open */
	int promisc_fd;	      /* AF_PACKET socket holding promiscuous mode, -1: none */
	char ifname[IF_NAMESIZE];
	struct xq q[];
};

/* XDP sees what the NIC accepts: frames for other MACs need promiscuous
 * mode, held (as libpcap and AF_PACKET do) by a packet socket's membership,
 * which the kernel drops when the socket closes, even after a crash. The
 * socket (protocol 0) receives nothing itself. */
static int hold_promisc(struct xdpc *x, char *err, size_t errlen)
{
	struct packet_mreq mr = { .mr_ifindex = x->ifindex, .mr_type = PACKET_MR_PROMISC };

	x->promisc_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->promisc_fd < 0 ||
	    setsockopt(x->promisc_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		return pc_errf(err, errlen, -errno, "afxdp: promiscuous mode on %s: %s", x->ifname,
			       strerror(errno));
	return 0;
}

/* Append one netlink attribute; returns new offset or 0 if it does not fit. */
static size_t nla_put(uint8_t *buf, size_t off, size_t cap, uint16_t type, const void *data,
		      uint16_t len)
{
	struct nlattr na = { .nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type };

	if (off + NLA_ALIGN(na.nla_len) > cap)
		return 0;
	memcpy(buf + off, &na, sizeof(na));
	memcpy(buf + off + NLA_HDRLEN, data, len);
	return off + NLA_ALIGN(na.nla_len);
}

/* One genetlink request/response; returns reply length or -errno. */
static int genl_ask(int fd, uint16_t family, uint8_t cmd, uint16_t atype, const void *adata,
		    uint16_t alen, uint8_t *rep, size_t replen)
{
	uint8_t req[256];
	struct nlmsghdr *nh = (struct nlmsghdr *)req;
	struct genlmsghdr *gh;
	size_t off;
	ssize_t r;

	memset(req, 0, sizeof(req));
	nh->nlmsg_type = family;
	nh->nlmsg_flags = NLM_F_REQUEST;
	nh->nlmsg_seq = 1;
	gh = (struct genlmsghdr *)(req + NLMSG_HDRLEN);
	gh->cmd = cmd;
	gh->version = 1;
	off = nla_put(req, NLMSG_HDRLEN + GENL_HDRLEN, sizeof(req), atype, adata, alen);
	if (!off)
		return -EINVAL;
	nh->nlmsg_len = (uint32_t)off;
	if (send(fd, req, off, 0) < 0)
		return -errno;
	r = recv(fd, rep, replen, 0);
	if (r < 0)
		return -errno;
	if ((size_t)r < NLMSG_HDRLEN + GENL_HDRLEN)
		return -EPROTO;
	nh = (struct nlmsghdr *)rep;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = (struct nlmsgerr *)(rep + NLMSG_HDRLEN);

		return (size_t)r >= NLMSG_HDRLEN + sizeof(*e) && e->error ? e->error : -EPROTO;
	}
	return (int)PC_MIN((size_t)r, (size_t)nh->nlmsg_len);
}

/* Find attribute @type in the genetlink reply; returns payload or NULL. */
static const uint8_t *nla_find(const uint8_t *rep, int len, uint16_t type, uint16_t *plen)
{
	size_t off = NLMSG_HDRLEN + GENL_HDRLEN;

	while (off + NLA_HDRLEN <= (size_t)len) {
		struct nlattr na;

		memcpy(&na, rep + off, sizeof(na));
		if (na.nla_len < NLA_HDRLEN || off + na.nla_len > (size_t)len)
			return NULL;
		if ((na.nla_type & NLA_TYPE_MASK) == type) {
			*plen = (uint16_t)(na.nla_len - NLA_HDRLEN);
			return rep + off + NLA_HDRLEN;
		}
		off += NLA_ALIGN(na.nla_len);
	}
	return NULL;
}

/*
 * One genetlink question (attribute @atype = @adata) and the first @wlen bytes
 * of attribute @want of the answer into @out. 0, -ENOENT when the answer
 * lacks it (or it is shorter), or -errno.
 */
static int genl_query(int fd, uint16_t family, uint8_t cmd, uint16_t atype, const void *adata,
		      uint16_t alen, uint16_t want, void *out, uint16_t wlen)
{
	uint8_t rep[1024];
	const uint8_t *a;
	uint16_t plen;
	int len;

	len = genl_ask(fd, family, cmd, atype, adata, alen, rep, sizeof(rep));
	if (len < 0)
		return len;
	a = nla_find(rep, len, want, &plen);
	if (!a || plen < wlen)
		return -ENOENT;
	memcpy(out, a, wlen);
	return 0;
}

/*
 * Does the driver of @ifindex advertise AF_XDP zero-copy? 1 yes, 0 no,
 * < 0 the kernel cannot say (no "netdev" genetlink family).
 */
static int driver_zero_copy(int ifindex)
{
	uint16_t fam = 0;
	uint64_t feat = 0;
	uint32_t idx = (uint32_t)ifindex;
	int fd, ret;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	ret = genl_query(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, "netdev", 7,
			 CTRL_ATTR_FAMILY_ID, &fam, sizeof(fam));
	if (!ret)
		ret = genl_query(fd, fam, NETDEV_CMD_DEV_GET, NETDEV_A_DEV_IFINDEX, &idx,
				 sizeof(idx), NETDEV_A_DEV_XDP_FEATURES, &feat, sizeof(feat));
	if (!ret)
		ret = (feat & NETDEV_XDP_ACT_XSK_ZEROCOPY) ? 1 : 0;
	close(fd);
	return ret;
}

static int xdp_probe(const char *ifname, char *reason, size_t len)
{
	char err[160];
	int ret, zc, ifindex;

	ret = pc_check_capability(PC_CAP_NET_RAW, reason, len);
	if (ret < 0)
		return ret;
	ret = pc_check_capability(PC_CAP_NET_ADMIN, reason, len);
	if (ret < 0)
		return ret;
	if (pc_check_capability(PC_CAP_BPF, err, sizeof(err)) < 0 &&
	    pc_check_capability(PC_CAP_SYS_ADMIN, NULL, 0) < 0) {
		snprintf(reason, len,
			 "missing capability CAP_BPF (or CAP_SYS_ADMIN) to load the "
			 "XDP program");
		return -CAPTURE_E_PRIV;
	}
	if (!ifname) {
		snprintf(reason, len,
			 "libxdp AF_XDP (zero-copy where the driver allows, else copy)");
		return 0;
	}
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		snprintf(reason, len, "no such interface '%s'", ifname);
		return -ENODEV;
	}
	zc = driver_zero_copy(ifindex);
	if (zc > 0) {
		snprintf(reason, len, "driver of %s supports AF_XDP zero-copy", ifname);
		return 1;
	}
	if (zc == 0)
		snprintf(reason, len,
			 "copy mode only: driver of %s does not offer AF_XDP "
			 "zero-copy (veth: ~0.2 CPU s per million packets vs 0.12 for afpacket)",
			 ifname);
	else
		snprintf(reason, len,
			 "copy mode assumed: kernel cannot report XDP features of "
			 "%s (%s)",
			 ifname, strerror(-zc));
	return 0;
}

static unsigned count_rx_queues(const char *ifname)
{
	char path[128];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "rx-", 3) == 0)
			n++;
	closedir(d);
	return n ? n : 1;
}

/*
 * An XDP program already on the interface: libxdp's XSK default program left
 * by a killed run is removed (libxdp would silently reuse it); anything else
 * belongs to someone and is refused.
 */
static int clear_stale(struct pc_cap *cap, const struct pc_cap_params *p, struct xdpc *x)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x->ifindex);
	struct xdp_program *main_prog;
	char name[64];
	uint32_t id;
	int ret;

	if (!mp || libxdp_get_error(mp))
		return 0;
	main_prog = xdp_multiprog__main_prog(mp);
	if (!main_prog && xdp_multiprog__hw_prog(mp) == NULL) {
		xdp_multiprog__close(mp);
		return 0;
	}
	/* copy: the name lives in the multiprog object, freed below */
	snprintf(name, sizeof(name), "%s",
		 main_prog && xdp_program__name(main_prog) ? xdp_program__name(main_prog) : "?");
	id = main_prog ? xdp_program__id(main_prog) : 0;
	if (strcmp(name, "xsk_def_prog") != 0 && strcmp(name, "xdp_dispatcher") != 0) {
		snprintf(cap->err, sizeof(cap->err),
			 "afxdp: %s already has XDP program '%s' (id %u) attached: remove it "
			 "(ip link set dev %s xdp off) or use -b afpacket",
			 x->ifname, name, id, x->ifname);
		xdp_multiprog__close(mp);
		return -EBUSY;
	}
	ret = xdp_multiprog__detach(mp);
	xdp_multiprog__close(mp);
	if (ret < 0) {
		snprintf(cap->err, sizeof(cap->err),
			 "afxdp: stale XDP program '%s' (id %u) on %s could not be removed: %s",
			 name, id, x->ifname, strerror(-ret));
		return ret;
	}
	pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_WARN,
		"afxdp: removed stale XDP program '%s' (id %u) left on %s "
		"by an earlier run; loading a fresh one",
		name, id, x->ifname);
	return 1;
}

/* The library never prints: libbpf and libxdp talk to stderr unless told not to. */
static int quiet_bpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int quiet_xdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static void close_queue(struct xq *q)
{
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	q->xsk = NULL;
	if (q->umem)
		xsk_umem__delete(q->umem);
	q->umem = NULL;
	if (q->area)
		munmap(q->area, q->area_len);
	q->area = NULL;
}

/* UMEM memory, 2 MiB aligned and marked for transparent huge pages where the
 * system allows it (madvise mode): every frame is 2 KiB apart, so with 4 KiB
 * pages nearly every packet costs a TLB miss when it is decoded. Populated
 * here so that no page fault happens on the packet path. */
static void *umem_area(size_t len)
{
	const size_t huge = 2u << 20;
	uint8_t *raw, *a;
	size_t head, tail;

	raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	head = (size_t)(a - raw);
	tail = huge - head;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap(a + len, tail);
	(void)madvise(a, len, MADV_HUGEPAGE); /* best effort: THP may be off */
	for (size_t off = 0; off < len; off += 4096)
		a[off] = 0;
	return a;
}

static int open_queue(struct xdpc *x, unsigned qi, uint32_t frames, uint32_t xdp_flags,
		      uint16_t bind_flags)
{
	struct xq *q = &x->q[qi];
	struct xsk_umem_config ucfg = {
		.fill_size = frames,
		.comp_size = 64,
		.frame_size = XDP_FRAME_SIZE,
		.frame_headroom = 0,
		.flags = 0,
	};
	struct xsk_socket_config scfg = {
		/* as large as the UMEM: a stalled reader fills every frame before the
		 * kernel drops (with half, the frames still in the fill ring sat idle) */
		.rx_size = frames,
		.tx_size = 0,
		.xdp_flags = xdp_flags,
		.bind_flags = bind_flags,
	};
	uint32_t i, idx;
	int ret, tries;

	q->frames = frames;
	q->area_len = (size_t)frames * XDP_FRAME_SIZE;
	q->area = umem_area(q->area_len);
	if (!q->area)
		return -errno;
	ret = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &ucfg);
	if (ret) {
		q->umem = NULL;
		return ret < 0 ? ret : -ret;
	}
	for (tries = 0;; tries++) {
		ret = xsk_socket__create(&q->xsk, x->ifname, qi, q->umem, &q->rx, NULL, &scfg);
		if (ret != -EBUSY || tries >= XDP_EBUSY_TRIES)
			break;
		pc_sleep_us(20000); /* the previous socket on this queue is still going away */
	}
	if (ret) {
		q->xsk = NULL;
		return ret < 0 ? ret : -ret;
	}
	q->fd = xsk_socket__fd(q->xsk);
	/* every frame starts in the fill ring */
	if (xsk_ring_prod__reserve(&q->fill, frames, &idx) != frames)
		return -ENOSPC;
	for (i = 0; i < frames; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * XDP_FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, frames);
	return 0;
}

static void detach_leftover(struct xdpc *x)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x->ifindex);

	if (!mp || libxdp_get_error(mp))
		return;
	if (xdp_multiprog__main_prog(mp)) {
		const char *name = xdp_program__name(xdp_multiprog__main_prog(mp));

		if (name && strcmp(name, "xsk_def_prog") == 0)
			xdp_multiprog__detach(mp);
	}
	xdp_multiprog__close(mp);
}

static void xdp_close(struct pc_cap *cap)
{
	struct xdpc *x = cap->priv;
	unsigned i;

	if (!x)
		return;
	for (i = 0; i < x->nq; i++)
		close_queue(&x->q[i]);
	/* the program must not outlive the capture (libxdp may leave it) */
	detach_leftover(x);
	pc_bpf_destroy(x->filter);
	if (x->promisc_fd >= 0)
		close(x->promisc_fd);
	free(x);
	cap->priv = NULL;
}

struct xdp_try {
	uint32_t xdp_flags;
	uint16_t bind_flags;
	const char *mode;
};

/*
 * One socket per RX queue, in the best XDP mode that works for all of them
 * (PC_XDP_MODE=native|generic|zero-copy|copy narrows the choice). Returns 0
 * with cap->mode set, or < 0 with what every mode tried said in cap->err.
 */
static int open_sockets(struct pc_cap *cap, struct xdpc *x, uint32_t frames)
{
	static const struct xdp_try all[] = {
		{ XDP_FLAGS_DRV_MODE, XDP_ZEROCOPY, "native zero-copy" },
		{ XDP_FLAGS_DRV_MODE, XDP_COPY, "native copy" },
		{ XDP_FLAGS_SKB_MODE, XDP_COPY, "generic copy" },
	};
	const char *want = getenv("PC_XDP_MODE");
	char tried[384] = "";
	int ret = -CAPTURE_E_BACKEND;
	unsigned i, t;

	for (t = 0; t < PC_ARRAY_SIZE(all); t++) {
		bool native = all[t].xdp_flags == XDP_FLAGS_DRV_MODE;
		bool zc = all[t].bind_flags == XDP_ZEROCOPY;

		if (want &&
		    ((!strcmp(want, "native") && !native) || (!strcmp(want, "generic") && native) ||
		     (!strcmp(want, "zero-copy") && !zc) || (!strcmp(want, "copy") && zc)))
			continue;
		for (i = 0; i < x->nq; i++) {
			ret = open_queue(x, i, frames, all[t].xdp_flags,
					 all[t].bind_flags | XDP_USE_NEED_WAKEUP);
			if (ret < 0)
				break;
		}
		if (ret >= 0) {
			snprintf(cap->mode, sizeof(cap->mode), "%s", all[t].mode);
			return 0;
		}
		snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s: queue %u: %s",
			 tried[0] ? "; " : "", all[t].mode, i, strerror(-ret));
		for (i = 0; i < x->nq; i++)
			close_queue(&x->q[i]);
		detach_leftover(x);
	}
	snprintf(cap->err, sizeof(cap->err), "afxdp: %s: no XDP mode worked (%s)%s", x->ifname,
		 tried[0] ? tried : "none allowed by PC_XDP_MODE",
		 ret == -EPERM ? ": missing capability CAP_NET_ADMIN/CAP_BPF, or "
				 "RLIMIT_MEMLOCK too small without CAP_IPC_LOCK"
			       : "");
	return ret;
}

static int xdp_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	unsigned mb = p->buffer_size_mb ? p->buffer_size_mb : 64;
	uint32_t frames;
	struct xdpc *x;
	unsigned nq;
	int ret, stale;

	ret = pc_capture_check_buffer_mb("afxdp", mb, cap->err, sizeof(cap->err));
	if (ret < 0)
		return ret;
	if (strnlen(p->interface, IF_NAMESIZE) >= IF_NAMESIZE) {
		snprintf(cap->err, sizeof(cap->err), "afxdp: interface name too long");
		return -CAPTURE_E_CONFIG;
	}
	libbpf_set_print(quiet_bpf);
	libxdp_set_print(quiet_xdp);
	nq = PC_MIN(count_rx_queues(p->interface), XDP_MAX_QUEUES);
	frames = PC_MAX(XDP_MIN_FRAMES, (uint32_t)(((uint64_t)mb << 20) / XDP_FRAME_SIZE / nq));
	while (frames & (frames - 1)) /* ring sizes are powers of two */
		frames &= frames - 1;
	x = calloc(1, sizeof(*x) + nq * sizeof(x->q[0]));
	if (!x)
		return -ENOMEM;
	cap->priv = x;
	x->nq = nq;
	x->promisc_fd = -1;
	x->coalesce_us = pc_env_uint("PC_XDP_COALESCE_US", XDP_COALESCE_US, 0, XDP_COALESCE_MAX_US);
	memcpy(x->ifname, p->interface, strlen(p->interface));
	x->ifindex = (int)if_nametoindex(p->interface);
	if (!x->ifindex) {
		snprintf(cap->err, sizeof(cap->err), "afxdp: no such interface '%s'", p->interface);
		ret = -ENODEV;
		goto fail;
	}
	if (p->filter && p->filter[0]) {
		char err[256];

		ret = pc_bpf_create(&x->filter, p->filter, PC_DLT_EN10MB, p->snaplen, err,
				    sizeof(err));
		if (ret < 0) {
			snprintf(cap->err, sizeof(cap->err), "afxdp: %s", err);
			goto fail;
		}
	}
	if (p->promiscuous) {
		ret = hold_promisc(x, cap->err, sizeof(cap->err));
		if (ret < 0)
			goto fail;
	}
	x->ifdrop_base = pc_if_rx_dropped(x->ifname);
	stale = clear_stale(cap, p, x);
	if (stale < 0) {
		ret = stale;
		goto fail;
	}
	ret = open_sockets(cap, x, frames);
	if (ret < 0)
		goto fail;
	cap->nqueues = 1;
	cap->linktype = PC_DLT_EN10MB;
	cap->filter_applied = x->filter != NULL;
	snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "user");
	snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail),
		 "AF_XDP frames carry no kernel stamp: CLOCK_REALTIME read once per burst");
	if (p->workers > 1)
		pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_INFO,
			"afxdp: one worker reads all %u RX queue socket(s): "
			"RX queues are not split by a symmetric hash, so more workers could "
			"split flows",
			nq);
	return 0;
fail:
	xdp_close(cap);
	return ret;
}

static int xdp_rx_burst(struct pc_cap *cap, unsigned qi, struct pc_pkt *pkts, unsigned max,
			int timeout_ms)
{
	struct xdpc *x = cap->priv;
	struct pollfd pfd[XDP_MAX_QUEUES];
	unsigned n = 0, k, pass;
	uint64_t now = 0;

	for (pass = 0; pass < 3; pass++) {
		for (k = 0; k < x->nq && n < max; k++) {
			struct xq *q = &x->q[(x->next + k) % x->nq];
			uint32_t got, idx, i;

			if (q->held) /* engine skipped rx_release: keep order */
				continue;
			got = xsk_ring_cons__peek(&q->rx, max - n, &idx);
			if (!got)
				continue;
			if (!now)
				now = pc_wall_ns();
			q->rx_idx = idx;
			q->held = got;
			atomic_fetch_add_explicit(&q->delivered, got, memory_order_relaxed);
			for (i = 0; i < got; i++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
				uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
				struct pc_pkt *pk = &pkts[n];

				pk->data = xsk_umem__get_data(q->area, addr);
				/* the kernel just wrote the frame from another CPU: start
				 * the misses now, the engine decodes the whole burst later */
				pc_prefetch(pk->data);
				pc_prefetch((const uint8_t *)pk->data + 64);
				pk->caplen = d->len;
				pk->wirelen = d->len;
				pk->ts_ns = now;
				pk->linktype = PC_DLT_EN10MB;
				pk->ifindex = 0;
				if (x->filter && !pc_bpf_match(x->filter, pk)) {
					atomic_fetch_add_explicit(&x->filtered, 1,
								  memory_order_relaxed);
					continue;
				}
				n++;
			}
		}
		x->next = (x->next + 1) % x->nq;
		if (n || timeout_ms == 0 || pass == 2)
			break;
		if (pass == 0 && x->flowing && x->coalesce_us) {
			/* traffic was flowing: let the ring fill up for a while rather
			 * than waking per frame; look again before blocking in poll */
			unsigned us = x->coalesce_us;

			if (timeout_ms > 0 && (unsigned)timeout_ms * 1000u < us)
				us = (unsigned)timeout_ms * 1000u;
			pc_sleep_us(us);
			x->flowing = false;
			continue;
		}
		x->flowing = false;
		pass = 1; /* one look after the poll */
		for (k = 0; k < x->nq; k++) {
			pfd[k].fd = x->q[k].fd;
			pfd[k].events = POLLIN;
			pfd[k].revents = 0;
		}
		if (poll(pfd, x->nq, timeout_ms) < 0 && errno != EINTR) {
			snprintf(cap->err, sizeof(cap->err), "afxdp: poll: %s", strerror(errno));
			return -errno;
		}
		for (k = 0; k < x->nq; k++) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);

			/* XSK poll never says POLLERR: an unregistered device shows as
			 * ENETDOWN in SO_ERROR (one cheap call per idle timeout) */
			if (!pfd[k].revents &&
			    getsockopt(pfd[k].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
				pfd[k].revents = POLLERR;
			if (pfd[k].revents & (POLLERR | POLLNVAL)) {
				char why[96];

				if (pc_if_check(x->ifname, why, sizeof(why)) == -ENETDOWN)
					snprintf(cap->err, sizeof(cap->err), "afxdp: %s", why);
				else
					snprintf(cap->err, sizeof(cap->err),
						 "afxdp: %s queue %u: socket error (interface "
						 "gone?)",
						 x->ifname, k);
				return -ENETDOWN;
			}
		}
	}
	if (now)
		x->flowing = true;
	/* a burst that was all filtered out still has frames to give back */
	if (!n)
		cap->ops->rx_release(cap, qi, 0);
	return (int)n;
}

static void xdp_rx_release(struct pc_cap *cap, unsigned qi, unsigned n)
{
	struct xdpc *x = cap->priv;
	unsigned k;

	for (k = 0; k < x->nq; k++) {
		struct xq *q = &x->q[k];
		uint32_t idx, i;

		if (!q->held)
			continue;
		/* fill ring is as large as the UMEM: room for every frame we hold */
		if (xsk_ring_prod__reserve(&q->fill, q->held, &idx) != q->held)
			continue;
		for (i = 0; i < q->held; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, q->rx_idx + i);
			uint64_t base = xsk_umem__extract_addr(d->addr);

			*xsk_ring_prod__fill_addr(&q->fill, idx + i) = base - base % XDP_FRAME_SIZE;
		}
		xsk_ring_prod__submit(&q->fill, q->held);
		xsk_ring_cons__release(&q->rx, q->held);
		q->held = 0;
		if (xsk_ring_prod__needs_wakeup(&q->fill))
			recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
}

static int xdp_stats(struct pc_cap *cap, unsigned qi, struct pc_cap_stats *st)
{
	struct xdpc *x = cap->priv;
	uint64_t ifd;
	unsigned k;

	if (!x || qi != 0)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	for (k = 0; k < x->nq; k++) {
		struct xdp_statistics xs;
		socklen_t len = sizeof(xs);

		st->packets += atomic_load_explicit(&x->q[k].delivered, memory_order_relaxed);
		if (getsockopt(x->q[k].fd, SOL_XDP, XDP_STATISTICS, &xs, &len) < 0)
			continue;
		/* cumulative per socket; what never reached the RX ring counts as seen too */
		st->drops += xs.rx_dropped + xs.rx_ring_full;
		st->packets += xs.rx_dropped + xs.rx_ring_full;
		st->xdp_rx_ring_full += xs.rx_ring_full;
		st->xdp_fill_ring_empty += xs.rx_fill_ring_empty_descs;
	}
	/*
	 * Frames the interface dropped before any socket saw them (e.g. a veth's
	 * XDP ring). A driver may also count a redirect that failed on a full XSK
	 * ring in its rx_dropped (veth does: measured 1064 = 1064): only the excess
	 * over what the sockets counted is reported, so no frame counts twice.
	 */
	ifd = pc_if_rx_dropped(x->ifname) - x->ifdrop_base;
	st->ifdrops = ifd > st->drops ? ifd - st->drops : 0;
	return 0;
}

#endif /* HAVE_AFXDP */

const struct pc_capture_ops pc_cap_afxdp_ops = {
	.name = "afxdp",
	.preference = 40,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_AUTO | PC_CAP_F_AUTO_BEST_ONLY | PC_CAP_F_NETDEV,
	.probe = xdp_probe,
	.open = xdp_open,
#ifdef HAVE_AFXDP
	.rx_burst = xdp_rx_burst,
	.rx_release = xdp_rx_release,
	.stats = xdp_stats,
	.close = xdp_close,
#endif
};
