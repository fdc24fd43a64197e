/* SPDX-License-Identifier: BSD-3-Clause */
/* Assertions shared by the unit tests: count, report file:line, keep going. */
#ifndef PC_TEST_CHECK_H
#define PC_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		checks++;                                                                        \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                              \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                        \
	do {                                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);                           \
		checks++;                                                                     \
		if (a_ != b_) {                                                               \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, a_, #b, b_);                                    \
			failures++;                                                           \
		}                                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                                           \
	do {                                                                                      \
		const char *a_ = (a), *b_ = (b);                                                  \
		checks++;                                                                         \
		if (strcmp(a_, b_)) {                                                             \
			fprintf(stderr, "%s:%d: \"%s\"\n  expected \"%s\"\n", __FILE__, __LINE__, \
				a_, b_);                                                          \
			failures++;                                                               \
		}                                                                                 \
	} while (0)

/* Print the verdict of test @name; returns the exit status. */
static inline int check_finish(const char *name)
{
	if (failures) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name, failures, checks);
		return 1;
	}
	printf("%s: all %d checks passed\n", name, checks);
	return 0;
}

#endif
