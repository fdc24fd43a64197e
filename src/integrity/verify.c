/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Detached signature verification of firmware / program images (OpenSSL 3 EVP).
 * RSA (PKCS#1 v1.5 or PSS, SHA-256/384/512, streamed) and pure Ed25519 (whole
 * file in memory, capped). Every outcome maps to one enum capture_verify_result.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "packet_capture.h"
#include "util/compiler.h"
#include "util/io.h"
#include "util/log.h"
#include "util/opts.h"

#define VERIFY_MIN_RSA_BITS 2048
#define VERIFY_CHUNK (64 * 1024)
#define VERIFY_MAX_KEY_FILE (1024 * 1024) /* a PEM key or certificate is far smaller */
#define VERIFY_MAX_SIG_FILE (64 * 1024)	  /* RSA-16384 signatures are 2 KiB */
#define VERIFY_MAX_ED25519_IMAGE (256ull * 1024 * 1024)
#define ED25519_SIG_LEN 64

static const char *const result_names[] = {
	[CAPTURE_VERIFY_VALID] = "valid",
	[CAPTURE_VERIFY_INVALID_SIGNATURE] = "invalid_signature",
	[CAPTURE_VERIFY_WRONG_KEY_TYPE] = "wrong_key_type",
	[CAPTURE_VERIFY_UNREADABLE] = "unreadable",
	[CAPTURE_VERIFY_WEAK_KEY] = "weak_key",
};

const char *capture_verify_result_name(int result)
{
	if (result < 0 || (size_t)result >= PC_ARRAY_SIZE(result_names))
		return NULL;
	return result_names[result];
}

struct vctx {
	const char *image, *sig_path, *key_path;
	char *detail;
	size_t detail_len;
	const char *md_name;  /* OpenSSL digest name */
	const char *md_label; /* "SHA-256" */
	int padding;	      /* enum capture_sig_padding */
	EVP_PKEY *pkey;
	int bits;
	bool ed25519;
	bool rsa_pss_key; /* SubjectPublicKeyInfo says id-RSASSA-PSS */
	uint8_t *sig;
	size_t sig_len;
};

/* Write the one-line detail and return @result (a verify result or -errno). */
#define say(v, result, ...) pc_errf((v)->detail, (v)->detail_len, (result), __VA_ARGS__)

static const char *errtext(int err, char *buf, size_t len)
{
	/* GNU strerror_r: thread-safe, may return a static string */
	return strerror_r(err, buf, len);
}

/*
 * Open @path for reading as a regular file. Returns the fd, or -errno with
 * a special -EISDIR / -EINVAL (not a regular file) that the caller reports.
 */
static int open_regular(const char *path, struct stat *st)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (reads of a
	 * regular file ignore the flag) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (S_ISDIR(st->st_mode)) {
		close(fd);
		return -EISDIR;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int unreadable(struct vctx *v, const char *what, const char *path, int err)
{
	char eb[128];

	if (err == -EINVAL)
		return say(v, CAPTURE_VERIFY_UNREADABLE, "cannot read %s %s: not a regular file",
			   what, path);
	return say(v, CAPTURE_VERIFY_UNREADABLE, "cannot read %s %s: %s", what, path,
		   errtext(-err, eb, sizeof(eb)));
}

/*
 * Read a whole small file (key or signature) of at most @max bytes.
 * Returns 0, or a capture_verify_result with the detail written.
 */
static int slurp(struct vctx *v, const char *what, const char *path, size_t max, uint8_t **out,
		 size_t *out_len)
{
	struct stat st;
	uint8_t *buf;
	ssize_t got;
	int fd;

	fd = open_regular(path, &st);
	if (fd < 0)
		return unreadable(v, what, path, fd);
	if ((uint64_t)st.st_size > max) {
		close(fd);
		if (!strcmp(what, "signature"))
			return say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
				   "signature %s is %lld bytes: too large to be a signature", path,
				   (long long)st.st_size);
		return say(v, CAPTURE_VERIFY_UNREADABLE,
			   "cannot read %s %s: %lld bytes, too large for a key file", what, path,
			   (long long)st.st_size);
	}
	/* one byte more than the size so a file growing under us is noticed */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return unreadable(v, what, path, -ENOMEM);
	}
	got = pc_read_full(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (got < 0) {
		free(buf);
		return unreadable(v, what, path, (int)got);
	}
	if ((size_t)got != (size_t)st.st_size) {
		free(buf);
		return say(v, CAPTURE_VERIFY_UNREADABLE,
			   "cannot read %s %s: size changed while reading", what, path);
	}
	*out = buf;
	*out_len = (size_t)got;
	return 0;
}

/* ------------------------------------------------------------------ key */

static EVP_PKEY *pkey_from_der(const char *label, const unsigned char *der, long len)
{
	const unsigned char *p = der;
	EVP_PKEY *pk = NULL;
	X509 *x;

	if (!strcmp(label, "PUBLIC KEY")) {
		pk = d2i_PUBKEY(NULL, &p, len);
	} else if (!strcmp(label, "RSA PUBLIC KEY")) {
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	} else if (!strcmp(label, "CERTIFICATE")) {
		x = d2i_X509(NULL, &p, len);
		if (x) {
			pk = X509_get_pubkey(x);
			X509_free(x);
		}
	}
	return pk;
}

/*
 * Accepted: PEM "PUBLIC KEY" (SubjectPublicKeyInfo), PEM "RSA PUBLIC KEY"
 * (PKCS#1), PEM "CERTIFICATE" (its key is used; no chain or validity check),
 * or the same as DER. Private keys are refused as the wrong key type: the
 * verifying side should never hold the signing key.
 */
static int load_key(struct vctx *v)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio;
	bool saw_private = false, saw_pem = false;
	char bad_label[64] = "";
	int r;

	r = slurp(v, "public key", v->key_path, VERIFY_MAX_KEY_FILE, &buf, &len);
	if (r)
		return r;
	if (len == 0) {
		free(buf);
		return say(v, CAPTURE_VERIFY_UNREADABLE, "cannot read public key %s: file is empty",
			   v->key_path);
	}
	ERR_set_mark();
	bio = BIO_new_mem_buf(buf, (int)len);
	while (bio && !v->pkey) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen))
			break;
		saw_pem = true;
		if (strstr(name, "PRIVATE KEY")) {
			saw_private = true;
		} else {
			v->pkey = pkey_from_der(name, data, dlen);
			if (!v->pkey && !bad_label[0] &&
			    (strstr(name, "PUBLIC KEY") || !strcmp(name, "CERTIFICATE")))
				snprintf(bad_label, sizeof(bad_label), "%s", name);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(bio);
	if (!v->pkey && !saw_pem) {
		v->pkey = pkey_from_der("PUBLIC KEY", buf, (long)len);
		if (!v->pkey)
			v->pkey = pkey_from_der("CERTIFICATE", buf, (long)len);
	}
	ERR_pop_to_mark();
	free(buf);
	if (v->pkey)
		return 0;
	if (bad_label[0])
		return say(v, CAPTURE_VERIFY_UNREADABLE,
			   "cannot read public key %s: damaged PEM %s block", v->key_path,
			   bad_label);
	if (saw_private)
		return say(v, CAPTURE_VERIFY_WRONG_KEY_TYPE,
			   "public key %s holds a private key, not a public key "
			   "(extract one with: openssl pkey -in KEY -pubout)",
			   v->key_path);
	return say(v, CAPTURE_VERIFY_UNREADABLE,
		   "cannot read public key %s: not a PEM or DER public key or certificate",
		   v->key_path);
}

static int check_key(struct vctx *v)
{
	const char *type = EVP_PKEY_get0_type_name(v->pkey);
	char group[64];
	size_t glen = 0;

	if (EVP_PKEY_is_a(v->pkey, "ED25519")) {
		v->ed25519 = true;
		return 0;
	}
	if (EVP_PKEY_is_a(v->pkey, "RSA") || EVP_PKEY_is_a(v->pkey, "RSA-PSS")) {
		v->rsa_pss_key = EVP_PKEY_is_a(v->pkey, "RSA-PSS");
		v->bits = EVP_PKEY_get_bits(v->pkey);
		if (v->bits < VERIFY_MIN_RSA_BITS)
			return say(v, CAPTURE_VERIFY_WEAK_KEY,
				   "public key %s is RSA-%d: RSA keys under %d bits are refused",
				   v->key_path, v->bits, VERIFY_MIN_RSA_BITS);
		return 0;
	}
	group[0] = 0;
	ERR_set_mark();
	if (EVP_PKEY_get_group_name(v->pkey, group, sizeof(group), &glen) != 1)
		group[0] = 0;
	ERR_pop_to_mark();
	return say(v, CAPTURE_VERIFY_WRONG_KEY_TYPE,
		   "public key %s is a%s %s%s%s%s key; "
		   "only RSA (>= %d bits) and Ed25519 are accepted",
		   v->key_path, type && strchr("AEIOUaeiou", type[0]) ? "n" : "",
		   type ? type : "unknown", group[0] ? " (" : "", group, group[0] ? ")" : "",
		   VERIFY_MIN_RSA_BITS);
}

/* ------------------------------------------------------------ verifying */

static const char *pad_label(int padding)
{
	return padding == CAPTURE_SIG_PSS ? "RSASSA-PSS" : "RSASSA-PKCS1-v1_5";
}

static EVP_MD_CTX *rsa_ctx(struct vctx *v, int padding)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	if (!md)
		return NULL;
	if (EVP_DigestVerifyInit_ex(md, &pctx, v->md_name, NULL, NULL, v->pkey, NULL) != 1)
		goto fail;
	if (padding == CAPTURE_SIG_PSS) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1)
			goto fail;
		/* signers differ (openssl dgst uses the maximum, others the digest
		 * length): read the salt length from the signature */
		if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1)
			goto fail;
	} else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
		goto fail;
	}
	return md;
fail:
	EVP_MD_CTX_free(md);
	return NULL;
}

static int verify_rsa(struct vctx *v)
{
	EVP_MD_CTX *ctx[2] = { NULL, NULL };
	int pads[2], npad = 0, i, r, ok_pad = -1;
	size_t expect = (size_t)(v->bits + 7) / 8, got;
	ssize_t n;
	uint64_t total = 0;
	uint8_t *chunk = NULL;
	struct stat st;
	int fd;

	if (v->rsa_pss_key) {
		if (v->padding == CAPTURE_SIG_PKCS1)
			return say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
				   "public key %s is an RSA-PSS key: it verifies RSASSA-PSS "
				   "signatures only (use padding pss or auto)",
				   v->key_path);
		pads[npad++] = CAPTURE_SIG_PSS;
	} else if (v->padding == CAPTURE_SIG_AUTO) {
		pads[npad++] = CAPTURE_SIG_PKCS1;
		pads[npad++] = CAPTURE_SIG_PSS;
	} else {
		pads[npad++] = v->padding;
	}
	fd = open_regular(v->image, &st);
	if (fd < 0)
		return unreadable(v, "image", v->image, fd);
	if (v->sig_len != expect) {
		r = say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
			"signature %s is %zu bytes; an RSA-%d signature is %zu bytes", v->sig_path,
			v->sig_len, v->bits, expect);
		goto out;
	}
	chunk = malloc(VERIFY_CHUNK);
	if (!chunk) {
		r = unreadable(v, "image", v->image, -ENOMEM);
		goto out;
	}
	for (i = 0; i < npad; i++) {
		ctx[i] = rsa_ctx(v, pads[i]);
		if (!ctx[i]) {
			r = -CAPTURE_E_CRYPTO;
			say(v, r, "OpenSSL cannot set up %s with %s", pad_label(pads[i]),
			    v->md_label);
			goto out;
		}
	}
	/* one pass over the file feeds every candidate padding */
	for (;;) {
		n = pc_read_full(fd, chunk, VERIFY_CHUNK);
		if (n < 0) {
			r = unreadable(v, "image", v->image, (int)n);
			goto out;
		}
		got = (size_t)n;
		if (got == 0)
			break;
		total += got;
		for (i = 0; i < npad; i++) {
			if (EVP_DigestVerifyUpdate(ctx[i], chunk, got) != 1) {
				r = -CAPTURE_E_CRYPTO;
				say(v, r, "OpenSSL digest update failed");
				goto out;
			}
		}
		if (got < VERIFY_CHUNK)
			break;
	}
	for (i = 0; i < npad && ok_pad < 0; i++) {
		ERR_set_mark();
		if (EVP_DigestVerifyFinal(ctx[i], v->sig, v->sig_len) == 1)
			ok_pad = pads[i];
		ERR_pop_to_mark();
	}
	if (ok_pad >= 0) {
		r = say(v, CAPTURE_VERIFY_VALID,
			"%s %s signature verified with RSA-%d key %s over %s (%llu bytes)",
			pad_label(ok_pad), v->md_label, v->bits, v->key_path, v->image,
			(unsigned long long)total);
	} else if (npad == 2) {
		r = say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
			"neither RSASSA-PKCS1-v1_5 nor RSASSA-PSS %s signature %s matches "
			"%s (%llu bytes) under RSA-%d key %s",
			v->md_label, v->sig_path, v->image, (unsigned long long)total, v->bits,
			v->key_path);
	} else {
		r = say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
			"%s %s signature %s does not match %s (%llu bytes) under RSA-%d key %s",
			pad_label(pads[0]), v->md_label, v->sig_path, v->image,
			(unsigned long long)total, v->bits, v->key_path);
	}
out:
	for (i = 0; i < npad; i++)
		EVP_MD_CTX_free(ctx[i]);
	free(chunk);
	close(fd);
	return r;
}

/* Pure Ed25519 signs the message itself, not a digest: the whole file is needed. */
static int verify_ed25519(struct vctx *v)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *img = NULL;
	struct stat st;
	size_t got;
	ssize_t n;
	int fd, r, ok;

	fd = open_regular(v->image, &st);
	if (fd < 0)
		return unreadable(v, "image", v->image, fd);
	if (v->sig_len != ED25519_SIG_LEN) {
		r = say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
			"signature %s is %zu bytes; an Ed25519 signature is %d bytes", v->sig_path,
			v->sig_len, ED25519_SIG_LEN);
		goto out;
	}
	if ((uint64_t)st.st_size > VERIFY_MAX_ED25519_IMAGE) {
		r = say(v, CAPTURE_VERIFY_UNREADABLE,
			"cannot read image %s: %lld bytes is over the %llu MiB limit for Ed25519 "
			"(pure Ed25519 needs the whole image in memory; "
			"sign large images with RSA)",
			v->image, (long long)st.st_size, VERIFY_MAX_ED25519_IMAGE >> 20);
		goto out;
	}
	img = malloc((size_t)st.st_size + 1);
	if (!img) {
		r = unreadable(v, "image", v->image, -ENOMEM);
		goto out;
	}
	n = pc_read_full(fd, img, (size_t)st.st_size + 1);
	if (n < 0) {
		r = unreadable(v, "image", v->image, (int)n);
		goto out;
	}
	got = (size_t)n;
	if (got != (size_t)st.st_size) {
		r = say(v, CAPTURE_VERIFY_UNREADABLE,
			"cannot read image %s: size changed while reading", v->image);
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, v->pkey, NULL) != 1) {
		r = -CAPTURE_E_CRYPTO;
		say(v, r, "OpenSSL cannot set up Ed25519 verification");
		goto out;
	}
	ERR_set_mark();
	ok = EVP_DigestVerify(md, v->sig, v->sig_len, img, got);
	ERR_pop_to_mark();
	if (ok == 1)
		r = say(v, CAPTURE_VERIFY_VALID,
			"Ed25519 signature verified with key %s over %s (%zu bytes)", v->key_path,
			v->image, got);
	else
		r = say(v, CAPTURE_VERIFY_INVALID_SIGNATURE,
			"Ed25519 signature %s does not match %s (%zu bytes) under key %s",
			v->sig_path, v->image, got, v->key_path);
out:
	EVP_MD_CTX_free(md);
	free(img);
	close(fd);
	return r;
}

static int pick_digest(struct vctx *v, const char *name)
{
	static const struct {
		const char *name, *alt, *md, *label;
	} tab[] = {
		{ "sha256", "sha-256", "SHA256", "SHA-256" },
		{ "sha384", "sha-384", "SHA384", "SHA-384" },
		{ "sha512", "sha-512", "SHA512", "SHA-512" },
	};
	size_t i;

	if (!name || !name[0])
		name = "sha256";
	for (i = 0; i < PC_ARRAY_SIZE(tab); i++) {
		if (!strcasecmp(name, tab[i].name) || !strcasecmp(name, tab[i].alt)) {
			v->md_name = tab[i].md;
			v->md_label = tab[i].label;
			return 0;
		}
	}
	return say(v, -EINVAL, "unsupported digest '%s' (sha256, sha384 or sha512)", name);
}

int capture_verify_firmware(const char *image, const char *signature, const char *public_key,
			    const struct capture_verify_opts *opts, char *detail, size_t detail_len)
{
	struct vctx v = {
		.image = image,
		.sig_path = signature,
		.key_path = public_key,
		.detail = detail,
		.detail_len = detail_len,
		.padding = CAPTURE_SIG_PKCS1,
	};
	const char *digest = NULL;
	int r;

	if (detail && detail_len)
		detail[0] = 0;
	if (!image || !signature || !public_key || !image[0] || !signature[0] || !public_key[0])
		return say(&v, -EINVAL, "image, signature and public key paths are required");
	if (opts) {
		struct capture_verify_opts o;
		size_t need = offsetof(struct capture_verify_opts, padding) + sizeof(o.padding);

		/* an argument error like any other here (-EINVAL, documented) */
		if (pc_opts_copy(&o, sizeof(o), opts, need, "capture_verify_opts", detail,
				 detail_len) < 0)
			return -EINVAL;
		digest = o.digest;
		v.padding = o.padding;
		if (v.padding > CAPTURE_SIG_AUTO)
			return say(&v, -EINVAL, "unknown signature padding %d", v.padding);
	}
	r = pick_digest(&v, digest);
	if (r)
		return r;

	/* keep OpenSSL's per-thread error queue as the caller left it */
	ERR_set_mark();
	r = load_key(&v);
	if (r)
		goto out;
	r = check_key(&v);
	if (r)
		goto out;
	r = slurp(&v, "signature", signature, VERIFY_MAX_SIG_FILE, &v.sig, &v.sig_len);
	if (r)
		goto out;
	/* the digest and padding options apply to RSA only: Ed25519 hashes
	 * internally with SHA-512 and has no padding */
	r = v.ed25519 ? verify_ed25519(&v) : verify_rsa(&v);
out:
	ERR_pop_to_mark();
	free(v.sig);
	EVP_PKEY_free(v.pkey);
	return r;
}
