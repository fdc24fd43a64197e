/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session configuration entry points: flow metering, the flow callback,
 * exporters, packet storage, encryption and artifacts to verify. Each takes
 * the caller's size-versioned struct through one checked copy and keeps its
 * own copies of the strings; most apply from the next capture_start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/log.h"
#include "util/opts.h"

/* The checked copy of a caller's options struct (util/opts.h); a refusal
 * becomes the handle's last error. */
static int copy_opts(struct capture *c, void *dst, size_t dst_sz, const void *src, const char *what)
{
	char err[256];
	int rc = pc_opts_copy(dst, dst_sz, src, 0, what, err, sizeof(err));

	return rc < 0 ? pc_engine_err(c, rc, "%s", err) : 0;
}

/* Replace *@dst by a copy of @s (NULL or "" give NULL); false when out of memory. */
static bool replace_str(char **dst, const char *s)
{
	char *n = s && *s ? strdup(s) : NULL;

	if (s && *s && !n)
		return false;
	free(*dst);
	*dst = n;
	return true;
}

/* A setter that applies from the next start refuses a running session
 * (ctl_lock held). */
static int refuse_running(struct capture *c, const char *msg)
{
	if (atomic_load(&c->state) != CAPTURE_STATE_RUNNING)
		return 0;
	return pc_engine_err(c, -CAPTURE_E_STATE, "%s", msg);
}

int pc_engine_decode_opts(struct pc_decode_opts *o, const struct capture_config *k, char *err,
			  size_t errlen)
{
	char why[256];

	memset(o, 0, sizeof(*o));
	if (k->decap_off & ~(((1u << CAPTURE_TUNNEL_COUNT) - 1) & ~1u))
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "decap_off 0x%x names no tunnel kind (bits 1..%d)", k->decap_off,
			       CAPTURE_TUNNEL_COUNT - 1);
	o->decap_off = k->decap_off;
	if (pc_decode_ports_parse(o, k->tunnel_ports, why, sizeof(why)) < 0)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "%s", why);
	return 0;
}

CAPTURE_API int capture_flow_enable(struct capture *c, const struct capture_flow_config *cfg)
{
	struct capture_flow_config f;

	if (!c)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	if (cfg && copy_opts(c, &f, sizeof(f), cfg, "capture_flow_config"))
		return -CAPTURE_E_CONFIG;
	f.sz = sizeof(f);
	/* 0: chosen at start, when the input is known (lifecycle.c) */
	if (f.table_size && (f.table_size < 4096 || f.table_size > 16777216))
		return pc_engine_err(c, -CAPTURE_E_CONFIG,
				     "table_size %u out of range (4096..16777216)", f.table_size);
	if (!f.idle_timeout_sec && !f.idle_timeout_ms)
		f.idle_timeout_sec = 30;
	if (!f.active_timeout_sec)
		f.active_timeout_sec = 1800;
	if (f.ended_ring_size > 16777216)
		return pc_engine_err(c, -CAPTURE_E_CONFIG,
				     "ended_ring_size %u too large (max 16777216)",
				     f.ended_ring_size);
	pthread_mutex_lock(&c->ctl_lock);
	c->fcfg = f;
	c->flow_enabled = true;
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;
}

CAPTURE_API int capture_set_flow_callback(struct capture *c, capture_flow_fn fn, void *ctx)
{
	if (!c)
		return -EINVAL;
	if (atomic_load(&c->state) == CAPTURE_STATE_RUNNING)
		return pc_engine_err(c, -CAPTURE_E_STATE,
				     "cannot change the callback while running");
	c->flow_cb = fn;
	c->flow_ctx = ctx;
	return 0;
}

CAPTURE_API int capture_export_add(struct capture *c, const char *target,
				   const struct capture_export_opts *opts)
{
	struct pc_export_target t;
	char err[512];
	int rc;

	if (!c)
		return -EINVAL;
	rc = pc_export_parse(target, opts, &t, err, sizeof(err));
	if (rc < 0)
		return pc_engine_err(c, rc, "%s", err);
	return pc_engine_add_target(c, &t);
}

CAPTURE_API int capture_netflow_enable(struct capture *c, const struct capture_netflow_config *cfg)
{
	struct pc_export_target t;
	char err[512];
	int rc;

	if (!c || !cfg)
		return -EINVAL;
	rc = pc_export_from_netflow(cfg, &t, err, sizeof(err));
	if (rc < 0)
		return pc_engine_err(c, rc, "%s", err);
	return pc_engine_add_target(c, &t);
}

/* ---------------------------------------------------------------- storage */

CAPTURE_API int capture_pcap_out_enable(struct capture *c,
					const struct capture_pcap_out_config *cfg)
{
	struct capture_pcap_out_config p;
	int rc;

	if (!c || !cfg)
		return -EINVAL;
	if (copy_opts(c, &p, sizeof(p), cfg, "capture_pcap_out_config"))
		return -CAPTURE_E_CONFIG;
	if (!p.dir || !*p.dir)
		return pc_engine_err(c, -CAPTURE_E_CONFIG, "packet output needs a directory");
	if (p.format > CAPTURE_PCAP_FORMAT_PCAPNG)
		return pc_engine_err(c, -CAPTURE_E_CONFIG, "unknown packet file format %u",
				     p.format);
	if (p.filter && *p.filter) {
		struct pc_bpf *f;
		char err[512];

		rc = pc_bpf_create(&f, p.filter, PC_DLT_EN10MB, 262144, err, sizeof(err));
		if (rc < 0)
			return pc_engine_err(c, rc, "%s", err);
		pc_bpf_destroy(f);
	}
	pthread_mutex_lock(&c->ctl_lock);
	rc = refuse_running(c, "packet output can only be enabled before capture starts");
	if (rc)
		goto unlock;
	if (!replace_str(&c->pout_dir, p.dir) || !replace_str(&c->pout_filter, p.filter)) {
		rc = pc_engine_err(c, -ENOMEM, "packet output: out of memory");
		goto unlock;
	}
	c->pout = p;
	c->pout.dir = c->pout_dir;
	c->pout.filter = c->pout_filter;
	c->pout_enabled = true;
unlock:
	pthread_mutex_unlock(&c->ctl_lock);
	return rc;
}

CAPTURE_API int capture_set_encryption(struct capture *c,
				       const struct capture_encryption_config *cfg)
{
	struct capture_encryption_config e;
	struct pc_crypt_key key;
	char err[512];
	int rc;

	if (!c || !cfg)
		return -EINVAL;
	if (copy_opts(c, &e, sizeof(e), cfg, "capture_encryption_config"))
		return -CAPTURE_E_CONFIG;
	if (!e.key_file || !*e.key_file)
		return pc_engine_err(c, -CAPTURE_E_KEY, "encryption needs a key file");
	if (!capture_cipher_name(e.cipher))
		return pc_engine_err(c, -CAPTURE_E_CONFIG, "unknown cipher %u", e.cipher);
	/* load once now so a bad key file is refused at once */
	rc = pc_crypt_key_load(&key, e.key_file, e.cipher, err, sizeof(err));
	if (rc < 0)
		return pc_engine_err(c, rc, "%s", err);
	pc_crypt_key_wipe(&key);
	pthread_mutex_lock(&c->ctl_lock);
	rc = refuse_running(c, "encryption applies from the next start (stop the capture first)");
	if (rc)
		goto unlock;
	if (!replace_str(&c->enc_keyfile, e.key_file)) {
		rc = pc_engine_err(c, -ENOMEM, "encryption: out of memory");
		goto unlock;
	}
	c->enc_cipher = e.cipher;
	c->enc_enabled = true;
unlock:
	pthread_mutex_unlock(&c->ctl_lock);
	return rc;
}

/* ---------------------------------------------------------------- artifacts */

static void artifact_free(struct pc_artifact *a)
{
	free(a->image);
	free(a->sig);
	free(a->pubkey);
	free(a->digest);
}

void pc_engine_free_artifacts(struct capture *c)
{
	size_t i;

	for (i = 0; i < c->nartifacts; i++)
		artifact_free(&c->artifacts[i]);
	free(c->artifacts);
	c->artifacts = NULL;
	c->nartifacts = 0;
}

CAPTURE_API int capture_add_artifact(struct capture *c, const char *image, const char *signature,
				     const char *public_key, const struct capture_verify_opts *opts)
{
	struct pc_artifact a, *na;
	int rc = 0;

	if (!c || !image || !signature || !public_key)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.opts.sz = sizeof(a.opts);
	if (opts && copy_opts(c, &a.opts, sizeof(a.opts), opts, "capture_verify_opts"))
		return -CAPTURE_E_CONFIG;
	a.image = strdup(image);
	a.sig = strdup(signature);
	a.pubkey = strdup(public_key);
	a.digest = a.opts.digest ? strdup(a.opts.digest) : NULL;
	a.opts.digest = a.digest;
	if (!a.image || !a.sig || !a.pubkey || (opts && opts->digest && !a.digest)) {
		artifact_free(&a);
		return pc_engine_err(c, -ENOMEM, "artifact: out of memory");
	}
	pthread_mutex_lock(&c->ctl_lock);
	/* artifacts are verified by capture_start: one added later would
	 * silently never be checked for the running session */
	rc = refuse_running(c, "artifacts are verified at start: add them before capture_start");
	if (rc)
		goto fail;
	na = realloc(c->artifacts, (c->nartifacts + 1) * sizeof(*na));
	if (!na) {
		rc = pc_engine_err(c, -ENOMEM, "artifact: out of memory");
		goto fail;
	}
	c->artifacts = na;
	na[c->nartifacts++] = a;
	pthread_mutex_unlock(&c->ctl_lock);
	return 0;
fail:
	pthread_mutex_unlock(&c->ctl_lock);
	artifact_free(&a);
	return rc;
}
