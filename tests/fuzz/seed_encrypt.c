/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seed maker for the encrypted-input fuzz targets: encrypts a file with the
 * store's own sink chain (encryption -> file), the chain the packet writer
 * uses, with a chosen cipher and chunk size so that small seeds span several
 * chunks. Run by make_corpus.sh; not a test.
 *   fuzz_seed_encrypt KEY_FILE CIPHER CHUNK_SIZE IN OUT   (CHUNK_SIZE 0: default)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/sink.h"
#include "util/io.h"

int main(int argc, char **argv)
{
	struct pc_sink *file, *top;
	struct pc_crypt_key key;
	uint8_t buf[65536];
	unsigned long chunk;
	char err[256], *end;
	int cipher, fd, rc;
	ssize_t n;

	if (argc != 6) {
		fprintf(stderr, "usage: %s KEY_FILE CIPHER CHUNK_SIZE IN OUT\n", argv[0]);
		return 2;
	}
	cipher = capture_cipher_from_name(argv[2]);
	errno = 0;
	chunk = strtoul(argv[3], &end, 10);
	if (cipher < 0 || errno || *end || end == argv[3] || chunk > PC_CRYPT_CHUNK_MAX) {
		fprintf(stderr, "%s: bad cipher '%s' or chunk size '%s'\n", argv[0], argv[2],
			argv[3]);
		return 2;
	}
	if (pc_crypt_key_load(&key, argv[1], (uint8_t)cipher, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 1;
	}
	fd = open(argv[4], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[4], strerror(errno));
		return 1;
	}
	if (pc_sink_file_open(&file, argv[5], err, sizeof(err)) < 0 ||
	    pc_sink_crypt_create(&top, file, &key, (uint32_t)chunk, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 1;
	}
	pc_crypt_key_wipe(&key);
	rc = 0;
	while (rc == 0 && (n = pc_read_full(fd, buf, sizeof(buf))) != 0)
		rc = n < 0 ? (int)n : pc_sink_write(top, buf, (size_t)n);
	close(fd);
	if (pc_sink_close(top) < 0 || rc < 0) {
		fprintf(stderr, "%s: %s: write failed\n", argv[0], argv[5]);
		return 1;
	}
	return 0;
}
