/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet writer: workers copy packets into their own preallocated SPSC queue
 * (live input never blocks: a full queue is counted; offline input waits for
 * room, pc_writer_submit_wait), one writer thread merges the
 * queues by timestamp and frames them as pcap or pcapng into the sink chain,
 * rotating files by size and/or packet time and keeping at most max_files.
 * Invariant: every packet submitted is written, or counted in queue_drops or
 * errors; every file is closed valid (final chunk sealed) when rotated.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/sink.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

#define DEFAULT_QUEUE 65536u
#define DATA_PER_SLOT 512u /* data ring bytes per queue slot */
#define DATA_MIN (1u << 20)
#define DATA_MAX (64u << 20)
#define MAX_CAPLEN 262144u
#define DRAIN_BUDGET 1024u /* packets per queue per round */
#define IDLE_SLEEP_US 1000u
#define FLUSH_NS 1000000000ull /* idle data reaches the disk within 1 s */
#define RETRY_NS 1000000000ull /* after a failed open, wait before retrying */
#define MAX_IFS 16
#define NAME_LEN 64

struct wq_desc {
	uint64_t end; /* data position just past this packet */
	uint64_t ts_ns;
	uint32_t off;
	uint32_t caplen;
	uint32_t wirelen;
	uint16_t linktype;
	uint16_t ifindex;
};

/* One worker's queue. Producer fields and consumer fields on their own lines. */
struct wq {
	_Atomic uint64_t head pc_cache_aligned; /* written by the producer */
	uint64_t data_head;			/* producer private */
	uint64_t tail_cache;			/* producer's last view of tail */
	_Atomic uint64_t drops;
	_Atomic uint64_t tail pc_cache_aligned; /* written by the writer */
	_Atomic uint64_t data_tail;
	struct wq_desc *desc;
	uint8_t *data;
	uint32_t mask;
	uint32_t data_size;
};

struct pcapng_if {
	uint16_t linktype;
	uint16_t ifindex;
};

struct pc_writer {
	struct pc_writer_params p;
	struct pc_crypt_key key; /* our copy, wiped on destroy */
	char *dir;
	struct wq *q;
	unsigned nq;
	uint32_t snaplen;
	pthread_t thread;
	_Atomic int stop;
	bool joined; /* pc_writer_stop done; stats stay readable */

	/* writer thread only */
	struct pc_sink *sink;
	char cur[NAME_LEN];
	uint64_t file_bytes; /* plaintext bytes in the current file */
	uint64_t file_pkts;
	uint64_t file_ts0; /* packet time the current file starts at */
	uint32_t seq;	   /* last sequence number used */
	uint64_t last_flush_ns;
	uint64_t last_pkt_ns; /* monotonic time of the last round with packets */
	uint64_t retry_ns;
	bool dirty;
	struct pcapng_if ifs[MAX_IFS];
	unsigned nifs;
	char (*kept)[NAME_LEN]; /* our files, oldest first (max_files only) */
	size_t nkept, cap_kept;

	_Atomic uint64_t st_packets, st_bytes, st_files, st_errors;
};

/* Every message of the writer starts with "packet writer: ". */
#define wlog(w, level, fmt, ...)                                                                 \
	pc_logf((w)->p.log_fn, (w)->p.log_ctx, (w)->p.log_level, (level), "packet writer: " fmt, \
		##__VA_ARGS__)

static void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* ------------------------------------------------------------ producer side */

/* Copy @p into @q: 0, or -ENOBUFS when the queue has no room now, or
 * -EMSGSIZE when the packet can never fit. Nothing counted here. */
static int try_put(struct wq *q, uint32_t snaplen, const struct pc_pkt *p)
{
	struct wq_desc *d;
	uint64_t head, pos;
	uint32_t len, off;

	len = PC_MIN(p->caplen, snaplen);
	if (pc_unlikely(len > q->data_size / 2))
		return -EMSGSIZE;
	head = atomic_load_explicit(&q->head, memory_order_relaxed);
	if (head - q->tail_cache > q->mask) {
		q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (head - q->tail_cache > q->mask)
			return -ENOBUFS;
	}
	pos = q->data_head;
	off = (uint32_t)(pos % q->data_size);
	if (off + (uint64_t)len > q->data_size) { /* no wrap inside a packet */
		pos += q->data_size - off;
		off = 0;
	}
	if (pc_unlikely(pos + len - atomic_load_explicit(&q->data_tail, memory_order_acquire) >
			q->data_size))
		return -ENOBUFS;
	memcpy(q->data + off, p->data, len);
	d = &q->desc[head & q->mask];
	d->end = pos + len;
	d->ts_ns = p->ts_ns;
	d->off = off;
	d->caplen = len;
	d->wirelen = PC_MAX(p->wirelen, len);
	d->linktype = p->linktype;
	d->ifindex = p->ifindex;
	q->data_head = pos + len;
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return 0;
}

bool pc_writer_submit(struct pc_writer *w, unsigned worker, const struct pc_pkt *p)
{
	if (pc_unlikely(worker >= w->nq))
		return false;
	if (pc_likely(try_put(&w->q[worker], w->snaplen, p) == 0))
		return true;
	stat_add(&w->q[worker].drops, 1);
	return false;
}

bool pc_writer_submit_wait(struct pc_writer *w, unsigned worker, const struct pc_pkt *p)
{
	int ret;

	if (pc_unlikely(worker >= w->nq))
		return false;
	while ((ret = try_put(&w->q[worker], w->snaplen, p)) == -ENOBUFS &&
	       !atomic_load_explicit(&w->stop, memory_order_acquire))
		pc_sleep_us(50);
	if (pc_likely(ret == 0))
		return true;
	stat_add(&w->q[worker].drops, 1);
	return false;
}

/* ------------------------------------------------------------------- files */

static uint16_t file_linktype(int dlt)
{
	return dlt == PC_DLT_RAW ? PC_DLT_RAW_101 : (uint16_t)dlt;
}

static const char *file_ext(const struct pc_writer *w)
{
	if (w->p.format == CAPTURE_PCAP_FORMAT_PCAPNG)
		return w->p.key ? "pcapng.enc" : "pcapng";
	return w->p.key ? "pcap.enc" : "pcap";
}

/* Is @name one of ours (jcap-<digits>-<anything>.pcap[ng][.enc])? Its sequence. */
static bool parse_name(const char *name, uint32_t *seq)
{
	static const char *const exts[] = { ".pcap", ".pcapng", ".pcap.enc", ".pcapng.enc" };
	size_t n = strlen(name), i;
	unsigned long v;
	char *end;

	if (strncmp(name, "jcap-", 5) != 0 || name[5] < '0' || name[5] > '9')
		return false;
	errno = 0;
	v = strtoul(name + 5, &end, 10);
	if (errno || v > UINT32_MAX || *end != '-')
		return false;
	for (i = 0; i < PC_ARRAY_SIZE(exts); i++) {
		size_t e = strlen(exts[i]);

		if (n > e && strcmp(name + n - e, exts[i]) == 0) {
			*seq = (uint32_t)v;
			return true;
		}
	}
	return false;
}

static int cmp_seq(const void *a, const void *b)
{
	uint32_t x = 0, y = 0;

	parse_name(a, &x);
	parse_name(b, &y);
	return x < y ? -1 : x > y;
}

static int kept_add(struct pc_writer *w, const char *name)
{
	if (w->nkept == w->cap_kept) {
		size_t cap = w->cap_kept ? w->cap_kept * 2 : 16;
		void *p = realloc(w->kept, cap * sizeof(*w->kept));

		if (!p)
			return -ENOMEM;
		w->kept = p;
		w->cap_kept = cap;
	}
	snprintf(w->kept[w->nkept++], NAME_LEN, "%s", name);
	return 0;
}

/* Continue the sequence of files already in the directory; with max_files,
 * they count against the limit too (a restart must not grow the directory). */
static int scan_dir(struct pc_writer *w, char *err, size_t errlen)
{
	struct dirent *de;
	uint32_t seq;
	DIR *d;
	int ret = 0;

	d = opendir(w->dir);
	if (!d) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open directory: %s", w->dir,
			 capture_strerror(ret));
		return ret;
	}
	while ((de = readdir(d))) {
		if (strlen(de->d_name) >= NAME_LEN || !parse_name(de->d_name, &seq))
			continue;
		if (seq > w->seq)
			w->seq = seq;
		if (w->p.max_files) {
			ret = kept_add(w, de->d_name);
			if (ret < 0)
				break;
		}
	}
	closedir(d);
	if (w->nkept > 1)
		qsort(w->kept, w->nkept, sizeof(*w->kept), cmp_seq);
	return ret;
}

static void prune(struct pc_writer *w)
{
	char path[4096];
	size_t drop;

	if (!w->p.max_files || w->nkept <= w->p.max_files)
		return;
	drop = w->nkept - w->p.max_files;
	for (size_t i = 0; i < drop; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->dir, w->kept[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			wlog(w, CAPTURE_LOG_WARN, "cannot remove %s: %s", path,
			     capture_strerror(-errno));
	}
	memmove(w->kept, w->kept + drop, (w->nkept - drop) * sizeof(*w->kept));
	w->nkept -= drop;
}

static int put(struct pc_writer *w, const void *buf, size_t len)
{
	int ret = pc_sink_write(w->sink, buf, len);

	if (ret == 0) {
		w->file_bytes += len;
		stat_add(&w->st_bytes, len);
	}
	return ret;
}

static int put_idb(struct pc_writer *w, uint16_t linktype)
{
	uint32_t b[8];

	b[0] = 1; /* Interface Description Block */
	b[1] = 32;
	b[2] = file_linktype(linktype); /* LinkType, Reserved = 0 */
	b[3] = w->p.snaplen ? w->p.snaplen : MAX_CAPLEN;
	b[4] = 9 | 1u << 16; /* if_tsresol, length 1 */
	b[5] = 9;	     /* 10^-9: nanoseconds (then 3 pad bytes) */
	b[6] = 0;	     /* opt_endofopt */
	b[7] = 32;
	return put(w, b, sizeof(b));
}

static int put_file_header(struct pc_writer *w)
{
	if (w->p.format == CAPTURE_PCAP_FORMAT_PCAPNG) {
		uint32_t shb[10];
		int ret;

		shb[0] = 0x0A0D0D0A; /* Section Header Block */
		shb[1] = 40;
		shb[2] = 0x1A2B3C4D; /* byte-order magic: host order */
		shb[3] = 1;	     /* major 1, minor 0 */
		shb[4] = 0xffffffff; /* section length unknown */
		shb[5] = 0xffffffff;
		shb[6] = 4 | 4u << 16; /* shb_userappl, length 4 */
		memcpy(&shb[7], "jcap", 4);
		shb[8] = 0; /* opt_endofopt */
		shb[9] = 40;
		ret = put(w, shb, sizeof(shb));
		if (ret < 0)
			return ret;
		w->ifs[0].linktype = (uint16_t)w->p.linktype;
		w->ifs[0].ifindex = 0;
		w->nifs = 1;
		return put_idb(w, (uint16_t)w->p.linktype);
	}
	{
		uint32_t h[6];

		h[0] = 0xa1b23c4d;   /* nanosecond-resolution pcap, host order */
		h[1] = 2 | 4u << 16; /* version 2.4 */
		h[2] = 0;	     /* thiszone */
		h[3] = 0;	     /* sigfigs */
		h[4] = w->p.snaplen ? w->p.snaplen : MAX_CAPLEN;
		h[5] = file_linktype(w->p.linktype);
		return put(w, h, sizeof(h));
	}
}

/* Close the current file (an encrypted one gets its final chunk). A failure
 * is logged, unless @quiet (the caller has just logged the error that caused
 * it); it is not counted: packets are counted where they are lost. */
static int close_file(struct pc_writer *w, bool quiet)
{
	int ret;

	if (!w->sink)
		return 0;
	ret = pc_sink_close(w->sink);
	w->sink = NULL;
	if (ret < 0 && !quiet)
		wlog(w, CAPTURE_LOG_ERROR, "%s/%s: closing failed: %s", w->dir, w->cur,
		     capture_strerror(ret));
	return ret;
}

static int open_file(struct pc_writer *w, uint64_t ts_ns)
{
	struct pc_sink *file = NULL, *top;
	char path[4096], when[32], err[512];
	time_t t = (time_t)(ts_ns / 1000000000ull);
	struct tm tm;
	int ret;

	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm))
		snprintf(when, sizeof(when), "00000000T000000Z");
	snprintf(w->cur, sizeof(w->cur), "jcap-%06u-%s.%s", w->seq + 1, when, file_ext(w));
	snprintf(path, sizeof(path), "%s/%s", w->dir, w->cur);
	ret = pc_sink_file_open(&file, path, err, sizeof(err));
	if (ret < 0)
		goto err_log;
	top = file;
	if (w->p.key) {
		ret = pc_sink_crypt_create(&top, file, w->p.key, 0, err, sizeof(err));
		if (ret < 0) { /* @file already closed */
			unlink(path);
			goto err_log;
		}
	}
	w->seq++;
	w->sink = top;
	w->file_bytes = 0;
	w->file_pkts = 0;
	w->file_ts0 = ts_ns;
	w->dirty = true;
	stat_add(&w->st_files, 1);
	ret = put_file_header(w);
	if (ret < 0) {
		snprintf(err, sizeof(err), "%.400s: write failed: %s", path, capture_strerror(ret));
		close_file(w, true);
		goto err_log;
	}
	if (w->p.max_files) {
		if (kept_add(w, w->cur) == 0)
			prune(w);
	}
	wlog(w, CAPTURE_LOG_INFO, "writing %s", path);
	return 0;

err_log:
	wlog(w, CAPTURE_LOG_ERROR, "%s", err);
	w->retry_ns = pc_mono_ns() + RETRY_NS;
	return ret;
}

/* pcapng interface id for this packet's (linktype, ifindex); may add an IDB. */
static int iface_of(struct pc_writer *w, const struct wq_desc *d, uint32_t *id)
{
	unsigned i;
	int ret;

	for (i = 0; i < w->nifs; i++) {
		if (w->ifs[i].linktype == d->linktype && w->ifs[i].ifindex == d->ifindex) {
			*id = i;
			return 0;
		}
	}
	if (w->nifs == MAX_IFS) {
		*id = 0; /* more interfaces than we track: file under the first */
		return 0;
	}
	ret = put_idb(w, d->linktype);
	if (ret < 0)
		return ret;
	w->ifs[w->nifs].linktype = d->linktype;
	w->ifs[w->nifs].ifindex = d->ifindex;
	*id = w->nifs++;
	return 0;
}

static size_t record_len(const struct pc_writer *w, uint32_t caplen)
{
	if (w->p.format == CAPTURE_PCAP_FORMAT_PCAPNG)
		return 32 + (((size_t)caplen + 3) & ~(size_t)3);
	return 16 + (size_t)caplen;
}

static bool need_rotate(const struct pc_writer *w, const struct wq_desc *d)
{
	if (!w->file_pkts)
		return false;
	if (w->p.rotate_bytes && w->file_bytes + record_len(w, d->caplen) > w->p.rotate_bytes)
		return true;
	return w->p.rotate_seconds && d->ts_ns >= w->file_ts0 &&
	       d->ts_ns - w->file_ts0 >= (uint64_t)w->p.rotate_seconds * 1000000000ull;
}

static void write_packet(struct pc_writer *w, const struct wq_desc *d, const uint8_t *data)
{
	static const uint8_t zero[4];
	uint32_t h[7], id = 0;
	int ret;

	if (w->sink && need_rotate(w, d))
		close_file(w, false);
	if (!w->sink) {
		if (w->retry_ns && pc_mono_ns() < w->retry_ns)
			goto lost;
		w->retry_ns = 0;
		if (open_file(w, d->ts_ns) < 0)
			goto lost;
	}
	if (w->p.format == CAPTURE_PCAP_FORMAT_PCAPNG) {
		size_t pad = (4 - (d->caplen & 3)) & 3;
		uint32_t total = (uint32_t)record_len(w, d->caplen);

		ret = iface_of(w, d, &id);
		if (ret < 0)
			goto fail;
		h[0] = 6; /* Enhanced Packet Block */
		h[1] = total;
		h[2] = id;
		h[3] = (uint32_t)(d->ts_ns >> 32);
		h[4] = (uint32_t)d->ts_ns;
		h[5] = d->caplen;
		h[6] = d->wirelen;
		ret = put(w, h, 28);
		if (!ret)
			ret = put(w, data, d->caplen);
		if (!ret && pad)
			ret = put(w, zero, pad);
		if (!ret)
			ret = put(w, &total, 4);
	} else {
		h[0] = (uint32_t)(d->ts_ns / 1000000000ull);
		h[1] = (uint32_t)(d->ts_ns % 1000000000ull);
		h[2] = d->caplen;
		h[3] = d->wirelen;
		ret = put(w, h, 16);
		if (!ret)
			ret = put(w, data, d->caplen);
	}
	if (ret < 0)
		goto fail;
	w->file_pkts++;
	w->dirty = true;
	stat_add(&w->st_packets, 1);
	return;

fail:
	wlog(w, CAPTURE_LOG_ERROR, "%s/%s: write failed: %s", w->dir, w->cur,
	     capture_strerror(ret));
	close_file(w, true);
	w->retry_ns = pc_mono_ns() + RETRY_NS;
lost:
	stat_add(&w->st_errors, 1);
}

/* ------------------------------------------------------------ writer thread */

/* Merge what the queues hold now, oldest timestamp first. Returns packets. */
static unsigned drain(struct pc_writer *w)
{
	uint64_t heads[w->nq], tails[w->nq], ends[w->nq];
	bool moved[w->nq];
	unsigned i, best, n = 0;

	for (i = 0; i < w->nq; i++) {
		heads[i] = atomic_load_explicit(&w->q[i].head, memory_order_acquire);
		tails[i] = atomic_load_explicit(&w->q[i].tail, memory_order_relaxed);
		if (heads[i] - tails[i] > DRAIN_BUDGET)
			heads[i] = tails[i] + DRAIN_BUDGET;
		moved[i] = false;
	}
	for (;;) {
		const struct wq_desc *d, *bd = NULL;

		best = w->nq;
		for (i = 0; i < w->nq; i++) {
			if (tails[i] == heads[i])
				continue;
			d = &w->q[i].desc[tails[i] & w->q[i].mask];
			if (!bd || d->ts_ns < bd->ts_ns) {
				bd = d;
				best = i;
			}
		}
		if (best == w->nq)
			break;
		/* the producer wrote these lines on another core: fetch ahead */
		if (tails[best] + 8 < heads[best])
			pc_prefetch(&w->q[best].desc[(tails[best] + 8) & w->q[best].mask]);
		if (tails[best] + 2 < heads[best]) {
			const struct wq_desc *nx =
				&w->q[best].desc[(tails[best] + 2) & w->q[best].mask];

			pc_prefetch(w->q[best].data + nx->off);
			pc_prefetch(w->q[best].data + nx->off + PC_CACHE_LINE);
		}
		write_packet(w, bd, w->q[best].data + bd->off);
		ends[best] = bd->end;
		moved[best] = true;
		tails[best]++;
		n++;
	}
	for (i = 0; i < w->nq; i++) {
		if (!moved[i])
			continue;
		atomic_store_explicit(&w->q[i].data_tail, ends[i], memory_order_release);
		atomic_store_explicit(&w->q[i].tail, tails[i], memory_order_release);
	}
	return n;
}

static void *writer_main(void *arg)
{
	struct pc_writer *w = arg;
	uint64_t now;
	int stopping;

	for (;;) {
		stopping = atomic_load_explicit(&w->stop, memory_order_acquire);
		if (drain(w)) {
			w->last_pkt_ns = pc_mono_ns();
			continue;
		}
		if (stopping)
			break; /* producers were done before stop was set */
		now = pc_mono_ns();
		/* a live link gone quiet: do not hold the file open (an encrypted
		 * one cannot be read before its final chunk) */
		if (w->sink && w->p.rotate_seconds &&
		    now - w->last_pkt_ns >= (uint64_t)w->p.rotate_seconds * 1000000000ull) {
			close_file(w, false);
			continue;
		}
		if (w->sink && w->dirty && now - w->last_flush_ns >= FLUSH_NS) {
			int ret = pc_sink_flush(w->sink);

			if (ret < 0) {
				wlog(w, CAPTURE_LOG_ERROR, "%s/%s: write failed: %s", w->dir,
				     w->cur, capture_strerror(ret));
				close_file(w, true);
				w->retry_ns = now + RETRY_NS;
			}
			w->dirty = false;
			w->last_flush_ns = now;
		}
		pc_sleep_us(IDLE_SLEEP_US);
	}
	close_file(w, false);
	return NULL;
}

/* ------------------------------------------------------------------ public */

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

static void free_queues(struct pc_writer *w)
{
	unsigned i;

	if (!w->q)
		return;
	for (i = 0; i < w->nq; i++) {
		free(w->q[i].desc);
		free(w->q[i].data);
	}
	free(w->q);
}

int pc_writer_create(struct pc_writer **out, const struct pc_writer_params *p, char *err,
		     size_t errlen)
{
	char dummy[8];
	struct pc_writer *w;
	struct stat st;
	uint32_t slots;
	uint64_t data;
	unsigned i;
	int ret;

	*out = NULL;
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!p || !p->dir || !p->dir[0]) {
		snprintf(err, errlen, "packet writer: no output directory");
		return -CAPTURE_E_CONFIG;
	}
	if (p->format > CAPTURE_PCAP_FORMAT_PCAPNG) {
		snprintf(err, errlen, "packet writer: unknown format %u", p->format);
		return -CAPTURE_E_CONFIG;
	}
	if (p->key && !capture_cipher_name(p->key->cipher)) {
		snprintf(err, errlen, "packet writer: unknown cipher %u", p->key->cipher);
		return -CAPTURE_E_CONFIG;
	}
	if (strlen(p->dir) > 4000) {
		snprintf(err, errlen, "packet writer: output directory name too long");
		return -ENAMETOOLONG;
	}
	if (mkdir(p->dir, 0750) < 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot create directory: %s", p->dir,
			 capture_strerror(ret));
		return ret;
	}
	if (stat(p->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", p->dir);
		return -ENOTDIR;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->p = *p;
	w->p.dir = NULL;
	if (p->key) {
		w->key = *p->key;
		w->p.key = &w->key;
	}
	w->nq = p->workers ? p->workers : 1;
	w->snaplen = p->snaplen ? PC_MIN(p->snaplen, MAX_CAPLEN) : MAX_CAPLEN;
	ret = -ENOMEM;
	w->dir = strdup(p->dir);
	if (!w->dir)
		goto err_free;
	/* the queues' cache-line alignment needs more than calloc promises */
	w->q = aligned_alloc(PC_CACHE_LINE, w->nq * sizeof(*w->q));
	if (!w->q)
		goto err_free;
	memset(w->q, 0, w->nq * sizeof(*w->q));
	slots = pow2_at_least(p->queue_packets ? p->queue_packets : DEFAULT_QUEUE);
	data = (uint64_t)slots * DATA_PER_SLOT;
	data = PC_MAX(data, (uint64_t)DATA_MIN);
	data = PC_MIN(data, (uint64_t)DATA_MAX);
	data = PC_MAX(data, 4ull * w->snaplen);
	for (i = 0; i < w->nq; i++) {
		w->q[i].mask = slots - 1;
		w->q[i].data_size = (uint32_t)data;
		w->q[i].desc = calloc(slots, sizeof(struct wq_desc));
		w->q[i].data = malloc(data);
		if (!w->q[i].desc || !w->q[i].data)
			goto err_free;
	}
	ret = scan_dir(w, err, errlen);
	if (ret < 0)
		goto err_free;
	ret = -pthread_create(&w->thread, NULL, writer_main, w);
	if (ret < 0) {
		snprintf(err, errlen, "packet writer: cannot start thread: %s",
			 capture_strerror(ret));
		goto err_free;
	}
	pthread_setname_np(w->thread, "pc-writer");
	*out = w;
	return 0;

err_free:
	if (ret == -ENOMEM && !err[0])
		snprintf(err, errlen, "packet writer: out of memory for the queues");
	free_queues(w);
	free(w->kept);
	free(w->dir);
	pc_crypt_key_wipe(&w->key);
	free(w);
	return ret;
}

void pc_writer_get_stats(struct pc_writer *w, struct pc_writer_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	if (!w)
		return;
	st->packets = atomic_load_explicit(&w->st_packets, memory_order_relaxed);
	st->bytes = atomic_load_explicit(&w->st_bytes, memory_order_relaxed);
	st->files = atomic_load_explicit(&w->st_files, memory_order_relaxed);
	st->errors = atomic_load_explicit(&w->st_errors, memory_order_relaxed);
	for (i = 0; i < w->nq; i++)
		st->queue_drops += atomic_load_explicit(&w->q[i].drops, memory_order_relaxed);
}

void pc_writer_stop(struct pc_writer *w)
{
	if (!w || w->joined)
		return;
	atomic_store_explicit(&w->stop, 1, memory_order_release);
	pthread_join(w->thread, NULL); /* drains, closes the file valid */
	w->joined = true;
}

void pc_writer_destroy(struct pc_writer *w)
{
	if (!w)
		return;
	pc_writer_stop(w);
	free_queues(w);
	free(w->kept);
	free(w->dir);
	pc_crypt_key_wipe(&w->key);
	free(w);
}
