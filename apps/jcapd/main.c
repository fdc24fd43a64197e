/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd: the capture daemon. Options come from a key=value config file and the
 * command line (same names, --key-name; the command line wins), each checked whole
 * by config.c before anything starts; signals are taken by sigwait in the main
 * thread: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the token file.
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
#include "tls.h"

struct jcapd_opts g_opts;

/* ---------------------------------------------------------------- logging */

static void vlog(int level, bool always, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

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
		fprintf(stderr, "jcapd: %s: %s\n", config_level_names[level], msg);
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

static int load_config(const char *file)
{
	char err[JCAPD_PATH_MAX + 1024];

	if (config_load(&g_opts, file, err, sizeof(err)) < 0) {
		/* FILE:LINE: problem, as compilers write it, so editors can jump there */
		fprintf(stderr, "%s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* Returns 0, 1 (exit 0: --help/--version) or -EINVAL (usage or config error). */
static int parse_args(int argc, char **argv)
{
	char err[JCAPD_PATH_MAX + 1024];
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
		char key[64];
		const char *arg = argv[i], *val, *eqv = NULL;
		size_t k;
		int r;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			config_usage(stdout);
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
			eqv = arg + 2 + k + 1;
		if (eqv) {
			val = eqv;
		} else if (config_key_is_bool(key)) {
			val = "true";
		} else {
			if (i + 1 >= argc) {
				fprintf(stderr, "jcapd: %s needs a value\n", arg);
				return -EINVAL;
			}
			val = argv[++i];
		}
		r = config_set(&g_opts, key, val, err, sizeof(err));
		if (r == -ENOENT) {
			fprintf(stderr, "jcapd: unknown option '%s' (see --help)\n", arg);
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "jcapd: command line: %s\n", err);
			return -EINVAL;
		}
	}
	if (config_check(&g_opts, err, sizeof(err)) < 0 ||
	    config_check_transport(&g_opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "jcapd: %s\n", err);
		return -EINVAL;
	}
	return 0;
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

/* SIGHUP: the token file, the certificate and key, a new audit file (rotation). */
static void reload(void)
{
	char msg[JCAPD_PATH_MAX + 128];

	if (g_opts.token_file[0]) {
		if (auth_load_token(g_opts.token_file, msg, sizeof(msg)) < 0)
			jlog(CAPTURE_LOG_ERROR, "SIGHUP: token not reloaded: %s", msg);
		else
			jlog(CAPTURE_LOG_INFO, "SIGHUP: token reloaded");
	}
	if (tls_enabled()) {
		if (tls_load(msg, sizeof(msg)) < 0)
			jlog(CAPTURE_LOG_ERROR, "SIGHUP: certificate not reloaded: %s", msg);
		else
			jlog(CAPTURE_LOG_INFO, "SIGHUP: certificate reloaded");
	}
	audit_reopen();
}

/* Serve until SIGINT or SIGTERM (blocked in @set); SIGHUP reloads. */
static void wait_for_stop(const sigset_t *set)
{
	int sig;

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
			reload();
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

	config_init(&g_opts);
	r = parse_args(argc, argv);
	if (r == 1) {
		config_release(&g_opts);
		return 0;
	}
	if (r < 0) {
		config_release(&g_opts);
		return 2;
	}
	if (g_opts.use_syslog)
		openlog("jcapd", LOG_PID, LOG_DAEMON);
	/* the certificate, key, CA file, priority string, audit file: config errors */
	if (g_opts.tls_cert[0] && tls_load(msg, sizeof(msg)) < 0) {
		fprintf(stderr, "jcapd: %s\n", msg);
		ret = 2;
		goto out_tls;
	}
	if (audit_open(msg, sizeof(msg)) < 0) {
		fprintf(stderr, "jcapd: audit_log: %s\n", msg);
		ret = 2;
		goto out_tls;
	}
	if (g_opts.token_file[0]) {
		r = auth_load_token(g_opts.token_file, msg, sizeof(msg));
		if (r < 0) {
			jlog_always(CAPTURE_LOG_ERROR, "token: %s", msg);
			goto out_audit;
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
	jlog_always(CAPTURE_LOG_INFO, "listening on %s://%s (libpacket_capture %s)",
		    tls_enabled() ? "https" : "http", bound, capture_version());

	wait_for_stop(&set);
	ret = 0;
	http_stop();
	session_shutdown();
out_session:
	session_release();
out_auth:
	auth_release();
out_audit:
	audit_close();
out_tls:
	tls_release();
	config_release(&g_opts);
	if (g_opts.use_syslog)
		closelog();
	return ret;
}
