/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap --config FILE: options from a file in jcapd's syntax, one `key =
 * value` per line (keys are the long option names, '_' for '-'; '#'
 * comments; values unquoted; booleans true or false). The file's options
 * go before the command line's, so the command line wins and repeatable
 * options (--export, --verify) accumulate. An error is one line, "jcap:
 * FILE:LINE: problem", and exit status 2.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "jcap.h"

#define LINE_MAX_BYTES 4096
#define MAX_ARGS 512

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* The option of @cmd whose long name is @key ('_' read as '-'), or NULL. */
static const struct jcap_opt *find(const struct jcap_cmd *cmd, const char *key)
{
	char name[128];
	size_t i;

	if (strlen(key) >= sizeof(name))
		return NULL;
	for (i = 0; key[i]; i++)
		name[i] = key[i] == '_' ? '-' : key[i];
	name[i] = 0;
	for (i = 0; i < cmd->nopts; i++) {
		const struct jcap_opt *o = &cmd->opts[i];

		if (o->kind == JCAP_OPT_SECTION || o->kind == JCAP_OPT_HELP ||
		    !strcmp(name, "config"))
			continue;
		if ((o->name && !strcmp(o->name, name)) || (o->alias && !strcmp(o->alias, name)))
			return o;
	}
	return NULL;
}

static int fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The problem into @why; returns -1. */
static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

struct args {
	char *v[MAX_ARGS];
	int n;
};

static int push(struct args *a, const char *s)
{
	if (a->n >= MAX_ARGS - 1 || !(a->v[a->n] = strdup(s)))
		return -1;
	a->n++;
	return 0;
}

/* One "key = value" line into @a. 0, or -1 with the problem in @why. */
static int line_args(const struct jcap_cmd *cmd, char *s, struct args *a, const void **seen,
		     unsigned *nseen, char *why, size_t len)
{
	const struct jcap_opt *o;
	char *eq = strchr(s, '='), opt[160];
	unsigned i;

	if (!eq)
		return fail(why, len, "expected key = value");
	*eq = 0;
	s = trim(s);
	eq = trim(eq + 1);
	o = find(cmd, s);
	if (!o)
		return fail(why, len, "unknown key '%s'", s);
	/* repeatable options are those with their own parser (lists) */
	for (i = 0; o->kind != JCAP_OPT_FN && i < *nseen; i++)
		if (seen[i] == o)
			return fail(why, len, "%s given twice", s);
	if (*nseen < MAX_ARGS)
		seen[(*nseen)++] = o;
	snprintf(opt, sizeof(opt), "--%s", o->name);
	if (!o->arg) {
		if (strcmp(eq, "true") && strcmp(eq, "false") && *eq)
			return fail(why, len, "%s: '%s' is not true or false", s, eq);
		return strcmp(eq, "false") ? push(a, opt) : 0;
	}
	if (!*eq)
		return fail(why, len, "%s: empty value", s);
	if (push(a, opt) < 0 || push(a, eq) < 0)
		return fail(why, len, "too many options");
	return 0;
}

static int read_file(const struct jcap_cmd *cmd, const char *file, struct args *a)
{
	static const void *seen[MAX_ARGS];
	char line[LINE_MAX_BYTES + 1], why[256], *s;
	unsigned lineno = 0, nseen = 0;
	FILE *f = fopen(file, "re");
	size_t n;

	if (!f) {
		jcap_err("--config %s: %s", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		n = strlen(line);
		if (n == LINE_MAX_BYTES && line[n - 1] != '\n') {
			snprintf(why, sizeof(why), "line longer than %d bytes", LINE_MAX_BYTES - 1);
			goto bad;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (line_args(cmd, s, a, seen, &nseen, why, sizeof(why)) < 0)
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	jcap_err("%s:%u: %s", file, lineno, why);
	return -1;
}

int jcap_config_argv(const struct jcap_cmd *cmd, int *argc, char ***argv)
{
	static struct args a; /* lives as long as the options that point into it */
	const char *file = NULL;
	int i, skip = -1, nskip = 0;

	for (i = 1; i < *argc && strcmp((*argv)[i], "--"); i++) {
		if (!strcmp((*argv)[i], "--config") && i + 1 < *argc) {
			file = (*argv)[i + 1];
			skip = i;
			nskip = 2;
		} else if (!strncmp((*argv)[i], "--config=", 9)) {
			file = (*argv)[i] + 9;
			skip = i;
			nskip = 1;
		}
	}
	if (!file)
		return 0;
	a.n = 0;
	if (push(&a, (*argv)[0]) < 0 || read_file(cmd, file, &a) < 0)
		return -1;
	for (i = 1; i < *argc; i++) {
		if (i >= skip && i < skip + nskip)
			continue;
		if (a.n >= MAX_ARGS - 1) {
			jcap_err("--config %s: too many options", file);
			return -1;
		}
		a.v[a.n++] = (*argv)[i];
	}
	a.v[a.n] = NULL;
	*argc = a.n;
	*argv = a.v;
	return 0;
}
