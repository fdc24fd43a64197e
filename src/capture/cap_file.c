/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offline backend: classic pcap (us/ns, either byte order) and pcapng (any
 * number of sections and interfaces, a link type per interface) read with
 * large read()s into one buffer and parsed in place. Packet views point into
 * the buffer, which only moves at the start of a burst (after release).
 * Encrypted captures are read through the store module's AEAD reader.
 * Reading ourselves (not libpcap) is what lets one core go past 10 Mpps, and
 * libpcap 1.10 stops at a pcapng interface whose link type differs.
 * Regular files are read with plain blocking read()s; a pipe, FIFO or
 * character device is only read once poll() says so, within the burst's
 * timeout, so a writer that stalls never keeps a worker from seeing a stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/file_src.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

#define BUF_MIN (8u << 20)
#define READ_CHUNK (512u << 10)
#define MAX_RECORD (64u << 20) /* a larger record means a broken file */
#define MAX_IFS 256
#define MERGE_BUF_TOTAL (64u << 20) /* several inputs share this much buffer */
#define MERGE_BUF_MIN (256u << 10)
/* an input of unknown size (pipe, encrypted, compressed) starts with this
 * much buffer and doubles it, up to its maximum, each time a read filled it
 * to the brim: a short or slow stream never costs the whole buffer */
#define BUF_START (256u << 10)
#define SKIP_BUDGET 4096	/* non-packet blocks parsed per call before yielding */
#define ADVISE_STEP (32u << 20) /* a regular file: read-ahead asked for this far ahead */
/* How long open waits for a pipe's file header before leaving it to the
 * first bursts: a capture_start on a FIFO whose writer has not started yet
 * returns within this, and a stop asked for meanwhile then ends the session
 * (the open itself cannot see the engine's stop request). */
#define PIPE_HEADER_WAIT_MS 200

/* fill() and the parsers: no more input before the deadline (pipes only) */
#define FILL_AGAIN 2

enum fmt {
	FMT_PCAP,
	FMT_PCAPNG
};

struct iface {
	uint16_t linktype;
	uint32_t snaplen;
	bool pow2; /* resolution 2^-res, else 10^-res */
	uint8_t res;
	uint64_t mul, div; /* 10^-res: ns = ticks * mul / div */
	int64_t offset_s;
};

/* One input file: its source, buffer and parser state. */
struct frd {
	int fd;
	struct pc_crypt_reader *cr;
	struct pc_zsrc *z; /* compressed: decoded on a thread of its own */
	uint8_t *buf;
	size_t cap_bytes, start, end;
	size_t cap_max; /* cap_bytes grows to this ... */
	bool grow;	/* ... at the next refill: a read filled the buffer */
	bool src_eof;
	uint64_t advised;     /* regular file: read-ahead asked for up to here */
	bool pipe;	      /* pipe, FIFO, socket, char device: poll, no peek */
	bool hdr_wait;	      /* pipe whose file header has not arrived yet */
	uint64_t deadline_ns; /* pipes: give up waiting for input (monotonic) */
	enum fmt fmt;
	bool swap;
	bool nsec;
	uint16_t linktype; /* classic pcap */
	struct iface ifs[MAX_IFS];
	unsigned nifs;
	uint64_t npkts;	   /* records parsed */
	uint64_t last_ts;  /* for simple packet blocks, which carry none */
	uint64_t consumed; /* file bytes parsed */
	int pending_err;   /* reported after the good packets before it */
	bool warned;	   /* one warning per file about clamped stamps */
	const char *path;
	struct pc_cap *cap;
	/* merging several inputs (struct file_priv.n > 1) */
	struct pc_pkt head;  /* the next packet, parsed, while in the heap */
	bool done;	     /* ended: end of input or an error */
	uint64_t *raw_total; /* struct file_priv.raw_total: bytes read, all inputs */
	uint64_t raw_seen;   /* this input's part of it */
	bool first;	     /* the first input: its header sets cap's link type, stamps */
};

/* The session: one input, or several merged in time order by a heap of
 * their next packets, keyed (timestamp, position on the command line). */
struct file_priv {
	struct frd **r;
	unsigned n;
	unsigned *heap; /* indexes into r of the readers holding a head */
	unsigned nheap;
	unsigned *stl; /* readers to parse on at the next burst's start */
	unsigned nstl;
	uint64_t raw_total; /* input bytes read, for progress */
	int err;	    /* the first error of a reader (others went on) */
	char errmsg[sizeof(((struct pc_cap *)0)->err)];
};

static inline uint16_t rd16(const struct frd *f, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return f->swap ? __builtin_bswap16(v) : v;
}

static inline uint32_t rd32(const struct frd *f, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return f->swap ? __builtin_bswap32(v) : v;
}

static int fail(struct frd *f, int err, const char *fmt, ...) pc_printf(3, 4);

static int fail(struct frd *f, int err, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(f->cap->err, sizeof(f->cap->err), "%s: %s", f->path, msg);
	return err;
}

static ssize_t src_read(struct frd *f, void *buf, size_t len)
{
	if (f->z)
		return pc_zsrc_read(f->z, buf, len, f->pipe ? f->deadline_ns : UINT64_MAX);
	if (f->cr)
		return pc_crypt_reader_read(f->cr, buf, len);
	for (;;) {
		ssize_t n = read(f->fd, buf, len);

		if (n >= 0 || errno != EINTR)
			return n < 0 ? -errno : n;
	}
}

/* A pipe: wait until it can be read or f->deadline_ns passes. Returns 1
 * when readable (data, or the writer closed), 0 at the deadline, or -err. */
static int wait_input(struct frd *f)
{
	for (;;) {
		struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
		uint64_t now = pc_mono_ns();
		int ms = now >= f->deadline_ns ? 0
					       : (int)((f->deadline_ns - now + 999999) / 1000000);
		int n = poll(&pfd, 1, ms);

		if (n >= 0)
			return n > 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* A regular file read past the last hint: ask the kernel for the
 * next ADVISE_STEP (beside POSIX_FADV_SEQUENTIAL's larger read-ahead), so a
 * file on disk is read ahead of the parser, not on its demand. */
static void advise_ahead(struct frd *f, uint64_t pos)
{
	if (pos + ADVISE_STEP / 2 < f->advised)
		return;
	posix_fadvise(f->fd, (off_t)f->advised, ADVISE_STEP, POSIX_FADV_WILLNEED);
	f->advised += ADVISE_STEP;
}

/* Make at least @need bytes available from f->start, moving the unparsed
 * tail to the front. Returns 0, 1 at a clean end of data, FILL_AGAIN when a
 * pipe has no more before f->deadline_ns (what came is kept), or -err. */
static int fill(struct frd *f, size_t need)
{
	if (f->end - f->start >= need)
		return 0;
	if (f->start) {
		memmove(f->buf, f->buf + f->start, f->end - f->start);
		f->end -= f->start;
		f->start = 0;
	}
	if (need > f->cap_bytes || (f->grow && f->cap_bytes < f->cap_max)) {
		/* doubled towards cap_max after a read filled it, and at least
		 * what this record needs (records are <= MAX_RECORD) */
		size_t ncap = f->grow ? PC_MIN(f->cap_bytes * 2, f->cap_max) : f->cap_bytes;
		uint8_t *nb;

		ncap = PC_MAX(ncap, (need + 0xffffu) & ~(size_t)0xffffu);
		f->grow = false;
		nb = realloc(f->buf, ncap);
		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap_bytes = ncap;
	}
	while (f->end < need && !f->src_eof) {
		/* modest reads keep what we parse next in the L2 cache */
		size_t want = f->cap_bytes - f->end;
		ssize_t n;

		if (want > READ_CHUNK && need - f->end <= READ_CHUNK)
			want = READ_CHUNK;
		if (f->pipe && !f->z) {
			int rc = wait_input(f);

			if (rc == 0)
				return FILL_AGAIN;
			if (rc < 0)
				return fail(f, rc, "poll error: %s", capture_strerror(rc));
		}
		n = src_read(f, f->buf + f->end, want);
		if (n == -EAGAIN && f->z)
			return FILL_AGAIN; /* the decoder had nothing before the deadline */
		if (n == -EAGAIN && f->pipe)
			continue; /* another reader of the FIFO took it: wait again */
		if (n < 0) {
			if (f->z)
				return fail(f, (int)n, "%s", pc_zsrc_error(f->z));
			if (f->cr)
				return fail(f, (int)n, "%s", pc_crypt_reader_error(f->cr));
			return fail(f, (int)n, "read error: %s", capture_strerror((int)n));
		}
		if (n == 0)
			f->src_eof = true;
		f->end += (size_t)n;
		f->grow |= f->end == f->cap_bytes;
		if (f->advised)
			advise_ahead(f, f->z ? pc_zsrc_raw_pos(f->z)
					     : f->consumed + (f->end - f->start));
	}
	return f->end - f->start >= need ? 0 : 1;
}

/*
 * Make the @need bytes of a record or block header available at f->start.
 * Returns 0, 1 at a clean end of input, 2 to come back with an empty burst
 * (views of this burst pin the buffer: @may_move false; or a pipe has no
 * more yet), 3 when the input ends inside the header (the caller says
 * where), or -err.
 */
static int need_header(struct frd *f, size_t need, bool may_move)
{
	int rc;

	if (f->end - f->start >= need)
		return 0;
	if (!may_move && !(f->src_eof && f->end == f->start))
		return 2;
	rc = fill(f, need);
	if (rc <= 0 || rc == FILL_AGAIN)
		return rc;
	return f->end == f->start ? 1 : 3;
}

static int parse_pcap_header(struct frd *f)
{
	const uint8_t *h = f->buf + f->start;
	uint32_t magic, lt;

	memcpy(&magic, h, 4);
	switch (magic) {
	case 0xa1b2c3d4:
		break;
	case 0xd4c3b2a1:
		f->swap = true;
		break;
	case 0xa1b23c4d:
		f->nsec = true;
		break;
	case 0x4d3cb2a1:
		f->swap = f->nsec = true;
		break;
	default:
		return fail(f, -CAPTURE_E_FORMAT, "not a capture file (unknown magic 0x%08x)",
			    magic);
	}
	if (rd16(f, h + 4) != 2)
		return fail(f, -CAPTURE_E_FORMAT, "unsupported pcap version %u.%u", rd16(f, h + 4),
			    rd16(f, h + 6));
	lt = rd32(f, h + 20) & 0x03ffffff; /* upper bits: FCS length flags */
	f->linktype = (uint16_t)lt;
	f->fmt = FMT_PCAP;
	f->start += 24;
	f->consumed += 24;
	return 0;
}

static const uint64_t dec_pow[10] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

/* @ticks in @ifc's resolution plus its offset, as Unix nanoseconds in *@ns,
 * in 128 bits (2^64 ticks of 1 s, or an offset of 2^62 s, overflow 64 bits).
 * Outside 0 .. 2^64-1 ns (1970 .. 2554) it is clamped to the nearer end and
 * false returned: real files carry such stamps (all-ones high words), and
 * readers keep their packets, so the file is not refused for it. */
static bool ticks_to_ns(const struct iface *ifc, uint64_t ticks, uint64_t *ns)
{
	__int128 v;

	if (ifc->pow2)
		v = (__int128)(((unsigned __int128)ticks * 1000000000u) >> ifc->res);
	else
		v = (__int128)ticks * ifc->mul / ifc->div;
	v += (__int128)ifc->offset_s * 1000000000;
	if (v < 0 || v > (__int128)UINT64_MAX) {
		*ns = v < 0 ? 0 : UINT64_MAX;
		return false;
	}
	*ns = (uint64_t)v;
	return true;
}

static void warn_once(struct frd *f, const char *fmt, ...) pc_printf(2, 3);

/* A warning about the file, prefixed with its path; only the first one is
 * given (a run of odd stamps would flood the log). */
static void warn_once(struct frd *f, const char *fmt, ...)
{
	const struct pc_cap_params *p = f->cap->params;
	char msg[384];
	va_list ap;

	if (f->warned || !p || !p->log_fn || p->log_level < CAPTURE_LOG_WARN)
		return;
	f->warned = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_WARN, "%s: %s", f->path, msg);
}

/* An interface description block (@body, @blen bytes): link type, snap
 * length, and the if_tsresol / if_tsoffset options. 0 or -err. */
static int pcapng_idb(struct frd *f, const uint8_t *body, uint32_t blen)
{
	struct iface *ifc;
	size_t off = 8;

	if (blen < 8)
		return fail(f, -CAPTURE_E_FORMAT, "interface block too short");
	if (f->nifs >= MAX_IFS)
		return fail(f, -CAPTURE_E_FORMAT, "more than %d interfaces", MAX_IFS);
	ifc = &f->ifs[f->nifs++];
	memset(ifc, 0, sizeof(*ifc));
	ifc->linktype = rd16(f, body);
	ifc->snaplen = rd32(f, body + 4);
	ifc->res = 6;
	ifc->mul = 1000;
	ifc->div = 1;
	while (off + 4 <= blen) {
		uint16_t code = rd16(f, body + off), olen = rd16(f, body + off + 2);

		if (code == 0 || off + 4 + olen > blen)
			break;
		if (code == 9 && olen >= 1) {
			uint8_t v = body[off + 4];

			ifc->pow2 = v & 0x80;
			ifc->res = v & 0x7f;
			if ((!ifc->pow2 && ifc->res > 18) || (ifc->pow2 && ifc->res > 63))
				return fail(f, -CAPTURE_E_FORMAT,
					    "interface %u: unsupported timestamp resolution 0x%02x",
					    f->nifs - 1, v);
			if (!ifc->pow2) {
				ifc->mul = ifc->res <= 9 ? dec_pow[9 - ifc->res] : 1;
				ifc->div = ifc->res > 9 ? dec_pow[ifc->res - 9] : 1;
			}
		} else if (code == 14 && olen >= 8) {
			uint64_t o;

			memcpy(&o, body + off + 4, 8);
			if (f->swap)
				o = __builtin_bswap64(o);
			ifc->offset_s = (int64_t)o; /* seconds; range checked per packet */
		}
		off += 4 + ((olen + 3u) & ~3u);
	}
	return 0;
}

/* Parse one pcapng block at f->start (whole block available). Returns 1 when
 * it produced a packet in @pk, 0 for other blocks, or -err. */
static int pcapng_block(struct frd *f, uint32_t type, uint32_t len, struct pc_pkt *pk)
{
	const uint8_t *b = f->buf + f->start;
	const uint8_t *body = b + 8;
	uint32_t blen = len - 12;

	switch (type) {
	case 1: /* interface description */
		return pcapng_idb(f, body, blen);
	case 6:	  /* enhanced packet */
	case 2: { /* obsolete packet block */
		uint32_t ifid, caplen, origlen;
		uint64_t ticks;
		const struct iface *ifc;

		if (blen < 20)
			return fail(f, -CAPTURE_E_FORMAT, "packet block too short");
		ifid = type == 6 ? rd32(f, body) : rd16(f, body);
		ticks = ((uint64_t)rd32(f, body + 4) << 32) | rd32(f, body + 8);
		caplen = rd32(f, body + 12);
		origlen = rd32(f, body + 16);
		if (caplen > blen - 20)
			return fail(f, -CAPTURE_E_FORMAT,
				    "packet %llu: captured length %u exceeds its block",
				    (unsigned long long)f->npkts + 1, caplen);
		if (ifid >= f->nifs)
			return fail(f, -CAPTURE_E_FORMAT,
				    "packet %llu: interface %u not described (%u defined)",
				    (unsigned long long)f->npkts + 1, ifid, f->nifs);
		ifc = &f->ifs[ifid];
		if (pc_unlikely(!ticks_to_ns(ifc, ticks, &f->last_ts)))
			warn_once(f,
				  "packet %llu: timestamp outside 1970..2554 clamped to %s "
				  "(later ones are not reported)",
				  (unsigned long long)f->npkts + 1, f->last_ts ? "2554" : "1970");
		pk->data = body + 20;
		pk->caplen = caplen;
		pk->wirelen = origlen < caplen ? caplen : origlen;
		pk->ts_ns = f->last_ts;
		pk->linktype = ifc->linktype;
		pk->ifindex = (uint16_t)ifid;
		return 1;
	}
	case 3: { /* simple packet: interface 0, no timestamp */
		uint32_t origlen, caplen;

		if (blen < 4)
			return fail(f, -CAPTURE_E_FORMAT, "simple packet block too short");
		if (!f->nifs)
			return fail(f, -CAPTURE_E_FORMAT, "simple packet before any interface");
		origlen = rd32(f, body);
		caplen = blen - 4;
		if (origlen < caplen)
			caplen = origlen;
		if (f->ifs[0].snaplen && caplen > f->ifs[0].snaplen)
			caplen = f->ifs[0].snaplen;
		pk->data = body + 4;
		pk->caplen = caplen;
		pk->wirelen = origlen < caplen ? caplen : origlen;
		pk->ts_ns = f->last_ts; /* no timestamp of its own: keep time monotonic */
		pk->linktype = f->ifs[0].linktype;
		pk->ifindex = 0;
		return 1;
	}
	default:
		return 0; /* statistics, name resolution, custom...: skipped */
	}
}

/* Read the section header at f->start: byte order, then reset interfaces. */
static int pcapng_section(struct frd *f)
{
	uint32_t bom, len;
	int rc = fill(f, 28);

	if (rc == FILL_AGAIN)
		return rc;
	if (rc)
		return rc < 0 ? rc : fail(f, -CAPTURE_E_TRUNCATED, "truncated section header");
	memcpy(&bom, f->buf + f->start + 8, 4);
	if (bom == 0x1a2b3c4d)
		f->swap = false;
	else if (bom == 0x4d3c2b1a)
		f->swap = true;
	else
		return fail(f, -CAPTURE_E_FORMAT, "bad pcapng byte-order magic 0x%08x", bom);
	len = rd32(f, f->buf + f->start + 4);
	if (len < 28 || len % 4 || len > MAX_RECORD)
		return fail(f, -CAPTURE_E_FORMAT, "bad section header length %u", len);
	if (rd16(f, f->buf + f->start + 12) != 1)
		return fail(f, -CAPTURE_E_FORMAT, "unsupported pcapng major version %u",
			    rd16(f, f->buf + f->start + 12));
	rc = fill(f, len);
	if (rc == FILL_AGAIN)
		return rc;
	if (rc)
		return rc < 0 ? rc : fail(f, -CAPTURE_E_TRUNCATED, "truncated section header");
	f->nifs = 0;
	f->fmt = FMT_PCAPNG;
	f->start += len;
	f->consumed += len;
	return 0;
}

static int next_pcap(struct frd *f, struct pc_pkt *pk, bool may_move)
{
	const uint8_t *h;
	uint32_t incl, orig, frac;
	int rc;

	rc = need_header(f, 16, may_move);
	if (rc == 3)
		return fail(f, -CAPTURE_E_TRUNCATED,
			    "truncated: record header of packet %llu cut at offset %llu",
			    (unsigned long long)f->npkts + 1, (unsigned long long)f->consumed);
	if (rc)
		return rc;
	h = f->buf + f->start;
	incl = rd32(f, h + 8);
	orig = rd32(f, h + 12);
	if (incl > MAX_RECORD)
		return fail(f, -CAPTURE_E_FORMAT,
			    "packet %llu: capture length %u is impossible (file damaged?)",
			    (unsigned long long)f->npkts + 1, incl);
	/* no packet is 0 bytes long on the wire: this is a zero-filled region
	 * (a tail preallocated and never written), not millions of packets */
	if (!incl && !orig)
		return fail(f, -CAPTURE_E_FORMAT,
			    "packet %llu: empty record at offset %llu (zero-filled file?)",
			    (unsigned long long)f->npkts + 1, (unsigned long long)f->consumed);
	if (f->end - f->start < 16 + (size_t)incl) {
		if (!may_move)
			return 2;
		rc = fill(f, 16 + (size_t)incl);
		if (rc < 0 || rc == FILL_AGAIN)
			return rc;
		if (rc)
			return fail(
				f, -CAPTURE_E_TRUNCATED,
				"truncated: packet %llu needs %u bytes, %zu left at offset %llu",
				(unsigned long long)f->npkts + 1, incl, f->end - f->start - 16,
				(unsigned long long)f->consumed);
		h = f->buf + f->start;
	}
	frac = rd32(f, h + 4);
	pk->ts_ns = (uint64_t)rd32(f, h) * 1000000000ull + (f->nsec ? frac : frac * 1000ull);
	pk->data = h + 16;
	pk->caplen = incl;
	pk->wirelen = orig < incl ? incl : orig;
	pk->linktype = f->linktype;
	pk->ifindex = 0;
	f->start += 16 + (size_t)incl;
	f->consumed += 16 + (size_t)incl;
	f->npkts++;
	return 0;
}

static int next_pcapng(struct frd *f, struct pc_pkt *pk, bool may_move)
{
	unsigned others = 0;

	for (;;) {
		uint32_t type, len;
		int rc;

		rc = need_header(f, 12, may_move);
		if (rc == 3)
			return fail(f, -CAPTURE_E_TRUNCATED,
				    "truncated: block header cut at offset %llu",
				    (unsigned long long)f->consumed);
		if (rc)
			return rc;
		memcpy(&type, f->buf + f->start, 4);
		if (type == 0x0a0d0d0a) {
			if (!may_move)
				return 2;
			rc = pcapng_section(f);
			if (rc)
				return rc;
			continue;
		}
		type = rd32(f, f->buf + f->start);
		len = rd32(f, f->buf + f->start + 4);
		if (len < 12 || len % 4 || len > MAX_RECORD)
			return fail(f, -CAPTURE_E_FORMAT,
				    "bad block length %u at offset %llu (file damaged?)", len,
				    (unsigned long long)f->consumed);
		if (f->end - f->start < len) {
			if (!may_move)
				return 2;
			rc = fill(f, len);
			if (rc < 0 || rc == FILL_AGAIN)
				return rc;
			if (rc)
				return fail(f, -CAPTURE_E_TRUNCATED,
					    "truncated: block of %u bytes cut at offset %llu", len,
					    (unsigned long long)f->consumed);
		}
		if (rd32(f, f->buf + f->start + len - 4) != len)
			return fail(f, -CAPTURE_E_FORMAT,
				    "block at offset %llu: trailing length %u differs from %u "
				    "(file damaged?)",
				    (unsigned long long)f->consumed,
				    rd32(f, f->buf + f->start + len - 4), len);
		rc = pcapng_block(f, type, len, pk);
		if (rc < 0)
			return rc;
		f->start += len;
		f->consumed += len;
		if (rc == 1) {
			f->npkts++;
			return 0;
		}
		/* a file of nothing but small non-packet blocks: hand back an
		 * empty burst now and then so the worker can see a stop */
		if (++others >= SKIP_BUDGET)
			return 2;
	}
}

static int file_probe(const char *ifname, char *reason, size_t len)
{
	snprintf(reason, len,
		 "offline capture files: pcap (us/ns, both byte orders), pcapng, "
		 "encrypted containers, gzip/zstd/lz4");
	return 0;
}

/* Read the input through the store's AEAD reader, with the key in
 * p->decrypt_key_file. 0 or -err (the message in cap->err). */
static int open_encrypted(struct frd *f, const struct pc_cap_params *p)
{
	struct pc_crypt_key key;
	char err[256];
	int rc;

	if (!p->decrypt_key_file)
		return fail(f, -CAPTURE_E_KEY,
			    "encrypted capture: give the key file (jcap --key FILE)");
	rc = pc_crypt_key_load(&key, p->decrypt_key_file, CAPTURE_CIPHER_AES_256_GCM, err,
			       sizeof(err));
	if (rc < 0)
		return fail(f, rc, "%s", err);
	rc = pc_crypt_reader_open(&f->cr, f->fd, &key, err, sizeof(err));
	pc_crypt_key_wipe(&key);
	if (rc < 0)
		return fail(f, rc, "%s", err);
	return 0;
}

/* The first bytes decide the format: a pcapng section header or a classic
 * pcap file header. 0, FILL_AGAIN (a pipe: not all there yet) or -err. */
static int read_file_header(struct frd *f)
{
	uint32_t magic;
	int rc;

	memcpy(&magic, f->buf + f->start, 4);
	if (magic == 0x0a0d0d0a)
		return pcapng_section(f);
	rc = fill(f, 24);
	if (rc == FILL_AGAIN)
		return rc;
	if (rc > 0)
		return fail(f, -CAPTURE_E_TRUNCATED, "truncated: file header is %zu of 24 bytes",
			    f->end - f->start);
	if (rc < 0)
		return rc;
	return parse_pcap_header(f);
}

/* The input is compressed (@k): what was read is handed to a decoder thread,
 * which reads the rest; the buffer then fills with decoded bytes. 0 or -err. */
static int start_decoder(struct frd *f, enum pc_zkind k)
{
	char err[256];
	int rc;

	rc = pc_zsrc_open(&f->z, f->fd, f->pipe, k, f->buf + f->start, f->end - f->start, err,
			  sizeof(err));
	if (rc < 0)
		return fail(f, rc, "%s", err);
	f->start = f->end = 0;
	f->src_eof = false;
	/* a small compressed file may decode to far more than its size: the
	 * buffer grows when reads fill it (fill) */
	if (f->cap_max < BUF_MIN)
		f->cap_max = BUF_MIN;
	return 0;
}

/* The input's first bytes: checked, parsed, and what the session reports
 * from them set in @cap. Nothing is consumed until the whole header is in,
 * so a pipe may come back after FILL_AGAIN. 0, FILL_AGAIN or -err. */
static int read_header(struct frd *f)
{
	struct pc_cap *cap = f->cap;
	int rc = fill(f, 4);

	if (rc == FILL_AGAIN)
		return rc;
	if (rc)
		return rc < 0 ? rc
			      : fail(f, -CAPTURE_E_FORMAT,
				     f->end == f->start ? "empty input (0 bytes), not a capture"
							: "too short to be a capture file");
	if (f->pipe && pc_crypt_is_encrypted(f->buf + f->start, f->end - f->start))
		return fail(f, -CAPTURE_E_FORMAT,
			    "encrypted captures are read from regular files, not pipes");
	if (!f->z && !f->cr) {
		enum pc_zkind k = pc_zsrc_detect(f->buf + f->start, f->end - f->start);

		if (k != PC_Z_NONE) {
			rc = start_decoder(f, k);
			if (rc)
				return rc;
			return read_header(f); /* the decoded stream's header */
		}
	}
	rc = read_file_header(f);
	if (rc || !f->first)
		return rc;
	cap->linktype = f->fmt == FMT_PCAP ? f->linktype : (f->nifs ? f->ifs[0].linktype : 1);
	snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail), "%s",
		 f->fmt == FMT_PCAPNG ? "pcapng interface resolution"
				      : (f->nsec ? "pcap nanosecond" : "pcap microsecond"));
	return 0;
}

/* Open @path without waiting for a FIFO's writer (O_NONBLOCK), then drop
 * O_NONBLOCK again unless it is a pipe, which is only read after poll().
 * stdin is shared with the caller: its flags are left alone. */
static int open_input(struct frd *f, const char *path, struct stat *st)
{
	int fl;

	f->fd = !strcmp(path, "-") ? dup(STDIN_FILENO)
				   : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f->fd < 0)
		return fail(f, -errno, "cannot open: %s", strerror(errno));
	if (fstat(f->fd, st) < 0)
		return fail(f, -errno, "cannot stat: %s", strerror(errno));
	if (S_ISDIR(st->st_mode))
		return fail(f, -EISDIR, "is a directory, not a capture file");
	f->pipe = S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISSOCK(st->st_mode);
	if (f->pipe || !strcmp(path, "-"))
		return 0;
	fl = fcntl(f->fd, F_GETFL);
	if (fl < 0 || fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return fail(f, -errno, "cannot open: %s", strerror(errno));
	return 0;
}

static void reader_close(struct frd *f)
{
	if (!f)
		return;
	pc_zsrc_close(f->z); /* joins its thread before the fd goes */
	pc_crypt_reader_close(f->cr);
	if (f->fd >= 0)
		close(f->fd);
	free(f->buf);
	free(f);
}

/* Open the input @path (its header read, or left to the first bursts for a
 * pipe whose writer has not begun) with a buffer of at most @bufmax bytes.
 * 0 or -err, the message in cap->err naming the file. */
static int reader_open(struct pc_cap *cap, const struct pc_cap_params *p, const char *path,
		       bool first, size_t bufmax, struct frd **out)
{
	struct frd *f;
	struct stat st;
	uint8_t head[32];
	uint64_t size = 0;
	ssize_t hn = 0;
	int rc;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cap = cap;
	f->fd = -1;
	f->first = first;
	f->path = strcmp(path, "-") ? path : "stdin";
	rc = open_input(f, path, &st);
	if (rc < 0)
		goto fail;
	if (S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	cap->input_bytes += size;
	if (!f->pipe) {
		posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		hn = pread(f->fd, head, sizeof(head), 0);
		if (hn < 0 && errno == ESPIPE) {
			/* not seekable after all: stream it like a pipe */
			hn = 0;
			f->pipe = true;
		} else if (hn < 0) {
			rc = fail(f, -errno, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (hn == 0 && !f->pipe) {
			rc = fail(f, -CAPTURE_E_FORMAT, "empty file (0 bytes), not a capture");
			goto fail;
		}
	}
	if (pc_crypt_is_encrypted(head, (size_t)hn)) {
		rc = open_encrypted(f, p);
		if (rc < 0)
			goto fail;
	}
	if (!f->cr && !f->pipe && S_ISREG(st.st_mode)) {
		/* plain or compressed: read ahead of the parser (advise_ahead) */
		posix_fadvise(f->fd, 0, ADVISE_STEP, POSIX_FADV_WILLNEED);
		f->advised = ADVISE_STEP;
	}
	/* a small plain file needs no more than its size (fill() grows the
	 * buffer if a record ever needs it; a decoder may grow it to BUF_MIN);
	 * one of unknown size starts small and grows when reads fill it */
	f->cap_bytes = f->cap_max = bufmax;
	if (!f->cr && !f->pipe && size && size < bufmax)
		f->cap_bytes = f->cap_max = ((size_t)size + 0xfffu) & ~(size_t)0xfffu;
	else if ((f->cr || f->pipe) && bufmax > BUF_START)
		f->cap_bytes = BUF_START;
	f->buf = malloc(f->cap_bytes);
	if (!f->buf) {
		rc = -ENOMEM;
		goto fail;
	}
	f->deadline_ns = pc_mono_ns() + PIPE_HEADER_WAIT_MS * 1000000ull;
	rc = read_header(f);
	if (rc == FILL_AGAIN) {
		/* a writer that has not begun: the first bursts wait for it */
		f->hdr_wait = true;
		if (first)
			snprintf(cap->tstamp_detail, sizeof(cap->tstamp_detail),
				 "not known yet (no file header from the pipe)");
		rc = 0;
	}
	if (rc == 0) {
		*out = f;
		return 0;
	}
fail:
	reader_close(f);
	return rc;
}

static void file_close(struct pc_cap *cap)
{
	struct file_priv *m = cap->priv;

	if (!m)
		return;
	for (unsigned i = 0; i < m->n; i++)
		reader_close(m->r[i]);
	free(m->r);
	free(m->heap);
	free(m->stl);
	free(m);
	cap->priv = NULL;
}

static int file_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	const char *const *paths = p->npcap_files ? p->pcap_files : &p->pcap_file;
	unsigned n = p->npcap_files ? p->npcap_files : 1, nstdin = 0;
	struct file_priv *m;
	size_t bufmax = BUF_MIN;

	if (!paths || !paths[0]) {
		snprintf(cap->err, sizeof(cap->err), "the file backend needs a pcap_file");
		return -CAPTURE_E_CONFIG;
	}
	for (unsigned i = 0; i < n; i++)
		nstdin += !strcmp(paths[i], "-");
	if (nstdin > 1) {
		snprintf(cap->err, sizeof(cap->err), "stdin (-) given %u times as an input",
			 nstdin);
		return -CAPTURE_E_CONFIG;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	cap->priv = m;
	m->r = calloc(n, sizeof(*m->r));
	m->heap = calloc(n, sizeof(*m->heap));
	m->stl = calloc(n, sizeof(*m->stl));
	if (!m->r || !m->heap || !m->stl) {
		file_close(cap);
		return -ENOMEM;
	}
	cap->nqueues = 1;
	cap->offline = true;
	cap->linktype = PC_DLT_EN10MB;
	cap->input_bytes = 0;
	snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "file");
	/* several inputs share MERGE_BUF_TOTAL, each at least MERGE_BUF_MIN */
	if (n > 1) {
		bufmax = MERGE_BUF_TOTAL / n;
		bufmax = bufmax < MERGE_BUF_MIN ? MERGE_BUF_MIN
			 : bufmax > BUF_MIN	? BUF_MIN
						: bufmax;
	}
	for (unsigned i = 0; i < n; i++) {
		int rc = reader_open(cap, p, paths[i], i == 0, bufmax, &m->r[i]);

		if (rc < 0) {
			file_close(cap);
			return rc;
		}
		m->n = i + 1;
		m->r[i]->raw_total = &m->raw_total;
		/* merged: every reader parses its first packet in the first burst */
		m->stl[m->nstl++] = i;
	}
	if (n > 1 && !m->r[0]->hdr_wait) {
		size_t l = strlen(cap->tstamp_detail);

		snprintf(cap->tstamp_detail + l, sizeof(cap->tstamp_detail) - l,
			 "; %u inputs merged in time order", n);
	}
	return 0;
}

/* The bytes of @f read so far, for progress: compressed bytes for a
 * compressed input, else what was parsed. */
static uint64_t reader_pos(const struct frd *f)
{
	return f->z ? pc_zsrc_raw_pos(f->z) : f->consumed;
}

/* One input alone: its packets in file order, the buffer moving only at
 * the start of a burst. */
static int single_burst(struct pc_cap *cap, struct frd *f, struct pc_pkt *pkts, unsigned max,
			int timeout_ms)
{
	unsigned n = 0;

	if (f->pending_err)
		return f->pending_err;
	if (f->pipe) {
		f->deadline_ns =
			pc_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
		if (pc_unlikely(f->hdr_wait)) {
			int rc = read_header(f);

			if (rc == FILL_AGAIN)
				return 0; /* idle: the worker checks for a stop */
			if (rc < 0)
				return rc;
			f->hdr_wait = false;
		}
	}
	while (n < max) {
		/* the buffer may only move while no view of this burst exists */
		int rc = f->fmt == FMT_PCAP ? next_pcap(f, &pkts[n], n == 0)
					    : next_pcapng(f, &pkts[n], n == 0);

		if (rc == 0) {
			n++;
			continue;
		}
		if (rc == 2 || rc == FILL_AGAIN)
			break;
		if (rc == 1) {
			if (!n)
				return -CAPTURE_E_EOF;
			break;
		}
		if (!n)
			return rc;
		f->pending_err = rc;
		break;
	}
	__atomic_store_n(&cap->input_pos, reader_pos(f), __ATOMIC_RELAXED);
	return (int)n;
}

/* ---------------------------------------------------------------- merging */

/* Reader @a's head goes before reader @b's: earlier, or as early and given
 * first (so equal stamps keep the command-line order, as mergecap does). */
static inline bool before(const struct file_priv *m, unsigned a, unsigned b)
{
	uint64_t ta = m->r[a]->head.ts_ns, tb = m->r[b]->head.ts_ns;

	return ta < tb || (ta == tb && a < b);
}

static void sift_down(struct file_priv *m, unsigned i)
{
	unsigned v = m->heap[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= m->nheap)
			break;
		if (c + 1 < m->nheap && before(m, m->heap[c + 1], m->heap[c]))
			c++;
		if (!before(m, m->heap[c], v))
			break;
		m->heap[i] = m->heap[c];
		i = c;
	}
	m->heap[i] = v;
}

static void heap_push(struct file_priv *m, unsigned v)
{
	unsigned i = m->nheap++;

	while (i && before(m, v, m->heap[(i - 1) / 2])) {
		m->heap[i] = m->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	m->heap[i] = v;
}

/* Parse reader @f's next packet into f->head: 0, 1 at its end, 2 when the
 * buffer must move first (@may_move false) or a pipe has nothing yet, or
 * -err. */
static int peek(struct frd *f, bool may_move)
{
	int rc;

	if (pc_unlikely(f->hdr_wait)) {
		if (!may_move)
			return 2;
		rc = read_header(f);
		if (rc == FILL_AGAIN)
			return 2;
		if (rc < 0)
			return rc;
		f->hdr_wait = false;
	}
	rc = f->fmt == FMT_PCAP ? next_pcap(f, &f->head, may_move)
				: next_pcapng(f, &f->head, may_move);
	if (rc == 0) {
		uint64_t pos = reader_pos(f);

		*f->raw_total += pos - f->raw_seen;
		f->raw_seen = pos;
	}
	return rc == FILL_AGAIN ? 2 : rc;
}

/* Reader @f ended with @rc: at its end (1), or an error, which is kept for
 * the end of the run (the first one) while the other inputs go on, as
 * mergecap goes on past a file cut short. */
static void reader_ended(struct file_priv *m, struct frd *f, int rc)
{
	const struct pc_cap_params *p = f->cap->params;

	f->done = true;
	if (rc >= 0)
		return;
	if (!m->err) {
		m->err = rc;
		snprintf(m->errmsg, sizeof(m->errmsg), "%s", f->cap->err);
	}
	if (p && p->log_fn)
		pc_logf(p->log_fn, p->log_ctx, p->log_level, CAPTURE_LOG_WARN,
			"%s; the other inputs go on", f->cap->err);
}

/* Several inputs: the earliest head of all, burst after burst. A reader
 * whose next packet needs its buffer moved while a view of this burst points
 * into it ends the burst; it parses on at the start of the next one. */
static int merge_burst(struct pc_cap *cap, struct file_priv *m, struct pc_pkt *pkts, unsigned max,
		       int timeout_ms)
{
	uint64_t dl = pc_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
	unsigned n = 0;

	for (unsigned k = 0; k < m->nstl;) {
		unsigned i = m->stl[k];
		struct frd *f = m->r[i];
		int rc;

		f->deadline_ns = dl;
		rc = peek(f, true);
		if (rc == 2) {
			k++;
			continue;
		}
		m->stl[k] = m->stl[--m->nstl];
		if (rc == 0)
			heap_push(m, i);
		else
			reader_ended(m, f, rc);
	}
	if (m->nstl)
		return 0; /* a pipe or a long run of other blocks: the order waits */
	if (!m->nheap) {
		if (!m->err)
			return -CAPTURE_E_EOF;
		snprintf(cap->err, sizeof(cap->err), "%s", m->errmsg);
		return m->err;
	}
	while (n < max) {
		unsigned i = m->heap[0];
		struct frd *f = m->r[i];
		int rc;

		pkts[n++] = f->head;
		rc = peek(f, false); /* pinned: pkts[n - 1] points into its buffer */
		if (rc == 0) {
			sift_down(m, 0);
			continue;
		}
		m->heap[0] = m->heap[--m->nheap];
		if (m->nheap)
			sift_down(m, 0);
		if (rc == 2) {
			m->stl[m->nstl++] = i;
			break;
		}
		reader_ended(m, f, rc);
		if (!m->nheap)
			break;
	}
	__atomic_store_n(&cap->input_pos, m->raw_total, __ATOMIC_RELAXED);
	return (int)n;
}

static int file_rx_burst(struct pc_cap *cap, unsigned q, struct pc_pkt *pkts, unsigned max,
			 int timeout_ms)
{
	struct file_priv *m = cap->priv;

	if (m->n == 1)
		return single_burst(cap, m->r[0], pkts, max, timeout_ms);
	return merge_burst(cap, m, pkts, max, timeout_ms);
}

static void file_rx_release(struct pc_cap *cap, unsigned q, unsigned n)
{
	/* views stay valid until the next burst moves the buffer */
}

const struct pc_capture_ops pc_cap_file_ops = {
	.name = "file",
	.preference = 0,
	.flags = PC_CAP_F_OFFLINE,
	.probe = file_probe,
	.open = file_open,
	.rx_burst = file_rx_burst,
	.rx_release = file_rx_release,
	.stats = NULL,
	.close = file_close,
};
