/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ClickHouse export over its HTTP interface (libcurl): records become
 * JSONEachRow lines (capture_flow_to_json, the fields of -F json), gathered
 * into batches of `batch` rows or `flush_ms`, which a sender thread of its
 * own inserts, retrying with backoff. The batches waiting form a bounded
 * buffer (`buffer_rows`): live, a batch over it is dropped and counted, so
 * neither the export thread nor the packet path ever waits on the server;
 * from a file the export thread waits for room (on_full=drop|wait decides).
 * Invariant: records = delivered + failed + in_flight + buffer_drops.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "export/export.h"
#include "util/clock.h"
#include "util/log.h"

#define CH_ROW_MAX CAPTURE_FLOW_JSON_MAX
/* Sent batches whose buffers are kept for the next ones: a batch of 100,000
 * rows is ~70 MB, unmapped at free() and faulted in again for the next batch
 * (docs/SCALING.md: 1.2 s of jcap's CPU on workload b) */
#define CH_SPARES 2

struct ch_settings {
	uint32_t batch, flush_ms, retries, buffer_rows, timeout_ms, stop_ms;
	bool create;
	int on_full; /* 0: auto (wait for a file), 1: drop, 2: wait */
	char user_file[1024];
};

struct ch_batch {
	struct ch_batch *next;
	char *buf;
	size_t len, cap;
	uint32_t rows;
	uint64_t started_ns; /* monotonic, first row */
};

struct ch_priv {
	struct pc_exporter *e;
	struct ch_settings s;
	char url[640];	   /* http://HOST:PORT/ */
	char insert[1024]; /* url + ?query=INSERT ... */
	char user[256], password[256];
	bool auth;
	struct ch_batch *cur; /* being filled by the export thread */
	/* the sender's queue */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t room; /* a batch left the queue */
	bool wait;	     /* over buffer_rows: wait for room instead of dropping */
	struct ch_batch *head, *tail;
	struct ch_batch *spare[CH_SPARES]; /* sent batches kept for reuse */
	unsigned nspare;
	uint64_t queued_rows;
	bool stop;
	uint64_t deadline_ns; /* monotonic; set with stop */
	char last_err[256];   /* the sender's latest failure, logged by tick */
	bool err_new;
	unsigned errs_logged;
};

/* The schema of --clickhouse-create: the fields of -F json, one typed column
 * each (a field a record lacks: the column's default), and the first
 * packet's second as a DateTime (18.16 has no DateTime64) for partitions. */
static const char ch_columns[] =
	"src_ip String, dst_ip String, src_port UInt16, dst_port UInt16, proto UInt8, "
	"ip_version UInt8, vlan UInt16, packets UInt64, bytes UInt64, rev_packets UInt64, "
	"rev_bytes UInt64, tcp_flags UInt8, rev_tcp_flags UInt8, first_ns UInt64, "
	"last_ns UInt64, icmp_type UInt8, icmp_code UInt8, end_reason String, worker UInt16, "
	"community_id String, interface UInt32, src_mac String, dst_mac String, "
	"vlan_inner UInt16, mpls_labels Array(UInt32), mpls_exp Array(UInt8), "
	"tunnel_type String, tunnel_id UInt32, rev_tunnel_id UInt32, outer_src_ip String, "
	"outer_dst_ip String, tos UInt8, dscp UInt8, min_ttl UInt8, max_ttl UInt8, "
	"rev_tos UInt8, rev_dscp UInt8, rev_min_ttl UInt8, rev_max_ttl UInt8, "
	"payload_bytes UInt64, rev_payload_bytes UInt64, conn_state String, history String, "
	"retrans_packets UInt32, retrans_bytes UInt64, rev_retrans_packets UInt32, "
	"rev_retrans_bytes UInt64, ooo_packets UInt32, rev_ooo_packets UInt32, zero_win UInt32, "
	"rev_zero_win UInt32, rtt_us UInt32, rtt_syn_us UInt32, app String, app_category String, "
	"app_id UInt16, app_master_id UInt16, dpi_confidence String, tls_sni String, "
	"tls_alpn String, tls_version UInt16, ja4 String, ja3 String, dns_qname String, "
	"dns_qtype UInt16, dns_rcode UInt8, dns_answers UInt16, http_method String, "
	"http_host String, http_url String, http_user_agent String, http_status UInt16, "
	"src_country String, dst_country String, src_asn UInt32, src_as_org String, "
	"dst_asn UInt32, dst_as_org String, "
	"time DateTime MATERIALIZED toDateTime(intDiv(first_ns, 1000000000))";

static int u32_in(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int setting(void *ctx, const char *k, const char *v, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
		uint32_t lo, hi;
	} nums[] = {
		{ "batch", offsetof(struct ch_settings, batch), 1, 1000000 },
		{ "flush_ms", offsetof(struct ch_settings, flush_ms), 10, 3600000 },
		{ "retries", offsetof(struct ch_settings, retries), 0, 100 },
		{ "buffer_rows", offsetof(struct ch_settings, buffer_rows), 1, 100000000 },
		{ "timeout_ms", offsetof(struct ch_settings, timeout_ms), 100, 3600000 },
		{ "stop_ms", offsetof(struct ch_settings, stop_ms), 0, 3600000 },
	};
	struct ch_settings *s = ctx;
	size_t i;

	if (!strncmp(k, "clickhouse.", 11))
		k += 11;
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(k, nums[i].name))
			continue;
		if (u32_in(v, nums[i].lo, nums[i].hi, (uint32_t *)((char *)s + nums[i].off)))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "clickhouse %s '%s': a number from %u to %u", k, v,
				       nums[i].lo, nums[i].hi);
		return 0;
	}
	if (!strcmp(k, "create")) {
		if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "false"))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "clickhouse create '%s': 1 or 0", v);
		s->create = !strcmp(v, "1") || !strcmp(v, "true");
		return 0;
	}
	if (!strcmp(k, "on_full")) {
		if (strcmp(v, "drop") && strcmp(v, "wait"))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "clickhouse on_full '%s': drop or wait", v);
		s->on_full = !strcmp(v, "drop") ? 1 : 2;
		return 0;
	}
	if (!strcmp(k, "user_file")) {
		if (!*v || strlen(v) >= sizeof(s->user_file))
			return pc_errf(err, errlen, -CAPTURE_E_TARGET,
				       "clickhouse user_file: want a path");
		memcpy(s->user_file, v, strlen(v) + 1);
		return 0;
	}
	return pc_errf(err, errlen, -CAPTURE_E_TARGET,
		       "unknown clickhouse setting '%s' (batch, flush_ms, retries, buffer_rows, "
		       "timeout_ms, stop_ms, create, on_full, user_file)",
		       k);
}

/* DB.TABLE, each a plain identifier: they go into SQL text. */
static bool table_name_ok(const char *p)
{
	const char *dot = strchr(p, '.');
	size_t i;

	if (!dot || dot == p || !dot[1] || strchr(dot + 1, '.'))
		return false;
	for (i = 0; p[i]; i++)
		if (p[i] != '.' && p[i] != '_' && !(p[i] >= '0' && p[i] <= '9') &&
		    !((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z'))
			return false;
	return !(p[0] >= '0' && p[0] <= '9') && !(dot[1] >= '0' && dot[1] <= '9');
}

static int settings_parse(const struct pc_export_target *t, struct ch_settings *s, char *err,
			  size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->batch = 100000; /* 18.16 took 23 us of server CPU a row in 10,000-row
			      inserts, 9.5 us in one of 206,000 (docs/SCALING.md) */
	s->flush_ms = 1000;
	s->retries = 3;
	s->buffer_rows = 200000;
	s->timeout_ms = 10000;
	s->stop_ms = 10000;
	if (!table_name_ok(t->path))
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "invalid export target '%s': want clickhouse://HOST:PORT/DB.TABLE "
			       "(letters, digits, '_')",
			       t->spec);
	return pc_export_props_each(t->props, setting, s, err, errlen);
}

int pc_exp_clickhouse_check(const struct pc_export_target *t, char *err, size_t errlen)
{
	struct ch_settings s;

	return settings_parse(t, &s, err, errlen);
}

/* "USER:PASSWORD" (or "USER") on the file's first line. */
static int read_user_file(struct ch_priv *c, char *err, size_t errlen)
{
	FILE *f = fopen(c->s.user_file, "re");
	char line[600], *colon;
	size_t n;

	if (!f)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "clickhouse user_file %s: %s",
			       c->s.user_file, strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = 0;
	colon = strchr(line, ':');
	if (colon)
		*colon = 0;
	if (!line[0] || strlen(line) >= sizeof(c->user) ||
	    (colon && strlen(colon + 1) >= sizeof(c->password)))
		return pc_errf(err, errlen, -CAPTURE_E_TARGET,
			       "clickhouse user_file %s: want USER:PASSWORD on the first line",
			       c->s.user_file);
	memcpy(c->user, line, strlen(line) + 1);
	if (colon)
		memcpy(c->password, colon + 1, strlen(colon + 1) + 1);
	c->auth = true;
	return 0;
}

struct reply {
	char text[256];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct reply *r = ctx;
	size_t n = size * nmemb, room = sizeof(r->text) - 1 - r->len;

	memcpy(r->text + r->len, p, n < room ? n : room);
	r->len += n < room ? n : room;
	r->text[r->len] = 0;
	return n;
}

/* POST @body to @url. 0, or -1 with the reason in @why. */
static int post(struct ch_priv *c, CURL *h, const char *url, const char *body, size_t len,
		long timeout_ms, char *why, size_t whylen)
{
	struct reply r = { .len = 0 };
	long code = 0;
	CURLcode rc;

	r.text[0] = 0;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	if (c->auth) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code == 200)
		return 0;
	r.text[strcspn(r.text, "\r\n")] = 0;
	snprintf(why, whylen, "HTTP %ld: %s", code, r.text);
	return -1;
}

static void note_error(struct ch_priv *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->last_err, sizeof(c->last_err), "%s", why);
	c->err_new = true;
	pthread_mutex_unlock(&c->lock);
}

/* Wait @ms or until stopped. Returns false when the stop deadline passed. */
static bool backoff(struct ch_priv *c, uint32_t ms)
{
	struct timespec ts;
	bool go_on;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	if (!c->stop)
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	go_on = !c->stop || pc_mono_ns() < c->deadline_ns;
	pthread_mutex_unlock(&c->lock);
	return go_on;
}

/* Insert one batch, retrying; true when the server took it. */
static bool send_batch(struct ch_priv *c, CURL *h, struct ch_batch *b)
{
	char why[256];
	uint32_t attempt;

	for (attempt = 0;; attempt++) {
		long tmo = c->s.timeout_ms;
		bool stopping;

		pthread_mutex_lock(&c->lock);
		stopping = c->stop;
		if (stopping) {
			uint64_t now = pc_mono_ns();

			tmo = now >= c->deadline_ns ? 0 : (long)((c->deadline_ns - now) / 1000000);
			if (tmo > (long)c->s.timeout_ms)
				tmo = c->s.timeout_ms;
		}
		pthread_mutex_unlock(&c->lock);
		if (stopping && tmo <= 0)
			return false;
		if (!post(c, h, c->insert, b->buf, b->len, tmo, why, sizeof(why)))
			return true;
		note_error(c, why);
		if (attempt >= c->s.retries)
			return false;
		atomic_fetch_add_explicit(&c->e->cnt.retries, 1, memory_order_relaxed);
		if (!backoff(c, attempt < 5 ? 100u << attempt : 2000u))
			return false;
	}
}

static void batch_free(struct ch_batch *b)
{
	if (b) {
		free(b->buf);
		free(b);
	}
}

/* A sent (or dropped) batch: kept for reuse while there is room, with its
 * buffer's pages. Called with c->lock held. */
static void batch_recycle(struct ch_priv *c, struct ch_batch *b)
{
	if (c->nspare < CH_SPARES) {
		b->next = NULL;
		b->len = 0;
		b->rows = 0;
		c->spare[c->nspare++] = b;
		return;
	}
	batch_free(b);
}

/* A batch to fill: a spare one, else a new one (NULL without memory). */
static struct ch_batch *batch_new(struct ch_priv *c)
{
	struct ch_batch *b = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nspare)
		b = c->spare[--c->nspare];
	pthread_mutex_unlock(&c->lock);
	if (!b)
		b = calloc(1, sizeof(*b));
	if (b)
		b->started_ns = pc_mono_ns();
	return b;
}

static void *sender_main(void *arg)
{
	struct ch_priv *c = arg;
	CURL *h = curl_easy_init();

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct ch_batch *b;
		bool ok;

		while (!c->head && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		b = c->head;
		if (!b)
			break; /* stopped, nothing left */
		c->head = b->next;
		if (!c->head)
			c->tail = NULL;
		pthread_mutex_unlock(&c->lock);
		ok = h && send_batch(c, h, b);
		atomic_fetch_add_explicit(ok ? &c->e->cnt.delivered : &c->e->cnt.failed, b->rows,
					  memory_order_relaxed);
		if (ok)
			atomic_fetch_add_explicit(&c->e->cnt.messages, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&c->e->cnt.errors, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&c->e->cnt.in_flight, b->rows, memory_order_relaxed);
		pthread_mutex_lock(&c->lock);
		c->queued_rows -= b->rows;
		pthread_cond_broadcast(&c->room);
		batch_recycle(c, b);
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

/* Hand the batch being filled to the sender, or drop it over the bound. */
static void enqueue(struct pc_exporter *e, struct ch_priv *c)
{
	struct ch_batch *b = c->cur;

	if (!b)
		return;
	c->cur = NULL;
	pthread_mutex_lock(&c->lock);
	/* an empty queue takes any batch: one larger than the bound still goes */
	while (c->wait && c->queued_rows && c->queued_rows + b->rows > c->s.buffer_rows)
		pthread_cond_wait(&c->room, &c->lock);
	if (c->queued_rows + b->rows > c->s.buffer_rows && c->queued_rows) {
		atomic_fetch_add_explicit(&e->cnt.buffer_drops, b->rows, memory_order_relaxed);
		atomic_fetch_sub_explicit(&e->cnt.in_flight, b->rows, memory_order_relaxed);
		batch_recycle(c, b);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (c->tail)
		c->tail->next = b;
	else
		c->head = b;
	c->tail = b;
	c->queued_rows += b->rows;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --clickhouse-create: the database and a MergeTree table, if absent. */
static int create_table(struct ch_priv *c, const char *table, char *err, size_t errlen)
{
	char sql[4096], db[256], why[256]; /* the columns: about 2300 bytes */
	CURL *h = curl_easy_init();
	size_t dl = (size_t)(strchr(table, '.') - table);
	int rc = 0;

	if (!h)
		return -ENOMEM;
	memcpy(db, table, dl);
	db[dl] = 0;
	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS %s", db);
	if (post(c, h, c->url, sql, strlen(sql), c->s.timeout_ms, why, sizeof(why)) == 0) {
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS %s (%s) ENGINE = MergeTree "
			 "PARTITION BY toDate(time) ORDER BY (time, src_ip, dst_ip)",
			 table, ch_columns);
		if (post(c, h, c->url, sql, strlen(sql), c->s.timeout_ms, why, sizeof(why)))
			rc = -1;
	} else {
		rc = -1;
	}
	curl_easy_cleanup(h);
	if (rc)
		return pc_errf(err, errlen, -CAPTURE_E_TARGET, "%s: cannot create %s: %s", c->url,
			       table, why);
	return 0;
}

static int ch_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		   size_t errlen)
{
	struct ch_priv *c = calloc(1, sizeof(*c));
	bool v6 = strchr(t->host, ':') != NULL;
	int rc;

	if (!c)
		return -ENOMEM;
	c->e = e;
	rc = settings_parse(t, &c->s, err, errlen);
	if (!rc && c->s.user_file[0])
		rc = read_user_file(c, err, errlen);
	if (rc)
		goto free_priv;
	pthread_once(&curl_once, curl_init_once);
	snprintf(c->url, sizeof(c->url), "http://%s%s%s:%u/", v6 ? "[" : "", t->host, v6 ? "]" : "",
		 t->port);
	snprintf(c->insert, sizeof(c->insert),
		 "%s?input_format_skip_unknown_fields=1&query=INSERT%%20INTO%%20%s"
		 "%%20FORMAT%%20JSONEachRow",
		 c->url, t->path);
	if (c->s.create) {
		rc = create_table(c, t->path, err, errlen);
		if (rc)
			goto free_priv;
	}
	pthread_mutex_init(&c->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&c->room, NULL);
	c->wait = c->s.on_full == 2 || (c->s.on_full == 0 && t->offline);
	rc = -pthread_create(&c->thread, NULL, sender_main, c);
	if (rc) {
		pthread_cond_destroy(&c->room);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		pc_errf(err, errlen, rc, "%s: cannot start the sender thread", t->spec);
		goto free_priv;
	}
	e->priv = c;
	return 0;
free_priv:
	free(c);
	return rc;
}

static int append_row(struct ch_batch *b, const struct capture_flow *f)
{
	int n;

	if (b->cap - b->len < CH_ROW_MAX) {
		size_t cap = b->cap ? b->cap * 2 : (size_t)256 * 1024;
		char *p = realloc(b->buf, cap);

		if (!p)
			return -ENOMEM;
		b->buf = p;
		b->cap = cap;
	}
	n = capture_flow_to_json(f, b->buf + b->len, CH_ROW_MAX - 1);
	if (n < 0)
		return n;
	b->buf[b->len + (size_t)n] = '\n';
	b->len += (size_t)n + 1;
	b->rows++;
	return 0;
}

static int ch_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct ch_priv *c = e->priv;
	size_t i;

	atomic_fetch_add_explicit(&e->cnt.records, n, memory_order_relaxed);
	for (i = 0; i < n; i++) {
		if (!c->cur)
			c->cur = batch_new(c);
		if (!c->cur || append_row(c->cur, &recs[i])) {
			atomic_fetch_add_explicit(&e->cnt.failed, 1, memory_order_relaxed);
			continue;
		}
		atomic_fetch_add_explicit(&e->cnt.in_flight, 1, memory_order_relaxed);
		if (c->cur->rows >= c->s.batch)
			enqueue(e, c);
	}
	return (int)n;
}

static int ch_tick(struct pc_exporter *e, uint64_t now_ns)
{
	struct ch_priv *c = e->priv;
	char why[256] = "";

	if (c->cur && pc_mono_ns() - c->cur->started_ns >= (uint64_t)c->s.flush_ms * 1000000)
		enqueue(e, c);
	pthread_mutex_lock(&c->lock);
	if (c->err_new) {
		c->err_new = false;
		memcpy(why, c->last_err, sizeof(why));
	}
	pthread_mutex_unlock(&c->lock);
	/* the first few failures, then quiet: the counters tell the rest */
	if (why[0] && c->errs_logged++ < 3)
		pc_export_log(e, CAPTURE_LOG_WARN, "export %s: insert failed: %s", e->target, why);
	return 0;
}

static int ch_flush(struct pc_exporter *e)
{
	enqueue(e, e->priv);
	return 0;
}

/* Send what is left within stop_ms; what is not sent by then is failed. */
static void ch_close(struct pc_exporter *e)
{
	struct ch_priv *c = e->priv;
	uint64_t failed;

	if (!c)
		return;
	enqueue(e, c);
	failed = atomic_load(&e->cnt.failed);
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	c->deadline_ns = pc_mono_ns() + (uint64_t)c->s.stop_ms * 1000000;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	failed = atomic_load(&e->cnt.failed) - failed;
	if (failed)
		pc_export_log(e, CAPTURE_LOG_ERROR,
			      "export %s: %llu records not inserted by the stop (last error: %s)",
			      e->target, (unsigned long long)failed, c->last_err);
	while (c->nspare)
		batch_free(c->spare[--c->nspare]);
	pthread_cond_destroy(&c->room);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_clickhouse_ops = {
	.name = "clickhouse",
	.open = ch_open,
	.write = ch_write,
	.tick = ch_tick,
	.flush = ch_flush,
	.close = ch_close,
};
