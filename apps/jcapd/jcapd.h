/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd internals: options, logging, access control, the capture session and the
 * HTTP request/response model shared by http.c (libmicrohttpd glue) and routes.c.
 * Everything here talks to the engine through include/packet_capture.h only.
 */
#ifndef JCAPD_H
#define JCAPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <jansson.h>

#include "packet_capture.h"

#define JCAPD_MAX_ALLOW_DIRS 16
#define JCAPD_MAX_EXPORTS 8
#define JCAPD_PATH_MAX 4096
#define JCAPD_EXPORT_PROPS 8192 /* export_opt lines, as jcap's --export-opt */

/* ---------------------------------------------------------------- options */

struct jcapd_opts {
	char listen[128]; /* ADDR:PORT or [V6ADDR]:PORT */
	char token_file[JCAPD_PATH_MAX];
	char *allow_dirs[JCAPD_MAX_ALLOW_DIRS];
	unsigned n_allow_dirs;
	bool use_syslog;
	int log_level; /* enum capture_log_level */
	size_t max_body_bytes;
	unsigned http_threads;
	uint32_t http_nice; /* added to the HTTP threads' nice value */
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned connection_timeout_sec;
	unsigned request_timeout_sec; /* headers and body complete within this */
	bool auth_reads;	      /* GET endpoints need the token too */
	bool flow_metering;	      /* meter flows in every session unless disabled */
	uint32_t table_size;
	uint32_t idle_timeout_sec;
	uint32_t active_timeout_sec;
	uint32_t ended_ring_size;
	uint32_t community_id_seed;	  /* Community ID v1 seed (0..65535) */
	char inspect[128];		  /* sessions' default "inspect" list */
	uint32_t inspect_flows;		  /* sessions' default "inspect_flows" (0: 65536) */
	uint32_t ebpf_map_flows;	  /* sessions' default "ebpf_map_flows" (0: 65536) */
	char geoip_city[JCAPD_PATH_MAX];  /* sessions' default "geoip_city" ("" = none) */
	char geoip_asn[JCAPD_PATH_MAX];	  /* sessions' default "geoip_asn" */
	uint32_t rate_window_sec;	  /* pps/bps window */
	size_t flows_scan_max;		  /* most flows one /flows request copies */
	char capture_user[64];		  /* drop privileges after open, "" = keep */
	char *exports[JCAPD_MAX_EXPORTS]; /* capture_export_add targets */
	unsigned n_exports;
	/* export_opt lines, "KEY=VALUE\n" each: may hold secrets, never logged */
	char export_props[JCAPD_EXPORT_PROPS];
	char tls_cert[JCAPD_PATH_MAX];	    /* PEM chain, server first: HTTPS */
	char tls_key[JCAPD_PATH_MAX];	    /* PEM private key of tls_cert */
	char tls_client_ca[JCAPD_PATH_MAX]; /* PEM CAs: mutual TLS, "" = off */
	char tls_priorities[512];	    /* GnuTLS priority string */
	bool insecure_http;		    /* clear text on a non-loopback address */
	char audit_log[JCAPD_PATH_MAX];	    /* FILE or "syslog", "" = off */
	int metrics_auth;		    /* enum metrics_auth */
};

/* Who may read the Prometheus /metrics. */
enum metrics_auth {
	METRICS_AUTH_DEFAULT,  /* as the other reads: token only with auth_reads */
	METRICS_AUTH_TOKEN,    /* a read-scoped token, from anywhere */
	METRICS_AUTH_LOOPBACK, /* no token from a loopback address, a token otherwise */
	METRICS_AUTH_OPEN,     /* no token */
};

#define JCAPD_TLS_PRIORITIES_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

extern struct jcapd_opts g_opts;

/* ---------------------------------------------------------------- config.c */

/* No exit, no global state, no output but config_usage's: a fuzz harness may call these. */

extern const char *const config_level_names[4];

/* The defaults into @o (what it held is overwritten, not freed). */
void config_init(struct jcapd_opts *o);
/* Free the repeatable lists config_set built; @o stays usable. */
void config_release(struct jcapd_opts *o);
/*
 * Read the key = value file @file into @o, over what it holds. 0, or a negative
 * errno with "FILE:LINE: problem" (or "FILE: why" when it cannot be read) in @err.
 */
int config_load(struct jcapd_opts *o, const char *file, char *err, size_t errlen);
/*
 * Set key @name from the text @v, checked whole (type, range, listen address,
 * export target syntax, user). 0, -ENOENT (unknown key), -EINVAL or -ENOMEM
 * with "KEY: problem" in @err.
 */
int config_set(struct jcapd_opts *o, const char *name, const char *v, char *err, size_t errlen);
/* What no single key shows (flow idle timeout above the active one). 0 or -EINVAL. */
int config_check(const struct jcapd_opts *o, char *err, size_t errlen);
/*
 * The transport the options ask for: tls_cert and tls_key together, tls_client_ca
 * only with them, clear text on a non-loopback address only with insecure_http.
 * 0 or -EINVAL with one line in @err.
 */
int config_check_transport(const struct jcapd_opts *o, char *err, size_t errlen);
bool config_addr_is_loopback(const struct sockaddr *sa);
bool config_key_is_bool(const char *name);
void config_usage(FILE *out);
/* "A.B.C.D:PORT", "[V6]:PORT", ":PORT" or "PORT" (loopback). 0 or -EINVAL. */
int config_parse_listen(const char *s, struct sockaddr_storage *ss);

/* ---------------------------------------------------------------- logging */

void jlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jlog_engine(void *ctx, int level, const char *msg);

/* ---------------------------------------------------------------- auth.c */

/* What a token may do; each scope includes the ones before it. */
enum auth_scope {
	SCOPE_NONE,    /* open endpoint: no token needed */
	SCOPE_READ,    /* the GET endpoints */
	SCOPE_CONTROL, /* start, stop, the enable endpoints */
	SCOPE_ADMIN,   /* everything, firmware verification included */
};

extern const char *const auth_scope_names[4];

/*
 * Load (or reload) the token file: one token a line, "SCOPE TOKEN" or a bare
 * TOKEN (admin); blank lines and '#' comments skipped. All or nothing: 0 or
 * -errno with why in @msg (the old tokens stay).
 */
int auth_load_token(const char *file, char *msg, size_t msglen);
bool auth_have_token(void);

/* Who presented a token: filled by auth_check, printed in audit lines. */
struct auth_who {
	int scope;   /* enum auth_scope; SCOPE_NONE: no valid token */
	char id[24]; /* "L3:1a2b3c4d": token file line and hash prefix, "" if none */
};

/*
 * @header: the Authorization header or NULL. Compares with every token in
 * constant time. Returns 0 (valid token, or no token file at all: @who's scope
 * is admin), 401 (none) or 403 (no such token).
 */
int auth_check(const char *header, struct auth_who *who);
void auth_release(void);

/* Add an allowed directory (resolved with realpath now). 0 or -errno. */
int paths_allow_dir(const char *dir);
/*
 * Resolve @path and check it lies inside an allowed directory. @must_exist:
 * an input file; otherwise an output whose parent directory must exist.
 * Returns 0 with @out filled, -EACCES (outside: 403), or -errno (400).
 */
int paths_confine(const char *path, bool must_exist, char *out, size_t outlen);

/* ---------------------------------------------------------------- requests */

struct req {
	const char *method;
	const char *path;
	const char *auth_header;
	const char *content_type;
	const char *body;
	size_t body_len;
	void *conn;		 /* MHD connection, for query arguments */
	const char *peer;	 /* client address text */
	bool peer_loopback;	 /* the client address is a loopback one */
	const char *tls_subject; /* verified client certificate's subject, or NULL */
};

struct resp {
	int status;
	json_t *json; /* owned; serialised by http.c */
	char *text;   /* owned malloc'd body when json is NULL */
	size_t text_len;
	const char *content_type; /* for text */
	const char *allow;	  /* Allow header for 405 */
	bool www_auth;		  /* add WWW-Authenticate: Bearer */
	bool audit;		  /* write an audit line (mutating or refused) */
	struct auth_who who;	  /* the token that made the request, for the audit */
};

/* Query argument lookup: NULL if absent. Duplicates are reported by http_query_dups. */
const char *http_query(const struct req *rq, const char *key);
/* First query key not in the NULL-terminated @allowed list, or NULL. */
const char *http_query_unknown(const struct req *rq, const char *const *allowed);

/* Set an error reply {"error": msg, "field": field}. Returns @status. */
int resp_error(struct resp *rs, int status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Set a JSON reply: 200 with @o (owned by @rs from here), or 500 when @o is NULL (no
 * memory). Returns the status. */
int resp_json(struct resp *rs, json_t *o);
/* Set a 200 reply of @len bytes of malloc'd @text (owned by @rs from here). Returns 200. */
int resp_text(struct resp *rs, char *text, size_t len, const char *content_type);

void routes_dispatch(const struct req *rq, struct resp *rs);
/* index of @s in the NULL-terminated @names, or -1 */
int routes_find_name(const char *const *names, const char *s);
/* GET .../flows (routes_flows.c) */
int routes_h_flows(const struct req *rq, const json_t *body, struct resp *rs);
/* Requests that may wait on the session: served off the HTTP threads. */
bool routes_is_slow(const char *method, const char *path);
void routes_count_status(int status);
/* The daemon's reply counters by status (code 0: any other). Returns entries. */
size_t routes_status_counts(int *codes, uint64_t *counts, size_t max);

int http_start(char *bound, size_t boundlen);
void http_stop(void);

/* ---------------------------------------------------------------- tls.c */

/* (tls.h: what needs GnuTLS's types) */
bool tls_enabled(void);

/* ---------------------------------------------------------------- audit.c */

/* Open the audit sink named by g_opts.audit_log. 0 or -errno with why in @msg. */
int audit_open(char *msg, size_t msglen);
/* Reopen a file sink (log rotation, on SIGHUP). */
void audit_reopen(void);
/* One line for request @rq answered @rs. */
void audit_request(const struct req *rq, const struct resp *rs);
/* One line for a TLS client refused during the handshake. */
void audit_tls_refused(const char *peer, const char *subject, const char *why);
void audit_close(void);

extern const char jcapd_openapi_json[];

/* ---------------------------------------------------------------- session */

/* The session_*.c files (what they share among themselves is in session.h). */

#define JCAPD_MAX_FILES 64 /* "pcap_files": inputs merged in time order */

struct start_req {
	char interface[64];
	char pcap_file[JCAPD_PATH_MAX];
	char pcap_files[JCAPD_MAX_FILES][JCAPD_PATH_MAX];
	const char *pcap_file_list[JCAPD_MAX_FILES]; /* cfg.pcap_files: into pcap_files */
	uint32_t npcap_files;
	char backend[16];
	char filter[4096];
	bool has_filter;
	uint32_t buffer_size_mb;
	uint32_t workers;
	uint32_t snaplen;
	bool promiscuous;
	int tstamp;
	uint32_t duration_sec;
	uint64_t max_packets;
	char decrypt_key_file[JCAPD_PATH_MAX];
	bool has_pcap_out;
	char pcap_out_dir[JCAPD_PATH_MAX];
	struct capture_pcap_out_config pcap_out;
	char pcap_out_filter[1024];
	/* checked by routes.c: no code loading, no file outside the confinement */
	char dpdk_eal[1024];
	char ebpf_hook[8];	 /* "ebpf_hook": "" (xdp), "xdp" or "tc" */
	uint32_t ebpf_map_flows; /* "ebpf_map_flows" (0: the config file's, else 65536) */
	bool ebpf_drop;		 /* "ebpf_drop" */
	uint32_t decap_off;	 /* "decap": capture_decap_parse() */
	uint32_t inspect_off;	 /* "inspect": capture_inspect_parse() */
	uint32_t inspect_flows;	 /* "inspect_flows" */
	char tunnel_ports[256];
	char geoip_city[JCAPD_PATH_MAX]; /* "" or confined (or the config file's) */
	char geoip_asn[JCAPD_PATH_MAX];
	/* "sample", "sample_random"; "fields", "ipfix_pen", "export_rate" and
	 * "sample_scale" for the config file's export targets */
	uint32_t sample_rate;
	bool sample_random;
	struct capture_export_opts xo;
};

struct netflow_req {
	struct capture_netflow_config cfg;
	char collector[256];
	char path[JCAPD_PATH_MAX];
};

struct crypt_req {
	struct capture_encryption_config cfg;
	char key_file[JCAPD_PATH_MAX];
};

int session_init(void);
void session_release(void);

/* Each returns an HTTP status and fills @rs (body or error). */
int session_start(const struct start_req *sr, struct resp *rs);
int session_stop(bool graceful, struct resp *rs);
int session_status(struct resp *rs);
int session_metrics(struct resp *rs);
int session_prometheus(struct resp *rs);
int session_flow_enable(const struct capture_flow_config *fc, struct resp *rs);
int session_netflow_enable(const struct netflow_req *nr, struct resp *rs);
int session_encryption_enable(const struct crypt_req *cr, struct resp *rs);

struct flow_query {
	uint64_t limit; /* 0: all */
	int sort;	/* FLOW_SORT_* */
	bool all;	/* active + recently ended */
	bool has_ip;
	uint8_t ip_version;
	uint8_t ip[16];
	unsigned prefix;
	int32_t port;		  /* -1: any */
	int32_t proto;		  /* -1: any */
	const char *community_id; /* NULL: any */
	bool has_tunnel_id, has_mac;
	uint32_t tunnel_id; /* tunnel_id or rev_tunnel_id */
	uint8_t mac[6];	    /* src_mac or dst_mac */
	/* application fields: glob patterns as jcap query's (app case-sensitive,
	 * sni and dns_name ignoring case); country upper case; NULL/"": any */
	const char *app, *sni, *dns_name;
	char country[3];
	bool has_asn;
	uint32_t asn; /* src_asn or dst_asn */
};

enum {
	FLOW_SORT_BYTES,
	FLOW_SORT_PACKETS,
	FLOW_SORT_DURATION,
	FLOW_SORT_LAST_SEEN
};

int session_flows(const struct flow_query *q, struct resp *rs);

/* Graceful stop at shutdown; idempotent. */
void session_shutdown(void);
const char *session_state_name(void);
/* Number of the latest session started since the daemon did (0: none yet). */
uint64_t session_serial(void);

#endif /* JCAPD_H */
