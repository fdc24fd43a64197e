/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap metering: the outputs the library writes (--export, --store, -w as a
 * JSON export, --pcap-out) set up before the start, their refusals and, at
 * the end, one line naming every output that lost records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jcap.h"

/* --verify IMAGE:SIGNATURE:PUBKEY */
static int add_artifact(struct capture *c, const char *spec)
{
	char buf[4096], *img, *sig, *key;

	snprintf(buf, sizeof(buf), "%s", spec);
	img = buf;
	sig = strchr(img, ':');
	key = sig ? strchr(sig + 1, ':') : NULL;
	if (!sig || !key) {
		jcap_err("--verify '%s': expected IMAGE:SIGNATURE:PUBKEY", spec);
		return -EINVAL;
	}
	*sig++ = 0;
	*key++ = 0;
	return capture_add_artifact(c, img, sig, key, NULL);
}

/* Flow metering, exports, packet storage, artifacts. -EINVAL: reported here. */
int jcap_meter_setup(struct capture *c, struct jcap_meter_opts *o)
{
	struct capture_flow_config fc = {
		.sz = sizeof(fc),
		.table_size = (uint32_t)o->table,
		.idle_timeout_sec = (uint32_t)o->idle,
		.active_timeout_sec = (uint32_t)o->active,
		.uniflow = o->uniflow,
		.community_id_seed = (uint16_t)o->cid_seed,
		.inspect_off = o->inspect_off,
		.inspect_flows = (uint32_t)o->inspect_flows,
	};
	unsigned i;
	int rc;

	rc = capture_flow_enable(c, &fc);
	if (rc < 0)
		return rc;
	o->xo.uniflow = o->uniflow;
	if (o->ch_create && jcap_meter_export_opt(o, "clickhouse.create=1"))
		return -EINVAL;
	for (i = 0; i < o->nexports; i++) {
		rc = capture_export_add(c, o->exports[i], &o->xo);
		if (rc < 0)
			return rc;
	}
	if (o->pcap_out) {
		struct capture_pcap_out_config pc = {
			.sz = sizeof(pc),
			.dir = o->pcap_out,
			.format = o->pcap_fmt,
			.rotate_bytes = o->rot_mb * 1000000ull,
			.rotate_seconds = (uint32_t)o->rot_sec,
			.max_files = (uint32_t)o->max_files,
			.snaplen = (uint32_t)o->snaplen,
			.filter = o->pcap_filter,
		};

		rc = capture_pcap_out_enable(c, &pc);
		if (rc < 0)
			return rc;
	}
	if (o->enc_key) {
		struct capture_encryption_config ec = { .sz = sizeof(ec),
							.key_file = o->enc_key,
							.cipher = o->cipher };

		rc = capture_set_encryption(c, &ec);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < o->nverify; i++) {
		rc = add_artifact(c, o->verify[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The JSON stream on stdout or -w FILE, as an export target. */
const char *jcap_meter_stream_spec(const struct jcap_meter_opts *o)
{
	static char spec[4200];

	snprintf(spec, sizeof(spec), "json:%s", o->wfile ? o->wfile : "-");
	return spec;
}

/* @s begins with the @n bytes at @p and ": " */
static bool names(const char *s, const char *p, size_t n)
{
	return !strncmp(s, p, n) && !strncmp(s + n, ": ", 2);
}

/*
 * The library's "export SPEC: why", logged when an output could not be
 * opened, as jcap's one line: "export SPEC: why", or "FILE: why" for -w.
 * Exporters often name their target (or file) again at the start of why:
 * said once here.
 */
void jcap_meter_print_refusal(const struct jcap_meter_opts *o, const char *msg)
{
	const char *spec = msg + 7, *sep, *why, *colon;
	size_t sl;

	if (strncmp(msg, "export ", 7) || !(sep = strstr(spec, ": "))) {
		jcap_err("%s", msg);
		return;
	}
	sl = (size_t)(sep - spec);
	why = sep + 2;
	colon = memchr(spec, ':', sl); /* json:PATH, sqlite:PATH, ipfix-file:PATH */
	if (names(why, spec, sl))
		why += sl + 2;
	else if (colon && strncmp(colon, "://", 3) &&
		 names(why, colon + 1, (size_t)(sep - colon - 1)))
		why += sep - colon - 1 + 2;
	if (o->wfile && sl == strlen(jcap_meter_stream_spec(o)) &&
	    !strncmp(spec, jcap_meter_stream_spec(o), sl))
		jcap_err("%s: %s", o->wfile, why);
	else
		jcap_err("export %.*s: %s", (int)sl, spec, why);
}

/* "stdout", "FILE" (-w) and "export SPEC" for every output the library
 * writes, comma-separated in @buf. Returns how many. */
static unsigned list_outputs(const struct jcap_meter_opts *o, bool stream, char *buf, size_t len)
{
	size_t n = 0;
	unsigned i, k = 0;
	int w;

	buf[0] = 0;
	if (stream) {
		w = snprintf(buf, len, "%s", o->wfile ? o->wfile : "stdout");
		n = w > 0 ? (size_t)w : 0;
		k++;
	}
	for (i = 0; i < o->nexports && n < len; i++, k++) {
		w = snprintf(buf + n, len - n, "%sexport %s", k ? ", " : "", o->exports[i]);
		n += w > 0 ? (size_t)w : 0;
	}
	return k;
}

/*
 * Counters on stderr (--stats), then one line when an output lost records:
 * which outputs, how many errors, and how many records were lost where the
 * counters say it exactly (one JSON or SQLite output: it counts the records
 * it wrote). A collector that refuses or cannot be reached loses records
 * too. Returns JCAP_EXIT_FAIL when records were lost, else @exit_code.
 */
int jcap_meter_report(struct capture *c, const struct jcap_meter_opts *o, bool stream,
		      int exit_code)
{
	struct capture_stats s = { .sz = sizeof(s) };
	char list[1024], what[96] = "";
	uint64_t delivered, taken;
	unsigned k;

	if (o->stats) {
		char *buf = malloc(1 << 16);

		if (buf && capture_stats_json(c, buf, 1 << 16, o->workers > 1) > 0)
			fprintf(stderr, "%s\n", buf);
		free(buf);
	}
	if (capture_get_stats(c, &s) ||
	    (!s.export_errors && !s.export_tcp_queue_drops && !s.export_failed))
		return exit_code;
	k = list_outputs(o, stream, list, sizeof(list));
	delivered = s.flows_exported - s.export_queue_drops;
	taken = s.export_records + s.export_not_exportable;
	if (s.export_tcp_queue_drops || s.export_failed)
		/* IPFIX/TCP records over the bound; Kafka/ClickHouse records given up */
		snprintf(what, sizeof(what), ", %llu records not delivered",
			 (unsigned long long)(s.export_tcp_queue_drops + s.export_failed));
	else if (k == 1 && delivered > taken)
		snprintf(what, sizeof(what), ", %llu of %llu records lost",
			 (unsigned long long)(delivered - taken), (unsigned long long)delivered);
	if (!s.export_errors) /* only records given up: "kafka://...: N records not delivered" */
		jcap_err("%s: %s", list, what + 2);
	else if (k == 1)
		jcap_err("%s: %llu error%s%s", list, (unsigned long long)s.export_errors,
			 s.export_errors == 1 ? "" : "s", what);
	else /* the counters are totals over the outputs */
		jcap_err("%llu error%s among %s%s", (unsigned long long)s.export_errors,
			 s.export_errors == 1 ? "" : "s", list, what);
	return JCAP_EXIT_FAIL;
}
