/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPFIX messages without a transport, for exporters that carry whole messages in
 * their own protocol (Kafka's format=ipfix): every message holds the templates (and
 * the sampling options record) before its data records, so each one decodes alone,
 * as ipfixcol2 and nProbe expect from a Kafka topic. Same templates and records as
 * the ipfix:// exporter with the same options (fields, PEN, uniflow, sampling).
 */
#ifndef PC_IPFIX_MSG_H
#define PC_IPFIX_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "export/export.h"

struct pc_ipfix_msgs;

/* Settings and templates from @t (opts.fields, ipfix_pen, uniflow, observation_domain,
 * sample_*). -CAPTURE_E_TARGET with @err set, or -ENOMEM. */
int pc_ipfix_msgs_create(struct pc_ipfix_msgs **out, const struct pc_export_target *t, char *err,
			 size_t errlen);
/* NULL is a no-op. */
void pc_ipfix_msgs_destroy(struct pc_ipfix_msgs *b);
/*
 * One complete IPFIX message in @buf (at most @cap bytes, 65535 at most): header,
 * templates, then as many of the @n records as fit (a flow's records never split).
 * Returns the message length (0: @cap cannot hold the templates) and the records
 * encoded in *@taken; the sequence number counts the data records of earlier messages.
 * Not thread-safe: one caller per builder.
 */
size_t pc_ipfix_msgs_build(struct pc_ipfix_msgs *b, const struct capture_flow *recs, size_t n,
			   size_t *taken, uint8_t *buf, size_t cap, uint64_t now_ns);

#endif
