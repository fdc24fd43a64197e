/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap decrypt --key FILE IN OUT`: restore the pcap/pcapng inside an
 * encrypted capture with capture_decrypt_file(). OUT appears only once every
 * chunk has been authenticated. Exit 0 ok, 1 failure (one line), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "packet_capture.h"

int jcap_cmd_decrypt(int argc, char **argv);

static void usage(FILE *f)
{
	fprintf(f, "usage: jcap decrypt --key FILE IN OUT\n"
		   "  Decrypt a capture written with --encrypt-key. The key file holds 32 raw\n"
		   "  bytes or 64 hex digits. OUT is written only when IN verifies completely;\n"
		   "  a wrong key, a damaged or a truncated IN exits 1 and leaves no OUT.\n");
}

int jcap_cmd_decrypt(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *in, *out;
	char err[1024] = "";
	int c, r;

	optind = 0; /* full getopt reset: main may have parsed before us */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "jcap: decrypt: option %s needs a value\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			fprintf(stderr, "jcap: decrypt: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!key || !key[0]) {
		fprintf(stderr, "jcap: decrypt: --key FILE is required\n");
		usage(stderr);
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "jcap: decrypt: need exactly IN and OUT\n");
		usage(stderr);
		return 2;
	}
	in = argv[optind];
	out = argv[optind + 1];
	if (!in[0] || !out[0]) {
		fprintf(stderr, "jcap: decrypt: empty file name\n");
		return 2;
	}
	r = capture_decrypt_file(key, in, out, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "jcap: %s\n", err[0] ? err : capture_strerror(r));
		return 1;
	}
	return 0;
}
