/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timestamp source selection. The packet path only ever adds a constant
 * (PTP offset); everything that costs a syscall happens at setup or once a
 * second in pc_tstamp_refresh.
 */
#include <net/if.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "capture/tstamp.h"
#include "packet_capture.h"
#include "util/clock.h"

/* dynamic POSIX clock of an open /dev/ptpN (see clock_gettime(2)) */
#define FD_TO_CLOCKID(fd) ((~(clockid_t)(fd) << 3) | 3)

void pc_tstamp_ntp_state(char *buf, size_t len, bool *synced)
{
	struct timex tx;
	int st;

	memset(&tx, 0, sizeof(tx));
	st = adjtimex(&tx);
	if (st < 0) {
		snprintf(buf, len, "adjtimex failed: %s", strerror(errno));
		*synced = false;
		return;
	}
	*synced = st != TIME_ERROR && !(tx.status & STA_UNSYNC);
	snprintf(buf, len, "system clock %s (adjtimex %s%s), maxerror %ld us",
		 *synced ? "synchronised" : "unsynchronised",
		 st == TIME_OK	    ? "TIME_OK"
		 : st == TIME_ERROR ? "TIME_ERROR"
				    : "leap state",
		 (tx.status & STA_UNSYNC) ? ", STA_UNSYNC" : "", (long)tx.maxerror);
}

static int ifioctl(const char *ifname, unsigned long req, void *data)
{
	struct ifreq ifr;
	int fd, ret = 0;

	if (!ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_data = data;
	if (ioctl(fd, req, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int setup_hw(struct pc_tstamp *ts, const char *ifname)
{
	struct hwtstamp_config cfg;
	int ret;

	/* remember what the device did, to restore it at release */
	memset(&cfg, 0, sizeof(cfg));
	if (ifioctl(ifname, SIOCGHWTSTAMP, &cfg) == 0) {
		ts->hw_prev_tx = cfg.tx_type;
		ts->hw_prev_rx = cfg.rx_filter;
		ts->hw_restore = true;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.tx_type = ts->hw_restore ? ts->hw_prev_tx : HWTSTAMP_TX_OFF;
	cfg.rx_filter = HWTSTAMP_FILTER_ALL;
	ret = ifioctl(ifname, SIOCSHWTSTAMP, &cfg);
	if (ret == 0 && cfg.rx_filter != HWTSTAMP_FILTER_NONE) {
		ts->hw = true;
		if (ifname)
			snprintf(ts->ifname, sizeof(ts->ifname), "%s", ifname);
		snprintf(ts->source, sizeof(ts->source), "hardware");
		snprintf(ts->detail, sizeof(ts->detail),
			 "NIC raw hardware stamps (SIOCSHWTSTAMP rx_filter %d)", cfg.rx_filter);
		return 0;
	}
	snprintf(ts->source, sizeof(ts->source), "kernel");
	snprintf(ts->detail, sizeof(ts->detail),
		 "hardware requested, fell back to kernel stamps: SIOCSHWTSTAMP on %s: %s",
		 ifname ? ifname : "?", ret ? strerror(-ret) : "driver keeps rx_filter NONE");
	return 0;
}

static int phc_index(const char *ifname)
{
	struct ethtool_ts_info info;

	memset(&info, 0, sizeof(info));
	info.cmd = ETHTOOL_GET_TS_INFO;
	if (ifioctl(ifname, SIOCETHTOOL, &info) < 0)
		return -1;
	return info.phc_index;
}

static int measure_ptp(struct pc_tstamp *ts)
{
	struct timespec p;
	uint64_t a, b;
	int64_t phc;

	/* bracket the PHC read with two system reads: offset to the midpoint */
	a = pc_wall_ns();
	if (clock_gettime((clockid_t)ts->ptp_clock, &p) < 0)
		return -errno;
	b = pc_wall_ns();
	phc = (int64_t)p.tv_sec * 1000000000 + p.tv_nsec;
	ts->ptp_offset_ns = phc - (int64_t)((a + b) / 2);
	ts->ptp_next_ns = pc_mono_ns() + 1000000000ull;
	return 0;
}

static void setup_ptp(struct pc_tstamp *ts, const char *ifname)
{
	char path[64];
	int idx = phc_index(ifname);
	int ret;

	if (idx >= 0)
		snprintf(path, sizeof(path), "/dev/ptp%d", idx);
	else
		snprintf(path, sizeof(path), "/dev/ptp0");
	ts->ptp_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ts->ptp_fd < 0) {
		snprintf(ts->source, sizeof(ts->source), "kernel");
		snprintf(ts->detail, sizeof(ts->detail),
			 "ptp requested, fell back to kernel stamps: %s: %s%s", path,
			 strerror(errno), idx < 0 ? " (interface reports no PHC)" : "");
		return;
	}
	ts->ptp_clock = (int)FD_TO_CLOCKID(ts->ptp_fd);
	ret = measure_ptp(ts);
	if (ret < 0) {
		close(ts->ptp_fd);
		ts->ptp_fd = -1;
		snprintf(ts->source, sizeof(ts->source), "kernel");
		snprintf(ts->detail, sizeof(ts->detail),
			 "ptp requested, fell back to kernel stamps: reading %s: %s", path,
			 strerror(-ret));
		return;
	}
	snprintf(ts->source, sizeof(ts->source), "ptp");
	snprintf(ts->detail, sizeof(ts->detail),
		 "kernel stamps moved to %s time (offset %lld ns, re-measured each second)", path,
		 (long long)ts->ptp_offset_ns);
}

int pc_tstamp_setup(struct pc_tstamp *ts, int requested, const char *ifname)
{
	bool synced;
	char st[96];

	if (!ts)
		return -EINVAL;
	memset(ts, 0, sizeof(*ts));
	ts->ptp_fd = -1;
	ts->requested = requested;
	switch (requested) {
	case CAPTURE_TSTAMP_KERNEL:
		snprintf(ts->source, sizeof(ts->source), "kernel");
		snprintf(ts->detail, sizeof(ts->detail), "kernel software stamps, nanoseconds");
		return 0;
	case CAPTURE_TSTAMP_HARDWARE:
		return setup_hw(ts, ifname);
	case CAPTURE_TSTAMP_PTP:
		setup_ptp(ts, ifname);
		return 0;
	case CAPTURE_TSTAMP_NTP:
		pc_tstamp_ntp_state(st, sizeof(st), &synced);
		snprintf(ts->source, sizeof(ts->source), "ntp");
		snprintf(ts->detail, sizeof(ts->detail), "kernel stamps from the %s", st);
		return 0;
	default:
		return -EINVAL;
	}
}

void pc_tstamp_refresh(struct pc_tstamp *ts)
{
	if (ts->ptp_fd < 0 || pc_mono_ns() < ts->ptp_next_ns)
		return;
	measure_ptp(ts);
}

void pc_tstamp_release(struct pc_tstamp *ts)
{
	if (!ts)
		return;
	if (ts->ptp_fd >= 0) {
		close(ts->ptp_fd);
		ts->ptp_fd = -1;
	}
	if (ts->hw && ts->hw_restore) {
		struct hwtstamp_config cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.tx_type = ts->hw_prev_tx;
		cfg.rx_filter = ts->hw_prev_rx;
		ifioctl(ts->ifname, SIOCSHWTSTAMP, &cfg);
		ts->hw = false;
	}
}
