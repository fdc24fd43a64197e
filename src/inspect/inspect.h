/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-flow inspection of the first packets: own parsers (l7.h) and nDPI
 * (dpi.h), one instance per worker, called by the flow table for flows
 * whose handle is not finished. State comes from bounded pools created at
 * start: an inspection record per flow being inspected (parser state, the
 * first bytes of each TCP direction, the nDPI state), released at the verdict;
 * a compact result record per flow that found something, kept until the
 * flow's record is made. No allocation, lock or syscall per packet.
 */
#ifndef PC_INSPECT_H
#define PC_INSPECT_H

#include <stdint.h>

#include "packet_capture.h"
#include "decode/meta.h"

#define PC_INSP_NONE 0u		/* flow handle: not inspected yet */
#define PC_INSP_DONE UINT32_MAX /* inspected, nothing to report */

struct pc_inspect;

struct pc_inspect_params {
	uint32_t off;	      /* CAPTURE_INSPECT_* stages off */
	uint32_t max_flows;   /* inspection records (flows inspected at once) */
	uint32_t max_results; /* result records (flows holding results): the table's slots */
};

struct pc_inspect_counters {
	uint64_t flows;	    /* flows inspected */
	uint64_t pool_full; /* flows left uninspected */
	uint64_t dpi_flows;
	uint64_t dpi_pool_full;
	uint64_t dpi_identified;
	uint64_t reassembly_gaps;
	uint64_t reclaimed; /* records taken from flows quiet for 2 s (pool full) */
};

int pc_inspect_create(struct pc_inspect **out, const struct pc_inspect_params *p);
void pc_inspect_destroy(struct pc_inspect *in);

/* Anything to do at all (some payload stage on)? */
bool pc_inspect_active(const struct pc_inspect *in);

/*
 * Packet @m of a flow whose handle is *@h (PC_INSP_NONE at its start; the
 * call may allocate and update it), sent by canonical side @dir. Does nothing
 * once *h is PC_INSP_DONE or a finished result.
 */
void pc_inspect_packet(struct pc_inspect *in, uint32_t *h, const struct pc_meta *m, int dir);

/* Whether a flow with handle @h still wants packets (the table may skip the
 * call otherwise). */
static inline bool pc_inspect_wants(uint32_t h)
{
	return h != PC_INSP_DONE && !(h & 0x80000000u);
}

/* The flow ends: settle what is still being inspected (nDPI's best guess,
 * what the parsers have), so that pc_inspect_fill() reports it; *@h may
 * change. Then fill, then release. */
void pc_inspect_end(struct pc_inspect *in, uint32_t *h);

/* Copy what @h found into @r's application fields (l7_flags, app, tls_*,
 * dns_*, http_*). Read-only (snapshots of live flows use it too). */
void pc_inspect_fill(const struct pc_inspect *in, uint32_t h, struct capture_flow *r);

/* Everything @h holds goes back to the pools (after the record is made). */
void pc_inspect_release(struct pc_inspect *in, uint32_t h);

const struct pc_inspect_counters *pc_inspect_counters(const struct pc_inspect *in);

#endif
