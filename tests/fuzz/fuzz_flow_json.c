/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the JSON flow record (capture_flow_to_json: -F json,
 * json:, Kafka, ClickHouse, REST /flows). The input is the bytes of a struct
 * capture_flow (shorter inputs zero-filled), strings included as they come,
 * NUL or not. Any record must fit CAPTURE_FLOW_JSON_MAX and be one line of
 * valid UTF-8 JSON: no raw control byte, only the escapes JSON defines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet_capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *line, size_t at)
{
	fprintf(stderr, "fuzz_flow_json: invariant violated: %s at byte %zu of:\n%s\n", what, at,
		line);
	abort();
}

static bool hex4(const char *s)
{
	int i;

	for (i = 0; i < 4; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Length of the UTF-8 sequence at @s (shortest form, no surrogates), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t want = s[0] < 0x80   ? 1
		      : s[0] < 0xc2 ? 0
		      : s[0] < 0xe0 ? 2
		      : s[0] < 0xf0 ? 3
		      : s[0] < 0xf5 ? 4
				    : 0;

	if (!want || n < want)
		return 0;
	if (want >= 2 && (s[1] & 0xc0) != 0x80)
		return 0;
	if (want == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0;
	if (want == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	if (want >= 3 && (s[2] & 0xc0) != 0x80)
		return 0;
	if (want == 4 && (s[3] & 0xc0) != 0x80)
		return 0;
	return want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[CAPTURE_FLOW_JSON_MAX];
	const unsigned char *u = (const unsigned char *)line;
	struct capture_flow f;
	size_t i, k, n;
	bool in_str = false;
	int len;

	memset(&f, 0, sizeof(f));
	memcpy(&f, data, size < sizeof(f) ? size : sizeof(f));
	len = capture_flow_to_json(&f, line, sizeof(line));
	if (len <= 0)
		fail("a record does not fit CAPTURE_FLOW_JSON_MAX", "", 0);
	n = (size_t)len;
	if (strlen(line) != n || line[0] != '{' || line[n - 1] != '}')
		fail("not one object", line, 0);
	for (i = 0; i < n; i += k) {
		k = utf8_seq(u + i, n - i);
		if (!k)
			fail("not UTF-8", line, i);
		if (u[i] < 0x20)
			fail("raw control byte", line, i);
		if (u[i] == '"')
			in_str = !in_str;
		if (u[i] != '\\')
			continue;
		if (!in_str || i + 1 >= n)
			fail("backslash outside a string", line, i);
		if (line[i + 1] == '"' || line[i + 1] == '\\')
			k = 2;
		else if (line[i + 1] == 'u' && i + 6 <= n && hex4(line + i + 2))
			k = 6;
		else
			fail("an escape JSON does not define", line, i);
	}
	if (in_str)
		fail("unterminated string", line, n);
	return 0;
}
