/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap -r: the inputs of one run. -r may be repeated, name a directory (its
 * capture files, sorted by name) or be a glob the shell did not expand
 * ('dir/ *.pcap.gz' without the space, expanded here with glob(3)); the library merges several
 * inputs in time order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jcap.h"

#define MAX_INPUTS 100000

/* every -r of the run: kept for the whole process (reachable, never freed) */
static const char **g_inputs;
static unsigned g_ninputs, g_cap;

static int add(struct jcap_meter_opts *o, const char *path)
{
	char *s;

	if (g_ninputs >= MAX_INPUTS) {
		jcap_err("-r: more than %d inputs", MAX_INPUTS);
		return -1;
	}
	if (g_ninputs == g_cap) {
		unsigned ncap = g_cap ? 2 * g_cap : 16;
		const char **nv = realloc(g_inputs, ncap * sizeof(*nv));

		if (!nv) {
			jcap_err("-r: out of memory");
			return -1;
		}
		g_inputs = nv;
		g_cap = ncap;
	}
	s = strdup(path);
	if (!s) {
		jcap_err("-r: out of memory");
		return -1;
	}
	g_inputs[g_ninputs++] = s;
	o->rfiles = g_inputs;
	o->nrfiles = g_ninputs;
	o->rfile = g_inputs[0];
	return 0;
}

/* The first bytes of @path are a capture file's, plain, encrypted (jcap's
 * container) or compressed (gzip, zstd, lz4), as the file backend reads. */
static bool capture_file(const char *path)
{
	static const uint8_t magics[][8] = {
		{ 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 }, /* pcap us */
		{ 0x4d, 0x3c, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0x3c, 0x4d }, /* pcap ns */
		{ 0x0a, 0x0d, 0x0d, 0x0a },				/* pcapng */
		{ 0x28, 0xb5, 0x2f, 0xfd },				/* zstd */
		{ 0x04, 0x22, 0x4d, 0x18 },				/* lz4 frame */
		{ 0x89, 'J', 'C', 'A' },				/* jcap encrypted */
	};
	uint8_t h[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return true; /* gzip */
	if (n < 4)
		return false;
	for (size_t i = 0; i < JCAP_ARRAY_SIZE(magics); i++)
		if (!memcmp(h, magics[i], 4))
			return true;
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory: its regular capture files, sorted by name (bytewise); hidden
 * files, subdirectories and files that are not captures are skipped, and
 * said so on stderr. */
static int add_dir(struct jcap_meter_opts *o, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, skipped[512] = "";
	size_t n = 0, cap = 0, nskip = 0, slen = 0;
	bool more = false;
	int rc = 0;

	if (!d) {
		jcap_err("-r %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		struct stat st;
		char *p;

		if (e->d_name[0] == '.')
			continue; /* hidden, and . and .. */
		if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name) <
		    0) {
			rc = -1;
			break;
		}
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) || !capture_file(p)) {
			nskip++;
			if (slen + strlen(e->d_name) + 8 < sizeof(skipped))
				slen += (size_t)snprintf(skipped + slen, sizeof(skipped) - slen,
							 "%s%s", slen ? ", " : "", e->d_name);
			else
				more = true;
			free(p);
			continue;
		}
		if (n == cap) {
			char **nv = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*nv));

			if (!nv) {
				free(p);
				rc = -1;
				break;
			}
			names = nv;
		}
		names[n++] = p;
	}
	closedir(d);
	if (rc < 0)
		jcap_err("-r %s: out of memory", dir);
	if (!rc && !n) {
		jcap_err("-r %s: no capture files in the directory", dir);
		rc = -1;
	}
	if (!rc) {
		qsort(names, n, sizeof(*names), by_name);
		if (nskip)
			fprintf(stderr,
				"jcap: -r %s: %zu entr%s skipped (not a regular capture file): "
				"%s%s\n",
				dir, nskip, nskip == 1 ? "y" : "ies", skipped, more ? ", ..." : "");
	}
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = add(o, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* A glob pattern the shell left alone (quoted, or it matched nothing). */
static int add_glob(struct jcap_meter_opts *o, const char *pat)
{
	glob_t g;
	int rc = glob(pat, GLOB_ERR, NULL, &g);

	if (rc == GLOB_NOMATCH) {
		jcap_err("-r %s: no file matches the pattern", pat);
		return -1;
	}
	if (rc) {
		jcap_err("-r %s: %s", pat,
			 rc == GLOB_NOSPACE ? "out of memory" : "cannot read a directory");
		globfree(&g);
		return -1;
	}
	for (size_t i = 0; !rc && i < g.gl_pathc; i++)
		rc = add(o, g.gl_pathv[i]);
	globfree(&g);
	return rc;
}

int jcap_input_add(struct jcap_meter_opts *o, const char *arg)
{
	struct stat st;

	if (!*arg) {
		jcap_err("-r: empty file name");
		return -1;
	}
	if (strcmp(arg, "-") && stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		return add_dir(o, arg);
	if (strcmp(arg, "-") && access(arg, F_OK) < 0 && strpbrk(arg, "*?["))
		return add_glob(o, arg);
	return add(o, arg); /* the library says what is wrong with it, if anything */
}
