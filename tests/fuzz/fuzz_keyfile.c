/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for key files (pc_crypt_key_load: jcap --key, jcapd's
 * decrypt key, capture_set_encryption). The input is the file, served from a
 * memfd through its /proc/self/fd path; size % 3 picks the cipher. The result
 * is checked against the documented format (32 raw bytes, or 64 hex digits
 * with surrounding whitespace, in at most 256 bytes) and key id (the first 8
 * bytes of HMAC-SHA256(key, "jcap key id"), docs/STORAGE.md); a refused key
 * leaves the struct wiped and a message naming the file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_FILE_MAX 256

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_keyfile: invariant violated: %s\n", what);
	abort();
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The key the format says @d holds, or false when it holds none. */
static bool expected_key(const uint8_t *d, size_t n, uint8_t key[32])
{
	size_t a = 0, b = n, i;

	if (n == 32) {
		memcpy(key, d, 32);
		return true;
	}
	if (n > KEY_FILE_MAX)
		return false;
	while (a < b && space(d[a]))
		a++;
	while (b > a && space(d[b - 1]))
		b--;
	if (b - a != 64)
		return false;
	for (i = 0; i < 32; i++) {
		int hi = hexval(d[a + 2 * i]), lo = hexval(d[a + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pc_crypt_key zero;
	static char path[64];
	static int fd = -1;
	struct pc_crypt_key k;
	uint8_t want[32], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint8_t cipher = (uint8_t)(size % 3);
	char err[512];
	bool valid;
	int rc;

	if (size > 4096)
		return 0;
	if (fd < 0) {
		fd = memfd_create("fuzz_keyfile", MFD_CLOEXEC); /* kept for the process */
		if (fd < 0)
			fail("memfd_create");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		fail("writing the memfd");
	valid = expected_key(data, size, want);
	err[0] = 0;
	memset(&k, 0xa5, sizeof(k));
	rc = pc_crypt_key_load(&k, path, cipher, err, sizeof(err));
	if (!valid) {
		if (rc != -CAPTURE_E_KEY)
			fail("an invalid key file not refused with CAPTURE_E_KEY");
		if (memcmp(&k, &zero, sizeof(k)))
			fail("a refused key left bytes in the struct");
		if (strncmp(err, path, strlen(path)))
			fail("the refusal does not name the file");
		return 0;
	}
	if (rc != 0)
		fail("a valid key file refused");
	if (memcmp(k.key, want, 32) || k.cipher != cipher)
		fail("loaded key or cipher differs from the file");
	if (!HMAC(EVP_sha256(), want, 32, (const uint8_t *)"jcap key id", 11, mac, &maclen) ||
	    maclen < 8)
		fail("HMAC");
	if (memcmp(k.key_id, mac, 8))
		fail("key id is not HMAC-SHA256(key, \"jcap key id\")[0..8)");
	pc_crypt_key_wipe(&k);
	if (memcmp(&k, &zero, sizeof(k)))
		fail("wipe left bytes");
	return 0;
}
