/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap decrypt --key FILE IN OUT`: restore the pcap/pcapng inside an
 * encrypted capture with capture_decrypt_file(). OUT appears only once every
 * chunk has been authenticated. Exit 0 ok, 1 failure (one line), 2 usage.
 */
#include <stdio.h>

#include "jcap.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: jcap decrypt --key FILE IN OUT\n"
		   "  Decrypt a capture written with --encrypt-key. The key file holds 32 raw\n"
		   "  bytes or 64 hex digits. OUT is written only when IN verifies completely;\n"
		   "  a wrong key, a damaged or a truncated IN exits 1 and leaves no OUT.\n");
}

struct decrypt_args {
	const char *key;
};

static const struct jcap_opt decrypt_opts[] = {
	JCAP_STR('k', "key", "FILE", JCAP_FIELD(struct decrypt_args, key), NULL),
	JCAP_HELP('h', "help"),
};

static const struct jcap_cmd decrypt_cmd = JCAP_CMD("decrypt", decrypt_opts, usage, false);

int jcap_cmd_decrypt(int argc, char **argv)
{
	struct decrypt_args a = { NULL };
	char err[1024] = "";
	int n, r;

	n = jcap_opts_parse(&decrypt_cmd, argc, argv, &a);
	if (n <= 0)
		return n < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	if (!a.key || !a.key[0])
		return jcap_usage_err(&decrypt_cmd, "--key FILE is required");
	if (argc - n != 2)
		return jcap_usage_err(&decrypt_cmd, "need exactly IN and OUT");
	if (!argv[n][0] || !argv[n + 1][0]) {
		jcap_err("decrypt: empty file name");
		return JCAP_EXIT_USAGE;
	}
	r = capture_decrypt_file(a.key, argv[n], argv[n + 1], err, sizeof(err));
	if (r < 0) {
		jcap_lib_err(err, r);
		return JCAP_EXIT_FAIL;
	}
	return JCAP_EXIT_OK;
}
