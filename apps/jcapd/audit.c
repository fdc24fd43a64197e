/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd audit trail: one line per mutating request (every POST, and firmware
 * verification) and per refused one (401, 403, a client certificate refused in
 * the handshake), to a file (appended with one write per line, reopened on
 * SIGHUP for rotation) or to syslog (authpriv). A line names the token by its
 * id, never its text; every client-chosen string is escaped, so no request can
 * forge or split a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "jcapd.h"

#define LINE_MAX_BYTES 2048

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;
static bool audit_syslog;

static bool audit_on(void)
{
	return g_opts.audit_log[0] != '\0';
}

static int open_file(char *msg, size_t msglen)
{
	int fd = open(g_opts.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		int err = errno;

		snprintf(msg, msglen, "%s: %s", g_opts.audit_log, strerror(err));
		return -err;
	}
	return fd;
}

int audit_open(char *msg, size_t msglen)
{
	int fd;

	if (!audit_on())
		return 0;
	if (strcmp(g_opts.audit_log, "syslog") == 0) {
		audit_syslog = true;
		return 0;
	}
	if (g_opts.audit_log[0] != '/') {
		snprintf(msg, msglen, "'%s': expected an absolute path or syslog",
			 g_opts.audit_log);
		return -EINVAL;
	}
	fd = open_file(msg, msglen);
	if (fd < 0)
		return fd;
	audit_fd = fd;
	return 0;
}

void audit_reopen(void)
{
	char msg[JCAPD_PATH_MAX + 64];
	int fd, old;

	if (audit_fd < 0)
		return;
	fd = open_file(msg, sizeof(msg));
	if (fd < 0) {
		jlog(CAPTURE_LOG_ERROR, "SIGHUP: audit log not reopened: %s", msg);
		return;
	}
	pthread_mutex_lock(&audit_lock);
	old = audit_fd;
	audit_fd = fd;
	pthread_mutex_unlock(&audit_lock);
	close(old);
}

void audit_close(void)
{
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = -1;
	audit_syslog = false;
}

/* @s quoted, with '"', '\\', spaces' kin and every byte outside printable ASCII as %XX */
static size_t put_quoted(char *out, size_t size, size_t at, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (at + 1 < size)
		out[at++] = '"';
	for (; s && *s && at + 4 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '%') {
			out[at++] = '%';
			out[at++] = hex[ch >> 4];
			out[at++] = hex[ch & 15];
		} else {
			out[at++] = (char)ch;
		}
	}
	if (at + 1 < size)
		out[at++] = '"';
	out[at] = '\0';
	return at;
}

static size_t put(char *out, size_t size, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t put(char *out, size_t size, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at >= size)
		return at;
	va_start(ap, fmt);
	n = vsnprintf(out + at, size - at, fmt, ap);
	va_end(ap);
	if (n < 0)
		return at;
	return at + (size_t)n >= size ? size - 1 : at + (size_t)n;
}

/* "audit time=... client=ADDR subject=\"...\"" */
static size_t head(char *out, size_t size, const char *peer, const char *subject)
{
	struct timespec ts;
	struct tm tm;
	size_t at;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	at = put(out, size, 0,
		 "audit time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ client=", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	at = put_quoted(out, size, at, peer ? peer : "?");
	at = put(out, size, at, " subject=");
	return put_quoted(out, size, at, subject ? subject : "");
}

static void emit(char *line, size_t len)
{
	if (audit_syslog) {
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
		return;
	}
	line[len++] = '\n';
	pthread_mutex_lock(&audit_lock);
	/* one write per line: O_APPEND keeps concurrent lines whole */
	if (audit_fd >= 0 && write(audit_fd, line, len) != (ssize_t)len)
		jlog(CAPTURE_LOG_ERROR, "audit log %s: %s", g_opts.audit_log,
		     errno ? strerror(errno) : "short write");
	pthread_mutex_unlock(&audit_lock);
}

void audit_request(const struct req *rq, const struct resp *rs)
{
	char line[LINE_MAX_BYTES + 1];
	size_t at;

	if (!audit_on())
		return;
	at = head(line, LINE_MAX_BYTES, rq->peer, rq->tls_subject);
	at = put(line, LINE_MAX_BYTES, at,
		 " token=%s scope=%s method=", rs->who.id[0] ? rs->who.id : "-",
		 auth_scope_names[rs->who.scope]);
	at = put_quoted(line, LINE_MAX_BYTES, at, rq->method);
	at = put(line, LINE_MAX_BYTES, at, " path=");
	at = put_quoted(line, LINE_MAX_BYTES, at, rq->path);
	at = put(line, LINE_MAX_BYTES, at, " status=%d session=%llu state=%s", rs->status,
		 (unsigned long long)session_serial(), session_state_name());
	emit(line, at);
}

void audit_tls_refused(const char *peer, const char *subject, const char *why)
{
	char line[LINE_MAX_BYTES + 1];
	size_t at;

	if (!audit_on())
		return;
	at = head(line, LINE_MAX_BYTES, peer, subject);
	at = put(line, LINE_MAX_BYTES, at, " token=- scope=none method=- path=- status=tls ");
	at = put(line, LINE_MAX_BYTES, at, "reason=");
	at = put_quoted(line, LINE_MAX_BYTES, at, why);
	emit(line, at);
}
