/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What inspection found for one flow (struct pc_insp_found, while it is
 * inspected) and its compact form (struct pc_insp_res, held from the flow's
 * settling to its record): numbers, then the strings packed without NULs.
 * Internal to src/inspect/.
 */
#ifndef PC_INSPECT_RES_H
#define PC_INSPECT_RES_H

#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"
#include "inspect/dpi.h"
#include "inspect/l7.h"

/* Only l7 is set when a flow starts: each part is written, and read, only
 * under its CAPTURE_L7_* flag. */
struct pc_insp_found {
	uint32_t l7; /* CAPTURE_L7_* */
	struct pc_tls_hello ch, sh;
	struct pc_dns_msg dns;
	uint8_t dns_rcode;
	uint16_t dns_answers;
	struct pc_http_msg req;
	uint16_t http_status;
	struct pc_dpi_result dpi;
};

/* A compact result: the numbers, then the strings packed without NULs. */
enum {
	S_APP, /* the strings, in packing order */
	S_CAT,
	S_SNI,
	S_ALPN,
	S_JA4,
	S_JA3,
	S_QNAME,
	S_METHOD,
	S_HOST,
	S_URL,
	S_UA,
	S_N
};

struct pc_insp_res {
	uint32_t next_free;
	uint32_t l7;
	uint16_t app_id, master_id;
	uint16_t tls_version, dns_qtype, dns_answers, http_status;
	uint8_t confidence, dns_rcode;
	uint8_t len[S_N];
	char data[];
};

/* The largest packed result (every string at its longest). */
#define PC_INSP_RES_MAX 1024

/* Pack @f into @r (room for PC_INSP_RES_MAX bytes); returns its size. */
size_t pc_insp_pack(const struct pc_insp_found *f, struct pc_insp_res *r);

/* OR @r's fields into @o (l7_flags and the fields they say are known). */
void pc_insp_unpack(const struct pc_insp_res *r, struct capture_flow *o);

#endif
