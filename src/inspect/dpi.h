/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nDPI wrapper (HAVE_NDPI): one detection module per worker, per-flow nDPI
 * state from a bounded pool, held only while nDPI inspects the flow.
 * Without nDPI compiled in, pc_dpi_create() fails with -ENOTSUP.
 */
#ifndef PC_INSPECT_DPI_H
#define PC_INSPECT_DPI_H

#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"

struct pc_dpi;

struct pc_dpi_result {
	uint16_t app_id;
	uint16_t master_id;
	uint8_t confidence;	   /* enum capture_dpi_confidence */
	char app[CAPTURE_APP_LEN]; /* "MASTER.APP", "APP" or "Unknown" */
	char category[CAPTURE_APP_CATEGORY_LEN];
};

/* A module for one worker with room for @max_flows flows at a time. */
int pc_dpi_create(struct pc_dpi **out, uint32_t max_flows);
void pc_dpi_destroy(struct pc_dpi *d);

/* A flow's state: an index + 1, or 0 when the pool is full. */
uint32_t pc_dpi_flow_get(struct pc_dpi *d);
void pc_dpi_flow_put(struct pc_dpi *d, uint32_t h);

/*
 * One IP packet of flow @h (@l3: the innermost IP header, @len bytes
 * captured), time in ms. Returns 1 with @out filled when nDPI has its verdict
 * (or gave up: then the best guess, possibly "Unknown"), 0 to go on.
 * @named: the flow's server name is known already (a TLS/QUIC SNI, an HTTP
 * host or a DNS name from jcap's parsers, which nDPI matched too): nDPI's
 * first classification is the verdict, without its extra dissection
 * (certificates, later messages), which only refines what the name gave.
 */
int pc_dpi_packet(struct pc_dpi *d, uint32_t h, const uint8_t *l3, unsigned len, uint64_t ts_ms,
		  bool named, struct pc_dpi_result *out);

/* The flow ends before a verdict: nDPI's guess so far (ndpi_detection_giveup). */
void pc_dpi_giveup(struct pc_dpi *d, uint32_t h, struct pc_dpi_result *out);

/* "ndpi 4.2.0" etc. into @buf; false when not compiled in. */
bool pc_dpi_version(char *buf, size_t len);

#endif
