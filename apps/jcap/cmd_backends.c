/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap backends [-F json|table|csv]`: every capture backend the library knows,
 * whether it can be used here and why (capture_list_backends). JSON is one
 * array of {"name","available","preference","reason"}. Exit 0, or 2 on usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "jcap.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: jcap backends [-F json|table|csv]\n"
		   "  List the capture backends (afxdp, afpacket, pcap, file, dpdk, pfring) in\n"
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

int jcap_cmd_backends(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct capture_backend_info info[16];
	enum jcap_format fmt = jcap_default_format(stdout);
	int c, n, i;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":F:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (jcap_parse_format(optarg, &fmt) < 0) {
				fprintf(stderr,
					"jcap: backends: unknown format '%s' (table, json, "
					"csv)\n",
					optarg);
				return JCAP_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return JCAP_EXIT_OK;
		case ':':
			fprintf(stderr, "jcap: backends: option %s needs a value\n",
				argv[optind - 1]);
			usage(stderr);
			return JCAP_EXIT_USAGE;
		default:
			fprintf(stderr, "jcap: backends: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return JCAP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jcap: backends: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return JCAP_EXIT_USAGE;
	}
	n = capture_list_backends(info, sizeof(info) / sizeof(info[0]));
	if (n < 0) {
		fprintf(stderr, "jcap: backends: %s\n", capture_strerror(n));
		return JCAP_EXIT_FAIL;
	}
	if (n > (int)(sizeof(info) / sizeof(info[0])))
		n = (int)(sizeof(info) / sizeof(info[0]));
	switch (fmt) {
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
