/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backend registry and selection. One static table in preference order; what
 * the generic layer does with an entry follows from its PC_CAP_F_* flags.
 * "auto" walks it for live input and records in @why which backend it took
 * and why every other one was passed over (probe reason or open failure).
 * Also the interface facts every live backend asks the same way.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture/capture.h"
#include "util/compiler.h"
#include "util/log.h"

static const struct pc_capture_ops *const registry[] = {
	&pc_cap_dpdk_ops,     &pc_cap_pfring_ops, &pc_cap_afxdp_ops, &pc_cap_ebpf_ops,
	&pc_cap_afpacket_ops, &pc_cap_pcap_ops,	  &pc_cap_file_ops,  NULL,
};

const struct pc_capture_ops *const *pc_capture_registry(void)
{
	return registry;
}

const struct pc_capture_ops *pc_capture_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; registry[i]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

/* The first entry with every flag of @flags, or NULL. */
static const struct pc_capture_ops *find_flags(unsigned flags)
{
	size_t i;

	for (i = 0; registry[i]; i++)
		if ((registry[i]->flags & flags) == flags)
			return registry[i];
	return NULL;
}

/* Append formatted text to @buf (bounded, always NUL-terminated). */
pc_printf(3, 4) static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!buf || !len)
		return;
	used = strnlen(buf, len);
	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void pc_capture_names(char *buf, size_t len)
{
	size_t i;

	if (!buf || !len)
		return;
	snprintf(buf, len, "auto");
	for (i = 0; registry[i]; i++)
		if (!(registry[i]->flags & PC_CAP_F_PLACEHOLDER))
			append(buf, len, ", %s", registry[i]->name);
}

int pc_capture_check_buffer_mb(const char *backend, unsigned mb, char *err, size_t errlen)
{
	if (mb >= CAPTURE_BUFFER_MB_MIN && mb <= CAPTURE_BUFFER_MB_MAX)
		return 0;
	return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
		       "%s: buffer size %u MB out of range (accepted: %u..%u MB)", backend, mb,
		       CAPTURE_BUFFER_MB_MIN, CAPTURE_BUFFER_MB_MAX);
}

static void reset_cap(struct pc_cap *cap, const struct pc_capture_ops *ops,
		      const struct pc_cap_params *p)
{
	memset(cap, 0, sizeof(*cap));
	cap->ops = ops;
	cap->params = p;
	cap->nqueues = 1;
	cap->linktype = PC_DLT_EN10MB;
	snprintf(cap->tstamp_source, sizeof(cap->tstamp_source), "%s",
		 (ops->flags & PC_CAP_F_LIVE) ? "kernel" : "file");
}

bool pc_if_is_any(const char *ifname)
{
	return ifname && !strcmp(ifname, "any");
}

/* pc_if_check, and "any" for the backends that open that pseudo-device. */
static int netdev_check(const struct pc_capture_ops *ops, const char *ifname, char *reason,
			size_t rlen)
{
	if (!pc_if_is_any(ifname))
		return pc_if_check(ifname, reason, rlen);
	if (ops->flags & PC_CAP_F_ANY_DEVICE)
		return 0;
	return pc_errf(reason, rlen, -ENODEV,
		       "no 'any' device: it captures on one interface at a time");
}

/* Open exactly @ops; on failure cap->err holds the detail and cap is reset. */
static int open_one(struct pc_cap *cap, const struct pc_capture_ops *ops,
		    const struct pc_cap_params *p, char *reason, size_t rlen)
{
	int ret;

	reset_cap(cap, ops, p);
	reason[0] = '\0';
	ret = ops->probe(p->interface, reason, rlen);
	if (ret >= 0 && (ops->flags & PC_CAP_F_NETDEV)) {
		/* after the probe: "not built" or a missing capability comes first */
		int up = netdev_check(ops, p->interface, reason, rlen);

		ret = up < 0 ? up : ret;
	}
	if (ret < 0) {
		snprintf(cap->err, sizeof(cap->err), "%s: %s", ops->name, reason);
		cap->ops = NULL;
		return ret;
	}
	ret = ops->open(cap, p);
	if (ret < 0) {
		char err[sizeof(cap->err)];

		if (!cap->err[0])
			snprintf(cap->err, sizeof(cap->err), "%s",
				 strerror(ret > -4096 ? -ret : EIO));
		/* prefix live errors with the backend name unless the backend
		 * already did; offline errors already start with the file name */
		if ((ops->flags & PC_CAP_F_LIVE) &&
		    strncmp(cap->err, ops->name, strlen(ops->name)) != 0) {
			size_t pl = strlen(ops->name) + 2;
			size_t el = strnlen(cap->err, sizeof(cap->err) - 1);

			if (el + pl >= sizeof(cap->err))
				el = sizeof(cap->err) - pl - 1;
			memmove(cap->err + pl, cap->err, el);
			memcpy(cap->err, ops->name, pl - 2);
			memcpy(cap->err + pl - 2, ": ", 2);
			cap->err[pl + el] = '\0';
		}
		memcpy(err, cap->err, sizeof(err));
		reset_cap(cap, ops, p);
		memcpy(cap->err, err, sizeof(err));
		cap->ops = NULL;
		return ret;
	}
	if (cap->nqueues == 0)
		cap->nqueues = 1;
	return ret;
}

static int open_auto(struct pc_cap *cap, const struct pc_cap_params *p, char *why, size_t whylen)
{
	const struct pc_capture_ops *offline = find_flags(PC_CAP_F_OFFLINE);
	char passed[768] = "";
	char reason[256];
	int ret, last = -CAPTURE_E_BACKEND;
	bool netdev_ok = false;
	size_t i;
	const char *file = p->npcap_files ? p->pcap_files[0] : p->pcap_file;

	if (!p->interface && !file) {
		memset(cap, 0, sizeof(*cap));
		snprintf(cap->err, sizeof(cap->err), "auto: neither an interface nor a file given");
		snprintf(why, whylen, "%s", cap->err);
		return -CAPTURE_E_CONFIG;
	}
	if (!p->interface && file && offline) {
		ret = open_one(cap, offline, p, reason, sizeof(reason));
		if (ret >= 0)
			snprintf(why, whylen, "%s: offline input %s%s", offline->name, file,
				 p->npcap_files > 1 ? " and more" : "");
		else
			snprintf(why, whylen, "%s", cap->err);
		return ret;
	}
	for (i = 0; registry[i]; i++) {
		const struct pc_capture_ops *ops = registry[i];
		int pr;

		if (!(ops->flags & PC_CAP_F_AUTO))
			continue;
		if ((ops->flags & PC_CAP_F_NETDEV) && pc_if_is_any(p->interface) &&
		    !(ops->flags & PC_CAP_F_ANY_DEVICE)) {
			append(passed, sizeof(passed), "%s%s: no 'any' device",
			       passed[0] ? "; " : "", ops->name);
			continue;
		}
		if ((ops->flags & PC_CAP_F_NETDEV) && !netdev_ok && !pc_if_is_any(p->interface)) {
			/* missing or down: every backend of a network device would say
			 * so, and the reasons of those passed over would bury it. The
			 * code stays auto's "no backend could be opened" */
			if (pc_if_check(p->interface, reason, sizeof(reason)) < 0) {
				memset(cap, 0, sizeof(*cap));
				snprintf(cap->err, sizeof(cap->err), "%s", reason);
				snprintf(why, whylen, "%s", reason);
				return -CAPTURE_E_BACKEND;
			}
			netdev_ok = true;
		}
		reason[0] = '\0';
		pr = ops->probe(p->interface, reason, sizeof(reason));
		if (pr < 0 || ((ops->flags & PC_CAP_F_AUTO_BEST_ONLY) && pr < 1)) {
			append(passed, sizeof(passed), "%s%s: %s", passed[0] ? "; " : "", ops->name,
			       reason);
			continue;
		}
		ret = open_one(cap, ops, p, reason, sizeof(reason));
		if (ret >= 0) {
			snprintf(why, whylen, "%s: %s%s%s", ops->name, reason,
				 passed[0] ? "; passed over: " : "", passed);
			return ret;
		}
		last = ret;
		append(passed, sizeof(passed), "%s%s", passed[0] ? "; " : "", cap->err);
		/* a bad filter or a bad interface fails the same way everywhere;
		 * a port name of the backend's own means nothing to the others */
		if (ret == -CAPTURE_E_FILTER || ret == -CAPTURE_E_CONFIG || ret == -ENODEV ||
		    ret == -ENETDOWN || (ops->flags & PC_CAP_F_PORTS))
			break;
	}
	snprintf(why, whylen, "no live backend could be opened: %s", passed);
	snprintf(cap->err, sizeof(cap->err), "%s", why);
	cap->ops = NULL;
	return last;
}

int pc_capture_open(struct pc_cap *cap, const char *name, const struct pc_cap_params *p, char *why,
		    size_t whylen)
{
	const struct pc_capture_ops *ops;
	char reason[256] = "";
	char dummy[8];
	int ret;

	if (!why || !whylen) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (!cap || !p)
		return -EINVAL;
	if (!name || !name[0] || strcmp(name, "auto") == 0)
		return open_auto(cap, p, why, whylen);

	ops = pc_capture_find(name);
	if (!ops) {
		char names[128];

		pc_capture_names(names, sizeof(names));
		memset(cap, 0, sizeof(*cap));
		snprintf(cap->err, sizeof(cap->err), "unknown capture backend '%s' (known: %s)",
			 name, names);
		snprintf(why, whylen, "%s", cap->err);
		return -CAPTURE_E_CONFIG;
	}
	if ((ops->flags & PC_CAP_F_LIVE) && !p->interface) {
		memset(cap, 0, sizeof(*cap));
		snprintf(cap->err, sizeof(cap->err), "%s: live backend needs an interface",
			 ops->name);
		snprintf(why, whylen, "%s", cap->err);
		return -CAPTURE_E_CONFIG;
	}
	ret = open_one(cap, ops, p, reason, sizeof(reason));
	if (ret < 0) {
		snprintf(why, whylen, "%s", cap->err);
		return ret;
	}
	snprintf(why, whylen, "%s: requested%s%s", ops->name, reason[0] ? "; " : "", reason);
	return ret;
}

void pc_capture_close(struct pc_cap *cap)
{
	if (!cap || !cap->ops)
		return;
	if (cap->ops->close)
		cap->ops->close(cap);
	cap->ops = NULL;
	cap->priv = NULL;
}

int capture_list_backends(struct capture_backend_info *out, size_t max)
{
	size_t i;

	if (!out && max)
		return -EINVAL;
	for (i = 0; registry[i]; i++) {
		struct capture_backend_info *b;
		int ret;

		if (i >= max)
			continue;
		b = &out[i];
		memset(b, 0, sizeof(*b));
		snprintf(b->name, sizeof(b->name), "%s", registry[i]->name);
		b->preference = registry[i]->preference;
		ret = registry[i]->probe(NULL, b->reason, sizeof(b->reason));
		b->available = ret >= 0;
	}
	return (int)i;
}

/* The interface's own receive drops (driver, veth XDP ring): counted before
 * any socket sees the packet, so reported as ifdrops (like libpcap's). */
uint64_t pc_if_rx_dropped(const char *ifname)
{
	char path[96], buf[32];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_dropped", ifname);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		v = strtoull(buf, NULL, 10);
	fclose(f);
	return v;
}

int pc_if_flags(const char *ifname, unsigned *flags)
{
	struct ifreq ifr;
	int fd, ret = 0;

	if (!ifname || strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ)
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	else
		*flags = (unsigned short)ifr.ifr_flags;
	close(fd);
	return ret;
}

int pc_if_check(const char *ifname, char *err, size_t len)
{
	unsigned flags = 0;
	int ret = pc_if_flags(ifname, &flags);

	if (ret == -ENODEV)
		return pc_errf(err, len, ret, "no such interface '%s'", ifname ? ifname : "");
	if (ret < 0)
		return pc_errf(err, len, ret, "%s: SIOCGIFFLAGS: %s", ifname, strerror(-ret));
	/* only IFF_UP, as libpcap: an up veth whose peer is down (no carrier)
	 * opens and simply sees nothing until the peer comes up */
	if (!(flags & IFF_UP))
		return pc_errf(err, len, -ENETDOWN, "interface %s is down", ifname);
	return 0;
}

int pc_capture_drop_outgoing(struct sock_filter **prog, unsigned *len)
{
	static const struct sock_filter pre[] = {
		{ BPF_LD | BPF_B | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE) },
		{ BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OUTGOING },
		{ BPF_RET | BPF_K, 0, 0, 0 },
	};
	struct sock_filter *ins = calloc(*len + PC_ARRAY_SIZE(pre), sizeof(*ins));

	if (!ins)
		return -ENOMEM;
	/* jumps are relative: the program behind the prefix is unchanged */
	memcpy(ins, pre, sizeof(pre));
	memcpy(ins + PC_ARRAY_SIZE(pre), *prog, *len * sizeof(*ins));
	free(*prog);
	*prog = ins;
	*len += PC_ARRAY_SIZE(pre);
	return 0;
}
