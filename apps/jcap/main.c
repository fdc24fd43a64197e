/* SPDX-License-Identifier: BSD-3-Clause */
/* jcap: command line front end over the public libpacket_capture API. */
#include <stdio.h>
#include <string.h>

#include "jcap.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "backends", jcap_cmd_backends, "list capture backends and why each is (un)available" },
	{ "decrypt", jcap_cmd_decrypt, "decrypt a stored capture: decrypt --key FILE IN OUT" },
	{ "verify-firmware", jcap_cmd_verify_firmware,
	  "verify a detached signature: --image F --sig S --pubkey K" },
	{ "query", jcap_cmd_query, "query a SQLite flow store: query DB [filters]" },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc >= 2) {
		if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version") ||
		    !strcmp(argv[1], "-V"))
			return jcap_print_version(stdout);
		for (i = 0; i < JCAP_ARRAY_SIZE(cmds); i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
	}
	return jcap_cmd_meter(argc, argv);
}

int jcap_print_version(FILE *fp)
{
	struct capture_backend_info info[16];
	char build[1024];
	int n, i;

	/* the program is built with the library: one version for both */
	fprintf(fp, "jcap %s\nlibpacket_capture %s\n", capture_version(), capture_version());
	n = capture_list_backends(info, JCAP_ARRAY_SIZE(info));
	if (n > (int)JCAP_ARRAY_SIZE(info))
		n = (int)JCAP_ARRAY_SIZE(info);
	for (i = 0; i < n; i++)
		fprintf(fp, "backend %-9s %-3s %s\n", info[i].name,
			info[i].available ? "yes" : "no", info[i].reason);
	if (capture_build_info(build, sizeof(build)) > 0)
		fputs(build, fp);
	return fflush(fp) ? JCAP_EXIT_FAIL : JCAP_EXIT_OK;
}

void jcap_print_subcommands(FILE *fp)
{
	size_t i;

	for (i = 0; i < JCAP_ARRAY_SIZE(cmds); i++)
		fprintf(fp, "  jcap %-16s %s\n", cmds[i].name, cmds[i].help);
	fprintf(fp, "  jcap %-16s %s\n", "version", "print the version");
}
