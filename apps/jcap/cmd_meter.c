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
#include <strings.h>
#include <time.h>
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
	/* JSON with ISO times streams from here, not the library's exporter */
	FILE *stream;
	enum jcap_time_format tf;
	bool io_err;
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
	char line[2048];
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

static const char *const sort_names[] = { "bytes", "packets", "duration", NULL };
static int (*const cmps[])(const void *, const void *) = { cmp_bytes, cmp_packets, cmp_duration };

static const char *const tstamp_names[] = { "kernel", "hardware", "ptp", "ntp", NULL };
static const char *const pcap_fmt_names[] = { "pcap", "pcapng", NULL };

struct opts {
	const char *rfile, *iface, *backend, *filter, *wfile, *user, *key;
	const char *dpdk_eal;
	const char *decap, *tunnel_ports;
	struct jcap_sample sample; /* --sample */
	int fmt;		   /* enum jcap_format; -1: not given */
	bool stats, progress, quiet, verbose, uniflow, promisc;
	bool line_buf, no_resolve, version, wide, list_ifaces;
	/* a report instead of flows (--by, --aggregate, --bin, --summary) */
	const char *by, *aggregate;
	uint8_t rep_order;
	uint64_t bin_ns;
	bool report, summary;
	const char *config;   /* --config FILE (read before the parse) */
	uint64_t interval_ns; /* --interval: interim records of active flows */
	int time_fmt;	      /* enum jcap_time_format */
	enum sort_key sort;
	uint64_t top, idle, active, table, workers, bufmb, duration, count, snaplen;
	uint64_t cid_seed; /* Community ID seed */
	int tstamp;
	const char *exports[MAX_LIST];
	unsigned nexports;
	const char *verify[MAX_LIST];
	unsigned nverify;
	struct capture_export_opts xo;
	char xprops[4096]; /* --export-opt lines (xo.props) */
	bool ch_create;
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

/* --export-opt kafka.P=V / clickhouse.K=V: lines of xo.props */
static int opt_export_opt(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
			  void *base)
{
	struct opts *o = base;
	size_t have = strlen(o->xprops), n = strlen(arg);

	if ((strncmp(arg, "kafka.", 6) && strncmp(arg, "clickhouse.", 11)) || !strchr(arg, '=') ||
	    strchr(arg, '\n')) {
		jcap_err("--export-opt '%s': want kafka.PROPERTY=VALUE or clickhouse.NAME=VALUE",
			 arg);
		return -1;
	}
	if (have + n + 2 > sizeof(o->xprops)) {
		jcap_err("--export-opt: too many settings");
		return -1;
	}
	memcpy(o->xprops + have, arg, n);
	memcpy(o->xprops + have + n, "\n", 2);
	o->xo.props = o->xprops;
	return 0;
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

/* --bin DUR: 300, 300s, 5m, 1h, 1d */
static int opt_bin(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		   void *base)
{
	struct opts *o = base;

	(void)cmd;
	(void)opt;
	if (jcap_parse_duration(arg, &o->bin_ns) < 0) {
		jcap_err("--bin: '%s' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)", arg);
		return -1;
	}
	return 0;
}

/* --interval DUR */
static int opt_interval(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
			void *base)
{
	struct opts *o = base;

	(void)cmd;
	(void)opt;
	if (jcap_parse_duration(arg, &o->interval_ns) < 0) {
		jcap_err("--interval: '%s' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)", arg);
		return -1;
	}
	return 0;
}

/* --by/--aggregate: one or the other, known keys. 0 or -1 after reporting. */
static int check_report(struct opts *o)
{
	int keys[CAPTURE_REPORT_MAX_KEYS];
	unsigned n;

	o->report = o->by || o->aggregate || o->bin_ns || o->summary;
	if (o->summary && (o->by || o->aggregate || o->bin_ns)) {
		jcap_err("--summary stands alone");
		return -1;
	}
	if (o->by && o->aggregate) {
		jcap_err("give --by KEY or --aggregate KEYS, not both");
		return -1;
	}
	if (o->by && strchr(o->by, ',')) {
		jcap_err("--by takes one key; several: --aggregate");
		return -1;
	}
	return jcap_aggregate_keys(o->by ? o->by : o->aggregate, keys, &n);
}

/* -s 0 is tcpdump's "whole packets": the library's 0 (262144) */
static int opt_snaplen(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		       void *base)
{
	struct opts *o = base;
	uint64_t v;

	if (jcap_parse_u64("--snaplen", arg, 0, 262144, &v) < 0)
		return -1;
	if (v && v < 64) {
		jcap_err("--snaplen: %llu out of range (0 or 64..262144)", (unsigned long long)v);
		return -1;
	}
	o->snaplen = v;
	return 0;
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
		 "auto|dpdk|pcap|afpacket|afxdp|file (default: auto live, file offline)"),
	JCAP_UINT(0, "workers", "N", F(workers), 1, 64,
		  "worker threads, one flow table shard each (default 1)"),
	JCAP_UINT(0, "buffer-mb", "N", F(bufmb), CAPTURE_BUFFER_MB_MIN, CAPTURE_BUFFER_MB_MAX,
		  "live ring size in MiB, " BUFFER_MB_RANGE " (default 64)"),
	JCAP_STR(0, "filter", "EXPR", F(filter), "tcpdump-syntax BPF filter (compiled by libpcap)"),
	JCAP_FN('s', "snaplen", "N", F(snaplen), opt_snaplen,
		"bytes kept per packet, 64..262144, 0: whole packets\n"
		"(capture and --pcap-out)"),
	JCAP_FLAG(0, "no-promisc", F(promisc), false,
		  "do not put the interface in promiscuous mode"),
	JCAP_ENUM(0, "tstamp", "SRC", F(tstamp), tstamp_names, "source",
		  "kernel|hardware|ptp|ntp (default kernel)"),
	JCAP_UINT(0, "duration", "S", F(duration), 1, UINT32_MAX, "live: stop after S seconds"),
	JCAP_UINT('c', "count", "N", F(count), 1, UINT64_MAX, "stop after N packets"),
	JCAP_STR(0, "user", "NAME", F(user), "drop privileges to NAME once the sockets are open"),
	JCAP_STR(0, "key", "FILE", F(key), "key for reading an encrypted capture file"),
	JCAP_STR(0, "dpdk-eal", "ARGS", F(dpdk_eal),
		 "-b dpdk: DPDK EAL arguments, e.g. '--no-huge -m 256 --no-pci\n"
		 "--vdev=net_pcap0,rx_pcap=FILE' (-i dpdk:PORT: PCI address or vdev)"),
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
	JCAP_UINT(0, "community-id-seed", "N", F(cid_seed), 0, 65535,
		  "Community ID v1 seed, 0..65535 (default 0)"),
	JCAP_STR(0, "decap", "all|none|LIST", F(decap),
		 "meter the conversations inside these tunnels: all (default),\n"
		 "none, or names: vxlan,geneve,gre,nvgre,erspan,pptp,gtpu,\n"
		 "ipip,mplsudp,mplspw,teredo,ayiya (docs/TUNNELS.md)"),
	JCAP_STR(0, "tunnel-ports", "SPEC", F(tunnel_ports),
		 "UDP tunnel ports, e.g. vxlan=4789+8472,gtpu=2152 (a name\n"
		 "given replaces its defaults; docs/TUNNELS.md)"),

	JCAP_SECTION("Output:"),
	JCAP_ENUM('F', "format", "FMT", F(fmt), jcap_format_names, "format",
		  "table|json|csv (default: table on a terminal, else JSON Lines)"),
	JCAP_STR('w', NULL, "FILE", F(wfile),
		 "write the flow records to FILE instead of stdout\n"
		 "(packets are stored with --pcap-out DIR)"),
	JCAP_UINT(0, "top", "N", F(top), 1, UINT32_MAX,
		  "only the N largest flows (by --sort, default bytes)"),
	JCAP_ENUM(0, "sort", "KEY", F(sort), sort_names, "key",
		  "bytes|packets|duration (descending)"),
	JCAP_STR(0, "by", "KEY", F(by),
		 "a report instead of flows: flows, packets and bytes per\n"
		 "KEY (src_ip, dst_ip, src_port, dst_port, proto, ip_version,\n"
		 "vlan, end_reason, community_id), the first N with --top"),
	JCAP_STR(0, "aggregate", "KEYS", F(aggregate), "the same per KEYS: src_ip,dst_port"),
	JCAP_ENUM(0, "order", "KEY", F(rep_order), jcap_report_order_names, "order",
		  "reports: flows|packets|bytes, largest first (default flows)"),
	JCAP_FN(0, "interval", "DUR", F(interval_ns), opt_interval,
		"-F json: every DUR (10s, 1m) the active flows as interim\n"
		"records (\"interim\":true) before they end"),
	JCAP_FN(0, "bin", "DUR", F(bin_ns), opt_bin,
		"reports: per time bin of DUR (300, 5m, 1h) of the first packets"),
	JCAP_FLAG(0, "summary", F(summary), true,
		  "a report: totals, first/last time, flows by protocol"),
	JCAP_FLAG(0, "stats", F(stats), true,
		  "print the run's counters as JSON on stderr at the end"),
	JCAP_FLAG(0, "no-progress", F(progress), false, "no progress bar on stderr"),
	JCAP_FLAG('q', "quiet", F(quiet), true,
		  "print no flows, no status or summary line (exports and\n"
		  "stores still run)"),
	JCAP_FLAG(0, "wide", F(wide), true, "table: every column at full width"),
	JCAP_ENUM(0, "time-format", "FMT", F(time_fmt), jcap_time_format_names, "time format",
		  "json/csv times: ns (default: first_ns/last_ns) or iso\n"
		  "(ISO 8601 UTC start/end beside them)"),
	JCAP_FLAG('l', NULL, F(line_buf), true, "line-buffered output (also -U)"),
	JCAP_FLAG('U', NULL, F(line_buf), true, "same as -l"),
	JCAP_FLAG('n', NULL, F(no_resolve), true, "accepted: jcap never resolves names"),
	JCAP_FLAG('v', "verbose", F(verbose), true, "log engine messages on stderr"),

	JCAP_SECTION("Export (repeatable, any number at once):"),
	JCAP_FN(0, "export", "TARGET", F(exports), opt_export,
		"ipfix://HOST:PORT  ipfix+tcp://HOST:PORT  ipfix-file:PATH\n"
		"netflow9://HOST:PORT  netflow5://HOST:PORT  json:PATH  sqlite:PATH\n"
		"kafka://HOST:PORT[,...]/TOPIC[?key=flow|community_id&flush_ms=MS]\n"
		"clickhouse://HOST:PORT/DB.TABLE[?batch=N&flush_ms=MS]"),
	JCAP_FN(0, "export-opt", "KEY=VALUE", F(xprops), opt_export_opt,
		"Kafka/ClickHouse setting (repeatable): kafka.PROPERTY=VALUE\n"
		"(librdkafka, e.g. kafka.compression.type=zstd) or clickhouse.NAME=VALUE\n"
		"(user_file, retries, buffer_rows, ...; see docs/SCALING.md)"),
	JCAP_FLAG(0, "clickhouse-create", F(ch_create), true,
		  "create the ClickHouse database and table if absent"),
	JCAP_UINT(0, "observation-domain", "N", F(xo.observation_domain), 0, UINT32_MAX,
		  "IPFIX observation domain / NetFlow v9 source id (default 0)"),
	JCAP_UINT(0, "template-refresh", "S", F(xo.template_refresh_sec), 1, 86400,
		  "resend templates every S seconds over UDP (default 60)"),
	JCAP_UINT(0, "mtu", "N", F(xo.mtu), 576, 65000,
		  "largest export datagram in bytes (default 1400)"),
	JCAP_FN(0, "fields", "LIST", F(xo.fields), jcap_opt_fields,
		"IPFIX/v9 record fields beyond the default: +mac,+vlan,+mpls,\n"
		"+tunnel,+ttl,+tos,+interface,+community_id, all (docs/EXPORT.md)"),
	JCAP_UINT(0, "ipfix-pen", "N", F(xo.ipfix_pen), 1, UINT32_MAX,
		  "enterprise number of jcap's own IPFIX elements (tunnel,\n"
		  "community_id; model: docs/ipfix/jcap-elements.xml)"),
	JCAP_FN(0, "export-rate", "RATE", F(xo), jcap_opt_rate,
		"pace UDP exports: records/s (20000) or bits/s (50mbit);\n"
		"unpaced: never (default: file input 20000, live unpaced)"),
	JCAP_FN(0, "sample", "N[:random]", F(sample), jcap_opt_sample,
		"meter 1 in N packets: every N-th, or at random"),
	JCAP_FLAG(0, "sample-scale", F(xo.sample_scale), true,
		  "NetFlow/IPFIX counters times N (collectors that ignore\n"
		  "the sampling options record)"),
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

	JCAP_SECTION("Other:"),
	JCAP_STR(0, "config", "FILE", F(config),
		 "read options from FILE first: key = value lines, keys the long\n"
		 "option names ('_' for '-'), as jcapd's config file"),
	JCAP_FLAG('D', "list-interfaces", F(list_ifaces), true,
		  "list the interfaces and the backends usable on each"),
	JCAP_FLAG('V', "version", F(version), true, "print the version"),
	JCAP_HELP('h', "help"),
};

static void usage(FILE *fp);

static const struct jcap_cmd meter_cmd = JCAP_CMD(NULL, meter_opts, usage, false);

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: jcap -r FILE | -i IFACE [options] [FILTER EXPRESSION]\n"
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

/*
 * The operands after the options are a filter expression, as tcpdump takes
 * it ("tcp port 443" as three words or one): joined with spaces into @buf.
 * 0, or -1 after reporting.
 */
static int trailing_filter(struct opts *o, int argc, char **argv, int first, char *buf, size_t len)
{
	size_t n = 0;
	int i, w;

	if (first >= argc)
		return 0;
	if (o->filter) {
		jcap_err("two filters: give the expression after the options or with --filter, "
			 "not both");
		return -1;
	}
	buf[0] = 0;
	for (i = first; i < argc; i++) {
		w = snprintf(buf + n, len - n, "%s%s", i > first ? " " : "", argv[i]);
		if (w < 0 || (size_t)w >= len - n) {
			jcap_err("filter expression too long (at most %zu bytes)", len - 1);
			return -1;
		}
		n += (size_t)w;
	}
	o->filter = buf;
	return 0;
}

/* -w is the flow output: a name that says packets is a tcpdump habit */
static bool packet_file_name(const char *name)
{
	static const char *const ext[] = { ".pcap", ".pcapng", ".cap", ".pcap.gz" };
	size_t n = strlen(name), i, e;

	for (i = 0; i < JCAP_ARRAY_SIZE(ext); i++) {
		e = strlen(ext[i]);
		if (n > e && !strcasecmp(name + n - e, ext[i]))
			return true;
	}
	return false;
}

/* Returns 1 to go on, 0 when the help was printed (or -V, -D done), -1
 * after a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static char filter[8192];
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
	if (jcap_config_argv(&meter_cmd, &argc, &argv) < 0)
		return -1;
	rc = jcap_opts_parse(&meter_cmd, argc, argv, o);
	if (rc <= 0)
		return rc;
	if (o->version) /* "-qV": the option parser's way */
		return jcap_print_version(stdout) ? -2 : 0;
	if (o->list_ifaces)
		return jcap_list_interfaces(stdout) < 0 ? -2 : 0;
	if (trailing_filter(o, argc, argv, rc, filter, sizeof(filter)) < 0)
		return -1;
	if (check_report(o) < 0)
		return -1;
	if (o->interval_ns &&
	    (o->fmt != JCAP_FMT_JSON || o->report || o->sort != SORT_NONE || o->top || o->quiet)) {
		jcap_err("--interval prints interim records in the JSON stream: it needs -F json "
			 "and no --top, --sort, report or -q");
		return -1;
	}
	if (o->wfile && packet_file_name(o->wfile)) {
		jcap_err("-w %s: -w writes flow records (JSON, CSV or a table), not packets; "
			 "store packets with --pcap-out DIR",
			 o->wfile);
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
		.community_id_seed = (uint16_t)o->cid_seed,
	};
	unsigned i;
	int rc;

	rc = capture_flow_enable(c, &fc);
	if (rc < 0)
		return rc;
	o->xo.uniflow = o->uniflow;
	if (o->ch_create && opt_export_opt(NULL, NULL, "clickhouse.create=1", o))
		return -EINVAL;
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
		.dpdk_eal = o->dpdk_eal,
		.sample_rate = o->sample.rate,
		.sample_random = o->sample.random,
		.tunnel_ports = o->tunnel_ports,
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
	if (stream && o->time_fmt == JCAP_TIME_NS && !o->interval_ns) {
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
	if (stream) {
		col->stream = *out;
		col->tf = (enum jcap_time_format)o->time_fmt;
	}
	capture_set_flow_callback(c, on_flows, col);
	return JCAP_EXIT_OK;
}

/* Poll until the capture ends. Returns its final state, < 0 (reported) on failure. */
static int wait_done(struct capture *c, const struct opts *o, struct collect *col)
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
static int print_collected(struct collect *col, const struct opts *o, FILE *out)
{
	struct jcap_flows *fl = &col->fl;
	struct jcap_out po = {
		.fmt = (enum jcap_format)o->fmt,
		.time_fmt = (enum jcap_time_format)o->time_fmt,
		.width = o->wide ? 0 : jcap_term_width(out),
	};
	int rc = 0;

	if (col->oom) {
		jcap_err("out of memory collecting flow records");
		rc = -1;
	}
	if (fl->n && (o->sort != SORT_NONE || o->fmt == JCAP_FMT_TABLE))
		qsort(fl->v, fl->n, sizeof(*fl->v),
		      cmps[o->sort == SORT_NONE ? SORT_BYTES : o->sort]);
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
		return rc == -2 ? JCAP_EXIT_FAIL : rc < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	if (o.line_buf)
		setvbuf(stdout, NULL, _IOLBF, 0);
	exit_code = open_capture(&o, &c);
	if (exit_code != JCAP_EXIT_OK)
		return exit_code;
	stream = !o.quiet && o.fmt == JCAP_FMT_JSON && o.sort == SORT_NONE && !o.report;
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
	if (wait_done(c, &o, &col) < 0)
		exit_code = JCAP_EXIT_FAIL;
	if ((!stream || col.stream) && !o.quiet && print_collected(&col, &o, out) < 0)
		exit_code = JCAP_EXIT_FAIL;
	if (!o.quiet && isatty(STDERR_FILENO))
		jcap_summary(c, o.iface != NULL);
	exit_code = report(c, &o, stream && !col.stream, exit_code);
close_out:
	if (out != stdout)
		fclose(out);
	capture_destroy(c);
	free(col.fl.v);
	return exit_code;
}
