/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap verify-firmware`: check a detached signature over an image with
 * capture_verify_firmware(). Exit 0 only when valid, 1 for any other result,
 * 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "jcap.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: jcap verify-firmware --image FILE --sig FILE --pubkey FILE\n"
		   "                            [--digest sha256|sha384|sha512]\n"
		   "                            [--padding pkcs1|pss|auto] [-F text|json]\n"
		   "  RSA (>= 2048 bits; PKCS#1 v1.5 by default, PSS, or auto: either) or\n"
		   "  Ed25519 (digest and padding do not apply). The key is a PEM or DER\n"
		   "  public key or X.509 certificate. Exit 0: valid; 1: invalid signature,\n"
		   "  wrong key type, weak key or unreadable input; 2: usage.\n");
}

/* Human label of a result, as printed in text mode. */
static const char *label(int r)
{
	switch (r) {
	case CAPTURE_VERIFY_VALID:
		return "valid";
	case CAPTURE_VERIFY_INVALID_SIGNATURE:
		return "invalid signature";
	case CAPTURE_VERIFY_WRONG_KEY_TYPE:
		return "wrong key type";
	case CAPTURE_VERIFY_UNREADABLE:
		return "unreadable input";
	case CAPTURE_VERIFY_WEAK_KEY:
		return "weak key";
	default:
		return "error";
	}
}

int jcap_cmd_verify_firmware(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "sig", required_argument, NULL, 's' },
		{ "signature", required_argument, NULL, 's' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "digest", required_argument, NULL, 'd' },
		{ "padding", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct capture_verify_opts o = { .sz = sizeof(o), .padding = CAPTURE_SIG_PKCS1 };
	const char *image = NULL, *sig = NULL, *key = NULL, *pad_name = "pkcs1";
	const char *digest = "sha256";
	char detail[1024];
	bool json = false;
	int c, r;

	optind = 0; /* full getopt reset: main may have parsed before us */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":F:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			image = optarg;
			break;
		case 's':
			sig = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "sha256") && strcmp(optarg, "sha384") &&
			    strcmp(optarg, "sha512")) {
				fprintf(stderr,
					"jcap: verify-firmware: unknown digest '%s' "
					"(sha256, sha384 or sha512)\n",
					optarg);
				return 2;
			}
			digest = optarg;
			o.digest = optarg;
			break;
		case 'p':
			if (!strcmp(optarg, "pkcs1"))
				o.padding = CAPTURE_SIG_PKCS1;
			else if (!strcmp(optarg, "pss"))
				o.padding = CAPTURE_SIG_PSS;
			else if (!strcmp(optarg, "auto"))
				o.padding = CAPTURE_SIG_AUTO;
			else {
				fprintf(stderr,
					"jcap: verify-firmware: unknown padding '%s' "
					"(pkcs1, pss or auto)\n",
					optarg);
				return 2;
			}
			pad_name = optarg;
			break;
		case 'F':
			if (!strcmp(optarg, "json")) {
				json = true;
			} else if (!strcmp(optarg, "text")) {
				json = false;
			} else {
				fprintf(stderr,
					"jcap: verify-firmware: unknown format '%s' "
					"(text or json)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "jcap: verify-firmware: option %s needs a value\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			fprintf(stderr, "jcap: verify-firmware: unknown option %s\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jcap: verify-firmware: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!image || !sig || !key || !image[0] || !sig[0] || !key[0]) {
		fprintf(stderr,
			"jcap: verify-firmware: --image, --sig and --pubkey are required\n");
		usage(stderr);
		return 2;
	}

	r = capture_verify_firmware(image, sig, key, &o, detail, sizeof(detail));
	if (r < 0 && !detail[0])
		snprintf(detail, sizeof(detail), "%s", capture_strerror(r));
	if (json) {
		printf("{\"result\":");
		jcap_json_str(stdout, r >= 0 ? capture_verify_result_name(r) : "error");
		printf(",\"valid\":%s,\"image\":", r == CAPTURE_VERIFY_VALID ? "true" : "false");
		jcap_json_str(stdout, image);
		printf(",\"signature\":");
		jcap_json_str(stdout, sig);
		printf(",\"pubkey\":");
		jcap_json_str(stdout, key);
		printf(",\"digest\":\"%s\",\"padding\":\"%s\",\"detail\":", digest, pad_name);
		jcap_json_str(stdout, detail);
		printf("}\n");
	} else {
		printf("%s: %s\n", label(r), detail);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "jcap: verify-firmware: cannot write the result: %s\n",
			strerror(errno));
		return 1;
	}
	if (r == CAPTURE_VERIFY_VALID)
		return 0;
	fprintf(stderr, "jcap: %s: %s\n", image, label(r));
	return 1;
}
