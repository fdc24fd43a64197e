/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of capture_verify_firmware(): keys and signatures are made with
 * the openssl command at test time in a fresh temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "packet_capture.h"
#include "check.h"

static char dir[64];

static const char *path(const char *name)
{
	static char bufs[8][512];
	static int k;
	char *b = bufs[k++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command (openssl), quiet; returns its exit status. */
static int sh(const char *fmt, ...)
{
	char body[2048], cmd[2100];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", body);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void write_file(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", p);
		exit(1);
	}
}

/* Flip one bit of byte @off in file @src, written to @dst. */
static void flip_copy(const char *src, const char *dst, long off)
{
	static unsigned char buf[1 << 20];
	FILE *f = fopen(src, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "cannot read %s\n", src);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (off < 0)
		off += (long)n;
	buf[off] ^= 0x01;
	write_file(dst, buf, n);
}

static int verify(const char *img, const char *sig, const char *key, const char *digest,
		  int padding, char *detail, size_t len)
{
	struct capture_verify_opts o = { .sz = sizeof(o),
					 .digest = digest,
					 .padding = (uint8_t)padding };

	return capture_verify_firmware(path(img), path(sig), path(key), &o, detail, len);
}

#define EXPECT(res, substr, img, sig, key, dg, pad)                                            \
	do {                                                                                   \
		char d_[1024];                                                                 \
		int r_ = verify(img, sig, key, dg, pad, d_, sizeof(d_));                       \
		if (r_ != (res) || !strstr(d_, substr)) {                                      \
			fprintf(stderr,                                                        \
				"%s:%d: verify(%s,%s,%s,%s,%d) = %d (%s), want %d "            \
				"with \"%s\"\n",                                               \
				__FILE__, __LINE__, img, sig, key, dg ? dg : "-", pad, r_, d_, \
				res, substr);                                                  \
			failures++;                                                            \
		}                                                                              \
	} while (0)

static void make_keys(void)
{
	/* an image over several 64 KiB read chunks, not a multiple of one */
	static unsigned char img[200003];
	size_t i;

	for (i = 0; i < sizeof(img); i++)
		img[i] = (unsigned char)(i * 2654435761u >> 13);
	write_file(path("image.bin"), img, sizeof(img));
	write_file(path("empty.bin"), "", 0);
	write_file(path("garbage.pem"), "hello, not a key\n", 17);

	CHECK(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out %s",
		 path("rsa4096.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s",
		 path("rsa2048.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s",
		 path("other2048.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s",
		 path("rsa1024.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm ED25519 -out %s", path("ed.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm ED25519 -out %s", path("ed_other.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s",
		 path("ec.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm ED448 -out %s", path("ed448.pem")) == 0);
	CHECK(sh("openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out %s",
		 path("rsapss.pem")) == 0);
	static const char *const keys[] = { "rsa4096",	"rsa2048", "other2048", "rsa1024", "ed",
					    "ed_other", "ec",	   "ed448",	"rsapss" };
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char pub[64], priv[64];

		snprintf(priv, sizeof(priv), "%s.pem", keys[i]);
		snprintf(pub, sizeof(pub), "%s.pub", keys[i]);
		CHECK(sh("openssl pkey -in %s -pubout -out %s", path(priv), path(pub)) == 0);
	}
	CHECK(sh("openssl pkey -in %s -pubin -outform DER -out %s", path("rsa2048.pub"),
		 path("rsa2048.der")) == 0);
	CHECK(sh("openssl rsa -in %s -RSAPublicKey_out -out %s", path("rsa2048.pem"),
		 path("rsa2048.pkcs1")) == 0);
	CHECK(sh("openssl req -x509 -new -key %s -subj /CN=fw-signer -days 2 -out %s",
		 path("rsa2048.pem"), path("rsa2048.crt")) == 0);
	CHECK(sh("openssl req -x509 -new -key %s -subj /CN=ec-signer -days 2 -out %s",
		 path("ec.pem"), path("ec.crt")) == 0);
}

static void test_names(void)
{
	CHECK(!strcmp(capture_verify_result_name(CAPTURE_VERIFY_VALID), "valid"));
	CHECK(!strcmp(capture_verify_result_name(CAPTURE_VERIFY_INVALID_SIGNATURE),
		      "invalid_signature"));
	CHECK(!strcmp(capture_verify_result_name(CAPTURE_VERIFY_WRONG_KEY_TYPE), "wrong_key_type"));
	CHECK(!strcmp(capture_verify_result_name(CAPTURE_VERIFY_UNREADABLE), "unreadable"));
	CHECK(!strcmp(capture_verify_result_name(CAPTURE_VERIFY_WEAK_KEY), "weak_key"));
	CHECK(capture_verify_result_name(5) == NULL);
	CHECK(capture_verify_result_name(-1) == NULL);
}

static void test_rsa(void)
{
	static const char *const dg[] = { "sha256", "sha384", "sha512" };
	static const char *const label[] = { "SHA-256", "SHA-384", "SHA-512" };
	char sig[64], want[128];
	int i;

	for (i = 0; i < 3; i++) {
		/* PKCS#1 v1.5, exactly as `openssl dgst -sign` writes it */
		snprintf(sig, sizeof(sig), "v15_%s.sig", dg[i]);
		CHECK(sh("openssl dgst -%s -sign %s -out %s %s", dg[i], path("rsa4096.pem"),
			 path(sig), path("image.bin")) == 0);
		snprintf(want, sizeof(want),
			 "RSASSA-PKCS1-v1_5 %s signature verified with RSA-4096", label[i]);
		EXPECT(CAPTURE_VERIFY_VALID, want, "image.bin", sig, "rsa4096.pub", dg[i],
		       CAPTURE_SIG_PKCS1);
		EXPECT(CAPTURE_VERIFY_VALID, want, "image.bin", sig, "rsa4096.pub", dg[i],
		       CAPTURE_SIG_AUTO);
		EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "RSASSA-PSS", "image.bin", sig,
		       "rsa4096.pub", dg[i], CAPTURE_SIG_PSS);
		/* the signature was made over another digest */
		EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "image.bin", sig,
		       "rsa4096.pub", dg[(i + 1) % 3], CAPTURE_SIG_PKCS1);

		/* PSS, with openssl's default (maximum) salt length */
		snprintf(sig, sizeof(sig), "pss_%s.sig", dg[i]);
		CHECK(sh("openssl dgst -%s -sigopt rsa_padding_mode:pss -sign %s -out %s %s", dg[i],
			 path("rsa4096.pem"), path(sig), path("image.bin")) == 0);
		snprintf(want, sizeof(want), "RSASSA-PSS %s signature verified with RSA-4096",
			 label[i]);
		EXPECT(CAPTURE_VERIFY_VALID, want, "image.bin", sig, "rsa4096.pub", dg[i],
		       CAPTURE_SIG_PSS);
		EXPECT(CAPTURE_VERIFY_VALID, want, "image.bin", sig, "rsa4096.pub", dg[i],
		       CAPTURE_SIG_AUTO);
		EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "RSASSA-PKCS1-v1_5 ", "image.bin", sig,
		       "rsa4096.pub", dg[i], CAPTURE_SIG_PKCS1);
	}
	/* PSS with a digest-length salt, as other signers make it */
	CHECK(sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest "
		 "-sign %s -out %s %s",
		 path("rsa2048.pem"), path("pss_d.sig"), path("image.bin")) == 0);
	EXPECT(CAPTURE_VERIFY_VALID, "RSASSA-PSS SHA-256 signature verified with RSA-2048",
	       "image.bin", "pss_d.sig", "rsa2048.pub", NULL, CAPTURE_SIG_PSS);

	/* 2048-bit key, default options (NULL opts: sha256, PKCS#1 v1.5) */
	CHECK(sh("openssl dgst -sha256 -sign %s -out %s %s", path("rsa2048.pem"), path("r2048.sig"),
		 path("image.bin")) == 0);
	{
		char d[512];
		int r = capture_verify_firmware(path("image.bin"), path("r2048.sig"),
						path("rsa2048.pub"), NULL, d, sizeof(d));

		CHECK(r == CAPTURE_VERIFY_VALID);
		CHECK(strstr(d, "RSASSA-PKCS1-v1_5 SHA-256 signature verified with RSA-2048"));
		CHECK(strstr(d, "(200003 bytes)") != NULL);
		/* detail is optional */
		CHECK(capture_verify_firmware(path("image.bin"), path("r2048.sig"),
					      path("rsa2048.pub"), NULL, NULL, 0) == 0);
	}
	/* the same key as DER, as PKCS#1 "RSA PUBLIC KEY" and inside a certificate */
	EXPECT(CAPTURE_VERIFY_VALID, "RSA-2048", "image.bin", "r2048.sig", "rsa2048.der", NULL, 0);
	EXPECT(CAPTURE_VERIFY_VALID, "RSA-2048", "image.bin", "r2048.sig", "rsa2048.pkcs1", NULL,
	       0);
	EXPECT(CAPTURE_VERIFY_VALID, "RSA-2048", "image.bin", "r2048.sig", "rsa2048.crt", NULL, 0);

	/* another key of the same type and size */
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "RSASSA-PKCS1-v1_5 SHA-256 signature", "image.bin",
	       "r2048.sig", "other2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "neither RSASSA-PKCS1-v1_5 nor RSASSA-PSS",
	       "image.bin", "r2048.sig", "other2048.pub", NULL, CAPTURE_SIG_AUTO);
	/* one flipped bit in the image: first byte, middle, last */
	flip_copy(path("image.bin"), path("img_flip0.bin"), 0);
	flip_copy(path("image.bin"), path("img_flipm.bin"), 100000);
	flip_copy(path("image.bin"), path("img_flipz.bin"), -1);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "img_flip0.bin", "r2048.sig",
	       "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "img_flipm.bin", "r2048.sig",
	       "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "img_flipz.bin", "r2048.sig",
	       "rsa2048.pub", NULL, 0);
	/* one flipped bit in the signature */
	flip_copy(path("r2048.sig"), path("r2048_flip.sig"), 17);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "image.bin", "r2048_flip.sig",
	       "rsa2048.pub", NULL, CAPTURE_SIG_PKCS1);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "neither", "image.bin", "r2048_flip.sig",
	       "rsa2048.pub", NULL, CAPTURE_SIG_AUTO);
	/* a signature of the wrong length */
	write_file(path("short.sig"), "0123456789", 10);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "is 10 bytes; an RSA-2048 signature is 256 bytes",
	       "image.bin", "short.sig", "rsa2048.pub", NULL, 0);
	write_file(path("empty.sig"), "", 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "is 0 bytes", "image.bin", "empty.sig",
	       "rsa2048.pub", NULL, 0);
	/* an empty image signs and verifies */
	CHECK(sh("openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sign %s -out %s %s",
		 path("rsa2048.pem"), path("empty.sig2"), path("empty.bin")) == 0);
	EXPECT(CAPTURE_VERIFY_VALID, "(0 bytes)", "empty.bin", "empty.sig2", "rsa2048.pub",
	       "sha512", CAPTURE_SIG_AUTO);

	/* a key whose SubjectPublicKeyInfo is id-RSASSA-PSS */
	CHECK(sh("openssl dgst -sha256 -sign %s -out %s %s", path("rsapss.pem"), path("rsapss.sig"),
		 path("image.bin")) == 0);
	EXPECT(CAPTURE_VERIFY_VALID, "RSASSA-PSS SHA-256 signature verified with RSA-2048",
	       "image.bin", "rsapss.sig", "rsapss.pub", NULL, CAPTURE_SIG_AUTO);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "is an RSA-PSS key", "image.bin", "rsapss.sig",
	       "rsapss.pub", NULL, CAPTURE_SIG_PKCS1);
}

static void test_weak(void)
{
	CHECK(sh("openssl dgst -sha256 -sign %s -out %s %s", path("rsa1024.pem"), path("r1024.sig"),
		 path("image.bin")) == 0);
	EXPECT(CAPTURE_VERIFY_WEAK_KEY, "is RSA-1024: RSA keys under 2048 bits are refused",
	       "image.bin", "r1024.sig", "rsa1024.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_WEAK_KEY, "RSA-1024", "image.bin", "r1024.sig", "rsa1024.pub",
	       "sha512", CAPTURE_SIG_AUTO);
}

static void test_ed25519(void)
{
	CHECK(sh("openssl pkeyutl -sign -inkey %s -rawin -in %s -out %s", path("ed.pem"),
		 path("image.bin"), path("ed.sig")) == 0);
	EXPECT(CAPTURE_VERIFY_VALID, "Ed25519 signature verified with key", "image.bin", "ed.sig",
	       "ed.pub", NULL, 0);
	/* digest and padding options do not apply to pure Ed25519 */
	EXPECT(CAPTURE_VERIFY_VALID, "Ed25519 signature verified", "image.bin", "ed.sig", "ed.pub",
	       "sha384", CAPTURE_SIG_PSS);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "Ed25519 signature", "image.bin", "ed.sig",
	       "ed_other.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "img_flipm.bin", "ed.sig",
	       "ed.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "img_flipz.bin", "ed.sig",
	       "ed.pub", NULL, 0);
	flip_copy(path("ed.sig"), path("ed_flip.sig"), 40);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "image.bin", "ed_flip.sig",
	       "ed.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "an Ed25519 signature is 64 bytes", "image.bin",
	       "r2048.sig", "ed.pub", NULL, 0);
	/* an RSA signature checked with an Ed25519 key, and the reverse */
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "is 64 bytes; an RSA-2048 signature is 256",
	       "image.bin", "ed.sig", "rsa2048.pub", NULL, 0);
	/* (openssl pkeyutl refuses to sign an empty file: use one byte) */
	write_file(path("one.bin"), "x", 1);
	CHECK(sh("openssl pkeyutl -sign -inkey %s -rawin -in %s -out %s", path("ed.pem"),
		 path("one.bin"), path("ed_one.sig")) == 0);
	EXPECT(CAPTURE_VERIFY_VALID, "(1 bytes)", "one.bin", "ed_one.sig", "ed.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_INVALID_SIGNATURE, "does not match", "empty.bin", "ed_one.sig",
	       "ed.pub", NULL, 0);
}

static void test_wrong_key_type(void)
{
	CHECK(sh("openssl dgst -sha256 -sign %s -out %s %s", path("ec.pem"), path("ec.sig"),
		 path("image.bin")) == 0);
	EXPECT(CAPTURE_VERIFY_WRONG_KEY_TYPE,
	       "is an EC (prime256v1) key; only RSA (>= 2048 bits) and Ed25519 are accepted",
	       "image.bin", "ec.sig", "ec.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_WRONG_KEY_TYPE, "is an EC (prime256v1) key", "image.bin", "ec.sig",
	       "ec.crt", NULL, 0);
	EXPECT(CAPTURE_VERIFY_WRONG_KEY_TYPE, "is an ED448 key", "image.bin", "ec.sig", "ed448.pub",
	       NULL, 0);
	/* private keys are refused: the verifier must not hold the signing key */
	EXPECT(CAPTURE_VERIFY_WRONG_KEY_TYPE, "holds a private key, not a public key", "image.bin",
	       "r2048.sig", "rsa2048.pem", NULL, 0);
	EXPECT(CAPTURE_VERIFY_WRONG_KEY_TYPE, "holds a private key", "image.bin", "ed.sig",
	       "ed.pem", NULL, 0);
}

static void test_unreadable(void)
{
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "cannot read image ", "missing.bin", "r2048.sig",
	       "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "missing.bin: No such file or directory", "missing.bin",
	       "r2048.sig", "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "missing.bin: No such file or directory", "missing.bin",
	       "ed.sig", "ed.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "cannot read signature ", "image.bin", "missing.sig",
	       "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "missing.sig: No such file or directory", "image.bin",
	       "missing.sig", "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "cannot read public key ", "image.bin", "r2048.sig",
	       "missing.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "missing.pub: No such file or directory", "image.bin",
	       "r2048.sig", "missing.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "not a PEM or DER public key or certificate", "image.bin",
	       "r2048.sig", "garbage.pem", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "file is empty", "image.bin", "r2048.sig", "empty.bin",
	       NULL, 0);
	CHECK(mkdir(path("adir"), 0700) == 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "adir: Is a directory", "adir", "r2048.sig",
	       "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "not a regular file", "image.bin", "r2048.sig",
	       "../../dev/null", NULL, 0);
	/* a FIFO without a writer: refused at once, never waited on */
	CHECK(mkfifo(path("fifo"), 0600) == 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "fifo: not a regular file", "fifo", "r2048.sig",
	       "rsa2048.pub", NULL, 0);
	EXPECT(CAPTURE_VERIFY_UNREADABLE, "fifo: not a regular file", "image.bin", "fifo",
	       "rsa2048.pub", NULL, 0);
	{
		/* a damaged PEM body */
		FILE *f = fopen(path("damaged.pub"), "w");

		CHECK(f != NULL);
		fputs("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
		      "-----END PUBLIC KEY-----\n",
		      f);
		fclose(f);
		EXPECT(CAPTURE_VERIFY_UNREADABLE, "damaged PEM PUBLIC KEY block", "image.bin",
		       "r2048.sig", "damaged.pub", NULL, 0);
	}
	{
		/* pure Ed25519 needs the whole image in memory: capped (a sparse file) */
		int fd = open(path("huge.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

		CHECK(fd >= 0 && ftruncate(fd, (257ll << 20)) == 0);
		close(fd);
		EXPECT(CAPTURE_VERIFY_UNREADABLE, "is over the 256 MiB limit for Ed25519",
		       "huge.bin", "ed.sig", "ed.pub", NULL, 0);
	}
	if (geteuid() != 0) {
		CHECK(chmod(path("image.bin"), 0) == 0);
		EXPECT(CAPTURE_VERIFY_UNREADABLE, "Permission denied", "image.bin", "r2048.sig",
		       "rsa2048.pub", NULL, 0);
		CHECK(chmod(path("image.bin"), 0644) == 0);
	}
}

static void test_args(void)
{
	struct capture_verify_opts o = { .sz = sizeof(o) };
	char d[256];

	CHECK(capture_verify_firmware(NULL, "a", "b", NULL, d, sizeof(d)) == -EINVAL);
	CHECK(capture_verify_firmware("a", "", "b", NULL, d, sizeof(d)) == -EINVAL);
	o.digest = "md5";
	CHECK(capture_verify_firmware(path("image.bin"), path("r2048.sig"), path("rsa2048.pub"), &o,
				      d, sizeof(d)) == -EINVAL);
	CHECK(!strcmp(d, "unsupported digest 'md5' (sha256, sha384 or sha512)"));
	o.digest = "SHA-256";
	CHECK(capture_verify_firmware(path("image.bin"), path("r2048.sig"), path("rsa2048.pub"), &o,
				      d, sizeof(d)) == CAPTURE_VERIFY_VALID);
	o.digest = NULL;
	o.padding = 7;
	CHECK(capture_verify_firmware(path("image.bin"), path("r2048.sig"), path("rsa2048.pub"), &o,
				      d, sizeof(d)) == -EINVAL);
	CHECK(!strcmp(d, "unknown signature padding 7"));
	o.padding = 0;
	o.sz = 4;
	CHECK(capture_verify_firmware(path("image.bin"), path("r2048.sig"), path("rsa2048.pub"), &o,
				      d, sizeof(d)) == -EINVAL);
	/* a tiny detail buffer is truncated, never overrun */
	CHECK(capture_verify_firmware(path("image.bin"), path("r2048.sig"), path("rsa2048.pub"),
				      NULL, d, 6) == CAPTURE_VERIFY_VALID);
	CHECK(!strcmp(d, "RSASS"));
}

int main(void)
{
	int st;

	if (sh("openssl version") != 0) {
		fprintf(stderr, "SKIP: the openssl command is not installed\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/pc_verify.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_keys();
	test_names();
	test_rsa();
	test_weak();
	test_ed25519();
	test_wrong_key_type();
	test_unreadable();
	test_args();

	st = sh("rm -rf %s", dir);
	if (st != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
	return check_finish("unit.verify");
}
