/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for export target strings (pc_export_parse, what
 * capture_export_add and jcap -F/-w parse) with a size-versioned
 * capture_export_opts. Input: [flags][optlen][opts image][target string];
 * flags & 1 passes the opts image (optlen % 64 bytes, its sz set to that
 * length, so older and newer callers are both played). A NetFlow/IPFIX target
 * that parses must come back the same through pc_export_from_netflow, whose
 * spec must parse to the same target again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPTS_MAX 64 /* beyond sizeof(struct capture_export_opts): newer callers */

static void fail(const char *what, const char *spec)
{
	fprintf(stderr, "fuzz_export_target: invariant violated: %s (target '%s')\n", what, spec);
	abort();
}

static bool is_path_kind(enum pc_export_kind k)
{
	return k == PC_EXP_JSON || k == PC_EXP_SQLITE;
}

/* What a parsed target means, minus the spec text. */
static void same_target(const struct pc_export_target *a, const struct pc_export_target *b,
			const char *spec)
{
	if (a->kind != b->kind || a->port != b->port || strcmp(a->host, b->host) ||
	    strcmp(a->path, b->path))
		fail("round trip changed kind, host, port or path", spec);
	if (a->nf.version != b->nf.version || a->nf.transport != b->nf.transport ||
	    a->nf.port != b->nf.port || a->nf.uniflow != b->nf.uniflow || a->nf.mtu != b->nf.mtu ||
	    a->nf.observation_domain != b->nf.observation_domain ||
	    a->nf.template_refresh_sec != b->nf.template_refresh_sec)
		fail("round trip changed the NetFlow settings", spec);
}

static void check_ok(const struct pc_export_target *t, const char *spec,
		     const struct capture_export_opts *o)
{
	struct pc_export_target t2, t3;
	char err[256];

	if (strcmp(t->spec, spec))
		fail("spec is not the string parsed", spec);
	if (t->opts.sz != sizeof(t->opts))
		fail("opts.sz", spec);
	if (o &&
	    (t->opts.observation_domain != o->observation_domain ||
	     t->opts.template_refresh_sec != o->template_refresh_sec || t->opts.mtu != o->mtu ||
	     t->opts.store_max_rows != o->store_max_rows ||
	     t->opts.store_max_age_sec != o->store_max_age_sec || t->opts.uniflow != o->uniflow))
		fail("opts not copied", spec);
	if (t->kind == PC_EXP_KAFKA || t->kind == PC_EXP_CLICKHOUSE) {
		/* HOST:PORT[,...]/NAME[?K=V&...]: the name as written after a '/' */
		const char *name = strchr(strstr(spec, "://") + 3, '/');

		if (!t->host[0] || !t->port || !t->path[0] || !name ||
		    strncmp(name + 1, t->path, strlen(t->path)))
			fail("a Kafka/ClickHouse target without its hosts or name", spec);
		return;
	}
	if (is_path_kind(t->kind) || t->nf.transport == CAPTURE_TRANSPORT_FILE) {
		size_t pl = strlen(t->path), sl = strlen(spec);

		if (!pl || pl >= sizeof(t->path) || pl > sl || strcmp(spec + sl - pl, t->path))
			fail("path is not the end of the target", spec);
		if (t->host[0] || t->port)
			fail("a path target with a host or port", spec);
		if (!is_path_kind(t->kind) && t->nf.path != t->path)
			fail("nf.path does not point at path", spec);
	} else {
		if (t->kind != PC_EXP_NETFLOW5 && t->kind != PC_EXP_NETFLOW9 &&
		    t->kind != PC_EXP_IPFIX)
			fail("kind out of range", spec);
		if (!t->host[0] || !t->port || t->path[0])
			fail("a collector target without host or port", spec);
		if (t->nf.collector != t->host || t->nf.port != t->port)
			fail("nf.collector/port do not point at host/port", spec);
	}
	if (is_path_kind(t->kind))
		return;
	/* NetFlow/IPFIX: the capture_netflow_config path gives the same target */
	if (t->nf.version != (t->kind == PC_EXP_IPFIX ? 10 : t->kind == PC_EXP_NETFLOW9 ? 9 : 5))
		fail("nf.version does not match the kind", spec);
	if (t->nf.observation_domain != t->opts.observation_domain ||
	    t->nf.template_refresh_sec != t->opts.template_refresh_sec ||
	    t->nf.mtu != t->opts.mtu || t->nf.uniflow != t->opts.uniflow)
		fail("nf settings differ from opts", spec);
	if (pc_export_from_netflow(&t->nf, &t2, err, sizeof(err)) < 0)
		fail("pc_export_from_netflow refused a parsed target", spec);
	same_target(t, &t2, spec);
	if (pc_export_parse(t2.spec, &t2.opts, &t3, err, sizeof(err)) < 0)
		fail("the spec pc_export_from_netflow writes does not parse", t2.spec);
	same_target(t, &t3, spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pc_export_target *t;
	uint8_t *img = NULL;
	char err[256], *spec;
	size_t olen = 0, pos = 2, n;
	int rc;

	if (size < 2 || size > 4096)
		return 0;
	if (data[0] & 1) {
		olen = data[1] % OPTS_MAX;
		if (olen > size - pos)
			olen = size - pos;
		/* an exact-size image (at least the sz field): ASan sees over-reads */
		img = calloc(1, olen < sizeof(size_t) ? sizeof(size_t) : olen);
		if (!img)
			return 0;
		memcpy(img, data + pos, olen);
		memcpy(img, &olen, sizeof(olen)); /* sz: the room the caller gives */
		/* a C caller's bool holds 0 or 1 (anything else is its own UB) */
		if (olen > offsetof(struct capture_export_opts, uniflow))
			img[offsetof(struct capture_export_opts, uniflow)] &= 1;
		/* and its props is NULL or a string: NULL here */
		if (olen > offsetof(struct capture_export_opts, props))
			memset(img + offsetof(struct capture_export_opts, props), 0,
			       olen - offsetof(struct capture_export_opts, props) < sizeof(char *)
				       ? olen - offsetof(struct capture_export_opts, props)
				       : sizeof(char *));
		pos += olen;
	}
	n = size - pos;
	spec = malloc(n + 1);
	t = malloc(sizeof(*t));
	if (!spec || !t)
		goto out;
	memcpy(spec, data + pos, n);
	spec[n] = 0;
	err[0] = 0;
	rc = pc_export_parse(spec, (const struct capture_export_opts *)img, t, err, sizeof(err));
	if (rc < 0) {
		if (rc != -CAPTURE_E_TARGET && rc != -CAPTURE_E_CONFIG)
			fail("unexpected error code", spec);
		if (!err[0] || strlen(err) >= sizeof(err))
			fail("a refusal without a message", spec);
		goto out;
	}
	if (rc != 0)
		fail("positive return", spec);
	if (img) {
		/* what the library should have taken from the image: zero-extended */
		struct capture_export_opts want = { 0 };

		memcpy(&want, img, olen < sizeof(want) ? olen : sizeof(want));
		check_ok(t, spec, &want);
	} else {
		check_ok(t, spec, NULL);
	}
out:
	free(t);
	free(spec);
	free(img);
	return 0;
}
