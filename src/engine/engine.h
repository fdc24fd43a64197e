/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine internals shared by the files of src/engine/:
 *
 *   lifecycle.c      capture_init/start/poll/stop/destroy, thread start and join
 *   config.c         option setters (flow, export, pcap out, encryption, artifacts)
 *   worker.c         the packet path: worker, dispatcher and shard threads
 *   parallel.c       offline with several workers: one reader, workers that
 *                    decode batches in turn and meter their own shard
 *   export_thread.c  ended flows -> exporters, flow callback, ended ring
 *   control.c        flow snapshots and lookups served by the workers
 *   stats.c          counters, status, stats JSON
 *   error.c          error names, the handle's last error, logging
 *
 * Counters have a single writer each and are read by other threads with
 * relaxed atomic loads.
 *
 * Lock order (take a later lock only while holding earlier ones, never the
 * reverse):
 *
 *   1. ctl_lock     start/stop/configuration against each other
 *   2. req_lock     one flow reader (snapshot/lookup) at a time
 *   3. exp_lock     recursive: the exporter list. The export thread holds it
 *                   in deliver() while an IPFIX exporter reads the engine's
 *                   stats, so capture_get_stats takes it (and lets it go)
 *                   before stats_lock
 *   4. stats_lock   rwlock: readers of the worker array, the writer and the
 *                   open backend against their release (write-locked only
 *                   after every thread of the session has been joined)
 *   5. ended_lock   the ring of recently ended flows
 *      kstats_lock  one reader of the backend's kernel counters at a time
 *   6. err_lock     errmsg and the status strings (leaf: nothing is taken
 *                   inside it)
 *
 * The packet path (worker.c) takes none of them.
 */
#ifndef PC_ENGINE_H
#define PC_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "packet_capture.h"
#include "util/compiler.h"
#include "capture/bpf.h"
#include "capture/capture.h"
#include "util/ring.h"
#include "decode/decode.h"
#include "export/export.h"
#include "export/geoip.h"
#include "flow/flow.h"
#include "inspect/inspect.h"
#include "store/store.h"

#define PC_MAX_WORKERS 64
#define PC_MAX_EXPORTERS 16
#define PC_BPF_CACHE 8

/* How long an idle live worker waits for packets: bounds the latency of
 * flow snapshots and lookups, which workers serve between bursts. */
#define PC_RX_WAIT_MS 10
/* ... and the longest wait once it has found nothing for a while (worker.c) */
#define PC_RX_IDLE_WAIT_MS 50

/* Live through one queue with several workers and payload inspection on, the dispatcher
 * ships each packet's first bytes from its innermost IP header with its
 * meta (views are released before the shard runs): a full Ethernet-MTU
 * packet fits; a longer one is inspected on its first 2048 bytes. */
#define PC_INSPECT_COPY 2048
/* Packets the dispatcher decodes before handing them out (worker.c). */
#define PC_DISPATCH_BATCH (4 * PC_BURST)
struct pc_meta_copy {
	struct pc_meta m;
	uint8_t l3[PC_INSPECT_COPY];
};

/* Single-writer counter updates: plain stores made visible to relaxed readers. */
#define PC_STAT_ADD(x, v) \
	__atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define PC_STAT_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define PC_STAT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

struct pc_bpf_cache {
	int lt[PC_BPF_CACHE];
	struct pc_bpf *f[PC_BPF_CACHE];
	unsigned n;
};

/* What a worker publishes (written by it alone). */
struct pc_worker_stats {
	uint64_t packets_read;
	uint64_t bytes_read;
	uint64_t skipped_pub[CAPTURE_SKIP_MAX];
	uint64_t export_queue_drops;
	uint64_t packets_in_dropped_records;
	uint64_t flows_dropped;
	uint64_t first_ns;
	uint64_t last_ns;
	uint64_t frag_tracked;
	uint64_t frag_matched;
	uint64_t tunnel_frags;
	struct pc_flow_counters flow;
	struct pc_inspect_counters insp;
};

enum {
	PC_REQ_IDLE = 0,
	PC_REQ_PENDING = 1,
	PC_REQ_SERVING = 2, /* the worker is writing into the reader's buffer */
	PC_REQ_DONE = 3
};
enum {
	PC_REQ_SNAPSHOT = 0,
	PC_REQ_LOOKUP = 1
};

struct pc_worker {
	struct capture *c;
	unsigned idx;
	unsigned writer_slot;
	pthread_t th;
	bool started;
	_Atomic bool finished;
	struct pc_decoder *dec;		    /* NULL when fed by the dispatcher;
					       parallel: the shard's, for fragments */
	struct pc_decoder *dec2;	    /* parallel: the decode stage's */
	struct pc_flow_table *ft;	    /* NULL when metering is off */
	struct pc_inspect *insp;	    /* NULL when inspection is off */
	struct pc_ring out;		    /* expired records -> export thread */
	struct pc_flow_sink sink;	    /* builds records in out (worker.c) */
	struct pc_flow_sink sink_final;	    /* ... waiting for room, live too */
	struct capture_flow *drop;	    /* live, out full: the record dropped */
	struct pc_ring in;		    /* dispatcher -> shard metas */
	struct pc_meta_copy *mcopy;	    /* shard: ring elements with payload copies */
	uint64_t now_ns;		    /* newest packet time (live: wall clock) */
	uint64_t first_ns;		    /* first packet time decoded */
	uint64_t skipped[CAPTURE_SKIP_MAX]; /* private tallies */
	struct pc_bpf_cache ufilter;	    /* user-space capture filter per link type */
	struct pc_bpf_cache wfilter;	    /* packet-writer filter per link type */
	uint32_t sample_left;		    /* --sample N: packets to skip before the next */
	uint64_t sample_rng;		    /* --sample N:random: xorshift state, never 0 */
	/* control-plane request, served between bursts */
	_Atomic int req_state;
	int req_kind;
	struct pc_flow_key req_key;
	struct capture_flow *req_buf;
	size_t req_max, req_n, req_cursor;
	int req_rc;
	struct pc_worker_stats st pc_cache_aligned;
} pc_cache_aligned;

struct pc_artifact {
	char *image, *sig, *pubkey, *digest;
	struct capture_verify_opts opts;
};

struct pc_export_done {
	uint64_t records, messages, errors, not_exportable, queue_drops;
	uint64_t delivered, failed, retries, buffer_drops; /* in_flight: 0 once closed */
};

struct capture {
	struct capture_config cfg; /* strings point at the s_* copies */
	char *s_iface, *s_file, *s_backend, *s_filter, *s_keyfile, *s_user;
	char *s_dpdk_eal;
	char *s_geoip_city, *s_geoip_asn;
	char **s_files; /* cfg.pcap_files' own copies (cfg.npcap_files of them) */
	char *s_ebpf_hook;
	struct pc_decode_opts dopts; /* cfg's decap_off and tunnel_ports, parsed */
	uint64_t seed[2];

	pthread_mutex_t ctl_lock; /* start/stop/enable against each other */
	pthread_mutex_t err_lock; /* errmsg and the status strings */
	char errmsg[1280];
	pthread_rwlock_t stats_lock; /* the worker array against its release */
	pthread_mutex_t req_lock;    /* one flow reader at a time */
	char last_backend[16];
	char tstamp_source[32];
	char tstamp_detail[128];
	char cap_mode[32];

	/* flow metering */
	bool flow_enabled;
	struct capture_flow_config fcfg;
	capture_flow_fn flow_cb;
	void *flow_ctx;

	/* export */
	pthread_mutex_t exp_lock;
	struct pc_export_target targets[PC_MAX_EXPORTERS];
	size_t ntargets;
	struct pc_exporter *exporters;
	struct pc_export_done exp_done; /* counters of closed exporters */
	uint64_t export_open_errors;
	_Atomic uint64_t export_delivered;
	struct pc_geoip *geoip;		/* the session's databases (export thread) */
	_Atomic uint64_t geoip_lookups; /* written by the export thread alone */
	/* 1 while a live export thread idles in a long nap: the first record
	 * pushed wakes it (export_thread.c, worker.c sink_put) */
	_Atomic int export_nap;

	/* recently ended flows */
	pthread_mutex_t ended_lock;
	struct capture_flow *ended;
	/* slots allocated, grown by doubling to ended_max (the ring size asked
	 * for) as flows end: a short session never holds the whole ring */
	size_t ended_cap, ended_max, ended_head, ended_count;

	/* packet storage */
	bool pout_enabled;
	struct capture_pcap_out_config pout;
	char *pout_dir, *pout_filter;
	bool enc_enabled;
	char *enc_keyfile;
	uint8_t enc_cipher;
	struct pc_writer *writer;
	struct pc_writer_stats writer_done;

	struct pc_artifact *artifacts;
	size_t nartifacts;

	/* session */
	_Atomic int state;
	bool threads_live;
	struct pc_cap cap;
	struct pc_cap_params params;
	char why[512];
	bool dispatch;
	bool dispatch_started;
	bool dispatch_copy;    /* shard rings carry struct pc_meta_copy */
	bool parallel;	       /* dispatch offline: parallel.c instead of the dispatcher */
	uint32_t export_queue; /* records a worker's export ring holds (cfg or default) */
	struct pc_par *par;    /* parallel.c's batches */
	pthread_t dispatch_th;
	_Atomic bool dispatch_done;
	struct pc_worker disp; /* the dispatcher's stats block */
	struct pc_worker disp_prev;
	unsigned nworkers;
	struct pc_worker *w;
	struct pc_worker *w_prev; /* last session's workers, for its stats */
	unsigned nworkers_prev;
	pthread_t export_th;
	_Atomic int workers_running;
	_Atomic bool stop_req;
	_Atomic bool graceful;
	_Atomic uint64_t counted;
	int worker_err;
	uint64_t deadline_ns;
	uint64_t start_ns, stop_ns;
	/* What stats readers may touch, published under stats_lock (write)
	 * by the control thread: c->w/nworkers, c->writer, and c->cap while
	 * cap_live. Backend counters are read one reader at a time. */
	bool cap_live;
	pthread_mutex_t kstats_lock;
	struct pc_cap_stats kstats_done;
	uint64_t input_bytes, input_done; /* err_lock: status of the last input */
};

/* error.c: log through the user's callback; record the handle's last error
 * (under err_lock) and return @rc; the thread's capture_init error buffer. */
void pc_log(struct capture *c, int level, const char *fmt, ...) pc_printf(3, 4);
int pc_engine_err(struct capture *c, int rc, const char *fmt, ...) pc_printf(3, 4);
char *pc_engine_init_err(size_t *len);

/* stats.c: sum the backend's kernel counters over its queues (backend open). */
void pc_kernel_stats(struct capture *c, struct pc_cap_stats *out);

/* config.c */
void pc_engine_free_artifacts(struct capture *c);

/* export_thread.c */
int pc_engine_add_target(struct capture *c, const struct pc_export_target *t);
void pc_engine_open_exporters(struct capture *c);
void pc_engine_close_exporters(struct capture *c);
/* the session's GeoIP/ASN databases, mapped again each start (-CAPTURE_E_CONFIG
 * naming the file); closed once the export thread is joined */
int pc_engine_open_geoip(struct capture *c);
void pc_engine_close_geoip(struct capture *c);
void *pc_engine_export_main(void *arg);

/* worker.c: thread bodies (arg: struct pc_worker *) */
void *pc_engine_worker_main(void *arg);
void *pc_engine_dispatch_main(void *arg);
void *pc_engine_shard_main(void *arg);

/* worker.c: packet path steps parallel.c shares */
bool pc_engine_admit(struct pc_worker *w, const struct pc_pkt *p, bool ufilter);
void pc_engine_account(struct pc_worker *w, struct pc_meta *m, unsigned k);
int pc_engine_sinks_init(struct pc_worker *w);
void pc_engine_publish_skips(struct pc_worker *w);
void pc_engine_publish(struct pc_worker *w);
int pc_engine_read_burst(struct pc_worker *d, struct pc_pkt *pkts, unsigned *n, bool *last);
void pc_engine_worker_finish(struct pc_worker *w);
bool pc_engine_should_stop(struct capture *c);
void pc_engine_worker_error(struct pc_worker *w, int rc);
void pc_engine_bpf_release(struct pc_bpf_cache *bc);

/* parallel.c (arg: struct pc_worker *): the reader (c->disp) and the workers;
 * create/destroy the batches (with the workers' decoders already made) */
void *pc_engine_par_read_main(void *arg);
void *pc_engine_par_worker_main(void *arg);
int pc_engine_par_create(struct capture *c);
void pc_engine_par_destroy(struct capture *c);

/* control.c: worker side of a flow request */
/* @busy: the worker's input is saturated (a full burst): one slice only */
void pc_engine_serve_requests(struct pc_worker *w, bool busy);
void pc_engine_answer_pending(struct pc_worker *w);

/* config.c: @k's decap_off and tunnel_ports as decoder options (@err says
 * what is wrong: -CAPTURE_E_CONFIG). */
int pc_engine_decode_opts(struct pc_decode_opts *o, const struct capture_config *k, char *err,
			  size_t errlen);

#endif
