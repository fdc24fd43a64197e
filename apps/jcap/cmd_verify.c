/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap verify-firmware`: check a detached signature over an image with
 * capture_verify_firmware(). Exit 0 only when valid, 1 for any other result,
 * 2 for a usage error.
 */
#include <errno.h>
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

static const char *const digest_names[] = { "sha256", "sha384", "sha512", NULL };
/* indexed by enum capture_sig_padding */
static const char *const padding_names[] = { "pkcs1", "pss", "auto", NULL };
static const char *const format_names[] = { "text", "json", NULL };

struct verify_args {
	const char *image, *sig, *key;
	int digest; /* index in digest_names, -1: the library's default */
	uint8_t padding;
	int json;
};

#define F(member) JCAP_FIELD(struct verify_args, member)

static const struct jcap_opt verify_opts[] = {
	JCAP_STR(0, "image", "FILE", F(image), NULL),
	{ .name = "sig", .alias = "signature", .arg = "FILE", .kind = JCAP_OPT_STR, F(sig) },
	JCAP_STR(0, "pubkey", "FILE", F(key), NULL),
	JCAP_ENUM(0, "digest", "NAME", F(digest), digest_names, "digest", NULL),
	JCAP_ENUM(0, "padding", "NAME", F(padding), padding_names, "padding", NULL),
	JCAP_ENUM('F', "format", "FMT", F(json), format_names, "format", NULL),
	JCAP_HELP('h', "help"),
};

static const struct jcap_cmd verify_cmd = JCAP_CMD("verify-firmware", verify_opts, usage, true);

static void print_json(const struct verify_args *a, int r, const char *detail)
{
	printf("{\"result\":");
	jcap_json_str(stdout, r >= 0 ? capture_verify_result_name(r) : "error");
	printf(",\"valid\":%s,\"image\":", r == CAPTURE_VERIFY_VALID ? "true" : "false");
	jcap_json_str(stdout, a->image);
	printf(",\"signature\":");
	jcap_json_str(stdout, a->sig);
	printf(",\"pubkey\":");
	jcap_json_str(stdout, a->key);
	printf(",\"digest\":\"%s\",\"padding\":\"%s\",\"detail\":",
	       digest_names[a->digest < 0 ? 0 : a->digest], padding_names[a->padding]);
	jcap_json_str(stdout, detail);
	printf("}\n");
}

int jcap_cmd_verify_firmware(int argc, char **argv)
{
	struct verify_args a = { .digest = -1, .padding = CAPTURE_SIG_PKCS1 };
	struct capture_verify_opts o = { .sz = sizeof(o) };
	char detail[1024];
	int n, r;

	n = jcap_opts_parse(&verify_cmd, argc, argv, &a);
	if (n <= 0)
		return n < 0 ? JCAP_EXIT_USAGE : JCAP_EXIT_OK;
	if (n < argc)
		return jcap_usage_err(&verify_cmd, "unexpected argument '%s'", argv[n]);
	if (!a.image || !a.sig || !a.key || !a.image[0] || !a.sig[0] || !a.key[0])
		return jcap_usage_err(&verify_cmd, "--image, --sig and --pubkey are required");
	o.digest = a.digest < 0 ? NULL : digest_names[a.digest];
	o.padding = a.padding;

	r = capture_verify_firmware(a.image, a.sig, a.key, &o, detail, sizeof(detail));
	if (r < 0 && !detail[0])
		snprintf(detail, sizeof(detail), "%s", capture_strerror(r));
	if (a.json)
		print_json(&a, r, detail);
	else
		printf("%s: %s\n", label(r), detail);
	if (fflush(stdout) != 0) {
		jcap_err("verify-firmware: cannot write the result: %s", strerror(errno));
		return JCAP_EXIT_FAIL;
	}
	if (r == CAPTURE_VERIFY_VALID)
		return JCAP_EXIT_OK;
	jcap_err("%s: %s", a.image, label(r));
	return JCAP_EXIT_FAIL;
}
