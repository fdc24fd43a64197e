/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared NetFlow/IPFIX helpers: settings, direction split, message builder and the
 * transports (UDP sending and pacing in nf_udp.c). Nothing here blocks for long: sockets
 * are non-blocking, TCP connects in the background with exponential backoff, and failures
 * are counted and logged; only UDP pacing waits, in the export thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "export/nf_common.h"
#include "export/nf_fields.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

uint64_t pc_nf_test_clock_ns;

uint64_t pc_nf_now_ns(void)
{
	return pc_nf_test_clock_ns ? pc_nf_test_clock_ns : pc_wall_ns();
}

void pc_nf_log(struct pc_exporter *e, int level, const char *fmt, ...)
{
	char msg[PC_LOG_MAX];
	va_list ap;

	if (!e->log_fn || level > e->log_level)
		return; /* not even formatted */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc_logf(e->log_fn, e->log_ctx, e->log_level, level, "export %s: %s", e->target, msg);
}

/* Fields, UDP pacing and sampling. A file is paced by default: it is read faster than
 * a collector on the same machine can take its records; live traffic is not. */
static int nf_cfg_more(const struct pc_export_target *t, int version, struct nf_cfg *c, char *err,
		       size_t errlen)
{
	const struct capture_export_opts *o = &t->opts;
	int rc;

	if (version != 5) {
		rc = pc_nf_fields_cfg(t, version, &c->fields, &c->pen, err, errlen);
		if (rc)
			return rc;
	}
	if (c->transport == CAPTURE_TRANSPORT_UDP) {
		c->rate_records = o->rate_records;
		if (!c->rate_records)
			c->rate_records =
				t->offline && !o->rate_bits ? CAPTURE_EXPORT_FILE_RATE : 0;
		if (c->rate_records == CAPTURE_EXPORT_UNPACED)
			c->rate_records = 0;
		c->rate_bits = o->rate_bits == CAPTURE_EXPORT_UNPACED ? 0 : o->rate_bits;
	}
	c->sample_rate = t->sample_rate > 1 ? t->sample_rate : 0;
	c->sample_random = t->sample_random;
	c->sample_scale = o->sample_scale && c->sample_rate;
	return 0;
}

int pc_nf_cfg(const struct pc_export_target *t, int version, struct nf_cfg *c, char *err,
	      size_t errlen)
{
	const struct capture_netflow_config *nf = &t->nf;
	const struct capture_export_opts *o = &t->opts;
	bool has_opts = o->sz >= sizeof(*o);
	size_t hl;

	memset(c, 0, sizeof(*c));
	c->transport = nf->transport;
	if (version != 10 && c->transport != CAPTURE_TRANSPORT_UDP)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "%s: NetFlow v%d is sent over UDP only", t->spec, version);
	if (c->transport > CAPTURE_TRANSPORT_FILE)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: unknown transport %d", t->spec,
			       c->transport);
	if (c->transport == CAPTURE_TRANSPORT_FILE) {
		const char *p = t->path[0] ? t->path : nf->path;

		if (!p || !p[0])
			return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: no output file",
				       t->spec);
		hl = strlen(p);
		if (hl >= sizeof(c->path))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: file name too long",
				       t->spec);
		memcpy(c->path, p, hl + 1);
	} else {
		const char *h = t->host[0] ? t->host : nf->collector;

		if (!h || !h[0])
			return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: no collector host",
				       t->spec);
		hl = strlen(h);
		if (hl >= sizeof(c->host))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: host name too long",
				       t->spec);
		memcpy(c->host, h, hl + 1);
		c->port = t->port ? t->port : nf->port;
		if (!c->port)
			c->port = version == 10 ? 4739 : 2055;
	}
	c->mtu = nf->mtu ? nf->mtu : (has_opts ? o->mtu : 0);
	if (!c->mtu)
		c->mtu = NF_DEFAULT_MTU;
	if (c->mtu < NF_MIN_MTU || c->mtu > NF_MAX_MTU)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: mtu %u out of range %u..%u",
			       t->spec, c->mtu, NF_MIN_MTU, NF_MAX_MTU);
	c->refresh_sec = nf->template_refresh_sec ? nf->template_refresh_sec
						  : (has_opts ? o->template_refresh_sec : 0);
	if (!c->refresh_sec)
		c->refresh_sec = NF_DEFAULT_REFRESH;
	c->domain = nf->observation_domain ? nf->observation_domain
					   : (has_opts ? o->observation_domain : 0);
	c->uniflow = nf->uniflow || (has_opts && o->uniflow);
	c->nanoseconds = nf->nanoseconds;
	c->tcp_queue = nf->tcp_queue_records ? nf->tcp_queue_records : NF_DEFAULT_TCP_QUEUE;
	return nf_cfg_more(t, version, c, err, errlen);
}

uint8_t pc_nf_icmp_reply(uint8_t ipver, uint8_t type)
{
	if (ipver == 6)
		return type == 128 ? 129 : type; /* echo request -> reply */
	switch (type) {
	case 8: /* echo */
		return 0;
	case 13: /* timestamp */
		return 14;
	case 15: /* information request */
		return 16;
	case 17: /* address mask */
		return 18;
	default:
		return type;
	}
}

uint8_t pc_nf_end_reason(uint8_t reason)
{
	switch (reason) {
	case CAPTURE_END_IDLE:
		return 1;
	case CAPTURE_END_ACTIVE:
		return 2;
	case CAPTURE_END_END:
		return 3;
	case CAPTURE_END_EVICTED:
		return 5; /* lack of resources */
	default:
		return 4; /* forced end (shutdown, or a snapshot of a live flow) */
	}
}

static bool is_icmp(const struct capture_flow *f)
{
	return (f->ip_version == 4 && f->proto == 1) || (f->ip_version == 6 && f->proto == 58);
}

void pc_nf_dirs(const struct capture_flow *f, struct nf_uni u[2])
{
	bool icmp = is_icmp(f), tun = f->tunnel_type && f->outer_ip_version;

	u[0] = (struct nf_uni){
		.src = f->src_ip,
		.dst = f->dst_ip,
		.sport = f->src_port,
		.dport = f->dst_port,
		.flags = f->tcp_flags,
		.icmp_type = f->icmp_type,
		.icmp_code = f->icmp_code,
		.packets = f->packets,
		.bytes = f->bytes,
		.first_ns = f->fwd_first_ns ? f->fwd_first_ns : f->first_ns,
		.last_ns = f->fwd_last_ns ? f->fwd_last_ns : f->last_ns,
		.smac = f->src_mac,
		.dmac = f->dst_mac,
		.osrc = tun ? f->outer_src_ip : NULL,
		.odst = tun ? f->outer_dst_ip : NULL,
		.tos = f->tos,
		.min_ttl = f->min_ttl,
		.max_ttl = f->max_ttl,
		.tunnel_id = f->tunnel_id,
	};
	u[1] = (struct nf_uni){
		.src = f->dst_ip,
		.dst = f->src_ip,
		.sport = f->dst_port,
		.dport = f->src_port,
		.flags = f->rev_tcp_flags,
		.icmp_type = icmp ? pc_nf_icmp_reply(f->ip_version, f->icmp_type) : 0,
		.icmp_code = icmp ? f->icmp_code : 0,
		.packets = f->rev_packets,
		.bytes = f->rev_bytes,
		.first_ns = f->rev_first_ns ? f->rev_first_ns : f->first_ns,
		.last_ns = f->rev_last_ns ? f->rev_last_ns : f->last_ns,
		.smac = f->dst_mac, /* the first packet's, seen from the other side */
		.dmac = f->src_mac,
		.osrc = tun ? f->outer_dst_ip : NULL,
		.odst = tun ? f->outer_src_ip : NULL,
		.tos = f->rev_tos,
		.min_ttl = f->rev_min_ttl,
		.max_ttl = f->rev_max_ttl,
		.tunnel_id = f->rev_tunnel_id ? f->rev_tunnel_id : f->tunnel_id,
	};
}

unsigned pc_nf_split(const struct capture_flow *f, struct nf_uni u[2])
{
	struct nf_uni d[2];
	unsigned n = 0;

	pc_nf_dirs(f, d);
	if (f->packets)
		u[n++] = d[0];
	if (f->rev_packets)
		u[n++] = d[1];
	return n;
}

/* ------------------------------------------------------------------ message builder */

void pc_nf_msg_begin(struct nf_msg *m, uint8_t *buf, size_t cap, size_t hdr, uint64_t now_ns)
{
	m->buf = buf;
	m->cap = cap;
	m->len = hdr;
	m->set_off = 0;
	m->set_id = 0;
	m->nrec = 0;
	m->ndata = 0;
	m->started_ns = now_ns;
}

void pc_nf_msg_close_set(struct nf_msg *m, bool pad4)
{
	size_t len;

	if (!m->set_off)
		return;
	if (pad4)
		while (m->len & 3)
			m->buf[m->len++] = 0;
	len = m->len - m->set_off;
	nf_put16(m->buf + m->set_off + 2, (uint16_t)len);
	m->set_off = 0;
}

uint8_t *pc_nf_msg_add(struct nf_msg *m, uint16_t set_id, size_t len, bool pad4)
{
	size_t need = len + (pad4 ? 3 : 0);
	uint8_t *p;

	if (!m->set_off || m->set_id != set_id) {
		if (m->set_off)
			pc_nf_msg_close_set(m, pad4);
		if (m->len + 4 + need > m->cap)
			return NULL;
		m->set_off = m->len;
		m->set_id = set_id;
		nf_put16(m->buf + m->len, set_id);
		m->len += 4;
	} else if (m->len + need > m->cap) {
		return NULL;
	}
	p = m->buf + m->len;
	m->len += len;
	return p;
}

/* ------------------------------------------------------------------ record ring */

int pc_nf_ring_init(struct nf_ring *q, size_t cap)
{
	q->r = calloc(cap, sizeof(*q->r));
	if (!q->r)
		return -ENOMEM;
	q->cap = cap;
	q->head = 0;
	q->count = 0;
	return 0;
}

void pc_nf_ring_release(struct nf_ring *q)
{
	free(q->r);
	q->r = NULL;
	q->cap = q->count = q->head = 0;
}

size_t pc_nf_ring_push(struct nf_ring *q, const struct capture_flow *f, size_t n)
{
	size_t room = q->cap - q->count, i, k;

	if (n > room)
		n = room;
	k = q->head + q->count;
	if (k >= q->cap)
		k -= q->cap;
	for (i = 0; i < n; i++) {
		q->r[k] = f[i];
		if (++k == q->cap)
			k = 0;
	}
	q->count += n;
	return n;
}

void pc_nf_ring_pop(struct nf_ring *q, size_t n)
{
	if (n > q->count)
		n = q->count;
	q->head += n;
	if (q->head >= q->cap)
		q->head -= q->cap;
	q->count -= n;
}

/* ------------------------------------------------------------------ transports */

#define NF_ERR_LOG_GAP_NS 10000000000ull

/* What a send failure means for the user, and what to do about it. */
const char *pc_nf_send_hint(struct nf_io *io, int error, char *buf, size_t len)
{
	switch (error) {
	case ENOBUFS:
	case EAGAIN:
		return "; a send queue on the way out (the socket's, or the interface's "
		       "qdisc or device queue) is full and datagrams are dropped: lower "
		       "--export-rate, or raise net.core.wmem_default or the interface's "
		       "txqueuelen";
	case EMSGSIZE:
		snprintf(buf, len,
			 "; a %u-byte datagram is larger than the path to the collector takes: "
			 "lower --mtu",
			 io->serr.msgsize_len);
		return buf;
	default:
		return "";
	}
}

void pc_nf_io_error(struct nf_io *io, int error, const char *what)
{
	uint64_t now = pc_nf_now_ns();
	const char *desc = strerrordesc_np(error) ? strerrordesc_np(error) : "error";
	char hb[160];

	atomic_fetch_add_explicit(&io->e->cnt.errors, 1, memory_order_relaxed);
	if (io->err_log_ns && now - io->err_log_ns < NF_ERR_LOG_GAP_NS) {
		io->err_quiet++;
		return;
	}
	if (io->err_quiet)
		pc_nf_log(io->e, CAPTURE_LOG_WARN, "%s %s: %s%s (%llu more failures not logged)",
			  what, io->name, desc, pc_nf_send_hint(io, error, hb, sizeof(hb)),
			  (unsigned long long)io->err_quiet);
	else
		pc_nf_log(io->e, CAPTURE_LOG_WARN, "%s %s: %s%s", what, io->name, desc,
			  pc_nf_send_hint(io, error, hb, sizeof(hb)));
	io->err_quiet = 0;
	io->err_log_ns = now;
}

int pc_nf_resolve(struct nf_io *io, const struct nf_cfg *c, int socktype, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", c->port);
	rc = getaddrinfo(c->host, port, &hints, &res);
	if (rc)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: cannot resolve %s: %s",
			       io->e->target, c->host, gai_strerror(rc));
	memcpy(&io->addr, res->ai_addr, res->ai_addrlen);
	io->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int pc_nf_io_open(struct nf_io *io, struct pc_exporter *e, const struct nf_cfg *c, char *err,
		  size_t errlen)
{
	int rc;

	memset(io, 0, sizeof(*io));
	io->e = e;
	io->fd = -1;
	io->transport = c->transport;
	io->mtu = c->mtu;
	if (c->transport == CAPTURE_TRANSPORT_FILE)
		snprintf(io->name, sizeof(io->name), "%s", c->path);
	else if (strchr(c->host, ':'))
		snprintf(io->name, sizeof(io->name), "[%s]:%u", c->host, c->port);
	else
		snprintf(io->name, sizeof(io->name), "%s:%u", c->host, c->port);

	io->pool = malloc((size_t)NF_POOL * io->mtu);
	if (!io->pool) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", e->target);
		goto fail;
	}
	for (io->nfree = 0; io->nfree < NF_POOL; io->nfree++)
		io->free_bufs[io->nfree] = io->pool + (size_t)io->nfree * io->mtu;
	if (c->transport == CAPTURE_TRANSPORT_UDP) {
		rc = pc_nf_udp_open(io, c, err, errlen);
		if (rc)
			goto fail;
		pc_nf_io_pace(io, c->rate_records, c->rate_bits);
		return 0;
	}
	io->out_cap = c->transport == CAPTURE_TRANSPORT_FILE
			      ? NF_FILE_BUF
			      : NF_TCP_OUT + NF_OPEN_MSGS * (size_t)io->mtu;
	io->out = malloc(io->out_cap);
	if (!io->out) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", e->target);
		goto fail;
	}
	if (c->transport == CAPTURE_TRANSPORT_FILE) {
		io->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (io->fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s: %s", e->target, c->path,
				 strerrordesc_np(errno));
			goto fail;
		}
		return 0;
	}
	rc = pc_nf_resolve(io, c, SOCK_STREAM, err, errlen);
	if (rc)
		goto fail;
	io->tstate = NF_TCP_DOWN;
	io->backoff_ns = NF_BACKOFF_MIN_NS;
	io->next_try_ns = 0;
	return 0;
fail:
	pc_nf_io_close(io);
	return rc;
}

void pc_nf_io_close(struct nf_io *io)
{
	if (io->transport == CAPTURE_TRANSPORT_UDP && io->e) {
		pc_nf_udp_summary(io);
		if (io->pace.waited_ns)
			pc_nf_log(io->e, CAPTURE_LOG_INFO,
				  "paced to %llu records/s, %llu bits/s: waited %.3f s",
				  (unsigned long long)io->pace.rec_rate,
				  (unsigned long long)io->pace.bit_rate, io->pace.waited_ns / 1e9);
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	free(io->pool);
	free(io->out);
	io->pool = io->out = NULL;
	io->nfree = 0;
}

uint8_t *pc_nf_io_msg(struct nf_io *io)
{
	if (io->nfree == 0) /* cannot happen: the batch is sent when it fills */
		pc_nf_io_flush(io);
	return io->free_bufs[--io->nfree];
}

void pc_nf_io_msg_drop(struct nf_io *io, uint8_t *buf)
{
	io->free_bufs[io->nfree++] = buf;
}

static int file_write(struct nf_io *io)
{
	ssize_t r;

	while (io->out_off < io->out_len) {
		r = write(io->fd, io->out + io->out_off, io->out_len - io->out_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int rc = r < 0 ? -errno : -EIO;

			pc_nf_io_error(io, -rc, "write");
			io->out_len = io->out_off = 0;
			return rc;
		}
		io->out_off += (size_t)r;
	}
	io->out_len = io->out_off = 0;
	return 0;
}

static int tcp_send(struct nf_io *io)
{
	ssize_t r;

	while (io->out_off < io->out_len) {
		r = send(io->fd, io->out + io->out_off, io->out_len - io->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (r <= 0) {
			int rc = r < 0 ? -errno : -EIO;

			pc_nf_io_tcp_drop(io, pc_nf_now_ns(), -rc);
			return rc;
		}
		io->out_off += (size_t)r;
		io->bytes_sent += (size_t)r;
	}
	io->out_len = io->out_off = 0;
	return 0;
}

void pc_nf_io_msg_done(struct nf_io *io, uint8_t *buf, size_t len, unsigned nrec)
{
	if (io->transport == CAPTURE_TRANSPORT_UDP) {
		io->batch[io->nbatch] = buf;
		io->nrecs[io->nbatch] = (uint16_t)nrec;
		io->lens[io->nbatch++] = (uint32_t)len;
		if (io->nbatch == NF_UDP_BATCH)
			pc_nf_udp_send(io);
		return;
	}
	if (io->out_len + len > io->out_cap && io->transport == CAPTURE_TRANSPORT_FILE)
		file_write(io);
	/* TCP callers keep out_len under NF_TCP_OUT, so this always fits */
	if (io->out_len + len <= io->out_cap) {
		memcpy(io->out + io->out_len, buf, len);
		io->out_len += len;
		if (io->transport == CAPTURE_TRANSPORT_FILE) {
			atomic_fetch_add_explicit(&io->e->cnt.messages, 1, memory_order_relaxed);
			io->bytes_sent += len;
		}
	}
	io->free_bufs[io->nfree++] = buf;
}

int pc_nf_io_flush(struct nf_io *io)
{
	switch (io->transport) {
	case CAPTURE_TRANSPORT_UDP:
		return io->nbatch ? pc_nf_udp_send(io) : 0;
	case CAPTURE_TRANSPORT_FILE:
		return file_write(io);
	default:
		if (io->tstate != NF_TCP_UP)
			return -ENOTCONN;
		return tcp_send(io);
	}
}

void pc_nf_io_tcp_drop(struct nf_io *io, uint64_t now_ns, int error)
{
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	io->tstate = NF_TCP_DOWN;
	io->out_len = io->out_off = 0;
	io->next_try_ns = now_ns + io->backoff_ns;
	io->backoff_ns = PC_MIN(io->backoff_ns * 2, NF_BACKOFF_MAX_NS);
	if (io->was_up) {
		pc_nf_log(io->e, CAPTURE_LOG_WARN, "connection to %s lost: %s; reconnecting",
			  io->name, strerrordesc_np(error) ? strerrordesc_np(error) : "error");
		atomic_fetch_add_explicit(&io->e->cnt.errors, 1, memory_order_relaxed);
	} else {
		pc_nf_io_error(io, error, "connect to");
	}
	io->was_up = false;
}

bool pc_nf_io_tcp_poll(struct nf_io *io, uint64_t now_ns)
{
	struct pollfd pfd;
	int soerr = 0, one = 1;
	socklen_t sl = sizeof(soerr);

	if (io->tstate == NF_TCP_DOWN) {
		if (now_ns < io->next_try_ns)
			return false;
		io->fd = socket(io->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (io->fd < 0) {
			pc_nf_io_tcp_drop(io, now_ns, errno);
			return false;
		}
		setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(io->fd, (struct sockaddr *)&io->addr, io->addrlen) == 0) {
			io->tstate = NF_TCP_UP;
		} else if (errno == EINPROGRESS) {
			io->tstate = NF_TCP_CONNECTING;
		} else {
			pc_nf_io_tcp_drop(io, now_ns, errno);
			return false;
		}
	}
	if (io->tstate == NF_TCP_CONNECTING) {
		pfd.fd = io->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) <= 0)
			return false;
		if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			pc_nf_io_tcp_drop(io, now_ns, soerr);
			return false;
		}
		io->tstate = NF_TCP_UP;
	}
	if (!io->was_up) {
		io->was_up = true;
		io->conn_gen++;
		io->backoff_ns = NF_BACKOFF_MIN_NS;
		pc_nf_log(io->e, CAPTURE_LOG_INFO, "connected to %s", io->name);
		return true;
	}
	/* A collector never talks back: readable means it closed or reset. */
	pfd.fd = io->fd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 && pfd.revents) {
		char b[256];
		ssize_t r = recv(io->fd, b, sizeof(b), MSG_DONTWAIT);

		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			pc_nf_io_tcp_drop(io, now_ns, r == 0 ? ECONNRESET : errno);
			return false;
		}
	}
	return true;
}
