/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap -r FILE | -i IFACE: meter flows and print, export, store them.
 * Streams JSON Lines straight from the export thread when no sorting is
 * asked for; otherwise collects the records and prints them at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jcap.h"

void jcap_print_subcommands(FILE *fp);

enum sort_key {
	SORT_NONE,
	SORT_BYTES,
	SORT_PACKETS,
	SORT_DURATION
};

struct collect {
	pthread_mutex_t lock;
	struct capture_flow *v;
	size_t n, cap;
	bool oom;
};

static struct capture *g_cap;

static void on_signal(int sig)
{
	(void)sig;
	capture_request_stop(g_cap);
}

static void on_log(void *ctx, int level, const char *msg)
{
	static const char *const lv[] = { "error", "warning", "info", "debug" };

	(void)ctx;
	fprintf(stderr, "jcap: %s: %s\n", lv[level & 3], msg);
}

static void on_flows(void *ctx, const struct capture_flow *recs, size_t n)
{
	struct collect *c = ctx;

	pthread_mutex_lock(&c->lock);
	if (c->n + n > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4096;
		struct capture_flow *nv;

		while (ncap < c->n + n)
			ncap *= 2;
		nv = realloc(c->v, ncap * sizeof(*nv));
		if (!nv) {
			c->oom = true;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		c->v = nv;
		c->cap = ncap;
	}
	memcpy(c->v + c->n, recs, n * sizeof(*recs));
	c->n += n;
	pthread_mutex_unlock(&c->lock);
}

static int cmp_bytes(const void *a, const void *b)
{
	const struct capture_flow *x = a, *y = b;
	uint64_t bx = x->bytes + x->rev_bytes, by = y->bytes + y->rev_bytes;

	return bx < by	 ? 1
	       : bx > by ? -1
			 : (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
}

static int cmp_packets(const void *a, const void *b)
{
	const struct capture_flow *x = a, *y = b;
	uint64_t px = x->packets + x->rev_packets, py = y->packets + y->rev_packets;

	return px < py	 ? 1
	       : px > py ? -1
			 : (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
}

static int cmp_duration(const void *a, const void *b)
{
	const struct capture_flow *x = a, *y = b;
	uint64_t dx = x->last_ns - x->first_ns, dy = y->last_ns - y->first_ns;

	return dx < dy	 ? 1
	       : dx > dy ? -1
			 : (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: jcap -r FILE | -i IFACE [options]\n"
		"       jcap COMMAND [options]\n"
		"\n"
		"Meter the flows in a capture file or on an interface and print, export or\n"
		"store them. Flows are bidirectional: src is the side that sent first (the\n"
		"SYN sender for TCP); bytes are IP-layer octets as NetFlow/IPFIX count them.\n"
		"\n"
		"Input:\n"
		"  -r FILE                read a pcap or pcapng file (- for stdin; encrypted: --key)\n"
		"  -i IFACE               capture live on IFACE\n"
		"  -b, --backend NAME     auto|pcap|afpacket|afxdp|file (default: auto live, file offline)\n"
		"  --workers N            worker threads, one flow table shard each (default 1)\n"
		"  --buffer-mb N          live ring size in MiB, 64..2048 (default 64)\n"
		"  --filter EXPR          tcpdump-syntax BPF filter (compiled by libpcap)\n"
		"  --snaplen N            bytes kept per packet (capture and --pcap-out)\n"
		"  --no-promisc           do not put the interface in promiscuous mode\n"
		"  --tstamp SRC           kernel|hardware|ptp|ntp (default kernel)\n"
		"  --duration S           live: stop after S seconds\n"
		"  --count N              stop after N packets\n"
		"  --user NAME            drop privileges to NAME once the sockets are open\n"
		"  --key FILE             key for reading an encrypted capture file\n"
		"  --verify IMG:SIG:KEY   verify an artifact's signature before starting (repeatable)\n"
		"\n"
		"Flow metering:\n"
		"  --idle-timeout S       end a flow after S seconds without packets (default 30)\n"
		"  --active-timeout S     split flows longer than S seconds (default 1800)\n"
		"  --table-size N         flow slots, 4096..16777216 (default 1048576); when full the\n"
		"                         least recently seen flow is evicted (end_reason evicted)\n"
		"  --uniflow              one record per direction instead of biflows\n"
		"\n"
		"Output:\n"
		"  -F, --format FMT       table|json|csv (default: table on a terminal, else JSON Lines)\n"
		"  -w FILE                write the flows to FILE instead of stdout\n"
		"  --top N                only the N largest flows (by --sort, default bytes)\n"
		"  --sort KEY             bytes|packets|duration (descending)\n"
		"  --stats                print the run's counters as JSON on stderr at the end\n"
		"  --no-progress          no progress bar on stderr\n"
		"  -q, --quiet            print no flows (exports and stores still run)\n"
		"  -v, --verbose          log engine messages on stderr\n"
		"\n"
		"Export (repeatable, any number at once):\n"
		"  --export TARGET        ipfix://HOST:PORT  ipfix+tcp://HOST:PORT  ipfix-file:PATH\n"
		"                         netflow9://HOST:PORT  netflow5://HOST:PORT  json:PATH  sqlite:PATH\n"
		"  --observation-domain N IPFIX observation domain / NetFlow v9 source id (default 0)\n"
		"  --template-refresh S   resend templates every S seconds over UDP (default 60)\n"
		"  --mtu N                largest export datagram in bytes (default 1400)\n"
		"  --store DB             store flows in a SQLite database (= --export sqlite:DB)\n"
		"  --store-max-rows N     keep at most N flows in the store\n"
		"  --store-max-age S      delete stored flows older than S seconds\n"
		"\n"
		"Packet storage:\n"
		"  --pcap-out DIR         write the captured packets to rotating files in DIR\n"
		"  --pcap-format FMT      pcap|pcapng (default pcap)\n"
		"  --rotate-size MB       start a new file after MB megabytes\n"
		"  --rotate-seconds S     start a new file every S seconds\n"
		"  --max-files N          keep only the newest N files\n"
		"  --pcap-filter EXPR     store only packets matching EXPR\n"
		"  --encrypt-key FILE     encrypt stored files (32 raw bytes or 64 hex digits)\n"
		"  --cipher NAME          aes-256-gcm (default), aes-128-gcm, chacha20-poly1305\n"
		"\n"
		"Commands:\n");
	jcap_print_subcommands(fp);
	fprintf(fp, "\n"
		    "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n"
		    "Examples:\n"
		    "  jcap -r trace.pcap --top 10\n"
		    "  jcap -r trace.pcap -F json --stats > flows.json\n"
		    "  jcap -i eth0 --workers 4 --export ipfix://127.0.0.1:4739\n");
}

enum {
	O_IDLE = 256,
	O_ACTIVE,
	O_TABLE,
	O_UNIFLOW,
	O_FILTER,
	O_TOP,
	O_SORT,
	O_STATS,
	O_NOPROG,
	O_WORKERS,
	O_BUFMB,
	O_DURATION,
	O_COUNT,
	O_SNAPLEN,
	O_NOPROMISC,
	O_TSTAMP,
	O_USER,
	O_KEY,
	O_EXPORT,
	O_DOMAIN,
	O_REFRESH,
	O_MTU,
	O_PCAPOUT,
	O_PCAPFMT,
	O_ROTSIZE,
	O_ROTSEC,
	O_MAXFILES,
	O_PCAPFILTER,
	O_ENCKEY,
	O_CIPHER,
	O_STORE,
	O_STORE_ROWS,
	O_STORE_AGE,
	O_VERIFY,
	O_HELP,
};

static const struct option longopts[] = {
	{ "format", required_argument, NULL, 'F' },
	{ "backend", required_argument, NULL, 'b' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "idle-timeout", required_argument, NULL, O_IDLE },
	{ "active-timeout", required_argument, NULL, O_ACTIVE },
	{ "table-size", required_argument, NULL, O_TABLE },
	{ "uniflow", no_argument, NULL, O_UNIFLOW },
	{ "filter", required_argument, NULL, O_FILTER },
	{ "top", required_argument, NULL, O_TOP },
	{ "sort", required_argument, NULL, O_SORT },
	{ "stats", no_argument, NULL, O_STATS },
	{ "no-progress", no_argument, NULL, O_NOPROG },
	{ "workers", required_argument, NULL, O_WORKERS },
	{ "buffer-mb", required_argument, NULL, O_BUFMB },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "count", required_argument, NULL, O_COUNT },
	{ "snaplen", required_argument, NULL, O_SNAPLEN },
	{ "no-promisc", no_argument, NULL, O_NOPROMISC },
	{ "tstamp", required_argument, NULL, O_TSTAMP },
	{ "user", required_argument, NULL, O_USER },
	{ "key", required_argument, NULL, O_KEY },
	{ "export", required_argument, NULL, O_EXPORT },
	{ "observation-domain", required_argument, NULL, O_DOMAIN },
	{ "template-refresh", required_argument, NULL, O_REFRESH },
	{ "mtu", required_argument, NULL, O_MTU },
	{ "pcap-out", required_argument, NULL, O_PCAPOUT },
	{ "pcap-format", required_argument, NULL, O_PCAPFMT },
	{ "rotate-size", required_argument, NULL, O_ROTSIZE },
	{ "rotate-seconds", required_argument, NULL, O_ROTSEC },
	{ "max-files", required_argument, NULL, O_MAXFILES },
	{ "pcap-filter", required_argument, NULL, O_PCAPFILTER },
	{ "encrypt-key", required_argument, NULL, O_ENCKEY },
	{ "cipher", required_argument, NULL, O_CIPHER },
	{ "store", required_argument, NULL, O_STORE },
	{ "store-max-rows", required_argument, NULL, O_STORE_ROWS },
	{ "store-max-age", required_argument, NULL, O_STORE_AGE },
	{ "verify", required_argument, NULL, O_VERIFY },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

#define MAX_LIST 16

struct opts {
	const char *rfile, *iface, *backend, *filter, *wfile, *user, *key;
	enum jcap_format fmt;
	bool fmt_set, stats, progress, quiet, verbose, uniflow, promisc;
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

static int parse_args(int argc, char **argv, struct opts *o)
{
	int ch;
	uint64_t v;

	memset(o, 0, sizeof(*o));
	o->progress = true;
	o->promisc = true;
	o->idle = 30;
	o->active = 1800;
	o->table = 1u << 20;
	o->workers = 1;
	o->xo.sz = sizeof(o->xo);
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":r:i:F:w:b:qvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o->rfile = optarg;
			break;
		case 'i':
			o->iface = optarg;
			break;
		case 'F':
			if (jcap_parse_format(optarg, &o->fmt)) {
				jcap_err("-F: unknown format '%s' (table, json, csv)", optarg);
				return -1;
			}
			o->fmt_set = true;
			break;
		case 'w':
			o->wfile = optarg;
			break;
		case 'b':
			o->backend = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(JCAP_EXIT_OK);
		case O_IDLE:
			if (jcap_parse_u64("--idle-timeout", optarg, 1, 86400 * 7, &o->idle))
				return -1;
			break;
		case O_ACTIVE:
			if (jcap_parse_u64("--active-timeout", optarg, 1, 86400 * 7, &o->active))
				return -1;
			break;
		case O_TABLE:
			if (jcap_parse_u64("--table-size", optarg, 4096, 16777216, &o->table))
				return -1;
			break;
		case O_UNIFLOW:
			o->uniflow = true;
			break;
		case O_FILTER:
			o->filter = optarg;
			break;
		case O_TOP:
			if (jcap_parse_u64("--top", optarg, 1, UINT32_MAX, &o->top))
				return -1;
			break;
		case O_SORT:
			if (!strcmp(optarg, "bytes"))
				o->sort = SORT_BYTES;
			else if (!strcmp(optarg, "packets"))
				o->sort = SORT_PACKETS;
			else if (!strcmp(optarg, "duration"))
				o->sort = SORT_DURATION;
			else {
				jcap_err("--sort: unknown key '%s' (bytes, packets, duration)",
					 optarg);
				return -1;
			}
			break;
		case O_STATS:
			o->stats = true;
			break;
		case O_NOPROG:
			o->progress = false;
			break;
		case O_WORKERS:
			if (jcap_parse_u64("--workers", optarg, 1, 64, &o->workers))
				return -1;
			break;
		case O_BUFMB:
			if (jcap_parse_u64("--buffer-mb", optarg, 64, 2048, &o->bufmb))
				return -1;
			break;
		case O_DURATION:
			if (jcap_parse_u64("--duration", optarg, 1, UINT32_MAX, &o->duration))
				return -1;
			break;
		case O_COUNT:
			if (jcap_parse_u64("--count", optarg, 1, UINT64_MAX, &o->count))
				return -1;
			break;
		case O_SNAPLEN:
			if (jcap_parse_u64("--snaplen", optarg, 64, 262144, &o->snaplen))
				return -1;
			break;
		case O_NOPROMISC:
			o->promisc = false;
			break;
		case O_TSTAMP:
			if (!strcmp(optarg, "kernel"))
				o->tstamp = CAPTURE_TSTAMP_KERNEL;
			else if (!strcmp(optarg, "hardware"))
				o->tstamp = CAPTURE_TSTAMP_HARDWARE;
			else if (!strcmp(optarg, "ptp"))
				o->tstamp = CAPTURE_TSTAMP_PTP;
			else if (!strcmp(optarg, "ntp"))
				o->tstamp = CAPTURE_TSTAMP_NTP;
			else {
				jcap_err(
					"--tstamp: unknown source '%s' (kernel, hardware, ptp, ntp)",
					optarg);
				return -1;
			}
			break;
		case O_USER:
			o->user = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case O_EXPORT:
		case O_STORE:
			if (o->nexports >= MAX_LIST) {
				jcap_err("at most %d exports", MAX_LIST);
				return -1;
			}
			if (ch == O_STORE) {
				static char specs[MAX_LIST][4200];

				snprintf(specs[o->nexports], sizeof(specs[0]), "sqlite:%s", optarg);
				o->exports[o->nexports] = specs[o->nexports];
				o->nexports++;
			} else {
				o->exports[o->nexports++] = optarg;
			}
			break;
		case O_DOMAIN:
			if (jcap_parse_u64("--observation-domain", optarg, 0, UINT32_MAX, &v))
				return -1;
			o->xo.observation_domain = (uint32_t)v;
			break;
		case O_REFRESH:
			if (jcap_parse_u64("--template-refresh", optarg, 1, 86400, &v))
				return -1;
			o->xo.template_refresh_sec = (uint32_t)v;
			break;
		case O_MTU:
			if (jcap_parse_u64("--mtu", optarg, 576, 65000, &v))
				return -1;
			o->xo.mtu = (uint32_t)v;
			break;
		case O_STORE_ROWS:
			if (jcap_parse_u64("--store-max-rows", optarg, 1, UINT64_MAX, &v))
				return -1;
			o->xo.store_max_rows = v;
			break;
		case O_STORE_AGE:
			if (jcap_parse_u64("--store-max-age", optarg, 1, UINT32_MAX, &v))
				return -1;
			o->xo.store_max_age_sec = (uint32_t)v;
			break;
		case O_PCAPOUT:
			o->pcap_out = optarg;
			break;
		case O_PCAPFMT:
			if (!strcmp(optarg, "pcap"))
				o->pcap_fmt = CAPTURE_PCAP_FORMAT_PCAP;
			else if (!strcmp(optarg, "pcapng"))
				o->pcap_fmt = CAPTURE_PCAP_FORMAT_PCAPNG;
			else {
				jcap_err("--pcap-format: unknown format '%s' (pcap, pcapng)",
					 optarg);
				return -1;
			}
			break;
		case O_ROTSIZE:
			if (jcap_parse_u64("--rotate-size", optarg, 1, 1u << 20, &o->rot_mb))
				return -1;
			break;
		case O_ROTSEC:
			if (jcap_parse_u64("--rotate-seconds", optarg, 1, 86400 * 366, &o->rot_sec))
				return -1;
			break;
		case O_MAXFILES:
			if (jcap_parse_u64("--max-files", optarg, 1, 1000000, &o->max_files))
				return -1;
			break;
		case O_PCAPFILTER:
			o->pcap_filter = optarg;
			break;
		case O_ENCKEY:
			o->enc_key = optarg;
			break;
		case O_CIPHER:
			if (!strcmp(optarg, "aes-256-gcm"))
				o->cipher = CAPTURE_CIPHER_AES_256_GCM;
			else if (!strcmp(optarg, "aes-128-gcm"))
				o->cipher = CAPTURE_CIPHER_AES_128_GCM;
			else if (!strcmp(optarg, "chacha20-poly1305"))
				o->cipher = CAPTURE_CIPHER_CHACHA20_POLY1305;
			else {
				jcap_err("--cipher: unknown cipher '%s' (aes-256-gcm, aes-128-gcm, "
					 "chacha20-poly1305)",
					 optarg);
				return -1;
			}
			break;
		case O_VERIFY:
			if (o->nverify >= MAX_LIST) {
				jcap_err("at most %d --verify artifacts", MAX_LIST);
				return -1;
			}
			o->verify[o->nverify++] = optarg;
			break;
		case ':':
			jcap_err("option %s needs a value", argv[optind - 1]);
			return -1;
		default:
			if (optopt)
				jcap_err("unknown option -%c (see jcap --help)", optopt);
			else
				jcap_err("unknown option %s (see jcap --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		jcap_err("unexpected argument '%s' (see jcap --help)", argv[optind]);
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
	return 0;
}

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
		char buf[4096], *img, *sig, *key;

		snprintf(buf, sizeof(buf), "%s", o->verify[i]);
		img = buf;
		sig = strchr(img, ':');
		key = sig ? strchr(sig + 1, ':') : NULL;
		if (!sig || !key) {
			fprintf(stderr, "jcap: --verify '%s': expected IMAGE:SIGNATURE:PUBKEY\n",
				o->verify[i]);
			return -EINVAL;
		}
		*sig++ = 0;
		*key++ = 0;
		rc = capture_add_artifact(c, img, sig, key, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
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

int jcap_cmd_meter(int argc, char **argv)
{
	struct opts o;
	struct capture_config cfg;
	struct capture *c = NULL;
	struct collect col = { .lock = PTHREAD_MUTEX_INITIALIZER };
	FILE *out = stdout;
	bool stream, show_progress, shown = false;
	const char *stream_target = NULL;
	char spec[4200];
	int rc, st, exit_code = JCAP_EXIT_OK;

	if (argc < 2) {
		usage(stderr);
		return JCAP_EXIT_USAGE;
	}
	if (parse_args(argc, argv, &o))
		return JCAP_EXIT_USAGE;
	if (!o.fmt_set)
		o.fmt = o.wfile ? JCAP_FMT_JSON : jcap_default_format(stdout);
	memset(&cfg, 0, sizeof(cfg));
	cfg.sz = sizeof(cfg);
	cfg.pcap_file = o.rfile;
	cfg.interface = o.iface;
	cfg.backend = o.backend;
	cfg.filter = o.filter;
	cfg.workers = (uint32_t)o.workers;
	cfg.buffer_size_mb = (uint32_t)o.bufmb;
	cfg.snaplen = (uint32_t)o.snaplen;
	cfg.promiscuous = o.promisc;
	cfg.tstamp = (uint8_t)o.tstamp;
	cfg.max_packets = o.count;
	cfg.duration_sec = (uint32_t)o.duration;
	cfg.decrypt_key_file = o.key;
	cfg.user = o.user;
	cfg.log_fn = on_log;
	cfg.log_level = o.verbose ? CAPTURE_LOG_DEBUG : CAPTURE_LOG_WARN;
	rc = capture_init(&c, &cfg);
	if (rc < 0) {
		jcap_err("%s", capture_last_error(NULL)[0] ? capture_last_error(NULL)
							   : capture_strerror(rc));
		return rc == -CAPTURE_E_FILTER || rc == -CAPTURE_E_CONFIG ? JCAP_EXIT_USAGE
									  : JCAP_EXIT_FAIL;
	}
	rc = setup(c, &o);
	if (rc < 0) {
		if (rc != -EINVAL)
			jcap_err("%s", capture_last_error(c)[0] ? capture_last_error(c)
								: capture_strerror(rc));
		capture_destroy(c);
		return rc == -CAPTURE_E_TARGET || rc == -CAPTURE_E_CONFIG || rc == -EINVAL ||
				       rc == -CAPTURE_E_FILTER
			       ? JCAP_EXIT_USAGE
			       : JCAP_EXIT_FAIL;
	}
	/* JSON without sorting streams from the export thread: constant memory */
	stream = !o.quiet && o.fmt == JCAP_FMT_JSON && o.sort == SORT_NONE;
	if (stream) {
		snprintf(spec, sizeof(spec), "json:%s", o.wfile ? o.wfile : "-");
		stream_target = spec;
		rc = capture_export_add(c, stream_target, NULL);
		if (rc < 0) {
			jcap_err("%s", capture_last_error(c));
			capture_destroy(c);
			return JCAP_EXIT_FAIL;
		}
	} else if (!o.quiet) {
		if (o.wfile) {
			out = fopen(o.wfile, "we");
			if (!out) {
				jcap_err("%s: cannot open for writing: %s", o.wfile,
					 strerror(errno));
				capture_destroy(c);
				return JCAP_EXIT_FAIL;
			}
		}
		capture_set_flow_callback(c, on_flows, &col);
	}
	g_cap = c;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	rc = capture_start(c);
	if (rc < 0) {
		jcap_err("%s",
			 capture_last_error(c)[0] ? capture_last_error(c) : capture_strerror(rc));
		exit_code = JCAP_EXIT_FAIL;
		goto out;
	}
	show_progress = o.progress && o.rfile && isatty(STDERR_FILENO);
	for (;;) {
		st = capture_poll(c, 200);
		if (st != CAPTURE_STATE_RUNNING)
			break;
		if (show_progress)
			progress(c, &shown);
	}
	if (shown) {
		progress(c, &shown);
		fputc('\n', stderr);
	}
	if (st < 0) {
		/* flows metered before the failure were flushed and are printed */
		jcap_err("%s",
			 capture_last_error(c)[0] ? capture_last_error(c) : capture_strerror(st));
		exit_code = JCAP_EXIT_FAIL;
	}
	if (!stream && !o.quiet) {
		int (*cmp)(const void *, const void *) = NULL;

		if (col.oom) {
			jcap_err("out of memory collecting flow records");
			exit_code = JCAP_EXIT_FAIL;
		}
		if (o.sort == SORT_BYTES || (o.sort == SORT_NONE && o.fmt == JCAP_FMT_TABLE))
			cmp = cmp_bytes;
		else if (o.sort == SORT_PACKETS)
			cmp = cmp_packets;
		else if (o.sort == SORT_DURATION)
			cmp = cmp_duration;
		if (cmp && col.n)
			qsort(col.v, col.n, sizeof(*col.v), cmp);
		if (jcap_print_flows(out, col.v, o.top && o.top < col.n ? o.top : col.n, o.fmt) ||
		    fflush(out)) {
			jcap_err("%s: write error: %s", o.wfile ? o.wfile : "stdout",
				 strerror(errno));
			exit_code = JCAP_EXIT_FAIL;
		}
	}
	if (o.stats) {
		char *buf = malloc(1 << 16);

		if (buf && capture_stats_json(c, buf, 1 << 16, o.workers > 1) > 0)
			fprintf(stderr, "%s\n", buf);
		free(buf);
	}
	{
		struct capture_stats s = { .sz = sizeof(s) };

		if (!capture_get_stats(c, &s) && s.export_errors && exit_code == JCAP_EXIT_OK)
			fprintf(stderr, "jcap: warning: %llu export errors (see --stats)\n",
				(unsigned long long)s.export_errors);
	}
out:
	if (out != stdout && out)
		fclose(out);
	capture_destroy(c);
	free(col.v);
	return exit_code;
}
