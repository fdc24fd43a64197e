/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --interval DUR: during a long run, the flows still active are printed
 * every DUR as interim JSON records ("end_reason":"active_flow" and
 * "interim":true), so `jcap -i eth0 -F json --interval 10s | jq` shows long
 * flows before they end. The record of a flow's end follows as usual; an
 * interim record is a snapshot, not counted in the run's flows.
 */
#include <stdlib.h>
#include <string.h>

#include "jcap.h"

/* Snapshots larger than this are cut (and say so once). */
#define INTERIM_MAX (1u << 20)

int jcap_interim_print(struct capture *c, FILE *fp, pthread_mutex_t *lock, enum jcap_time_format tf)
{
	static bool said;
	struct capture_flow *v;
	uint64_t total = 0;
	char line[JCAP_JSON_LINE];
	int64_t n, i;
	size_t max;
	int len, rc = 0;

	if (capture_flow_get_all(c, NULL, 0, CAPTURE_FLOWS_ACTIVE, &total) < 0 || !total)
		return 0;
	max = total + total / 4 + 16; /* flows start while we allocate */
	if (max > INTERIM_MAX)
		max = INTERIM_MAX;
	v = malloc(max * sizeof(*v));
	if (!v)
		return 0;
	n = capture_flow_get_all(c, v, max, CAPTURE_FLOWS_ACTIVE, &total);
	if (n >= 0 && total > (uint64_t)n && !said) {
		jcap_err("--interval: %llu active flows, printing the first %lld",
			 (unsigned long long)total, (long long)n);
		said = true;
	}
	pthread_mutex_lock(lock);
	for (i = 0; i < n; i++) {
		len = jcap_flow_json(&v[i], tf, line, sizeof(line) - 16);
		if (len < 2)
			continue;
		/* "...}\n" -> "...,"interim":true}\n" */
		memcpy(line + len - 2, ",\"interim\":true}\n", 17);
		len += 15;
		if (fwrite(line, 1, (size_t)len, fp) != (size_t)len)
			rc = -1;
	}
	if (fflush(fp))
		rc = -1;
	pthread_mutex_unlock(lock);
	free(v);
	return rc;
}
