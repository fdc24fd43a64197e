/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The UDP transport of the NetFlow/IPFIX exporters: a connected socket, batches of
 * datagrams sent with sendmmsg and UDP GSO, paced by a token bucket (records and bits
 * per second) in the export thread, and send failures counted by cause and explained.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "export/nf_common.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif

/* ICMP errors the socket queued (IP_RECVERR): only their sk_err, the
 * ECONNREFUSED of the next send, is used; drop them so they hold no memory. */
static void drain_errqueue(struct nf_io *io)
{
	char buf[512], ctl[512];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh;
	int i;

	for (i = 0; i < 64; i++) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		if (recvmsg(io->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
	}
}

/* Count a datagram the kernel refused, by cause. */
static void send_failed(struct nf_io *io, int error, uint32_t len)
{
	if (error == ENOBUFS || error == EAGAIN) {
		io->serr.nobufs++;
	} else if (error == EMSGSIZE) {
		io->serr.msgsize++;
		io->serr.msgsize_len = len;
	} else if (error == ECONNREFUSED) {
		io->serr.refused++;
	} else {
		io->serr.other++;
	}
	if (error != ENOBUFS && error != EAGAIN && error != EMSGSIZE)
		drain_errqueue(io);
	pc_nf_io_error(io, error, "send to");
}

/* At close: the datagrams lost over the whole run, by cause. */
void pc_nf_udp_summary(struct nf_io *io)
{
	const struct nf_send_errs *se = &io->serr;
	uint64_t all = se->nobufs + se->msgsize + se->refused + se->other;

	if (!all)
		return;
	pc_nf_log(io->e, CAPTURE_LOG_WARN,
		  "%llu datagrams not sent to %s: %llu send queue full (ENOBUFS), %llu too large "
		  "(EMSGSIZE), %llu refused (ECONNREFUSED), %llu other",
		  (unsigned long long)all, io->name, (unsigned long long)se->nobufs,
		  (unsigned long long)se->msgsize, (unsigned long long)se->refused,
		  (unsigned long long)se->other);
}

int pc_nf_udp_open(struct nf_io *io, const struct nf_cfg *c, char *err, size_t errlen)
{
	int rc, sz = 4 << 20;

	rc = pc_nf_resolve(io, c, SOCK_DGRAM, err, errlen);
	if (rc)
		return rc;
	io->fd = socket(io->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (io->fd < 0) {
		rc = -errno;
		return pc_errf(err, errlen, rc, "%s: socket: %s", io->e->target,
			       strerrordesc_np(errno));
	}
	setsockopt(io->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* A datagram dropped by a full queue below the socket (the interface's
	 * qdisc or device) is reported as ENOBUFS only with IP_RECVERR: without
	 * it the kernel drops it silently and it would be counted as sent. */
	if (io->addr.ss_family == AF_INET6)
		setsockopt(io->fd, SOL_IPV6, IPV6_RECVERR, &(int){ 1 }, sizeof(int));
	else
		setsockopt(io->fd, SOL_IP, IP_RECVERR, &(int){ 1 }, sizeof(int));
	/* Connected, so that an unreachable collector comes back as ECONNREFUSED. */
	if (connect(io->fd, (struct sockaddr *)&io->addr, io->addrlen) < 0) {
		rc = -errno;
		return pc_errf(err, errlen, rc, "%s: connect: %s", io->e->target,
			       strerrordesc_np(errno));
	}
	/* UDP GSO: a run of equal datagrams leaves in one send and crosses the stack once. */
	io->gso = setsockopt(io->fd, SOL_UDP, UDP_SEGMENT, &(int){ 0 }, sizeof(int)) == 0;
	return 0;
}

/* How many datagrams from @i on can leave as one GSO send: equal lengths, the last one
 * may be shorter, within the kernel's segment and size limits. */
static unsigned gso_run(const struct nf_io *io, unsigned i, unsigned to)
{
	uint32_t seg = io->lens[i];
	size_t total = seg;
	unsigned j = i + 1;

	if (!io->gso)
		return 1;
	while (j < to && j - i < NF_GSO_MAX_SEGS && io->lens[j - 1] == seg && io->lens[j] <= seg &&
	       total + io->lens[j] <= NF_GSO_MAX_BYTES) {
		total += io->lens[j];
		j++;
	}
	return j - i;
}

/* Send datagrams @from .. @to - 1 of the batch (GSO runs, one sendmmsg). */
static int send_range(struct nf_io *io, unsigned from, unsigned to)
{
	struct mmsghdr msgs[NF_UDP_BATCH];
	struct iovec iov[NF_UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[NF_UDP_BATCH];
	unsigned i, k, nm = 0, done = 0, first[NF_UDP_BATCH + 1], cnt[NF_UDP_BATCH];
	uint16_t seg;
	bool waited = false; /* after a full queue, for the datagrams at done */
	int r, rc = 0;

	for (i = from; i < to; i++) {
		iov[i].iov_base = io->batch[i];
		iov[i].iov_len = io->lens[i];
	}
	memset(msgs, 0, sizeof(msgs));
	for (i = from; i < to; i += cnt[nm], nm++) {
		cnt[nm] = gso_run(io, i, to);
		first[nm] = i;
		msgs[nm].msg_hdr.msg_iov = &iov[i];
		msgs[nm].msg_hdr.msg_iovlen = cnt[nm];
		if (cnt[nm] > 1) {
			struct cmsghdr *cm;

			msgs[nm].msg_hdr.msg_control = ctl[nm].buf;
			msgs[nm].msg_hdr.msg_controllen = sizeof(ctl[nm].buf);
			cm = CMSG_FIRSTHDR(&msgs[nm].msg_hdr);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			seg = (uint16_t)io->lens[i];
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
	}
	while (done < nm) {
		r = sendmmsg(io->fd, msgs + done, nm - done, 0);
		if (r > 0) {
			waited = false;
			for (k = done; k < done + (unsigned)r; k++) {
				for (i = first[k]; i < first[k] + cnt[k]; i++)
					io->bytes_sent += io->lens[i];
				atomic_fetch_add_explicit(&io->e->cnt.messages, cnt[k],
							  memory_order_relaxed);
			}
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS) && !waited) {
			struct pollfd pfd = { .fd = io->fd, .events = POLLOUT };
			int e = errno;

			/* A queue on the way full: wait briefly once and send again
			 * from the top of the loop, which counts what is sent (and
			 * never sends it twice); a second failure gives them up. */
			waited = true;
			if (poll(&pfd, 1, 10) == 1)
				continue;
			errno = e;
		}
		if (r < 0 && cnt[done] > 1 &&
		    (errno == EINVAL || errno == EIO || errno == EOPNOTSUPP)) {
			/* The path cannot segment (route MTU below ours, no UDP GSO): send
			 * this and every later run one datagram at a time. */
			pc_nf_log(io->e, CAPTURE_LOG_INFO, "UDP GSO to %s unavailable (%s)",
				  io->name, strerrordesc_np(errno));
			io->gso = false;
			for (i = first[done]; i < first[done] + cnt[done]; i++) {
				struct msghdr mh = { .msg_iov = &iov[i], .msg_iovlen = 1 };

				if (sendmsg(io->fd, &mh, 0) < 0) {
					rc = -errno;
					send_failed(io, errno, io->lens[i]);
				} else {
					io->bytes_sent += io->lens[i];
					atomic_fetch_add_explicit(&io->e->cnt.messages, 1,
								  memory_order_relaxed);
				}
			}
			msgs[done].msg_hdr.msg_control = NULL;
			msgs[done].msg_hdr.msg_controllen = 0;
			done++;
			waited = false;
			continue;
		}
		rc = r < 0 ? -errno : -EIO;
		/* these datagrams are lost; the others still go */
		for (i = first[done]; i < first[done] + cnt[done]; i++)
			send_failed(io, -rc, io->lens[i]);
		done++;
		waited = false;
	}
	return rc;
}

void pc_nf_io_pace(struct nf_io *io, uint64_t rec_rate, uint64_t bit_rate)
{
	struct nf_pace *pc = &io->pace;

	memset(pc, 0, sizeof(*pc));
	pc->rec_rate = rec_rate;
	pc->bit_rate = bit_rate;
	/* a burst of 20 ms (at least one datagram): what a collector's default socket
	 * buffer absorbs while its reader catches up */
	pc->rec_burst = rec_rate / 50.0;
	pc->bit_burst = bit_rate / 50.0;
	pc->rec_tokens = pc->rec_burst;
	pc->bit_tokens = pc->bit_burst;
	pc->last_ns = pc_mono_ns();
}

static void pace_refill(struct nf_pace *pc, uint64_t now)
{
	double dt = (double)(now - pc->last_ns) / 1e9;

	pc->last_ns = now;
	if (pc->rec_rate)
		pc->rec_tokens = PC_MIN(pc->rec_burst, pc->rec_tokens + dt * (double)pc->rec_rate);
	if (pc->bit_rate)
		pc->bit_tokens = PC_MIN(pc->bit_burst, pc->bit_tokens + dt * (double)pc->bit_rate);
}

/* How many datagrams from @i on may leave now (at least one, after waiting until the
 * bucket is no longer in debt); their cost is taken. Without a rate: all of them. */
static unsigned pace_take(struct nf_io *io, unsigned i)
{
	struct nf_pace *pc = &io->pace;
	unsigned k = i;

	if (!pc->rec_rate && !pc->bit_rate)
		return io->nbatch - i;
	for (;;) {
		double wait = 0;

		pace_refill(pc, pc_mono_ns());
		if (pc->rec_rate && pc->rec_tokens < 0)
			wait = -pc->rec_tokens / (double)pc->rec_rate;
		if (pc->bit_rate && pc->bit_tokens < 0)
			wait = PC_MAX(wait, -pc->bit_tokens / (double)pc->bit_rate);
		if (wait <= 0)
			break;
		pc->waited_ns += (uint64_t)(wait * 1e9);
		pc_sleep_us((unsigned)(wait * 1e6) + 1);
	}
	/* debt is allowed: a datagram is never split, the next one waits longer */
	while (k < io->nbatch && (k == i || ((!pc->rec_rate || pc->rec_tokens > 0) &&
					     (!pc->bit_rate || pc->bit_tokens > 0)))) {
		pc->rec_tokens -= io->nrecs[k];
		pc->bit_tokens -= 8.0 * (io->lens[k] + 28); /* with IPv4 and UDP headers */
		k++;
	}
	return k - i;
}

int pc_nf_udp_send(struct nf_io *io)
{
	unsigned i, k;
	int rc = 0, r;

	for (i = 0; i < io->nbatch; i += k) {
		k = pace_take(io, i);
		r = send_range(io, i, i + k);
		if (r)
			rc = r;
	}
	for (i = 0; i < io->nbatch; i++)
		io->free_bufs[io->nfree++] = io->batch[i];
	io->nbatch = 0;
	return rc;
}
