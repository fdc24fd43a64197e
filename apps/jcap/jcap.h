/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap: shared helpers of the subcommands: option tables that drive both the
 * parsing and the help, one error reporter, number parsing, output formats.
 */
#ifndef JCAP_H
#define JCAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "packet_capture.h"

#define JCAP_EXIT_OK 0
#define JCAP_EXIT_FAIL 1
#define JCAP_EXIT_USAGE 2

#define JCAP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum jcap_format {
	JCAP_FMT_TABLE,
	JCAP_FMT_JSON,
	JCAP_FMT_CSV
};

/* "table", "json", "csv", indexed by enum jcap_format; NULL-terminated. */
extern const char *const jcap_format_names[];

/* Default format: a table on a terminal, JSON Lines otherwise. */
enum jcap_format jcap_default_format(FILE *fp);

/* How times appear in JSON and CSV: "ns" integers only (first_ns/last_ns),
 * or "iso" with ISO 8601 UTC start/end beside them. */
enum jcap_time_format {
	JCAP_TIME_NS,
	JCAP_TIME_ISO
};

/* "ns", "iso", indexed by enum jcap_time_format; NULL-terminated. */
extern const char *const jcap_time_format_names[];

/* How flows are printed. */
struct jcap_out {
	enum jcap_format fmt;
	enum jcap_time_format time_fmt;
	unsigned width; /* table: fit this many columns; 0: no limit */
	bool wide;	/* table: also SNI and STATE (--wide) */
};

/* The width a table on @fp should fit: $COLUMNS when set, else the
 * terminal's width, else 0 (no limit: a file or a pipe). */
unsigned jcap_term_width(FILE *fp);

/* Print @n flows (header first for table/csv). Returns 0 or -errno. */
int jcap_print_flows(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_format fmt);
int jcap_print_flows_out(FILE *fp, const struct capture_flow *f, size_t n,
			 const struct jcap_out *o);

/* The table of -F table, fitted to o->width (table.c). */
void jcap_print_table(FILE *fp, const struct capture_flow *f, size_t n, const struct jcap_out *o);

/* CSV columns of the transport health and application fields (output_l7.c):
 * the header's part (",payload_bytes,..."), a record's part, empty where
 * unknown. */
extern const char jcap_csv_l7_header[];
void jcap_csv_l7(FILE *fp, const struct capture_flow *f);
/* @s as a CSV value, quoted as RFC 4180 says where it must be. */
void jcap_csv_field(FILE *fp, const char *s);

/* The table's APP: nDPI's app, else TLS SNI, HTTP host, DNS name; or NULL. */
const char *jcap_flow_app(const struct capture_flow *f);

/* A jcap JSON line: the record, ISO "start"/"end", ",\"interim\":true", newline. */
#define JCAP_JSON_LINE (CAPTURE_FLOW_JSON_MAX + 128)

/* One flow as a JSON line with the newline, into @buf; "start"/"end" ISO
 * 8601 UTC added for JCAP_TIME_ISO. Returns the length, or -ENOSPC. */
int jcap_flow_json(const struct capture_flow *f, enum jcap_time_format tf, char *buf, size_t len);

/* @ns (Unix epoch) as ISO 8601 with milliseconds, UTC ("...Z") or local
 * time (no zone suffix) into @buf (at least 32 bytes). */
void jcap_iso_time(uint64_t ns, bool utc, char *buf, size_t len);

/* @v with K/M/G/T units (powers of 1000) from 100000 up, else exact. */
void jcap_units(uint64_t v, char *buf, size_t len);

/* "udp", "tcp", ... or the number. */
const char *jcap_proto_name(uint8_t p, char *buf, size_t len);

/* Flow records collected for printing at the end. */
struct jcap_flows {
	struct capture_flow *v;
	size_t n, cap;
};

/* Append @n records to @fl. Returns 0, or -ENOMEM leaving @fl as it was. */
int jcap_flows_add(struct jcap_flows *fl, const struct capture_flow *recs, size_t n);

/* Print @s as a quoted JSON string (escapes quotes, backslashes, controls). */
void jcap_json_str(FILE *fp, const char *s);

/* ---- errors: every message is one stderr line starting "jcap: " ---- */

/* Print "jcap: " + message + newline to stderr as one line. */
void jcap_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a library failure: @msg, the message the library left (may be
 * empty or NULL), or else what @rc means. */
void jcap_lib_err(const char *msg, int rc);

/* Parse an unsigned number in [min, max] for option @opt; prints the usage
 * error itself and returns -1 when it is not one. */
int jcap_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- option tables ---- */

struct jcap_cmd;
struct jcap_opt;

/* A custom option: store @arg under @base; report any error and return -1. */
typedef int jcap_opt_fn(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
			void *base);

enum jcap_opt_kind {
	JCAP_OPT_SECTION, /* no option: a heading in the help */
	JCAP_OPT_HELP,	  /* print the usage on stdout, exit 0 */
	JCAP_OPT_TRUE,	  /* bool field = true */
	JCAP_OPT_FALSE,	  /* bool field = false */
	JCAP_OPT_STR,	  /* const char * field = the argument */
	JCAP_OPT_UINT,	  /* unsigned field = a number in [min, max] */
	JCAP_OPT_ENUM,	  /* unsigned field = index of the argument in names */
	JCAP_OPT_FN,	  /* fn() handles it */
};

/* One option: how it is spelt, parsed, stored and listed in the help. */
struct jcap_opt {
	char letter;	   /* short option, or 0 */
	const char *name;  /* long name without "--", or NULL */
	const char *alias; /* another long name for the same option, or NULL */
	const char *arg;   /* argument name for the help; NULL: takes no argument */
	const char *help;  /* help text ("\n" continues it); NULL: not listed */
	enum jcap_opt_kind kind;
	size_t off, size;	  /* the field set, within the struct parsed into */
	uint64_t min, max;	  /* JCAP_OPT_UINT */
	const char *const *names; /* JCAP_OPT_ENUM: value names, NULL-terminated */
	const char *what;	  /* JCAP_OPT_ENUM: what a name names, for errors */
	jcap_opt_fn *fn;	  /* JCAP_OPT_FN */
};

/* .off and .size of @member of struct @type, for a struct jcap_opt. */
#define JCAP_FIELD(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

/*
 * Table entries. @l: short letter or 0; @n: long name or NULL; @a: argument
 * name; @fld: JCAP_FIELD(type, member); @h: help text, NULL: not listed.
 */
#define JCAP_SECTION(title)                               \
	{                                                 \
		.kind = JCAP_OPT_SECTION, .help = (title) \
	}
#define JCAP_HELP(l, n)                                           \
	{                                                         \
		.letter = (l), .name = (n), .kind = JCAP_OPT_HELP \
	}
#define JCAP_FLAG(l, n, fld, v, h)                                                             \
	{                                                                                      \
		.letter = (l), .name = (n), .kind = (v) ? JCAP_OPT_TRUE : JCAP_OPT_FALSE, fld, \
		.help = (h)                                                                    \
	}
#define JCAP_STR(l, n, a, fld, h)                                                              \
	{                                                                                      \
		.letter = (l), .name = (n), .arg = (a), .kind = JCAP_OPT_STR, fld, .help = (h) \
	}
#define JCAP_UINT(l, n, a, fld, lo, hi, h)                                                       \
	{                                                                                        \
		.letter = (l), .name = (n), .arg = (a), .kind = JCAP_OPT_UINT, fld, .min = (lo), \
		.max = (hi), .help = (h)                                                         \
	}
#define JCAP_ENUM(l, n, a, fld, nm, w, h)                                                          \
	{                                                                                          \
		.letter = (l), .name = (n), .arg = (a), .kind = JCAP_OPT_ENUM, fld, .names = (nm), \
		.what = (w), .help = (h)                                                           \
	}
#define JCAP_FN(l, n, a, fld, f, h)                                                          \
	{                                                                                    \
		.letter = (l), .name = (n), .arg = (a), .kind = JCAP_OPT_FN, fld, .fn = (f), \
		.help = (h)                                                                  \
	}

/* --sample N[:random] (opt_export.c) */
struct jcap_sample {
	uint32_t rate;
	bool random;
};

/* Option parsers of opt_export.c: --fields into a uint32_t, --export-rate into a
 * struct capture_export_opts, --sample into a struct jcap_sample. */
jcap_opt_fn jcap_opt_fields, jcap_opt_rate, jcap_opt_sample;

struct jcap_cmd {
	const char *name; /* subcommand; NULL for the top level (metering) */
	const struct jcap_opt *opts;
	size_t nopts;
	void (*usage)(FILE *fp);
	bool or_list; /* list names in errors as "a, b or c", not "a, b, c" */
};

/* A struct jcap_cmd for subcommand @nm (NULL: top level) with option table @tab. */
#define JCAP_CMD(nm, tab, use, orl)                                                         \
	{                                                                                   \
		.name = (nm), .opts = (tab), .nopts = JCAP_ARRAY_SIZE(tab), .usage = (use), \
		.or_list = (orl)                                                            \
	}

/*
 * Parse the options of @argv into the struct at @base as @cmd's table says.
 * Returns the index of the first operand (>= 1), 0 when the help was asked
 * for and printed, or -1 after reporting a usage error.
 */
int jcap_opts_parse(const struct jcap_cmd *cmd, int argc, char **argv, void *base);

/* --config FILE in @argv: a new argv with the file's options ("key = value"
 * lines) first and --config FILE taken out. 0 (unchanged when there is no
 * --config), or -1 after reporting "FILE:LINE: problem". */
int jcap_config_argv(const struct jcap_cmd *cmd, int *argc, char ***argv);

/* Print the option list of @cmd's help: sections, "  -x, --long ARG  help". */
void jcap_opts_help(FILE *fp, const struct jcap_cmd *cmd);

/* Report that @arg, a @what ("format") for @opt, is none of @names
 * (NULL-terminated). Returns -1. */
int jcap_opt_bad_name(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *what,
		      const char *arg, const char *const *names);

/* A malformed command line: "jcap: [CMD: ]message", then a subcommand's
 * usage on stderr. Returns JCAP_EXIT_USAGE. */
int jcap_usage_err(const struct jcap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- what a person sees on a terminal (status.c) ---- */

struct jcap_status {
	bool progress;	/* a file: the progress bar */
	bool live_line; /* live: the status line */
	bool shown;	/* something is on the line now */
	uint64_t t0, last_t, last_pkts;
};

void jcap_status_init(struct jcap_status *s, bool progress, bool live_line);
/* Redraw the bar or the status line (call every poll). */
void jcap_status_end(struct capture *c, struct jcap_status *s);
void jcap_status_tick(struct capture *c, struct jcap_status *s);
/* tcpdump's last line: "N packets captured, N dropped by kernel, N flows"
 * live, "N packets read, N flows" for a file. */
void jcap_summary(struct capture *c, bool live);

/* --interval: print the active flows of @c as interim JSON records on @fp
 * (under @lock, which the ended flows' printer holds too). 0, or -1 on a
 * write error. */
int jcap_interim_print(struct capture *c, FILE *fp, pthread_mutex_t *lock,
		       enum jcap_time_format tf);

/* -D: the interfaces, their state and the backends usable on each, on @fp.
 * Returns 0 or -1 after reporting. */
int jcap_list_interfaces(FILE *fp);

/* ---- reports on a flow store (report.c) ---- */

/* "flows", "packets", "bytes": enum capture_report_order; NULL-terminated. */
extern const char *const jcap_report_order_names[];

/* "300", "300s", "5m", "1h", "1d" (> 0) into ns. 0, or -1 if not one. */
int jcap_parse_duration(const char *s, uint64_t *ns);

/* Run @rep over @db's flows matching @q and print the rows. An exit code. */
int jcap_report(FILE *fp, const char *db, const struct capture_query *q,
		const struct capture_report *rep, enum jcap_format fmt);

/* Print report rows (KEYS as given to --by/--aggregate; @bin: rows have bins). */
void jcap_report_print(FILE *fp, const struct capture_report_row *v, size_t n, const char *keys,
		       bool bin, enum jcap_format fmt);

/* Check --by/--aggregate KEYS ("src_ip,dst_port") into indexes. 0, or -1
 * after reporting an unknown key or too many. */
int jcap_aggregate_keys(const char *spec, int *out, unsigned *n);

/* The same report over flow records in memory (jcap -r F --top N --by KEY),
 * ordered as the store's report orders its rows. Returns 0, or -1 after
 * reporting (a bad key: usage; out of memory). */
int jcap_aggregate_print(FILE *fp, const struct capture_flow *f, size_t n,
			 const struct capture_report *rep, enum jcap_format fmt);

/* Print a summary: the totals row @t, then @np rows by protocol. */
void jcap_summary_print(FILE *fp, const struct capture_report_row *t,
			const struct capture_report_row *p, size_t np, enum jcap_format fmt);

/* --summary of a run's records: what jcap_report_summary prints for a store
 * holding them. 0, or -1 after reporting. */
int jcap_aggregate_summary(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_format fmt);

/* --summary: totals, first/last time, flows by protocol. An exit code. */
int jcap_report_summary(FILE *fp, const char *db, const struct capture_query *q,
			enum jcap_format fmt);

/* ---- metering (jcap -r FILE | -i IFACE) ---- */

enum jcap_sort_key {
	JCAP_SORT_NONE = -1,
	JCAP_SORT_BYTES, /* indexes sort_names[] (meter_opts.c) and cmps[] */
	JCAP_SORT_PACKETS,
	JCAP_SORT_DURATION
};

#define JCAP_METER_MAX_LIST 16 /* --export/--store targets, --verify artifacts */

/* The metering options, as parsed (meter_opts.c). */
struct jcap_meter_opts {
	const char *rfile, *iface, *backend, *filter, *wfile, *user, *key;
	const char **rfiles; /* every input of -r (inputs.c): rfile is the first */
	unsigned nrfiles;
	const char *dpdk_eal;
	const char *ebpf_hook;	 /* --ebpf-hook */
	uint64_t ebpf_map_flows; /* --ebpf-map-flows */
	bool ebpf_drop;		 /* --ebpf-drop */
	const char *decap, *tunnel_ports;
	const char *geoip_city, *geoip_asn; /* --geoip-city, --geoip-asn */
	const char *inspect;		    /* --inspect LIST */
	bool dpi, no_dpi;		    /* --dpi, --no-dpi */
	uint32_t inspect_off;		    /* capture_flow_config.inspect_off */
	uint64_t inspect_flows;		    /* --inspect-flows */
	struct jcap_sample sample;	    /* --sample */
	int fmt;			    /* enum jcap_format; -1: not given */
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
	enum jcap_sort_key sort;
	uint64_t top, idle, active, table, workers, bufmb, duration, count, snaplen;
	uint64_t cid_seed; /* Community ID seed */
	int tstamp;
	const char *exports[JCAP_METER_MAX_LIST];
	unsigned nexports;
	const char *verify[JCAP_METER_MAX_LIST];
	unsigned nverify;
	struct capture_export_opts xo;
	char xprops[4096]; /* --export-opt lines (xo.props) */
	bool ch_create;
	const char *pcap_out, *pcap_filter, *enc_key;
	uint8_t pcap_fmt, cipher;
	uint64_t rot_mb, rot_sec, max_files;
};

/* -r ARG: a file, a directory's capture files or a glob's matches appended
 * to o->rfiles (inputs.c). 0, or -1 after the message. */
int jcap_input_add(struct jcap_meter_opts *o, const char *arg);

/* Parse and check the metering options into @o (meter_opts.c). Returns 1 to
 * go on, 0 when the help was printed (or -V, -D done), -1 after a usage
 * error, -2 when -V or -D failed. */
int jcap_meter_parse(int argc, char **argv, struct jcap_meter_opts *o);
/* The metering usage and option list. */
void jcap_meter_usage(FILE *fp);
/* Add one --export-opt KEY=VALUE line to @o. 0, or -1 after reporting. */
int jcap_meter_export_opt(struct jcap_meter_opts *o, const char *kv);

/* Flow metering, exports, packet storage, artifacts (meter_out.c). Returns
 * 0 or a library error; -EINVAL: reported here. */
int jcap_meter_setup(struct capture *c, struct jcap_meter_opts *o);
/* The JSON stream on stdout or -w FILE, as an export target (a static
 * buffer). */
const char *jcap_meter_stream_spec(const struct jcap_meter_opts *o);
/* The library's error for an output it could not open, as jcap's line. */
void jcap_meter_print_refusal(const struct jcap_meter_opts *o, const char *msg);
/* --stats, then one line when an output lost records. Returns
 * JCAP_EXIT_FAIL when records were lost, else @exit_code. */
int jcap_meter_report(struct capture *c, const struct jcap_meter_opts *o, bool stream,
		      int exit_code);

/* ---- commands ---- */

int jcap_cmd_meter(int argc, char **argv);
int jcap_cmd_backends(int argc, char **argv);
int jcap_cmd_decrypt(int argc, char **argv);
int jcap_cmd_verify_firmware(int argc, char **argv);
int jcap_cmd_query(int argc, char **argv);

/* jcap version, -V, --version: the versions and the backends with why
 * each is (un)available (main.c). An exit code. */
int jcap_print_version(FILE *fp);

/* "  jcap NAME  help" for every subcommand (main.c). */
void jcap_print_subcommands(FILE *fp);

#endif
