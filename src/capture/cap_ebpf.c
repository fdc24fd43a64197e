/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eBPF backend: flows metered in the kernel. An XDP program (or a TC clsact
 * ingress filter) decodes each packet and counts it in a per-CPU hash map
 * entry under the canonical biflow key; what it cannot meter in full comes
 * up through a ring buffer of packet copies, read here as packet views like
 * any backend's. The worker asks for the kernel's flow deltas through the
 * harvest op and applies them to its flow table, where the handed-up part of
 * the same flow merges into the same entry.
 *
 * Exact harvest: the program finds the map to fill through a one-slot
 * array of maps. Harvesting puts the other (zeroed) map into the slot; the
 * kernel returns from that update only after every program run that could
 * still use the old map has finished (maybe_wait_bpf_programs, a
 * synchronize_rcu for map-in-map updates), so the old map is read with
 * batched lookups and zeroed while nothing writes to it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capture/capture.h"

#ifndef HAVE_EBPF

static int ebpf_probe(const char *ifname, char *reason, size_t len)
{
	snprintf(reason, len,
		 "not built with the eBPF flow meter (clang with the BPF target, bpftool, "
		 "libbpf-dev and libxdp-dev were not all found when this library was "
		 "configured)");
	return -CAPTURE_E_BACKEND;
}

static int ebpf_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	snprintf(cap->err, sizeof(cap->err), "ebpf: not built with the eBPF flow meter");
	return -CAPTURE_E_BACKEND;
}

#else /* HAVE_EBPF */

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "capture/bpf/flow_meter.h"
#include "flow/flow_agg.h"
#include "flow_meter.skel.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/env.h"
#include "util/log.h"
#include "util/privs.h"

#define EBPF_MAP_FLOWS_DEFAULT 65536u
#define EBPF_MAP_FLOWS_MIN 16u
#define EBPF_MAP_FLOWS_MAX (1u << 24)
/* Between two harvests: each flow active in an interval costs one delta in
 * user space, so longer is cheaper (5000 flows at 40 kpps: 150 ms cost about
 * as much as metering every packet in user space); it must stay well under
 * the idle timeout, or the sweep could end a flow whose packets are still in
 * the kernel map. PC_EBPF_HARVEST_MS=N (10..5000) overrides it. */
#define EBPF_HARVEST_MS 500u
#define EBPF_DRAIN_CHUNK 1024u /* keys per batched lookup */

_Static_assert(sizeof(struct fm_key) == sizeof(struct pc_flow_key), "kernel key = flow key");
_Static_assert(FM_NCOUNTERS == 12 && PC_EBPF_NSTATS == FM_NCOUNTERS + 3,
	       "program counters first in pc_cap_stats.ebpf[]");

struct ebpfc {
	struct flow_meter *skel;
	int link_fd;   /* xdp link: detached when the last fd goes, even on a crash */
	bool tc;       /* tc hook attached (netlink filter) */
	bool tc_qdisc; /* we created the clsact qdisc */
	int ifindex;
	char ifname[IF_NAMESIZE];
	int ncpu;
	/* ring buffer of handed-up packets, mapped here */
	int ring_fd;
	size_t ring_size, page;
	void *ring_cons_map, *ring_prod_map;
	_Atomic unsigned long *cons_pos;
	const _Atomic unsigned long *prod_pos;
	const uint8_t *ring_data;
	unsigned long held_pos; /* consumer position after the held burst */
	uint8_t *vlan_buf;	/* tc: frames with their VLAN tag put back */
	/* harvest */
	int map_fd[2], outer_fd, cur; /* cur: the map the program fills */
	int64_t mono_to_wall;	      /* wall = ktime + this */
	uint64_t next_harvest;	      /* monotonic ns */
	int drain_fd[2];
	unsigned ndrain, di;
	bool draining, drain_started, final_done, recycle;
	uint32_t token;
	struct fm_key *keys, *stale; /* stale: keys of entries that stayed zero */
	uint8_t *vals;
	size_t vsz; /* per-CPU value stride */
	struct pc_flow_agg *buf;
	unsigned nbuf, bpos;
	uint64_t harvest_ns_every;
	uint64_t metered_seen; /* FM_METERED read before the last swap */
	_Atomic uint64_t harvests, harvest_ns, harvested;
};

static int quiet_bpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int ebpf_probe(const char *ifname, char *reason, size_t len)
{
	int ret;

	ret = pc_check_capability(PC_CAP_NET_ADMIN, reason, len);
	if (ret < 0)
		return ret;
	if (pc_check_capability(PC_CAP_BPF, NULL, 0) < 0 &&
	    pc_check_capability(PC_CAP_SYS_ADMIN, NULL, 0) < 0) {
		snprintf(reason, len,
			 "missing capability CAP_BPF (or CAP_SYS_ADMIN) to load the eBPF "
			 "flow meter");
		return -CAPTURE_E_PRIV;
	}
	snprintf(reason, len,
		 "flows metered in the kernel (XDP native or generic, or TC ingress); "
		 "only what the program cannot meter is copied up");
	return 0;
}

static int64_t mono_to_wall(void)
{
	return (int64_t)pc_wall_ns() - (int64_t)pc_mono_ns();
}

/* What is attached to the interface's XDP hook now: 0 none, else its id
 * (and in *@mode the XDP_FLAGS_*_MODE to detach it with). */
static uint32_t xdp_attached(int ifindex, char *name, size_t len, uint32_t *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info;
	uint32_t ilen = sizeof(info);
	int fd;

	if (bpf_xdp_query(ifindex, 0, &q) < 0 || !q.prog_id)
		return 0;
	*mode = q.attach_mode == XDP_ATTACHED_SKB  ? XDP_FLAGS_SKB_MODE
		: q.attach_mode == XDP_ATTACHED_HW ? XDP_FLAGS_HW_MODE
						   : XDP_FLAGS_DRV_MODE;
	snprintf(name, len, "?");
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd >= 0) {
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
			snprintf(name, len, "%s", info.name);
		close(fd);
	}
	return q.prog_id;
}

/* What removing a stale program of ours gave (@err): said either way. */
static int stale_removed(struct pc_cap *cap, const struct pc_cap_params *p, const struct ebpfc *e,
			 int err, const char *what, uint32_t id)
{
	if (err < 0)
		return pc_errf(cap->err, sizeof(cap->err), err,
			       "ebpf: stale %s (program id %u) on %s could not be removed: %s",
			       what, id, e->ifname, strerror(-err));
	pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_WARN,
		"ebpf: removed stale %s (program id %u) left on %s by an earlier run", what, id,
		e->ifname);
	return 0;
}

/*
 * XDP through a bpf_link (gone with the process, even after kill -9): a
 * program of ours left by an older run attached without a link is removed;
 * one held by a link belongs to a running capture and anything else to
 * someone else: refused.
 */
static int attach_xdp(struct pc_cap *cap, const struct pc_cap_params *p, struct ebpfc *e)
{
	static const struct {
		uint32_t flags;
		const char *mode;
	} modes[] = { { XDP_FLAGS_DRV_MODE, "xdp native" }, { XDP_FLAGS_SKB_MODE, "xdp generic" } };
	const char *want = getenv("PC_XDP_MODE");
	int fd = bpf_program__fd(e->skel->progs.fm_xdp), err = -EINVAL;
	char name[64], tried[256] = "";
	uint32_t id, mode = 0;
	unsigned i;

	id = xdp_attached(e->ifindex, name, sizeof(name), &mode);
	if (id && strcmp(name, "fm_xdp") == 0) {
		err = bpf_xdp_detach(e->ifindex, mode, NULL);
		if (err == -EBUSY)
			return pc_errf(
				cap->err, sizeof(cap->err), -EBUSY,
				"ebpf: %s is already metered by another capture (XDP program "
				"'fm_xdp' id %u held by a running process)",
				e->ifname, id);
		err = stale_removed(cap, p, e, err, "XDP program 'fm_xdp'", id);
		if (err < 0)
			return err;
	} else if (id) {
		return pc_errf(cap->err, sizeof(cap->err), -EBUSY,
			       "ebpf: %s already has XDP program '%s' (id %u) attached: remove it "
			       "(ip link set dev %s xdp off) or use --ebpf-hook tc",
			       e->ifname, name, id, e->ifname);
	}
	for (i = 0; i < PC_ARRAY_SIZE(modes); i++) {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = modes[i].flags);
		int lfd;

		if (want &&
		    ((!strcmp(want, "native") && i != 0) || (!strcmp(want, "generic") && i != 1)))
			continue;
		lfd = bpf_link_create(fd, e->ifindex, BPF_XDP, &lo);
		if (lfd >= 0) { /* the link lives as long as this fd is open */
			snprintf(cap->mode, sizeof(cap->mode), "%s", modes[i].mode);
			return lfd;
		}
		err = -errno;
		snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s: %s",
			 tried[0] ? "; " : "", modes[i].mode, strerror(errno));
	}
	return pc_errf(cap->err, sizeof(cap->err), err, "ebpf: cannot attach XDP to %s (%s)%s",
		       e->ifname, tried[0] ? tried : "no mode allowed by PC_XDP_MODE",
		       err == -EPERM ? ": missing capability CAP_NET_ADMIN/CAP_BPF" : "");
}

/* TC clsact ingress filter (netlink: it stays after a crash, so one of ours
 * found under our handle/priority is a stale one and is replaced). */
static int attach_tc(struct pc_cap *cap, const struct pc_cap_params *p, struct ebpfc *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = e->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = FM_TC_HANDLE, .priority = FM_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_opts, a, .handle = FM_TC_HANDLE, .priority = FM_TC_PRIO);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return pc_errf(cap->err, sizeof(cap->err), err,
			       "ebpf: cannot add a clsact qdisc to %s: %s%s", e->ifname,
			       strerror(-err),
			       err == -EPERM ? " (missing capability CAP_NET_ADMIN)" : "");
	e->tc_qdisc = !err;
	if (bpf_tc_query(&hook, &q) == 0) {
		LIBBPF_OPTS(bpf_tc_opts, d, .handle = FM_TC_HANDLE, .priority = FM_TC_PRIO);

		err = stale_removed(cap, p, e, bpf_tc_detach(&hook, &d), "TC filter", q.prog_id);
		if (err < 0)
			return err;
	}
	a.prog_fd = bpf_program__fd(e->skel->progs.fm_tc);
	err = bpf_tc_attach(&hook, &a);
	if (err)
		return pc_errf(cap->err, sizeof(cap->err), err,
			       "ebpf: cannot attach the TC filter to %s: %s", e->ifname,
			       strerror(-err));
	e->tc = true;
	snprintf(cap->mode, sizeof(cap->mode), "tc ingress");
	return 0;
}

static void detach_tc(struct ebpfc *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = e->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, d, .handle = FM_TC_HANDLE, .priority = FM_TC_PRIO);

	if (!e->tc)
		return;
	bpf_tc_detach(&hook, &d);
	e->tc = false;
	if (e->tc_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

static int map_ring(struct pc_cap *cap, struct ebpfc *e)
{
	e->page = (size_t)sysconf(_SC_PAGESIZE);
	e->ring_fd = bpf_map__fd(e->skel->maps.fm_ring);
	e->ring_cons_map = mmap(NULL, e->page, PROT_READ | PROT_WRITE, MAP_SHARED, e->ring_fd, 0);
	if (e->ring_cons_map == MAP_FAILED) {
		e->ring_cons_map = NULL;
		return pc_errf(cap->err, sizeof(cap->err), -errno,
			       "ebpf: cannot map the ring buffer: %s", strerror(errno));
	}
	/* producer page, then the data area mapped twice (records that wrap
	 * read as one piece) */
	e->ring_prod_map = mmap(NULL, e->page + 2 * e->ring_size, PROT_READ, MAP_SHARED, e->ring_fd,
				(off_t)e->page);
	if (e->ring_prod_map == MAP_FAILED) {
		e->ring_prod_map = NULL;
		return pc_errf(cap->err, sizeof(cap->err), -errno,
			       "ebpf: cannot map the ring buffer: %s", strerror(errno));
	}
	e->cons_pos = e->ring_cons_map;
	e->prod_pos = e->ring_prod_map;
	e->ring_data = (const uint8_t *)e->ring_prod_map + e->page;
	e->held_pos = atomic_load_explicit(e->cons_pos, memory_order_relaxed);
	return 0;
}

static void ebpf_close(struct pc_cap *cap)
{
	struct ebpfc *e = cap->priv;

	if (!e)
		return;
	if (e->skel && e->skel->bss)
		e->skel->bss->fm_enabled = 0;
	if (e->link_fd >= 0)
		close(e->link_fd);
	detach_tc(e);
	if (e->ring_prod_map)
		munmap(e->ring_prod_map, e->page + 2 * e->ring_size);
	if (e->ring_cons_map)
		munmap(e->ring_cons_map, e->page);
	flow_meter__destroy(e->skel);
	free(e->keys);
	free(e->stale);
	free(e->vals);
	free(e->buf);
	free(e->vlan_buf);
	free(e);
	cap->priv = NULL;
}

/* UDP ports user space decapsulates: those packets go up (decode_tunnel.c's
 * defaults; a custom capture_config.tunnel_ports is not seen here). */
static void set_tunnel_ports(struct ebpfc *e)
{
	static const uint16_t ports[] = { 4789, 8472, 6081, 2152, 6635, 3544, 5072 };
	unsigned i;

	for (i = 0; i < PC_ARRAY_SIZE(ports); i++)
		e->skel->bss->fm_tun_ports[ports[i] >> 6] |= 1ull << (ports[i] & 63);
}

static int ebpf_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	uint32_t flows = p->ebpf_map_flows ? p->ebpf_map_flows : EBPF_MAP_FLOWS_DEFAULT;
	unsigned mb = p->buffer_size_mb ? p->buffer_size_mb : 64;
	bool tc = p->ebpf_hook && strcmp(p->ebpf_hook, "tc") == 0;
	struct ebpfc *e;
	int ret, lfd;

	ret = pc_capture_check_buffer_mb("ebpf", mb, cap->err, sizeof(cap->err));
	if (ret < 0)
		return ret;
	if (flows < EBPF_MAP_FLOWS_MIN || flows > EBPF_MAP_FLOWS_MAX)
		return pc_errf(cap->err, sizeof(cap->err), -CAPTURE_E_CONFIG,
			       "ebpf: map size %u flows out of range (accepted: %u..%u)", flows,
			       EBPF_MAP_FLOWS_MIN, EBPF_MAP_FLOWS_MAX);
	if (strnlen(p->interface, IF_NAMESIZE) >= IF_NAMESIZE)
		return pc_errf(cap->err, sizeof(cap->err), -CAPTURE_E_CONFIG,
			       "ebpf: interface name too long");
	/* the worker of queue 0 applies the kernel's flows to its table: with
	 * several, the engine would dispatch packets to shards that never see
	 * the kernel's part of their flows */
	if (p->workers > 1)
		return pc_errf(cap->err, sizeof(cap->err), -CAPTURE_E_CONFIG,
			       "ebpf: one worker only (--workers 1): the flows metered in the "
			       "kernel are applied by a single worker's flow table");
	libbpf_set_print(quiet_bpf);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	cap->priv = e;
	e->link_fd = -1;
	memcpy(e->ifname, p->interface, strlen(p->interface));
	e->ifindex = (int)if_nametoindex(p->interface);
	if (!e->ifindex) {
		ret = pc_errf(cap->err, sizeof(cap->err), -ENODEV, "ebpf: no such interface '%s'",
			      p->interface);
		goto fail;
	}
	e->ncpu = libbpf_num_possible_cpus();
	if (e->ncpu <= 0) {
		ret = pc_errf(cap->err, sizeof(cap->err), e->ncpu ? e->ncpu : -EINVAL,
			      "ebpf: cannot count the possible CPUs");
		goto fail;
	}
	e->ring_size = (size_t)1 << 20;
	while (e->ring_size < ((size_t)mb << 20))
		e->ring_size <<= 1;
	e->vsz = ((sizeof(struct fm_val) + 7) & ~(size_t)7) * (size_t)e->ncpu;
	e->keys = calloc(EBPF_DRAIN_CHUNK, sizeof(*e->keys));
	e->stale = calloc(EBPF_DRAIN_CHUNK, sizeof(*e->stale));
	e->vals = calloc(EBPF_DRAIN_CHUNK, e->vsz);
	e->buf = calloc(EBPF_DRAIN_CHUNK, sizeof(*e->buf));
	e->vlan_buf = tc ? malloc((size_t)PC_BURST * (FM_SNAP + 4)) : NULL;
	if (!e->keys || !e->stale || !e->vals || !e->buf || (tc && !e->vlan_buf)) {
		ret = -ENOMEM;
		goto fail;
	}
	e->skel = flow_meter__open();
	if (!e->skel) {
		ret = pc_errf(cap->err, sizeof(cap->err), -errno,
			      "ebpf: cannot open the flow meter program: %s", strerror(errno));
		goto fail;
	}
	bpf_map__set_max_entries(e->skel->maps.fm_flows0, flows);
	bpf_map__set_max_entries(e->skel->maps.fm_flows1, flows);
	/* (the outer map's inner template keeps its size: a hash map's size is
	 * not part of what a map-in-map slot must match) */
	bpf_map__set_max_entries(e->skel->maps.fm_ring, (uint32_t)e->ring_size);
	bpf_program__set_autoload(tc ? e->skel->progs.fm_xdp : e->skel->progs.fm_tc, false);
	ret = flow_meter__load(e->skel);
	if (ret) {
		ret = ret < 0 ? ret : -ret;
		pc_errf(cap->err, sizeof(cap->err), ret,
			"ebpf: loading the flow meter program failed: %s%s", strerror(-ret),
			ret == -EPERM ? " (missing capability CAP_BPF/CAP_SYS_ADMIN, or the "
					"memory the maps need is over the limit)"
				      : "");
		goto fail;
	}
	set_tunnel_ports(e);
	e->skel->bss->fm_drop = p->ebpf_drop;
	/* a filter: the program cannot run it, so every packet goes up and
	 * the worker applies it (cap->filter_applied stays false) */
	e->skel->bss->fm_hand_all = p->filter && p->filter[0];
	e->map_fd[0] = bpf_map__fd(e->skel->maps.fm_flows0);
	e->map_fd[1] = bpf_map__fd(e->skel->maps.fm_flows1);
	e->outer_fd = bpf_map__fd(e->skel->maps.fm_active);
	e->cur = 0;
	ret = map_ring(cap, e);
	if (ret < 0)
		goto fail;
	if (tc) {
		ret = attach_tc(cap, p, e);
	} else {
		lfd = attach_xdp(cap, p, e);
		ret = lfd < 0 ? lfd : 0;
		if (lfd >= 0)
			e->link_fd = lfd;
	}
	if (ret < 0)
		goto fail;
	e->mono_to_wall = mono_to_wall();
	e->harvest_ns_every =
		(uint64_t)pc_env_uint("PC_EBPF_HARVEST_MS", EBPF_HARVEST_MS, 10, 5000) * 1000000u;
	e->next_harvest = pc_mono_ns() + e->harvest_ns_every;
	atomic_thread_fence(memory_order_seq_cst);
	e->skel->bss->fm_enabled = 1;
	cap->nqueues = 1;
	cap->linktype = PC_DLT_EN10MB;
	cap->filter_applied = false;
	snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "kernel");
	snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail),
		 "bpf_ktime_get_ns (CLOCK_MONOTONIC) at the hook, moved to CLOCK_REALTIME");
	pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_INFO,
		"ebpf: %s on %s, %u flows per kernel map%s; kernel-metered packets reach "
		"neither payload inspection nor TCP health",
		cap->mode, e->ifname, flows,
		e->skel->bss->fm_hand_all ? ", filter in user space: every packet handed up" : "");
	return 0;
fail:
	ebpf_close(cap);
	return ret;
}

/* The handed-up record at ring position @pos: its header word, acquired. */
static pc_always_inline uint32_t rec_hdr(const struct ebpfc *e, unsigned long pos)
{
	const _Atomic uint32_t *h =
		(const _Atomic uint32_t *)(const void *)(e->ring_data + (pos & (e->ring_size - 1)));

	return atomic_load_explicit(h, memory_order_acquire);
}

static unsigned take(struct ebpfc *e, struct pc_pkt *pkts, unsigned max)
{
	unsigned long pos = e->held_pos,
		      prod = atomic_load_explicit(e->prod_pos, memory_order_acquire);
	unsigned n = 0;

	while (n < max && pos < prod) {
		uint32_t h = rec_hdr(e, pos), len;
		const struct fm_rec *r;

		if (h & BPF_RINGBUF_BUSY_BIT)
			break;
		len = h & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		r = (const struct fm_rec *)(const void *)(e->ring_data +
							  (pos & (e->ring_size - 1)) +
							  BPF_RINGBUF_HDR_SZ);
		pos += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
		if ((h & BPF_RINGBUF_DISCARD_BIT) || len < offsetof(struct fm_rec, data))
			continue;
		pkts[n].caplen = PC_MIN((uint32_t)r->caplen, len - offsetof(struct fm_rec, data));
		pkts[n].wirelen = r->wirelen;
		pkts[n].data = r->data;
		if (r->vlan_hw && e->vlan_buf && pkts[n].caplen >= 12) {
			/* tc: the first tag was taken out of the frame: put it back */
			uint8_t *f = e->vlan_buf + (size_t)n * (FM_SNAP + 4);
			uint16_t tpid = r->vlan_proto,
				 tci = (uint16_t)__builtin_bswap16(r->vlan_tci);

			memcpy(f, r->data, 12);
			memcpy(f + 12, &tpid, 2);
			memcpy(f + 14, &tci, 2);
			memcpy(f + 16, r->data + 12, pkts[n].caplen - 12);
			pkts[n].data = f;
			pkts[n].caplen += 4;
			pkts[n].wirelen += 4;
		}
		pkts[n].ts_ns = (uint64_t)((int64_t)r->ts + e->mono_to_wall);
		pkts[n].linktype = PC_DLT_EN10MB;
		pkts[n].ifindex = 0;
		n++;
	}
	e->held_pos = pos;
	return n;
}

static void ebpf_rx_release(struct pc_cap *cap, unsigned q, unsigned n)
{
	struct ebpfc *e = cap->priv;

	atomic_store_explicit(e->cons_pos, e->held_pos, memory_order_release);
}

static int ebpf_rx_burst(struct pc_cap *cap, unsigned q, struct pc_pkt *pkts, unsigned max,
			 int timeout_ms)
{
	struct ebpfc *e = cap->priv;
	struct pollfd pfd = { .fd = e->ring_fd, .events = POLLIN };
	unsigned n;

	n = take(e, pkts, max);
	if (n || timeout_ms == 0)
		goto out;
	/* never wait past the next harvest: the worker harvests between bursts */
	{
		uint64_t now = pc_mono_ns();
		int ms = now >= e->next_harvest ? 0 : (int)((e->next_harvest - now) / 1000000u) + 1;

		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = ms;
	}
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return pc_errf(cap->err, sizeof(cap->err), -errno, "ebpf: poll: %s",
			       strerror(errno));
	n = take(e, pkts, max);
out:
	if (!n) /* discarded records only: give their room back */
		ebpf_rx_release(cap, q, 0);
	return (int)n;
}

/* Per-CPU values of one key into a flow delta. */
static void merge(const struct ebpfc *e, const struct fm_key *k, const uint8_t *vals,
		  struct pc_flow_agg *a)
{
	size_t stride = (sizeof(struct fm_val) + 7) & ~(size_t)7;
	int c, s;

	memset(a, 0, sizeof(*a));
	memcpy(&a->key, k, sizeof(a->key));
	for (c = 0; c < e->ncpu; c++) {
		const struct fm_val *v = (const struct fm_val *)(const void *)(vals + c * stride);

		for (s = 0; s < 2; s++) {
			const struct fm_dir *d = &v->d[s];
			struct pc_flow_agg_dir *o = &a->d[s];
			uint64_t first = (uint64_t)((int64_t)d->first + e->mono_to_wall);
			uint64_t last = (uint64_t)((int64_t)d->last + e->mono_to_wall);

			if (!d->pkts)
				continue;
			if (!o->pkts || first < o->first_ns) {
				o->first_ns = first;
				o->tos = d->tos;
				o->icmp_type = d->icmp_type;
				o->icmp_code = d->icmp_code;
				memcpy(o->mac, d->mac, sizeof(o->mac));
				o->has_mac = 1;
			}
			if (!o->pkts || d->ttl_min < o->ttl_min)
				o->ttl_min = d->ttl_min;
			if (!o->pkts || d->ttl_max > o->ttl_max)
				o->ttl_max = d->ttl_max;
			if (last > o->last_ns)
				o->last_ns = last;
			o->pkts += d->pkts;
			o->bytes += d->bytes;
			o->payload += d->payload;
			o->wire += d->wire;
			o->flags |= d->flags;
			o->syn_only |= d->syn_only;
		}
	}
}

/*
 * Entries the drain read stay in the map for the next interval: the ones
 * with packets are zeroed in place (one batched update, no allocation; the
 * program finds them again and counts from zero), the ones that stayed zero
 * a whole interval are deleted. Freeing and allocating a per-CPU entry per
 * flow and interval cost ~4 us in the kernel (drain) plus the program's
 * insert; a batched lookup and zeroing ~0.4 us.
 */
static int recycle(struct ebpfc *e, int fd, unsigned nact, unsigned nstale)
{
	/* (a batch takes no BPF_EXIST: nothing else writes or deletes these keys) */
	LIBBPF_OPTS(bpf_map_batch_opts, uo);
	LIBBPF_OPTS(bpf_map_batch_opts, dop);
	uint32_t cnt;

	if (nact) {
		memset(e->vals, 0, nact * e->vsz);
		cnt = nact;
		if (bpf_map_update_batch(fd, e->keys, e->vals, &cnt, &uo) < 0)
			return -errno;
	}
	if (nstale) {
		cnt = nstale;
		if (bpf_map_delete_batch(fd, e->stale, &cnt, &dop) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* Next chunk of the maps being drained into e->buf; false when all are. */
static bool refill(struct pc_cap *cap, struct ebpfc *e)
{
	while (e->di < e->ndrain) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		int fd = e->drain_fd[e->di];
		uint32_t cnt = EBPF_DRAIN_CHUNK, out = 0, i, nact = 0, nstale = 0;
		int err, rerr = 0;

		err = bpf_map_lookup_batch(fd, e->drain_started ? &e->token : NULL, &out, e->keys,
					   e->vals, &cnt, &bo);
		err = err < 0 ? -errno : 0;
		e->drain_started = true;
		e->token = out;
		if (err && err != -ENOENT)
			cnt = 0;
		for (i = 0; i < cnt; i++) {
			struct pc_flow_agg *a = &e->buf[nact];

			merge(e, &e->keys[i], e->vals + i * e->vsz, a);
			if (a->d[0].pkts || a->d[1].pkts) {
				if (nact != i)
					e->keys[nact] = e->keys[i];
				nact++;
			} else {
				e->stale[nstale++] = e->keys[i];
			}
		}
		if (e->recycle && (!err || err == -ENOENT)) /* (not at stop) */
			rerr = recycle(e, fd, nact, nstale);
		if ((err && err != -ENOENT) || rerr)
			snprintf(cap->err, sizeof(cap->err), "ebpf: draining the flow map: %s",
				 strerror(err && err != -ENOENT ? -err : -rerr));
		e->nbuf = nact;
		e->bpos = 0;
		atomic_fetch_add_explicit(&e->harvested, nact, memory_order_relaxed);
		if (err || rerr) { /* this map is read to its end (or failed): the next one */
			e->di++;
			e->drain_started = false;
		}
		if (nact)
			return true;
	}
	return false;
}

/* The program's counters summed over the CPUs into @sum[FM_NCOUNTERS]. */
static int read_counters(const struct ebpfc *e, uint64_t *sum)
{
	struct fm_counters *pc = calloc((size_t)e->ncpu, sizeof(*pc));
	uint32_t zero = 0;
	int c, i;

	if (!pc)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.fm_ctr), &zero, pc) == 0)
		for (c = 0; c < e->ncpu; c++)
			for (i = 0; i < FM_NCOUNTERS; i++)
				sum[i] += pc[c].c[i];
	free(pc);
	return 0;
}

static int ebpf_harvest(struct pc_cap *cap, unsigned q, struct pc_flow_agg *out, unsigned max,
			bool final)
{
	struct ebpfc *e = cap->priv;
	unsigned n;

	if (!e || q != 0)
		return 0;
	for (;;) {
		if (e->bpos < e->nbuf) {
			n = PC_MIN(max, e->nbuf - e->bpos);
			memcpy(out, &e->buf[e->bpos], n * sizeof(*out));
			e->bpos += n;
			return (int)n;
		}
		if (e->draining) {
			uint64_t t0 = pc_mono_ns();
			bool more = refill(cap, e);

			atomic_fetch_add_explicit(&e->harvest_ns, pc_mono_ns() - t0,
						  memory_order_relaxed);
			if (more)
				continue;
			e->draining = false;
			if (cap->err[0] && strncmp(cap->err, "ebpf: draining", 14) == 0)
				return -EIO;
		}
		if (final ? e->final_done : pc_mono_ns() < e->next_harvest)
			return 0;
		if (!final) {
			/* nothing metered since before the last swap: the map the
			 * program fills is empty, and a drain would walk every bucket
			 * (a run counts itself right after its map update, and runs
			 * take microseconds, not a harvest interval) */
			uint64_t sum[FM_NCOUNTERS] = { 0 };

			if (read_counters(e, sum) == 0 && sum[FM_METERED] == e->metered_seen) {
				e->next_harvest = pc_mono_ns() + e->harvest_ns_every;
				return 0;
			}
			e->metered_seen = sum[FM_METERED];
		}
		{
			uint64_t t0 = pc_mono_ns();
			uint32_t zero = 0;
			int old = e->cur;

			if (final) {
				/* stop metering: what arrives from now on passes uncounted */
				e->skel->bss->fm_enabled = 0;
				atomic_thread_fence(memory_order_seq_cst);
				e->final_done = true;
			}
			/* the swap returns once no program run uses the old map */
			if (bpf_map_update_elem(e->outer_fd, &zero, &e->map_fd[1 - old], BPF_ANY) <
			    0)
				return pc_errf(cap->err, sizeof(cap->err), -errno,
					       "ebpf: switching the flow map: %s", strerror(errno));
			e->cur = 1 - old;
			e->mono_to_wall = mono_to_wall();
			e->drain_fd[0] = e->map_fd[old];
			e->drain_fd[1] = e->map_fd[1 - old];
			e->ndrain = final ? 2 : 1; /* at stop the new one too: nothing fills it */
			e->recycle = !final;
			e->di = 0;
			e->drain_started = false;
			e->draining = true;
			e->next_harvest = pc_mono_ns() + e->harvest_ns_every;
			atomic_fetch_add_explicit(&e->harvests, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&e->harvest_ns, pc_mono_ns() - t0,
						  memory_order_relaxed);
		}
	}
}

static int ebpf_stats(struct pc_cap *cap, unsigned q, struct pc_cap_stats *st)
{
	struct ebpfc *e = cap->priv;
	int ret;

	if (!e || q != 0)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	ret = read_counters(e, st->ebpf);
	if (ret < 0)
		return ret;
	st->ebpf[FM_NCOUNTERS] = atomic_load_explicit(&e->harvests, memory_order_relaxed);
	st->ebpf[FM_NCOUNTERS + 1] = atomic_load_explicit(&e->harvest_ns, memory_order_relaxed);
	st->ebpf[FM_NCOUNTERS + 2] = atomic_load_explicit(&e->harvested, memory_order_relaxed);
	/* the hook saw them all; lost on the way up: a full ring, an error */
	st->packets = st->ebpf[FM_SEEN];
	st->drops = st->ebpf[FM_RING_FULL] + st->ebpf[FM_ERRORS];
	return 0;
}

#endif /* HAVE_EBPF */

const struct pc_capture_ops pc_cap_ebpf_ops = {
	.name = "ebpf",
	.preference = 35,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_NETDEV,
	.probe = ebpf_probe,
	.open = ebpf_open,
#ifdef HAVE_EBPF
	.rx_burst = ebpf_rx_burst,
	.rx_release = ebpf_rx_release,
	.stats = ebpf_stats,
	.close = ebpf_close,
	.harvest = ebpf_harvest,
#endif
};
