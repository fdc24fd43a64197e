/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite flow store exporter (sqlite:PATH, jcap --store): hands records to
 * the flow store in batched transactions; tick commits a batch after a while
 * and applies retention in bounded steps; close commits everything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/flow_store.h"
#include "util/clock.h"

struct sqlite_priv {
	struct pc_flow_store *st;
	bool failing; /* log a run of failures once, and its end */
};

static void note(struct pc_exporter *e, int rc)
{
	struct sqlite_priv *p = e->priv;

	if (rc < 0) {
		atomic_fetch_add_explicit(&e->cnt.errors, 1, memory_order_relaxed);
		if (!p->failing)
			pc_export_log(e, CAPTURE_LOG_ERROR, "%s", pc_flow_store_error(p->st));
		p->failing = true;
	} else if (p->failing) {
		pc_export_log(e, CAPTURE_LOG_WARN, "%s: writing again", e->target);
		p->failing = false;
	}
}

static int sqlite_open(struct pc_exporter *e, const struct pc_export_target *t, char *err,
		       size_t errlen)
{
	struct pc_flow_store_params sp = {
		.path = t->path,
		.max_rows = t->opts.store_max_rows,
		.max_age_sec = t->opts.store_max_age_sec,
	};
	struct sqlite_priv *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	rc = pc_flow_store_open(&p->st, &sp, err, errlen);
	if (rc < 0) {
		free(p);
		return rc;
	}
	e->priv = p;
	return 0;
}

static int sqlite_write(struct pc_exporter *e, const struct capture_flow *recs, size_t n)
{
	struct sqlite_priv *p = e->priv;
	int rc = pc_flow_store_insert(p->st, recs, n);

	note(e, rc);
	if (rc < 0)
		return rc;
	atomic_fetch_add_explicit(&e->cnt.records, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->cnt.messages, n, memory_order_relaxed);
	return (int)n;
}

static int sqlite_tick(struct pc_exporter *e, uint64_t now_ns)
{
	struct sqlite_priv *p = e->priv;
	int rc = pc_flow_store_tick(p->st, now_ns);

	note(e, rc);
	return rc < 0 ? rc : 0;
}

static int sqlite_flush(struct pc_exporter *e)
{
	struct sqlite_priv *p = e->priv;
	int rc = pc_flow_store_commit(p->st);

	note(e, rc);
	return rc < 0 ? rc : 0;
}

static void sqlite_close(struct pc_exporter *e)
{
	struct sqlite_priv *p = e->priv;
	int64_t del;

	if (!p)
		return;
	/* at stop the retention limits hold exactly, whatever the tick budget left */
	del = pc_flow_store_retain_all(p->st, pc_wall_ns());
	note(e, del < 0 ? (int)del : 0);
	if (pc_flow_store_close(p->st) < 0) {
		atomic_fetch_add_explicit(&e->cnt.errors, 1, memory_order_relaxed);
		pc_export_log(e, CAPTURE_LOG_ERROR, "%s: closing the flow store failed", e->target);
	}
	free(p);
	e->priv = NULL;
}

const struct pc_exporter_ops pc_exp_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.write = sqlite_write,
	.tick = sqlite_tick,
	.flush = sqlite_flush,
	.close = sqlite_close,
};
