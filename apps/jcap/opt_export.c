/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcap's options of the NetFlow/IPFIX exports and of packet sampling: --fields,
 * --export-rate, --sample. Each writes the field its table entry names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jcap.h"

static void *field_of(const struct jcap_opt *opt, void *base)
{
	return (char *)base + opt->off;
}

/* --fields LIST into a uint32_t of CAPTURE_FIELD_* bits (from the default record). */
int jcap_opt_fields(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		    void *base)
{
	uint32_t *fields = field_of(opt, base);

	(void)cmd;
	if (capture_export_fields_parse(arg, fields) < 0) {
		jcap_err("--fields: '%s': expected names from mac, vlan, mpls, tunnel, ttl, tos, "
			 "interface, community_id, app, tcp, payload, geo, all, none, each with "
			 "an optional + or -, "
			 "separated by commas",
			 arg);
		return -1;
	}
	return 0;
}

/* A number with an optional unit: "20000" records/s, "100kbit", "50mbit", "1gbit"
 * bits/s; "unpaced" for none. Into a struct capture_export_opts. */
int jcap_opt_rate(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		  void *base)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = { { "", 0 },
		      { "rps", 0 },
		      { "kbit", 1000ull },
		      { "mbit", 1000000ull },
		      { "gbit", 1000000000ull } };
	struct capture_export_opts *xo = field_of(opt, base);
	unsigned long long v;
	char *end;
	size_t i;

	(void)cmd;
	if (!strcmp(arg, "unpaced")) {
		xo->rate_records = CAPTURE_EXPORT_UNPACED;
		xo->rate_bits = 0;
		return 0;
	}
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] >= '0' && arg[0] <= '9' && !errno && end != arg && v)
		for (i = 0; i < JCAP_ARRAY_SIZE(units); i++) {
			if (strcasecmp(end, units[i].unit))
				continue;
			if (!units[i].mult) {
				xo->rate_records = v;
			} else {
				if (v > UINT64_MAX / units[i].mult)
					break;
				xo->rate_bits = v * units[i].mult;
			}
			return 0;
		}
	jcap_err("--export-rate: '%s': expected records/s (e.g. 20000), a bit rate "
		 "(e.g. 50mbit, 800kbit, 1gbit) or unpaced",
		 arg);
	return -1;
}

/* --sample N or N:random into a struct jcap_sample. */
int jcap_opt_sample(const struct jcap_cmd *cmd, const struct jcap_opt *opt, const char *arg,
		    void *base)
{
	struct jcap_sample *s = field_of(opt, base);
	unsigned long long v;
	char *end;

	(void)cmd;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '1' || arg[0] > '9' || errno || end == arg || v > UINT32_MAX ||
	    (*end && strcmp(end, ":random") && strcmp(end, ":deterministic"))) {
		jcap_err("--sample: '%s': expected N or N:random (meter 1 in N packets, "
			 "N from 1 to %" PRIu32 ")",
			 arg, UINT32_MAX);
		return -1;
	}
	s->rate = (uint32_t)v;
	s->random = !strcmp(end, ":random");
	return 0;
}
