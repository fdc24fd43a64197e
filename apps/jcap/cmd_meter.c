/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap -r FILE | -i IFACE: meter flows and print, export, store them.
 * Streams JSON Lines straight from the export thread when no sorting is
 * asked for; otherwise collects the records and prints them at the end.
 * Every output is accounted: one that cannot be opened is refused before a
 * packet is read, one that lost records makes the exit status 1.
 * One table, meter_opts, makes both the option parsing and the --help list.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jcap.h"

enum sort_key {
	SORT_NONE = -1,
	SORT_BYTES, /* indexes sort_names[] and cmps[] */
	SORT_PACKETS,
	SORT_DURATION
};

#define MAX_LIST 16 /* --export/--store targets, --verify artifacts */

struct collect {
	pthread_mutex_t lock;
	struct jcap_flows fl;
	bool oom;
};

static struct capture *g_cap;
/* capture_start() is running: an error logged now is an output that cannot
 * be opened (the session goes on without it), which jcap refuses */
static atomic_bool g_starting;
static char g_refused[MAX_LIST + 1][1024]; /* every output, -w included */
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

	pthread_mutex_lock(&c->lock);
	if (jcap_flows_add(&c->fl, recs, n) < 0)
		c->oom = true;
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

static const char *const sort_names[] = { "bytes", "packets", "duration", NULL };
static int (*const cmps[])(const void *, const void *) = { cmp_bytes, cmp_packets, cmp_duration };

static const char *const tstamp_names[] = { "kernel", "hardware", "ptp", "ntp", NULL };
static const char *const pcap_fmt_names[] = { "pcap", "pcapng", NULL };

struct opts {
	const char *rfile, *iface, *backend, *filter, *wfile, *user, *key;
	int fmt; /* enum jcap_format; -1: not given */
	bool stats, progress, quiet, verbose, uniflow, promisc;
	enum sort_key sort;
	uint64_t top, idle, active, table, workers, bufmb, duration, count, snaplen;
	int tstamp;
	const char *exports[MAX_LIST];
	unsigned nexports;
	const char *verify[MAX_LIST];
	unsigned nverify;
	struct capture_export_opts xo;
	const char *pcap_out, *pcap_filter, *enc_key;
	uint8_t pcap_fmt, cipher;
	uint64_t rot_mb, rot_sec, max_files;
};

static int push(const char **v, unsigned *n, const char *arg, const char *what)
{
	if (*n >= MAX_LIST) {
		jcap_err("at most %d %s", MAX_LIST, what);
		return -1;
	}
	v[(*n)++] = arg;
	return 0;
}

static int opt_export(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		      void *base)
{
	struct opts *o = base;

	return push(o->exports, &o->nexports, arg, "exports");
}

/* --store DB is --export sqlite:DB */
static int opt_store(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		     void *base)
{
	static char specs[MAX_LIST][4200];
	struct opts *o = base;

	if (o->nexports < MAX_LIST) {
		snprintf(specs[o->nexports], sizeof(specs[0]), "sqlite:%s", arg);
		arg = specs[o->nexports];
	}
	return opt_export(cmd, opt, arg, base);
}

static int opt_verify(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		      void *base)
{
	struct opts *o = base;

	return push(o->verify, &o->nverify, arg, "--verify artifacts");
}

/* The cipher names are the library's: capture_cipher_from_name/_name. */
static int opt_cipher(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		      void *base)
{
	const char *names[8] = { NULL };
	struct opts *o = base;
	int c = capture_cipher_from_name(arg);

	if (c >= 0) {
		o->cipher = (uint8_t)c;
		return 0;
	}
	for (c = 0; c < 7 && capture_cipher_name(c); c++)
		names[c] = capture_cipher_name(c);
	return jcap_opt_bad_name(cmd, opt, "cipher", arg, names);
}

#define STR_(x) #x
#define STR(x) STR_(x)
/* "64..2048": the library's limits, in the help as in the check */
#define BUFFER_MB_RANGE STR(CAPTURE_BUFFER_MB_MIN) ".." STR(CAPTURE_BUFFER_MB_MAX)
#define F(member) JCAP_FIELD(struct opts, member)

/* Every option, in the order of the help, whose option list is made from it. */
static const struct jcap_opt meter_opts[] = {
	JCAP_SECTION("Input:"),
	JCAP_STR('r', NULL, "FILE", F(rfile),
		 "read a pcap or pcapng file (- for stdin; encrypted: --key)"),
	JCAP_STR('i', NULL, "IFACE", F(iface), "capture live on IFACE"),
	JCAP_STR('b', "backend", "NAME", F(backend),
		 "auto|pcap|afpacket|afxdp|file (default: auto live, file offline)"),
	JCAP_UINT(0, "workers", "N", F(workers), 1, 64,
		  "worker threads, one flow table shard each (default 1)"),
	JCAP_UINT(0, "buffer-mb", "N", F(bufmb), CAPTURE_BUFFER_MB_MIN, CAPTURE_BUFFER_MB_MAX,
		  "live ring size in MiB, " BUFFER_MB_RANGE " (default 64)"),
	JCAP_STR(0, "filter", "EXPR", F(filter), "tcpdump-syntax BPF filter (compiled by libpcap)"),
	JCAP_UINT(0, "snaplen", "N", F(snaplen), 64, 262144,
		  "bytes kept per packet (capture and --pcap-out)"),
	JCAP_FLAG(0, "no-promisc", F(promisc), false,
		  "do not put the interface in promiscuous mode"),
	JCAP_ENUM(0, "tstamp", "SRC", F(tstamp), tstamp_names, "source",
		  "kernel|hardware|ptp|ntp (default kernel)"),
	JCAP_UINT(0, "duration", "S", F(duration), 1, UINT32_MAX, "live: stop after S seconds"),
	JCAP_UINT(0, "count", "N", F(count), 1, UINT64_MAX, "stop after N packets"),
	JCAP_STR(0, "user", "NAME", F(user), "drop privileges to NAME once the sockets are open"),
	JCAP_STR(0, "key", "FILE", F(key), "key for reading an encrypted capture file"),
	JCAP_FN(0, "verify", "IMG:SIG:KEY", F(verify), opt_verify,
		"verify an artifact's signature before starting (repeatable)"),

	JCAP_SECTION("Flow metering:"),
	JCAP_UINT(0, "idle-timeout", "S", F(idle), 1, 86400 * 7,
		  "end a flow after S seconds without packets (default 30)"),
	JCAP_UINT(0, "active-timeout", "S", F(active), 1, 86400 * 7,
		  "split flows longer than S seconds (default 1800)"),
	JCAP_UINT(0, "table-size", "N", F(table), 4096, 16777216,
		  "flow slots, 4096..16777216 (default 1048576); when full the\n"
		  "least recently seen flow is evicted (end_reason evicted)"),
	JCAP_FLAG(0, "uniflow", F(uniflow), true, "one record per direction instead of biflows"),

	JCAP_SECTION("Output:"),
	JCAP_ENUM('F', "format", "FMT", F(fmt), jcap_format_names, "format",
		  "table|json|csv (default: table on a terminal, else JSON Lines)"),
	JCAP_STR('w', NULL, "FILE", F(wfile), "write the flows to FILE instead of stdout"),
	JCAP_UINT(0, "top", "N", F(top), 1, UINT32_MAX,
		  "only the N largest flows (by --sort, default bytes)"),
	JCAP_ENUM(0, "sort", "KEY", F(sort), sort_names, "key",
		  "bytes|packets|duration (descending)"),
	JCAP_FLAG(0, "stats", F(stats), true,
		  "print the run's counters as JSON on stderr at the end"),
	JCAP_FLAG(0, "no-progress", F(progress), false, "no progress bar on stderr"),
	JCAP_FLAG('q', "quiet", F(quiet), true, "print no flows (exports and stores still run)"),
	JCAP_FLAG('v', "verbose", F(verbose), true, "log engine messages on stderr"),

	JCAP_SECTION("Export (repeatable, any number at once):"),
	JCAP_FN(0, "export", "TARGET", F(exports), opt_export,
		"ipfix://HOST:PORT  ipfix+tcp://HOST:PORT  ipfix-file:PATH\n"
		"netflow9://HOST:PORT  netflow5://HOST:PORT  json:PATH  sqlite:PATH"),
	JCAP_UINT(0, "observation-domain", "N", F(xo.observation_domain), 0, UINT32_MAX,
		  "IPFIX observation domain / NetFlow v9 source id (default 0)"),
	JCAP_UINT(0, "template-refresh", "S", F(xo.template_refresh_sec), 1, 86400,
		  "resend templates every S seconds over UDP (default 60)"),
	JCAP_UINT(0, "mtu", "N", F(xo.mtu), 576, 65000,
		  "largest export datagram in bytes (default 1400)"),
	JCAP_FN(0, "store", "DB", F(exports), opt_store,
		"store flows in a SQLite database (= --export sqlite:DB)"),
	JCAP_UINT(0, "store-max-rows", "N", F(xo.store_max_rows), 1, UINT64_MAX,
		  "keep at most N flows in the store"),
	JCAP_UINT(0, "store-max-age", "S", F(xo.store_max_age_sec), 1, UINT32_MAX,
		  "delete stored flows older than S seconds"),

	JCAP_SECTION("Packet storage:"),
	JCAP_STR(0, "pcap-out", "DIR", F(pcap_out),
		 "write the captured packets to rotating files in DIR"),
	JCAP_ENUM(0, "pcap-format", "FMT", F(pcap_fmt), pcap_fmt_names, "format",
		  "pcap|pcapng (default pcap)"),
	JCAP_UINT(0, "rotate-size", "MB", F(rot_mb), 1, 1u << 20,
		  "start a new file after MB megabytes"),
	JCAP_UINT(0, "rotate-seconds", "S", F(rot_sec), 1, 86400 * 366,
		  "start a new file every S seconds"),
	JCAP_UINT(0, "max-files", "N", F(max_files), 1, 1000000, "keep only the newest N files"),
	JCAP_STR(0, "pcap-filter", "EXPR", F(pcap_filter), "store only packets matching EXPR"),
	JCAP_STR(0, "encrypt-key", "FILE", F(enc_key),
		 "encrypt stored files (32 raw bytes or 64 hex digits)"),
	JCAP_FN(0, "cipher", "NAME", F(cipher), opt_cipher,
		"aes-256-gcm (default), aes-128-gcm, chacha20-poly1305"),

	JCAP_HELP('h', "help"),
};

static void usage(FILE *fp);

static const struct jcap_cmd meter_cmd = JCAP_CMD(NULL, meter_opts, usage, false);

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: jcap -r FILE | -i IFACE [options]\n"
		"       jcap COMMAND [options]\n"
		"\n"
		"Meter the flows in a capture file or on an interface and print, export or\n"
		"store them. Flows are bidirectional: src is the side that sent first (the\n"
		"SYN sender for TCP); bytes are IP-layer octets as NetFlow/IPFIX count them.\n");
	jcap_opts_help(fp, &meter_cmd);
	fprintf(fp, "\n"
		    "Commands:\n");
	jcap_print_subcommands(fp);
	fprintf(fp, "\n"
		    "JSON Lines (-F json, unsorted) leave as their flows end, within 0.1 s,\n"
		    "on stdout or into -w FILE, live or not.\n"
		    "\n"
		    "Exit status:\n"
		    "  0  ok; also after SIGINT or SIGTERM, which stop the run: the flows\n"
		    "     metered so far are printed and exported\n"
		    "  1  runtime failure, one line on stderr each: an input that cannot be\n"
		    "     read; an output (-w, --export, --store) that cannot be opened,\n"
		    "     refused before any packet is read; an output that lost records\n"
		    "     (write or send errors), named with what was lost\n"
		    "  2  usage error\n"
		    "\n"
		    "Examples:\n"
		    "  jcap -r trace.pcap --top 10\n"
		    "  jcap -r trace.pcap -F json --stats > flows.json\n"
		    "  jcap -i eth0 --workers 4 --export ipfix://127.0.0.1:4739\n");
}

/* Returns 1 to go on, 0 when the help was printed, -1 after a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->fmt = -1;
	o->sort = SORT_NONE;
	o->progress = true;
	o->promisc = true;
	o->idle = 30;
	o->active = 1800;
	o->table = 1u << 20;
	o->workers = 1;
	o->xo.sz = sizeof(o->xo);
	rc = jcap_opts_parse(&meter_cmd, argc, argv, o);
	if (rc <= 0)
		return rc;
	if (rc < argc) {
		jcap_err("unexpected argument '%s' (see jcap --help)", argv[rc]);
		return -1;
	}
	if (!o->rfile == !o->iface) {
		jcap_err(o->rfile ? "give -r FILE or -i IFACE, not both"
				  : "nothing to read: give -r FILE or -i IFACE (see jcap --help)");
		return -1;
	}
	if (o->top && o->sort == SORT_NONE)
		o->sort = SORT_BYTES;
	if (o->enc_key && !o->pcap_out) {
		jcap_err("--encrypt-key applies to --pcap-out, which is missing");
		return -1;
	}
	if (o->fmt < 0)
		o->fmt = o->wfile ? JCAP_FMT_JSON : jcap_default_format(stdout);
	return 1;
}

/* --verify IMAGE:SIGNATURE:PUBKEY */
static int add_artifact(struct capture *c, const char *spec)
{
	char buf[4096], *img, *sig, *key;

	snprintf(buf, sizeof(buf), "%s", spec);
	img = buf;
	sig = strchr(img, ':');
	key = sig ? strchr(sig + 1, ':') : NULL;
	if (!sig || !key) {
		jcap_err("--verify '%s': expected IMAGE:SIGNATURE:PUBKEY", spec);
		return -EINVAL;
	}
	*sig++ = 0;
	*key++ = 0;
	return capture_add_artifact(c, img, sig, key, NULL);
}

/* Flow metering, exports, packet storage, artifacts. -EINVAL: reported here. */
static int setup(struct capture *c, struct opts *o)
{
	struct capture_flow_config fc = {
		.sz = sizeof(fc),
		.table_size = (uint32_t)o->table,
		.idle_timeout_sec = (uint32_t)o->idle,
		.active_timeout_sec = (uint32_t)o->active,
		.uniflow = o->uniflow,
	};
	unsigned i;
	int rc;

	rc = capture_flow_enable(c, &fc);
	if (rc < 0)
		return rc;
	o->xo.uniflow = o->uniflow;
	for (i = 0; i < o->nexports; i++) {
		rc = capture_export_add(c, o->exports[i], &o->xo);
		if (rc < 0)
			return rc;
	}
	if (o->pcap_out) {
		struct capture_pcap_out_config pc = {
			.sz = sizeof(pc),
			.dir = o->pcap_out,
			.format = o->pcap_fmt,
			.rotate_bytes = o->rot_mb * 1000000ull,
			.rotate_seconds = (uint32_t)o->rot_sec,
			.max_files = (uint32_t)o->max_files,
			.snaplen = (uint32_t)o->snaplen,
			.filter = o->pcap_filter,
		};

		rc = capture_pcap_out_enable(c, &pc);
		if (rc < 0)
			return rc;
	}
	if (o->enc_key) {
		struct capture_encryption_config ec = { .sz = sizeof(ec),
							.key_file = o->enc_key,
							.cipher = o->cipher };

		rc = capture_set_encryption(c, &ec);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < o->nverify; i++) {
		rc = add_artifact(c, o->verify[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* capture_init() and setup(): an exit code, and the capture in *cp when 0. */
static int open_capture(struct opts *o, struct capture **cp)
{
	struct capture_config cfg = {
		.sz = sizeof(cfg),
		.pcap_file = o->rfile,
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
		.log_fn = on_log,
		.log_level = o->verbose ? CAPTURE_LOG_DEBUG : CAPTURE_LOG_WARN,
	};
	struct capture *c;
	int rc;

	rc = capture_init(&c, &cfg);
	if (rc < 0) {
		jcap_lib_err(capture_last_error(NULL), rc);
		return rc == -CAPTURE_E_FILTER || rc == -CAPTURE_E_CONFIG ? JCAP_EXIT_USAGE
									  : JCAP_EXIT_FAIL;
	}
	rc = setup(c, o);
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

/* The JSON stream on stdout or -w FILE, as an export target. */
static const char *stream_spec(const struct opts *o)
{
	static char spec[4200];

	snprintf(spec, sizeof(spec), "json:%s", o->wfile ? o->wfile : "-");
	return spec;
}

/*
 * Where the flows go: JSON without sorting streams from the export thread
 * (constant memory) through the library's JSON exporter, which writes
 * records as their flows end (within ~100 ms) and counts what it could not
 * write; anything else is collected and printed at the end. Returns an exit
 * code; *out is the file to print to.
 */
static int open_output(struct capture *c, const struct opts *o, bool stream, struct collect *col,
		       FILE **out)
{
	int rc;

	if (o->quiet)
		return JCAP_EXIT_OK;
	if (stream) {
		/* -w FILE is opened at start with the other exports: refused
		 * there, before any packet is read, if it cannot be */
		rc = capture_export_add(c, stream_spec(o), NULL);
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
	capture_set_flow_callback(c, on_flows, col);
	return JCAP_EXIT_OK;
}

static void progress(struct capture *c, bool *shown)
{
	struct capture_status st = { .sz = sizeof(st) };
	int pct, i;
	char bar[41];

	/* only worth drawing for inputs of a few MB or more */
	if (capture_get_status(c, &st) || st.input_bytes < (4u << 20))
		return;
	pct = (int)(st.input_done * 100 / st.input_bytes);
	if (pct > 100)
		pct = 100;
	for (i = 0; i < 40; i++)
		bar[i] = i < pct * 40 / 100 ? '#' : '.';
	bar[40] = 0;
	fprintf(stderr, "\r[%s] %3d%% %llu/%llu MB", bar, pct,
		(unsigned long long)(st.input_done >> 20),
		(unsigned long long)(st.input_bytes >> 20));
	*shown = true;
}

/* Poll until the capture ends. Returns its final state, < 0 (reported) on failure. */
static int wait_done(struct capture *c, const struct opts *o)
{
	bool show = o->progress && o->rfile && isatty(STDERR_FILENO), shown = false;
	int st;

	for (;;) {
		st = capture_poll(c, 200);
		if (st != CAPTURE_STATE_RUNNING)
			break;
		if (show)
			progress(c, &shown);
	}
	if (shown) {
		progress(c, &shown);
		fputc('\n', stderr);
	}
	/* flows metered before a failure were flushed and are still printed */
	if (st < 0)
		jcap_lib_err(capture_last_error(c), st);
	return st;
}

/* Sort and print the collected flows. Returns 0, or -1 after reporting. */
static int print_collected(struct collect *col, const struct opts *o, FILE *out)
{
	struct jcap_flows *fl = &col->fl;
	int rc = 0;

	if (col->oom) {
		jcap_err("out of memory collecting flow records");
		rc = -1;
	}
	if (fl->n && (o->sort != SORT_NONE || o->fmt == JCAP_FMT_TABLE))
		qsort(fl->v, fl->n, sizeof(*fl->v),
		      cmps[o->sort == SORT_NONE ? SORT_BYTES : o->sort]);
	if (jcap_print_flows(out, fl->v, o->top && o->top < fl->n ? o->top : fl->n,
			     (enum jcap_format)o->fmt) ||
	    fflush(out)) {
		jcap_err("%s: write error: %s", o->wfile ? o->wfile : "stdout", strerror(errno));
		rc = -1;
	}
	return rc;
}

/* @s begins with the @n bytes at @p and ": " */
static bool names(const char *s, const char *p, size_t n)
{
	return !strncmp(s, p, n) && !strncmp(s + n, ": ", 2);
}

/*
 * The library's "export SPEC: why", logged when an output could not be
 * opened, as jcap's one line: "export SPEC: why", or "FILE: why" for -w.
 * Exporters often name their target (or file) again at the start of why:
 * said once here.
 */
static void print_refusal(const struct opts *o, const char *msg)
{
	const char *spec = msg + 7, *sep, *why, *colon;
	size_t sl;

	if (strncmp(msg, "export ", 7) || !(sep = strstr(spec, ": "))) {
		jcap_err("%s", msg);
		return;
	}
	sl = (size_t)(sep - spec);
	why = sep + 2;
	colon = memchr(spec, ':', sl); /* json:PATH, sqlite:PATH, ipfix-file:PATH */
	if (names(why, spec, sl))
		why += sl + 2;
	else if (colon && strncmp(colon, "://", 3) &&
		 names(why, colon + 1, (size_t)(sep - colon - 1)))
		why += sep - colon - 1 + 2;
	if (o->wfile && sl == strlen(stream_spec(o)) && !strncmp(spec, stream_spec(o), sl))
		jcap_err("%s: %s", o->wfile, why);
	else
		jcap_err("export %.*s: %s", (int)sl, spec, why);
}

/* "stdout", "FILE" (-w) and "export SPEC" for every output the library
 * writes, comma-separated in @buf. Returns how many. */
static unsigned list_outputs(const struct opts *o, bool stream, char *buf, size_t len)
{
	size_t n = 0;
	unsigned i, k = 0;
	int w;

	buf[0] = 0;
	if (stream) {
		w = snprintf(buf, len, "%s", o->wfile ? o->wfile : "stdout");
		n = w > 0 ? (size_t)w : 0;
		k++;
	}
	for (i = 0; i < o->nexports && n < len; i++, k++) {
		w = snprintf(buf + n, len - n, "%sexport %s", k ? ", " : "", o->exports[i]);
		n += w > 0 ? (size_t)w : 0;
	}
	return k;
}

/*
 * Counters on stderr (--stats), then one line when an output lost records:
 * which outputs, how many errors, and how many records were lost where the
 * counters say it exactly (one JSON or SQLite output: it counts the records
 * it wrote). A collector that refuses or cannot be reached loses records
 * too. Returns JCAP_EXIT_FAIL when records were lost, else @exit_code.
 */
static int report(struct capture *c, const struct opts *o, bool stream, int exit_code)
{
	struct capture_stats s = { .sz = sizeof(s) };
	char list[1024], what[96] = "";
	uint64_t delivered, taken;
	unsigned k;

	if (o->stats) {
		char *buf = malloc(1 << 16);

		if (buf && capture_stats_json(c, buf, 1 << 16, o->workers > 1) > 0)
			fprintf(stderr, "%s\n", buf);
		free(buf);
	}
	if (capture_get_stats(c, &s) || (!s.export_errors && !s.export_tcp_queue_drops))
		return exit_code;
	k = list_outputs(o, stream, list, sizeof(list));
	delivered = s.flows_exported - s.export_queue_drops;
	taken = s.export_records + s.export_not_exportable;
	if (s.export_tcp_queue_drops)
		snprintf(what, sizeof(what), ", %llu records not delivered",
			 (unsigned long long)s.export_tcp_queue_drops);
	else if (k == 1 && delivered > taken)
		snprintf(what, sizeof(what), ", %llu of %llu records lost",
			 (unsigned long long)(delivered - taken), (unsigned long long)delivered);
	if (k == 1)
		jcap_err("%s: %llu error%s%s", list, (unsigned long long)s.export_errors,
			 s.export_errors == 1 ? "" : "s", what);
	else /* the counters are totals over the outputs */
		jcap_err("%llu error%s among %s%s", (unsigned long long)s.export_errors,
			 s.export_errors == 1 ? "" : "s", list, what);
	return JCAP_EXIT_FAIL;
}

int jcap_cmd_meter(int argc, char **argv)
{
	struct opts o;
	struct capture *c = NULL;
	struct collect col = { .lock = PTHREAD_MUTEX_INITIALIZER };
	FILE *out = stdout;
	bool stream;
	int rc, exit_code;
	unsigned i;

	if (argc < 2) {
		usage(stderr);
		return JCAP_EXIT_USAGE;
	}
	rc = parse_args(argc, argv, &o);
	if (rc <= 0)
		return rc < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	exit_code = open_capture(&o, &c);
	if (exit_code != JCAP_EXIT_OK)
		return exit_code;
	stream = !o.quiet && o.fmt == JCAP_FMT_JSON && o.sort == SORT_NONE;
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
			print_refusal(&o, g_refused[i]);
		exit_code = JCAP_EXIT_FAIL;
	}
	if (rc < 0) {
		jcap_lib_err(capture_last_error(c), rc);
		exit_code = JCAP_EXIT_FAIL;
	}
	if (exit_code != JCAP_EXIT_OK)
		goto close_out;
	if (wait_done(c, &o) < 0)
		exit_code = JCAP_EXIT_FAIL;
	if (!stream && !o.quiet && print_collected(&col, &o, out) < 0)
		exit_code = JCAP_EXIT_FAIL;
	exit_code = report(c, &o, stream, exit_code);
close_out:
	if (out != stdout)
		fclose(out);
	capture_destroy(c);
	free(col.fl.v);
	return exit_code;
}
