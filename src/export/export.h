/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Exporter ops interface. Exporters run on the engine's export thread only:
 * no locking inside them. Records passed to write() live for the call.
 */
#ifndef PC_EXPORT_H
#define PC_EXPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"

enum pc_export_kind {
	PC_EXP_JSON = 0,
	PC_EXP_NETFLOW5,
	PC_EXP_NETFLOW9,
	PC_EXP_IPFIX, /* transport in nf.transport: UDP, TCP or FILE */
	PC_EXP_SQLITE,
	PC_EXP_KAFKA,
	PC_EXP_CLICKHOUSE,
};

/* A parsed target; strings are owned by the target (copied). */
struct pc_export_target {
	enum pc_export_kind kind;
	char spec[512]; /* the target as the user wrote it */
	char host[256]; /* UDP/TCP collector; Kafka: the bootstrap list */
	uint16_t port;
	char path[4096];		  /* json:, ipfix-file:, sqlite:; Kafka topic, DB.TABLE */
	struct capture_netflow_config nf; /* collector/path point into host/path */
	struct capture_export_opts opts;  /* opts.props: NULL, copied into props */
	/* Kafka, ClickHouse: "KEY=VALUE\n" lines, the target's query first, then
	 * opts.props lines of the exporter's prefix ("kafka.", "clickhouse.") */
	char props[4096];
	/* Set by the engine when it opens the exporter (not parsed): */
	bool offline;	      /* file input: UDP exports are paced by default */
	uint32_t sample_rate; /* the session samples 1 in N packets; 0/1: none */
	bool sample_random;
};

/* Counters an exporter keeps; read by other threads with relaxed loads. */
struct pc_export_counters {
	_Atomic uint64_t records;	 /* records accepted (after v5 IPv6 filtering) */
	_Atomic uint64_t messages;	 /* datagrams / messages / lines / rows */
	_Atomic uint64_t errors;	 /* failed sends or writes */
	_Atomic uint64_t not_exportable; /* e.g. IPv6 for NetFlow v5 */
	_Atomic uint64_t queue_drops;	 /* IPFIX/TCP: records over the outage bound */
	/* Kafka, ClickHouse: delivered + failed + in_flight + buffer_drops = records */
	_Atomic uint64_t delivered;    /* acknowledged */
	_Atomic uint64_t failed;       /* given up on */
	_Atomic uint64_t in_flight;    /* handed over, not yet acknowledged (gauge) */
	_Atomic uint64_t retries;      /* requests sent again */
	_Atomic uint64_t buffer_drops; /* full producer queue / insert buffer */
};

struct pc_exporter;

/* Engine statistics for options records (exporting process statistics). */
typedef void (*pc_export_stats_fn)(void *ctx, struct capture_stats *st);

struct pc_exporter_ops {
	const char *name;
	/* Set e->priv. @err gets a one-line message on failure. */
	int (*open)(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		    size_t errlen);
	/* Encode/send @n records. Returns n or a negative error (counted). */
	int (*write)(struct pc_exporter *e, const struct capture_flow *recs, size_t n);
	/* Called at least every 100 ms with the wall clock: template refresh,
	 * reconnects, flushing a partly filled message after a while. May be NULL. */
	int (*tick)(struct pc_exporter *e, uint64_t now_ns);
	/* Send/write everything buffered. May be NULL. */
	int (*flush)(struct pc_exporter *e);
	/* Flush and release; the file (if any) is complete and valid after. */
	void (*close)(struct pc_exporter *e);
};

struct pc_exporter {
	const struct pc_exporter_ops *ops;
	void *priv;
	struct pc_export_counters cnt;
	pc_export_stats_fn stats_fn; /* may be NULL */
	void *stats_ctx;
	capture_log_fn log_fn;
	void *log_ctx;
	int log_level;
	char target[512];
	bool closed; /* close op done; counters are final */
	struct pc_exporter *next;
};

/* Parse a target string (see capture_export_add). Returns 0 or
 * -CAPTURE_E_TARGET with a message naming the problem in @err. */
/* Prefix of the @i-th export target kind ("ipfix://", ...), NULL past the end. */
const char *pc_export_kind_name(size_t i);

int pc_export_parse(const char *spec, const struct capture_export_opts *opts,
		    struct pc_export_target *t, char *err, size_t errlen);
/* Fill a target from a capture_netflow_config. */
int pc_export_from_netflow(const struct capture_netflow_config *cfg, struct pc_export_target *t,
			   char *err, size_t errlen);

/* Call @fn for each "KEY=VALUE" line of @props (stops at its first error). */
int pc_export_props_each(const char *props,
			 int (*fn)(void *ctx, const char *key, const char *val, char *err,
				   size_t errlen),
			 void *ctx, char *err, size_t errlen);
/* An address as the JSON record writes it (dotted quad, RFC 5952 IPv6), NUL
 * terminated in @out; returns its length. exp_json.c. */
#define PC_JSON_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
size_t pc_json_addr(char out[PC_JSON_ADDR_MAX], int ver, const uint8_t *a);

/* Check a parsed kafka: / clickhouse: target's settings (at parse time, so a
 * front end learns of a bad setting before the session starts). */
int pc_exp_kafka_check(const struct pc_export_target *t, char *err, size_t errlen);
int pc_exp_clickhouse_check(const struct pc_export_target *t, char *err, size_t errlen);

/* Create and open an exporter for @t. */
int pc_exporter_create(struct pc_exporter **out, const struct pc_export_target *t,
		       capture_log_fn log_fn, void *log_ctx, int log_level,
		       pc_export_stats_fn stats_fn, void *stats_ctx, char *err, size_t errlen);
/* Flush and close (once); the counters stay readable until destroy. */
void pc_exporter_close(struct pc_exporter *e);
/* Close (if not yet) and free. NULL is a no-op. */
void pc_exporter_destroy(struct pc_exporter *e);

/* Log through the exporter's callback. */
void pc_export_log(struct pc_exporter *e, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

extern const struct pc_exporter_ops pc_exp_json_ops;
extern const struct pc_exporter_ops pc_exp_netflow5_ops;
extern const struct pc_exporter_ops pc_exp_netflow9_ops;
extern const struct pc_exporter_ops pc_exp_ipfix_ops;
extern const struct pc_exporter_ops pc_exp_sqlite_ops;
extern const struct pc_exporter_ops pc_exp_kafka_ops;
extern const struct pc_exporter_ops pc_exp_clickhouse_ops;

#endif
