/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replay driver for libFuzzer targets without libFuzzer: runs every file of a
 * corpus directory, each of its truncations, and a fixed-seed set of random byte
 * mutations through LLVMFuzzerTestOneInput. Exit 0 when nothing crashed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target whose inputs are costly (a whole capture session each) may define
 * this to lower the default number of mutations per corpus file. */
extern const unsigned long fuzz_replay_mutations __attribute__((weak));
/* ... and this to replay every prefix shorter than PREFIX_ALL bytes (the
 * file headers) but only every Nth longer one (from a per-file phase, so the
 * seeds together still cut at every alignment; the mutations cut at random
 * places too). Default 1: every prefix. */
extern const unsigned long fuzz_replay_prefix_stride __attribute__((weak));

#define PREFIX_ALL 64

#define REPLAY_MAX_INPUT (1u << 20)
#define DEFAULT_MUTATIONS 3000

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic across runs and platforms */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Run @n bytes of @b from an exact-size heap copy (ASan catches overreads). */
static void run_copy(const uint8_t *b, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);

	if (!copy) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	memcpy(copy, b, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	*buf = malloc(REPLAY_MAX_INPUT);
	if (!*buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(*buf, 1, REPLAY_MAX_INPUT, f);
	if (ferror(f)) {
		fclose(f);
		free(*buf);
		return -EIO;
	}
	fclose(f);
	*len = n;
	return 0;
}

static unsigned long mutate_and_run(const uint8_t *in, size_t len, unsigned long count,
				    uint64_t seed)
{
	static const uint8_t interesting[] = { 0x00, 0xff, 0x7f, 0x80, 0x01, 0x40, 0x3f, 0x06 };
	uint8_t *b = malloc(len ? len : 1);
	unsigned long i, runs = 0;
	unsigned k, edits;

	if (!b)
		exit(1);
	rng_state = seed | 1;
	for (i = 0; i < count && len > 0; i++) {
		size_t n = len;

		memcpy(b, in, len);
		edits = 1 + (unsigned)(rng() % 4);
		for (k = 0; k < edits; k++) {
			size_t at = rng() % len;

			switch (rng() % 3) {
			case 0:
				b[at] ^= (uint8_t)(1u << (rng() % 8));
				break;
			case 1:
				b[at] = interesting[rng() % sizeof(interesting)];
				break;
			default:
				b[at] = (uint8_t)rng();
				break;
			}
		}
		if (rng() % 8 == 0)
			n = 1 + rng() % len; /* and sometimes cut it short as well */
		run_copy(b, n);
		runs++;
	}
	free(b);
	return runs;
}

int main(int argc, char **argv)
{
	unsigned long mutations = DEFAULT_MUTATIONS, stride = 1, runs = 0;
	struct dirent **names;
	const char *env;
	int i, n, files = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	if (&fuzz_replay_mutations)
		mutations = fuzz_replay_mutations;
	if (&fuzz_replay_prefix_stride && fuzz_replay_prefix_stride > 1)
		stride = fuzz_replay_prefix_stride;
	env = getenv("PC_FUZZ_MUTATIONS");
	if (env) {
		char *end;

		errno = 0;
		mutations = strtoul(env, &end, 10);
		if (errno || *end || end == env) {
			fprintf(stderr, "replay: bad PC_FUZZ_MUTATIONS '%s'\n", env);
			return 2;
		}
	}
	n = scandir(argv[1], &names, NULL, alphasort); /* sorted: runs are reproducible */
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat sb;
		uint8_t *buf = NULL;
		size_t len = 0, cut;
		uint64_t seed = 0xcbf29ce484222325ull;
		const char *c;
		int rc;

		if (names[i]->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]->d_name) >=
			    (int)sizeof(path) ||
		    stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			free(names[i]);
			continue;
		}
		rc = read_file(path, &buf, &len);
		if (rc < 0) {
			fprintf(stderr, "replay: %s: %s\n", path, strerror(-rc));
			return 1;
		}
		for (c = names[i]->d_name; *c; c++) /* per-file seed from its name (FNV-1a) */
			seed = (seed ^ (uint8_t)*c) * 0x100000001b3ull;
		run_copy(buf, len);
		runs++;
		for (cut = 0; cut < len; cut++)
			if (cut < PREFIX_ALL || cut + 1 == len ||
			    (cut - PREFIX_ALL) % stride == seed % stride) {
				run_copy(buf, cut);
				runs++;
			}
		runs += mutate_and_run(buf, len, mutations, seed);
		free(buf);
		free(names[i]);
		files++;
	}
	free(names);
	if (files == 0) {
		fprintf(stderr, "replay: no corpus files in %s\n", argv[1]);
		return 1;
	}
	printf("replay: %d files, %lu runs, no crash\n", files, runs);
	return 0;
}
