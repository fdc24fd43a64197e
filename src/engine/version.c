/* SPDX-License-Identifier: BSD-3-Clause */
/* What this build of the library holds: exporters and the libraries it runs on. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <sqlite3.h>

#include "packet_capture.h"
#include "export/export.h"
#include "export/geoip.h"

struct out {
	char *buf;
	size_t len, need;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	size_t room = o->need < o->len ? o->len - o->need : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->need : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->need += (size_t)n;
}

CAPTURE_API int capture_build_info(char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	const char *k, *pv;
	char mmdb[32], ndpi[32];
	size_t i;

	if (buf && len)
		buf[0] = 0;
	put(&o, "exporters");
	for (i = 0; (k = pc_export_kind_name(i)); i++)
		put(&o, " %s", k);
	put(&o, "\n");
	pv = pcap_lib_version(); /* "libpcap version 1.10.3 (with TPACKET_V3)" */
	if (!strncmp(pv, "libpcap version ", 16))
		pv += 16;
	put(&o, "library libpcap %.*s\n", (int)strcspn(pv, " "), pv);
	put(&o, "library openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	put(&o, "library sqlite %s\n", sqlite3_libversion());
	put(&o, "library librdkafka %s\n", rd_kafka_version_str());
	put(&o, "library libcurl %s\n", cv ? cv->version : "?");
	if (pc_geoip_lib_version(mmdb, sizeof(mmdb)))
		put(&o, "library libmaxminddb %s\n", mmdb);
	if (capture_dpi_available(ndpi, sizeof(ndpi)))
		put(&o, "library %s\n", ndpi); /* "ndpi 4.2.0" */
	else
		put(&o, "library ndpi not compiled in\n");
	return o.need > (size_t)INT32_MAX ? INT32_MAX : (int)o.need;
}
