/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd HTTP server: libmicrohttpd with its own epoll threads (a small pool).
 * Bodies are collected up to max_body_bytes; a larger one is answered 413 before
 * the connection is closed, whether announced by Content-Length or not.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "jcapd.h"

/* A chunked body over the limit is read and thrown away up to this, then cut. */
#define DISCARD_MAX (64u << 20)

static struct MHD_Daemon *daemon_h;

struct conn_ctx {
	char *buf;
	size_t len;
	size_t cap;
	bool answered; /* a response was queued early (413) */
	bool too_big;  /* chunked body over the limit: discard, answer 413 at the end */
	size_t discarded;
	/* a request handed to the slow pool: the connection is suspended meanwhile */
	struct MHD_Connection *conn;
	struct req rq;
	struct resp rs;
	bool deferred;
	bool ready;
	struct conn_ctx *next;
};

/*
 * Requests that may wait (for the session lock, a flow snapshot, a graceful stop,
 * a signature check) run on a small pool of their own while their connection is
 * suspended, so they never hold up the HTTP threads: counters and health stay
 * quick however long a stop or a flow scan takes.
 */
#define SLOW_THREADS 2

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn_ctx *head, *tail;
	pthread_t th[SLOW_THREADS];
	unsigned n_threads;
	bool stopping;
} slow = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static const char *const hdr_ct = "Content-Type";

static void add_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result queue_resp(struct MHD_Connection *conn, struct resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;
	size_t len;
	const char *ct;

	if (rs->json) {
		body = json_dumps(rs->json,
				  JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9));
		if (!body)
			return MHD_NO;
		len = strlen(body);
		/* a trailing newline makes curl output readable */
		{
			char *nb = realloc(body, len + 2);

			if (!nb) {
				free(body);
				return MHD_NO;
			}
			body = nb;
			body[len++] = '\n';
			body[len] = '\0';
		}
		ct = "application/json";
	} else {
		body = rs->text;
		len = rs->text_len;
		rs->text = NULL;
		ct = rs->content_type ? rs->content_type : "text/plain; charset=utf-8";
		if (!body) {
			body = strdup("");
			len = 0;
			if (!body)
				return MHD_NO;
		}
	}
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, hdr_ct, ct);
	add_common_headers(r);
	if (rs->allow)
		MHD_add_response_header(r, "Allow", rs->allow);
	if (rs->www_auth)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"jcapd\"");
	ret = MHD_queue_response(conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	routes_count_status(rs->status);
	return ret;
}

static void resp_free(struct resp *rs)
{
	json_decref(rs->json);
	rs->json = NULL;
	free(rs->text);
	rs->text = NULL;
}

static enum MHD_Result too_large(struct MHD_Connection *conn, struct conn_ctx *cc)
{
	struct resp rs = { 0 };
	enum MHD_Result ret;

	resp_error(&rs, 413, NULL, "request body larger than %zu bytes", g_opts.max_body_bytes);
	ret = queue_resp(conn, &rs);
	resp_free(&rs);
	free(cc->buf);
	cc->buf = NULL;
	cc->len = cc->cap = 0;
	cc->answered = true;
	return ret;
}

static void *slow_main(void *arg)
{
	struct conn_ctx *cc;

	pthread_mutex_lock(&slow.mu);
	for (;;) {
		while (!slow.head && !slow.stopping)
			pthread_cond_wait(&slow.cv, &slow.mu);
		cc = slow.head;
		if (!cc)
			break; /* stopping and nothing left */
		slow.head = cc->next;
		if (!slow.head)
			slow.tail = NULL;
		pthread_mutex_unlock(&slow.mu);
		routes_dispatch(&cc->rq, &cc->rs);
		cc->ready = true;
		MHD_resume_connection(cc->conn);
		pthread_mutex_lock(&slow.mu);
	}
	pthread_mutex_unlock(&slow.mu);
	return NULL;
}

/* Queue @cc for the pool and suspend its connection; false: run it inline. */
static bool defer(struct MHD_Connection *conn, struct conn_ctx *cc, const struct req *rq)
{
	bool queued = false;

	pthread_mutex_lock(&slow.mu);
	if (!slow.stopping && slow.n_threads) {
		cc->conn = conn;
		cc->rq = *rq;
		cc->deferred = true;
		cc->ready = false;
		cc->next = NULL;
		/* suspend before a pool thread can see it, so its resume never comes first */
		MHD_suspend_connection(conn);
		if (slow.tail)
			slow.tail->next = cc;
		else
			slow.head = cc;
		slow.tail = cc;
		pthread_cond_signal(&slow.cv);
		queued = true;
	}
	pthread_mutex_unlock(&slow.mu);
	return queued;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct conn_ctx *cc = *con_cls;
	struct req rq = { 0 };
	struct resp rs = { 0 };
	enum MHD_Result ret;

	if (!cc) {
		const char *cl;

		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno || end == cl || v > g_opts.max_body_bytes)
				return too_large(conn, cc);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (cc->answered)
			return MHD_YES;
		if (cc->too_big || n > g_opts.max_body_bytes - cc->len) {
			/*
			 * libmicrohttpd refuses a response queued in the middle of an
			 * upload, so read on (discarding, within a bound) and answer
			 * 413 once the body ends.
			 */
			free(cc->buf);
			cc->buf = NULL;
			cc->len = cc->cap = 0;
			cc->too_big = true;
			cc->discarded += n;
			if (cc->discarded > DISCARD_MAX)
				return MHD_NO;
			return MHD_YES;
		}
		if (cc->len + n + 1 > cc->cap) {
			size_t ncap = cc->len + n + 1;
			char *nb;

			if (ncap < 1024)
				ncap = 1024;
			nb = realloc(cc->buf, ncap);
			if (!nb)
				return MHD_NO;
			cc->buf = nb;
			cc->cap = ncap;
		}
		memcpy(cc->buf + cc->len, upload_data, n);
		cc->len += n;
		cc->buf[cc->len] = '\0';
		return MHD_YES;
	}
	if (cc->answered)
		return MHD_YES;
	if (cc->too_big)
		return too_large(conn, cc);
	if (cc->deferred) {
		/* resumed: the slow pool has the reply ready */
		if (!cc->ready)
			return MHD_YES;
		ret = queue_resp(conn, &cc->rs);
		resp_free(&cc->rs);
		cc->answered = true;
		return ret;
	}

	rq.method = method;
	rq.path = url;
	rq.auth_header =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	rq.content_type =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.body = cc->buf ? cc->buf : "";
	rq.body_len = cc->len;
	rq.conn = conn;
	if (routes_is_slow(method, url) && defer(conn, cc, &rq))
		return MHD_YES;
	routes_dispatch(&rq, &rs);
	ret = queue_resp(conn, &rs);
	resp_free(&rs);
	cc->answered = true;
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *cc = *con_cls;

	if (!cc)
		return;
	free(cc->buf);
	free(cc);
	*con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	jlog(CAPTURE_LOG_WARN, "http: %s", msg);
}

/* ------------------------------------------------------------ query args */

const char *http_query(const struct req *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct unknown_iter {
	const char *const *allowed;
	const char *bad;
	char seen[16][32];
	unsigned n_seen;
	bool dup;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct unknown_iter *it = cls;
	bool ok = false;

	for (const char *const *a = it->allowed; *a; a++)
		if (strcmp(*a, key) == 0)
			ok = true;
	if (!ok) {
		it->bad = key;
		return MHD_NO;
	}
	for (unsigned i = 0; i < it->n_seen; i++) {
		if (strcmp(it->seen[i], key) == 0) {
			it->bad = key;
			it->dup = true;
			return MHD_NO;
		}
	}
	if (it->n_seen < 16 && strlen(key) < sizeof(it->seen[0])) {
		memcpy(it->seen[it->n_seen], key, strlen(key) + 1);
		it->n_seen++;
	}
	return MHD_YES;
}

const char *http_query_unknown(const struct req *rq, const char *const *allowed)
{
	struct unknown_iter it = { .allowed = allowed };

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, check_arg, &it);
	return it.bad;
}

/* ------------------------------------------------------------ listen address */

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/* Parse "A.B.C.D:PORT", "[V6]:PORT" or ":PORT"/"PORT" (loopback). 0 or -EINVAL. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *port_s;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		port_s = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon) {
			memcpy(host, "127.0.0.1", 10);
			port_s = s;
		} else {
			if ((size_t)(colon - s) >= sizeof(host))
				return -EINVAL;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = '\0';
			if (!host[0])
				memcpy(host, "127.0.0.1", 10);
			else if (strcmp(host, "localhost") == 0)
				memcpy(host, "127.0.0.1", 10);
			port_s = colon + 1;
		}
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || end == port_s || *end || port > 65535)
		return -EINVAL;
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
	}
	return 0;
}

/* Let the pool finish what is queued; later slow requests run inline. */
static void stop_pool(void)
{
	unsigned i;

	pthread_mutex_lock(&slow.mu);
	slow.stopping = true;
	pthread_cond_broadcast(&slow.cv);
	pthread_mutex_unlock(&slow.mu);
	for (i = 0; i < slow.n_threads; i++)
		pthread_join(slow.th[i], NULL);
	slow.n_threads = 0;
}

int http_start(char *bound, size_t boundlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	char host[INET6_ADDRSTRLEN];
	uint16_t port;

	if (parse_listen(g_opts.listen, &ss) != 0) {
		jlog(CAPTURE_LOG_ERROR, "--listen %s: expected ADDR:PORT or [ADDR]:PORT",
		     g_opts.listen);
		return -EINVAL;
	}
	if (!is_loopback((struct sockaddr *)&ss) && !auth_have_token()) {
		jlog(CAPTURE_LOG_ERROR,
		     "refusing to listen on non-loopback %s without --token-file", g_opts.listen);
		return -EPERM;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	slow.stopping = false;
	for (slow.n_threads = 0; slow.n_threads < SLOW_THREADS; slow.n_threads++)
		if (pthread_create(&slow.th[slow.n_threads], NULL, slow_main, NULL) != 0)
			break;
	daemon_h = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger,
		NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)g_opts.http_threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)g_opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)g_opts.connection_timeout_sec, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		NULL, MHD_OPTION_END);
	if (!daemon_h) {
		jlog(CAPTURE_LOG_ERROR, "cannot listen on %s: %s", g_opts.listen,
		     strerror(errno ? errno : EADDRINUSE));
		stop_pool();
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(daemon_h, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : 0;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		snprintf(bound, boundlen, "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		snprintf(bound, boundlen, "%s:%u", host, port);
	}
	return 0;
}

void http_stop(void)
{
	/* every suspended connection is resumed by the pool before it exits */
	stop_pool();
	if (daemon_h)
		MHD_stop_daemon(daemon_h);
	daemon_h = NULL;
}
