/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite flow store (internal API). One writer per store, on one thread;
 * records go in batched transactions (WAL, synchronous=NORMAL), so a crash
 * loses at most the open batch and the database stays consistent.
 */
#ifndef PC_FLOW_STORE_H
#define PC_FLOW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"

#define PC_STORE_BATCH_ROWS 65536   /* rows per transaction by default */
#define PC_STORE_COMMIT_MS 1000	    /* an open batch is committed by tick after */
#define PC_STORE_RETAIN_BUDGET 8192 /* rows deleted per tick at most */

struct pc_flow_store_params {
	const char *path;
	uint32_t batch_rows;	/* 0: PC_STORE_BATCH_ROWS */
	uint32_t commit_ms;	/* 0: PC_STORE_COMMIT_MS */
	uint64_t max_rows;	/* retention: keep the newest N (by last_ns), 0: all */
	uint32_t max_age_sec;	/* retention: drop last_ns < now - age, 0: never */
	uint32_t retain_budget; /* 0: PC_STORE_RETAIN_BUDGET */
};

struct pc_flow_store;

/* Open (creating the file and schema if needed) for writing. @err says why on
 * failure: -ENOENT/-EACCES/... for the file, -CAPTURE_E_DB for SQLite errors
 * and for a file that is not a flow store. */
int pc_flow_store_open(struct pc_flow_store **out, const struct pc_flow_store_params *p, char *err,
		       size_t errlen);

/* Add @n records to the open batch; commits each time batch_rows are pending.
 * Returns n or a negative error (pc_flow_store_error says why). */
int pc_flow_store_insert(struct pc_flow_store *s, const struct capture_flow *recs, size_t n);

/* Commit the open batch, if any. Returns rows committed or a negative error. */
int pc_flow_store_commit(struct pc_flow_store *s);

/* Periodic work at wall clock @now_ns: retention (at most retain_budget rows
 * deleted) and committing a batch open for commit_ms or more.
 * Returns rows deleted or a negative error. */
int pc_flow_store_tick(struct pc_flow_store *s, uint64_t now_ns);

/* Apply retention fully (no budget) at @now_ns and commit. Returns rows deleted. */
int64_t pc_flow_store_retain_all(struct pc_flow_store *s, uint64_t now_ns);

/* Rows in the store including the open batch. */
uint64_t pc_flow_store_rows(const struct pc_flow_store *s);

/* Rows written that are still uncommitted. */
uint32_t pc_flow_store_pending(const struct pc_flow_store *s);

const char *pc_flow_store_error(const struct pc_flow_store *s);

/* Commit everything and close. NULL is a no-op. Returns 0 or the commit error. */
int pc_flow_store_close(struct pc_flow_store *s);

/*
 * Address or CIDR (IPv4 or IPv6) to an inclusive range of the 16-byte keys the
 * store uses (IPv4 as ::ffff:a.b.c.d). Host bits past the prefix are ignored.
 * @version gets 4 or 6. Returns 0 or -EINVAL.
 */
int pc_flow_store_parse_cidr(const char *s, uint8_t lo[16], uint8_t hi[16], uint8_t *version);

/* Read-only query (see capture_store_query). */
int64_t pc_flow_store_query(const char *path, const struct capture_query *q, capture_flow_fn fn,
			    void *ctx, char *err, size_t errlen);

/* PRAGMA integrity_check on @path: 0 when "ok", -CAPTURE_E_DB with the first
 * problem in @err otherwise. @rows (may be NULL) gets the flows row count. */
int pc_flow_store_check(const char *path, uint64_t *rows, char *err, size_t errlen);

#endif
