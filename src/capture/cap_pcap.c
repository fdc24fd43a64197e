/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpcap live backend: non-immediate mode (TPACKET_V3 inside libpcap), non-
 * blocking reads driven by poll(). libpcap hands a block back to the kernel
 * inside pcap_dispatch, so packets are copied into a per-handle buffer that
 * stays valid until rx_release.
 */
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/bpf.h"
#include "capture/capture.h"
#include "util/compiler.h"
#include "util/privs.h"
#include "capture/tstamp.h"

#define PCAP_COPY_BUF (8u << 20)
#define PCAP_BLOCK_TOV_MS 10

struct pcl {
	pcap_t *h;
	int fd;
	int dlt;
	pthread_mutex_t lock; /* pcap_dispatch vs pcap_stats */
	struct pc_bpf *filter;
	struct pc_tstamp ts;
	uint8_t *buf;
	size_t used;
	uint32_t snaplen;
	struct pc_pkt *out; /* dispatch target */
	unsigned n, max;
	uint64_t vlan_filtered;
	/* pcap_stat counters are 32-bit: widened by adding deltas (under lock) */
	struct pcap_stat last;
	uint64_t recv, drop, ifdrop;
};

static int pcl_probe(const char *ifname, char *reason, size_t len)
{
	int ret = pc_check_capability(PC_CAP_NET_RAW, reason, len);

	if (ret < 0)
		return ret;
	if (ifname && !pc_if_is_any(ifname) && !if_nametoindex(ifname)) {
		snprintf(reason, len, "no such interface '%s'", ifname);
		return -ENODEV;
	}
	snprintf(reason, len, "%s", pcap_lib_version());
	return 0;
}

static void pcl_close(struct pc_cap *cap)
{
	struct pcl *l = cap->priv;

	if (!l)
		return;
	if (l->h)
		pcap_close(l->h);
	pthread_mutex_destroy(&l->lock);
	pc_tstamp_release(&l->ts);
	pc_bpf_destroy(l->filter);
	free(l->buf);
	free(l);
	cap->priv = NULL;
}

static int map_activate_error(int rc)
{
	switch (rc) {
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		return -CAPTURE_E_PRIV;
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return -ENODEV;
	case PCAP_ERROR_IFACE_NOT_UP:
		return -ENETDOWN;
	default:
		return -CAPTURE_E_BACKEND;
	}
}

static void choose_tstamp(struct pc_cap *cap, struct pcl *l, const struct pc_cap_params *p)
{
	int *types = NULL, nt, i;
	bool hw = false;

	pc_tstamp_setup(&l->ts, p->tstamp, p->interface);
	if (p->tstamp != CAPTURE_TSTAMP_HARDWARE)
		return;
	/* libpcap asks the driver itself; SIOCSHWTSTAMP done by setup was a probe */
	nt = pcap_list_tstamp_types(l->h, &types);
	for (i = 0; i < nt; i++)
		if (types[i] == PCAP_TSTAMP_ADAPTER_UNSYNCED)
			hw = true;
	pcap_free_tstamp_types(types);
	if (hw && pcap_set_tstamp_type(l->h, PCAP_TSTAMP_ADAPTER_UNSYNCED) == 0) {
		snprintf(l->ts.source, sizeof(l->ts.source), "hardware");
		snprintf(l->ts.detail, sizeof(l->ts.detail), "libpcap adapter_unsynced stamps");
	} else if (!l->ts.hw) {
		/* setup already wrote the fall back reason */
	} else {
		snprintf(l->ts.source, sizeof(l->ts.source), "kernel");
		snprintf(l->ts.detail, sizeof(l->ts.detail),
			 "hardware requested, fell back to "
			 "kernel stamps: libpcap lists no adapter stamp type for %s",
			 p->interface);
	}
}

/*
 * Same socket program as afpacket (pc_bpf_socket_prog): the kernel passes
 * tagged frames, on_packet checks them after libpcap has put the tag back, so
 * the verdict is that of the program run on the file.
 */
static int set_filter(struct pc_cap *cap, struct pcl *l, const struct pc_cap_params *p)
{
	struct bpf_program prog;
	struct sock_filter *ins;
	char err[256];
	int ret;

	ret = pc_bpf_create(&l->filter, p->filter, l->dlt, l->snaplen, err, sizeof(err));
	if (ret < 0) {
		snprintf(cap->err, sizeof(cap->err), "pcap: %s", err);
		return ret;
	}
	ret = pc_bpf_socket_prog(l->filter, l->dlt, l->snaplen, &ins);
	if (ret < 0)
		return ret;
	/* struct bpf_insn and struct sock_filter are the same classic BPF layout */
	prog.bf_len = (unsigned)ret;
	prog.bf_insns = (struct bpf_insn *)ins;
	ret = pcap_setfilter(l->h, &prog);
	free(ins);
	if (ret < 0) {
		snprintf(cap->err, sizeof(cap->err), "pcap: pcap_setfilter: %s", pcap_geterr(l->h));
		return -CAPTURE_E_FILTER;
	}
	return 0;
}

static int pcl_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	unsigned mb = p->buffer_size_mb ? p->buffer_size_mb : 64;
	struct pcl *l;
	int rc, ret;

	ret = pc_capture_check_buffer_mb("pcap", mb, cap->err, sizeof(cap->err));
	if (ret < 0)
		return ret;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->ts.ptp_fd = -1;
	cap->priv = l;
	l->snaplen = p->snaplen ? p->snaplen : 262144;
	l->buf = malloc(PCAP_COPY_BUF);
	if (!l->buf) {
		ret = -ENOMEM;
		goto fail;
	}
	l->h = pcap_create(p->interface, ebuf);
	if (!l->h) {
		snprintf(cap->err, sizeof(cap->err), "pcap: %s", ebuf);
		ret = -CAPTURE_E_BACKEND;
		goto fail;
	}
	/* immediate mode would fall back to TPACKET_V2 with 128 KiB slots (drops) */
	pcap_set_immediate_mode(l->h, 0);
	pcap_set_snaplen(l->h, (int)l->snaplen);
	pcap_set_promisc(l->h, p->promiscuous);
	pcap_set_timeout(l->h, PCAP_BLOCK_TOV_MS);
	/* 2048 MB is one byte more than an int holds */
	pcap_set_buffer_size(l->h, (int)PC_MIN((uint64_t)mb << 20, (uint64_t)INT32_MAX));
	pcap_set_tstamp_precision(l->h, PCAP_TSTAMP_PRECISION_NANO);
	choose_tstamp(cap, l, p);
	rc = pcap_activate(l->h);
	if (rc < 0) {
		ret = map_activate_error(rc);
		snprintf(cap->err, sizeof(cap->err), "pcap: %s: %s%s", p->interface,
			 pcap_geterr(l->h),
			 ret == -CAPTURE_E_PRIV ? " (missing capability CAP_NET_RAW)" : "");
		goto fail;
	}
	if (rc == PCAP_WARNING_TSTAMP_TYPE_NOTSUP) {
		snprintf(l->ts.source, sizeof(l->ts.source), "kernel");
		snprintf(l->ts.detail, sizeof(l->ts.detail),
			 "hardware requested, fell back to kernel stamps: %s",
			 pcap_statustostr(rc));
	}
	if (pcap_setnonblock(l->h, 1, ebuf) < 0) {
		snprintf(cap->err, sizeof(cap->err), "pcap: setnonblock: %s", ebuf);
		ret = -CAPTURE_E_BACKEND;
		goto fail;
	}
	l->fd = pcap_get_selectable_fd(l->h);
	l->dlt = pcap_datalink(l->h);
	if (l->dlt == 14)
		l->dlt = PC_DLT_RAW;
	/* loopback: libpcap itself drops the outgoing copy of every packet (it
	 * keeps both directions elsewhere), the behaviour every backend follows.
	 * It does so after the kernel counted the copy: ps_recv reads twice what
	 * was delivered there. Not worked around with a kernel filter on the
	 * packet type: after pcap_setfilter libpcap also runs the filter in user
	 * space on every ring block the kernel still held (all of them just after
	 * open), and its interpreter rejects that load: 0 packets, measured */
	if (p->filter && p->filter[0]) {
		ret = set_filter(cap, l, p);
		if (ret < 0)
			goto fail;
	}
	cap->nqueues = 1;
	cap->linktype = l->dlt;
	cap->filter_applied = p->filter && p->filter[0];
	snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "%s", l->ts.source);
	snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail), "%s", l->ts.detail);
	snprintf(cap->mode, sizeof(cap->mode), "libpcap non-immediate");
	return 0;
fail:
	pcl_close(cap);
	return ret;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes)
{
	struct pcl *l = (struct pcl *)user;
	struct pc_pkt *pk;
	uint32_t cl = hdr->caplen;

	if (l->n >= l->max || l->used + cl > PCAP_COPY_BUF) {
		/* cannot happen: dispatch is bounded by count and by break below */
		return;
	}
	pk = &l->out[l->n];
	memcpy(l->buf + l->used, bytes, cl);
	pk->data = l->buf + l->used;
	pk->caplen = cl;
	pk->wirelen = hdr->len;
	/* nanosecond precision was asked for: tv_usec holds nanoseconds */
	pk->ts_ns = pc_tstamp_adjust(&l->ts, (uint64_t)hdr->ts.tv_sec * 1000000000ull +
						     (uint64_t)hdr->ts.tv_usec);
	pk->linktype = (uint16_t)l->dlt;
	pk->ifindex = 0;
	/* tagged frames passed the kernel unfiltered (see set_filter) */
	if (l->filter && l->dlt == PC_DLT_EN10MB && cl >= 14 &&
	    (((bytes[12] << 8) | bytes[13]) == 0x8100 ||
	     ((bytes[12] << 8) | bytes[13]) == 0x88a8) &&
	    !pc_bpf_match(l->filter, pk)) {
		l->vlan_filtered++;
		return;
	}
	l->used += (cl + 63) & ~63u;
	l->n++;
	if (l->n >= l->max || l->used + l->snaplen + 64 > PCAP_COPY_BUF)
		pcap_breakloop(l->h);
}

/* The interface went down or away under the capture: say which. */
static int iface_error(struct pc_cap *cap, const char *detail)
{
	const char *ifname = cap->params ? cap->params->interface : NULL;
	char why[96];

	if (ifname && pc_if_check(ifname, why, sizeof(why)) == -ENETDOWN)
		snprintf(cap->err, sizeof(cap->err), "pcap: %s", why);
	else
		snprintf(cap->err, sizeof(cap->err), "pcap: %s (interface gone?)", detail);
	return -ENETDOWN;
}

static int dispatch(struct pc_cap *cap, struct pcl *l)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = pcap_dispatch(l->h, (int)(l->max - l->n), on_packet, (u_char *)l);
	pthread_mutex_unlock(&l->lock);
	if (rc == PCAP_ERROR_IFACE_NOT_UP ||
	    (rc == PCAP_ERROR && cap->params && !pc_if_is_any(cap->params->interface) &&
	     !if_nametoindex(cap->params->interface)))
		return iface_error(cap, pcap_geterr(l->h));
	if (rc < 0 && rc != PCAP_ERROR_BREAK) {
		snprintf(cap->err, sizeof(cap->err), "pcap: %s (error %d)", pcap_geterr(l->h), rc);
		return -CAPTURE_E_BACKEND;
	}
	return 0;
}

static int pcl_rx_burst(struct pc_cap *cap, unsigned q, struct pc_pkt *pkts, unsigned max,
			int timeout_ms)
{
	struct pcl *l = cap->priv;
	struct pollfd pfd;
	int ret;

	l->out = pkts;
	l->n = 0;
	l->max = max;
	l->used = 0;
	pc_tstamp_refresh(&l->ts);
	ret = dispatch(cap, l);
	if (ret < 0)
		return ret;
	if (l->n || timeout_ms == 0)
		return (int)l->n;
	pfd.fd = l->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
		snprintf(cap->err, sizeof(cap->err), "pcap: poll: %s", strerror(errno));
		return -errno;
	}
	if (pfd.revents & (POLLERR | POLLNVAL))
		return iface_error(cap, "socket error");
	ret = dispatch(cap, l);
	return ret < 0 ? ret : (int)l->n;
}

static void pcl_rx_release(struct pc_cap *cap, unsigned q, unsigned n)
{
	struct pcl *l = cap->priv;

	l->used = 0;
	l->n = 0;
}

static int pcl_stats(struct pc_cap *cap, unsigned q, struct pc_cap_stats *st)
{
	struct pcl *l = cap->priv;
	struct pcap_stat ps;
	int rc;

	if (!l || q != 0)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&l->lock);
	rc = pcap_stats(l->h, &ps);
	if (rc == 0) {
		l->recv += (uint32_t)(ps.ps_recv - l->last.ps_recv);
		l->drop += (uint32_t)(ps.ps_drop - l->last.ps_drop);
		l->ifdrop += (uint32_t)(ps.ps_ifdrop - l->last.ps_ifdrop);
		l->last = ps;
	}
	st->packets = l->recv;
	st->drops = l->drop;
	st->ifdrops = l->ifdrop;
	pthread_mutex_unlock(&l->lock);
	return rc < 0 ? -CAPTURE_E_BACKEND : 0;
}

const struct pc_capture_ops pc_cap_pcap_ops = {
	.name = "pcap",
	.preference = 20,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_AUTO | PC_CAP_F_NETDEV | PC_CAP_F_ANY_DEVICE,
	.probe = pcl_probe,
	.open = pcl_open,
	.rx_burst = pcl_rx_burst,
	.rx_release = pcl_rx_release,
	.stats = pcl_stats,
	.close = pcl_close,
};
