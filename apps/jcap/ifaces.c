/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `jcap -D`, as tcpdump -D: one numbered line per network interface with
 * its state and the live backends usable on it ("1.eth0 [Up, Running]
 * (afpacket, pcap)"). A backend is usable when the library lists it as
 * available here and the interface is up (a down one opens on none).
 */
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "jcap.h"

#define MAX_IFACES 256

struct iface {
	char name[IF_NAMESIZE];
	unsigned flags;
};

/* Every interface once (getifaddrs lists one per address family). */
static int collect(struct iface *v, size_t max)
{
	struct ifaddrs *ifa, *p;
	size_t n = 0, i;

	if (getifaddrs(&ifa) < 0)
		return -1;
	for (p = ifa; p && n < max; p = p->ifa_next) {
		if (!p->ifa_addr || p->ifa_addr->sa_family != AF_PACKET)
			continue;
		for (i = 0; i < n && strcmp(v[i].name, p->ifa_name); i++)
			;
		if (i < n)
			continue;
		snprintf(v[n].name, sizeof(v[n].name), "%s", p->ifa_name);
		v[n].flags = p->ifa_flags;
		n++;
	}
	freeifaddrs(ifa);
	return (int)n;
}

static void state(unsigned fl, char *buf, size_t len)
{
	snprintf(buf, len, "[%s%s%s]", fl & IFF_UP ? "Up" : "Down",
		 fl & IFF_RUNNING ? ", Running" : "", fl & IFF_LOOPBACK ? ", Loopback" : "");
}

/* The available backends that read an interface (not the file reader). */
static void live_backends(char *buf, size_t len)
{
	struct capture_backend_info info[16];
	size_t off = 0;
	int n, i, w;

	buf[0] = 0;
	n = capture_list_backends(info, JCAP_ARRAY_SIZE(info));
	if (n > (int)JCAP_ARRAY_SIZE(info))
		n = (int)JCAP_ARRAY_SIZE(info);
	for (i = 0; i < n && off < len; i++) {
		if (!info[i].available || !strcmp(info[i].name, "file"))
			continue;
		w = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", info[i].name);
		off += w > 0 ? (size_t)w : 0;
	}
}

int jcap_list_interfaces(FILE *fp)
{
	struct iface v[MAX_IFACES];
	char st[64], be[256];
	int n, i;

	n = collect(v, MAX_IFACES);
	if (n < 0) {
		jcap_err("-D: cannot list the interfaces: %m");
		return -1;
	}
	live_backends(be, sizeof(be));
	for (i = 0; i < n; i++) {
		state(v[i].flags, st, sizeof(st));
		fprintf(fp, "%d.%s %s (%s)\n", i + 1, v[i].name, st,
			!(v[i].flags & IFF_UP) ? "none while down"
			: be[0]		       ? be
					       : "none");
	}
	return fflush(fp) ? -1 : 0;
}
