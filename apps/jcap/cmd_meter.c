/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap -r FILE | -i IFACE: meter flows and print, export, store them.
 * Streams JSON Lines straight from the export thread when no sorting is
 * asked for; otherwise collects the records and prints them at the end.
 * Every output is accounted: one that cannot be opened is refused before a
 * packet is read, one that lost records makes the exit status 1.
 * Options: meter_opts.c; outputs the library writes: meter_out.c.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jcap.h"

struct collect {
	pthread_mutex_t lock;
	struct jcap_flows fl;
	bool oom;
	/* JSON with ISO times streams from here, not the library's exporter */
	FILE *stream;
	enum jcap_time_format tf;
	bool io_err;
};

static struct capture *g_cap;
/* capture_start() is running: an error logged now is an output that cannot
 * be opened (the session goes on without it), which jcap refuses */
static atomic_bool g_starting;
static char g_refused[JCAP_METER_MAX_LIST + 1][1024]; /* every output, -w included */
static unsigned g_nrefused;

static void on_signal(int sig)
{
	(void)sig;
	capture_request_stop(g_cap);
}

static void on_log(void *ctx, int level, const char *msg)
{
	static const char *const lv[] = { "error", "warning", "info", "debug" };

	(void)ctx;
	if (level == CAPTURE_LOG_ERROR && atomic_load(&g_starting)) {
		/* the workers start after the exporters open: stopped now, they
		 * end before their first read */
		if (g_nrefused < JCAP_ARRAY_SIZE(g_refused))
			snprintf(g_refused[g_nrefused++], sizeof(g_refused[0]), "%s", msg);
		capture_request_stop(g_cap);
		return;
	}
	jcap_err("%s: %s", lv[level & 3], msg);
}

static void on_flows(void *ctx, const struct capture_flow *recs, size_t n)
{
	struct collect *c = ctx;
	char line[JCAP_JSON_LINE];
	size_t i;
	int len;

	pthread_mutex_lock(&c->lock);
	if (c->stream) {
		for (i = 0; i < n; i++) {
			len = jcap_flow_json(&recs[i], c->tf, line, sizeof(line));
			if (len > 0 && fwrite(line, 1, (size_t)len, c->stream) != (size_t)len)
				c->io_err = true;
		}
		if (fflush(c->stream))
			c->io_err = true;
	} else if (jcap_flows_add(&c->fl, recs, n) < 0) {
		c->oom = true;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Descending by @kx/@ky, then oldest first: a stable order for equal keys. */
static int desc(uint64_t kx, uint64_t ky, const struct capture_flow *x,
		const struct capture_flow *y)
{
	if (kx != ky)
		return kx < ky ? 1 : -1;
	return (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
}

static int cmp_bytes(const void *a, const void *b)
{
	const struct capture_flow *x = a, *y = b;

	return desc(x->bytes + x->rev_bytes, y->bytes + y->rev_bytes, x, y);
}

static int cmp_packets(const void *a, const void *b)
{
	const struct capture_flow *x = a, *y = b;

	return desc(x->packets + x->rev_packets, y->packets + y->rev_packets, x, y);
}

static int cmp_duration(const void *a, const void *b)
{
	const struct capture_flow *x = a, *y = b;

	return desc(x->last_ns - x->first_ns, y->last_ns - y->first_ns, x, y);
}

static int (*const cmps[])(const void *, const void *) = { cmp_bytes, cmp_packets, cmp_duration };

/* capture_init() and jcap_meter_setup(): an exit code, and the capture in *cp when 0. */
static int open_capture(struct jcap_meter_opts *o, struct capture **cp)
{
	struct capture_config cfg = {
		.sz = sizeof(cfg),
		.pcap_file = o->nrfiles > 1 ? NULL : o->rfile,
		.pcap_files = o->nrfiles > 1 ? o->rfiles : NULL,
		.npcap_files = o->nrfiles > 1 ? o->nrfiles : 0,
		.interface = o->iface,
		.backend = o->backend,
		.filter = o->filter,
		.workers = (uint32_t)o->workers,
		.buffer_size_mb = (uint32_t)o->bufmb,
		.snaplen = (uint32_t)o->snaplen,
		.promiscuous = o->promisc,
		.tstamp = (uint8_t)o->tstamp,
		.max_packets = o->count,
		.duration_sec = (uint32_t)o->duration,
		.decrypt_key_file = o->key,
		.user = o->user,
		.dpdk_eal = o->dpdk_eal,
		.ebpf_hook = o->ebpf_hook,
		.ebpf_map_flows = (uint32_t)o->ebpf_map_flows,
		.ebpf_drop = o->ebpf_drop,
		.sample_rate = o->sample.rate,
		.sample_random = o->sample.random,
		.tunnel_ports = o->tunnel_ports,
		.geoip_city = o->geoip_city,
		.geoip_asn = o->geoip_asn,
		.log_fn = on_log,
		.log_level = o->verbose ? CAPTURE_LOG_DEBUG : CAPTURE_LOG_WARN,
	};
	struct capture *c;
	int rc;

	if (o->decap && capture_decap_parse(o->decap, &cfg.decap_off) < 0) {
		jcap_err("--decap: '%s': expected all, none or tunnel names separated by commas "
			 "(vxlan, geneve, gre, nvgre, erspan, pptp, gtpu, ipip, mplsudp, mplspw, "
			 "teredo, ayiya)",
			 o->decap);
		return JCAP_EXIT_USAGE;
	}
	rc = capture_init(&c, &cfg);
	if (rc < 0) {
		jcap_lib_err(capture_last_error(NULL), rc);
		return rc == -CAPTURE_E_FILTER || rc == -CAPTURE_E_CONFIG ? JCAP_EXIT_USAGE
									  : JCAP_EXIT_FAIL;
	}
	rc = jcap_meter_setup(c, o);
	if (rc < 0) {
		if (rc != -EINVAL)
			jcap_lib_err(capture_last_error(c), rc);
		capture_destroy(c);
		return rc == -CAPTURE_E_TARGET || rc == -CAPTURE_E_CONFIG || rc == -EINVAL ||
				       rc == -CAPTURE_E_FILTER
			       ? JCAP_EXIT_USAGE
			       : JCAP_EXIT_FAIL;
	}
	*cp = c;
	return JCAP_EXIT_OK;
}

/*
 * Where the flows go: JSON without sorting streams from the export thread
 * (constant memory) through the library's JSON exporter, which writes
 * records as their flows end (within ~100 ms) and counts what it could not
 * write; anything else is collected and printed at the end. Returns an exit
 * code; *out is the file to print to.
 */
static int open_output(struct capture *c, const struct jcap_meter_opts *o, bool stream,
		       struct collect *col, FILE **out)
{
	int rc;

	if (o->quiet)
		return JCAP_EXIT_OK;
	if (stream && o->time_fmt == JCAP_TIME_NS && !o->interval_ns) {
		/* -w FILE is opened at start with the other exports: refused
		 * there, before any packet is read, if it cannot be */
		rc = capture_export_add(c, jcap_meter_stream_spec(o), NULL);
		if (rc < 0) {
			jcap_lib_err(capture_last_error(c), rc);
			return JCAP_EXIT_FAIL;
		}
		return JCAP_EXIT_OK;
	}
	if (o->wfile) {
		*out = fopen(o->wfile, "we");
		if (!*out) {
			*out = stdout;
			jcap_err("%s: cannot open for writing: %s", o->wfile, strerror(errno));
			return JCAP_EXIT_FAIL;
		}
	}
	if (stream) {
		col->stream = *out;
		col->tf = (enum jcap_time_format)o->time_fmt;
	}
	capture_set_flow_callback(c, on_flows, col);
	return JCAP_EXIT_OK;
}

/* Poll until the capture ends. Returns its final state, < 0 (reported) on failure. */
static int wait_done(struct capture *c, const struct jcap_meter_opts *o, struct collect *col)
{
	bool tty = isatty(STDERR_FILENO);
	struct jcap_status s;
	uint64_t next = 0, now;
	struct timespec ts;
	int st;

	jcap_status_init(&s, tty && o->progress && o->rfile, tty && !o->quiet && o->iface);
	for (;;) {
		st = capture_poll(c, 200);
		if (st != CAPTURE_STATE_RUNNING)
			break;
		jcap_status_tick(c, &s);
		if (!o->interval_ns || !col->stream)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (!next)
			next = now + o->interval_ns;
		if (now < next)
			continue;
		next += o->interval_ns;
		if (jcap_interim_print(c, col->stream, &col->lock,
				       (enum jcap_time_format)o->time_fmt) < 0)
			col->io_err = true;
	}
	jcap_status_end(c, &s);
	/* flows metered before a failure were flushed and are still printed */
	if (st < 0)
		jcap_lib_err(capture_last_error(c), st);
	return st;
}

/* Sort and print the collected flows. Returns 0, or -1 after reporting. */
static int print_collected(struct collect *col, const struct jcap_meter_opts *o, FILE *out)
{
	struct jcap_flows *fl = &col->fl;
	struct jcap_out po = {
		.fmt = (enum jcap_format)o->fmt,
		.time_fmt = (enum jcap_time_format)o->time_fmt,
		.width = o->wide ? 0 : jcap_term_width(out),
		.wide = o->wide,
	};
	int rc = 0;

	if (col->oom) {
		jcap_err("out of memory collecting flow records");
		rc = -1;
	}
	if (fl->n && (o->sort != JCAP_SORT_NONE || o->fmt == JCAP_FMT_TABLE))
		qsort(fl->v, fl->n, sizeof(*fl->v),
		      cmps[o->sort == JCAP_SORT_NONE ? JCAP_SORT_BYTES : o->sort]);
	if (col->stream) {
		if (col->io_err || fflush(out))
			goto write_error;
		return rc;
	}
	if (o->summary) {
		if (jcap_aggregate_summary(out, fl->v, fl->n, (enum jcap_format)o->fmt) < 0)
			return -1;
		if (fflush(out) || ferror(out))
			goto write_error;
		return rc;
	}
	if (o->report) {
		struct capture_report rep = { .sz = sizeof(rep),
					      .keys = o->by ? o->by : o->aggregate,
					      .bin_ns = o->bin_ns,
					      .order = o->rep_order,
					      .limit = o->top };

		if (jcap_aggregate_print(out, fl->v, fl->n, &rep, (enum jcap_format)o->fmt) < 0)
			return -1;
		if (fflush(out) || ferror(out))
			goto write_error;
		return rc;
	}
	if (jcap_print_flows_out(out, fl->v, o->top && o->top < fl->n ? o->top : fl->n, &po) ||
	    fflush(out)) {
write_error:
		jcap_err("%s: write error: %s", o->wfile ? o->wfile : "stdout", strerror(errno));
		rc = -1;
	}
	return rc;
}

int jcap_cmd_meter(int argc, char **argv)
{
	struct jcap_meter_opts o;
	struct capture *c = NULL;
	struct collect col = { .lock = PTHREAD_MUTEX_INITIALIZER };
	FILE *out = stdout;
	bool stream;
	int rc, exit_code;
	unsigned i;

	if (argc < 2) {
		jcap_meter_usage(stderr);
		return JCAP_EXIT_USAGE;
	}
	rc = jcap_meter_parse(argc, argv, &o);
	if (rc <= 0)
		return rc == -2 ? JCAP_EXIT_FAIL : rc < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	if (o.line_buf)
		setvbuf(stdout, NULL, _IOLBF, 0);
	exit_code = open_capture(&o, &c);
	if (exit_code != JCAP_EXIT_OK)
		return exit_code;
	stream = !o.quiet && o.fmt == JCAP_FMT_JSON && o.sort == JCAP_SORT_NONE && !o.report;
	exit_code = open_output(c, &o, stream, &col, &out);
	if (exit_code != JCAP_EXIT_OK)
		goto close_out;
	g_cap = c;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	atomic_store(&g_starting, true);
	rc = capture_start(c);
	atomic_store(&g_starting, false);
	if (g_nrefused) {
		/* stopped before the first packet: nothing was metered */
		if (rc == 0)
			capture_stop(c, false);
		for (i = 0; i < g_nrefused; i++)
			jcap_meter_print_refusal(&o, g_refused[i]);
		exit_code = JCAP_EXIT_FAIL;
	}
	if (rc < 0) {
		jcap_lib_err(capture_last_error(c), rc);
		exit_code = JCAP_EXIT_FAIL;
	}
	if (exit_code != JCAP_EXIT_OK)
		goto close_out;
	if (wait_done(c, &o, &col) < 0)
		exit_code = JCAP_EXIT_FAIL;
	if ((!stream || col.stream) && !o.quiet && print_collected(&col, &o, out) < 0)
		exit_code = JCAP_EXIT_FAIL;
	if (!o.quiet && isatty(STDERR_FILENO))
		jcap_summary(c, o.iface != NULL);
	exit_code = jcap_meter_report(c, &o, stream && !col.stream, exit_code);
close_out:
	if (out != stdout)
		fclose(out);
	capture_destroy(c);
	free(col.fl.v);
	return exit_code;
}
