/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PF_RING: listed so `jcap backends` can say why it is absent (not packaged
 * in Debian). This build carries no code for it; probe always fails with the
 * reason and open refuses, so nothing here pretends to capture. (DPDK, with or
 * without libdpdk, is cap_dpdk.c.)
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "capture/capture.h"

static int pfring_probe(const char *ifname, char *reason, size_t len)
{
	bool module = access("/proc/net/pf_ring", F_OK) == 0;

	snprintf(reason, len,
		 "not built with PF_RING support (libpfring not used by this build; "
		 "pf_ring kernel module %s)",
		 module ? "loaded" : "not loaded");
	return -CAPTURE_E_BACKEND;
}

static int unavail_open(struct pc_cap *cap, const struct pc_cap_params *p)
{
	char reason[256];

	cap->ops->probe(NULL, reason, sizeof(reason));
	snprintf(cap->err, sizeof(cap->err), "%s: %s", cap->ops->name, reason);
	return -CAPTURE_E_BACKEND;
}

const struct pc_capture_ops pc_cap_pfring_ops = {
	.name = "pfring",
	.preference = 45,
	.flags = PC_CAP_F_LIVE | PC_CAP_F_AUTO | PC_CAP_F_PLACEHOLDER,
	.probe = pfring_probe,
	.open = unavail_open,
};
