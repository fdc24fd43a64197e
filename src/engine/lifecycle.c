/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session lifecycle: create, start (open the backend, build the workers'
 * tables and queues, start the writer, exporters and threads), poll, stop,
 * destroy. The lock order of the whole engine is written in engine.h.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine/engine.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/privs.h"

static void free_config_strings(struct capture *c)
{
	free(c->s_iface);
	free(c->s_file);
	free(c->s_backend);
	free(c->s_filter);
	free(c->s_keyfile);
	free(c->s_user);
	free(c->s_dpdk_eal);
	free(c->s_geoip_city);
	free(c->s_geoip_asn);
	for (uint32_t i = 0; c->s_files && i < c->cfg.npcap_files; i++)
		free(c->s_files[i]);
	free(c->s_files);
	free(c->s_ebpf_hook);
	free(c->pout_dir);
	free(c->pout_filter);
	free(c->enc_keyfile);
}

/* Everything capture_init refuses, with the message for capture_last_error. */
static int check_config(const struct capture_config *k, char *err, size_t errlen)
{
	bool files = k->pcap_file || k->npcap_files;

	if (!k->interface == !files || (k->pcap_file && k->npcap_files))
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "give exactly one of an interface or a pcap file");
	if (k->npcap_files && !k->pcap_files)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "npcap_files without pcap_files");
	for (uint32_t i = 0; i < k->npcap_files; i++)
		if (!k->pcap_files[i] || !*k->pcap_files[i])
			return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "pcap_files[%u] is empty",
				       i);
	if (k->ebpf_hook && *k->ebpf_hook && strcmp(k->ebpf_hook, "xdp") &&
	    strcmp(k->ebpf_hook, "tc"))
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "unknown eBPF hook '%s' (xdp, tc)",
			       k->ebpf_hook);
	if (k->workers > PC_MAX_WORKERS)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "workers must be 1..%d",
			       PC_MAX_WORKERS);
	if (k->buffer_size_mb && (k->buffer_size_mb < CAPTURE_BUFFER_MB_MIN ||
				  k->buffer_size_mb > CAPTURE_BUFFER_MB_MAX))
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "buffer_size_mb %u out of range (%u..%u)", k->buffer_size_mb,
			       CAPTURE_BUFFER_MB_MIN, CAPTURE_BUFFER_MB_MAX);
	if (k->tstamp > CAPTURE_TSTAMP_NTP)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "unknown timestamp source %u",
			       k->tstamp);
	if (k->backend && *k->backend && strcmp(k->backend, "auto") &&
	    !pc_capture_find(k->backend)) {
		char names[128];

		pc_capture_names(names, sizeof(names));
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "unknown backend '%s' (%s)",
			       k->backend, names);
	}
	if (k->tunnel_ports || k->decap_off) {
		struct pc_decode_opts o;
		int rc = pc_engine_decode_opts(&o, k, err, errlen);

		if (rc < 0)
			return rc;
	}
	if (k->filter && *k->filter) {
		/* syntax check now, so a bad expression never reaches start */
		struct pc_bpf *f;
		int rc = pc_bpf_create(&f, k->filter, PC_DLT_EN10MB, 262144, err, errlen);

		if (rc < 0)
			return rc;
		pc_bpf_destroy(f);
	}
	if (k->geoip_city || k->geoip_asn) {
		/* opened now for the error; each session maps them again */
		struct pc_geoip *g;
		int rc = pc_geoip_open(&g, k->geoip_city, k->geoip_asn, err, errlen);

		if (rc < 0)
			return rc;
		pc_geoip_close(g);
	}
	return 0;
}

/* Copy @s (NULL stays NULL) into *@dst; false when out of memory. */
static bool dup_opt(char **dst, const char *s)
{
	*dst = s ? strdup(s) : NULL;
	return !s || *dst;
}

/* The handle's own copies of the config strings; cfg's pointers move to them. */
static int own_config_strings(struct capture *c, const struct capture_config *k)
{
	const char *backend = k->backend && *k->backend
				      ? k->backend
				      : (k->pcap_file || k->npcap_files ? "file" : "auto");

	if (!dup_opt(&c->s_iface, k->interface) || !dup_opt(&c->s_file, k->pcap_file) ||
	    !dup_opt(&c->s_backend, backend) ||
	    !dup_opt(&c->s_filter, k->filter && *k->filter ? k->filter : NULL) ||
	    !dup_opt(&c->s_keyfile, k->decrypt_key_file) || !dup_opt(&c->s_user, k->user))
		return -ENOMEM;
	c->cfg.interface = c->s_iface;
	c->cfg.pcap_file = c->s_file;
	c->cfg.backend = c->s_backend;
	c->cfg.filter = c->s_filter;
	c->cfg.decrypt_key_file = c->s_keyfile;
	c->cfg.user = c->s_user;
	if (!dup_opt(&c->s_dpdk_eal, k->dpdk_eal))
		return -ENOMEM;
	c->cfg.dpdk_eal = c->s_dpdk_eal;
	if (!dup_opt(&c->s_geoip_city, k->geoip_city && *k->geoip_city ? k->geoip_city : NULL) ||
	    !dup_opt(&c->s_geoip_asn, k->geoip_asn && *k->geoip_asn ? k->geoip_asn : NULL))
		return -ENOMEM;
	c->cfg.geoip_city = c->s_geoip_city;
	c->cfg.geoip_asn = c->s_geoip_asn;
	c->cfg.pcap_files = NULL;
	c->cfg.npcap_files = 0;
	if (k->npcap_files) {
		c->s_files = calloc(k->npcap_files, sizeof(*c->s_files));
		if (!c->s_files)
			return -ENOMEM;
		for (uint32_t i = 0; i < k->npcap_files; i++) {
			c->cfg.npcap_files = i + 1; /* what free_config_strings frees */
			if (!dup_opt(&c->s_files[i], k->pcap_files[i]))
				return -ENOMEM;
		}
		c->cfg.pcap_files = (const char *const *)c->s_files;
	}
	if (!dup_opt(&c->s_ebpf_hook, k->ebpf_hook && *k->ebpf_hook ? k->ebpf_hook : NULL))
		return -ENOMEM;
	c->cfg.ebpf_hook = c->s_ebpf_hook;
	return 0;
}

static void init_locks(struct capture *c)
{
	pthread_mutexattr_t ma;

	pthread_mutex_init(&c->err_lock, NULL);
	pthread_mutex_init(&c->ctl_lock, NULL);
	/* recursive: exporters read the engine's stats (options records) from
	 * inside deliver(), which holds it */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&c->exp_lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&c->ended_lock, NULL);
	pthread_mutex_init(&c->req_lock, NULL);
	pthread_mutex_init(&c->kstats_lock, NULL);
	pthread_rwlock_init(&c->stats_lock, NULL);
}

static void destroy_locks(struct capture *c)
{
	pthread_mutex_destroy(&c->err_lock);
	pthread_mutex_destroy(&c->ctl_lock);
	pthread_mutex_destroy(&c->exp_lock);
	pthread_mutex_destroy(&c->ended_lock);
	pthread_mutex_destroy(&c->req_lock);
	pthread_mutex_destroy(&c->kstats_lock);
	pthread_rwlock_destroy(&c->stats_lock);
}

CAPTURE_API int capture_init(struct capture **out, const struct capture_config *cfg)
{
	struct capture *c;
	struct capture_config k;
	size_t errlen;
	char *err = pc_engine_init_err(&errlen);
	int rc;

	err[0] = 0;
	if (!out || !cfg || cfg->sz < offsetof(struct capture_config, promiscuous))
		return pc_errf(err, errlen, -EINVAL, "capture_init: missing or too old config");
	rc = pc_opts_copy(&k, sizeof(k), cfg, offsetof(struct capture_config, promiscuous),
			  "capture_config", err, errlen);
	if (rc < 0)
		return rc;
	rc = check_config(&k, err, errlen);
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return pc_errf(err, errlen, -ENOMEM, "capture_init: out of memory");
	c->cfg = k;
	pc_engine_decode_opts(&c->dopts, &k, NULL, 0); /* checked above */
	if (own_config_strings(c, &k) < 0) {
		free_config_strings(c);
		free(c);
		return pc_errf(err, errlen, -ENOMEM, "capture_init: out of memory");
	}
	init_locks(c);
	if (!c->cfg.workers)
		c->cfg.workers = 1;
	if (!c->cfg.snaplen)
		c->cfg.snaplen = 262144;
	if (!c->cfg.buffer_size_mb)
		c->cfg.buffer_size_mb = CAPTURE_BUFFER_MB_MIN;
	if (getrandom(c->seed, sizeof(c->seed), 0) != sizeof(c->seed)) {
		c->seed[0] = pc_mono_ns() ^ (uint64_t)(uintptr_t)c;
		c->seed[1] = pc_wall_ns() * 0x9e3779b97f4a7c15ull;
	}
	atomic_store(&c->state, CAPTURE_STATE_IDLE);
	*out = c;
	return 0;
}

static void release_workers(struct capture *c)
{
	unsigned i;

	if (!c->w)
		return;
	pthread_rwlock_wrlock(&c->stats_lock);
	for (i = 0; i < c->nworkers; i++) {
		struct pc_worker *w = &c->w[i];

		pc_flow_table_destroy(w->ft);
		pc_inspect_destroy(w->insp);
		w->insp = NULL;
		pc_decoder_destroy(w->dec);
		pc_decoder_destroy(w->dec2);
		pc_ring_release(&w->out);
		free(w->drop);
		w->drop = NULL;
		pc_ring_release(&w->in);
		free(w->mcopy);
		w->mcopy = NULL;
	}
	/* keep the last session's counters readable after the tables are gone */
	free(c->w_prev);
	c->w_prev = c->w;
	c->nworkers_prev = c->nworkers;
	c->w = NULL;
	pc_engine_par_destroy(c);
	pc_decoder_destroy(c->disp.dec);
	c->disp.dec = NULL;
	c->disp_prev = c->disp;
	pthread_rwlock_unlock(&c->stats_lock);
}

static int verify_artifacts(struct capture *c)
{
	size_t i;

	for (i = 0; i < c->nartifacts; i++) {
		struct pc_artifact *a = &c->artifacts[i];
		char detail[512];
		int r = capture_verify_firmware(a->image, a->sig, a->pubkey, &a->opts, detail,
						sizeof(detail));

		if (r != CAPTURE_VERIFY_VALID)
			return pc_engine_err(c, -CAPTURE_E_VERIFY,
					     "artifact %s failed verification: %s (%s)", a->image,
					     r < 0 ? capture_strerror(r)
						   : capture_verify_result_name(r),
					     detail);
	}
	return 0;
}

static int start_writer(struct capture *c)
{
	struct pc_writer *w;
	struct pc_writer_params p;
	struct pc_crypt_key key;
	char err[512];
	int rc;

	if (!c->pout_enabled)
		return 0;
	memset(&p, 0, sizeof(p));
	p.dir = c->pout_dir;
	p.format = c->pout.format;
	p.rotate_bytes = c->pout.rotate_bytes;
	p.rotate_seconds = c->pout.rotate_seconds;
	p.max_files = c->pout.max_files;
	p.snaplen = c->pout.snaplen;
	p.queue_packets = c->pout.queue_packets;
	p.workers = c->dispatch ? 1 : c->nworkers;
	p.linktype = c->cap.linktype;
	p.log_fn = c->cfg.log_fn;
	p.log_ctx = c->cfg.log_ctx;
	p.log_level = c->cfg.log_level;
	if (c->enc_enabled) {
		rc = pc_crypt_key_load(&key, c->enc_keyfile, c->enc_cipher, err, sizeof(err));
		if (rc < 0)
			return pc_engine_err(c, rc, "%s", err);
		p.key = &key;
	}
	rc = pc_writer_create(&w, &p, err, sizeof(err));
	if (c->enc_enabled)
		pc_crypt_key_wipe(&key);
	if (rc < 0)
		return pc_engine_err(c, rc, "%s", err);
	pthread_rwlock_wrlock(&c->stats_lock);
	c->writer = w;
	pthread_rwlock_unlock(&c->stats_lock);
	return 0;
}

/* Stop the packet writer (draining its queues), keep its final counters
 * and free it; stats readers see either the live writer or the final
 * counters, never a writer being freed. */
static void finish_writer(struct capture *c)
{
	struct pc_writer *w = c->writer;

	if (!w)
		return;
	pc_writer_stop(w);
	pthread_rwlock_wrlock(&c->stats_lock);
	pc_writer_get_stats(w, &c->writer_done);
	c->writer = NULL;
	pthread_rwlock_unlock(&c->stats_lock);
	pc_writer_destroy(w);
}

/* Close the backend. @final: the session ran, so its last kernel counters
 * are kept for the stats of the finished session (read after the workers'
 * last reads: the backend forgets them when closed). */
static void close_backend(struct capture *c, bool final)
{
	pthread_rwlock_wrlock(&c->stats_lock);
	if (final && c->cap_live) {
		memset(&c->kstats_done, 0, sizeof(c->kstats_done));
		pc_kernel_stats(c, &c->kstats_done);
	}
	pthread_mutex_lock(&c->err_lock);
	c->input_done = __atomic_load_n(&c->cap.input_pos, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->err_lock);
	c->cap_live = false;
	pthread_rwlock_unlock(&c->stats_lock);
	pc_capture_close(&c->cap);
}

/* The interface a live session's records name (its ifindex); 0 offline,
 * where the key carries the pcapng interface id. */
static uint32_t live_ifindex(const struct capture *c)
{
	return c->cap.offline || !c->cfg.interface ? 0 : if_nametoindex(c->cfg.interface);
}

/* Whether the session inspects payloads (TCP health needs no payload). */
static bool inspects_payload(const struct capture *c)
{
	uint32_t payload = CAPTURE_INSPECT_ALL & ~(uint32_t)CAPTURE_INSPECT_TCP;

	return c->flow_enabled && (c->fcfg.inspect_off & payload) != payload;
}

/* Worker @w's inspection, its results pool sized for a table of @slots
 * slots (rounded as pc_flow_table_create rounds them). */
static int setup_inspect(struct capture *c, struct pc_worker *w, size_t slots)
{
	struct pc_inspect_params ip = {
		.off = c->fcfg.inspect_off,
		.max_flows = c->fcfg.inspect_flows ? c->fcfg.inspect_flows : 65536,
	};
	size_t n = 4096;

	while (n < slots && n < (1u << 26))
		n <<= 1;
	ip.max_results = (uint32_t)n;
	return pc_inspect_create(&w->insp, &ip);
}

/* Flow slots in all: the user's table_size, else 1M for files and 64K live.
 * Live, a table's memory is touched at random (every flow its own huge page),
 * so a 1M table (256 MB of 256-byte entries alone) is paged in and zeroed by
 * the first few hundred flows; 64K keeps that to 16 MB. A link with more
 * concurrent flows wants a larger --table-size (when full, the least recently
 * seen flow is evicted). */
/* the ring of recently ended flows starts with this many slots */
#define ENDED_RING_START 1024

static uint32_t table_slots(const struct capture *c)
{
	if (c->fcfg.table_size)
		return c->fcfg.table_size;
	return c->cap.offline ? 1u << 20 : 1u << 16;
}

static int setup_workers(struct capture *c)
{
	unsigned i;
	int rc;

	struct pc_worker *ws = calloc(c->nworkers, sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	memset(&c->disp, 0, sizeof(c->disp));
	c->disp.c = c;
	/* published zeroed: readers only read the counters (st), which nothing
	 * below writes */
	pthread_rwlock_wrlock(&c->stats_lock);
	c->w = ws;
	pthread_rwlock_unlock(&c->stats_lock);
	for (i = 0; i < c->nworkers; i++) {
		struct pc_worker *w = &c->w[i];

		w->c = c;
		w->idx = i;
		w->writer_slot = i;
		rc = pc_ring_init(&w->out, c->export_queue, sizeof(struct capture_flow));
		if (!rc)
			rc = pc_engine_sinks_init(w);
		if (rc)
			return rc;
		if (c->parallel) {
			rc = pc_decoder_create(&w->dec, &c->dopts);
			if (!rc)
				rc = pc_decoder_create(&w->dec2, &c->dopts);
			if (rc)
				return rc;
		} else if (c->dispatch) {
			/* with payload copies: 4096 x 2.2 KB (9 MB) a shard */
			rc = c->dispatch_copy
				     ? pc_ring_init(&w->in, 4096, sizeof(struct pc_meta_copy))
				     : pc_ring_init(&w->in, 65536, sizeof(struct pc_meta));
			if (rc)
				return rc;
			if (c->dispatch_copy) {
				w->mcopy = malloc(sizeof(*w->mcopy) * PC_DISPATCH_BATCH);
				if (!w->mcopy)
					return -ENOMEM;
			}
		} else {
			rc = pc_decoder_create(&w->dec, &c->dopts);
			if (rc)
				return rc;
		}
		if (c->flow_enabled) {
			struct pc_flow_params fp = {
				.slots = (table_slots(c) + c->nworkers - 1) / c->nworkers,
				.idle_ns = c->fcfg.idle_timeout_ms
						   ? (uint64_t)c->fcfg.idle_timeout_ms * 1000000ull
						   : (uint64_t)c->fcfg.idle_timeout_sec *
							     1000000000ull,
				.active_ns = (uint64_t)c->fcfg.active_timeout_sec * 1000000000ull,
				.uniflow = c->fcfg.uniflow,
				.tcp_health = !(c->fcfg.inspect_off & CAPTURE_INSPECT_TCP),
				.worker = (uint16_t)i,
				.cid_seed = c->fcfg.community_id_seed,
				.ifindex = live_ifindex(c),
				.seed = { c->seed[0], c->seed[1] },
			};

			if (inspects_payload(c)) {
				rc = setup_inspect(c, w, fp.slots);
				if (rc)
					return rc;
				fp.insp = w->insp;
			}
			rc = pc_flow_table_create(&w->ft, &fp);
			if (rc)
				return rc;
		}
	}
	if (c->parallel)
		return pc_engine_par_create(c);
	if (c->dispatch) {
		c->disp.writer_slot = 0;
		rc = pc_decoder_create(&c->disp.dec, &c->dopts);
		if (rc)
			return rc;
	}
	return 0;
}

/* Open the backend for the session and take what the status reports from it. */
static int open_backend(struct capture *c)
{
	char why[512] = "";
	int rc;

	memset(&c->params, 0, sizeof(c->params));
	c->params.interface = c->cfg.interface;
	c->params.pcap_file = c->cfg.pcap_file;
	c->params.filter = c->cfg.filter;
	c->params.decrypt_key_file = c->cfg.decrypt_key_file;
	c->params.snaplen = c->cfg.snaplen;
	c->params.buffer_size_mb = c->cfg.buffer_size_mb;
	c->params.workers = c->cfg.workers;
	c->params.promiscuous = c->cfg.promiscuous;
	c->params.tstamp = c->cfg.tstamp;
	c->params.log_fn = c->cfg.log_fn;
	c->params.log_ctx = c->cfg.log_ctx;
	c->params.log_level = c->cfg.log_level;
	c->params.dpdk_eal = c->cfg.dpdk_eal;
	c->params.pcap_files = c->cfg.pcap_files;
	c->params.npcap_files = c->cfg.npcap_files;
	c->params.ebpf_hook = c->cfg.ebpf_hook;
	c->params.ebpf_map_flows = c->cfg.ebpf_map_flows;
	c->params.ebpf_drop = c->cfg.ebpf_drop;
	memset(&c->cap, 0, sizeof(c->cap));
	rc = pc_capture_open(&c->cap, c->cfg.backend, &c->params, why, sizeof(why));
	if (rc < 0)
		return pc_engine_err(c, rc, "%s",
				     c->cap.err[0] ? c->cap.err
						   : (why[0] ? why : capture_strerror(rc)));
	pthread_mutex_lock(&c->err_lock);
	snprintf(c->why, sizeof(c->why), "%s", why);
	snprintf(c->last_backend, sizeof(c->last_backend), "%s", c->cap.ops->name);
	snprintf(c->tstamp_source, sizeof(c->tstamp_source), "%s", c->cap.tstamp_source);
	snprintf(c->tstamp_detail, sizeof(c->tstamp_detail), "%s", c->cap.tstamp_detail);
	snprintf(c->cap_mode, sizeof(c->cap_mode), "%s", c->cap.mode);
	c->input_bytes = c->cap.input_bytes;
	c->input_done = 0;
	pthread_mutex_unlock(&c->err_lock);
	pthread_rwlock_wrlock(&c->stats_lock);
	c->cap_live = true;
	pthread_rwlock_unlock(&c->stats_lock);
	return 0;
}

/* With the backend open: give up root, and check the user-space filter
 * compiles for the input's link type (refused before any packet is read). */
static int after_open(struct capture *c)
{
	char err[512];
	int rc;

	if (c->cfg.user && *c->cfg.user) {
		rc = pc_drop_privileges(c->cfg.user, err, sizeof(err));
		if (rc < 0)
			return pc_engine_err(c, rc, "%s", err);
	}
	if (c->cfg.filter && !c->cap.filter_applied) {
		struct pc_bpf *f;

		rc = pc_bpf_create(&f, c->cfg.filter, c->cap.linktype, c->cfg.snaplen, err,
				   sizeof(err));
		if (rc < 0)
			return pc_engine_err(c, rc, "%s", err);
		pc_bpf_destroy(f);
	}
	return 0;
}

/* Workers' tables and queues, the ended-flow ring, the packet writer and
 * the exporters; the session's counters reset. */
static int prepare_session(struct capture *c)
{
	int rc;

	c->dispatch = c->cap.nqueues == 1 && c->cfg.workers > 1;
	c->nworkers = c->dispatch ? c->cfg.workers : c->cap.nqueues;
	/* a file: parallel.c; live through one queue: the dispatcher */
	c->parallel = c->dispatch && c->cap.offline;
	c->dispatch_copy = c->dispatch && !c->parallel && inspects_payload(c);
	if (!c->nworkers)
		c->nworkers = 1;
	/* 1272-byte records: a file's worker waits for room, so a small queue
	 * that stays in cache (2.5 MiB) is faster (workload b: ~5%); live, a
	 * full queue drops, so bursts of ended flows get 20 MiB */
	c->export_queue = c->cfg.export_queue ? c->cfg.export_queue : c->cap.offline ? 2048 : 16384;
	rc = setup_workers(c);
	if (rc < 0)
		return pc_engine_err(c, rc, "cannot allocate the flow tables and queues: %s",
				     capture_strerror(rc));
	pthread_mutex_lock(&c->ended_lock);
	c->ended_head = c->ended_count = 0;
	if (c->ended && (!c->flow_enabled || c->ended_cap > c->fcfg.ended_ring_size)) {
		free(c->ended);
		c->ended = NULL;
	}
	if (c->flow_enabled && c->fcfg.ended_ring_size && !c->ended) {
		/* 1.3 KB a record: start small, ended_append doubles it */
		c->ended_cap = c->fcfg.ended_ring_size < ENDED_RING_START ? c->fcfg.ended_ring_size
									  : ENDED_RING_START;
		c->ended = malloc(c->ended_cap * sizeof(*c->ended));
	}
	c->ended_max = c->fcfg.ended_ring_size;
	pthread_mutex_unlock(&c->ended_lock);
	if (c->flow_enabled && c->fcfg.ended_ring_size && !c->ended)
		return pc_engine_err(c, -ENOMEM, "cannot allocate the ended-flow ring");
	rc = start_writer(c);
	if (rc < 0)
		return rc;
	rc = pc_engine_open_geoip(c);
	if (rc < 0)
		return rc;
	memset(&c->exp_done, 0, sizeof(c->exp_done));
	c->export_open_errors = 0;
	pc_engine_open_exporters(c);
	c->worker_err = 0;
	atomic_store(&c->counted, 0);
	atomic_store(&c->graceful, true);
	atomic_store(&c->dispatch_done, false);
	atomic_store(&c->export_delivered, 0);
	c->deadline_ns = c->cfg.duration_sec && !c->cap.offline
				 ? pc_mono_ns() + (uint64_t)c->cfg.duration_sec * 1000000000ull
				 : 0;
	pthread_mutex_lock(&c->err_lock);
	c->start_ns = pc_wall_ns();
	c->stop_ns = 0;
	pthread_mutex_unlock(&c->err_lock);
	return 0;
}

/* The export thread first (a file's workers wait on it), then the workers,
 * then the dispatcher. A worker that cannot start is accounted finished so
 * the others wind down; the session then ends failed. */
static int start_threads(struct capture *c)
{
	unsigned i;
	int rc;

	atomic_store(&c->workers_running, (int)c->nworkers);
	rc = pthread_create(&c->export_th, NULL, pc_engine_export_main, c);
	if (rc) {
		pc_engine_close_exporters(c);
		return pc_engine_err(c, -rc, "cannot start the export thread: %s", strerror(rc));
	}
	atomic_store(&c->state, CAPTURE_STATE_RUNNING);
	for (i = 0; i < c->nworkers; i++) {
		rc = pthread_create(&c->w[i].th, NULL,
				    c->parallel	  ? pc_engine_par_worker_main
				    : c->dispatch ? pc_engine_shard_main
						  : pc_engine_worker_main,
				    &c->w[i]);
		if (rc) {
			/* parallel: the others would wait for its batches */
			if (c->parallel)
				atomic_store(&c->graceful, false);
			atomic_store(&c->stop_req, true);
			atomic_fetch_sub(&c->workers_running, 1);
			pc_engine_err(c, -rc, "cannot start worker %u: %s", i, strerror(rc));
			continue;
		}
		c->w[i].started = true;
	}
	if (c->dispatch &&
	    pthread_create(&c->dispatch_th, NULL,
			   c->parallel ? pc_engine_par_read_main : pc_engine_dispatch_main,
			   &c->disp) == 0)
		c->dispatch_started = true;
	else if (c->dispatch)
		atomic_store(&c->dispatch_done, true);
	c->threads_live = true;
	return 0;
}

CAPTURE_API int capture_start(struct capture *c)
{
	int rc;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->ctl_lock);
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING) {
		rc = pc_engine_err(c, -CAPTURE_E_STATE, "capture is already running");
		goto unlock;
	}
	if (c->threads_live) {
		rc = pc_engine_err(c, -CAPTURE_E_STATE, "stop the previous session first");
		goto unlock;
	}
	pc_engine_err(c, 0, "%s", "");
	/* cleared before the (possibly slow) open: a stop asked for meanwhile,
	 * say a Ctrl-C, ends the session as soon as it starts */
	atomic_store(&c->stop_req, false);
	rc = verify_artifacts(c);
	if (rc)
		goto unlock;
	rc = open_backend(c);
	if (rc)
		goto unlock;
	rc = after_open(c);
	if (rc)
		goto close_cap;
	rc = prepare_session(c);
	if (rc)
		goto free_workers;
	rc = start_threads(c);
	if (rc)
		goto free_workers;
	/* the stamps actually in use: a requested source may have fallen back */
	pc_log(c, CAPTURE_LOG_INFO,
	       "capture started: backend %s, %u worker(s)%s%s; time stamps: %s (%s)",
	       c->cap.ops->name, c->nworkers, c->why[0] ? ": " : "", c->why, c->tstamp_source,
	       c->tstamp_detail);
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;

free_workers:
	pc_engine_close_geoip(c);
	finish_writer(c);
	release_workers(c);
close_cap:
	close_backend(c, false);
unlock:
	pthread_mutex_unlock(&c->ctl_lock);
	return rc;
}

/* Join every thread and close the session (ctl_lock held). */
static void join_session(struct capture *c, int final_state)
{
	unsigned i;

	if (!c->threads_live)
		return;
	if (c->dispatch_started)
		pthread_join(c->dispatch_th, NULL);
	c->dispatch_started = false;
	for (i = 0; i < c->nworkers; i++)
		if (c->w[i].started)
			pthread_join(c->w[i].th, NULL);
	pthread_join(c->export_th, NULL);
	pc_engine_close_geoip(c);
	finish_writer(c);
	close_backend(c, true);
	release_workers(c);
	c->threads_live = false;
	pthread_mutex_lock(&c->err_lock);
	c->stop_ns = pc_wall_ns();
	pthread_mutex_unlock(&c->err_lock);
	if (c->worker_err)
		final_state = CAPTURE_STATE_FAILED;
	atomic_store(&c->state, final_state);
}

CAPTURE_API int capture_poll(struct capture *c, int timeout_ms)
{
	uint64_t deadline =
		timeout_ms < 0 ? UINT64_MAX : pc_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint64_t now, nap_us;
	int st;

	if (!c)
		return -EINVAL;
	for (;;) {
		st = atomic_load(&c->state);
		if (st != CAPTURE_STATE_RUNNING)
			break;
		if (atomic_load(&c->workers_running) == 0) {
			/* the session ended by itself (end of file, --count, duration,
			 * a fatal error): collect the threads */
			pthread_mutex_lock(&c->ctl_lock);
			if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING)
				join_session(c, c->cap.offline && !atomic_load(&c->stop_req)
							? CAPTURE_STATE_DONE
							: (c->cap.offline ? CAPTURE_STATE_DONE
									  : CAPTURE_STATE_STOPPED));
			pthread_mutex_unlock(&c->ctl_lock);
			continue;
		}
		now = pc_mono_ns();
		if (now >= deadline)
			return CAPTURE_STATE_RUNNING;
		/* live sessions end seldom: fewer wake-ups (a file ends soon) */
		nap_us = c->cap.offline ? 2000 : 50000;
		if ((deadline - now) / 1000 + 1 < nap_us)
			nap_us = (deadline - now) / 1000 + 1;
		pc_sleep_us((unsigned)nap_us);
	}
	if (st == CAPTURE_STATE_FAILED)
		return c->worker_err ? c->worker_err : -CAPTURE_E_STATE;
	return st;
}

CAPTURE_API void capture_request_stop(struct capture *c)
{
	if (c)
		atomic_store(&c->stop_req, true);
}

CAPTURE_API int capture_stop(struct capture *c, bool graceful)
{
	int st;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->ctl_lock);
	st = atomic_load(&c->state);
	if (st != CAPTURE_STATE_RUNNING && !c->threads_live) {
		pthread_mutex_unlock(&c->ctl_lock);
		return pc_engine_err(c, -CAPTURE_E_STATE, "capture is not running");
	}
	atomic_store(&c->graceful, graceful);
	atomic_store(&c->stop_req, true);
	join_session(c, st == CAPTURE_STATE_RUNNING ? CAPTURE_STATE_STOPPED : st);
	pthread_mutex_unlock(&c->ctl_lock);
	return c->worker_err && graceful ? c->worker_err : 0;
}

CAPTURE_API void capture_destroy(struct capture *c)
{
	if (!c)
		return;
	if (c->threads_live)
		capture_stop(c, false);
	free(c->w_prev);
	free(c->ended);
	pc_engine_free_artifacts(c);
	free_config_strings(c);
	destroy_locks(c);
	free(c);
}
