/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap backends [-F json|table|csv]`: every capture backend the library knows,
 * whether it can be used here and why (capture_list_backends). JSON is one
 * array of {"name","available","preference","reason"}. Exit 0, or 2 on usage.
 */
#include <stdio.h>
#include <string.h>

#include "jcap.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jcap backends [-F json|table|csv]\n"
		"  List the capture backends (afxdp, ebpf, afpacket, pcap, file, dpdk, pfring) in\n"
		"  the order `-b auto` considers them, whether each is available on this\n"
		"  machine and why. Interface-specific checks (zero-copy) happen at open.\n");
}

static void csv_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

struct backends_args {
	int fmt; /* enum jcap_format */
};

static const struct jcap_opt backends_opts[] = {
	JCAP_ENUM('F', "format", "FMT", JCAP_FIELD(struct backends_args, fmt), jcap_format_names,
		  "format", NULL),
	JCAP_HELP('h', "help"),
};

static const struct jcap_cmd backends_cmd = JCAP_CMD("backends", backends_opts, usage, false);

int jcap_cmd_backends(int argc, char **argv)
{
	struct capture_backend_info info[16];
	struct backends_args a = { .fmt = jcap_default_format(stdout) };
	int n, i;

	n = jcap_opts_parse(&backends_cmd, argc, argv, &a);
	if (n <= 0)
		return n < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	if (n < argc)
		return jcap_usage_err(&backends_cmd, "unexpected argument '%s'", argv[n]);
	n = capture_list_backends(info, JCAP_ARRAY_SIZE(info));
	if (n < 0) {
		jcap_err("backends: %s", capture_strerror(n));
		return JCAP_EXIT_FAIL;
	}
	if (n > (int)JCAP_ARRAY_SIZE(info))
		n = (int)JCAP_ARRAY_SIZE(info);
	switch (a.fmt) {
	case JCAP_FMT_JSON:
		fputc('[', stdout);
		for (i = 0; i < n; i++) {
			printf("%s{\"name\":", i ? "," : "");
			jcap_json_str(stdout, info[i].name);
			printf(",\"available\":%s,\"preference\":%d,\"reason\":",
			       info[i].available ? "true" : "false", info[i].preference);
			jcap_json_str(stdout, info[i].reason);
			fputc('}', stdout);
		}
		fputs("]\n", stdout);
		break;
	case JCAP_FMT_CSV:
		puts("name,available,preference,reason");
		for (i = 0; i < n; i++) {
			printf("%s,%s,%d,", info[i].name, info[i].available ? "true" : "false",
			       info[i].preference);
			csv_str(stdout, info[i].reason);
			fputc('\n', stdout);
		}
		break;
	default:
		printf("%-9s %-9s %4s  %s\n", "BACKEND", "AVAILABLE", "PREF", "REASON");
		for (i = 0; i < n; i++)
			printf("%-9s %-9s %4d  %s\n", info[i].name,
			       info[i].available ? "yes" : "no", info[i].preference,
			       info[i].reason);
	}
	return fflush(stdout) == 0 ? JCAP_EXIT_OK : JCAP_EXIT_FAIL;
}
