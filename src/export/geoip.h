/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GeoIP/ASN enrichment of flow records from MaxMind DB files (libmaxminddb,
 * when built with it). One handle per session, used by the export thread
 * alone: records are enriched once, when they end, never per packet.
 */
#ifndef PC_EXPORT_GEOIP_H
#define PC_EXPORT_GEOIP_H

#include <stdbool.h>
#include <stddef.h>

#include "packet_capture.h"

struct pc_geoip;

/*
 * Open the databases: @city (a City or Country database: countries) and
 * @asn (an ASN database: AS numbers and organisations); either may be NULL
 * or "", and with both absent *@out is NULL and nothing is opened.
 * @return 0, or -CAPTURE_E_CONFIG with @err naming the file and
 * libmaxminddb's reason (also when built without libmaxminddb).
 */
int pc_geoip_open(struct pc_geoip **out, const char *city, const char *asn, char *err,
		  size_t errlen);

/* Unmap the databases; NULL is a no-op. */
void pc_geoip_close(struct pc_geoip *g);

/*
 * Fill @f's src/dst country, AS number and AS organisation (and their
 * CAPTURE_L7_GEO_* / CAPTURE_L7_ASN_* flags) from its addresses, which
 * are the innermost conversation's for tunnelled flows. Fields not found
 * stay unknown (flag clear). Answers are cached by address for the
 * session. @return the database lookups made (cache hits make none).
 */
unsigned pc_geoip_enrich(struct pc_geoip *g, struct capture_flow *f);

/* libmaxminddb's version into @buf; false when not compiled in. */
bool pc_geoip_lib_version(char *buf, size_t len);

#endif
