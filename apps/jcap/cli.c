/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap command-line plumbing: one error reporter, and option tables from
 * which both getopt_long's arrays and the help's option list are made, so
 * the two cannot disagree.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "jcap.h"

/* getopt_long entries for one table: every name and alias, plus the end. */
#define OPTS_MAX 128
/* The help's option column: "  " + 22 wide + " ". */
#define HELP_INDENT 25

static void verr(const char *cmd, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* One locked write per message: engine threads log through here too. */
static void verr(const char *cmd, const char *fmt, va_list ap)
{
	flockfile(stderr);
	fputs("jcap: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void jcap_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(NULL, fmt, ap);
	va_end(ap);
}

void jcap_lib_err(const char *msg, int rc)
{
	jcap_err("%s", msg && msg[0] ? msg : capture_strerror(rc));
}

int jcap_usage_err(const struct jcap_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(cmd->name, fmt, ap);
	va_end(ap);
	/* the top level's usage is a page long: its messages point at --help */
	if (cmd->name)
		cmd->usage(stderr);
	return JCAP_EXIT_USAGE;
}

int jcap_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || !*s || *s == '-') {
		jcap_err("%s: '%s' is not a number", opt, s ? s : "");
		return -1;
	}
	v = strtoull(s, &end, 10);
	if (errno || *end) {
		jcap_err("%s: '%s' is not a number", opt, s);
		return -1;
	}
	if (v < min || v > max) {
		jcap_err("%s: %llu out of range (%" PRIu64 "..%" PRIu64 ")", opt, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* "-F" for an option with a letter, else "--name": how errors name it. */
static void label(const struct jcap_opt *opt, char *buf, size_t len)
{
	if (opt->letter)
		snprintf(buf, len, "-%c", opt->letter);
	else
		snprintf(buf, len, "--%s", opt->name);
}

int jcap_opt_bad_name(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *what,
		      const char *arg, const char *const *names)
{
	char list[256], lb[64];
	size_t len = 0, i;

	list[0] = 0;
	for (i = 0; names[i] && len < sizeof(list); i++) {
		const char *sep = !i ? "" : cmd->or_list && !names[i + 1] ? " or " : ", ";
		int w = snprintf(list + len, sizeof(list) - len, "%s%s", sep, names[i]);

		len += w > 0 ? (size_t)w : 0;
	}
	/* subcommands name themselves, the top level names the option */
	label(opt, lb, sizeof(lb));
	jcap_err("%s: unknown %s '%s' (%s)", cmd->name ? cmd->name : lb, what, arg, list);
	return -1;
}

/* Store @v in the unsigned field of @size bytes at @p (range checked before). */
static void store_uint(void *p, size_t size, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;
	uint16_t v16 = (uint16_t)v;
	uint8_t v8 = (uint8_t)v;

	switch (size) {
	case sizeof(v):
		memcpy(p, &v, size);
		break;
	case sizeof(v32):
		memcpy(p, &v32, size);
		break;
	case sizeof(v16):
		memcpy(p, &v16, size);
		break;
	default:
		memcpy(p, &v8, 1);
		break;
	}
}

static int apply(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		 void *base)
{
	char *p = (char *)base + opt->off;
	char lb[64];
	uint64_t v;
	size_t i;

	switch (opt->kind) {
	case JCAP_OPT_TRUE:
	case JCAP_OPT_FALSE:
		*(bool *)p = opt->kind == JCAP_OPT_TRUE;
		return 0;
	case JCAP_OPT_STR:
		*(const char **)p = arg;
		return 0;
	case JCAP_OPT_UINT:
		label(opt, lb, sizeof(lb));
		if (jcap_parse_u64(lb, arg, opt->min, opt->max, &v))
			return -1;
		store_uint(p, opt->size, v);
		return 0;
	case JCAP_OPT_ENUM:
		for (i = 0; opt->names[i]; i++) {
			if (!strcmp(arg, opt->names[i])) {
				store_uint(p, opt->size, i);
				return 0;
			}
		}
		return jcap_opt_bad_name(cmd, opt, opt->what, arg, opt->names);
	case JCAP_OPT_FN:
		return opt->fn(cmd, opt, arg, base);
	case JCAP_OPT_SECTION:
	case JCAP_OPT_HELP:
		break;
	}
	return 0;
}

/* getopt_long's value for table entry @i: its letter, else 256 + @i. */
static int opt_val(const struct jcap_cmd *cmd, size_t i)
{
	return cmd->opts[i].letter ? cmd->opts[i].letter : 256 + (int)i;
}

static const struct jcap_opt *opt_of(const struct jcap_cmd *cmd, int val)
{
	size_t i;

	for (i = 0; i < cmd->nopts; i++)
		if (opt_val(cmd, i) == val)
			return &cmd->opts[i];
	return NULL;
}

static void add_long(struct option *lo, size_t *n, const char *name, const struct jcap_opt *opt,
		     int val)
{
	lo[*n].name = name;
	lo[*n].has_arg = opt->arg ? required_argument : no_argument;
	lo[*n].flag = NULL;
	lo[*n].val = val;
	(*n)++;
}

/* getopt_long's arrays from @cmd's table: ":" + letters, names + aliases. */
static int build(const struct jcap_cmd *cmd, struct option *lo, char *so)
{
	const struct jcap_opt *opt;
	size_t i, n = 0, ns = 0;

	so[ns++] = ':'; /* missing values come back as ':' */
	for (i = 0; i < cmd->nopts; i++) {
		opt = &cmd->opts[i];
		if (i >= OPTS_MAX || n + 2 >= OPTS_MAX) {
			jcap_err("internal error: option table too large");
			return -1;
		}
		if (opt->letter) {
			so[ns++] = opt->letter;
			if (opt->arg)
				so[ns++] = ':';
		}
		if (opt->name)
			add_long(lo, &n, opt->name, opt, opt_val(cmd, i));
		if (opt->alias)
			add_long(lo, &n, opt->alias, opt, opt_val(cmd, i));
	}
	so[ns] = 0;
	memset(&lo[n], 0, sizeof(lo[n]));
	return 0;
}

static void unknown_opt(const struct jcap_cmd *cmd, char **argv)
{
	if (cmd->name)
		jcap_usage_err(cmd, "unknown option %s", argv[optind - 1]);
	else if (optopt > 0 && optopt < 256) /* "-qZ": say which letter */
		jcap_err("unknown option -%c (see jcap --help)", optopt);
	else
		jcap_err("unknown option %s (see jcap --help)", argv[optind - 1]);
}

int jcap_opts_parse(const struct jcap_cmd *cmd, int argc, char **argv, void *base)
{
	struct option lo[OPTS_MAX];
	char so[2 * OPTS_MAX + 2];
	const struct jcap_opt *opt;
	int ch;

	if (build(cmd, lo, so) < 0)
		return -1;
	optind = 0; /* full getopt reset: main may have parsed before us */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (ch == ':') {
			jcap_usage_err(cmd, "option %s needs a value", argv[optind - 1]);
			return -1;
		}
		opt = ch == '?' ? NULL : opt_of(cmd, ch);
		if (!opt) {
			unknown_opt(cmd, argv);
			return -1;
		}
		if (opt->kind == JCAP_OPT_HELP) {
			cmd->usage(stdout);
			return 0;
		}
		if (apply(cmd, opt, optarg, base) < 0)
			return -1;
	}
	return optind;
}

void jcap_opts_help(FILE *fp, const struct jcap_cmd *cmd)
{
	const struct jcap_opt *opt;
	const char *line, *nl;
	char left[64];
	size_t i, n;

	for (i = 0; i < cmd->nopts; i++) {
		opt = &cmd->opts[i];
		if (opt->kind == JCAP_OPT_SECTION)
			fprintf(fp, "\n%s\n", opt->help);
		if (opt->kind == JCAP_OPT_SECTION || !opt->help)
			continue;
		if (opt->letter && opt->name)
			snprintf(left, sizeof(left), "-%c, --%s", opt->letter, opt->name);
		else
			label(opt, left, sizeof(left));
		n = strlen(left);
		if (opt->arg)
			snprintf(left + n, sizeof(left) - n, " %s", opt->arg);
		fprintf(fp, "  %-*s ", HELP_INDENT - 3, left);
		for (line = opt->help; (nl = strchr(line, '\n')); line = nl + 1)
			fprintf(fp, "%.*s\n%*s", (int)(nl - line), line, HELP_INDENT, "");
		fprintf(fp, "%s\n", line);
	}
}
