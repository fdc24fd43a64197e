/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GeoIP/ASN enrichment with libmaxminddb: the databases are mmap()ed once a
 * session, and each ended record's two addresses are looked up in each. The
 * country is country.iso_code, else registered_country.iso_code (a network
 * whose users' country is unknown, e.g. satellite or anycast ranges).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/geoip.h"
#include "util/log.h"

#ifdef HAVE_MAXMINDDB
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

/*
 * Answers by address, direct-mapped: the servers and clients of a network
 * recur in flow after flow, and a hit (~20 ns) saves two tree walks and map
 * searches (~200-400 ns each with the test databases; bench/bench_geoip.sh).
 * 4096 slots (~300 KiB) a session; bench_geoip.sh builds one slot to compare.
 */
#ifndef PC_GEOIP_CACHE_SLOTS
#define PC_GEOIP_CACHE_SLOTS 4096 /* a power of two */
#endif
#define CACHE_SLOTS PC_GEOIP_CACHE_SLOTS

struct answer {
	uint8_t addr[16];
	uint8_t ver; /* 4 or 6; 0: empty slot */
	bool has_country, has_asn;
	char country[3];
	uint32_t asn;
	char org[CAPTURE_AS_ORG_LEN];
};

struct pc_geoip {
	bool has_city, has_asn;
	MMDB_s city, asn;
	struct answer cache[CACHE_SLOTS];
};

/* Whether @type (the database's metadata) names a kind of @want's. */
static bool type_has(const MMDB_s *db, const char *want)
{
	return db->metadata.database_type && strstr(db->metadata.database_type, want);
}

static int open_db(MMDB_s *db, const char *what, const char *path, char *err, size_t errlen)
{
	int rc, e;

	errno = 0;
	rc = MMDB_open(path, MMDB_MODE_MMAP, db);
	e = errno; /* open(), fstat() or mmap() failing says why */
	if (rc == MMDB_SUCCESS)
		return 0;
	if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) && e)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "GeoIP %s database %s: %s (%s)",
			       what, path, MMDB_strerror(rc), strerror(e));
	return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "GeoIP %s database %s: %s", what, path,
		       MMDB_strerror(rc));
}

/* A database given in the other one's place yields nothing at all: refuse it. */
static int check_kind(const MMDB_s *db, bool city, const char *path, char *err, size_t errlen)
{
	bool asn_db = type_has(db, "ASN") || type_has(db, "ISP");
	bool geo_db = type_has(db, "City") || type_has(db, "Country");

	if (city ? asn_db && !geo_db : geo_db && !asn_db)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "GeoIP %s database %s: is a %s database, not %s",
			       city ? "city" : "ASN", path, db->metadata.database_type,
			       city ? "a City or Country one" : "an ASN one");
	return 0;
}

int pc_geoip_open(struct pc_geoip **out, const char *city, const char *asn, char *err,
		  size_t errlen)
{
	struct pc_geoip *g;
	int rc;

	*out = NULL;
	if ((!city || !*city) && (!asn || !*asn))
		return 0;
	g = calloc(1, sizeof(*g));
	if (!g)
		return pc_errf(err, errlen, -ENOMEM, "GeoIP: out of memory");
	if (city && *city) {
		rc = open_db(&g->city, "city", city, err, errlen);
		if (rc < 0)
			goto free_g;
		g->has_city = true;
		rc = check_kind(&g->city, true, city, err, errlen);
		if (rc < 0)
			goto close_dbs;
	}
	if (asn && *asn) {
		rc = open_db(&g->asn, "ASN", asn, err, errlen);
		if (rc < 0)
			goto close_dbs;
		g->has_asn = true;
		rc = check_kind(&g->asn, false, asn, err, errlen);
		if (rc < 0)
			goto close_dbs;
	}
	*out = g;
	return 0;

close_dbs:
	pc_geoip_close(g);
	return rc;
free_g:
	free(g);
	return rc;
}

void pc_geoip_close(struct pc_geoip *g)
{
	if (!g)
		return;
	if (g->has_city)
		MMDB_close(&g->city);
	if (g->has_asn)
		MMDB_close(&g->asn);
	free(g);
}

/* The record's @addr (16 bytes; IPv4 in the first 4) in @db: found or not. */
static bool lookup(MMDB_s *db, const struct capture_flow *f, const uint8_t *addr,
		   MMDB_entry_s *entry)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	const struct sockaddr *sa = (const struct sockaddr *)&s6;
	MMDB_lookup_result_s r;
	int mmdb_err;

	if (f->ip_version == 4) {
		memcpy(&s4.sin_addr, addr, 4);
		sa = (const struct sockaddr *)&s4;
	} else {
		memcpy(&s6.sin6_addr, addr, 16);
	}
	/* an IPv6 address in an IPv4-only database is an error there: not found */
	r = MMDB_lookup_sockaddr(db, sa, &mmdb_err);
	if (mmdb_err != MMDB_SUCCESS || !r.found_entry)
		return false;
	*entry = r.entry;
	return true;
}

/* ISO 3166 alpha-2 at @path into @out[3]: two upper-case letters or nothing. */
static bool get_iso(MMDB_entry_s *e, const char *const *path, char *out)
{
	MMDB_entry_data_s d;

	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2 || d.utf8_string[0] < 'A' ||
	    d.utf8_string[0] > 'Z' || d.utf8_string[1] < 'A' || d.utf8_string[1] > 'Z')
		return false;
	out[0] = d.utf8_string[0];
	out[1] = d.utf8_string[1];
	out[2] = 0;
	return true;
}

static bool get_country(MMDB_entry_s *e, char *out)
{
	static const char *const country[] = { "country", "iso_code", NULL };
	static const char *const registered[] = { "registered_country", "iso_code", NULL };

	return get_iso(e, country, out) || get_iso(e, registered, out);
}

static uint32_t get_asn(MMDB_entry_s *e)
{
	static const char *const path[] = { "autonomous_system_number", NULL };
	MMDB_entry_data_s d;

	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data)
		return 0;
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16:
		return d.uint16;
	case MMDB_DATA_TYPE_UINT32:
		return d.uint32;
	case MMDB_DATA_TYPE_UINT64:
		return d.uint64 <= UINT32_MAX ? (uint32_t)d.uint64 : 0;
	default:
		return 0;
	}
}

/*
 * The AS organisation into @out[CAPTURE_AS_ORG_LEN]: cut at a UTF-8
 * character boundary so outputs stay valid UTF-8; control characters
 * become '?' (a name, not a place for escapes). "" when absent.
 */
static void get_org(MMDB_entry_s *e, char *out)
{
	static const char *const path[] = { "autonomous_system_organization", NULL };
	MMDB_entry_data_s d;
	size_t n, i;

	out[0] = 0;
	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return;
	n = d.data_size < CAPTURE_AS_ORG_LEN - 1 ? d.data_size : CAPTURE_AS_ORG_LEN - 1;
	if (n < d.data_size)
		while (n && ((uint8_t)d.utf8_string[n] & 0xc0) == 0x80)
			n--; /* n is the start of a cut character: keep what precedes it */
	for (i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)d.utf8_string[i];

		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[n] = 0;
}

static unsigned slot_of(const uint8_t *addr, size_t len)
{
	uint64_t h = len, w;
	size_t i;

	for (i = 0; i < len; i += 4) {
		memcpy(&w, addr + i, 4);
		h = (h ^ (uint32_t)w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 32; /* high words reach the slot bits */
	}
	return (unsigned)(h >> 52) & (CACHE_SLOTS - 1);
}

/* @addr's answer, from the cache or the databases (*@lookups counts those). */
static const struct answer *resolve(struct pc_geoip *g, const struct capture_flow *f,
				    const uint8_t *addr, unsigned *lookups)
{
	size_t len = f->ip_version == 4 ? 4 : 16;
	struct answer *a = &g->cache[slot_of(addr, len)];
	MMDB_entry_s e;

	if (a->ver == f->ip_version && !memcmp(a->addr, addr, len))
		return a;
	memset(a, 0, sizeof(*a));
	memcpy(a->addr, addr, len);
	a->ver = f->ip_version;
	if (g->has_city) {
		++*lookups;
		a->has_country = lookup(&g->city, f, addr, &e) && get_country(&e, a->country);
	}
	if (g->has_asn) {
		++*lookups;
		if (lookup(&g->asn, f, addr, &e) && (a->asn = get_asn(&e))) {
			get_org(&e, a->org);
			a->has_asn = true;
		}
	}
	return a;
}

/* One address's fields into @f; the number of database lookups made. */
static unsigned enrich_addr(struct pc_geoip *g, struct capture_flow *f, bool dst)
{
	unsigned n = 0;
	const struct answer *a = resolve(g, f, dst ? f->dst_ip : f->src_ip, &n);

	if (a->has_country) {
		memcpy(dst ? f->dst_country : f->src_country, a->country, sizeof(a->country));
		f->l7_flags |= dst ? CAPTURE_L7_GEO_DST : CAPTURE_L7_GEO_SRC;
	}
	if (a->has_asn) {
		*(dst ? &f->dst_asn : &f->src_asn) = a->asn;
		memcpy(dst ? f->dst_as_org : f->src_as_org, a->org, sizeof(a->org));
		f->l7_flags |= dst ? CAPTURE_L7_ASN_DST : CAPTURE_L7_ASN_SRC;
	}
	return n;
}

unsigned pc_geoip_enrich(struct pc_geoip *g, struct capture_flow *f)
{
	if (!g || (f->ip_version != 4 && f->ip_version != 6))
		return 0;
	return enrich_addr(g, f, false) + enrich_addr(g, f, true);
}

bool pc_geoip_lib_version(char *buf, size_t len)
{
	snprintf(buf, len, "%s", MMDB_lib_version());
	return true;
}

#else /* !HAVE_MAXMINDDB */

struct pc_geoip {
	int unused;
};

int pc_geoip_open(struct pc_geoip **out, const char *city, const char *asn, char *err,
		  size_t errlen)
{
	*out = NULL;
	if ((!city || !*city) && (!asn || !*asn))
		return 0;
	return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
		       "GeoIP databases given, but this build has no libmaxminddb");
}

void pc_geoip_close(struct pc_geoip *g)
{
	free(g);
}

unsigned pc_geoip_enrich(struct pc_geoip *g, struct capture_flow *f)
{
	return 0;
}

bool pc_geoip_lib_version(char *buf, size_t len)
{
	if (len)
		buf[0] = 0;
	return false;
}

#endif
