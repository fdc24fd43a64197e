/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for jcapd's config file (apps/jcapd/config.c, config_load),
 * built with that file when jcapd is (libmicrohttpd and jansson found). The
 * input is the file, served from a memfd through its /proc/self/fd path. A
 * refusal names the file; an accepted file leaves options that config_check
 * passes, the documented ranges (docs/JCAPD.md), terminated strings, a
 * listen address that parses and export targets the library's parser takes.
 * config_release then frees every list (LeakSanitizer checks it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export/export.h"
#include "jcapd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, unsigned long long v)
{
	fprintf(stderr, "fuzz_jcapd_config: invariant violated: %s (%llu)\n", what, v);
	abort();
}

static void in_range(const char *name, unsigned long long v, unsigned long long lo,
		     unsigned long long hi)
{
	if (v < lo || v > hi)
		fail(name, v);
}

static void check_ok(const struct jcapd_opts *o)
{
	struct sockaddr_storage ss;
	struct pc_export_target *t;
	char err[256];
	unsigned i;

	if (config_check(o, err, sizeof(err)) < 0)
		fail("an accepted file fails config_check", o->idle_timeout_sec);
	if (strnlen(o->listen, sizeof(o->listen)) == sizeof(o->listen) ||
	    strnlen(o->token_file, sizeof(o->token_file)) == sizeof(o->token_file) ||
	    strnlen(o->capture_user, sizeof(o->capture_user)) == sizeof(o->capture_user))
		fail("an unterminated string option", 0);
	if (config_parse_listen(o->listen, &ss) < 0)
		fail("listen address does not parse", 0);
	in_range("log_level", (unsigned)o->log_level, 0, 3);
	in_range("max_body_bytes", o->max_body_bytes, 256, 16777216);
	in_range("http_threads", o->http_threads, 1, 64);
	in_range("http_nice", o->http_nice, 0, 19);
	in_range("max_connections", o->max_connections, 1, 65536);
	in_range("max_connections_per_ip", o->max_connections_per_ip, 1, 65536);
	in_range("connection_timeout_sec", o->connection_timeout_sec, 1, 3600);
	in_range("request_timeout_sec", o->request_timeout_sec, 1, 3600);
	if (o->table_size) /* 0: the library's default */
		in_range("flow_table_size", o->table_size, 4096, 16777216);
	in_range("flow_idle_timeout_sec", o->idle_timeout_sec, 1, 86400);
	in_range("flow_active_timeout_sec", o->active_timeout_sec, 1, 604800);
	in_range("ended_ring_size", o->ended_ring_size, 0, 16777216);
	in_range("rate_window_sec", o->rate_window_sec, 1, 60);
	in_range("flows_scan_max", o->flows_scan_max, 4096, 33554432);
	if (o->n_allow_dirs > JCAPD_MAX_ALLOW_DIRS || o->n_exports > JCAPD_MAX_EXPORTS)
		fail("more list entries than allowed", o->n_allow_dirs + o->n_exports);
	for (i = 0; i < o->n_allow_dirs; i++)
		if (!o->allow_dirs[i] || !o->allow_dirs[i][0] ||
		    strlen(o->allow_dirs[i]) >= JCAPD_PATH_MAX)
			fail("allow_dir entry", i);
	t = malloc(sizeof(*t));
	if (!t)
		return;
	for (i = 0; i < o->n_exports; i++)
		if (!o->exports[i] || pc_export_parse(o->exports[i], NULL, t, err, sizeof(err)) < 0)
			fail("an accepted export target the library refuses", i);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	struct jcapd_opts *o;
	char err[JCAPD_PATH_MAX + 1024];
	int rc;

	if (size > 65536)
		return 0;
	if (fd < 0) {
		fd = memfd_create("fuzz_jcapd_config", MFD_CLOEXEC); /* kept for the process */
		if (fd < 0)
			fail("memfd_create", (unsigned long long)errno);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		fail("writing the memfd", (unsigned long long)errno);
	o = malloc(sizeof(*o));
	if (!o)
		return 0;
	config_init(o);
	err[0] = 0;
	rc = config_load(o, path, err, sizeof(err));
	if (rc > 0)
		fail("positive return", (unsigned long long)rc);
	if (rc < 0 && strncmp(err, path, strlen(path)))
		fail("a refusal does not name the file", (unsigned long long)-rc);
	if (rc == 0)
		check_ok(o);
	config_release(o);
	if (o->n_allow_dirs || o->n_exports)
		fail("config_release left list entries", o->n_allow_dirs + o->n_exports);
	free(o);
	return 0;
}
