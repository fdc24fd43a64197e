/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nDPI wrapper (HAVE_NDPI): one detection module per worker, started at the
 * first flow that needs it (nDPI 4.2's module keeps the packet being
 * dissected and its LRU caches in itself: it cannot be shared by workers),
 * per-flow nDPI state from a bounded pool, held only while nDPI inspects the
 * flow. Without nDPI compiled in, pc_dpi_create() fails with -ENOTSUP.
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
	uint8_t confidence;  /* enum capture_dpi_confidence */
	uint8_t category_id; /* nDPI's category number */
	/* pc_dpi_names() fills these */
	char app[CAPTURE_APP_LEN]; /* "MASTER.APP", "APP" or "Unknown" */
	char category[CAPTURE_APP_CATEGORY_LEN];
};

/* A module for one worker with room for @max_flows flows at a time. */
int pc_dpi_create(struct pc_dpi **out, uint32_t max_flows);
void pc_dpi_destroy(struct pc_dpi *d);

/* What nDPI's first packet of a flow gives its guess from: the flow's first
 * packet's protocol, ports (host order) and IPv4 addresses (as on the wire). */
struct pc_dpi_tuple {
	uint8_t proto;
	uint8_t v4; /* saddr/daddr are set */
	uint16_t sport, dport;
	uint32_t saddr, daddr;
};

/* A flow's state: an index + 1, or 0 when the pool is full (or nDPI's
 * module could not be started). */
uint32_t pc_dpi_flow_get(struct pc_dpi *d);
void pc_dpi_flow_put(struct pc_dpi *d, uint32_t h);

/*
 * One IP packet of flow @h (@l3: the innermost IP header, @len bytes
 * captured), time in ms. Returns 1 with @out's numbers filled when nDPI has its verdict
 * (or gave up: then the best guess, possibly "Unknown"), 0 to go on.
 * @named: the flow's server name is known already (a TLS/QUIC SNI, an HTTP
 * host or a DNS name from jcap's parsers, which nDPI matched too): nDPI's
 * first classification is the verdict, without its extra dissection
 * (certificates, later messages), which only refines what the name gave.
 */
int pc_dpi_packet(struct pc_dpi *d, uint32_t h, const uint8_t *l3, unsigned len, uint64_t ts_ms,
		  bool named, struct pc_dpi_result *out);

/* The flow ends before a verdict: nDPI's guess so far (ndpi_detection_giveup);
 * when nDPI could read none of the packets it was given (truncated
 * headers), pc_dpi_guess() of @t, the flow's first packet. */
void pc_dpi_giveup(struct pc_dpi *d, uint32_t h, const struct pc_dpi_tuple *t,
		   struct pc_dpi_result *out);

/*
 * The verdict on a TCP/UDP flow none of whose packets carried payload
 * (nDPI's dissectors need payload): what ndpi_detection_giveup() says of such
 * a flow, its guess from ports and addresses, without taking a state. False
 * when nDPI's module could not be started.
 */
bool pc_dpi_guess(struct pc_dpi *d, const struct pc_dpi_tuple *t, struct pc_dpi_result *out);

/* The names of a verdict (app, category) from its numbers, as
 * pc_dpi_packet() gives them. Read-only on @d. */
void pc_dpi_names(const struct pc_dpi *d, struct pc_dpi_result *res);

/* "ndpi 4.2.0" etc. into @buf; false when not compiled in. */
bool pc_dpi_version(char *buf, size_t len);

#endif
