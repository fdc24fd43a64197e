/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap -r FILE | -i IFACE: the options of metering. One table, meter_opts,
 * makes both the option parsing and the --help list; jcap_meter_parse()
 * checks what the options mean together before anything is opened.
 */
#include <string.h>
#include <strings.h>

#include "jcap.h"

static const char *const sort_names[] = { "bytes", "packets", "duration", NULL };

static const char *const tstamp_names[] = { "kernel", "hardware", "ptp", "ntp", NULL };
static const char *const pcap_fmt_names[] = { "pcap", "pcapng", NULL };

static int push(const char **v, unsigned *n, const char *arg, const char *what)
{
	if (*n >= JCAP_METER_MAX_LIST) {
		jcap_err("at most %d %s", JCAP_METER_MAX_LIST, what);
		return -1;
	}
	v[(*n)++] = arg;
	return 0;
}

static int opt_export(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		      void *base)
{
	struct jcap_meter_opts *o = base;

	return push(o->exports, &o->nexports, arg, "exports");
}

/* --export-opt kafka.P=V / clickhouse.K=V: lines of xo.props */
static int opt_export_opt(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
			  void *base)
{
	struct jcap_meter_opts *o = base;
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
	static char specs[JCAP_METER_MAX_LIST][4200];
	struct jcap_meter_opts *o = base;

	if (o->nexports < JCAP_METER_MAX_LIST) {
		snprintf(specs[o->nexports], sizeof(specs[0]), "sqlite:%s", arg);
		arg = specs[o->nexports];
	}
	return opt_export(cmd, opt, arg, base);
}

static int opt_read(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		    void *base)
{
	return jcap_input_add(base, arg);
}

static int opt_verify(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		      void *base)
{
	struct jcap_meter_opts *o = base;

	return push(o->verify, &o->nverify, arg, "--verify artifacts");
}

/* The cipher names are the library's: capture_cipher_from_name/_name. */
static int opt_cipher(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		      void *base)
{
	const char *names[8] = { NULL };
	struct jcap_meter_opts *o = base;
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
	struct jcap_meter_opts *o = base;

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
	struct jcap_meter_opts *o = base;

	(void)cmd;
	(void)opt;
	if (jcap_parse_duration(arg, &o->interval_ns) < 0) {
		jcap_err("--interval: '%s' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)", arg);
		return -1;
	}
	return 0;
}

/* --by/--aggregate: one or the other, known keys. 0 or -1 after reporting. */
static int check_report(struct jcap_meter_opts *o)
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
	struct jcap_meter_opts *o = base;
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
#define F(member) JCAP_FIELD(struct jcap_meter_opts, member)

/* Every option, in the order of the help, whose option list is made from it. */
static const struct jcap_opt meter_opts[] = {
	JCAP_SECTION("Input:"),
	JCAP_FN('r', NULL, "FILE", F(rfile), opt_read,
		"read a pcap or pcapng file (- for stdin; encrypted: --key;\n"
		".gz/.zst/.lz4 read directly); repeat -r, or give a directory\n"
		"or a glob, to merge several in time order"),
	JCAP_STR('i', NULL, "IFACE", F(iface), "capture live on IFACE"),
	JCAP_STR('b', "backend", "NAME", F(backend),
		 "auto|dpdk|pcap|afpacket|afxdp|ebpf|file (default: auto live, file\n"
		 "offline)"),
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
	JCAP_STR(0, "ebpf-hook", "xdp|tc", F(ebpf_hook),
		 "-b ebpf: where the kernel program meters: xdp (default;\n"
		 "native where the driver has it, else generic) or tc (ingress)"),
	JCAP_UINT(0, "ebpf-map-flows", "N", F(ebpf_map_flows), 16, 16777216,
		  "-b ebpf: flows per kernel map, 16..16777216 (default 65536;\n"
		  "new flows beyond it are handed up and metered in user space)"),
	JCAP_FLAG(0, "ebpf-drop", F(ebpf_drop), true,
		  "-b ebpf: drop packets after metering (a dedicated capture port)"),
	JCAP_FN(0, "verify", "IMG:SIG:KEY", F(verify), opt_verify,
		"verify an artifact's signature before starting (repeatable)"),

	JCAP_SECTION("Flow metering:"),
	JCAP_UINT(0, "idle-timeout", "S", F(idle), 1, 86400 * 7,
		  "end a flow after S seconds without packets (default 30)"),
	JCAP_UINT(0, "active-timeout", "S", F(active), 1, 86400 * 7,
		  "split flows longer than S seconds (default 1800)"),
	JCAP_UINT(0, "table-size", "N", F(table), 4096, 16777216,
		  "flow slots, 4096..16777216 (default 1048576 reading files,\n"
		  "65536 live); when full the least recently seen flow is\n"
		  "evicted (end_reason evicted)"),
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
	JCAP_STR(0, "geoip-city", "FILE", F(geoip_city),
		 "MaxMind City or Country database: src_country, dst_country\n"
		 "(looked up once per flow when it ends)"),
	JCAP_STR(0, "geoip-asn", "FILE", F(geoip_asn),
		 "MaxMind ASN database: src_asn, dst_asn, src_as_org, dst_as_org"),
	JCAP_STR(0, "inspect", "LIST", F(inspect),
		 "what each flow's first packets are inspected for: all\n"
		 "(default), none, or names: dpi,tls,quic,dns,http,tcp"),
	JCAP_FLAG(0, "dpi", F(dpi), true,
		  "nDPI application identification (on by default where\n"
		  "compiled in: see jcap version)"),
	JCAP_FLAG(0, "no-dpi", F(no_dpi), true, "no nDPI (app, app_category)"),
	JCAP_UINT(0, "inspect-flows", "N", F(inspect_flows), 1, 16777216,
		  "flows inspected at a time per worker (default 65536;\n"
		  "more are left uninspected: inspect_pool_full)"),

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
	JCAP_FLAG(0, "wide", F(wide), true,
		  "table: every column at full width, with SNI and STATE"),
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
		"+tunnel,+ttl,+tos,+interface,+community_id,+app,+tcp,+payload,\n"
		"+geo, all (docs/EXPORT.md)"),
	JCAP_UINT(0, "ipfix-pen", "N", F(xo.ipfix_pen), 1, UINT32_MAX,
		  "enterprise number of jcap's own IPFIX elements (tunnel,\n"
		  "community_id, app, tcp, geo; model: docs/ipfix/jcap-elements.xml)"),
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

static const struct jcap_cmd meter_cmd = JCAP_CMD(NULL, meter_opts, jcap_meter_usage, false);

void jcap_meter_usage(FILE *fp)
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
		    "     (write or send errors; Kafka/ClickHouse records not delivered),\n"
		    "     named with what was lost\n"
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
static int trailing_filter(struct jcap_meter_opts *o, int argc, char **argv, int first, char *buf,
			   size_t len)
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

/* --inspect, --dpi, --no-dpi into o->inspect_off. */
static int check_inspect(struct jcap_meter_opts *o)
{
	if (o->inspect && capture_inspect_parse(o->inspect, &o->inspect_off) < 0) {
		jcap_err("--inspect: '%s': expected all, none or names separated by commas "
			 "(dpi, tls, quic, dns, http, tcp)",
			 o->inspect);
		return -1;
	}
	if (o->dpi && o->no_dpi) {
		jcap_err("--dpi and --no-dpi contradict each other");
		return -1;
	}
	if (o->no_dpi)
		o->inspect_off |= CAPTURE_INSPECT_DPI;
	if (o->dpi) {
		if (!capture_dpi_available(NULL, 0)) {
			jcap_err("--dpi: this build has no nDPI (libndpi-dev was missing)");
			return -1;
		}
		o->inspect_off &= ~(uint32_t)CAPTURE_INSPECT_DPI;
	}
	return 0;
}

/* Returns 1 to go on, 0 when the help was printed (or -V, -D done), -1
 * after a usage error. */
int jcap_meter_parse(int argc, char **argv, struct jcap_meter_opts *o)
{
	static char filter[8192];
	int rc;

	memset(o, 0, sizeof(*o));
	o->fmt = -1;
	o->sort = JCAP_SORT_NONE;
	o->progress = true;
	o->promisc = true;
	o->idle = 30;
	o->active = 1800;
	o->table = 0; /* the library's: 1048576 for files, 65536 live */
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
	if (o->interval_ns && (o->fmt != JCAP_FMT_JSON || o->report || o->sort != JCAP_SORT_NONE ||
			       o->top || o->quiet)) {
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
	if (o->top && o->sort == JCAP_SORT_NONE)
		o->sort = JCAP_SORT_BYTES;
	if (o->enc_key && !o->pcap_out) {
		jcap_err("--encrypt-key applies to --pcap-out, which is missing");
		return -1;
	}
	if (check_inspect(o) < 0)
		return -1;
	if (o->fmt < 0)
		o->fmt = o->wfile ? JCAP_FMT_JSON : jcap_default_format(stdout);
	return 1;
}

int jcap_meter_export_opt(struct jcap_meter_opts *o, const char *kv)
{
	return opt_export_opt(NULL, NULL, kv, o);
}
