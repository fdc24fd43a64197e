/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd: the capture daemon. Options come from a key=value config file and the
 * command line (same names, --key-name; the command line wins); signals are
 * taken by sigwait in the main thread: SIGTERM/SIGINT stop gracefully, SIGHUP
 * reloads the token file.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include "jcapd.h"

struct jcapd_opts g_opts = {
	.listen = "127.0.0.1:8000",
	.log_level = CAPTURE_LOG_INFO,
	.max_body_bytes = 65536,
	.http_threads = 2,
	.http_nice = 5,
	.max_connections = 64,
	.connection_timeout_sec = 30,
	.flow_metering = true,
	.table_size = 1048576,
	.idle_timeout_sec = 30,
	.active_timeout_sec = 1800,
	.ended_ring_size = 1048576,
	.rate_window_sec = 10,
	.flows_scan_max = 4194304,
};

/* ---------------------------------------------------------------- logging */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void vlog(int level, bool always, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024];

	if (level < 0)
		level = 0;
	if (level > CAPTURE_LOG_DEBUG)
		level = CAPTURE_LOG_DEBUG;
	if (!always && level > g_opts.log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (g_opts.use_syslog)
		syslog(prio[level], "%s", msg);
	else
		fprintf(stderr, "jcapd: %s: %s\n", level_names[level], msg);
}

void jlog(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, false, fmt, ap);
	va_end(ap);
}

static void jlog_always(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jlog_always(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, true, fmt, ap);
	va_end(ap);
}

void jlog_engine(void *ctx, int level, const char *msg)
{
	jlog(level, "engine: %s", msg);
}

/* ---------------------------------------------------------------- options */

enum opt_kind {
	O_STR,
	O_PATH,
	O_BOOL,
	O_U32,
	O_SIZE,
	O_LEVEL,
	O_ALLOW,
	O_EXPORT
};

struct opt {
	const char *key;
	enum opt_kind kind;
	void *ptr;
	size_t size;	   /* O_STR/O_PATH: buffer size */
	uint64_t min, max; /* O_U32/O_SIZE */
	const char *help;
};

static const struct opt opts[] = {
	{ "listen", O_STR, g_opts.listen, sizeof(g_opts.listen), 0, 0,
	  "ADDR:PORT or [V6ADDR]:PORT to listen on (127.0.0.1:8000)" },
	{ "token_file", O_PATH, g_opts.token_file, sizeof(g_opts.token_file), 0, 0,
	  "file holding the bearer token for mutating requests (none)" },
	{ "allow_dir", O_ALLOW, NULL, 0, 0, 0,
	  "directory that request paths may name; repeatable (none: no paths)" },
	{ "syslog", O_BOOL, &g_opts.use_syslog, 0, 0, 0, "log to syslog, not stderr (false)" },
	{ "log_level", O_LEVEL, &g_opts.log_level, 0, 0, 0, "error|warn|info|debug (info)" },
	{ "max_body_bytes", O_SIZE, &g_opts.max_body_bytes, 0, 256, 16777216,
	  "largest request body; larger gets 413 (65536)" },
	{ "http_threads", O_U32, &g_opts.http_threads, 0, 1, 64,
	  "HTTP threads, each with its own epoll (2)" },
	{ "http_nice", O_U32, &g_opts.http_nice, 0, 0, 19,
	  "HTTP threads run this much nicer than the capture (5)" },
	{ "max_connections", O_U32, &g_opts.max_connections, 0, 1, 65536,
	  "concurrent HTTP connections (64)" },
	{ "connection_timeout_sec", O_U32, &g_opts.connection_timeout_sec, 0, 1, 3600,
	  "idle HTTP connection timeout (30)" },
	{ "auth_reads", O_BOOL, &g_opts.auth_reads, 0, 0, 0,
	  "GET endpoints need the token too (false)" },
	{ "flow_metering", O_BOOL, &g_opts.flow_metering, 0, 0, 0,
	  "meter flows in every session (true)" },
	{ "flow_table_size", O_U32, &g_opts.table_size, 0, 4096, 16777216,
	  "flow table slots (1048576)" },
	{ "flow_idle_timeout_sec", O_U32, &g_opts.idle_timeout_sec, 0, 1, 86400,
	  "flow idle timeout (30)" },
	{ "flow_active_timeout_sec", O_U32, &g_opts.active_timeout_sec, 0, 1, 604800,
	  "flow active timeout (1800)" },
	{ "ended_ring_size", O_U32, &g_opts.ended_ring_size, 0, 0, 16777216,
	  "recently ended flows kept for state=all (1048576)" },
	{ "rate_window_sec", O_U32, &g_opts.rate_window_sec, 0, 1, 60,
	  "window of the pps/bps rates (10)" },
	{ "flows_scan_max", O_SIZE, &g_opts.flows_scan_max, 0, 4096, 33554432,
	  "most flows one /flows request examines (4194304)" },
	{ "capture_user", O_STR, g_opts.capture_user, sizeof(g_opts.capture_user), 0, 0,
	  "drop capture privileges to this user after opening (none)" },
	{ "export", O_EXPORT, NULL, 0, 0, 0,
	  "exporter target for every session (jcap --export syntax); repeatable" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *find_opt(const char *key)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strcmp(opts[i].key, key) == 0)
			return &opts[i];
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* Append a copy of @v to a repeatable option's list of at most @max. 0, -EINVAL or -ENOMEM. */
static int list_add(char **list, unsigned *n, unsigned max, const struct opt *o, const char *v,
		    const char *where)
{
	if (*n >= max) {
		fprintf(stderr, "jcapd: %s: more than %u %s\n", where, max, o->key);
		return -EINVAL;
	}
	list[*n] = strdup(v);
	if (!list[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Apply one option; @where names the source for messages. 0 or -EINVAL. */
static int set_opt(const struct opt *o, const char *v, const char *where)
{
	unsigned long long n;
	char *end;
	int i;

	switch (o->kind) {
	case O_STR:
	case O_PATH:
		if (strlen(v) >= o->size) {
			fprintf(stderr, "jcapd: %s: %s: value too long\n", where, o->key);
			return -EINVAL;
		}
		memcpy(o->ptr, v, strlen(v) + 1);
		return 0;
	case O_BOOL:
		if (parse_bool(v, o->ptr)) {
			fprintf(stderr, "jcapd: %s: %s: expected true or false, got '%s'\n", where,
				o->key, v);
			return -EINVAL;
		}
		return 0;
	case O_LEVEL:
		for (i = 0; i < 4; i++)
			if (!strcmp(v, level_names[i]))
				break;
		if (i == 4) {
			fprintf(stderr, "jcapd: %s: log_level: expected error|warn|info|debug\n",
				where);
			return -EINVAL;
		}
		g_opts.log_level = i;
		return 0;
	case O_U32:
	case O_SIZE:
		errno = 0;
		n = strtoull(v, &end, 10);
		if (!*v || *v == '-' || errno || *end || n < o->min || n > o->max) {
			fprintf(stderr,
				"jcapd: %s: %s: expected an integer in %llu..%llu, got '%s'\n",
				where, o->key, (unsigned long long)o->min,
				(unsigned long long)o->max, v);
			return -EINVAL;
		}
		if (o->kind == O_U32)
			*(uint32_t *)o->ptr = (uint32_t)n;
		else
			*(size_t *)o->ptr = (size_t)n;
		return 0;
	case O_ALLOW:
		return list_add(g_opts.allow_dirs, &g_opts.n_allow_dirs, JCAPD_MAX_ALLOW_DIRS, o, v,
				where);
	case O_EXPORT:
		return list_add(g_opts.exports, &g_opts.n_exports, JCAPD_MAX_EXPORTS, o, v, where);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int load_config(const char *file)
{
	char line[8192], where[JCAPD_PATH_MAX + 32];
	unsigned lineno = 0;
	FILE *f;
	int ret = 0;

	f = fopen(file, "re");
	if (!f) {
		fprintf(stderr, "jcapd: %s: %s\n", file, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq, *key, *val, *s;
		const struct opt *o;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", file, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "jcapd: %s: line too long\n", where);
			ret = -EINVAL;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "jcapd: %s: expected key = value\n", where);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		o = find_opt(key);
		if (!o) {
			fprintf(stderr, "jcapd: %s: unknown key '%s'\n", where, key);
			ret = -EINVAL;
			break;
		}
		ret = set_opt(o, val, where);
		if (ret)
			break;
	}
	fclose(f);
	return ret;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: jcapd [--config FILE] [--listen ADDR:PORT] [--token-file FILE]\n"
		     "             [--allow-dir DIR]... [--syslog] [--OPTION VALUE]...\n"
		     "Every config file key is also an option (--key-name VALUE, '_' as '-'):\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		char name[64];
		size_t k;

		for (k = 0; opts[i].key[k] && k + 1 < sizeof(name); k++)
			name[k] = opts[i].key[k] == '_' ? '-' : opts[i].key[k];
		name[k] = '\0';
		fprintf(out, "  --%-24s %s\n", name, opts[i].help);
	}
	fprintf(out, "  --%-24s %s\n  --%-24s %s\n", "config FILE", "read key = value lines first",
		"version", "print the version");
}

/* Returns 0, 1 (exit 0: --help/--version) or -EINVAL (usage error). */
static int parse_args(int argc, char **argv)
{
	int i;

	/* the config file first, so that the command line wins */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "jcapd: --config needs a file\n");
				return -EINVAL;
			}
			if (load_config(argv[++i]))
				return -EINVAL;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			if (load_config(argv[i] + 9))
				return -EINVAL;
		}
	}
	for (i = 1; i < argc; i++) {
		char key[64], *eqv = NULL;
		const char *arg = argv[i], *val;
		const struct opt *o;
		size_t k;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(arg, "--version")) {
			printf("jcapd %s\n", capture_version());
			return 1;
		}
		if (!strcmp(arg, "--config")) {
			i++;
			continue;
		}
		if (!strncmp(arg, "--config=", 9))
			continue;
		if (strncmp(arg, "--", 2) != 0 || strlen(arg + 2) >= sizeof(key)) {
			fprintf(stderr, "jcapd: unexpected argument '%s'\n", arg);
			return -EINVAL;
		}
		for (k = 0; arg[2 + k] && arg[2 + k] != '='; k++)
			key[k] = arg[2 + k] == '-' ? '_' : arg[2 + k];
		key[k] = '\0';
		if (arg[2 + k] == '=')
			eqv = (char *)arg + 2 + k + 1;
		o = find_opt(key);
		if (!o) {
			fprintf(stderr, "jcapd: unknown option '%s' (see --help)\n", arg);
			return -EINVAL;
		}
		if (eqv) {
			val = eqv;
		} else if (o->kind == O_BOOL) {
			val = "true";
		} else {
			if (i + 1 >= argc) {
				fprintf(stderr, "jcapd: %s needs a value\n", arg);
				return -EINVAL;
			}
			val = argv[++i];
		}
		if (set_opt(o, val, "command line"))
			return -EINVAL;
	}
	return 0;
}

static void free_opts(void)
{
	for (unsigned i = 0; i < g_opts.n_allow_dirs; i++)
		free(g_opts.allow_dirs[i]);
	for (unsigned i = 0; i < g_opts.n_exports; i++)
		free(g_opts.exports[i]);
	g_opts.n_allow_dirs = g_opts.n_exports = 0;
}

/*
 * The HTTP threads inherit this thread's nice value; engine threads are created
 * on the session's control thread (session_ctl.c), already started at the base value.
 */
static void lower_priority(void)
{
	int base;

	if (!g_opts.http_nice)
		return;
	errno = 0;
	base = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0 &&
	    setpriority(PRIO_PROCESS, (id_t)gettid(),
			base + (int)g_opts.http_nice > 19 ? 19 : base + (int)g_opts.http_nice) != 0)
		jlog(CAPTURE_LOG_WARN, "http_nice: %s", strerror(errno));
}

/* Serve until SIGINT or SIGTERM (blocked in @set); SIGHUP reloads the token. */
static void wait_for_stop(const sigset_t *set)
{
	char msg[JCAPD_PATH_MAX + 128];
	int r, sig;

	for (;;) {
		sig = sigwaitinfo(set, NULL);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			jlog(CAPTURE_LOG_ERROR, "sigwaitinfo: %s", strerror(errno));
			return;
		}
		if (sig == SIGPIPE)
			continue;
		if (sig == SIGHUP) {
			if (!g_opts.token_file[0])
				continue;
			r = auth_load_token(g_opts.token_file, msg, sizeof(msg));
			if (r < 0)
				jlog(CAPTURE_LOG_ERROR, "SIGHUP: token not reloaded: %s", msg);
			else
				jlog(CAPTURE_LOG_INFO, "SIGHUP: token reloaded");
			continue;
		}
		jlog(CAPTURE_LOG_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
}

int main(int argc, char **argv)
{
	char msg[JCAPD_PATH_MAX + 128], bound[160];
	sigset_t set;
	int r, ret = 1;
	unsigned i;

	r = parse_args(argc, argv);
	if (r == 1) {
		free_opts();
		return 0;
	}
	if (r < 0) {
		free_opts();
		return 2;
	}
	if (g_opts.use_syslog)
		openlog("jcapd", LOG_PID, LOG_DAEMON);
	if (g_opts.token_file[0]) {
		r = auth_load_token(g_opts.token_file, msg, sizeof(msg));
		if (r < 0) {
			jlog_always(CAPTURE_LOG_ERROR, "token: %s", msg);
			goto out_opts;
		}
	} else {
		jlog(CAPTURE_LOG_WARN, "no --token-file: mutating endpoints are open to any "
				       "local client");
	}
	for (i = 0; i < g_opts.n_allow_dirs; i++) {
		r = paths_allow_dir(g_opts.allow_dirs[i]);
		if (r < 0) {
			jlog_always(CAPTURE_LOG_ERROR, "allow_dir %s: %s", g_opts.allow_dirs[i],
				    strerror(-r));
			goto out_auth;
		}
	}

	/* every thread created from here on inherits the mask: only sigwait sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	r = session_init();
	if (r < 0) {
		jlog_always(CAPTURE_LOG_ERROR, "session: %s", strerror(-r));
		goto out_auth;
	}
	lower_priority();
	if (http_start(bound, sizeof(bound)) < 0)
		goto out_session;
	jlog_always(CAPTURE_LOG_INFO, "listening on http://%s (libpacket_capture %s)", bound,
		    capture_version());

	wait_for_stop(&set);
	ret = 0;
	http_stop();
	session_shutdown();
out_session:
	session_release();
out_auth:
	auth_release();
out_opts:
	free_opts();
	if (g_opts.use_syslog)
		closelog();
	return ret;
}
