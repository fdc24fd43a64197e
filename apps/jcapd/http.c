/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd HTTP server: libmicrohttpd with its own epoll threads (a small pool).
 * Bodies are collected up to max_body_bytes; a larger one is answered 413 before
 * the connection is closed, whether announced by Content-Length or not. Each
 * client address holds at most max_connections_per_ip connections, and a request
 * must arrive whole within request_timeout_sec, so idle or trickling sockets
 * cannot lock the operator out. With a certificate it serves HTTPS only (tls.c
 * hands libmicrohttpd the certificate per handshake); every reply that changed
 * something or refused a client goes to the audit trail (audit.c).
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
#include "tls.h"
#include "util/clock.h"

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

/* ------------------------------------------------------------ connections */

/*
 * libmicrohttpd's own timeout counts inactivity only, so a client sending a byte
 * a second keeps a connection forever. Every connection is tracked from accept to
 * close with a deadline for its current request (headers and body: from the accept,
 * or from the previous reply on a kept-alive connection); a reaper thread shuts
 * down the socket of a late one, and libmicrohttpd, seeing the end of the stream,
 * closes it. libmicrohttpd reports a connection closed (untracked here under
 * track.mu) before it closes the descriptor, so one the reaper sees under the lock
 * is never a number already reused by another file.
 */
struct conn_track {
	int fd;
	uint64_t deadline_ns; /* 0: no request being received (it is being served) */
	bool cut;	      /* shut down by the reaper */
	bool nul;	      /* the request's path or query decoded a NUL byte */
	bool loopback;	      /* the client's address is a loopback one */
	bool tls_checked;     /* tls_rc and subject hold the client certificate's verdict */
	int tls_rc;
	void *tls_ref; /* keeps the certificates this connection may use */
	char peer[INET6_ADDRSTRLEN];
	char subject[256]; /* client certificate's subject, "" without mutual TLS */
	struct conn_track *prev, *next;
};

/* a late request is cut within this of its deadline; 4 wake-ups a second cost nothing */
#define REAP_TICK_NS 250000000ull

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn_track *head;
	pthread_t th;
	bool running;
	bool stopping;
	uint64_t timeout_ns;
} track = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

static struct conn_track *track_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* (Re)arm the deadline of @conn's request; @on false: the request is all in. */
static void track_deadline(struct MHD_Connection *conn, bool on)
{
	struct conn_track *t = track_of(conn);

	if (!t)
		return;
	pthread_mutex_lock(&track.mu);
	t->deadline_ns = on ? pc_mono_ns() + track.timeout_ns : 0;
	pthread_mutex_unlock(&track.mu);
}

static void peer_name(struct MHD_Connection *conn, char *out, size_t len, bool *loopback)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, len, "?");
	*loopback = sa && config_addr_is_loopback(sa);
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)len);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct conn_track *t = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (!ci)
			return;
		t = calloc(1, sizeof(*t));
		if (!t) {
			/* no deadline could be kept: refuse rather than serve unbounded */
			shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		t->fd = ci->connect_fd;
		t->tls_ref = tls_conn_open();
		peer_name(conn, t->peer, sizeof(t->peer), &t->loopback);
		pthread_mutex_lock(&track.mu);
		t->deadline_ns = pc_mono_ns() + track.timeout_ns;
		t->next = track.head;
		if (track.head)
			track.head->prev = t;
		track.head = t;
		pthread_mutex_unlock(&track.mu);
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	pthread_mutex_lock(&track.mu);
	if (t->prev)
		t->prev->next = t->next;
	else
		track.head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&track.mu);
	tls_conn_close(t->tls_ref);
	free(t);
	*socket_context = NULL;
}

static void *reap_main(void *arg)
{
	struct timespec ts;
	uint64_t now, wake;
	char peer[INET6_ADDRSTRLEN];
	unsigned n;

	pthread_mutex_lock(&track.mu);
	while (!track.stopping) {
		wake = pc_mono_ns() + REAP_TICK_NS;
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		pthread_cond_timedwait(&track.cv, &track.mu, &ts);
		now = pc_mono_ns();
		n = 0;
		for (struct conn_track *t = track.head; t; t = t->next) {
			if (!t->deadline_ns || t->cut || now < t->deadline_ns)
				continue;
			shutdown(t->fd, SHUT_RDWR);
			t->cut = true;
			if (!n++)
				memcpy(peer, t->peer, sizeof(peer));
		}
		if (!n)
			continue;
		pthread_mutex_unlock(&track.mu);
		jlog(CAPTURE_LOG_INFO,
		     "http: closed %u connection(s) (first from %s): request not complete within "
		     "%u s",
		     n, peer, g_opts.request_timeout_sec);
		pthread_mutex_lock(&track.mu);
	}
	pthread_mutex_unlock(&track.mu);
	return NULL;
}

static int reap_start(void)
{
	pthread_condattr_t ca;
	int r;

	track.timeout_ns = (uint64_t)g_opts.request_timeout_sec * 1000000000ull;
	track.stopping = false;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&track.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (r)
		return -r;
	r = pthread_create(&track.th, NULL, reap_main, NULL);
	if (r) {
		pthread_cond_destroy(&track.cv);
		return -r;
	}
	track.running = true;
	return 0;
}

static void reap_stop(void)
{
	if (!track.running)
		return;
	pthread_mutex_lock(&track.mu);
	track.stopping = true;
	pthread_cond_signal(&track.cv);
	pthread_mutex_unlock(&track.mu);
	pthread_join(track.th, NULL);
	pthread_cond_destroy(&track.cv);
	track.running = false;
}

/*
 * The path and every query key and value are decoded here: libmicrohttpd's own
 * decoding, plus a note when a %00 made a NUL byte, which would cut the C string
 * the routes see (a path or a filter silently shortened).
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	size_t n = MHD_http_unescape(s);

	if (memchr(s, '\0', n)) {
		struct conn_track *t = track_of(conn);

		if (t)
			t->nul = true;
	}
	return n;
}

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

/* What a request is before its body: method, path and who the client is. */
static void req_init(struct req *rq, struct MHD_Connection *conn, const char *method,
		     const char *url)
{
	struct conn_track *t = track_of(conn);

	memset(rq, 0, sizeof(*rq));
	rq->method = method;
	rq->path = url;
	rq->conn = conn;
	rq->peer = t ? t->peer : "?";
	rq->peer_loopback = t && t->loopback;
	rq->tls_subject = t && t->subject[0] ? t->subject : NULL;
}

/* Queue @rs, audited when it changed something or was refused; frees @rs. */
static enum MHD_Result answer(struct MHD_Connection *conn, struct conn_ctx *cc,
			      const struct req *rq, struct resp *rs)
{
	enum MHD_Result ret = queue_resp(conn, rs);

	if (rs->audit || rs->status == 401 || rs->status == 403 ||
	    (rs->status == 413 && strcmp(rq->method, "GET") != 0))
		audit_request(rq, rs);
	resp_free(rs);
	cc->answered = true;
	return ret;
}

static enum MHD_Result too_large(struct MHD_Connection *conn, struct conn_ctx *cc,
				 const char *method, const char *url)
{
	struct resp rs = { 0 };
	struct req rq;
	enum MHD_Result ret;

	req_init(&rq, conn, method, url);
	resp_error(&rs, 413, NULL, "request body larger than %zu bytes", g_opts.max_body_bytes);
	ret = answer(conn, cc, &rq, &rs);
	free(cc->buf);
	cc->buf = NULL;
	cc->len = cc->cap = 0;
	return ret;
}

/*
 * Mutual TLS: the connection's client certificate, checked on its first request
 * (the handshake checked it too; this also covers a resumed session). 0 or 403.
 */
static int client_cert(struct MHD_Connection *conn)
{
	struct conn_track *t = track_of(conn);
	const union MHD_ConnectionInfo *ci;

	if (!tls_enabled() || !g_opts.tls_client_ca[0])
		return 0;
	if (!t)
		return 403;
	if (!t->tls_checked) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		t->tls_rc = ci ? tls_peer_subject(ci->tls_session, t->subject, sizeof(t->subject))
			       : -EACCES;
		t->tls_checked = true;
	}
	return t->tls_rc < 0 ? 403 : 0;
}

struct nul_iter {
	const char *key;
	bool in_key;
};

static enum MHD_Result find_nul(void *cls, enum MHD_ValueKind kind, const char *key,
				size_t key_size, const char *value, size_t value_size)
{
	struct nul_iter *it = cls;

	if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
		it->key = key;
		it->in_key = strlen(key) != key_size;
		return MHD_NO;
	}
	return MHD_YES;
}

/* 400 for a %00 in the path or the query (which one is named), answered at once. */
static enum MHD_Result reject_nul(struct MHD_Connection *conn, struct conn_ctx *cc)
{
	struct nul_iter it = { 0 };
	struct resp rs = { 0 };
	struct req rq;

	req_init(&rq, conn, "?", "?");
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, find_nul, &it);
	if (it.key && !it.in_key)
		resp_error(&rs, 400, it.key, "query parameter '%s' holds a NUL byte (%%00)",
			   it.key);
	else if (it.key)
		resp_error(&rs, 400, NULL, "a query parameter name holds a NUL byte (%%00)");
	else
		resp_error(&rs, 400, NULL, "the request path holds a NUL byte (%%00)");
	return answer(conn, cc, &rq, &rs);
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

	if (!cc) {
		struct conn_track *t = track_of(conn);
		const char *cl;
		bool nul = t && t->nul;

		if (t)
			t->nul = false; /* set again by the next request's decoding */
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		if (nul)
			return reject_nul(conn, cc);
		if (client_cert(conn)) {
			req_init(&rq, conn, method, url);
			resp_error(&rs, 403, NULL,
				   "a client certificate signed by tls_client_ca is required");
			return answer(conn, cc, &rq, &rs);
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno || end == cl || v > g_opts.max_body_bytes)
				return too_large(conn, cc, method, url);
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
	/* the request is all in: serving it (a graceful stop, a flow scan) has no deadline */
	track_deadline(conn, false);
	if (cc->answered)
		return MHD_YES;
	if (cc->too_big)
		return too_large(conn, cc, method, url);
	if (cc->deferred) {
		/* resumed: the slow pool has the reply ready */
		if (!cc->ready)
			return MHD_YES;
		return answer(conn, cc, &cc->rq, &cc->rs);
	}

	req_init(&rq, conn, method, url);
	rq.auth_header =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	rq.content_type =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.body = cc->buf ? cc->buf : "";
	rq.body_len = cc->len;
	if (routes_is_slow(method, url) && defer(conn, cc, &rq))
		return MHD_YES;
	routes_dispatch(&rq, &rs);
	return answer(conn, cc, &rq, &rs);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *cc = *con_cls;

	/* a kept-alive connection's next request must arrive in time too */
	track_deadline(conn, true);
	if (!cc)
		return;
	free(cc->buf);
	/*
	 * A deferred reply whose client left before it could be sent. The pool is
	 * done with @cc: it resumes the connection only after filling the reply.
	 */
	resp_free(&cc->rs);
	free(cc);
	*con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

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
	int r;

	if (config_parse_listen(g_opts.listen, &ss) != 0) {
		jlog(CAPTURE_LOG_ERROR, "--listen %s: expected ADDR:PORT or [ADDR]:PORT",
		     g_opts.listen);
		return -EINVAL;
	}
	if (!config_addr_is_loopback((struct sockaddr *)&ss) && !auth_have_token()) {
		jlog(CAPTURE_LOG_ERROR,
		     "refusing to listen on non-loopback %s without --token-file", g_opts.listen);
		return -EPERM;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls_enabled())
		flags |= MHD_USE_TLS;
	r = reap_start();
	if (r < 0) {
		jlog(CAPTURE_LOG_ERROR, "http: request deadline thread: %s", strerror(-r));
		return r;
	}
	slow.stopping = false;
	for (slow.n_threads = 0; slow.n_threads < SLOW_THREADS; slow.n_threads++)
		if (pthread_create(&slow.th[slow.n_threads], NULL, slow_main, NULL) != 0)
			break;
	daemon_h = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger,
		NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)g_opts.http_threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)g_opts.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)g_opts.max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)g_opts.connection_timeout_sec, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		/* the TLS options last: without TLS the list ends before them */
		tls_enabled() ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, tls_priorities(),
		MHD_OPTION_HTTPS_CERT_CALLBACK, &tls_retrieve_cert, MHD_OPTION_END);
	if (!daemon_h) {
		r = errno ? errno : EADDRINUSE;
		jlog(CAPTURE_LOG_ERROR, "cannot listen on %s: %s", g_opts.listen, strerror(r));
		stop_pool();
		reap_stop();
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
	/* after the daemon: every connection has been reported closed and untracked */
	reap_stop();
}
