/* SPDX-License-Identifier: BSD-3-Clause */
/* jcap: shared helpers of the subcommands (output formats, number parsing). */
#ifndef JCAP_H
#define JCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "packet_capture.h"

#define JCAP_EXIT_OK 0
#define JCAP_EXIT_FAIL 1
#define JCAP_EXIT_USAGE 2

enum jcap_format {
	JCAP_FMT_TABLE,
	JCAP_FMT_JSON,
	JCAP_FMT_CSV
};

/* "table" | "json" | "csv"; returns 0 or -1. */
int jcap_parse_format(const char *s, enum jcap_format *out);
/* Default format: a table on a terminal, JSON Lines otherwise. */
enum jcap_format jcap_default_format(FILE *fp);

/* Print @n flows (header first for table/csv). Returns 0 or -errno. */
int jcap_print_flows(FILE *fp, const struct capture_flow *f, size_t n, enum jcap_format fmt);

/* Parse an unsigned number in [min, max] for option @opt; prints the usage
 * error itself and returns -1 when it is not one. */
int jcap_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Print @s as a quoted JSON string (escapes quotes, backslashes, controls). */
void jcap_json_str(FILE *fp, const char *s);

/* Print "jcap: " + message to stderr. */
void jcap_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int jcap_cmd_meter(int argc, char **argv);
int jcap_cmd_backends(int argc, char **argv);
int jcap_cmd_decrypt(int argc, char **argv);
int jcap_cmd_verify_firmware(int argc, char **argv);
int jcap_cmd_query(int argc, char **argv);

#endif
