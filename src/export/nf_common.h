/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared pieces of the NetFlow v5/v9 and IPFIX exporters: resolved settings, big-endian
 * writers, the set-based message builder and the transports (UDP batches sent with
 * sendmmsg and paced by a token bucket, TCP with non-blocking reconnect/backoff and a
 * bounded record ring, files).
 */
#ifndef PC_NF_COMMON_H
#define PC_NF_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "export/export.h"

#define NF_DEFAULT_MTU 1400
#define NF_MIN_MTU 256	 /* room for the largest template set and one record */
#define NF_MAX_MTU 65535 /* NetFlow/IPFIX length fields are 16 bits */
#define NF_DEFAULT_REFRESH 60
#define NF_DEFAULT_TCP_QUEUE 65536
#define NF_UDP_BATCH 128 /* datagrams per flush (sendmmsg) */
#define NF_OPEN_MSGS 4	 /* messages an exporter may build at once */
#define NF_POOL (NF_UDP_BATCH + NF_OPEN_MSGS)
#define NF_GSO_MAX_SEGS 64     /* UDP_MAX_SEGMENTS of older kernels */
#define NF_GSO_MAX_BYTES 65000 /* a UDP datagram carries at most 65507 */
#define NF_FILE_BUF (256 * 1024)
#define NF_TCP_OUT (64 * 1024)	     /* encoded bytes handed to one send() round */
#define NF_FLUSH_AGE_NS 500000000ull /* a partly filled message waits at most this */
#define NF_BACKOFF_MIN_NS 100000000ull
#define NF_BACKOFF_MAX_NS 10000000000ull
#define NF_CLOSE_DRAIN_NS 3000000000ull /* TCP: how long close() tries to deliver */

/* Settings resolved from a target: defaults applied, ranges checked. */
struct nf_cfg {
	int transport; /* enum capture_transport */
	char host[256];
	uint16_t port;
	char path[4096];
	uint32_t mtu;
	uint32_t refresh_sec;
	uint32_t domain;
	bool uniflow;
	bool nanoseconds;
	uint32_t tcp_queue;
	uint32_t fields; /* CAPTURE_FIELD_* (v9, IPFIX) */
	uint32_t pen;	 /* jcap's IPFIX elements, 0: none */
	/* UDP pacing: 0 = none */
	uint64_t rate_records, rate_bits;
	/* the session's packet sampling: 1 in sample_rate (0: none) */
	uint32_t sample_rate;
	bool sample_random;
	bool sample_scale;
};

/* Fill @c from @t for NetFlow @version (5, 9, 10). -CAPTURE_E_TARGET with @err set. */
int pc_nf_cfg(const struct pc_export_target *t, int version, struct nf_cfg *c, char *err,
	      size_t errlen);

/* Wall clock in ns; tests may pin it through pc_nf_test_clock_ns (0: real clock). */
extern uint64_t pc_nf_test_clock_ns;
uint64_t pc_nf_now_ns(void);

/* Log through the exporter's callback (no dependency on the engine's logger). */
void pc_nf_log(struct pc_exporter *e, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline uint8_t *nf_put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static inline uint8_t *nf_put16(uint8_t *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	memcpy(p, &v, 2);
	return p + 2;
}

static inline uint8_t *nf_put32(uint8_t *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
	return p + 4;
}

static inline uint8_t *nf_put64(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
	return p + 8;
}

/* One direction of a flow, as a uniflow exporter sends it. */
struct nf_uni {
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint8_t flags;
	uint8_t icmp_type, icmp_code;
	uint64_t packets, bytes;
	uint64_t first_ns, last_ns;
	const uint8_t *smac, *dmac; /* this direction's source / destination MAC */
	const uint8_t *osrc, *odst; /* outer addresses, NULL when not tunnelled */
	uint8_t tos, min_ttl, max_ttl;
	uint32_t tunnel_id;
};

/* Both directions of @f into @u, with or without packets. */
void pc_nf_dirs(const struct capture_flow *f, struct nf_uni u[2]);
/* Split @f into its directions with packets (0, 1 or 2 of them) into @u. */
unsigned pc_nf_split(const struct capture_flow *f, struct nf_uni u[2]);

/* The ICMP type/code a reply to @type carries (echo -> echo reply ...), else @type. */
uint8_t pc_nf_icmp_reply(uint8_t ipver, uint8_t type);

/* IPFIX flowEndReason for an enum capture_end_reason. */
uint8_t pc_nf_end_reason(uint8_t reason);

/* ------------------------------------------------------------------ transports */

/* Token bucket over records and bits; a rate of 0 does not limit. */
struct nf_pace {
	uint64_t rec_rate, bit_rate; /* per second */
	double rec_tokens, bit_tokens;
	double rec_burst, bit_burst;
	uint64_t last_ns; /* monotonic */
	uint64_t waited_ns;
};

/* Datagram send failures by cause, explained once at close. */
struct nf_send_errs {
	uint64_t nobufs;  /* ENOBUFS/EAGAIN: socket or device queue full */
	uint64_t msgsize; /* EMSGSIZE: larger than the path takes */
	uint64_t refused; /* ECONNREFUSED: nobody listens */
	uint64_t other;
	uint32_t msgsize_len; /* the datagram size refused */
};

enum nf_tcp_state {
	NF_TCP_DOWN = 0,
	NF_TCP_CONNECTING,
	NF_TCP_UP
};

struct nf_io {
	struct pc_exporter *e;
	int transport;
	int fd;
	uint32_t mtu;
	char name[4352]; /* collector or file, for logs */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	/* Message buffers (mtu bytes each): the open messages plus, for UDP, the finished
	 * datagrams waiting for one sendmmsg. */
	uint8_t *pool;
	uint8_t *free_bufs[NF_POOL];
	unsigned nfree;
	uint8_t *batch[NF_UDP_BATCH];
	uint32_t lens[NF_UDP_BATCH];
	uint16_t nrecs[NF_UDP_BATCH]; /* records in each datagram (pacing) */
	unsigned nbatch;
	struct nf_pace pace;
	bool gso; /* UDP_SEGMENT works: equal datagrams go in one send */
	/* TCP and FILE: bytes not yet written */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	/* TCP connection */
	int tstate;
	uint64_t next_try_ns, backoff_ns;
	bool was_up;
	uint32_t conn_gen; /* +1 per established connection */
	/* error log rate limit */
	uint64_t err_log_ns, err_quiet;
	struct nf_send_errs serr;
	uint64_t bytes_sent;
};

/* Open the transport of @c (UDP socket, TCP target (connected lazily), file). */
int pc_nf_io_open(struct nf_io *io, struct pc_exporter *e, const struct nf_cfg *c, char *err,
		  size_t errlen);
void pc_nf_io_close(struct nf_io *io);
/* A buffer to build the next message in (capacity io->mtu); at most NF_OPEN_MSGS open. */
uint8_t *pc_nf_io_msg(struct nf_io *io);
/* The message in @buf is complete with @len bytes and @nrec records: queue it (the
 * buffer goes back). */
void pc_nf_io_msg_done(struct nf_io *io, uint8_t *buf, size_t len, unsigned nrec);
/* UDP: pace sends to @rec_rate records/s and @bit_rate bits/s (0: no limit). */
void pc_nf_io_pace(struct nf_io *io, uint64_t rec_rate, uint64_t bit_rate);
/* Give @buf back unsent (TCP: a message of a dropped connection). */
void pc_nf_io_msg_drop(struct nf_io *io, uint8_t *buf);
/* Send/write what is queued. UDP/FILE: all of it; TCP: what the socket takes now.
 * Returns 0, or -errno after counting and logging a failure. */
int pc_nf_io_flush(struct nf_io *io);
/* TCP: move the connection along (connect, completion, hang-up detection). Returns
 * true when connected. @now_ns: wall clock. */
bool pc_nf_io_tcp_poll(struct nf_io *io, uint64_t now_ns);
/* TCP: drop the connection after a failure; pending bytes are discarded. */
void pc_nf_io_tcp_drop(struct nf_io *io, uint64_t now_ns, int error);
/* Count and (rate-limited) log a transport failure. */
void pc_nf_io_error(struct nf_io *io, int error, const char *what);
/* What a send failure @error means and what to do about it ("" if nothing to add). */
const char *pc_nf_send_hint(struct nf_io *io, int error, char *buf, size_t len);
/* Resolve the collector of @c into io->addr. */
int pc_nf_resolve(struct nf_io *io, const struct nf_cfg *c, int socktype, char *err, size_t errlen);

/* nf_udp.c: open the connected UDP socket; send the queued datagrams (paced); log the
 * datagrams lost over the run by cause (at close). */
int pc_nf_udp_open(struct nf_io *io, const struct nf_cfg *c, char *err, size_t errlen);
int pc_nf_udp_send(struct nf_io *io);
void pc_nf_udp_summary(struct nf_io *io);

/* ------------------------------------------------------------------ record ring */

/* Bounded FIFO of flow records (TCP: kept across an outage). */
struct nf_ring {
	struct capture_flow *r;
	size_t cap, head, count;
};

int pc_nf_ring_init(struct nf_ring *q, size_t cap);
void pc_nf_ring_release(struct nf_ring *q);
/* Append what fits; returns how many were taken. */
size_t pc_nf_ring_push(struct nf_ring *q, const struct capture_flow *f, size_t n);
/* The @i-th queued record (0 = oldest). */
static inline const struct capture_flow *pc_nf_ring_at(const struct nf_ring *q, size_t i)
{
	size_t k = q->head + i;

	if (k >= q->cap)
		k -= q->cap;
	return &q->r[k];
}

void pc_nf_ring_pop(struct nf_ring *q, size_t n);

/* ------------------------------------------------------------------ message builder */

/* A v9 or IPFIX message being filled: header, then sets of one template each. */
struct nf_msg {
	uint8_t *buf;
	size_t cap, len;
	size_t set_off; /* open set's header offset, 0: none */
	uint16_t set_id;
	unsigned nrec;	/* all records (v9 header count) */
	unsigned ndata; /* data records (IPFIX sequence) */
	uint64_t started_ns;
};

static inline bool nf_msg_open(const struct nf_msg *m)
{
	return m->buf != NULL;
}

/* Start a message in @buf (capacity @cap) after a header of @hdr bytes. */
void pc_nf_msg_begin(struct nf_msg *m, uint8_t *buf, size_t cap, size_t hdr, uint64_t now_ns);
/* Reserve @len bytes for a record of set @set_id (opening the set if needed);
 * @pad4: v9 pads sets to 4 bytes. NULL when the message has no room. */
uint8_t *pc_nf_msg_add(struct nf_msg *m, uint16_t set_id, size_t len, bool pad4);
/* Close the open set (v9: pad to 4 bytes). */
void pc_nf_msg_close_set(struct nf_msg *m, bool pad4);

#endif
