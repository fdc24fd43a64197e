/* SPDX-License-Identifier: BSD-3-Clause */
/* Names of the inspection stages, connection states and DPI confidences. */
#include <errno.h>
#include <string.h>

#include "packet_capture.h"
#include "util/names.h"

static const char *const conn_names[CAPTURE_CONN_COUNT] = {
	[CAPTURE_CONN_S0] = "S0",	  [CAPTURE_CONN_S1] = "S1",
	[CAPTURE_CONN_SF] = "SF",	  [CAPTURE_CONN_REJ] = "REJ",
	[CAPTURE_CONN_S2] = "S2",	  [CAPTURE_CONN_S3] = "S3",
	[CAPTURE_CONN_RSTO] = "RSTO",	  [CAPTURE_CONN_RSTR] = "RSTR",
	[CAPTURE_CONN_RSTOS0] = "RSTOS0", [CAPTURE_CONN_RSTRH] = "RSTRH",
	[CAPTURE_CONN_SH] = "SH",	  [CAPTURE_CONN_SHR] = "SHR",
	[CAPTURE_CONN_OTH] = "OTH",
};

CAPTURE_API const char *capture_conn_state_name(int state)
{
	if (state <= CAPTURE_CONN_NONE || state >= CAPTURE_CONN_COUNT)
		return NULL;
	return conn_names[state];
}

static const char *const conf_names[] = { "unknown", "port", "ip", "cache", "dpi" };

CAPTURE_API const char *capture_dpi_confidence_name(int conf)
{
	if (conf < 0 || conf > CAPTURE_DPI_DPI)
		return NULL;
	return conf_names[conf];
}

static const char *const stage_names[] = { "dpi", "tls", "quic", "dns", "http", "tcp" };

CAPTURE_API int capture_inspect_parse(const char *list, uint32_t *off)
{
	uint32_t on;

	if (!list || !off)
		return -EINVAL;
	if (!strcmp(list, "all")) {
		*off = 0;
		return 0;
	}
	if (!strcmp(list, "none")) {
		*off = CAPTURE_INSPECT_ALL;
		return 0;
	}
	if (pc_name_list_bits(list, stage_names, 0, sizeof(stage_names) / sizeof(stage_names[0]),
			      &on) < 0)
		return -CAPTURE_E_CONFIG;
	*off = CAPTURE_INSPECT_ALL & ~on;
	return 0;
}
