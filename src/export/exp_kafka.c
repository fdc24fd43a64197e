/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kafka producer export (librdkafka). format=json: one message per flow
 * record, the value the record's JSON line (capture_flow_to_json, the fields
 * of -F json). format=ipfix: one complete IPFIX message per Kafka message,
 * templates first (ipfix_msg.h, the ipfix:// exporter's templates and
 * options), one flow per message when keyed, as many as fit with key=none.
 * The key is one string per flow so that both directions and every record of
 * a flow land on one partition. librdkafka's queue is the bounded buffer:
 * live, a full queue drops and counts (the export thread never waits on the
 * network); from a file it waits for room, so a file's records all leave.
 * Each message carries its record count as its opaque, so that the counters
 * count records: records = delivered + failed + in_flight + buffer_drops.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "export/export.h"
#include "export/ipfix_msg.h"
#include "export/nf_common.h"
#include "util/compiler.h"
#include "util/log.h"

enum kafka_key {
	KEY_FLOW,
	KEY_COMMUNITY_ID,
	KEY_NONE
};

/* a full producer queue: auto waits for room when the input is a file */
enum on_full {
	FULL_AUTO,
	FULL_DROP,
	FULL_WAIT
};

struct kafka_settings {
	enum kafka_key key;
	bool ipfix; /* format=ipfix */
	enum on_full on_full;
	uint32_t flush_ms; /* how long close() waits for delivery */
	rd_kafka_conf_t *conf;
};

struct kafka_priv {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	enum kafka_key key;
	bool wait; /* a full queue: wait for room instead of dropping */
	uint32_t flush_ms;
	size_t msg_cap;		    /* format=ipfix: message bytes, within message.max.bytes */
	unsigned logged_fail;	    /* failures already logged (first few only) */
	bool quiet;		    /* stopping: one summary instead */
	struct pc_ipfix_msgs *msgs; /* format=ipfix; NULL: json */
	char value[CAPTURE_FLOW_JSON_MAX];
	uint8_t msg[NF_MAX_MTU]; /* format=ipfix: one message */
};

#define KAFKA_QUEUE_DEFAULT "100000" /* records waiting for the broker */
#define KAFKA_MSG_OVERHEAD 512	     /* batch and record headers, the key */

/* format=ipfix: IPFIX messages that stay within the producer's message.max.bytes */
static size_t ipfix_cap(rd_kafka_conf_t *conf)
{
	char v[32];
	size_t len = sizeof(v);
	unsigned long max = 0;

	if (rd_kafka_conf_get(conf, "message.max.bytes", v, &len) == RD_KAFKA_CONF_OK)
		max = strtoul(v, NULL, 10);
	if (max <= KAFKA_MSG_OVERHEAD)
		return 0;
	return PC_MIN(max - KAFKA_MSG_OVERHEAD, (unsigned long)NF_MAX_MTU);
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int setting(void *ctx, const char *k, const char *v, char *err, size_t errlen)
{
	struct kafka_settings *s = ctx;
	char why[512];

	if (!strncmp(k, "kafka.", 6)) {
		if (rd_kafka_conf_set(s->conf, k + 6, v, why, sizeof(why)) != RD_KAFKA_CONF_OK)
			return pc_errf(err, errlen, -CAPTURE_E_TARGET, "kafka setting %s: %s", k,
				       why);
		return 0;
	}
	if (!strcmp(k, "format")) {
		if (!strcmp(v, "json") || !strcmp(v, "ipfix")) {
			s->ipfix = !strcmp(v, "ipfix");
			return 0;
		}
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "kafka format '%s': use json or ipfix", v);
	}
	if (!strcmp(k, "key")) {
		if (!strcmp(v, "flow"))
			s->key = KEY_FLOW;
		else if (!strcmp(v, "community_id"))
			s->key = KEY_COMMUNITY_ID;
		else if (!strcmp(v, "none"))
			s->key = KEY_NONE;
		else
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "kafka key '%s': use flow, community_id or none", v);
		return 0;
	}
	if (!strcmp(k, "on_full")) {
		if (!strcmp(v, "drop") || !strcmp(v, "wait")) {
			s->on_full = !strcmp(v, "drop") ? FULL_DROP : FULL_WAIT;
			return 0;
		}
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "kafka on_full '%s': drop or wait",
			       v);
	}
	if (!strcmp(k, "flush_ms")) {
		if (parse_u32(v, 3600000, &s->flush_ms))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "kafka flush_ms '%s': milliseconds, 0..3600000", v);
		return 0;
	}
	return pc_errf(
		err, errlen, -CAPTURE_E_TARGET,
		"unknown kafka setting '%s' (format, key, flush_ms, on_full or kafka.PROPERTY)", k);
}

/* Parse t->props into @s with a new librdkafka configuration (ours first,
 * so a kafka.* setting overrides it). */
static int settings_parse(const struct pc_export_target *t, struct kafka_settings *s, char *err,
			  size_t errlen)
{
	static const char *const defaults[][2] = {
		{ "client.id", "jcap" },
		{ "queue.buffering.max.messages", KAFKA_QUEUE_DEFAULT },
		/* librdkafka logs from its own threads; the queue hands them to
		 * the export thread, which alone calls the user's log callback */
		{ "log.queue", "true" },
	};
	char why[512];
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	s->flush_ms = 10000;
	s->conf = rd_kafka_conf_new();
	if (!s->conf)
		return -ENOMEM;
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		rd_kafka_conf_set(s->conf, defaults[i][0], defaults[i][1], why, sizeof(why));
	if (rd_kafka_conf_set(s->conf, "bootstrap.servers", t->host, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(s->conf);
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: %s", t->spec, why);
	}
	rc = pc_export_props_each(t->props, setting, s, err, errlen);
	if (rc) {
		rd_kafka_conf_destroy(s->conf);
		s->conf = NULL;
	}
	return rc;
}

int pc_exp_kafka_check(const struct pc_export_target *t, char *err, size_t errlen)
{
	struct kafka_settings s;
	struct pc_ipfix_msgs *b = NULL;
	int rc = settings_parse(t, &s, err, errlen);

	if (rc)
		return rc;
	rd_kafka_conf_destroy(s.conf);
	/* the IPFIX exporter's rules for --fields and --ipfix-pen */
	if (s.ipfix)
		rc = pc_ipfix_msgs_create(&b, t, err, errlen);
	pc_ipfix_msgs_destroy(b);
	return rc;
}

/* Delivery report, on the export thread (rd_kafka_poll); the message's
 * opaque is the number of records it carries. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct pc_exporter *e = opaque;
	struct kafka_priv *k = e->priv;
	uint64_t n = (uintptr_t)m->_private;

	atomic_fetch_sub_explicit(&e->cnt.in_flight, n, memory_order_relaxed);
	if (!m->err) {
		atomic_fetch_add_explicit(&e->cnt.delivered, n, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&e->cnt.failed, n, memory_order_relaxed);
	if (k && !k->quiet && k->logged_fail++ < 3)
		pc_export_log(e, CAPTURE_LOG_WARN, "export %s: %s was not delivered: %s", e->target,
			      k->msgs ? "a message" : "a record", rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	struct pc_exporter *e = opaque;

	pc_export_log(e, CAPTURE_LOG_WARN, "export %s: %s", e->target, reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *msg)
{
	struct pc_exporter *e = rd_kafka_opaque(rk);

	/* syslog levels: 3 error, 4 warning, 6 info, 7 debug */
	pc_export_log(e,
		      level <= 3   ? CAPTURE_LOG_ERROR
		      : level <= 4 ? CAPTURE_LOG_WARN
		      : level <= 6 ? CAPTURE_LOG_INFO
				   : CAPTURE_LOG_DEBUG,
		      "export %s: librdkafka %s: %s", e->target, fac, msg);
}

/* @v in decimal at @p, then @sep; returns the end. */
static char *key_num(char *p, uint32_t v, char sep)
{
	char tmp[10];
	int i = 10;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(p, tmp + i, (size_t)(10 - i));
	p += 10 - i;
	*p++ = sep;
	return p;
}

/*
 * The flow's key: the same string for both directions and for every record
 * of the flow (the fields of the flow table's key, the sides in canonical
 * order). ICMP records of one host pair share one key: their type/code
 * differ between a request and its reply. Written by hand, not with
 * snprintf/inet_ntop: it is made for every record.
 */
#define FLOW_KEY_MAX (2 * PC_JSON_ADDR_MAX + 8 * 11)
_Static_assert(FLOW_KEY_MAX >= CAPTURE_COMMUNITY_ID_LEN, "a key buffer holds a Community ID");
static int flow_key(const struct capture_flow *f, char *out)
{
	int ip = f->ip_version == 6 ? 16 : 4, swap;
	bool icmp = f->proto == 1 || f->proto == 58;
	uint16_t pa = icmp ? 0 : f->src_port, pb = icmp ? 0 : f->dst_port;
	uint32_t tid = f->tunnel_type == CAPTURE_TUNNEL_GTPU ? 0 : f->tunnel_id;
	char *p = out;

	swap = memcmp(f->src_ip, f->dst_ip, (size_t)ip);
	if (!swap)
		swap = pa > pb;
	else
		swap = swap > 0;
	p = key_num(p, f->proto, '|');
	p += pc_json_addr(p, f->ip_version, swap ? f->dst_ip : f->src_ip);
	*p++ = '|';
	p = key_num(p, swap ? pb : pa, '|');
	p += pc_json_addr(p, f->ip_version, swap ? f->src_ip : f->dst_ip);
	*p++ = '|';
	p = key_num(p, swap ? pa : pb, '|');
	p = key_num(p, f->vlan, '|');
	p = key_num(p, f->tunnel_type, '|');
	p = key_num(p, tid, '|');
	p = key_num(p, f->interface, 0);
	return (int)(p - out - 1);
}

static int kafka_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		      size_t errlen)
{
	struct kafka_settings s;
	struct kafka_priv *k;
	char why[512];
	int rc = settings_parse(t, &s, err, errlen);

	if (rc)
		return rc;
	k = calloc(1, sizeof(*k));
	if (!k) {
		rd_kafka_conf_destroy(s.conf);
		return -ENOMEM;
	}
	if (s.ipfix) {
		rc = pc_ipfix_msgs_create(&k->msgs, t, err, errlen);
		if (rc) {
			rd_kafka_conf_destroy(s.conf);
			free(k);
			return rc;
		}
	}
	k->msg_cap = ipfix_cap(s.conf);
	k->key = s.key;
	k->wait = s.on_full == FULL_WAIT || (s.on_full == FULL_AUTO && t->offline);
	k->flush_ms = s.flush_ms;
	rd_kafka_conf_set_dr_msg_cb(s.conf, on_delivery);
	rd_kafka_conf_set_error_cb(s.conf, on_error);
	rd_kafka_conf_set_log_cb(s.conf, on_log);
	rd_kafka_conf_set_opaque(s.conf, e);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, s.conf, why, sizeof(why));
	if (!k->rk) {
		rd_kafka_conf_destroy(s.conf);
		pc_ipfix_msgs_destroy(k->msgs);
		free(k);
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: %s", t->spec, why);
	}
	/* s.conf belongs to the handle now */
	rd_kafka_set_log_queue(k->rk, NULL);
	k->rkt = rd_kafka_topic_new(k->rk, t->path, NULL);
	if (!k->rkt) {
		rc = pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: topic '%s': %s", t->spec, t->path,
			     rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(k->rk);
		pc_ipfix_msgs_destroy(k->msgs);
		free(k);
		return rc;
	}
	e->priv = k;
	return 0;
}

/* The message key of @f in @key (0: none). */
static int record_key(const struct kafka_priv *k, const struct capture_flow *f, char *key)
{
	if (k->key == KEY_FLOW)
		return flow_key(f, key);
	if (k->key == KEY_COMMUNITY_ID && !capture_flow_community_id(f, f->community_id_seed, key))
		return (int)strlen(key);
	return 0;
}

/* Hand one message of @nrec records to librdkafka; count them. */
static void produce(struct pc_exporter *e, struct kafka_priv *k, const void *val, size_t vlen,
		    const char *key, int klen, size_t nrec)
{
	rd_kafka_resp_err_t err;

	/* waiting ends: the queue empties as the broker acknowledges, or as
	 * records time out (message.timeout.ms) */
	for (;;) {
		if (!rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
				      (void *)val, vlen, klen > 0 ? key : NULL,
				      klen > 0 ? (size_t)klen : 0, (void *)(uintptr_t)nrec)) {
			atomic_fetch_add_explicit(&e->cnt.in_flight, nrec, memory_order_relaxed);
			atomic_fetch_add_explicit(&e->cnt.messages, 1, memory_order_relaxed);
			return;
		}
		err = rd_kafka_last_error();
		if (!k->wait || err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(k->rk, 10);
	}
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		atomic_fetch_add_explicit(&e->cnt.buffer_drops, nrec, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&e->cnt.failed, nrec, memory_order_relaxed);
}

static void produce_json(struct pc_exporter *e, struct kafka_priv *k, const struct capture_flow *f)
{
	char key[FLOW_KEY_MAX];
	int vlen = capture_flow_to_json(f, k->value, sizeof(k->value));

	if (vlen < 0) {
		atomic_fetch_add_explicit(&e->cnt.failed, 1, memory_order_relaxed);
		return;
	}
	produce(e, k, k->value, (size_t)vlen, key, record_key(k, f, key), 1);
}

/*
 * IPFIX messages with their templates: keyed, one flow each (its one or two
 * records), so that the key holds for every record of the message; key=none,
 * as many flows as a message holds.
 */
static void produce_ipfix(struct pc_exporter *e, struct kafka_priv *k,
			  const struct capture_flow *recs, size_t n)
{
	size_t i = 0, want, taken, len;
	char key[FLOW_KEY_MAX];

	while (i < n) {
		want = k->key == KEY_NONE ? n - i : 1;
		len = pc_ipfix_msgs_build(k->msgs, recs + i, want, &taken, k->msg, k->msg_cap,
					  pc_nf_now_ns());
		if (!len || !taken) {
			if (k->logged_fail++ < 3)
				pc_export_log(e, CAPTURE_LOG_WARN,
					      "export %s: kafka.message.max.bytes leaves no room "
					      "for the IPFIX templates and a record",
					      e->target);
			atomic_fetch_add_explicit(&e->cnt.failed, 1, memory_order_relaxed);
			i++;
			continue;
		}
		produce(e, k, k->msg, len, key, record_key(k, &recs[i], key), taken);
		i += taken;
	}
}

static int kafka_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct kafka_priv *k = e->priv;
	size_t i;

	atomic_fetch_add_explicit(&e->cnt.records, n, memory_order_relaxed);
	if (k->msgs)
		produce_ipfix(e, k, recs, n);
	else
		for (i = 0; i < n; i++)
			produce_json(e, k, &recs[i]);
	rd_kafka_poll(k->rk, 0); /* delivery reports, logs */
	return (int)n;
}

static int kafka_tick(struct pc_exporter *e, uint64_t now_ns)
{
	struct kafka_priv *k = e->priv;

	rd_kafka_poll(k->rk, 0);
	return 0;
}

/*
 * Wait up to flush_ms for the broker to take what is queued; then give up
 * on the rest (purged: each gets a failed delivery report) and say so.
 */
static void kafka_close(struct pc_exporter *e)
{
	struct kafka_priv *k = e->priv;
	uint64_t left;
	int i;

	if (!k)
		return;
	rd_kafka_flush(k->rk, (int)k->flush_ms);
	left = atomic_load_explicit(&e->cnt.in_flight, memory_order_relaxed);
	if (left) {
		k->quiet = true;
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		/* the purged records' reports come on the next polls */
		for (i = 0; i < 100 && atomic_load(&e->cnt.in_flight); i++)
			rd_kafka_poll(k->rk, 10);
		pc_export_log(e, CAPTURE_LOG_ERROR,
			      "export %s: %llu records not delivered within %u ms of the stop",
			      e->target, (unsigned long long)left, k->flush_ms);
	}
	rd_kafka_topic_destroy(k->rkt);
	rd_kafka_destroy(k->rk);
	pc_ipfix_msgs_destroy(k->msgs);
	/* reports that never came: undelivered all the same */
	left = atomic_exchange(&e->cnt.in_flight, 0);
	atomic_fetch_add(&e->cnt.failed, left);
	free(k);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_kafka_ops = {
	.name = "kafka",
	.open = kafka_open,
	.write = kafka_write,
	.tick = kafka_tick,
	.close = kafka_close,
};
